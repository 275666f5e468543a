"""``tv:<name>`` makes torchvision's video nets (R3D-18, MC3-18, R(2+1)D-18) mebench models taking grey clips:
the sample's frames from onset to offset, interpolated by TIM to the net's number of frames and resized to its
size (``tv:<name>@<frames>x<size>``; default 16×112×112, the Kinetics-400 clips torchvision's weights were
trained on). Randomly initialised unless ``--model-opt weights=FILE`` (a local file) or ``--model-opt
pretrained=KINETICS400_V1`` (torchvision's weights, from the user's torch hub cache, downloaded there only
because the user asked) says otherwise; ``pretrained_weights.py`` loads them and says what was loaded.
"""

from __future__ import annotations

import functools
import re
from pathlib import Path

import torch
from torch import nn

from mebench import hookimpl
from mebench.data import CodeLocation, Fidelity, InputSpec, ModelCard, ModelSpec, Reference
from mebench.errors import DataError, OptionError, UnknownNameError
from mebench.options import Option
from mebench_plugins.models.pretrained_weights import (PRETRAINED_OPTIONS, fine_tune, load_weights, pretrained_record,
                                                       start_from_weights)
from mebench_plugins.preprocessors.chains import GREY_SEQUENCE_TEXT, grey_clip

PREFIX = "tv:"
#: The nets, each with its torchvision builder's name and its line in the description.
ARCHITECTURES = {"r3d_18": "R3D-18 (3-D convolutions)", "mc3_18": "MC3-18 (mixed 3-D/2-D convolutions)",
                 "r2plus1d_18": "R(2+1)D-18 ((2+1)-D convolutions)"}
DEFAULT_FRAMES, DEFAULT_SIZE = 16, 112
TRAN = Reference("Tran, D.; Wang, H.; Torresani, L.; Ray, J.; LeCun, Y.; Paluri, M.",
                 "A Closer Look at Spatiotemporal Convolutions for Action Recognition", "CVPR", 2018)
HEAD = "fc"
OPTIONS = (
    PRETRAINED_OPTIONS[0],
    Option("pretrained", str, None, "torchvision's weights instead of a file, by their name (KINETICS400_V1); "
                                    "read from the torch hub cache, downloaded there where they are not (only "
                                    "when asked for)", choices=("KINETICS400_V1",)),
    *PRETRAINED_OPTIONS[1:],
)


class GreyClip(nn.Module):
    """A torchvision video net that takes a grey clip as the chain makes it, (N, T, H, W) — one channel per
    frame — and shows it to the net as (N, 3, T, H, W), the grey frame in each of its 3 colour channels (what
    an RGB stem sees of a grey video; its weights stay as loaded). ``channels_last`` (a 2-D layout) moves
    its 5-D weights to ``channels_last_3d``."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return super().forward(x.unsqueeze(1).expand(-1, 3, -1, -1, -1))

    def to(self, *args, **kwargs):
        if kwargs.get("memory_format") is torch.channels_last:
            kwargs["memory_format"] = torch.channels_last_3d
        return super().to(*args, **kwargs)


@functools.cache
def _grey_clip_class(net_class: type) -> type:
    """``GreyClip`` over ``net_class`` (torchvision's ``VideoResNet``), a name of this module (so it pickles)."""
    made = type(f"GreyClip{net_class.__name__}", (GreyClip, net_class), {"__module__": __name__})
    return globals().setdefault(made.__name__, made)


def _build(num_classes: int, input_spec: InputSpec, architecture: str, weights=None, pretrained=None,
           backbone_lr_scale: float = 1.0, freeze: str | None = None) -> nn.Module:
    import torchvision

    model = torchvision.models.get_model(architecture, weights=None, num_classes=num_classes)
    model.__class__ = _grey_clip_class(type(model))
    owner = f"model {PREFIX + architecture!r}"
    start_from_weights(model, owner, weights, pretrained,
                       lambda source: _torchvision_weights(architecture, source, owner),
                       lambda path, source: load_weights(model, path, source, None, HEAD, f"torchvision {architecture}"))
    fine_tune(model, HEAD, backbone_lr_scale, freeze, owner)
    return model


def _torchvision_weights(architecture: str, name: str, owner: str) -> tuple[Path, str]:
    """(the torch hub cache's file of torchvision's weights ``name``, their source name), downloaded into the
    cache where they are not there."""
    import torchvision

    enum = torchvision.models.get_model_weights(architecture)
    try:
        url = enum[name].url
    except KeyError:
        raise OptionError(f"--model-opt pretrained={name}: {owner} has torchvision weights "
                          f"{', '.join(e.name for e in enum)}") from None
    path = Path(torch.hub.get_dir()) / "checkpoints" / Path(url).name
    if not path.is_file():
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            torch.hub.download_url_to_file(url, str(path), progress=False)
        except Exception as error:  # no network, a full disk: the reason is in the text
            reason = " ".join(str(error).split())[:200] or type(error).__name__
            raise DataError(url, f"cannot get the pretrained weights of {owner}: {reason}",
                            f"put the file at {path} where there is a network, or pass it with "
                            f"--model-opt weights=FILE") from None
    return path, f"torchvision {enum.__name__}.{name}"


def _clip_shape(name: str, text: str) -> tuple[int, int]:
    if not text:
        return DEFAULT_FRAMES, DEFAULT_SIZE
    match = re.fullmatch(r"(\d+)x(\d+)", text)
    if not match or int(match[1]) < 2 or int(match[2]) < 16:
        raise UnknownNameError(f"{name!r}: after '@' give frames x size, e.g. {PREFIX}r3d_18@16x112 (at least 2 "
                               f"frames of 16×16 pixels)")
    return int(match[1]), int(match[2])


@hookimpl
def mebench_resolve_model(name):
    if not name.startswith(PREFIX):
        return None
    architecture, _, shape_text = name[len(PREFIX):].partition("@")
    if architecture not in ARCHITECTURES:
        raise UnknownNameError(f"unknown torchvision video net {architecture!r}; the {PREFIX} family has "
                               f"{', '.join(PREFIX + a for a in ARCHITECTURES)}")
    frames, size = _clip_shape(name, shape_text)
    input_spec = InputSpec(frames, size, size)
    return ModelSpec(
        name=name,
        factory=functools.partial(_build, architecture=architecture),
        input_spec=input_spec,
        preprocessing=grey_clip(frames),
        description=f"torchvision {ARCHITECTURES[architecture]}, random init unless weights are given, grey clips "
                    f"of {frames} frames at {size}×{size}",
        family="torchvision video",
        options=OPTIONS,
        pretrained=lambda num_classes, options: pretrained_record(
            lambda: _build(num_classes, input_spec, architecture, **options)),
        card=ModelCard(
            source=TRAN,
            code=(CodeLocation("pytorch/vision", "torchvision/models/video/resnet.py", architecture,
                               licence="BSD-3-Clause"),),
            fidelity=Fidelity.FAITHFUL,
            fidelity_detail="torchvision's definition, randomly initialised unless --model-opt weights=FILE or "
                            "pretrained=KINETICS400_V1 is given (mebench downloads nothing unless asked)",
            input_chain=f"{GREY_SEQUENCE_TEXT}; interpolated by TIM to {frames} frames; resized to {size}×{size}; "
                        f"each frame one input channel in [0, 1], standardised per frame position with the training "
                        f"fold's mean and deviation (input scaling fold)",
            deviations=(
                "grey clips: each grey frame is repeated into the 3 colour channels the stem takes, so the stem's "
                "weights (loaded or not) stay as they are; the head has num_classes outputs",
                "with --model-opt weights or pretrained, every layer comes from the file; the head (fc) is newly "
                "initialised where the file's has another number of classes; any other difference is refused",
                "inputs are standardised with the training fold's statistics, not Kinetics-400's mean and deviation",
                "--model-opt backbone_lr_scale sets the learning rate of every layer but the head (× --lr); "
                "--model-opt freeze leaves the parameters under the given layer-name prefixes untrained",
            ),
        ),
    )
