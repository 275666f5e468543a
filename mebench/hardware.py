"""What a run was measured on, in enough detail that timings from different machines are never
compared blind: the CPU model and its native bf16 support (AMX, AVX-512-bf16), or the GPU's
name, compute capability, CUDA version and driver.

Two CPUs sold under one name differ: a Xeon with AMX trains the paper's nets in bf16 several
times faster than one without, so the instruction-set flags are recorded next to the name.
"""

from __future__ import annotations

import os
import platform
import re
import subprocess
from pathlib import Path
from typing import Any

import torch

from mebench.errors import ConfigError


def _cpuinfo(path: Path = Path("/proc/cpuinfo")) -> dict[str, str]:
    """The first processor's fields of ``/proc/cpuinfo`` (empty where there is none: macOS, Windows)."""
    fields: dict[str, str] = {}
    try:
        text = path.read_text(errors="replace")
    except OSError:
        return fields
    for line in text.splitlines():
        if not line.strip():
            if fields:
                break  # the first processor's block is enough: they are alike
            continue
        key, _, value = line.partition(":")
        fields.setdefault(key.strip(), value.strip())
    return fields


def describe_cpu(cpuinfo: dict[str, str] | None = None) -> dict[str, Any]:
    """``{"kind": "cpu", "name", "architecture", "vendor", "family", "model", "logical_cpus",
    "threads", "amx_bf16", "avx512_bf16", "arm_bf16", "bf16_autocast"}``.

    ``name`` is the processor's model name (``/proc/cpuinfo``, else ``platform.processor()``);
    ``family``/``model`` are the numeric identifiers that still tell CPUs apart when a virtual
    machine reports a generic name; ``threads`` is what PyTorch uses; the ``*_bf16`` keys are
    native bf16 instructions from the CPU's flags (False where unknown); ``bf16_autocast`` is
    whether PyTorch runs bf16 on this CPU at all (natively or emulated)."""
    info = _cpuinfo() if cpuinfo is None else cpuinfo
    flags = set((info.get("flags") or info.get("Features") or "").split())
    return {
        "kind": "cpu",
        "name": info.get("model name") or platform.processor() or platform.machine() or "unknown CPU",
        "architecture": platform.machine(),
        "vendor": info.get("vendor_id") or info.get("CPU implementer"),
        "family": info.get("cpu family"),
        "model": info.get("model") or info.get("CPU part"),
        "logical_cpus": os.cpu_count(),
        "threads": torch.get_num_threads(),
        "amx_bf16": "amx_bf16" in flags,
        "avx512_bf16": "avx512_bf16" in flags,
        "arm_bf16": "bf16" in flags,
        "bf16_autocast": bool(torch.backends.mkldnn.is_available()
                              and torch.ops.mkldnn._is_mkldnn_bf16_supported()),
    }


def _nvidia_driver(index: int) -> str | None:
    try:
        out = subprocess.run(["nvidia-smi", "--query-gpu=driver_version", "--format=csv,noheader", "-i", str(index)],
                             capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() or None if out.returncode == 0 else None


def describe_cuda(device: torch.device) -> dict[str, Any]:
    """``{"kind": "cuda", "name", "capability", "cuda", "driver", "memory_gb", "multiprocessors",
    "bf16_autocast"}``; ``driver`` from ``nvidia-smi`` (None where it is missing)."""
    index = device.index if device.index is not None else torch.cuda.current_device()
    properties = torch.cuda.get_device_properties(index)
    return {
        "kind": "cuda",
        "name": properties.name,
        "capability": f"{properties.major}.{properties.minor}",
        "cuda": torch.version.cuda,
        "driver": _nvidia_driver(index),
        "memory_gb": round(properties.total_memory / 2**30, 1),
        "multiprocessors": properties.multi_processor_count,
        "bf16_autocast": torch.cuda.is_bf16_supported(),
    }


def describe_device(device: torch.device) -> dict[str, Any]:
    """A JSON-ready description of the hardware ``device`` runs on (see ``describe_cpu`` and
    ``describe_cuda``); other device types give ``{"kind": type, "name": type}``."""
    device = torch.device(device)
    if device.type == "cpu":
        return describe_cpu()
    if device.type == "cuda":
        return describe_cuda(device)
    return {"kind": device.type, "name": device.type}


def _short_cpu_name(name: str) -> str:
    """``Intel(R) Xeon(R) Platinum 8481C CPU @ 2.70GHz`` → ``Intel Xeon Platinum 8481C``;
    ``AMD EPYC 9B14 96-Core Processor`` → ``AMD EPYC 9B14``."""
    name = re.sub(r"\((R|TM|tm|r)\)", "", name)
    name = re.sub(r"\s*@.*$", "", name)
    name = re.sub(r"\b(\d+-Core|CPU|Processor)\b", "", name)
    return " ".join(name.split()) or "unknown CPU"


def device_label(description: dict[str, Any]) -> str:
    """One short line for tables: ``Intel Xeon Platinum 8481C ×2 threads, AMX-bf16``,
    ``AMD EPYC 9B14 ×2 threads, AVX512-bf16``, ``NVIDIA H100 80GB HBM3, CUDA 12.4, driver 550.54``.

    A CPU name without a model number (as virtual machines often report) gets its family and
    model numbers, so the label still tells two machines apart."""
    kind = description.get("kind")
    if kind == "cuda":
        parts = [description.get("name") or "CUDA GPU"]
        if description.get("cuda"):
            parts.append(f"CUDA {description['cuda']}")
        if description.get("driver"):
            parts.append(f"driver {description['driver']}")
        return ", ".join(parts)
    if kind != "cpu":
        return str(description.get("name") or kind)
    name = _short_cpu_name(str(description.get("name") or ""))
    if not re.search(r"\d", name) and description.get("family") and description.get("model"):
        name += f" (family {description['family']} model {description['model']})"
    if description.get("amx_bf16"):
        bf16 = "AMX-bf16"
    elif description.get("avx512_bf16"):
        bf16 = "AVX512-bf16"
    elif description.get("arm_bf16"):
        bf16 = "Arm-bf16"
    else:
        bf16 = "no native bf16"
    return f"{name} ×{description.get('threads')} threads, {bf16}"


# --- the device a run uses ------------------------------------------------------------------------------

def resolve_device(requested: str) -> torch.device:
    """The device ``--device`` names (``auto``: a CUDA device where PyTorch sees one, else the CPU); one line where
    it cannot be had."""
    if requested == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if requested.startswith("cuda") and not torch.cuda.is_available():
        raise ConfigError("--device cuda was requested but PyTorch sees no CUDA device; use --device cpu or auto")
    if requested != "cpu" and not requested.startswith("cuda"):
        raise ConfigError(f"device must be auto, cpu or cuda[:N], got {requested!r}")
    return torch.device(requested)


def bf16_supported(device: torch.device) -> bool:
    """Whether ``device`` computes in bf16 natively (a CUDA device that says so; a CPU with oneDNN's bf16)."""
    if device.type == "cuda":
        return torch.cuda.is_bf16_supported()
    return bool(torch.backends.mkldnn.is_available() and torch.ops.mkldnn._is_mkldnn_bf16_supported())


def device_name(device: torch.device) -> str:
    """A one-line label of the hardware (CPU model and bf16/AMX support, or GPU and CUDA version)."""
    return device_label(describe_device(device))
