"""MMEW as distributed: ``MMEW_Micro_Exp.xlsx`` (Subject, Filename, OnsetFrame, ApexFrame, OffsetFrame,
Action Units, Estimated Emotion, remarks: the columns MEB's ``Mmew`` reads; 300 micro-expressions),
found by name anywhere below ``MMEW/`` (also a copy ``MMEW_Micro_Exp_v2.xlsx``, ``MMEW_Micro_Exp (1).xlsx`` or
``MMEW_Micro_Exp.csv``; several different copies are an error naming them), and face-cropped frames
``Micro_Expression/.../<Filename>/<n>.jpg`` ("frameIndex.jpg", dpailab.com/database.html).

Two folder layouts are published and neither is confirmed from a copy: MEB reads
``Micro_Expression/<emotion>/<Filename>/`` and the database page describes
``<subject>/<emotion>/<PersonIndex-EmotionIndex-SampleIndex>/``. The reader accepts both: a clip folder is
the folder named like the row's Filename two or three levels below ``Micro_Expression/``.
``mebench data check`` says what it read.

Reference: Ben et al., Video-based Facial Micro-Expression Analysis: A Survey of Datasets, Features
and Algorithms, IEEE TPAMI 44(9), 2022.
"""

from __future__ import annotations

import re
from pathlib import Path

from mebench.data import MEGC2019_CLASSES, Reference
from mebench.errors import DataError
from mebench_plugins.datasets.clips import Reading, clip_from_sheet
from mebench_plugins.datasets.declaration import Database, NativeTask
from mebench_plugins.datasets.sheets import AU_COLUMN, Column, find_annotation, find_dirs, find_files, read_sheet

MMEW = Reference("Ben, X.; Ren, Y.; Zhang, J.; Wang, S.-J.; Kpalma, K.; Meng, W.; Liu, Y.-J.",
                 "Video-based Facial Micro-Expression Analysis: A Survey of Datasets, Features and Algorithms",
                 "IEEE TPAMI 44(9)", 2022)
#: The emotion vocabulary and its MEGC2019 3-class mapping: six basic emotions plus others; MEB renames
#: 'others' to 'repression' to match the frame folders (dpailab lists a repression folder and no others
#: folder): one class, excluded like others, not negative as MEGC2019's repression: the annotation names it
#: 'others' (docs/datasets.md).
EMOTIONS = {"disgust": "negative", "fear": "negative", "sadness": "negative", "anger": "negative",
            "happiness": "positive", "surprise": "surprise", "others": None, "repression": None}

ANNOTATION = ("MMEW_Micro_Exp.xlsx",)
#: Copies of the sheet under another name: a version (``_v2``), a browser's duplicate download (`` (1)``) or the
#: sheet saved as ``.csv``.
COPIES = re.compile(r"^MMEW_Micro_Exp(?:_v\d+)?(?: ?\(\d+\))?\.(?:xlsx|csv)$", re.IGNORECASE)
COLUMNS = (Column("Subject"), Column("Filename"), Column("OnsetFrame", ("Onset Frame", "Onset")),
           Column("ApexFrame", ("Apex Frame", "Apex")), Column("OffsetFrame", ("Offset Frame", "Offset")),
           Column("Estimated Emotion", ("Emotion",)), AU_COLUMN)
SHEET_COLUMNS = ("Filename", "OnsetFrame", "ApexFrame", "OffsetFrame", "Estimated Emotion")
FRAMES = "Micro_Expression"


def subject_id(value, file, row) -> str:
    """``S01`` from ``S1``, ``S01`` or ``1``."""
    text = str(value if value is not None else "").strip()
    match = re.fullmatch(r"[Ss]?0*(\d+)(?:\.0)?", text)
    if not match:
        raise DataError(file, f"Subject {value!r} is not like S01", "correct the cell", row)
    return f"S{int(match.group(1)):02d}"


def clip_folders(frames: Path) -> dict[str, list[Path]]:
    """Folders two or three levels below ``frames`` (``<emotion>/<clip>`` or ``<subject>/<emotion>/<clip>``)
    by name."""
    found: dict[str, list[Path]] = {}
    for path in find_dirs(frames, lambda d: len(d.relative_to(frames).parts) >= 2, max_depth=3):
        found.setdefault(path.name, []).append(path)
    return found


def annotation(root: Path, sheet: Path | None = None) -> Path:
    """The MMEW sheet: ``sheet`` when given, else the one file below ``root`` named ``MMEW_Micro_Exp.xlsx`` or a
    copy of it (``COPIES``: ``_v2``, `` (1)``, ``.csv``). Several candidates are one only when their contents are
    identical (a second download of the same file); otherwise an error names them all."""
    if sheet:
        return find_annotation(root, ANNOTATION, "MMEW micro-expression sheet", "sheet", sheet, prune=FRAMES)
    found = [p for p in find_files(root, ("MMEW_Micro_Exp*",), prune=FRAMES) if COPIES.match(p.name)]
    if len(found) > 1 and len({p.read_bytes() for p in found}) == 1:
        found = found[:1]
    if not found:  # none: the error says what was looked for (and whether the folder exists)
        return find_annotation(root, ANNOTATION + ("MMEW_Micro_Exp_v<n>.xlsx", "MMEW_Micro_Exp (<n>).xlsx",
                                                   "MMEW_Micro_Exp.csv"), "MMEW micro-expression sheet", "sheet",
                               prune=FRAMES)
    if len(found) > 1:
        raise DataError(root, f"{len(found)} different copies of the MMEW micro-expression sheet below this folder: "
                              f"{', '.join(map(str, found))}",
                        "keep one, or name it with --dataset-opt sheet=FILE (mmew_sheet=FILE on a composite)")
    return found[0]


def read_mmew(root: Path, sheet: Path | None = None) -> Reading:
    root = Path(root)
    path = annotation(root, sheet)
    candidates = find_dirs(root, lambda d: d.name == FRAMES, max_depth=2)
    if len(candidates) != 1:
        raise DataError(root, f"expected one frame folder {FRAMES}/ below this folder, found "
                              f"{', '.join(map(str, candidates)) or 'none'}",
                        "unpack the MMEW micro-expression frames (Micro_Expression/<emotion>/<Filename>/1.jpg)")
    frames = candidates[0]
    folders = clip_folders(frames)
    table = read_sheet(path, COLUMNS)
    clips, layouts = [], set()
    for row, record in table:
        subject = subject_id(record["Subject"], table.source, row)
        name = str(record["Filename"] or "").strip()
        emotion = str(record["Estimated Emotion"] or "").strip()
        matches = folders.get(name, [])
        if len(matches) > 1:
            raise DataError(table.source, f"{name}: several clip folders: {', '.join(map(str, matches))}",
                            "keep one folder per clip", row)
        folder = matches[0] if matches else frames / emotion / name  # a missing folder is reported by its path
        if matches:
            layouts.add("<emotion>/<Filename>" if folder.parent.parent == frames else "<subject>/<emotion>/<Filename>")
        clips.append(clip_from_sheet("mmew", subject, record, SHEET_COLUMNS, frames, table, row, True, folder))
    shown = " and ".join(sorted(layouts)) or "none found"
    return Reading(clips, [f"annotation {table.description}",
                           f"frames {frames}/ (face-cropped; clip folders looked for as <emotion>/<Filename> or "
                           f"<subject>/<emotion>/<Filename>; found: {shown})"])


DATABASE = Database(
    "mmew", "MMEW", "mmew", read_mmew, folder="MMEW", root_name="MMEW", reference=MMEW, emotions=EMOTIONS,
    tasks=(
        NativeTask("mmew", MEGC2019_CLASSES, None,
                   "MMEW, 3-class (MEGC2019 scheme; others excluded, the sheet's label even where the frame folder "
                   "says repression) from MMEW_Micro_Exp.xlsx (300 clips; per-class counts not confirmed)"),
        # mebench's choice (no source defines a 6-class MMEW task): the native emotions less anger
        NativeTask("mmew-6class", ("happiness", "surprise", "disgust", "fear", "sadness", "others"), {
            "happiness": "happiness", "surprise": "surprise", "disgust": "disgust", "fear": "fear",
            "sadness": "sadness", "others": "others", "repression": "others", "anger": None},
            "MMEW native emotions less anger: happiness, surprise, disgust, fear, sadness, others "
            "(mebench's choice: no source defines a 6-class MMEW task; counts not confirmed)"),
    ),
    au_task="mmew-au", au_description="MMEW action units from the Action Units column (300 rows in MEB's copy)")
