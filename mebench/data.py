"""Data types shared by datasets, preprocessors, models, protocols and the runner: what a plugin
declares (specs, model cards, options) and what flows between the layers (samples, prepared data)."""

from __future__ import annotations

import enum
import warnings
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Callable, Mapping, Sequence

import numpy as np
import torch

from mebench.options import Option, resolve_options
from mebench.tasks import MULTI_LABEL, SINGLE_LABEL, TaskKind

if TYPE_CHECKING:
    from mebench.dataset_check import DatasetCheck

#: The classes of the MEGC2019 3-class task, in label-index order: the default label set of a
#: dataset task. A task with other classes declares them in ``DatasetSpec.classes``.
MEGC2019_CLASSES: tuple[str, ...] = ("negative", "positive", "surprise")

#: Public names renamed in earlier releases, old → new: each still imports, with a ``DeprecationWarning``.
DEPRECATED_NAMES = {"CLASSES": "MEGC2019_CLASSES"}


def __getattr__(name: str) -> Any:
    if name in DEPRECATED_NAMES:
        new = DEPRECATED_NAMES[name]
        warnings.warn(f"mebench.data.{name} is deprecated and will be removed; use mebench.api.{new}",
                      DeprecationWarning, stacklevel=2)
        return globals()[new]
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


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
    (one line each: file, row, field, value used), recorded in ``run.json``. In a multi-label task
    (action units: ``DatasetSpec.kind`` ``MULTI_LABEL``) ``targets`` are the sample's labels, each one of the
    task's ``classes``, and ``label`` is them joined (``AU4+AU12``, ``none``), for display.
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
    targets: tuple[str, ...] | None = None

    def __post_init__(self) -> None:
        if not self.id.startswith(self.dataset + "/") or not self.subject.startswith(self.dataset + "/"):
            raise ValueError(f"sample {self.id}: id and subject must be namespaced by dataset {self.dataset!r}")


class FrameSource:
    """Ordered frame indices plus a way to load each frame (picklable for worker processes)."""

    def indices(self) -> Sequence[int]:
        raise NotImplementedError

    def load(self, index: int) -> np.ndarray:
        raise NotImplementedError


def check_labels(samples: Sequence[Sample], classes: Sequence[str], task: str = "", multilabel: bool | None = None,
                 *, kind: TaskKind = SINGLE_LABEL) -> None:
    """Refuse (``DataError`` naming the sample) a sample whose label is not one of the task's classes
    (``kind`` ``MULTI_LABEL``: a sample without targets, or a target that is not one of them).
    ``multilabel=True`` is the deprecated spelling of ``kind=MULTI_LABEL``."""
    if multilabel is not None:
        warnings.warn("check_labels(multilabel=...) is deprecated; use kind=mebench.api.MULTI_LABEL",
                      DeprecationWarning, stacklevel=2)
        kind = MULTI_LABEL if multilabel else SINGLE_LABEL
    kind.check_labels(samples, classes, task)


def options_text(options: Mapping[str, Any]) -> str:
    """``k=10, seed=0``: options as a user writes them, in name order; an option left unset (None) is left out."""
    return ", ".join(f"{k}={v}" for k, v in sorted(options.items()) if v is not None)


#: How the harness scales a net's input before feeding it, by name: what a ``InputSpec.scaling`` may be.
INPUT_SCALINGS: dict[str, str] = {
    "fold": "standardised per channel with the mean and standard deviation of the fold's training samples",
    "none": "the chain's values as they are",
    "byte": "the chain's values × 255 (a [0, 1] image as the 0–255 pixel values of an 8-bit image read unscaled)",
}


@dataclass(frozen=True)
class InputSpec:
    """What a model consumes: a (channels, height, width) tensor, possibly split into streams, and how the
    harness scales it (``scaling``, one of ``INPUT_SCALINGS``: the authors' scaling where their code shows it;
    ``fold`` standardisation is the default a spec that says nothing gets)."""

    channels: int
    height: int
    width: int
    streams: int = 1
    scaling: str = "fold"

    def __post_init__(self) -> None:
        if self.scaling not in INPUT_SCALINGS:
            raise ValueError(f"input scaling must be one of {', '.join(INPUT_SCALINGS)}, got {self.scaling!r}")

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
    obtained as far as the source says (``"loso"``; ``"unknown"`` where it does not). ``model``: the
    name the figures are shown under where the source does not name exactly this net (``"RCN (variant
    not stated)"`` on every RCN card); equal figures under one such name are shown once. A task of another kind
    than single-label (``kind``, a ``mebench.tasks`` name) gives its figures by name in ``figures``
    (``{"f1": 0.0376, "f1_me": …}`` for spotting).
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
    model: str = ""
    kind: str = "single-label"
    figures: Mapping[str, float] = field(default_factory=dict)

    def value(self, name: str) -> float | None:
        """A figure by name: accuracy, UF1, UAR, or one of ``figures``."""
        return getattr(self, name) if name in ("accuracy", "uf1", "uar") else self.figures.get(name)


class Fidelity(str, enum.Enum):
    """How closely a net follows its source: a closed set, so a table can be filtered on it."""

    #: follows the authors' code (or the reference definition named on the card) layer by layer
    FAITHFUL = "faithful"
    #: no authors' code: built from the paper (and any third-party source the card names)
    RECONSTRUCTED = "reconstructed"
    #: follows a reference definition with changes the card lists as deviations
    ADAPTED = "adapted"


@dataclass(frozen=True)
class CodeLocation:
    """Where a net's reference definition lives: ``repository`` (``christy1206/STSTNet``), ``path``
    in it (``main.py``), the class or function, and the commit and licence where known."""

    repository: str
    path: str
    symbol: str = ""
    commit: str = ""
    licence: str = ""
    note: str = ""

    def __str__(self) -> str:
        where = f"{self.repository}, {self.path}" + (f" ({self.symbol})" if self.symbol else "")
        extras = [f"commit {self.commit}" if self.commit else "", f"licence {self.licence}" if self.licence else ""]
        extras = ", ".join(filter(None, extras))
        return where + (f" [{extras}]" if extras else "") + (f"; {self.note}" if self.note else "")


@dataclass(frozen=True)
class ModelCard:
    """The facts a reader needs to trust a net: its source, the code it follows, how faithfully, its
    input chain, the reference parameter count and where that count comes from, what the
    publications report, and every deviation with its reason. ``mebench info`` renders it."""

    source: Reference
    fidelity: Fidelity
    fidelity_detail: str
    code: tuple[CodeLocation, ...] = ()  # empty: the authors published none
    input_chain: str = ""
    reference_parameters: int | None = None
    reference_parameters_source: str = ""
    identification: str = ""  # how the configuration was identified where the source does not name it
    deviations: tuple[str, ...] = ()
    reported: tuple[ReportedFigures, ...] = ()


@dataclass(frozen=True)
class ModelSpec:
    """A registered model: a factory plus the facts the runner and the model card need.

    ``factory(num_classes, input_spec, **options)`` returns an ``nn.Module`` mapping a
    (N, C, H, W) float tensor to (N, num_classes) logits, or a scikit-learn-style estimator fitted
    once per fold on features the chain makes (``mebench.estimators``). ``options`` declares what
    ``--model-opt`` may set (``None``: nothing declared; options are passed through as given).
    """

    name: str
    factory: Callable[..., torch.nn.Module]
    input_spec: InputSpec
    preprocessing: tuple[StepRef, ...]
    description: str = ""
    card: ModelCard | None = None
    options: tuple[Option, ...] | None = None
    family: str = ""
    #: ``pretrained(num_classes, options)``: what the net starts from under these options (``source``, the
    #: ``file`` as given, its ``sha256``, the layers ``loaded``, ``adapted`` and ``new``), found by loading it at
    #: planning; it enters ``run.json`` and the run's identity. None, or a None result: random initialisation.
    pretrained: Callable[[int, Mapping[str, Any]], dict[str, Any] | None] | None = None
    #: How the model learns (``mebench.run.learners``: ``net``, ``estimator``, ``spotter``); None: found from what the
    #: factory builds (a spotter has ``spot_video``, an estimator ``fit`` and ``predict_proba``, else a net).
    learner: str | None = None

    def build(self, num_classes: int, **options: Any) -> torch.nn.Module:
        """The net with ``num_classes`` outputs: the declared options' defaults, overridden by ``options``."""
        defaults = {option.name: option.default for option in self.options or ()}
        return self.factory(num_classes=num_classes, input_spec=self.input_spec, **{**defaults, **options})

    @property
    def reported(self) -> tuple[ReportedFigures, ...]:
        return self.card.reported if self.card else ()


@dataclass(frozen=True)
class DatasetSpec:
    """A registered dataset task: ``load(data_root, **options) -> list[Sample]``.

    ``options`` declares what ``--dataset-opt`` may set; the loader gets every declared option
    (the given value or the declared default)."""

    name: str
    load: Callable[..., list[Sample]]
    description: str = ""
    #: The task's label set, in label-index order; every sample's ``label`` is one of these (multi-label:
    #: every sample's ``targets`` are among these).
    classes: tuple[str, ...] = MEGC2019_CLASSES
    #: Deprecated spelling of ``kind=MULTI_LABEL`` (warns); reads True for a multi-label task, as before.
    multilabel: bool = False
    #: ``classes_for(values)``: the task's classes under its option values, for a task whose label set is an
    #: option (an AU set); None: always ``classes``.
    classes_for: Callable[[Mapping[str, Any]], tuple[str, ...]] | None = None
    reference: Reference | None = None
    needs_data_root: bool = True
    options: tuple[Option, ...] | None = None
    #: ``suggested_epochs(options)``: the dataset's documented epoch budget, or None for the default.
    suggested_epochs: Callable[[Mapping[str, Any]], int | None] | None = None
    #: ``suggested_batch_size(options)``: the dataset's training batch size, or None for the default (32).
    suggested_batch_size: Callable[[Mapping[str, Any]], int | None] | None = None
    #: ``describe_run(options)``: a line printed at the start of a run (e.g. "reduced configuration").
    describe_run: Callable[[Mapping[str, Any]], str | None] | None = None
    #: ``check(data_root, **options) -> DatasetCheck``: validate a copy against an official list.
    check: Callable[..., "DatasetCheck"] | None = None
    #: The protocol a run of this task uses when the user names none (``--protocol``); None: ``loso``.
    default_protocol: str | None = None
    #: ``ground_truth(**options) -> [(sample id, subject, class)]``: the task's labelled samples from a list the
    #: plugin ships, so that predictions can be scored without the licensed copy (``mebench score``); None: scoring
    #: this task reads the samples from the user's copy (``--data-root``).
    ground_truth: Callable[..., list[tuple[str, str, str]]] | None = None
    #: What the task's answer is (``mebench.tasks``): ``SINGLE_LABEL`` (one class per sample), ``MULTI_LABEL``
    #: (several labels per sample, action units: sigmoid outputs, binary cross-entropy, macro-F1) or ``INTERVALS``
    #: (intervals in long videos: spotting).
    kind: TaskKind = SINGLE_LABEL

    def __post_init__(self) -> None:
        if self.multilabel and self.kind is SINGLE_LABEL:
            warnings.warn(f"DatasetSpec(multilabel=True) ({self.name!r}) is deprecated; use "
                          f"kind=mebench.api.MULTI_LABEL", DeprecationWarning, stacklevel=3)
            object.__setattr__(self, "kind", MULTI_LABEL)
        object.__setattr__(self, "multilabel", self.kind is MULTI_LABEL)

    def task_classes(self, values: Mapping[str, Any]) -> tuple[str, ...]:
        """The classes (labels) of the task under these option values."""
        return tuple(self.classes_for(values)) if self.classes_for is not None else tuple(self.classes)

    def resolve_options(self, given: Mapping[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
        """(every option for the loader, the options a run records) from the ``--dataset-opt`` values given,
        checked by the one validator."""
        return resolve_options(given, self.options, "--dataset-opt", f"dataset {self.name!r}")


@dataclass(frozen=True)
class ProtocolSpec:
    """A registered evaluation protocol: how a task's samples become folds.

    ``split(table, dataset, **options) -> list[Fold]`` gets a ``mebench.folds.SampleTable`` (subjects,
    databases, labels and source task of every sample) and the run's dataset name; it must return
    folds checked with ``mebench.folds.check_folds``. ``tasks(dataset, options)`` names the tasks to
    load, the run's own dataset first (a cross-dataset protocol adds its target); default: the
    run's dataset alone. ``options`` declares what ``--protocol-opt`` may set. ``kind`` names the task kind
    (``mebench.tasks.TASK_KINDS``) the protocol scores the run as where it is not the dataset's: ``str`` scores a
    spotting task as ``spot-then-recognise``, its option ``recogniser`` naming the recognition model."""

    name: str
    split: Callable[..., list]
    description: str = ""
    options: tuple[Option, ...] | None = None
    tasks: Callable[[str, Mapping[str, Any]], Sequence[str]] | None = None
    kind: str | None = None


@dataclass(frozen=True)
class PreprocessorSpec:
    """A registered preprocessing step: ``factory(**options)`` returns a ``PreprocessingStep``;
    ``options`` declares what a model's chain may set on it."""

    name: str
    factory: Callable[..., "PreprocessingStep"]
    description: str = ""
    options: tuple[Option, ...] | None = None


#: How ``run.json`` summarises a note over the run's samples (``SampleNote.form``).
NOTE_FORMS = ("count", "samples", "outcomes")


@dataclass(frozen=True)
class SampleNote:
    """A fact a preprocessing step may record about a sample, as ``item[key]``: the run keeps it per
    sample (the preprocessing cache, ``PreparedData.notes``) and, where ``summary`` names an entry,
    summarises it in ``run.json``'s ``face_crop`` section.

    ``form`` says how: ``count`` — the samples whose note is true; ``samples`` — their ids, sorted;
    ``outcomes`` — over the samples that carry the note, only when some do, ``{outcomes[0]: n false,
    outcomes[1]: n true, "<outcomes[1]>_samples": ids of the true}``. ``text`` says what a true note
    means; ``warning``, where given, is the line the run prints when some sample's note is true
    (fields ``{count}``, ``{first}`` — the first such sample — ``{samples}`` and ``{uncropped}``, the
    samples whose copy is not cropped)."""

    key: str
    text: str
    summary: str = ""
    form: str = "count"
    outcomes: tuple[str, str] = ("false", "true")
    warning: str = ""

    def __post_init__(self) -> None:
        if self.form not in NOTE_FORMS:
            raise ValueError(f"note {self.key!r}: form must be one of {NOTE_FORMS}, got {self.form!r}")


class PreprocessingStep:
    """One step of a preprocessing chain.

    A step reads and extends an item dict that starts as ``{"sample": Sample}``; the chain
    must end with ``item["image"]``, an (H, W, C) float32 array ((1, 1, D) for a feature vector).
    ``config`` must capture everything that changes the output: the cache key is built from it.

    ``needs`` names the item keys the step reads and ``gives`` those it sets on every sample;
    ``build_chain`` refuses, at planning, a chain in which a step needs a key that no step before
    it gives. ``None`` (the default) is undeclared: such a step's needs are not checked, and after
    it any key may be present. ``notes`` declares what the step may record about a sample
    (``SampleNote``); the run keeps only declared notes.
    """

    name: str = ""
    needs: tuple[str, ...] | None = None
    gives: tuple[str, ...] | None = None
    notes: tuple[SampleNote, ...] = ()

    @property
    def config(self) -> dict[str, Any]:
        return {}

    def __call__(self, item: dict[str, Any]) -> dict[str, Any]:
        raise NotImplementedError


@dataclass
class PreparedData:
    """A whole dataset as model inputs: one tensor, labels and per-sample identity."""

    x: torch.Tensor  # (N, C, H, W) float32
    y: torch.Tensor  # the task kind's targets (TaskKind.targets): (N,) class indices, or (N, K) 0/1 labels
    sample_ids: list[str]
    subjects: list[str]
    datasets: list[str]
    #: what the chain's steps recorded per sample (the notes they declare, ``SampleNote``), by sample id
    notes: dict[str, dict] = field(default_factory=dict)
    #: how a spotter reads its videos: the run's ``cache_dir``, ``workers`` and ``progress`` (empty for a learner
    #: that takes ``x``)
    video_settings: dict[str, Any] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.sample_ids)

    def to(self, device: torch.device | str) -> "PreparedData":
        return PreparedData(self.x.to(device), self.y.to(device), self.sample_ids, self.subjects, self.datasets,
                            self.notes, self.video_settings)
