"""The forward-pass known answers' cases: which net, with which options, on which seeded input.

``compute.py`` (run by hand against the authors' code) and ``tests/plugins/models/test_net_known_answers.py`` (run by
pytest, without the authors' code) both build every case from here, so the two sides cannot drift.

A case builds the mebench net with ``torch.manual_seed`` of its ``weight_seed`` (``WEIGHT_SEED`` unless
the case says otherwise) and the net's own initialisation, then gives every batch norm seeded running
statistics (so that where a batch norm sits changes the output), and runs in evaluation mode (dropout,
stochastic depth and MSAD off) in float64 on ``BATCH`` seeded standard-normal inputs.
"""

from __future__ import annotations

import functools
import json
from dataclasses import dataclass, field, replace
from pathlib import Path

import torch
from torch import nn

from mebench.registry import discover

ANSWERS = Path(__file__).with_name("forward.json")
WEIGHT_SEED = 29
INPUT_SEED = 2029
STATISTICS_SEED = 129
PROBE_SEED = 229
PROBE_DIRECTIONS = 4
BATCH = 2
NUM_CLASSES = 3


@dataclass(frozen=True)
class Case:
    """One known answer: ``model`` (a registered name) built with ``options`` for an input of
    ``shape`` (channels, height, width). ``probes`` names inner modules whose outputs are pinned too
    (as ``projection``s), where a block's effect on the logits of a freshly initialised net is too
    small to show."""

    name: str
    model: str
    shape: tuple[int, int, int]
    options: dict = field(default_factory=dict)
    probes: tuple[str, ...] = ()
    weight_seed: int = WEIGHT_SEED

    def describe(self) -> dict:
        """What the stored answer was computed for (kept next to it in ``forward.json``)."""
        return {"model": self.model, "shape": list(self.shape), "options": self.options, "batch": BATCH,
                "weight_seed": self.weight_seed, "input_seed": INPUT_SEED, "statistics_seed": STATISTICS_SEED,
                "dtype": "float64", "probes": list(self.probes)}


CASES = (
    # HTNet at its own geometry (28×28, 7×7 patches, 3 levels: every block one token) with narrow
    # widths, and at 56×56, where every block of every level holds 2×2 tokens, so attention mixes them.
    Case("htnet-28", "htnet", (3, 28, 28), {"dim": 12, "heads": 3, "block_repeats": "1,1,2"}),
    Case("htnet-56", "htnet", (3, 56, 56), {"dim": 12, "heads": 3, "block_repeats": "1,1,2"}),
    # At initialisation the self-attention's output is a few thousandths of its input (one softmax over
    # 14·14 entries scales the values) and moves the logits by ~1e-6, so its output is pinned itself. The channel gate's bottleneck is one
    # unit behind a ReLU: at the default seed the maximum's pre-activation is negative, which hides that
    # branch; at seed 5 both the average's and the maximum's are positive.
    Case("offtanet", "offtanet", (3, 112, 112), probes=("stages.2.attention",), weight_seed=5),
    Case("rcn-a", "rcn-a", (3, 60, 60)),
    Case("rcn-s", "rcn-s", (3, 60, 60)),
    Case("rcn-w", "rcn-w", (3, 60, 60)),
    Case("rcn-p", "rcn-p", (3, 60, 60)),
    Case("rcn-c", "rcn-c", (3, 60, 60)),
    Case("rcn-f", "rcn-f", (3, 60, 60)),
    # The authors' DualATTNet reshapes the ViT's tokens to 512 channels, so embed_dim stays 512; the
    # fusion layers (94 % of the parameters, plain 1×1 convolutions and dense layers) are narrowed.
    Case("inceptr", "inceptr", (3, 28, 28), {"fusion_channels": 8, "hidden": 16},
         probes=("conv1x1_pc", "conv1x1_sca")),  # the two branch maps the authors' similarity loss compares
    Case("ststnet", "ststnet", (3, 28, 28)),
    Case("sssnet", "sssnet", (3, 64, 64)),
    Case("offapexnet", "offapexnet", (2, 28, 28)),
)


@functools.cache
def registry():
    return discover()


def spec(case: Case):
    return registry().models.get(case.model)


def build(case: Case) -> nn.Module:
    """The mebench net of ``case``: seeded initialisation, seeded batch-norm statistics, float64, eval mode."""
    model_spec = spec(case)
    channels, height, width = case.shape
    input_spec = replace(model_spec.input_spec, channels=channels, height=height, width=width)
    defaults = {option.name: option.default for option in model_spec.options or ()}
    torch.manual_seed(case.weight_seed)
    model = model_spec.factory(num_classes=NUM_CLASSES, input_spec=input_spec, **{**defaults, **case.options})
    statistics = torch.Generator().manual_seed(STATISTICS_SEED)
    with torch.no_grad():
        for module in model.modules():
            if isinstance(module, nn.modules.batchnorm._BatchNorm):
                module.running_mean.copy_(0.5 * torch.randn(module.num_features, generator=statistics))
                module.running_var.copy_(0.5 + torch.rand(module.num_features, generator=statistics))
    return model.double().eval()


def inputs(case: Case) -> torch.Tensor:
    """``BATCH`` seeded standard-normal inputs of the case's shape, float64."""
    generator = torch.Generator().manual_seed(INPUT_SEED)
    return torch.randn(BATCH, *case.shape, generator=generator, dtype=torch.float64)


def projection(output: torch.Tensor) -> list[list[float]]:
    """A module's output reduced to ``PROBE_DIRECTIONS`` numbers per sample: its flattened values times
    seeded standard-normal directions (any change of any value moves them)."""
    flat = output.flatten(1)
    generator = torch.Generator().manual_seed(PROBE_SEED)
    directions = torch.randn(flat.shape[1], PROBE_DIRECTIONS, generator=generator, dtype=torch.float64)
    return (flat.double() @ directions).tolist()


def run(model: nn.Module, case: Case, probes: dict[str, str] | None = None) -> tuple[torch.Tensor, dict]:
    """``model``'s output on the case's inputs and the ``projection`` of each probe's output; ``probes``
    maps a probe (a module name of the mebench net) to the module of ``model`` that gives it (default:
    the same name)."""
    probes = probes or {name: name for name in case.probes}
    captured = {}
    handles = [model.get_submodule(module).register_forward_hook(
                   lambda _module, _args, output, probe=probe: captured.update({probe: projection(output)}))
               for probe, module in probes.items()]
    try:
        with torch.no_grad():
            output = model(inputs(case))
    finally:
        for handle in handles:
            handle.remove()
    return output, captured


def load_answers() -> dict:
    return json.loads(ANSWERS.read_text()) if ANSWERS.exists() else {}
