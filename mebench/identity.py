"""What makes a run this run and where it ran: the digest of a configuration (run identities, cache keys, sample
sets), the run id built from it, and the provenance recorded beside it (commit, library versions, hardware)."""

from __future__ import annotations

import hashlib
import json
import platform
import subprocess
from pathlib import Path
from typing import Any

def config_hash(config: Any) -> str:
    """A short digest of any JSON-able value (dict keys sorted): run identities, cache keys, sample sets."""
    return hashlib.sha256(json.dumps(config, sort_keys=True, default=str).encode()).hexdigest()[:16]


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
