"""Model cards: reference, input spec, our parameter count and MACs, paper figures, deviations."""

from __future__ import annotations

from typing import Any

import torch
from tabulate import tabulate
from torch.utils.flop_counter import FlopCounterMode

from mebench.data import CLASSES, ModelSpec
from mebench.registry import Registry


def count_parameters(model: torch.nn.Module) -> int:
    return int(sum(p.numel() for p in model.parameters()))


@torch.no_grad()
def count_macs(model: torch.nn.Module, spec: ModelSpec) -> int:
    """Multiply-accumulates of one forward pass on one input (FLOPs / 2, by torch's counter)."""
    model.eval()
    x = torch.zeros(1, spec.input_spec.channels, spec.input_spec.height, spec.input_spec.width)
    with FlopCounterMode(display=False) as counter:
        model(x)
    return int(counter.get_total_flops() // 2)


def model_card(spec: ModelSpec, plugin: str = "") -> dict[str, Any]:
    torch.manual_seed(0)
    model = spec.build(len(CLASSES))
    return {
        "name": spec.name,
        "description": spec.description,
        "plugin": plugin,
        "family": spec.family,
        "reference": str(spec.reference) if spec.reference else None,
        "url": spec.reference.url if spec.reference else None,
        "input_spec": str(spec.input_spec),
        "preprocessing": [s if isinstance(s, str) else s[0] for s in spec.preprocessing],
        "parameters": count_parameters(model),
        "macs": count_macs(model, spec),
        "reported": dict(spec.reported),
        "notes": list(spec.notes),
    }


def render_card(card: dict[str, Any]) -> str:
    lines = [f"{card['name']}: {card['description']}", ""]
    rows = [
        ["reference", card["reference"] or "—"],
        ["input", f"{card['input_spec']} via {' → '.join(card['preprocessing'])}"],
        ["parameters (ours)", f"{card['parameters']:,}"],
        ["MACs per sample (ours)", f"{card['macs'] / 1e9:.3f} G"],
    ]
    for key, value in card["reported"].items():
        rows.append([f"reported {key.replace('_', ' ')}", f"{value:,}" if isinstance(value, int) else str(value)])
    lines.append(tabulate(rows, tablefmt="plain"))
    if card["notes"]:
        lines += ["", "deviations and notes:"] + [f"  - {note}" for note in card["notes"]]
    return "\n".join(lines)


def models_leaderboard(registry: Registry, fmt: str = "markdown") -> str:
    """A table of every registered model: params, MACs, input and reference."""
    import pandas as pd

    rows = []
    for name in registry.models.names():
        spec = registry.models.get(name)
        card = model_card(spec, registry.models.owner(name))
        reported = card["reported"].get("parameters")
        rows.append({"model": name, "params": f"{card['parameters']:,}",
                     "reported params": f"{reported:,}" if reported else "",
                     "MMACs": f"{card['macs'] / 1e6:,.1f}", "input": card["input_spec"],
                     "reference": spec.reference.short if spec.reference else ""})
    frame = pd.DataFrame(rows)
    if fmt == "csv":
        return frame.to_csv(index=False)
    return tabulate(frame, headers="keys", tablefmt="github", showindex=False, disable_numparse=True)
