"""The MEGC2019 3-class tasks: ``combined`` (CASME II + SAMM + SMIC-HS: 442 samples, 68 subjects)
and the single-dataset tasks ``casme2``, ``samm`` and ``smic``, all built from the official
ground-truth list shipped with mebench. Each sample's label from the dataset's own annotation and
the emotion rules (``formats.EMOTIONS``) must agree with the official list.

A second official version lists 441 samples: it drops SAMM ``032_3_1``
(``--dataset-opt gt_version=441``).
"""

from __future__ import annotations

import csv
import hashlib
import io
import os
from importlib import resources
from pathlib import Path
from typing import Any

from mebench import hookimpl
from mebench.data import CLASSES, DataError, DatasetCheck, DatasetSpec, Reference, Sample
from mebench_plugins.datasets.casme2 import read_casme2
from mebench_plugins.datasets.formats import apply_errata, check_frames, index_frames, load_errata
from mebench_plugins.datasets.samm import read_samm
from mebench_plugins.datasets.smic import read_smic

READERS = {"casme2": read_casme2, "samm": read_samm, "smic": read_smic}
FOLDERS = {"casme2": "CASME2", "samm": "SAMM", "smic": "SMIC"}
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
        text, where = Path(path).read_text(), path
    rows = []
    for number, record in enumerate(csv.reader(io.StringIO(text)), start=1):
        if not record:
            continue
        if len(record) != 4 or record[0] not in READERS or record[3].strip() not in ("0", "1", "2"):
            raise DataError(where, f"malformed row {record}", "expected dataset,subject,filename,label(0|1|2)", number)
        dataset, subject, clip, label = (value.strip() for value in record)
        subject = f"{dataset}/{subject_id(dataset, subject, where, number)}"
        rows.append((dataset, subject, clip, CLASSES[int(label)]))
    if int(gt_version) == 441:
        rows = [r for r in rows if (r[0], r[1].split("/")[1], r[2]) != DROPPED_IN_441]
    elif int(gt_version) != 442:
        raise DataError(where, f"unknown ground-truth version {gt_version}", "use gt_version=442 or 441")
    return rows


def dataset_root(dataset: str, data_root: str | os.PathLike | None, options: dict[str, Any]) -> Path:
    """``--dataset-opt <dataset>_root``, else ``$MEBENCH_<DATASET>``, else ``<data root>/<FOLDER>``."""
    override = options.get(f"{dataset}_root") or os.environ.get(f"MEBENCH_{dataset.upper()}")
    if override:
        return Path(override)
    if not data_root:
        raise DataError(FOLDERS[dataset], f"no data root for {dataset}",
                        f"pass --data-root DIR (holding {', '.join(FOLDERS.values())}) or set MEBENCH_DATA, or "
                        f"--dataset-opt {dataset}_root=DIR / MEBENCH_{dataset.upper()}")
    return Path(data_root) / FOLDERS[dataset]


def check_task(task: str, data_root=None, gt_version: int = 442, official: str | None = None,
               errata: str | None = None, **roots: Any) -> DatasetCheck:
    """Match a copy of the datasets against the official list; collect every problem."""
    unknown = set(roots) - {f"{d}_root" for d in READERS}
    if unknown:
        raise DataError(task, f"unknown dataset option(s) {', '.join(sorted(unknown))}",
                        "options are gt_version, official, errata and casme2_root/samm_root/smic_root")
    expected = [r for r in read_official(Path(official) if official else None, gt_version) if r[0] in TASKS[task]]
    fixes = load_errata(Path(errata) if errata else None)
    clips = {}
    for dataset in TASKS[task]:
        for clip in READERS[dataset](dataset_root(dataset, data_root, roots)):
            clips[clip.id] = apply_errata(clip, fixes)
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
            frames = index_frames(clip.folder, clip.source, clip.row)
            onset = clip.onset if clip.onset is not None else frames.indices()[0]
            offset = clip.offset if clip.offset is not None else frames.indices()[-1]
            check_frames(frames, onset, clip.apex, offset, clip.source, clip.row if clip.row else sample_id)
        except DataError as error:
            problems.append(str(error))
            continue
        key = f"{frames.fingerprint()}:{onset}:{clip.apex}:{offset}:{label}"
        samples.append(Sample(id=sample_id, dataset=dataset, subject=subject, label=label, emotion=clip.emotion,
                              frames=frames, onset=onset, apex=clip.apex, offset=offset,
                              fingerprint=hashlib.sha256(key.encode()).hexdigest()))
    expected_ids = {f"{r[1]}/{r[2]}" for r in expected}
    extra = sorted(c.id for c in clips.values() if c.label is not None and c.id not in expected_ids)
    return DatasetCheck(task, [(f"{r[1]}/{r[2]}", r[1], r[3]) for r in expected], samples, missing, extra, problems)


def load_task(task: str, data_root=None, **options: Any) -> list[Sample]:
    report = check_task(task, data_root, **options)
    if report.missing or report.problems:
        first = report.problems[0] if report.problems else f"missing sample {report.missing[0]}"
        raise DataError(task, f"{len(report.missing)} missing sample(s) and {len(report.problems)} problem(s); "
                              f"first: {first}", f"run `mebench data check {task}` for the full list")
    return report.found


def _spec(task: str, description: str) -> DatasetSpec:
    return DatasetSpec(
        name=task,
        load=lambda data_root=None, **options: load_task(task, data_root, **options),
        check=lambda data_root=None, **options: check_task(task, data_root, **options),
        description=description, reference=MEGC2019, needs_data_root=True,
    )


@hookimpl
def mebench_register_datasets(register):
    register(_spec("combined", "MEGC2019 3-class composite: CASME II + SAMM + SMIC-HS (442 samples, 68 subjects)"))
    register(_spec("casme2", "CASME II, MEGC2019 3-class subset (145 samples, 24 subjects)"))
    register(_spec("samm", "SAMM, MEGC2019 3-class subset (133 samples, 28 subjects)"))
    register(_spec("smic", "SMIC-HS, MEGC2019 3-class subset (164 samples, 16 subjects; no apex annotated)"))
