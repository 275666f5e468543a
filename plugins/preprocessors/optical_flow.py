"""Apex selection, onset→apex TV-L1 optical flow, optical strain and the (u, v, strain) stack.

The chain the paper's networks use is ``apex_frame → tvl1_flow → optical_strain → flow_stack``;
the runner then resizes the stack to the model's declared input size.
"""

from __future__ import annotations

from typing import Any

import cv2
import numpy as np

from mebench import hookimpl
from mebench.data import PreprocessingStep, PreprocessorSpec


class ApexFrame(PreprocessingStep):
    """Loads the onset and apex frames.

    The annotated apex is used where the dataset gives one. Where it does not (SMIC), the apex is
    the frame between onset and offset whose mean absolute difference from the onset frame is
    largest (rule ``max_motion``), and the chosen index is stored in ``item["apex_index"]``.
    """

    name = "apex_frame"

    def __init__(self, rule: str = "max_motion"):
        if rule != "max_motion":
            raise ValueError(f"apex rule must be 'max_motion', got {rule!r}")
        self.rule = rule

    @property
    def config(self) -> dict[str, Any]:
        return {"rule": self.rule}

    def __call__(self, item: dict[str, Any]) -> dict[str, Any]:
        sample = item["sample"]
        onset = sample.frames.load(sample.onset)
        if sample.apex is not None:
            apex_index = sample.apex
            apex = sample.frames.load(apex_index)
        else:
            best = -1.0
            apex_index, apex = sample.onset, onset
            for index in sample.frames.indices():
                if sample.onset < index <= sample.offset:
                    frame = sample.frames.load(index)
                    motion = float(np.mean(cv2.absdiff(frame, onset)))
                    if motion > best:
                        best, apex_index, apex = motion, index, frame
        item.update(onset_frame=onset, apex_frame=apex, apex_index=apex_index)
        return item


class FaceCrop(PreprocessingStep):
    """Crops onset and apex frames to the face found in the onset frame by OpenCV's bundled
    frontal-face Haar cascade (works offline), enlarged by ``margin`` on each side. For copies that
    are not already cropped. A frame without a detectable face is an error naming the sample,
    unless ``on_miss="keep"`` (then the whole frame is used)."""

    name = "face_crop"

    def __init__(self, margin: float = 0.1, min_size: int = 40, on_miss: str = "error"):
        if on_miss not in ("error", "keep"):
            raise ValueError(f"face_crop on_miss must be 'error' or 'keep', got {on_miss!r}")
        self.margin, self.min_size, self.on_miss = float(margin), int(min_size), on_miss

    @property
    def config(self) -> dict[str, Any]:
        return {"margin": self.margin, "min_size": self.min_size, "on_miss": self.on_miss}

    def __call__(self, item: dict[str, Any]) -> dict[str, Any]:
        onset = item["onset_frame"]
        cascade = cv2.CascadeClassifier(cv2.data.haarcascades + "haarcascade_frontalface_default.xml")
        if cascade.empty():
            raise RuntimeError("OpenCV's Haar cascade is missing; install opencv-contrib-python-headless<5")
        faces = cascade.detectMultiScale(onset, scaleFactor=1.1, minNeighbors=5,
                                         minSize=(self.min_size, self.min_size))
        if len(faces) == 0:
            if self.on_miss == "keep":
                item["face_box"] = None
                return item
            raise ValueError("no face found in the onset frame; use frames that are already cropped, lower "
                             "min_size, or set on_miss=keep")
        x, y, w, h = max(faces, key=lambda box: box[2] * box[3])
        item["face_box"] = crop_box((int(x), int(y), int(w), int(h)), self.margin, onset.shape)
        top, bottom, left, right = item["face_box"]
        item["onset_frame"] = onset[top:bottom, left:right]
        item["apex_frame"] = item["apex_frame"][top:bottom, left:right]
        return item


def crop_box(box: tuple[int, int, int, int], margin: float, shape: tuple[int, ...]) -> tuple[int, int, int, int]:
    """(top, bottom, left, right) of an (x, y, w, h) box grown by ``margin`` and clipped to the frame."""
    x, y, w, h = box
    dx, dy = int(round(w * margin)), int(round(h * margin))
    return max(0, y - dy), min(shape[0], y + h + dy), max(0, x - dx), min(shape[1], x + w + dx)


class TvL1Flow(PreprocessingStep):
    """Dense onset→apex optical flow with OpenCV's Dual TV-L1 (``cv2.optflow``)."""

    name = "tvl1_flow"

    def __init__(self, tau: float = 0.25, lambda_: float = 0.15, theta: float = 0.3,
                 scales: int = 5, warps: int = 5, epsilon: float = 0.01, size: int = 0):
        self.params = dict(tau=float(tau), lambda_=float(lambda_), theta=float(theta), scales=int(scales),
                           warps=int(warps), epsilon=float(epsilon))
        self.size = int(size)  # resize frames to size×size before the flow (0 keeps them)

    @property
    def config(self) -> dict[str, Any]:
        return {**self.params, "size": self.size, "opencv": cv2.__version__.split(".")[0]}

    def __call__(self, item: dict[str, Any]) -> dict[str, Any]:
        onset, apex = item["onset_frame"], item["apex_frame"]
        if onset.ndim == 3:
            onset, apex = cv2.cvtColor(onset, cv2.COLOR_BGR2GRAY), cv2.cvtColor(apex, cv2.COLOR_BGR2GRAY)
        if onset.shape != apex.shape:
            raise ValueError(f"sample {item['sample'].id}: onset and apex frames differ in size "
                             f"({onset.shape} vs {apex.shape})")
        if self.size:
            onset = cv2.resize(onset, (self.size, self.size), interpolation=cv2.INTER_AREA)
            apex = cv2.resize(apex, (self.size, self.size), interpolation=cv2.INTER_AREA)
        p = self.params
        tvl1 = cv2.optflow.DualTVL1OpticalFlow_create(
            tau=p["tau"], lambda_=p["lambda_"], theta=p["theta"], nscales=p["scales"],
            warps=p["warps"], epsilon=p["epsilon"],
        )
        item["flow"] = tvl1.calc(onset, apex, None).astype(np.float32)  # (H, W, 2): u, v
        return item


def optical_strain_magnitude(flow: np.ndarray) -> np.ndarray:
    """Magnitude of the infinitesimal strain tensor of a flow field (Liong et al. 2016).

    ε = ½(∇u + ∇uᵀ); magnitude = sqrt(ε_xx² + ε_yy² + 2·ε_xy²), derivatives by central differences.
    """
    u, v = flow[..., 0], flow[..., 1]
    u_y, u_x = np.gradient(u)
    v_y, v_x = np.gradient(v)
    e_xy = 0.5 * (u_y + v_x)
    return np.sqrt(u_x**2 + v_y**2 + 2 * e_xy**2).astype(np.float32)


class OpticalStrain(PreprocessingStep):
    """Adds ``item["strain"]``, the optical strain magnitude of ``item["flow"]``."""

    name = "optical_strain"

    def __call__(self, item: dict[str, Any]) -> dict[str, Any]:
        item["strain"] = optical_strain_magnitude(item["flow"])
        return item


class FlowStack(PreprocessingStep):
    """Stacks the chosen channels (from u, v, strain) into ``item["image"]`` (H, W, C)."""

    name = "flow_stack"
    available = ("u", "v", "strain")

    def __init__(self, channels: str = "u,v,strain"):
        self.channels = tuple(c.strip() for c in channels.split(",")) if isinstance(channels, str) else tuple(channels)
        unknown = set(self.channels) - set(self.available)
        if unknown or not self.channels:
            raise ValueError(f"flow_stack channels must be drawn from {self.available}, got {self.channels}")

    @property
    def config(self) -> dict[str, Any]:
        return {"channels": list(self.channels)}

    def __call__(self, item: dict[str, Any]) -> dict[str, Any]:
        planes = {"u": item["flow"][..., 0], "v": item["flow"][..., 1]}
        if "strain" in self.channels:
            planes["strain"] = item["strain"] if "strain" in item else optical_strain_magnitude(item["flow"])
        item["image"] = np.stack([planes[c] for c in self.channels], axis=-1).astype(np.float32)
        return item


@hookimpl
def mebench_register_preprocessors(register):
    register(PreprocessorSpec("apex_frame", ApexFrame, "Onset and apex frames (annotated apex, else max motion)"))
    register(PreprocessorSpec("face_crop", FaceCrop, "Crop onset/apex frames to the Haar-cascade face (offline)"))
    register(PreprocessorSpec("tvl1_flow", TvL1Flow, "Onset→apex Dual TV-L1 optical flow (cv2.optflow)"))
    register(PreprocessorSpec("optical_strain", OpticalStrain, "Optical strain magnitude of the flow"))
    register(PreprocessorSpec("flow_stack", FlowStack, "Stack u, v, strain into the model image"))
