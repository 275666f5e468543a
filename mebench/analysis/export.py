"""Finished runs exported to an experiment tracker: MLflow, TensorBoard or Weights & Biases.

The run folder stays the record; an export copies what it holds into a tracker and never changes it.
``read_run_export`` reads one finished run folder into a ``RunExport``: its configuration flattened
into parameters (``dataset_options.subjects``; lists as JSON), the pooled and per-dataset figures
with their interval bounds as metrics (``uf1``, ``uf1_low``, ``uf1_high``, ``casme2/uf1``...), each
fold's training (and validation) loss per epoch as a curve (``train_loss/fold_000``, step = epoch),
and ``predictions.csv``, ``metrics.json`` and ``run.json`` as artifacts. ``export_runs`` sends runs
to one tracker:

- **mlflow**: the run is found by its tag ``mebench.run_id`` and updated, so exporting twice leaves
  one MLflow run (a run folder trained again with ``--force`` replaces the old MLflow run). Every value
  carries the run's finish time as its timestamp, so a second export logs nothing new. The default
  store is MLflow's own default backend, a SQLite file, placed beside the results folder
  (``sqlite:///<results parent>/mlflow.db``, artifacts in ``<results parent>/mlartifacts``), unless
  ``--uri`` or ``$MLFLOW_TRACKING_URI`` names another.
- **tensorboard**: scalars and the configuration as text, one subfolder per run id
  (``<results parent>/tensorboard/<run-id>``), rewritten by each export.
- **wandb**: offline unless ``$WANDB_MODE`` says otherwise, its files in ``<results parent>/wandb``;
  the W&B run id is derived from the run id, so syncing again updates the same W&B run.

Each tracker is an optional extra (``pip install "mebench[mlflow]"``); without it the export stops
with one line naming the extra.
"""

from __future__ import annotations

import hashlib
import importlib
import json
import logging
import os
import re
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, Callable, Iterable, Sequence

from mebench.errors import DataError, MebenchError, UsageError, one_line
from mebench.records import RunRecord, load_run, saved_fold_records

#: tracker → the module it needs (and the pyproject extra of the same name that installs it).
TRACKERS = {"mlflow": "mlflow", "tensorboard": "tensorboard", "wandb": "wandb"}
ARTIFACTS = ("predictions.csv", "metrics.json", "run.json")
DEFAULT_EXPERIMENT = "mebench"
RUN_ID_TAG = "mebench.run_id"
FINISHED_TAG = "mebench.finished"


@dataclass(frozen=True)
class RunExport:
    """What a tracker receives from one finished run folder."""

    run_id: str
    folder: Path
    config: dict[str, Any]
    params: dict[str, str]
    metrics: dict[str, float]
    curves: dict[str, list[float]]  # name → value per epoch (epoch 1 first)
    tags: dict[str, str]
    artifacts: tuple[Path, ...]
    finished: str
    timestamp_ms: int  # the run's finish time: every exported value carries it

    @property
    def results_parent(self) -> Path:
        """The folder holding the results folder: where the default stores go."""
        return self.folder.parent.parent


def require_tracker(tracker: str) -> Any:
    """The tracker's module; a ``UsageError`` naming the extra to install when it is missing."""
    if tracker not in TRACKERS:
        raise UsageError(f"unknown tracker {tracker!r}: choose one of {', '.join(TRACKERS)}")
    try:
        return importlib.import_module(TRACKERS[tracker])
    except ImportError:
        raise UsageError(f"exporting to {tracker} needs the optional extra {tracker!r}: "
                         f"pip install \"mebench[{tracker}]\"") from None


def flatten_config(config: dict[str, Any], prefix: str = "") -> dict[str, str]:
    """``{"dataset_options": {"subjects": 3}}`` → ``{"dataset_options.subjects": "3"}``: nested mappings
    become dotted keys; other values their JSON text (a string stays as it is)."""
    params: dict[str, str] = {}
    for key, value in config.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict) and value:
            params.update(flatten_config(value, f"{name}."))
        else:
            params[name] = value if isinstance(value, str) else json.dumps(value, sort_keys=True)
    return params


def run_metrics(record: RunRecord) -> dict[str, float]:
    """The pooled figures, then each source dataset's (``<dataset>/<figure>``), each with its interval
    bounds (``_low``, ``_high``) where the run has them; then parameters, training seconds and fps (none for
    external predictions, which record no timing)."""
    metrics: dict[str, float] = {}
    scopes = [("", record.metrics.pooled)] + [(f"{name}/", block) for name, block in record.metrics.per_dataset.items()]
    for prefix, block in scopes:
        for figure, value in block.figures.items():
            metrics[f"{prefix}{figure}"] = float(value)
            interval = block.interval(figure)
            if isinstance(interval, (list, tuple)) and len(interval) == 2:
                metrics[f"{prefix}{figure}_low"], metrics[f"{prefix}{figure}_high"] = map(float, interval)
    if record.timing is None:  # external predictions (``mebench score --as``): nothing was trained, timed or counted
        return metrics
    metrics["parameters"] = float(record.parameters)
    metrics["train_seconds_per_fold"] = record.timing.train_seconds_per_fold_mean
    metrics["inference_fps"] = record.timing.inference_fps
    return metrics


def fold_curves(folder: Path, log: Callable[[str], None]) -> dict[str, list[float]]:
    """Each fold record's ``epoch_losses`` (``train_loss/fold_NNN``) and, under ``inner-val``, its
    ``validation_losses`` (``validation_loss/fold_NNN``); an unreadable record is named and left out."""
    curves: dict[str, list[float]] = {}
    for record in saved_fold_records(folder, lambda path, error: log(f"{path}: left out of the export ({error})")):
        if record.epoch_losses:
            curves[f"train_loss/fold_{record.fold:03d}"] = list(record.epoch_losses)
        validation = record.extras.get("validation_losses")
        if isinstance(validation, list) and validation:
            curves[f"validation_loss/fold_{record.fold:03d}"] = [float(v) for v in validation]
    return curves


def finish_time_ms(record: RunRecord, folder: Path) -> int:
    """The run's finish time (``run.json``'s ``finished``; the file's time where that is missing)."""
    try:
        return int(datetime.strptime(record.finished, "%Y-%m-%dT%H:%M:%S%z").timestamp() * 1000)
    except ValueError:
        return int((folder / "run.json").stat().st_mtime * 1000)


def read_run_export(folder: Path, log: Callable[[str], None] = lambda line: None) -> RunExport:
    """The export of one finished run folder; a ``DataError`` naming the folder when it is not one."""
    folder = Path(folder).absolute()
    if not folder.is_dir():
        raise DataError(folder, "no such run folder", "pass a run folder, RESULTS/<run-id>")
    record, reason = load_run(folder)
    if record is None:
        if reason is None and any(folder.glob("*/run.json")):
            raise DataError(folder, "a results folder, not a run folder", f"pass its runs: {folder}/*")
        raise DataError(folder, f"not a finished run: {reason or 'no run.json in it'}",
                        "pass the folder of a finished run, RESULTS/<run-id> (`mebench leaderboard` lists them)")
    tags = {RUN_ID_TAG: record.run_id, "mebench.config_hash": record.config_hash,
            "mebench.configuration_id": record.configuration_id, FINISHED_TAG: record.finished,
            "mebench.run_folder": str(folder), "mebench.selection": record.selection}
    if record.leaky:
        tags["mebench.leaky"] = "true (best test epoch: for measuring inflation only)"
    return RunExport(run_id=record.run_id, folder=folder, config=dict(record.config),
                     params=flatten_config(record.config), metrics=run_metrics(record),
                     curves=fold_curves(folder, log), tags=tags,
                     artifacts=tuple(folder / name for name in ARTIFACTS if (folder / name).is_file()),
                     finished=record.finished, timestamp_ms=finish_time_ms(record, folder))


def chunks(items: Sequence[Any], size: int) -> Iterable[Sequence[Any]]:
    return (items[start:start + size] for start in range(0, len(items), size))


def default_mlflow_uri(export: RunExport) -> str:
    """``--uri``'s default for MLflow: ``$MLFLOW_TRACKING_URI``, else MLflow's default backend (a SQLite
    file, ``mlflow.db``) beside the results folder."""
    return os.environ.get("MLFLOW_TRACKING_URI") or f"sqlite:///{export.results_parent / 'mlflow.db'}"


def sqlite_artifact_location(uri: str) -> str | None:
    """For a SQLite store: ``mlartifacts`` beside its file (MLflow's own default is relative to the working
    folder); None for any other store, which decides itself."""
    if not uri.startswith("sqlite:///"):
        return None
    return (Path(uri[len("sqlite:///"):]).absolute().parent / "mlartifacts").as_uri()


def export_mlflow(export: RunExport, uri: str, experiment: str = DEFAULT_EXPERIMENT) -> str:
    """Log the run into the MLflow store at ``uri``, updating the MLflow run tagged with its run id;
    returns the MLflow run id."""
    require_tracker("mlflow")
    from mlflow.entities import Metric, Param, RunTag
    from mlflow.exceptions import MlflowException
    from mlflow.tracking import MlflowClient

    for name in ("mlflow", "alembic"):  # the store's schema migrations log at INFO level
        logging.getLogger(name).setLevel(logging.WARNING)
    try:
        client = MlflowClient(tracking_uri=uri)
        found = client.get_experiment_by_name(experiment)
        experiment_id = (found.experiment_id if found is not None
                         else client.create_experiment(experiment, artifact_location=sqlite_artifact_location(uri)))
        quoted = export.run_id.replace("'", "\\'")
        runs = client.search_runs([experiment_id], filter_string=f"tags.`{RUN_ID_TAG}` = '{quoted}'")
        current = [run for run in runs if run.data.tags.get(FINISHED_TAG) == export.finished][:1]
        for run in runs:  # a run folder trained again (--force) replaces what its earlier run exported
            if run not in current:
                client.delete_run(run.info.run_id)
        if current:
            run_id = current[0].info.run_id
        else:
            run_id = client.create_run(experiment_id, start_time=export.timestamp_ms, tags=export.tags,
                                       run_name=export.run_id).info.run_id
        stamp = export.timestamp_ms
        metrics = [Metric(key, value, stamp, 0) for key, value in export.metrics.items()]
        metrics += [Metric(key, value, stamp, epoch) for key, curve in export.curves.items()
                    for epoch, value in enumerate(curve, start=1)]
        for batch in chunks(metrics, 1000):
            client.log_batch(run_id, metrics=list(batch))
        for batch in chunks([Param(key, value) for key, value in export.params.items()], 100):
            client.log_batch(run_id, params=list(batch))
        client.log_batch(run_id, tags=[RunTag(key, value) for key, value in export.tags.items()])
        for path in export.artifacts:
            client.log_artifact(run_id, str(path))
        client.set_terminated(run_id, "FINISHED", end_time=stamp)
    except MlflowException as error:
        raise MebenchError(f"{export.run_id}: the export to MLflow ({uri}) failed: {one_line(error)}") from None
    return run_id


def export_tensorboard(export: RunExport, logdir: Path) -> Path:
    """Write the run's scalars and configuration into ``logdir/<run-id>``, replacing an earlier export's
    event files there; returns that folder."""
    require_tracker("tensorboard")
    from torch.utils.tensorboard import SummaryWriter

    folder = Path(logdir) / export.run_id
    for old in folder.glob("events.out.tfevents.*"):
        old.unlink()
    walltime = export.timestamp_ms / 1000
    with SummaryWriter(log_dir=str(folder)) as writer:
        for key, value in export.metrics.items():
            writer.add_scalar(key, value, global_step=0, walltime=walltime)
        for key, curve in export.curves.items():
            for epoch, value in enumerate(curve, start=1):
                writer.add_scalar(key, value, global_step=epoch, walltime=walltime)
        rows = "\n".join(f"| {key} | {value} |" for key, value in export.params.items())
        writer.add_text("config", f"| parameter | value |\n|---|---|\n{rows}", global_step=0, walltime=walltime)
    return folder


def wandb_run_id(run_id: str) -> str:
    """A W&B run id for ``run_id``: the same every time (letters, digits, ``-_.``; at most 64 characters)."""
    safe = re.sub(r"[^A-Za-z0-9_.-]", "-", run_id)
    return safe if len(safe) <= 64 else f"{safe[:47]}-{hashlib.sha1(run_id.encode()).hexdigest()[:16]}"


def export_wandb(export: RunExport, directory: Path, project: str = DEFAULT_EXPERIMENT) -> str:
    """Log the run into W&B (offline unless ``$WANDB_MODE`` says otherwise), files under ``directory``;
    returns the W&B run id."""
    wandb = require_tracker("wandb")
    Path(directory).mkdir(parents=True, exist_ok=True)
    failed = f"{export.run_id}: the export to W&B failed"
    try:
        run = wandb.init(project=project, id=wandb_run_id(export.run_id), name=export.run_id, config=export.config,
                         dir=str(directory), mode=os.environ.get("WANDB_MODE", "offline"), resume="allow",
                         tags=[export.tags["mebench.selection"]])
    except wandb.Error as error:  # e.g. online mode without an API key
        raise MebenchError(f"{failed}: {one_line(error)}") from None
    try:
        run.define_metric("epoch")
        for key in export.curves:
            run.define_metric(key, step_metric="epoch")
        longest = max((len(curve) for curve in export.curves.values()), default=0)
        for epoch in range(1, longest + 1 if not run.resumed else 1):  # exported before: its curves are there
            run.log({"epoch": epoch, **{key: curve[epoch - 1] for key, curve in export.curves.items()
                                        if len(curve) >= epoch}})
        run.summary.update(export.metrics)
        artifact = wandb.Artifact(f"{wandb_run_id(export.run_id)}-files", type="mebench-run")
        for path in export.artifacts:
            artifact.add_file(str(path))
        run.log_artifact(artifact)
    except wandb.Error as error:
        raise MebenchError(f"{failed}: {one_line(error)}") from None
    finally:
        run.finish()
    return run.id


def export_runs(folders: Sequence[Path], tracker: str, uri: str | None = None,
                experiment: str = DEFAULT_EXPERIMENT, log: Callable[[str], None] = lambda line: None) -> list[str]:
    """Export every run folder to ``tracker``; every folder is read (and refused, naming it) before any
    is exported. ``uri``: MLflow's tracking URI, TensorBoard's log folder or W&B's folder (default: beside
    each run's results folder). Returns one line per run saying where it went."""
    require_tracker(tracker)
    exports = [read_run_export(folder, log) for folder in folders]
    lines = []
    for export in exports:
        if tracker == "mlflow":
            where = uri or default_mlflow_uri(export)
            lines.append(f"{export.run_id} → MLflow {where} (experiment {experiment}, "
                         f"run {export_mlflow(export, where, experiment)})")
        elif tracker == "tensorboard":
            lines.append(f"{export.run_id} → TensorBoard "
                         f"{export_tensorboard(export, Path(uri) if uri else export.results_parent / 'tensorboard')}")
        else:
            directory = Path(uri) if uri else export.results_parent
            lines.append(f"{export.run_id} → W&B {directory / 'wandb'} (project {experiment}, "
                         f"run {export_wandb(export, directory, experiment)})")
    return lines


def track_runs(folders: Sequence[Path], tracker: str, log: Callable[[str], None]) -> list[Path]:
    """``--track``: export each finished run to ``tracker`` with the defaults; a run that cannot be exported
    is named in ``log`` and the others go on. Returns the folders not exported."""
    failed = []
    for folder in folders:
        try:
            for line in export_runs([folder], tracker, log=log):
                log(f"exported {line}")
        except (MebenchError, OSError) as error:
            log(f"{folder}: not exported to {tracker}: {one_line(error)}")
            failed.append(folder)
    return failed
