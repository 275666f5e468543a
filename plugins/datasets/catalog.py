"""The databases mebench reads and what every task built on them shares: where each database lives
(``--data-root``/<FOLDER>, ``--dataset-opt <name>_root``, ``$MEBENCH_<NAME>``), its annotation file
(``sheet=FILE``), its clips with the errata applied, the sample of each clip, the check of a task built
from a database's own labels, and the options of a task.

A database's reader turns its distributed files into ``Clip``s and says what it read (``Reading``); its
module declares it (a ``Database``), and ``declared`` derives the tables this module reads (``DATABASES``,
``FOLDERS``, ``ROOT_NAMES``, ``EMOTIONS``). A clip carries its emotion as written; the class is assigned
here, from the database's declared vocabulary (``clip_class``), by the task that builds the samples.
Several databases can share one folder: SMIC's HS, VIS, NIR and SMIC-E parts all live under ``SMIC/`` and
take ``smic_root``.
"""

from __future__ import annotations

import hashlib
import logging
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable, Mapping

from mebench.data import DatasetSpec, Reference, Sample
from mebench.dataset_check import DatasetCheck
from mebench.errors import DataError, OptionError
from mebench.options import Option
from mebench_plugins.datasets.clips import Clip
from mebench_plugins.datasets.declaration import Database  # noqa: F401 (catalog.Database, as before)
from mebench_plugins.datasets.declared import DATABASES, EMOTION_TASKS, EMOTIONS, FOLDERS, ROOT_NAMES
from mebench_plugins.datasets.errata import apply_errata, load_errata, unmatched_errata
from mebench_plugins.datasets.frames import FrameFiles, index_frames, resolve_frames
from mebench_plugins.datasets.labels import emotion_class

LOG = logging.getLogger("mebench.datasets")

#: Databases that are views of the recordings of another (SMIC's three cameras, cut and long clips): the same
#: micro-expressions of the same people, so a composite takes at most one of each recording session
#: (``Database.recordings``).
SAME_RECORDINGS = tuple(key for key, database in DATABASES.items() if database.recordings)


def root_option(root: str) -> str:
    return f"{root}_root"


def root_env(root: str) -> str:
    return f"MEBENCH_{root.upper()}"


def database_root(root: str, data_root: str | os.PathLike | None, options: Mapping[str, Any]) -> Path:
    """``--dataset-opt <root>_root``, else ``$MEBENCH_<ROOT>``, else ``<data root>/<FOLDER>``."""
    override = options.get(root_option(root)) or os.environ.get(root_env(root))
    if override:
        return Path(override)
    if not data_root:
        raise DataError(FOLDERS[root], f"no data root for {ROOT_NAMES[root]}",
                        f"pass --data-root DIR (holding {FOLDERS[root]}/) or set MEBENCH_DATA, or "
                        f"--dataset-opt {root_option(root)}=DIR / {root_env(root)}")
    return Path(data_root) / FOLDERS[root]


def sheet_option(keys: Iterable[str], root: str) -> str:
    """The option naming ``root``'s annotation file: ``sheet`` on a single-database task, else ``<root>_sheet``."""
    return "sheet" if len({DATABASES[k].root for k in keys}) == 1 else f"{root}_sheet"


def three_class(dataset: str, emotion: str, file: object, row: object = None) -> str | None:
    """The MEGC2019 3-class label of one of ``dataset``'s emotions (see ``labels.emotion_class``)."""
    return emotion_class(EMOTIONS[dataset], emotion, file, row)


def clip_class(clip: Clip, mapping: Mapping[str, str | None] | None = None) -> str | None:
    """The class of the clip's emotion under a task's ``mapping`` (by default its database's 3-class vocabulary,
    ``Database.emotions``); None for a known but excluded emotion, or where the database declares no vocabulary.
    An emotion outside the vocabulary is an error naming where the emotion was read: the clip's sheet and row,
    its emotion folder, or the erratum that set it."""
    mapping = DATABASES[clip.dataset].emotions if mapping is None else mapping
    if mapping is None:
        return None
    file, row = clip.emotion_from if clip.emotion_from is not None else (clip.source, clip.row)
    return emotion_class(mapping, clip.emotion, file, row)


@dataclass
class ClipSet:
    """The clips of some databases with the errata applied (by sample id), what was read and the warnings."""

    clips: dict[str, Clip]
    sources: list[str]
    warnings: list[str]


def read_clips(keys: Iterable[str], data_root, options: Mapping[str, Any], errata: str | None) -> ClipSet:
    """Every annotated clip of the databases ``keys`` (excluded emotions too), errata applied, by sample id.
    Two rows naming one sample are an error naming both; so is an emotion outside the database's vocabulary,
    as the annotation writes it or as an erratum sets it, in every task (``clip_class``)."""
    keys = list(keys)
    fixes = load_errata(Path(errata) if errata else None)
    clips: dict[str, Clip] = {}
    sources, warnings, unreadable = [], [], []
    for key in keys:
        database = DATABASES[key]
        sheet = options.get(sheet_option(keys, database.root)) if database.sheet else None
        try:  # every database that cannot be read is named at once, not only the first
            reading = database.reader(database_root(database.root, data_root, options), Path(sheet) if sheet else None)
            for clip in reading.clips:
                clip_class(clip)
        except DataError as error:
            unreadable.append(error)
            continue
        sources += [f"{database.name}: {line}" for line in reading.sources]
        warnings += reading.warnings
        for clip in reading.clips:
            if clip.id in clips:
                raise DataError(clip.source, f"two rows name the sample {clip.id}: {clips[clip.id].where} and this one",
                                "remove the duplicate row or add an erratum", clip.row)
            clips[clip.id] = apply_errata(clip, fixes, warnings)
            if "emotion" in clips[clip.id].corrected_fields:  # the emotion an erratum set
                clip_class(clips[clip.id])
        warnings += unmatched_errata(fixes, key, reading.clips)
    if len(unreadable) == 1:
        raise unreadable[0]
    if unreadable:
        raise DataError(data_root or "--data-root", f"{len(unreadable)} of {len(keys)} databases cannot be read: "
                        + "; ".join(str(error) for error in unreadable))
    return ClipSet(clips, sources, warnings)


def clip_sample(clip: Clip, label: str, strict: bool, indexed: dict[Path, FrameFiles] | None = None,
                targets: tuple[str, ...] | None = None) -> Sample:
    """The sample of one clip: frames indexed, annotation slips corrected (or refused when ``strict``);
    a clip of a whole recording keeps only its onset..offset frames. ``indexed`` caches the frame index
    of folders several clips share; ``targets`` are a multi-label task's labels. Raises ``DataError`` for
    anything that blocks."""
    if indexed is not None and clip.folder in indexed:
        frames = indexed[clip.folder]
    else:
        frames = index_frames(clip.folder, clip.source, clip.row)
        if indexed is not None:
            indexed[clip.folder] = frames
    resolved = resolve_frames(clip, frames, strict)
    if clip.recording:
        frames = frames.span(resolved.onset, resolved.offset)
    key = (f"{frames.fingerprint()}:{resolved.onset}:{resolved.apex}:{resolved.offset}:{label}"
           f":cropped={clip.cropped}")
    return Sample(id=clip.id, dataset=clip.dataset, subject=clip.subject, label=label, emotion=clip.emotion,
                  frames=frames, onset=resolved.onset, apex=resolved.apex, offset=resolved.offset,
                  fingerprint=hashlib.sha256(key.encode()).hexdigest(), cropped=clip.cropped,
                  corrections=clip.corrections + resolved.corrections, targets=targets)


def flagged_frames(clip: Clip, sample: Sample) -> str | None:
    """A warning line when an exception list of the database names frames of the sample's span."""
    listed = [(frame, where) for frame, where in clip.flagged if sample.onset <= frame <= sample.offset]
    if not listed:
        return None
    frames = sorted({frame for frame, _ in listed})
    lists = sorted({where for _, where in listed})
    apex = " (the annotated apex among them)" if sample.apex in frames else ""
    shown = ", ".join(map(str, frames[:8])) + (", …" if len(frames) > 8 else "")
    return (f"{clip.where}: {clip.id}: {len(frames)} frame(s) of its span {sample.onset}..{sample.offset} are "
            f"listed in {' and '.join(lists)}{apex}: {shown}")


def collect_sample(clip: Clip, label: str, strict: bool, indexed: dict[Path, FrameFiles], found: "TaskFindings",
                   targets: tuple[str, ...] | None = None) -> None:
    """Add the clip's sample to ``found``, or what blocks it to its problems; a warning where an exception
    list names frames of its span."""
    try:
        sample = clip_sample(clip, label, strict, indexed, targets=targets)
    except DataError as error:
        found.problems.append(str(error))
        return
    found.samples.append(sample)
    if (line := flagged_frames(clip, sample)) is not None:
        found.warnings.append(line)


@dataclass
class TaskFindings:
    """What checking a task finds: its samples, what blocks, what a user should know."""

    samples: list[Sample]
    problems: list[str]
    warnings: list[str]


def parse_members(members: str | None, valid: Iterable[str], task: str, kind: str) -> list[str]:
    """The member tasks a composite ``task`` names (``a,b`` or ``a+b``), checked: each one of ``valid``
    (tasks of ``kind``), each once, at least two."""
    valid = list(valid)
    if not members:
        raise OptionError(f"--dataset-opt members: dataset {task!r} needs its member tasks, e.g. "
                          f"members={','.join(valid[:2])}; valid members: {', '.join(valid)}")
    names = [name.strip() for name in str(members).replace("+", ",").split(",") if name.strip()]
    unknown = [name for name in names if name not in valid]
    if unknown:
        raise OptionError(f"--dataset-opt members={members}: {', '.join(map(repr, unknown))} is not {kind}; "
                          f"valid members: {', '.join(valid)}")
    repeated = sorted({name for name in names if names.count(name) > 1})
    if repeated:
        raise OptionError(f"--dataset-opt members={members}: {', '.join(repeated)} named twice")
    if len(names) < 2:
        raise OptionError(f"--dataset-opt members={members}: a composite needs at least two members "
                          f"(use --dataset {names[0]} for one)")
    return names


def check_emotion_task(task: str, data_root=None, *, errata: str | None = None, strict: bool = False,
                       **locations: Any) -> DatasetCheck:
    """A task built from one database's own labels with the rules of ``declared.EMOTION_TASKS``. There is
    no official list: ``expected`` is empty, every file problem is listed, and the check says what it
    read and how many clips each rule excluded."""
    definition = EMOTION_TASKS[task]
    read = read_clips((definition.dataset,), data_root, locations, errata)
    found, excluded = TaskFindings([], [], list(read.warnings)), {}
    indexed: dict[Path, FrameFiles] = {}
    for clip in read.clips.values():
        label = clip_class(clip, definition.mapping)
        if label is None:
            excluded[clip.emotion] = excluded.get(clip.emotion, 0) + 1
            continue
        collect_sample(clip, label, strict, indexed, found)
    sources = list(read.sources)
    labels: dict[str, int] = {}
    for clip in read.clips.values():
        labels[clip.emotion] = labels.get(clip.emotion, 0) + 1
    sources.append("labels in the annotation: " + ", ".join(f"{e!r} {n}" for e, n in sorted(labels.items())))
    if excluded:
        sources.append("excluded by the task's rules (emotions outside its classes): "
                       + ", ".join(f"{emotion!r} {n}" for emotion, n in sorted(excluded.items())))
    return DatasetCheck(task, [], found.samples, [], [], found.problems, warnings=found.warnings, sources=sources)


def samples_or_error(task: str, report: DatasetCheck) -> list[Sample]:
    """The samples of a task whose check finds nothing missing and no problem; otherwise one
    ``DataError`` line pointing at ``mebench data check``. Each annotation slip corrected and each
    warning is logged as one warning line."""
    if report.missing or report.problems:
        first = report.problems[0] if report.problems else f"missing sample {report.missing[0]}"
        raise DataError(task, f"{len(report.missing)} missing sample(s) and {len(report.problems)} problem(s); "
                              f"first: {first}", f"run `mebench data check {task}` for the full list")
    for sample in report.found:
        for note in sample.corrections:
            LOG.warning("%s", note)
    for line in report.warnings:
        LOG.warning("%s", line)
    return report.found


def emotion_task_spec(task: str, description: str, reference: Reference | None) -> DatasetSpec:
    """The dataset spec of a task built from one database's own labels (``declared.EMOTION_TASKS``)."""
    definition = EMOTION_TASKS[task]

    def check(data_root=None, **options: Any) -> DatasetCheck:
        return check_emotion_task(task, data_root, **options)

    def load(data_root=None, **options: Any) -> list[Sample]:
        return samples_or_error(task, check(data_root, **options))

    return DatasetSpec(name=task, load=load, check=check, description=description, reference=reference,
                       needs_data_root=True, classes=definition.classes,
                       options=common_options() + location_options((definition.dataset,)))


def location_options(keys: Iterable[str]) -> tuple[Option, ...]:
    """The folder (``<root>_root``) of each root the databases ``keys`` live in, and their annotation files
    (``sheet`` on a single-database task, ``<root>_sheet`` on a composite)."""
    keys = list(keys)
    roots = list(dict.fromkeys(DATABASES[k].root for k in keys))
    options = [Option(root_option(root), Path, None, f"folder of your {ROOT_NAMES[root]} copy (default: "
                                                     f"DATA_ROOT/{FOLDERS[root]}, or ${root_env(root)})")
               for root in roots]
    for root in dict.fromkeys(DATABASES[k].root for k in keys if DATABASES[k].sheet):
        options.append(Option(sheet_option(keys, root), Path, None,
                              f"your {ROOT_NAMES[root]} annotation file (default: found by name below its folder)"))
    return tuple(options)


def common_options() -> tuple[Option, ...]:
    return (Option("errata", Path, None, "errata file (default: the one shipped with mebench)"),
            Option("strict", bool, False, "refuse known annotation slips instead of correcting them"))
