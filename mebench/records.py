"""Typed run records: the one place that reads and writes ``run.json``, ``metrics.json`` and the fold
records, owns their defaults and checks their schema. Every other module reads attributes.

- ``FoldRecord``: one trained fold (``folds/fold_NNN.json``): its predictions, training time, per-epoch
  loss, and what a model-selection rule adds. A record that is unreadable, malformed or written for
  another fold is refused with the reason (``FoldRecord.from_json``), so the runner discards it and
  trains the fold again.
- ``Metrics``: ``metrics.json``, the pooled and per-dataset figures with their intervals.
- ``RunRecord``: ``run.json`` merged with its ``metrics.json``: what a finished run is.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

#: Fields a selection rule adds to a fold record, kept as written.
SELECTION_FIELDS = ("selection", "selected_epoch", "validation_losses", "n_validation", "patience",
                    "epoch_test_probabilities")


class RecordError(ValueError):
    """A record file that cannot be used; the message says why (one clause)."""


def read_json(path: Path) -> Any:
    """Parsed JSON; ``RecordError`` naming the exception when the file cannot be read or parsed."""
    try:
        return json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError) as error:
        raise RecordError(f"unreadable ({type(error).__name__})") from None


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
        return {"fold": self.fold, "test_group": self.test_group, "train_seconds": self.train_seconds,
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
        for key in ("fold", "predictions", "train_seconds"):
            if key not in data:
                raise RecordError(f"has no {key!r}")
        held_out = data.get("test_group", data.get("test_subject"))  # test_subject: records before protocols
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
        return cls(fold=int(data["fold"]), test_group=str(held_out), train_seconds=float(data["train_seconds"]),
                   predictions=[Prediction(str(p["sample_id"]), p["probabilities"]) for p in predictions],
                   folds_trained_together=int(data.get("folds_trained_together", 1)),
                   n_train=int(data.get("n_train", 0)), n_test=int(data.get("n_test", len(predictions))),
                   epoch_losses=[float(v) for v in data.get("epoch_losses") or []],
                   extras={key: data[key] for key in SELECTION_FIELDS if key in data})


#: The figures of a single-label (emotion) task's block; a multi-label (action-unit) task's is macro-F1.
SINGLE_LABEL_FIGURES = ("accuracy", "uf1", "uar")
MULTI_LABEL_FIGURES = ("macro_f1",)
#: Figures a block may also hold (a multi-label block written since MEB's two figures were added).
OPTIONAL_FIGURES = ("macro_f1_all", "macro_f1_pos_neg")


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
    def from_json(cls, data: Any) -> "MetricBlock":
        names = next((names for names in (SINGLE_LABEL_FIGURES, MULTI_LABEL_FIGURES)
                      if isinstance(data, dict) and all(key in data for key in names)), None)
        if names is None:
            raise RecordError("has no pooled metrics")
        return cls(n=int(data.get("n", 0)), figures={key: float(data[key]) for key in names + OPTIONAL_FIGURES
                                                     if key in data},
                   per_class=dict(data.get("per_class") or {}),
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
    multilabel: bool = False  # an action-unit task: several labels per sample, macro-F1 over them

    @property
    def figure_names(self) -> tuple[str, ...]:
        return tuple(self.pooled.figures)

    def block(self, scope: str | None) -> MetricBlock:
        """The pooled block (``scope`` None) or a source dataset's."""
        return self.pooled if scope is None else self.per_dataset[scope]

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {"classes": list(self.classes), "pooled": self.pooled.to_json()}
        if self.multilabel:
            data["task"] = "multi-label"
        if self.per_dataset:
            data["per_dataset"] = {name: block.to_json() for name, block in self.per_dataset.items()}
        data["fold_mean"] = self.fold_mean
        data["selection"] = self.selection
        if self.leaky:
            data.update(leaky=True, fixed_budget=self.fixed_budget, oracle_inflation=self.oracle_inflation)
        return data

    @classmethod
    def from_json(cls, data: Any, classes: list[str] | None = None) -> "Metrics":
        if not isinstance(data, dict):
            raise RecordError("is not a metrics object")
        return cls(classes=list(data.get("classes") or classes or []), pooled=MetricBlock.from_json(data.get("pooled")),
                   per_dataset={name: MetricBlock.from_json(block)
                                for name, block in (data.get("per_dataset") or {}).items()},
                   fold_mean=dict(data.get("fold_mean") or {}), selection=str(data.get("selection", "fixed")),
                   leaky=bool(data.get("leaky", False)), fixed_budget=data.get("fixed_budget"),
                   oracle_inflation=data.get("oracle_inflation"), multilabel=data.get("task") == "multi-label")


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
        return cls(train_seconds_per_fold=[float(v) for v in data["train_seconds_per_fold"]],
                   inference_fps=float(data["inference_fps"]),
                   inference_batch_size=int(data.get("inference_batch_size") or 0),
                   inference_batches=int(data.get("inference_batches") or 0),
                   inference_warmup_batches=int(data.get("inference_warmup_batches") or 0),
                   preprocess_seconds=data.get("preprocess_seconds"), peak_memory_bytes=data.get("peak_memory_bytes"),
                   peak_memory_kind=str(data.get("peak_memory_kind") or ""))


#: run.json keys a run record needs; the others have defaults.
REQUIRED_RUN_KEYS = ("model", "dataset", "seed", "config", "config_hash")


@dataclass
class RunRecord:
    """A finished run: ``run.json`` (configuration, identity, timing, environment, data notes) with its
    ``metrics.json``. ``config`` is the resolved configuration as recorded; the attributes below it
    read what other modules need from it, with the defaults of runs written before each key existed."""

    run_id: str
    model: str
    dataset: str
    seed: int
    config: dict[str, Any]
    config_hash: str
    metrics: Metrics
    timing: Timing
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
    #: How the model learned: ``net`` (trained by epochs) or ``estimator`` (fitted once per fold, no epochs or
    #: batches; ``mebench.estimators``). Runs written before the key existed read as ``net``.
    learner: str = "net"
    path: Path | None = None  # the run folder it was read from

    @property
    def fitted(self) -> bool:
        """Whether the model was fitted once per fold (an estimator), so that epochs and batches mean nothing."""
        return self.learner == "estimator"

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
    def device(self) -> str:
        return str(self.environment.get("device", ""))

    @property
    def configuration_id(self) -> str:
        """The run id without its seed: what every seed of one configuration shares."""
        return self.run_id.rsplit("__seed", 1)[0]

    def to_json(self) -> dict[str, Any]:
        """``run.json`` (the metrics go to ``metrics.json``)."""
        return {"run_id": self.run_id, "model": self.model, "dataset": self.dataset, "protocol": self.protocol,
                "selection": self.selection, "leaky": self.leaky, "seed": self.seed, "config": self.config,
                "config_hash": self.config_hash, "classes": list(self.classes), "n_samples": self.n_samples,
                "n_folds": self.n_folds, "folds": self.folds, "parameters": self.parameters,
                "input_spec": self.input_spec, "timing": self.timing.to_json(), "environment": self.environment,
                "selected_epochs": self.selected_epochs, "annotation_corrections": self.annotation_corrections,
                "face_crop": self.face_crop, "finished": self.finished, "learner": self.learner}

    @classmethod
    def from_json(cls, run: Any, metrics: Any, path: Path | None = None) -> "RunRecord":
        if not isinstance(run, dict):
            raise RecordError("run.json is not a JSON object")
        if not all(key in run for key in REQUIRED_RUN_KEYS):
            raise RecordError("run.json lacks model, dataset, seed, config or config_hash")
        config = run["config"] if isinstance(run["config"], dict) else {}
        classes = list(run.get("classes") or config.get("classes") or [])
        return cls(run_id=str(run.get("run_id") or (path.name if path else "")), model=str(run["model"]),
                   dataset=str(run["dataset"]), seed=int(run["seed"]), config=config,
                   config_hash=str(run["config_hash"]), metrics=Metrics.from_json(metrics, classes),
                   timing=Timing.from_json(run.get("timing")), parameters=int(run.get("parameters") or 0),
                   environment=dict(run.get("environment") or {}),
                   protocol=str(run.get("protocol") or config.get("protocol") or "loso"),
                   selection=str(run.get("selection") or config.get("selection") or "fixed"), classes=classes,
                   n_samples=int(run.get("n_samples") or 0), n_folds=int(run.get("n_folds") or 0),
                   folds=list(run.get("folds") or []), input_spec=str(run.get("input_spec") or ""),
                   selected_epochs=dict(run.get("selected_epochs") or {}),
                   annotation_corrections=dict(run.get("annotation_corrections") or {}),
                   face_crop=dict(run.get("face_crop") or {}), finished=str(run.get("finished") or ""),
                   learner=str(run.get("learner") or "net"), path=path)


def saved_fold_records(run_folder: Path, skipped: Callable[[Path, RecordError], None] | None = None
                       ) -> list[FoldRecord]:
    """The readable fold records of a run folder (``folds/fold_*.json``), in fold order; an unreadable one is left
    out and, with ``skipped``, reported."""
    records = []
    for path in sorted(Path(run_folder).glob("folds/fold_*.json")):
        try:
            records.append(FoldRecord.from_json(read_json(path)))
        except RecordError as error:
            if skipped is not None:
                skipped(path, error)
    return records


def load_run(folder: Path) -> tuple[RunRecord | None, str | None]:
    """One complete, readable run: ``(record, None)``, else ``(None, reason)`` (``reason`` is None for a
    folder that holds no run at all)."""
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
        return RunRecord.from_json(run, metrics, folder), None
    except RecordError as error:
        return None, f"metrics.json {error}" if "pooled" in str(error) else str(error)
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
