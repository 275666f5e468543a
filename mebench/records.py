"""Typed run records: the one place that reads and writes ``run.json``, ``metrics.json`` and the fold
records, owns their defaults and checks their schema. Every other module reads attributes.

- ``FoldRecord``: one trained fold (``folds/fold_NNN.json``): its predictions, training time, per-epoch
  loss, and what a model-selection rule adds. A record that is unreadable, malformed or written for
  another fold is refused with the reason (``FoldRecord.from_json``), so the runner discards it and
  trains the fold again.
- ``Metrics``: ``metrics.json``, the pooled and per-dataset figures with their intervals.
- ``RunRecord``: ``run.json`` merged with its ``metrics.json``: what a finished run is.

Each record carries ``"schema"``, the layout it was written in; readers pass what they read through
``mebench.schema.upgrade`` (``read_record``), so ``from_json`` reads the current layout only.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from mebench.errors import OptionError
from mebench.schema import SCHEMA, RecordError, upgrade
from mebench.tasks import TaskKind, task_kind

#: The keys of a fold record (besides ``schema``) in the current layout.
FOLD_KEYS = ("fold", "test_group", "train_seconds", "folds_trained_together", "n_train", "n_test", "epoch_losses",
             "predictions")
#: Fields a selection rule adds to a fold record, kept as written.
SELECTION_FIELDS = ("selection", "selected_epoch", "validation_losses", "n_validation", "patience",
                    "epoch_test_probabilities")


def read_json(path: Path) -> Any:
    """Parsed JSON; ``RecordError`` naming the exception when the file cannot be read or parsed."""
    try:
        return json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError) as error:
        raise RecordError(f"unreadable ({type(error).__name__})") from None


def read_record(kind: str, path: Path) -> Any:
    """The record of ``kind`` in the file ``path``, in the current layout (``mebench.schema.upgrade``):
    ``RecordError`` when it cannot be read, ``NewerSchemaError`` when a newer mebench wrote it."""
    return upgrade(kind, read_json(path), path)


@dataclass
class Prediction:
    sample_id: str
    probabilities: list[float]


@dataclass
class FoldRecord:
    """One trained fold. ``extras`` holds what a selection rule adds (``SELECTION_FIELDS``)."""

    fold: int
    test_group: str
    train_seconds: float
    predictions: list[Prediction]
    folds_trained_together: int = 1
    n_train: int = 0
    n_test: int = 0
    epoch_losses: list[float] = field(default_factory=list)
    extras: dict[str, Any] = field(default_factory=dict)

    @property
    def selected_epoch(self) -> int | None:
        return self.extras.get("selected_epoch")

    def to_json(self) -> dict[str, Any]:
        return {"schema": SCHEMA, "fold": self.fold, "test_group": self.test_group, "train_seconds": self.train_seconds,
                "folds_trained_together": self.folds_trained_together, "n_train": self.n_train,
                "n_test": self.n_test, "epoch_losses": [float(v) for v in self.epoch_losses],
                "predictions": [{"sample_id": p.sample_id, "probabilities": list(p.probabilities)}
                                for p in self.predictions],
                **self.extras}

    @classmethod
    def from_json(cls, data: Any, name: str | None = None, test_ids: list[str] | None = None,
                  n_classes: int | None = None) -> "FoldRecord":
        """The record in ``data``, checked against the fold it should belong to (its held-out group
        ``name``, its ``test_ids``, ``n_classes`` probabilities each); ``RecordError`` otherwise."""
        if not isinstance(data, dict):
            raise RecordError(f"holds a JSON {type(data).__name__}, not a fold record")
        for key in FOLD_KEYS:
            if key not in data:
                raise RecordError(f"has no {key!r}")
        held_out = data["test_group"]
        if name is not None and held_out != name:
            raise RecordError(f"was written for test group {held_out!r}, not {name!r}")
        predictions = data["predictions"]
        if not isinstance(predictions, list) or not all(isinstance(p, dict) for p in predictions):
            raise RecordError("has malformed predictions")
        ids = [p.get("sample_id") for p in predictions]
        if test_ids is not None and sorted(map(str, ids)) != sorted(test_ids):
            raise RecordError(f"holds predictions for {len(ids)} samples, the fold tests {len(test_ids)} others")
        for p in predictions:
            probabilities = p.get("probabilities")
            if (not isinstance(probabilities, list) or (n_classes is not None and len(probabilities) != n_classes)
                    or not all(isinstance(v, (int, float)) and math.isfinite(v) for v in probabilities)):
                raise RecordError(f"has bad probabilities for {p.get('sample_id')}")
        try:
            return cls(fold=int(data["fold"]), test_group=str(held_out), train_seconds=float(data["train_seconds"]),
                       predictions=[Prediction(str(p["sample_id"]), p["probabilities"]) for p in predictions],
                       folds_trained_together=int(data["folds_trained_together"]), n_train=int(data["n_train"]),
                       n_test=int(data["n_test"]), epoch_losses=[float(v) for v in data["epoch_losses"]],
                       extras={key: data[key] for key in SELECTION_FIELDS if key in data})
        except (TypeError, ValueError) as error:
            raise RecordError(f"has a malformed field ({error})") from None


@dataclass
class MetricBlock:
    """Pooled figures of one set of samples (the whole task, or one source dataset of a composite):
    ``figures`` (accuracy, UF1, UAR; or macro-F1), ``per_class`` (per class, or per label: precision,
    recall, F1, support), the confusion matrix (single-label tasks) and the bootstrap intervals."""

    n: int
    figures: dict[str, float]
    per_class: dict[str, dict[str, float]]
    confusion_matrix: list[list[int]] = field(default_factory=list)
    ci: dict[str, Any] | None = None  # the subject-level bootstrap intervals (see mebench.statistics)

    def value(self, metric: str) -> float:
        return float(self.figures[metric])

    def interval(self, metric: str) -> list[float] | None:
        return self.ci.get(metric) if self.ci else None

    @property
    def accuracy(self) -> float:
        return self.value("accuracy")

    @property
    def uf1(self) -> float:
        return self.value("uf1")

    @property
    def uar(self) -> float:
        return self.value("uar")

    def to_json(self) -> dict[str, Any]:
        block = {"n": self.n, **self.figures, "per_class": self.per_class}
        if self.confusion_matrix:
            block["confusion_matrix"] = self.confusion_matrix
        return {**block, "ci": self.ci} if self.ci is not None else block

    @classmethod
    def from_json(cls, data: Any, kind: TaskKind) -> "MetricBlock":
        """A block of a ``kind`` task's figures: the kind's ``recorded_figures``, in that order, then those of its
        ``optional_figures`` the block holds; ``RecordError`` where it lacks one of the first."""
        if not isinstance(data, dict):
            raise RecordError("has no pooled metrics")
        lacking = [name for name in kind.recorded_figures if name not in data]
        if lacking:
            raise RecordError(f"has a {kind.name!r} block without {', '.join(lacking)}")
        if "n" not in data or "per_class" not in data:
            raise RecordError("has a block of figures without its n or per_class")
        names = kind.recorded_figures + kind.optional_figures
        return cls(n=int(data["n"]), figures={key: float(data[key]) for key in names if key in data},
                   per_class=dict(data["per_class"]),
                   confusion_matrix=list(data.get("confusion_matrix") or []), ci=data.get("ci"))


@dataclass
class Metrics:
    """``metrics.json``: the task's classes (or labels, for a multi-label task), pooled figures, per
    source dataset of a composite, the fold-mean figure, and for the LEAKY test-oracle rule the same
    run's fixed-budget figures."""

    classes: list[str]
    pooled: MetricBlock
    per_dataset: dict[str, MetricBlock] = field(default_factory=dict)
    fold_mean: dict[str, Any] = field(default_factory=dict)
    selection: str = "fixed"
    leaky: bool = False
    fixed_budget: dict[str, Any] | None = None
    oracle_inflation: dict[str, float] | None = None
    #: The task kind's name (``mebench.tasks.TASK_KINDS``: ``single-label``, ``multi-label``, ``intervals``,
    #: ``spot-then-recognise`` or a plugin's kind). metrics.json writes it as ``"task"``, except for a single-label
    #: task (as every record written before kinds were declared); its blocks are read by that kind's figures.
    task: str = "single-label"

    @property
    def figure_names(self) -> tuple[str, ...]:
        return tuple(self.pooled.figures)

    def block(self, scope: str | None) -> MetricBlock:
        """The pooled block (``scope`` None) or a source dataset's."""
        return self.pooled if scope is None else self.per_dataset[scope]

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {"schema": SCHEMA, "classes": list(self.classes), "pooled": self.pooled.to_json()}
        if self.task != "single-label":
            data["task"] = self.task
        if self.per_dataset:
            data["per_dataset"] = {name: block.to_json() for name, block in self.per_dataset.items()}
        data["fold_mean"] = self.fold_mean
        data["selection"] = self.selection
        if self.leaky:
            data.update(leaky=True, fixed_budget=self.fixed_budget, oracle_inflation=self.oracle_inflation)
        return data

    @classmethod
    def from_json(cls, data: Any, kind: TaskKind | None = None) -> "Metrics":
        """The metrics in ``data``: a ``metrics.json`` in the current layout (``mebench.schema.upgrade``), or the
        figures a task kind's ``pooled`` gives (``mebench.tasks``; no ``selection`` yet: ``fixed`` until the caller sets it).
        ``leaky``, ``per_dataset`` and ``task`` are written only where they apply. Its blocks are read by the figures
        of ``kind``, where the caller holds it (the figures it just computed), else of the kind ``"task"`` names
        (``mebench.tasks.task_kind``: absent, single-label; a plugin's kind once its plugin is loaded)."""
        if not isinstance(data, dict):
            raise RecordError("is not a metrics object")
        if "classes" not in data or "fold_mean" not in data:
            raise RecordError("lacks its classes or fold_mean")
        try:
            kind = kind or task_kind(data.get("task") or None)
        except OptionError as error:
            raise RecordError(f"names {error}") from None
        return cls(classes=list(data["classes"]), pooled=MetricBlock.from_json(data.get("pooled"), kind),
                   per_dataset={name: MetricBlock.from_json(block, kind)
                                for name, block in (data.get("per_dataset") or {}).items()},
                   fold_mean=dict(data["fold_mean"]), selection=str(data.get("selection", "fixed")),
                   leaky=bool(data.get("leaky", False)), fixed_budget=data.get("fixed_budget"),
                   oracle_inflation=data.get("oracle_inflation"), task=kind.name)


@dataclass
class Timing:
    """Training seconds per fold, preprocessing time, inference throughput and peak memory of a run."""

    train_seconds_per_fold: list[float]
    inference_fps: float
    inference_batch_size: int = 0
    inference_batches: int = 0
    inference_warmup_batches: int = 0
    preprocess_seconds: float | None = None
    peak_memory_bytes: int | None = None
    peak_memory_kind: str = ""

    @property
    def train_seconds_per_fold_mean(self) -> float:
        return float(sum(self.train_seconds_per_fold) / len(self.train_seconds_per_fold))

    def to_json(self) -> dict[str, Any]:
        return {"train_seconds_per_fold": self.train_seconds_per_fold,
                "train_seconds_per_fold_mean": self.train_seconds_per_fold_mean,
                "train_seconds_total": float(sum(self.train_seconds_per_fold)),
                "preprocess_seconds": self.preprocess_seconds, "inference_fps": self.inference_fps,
                "inference_batch_size": self.inference_batch_size, "inference_batches": self.inference_batches,
                "inference_warmup_batches": self.inference_warmup_batches,
                "peak_memory_bytes": self.peak_memory_bytes, "peak_memory_kind": self.peak_memory_kind}

    @classmethod
    def from_json(cls, data: Any) -> "Timing":
        if not isinstance(data, dict) or not data.get("train_seconds_per_fold") or "inference_fps" not in data:
            raise RecordError("run.json has no timing (train_seconds_per_fold, inference_fps)")
        missing = [key for key in TIMING_KEYS if key not in data]
        if missing:
            raise RecordError(f"run.json's timing lacks {', '.join(missing)}")
        return cls(train_seconds_per_fold=[float(v) for v in data["train_seconds_per_fold"]],
                   inference_fps=float(data["inference_fps"]), inference_batch_size=int(data["inference_batch_size"]),
                   inference_batches=int(data["inference_batches"]),
                   inference_warmup_batches=int(data["inference_warmup_batches"]),
                   preprocess_seconds=data["preprocess_seconds"], peak_memory_bytes=data["peak_memory_bytes"],
                   peak_memory_kind=str(data["peak_memory_kind"]))


#: The keys of a run's timing that its reader reads (the written means and totals follow from them).
TIMING_KEYS = ("train_seconds_per_fold", "inference_fps", "inference_batch_size", "inference_batches",
               "inference_warmup_batches", "preprocess_seconds", "peak_memory_bytes", "peak_memory_kind")


#: run.json keys a run record needs in the current layout (``source`` is written for external predictions only).
REQUIRED_RUN_KEYS = ("run_id", "model", "dataset", "protocol", "selection", "seed", "config", "config_hash", "classes",
                     "n_samples", "n_folds", "folds", "parameters", "input_spec", "timing", "environment",
                     "selected_epochs", "annotation_corrections", "face_crop", "finished", "learner")


@dataclass
class RunRecord:
    """A finished run: ``run.json`` (configuration, identity, timing, environment, data notes) with its
    ``metrics.json``. ``config`` is the resolved configuration as recorded; the attributes below it
    read what other modules need from it (runs written before a key existed get its value from
    ``mebench.schema.upgrade``)."""

    run_id: str
    model: str
    dataset: str
    seed: int
    config: dict[str, Any]
    config_hash: str
    metrics: Metrics
    timing: Timing | None  # None only for external predictions (``learner`` external): nothing was timed
    parameters: int
    environment: dict[str, Any]
    protocol: str = "loso"
    selection: str = "fixed"
    classes: list[str] = field(default_factory=list)
    n_samples: int = 0
    n_folds: int = 0
    folds: list[dict[str, Any]] = field(default_factory=list)
    input_spec: str = ""
    selected_epochs: dict[str, int] = field(default_factory=dict)
    annotation_corrections: dict[str, list[str]] = field(default_factory=dict)
    face_crop: dict[str, Any] = field(default_factory=dict)
    finished: str = ""
    #: How the model learned: ``net`` (trained by epochs), ``estimator`` (fitted once per fold, no epochs or
    #: batches; ``mebench.estimators``) or ``external`` (predictions made elsewhere, stored by ``mebench score
    #: --as``: no training, timing or parameters recorded). Runs written before the key existed read as ``net``.
    learner: str = "net"
    #: Where external predictions came from: ``{"file": path as given, "sha256": digest of its bytes}``.
    source: dict[str, Any] = field(default_factory=dict)
    path: Path | None = None  # the run folder it was read from

    @property
    def budget_text(self) -> str:
        """How a model without epochs learnt each fold, as tables say it (``fitted`` is True)."""
        return ("fitted on the fold's training videos where it learns, then run on each test video (no epochs)"
                if self.learner == "spotter" else "fitted once per fold (no epochs)")

    @property
    def fitted(self) -> bool:
        """Whether the model was fitted once per fold (an estimator, a spotter), so that epochs and batches mean
        nothing."""
        return self.learner in ("estimator", "spotter")

    @property
    def external(self) -> bool:
        """Whether its predictions were made elsewhere and only scored by mebench (``mebench score --as``)."""
        return self.learner == "external"

    @property
    def leaky(self) -> bool:
        return self.selection == "test-oracle"

    @property
    def epochs(self) -> int:
        return int(self.config["epochs"])

    @property
    def protocol_options(self) -> dict[str, Any]:
        return dict(self.config.get("protocol_options") or {})

    @property
    def dataset_options(self) -> dict[str, Any]:
        return dict(self.config.get("dataset_options") or {})

    @property
    def pretrained(self) -> dict[str, Any]:
        """What the net started from (``source``, ``file``, ``sha256``, layers ``loaded``/``adapted``/``new``);
        empty for random initialisation and for runs written before the key existed."""
        return dict(self.config.get("pretrained") or {})

    @property
    def device(self) -> str:
        return str(self.environment.get("device", ""))

    @property
    def configuration_id(self) -> str:
        """The run id without its seed: what every seed of one configuration shares."""
        return self.run_id.rsplit("__seed", 1)[0]

    def to_json(self) -> dict[str, Any]:
        """``run.json`` (the metrics go to ``metrics.json``)."""
        return {"schema": SCHEMA, "run_id": self.run_id, "model": self.model, "dataset": self.dataset,
                "protocol": self.protocol, "selection": self.selection, "leaky": self.leaky, "seed": self.seed,
                "config": self.config,
                "config_hash": self.config_hash, "classes": list(self.classes), "n_samples": self.n_samples,
                "n_folds": self.n_folds, "folds": self.folds, "parameters": self.parameters,
                "input_spec": self.input_spec, "timing": self.timing.to_json() if self.timing else None,
                "environment": self.environment,
                "selected_epochs": self.selected_epochs, "annotation_corrections": self.annotation_corrections,
                "face_crop": self.face_crop, "finished": self.finished, "learner": self.learner,
                **({"source": self.source} if self.source else {})}

    @classmethod
    def from_json(cls, run: Any, metrics: Any, path: Path | None = None) -> "RunRecord":
        if not isinstance(run, dict):
            raise RecordError("run.json is not a JSON object")
        missing = [key for key in REQUIRED_RUN_KEYS if key not in run]
        if missing:
            raise RecordError(f"run.json lacks {', '.join(missing)}")
        if not isinstance(run["config"], dict):
            raise RecordError("run.json's config is not a JSON object")
        learner = str(run["learner"])
        untimed = learner == "external" and run.get("timing") is None  # every other run must have its timing
        return cls(run_id=str(run["run_id"]), model=str(run["model"]), dataset=str(run["dataset"]),
                   seed=int(run["seed"]), config=run["config"], config_hash=str(run["config_hash"]),
                   metrics=Metrics.from_json(metrics),
                   timing=None if untimed else Timing.from_json(run["timing"]), parameters=int(run["parameters"]),
                   environment=dict(run["environment"]), protocol=str(run["protocol"]),
                   selection=str(run["selection"]), classes=list(run["classes"]), n_samples=int(run["n_samples"]),
                   n_folds=int(run["n_folds"]), folds=list(run["folds"]), input_spec=str(run["input_spec"]),
                   selected_epochs=dict(run["selected_epochs"]),
                   annotation_corrections=dict(run["annotation_corrections"]), face_crop=dict(run["face_crop"]),
                   finished=str(run["finished"]), learner=learner, source=dict(run.get("source") or {}), path=path)


def saved_fold_records(run_folder: Path, skipped: Callable[[Path, RecordError], None] | None = None
                       ) -> list[FoldRecord]:
    """The readable fold records of a run folder (``folds/fold_*.json``), in fold order; an unreadable one is left
    out and, with ``skipped``, reported."""
    records = []
    for path in sorted(Path(run_folder).glob("folds/fold_*.json")):
        try:
            records.append(FoldRecord.from_json(read_record("fold", path)))
        except RecordError as error:
            if skipped is not None:
                skipped(path, error)
    return records


def load_run(folder: Path) -> tuple[RunRecord | None, str | None]:
    """One complete, readable run: ``(record, None)``, else ``(None, reason)`` (``reason`` is None for a
    folder that holds no run at all). Its records are read in any layout up to the current one; a record of a
    newer layout raises ``NewerSchemaError`` (upgrade mebench), so that no command passes over it."""
    folder = Path(folder)
    run_json, metrics_path = folder / "run.json", folder / "metrics.json"
    if not run_json.exists():
        if (folder / "config.json").exists():
            return None, "incomplete (no run.json): not finished, or still running"
        return None, None
    try:
        run = read_json(run_json)
    except RecordError:
        return None, "run.json is unreadable"
    try:
        metrics = read_json(metrics_path)
    except RecordError:
        return None, "metrics.json is missing or unreadable"
    if not isinstance(metrics, dict):
        return None, "metrics.json is missing or unreadable"
    try:
        run = upgrade("run", run, run_json)
    except RecordError as error:
        return None, f"run.json {error}"
    try:
        metrics = upgrade("metrics", metrics, metrics_path)
    except RecordError as error:
        return None, f"metrics.json {error}"
    try:
        return RunRecord.from_json(run, metrics, folder), None
    except RecordError as error:
        return None, str(error) if str(error).startswith("run.json") else f"metrics.json {error}"
    except (TypeError, ValueError) as error:
        return None, f"run.json is malformed ({error})"


def load_results(root: Path, skipped: list | None = None) -> list[RunRecord]:
    """Every complete, readable run under ``root``. A folder whose run is unfinished or whose files
    cannot be read is left out; when ``skipped`` is a list, ``(folder, reason)`` is appended for it."""
    runs = []
    for folder in sorted(p for p in Path(root).iterdir() if p.is_dir()) if Path(root).is_dir() else []:
        run, reason = load_run(folder)
        if run is not None:
            runs.append(run)
        elif reason and skipped is not None:
            skipped.append((folder, reason))
    return runs
