"""Metrics from predictions pooled over all folds, aligned by sample id.

- accuracy: correct / total.
- UF1 (unweighted F1): the mean of per-class F1 over the classes present in the truth or the
  predictions of the evaluated set. This is what the MER literature (MEGC2019) calls UF1 and what
  we take the paper's ambiguous "F1" to mean.
- UAR (unweighted average recall): the mean of per-class recall over the classes present in the
  truth (a class nobody has cannot be recalled), i.e. balanced accuracy.
Multi-label (action-unit) tasks: each label is detected when its probability is at least 0.5 (a
logit of 0); per-label F1, precision and recall, and macro-F1, the mean F1 over the labels present in
the truth or the predictions (as UF1 over classes), all pooled over every fold's predictions (MEB's
notebooks also average per fold; the fold-mean macro-F1 is given beside, labelled as such). Every
multi-label block also holds MEB's two figures (``meb_label_figures``): ``macro_f1_all``, F1 averaged
over all the task's labels with 0 for a label without positives (MEB's per-database figure; mebench's
macro-F1 leaves such a label out), and ``macro_f1_pos_neg``, per label the mean of the positive and the
negative class's F1 (the figure MEB's notebooks print first); their fold means are in ``fold_mean``.
Pooled metrics are computed once over every prediction; the fold-mean accuracy is also given and
labelled as such, because averaging per-fold scores weights small subjects heavily.
Each pooled figure (overall and per source dataset) carries a 95 % interval from a subject-level
cluster bootstrap (:func:`mebench.statistics.subject_bootstrap`) under ``"ci"``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Sequence

import numpy as np
import pandas as pd
from sklearn.metrics import confusion_matrix, precision_recall_fscore_support
from tabulate import tabulate

from mebench.statistics import (EncodedLabels, EncodedPredictions, encode, encode_labels, label_cells,
                                label_metrics_from_counts, metrics_from_confusion, subject_bootstrap)

if TYPE_CHECKING:  # records read a block by its task kind's figures, so they sit above the kinds and this module
    from mebench.records import MetricBlock, Metrics

#: How a multi-label sample's labels are written in predictions.csv: ``AU4+AU12``; ``none`` for no label.
LABEL_SEPARATOR, NO_LABEL = "+", "none"
#: A label is detected where its probability is at least this (a logit of 0).
DETECTION_THRESHOLD = 0.5
#: MEB's figures of a multi-label block (``meb_label_figures``), beside mebench's ``macro_f1``.
MEB_LABEL_FIGURES = ("macro_f1_all", "macro_f1_pos_neg")


def join_labels(labels) -> str:
    return LABEL_SEPARATOR.join(labels) if len(labels) else NO_LABEL


def label_matrix(texts: Sequence[str], labels: Sequence[str]) -> np.ndarray:
    """(n, K) booleans from joined label sets (``AU4+AU12``, ``none``)."""
    index = {label: k for k, label in enumerate(labels)}
    matrix = np.zeros((len(texts), len(labels)), bool)
    for i, text in enumerate(texts):
        for label in ([] if text == NO_LABEL else str(text).split(LABEL_SEPARATOR)):
            if label not in index:
                raise ValueError(f"label {label!r} is not among the task's labels {list(labels)}")
            matrix[i, index[label]] = True
    return matrix


def label_metrics(truth: np.ndarray, predicted: np.ndarray, labels: Sequence[str]) -> dict[str, Any]:
    """Multi-label figures of (n, K) truth and predictions: macro-F1 and per label precision, recall,
    F1, support (positives in the truth) and the number predicted."""
    truth, predicted = np.asarray(truth, bool), np.asarray(predicted, bool)
    if truth.shape != predicted.shape or truth.shape[0] == 0:
        raise ValueError(f"need equally shaped, non-empty label matrices, got {truth.shape} and {predicted.shape}")
    precision, recall, f1, support = precision_recall_fscore_support(truth, predicted, average=None,
                                                                     zero_division=0)
    counts = label_cells(truth, predicted).sum(axis=0)
    return {
        "n": int(truth.shape[0]),
        "macro_f1": float(label_metrics_from_counts(counts, labels)["macro_f1"]),
        **meb_label_figures(truth, predicted),
        "per_class": {label: {"precision": float(precision[k]), "recall": float(recall[k]), "f1": float(f1[k]),
                              "support": int(support[k]), "predicted": int(predicted[:, k].sum())}
                      for k, label in enumerate(labels)},
    }


def meb_label_figures(truth: np.ndarray, predicted: np.ndarray) -> dict[str, float]:
    """MEB's two figures of (n, K) truth and predictions (``meb/utils/metrics.py``, ``MultiLabelF1Score``;
    ``meb/utils/utils.py``, ``Printer.results_to_list``: the mean over every one of the task's K labels):

    - ``macro_f1_all``: per label the positive class's F1 (``average="binary"``), 0 for a label with no
      positive in the truth nor the predictions (scikit-learn's zero-division value), averaged over all K;
    - ``macro_f1_pos_neg``: per label the mean F1 of the positive and the negative class
      (``average="macro"``, over the classes that occur in the truth or the predictions), averaged over all K.
    """
    truth, predicted = np.asarray(truth, bool), np.asarray(predicted, bool)
    tp, fp = (truth & predicted).sum(axis=0), (~truth & predicted).sum(axis=0)
    fn, tn = (truth & ~predicted).sum(axis=0), (~truth & ~predicted).sum(axis=0)

    def f1(hits: np.ndarray) -> np.ndarray:
        denominator = 2 * hits + fp + fn
        return np.where(denominator > 0, 2 * hits / np.maximum(denominator, 1), 0.0)

    positive, negative = tp + fp + fn > 0, tn + fp + fn > 0  # the classes that occur, per label
    pos_neg = (f1(tp) * positive + f1(tn) * negative) / np.maximum(positive.astype(int) + negative, 1)
    return {"macro_f1_all": float(f1(tp).mean()), "macro_f1_pos_neg": float(pos_neg.mean())}


def classification_metrics(y_true: Sequence[int], y_pred: Sequence[int], classes: Sequence[str]) -> dict[str, Any]:
    y_true, y_pred = np.asarray(y_true), np.asarray(y_pred)
    if y_true.shape != y_pred.shape or y_true.size == 0:
        raise ValueError(f"need equally long, non-empty label arrays, got {y_true.shape} and {y_pred.shape}")
    all_labels = list(range(len(classes)))
    precision, recall, f1, support = precision_recall_fscore_support(
        y_true, y_pred, labels=all_labels, zero_division=0)
    confusion = confusion_matrix(y_true, y_pred, labels=all_labels)
    return {
        "n": int(y_true.size),
        # the declared figures (mebench.statistics.METRICS), from the same counts every bootstrap draw uses
        **{name: float(value) for name, value in metrics_from_confusion(confusion).items()},
        "per_class": {
            name: {"precision": float(precision[i]), "recall": float(recall[i]), "f1": float(f1[i]),
                   "support": int(support[i])}
            for i, name in enumerate(classes)
        },
        "confusion_matrix": confusion.tolist(),
    }


def _interval_entry(result: dict[str, Any]) -> dict[str, Any]:
    """The ``"ci"`` entry of a metrics block: 95 % subject-level bootstrap intervals (2,000 resamples, seed 0)
    with the method, unit, count, seed and level recorded."""
    result.pop("estimate")
    return result


def encode_class_frames(frames: Sequence[pd.DataFrame], classes: Sequence[str], mask: np.ndarray | None = None
                        ) -> EncodedPredictions:
    """A single-label task's predictions of one or more seeds (frames aligned by sample id) encoded for the
    statistics (``mebench.tasks.SingleLabel.encode``)."""
    frame = frames[0]
    mask = np.ones(len(frame), bool) if mask is None else mask
    return encode(frame["true_label"][mask], np.stack([f["predicted_label"].to_numpy()[mask] for f in frames]),
                  frame["subject"][mask], classes)


def encode_label_frames(frames: Sequence[pd.DataFrame], labels: Sequence[str], mask: np.ndarray | None = None
                        ) -> EncodedLabels:
    """A multi-label task's predictions of one or more seeds encoded for the statistics
    (``mebench.tasks.MultiLabel.encode``)."""
    frame = frames[0]
    mask = np.ones(len(frame), bool) if mask is None else mask
    return encode_labels(label_matrix(frame["true_label"][mask].tolist(), labels),
                         np.stack([label_matrix(f["predicted_label"][mask].tolist(), labels) for f in frames]),
                         frame["subject"][mask], labels)


def class_bootstrap_ci(frame: pd.DataFrame, classes: Sequence[str]) -> dict[str, Any]:
    """``"ci"`` of a single-label block: accuracy, UF1 and UAR."""
    return _interval_entry(subject_bootstrap(encode_class_frames([frame], classes)))


def label_bootstrap_ci(frame: pd.DataFrame, labels: Sequence[str]) -> dict[str, Any]:
    """``"ci"`` of a multi-label block: macro-F1 and each label's F1."""
    return _interval_entry(subject_bootstrap(encode_label_frames([frame], labels)))


def pooled_class_metrics(predictions: pd.DataFrame, classes: Sequence[str]) -> dict[str, Any]:
    """Metrics of a single-label run from its per-sample predictions (columns: sample_id, dataset, subject,
    fold, true_label, predicted_label — labels as class names; ``mebench.tasks.SingleLabel.pooled``). Every
    block (``pooled`` and each ``per_dataset`` entry) has a ``ci`` entry (:func:`class_bootstrap_ci`)."""
    index = {name: i for i, name in enumerate(classes)}
    frame = _checked(predictions)
    y_true = frame["true_label"].map(index).to_numpy()
    y_pred = frame["predicted_label"].map(index).to_numpy()
    pooled = classification_metrics(y_true, y_pred, classes)
    result = {"classes": list(classes), "pooled": {**pooled, "ci": class_bootstrap_ci(frame, classes)}}
    datasets = sorted(frame["dataset"].unique())
    if len(datasets) > 1:
        result["per_dataset"] = {}
        for name in datasets:
            mask = (frame["dataset"] == name).to_numpy()
            block = classification_metrics(y_true[mask], y_pred[mask], classes)
            result["per_dataset"][name] = {**block, "ci": class_bootstrap_ci(frame[mask], classes)}
    fold_accuracy = (frame["true_label"] == frame["predicted_label"]).groupby(frame["fold"]).mean()
    result["fold_mean"] = {"accuracy": float(fold_accuracy.mean()), "accuracy_std": float(fold_accuracy.std(ddof=0)),
                           "folds": int(fold_accuracy.size),
                           "note": "mean of per-fold accuracies; not comparable with pooled figures"}
    return result


def pooled_label_metrics(predictions: pd.DataFrame, labels: Sequence[str]) -> dict[str, Any]:
    """The metrics of a multi-label run (``mebench.tasks.MultiLabel.pooled``): macro-F1 and per-label figures, pooled and per source
    dataset, with intervals; the fold-mean macro-F1 beside them."""
    frame = _checked(predictions)
    truth, predicted = label_matrix(frame["true_label"].tolist(), labels), label_matrix(frame["predicted_label"].tolist(), labels)
    result = {"classes": list(labels), "task": "multi-label",
              "pooled": {**label_metrics(truth, predicted, labels), "ci": label_bootstrap_ci(frame, labels)}}
    datasets = sorted(frame["dataset"].unique())
    if len(datasets) > 1:
        result["per_dataset"] = {}
        for name in datasets:
            mask = (frame["dataset"] == name).to_numpy()
            result["per_dataset"][name] = {**label_metrics(truth[mask], predicted[mask], labels),
                                           "ci": label_bootstrap_ci(frame[mask], labels)}
    folds = frame["fold"].to_numpy()
    per_fold = [float(label_metrics_from_counts(label_cells(truth[folds == f], predicted[folds == f]).sum(axis=0),
                                                labels)["macro_f1"]) for f in np.unique(folds)]
    meb = [meb_label_figures(truth[folds == f], predicted[folds == f]) for f in np.unique(folds)]
    result["fold_mean"] = {"macro_f1": float(np.mean(per_fold)), "macro_f1_std": float(np.std(per_fold)),
                           "folds": len(per_fold), "note": "mean of per-fold macro-F1; not comparable with pooled "
                                                           "figures",
                           # MEB's per-split figures and their mean (under LODO a fold is a database: MEB's
                           # "Datasets" row and its "Average")
                           **{name: float(np.mean([figures[name] for figures in meb]))
                              for name in MEB_LABEL_FIGURES}}
    return result


def _checked(predictions: pd.DataFrame) -> pd.DataFrame:
    """The predictions sorted by sample id, after checking their columns and that no sample repeats."""
    missing = {"sample_id", "dataset", "subject", "fold", "true_label", "predicted_label"} - set(predictions.columns)
    if missing:
        raise ValueError(f"predictions lack the columns {sorted(missing)}")
    if predictions["sample_id"].duplicated().any():
        duplicated = predictions.loc[predictions["sample_id"].duplicated(), "sample_id"].tolist()
        raise ValueError(f"samples predicted more than once: {duplicated[:5]}")
    return predictions.sort_values("sample_id")


# --- the summary printed at the end of a run --------------------------------------------------------------

def format_interval(value: float | None, interval: Sequence[float] | None = None) -> str:
    """``0.712 [0.664, 0.759]``; an empty string for a missing value."""
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return ""
    return f"{value:.3f}" + (f" [{interval[0]:.3f}, {interval[1]:.3f}]" if interval is not None else "")


def label_chance_level(pooled: MetricBlock) -> dict[str, float]:
    """What guessing scores on a multi-label task's samples: the macro-F1 of never detecting a label (0) and
    the expected macro-F1 of detecting each at random at its own prevalence p (F1 = p), over the labels
    present."""
    prevalence = np.array([c["support"] for c in pooled.per_class.values()], dtype=float) / max(pooled.n, 1)
    present = prevalence[prevalence > 0]
    return {"macro_f1_none": 0.0, "macro_f1_random": float(present.mean()) if present.size else 0.0}


def class_chance_level(pooled: MetricBlock) -> dict[str, float]:
    """What guessing scores on a single-label task's samples: the accuracy of always answering the most
    frequent class, and the expected UF1 and UAR of answering uniformly at random (UAR = 1/K; a class of
    prevalence p gets expected F1 2p(1/K)/(p + 1/K))."""
    support = np.array([c["support"] for c in pooled.per_class.values()], dtype=float)
    present = support[support > 0]
    prevalence, k = present / present.sum(), len(present)
    return {"accuracy": float(prevalence.max()), "uf1": float(np.mean(2 * prevalence / k / (prevalence + 1 / k))),
            "uar": 1.0 / k}


def class_metrics_report(metrics: Metrics, chance_line: str) -> str:
    """The table printed at the end of a single-label run: pooled and per-dataset figures with their 95 %
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
    fold_line = (f"\n\nfold-mean accuracy (not pooled): {100 * fold['accuracy']:.2f} ± "
                 f"{100 * fold['accuracy_std']:.2f} over {fold['folds']} folds" if fold else "")
    return f"{summary}{note}\n{chance_line}\n\n{per_class}\n\n{confusion}{fold_line}"


def label_metrics_report(metrics: Metrics, chance_line: str) -> str:
    """The table printed at the end of a multi-label run: macro-F1 per subset, then per label."""
    sections = [("all (pooled)", metrics.pooled)] + list(metrics.per_dataset.items())
    summary = tabulate([[name, block.n, format_interval(block.value("macro_f1"), block.interval("macro_f1"))]
                        + [format_interval(block.figures.get(figure)) for figure in MEB_LABEL_FIGURES]
                        for name, block in sections],
                       headers=["subset", "samples", "macro-F1", "MEB F1 (all labels)", "MEB pos/neg F1"],
                       tablefmt="github", disable_numparse=True)
    per_label = tabulate(
        [[name, f"{c['precision']:.3f}", f"{c['recall']:.3f}",
          format_interval(c["f1"], metrics.pooled.interval(f"f1_{name}")), c["support"], c["predicted"]]
         for name, c in metrics.pooled.per_class.items()],
        headers=["label", "precision", "recall", "F1", "positives", "detected"], tablefmt="github",
        disable_numparse=True)
    ci, fold = metrics.pooled.ci, metrics.fold_mean
    note = (f"\n[low, high]: {int(ci['level'] * 100)} % {ci['method']}, {ci['resamples']:,} resamples of "
            f"{ci['groups']} subjects" if ci else "")
    meb = (f"; MEB F1 (all labels) {fold['macro_f1_all']:.3f}, MEB pos/neg F1 {fold['macro_f1_pos_neg']:.3f}"
           if all(figure in fold for figure in MEB_LABEL_FIGURES) else "")
    return (f"{summary}{note}\n{chance_line}\n"
            f"macro-F1: mean F1 over the labels present in the truth or the predictions; MEB F1 (all labels): "
            f"MEB's, mean F1 over all {len(metrics.classes)} labels, 0 for a label without positives; MEB pos/neg "
            f"F1: MEB's, per label the mean of the positive and the negative class's F1\n\n{per_label}"
            + (f"\n\nfold-mean macro-F1 (not pooled): {fold['macro_f1']:.3f} ± {fold['macro_f1_std']:.3f} over "
               f"{fold['folds']} folds{meb}" if fold else ""))
