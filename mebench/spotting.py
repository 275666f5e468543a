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
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping, Sequence

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


SPOTTING_METRICS = ("f1", "f1_me", "f1_mae")


@dataclass(frozen=True)
class EncodedSpotting:
    """Spotting counts of one configuration for the bootstrap: (seeds, groups, 2 types, 3 cells)."""

    counts: np.ndarray

    @property
    def n_groups(self) -> int:
        return int(self.counts.shape[1])

    @property
    def n_seeds(self) -> int:
        return int(self.counts.shape[0])

    @property
    def metric_names(self) -> tuple[str, ...]:
        return SPOTTING_METRICS

    def group_counts(self) -> np.ndarray:
        return self.counts

    def metrics(self, counts: np.ndarray) -> dict[str, np.ndarray]:
        figures = spotting_figures(counts)
        return {name: figures[name] for name in SPOTTING_METRICS}


@dataclass(frozen=True)
class Spotted:
    """One interval: the video, inclusive frames and the type (``me`` or ``mae``)."""

    video: str
    onset: int
    offset: int
    type: str


def video_counts(predicted: Sequence[Spotted], truth: Sequence[Spotted], videos: Sequence[str],
                 threshold: float = DEFAULT_IOU) -> np.ndarray:
    """(videos, 2 types, 3 cells): per video and type, the predictions, the ground truth and what was found."""
    index = {video: i for i, video in enumerate(videos)}
    counts = np.zeros((len(videos), len(TYPES), len(CELLS)), np.int64)
    by_key: dict[tuple[int, int], tuple[list, list]] = {}
    for cell, intervals in ((0, predicted), (1, truth)):
        for interval in intervals:
            key = (index[interval.video], TYPES.index(interval.type))
            by_key.setdefault(key, ([], []))[cell].append((interval.onset, interval.offset))
    for (video, kind), (guesses, answers) in by_key.items():
        counts[video, kind] = (len(guesses), len(answers), found_intervals(guesses, answers, threshold))
    return counts


def group_rows(counts: np.ndarray, groups: Sequence[int], n_groups: int) -> np.ndarray:
    """Per-video counts summed into their groups (subjects): (groups, 2, 3)."""
    summed = np.zeros((n_groups, *counts.shape[1:]), counts.dtype)
    np.add.at(summed, np.asarray(groups), counts)
    return summed


def pooled_counts(counts: np.ndarray) -> Mapping[str, dict[str, int]]:
    """TP, FP, FN, predictions and ground truth per type and overall from (videos, 2, 3) counts."""
    result = {}
    for name, cells in [*((kind, counts[:, index].sum(axis=0)) for index, kind in enumerate(TYPES)),
                        ("overall", counts.sum(axis=(0, 1)))]:
        predictions, truth, found = (int(value) for value in cells)
        result[name] = {"tp": found, "fp": predictions - found, "fn": truth - found, "predictions": predictions,
                        "truth": truth}
    return result
