"""What ``mebench info`` shows: a model's declared card (``ModelCard``) next to the facts measured
here — our parameter count and MACs — and the table of every model (``leaderboards/models.md``)."""

from __future__ import annotations

import dataclasses
import textwrap
from dataclasses import dataclass
from typing import Any, Sequence

import torch
from tabulate import tabulate
from torch.utils.flop_counter import FlopCounterMode

from mebench.data import INPUT_SCALINGS, MEGC2019_CLASSES, ModelCard, ModelSpec, ReportedFigures, StepRef
from mebench.estimators import is_estimator, is_spotter
from mebench.options import describe_options
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


def describe_step(step: StepRef) -> str:
    """``name`` or ``name(key=value, …)``: a chain step as a model declares it."""
    if isinstance(step, str):
        return step
    name, options = step
    return f"{name}({', '.join(f'{key}={value}' for key, value in options.items())})" if options else name


@dataclass(frozen=True)
class ModelFacts:
    """A model's declared card and what is measured here (3-class head, default options); an
    estimator (``mebench.estimators``) has neither parameters nor MACs before it is fitted (None)."""

    spec: ModelSpec
    plugin: str
    parameters: int | None
    macs: int | None
    #: what the model is where it is not a net (no parameters or MACs to count)
    not_a_net: str = ""

    @property
    def parameters_text(self) -> str:
        return f"— ({self.not_a_net}; see the card)" if self.parameters is None else f"{self.parameters:,}"

    @property
    def macs_text(self) -> str:
        return "—" if self.macs is None else f"{self.macs / 1e6:,.2f} M"

    @property
    def card(self) -> ModelCard | None:
        return self.spec.card

    def as_json(self) -> dict[str, Any]:
        card = self.card
        return {
            "name": self.spec.name, "description": self.spec.description, "plugin": self.plugin,
            "family": self.spec.family, "input_spec": str(self.spec.input_spec),
            "preprocessing": [describe_step(step) for step in self.spec.preprocessing],
            "options": describe_options(self.spec.options),
            "parameters": self.parameters, "macs": self.macs,
            "card": _plain(dataclasses.asdict(card)) if card else None,
        }


def _plain(value: Any) -> Any:
    """``dataclasses.asdict`` output made JSON-ready (enums as their values, empty fields dropped)."""
    if isinstance(value, dict):
        return {key: _plain(item) for key, item in value.items() if item not in (None, "", (), [], {})}
    if isinstance(value, (list, tuple)):
        return [_plain(item) for item in value]
    return value.value if hasattr(value, "value") and not isinstance(value, (int, float, str)) else value


def model_facts(spec: ModelSpec, plugin: str = "") -> ModelFacts:
    torch.manual_seed(0)
    model = spec.build(len(MEGC2019_CLASSES))
    if is_estimator(model) or is_spotter(model):  # fitted per fold, or hand-crafted: no net to count
        return ModelFacts(spec, plugin, None, None, "an estimator: fitted per fold" if is_estimator(model)
                          else "a spotter: it reads whole videos")
    return ModelFacts(spec, plugin, count_parameters(model), count_macs(model, spec))


def _percent_or_rate(key: str, value: float) -> str:
    return f"{100 * value:.2f} %" if key == "accuracy" else f"{value:.4f}"


def figures_line(figures: ReportedFigures) -> str:
    """``accuracy 77.48 %; uf1 0.6621; casme2: …; 8,117,794 parameters (combined, loso)``."""
    parts = [f"{key} {_percent_or_rate(key, getattr(figures, key))}" for key in ("accuracy", "uf1", "uar")
             if getattr(figures, key) is not None]
    parts += [f"{key} {_percent_or_rate(key, value)}" for key, value in figures.figures.items()]
    for name, values in figures.per_dataset.items():
        parts.append(f"{name}: " + ", ".join(f"{key} {_percent_or_rate(key, v)}" for key, v in values.items()))
    if figures.parameters:
        parts.append(f"{figures.parameters:,} parameters")
    if figures.train_s_per_subject:
        parts.append(f"{figures.train_s_per_subject:g} s training per subject")
    if figures.fps:
        parts.append(f"{figures.fps:g} frames/s")
    if figures.device:
        parts.append(f"on {figures.device}")
    return f"{'; '.join(parts)} ({figures.dataset}, {figures.protocol})"


def figures_label(figures: ReportedFigures) -> str:
    """``source``, or ``model — source`` where the source names other than exactly this net."""
    return f"{figures.model} — {figures.source}" if figures.model else figures.source


def input_scaling_text(facts: ModelFacts) -> str:
    """How the harness scales the model's input (``InputSpec.scaling``); an estimator scales its own features."""
    if facts.parameters is None:
        return ("does not apply: an estimator is fitted on the chain's features as they are"
                if facts.not_a_net.startswith("an estimator") else "does not apply: a spotter reads its videos' "
                                                                   "frames as they are")
    scaling = facts.spec.input_spec.scaling
    return f"{scaling}: {INPUT_SCALINGS[scaling]} (--model-opt input_scaling={'|'.join(INPUT_SCALINGS)} sets it)"


def _input_text(spec: ModelSpec) -> str:
    """``3x28x28 via apex_frame → …``; a model without a chain (a spotter) reads whole videos."""
    if not spec.preprocessing:
        return "whole videos' frames, no preprocessing chain"
    return f"{spec.input_spec} via {' → '.join(describe_step(s) for s in spec.preprocessing)}"


def _card_rows(facts: ModelFacts) -> list[list[str]]:
    spec, card = facts.spec, facts.card
    if card is None:
        return [["source", "— (the plugin declares no model card)"],
                ["input", _input_text(spec)],
                ["input scaling", input_scaling_text(facts)],
                ["parameters (ours)", facts.parameters_text],
                ["MACs per sample (ours)", facts.macs_text]]
    reference = (f"{card.reference_parameters:,}" + (f" ({card.reference_parameters_source})"
                                                     if card.reference_parameters_source else "")
                 if card.reference_parameters else "—")
    rows = [["source", str(card.source)],
            ["code", "; ".join(map(str, card.code)) or "none published by the authors"],
            ["fidelity", f"{card.fidelity.value}: {card.fidelity_detail}"]]
    if card.identification:
        rows.append(["identification", card.identification])
    rows += [["input chain", card.input_chain],
             ["input", _input_text(spec)],
             ["input scaling", input_scaling_text(facts)],
             ["parameters (ours)", facts.parameters_text],
             ["parameters (reference)", reference],
             ["MACs per sample (ours)", facts.macs_text]]
    return [row for row in rows if row[1]]


def render_card(facts: ModelFacts) -> str:
    spec, card = facts.spec, facts.card
    lines = [f"{spec.name}: {spec.description}", ""]
    wrapped = [[key, textwrap.fill(str(value), 100)] for key, value in _card_rows(facts)]
    lines.append(tabulate(wrapped, tablefmt="plain", disable_numparse=True))
    lines += ["", "options (--model-opt):"] + [f"  - {line}" for line in describe_options(spec.options)]
    if card and card.reported:
        lines += ["", "reported figures:"]
        for figures in card.reported:
            lines.append(f"  - {figures_label(figures)}: {figures_line(figures)}")
            if figures.note:
                lines.append(f"      note: {figures.note}")
    if card and card.deviations:
        lines += ["", "deviations and notes:"] + [f"  - {note}" for note in card.deviations]
    return "\n".join(lines)


def all_model_facts(registry: Registry) -> list[ModelFacts]:
    """Every registered model's facts, by name (each model built once)."""
    return [model_facts(registry.models.get(name), registry.models.owner(name)) for name in registry.models.names()]


def models_leaderboard(registry: Registry, fmt: str = "markdown", measured: Sequence[ModelFacts] | None = None) -> str:
    """A table of every registered model: params (ours and reference), MACs, input, fidelity, reference
    (``measured``: the models' facts where the caller has them, else measured here)."""
    import pandas as pd

    rows = []
    for facts in all_model_facts(registry) if measured is None else measured:
        spec, name = facts.spec, facts.spec.name
        card = spec.card
        reported = next((f.parameters for f in spec.reported if f.parameters), None)
        rows.append({"model": name, "params": "—" if facts.parameters is None else f"{facts.parameters:,}",
                     "reported params": f"{reported:,}" if reported else "",
                     "MMACs": "—" if facts.macs is None else f"{facts.macs / 1e6:,.1f}", "input": str(spec.input_spec),
                     "fidelity": card.fidelity.value if card else "",
                     "reference": card.source.short if card else ""})
    frame = pd.DataFrame(rows)
    if fmt == "csv":
        return frame.to_csv(index=False)
    return tabulate(frame, headers="keys", tablefmt="github", showindex=False, disable_numparse=True)


def _markdown_cell(text: str) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def models_document(registry: Registry) -> str:
    """``docs/models.md``: the table of every model, then each distinct card once (models whose cards differ
    at most in the reference parameter count, such as the pyramid and the RCN variants, are listed together
    with their own counts)."""
    groups: dict[int, list[ModelFacts]] = {}
    cards: list[ModelCard | None] = []
    every = all_model_facts(registry)
    for facts in every:
        shared = dataclasses.replace(facts.card, reference_parameters=None) if facts.card else None
        key = next((i for i, card in enumerate(cards) if card is not None and card == shared), None)
        if key is None:
            key = len(cards)
            cards.append(shared)
        groups.setdefault(key, []).append(facts)
    lines = ["# Models", "",
             "Generated by `mebench info --all --write docs/models.md` from the installed plugins' model cards; "
             "`mebench info MODEL` prints one card. Parameter counts and MACs are measured here (3 classes, the "
             "declared input); the reference count is the one the card's source gives. Besides the models below, "
             "`timm:<name>` makes any timm architecture a model (random initialisation, `in_chans` and `num_classes` "
             "set, input size from timm's default configuration or `timm:<name>@<size>`) and `tv:r3d_18`, "
             "`tv:mc3_18`, `tv:r2plus1d_18` torchvision's video nets on grey clips (`tv:<name>@<frames>x<size>`); "
             "both start from random weights unless `--model-opt weights=FILE` or `pretrained=…` is given "
             "(docs/pretrained.md), and nothing is downloaded unless asked.", "",
             models_leaderboard(registry, measured=every), ""]
    for members in groups.values():
        first = members[0]
        names = [f.spec.name for f in members]
        heading = ", ".join(names) if len(names) <= 3 else f"{names[0]} … {names[-1]} ({len(names)} models, one card)"
        lines += [f"## {heading}", ""]
        references = {f.card.reference_parameters if f.card else None for f in members}
        if len(members) > 1:
            own_reference = len(references) > 1  # then each model's reference count is a column, not a row
            lines += ["| model | description | params (ours) | " + ("params (reference) | " if own_reference else "")
                      + "MMACs |", "|---|---|---|" + ("---|" if own_reference else "") + "---|"]
            lines += [f"| {f.spec.name} | {_markdown_cell(f.spec.description)} | {f.parameters_text} | "
                      + (f"{f.card.reference_parameters:,} | " if own_reference and f.card.reference_parameters
                         else "— | " if own_reference else "")
                      + f"{'—' if f.macs is None else f'{f.macs / 1e6:,.1f}'} |" for f in members]
            lines.append("")
        else:
            lines += [first.spec.description, ""]
        lines += ["| | |", "|---|---|"] + [f"| {key} | {_markdown_cell(value)} |" for key, value in _card_rows(first)
                                           if len(members) == 1 or not ("(ours)" in key or (
                                               key == "parameters (reference)" and len(references) > 1))]
        if len({repr(f.spec.options) for f in members}) == 1:
            options = "; ".join(describe_options(first.spec.options))
        else:  # declared alike, each with its own configuration as the defaults
            options = ", ".join(o.name for o in first.spec.options) + " (defaults: each model's own configuration)"
        lines += ["", f"Options (`--model-opt`): {options}", ""]
        card = first.card
        if card and card.reported:
            lines += ["Reported figures:", ""] + [f"- {figures_label(f)}: {figures_line(f)}"
                                                  + (f" — {f.note}" if f.note else "")
                                                  for f in card.reported] + [""]
        if card and card.deviations:
            lines += ["Deviations and notes:", ""] + [f"- {note}" for note in card.deviations] + [""]
    return "\n".join(lines)
