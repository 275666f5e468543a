"""The one results writer: run ids, atomic writes, per-fold checkpoints for resuming."""

from __future__ import annotations

import json
import os
import platform
import subprocess
import tempfile
from pathlib import Path
from typing import Any

import pandas as pd


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` through a temporary file in the same folder and a rename."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def atomic_write_text(path: Path, text: str) -> None:
    atomic_write_bytes(path, text.encode("utf-8"))


def atomic_write_json(path: Path, data: Any) -> None:
    atomic_write_text(path, json.dumps(data, indent=2, sort_keys=False, default=str) + "\n")


def make_run_id(model: str, dataset: str, config_hash: str, seed: int) -> str:
    safe = lambda text: "".join(c if c.isalnum() or c in "-_." else "_" for c in text)  # noqa: E731
    return f"{safe(model)}__{safe(dataset)}__{config_hash[:10]}__seed{seed}"


def git_commit() -> str | None:
    """The commit of the mebench checkout, if it is one (an installed wheel has none)."""
    try:
        out = subprocess.run(["git", "rev-parse", "HEAD"], cwd=Path(__file__).resolve().parent,
                             capture_output=True, text=True, timeout=5)
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() or None if out.returncode == 0 else None


def environment(device_name: str) -> dict[str, Any]:
    import numpy
    import sklearn
    import timm
    import torch

    import mebench

    return {
        "device": device_name,
        "python": platform.python_version(),
        "platform": platform.platform(),
        "versions": {"mebench": mebench.__version__, "torch": torch.__version__, "timm": timm.__version__,
                     "numpy": numpy.__version__, "scikit-learn": sklearn.__version__},
        "git_commit": git_commit(),
    }


class RunDirectory:
    """``results/<run-id>/``: ``config.json`` and ``folds/`` while running; ``run.json``,
    ``predictions.csv`` and ``metrics.json`` when complete."""

    def __init__(self, root: Path, run_id: str):
        self.path = Path(root) / run_id
        self.run_id = run_id

    @property
    def complete(self) -> bool:
        return all((self.path / name).exists() for name in ("run.json", "predictions.csv", "metrics.json"))

    def start(self, config: dict[str, Any]) -> None:
        """Record the config; refuse to resume a folder written by a different config."""
        config_path = self.path / "config.json"
        if config_path.exists():
            previous = json.loads(config_path.read_text())
            if previous != json.loads(json.dumps(config, default=str)):
                raise RuntimeError(f"{config_path} holds a different configuration; use --force to start over")
        else:
            atomic_write_json(config_path, config)

    def fold_path(self, index: int) -> Path:
        return self.path / "folds" / f"fold_{index:03d}.json"

    def save_fold(self, index: int, record: dict[str, Any]) -> None:
        atomic_write_json(self.fold_path(index), record)

    def load_fold(self, index: int) -> dict[str, Any] | None:
        path = self.fold_path(index)
        if not path.exists():
            return None
        try:
            return json.loads(path.read_text())
        except json.JSONDecodeError:
            return None  # a torn write cannot happen with atomic writes, but never trust a bad file

    def clear(self) -> None:
        for path in sorted(self.path.rglob("*"), reverse=True):
            path.unlink() if path.is_file() else path.rmdir()

    def write_outputs(self, run_info: dict[str, Any], predictions: pd.DataFrame, metrics: dict[str, Any]) -> None:
        atomic_write_text(self.path / "predictions.csv", predictions.to_csv(index=False))
        atomic_write_json(self.path / "metrics.json", metrics)
        atomic_write_json(self.path / "run.json", run_info)  # last: its presence marks completion


def load_results(root: Path) -> list[dict[str, Any]]:
    """Every complete run under ``root``: ``run.json`` merged with ``metrics.json``."""
    runs = []
    for run_json in sorted(Path(root).glob("*/run.json")):
        metrics_path = run_json.parent / "metrics.json"
        if not metrics_path.exists():
            continue
        run = json.loads(run_json.read_text())
        run["metrics"] = json.loads(metrics_path.read_text())
        run["path"] = str(run_json.parent)
        runs.append(run)
    return runs
