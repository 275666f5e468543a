"""Uncertainty and significance for pooled MER metrics, resampling subjects rather than samples.

Samples of one subject are not independent (same face, same session, same annotator), and the
composite's 68 subjects contribute from 1 to 26 samples each, so the unit of resampling is the
subject. Everything here works on per-subject confusion counts, which makes the bootstrap one
matrix product: a resample is a vector of how often each subject was drawn, and its confusion
matrix is that vector times the stacked per-subject matrices.

What a user may rely on:

- ``subject_bootstrap``: percentile intervals for accuracy, UF1 and UAR from ``resamples``
  draws of subjects with replacement (seeded, so repeatable). Metric definitions are those of
  :mod:`mebench.metrics`. With several seeds of one configuration (rows of ``predicted``), each
  resample draws subjects once, applies the draw to every seed and averages the seeds' metrics:
  the point estimate is the mean over seeds and the interval is the subject-sampling uncertainty
  of that mean.
- ``paired_bootstrap``: the same draw applied to two configurations on the same samples; the
  difference A − B with its percentile interval and a two-sided p-value from the centred
  bootstrap distribution (Hall & Wilson 1991: Δ* − Δ̂ stands in for the null distribution of Δ̂).
- ``mcnemar_exact``: McNemar's exact test on per-sample correctness (binomial on the discordant
  pairs, scipy).
- ``holm_adjust``: Holm's step-down adjustment of a family of p-values.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Any, Callable, Sequence

import numpy as np
from scipy.stats import binomtest

from mebench.spotting import TYPES, spotting_figures

DEFAULT_RESAMPLES = 2000
DEFAULT_LEVEL = 0.95
BOOTSTRAP_METHOD = "subject-level cluster bootstrap, percentile interval"
SEEDS_RULE = ("several seeds: every resample draws subjects once, applies that draw to each seed and averages the "
              "seeds' metrics, so a figure is the mean over seeds and its interval is the subject-sampling "
              "uncertainty of that mean (seed-to-seed spread: 'UF1 seed sd')")
PAIRED_METHOD = ("paired subject-level cluster bootstrap: percentile interval of the difference, two-sided p-value "
                 "from the bootstrap distribution centred on the null (Hall & Wilson 1991)")


class _GroupedSeeds:
    """What both encodings share: ``groups`` index the resampling unit, ``predicted`` has a seed axis first."""

    groups: np.ndarray
    predicted: np.ndarray

    @property
    def n_groups(self) -> int:
        return int(self.groups.max()) + 1

    @property
    def n_seeds(self) -> int:
        return int(self.predicted.shape[0])


@dataclass(frozen=True)
class EncodedPredictions(_GroupedSeeds):
    """Predictions of one configuration as integer codes, one column per sample.

    ``truth`` (n,) and ``predicted`` (seeds, n) index the task's classes; ``groups`` (n,) index
    the resampling unit (the subject). Several seeds share ``truth`` and ``groups``."""

    truth: np.ndarray
    predicted: np.ndarray
    groups: np.ndarray
    n_classes: int

    def __post_init__(self) -> None:
        predicted = np.atleast_2d(self.predicted)
        object.__setattr__(self, "predicted", predicted)
        n = self.truth.shape[0]
        if n == 0 or predicted.shape[1] != n or self.groups.shape != (n,):
            raise ValueError(f"need non-empty, equally long truth {self.truth.shape}, predictions "
                             f"{predicted.shape} and groups {self.groups.shape}")

    @property
    def metric_names(self) -> tuple[str, ...]:
        return METRIC_NAMES

    def group_counts(self) -> np.ndarray:
        """Per seed and group, the counts every metric is computed from: (seeds, groups, K, K) confusions."""
        return group_confusions(self)

    def metrics(self, counts: np.ndarray) -> dict[str, np.ndarray]:
        return metrics_from_confusion(counts)


def label_cells(truth: np.ndarray, predicted: np.ndarray) -> np.ndarray:
    """Per sample and label, whether it is a true positive, a false positive or a false negative: a 0/1
    stack on a new last axis (TP, FP, FN) of the boolean ``truth`` and ``predicted`` (broadcast)."""
    truth, predicted = np.asarray(truth, bool), np.asarray(predicted, bool)
    return np.stack([predicted & truth, predicted & ~truth, ~predicted & truth], axis=-1).astype(np.int64)


def label_metric_names(labels: Sequence[str]) -> tuple[str, ...]:
    """The figures of a multi-label task: ``macro_f1``, then ``f1_<label>`` for each label."""
    return ("macro_f1", *(f"f1_{label}" for label in labels))


@dataclass(frozen=True)
class EncodedLabels(_GroupedSeeds):
    """Multi-label predictions of one configuration (action units): ``truth`` (n, K) and ``predicted``
    (seeds, n, K) say whether each of the task's ``labels`` is present; ``groups`` (n,) index the
    resampling unit (the subject). Several seeds share ``truth`` and ``groups``."""

    truth: np.ndarray
    predicted: np.ndarray
    groups: np.ndarray
    labels: tuple[str, ...]

    def __post_init__(self) -> None:
        truth, predicted = np.asarray(self.truth, bool), np.asarray(self.predicted, bool)
        predicted = predicted[None] if predicted.ndim == 2 else predicted
        object.__setattr__(self, "truth", truth)
        object.__setattr__(self, "predicted", predicted)
        n, k = truth.shape[0], len(self.labels)
        if n == 0 or truth.shape != (n, k) or predicted.shape[1:] != (n, k) or self.groups.shape != (n,):
            raise ValueError(f"need non-empty truth {truth.shape} and predictions {predicted.shape} with "
                             f"{k} labels, and groups {self.groups.shape}")

    @property
    def metric_names(self) -> tuple[str, ...]:
        return label_metric_names(self.labels)

    def group_counts(self) -> np.ndarray:
        """(seeds, groups, K, 3): true positives, false positives and false negatives per label."""
        cells = label_cells(self.truth, self.predicted)  # (seeds, n, K, 3)
        counts = np.zeros((self.n_seeds, self.n_groups, len(self.labels), 3), np.int64)
        np.add.at(counts, (slice(None), self.groups), cells)
        return counts

    def metrics(self, counts: np.ndarray) -> dict[str, np.ndarray]:
        return label_metrics_from_counts(counts, self.labels)


def label_metrics_from_counts(counts: np.ndarray, labels: Sequence[str]) -> dict[str, np.ndarray]:
    """Per-label F1 = 2TP / (2TP + FP + FN) and their mean, macro-F1, from a (..., K, 3) stack of
    (TP, FP, FN). A label neither in the truth nor predicted has no F1 (NaN) and is left out of the
    mean, as UF1 leaves out such a class; macro-F1 is 0 when no label is."""
    counts = np.asarray(counts, dtype=np.float64)
    tp, fp, fn = counts[..., 0], counts[..., 1], counts[..., 2]
    denominator = 2 * tp + fp + fn
    with np.errstate(invalid="ignore", divide="ignore"):
        f1 = np.where(denominator > 0, 2 * tp / np.where(denominator > 0, denominator, 1), np.nan)
        present = denominator > 0
        macro = np.where(present.any(axis=-1), np.nansum(f1, axis=-1) / np.maximum(present.sum(axis=-1), 1), 0.0)
    return {"macro_f1": macro, **{f"f1_{label}": f1[..., k] for k, label in enumerate(labels)}}


def encode_labels(truth: np.ndarray, predicted: np.ndarray, groups: Sequence, labels: Sequence[str]) -> EncodedLabels:
    """Multi-label truth (n, K) and predictions ((seeds,) n, K) with arbitrary group labels (subject names)."""
    _, group_codes = np.unique(np.asarray(groups), return_inverse=True)
    return EncodedLabels(np.asarray(truth, bool), np.asarray(predicted, bool), group_codes.astype(np.int64),
                         tuple(labels))


Encoded = EncodedPredictions | EncodedLabels  # or EncodedCounts (declared below)


def encode(truth: Sequence, predicted: Sequence | Sequence[Sequence], groups: Sequence,
           classes: Sequence[str]) -> EncodedPredictions:
    """Encode class names (or indices) and arbitrary group labels (subject names) as integers."""
    index = {name: i for i, name in enumerate(classes)}

    def codes(values) -> np.ndarray:
        array = np.asarray(values)
        if array.dtype.kind in "iu":
            return array.astype(np.int64)
        unknown = sorted(set(array.ravel().tolist()) - set(index))
        if unknown:
            raise ValueError(f"labels {unknown[:5]} are not among the task's classes {list(classes)}")
        return np.vectorize(index.__getitem__, otypes=[np.int64])(array)

    _, group_codes = np.unique(np.asarray(groups), return_inverse=True)
    return EncodedPredictions(codes(truth), codes(predicted), group_codes.astype(np.int64), len(classes))


def group_confusions(data: EncodedPredictions) -> np.ndarray:
    """Confusion counts per seed and group: (seeds, groups, classes, classes), [true, predicted]."""
    k, s = data.n_classes, data.n_groups
    seeds = data.predicted.shape[0]
    cell = (data.groups * k + data.truth) * k + data.predicted  # (seeds, n) flat cell of each sample
    offset = np.arange(seeds)[:, None] * (s * k * k)
    counts = np.bincount((cell + offset).ravel(), minlength=seeds * s * k * k)
    return counts.reshape(seeds, s, k, k)


def _confusion_parts(confusion: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(hits, true count, predicted count) per class of a (..., K, K) stack of confusion counts [true, predicted]."""
    confusion = np.asarray(confusion, dtype=np.float64)
    return np.diagonal(confusion, axis1=-2, axis2=-1), confusion.sum(axis=-1), confusion.sum(axis=-2)


def accuracy_from_confusion(confusion: np.ndarray) -> np.ndarray:
    hits, true_count, _ = _confusion_parts(confusion)
    with np.errstate(invalid="ignore", divide="ignore"):
        return hits.sum(axis=-1) / true_count.sum(axis=-1)


def uf1_from_confusion(confusion: np.ndarray) -> np.ndarray:
    """Per-class F1 = 2·hits / (true + predicted), averaged over the classes present in truth or predictions."""
    hits, true_count, predicted_count = _confusion_parts(confusion)
    with np.errstate(invalid="ignore", divide="ignore"):
        present = (true_count + predicted_count) > 0
        f1 = np.where(present, 2 * hits / np.where(present, true_count + predicted_count, 1), 0.0)
        return f1.sum(axis=-1) / present.sum(axis=-1)


def uar_from_confusion(confusion: np.ndarray) -> np.ndarray:
    """Per-class recall averaged over the classes present in the truth."""
    hits, true_count, _ = _confusion_parts(confusion)
    with np.errstate(invalid="ignore", divide="ignore"):
        in_truth = true_count > 0
        recall = np.where(in_truth, hits / np.where(in_truth, true_count, 1), 0.0)
        return recall.sum(axis=-1) / in_truth.sum(axis=-1)


def _spotting_figure(name: str) -> Callable[[np.ndarray], np.ndarray]:
    """A spotting figure from (..., 2 types, 3 cells) counts: predictions, ground truth, found
    (``mebench.spotting.spotting_figures``)."""
    return lambda counts: spotting_figures(counts)[name]


def macro_f1_from_counts(counts: np.ndarray) -> np.ndarray:
    """Macro-F1 from a (..., K, 3) stack of per-label (TP, FP, FN): see ``label_metrics_from_counts``."""
    return label_metrics_from_counts(counts, range(np.shape(counts)[-2]))["macro_f1"]


def recognition_confusion(counts: np.ndarray, kind: str | None = None) -> np.ndarray:
    """The (..., K, K) confusion of the emotions recognised on spotted true positives from spot-then-recognise
    counts (..., 2 types, 3 + K·K cells: the spotting cells, then the K × K true-by-predicted emotion counts);
    ``kind`` one type (``me``, ``mae``) or None for both pooled."""
    counts = np.asarray(counts, dtype=float)
    k = int(round(np.sqrt(counts.shape[-1] - 3)))
    confusion = counts[..., 3:].reshape(*counts.shape[:-1], k, k)
    return confusion.sum(axis=-3) if kind is None else confusion[..., TYPES.index(kind), :, :]


def _recognition_figure(rule: Callable[[np.ndarray], np.ndarray], kind: str | None = None
                        ) -> Callable[[np.ndarray], np.ndarray]:
    """A recognition figure over the spotted true positives whose truth has an emotion: 0 where there is none
    (nothing found is nothing recognised)."""
    return lambda counts: np.nan_to_num(rule(recognition_confusion(counts, kind)), nan=0.0)


def _strs(kind: str | None = None) -> Callable[[np.ndarray], np.ndarray]:
    """STRS: spotting F1 × recognition F1 (UF1 on the true positives), per type or overall."""
    spotted, recognised = _spotting_figure(f"f1_{kind}" if kind else "f1"), _recognition_figure(uf1_from_confusion, kind)
    return lambda counts: spotted(counts) * recognised(counts)


@dataclass(frozen=True)
class Metric:
    """A declared figure: its name in records, its column label, which way is better, the task kinds it
    scores (``mebench.tasks``), and ``from_counts`` — the one definition of the figure, from the counts of
    the kind's encoding (a (..., K, K) confusion stack; per label (..., K, 3) TP, FP, FN), used for the point
    figure and every bootstrap draw alike. A figure with ``from_counts`` None is a point figure computed
    elsewhere from the decisions (MEB's two multi-label figures, ``mebench.metrics.meb_label_figures``): it
    gets no interval."""

    name: str
    label: str
    kinds: tuple[str, ...]
    definition: str
    from_counts: Callable[[np.ndarray], np.ndarray] | None = None
    higher_is_better: bool = True


#: Every figure mebench reports, in table order. Adding a metric is one more entry here.
METRICS: tuple[Metric, ...] = (
    Metric("accuracy", "accuracy", ("single-label",), "accuracy = correct / total", accuracy_from_confusion),
    Metric("uf1", "UF1", ("single-label",), "UF1 = mean per-class F1 over the classes present in truth or "
           "predictions", uf1_from_confusion),
    Metric("uar", "UAR", ("single-label",), "UAR = mean per-class recall over the classes present in the truth",
           uar_from_confusion),
    Metric("macro_f1", "macro-F1", ("multi-label",), "macro-F1 = mean F1 over the labels present in truth or "
           "predictions", macro_f1_from_counts),
    Metric("macro_f1_all", "MEB F1", ("multi-label",), "MEB F1 = mean F1 over all the task's labels, 0 for a label "
           "without positives"),
    Metric("macro_f1_pos_neg", "MEB pos/neg F1", ("multi-label",), "MEB pos/neg F1 = mean over the labels of the "
           "positive and the negative class's F1"),
    Metric("strs", "STRS", ("spot-then-recognise",), "STRS = spotting F1 × recognition UF1 (the spot-then-recognise "
           "score of MEAN and MEGC2023 onwards), overall and per type", _strs()),
    Metric("f1", "F1", ("intervals", "spot-then-recognise"), "F1 = 2PR / (P + R) from the TP, FP and FN pooled over "
           "both types (MEGC overall, not the mean of the two types' F1)", _spotting_figure("f1")),
    Metric("f1_me", "ME F1", ("intervals", "spot-then-recognise"), "ME F1 and MaE F1 the same per type (a prediction "
           "matches a ground-truth interval of its type in its video at IoU ≥ 0.5; TP = ground-truth intervals "
           "found, each once; FP = predictions − TP; FN = ground truth − TP; every video counts)",
           _spotting_figure("f1_me")),
    Metric("f1_mae", "MaE F1", ("intervals", "spot-then-recognise"), "", _spotting_figure("f1_mae")),
    Metric("recognition_uf1", "rec. UF1", ("spot-then-recognise",), "rec. UF1 and rec. UAR = UF1 and UAR of the "
           "emotions recognised on the spotted true positives whose ground truth has an emotion (MEAN's \"consider "
           "TP only\"; each found interval takes the emotion of its best-overlapping prediction)",
           _recognition_figure(uf1_from_confusion)),
    Metric("recognition_uar", "rec. UAR", ("spot-then-recognise",), "", _recognition_figure(uar_from_confusion)),
    Metric("strs_me", "ME STRS", ("spot-then-recognise",), "", _strs("me")),
    Metric("strs_mae", "MaE STRS", ("spot-then-recognise",), "", _strs("mae")),
)
METRIC_BY_NAME: dict[str, Metric] = {metric.name: metric for metric in METRICS}


def declared_metrics(kind: str, with_interval: bool = True) -> tuple[Metric, ...]:
    """The declared figures of a task kind (by name), those with an interval only unless told otherwise."""
    return tuple(m for m in METRICS if kind in m.kinds and (m.from_counts is not None or not with_interval))


def metric_names(kind: str) -> tuple[str, ...]:
    """The names of a kind's figures that get intervals, in table order."""
    return tuple(m.name for m in declared_metrics(kind))


def metric_labels(kind: str) -> dict[str, str]:
    """Column labels of every declared figure of a kind."""
    return {m.name: m.label for m in declared_metrics(kind, with_interval=False)}


#: The figures of a single-label task (accuracy, UF1, UAR) and their column labels.
METRIC_NAMES = metric_names("single-label")
METRIC_LABELS = metric_labels("single-label")


@dataclass(frozen=True)
class EncodedCounts:
    """Per seed and group, the counts a task kind's declared figures are computed from: ``counts`` (seeds,
    groups, ...), each figure by its declaration's ``from_counts`` (spotting: (…, 2 types, 3 cells))."""

    counts: np.ndarray
    kind: str

    @property
    def n_groups(self) -> int:
        return int(self.counts.shape[1])

    @property
    def n_seeds(self) -> int:
        return int(self.counts.shape[0])

    @property
    def metric_names(self) -> tuple[str, ...]:
        return metric_names(self.kind)

    @property
    def truth(self) -> np.ndarray:
        """What the answers are compared with, per group (spotting: the ground-truth intervals per type), for
        ``paired_bootstrap``'s check that two encodings score the same samples."""
        return self.counts[0, ..., 1]

    @property
    def groups(self) -> np.ndarray:
        return np.arange(self.n_groups)

    def group_counts(self) -> np.ndarray:
        return self.counts

    def metrics(self, counts: np.ndarray) -> dict[str, np.ndarray]:
        return {metric.name: metric.from_counts(counts) for metric in declared_metrics(self.kind)}


def metrics_from_confusion(confusion: np.ndarray) -> dict[str, np.ndarray]:
    """Accuracy, UF1 and UAR (the declared single-label figures) of every confusion matrix in a (..., K, K)
    stack. UF1 averages per-class F1 over the classes present in the truth or the predictions; UAR
    averages recall over the classes present in the truth."""
    return {metric.name: metric.from_counts(confusion) for metric in declared_metrics("single-label")}


def resample_counts(n_groups: int, resamples: int, seed: int) -> np.ndarray:
    """How often each group is drawn in each resample: (resamples, groups), rows sum to ``n_groups``."""
    rng = np.random.default_rng(seed)
    draws = rng.integers(0, n_groups, size=(resamples, n_groups))
    flat = draws + np.arange(resamples)[:, None] * n_groups
    return np.bincount(flat.ravel(), minlength=resamples * n_groups).reshape(resamples, n_groups)


def _resampled_metrics(data: Encoded, group_counts: np.ndarray, counts: np.ndarray) -> dict[str, np.ndarray]:
    """Seed-averaged metrics of each resample: (resamples,) per metric (NaN where a metric is undefined
    on every seed of a draw, e.g. the F1 of a label no drawn subject shows)."""
    seeds, groups, *cell = group_counts.shape
    stacked = np.moveaxis(group_counts, 1, 0).reshape(groups, -1)
    resampled = (counts @ stacked).reshape(-1, seeds, *cell)
    with np.errstate(invalid="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # a draw on which a label is undefined for every seed
        return {name: np.nanmean(values, axis=1) if np.isnan(values).any() else values.mean(axis=1)
                for name, values in data.metrics(resampled).items()}


def _interval(values: np.ndarray, level: float) -> list[float]:
    tail = (1 - level) / 2
    values = values[~np.isnan(values)]
    if values.size == 0:
        return [float("nan"), float("nan")]
    low, high = np.quantile(values, [tail, 1 - tail])
    return [float(low), float(high)]


def _point(data: Encoded, group_counts: np.ndarray) -> dict[str, float]:
    """Each metric pooled over all samples, averaged over seeds (NaN where undefined on every seed)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        return {name: float(np.nanmean(values)) for name, values in data.metrics(group_counts.sum(axis=1)).items()}


def subject_bootstrap(data: Encoded, resamples: int = DEFAULT_RESAMPLES, seed: int = 0,
                      level: float = DEFAULT_LEVEL) -> dict[str, Any]:
    """Point estimates and percentile intervals of the data's metrics (accuracy, UF1 and UAR; or
    macro-F1 and each label's F1), resampling groups.

    Returns ``{"estimate": {metric: float}, "<metric>": [low, high] for each metric, "method",
    "unit", "resamples", "seed", "level", "groups", "seeds"}``. The estimate is the mean over seeds
    of each seed's pooled metric."""
    group_counts = data.group_counts()
    point = _point(data, group_counts)
    resampled = _resampled_metrics(data, group_counts, resample_counts(data.n_groups, resamples, seed))
    return {
        "estimate": {name: point[name] for name in data.metric_names},
        **{name: _interval(resampled[name], level) for name in data.metric_names},
        "method": BOOTSTRAP_METHOD, "unit": "subject", "resamples": int(resamples), "seed": int(seed),
        "level": float(level), "groups": data.n_groups, "seeds": data.n_seeds,
    }


def paired_bootstrap(first: Encoded, second: Encoded, resamples: int = DEFAULT_RESAMPLES,
                     seed: int = 0, level: float = DEFAULT_LEVEL) -> dict[str, Any]:
    """Difference first − second of each metric, with a paired percentile interval and p-value.

    Both must hold the same samples in the same order with the same truth and groups (the
    caller aligns them by sample id). Every resample draws subjects once and scores both
    configurations on that draw. The two-sided p-value treats Δ* − Δ̂ as the null distribution
    of Δ̂: ``p = (1 + #{|Δ* − Δ̂| ≥ |Δ̂|}) / (B + 1)`` — 1 for identical configurations, never
    below 1 / (B + 1). (Counting the resamples where the sign flips instead would call a
    difference made by one or two subjects significant whenever they are seldom drawn.)"""
    if not (np.array_equal(first.truth, second.truth) and np.array_equal(first.groups, second.groups)):
        raise ValueError("paired comparison needs the same samples with the same labels and subjects")
    counts = resample_counts(first.n_groups, resamples, seed)
    first_counts, second_counts = first.group_counts(), second.group_counts()
    point_first, point_second = _point(first, first_counts), _point(second, second_counts)
    draws_first = _resampled_metrics(first, first_counts, counts)
    draws_second = _resampled_metrics(second, second_counts, counts)
    result: dict[str, Any] = {}
    for name in first.metric_names:
        delta = draws_first[name] - draws_second[name]
        observed = point_first[name] - point_second[name]
        # a tolerance keeps float noise in Δ* − Δ̂ from deciding ties (Δ̂ = 0 must give p = 1)
        extreme = np.abs(delta - observed) >= abs(observed) - 1e-12
        result[name] = {
            "delta": observed,
            "ci": _interval(delta, level),
            "p": float((1 + np.count_nonzero(extreme)) / (resamples + 1)),
        }
    result.update(method=PAIRED_METHOD, unit="subject", resamples=int(resamples), seed=int(seed), level=float(level))
    return result


@dataclass(frozen=True)
class McNemarResult:
    """``only_first``: samples the first got right and the second wrong; ``only_second``: the reverse."""

    only_first: int
    only_second: int
    p: float


def mcnemar_exact(first_correct: Sequence[bool], second_correct: Sequence[bool]) -> McNemarResult:
    """McNemar's exact test: under H0 a discordant sample is equally likely to favour either side,
    so the smaller discordant count is Binomial(b + c, 1/2); two-sided p (1 when nothing is discordant)."""
    first_correct, second_correct = np.asarray(first_correct, bool), np.asarray(second_correct, bool)
    if first_correct.shape != second_correct.shape:
        raise ValueError(f"need equally long correctness arrays, got {first_correct.shape} and {second_correct.shape}")
    only_first = int(np.count_nonzero(first_correct & ~second_correct))
    only_second = int(np.count_nonzero(~first_correct & second_correct))
    discordant = only_first + only_second
    p = 1.0 if discordant == 0 else float(binomtest(min(only_first, only_second), discordant, 0.5).pvalue)
    return McNemarResult(only_first, only_second, p)


def holm_adjust(p_values: Sequence[float]) -> np.ndarray:
    """Holm's step-down adjusted p-values (same order as given): reject H_i at α iff adjusted_i ≤ α.
    Controls the family-wise error rate under any dependence between the tests."""
    p = np.asarray(p_values, dtype=np.float64)
    m = p.size
    if m == 0:
        return p
    order = np.argsort(p)
    stepped = np.maximum.accumulate((m - np.arange(m)) * p[order])
    adjusted = np.empty(m)
    adjusted[order] = np.minimum(stepped, 1.0)
    return adjusted
