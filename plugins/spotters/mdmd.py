"""MDMD: main directional maximal difference (Wang et al. 2017) as the MEGC2020 baseline code runs it.

The organisers' code (HeyingGithub/Baseline-project-for-MEGC2020_spotting: ``MDMD_codes/MDMD.m`` and
``cmd.m``, ``MDMD_results/MDMDmat_to_txt.m`` and ``evaluation_all_p.py``) does, per video and separately
for micro- (ME) and macro-expressions (MaE), each with its own frame distance k:

1. For every frame i with k frames on each side: the flow from frame i − k to frame i ("near") and from
   frame i − k to frame i + k ("far"), RLOF at every pixel (``RLOF_fun.m``, grid step 1).
2. The face split into 6 × 6 blocks of ⌊H/6⌋ × ⌊W/6⌋ pixels (the pixels left over at the bottom and right
   belong to no block). Per block, the orientation of the near flow, ``atan(u ./ v)`` in degrees, sorted
   into four directions [0, 90), [90, 180), [−180, −90), [−90, 0); the direction with the most pixels
   (the first on a tie) is the main direction. For its pixels, the near flow's magnitude less the far
   flow's; the mean of the largest third (``round(m/3)`` of the m pixels). Note ``atan`` (not ``atan2``)
   of u/v lies in [−90°, 90°]: the second direction only ever holds exactly 90° and the third none, and
   0/0 (no motion) is NaN, in no direction. mebench keeps all of this.
3. The frame's feature: the mean of the largest third of the 36 block values (12).
4. The contrast at frame i: ``f(i) − (f(i − m) + f(i + m)) / 2`` with m = k − 1, for the frames the
   script's loop covers (1-based 2k … T − 4k + 1: the last 2k frames where the contrast could be computed
   are not, as in ``cmd.m``); no clipping of negative values.
5. The threshold ``mean(C) + p · (max(C) − mean(C))`` (p = 0.01 is the published one); frames with C above
   it are spotted, runs of spotted frames are intervals (``MDMDmat_to_txt.m``) and intervals outside
   the length bounds are dropped (``evaluation_all_p.py``: ME 7–16 frames on CAS(ME)², 47–105 on SAMM Long
   Videos; MaE 17 or more and 106 or more).

The authors' k (12 and 39 frames at 30 fps, 80 and 260 at 200 fps) are 0.4 s and 1.3 s; their length
bounds are reproduced at both rates by 0.235 s and 0.525 s (rounded halves up). At other rates the
defaults follow those seconds, which no publication states (see ``CARD``).
"""

from __future__ import annotations

from typing import Any, Callable

import numpy as np

from mebench.api import CodeLocation, Fidelity, ModelCard, Option, Reference, ReportedFigures
from mebench_plugins.spotters import (FLOW_METHODS, Interval, check_frames, default_frames, frame_runs,
                                      optical_flow, relative_threshold, resolve_spotter_options)

#: The orientation bins of ``MDMD.m``, in degrees: [0, 90), [90, 180), [−180, −90), [−90, 0).
DIRECTIONS = ((0.0, 90.0), (90.0, 180.0), (-180.0, -90.0), (-90.0, 0.0))
#: Seconds that give the authors' frame counts at 30 fps (CAS(ME)²) and 200 fps (SAMM Long Videos).
K_SECONDS = {"me": 0.4, "mae": 1.3}  # k: 12 / 39 frames at 30 fps, 80 / 260 at 200 fps
ME_SHORTEST_SECONDS, ME_LONGEST_SECONDS = 0.235, 0.525  # ME 7–16 frames at 30 fps, 47–105 at 200 fps
#: The smallest face OpenCV's RLOF (and DIS) take at their default pyramid depths; the authors' faces are 227 × 227.
MIN_FACE_SIZE = 40

OPTIONS = (
    Option("expression", str, "me", "which expressions to spot: each has its own k and length bounds",
           choices=("me", "mae")),
    Option("k", int, None, "frame distance of the flows; default round(0.4 s · fps) for ME, round(1.3 s · fps) "
                           "for MaE: the authors' 12 / 39 at 30 fps and 80 / 260 at 200 fps", minimum=1),
    Option("p", float, 0.01, "threshold mean + p · (max − mean) of the contrast (the published p; choosing it on "
                             "the evaluated videos is leaky)", minimum=0.0, maximum=1.0),
    Option("min_length", int, None, "shortest interval kept, frames; default round(0.235 s · fps) for ME (7 at "
                                    "30 fps, 47 at 200 fps) and the ME longest + 1 for MaE (17, 106)", minimum=1),
    Option("max_length", int, None, "longest interval kept, frames, 0 for no bound; default round(0.525 s · fps) "
                                    "for ME (16 at 30 fps, 105 at 200 fps), none for MaE", minimum=0),
    Option("blocks", int, 6, "the face split into blocks × blocks", minimum=1),
    Option("flow", str, "rlof", "optical flow: rlof (the authors' method), tvl1, dis (fast)", choices=FLOW_METHODS),
    Option("halve_k", bool, True, "halve k while the video is shorter than 6k frames (cmd.m's auto_k)"),
)


def default_lengths(expression: str, fps: float) -> tuple[int, int]:
    """(shortest, longest) interval kept at ``fps`` by the authors' rule; longest 0: no bound."""
    longest_me = default_frames(ME_LONGEST_SECONDS, fps)
    if expression == "me":
        return default_frames(ME_SHORTEST_SECONDS, fps), longest_me
    return longest_me + 1, 0


def _mean_of_largest_third(values: np.ndarray) -> float:
    """The mean of the ``round(n/3)`` largest values (MATLAB's ``round``; n/3 never ends in a half); 0 where
    that is none (the authors' MATLAB gives NaN)."""
    count = int(np.floor(len(values) / 3 + 0.5))
    if count == 0:
        return 0.0
    return float(np.sort(values)[::-1][:count].mean())


def main_directional_difference(near: np.ndarray, far: np.ndarray, blocks: int = 6) -> float:
    """The MDMD feature of one frame from its near (i − k → i) and far (i − k → i + k) flows, (H, W, 2) each:
    per block, the mean of the largest third of (near − far magnitude) over the main direction's pixels;
    then the mean of the largest third of the blocks' values."""
    u, v = near[..., 0], near[..., 1]
    with np.errstate(divide="ignore", invalid="ignore"):
        theta = np.degrees(np.arctan(u / v))  # MATLAB atan(u./v): ±90 where v = 0, NaN where u = v = 0
    difference = np.hypot(u, v) - np.hypot(far[..., 0], far[..., 1])
    height, width = near.shape[0] // blocks, near.shape[1] // blocks
    values = []
    for row in range(blocks):
        for col in range(blocks):
            window = (slice(row * height, (row + 1) * height), slice(col * width, (col + 1) * width))
            angles, block_difference = theta[window].ravel(), difference[window].ravel()
            members = [(angles >= low) & (angles < high) for low, high in DIRECTIONS]
            main = members[int(np.argmax([member.sum() for member in members]))]
            values.append(_mean_of_largest_third(block_difference[main]))
    return _mean_of_largest_third(np.asarray(values))


def mdmd_scores(frames: np.ndarray, k: int, blocks: int = 6, flow: str = "rlof",
                flow_apart: Callable[[int], np.ndarray] | None = None) -> np.ndarray:
    """The MDMD feature of every frame of a (T, H, W) uint8 video of at least 40 × 40 pixels: (T,), NaN for the
    first and last k frames. ``flow_apart(d)``: the video's flows from frame j to j + d for every j, (T − d, H, W,
    2), computed before (``video_input.cached_flows``); without it each flow is computed here."""
    frames = check_frames(frames, MIN_FACE_SIZE)
    scores = np.full(len(frames), np.nan)
    near_all, far_all = (flow_apart(k), flow_apart(2 * k)) if flow_apart is not None else (None, None)
    for i in range(k, len(frames) - k):
        if near_all is None:
            near = optical_flow(frames[i - k], frames[i], flow)
            far = optical_flow(frames[i - k], frames[i + k], flow)
        else:
            near, far = (np.asarray(apart[i - k], dtype=np.float64) for apart in (near_all, far_all))
        scores[i] = main_directional_difference(near, far, blocks)
    return scores


def mdmd_contrast(scores: np.ndarray, k: int) -> np.ndarray:
    """``cmd.m``'s contrast ``f(i) − (f(i − m) + f(i + m)) / 2``, m = k − 1, at the 0-based frames 2k − 1 …
    T − 4k (the script's 1-based 2k … T − 4k + 1); NaN elsewhere."""
    scores = np.asarray(scores, dtype=np.float64)
    contrast = np.full(len(scores), np.nan)
    m = k - 1
    frames = np.arange(2 * k - 1, len(scores) - 4 * k + 1)
    contrast[frames] = scores[frames] - (scores[frames - m] + scores[frames + m]) / 2
    return contrast


def contrast_intervals(contrast: np.ndarray, p: float, min_length: int, max_length: int) -> list[Interval]:
    """The frames whose contrast is above ``mean + p · (max − mean)``, as runs, kept when ``min_length ≤``
    length ``≤ max_length`` (0: no upper bound); each scored with its largest contrast."""
    threshold = relative_threshold(contrast, p)
    if not np.isfinite(threshold):
        return []
    above = np.nan_to_num(contrast, nan=-np.inf) > threshold
    intervals = []
    for onset, offset in frame_runs(above):
        length = offset - onset + 1
        if length >= min_length and (max_length == 0 or length <= max_length):
            intervals.append((onset, offset, float(contrast[onset:offset + 1].max())))
    return intervals


def effective_k(k: int, frames: int, halve: bool) -> int:
    """``cmd.m``'s ``auto_k``: k = round(k / 2) while the video has fewer than 6k frames (down to 1)."""
    while halve and k > 1 and frames - 6 * k < 0:
        k = int(np.floor(k / 2 + 0.5))
    return k


def spot(frames: np.ndarray, fps: float, *, flow_apart: Callable[[int], np.ndarray] | None = None,
         **options: Any) -> list[Interval]:
    """MDMD's intervals of one expression type in a (T, H, W) uint8 face video at ``fps`` frames per second:
    inclusive 0-based (onset, offset, score), the score the largest contrast in the interval. ``options``:
    ``OPTIONS`` (``--model-opt``), checked first; defaults by ``fps`` as the module says. ``flow_apart``: the
    video's flows computed before (``mdmd_scores``)."""
    values = resolve_spotter_options(options, OPTIONS, "mdmd")
    frames = check_frames(frames, MIN_FACE_SIZE)
    expression = values["expression"]
    k = values["k"] or default_frames(K_SECONDS[expression], fps)
    k = effective_k(k, len(frames), values["halve_k"])
    shortest, longest = default_lengths(expression, fps)
    shortest = values["min_length"] or shortest
    longest = longest if values["max_length"] is None else values["max_length"]
    scores = mdmd_scores(frames, k, values["blocks"], values["flow"], flow_apart)
    return contrast_intervals(mdmd_contrast(scores, k), values["p"], shortest, longest)


BASELINE_REPOSITORY = "HeyingGithub/Baseline-project-for-MEGC2020_spotting"
BASELINE_COMMIT = "7d186cf60d94aa1b7955f8bf7e68fd45a7a235cd"
#: The README's results table (TP, FP, FN per database and type) at p = 0.01.
PUBLISHED_COUNTS = {
    "casme2-long": {"mae": (109, 1414, 191), "me": (21, 5014, 36), "overall": (130, 6428, 227)},
    "samm-long": {"mae": (22, 334, 321), "me": (29, 1407, 130), "overall": (51, 1741, 451)},
}
PUBLISHED_F1 = {"casme2-long": {"f1": 0.0376, "f1_me": 0.0082, "f1_mae": 0.1196},
                "samm-long": {"f1": 0.0445, "f1_me": 0.0364, "f1_mae": 0.0629}}


def _counts_text(database: str) -> str:
    return "; ".join(f"{kind} TP/FP/FN {'/'.join(map(str, counts))}"
                     for kind, counts in PUBLISHED_COUNTS[database].items())


CARD = ModelCard(
    source=Reference("He, Y.; Wang, S.-J.; Li, J.; Yap, M.H.",
                     "Spotting Macro-and Micro-Expression Intervals in Long Video Sequences", "IEEE FG 2020, 238–244",
                     2020, "https://doi.org/10.1109/FG47880.2020.00036"),
    code=(CodeLocation(BASELINE_REPOSITORY, "MDMD_codes/MDMD.m", "MDMD", BASELINE_COMMIT[:7], "none stated",
                       note="with MDMD_codes/cmd.m (k, contrast, threshold), MDMD_codes/RLOF_fun.m (flow), "
                            "MDMD_results/MDMDmat_to_txt.m (intervals) and MDMD_results/evaluation_all_p.py "
                            "(length bounds); the method is Wang, S.-J. et al., A main directional maximal "
                            "difference analysis for spotting facial movements from long-term videos, "
                            "Neurocomputing 230:382–389, 2017"),),
    fidelity=Fidelity.ADAPTED,
    fidelity_detail="our numpy translation of the MATLAB scripts, step by step: near (i − k → i) and far "
                    "(i − k → i + k) flow, 6 × 6 blocks of ⌊H/6⌋ × ⌊W/6⌋ pixels, four directions of atan(u/v) "
                    "with the script's bins, the largest third of the main direction's magnitude differences per "
                    "block and of the 36 block values per frame, the contrast with m = k − 1 over the script's "
                    "frame range, threshold mean + p · (max − mean) with p = 0.01, runs of frames above it as "
                    "intervals, length bounds; the flow is OpenCV's RLOF, not the authors' mex_RLOF binary",
    input_chain="grey face frames of one long video, cropped once per video (the authors crop with dlib's 68 "
                "landmarks on the first frame, the top raised by the eye–brow distance, and resize to 227 × 227)",
    identification="the authors' values per database (cmd.m, evaluation_all_p.py) are given as seconds so that one "
                   "rule serves any frame rate: k = 0.4 s (ME) and 1.3 s (MaE), ME lengths 0.235–0.525 s, MaE "
                   "longer; at 30 fps and 200 fps these give exactly the authors' 12 / 39 / 7–16 / ≥ 17 and 80 / "
                   "260 / 47–105 / ≥ 106 frames; at other rates they are our extrapolation",
    deviations=(
        "flow: the authors' MATLAB calls mex_RLOF (RLOF, every pixel tracked); mebench's default is OpenCV's "
        "dense RLOF at grid step 1 with the forward-backward check off, a different implementation of the same "
        "method; --model-opt flow=tvl1 or flow=dis (fast) choose another estimator and name another configuration",
        "a block or frame whose main direction holds one pixel or none (no motion at all: atan(0/0) is NaN) gets "
        "0; the MATLAB mean of an empty selection is NaN and turns the frame's feature into NaN",
        "cmd.m's auto_k halves k for a short video but never restores it, so every later video of the loop keeps "
        "the smaller k; mebench halves it for the short video only",
        "cmd.m's predict vector is zeroed only up to the current video's length, so marks left by a longer "
        "earlier video beyond that length are not cleared (the published ME intervals at p = 0.01 for s15_0101, "
        "2,052 frames, include frames 2219 and 3372); mebench spots each video on its own",
        "scores: the authors write 1.0 for every interval; mebench gives each the largest contrast inside it "
        "(the MEGC rule does not use scores)",
        "the face crop: the authors crop with dlib's 68 landmarks on the first frame; mebench finds the face with "
        "OpenCV's Haar cascade on the first frames (the largest face, grown by 10 %: spotters/video_input.py) and "
        "resizes it to 227 × 227 (--model-opt face_size); spot() takes the face frames as given",
    ),
    reported=tuple(ReportedFigures(
        source=f"{BASELINE_REPOSITORY} README, Results table (He et al. 2020)", dataset=database,
        protocol="loso", selection="p = 0.01", kind="intervals", figures=dict(PUBLISHED_F1[database]),
        note=f"{_counts_text(database)}; no training: all videos of the database scored by the MEGC rule at IoU 0.5 "
             f"(for a spotter that fits nothing, the same counts as LOSO's); p = 0.01 was picked after scoring p = 0.01 … 0.99 on the same videos "
             "(\"Since the amount of TP is an important metric for the spotting result evaluation, we select the "
             "results under the condition of p=0.01 as the final baseline results\")")
        for database in PUBLISHED_COUNTS),
)
