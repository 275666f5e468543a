"""Preprocessing cost: flow + strain per sample, and a cold (uncached) against a warm (cached)
load of the same dataset, measured side by side in one run.

    python benchmarks/preprocessing_speed.py                       # the synthetic dataset
    python benchmarks/preprocessing_speed.py --dataset combined --data-root DIR
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from mebench.run.plan import load_task_samples
from mebench.run.preprocessing import build_chain, prepare
from mebench.registry import default_registry


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dataset", default="synthetic")
    parser.add_argument("--data-root", default=None)
    parser.add_argument("--model", default="waspp", help="whose input spec and chain to use")
    parser.add_argument("--workers", type=int, default=None)
    args = parser.parse_args()
    registry = default_registry()
    spec = registry.models.get(args.model)
    dataset = registry.datasets.get(args.dataset)
    samples, _ = load_task_samples(dataset, args.data_root, {})
    chain = build_chain(registry, spec.preprocessing)

    start = time.perf_counter()
    prepare(samples[:16], chain, spec.input_spec, cache_dir=None, workers=1, progress=False)
    per_sample = (time.perf_counter() - start) / min(16, len(samples))
    with tempfile.TemporaryDirectory() as cache:
        start = time.perf_counter()
        cold = prepare(samples, chain, spec.input_spec, cache_dir=Path(cache), workers=args.workers, progress=False)
        cold_s = time.perf_counter() - start
        start = time.perf_counter()
        warm = prepare(samples, chain, spec.input_spec, cache_dir=Path(cache), workers=args.workers, progress=False)
        warm_s = time.perf_counter() - start
    assert (cold.x == warm.x).all()
    print(f"{args.dataset}: {len(samples)} samples, chain {' → '.join(step.name for step in chain)} → {spec.input_spec}")
    print(f"one sample, one process (frames + TV-L1 flow + strain + resize): {1000 * per_sample:.1f} ms")
    print(f"uncached load, parallel: {cold_s:.2f} s   cached load: {warm_s:.3f} s   ratio: {cold_s / warm_s:.0f}x")


if __name__ == "__main__":
    main()
