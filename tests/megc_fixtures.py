"""Write small copies of CASME II, SAMM and SMIC-HS in exactly their distributed layouts, with the
samples of the official MEGC2019 list (plus clips of excluded emotions), for the real readers."""

from __future__ import annotations

import itertools
from pathlib import Path

import cv2
import numpy as np
import openpyxl

from mebench_plugins.datasets.megc2019 import read_official

CASME2_EMOTIONS = {"negative": itertools.cycle(["disgust", "repression"]), "positive": itertools.repeat("happiness"),
                   "surprise": itertools.repeat("surprise")}
SAMM_EMOTIONS = {"negative": itertools.cycle(["Anger", "Contempt", "Disgust", "Fear", "Sadness"]),
                 "positive": itertools.repeat("Happiness"), "surprise": itertools.repeat("Surprise")}
SIZE = 24
FRAMES = 5  # onset, two rising, apex…, offset


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
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    for line in title or []:
        sheet.append(line)
    sheet.append(header)
    for row in rows:
        sheet.append(row)
    workbook.save(path)


def write_megc_fixture(root: Path, seed: int = 0) -> Path:
    """A data root with CASME2/, SAMM/ and SMIC/ as distributed; returns ``root``."""
    rng = np.random.default_rng(seed)
    official = read_official()
    casme_rows, samm_rows = [], []
    for dataset, subject, clip, label in official:
        local = subject.split("/")[1]
        onset = int(rng.integers(20, 200))
        numbers = [onset + 3 * k for k in range(FRAMES)]  # gaps: frame numbers are not contiguous
        if dataset == "casme2":
            _write_clip(root / "CASME2" / "CASME2_RAW_selected" / local / clip,
                        [f"img{n}.jpg" for n in numbers], rng)
            casme_rows.append([int(local[3:]), clip, numbers[0], numbers[2], numbers[-1], "AU12",
                               next(CASME2_EMOTIONS[label])])
        elif dataset == "samm":
            _write_clip(root / "SAMM" / "SAMM" / local / clip, [f"{local}_{n:05d}.jpg" for n in numbers], rng)
            samm_rows.append([local, clip, 0, numbers[0], numbers[2], numbers[-1], 12, "AU4",
                              "", next(SAMM_EMOTIONS[label])])
        else:
            subject_number = int(local[1:])
            code, number = clip.split("_")[1:]
            folder = root / "SMIC" / "HS" / f"s{subject_number}" / "micro" / label / f"s{subject_number}_{code}_{number}"
            _write_clip(folder, [f"image{n:06d}.bmp" for n in numbers], rng)
    # clips of emotions outside the 3-class task: known, excluded, never an error
    casme_rows += [[1, "EP99_01", 10, 12, 20, "AU1", "others"], [2, "EP99_02", 10, 12, 20, "AU1", "fear"],
                   [3, "EP99_03", 10, "/", 20, "AU1", "sadness"]]
    samm_rows += [["006", "006_9_9", 0, 100, 105, 110, 10, "AU2", "", "Other"]]
    _sheet(root / "CASME2" / "CASME2-coding-20140508.xlsx",
           ["Subject", "Filename", "OnsetFrame", "ApexFrame", "OffsetFrame", "Action Units", "Estimated Emotion"],
           casme_rows)
    _sheet(root / "SAMM" / "SAMM_Micro_FACS_Codes_v2.xlsx",
           ["Subject", "Filename", "Inducement Code", "Onset Frame", "Apex Frame", "Offset Frame", "Duration",
            "Action Units", "Notes", "Estimated Emotion"],
           samm_rows, title=[["SAMM Micro-FACS Codes"], ["Version 2"], [None]])
    return root
