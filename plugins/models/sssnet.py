"""SSSNet, the shallow single-stream net of Varanka et al. (2021), as MEB defines it.

Two convolutions (each conv → ReLU → max-pool → batch norm → channel dropout) and two dense layers on
a 64×64 (u, v, strain) flow image; MEB (``tvaranka/meb``, Apache-2.0) ships it with STSTNet and
OFF-ApexNet. The flattened size is fixed by the 64×64 input (9×9 maps after the second pool).
"""

from __future__ import annotations

from torch import nn

from mebench import hookimpl
from mebench.data import CodeLocation, Fidelity, InputSpec, ModelCard, ModelSpec, Reference
from mebench.options import Option
from mebench_plugins.preprocessors.chains import FLOW_UVS_MINMAX, ONSET_APEX_TEXT


class SSSNet(nn.Module):
    """SSSNet as MEB's ``SSSNet(num_classes=3, h_dims=[32, 64, 256], dropout=0.5)``: Conv 5×5 (32) →
    ReLU → MaxPool 3/3 → BN → Dropout2d; Conv 3×3 (64) → ReLU → MaxPool 2/2 → BN → Dropout2d;
    Linear(64·9·9 → 256) → ReLU → Dropout → Linear(256 → classes)."""

    def __init__(self, num_classes: int, input_spec: InputSpec, dropout: float = 0.5):
        super().__init__()
        widths = (32, 64, 256)
        self.features = nn.Sequential(
            nn.Conv2d(input_spec.channels, widths[0], 5), nn.ReLU(), nn.MaxPool2d(3, 3), nn.BatchNorm2d(widths[0]),
            nn.Dropout2d(dropout),
            nn.Conv2d(widths[0], widths[1], 3), nn.ReLU(), nn.MaxPool2d(2, 2), nn.BatchNorm2d(widths[1]),
            nn.Dropout2d(dropout),
        )
        side = ((input_spec.height - 4) // 3 - 2) // 2
        if side != 9 or ((input_spec.width - 4) // 3 - 2) // 2 != 9:
            raise ValueError(f"SSSNet's dense layer expects 9×9 maps, i.e. a 64–68 pixel input; got {input_spec}")
        self.classifier = nn.Sequential(nn.Flatten(), nn.Linear(widths[1] * 9 * 9, widths[2]), nn.ReLU(),
                                        nn.Dropout(dropout), nn.Linear(widths[2], num_classes))

    def forward(self, x):
        return self.classifier(self.features(x))


SPECS = [ModelSpec(
    name="sssnet", factory=SSSNet, input_spec=InputSpec(3, 64, 64, scaling="none"), preprocessing=FLOW_UVS_MINMAX,
    description="SSSNet (Varanka et al. 2021): shallow single stream on 64×64 (u, v, strain)", family="sssnet",
    options=(Option("dropout", float, 0.5, "dropout probability (channel dropout after each conv block, element-"
                                           "wise before the last layer)", minimum=0.0, maximum=1.0),),
    card=ModelCard(
        source=Reference("Varanka, T.; Peng, W.; Zhao, G.", "Micro-expression recognition with noisy labels",
                         "IS&T Electronic Imaging, Human Vision and Electronic Imaging 33:157-1–157-8", 2021,
                         "https://doi.org/10.2352/ISSN.2470-1173.2021.11.HVEI-157"),
        code=(CodeLocation("tvaranka/meb", "meb/models/me_networks.py", "SSSNet", "f731b0a", "Apache-2.0"),),
        fidelity=Fidelity.FAITHFUL,
        fidelity_detail="follows me_networks.py: conv → ReLU → pool → BN → Dropout2d twice (32 5×5 filters with a "
                        "3×3 stride-3 pool, 64 3×3 filters with a 2×2 pool), Linear(5,184 → 256) → ReLU → Dropout(0.5) "
                        "→ Linear(256 → 3); no softmax (MEB's default)",
        input_chain=f"{ONSET_APEX_TEXT}; channels (u, v, strain), each min-max normalised per sample as MEB's flow "
                    f"images are, resized to 64×64; fed as they are, as MEB's default transforms (none) leave them "
                    f"(input scaling none)",
        reference_parameters=1_349_251,
        reference_parameters_source="me_networks.py's SSSNet with 3 classes, counted by building it",
        deviations=(
            "MEB computes flow with Sun et al.'s classic+nl-fast (MATLAB) and strain from Sobel derivatives as "
            "sqrt(u_x² + v_y² + ½(u_y² + v_x²)); we use OpenCV's Dual TV-L1 at 128×128 and the strain tensor's "
            "magnitude sqrt(u_x² + v_y² + ½(u_y + v_x)²)",
            "the input channels are 3 (MEB hard-codes them)",
            "trained under the harness protocol (Adam, the run's epochs, batch and learning rate); MEB's notebooks "
            "use Adam (lr 1e-4, weight decay 1e-3) for 200 epochs",
            "no MEGC2019 3-class figure of SSSNet's own was found to cite, so the card reports none",
        ),
    ),
)]


@hookimpl
def mebench_register_models(register):
    for spec in SPECS:
        register(spec)
