"""What the MER dataset readers share: frame folders, coding spreadsheets, the emotion → class
mappings of every task (the one place they live), errata, the corrections of known annotation
slips and input fingerprints."""

from __future__ import annotations

import csv
import hashlib
import re
from dataclasses import dataclass, replace
from importlib import resources
from pathlib import Path
from typing import Any, Iterable, Mapping

import cv2
import numpy as np

from mebench.data import FrameSource
from mebench.errors import DataError

FRAME_NUMBER = re.compile(r"(\d+)(?!.*\d)")  # the last run of digits in a file name
IMAGE_SUFFIXES = {".jpg", ".jpeg", ".bmp", ".png"}

#: Each dataset's emotion vocabulary and its MEGC2019 3-class mapping; None = known but excluded.
EMOTIONS: dict[str, dict[str, str | None]] = {
    "casme2": {"happiness": "positive", "disgust": "negative", "repression": "negative", "surprise": "surprise",
               "others": None, "fear": None, "sadness": None},
    "samm": {"anger": "negative", "contempt": "negative", "disgust": "negative", "fear": "negative",
             "sadness": "negative", "happiness": "positive", "surprise": "surprise", "other": None, "others": None},
    "smic": {"negative": "negative", "positive": "positive", "surprise": "surprise"},
}


@dataclass(frozen=True)
class EmotionTask:
    """A single-dataset task built from the dataset's own emotion labels: its classes in label-index
    order and the emotion → class mapping (None = known but excluded; same vocabulary as ``EMOTIONS``)."""

    dataset: str
    classes: tuple[str, ...]
    mapping: Mapping[str, str | None]


#: The 5-class tasks of the literature. CASME II: its five estimated emotions, fear (2 clips) and
#: sadness (7) excluded as too rare. SAMM: the estimated-emotion setting — the five emotions with
#: more than ten clips; disgust, fear and sadness excluded; "Others" is a spelling of "Other".
FIVE_CLASS_TASKS: dict[str, EmotionTask] = {
    "casme2-5class": EmotionTask("casme2", ("happiness", "surprise", "disgust", "repression", "others"), {
        "happiness": "happiness", "surprise": "surprise", "disgust": "disgust", "repression": "repression",
        "others": "others", "fear": None, "sadness": None}),
    "samm-5class": EmotionTask("samm", ("anger", "contempt", "happiness", "surprise", "other"), {
        "anger": "anger", "contempt": "contempt", "happiness": "happiness", "surprise": "surprise",
        "other": "other", "others": "other", "disgust": None, "fear": None, "sadness": None}),
}


def emotion_class(mapping: Mapping[str, str | None], emotion: str, file: object, row: object = None) -> str | None:
    """The class of an original emotion under ``mapping``; None for known-but-excluded emotions.
    An emotion outside the mapping's vocabulary (a typo) is an error naming file and row."""
    key = str(emotion).strip().lower()
    if key not in mapping:
        raise DataError(file, f"unknown emotion label {emotion!r}",
                        f"expected one of {', '.join(sorted(mapping))}; correct the cell or add an erratum", row)
    return mapping[key]


def three_class(dataset: str, emotion: str, file: object, row: object = None) -> str | None:
    """The MEGC2019 3-class label of one of ``dataset``'s emotions (see ``emotion_class``)."""
    return emotion_class(EMOTIONS[dataset], emotion, file, row)


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


@dataclass(frozen=True)
class ResolvedFrames:
    """A clip's onset, apex and offset as used, plus one note per annotation slip corrected."""

    onset: int
    apex: int | None
    offset: int
    corrections: tuple[str, ...]


STRICT_FIX = "correct the annotation or add an erratum (strict=true refuses known annotation slips)"


def resolve_frames(clip: "Clip", frames: FrameFiles, strict: bool = False) -> ResolvedFrames:
    """The frames a clip's annotation points at, with known annotation slips corrected.

    The distributed spreadsheets have slips that cannot be fixed in a user's copy, so they do not
    block a run: an offset past the clip's last frame is clamped to the last frame, an onset before
    its first frame to the first frame (clips are cut to start at the onset), and a missing or
    out-of-range apex falls back to the preprocessing chain's apex rule. Each correction is a one-line
    note naming file, row, sample and the value used. ``strict`` refuses every slip instead (a
    ``DataError``). Blocking problems stay errors: an onset after the offset, an onset or offset
    frame inside the clip whose file is missing, and an apex from an erratum that is not such a frame
    (an apex an erratum set or cleared gets no second note).
    """
    present = frames.indices()
    first, last = present[0], present[-1]
    where = f"{clip.source}, row {clip.row}" if clip.row is not None else str(clip.source)
    notes: list[str] = []

    def correct(problem: str, used: str) -> None:
        if strict:
            raise DataError(clip.source, f"{clip.id}: {problem}", STRICT_FIX, clip.row)
        notes.append(f"{where}: {clip.id}: {problem}; used {used}")

    onset = clip.onset if clip.onset is not None else first  # SMIC: the clip is the expression
    offset = clip.offset if clip.offset is not None else last
    if onset < first:
        correct(f"onset {onset} is before the clip's first frame {first}", f"onset {first} (the first frame)")
        onset = first
    if offset > last:
        correct(f"offset {offset} is past the clip's last frame {last}", f"offset {last} (the last frame)")
        offset = last
    if not onset <= offset:
        raise DataError(clip.source, f"{clip.id}: onset {onset} is after offset {offset}",
                        "correct the annotation or add an erratum", clip.row)
    for name, index in (("onset", onset), ("offset", offset)):
        if index not in present:
            raise DataError(frames.folder, f"missing {name} frame {index} (frames present: {first}..{last})",
                            f"restore the frame from your copy or correct the annotation in {clip.source}", clip.row)
    apex = clip.apex
    if clip.annotated and "apex" not in clip.corrected_fields:
        if apex is None:
            correct("apex frame not annotated", "the apex rule of the preprocessing chain")
        elif not onset <= apex <= offset:
            correct(f"apex {apex} is outside onset..offset ({onset}..{offset})",
                    "the apex rule of the preprocessing chain")
            apex = None
        elif apex not in present:
            correct(f"no frame numbered apex {apex} in {frames.folder}", "the apex rule of the preprocessing chain")
            apex = None
    elif apex is not None and not (onset <= apex <= offset and apex in present):
        raise DataError(clip.source, f"{clip.id}: apex {apex} from the errata is not a frame within "
                                     f"onset..offset ({onset}..{offset})", "correct the erratum", clip.row)
    return ResolvedFrames(onset, apex, offset, tuple(notes))


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
    cropped: bool | None = None  # frames already cropped to the face (known from the layout read)
    annotated: bool = True  # onset/apex/offset come from an annotation (SMIC: False, first/last frames)
    corrections: tuple[str, ...] = ()  # errata applied to this clip, one note each
    corrected_fields: frozenset[str] = frozenset()  # fields an erratum set

    @property
    def id(self) -> str:
        return f"{self.subject}/{self.name}"


@dataclass(frozen=True)
class Erratum:
    """One line of an errata file: a field's corrected value and where the correction comes from."""

    field: str
    value: str
    note: str
    where: str  # errata file and line


def load_errata(path: Path | None = None) -> dict[tuple[str, str, str], list[Erratum]]:
    """(dataset, subject, clip) → errata, from the versioned errata file (or ``path``)."""
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
                        "the header is dataset,subject,clip,field,value,note", header_line)
    for (number, _), record in zip(numbered[1:], records):
        field = (record.get("field") or "").strip()
        if field not in ("onset", "apex", "offset", "emotion"):
            raise DataError(where, f"unknown erratum field {field!r}", "use onset, apex, offset or emotion", number)
        key = (record["dataset"].strip(), record["subject"].strip(), record["clip"].strip())
        errata.setdefault(key, []).append(Erratum(field, (record.get("value") or "").strip(),
                                                  (record.get("note") or "").strip(), f"{where}, line {number}"))
    return errata


def apply_errata(clip: Clip, errata: dict[tuple[str, str, str], list[Erratum]]) -> Clip:
    """``clip`` with its errata applied; each applied erratum adds a note to ``clip.corrections``."""
    fixes = errata.get((clip.dataset, clip.subject.split("/", 1)[1], clip.name))
    if not fixes:
        return clip
    changes: dict[str, Any] = {}
    notes = list(clip.corrections)
    for fix in fixes:
        if fix.field == "emotion":
            changes["emotion"] = fix.value
            changes["label"] = three_class(clip.dataset, fix.value, fix.where, clip.id)
            used = repr(fix.value)
        else:
            changes[fix.field] = frame_number(fix.value, fix.field, fix.where, None, missing_ok=fix.field == "apex")
            used = "the apex rule of the preprocessing chain" if changes[fix.field] is None else changes[fix.field]
        where = f"{clip.source}, row {clip.row}" if clip.row is not None else str(clip.source)
        notes.append(f"{where}: {clip.id}: {fix.field} {getattr(clip, fix.field)!r} corrected by {fix.where}"
                     f"{f' ({fix.note})' if fix.note else ''}; used {used}")
    return replace(clip, **changes, corrections=tuple(notes),
                   corrected_fields=clip.corrected_fields | {fix.field for fix in fixes})


def clip_from_sheet(dataset: str, subject: str, record: dict[str, Any], columns: tuple[str, ...], frames_root: Path,
                    sheet: Path, row: int, cropped: bool | None) -> Clip:
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
        folder=frames_root / subject / name, source=str(sheet), row=row, cropped=cropped,
    )
