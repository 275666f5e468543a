"""What the MER dataset readers share: frame folders, coding spreadsheets, the emotion → class
mappings of every task (the one place they live), errata, the corrections of known annotation
slips and input fingerprints."""

from __future__ import annotations

import csv
import hashlib
import re
from dataclasses import dataclass, field, replace
from importlib import resources
from pathlib import Path
from typing import Any, Iterable, Mapping

import cv2
import numpy as np

from mebench.data import FrameSource
from mebench.errors import DataError
from mebench_plugins.datasets.action_units import AU_COLUMN_ALIASES, AU_COLUMN_NAME, AUCell, au_cell

FRAME_NUMBER = re.compile(r"(\d+)(?!.*\d)")  # the last run of digits in a file name
IMAGE_SUFFIXES = {".jpg", ".jpeg", ".bmp", ".png"}

#: Each dataset's emotion vocabulary and its MEGC2019 3-class mapping (negative / positive / surprise);
#: None = known but excluded. The one place a label becomes a class: every task's mapping below uses the
#: same vocabulary per dataset, so a typo is an error in every task. Sources per database are tabulated
#: in docs/datasets.md ("The 3-class scheme"). Lower-case keys: labels are matched case-insensitively.
EMOTIONS: dict[str, dict[str, str | None]] = {
    "casme2": {"happiness": "positive", "disgust": "negative", "repression": "negative", "surprise": "surprise",
               "others": None, "fear": None, "sadness": None},
    "samm": {"anger": "negative", "contempt": "negative", "disgust": "negative", "fear": "negative",
             "sadness": "negative", "happiness": "positive", "surprise": "surprise", "other": None, "others": None},
    "smic": {"negative": "negative", "positive": "positive", "surprise": "surprise"},
    # CAS(ME)³ Part A (sheet `label`, column `emotion`): the 4-class grouping negative = disgust, fear,
    # anger, sad; 'Others' (3 rows) is a spelling of 'others'.
    "casme3a": {"disgust": "negative", "fear": "negative", "anger": "negative", "sad": "negative",
                "happy": "positive", "surprise": "surprise", "others": None},
    # MMEW: six basic emotions plus others; MEB renames 'others' to 'repression' to match the frame
    # folders (dpailab lists a repression folder and no others folder): one class, excluded like others,
    # not negative as MEGC2019's repression: the annotation names it 'others' (docs/datasets.md).
    "mmew": {"disgust": "negative", "fear": "negative", "sadness": "negative", "anger": "negative",
             "happiness": "positive", "surprise": "surprise", "others": None, "repression": None},
    # 4DME: five categories (positive, negative, surprise, repression, others); repression is negative as
    # CASME II's is in MEGC2019.
    "4dme": {"negative": "negative", "repression": "negative", "positive": "positive", "surprise": "surprise",
             "others": None},
    # CASME: the CASME paper's categories; amusement is its positive one, tense is excluded like others.
    "casme": {"disgust": "negative", "sadness": "negative", "fear": "negative", "contempt": "negative",
              "repression": "negative", "happiness": "positive", "amusement": "positive", "surprise": "surprise",
              "tense": None, "others": None},
}
for _camera in ("smic-vis", "smic-nir", "smic-e-hs", "smic-e-vis", "smic-e-nir"):
    EMOTIONS[_camera] = dict(EMOTIONS["smic"])  # SMIC's three labels in every camera and in SMIC-E


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


#: The other single-database tasks built from a database's own labels: the native label sets of the
#: literature and each new database's 3-class task (its ``EMOTIONS`` mapping).
NATIVE_TASKS: dict[str, EmotionTask] = {
    # the seven self-reported emotions of the v2 ME sheet (860 clips); 'Others' is 'others'
    "casme3a-7class": EmotionTask("casme3a", ("disgust", "surprise", "others", "fear", "anger", "sad", "happy"), {
        "disgust": "disgust", "surprise": "surprise", "others": "others", "fear": "fear", "anger": "anger",
        "sad": "sad", "happy": "happy"}),
    # the "4Emo" task the authors confirm their paper used (CAS-ME-3 issue #1), grouped as commonly done
    "casme3a-4class": EmotionTask("casme3a", ("negative", "positive", "surprise", "others"), {
        "disgust": "negative", "fear": "negative", "anger": "negative", "sad": "negative", "happy": "positive",
        "surprise": "surprise", "others": "others"}),
    # mebench's choice (no source defines a 6-class MMEW task): the native emotions less anger
    "mmew-6class": EmotionTask("mmew", ("happiness", "surprise", "disgust", "fear", "sadness", "others"), {
        "happiness": "happiness", "surprise": "surprise", "disgust": "disgust", "fear": "fear",
        "sadness": "sadness", "others": "others", "repression": "others", "anger": None}),
    # the release's five emotion categories
    "4dme-5class": EmotionTask("4dme", ("positive", "negative", "surprise", "repression", "others"), {
        "positive": "positive", "negative": "negative", "surprise": "surprise", "repression": "repression",
        "others": "others"}),
    # mebench's choice (no source gives CASME's 4-class set): four CASME categories (docs/datasets.md)
    "casme-4class": EmotionTask("casme", ("disgust", "repression", "surprise", "tense"), {
        "disgust": "disgust", "repression": "repression", "surprise": "surprise", "tense": "tense",
        "sadness": None, "fear": None, "contempt": None, "happiness": None, "amusement": None, "others": None}),
}
for _dataset in ("casme3a", "mmew", "4dme", "casme", "smic-vis", "smic-nir", "smic-e-hs", "smic-e-vis",
                 "smic-e-nir"):
    NATIVE_TASKS[_dataset] = EmotionTask(_dataset, ("negative", "positive", "surprise"), EMOTIONS[_dataset])

#: Every task built from a database's own labels (no official list): the 5-class and native tasks.
EMOTION_TASKS: dict[str, EmotionTask] = {**FIVE_CLASS_TASKS, **NATIVE_TASKS}


def emotion_class(mapping: Mapping[str, str | None], emotion: str, file: object, row: object = None) -> str | None:
    """The class of an original emotion under ``mapping``; None for known-but-excluded emotions.
    An emotion outside the mapping's vocabulary (a typo) is an error naming file and row. A label naming
    several emotions joined by ``+`` (4DME's ``Surprise+Positive``) is known when each part is; it keeps
    its class when all parts fall in one class and is excluded otherwise."""
    key = str(emotion).strip().lower()
    if "+" in key:
        classes = {emotion_class(mapping, part, file, row) for part in str(emotion).strip().split("+")}
        return classes.pop() if len(classes) == 1 else None
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

    def span(self, onset: int, offset: int) -> "FrameFiles":
        """The frames numbered onset..offset: a sample cut from a whole recording (CAS(ME)³, SMIC-E)."""
        return FrameFiles(self.folder, tuple((n, name) for n, name in self.files if onset <= n <= offset))

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
    problems = span_problems(clip)
    if problems:
        raise DataError(clip.source, f"{clip.id}: {'; '.join(problems)}",
                        "correct the cells or add an erratum (fields onset, offset)", clip.row)
    if clip.onset is not None and clip.offset is not None and clip.onset <= clip.offset and (
            clip.onset > last or clip.offset < first):  # wholly outside: named by the annotated values
        raise DataError(clip.source, f"{clip.id}: onset..offset {clip.onset}..{clip.offset} lies outside the clip's "
                                     f"frames {first}..{last}", "correct the annotation or add an erratum", clip.row)

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
    if not onset <= offset:  # the annotated values, never clamped ones
        raise DataError(clip.source, f"{clip.id}: onset {clip.onset if clip.onset is not None else onset} is after "
                                     f"offset {clip.offset if clip.offset is not None else offset}",
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


def span_problems(clip: "Clip") -> list[str]:
    """What refuses a span of a recording, as the annotation (or an erratum) gives it, never a corrected value:
    it repeats an earlier span of its row, it is longer than an expression can be (``clip.longest``), or it
    does not lie within the recording's frames as the annotation gives them (``clip.extent``)."""
    onset, offset, problems = clip.onset, clip.offset, []
    if onset is None or offset is None:
        return problems
    if clip.repeats and not {"onset", "offset"} & clip.corrected_fields:
        problems.append(f"repeats {clip.repeats} of the same row")
    if clip.longest is not None and offset - onset + 1 > clip.longest:
        problems.append(f"is {offset - onset + 1:,} frames long, far longer than an expression (at most "
                        f"{clip.longest:,} frames)")
    if clip.extent is not None and not (clip.extent[0] <= onset and offset <= clip.extent[1]):
        problems.append(f"does not lie within the recording's frames {clip.extent[0]}..{clip.extent[1]} (the "
                        f"sheet's first and last frame)")
    return [f"span {onset}..{offset} {' and '.join(problems)}"] if problems else []


@dataclass(frozen=True)
class Column:
    """A spreadsheet column a reader needs: the name its records use and the other spellings copies use."""

    name: str
    aliases: tuple[str, ...] = ()
    required: bool = True

    @property
    def spellings(self) -> tuple[str, ...]:
        return (self.name, *self.aliases)


#: The column of a row's action-unit code, in every spelling the databases use (CASME II, SAMM and MMEW
#: ``Action Units``, CAS(ME)³ and CASME ``AU``, 4DME ``AUs``); optional, since only the AU tasks read it
#: (``action_units.au_cell`` also collects 4DME's one column per AU).
AU_COLUMN = Column(AU_COLUMN_NAME, AU_COLUMN_ALIASES, required=False)


def _norm(text: Any) -> str:
    return " ".join(str(text if text is not None else "").split()).casefold()


@dataclass(frozen=True)
class Sheet:
    """The rows of one worksheet below its header row, as (spreadsheet row number, column → value); each
    record holds every header cell by its own spelling and each ``Column`` by its ``name``."""

    path: Path
    sheet: str
    header_row: int
    header: tuple[str, ...]
    rows: tuple[tuple[int, dict[str, Any]], ...]
    several_sheets: bool  # the workbook has more than one worksheet: messages name the sheet

    @property
    def source(self) -> str:
        """How messages name this sheet: the file, and the worksheet where the workbook has several."""
        return f"{self.path}, sheet {self.sheet!r}" if self.several_sheets else str(self.path)

    @property
    def description(self) -> str:
        return f"{self.path} (sheet {self.sheet!r}, header row {self.header_row}, {len(self.rows)} rows)"

    def __iter__(self):
        return iter(self.rows)

    def __len__(self) -> int:
        return len(self.rows)


def read_sheet(path: Path, columns: Iterable[str | Column], sheets: Iterable[str] = ()) -> Sheet:
    """The rows of a coding spreadsheet below its header row.

    The header row is found by name wherever it sits: the first row (of the first 50) with a cell
    spelled like the first column (title blocks above it are skipped), each column matched by any of
    its spellings (case and spacing ignored). The worksheet is the first of ``sheets`` the workbook
    has (CAS(ME)³'s ``label``); otherwise the first worksheet that has such a header row. A ``.csv`` file
    (a sheet saved as text, UTF-8) is read as one worksheet; its empty cells are empty."""
    import openpyxl

    wanted = [c if isinstance(c, Column) else Column(c) for c in columns]
    if Path(path).suffix.casefold() == ".csv":
        return _read_csv(Path(path), wanted)
    try:
        workbook = openpyxl.load_workbook(path, read_only=True, data_only=True)
    except Exception as error:
        raise DataError(path, f"cannot read the spreadsheet ({type(error).__name__}: {error})",
                        "is it the .xlsx file distributed with the dataset?") from None
    try:
        names = workbook.sheetnames
        preferred = [n for wish in sheets for n in names if _norm(n) == _norm(wish)][:1]
        first = wanted[0]
        for name in preferred or names:
            rows = workbook[name].iter_rows(values_only=True)
            for number, values in enumerate(rows, start=1):
                if number > 50:
                    break
                cells = [_norm(v) for v in values or ()]
                if any(_norm(spelling) in cells for spelling in first.spellings):
                    return _sheet_below(path, name, len(names) > 1, number, values, rows, wanted)
        where = f"sheet {preferred[0]!r}" if preferred else f"any worksheet ({', '.join(map(repr, names))})"
        raise DataError(path, f"no header row (a row with a cell {first.name!r}) in {where}",
                        f"expected a header with columns {', '.join(c.name for c in wanted if c.required)}")
    finally:
        workbook.close()


def _read_csv(path: Path, wanted: list[Column]) -> Sheet:
    """``read_sheet`` of a ``.csv`` copy of a sheet (worksheet name ``csv``)."""
    import csv

    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as error:
        raise DataError(path, f"cannot read the file ({type(error).__name__}: {error})",
                        "save the sheet as UTF-8 CSV, or use the .xlsx file distributed with the dataset") from None
    rows = iter([tuple(cell if cell.strip() else None for cell in row) for row in csv.reader(text.splitlines())])
    first = wanted[0]
    for number, values in enumerate(rows, start=1):
        if number > 50:
            break
        if any(_norm(spelling) in [_norm(v) for v in values] for spelling in first.spellings):
            return _sheet_below(path, "csv", False, number, values, rows, wanted)
    raise DataError(path, f"no header row (a row with a cell {first.name!r}) in the first 50 lines",
                    f"expected a header with columns {', '.join(c.name for c in wanted if c.required)}")


def _sheet_below(path: Path, name: str, several: bool, header_row: int, values, rows,
                 wanted: list[Column]) -> Sheet:
    header = [str(v).strip() if v is not None else "" for v in values]
    cells = [_norm(v) for v in header]
    position: dict[str, int] = {}
    for column in wanted:
        found = next((cells.index(_norm(s)) for s in column.spellings if _norm(s) in cells), None)
        if found is not None:
            position[column.name] = found
    missing = [c for c in wanted if c.required and c.name not in position]
    if missing:
        spelled = "; ".join(f"{c.name} also as {', '.join(c.aliases)}" for c in missing if c.aliases)
        raise DataError(f"{path}, sheet {name!r}" if several else path,
                        f"header row lacks column(s) {', '.join(c.name for c in missing)}"
                        + (f" ({spelled})" if spelled else ""),
                        f"expected columns {', '.join(c.name for c in wanted if c.required)}; "
                        f"found {', '.join(h for h in header if h)}", header_row)
    records = []
    for number, row in enumerate(rows, start=header_row + 1):
        if not row or all(v is None or str(v).strip() == "" for v in row):
            continue
        record = {title: row[i] if i < len(row) else None for i, title in enumerate(header) if title}
        record.update({key: row[i] if i < len(row) else None for key, i in position.items()})
        records.append((number, record))
    return Sheet(Path(path), name, header_row, tuple(header), tuple(records), several)


def find_files(root: Path, patterns: Iterable[str], max_depth: int = 4, prune: str | None = None) -> list[Path]:
    """Files below ``root`` (at most ``max_depth`` folders down) whose name matches one of ``patterns``
    (shell wildcards, case ignored); Office lock files (``~$…``) are skipped, and so are folders whose
    name matches the regular expression ``prune`` (frame trees: nothing to find there)."""
    import fnmatch

    patterns = [p.casefold() for p in patterns]
    skip = re.compile(prune) if prune else None
    found, level = [], [Path(root)]
    for _ in range(max_depth + 1):
        below = []
        for folder in level:
            try:
                entries = sorted(folder.iterdir())
            except OSError:
                continue
            for entry in entries:
                if entry.is_dir():
                    if not (skip and skip.match(entry.name)):
                        below.append(entry)
                elif not entry.name.startswith("~$") and any(fnmatch.fnmatchcase(entry.name.casefold(), p)
                                                             for p in patterns):
                    found.append(entry)
        level = below
    return found


def find_annotation(root: Path, patterns: tuple[str, ...], what: str, option: str, sheet: Path | str | None = None,
                    prune: str | None = None) -> Path:
    """The one annotation file of a database: ``sheet`` when given, else the file below ``root`` whose
    name matches ``patterns``; none or several is an error saying exactly what was looked for."""
    if sheet:
        if not Path(sheet).is_file():
            raise DataError(sheet, f"{what} not found", f"pass an existing file with --dataset-opt {option}=FILE")
        return Path(sheet)
    if not Path(root).is_dir():
        raise DataError(root, "database folder not found", "point --data-root at the folder that holds it (or pass "
                                                           "its *_root option / MEBENCH_* variable)")
    found = find_files(root, patterns, prune=prune)
    if len(found) != 1:
        listed = ", ".join(str(p) for p in found) or "none"
        raise DataError(root, f"expected exactly one {what} ({' or '.join(patterns)}) anywhere below this folder, "
                              f"found {listed}",
                        f"keep the file distributed with the database, or pass --dataset-opt {option}=FILE")
    return found[0]


def find_dirs(root: Path, match, max_depth: int = 3, prune: str | None = None) -> list[Path]:
    """Folders below ``root`` (``root`` itself included, at most ``max_depth`` down) for which
    ``match(folder)`` holds; folders whose name matches ``prune`` may match but are not searched."""
    skip = re.compile(prune) if prune else None
    found, level = [], [Path(root)]
    for depth in range(max_depth + 1):
        below = []
        for folder in level:
            if match(folder):
                found.append(folder)
            if depth == max_depth or (skip and depth and skip.match(folder.name)):
                continue
            try:
                below += sorted(p for p in folder.iterdir() if p.is_dir())
            except OSError:
                continue
        level = below
    return found


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
    name: str  # clip name as in the official list: EP02_01f, 006_1_2, s01_ne_01; CAS(ME)³: a_355 (Filename_Onset)
    emotion: str
    label: str | None  # 3-class label; None = excluded emotion
    onset: int | None
    apex: int | None
    offset: int | None
    folder: Path
    source: str  # file the annotation came from
    row: int | str | None
    cropped: bool | None = None  # frames already cropped to the face (known from the layout read)
    annotated: bool = True  # the database annotates an apex (SMIC, SMIC-E: False; onset/offset may still be given)
    corrections: tuple[str, ...] = ()  # errata applied to this clip and slips named by its reader, one note each
    corrected_fields: frozenset[str] = frozenset()  # fields an erratum set
    recording: bool = False  # the folder is a whole recording; the sample is its onset..offset span
    flagged: tuple[tuple[int, str], ...] = ()  # frames of the folder an exception list names: (frame, list)
    au: AUCell | None = None  # the row's action-unit cells (None: the sheet has no AU column)
    #: a span of a whole recording (``recording``): the recording's first and last frame as the annotation gives
    #: them (SMIC-E FirstF..LastF), the longest span that can be an expression, in frames, and the earlier span of
    #: the same row this one repeats; ``span_problems`` checks the span against them
    extent: tuple[int, int] | None = None
    longest: int | None = None
    repeats: str | None = None

    @property
    def id(self) -> str:
        return f"{self.subject}/{self.name}"

    @property
    def where(self) -> str:
        return f"{self.source}, row {self.row}" if self.row is not None else str(self.source)


@dataclass
class Reading:
    """What a database reader found: the clips (every annotated one, excluded emotions too), one line per
    file or layout it read (``mebench data check`` prints them), and warnings that do not block."""

    clips: list[Clip]
    sources: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Erratum:
    """One line of an errata file: a field's corrected value, the value the annotation must still hold
    for it to apply (``old``; None: no guard) and where the correction comes from."""

    field: str
    value: str
    note: str
    where: str  # errata file and line
    old: str | None = None


ERRATA_HEADER = "dataset,subject,clip,field,old,value,note"
#: What an erratum may correct: a frame, the emotion, or the action-unit cell (``au``: the AU tasks read the
#: corrected text by the rules of ``action_units``).
ERRATA_FIELDS = ("onset", "apex", "offset", "emotion", "au")


def _field_value(clip: Clip, field: str) -> Any:
    """The annotation's value of an erratum field (the AU cell's text for ``au``)."""
    if field == "au":
        return clip.au.value if clip.au is not None else None
    return getattr(clip, field)


def load_errata(path: Path | None = None) -> dict[tuple[str, str, str], list[Erratum]]:
    """(dataset, subject, clip) → errata, from the versioned errata file (or ``path``). The ``old``
    column is optional (files without it still read: their errata apply unguarded)."""
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
                        f"the header is {ERRATA_HEADER} (old is optional)", header_line)
    for (number, _), record in zip(numbered[1:], records):
        field = (record.get("field") or "").strip()
        if field not in ERRATA_FIELDS:
            raise DataError(where, f"unknown erratum field {field!r}", "use onset, apex, offset, emotion or au", number)
        key = (record["dataset"].strip(), record["subject"].strip(), record["clip"].strip())
        if key[0] not in EMOTIONS:
            raise DataError(where, f"unknown erratum dataset {key[0]!r}", f"use one of {', '.join(EMOTIONS)}", number)
        old = (record.get("old") or "").strip()
        errata.setdefault(key, []).append(Erratum(field, (record.get("value") or "").strip(),
                                                  (record.get("note") or "").strip(), f"{where}, line {number}",
                                                  old or None))
    return errata


def _holds(clip: Clip, fix: Erratum) -> bool:
    """Whether the annotation still holds the value ``fix`` was written against."""
    if fix.old is None:
        return True
    current = _field_value(clip, fix.field)
    if fix.field == "emotion":
        return str(current).strip().casefold() == fix.old.casefold()
    if fix.field == "au":
        return " ".join(str(current if current is not None else "").split()) == " ".join(fix.old.split())
    return current == frame_number(fix.old, f"old {fix.field}", fix.where, None, missing_ok=True)


def apply_errata(clip: Clip, errata: dict[tuple[str, str, str], list[Erratum]],
                 warnings: list[str] | None = None) -> Clip:
    """``clip`` with its errata applied; each applied erratum adds a note to ``clip.corrections``. An
    erratum whose ``old`` value the annotation no longer holds is not applied: one line in ``warnings``
    says so (the copy was corrected, or the erratum is stale)."""
    fixes = errata.get((clip.dataset, clip.subject.split("/", 1)[1], clip.name))
    if not fixes:
        return clip
    changes: dict[str, Any] = {}
    notes = list(clip.corrections)
    applied = set()
    for fix in fixes:
        if not _holds(clip, fix):
            if warnings is not None:
                warnings.append(f"{fix.where}: erratum no longer applies: {clip.id} {fix.field} is "
                                f"{_field_value(clip, fix.field)!r} in {clip.where}, not {fix.old!r}; not applied")
            continue
        if fix.field == "emotion":
            changes["emotion"] = fix.value
            changes["label"] = three_class(clip.dataset, fix.value, fix.where, clip.id)
            used = repr(fix.value)
        elif fix.field == "au":
            column = clip.au.column if clip.au is not None and clip.au.column else AU_COLUMN_NAME
            changes["au"] = AUCell(column, fix.value, clip.au.flags if clip.au is not None else ())
            used = repr(fix.value)
        else:
            changes[fix.field] = frame_number(fix.value, fix.field, fix.where, None, missing_ok=fix.field == "apex")
            used = "the apex rule of the preprocessing chain" if changes[fix.field] is None else changes[fix.field]
        applied.add(fix.field)
        notes.append(f"{clip.where}: {clip.id}: {fix.field} {_field_value(clip, fix.field)!r} corrected by {fix.where}"
                     f"{f' ({fix.note})' if fix.note else ''}; used {used}")
    if not applied:
        return clip
    return replace(clip, **changes, corrections=tuple(notes), corrected_fields=clip.corrected_fields | applied)


def unmatched_errata(errata: dict[tuple[str, str, str], list[Erratum]], dataset: str,
                     clips: Iterable[Clip]) -> list[str]:
    """One line per erratum of ``dataset`` that names a clip the annotation does not list: it no longer
    applies (the clip was renamed or removed, or the erratum is for another copy)."""
    listed = {(c.subject.split("/", 1)[1], c.name) for c in clips if c.dataset == dataset}
    return [f"{fix.where}: erratum no longer applies: the annotation lists no clip {dataset}/{subject}/{name}; "
            f"not applied" for (d, subject, name), fixes in errata.items() if d == dataset
            and (subject, name) not in listed for fix in fixes]


def clip_from_sheet(dataset: str, subject: str, record: dict[str, Any], columns: tuple[str, ...], frames_root: Path,
                    sheet: Sheet, row: int, cropped: bool | None, folder: Path | None = None) -> Clip:
    """A clip from one coding-spreadsheet row; ``columns`` names the (filename, onset, apex, offset,
    emotion) columns of that dataset's spreadsheet. The clip's frames are in ``folder``, by default
    ``frames_root/<subject>/<filename>``."""
    filename, onset, apex, offset, emotion_column = columns
    name = str(record[filename] or "").strip()
    if not name:
        raise DataError(sheet.source, f"empty {filename}", "correct the cell", row)
    emotion = str(record[emotion_column] or "").strip()
    return Clip(
        dataset=dataset, subject=f"{dataset}/{subject}", name=name, emotion=emotion,
        label=three_class(dataset, emotion, sheet.source, row),
        onset=frame_number(record[onset], onset, sheet.source, row),
        apex=frame_number(record[apex], apex, sheet.source, row, missing_ok=True),
        offset=frame_number(record[offset], offset, sheet.source, row),
        folder=folder if folder is not None else frames_root / subject / name, source=sheet.source, row=row,
        cropped=cropped, au=au_cell(record),
    )
