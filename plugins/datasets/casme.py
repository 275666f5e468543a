"""CASME (the first CASME database) as distributed: its coding sheet (Subject, Filename, OnsetF, ApexF1,
ApexF2, OffsetF, AU, Emotion: the columns MEB's ``Casme`` reads; MEB's copy has 189 rows where the paper
counts 195 micro-expressions), found anywhere below ``CASME/`` by a name like ``casme.xlsx`` or
``CASME_coding*.xlsx``, and the frames ``CASME_raw_selected/sub<NN>/<Filename>/<Filename>-<n>.jpg`` (not
cropped) or ``Cropped/sub<NN>/<Filename>/reg_<Filename>-<n>.jpg`` (face-cropped, used when present),
numbered by the last digits of their file names (MEB's earlier reader pads some to three digits: the
numbers are read, not built).

Not confirmed by a public source: the sheet's file name, the spellings of its Emotion cells, and whether
subject folders are padded (``sub01``; ``sub1`` is accepted too). ``mebench data check`` says what it
read. The apex is ApexF1 (ApexF2, a second apex some rows have, is not used).

Reference: Yan et al., CASME Database: A Dataset of Spontaneous Micro-Expressions Collected From
Neutralized Faces, IEEE FG 2013.
"""

from __future__ import annotations

from pathlib import Path

from mebench.data import MEGC2019_CLASSES, Reference
from mebench.errors import DataError
from mebench_plugins.datasets.casme2 import subject_number
from mebench_plugins.datasets.clips import Reading, clip_from_sheet
from mebench_plugins.datasets.declaration import Database, NativeTask
from mebench_plugins.datasets.sheets import AU_COLUMN, Column, find_annotation, read_sheet

CASME = Reference("Yan, W.-J.; Wu, Q.; Liu, Y.-J.; Wang, S.-J.; Fu, X.",
                  "CASME Database: A Dataset of Spontaneous Micro-Expressions Collected From Neutralized Faces",
                  "IEEE FG", 2013)
#: The emotion vocabulary and its MEGC2019 3-class mapping: the CASME paper's categories; amusement is its
#: positive one, tense is excluded like others.
EMOTIONS = {"disgust": "negative", "sadness": "negative", "fear": "negative", "contempt": "negative",
            "repression": "negative", "happiness": "positive", "amusement": "positive", "surprise": "surprise",
            "tense": None, "others": None}

ANNOTATION = ("casme.xlsx", "casme_*.xlsx", "casme-*.xlsx", "casme *.xlsx", "casme1*.xlsx", "casme_coding*.xlsx")
COLUMNS = (Column("Subject"), Column("Filename"), Column("OnsetF", ("OnsetFrame", "Onset Frame", "Onset")),
           Column("ApexF1", ("ApexF", "ApexFrame", "Apex Frame", "Apex")),
           Column("OffsetF", ("OffsetFrame", "Offset Frame", "Offset")), Column("Emotion", ("Estimated Emotion",)),
           AU_COLUMN)
SHEET_COLUMNS = ("Filename", "OnsetF", "ApexF1", "OffsetF", "Emotion")
#: Frame layouts in order of preference, each with whether its frames are already cropped to the face.
FRAME_FOLDERS = {"Cropped": True, "CASME_raw_selected": False}


def read_casme(root: Path, sheet: Path | None = None) -> Reading:
    root = Path(root)
    path = find_annotation(root, ANNOTATION, "CASME coding sheet", "sheet", sheet, prune="^(Cropped|CASME_raw)")
    layout = next((name for name in FRAME_FOLDERS if (root / name).is_dir()), None)
    if layout is None:
        raise DataError(root, "no frame folder Cropped/ or CASME_raw_selected/",
                        "unpack the CASME frames into this folder (CASME_raw_selected/sub01/<Filename>/)")
    frames = root / layout
    table = read_sheet(path, COLUMNS)
    clips = []
    for row, record in table:
        number = subject_number(record["Subject"], table.source, row)
        subject, name = f"sub{number:02d}", str(record["Filename"] or "").strip()
        folder = frames / subject / name
        if not folder.is_dir() and (frames / f"sub{number}" / name).is_dir():
            folder = frames / f"sub{number}" / name
        clips.append(clip_from_sheet("casme", subject, record, SHEET_COLUMNS, frames, table, row,
                                     FRAME_FOLDERS[layout], folder))
    return Reading(clips, [f"annotation {table.description}",
                           f"frames {frames}/sub<NN>/<Filename>/ "
                           f"({'face-cropped' if FRAME_FOLDERS[layout] else 'not cropped'})"])


DATABASE = Database(
    "casme", "CASME", "casme", read_casme, folder="CASME", root_name="CASME", reference=CASME, emotions=EMOTIONS,
    tasks=(
        NativeTask("casme", MEGC2019_CLASSES, None,
                   "CASME, 3-class (MEGC2019 scheme; tense and others excluded) from the coding sheet (189 rows in "
                   "MEB's copy; per-class counts not confirmed)"),
        # mebench's choice (no source gives CASME's 4-class set): four CASME categories (docs/datasets.md)
        NativeTask("casme-4class", ("disgust", "repression", "surprise", "tense"), {
            "disgust": "disgust", "repression": "repression", "surprise": "surprise", "tense": "tense",
            "sadness": None, "fear": None, "contempt": None, "happiness": None, "amusement": None, "others": None},
            "CASME 4-class: disgust, repression, surprise, tense (mebench's choice: no source gives the class "
            "set)"),
    ),
    au_task="casme-au", au_description="CASME action units from the coding sheet's AU column (189 rows in MEB's copy)")
