"""Runs a preprocessing chain over samples: in parallel, with a progress bar, cached on disk.

The cache holds one ``.npy`` per sample, keyed by the sample's input fingerprint and a hash of
the chain's configuration (every step's config plus the output size), so a second run of the same
dataset and preprocessing recomputes nothing, and any change to inputs or settings misses.
"""

from __future__ import annotations

import hashlib
import io
import json
import multiprocessing
import os
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any, Sequence

import cv2
import numpy as np
import torch
from tqdm.auto import tqdm

from mebench.data import CLASSES, DataError, InputSpec, PreparedData, PreprocessingStep, Sample, StepRef
from mebench.registry import Registry
from mebench.results import atomic_write_bytes


class PreprocessingError(RuntimeError):
    """A sample could not be preprocessed; the message names the sample and the step."""


def default_cache_dir() -> Path:
    """``$MEBENCH_CACHE``, else ``$XDG_CACHE_HOME/mebench``, else ``~/.cache/mebench``."""
    if os.environ.get("MEBENCH_CACHE"):
        return Path(os.environ["MEBENCH_CACHE"])
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "mebench"


def build_chain(registry: Registry, steps: Sequence[StepRef]) -> list[PreprocessingStep]:
    chain = []
    for ref in steps:
        name, options = (ref, {}) if isinstance(ref, str) else (ref[0], dict(ref[1]))
        chain.append(registry.preprocessors.get(name).factory(**options))
    return chain


def chain_config(chain: Sequence[PreprocessingStep], input_spec: InputSpec) -> list[dict[str, Any]]:
    """What the cache key and ``run.json`` record about preprocessing."""
    steps = [{"step": step.name, **step.config} for step in chain]
    steps.append({"step": "resize", "height": input_spec.height, "width": input_spec.width})
    return steps


def config_hash(config: Any) -> str:
    return hashlib.sha256(json.dumps(config, sort_keys=True, default=str).encode()).hexdigest()[:16]


def resize_image(image: np.ndarray, input_spec: InputSpec) -> np.ndarray:
    """(H, W, C) → (C, height, width) float32; area interpolation when shrinking."""
    h, w = image.shape[:2]
    shrinking = input_spec.height < h or input_spec.width < w
    resized = cv2.resize(image, (input_spec.width, input_spec.height),
                         interpolation=cv2.INTER_AREA if shrinking else cv2.INTER_LINEAR)
    if resized.ndim == 2:
        resized = resized[..., None]
    return np.ascontiguousarray(resized.transpose(2, 0, 1), dtype=np.float32)


def process_sample(sample: Sample, chain: Sequence[PreprocessingStep], input_spec: InputSpec) -> np.ndarray:
    item: dict[str, Any] = {"sample": sample}
    for step in chain:
        try:
            item = step(item)
        except (PreprocessingError, DataError):
            raise
        except Exception as error:
            raise PreprocessingError(f"sample {sample.id}: preprocessing step {step.name!r} failed: "
                                     f"{type(error).__name__}: {error}") from error
    if "image" not in item:
        raise PreprocessingError(f"sample {sample.id}: the preprocessing chain produced no 'image'; "
                                 f"end it with a step such as 'flow_stack'")
    tensor = resize_image(item["image"], input_spec)
    if tensor.shape[0] != input_spec.channels:
        raise PreprocessingError(f"sample {sample.id}: preprocessing gives {tensor.shape[0]} channels but the "
                                 f"model expects {input_spec.channels}")
    return tensor


def _worker_init() -> None:
    cv2.setNumThreads(1)


def _cache_path(cache_root: Path, sample: Sample) -> Path:
    return cache_root / sample.fingerprint[:2] / f"{sample.fingerprint}.npy"


def _save(path: Path, array: np.ndarray) -> None:
    buffer = io.BytesIO()
    np.save(buffer, array)
    atomic_write_bytes(path, buffer.getvalue())


def prepare(samples: Sequence[Sample], chain: Sequence[PreprocessingStep], input_spec: InputSpec,
            cache_dir: Path | None = None, workers: int | None = None, progress: bool = True) -> PreparedData:
    """Preprocess every sample into one (N, C, H, W) tensor, reusing cached results."""
    if not samples:
        raise PreprocessingError("no samples to preprocess")
    if len({s.id for s in samples}) != len(samples):
        seen: set[str] = set()
        duplicates = {s.id for s in samples if s.id in seen or seen.add(s.id)}
        raise PreprocessingError(f"duplicate sample ids: {sorted(duplicates)[:5]}")
    cache_root = Path(cache_dir) / config_hash(chain_config(chain, input_spec)) if cache_dir else None
    tensors: dict[int, np.ndarray] = {}
    missing: list[int] = []
    for i, sample in enumerate(samples):
        if cache_root is not None and _cache_path(cache_root, sample).exists():
            tensors[i] = np.load(_cache_path(cache_root, sample))
        else:
            missing.append(i)
    if missing:
        workers = workers if workers is not None else min(os.cpu_count() or 1, 8)
        bar = tqdm(total=len(missing), desc="preprocessing", unit="sample", disable=not progress, leave=False)
        if workers > 1 and len(missing) >= 32:
            # Not "fork": a child forked after OpenCV or torch started their thread pools can deadlock.
            methods = multiprocessing.get_all_start_methods()
            context = multiprocessing.get_context("forkserver" if "forkserver" in methods else "spawn")
            with ProcessPoolExecutor(workers, mp_context=context, initializer=_worker_init) as pool:
                futures = {i: pool.submit(process_sample, samples[i], chain, input_spec) for i in missing}
                for i, future in futures.items():
                    tensors[i] = future.result()
                    bar.update()
        else:
            for i in missing:
                tensors[i] = process_sample(samples[i], chain, input_spec)
                bar.update()
        bar.close()
        if cache_root is not None:
            for i in missing:
                _save(_cache_path(cache_root, samples[i]), tensors[i])
    x = torch.from_numpy(np.stack([tensors[i] for i in range(len(samples))]))
    y = torch.tensor([CLASSES.index(s.label) for s in samples], dtype=torch.long)
    return PreparedData(x=x, y=y, sample_ids=[s.id for s in samples], subjects=[s.subject for s in samples],
                        datasets=[s.dataset for s in samples])
