"""Metrics from predictions pooled over all folds, aligned by sample id.

- accuracy: correct / total.
- UF1 (unweighted F1): the mean of per-class F1 over the classes present in the truth or the
  predictions of the evaluated set. This is what the MER literature (MEGC2019) calls UF1 and what
  we take the paper's ambiguous "F1" to mean.
- UAR (unweighted average recall): the mean of per-class recall over the classes present in the
  truth (a class nobody has cannot be recalled), i.e. balanced accuracy.
Pooled metrics are computed once over every prediction; the fold-mean accuracy is also given and
labelled as such, because averaging per-fold scores weights small subjects heavily.
"""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np
import pandas as pd
from sklearn.metrics import accuracy_score, confusion_matrix, f1_score, precision_recall_fscore_support


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


def pooled_metrics(predictions: pd.DataFrame, classes: Sequence[str]) -> dict[str, Any]:
    """Metrics of a run from its per-sample predictions (columns: sample_id, dataset, fold,
    true_label, predicted_label — labels as class names)."""
    if predictions["sample_id"].duplicated().any():
        duplicated = predictions.loc[predictions["sample_id"].duplicated(), "sample_id"].tolist()
        raise ValueError(f"samples predicted more than once: {duplicated[:5]}")
    index = {name: i for i, name in enumerate(classes)}
    frame = predictions.sort_values("sample_id")
    y_true = frame["true_label"].map(index).to_numpy()
    y_pred = frame["predicted_label"].map(index).to_numpy()
    result = {"classes": list(classes), "pooled": classification_metrics(y_true, y_pred, classes)}
    datasets = sorted(frame["dataset"].unique())
    if len(datasets) > 1:
        result["per_dataset"] = {
            name: classification_metrics(y_true[mask], y_pred[mask], classes)
            for name in datasets
            for mask in [(frame["dataset"] == name).to_numpy()]
        }
    fold_accuracy = (frame["true_label"] == frame["predicted_label"]).groupby(frame["fold"]).mean()
    result["fold_mean"] = {"accuracy": float(fold_accuracy.mean()), "accuracy_std": float(fold_accuracy.std(ddof=0)),
                           "folds": int(fold_accuracy.size),
                           "note": "mean of per-fold accuracies; not comparable with pooled figures"}
    return result
