"""A run's lifecycle on disk: claim its folder → prepare its data → execute its pending folds →
summarise. ``RunSession`` is that lifecycle for one planned run; ``run`` drives one session for
``mebench run`` and ``mebench.run.sweep.Sweep`` drives one per run of a grid, so both resume, lock and
summarise the same way.
"""

from __future__ import annotations

import multiprocessing
import tempfile
import time
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Callable, Iterator

import torch

from mebench.data import PreparedData
from mebench.errors import ConfigError, WorkerReentryError
from mebench.run.execute import InProcessExecutor, WorkUnit, execute
from mebench.tasks import metrics_report
from mebench.run.plan import RunConfig, RunPlan, plan_run
from mebench.run.preprocessing import default_cache_dir, note_warnings, prepare
from mebench.records import FoldRecord, RunRecord, load_run
from mebench.registry import Registry
from mebench.identity import config_hash
from mebench.results import RunDirectory
from mebench.run.summarise import summarise
from mebench.timing import reset_peak_memory

Log = Callable[[str], None]


def refuse_worker_reentry() -> None:
    """Stop at once inside one of mebench's own worker processes: a worker re-imports the caller's
    script, and without a main guard it would reach the call again and wait forever on the run's lock
    held by its parent (or start workers of its own)."""
    if getattr(multiprocessing.current_process(), "_inheriting", False):
        raise WorkerReentryError("mebench was started again inside one of its own worker processes, which "
                                 "re-import your script: put the code that calls mebench under "
                                 "`if __name__ == \"__main__\":`")


def check_writable(folder: Path, what: str) -> None:
    """Fail before any work when ``folder`` cannot be created or written."""
    folder = Path(folder)
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=folder, prefix=".mebench-write-test-"):
            pass
    except OSError as error:
        raise ConfigError(f"{what} {folder} is not writable ({error.strerror or error}); "
                          f"pass another folder or fix its permissions") from None


class Preparer:
    """Prepares a plan's data through the preprocessing cache, once per distinct (samples, chain, input
    size, classes) in this process: the runs of a sweep that share preprocessing share the tensor."""

    def __init__(self, cache_dir: Path | None = None, workers: int | None = None, progress: bool = True,
                 log: Log = print):
        self.cache_dir, self.workers, self.progress, self.log = cache_dir, workers, progress, log
        self._prepared: dict[str, tuple[PreparedData, float]] = {}

    def __call__(self, plan: RunPlan) -> tuple[PreparedData, float]:
        """(the prepared data, seconds it took when first prepared)."""
        key = config_hash([[s.id, s.fingerprint] for s in plan.samples]
                          + [plan.preprocessing, str(plan.model_spec.input_spec), list(plan.classes)])
        if key not in self._prepared:
            start = time.perf_counter()
            if plan.learner.uses_chain:
                data = prepare(plan.samples, plan.chain, plan.model_spec.input_spec, classes=plan.classes,
                               kind=plan.kind,
                               cache_dir=self.cache_dir or default_cache_dir(), workers=self.workers,
                               progress=self.progress, log=self.log)
            else:  # a spotter reads its videos itself: the data is their identity only
                data = PreparedData(torch.zeros(len(plan.samples), 1, 1, 1), plan.kind.targets(plan.samples, plan.classes),
                                    [s.id for s in plan.samples], [s.subject for s in plan.samples],
                                    [s.dataset for s in plan.samples],
                                    video_settings={"cache_dir": str(self.cache_dir or default_cache_dir()),
                                                    "workers": self.workers, "progress": self.progress})
            self._warn_notes(plan, data)
            self._prepared[key] = data, time.perf_counter() - start
        return self._prepared[key]

    def _warn_notes(self, plan: RunPlan, data: PreparedData) -> None:
        """One line per declared note with a warning that some sample's note makes true (a face not found)."""
        for line in note_warnings(plan.chain, data.notes, samples=len(plan.samples),
                                  uncropped=sum(s.cropped is False for s in plan.samples)):
            self.log(f"warning: {line}")


class RunSession:
    """One planned run's folder through its lifecycle: ``completed`` → ``claimed`` (the run's lock) →
    ``start`` → ``data`` → ``pending``/``save`` (fold records) → ``summarise``."""

    def __init__(self, plan: RunPlan, output_dir: Path, preparer: Preparer, log: Log = print):
        self.plan, self.preparer, self.log = plan, preparer, log
        self.run_dir = RunDirectory(output_dir, plan.run_id)
        self.records: dict[int, FoldRecord] = {}

    def completed(self) -> RunRecord | None:
        """This run's saved results, or None when they are missing or unreadable (then it is summarised
        again). Only this run's folder is read: other runs in the results folder play no part."""
        return load_run(self.run_dir.path)[0] if self.run_dir.complete else None

    @contextmanager
    def claimed(self, wait: bool = True, name: str = "run") -> Iterator[None]:
        """Hold the run's lock: a second process on the same run waits for it (``wait``) or stops
        (``RunLockedError`` naming the holder)."""
        with self.run_dir.lock(wait=wait, log=self.log, name=name):
            yield

    def start(self, force: bool = False) -> None:
        """Record the configuration (``force``: after discarding what the folder held)."""
        if force:
            self.run_dir.clear(keep_locks=True)
        self.run_dir.start(self.plan.identity, log=self.log)

    def data(self) -> tuple[PreparedData, float]:
        return self.preparer(self.plan)

    def load_records(self) -> dict[int, FoldRecord]:
        """The fold records already written that match this run's folds; damaged ones are discarded."""
        data, _ = self.data()
        self.records = {}
        for fold in self.plan.folds:
            record = self.run_dir.load_fold(fold.index, name=fold.name, test_ids=[data.sample_ids[i] for i in fold.test],
                                            n_classes=self.plan.kind.answer_width(self.plan.classes), log=self.log,
                                            answer_problem=lambda values: self.plan.kind.answer_problem(
                                                values, self.plan.classes))
            if record is not None:
                self.records[fold.index] = record
        return self.records

    def pending(self, wanted: set[int] | None = None) -> WorkUnit:
        """The folds still to train (of ``wanted``, default all), as one unit of work."""
        data, _ = self.data()
        folds = [f for f in self.plan.folds if f.index not in self.records and (wanted is None or f.index in wanted)]
        return WorkUnit(self.plan, data, folds)

    def save(self, record: FoldRecord) -> None:
        self.run_dir.save_fold(record)
        self.records[record.fold] = record

    @property
    def written_folds(self) -> int:
        """How many of the run's fold records are on disk."""
        return sum(self.run_dir.fold_path(f.index).exists() for f in self.plan.folds)

    @property
    def all_folds_written(self) -> bool:
        return self.written_folds == len(self.plan.folds)

    def summarise(self) -> RunRecord:
        """Write predictions.csv, metrics.json and run.json (last: it marks completion)."""
        data, seconds = self.data()
        predictions, record = summarise(self.plan, data, self.records, seconds)
        self.run_dir.write_outputs(record, predictions)
        record.path = self.run_dir.path
        return record


@dataclass
class RunOutcome:
    run_dir: Path
    record: RunRecord
    reused: bool  # True when the run was already complete and nothing was recomputed

    def summary(self) -> str:
        """What ``mebench run`` prints: the metrics with intervals and the chance level, size and speed."""
        timing = self.record.timing
        return (f"{metrics_report(self.record.metrics)}\n\nparameters: {self.record.parameters:,}   train s/fold: "
                f"{timing.train_seconds_per_fold_mean:.1f}   inference: {timing.inference_fps:.0f} fps "
                f"(batch {timing.inference_batch_size})\nresults: {self.run_dir}")


def run(config: RunConfig, registry: Registry | None = None, output_dir: Path = Path("results"),
        cache_dir: Path | None = None, force: bool = False, progress: bool = True, workers: int | None = None,
        log: Log = print, executor=None, wait: bool = True) -> RunOutcome:
    """Plan, train and score one run; resume from finished folds; a finished run is not repeated
    unless ``force``. A second process on the same run waits for the first (``wait``) or stops."""
    refuse_worker_reentry()
    plan = plan_run(config, registry)
    check_writable(output_dir, "results folder")
    check_writable(cache_dir or default_cache_dir(), "cache folder")
    if plan.recogniser is not None:  # spot-then-recognise: the recogniser's clips go to the run's cache too
        plan.recogniser = replace(plan.recogniser, cache_dir=str(cache_dir or default_cache_dir()))
    session = RunSession(plan, output_dir, Preparer(cache_dir, workers, progress, log), log)
    if not force and (existing := session.completed()) is not None:
        log(f"{plan.run_id}: already complete in {session.run_dir.path} (use --force to run again)")
        return RunOutcome(session.run_dir.path, existing, reused=True)
    with session.claimed(wait=wait):
        if not force and (existing := session.completed()) is not None:  # finished while we waited
            log(f"{plan.run_id}: completed by the other process in {session.run_dir.path}")
            return RunOutcome(session.run_dir.path, existing, reused=True)
        session.start(force)
        session.data()
        log(plan.describe())
        if plan.dataset_spec.describe_run is not None:
            budget = plan.learner.budget(plan.settings)  # none: an estimator
            note = plan.dataset_spec.describe_run({**plan.resolved["dataset_options"], **budget})
            if note:
                log(note)
        resumed = len(session.load_records())
        reset_peak_memory(plan.device)
        execute([session.pending()], executor or InProcessExecutor(progress=progress, log=log),
                lambda _plan, record: session.save(record), progress=progress, initial=resumed,
                total=len(plan.folds))
        if resumed:
            log(f"resumed: {resumed} of {len(plan.folds)} folds were already done and were not retrained")
        record = session.summarise()
    return RunOutcome(session.run_dir.path, record, reused=False)
