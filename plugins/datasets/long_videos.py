"""The long-video databases of the spotting challenges, read as distributed: each reader turns a copy into
``LongVideo``s (every video of the copy, those without any expression too: spotting counts their false
positives) with their annotated intervals, and says what it read (``mebench.long_videos.LongVideoCheck``).

Frame numbers are the numbers of the frame files (``img46.jpg`` is frame 46), as the annotations use them.
Rules every reader applies, each correction named on its video (file, row, what, the value used; ``strict``
refuses them instead):

- an onset before the video's first frame is its first frame; an offset past its last frame is its last frame
  (CAS(ME)³ Part A's ``spNO.216`` ``e`` row with onset 0, a recording without ``0.jpg`` by the ZhouJu error list of
  the authors' repository; SAMM-LV's macro-expressions with onset 0);
- an apex outside onset..offset (SAMM-LV ``032_3``'s apex -1069, CAS(ME)² rows whose apex is after the offset)
  is unknown (None);
- blocking, one line naming file, row and fix: an offset before the onset as the sheet gives it, an interval
  wholly outside the video's frames, a video the sheet names with no folder of frames, a type other than
  micro/macro, a frame cell that is not a number.

Readers (the learned layouts; what no public source confirms is said per reader):

- ``read_casme2_long``: CAS(ME)² (``casme2-long``; CAS(ME)², not CASME II), 30 fps.
- ``read_samm_long``: SAMM Long Videos (``samm-long``), 200 fps.
- ``read_smic_e_long``: SMIC-E long clips (``smic-e-hs-long``, ``-vis-``, ``-nir-``), ME only.
- ``read_casme3a_long``: CAS(ME)³ Part A whole recordings (``casme3a-long``), 30 fps.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Callable

from mebench.errors import DataError
from mebench.long_videos import Interval, LongVideo, LongVideoCheck
from mebench_plugins.datasets import casme3, samm, smic_e
from mebench_plugins.datasets.frames import FrameFiles, index_frames, span_problems
from mebench_plugins.datasets.sheets import (Column, _sheet_below, find_annotation, find_dirs, find_files,
                                             read_sheet)

STRICT_FIX = "correct the annotation (strict=true refuses annotation slips that are otherwise corrected by rule)"
FPS = {"casme2-long": 30, "samm-long": 200, "casme3a-long": 30}
SMIC_E_DATASETS = {"HS": "smic-e-hs-long", "VIS": "smic-e-vis-long", "NIR": "smic-e-nir-long"}


def _cell_text(value: Any) -> str:
    return "" if value is None else str(value).strip()


def _frame_cell(value: Any, name: str, file: object, row: object, notes: list[str] | None = None,
                where: str = "") -> int | None:
    """A frame cell: None where empty (or ``-``, ``/``); a whole number as it is; a fraction rounded half up as the
    MEGC2020 organisers' reader does (``int(float(x) + 0.5)``), named in ``notes``; text is an error."""
    text = _cell_text(value)
    if text in ("", "-", "/", "None", "nan"):
        return None
    try:
        number = float(text)
    except ValueError:
        raise DataError(file, f"{name} {text!r} is not a frame number", "correct the cell", row) from None
    if number == int(number):
        return int(number)
    rounded = int(number + 0.5)
    if notes is not None:
        notes.append(f"{where}: {name} {text} is not a whole frame; used {rounded} (rounded half up)")
    return rounded


def _kind(value: Any, column: str, file: object, row: object) -> str:
    """``me`` or ``mae`` from a type cell (``micro-expression``, ``Micro - 1/2``, ``Macro``, case ignored)."""
    text = _cell_text(value).casefold()
    if text.startswith("micro"):
        return "me"
    if text.startswith("macro"):
        return "mae"
    raise DataError(file, f"{column} {_cell_text(value)!r} is neither a micro- nor a macro-expression",
                    "correct the cell (micro-expression or macro-expression)", row)


class _VideoBuilder:
    """The intervals and corrections of one video as its rows are read; ``add`` applies the shared rules."""

    def __init__(self, frames: FrameFiles, strict: bool):
        self.frames, self.strict = frames, strict
        indices = frames.indices()
        self.first, self.last = indices[0], indices[-1]
        self.intervals: list[Interval] = []
        self.notes: list[str] = []

    def note(self, text: str, file: object, row: object) -> None:
        if self.strict:
            raise DataError(file, text.split(": ", 1)[-1], STRICT_FIX, row)
        self.notes.append(text)

    def add(self, video_id: str, onset: int, apex: int | None, offset: int, kind: str, emotion: str | None,
            file: object, row: object) -> None:
        where = f"{file}, row {row}: {video_id}"
        if offset < onset:
            raise DataError(file, f"{video_id}: offset {offset} is before onset {onset}", "correct the cells", row)
        if offset < self.first or onset > self.last:
            raise DataError(file, f"{video_id}: onset..offset {onset}..{offset} lies outside the video's frames "
                                  f"{self.first}..{self.last}", "correct the cells", row)
        if onset < self.first:
            self.note(f"{where}: onset {onset} is before the video's first frame {self.first}; used {self.first} "
                      f"(the first frame)", file, row)
            onset = self.first
        if offset > self.last:
            self.note(f"{where}: offset {offset} is past the video's last frame {self.last}; used {self.last} "
                      f"(the last frame)", file, row)
            offset = self.last
        if apex is not None and not onset <= apex <= offset:
            self.note(f"{where}: apex {apex} is outside onset..offset ({onset}..{offset}); used no apex (unknown)",
                      file, row)
            apex = None
        self.intervals.append(Interval(onset, offset, kind, apex, emotion or None))

    def video(self, dataset: str, subject: str, name: str, fps: float, cropped: bool | None) -> LongVideo:
        return LongVideo(dataset=dataset, subject=f"{dataset}/{subject}", video=name, fps=fps, frames=self.frames,
                         n_frames=len(self.frames.files),
                         intervals=tuple(sorted(self.intervals, key=lambda i: (i.onset, i.offset))),
                         corrections=tuple(self.notes), cropped=cropped, fingerprint=self.frames.fingerprint())


def _xls_rows(path: Path, sheet: str) -> tuple[str, list[tuple]]:
    """(worksheet name, its rows as tuples of cell values, None where empty) of the worksheet named ``sheet`` (case
    and spacing ignored) of an .xls file, read by pandas, which needs the ``xlrd`` package for it."""
    import pandas as pd

    try:
        frames = pd.read_excel(path, sheet_name=None, header=None, dtype=object)
    except ImportError:
        raise DataError(path, "reading an .xls file needs the xlrd package, which is not installed",
                        "pip install xlrd, or save the sheet as .xlsx and pass --dataset-opt sheet=FILE") from None
    except Exception as error:  # noqa: BLE001 - any unreadable workbook is the user's file
        raise DataError(path, f"cannot read the spreadsheet ({type(error).__name__}: {error})",
                        "is it the .xls file distributed with the dataset?") from None
    wanted = [name for name in frames if " ".join(str(name).split()).casefold() == sheet.casefold()]
    if not wanted:
        raise DataError(path, f"no worksheet {sheet!r} (worksheets: {', '.join(map(repr, frames))})",
                        "is it the annotation distributed with the dataset?")
    rows = [tuple(None if v != v else v for v in row) for row in frames[wanted[0]].itertuples(index=False)]
    return wanted[0], rows  # v != v: pandas' NaN for an empty cell


# --- CAS(ME)² ---------------------------------------------------------------------------------------------

CASME2_SHEET = ("*code_final.xlsx",)
CASME2_FRAME_TREES = r"^(rawpic|rawpic_crop|rawvideo|cropped|selectedpic|s\d+)$"
CASME2_VIDEO = re.compile(r"^(?:\d+_)?(\d{4})")  # 15_0101disgustingteeth → 0101
CASME2_NAMING = ("naming rule1", "naming rule2")
#: CAS(ME)²'s emotion vocabulary (the code sheet's seventh column) and its 3-class mapping: CAS(ME)² has no
#: recognition reader, so its declaration lives beside its reader. The spellings are MEAN's (``load_label.py``,
#: lines 3 and 9-10: negative, positive, surprise, others; lower-cased), no public copy of the sheet was seen;
#: 'others' maps to no class (spotting-only), as MEAN leaves it out of recognition (``prepare_training.py``, line 40).
CASME2_LONG_EMOTIONS = {"negative": "negative", "positive": "positive", "surprise": "surprise", "others": None}


def _casme2_code(value: Any, file: object, row: object) -> str:
    """A video code of ``naming rule2``: text ``0401`` as it is, a number (401) zero-padded to four digits."""
    text = _cell_text(value)
    if re.fullmatch(r"\d+(\.0)?", text):
        return f"{int(float(text)):04d}"
    raise DataError(file, f"video code {text!r} is not a number like 0401", "correct the cell", row)


def _casme2_sheets(path: Path) -> tuple[str, list[tuple], dict[int, str], dict[str, str]]:
    """The code sheet's name and rows, subject number → folder (``naming rule1``), video name → code
    (``naming rule2``)."""
    import openpyxl

    try:
        workbook = openpyxl.load_workbook(path, read_only=True, data_only=True)
    except Exception as error:  # noqa: BLE001
        raise DataError(path, f"cannot read the spreadsheet ({type(error).__name__}: {error})",
                        "is it CAS(ME)^2code_final.xlsx as distributed?") from None
    try:
        names = {" ".join(n.split()).casefold(): n for n in workbook.sheetnames}
        for wanted in CASME2_NAMING:
            if wanted not in names:
                raise DataError(path, f"no worksheet {wanted!r} (worksheets: {', '.join(workbook.sheetnames)})",
                                "use CAS(ME)^2code_final.xlsx as distributed (sheets 'naming rule1', 'naming rule2')")
        code_sheets = [n for n in workbook.sheetnames if " ".join(n.split()).casefold() not in CASME2_NAMING]
        named = [n for n in code_sheets if re.fullmatch(r"cas\w*code_final", n.strip(), re.IGNORECASE)]
        code = (named or code_sheets or [None])[0]
        if code is None:
            raise DataError(path, "no code worksheet besides the naming rules", "use the file as distributed")
        rows = list(workbook[code].iter_rows(values_only=True))
        rule1 = list(workbook[names["naming rule1"]].iter_rows(values_only=True))
        rule2 = list(workbook[names["naming rule2"]].iter_rows(values_only=True))
    finally:
        workbook.close()
    folders: dict[int, str] = {}
    for number, row in enumerate(rule1, start=1):
        cells = [_cell_text(v) for v in (row or ())] + ["", "", ""]
        if not any(cells):
            continue
        if not re.fullmatch(r"\d+(\.0)?", cells[2]):
            if number == 1:  # a header some copies may carry
                continue
            raise DataError(f"{path}, sheet 'naming rule1'", f"subject number {cells[2]!r} (third column) is not a "
                                                             f"number", "correct the cell", number)
        if re.fullmatch(r"s\d+", cells[1]):
            folder = cells[1]
        elif re.fullmatch(r"\d+(\.0)?", cells[1] or cells[0]):  # a folder number without its s (15)
            folder = f"s{int(float(cells[1] or cells[0]))}"
        else:
            raise DataError(f"{path}, sheet 'naming rule1'", f"folder {cells[1]!r} (second column) is not like s15",
                            "correct the cell", number)
        folders[int(float(cells[2]))] = folder
    codes: dict[str, str] = {}
    for number, row in enumerate(rule2, start=1):
        cells = [row[0] if row else None, row[1] if row and len(row) > 1 else None]
        if not any(_cell_text(c) for c in cells):
            continue
        if number == 1 and not re.fullmatch(r"\d+(\.0)?", _cell_text(cells[0])):
            continue
        codes[_cell_text(cells[1])] = _casme2_code(cells[0], f"{path}, sheet 'naming rule2'", number)
    return code, rows, folders, codes


def _casme2_videos(rawpic: Path) -> dict[tuple[str, str], Path]:
    """(subject folder, video code) → the video's frame folder, for every video below ``rawpic/``."""
    videos: dict[tuple[str, str], Path] = {}
    for subject in sorted(p for p in rawpic.iterdir() if p.is_dir() and re.fullmatch(r"s\d+", p.name)):
        for folder in sorted(p for p in subject.iterdir() if p.is_dir()):
            match = CASME2_VIDEO.match(folder.name)
            if not match:
                continue
            key = (subject.name, match.group(1))
            if key in videos:
                raise DataError(subject, f"two folders of video {key[1]}: {videos[key].name} and {folder.name}",
                                "keep one folder per video")
            videos[key] = folder
    return videos


def read_casme2_long(root: Path, sheet: Path | None = None, strict: bool = False) -> LongVideoCheck:
    """CAS(ME)² as distributed: ``CAS(ME)^2code_final.xlsx`` and
    ``rawpic/s15/15_0101disgustingteeth/img001.jpg`` (numbers three digits wide below 100, as the organisers'
    ``num_to_imgname`` writes them; a frame's number is read from the digits of its name).

    The workbook has no header rows. Its code sheet (``CASFEcode_final`` in the organisers' reader, the first
    worksheet) holds per row: subject number, ``<video name>_<n>`` (``anger1_1``), onset, apex, offset, action
    units, emotion, type (``micro-expression`` / ``macro-expression``) and a self-report. ``naming rule1`` maps the
    subject number (third column) to its folder (second column, ``s15``), as SOFTNet's and other public readers
    do; ``naming rule2`` maps the video name (second column) to its code (first column, ``0401``; a number is
    zero-padded to four digits). A video folder is found by the four digits of its code
    (``15_0101disgustingteeth``; the organisers' reader globs ``*0101*``).

    Missing frames, by the MEGC2020 organisers' rule (``dataset_new/CASME_2.py``): a 0 offset means the offset is
    missing and the apex is taken as the offset; then a 0 apex means the apex is missing and the midpoint of
    onset and offset is taken (rounded down, as the organisers' ``int()`` of ``(onset + offset) / 2``). Each is
    named on its video.

    Not confirmed by a public source: that the code sheet is the first worksheet in every copy (the organisers
    name it ``CASFEcode_final``, another reader ``CASMEcode_final``: it is found as the worksheet that is not a
    naming rule); what the seventh column holds, read as the interval's emotion (SOFTNet names it ``emotion``,
    another reader ``Valence`` and the ninth ``Emotion``); the organisers' reader takes the folder from
    ``naming rule1`` by the code sheet's row number, which gives the same folders only if that sheet lists one
    row per code row.
    """
    root = Path(root)
    if not root.is_dir():
        raise DataError(root, "CAS(ME)² folder not found", "point --data-root at the folder holding rawpic/ and "
                                                           "CAS(ME)^2code_final.xlsx")
    path = find_annotation(root, CASME2_SHEET, "CAS(ME)² code sheet", "sheet", sheet, prune=CASME2_FRAME_TREES)
    rawpics = find_dirs(root, lambda d: d.name == "rawpic", max_depth=2, prune=CASME2_FRAME_TREES)
    if not rawpics:
        raise DataError(root, "no frame folder rawpic/ below this folder",
                        "unpack CAS(ME)²'s rawpic/ (rawpic/s15/15_0101disgustingteeth/img001.jpg)")
    folders = _casme2_videos(rawpics[0])
    code_sheet, rows, subjects, codes = _casme2_sheets(path)
    source = f"{path}, sheet {code_sheet!r}"
    builders: dict[tuple[str, str], _VideoBuilder] = {}
    read = 0
    for row, cells in enumerate(rows, start=1):
        cells = list(cells or ()) + [None] * 9
        if not any(_cell_text(c) for c in cells):
            continue
        if row == 1 and not re.fullmatch(r"-?\d+(\.\d+)?", _cell_text(cells[2])):
            continue  # a header row some copies may carry; the distributed sheet has none
        read += 1
        number = _frame_cell(cells[0], "subject number", source, row)
        if number not in subjects:
            raise DataError(source, f"subject number {_cell_text(cells[0])!r} is not in sheet 'naming rule1'",
                            "correct the cell or the naming rule", row)
        name = _cell_text(cells[1]).split("_")[0]
        if name not in codes:
            raise DataError(source, f"video name {name!r} (of {_cell_text(cells[1])!r}) is not in sheet "
                                    f"'naming rule2'", "correct the cell or the naming rule", row)
        subject, code = subjects[number], codes[name]
        if (subject, code) not in folders:
            raise DataError(rawpics[0] / subject, f"no folder of video {code} ({name}) that {source}, row {row} "
                                                  f"annotates", "restore the video's frames from your copy")
        builder = builders.get((subject, code))
        if builder is None:
            builder = builders[(subject, code)] = _VideoBuilder(index_frames(folders[(subject, code)]), strict)
        video_id = f"casme2-long/{subject}/{code}"
        where = f"{source}, row {row}: {video_id}"
        onset = _frame_cell(cells[2], "onset", source, row)
        apex = _frame_cell(cells[3], "apex", source, row)
        offset = _frame_cell(cells[4], "offset", source, row)
        if onset is None:
            raise DataError(source, "empty onset", "correct the cell", row)
        if not offset:
            builder.note(f"{where}: offset {offset} means missing; used the apex {apex} (the MEGC2020 organisers' "
                         f"rule)", source, row)
            offset = apex
        if not apex:
            middle = (onset + offset) // 2 if offset is not None else None
            builder.note(f"{where}: apex {apex} means missing; used the midpoint {middle} of onset and offset (the "
                         f"MEGC2020 organisers' rule)", source, row)
            apex = middle
        if offset is None:
            raise DataError(source, f"{video_id}: neither offset nor apex given", "correct the cells", row)
        builder.add(video_id, onset, apex, offset, _kind(cells[7], "type (eighth column)", source, row),
                    _cell_text(cells[6]) or None, source, row)
    videos = [(builders.get(key) or _VideoBuilder(index_frames(folder), strict)).video(
        "casme2-long", key[0], key[1], FPS["casme2-long"], cropped=False) for key, folder in sorted(folders.items())]
    return LongVideoCheck("casme2-long", videos, [
        f"annotation {source} ({read} rows, no header; subjects by 'naming rule1', video codes by 'naming rule2')",
        f"frames {rawpics[0]}/s<NN>/<NN>_<code><name>/img<n>.jpg (not cropped; {len(folders)} videos, those "
        f"without any expression included)"])


# --- SAMM Long Videos -------------------------------------------------------------------------------------

SAMM_SHEETS = ("SAMM_LongVideos_V*_Release.xlsx",)
SAMM_FRAME_TREES = r"^(SAMM_longvideos|\d{3}_\d+)$"
SAMM_COLUMNS = (Column("Subject"), Column("Filename"), Column("Onset", ("Onset Frame",)),
                Column("Apex", ("Apex Frame",)), Column("Offset", ("Offset Frame",)), Column("Type"))
SAMM_VIDEO = re.compile(r"^(\d+)_(\d+)$")
#: The SAMM micro-expression sheet (``samm.SHEET``; MEAN's copy is ``SAMM_20181215_Micro_FACS_Codes_v2.xlsx``).
SAMM_ME_SHEETS = ("SAMM*Micro_FACS_Codes*.xlsx",)


def _samm_me_emotions(root: Path) -> tuple[dict[str, tuple[str, str]], str]:
    """Filename in lower case → (Estimated Emotion, where) from the SAMM micro-expression sheet, found by name below
    ``root`` or beside it in the folder ``samm`` reads (``<data root>/SAMM/``); and a line saying what was read, or
    that no sheet was found."""
    beside = root.parent / samm.DATABASE.folder
    found = (find_files(root, SAMM_ME_SHEETS, max_depth=2, prune=SAMM_FRAME_TREES)
             or (find_files(beside, SAMM_ME_SHEETS, max_depth=0) if beside.is_dir() else []))
    if not found:
        return {}, (f"ME emotions: no SAMM micro-expression sheet ({samm.SHEET}) in {root} or {beside}: the intervals "
                    f"carry no emotion (spotting works; spot-then-recognise, --protocol str, needs the sheet)")
    table = read_sheet(found[0], ("Subject", "Filename", "Estimated Emotion"), sheets=("MICRO_ONLY",))
    emotions: dict[str, tuple[str, str]] = {}
    for row, record in table:
        filename, emotion = _cell_text(record["Filename"]).casefold(), _cell_text(record["Estimated Emotion"])
        if filename and emotion:
            emotions.setdefault(filename, (emotion, f"{table.source}, row {row}"))
    return emotions, f"ME emotions {table.description} (an ME interval by its Filename, as MEAN's loader merges them)"


def read_samm_long(root: Path, sheet: Path | None = None, strict: bool = False) -> LongVideoCheck:
    """SAMM Long Videos as distributed: ``SAMM_LongVideos_V1_Release.xlsx`` (V2, V3 too), worksheet
    ``FACS_Movement_Only`` with title rows above its header (found by name: Subject, Filename, Inducement Code,
    Onset, Apex, Offset, Duration, Type, Action Units, Notes), and ``SAMM_longvideos/006_1/006_1_0001.jpg``.

    A row's video is the first two parts of its Filename (``006_1_3`` → ``006_1``: SOFTNet's reader), whose
    first part is its Subject. Type ``Micro - 1/2`` is a micro-expression, ``Macro`` a macro-expression (the
    organisers' reader tests the second letter, ``i``). Frame cells that are fractions are rounded half up as the
    organisers' reader does. An apex of -1 or outside onset..offset is unknown. The organisers' reader keeps the
    macro-expressions with onset 0 in its ground truth (frames are numbered from 0001, the first frame SOFTNet's
    reader crops by; mebench uses the video's first frame, named); SOFTNet drops them ("Ignore the samples that is
    extremely long in SAMMLV") — mebench keeps them, as the organisers' ground truth does.

    The long-video sheet has no emotion column: an ME interval takes the Estimated Emotion of the row of the SAMM
    micro-expression sheet (``SAMM_Micro_FACS_Codes_v2.xlsx``, found below ``root`` or in the ``SAMM/`` folder beside
    it, where ``samm`` reads it) with the same Filename, as MEAN's loader merges the two sheets on Filename and Type
    (``load_excel.py``); MaE intervals carry none. An ME interval without such a row is listed in the warnings;
    without the sheet no interval carries an emotion, which the sources say.

    Not confirmed by a public source: the frame-file names beyond the last four digits (the organisers' reader
    globs ``<video>_*<4 digits>.jpg``; numbers are read from the last digits of a name), and that V2 and V3 keep the
    worksheet name and columns (SOFTNet reads V2's first worksheet with the same ten columns).
    """
    root = Path(root)
    path = find_annotation(root, SAMM_SHEETS, "SAMM Long Videos annotation", "sheet", sheet, prune=SAMM_FRAME_TREES)
    bases = find_dirs(root, lambda d: d.name.casefold() == "samm_longvideos", max_depth=2, prune=SAMM_FRAME_TREES)
    if not bases:
        raise DataError(root, "no frame folder SAMM_longvideos/ below this folder",
                        "unpack SAMM_longvideos/ (SAMM_longvideos/006_1/006_1_0001.jpg)")
    folders = {p.name: p for p in sorted(bases[0].iterdir()) if p.is_dir() and SAMM_VIDEO.match(p.name)}
    table = read_sheet(path, SAMM_COLUMNS, sheets=("FACS_Movement_Only",))
    emotions, emotion_line = _samm_me_emotions(root)
    unmatched: list[str] = []
    builders: dict[str, _VideoBuilder] = {}
    for row, record in table:
        filename = _cell_text(record["Filename"])
        parts = filename.split("_")
        if len(parts) < 2 or not (parts[0].isdigit() and parts[1].isdigit()):
            raise DataError(table.source, f"Filename {filename!r} is not like 006_1_3", "correct the cell", row)
        video = f"{parts[0]}_{parts[1]}"
        subject = _cell_text(record["Subject"])
        if not re.fullmatch(r"\d+(\.0)?", subject) or int(float(subject)) != int(parts[0]):
            raise DataError(table.source, f"Subject {record['Subject']!r} is not the subject of {filename}",
                            "correct the cell", row)
        if video not in folders:
            raise DataError(bases[0], f"no folder {video}/ of the video that {table.source}, row {row} annotates",
                            "restore the video's frames from your copy")
        builder = builders.get(video)
        if builder is None:
            builder = builders[video] = _VideoBuilder(index_frames(folders[video]), strict)
        video_id = f"samm-long/{parts[0]}/{video}"
        where = f"{table.source}, row {row}: {video_id}"
        rounded: list[str] = []
        frames = {name: _frame_cell(record[name], name, table.source, row, rounded, where)
                  for name in ("Onset", "Apex", "Offset")}
        for text in rounded:
            builder.note(text, table.source, row)
        if frames["Onset"] is None or frames["Offset"] is None:
            raise DataError(table.source, f"{video_id}: empty {'Onset' if frames['Onset'] is None else 'Offset'}",
                            "correct the cell", row)
        apex = frames["Apex"] if frames["Apex"] is not None and frames["Apex"] >= 0 else None
        if frames["Apex"] is not None and apex is None:
            builder.note(f"{where}: apex {frames['Apex']} means missing; used no apex (unknown)", table.source, row)
        kind = _kind(record["Type"], "Type", table.source, row)
        emotion = emotions.get(filename.casefold(), (None,))[0] if kind == "me" else None
        if kind == "me" and emotions and emotion is None:
            unmatched.append(f"{table.source}, row {row}: {video_id} ME {filename} "
                             f"({frames['Onset']}..{frames['Offset']}) has no row of that Filename in the SAMM "
                             f"micro-expression sheet: no emotion (spotting-only)")
        builder.add(video_id, frames["Onset"], apex, frames["Offset"], kind, emotion, table.source, row)
    videos = [(builders.get(name) or _VideoBuilder(index_frames(folder), strict)).video(
        "samm-long", name.split("_")[0], name, FPS["samm-long"], cropped=False) for name, folder in folders.items()]
    matched = sum(1 for video in videos for i in video.intervals if i.kind == "me" and i.emotion)
    return LongVideoCheck("samm-long", videos, [
        f"annotation {table.description}",
        f"frames {bases[0]}/<video>/<video>_<n>.jpg (not cropped; {len(folders)} videos, those without any "
        f"expression included)",
        emotion_line + (f": {matched} ME intervals matched, {len(unmatched)} not" if emotions else "")], unmatched)


# --- SMIC-E -----------------------------------------------------------------------------------------------

def read_smic_e_long(root: Path, sheet: Path | None = None, camera: str = "HS", strict: bool = False
                     ) -> LongVideoCheck:
    """SMIC-E's long clips as whole videos: the annotation and clip folders ``smic_e.read_smic_e`` reads, one video
    per clip folder, one ME interval per annotated span (OnsetF..OffsetF, Onset2F..Offset2F, …) with the row's
    Emotion; no apex, no macro-expressions (SMIC-E annotates none). A span the recognition task refuses (it
    repeats an earlier span of its row, is longer than ``smic_e.LONGEST_SECONDS``, or lies outside FirstF..LastF)
    is refused here too; clips whose video was lost are skipped with a warning.

    Not confirmed by a public source: as for ``smic-e`` (``smic_e.py``): the frame folders of VIS and NIR."""
    dataset = SMIC_E_DATASETS[camera]
    reading = smic_e.read_smic_e(Path(root), sheet, camera)
    builders: dict[Path, tuple[str, str, _VideoBuilder]] = {}
    for clip in reading.clips:
        if problems := span_problems(clip):
            raise DataError(clip.source, f"{clip.id}: {'; '.join(problems)}", "correct the cells", clip.row)
        if clip.folder not in builders:
            name = re.sub(r"_span\d+$", "", clip.name)
            builders[clip.folder] = (clip.subject.split("/", 1)[1], name,
                                     _VideoBuilder(index_frames(clip.folder, clip.source, clip.row), strict))
        subject, name, builder = builders[clip.folder]
        builder.add(f"{dataset}/{subject}/{name}", clip.onset, None, clip.offset, "me", clip.emotion or None,
                    clip.source, clip.row)
    videos = [builder.video(dataset, subject, name, smic_e.FPS[camera], cropped=False)
              for subject, name, builder in sorted(builders.values(), key=lambda b: (b[0], b[1]))]
    return LongVideoCheck(dataset, videos, reading.sources, reading.warnings)


# --- CAS(ME)³ Part A ---------------------------------------------------------------------------------------

CASME3_SHEETS = ("CAS(ME)3_part_A_v2.xls", "CAS(ME)3_part_A_v2.xlsx", "CAS(ME)3_part_A_v2.csv")
CASME3_COLUMNS = (Column("Subject"), Column("Filename"), Column("Onset"), Column("Apex"), Column("Offset"),
                  Column("Expression type", ("Type",)))


def _casme3_table(path: Path):
    """The ``AU+Emotion`` worksheet of the Part A annotation below its header row (found by name)."""
    if path.suffix.casefold() != ".xls":
        return read_sheet(path, CASME3_COLUMNS, sheets=("AU+Emotion",))
    name, rows = _xls_rows(path, "AU+Emotion")
    for number, values in enumerate(rows[:50], start=1):
        if any(_cell_text(v).casefold() == "subject" for v in values):
            return _sheet_below(path, name, True, number, values, iter(rows[number:]), list(CASME3_COLUMNS))
    raise DataError(path, f"no header row (a row with a cell 'Subject') in sheet {name!r}",
                    f"expected a header with columns {', '.join(c.name for c in CASME3_COLUMNS)}")


def _casme3_emotions(root: Path) -> tuple[dict[tuple[str, str, int], str], list[str]]:
    """(Subject, Filename in lower case, Onset) → emotion from the ME sheet the recognition tasks read
    (``casme3.ANNOTATION``), where the copy has it below ``root``; and a line saying what was read."""
    found = find_files(root, casme3.ANNOTATION, prune=casme3.SUBJECT_FOLDERS)
    if len(found) != 1:
        return {}, []
    table = read_sheet(found[0], casme3.COLUMNS, sheets=("label",))
    emotions = {}
    for row, record in table:
        onset = _frame_cell(record["Onset"], "Onset", table.source, row)
        emotion = _cell_text(record["emotion"])
        if onset is not None and emotion:
            emotions[(_cell_text(record["Subject"]), _cell_text(record["Filename"]).casefold(), onset)] = emotion
    return emotions, [f"ME emotions {table.description} (by Subject, Filename and Onset)"]


def read_casme3a_long(root: Path, sheet: Path | None = None, strict: bool = False) -> LongVideoCheck:
    """CAS(ME)³ Part A's whole recordings with every annotated expression: ``CAS(ME)3_part_A_v2.xls`` (in
    ``jingtingEmmaLi/CAS-ME-3``, ``annotation/partA/``; worksheet ``AU+Emotion``, header Subject, Filename, Onset,
    Apex, Offset, AU, Expression type (``Micro-expression`` / ``Macro-expression``), Objective class: 860 ME and
    3,346 MaE rows, 98 subjects, 956 recordings in the public copy) and the frames ``casme3.py`` reads
    (``<frames>/spNO.1/a/color/<n>.jpg``). 859 of its 860 ME rows match a row of the ME sheet the recognition tasks
    read (``…JpgIndex_v2.xlsx``, frame-file numbers) by subject, recording and onset (the other is the JpgIndex
    sheet's onset slip ``spNO.216`` ``d`` 3647, 2647 here), so its numbers are frame-file numbers. Every recording
    folder is a video, those without an annotated expression too. The sheet has no emotion column: an ME interval
    takes the emotion of the row of the ME sheet (``…JpgIndex_v2.xlsx``, where the copy has it) with its subject,
    recording and onset; MaE intervals carry none.

    Reading ``.xls`` needs the ``xlrd`` package; an ``.xlsx`` or UTF-8 ``.csv`` copy of the worksheet with the same
    name reads without it. Not confirmed by a public source: as for ``casme3a`` (``casme3.py``): the folder holding
    the subject folders and whether frames sit in ``color/``."""
    root = Path(root)
    path = find_annotation(root, CASME3_SHEETS, "CAS(ME)³ Part A annotation (all expressions)", "sheet", sheet,
                           prune=casme3.SUBJECT_FOLDERS)
    frames, frames_line = casme3.frames_root(root)
    table = _casme3_table(path)
    emotions, emotion_lines = _casme3_emotions(root)
    builders: dict[tuple[str, str], tuple[_VideoBuilder, Path]] = {}
    for row, record in table:
        subject, filename = _cell_text(record["Subject"]), _cell_text(record["Filename"])
        if not casme3.SUBJECT.match(subject):
            raise DataError(table.source, f"Subject {record['Subject']!r} is not like spNO.1", "correct the cell", row)
        if not filename:
            raise DataError(table.source, "empty Filename", "correct the cell", row)
        folder, case_note = casme3.recording_folder(frames, subject, filename)
        key = (subject, (folder.parent.name if folder.name == "color" else folder.name))
        if key not in builders:
            builder = _VideoBuilder(index_frames(folder, table.source, row), strict)
            if case_note:
                builder.notes.append(f"{table.source}, row {row}: casme3a-long/{subject}/{key[1]}: {case_note}; used "
                                     f"{folder}")
            builders[key] = (builder, folder)
        builder = builders[key][0]
        values = {name: _frame_cell(record[name], name, table.source, row) for name in ("Onset", "Apex", "Offset")}
        if values["Onset"] is None or values["Offset"] is None:
            missing = "Onset" if values["Onset"] is None else "Offset"
            raise DataError(table.source, f"casme3a-long/{subject}/{key[1]}: empty {missing}", "correct the cell", row)
        kind = _kind(record["Expression type"], "Expression type", table.source, row)
        emotion = emotions.get((subject, filename.casefold(), values["Onset"])) if kind == "me" else None
        builder.add(f"casme3a-long/{subject}/{key[1]}", values["Onset"], values["Apex"], values["Offset"], kind,
                    emotion, table.source, row)
    for subject_folder in sorted(p for p in frames.iterdir() if p.is_dir() and casme3.SUBJECT.match(p.name)):
        for recording in sorted(p for p in subject_folder.iterdir() if p.is_dir()):
            if (subject_folder.name, recording.name) not in builders:
                folder = recording / "color" if (recording / "color").is_dir() else recording
                builders[(subject_folder.name, recording.name)] = (_VideoBuilder(index_frames(folder), strict), folder)
    videos = [builder.video("casme3a-long", subject, name, FPS["casme3a-long"], cropped=False)
              for (subject, name), (builder, _) in sorted(builders.items())]
    return LongVideoCheck("casme3a-long", videos, [
        f"annotation {table.description}",
        f"{frames_line}/<Subject>/<Filename>/ (whole recordings, not cropped; {len(videos)} videos, those without "
        f"any expression included)", *emotion_lines])


#: Each long-video dataset's reader, by dataset name: ``reader(root, sheet=None, strict=False)``.
READERS: dict[str, Callable[..., LongVideoCheck]] = {
    "casme2-long": read_casme2_long,
    "samm-long": read_samm_long,
    "casme3a-long": read_casme3a_long,
    **{dataset: (lambda root, sheet=None, strict=False, camera=camera: read_smic_e_long(root, sheet, camera, strict))
       for camera, dataset in SMIC_E_DATASETS.items()},
}
