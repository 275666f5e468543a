"""Action-unit detection tasks (multi-label): each clip labelled with the AUs its coding cell names.

- ``casme2-au``, ``samm-au``, ``casme3a-au``, ``mmew-au``, ``4dme-au``, ``casme-au``: every coded clip of one
  database (every emotion: an AU task does not use the emotion labels).
- ``cd6me``: MEB's cross-dataset AU benchmark CD6ME (``meb/datasets/datasets.py``, ``CrossDataset``): CASME,
  CASME II, SAMM, 4DME, MMEW and CAS(ME)³ Part A together, subjects qualified by database (LODO holds
  out one database).
- ``au-composite``: any of the AU tasks together (``--dataset-opt members=casme2-au,samm-au``).

The AU cells are read by the rules of ``action_units`` (one place); the databases, their folders,
annotation files, errata and frame checks are ``catalog``'s (the same as every other task). Options of
every AU task: ``aus`` (the task's AUs, default MEB's 12: 1, 2, 4, 5, 6, 7, 9, 10, 12, 14, 15, 17; an AU
outside it is ignored), ``alternatives`` (``drop``, the default: a clip whose cell gives alternatives
between AUs of the set leaves the task; ``all``: every alternative counts; ``first``: the first one
counts), ``ref`` (``present``, the default, or ``absent``: SAMM's undocumented ``ref(…)``), and the usual
``errata``, ``strict``, ``<name>_root`` and ``sheet`` / ``<name>_sheet``. A clip whose cell is empty or
``?`` is not coded: it leaves the task. ``mebench data check`` prints the per-AU counts per database, what
it read, every clip not coded and every row a rule (alternatives, ``ref``, ``(k)``, free text) touched.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping, Sequence

from mebench.data import DatasetSpec, Reference
from mebench.tasks import MULTI_LABEL
from mebench.dataset_check import DatasetCheck
from mebench.errors import DataError
from mebench.options import Option
from mebench_plugins.datasets.action_units import (ALTERNATIVES, AU_COLUMN_ALIASES, AU_COLUMN_NAME, MEB_AUS,
                                                   REFERENCES, AUSyntaxError, au_labels, parse_au_set, read_cell,
                                                   resolve)
from mebench_plugins.datasets.catalog import (DATABASES, TaskFindings, collect_sample, common_options,
                                              location_options, parse_members, read_clips, samples_or_error)
from mebench_plugins.datasets.declared import AU_DESCRIPTIONS as DESCRIPTIONS, AU_TASKS
from mebench_plugins.datasets.frames import FrameFiles

# AU_TASKS (each single-database AU task and the database it reads) and DESCRIPTIONS come from the databases'
# declarations (``Database.au_task``, ``Database.au_description``).
#: MEB's CD6ME, in MEB's order (``CrossDataset``: Casme, Casme2, Samm, Fourd, Mmew, Casme3A).
CD6ME: tuple[str, ...] = ("casme-au", "casme2-au", "samm-au", "4dme-au", "mmew-au", "casme3a-au")

MEB = Reference("Varanka, T.; Li, Y.; Peng, W.; Zhao, G.",
                "Data Leakage and Evaluation Issues in Micro-Expression Analysis",
                "arXiv:2211.11425", 2022, "https://github.com/tvaranka/meb")

#: The AU set option's default, as a user writes it.
DEFAULT_AUS = ",".join(map(str, MEB_AUS))


@dataclass
class AUCheck(DatasetCheck):
    """A ``DatasetCheck`` of an AU task, rendered with the task's own AU set (``labels``), which its
    options decide."""

    labels: tuple[str, ...] = ()

    def render(self, classes: Sequence[str], list_all: bool = False) -> str:
        return super().render(self.labels or tuple(classes), list_all)


def au_options() -> tuple[Option, ...]:
    return (
        Option("aus", str, DEFAULT_AUS, "the task's action units, comma-separated AU numbers (default MEB's 12); "
                                        "an AU outside the set is ignored"),
        Option("alternatives", str, "drop", "a cell giving alternatives between AUs of the set ('L12 or L14'): "
                                            "drop the clip, count all alternatives, or the first",
               choices=ALTERNATIVES),
        Option("ref", str, "present", "SAMM's undocumented ref(…): the AU inside counts as present or absent",
               choices=REFERENCES),
    )


def check_au_task(task: str, keys: Sequence[str], data_root=None, *, aus: str | None = DEFAULT_AUS,
                  alternatives: str = "drop", ref: str = "present", errata: str | None = None, strict: bool = False,
                  **locations: Any) -> AUCheck:
    """Every clip of the databases ``keys`` labelled with its AUs of the task's set, what was read, the clips
    not coded and the rows a rule touched (``warnings``), and every AU cell the rules cannot read
    (``problems``, naming file, row and value)."""
    units = parse_au_set(aus)
    labels = au_labels(units)
    read = read_clips(keys, data_root, locations, errata)
    found = TaskFindings([], [], list(read.warnings))
    problems, warnings = found.problems, found.warnings
    tallies: dict[str, Counter] = {key: Counter() for key in keys}
    outside: dict[str, Counter] = {key: Counter() for key in keys}
    columns: dict[str, set[str]] = {key: set() for key in keys}
    indexed: dict[Path, FrameFiles] = {}
    for clip in read.clips.values():
        tally = tallies[clip.dataset]
        tally["rows"] += 1
        if clip.au is None:
            raise DataError(clip.source, f"no action-unit column ({AU_COLUMN_NAME}, {', '.join(AU_COLUMN_ALIASES)}, "
                                         f"or one column per AU such as AU4)",
                            "an AU task reads each row's AU code: use the coding sheet distributed with the "
                            "database (or --dataset-opt sheet=FILE)")
        columns[clip.dataset].add(f"column {clip.au.column!r}" + (" and one column per AU" if clip.au.flags else "")
                                  if clip.au.column else "one column per AU")
        where = f"{clip.where}: {clip.id}: {clip.au.shown}"
        try:
            code = read_cell(clip.au)
        except AUSyntaxError as error:
            problems.append(str(DataError(clip.source, f"{clip.id}: {clip.au.shown} cannot be read: {error}",
                                          "correct the cell or add an erratum (field au); the rules are in "
                                          "docs/datasets.md, 'Action units'", clip.row)))
            continue
        resolution = resolve(code, units, alternatives, ref)
        outside[clip.dataset].update(resolution.outside)
        warnings += [f"{where}: {line}" for line in code.ignored + resolution.applied]
        tally.update({name: 1 for name, value in (("notes", code.notes), ("ignored", code.ignored),
                                                   ("alternatives", code.alternatives), ("ref", code.referenced),
                                                   ("static", code.static)) if value})
        if not code.coded:
            tally["not coded"] += 1
            warnings.append(f"{where}: not coded (an empty cell or '?'); the clip leaves the AU task")
            continue
        if resolution.aus is None:
            tally["dropped"] += 1
            continue
        tally["coded"] += 1
        targets = tuple(f"AU{au}" for au in resolution.aus)
        collect_sample(clip, "+".join(targets) or "none", strict, indexed, found, targets)
    sources = list(read.sources) + _au_sources(keys, labels, tallies, columns, outside, alternatives, ref)
    return AUCheck(task, [], found.samples, [], [], problems, warnings=warnings, sources=sources, labels=labels)


def _au_sources(keys: Sequence[str], labels: Sequence[str], tallies: dict[str, Counter], columns: dict[str, set[str]],
                outside: dict[str, Counter], alternatives: str, ref: str) -> list[str]:
    """What ``data check`` says of an AU task: the AU set and its rules, then per database where its codes came
    from, how many rows entered the task, which rules applied and which AUs lie outside the set."""
    sources = [f"AU set: {', '.join(labels)} ({len(labels)}; --dataset-opt aus=…); alternatives={alternatives}, "
               f"ref={ref}"]
    for key in keys:
        tally = tallies[key]
        sources.append(f"{DATABASES[key].name}: AU codes from {' and '.join(sorted(columns[key])) or 'no rows'}: "
                       f"{tally['rows']} rows, {tally['coded']} in the task, {tally['not coded']} not coded, "
                       f"{tally['dropped']} dropped by alternatives={alternatives}")
        rules = [f"{what} in {tally[name]}" for name, what in (
            ("alternatives", "alternatives between AUs"), ("ref", "ref(…)"), ("static", "(k) static AUs"),
            ("notes", "'/' or 'or' within one AU or an unclear offset '?'"), ("ignored", "free text or one-hot "
                                                                                           "disagreements"))
            if tally[name]]
        if rules:
            sources.append("  rules applied (rows): " + ", ".join(rules))
        if outside[key]:
            sources.append("  AUs coded outside the task's set (ignored; rows): " + ", ".join(
                f"AU{au} {n}" for au, n in sorted(outside[key].items())))
    return sources


def _spec(name: str, keys_of, description: str, reference: Reference | None, options: tuple[Option, ...],
          default_protocol: str | None = None) -> DatasetSpec:
    def check(data_root=None, **values: Any) -> AUCheck:
        keys = keys_of(values)
        values = {k: v for k, v in values.items() if k != "members"}
        return check_au_task(name, keys, data_root, **values)

    def load(data_root=None, **values: Any):
        return samples_or_error(name, check(data_root, **values))

    return DatasetSpec(name=name, load=load, check=check, description=description, reference=reference,
                       needs_data_root=True, classes=au_labels(MEB_AUS), kind=MULTI_LABEL, options=options,
                       classes_for=lambda values: au_labels(parse_au_set(values.get("aus"))),
                       default_protocol=default_protocol)


def parse_au_members(members: str | None) -> tuple[str, ...]:
    """The member tasks of an ``au-composite``, checked (known AU tasks, each once, at least two), as
    database keys."""
    return tuple(AU_TASKS[name] for name in parse_members(members, AU_TASKS, "au-composite", "an AU task"))


def au_specs() -> list[DatasetSpec]:
    """Every AU task's spec: one per database that declares an AU task (citing the database's reference),
    ``cd6me`` and ``au-composite``."""
    specs = []
    for task, key in AU_TASKS.items():
        specs.append(_spec(task, lambda values, key=key: (key,), DESCRIPTIONS[task], DATABASES[key].reference,
                           au_options() + common_options() + location_options((key,))))
    every = tuple(AU_TASKS[name] for name in CD6ME)
    composite_options = au_options() + common_options() + location_options(every)
    specs.append(_spec("cd6me", lambda values: every,
                       "MEB's cross-dataset AU task CD6ME: CASME, CASME II, SAMM, 4DME, MMEW and CAS(ME)³ Part A "
                       "(2,031 clips in MEB's copies), subjects qualified by database; scored as MEB scores it: "
                       "leave one database out (the default protocol; --protocol loso for subjects), and per "
                       "database MEB's two figures, F1 averaged over all the task's AUs (0 for an AU without "
                       "positives) and the mean of positive- and negative-class F1", MEB, composite_options,
                       default_protocol="lodo"))
    specs.append(_spec("au-composite", lambda values: parse_au_members(values.get("members")),
                       "Any AU tasks together (--dataset-opt members=casme2-au,samm-au); subjects qualified by "
                       "database", MEB,
                       (Option("members", str, None, f"the member AU tasks, comma-separated (of "
                                                     f"{', '.join(AU_TASKS)})"),) + composite_options))
    return specs


def task_databases(task: str, options: Mapping[str, Any] | None = None) -> tuple[str, ...]:
    """The database keys an AU task reads."""
    if task in AU_TASKS:
        return (AU_TASKS[task],)
    if task == "cd6me":
        return tuple(AU_TASKS[name] for name in CD6ME)
    return parse_au_members((options or {}).get("members"))
