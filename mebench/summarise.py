"""Summarise: fold records → predictions → metrics → a run record, with timing.

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
from mebench.errors import IncompleteRunError
from mebench.estimators import Predictor, count_parameters, fit_estimator
from mebench.hardware import describe_device, device_label
from mebench.metrics import DETECTION_THRESHOLD, join_labels, pooled_metrics
from mebench.plan import RunPlan
from mebench.records import FoldRecord, Metrics, RunRecord, Timing
from mebench.results import config_hash, environment
from mebench.selection import oracle_records
from mebench.timing import inference_throughput, peak_memory_bytes


def predictions_frame(plan: RunPlan, data: PreparedData, records: dict[int, FoldRecord]) -> pd.DataFrame:
    """One row per evaluated sample: identity, fold, true and predicted label, class probabilities. A
    multi-label task writes the labels present and those detected (probability ≥ 0.5), joined
    (``AU4+AU12``, ``none``), and each label's probability."""
    classes = plan.classes
    position = {sample_id: i for i, sample_id in enumerate(data.sample_ids)}
    rows = []
    for index in sorted(records):
        record = records[index]
        for prediction in record.predictions:
            i = position[prediction.sample_id]
            probabilities = np.asarray(prediction.probabilities, dtype=float)
            if data.multilabel:
                truth = join_labels([c for c, present in zip(classes, data.y[i].tolist()) if present])
                predicted = join_labels([c for c, p in zip(classes, probabilities) if p >= DETECTION_THRESHOLD])
            else:
                truth, predicted = classes[int(data.y[i])], classes[int(probabilities.argmax())]
            rows.append({
                "sample_id": data.sample_ids[i], "dataset": data.datasets[i], "subject": data.subjects[i],
                "fold": record.fold, "true_label": truth, "predicted_label": predicted,
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
    """Inference frames per second of a fresh model (warm-up, synchronised) and its parameter count.
    An estimator is timed the same way once fitted on the first fold's training samples, and counts
    the parameters its card defines (``mebench.estimators.count_parameters``)."""
    if plan.estimator:
        first = plan.folds[0]
        estimator = fit_estimator(plan.build_model, data.x, data.y, first.train, plan.settings.fold_seed(first.index))
        throughput = inference_throughput(Predictor(estimator), data.x[: min(len(data), 32)].clone())
        return throughput.as_dict(), count_parameters(estimator)
    torch.manual_seed(0)
    model = plan.build_model().to(plan.device)
    batch = data.x[: min(len(data), 32)].to(plan.device).clone()
    if plan.settings.channels_last:
        model = model.to(memory_format=torch.channels_last)
        batch = batch.contiguous(memory_format=torch.channels_last)
    throughput = inference_throughput(model, batch, plan.settings.autocast)
    return throughput.as_dict(), int(sum(p.numel() for p in model.parameters()))


def run_metrics(plan: RunPlan, data: PreparedData, records: dict[int, FoldRecord]
                ) -> tuple[pd.DataFrame, Metrics, dict[int, FoldRecord]]:
    """(predictions, metrics, the records scored): under the LEAKY test-oracle rule each fold is scored
    at its best test epoch, with the same run's fixed-budget figures (its last epoch) and the inflation
    beside them."""
    multilabel = data.multilabel
    if plan.config.selection == "test-oracle":
        truth = {sample_id: np.asarray(label) for sample_id, label in zip(data.sample_ids, data.y.tolist())}
        fixed_budget = pooled_metrics(predictions_frame(plan, data, records), plan.classes, multilabel)
        records = oracle_records(records, truth)
    predictions = predictions_frame(plan, data, records)
    metrics = Metrics.from_json(pooled_metrics(predictions, plan.classes, multilabel))
    metrics.selection = plan.config.selection
    if plan.config.selection == "test-oracle":
        metrics.leaky = True
        metrics.fixed_budget = {"pooled": fixed_budget["pooled"], "note": "the same run scored at its last epoch"}
        metrics.oracle_inflation = {k: metrics.pooled.value(k) - fixed_budget["pooled"][k]
                                    for k in metrics.figure_names}
    return predictions, metrics, records


def landmark_counts(notes: dict[str, dict]) -> dict[str, Any]:
    """``{"landmarks": {"detected", "fallback", "fallback_samples"}}`` where a chain detected facial landmarks
    (its samples carry a ``landmarks_fallback`` note: True where the detector found no face and the fixed
    landmarks were used); empty for any other chain."""
    noted = {sample_id: n["landmarks_fallback"] for sample_id, n in notes.items() if "landmarks_fallback" in n}
    if not noted:
        return {}
    fallback = sorted(sample_id for sample_id, used in noted.items() if used)
    return {"landmarks": {"detected": len(noted) - len(fallback), "fallback": len(fallback),
                          "fallback_samples": fallback}}


def summarise(plan: RunPlan, data: PreparedData, records: dict[int, FoldRecord],
              preprocess_seconds: float | None = None) -> tuple[pd.DataFrame, RunRecord]:
    """(predictions, run record) of a run whose fold records are all present."""
    predictions, metrics, records = run_metrics(plan, data, records)
    throughput, parameters = measure_inference(plan, data)
    hardware = describe_device(plan.device)  # once: on CUDA it asks nvidia-smi
    timing = Timing(train_seconds_per_fold=[records[f.index].train_seconds for f in plan.folds],
                    preprocess_seconds=preprocess_seconds, **throughput, **peak_memory_bytes(plan.device))
    cropped = {s.id for s in plan.samples if s.cropped is False}
    record = RunRecord(
        run_id=plan.run_id, model=plan.config.model, dataset=plan.config.dataset, seed=plan.config.seed,
        config=plan.resolved, config_hash=config_hash(plan.identity), metrics=metrics, timing=timing,
        parameters=parameters, environment=environment(device_label(hardware), hardware),
        protocol=plan.config.protocol, selection=plan.config.selection, classes=list(plan.classes),
        n_samples=len(plan.evaluated), n_folds=len(plan.folds),
        folds=[{"fold": f.index, "test_group": f.name, "n_train": int(len(f.train)), "n_test": int(len(f.test))}
               for f in plan.folds],
        input_spec=str(plan.model_spec.input_spec),
        selected_epochs={f.name: records[f.index].selected_epoch for f in plan.folds
                         if records[f.index].selected_epoch is not None},
        annotation_corrections={s.id: list(s.corrections) for s in plan.samples if s.corrections},
        face_crop={"uncropped_samples": len(cropped),
                   "cropped": sum(bool(n.get("face_cropped")) for n in data.notes.values()),
                   "no_face_found": sorted(i for i, n in data.notes.items() if n.get("face_missed")),
                   **landmark_counts(data.notes)},
        finished=time.strftime("%Y-%m-%dT%H:%M:%S%z"), learner="estimator" if plan.estimator else "net")
    return predictions, record
