"""Summarise: fold records → predictions → metrics → a run record, with timing.

Predictions are aligned by sample id, never by position; a run is summarised only when its fold
records cover every evaluated sample exactly once.
"""

from __future__ import annotations

import time

import numpy as np
import pandas as pd

from mebench.data import PreparedData
from mebench.errors import IncompleteRunError
from mebench.hardware import describe_device, device_label
from mebench.run.plan import RunPlan
from mebench.run.preprocessing import summarise_notes
from mebench.records import FoldRecord, Metrics, RunRecord, Timing
from mebench.identity import config_hash, environment
from mebench.results import PredictionsTable
from mebench.run.selection import oracle_records
from mebench.timing import peak_memory_bytes


def predictions_frame(plan: RunPlan, data: PreparedData, records: dict[int, FoldRecord]) -> pd.DataFrame:
    """One row per evaluated sample: identity, fold, true and predicted label as the task kind writes them
    (``TaskKind.truth_text``, ``answer_text``: a class; a multi-label task's labels present and those detected,
    joined, ``AU4+AU12``, ``none``), and each class's (label's) probability."""
    classes, kind = plan.classes, plan.kind
    position = {sample_id: i for i, sample_id in enumerate(data.sample_ids)}
    rows = []
    for index in sorted(records):
        record = records[index]
        for prediction in record.predictions:
            i = position[prediction.sample_id]
            probabilities = np.asarray(prediction.probabilities, dtype=float)
            truth = kind.truth_text(data.y[i].tolist(), classes, plan.samples[i])
            predicted = kind.answer_text(probabilities, classes)
            rows.append({
                "sample_id": data.sample_ids[i], "dataset": data.datasets[i], "subject": data.subjects[i],
                "fold": record.fold, "true_label": truth, "predicted_label": predicted,
                **kind.answer_columns(probabilities, classes),
            })
    predictions = PredictionsTable.build(rows, kind, classes).frame  # sorted by sample id
    expected = sorted(data.sample_ids[i] for i in plan.evaluated)
    got = predictions["sample_id"].tolist()
    if got != expected:
        missing = sorted(set(expected) - set(got))
        raise IncompleteRunError(f"{plan.run_id}: {len(got)} predictions for {len(expected)} evaluated samples"
                                 + (f"; missing e.g. {missing[0]}" if missing else "; some predicted twice"))
    return predictions


def run_metrics(plan: RunPlan, data: PreparedData, records: dict[int, FoldRecord]
                ) -> tuple[pd.DataFrame, Metrics, dict[int, FoldRecord]]:
    """(predictions, metrics, the records scored): under the LEAKY test-oracle rule each fold is scored
    at its best test epoch, with the same run's fixed-budget figures (its last epoch) and the inflation
    beside them."""
    kind = plan.kind
    # a learner without epochs (a spotter) chose on the test videos as it ran: its records are scored as they are
    by_epoch = plan.config.selection == "test-oracle" and plan.learner.has_epochs
    if by_epoch:
        truth = {sample_id: np.asarray(label) for sample_id, label in zip(data.sample_ids, data.y.tolist())}
        fixed_budget = kind.pooled(predictions_frame(plan, data, records), plan.classes)
        records = oracle_records(records, truth, kind)
    predictions = predictions_frame(plan, data, records)
    metrics = Metrics.from_json(kind.pooled(predictions, plan.classes))
    metrics.selection = plan.config.selection
    if plan.config.selection == "test-oracle":
        metrics.leaky = True
    if by_epoch:
        metrics.fixed_budget = {"pooled": fixed_budget["pooled"], "note": "the same run scored at its last epoch"}
        metrics.oracle_inflation = {k: metrics.pooled.value(k) - fixed_budget["pooled"][k]
                                    for k in metrics.figure_names}
    return predictions, metrics, records


def summarise(plan: RunPlan, data: PreparedData, records: dict[int, FoldRecord],
              preprocess_seconds: float | None = None) -> tuple[pd.DataFrame, RunRecord]:
    """(predictions, run record) of a run whose fold records are all present."""
    predictions, metrics, records = run_metrics(plan, data, records)
    throughput, parameters = plan.learner.measure(plan, data, records)
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
        face_crop={"uncropped_samples": len(cropped), **summarise_notes(plan.chain, data.notes)},
        finished=time.strftime("%Y-%m-%dT%H:%M:%S%z"), learner=plan.learner.name)
    return predictions, record
