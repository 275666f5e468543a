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
from contextlib import ExitStack
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any, Callable, Mapping

from mebench.errors import DataError, OptionError, PreprocessingError, RunError, RunLockedError, UnknownNameError
from mebench.run.execute import FoldFailure, InProcessExecutor, WorkUnit, execute
from mebench.run.plan import RunConfig, RunPlan, plan_run
from mebench.records import FoldRecord
from mebench.registry import Registry, default_registry
from mebench.run_options import run_option, sweep_run_keys
from mebench.run.runner import Preparer, RunSession, check_writable, refuse_worker_reentry


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


@dataclass
class SweepSpec:
    """A grid: every model × dataset × seed, with the run options they share (``run``: ``RunConfig``
    fields such as epochs, protocol, model_options) and where the results and the work go."""

    models: str | list[str]
    datasets: str | list[str]
    seeds: str | int | list = "0"
    run: dict[str, Any] = field(default_factory=dict)
    output: Path = run_option("output").default
    cache_dir: Path | None = run_option("cache_dir").default
    workers: int | None = run_option("workers").default
    executor: str = "in-process"
    shard: str | None = None
    ray_address: str | None = None
    retries: int = 2

    @classmethod
    def keys(cls) -> set[str]:
        """The keys a sweep file (or the command line) may set: the grid's and the run options a sweep shares
        (``mebench.run_options``: every ``RunConfig`` field but the grid's axes)."""
        return {f.name for f in fields(cls) if f.name != "run"} | set(sweep_run_keys())

    @classmethod
    def from_mapping(cls, values: Mapping[str, Any], where: str = "the sweep") -> "SweepSpec":
        unknown = sorted(set(values) - cls.keys())
        if unknown:
            raise OptionError(f"{where}: unknown key {unknown[0]!r}; valid keys: {', '.join(sorted(cls.keys()))}")
        for key in ("models", "datasets"):
            if not values.get(key):
                raise OptionError(f"{where}: the sweep needs {key!r} (a list of names or wildcards)")
        run_keys = sweep_run_keys()
        own = {key: value for key, value in values.items() if key not in run_keys}
        for key in ("output", "cache_dir"):
            if own.get(key) is not None:
                own[key] = Path(own[key])
        return cls(**own, run={key: value for key, value in values.items() if key in run_keys})

    @classmethod
    def from_file(cls, path: Path, overrides: Mapping[str, Any] | None = None) -> "SweepSpec":
        """A TOML sweep file with the keys of ``mebench sweep`` (models, datasets, seeds, epochs, …);
        ``overrides`` (the options given on the command line) take precedence over the file."""
        try:
            data = tomllib.loads(Path(path).read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError) as error:
            raise OptionError(f"{path}: cannot read the sweep file ({error})") from None
        except tomllib.TOMLDecodeError as error:
            raise OptionError(f"{path}: not valid TOML: {error}") from None
        return cls.from_mapping({**data, **(overrides or {})}, where=str(path))

    def configs(self, registry: Registry) -> list[RunConfig]:
        """The grid's run configurations: datasets, then models, then seeds."""
        models = expand_names(self.models, registry.models.names(), registry.models.get, "model")
        datasets = expand_names(self.datasets, registry.datasets.names(), registry.datasets.get, "dataset")
        base = RunConfig(model="", dataset="", **{k: str(v) if k == "data_root" else v for k, v in self.run.items()})
        return grid_configs(models, datasets, parse_seeds(self.seeds), base)


@dataclass
class GridRun:
    """One run of the grid: its configuration, and its session or the error that stopped planning."""

    config: RunConfig
    session: RunSession | None = None
    error: str | None = None
    done_folds: int = 0
    complete: bool = False

    @property
    def plan(self) -> RunPlan | None:
        return self.session.plan if self.session else None

    @property
    def run_dir(self):
        return self.session.run_dir if self.session else None

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

    @property
    def complete(self) -> int:
        return sum(r.complete for r in self.runs)

    @property
    def complete_folders(self) -> list[Path]:
        """The folders of the grid's complete runs: what its leaderboard shows (not the rest of the results folder)."""
        return [run.run_dir.path for run in self.runs if run.complete]

    @property
    def problems(self) -> list[tuple[str, str]]:
        """(where, error) of every run that could not be planned and every failed fold task or summary."""
        return ([(r.label, r.error) for r in self.runs if r.error]
                + [(f"{f.run_id} fold {f.fold}", f.error) for f in self.failures])


def grid_configs(models: list[str], datasets: list[str], seeds: list[int], base: RunConfig) -> list[RunConfig]:
    return [replace(base, model=m, dataset=d, seed=s) for d in datasets for m in models for s in seeds]


def plan_grid(configs: list[RunConfig], registry: Registry, output_dir: Path, preparer: Preparer,
              log: Callable[[str], None]) -> list[GridRun]:
    runs = []
    for config in configs:
        run = GridRun(config)
        try:
            run.session = RunSession(plan_run(config, registry), output_dir, preparer, log)
        except (UnknownNameError, OptionError, DataError) as error:
            run.error = f"{type(error).__name__}: {error}"
        if run.session is not None:
            run.complete = run.session.completed() is not None
            run.done_folds = len(run.plan.folds) if run.complete else run.session.written_folds
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
    """Plan, execute and summarise a grid of runs, each through its ``RunSession``."""

    def __init__(self, configs: list[RunConfig], output_dir: Path, cache_dir: Path | None = None,
                 registry: Registry | None = None, workers: int | None = None, progress: bool = True,
                 log: Callable[[str], None] = print):
        refuse_worker_reentry()
        self.registry = registry or default_registry()
        self.output_dir, self.progress, self.log = Path(output_dir), progress, log
        self.runs = plan_grid(configs, self.registry, self.output_dir, Preparer(cache_dir, workers, progress, log), log)

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

    def summarise_if_complete(self, run: GridRun) -> bool:
        """Write the run's summary if all its fold records exist; under a lock, once."""
        session = run.session
        with session.claimed(wait=True, name="summary"):
            if session.completed() is not None:
                run.complete = True
                return True
            if not session.all_folds_written:
                return False  # folds still to train (here or in another shard): nothing to prepare yet
            if len(session.load_records()) < len(run.plan.folds):
                return False
            session.summarise()
            run.complete = True
            return True

    def claim(self, run: GridRun, wanted: set[int], whole_run: bool, locks: ExitStack) -> WorkUnit:
        """The run's pending folds of this shard, its lock held in ``locks`` when the whole run is ours
        (against a second sweep or a ``mebench run`` of it)."""
        if whole_run:
            locks.enter_context(run.session.claimed(wait=False))
        run.session.start()
        run.session.load_records()
        return run.session.pending(wanted)

    def run(self, executor=None, shard: tuple[int, int] | None = None, summarise_only: bool = False,
            on_complete: Callable[[Path], None] | None = None) -> SweepOutcome:
        """Train the grid's pending folds and summarise every run whose folds are all done. ``on_complete`` is
        called with a run's folder once per run that is complete: at once for runs complete before the sweep,
        and as soon as its summary is written for the others (while the rest of the grid trains); an exception
        it raises is reported as that run's failure and the grid goes on."""
        check_writable(self.output_dir, "results folder")
        outcome = SweepOutcome(self.runs)
        for run in self.runs:
            if run.complete:
                self._completed(run, outcome, on_complete)
        mine = shard_tasks(self.runs, shard)
        units, by_id = [], {}
        total = done = 0
        with ExitStack() as locks:
            for run in self.runs:
                wanted = mine.get(run.plan.run_id, set()) if run.plan else set()
                if run.plan is None or run.complete or summarise_only or not wanted:
                    continue
                try:
                    unit = self.claim(run, wanted, shard is None, locks)
                except RunLockedError as error:
                    self.log(f"skipped: {error}")
                    continue
                except (DataError, PreprocessingError, RunError, OSError) as error:
                    outcome.failures.append(FoldFailure(run.plan.run_id, "-", f"{type(error).__name__}: {error}"))
                    continue
                total += len(wanted)
                done += len(wanted) - len(unit.folds)
                by_id[run.plan.run_id] = run
                units.append(unit)

            def on_record(plan: RunPlan, record: FoldRecord) -> None:
                run = by_id[plan.run_id]
                run.session.save(record)
                run.done_folds += 1
                if run.done_folds >= len(plan.folds):
                    self._summarise(run, outcome, on_complete)

            executor = executor or InProcessExecutor(progress=self.progress, log=self.log, isolate_failures=True)
            if units:
                outcome.failures += execute(units, executor, on_record, progress=self.progress,
                                            desc="fold tasks", initial=done, total=total)
            for run in self.runs:  # runs finished by other shards, or resumed complete
                if run.plan is not None and not run.complete:
                    self._summarise(run, outcome, on_complete)
        return outcome

    def _summarise(self, run: GridRun, outcome: SweepOutcome,
                   on_complete: Callable[[Path], None] | None = None) -> None:
        try:
            complete = self.summarise_if_complete(run)
        except Exception as error:  # a run that cannot be summarised is reported, the grid goes on
            outcome.failures.append(FoldFailure(run.plan.run_id, "summary", f"{type(error).__name__}: {error}"))
            return
        if complete:
            self._completed(run, outcome, on_complete)

    @staticmethod
    def _completed(run: GridRun, outcome: SweepOutcome, on_complete: Callable[[Path], None] | None) -> None:
        """Hand a complete run's folder to ``on_complete`` (``--track``: its export)."""
        if on_complete is None:
            return
        try:
            on_complete(run.run_dir.path)
        except Exception as error:  # e.g. a tracker that refuses it: reported, the grid goes on
            outcome.failures.append(FoldFailure(run.plan.run_id, "on complete", f"{type(error).__name__}: {error}"))


def make_executor(spec: SweepSpec, progress: bool, log: Callable[[str], None]):
    """The sweep's executor: in this process (a failing run does not stop the others), or on Ray."""
    if spec.executor == "ray":
        from mebench.run.ray_executor import RayExecutor

        return RayExecutor(address=spec.ray_address, retries=spec.retries, progress=progress, log=log)
    if spec.executor != "in-process":
        raise OptionError(f"executor must be in-process or ray, got {spec.executor!r}")
    return InProcessExecutor(progress=progress, log=log, isolate_failures=True)


def plan_sweep(spec: SweepSpec, progress: bool = True, log: Callable[[str], None] = print,
               registry: Registry | None = None) -> Sweep:
    registry = registry or default_registry()
    return Sweep(spec.configs(registry), spec.output, cache_dir=spec.cache_dir, registry=registry,
                 workers=spec.workers, progress=progress, log=log)


def dry_run_report(spec: SweepSpec, progress: bool = True, log: Callable[[str], None] = print) -> str:
    """The runs of the grid, their folds, what is done and what this shard would do; nothing is trained."""
    from tabulate import tabulate

    grid = plan_sweep(spec, progress, log)
    shard = parse_shard(spec.shard)
    headers = ["run", "folds", "done", f"shard {spec.shard}" if shard else "tasks", "status"]
    table = tabulate(grid.dry_run_rows(shard), headers=headers, tablefmt="github", disable_numparse=True)
    complete = sum(r.complete for r in grid.runs)
    to_do = sum(len(r.plan.folds) - r.done_folds for r in grid.runs if r.plan)
    return f"{table}\n\n{len(grid.runs)} runs, {complete} complete, {to_do} fold tasks to do"


def run_sweep(spec: SweepSpec, summarise_only: bool = False, progress: bool = True,
              log: Callable[[str], None] = print, on_complete: Callable[[Path], None] | None = None) -> SweepOutcome:
    """Plan and run the grid on its executor (a bad shard is refused before anything is planned);
    ``on_complete`` as in ``Sweep.run``."""
    shard = parse_shard(spec.shard)
    return plan_sweep(spec, progress, log).run(make_executor(spec, progress, log), shard=shard,
                                               summarise_only=summarise_only, on_complete=on_complete)
