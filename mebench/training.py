"""Training and prediction for one fold, with the whole dataset resident on the device.

No DataLoader: batches are index slices of a tensor already on the device. Protocol defaults
follow the paper (Adam, lr 1e-4, batch 32) with a fixed epoch budget: the test fold is never
used to choose a model.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from typing import Callable, ContextManager

import numpy as np
import torch
import torch.nn.functional as F

from mebench.folds import Fold


@dataclass(frozen=True)
class TrainSettings:
    epochs: int
    batch_size: int = 32
    lr: float = 1e-4
    seed: int = 0
    device: torch.device = torch.device("cpu")
    bf16: bool = False
    channels_last: bool = False

    def autocast(self) -> ContextManager:
        if not self.bf16:
            return contextlib.nullcontext()
        return torch.autocast(self.device.type, dtype=torch.bfloat16)

    def fold_seed(self, fold_index: int) -> int:
        return self.seed * 100_003 + fold_index


def resolve_device(requested: str) -> torch.device:
    if requested == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if requested.startswith("cuda") and not torch.cuda.is_available():
        raise RuntimeError("--device cuda was requested but PyTorch sees no CUDA device; use --device cpu or auto")
    if requested != "cpu" and not requested.startswith("cuda"):
        raise ValueError(f"device must be auto, cpu or cuda[:N], got {requested!r}")
    return torch.device(requested)


def bf16_supported(device: torch.device) -> bool:
    if device.type == "cuda":
        return torch.cuda.is_bf16_supported()
    return bool(torch.backends.mkldnn.is_available() and torch.ops.mkldnn._is_mkldnn_bf16_supported())


def fold_normalisation(x: torch.Tensor, train: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-channel mean and std over the training samples of a fold only."""
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


def train_fold(build_model: Callable[[], torch.nn.Module], x: torch.Tensor, y: torch.Tensor, fold: Fold,
               settings: TrainSettings, on_epoch: Callable[[int, float], None] | None = None) -> torch.nn.Module:
    """Train a fresh model on the fold's training samples; returns it with normalisation attached."""
    device = settings.device
    seed = settings.fold_seed(fold.index)
    torch.manual_seed(seed)
    model = build_model().to(device)
    if settings.channels_last:
        model = model.to(memory_format=torch.channels_last)
    train = torch.as_tensor(fold.train, device=device)
    mean, std = fold_normalisation(x, train)
    model.register_buffer("input_mean", mean, persistent=False)
    model.register_buffer("input_std", std, persistent=False)
    optimizer = torch.optim.Adam(model.parameters(), lr=settings.lr)
    generator = torch.Generator().manual_seed(seed)
    model.train()
    for epoch in range(settings.epochs):
        total, count = torch.zeros((), device=device), 0
        for batch in epoch_batches(len(train), settings.batch_size, generator):
            index = train[batch.to(device)]
            inputs = normalise(x[index], model, settings)
            with settings.autocast():
                loss = F.cross_entropy(model(inputs), y[index])
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            total += loss.detach() * len(index)
            count += len(index)
        if on_epoch is not None:
            on_epoch(epoch, float(total) / max(count, 1))
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
        outputs.append(torch.softmax(logits.float(), dim=1).cpu())
    return torch.cat(outputs).double().numpy()
