"""How long the statistics a leaderboard computes take: one subject-level bootstrap of a composite-sized
run, one paired bootstrap, and a whole leaderboard of 5 configurations × 3 seeds on 68 subjects.

    python benchmarks/statistics_speed.py

(The tests check what these compute; the times live here, measured side by side in one run.)
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests/ holds the run-folder writer

from mebench.analysis.configurations import load_configurations  # noqa: E402
from mebench.hardware import describe_cpu, device_label  # noqa: E402
from mebench.analysis.leaderboard import leaderboard_tables, render_tables  # noqa: E402
from mebench.statistics import encode, paired_bootstrap, subject_bootstrap  # noqa: E402
from tests.core.analysis.test_leaderboard import predictions_with_accuracy, task_samples, write_run  # noqa: E402

CLASSES = ("negative", "positive", "surprise")


def best_of(function, repeats: int = 5) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        function()
        times.append(time.perf_counter() - start)
    return min(times)


def main() -> None:
    rng = np.random.default_rng(0)
    sizes = rng.multinomial(442 - 68, np.ones(68) / 68) + 1  # 442 samples over 68 unequal subjects
    groups = np.repeat(np.arange(68), sizes)
    truth = rng.integers(0, 3, 442)
    first = encode(truth, np.where(rng.random(442) < 0.7, truth, 0), groups, CLASSES)
    second = encode(truth, np.where(rng.random(442) < 0.6, truth, 1), groups, CLASSES)
    print(f"{device_label(describe_cpu())}")
    print(f"subject bootstrap, 442 samples / 68 subjects, 2,000 draws: {1000 * best_of(lambda: subject_bootstrap(first)):.1f} ms")
    print(f"paired bootstrap, same run size:                          "
          f"{1000 * best_of(lambda: paired_bootstrap(first, second)):.1f} ms")
    with tempfile.TemporaryDirectory() as folder:
        truth_frame = task_samples({"casme2": 24, "samm": 28, "smic": 16}, per_subject=6)  # 408 samples, 68 subjects
        for model in range(5):
            for seed in range(3):
                write_run(Path(folder), f"m{model}", predictions_with_accuracy(truth_frame, 0.5 + 0.05 * model, seed),
                          seed=seed, with_folds=False)
        start = time.perf_counter()
        render_tables(leaderboard_tables(load_configurations(Path(folder))))
        print(f"leaderboard of 5 configurations × 3 seeds (20 bootstraps, 4 paired): {time.perf_counter() - start:.2f} s")


if __name__ == "__main__":
    main()
