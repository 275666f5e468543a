"""The field's other databases and composites of any of them.

- Tasks built from each database's own labels (``formats.NATIVE_TASKS``): CAS(ME)³ Part A
  (``casme3a`` on the MEGC2019 3-class scheme, ``casme3a-4class``, ``casme3a-7class``), MMEW (``mmew``,
  ``mmew-6class``), 4DME (``4dme``, ``4dme-5class``), CASME (``casme``, ``casme-4class``), SMIC's VIS and NIR
  cameras (``smic-vis``, ``smic-nir``) and SMIC-E's annotated spans (``smic-e-hs``, ``smic-e-vis``,
  ``smic-e-nir``). There is no official list: ``mebench data check`` prints the counts per class and
  subject of your copy.
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
from mebench.data import MEGC2019_CLASSES, DatasetSpec, Reference
from mebench.dataset_check import DatasetCheck
from mebench.errors import OptionError
from mebench.options import Option
from mebench_plugins.datasets.catalog import (DATABASES, SAME_RECORDINGS, check_emotion_task, common_options,
                                              emotion_task_spec, location_options, parse_members, samples_or_error,
                                              sheet_option)
from mebench_plugins.datasets.formats import NATIVE_TASKS
from mebench_plugins.datasets.megc2019 import MEGC2019, TASKS as MEGC_TASKS, check_task

CASME3 = Reference("Li, J.; Dong, Z.; Lu, S.; Wang, S.-J.; Yan, W.-J.; Ma, Y.; Liu, Y.; Huang, C.; Fu, X.",
                   "CAS(ME)³: A Third Generation Facial Spontaneous Micro-Expression Database with Depth Information "
                   "and High Ecological Validity", "IEEE TPAMI 45(3)", 2023)
MMEW = Reference("Ben, X.; Ren, Y.; Zhang, J.; Wang, S.-J.; Kpalma, K.; Meng, W.; Liu, Y.-J.",
                 "Video-based Facial Micro-Expression Analysis: A Survey of Datasets, Features and Algorithms",
                 "IEEE TPAMI 44(9)", 2022)
FOURDME = Reference("Li, X.; Cheng, S.; Li, Y.; Behzad, M.; Shen, J.; Zafeiriou, S.; Pantic, M.; Zhao, G.",
                    "4DME: A Spontaneous 4D Micro-Expression Dataset With Multimodalities",
                    "IEEE Transactions on Affective Computing 14(4)", 2023)
CASME = Reference("Yan, W.-J.; Wu, Q.; Liu, Y.-J.; Wang, S.-J.; Fu, X.",
                  "CASME Database: A Dataset of Spontaneous Micro-Expressions Collected From Neutralized Faces",
                  "IEEE FG", 2013)
SMIC = Reference("Li, X.; Pfister, T.; Huang, X.; Zhao, G.; Pietikäinen, M.",
                 "A Spontaneous Micro-Expression Database: Inducement, Collection and Baseline", "IEEE FG", 2013)
SMIC_E = Reference("Li, X.; Hong, X.; Moilanen, A.; Huang, X.; Pfister, T.; Zhao, G.; Pietikäinen, M.",
                   "Towards Reading Hidden Emotions: A Comparative Study of Spontaneous Micro-expression Spotting "
                   "and Recognition Methods", "IEEE Transactions on Affective Computing 9(4)", 2018)

#: Each task built from a database's own labels: its description (with the counts of the public sheet
#: where there is one) and reference. The class sets and rules are ``formats.NATIVE_TASKS``.
DESCRIPTIONS = {
    "casme3a": ("CAS(ME)³ Part A, 3-class (MEGC2019 scheme; others excluded): 699 samples, 88 subjects "
                "(negative 457, positive 55, surprise 187) in the public v2 sheet", CASME3),
    "casme3a-4class": ("CAS(ME)³ Part A 4-class: negative (disgust+fear+anger+sad) 457, positive 55, surprise 187, "
                       "others 161 — 860 samples, 94 subjects", CASME3),
    "casme3a-7class": ("CAS(ME)³ Part A 7 emotions: disgust 250, surprise 187, others 161, fear 86, anger 64, "
                       "sad 57, happy 55 — 860 samples, 94 subjects", CASME3),
    "mmew": ("MMEW, 3-class (MEGC2019 scheme; others excluded, the sheet's label even where the frame folder "
             "says repression) from MMEW_Micro_Exp.xlsx (300 clips; per-class counts not confirmed)", MMEW),
    "mmew-6class": ("MMEW native emotions less anger: happiness, surprise, disgust, fear, sadness, others "
                    "(mebench's choice: no source defines a 6-class MMEW task; counts not confirmed)", MMEW),
    "4dme": ("4DME, 3-class (MEGC2019 scheme; repression negative, others excluded) from the release sheet's "
             "emotion categories, labels annotated with the AUs (objective), not self-reported (267 clips; "
             "per-class counts not confirmed)", FOURDME),
    "4dme-5class": ("4DME's five emotion categories: positive, negative, surprise, repression, others — labels "
                    "annotated with the AUs (objective), not self-reported (counts not confirmed)", FOURDME),
    "casme": ("CASME, 3-class (MEGC2019 scheme; tense and others excluded) from the coding sheet (189 rows in "
              "MEB's copy; per-class counts not confirmed)", CASME),
    "casme-4class": ("CASME 4-class: disgust, repression, surprise, tense (mebench's choice: no source gives the "
                     "class set)", CASME),
    "smic-vis": ("SMIC-VIS (25 fps visual camera), 3-class: 71 clips, 8 subjects in the literature; "
                 "no apex annotated", SMIC),
    "smic-nir": ("SMIC-NIR (25 fps near-infrared camera), 3-class: 71 clips, 8 subjects in the literature; "
                 "no apex annotated", SMIC),
    "smic-e-hs": ("SMIC-E-HS long clips, 3-class on the annotated spans (one sample per span; no apex)", SMIC_E),
    "smic-e-vis": ("SMIC-E-VIS long clips, 3-class on the annotated spans: 71 clips, 8 subjects in the public "
                   "sheet (one sample per span; no apex)", SMIC_E),
    "smic-e-nir": ("SMIC-E-NIR long clips, 3-class on the annotated spans (one sample per span; no apex)", SMIC_E),
}

#: The tasks a composite may combine: the MEGC2019 single-database tasks and every 3-class task above.
MEMBERS = ("casme2", "samm", "smic") + tuple(t for t, d in NATIVE_TASKS.items()
                                             if d.classes == MEGC2019_CLASSES)


def member_databases(task: str) -> tuple[str, ...]:
    return MEGC_TASKS[task] if task in MEGC_TASKS else (NATIVE_TASKS[task].dataset,)


def composite_members(members: str | None) -> list[str]:
    """The member tasks of a composite, checked: known 3-class tasks, each once, at least two, and at most
    one view of the SMIC recordings."""
    names = parse_members(members, MEMBERS, "composite", "a 3-class task a composite can hold")
    smic = [name for name in names if name in SAME_RECORDINGS]
    if len(smic) > 1:
        raise OptionError(f"--dataset-opt members={members}: {', '.join(smic)} are views of the same SMIC "
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
    from mebench_plugins.datasets.au_tasks import au_specs

    for task in NATIVE_TASKS:
        register(emotion_task_spec(task, *DESCRIPTIONS[task]))
    register(composite_spec())
    for spec in au_specs():  # the action-unit tasks of every database with AU codes (au_tasks.py)
        register(spec)
