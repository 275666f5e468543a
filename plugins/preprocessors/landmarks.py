"""Facial landmarks → the four facial-area patches HTNet reads (Wang et al., Neurocomputing 2024).

HTNet's authors (``main_HTNet.py``) resize the apex frame to 28×28, take five landmarks from MTCNN
(left eye, right eye, nose, left and right mouth corner, as (x, y)), fall back to fixed landmarks
where detection fails, clamp each coordinate to [7, 21] (truncated to integers), cut a 14×14 patch of
the 28×28 flow image around landmarks 0, 1, 3 and 4 and tile them back to 28×28: [0 | 1] over [3 | 4].
They index the flow image as ``flow[x][y]``, i.e. the x coordinate selects the rows (``swap_xy``).

Two landmark sources: ``fixed`` (the default) cuts every sample around the authors' fallback landmarks;
``mtcnn`` runs the authors' detector — facenet-pytorch's MTCNN, whose weights come with the package, so
nothing downloads — on the 28×28 apex frame and falls back to the fixed landmarks where it finds no face,
as ``main_HTNet.py`` does; each sample's ``landmarks_fallback`` note says which it got and ``run.json``
counts them. facenet-pytorch is optional and not a declared extra: its own pins (torch < 2.3,
torchvision < 0.18) would downgrade torch, while its MTCNN runs on current torch installed without them:
``pip install --no-deps facenet-pytorch``. (No other detector fits: mediapipe's current wheels ship no face
models; OpenCV ships Haar cascades, boxes without landmarks.)
"""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass
from typing import Any, Callable

import numpy as np

from mebench import hookimpl
from mebench.data import PreprocessingStep, PreprocessorSpec, SampleNote
from mebench.errors import PreprocessingError
from mebench.options import Option
from mebench_plugins.preprocessors.optical_flow import resize_frame

#: ``main_HTNet.py``'s fallback landmarks on the 28×28 apex frame, (x, y): left eye, right eye, nose,
#: left and right mouth corner.
HTNET_FALLBACK_LANDMARKS = ((9.528, 11.063), (21.396, 10.920), (15.380, 17.381), (10.255, 22.121), (20.584, 22.256))
#: The landmarks whose patches HTNet tiles, row by row: the eyes over the mouth corners (the nose is unused).
HTNET_TILES = ((0, 1), (3, 4))
#: The side of the apex frame the authors detect landmarks on (and of the grid their landmarks are on).
DETECTION_SIZE = 28
#: How to install the optional detector: without its pins, which would downgrade torch.
MTCNN_INSTALL = "pip install --no-deps facenet-pytorch"

#: ``detect(image)``: the five landmarks (x, y) of a (28, 28, 3) uint8 image's face, or None where it finds none.
Detect = Callable[[np.ndarray], Any]


@dataclass(frozen=True)
class LandmarkDetector:
    """A landmark source: ``load()`` returns its ``detect`` function (once per process); ``requires`` names the
    module it imports, ``install`` how to get it."""

    load: Callable[[], Detect]
    requires: str = ""
    install: str = ""

    def missing(self) -> str | None:
        """Why it cannot load (the module is not installed, and how to install it), else None."""
        if self.requires and importlib.util.find_spec(self.requires) is None:
            return f"its detector needs the optional package {self.requires} ({self.install})"
        return None


def mtcnn_detector() -> Detect:
    """``main_HTNet.py``'s detector: facenet-pytorch's ``MTCNN(margin=0, image_size=28, select_largest=True,
    post_process=False)`` on the CPU; ``detect`` gives the landmarks of the first (largest) face it finds."""
    from facenet_pytorch import MTCNN

    mtcnn = MTCNN(margin=0, image_size=DETECTION_SIZE, select_largest=True, post_process=False, device="cpu")

    def detect(image: np.ndarray):
        _boxes, _probabilities, landmarks = mtcnn.detect(image, landmarks=True)
        return None if landmarks is None else np.asarray(landmarks[0], dtype=np.float64)

    return detect


#: The landmark sources that detect, by name (``fixed`` detects nothing). A test replaces an entry with a stub.
DETECTORS: dict[str, LandmarkDetector] = {
    "mtcnn": LandmarkDetector(mtcnn_detector, requires="facenet_pytorch", install=MTCNN_INSTALL),
}
_loaded: dict[LandmarkDetector, Detect] = {}  # the detect functions loaded in this process


def detected_landmarks(source: str, apex_frame: np.ndarray):
    """The landmarks ``source`` finds on the apex frame resized to 28×28 (grey frames as three equal channels,
    as a colour image the authors read), or None where it finds no face."""
    detector = DETECTORS[source]
    if detector not in _loaded:
        reason = detector.missing()
        if reason:
            raise PreprocessingError(f"htnet_patches landmarks={source}: {reason}; or use landmarks=fixed "
                                     f"(as model htnet does)")
        _loaded[detector] = detector.load()
    image = resize_frame(apex_frame, DETECTION_SIZE)
    image = np.repeat(image[..., None], 3, axis=2) if image.ndim == 2 else image
    landmarks = _loaded[detector](np.ascontiguousarray(image, dtype=np.uint8))
    return None if landmarks is None else [(float(x), float(y)) for x, y in np.asarray(landmarks)[:5]]


def patch_centres(landmarks, grid: int, patch: int, swap_xy: bool) -> list[tuple[int, int]]:
    """(row, column) of each patch centre: landmarks clamped to [patch/2, grid − patch/2] and truncated
    to integers, as HTNet's authors do; with ``swap_xy`` the x coordinate is the row (their indexing)."""
    half = patch // 2
    centres = []
    for x, y in landmarks:
        x, y = (int(min(max(value, half), grid - half)) for value in (x, y))
        centres.append((x, y) if swap_xy else (y, x))
    return centres


def htnet_patch_image(image: np.ndarray, landmarks, grid: int = 28, swap_xy: bool = True) -> np.ndarray:
    """The (grid, grid, C) image of HTNet's four patches, from a flow image resized to grid×grid."""
    if image.shape[:2] != (grid, grid):
        image = resize_frame(image, grid)
        image = image[..., None] if image.ndim == 2 else image
    patch, half = grid // 2, grid // 4
    centres = patch_centres(landmarks, grid, patch, swap_xy)
    cut = [image[r - half:r + half, c - half:c + half] for r, c in centres]
    return np.concatenate([np.concatenate([cut[a], cut[b]], axis=1) for a, b in HTNET_TILES], axis=0)


class HtnetPatches(PreprocessingStep):
    """Replaces ``item["image"]`` (the flow image) by HTNet's four-patch image at ``grid``×``grid``, cut around
    the fixed landmarks or, with a detector, the detected ones where it finds a face (``landmarks_fallback``
    notes which samples got the fixed ones)."""

    name = "htnet_patches"
    needs = ("image", "apex_frame")  # the apex frame only where a detector looks for landmarks on it
    gives = ("image",)
    notes = (SampleNote("landmarks_fallback", "the detector found no face: cut around the fixed landmarks",
                        summary="landmarks", form="outcomes", outcomes=("detected", "fallback")),)
    sources = ("fixed", *DETECTORS)

    def __init__(self, landmarks: str = "fixed", swap_xy: bool = True, grid: int = 28):
        if landmarks not in self.sources:
            raise ValueError(f"htnet_patches landmarks must be one of {self.sources}, got {landmarks!r}")
        reason = DETECTORS[landmarks].missing() if landmarks in DETECTORS else None
        if reason:
            raise ValueError(f"landmarks={landmarks}: {reason}; or use landmarks=fixed (as model htnet does)")
        self.landmarks, self.swap_xy, self.grid = landmarks, bool(swap_xy), int(grid)
        if landmarks == "fixed":
            self.needs = ("image",)
        if self.grid < 4 or self.grid % 4:
            raise ValueError(f"htnet_patches grid must be a multiple of 4, got {grid!r}")

    @property
    def config(self) -> dict[str, Any]:
        return {"landmarks": self.landmarks, "swap_xy": self.swap_xy, "grid": self.grid}

    def __call__(self, item: dict[str, Any]) -> dict[str, Any]:
        found = None if self.landmarks == "fixed" else detected_landmarks(self.landmarks, item["apex_frame"])
        if self.landmarks != "fixed":
            item["landmarks_fallback"] = found is None
        scale = self.grid / DETECTION_SIZE  # landmarks are on the authors' 28×28 grid
        landmarks = [(x * scale, y * scale) for x, y in (found or HTNET_FALLBACK_LANDMARKS)]
        item["image"] = htnet_patch_image(item["image"], landmarks, self.grid, self.swap_xy)
        return item


@hookimpl
def mebench_register_preprocessors(register):
    register(PreprocessorSpec(
        "htnet_patches", HtnetPatches, "HTNet's four landmark patches of the flow image, tiled back to 28×28",
        options=(Option("landmarks", str, "fixed", "landmark source (fixed: the authors' fallback landmarks for "
                                                   "every sample; mtcnn: the authors' detector, the fallback where "
                                                   f"it finds no face; needs {MTCNN_INSTALL})",
                        choices=HtnetPatches.sources),
                 Option("swap_xy", bool, True, "index the image [x][y] as the authors do (rows by x)"),
                 Option("grid", int, 28, "size of the resized flow image and of the tiled output", minimum=4))))
