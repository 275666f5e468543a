"""Frame sequences: the grey frames of a sample's span, TIM interpolation to a fixed length, and
Eulerian video magnification.

``grey_sequence`` puts the sample's frames from onset to offset in ``item["frames"]`` (T, H, W uint8),
cropped to the face where the copy is not cropped and resized to one common size; ``tim`` and ``evm``
replace ``item["frames"]`` with the interpolated or magnified sequence; a feature step
(``plugins/preprocessors/features.py``) turns the sequence into the model input. Every setting is in
the step's ``config``, hence in the cache key and ``run.json``. ``clip_channels`` makes the sequence itself
the input of a video net, one channel per frame.
"""

from __future__ import annotations

from typing import Any

import cv2
import numpy as np

from mebench import hookimpl
from mebench.data import PreprocessingStep, PreprocessorSpec
from mebench.options import Option
from mebench_plugins.preprocessors.optical_flow import (FACE_CROPPED_NOTE, FACE_MISSED_NOTE, PRE_FLOW_SIZE, face_box,
                                                        resize_frame)


class GreySequence(PreprocessingStep):
    """The sample's frames from onset to offset (those the dataset has), grey, as ``item["frames"]``
    (T, H, W uint8), their indices in ``item["frame_indices"]``.

    ``face_crop="auto"`` crops every frame to the face the Haar cascade finds in the onset frame where
    the copy is not cropped (``sample.cropped is False``), ``"always"`` for every sample, ``"never"``
    keeps the frames as they are; a frame without a face is kept whole and ``item["face_missed"]`` says
    so (the run reports it). ``size`` resizes every frame to size×size (0: the native size)."""

    name = "grey_sequence"
    needs = ("sample",)
    gives = ("frames", "frame_indices", "face_cropped")
    notes = (FACE_CROPPED_NOTE, FACE_MISSED_NOTE)
    crops = ("auto", "always", "never")

    def __init__(self, size: int = PRE_FLOW_SIZE, face_crop: str = "auto"):
        if face_crop not in self.crops:
            raise ValueError(f"grey_sequence face_crop must be one of {self.crops}, got {face_crop!r}")
        self.size, self.face_crop = int(size), face_crop
        if self.size < 0:
            raise ValueError(f"grey_sequence size must be 0 (native) or a pixel size, got {size!r}")

    @property
    def config(self) -> dict[str, Any]:
        return {"size": self.size, "face_crop": self.face_crop}

    def __call__(self, item: dict[str, Any]) -> dict[str, Any]:
        sample = item["sample"]
        indices = [i for i in sample.frames.indices() if sample.onset <= i <= sample.offset]
        if len(indices) < 2:
            raise ValueError(f"the span {sample.onset}–{sample.offset} holds {len(indices)} frame(s); a sequence "
                             f"needs at least 2")
        frames = [sample.frames.load(i) for i in indices]
        frames = [cv2.cvtColor(f, cv2.COLOR_BGR2GRAY) if f.ndim == 3 else f for f in frames]
        item["face_cropped"] = False
        if self.face_crop == "always" or (self.face_crop == "auto" and getattr(sample, "cropped", None) is False):
            box = face_box(frames[0])
            if box is None:
                item["face_missed"] = True
            else:
                top, bottom, left, right = box
                frames = [f[top:bottom, left:right] for f in frames]
                item["face_cropped"] = True
        if self.size:
            frames = [resize_frame(f, self.size) for f in frames]
        item["frames"] = np.stack(frames).astype(np.uint8)
        item["frame_indices"] = indices
        return item


def tim_weights(length: int, frames: int) -> np.ndarray:
    """(frames, length): each output frame of the temporal interpolation model as a weighting of the
    ``length`` input frames, at ``frames`` evenly spaced positions from the first input frame to the last.

    TIM (Zhou, Zhao & Pietikäinen, CVPR 2011) embeds the frames in the path graph's Laplacian
    eigenvectors, cos(πk(j + ½)/n) for k = 1 … n−1, fits the linear map from the (rank n−1, centred)
    frames onto that curve, moves along the curve and maps back. Wherever the frames are linearly
    independent (the model's condition) that is exactly the mean frame plus the centred frames weighted
    by the cosine basis at the new position, which is what is computed here (and, unlike the fitted
    map, stays defined when frames repeat). At an input position it returns that input frame."""
    k = np.arange(1, length)
    positions = np.linspace(0.0, length - 1.0, frames)
    at_frames = np.cos(np.pi * np.outer(np.arange(length) + 0.5, k) / length)  # (length, length − 1)
    at_positions = np.cos(np.pi * np.outer(positions + 0.5, k) / length)  # (frames, length − 1)
    return 1.0 / length + (2.0 / length) * at_positions @ at_frames.T


def temporal_interpolation(sequence: np.ndarray, frames: int) -> np.ndarray:
    """``sequence`` (T, H, W) interpolated by TIM to ``frames`` frames, rounded to uint8."""
    weights = tim_weights(len(sequence), frames)
    out = np.tensordot(weights, sequence.astype(np.float64), axes=1)
    return np.clip(np.rint(out), 0, 255).astype(np.uint8)


class TemporalInterpolation(PreprocessingStep):
    """``item["frames"]`` interpolated by the temporal interpolation model (TIM) to ``frames`` frames
    (the MEGC2019 LBP-TOP baseline: 10)."""

    name = "tim"
    needs = gives = ("frames",)

    def __init__(self, frames: int = 10):
        self.frames = int(frames)
        if self.frames < 2:
            raise ValueError(f"tim frames must be at least 2, got {frames!r}")

    @property
    def config(self) -> dict[str, Any]:
        return {"frames": self.frames}

    def __call__(self, item: dict[str, Any]) -> dict[str, Any]:
        item["frames"] = temporal_interpolation(item["frames"], self.frames)
        return item


class ClipChannels(PreprocessingStep):
    """``item["frames"]`` (T, H, W uint8) as the model input, one channel per frame: ``item["image"]``
    (H, W, T), values in [0, 1]. A video net reads the channels back as a clip (``tv:<name>``)."""

    name = "clip_channels"
    needs = ("frames",)
    gives = ("image",)

    @property
    def config(self) -> dict[str, Any]:
        return {}

    def __call__(self, item: dict[str, Any]) -> dict[str, Any]:
        item["image"] = np.ascontiguousarray(item["frames"].transpose(1, 2, 0), dtype=np.float32) / 255.0
        return item


def laplacian_pyramid(frame: np.ndarray, levels: int) -> list[np.ndarray]:
    """``levels`` band-pass levels, finest first, the last being the low-pass residual."""
    pyramid, current = [], frame
    for _ in range(levels - 1):
        smaller = cv2.pyrDown(current)
        pyramid.append(current - cv2.pyrUp(smaller, dstsize=(current.shape[1], current.shape[0])))
        current = smaller
    return pyramid + [current]


def collapse(pyramid: list[np.ndarray]) -> np.ndarray:
    frame = pyramid[-1]
    for level in reversed(pyramid[:-1]):
        frame = level + cv2.pyrUp(frame, dstsize=(level.shape[1], level.shape[0]))
    return frame


def level_gains(shape: tuple[int, int], levels: int, alpha: float, cutoff: float) -> list[float]:
    """The amplification of each pyramid level (finest first), as in the motion recipe of Wu et al.
    (SIGGRAPH 2012): α, capped where the level's representative wavelength λ (the frame's diagonal / 3
    at the coarsest level, halving per finer level) would break (1 + α)·δ < λ/8 for δ = λ_c/8/(1 + α)
    (the cap exaggerated 2×), never below 0 (MIT's code would let a level shorter than λ_c/(1 + α)
    take a negative gain); the finest and the coarsest level are not amplified."""
    delta = cutoff / 8.0 / (1.0 + alpha)
    wavelength = float(np.hypot(*shape)) / 3.0
    gains = [0.0] * levels
    for level in reversed(range(levels)):  # coarsest first
        if 0 < level < levels - 1:
            gains[level] = max(0.0, min(alpha, 2.0 * (wavelength / delta / 8.0 - 1.0)))
        wavelength /= 2.0
    return gains


#: ``mit``: MIT's one-sided mask; ``two-sided``: both signs of frequency (twice the gain for the same α)
TEMPORAL_FILTERS = ("mit", "two-sided")


def ideal_bandpass(stack: np.ndarray, low: float, high: float, temporal_filter: str = "mit") -> np.ndarray:
    """MIT's ``ideal_bandpassing`` along axis 0 (frames), frequencies in cycles per frame: the DFT bins k
    with low < k/T < high kept, the others zeroed, the real part of the inverse. Only the positive
    frequencies are kept (the mask is one-sided), so a component in the band comes back at half its
    amplitude: with the level gains below, the step magnifies exactly as MIT's code does for the same α.
    ``two-sided`` keeps the negative frequencies too: the component whole, twice MIT's gain."""
    frequencies = np.arange(len(stack)) / len(stack)
    if temporal_filter == "two-sided":
        frequencies = np.minimum(frequencies, 1 - frequencies)
    band = ((frequencies > low) & (frequencies < high)).reshape(-1, *([1] * (stack.ndim - 1)))
    return np.real(np.fft.ifft(np.fft.fft(stack, axis=0) * band, axis=0)).astype(np.float32)


def magnify(sequence: np.ndarray, alpha: float, low: float, high: float, levels: int, cutoff: float,
            temporal_filter: str = "mit") -> np.ndarray:
    """Eulerian motion magnification of a grey sequence (T, H, W uint8), as MIT's
    ``amplify_spatial_lpyr_temporal_ideal``: per Laplacian-pyramid level MIT's ideal temporal band-pass
    (``ideal_bandpass``) times the level's gain, added back to the frames."""
    frames = sequence.astype(np.float32)
    pyramids = [laplacian_pyramid(frame, levels) for frame in frames]
    gains = level_gains(frames.shape[1:], levels, alpha, cutoff)
    magnified = [list(p) for p in pyramids]
    for level, gain in enumerate(gains):
        if gain == 0.0:
            continue
        stack = np.stack([p[level] for p in pyramids])
        filtered = ideal_bandpass(stack, low, high, temporal_filter)
        for t in range(len(frames)):
            magnified[t][level] = stack[t] + gain * filtered[t]
    return np.stack([np.clip(np.rint(collapse(p)), 0, 255) for p in magnified]).astype(np.uint8)


class EulerianMagnification(PreprocessingStep):
    """``item["frames"]`` motion-magnified (Eulerian video magnification, Wu et al. 2012; MIT holds
    patents on the method): ``alpha`` the amplification as MIT's code applies it, ``low``–``high`` the
    temporal pass band in cycles per frame (Hz divided by the frame rate; at most 0.5; the ends excluded,
    as MIT's ``Freq > wl & Freq < wh``), ``levels`` of the Laplacian pyramid,
    ``cutoff`` the wavelength λ_c (pixels) below which the amplification is reduced, ``temporal_filter``
    MIT's one-sided band-pass or a two-sided one, twice as strong for the same α (``ideal_bandpass``)."""

    name = "evm"
    needs = gives = ("frames",)

    def __init__(self, alpha: float = 10.0, low: float = 0.05, high: float = 0.4, levels: int = 5,
                 cutoff: float = 16.0, temporal_filter: str = "mit"):
        self.alpha, self.low, self.high = float(alpha), float(low), float(high)
        self.levels, self.cutoff = int(levels), float(cutoff)
        if temporal_filter not in TEMPORAL_FILTERS:
            raise ValueError(f"evm temporal_filter must be one of {TEMPORAL_FILTERS}, got {temporal_filter!r}")
        self.temporal_filter = temporal_filter
        if not 0.0 <= self.low < self.high <= 0.5:
            raise ValueError(f"evm pass band must satisfy 0 ≤ low < high ≤ 0.5 cycles per frame, got "
                             f"low={low}, high={high}")

    @property
    def config(self) -> dict[str, Any]:
        return {"alpha": self.alpha, "low": self.low, "high": self.high, "levels": self.levels, "cutoff": self.cutoff,
                "temporal_filter": self.temporal_filter}

    def __call__(self, item: dict[str, Any]) -> dict[str, Any]:
        item["frames"] = magnify(item["frames"], self.alpha, self.low, self.high, self.levels, self.cutoff,
                                 self.temporal_filter)
        return item


@hookimpl
def mebench_register_preprocessors(register):
    register(PreprocessorSpec(
        "grey_sequence", GreySequence, "The sample's grey frames from onset to offset, face-cropped, one size",
        options=(Option("size", int, PRE_FLOW_SIZE, "common frame size (0: native size)", minimum=0),
                 Option("face_crop", str, "auto", "crop to the Haar-cascade face: copies not cropped, every "
                                                  "sample, or none", choices=GreySequence.crops))))
    register(PreprocessorSpec(
        "clip_channels", ClipChannels, "The frame sequence as the model input, one channel per frame, in [0, 1]",
        options=()))
    register(PreprocessorSpec(
        "tim", TemporalInterpolation, "Temporal interpolation model (Zhou et al. 2011) to a fixed number of frames",
        options=(Option("frames", int, 10, "frames after interpolation", minimum=2),)))
    register(PreprocessorSpec(
        "evm", EulerianMagnification, "Eulerian video magnification (Wu et al. 2012) of the frame sequence",
        options=(Option("alpha", float, 10.0, "amplification factor", minimum=0.0),
                 Option("low", float, 0.05, "low end of the temporal pass band, cycles per frame", minimum=0.0,
                        maximum=0.5),
                 Option("high", float, 0.4, "high end of the temporal pass band, cycles per frame", minimum=0.0,
                        maximum=0.5),
                 Option("levels", int, 5, "Laplacian pyramid levels (the finest and coarsest are not amplified)",
                        minimum=3),
                 Option("cutoff", float, 16.0, "spatial wavelength λ_c (pixels) below which amplification is "
                                               "reduced", minimum=0.0),
                 Option("temporal_filter", str, "mit", "ideal band-pass: MIT's one-sided mask (their gain for "
                                                       "α) or two-sided (twice it)", choices=TEMPORAL_FILTERS))))
