"""Write small copies of CASME II, SAMM and SMIC-HS in exactly their distributed layouts, with the
samples of the official MEGC2019 list, clips of the emotions outside the 3-class task (the 5-class
tasks use some of them), the kinds of annotation slips the distributed spreadsheets have, and action-unit
cells drawn from the public sheets' own spellings (``tests/kit/au_spellings.py``; ``MEGC_AU_CELLS``)."""

from __future__ import annotations

import itertools
from pathlib import Path

import cv2
import numpy as np
import openpyxl

from mebench_plugins.datasets.megc2019 import read_official
from tests.kit import au_spellings

CASME2_EMOTIONS = {"negative": ["disgust", "repression"], "positive": ["happiness"], "surprise": ["surprise"]}
SAMM_EMOTIONS = {"negative": ["Anger", "Contempt", "Disgust", "Fear", "Sadness"], "positive": ["Happiness"],
                 "surprise": ["Surprise"]}
SIZE = 24
FRAMES = 5  # onset, rising, apex, falling, offset; numbered onset + 3k (gaps: numbers need not be contiguous)
FRAME_STEP = 3

#: Clips outside the official list: (subject, clip, emotion). CASME II fear/sadness and SAMM
#: Disgust/Fear/Sadness are excluded from the 5-class tasks; others/Other/Others are included.
CASME2_EXTRA = [(1, "EP99_01", "others"), (2, "EP99_02", "others"), (2, "EP99_04", "others"),
                (3, "EP99_05", "others"), (2, "EP99_03", "fear"), (3, "EP99_06", "sadness")]
SAMM_EXTRA = [("006", "006_9_9", "Other"), ("007", "007_9_9", "Other"), ("009", "009_9_9", "Others")]

#: Annotation slips written into the spreadsheets (sample id → slip), all correctable; each
#: becomes one correction note. The spreadsheet cell holds the slip; the frames on disk are intact.
SLIPS = {
    "casme2/sub03/EP01_2": "offset past the last frame",
    "casme2/sub04/EP12_02f": "onset before the first frame",
    "casme2/sub05/EP02_07": "apex missing",
    "samm/007/007_3_1": "offset past the last frame",
    "samm/009/009_2_1": "apex missing",
    "samm/010/010_2_1": "apex outside onset..offset",
}

#: Counts the 5-class tasks give on this fixture: 3-class negatives cycle through the emotions above.
FIVE_CLASS_COUNTS = {
    "casme2-5class": {"happiness": 32, "surprise": 25, "disgust": 44, "repression": 44, "others": 4},
    "samm-5class": {"anger": 19, "contempt": 19, "happiness": 26, "surprise": 15, "other": 3},
}
#: Subjects with at least one 5-class clip (one SAMM subject has only excluded emotions here).
FIVE_CLASS_SUBJECTS = {"casme2-5class": 24, "samm-5class": 27}


#: AU cells every fixture sheet holds (the rest are drawn from the public sheet's cells, each as often as the
#: sheet holds it): CASME II's '?' (not coded) and prefixed codes; every SAMM spelling read by a further rule.
CASME2_AU_FIRST = ["?", "?", "4+L10", "R6+R12", "L1+L2", "R4+R10", "4+R12", "L2+26+38"]
SAMM_AU_FIRST = ["(R6 or R12)+R15", "(R6 or R12) + R15", "L12 or L14", "R12 or R14", "R14A or 17A or 24A",
                 "12A+ref(24)", "4D+ref(6)+7C+43E", "7B+ ref(43)", "7D+ref(43)", "A9E+ref(10)", "ref(5)+20C+25+26",
                 "ref(7B)+43", "ref(7B)+43C", "ref(L10)+A12B", "10A/B", "4A/B", "A/L12", "R14+17+soft focus",
                 "A1B+A2C", "7C+A12B", "T18+39", "B18+25", "L12 + 61", "12+15 ", "L14C"]


def au_cells(table: list, count: int, first: list, seed: int) -> list:
    """``count`` AU cells of a public sheet (``au_spellings`` table): ``first``, then the sheet's other cells
    (each as often as the sheet holds it) in a seeded order."""
    pool = [cell for cell, rows, _ in table for _ in range(rows)]
    for cell in first:
        pool.remove(cell)
    order = np.random.default_rng(seed).permutation(len(pool))
    return (list(first) + [pool[i] for i in order])[:count]


def _megc_clips() -> list[tuple[str, str, str, str]]:
    """(dataset, subject, clip, label or emotion) of every clip the fixture writes, in writing order."""
    clips = [(dataset, subject.split("/")[1], clip, label) for dataset, subject, clip, label in read_official()]
    clips += [("casme2", f"sub{number:02d}", clip, emotion) for number, clip, emotion in CASME2_EXTRA]
    clips += [("samm", subject, clip, emotion) for subject, clip, emotion in SAMM_EXTRA]
    return clips


def megc_au_cells() -> dict[str, dict[str, object]]:
    """Sample id → the AU cell the fixture writes, per dataset (CASME II and SAMM)."""
    clips = _megc_clips()
    cells = {}
    for dataset, table, first, seed in (("casme2", au_spellings.CASME2, CASME2_AU_FIRST, 21),
                                        ("samm", au_spellings.SAMM, SAMM_AU_FIRST, 22)):
        ids = [f"{d}/{subject}/{clip}" for d, subject, clip, _ in clips if d == dataset]
        cells[dataset] = dict(zip(ids, au_cells(table, len(ids), first, seed)))
    return cells


#: Sample id → AU cell, per dataset.
MEGC_AU_CELLS = megc_au_cells()
#: What the AU tasks give on these cells with their defaults (MEB's 12 AUs, alternatives=drop, ref=present):
#: samples per AU, the samples, and the clips not coded ('?') or dropped (alternatives between AUs).
MEGC_AU_COUNTS = {
    "casme2": {"AU1": 16, "AU2": 13, "AU4": 82, "AU5": 2, "AU6": 6, "AU7": 20, "AU9": 9, "AU10": 13, "AU12": 17,
               "AU14": 13, "AU15": 10, "AU17": 11, "samples": 148, "not coded": 3, "dropped": 0},
    "samm": {"AU1": 6, "AU2": 15, "AU4": 21, "AU5": 8, "AU6": 2, "AU7": 38, "AU9": 4, "AU10": 5, "AU12": 22, "AU14": 9,
             "AU15": 2, "AU17": 6, "samples": 131, "not coded": 0, "dropped": 5},
}


def _frames(rng: np.random.Generator) -> list[np.ndarray]:
    texture = cv2.GaussianBlur(rng.uniform(0, 255, (SIZE, SIZE)).astype(np.float32), (0, 0), 1.5)
    texture = cv2.normalize(texture, None, 30, 220, cv2.NORM_MINMAX)
    frames = []
    for t in (0.0, 0.5, 1.0, 0.5, 0.0):
        shift = np.float32([[1, 0, 0.8 * t], [0, 1, -0.6 * t]])
        frames.append(cv2.warpAffine(texture, shift, (SIZE, SIZE), borderMode=cv2.BORDER_REFLECT).astype(np.uint8))
    return frames


def _write_clip(folder: Path, names: list[str], rng: np.random.Generator) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for name, frame in zip(names, _frames(rng)):
        assert cv2.imwrite(str(folder / name), frame)


def _sheet(path: Path, header: list[str], rows: list[list], title: list[list] | None = None) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    for line in title or []:
        sheet.append(line)
    sheet.append(header)
    for row in rows:
        sheet.append(row)
    workbook.save(path)


def _annotation(sample_id: str, numbers: list[int]) -> tuple[int, int | str, int]:
    """(onset, apex, offset) cells for a clip with frames ``numbers``, with the clip's slip if any."""
    onset, apex, offset = numbers[0], numbers[2], numbers[-1]
    slip = SLIPS.get(sample_id)
    if slip == "offset past the last frame":
        offset += 4
    elif slip == "onset before the first frame":
        onset -= 5
    elif slip == "apex missing":
        apex = "/" if sample_id.startswith("casme2/") else -1
    elif slip == "apex outside onset..offset":
        apex = offset + 50
    return onset, apex, offset


def write_megc_fixture(root: Path, seed: int = 0) -> Path:
    """A data root with CASME2/, SAMM/ and SMIC/ as distributed; returns ``root``."""
    rng = np.random.default_rng(seed)
    casme_emotions = {label: itertools.cycle(names) for label, names in CASME2_EMOTIONS.items()}
    samm_emotions = {label: itertools.cycle(names) for label, names in SAMM_EMOTIONS.items()}
    clips = _megc_clips()
    casme_rows, samm_rows = [], []
    for dataset, local, clip, label in clips:
        first = int(rng.integers(20, 200))
        numbers = [first + FRAME_STEP * k for k in range(FRAMES)]
        onset, apex, offset = _annotation(f"{dataset}/{local}/{clip}", numbers)
        au = MEGC_AU_CELLS.get(dataset, {}).get(f"{dataset}/{local}/{clip}")
        if dataset == "casme2":
            _write_clip(root / "CASME2" / "CASME2_RAW_selected" / local / clip, [f"img{n}.jpg" for n in numbers], rng)
            emotion = next(casme_emotions[label]) if label in casme_emotions else label
            casme_rows.append([int(local[3:]), clip, onset, apex, offset, au, emotion])
        elif dataset == "samm":
            _write_clip(root / "SAMM" / "SAMM" / local / clip, [f"{local}_{n:05d}.jpg" for n in numbers], rng)
            emotion = next(samm_emotions[label]) if label in samm_emotions else label
            samm_rows.append([local, clip, 0, onset, apex, offset, 12, au, "", emotion])
        else:
            subject_number = int(local[1:])
            code, number = clip.split("_")[1:]
            folder = root / "SMIC" / "HS" / f"s{subject_number}" / "micro" / label / f"s{subject_number}_{code}_{number}"
            _write_clip(folder, [f"image{n:06d}.bmp" for n in numbers], rng)
    _sheet(root / "CASME2" / "CASME2-coding-20140508.xlsx",
           ["Subject", "Filename", "OnsetFrame", "ApexFrame", "OffsetFrame", "Action Units", "Estimated Emotion"],
           casme_rows)
    _sheet(root / "SAMM" / "SAMM_Micro_FACS_Codes_v2.xlsx",
           ["Subject", "Filename", "Inducement Code", "Onset Frame", "Apex Frame", "Offset Frame", "Duration",
            "Action Units", "Notes", "Estimated Emotion"],
           samm_rows, title=[["SAMM Micro-FACS Codes"], ["Version 2"], [None]])
    return root


def edit_sheet(path: Path, clip: str, column: str, value) -> int:
    """Write ``value`` into ``column`` of ``clip``'s row of a coding spreadsheet (header found by its
    ``Subject`` cell, title rows above it allowed); returns the spreadsheet row number."""
    workbook = openpyxl.load_workbook(path)
    sheet = workbook.active
    header = next(r for r in sheet.iter_rows(values_only=True) if r and r[0] == "Subject")
    for row in sheet.iter_rows(min_row=1):
        if row[header.index("Filename")].value == clip:
            row[header.index(column)].value = value
            workbook.save(path)
            return row[0].row
    raise AssertionError(f"no row for {clip} in {path}")
