"""Frame selection, face crop, onset→target TV-L1 optical flow, optical strain and the channel stack.

The default chain is ``apex_frame → face_crop(when=auto) → tvl1_flow(size=128) → optical_strain →
flow_stack``: onset and apex frames, cropped to the face where the dataset copy is not already
cropped, resized to one common 128×128 size so that the same facial motion gives flow of the same
magnitude whatever the dataset's face size, TV-L1 flow, strain, then the (u, v, strain) stack that
the runner resizes to the model's declared input size. Every option of every step is in the
step's ``config``, hence in the cache key and ``run.json``.
"""

from __future__ import annotations

import functools

from typing import Any

import cv2
import numpy as np

from mebench import hookimpl
from mebench.data import PreprocessingStep, PreprocessorSpec, SampleNote
from mebench.options import Option


class ApexFrame(PreprocessingStep):
    """Loads the onset frame and the frame the flow is computed to.

    ``target="apex"`` (default): the annotated apex where the dataset gives one; where it does not
    (SMIC), the frame between onset and offset whose mean absolute difference from the onset frame
    is largest (rule ``max_motion``). ``target="middle"``: the frame midway between onset and
    offset (the lower of two equally near frames), as Dual-Inception's authors used ("onset and
    mid-position frames", Zhou et al. 2019); the apex annotation is then not used. The chosen frame
    is stored as ``item["apex_frame"]`` either way, its index in ``item["apex_index"]`` and the rule
    that chose it in ``item["target_rule"]``.
    """

    name = "apex_frame"
    needs = ("sample",)
    gives = ("onset_frame", "apex_frame", "apex_index", "target_rule")
    notes = (SampleNote("apex_index", "the frame number of the frame the flow goes to"),)
    targets = ("apex", "middle")

    def __init__(self, rule: str = "max_motion", target: str = "apex"):
        if rule != "max_motion":
            raise ValueError(f"apex rule must be 'max_motion', got {rule!r}")
        if target not in self.targets:
            raise ValueError(f"apex_frame target must be one of {self.targets}, got {target!r}")
        self.rule, self.target = rule, target

    @property
    def config(self) -> dict[str, Any]:
        return {"rule": self.rule, "target": self.target}

    def __call__(self, item: dict[str, Any]) -> dict[str, Any]:
        sample = item["sample"]
        onset = sample.frames.load(sample.onset)
        if self.target == "middle":
            target_index, target, rule = self._middle(sample), None, "middle"
        elif sample.apex is not None:
            target_index, target, rule = sample.apex, None, "annotated"
        else:
            target_index, target = self._max_motion(sample, onset)
            rule = self.rule
        if target is None:
            target = sample.frames.load(target_index)
        item.update(onset_frame=onset, apex_frame=target, apex_index=target_index, target_rule=rule)
        return item

    @staticmethod
    def _middle(sample) -> int:
        within = [i for i in sample.frames.indices() if sample.onset <= i <= sample.offset]
        middle = (sample.onset + sample.offset) / 2
        return min(within, key=lambda index: (abs(index - middle), index))

    @staticmethod
    def _max_motion(sample, onset: np.ndarray) -> tuple[int, np.ndarray]:
        best = -1.0
        apex_index, apex = sample.onset, onset
        for index in sample.frames.indices():
            if sample.onset < index <= sample.offset:
                frame = sample.frames.load(index)
                motion = float(np.mean(cv2.absdiff(frame, onset)))
                if motion > best:
                    best, apex_index, apex = motion, index, frame
        return apex_index, apex


@functools.lru_cache(maxsize=1)
def _face_cascade() -> cv2.CascadeClassifier:
    """OpenCV's bundled frontal-face Haar cascade, loaded once per process."""
    cascade = cv2.CascadeClassifier(cv2.data.haarcascades + "haarcascade_frontalface_default.xml")
    if cascade.empty():
        raise RuntimeError("OpenCV's Haar cascade is missing; install opencv-contrib-python-headless<5")
    return cascade


def face_box(frame: np.ndarray, margin: float = 0.1, min_size: int = 40) -> tuple[int, int, int, int] | None:
    """(top, bottom, left, right) of the largest face OpenCV's frontal-face Haar cascade finds in ``frame``,
    grown by ``margin`` (``crop_box``), or None."""
    faces = _face_cascade().detectMultiScale(frame, scaleFactor=1.1, minNeighbors=5, minSize=(min_size, min_size))
    if len(faces) == 0:
        return None
    x, y, w, h = max(faces, key=lambda box: box[2] * box[3])
    return crop_box((int(x), int(y), int(w), int(h)), margin, frame.shape)


#: The notes of a face crop (``face_crop``, ``grey_sequence``): how many samples were cropped, and which had no face.
FACE_CROPPED_NOTE = SampleNote("face_cropped", "cropped to the face", summary="cropped", form="count")
FACE_MISSED_NOTE = SampleNote(
    "face_missed", "no face found: the whole frames were used", summary="no_face_found", form="samples",
    warning="face_crop found no face in {count} of {uncropped} uncropped samples (e.g. {first}); their whole frames "
            "were used (listed in run.json)")


class FaceCrop(PreprocessingStep):
    """Crops onset and target frames to the face found in the onset frame by OpenCV's bundled
    frontal-face Haar cascade (works offline), enlarged by ``margin`` on each side.

    ``when="auto"`` (the default chains' setting) crops only samples whose dataset reader says the
    frames are not cropped (``sample.cropped is False``: CASME II ``CASME2_RAW_selected``, SAMM);
    already-cropped copies (``Cropped/``, ``SMIC_all_cropped/``, synthetic) and unknown ones pass
    through unchanged. ``when="always"`` crops every sample. ``item["face_cropped"]`` records
    whether this sample was cropped and ``item["face_box"]`` the (top, bottom, left, right) box.
    A frame without a detectable face is an error naming the sample, unless ``on_miss="keep"``
    (then the whole frame is used and ``item["face_missed"]`` says so; the runner reports every
    such sample in one warning line and in ``run.json``).
    """

    name = "face_crop"
    needs = ("sample", "onset_frame", "apex_frame")
    gives = ("onset_frame", "apex_frame", "face_cropped", "face_box")
    notes = (FACE_CROPPED_NOTE, FACE_MISSED_NOTE)
    modes = ("auto", "always")

    def __init__(self, margin: float = 0.1, min_size: int = 40, on_miss: str = "error", when: str = "always"):
        if on_miss not in ("error", "keep"):
            raise ValueError(f"face_crop on_miss must be 'error' or 'keep', got {on_miss!r}")
        if when not in self.modes:
            raise ValueError(f"face_crop when must be one of {self.modes}, got {when!r}")
        self.margin, self.min_size, self.on_miss, self.when = float(margin), int(min_size), on_miss, when

    @property
    def config(self) -> dict[str, Any]:
        return {"margin": self.margin, "min_size": self.min_size, "on_miss": self.on_miss, "when": self.when}

    def __call__(self, item: dict[str, Any]) -> dict[str, Any]:
        item["face_cropped"], item["face_box"] = False, None
        sample = item.get("sample")
        if self.when == "auto" and getattr(sample, "cropped", None) is not False:
            return item
        onset = item["onset_frame"]
        box = face_box(onset, self.margin, self.min_size)
        if box is None:
            if self.on_miss == "keep":
                item["face_missed"] = True  # reported by the run (a warning line and run.json), never silent
                return item
            raise ValueError("no face found in the onset frame; use frames that are already cropped, lower "
                             "min_size, or set on_miss=keep")
        item["face_box"] = box
        top, bottom, left, right = box
        item["onset_frame"] = onset[top:bottom, left:right]
        item["apex_frame"] = item["apex_frame"][top:bottom, left:right]
        item["face_cropped"] = True
        return item


def crop_box(box: tuple[int, int, int, int], margin: float, shape: tuple[int, ...]) -> tuple[int, int, int, int]:
    """(top, bottom, left, right) of an (x, y, w, h) box grown by ``margin`` and clipped to the frame."""
    x, y, w, h = box
    dx, dy = int(round(w * margin)), int(round(h * margin))
    return max(0, y - dy), min(shape[0], y + h + dy), max(0, x - dx), min(shape[1], x + w + dx)


#: The common face size the frames are resized to before the flow (the MEAN and Off-TANet
#: pipelines use 128×128), so that flow magnitudes are comparable across datasets.
PRE_FLOW_SIZE = 128


class TvL1Flow(PreprocessingStep):
    """Dense onset→target optical flow with OpenCV's Dual TV-L1 (``cv2.optflow``), in pixels of
    the pre-flow grid.

    Both frames are first resized to ``size``×``size`` (default 128; area interpolation when
    shrinking, bilinear when enlarging): CASME II, SAMM and SMIC faces differ widely in pixels, and
    without one common size the same facial motion would give flow of a different magnitude per
    dataset. ``size=0`` keeps each dataset's native size (not comparable across datasets).
    """

    name = "tvl1_flow"
    needs = ("sample", "onset_frame", "apex_frame")
    gives = ("flow",)

    def __init__(self, tau: float = 0.25, lambda_: float = 0.15, theta: float = 0.3,
                 scales: int = 5, warps: int = 5, epsilon: float = 0.01, size: int = PRE_FLOW_SIZE):
        self.params = dict(tau=float(tau), lambda_=float(lambda_), theta=float(theta), scales=int(scales),
                           warps=int(warps), epsilon=float(epsilon))
        self.size = int(size)
        if self.size < 0:
            raise ValueError(f"tvl1_flow size must be 0 (native size) or a positive pixel size, got {size!r}")

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
            onset, apex = resize_frame(onset, self.size), resize_frame(apex, self.size)
        p = self.params
        tvl1 = cv2.optflow.DualTVL1OpticalFlow_create(
            tau=p["tau"], lambda_=p["lambda_"], theta=p["theta"], nscales=p["scales"],
            warps=p["warps"], epsilon=p["epsilon"],
        )
        item["flow"] = tvl1.calc(onset, apex, None).astype(np.float32)  # (H, W, 2): u, v
        return item


def resize_frame(frame: np.ndarray, size: int) -> np.ndarray:
    """``frame`` resized to size×size: area interpolation when shrinking, bilinear when enlarging."""
    shrinking = size < frame.shape[0] or size < frame.shape[1]
    return cv2.resize(frame, (size, size), interpolation=cv2.INTER_AREA if shrinking else cv2.INTER_LINEAR)


def optical_strain_magnitude(flow: np.ndarray) -> np.ndarray:
    """Magnitude of the infinitesimal strain tensor of a flow field (Liong et al. 2016).

    ε = ½(∇u + ∇uᵀ); magnitude = sqrt(ε_xx² + ε_yy² + 2·ε_xy²), derivatives by central differences.
    """
    u, v = flow[..., 0], flow[..., 1]
    u_y, u_x = np.gradient(u)
    v_y, v_x = np.gradient(v)
    e_xy = 0.5 * (u_y + v_x)
    return np.sqrt(u_x**2 + v_y**2 + 2 * e_xy**2).astype(np.float32)


def offtanet_strain(flow: np.ndarray) -> np.ndarray:
    """Off-TANet's third channel (Zhang et al. 2021, their ``data.py``): from 3×3 Sobel derivatives,
    sqrt(u_x² + u_y² + ½(v_x + u_y)²) — not the strain magnitude (u_y stands where v_y belongs)."""
    u, v = np.ascontiguousarray(flow[..., 0]), np.ascontiguousarray(flow[..., 1])
    u_x, u_y = cv2.Sobel(u, cv2.CV_32F, 1, 0), cv2.Sobel(u, cv2.CV_32F, 0, 1)
    v_x = cv2.Sobel(v, cv2.CV_32F, 1, 0)
    return np.sqrt(u_x**2 + u_y**2 + 0.5 * (v_x + u_y) ** 2).astype(np.float32)


class OpticalStrain(PreprocessingStep):
    """Adds ``item["strain"]``, the optical strain magnitude of ``item["flow"]`` (``form="tensor"``), or
    Off-TANet's variant of it (``form="offtanet"``, see ``offtanet_strain``). The default form adds
    nothing to the step's config, so the chains that predate the option keep their cache and run ids."""

    name = "optical_strain"
    needs = ("flow",)
    gives = ("strain",)
    forms = ("tensor", "offtanet")

    def __init__(self, form: str = "tensor"):
        if form not in self.forms:
            raise ValueError(f"optical_strain form must be one of {self.forms}, got {form!r}")
        self.form = form

    @property
    def config(self) -> dict[str, Any]:
        return {} if self.form == "tensor" else {"form": self.form}

    def __call__(self, item: dict[str, Any]) -> dict[str, Any]:
        strain = optical_strain_magnitude if self.form == "tensor" else offtanet_strain
        item["strain"] = strain(item["flow"])
        return item


class FlowStack(PreprocessingStep):
    """Stacks the chosen channels (from u, v, strain), in the order given, into ``item["image"]``
    (H, W, C).

    ``normalise="none"`` (default) keeps flow in pixels of the pre-flow grid, so magnitudes are
    comparable across samples. ``normalise="minmax"`` rescales each channel of each sample to
    [0, 1] on its own, which is what feeding 8-bit flow renderings does (STSTNet's and
    Dual-Inception's authors did so); a constant channel becomes 0.
    """

    name = "flow_stack"
    needs = ("flow",)  # and strain where present (else computed from the flow)
    gives = ("image",)
    available = ("u", "v", "strain")
    normalisations = ("none", "minmax")

    def __init__(self, channels: str = "u,v,strain", normalise: str = "none"):
        self.channels = tuple(c.strip() for c in channels.split(",")) if isinstance(channels, str) else tuple(channels)
        unknown = set(self.channels) - set(self.available)
        if unknown or not self.channels:
            raise ValueError(f"flow_stack channels must be drawn from {self.available}, got {self.channels}")
        if normalise not in self.normalisations:
            raise ValueError(f"flow_stack normalise must be one of {self.normalisations}, got {normalise!r}")
        self.normalise = normalise

    @property
    def config(self) -> dict[str, Any]:
        return {"channels": list(self.channels), "normalise": self.normalise}

    def __call__(self, item: dict[str, Any]) -> dict[str, Any]:
        planes = {"u": item["flow"][..., 0], "v": item["flow"][..., 1]}
        if "strain" in self.channels:
            planes["strain"] = item["strain"] if "strain" in item else optical_strain_magnitude(item["flow"])
        image = np.stack([planes[c] for c in self.channels], axis=-1).astype(np.float32)
        if self.normalise == "minmax":
            image = np.stack([cv2.normalize(plane, None, 0.0, 1.0, cv2.NORM_MINMAX)
                              for plane in np.moveaxis(image, -1, 0)], axis=-1).astype(np.float32)
        item["image"] = image
        return item


@hookimpl
def mebench_register_preprocessors(register):
    register(PreprocessorSpec(
        "apex_frame", ApexFrame, "Onset and target frames (target=apex: annotated, else max motion; target=middle)",
        options=(Option("rule", str, "max_motion", "how to find an unannotated apex", choices=("max_motion",)),
                 Option("target", str, "apex", "the frame the flow goes to", choices=ApexFrame.targets))))
    register(PreprocessorSpec(
        "face_crop", FaceCrop, "Crop to the Haar-cascade face (offline); when=auto only copies not already cropped",
        options=(Option("margin", float, 0.1, "border added around the face box, as a fraction of its size",
                        minimum=0.0, maximum=1.0),
                 Option("min_size", int, 40, "smallest face the detector looks for, in pixels", minimum=1),
                 Option("on_miss", str, "error", "a frame without a face: refuse, or keep the whole frame",
                        choices=("error", "keep")),
                 Option("when", str, "always", "crop every sample, or only those whose copy is not cropped",
                        choices=FaceCrop.modes))))
    register(PreprocessorSpec(
        "tvl1_flow", TvL1Flow, "Onset→target Dual TV-L1 optical flow at a common pre-flow size (default 128)",
        options=(Option("tau", float, 0.25, "time step", minimum=0.0),
                 Option("lambda_", float, 0.15, "weight of the data term", minimum=0.0),
                 Option("theta", float, 0.3, "tightness", minimum=0.0),
                 Option("scales", int, 5, "pyramid levels", minimum=1),
                 Option("warps", int, 5, "warps per level", minimum=1),
                 Option("epsilon", float, 0.01, "stopping threshold", minimum=0.0),
                 Option("size", int, PRE_FLOW_SIZE, "common frame size before the flow (0: native size)",
                        minimum=0))))
    register(PreprocessorSpec(
        "optical_strain", OpticalStrain, "Optical strain magnitude of the flow (or Off-TANet's variant)",
        options=(Option("form", str, "tensor", "the strain tensor's magnitude, or Off-TANet's Sobel variant",
                        choices=OpticalStrain.forms),)))
    register(PreprocessorSpec(
        "flow_stack", FlowStack, "Stack u, v, strain (in the order given) into the model image; optional min-max",
        options=(Option("channels", str, "u,v,strain", "comma list drawn from u, v, strain, in model order"),
                 Option("normalise", str, "none", "per-sample min-max rescaling of each channel",
                        choices=FlowStack.normalisations))))
