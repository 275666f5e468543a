"""A small grid run twice, side by side: in this process one fold after another, then on Ray with
one worker per core. Same grid, same seeds, fresh results folders, one warm preprocessing cache;
prints each wall time, their ratio, and whether the predictions agree.

    python benchmarks/sweep_scaling.py                       # 3 models × 2 seeds on synthetic
    python benchmarks/sweep_scaling.py --models base,waspp --seeds 0-2 --subjects 6
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd


def sweep(output: Path, cache: Path, args, *extra: str) -> float:
    command = [sys.executable, "-m", "mebench.cli", "sweep", "--models", args.models, "--datasets", "synthetic",
               "--seeds", args.seeds, "--epochs", str(args.epochs), "--precision", args.precision,
               "--dataset-opt", f"subjects={args.subjects}", "--dataset-opt", f"clips_per_subject={args.clips}",
               "--output", str(output), "--cache-dir", str(cache), "-q", *extra]
    start = time.perf_counter()
    subprocess.run(command, check=True, capture_output=True, env={**os.environ, "RAY_AUTH_MODE": "disabled"})
    return time.perf_counter() - start


def predictions(folder: Path) -> pd.DataFrame:
    frames = [pd.read_csv(p).assign(run=p.parent.name) for p in sorted(folder.glob("*/predictions.csv"))]
    return pd.concat(frames).sort_values(["run", "sample_id"]).reset_index(drop=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--models", default="ststnet,offapexnet,dual-inception")
    parser.add_argument("--seeds", default="0-1")
    parser.add_argument("--epochs", type=int, default=4)
    parser.add_argument("--subjects", type=int, default=6)
    parser.add_argument("--clips", type=int, default=8)
    parser.add_argument("--precision", default="fp32")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        warm = argparse.Namespace(**{**vars(args), "epochs": 1, "seeds": "0"})
        sweep(tmp / "warm", tmp / "cache", warm)  # fills the preprocessing cache: it is not timed
        sequential = sweep(tmp / "sequential", tmp / "cache", args)
        ray = sweep(tmp / "ray", tmp / "cache", args, "--executor", "ray")
        a, b = predictions(tmp / "sequential"), predictions(tmp / "ray")
        same = a["run"].equals(b["run"]) and (a["predicted_label"] == b["predicted_label"]).all()
        print(f"grid: {args.models} × seeds {args.seeds} on synthetic ({args.subjects} subjects × {args.clips} clips, "
              f"{args.epochs} epochs, {args.precision}), {os.cpu_count()} cores")
        print(f"in-process (sequential): {sequential:.1f} s")
        print(f"ray ({os.cpu_count()} workers, incl. ~15 s start): {ray:.1f} s")
        print(f"ratio sequential / ray: {sequential / ray:.2f}x; predictions identical: {same}")


if __name__ == "__main__":
    main()
