"""The one timer: wall-clock seconds with device synchronisation, inference throughput, peak memory."""

from __future__ import annotations

import contextlib
import resource
import time
from dataclasses import dataclass
from typing import Callable, ContextManager

import torch


def synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


class Stopwatch:
    """``with Stopwatch(device) as watch: ...`` then ``watch.seconds``; synchronises the device
    on entry and exit so queued GPU work is counted where it belongs."""

    def __init__(self, device: torch.device | str = "cpu"):
        self.device = torch.device(device)
        self.seconds = 0.0

    def __enter__(self) -> "Stopwatch":
        synchronize(self.device)
        self._start = time.perf_counter()
        return self

    def __exit__(self, *exc) -> None:
        synchronize(self.device)
        self.seconds = time.perf_counter() - self._start


@dataclass(frozen=True)
class Throughput:
    frames_per_second: float
    batch_size: int
    batches: int
    warmup_batches: int

    def as_dict(self) -> dict:
        return {"inference_fps": self.frames_per_second, "inference_batch_size": self.batch_size,
                "inference_batches": self.batches, "inference_warmup_batches": self.warmup_batches}


@torch.no_grad()
def inference_throughput(model: torch.nn.Module, batch: torch.Tensor, autocast: Callable[[], ContextManager] = contextlib.nullcontext,
                         warmup: int = 2, repeats: int = 5, min_seconds: float = 0.5, max_seconds: float = 3.0,
                         clock: Callable[[], float] = time.perf_counter) -> Throughput:
    """Frames per second of ``model`` in eval mode on ``batch``: ``warmup`` untimed batches, then
    ``repeats`` timed batches, synchronised — more while under ``min_seconds`` (fast nets), fewer
    once ``max_seconds`` have passed (a large net on a slow CPU, where five batches would take
    longer than a quick run's training): at least two, or one batch that alone took ``max_seconds``
    — on CPU a warm-up batch that slow is then the only one."""
    model.eval()
    device = batch.device
    warmed = 0
    while warmed < warmup:
        start = clock()
        with autocast():
            model(batch)
        synchronize(device)
        warmed += 1
        if device.type == "cpu" and clock() - start >= max_seconds:  # on CUDA the first batch also pays start-up
            break
    count = 0
    start = clock()
    while True:
        elapsed = clock() - start
        enough = count >= repeats or (elapsed >= max_seconds and (count >= 2 or elapsed >= max_seconds * count))
        if (enough and elapsed >= min_seconds) or count >= 1000:
            break
        with autocast():
            model(batch)
        count += 1
    synchronize(device)
    elapsed = clock() - start
    return Throughput(count * batch.shape[0] / elapsed, int(batch.shape[0]), count, warmed)


def reset_peak_memory(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)


def peak_memory_bytes(device: torch.device) -> dict:
    """Peak device memory on CUDA; on CPU the process's peak resident set size."""
    if device.type == "cuda":
        return {"peak_memory_bytes": int(torch.cuda.max_memory_allocated(device)), "peak_memory_kind": "cuda_allocated"}
    return {"peak_memory_bytes": int(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss) * 1024,
            "peak_memory_kind": "process_max_rss"}
