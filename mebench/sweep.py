"""Sweeps: a grid of runs (models × datasets × seeds) over any executor, in shards if asked.

Every run of the grid is planned first (a configuration error fails that run, not the grid);
finished runs are skipped, partial ones resume from their fold records; each distinct
preprocessing is computed once; all fold tasks go to the executor under one progress bar. With
``--shard I/N`` the grid's fold tasks are partitioned deterministically, so N processes sharing one
results folder finish the grid together; whoever completes a run's last fold writes its summary,
under a lock, so two shards never write it twice.
"""

from __future__ import annotations

import fnmatch
import re
import tomllib
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Callable

from mebench.data import DataError, OptionError, PreparedData
from mebench.execute import FoldFailure, InProcessExecutor, WorkUnit, execute
from mebench.plan import RunConfig, RunPlan, plan_run
from mebench.preprocessing import PreprocessingError, config_hash
from mebench.registry import Registry, UnknownNameError, default_registry
from mebench.results import RunDirectory, RunLockedError
from mebench.runner import check_writable, completed_run, load_records, prepare_plan
from mebench.summarise import write_summary

#: Keys a sweep file may hold besides models, datasets and seeds: the options of ``mebench run``.
SWEEP_FILE_KEYS = {"models", "datasets", "seeds", "epochs", "batch_size", "lr", "device", "precision",
                   "channels_last", "fold_batch", "compile", "protocol", "protocol_options", "selection",
                   "model_options", "dataset_options", "data_root", "output", "cache_dir", "workers",
                   "executor", "shard", "ray_address", "retries"}


def parse_seeds(text: str | int | list) -> list[int]:
    """``"0-4"``, ``"0,2,5-6"``, ``3`` or ``[0, 1]`` → a sorted list of distinct seeds."""
    if isinstance(text, int) and not isinstance(text, bool):
        return [text]
    if isinstance(text, list):
        return sorted({s for item in text for s in parse_seeds(item)})
    seeds: set[int] = set()
    for part in str(text).split(","):
        match = re.fullmatch(r"\s*(\d+)\s*(?:-\s*(\d+)\s*)?", part)
        if not match or (match.group(2) and int(match.group(2)) < int(match.group(1))):
            raise OptionError(f"--seeds takes numbers and ranges like 0-4 or 0,2,5-6; got {text!r}")
        low, high = int(match.group(1)), int(match.group(2) or match.group(1))
        seeds.update(range(low, high + 1))
    return sorted(seeds)


def expand_names(patterns: str | list[str], names: list[str], resolve: Callable[[str], Any], kind: str) -> list[str]:
    """Comma list or list of names and wildcards (``aspp-*-waterfall``) → registered names, in order given."""
    if isinstance(patterns, str):
        patterns = [p.strip() for p in patterns.split(",") if p.strip()]
    expanded: list[str] = []
    for pattern in patterns:
        if any(c in pattern for c in "*?["):
            matched = [n for n in names if fnmatch.fnmatchcase(n, pattern)]
            if not matched:
                raise OptionError(f"--{kind}s {pattern}: no registered {kind} matches (`mebench list {kind}s`)")
        else:
            resolve(pattern)  # unknown names fail here, with close matches
            matched = [pattern]
        expanded += [n for n in matched if n not in expanded]
    if not expanded:
        raise OptionError(f"--{kind}s: give at least one {kind}")
    return expanded


def parse_shard(text: str | None) -> tuple[int, int] | None:
    if not text:
        return None
    match = re.fullmatch(r"(\d+)/(\d+)", str(text).strip())
    if not match or not 1 <= int(match.group(1)) <= int(match.group(2)):
        raise OptionError(f"--shard takes I/N with 1 <= I <= N, e.g. 2/4; got {text!r}")
    return int(match.group(1)), int(match.group(2))


def read_sweep_file(path: Path) -> dict[str, Any]:
    """A TOML sweep file: the keys of ``mebench sweep`` (models, datasets, seeds, epochs, …)."""
    try:
        data = tomllib.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as error:
        raise OptionError(f"{path}: cannot read the sweep file ({error})") from None
    except tomllib.TOMLDecodeError as error:
        raise OptionError(f"{path}: not valid TOML: {error}") from None
    unknown = sorted(set(data) - SWEEP_FILE_KEYS)
    if unknown:
        raise OptionError(f"{path}: unknown key {unknown[0]!r}; valid keys: {', '.join(sorted(SWEEP_FILE_KEYS))}")
    for key in ("models", "datasets"):
        if key not in data:
            raise OptionError(f"{path}: the sweep file needs {key!r} (a list of names or wildcards)")
    return data


@dataclass
class GridRun:
    """One run of the grid: its configuration, and its plan or the error that stopped planning."""

    config: RunConfig
    plan: RunPlan | None = None
    error: str | None = None
    run_dir: RunDirectory | None = None
    done_folds: int = 0
    complete: bool = False

    @property
    def label(self) -> str:
        return self.plan.run_id if self.plan else f"{self.config.model} on {self.config.dataset} seed {self.config.seed}"


@dataclass
class SweepOutcome:
    runs: list[GridRun]
    failures: list[FoldFailure] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.failures and all(r.error is None for r in self.runs)


def grid_configs(models: list[str], datasets: list[str], seeds: list[int], base: RunConfig) -> list[RunConfig]:
    return [replace(base, model=m, dataset=d, seed=s) for d in datasets for m in models for s in seeds]


def plan_grid(configs: list[RunConfig], registry: Registry, output_dir: Path) -> list[GridRun]:
    runs = []
    for config in configs:
        run = GridRun(config)
        try:
            run.plan = plan_run(config, registry)
        except (UnknownNameError, OptionError, DataError) as error:
            run.error = f"{type(error).__name__}: {error}"
        if run.plan is not None:
            run.run_dir = RunDirectory(output_dir, run.plan.run_id)
            run.complete = completed_run(run.run_dir) is not None
            run.done_folds = len(run.plan.folds) if run.complete else sum(
                run.run_dir.fold_path(f.index).exists() for f in run.plan.folds)
        runs.append(run)
    return runs


def shard_tasks(runs: list[GridRun], shard: tuple[int, int] | None) -> dict[str, set[int]]:
    """Fold indices each run contributes to this shard: task k of the grid (runs in grid order, folds in
    order) belongs to shard ``k mod N + 1``. Deterministic, so N processes agree without talking."""
    mine: dict[str, set[int]] = {}
    k = 0
    for run in runs:
        if run.plan is None:
            continue
        for fold in run.plan.folds:
            if shard is None or k % shard[1] == shard[0] - 1:
                mine.setdefault(run.plan.run_id, set()).add(fold.index)
            k += 1
    return mine


class Sweep:
    """Expand, plan, execute and summarise a grid of runs."""

    def __init__(self, configs: list[RunConfig], output_dir: Path, cache_dir: Path | None = None,
                 registry: Registry | None = None, workers: int | None = None, progress: bool = True,
                 log: Callable[[str], None] = print):
        self.registry = registry or default_registry()
        self.output_dir, self.cache_dir, self.workers = Path(output_dir), cache_dir, workers
        self.progress, self.log = progress, log
        self.runs = plan_grid(configs, self.registry, self.output_dir)
        self._prepared: dict[str, tuple[PreparedData, float]] = {}

    def dry_run_rows(self, shard: tuple[int, int] | None = None) -> list[list[Any]]:
        mine = shard_tasks(self.runs, shard)
        rows = []
        for run in self.runs:
            if run.plan is None:
                rows.append([run.label, "-", "-", "-", f"cannot run: {run.error}"])
                continue
            n = len(run.plan.folds)
            status = "complete" if run.complete else ("partial" if run.done_folds else "to do")
            rows.append([run.plan.run_id, n, run.done_folds, len(mine.get(run.plan.run_id, ())) if shard else n, status])
        return rows

    def data_for(self, plan: RunPlan) -> tuple[PreparedData, float]:
        """Prepared data, computed once per distinct (samples, preprocessing, input size) in this sweep."""
        key = config_hash([[s.id, s.fingerprint] for s in plan.samples] + [plan.preprocessing, str(plan.model_spec.input_spec),
                                                                           list(plan.classes)])
        if key not in self._prepared:
            self._prepared[key] = prepare_plan(plan, self.cache_dir, self.workers, self.progress, self.log)
        return self._prepared[key]

    def summarise_if_complete(self, run: GridRun) -> bool:
        """Write the run's summary if all its fold records exist; under a lock, once."""
        plan = run.plan
        with run.run_dir.lock(name="summary", wait=True):
            if completed_run(run.run_dir) is not None:
                run.complete = True
                return True
            if not all(run.run_dir.fold_path(f.index).exists() for f in plan.folds):
                return False  # folds still to train (here or in another shard): nothing to prepare yet
            data, seconds = self.data_for(plan)
            records = load_records(plan, data, run.run_dir, self.log)
            if len(records) < len(plan.folds):
                return False
            write_summary(plan, data, run.run_dir, records, seconds)
            run.complete = True
            return True

    def run(self, executor=None, shard: tuple[int, int] | None = None, summarise_only: bool = False) -> SweepOutcome:
        check_writable(self.output_dir, "results folder")
        outcome = SweepOutcome(self.runs)
        mine = shard_tasks(self.runs, shard)
        units, locks, by_id = [], [], {}
        total = done = 0
        try:
            for run in self.runs:
                if run.plan is None or run.complete or summarise_only:
                    continue
                plan = run.plan
                wanted = mine.get(plan.run_id, set())
                if not wanted:
                    continue
                try:
                    if shard is None:  # a whole run is ours: lock it against a second sweep or `mebench run`
                        lock = run.run_dir.lock(wait=False)
                        lock.__enter__()
                        locks.append(lock)
                    run.run_dir.start(plan.identity, log=self.log)
                    data, _ = self.data_for(plan)
                    records = load_records(plan, data, run.run_dir, self.log)
                except RunLockedError as error:
                    self.log(f"skipped: {error}")
                    continue
                except (DataError, PreprocessingError, RuntimeError, OSError) as error:
                    outcome.failures.append(FoldFailure(plan.run_id, "-", f"{type(error).__name__}: {error}"))
                    continue
                pending = [f for f in plan.folds if f.index in wanted and f.index not in records]
                total += len(wanted)
                done += len(wanted) - len(pending)
                by_id[plan.run_id] = run
                units.append(WorkUnit(plan, data, pending))

            def on_record(plan: RunPlan, record: dict) -> None:
                run = by_id[plan.run_id]
                run.run_dir.save_fold(record["fold"], record)
                run.done_folds += 1
                if run.done_folds >= len(plan.folds):
                    self._summarise(run, outcome)

            executor = executor or InProcessExecutor(progress=self.progress, log=self.log, isolate_failures=True)
            if units:
                outcome.failures += execute(units, executor, on_record, progress=self.progress,
                                            desc="fold tasks", initial=done, total=total)
            for run in self.runs:  # runs finished by other shards, or resumed complete
                if run.plan is not None and not run.complete:
                    self._summarise(run, outcome)
        finally:
            for lock in locks:
                lock.__exit__(None, None, None)
        return outcome

    def _summarise(self, run: GridRun, outcome: SweepOutcome) -> None:
        try:
            self.summarise_if_complete(run)
        except Exception as error:  # a run that cannot be summarised is reported, the grid goes on
            outcome.failures.append(FoldFailure(run.plan.run_id, "summary", f"{type(error).__name__}: {error}"))
