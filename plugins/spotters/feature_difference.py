"""LBP feature difference analysis (Moilanen, Zhao & Pietikäinen 2014), which Li et al.'s MESR system (IEEE
Transactions on Affective Computing) uses as its spotting stage.

No published code was found; mebench builds it from the description:

1. The face split into blocks (6 × 6); per frame and block an LBP histogram (``lbp_histograms``).
2. For every frame i with k frames on each side, per block the χ² distance between frame i's histogram and
   the mean of the histograms of frames i − k and i + k (the "average feature frame"); k = (N − 1) / 2 for
   an interval of N frames, N = 9 at 25 fps and 21 at 60 fps in the publications.
3. The frame's feature F: the mean of its M largest block distances (M = 12, a third of 36).
4. The contrast ``C(i) = F(i) − (F(i − k) + F(i + k)) / 2``, negative values set to 0.
5. The threshold ``mean(C) + p · (max(C) − mean(C))``; the peaks of C above it, at least ``peak_distance``
   frames apart (the larger kept), are spotted frames; each becomes the interval [peak − k, peak + k]
   (clipped to the video), scored with its contrast.

What the card could not confirm from the publications' text is said there (``CARD.identification``).
"""

from __future__ import annotations

from typing import Any

import numpy as np
from scipy.signal import find_peaks

from mebench.api import Fidelity, ModelCard, Option, Reference
from mebench_plugins.preprocessors.features import CODE_TABLES, block_edges, uniform_code_table
from mebench_plugins.spotters import (Interval, check_frames, default_frames, relative_threshold,
                                      resolve_spotter_options)

#: k = (N − 1) / 2 in seconds: round(fps / 6) gives N = 2k + 1 = 9 frames at 25 fps and 21 at 60 fps.
K_SECONDS = 1 / 6

OPTIONS = (
    Option("k", int, None, "frames between the current frame and the two it is compared with; default "
                           "round(fps / 6): N = 2k + 1 = 9 at 25 fps and 21 at 60 fps, the published intervals",
           minimum=1),
    Option("p", float, 0.05, "threshold mean + p · (max − mean) of the contrast; the publications sweep p, so "
                             "0.05 is ours (choosing it on the evaluated videos is leaky)", minimum=0.0, maximum=1.0),
    Option("blocks", int, 6, "the face split into blocks × blocks", minimum=1),
    Option("top_blocks", int, 12, "M: the feature is the mean of the M largest block distances (a third of 36)",
           minimum=1),
    Option("points", int, 8, "LBP neighbours P", minimum=1, maximum=16),
    Option("radius", float, 3.0, "LBP radius, pixels (neighbours rounded to the nearest pixel)", minimum=1.0),
    Option("codes", str, "uniform", "LBP codes counted: uniform (uniform-2 bins) or basic (2^P)",
           choices=CODE_TABLES),
    Option("peak_distance", int, None, "fewest frames between two spotted peaks; default k", minimum=1),
)


def lbp_codes(frames: np.ndarray, points: int, radius: float) -> np.ndarray:
    """The LBP code of every pixel of each (H, W) frame whose neighbourhood lies inside it: neighbour p at
    angle 2πp/P is (x + r cos, y − r sin), rounded to the nearest pixel as in ``features.lbp_top_codes``; bit p
    set when the neighbour ≥ the centre. (T, H − 2b, W − 2b) with b = ⌈r⌉."""
    frames = np.asarray(frames, dtype=np.int16)
    _, height, width = frames.shape
    border = int(np.ceil(radius))
    centre = frames[:, border:height - border, border:width - border]
    codes = np.zeros(centre.shape, dtype=np.int64)
    for p in range(points):
        angle = 2 * np.pi * p / points
        dy, dx = (int(np.floor(value + 0.5)) for value in (-radius * np.sin(angle), radius * np.cos(angle)))
        neighbour = frames[:, border + dy:height - border + dy, border + dx:width - border + dx]
        codes |= (neighbour >= centre).astype(np.int64) << p
    return codes


def lbp_histograms(frames: np.ndarray, blocks: int = 6, points: int = 8, radius: float = 3.0,
                   codes: str = "uniform") -> np.ndarray:
    """Per frame and block the histogram of the LBP codes of the block's centre pixels, normalised to sum 1:
    (T, blocks², bins), blocks row-major over ``features.block_edges`` of the whole frame."""
    table = uniform_code_table(points) if codes == "uniform" else np.arange(2**points)
    labels = table[lbp_codes(frames, points, radius)]
    count, height, width = np.asarray(frames).shape
    border = int(np.ceil(radius))
    rows = np.searchsorted(block_edges(height, blocks), np.arange(border, height - border), side="right") - 1
    cols = np.searchsorted(block_edges(width, blocks), np.arange(border, width - border), side="right") - 1
    block = rows[:, None] * blocks + cols[None, :]
    bins = int(table.max()) + 1
    index = (np.arange(count)[:, None, None] * blocks * blocks + block[None]) * bins + labels
    histograms = np.bincount(index.ravel(), minlength=count * blocks * blocks * bins).astype(np.float64)
    histograms = histograms.reshape(count, blocks * blocks, bins)
    totals = histograms.sum(axis=2, keepdims=True)
    return histograms / np.where(totals > 0, totals, 1)


def chi_squared(first: np.ndarray, second: np.ndarray) -> np.ndarray:
    """χ² distance ``Σ (a − b)² / (a + b)`` over the last axis; bins empty in both count 0."""
    total = first + second
    with np.errstate(divide="ignore", invalid="ignore"):
        terms = np.where(total > 0, (first - second) ** 2 / total, 0.0)
    return terms.sum(axis=-1)


def feature_difference_scores(frames: np.ndarray, k: int, blocks: int = 6, top_blocks: int = 12, points: int = 8,
                              radius: float = 3.0, codes: str = "uniform") -> np.ndarray:
    """F of every frame of a (T, H, W) uint8 video: the mean of the ``top_blocks`` largest block χ² distances
    between the frame and the mean of frames i − k and i + k; (T,), NaN for the first and last k frames."""
    frames = check_frames(frames)
    histograms = lbp_histograms(frames, blocks, points, radius, codes)
    scores = np.full(len(frames), np.nan)
    if len(frames) > 2 * k:
        current = histograms[k:len(frames) - k]
        average = (histograms[:len(frames) - 2 * k] + histograms[2 * k:]) / 2
        distances = np.sort(chi_squared(current, average), axis=1)[:, ::-1]
        scores[k:len(frames) - k] = distances[:, :top_blocks].mean(axis=1)
    return scores


def feature_difference_contrast(scores: np.ndarray, k: int) -> np.ndarray:
    """``C(i) = F(i) − (F(i − k) + F(i + k)) / 2``, negative values 0, at frames 2k … T − 2k − 1; NaN elsewhere."""
    scores = np.asarray(scores, dtype=np.float64)
    contrast = np.full(len(scores), np.nan)
    frames = np.arange(2 * k, len(scores) - 2 * k)
    contrast[frames] = np.maximum(scores[frames] - (scores[frames - k] + scores[frames + k]) / 2, 0.0)
    return contrast


def threshold_peaks(contrast: np.ndarray, p: float, distance: int) -> list[int]:
    """The frames where the contrast has a peak strictly above ``mean + p · (max − mean)``, at least
    ``distance`` frames apart (of two closer peaks the larger is kept: ``scipy.signal.find_peaks``)."""
    threshold = relative_threshold(contrast, p)
    if not np.isfinite(threshold):
        return []
    filled = np.nan_to_num(np.asarray(contrast, dtype=np.float64), nan=-np.inf)
    peaks, _ = find_peaks(filled, height=np.nextafter(threshold, np.inf), distance=max(1, distance))
    return [int(peak) for peak in peaks]


def spot(frames: np.ndarray, fps: float, **options: Any) -> list[Interval]:
    """Spotted intervals of a (T, H, W) uint8 face video at ``fps``: inclusive 0-based (peak − k, peak + k,
    contrast at the peak), clipped to the video. ``options``: ``OPTIONS``, checked first."""
    values = resolve_spotter_options(options, OPTIONS, "feature_difference")
    frames = check_frames(frames)
    k = values["k"] or default_frames(K_SECONDS, fps)
    scores = feature_difference_scores(frames, k, values["blocks"], values["top_blocks"], values["points"],
                                       values["radius"], values["codes"])
    contrast = feature_difference_contrast(scores, k)
    peaks = threshold_peaks(contrast, values["p"], values["peak_distance"] or k)
    return [(max(0, peak - k), min(len(frames) - 1, peak + k), float(contrast[peak])) for peak in peaks]


CARD = ModelCard(
    source=Reference("Moilanen, A.; Zhao, G.; Pietikäinen, M.",
                     "Spotting Rapid Facial Movements from Videos Using Appearance-Based Feature Difference Analysis",
                     "ICPR 2014, 1722–1727", 2014),
    code=(),
    fidelity=Fidelity.RECONSTRUCTED,
    fidelity_detail="no published code found; built from the method's description: block LBP histograms, χ² distance "
                    "between the current frame and the mean of the frames k before and after, the mean of the M "
                    "largest block distances, the contrast against the frames k away with negatives set to 0, "
                    "threshold mean + p · (max − mean) and peaks above it",
    input_chain="grey face frames of one long video, cropped and aligned once per video by the preprocessing",
    identification="confirmed from a secondary description of the method (a thesis chapter on micro-movement "
                   "detection, 1library.net/article/feature-difference-measures-micro-movement-detection-temporal-"
                   "features.qv96rp0y): k = (N − 1) / 2 with N odd, N = 9 for SMIC at 25 fps and 21 for "
                   "CASME at 60 fps, and the comparison with the average of the k-th frames before and after. Not "
                   "confirmed against the papers' text here and therefore options: the 6 × 6 blocks and M = 12, "
                   "the LBP settings (P = 8, radius 3, uniform-2 codes), the χ² form, the peak spacing (k) and p "
                   "(the publications sweep p; 0.05 is ours)",
    deviations=(
        "the publications spot frames (a peak counts when it falls inside an annotated interval, widened by a "
        "margin); for the MEGC interval rule each peak becomes the N-frame interval [peak − k, peak + k]",
        "LBP neighbours are rounded to the nearest pixel as in mebench's LBP-TOP (no bilinear interpolation)",
        "no figures on this card: the publications' figures are for spotted frames in other databases (SMIC "
        "and CASME at 25 and 60 fps), not MEGC interval F1 on long videos",
    ),
)
