"""The comparison networks of Stofa et al.'s Table 13, each as its authors defined it.

Every net here is pinned (in ``tests/plugins/models/test_models.py``) to its reference definition: parameter
count and layer order. Where the authors published code, the card names the repository and file
and the net follows it; where they did not (OFF-ApexNet), the card says the net is a
reconstruction, from what, and lists every choice. Two-stream nets split the flow components
inside the model, so the runner feeds every model one tensor.
"""

from __future__ import annotations

import torch
from torch import nn

from mebench import hookimpl
from mebench.data import CodeLocation, Fidelity, InputSpec, ModelCard, ModelSpec, Reference, ReportedFigures
from mebench.options import Option
from mebench_plugins.preprocessors.chains import (FLOW_UV, FLOW_UV_MIDDLE_MINMAX, FLOW_UVS, FLOW_UVS_MINMAX,
                                                  ONSET_APEX_TEXT)

STOFA_TABLE_13 = "Stofa et al. 2022 (Sensors 22:4634), Table 13"


def _stofa(accuracy: float, f1: float, note: str = "") -> ReportedFigures:
    """The composite-dataset figures Stofa et al. report for their own training of a comparison net."""
    return ReportedFigures(source=STOFA_TABLE_13, accuracy=accuracy, uf1=f1, note=note)


def dropout_option(default: float) -> Option:
    return Option("dropout", float, default, "dropout probability", minimum=0.0, maximum=1.0)


def _caffe_lrn() -> nn.LocalResponseNorm:
    # Caffe's LRN (alpha = 1e-4, window 5) divides by k + alpha·Σx²; PyTorch divides by
    # k + (alpha/n)·Σx², so the same normalisation needs alpha = 5 · 1e-4.
    return nn.LocalResponseNorm(5, alpha=5e-4, beta=0.75, k=2.0)


class VGGM(nn.Module):
    """VGG-M (Chatfield et al. 2014, Table 1) as in the PyTorch port of the authors' Caffe model
    (Cadene/pretrained-models.pytorch, ``pretrainedmodels/models/vggm.py``): conv → ReLU → LRN →
    ceil-mode max-pool; at 224×224 pool5 is 6×6 and fc6 has 18,432 inputs."""

    def __init__(self, num_classes: int, input_spec: InputSpec, dropout: float = 0.5):
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(input_spec.channels, 96, 7, stride=2), nn.ReLU(inplace=True), _caffe_lrn(),
            nn.MaxPool2d(3, 2, ceil_mode=True),
            nn.Conv2d(96, 256, 5, stride=2, padding=1), nn.ReLU(inplace=True), _caffe_lrn(),
            nn.MaxPool2d(3, 2, ceil_mode=True),
            nn.Conv2d(256, 512, 3, padding=1), nn.ReLU(inplace=True),
            nn.Conv2d(512, 512, 3, padding=1), nn.ReLU(inplace=True),
            nn.Conv2d(512, 512, 3, padding=1), nn.ReLU(inplace=True), nn.MaxPool2d(3, 2, ceil_mode=True),
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
    import torchvision  # here, not at the top: importing torchvision costs ~2 s of every command's start

    model = torchvision.models.alexnet(weights=None, num_classes=num_classes, dropout=dropout)
    if input_spec.channels != 3:
        model.features[0] = nn.Conv2d(input_spec.channels, 64, 11, stride=4, padding=2)
    return model


class STSTNet(nn.Module):
    """STSTNet (Liong et al. 2019) as in the authors' PyTorch code (christy1206/STSTNet,
    ``main.py``): three streams of 3, 5 and 8 3×3 filters, each conv → ReLU → BN → max-pool →
    dropout, over all three input channels; concatenated, average-pooled, one dense layer."""

    def __init__(self, num_classes: int, input_spec: InputSpec, dropout: float = 0.5):
        super().__init__()
        self.streams = nn.ModuleList(
            nn.Sequential(nn.Conv2d(input_spec.channels, width, 3, padding=2), nn.ReLU(inplace=True),
                          nn.BatchNorm2d(width), nn.MaxPool2d(3, stride=3, padding=1), nn.Dropout(dropout))
            for width in (3, 5, 8)
        )
        self.pool = nn.AvgPool2d(2, stride=2)
        pooled = lambda size: ((size + 2 + 2 - 3) // 3 + 1) // 2  # noqa: E731  conv(3, pad 2), pool(3/3, pad 1), avg 2
        self.fc = nn.Linear(16 * pooled(input_spec.height) * pooled(input_spec.width), num_classes)

    def forward(self, x):
        x = torch.cat([stream(x) for stream in self.streams], dim=1)
        return self.fc(torch.flatten(self.pool(x), 1))


class TwoStreamNet(nn.Module):
    """One stream per flow component, concatenated into a classifier. Each stream reads its
    channel repeated ``stream_channels`` times (1: the component as one plane)."""

    streams: nn.ModuleList
    classifier: nn.Module
    stream_channels: int = 1

    def forward(self, x):
        planes = [x[:, i : i + 1].expand(-1, self.stream_channels, -1, -1) for i in range(len(self.streams))]
        return self.classifier(torch.cat([stream(plane) for stream, plane in zip(self.streams, planes)], dim=1))


class OffApexNet(TwoStreamNet):
    """OFF-ApexNet (Gan et al. 2019), reconstructed: per flow component (u, v) conv 5×5×6 →
    max-pool 2 → conv 5×5×16 → max-pool 2, 'same' padding, no activation after the convolutions
    (``conv_activation="relu"`` adds one); two dense layers of 1024 with ReLU and dropout."""

    def __init__(self, num_classes: int, input_spec: InputSpec, dropout: float = 0.5, conv_activation: str = "none"):
        super().__init__()
        if input_spec.channels != 2:
            raise ValueError("OFF-ApexNet takes the two flow components (u, v)")
        if conv_activation not in ("none", "relu"):
            raise ValueError(f"offapexnet conv_activation must be 'none' or 'relu', got {conv_activation!r}")
        act = nn.ReLU if conv_activation == "relu" else nn.Identity
        self.streams = nn.ModuleList(
            nn.Sequential(nn.Conv2d(1, 6, 5, padding=2), act(), nn.MaxPool2d(2),
                          nn.Conv2d(6, 16, 5, padding=2), act(), nn.MaxPool2d(2), nn.Flatten())
            for _ in range(2)
        )
        flat = 2 * 16 * (input_spec.height // 4) * (input_spec.width // 4)
        self.classifier = nn.Sequential(
            nn.Linear(flat, 1024), nn.ReLU(inplace=True), nn.Dropout(dropout),
            nn.Linear(1024, 1024), nn.ReLU(inplace=True), nn.Dropout(dropout), nn.Linear(1024, num_classes),
        )


class Inception(nn.Module):
    """The authors' inception block: four branches of ``width`` filters, each conv followed by
    ReLU — 1×1; 1×1→3×3; 1×1→5×5; 3×3 max-pool (stride 1)→1×1 — concatenated in that order."""

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
    """Dual-Inception (Zhou et al. 2019) as in the authors' Keras code (xly135846/MEGC2019,
    ``dual_inception.py``): per flow component two inception blocks (6 and 16 filters per branch),
    each followed by 2×2 max-pooling; the flattened streams meet in one 1024-unit ReLU layer. Each
    stream reads a 3-channel rendering of its component, as the authors' ``cv2.imread`` of an
    8-bit flow image gives (the component repeated in three channels)."""

    stream_channels = 3

    def __init__(self, num_classes: int, input_spec: InputSpec, dropout: float = 0.0):
        super().__init__()
        if input_spec.channels != 2:
            raise ValueError("Dual-Inception takes the two flow components (u, v)")

        def stream():
            first = Inception(self.stream_channels, 6)
            return nn.Sequential(first, nn.MaxPool2d(2), Inception(first.out_channels, 16), nn.MaxPool2d(2),
                                 nn.Flatten())

        self.streams = nn.ModuleList([stream(), stream()])
        flat = 2 * 64 * (input_spec.height // 4) * (input_spec.width // 4)
        self.classifier = nn.Sequential(nn.Linear(flat, 1024), nn.ReLU(inplace=True), nn.Dropout(dropout),
                                        nn.Linear(1024, num_classes))


OFFAPEXNET_RECONSTRUCTION = (
    "a public third-party PyTorch reconstruction (class OffApexNet: two CNN streams of "
    "Conv2d(1, 6, 5, padding=2) → MaxPool2d(2) → Conv2d(6, 16, 5, padding=2) → MaxPool2d(2), then "
    "Linear(784·2, 1024) → ReLU → Dropout(0.5) → Linear(1024, 1024) → ReLU → Dropout(0.5) → Linear(1024, 3))"
)

SPECS = [
    ModelSpec(
        name="vgg-m", factory=VGGM, input_spec=InputSpec(3, 224, 224), preprocessing=FLOW_UVS,
        description="VGG-M on (u, v, strain) flow images", family="comparison_nets",
        options=(dropout_option(0.5),),
        card=ModelCard(
            source=Reference("Chatfield, K.; Simonyan, K.; Vedaldi, A.; Zisserman, A.",
                             "Return of the Devil in the Details: Delving Deep into Convolutional Nets", "BMVC", 2014,
                             "https://arxiv.org/abs/1405.3531"),
            code=(CodeLocation("Cadene/pretrained-models.pytorch", "pretrainedmodels/models/vggm.py", "class VGGM",
                               note="a port of the authors' Caffe model; Chatfield et al. 2014, Table 1"),),
            fidelity=Fidelity.FAITHFUL,
            fidelity_detail="follows the port: conv → ReLU → LRN → ceil-mode max-pool, 96-256-512-512-512 "
                            "filters, fc6/fc7 4096 with dropout 0.5; LRN as Caffe's (window 5, α = 1e-4, β = 0.75, "
                            "k = 2), which PyTorch spells LocalResponseNorm(5, alpha=5e-4) because it divides α by "
                            "the window",
            input_chain=f"{ONSET_APEX_TEXT}; channels (u, v, strain) in that order, flow in pixels of the 128 grid "
                        f"(no per-sample normalisation), resized to 224×224; standardised per channel with the "
                        f"training fold's mean and deviation (input scaling fold, mebench's choice: no code of Stofa "
                        f"et al.'s shows a scaling)",
            reference_parameters=98_823_811,
            reference_parameters_source="the port's definition at 224×224 with 3 classes (fc6 18,432 → 4096)",
            deviations=("random initialisation (the port's ImageNet weights are never loaded) and a "
                        "3-class head; the port expects BGR images, here the channels are (u, v, strain)",),
            reported=(_stofa(0.7234, 0.5850, "Stofa et al. fed VGG-M small images (they report at most 3×3 maps "
                                             "in Conv3–5), so the figure is not for the 224×224 input used here."),),
        ),
    ),
    ModelSpec(
        name="alexnet", factory=alexnet, input_spec=InputSpec(3, 224, 224), preprocessing=FLOW_UVS,
        description="AlexNet (torchvision definition) on (u, v, strain) flow images", family="comparison_nets",
        options=(dropout_option(0.5),),
        card=ModelCard(
            source=Reference("Krizhevsky, A.; Sutskever, I.; Hinton, G.E.",
                             "ImageNet Classification with Deep Convolutional Neural Networks", "NeurIPS", 2012),
            code=(CodeLocation("pytorch/vision", "torchvision/models/alexnet.py", "torchvision.models.alexnet",
                               licence="BSD-3-Clause"),),
            fidelity=Fidelity.FAITHFUL,
            fidelity_detail="follows torchvision's definition (64-192-384-256-256 filters, adaptive 6×6 pool, "
                            "dropout 0.5, 4096-4096 dense layers), which is itself the one-tower variant of the "
                            "paper's net",
            input_chain=f"{ONSET_APEX_TEXT}; channels (u, v, strain), no per-sample normalisation, resized to "
                        f"224×224; standardised per channel with the training fold's mean and deviation (input scaling fold, "
                        f"mebench's choice: no code of Stofa et al.'s shows a scaling)",
            reference_parameters=57_016_131, reference_parameters_source="torchvision's definition with 3 classes",
            deviations=("not the original two-GPU 96-256-384-384-256 network and no LRN: torchvision's "
                        "single-tower definition is what the field uses",
                        "its authors published no micro-expression figures; only Stofa et al.'s Table 13 is given"),
            reported=(_stofa(0.7551, 0.6327),),
        ),
    ),
    ModelSpec(
        name="ststnet", factory=STSTNet, input_spec=InputSpec(3, 28, 28, scaling="byte"), preprocessing=FLOW_UVS_MINMAX,
        description="STSTNet: three shallow streams on 28×28 (u, v, strain)", family="comparison_nets",
        options=(dropout_option(0.5),),
        card=ModelCard(
            source=Reference("Liong, S.-T.; Gan, Y.S.; See, J.; Khor, H.-Q.; Huang, Y.-C.",
                             "Shallow Triple Stream Three-dimensional CNN (STSTNet) for Micro-expression Recognition",
                             "IEEE FG", 2019, "https://arxiv.org/abs/1902.03634"),
            code=(CodeLocation("christy1206/STSTNet", "main.py", "class STSTNet",
                               note="the original was trained in MATLAB (main.m, STSTNet.mat)"),),
            fidelity=Fidelity.FAITHFUL,
            fidelity_detail="follows main.py: per stream Conv2d(3, n, 3, padding=2) → ReLU → BatchNorm → "
                            "MaxPool(3, stride 3, padding 1) → Dropout(0.5) for n = 3, 5, 8; concatenate, "
                            "AvgPool(2), Linear(5·5·16, 3)",
            input_chain=f"{ONSET_APEX_TEXT}; channels (u, v, strain) as the README's input images (horizontal "
                        f"flow, vertical flow, optical strain), each min-max normalised per sample as the authors' "
                        f"8-bit 'norm_u_v_os' images are, resized to 28×28; fed × 255, as main.py feeds those "
                        f"images' 0–255 values unscaled (input scaling byte)",
            reference_parameters=1_683, reference_parameters_source="main.py's layers with 3 classes",
            deviations=("main.py reads those images with cv2.imread, i.e. in (strain, v, u) order; every stream "
                        "sees all three channels, so the order does not change the net",
                        "the authors compute TV-L1 with the IPOL implementation on their own face crops; we use "
                        "OpenCV's Dual TV-L1 at 128×128"),
            reported=(
                _stofa(0.7748, 0.6621, "identical to the base CNN's 'Original' row of Tables 6–7 (77.48 %, "
                                       "0.6621): probably a copy error in the paper, so not a figure for STSTNet"),
                ReportedFigures(
                    source="Liong et al. 2019 (IEEE FG; arXiv:1902.03634), abstract and results table",
                    uf1=0.7353, uar=0.7605,
                    per_dataset={"casme2": {"uf1": 0.8382, "uar": 0.8686}, "samm": {"uf1": 0.6588, "uar": 0.6810},
                                 "smic": {"uf1": 0.6801, "uar": 0.7013}},
                    note="MEGC2019 composite, 442 samples, LOSO; the authors' code reports the metrics after the "
                         "last epoch (no selection on the test fold is visible in main.py)"),
            ),
        ),
    ),
    ModelSpec(
        name="offapexnet", factory=OffApexNet, input_spec=InputSpec(2, 28, 28, streams=2, scaling="none"),
        preprocessing=FLOW_UV,
        description="OFF-ApexNet: two streams on 28×28 horizontal/vertical flow (reconstruction)",
        family="comparison_nets",
        options=(dropout_option(0.5),
                 Option("conv_activation", str, "none", "activation after the convolutions (the reconstruction "
                                                        "has none)", choices=("none", "relu"))),
        card=ModelCard(
            source=Reference("Gan, Y.S.; Liong, S.-T.; Yau, W.-C.; Huang, Y.-C.; Tan, L.-K.",
                             "OFF-ApexNet on Micro-expression Recognition System",
                             "Signal Processing: Image Communication 74:129–139", 2019,
                             "https://arxiv.org/abs/1805.08699"),
            fidelity=Fidelity.RECONSTRUCTED,
            fidelity_detail="from the paper's description (two streams, two convolution and pooling layers, two "
                            f"1024-unit dense layers) and {OFFAPEXNET_RECONSTRUCTION}, which we follow exactly",
            input_chain=f"{ONSET_APEX_TEXT}; channels (u, v) as two single-channel streams, no per-sample "
                        f"normalisation, resized to 28×28; fed in pixels as they are, as the reconstruction's loader "
                        f"(ECNU-Cross-Innovation-Lab/PRICAI2021-Off-TANet, data.py) feeds its flow (input scaling "
                        f"none)",
            reference_parameters=2_664_475, reference_parameters_source="the reconstruction with 3 classes",
            deviations=("choices the paper leaves open, taken from the reconstruction: 'same' padding "
                        "(28 → 14 → 7), max-pooling, no activation after the convolutions (conv_activation=relu "
                        "adds one), dropout 0.5 after each dense layer",),
            reported=(
                _stofa(0.7838, 0.6757),
                ReportedFigures(
                    source="Gan et al. 2019 (Signal Process. Image Commun. 74; arXiv:1805.08699), abstract",
                    accuracy=0.7460, uf1=0.7104,
                    note="the authors' own three-database composite (SMIC, CASME II, SAMM; 3 classes; LOSO), which "
                         "predates the MEGC2019 list; their 'F-measure' is given as UF1"),
            ),
        ),
    ),
    ModelSpec(
        name="dual-inception", factory=DualInception, input_spec=InputSpec(2, 28, 28, streams=2, scaling="none"),
        preprocessing=FLOW_UV_MIDDLE_MINMAX,
        description="Dual-Inception: two inception streams on 28×28 u and v (onset → middle frame)",
        family="comparison_nets",
        options=(dropout_option(0.0),),
        card=ModelCard(
            source=Reference("Zhou, L.; Mao, Q.; Xue, L.",
                             "Dual-Inception Network for Cross-Database Micro-Expression Recognition", "IEEE FG", 2019),
            code=(CodeLocation("xly135846/MEGC2019", "dual_inception.py", "create_inception_model",
                               note="and image_process.py"),),
            fidelity=Fidelity.FAITHFUL,
            fidelity_detail="follows dual_inception.py: per stream Inception(6) → MaxPool(2) → Inception(16) → "
                            "MaxPool(2), 'same' padding, ReLU after every convolution; Dense(1024, ReLU) → Dense(3)",
            input_chain="onset → MIDDLE frame (the frame midway between onset and offset, as the paper's 'onset and "
                        "mid-position frames'); face crop where not cropped; 128×128 before TV-L1; channels (u, v), "
                        "each min-max normalised per sample and fed in [0, 1] as they are (the authors read 8-bit "
                        "flow images and divide by 255; input scaling none), "
                        "resized to 28×28; each stream reads its component repeated in 3 channels, as cv2.imread of "
                        "the authors' images gives (inputs_x, inputs_y: 28×28×3)",
            reference_parameters=6_449_963,
            reference_parameters_source="dual_inception.py's layer definitions with 3 classes",
            deviations=("the rendering of each component into the authors' 8-bit images is not in their code; we "
                        "assume a grey-level rendering (three equal channels)",),
            reported=(
                _stofa(0.7309, 0.5964),
                ReportedFigures(
                    source="Zhou et al. 2019 (IEEE FG, pp. 642–646), abstract",
                    uf1=0.7322, uar=0.7278,
                    note="MEGC2019 composite (442 samples), LOSO; the authors' code keeps the checkpoint with the "
                         "best validation loss on held-out subjects of the same database as the test subject"),
            ),
        ),
    ),
]


@hookimpl
def mebench_register_models(register):
    for spec in SPECS:
        register(spec)
