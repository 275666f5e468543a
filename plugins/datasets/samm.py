"""SAMM as distributed: ``SAMM_Micro_FACS_Codes_v2.xlsx`` (a title block above the header row)
plus ``SAMM/<subject>/<clip>/<subject>_<frame>.jpg`` (960×650 frames with background, not cropped to the
face: ``Clip.cropped`` is False).

Reference: Davison et al., SAMM: A Spontaneous Micro-Facial Movement Dataset, IEEE Transactions on
Affective Computing 9(1):116–129, 2018.
"""

from __future__ import annotations

from pathlib import Path

from mebench.data import Reference
from mebench.errors import DataError
from mebench_plugins.datasets.casme2 import subject_number
from mebench_plugins.datasets.clips import Reading, clip_from_sheet
from mebench_plugins.datasets.declaration import Database, NativeTask
from mebench_plugins.datasets.sheets import AU_COLUMN, read_sheet

SAMM = Reference("Davison, A.K.; Lansley, C.; Costen, N.; Tan, K.; Yap, M.H.",
                 "SAMM: A Spontaneous Micro-Facial Movement Dataset", "IEEE Transactions on Affective Computing",
                 2018)
#: The emotion vocabulary and its MEGC2019 3-class mapping (sources: docs/datasets.md, "The 3-class scheme").
EMOTIONS = {"anger": "negative", "contempt": "negative", "disgust": "negative", "fear": "negative",
            "sadness": "negative", "happiness": "positive", "surprise": "surprise", "other": None, "others": None}

SHEET = "SAMM_Micro_FACS_Codes_v2.xlsx"
COLUMNS = ("Subject", "Filename", "Onset Frame", "Apex Frame", "Offset Frame", "Estimated Emotion")


def read_samm(root: Path, sheet: Path | None = None) -> Reading:
    root = Path(root)
    sheet = Path(sheet) if sheet else root / SHEET
    if not sheet.exists():
        raise DataError(sheet, "SAMM coding spreadsheet not found",
                        "point --data-root at the folder holding SAMM/ (or --dataset-opt samm_root=DIR); "
                        f"it must contain {SHEET} (or pass --dataset-opt sheet=FILE)")
    frames_root = root / "SAMM"
    if not frames_root.is_dir():
        raise DataError(frames_root, "SAMM frame folder not found", "unpack the SAMM frames into SAMM/SAMM/")
    table = read_sheet(sheet, COLUMNS + (AU_COLUMN,), sheets=("MICRO_ONLY",))
    clips = [clip_from_sheet("samm", f"{subject_number(record['Subject'], table.source, row):03d}", record,
                             COLUMNS[1:], frames_root, table, row, cropped=False)
             for row, record in table]
    return Reading(clips, [f"annotation {table.description}",
                           f"frames {frames_root}/<subject>/<Filename>/ (not cropped)"])


DATABASE = Database(
    "samm", "SAMM", "samm", read_samm, folder="SAMM", root_name="SAMM", reference=SAMM, emotions=EMOTIONS,
    megc2019=True,
    # the estimated-emotion setting of the literature: the five emotions with more than ten clips; disgust,
    # fear and sadness excluded; "Others" is a spelling of "Other"
    tasks=(NativeTask("samm-5class", ("anger", "contempt", "happiness", "surprise", "other"), {
        "anger": "anger", "contempt": "contempt", "happiness": "happiness", "surprise": "surprise",
        "other": "other", "others": "other", "disgust": None, "fear": None, "sadness": None},
        "SAMM 5-class estimated emotions: anger, contempt, happiness, surprise, other (from the spreadsheet; "
        "disgust, fear, sadness excluded)"),),
    au_task="samm-au",
    au_description="SAMM action units from the Action Units column (the public v2 sheet: 159 rows; 5 give "
                   "alternatives between AUs, dropped by default)")
