"""Learned spotters' cost per fold on the CPU: what SOFTNet (and MEAN, where the same levers apply) spends per fold
on its input, its training and its scoring, and what each lever is worth against the plain loop, measured side by
side in one run on generated ``synthetic-long`` videos at the nets' 128 × 128 faces.

    python benchmarks/learned_spotter_cost.py               # 4 videos of 12 s, 2,400 training images (a few minutes)
    python benchmarks/learned_spotter_cost.py --quick       # seconds: 1 video of 6 s, 256 images, 1 step (CI smoke)
    python benchmarks/learned_spotter_cost.py --images 4800 --tvl1-frames 8

Measured, one thread (``cv2.setNumThreads(1)``, ``torch.set_num_threads(1)``, one BLAS/OpenMP thread) and by CPU
time of this process, so that other work on a shared machine is not counted (the run prints the share of its wall
time it had a core), except the thread lever, which is wall time by its nature:

- **input** (frames per second per core): a frame's input is one flow between face frames k apart and the net's
  input image made from it (``softnet.input_image``: strain, nose subtraction, eye masks, the two regions at
  42 × 42; ``mean.input_image`` for MEAN). ``flow dis`` and ``flow tvl1`` (on ``--tvl1-frames`` pairs only: about
  half a second each) as ``softnet.video_inputs`` computes them in every fold; ``cache read`` the same flows read
  back from ``video_input.VideoCache`` (written untimed to a temporary folder; the OS's file cache holds them, as on
  a second fold soon after the first). ``computed`` = flow + image, ``cached`` = cache read + image. The learned
  spotters read their flows through the cache (``cache_flows``, on by default): ``softnet fold, flows computed``
  and ``softnet fold, flows cached`` time SOFTNet's own input path (``SoftNetSpotter._inputs``) in a fold after the
  first, with ``cache_flows=false`` and with the default, and the line under the table gives their ratio.
- **training** (seconds per epoch of ``--images`` training images): ``softnet.train_net`` (SGD, MSE) as the
  authors run it, batches of 12 in fp32, against bf16 autocast on the CPU (``torch.autocast("cpu",
  torch.bfloat16)`` around the same loop) and batches of 256 (batching across videos): a batch size other than the
  authors' changes the optimisation — one SGD step per 256 images where they take 21 — so it is a lever for speed,
  not a faithful setting. MEAN: ``mean.train_spotting`` (Adam, MSE and L2 terms, batch normalisation), the authors'
  batches of 32 against the same levers.
- **scoring** (frames per second per core): ``softnet.net_scores`` frame by frame (batch 1), per video (one call
  per video, as ``fit`` and ``video_scores`` call it, in chunks of 512) and across videos (one call over every
  video's inputs, in chunks of 4,096);
  ``mean.net_outputs`` the same way.
- **threads**: one training step of SOFTNet (batch 12, and batch 256) with 1 and with 2 torch threads, wall seconds
  per step (the median of interleaved repeats) and the cores the 2-thread run had (CPU / wall time).

Each figure times after one untimed warm-up call (a training variant's: an epoch of two of its batches). The training images are the videos' own computed inputs (DIS
flow), repeated to ``--images``; the labels are their pseudo-labels; the nets start from their seeds' weights.

The full-set estimate per fold is arithmetic on the measured rates for CAS(ME)² (``spotting_cost.DATABASES``: 97
videos × 148 s × 30 fps, 22 subjects, leave one subject out): per type (SOFTNet trains an ME net and a MaE net),
every video's input (the training videos' for training and choosing p, the test videos' for spotting: every fold makes the input
images again, from flows computed or, from the second fold on, read from the cache), 10 epochs over half the training frames (the sampling down keeps the
label-0 frames to half the larger class: about half of them, plus the few labelled ones), and every video's scores.
It is an upper bound where not every video holds the type. Inputs are spread over 2 processes, one per core (the
videos are independent); training and scoring are one process with one thread. MEAN's training set (label-0 frames
sampled to 5 × the labelled ones) depends on how many frames are labelled, so no full-set figure is made for it.
"""

from __future__ import annotations

import os

for _variable in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_variable] = "1"  # per-core figures: one thread everywhere, set before numpy loads

import argparse  # noqa: E402
import statistics  # noqa: E402
import subprocess  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from contextlib import nullcontext  # noqa: E402
from dataclasses import dataclass  # noqa: E402
from typing import Any, Callable, Sequence  # noqa: E402

import cv2  # noqa: E402
import numpy as np  # noqa: E402
import torch  # noqa: E402

from mebench_plugins.datasets.synthetic_long import FPS, load_synthetic_long  # noqa: E402
from mebench_plugins.spotters import mean, optical_flow, softnet, video_input  # noqa: E402
from spotting_cost import DATABASES, duration, rate, table  # noqa: E402

CORES = 2
#: CAS(ME)²'s subjects: a leave-one-subject-out fold trains on 21 of them.
CASME_SUBJECTS = 22
SOFTNET_BATCH, MEAN_BATCH, LARGE_BATCH = 12, 32, 256
SOFTNET_EPOCHS = 10


@dataclass(frozen=True)
class Figure:
    """``count`` items (frames, images, steps) in ``cpu_seconds`` of this process (``wall_seconds`` on the clock)."""

    count: int
    cpu_seconds: float
    wall_seconds: float

    @property
    def per_second(self) -> float:
        return self.count / self.cpu_seconds

    @property
    def seconds_each(self) -> float:
        return self.cpu_seconds / self.count


def timed(work: Callable[[], int], warm_up: Callable[[], Any] | None = None) -> Figure:
    """``work()`` (it returns how many items it did) timed by CPU and wall time, after one untimed warm-up call
    (``warm_up``, else ``work`` itself)."""
    (warm_up or work)()
    start, cpu_start = time.perf_counter(), time.process_time()
    count = work()
    return Figure(count, time.process_time() - cpu_start, time.perf_counter() - start)


def cpu_model() -> str:
    """The CPU's model name and whether it has the bf16 instructions (``lscpu`` flags ``amx_bf16``,
    ``avx512_bf16``)."""
    try:
        text = subprocess.run(["lscpu"], capture_output=True, text=True, timeout=10).stdout
    except (OSError, subprocess.SubprocessError):
        return "CPU unknown (no lscpu)"
    fields = dict(line.split(":", 1) for line in text.splitlines() if ":" in line)
    name = fields.get("Model name", "unknown").strip()
    flags = set(fields.get("Flags", "").split())
    bf16 = [flag for flag in ("amx_bf16", "avx512_bf16") if flag in flags]
    return f"{name}, bf16 instructions: {', '.join(bf16) if bf16 else 'none (no amx_bf16, no avx512_bf16)'}"


def load() -> str:
    one, five, _ = os.getloadavg()
    return f"load average {one:.2f} (1 min), {five:.2f} (5 min) on {os.cpu_count()} cores"


# --- input ------------------------------------------------------------------------------------------------------


def measure_input(videos: Sequence[Any], k: int, tvl1_frames: int, folder: str) -> dict[str, Figure]:
    """Per frame: the flows (dis over every frame of the videos, tvl1 over a few), the input images of SOFTNet and
    MEAN, and the flows read back from the per-video cache."""
    faces = [video_input.face_video(video, softnet.FACE_SIZE, "auto") for video in videos]
    pairs = [(face, j) for face in faces for j in range(len(face) - k)]
    figures = {}

    def dis() -> int:
        for face, j in pairs:
            optical_flow(face[j], face[j + k], "dis")
        return len(pairs)

    figures["flow dis"] = timed(dis, lambda: optical_flow(faces[0][0], faces[0][k], "dis"))
    spread = pairs[::max(1, len(pairs) // tvl1_frames)][:tvl1_frames]

    def tvl1() -> int:
        for face, j in spread:
            optical_flow(face[j], face[j + k], "tvl1")
        return len(spread)

    figures["flow tvl1"] = timed(tvl1, lambda: optical_flow(faces[0][0], faces[0][k], "tvl1"))
    cache = video_input.VideoCache(folder)
    keys = [video_input.face_key(video, softnet.FACE_SIZE, "auto") for video in videos]
    flows = [np.array(video_input.cached_flows(video, face, key, k, "dis", cache))  # written here, untimed
             for video, face, key in zip(videos, faces, keys)]

    def read() -> int:
        return sum(len(np.array(video_input.cached_flows(video, face, key, k, "dis", cache)))
                   for video, face, key in zip(videos, faces, keys))

    figures["cache read"] = timed(read)
    points = softnet.landmarks(softnet.FACE_SIZE)
    every = [flow for video_flows in flows for flow in video_flows]

    def softnet_images() -> int:
        softnet.min_max(np.stack([softnet.input_image(flow, points) for flow in every]))
        return len(every)

    def mean_images() -> int:
        np.stack([mean.input_image(flow, points) for flow in every]).astype(np.float32)
        return len(every)

    figures["softnet image"] = timed(softnet_images, lambda: softnet.input_image(every[0], points))
    figures["mean image"] = timed(mean_images, lambda: mean.input_image(every[0], points))
    return {**figures, **measure_spotter_input(videos, k, folder)}


#: The rows of SOFTNet's own input path, a fold after the first: flows computed again, or read from the cache.
SPOTTER_COMPUTED, SPOTTER_CACHED = "softnet fold, flows computed", "softnet fold, flows cached"


def measure_spotter_input(videos: Sequence[Any], k: int, folder: str) -> dict[str, Figure]:
    """Per frame, SOFTNet's input as a fold makes it (``SoftNetSpotter._inputs``: face video, DIS flows, input images)
    through the run's cache, after an untimed first fold that wrote it: with ``cache_flows=false`` (flows computed in
    every fold; the face video still read back) and with the default (flows read back)."""
    figures = {}
    for name, cache_flows in ((SPOTTER_COMPUTED, False), (SPOTTER_CACHED, True)):
        spotter = softnet.SoftNetSpotter(flow="dis", cache_flows=cache_flows)
        spotter.use_cache(folder)
        spotter.k = {"me": k}
        figures[name] = timed(lambda spotter=spotter: sum(len(spotter._inputs(video, "me")) for video in videos))
    return figures


def combined(*figures: Figure) -> float:
    """Frames per second per core of steps done one after the other for every frame."""
    return 1.0 / sum(figure.seconds_each for figure in figures)


def input_rates(figures: dict[str, Figure]) -> dict[str, dict[str, float]]:
    """Per net: the rate of each way to its input (frames per second per core)."""
    return {net: {"computed tvl1": combined(figures["flow tvl1"], figures[f"{net} image"]),
                  "computed dis": combined(figures["flow dis"], figures[f"{net} image"]),
                  "cached": combined(figures["cache read"], figures[f"{net} image"])}
            for net in ("softnet", "mean")}


# --- training ---------------------------------------------------------------------------------------------------


def training_set(videos: Sequence[Any], per_video: Sequence[np.ndarray], k: int, count: int
                 ) -> tuple[np.ndarray, np.ndarray]:
    """``count`` training images: the videos' SOFTNet inputs (``per_video``: DIS flow) and ME pseudo-labels,
    repeated."""
    images = np.concatenate(per_video)
    labels = np.concatenate([softnet.pseudo_labels(video.n_frames, softnet.SoftNetSpotter._truth(video, "me"), k)
                             for video in videos])
    repeat = np.arange(count) % len(images)
    return images[repeat], labels[repeat]


def precision(bf16: bool):
    return torch.autocast("cpu", dtype=torch.bfloat16) if bf16 else nullcontext()


def measure_training(images: np.ndarray, labels: np.ndarray) -> dict[str, dict[str, Figure]]:
    """CPU seconds of one epoch over ``images`` per variant, SOFTNet and MEAN, each from its seed's weights."""
    results: dict[str, dict[str, Figure]] = {"softnet": {}, "mean": {}}
    for name, batch, bf16 in (("batch 12, fp32 (authors')", SOFTNET_BATCH, False),
                              ("batch 12, bf16", SOFTNET_BATCH, True),
                              ("batch 256, fp32", LARGE_BATCH, False),
                              ("batch 256, bf16", LARGE_BATCH, True)):
        def epoch(part: slice = slice(None), batch: int = batch, bf16: bool = bf16) -> int:
            net = softnet.SoftNet(torch.Generator().manual_seed(1))
            with precision(bf16):
                softnet.train_net(images[part], labels[part], 1, batch, 0.0005, net)
            return len(images[part])

        results["softnet"][name] = timed(epoch, lambda epoch=epoch, batch=batch: epoch(slice(0, 2 * batch)))
    for name, batch, bf16 in (("batch 32, fp32 (authors')", MEAN_BATCH, False),
                              ("batch 32, bf16", MEAN_BATCH, True),
                              ("batch 256, fp32", LARGE_BATCH, False),
                              ("batch 256, bf16", LARGE_BATCH, True)):
        def mean_epoch(part: slice = slice(None), batch: int = batch, bf16: bool = bf16) -> int:
            net = mean.MeanNet(generator=torch.Generator().manual_seed(1))
            with precision(bf16):
                mean.train_spotting(net, images[part], labels[part], 1, batch, 0.0005,
                                    torch.Generator().manual_seed(1))
            return len(images[part])

        results["mean"][name] = timed(mean_epoch, lambda mean_epoch=mean_epoch, batch=batch: mean_epoch(slice(0, 2 * batch)))
    return results


# --- scoring ----------------------------------------------------------------------------------------------------


def measure_scoring(per_video: Sequence[np.ndarray], one_by_one: int = 400) -> dict[str, dict[str, Figure]]:
    """Frames per second of the nets' scores: frame by frame (the first ``one_by_one`` frames), one call per video,
    one call across videos."""
    every = np.concatenate(per_video)
    frames = len(every)
    net, mean_net = softnet.SoftNet(torch.Generator().manual_seed(1)).eval(), mean.MeanNet(
        generator=torch.Generator().manual_seed(1)).eval()
    single = every[:max(2, min(frames, one_by_one))]
    results: dict[str, dict[str, Figure]] = {"softnet": {}, "mean": {}}
    for label, score in (("softnet", lambda images, batch: softnet.net_scores(net, images, batch)),
                         ("mean", lambda images, batch: mean.net_outputs(mean_net, images, batch)[0])):
        results[label]["frame by frame"] = timed(lambda score=score: len(score(single, 1)),
                                                 lambda score=score: score(single[:2], 1))
        results[label]["per video"] = timed(lambda score=score: sum(len(score(images, 512)) for images in per_video))
        results[label]["across videos"] = timed(lambda score=score: len(score(every, 4096)))
    return results


# --- threads ----------------------------------------------------------------------------------------------------


def measure_threads(images: np.ndarray, labels: np.ndarray, steps: int, repeats: int) -> dict[tuple[int, int], Figure]:
    """Wall seconds per SOFTNet training step at batch 12 and 256 with 1 and 2 torch threads: the median of
    ``repeats`` interleaved runs of ``steps`` steps, with the CPU seconds of the same run."""
    runs: dict[tuple[int, int], list[Figure]] = {}
    before = torch.get_num_threads()
    try:
        for _repeat in range(repeats):
            for batch in (SOFTNET_BATCH, LARGE_BATCH):
                part = slice(0, batch * steps)
                for threads in (1, 2):
                    torch.set_num_threads(threads)

                    def run(part: slice = part, batch: int = batch) -> int:
                        net = softnet.SoftNet(torch.Generator().manual_seed(1))
                        softnet.train_net(images[part], labels[part], 1, batch, 0.0005, net)
                        return steps

                    runs.setdefault((batch, threads), []).append(
                        timed(run, lambda batch=batch: softnet.train_net(images[:2 * batch], labels[:2 * batch], 1,
                                                                         batch, 0.0005, softnet.SoftNet())))
    finally:
        torch.set_num_threads(before)
    return {key: sorted(figures, key=lambda figure: figure.wall_seconds)[len(figures) // 2]
            for key, figures in runs.items()}


# --- the report -------------------------------------------------------------------------------------------------


def ratio(value: float) -> str:
    return f"{value:.2f}x"


def report(inputs: dict[str, Figure], training: dict[str, dict[str, Figure]],
           scoring: dict[str, dict[str, Figure]], threads: dict[tuple[int, int], Figure], images: int) -> str:
    every = [*inputs.values(), *(f for by in training.values() for f in by.values()),
             *(f for by in scoring.values() for f in by.values())]
    share = sum(f.cpu_seconds for f in every) / sum(f.wall_seconds for f in every)
    rates = input_rates(inputs)
    out = [f"one thread, CPU time (this process ran on a core {share:.0%} of its timed wall time)", "",
           "input, frames per second per core (in brackets: frames timed):",
           table(["step", "frames/s"], [[name, f"{rate(figure.per_second)} ({figure.count})"]
                                        for name, figure in inputs.items()]),
           table(["input", "softnet frames/s", "vs computed tvl1", "vs computed dis", "mean frames/s",
                  "vs computed tvl1", "vs computed dis"],
                 [[way] + [cell for net in ("softnet", "mean")
                           for cell in (rate(rates[net][way]), ratio(rates[net][way] / rates[net]["computed tvl1"]),
                                        ratio(rates[net][way] / rates[net]["computed dis"]))]
                  for way in ("computed tvl1", "computed dis", "cached")]),
           f"SOFTNet's own input path in a fold after the first (SoftNetSpotter._inputs, DIS): flows cached vs computed "
           f"{ratio(inputs[SPOTTER_CACHED].per_second / inputs[SPOTTER_COMPUTED].per_second)}", ""]
    for net, authors in (("softnet", "batch 12, fp32 (authors')"), ("mean", "batch 32, fp32 (authors')")):
        base = training[net][authors].cpu_seconds
        out += [f"training {net}: seconds per epoch of {images:,} images (one thread, CPU time):",
                table(["variant", "s/epoch", "images/s", "vs authors'"],
                      [[name, f"{figure.cpu_seconds:.3f}", rate(figure.per_second), ratio(base / figure.cpu_seconds)]
                       for name, figure in training[net].items()]), ""]
    out.append("a batch other than the authors' changes the optimisation (fewer, larger steps): a lever for speed, "
               "not a faithful setting")
    for net in ("softnet", "mean"):
        base = scoring[net]["frame by frame"].per_second
        out += ["", f"scoring {net}: frames per second per core",
                table(["variant", "frames/s", "vs frame by frame", "vs per video"],
                      [[name, rate(figure.per_second), ratio(figure.per_second / base),
                        ratio(figure.per_second / scoring[net]["per video"].per_second)]
                       for name, figure in scoring[net].items()])]
    out += ["", "threads: softnet training step, wall seconds per step (median of interleaved repeats); cores the "
                "step had = CPU / wall",
            table(["batch", "1 thread s/step", "2 threads s/step", "2 threads: cores had", "2 vs 1 threads"],
                  [[str(batch), f"{threads[(batch, 1)].wall_seconds / threads[(batch, 1)].count:.4f}",
                    f"{threads[(batch, 2)].wall_seconds / threads[(batch, 2)].count:.4f}",
                    f"{threads[(batch, 2)].cpu_seconds / threads[(batch, 2)].wall_seconds:.2f}",
                    ratio(threads[(batch, 1)].wall_seconds / threads[(batch, 2)].wall_seconds)]
                   for batch in (SOFTNET_BATCH, LARGE_BATCH)]), ""]
    out.append(full_set(rates["softnet"], training["softnet"], scoring["softnet"]))
    return "\n".join(out)


def full_set(rates: dict[str, float], training: dict[str, Figure], scoring: dict[str, Figure]) -> str:
    """SOFTNet's cost of one LOSO fold of CAS(ME)² from the measured rates: plain against the levers."""
    casme = DATABASES[0]
    frames = casme.frames
    trained = frames * (CASME_SUBJECTS - 1) / CASME_SUBJECTS / 2  # half the training frames after sampling down
    types = len(softnet.TYPES)

    def epoch_seconds(name: str) -> float:
        return training[name].seconds_each * trained

    best = max(scoring, key=lambda name: scoring[name].per_second)  # the scoring lever that measured fastest
    plans = {
        "plain (authors': tvl1, batch 12 fp32, per video)": (rates["computed tvl1"], "batch 12, fp32 (authors')",
                                                             "per video"),
        "dis, batch 12 fp32, per video": (rates["computed dis"], "batch 12, fp32 (authors')", "per video"),
        f"dis cached, batch 12 bf16, {best}": (rates["cached"], "batch 12, bf16", best),
        f"dis cached, batch 256 bf16, {best}": (rates["cached"], "batch 256, bf16", best),
    }
    rows = []
    for name, (input_rate, variant, scored) in plans.items():
        inputs = types * frames / (CORES * input_rate)
        train = types * SOFTNET_EPOCHS * epoch_seconds(variant)
        score = types * frames / scoring[scored].per_second
        total = inputs + train + score
        rows.append([name, duration(inputs), duration(train), duration(score), duration(total),
                     duration(total * CASME_SUBJECTS)])
    return "\n".join([
        f"SOFTNet per LOSO fold of {casme.name} ({frames:,} frames, {CASME_SUBJECTS} subjects; ME and MaE nets): "
        f"inputs of every video on {CORES} cores, {SOFTNET_EPOCHS} epochs over {trained:,.0f} images per net "
        f"(half the training frames), every video scored; training and scoring one thread; the lever rows score "
        f"the fastest way measured ({best})",
        table(["plan", "input", "training", "scoring", "per fold", f"{CASME_SUBJECTS} folds"], rows)])


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="1 video of 6 s, 256 images, 1 tvl1 pair, 100 frames "
                                                             "scored one by one, 1 step per thread count")
    parser.add_argument("--images", type=int, default=None, help="training images per epoch (default 2400)")
    parser.add_argument("--tvl1-frames", type=int, default=None, help="tvl1 pairs timed (default 4)")
    args = parser.parse_args(argv)
    images = max(LARGE_BATCH, args.images or (LARGE_BATCH if args.quick else 2400))
    tvl1_frames = max(1, args.tvl1_frames or (1 if args.quick else 4))
    cv2.setNumThreads(1)
    torch.set_num_threads(1)
    if args.quick:
        videos = load_synthetic_long(subjects=2, videos_per_subject=1, seconds=6.0, size=softnet.FACE_SIZE)[:1]
    else:
        videos = load_synthetic_long(subjects=2, videos_per_subject=2, seconds=12.0, size=softnet.FACE_SIZE)
    k = softnet.authors_k([i.offset - i.onset for video in videos for i in video.intervals if i.kind == "me"])
    print(f"learned spotter cost: {len(videos)} synthetic-long videos, {sum(v.n_frames for v in videos):,} frames at "
          f"{FPS} fps, {softnet.FACE_SIZE}×{softnet.FACE_SIZE} faces, ME k = {k}; {images:,} training images; "
          f"torch {torch.__version__}, OpenCV {cv2.__version__}")
    print(f"CPU: {cpu_model()}; {load()}")
    with tempfile.TemporaryDirectory() as folder:
        inputs = measure_input(videos, k, tvl1_frames, folder)
        cache = video_input.VideoCache(folder)  # the flows measure_input wrote
        per_video = [softnet.flow_inputs(video_input.face_flows(video, softnet.FACE_SIZE, "auto", k, "dis", cache)[1])
                     for video in videos]
    x, y = training_set(videos, per_video, k, images)
    training = measure_training(x, y)
    scoring = measure_scoring(per_video, 100 if args.quick else 400)
    steps = 1 if args.quick else 8
    threads = measure_threads(*training_set(videos, per_video, k, LARGE_BATCH * steps), steps=steps,
                              repeats=1 if args.quick else 3)
    print(report(inputs, training, scoring, threads, images))
    print(f"after: {load()}")


if __name__ == "__main__":
    main()
