"""What the MER dataset readers share: frame folders, coding spreadsheets, the emotion → class
mapping (the one place it lives), errata and input fingerprints."""

from __future__ import annotations

import csv
import hashlib
import re
from dataclasses import dataclass, replace
from importlib import resources
from pathlib import Path
from typing import Any, Iterable

import cv2
import numpy as np

from mebench.data import DataError, FrameSource

FRAME_NUMBER = re.compile(r"(\d+)(?!.*\d)")  # the last run of digits in a file name
IMAGE_SUFFIXES = {".jpg", ".jpeg", ".bmp", ".png"}

#: Each dataset's emotion vocabulary and its 3-class mapping; None = known but excluded.
EMOTIONS: dict[str, dict[str, str | None]] = {
    "casme2": {"happiness": "positive", "disgust": "negative", "repression": "negative", "surprise": "surprise",
               "others": None, "fear": None, "sadness": None},
    "samm": {"anger": "negative", "contempt": "negative", "disgust": "negative", "fear": "negative",
             "sadness": "negative", "happiness": "positive", "surprise": "surprise", "other": None, "others": None},
    "smic": {"negative": "negative", "positive": "positive", "surprise": "surprise"},
}


def three_class(dataset: str, emotion: str, file: object, row: object = None) -> str | None:
    """The 3-class label of an original emotion; None for known-but-excluded emotions.
    An emotion outside the dataset's vocabulary (a typo) is an error."""
    vocabulary = EMOTIONS[dataset]
    key = str(emotion).strip().lower()
    if key not in vocabulary:
        raise DataError(file, f"unknown emotion label {emotion!r}",
                        f"expected one of {', '.join(sorted(vocabulary))}; correct the cell or add an erratum",
                        row)
    return vocabulary[key]


@dataclass(frozen=True)
class FrameFiles(FrameSource):
    """Frames of one clip on disk, indexed by the number in each file name."""

    folder: Path
    files: tuple[tuple[int, str], ...]

    def indices(self) -> list[int]:
        return [index for index, _ in self.files]

    def path(self, index: int) -> Path:
        for number, name in self.files:
            if number == index:
                return self.folder / name
        raise DataError(self.folder, f"no frame numbered {index}", "check the annotation against the file names")

    def load(self, index: int) -> np.ndarray:
        path = self.path(index)
        image = cv2.imread(str(path), cv2.IMREAD_GRAYSCALE)
        if image is None:
            raise DataError(path, "unreadable image", "the file is corrupt or not an image; restore it from your copy")
        return image

    def fingerprint(self) -> str:
        digest = hashlib.sha256()
        for _, name in self.files:
            stat = (self.folder / name).stat()
            digest.update(f"{self.folder / name}:{stat.st_size}:{stat.st_mtime_ns};".encode())
        return digest.hexdigest()


def index_frames(folder: Path, file: object = None, row: object = None) -> FrameFiles:
    """All images in ``folder``, numbered by the last digits of their names (gaps allowed)."""
    if not folder.is_dir():
        raise DataError(folder, "missing clip folder", "the annotation lists this clip; restore the folder from "
                                                       "your copy or check --data-root", row)
    numbered: dict[int, str] = {}
    for path in folder.iterdir():
        if path.suffix.lower() not in IMAGE_SUFFIXES:
            continue
        match = FRAME_NUMBER.search(path.stem)
        if not match:
            raise DataError(path, "frame file name has no frame number", "frames must be named like img46.jpg")
        number = int(match.group(1))
        if number in numbered:
            raise DataError(folder, f"two frames numbered {number}: {numbered[number]} and {path.name}",
                            "remove the duplicate")
        numbered[number] = path.name
    if not numbered:
        raise DataError(folder, "clip folder holds no images", "restore the frames from your copy", row)
    return FrameFiles(folder, tuple(sorted(numbered.items())))


def check_frames(frames: FrameFiles, onset: int, apex: int | None, offset: int, file: object, row: object) -> None:
    """Onset, apex and offset frames exist and apex lies within onset..offset."""
    if not onset <= offset:
        raise DataError(file, f"onset {onset} is after offset {offset}", "correct the annotation or add an erratum", row)
    if apex is not None and not onset <= apex <= offset:
        raise DataError(file, f"apex {apex} is outside onset..offset ({onset}..{offset})",
                        "correct the annotation or add an erratum (an empty apex uses the apex rule)", row)
    available = set(frames.indices())
    for name, index in (("onset", onset), ("apex", apex), ("offset", offset)):
        if index is not None and index not in available:
            raise DataError(frames.folder, f"missing {name} frame {index} (frames present: "
                                           f"{min(available)}..{max(available)})",
                            f"restore the frame from your copy or correct the annotation in {file}", row)


def read_sheet(path: Path, required: Iterable[str]) -> list[tuple[int, dict[str, Any]]]:
    """Rows of the first worksheet below the header row (the row whose first cell is ``Subject``;
    title blocks above it are skipped), as (spreadsheet row number, column → value)."""
    import openpyxl

    try:
        workbook = openpyxl.load_workbook(path, read_only=True, data_only=True)
    except Exception as error:
        raise DataError(path, f"cannot read the spreadsheet ({type(error).__name__}: {error})",
                        "is it the .xlsx file distributed with the dataset?") from None
    sheet = workbook.worksheets[0]
    rows = sheet.iter_rows(values_only=True)
    header: list[str] | None = None
    header_row = 0
    for number, values in enumerate(rows, start=1):
        if values and str(values[0] or "").strip() == "Subject":
            header, header_row = [str(v or "").strip() for v in values], number
            break
    required = list(required)
    if header is None:
        workbook.close()
        raise DataError(path, "no header row (a row whose first cell is 'Subject')",
                        f"expected a header with columns {', '.join(required)}")
    missing = [c for c in required if c not in header]
    if missing:
        workbook.close()
        raise DataError(path, f"header row lacks column(s) {', '.join(missing)}",
                        f"expected columns {', '.join(required)}; found {', '.join(h for h in header if h)}",
                        header_row)
    records = []
    for number, values in enumerate(rows, start=header_row + 1):
        if not values or all(v is None or str(v).strip() == "" for v in values):
            continue
        records.append((number, {name: values[i] if i < len(values) else None
                                 for i, name in enumerate(header) if name}))
    workbook.close()
    return records


def frame_number(value: Any, field: str, file: object, row: object, missing_ok: bool = False) -> int | None:
    """A frame-number cell; '/', '-1' or empty mean unknown where ``missing_ok``."""
    text = str(value).strip() if value is not None else ""
    if missing_ok and text in ("", "/", "-1", "-", "None"):
        return None
    try:
        number = float(text)
        if number != int(number):
            raise ValueError
        return int(number)
    except ValueError:
        raise DataError(file, f"{field} {text!r} is not a frame number", "correct the cell or add an erratum",
                        row) from None


@dataclass(frozen=True)
class Clip:
    """One annotated clip as a dataset's own files describe it."""

    dataset: str
    subject: str  # namespaced: casme2/sub01
    name: str  # clip name as in the official list: EP02_01f, 006_1_2, s01_ne_01
    emotion: str
    label: str | None  # 3-class label; None = excluded emotion
    onset: int | None
    apex: int | None
    offset: int | None
    folder: Path
    source: str  # file the annotation came from
    row: int | str | None

    @property
    def id(self) -> str:
        return f"{self.subject}/{self.name}"


def load_errata(path: Path | None = None) -> dict[tuple[str, str, str], dict[str, str]]:
    """(dataset, subject, clip) → {field: value} from the versioned errata file."""
    if path is None:
        text = resources.files("mebench_plugins").joinpath("data/errata.csv").read_text()
        where = "mebench_plugins/data/errata.csv"
    else:
        if not Path(path).exists():
            raise DataError(path, "errata file not found", "pass an existing file with --dataset-opt errata=PATH")
        text, where = Path(path).read_text(), str(path)
    lines = [line for line in text.splitlines() if line.strip() and not line.startswith("#")]
    errata: dict[tuple[str, str, str], dict[str, str]] = {}
    for number, record in enumerate(csv.DictReader(lines), start=2):
        field = (record.get("field") or "").strip()
        if field not in ("onset", "apex", "offset", "emotion"):
            raise DataError(where, f"unknown erratum field {field!r}", "use onset, apex, offset or emotion", number)
        key = (record["dataset"].strip(), record["subject"].strip(), record["clip"].strip())
        errata.setdefault(key, {})[field] = (record.get("value") or "").strip()
    return errata


def apply_errata(clip: Clip, errata: dict[tuple[str, str, str], dict[str, str]]) -> Clip:
    fixes = errata.get((clip.dataset, clip.subject.split("/", 1)[1], clip.name))
    if not fixes:
        return clip
    changes: dict[str, Any] = {}
    for field, value in fixes.items():
        if field == "emotion":
            changes["emotion"] = value
            changes["label"] = three_class(clip.dataset, value, "errata", clip.id)
        else:
            changes[field] = int(value) if value else None
    return replace(clip, **changes)


def clip_from_sheet(dataset: str, subject: str, record: dict[str, Any], columns: tuple[str, ...], frames_root: Path,
                    sheet: Path, row: int) -> Clip:
    """A clip from one coding-spreadsheet row; ``columns`` names the (filename, onset, apex, offset,
    emotion) columns of that dataset's spreadsheet."""
    filename, onset, apex, offset, emotion_column = columns
    name = str(record[filename]).strip()
    emotion = str(record[emotion_column] or "").strip()
    return Clip(
        dataset=dataset, subject=f"{dataset}/{subject}", name=name, emotion=emotion,
        label=three_class(dataset, emotion, sheet, row),
        onset=frame_number(record[onset], onset, sheet, row),
        apex=frame_number(record[apex], apex, sheet, row, missing_ok=True),
        offset=frame_number(record[offset], offset, sheet, row),
        folder=frames_root / subject / name, source=str(sheet), row=row,
    )
