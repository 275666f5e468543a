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


TEMP_SUFFIX = ".tmp"


def _umask() -> int:
    current = os.umask(0)
    os.umask(current)
    return current


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` through a temporary file in the same folder and a rename.

    A reader never sees a partial file: either the old content or the new. The file gets the
    permissions an ordinary ``open`` would give it (0666 less the umask)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=TEMP_SUFFIX)
    try:
        os.fchmod(fd, 0o666 & ~_umask())
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def remove_stale_temp_files(folder: Path, older_than_seconds: float = 3600.0) -> list[Path]:
    """Delete ``.NAME.*.tmp`` files left under ``folder`` by writes that were killed between the
    temporary file and the rename. Only files older than ``older_than_seconds`` go, so a write in
    progress in another process is never touched. Returns what was removed."""
    import time

    removed = []
    cutoff = time.time() - older_than_seconds
    for path in Path(folder).rglob(f".*{TEMP_SUFFIX}"):
        try:
            if path.is_file() and path.stat().st_mtime < cutoff:
                path.unlink()
                removed.append(path)
        except OSError:
            pass  # vanished or not ours: nothing to clean
    return removed


def atomic_write_text(path: Path, text: str) -> None:
    atomic_write_bytes(path, text.encode("utf-8"))


def atomic_write_json(path: Path, data: Any) -> None:
    atomic_write_text(path, json.dumps(data, indent=2, sort_keys=False, default=str) + "\n")


def make_run_id(model: str, dataset: str, config_hash: str, seed: int, tag: str = "") -> str:
    """``model__dataset[__tag]__hash__seedN``; ``tag`` names a non-default protocol or selection
    (``lodo``, ``LEAKY-test-oracle``) so a folder listing shows it."""
    safe = lambda text: "".join(c if c.isalnum() or c in "-_." else "_" for c in text)  # noqa: E731
    middle = f"__{safe(tag)}" if tag else ""
    return f"{safe(model)}__{safe(dataset)}{middle}__{config_hash[:10]}__seed{seed}"


def git_commit() -> str | None:
    """The commit of the mebench checkout, if it is one (an installed wheel has none)."""
    try:
        out = subprocess.run(["git", "rev-parse", "HEAD"], cwd=Path(__file__).resolve().parent,
                             capture_output=True, text=True, timeout=5)
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() or None if out.returncode == 0 else None


def environment(device_name: str, hardware: dict[str, Any] | None = None) -> dict[str, Any]:
    """Where a run ran: the device label, its full hardware description, Python, library versions, commit."""
    from importlib.metadata import PackageNotFoundError, version

    import torch

    import mebench

    def installed(package: str) -> str | None:
        try:  # the installed distribution's version, without importing it (timm alone takes seconds)
            return version(package)
        except PackageNotFoundError:
            return None

    return {
        "device": device_name,
        "hardware": hardware,
        "python": platform.python_version(),
        "platform": platform.platform(),
        "versions": {"mebench": mebench.__version__, "torch": torch.__version__, "timm": installed("timm"),
                     "numpy": installed("numpy"), "scikit-learn": installed("scikit-learn")},
        "git_commit": git_commit(),
    }


class RunLockedError(RuntimeError):
    """Another process holds a run's lock; the message says which."""


class RunLock:
    """An exclusive lock on one run folder across processes (``filelock``), with a note of who holds it.

    ``with RunLock(folder, wait=True, log=print):`` waits for the holder (saying who it is) and then
    proceeds; ``wait=False`` raises ``RunLockedError`` naming the holder instead."""

    def __init__(self, folder: Path, wait: bool = True, log=None, name: str = "run"):
        from filelock import FileLock

        self.folder = Path(folder)
        self.lock_path = self.folder / f".{name}.lock"
        self.owner_path = self.folder / f".{name}.lock.owner"
        self.wait, self.log = wait, log
        self._lock = FileLock(str(self.lock_path))

    def holder(self) -> str:
        try:
            owner = json.loads(self.owner_path.read_text())
            return f"process {owner['pid']} on {owner['host']} (since {owner['since']})"
        except (OSError, ValueError, KeyError, TypeError):
            return "another process"

    def __enter__(self) -> "RunLock":
        from filelock import Timeout

        self.folder.mkdir(parents=True, exist_ok=True)
        try:
            self._lock.acquire(timeout=0)
        except Timeout:
            message = f"{self.folder.name} is being run by {self.holder()}"
            if not self.wait:
                raise RunLockedError(message + "; wait for it or stop it") from None
            if self.log:
                self.log(message + "; waiting for it to finish (Ctrl-C to stop waiting)")
            self._lock.acquire()
        import socket
        import time

        atomic_write_json(self.owner_path, {"pid": os.getpid(), "host": socket.gethostname(),
                                            "since": time.strftime("%Y-%m-%dT%H:%M:%S%z")})
        return self

    def __exit__(self, *exc) -> None:
        self.owner_path.unlink(missing_ok=True)
        self._lock.release()


class RunDirectory:
    """``results/<run-id>/``: ``config.json`` and ``folds/`` while running; ``run.json``,
    ``predictions.csv`` and ``metrics.json`` when complete."""

    def __init__(self, root: Path, run_id: str):
        self.path = Path(root) / run_id
        self.run_id = run_id

    @property
    def complete(self) -> bool:
        return all((self.path / name).exists() for name in ("run.json", "predictions.csv", "metrics.json"))

    def lock(self, wait: bool = True, log=None, name: str = "run") -> RunLock:
        return RunLock(self.path, wait=wait, log=log, name=name)

    def start(self, config: dict[str, Any], log=None) -> None:
        """Record the config; refuse to resume a folder written by a different config. An unreadable
        ``config.json`` is replaced (the fold records are checked one by one anyway)."""
        config_path = self.path / "config.json"
        expected = json.loads(json.dumps(config, default=str))
        previous = _read_json(config_path, log) if config_path.exists() else None
        if previous is not None and previous != expected:
            raise RuntimeError(f"{config_path} holds a different configuration; use --force to start over")
        if previous is None:
            atomic_write_json(config_path, config)
        remove_stale_temp_files(self.path)

    def fold_path(self, index: int) -> Path:
        return self.path / "folds" / f"fold_{index:03d}.json"

    def save_fold(self, index: int, record: dict[str, Any]) -> None:
        atomic_write_json(self.fold_path(index), record)

    def load_fold(self, index: int, name: str | None = None, test_ids: list[str] | None = None,
                  n_classes: int | None = None, log=None) -> dict[str, Any] | None:
        """A finished fold's record, or None. A record that is unreadable, malformed, written for
        another fold (test group or test samples differ) or holds bad probabilities is named in one
        warning line and deleted, so the fold is trained again."""
        path = self.fold_path(index)
        if not path.exists():
            return None
        record = _read_json(path, log)
        problem = None if record is not None else "unreadable"
        if problem is None:
            problem = fold_record_problem(record, name, test_ids, n_classes)
        if problem is None:
            return record
        if record is not None and log:
            log(f"warning: {path}: {problem}; discarded, the fold is trained again")
        path.unlink(missing_ok=True)
        return None

    def clear(self) -> None:
        for path in sorted(self.path.rglob("*"), reverse=True):
            path.unlink() if path.is_file() else path.rmdir()

    def write_outputs(self, run_info: dict[str, Any], predictions: pd.DataFrame, metrics: dict[str, Any]) -> None:
        atomic_write_text(self.path / "predictions.csv", predictions.to_csv(index=False))
        atomic_write_json(self.path / "metrics.json", metrics)
        atomic_write_json(self.path / "run.json", run_info)  # last: its presence marks completion


def fold_record_problem(record: Any, name: str | None, test_ids: list[str] | None,
                        n_classes: int | None) -> str | None:
    """What is wrong with a fold record, or None when it can be used."""
    import math

    if not isinstance(record, dict):
        return f"holds a JSON {type(record).__name__}, not a fold record"
    for key in ("fold", "predictions", "train_seconds"):
        if key not in record:
            return f"has no {key!r}"
    held_out = record.get("test_group", record.get("test_subject"))
    if name is not None and held_out != name:
        return f"was written for test group {held_out!r}, not {name!r}"
    predictions = record["predictions"]
    if not isinstance(predictions, list) or not all(isinstance(p, dict) for p in predictions):
        return "has malformed predictions"
    ids = [p.get("sample_id") for p in predictions]
    if test_ids is not None and sorted(map(str, ids)) != sorted(test_ids):
        return f"holds predictions for {len(ids)} samples, the fold tests {len(test_ids)} others"
    for p in predictions:
        probabilities = p.get("probabilities")
        if (not isinstance(probabilities, list) or (n_classes is not None and len(probabilities) != n_classes)
                or not all(isinstance(v, (int, float)) and math.isfinite(v) for v in probabilities)):
            return f"has bad probabilities for {p.get('sample_id')}"
    return None


def _read_json(path: Path, log=None) -> Any:
    """Parsed JSON, or None (with one warning line) when the file is unreadable."""
    try:
        return json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError) as error:
        if log:
            log(f"warning: {path}: unreadable ({type(error).__name__}); discarded")
        return None


def load_run(folder: Path) -> tuple[dict[str, Any] | None, str | None]:
    """One complete, readable run: ``(run.json merged with metrics.json, None)``, else ``(None, reason)``
    (``reason`` is None for a folder that holds no run at all)."""
    folder = Path(folder)
    run_json, metrics_path = folder / "run.json", folder / "metrics.json"
    if not run_json.exists():
        if (folder / "config.json").exists():
            return None, "incomplete (no run.json): not finished, or still running"
        return None, None
    run, metrics = _read_json(run_json), _read_json(metrics_path) if metrics_path.exists() else None
    if not isinstance(run, dict):
        return None, "run.json is unreadable"
    if not isinstance(metrics, dict):
        return None, "metrics.json is missing or unreadable"
    if not isinstance(metrics.get("pooled"), dict):
        return None, "metrics.json has no pooled metrics"
    if not all(key in run for key in ("model", "dataset", "seed", "config", "config_hash")):
        return None, "run.json lacks model, dataset, seed, config or config_hash"
    run["metrics"] = metrics
    run["path"] = str(folder)
    return run, None


def load_results(root: Path, skipped: list | None = None) -> list[dict[str, Any]]:
    """Every complete, readable run under ``root``: ``run.json`` merged with ``metrics.json``.

    A folder whose run is unfinished or whose files cannot be read is left out; when ``skipped``
    is a list, ``(folder, reason)`` is appended to it for each such folder."""
    runs = []
    for folder in sorted(p for p in Path(root).iterdir() if p.is_dir()) if Path(root).is_dir() else []:
        run, reason = load_run(folder)
        if run is not None:
            runs.append(run)
        elif reason and skipped is not None:
            skipped.append((folder, reason))
    return runs
