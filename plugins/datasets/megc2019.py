"""Tasks built from your copies of CASME II, SAMM and SMIC-HS.

- The MEGC2019 3-class tasks: ``combined`` (CASME II + SAMM + SMIC-HS: 442 samples, 68 subjects)
  and the single-dataset tasks ``casme2``, ``samm`` and ``smic``, all built from the official
  ground-truth list shipped with mebench. Each sample's label from the dataset's own annotation and
  the emotion rules (``formats.EMOTIONS``) must agree with the official list. A second official
  version lists 441 samples: it drops SAMM ``032_3_1`` (``--dataset-opt gt_version=441``).
- The 5-class tasks ``casme2-5class`` and ``samm-5class``, built from the datasets' own spreadsheets
  with the inclusion rules of ``formats.FIVE_CLASS_TASKS``; there is no official list to check against.

Every task corrects known annotation slips (``formats.resolve_frames``): each correction is logged as
one warning line when the task is loaded and kept on the sample (``Sample.corrections``);
``--dataset-opt strict=true`` refuses them instead. Each sample records whether its frames are
already cropped to the face (``Sample.cropped``), from the layout that was read.
"""

from __future__ import annotations

import csv
import hashlib
import io
import logging
import os
from importlib import resources
from pathlib import Path
from typing import Any, Iterable

from mebench import hookimpl
from mebench.data import MEGC2019_CLASSES, DatasetSpec, Reference, Sample
from mebench.dataset_check import DatasetCheck
from mebench.errors import DataError
from mebench.options import Option
from mebench_plugins.datasets.casme2 import read_casme2
from mebench_plugins.datasets.formats import (FIVE_CLASS_TASKS, Clip, apply_errata, emotion_class, index_frames,
                                              load_errata, resolve_frames)
from mebench_plugins.datasets.samm import read_samm
from mebench_plugins.datasets.smic import read_smic

LOG = logging.getLogger("mebench.datasets")

READERS = {"casme2": read_casme2, "samm": read_samm, "smic": read_smic}
FOLDERS = {"casme2": "CASME2", "samm": "SAMM", "smic": "SMIC"}
NAMES = {"casme2": "CASME II", "samm": "SAMM", "smic": "SMIC"}
TASKS = {"combined": ("casme2", "samm", "smic"), "casme2": ("casme2",), "samm": ("samm",), "smic": ("smic",)}
DROPPED_IN_441 = ("samm", "032", "032_3_1")

MEGC2019 = Reference("See, J.; Yap, M.H.; Li, J.; Hong, X.; Wang, S.-J.",
                     "MEGC 2019 – The Second Facial Micro-Expressions Grand Challenge", "IEEE FG", 2019)
CASME2 = Reference("Yan, W.-J.; Li, X.; Wang, S.-J.; Zhao, G.; Liu, Y.-J.; Chen, Y.-H.; Fu, X.",
                   "CASME II: An Improved Spontaneous Micro-Expression Database and the Baseline Evaluation",
                   "PLoS ONE 9(1):e86041", 2014)
SAMM = Reference("Davison, A.K.; Lansley, C.; Costen, N.; Tan, K.; Yap, M.H.",
                 "SAMM: A Spontaneous Micro-Facial Movement Dataset", "IEEE Transactions on Affective Computing",
                 2018)


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
        if len(record) != 4 or record[0] not in READERS or record[3].strip() not in ("0", "1", "2"):
            raise DataError(where, f"malformed row {record}", "expected dataset,subject,filename,label(0|1|2)", number)
        dataset, subject, clip, label = (value.strip() for value in record)
        subject = f"{dataset}/{subject_id(dataset, subject, where, number)}"
        rows.append((dataset, subject, clip, MEGC2019_CLASSES[int(label)]))
    if int(gt_version) == 441:
        rows = [r for r in rows if (r[0], r[1].split("/")[1], r[2]) != DROPPED_IN_441]
    elif int(gt_version) != 442:
        raise DataError(where, f"unknown ground-truth version {gt_version}", "use gt_version=442 or 441")
    return rows


def dataset_root(dataset: str, data_root: str | os.PathLike | None, roots: dict[str, Any]) -> Path:
    """``--dataset-opt <dataset>_root``, else ``$MEBENCH_<DATASET>``, else ``<data root>/<FOLDER>``."""
    override = roots.get(f"{dataset}_root") or os.environ.get(f"MEBENCH_{dataset.upper()}")
    if override:
        return Path(override)
    if not data_root:
        raise DataError(FOLDERS[dataset], f"no data root for {dataset}",
                        f"pass --data-root DIR (holding {', '.join(FOLDERS.values())}) or set MEBENCH_DATA, or "
                        f"--dataset-opt {dataset}_root=DIR / MEBENCH_{dataset.upper()}")
    return Path(data_root) / FOLDERS[dataset]


def read_clips(datasets: Iterable[str], data_root, roots: dict[str, Any], errata: str | None) -> dict[str, Clip]:
    """Every annotated clip of ``datasets`` (excluded emotions too), errata applied, by sample id."""
    fixes = load_errata(Path(errata) if errata else None)
    return {clip.id: apply_errata(clip, fixes)
            for dataset in datasets for clip in READERS[dataset](dataset_root(dataset, data_root, roots))}


def clip_sample(clip: Clip, label: str, strict: bool) -> Sample:
    """The sample of one clip: frames indexed, annotation slips corrected (or refused when ``strict``).
    Raises ``DataError`` for anything that blocks."""
    frames = index_frames(clip.folder, clip.source, clip.row)
    resolved = resolve_frames(clip, frames, strict)
    key = (f"{frames.fingerprint()}:{resolved.onset}:{resolved.apex}:{resolved.offset}:{label}"
           f":cropped={clip.cropped}")
    return Sample(id=clip.id, dataset=clip.dataset, subject=clip.subject, label=label, emotion=clip.emotion,
                  frames=frames, onset=resolved.onset, apex=resolved.apex, offset=resolved.offset,
                  fingerprint=hashlib.sha256(key.encode()).hexdigest(), cropped=clip.cropped,
                  corrections=clip.corrections + resolved.corrections)


def check_task(task: str, data_root=None, *, gt_version: int = 442, official: str | None = None,
               errata: str | None = None, strict: bool = False, casme2_root: str | None = None,
               samm_root: str | None = None, smic_root: str | None = None) -> DatasetCheck:
    """Match a copy of the datasets against the MEGC2019 official list; collect every problem."""
    roots = {"casme2_root": casme2_root, "samm_root": samm_root, "smic_root": smic_root}
    expected = [r for r in read_official(Path(official) if official else None, gt_version) if r[0] in TASKS[task]]
    clips = read_clips(TASKS[task], data_root, roots, errata)
    samples, missing, problems = [], [], []
    for dataset, subject, name, label in expected:
        sample_id = f"{subject}/{name}"
        clip = clips.get(sample_id)
        if clip is None or clip.label is None:
            missing.append(sample_id if clip is None else f"{sample_id} (annotated {clip.emotion!r}, excluded)")
            continue
        try:
            if clip.label != label:
                raise DataError(clip.source, f"{sample_id}: emotion {clip.emotion!r} gives {clip.label} but the "
                                             f"official list says {label}", "correct the annotation or add an erratum",
                                clip.row)
            samples.append(clip_sample(clip, label, strict))
        except DataError as error:
            problems.append(str(error))
    expected_ids = {f"{r[1]}/{r[2]}" for r in expected}
    extra = sorted(c.id for c in clips.values() if c.label is not None and c.id not in expected_ids)
    return DatasetCheck(task, [(f"{r[1]}/{r[2]}", r[1], r[3]) for r in expected], samples, missing, extra, problems)


def check_emotion_task(task: str, data_root=None, *, errata: str | None = None, strict: bool = False,
                       casme2_root: str | None = None, samm_root: str | None = None) -> DatasetCheck:
    """A task built from one dataset's spreadsheet with the inclusion rules of ``FIVE_CLASS_TASKS``.
    There is no official list: ``expected`` is empty and every file problem is listed."""
    definition = FIVE_CLASS_TASKS[task]
    clips = read_clips((definition.dataset,), data_root, {"casme2_root": casme2_root, "samm_root": samm_root},
                       errata)
    samples, problems = [], []
    for clip in clips.values():
        label = emotion_class(definition.mapping, clip.emotion, clip.source, clip.row)
        if label is None:
            continue
        try:
            samples.append(clip_sample(clip, label, strict))
        except DataError as error:
            problems.append(str(error))
    return DatasetCheck(task, [], samples, [], [], problems)


def task_options(datasets: Iterable[str], official_list: bool) -> tuple[Option, ...]:
    """The options of a task reading ``datasets``: the official list's version and copy (MEGC2019 tasks),
    the errata file, strictness, and the folder of each dataset it reads."""
    options = []
    if official_list:
        options += [Option("gt_version", int, 442, "version of the official MEGC2019 list (441 drops SAMM 032_3_1)",
                           choices=(442, 441)),
                    Option("official", Path, None, "your own copy of the official list (CSV)")]
    options += [Option("errata", Path, None, "errata file (default: the one shipped with mebench)"),
                Option("strict", bool, False, "refuse known annotation slips instead of correcting them")]
    options += [Option(f"{dataset}_root", Path, None, f"folder of your {NAMES[dataset]} copy (default: "
                                                      f"DATA_ROOT/{FOLDERS[dataset]}, or $MEBENCH_{dataset.upper()})")
                for dataset in datasets]
    return tuple(options)


def samples_or_error(task: str, report: DatasetCheck) -> list[Sample]:
    """The samples of a task whose check finds nothing missing and no problem; otherwise one
    ``DataError`` line pointing at ``mebench data check``. Each annotation slip corrected is logged
    as one warning line."""
    if report.missing or report.problems:
        first = report.problems[0] if report.problems else f"missing sample {report.missing[0]}"
        raise DataError(task, f"{len(report.missing)} missing sample(s) and {len(report.problems)} problem(s); "
                              f"first: {first}", f"run `mebench data check {task}` for the full list")
    for sample in report.found:
        for note in sample.corrections:
            LOG.warning("%s", note)
    return report.found


def megc2019_spec(task: str, description: str) -> DatasetSpec:
    def check(data_root=None, **options: Any) -> DatasetCheck:
        return check_task(task, data_root, **options)

    return DatasetSpec(name=task, load=lambda data_root=None, **options: samples_or_error(task, check(data_root, **options)),
                       check=check, description=description, reference=MEGC2019, needs_data_root=True,
                       classes=MEGC2019_CLASSES, options=task_options(TASKS[task], official_list=True))


def five_class_spec(task: str, description: str, reference: Reference) -> DatasetSpec:
    definition = FIVE_CLASS_TASKS[task]

    def check(data_root=None, **options: Any) -> DatasetCheck:
        return check_emotion_task(task, data_root, **options)

    return DatasetSpec(name=task, load=lambda data_root=None, **options: samples_or_error(task, check(data_root, **options)),
                       check=check, description=description, reference=reference, needs_data_root=True,
                       classes=definition.classes, options=task_options((definition.dataset,), official_list=False))


@hookimpl
def mebench_register_datasets(register):
    register(megc2019_spec("combined", "MEGC2019 3-class composite: CASME II + SAMM + SMIC-HS (442 samples, "
                                       "68 subjects)"))
    register(megc2019_spec("casme2", "CASME II, MEGC2019 3-class subset (145 samples, 24 subjects)"))
    register(megc2019_spec("samm", "SAMM, MEGC2019 3-class subset (133 samples, 28 subjects)"))
    register(megc2019_spec("smic", "SMIC-HS, MEGC2019 3-class subset (164 samples, 16 subjects; no apex annotated)"))
    register(five_class_spec("casme2-5class", "CASME II 5-class: happiness, surprise, disgust, repression, others "
                                              "(from the spreadsheet; fear and sadness excluded)", CASME2))
    register(five_class_spec("samm-5class", "SAMM 5-class estimated emotions: anger, contempt, happiness, surprise, "
                                            "other (from the spreadsheet; disgust, fear, sadness excluded)", SAMM))
