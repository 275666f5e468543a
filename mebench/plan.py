"""Plan: a run's configuration → a resolved run (id, samples, folds, preprocessing chain, levers).

Planning has no side effects: it reads the dataset's annotation files and validates every option,
but writes nothing, trains nothing and preprocesses nothing. Anything wrong with the configuration
is found here, before a results folder exists.
"""

from __future__ import annotations

import inspect
import multiprocessing
from dataclasses import asdict, dataclass, field
from typing import Any, Callable

import numpy as np
import torch

from mebench.data import (DataError, DatasetSpec, ModelSpec, OptionError, PreprocessingStep, ProtocolSpec, Sample,
                          options_text)
from mebench.folds import Fold, SampleTable
from mebench.hardware import describe_device, device_label
from mebench.preprocessing import build_chain, chain_config, config_hash
from mebench.registry import Registry, UnknownNameError, default_registry
from mebench.results import make_run_id
from mebench.training import TrainSettings, bf16_supported, resolve_device

DEFAULT_EPOCHS = 50
DEFAULT_BATCH_SIZE = 32
SELECTIONS = ("fixed", "inner-val", "test-oracle")
#: Execution levers: where and how folds are trained. They do not change what is computed, so they
#: stay out of the run's identity and a run resumes across them.
EXECUTION_LEVERS = ("seed", "data_root", "device", "fold_batch", "compile")


class ConfigError(OptionError):
    """A run that cannot start as configured; the message says what to change."""


class WorkerReentryError(RuntimeError):
    """mebench called again inside one of its own worker processes (a script without a main guard).
    Not an ``OptionError``: a sweep, which reports bad options per run and goes on, must stop."""


@dataclass
class RunConfig:
    """Everything that defines a run. Its hash (without the execution levers) names the results folder."""

    model: str
    dataset: str
    epochs: int | None = None  # None: the dataset's suggestion, else DEFAULT_EPOCHS
    batch_size: int | None = None  # None: the dataset's suggestion, else DEFAULT_BATCH_SIZE
    lr: float = 1e-4
    seed: int = 0
    device: str = "auto"
    precision: str = "auto"  # auto | fp32 | bf16
    channels_last: str = "auto"  # auto | on | off
    fold_batch: str = "auto"  # auto (measured on CUDA, off on CPU) | off | a number of folds
    compile: bool = False  # torch.compile the model once per run
    protocol: str = "loso"
    protocol_options: dict[str, Any] = field(default_factory=dict)
    selection: str = "fixed"  # fixed | inner-val | test-oracle (LEAKY)
    model_options: dict[str, Any] = field(default_factory=dict)
    dataset_options: dict[str, Any] = field(default_factory=dict)
    data_root: str | None = None


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
    classes: tuple[str, ...]
    samples: list[Sample]
    table: SampleTable
    folds: list[Fold]
    evaluated: np.ndarray  # sample positions that get a prediction (the union of the test sides)
    chain: list[PreprocessingStep]
    preprocessing: list[dict[str, Any]]
    device: torch.device
    settings: TrainSettings
    fold_batch: str

    @property
    def leaky(self) -> bool:
        return self.config.selection == "test-oracle"

    def build_model(self) -> torch.nn.Module:
        return self.model_spec.build(len(self.classes), **self.config.model_options)

    def describe(self) -> str:
        bf16, channels_last = self.settings.bf16, self.settings.channels_last
        protocol = self.config.protocol + (f" ({options_text(self.resolved['protocol_options'])})"
                                           if self.resolved["protocol_options"] else "")
        return (f"{self.config.model} on {self.config.dataset}: {len(self.evaluated)} evaluated samples, "
                f"{len(self.folds)} folds ({protocol}), selection {self.config.selection}"
                f"{' — LEAKY: epochs chosen on the test fold' if self.leaky else ''}, "
                f"{self.settings.epochs} epochs, batch {self.settings.batch_size}, {device_name(self.device)}, "
                f"{'bf16 autocast' if bf16 else 'fp32'}{', channels-last' if channels_last else ''}")


def device_name(device: torch.device) -> str:
    """A one-line label of the hardware (CPU model and bf16/AMX support, or GPU and CUDA version)."""
    return device_label(describe_device(device))


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


def check_factory_options(factory: Callable, options: dict[str, Any], flag: str, owner: str,
                          reserved: tuple[str, ...] = ()) -> None:
    """Unknown option names are refused with the valid ones listed (from the factory's signature)."""
    if not options:
        return
    parameters = inspect.signature(factory).parameters
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in parameters.values()):
        return  # the factory validates its own names
    valid = [name for name, p in parameters.items()
             if name not in reserved and p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)]
    for name in options:
        if name not in valid:
            listed = ", ".join(valid) if valid else "none"
            raise OptionError(f"{flag} {name}: {owner} has no option {name!r}; valid options: {listed}")


def check_model_options(spec: ModelSpec, options: dict[str, Any], n_classes: int) -> None:
    """Names from the factory's signature; values by building the model on the meta device
    (no memory, no time), so ``branches=9`` fails here with the factory's own message."""
    check_factory_options(spec.factory, options, "--model-opt", f"model {spec.name!r}",
                          reserved=("num_classes", "input_spec"))
    if not options:
        return
    try:
        with torch.device("meta"):
            spec.build(n_classes, **options)
    except Exception as error:  # the factory's own complaint about a value
        given = " ".join(f"{k}={v}" for k, v in options.items())
        raise OptionError(f"--model-opt {given}: model {spec.name!r} refused it: {error}") from None


def load_task_samples(spec: DatasetSpec, config: RunConfig, options: dict[str, Any]) -> list[Sample]:
    check_factory_options(spec.load, options, "--dataset-opt", f"dataset {spec.name!r}", reserved=("data_root",))
    try:
        samples = spec.load(config.data_root, **options)
    except TypeError as error:  # a loader that does not validate its own options
        raise OptionError(f"--dataset-opt: dataset {spec.name!r}: {error}") from None
    if not samples:
        raise DataError(spec.name, "no samples", "check --data-root and the dataset options")
    for sample in samples:
        if sample.label not in spec.classes:
            raise DataError(sample.id, f"label {sample.label!r} is not one of task {spec.name!r}'s classes "
                                       f"{', '.join(spec.classes)}", "fix the dataset plugin's label rules")
    return samples


def resolve_protocol(registry: Registry, config: RunConfig) -> tuple[ProtocolSpec, dict[str, Any]]:
    spec = registry.protocols.get(config.protocol)
    check_factory_options(spec.split, config.protocol_options, "--protocol-opt", f"protocol {spec.name!r}",
                          reserved=("table", "dataset"))
    unknown = set(config.protocol_options) - set(spec.default_options)
    if unknown and spec.default_options:
        raise OptionError(f"--protocol-opt {sorted(unknown)[0]}: protocol {spec.name!r} has no such option; "
                          f"valid options: {', '.join(spec.default_options)}")
    return spec, {**spec.default_options, **config.protocol_options}


def plan_run(config: RunConfig, registry: Registry | None = None) -> RunPlan:
    """Resolve and validate ``config``; load the task's samples and make its folds. No side effects."""
    if getattr(multiprocessing.current_process(), "_inheriting", False):
        # A worker process re-imports the caller's script; without a main guard it reaches this call
        # again and would wait forever on the run's lock (or start workers of its own).
        raise WorkerReentryError("mebench was started again inside one of its own worker processes, which "
                                 "re-import your script: put the code that calls mebench under "
                                 "`if __name__ == \"__main__\":`")
    registry = registry or default_registry()
    model_spec: ModelSpec = registry.models.get(config.model)
    dataset_spec: DatasetSpec = registry.datasets.get(config.dataset)
    protocol_spec, protocol_options = resolve_protocol(registry, config)
    if config.selection not in SELECTIONS:
        raise ConfigError(f"selection must be one of {', '.join(SELECTIONS)}, got {config.selection!r}")
    try:
        device = resolve_device(config.device)
    except (ValueError, RuntimeError) as error:
        raise ConfigError(str(error)) from None
    bf16 = resolve_precision(config.precision, device)
    if config.channels_last not in ("auto", "on", "off"):
        raise ConfigError(f"channels_last must be auto, on or off, got {config.channels_last!r}")
    channels_last = config.channels_last == "on" or (config.channels_last == "auto" and (bf16 or device.type == "cuda"))
    fold_batch = str(config.fold_batch)
    if fold_batch not in ("auto", "off") and not (fold_batch.isdigit() and int(fold_batch) >= 1):
        raise ConfigError(f"fold_batch must be auto, off or a positive number of folds, got {fold_batch!r}")
    if fold_batch == "auto" and (device.type != "cuda" or config.compile):
        fold_batch = "off"  # on CPU fold batching measured slower than sequential (benchmarks/README.md)
    if not (isinstance(config.lr, (int, float)) and config.lr > 0 and np.isfinite(config.lr)):
        raise ConfigError(f"learning rate must be a positive number, got {config.lr!r}")
    if config.batch_size is not None and not (isinstance(config.batch_size, int) and config.batch_size >= 2):
        raise ConfigError(f"batch size must be an integer of at least 2, got {config.batch_size!r}")
    if config.epochs is not None and (not isinstance(config.epochs, int) or config.epochs < 1):
        raise ConfigError(f"epochs must be at least 1, got {config.epochs}")

    classes = tuple(dataset_spec.classes)
    check_model_options(model_spec, config.model_options, len(classes))
    chain = build_chain(registry, model_spec.preprocessing)
    preprocessing = chain_config(chain, model_spec.input_spec)

    dataset_options = {**dataset_spec.default_options, **config.dataset_options}
    task_names = list(protocol_spec.tasks(config.dataset, protocol_options)) if protocol_spec.tasks else [config.dataset]
    samples, task_of = [], []
    for task in task_names:
        spec = dataset_spec if task == config.dataset else registry.datasets.get(task)
        if tuple(spec.classes) != classes:
            raise OptionError(f"protocol {protocol_spec.name}: task {task!r} has classes {', '.join(spec.classes)} "
                              f"but {config.dataset!r} has {', '.join(classes)}; pick tasks with the same classes")
        options = dataset_options if task == config.dataset else dict(spec.default_options)
        loaded = load_task_samples(spec, config, options)
        samples += loaded
        task_of += [task] * len(loaded)
    ids = [s.id for s in samples]
    if len(set(ids)) != len(ids):
        shared = sorted({i for i in ids if ids.count(i) > 1})
        raise OptionError(f"tasks {', '.join(task_names)} share samples ({shared[0]}, …): a protocol cannot train "
                          f"and test on the same clips; pick disjoint tasks")
    table = SampleTable.build(ids, [s.subject for s in samples], [s.dataset for s in samples],
                              [classes.index(s.label) for s in samples], task_of)
    folds = protocol_spec.split(table, config.dataset, **protocol_options)
    evaluated = np.sort(np.concatenate([f.test for f in folds]))

    epochs = config.epochs if config.epochs is not None else suggested_epochs(dataset_spec, dataset_options)
    batch_size = (config.batch_size if config.batch_size is not None
                  else suggested_batch_size(dataset_spec, dataset_options))
    resolved = {**asdict(config), "epochs": epochs, "batch_size": batch_size, "dataset_options": dataset_options,
                "fold_batch": fold_batch,
                "protocol_options": protocol_options, "precision": "bf16" if bf16 else "fp32",
                "channels_last": channels_last, "device_type": device.type, "preprocessing": preprocessing,
                "optimizer": "adam", "classes": list(classes), "tasks": task_names,
                # the samples themselves (ids, labels, annotated frames): another copy, errata or generator
                # version that changes them is another run
                "samples_digest": config_hash([(s.id, s.label, s.onset, s.apex, s.offset) for s in samples])}
    identity = {k: v for k, v in resolved.items() if k not in EXECUTION_LEVERS}
    tag = config.protocol if config.protocol != "loso" else ""
    if config.selection != "fixed":
        tag = "-".join(filter(None, [tag, "LEAKY-test-oracle" if config.selection == "test-oracle" else config.selection]))
    run_id = make_run_id(config.model, config.dataset, config_hash(identity), config.seed, tag=tag)
    settings = TrainSettings(epochs=epochs, batch_size=batch_size, lr=float(config.lr), seed=config.seed,
                             device=device, bf16=bf16, channels_last=channels_last)
    return RunPlan(config=config, run_id=run_id, identity=identity, resolved=resolved, model_spec=model_spec,
                   dataset_spec=dataset_spec, protocol_spec=protocol_spec, classes=classes, samples=samples,
                   table=table, folds=folds, evaluated=evaluated, chain=chain, preprocessing=preprocessing,
                   device=device, settings=settings, fold_batch=fold_batch)


__all__ = ["ConfigError", "WorkerReentryError", "RunConfig", "RunPlan", "plan_run", "DEFAULT_EPOCHS", "DEFAULT_BATCH_SIZE", "SELECTIONS", "UnknownNameError"]
