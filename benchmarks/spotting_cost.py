"""Spotting cost: frames per second per core of each optical flow choice and each hand-crafted spotter at the
face sizes that matter, measured side by side in one run on generated frames, and what a whole long-video
database costs from its size.

    python benchmarks/spotting_cost.py                      # 227×227, 128×128, 64×64 (about a minute on 2 cores)
    python benchmarks/spotting_cost.py --quick              # a few seconds: 64×64, a handful of frames (CI smoke)
    python benchmarks/spotting_cost.py --sizes 128,64 --frames 100 --seconds 5

Measured, one thread (``cv2.setNumThreads(1)``, ``torch.set_num_threads(1)``, one BLAS/OpenMP thread):

- ``flow <method>``: a spotter's input, one dense flow per frame between frames k apart (k = 12, the
  MEGC2020 baseline's ME distance at 30 fps), with ``mebench_plugins.spotters.optical_flow`` for each of
  ``FLOW_METHODS``: ``rlof`` (the baseline's method), ``tvl1`` (Dual TV-L1), ``dis`` (the fast choice);
- ``mdmd <method>``: ``mdmd.mdmd_scores`` frame by frame, for one expression type: two flows per frame
  (i − k → i and i − k → i + k) and the block feature; MDMD as registered spots ME and MaE, each with its own
  k, so the spotter costs twice that per frame;
- ``feature-difference``: ``feature_difference.feature_difference_scores`` (block LBP histograms and χ²
  distances, no flow) over chunks of consecutive frames;
- ``streamed <method>``: the streamed path of ``mebench_plugins.spotters.video_input`` as a run takes it, per
  frame: a full-size 640 × 480 frame cropped to its face box (240 × 240) and resized to the face size
  (``video_input.face_video``'s step), then one flow between face frames k apart (``video_input.flows``'s step)
  — for ``dis`` and ``tvl1``;
- ``cache read faces`` / ``cache read flows``: a second run's input, a video's face frames (or its flows k apart)
  read back from ``video_input.VideoCache`` (written untimed to a temporary folder; the OS's file cache holds
  them, as it does on a second run soon after the first).

Each figure times one video's frames after one untimed warm-up call: up to ``--frames`` frames, stopping once
``--seconds`` have passed (at least two frames); the rate is frames / CPU seconds of this one-thread process,
so that other work on a shared machine is not counted (the run prints the share of its wall time it had a
core; caches and memory bandwidth are still shared). The frames are those of a generated ``synthetic-long``
video at each size (planted expressions, blinks, head drift and noise), rendered before timing. Reading and
decoding image files are not timed; the face crop and the resize are, in the ``streamed`` figures only.

The full-set cost assumes the videos are spread over 2 processes, one per core, each at the measured
per-core rate (the videos are independent): wall time = frames / (2 × per-core rate). As a check the fast
flow also runs in 2 forked processes at once (about ``--seconds`` of flows each), timed on the clock, with the
cores they had on average: on a shared machine other work takes cores from them. The databases' sizes are the
MEGC2024 challenge page's (``DATABASES``).
"""

from __future__ import annotations

import os

for _variable in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_variable] = "1"  # per-core figures: one thread everywhere, set before numpy loads

import argparse  # noqa: E402
import multiprocessing  # noqa: E402
import resource  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from dataclasses import dataclass  # noqa: E402
from typing import Callable, Sequence  # noqa: E402

import cv2  # noqa: E402
import numpy as np  # noqa: E402
import torch  # noqa: E402

from mebench_plugins.datasets.synthetic_long import FPS, load_synthetic_long  # noqa: E402
from mebench_plugins.spotters import FLOW_METHODS, default_frames, optical_flow  # noqa: E402
from mebench_plugins.spotters import feature_difference, mdmd, video_input  # noqa: E402
from mebench.long_videos import LongVideo  # noqa: E402

#: The MEGC baseline crops and resizes faces to 227 × 227 (``mdmd.CARD.input_chain``); 128 and 64 are the
#: early downscales a video-scale chain may choose.
DEFAULT_SIZES = (227, 128, 64)
CORES = 2
FAST_FLOW = "dis"
TARGET_SECONDS = 600.0  # issue 28: a spotter's input for all of CAS(ME)² in under 10 minutes on 2 cores


@dataclass(frozen=True)
class Database:
    """A long-video database's size as published: videos, their average duration and frame rate."""

    name: str
    videos: int
    average_seconds: float
    fps: int
    source: str

    @property
    def frames(self) -> int:
        return round(self.videos * self.average_seconds * self.fps)


MEGC2024 = "https://megc2024.github.io/challenge.html, 'Recommended Training Databases'"
DATABASES = (
    Database("CAS(ME)²", 97, 148.0, 30, f"{MEGC2024}: \"CAS(ME)2 with 97 long videos at 30 fps (average duration: "
                                        "148s)\""),
    Database("SAMM-LV", 147, 35.5, 200, f"{MEGC2024}: \"SAMM Long Videos with 147 long videos at 200 fps (average "
                                        "duration: 35.5s)\""),
)


@dataclass(frozen=True)
class Figure:
    """One measurement: ``frames`` processed in ``cpu_seconds`` of this one-thread process (``wall_seconds`` on
    the clock: more where the machine is shared and the process waits for a core)."""

    frames: int
    cpu_seconds: float
    wall_seconds: float

    @property
    def per_core(self) -> float:
        return self.frames / self.cpu_seconds


def measure(step: Callable[[int], int], limit: int, budget: float) -> Figure:
    """Call ``step(n)`` (it processes frames from position n on and returns how many) until ``limit`` frames are
    done or ``budget`` seconds have passed after at least two frames; one untimed warm-up call first."""
    step(0)
    done, start, cpu_start = 0, time.perf_counter(), time.process_time()
    while done < limit and (done < 2 or time.perf_counter() - start < budget):
        done += step(done)
    return Figure(done, time.process_time() - cpu_start, time.perf_counter() - start)


def video_frames(size: int, count: int) -> np.ndarray:
    """``count`` grey frames of one generated ``synthetic-long`` video at ``size`` × ``size``, (count, H, W) uint8."""
    seconds = max(12.0, count / FPS + 2.0)  # room for the generator's planted events
    video = load_synthetic_long(preset="quick", subjects=2, videos_per_subject=1, seconds=seconds, size=size)[0]
    numbers = video.frames.indices()[:count]
    return np.stack([video.frames.load(number) for number in numbers])


def measure_size(size: int, limit: int, budget: float) -> dict[str, Figure]:
    """Every choice at one face size, side by side on the same frames."""
    k = default_frames(mdmd.K_SECONDS["me"], FPS)  # 12 at 30 fps, as the MEGC2020 baseline's ME k
    k_lbp = default_frames(feature_difference.K_SECONDS, FPS)
    chunk = 32
    frames = video_frames(size, limit + 2 * k + chunk)
    figures = {}
    for method in FLOW_METHODS:
        def flow(n: int, method: str = method) -> int:
            optical_flow(frames[n], frames[n + k], method)
            return 1

        figures[f"flow {method}"] = measure(flow, limit, budget)
    for method in FLOW_METHODS:
        def scores(n: int, method: str = method) -> int:
            mdmd.mdmd_scores(frames[n:n + 2 * k + 1], k, flow=method)  # frame n + k: two flows and its feature
            return 1

        figures[f"mdmd {method}"] = measure(scores, limit, budget)

    def lbp(n: int) -> int:
        feature_difference.feature_difference_scores(frames[n:n + chunk], k_lbp)
        return chunk

    figures["feature-difference"] = measure(lbp, limit, budget)
    return figures


#: The streamed figures' full-size frames: a 240 × 240 face in a 640 × 480 frame, as a camera frame holds it.
FULL_SIZE, FACE_BOX = (480, 640), (120, 360, 200, 440)
STREAMED_FLOWS = ("dis", "tvl1")


def full_size_frames(count: int) -> np.ndarray:
    """``count`` full-size grey frames: a generated ``synthetic-long`` face (240 × 240) in a 640 × 480 frame."""
    faces = video_frames(FACE_BOX[1] - FACE_BOX[0], count)
    frames = np.full((count, *FULL_SIZE), 100, np.uint8)
    frames[:, FACE_BOX[0]:FACE_BOX[1], FACE_BOX[2]:FACE_BOX[3]] = faces
    return frames


class _Frames:
    """Full-size frames 1..T from memory, as a ``FrameSource`` (reading the image files is not timed)."""

    def __init__(self, frames: np.ndarray):
        self.frames = frames

    def indices(self) -> list[int]:
        return list(range(1, len(self.frames) + 1))

    def load(self, index: int) -> np.ndarray:
        return self.frames[index - 1]


def measure_streamed(size: int, limit: int, budget: float, full: np.ndarray) -> dict[str, Figure]:
    """The streamed path at one face size: crop + resize + one flow per frame, and the cache read of a second run."""
    k = default_frames(mdmd.K_SECONDS["me"], FPS)
    count = min(len(full) - k, limit)
    figures = {}
    for method in STREAMED_FLOWS:
        faces = np.empty((len(full), size, size), np.uint8)
        for n in range(k):
            faces[n] = video_input._face_frame(full[n], FACE_BOX, size)

        def streamed(n: int, method: str = method, faces: np.ndarray = faces) -> int:
            n = n % count
            faces[n + k] = video_input._face_frame(full[n + k], FACE_BOX, size)
            optical_flow(faces[n], faces[n + k], method)
            return 1

        figures[f"streamed {method}"] = measure(streamed, limit, budget)
    video = LongVideo("bench-long", "bench-long/s1", f"v{size}", FPS, _Frames(full[:count + k]), count + k,
                      cropped=True, fingerprint=f"{size:064d}")
    with tempfile.TemporaryDirectory() as folder:
        cache = video_input.VideoCache(folder)
        faces = video_input.cached_face_video(video, size, "auto", cache)  # written here, untimed
        key = video_input.face_key(video, size, "auto")
        video_input.cached_flows(video, faces, key, k, FAST_FLOW, cache)

        def read_faces(n: int) -> int:
            return len(np.array(video_input.cached_face_video(video, size, "auto", cache)))

        def read_flows(n: int) -> int:
            return len(np.array(video_input.cached_flows(video, faces, key, k, FAST_FLOW, cache)))

        figures["cache read faces"] = measure(read_faces, 2, budget)
        figures["cache read flows"] = measure(read_flows, 2, budget)
    return figures


def _flows(frames: np.ndarray, k: int, method: str, count: int) -> None:
    for n in range(count):
        first = n % (len(frames) - k)
        optical_flow(frames[first], frames[first + k], method)


def _children_cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def two_process_rate(size: int, count: int, method: str = FAST_FLOW) -> tuple[float, float]:
    """(frames per wall second, cores they had on average) of ``CORES`` forked processes computing ``count`` flows
    each on the same frames: a check of the per-core × cores arithmetic (on a shared machine other work takes
    cores from them, which the second figure shows)."""
    k = default_frames(mdmd.K_SECONDS["me"], FPS)
    frames = video_frames(size, 100 + k)
    context = multiprocessing.get_context("fork")
    start, cpu_start = time.perf_counter(), _children_cpu_seconds()
    workers = [context.Process(target=_flows, args=(frames, k, method, count)) for _ in range(CORES)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    wall = time.perf_counter() - start
    return CORES * count / wall, (_children_cpu_seconds() - cpu_start) / wall


def duration(seconds: float) -> str:
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 2 * 3600:
        return f"{seconds / 60:.1f} min"
    if seconds < 2 * 86400:
        return f"{seconds / 3600:.1f} h"
    return f"{seconds / 86400:.1f} days"


def rate(value: float) -> str:
    return f"{value:,.1f}" if value < 100 else f"{value:,.0f}"


def table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    return "\n".join(lines + ["| " + " | ".join(row) + " |" for row in rows])


def spotter_rate(choice: str, figure: Figure) -> float:
    """Frames per second per core of the input or spotter as a run uses it: MDMD spots ME and MaE separately."""
    return figure.per_core / 2 if choice.startswith("mdmd") else figure.per_core


def report(results: dict[int, dict[str, Figure]], parallel: dict[int, tuple[float, float]],
           streamed: dict[int, dict[str, Figure]] | None = None) -> str:
    sizes = list(results)
    choices = list(results[sizes[0]])
    heads = [f"{size}×{size}" for size in sizes]
    figures = [figure for by_choice in results.values() for figure in by_choice.values()]
    share = sum(figure.cpu_seconds for figure in figures) / sum(figure.wall_seconds for figure in figures)
    out = ["frames per second per core: frames / CPU seconds of this one-thread process, measured side by side "
           f"in this run (it ran on a core {share:.0%} of its timed wall time); in brackets: frames timed",
           table(["choice"] + heads,
                 [[choice] + [f"{rate(results[size][choice].per_core)} ({results[size][choice].frames})"
                              for size in sizes] for choice in choices]),
           "flow: one flow per frame (a spotter's input); mdmd: one expression type, 2 flows per frame; MDMD "
           "computes 2 flows per frame per expression type, so spotting ME and MaE costs 4 flows per frame "
           "(half the mdmd rate, used below); feature-difference: LBP histograms, no flow.", ""]
    for database in DATABASES:
        out += [f"{database.name}: {database.frames:,} frames = {database.videos} videos × "
                f"{database.average_seconds:g} s × {database.fps} fps ({database.source})",
                f"full-set wall time on {CORES} cores (videos over {CORES} processes at the per-core rate):",
                table(["choice"] + heads,
                      [[choice + (" (ME + MaE)" if choice.startswith("mdmd") else "")]
                       + [duration(database.frames / (CORES * spotter_rate(choice, results[size][choice])))
                          for size in sizes] for choice in choices]), ""]
    casme = DATABASES[0]
    needed = casme.frames / TARGET_SECONDS
    out.append(f"target: a spotter's input for all of {casme.name} ({casme.frames:,} frames) in under "
               f"{TARGET_SECONDS / 60:.0f} minutes on {CORES} cores with the fast choice ({FAST_FLOW}): "
               f"{needed:,.0f} frames/s")
    for size in sizes:
        measured = CORES * results[size][f"flow {FAST_FLOW}"].per_core
        seconds = casme.frames / measured
        verdict = "met" if seconds < TARGET_SECONDS else "not met"
        out.append(f"target at {size}×{size}: {verdict}: {measured:,.0f} frames/s on {CORES} cores, "
                   f"{duration(seconds)} (check: {CORES} processes measured together on the clock: "
                   f"{parallel[size][0]:,.0f} frames/s with {parallel[size][1]:.1f} cores)")
    if streamed:
        out += ["", streamed_report(streamed)]
    return "\n".join(out)


def streamed_report(streamed: dict[int, dict[str, Figure]]) -> str:
    """The streamed path's table and what it makes of the full sets at the fast choice."""
    sizes = list(streamed)
    choices = list(streamed[sizes[0]])
    out = ["the streamed path (video_input): frames per second per core, crop + resize of a 640×480 frame + one "
           "flow per frame; a second run's cache read (frames per second, one process); in brackets: frames timed",
           table(["choice"] + [f"{size}×{size}" for size in sizes],
                 [[choice] + [f"{rate(streamed[size][choice].per_core)} ({streamed[size][choice].frames})"
                              for size in sizes] for choice in choices])]
    for database in DATABASES:
        cells = [f"{size}×{size} {duration(database.frames / (CORES * figures[f'streamed {FAST_FLOW}'].per_core))}"
                 f" (cache read {duration(database.frames / figures['cache read faces'].per_core)})"
                 for size, figures in streamed.items()]
        out.append(f"{database.name} ({database.frames:,} frames), a spotter's input on {CORES} cores with "
                   f"{FAST_FLOW}, streamed: " + "; ".join(cells))
    return "\n".join(out)


def parse_sizes(text: str) -> tuple[int, ...]:
    try:
        sizes = tuple(int(part) for part in text.split(",") if part.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(f"--sizes takes comma-separated pixel sizes such as 227,128,64; got {text!r}")
    if not sizes or min(sizes) < mdmd.MIN_FACE_SIZE:
        raise argparse.ArgumentTypeError(f"--sizes: each size at least {mdmd.MIN_FACE_SIZE} (MDMD's smallest face); "
                                         f"got {text!r}")
    return sizes


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="64×64, at most 4 frames and 0.2 s per figure")
    parser.add_argument("--sizes", type=parse_sizes, default=None, help="face sizes in pixels (default 227,128,64)")
    parser.add_argument("--frames", type=int, default=None, help="most frames timed per figure (default 300)")
    parser.add_argument("--seconds", type=float, default=None, help="time budget per figure (default 3)")
    args = parser.parse_args(argv)
    sizes = args.sizes or ((64,) if args.quick else DEFAULT_SIZES)
    limit = max(2, args.frames if args.frames is not None else (4 if args.quick else 300))
    budget = args.seconds if args.seconds is not None else (0.2 if args.quick else 3.0)
    cv2.setNumThreads(1)
    torch.set_num_threads(1)
    print(f"spotting cost: synthetic-long frames at {FPS} fps, sizes {', '.join(map(str, sizes))}; up to {limit} "
          f"frames or {budget:g} s per figure; OpenCV {cv2.__version__}, {os.cpu_count()} cores here")
    results = {size: measure_size(size, limit, budget) for size in sizes}
    # about --seconds of flows per process: a shorter run weighs starting the processes in
    parallel = {size: two_process_rate(size, max(10, round(budget * results[size][f"flow {FAST_FLOW}"].per_core)))
                for size in sizes}
    full = full_size_frames(min(limit, 300) + default_frames(mdmd.K_SECONDS["me"], FPS) + 1)
    streamed = {size: measure_streamed(size, limit, budget, full) for size in sizes}
    print(report(results, parallel, streamed))


if __name__ == "__main__":
    main()
