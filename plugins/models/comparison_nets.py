"""The comparison networks of Stofa et al.'s Table 13, each from its original paper.

All take optical-flow images from the same chain as the pyramid nets; the two-stream nets split
the (u, v) channels into streams inside the model, so the runner feeds every model one tensor.
"""

from __future__ import annotations

import torch
import torchvision
from torch import nn

from mebench import hookimpl
from mebench.data import InputSpec, ModelSpec, Reference

FLOW_UV = ("apex_frame", "tvl1_flow", ("flow_stack", {"channels": "u,v"}))
FLOW_UVS = ("apex_frame", "tvl1_flow", "optical_strain", "flow_stack")
STSTNET_ORDER = ("apex_frame", "tvl1_flow", "optical_strain", ("flow_stack", {"channels": "strain,u,v"}))


def _reported(accuracy: float, f1: float) -> dict:
    """Stofa et al. 2022, Table 13 (composite dataset, their training of each net)."""
    return {"combined_accuracy": accuracy, "combined_f1": f1, "source": "Stofa et al. 2022, Table 13"}


class VGGM(nn.Module):
    """VGG-M (Chatfield et al. 2014, 'Return of the Devil in the Details', Table 1)."""

    def __init__(self, num_classes: int, input_spec: InputSpec, dropout: float = 0.5):
        super().__init__()
        lrn = lambda: nn.LocalResponseNorm(5, alpha=1e-4, beta=0.75, k=2.0)  # noqa: E731
        self.features = nn.Sequential(
            nn.Conv2d(input_spec.channels, 96, 7, stride=2), nn.ReLU(inplace=True), lrn(), nn.MaxPool2d(3, 2),
            nn.Conv2d(96, 256, 5, stride=2, padding=1), nn.ReLU(inplace=True), lrn(), nn.MaxPool2d(3, 2),
            nn.Conv2d(256, 512, 3, padding=1), nn.ReLU(inplace=True),
            nn.Conv2d(512, 512, 3, padding=1), nn.ReLU(inplace=True),
            nn.Conv2d(512, 512, 3, padding=1), nn.ReLU(inplace=True), nn.MaxPool2d(3, 2),
        )
        with torch.no_grad():
            flat = self.features(torch.zeros(1, input_spec.channels, input_spec.height, input_spec.width)).numel()
        self.classifier = nn.Sequential(
            nn.Flatten(), nn.Linear(flat, 4096), nn.ReLU(inplace=True), nn.Dropout(dropout),
            nn.Linear(4096, 4096), nn.ReLU(inplace=True), nn.Dropout(dropout), nn.Linear(4096, num_classes),
        )

    def forward(self, x):
        return self.classifier(self.features(x))


def alexnet(num_classes: int, input_spec: InputSpec, dropout: float = 0.5) -> nn.Module:
    """torchvision's AlexNet definition, randomly initialised (no weights are ever loaded)."""
    model = torchvision.models.alexnet(weights=None, num_classes=num_classes, dropout=dropout)
    if input_spec.channels != 3:
        model.features[0] = nn.Conv2d(input_spec.channels, 64, 11, stride=4, padding=2)
    return model


class STSTNet(nn.Module):
    """STSTNet (Liong et al. 2019): three shallow streams of 3, 5 and 8 3×3 filters over the
    (strain, u, v) image, max-pooled, concatenated, average-pooled, one dense layer."""

    def __init__(self, num_classes: int, input_spec: InputSpec, dropout: float = 0.5):
        super().__init__()
        self.streams = nn.ModuleList(
            nn.Sequential(nn.Conv2d(input_spec.channels, width, 3, padding=2), nn.BatchNorm2d(width),
                          nn.ReLU(inplace=True), nn.MaxPool2d(3, stride=3, padding=1))
            for width in (3, 5, 8)
        )
        self.pool = nn.AvgPool2d(2, stride=2)
        self.dropout = nn.Dropout(dropout)
        pooled = lambda size: ((size + 2 + 2 - 3) // 3 + 1) // 2  # noqa: E731  conv(3, pad 2), pool(3/3, pad 1), avg 2
        self.fc = nn.Linear(16 * pooled(input_spec.height) * pooled(input_spec.width), num_classes)

    def forward(self, x):
        x = torch.cat([stream(x) for stream in self.streams], dim=1)
        return self.fc(self.dropout(torch.flatten(self.pool(x), 1)))


class TwoStreamNet(nn.Module):
    """One stream per flow component (u, v), concatenated into a classifier."""

    streams: nn.ModuleList
    classifier: nn.Module

    def forward(self, x):
        return self.classifier(torch.cat([stream(x[:, i : i + 1]) for i, stream in enumerate(self.streams)], dim=1))


class OffApexNet(TwoStreamNet):
    """OFF-ApexNet (Gan et al. 2019): one stream each for horizontal and vertical onset→apex
    flow — conv 5×5×6, pool, conv 5×5×16, pool — then two dense layers of 1024."""

    def __init__(self, num_classes: int, input_spec: InputSpec, dropout: float = 0.5):
        super().__init__()
        if input_spec.channels != 2:
            raise ValueError("OFF-ApexNet takes the two flow components (u, v)")
        self.streams = nn.ModuleList(
            nn.Sequential(nn.Conv2d(1, 6, 5, padding=2), nn.ReLU(inplace=True), nn.MaxPool2d(2),
                          nn.Conv2d(6, 16, 5, padding=2), nn.ReLU(inplace=True), nn.MaxPool2d(2), nn.Flatten())
            for _ in range(2)
        )
        flat = 2 * 16 * (input_spec.height // 4) * (input_spec.width // 4)
        self.classifier = nn.Sequential(
            nn.Linear(flat, 1024), nn.ReLU(inplace=True), nn.Dropout(dropout),
            nn.Linear(1024, 1024), nn.ReLU(inplace=True), nn.Dropout(dropout), nn.Linear(1024, num_classes),
        )


class Inception(nn.Module):
    """A GoogLeNet-style block with four branches of ``width`` filters: 1×1; 1×1→3×3; 1×1→5×5; pool→1×1."""

    def __init__(self, in_channels: int, width: int):
        super().__init__()
        conv = lambda i, o, k: nn.Sequential(nn.Conv2d(i, o, k, padding=k // 2), nn.ReLU(inplace=True))  # noqa: E731
        self.branches = nn.ModuleList([
            conv(in_channels, width, 1),
            nn.Sequential(conv(in_channels, width, 1), conv(width, width, 3)),
            nn.Sequential(conv(in_channels, width, 1), conv(width, width, 5)),
            nn.Sequential(nn.MaxPool2d(3, stride=1, padding=1), conv(in_channels, width, 1)),
        ])
        self.out_channels = 4 * width

    def forward(self, x):
        return torch.cat([branch(x) for branch in self.branches], dim=1)


class DualInception(TwoStreamNet):
    """Dual-Inception (Zhou et al. 2019): per flow component two inception blocks (6 and 16
    filters per branch), each followed by 2×2 max-pooling; the streams meet in a 1024-unit layer."""

    def __init__(self, num_classes: int, input_spec: InputSpec, dropout: float = 0.0):
        super().__init__()
        if input_spec.channels != 2:
            raise ValueError("Dual-Inception takes the two flow components (u, v)")

        def stream():
            first = Inception(1, 6)
            return nn.Sequential(first, nn.MaxPool2d(2), Inception(first.out_channels, 16), nn.MaxPool2d(2),
                                 nn.Flatten())

        self.streams = nn.ModuleList([stream(), stream()])
        flat = 2 * 64 * (input_spec.height // 4) * (input_spec.width // 4)
        self.classifier = nn.Sequential(nn.Linear(flat, 1024), nn.ReLU(inplace=True), nn.Dropout(dropout),
                                        nn.Linear(1024, num_classes))


def _factory(cls):
    return lambda num_classes, input_spec, **options: cls(num_classes, input_spec, **options)


SPECS = [
    ModelSpec(
        name="vgg-m", factory=_factory(VGGM), input_spec=InputSpec(3, 224, 224), preprocessing=FLOW_UVS,
        description="VGG-M on (u, v, strain) flow images", family="comparison_nets",
        reference=Reference("Chatfield, K.; Simonyan, K.; Vedaldi, A.; Zisserman, A.",
                            "Return of the Devil in the Details: Delving Deep into Convolutional Nets", "BMVC", 2014),
        reported=_reported(72.34, 0.5850),
        notes=("Original 224×224 input. Stofa et al. appear to have fed VGG-M small images (they report 3×3 maps "
               "in Conv3–5), so their figure is not for this input size.",
               "LRN after Conv1/Conv2 as in the paper (size 5, α=1e-4, β=0.75, k=2)."),
    ),
    ModelSpec(
        name="alexnet", factory=_factory(alexnet), input_spec=InputSpec(3, 224, 224), preprocessing=FLOW_UVS,
        description="AlexNet (torchvision definition) on (u, v, strain) flow images", family="comparison_nets",
        reference=Reference("Krizhevsky, A.; Sutskever, I.; Hinton, G.E.",
                            "ImageNet Classification with Deep Convolutional Neural Networks", "NeurIPS", 2012),
        reported=_reported(75.51, 0.6327),
        notes=("torchvision's single-tower AlexNet (64-192-384-256-256 filters, no LRN), not the original "
               "two-GPU 96-256-384-384-256 network.",),
    ),
    ModelSpec(
        name="ststnet", factory=_factory(STSTNet), input_spec=InputSpec(3, 28, 28), preprocessing=STSTNET_ORDER,
        description="STSTNet: three shallow streams on 28×28 (strain, u, v)", family="comparison_nets",
        reference=Reference("Liong, S.-T.; Gan, Y.S.; See, J.; Khor, H.-Q.; Huang, Y.-C.",
                            "Shallow Triple Stream Three-dimensional CNN (STSTNet) for Micro-expression Recognition",
                            "IEEE FG", 2019),
        reported={**_reported(77.48, 0.6621), "original_composite_uf1": 0.7353, "original_composite_uar": 0.7605},
        notes=("Each stream sees all three channels (the published design); BN after each convolution follows "
               "the authors' PyTorch port; the original was trained in MATLAB.",),
    ),
    ModelSpec(
        name="offapexnet", factory=_factory(OffApexNet), input_spec=InputSpec(2, 28, 28, streams=2),
        preprocessing=FLOW_UV, description="OFF-ApexNet: two streams on 28×28 horizontal/vertical flow",
        family="comparison_nets",
        reference=Reference("Gan, Y.S.; Liong, S.-T.; Yau, W.-C.; Huang, Y.-C.; Tan, L.-K.",
                            "OFF-ApexNet on Micro-expression Recognition System",
                            "Signal Processing: Image Communication 74:129–139", 2019),
        reported=_reported(78.38, 0.6757),
        notes=("'Same' padding keeps 28→14→7; dropout 0.5 on the dense layers.",),
    ),
    ModelSpec(
        name="dual-inception", factory=_factory(DualInception), input_spec=InputSpec(2, 28, 28, streams=2),
        preprocessing=FLOW_UV, description="Dual-Inception: two inception streams on 28×28 u and v",
        family="comparison_nets",
        reference=Reference("Zhou, L.; Mao, Q.; Xue, L.",
                            "Dual-Inception Network for Cross-Database Micro-Expression Recognition", "IEEE FG", 2019),
        reported=_reported(73.09, 0.5964),
        notes=("Each stream takes one flow component as a single channel; the challenge code fed each stream a "
               "3-channel rendering of it.",),
    ),
]


@hookimpl
def mebench_register_models(register):
    for spec in SPECS:
        register(spec)
