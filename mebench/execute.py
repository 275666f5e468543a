"""Execute: fold tasks → fold records.

A fold task is one fold of one planned run; its record (predictions for the fold's test samples,
per-epoch training loss, timing) is the unit of work and of resumption. Executors differ only in
where tasks run: ``InProcessExecutor`` here (one after another, or several folds at once with
``--fold-batch``), ``mebench.ray_executor.RayExecutor`` on a Ray cluster. Executors never write
results: they hand each record to ``on_record`` on the driver, which saves it atomically.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np
import torch
from tqdm.auto import tqdm

from mebench.data import PreparedData
from mebench.errors import RunError
from mebench.estimators import fit_estimator, predict_probabilities
from mebench.folds import Fold
from mebench.plan import RunPlan
from mebench.records import FoldRecord, Prediction
from mebench.selection import selection_for
from mebench.timing import Stopwatch
from mebench.fold_batching import fold_batch_size, fold_batching_obstacle, train_folds_batched
from mebench.training import TrainSettings, predict, train_fold

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
    estimator: bool = False  # fitted once (mebench.estimators), not trained

    @classmethod
    def of(cls, plan: RunPlan, data: PreparedData, fold: Fold) -> "FoldJob":
        subjects = list(data.subjects) if plan.config.selection == "inner-val" else None
        return cls(plan.run_id, plan.config.model, dict(plan.model_options), len(plan.classes),
                   plan.settings, fold, [data.sample_ids[i] for i in fold.test], plan.config.selection,
                   plan.compile, subjects, plan.estimator)


def fold_record(job: FoldJob, probabilities: np.ndarray, seconds: float, together: int,
                epoch_losses: list[float], extras: dict) -> FoldRecord:
    """The record of a trained fold: what summarise and resumption read."""
    fold = job.fold
    n_train = int(len(fold.train)) - int(extras.get("n_validation", 0))  # inner-val: without the validation side
    return FoldRecord(fold=fold.index, test_group=fold.name, train_seconds=seconds, folds_trained_together=together,
                      n_train=n_train, n_test=int(len(fold.test)), epoch_losses=[float(v) for v in epoch_losses],
                      predictions=[Prediction(sample_id, probabilities[k].tolist())
                                   for k, sample_id in enumerate(job.test_ids)],
                      extras=extras)


def train_jobs(jobs: list[FoldJob], build: Callable[[], torch.nn.Module], x: torch.Tensor, y: torch.Tensor,
               on_epoch: Callable[[int, float], None] | None = None,
               log: Callable[[str], None] | None = None) -> list[FoldRecord]:
    """Train one fold, or several at once (fold-batched), and return their records. An estimator's
    folds are fitted one by one instead (no epochs: its records have no epoch losses)."""
    settings = jobs[0].settings
    if jobs[0].estimator:
        return [fit_job(job, build, x, y) for job in jobs]
    losses: list[list[float]] = [[] for _ in jobs]
    position = {job.fold.index: k for k, job in enumerate(jobs)}

    def record_loss(epoch: int, loss: float) -> None:  # one fold trained alone
        losses[0].append(loss)
        if on_epoch is not None:
            on_epoch(epoch, loss)

    def record_fold_loss(fold: Fold, epoch: int, loss: float) -> None:  # each fold of a batched group
        losses[position[fold.index]].append(loss)

    extras: list[dict] = [{} for _ in jobs]
    with Stopwatch(settings.device) as watch:
        if len(jobs) == 1:
            job = jobs[0]
            fold, selector = selection_for(job.selection, job.fold, np.asarray(job.subjects or []), settings, x, y)
            model = train_fold(build, x, y, fold, settings, record_loss,
                               after_epoch=selector.after_epoch if selector else None)
            if selector is not None:
                model, extras[0] = selector.finish(model)
            models = [model]
        else:
            assert all(j.selection == "fixed" for j in jobs), "fold batching trains fixed-budget folds only"
            models = train_folds_batched(build, x, y, [j.fold for j in jobs], settings, on_epoch,
                                         on_fold_epoch=record_fold_loss, log=log)
    return [fold_record(job, predict(model, x, job.fold.test, settings), watch.seconds / len(jobs), len(jobs),
                        fold_losses, extra)
            for job, model, fold_losses, extra in zip(jobs, models, losses, extras)]


def fit_job(job: FoldJob, build: Callable, x: torch.Tensor, y: torch.Tensor) -> FoldRecord:
    """The record of an estimator fitted on the fold's training samples (timed like training)."""
    with Stopwatch(job.settings.device) as watch:
        estimator = fit_estimator(build, x, y, job.fold.train, job.settings.fold_seed(job.fold.index))
    return fold_record(job, predict_probabilities(estimator, x, job.fold.test, job.n_classes), watch.seconds, 1, [], {})


#: ``--fold-batch auto`` batches folds on CUDA only for nets below this many forward MACs per sample.
#: Measured on an H200 (benchmarks/README.md, grid_cost.py): the 28×28 nets (≤ 0.1 GMAC) train
#: 2.3–5.3× faster fold-batched; the 75×75 pyramid nets (10–22 GMAC) and AlexNet at 224 (0.7 GMAC)
#: saturate the GPU alone and run 0.6–0.9× as fast when batched.
FOLD_BATCH_MAX_MACS = 0.5e9


def worth_fold_batching(plan: RunPlan) -> bool:
    """Whether ``--fold-batch auto`` trains several folds at once: on CUDA, for small nets only."""
    if plan.device.type != "cuda":
        return False
    from mebench.model_card import count_macs

    return count_macs(plan.build_model(), plan.model_spec) < FOLD_BATCH_MAX_MACS


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
        group_size = 1
        if plan.fold_batch == "auto" and worth_fold_batching(plan):
            group_size = fold_batch_size(plan.build_model, x, y, pending[0], plan.settings, len(pending))
        elif plan.fold_batch not in ("auto", "off"):
            group_size = int(plan.fold_batch)
        if plan.config.selection != "fixed" or plan.compile:
            group_size = 1
        if group_size > 1 and (obstacle := fold_batching_obstacle(plan.build_model, x)) is not None:
            self.log(f"fold batching off: {obstacle}; folds are trained one at a time")
            group_size = 1
        if group_size > 1:
            self.log(f"fold-batched training: {group_size} folds at a time")
        while pending:
            group = pending[:group_size]
            epoch_bar = tqdm(total=plan.settings.epochs, desc=f"  {group[0].name}", unit="epoch", leave=False,
                             disable=not self.progress)

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
