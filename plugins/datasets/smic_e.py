"""SMIC-E as distributed: the long clips of SMIC's three cameras with their annotated micro-expression
spans. The annotation ``SMIC-<camera>-E_annotation.xlsx`` (Subject, Filename, OnsetF, OffsetF,
Onset2F, Offset2F, …, FirstF, LastF, …, Emotion; no apex) is found by name anywhere below ``SMIC/``;
copies that hold one sheet per camera in one file (``SMIC-HS-E_annotation.xlsx`` with sheets ``HS`` and
``VIS``, as in ``davidnvq/me_recognition``) are read by the camera's sheet. The long clips are folders
named like the Filename (``s3_ne_02``; subject folders padded or not) below ``<camera>_long/`` (or
``SMIC_<camera>_E/``), frames numbered by the digits of their names (``image17581039.jpg``).

Each annotated span is a sample: the span OnsetF..OffsetF of a row is named like the clip
(``smic-e-hs/s03/s03_ne_02``), a second or third span (Onset2F..Offset2F) adds ``_span2``/``_span3``.
The label is the Emotion cell; where it disagrees with the clip's name (``s18_sur_03`` is labelled
negative in the public sheets) the sheet's label is used and the disagreement is noted on the sample.
Five HS clips have no video ("don't exist in the downloaded datasets": the davidnvq/me_recognition
README; "data loss of the original videos": the SMIC page): their rows, and any row whose FirstF says
MISSING, are skipped with a warning when their folder is absent.

Every span is checked as the sheet gives it (``frames.span_problems``) and refused, named, when it repeats an
earlier span of its row, is longer than ``LONGEST_SECONDS`` at the camera's frame rate, or does not lie within the
clip's FirstF..LastF (the modified public HS sheet's ``Onset3F``/``Offset3F`` cells, and ``s1_ne_03`` of both).

Not confirmed by a public source: the frame folder names of VIS and NIR and whether a NIR annotation
exists (public copies have HS and VIS sheets only). ``mebench data check`` says what it read.

Reference: Li et al., Towards Reading Hidden Emotions: A Comparative Study of Spontaneous
Micro-expression Spotting and Recognition Methods, IEEE Transactions on Affective Computing 9(4), 2018.
"""

from __future__ import annotations

import re
from functools import partial
from pathlib import Path

from mebench.data import MEGC2019_CLASSES, Reference
from mebench.errors import DataError
from mebench_plugins.datasets.clips import Clip, Reading
from mebench_plugins.datasets.declaration import Database, NativeTask
from mebench_plugins.datasets.sheets import Column, find_annotation, find_dirs, find_files, frame_number, read_sheet
from mebench_plugins.datasets.smic import EMOTIONS, RECORDINGS, ROOT

SMIC_E = Reference("Li, X.; Hong, X.; Moilanen, A.; Huang, X.; Pfister, T.; Zhao, G.; Pietikäinen, M.",
                   "Towards Reading Hidden Emotions: A Comparative Study of Spontaneous Micro-expression Spotting "
                   "and Recognition Methods", "IEEE Transactions on Affective Computing 9(4)", 2018)

CLIP_NAME = re.compile(r"^s(\d+)_(ne|po|sur)_(\d+)$")
TAGS = {"ne": "negative", "po": "positive", "sur": "surprise"}
CAMERAS = {"HS": "smic-e-hs", "VIS": "smic-e-vis", "NIR": "smic-e-nir"}
COLUMNS = (Column("Subject"), Column("Filename"), Column("OnsetF", ("Onset1F", "Onset")),
           Column("OffsetF", ("Offset1F", "Offset")), Column("Emotion", ("Estimated Emotion",)),
           Column("FirstF", required=False), Column("LastF", required=False), Column("TotalVL", required=False))
EXTRA_SPAN = re.compile(r"^onset([2-9])f$", re.IGNORECASE)
#: HS clips listed in the annotation whose long videos were lost (davidnvq/me_recognition README).
LOST = {"HS": {"s3_ne_03", "s3_ne_20", "s4_ne_05", "s4_ne_06", "s9_sur_02"}}
FRAME_TREES = r"^(HS|VIS|NIR|SMIC_all_cropped|.*_long|SMIC_.*_E)$"
#: Frames per second of each camera (Li et al. 2013: HS 100 fps, VIS and NIR 25 fps).
FPS = {"HS": 100, "VIS": 25, "NIR": 25}
#: The longest span accepted, in seconds: far above the public sheets' longest span (58 HS frames, 0.58 s; 13 VIS
#: frames, 0.52 s), far below the 36,601 to 142,801 frames of the modified sheet's third spans.
LONGEST_SECONDS = 2


def _number(value) -> int | None:
    """A frame-number cell as an integer, or None (empty, or text such as ``MISSING <-426679``)."""
    try:
        number = float(str(value).strip())
        return int(number) if number == int(number) else None
    except (ValueError, OverflowError):
        return None


def extent(record) -> tuple[int, int] | None:
    """The long clip's first and last frame as the sheet gives them: FirstF..LastF, or FirstF..FirstF +
    TotalVL - 1 where the sheet has no LastF (the public VIS sheet); None where FirstF is not a number."""
    first, last, length = (_number(record.get(name)) for name in ("FirstF", "LastF", "TotalVL"))
    if first is None:
        return None
    if last is None and length is not None:
        last = first + length - 1
    return (first, last) if last is not None else None


def annotation(root: Path, camera: str, sheet: Path | None) -> Path:
    """The camera's annotation: ``SMIC-<camera>-E_annotation.xlsx``, else the one SMIC-*-E annotation
    file with a sheet named after the camera."""
    exact = (f"SMIC-{camera}-E_annotation.xlsx",)
    if sheet or find_files(root, exact, prune=FRAME_TREES):
        return find_annotation(root, exact, f"SMIC-E {camera} annotation", "sheet", sheet, prune=FRAME_TREES)
    import openpyxl

    holders = []
    for path in find_files(root, ("SMIC-*-E_annotation.xlsx",), prune=FRAME_TREES):
        workbook = openpyxl.load_workbook(path, read_only=True)
        if camera.casefold() in (n.casefold() for n in workbook.sheetnames):
            holders.append(path)
        workbook.close()
    if len(holders) != 1:
        raise DataError(root, f"expected one SMIC-E {camera} annotation anywhere below this folder: "
                              f"SMIC-{camera}-E_annotation.xlsx, or a SMIC-*-E_annotation.xlsx with a sheet "
                              f"{camera!r}; found {', '.join(map(str, holders)) or 'none'}",
                        "keep the annotation distributed with SMIC-E, or pass --dataset-opt sheet=FILE")
    return holders[0]


def clip_key(name: str) -> tuple[int, str, int] | None:
    match = CLIP_NAME.match(name)
    return (int(match.group(1)), match.group(2), int(match.group(3))) if match else None


def read_smic_e(root: Path, sheet: Path | None = None, camera: str = "HS") -> Reading:
    root, dataset = Path(root), CAMERAS[camera]
    if not root.is_dir():
        raise DataError(root, "SMIC folder not found", "point --data-root at the folder holding SMIC/ "
                                                       "(or --dataset-opt smic_root=DIR)")
    path = annotation(root, camera, sheet)
    bases = find_dirs(root, lambda d: d.name.casefold() in (f"{camera}_long".casefold(),
                                                            f"SMIC_{camera}_E".casefold()),
                      max_depth=2, prune=r"^s\d+$")
    if not bases:
        raise DataError(root, f"no long-clip folder {camera}_long/ or SMIC_{camera}_E/ below this folder",
                        f"unpack the SMIC-E {camera} long clips ({camera}_long/…/s1_ne_01/image<n>.jpg)")
    base = bases[0]
    folders = {}
    for folder in find_dirs(base, lambda d: clip_key(d.name) is not None, max_depth=3):
        folders.setdefault(clip_key(folder.name), folder)
    table = read_sheet(path, COLUMNS, sheets=(camera,))
    clips, warnings = [], []
    for row, record in table:
        filename = str(record["Filename"] or "").strip()
        key = clip_key(filename)
        if key is None:
            raise DataError(table.source, f"Filename {filename!r} is not like s1_ne_01", "correct the cell", row)
        subject_cell = str(record["Subject"] if record["Subject"] is not None else "").strip().lower().lstrip("s")
        if not subject_cell.replace(".0", "").isdigit() or int(float(subject_cell)) != key[0]:
            raise DataError(table.source, f"Subject {record['Subject']!r} is not the subject of {filename}",
                            "correct the cell", row)
        folder = folders.get(key)
        lost = filename in LOST.get(camera, set()) or str(record.get("FirstF") or "").upper().startswith("MISSING")
        if folder is None and lost:
            warnings.append(f"{table.source}, row {row}: {filename} has no long clip (its video was lost); skipped")
            continue
        subject = f"s{key[0]:02d}"
        name = f"{subject}_{key[1]}_{key[2]:02d}"
        emotion = str(record["Emotion"] or "").strip()
        notes = ()
        if emotion.lower() != TAGS[key[1]]:  # as written, against the clip name's (an unknown one: the task's error)
            notes = (f"{table.source}, row {row}: {dataset}/{subject}/{name}: Emotion {emotion!r} disagrees with the "
                     f"clip name's {TAGS[key[1]]!r}; used {emotion!r} (the sheet's label)",)
        spans = [(1, record["OnsetF"], record["OffsetF"])]
        for column in record:
            if (match := EXTRA_SPAN.match(column)) and record[column] not in (None, ""):
                number = int(match.group(1))
                offset = next((record[c] for c in record if c.casefold() == f"offset{number}f"), None)
                spans.append((number, record[column], offset))
        seen: dict[tuple[int, int], str] = {}
        for number, onset, offset in spans:
            onset = frame_number(onset, f"Onset{number}F" if number > 1 else "OnsetF", table.source, row)
            offset = frame_number(offset, f"Offset{number}F" if number > 1 else "OffsetF", table.source, row)
            columns = f"Onset{number}F..Offset{number}F" if number > 1 else "OnsetF..OffsetF"
            clips.append(Clip(
                dataset=dataset, subject=f"{dataset}/{subject}", name=name + (f"_span{number}" if number > 1 else ""),
                emotion=emotion, onset=onset, apex=None, offset=offset,
                folder=folder or base / filename, source=table.source, row=row, cropped=False, annotated=False,
                recording=True, corrections=notes, extent=extent(record), longest=LONGEST_SECONDS * FPS[camera],
                repeats=seen.get((onset, offset)),
            ))
            seen.setdefault((onset, offset), columns)
    return Reading(clips, [f"annotation {table.description}",
                           f"long clips {base}/…/<Filename>/ (found by name up to three levels down; not cropped; "
                           f"one sample per annotated span)"], warnings)


#: The long clips of each camera, 3-class on the annotated spans.
HS = Database("smic-e-hs", "SMIC-E-HS", reader=partial(read_smic_e, camera="HS"), **ROOT, reference=SMIC_E,
              emotions=dict(EMOTIONS), recordings=RECORDINGS,
              tasks=(NativeTask("smic-e-hs", MEGC2019_CLASSES, None, "SMIC-E-HS long clips, 3-class on the annotated "
                                                                     "spans (one sample per span; no apex)"),))
VIS = Database("smic-e-vis", "SMIC-E-VIS", reader=partial(read_smic_e, camera="VIS"), **ROOT, reference=SMIC_E,
               emotions=dict(EMOTIONS), recordings=RECORDINGS,
               tasks=(NativeTask("smic-e-vis", MEGC2019_CLASSES, None,
                                 "SMIC-E-VIS long clips, 3-class on the annotated spans: 71 clips, 8 subjects in the "
                                 "public sheet (one sample per span; no apex)"),))
NIR = Database("smic-e-nir", "SMIC-E-NIR", reader=partial(read_smic_e, camera="NIR"), **ROOT, reference=SMIC_E,
               emotions=dict(EMOTIONS), recordings=RECORDINGS,
               tasks=(NativeTask("smic-e-nir", MEGC2019_CLASSES, None, "SMIC-E-NIR long clips, 3-class on the "
                                                                       "annotated spans (one sample per span; no "
                                                                       "apex)"),))
