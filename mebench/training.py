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


def start_fold(build_model: Callable[[], torch.nn.Module], x: torch.Tensor, fold: Fold, settings: TrainSettings,
               channels_last: bool):
    """A fold's fresh model (seeded weights, training-fold normalisation attached, train mode), its
    training positions on the device, its Adam optimiser and its seeded batch-order generator."""
    seed = settings.fold_seed(fold.index)
    torch.manual_seed(seed)
    model = build_model().to(settings.device)
    if channels_last:
        model = model.to(memory_format=torch.channels_last)
    train = torch.as_tensor(fold.train, device=settings.device)
    mean, std = fold_normalisation(x, train)
    model.register_buffer("input_mean", mean, persistent=False)
    model.register_buffer("input_std", std, persistent=False)
    model.train()
    return model, train, torch.optim.Adam(model.parameters(), lr=settings.lr), torch.Generator().manual_seed(seed)


def train_fold(build_model: Callable[[], torch.nn.Module], x: torch.Tensor, y: torch.Tensor, fold: Fold,
               settings: TrainSettings, on_epoch: Callable[[int, float], None] | None = None) -> torch.nn.Module:
    """Train a fresh model on the fold's training samples; returns it with normalisation attached."""
    device = settings.device
    model, train, optimizer, generator = start_fold(build_model, x, fold, settings, settings.channels_last)
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


def train_folds_batched(build_model: Callable[[], torch.nn.Module], x: torch.Tensor, y: torch.Tensor,
                        folds: list[Fold], settings: TrainSettings,
                        on_epoch: Callable[[int, float], None] | None = None) -> list[torch.nn.Module]:
    """Train several folds' models at once; equivalent to calling ``train_fold`` on each.

    Every fold keeps its own parameters, Adam state, seed and batch order, exactly as in
    sequential training. At each step the folds whose current batch has the same size are run
    as one vectorised call (``torch.func.vmap`` over ``functional_call`` with stacked
    parameters and buffers), so small per-fold models fill the device together. Batch
    normalisation sees exactly the fold's own batch (no padding), so the result matches
    sequential training up to floating-point reordering. Dropout masks are drawn per fold but
    not from the same random stream as in sequential training.
    """
    import copy
    from collections import defaultdict

    from torch.func import functional_call, vmap

    device = settings.device
    models, optimizers, generators, trains = [], [], [], []
    for fold in folds:
        model, train, optimizer, generator = start_fold(build_model, x, fold, settings, channels_last=False)
        models.append(model)
        optimizers.append(optimizer)
        generators.append(generator)
        trains.append(train)
    template = copy.deepcopy(models[0]).to("meta")
    params = [dict(m.named_parameters()) for m in models]
    buffers = [{n: b for n, b in m.named_buffers() if n not in ("input_mean", "input_std")} for m in models]

    def fold_loss(p, b, inputs, targets):
        return F.cross_entropy(functional_call(template, (p, b), (inputs,)), targets)

    batched_loss = vmap(fold_loss, randomness="different")
    for epoch in range(settings.epochs):
        schedules = [epoch_batches(len(t), settings.batch_size, g) for t, g in zip(trains, generators)]
        totals = torch.zeros(len(folds), device=device)
        counts = [0] * len(folds)
        for step in range(max(len(s) for s in schedules)):
            groups: dict[int, list[int]] = defaultdict(list)
            for k, schedule in enumerate(schedules):
                if step < len(schedule):
                    groups[len(schedule[step])].append(k)
            for members in groups.values():
                index = torch.stack([trains[k][schedules[k][step].to(device)] for k in members])
                mean = torch.stack([models[k].input_mean for k in members]).unsqueeze(1)
                std = torch.stack([models[k].input_std for k in members]).unsqueeze(1)
                inputs = (x[index] - mean) / std
                stacked_params = {n: torch.stack([params[k][n] for k in members]) for n in params[0]}
                stacked_buffers = {n: torch.stack([buffers[k][n] for k in members]) for n in buffers[0]}
                with settings.autocast():
                    losses = batched_loss(stacked_params, stacked_buffers, inputs, y[index])
                for k in members:
                    optimizers[k].zero_grad(set_to_none=True)
                losses.sum().backward()
                with torch.no_grad():
                    for j, k in enumerate(members):
                        optimizers[k].step()
                        for n, buffer in buffers[k].items():
                            buffer.copy_(stacked_buffers[n][j])
                        totals[k] += losses[j].detach().float() * index.shape[1]
                        counts[k] += index.shape[1]
        if on_epoch is not None:
            on_epoch(epoch, float(totals.sum()) / max(sum(counts), 1))
    return models


def fold_batch_size(build_model: Callable[[], torch.nn.Module], x: torch.Tensor, y: torch.Tensor, fold: Fold,
                    settings: TrainSettings, n_folds: int, memory_fraction: float = 0.6) -> int:
    """How many folds to train at once on a CUDA device: the free memory over the peak memory
    of one fold's training step (measured), capped at the number of folds."""
    device = settings.device
    if device.type != "cuda":
        return 1
    torch.cuda.synchronize(device)
    free, _total = torch.cuda.mem_get_info(device)
    before = torch.cuda.memory_allocated(device)
    torch.cuda.reset_peak_memory_stats(device)
    probe = TrainSettings(**{**settings.__dict__, "epochs": 1})
    train_fold(build_model, x, y, Fold(fold.index, fold.test_subject, fold.train[: settings.batch_size * 2], fold.test),
               probe)
    per_fold = max(torch.cuda.max_memory_allocated(device) - before, 1)
    torch.cuda.empty_cache()
    return max(1, min(n_folds, int(free * memory_fraction // per_fold)))
