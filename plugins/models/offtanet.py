"""Off-TANet (Zhang, Liu & Zhou, PRICAI 2021): a 59,403-parameter net with triplet attention on 112×112
TV-L1 flow.

A strided 7×7 stem, two residual stages (each two 3×3 conv–BN–ReLU layers plus a 1×1 shortcut, then
2×2 max-pooling), and a triplet-attention stage at 14×14: channel attention, spatial attention and a
positional self-attention in which every channel attends over its own rows, then a 3×3 conv to 8
channels plus a 1×1 shortcut and pooling to 8×7×7; three dense layers.

The authors' code (``ECNU-Cross-Innovation-Lab/PRICAI2021-Off-TANet``) is GPL-3.0, which this project
cannot take, so this is our own implementation from the paper's description and the architecture's
facts (layer sizes and order); the tests pin the parameter count (the paper's 59,403) and the layer
order.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from mebench import hookimpl
from mebench.data import CodeLocation, Fidelity, InputSpec, ModelCard, ModelSpec, Reference, ReportedFigures
from mebench.options import Option
from mebench_plugins.preprocessors.chains import FLOW_UVS_112_OFFTANET


def conv_bn_relu(cin: int, cout: int) -> list[nn.Module]:
    return [nn.Conv2d(cin, cout, 3, padding=1), nn.BatchNorm2d(cout), nn.ReLU()]


class ResidualStage(nn.Module):
    """Two 3×3 conv → BN → ReLU layers, plus a 1×1 convolution of the input (always, with bias); their sum
    max-pooled 2×2."""

    def __init__(self, cin: int, cout: int):
        super().__init__()
        self.body = nn.Sequential(*conv_bn_relu(cin, cout), *conv_bn_relu(cout, cout))
        self.shortcut = nn.Conv2d(cin, cout, 1)
        self.pool = nn.MaxPool2d(2, 2)

    def forward(self, x):
        return self.pool(self.body(x) + self.shortcut(x))


class ChannelGate(nn.Module):
    """CBAM-style channel attention: a shared bias-free 1×1 bottleneck (C → C/ratio → C) on the global
    average and the global max, summed, sigmoid; Off-TANet's ratio is C, a bottleneck of width 1."""

    def __init__(self, channels: int, hidden: int = 1):
        super().__init__()
        self.mlp = nn.Sequential(nn.Conv2d(channels, hidden, 1, bias=False), nn.ReLU(),
                                 nn.Conv2d(hidden, channels, 1, bias=False))

    def forward(self, x):
        pooled = (x.mean(dim=(2, 3), keepdim=True), x.amax(dim=(2, 3), keepdim=True))
        return torch.sigmoid(sum(self.mlp(p) for p in pooled)) * x


class SpatialGate(nn.Module):
    """Spatial attention: a bias-free 3×3 conv on the channel mean and max, sigmoid."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(2, 1, 3, padding=1, bias=False)

    def forward(self, x):
        pooled = torch.cat([x.mean(dim=1, keepdim=True), x.amax(dim=1, keepdim=True)], dim=1)
        return torch.sigmoid(self.conv(pooled)) * x


def position_code(size: int) -> torch.Tensor:
    """The fixed positional matrix: e_j = sin(1/10000^(⌊j/2⌋/size)) for even j, cos(…) for odd j, and
    P = e + eᵀ (size × size, symmetric)."""
    e = torch.tensor([(math.sin if j % 2 == 0 else math.cos)(1.0 / 10000 ** ((j // 2) / size)) for j in range(size)])
    return e[None, :] + e[:, None]


class RowSelfAttention(nn.Module):
    """Off-TANet's self-attention, ``heads`` heads of C/heads channels each. Every channel attends on its
    own: with Q, K, V its (H×W) query, key and value maps (1×1 convs with bias), the affinity Q·Kᵀ + Q·Pᵀ
    (rows against rows, P the fixed ``position_code``) gets one softmax over all H·H entries and multiplies
    V element-wise. As channels never mix, the heads' 1×1 projections are one convolution each for q, k
    and v, split into the heads' channel groups."""

    def __init__(self, channels: int, size: int, heads: int = 4):
        super().__init__()
        if channels % heads:
            raise ValueError(f"Off-TANet self-attention: {channels} channels do not split into {heads} heads")
        self.query, self.key, self.value = (nn.Conv2d(channels, channels, 1) for _ in range(3))
        self.register_buffer("position", position_code(size), persistent=False)

    def forward(self, x):
        q, k, v = self.query(x), self.key(x), self.value(x)
        affinity = q @ k.transpose(2, 3) + q @ self.position.T
        weights = torch.softmax(affinity.flatten(2), dim=-1).view_as(affinity)
        return weights * v


class TripletAttentionStage(nn.Module):
    """A 3×3 conv → BN → ReLU, channel attention, spatial attention, self-attention, a 3×3 conv → BN → ReLU
    to ``cout`` channels; plus a 1×1 convolution of the input; the sum max-pooled 2×2."""

    def __init__(self, cin: int, cout: int, size: int):
        super().__init__()
        self.conv1 = nn.Sequential(*conv_bn_relu(cin, cin))
        self.channel = ChannelGate(cin)
        self.spatial = SpatialGate()
        self.attention = RowSelfAttention(cin, size)
        self.conv2 = nn.Sequential(*conv_bn_relu(cin, cout))
        self.shortcut = nn.Conv2d(cin, cout, 1)
        self.pool = nn.MaxPool2d(2, 2)

    def forward(self, x):
        y = self.attention(self.spatial(self.channel(self.conv1(x))))
        return self.pool(self.conv2(y) + self.shortcut(x))


class OffTANet(nn.Module):
    """Off-TANet (net type 'ta'): stem Conv 7×7/2 (3 → 8) → ReLU → BN; residual stages 8 → 18 → 28;
    the triplet-attention stage 28 → 8 at 14×14; Linear(392 → 64) → ReLU → Dropout → Linear(64 → 64) →
    ReLU → Dropout → Linear(64 → classes)."""

    def __init__(self, num_classes: int, input_spec: InputSpec, dropout: float = 0.5):
        super().__init__()
        if (input_spec.height, input_spec.width) != (112, 112):
            raise ValueError(f"Off-TANet's dense layer is sized for a 112×112 input, got {input_spec}")
        self.stem = nn.Sequential(nn.Conv2d(input_spec.channels, 8, 7, stride=2, padding=3), nn.ReLU(),
                                  nn.BatchNorm2d(8))
        self.stages = nn.Sequential(ResidualStage(8, 18), ResidualStage(18, 28), TripletAttentionStage(28, 8, 14))
        self.classifier = nn.Sequential(nn.Flatten(), nn.Linear(8 * 7 * 7, 64), nn.ReLU(), nn.Dropout(dropout),
                                        nn.Linear(64, 64), nn.ReLU(), nn.Dropout(dropout), nn.Linear(64, num_classes))

    def forward(self, x):
        return self.classifier(self.stages(self.stem(x)))


SPECS = [ModelSpec(
    name="offtanet", factory=OffTANet, input_spec=InputSpec(3, 112, 112, scaling="none"),
    preprocessing=FLOW_UVS_112_OFFTANET,
    description="Off-TANet (Zhang et al. 2021): residual stages and triplet attention on 112×112 TV-L1 flow",
    family="offtanet",
    options=(Option("dropout", float, 0.5, "dropout after the first two dense layers", minimum=0.0, maximum=1.0),),
    card=ModelCard(
        source=Reference("Zhang, J.; Liu, F.; Zhou, A.",
                         "Off-TANet: A Lightweight Neural Micro-expression Recognizer with Optical Flow Features and "
                         "Integrated Attention Mechanism", "PRICAI 2021, LNCS 13031, pp. 266–279", 2021,
                         "https://doi.org/10.1007/978-3-030-89188-6_20"),
        code=(CodeLocation("ECNU-Cross-Innovation-Lab/PRICAI2021-Off-TANet", "models/off_tanet.py", "OffTANet",
                           "b6149ba", "GPL-3.0", note="net_type 'ta'; data.py and train_arg.py for the input and "
                                                      "training; no code taken (GPL-3.0)"),),
        fidelity=Fidelity.FAITHFUL,
        fidelity_detail="our own implementation (the authors' code is GPL-3.0; no code taken) of the net as defined: "
                        "stem Conv 7×7/2 → ReLU → BN, residual stages 8 → 18 → 28 (two conv–BN–ReLU, 1×1 shortcut, "
                        "max-pool), triplet attention at 14×14 (channel gate of width 1, bias-free 3×3 spatial gate, "
                        "four-head row self-attention with the fixed sinusoidal position term, element-wise with the "
                        "values), conv to 8, 1×1 shortcut, pool; dense 392 → 64 → 64 → 3 with dropout 0.5",
        input_chain="onset → apex frames (annotated apex, else max motion); face crop where the copy is not cropped; "
                    "both resized to 112×112 (the authors' size) before TV-L1; channels (u, v, s) with s the authors' "
                    "Sobel variant sqrt(u_x² + u_y² + ½(v_x + u_y)²); no normalisation: flow in pixels of the 112 grid, "
                    "fed as it is, as data.py feeds it (input scaling none)",
        reference_parameters=59_403,
        reference_parameters_source="the paper's abstract ('total parameters (59,403)'); also the sum of the learnable "
                                    "tensors of the authors' released checkpoint LOSO1_60epoch.pth",
        deviations=(
            "the four heads' separate 1×1 projections (28 → 7 each) are one 28 → 28 convolution per q, k and v here: "
            "every channel attends on its own, so the split is only a grouping of channels (same count and same "
            "initialisation distribution)",
            "the authors resize colour JPEGs to 112×112 with bicubic interpolation, convert to grey and run OpenCV's "
            "Dual TV-L1 with its default settings; we resize grey frames with area interpolation and run the same "
            "Dual TV-L1 (OpenCV's default settings)",
            "trained under the harness protocol (Adam, the run's epochs, batch and learning rate); the authors' "
            "train_arg.py uses Adam (lr 1e-3), StepLR(60, 0.3), batch 64, 201 epochs",
        ),
        reported=(ReportedFigures(
            source="Zhang et al. 2021 (PRICAI 2021), abstract — best observed epoch (LEAKY), "
                   "CASME + CASME II + CAS(ME)² composite",
            dataset="casme+casme2+casme2-lv", selection="test-oracle",
            uf1=0.7242, uar=0.7315, parameters=59_403,
            note="not the MEGC2019 composite: 294 samples of CASME, CASME II and CAS(ME)², 49 LOSO folds; UF1 and UAR "
                 "are computed per fold and averaged over folds, not pooled; and the reported epoch is the observed "
                 "epoch (0, 20, …, 200) with the best mean test UAR, i.e. chosen on the test folds (LEAKY)"),),
    ),
)]


@hookimpl
def mebench_register_models(register):
    for spec in SPECS:
        register(spec)
