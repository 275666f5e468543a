"""Spotting tasks (``mebench.tasks.INTERVALS``): a sample is a whole long video, its targets the ME and MaE
intervals annotated in it, scored by the MEGC rule (``mebench.spotting``).

- ``synthetic-long``: generated videos with planted intervals (``synthetic_long.py``); nothing is read.
- ``casme2-long`` (CAS(ME)², 30 fps), ``samm-long`` (SAMM Long Videos, 200 fps), ``smic-e-hs-long`` /
  ``-vis-long`` / ``-nir-long`` (SMIC-E's long clips, ME only), ``casme3a-long`` (CAS(ME)³ Part A's whole
  recordings): read from the user's copy by ``long_videos.py``'s readers, in the database's folder under
  ``--data-root`` (``FOLDERS``) or wherever ``--dataset-opt root=DIR`` points. The readers return each interval's
  raw emotion; the task assigns its class for spot-then-recognise (``with_emotion_classes``) through the database's
  declared 3-class mapping (``EMOTION_MAPPINGS``).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import replace
from pathlib import Path
from typing import Mapping, Sequence

from mebench.api import INTERVALS, DataError, DatasetSpec, Option, Reference, hookimpl
from mebench.long_videos import KINDS, NO_CLASS, LongVideo, LongVideoCheck
from mebench.tasks import STR_EMOTIONS
from mebench_plugins.datasets import long_videos, synthetic_long
from mebench_plugins.datasets.declared import EMOTIONS
from mebench_plugins.datasets.labels import emotion_class

#: A spotting task's types, in the order the scorer counts them.
TYPES = tuple(KINDS)


#: Each long-video task's folder under ``--data-root`` (the name its distribution unpacks to, where it has one).
FOLDERS = {"casme2-long": "CASME_sq", "samm-long": "SAMMLV", "casme3a-long": "CASME3",
           "smic-e-hs-long": "SMIC", "smic-e-vis-long": "SMIC", "smic-e-nir-long": "SMIC"}
DESCRIPTIONS = {
    "casme2-long": "CAS(ME)² long videos: ME and MaE intervals (MEGC2020–2021 spotting), 30 fps",
    "samm-long": "SAMM Long Videos: ME and MaE intervals (MEGC2020–2021 spotting), 200 fps",
    "casme3a-long": "CAS(ME)³ Part A whole recordings: ME and MaE intervals (MEGC2022– spotting sets), 30 fps",
    "smic-e-hs-long": "SMIC-E-HS long clips: ME intervals only", "smic-e-vis-long": "SMIC-E-VIS long clips: ME "
    "intervals only", "smic-e-nir-long": "SMIC-E-NIR long clips: ME intervals only",
}
#: Each long-video task's emotion vocabulary with its 3-class mapping (negative / positive / surprise; None: no
#: class, the interval is spotting-only): its database's declaration, the one place a label of it becomes a class.
EMOTION_MAPPINGS: dict[str, Mapping[str, str | None]] = {
    "casme2-long": long_videos.CASME2_LONG_EMOTIONS, "samm-long": EMOTIONS["samm"], "casme3a-long": EMOTIONS["casme3a"],
    "smic-e-hs-long": EMOTIONS["smic-e-hs"], "smic-e-vis-long": EMOTIONS["smic-e-vis"],
    "smic-e-nir-long": EMOTIONS["smic-e-nir"]}
LONG_OPTIONS = (
    Option("root", str, None, "the database's folder (default: its folder under --data-root, FOLDERS)"),
    Option("sheet", str, None, "the annotation workbook (default: found by name in the folder)"),
    Option("strict", bool, False, "refuse annotation slips that are otherwise corrected by rule"),
)


def read_long(task: str, data_root: str | None, root: str | None = None, sheet: str | None = None,
              strict: bool = False) -> LongVideoCheck:
    """The task's videos read from the user's copy."""
    folder = Path(root) if root else (Path(data_root) / FOLDERS[task] if data_root else None)
    if folder is None:
        raise DataError(task, "has no copy to read", f"pass --data-root (holding {FOLDERS[task]}/) or "
                                                     f"--dataset-opt root=DIR")
    if not folder.is_dir():
        raise DataError(folder, "no such folder", f"point --data-root at the folder holding {FOLDERS[task]}/, or "
                                                  f"--dataset-opt root=DIR at the database's folder")
    return long_videos.READERS[task](folder, Path(sheet) if sheet else None, strict=strict)


def with_emotion_classes(videos: Sequence[LongVideo], mapping: Mapping[str, str | None], task: str
                         ) -> list[LongVideo]:
    """The videos with each interval's ``emotion_class`` assigned from its raw emotion through ``mapping`` (the
    rule of ``labels.emotion_class``): the class, ``NO_CLASS`` where the mapping gives none (spotting-only), None
    where the interval has no emotion or one outside the vocabulary (``--protocol str`` refuses such a task)."""
    def assigned(emotion: str | None) -> str | None:
        if not emotion:
            return None
        try:
            label = emotion_class(mapping, emotion, task)
        except DataError:  # outside the vocabulary: left unclassed, named by data check and refused by STR
            return None
        return NO_CLASS if label is None else label

    return [replace(video, intervals=tuple(replace(i, emotion_class=assigned(i.emotion)) for i in video.intervals))
            for video in videos]


def emotion_class_line(videos: Sequence[LongVideo]) -> str:
    """What ``mebench data check`` says of the intervals' classes for spot-then-recognise."""
    intervals = [i for video in videos for i in video.intervals]
    classes = Counter(i.emotion_class for i in intervals if i.emotion_class not in (None, NO_CLASS))
    spotting_only = Counter(i.emotion for i in intervals if i.emotion_class == NO_CLASS)
    unmapped = Counter(i.emotion for i in intervals if i.emotion and i.emotion_class is None)
    line = (f"STR classes (the database's 3-class mapping): "
            f"{', '.join(f'{c} {classes[c]}' for c in STR_EMOTIONS)}; spotting-only "
            f"{sum(spotting_only.values())}"
            f"{' (' + ', '.join(f'{e} {n}' for e, n in sorted(spotting_only.items())) + ')' if spotting_only else ''}"
            f"; no emotion {sum(not i.emotion for i in intervals)}")
    if unmapped:
        line += (f"; not in the vocabulary {sum(unmapped.values())} "
                 f"({', '.join(f'{e} {n}' for e, n in sorted(unmapped.items()))}: --protocol str refuses the task)")
    return line


def long_spec(task: str) -> DatasetSpec:
    def load(data_root=None, **options) -> list[LongVideo]:
        return with_emotion_classes(read_long(task, data_root, **options).videos, EMOTION_MAPPINGS[task], task)

    def check(data_root=None, **options) -> LongVideoCheck:
        read = read_long(task, data_root, **options)
        videos = with_emotion_classes(read.videos, EMOTION_MAPPINGS[task], task)
        return replace(read, videos=videos, sources=[*read.sources, emotion_class_line(videos)])

    return DatasetSpec(name=task, load=load, check=check, classes=TYPES, kind=INTERVALS,
                       description=DESCRIPTIONS[task], options=LONG_OPTIONS)


@hookimpl
def mebench_register_datasets(register):
    for task in FOLDERS:
        register(long_spec(task))
    register(DatasetSpec(
        name=synthetic_long.DATASET, load=synthetic_long.load_synthetic_long, classes=TYPES, kind=INTERVALS,
        description="generated long videos with planted micro- and macro-expressions among blinks, head drift "
                    "and noise (spotting; presets quick, standard)",
        reference=Reference("mebench", "synthetic long videos with planted intervals", "generated", 2026),
        needs_data_root=False, options=synthetic_long.OPTIONS, check=synthetic_long.check_synthetic_long,
    ))
