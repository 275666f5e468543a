"""Frames stored as numbered image files, as every database and a challenge's unlabelled videos distribute them:
a frame's number is the last run of digits in its file name (``img46.jpg`` is frame 46, ``006_1_0001.jpg`` frame 1),
never a position counted from 0, so intervals name the frames the organisers' ground truth names."""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from mebench.data import FrameSource
from mebench.errors import DataError

FRAME_NUMBER = re.compile(r"(\d+)(?!.*\d)")  # the last run of digits in a file name
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp")


@dataclass(frozen=True)
class FrameFiles(FrameSource):
    """Frames in one folder, indexed by the number in each file name."""

    folder: Path
    files: tuple[tuple[int, str], ...]

    def indices(self) -> list[int]:
        return [index for index, _ in self.files]

    def path(self, index: int) -> Path:
        for number, name in self.files:
            if number == index:
                return self.folder / name
        raise DataError(self.folder, f"no frame numbered {index}", "check the annotation against the file names")

    def load(self, index: int) -> np.ndarray:
        path = self.path(index)
        image = cv2.imread(str(path), cv2.IMREAD_GRAYSCALE)
        if image is None:
            raise DataError(path, "unreadable image", "the file is corrupt or not an image; restore it from your copy")
        return image

    def span(self, onset: int, offset: int) -> "FrameFiles":
        """The frames numbered onset..offset: a sample cut from a whole recording (CAS(ME)³, SMIC-E)."""
        return FrameFiles(self.folder, tuple((n, name) for n, name in self.files if onset <= n <= offset))

    def fingerprint(self) -> str:
        digest = hashlib.sha256()
        for _, name in self.files:
            stat = (self.folder / name).stat()
            digest.update(f"{self.folder / name}:{stat.st_size}:{stat.st_mtime_ns};".encode())
        return digest.hexdigest()


def number_frames(folder: Path) -> FrameFiles:
    """The image files of ``folder`` by frame number (gaps allowed; possibly none). A frame file without a number,
    or two files of one number, is refused in one line naming it."""
    numbered: dict[int, str] = {}
    for path in sorted(folder.iterdir()):
        if path.suffix.lower() not in IMAGE_SUFFIXES or not path.is_file():
            continue
        match = FRAME_NUMBER.search(path.stem)
        if not match:
            raise DataError(path, "frame file name has no frame number", "name frames like img046.jpg")
        number = int(match.group(1))
        if number in numbered:
            raise DataError(folder, f"two frames numbered {number}: {numbered[number]} and {path.name}",
                            "keep one file per frame")
        numbered[number] = path.name
    return FrameFiles(folder, tuple(sorted(numbered.items())))
