"""Data types shared by datasets, preprocessors, models and the runner."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Mapping, Sequence

import numpy as np
import torch

#: The classes of the MEGC2019 3-class task, in label-index order: the default label set of a
#: dataset task. A task with other classes declares them in ``DatasetSpec.classes``.
MEGC2019_CLASSES: tuple[str, ...] = ("negative", "positive", "surprise")
CLASSES = MEGC2019_CLASSES


@dataclass(frozen=True)
class Sample:
    """One micro-expression clip.

    ``id`` and ``subject`` are namespaced by dataset (``casme2/sub01/EP02_01f``,
    ``casme2/sub01``) because subject and clip names collide across datasets.
    ``frames`` maps a frame index (read from file names, not assumed contiguous) to a
    loader returning that frame as a 2-D uint8 grayscale array. ``apex`` is ``None`` where the
    dataset does not annotate it. ``fingerprint`` changes whenever the input content changes;
    the preprocessing cache is keyed by it. ``label`` is one of the task's classes
    (``DatasetSpec.classes``); the runner checks it. ``cropped`` says whether the frames are
    already cropped to the face (``False``: a ``face_crop`` step in ``auto`` mode crops them; ``None``:
    unknown). ``corrections`` lists every annotation slip the reader corrected for this sample
    (one line each: file, row, field, value used), recorded in ``run.json``.
    """

    id: str
    dataset: str
    subject: str
    label: str
    emotion: str
    frames: "FrameSource"
    onset: int
    apex: int | None
    offset: int
    fingerprint: str
    cropped: bool | None = True
    corrections: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if not self.id.startswith(self.dataset + "/") or not self.subject.startswith(self.dataset + "/"):
            raise ValueError(f"sample {self.id}: id and subject must be namespaced by dataset {self.dataset!r}")


class FrameSource:
    """Ordered frame indices plus a way to load each frame (picklable for worker processes)."""

    def indices(self) -> Sequence[int]:
        raise NotImplementedError

    def load(self, index: int) -> np.ndarray:
        raise NotImplementedError


class DataError(ValueError):
    """Bad input data: names the file, the row or sample, what is wrong and how to fix it."""

    def __init__(self, file: object, problem: str, fix: str = "", row: object = None):
        self.file, self.problem, self.fix, self.row = file, problem, fix, row
        where = f"{file}" + (f", row {row}" if row is not None else "")
        super().__init__(f"{where}: {problem}" + (f" — {fix}" if fix else ""))

    def __reduce__(self):  # keeps the error intact across preprocessing worker processes
        return DataError, (self.file, self.problem, self.fix, self.row)


class OptionError(ValueError):
    """An option a user passed (``--dataset-opt``, ``--model-opt``, ``--protocol-opt``…) that is unknown
    or out of range; the message names the option, what was given and what is allowed. Exit code 2."""


def options_text(options: Mapping[str, Any]) -> str:
    """``k=10, seed=0``: options as a user writes them, in name order."""
    return ", ".join(f"{k}={v}" for k, v in sorted(options.items()))


@dataclass(frozen=True)
class InputSpec:
    """What a model consumes: a (channels, height, width) tensor, possibly split into streams."""

    channels: int
    height: int
    width: int
    streams: int = 1

    def __str__(self) -> str:
        streams = f", {self.streams} streams" if self.streams > 1 else ""
        return f"{self.channels}x{self.height}x{self.width}{streams}"


@dataclass(frozen=True)
class Reference:
    """Where an architecture or dataset comes from."""

    authors: str
    title: str
    venue: str
    year: int
    url: str = ""

    def __str__(self) -> str:
        return f"{self.authors} ({self.year}). {self.title}. {self.venue}."

    @property
    def short(self) -> str:
        """``Surname et al. (year), venue``."""
        first = self.authors.split(";")[0].split(",")[0].strip()
        many = ";" in self.authors
        return f"{first}{' et al.' if many else ''} ({self.year}), {self.venue}"


#: A preprocessing step as a model declares it: a registered name, optionally with options.
StepRef = str | tuple[str, Mapping[str, Any]]


@dataclass(frozen=True)
class ReportedFigures:
    """Figures a publication reports for a model, with where they come from.

    Rates are fractions in [0, 1] (accuracy 0.7748, UF1 0.6621); ``source`` names the paper and
    table (``"Stofa et al. 2022, Table 13"``); ``dataset`` is the task name the figures are for
    (``"combined"`` for the MEGC2019 composite); ``protocol`` and ``selection`` say how they were
    obtained as far as the source says (``"loso"``; ``"unknown"`` where it does not).
    """

    source: str
    dataset: str = "combined"
    protocol: str = "loso"
    selection: str = "unknown"
    accuracy: float | None = None
    uf1: float | None = None
    uar: float | None = None
    per_dataset: Mapping[str, Mapping[str, float]] = field(default_factory=dict)  # {"casme2": {"uf1": …, "uar": …}}
    parameters: int | None = None
    train_s_per_subject: float | None = None
    fps: float | None = None
    device: str = ""
    note: str = ""


@dataclass(frozen=True)
class ModelSpec:
    """A registered model: a factory plus the facts the runner and the model card need.

    ``factory(num_classes, input_spec, **options)`` returns an ``nn.Module`` mapping a
    (N, C, H, W) float tensor to (N, num_classes) logits.
    """

    name: str
    factory: Callable[..., torch.nn.Module]
    input_spec: InputSpec
    preprocessing: tuple[StepRef, ...]
    description: str = ""
    reference: Reference | None = None
    reported: tuple[ReportedFigures, ...] = ()
    notes: tuple[str, ...] = ()
    family: str = ""

    def build(self, num_classes: int, **options: Any) -> torch.nn.Module:
        return self.factory(num_classes=num_classes, input_spec=self.input_spec, **options)


@dataclass(frozen=True)
class DatasetSpec:
    """A registered dataset: ``load(data_root, **options) -> list[Sample]``."""

    name: str
    load: Callable[..., list[Sample]]
    description: str = ""
    #: The task's label set, in label-index order; every sample's ``label`` is one of these.
    classes: tuple[str, ...] = MEGC2019_CLASSES
    reference: Reference | None = None
    needs_data_root: bool = True
    default_options: Mapping[str, Any] = field(default_factory=dict)
    #: ``suggested_epochs(options)``: the dataset's documented epoch budget, or None for the default.
    suggested_epochs: Callable[[Mapping[str, Any]], int | None] | None = None
    #: ``suggested_batch_size(options)``: the dataset's training batch size, or None for the default (32).
    suggested_batch_size: Callable[[Mapping[str, Any]], int | None] | None = None
    #: ``describe_run(options)``: a line printed at the start of a run (e.g. "reduced configuration").
    describe_run: Callable[[Mapping[str, Any]], str | None] | None = None
    #: ``check(data_root, **options) -> DatasetCheck``: validate a copy against an official list.
    check: Callable[..., "DatasetCheck"] | None = None


@dataclass(frozen=True)
class ProtocolSpec:
    """A registered evaluation protocol: how a task's samples become folds.

    ``split(table, dataset, **options) -> list[Fold]`` gets a ``mebench.folds.SampleTable`` (subjects,
    databases, labels and source task of every sample) and the run's dataset name; it must return
    folds checked with ``mebench.folds.check_folds``. ``tasks(dataset, options)`` names the tasks to
    load, the run's own dataset first (a cross-dataset protocol adds its target); default: the
    run's dataset alone. ``selections`` are the model-selection rules the protocol supports."""

    name: str
    split: Callable[..., list]
    description: str = ""
    default_options: Mapping[str, Any] = field(default_factory=dict)
    tasks: Callable[[str, Mapping[str, Any]], Sequence[str]] | None = None


@dataclass
class DatasetCheck:
    """A copy of a dataset compared with its official sample list."""

    dataset: str
    expected: list[tuple[str, str, str]]  # (sample id, subject, label) from the official list
    found: list[Sample]
    missing: list[str]
    extra: list[str]
    problems: list[str]

    @property
    def ok(self) -> bool:
        return not self.missing and not self.problems


@dataclass(frozen=True)
class PreprocessorSpec:
    """A registered preprocessing step: ``factory(**options)`` returns a ``PreprocessingStep``."""

    name: str
    factory: Callable[..., "PreprocessingStep"]
    description: str = ""


class PreprocessingStep:
    """One step of a preprocessing chain.

    A step reads and extends an item dict that starts as ``{"sample": Sample}``; the chain
    must end with ``item["image"]``, an (H, W, C) float32 array. ``config`` must capture
    everything that changes the output: the cache key is built from it.
    """

    name: str = ""

    @property
    def config(self) -> dict[str, Any]:
        return {}

    def __call__(self, item: dict[str, Any]) -> dict[str, Any]:
        raise NotImplementedError


@dataclass
class PreparedData:
    """A whole dataset as model inputs: one tensor, labels and per-sample identity."""

    x: torch.Tensor  # (N, C, H, W) float32
    y: torch.Tensor  # (N,) int64, index into the task's classes
    sample_ids: list[str]
    subjects: list[str]
    datasets: list[str]
    #: what the chain recorded per sample (``face_cropped``, ``face_missed``, ``apex_index``), by sample id
    notes: dict[str, dict] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.sample_ids)

    def to(self, device: torch.device | str) -> "PreparedData":
        return PreparedData(self.x.to(device), self.y.to(device), self.sample_ids, self.subjects, self.datasets,
                            self.notes)
