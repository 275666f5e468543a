"""Facial landmarks → the four facial-area patches HTNet reads (Wang et al., Neurocomputing 2024).

HTNet's authors (``main_HTNet.py``) resize the apex frame to 28×28, take five landmarks from MTCNN
(left eye, right eye, nose, left and right mouth corner, as (x, y)), fall back to fixed landmarks
where detection fails, clamp each coordinate to [7, 21] (truncated to integers), cut a 14×14 patch of
the 28×28 flow image around landmarks 0, 1, 3 and 4 and tile them back to 28×28: [0 | 1] over [3 | 4].
They index the flow image as ``flow[x][y]``, i.e. the x coordinate selects the rows (``swap_xy``).

The only landmark source here is the fixed one (``landmarks="fixed"``): no face-landmark detector
installs from the package index and works offline with this project's dependencies — facenet-pytorch
bundles MTCNN's weights but pins torch < 2.3; mediapipe's current wheels ship no face models; OpenCV
ships Haar cascades (boxes, not landmarks). With fixed landmarks every sample is cut the same way.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from mebench import hookimpl
from mebench.data import PreprocessingStep, PreprocessorSpec
from mebench.options import Option
from mebench_plugins.preprocessors.optical_flow import resize_frame

#: ``main_HTNet.py``'s fallback landmarks on the 28×28 apex frame, (x, y): left eye, right eye, nose,
#: left and right mouth corner.
HTNET_FALLBACK_LANDMARKS = ((9.528, 11.063), (21.396, 10.920), (15.380, 17.381), (10.255, 22.121), (20.584, 22.256))
#: The landmarks whose patches HTNet tiles, row by row: the eyes over the mouth corners (the nose is unused).
HTNET_TILES = ((0, 1), (3, 4))


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
    """Replaces ``item["image"]`` (the flow image) by HTNet's four-patch image at ``grid``×``grid``."""

    name = "htnet_patches"
    sources = ("fixed",)

    def __init__(self, landmarks: str = "fixed", swap_xy: bool = True, grid: int = 28):
        if landmarks not in self.sources:
            raise ValueError(f"htnet_patches landmarks must be one of {self.sources}, got {landmarks!r}")
        self.landmarks, self.swap_xy, self.grid = landmarks, bool(swap_xy), int(grid)
        if self.grid < 4 or self.grid % 4:
            raise ValueError(f"htnet_patches grid must be a multiple of 4, got {grid!r}")

    @property
    def config(self) -> dict[str, Any]:
        return {"landmarks": self.landmarks, "swap_xy": self.swap_xy, "grid": self.grid}

    def __call__(self, item: dict[str, Any]) -> dict[str, Any]:
        scale = self.grid / 28.0  # the fallback landmarks are on the authors' 28×28 grid
        landmarks = [(x * scale, y * scale) for x, y in HTNET_FALLBACK_LANDMARKS]
        item["image"] = htnet_patch_image(item["image"], landmarks, self.grid, self.swap_xy)
        return item


@hookimpl
def mebench_register_preprocessors(register):
    register(PreprocessorSpec(
        "htnet_patches", HtnetPatches, "HTNet's four landmark patches of the flow image, tiled back to 28×28",
        options=(Option("landmarks", str, "fixed", "landmark source (fixed: the authors' fallback landmarks; no "
                                                   "offline detector installs with this project)",
                        choices=HtnetPatches.sources),
                 Option("swap_xy", bool, True, "index the image [x][y] as the authors do (rows by x)"),
                 Option("grid", int, 28, "size of the resized flow image and of the tiled output", minimum=4))))
