"""Every error mebench reports to a user: one line that says what is wrong and how to fix it.

``MebenchError.exit_code`` is the command's exit status: 2 for a usage error (the user changes the
command: an unknown name, a bad option, a protocol that does not fit the task), 1 for a failure of
data or run time (a damaged dataset copy, a diverged fold, a run held by another process). The CLI
prints the message and exits with that code; nothing else decides exit codes.
"""

from __future__ import annotations


class MebenchError(Exception):
    """Base of every error mebench reports as one line (exit code 1 unless a subclass says 2)."""

    exit_code = 1


class UsageError(MebenchError):
    """The command asks for something that cannot be: the user changes the command (exit code 2)."""

    exit_code = 2


class OptionError(UsageError, ValueError):
    """An option a user passed (``--dataset-opt``, ``--model-opt``, ``--protocol-opt``, a run option) that
    is unknown or out of range; the message names the option, what was given and what is allowed."""


class ConfigError(OptionError):
    """A run that cannot start as configured; the message says what to change."""


class UnknownNameError(UsageError, LookupError):
    """A name that is not registered; the message lists close matches."""


class ResolveError(UsageError, ValueError):
    """A run reference that names nothing, or more than one configuration."""


class RegistrationError(MebenchError, ValueError):
    """A plugin registered something malformed or a duplicate name."""


class DataError(MebenchError, ValueError):
    """Bad input data: names the file, the row or sample, what is wrong and how to fix it."""

    def __init__(self, file: object, problem: str, fix: str = "", row: object = None):
        self.file, self.problem, self.fix, self.row = file, problem, fix, row
        where = f"{file}" + (f", row {row}" if row is not None else "")
        super().__init__(f"{where}: {problem}" + (f" — {fix}" if fix else ""))

    def __reduce__(self):  # keeps the error intact across preprocessing worker processes
        return DataError, (self.file, self.problem, self.fix, self.row)


class FoldError(MebenchError, AssertionError):
    """A protocol's folds break its rules (a subject or database on both sides, a sample tested twice or never).

    An ``AssertionError`` too, which is what ``check_folds`` raised before it was a ``MebenchError``; unlike an
    ``assert`` it holds under ``python -O``."""


class PreprocessingError(MebenchError, RuntimeError):
    """A sample could not be preprocessed; the message names the sample and the step."""


class RunError(MebenchError, RuntimeError):
    """A run failed while it ran (a fold's training, its records, its folder); the message names the run."""


class NonFiniteLossError(RunError):
    """A fold's training loss became NaN or infinite; the message names the fold, the epoch and
    what usually helps."""


class IncompleteRunError(RunError):
    """Fold records do not cover the evaluated samples."""


class RunLockedError(RunError):
    """Another process holds a run's lock; the message says which."""


class WorkerReentryError(MebenchError, RuntimeError):
    """mebench called again inside one of its own worker processes (a script without a main guard).
    Not a ``UsageError`` of one run: a sweep, which reports bad options per run and goes on, must stop."""


def one_line(error: BaseException) -> str:
    """The error's message on one line (a message with line breaks is joined with spaces)."""
    text = str(error.args[0] if len(error.args) == 1 else error) if error.args else type(error).__name__
    return " ".join(text.split()) if "\n" in text else text
