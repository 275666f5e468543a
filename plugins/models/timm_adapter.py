"""``timm:<name>`` makes any timm architecture a mebench model: random initialisation,
``in_chans`` and ``num_classes`` set, input size from timm's default config (``timm:<name>@<size>``
overrides it). Weights are never downloaded."""

from __future__ import annotations

import difflib
import functools

from mebench import hookimpl
from mebench.data import CodeLocation, Fidelity, InputSpec, ModelCard, ModelSpec, Reference
from mebench.errors import UnknownNameError
from mebench_plugins.preprocessors.chains import FLOW_UVS, ONSET_APEX_TEXT

PREFIX = "timm:"
TIMM = Reference("Wightman, R.", "PyTorch Image Models (timm)", "github.com/huggingface/pytorch-image-models", 2019)


def _build(num_classes: int, input_spec: InputSpec, architecture: str, **options):
    import timm

    create = functools.partial(timm.create_model, architecture, pretrained=False, num_classes=num_classes,
                               in_chans=input_spec.channels)
    if "img_size" in options:
        return create(**options)
    try:  # transformers bake the input size into their position embeddings
        return create(img_size=(input_spec.height, input_spec.width), **options)
    except TypeError:  # convolutional nets take any size and have no img_size argument
        return create(**options)


def _default_size(architecture: str) -> int:
    import timm

    config = timm.models.get_pretrained_cfg(architecture, allow_unregistered=True)
    size = getattr(config, "input_size", None) if config is not None else None
    return int(size[-1]) if size else 224


@hookimpl
def mebench_resolve_model(name):
    if not name.startswith(PREFIX):
        return None
    import timm

    architecture, _, size_text = name[len(PREFIX):].partition("@")
    available = timm.list_models()
    if architecture not in available:
        close = difflib.get_close_matches(architecture, available, n=5, cutoff=0.6)
        hint = f"; did you mean {', '.join(PREFIX + c for c in close)}?" if close else ""
        raise UnknownNameError(f"unknown timm architecture {architecture!r}{hint} (timm.list_models() lists all)")
    try:
        size = int(size_text) if size_text else _default_size(architecture)
    except ValueError:
        raise UnknownNameError(f"{name!r}: the size after '@' must be an integer, e.g. timm:resnet18@112") from None
    return ModelSpec(
        name=name,
        factory=functools.partial(_build, architecture=architecture),
        input_spec=InputSpec(3, size, size),
        preprocessing=FLOW_UVS,
        description=f"timm {architecture}, random init, {size}×{size} (u, v, strain) input",
        family="timm",
        options=None,  # timm.create_model's own keyword arguments (drop_rate, …); timm refuses unknown ones
        card=ModelCard(
            source=TIMM,
            code=(CodeLocation("huggingface/pytorch-image-models", "timm/models", f"timm.create_model({architecture!r})",
                               licence="Apache-2.0"),),
            fidelity=Fidelity.FAITHFUL,
            fidelity_detail="timm's definition, randomly initialised (mebench never downloads weights)",
            input_chain=f"{ONSET_APEX_TEXT}; channels (u, v, strain), no per-sample normalisation, resized to "
                        f"{size}×{size}; standardised per channel with the training fold's mean and deviation (input "
                        f"scaling fold)",
            deviations=("the first convolution takes the 3 flow channels (in_chans=3), the head has num_classes "
                        "outputs",),
        ),
    )
