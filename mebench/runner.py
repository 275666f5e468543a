"""One run: plan → prepare → execute → summarise, resuming from whatever fold records exist."""

from __future__ import annotations

import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from mebench.data import PreparedData
from mebench.execute import InProcessExecutor, WorkUnit, execute
from mebench.plan import ConfigError, RunConfig, RunPlan, plan_run
from mebench.preprocessing import default_cache_dir, prepare
from mebench.registry import Registry
from mebench.results import RunDirectory, load_run
from mebench.summarise import write_summary
from mebench.timing import reset_peak_memory


@dataclass
class RunOutcome:
    run_dir: Path
    metrics: dict[str, Any]
    run_info: dict[str, Any]
    reused: bool  # True when the run was already complete and nothing was recomputed


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


def completed_run(run_dir: RunDirectory) -> dict[str, Any] | None:
    """This run's saved results, or None when they are missing or unreadable (then it is summarised again).
    Only this run's folder is read: other runs in the results folder, damaged or not, play no part."""
    return load_run(run_dir.path)[0] if run_dir.complete else None


def load_records(plan: RunPlan, data: PreparedData, run_dir: RunDirectory, log) -> dict[int, dict]:
    """The fold records already written for this run that match its folds; damaged ones are discarded."""
    records = {}
    for fold in plan.folds:
        test_ids = [data.sample_ids[i] for i in fold.test]
        record = run_dir.load_fold(fold.index, name=fold.name, test_ids=test_ids, n_classes=len(plan.classes), log=log)
        if record is not None:
            records[fold.index] = record
    return records


def prepare_plan(plan: RunPlan, cache_dir: Path | None, workers: int | None, progress: bool, log) -> tuple[PreparedData, float]:
    start = time.perf_counter()
    data = prepare(plan.samples, plan.chain, plan.model_spec.input_spec, classes=plan.classes,
                   cache_dir=cache_dir or default_cache_dir(), workers=workers, progress=progress, log=log)
    missed = sorted(sample_id for sample_id, notes in data.notes.items() if notes.get("face_missed"))
    if missed:
        uncropped = sum(s.cropped is False for s in plan.samples)
        log(f"warning: face_crop found no face in {len(missed)} of {uncropped} uncropped samples "
            f"(e.g. {missed[0]}); their whole frames were used (listed in run.json)")
    return data, time.perf_counter() - start


def run(config: RunConfig, registry: Registry | None = None, output_dir: Path = Path("results"),
        cache_dir: Path | None = None, force: bool = False, progress: bool = True, workers: int | None = None,
        log: Callable[[str], None] = print, executor=None, wait: bool = True) -> RunOutcome:
    """Plan, train and score one run; resume from finished folds; a finished run is not repeated
    unless ``force``. A second process on the same run waits for the first (``wait``) or stops."""
    plan = plan_run(config, registry)
    check_writable(output_dir, "results folder")
    check_writable(cache_dir or default_cache_dir(), "cache folder")
    run_dir = RunDirectory(output_dir, plan.run_id)
    if not force and (existing := completed_run(run_dir)) is not None:
        log(f"{plan.run_id}: already complete in {run_dir.path} (use --force to run again)")
        return RunOutcome(run_dir.path, existing["metrics"], existing, reused=True)
    with run_dir.lock(wait=wait, log=log):
        if not force and (existing := completed_run(run_dir)) is not None:  # finished while we waited
            log(f"{plan.run_id}: completed by the other process in {run_dir.path}")
            return RunOutcome(run_dir.path, existing["metrics"], existing, reused=True)
        if force:
            clear_results(run_dir)
        run_dir.start(plan.identity, log=log)
        data, preprocess_seconds = prepare_plan(plan, cache_dir, workers, progress, log)
        log(plan.describe())
        if plan.dataset_spec.describe_run is not None:
            note = plan.dataset_spec.describe_run({**plan.resolved["dataset_options"], "epochs": plan.settings.epochs,
                                                     "batch_size": plan.settings.batch_size})
            if note:
                log(note)
        records = load_records(plan, data, run_dir, log)
        resumed = len(records)
        pending = [f for f in plan.folds if f.index not in records]

        def save(plan_: RunPlan, record: dict) -> None:
            run_dir.save_fold(record["fold"], record)
            records[record["fold"]] = record

        reset_peak_memory(plan.device)
        executor = executor or InProcessExecutor(progress=progress, log=log)
        execute([WorkUnit(plan, data, pending)], executor, save, progress=progress, initial=resumed,
                total=len(plan.folds))
        if resumed:
            log(f"resumed: {resumed} of {len(plan.folds)} folds were already done and were not retrained")
        metrics, run_info = write_summary(plan, data, run_dir, records, preprocess_seconds)
    return RunOutcome(run_dir.path, metrics, run_info, reused=False)


def clear_results(run_dir: RunDirectory) -> None:
    """Everything of a run except its lock files (held by this process)."""
    for path in sorted(run_dir.path.rglob("*"), reverse=True):
        if path.name.startswith(".run.lock"):
            continue
        path.unlink() if path.is_file() else path.rmdir()


# The former single-function runner's name, kept for scripts that call it.
run_loso = run
__all__ = ["RunConfig", "RunOutcome", "ConfigError", "run", "run_loso", "check_writable"]
