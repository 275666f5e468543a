"""The one results writer: the run folder and its lock, per-fold checkpoints for resuming, the predictions table.
What the files hold is defined in :mod:`mebench.records`; atomic writes are :mod:`mebench.atomic`'s, run ids and
provenance :mod:`mebench.identity`'s (their names stay importable from here)."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterable, Mapping, Sequence

import pandas as pd

from mebench.atomic import (TEMP_SUFFIX, atomic_write_bytes, atomic_write_json, atomic_write_text,  # noqa: F401
                            remove_stale_temp_files)
from mebench.errors import DataError, RunError, RunLockedError
from mebench.identity import config_hash, environment, git_commit, make_run_id  # noqa: F401
from mebench.records import FoldRecord, RecordError, RunRecord, read_record
from mebench.schema import stamped

if TYPE_CHECKING:
    from mebench.tasks import TaskKind


class RunLock:
    """An exclusive lock on one run folder across processes (``filelock``), with a note of who holds it.

    ``with RunLock(folder, wait=True, log=print):`` waits for the holder (saying who it is) and then
    proceeds; ``wait=False`` raises ``RunLockedError`` naming the holder instead."""

    def __init__(self, folder: Path, wait: bool = True, log=None, name: str = "run"):
        from filelock import FileLock

        self.folder = Path(folder)
        self.lock_path = self.folder / f".{name}.lock"
        self.owner_path = self.folder / f".{name}.lock.owner"
        self.wait, self.log = wait, log
        self._lock = FileLock(str(self.lock_path))

    # The holder writes its record just after taking the lock, so a process that finds the lock
    # taken may look before the record exists: it waits this long for it (or for the lock to free).
    HOLDER_PATIENCE_S = 10.0

    def _read_owner(self) -> dict | None:
        """The holder's record, or None while there is none (or only a dead process's, left by a kill)."""
        import socket

        try:
            owner = json.loads(self.owner_path.read_text())
            pid, host, _since = int(owner["pid"]), owner["host"], owner["since"]
        except (OSError, ValueError, KeyError, TypeError):
            return None
        if host == socket.gethostname() and pid != os.getpid():
            try:
                os.kill(pid, 0)
            except ProcessLookupError:
                return None  # stale: its holder was killed; the new holder overwrites it
            except OSError:
                pass  # alive, owned by another user
        return owner

    def _await_holder(self) -> str | None:
        """Who holds the lock, waiting for the holder's record; None if the lock came free meanwhile
        (then this process holds it)."""
        import time

        from filelock import Timeout

        deadline = time.monotonic() + self.HOLDER_PATIENCE_S
        while (owner := self._read_owner()) is None and time.monotonic() < deadline:
            try:
                self._lock.acquire(timeout=0.05)
                return None
            except Timeout:
                continue
        if owner is None:
            return "another process"
        return f"process {owner['pid']} on {owner['host']} (since {owner['since']})"

    def _record_owner(self) -> None:
        import socket
        import time

        atomic_write_json(self.owner_path, {"pid": os.getpid(), "host": socket.gethostname(),
                                            "since": time.strftime("%Y-%m-%dT%H:%M:%S%z")})

    def __enter__(self) -> "RunLock":
        from filelock import Timeout

        self.folder.mkdir(parents=True, exist_ok=True)
        try:
            self._lock.acquire(timeout=0)
        except Timeout:
            holder = self._await_holder()
            if holder is not None:
                message = f"{self.folder.name} is being run by {holder}"
                if not self.wait:
                    raise RunLockedError(message + "; wait for it or stop it") from None
                if self.log:
                    self.log(message + "; waiting for it to finish (Ctrl-C to stop waiting)")
                self._lock.acquire()
        self._record_owner()
        return self

    def __exit__(self, *exc) -> None:
        self.owner_path.unlink(missing_ok=True)
        self._lock.release()


class RunDirectory:
    """``results/<run-id>/``: ``config.json`` and ``folds/`` while running; ``run.json``,
    ``predictions.csv`` and ``metrics.json`` when complete."""

    def __init__(self, root: Path, run_id: str):
        self.path = Path(root) / run_id
        self.run_id = run_id

    @property
    def complete(self) -> bool:
        return all((self.path / name).exists() for name in ("run.json", "predictions.csv", "metrics.json"))

    def lock(self, wait: bool = True, log=None, name: str = "run") -> RunLock:
        return RunLock(self.path, wait=wait, log=log, name=name)

    def start(self, config: dict[str, Any], log=None) -> None:
        """Record the config; refuse to resume a folder written by a different config. An unreadable
        ``config.json`` is replaced (the fold records are checked one by one anyway); one written by a newer
        mebench is refused (``NewerSchemaError``)."""
        config_path = self.path / "config.json"
        expected = stamped(json.loads(json.dumps(config, default=str)))
        previous = None
        if config_path.exists():
            try:
                previous = read_record("config", config_path)
            except RecordError as error:
                if log:
                    log(f"warning: {config_path}: {error}; discarded")
        if previous is not None and previous != expected:
            raise RunError(f"{config_path} holds a different configuration; use --force to start over")
        if previous is None:
            atomic_write_json(config_path, stamped(config))
        remove_stale_temp_files(self.path)

    def fold_path(self, index: int) -> Path:
        return self.path / "folds" / f"fold_{index:03d}.json"

    def save_fold(self, record: FoldRecord) -> None:
        atomic_write_json(self.fold_path(record.fold), record.to_json())

    def load_fold(self, index: int, name: str | None = None, test_ids: list[str] | None = None,
                  n_classes: int | None = None, log=None, answer_problem=None) -> FoldRecord | None:
        """A finished fold's record, or None. A record that is unreadable, malformed, written for
        another fold (test group or test samples differ) or holds bad probabilities (or an answer
        ``answer_problem(values)`` names a problem with: the task kind's check) is named in one warning line and
        deleted, so the fold is trained again; one written by a newer mebench is refused (``NewerSchemaError``),
        never deleted."""
        path = self.fold_path(index)
        if not path.exists():
            return None
        try:
            record = FoldRecord.from_json(read_record("fold", path), name, test_ids, n_classes)
            for prediction in record.predictions if answer_problem else ():
                if (problem := answer_problem(prediction.probabilities)) is not None:
                    raise RecordError(f"the answer for {prediction.sample_id} {problem}")
            return record
        except RecordError as error:
            if log:
                log(f"warning: {path}: {error}; discarded, the fold is trained again")
            path.unlink(missing_ok=True)
            return None

    def clear(self, keep_locks: bool = False) -> None:
        """Delete the run's files (all but its lock files, held by this process, with ``keep_locks``)."""
        for path in sorted(self.path.rglob("*"), reverse=True):
            if keep_locks and path.name.startswith(".run.lock"):
                continue
            path.unlink() if path.is_file() else path.rmdir()

    def write_outputs(self, record: RunRecord, predictions: "PredictionsTable | pd.DataFrame") -> None:
        """Write ``predictions.csv`` (a ``PredictionsTable``, or a frame holding its fixed columns: they go first,
        its other columns after them), ``metrics.json`` and, last, ``run.json``, each atomically."""
        table = predictions if isinstance(predictions, PredictionsTable) else PredictionsTable.of(
            predictions, [column for column in predictions.columns if column not in PREDICTIONS_COLUMNS])
        table.write(self.path / PredictionsTable.FILE)
        atomic_write_json(self.path / "metrics.json", record.metrics.to_json())
        atomic_write_json(self.path / "run.json", record.to_json())  # last: its presence marks completion


#: The columns every ``predictions.csv`` has, in this order: the sample (id, source dataset, subject), the fold
#: that tested it, its truth and the answer as its task kind writes them (``TaskKind.truth_text``,
#: ``answer_text``). The kind's own columns follow (``TaskKind.answer_columns``: each class's or label's
#: probability; none for intervals, nor for answers scored from a file, which carry no probabilities).
PREDICTIONS_COLUMNS = ("sample_id", "dataset", "subject", "fold", "true_label", "predicted_label")
#: The columns ``PredictionsTable.read`` requires: the fixed ones but ``fold``.
REQUIRED_PREDICTIONS_COLUMNS = ("sample_id", "dataset", "subject", "true_label", "predicted_label")


def answer_columns(kind: "TaskKind", classes: Sequence[str]) -> tuple[str, ...]:
    """The columns ``kind`` adds to predictions.csv for a task of ``classes``, in order."""
    return tuple(kind.answer_columns([0.0] * len(classes), classes))


class PredictionsTable:
    """A run's ``predictions.csv``: one row per evaluated sample, sorted by sample id, with the fixed
    ``PREDICTIONS_COLUMNS`` first and the task kind's answer columns after them. The one place that builds,
    writes and reads the file; ``frame`` is the table as a DataFrame."""

    FILE = "predictions.csv"

    def __init__(self, frame: pd.DataFrame):
        self.frame = frame

    @classmethod
    def build(cls, rows: Iterable[Mapping[str, Any]], kind: "TaskKind", classes: Sequence[str]) -> "PredictionsTable":
        """The table of ``rows`` (one mapping per sample holding the fixed columns and ``kind``'s answer
        columns), in the table's column order, sorted by sample id."""
        frame = pd.DataFrame(list(rows), columns=[*PREDICTIONS_COLUMNS, *answer_columns(kind, classes)])
        return cls(frame.sort_values("sample_id").reset_index(drop=True))

    @classmethod
    def of(cls, frame: pd.DataFrame, extra: Sequence[str] = ()) -> "PredictionsTable":
        """The table of a frame holding (at least) the fixed columns: those, then the ``extra`` answer columns,
        sorted by sample id; any other column of ``frame`` is left out."""
        return cls(frame[[*PREDICTIONS_COLUMNS, *extra]].sort_values("sample_id").reset_index(drop=True))

    def write(self, path: Path) -> None:
        """Write the table to ``path`` atomically (a reader sees the old file or the new one, never a part)."""
        if tuple(self.frame.columns[:len(PREDICTIONS_COLUMNS)]) != PREDICTIONS_COLUMNS:
            raise ValueError(f"a predictions table starts with the columns {', '.join(PREDICTIONS_COLUMNS)}; "
                             f"got {', '.join(map(str, self.frame.columns))}")
        atomic_write_text(path, self.frame.to_csv(index=False))

    @classmethod
    def read(cls, path: Path, fix: str = "re-run this configuration with --force") -> "PredictionsTable":
        """The table in ``path``, sorted by sample id; a file that is missing or unreadable, or lacks a column a
        reader needs (``REQUIRED_PREDICTIONS_COLUMNS``), is a ``DataError`` naming the file, what is wrong and
        ``fix``."""
        path = Path(path)
        try:
            frame = pd.read_csv(path, dtype={"sample_id": str, "subject": str, "dataset": str})
        except (OSError, pd.errors.ParserError, pd.errors.EmptyDataError) as error:
            raise DataError(path, f"cannot be read ({error.__class__.__name__})", fix) from None
        missing = set(REQUIRED_PREDICTIONS_COLUMNS) - set(frame.columns)
        if missing:
            raise DataError(path, f"lacks the columns {sorted(missing)}", fix)
        return cls(frame.sort_values("sample_id").reset_index(drop=True))
