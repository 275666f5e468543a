"""Training and prediction for one fold, with the whole dataset resident on the device.

No DataLoader: batches are index slices of a tensor already on the device. Protocol defaults
follow the paper (Adam, lr 1e-4, batch 32) with a fixed epoch budget: the test fold is never
used to choose a model. Everything random in a fold's training (weights, batch order, dropout
masks) comes from seeds of that fold, so training folds one by one or several at once gives
the same models.
"""

from __future__ import annotations

import contextlib
import math
from dataclasses import dataclass
from typing import Callable, ContextManager

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from mebench.errors import ConfigError, NonFiniteLossError
from mebench.folds import Fold
from mebench.tasks import SINGLE_LABEL, TaskKind


@dataclass(frozen=True)
class TrainSettings:
    epochs: int
    batch_size: int = 32
    lr: float = 1e-4
    seed: int = 0
    device: torch.device = torch.device("cpu")
    bf16: bool = False
    channels_last: bool = False
    #: the task's kind (``mebench.tasks``): its loss, its probabilities and whether labels may be weighed
    kind: TaskKind = SINGLE_LABEL
    #: weigh each label's positives by its negatives / positives on the fold's training samples (a kind that
    #: ``weighs_labels``: multi-label)
    pos_weight: bool = False
    #: how the net's input is scaled (``mebench.data.INPUT_SCALINGS``; ``fold_normalisation``)
    input_scaling: str = "fold"

    def autocast(self) -> ContextManager:
        if not self.bf16:
            return contextlib.nullcontext()
        return torch.autocast(self.device.type, dtype=torch.bfloat16)

    def fold_seed(self, fold_index: int) -> int:
        return self.seed * 100_003 + fold_index

    def dropout_seed(self, fold_index: int) -> int:
        """The seed of the fold's dropout masks: a stream independent of its weights and batch order."""
        return int(np.random.SeedSequence([self.seed, fold_index, 1]).generate_state(1, dtype=np.uint64)[0])


def training_loss(model: nn.Module, inputs: torch.Tensor, targets: torch.Tensor, kind: TaskKind = SINGLE_LABEL,
                  pos_weight: torch.Tensor | None = None) -> torch.Tensor:
    """The loss a fold trains on: the task kind's loss of the model's logits, plus the model's own term where
    it defines ``forward_with_auxiliary_loss(inputs) -> (logits, term)`` (IncepTR's branch similarity)."""
    forward = getattr(model, "forward_with_auxiliary_loss", None)
    if forward is None:
        return kind.loss(model(inputs), targets, pos_weight)
    logits, term = forward(inputs)
    return kind.loss(logits, targets, pos_weight) + term


def fold_pos_weight(y: torch.Tensor, train: torch.Tensor, settings: TrainSettings) -> torch.Tensor | None:
    """Per label, negatives / positives over the fold's training samples only (1 for a label without
    positives there); None unless the settings ask for it (on a kind that weighs labels: multi-label)."""
    return settings.kind.fold_pos_weight(y, train) if settings.pos_weight else None


def check_epoch_loss(loss: float, fold: Fold, epoch: int, settings: TrainSettings) -> None:
    """Raise ``NonFiniteLossError`` if ``loss`` (a fold's mean loss over ``epoch``, 0-based) is not finite."""
    if math.isfinite(loss):
        return
    fixes = ["train in full precision (--precision fp32)"] if settings.bf16 else []
    fixes.append(f"lower the learning rate (--lr, now {settings.lr:g})")
    raise NonFiniteLossError(f"fold {fold.index} (test {fold.name}): the training loss became {loss} "
                             f"in epoch {epoch + 1} of {settings.epochs}; {' or '.join(fixes)}")


class FoldDropout(nn.Module):
    """``nn.Dropout`` whose masks come from the fold's own generator, not the global random stream.

    In training mode, elements are zeroed where a uniform draw is below ``p`` and the rest are
    scaled by ``1 / (1 - p)``, as ``nn.Dropout`` does. The draw is ``torch.rand(x.shape,
    generator=generator)`` in float32, unless a ``noise`` buffer of that shape is set, which is
    used instead: fold-batched training pre-draws it from the same generator in the same order,
    so both ways of training see identical masks. In eval mode it is the identity.
    """

    def __init__(self, p: float, generator: torch.Generator | None):
        super().__init__()
        if not 0.0 <= p <= 1.0:
            raise ValueError(f"dropout probability must be in [0, 1], got {p}")
        self.p = p
        self.generator = generator
        self.register_buffer("noise", None, persistent=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.training or self.p == 0.0:
            return x
        if self.p == 1.0:
            return torch.zeros_like(x)
        noise = self.noise
        if noise is None:
            noise = torch.rand(x.shape, generator=self.generator, device=x.device, dtype=torch.float32)
        return x * (noise >= self.p).to(x.dtype) * (1.0 / (1.0 - self.p))

    def extra_repr(self) -> str:
        return f"p={self.p}"


def use_fold_dropout(model: nn.Module, generator: torch.Generator | None) -> list[str]:
    """Replace every ``nn.Dropout`` in ``model`` by a ``FoldDropout`` drawing from ``generator``
    (in place; a module shared by several parents stays shared). Returns the replaced names.
    Other random layers (``Dropout2d``, drop-path, functional dropout) are left as they are."""
    replacements: dict[int, FoldDropout] = {}
    replaced = []
    for parent_name, parent in list(model.named_modules()):
        for child_name, child in list(parent.named_children()):
            if type(child) is nn.Dropout:
                if id(child) not in replacements:
                    replacements[id(child)] = FoldDropout(child.p, generator)
                setattr(parent, child_name, replacements[id(child)])
                replaced.append(f"{parent_name}.{child_name}" if parent_name else child_name)
    return replaced


def fold_normalisation(x: torch.Tensor, train: torch.Tensor,
                       scaling: str = "fold") -> tuple[torch.Tensor, torch.Tensor]:
    """(mean, std) per channel that the net's input is shifted by and divided by: for ``fold`` scaling, over
    the training samples of a fold only; ``none`` feeds the values as they are (0, 1); ``byte`` multiplies
    them by 255 (0, 1/255), as an 8-bit image read without scaling (``mebench.data.INPUT_SCALINGS``)."""
    if scaling in ("none", "byte"):
        shape = (x.shape[1], 1, 1)
        return (torch.zeros(shape, dtype=x.dtype, device=x.device),
                torch.full(shape, 1.0 if scaling == "none" else 1.0 / 255.0, dtype=x.dtype, device=x.device))
    if scaling != "fold":
        raise ConfigError(f"input scaling must be fold, none or byte, got {scaling!r}")
    train_x = x[train]
    mean = train_x.mean(dim=(0, 2, 3), keepdim=True)
    std = train_x.std(dim=(0, 2, 3), keepdim=True).clamp_min(1e-6)
    return mean.squeeze(0), std.squeeze(0)


def epoch_batches(n: int, batch_size: int, generator: torch.Generator) -> list[torch.Tensor]:
    """A shuffled epoch split into batches. A trailing batch of one sample is dropped because
    batch normalisation cannot train on it; every other sample is seen every epoch."""
    order = torch.randperm(n, generator=generator)
    batches = list(order.split(batch_size))
    if len(batches) > 1 and len(batches[-1]) == 1:
        batches.pop()
    return batches


def start_fold(build_model: Callable[[], torch.nn.Module], x: torch.Tensor, fold: Fold, settings: TrainSettings,
               channels_last: bool):
    """A fold's fresh model (seeded weights, its input scaling attached (``fold_normalisation``), train
    mode, its ``nn.Dropout`` layers drawing masks from the fold's own seeded generator), its training
    positions on the device, its Adam optimiser and its seeded batch-order generator."""
    seed = settings.fold_seed(fold.index)
    torch.manual_seed(seed)
    model = build_model().to(settings.device)
    dropout_generator = torch.Generator(device=settings.device).manual_seed(settings.dropout_seed(fold.index))
    use_fold_dropout(model, dropout_generator)
    if channels_last:
        model = model.to(memory_format=torch.channels_last)
    train = torch.as_tensor(fold.train, device=settings.device)
    mean, std = fold_normalisation(x, train, settings.input_scaling)
    model.register_buffer("input_mean", mean, persistent=False)
    model.register_buffer("input_std", std, persistent=False)
    model.train()
    return model, train, torch.optim.Adam(parameter_groups(model, settings.lr), lr=settings.lr), \
        torch.Generator().manual_seed(seed)


def parameter_groups(model: nn.Module, lr: float):
    """What the optimiser trains: ``model.parameter_groups(lr)`` where the model defines it (a fine-tuned
    backbone whose layers learn at another rate than its head), else every parameter at ``lr``."""
    groups = getattr(model, "parameter_groups", None)
    return groups(lr) if callable(groups) else model.parameters()


def train_fold(build_model: Callable[[], torch.nn.Module], x: torch.Tensor, y: torch.Tensor, fold: Fold,
               settings: TrainSettings, on_epoch: Callable[[int, float], None] | None = None,
               after_epoch: Callable[[int, torch.nn.Module], bool] | None = None) -> torch.nn.Module:
    """Train a fresh model on the fold's training samples; returns it with normalisation attached.

    ``on_epoch(epoch, mean_loss)`` is called after each epoch (0-based). A loss that is not
    finite stops the fold with ``NonFiniteLossError``. ``after_epoch(epoch, model)`` (a model
    selection rule) may look at the model after each epoch; returning True stops training."""
    device = settings.device
    model, train, optimizer, generator = start_fold(build_model, x, fold, settings, settings.channels_last)
    pos_weight = fold_pos_weight(y, train, settings)
    for epoch in range(settings.epochs):
        total, count = torch.zeros((), device=device), 0
        for batch in epoch_batches(len(train), settings.batch_size, generator):
            index = train[batch.to(device)]
            inputs = normalise(x[index], model, settings)
            with settings.autocast():
                loss = training_loss(model, inputs, y[index], settings.kind, pos_weight)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            total += loss.detach() * len(index)
            count += len(index)
        epoch_loss = float(total) / max(count, 1)  # the epoch's one host synchronisation
        check_epoch_loss(epoch_loss, fold, epoch, settings)
        if on_epoch is not None:
            on_epoch(epoch, epoch_loss)
        if after_epoch is not None and after_epoch(epoch, model):
            break
    return model


def normalise(inputs: torch.Tensor, model: torch.nn.Module, settings: TrainSettings) -> torch.Tensor:
    inputs = (inputs - model.input_mean) / model.input_std
    if settings.channels_last:
        inputs = inputs.contiguous(memory_format=torch.channels_last)
    return inputs


@torch.no_grad()
def predict(model: torch.nn.Module, x: torch.Tensor, index: np.ndarray, settings: TrainSettings) -> np.ndarray:
    """Class probabilities (len(index), n_classes) as float64 numpy, in eval mode."""
    model.eval()
    positions = torch.as_tensor(index, device=settings.device)
    outputs = []
    for batch in positions.split(max(settings.batch_size, 64)):
        with settings.autocast():
            logits = model(normalise(x[batch], model, settings))
        outputs.append(settings.kind.probabilities(logits).cpu())
    return torch.cat(outputs).double().numpy()
