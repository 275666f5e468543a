"""The LOSO runner: dataset → preprocessing → folds → training → predictions → metrics → results."""

from __future__ import annotations

import platform
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch
from tqdm.auto import tqdm

from mebench.data import CLASSES, DatasetSpec, ModelSpec
from mebench.folds import loso_folds
from mebench.metrics import pooled_metrics
from mebench.preprocessing import build_chain, chain_config, config_hash, default_cache_dir, prepare
from mebench.registry import Registry, default_registry
from mebench.results import RunDirectory, environment, load_results, make_run_id
from mebench.timing import Stopwatch, inference_throughput, peak_memory_bytes, reset_peak_memory
from mebench.training import (TrainSettings, bf16_supported, fold_batch_size, predict, resolve_device, train_fold,
                              train_folds_batched)

DEFAULT_EPOCHS = 50


@dataclass
class RunConfig:
    """Everything that defines a run. Its hash (without ``seed`` and paths) names the results folder."""

    model: str
    dataset: str
    epochs: int | None = None  # None: the dataset's suggestion, else DEFAULT_EPOCHS
    batch_size: int = 32
    lr: float = 1e-4
    seed: int = 0
    device: str = "auto"
    precision: str = "auto"  # auto | fp32 | bf16
    channels_last: str = "auto"  # auto | on | off
    fold_batch: str = "auto"  # auto (measured on CUDA, off on CPU) | off | a number of folds
    compile: bool = False  # torch.compile the model (sequential training only)
    model_options: dict[str, Any] = field(default_factory=dict)
    dataset_options: dict[str, Any] = field(default_factory=dict)
    data_root: str | None = None


@dataclass
class RunOutcome:
    run_dir: Path
    metrics: dict[str, Any]
    run_info: dict[str, Any]
    reused: bool  # True when the run was already complete and nothing was recomputed


class ConfigError(ValueError):
    """A run that cannot start as configured; the message says what to change."""


def suggested_epochs(spec: DatasetSpec, options: dict[str, Any]) -> int:
    if spec.suggested_epochs is not None:
        value = spec.suggested_epochs(options)
        if value:
            return int(value)
    return DEFAULT_EPOCHS


def resolve_precision(requested: str, device: torch.device) -> bool:
    """True for bf16 autocast. ``auto`` picks bf16 wherever the hardware supports it."""
    if requested not in ("auto", "fp32", "bf16"):
        raise ConfigError(f"precision must be auto, fp32 or bf16, got {requested!r}")
    if requested == "bf16" and not bf16_supported(device):
        raise ConfigError(f"bf16 is not supported on {device}; use --precision fp32")
    return requested == "bf16" or (requested == "auto" and bf16_supported(device))


def device_name(device: torch.device) -> str:
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    return f"cpu ({platform.processor() or platform.machine()}, {torch.get_num_threads()} threads)"


def run_loso(config: RunConfig, registry: Registry | None = None, output_dir: Path = Path("results"),
             cache_dir: Path | None = None, force: bool = False, progress: bool = True,
             workers: int | None = None, log=print) -> RunOutcome:
    registry = registry or default_registry()
    model_spec: ModelSpec = registry.models.get(config.model)
    dataset_spec: DatasetSpec = registry.datasets.get(config.dataset)
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
    dataset_options = {**dataset_spec.default_options, **config.dataset_options}
    epochs = config.epochs if config.epochs is not None else suggested_epochs(dataset_spec, dataset_options)
    if epochs < 1:
        raise ConfigError(f"epochs must be at least 1, got {epochs}")
    chain = build_chain(registry, model_spec.preprocessing)
    preprocessing = chain_config(chain, model_spec.input_spec)

    resolved = {**asdict(config), "epochs": epochs, "dataset_options": dataset_options, "fold_batch": fold_batch,
                "precision": "bf16" if bf16 else "fp32", "channels_last": channels_last,
                "device_type": device.type, "preprocessing": preprocessing, "protocol": "loso",
                "optimizer": "adam", "classes": list(CLASSES)}
    # Execution levers that do not change the protocol (where, how batched, compiled) stay out of the
    # run's identity, so a run resumed with other levers continues the same results.
    hashed = {k: v for k, v in resolved.items() if k not in ("seed", "data_root", "device", "fold_batch", "compile")}
    run_id = make_run_id(config.model, config.dataset, config_hash(hashed), config.seed)
    run_dir = RunDirectory(output_dir, run_id)
    if run_dir.complete and not force:
        existing = next(r for r in load_results(output_dir) if Path(r["path"]) == run_dir.path)
        log(f"{run_id}: already complete in {run_dir.path} (use --force to run again)")
        return RunOutcome(run_dir.path, existing["metrics"], existing, reused=True)
    if force and run_dir.path.exists():
        run_dir.clear()
    run_dir.start({**hashed, "seed": config.seed})

    samples = dataset_spec.load(config.data_root, **dataset_options)
    start = time.perf_counter()
    data = prepare(samples, chain, model_spec.input_spec, cache_dir=cache_dir or default_cache_dir(),
                   workers=workers, progress=progress)
    preprocess_seconds = time.perf_counter() - start
    folds = loso_folds(data.subjects)
    log(f"{config.model} on {config.dataset}: {len(data)} samples, {len(folds)} subjects (LOSO folds), "
        f"{epochs} epochs, batch {config.batch_size}, {device_name(device)}, "
        f"{'bf16 autocast' if bf16 else 'fp32'}{', channels-last' if channels_last else ''}")
    if dataset_spec.describe_run is not None:
        note = dataset_spec.describe_run(dataset_options)
        if note:
            log(note)

    settings = TrainSettings(epochs=epochs, batch_size=config.batch_size, lr=config.lr, seed=config.seed,
                             device=device, bf16=bf16, channels_last=channels_last)
    build = lambda: model_spec.build(len(CLASSES), **config.model_options)  # noqa: E731
    build_for_training = (lambda: torch.compile(build())) if config.compile else build
    x, y = data.x.to(device), data.y.to(device)
    reset_peak_memory(device)
    records: dict[int, dict] = {}
    pending = []
    for fold in folds:
        record = run_dir.load_fold(fold.index)
        if record is not None and record.get("test_subject") == fold.test_subject:
            records[fold.index] = record
        else:
            pending.append(fold)
    resumed = len(records)
    group_size = 1
    if pending and fold_batch != "off":
        group_size = int(fold_batch) if fold_batch != "auto" else fold_batch_size(build, x, y, pending[0], settings,
                                                                                  len(pending))
    if group_size > 1:
        log(f"fold-batched training: {group_size} folds at a time")
    fold_bar = tqdm(total=len(folds), initial=resumed, desc="folds", unit="fold", disable=not progress)
    for start in range(0, len(pending), group_size):
        group = pending[start:start + group_size]
        fold_bar.set_postfix_str(", ".join(f.test_subject for f in group[:3]) + ("…" if len(group) > 3 else ""))
        epoch_bar = tqdm(total=epochs, desc=f"  {group[0].test_subject}", unit="epoch", leave=False,
                         disable=not progress)

        def on_epoch(epoch: int, loss: float) -> None:
            epoch_bar.set_postfix(loss=f"{loss:.3f}")
            epoch_bar.update()

        with Stopwatch(device) as watch:
            if len(group) == 1:
                models = [train_fold(build_for_training, x, y, group[0], settings, on_epoch)]
            else:
                models = train_folds_batched(build, x, y, group, settings, on_epoch)
        epoch_bar.close()
        for fold, model in zip(group, models):
            probabilities = predict(model, x, fold.test, settings)
            records[fold.index] = {
                "fold": fold.index, "test_subject": fold.test_subject,
                "train_seconds": watch.seconds / len(group), "folds_trained_together": len(group),
                "n_train": int(len(fold.train)), "n_test": int(len(fold.test)),
                "predictions": [
                    {"sample_id": data.sample_ids[i], "probabilities": probabilities[k].tolist()}
                    for k, i in enumerate(fold.test)
                ],
            }
            run_dir.save_fold(fold.index, records[fold.index])
        fold_bar.update(len(group))
        del models
    fold_bar.close()
    if resumed:
        log(f"resumed: {resumed} of {len(folds)} folds were already done and were not retrained")

    rows = []
    position = {sample_id: i for i, sample_id in enumerate(data.sample_ids)}
    for record in records.values():
        for prediction in record["predictions"]:
            i = position[prediction["sample_id"]]
            probabilities = np.asarray(prediction["probabilities"])
            rows.append({
                "sample_id": data.sample_ids[i], "dataset": data.datasets[i], "subject": data.subjects[i],
                "fold": record["fold"], "true_label": CLASSES[int(data.y[i])],
                "predicted_label": CLASSES[int(probabilities.argmax())],
                **{f"p_{name}": float(p) for name, p in zip(CLASSES, probabilities)},
            })
    predictions = pd.DataFrame(rows).sort_values("sample_id").reset_index(drop=True)
    if len(predictions) != len(data):
        raise RuntimeError(f"{len(predictions)} predictions for {len(data)} samples: folds are missing")
    metrics = pooled_metrics(predictions, CLASSES)

    torch.manual_seed(0)
    speed_model = build().to(device)
    if channels_last:
        speed_model = speed_model.to(memory_format=torch.channels_last)
    batch = x[: min(len(data), 32)].clone()
    if channels_last:
        batch = batch.contiguous(memory_format=torch.channels_last)
    throughput = inference_throughput(speed_model, batch, settings.autocast)
    train_seconds = [records[f.index]["train_seconds"] for f in folds]
    timing = {
        "train_seconds_per_fold": train_seconds,
        "train_seconds_per_fold_mean": float(np.mean(train_seconds)),
        "train_seconds_total": float(np.sum(train_seconds)),
        "preprocess_seconds": preprocess_seconds,
        **throughput.as_dict(),
        **peak_memory_bytes(device),
    }
    run_info = {
        "run_id": run_id,
        "model": config.model,
        "dataset": config.dataset,
        "seed": config.seed,
        "config": resolved,
        "config_hash": config_hash(hashed),
        "n_samples": len(data),
        "n_folds": len(folds),
        "parameters": int(sum(p.numel() for p in speed_model.parameters())),
        "input_spec": str(model_spec.input_spec),
        "timing": timing,
        "environment": environment(device_name(device)),
        "finished": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    }
    run_dir.write_outputs(run_info, predictions, metrics)
    return RunOutcome(run_dir.path, metrics, run_info, reused=False)
