"""CAS(ME)³ Part A as distributed: the micro-expression sheet ``cas(me)3_part_A_ME_label_JpgIndex_v2.xlsx``
(sheet ``label``: Subject ``spNO.1``…, Filename ``a``…``m``, Onset, Apex, Offset, AU, Objective class,
emotion; 860 rows, 94 subjects; public in ``jingtingEmmaLi/CAS-ME-3``, ``annotation/partA/``), found by
name anywhere below ``CASME3/``, and the frames of each recording, ``<frames>/<Subject>/<Filename>/color/<n>.jpg``
(``<n>`` the frame number the sheet uses: "The frames in the Part A annotation file correspond to the image
file names", the CAS(ME)³ readme: ``CAS(ME)^3_readme.pdf``, in ``jingtingEmmaLi/CAS-ME-3`` from commit ``2dabe32``
until its deletion in ``dc83ab5``). A recording holds several micro-expressions: a sample is the span
onset..offset of one row, and its name is ``<Filename>_<Onset>`` with the onset as the sheet gives it
(the authors' own sample ids are ``<Subject>_<Filename>_<Onset>``: ``RGBD_tensor_construction.py``), so
``casme3a/spNO.1/a_355``. Errata name a clip by that name, before they correct its onset.

Not confirmed by a public source, so both forms are accepted and ``mebench data check`` says what it
read: the name of the folder holding the subject folders (any folder below ``CASME3/`` holding
``spNO.<n>`` folders; ``part_A`` preferred where there are several) and whether a recording's frames sit
in ``color/`` or directly in the Filename folder. One Filename is upper-case in the sheet (spNO.14 ``J``):
a folder whose name differs only in case is used, with a note.

The release's ``exception/`` lists (damaged images, images of bad quality), where a copy has them below
``CASME3/``, make ``mebench data check`` warn about each sample whose span holds a listed frame.

Part C (``CAS(ME)3_part_C_ME.xlsx``, sheet ``mockCrimeME``) is not read: its frame numbers are positions
in a folder's order, not file names ("the frame annotation in Part C is based on the order of the images in the
folder, rather than the file name of that image", the same readme), and no public source shows how its frames are
laid out or ordered, so a reader could only guess which image a number means (docs/datasets.md).

Reference: Li et al., CAS(ME)³: A Third Generation Facial Spontaneous Micro-Expression Database with
Depth Information and High Ecological Validity, IEEE TPAMI 45(3), 2023.
"""

from __future__ import annotations

import re
from pathlib import Path

from mebench.data import MEGC2019_CLASSES, Reference
from mebench.errors import DataError
from mebench_plugins.datasets.action_units import au_cell
from mebench_plugins.datasets.clips import Clip, Reading
from mebench_plugins.datasets.declaration import Database, NativeTask
from mebench_plugins.datasets.sheets import (AU_COLUMN, Column, find_annotation, find_dirs, find_files, frame_number,
                                             read_sheet)

CASME3 = Reference("Li, J.; Dong, Z.; Lu, S.; Wang, S.-J.; Yan, W.-J.; Ma, Y.; Liu, Y.; Huang, C.; Fu, X.",
                   "CAS(ME)³: A Third Generation Facial Spontaneous Micro-Expression Database with Depth Information "
                   "and High Ecological Validity", "IEEE TPAMI 45(3)", 2023)
#: The emotion vocabulary (sheet ``label``, column ``emotion``) and its MEGC2019 3-class mapping: the 4-class
#: grouping negative = disgust, fear, anger, sad; 'Others' (3 rows) is a spelling of 'others'.
EMOTIONS = {"disgust": "negative", "fear": "negative", "anger": "negative", "sad": "negative",
            "happy": "positive", "surprise": "surprise", "others": None}

ANNOTATION = ("cas(me)3_part_A_ME_label_JpgIndex_v2.xlsx",)
COLUMNS = (Column("Subject"), Column("Filename"), Column("Onset", ("OnsetFrame", "Onset Frame")),
           Column("Apex", ("ApexFrame", "Apex Frame")), Column("Offset", ("OffsetFrame", "Offset Frame")),
           Column("emotion", ("Estimated Emotion",)), AU_COLUMN)
SUBJECT = re.compile(r"^spNO\.\d+$")
SUBJECT_FOLDERS = r"^spNO\.\d+$"  # not searched for the annotation or the frame folder
EXCEPTION_LISTS = ("image_with_bad_quality_partA.txt", "error_info_damaged_image_partA.txt")
#: Values of the public sheet that every sheet of the authors gives and MEB corrects without a published source:
#: (Subject, Filename, Onset) → (field, the sheet's value, what ``mebench data check`` says). Not corrected: a
#: warning names the conflict (docs/datasets.md, "CAS(ME)³ Part A").
CONFLICTS = {("spNO.214", "c", 5): ("Offset", 3460, "offset 3460 (a 3,456-frame span) is what every sheet of the "
                                                    "authors gives (CAS(ME)3_part_A_v2.xls, _v1.xls and both "
                                                    "JpgIndex sheets); MEB corrects it to 34 (source not "
                                                    "published); used 3460 (the authors'); an erratum sets "
                                                    "another")}
#: ``spNO.3 J 498.jpg …`` (damaged list) and ``…/spNO.138/a/color/1294.jpg`` (bad-quality list)
LISTED_FRAME = re.compile(r"(spNO\.\d+)[\s/]+([A-Za-z]+)[\s/]+(?:color/)?(\d+)\.jpg")


def frames_root(root: Path) -> tuple[Path, str]:
    """The folder holding the ``spNO.<n>`` subject folders, and a line saying how it was chosen."""
    candidates = find_dirs(root, lambda d: any(SUBJECT.match(p.name) and p.is_dir() for p in d.iterdir()),
                           prune=SUBJECT_FOLDERS)
    if not candidates:
        raise DataError(root, "no frame folder: no folder below it holds spNO.<n> subject folders",
                        "unpack the Part A frames below CASME3/ (as part_A/spNO.1/a/color/1.jpg)")
    if len(candidates) > 1:
        named = [c for c in candidates if c.name.casefold() == "part_a"]
        if len(named) != 1:
            raise DataError(root, f"several folders hold spNO.<n> subject folders: "
                                  f"{', '.join(map(str, candidates))}",
                            "keep Part A's (named part_A) or point --dataset-opt casme3_root at a folder with one")
        return named[0], f"frames {named[0]} (part_A of {len(candidates)} folders holding spNO.<n> folders)"
    return candidates[0], f"frames {candidates[0]}"


def recording_folder(frames: Path, subject: str, filename: str) -> tuple[Path, str | None]:
    """The folder of one recording's frames (``color/`` inside it when present) and a note when the
    Filename matched a folder only with another case."""
    folder, note = frames / subject / filename, None
    if not folder.is_dir() and (frames / subject).is_dir():
        same = [p for p in (frames / subject).iterdir() if p.is_dir() and p.name.casefold() == filename.casefold()]
        if len(same) == 1:
            folder, note = same[0], f"Filename {filename!r} matched the folder {same[0].name!r} (case differs)"
    return (folder / "color" if (folder / "color").is_dir() else folder), note


def exception_frames(root: Path) -> tuple[dict[tuple[str, str], list[tuple[int, str]]], list[str]]:
    """(subject, Filename in lower case) → [(frame, list file name)] from the exception lists found below
    ``root``, and a line naming each list read."""
    listed: dict[tuple[str, str], list[tuple[int, str]]] = {}
    read = []
    for path in find_files(root, EXCEPTION_LISTS, prune=SUBJECT_FOLDERS):
        read.append(f"exception list {path}")
        for line in path.read_text(errors="replace").splitlines():
            if match := LISTED_FRAME.search(line):
                listed.setdefault((match.group(1), match.group(2).casefold()), []).append(
                    (int(match.group(3)), path.name))
    return listed, read


def read_casme3a(root: Path, sheet: Path | None = None) -> Reading:
    root = Path(root)
    path = find_annotation(root, ANNOTATION, "CAS(ME)³ Part A micro-expression sheet", "sheet", sheet,
                           prune=SUBJECT_FOLDERS)
    frames, frames_line = frames_root(root)
    table = read_sheet(path, COLUMNS, sheets=("label",))
    listed, lists = exception_frames(root)
    clips, layouts, warnings = [], set(), []
    for row, record in table:
        subject, filename = str(record["Subject"] or "").strip(), str(record["Filename"] or "").strip()
        if not SUBJECT.match(subject):
            raise DataError(table.source, f"Subject {record['Subject']!r} is not like spNO.1",
                            "correct the cell", row)
        if not filename:
            raise DataError(table.source, "empty Filename", "correct the cell", row)
        onset = frame_number(record["Onset"], "Onset", table.source, row)
        emotion = str(record["emotion"] or "").strip()
        folder, note = recording_folder(frames, subject, filename)
        if (conflict := CONFLICTS.get((subject, filename, onset))) and \
                frame_number(record[conflict[0]], conflict[0], table.source, row) == conflict[1]:
            warnings.append(f"{table.source}, row {row}: casme3a/{subject}/{filename}_{onset}: {conflict[2]}")
        layouts.add("color/" if folder.name == "color" else "directly in the Filename folder")
        clips.append(Clip(
            dataset="casme3a", subject=f"casme3a/{subject}", name=f"{filename}_{onset}", emotion=emotion, onset=onset,
            apex=frame_number(record["Apex"], "Apex", table.source, row, missing_ok=True),
            offset=frame_number(record["Offset"], "Offset", table.source, row),
            folder=folder, source=table.source, row=row, cropped=False, recording=True,
            corrections=(f"{table.source}, row {row}: casme3a/{subject}/{filename}_{onset}: {note}; used "
                         f"{folder}",) if note else (),
            flagged=tuple(listed.get((subject, filename.casefold()), ())), au=au_cell(record),
        ))
    sources = [f"annotation {table.description}",
               f"{frames_line}/<Subject>/<Filename>/ (whole recordings, not cropped; frames "
               f"{' and '.join(sorted(layouts)) or 'in color/ or the Filename folder'})"]
    return Reading(clips, sources + lists, warnings)


DATABASE = Database(
    "casme3a", "CAS(ME)³ Part A", "casme3", read_casme3a, folder="CASME3", root_name="CAS(ME)³", reference=CASME3,
    emotions=EMOTIONS,
    tasks=(
        NativeTask("casme3a", MEGC2019_CLASSES, None,
                   "CAS(ME)³ Part A, 3-class (MEGC2019 scheme; others excluded): 699 samples, 88 subjects "
                   "(negative 457, positive 55, surprise 187) in the public v2 sheet"),
        # the seven self-reported emotions of the v2 ME sheet (860 clips); 'Others' is 'others'
        NativeTask("casme3a-7class", ("disgust", "surprise", "others", "fear", "anger", "sad", "happy"), {
            "disgust": "disgust", "surprise": "surprise", "others": "others", "fear": "fear", "anger": "anger",
            "sad": "sad", "happy": "happy"},
            "CAS(ME)³ Part A 7 emotions: disgust 250, surprise 187, others 161, fear 86, anger 64, sad 57, happy 55 "
            "— 860 samples, 94 subjects"),
        # the "4Emo" task the authors confirm their paper used (CAS-ME-3 issue #1), grouped as commonly done
        NativeTask("casme3a-4class", ("negative", "positive", "surprise", "others"), {
            "disgust": "negative", "fear": "negative", "anger": "negative", "sad": "negative", "happy": "positive",
            "surprise": "surprise", "others": "others"},
            "CAS(ME)³ Part A 4-class: negative (disgust+fear+anger+sad) 457, positive 55, surprise 187, others 161 "
            "— 860 samples, 94 subjects"),
    ),
    au_task="casme3a-au",
    au_description="CAS(ME)³ Part A action units from the ME sheet's AU column (the public v2 sheet: 860 rows)")
