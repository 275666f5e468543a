"""IncepTR (Zhou et al., Multimedia Systems 2023): an Inception-CBAM branch and a ViT branch on a
28×28 flow image, fused by one large dense layer.

Local branch: two Inception blocks (every conv followed by BN and ReLU; 1×1 reductions of 6), a 2×2
max-pool and CBAM, then a 1×1 conv to 256 channels (14×14). Global branch: the image resized to
14×14, one token per pixel embedded to 512, a learned position embedding, three pre-norm ViT blocks
(4 heads, MLP ratio 2, stochastic depth up to 0.3, the authors' "MSAD" head dropping), a final
LayerNorm, back to a 512×14×14 map and a 1×1 conv to 256. Both maps are concatenated and flattened
(100,352) into Linear(→ 1024) → ReLU → Dropout(0.5) → Linear(→ classes), which holds 94 % of the
parameters.

The authors' code (``HaoliangZhou/IncepTR``) carries no licence, so this is our own implementation
from its definition; the tests pin the parameter count and the layer order. Parameters the authors'
ViT builds but never uses (a class token, a 5-way head, a mask layer) are built here too.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from mebench import hookimpl
from mebench.data import CodeLocation, Fidelity, InputSpec, ModelCard, ModelSpec, Reference, ReportedFigures
from mebench.options import Option
from mebench_plugins.preprocessors.chains import FLOW_UVS_MINMAX, ONSET_APEX_TEXT


def conv_bn_relu(cin: int, cout: int, kernel: int) -> list[nn.Module]:
    return [nn.Conv2d(cin, cout, kernel, padding=kernel // 2), nn.BatchNorm2d(cout), nn.ReLU(inplace=True)]


class Inception(nn.Module):
    """Four branches of ``width`` filters, concatenated: 1×1; 1×1 (6) → 3×3; 1×1 (6) → 5×5; 3×3 max-pool
    (stride 1) → 1×1 — every convolution followed by batch norm and ReLU."""

    def __init__(self, cin: int, width: int, reduction: int = 6):
        super().__init__()
        self.branches = nn.ModuleList([
            nn.Sequential(*conv_bn_relu(cin, width, 1)),
            nn.Sequential(*conv_bn_relu(cin, reduction, 1), *conv_bn_relu(reduction, width, 3)),
            nn.Sequential(*conv_bn_relu(cin, reduction, 1), *conv_bn_relu(reduction, width, 5)),
            nn.Sequential(nn.MaxPool2d(3, stride=1, padding=1), *conv_bn_relu(cin, width, 1)),
        ])

    def forward(self, x):
        return torch.cat([branch(x) for branch in self.branches], dim=1)


class CBAM(nn.Module):
    """Channel attention (a shared Linear(C → C/16) → ReLU → Linear(→ C) on the global average and max,
    summed, sigmoid), then spatial attention (a 3×3 conv with bias on the channel mean and max, sigmoid)."""

    def __init__(self, channels: int, reduction: int = 16, kernel: int = 3):
        super().__init__()
        self.shared_mlp = nn.Sequential(nn.Linear(channels, channels // reduction), nn.ReLU(inplace=True),
                                        nn.Linear(channels // reduction, channels))
        self.spatial = nn.Conv2d(2, 1, kernel, padding=kernel // 2)

    def forward(self, x):
        weights = self.shared_mlp(x.mean(dim=(2, 3))) + self.shared_mlp(x.amax(dim=(2, 3)))
        x = torch.sigmoid(weights)[:, :, None, None] * x
        pooled = torch.cat([x.mean(dim=1, keepdim=True), x.amax(dim=1, keepdim=True)], dim=1)
        return torch.sigmoid(self.spatial(pooled)) * x


class DropPath(nn.Module):
    """Stochastic depth: in training, the residual branch of a sample is dropped with probability p and
    the kept ones scaled by 1 / (1 − p)."""

    def __init__(self, p: float):
        super().__init__()
        self.p = p

    def forward(self, x):
        if not self.training or self.p == 0.0:
            return x
        keep = (torch.rand((x.shape[0],) + (1,) * (x.ndim - 1), device=x.device) >= self.p).to(x.dtype)
        return x * keep / (1.0 - self.p)


class HeadDrop(nn.Module):
    """The authors' multi-head self-attention dropping (MSAD). In training each sample is chosen with
    probability ``p``; for a chosen sample one index i < heads is drawn and, as their ``HeadDropOut``
    indexes the (B, tokens, 3, heads, d) q/k/v tensor on its token axis, q, k and v of token i are
    zeroed (``mode="token"``, their code); ``mode="head"`` zeroes head i instead (the paper's words)."""

    modes = ("token", "head")

    def __init__(self, p: float, mode: str = "token"):
        super().__init__()
        if mode not in self.modes:
            raise ValueError(f"IncepTR head_drop_mode must be one of {self.modes}, got {mode!r}")
        self.p, self.mode = p, mode

    def forward(self, qkv):  # (B, tokens, 3, heads, head_dim)
        if not self.training or self.p == 0.0:
            return qkv
        batch, tokens, _, heads, _ = qkv.shape
        chosen = torch.rand(batch, device=qkv.device) < self.p
        index = torch.randint(heads, (batch,), device=qkv.device)
        if self.mode == "token":  # zero (token i, every q/k/v, every head)
            hit = torch.arange(tokens, device=qkv.device)[None, :] == index[:, None]
            dropped = (hit & chosen[:, None])[:, :, None, None, None]
        else:  # zero (every token, every q/k/v, head i)
            hit = torch.arange(heads, device=qkv.device)[None, :] == index[:, None]
            dropped = (hit & chosen[:, None])[:, None, None, :, None]
        return qkv * (~dropped).to(qkv.dtype)


class Attention(nn.Module):
    def __init__(self, dim: int, heads: int, head_drop: HeadDrop):
        super().__init__()
        self.heads, self.scale = heads, (dim // heads) ** -0.5
        self.qkv = nn.Linear(dim, 3 * dim)
        self.head_drop = head_drop
        self.proj = nn.Linear(dim, dim)

    def forward(self, x):
        batch, tokens, dim = x.shape
        qkv = self.head_drop(self.qkv(x).reshape(batch, tokens, 3, self.heads, dim // self.heads))
        q, k, v = qkv.permute(2, 0, 3, 1, 4)
        attention = torch.softmax(q @ k.transpose(-2, -1) * self.scale, dim=-1)
        return self.proj((attention @ v).transpose(1, 2).reshape(batch, tokens, dim))


class Block(nn.Module):
    def __init__(self, dim: int, heads: int, mlp_ratio: float, drop_path: float, head_drop: HeadDrop):
        super().__init__()
        self.norm1 = nn.LayerNorm(dim, eps=1e-6)
        self.attn = Attention(dim, heads, head_drop)
        self.drop_path = DropPath(drop_path) if drop_path > 0 else nn.Identity()
        self.norm2 = nn.LayerNorm(dim, eps=1e-6)
        hidden = int(dim * mlp_ratio)
        self.mlp = nn.Sequential(nn.Linear(dim, hidden), nn.GELU(), nn.Linear(hidden, dim))

    def forward(self, x):
        x = x + self.drop_path(self.attn(self.norm1(x)))
        return x + self.drop_path(self.mlp(self.norm2(x)))


class GlobalBranch(nn.Module):
    """The authors' ``VisionTransformer_POS(img_size=14, patch_size=1, embed_dim=512, depth=3, num_heads=4,
    mlp_ratio=2, qkv_bias=True, drop_path_rate=0.3, head_drop_rate=0.3)``: per-pixel tokens, no class
    token in the forward pass; its initialisation (truncated normal 0.02 for the position embedding,
    class token and linear weights)."""

    def __init__(self, channels: int, size: int, dim: int = 512, depth: int = 3, heads: int = 4,
                 mlp_ratio: float = 2.0, drop_path: float = 0.3, head_drop_rate: float = 0.3,
                 head_drop_mode: str = "token"):
        super().__init__()
        self.patch_embed = nn.Conv2d(channels, dim, 1)
        self.cls_token = nn.Parameter(torch.zeros(1, 1, dim))  # built, never used (the authors' definition)
        self.pos_embed = nn.Parameter(torch.zeros(1, size * size, dim))
        # the authors' [x.item() for x in torch.linspace(…)]; on the CPU even while a net is built on "meta"
        rates = torch.linspace(0, drop_path, depth, device="cpu").tolist()
        self.blocks = nn.ModuleList(Block(dim, heads, mlp_ratio, rate, HeadDrop(head_drop_rate, head_drop_mode))
                                    for rate in rates)
        self.norm = nn.LayerNorm(dim, eps=1e-6)
        self.head = nn.Linear(dim, 5)  # built, never used (the authors' definition)
        self.to_mask = nn.Sequential(nn.Linear(dim, 1), nn.Sigmoid())  # built, never used (the authors' definition)
        nn.init.trunc_normal_(self.pos_embed, std=0.02)
        nn.init.trunc_normal_(self.cls_token, std=0.02)
        for module in self.modules():
            if isinstance(module, nn.Linear):
                nn.init.trunc_normal_(module.weight, std=0.02)
                nn.init.zeros_(module.bias)
            elif isinstance(module, nn.LayerNorm):
                nn.init.ones_(module.weight)
                nn.init.zeros_(module.bias)

    def forward(self, x):  # (B, C, s, s) → (B, dim, s, s)
        batch, _, height, width = x.shape
        tokens = self.patch_embed(x).flatten(2).transpose(1, 2) + self.pos_embed
        for block in self.blocks:
            tokens = block(tokens)
        return self.norm(tokens).transpose(1, 2).reshape(batch, -1, height, width)


def branch_dissimilarity(global_map: torch.Tensor, local_map: torch.Tensor) -> torch.Tensor:
    """The authors' similarity loss before its weight (``main_contrast.py``): 1 − the cosine similarity of
    the two (N, C, H, W) maps along the channels (``nn.CosineSimilarity(dim=1)``, eps 1e-8) at each
    position, averaged over samples and positions."""
    return (1 - F.cosine_similarity(global_map, local_map, dim=1, eps=1e-8)).mean()


class IncepTR(nn.Module):
    """The authors' ``DualATTNet(in_channels=3, num_classes=3)``; its forward pass returns only the
    logits. In training the harness calls ``forward_with_auxiliary_loss``, which also gives the
    authors' similarity term: ``similarity_weight`` · ``branch_dissimilarity`` of the two branches' maps."""

    def __init__(self, num_classes: int, input_spec: InputSpec, embed_dim: int = 512, fusion_channels: int = 256,
                 hidden: int = 1024, dropout: float = 0.5, drop_path: float = 0.3, head_drop_rate: float = 0.3,
                 head_drop_mode: str = "token", similarity_weight: float = 0.1):
        super().__init__()
        self.similarity_weight = similarity_weight
        if (input_spec.height, input_spec.width) != (28, 28):
            raise ValueError(f"IncepTR's dense layer is sized for a 28×28 input, got {input_spec}")
        half = input_spec.height // 2
        self.incep_sca = nn.Sequential(Inception(input_spec.channels, 6), Inception(24, 12), nn.MaxPool2d(2), CBAM(48))
        self.vit_pos = GlobalBranch(input_spec.channels, half, dim=embed_dim, drop_path=drop_path,
                                    head_drop_rate=head_drop_rate, head_drop_mode=head_drop_mode)
        self.resize = half
        self.conv1x1_pc = nn.Conv2d(embed_dim, fusion_channels, 1)
        self.conv1x1_sca = nn.Conv2d(48, fusion_channels, 1)
        self.fc = nn.Sequential(nn.Flatten(), nn.Linear(half * half * 2 * fusion_channels, hidden),
                                nn.ReLU(inplace=True), nn.Dropout(dropout), nn.Linear(hidden, num_classes))

    def branches(self, x):
        """(global, local): the two 256×14×14 maps the authors' similarity loss compares."""
        local = self.conv1x1_sca(self.incep_sca(x))
        resized = F.interpolate(x, size=(self.resize, self.resize), mode="bilinear", align_corners=False, antialias=True)
        return self.conv1x1_pc(self.vit_pos(resized)), local

    def forward(self, x):
        return self.fc(torch.cat(self.branches(x), dim=1))

    def forward_with_auxiliary_loss(self, x):
        """(logits, ``similarity_weight`` · ``branch_dissimilarity``) from one pass, as the authors' training
        loop adds ``0.1 * loss_contrast`` to the cross-entropy."""
        global_map, local_map = self.branches(x)
        logits = self.fc(torch.cat((global_map, local_map), dim=1))
        return logits, self.similarity_weight * branch_dissimilarity(global_map, local_map)


SPECS = [ModelSpec(
    name="inceptr", factory=IncepTR, input_spec=InputSpec(3, 28, 28, scaling="none"), preprocessing=FLOW_UVS_MINMAX,
    description="IncepTR (Zhou et al. 2023): Inception-CBAM and ViT branches on 28×28 (u, v, strain), fused densely",
    family="inceptr",
    options=(Option("embed_dim", int, 512, "width of the ViT branch (a multiple of its 4 heads)", minimum=4),
             Option("fusion_channels", int, 256, "channels each branch's 1×1 conv gives the fusion", minimum=1),
             Option("hidden", int, 1024, "width of the first dense layer", minimum=1),
             Option("dropout", float, 0.5, "dropout before the last layer", minimum=0.0, maximum=1.0),
             Option("drop_path", float, 0.3, "stochastic depth of the last ViT block (0 → this, linearly)",
                    minimum=0.0, maximum=1.0),
             Option("head_drop_rate", float, 0.3, "probability a sample gets MSAD dropping in a ViT block",
                    minimum=0.0, maximum=1.0),
             Option("head_drop_mode", str, "token", "what MSAD zeroes: the authors' code zeroes q/k/v of one of the "
                                                   "first 4 tokens; 'head' zeroes a head as the paper says",
                    choices=HeadDrop.modes),
             Option("similarity_weight", float, 0.1, "weight of the authors' similarity loss (mean of 1 − cosine "
                                                     "similarity between the two branches' maps) added to the "
                                                     "cross-entropy in training; 0 trains on cross-entropy alone",
                    minimum=0.0, recorded=True)),
    card=ModelCard(
        source=Reference("Zhou, H.; Huang, S.; Xu, Y.",
                         "IncepTR: micro-expression recognition integrating inception-CBAM and vision transformer",
                         "Multimedia Systems 29(6):3863–3876", 2023, "https://doi.org/10.1007/s00530-023-01164-0"),
        code=(CodeLocation("HaoliangZhou/IncepTR", "model/DualATTNet.py", "DualATTNet", "0ba9ed7",
                           "none (all rights reserved)",
                           note="with model/Inception_module.py, CBAM_module.py, PC_module.py (VisionTransformer_POS, "
                                "adapted from timm/DeiT); training in main_contrast.py"),),
        fidelity=Fidelity.FAITHFUL,
        fidelity_detail="our own implementation of DualATTNet's definition (its code has no licence): Inception(3→6·4) "
                        "→ Inception(24→12·4) → MaxPool(2) → CBAM(48) → Conv1×1(48→256); Resize(14×14) → ViT (1×1 "
                        "patches, 512 wide, 3 blocks of 4 heads, MLP ratio 2, qkv bias, LayerNorm eps 1e-6, stochastic "
                        "depth 0–0.3, MSAD 0.3) → Conv1×1(512→256); concatenate → Linear(100,352 → 1024) → ReLU → "
                        "Dropout(0.5) → Linear(1024 → 3); the authors' initialisation of the ViT",
        input_chain=f"{ONSET_APEX_TEXT}; channels (u, v, strain), each min-max normalised per sample, resized to "
                    f"28×28; fed as they are, as the authors' loader feeds its .npz flow (input scaling none)",
        reference_parameters=109_329_039,
        reference_parameters_source="DualATTNet(in_channels=3, num_classes=3), counted by building the authors' "
                                    "model/*.py (102,761,472 of them in the first dense layer)",
        deviations=(
            "the authors' loss (main_contrast.py: 'loss = 0.1 * loss_contrast + 1 * loss_class', loss_contrast the "
            "mean of 1 − cosine similarity along the channels between the two branches' 256×14×14 maps) is "
            "reproduced: similarity_weight=0.1, recorded in the run identity; 0 trains on cross-entropy alone",
            "MSAD: the authors' HeadDropOut zeroes an index of the token axis of the (B, tokens, 3, heads, d) q/k/v "
            "tensor, so it drops q, k and v of one of the first four tokens (top-left pixels), not a head; reproduced "
            "(head_drop_mode=token; head zeroes a head as the paper describes). Their draws come from unseeded numpy "
            "and random; ours from torch's generator, seeded per fold",
            "parameters built but never used in the forward pass are built here too: the ViT's class token (512), "
            "its 5-way head (2,565) and its mask layer (513); 109,325,449 parameters get gradients",
            "the 14×14 resize is torchvision's Resize on a tensor in the authors' code; we use bilinear interpolation "
            "with antialiasing, what Resize does in torchvision ≥ 0.17",
            "the channel content of the authors' .npz flow ('of') is not in their repository (it follows Dual-ATME's "
            "and RCN's data preparation); we feed (u, v, strain) from OpenCV's Dual TV-L1, min-max normalised per "
            "sample; their transform (flip, normalisation) is defined but never applied, so the harness scales the "
            "input in no way either (input scaling none)",
            "trained under the harness protocol (Adam, the run's epochs, batch and learning rate); main_contrast.py "
            "uses AdamW (lr 1e-3), batch 128, 30 epochs, the last epoch scored, and runs the whole LOSO 10 times",
        ),
        reported=(ReportedFigures(
            source="Zhou et al. 2023 (Multimedia Systems 29:3863–3876), abstract and the repository's README",
            uf1=0.753, uar=0.746,
            note="MEGC2019 composite (MEGC2019-CD), LOSO; the code scores the last of 30 epochs (no selection on the "
                 "test fold) but runs the whole evaluation 10 times, and which run (best, mean or last) gives the "
                 "figure is not stated; per-dataset figures are in the paper only"),),
    ),
)]


@hookimpl
def mebench_register_models(register):
    for spec in SPECS:
        register(spec)
