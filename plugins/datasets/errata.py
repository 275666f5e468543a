"""Errata: corrections of a database's annotation by clip and old value, read from the versioned errata file
(or a user's), applied to the clips a reader gives, and named when they no longer apply."""

from __future__ import annotations

import csv
from dataclasses import dataclass, replace
from importlib import resources
from pathlib import Path
from typing import Any, Iterable

from mebench.errors import DataError
from mebench_plugins.datasets.action_units import AU_COLUMN_NAME, AUCell
from mebench_plugins.datasets.clips import Clip
from mebench_plugins.datasets.declared import EMOTIONS
from mebench_plugins.datasets.sheets import frame_number


@dataclass(frozen=True)
class Erratum:
    """One line of an errata file: a field's corrected value, the value the annotation must still hold
    for it to apply (``old``; None: no guard) and where the correction comes from."""

    field: str
    value: str
    note: str
    where: str  # errata file and line
    old: str | None = None


ERRATA_HEADER = "dataset,subject,clip,field,old,value,note"
#: What an erratum may correct: a frame, the emotion, or the action-unit cell (``au``: the AU tasks read the
#: corrected text by the rules of ``action_units``).
ERRATA_FIELDS = ("onset", "apex", "offset", "emotion", "au")


def _field_value(clip: Clip, field: str) -> Any:
    """The annotation's value of an erratum field (the AU cell's text for ``au``)."""
    if field == "au":
        return clip.au.value if clip.au is not None else None
    return getattr(clip, field)


def load_errata(path: Path | None = None) -> dict[tuple[str, str, str], list[Erratum]]:
    """(dataset, subject, clip) → errata, from the versioned errata file (or ``path``). The ``old``
    column is optional (files without it still read: their errata apply unguarded)."""
    if path is None:
        text = resources.files("mebench_plugins").joinpath("data/errata.csv").read_text()
        where = "mebench_plugins/data/errata.csv"
    else:
        if not Path(path).is_file():
            raise DataError(path, "errata file not found", "pass an existing file with --dataset-opt errata=PATH")
        text, where = Path(path).read_text(), str(path)
    numbered = [(n, line) for n, line in enumerate(text.splitlines(), start=1)
                if line.strip() and not line.startswith("#")]
    header_line = numbered[0][0] if numbered else 0
    errata: dict[tuple[str, str, str], list[Erratum]] = {}
    records = csv.DictReader(line for _, line in numbered)
    missing = {"dataset", "subject", "clip", "field", "value"} - set(records.fieldnames or ())
    if missing:
        raise DataError(where, f"errata header lacks column(s) {', '.join(sorted(missing))}",
                        f"the header is {ERRATA_HEADER} (old is optional)", header_line)
    for (number, _), record in zip(numbered[1:], records):
        field = (record.get("field") or "").strip()
        if field not in ERRATA_FIELDS:
            raise DataError(where, f"unknown erratum field {field!r}", "use onset, apex, offset, emotion or au", number)
        key = (record["dataset"].strip(), record["subject"].strip(), record["clip"].strip())
        if key[0] not in EMOTIONS:
            raise DataError(where, f"unknown erratum dataset {key[0]!r}", f"use one of {', '.join(EMOTIONS)}", number)
        old = (record.get("old") or "").strip()
        errata.setdefault(key, []).append(Erratum(field, (record.get("value") or "").strip(),
                                                  (record.get("note") or "").strip(), f"{where}, line {number}",
                                                  old or None))
    return errata


def _holds(clip: Clip, fix: Erratum) -> bool:
    """Whether the annotation still holds the value ``fix`` was written against."""
    if fix.old is None:
        return True
    current = _field_value(clip, fix.field)
    if fix.field == "emotion":
        return str(current).strip().casefold() == fix.old.casefold()
    if fix.field == "au":
        return " ".join(str(current if current is not None else "").split()) == " ".join(fix.old.split())
    return current == frame_number(fix.old, f"old {fix.field}", fix.where, None, missing_ok=True)


def apply_errata(clip: Clip, errata: dict[tuple[str, str, str], list[Erratum]],
                 warnings: list[str] | None = None) -> Clip:
    """``clip`` with its errata applied; each applied erratum adds a note to ``clip.corrections``. An
    erratum whose ``old`` value the annotation no longer holds is not applied: one line in ``warnings``
    says so (the copy was corrected, or the erratum is stale)."""
    fixes = errata.get((clip.dataset, clip.subject.split("/", 1)[1], clip.name))
    if not fixes:
        return clip
    changes: dict[str, Any] = {}
    notes = list(clip.corrections)
    applied = set()
    for fix in fixes:
        if not _holds(clip, fix):
            if warnings is not None:
                warnings.append(f"{fix.where}: erratum no longer applies: {clip.id} {fix.field} is "
                                f"{_field_value(clip, fix.field)!r} in {clip.where}, not {fix.old!r}; not applied")
            continue
        if fix.field == "emotion":
            changes["emotion"] = fix.value
            changes["emotion_from"] = (fix.where, clip.id)  # a value outside the vocabulary: the task names the erratum
            used = repr(fix.value)
        elif fix.field == "au":
            column = clip.au.column if clip.au is not None and clip.au.column else AU_COLUMN_NAME
            changes["au"] = AUCell(column, fix.value, clip.au.flags if clip.au is not None else ())
            used = repr(fix.value)
        else:
            changes[fix.field] = frame_number(fix.value, fix.field, fix.where, None, missing_ok=fix.field == "apex")
            used = "the apex rule of the preprocessing chain" if changes[fix.field] is None else changes[fix.field]
        applied.add(fix.field)
        notes.append(f"{clip.where}: {clip.id}: {fix.field} {_field_value(clip, fix.field)!r} corrected by {fix.where}"
                     f"{f' ({fix.note})' if fix.note else ''}; used {used}")
    if not applied:
        return clip
    return replace(clip, **changes, corrections=tuple(notes), corrected_fields=clip.corrected_fields | applied)


def unmatched_errata(errata: dict[tuple[str, str, str], list[Erratum]], dataset: str,
                     clips: Iterable[Clip]) -> list[str]:
    """One line per erratum of ``dataset`` that names a clip the annotation does not list: it no longer
    applies (the clip was renamed or removed, or the erratum is for another copy)."""
    listed = {(c.subject.split("/", 1)[1], c.name) for c in clips if c.dataset == dataset}
    return [f"{fix.where}: erratum no longer applies: the annotation lists no clip {dataset}/{subject}/{name}; "
            f"not applied" for (d, subject, name), fixes in errata.items() if d == dataset
            and (subject, name) not in listed for fix in fixes]
