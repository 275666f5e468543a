"""Declared options of models, datasets, protocols and preprocessing steps, and the one validator.

A spec declares what it takes: each ``Option`` has a name, a type, a default, an allowed range or
set of choices, and a help line. ``resolve_options`` checks what a user passed against those
declarations before anything is read, built or written: an unknown name lists the valid ones, a
value of the wrong type or out of range says what is allowed; nothing is silently replaced.

A third-party spec that declares nothing (``options=None``) still works: its options go to its
factory as given, and the factory's own complaint about one becomes the one-line error.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping, Sequence

from mebench.errors import OptionError

#: The types an option may have. ``Path`` options take any non-empty text.
OPTION_TYPES = (int, float, bool, str, Path)


@dataclass(frozen=True)
class Option:
    """One option a spec takes.

    ``default`` is what the factory or loader gets when the option is not given (``None``: the
    spec decides, e.g. from a preset). ``choices`` or ``minimum``/``maximum`` bound the value;
    ``reason`` says why, in the error a wrong value gets. ``recorded``: the default goes into
    ``run.json`` and the run's identity even when not given — for options whose default decides
    what a run is (a synthetic preset, the number of folds); other defaults are constants of the
    code and stay out of the identity, so a run keeps its id as long as its inputs do not change.
    """

    name: str
    type: type = str
    default: Any = None
    help: str = ""
    choices: tuple[Any, ...] = ()
    minimum: float | None = None
    maximum: float | None = None
    reason: str = ""
    recorded: bool = False

    def __post_init__(self) -> None:
        if self.type not in OPTION_TYPES:
            raise TypeError(f"option {self.name!r}: type must be one of int, float, bool, str, Path")

    @property
    def allowed(self) -> str:
        """What the option takes, in words: ``an integer ≥ 2``, ``one of start, quick``, ``true or false``."""
        if self.choices:
            text = "one of " + ", ".join(map(str, self.choices))
        elif self.type is bool:
            text = "true or false"
        elif self.type is Path:
            text = "a path"
        elif self.type is str:
            text = "text"
        else:
            text = "an integer" if self.type is int else "a number"
            if self.minimum is not None and self.maximum is not None:
                text += f" in [{self.minimum:g}, {self.maximum:g}]"
            elif self.minimum is not None:
                text += f" ≥ {self.minimum:g}"
            elif self.maximum is not None:
                text += f" ≤ {self.maximum:g}"
        return text + (f" ({self.reason})" if self.reason else "")

    def accepts(self, value: Any) -> bool:
        if self.choices:
            return not isinstance(value, bool) and value in self.choices
        if self.type is bool:
            return isinstance(value, bool)
        if self.type in (str, Path):
            return isinstance(value, (str, Path)) and str(value).strip() != ""
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            return False
        if self.type is int and not (isinstance(value, int) or float(value).is_integer()):
            return False
        if not math.isfinite(value):
            return False
        return ((self.minimum is None or value >= self.minimum)
                and (self.maximum is None or value <= self.maximum))

    def coerce(self, value: Any) -> Any:
        """An accepted value in the option's type (``2.0`` for an integer option → ``2``)."""
        if self.type is int and not self.choices:
            return int(value)
        if self.type is float:
            return float(value)
        if self.type is Path:
            return str(value)
        return value


def describe_options(options: Sequence[Option] | None) -> list[str]:
    """One line per option: ``name (allowed; default X): help``."""
    if options is None:
        return ["(not declared: passed to the factory as given)"]
    lines = []
    for option in options:
        default = "" if option.default is None else f"; default {option.default}"
        lines.append(f"{option.name} ({option.allowed}{default})" + (f": {option.help}" if option.help else ""))
    return lines


def resolve_options(given: Mapping[str, Any], declared: Sequence[Option] | None, flag: str, owner: str,
                    ) -> tuple[dict[str, Any], dict[str, Any]]:
    """``(values, recorded)`` for the options ``given`` to ``owner`` (e.g. ``"dataset 'samm'"``):
    ``values`` is every declared option, given or default, for the factory or loader; ``recorded``
    is what the run's identity holds — the given options and the recorded defaults.

    Refuses (``OptionError``, naming ``flag``) an unknown name, listing the valid ones, and a value
    the declaration does not allow, saying what is allowed. ``declared=None`` (a spec that declares
    nothing) passes ``given`` through unchecked."""
    if declared is None:
        return dict(given), dict(given)
    by_name = {option.name: option for option in declared}
    values = {option.name: option.default for option in declared}
    recorded = {option.name: option.default for option in declared if option.recorded}
    for name, value in given.items():
        option = by_name.get(name)
        if option is None:
            listed = ", ".join(by_name) if by_name else "none"
            raise OptionError(f"{flag} {name}: {owner} has no option {name!r}; valid options: {listed}")
        if value is None:  # the declared default
            continue
        if not option.accepts(value):
            raise OptionError(f"{flag} {name}={value}: {owner} takes {name} as {option.allowed}; got {value!r}")
        values[name] = recorded[name] = option.coerce(value)
    return values, recorded
