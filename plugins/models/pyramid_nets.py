"""The base CNN and the SPP/ASPP pyramid networks of Stofa et al., Sensors 2022.

Base CNN (Table 2): five convolutions, three max-pools, three fully connected layers on a
75×75 optical-flow image. Table 2's padding column contradicts its own output sizes; we take the
reading that reproduces the output sizes (see ``BASE_CNN_NOTES``).

A pyramid module is inserted after Conv1 or Conv2 (Tables 3–4). Each of its ``n`` branches is
  SPP:  3×3 conv → average pool (kernel = stride = 2, 4, …, 2n) → BN → ReLU → bilinear resize back
  ASPP: 3×3 atrous conv (dilation 1, 2, …, n) → BN → ReLU
In *direct* flow every branch reads the module input; in *waterfall* flow branch i+1 reads the
output of branch i. The module output is the concatenation of the input (skip) and all branches.
"""

from __future__ import annotations

import functools
from typing import Literal

import torch
import torch.nn.functional as F
from torch import nn

from mebench import hookimpl
from mebench.data import InputSpec, ModelSpec, Reference

PAPER = Reference(
    authors="Stofa, M.M.; Zulkifley, M.A.; Zainuri, M.A.A.M.",
    title="Micro-Expression-Based Emotion Recognition Using Waterfall Atrous Spatial Pyramid Pooling Networks",
    venue="Sensors 22(12):4634",
    year=2022,
    url="https://doi.org/10.3390/s22124634",
)

FLOW_PREPROCESSING = ("apex_frame", "tvl1_flow", "optical_strain", "flow_stack")
PAPER_INPUT = InputSpec(channels=3, height=75, width=75)

ROMAN = ("i", "ii", "iii", "iv", "v", "vi", "vii", "viii")

BASE_CNN_NOTES = (
    "Table 2's padding column (1, 1, 0, 1, 0, 1, 0, 1) contradicts its output sizes "
    "(69, 65, 65, 32, 32, 16, 16, 8 from a 75×75 input). We use the padding that reproduces the "
    "output sizes: Conv1/Conv2 unpadded, Conv3–5 padded by 1, Pool3 unpadded, Pool4/Pool5 padded by 1 "
    "(3×3 max-pool, stride 2).",
    "Pooling type is not stated; we use max pooling. No dropout is listed, so none is used.",
    "With a 3-channel input Table 2 gives 10,739,971 parameters for the base CNN; the paper's Table 14 "
    "lists about 8.1–8.4 M for the pyramid nets, which cannot follow from Table 2 (FC1 alone has "
    "512·8·8·128 + 128 = 4,194,432). We implement Table 2 as printed and report our own counts.",
)

PYRAMID_NOTES = (
    "The branch convolution is 3×3 with C_in/2 output channels (128 after Conv2, 48 after Conv1), "
    "no bias (it is followed by BN); the paper states neither. SPP pooling uses kernel = stride.",
    "Tables 3–4 give n branches with pool kernels 2…2n and dilations 1…n; §3.5's prose example "
    "(kernels 4–10, dilations 2–5 for four branches) disagrees with the tables; we follow the tables.",
    "Waterfall branches read the previous branch's (resized) output; all branch outputs and the skip "
    "are concatenated, so Conv3 (or Conv2) widens to C_in + n·C_in/2 input channels.",
)


def _conv_out(size: int, kernel: int, padding: int, stride: int = 1) -> int:
    return (size + 2 * padding - kernel) // stride + 1


class PyramidBranch(nn.Module):
    """One SPP or ASPP branch: conv (atrous for ASPP) [+ average pool for SPP] → BN → ReLU."""

    def __init__(self, in_channels: int, out_channels: int, kind: Literal["spp", "aspp"], scale: int):
        super().__init__()
        self.kind = kind
        self.scale = scale
        dilation = scale if kind == "aspp" else 1
        self.conv = nn.Conv2d(in_channels, out_channels, 3, padding=dilation, dilation=dilation, bias=False)
        self.pool = nn.AvgPool2d(2 * scale, ceil_mode=True) if kind == "spp" else nn.Identity()
        self.bn = nn.BatchNorm2d(out_channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = torch.relu(self.bn(self.pool(self.conv(x))))
        if y.shape[-2:] != x.shape[-2:]:
            y = F.interpolate(y, size=x.shape[-2:], mode="bilinear", align_corners=False)
        return y


class PyramidModule(nn.Module):
    """n parallel branches in direct or waterfall flow, concatenated with a skip connection."""

    def __init__(self, in_channels: int, kind: Literal["spp", "aspp"], branches: int,
                 flow: Literal["direct", "waterfall"], branch_channels: int | None = None):
        super().__init__()
        if kind not in ("spp", "aspp"):
            raise ValueError(f"pyramid kind must be 'spp' or 'aspp', got {kind!r}")
        if flow not in ("direct", "waterfall"):
            raise ValueError(f"pyramid flow must be 'direct' or 'waterfall', got {flow!r}")
        if not 1 <= branches <= 5:
            raise ValueError(f"the paper's pyramids have 2–5 branches (1 allowed), got {branches}")
        width = branch_channels or in_channels // 2
        self.flow = flow
        self.branches = nn.ModuleList(
            PyramidBranch(in_channels if flow == "direct" or i == 0 else width, width, kind, scale=i + 1)
            for i in range(branches)
        )
        self.out_channels = in_channels + branches * width

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        outputs = [x]
        source = x
        for branch in self.branches:
            y = branch(source)
            outputs.append(y)
            if self.flow == "waterfall":
                source = y
        return torch.cat(outputs, dim=1)


class PyramidNet(nn.Module):
    """Table 2's base CNN, optionally with a pyramid module after Conv1 or Conv2."""

    def __init__(self, num_classes: int = 3, input_spec: InputSpec = PAPER_INPUT,
                 pyramid: Literal["spp", "aspp"] | None = None, branches: int = 3,
                 position: Literal[1, 2] = 2, flow: Literal["direct", "waterfall"] = "waterfall",
                 branch_channels: int | None = None):
        super().__init__()
        position = int(position)
        if position not in (1, 2):
            raise ValueError(f"pyramid position must be 1 (after Conv1) or 2 (after Conv2), got {position}")
        branches = int(branches)

        def pyramid_after(channels: int) -> tuple[nn.Module, int]:
            module = PyramidModule(channels, pyramid, branches, flow, branch_channels)
            return module, module.out_channels

        self.conv1 = nn.Conv2d(input_spec.channels, 96, 7)
        self.pyramid1, c1 = (pyramid_after(96) if pyramid and position == 1 else (nn.Identity(), 96))
        self.conv2 = nn.Conv2d(c1, 256, 5)
        self.pyramid2, c2 = (pyramid_after(256) if pyramid and position == 2 else (nn.Identity(), 256))
        self.conv3 = nn.Conv2d(c2, 512, 3, padding=1)
        self.pool3 = nn.MaxPool2d(3, stride=2)
        self.conv4 = nn.Conv2d(512, 512, 3, padding=1)
        self.pool4 = nn.MaxPool2d(3, stride=2, padding=1)
        self.conv5 = nn.Conv2d(512, 512, 3, padding=1)
        self.pool5 = nn.MaxPool2d(3, stride=2, padding=1)
        h, w = input_spec.height, input_spec.width
        for kernel, padding, stride in ((7, 0, 1), (5, 0, 1), (3, 0, 2), (3, 1, 2), (3, 1, 2)):
            h, w = _conv_out(h, kernel, padding, stride), _conv_out(w, kernel, padding, stride)
        if h < 1 or w < 1:
            raise ValueError(f"input {input_spec} is too small for the base CNN")
        self.fc1 = nn.Linear(512 * h * w, 128)
        self.fc2 = nn.Linear(128, 128)
        self.fc3 = nn.Linear(128, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.pyramid1(torch.relu(self.conv1(x)))
        x = self.pyramid2(torch.relu(self.conv2(x)))
        x = self.pool3(torch.relu(self.conv3(x)))
        x = self.pool4(torch.relu(self.conv4(x)))
        x = self.pool5(torch.relu(self.conv5(x)))
        x = torch.flatten(x, 1)
        x = torch.relu(self.fc1(x))
        x = torch.relu(self.fc2(x))
        return self.fc3(x)


def _variant_name(kind: str, number: int, flow: str) -> str:
    return f"{kind}-{ROMAN[number - 1]}-{flow}"


def _variant_config(number: int) -> dict:
    """Tables 3–4: variants I–IV sit after Conv1, V–VIII after Conv2, with 2–5 branches."""
    return {"branches": (number - 1) % 4 + 2, "position": 1 if number <= 4 else 2}


# The paper's four headline networks. The text recommends three branches for WASPP-Net
# ("three parallel branches are a better configuration compared to the five"); we use the same
# placement and branch count for all four so that they differ only in pyramid kind and flow.
HEADLINE = {
    "dspp": ("spp", "direct", 6),
    "wspp": ("spp", "waterfall", 6),
    "daspp": ("aspp", "direct", 6),
    "waspp": ("aspp", "waterfall", 6),
}

REPORTED = {  # Table 13 (combined, accuracy % and F1) and Table 14 (parameters), Table 12 (timing)
    "base": {"combined_accuracy": 77.48, "combined_f1": 0.6621, "train_s_per_subject": 520, "fps": 418},
    "dspp": {"combined_accuracy": 77.93, "parameters": 8378659, "train_s_per_subject": 431, "fps": 510},
    "wspp": {"combined_accuracy": 80.20, "parameters": 8231203, "train_s_per_subject": 370, "fps": 591},
    "daspp": {"combined_accuracy": 78.08, "parameters": 8378659, "train_s_per_subject": 548, "fps": 400},
    "waspp": {"combined_accuracy": 80.50, "combined_f1": 0.7075, "parameters": 8117794,
              "train_s_per_subject": 447, "fps": 460},
}


def _spec(name: str, description: str, reported: dict | None = None, **config) -> ModelSpec:
    return ModelSpec(
        name=name,
        factory=functools.partial(_build, **config),
        input_spec=PAPER_INPUT,
        preprocessing=FLOW_PREPROCESSING,
        description=description,
        reference=PAPER,
        reported=reported or {},
        notes=BASE_CNN_NOTES + (PYRAMID_NOTES if config.get("pyramid") else ()),
        family="pyramid_nets",
    )


def _build(num_classes: int, input_spec: InputSpec, **options) -> PyramidNet:
    return PyramidNet(num_classes=num_classes, input_spec=input_spec, **options)


def all_specs() -> list[ModelSpec]:
    specs = [_spec("base", "Base CNN of Table 2 (no pyramid module)", REPORTED["base"])]
    for name, (kind, flow, number) in HEADLINE.items():
        config = _variant_config(number)
        specs.append(_spec(
            name,
            f"{name.upper()}-Net: {kind.upper()} {flow} flow, {config['branches']} branches after "
            f"Conv{config['position']} (alias of {_variant_name(kind, number, flow)})",
            REPORTED[name], pyramid=kind, flow=flow, **config,
        ))
    for kind in ("spp", "aspp"):
        for number in range(1, 9):
            config = _variant_config(number)
            for flow in ("direct", "waterfall"):
                specs.append(_spec(
                    _variant_name(kind, number, flow),
                    f"{kind.upper()} variant {ROMAN[number - 1].upper()} ({config['branches']} branches after "
                    f"Conv{config['position']}), {flow} flow",
                    pyramid=kind, flow=flow, **config,
                ))
    return specs


@hookimpl
def mebench_register_models(register):
    for spec in all_specs():
        register(spec)
