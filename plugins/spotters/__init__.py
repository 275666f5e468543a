"""Hand-crafted spotters: they turn a long video into scored intervals without any training.

- ``mdmd``: main directional maximal difference (Wang et al. 2017) as the MEGC2020 organisers' baseline
  code runs it (He et al. 2020), the official spotting baseline of MEGC2020–2021.
- ``feature_difference``: LBP feature difference analysis (Moilanen et al. 2014).

Each module has ``spot(frames, fps, **options) -> [(onset, offset, score), …]``: ``frames`` a (T, H, W)
uint8 grey video of the face, intervals inclusive and counted in positions of ``frames`` (0-based; a
caller adds the video's first frame number), the declared ``OPTIONS`` (every threshold and length filter,
at the authors' values) and a ``CARD``. Neither is registered yet: a spotting task kind and its learners
come with the run path's task kinds.

This module holds what both share: the relative threshold, runs of frames, the flow estimators and the
option check.
"""

from __future__ import annotations

from typing import Any, Mapping, Sequence

import cv2
import numpy as np

from mebench.api import Option
from mebench.options import resolve_options

#: Optical flow estimators a spotter may use: ``rlof`` OpenCV's dense robust local optical flow (the
#: method of the MEGC2020 baseline's MATLAB code), ``tvl1`` OpenCV's Dual TV-L1, ``dis`` OpenCV's dense
#: inverse search (fast: over a hundred times quicker than the other two on a 227×227 face on one core).
FLOW_METHODS = ("rlof", "tvl1", "dis")

#: One spotted interval: inclusive onset and offset (positions in the video's frames) and a score.
Interval = tuple[int, int, float]


def resolve_spotter_options(given: Mapping[str, Any], declared: Sequence[Option], name: str) -> dict[str, Any]:
    """Every declared option of spotter ``name``, given or default; an unknown name or a value out of range is
    an ``OptionError`` of one line naming the option, what was given and what is allowed."""
    values, _ = resolve_options(given, declared, "--model-opt", f"spotter {name!r}")
    return values


def relative_threshold(scores: np.ndarray, p: float) -> float:
    """``mean + p · (max − mean)`` of the finite scores (the threshold rule of Moilanen et al. 2014, which the
    MDMD code keeps); NaN where there is no finite score."""
    finite = np.asarray(scores, dtype=np.float64)
    finite = finite[np.isfinite(finite)]
    if finite.size == 0:
        return float("nan")
    mean = float(finite.mean())
    return mean + p * (float(finite.max()) - mean)


def frame_runs(mask: np.ndarray) -> list[tuple[int, int]]:
    """The runs of consecutive true frames of ``mask`` as inclusive (first, last) positions."""
    mask = np.asarray(mask, dtype=bool)
    edges = np.diff(np.concatenate([[0], mask.astype(np.int8), [0]]))
    starts, stops = np.flatnonzero(edges == 1), np.flatnonzero(edges == -1) - 1
    return [(int(start), int(stop)) for start, stop in zip(starts, stops)]


def default_frames(seconds: float, fps: float) -> int:
    """``seconds`` at ``fps`` in whole frames, halves rounded up (as MATLAB's ``round``), at least 1."""
    return max(1, int(np.floor(seconds * fps + 0.5)))


def check_frames(frames: np.ndarray, min_size: int = 1) -> np.ndarray:
    """``frames`` as a (T, H, W) uint8 array of at least ``min_size`` × ``min_size`` pixels, or a ``ValueError``
    saying what was given."""
    frames = np.asarray(frames)
    if frames.ndim != 3 or frames.dtype != np.uint8:
        raise ValueError(f"a spotter takes a grey video as a (T, H, W) uint8 array; got {frames.dtype} of shape "
                         f"{frames.shape}")
    if min(frames.shape[1:]) < min_size:
        raise ValueError(f"this spotter needs frames of at least {min_size} × {min_size} pixels; got "
                         f"{frames.shape[1]} × {frames.shape[2]}")
    return frames


def optical_flow(first: np.ndarray, second: np.ndarray, method: str) -> np.ndarray:
    """Dense flow (H, W, 2: horizontal u, vertical v, pixels) from grey ``first`` to grey ``second``.

    ``rlof``: ``cv2.optflow.calcOpticalFlowDenseRLOF`` at every pixel (grid step 1) with the forward-backward
    check off, as the MEGC2020 code tracks every pixel with RLOF; it takes colour images, so the grey
    frames are given as three equal channels. ``tvl1``: OpenCV's Dual TV-L1 with its defaults. ``dis``:
    OpenCV's DIS at its ``MEDIUM`` preset."""
    if method == "rlof":
        flow = cv2.optflow.calcOpticalFlowDenseRLOF(
            cv2.cvtColor(first, cv2.COLOR_GRAY2BGR), cv2.cvtColor(second, cv2.COLOR_GRAY2BGR), None,
            gridStep=(1, 1), forwardBackwardThreshold=0)
    elif method == "tvl1":
        flow = cv2.optflow.DualTVL1OpticalFlow_create().calc(first, second, None)
    elif method == "dis":
        flow = cv2.DISOpticalFlow_create(cv2.DISOPTICAL_FLOW_PRESET_MEDIUM).calc(first, second, None)
    else:
        raise ValueError(f"flow must be one of {', '.join(FLOW_METHODS)}; got {method!r}")
    return np.asarray(flow, dtype=np.float64)
