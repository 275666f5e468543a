"""``timm:<name>`` makes any timm architecture a mebench model: ``in_chans`` and ``num_classes`` set,
input size from timm's default config (``timm:<name>@<size>`` overrides it). Randomly initialised unless
``--model-opt weights=FILE`` (a local file) or ``--model-opt pretrained=timm|hf-hub:<id>`` (timm's own
weights, from the user's Hugging Face cache, downloaded there only because the user asked) says otherwise;
``pretrained_weights.py`` loads and adapts them and says what was loaded."""

from __future__ import annotations

import difflib
import functools

import sys
from pathlib import Path

from mebench import hookimpl
from mebench.data import CodeLocation, Fidelity, InputSpec, ModelCard, ModelSpec, Reference
from mebench.errors import DataError, OptionError, UnknownNameError
from mebench.options import Option
from mebench_plugins.models.pretrained_weights import (PRETRAINED_OPTIONS, fine_tune, head_name, load_weights,
                                                       pretrained_record, start_from_weights)
from mebench_plugins.preprocessors.chains import FLOW_UVS, ONSET_APEX_TEXT

PREFIX = "timm:"
TIMM = Reference("Wightman, R.", "PyTorch Image Models (timm)", "github.com/huggingface/pytorch-image-models", 2019)


#: What ``timm:<name>`` takes: its starting weights, fine-tuning, and two of timm.create_model's own arguments.
OPTIONS = (
    PRETRAINED_OPTIONS[0],
    Option("pretrained", str, None, "timm's own weights instead of a file: 'timm' (the architecture's default "
                                    "pretrained tag) or 'hf-hub:<repo id>'; read from the Hugging Face cache, "
                                    "downloaded there where it is not (only when asked for)"),
    *PRETRAINED_OPTIONS[1:],
    Option("drop_rate", float, None, "timm's dropout rate before the classifier", minimum=0.0, maximum=1.0),
    Option("drop_path_rate", float, None, "timm's stochastic depth rate", minimum=0.0, maximum=1.0),
)
#: How the card says the weights are adapted (``pretrained_weights.py`` does it).
ADAPTATION = ("with --model-opt weights or pretrained, every layer comes from the file, the model's own checkpoint "
              "filter applied first as timm.create_model(pretrained=True) applies it; the first convolution is "
              "adapted by timm.models.adapt_input_conv where the file's has another number of input channels, and "
              "the head is newly initialised where the file's has another number of classes (timm drops it too); "
              "any other difference is refused")


def _build(num_classes: int, input_spec: InputSpec, architecture: str, weights=None, pretrained=None,
           backbone_lr_scale: float = 1.0, freeze: str | None = None, **options):
    import timm

    options = {k: v for k, v in options.items() if v is not None}  # undeclared defaults: timm's own
    create = functools.partial(timm.create_model, architecture, pretrained=False, num_classes=num_classes,
                               in_chans=input_spec.channels)
    if "img_size" in options:
        model = create(**options)
    else:
        try:  # transformers bake the input size into their position embeddings
            model = create(img_size=(input_spec.height, input_spec.width), **options)
        except TypeError:  # convolutional nets take any size and have no img_size argument
            model = create(**options)
    owner = f"model {PREFIX + architecture!r}"
    head = head_name(model, model.get_classifier()) if hasattr(model, "get_classifier") else None
    first_conv = model.pretrained_cfg.get("first_conv") if getattr(model, "pretrained_cfg", None) else None
    remap = getattr(sys.modules.get(type(model).__module__), "checkpoint_filter_fn", None)
    start_from_weights(model, owner, weights, pretrained,
                       lambda source: _timm_weights(architecture, source, owner),
                       lambda path, source: load_weights(model, path, source,
                                                         first_conv if isinstance(first_conv, str) else None, head,
                                                         architecture, remap))
    fine_tune(model, head, backbone_lr_scale, freeze, owner)
    return model


def _timm_weights(architecture: str, pretrained: str, owner: str) -> tuple[Path, str]:
    """(the local file of timm's weights ``pretrained`` names, their source name): from the Hugging Face cache,
    downloaded into it where they are not there."""
    import timm

    if pretrained == "timm":
        config = timm.models.get_pretrained_cfg(architecture, allow_unregistered=False)
        hub = getattr(config, "hf_hub_id", None) if config is not None else None
        url = getattr(config, "url", None) if config is not None else None
        source = f"timm {architecture}.{config.tag}" if config is not None and config.tag else f"timm {architecture}"
    elif pretrained.startswith("hf-hub:") and len(pretrained) > len("hf-hub:"):
        hub, url, source = pretrained[len("hf-hub:"):], None, pretrained
    else:
        raise OptionError(f"--model-opt pretrained={pretrained}: {owner} takes 'timm' (its default pretrained tag) "
                          f"or 'hf-hub:<repo id>'; for a local file use --model-opt weights=FILE")
    if not hub and not url:
        raise OptionError(f"--model-opt pretrained={pretrained}: timm has no pretrained weights for {architecture}; "
                          f"give a file with --model-opt weights=FILE")
    try:
        return Path(_fetch(hub, url)), source
    except Exception as error:  # no network, no such repository, …: the reason is in the text
        reason = " ".join(str(error).split())[:200] or type(error).__name__
        raise DataError(hub or url, f"cannot get the pretrained weights of {owner}: {reason}",
                        "fetch them into the Hugging Face cache where there is a network, or pass a file with "
                        "--model-opt weights=FILE") from None


def _fetch(hub: str | None, url: str | None) -> str:
    """The cached file of a Hugging Face repository's weights (safetensors first) or of a URL."""
    if hub:
        from huggingface_hub import hf_hub_download

        try:
            return hf_hub_download(hub, "model.safetensors")
        except Exception:  # older repositories hold pytorch_model.bin only
            return hf_hub_download(hub, "pytorch_model.bin")
    from timm.models._hub import download_cached_file

    return download_cached_file(url)


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
        description=f"timm {architecture}, random init unless weights are given, {size}×{size} (u, v, strain) input",
        family="timm",
        options=OPTIONS,
        pretrained=lambda num_classes, options, _size=size: pretrained_record(
            lambda: _build(num_classes, InputSpec(3, _size, _size), architecture, **options)),
        card=ModelCard(
            source=TIMM,
            code=(CodeLocation("huggingface/pytorch-image-models", "timm/models", f"timm.create_model({architecture!r})",
                               licence="Apache-2.0"),),
            fidelity=Fidelity.FAITHFUL,
            fidelity_detail="timm's definition, randomly initialised unless --model-opt weights=FILE or "
                            "pretrained=timm|hf-hub:<id> is given (mebench downloads nothing unless asked)",
            input_chain=f"{ONSET_APEX_TEXT}; channels (u, v, strain), no per-sample normalisation, resized to "
                        f"{size}×{size}; standardised per channel with the training fold's mean and deviation (input "
                        f"scaling fold)",
            deviations=("the first convolution takes the 3 flow channels (in_chans=3), the head has num_classes "
                        "outputs", ADAPTATION,
                        "--model-opt backbone_lr_scale sets the learning rate of every layer but the head (× --lr); "
                        "--model-opt freeze leaves the parameters under the given layer-name prefixes untrained"),
        ),
    )
