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
                         warmup: int = 2, repeats: int = 5, min_seconds: float = 0.5) -> Throughput:
    """Frames per second of ``model`` in eval mode on ``batch``: ``warmup`` untimed batches, then
    at least ``repeats`` timed batches (more until ``min_seconds`` have passed), synchronised."""
    model.eval()
    device = batch.device
    for _ in range(warmup):
        with autocast():
            model(batch)
    synchronize(device)
    count = 0
    start = time.perf_counter()
    while count < repeats or time.perf_counter() - start < min_seconds:
        with autocast():
            model(batch)
        count += 1
        if count >= 1000:
            break
    synchronize(device)
    elapsed = time.perf_counter() - start
    return Throughput(count * batch.shape[0] / elapsed, int(batch.shape[0]), count, warmup)


def reset_peak_memory(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)


def peak_memory_bytes(device: torch.device) -> dict:
    """Peak device memory on CUDA; on CPU the process's peak resident set size."""
    if device.type == "cuda":
        return {"peak_memory_bytes": int(torch.cuda.max_memory_allocated(device)), "peak_memory_kind": "cuda_allocated"}
    return {"peak_memory_bytes": int(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss) * 1024,
            "peak_memory_kind": "process_max_rss"}
