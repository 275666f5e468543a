"""Plan: a run's configuration → a resolved run (id, samples, folds, preprocessing chain, levers).

Planning has no side effects: it reads the dataset's annotation files and validates every option,
but writes nothing, trains nothing and preprocesses nothing. Anything wrong with the configuration
is found here, before a results folder exists. ``plan_run`` is four named stages: the specs and
their options, the execution levers, the task's samples and folds, and the run's identity.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, replace
from typing import Any, Callable, Sequence

import numpy as np
import torch

from mebench.data import INPUT_SCALINGS, DatasetSpec, ModelSpec, PreprocessingStep, ProtocolSpec, Sample, options_text
from mebench.errors import ConfigError, DataError, OptionError
from mebench.folds import Fold, SampleTable
from mebench.hardware import bf16_supported, device_name, resolve_device
from mebench.run.learners import NET, SPOT_THEN_RECOGNISE as STR_LEARNER, SPOTTER, Learner, learner_for
from mebench.options import Option, resolve_options
from mebench.run.preprocessing import build_chain, chain_config, default_cache_dir
from mebench.registry import Registry, default_registry
from mebench.identity import config_hash, make_run_id
from mebench.run_options import RUN_OPTIONS, execution_levers, later_settings, run_config_class, run_option
from mebench.run.spot_recognise import Recogniser
from mebench.tasks import INTERVALS, SINGLE_LABEL, SPOT_THEN_RECOGNISE, TaskKind, str_emotion, task_kind
from mebench.run.training import TrainSettings

DEFAULT_EPOCHS = 50
DEFAULT_BATCH_SIZE = 32
SELECTIONS = run_option("selection").choices
#: Execution levers: where and how folds are trained. They do not change what is computed, so they
#: stay out of the run's identity and a run resumes across them (declared in ``mebench.run_options``).
EXECUTION_LEVERS = execution_levers()
#: Settings added after runs were recorded: written into run.json and the identity only when not at their
#: default, so runs made before them keep their ids.
LATER_SETTINGS = later_settings()
#: The model option every net takes besides its own (``--model-opt input_scaling=…``): how the harness scales
#: the net's input, by default as its ``InputSpec`` declares. The identity records it only where it is not
#: ``fold`` (the scaling of every run made before it existed), so those runs keep their ids.
INPUT_SCALING = "input_scaling"


#: Everything that defines a run: one field per run option declared in ``mebench.run_options.RUN_OPTIONS`` (its
#: type and default; ``epochs``, ``batch_size``: None for the dataset's suggestion, else DEFAULT_EPOCHS and
#: DEFAULT_BATCH_SIZE; ``protocol``: None for the task's default). A dataclass.
RunConfig = run_config_class(RUN_OPTIONS, doc="Everything that defines a run. Its hash (without the execution "
                                              "levers) names the results folder.", module=__name__)


@dataclass(frozen=True)
class Levers:
    """How folds are trained: device, precision, memory format, fold batching (none changes a result)."""

    device: torch.device
    bf16: bool
    channels_last: bool
    fold_batch: str


@dataclass
class RunPlan:
    """A resolved run: what to train on which samples, in which folds, with which levers."""

    config: RunConfig
    run_id: str
    identity: dict[str, Any]  # the hashed part of the resolved configuration
    resolved: dict[str, Any]
    model_spec: ModelSpec
    dataset_spec: DatasetSpec
    protocol_spec: ProtocolSpec
    task: Task  # what the run evaluates: its samples, their table, the folds, the classes and the task's kind
    evaluated: np.ndarray  # sample positions that get a prediction (the union of the test sides)
    chain: list[PreprocessingStep]
    preprocessing: list[dict[str, Any]]
    device: torch.device
    settings: TrainSettings
    fold_batch: str
    model_options: dict[str, Any] = field(default_factory=dict)  # every declared model option, for the factory
    learner: Learner = NET  # how the model learns a fold (mebench.run.learners), chosen once here
    recogniser: Recogniser | None = None  # spot-then-recognise: the recognition model (mebench.run.spot_recognise)

    @property
    def kind(self) -> TaskKind:
        """What the task's answer is (``mebench.tasks``), as its ``DatasetSpec`` declares."""
        return self.task.kind

    @property
    def classes(self) -> tuple[str, ...]:
        return self.task.classes

    @property
    def samples(self) -> list[Sample]:
        return self.task.samples

    @property
    def table(self) -> SampleTable:
        return self.task.table

    @property
    def folds(self) -> list[Fold]:
        return self.task.folds

    @property
    def compile(self) -> bool:
        """Whether each fold's model is wrapped in ``torch.compile`` (asked for, and the learner compiles)."""
        return self.learner.compiles(self.config.compile)

    @property
    def leaky(self) -> bool:
        return self.config.selection == "test-oracle"

    def build_model(self) -> torch.nn.Module:
        return self.model_spec.build(len(self.classes), **self.model_options)

    def describe(self) -> str:
        bf16, channels_last = self.settings.bf16, self.settings.channels_last
        protocol = self.config.protocol + (f" ({options_text(self.resolved['protocol_options'])})"
                                           if self.resolved["protocol_options"] else "")
        return (f"{self.config.model} on {self.config.dataset}: {len(self.evaluated)} evaluated samples, "
                f"{len(self.folds)} folds ({protocol}), selection {self.config.selection}"
                f"{(' — LEAKY: epochs chosen on the test fold' if self.learner.has_epochs else ' — LEAKY: the spotter chooses its threshold on the test videos') if self.leaky else ''}, "
                + self.learner.describe(self.settings, device_name(self.device), bf16, channels_last))


def default_protocol(spec: DatasetSpec) -> str:
    """The protocol of a run that names none: the task's declared default, else leave-one-subject-out."""
    return spec.default_protocol or "loso"


def _suggested(suggest: Callable[[dict[str, Any]], int | None] | None, options: dict[str, Any], default: int) -> int:
    """A dataset's suggestion for these options (epochs, batch size), else the protocol default."""
    value = suggest(options) if suggest is not None else None
    return int(value) if value else default


def suggested_epochs(spec: DatasetSpec, options: dict[str, Any]) -> int:
    return _suggested(spec.suggested_epochs, options, DEFAULT_EPOCHS)


def suggested_batch_size(spec: DatasetSpec, options: dict[str, Any]) -> int:
    return _suggested(spec.suggested_batch_size, options, DEFAULT_BATCH_SIZE)


def resolve_precision(requested: str, device: torch.device) -> bool:
    """True for bf16 autocast. ``auto`` picks bf16 wherever the hardware supports it."""
    if requested not in ("auto", "fp32", "bf16"):
        raise ConfigError(f"precision must be auto, fp32 or bf16, got {requested!r}")
    if requested == "bf16" and not bf16_supported(device):
        raise ConfigError(f"bf16 is not supported on {device}; use --precision fp32")
    return requested == "bf16" or (requested == "auto" and bf16_supported(device))


def resolve_levers(config: RunConfig) -> Levers:
    """The execution levers, and the training settings checked before anything is read."""
    if config.selection not in SELECTIONS:
        raise ConfigError(f"selection must be one of {', '.join(SELECTIONS)}, got {config.selection!r}")
    if not (isinstance(config.lr, (int, float)) and config.lr > 0 and np.isfinite(config.lr)):
        raise ConfigError(f"learning rate must be a positive number, got {config.lr!r}")
    if config.batch_size is not None and not (isinstance(config.batch_size, int) and config.batch_size >= 2):
        raise ConfigError(f"batch size must be an integer of at least 2, got {config.batch_size!r}")
    if config.epochs is not None and (not isinstance(config.epochs, int) or config.epochs < 1):
        raise ConfigError(f"epochs must be at least 1, got {config.epochs}")
    if not isinstance(config.pos_weight, bool):
        raise ConfigError(f"pos_weight must be true or false, got {config.pos_weight!r}")
    device = resolve_device(config.device)
    bf16 = resolve_precision(config.precision, device)
    if config.channels_last not in ("auto", "on", "off"):
        raise ConfigError(f"channels_last must be auto, on or off, got {config.channels_last!r}")
    channels_last = config.channels_last == "on" or (config.channels_last == "auto" and (bf16 or device.type == "cuda"))
    fold_batch = str(config.fold_batch)
    if fold_batch not in ("auto", "off") and not (fold_batch.isdigit() and int(fold_batch) >= 1):
        raise ConfigError(f"fold_batch must be auto, off or a positive number of folds, got {fold_batch!r}")
    if fold_batch == "auto" and (device.type != "cuda" or config.compile):
        fold_batch = "off"  # on CPU fold batching measured slower than sequential (benchmarks/README.md)
    return Levers(device, bf16, channels_last, fold_batch)


def input_scaling_option(spec: ModelSpec) -> Option:
    """The declared ``input_scaling`` model option of ``spec``: its ``InputSpec``'s scaling by default."""
    return Option(INPUT_SCALING, str, spec.input_spec.scaling, "how the harness scales the net's input: "
                  + "; ".join(f"{name}: {text}" for name, text in INPUT_SCALINGS.items()),
                  choices=tuple(INPUT_SCALINGS))


def resolve_input_scaling(spec: ModelSpec, options: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    """(the run's input scaling, the other model options): ``input_scaling`` checked by the one validator and
    taken out, since the harness applies it and the factory never sees it."""
    given = {k: v for k, v in options.items() if k == INPUT_SCALING}
    values, _ = resolve_options(given, (input_scaling_option(spec),), "--model-opt", f"model {spec.name!r}")
    return values[INPUT_SCALING], {k: v for k, v in options.items() if k != INPUT_SCALING}


def resolve_model_options(spec: ModelSpec, options: dict[str, Any], n_classes: int) -> dict[str, Any]:
    """The factory's options: declared ones checked by the one validator; undeclared ones by building the
    model on the meta device (no memory, no time), so a value the factory refuses fails here."""
    declared = None if spec.options is None else (*spec.options, input_scaling_option(spec))  # for the listing
    values, _ = resolve_options(options, declared, "--model-opt", f"model {spec.name!r}")
    values.pop(INPUT_SCALING, None)  # the harness's, never the factory's (resolve_input_scaling)
    if spec.options is None and values:
        try:
            with torch.device("meta"):
                spec.build(n_classes, **values)
        except Exception as error:  # the factory's own complaint about an option
            given = " ".join(f"{k}={v}" for k, v in values.items())
            raise OptionError(f"--model-opt {given}: model {spec.name!r} refused it: {error}") from None
    return values


def load_task_samples(spec: DatasetSpec, data_root: str | None, given: dict[str, Any]
                      ) -> tuple[list[Sample], dict[str, Any]]:
    """The task's samples and the dataset options the run records, every option checked first."""
    values, recorded = spec.resolve_options(given)
    try:
        samples = spec.load(data_root, **values)
    except TypeError as error:  # a loader that declares no options and does not take one given
        if spec.options is not None:
            raise
        raise OptionError(f"--dataset-opt: dataset {spec.name!r}: {error}") from None
    if not samples:
        raise DataError(spec.name, "no samples", "check --data-root and the dataset options")
    spec.kind.check_labels(samples, spec.task_classes(values), spec.name)
    return samples, recorded


@dataclass
class Task:
    """What a run evaluates: its samples (from one or more tasks), their table and the protocol's folds."""

    names: list[str]
    classes: tuple[str, ...]
    samples: list[Sample]
    table: SampleTable
    folds: list[Fold]
    dataset_options: dict[str, Any]
    protocol_options: dict[str, Any]
    kind: TaskKind = SINGLE_LABEL  # what the task's answer is (its DatasetSpec's kind)


def resolve_task(registry: Registry, config: RunConfig, dataset_spec: DatasetSpec, protocol_spec: ProtocolSpec,
                 classes: tuple[str, ...]) -> Task:
    """Load the tasks the protocol needs (the run's own first, whose ``classes`` every other task must
    have), check they fit together, make the folds."""
    protocol_options, recorded_protocol = resolve_options(config.protocol_options, protocol_spec.options,
                                                          "--protocol-opt", f"protocol {protocol_spec.name!r}")
    names = (list(protocol_spec.tasks(config.dataset, protocol_options)) if protocol_spec.tasks
             else [config.dataset])
    samples, task_of, dataset_options = [], [], {}
    for name in names:
        spec = dataset_spec if name == config.dataset else registry.datasets.get(name)
        own = classes if name == config.dataset else spec.task_classes(spec.resolve_options({})[0])
        if own != classes:
            raise OptionError(f"protocol {protocol_spec.name}: task {name!r} has classes {', '.join(own)} "
                              f"but {config.dataset!r} has {', '.join(classes)}; pick tasks with the same classes")
        loaded, recorded = load_task_samples(spec, config.data_root,
                                             config.dataset_options if name == config.dataset else {})
        if name == config.dataset:
            dataset_options = recorded
        samples += loaded
        task_of += [name] * len(loaded)
    ids = [s.id for s in samples]
    if len(set(ids)) != len(ids):
        shared = sorted({i for i in ids if ids.count(i) > 1})
        raise OptionError(f"tasks {', '.join(names)} share samples ({shared[0]}, …): a protocol cannot train "
                          f"and test on the same clips; pick disjoint tasks")
    table = SampleTable.build(ids, [s.subject for s in samples], [s.dataset for s in samples],
                              # the class k-fold stratifies by (a multi-label task has none: its folds are by subject)
                              [dataset_spec.kind.stratum(s, classes) for s in samples], task_of)
    try:
        folds = protocol_spec.split(table, config.dataset, **protocol_options)
    except TypeError as error:  # a split that declares no options and does not take one given
        if protocol_spec.options is not None:
            raise
        raise OptionError(f"--protocol-opt: protocol {protocol_spec.name!r}: {error}") from None
    return Task(names, classes, samples, table, folds, dataset_options, recorded_protocol, dataset_spec.kind)


def run_identity(config: RunConfig, task: Task, levers: Levers, epochs: int, batch_size: int,
                 preprocessing: list[dict[str, Any]], input_scaling: str | None = "fold",
                 pretrained: dict[str, Any] | None = None) -> tuple[str, dict[str, Any], dict[str, Any]]:
    """(run id, identity, resolved configuration): the resolved configuration is what ``run.json``
    records; its identity (without the execution levers) is hashed into the run id. ``input_scaling``
    (None for an estimator, which scales its own features) is in both, in the identity only where it is not
    ``fold``."""
    resolved = {**asdict(config), "epochs": epochs, "batch_size": batch_size,
                "model_options": {k: v for k, v in config.model_options.items() if k != INPUT_SCALING},
                "dataset_options": task.dataset_options, "fold_batch": levers.fold_batch,
                "protocol_options": task.protocol_options, "precision": "bf16" if levers.bf16 else "fp32",
                "channels_last": levers.channels_last, "device_type": levers.device.type,
                "preprocessing": preprocessing, "optimizer": "adam", "classes": list(task.classes),
                "tasks": task.names,
                # the samples themselves (ids, labels, annotated frames): another copy, errata or generator
                # version that changes them is another run
                "samples_digest": config_hash([task.kind.digest_row(s) for s in task.samples])}
    for key, default in LATER_SETTINGS.items():
        if resolved[key] == default:
            del resolved[key]
    if input_scaling is not None:
        resolved[INPUT_SCALING] = input_scaling
    if pretrained:  # the net's starting weights (ModelSpec.pretrained); absent for random initialisation
        resolved["pretrained"] = pretrained
    identity = {k: v for k, v in resolved.items() if k not in EXECUTION_LEVERS
                and not (k == INPUT_SCALING and v == "fold")}
    if pretrained and pretrained.get("file"):  # weights count by their digest, whatever the file's name and place
        identity["pretrained"] = {k: v for k, v in pretrained.items() if k not in ("file", "source")}
        identity["model_options"] = {k: v for k, v in identity["model_options"].items() if v != pretrained["file"]}
    tag = config.protocol if config.protocol != "loso" else ""
    if config.selection != "fixed":
        tag = "-".join(filter(None, [tag, "LEAKY-test-oracle" if config.selection == "test-oracle" else config.selection]))
    return make_run_id(config.model, config.dataset, config_hash(identity), config.seed, tag=tag), identity, resolved


def check_str_emotions(videos: Sequence[Any], dataset: str) -> None:
    """Refuse (one line) a spot-then-recognise run on a task whose intervals carry emotions that were not mapped to
    the STR classes (a gap in the database's declared vocabulary): they would silently go unscored for recognition.
    Intervals without an emotion, and those whose emotion the declaration maps to no class (``NO_CLASS``: others),
    are spotting-only. A task with no interval of an STR class at all is refused too: nothing to recognise."""
    from mebench.long_videos import NO_CLASS

    intervals = [i for video in videos for i in video.intervals]
    others = sorted({str(i.emotion) for i in intervals if getattr(i, "emotion_class", None) != NO_CLASS
                     if i.emotion and str_emotion(i) is None})
    if others:
        raise ConfigError(f"--protocol str: task {dataset!r} annotates emotions ({', '.join(others[:5])}"
                          f"{', …' if len(others) > 5 else ''}) that are not mapped to the classes "
                          f"{', '.join(SPOT_THEN_RECOGNISE.emotions)}; declare them in the database's emotion "
                          f"vocabulary or correct the sheet (mebench data check {dataset} lists them)")
    if not any(str_emotion(i) for i in intervals):
        raise ConfigError(f"--protocol str: no interval of task {dataset!r} has an emotion among "
                          f"{', '.join(SPOT_THEN_RECOGNISE.emotions)}, so there is nothing to recognise; "
                          f"mebench data check {dataset} says where the task reads its emotions (a sheet your copy "
                          f"lacks?)")


def resolve_recogniser(registry: Registry, name: str) -> Recogniser:
    """The recognition model of a spot-then-recognise run (``--protocol-opt recogniser=NAME``) at its defaults:
    a net of the emotion classes with its preprocessing chain, refused here where it is not one."""
    spec = registry.models.get(name)
    n_classes = len(SPOT_THEN_RECOGNISE.emotions)
    if learner_for(lambda: spec.build(n_classes), spec.learner) is not NET:
        raise ConfigError(f"--protocol-opt recogniser={name}: the recogniser must be a net trained by epochs "
                          f"(see mebench list); {name!r} is not one")
    input_scaling, options = resolve_input_scaling(spec, {})
    chain = build_chain(registry, spec.preprocessing, f"model {spec.name!r}")
    return Recogniser(spec, resolve_model_options(spec, options, n_classes), input_scaling, tuple(chain),
                      spec.input_spec, str(default_cache_dir()))  # the runner sets its own cache folder


def plan_run(config: RunConfig, registry: Registry | None = None) -> RunPlan:
    """Resolve and validate ``config``; load the task's samples and make its folds. No side effects."""
    registry = registry or default_registry()
    model_spec: ModelSpec = registry.models.get(config.model)
    dataset_spec: DatasetSpec = registry.datasets.get(config.dataset)
    config = replace(config, protocol=config.protocol or default_protocol(dataset_spec))
    protocol_spec: ProtocolSpec = registry.protocols.get(config.protocol)
    levers = resolve_levers(config)
    classes = dataset_spec.task_classes(dataset_spec.resolve_options(config.dataset_options)[0])
    n_classes = len(classes)
    input_scaling, factory_options = resolve_input_scaling(model_spec, config.model_options)
    model_options = resolve_model_options(model_spec, factory_options, n_classes)
    # loads the weights once, so that a missing or unfitting file is refused before anything is read
    pretrained = model_spec.pretrained(n_classes, model_options) if model_spec.pretrained else None
    learner = learner_for(lambda: model_spec.build(n_classes, **model_options), model_spec.learner)
    kind = task_kind(protocol_spec.kind) if protocol_spec.kind else dataset_spec.kind
    if kind is SPOT_THEN_RECOGNISE:
        if dataset_spec.kind is not INTERVALS or learner is not SPOTTER:
            raise ConfigError(f"--protocol {config.protocol}: spot-then-recognise runs a spotter on a spotting task; "
                              f"model {config.model!r} on task {config.dataset!r} is not one (see mebench list)")
        learner = STR_LEARNER
    learner.check(config.model, config.dataset, config.selection, config.model_options, kind, INPUT_SCALING)
    if config.pos_weight and not kind.weighs_labels:
        raise ConfigError(f"--pos-weight weighs the labels of a multi-label task; task {config.dataset!r} has "
                          f"{kind.answer}")
    # a spotter reads a video's frames itself: its learner takes no preprocessing chain
    chain = build_chain(registry, model_spec.preprocessing, f"model {model_spec.name!r}") if learner.uses_chain else []
    preprocessing = chain_config(chain, model_spec.input_spec) if learner.uses_chain else []
    task = replace(resolve_task(registry, config, dataset_spec, protocol_spec, classes), kind=kind)
    recogniser = None
    if kind is SPOT_THEN_RECOGNISE:
        check_str_emotions(task.samples, config.dataset)
        name = task.protocol_options.get("recogniser")
        recognises = bool(getattr(model_spec.build(n_classes, **model_options), "recognises", False))
        if recognises and name:
            raise ConfigError(f"--protocol-opt recogniser={name}: spotter {config.model!r} recognises its intervals "
                              f"itself; leave the recogniser out")
        if not recognises and not name:
            raise OptionError(f"protocol str needs a recognition model for spotter {config.model!r}: --protocol-opt "
                              f"recogniser=NAME (e.g. --dataset synthetic-long --protocol str --protocol-opt "
                              f"recogniser=ststnet)")
        recogniser = resolve_recogniser(registry, name) if name else None
    evaluated = np.sort(np.concatenate([f.test for f in task.folds]))
    epochs = config.epochs if config.epochs is not None else suggested_epochs(dataset_spec, task.dataset_options)
    batch_size = (config.batch_size if config.batch_size is not None
                  else suggested_batch_size(dataset_spec, task.dataset_options))
    run_id, identity, resolved = run_identity(config, task, levers, epochs, batch_size, preprocessing,
                                              learner.input_scaling(input_scaling), pretrained)
    settings = TrainSettings(epochs=epochs, batch_size=batch_size, lr=float(config.lr), seed=config.seed,
                             device=levers.device, bf16=levers.bf16, channels_last=levers.channels_last,
                             kind=kind, pos_weight=config.pos_weight,
                             input_scaling=input_scaling)
    return RunPlan(config=config, run_id=run_id, identity=identity, resolved=resolved, model_spec=model_spec,
                   dataset_spec=dataset_spec, protocol_spec=protocol_spec, task=task, evaluated=evaluated, chain=chain,
                   preprocessing=preprocessing, device=levers.device, settings=settings,
                   fold_batch=learner.fold_batch(levers.fold_batch), model_options=model_options,
                   learner=learner, recogniser=recogniser)
