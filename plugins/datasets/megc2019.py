"""Tasks built from your copies of CASME II, SAMM and SMIC-HS.

- The MEGC2019 3-class tasks: ``combined`` (CASME II + SAMM + SMIC-HS: 442 samples, 68 subjects)
  and the single-dataset tasks ``casme2``, ``samm`` and ``smic``, all built from the official
  ground-truth list shipped with mebench. Each sample's label from the dataset's own annotation and
  the emotion rules (the database's declared vocabulary, ``declared.EMOTIONS``) must agree with the
  official list. A second official version lists 441 samples: it drops SAMM ``032_3_1``
  (``--dataset-opt gt_version=441``).
- The 5-class tasks ``casme2-5class`` and ``samm-5class``, built from the datasets' own spreadsheets
  with the inclusion rules of ``declared.FIVE_CLASS_TASKS`` (declared in ``casme2.py`` and ``samm.py``);
  there is no official list to check against.

Every task corrects known annotation slips (``frames.resolve_frames``): each correction is logged as
one warning line when the task is loaded and kept on the sample (``Sample.corrections``);
``--dataset-opt strict=true`` refuses them instead. Each sample records whether its frames are
already cropped to the face (``Sample.cropped``), from the layout that was read.
"""

from __future__ import annotations

import csv
import io
from importlib import resources
from pathlib import Path
from typing import Any, Iterable

from mebench import hookimpl
from mebench.data import MEGC2019_CLASSES, DatasetSpec, Reference
from mebench.dataset_check import DatasetCheck
from mebench.errors import DataError
from mebench.options import Option
from mebench_plugins.datasets.casme2 import CASME2  # noqa: F401 (megc2019.CASME2, as before)
from mebench_plugins.datasets.catalog import (clip_class, clip_sample, common_options, emotion_task_spec,
                                              location_options, read_clips, samples_or_error)
from mebench_plugins.datasets.declared import DESCRIPTIONS, FIVE_CLASS_TASKS
from mebench_plugins.datasets.samm import SAMM  # noqa: F401

OFFICIAL_DATASETS = ("casme2", "samm", "smic")
TASKS = {"combined": ("casme2", "samm", "smic"), "casme2": ("casme2",), "samm": ("samm",), "smic": ("smic",)}
DROPPED_IN_441 = ("samm", "032", "032_3_1")

MEGC2019 = Reference("See, J.; Yap, M.H.; Li, J.; Hong, X.; Wang, S.-J.",
                     "MEGC 2019 – The Second Facial Micro-Expressions Grand Challenge", "IEEE FG", 2019)


def subject_id(dataset: str, subject: str, file: object, row: int) -> str:
    text = subject.strip()
    try:
        if dataset == "casme2":
            return f"sub{int(text.lower().removeprefix('sub')):02d}"
        if dataset == "samm":
            return f"{int(text):03d}"
        return f"s{int(text.lower().removeprefix('s')):02d}"
    except ValueError:
        raise DataError(file, f"subject {subject!r} is not a valid {dataset} subject", "fix the official list",
                        row) from None


def read_official(path: Path | None = None, gt_version: int = 442) -> list[tuple[str, str, str, str]]:
    """(dataset, namespaced subject, clip, label) rows of the official list."""
    if path is None:
        text = resources.files("mebench_plugins").joinpath("data/megc2019_combined_3class_gt.csv").read_text()
        where: object = "mebench_plugins/data/megc2019_combined_3class_gt.csv"
    else:
        if not Path(path).is_file():
            raise DataError(path, "official list not found", "pass an existing file with --dataset-opt official=PATH")
        text, where = Path(path).read_text(), path
    rows = []
    for number, record in enumerate(csv.reader(io.StringIO(text)), start=1):
        if not record:
            continue
        if len(record) != 4 or record[0] not in OFFICIAL_DATASETS or record[3].strip() not in ("0", "1", "2"):
            raise DataError(where, f"malformed row {record}", "expected dataset,subject,filename,label(0|1|2)", number)
        dataset, subject, clip, label = (value.strip() for value in record)
        subject = f"{dataset}/{subject_id(dataset, subject, where, number)}"
        rows.append((dataset, subject, clip, MEGC2019_CLASSES[int(label)]))
    if int(gt_version) == 441:
        rows = [r for r in rows if (r[0], r[1].split("/")[1], r[2]) != DROPPED_IN_441]
    elif int(gt_version) != 442:
        raise DataError(where, f"unknown ground-truth version {gt_version}", "use gt_version=442 or 441")
    return rows


def check_task(task: str, data_root=None, *, gt_version: int = 442, official: str | None = None,
               errata: str | None = None, strict: bool = False, **locations: Any) -> DatasetCheck:
    """Match a copy of the datasets against the MEGC2019 official list; collect every problem.
    ``locations`` are the task's ``<root>_root`` and ``sheet``/``<root>_sheet`` options."""
    expected = [r for r in read_official(Path(official) if official else None, gt_version) if r[0] in TASKS[task]]
    read = read_clips(TASKS[task], data_root, locations, errata)
    classes = {sample_id: clip_class(clip) for sample_id, clip in read.clips.items()}  # the 3-class labels
    samples, missing, problems = [], [], []
    for dataset, subject, name, label in expected:
        sample_id = f"{subject}/{name}"
        clip, given = read.clips.get(sample_id), classes.get(sample_id)
        if clip is None or given is None:
            missing.append(sample_id if clip is None else f"{sample_id} (annotated {clip.emotion!r}, excluded)")
            continue
        try:
            if given != label:
                raise DataError(clip.source, f"{sample_id}: emotion {clip.emotion!r} gives {given} but the "
                                             f"official list says {label}", "correct the annotation or add an erratum",
                                clip.row)
            samples.append(clip_sample(clip, label, strict))
        except DataError as error:
            problems.append(str(error))
    expected_ids = {f"{r[1]}/{r[2]}" for r in expected}
    extra = sorted(i for i, c in classes.items() if c is not None and i not in expected_ids)
    return DatasetCheck(task, [(f"{r[1]}/{r[2]}", r[1], r[3]) for r in expected], samples, missing, extra, problems,
                        warnings=read.warnings, sources=read.sources)


def task_options(datasets: Iterable[str]) -> tuple[Option, ...]:
    """The options of a MEGC2019 task reading ``datasets``: the official list's version and copy, the errata
    file, strictness, and the folder and annotation file of each dataset it reads."""
    return ((Option("gt_version", int, 442, "version of the official MEGC2019 list (441 drops SAMM 032_3_1)",
                    choices=(442, 441)),
             Option("official", Path, None, "your own copy of the official list (CSV)"))
            + common_options() + location_options(datasets))


def megc2019_spec(task: str, description: str) -> DatasetSpec:
    def check(data_root=None, **options: Any) -> DatasetCheck:
        return check_task(task, data_root, **options)

    def ground_truth(gt_version: int = 442, official: str | None = None, **_: Any) -> list[tuple[str, str, str]]:
        return [(f"{subject}/{clip}", subject, label)
                for dataset, subject, clip, label in read_official(Path(official) if official else None, gt_version)
                if dataset in TASKS[task]]

    return DatasetSpec(name=task, load=lambda data_root=None, **options: samples_or_error(task, check(data_root, **options)),
                       check=check, description=description, reference=MEGC2019, needs_data_root=True,
                       classes=MEGC2019_CLASSES, options=task_options(TASKS[task]), ground_truth=ground_truth)


@hookimpl
def mebench_register_datasets(register):
    register(megc2019_spec("combined", "MEGC2019 3-class composite: CASME II + SAMM + SMIC-HS (442 samples, "
                                       "68 subjects)"))
    register(megc2019_spec("casme2", "CASME II, MEGC2019 3-class subset (145 samples, 24 subjects)"))
    register(megc2019_spec("samm", "SAMM, MEGC2019 3-class subset (133 samples, 28 subjects)"))
    register(megc2019_spec("smic", "SMIC-HS, MEGC2019 3-class subset (164 samples, 16 subjects; no apex annotated)"))
    for task in FIVE_CLASS_TASKS:  # casme2-5class, samm-5class: declared by casme2.py and samm.py
        register(emotion_task_spec(task, *DESCRIPTIONS[task]))
