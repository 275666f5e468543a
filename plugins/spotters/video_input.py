"""A spotter's input at video scale: each long video as a small grey face video, read once, cached per video.

A long video is thousands of frames (CAS(ME)² ≈ 0.4 M frames in 98 videos, SAMM Long Videos ≈ 1 M), too many to
hold at full size. This module reads a video's frames in file order, one at a time, crops each to the face
found once for the whole video, resizes it to the declared face size and keeps only that small frame:

- ``face_video(video, size, crop) -> (T, size, size) uint8``: the prepared face video (streamed).
- ``flows(faces, k, method) -> (T − k, H, W, 2) float32``: the flow from frame j to frame j + k, for every j.
- ``VideoCache(folder)``: both of them on disk per video, keyed by the video's fingerprint and every setting
  that makes them (crop, size, flow method, k); written atomically, read back memory-mapped.
- ``map_videos(function, videos, workers, progress)``: a function over videos in worker processes, with a
  progress bar of videos; the same results as in this process.

The face: where the reader says the frames are not face crops (``LongVideo.cropped`` false: every challenge
database's long videos) OpenCV's frontal-face Haar cascade (``cv2.data.haarcascades``) looks at the first
frames; the largest face of the first frame that has one, grown by a margin, is kept for the whole video. A
video where no face is found is refused in one line naming the video and the fix (``--model-opt crop=none``).
Face crops (``cropped`` true: ``synthetic-long``) and frames the reader says nothing about (None) are used whole.
"""

from __future__ import annotations

import functools
import hashlib
import json
import multiprocessing
import os
import tempfile
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any, Callable, Sequence

import cv2
import numpy as np
from tqdm.auto import tqdm

from mebench.api import DataError, Option, OptionError
from mebench_plugins.preprocessors.optical_flow import face_box
from mebench_plugins.spotters import FLOW_METHODS, optical_flow

#: The authors' face size for MDMD (the MEGC2020 baseline resizes each cropped face to 227 × 227).
AUTHORS_FACE_SIZE = 227
#: How many of a video's first frames the face detector looks at (it stops at the first with a face).
FACE_SEARCH_FRAMES = 10
#: The box around the detected face, grown by this fraction of its width and height on each side.
FACE_MARGIN = 0.1
#: The smallest face the detector reports, pixels.
FACE_MIN_SIZE = 40
CROPS = ("auto", "none")

#: The options every spotter reading through this module declares (``--model-opt``).
VIDEO_OPTIONS = (
    Option("face_size", int, 0, "side of the square grey face frames the spotter reads, pixels; 0: the authors' "
                                "227 where mebench crops the face, else the frames' own size", minimum=0),
    Option("crop", str, "auto", "auto: find the face once per video (OpenCV's Haar cascade on its first frames) "
                                "where the reader says the frames are not face crops; none: the whole frames",
           choices=CROPS),
)
#: What a spotter that asks for its flows to be cached declares too.
FLOW_CACHE_OPTION = Option(
    "cache_flows", bool, False, "keep each video's flows in the cache too, so that a second run (another p or "
                                "length bound) computes none; 8 bytes per pixel and frame per distance (T × "
                                "size² × 8: 1.3 GB per 10,000 frames at 128 × 128)")


def check_face_size(size: int, min_size: int, spotter: str) -> None:
    """Refuse (``OptionError``, one line) a ``face_size`` other than 0 below the spotter's smallest face."""
    if 0 < size < min_size:
        raise OptionError(f"--model-opt face_size={size}: spotter {spotter!r} needs faces of at least {min_size} × "
                          f"{min_size} pixels; give face_size={min_size} or more (or 0 for the default)")


def find_face(video: Any, detector: Callable[[np.ndarray], Any] | None = None,
              frames: int = FACE_SEARCH_FRAMES) -> tuple[int, int, int, int]:
    """(top, bottom, left, right) of the face in ``video``: ``detector(frame)`` (default: the largest face of
    OpenCV's Haar cascade, grown by ``FACE_MARGIN``) on its first ``frames`` frames, one at a time, the first box
    found. No face in any of them: a ``DataError`` naming the video and the fix."""
    detector = detector or functools.partial(face_box, margin=FACE_MARGIN, min_size=FACE_MIN_SIZE)
    numbers = list(video.frames.indices())[:frames]
    for number in numbers:
        box = detector(video.frames.load(number))
        if box is not None:
            return tuple(int(value) for value in box)
    raise DataError(f"video {video.id}", f"no face found in its first {len(numbers)} frames (OpenCV's Haar cascade)",
                    "give --model-opt crop=none to spot its whole frames, or use a copy with face crops")


def face_box_of(video: Any, crop: str, detector: Callable[[np.ndarray], Any] | None = None
                ) -> tuple[int, int, int, int] | None:
    """The box ``face_video`` crops ``video`` to: ``find_face`` where ``crops_face``, else None."""
    return find_face(video, detector) if crops_face(video, crop) else None


def crops_face(video: Any, crop: str) -> bool:
    """Whether ``face_video`` crops ``video`` to a face it finds: ``crop`` auto and a reader that says its frames
    are not face crops (``video.cropped`` false; unknown, None, is left whole, as recognition's ``face_crop``
    ``when=auto`` leaves it)."""
    if crop not in CROPS:
        raise ValueError(f"crop must be one of {', '.join(CROPS)}; got {crop!r}")
    return crop == "auto" and video.cropped is False


def face_side(size: int, cropped_here: bool) -> int:
    """The side the frames are resized to: ``size``; for 0, the authors' 227 where the face is cropped here,
    else 0 (the frames keep their size)."""
    return size or (AUTHORS_FACE_SIZE if cropped_here else 0)


def _face_frame(frame: np.ndarray, box: tuple[int, int, int, int] | None, side: int) -> np.ndarray:
    """One frame as grey uint8, cropped to ``box`` and resized to ``side`` × ``side`` (0: as it is)."""
    frame = np.asarray(frame)
    if frame.ndim == 3:
        frame = cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY)
    if box is not None:
        top, bottom, left, right = box
        frame = frame[top:bottom, left:right]
    if side:
        frame = cv2.resize(frame, (side, side), interpolation=cv2.INTER_AREA)
    return np.array(frame, dtype=np.uint8)  # a copy: the full-size frame it came from is released


def face_video(video: Any, size: int = 0, crop: str = "auto", box: tuple[int, int, int, int] | None = None,
               out: np.ndarray | None = None) -> np.ndarray:
    """The grey face video of ``video``: (T, side, side) uint8 with the side of ``face_side`` (or (T, H, W) at
    the frames' size), its frames in file order. Frames are read one at a time and only the small face frame
    is kept. ``box``: the (top, bottom, left, right) crop, found by ``face_box_of(video, crop)`` when not given.
    ``out``: an array of the right shape to fill (a memory-mapped cache file)."""
    box = box if box is not None else face_box_of(video, crop)
    side = face_side(size, box is not None)
    numbers = list(video.frames.indices())
    for position, number in enumerate(numbers):
        small = _face_frame(video.frames.load(number), box, side)
        if out is None:
            out = np.empty((len(numbers), *small.shape), dtype=np.uint8)
        out[position] = small
    return out


def flows(faces: np.ndarray, k: int, method: str, out: np.ndarray | None = None) -> np.ndarray:
    """The flow from frame j to frame j + k of a (T, H, W) uint8 face video, for j = 0 … T − k − 1:
    (T − k, H, W, 2) float32 (OpenCV's own precision: ``optical_flow``'s float64 values are these exactly).
    ``out``: an array of that shape to fill."""
    if method not in FLOW_METHODS:
        raise ValueError(f"flow must be one of {', '.join(FLOW_METHODS)}; got {method!r}")
    count = max(0, len(faces) - k)
    out = out if out is not None else np.empty((count, *faces.shape[1:], 2), dtype=np.float32)
    for j in range(count):
        out[j] = optical_flow(faces[j], faces[j + k], method)
    return out


def _key_hash(key: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps(key, sort_keys=True).encode()).hexdigest()[:16]


class VideoCache:
    """A spotter's per-video arrays under ``folder`` (the run's cache folder: ``--cache-dir``, else
    ``$MEBENCH_CACHE`` or ``~/.cache/mebench``): ``spotting/<fingerprint>/<what>-<hash of its key>.npy``. A video
    without a fingerprint is never cached. Entries are written to a temporary file and renamed into place, so a
    killed run leaves none half written; they are read memory-mapped."""

    def __init__(self, folder: Path | str):
        self.root = Path(folder) / "spotting"

    def path(self, video: Any, what: str, key: dict[str, Any]) -> Path | None:
        if not video.fingerprint:
            return None
        return self.root / video.fingerprint[:2] / video.fingerprint / f"{what}-{_key_hash(key)}.npy"

    def array(self, path: Path | None, shape: tuple[int, ...], dtype: Any,
              fill: Callable[[np.ndarray | None], np.ndarray]) -> np.ndarray:
        """The entry at ``path`` (read-only, memory-mapped), else ``fill(out)`` written there: ``out`` a writable
        memory-mapped array of ``shape`` (None where ``shape`` is unknown: ``fill`` then returns the array)."""
        if path is not None and path.exists():
            try:
                return np.load(path, mmap_mode="r", allow_pickle=False)
            except (OSError, ValueError):
                path.unlink(missing_ok=True)  # damaged: computed again
        if path is None:
            return fill(None)
        path.parent.mkdir(parents=True, exist_ok=True)
        handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=".tmp-", suffix=".npy")
        os.close(handle)
        try:
            if shape is None:
                np.save(temporary, fill(None))
            else:
                out = np.lib.format.open_memmap(temporary, mode="w+", dtype=dtype, shape=shape)
                fill(out)
                out.flush()
                del out
            os.replace(temporary, path)
        except BaseException:
            Path(temporary).unlink(missing_ok=True)
            raise
        return np.load(path, mmap_mode="r", allow_pickle=False)


class LearnedSpotterInput:
    """What the learned spotters (SOFTNet, MTSN, MEAN) share around their net: the run's cache folder the spotter
    learner gives them before ``fit`` (``use_cache``), through which their input paths read each video's face video
    and flows (``self._cache``: every fold after the first reads them back), and the parameter count of the net
    ``fit`` builds (``net_class``, a module class built without arguments), counted on the meta device: no memory,
    no random numbers drawn."""

    net_class: type
    _cache: VideoCache | None = None

    def use_cache(self, folder: str | Path) -> None:
        self._cache = VideoCache(folder)

    @property
    def n_parameters(self) -> int:
        import torch

        with torch.device("meta"):
            return sum(parameter.numel() for parameter in self.net_class().parameters())


def face_key(video: Any, size: int, crop: str) -> dict[str, Any]:
    """What makes ``video``'s face video besides its frames (which its fingerprint covers): whether the face is
    cropped here, and by which detector settings, and the side."""
    cropped_here = crops_face(video, crop)
    return {"crop": cropped_here, "side": face_side(size, cropped_here),
            "search": [FACE_SEARCH_FRAMES, FACE_MARGIN, FACE_MIN_SIZE] if cropped_here else None}


def cached_face_video(video: Any, size: int, crop: str, cache: VideoCache | None = None) -> np.ndarray:
    """``face_video`` through ``cache`` (keyed by the video's fingerprint and ``face_key``: a cached video finds
    no face again); without a cache, computed."""
    if cache is None:
        return face_video(video, size, crop)
    key = face_key(video, size, crop)
    shape = (video.n_frames, key["side"], key["side"]) if key["side"] else None
    return cache.array(cache.path(video, "faces", key), shape, np.uint8,
                       lambda out: face_video(video, size, crop, None, out))


def cached_flows(video: Any, faces: np.ndarray, face_key: dict[str, Any], k: int, method: str,
                 cache: VideoCache | None = None) -> np.ndarray:
    """``flows(faces, k, method)`` through ``cache``, keyed by ``face_key`` (what made ``faces``), k and the
    method."""
    if cache is None:
        return flows(faces, k, method)
    shape = (max(0, len(faces) - k), *faces.shape[1:], 2)
    return cache.array(cache.path(video, "flows", {**face_key, "k": k, "method": method}), shape, np.float32,
                       lambda out: flows(faces, k, method, out))


#: What a learned spotter declares: it reads each training video again in every fold, so its flows are cached by
#: default (one file per video, distance and method).
LEARNED_FLOW_CACHE_OPTION = Option(
    "cache_flows", bool, True, "keep each video's flows in the run's cache folder, so that every fold after the first "
                               "reads them back (the same answers); 8 bytes per pixel and frame per distance (T × "
                               "128² × 8: 1.3 GB per 10,000 frames); false: computed in every fold")


def face_flows(video: Any, size: int, crop: str, k: int, method: str, cache: VideoCache | None = None,
               cache_flows: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """(the face video, its flows k apart) of ``video``: the face video through ``cache``, the flows too where
    ``cache_flows`` (keyed by the face's key, k and the method: computed once per video for every fold that reads
    it); without a cache, both computed. The flows are the same float32 values either way."""
    faces = cached_face_video(video, size, crop, cache)
    return faces, cached_flows(video, faces, face_key(video, size, crop), k, method, cache if cache_flows else None)


def _worker_init() -> None:
    cv2.setNumThreads(1)


#: Fewer frames than this in all (a fold of short videos) are spotted in this process: starting worker processes
#: (each imports mebench) costs seconds.
PARALLEL_MIN_FRAMES = 5_000


def available_cores() -> int:
    """The cores this process may run on."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def map_videos(function: Callable[[Any], Any], videos: Sequence[Any], workers: int | None = None,
               progress: bool = False, desc: str = "videos", min_frames: int | None = None) -> list[Any]:
    """``[function(video) for video in videos]``, in ``workers`` processes (None: the cores available; 1: in
    this process), with a progress bar of videos; in this process too where the videos hold fewer than
    ``min_frames`` frames in all (None: ``PARALLEL_MIN_FRAMES``). ``function`` and the videos must be picklable."""
    workers = workers if workers is not None else available_cores()
    if sum(video.n_frames for video in videos) < (PARALLEL_MIN_FRAMES if min_frames is None else min_frames):
        workers = 1
    workers = max(1, min(workers, len(videos)))
    bar = tqdm(total=len(videos), desc=desc, unit="video", disable=not progress, leave=False)
    try:
        if workers == 1:
            results = []
            for video in videos:
                results.append(function(video))
                bar.update()
            return results
        methods = multiprocessing.get_all_start_methods()
        context = multiprocessing.get_context("forkserver" if "forkserver" in methods else "spawn")
        pool = ProcessPoolExecutor(workers, mp_context=context, initializer=_worker_init)
        try:
            futures = [pool.submit(function, video) for video in videos]
            for future in futures:
                future.add_done_callback(lambda _future: bar.update())
            results = [future.result() for future in futures]
        except BaseException:  # a video that fails (or Ctrl-C) stops the others
            pool.shutdown(wait=False, cancel_futures=True)
            raise
        pool.shutdown(wait=True)
        return results
    finally:
        bar.close()
