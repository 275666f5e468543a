"""Pretrained weights for the backbone families (``timm:<name>``, ``tv:<name>``): reading a local file,
adapting it to the net as timm does, and saying what was loaded.

A weights file is a state dict (``.pth``/``.pt``/``.bin`` by ``torch.load`` with ``weights_only``, or
``.safetensors``), or a training checkpoint holding one under ``state_dict_ema``/``model_ema``,
``state_dict`` or ``model`` (read by ``timm.models.load_state_dict``, which also strips a ``module.``
prefix). Every tensor of the net must come from the file, except two, which are adapted as timm's
``load_pretrained`` adapts them:

- the first convolution, when the file's has another number of input channels: its weights are
  repeated or summed over channels by ``timm.models.adapt_input_conv`` (a 2-D convolution only);
- the head, when the file's has another number of classes (or the file has none): newly initialised.

Any other layer the file lacks, any tensor it holds that the net does not have and any other shape
difference is refused, naming the file and the layer: the file holds another architecture.
``PRETRAINED_OPTIONS`` and the fine-tuning options (``backbone_lr_scale``, ``freeze``) are shared by
both families; the record a net carries (``pretrained_record``) enters ``run.json`` and the run's identity.
"""

from __future__ import annotations

import functools
import hashlib
import os
import types
from pathlib import Path
from typing import Any, Callable

import torch
from torch import nn

from mebench.api import DataError, Option, OptionError

#: The options of a backbone family that decide its starting weights and how it is fine-tuned.
PRETRAINED_OPTIONS = (
    Option("weights", Path, None, "a local weights file (.pth/.pt/.bin state dict, .safetensors, or a checkpoint "
                                  "holding one under state_dict or model) loaded into the net; its SHA-256 digest "
                                  "enters the run's identity"),
    Option("backbone_lr_scale", float, 1.0, "learning rate of every layer but the head, as a multiple of the run's "
                                            "--lr", minimum=0.0),
    Option("freeze", str, None, "comma-separated layer-name prefixes (e.g. conv1,bn1,layer1) whose parameters are not "
                              "trained; their batch-norm statistics still update"),
)

#: The record of a net without pretrained weights.
RANDOM_INIT = None


def file_digest(path: Path) -> str:
    """The SHA-256 of the file's bytes (remembered per path, size and modification time)."""
    status = path.stat()
    return _digest(str(path.resolve()), status.st_size, status.st_mtime_ns)


@functools.lru_cache(maxsize=16)
def _digest(path: str, _size: int, _mtime: int) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def weights_file(value: Any, owner: str) -> Path:
    """The path of ``--model-opt weights=…``, refused (one line) where there is no such file."""
    path = Path(os.path.expanduser(str(value)))
    if not path.is_file():
        raise OptionError(f"--model-opt weights={value}: {owner}: no such file; give the path of a weights file "
                          f"(.pth, .pt, .bin or .safetensors)")
    return path


def read_state_dict(path: Path) -> dict[str, torch.Tensor]:
    """The tensors of a weights file or checkpoint (see the module's docstring), refused as one line
    naming the file where it cannot be read."""
    from timm.models import load_state_dict

    try:
        state = load_state_dict(str(path), use_ema=True, device="cpu", weights_only=True)
    except Exception as error:  # torch.load and safetensors raise several kinds; the reason is in the text
        reason = " ".join(str(error).split())[:200] or type(error).__name__
        raise DataError(path, f"cannot read weights: {reason}",
                        "give a state dict saved with torch.save(model.state_dict(), …) or safetensors") from None
    if not isinstance(state, dict) or not state or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise DataError(path, "holds no state dict of tensors",
                        "give a state dict saved with torch.save(model.state_dict(), …), or a checkpoint holding "
                        "one under 'state_dict' or 'model'")
    return state


def _layer(key: str) -> str:
    return key.rsplit(".", 1)[0]


def _under(key: str, prefix: str) -> bool:
    return key == prefix or key.startswith(prefix + ".")


def _shape(tensor: torch.Tensor) -> str:
    return "×".join(map(str, tensor.shape)) or "scalar"


def start_from_weights(model: nn.Module, owner: str, weights: Any, pretrained: Any,
                       fetch: Callable[[str], tuple[Path, str]], load: Callable[[Path, str], dict[str, Any]]) -> None:
    """Load what ``--model-opt weights=FILE`` or ``pretrained=SOURCE`` names into ``model`` (``fetch(source)`` finds a
    source's local file and name; ``load(path, source)`` loads it and returns the record) and keep the record on
    ``model.pretrained_record``; both given is one ``OptionError``; a model built on the meta device (to be
    inspected, not run) loads nothing."""
    if weights is not None and pretrained is not None:
        raise OptionError(f"--model-opt weights and pretrained: {owner} starts from one of them; give one")
    if (weights is None and pretrained is None) or any(parameter.is_meta for parameter in model.parameters()):
        return
    path, source = ((weights_file(weights, owner), Path(str(weights)).name) if weights is not None
                    else fetch(str(pretrained)))
    model.pretrained_record = load(path, source)
    if weights is not None:
        model.pretrained_record["file"] = str(weights)  # as given: the identity holds the digest instead


def load_weights(model: nn.Module, path: Path, source: str, first_conv: str | None, head: str | None,
                 architecture: str, remap: Callable[[dict, nn.Module], dict] | None = None) -> dict[str, Any]:
    """Load the file at ``path`` into ``model`` (adapting its first convolution ``first_conv`` and its head
    ``head``, both module names, as the module's docstring says; ``remap(state, model)`` first, the family's
    own checkpoint filter, e.g. timm's position-embedding resampling); the record of what was loaded:
    ``source``, ``file`` (as given), ``sha256`` of its bytes, and the layers ``loaded`` from it unchanged,
    ``adapted`` from it and ``new`` (initialised as without weights)."""
    from timm.models import adapt_input_conv

    sha256 = file_digest(path)
    state = read_state_dict(path)
    if remap is not None:
        try:
            state = remap(state, model)
        except Exception as error:  # the filter's own complaint, e.g. a tensor it cannot resample
            raise DataError(path, f"cannot adapt the file to {architecture}: {' '.join(str(error).split())[:200]}",
                            f"give weights saved from {architecture}") from None
    own = model.state_dict()
    unexpected = [key for key in state if key not in own]
    if unexpected:
        raise DataError(path, f"holds {len(unexpected)} tensor(s) {architecture} does not have ({unexpected[0]}, …)",
                        f"give weights saved from {architecture}")
    taken, adapted, new = {}, [], []
    for key, target in own.items():
        in_head = head is not None and _under(key, head)
        if key not in state:
            if in_head:
                new.append(key)
                continue
            raise DataError(path, f"lacks {key} of {architecture}", f"give weights saved from {architecture}")
        weights = state[key]
        if weights.shape == target.shape:
            taken[key] = weights
        elif in_head:
            new.append(key)  # another number of classes: timm drops the head too
        elif (first_conv is not None and key == f"{first_conv}.weight" and weights.ndim == 4 == target.ndim
              and weights.shape[0] == target.shape[0] and weights.shape[2:] == target.shape[2:]):
            taken[key] = adapt_input_conv(target.shape[1], weights, base_chans=weights.shape[1]).to(target.dtype)
            adapted.append(f"{key} ({weights.shape[1]} → {target.shape[1]} input channels, timm adapt_input_conv)")
        else:
            raise DataError(path, f"{key} is {_shape(weights)} in the file but {_shape(target)} in {architecture}, "
                                  f"which cannot be adapted",
                            f"give weights saved from {architecture} (only the first convolution's channels and "
                            f"the head's classes are adapted)")
    model.load_state_dict(taken, strict=False)
    adapted_keys = {text.split(" ")[0] for text in adapted}
    return {"source": source, "file": str(path), "sha256": sha256,
            "loaded": _layers(k for k in taken if k not in adapted_keys),
            "adapted": adapted, "new": _layers(new)}


def _layers(keys) -> list[str]:
    """The module names of ``keys``, each once, in order."""
    return list(dict.fromkeys(_layer(k) for k in keys))


def fine_tune(model: nn.Module, head: str | None, backbone_lr_scale: float, freeze: str | None, owner: str) -> None:
    """Freeze the parameters under the ``freeze`` prefixes and, where ``backbone_lr_scale`` is not 1, give the
    model ``parameter_groups(lr)`` (which training uses): every parameter but the head's at ``lr ×
    backbone_lr_scale``, the head's at ``lr``."""
    prefixes = [p.strip() for p in str(freeze or "").split(",") if p.strip()]
    names = [name for name, _ in model.named_parameters()]
    for prefix in prefixes:
        if not any(_under(name, prefix) for name in names):
            layers = ", ".join(dict.fromkeys(name.split(".")[0] for name in names))
            raise OptionError(f"--model-opt freeze={freeze}: {owner} has no layer {prefix!r}; its layers: {layers}")
    for name, parameter in model.named_parameters():
        if any(_under(name, prefix) for prefix in prefixes):
            parameter.requires_grad_(False)
    if float(backbone_lr_scale) != 1.0:
        model.parameter_groups = types.MethodType(
            functools.partial(_parameter_groups, head=head, scale=float(backbone_lr_scale)), model)


def _parameter_groups(model: nn.Module, lr: float, *, head: str | None, scale: float) -> list[dict[str, Any]]:
    backbone, own_head = [], []
    for name, parameter in model.named_parameters():
        (own_head if head is not None and _under(name, head) else backbone).append(parameter)
    groups = [{"params": backbone, "lr": lr * scale}, {"params": own_head, "lr": lr}]
    return [group for group in groups if group["params"]]


def head_name(model: nn.Module, head: nn.Module | None) -> str | None:
    """The module name of ``head`` within ``model``."""
    return next((name for name, module in model.named_modules() if module is head and name), None)


def pretrained_record(build: Callable[[], nn.Module]) -> dict[str, Any] | None:
    """What ``build()``'s net was loaded from (its ``pretrained_record``), checked by building it once."""
    return getattr(build(), "pretrained_record", RANDOM_INIT)
