"""Summarise: fold records → predictions → metrics → files, with timing.

Predictions are aligned by sample id, never by position; a run is summarised only when its fold
records cover every evaluated sample exactly once.
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np
import pandas as pd
import torch

from mebench.data import PreparedData
from mebench.metrics import pooled_metrics
from mebench.hardware import describe_device, device_label
from mebench.plan import RunPlan
from mebench.preprocessing import config_hash
from mebench.results import RunDirectory, environment
from mebench.selection import oracle_records
from mebench.timing import inference_throughput, peak_memory_bytes


class IncompleteRunError(RuntimeError):
    """Fold records do not cover the evaluated samples."""


def predictions_frame(plan: RunPlan, data: PreparedData, records: dict[int, dict]) -> pd.DataFrame:
    """One row per evaluated sample: identity, fold, true and predicted label, class probabilities."""
    classes = plan.classes
    position = {sample_id: i for i, sample_id in enumerate(data.sample_ids)}
    rows = []
    for index in sorted(records):
        record = records[index]
        for prediction in record["predictions"]:
            i = position[prediction["sample_id"]]
            probabilities = np.asarray(prediction["probabilities"], dtype=float)
            rows.append({
                "sample_id": data.sample_ids[i], "dataset": data.datasets[i], "subject": data.subjects[i],
                "fold": record["fold"], "true_label": classes[int(data.y[i])],
                "predicted_label": classes[int(probabilities.argmax())],
                **{f"p_{name}": float(p) for name, p in zip(classes, probabilities)},
            })
    predictions = pd.DataFrame(rows)
    expected = sorted(data.sample_ids[i] for i in plan.evaluated)
    got = sorted(predictions["sample_id"]) if len(predictions) else []
    if got != expected:
        missing = sorted(set(expected) - set(got))
        raise IncompleteRunError(f"{plan.run_id}: {len(got)} predictions for {len(expected)} evaluated samples"
                                 + (f"; missing e.g. {missing[0]}" if missing else "; some predicted twice"))
    return predictions.sort_values("sample_id").reset_index(drop=True)


def measure_inference(plan: RunPlan, data: PreparedData) -> tuple[dict[str, Any], int]:
    """Inference frames per second of a fresh model (warm-up, synchronised) and its parameter count."""
    torch.manual_seed(0)
    model = plan.build_model().to(plan.device)
    batch = data.x[: min(len(data), 32)].to(plan.device).clone()
    if plan.settings.channels_last:
        model = model.to(memory_format=torch.channels_last)
        batch = batch.contiguous(memory_format=torch.channels_last)
    throughput = inference_throughput(model, batch, plan.settings.autocast)
    return throughput.as_dict(), int(sum(p.numel() for p in model.parameters()))


def summarise(plan: RunPlan, data: PreparedData, records: dict[int, dict], preprocess_seconds: float | None = None,
              ) -> tuple[pd.DataFrame, dict[str, Any], dict[str, Any]]:
    """(predictions, metrics, run_info) of a run whose fold records are all present."""
    if plan.config.selection == "test-oracle":
        # LEAKY: each fold scored at its best test epoch; the fixed-budget figure of the same run beside it
        truth = {sample_id: int(label) for sample_id, label in zip(data.sample_ids, data.y.tolist())}
        fixed_budget = pooled_metrics(predictions_frame(plan, data, records), plan.classes)
        records = oracle_records(records, truth)
    predictions = predictions_frame(plan, data, records)
    metrics = pooled_metrics(predictions, plan.classes)
    metrics["selection"] = plan.config.selection
    if plan.config.selection == "test-oracle":
        metrics["leaky"] = True
        metrics["fixed_budget"] = {"pooled": fixed_budget["pooled"], "note": "the same run scored at its last epoch"}
        metrics["oracle_inflation"] = {k: metrics["pooled"][k] - fixed_budget["pooled"][k]
                                       for k in ("accuracy", "uf1", "uar")}
    throughput, parameters = measure_inference(plan, data)
    hardware = describe_device(plan.device)  # once: on CUDA it asks nvidia-smi
    train_seconds = [records[f.index]["train_seconds"] for f in plan.folds]
    selected_epochs = {f.name: records[f.index]["selected_epoch"] for f in plan.folds
                       if "selected_epoch" in records[f.index]}
    timing = {
        "train_seconds_per_fold": train_seconds,
        "train_seconds_per_fold_mean": float(np.mean(train_seconds)),
        "train_seconds_total": float(np.sum(train_seconds)),
        "preprocess_seconds": preprocess_seconds,
        **throughput,
        **peak_memory_bytes(plan.device),
    }
    corrections = {s.id: list(s.corrections) for s in plan.samples if getattr(s, "corrections", ())}
    cropped = {s.id for s in plan.samples if getattr(s, "cropped", True) is False}
    run_info = {
        "run_id": plan.run_id,
        "model": plan.config.model,
        "dataset": plan.config.dataset,
        "protocol": plan.config.protocol,
        "selection": plan.config.selection,
        "leaky": plan.leaky,
        "seed": plan.config.seed,
        "config": plan.resolved,
        "config_hash": config_hash(plan.identity),
        "classes": list(plan.classes),
        "n_samples": len(plan.evaluated),
        "n_folds": len(plan.folds),
        "folds": [{"fold": f.index, "test_group": f.name, "n_train": int(len(f.train)), "n_test": int(len(f.test))}
                  for f in plan.folds],
        "parameters": parameters,
        "input_spec": str(plan.model_spec.input_spec),
        "timing": timing,
        "environment": environment(device_label(hardware), hardware),
        "selected_epochs": selected_epochs,
        "annotation_corrections": corrections,
        "face_crop": {"uncropped_samples": len(cropped),
                      "cropped": sum(bool(n.get("face_cropped")) for n in data.notes.values()),
                      "no_face_found": sorted(i for i, n in data.notes.items() if n.get("face_missed"))},
        "finished": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    }
    return predictions, metrics, run_info


def write_summary(plan: RunPlan, data: PreparedData, run_dir: RunDirectory, records: dict[int, dict],
                  preprocess_seconds: float | None = None) -> tuple[dict[str, Any], dict[str, Any]]:
    """Summarise and write predictions.csv, metrics.json and run.json (last: it marks completion)."""
    predictions, metrics, run_info = summarise(plan, data, records, preprocess_seconds)
    run_dir.write_outputs(run_info, predictions, metrics)
    return metrics, run_info
