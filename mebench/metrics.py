"""Metrics from predictions pooled over all folds, aligned by sample id.

- accuracy: correct / total.
- UF1 (unweighted F1): the mean of per-class F1 over the classes present in the truth or the
  predictions of the evaluated set. This is what the MER literature (MEGC2019) calls UF1 and what
  we take the paper's ambiguous "F1" to mean.
- UAR (unweighted average recall): the mean of per-class recall over the classes present in the
  truth (a class nobody has cannot be recalled), i.e. balanced accuracy.
Pooled metrics are computed once over every prediction; the fold-mean accuracy is also given and
labelled as such, because averaging per-fold scores weights small subjects heavily.
Each pooled figure (overall and per source dataset) carries a 95 % interval from a subject-level
cluster bootstrap (:func:`mebench.statistics.subject_bootstrap`) under ``"ci"``.
"""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np
import pandas as pd
from sklearn.metrics import accuracy_score, confusion_matrix, f1_score, precision_recall_fscore_support
from tabulate import tabulate

from mebench.records import MetricBlock, Metrics
from mebench.statistics import encode, subject_bootstrap


def classification_metrics(y_true: Sequence[int], y_pred: Sequence[int], classes: Sequence[str]) -> dict[str, Any]:
    y_true, y_pred = np.asarray(y_true), np.asarray(y_pred)
    if y_true.shape != y_pred.shape or y_true.size == 0:
        raise ValueError(f"need equally long, non-empty label arrays, got {y_true.shape} and {y_pred.shape}")
    all_labels = list(range(len(classes)))
    present = sorted(set(y_true.tolist()) | set(y_pred.tolist()))
    precision, recall, f1, support = precision_recall_fscore_support(
        y_true, y_pred, labels=all_labels, zero_division=0)
    return {
        "n": int(y_true.size),
        "accuracy": float(accuracy_score(y_true, y_pred)),
        "uf1": float(f1_score(y_true, y_pred, labels=present, average="macro", zero_division=0)),
        "uar": float(np.mean([recall[c] for c in sorted(set(y_true.tolist()))])),
        "per_class": {
            name: {"precision": float(precision[i]), "recall": float(recall[i]), "f1": float(f1[i]),
                   "support": int(support[i])}
            for i, name in enumerate(classes)
        },
        "confusion_matrix": confusion_matrix(y_true, y_pred, labels=all_labels).tolist(),
    }


def bootstrap_ci(frame: pd.DataFrame, classes: Sequence[str]) -> dict[str, Any]:
    """The ``"ci"`` entry of a metrics block: 95 % subject-level bootstrap intervals of accuracy,
    UF1 and UAR (2,000 resamples, seed 0) with the method, unit, count, seed and level recorded."""
    result = subject_bootstrap(encode(frame["true_label"], frame["predicted_label"], frame["subject"], classes))
    result.pop("estimate")
    return result


def pooled_metrics(predictions: pd.DataFrame, classes: Sequence[str]) -> dict[str, Any]:
    """Metrics of a run from its per-sample predictions (columns: sample_id, dataset, subject, fold,
    true_label, predicted_label — labels as class names). Every block (``pooled`` and each
    ``per_dataset`` entry) has a ``ci`` entry (:func:`bootstrap_ci`)."""
    missing = {"sample_id", "dataset", "subject", "fold", "true_label", "predicted_label"} - set(predictions.columns)
    if missing:
        raise ValueError(f"predictions lack the columns {sorted(missing)}")
    if predictions["sample_id"].duplicated().any():
        duplicated = predictions.loc[predictions["sample_id"].duplicated(), "sample_id"].tolist()
        raise ValueError(f"samples predicted more than once: {duplicated[:5]}")
    index = {name: i for i, name in enumerate(classes)}
    frame = predictions.sort_values("sample_id")
    y_true = frame["true_label"].map(index).to_numpy()
    y_pred = frame["predicted_label"].map(index).to_numpy()
    pooled = classification_metrics(y_true, y_pred, classes)
    result = {"classes": list(classes), "pooled": {**pooled, "ci": bootstrap_ci(frame, classes)}}
    datasets = sorted(frame["dataset"].unique())
    if len(datasets) > 1:
        result["per_dataset"] = {}
        for name in datasets:
            mask = (frame["dataset"] == name).to_numpy()
            block = classification_metrics(y_true[mask], y_pred[mask], classes)
            result["per_dataset"][name] = {**block, "ci": bootstrap_ci(frame[mask], classes)}
    fold_accuracy = (frame["true_label"] == frame["predicted_label"]).groupby(frame["fold"]).mean()
    result["fold_mean"] = {"accuracy": float(fold_accuracy.mean()), "accuracy_std": float(fold_accuracy.std(ddof=0)),
                           "folds": int(fold_accuracy.size),
                           "note": "mean of per-fold accuracies; not comparable with pooled figures"}
    return result


# --- the summary printed at the end of a run --------------------------------------------------------------

def format_interval(value: float | None, interval: Sequence[float] | None = None) -> str:
    """``0.712 [0.664, 0.759]``; an empty string for a missing value."""
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return ""
    return f"{value:.3f}" + (f" [{interval[0]:.3f}, {interval[1]:.3f}]" if interval is not None else "")


def chance_level(pooled: MetricBlock) -> dict[str, float]:
    """What guessing scores on these samples: the accuracy of always answering the most frequent
    class, and the expected UF1 and UAR of answering uniformly at random (UAR = 1/K; a class of
    prevalence p gets expected F1 2p(1/K)/(p + 1/K))."""
    support = np.array([c["support"] for c in pooled.per_class.values()], dtype=float)
    present = support[support > 0]
    prevalence, k = present / present.sum(), len(present)
    return {"accuracy": float(prevalence.max()), "uf1": float(np.mean(2 * prevalence / k / (prevalence + 1 / k))),
            "uar": 1.0 / k}


def chance_line(pooled: MetricBlock) -> str:
    chance = chance_level(pooled)
    return (f"chance: accuracy {chance['accuracy']:.3f} (always the most frequent class), "
            f"UF1 {chance['uf1']:.3f} and UAR {chance['uar']:.3f} (uniform guessing)")


def metrics_report(metrics: Metrics) -> str:
    """The table printed at the end of a run: pooled and per-dataset figures with their 95 %
    subject-level intervals where recorded, the chance level, then per class and the confusion matrix."""
    sections = [("all (pooled)", metrics.pooled)] + list(metrics.per_dataset.items())

    def cell(block: MetricBlock, metric: str) -> str:
        return format_interval(block.value(metric), block.interval(metric))

    summary = tabulate(
        [[name, block.n, cell(block, "accuracy"), cell(block, "uf1"), cell(block, "uar")] for name, block in sections],
        headers=["subset", "samples", "accuracy", "UF1", "UAR"], tablefmt="github", disable_numparse=True)
    per_class = tabulate(
        [[name, f"{c['precision']:.3f}", f"{c['recall']:.3f}", f"{c['f1']:.3f}", c["support"]]
         for name, c in metrics.pooled.per_class.items()],
        headers=["class", "precision", "recall", "F1", "support"], tablefmt="github", disable_numparse=True)
    confusion = tabulate([[f"true {c}"] + row for c, row in zip(metrics.classes, metrics.pooled.confusion_matrix)],
                         headers=[""] + [f"pred {c}" for c in metrics.classes], tablefmt="github")
    fold = metrics.fold_mean
    ci = metrics.pooled.ci
    note = (f"\n[low, high]: {int(ci['level'] * 100)} % {ci['method']}, {ci['resamples']:,} resamples of "
            f"{ci['groups']} subjects" if ci else "")
    return (f"{summary}{note}\n{chance_line(metrics.pooled)}\n\n{per_class}\n\n{confusion}\n\n"
            f"fold-mean accuracy (not pooled): {100 * fold['accuracy']:.2f} ± {100 * fold['accuracy_std']:.2f} "
            f"over {fold['folds']} folds")
