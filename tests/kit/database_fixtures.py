"""Write small copies of CAS(ME)³ Part A, MMEW, 4DME, CASME, SMIC-VIS/NIR and SMIC-E in their distributed
layouts (spreadsheets via openpyxl, tiny frames via OpenCV), with the kinds of slips their annotations
have. Nothing here is copied from a real sheet: the CAS(ME)³ fixture reproduces the public v2 sheet's
counts (860 rows, 94 subjects, the seven emotions with 3 rows spelled ``Others``, the 860 AU cells of the
sheet in another order — so ``casme3a-au`` gives MEB's per-AU counts) and the six rows MEB corrects, by clip
and value; every other row is made up. The AU cells of MMEW, 4DME and CASME (not public) are made up in
the spellings the public sheets and MEB's code show (4DME: ``AU4(k)+L7`` and one column per AU).
"""

from __future__ import annotations

import itertools
from pathlib import Path

import numpy as np
import openpyxl

from tests.kit import au_spellings
from tests.kit.megc_fixtures import FRAME_STEP, _sheet, _write_clip, au_cells

# --- CAS(ME)³ Part A --------------------------------------------------------------------------------------

CASME3_SHEET = "cas(me)3_part_A_ME_label_JpgIndex_v2.xlsx"
#: The emotion column of the public v2 sheet, by exact spelling.
CASME3_EMOTIONS = {"disgust": 250, "surprise": 187, "others": 158, "fear": 86, "anger": 64, "sad": 57, "happy": 55,
                   "Others": 3}
CASME3_COUNTS = {
    "casme3a-7class": {"disgust": 250, "surprise": 187, "others": 161, "fear": 86, "anger": 64, "sad": 57,
                       "happy": 55},
    "casme3a-4class": {"negative": 457, "positive": 55, "surprise": 187, "others": 161},
    "casme3a": {"negative": 457, "positive": 55, "surprise": 187},
}
CASME3_SUBJECTS = {"casme3a-7class": 94, "casme3a-4class": 94, "casme3a": 88}
#: The six rows MEB corrects, as the public sheet holds them: (subject, Filename, onset, apex, offset, emotion),
#: and the sample each becomes with the values used after the shipped errata.
CASME3_SLIPS = {
    "casme3a/spNO.149/d_112": (("spNO.149", "d", 112, 83, 358, "fear"), (112, 160, 358)),
    "casme3a/spNO.214/c_5": (("spNO.214", "c", 5, 5, 3460, "disgust"), (5, 5, 3460)),  # no erratum: the authors' 3460
    "casme3a/spNO.216/d_3647": (("spNO.216", "d", 3647, 2668, 2694, "others"), (2647, 2668, 2694)),
    "casme3a/spNO.216/e_0": (("spNO.216", "e", 0, 0, 25, "others"), (1, 1, 25)),
    "casme3a/spNO.40/e_1812": (("spNO.40", "e", 1812, 1824, 0, "others"), (1812, 1824, 1845)),
    "casme3a/spNO.40/e_2327": (("spNO.40", "e", 2327, 2363, 0, "others"), (2327, 2363, 2403)),
}
#: Frames on disk for the slipped rows (the recording goes on past 3460 and 3647 as a real one does).
CASME3_SLIP_FRAMES = {("spNO.149", "d"): [112, 115, 118, 123, 160, 358], ("spNO.214", "c"): [5, 8, 11, 34, 3460],
                      ("spNO.216", "d"): [2647, 2650, 2668, 2694, 3647], ("spNO.216", "e"): [1, 4, 7, 25],
                      ("spNO.40", "e"): [1812, 1815, 1824, 1845, 2327, 2330, 2363, 2403]}
#: A Filename the sheet spells in upper case while its folder is lower case (the sheet has one 'J').
CASME3_CASE = ("spNO.14", "J")
#: Samples whose spans hold frames the exception lists name (bad quality, damaged).
CASME3_FLAGGED = ("casme3a/spNO.2/a_20", "casme3a/spNO.3/b_20")
GENERAL_LETTERS = "abfghijklm"  # general rows avoid c, d, e: the slipped recordings keep their own rows


def _casme3_subjects() -> list[int]:
    special = [14, 40, 149, 214, 216]
    rest = itertools.islice((n for n in itertools.count(1) if n not in special), 89)
    return sorted(special + list(rest))


def casme3a_rows(seed: int = 0) -> list[tuple[str, str, int, int, int, str]]:
    """860 rows (subject, Filename, onset, apex, offset, emotion) with the public sheet's counts: 94 subjects,
    six of them with only 'others' rows (so the 3-class task has 88), and the six slipped rows."""
    rng = np.random.default_rng(seed)
    subjects = [f"spNO.{n}" for n in _casme3_subjects()]
    pool = [emotion for emotion, n in CASME3_EMOTIONS.items() for _ in range(n)]
    for row, _ in CASME3_SLIPS.values():
        pool.remove(row[5])
    others_only = [s for s in subjects if s not in {r[0] for r, _ in CASME3_SLIPS.values()} | {CASME3_CASE[0]}][-6:]
    for _ in others_only:
        pool.remove("others")
    pool.remove("others")  # the upper-case 'J' row is 'others', as in the public sheet
    rng.shuffle(pool)
    rest = [s for s in subjects if s not in others_only]
    labelled = {s: [] for s in subjects}
    non_others = [i for i, e in enumerate(pool) if e.lower() != "others"][:len(rest)]
    for subject, i in zip(rest, non_others):  # every subject but six has a 3-class row
        labelled[subject].append(pool[i])
    remaining = [e for i, e in enumerate(pool) if i not in set(non_others)]
    for emotion, subject in zip(remaining, rng.choice(rest, size=len(remaining))):
        labelled[str(subject)].append(emotion)
    for subject in others_only:
        labelled[subject].append("others")
    rows = []
    for subject in subjects:
        for k, emotion in enumerate(labelled[subject]):
            letter = GENERAL_LETTERS[k % len(GENERAL_LETTERS)]
            onset = 20 + 30 * (k // len(GENERAL_LETTERS))
            rows.append((subject, letter, onset, onset + 2 * FRAME_STEP, onset + 4 * FRAME_STEP, emotion))
    rows.append((CASME3_CASE[0], CASME3_CASE[1], 500, 506, 512, "others"))
    rows += [row for row, _ in CASME3_SLIPS.values()]
    rows.sort(key=lambda r: (r[0], r[1].lower(), r[2]))  # by subject as text, as the public sheet is
    return rows


def write_casme3(root: Path, seed: int = 0) -> list[tuple]:
    """``root/CASME3`` as the release lays it out: the ME sheet under ``annotation/partA/``, recordings under
    ``part_A/<Subject>/<Filename>/color/<n>.jpg``, the exception lists under ``exception/``."""
    rng = np.random.default_rng(seed)
    base = root / "CASME3"
    rows = casme3a_rows(seed)
    slipped = {(r[0], r[1], r[2]) for r, _ in CASME3_SLIPS.values()}
    for subject, filename, onset, apex, offset, _ in rows:
        if (subject, filename, onset) in slipped:
            continue
        folder = base / "part_A" / subject / filename.lower() / "color"
        _write_clip(folder, [f"{onset + FRAME_STEP * k}.jpg" for k in range(5)], rng)
    for (subject, filename), numbers in CASME3_SLIP_FRAMES.items():
        folder = base / "part_A" / subject / filename / "color"
        for start in range(0, len(numbers), 4):
            _write_clip(folder, [f"{n}.jpg" for n in numbers[start:start + 5]], rng)
    (base / "part_A" / "spNO.1" / "a" / "depth").mkdir(parents=True, exist_ok=True)  # depth frames beside color/
    annotation = base / "annotation" / "partA"
    annotation.mkdir(parents=True, exist_ok=True)
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    sheet.title = "label"
    sheet.append(["Subject", "Filename", "Onset", "Apex", "Offset", "AU", "Objective class", "emotion"])
    cells = au_cells(au_spellings.CASME3A, len(rows), [], seed=23)  # the public sheet's 860 AU cells, reordered
    for (subject, filename, onset, apex, offset, emotion), au in zip(rows, cells):
        # frame cells are text, as in the public sheet
        sheet.append([subject, filename, str(onset), str(apex), str(offset), au, "VII", emotion])
    workbook.create_sheet("Sheet1")
    workbook.create_sheet("Sheet3")
    workbook.save(annotation / CASME3_SHEET)
    exception = base / "exception"
    exception.mkdir(exist_ok=True)
    (exception / "image_with_bad_quality_partA.txt").write_text(
        "/date/databases/casme3/RGB/spNO.2/a/color/26.jpg\n/date/databases/casme3/RGB/spNO.2/a/color/900.jpg\n")
    (exception / "error_info_damaged_image_partA.txt").write_text(
        "spNO.3 b 23.jpg  the image cannot open\nspNO.3 b 24.jpg  the image cannot open\n")
    return rows


# --- MMEW ---------------------------------------------------------------------------------------------------

#: (subject, emotion as the sheet spells it); clip folders Micro_Expression/<emotion>/<Filename>/ with MEB's
#: 'repression' folder for 'others'.
MMEW_CLIPS = [(s, e) for s in (1, 2, 3) for e in ("happiness", "surprise", "disgust", "fear", "sadness", "others")]
MMEW_CLIPS += [(1, "anger"), (2, "surprise"), (3, "disgust")]
MMEW_COUNTS = {"mmew": {"negative": 11, "positive": 3, "surprise": 4},
               "mmew-6class": {"happiness": 3, "surprise": 4, "disgust": 4, "fear": 3, "sadness": 3, "others": 3}}
MMEW_SLIPS = {"mmew/S02/S02-02-001": "offset past the last frame", "mmew/S03/S03-05-001": "apex missing"}
#: The Action Units cell of each MMEW_CLIPS row (made up; the last 'others' clip of S03 has an empty cell:
#: not coded).
MMEW_AUS = ["6+12", "1+2+5", "4+7", "1+4", "4+L10", "L14",
            "R12", "1+2", "4+9", "1+2+4", "15+17", "10",
            "L12", "5", "4+7+10", "4+5", "17", None,
            "4+7", "1+2+25+26", "9+10"]
EMOTION_INDEX = {"happiness": 1, "surprise": 2, "disgust": 3, "fear": 4, "sadness": 5, "anger": 6, "others": 7}


def write_mmew(root: Path, seed: int = 1) -> None:
    rng = np.random.default_rng(seed)
    base = root / "MMEW"
    rows, seen = [], {}
    for (subject, emotion), aus in zip(MMEW_CLIPS, MMEW_AUS):
        seen[(subject, emotion)] = seen.get((subject, emotion), 0) + 1
        name = f"S{subject:02d}-{EMOTION_INDEX[emotion]:02d}-{seen[(subject, emotion)]:03d}"
        folder = base / "Micro_Expression" / ("repression" if emotion == "others" else emotion) / name
        _write_clip(folder, [f"{1 + FRAME_STEP * k}.jpg" for k in range(5)], rng)
        onset, apex, offset = 1, 1 + 2 * FRAME_STEP, 1 + 4 * FRAME_STEP
        slip = MMEW_SLIPS.get(f"mmew/S{subject:02d}/{name}")
        if slip == "offset past the last frame":
            offset += 20
        elif slip == "apex missing":
            apex = None
        rows.append([f"S{subject:02d}", name, onset, apex, offset, aus, emotion, None])
    _sheet(base / "MMEW_Micro_Exp.xlsx", ["Subject", "Filename", "OnsetFrame", "ApexFrame", "OffsetFrame",
                                             "Action Units", "Estimated Emotion", "remarks"], rows)


# --- 4DME ---------------------------------------------------------------------------------------------------

#: (sub_ID, fold_name, Emotion as the release spells it)
FOURDME_CLIPS = [("S01", "S01_001", "Negative"), ("S01", "S01_002", "Positive"), ("S01", "S01_003", "Surprise"),
                 ("S01", "S01_004", "Repression"), ("S02", "S02_001", "Others"), ("S02", "S02_002", "Negative"),
                 ("S02", "S02_003", "Surprise+Positive"), ("S02", "S02_004", "Negative+Repression"),
                 ("S03", "S03_001", "Positive"), ("S03", "S03_002", "Negative"), ("S03", "S03_003", "Surprise"),
                 ("S03", "S03_004", "Others")]
#: The AUs cell of each FOURDME_CLIPS row and the AUs its one-hot columns (FOURDME_ONE_HOT) mark: (k) marks a
#: static AU (counted absent); AU25 and AU5 have no column; the 11th row's columns disagree with its cell (AU7).
FOURDME_AUS = [("AU4(k)+L7", {4, 7}), ("AU6+AU12", {6, 12}), ("AU1+AU2", {1, 2}), ("AU14", {14}), ("AU45", {45}),
               ("AUR2+12(k)+45", {2, 12, 45}), ("AU6+AU12+AU25", {6, 12}), ("AU4+AU7", {4, 7}),
               ("AU1+AU2+AU5", {1, 2}), ("AU17", {17}), ("AU4+L7", {4}), ("AU12", {12})]
FOURDME_ONE_HOT = (1, 2, 4, 6, 7, 12, 14, 17, 45)
FOURDME_COUNTS = {"4dme": {"negative": 5, "positive": 2, "surprise": 2},
                  "4dme-5class": {"positive": 2, "negative": 3, "surprise": 2, "repression": 1, "others": 2}}


def write_4dme(root: Path, seed: int = 2) -> None:
    rng = np.random.default_rng(seed)
    base = root / "4DME"
    rows = []
    for (subject, name, emotion), (aus, marked) in zip(FOURDME_CLIPS, FOURDME_AUS):
        first = int(rng.integers(100, 900))
        _write_clip(base / "gray_micro" / subject / name, [f"img{first + FRAME_STEP * k:05d}.jpg" for k in range(5)],
                    rng)
        onehot = [int(part in emotion.split("+")) for part in ("Positive", "Negative", "Surprise", "Repression",
                                                                "Others")]
        rows.append([subject, name, emotion, first, first + 2 * FRAME_STEP, first + 4 * FRAME_STEP, aus,
                     *[int(au in marked) for au in FOURDME_ONE_HOT], *onehot])
    _sheet(base / "4DME_Labelling_Micro_release v1.xlsx",
              ["sub_ID", "fold_name", "Emotion", "Onset", "Apex", "Offset", "AUs",
               *[f"AU{au}" for au in FOURDME_ONE_HOT], "Positive", "Negative", "Surprise", "Repression", "Others"],
              rows)


# --- CASME --------------------------------------------------------------------------------------------------

CASME_CLIPS = [(1, "EP01_5", "disgust"), (1, "EP03_2", "repression"), (1, "EP07_1", "tense"), (1, "EP08_3", "surprise"),
               (2, "EP01_2", "happiness"), (2, "EP02_1", "disgust"), (2, "EP05_4", "tense"), (2, "EP09_2", "sadness"),
               (3, "EP02_6", "repression"), (3, "EP04_1", "surprise"), (3, "EP06_2", "contempt"),
               (3, "EP10_3", "fear")]
CASME_COUNTS = {"casme": {"negative": 7, "positive": 1, "surprise": 2},
                "casme-4class": {"disgust": 2, "repression": 2, "surprise": 2, "tense": 2}}
CASME_SLIPS = {"casme/sub02/EP02_1": "onset before the first frame"}
#: The AU cell of each CASME_CLIPS row (made up, in CASME II's spellings).
CASME_AUS = ["4+9", "14", "4", "1+2", "12", "9+L10", "L14", "1+4+15", "R14", "1+2+5", "R12", "1+4"]


def write_casme(root: Path, seed: int = 3) -> None:
    rng = np.random.default_rng(seed)
    base = root / "CASME"
    rows = []
    for (subject, name, emotion), aus in zip(CASME_CLIPS, CASME_AUS):
        first = int(rng.integers(20, 200))
        numbers = [first + FRAME_STEP * k for k in range(5)]
        _write_clip(base / "CASME_raw_selected" / f"sub{subject:02d}" / name, [f"{name}-{n}.jpg" for n in numbers],
                    rng)
        onset = first - 5 if CASME_SLIPS.get(f"casme/sub{subject:02d}/{name}") else first
        rows.append([subject, name, None, onset, numbers[2], numbers[3], numbers[4], None, aus, emotion])
    _sheet(base / "casme.xlsx", ["Subject", "Filename", None, "OnsetF", "ApexF1", "ApexF2", "OffsetF", None, "AU",
                                    "Emotion"], rows)


# --- action units ---------------------------------------------------------------------------------------------

#: What the AU tasks give on these fixtures with their defaults (MEB's 12 AUs, alternatives=drop, ref=present):
#: samples per AU, the samples, and the clips not coded. CAS(ME)³ Part A holds the public sheet's 860 cells, so
#: its counts are MEB's (its Table 4 row for casme3a); the others are counted by hand from the cells above.
AU_COUNTS = {
    "casme3a": {"AU1": 153, "AU2": 128, "AU4": 274, "AU5": 44, "AU6": 8, "AU7": 27, "AU9": 50, "AU10": 10,
                "AU12": 15, "AU14": 193, "AU15": 6, "AU17": 20, "samples": 860, "not coded": 0, "dropped": 0},
    "mmew": {"AU1": 5, "AU2": 4, "AU4": 8, "AU5": 3, "AU6": 1, "AU7": 3, "AU9": 2, "AU10": 4, "AU12": 3, "AU14": 1,
             "AU15": 1, "AU17": 2, "samples": 20, "not coded": 1, "dropped": 0},
    "4dme": {"AU1": 2, "AU2": 3, "AU4": 2, "AU5": 1, "AU6": 2, "AU7": 3, "AU9": 0, "AU10": 0, "AU12": 3, "AU14": 1,
             "AU15": 0, "AU17": 1, "samples": 12, "not coded": 0, "dropped": 0},
    "casme": {"AU1": 4, "AU2": 2, "AU4": 4, "AU5": 1, "AU6": 0, "AU7": 0, "AU9": 2, "AU10": 1, "AU12": 2, "AU14": 3,
              "AU15": 1, "AU17": 0, "samples": 12, "not coded": 0, "dropped": 0},
}


# --- SMIC VIS / NIR and SMIC-E ------------------------------------------------------------------------------

SMIC_CAMERA_CLIPS = [(s, tag, n) for s in (11, 12, 13) for tag, n in (("ne", 1), ("po", 1), ("sur", 1))]
SMIC_CAMERA_CLIPS += [(11, "ne", 2), (12, "ne", 2)]
SMIC_CAMERA_COUNTS = {"negative": 5, "positive": 3, "surprise": 3}
TAG_LABEL = {"ne": "negative", "po": "positive", "sur": "surprise"}
#: SMIC-E rows per camera (subject, clip, spans, Emotion): a clip with a second span, one labelled against
#: its name (as s18_sur_03 is in the public sheets) and, in HS, one whose video was lost (no long clip).
_SMIC_E_COMMON = [(18, "s18_sur_03", 2, "negative"), (18, "s18_po_02", 1, "positive"),
                  (20, "s20_sur_01", 1, "surprise")]
SMIC_E_ROWS = {"HS": [(3, "s3_ne_01", 1, "negative"), (3, "s3_po_01", 1, "positive"), (3, "s3_ne_03", 1, "negative")]
               + _SMIC_E_COMMON,
               "VIS": [(11, "s11_ne_01", 1, "negative"), (11, "s11_po_01", 1, "positive")] + _SMIC_E_COMMON,
               "NIR": [(11, "s11_ne_01", 1, "negative"), (11, "s11_po_01", 1, "positive")] + _SMIC_E_COMMON}
SMIC_E_LOST = "s3_ne_03"
SMIC_E_COUNTS = {"negative": 3, "positive": 2, "surprise": 1}  # per camera: 6 samples from 5 clips, 3 subjects


def write_smic(root: Path, seed: int = 4) -> None:
    """``root/SMIC`` with ``VIS/`` and ``NIR/`` (the HS layout), the SMIC-E long clips of the three cameras
    and their annotation: HS and VIS as two sheets of one file, NIR in its own file."""
    rng = np.random.default_rng(seed)
    base = root / "SMIC"
    for camera in ("VIS", "NIR"):
        for subject, tag, number in SMIC_CAMERA_CLIPS:
            folder = base / camera / f"s{subject}" / "micro" / TAG_LABEL[tag] / f"s{subject}_{tag}_{number:02d}"
            _write_clip(folder, [f"image{100 + FRAME_STEP * k:06d}.bmp" for k in range(5)], rng)
    sheets = {}
    for camera, start in (("HS", 17_581_000), ("VIS", 7_700), ("NIR", 7_700)):
        rows = []
        for subject, name, spans, emotion in SMIC_E_ROWS[camera]:
            first = start + int(rng.integers(0, 500)) * 10
            folder = base / f"{camera}_long" / f"SMIC_{camera}_E" / f"s{subject:02d}" / name
            cells = [first + 10, first + 22, None, None]
            if spans == 2:
                cells[2:] = [first + 40, first + 52]
            if name != SMIC_E_LOST:
                numbers = sorted({first, *(c + d for c in cells if c for d in (0, 6)), first + 60})
                for start_index in range(0, len(numbers), 5):
                    _write_clip(folder, [f"image{n:06d}.jpg" for n in numbers[start_index:start_index + 5]], rng)
            rows.append([subject, name, None, *cells, None, first, first + 60, 12, None, 61, emotion])
        sheets[camera] = rows
    header = ["Subject", "Filename", None, "OnsetF", "OffsetF", "Onset2F", "Offset2F", None, "FirstF", "LastF",
              "TotalMF1", "TotalMF2", "TotalVL", "Emotion"]
    annotation = base / "SMIC-E"
    annotation.mkdir(parents=True, exist_ok=True)
    workbook = openpyxl.Workbook()
    for index, camera in enumerate(("HS", "VIS")):
        sheet = workbook.active if index == 0 else workbook.create_sheet()
        sheet.title = camera
        sheet.append(header)
        for row in sheets[camera]:
            sheet.append(row)
    workbook.create_sheet("Sheet2")
    workbook.save(annotation / "SMIC-HS-E_annotation.xlsx")
    _sheet(annotation / "SMIC-NIR-E_annotation.xlsx", header, sheets["NIR"])


def write_database_fixture(root: Path) -> Path:
    """A data root with CASME3/, MMEW/, 4DME/, CASME/ and SMIC/ as distributed; returns ``root``."""
    write_casme3(root)
    write_mmew(root)
    write_4dme(root)
    write_casme(root)
    write_smic(root)
    return root


def edit_cell(path: Path, match: dict, column: str, value, sheet: str | None = None) -> int:
    """Write ``value`` into ``column`` of the row whose cells equal ``match`` (column → value) in the first
    worksheet (or ``sheet``) of ``path``, header in row 1; returns the spreadsheet row number."""
    workbook = openpyxl.load_workbook(path)
    table = workbook[sheet] if sheet else workbook.worksheets[0]
    header = [c.value for c in table[1]]
    for row in table.iter_rows(min_row=2):
        if all(str(row[header.index(k)].value) == str(v) for k, v in match.items()):
            row[header.index(column)].value = value
            workbook.save(path)
            return row[0].row
    raise AssertionError(f"no row {match} in {path}")


# --- second layouts and spellings ---------------------------------------------------------------------------

#: CASME in its other forms (tests/plugins/datasets/test_promises_databases.py): (subject, Filename, emotion), with an
#: 'amusement' row (the CASME paper's positive category) and ApexF1 ≠ ApexF2 on every row.
CASME_VARIANT_CLIPS = [(1, "EP01_5", "amusement"), (1, "EP03_2", "disgust"), (2, "EP02_1", "surprise"),
                       (2, "EP05_4", "happiness")]


def write_casme_variant(root: Path, folders: tuple[str, ...] = ("Cropped", "CASME_raw_selected"), padded: bool = False,
                        seed: int = 5) -> dict[str, tuple[int, int, int, int]]:
    """``root/CASME`` in the forms the reader accepts beside the session fixture's: every frame folder of
    ``folders`` (``Cropped/`` frames named ``reg_<Filename>-<n>.jpg``, ``CASME_raw_selected/`` ones
    ``<Filename>-<n>.jpg``), subject folders ``sub1`` (``padded``: ``sub01``), and a sheet whose ApexF1 and
    ApexF2 differ. Returns sample id → (OnsetF, ApexF1, ApexF2, OffsetF) as the sheet holds them."""
    rng = np.random.default_rng(seed)
    base, rows, cells = root / "CASME", [], {}
    for subject, name, emotion in CASME_VARIANT_CLIPS:
        first = int(rng.integers(20, 200))
        numbers = [first + FRAME_STEP * k for k in range(5)]
        for folder in folders:
            prefix = "reg_" if folder == "Cropped" else ""
            _write_clip(base / folder / (f"sub{subject:02d}" if padded else f"sub{subject}") / name,
                        [f"{prefix}{name}-{n}.jpg" for n in numbers], rng)
        rows.append([subject, name, None, numbers[0], numbers[1], numbers[3], numbers[4], None, "4", emotion])
        cells[f"casme/sub{subject:02d}/{name}"] = (numbers[0], numbers[1], numbers[3], numbers[4])
    _sheet(base / "casme.xlsx", ["Subject", "Filename", None, "OnsetF", "ApexF1", "ApexF2", "OffsetF", None, "AU",
                                 "Emotion"], rows)
    return cells


#: A small CAS(ME)³ Part A (two subjects, four rows: tests/plugins/datasets/test_promises_databases.py).
CASME3_SMALL_ROWS = [("spNO.1", "a", 20, 26, 32, "happy"), ("spNO.1", "b", 40, 46, 52, "disgust"),
                     ("spNO.2", "a", 60, 66, 72, "surprise"), ("spNO.2", "c", 80, 86, 92, "fear")]


def write_casme3_small(root: Path, folders: tuple[str, ...] = ("part_A",), seed: int = 6) -> None:
    """``root/CASME3`` with the rows ``CASME3_SMALL_ROWS`` in the sheet ``label`` and each recording's frames
    (``<Subject>/<Filename>/color/<n>.jpg``, the span and a frame either side) below every folder of
    ``folders`` (several: the copy holds more than one folder of spNO.<n> folders)."""
    rng = np.random.default_rng(seed)
    base = root / "CASME3"
    for folder in folders:
        for subject, filename, onset, _, offset, _ in CASME3_SMALL_ROWS:
            numbers = list(range(onset - FRAME_STEP, offset + FRAME_STEP + 1, FRAME_STEP))
            for start in range(0, len(numbers), 5):  # _write_clip writes at most five frames a call
                _write_clip(base / folder / subject / filename / "color",
                            [f"{n}.jpg" for n in numbers[start:start + 5]], rng)
    rows = [[s, f, str(o), str(a), str(e), "4+14", "VII", emotion]
                        for s, f, o, a, e, emotion in CASME3_SMALL_ROWS]
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    sheet.title = "label"
    sheet.append(["Subject", "Filename", "Onset", "Apex", "Offset", "AU", "Objective class", "emotion"])
    for row in rows:
        sheet.append(row)
    (base / "annotation" / "partA").mkdir(parents=True, exist_ok=True)
    workbook.save(base / "annotation" / "partA" / CASME3_SHEET)


def recase_header(path: Path, spell) -> list[str]:
    """Rewrite the header row (row 1) of every worksheet of ``path`` with ``spell(cell)`` (``str.upper``, …),
    as copies spell their column titles; returns the first worksheet's new header."""
    workbook = openpyxl.load_workbook(path)
    for table in workbook.worksheets:
        for cell in table[1]:
            if isinstance(cell.value, str):
                cell.value = spell(cell.value)
    workbook.save(path)
    return [c.value for c in workbook.worksheets[0][1]]
