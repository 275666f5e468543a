"""The base CNN and the SPP/ASPP pyramid networks of Stofa et al., Sensors 2022.

Base CNN (Table 2): five convolutions, three max-pools, three fully connected layers on a
75×75 optical-flow image. Table 2's padding column contradicts its own output sizes; we take the
reading that reproduces the output sizes (see ``BASE_CNN_NOTES``).

A pyramid module is inserted after Conv1 or Conv2 (Tables 3–4). Each of its ``n`` branches is
  SPP:  3×3 conv → average pool (kernel = stride = 2, 4, …, 2n) → BN → ReLU → bilinear resize back
  ASPP: 3×3 atrous conv (dilation 1, 2, …, n) → BN → ReLU
In *direct* flow every branch reads the module input; in *waterfall* flow branch i+1 reads the
output of branch i. The module output is the concatenation of the input (skip) and all branches.

The four headline nets are identified from the paper's result tables (see ``HEADLINE``):
DSPP-Net = SPP V direct, WSPP-Net = SPP V waterfall (two branches after Conv2), DASPP-Net = ASPP VI
direct, WASPP-Net = ASPP VI waterfall (three branches after Conv2).
"""

from __future__ import annotations

from typing import Literal

import torch
import torch.nn.functional as F
from torch import nn

from mebench import hookimpl
from mebench.data import Fidelity, InputSpec, ModelCard, ModelSpec, Reference, ReportedFigures
from mebench.options import Option
from mebench_plugins.preprocessors.chains import FLOW_UVS, ONSET_APEX_TEXT

PAPER = Reference(
    authors="Stofa, M.M.; Zulkifley, M.A.; Zainuri, M.A.A.M.",
    title="Micro-Expression-Based Emotion Recognition Using Waterfall Atrous Spatial Pyramid Pooling Networks",
    venue="Sensors 22(12):4634",
    year=2022,
    url="https://doi.org/10.3390/s22124634",
)

#: The paper says neither how its flow images were scaled nor normalised, so no per-sample normalisation, and
#: the fold standardisation (input scaling fold) is mebench's choice.
INPUT_CHAIN_TEXT = (f"{ONSET_APEX_TEXT}; channels (u, v, strain) in that order, no per-sample normalisation, "
                    f"resized to 75×75 (the paper: 'optic flow images … adjusted to a size of 75×75'); "
                    f"standardised per channel with the training fold's mean and deviation (input scaling fold, "
                    f"mebench's choice: the paper does not say how it scaled its inputs and the authors published no "
                    f"code)")
PAPER_INPUT = InputSpec(channels=3, height=75, width=75, scaling="fold")

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
    "no bias (it is followed by BN); the paper states neither, but Table 14's DSPP − WSPP gap of "
    "147,456 = 128·128·3·3 is what 128-channel branches after Conv2 give. SPP pooling uses kernel = stride.",
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


# The paper's four headline networks, identified from its result tables (the prose names only
# WASPP-Net's branch count). Each entry: pyramid kind, flow, variant number (Tables 3–4), evidence.
HEADLINE = {
    "dspp": ("spp", "direct", 5,
             "Table 10's DSPP-Net row (77.93 / 89.43 / 69.7 / 74.39 % on combined / CASME II / SAMM / SMIC) is "
             "Table 6's SPP column V exactly; Table 14's DSPP − WSPP gap, 8,378,659 − 8,231,203 = 147,456 = "
             "128·128·3·3, is one 128→128 3×3 convolution: the second of two branches after Conv2 reading the "
             "first branch (waterfall) instead of the 256-channel input (direct)"),
    "wspp": ("spp", "waterfall", 5,
             "Table 14's DSPP − WSPP gap, 147,456 = 128·128·3·3, is exactly the second of two branches after Conv2 "
             "reading 128 instead of 256 channels, so WSPP-Net is DSPP-Net (SPP V) in waterfall flow; its Table 10 "
             "row (80.20 / 92.18 / 72.73 / 75.61) matches no direct-flow column of Table 6, as expected"),
    "daspp": ("aspp", "direct", 6,
              "Table 11's DASPP-Net row (78.08 / 90.8 / 69.19 / 73.98) is Table 8's ASPP column VI exactly (three "
              "branches after Conv2); Table 14 gives DASPP-Net the same count as DSPP-Net (8,378,659), which two "
              "branches would give, not three: the paper's counts do not follow from its Table 2 either"),
    "waspp": ("aspp", "waterfall", 6,
              "§4.5: 'for WASPP-Net, three parallel branches are a better configuration compared to the five'; "
              "DASPP-Net is ASPP VI (three branches after Conv2), so WASPP-Net is ASPP VI in waterfall flow; its "
              "Table 11 row (80.50 / 92.18 / 71.21 / 77.64) matches no direct-flow column of Table 8, as expected"),
}


def _accuracy(combined: float, casme2: float, samm: float, smic: float) -> dict:
    """Accuracy in percent, as the paper prints it, to the fractions ``ReportedFigures`` holds."""
    return {"accuracy": combined / 100, "per_dataset": {"casme2": {"accuracy": casme2 / 100},
                                                        "samm": {"accuracy": samm / 100},
                                                        "smic": {"accuracy": smic / 100}}}


def _f1(figures: dict, combined: float, casme2: float, samm: float, smic: float) -> dict:
    per_dataset = {name: {**figures["per_dataset"][name], "uf1": value}
                   for name, value in (("casme2", casme2), ("samm", samm), ("smic", smic))}
    return {**figures, "uf1": combined, "per_dataset": per_dataset}


PAPER_SHORT = "Stofa et al. 2022 (Sensors 22:4634)"

REPORTED = {
    "base": (ReportedFigures(
        source=f"{PAPER_SHORT}, Tables 6–7 ('Original' column) and 12",
        **_f1(_accuracy(77.48, 88.51, 67.68, 75.61), 0.6621, 0.8276, 0.5152, 0.6441),
        train_s_per_subject=520, fps=418, device="NVIDIA Titan V (§4.1)"),),
    "dspp": (ReportedFigures(
        source=f"{PAPER_SHORT}, Tables 10, 12, 14; F1 from Table 7 column V (= DSPP-Net, see card)",
        **_f1(_accuracy(77.93, 89.43, 69.7, 74.39), 0.6689, 0.8414, 0.5455, 0.6159),
        parameters=8_378_659, train_s_per_subject=431, fps=510, device="NVIDIA Titan V (§4.1)"),),
    "wspp": (ReportedFigures(
        source=f"{PAPER_SHORT}, Tables 10, 12, 14",
        **_accuracy(80.20, 92.18, 72.73, 75.61),
        parameters=8_231_203, train_s_per_subject=370, fps=591, device="NVIDIA Titan V (§4.1)"),),
    "daspp": (ReportedFigures(
        source=f"{PAPER_SHORT}, Tables 11, 12, 14; F1 from Table 9 column VI (= DASPP-Net, see card)",
        **_f1(_accuracy(78.08, 90.8, 69.19, 73.98), 0.6712, 0.8621, 0.5379, 0.6098),
        parameters=8_378_659, train_s_per_subject=548, fps=400, device="NVIDIA Titan V (§4.1)"),),
    "waspp": (ReportedFigures(
        source=f"{PAPER_SHORT}, Tables 11, 12, 13 (F1), 14",
        **_accuracy(80.50, 92.18, 71.21, 77.64), uf1=0.7075,
        parameters=8_117_794, train_s_per_subject=447, fps=460, device="NVIDIA Titan V (§4.1)"),),
}

#: Parameter counts of Table 14 (the paper gives none for the base CNN).
TABLE_14 = {name: figures[0].parameters for name, figures in REPORTED.items() if figures[0].parameters}


def pyramid_options(pyramid: str | None, branches: int, position: int, flow: str) -> tuple[Option, ...]:
    """What ``--model-opt`` may change on a pyramid net; the defaults are the net's own configuration."""
    return (Option("pyramid", str, pyramid, "pyramid module kind (none: the base CNN)", choices=("spp", "aspp")),
            Option("branches", int, branches, "branches of the pyramid module", minimum=1, maximum=5,
                   reason="the paper's pyramids have 2–5 branches"),
            Option("position", int, position, "after Conv1 or Conv2", choices=(1, 2)),
            Option("flow", str, flow, "branches reading the module input, or each the previous branch",
                   choices=("direct", "waterfall")),
            Option("branch_channels", int, None, "channels per branch (default: half the module input)", minimum=1))


def _spec(name: str, description: str, reported: tuple[ReportedFigures, ...] = (), identification: str = "",
          pyramid: str | None = None, branches: int = 3, position: int = 2, flow: str = "waterfall") -> ModelSpec:
    return ModelSpec(
        name=name,
        factory=PyramidNet,
        input_spec=PAPER_INPUT,
        preprocessing=FLOW_UVS,
        description=description,
        options=pyramid_options(pyramid, branches, position, flow),
        family="pyramid_nets",
        card=ModelCard(
            source=PAPER,
            fidelity=Fidelity.RECONSTRUCTED,
            fidelity_detail="from the paper's Tables 2–4 and §3 (the authors published no code); every choice it "
                            "leaves open is listed below",
            input_chain=INPUT_CHAIN_TEXT,
            reference_parameters=TABLE_14.get(name, 10_739_971 if name == "base" else None),
            reference_parameters_source=("Table 14; Table 2 with our branch definition gives our count" if name in TABLE_14
                                         else "Table 2's layers (3-channel 75×75 input, 3 classes); the paper prints "
                                              "no count for it" if name == "base" else ""),
            identification=identification,
            deviations=BASE_CNN_NOTES + (PYRAMID_NOTES if pyramid else ()),
            reported=reported,
        ),
    )


def all_specs() -> list[ModelSpec]:
    specs = [_spec("base", "Base CNN of Table 2 (no pyramid module)", REPORTED["base"])]
    for name, (kind, flow, number, evidence) in HEADLINE.items():
        config = _variant_config(number)
        variant = _variant_name(kind, number, flow)
        specs.append(_spec(
            name,
            f"{name.upper()}-Net: {kind.upper()} {flow} flow, {config['branches']} branches after "
            f"Conv{config['position']} (alias of {variant})",
            REPORTED[name], f"{name.upper()}-Net = {variant}. Evidence: {evidence}.",
            pyramid=kind, flow=flow, **config,
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
