"""The field's other databases and composites of any of them.

- Tasks built from each database's own labels (``declared.NATIVE_TASKS``, from the declaration in each
  database's module): CAS(ME)³ Part A (``casme3a`` on the MEGC2019 3-class scheme, ``casme3a-4class``,
  ``casme3a-7class``), MMEW (``mmew``, ``mmew-6class``), 4DME (``4dme``, ``4dme-5class``), CASME (``casme``,
  ``casme-4class``), SMIC's VIS and NIR cameras (``smic-vis``, ``smic-nir``) and SMIC-E's annotated spans
  (``smic-e-hs``, ``smic-e-vis``, ``smic-e-nir``). There is no official list: ``mebench data check`` prints
  the counts per class and subject of your copy.
- ``composite``: any of the 3-class tasks together (``--dataset-opt members=casme2,samm,smic,casme3a``),
  on the shared negative / positive / surprise scheme. Subjects are qualified by database, so LOSO, LODO
  and cross-dataset protocols work on it; ``casme2``, ``samm`` and ``smic`` members are the MEGC2019 tasks
  (their official list), and ``combined`` stays the official MEGC2019 composite.
- The action-unit tasks of every database with AU codes (``casme2-au`` … ``cd6me``, ``au-composite``) are
  defined in ``au_tasks.py`` and registered here.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from mebench import hookimpl
from mebench.data import MEGC2019_CLASSES, DatasetSpec
from mebench.dataset_check import DatasetCheck
from mebench.errors import OptionError
from mebench.options import Option
from mebench_plugins.datasets.au_tasks import au_specs
from mebench_plugins.datasets.casme import CASME  # noqa: F401 (the references by their old names here)
from mebench_plugins.datasets.casme3 import CASME3  # noqa: F401
from mebench_plugins.datasets.catalog import (DATABASES, check_emotion_task, common_options,
                                              emotion_task_spec, location_options, parse_members, samples_or_error,
                                              sheet_option)
from mebench_plugins.datasets.declared import DESCRIPTIONS, NATIVE_TASKS
from mebench_plugins.datasets.fourdme import FOURDME  # noqa: F401
from mebench_plugins.datasets.megc2019 import MEGC2019, TASKS as MEGC_TASKS, check_task
from mebench_plugins.datasets.mmew import MMEW  # noqa: F401
from mebench_plugins.datasets.smic import SMIC  # noqa: F401
from mebench_plugins.datasets.smic_e import SMIC_E  # noqa: F401

#: The tasks a composite may combine: the MEGC2019 single-database tasks and every 3-class task above.
MEMBERS = ("casme2", "samm", "smic") + tuple(t for t, d in NATIVE_TASKS.items()
                                             if d.classes == MEGC2019_CLASSES)


def member_databases(task: str) -> tuple[str, ...]:
    return MEGC_TASKS[task] if task in MEGC_TASKS else (NATIVE_TASKS[task].dataset,)


def composite_members(members: str | None) -> list[str]:
    """The member tasks of a composite, checked: known 3-class tasks, each once, at least two, and at most
    one view of the same recordings (SMIC's: ``Database.recordings``)."""
    names = parse_members(members, MEMBERS, "composite", "a 3-class task a composite can hold")
    sessions = {name: {DATABASES[key].recordings for key in member_databases(name)} - {None} for name in names}
    for session in dict.fromkeys(s for name in names for s in sessions[name]):
        views = [name for name in names if session in sessions[name]]
        if len(views) > 1:
            raise OptionError(f"--dataset-opt members={members}: {', '.join(views)} are views of the same {session} "
                              f"recordings (the same micro-expressions of the same people); take one of them")
    return names


def check_composite(data_root=None, *, members: str | None = None, gt_version: int = 442,
                    official: str | None = None, errata: str | None = None, strict: bool = False,
                    **locations: Any) -> DatasetCheck:
    """The member tasks' checks together: every sample found, everything missing or wrong, what was read."""
    names = composite_members(members)
    found, missing, extra, problems, warnings, sources = [], [], [], [], [], []
    for name in names:
        keys = member_databases(name)
        own = {option: locations.get(option) for option in (f"{DATABASES[k].root}_root" for k in keys)}
        for key in keys:  # the composite's <root>_sheet is the member's sheet (or its <root>_sheet on combined)
            database = DATABASES[key]
            if database.sheet:
                own[sheet_option(keys, database.root)] = locations.get(f"{database.root}_sheet")
        if name in MEGC_TASKS:
            report = check_task(name, data_root, gt_version=gt_version, official=official, errata=errata,
                                strict=strict, **own)
            sources.append(f"{name}: {len(report.found)} of {len(report.expected)} samples of the official "
                           f"MEGC2019 list")
        else:
            report = check_emotion_task(name, data_root, errata=errata, strict=strict, **own)
            sources.append(f"{name}: {len(report.found)} samples from the database's own labels")
        sources += [f"  {line}" for line in report.sources]
        found += report.found
        missing += report.missing
        extra += report.extra
        problems += report.problems
        warnings += report.warnings
    return DatasetCheck("composite", [], found, missing, extra, problems, warnings=warnings, sources=sources)


def composite_options() -> tuple[Option, ...]:
    databases = tuple(dict.fromkeys(k for name in MEMBERS for k in member_databases(name)))
    return ((Option("members", str, None, f"the member tasks, comma-separated (of {', '.join(MEMBERS)})"),
             Option("gt_version", int, 442, "version of the official MEGC2019 list for casme2, samm and smic members",
                    choices=(442, 441)),
             Option("official", Path, None, "your own copy of the official MEGC2019 list (CSV)"))
            + common_options() + location_options(databases))


def composite_spec() -> DatasetSpec:
    def load(data_root=None, **options: Any):
        return samples_or_error("composite", check_composite(data_root, **options))

    return DatasetSpec(name="composite", load=load, check=check_composite, classes=MEGC2019_CLASSES,
                       description="Any 3-class tasks together on the shared negative/positive/surprise scheme "
                                   "(--dataset-opt members=casme2,samm,smic,casme3a); subjects qualified by database",
                       reference=MEGC2019, needs_data_root=True, options=composite_options())


@hookimpl
def mebench_register_datasets(register):
    for task in NATIVE_TASKS:  # each with its description and reference from its database's declaration
        register(emotion_task_spec(task, *DESCRIPTIONS[task]))
    register(composite_spec())
    for spec in au_specs():  # the action-unit tasks of every database with AU codes (au_tasks.py)
        register(spec)
