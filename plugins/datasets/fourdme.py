"""4DME as distributed: ``4DME_Labelling_Micro_release v1.xlsx`` (sub_ID, fold_name, Emotion, Onset, Apex,
Offset, AUs and one column per AU: the columns MEB's ``Fourd`` reads; 267 micro-expressions), found by
name anywhere below ``4DME/``, and grey frames ``gray_micro/<sub_ID>/<fold_name>/`` (not cropped),
numbered by the digits of their file names.

Emotion is one of the release's five categories (positive, negative, surprise, repression, others; "five
categories of emotion labels", the 4DME paper), and a cell may name several joined by ``+`` (MEB's
earlier reader writes ``Surprise+Positive``): such a clip keeps its class only where all its categories
fall in one class of the task (``labels.emotion_class``). Not confirmed from a copy, so ``mebench data
check`` says what it read: the spellings of the Emotion cells, the sheet's name, the file names of the
frames, and whether a copy has ``gray_micro_crop/`` (MEB's cropped copy, read as face-cropped when
``gray_micro/`` is absent).

Reference: Li et al., 4DME: A Spontaneous 4D Micro-Expression Dataset With Multimodalities, IEEE
Transactions on Affective Computing 14(4), 2023.
"""

from __future__ import annotations

import re
from pathlib import Path

from mebench.data import MEGC2019_CLASSES, Reference
from mebench.errors import DataError
from mebench_plugins.datasets.clips import Reading, clip_from_sheet
from mebench_plugins.datasets.declaration import Database, NativeTask
from mebench_plugins.datasets.sheets import AU_COLUMN, Column, find_annotation, find_dirs, read_sheet

FOURDME = Reference("Li, X.; Cheng, S.; Li, Y.; Behzad, M.; Shen, J.; Zafeiriou, S.; Pantic, M.; Zhao, G.",
                    "4DME: A Spontaneous 4D Micro-Expression Dataset With Multimodalities",
                    "IEEE Transactions on Affective Computing 14(4)", 2023)
#: The emotion vocabulary and its MEGC2019 3-class mapping: five categories (positive, negative, surprise,
#: repression, others); repression is negative as CASME II's is in MEGC2019.
EMOTIONS = {"negative": "negative", "repression": "negative", "positive": "positive", "surprise": "surprise",
            "others": None}

ANNOTATION = ("4DME_Labelling_Micro_release v1.xlsx", "4DME_Labelling_Micro_release_v1.xlsx")
COLUMNS = (Column("sub_ID", ("Subject", "sub_ID'")), Column("fold_name", ("Filename",)),
           Column("Onset", ("OnsetFrame", "Onset Frame")), Column("Apex", ("ApexFrame", "Apex Frame")),
           Column("Offset", ("OffsetFrame", "Offset Frame")), Column("Emotion", ("Estimated Emotion",)), AU_COLUMN)
#: Frame folders in order of preference, each with whether its frames are already cropped to the face.
FRAME_FOLDERS = {"gray_micro": False, "gray_micro_crop": True}
SHEET_COLUMNS = ("fold_name", "Onset", "Apex", "Offset", "Emotion")
NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-]*$")


def read_4dme(root: Path, sheet: Path | None = None) -> Reading:
    root = Path(root)
    path = find_annotation(root, ANNOTATION, "4DME micro-expression sheet", "sheet", sheet,
                           prune="^gray_micro")
    frames, cropped = None, False
    for name, is_cropped in FRAME_FOLDERS.items():
        found = find_dirs(root, lambda d, name=name: d.name == name, max_depth=2, prune="^gray_micro")
        if len(found) > 1:
            raise DataError(root, f"several frame folders {name}/: {', '.join(map(str, found))}", "keep one")
        if found:
            frames, cropped = found[0], is_cropped
            break
    if frames is None:
        raise DataError(root, "no frame folder gray_micro/ (or gray_micro_crop/) below this folder",
                        "unpack the 4DME grey micro-expression frames (gray_micro/<sub_ID>/<fold_name>/)")
    table = read_sheet(path, COLUMNS)
    clips = []
    for row, record in table:
        subject, name = str(record["sub_ID"] or "").strip(), str(record["fold_name"] or "").strip()
        for column, value in (("sub_ID", subject), ("fold_name", name)):
            if not NAME.match(value):
                raise DataError(table.source, f"{column} {value!r} is not a folder name", "correct the cell", row)
        clips.append(clip_from_sheet("4dme", subject, record, SHEET_COLUMNS, frames, table, row, cropped))
    return Reading(clips, [f"annotation {table.description}",
                           f"frames {frames}/<sub_ID>/<fold_name>/ ({'face-cropped' if cropped else 'not cropped'}; "
                           f"frame numbers from the digits of the file names)"])


DATABASE = Database(
    "4dme", "4DME", "4dme", read_4dme, folder="4DME", root_name="4DME", reference=FOURDME, emotions=EMOTIONS,
    tasks=(
        NativeTask("4dme", MEGC2019_CLASSES, None,
                   "4DME, 3-class (MEGC2019 scheme; repression negative, others excluded) from the release sheet's "
                   "emotion categories, labels annotated with the AUs (objective), not self-reported (267 clips; "
                   "per-class counts not confirmed)"),
        # the release's five emotion categories
        NativeTask("4dme-5class", ("positive", "negative", "surprise", "repression", "others"), {
            "positive": "positive", "negative": "negative", "surprise": "surprise", "repression": "repression",
            "others": "others"},
            "4DME's five emotion categories: positive, negative, surprise, repression, others — labels "
            "annotated with the AUs (objective), not self-reported (counts not confirmed)"),
    ),
    au_task="4dme-au",
    au_description="4DME action units from the AUs column and its one column per AU; (k) = static, counted absent "
                   "(267 rows in MEB's copy)")
