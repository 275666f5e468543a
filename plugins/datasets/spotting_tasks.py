"""Spotting tasks (``mebench.tasks.INTERVALS``): a sample is a whole long video, its targets the ME and MaE
intervals annotated in it, scored by the MEGC rule (``mebench.spotting``).

- ``synthetic-long``: generated videos with planted intervals (``synthetic_long.py``); nothing is read.
- ``casme2-long`` (CAS(ME)², 30 fps), ``samm-long`` (SAMM Long Videos, 200 fps), ``smic-e-hs-long`` /
  ``-vis-long`` / ``-nir-long`` (SMIC-E's long clips, ME only), ``casme3a-long`` (CAS(ME)³ Part A's whole
  recordings): read from the user's copy by ``long_videos.py``'s readers, in the database's folder under
  ``--data-root`` (``FOLDERS``) or wherever ``--dataset-opt root=DIR`` points.
"""

from __future__ import annotations

from pathlib import Path

from mebench.api import INTERVALS, DataError, DatasetSpec, Option, Reference, hookimpl
from mebench.long_videos import KINDS, LongVideo, LongVideoCheck
from mebench_plugins.datasets import long_videos, synthetic_long

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


def long_spec(task: str) -> DatasetSpec:
    def load(data_root=None, **options) -> list[LongVideo]:
        return read_long(task, data_root, **options).videos

    def check(data_root=None, **options) -> LongVideoCheck:
        return read_long(task, data_root, **options)

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
