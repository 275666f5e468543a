"""Spotting scored by the MEGC rule, exactly as the challenge organisers' code computes it.

The MEGC2020 organisers' scorer (``MDMD_results/result_helper.py`` of
HeyingGithub/Baseline-project-for-MEGC2020_spotting: ``calc_iou`` and ``pred_clips_analysis``), which the
later challenges kept:

- Intervals are inclusive frame ranges ``[onset, offset]``. Their IoU is ``calc_iou``'s: the
  intersection is ``max(0, min(offsets) - max(onsets)) + 1`` frames and the union the two lengths
  less it; an interval with ``offset <= onset`` (a single frame) has IoU 0 with everything. Two
  quirks follow and are kept, so figures agree with the challenge's: intervals that touch in one frame
  share that frame, and intervals that do not overlap at all still share "one frame" (``[1, 5]`` and
  ``[10, 15]``: IoU 1/10), which matters only for thresholds below about 0.2.
- A prediction matches a ground-truth interval of the same type (ME or MaE) in the same video when
  their IoU is at least the threshold (0.5). TP is the number of ground-truth intervals found, each
  once however many predictions match it; FP = predictions − TP; FN = ground truth − TP (the
  organisers' ``N_find_labels`` and ``precision_small``). A prediction that matches two ground-truth
  intervals finds both, so TP can exceed the predictions of a video and FP be negative; the report
  says so where it happens.
- Precision TP / predictions, recall TP / ground truth, F1 = 2·P·R / (P + R), 0 where a count is 0.
  Per type, and overall from the counts pooled over both types (not the mean of two F1s). Every video
  of the set counts, including videos without any expression: their predictions are all FP.

Intervals come from a subject-level cluster bootstrap (:func:`mebench.statistics.subject_bootstrap`),
resampling subjects (or videos, where the ground truth names no subjects) with every video of a drawn
subject.

Beside the MEGC rule, and not in its place: COCO-style AP@[.5:.95] of scored predictions as SOFTNet and MEAN
print it (:func:`coco_average_precision`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping, Sequence

import numpy as np

#: Expression types, in the order of the count arrays: micro- and macro-expressions.
TYPES = ("me", "mae")
TYPE_LABELS = {"me": "ME", "mae": "MaE", "overall": "overall"}
DEFAULT_IOU = 0.5
#: The count cells of one (group, type): predictions, ground-truth intervals, ground-truth intervals found.
CELLS = ("predictions", "truth", "found")


def megc_iou(first: tuple[int, int], second: tuple[int, int]) -> float:
    """IoU of two inclusive frame intervals as the MEGC organisers' ``calc_iou`` computes it (see the module)."""
    intersection = max(0, min(first[1], second[1]) - max(first[0], second[0])) + 1
    union = (first[1] - first[0] + 1) + (second[1] - second[0] + 1) - intersection
    if first[1] <= first[0] or second[1] <= second[0] or union <= 0:
        return 0.0
    return intersection / union


def found_intervals(predicted: Sequence[tuple[int, int]], truth: Sequence[tuple[int, int]],
                    threshold: float = DEFAULT_IOU) -> int:
    """How many of ``truth`` some prediction matches (IoU ≥ threshold), each counted once."""
    return sum(any(megc_iou(p, t) >= threshold for p in predicted) for t in truth)


def spotting_figures(counts: np.ndarray) -> dict[str, np.ndarray]:
    """F1, precision and recall per type and overall from counts (..., 2 types, 3 cells)."""
    counts = np.asarray(counts, dtype=float)
    figures = {}
    for name, cells in [*((kind, counts[..., index, :]) for index, kind in enumerate(TYPES)),
                        ("overall", counts.sum(axis=-2))]:
        predictions, truth, found = cells[..., 0], cells[..., 1], cells[..., 2]
        with np.errstate(invalid="ignore", divide="ignore"):
            precision = np.where(predictions > 0, found / predictions, 0.0)
            recall = np.where(truth > 0, found / truth, 0.0)
            f1 = np.where(precision + recall > 0, 2 * precision * recall / (precision + recall), 0.0)
        suffix = "" if name == "overall" else f"_{name}"
        figures.update({f"f1{suffix}": f1, f"precision{suffix}": precision, f"recall{suffix}": recall})
    return figures


@dataclass(frozen=True)
class Spotted:
    """One interval: the video, inclusive frames and the type (``me`` or ``mae``); a prediction may carry a
    ``score`` (its confidence, which ranks it for :func:`coco_average_precision`), the ground truth does not."""

    video: str
    onset: int
    offset: int
    type: str
    score: float | None = None
    #: Spot-then-recognise: the emotion recognised (a prediction) or annotated (the truth; None where it has none
    #: among the task's emotions).
    emotion: str | None = None


def recognised_pairs(predicted: Sequence[tuple[int, int, str | None]], truth: Sequence[tuple[int, int, str | None]],
                     threshold: float = DEFAULT_IOU) -> list[tuple[str, str | None]]:
    """(true emotion, recognised emotion) of each ground-truth interval found that has an emotion: the emotion of
    the prediction overlapping it most (by ``megc_iou``; the first given on a tie), as MEAN scores recognition on
    the spotted true positives only. Each ground-truth interval is found once, as the MEGC rule counts it."""
    pairs = []
    for onset, offset, emotion in truth:
        overlaps = [megc_iou((p[0], p[1]), (onset, offset)) for p in predicted]
        best = int(np.argmax(overlaps)) if overlaps else -1
        if emotion is not None and best >= 0 and overlaps[best] >= threshold:
            pairs.append((emotion, predicted[best][2]))
    return pairs


def video_counts(predicted: Sequence[Spotted], truth: Sequence[Spotted], videos: Sequence[str],
                 threshold: float = DEFAULT_IOU, emotions: Sequence[str] | None = None) -> np.ndarray:
    """(videos, 2 types, 3 cells): per video and type, the predictions, the ground truth and what was found.
    With ``emotions`` (spot-then-recognise) each (video, type) also holds the K × K counts of true by recognised
    emotion on the true positives (``recognised_pairs``), flattened after the three cells: (videos, 2, 3 + K·K)."""
    index = {video: i for i, video in enumerate(videos)}
    width = len(CELLS) + (len(emotions) ** 2 if emotions is not None else 0)
    counts = np.zeros((len(videos), len(TYPES), width), np.int64)
    by_key: dict[tuple[int, int], tuple[list, list]] = {}
    for cell, intervals in ((0, predicted), (1, truth)):
        for interval in intervals:
            key = (index[interval.video], TYPES.index(interval.type))
            by_key.setdefault(key, ([], []))[cell].append((interval.onset, interval.offset, interval.emotion))
    for (video, kind), (guesses, answers) in by_key.items():
        frames = [(onset, offset) for onset, offset, _ in guesses]
        counts[video, kind, :3] = (len(guesses), len(answers),
                                   found_intervals(frames, [(onset, offset) for onset, offset, _ in answers], threshold))
        if emotions is not None:
            confusion = counts[video, kind, 3:].reshape(len(emotions), len(emotions))
            for true, recognised in recognised_pairs(guesses, answers, threshold):
                if recognised in emotions:
                    confusion[emotions.index(true), emotions.index(recognised)] += 1
    return counts


def group_rows(counts: np.ndarray, groups: Sequence[int], n_groups: int) -> np.ndarray:
    """Per-video counts summed into their groups (subjects): (groups, 2, cells)."""
    summed = np.zeros((n_groups, *counts.shape[1:]), counts.dtype)
    np.add.at(summed, np.asarray(groups), counts)
    return summed


def pooled_counts(counts: np.ndarray) -> Mapping[str, dict[str, int]]:
    """TP, FP, FN, predictions and ground truth per type and overall from (videos, 2, 3) counts."""
    result = {}
    for name, cells in [*((kind, counts[:, index].sum(axis=0)) for index, kind in enumerate(TYPES)),
                        ("overall", counts.sum(axis=(0, 1)))]:
        predictions, truth, found = (int(value) for value in cells[:3])
        result[name] = {"tp": found, "fp": predictions - found, "fn": truth - found, "predictions": predictions,
                        "truth": truth}
    return result


# --- COCO-style AP@[.5:.95], as the spotting repositories' vendored detection package prints it --------------

#: The IoU thresholds of AP@[.5:.95] as SOFTNet and MEAN pass them: ``np.round(np.arange(0.5, 1.0, 0.05), 2)``.
COCO_IOU_THRESHOLDS: tuple[float, ...] = tuple(np.round(np.arange(0.5, 1.0, 0.05), 2).tolist())
AP_LABEL = "AP@[.5:.95] (COCO-style, as SOFTNet/MEAN print it; not the MEGC rule)"


def detection_iou(first: tuple[int, int], second: tuple[int, int]) -> float:
    """IoU of two inclusive frame intervals as the vendored package's ``compute_iou`` gives it for the boxes
    ``[onset, 0, offset, 0]`` SOFTNet and MEAN build: shared frames (0 where they share none) over the frames of
    either. Unlike :func:`megc_iou`, disjoint intervals have IoU 0 and a single-frame interval is one frame."""
    intersection = max(min(first[1], second[1]) - max(first[0], second[0]) + 1, 0)
    union = (first[1] - first[0] + 1) + (second[1] - second[0] + 1) - intersection
    return intersection / union


def _ranked_outcomes(predicted: Sequence[Spotted], truth: Sequence[Spotted], threshold: float) -> np.ndarray:
    """True where a prediction (in order of falling score) is a true positive: ``check_box`` with
    ``mpolicy="soft"``, per video — the unmatched ground truth of highest IoU at or above the threshold."""
    answers: dict[str, list[tuple[int, int]]] = {}
    for interval in truth:
        answers.setdefault(interval.video, []).append((interval.onset, interval.offset))
    matched: dict[str, set[int]] = {video: set() for video in answers}
    outcomes = np.zeros(len(predicted), bool)
    # sorted() is stable: equal scores keep the file's order (MEAN's order; SOFTNet leaves ties to pandas)
    for rank, guess in enumerate(sorted(predicted, key=lambda interval: -interval.score)):
        candidates = answers.get(guess.video, [])
        ious = [detection_iou((guess.onset, guess.offset), answer) for answer in candidates]
        # ``np.argsort(iou)[::-1]``: highest IoU first, of equal ones the later ground truth first
        for index in sorted(range(len(ious)), key=lambda i: (ious[i], i), reverse=True):
            if ious[index] < threshold:
                break
            if index not in matched[guess.video]:
                matched[guess.video].add(index)
                outcomes[rank] = True
                break
    return outcomes


def _all_point_average_precision(outcomes: np.ndarray, n_truth: int) -> float:
    """``compute_precision_recall`` and ``compute_average_precision`` (all points, no recall thresholds): the
    area under the precision envelope, the curve padded with (recall 0, precision 0) and (1, 0)."""
    tp, fp = np.cumsum(outcomes, dtype=float), np.cumsum(~outcomes, dtype=float)
    recall = np.concatenate(([0.0], tp / max(float(n_truth), 1.0), [1.0]))
    precision = np.concatenate(([0.0], tp / np.maximum(tp + fp, np.finfo(np.float64).eps), [0.0]))
    precision = np.maximum.accumulate(precision[::-1])[::-1]
    steps = np.flatnonzero(recall[1:] != recall[:-1])
    return float(np.sum((recall[steps + 1] - recall[steps]) * precision[steps + 1]))


def average_precision(predicted: Sequence[Spotted], truth: Sequence[Spotted], threshold: float) -> float:
    """AP of one type's scored predictions against that type's ground truth at one IoU threshold (see
    :func:`coco_average_precision`); every prediction needs a ``score``."""
    return _all_point_average_precision(_ranked_outcomes(predicted, truth, threshold), len(truth))


def coco_average_precision(predicted: Sequence[Spotted], truth: Sequence[Spotted],
                           thresholds: Sequence[float] = COCO_IOU_THRESHOLDS) -> dict[str, Any]:
    """COCO-style AP@[.5:.95] per type, as SOFTNet and MEAN print it ("COCO AP@[.5:.95]") — not the MEGC rule.

    Both vendor Sergei Belousov's ``mean_average_precision`` package (MIT) as
    ``Utils/mean_average_precision/mean_average_precision/`` (``mean_average_precision_2d.py``, ``utils.py``) in
    genbing99/SoftNet-SpotME (commit dd43d1e1d5ae471998ceb3be3177e2d9517c58fd, printed by ``training.py``'s
    ``final_evaluation``) and genbing99/MEAN_Spot-then-recognize (commit 9009b5cbe83f6555957ea6aa8176477ec49ae756,
    ``train_evaluate.py``), each calling ``MeanAveragePrecision2d(num_classes=1).value(iou_thresholds=
    np.round(np.arange(0.5, 1.0, 0.05), 2), mpolicy='soft')['mAP']`` once per expression type. Computed here as
    there: an interval is the box ``[onset, 0, offset, 0]`` (IoU :func:`detection_iou`); a video is an image and
    the type (ME, MaE) the class; predictions of all videos are taken in order of falling score, each matched to
    the unmatched ground truth of its video of highest IoU at or above the threshold (the ``soft`` policy: one whose
    best ground truth is taken tries the next), else a false positive; precision and recall along that ranking;
    AP the area under the all-point precision envelope (``compute_average_precision``, no 11-point sampling);
    AP@[.5:.95] its mean over the 10 thresholds 0.5, 0.55, …, 0.95. A ground truth is found at most once, a
    prediction finds at most one, and every video counts: a prediction where its type has no ground truth is a
    false positive.

    Where mebench departs: equal scores keep the given order (MEAN skips the sort, SOFTNet's pandas sort leaves
    ties in no documented order, and both give every interval the score 0); AP is kept in float64 where the package
    stores float32 (differences below 1e-7); a type without ground-truth intervals has AP ``None`` (undefined: the
    package gives 0). ``overall`` is the mean of the types' AP@[.5:.95] that are defined — the package's mAP over
    the two classes where both have ground truth; SOFTNet and MEAN print one type at a time.

    Returns ``{"me": {"ap": …, "by_iou": {"0.5": …, …}}, "mae": {…}, "overall": …, "iou_thresholds": […]}``.
    """
    if any(interval.score is None for interval in predicted):
        raise ValueError("AP ranks predictions by score: every predicted interval needs one")
    result: dict[str, Any] = {}
    for kind in TYPES:
        answers = [interval for interval in truth if interval.type == kind]
        if not answers:
            result[kind] = {"ap": None, "by_iou": {f"{t:g}": None for t in thresholds}}
            continue
        guesses = [interval for interval in predicted if interval.type == kind]
        by_iou = {f"{t:g}": average_precision(guesses, answers, t) for t in thresholds}
        result[kind] = {"ap": float(np.mean(list(by_iou.values()))), "by_iou": by_iou}
    defined = [result[kind]["ap"] for kind in TYPES if result[kind]["ap"] is not None]
    result["overall"] = float(np.mean(defined)) if defined else None
    result["iou_thresholds"] = [float(t) for t in thresholds]
    return result
