"""CASME II as distributed: ``CASME2-coding-*.xlsx`` plus ``Cropped/`` (face-cropped frames, used when
present) or ``CASME2_RAW_selected/`` (640×480 frames, not cropped: ``Clip.cropped`` is False).

Reference: Yan et al., CASME II: An Improved Spontaneous Micro-Expression Database and the Baseline
Evaluation, PLoS ONE 9(1):e86041, 2014.
"""

from __future__ import annotations

from pathlib import Path

from mebench.data import Reference
from mebench.errors import DataError
from mebench_plugins.datasets.clips import Reading, clip_from_sheet
from mebench_plugins.datasets.declaration import Database, NativeTask
from mebench_plugins.datasets.sheets import AU_COLUMN, read_sheet

CASME2 = Reference("Yan, W.-J.; Li, X.; Wang, S.-J.; Zhao, G.; Liu, Y.-J.; Chen, Y.-H.; Fu, X.",
                   "CASME II: An Improved Spontaneous Micro-Expression Database and the Baseline Evaluation",
                   "PLoS ONE 9(1):e86041", 2014)
#: The emotion vocabulary and its MEGC2019 3-class mapping (sources: docs/datasets.md, "The 3-class scheme").
EMOTIONS = {"happiness": "positive", "disgust": "negative", "repression": "negative", "surprise": "surprise",
            "others": None, "fear": None, "sadness": None}

COLUMNS = ("Subject", "Filename", "OnsetFrame", "ApexFrame", "OffsetFrame", "Estimated Emotion")
#: Frame layouts in order of preference, each with whether its frames are already cropped to the face.
FRAME_FOLDERS = {"Cropped": True, "CASME2_RAW_selected": False}


def subject_number(value, file, row) -> int:
    text = str(value).strip().lower().removeprefix("sub")
    try:
        return int(float(text))
    except ValueError:
        raise DataError(file, f"Subject {value!r} is not a subject number", "expected e.g. 1 or 01", row) from None


def read_casme2(root: Path, sheet: Path | None = None) -> Reading:
    root = Path(root)
    if not root.is_dir():
        raise DataError(root, "CASME II folder not found", "point --data-root at the folder holding CASME2/ "
                                                            "(or pass --dataset-opt casme2_root=DIR)")
    if sheet is None:
        sheets = sorted(root.glob("CASME2-coding-*.xlsx"))
        if len(sheets) != 1:
            found = ", ".join(p.name for p in sheets) or "none"
            raise DataError(root, f"expected exactly one coding spreadsheet CASME2-coding-*.xlsx, found {found}",
                            "keep the spreadsheet distributed with CASME II, and only that one, in this folder "
                            "(or pass --dataset-opt sheet=FILE)")
        sheet = sheets[0]
    layout = next((name for name in FRAME_FOLDERS if (root / name).is_dir()), None)
    if layout is None:
        raise DataError(root, "no frame folder Cropped/ or CASME2_RAW_selected/",
                        "unpack the CASME II frames into this folder")
    table = read_sheet(sheet, COLUMNS + (AU_COLUMN,))
    clips = [clip_from_sheet("casme2", f"sub{subject_number(record['Subject'], table.source, row):02d}", record,
                             COLUMNS[1:], root / layout, table, row, cropped=FRAME_FOLDERS[layout])
             for row, record in table]
    return Reading(clips, [f"annotation {table.description}",
                           f"frames {root / layout}/sub<NN>/<Filename>/ "
                           f"({'face-cropped' if FRAME_FOLDERS[layout] else 'not cropped'})"])


DATABASE = Database(
    "casme2", "CASME II", "casme2", read_casme2, folder="CASME2", root_name="CASME II", reference=CASME2,
    emotions=EMOTIONS, megc2019=True,
    # the 5-class task of the literature: its five estimated emotions, fear (2 clips) and sadness (7) excluded
    # as too rare
    tasks=(NativeTask("casme2-5class", ("happiness", "surprise", "disgust", "repression", "others"), {
        "happiness": "happiness", "surprise": "surprise", "disgust": "disgust", "repression": "repression",
        "others": "others", "fear": None, "sadness": None},
        "CASME II 5-class: happiness, surprise, disgust, repression, others (from the spreadsheet; fear and "
        "sadness excluded)"),),
    au_task="casme2-au",
    au_description="CASME II action units from the coding sheet's Action Units column (the public sheet: 255 rows, "
                   "5 coded '?' leave the task)")
