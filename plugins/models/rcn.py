"""The recurrent convolutional networks of Xia et al. (IEEE TIP 2020): RCN-A, -S, -W, -P, -C and -F.

A shallow recurrent convolutional net on a small flow image, with three parameter-free modules — a
wide expansion (parallel strided and dilated stems), a shortcut connection (one 3×3 convolution
applied three times with dense sums) and an attention unit (a class-activation map built from the
live classifier weights) — and three combinations found by architecture search (P, C, F).

The authors' code (``xiazhaoqiang/ParameterFreeRCNs-MicroExpressionRec``, ``MeNets.py``) carries no
licence, so this is our own implementation from its definition, layer by layer; the tests pin every
variant's parameter count and layer order to it. Modules the authors build but never call are built
here too (they count in the parameters and get no gradient), and RCN-F's forward pass reads its
second stem twice, as theirs does: see ``CARD`` deviations.
"""

from __future__ import annotations

from dataclasses import replace

import torch
import torch.nn.functional as F
from torch import nn

from mebench import hookimpl
from mebench.data import CodeLocation, Fidelity, InputSpec, ModelCard, ModelSpec, Reference, ReportedFigures
from mebench.options import Option
from mebench_plugins.preprocessors.chains import FLOW_UVS_MINMAX, ONSET_APEX_TEXT

PAPER = Reference("Xia, Z.; Peng, W.; Khor, H.-Q.; Feng, X.; Zhao, G.",
                  "Revealing the Invisible With Model and Data Shrinking for Composite-Database Micro-Expression "
                  "Recognition", "IEEE Transactions on Image Processing 29:8590–8605", 2020,
                  "https://doi.org/10.1109/TIP.2020.3018222")
REPOSITORY = "xiazhaoqiang/ParameterFreeRCNs-MicroExpressionRec"
COMMIT = "0c516cb"
INPUT = InputSpec(3, 60, 60, scaling="none")


def conv_bn_relu(cin: int, cout: int, kernel: int, padding: int = 0) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(cin, cout, kernel, padding=padding), nn.BatchNorm2d(cout), nn.ReLU(inplace=True))


def pool_and_drop(dropout: float) -> nn.Sequential:
    return nn.Sequential(nn.MaxPool2d(2, 2), nn.Dropout(dropout))


class RecurrentBlock(nn.Module):
    """The recurrent convolutional layer (``RclBlock``): a 1×1 feed-forward convolution, then one 3×3
    convolution (with its batch norm) applied twice to the input plus the previous state; 2×2 max-pool
    and dropout."""

    def __init__(self, channels: int, dropout: float):
        super().__init__()
        self.ffconv = conv_bn_relu(channels, channels, 1)
        self.rrconv = conv_bn_relu(channels, channels, 3, padding=1)
        self.downsample = pool_and_drop(dropout)

    def forward(self, x):
        state = self.ffconv(x)
        for _ in range(2):
            state = self.rrconv(x + state)
        return self.downsample(state)


class ShortcutBlock(nn.Module):
    """The shortcut-connection module (``DenseBlock``): y = 1×1(x), then one shared 3×3 convolution on
    the running dense sums x + y, x + y + z, x + y + z + e. ``conv3`` is built but never called, as in
    the authors' code."""

    def __init__(self, channels: int, dropout: float):
        super().__init__()
        self.conv1 = conv_bn_relu(channels, channels, 1)
        self.conv2 = conv_bn_relu(channels, channels, 3, padding=1)
        self.conv3 = conv_bn_relu(channels, channels, 3, padding=1)  # unused (the authors' definition)
        self.downsample = pool_and_drop(dropout)

    def dense(self, x, y):
        z = self.conv2(x + y)
        e = self.conv2(x + y + z)
        return self.conv2(x + y + z + e)

    def forward(self, x):
        return self.downsample(self.dense(x, self.conv1(x)))


def class_activation_map(features: torch.Tensor, weight: torch.Tensor, spatial_template: bool = False) -> torch.Tensor:
    """The attention unit (N, 1, P, P): per class k, the classifier's weights reshaped to the pooled
    (C, P, P) features times those features, averaged over channels, shifted to a minimum of 0 and
    divided by its maximum over the map; then averaged over the classes. ``spatial_template`` (the
    first-layer variant): the weights are first averaged over their channels into one P×P template,
    so it applies to an input of any channel count. Gradients flow into the classifier weights."""
    classes, (_, _, height, width) = weight.shape[0], features.shape
    if spatial_template:
        template = weight.reshape(classes, -1, height, width).mean(dim=1)  # (K, P, P)
        maps = template[None] * features.mean(dim=1, keepdim=True)  # (N, K, P, P)
    else:
        maps = torch.einsum("kchw,nchw->nkhw", weight.reshape(classes, -1, height, width), features)
        maps = maps / features.shape[1]
    maps = maps - maps.amin(dim=(2, 3), keepdim=True)
    maps = maps / maps.amax(dim=(2, 3), keepdim=True).clamp_min(1e-12)  # a constant map gives 0, not 0/0
    return maps.mean(dim=1, keepdim=True)


class EmbeddingBlock(ShortcutBlock):
    """The shortcut module with the attention unit embedded (``EmbeddingBlock``): the 1×1 branch is
    multiplied by the class-activation map of the block's pooled input before the dense sums."""

    def __init__(self, channels: int, dropout: float):
        nn.Module.__init__(self)
        self.conv1 = conv_bn_relu(channels, channels, 1)
        self.conv2 = conv_bn_relu(channels, channels, 3, padding=1)
        self.downsample = pool_and_drop(dropout)

    def forward(self, x, weight, pool_size):
        y = self.conv1(x)
        attention = class_activation_map(F.adaptive_avg_pool2d(x, pool_size), weight)
        y = F.interpolate(attention, size=y.shape[2:]) * y
        return self.downsample(self.dense(x, y))


def repeated(block, channels: int, layers: int, dropout: float) -> nn.Sequential:
    return nn.Sequential(*(block(channels, dropout) for _ in range(layers)))


def wide_stems(cin: int, featuremaps: int, dropout: float) -> nn.ModuleList:
    """The wide expansion: three 3×3 stride-3 stems with dilation 1, 2, 3 and F/2, F/4, F/4 filters,
    each conv → ReLU → BN → dropout (ReLU before BN, as the authors)."""
    return nn.ModuleList(
        nn.Sequential(nn.Conv2d(cin, width, 3, stride=3, padding=dilation, dilation=dilation), nn.ReLU(inplace=True),
                      nn.BatchNorm2d(width), nn.Dropout(dropout))
        for width, dilation in ((featuremaps // 2, 1), (featuremaps // 4, 2), (featuremaps // 4, 3)))


class RCN(nn.Module):
    """What the variants share: the pooled classifier and the authors' initialisation (convolutions
    Kaiming-normal, fan-out; batch norm 1 and 0; the classifier N(0, 0.01), bias 0)."""

    def __init__(self, num_classes: int, featuremaps: int, pool_size: int):
        super().__init__()
        if featuremaps < 4 or featuremaps % 4:
            raise ValueError(f"RCN featuremaps must be a positive multiple of 4, got {featuremaps}")
        self.pool_size = pool_size
        self.avgpool = nn.AdaptiveAvgPool2d(pool_size)
        self.classifier = nn.Linear(pool_size * pool_size * featuremaps, num_classes)

    def init_weights(self) -> "RCN":
        for module in self.modules():
            if isinstance(module, nn.Conv2d):
                nn.init.kaiming_normal_(module.weight, mode="fan_out", nonlinearity="relu")
            elif isinstance(module, nn.BatchNorm2d):
                nn.init.ones_(module.weight)
                nn.init.zeros_(module.bias)
            elif isinstance(module, nn.Linear):
                nn.init.normal_(module.weight, 0.0, 0.01)
                nn.init.zeros_(module.bias)
        return self

    def head(self, x, attention=None):
        x = self.avgpool(x)
        if attention is not None:
            x = x * attention
        return self.classifier(torch.flatten(x, 1))


def stem_5x5(channels: int, featuremaps: int, dropout: float) -> nn.Sequential:
    """RCN-A's and RCN-S's stem: a 5×5 convolution, BN, ReLU, 2×2 max-pooling, dropout."""
    return nn.Sequential(nn.Conv2d(channels, featuremaps, 5), nn.BatchNorm2d(featuremaps), nn.ReLU(inplace=True),
                         nn.MaxPool2d(2, 2), nn.Dropout(dropout))


class RcnA(RCN):
    """RCN-A: a 5×5 stem, the recurrent layer, and the attention unit on the stem's pooled output."""

    def __init__(self, num_classes: int, input_spec: InputSpec, featuremaps: int = 64, pool_size: int = 5,
                 num_layers: int = 1, dropout: float = 0.5):
        super().__init__(num_classes, featuremaps, pool_size)
        self.conv1 = stem_5x5(input_spec.channels, featuremaps, dropout)
        self.rcls = repeated(RecurrentBlock, featuremaps, num_layers, dropout)
        self.init_weights()

    def forward(self, x):
        x = self.conv1(x)
        attention = class_activation_map(self.avgpool(x), self.classifier.weight)
        return self.head(self.rcls(x), attention)


class RcnS(RCN):
    """RCN-S: the 5×5 stem and the shortcut-connection module."""

    def __init__(self, num_classes: int, input_spec: InputSpec, featuremaps: int = 64, pool_size: int = 5,
                 num_layers: int = 1, dropout: float = 0.5):
        super().__init__(num_classes, featuremaps, pool_size)
        self.conv1 = stem_5x5(input_spec.channels, featuremaps, dropout)
        self.dbl = repeated(ShortcutBlock, featuremaps, num_layers, dropout)
        self.init_weights()

    def forward(self, x):
        return self.head(self.dbl(self.conv1(x)))


class RcnW(RCN):
    """RCN-W: the wide expansion (three stems, concatenated) and the recurrent layer."""

    def __init__(self, num_classes: int, input_spec: InputSpec, featuremaps: int = 64, pool_size: int = 5,
                 num_layers: int = 1, dropout: float = 0.5):
        super().__init__(num_classes, featuremaps, pool_size)
        self.streams = wide_stems(input_spec.channels, featuremaps, dropout)
        self.rcls = repeated(RecurrentBlock, featuremaps, num_layers, dropout)
        self.init_weights()

    def forward(self, x):
        return self.head(self.rcls(torch.cat([stream(x) for stream in self.streams], dim=1)))


class RcnP(RCN):
    """RCN-P (searched hybrid): two stride-1 stems (dilation 1 and 3, F/2 filters each, then 3×3 stride-3
    max-pool), the attention unit on their pooled output, the shortcut module. ``rcls`` is built but
    never called, as in the authors' code."""

    def __init__(self, num_classes: int, input_spec: InputSpec, featuremaps: int = 64, pool_size: int = 5,
                 num_layers: int = 1, dropout: float = 0.5):
        super().__init__(num_classes, featuremaps, pool_size)
        self.streams = nn.ModuleList(
            nn.Sequential(nn.Conv2d(input_spec.channels, featuremaps // 2, 3, padding=dilation, dilation=dilation),
                          nn.ReLU(inplace=True), nn.BatchNorm2d(featuremaps // 2), nn.MaxPool2d(3, 3, padding=1),
                          nn.Dropout(dropout))
            for dilation in (1, 3))
        self.dbl = repeated(ShortcutBlock, featuremaps, num_layers, dropout)
        self.rcls = repeated(RecurrentBlock, featuremaps, num_layers, dropout)  # unused (the authors' definition)
        self.init_weights()

    def forward(self, x):
        x = torch.cat([stream(x) for stream in self.streams], dim=1)
        attention = class_activation_map(self.avgpool(x), self.classifier.weight)
        return self.head(self.dbl(x), attention)


class RcnC(RCN):
    """RCN-C (cascaded): the attention unit's spatial template on the pooled input image, upsampled onto
    the wide expansion's output, then the shortcut module. ``ebl`` is built but never called, as in
    the authors' code."""

    def __init__(self, num_classes: int, input_spec: InputSpec, featuremaps: int = 64, pool_size: int = 5,
                 num_layers: int = 1, dropout: float = 0.5):
        super().__init__(num_classes, featuremaps, pool_size)
        self.streams = wide_stems(input_spec.channels, featuremaps, dropout)
        self.dbl = repeated(ShortcutBlock, featuremaps, num_layers, dropout)
        self.ebl = EmbeddingBlock(featuremaps, dropout)  # unused (the authors' definition)
        self.init_weights()

    def forward(self, x):
        attention = class_activation_map(self.avgpool(x), self.classifier.weight, spatial_template=True)
        x = torch.cat([stream(x) for stream in self.streams], dim=1)
        x = F.interpolate(attention, size=x.shape[2:]) * x
        return self.head(self.dbl(x))


class RcnF(RCN):
    """RCN-F (final fusion): the wide expansion, then the shortcut module with the attention unit
    embedded. Its forward pass feeds the second stem's output where the third's belongs, as the
    authors' code does (the third stem is built, counted and never called)."""

    def __init__(self, num_classes: int, input_spec: InputSpec, featuremaps: int = 64, pool_size: int = 5,
                 num_layers: int = 1, dropout: float = 0.5):
        super().__init__(num_classes, featuremaps, pool_size)
        self.streams = wide_stems(input_spec.channels, featuremaps, dropout)
        self.ebl = EmbeddingBlock(featuremaps, dropout)
        self.init_weights()

    def forward(self, x):
        first, second, _third = self.streams
        x = torch.cat([first(x), second(x), second(x)], dim=1)  # the authors' x3 = self.stream2(x)
        return self.head(self.ebl(x, self.classifier.weight, self.pool_size))


OPTIONS = (Option("featuremaps", int, 64, "feature maps F (a multiple of 4)", minimum=4),
           Option("pool_size", int, 5, "side P of the adaptive average pool before the classifier", minimum=1),
           Option("num_layers", int, 1, "recurrent or shortcut blocks (RCN-A, -S, -W, -P, -C)", minimum=1),
           Option("dropout", float, 0.5, "dropout probability (element-wise, after every pooling)",
                  minimum=0.0, maximum=1.0))

#: (name, class, what it is, reference count at F = 64, P = 5 with 3 classes, of which receive gradients)
VARIANTS = (
    ("rcn-a", RcnA, "attention unit on the recurrent net", 51_139, 51_139),
    ("rcn-s", RcnS, "shortcut connection", 88_195, 51_139),
    ("rcn-w", RcnW, "wide expansion", 48_067, 48_067),
    ("rcn-p", RcnP, "searched hybrid (two stems, attention, shortcut)", 126_467, 48_067),
    ("rcn-c", RcnC, "cascaded (input attention, wide expansion, shortcut)", 126_467, 48_067),
    ("rcn-f", RcnF, "final fusion (wide expansion, shortcut with embedded attention)", 48_067, 47_587),
)

CARD = ModelCard(
    source=PAPER,
    code=(CodeLocation(REPOSITORY, "MeNets.py", "RCN_A, RCN_S, RCN_W, RCN_P, RCN_C, RCN_F", COMMIT,
                       licence="none (all rights reserved)",
                       note="training in ModelTrain_Final.py; a copy in tvaranka/meb, meb/models/RCNs.py (Apache-2.0 "
                            "repository) whose RCN_P, RCN_C and RCN_F cannot run a forward pass"),),
    fidelity=Fidelity.FAITHFUL,
    fidelity_detail="our own implementation of MeNets.py's definitions (its code has no licence, so none is copied): "
                    "RclBlock (1×1 feed-forward, one 3×3 conv + BN applied twice), DenseBlock (one 3×3 conv + BN on "
                    "three dense sums), the parameter-free class-activation attention from the live classifier "
                    "weights, the stems, the adaptive P×P average pool and the classifier, in the authors' order "
                    "and initialisation; F = 64 feature maps and P = 5 (the classes' defaults), one block",
    input_chain=f"{ONSET_APEX_TEXT}; channels (u, v, strain), each min-max normalised per sample as an 8-bit flow "
                f"image is, resized to 60×60; fed in [0, 1] as they are, as ModelTrain_Final.py's ToTensor() gives "
                f"the flow images (input scaling none)",
    reference_parameters=None,
    reference_parameters_source="MeNets.py's classes with num_input 3, featuremaps 64, pool_size 5, 3 classes, "
                                "counted by building them (RCN_P and RCN_F with their super() names corrected)",
    identification="the size of the input is not in the authors' code (their loader reads flow images as they are) "
                    "and the paper's could not be read here; 60×60 is MEB's benchmark setting for RCN-A "
                    "(tvaranka/meb, 'Optical flow networks' notebook). Every pool before the classifier is adaptive, "
                    "so any size from 28×28 up builds the same net. F = 64 and P = 5 are the classes' defaults (the "
                    "counts the issue pins); the README's command uses F = 32, P = 5 (RCN-A 15,331 parameters) and "
                    "ModelTrain_Final.py's defaults are F = 64, P = 7: --model-opt featuremaps and pool_size give both",
    deviations=(
        "RCN_P and RCN_F call super() with class names that do not exist (RCN_H, RCN_E), so the released code cannot "
        "build them (ModelTrain_Final.py --modelname rcn_p / rcn_f raise NameError); we build them as the classes "
        "define them",
        "modules the authors build but never call are built here too and count in the parameters without receiving "
        "a gradient: DenseBlock.conv3 (37,056 at F = 64), RCN-P's rcls (41,344) and RCN-C's ebl (41,344); RCN-F's "
        "forward pass reads stem 2 twice (x3 = self.stream2(x)), so its stem 3 (480) is unused too. Parameters that "
        "get gradients: RCN-A 51,139, -S 51,139, -W 48,067, -P 48,067, -C 48,067, -F 47,587",
        "where the attention map is constant the authors divide 0 by 0 (NaN); we give 0 there",
        "the paper trains with EVM-magnified copies of the training samples as augmentation (the released "
        "PrepareData_LOSO_CD.py uses magnification 0 only); the harness has no notion of augmentation, so none is "
        "used; the evm preprocessing step magnifies a frame sequence for chains that want it",
        "the authors' channel content is not in their code (flow images 'extracted by your own tools'); we feed "
        "(u, v, strain) from OpenCV's Dual TV-L1 at 128×128, min-max normalised per sample as MEB does",
        "trained under the harness protocol (Adam, the run's epochs, batch and learning rate); the authors' "
        "ModelTrain_Final.py uses SGD (lr 5e-4, momentum 0.9), batch 64, 100 epochs, the last epoch scored",
    ),
    reported=(ReportedFigures(
        source="Wang et al. 2024 (HTNet, Neurocomputing 602:128196), Table 2 (row 'RCN')",
        model="RCN (variant not stated)", uf1=0.7432, uar=0.7190,
        per_dataset={"smic": {"uf1": 0.6326, "uar": 0.6441}, "casme2": {"uf1": 0.8512, "uar": 0.8123},
                     "samm": {"uf1": 0.7601, "uar": 0.6715}},
        note="MEGC2019 composite, LOSO, as another paper's comparison table gives it; which RCN variant the row is "
             "is not stated, and the TIP paper's own table could not be read here; the authors' code scores the "
             "last epoch (no selection on the test fold)"),),
)


def _spec(name: str, cls, what: str, reference: int, used: int) -> ModelSpec:
    return ModelSpec(
        name=name, factory=cls, input_spec=INPUT, preprocessing=FLOW_UVS_MINMAX,
        description=f"{name.upper()} (Xia et al. 2020): {what}, on 60×60 (u, v, strain); {used:,} of "
                    f"{reference:,} parameters get gradients",
        family="rcn", options=OPTIONS, card=replace(CARD, reference_parameters=reference))


SPECS = [_spec(*variant) for variant in VARIANTS]


@hookimpl
def mebench_register_models(register):
    for spec in SPECS:
        register(spec)
