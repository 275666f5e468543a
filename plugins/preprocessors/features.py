"""Hand-crafted features as the model input of an estimator (``mebench.estimators``): LBP-TOP over a
frame sequence and Bi-WOOF over onset→apex flow. Each step ends the chain with ``item["image"]`` of
shape (1, 1, D) — a D-channel 1×1 image — and the model declares ``InputSpec(D, 1, 1)``.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from mebench import hookimpl
from mebench.data import PreprocessingStep, PreprocessorSpec
from mebench.options import Option
from mebench_plugins.preprocessors.optical_flow import optical_strain_magnitude

PLANES = ("xy", "xt", "yt")


def _offset(value: float) -> int:
    """A neighbour offset rounded to the nearest pixel as the reference LBP-TOP code does (floor(d + ½))."""
    return int(np.floor(value + 0.5))


def lbp_top_codes(volume: np.ndarray, points: int, rx: float, ry: float, rt: float) -> dict[str, np.ndarray]:
    """The LBP code of every centre pixel of a (T, H, W) volume in each of the three orthogonal planes
    (Zhao & Pietikäinen 2007), as in the reference LBP-TOP code: neighbour p at angle a = 2πp/P is
    (x + r_x cos a, y − r_y sin a) in XY, (x + r_x cos a, t + r_t sin a) in XT and (y − r_y sin a,
    t + r_t cos a) in YT, rounded to the nearest pixel; bit p is set when the neighbour ≥ the centre.
    Centre pixels keep their whole neighbourhood inside the volume (borders of round(r) excluded);
    each plane's codes are (T − 2b_t, H − 2b_y, W − 2b_x) for those borders."""
    volume = np.asarray(volume, dtype=np.float64)
    frames, height, width = volume.shape
    bt, by, bx = (int(np.ceil(r)) for r in (rt, ry, rx))
    if frames <= 2 * bt or height <= 2 * by or width <= 2 * bx:
        raise ValueError(f"LBP-TOP with radii (x {rx}, y {ry}, t {rt}) needs more than {2 * bt} frames and "
                         f"{2 * by}×{2 * bx} pixels; got {frames} frames of {height}×{width}")
    centre = volume[bt:frames - bt, by:height - by, bx:width - bx]

    def shifted(dt: int, dy: int, dx: int) -> np.ndarray:
        return volume[bt + dt:frames - bt + dt, by + dy:height - by + dy, bx + dx:width - bx + dx]

    codes = {plane: np.zeros(centre.shape, dtype=np.int64) for plane in PLANES}
    for p in range(points):
        angle = 2 * np.pi * p / points
        cos, sin = np.cos(angle), np.sin(angle)
        neighbours = {"xy": (0, _offset(-ry * sin), _offset(rx * cos)),
                      "xt": (_offset(rt * sin), 0, _offset(rx * cos)),
                      "yt": (_offset(rt * cos), _offset(-ry * sin), 0)}
        for plane, (dt, dy, dx) in neighbours.items():
            codes[plane] |= (shifted(dt, dy, dx) >= centre).astype(np.int64) << p
    return codes


#: ``basic``: the 2^P codes as they are; ``uniform``: the uniform-2 mapping (``uniform_code_table``)
CODE_TABLES = ("basic", "uniform")


def uniform_code_table(points: int) -> np.ndarray:
    """Code → bin of the uniform-2 mapping (Ojala et al. 2002; the reference code's ``getmapping(P, 'u2')``,
    which MEB's LBP-TOP uses): each code whose circular P-bit string has at most two 0/1 transitions gets
    its own bin, in increasing code order; every other code the one last bin — P(P − 1) + 3 bins for P ≥ 2."""
    codes = np.arange(2**points)
    rotated = (codes >> 1) | ((codes & 1) << (points - 1))  # bit p+1 moved to p: neighbours compared pairwise
    transitions = np.array([bin(int(c)).count("1") for c in codes ^ rotated])
    uniform = transitions <= 2
    table = np.full(2**points, int(uniform.sum()))
    table[uniform] = np.arange(int(uniform.sum()))
    return table


def code_bins(points: int, codes: str = "basic") -> int:
    """Bins of one histogram: 2^P basic codes, or P(P − 1) + 3 uniform-2 ones (one per uniform code and one more)."""
    return 2**points if codes == "basic" else int(uniform_code_table(points).max()) + 1


def block_edges(size: int, blocks: int) -> np.ndarray:
    """The ``blocks`` + 1 edges of non-overlapping blocks that split ``size`` pixels as evenly as integers allow."""
    return np.linspace(0, size, blocks + 1).round().astype(int)


def lbp_top_features(volume: np.ndarray, points: int = 4, rx: float = 1, ry: float = 1, rt: float = 4,
                     blocks: int = 5, codes: str = "basic") -> np.ndarray:
    """Block LBP-TOP of a (T, H, W) volume: the frame split into blocks×blocks non-overlapping blocks;
    per block and plane (XY, XT, YT) a histogram of the centre pixels' codes in the block — the 2^P
    basic codes, or with ``codes="uniform"`` their uniform-2 bins — normalised to sum 1; concatenated
    block by block (row-major), planes in that order."""
    if codes not in CODE_TABLES:
        raise ValueError(f"lbp_top codes must be one of {CODE_TABLES}, got {codes!r}")
    table = np.arange(2**points) if codes == "basic" else uniform_code_table(points)
    codes = {plane: table[plane_codes] for plane, plane_codes in lbp_top_codes(volume, points, rx, ry, rt).items()}
    _, height, width = volume.shape
    by, bx = int(np.ceil(ry)), int(np.ceil(rx))
    rows = np.searchsorted(block_edges(height, blocks), np.arange(by, height - by), side="right") - 1
    cols = np.searchsorted(block_edges(width, blocks), np.arange(bx, width - bx), side="right") - 1
    block = (rows[:, None] * blocks + cols[None, :])[None]  # the block of each centre pixel
    bins = int(table.max()) + 1
    histograms = np.stack([np.bincount((block * bins + codes[plane]).ravel(), minlength=blocks * blocks * bins)
                           .reshape(blocks * blocks, bins) for plane in PLANES], axis=1).astype(np.float64)
    totals = histograms.sum(axis=2, keepdims=True)
    return (histograms / np.where(totals > 0, totals, 1)).ravel().astype(np.float32)


def feature_image(vector: np.ndarray) -> np.ndarray:
    """A feature vector as the (1, 1, D) image a chain ends with."""
    return np.asarray(vector, dtype=np.float32).reshape(1, 1, -1)


class LbpTop(PreprocessingStep):
    """LBP-TOP histograms of ``item["frames"]`` as the model input (1, 1, blocks²·3·bins). Defaults: the
    MEGC2019 baseline's P = 4 and 5×5 blocks, radii read per axis as (x 1, y 1, t 4), the 2^P basic codes
    (the challenge document does not say which codes; ``codes="uniform"``: uniform-2, as MEB's LBP-TOP)."""

    name = "lbp_top"
    needs = ("frames",)
    gives = ("image",)

    def __init__(self, points: int = 4, radius_x: float = 1.0, radius_y: float = 1.0, radius_t: float = 4.0,
                 blocks: int = 5, codes: str = "basic"):
        self.points, self.blocks = int(points), int(blocks)
        self.radii = (float(radius_x), float(radius_y), float(radius_t))
        if codes not in CODE_TABLES:
            raise ValueError(f"lbp_top codes must be one of {CODE_TABLES}, got {codes!r}")
        self.codes = codes

    @property
    def config(self) -> dict[str, Any]:
        rx, ry, rt = self.radii
        config = {"points": self.points, "radius_x": rx, "radius_y": ry, "radius_t": rt, "blocks": self.blocks}
        # the basic codes leave the config as it was, so every existing cache key and run id stays
        return config if self.codes == "basic" else {**config, "codes": self.codes}

    def __call__(self, item: dict[str, Any]) -> dict[str, Any]:
        item["image"] = feature_image(lbp_top_features(item["frames"], self.points, *self.radii, blocks=self.blocks,
                                                       codes=self.codes))
        return item


def lbp_top_length(points: int = 4, blocks: int = 5, codes: str = "basic") -> int:
    return blocks * blocks * len(PLANES) * code_bins(points, codes)


def biwoof_bounds(size: int, blocks: int) -> list[tuple[int, int]]:
    """Row (or column) slices of Bi-WOOF's blocks as the authors' ``biwoof.m`` draws them: with
    h = ⌊size/blocks⌋ the first block is rows 1…h+1, block k rows (k−1)h…kh+1 and the last (n−1)h…size
    (1-based, inclusive), so neighbouring blocks share one or two border rows."""
    h = size // blocks
    bounds = []
    for k in range(1, blocks + 1):
        first = 1 if k == 1 else (k - 1) * h
        last = size if k == blocks else k * h + 1
        bounds.append((first - 1, last))
    return bounds


def biwoof_features(flow: np.ndarray, strain: np.ndarray, blocks: int = 5, bins: int = 8) -> np.ndarray:
    """Bi-WOOF (Liong et al. 2018): per block an orientation histogram of the flow, each pixel voting with
    its magnitude (local weight), normalised to sum 1, then scaled by the block's summed optical strain
    (global weight); the blocks' histograms concatenated (row-major) and L2-normalised. Orientation
    atan2(v, u) in degrees, ``bins`` equal bins over [−180°, 180°]."""
    u, v = flow[..., 0].astype(np.float64), flow[..., 1].astype(np.float64)
    magnitude, orientation = np.hypot(u, v), np.degrees(np.arctan2(v, u))
    edges = np.linspace(-180.0, 180.0, bins + 1)
    features = []
    for top, bottom in biwoof_bounds(flow.shape[0], blocks):
        for left, right in biwoof_bounds(flow.shape[1], blocks):
            histogram, _ = np.histogram(orientation[top:bottom, left:right], bins=edges,
                                        weights=magnitude[top:bottom, left:right])
            total = histogram.sum()
            histogram = histogram / total if total > 0 else histogram
            features.append(histogram * float(strain[top:bottom, left:right].sum()))
    vector = np.concatenate(features)
    norm = np.linalg.norm(vector)
    return (vector / norm if norm > 0 else vector).astype(np.float32)


class BiWoof(PreprocessingStep):
    """Bi-WOOF features of ``item["flow"]`` and ``item["strain"]`` as the model input (1, 1, blocks²·bins)."""

    name = "bi_woof"
    needs = ("flow",)  # and strain where present (else computed from the flow)
    gives = ("image",)

    def __init__(self, blocks: int = 5, bins: int = 8):
        self.blocks, self.bins = int(blocks), int(bins)

    @property
    def config(self) -> dict[str, Any]:
        return {"blocks": self.blocks, "bins": self.bins}

    def __call__(self, item: dict[str, Any]) -> dict[str, Any]:
        strain = item["strain"] if "strain" in item else optical_strain_magnitude(item["flow"])
        item["image"] = feature_image(biwoof_features(item["flow"], strain, self.blocks, self.bins))
        return item


@hookimpl
def mebench_register_preprocessors(register):
    register(PreprocessorSpec(
        "lbp_top", LbpTop, "Block LBP-TOP histograms of the frame sequence (a feature vector for an estimator)",
        options=(Option("points", int, 4, "neighbours P on every plane (2^P bins)", minimum=1, maximum=16),
                 Option("radius_x", float, 1.0, "radius along x, pixels", minimum=0.0),
                 Option("radius_y", float, 1.0, "radius along y, pixels", minimum=0.0),
                 Option("radius_t", float, 4.0, "radius along time, frames", minimum=0.0),
                 Option("blocks", int, 5, "the face split into blocks×blocks non-overlapping blocks", minimum=1),
                 Option("codes", str, "basic", "histogram bins: the 2^P basic codes, or uniform-2 (P(P − 1) + 3 "
                                               "bins, as MEB's LBP-TOP)", choices=CODE_TABLES))))
    register(PreprocessorSpec(
        "bi_woof", BiWoof, "Bi-WOOF: strain- and magnitude-weighted flow orientation histograms (a feature vector)",
        options=(Option("blocks", int, 5, "the flow split into blocks×blocks blocks (the authors' bounds)", minimum=1),
                 Option("bins", int, 8, "orientation bins over 360°", minimum=1))))
