"""Model cards: source, fidelity, input chain, our parameter count next to the reference count,
MACs, every published figure with its source, and every deviation.

A model plugin states the card's facts in ``ModelSpec.notes``: a note that starts with ``code:``,
``fidelity:``, ``input chain:``, ``reference parameter count:`` or ``identification:`` fills that
row of the card; every other note is listed under "deviations and notes".
"""

from __future__ import annotations

import dataclasses
import textwrap
from typing import Any

import torch
from tabulate import tabulate
from torch.utils.flop_counter import FlopCounterMode

from mebench.data import MEGC2019_CLASSES, ModelSpec, ReportedFigures, StepRef
from mebench.registry import Registry

#: Note prefixes that become rows of the card, in display order.
CARD_FIELDS = ("code", "fidelity", "input chain", "reference parameter count", "identification")


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


def describe_step(step: StepRef) -> str:
    """``name`` or ``name(key=value, …)``: a chain step as a model declares it."""
    if isinstance(step, str):
        return step
    name, options = step
    return f"{name}({', '.join(f'{key}={value}' for key, value in options.items())})" if options else name


def split_notes(notes: tuple[str, ...]) -> tuple[dict[str, str], list[str]]:
    """(card fields found among ``notes`` by prefix, the remaining notes)."""
    fields: dict[str, str] = {}
    rest: list[str] = []
    for note in notes:
        key, _, value = note.partition(":")
        if key in CARD_FIELDS and value:
            fields[key] = value.strip()
        else:
            rest.append(note.removeprefix("deviation: "))
    return fields, rest


def _reported(figures: ReportedFigures) -> dict[str, Any]:
    return {key: value for key, value in dataclasses.asdict(figures).items() if value not in (None, "", {})}


def model_card(spec: ModelSpec, plugin: str = "") -> dict[str, Any]:
    torch.manual_seed(0)
    model = spec.build(len(MEGC2019_CLASSES))
    fields, notes = split_notes(tuple(spec.notes))
    return {
        "name": spec.name,
        "description": spec.description,
        "plugin": plugin,
        "family": spec.family,
        "reference": str(spec.reference) if spec.reference else None,
        "url": spec.reference.url if spec.reference else None,
        **{key.replace(" ", "_"): fields.get(key) for key in CARD_FIELDS},
        "input_spec": str(spec.input_spec),
        "preprocessing": [describe_step(step) for step in spec.preprocessing],
        "parameters": count_parameters(model),
        "macs": count_macs(model, spec),
        "reported": [_reported(figures) for figures in spec.reported],
        "notes": notes,
    }


def _percent_or_rate(key: str, value: float) -> str:
    return f"{100 * value:.2f} %" if key == "accuracy" else f"{value:.4f}"


def _figures_line(figures: dict[str, Any]) -> str:
    parts = [f"{key} {_percent_or_rate(key, figures[key])}" for key in ("accuracy", "uf1", "uar") if key in figures]
    for name, values in figures.get("per_dataset", {}).items():
        parts.append(f"{name}: " + ", ".join(f"{key} {_percent_or_rate(key, v)}" for key, v in values.items()))
    if "parameters" in figures:
        parts.append(f"{figures['parameters']:,} parameters")
    if "train_s_per_subject" in figures:
        parts.append(f"{figures['train_s_per_subject']:g} s training per subject")
    if "fps" in figures:
        parts.append(f"{figures['fps']:g} frames/s")
    if "device" in figures:
        parts.append(f"on {figures['device']}")
    where = f"{figures.get('dataset', 'combined')}, {figures.get('protocol', 'loso')}"
    return f"{'; '.join(parts)} ({where})"


def render_card(card: dict[str, Any]) -> str:
    lines = [f"{card['name']}: {card['description']}", ""]
    rows = [["source", card["reference"] or "—"]]
    for key in CARD_FIELDS:
        value = card.get(key.replace(" ", "_"))
        if value and key != "reference parameter count":
            rows.append([key, value])
    rows += [
        ["input", f"{card['input_spec']} via {' → '.join(card['preprocessing'])}"],
        ["parameters (ours)", f"{card['parameters']:,}"],
        ["parameters (reference)", card.get("reference_parameter_count") or "—"],
        ["MACs per sample (ours)", f"{card['macs'] / 1e6:,.2f} M"],
    ]
    wrapped = [[key, textwrap.fill(str(value), 100)] for key, value in rows]
    lines.append(tabulate(wrapped, tablefmt="plain", disable_numparse=True))
    if card["reported"]:
        lines += ["", "reported figures:"]
        for figures in card["reported"]:
            lines.append(f"  - {figures['source']}: {_figures_line(figures)}")
            if figures.get("note"):
                lines.append(f"      note: {figures['note']}")
    if card["notes"]:
        lines += ["", "deviations and notes:"] + [f"  - {note}" for note in card["notes"]]
    return "\n".join(lines)


def models_leaderboard(registry: Registry, fmt: str = "markdown") -> str:
    """A table of every registered model: params (ours and reference), MACs, input, fidelity, reference."""
    import pandas as pd

    rows = []
    for name in registry.models.names():
        spec = registry.models.get(name)
        card = model_card(spec, registry.models.owner(name))
        reported = next((f.parameters for f in spec.reported if f.parameters), None)
        fidelity = (card.get("fidelity") or "").split(" ")[0].split(":")[0].lower()
        rows.append({"model": name, "params": f"{card['parameters']:,}",
                     "reported params": f"{reported:,}" if reported else "",
                     "MMACs": f"{card['macs'] / 1e6:,.1f}", "input": card["input_spec"],
                     "fidelity": fidelity,
                     "reference": spec.reference.short if spec.reference else ""})
    frame = pd.DataFrame(rows)
    if fmt == "csv":
        return frame.to_csv(index=False)
    return tabulate(frame, headers="keys", tablefmt="github", showindex=False, disable_numparse=True)
