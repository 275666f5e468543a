"""Execute: fold tasks → fold records.

A fold task is one fold of one planned run; its record (predictions for the fold's test samples,
per-epoch training loss, timing) is the unit of work and of resumption. Executors differ only in
where tasks run: ``InProcessExecutor`` here (one after another, or several folds at once with
``--fold-batch``), ``mebench.run.ray_executor.RayExecutor`` on a Ray cluster. Executors never write
results: they hand each record to ``on_record`` on the driver, which saves it atomically.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import torch
from tqdm.auto import tqdm

from mebench.data import PreparedData
from mebench.errors import RunError
from mebench.folds import Fold
from mebench.run.learners import FOLD_BATCH_MAX_MACS, NET, Learner, fold_record, worth_fold_batching  # noqa: F401
from mebench.run.plan import RunPlan
from mebench.records import FoldRecord
from mebench.run.spot_recognise import Recogniser
from mebench.run.training import TrainSettings

OnRecord = Callable[[RunPlan, FoldRecord], None]


@dataclass
class WorkUnit:
    """The pending folds of one run, with its prepared data."""

    plan: RunPlan
    data: PreparedData
    folds: list[Fold]


@dataclass
class FoldFailure:
    run_id: str
    fold: str
    error: str


@dataclass
class FoldJob:
    """What training one fold needs, and nothing else: small and picklable (it travels to Ray workers)."""

    run_id: str
    model: str
    model_options: dict
    n_classes: int
    settings: TrainSettings
    fold: Fold
    test_ids: list[str]
    selection: str = "fixed"
    compile: bool = False
    subjects: list[str] | None = None  # every sample's subject; only inner-val needs them
    learner: Learner = NET  # how the fold learns (mebench.run.learners)
    #: every sample in position order, where the learner reads the samples themselves (a spotter's videos)
    samples: list | None = None
    classes: tuple[str, ...] = ()
    #: spot-then-recognise: the recognition model the plan resolved (``mebench.run.spot_recognise.Recogniser``)
    recogniser: Recogniser | None = None
    #: how a spotter reads its videos (``PreparedData.video_settings``: the run's cache folder, workers, progress)
    video_settings: dict | None = None

    @classmethod
    def of(cls, plan: RunPlan, data: PreparedData, fold: Fold) -> "FoldJob":
        subjects = list(data.subjects) if plan.config.selection == "inner-val" else None
        return cls(plan.run_id, plan.config.model, dict(plan.model_options), len(plan.classes),
                   plan.settings, fold, [data.sample_ids[i] for i in fold.test], plan.config.selection,
                   plan.compile, subjects, plan.learner, list(plan.samples) if plan.learner.needs_samples else None,
                   tuple(plan.classes), plan.recogniser,
                   getattr(data, "video_settings", None))


def train_jobs(jobs: list[FoldJob], build: Callable[[], torch.nn.Module], x: torch.Tensor, y: torch.Tensor,
               on_epoch: Callable[[int, float], None] | None = None,
               log: Callable[[str], None] | None = None) -> list[FoldRecord]:
    """The records of one fold, or of several trained at once (fold-batched), as their learner makes them."""
    return jobs[0].learner.train(jobs, build, x, y, on_epoch, log)


def _is_out_of_memory(error: BaseException) -> bool:
    return isinstance(error, torch.cuda.OutOfMemoryError) or "out of memory" in str(error).lower()


class InProcessExecutor:
    """Trains fold tasks in this process: one fold at a time, or ``--fold-batch`` folds at once.

    Under fold batching an out-of-memory error halves the group and retries it, down to one fold.
    With ``isolate_failures`` (sweeps) a run that fails is reported and the other runs go on."""

    name = "in-process"

    def __init__(self, progress: bool = True, log: Callable[[str], None] = print, isolate_failures: bool = False):
        self.progress, self.log, self.isolate_failures = progress, log, isolate_failures

    def run(self, units: list[WorkUnit], on_record: OnRecord, bar: tqdm | None = None) -> list[FoldFailure]:
        failures: list[FoldFailure] = []
        for unit in units:
            try:
                self.run_unit(unit, on_record, bar)
            except KeyboardInterrupt:
                raise
            except Exception as error:  # a failing run does not stop the others
                if not self.isolate_failures:
                    raise
                failures.append(FoldFailure(unit.plan.run_id, "-", f"{type(error).__name__}: {error}"))
        return failures

    def run_unit(self, unit: WorkUnit, on_record: OnRecord, bar: tqdm | None = None) -> None:
        plan, data = unit.plan, unit.data
        if not unit.folds:
            return
        device = plan.device
        x, y = data.x.to(device), data.y.to(device)
        build = plan.build_model
        if plan.compile:
            build = _compiled(build)
        pending = list(unit.folds)
        group_size = plan.learner.fold_group_size(plan, x, y, pending, self.log)
        while pending:
            group = pending[:group_size]
            epoch_bar = tqdm(total=plan.settings.epochs, desc=f"  {group[0].name}", unit="epoch", leave=False,
                             disable=not self.progress or not plan.learner.has_epochs)

            def on_epoch(epoch: int, loss: float) -> None:
                epoch_bar.set_postfix(loss=f"{loss:.3f}")
                epoch_bar.update()

            try:
                records = train_jobs([FoldJob.of(plan, data, f) for f in group], build, x, y, on_epoch, self.log)
            except RuntimeError as error:
                epoch_bar.close()
                if len(group) > 1 and _is_out_of_memory(error):
                    group_size = max(1, len(group) // 2)
                    self.log(f"out of memory with {len(group)} folds at once; retrying {group_size} at a time")
                    if device.type == "cuda":
                        torch.cuda.empty_cache()
                    continue
                raise RunError(f"model {plan.config.model} ({plan.run_id}): {error}") from error
            epoch_bar.close()
            for record in records:
                on_record(plan, record)
            if bar is not None:
                bar.update(len(group))
            pending = pending[len(group):]


def _compiled(build: Callable[[], torch.nn.Module]) -> Callable[[], torch.nn.Module]:
    """Each fold's fresh model wrapped in ``torch.compile``; parameters are graph inputs, so the
    folds after the first reuse its compiled code instead of compiling again."""
    return lambda: torch.compile(build())


def execute(units: list[WorkUnit], executor, on_record: OnRecord, progress: bool = True,
            desc: str = "folds", initial: int = 0, total: int | None = None) -> list[FoldFailure]:
    """Run every pending fold task of ``units`` on ``executor`` under one progress bar (with ETA)."""
    pending = sum(len(u.folds) for u in units)
    bar = tqdm(total=total if total is not None else pending + initial, initial=initial, desc=desc, unit="fold",
               disable=not progress, dynamic_ncols=True)
    try:
        return executor.run(units, on_record, bar)
    finally:
        bar.close()
