"""Several folds trained at once, giving the models sequential training gives.

The 68 folds of a LOSO run are independent small models; on a GPU, training many of them in one
vectorised call fills the device (``torch.func.vmap`` over stacked parameters). Exactness needs every
random number of a fold's training to come from that fold's own generator: ``nn.Dropout`` layers do
(``mebench.run.training.FoldDropout`` pre-draws their masks); a model with other randomness is trained
fold after fold instead. ``fold_batch_size`` sizes a group from the measured memory of one fold.
"""

from __future__ import annotations

import copy
import warnings
from collections import defaultdict
from dataclasses import replace
from typing import Callable

import torch
from torch import nn

from mebench.folds import Fold
from mebench.run.training import (FoldDropout, TrainSettings, check_epoch_loss, epoch_batches, fold_pos_weight, start_fold,
                              train_fold, use_fold_dropout)


def _dropout_calls(template: nn.Module, sample_shape: torch.Size) -> list[tuple[str, torch.Size]] | str:
    """The ``FoldDropout`` layers of a (meta-device) model in the order one training forward pass
    calls them, each with the shape of one sample's input to it; or why masks cannot be pre-drawn."""
    dropouts = {id(module): name for name, module in template.named_modules() if isinstance(module, FoldDropout)}
    calls: dict[int, list[tuple[str, torch.Size]]] = {}
    for batch in (2, 3):  # two batch sizes tell the batch dimension from the feature dimensions
        seen: list[tuple[str, torch.Size]] = []
        hooks = [module.register_forward_pre_hook(lambda module, args: seen.append((dropouts[id(module)],
                                                                                     args[0].shape)))
                 for module in template.modules() if id(module) in dropouts]
        try:
            template.train()(torch.empty((batch, *sample_shape), device="meta"))
        finally:
            for hook in hooks:
                hook.remove()
        calls[batch] = seen
    names = [name for name, _ in calls[2]]
    if len(set(names)) != len(names):
        return f"dropout layer {names[0]!r} is called more than once per forward pass"
    for (name, small), (other, large) in zip(calls[2], calls[3]):
        if other != name or small[0] != 2 or large[0] != 3 or small[1:] != large[1:]:
            return f"the input of dropout layer {name!r} does not have the batch as its first dimension"
    return [(name, shape[1:]) for name, shape in calls[2]]


def fold_batching_obstacle(build_model: Callable[[], torch.nn.Module], x: torch.Tensor) -> str | None:
    """Why ``train_folds_batched`` cannot give exactly the models sequential training gives for
    this model (one short clause), or None when it can.

    Exactness needs every random number drawn in training to come from the fold's own
    generator: ``nn.Dropout`` layers do (pre-drawn masks); any other random operation in the
    forward pass (``Dropout2d``, drop-path, functional dropout) is an obstacle."""
    from torch.func import functional_call, vmap

    template = build_model().to("meta")
    use_fold_dropout(template, None)
    calls = _dropout_calls(template, x.shape[1:])
    if isinstance(calls, str):
        return calls
    folds, batch = 2, 2
    stack = lambda tensor: torch.empty((folds, *tensor.shape), dtype=tensor.dtype, device="meta")  # noqa: E731
    params = {n: stack(p) for n, p in template.named_parameters()}
    buffers = {n: stack(b) for n, b in template.named_buffers()}
    noise = {f"{name}.noise": torch.empty((folds, batch, *shape), device="meta") for name, shape in calls}

    def fold_logits(p, b, inputs):
        return functional_call(template, (p, b), (inputs,))

    try:
        vmap(fold_logits, randomness="error")(params, {**buffers, **noise},
                                               torch.empty((folds, batch, *x.shape[1:]), device="meta"))
    except RuntimeError as error:
        if "random" in str(error):
            return "the model draws random numbers outside nn.Dropout layers (e.g. Dropout2d or drop-path)"
        raise
    if hasattr(template, "forward_with_auxiliary_loss"):  # batched steps train on the task loss alone
        return "the model adds its own term to the training loss"
    return None


def train_folds_batched(build_model: Callable[[], torch.nn.Module], x: torch.Tensor, y: torch.Tensor,
                        folds: list[Fold], settings: TrainSettings,
                        on_epoch: Callable[[int, float], None] | None = None, *,
                        on_fold_epoch: Callable[[Fold, int, float], None] | None = None,
                        log: Callable[[str], None] | None = None) -> list[torch.nn.Module]:
    """Train several folds' models at once; gives the models ``train_fold`` gives for each.

    Every fold keeps its own parameters, Adam state, seed, batch order and dropout masks, exactly
    as in sequential training (see ``BatchedFolds``), so the result matches sequential training up
    to floating-point reordering.

    A model that draws random numbers any other way (see ``fold_batching_obstacle``) is trained
    fold after fold with ``train_fold`` instead, after one ``log`` line saying why (default:
    a ``UserWarning``). ``on_epoch(epoch, loss)`` gets the mean loss over all the folds;
    ``on_fold_epoch(fold, epoch, loss)`` each fold's own. A fold whose loss is not finite stops
    training with ``NonFiniteLossError``.
    """
    obstacle = fold_batching_obstacle(build_model, x)
    if obstacle is not None:
        message = (f"fold-batched training would not match sequential training ({obstacle}); "
                   f"training these {len(folds)} folds one after another")
        log(message) if log is not None else warnings.warn(message, stacklevel=2)
        return [train_fold(build_model, x, y, fold, settings,
                           (lambda epoch, loss, fold=fold: on_fold_epoch(fold, epoch, loss)) if on_fold_epoch else None)
                for fold in folds]
    group = BatchedFolds(build_model, x, y, folds, settings)
    for epoch in range(settings.epochs):
        fold_losses, mean_loss = group.train_epoch()
        for fold, loss in zip(folds, fold_losses):
            check_epoch_loss(loss, fold, epoch, settings)
            if on_fold_epoch is not None:
                on_fold_epoch(fold, epoch, loss)
        if on_epoch is not None:
            on_epoch(epoch, mean_loss)
    return group.models


class BatchedFolds:
    """Several folds' models trained in lockstep, one vectorised call per step.

    At each step the folds whose current batch has the same size run as one call
    (``torch.func.vmap`` over ``functional_call`` with stacked parameters and buffers), so small
    per-fold models fill the device together. Batch normalisation sees exactly the fold's own batch
    (no padding), and each fold's dropout masks are drawn from its own generator in the order
    sequential training draws them. Needs a model without other randomness (``fold_batching_obstacle``).
    """

    def __init__(self, build_model: Callable[[], torch.nn.Module], x: torch.Tensor, y: torch.Tensor,
                 folds: list[Fold], settings: TrainSettings):
        from torch.func import functional_call, vmap

        self.x, self.y, self.folds, self.settings = x, y, folds, settings
        started = [start_fold(build_model, x, fold, settings, channels_last=False) for fold in folds]
        self.models = [model for model, _, _, _ in started]
        self.trains = [train for _, train, _, _ in started]
        self.optimizers = [optimizer for _, _, optimizer, _ in started]
        self.generators = [generator for _, _, _, generator in started]
        self.dropout_generators = [next((m.generator for m in model.modules() if isinstance(m, FoldDropout)), None)
                                   for model in self.models]
        template = copy.deepcopy(self.models[0]).to("meta")
        use_fold_dropout(template, None)
        if settings.bf16:
            # Under vmap, batch norm's batching rule does not take bf16 activations with fp32 running
            # statistics (CUDA: "Expected running_mean to have type BFloat16"); normalise in fp32.
            for module in template.modules():
                if isinstance(module, nn.modules.batchnorm._BatchNorm):
                    module.register_forward_pre_hook(lambda _module, args: (args[0].float(), *args[1:]))
        calls = _dropout_calls(template, x.shape[1:])
        assert not isinstance(calls, str), calls  # ruled out by fold_batching_obstacle
        self.dropout_calls = calls
        self.params = [dict(m.named_parameters()) for m in self.models]
        self.buffers = [{n: b for n, b in m.named_buffers() if n not in ("input_mean", "input_std")}
                        for m in self.models]

        def fold_loss(p, b, inputs, targets, pos_weight):
            return settings.kind.loss(functional_call(template, (p, b), (inputs,)), targets, pos_weight)

        # "error": every random number must come from the pre-drawn per-fold noise, never from vmap
        self.batched_loss = vmap(fold_loss, randomness="error")
        weights = [fold_pos_weight(y, train, settings) for train in self.trains]
        self.pos_weights = (torch.stack(weights) if weights[0] is not None
                            else torch.ones(len(folds), *y.shape[1:], device=settings.device))

    def train_epoch(self) -> tuple[list[float], float]:
        """One epoch of every fold: (each fold's mean loss, the mean over all their samples)."""
        device = self.settings.device
        schedules = [epoch_batches(len(t), self.settings.batch_size, g) for t, g in zip(self.trains, self.generators)]
        totals = torch.zeros(len(self.folds), device=device)
        counts = [0] * len(self.folds)
        for step in range(max(len(s) for s in schedules)):
            groups: dict[int, list[int]] = defaultdict(list)
            for k, schedule in enumerate(schedules):
                if step < len(schedule):
                    groups[len(schedule[step])].append(k)
            for size, members in groups.items():
                losses = self.step(members, [schedules[k][step] for k in members])
                for j, k in enumerate(members):
                    totals[k] += losses[j].detach().float() * size
                    counts[k] += size
        fold_losses = (totals / torch.tensor(counts, device=device).clamp_min(1)).tolist()  # one sync per epoch
        return fold_losses, float(totals.sum()) / max(sum(counts), 1)

    def step(self, members: list[int], batches: list[torch.Tensor]) -> torch.Tensor:
        """One optimiser step of the folds ``members`` on their batches (all of one size); their losses."""
        device, size = self.settings.device, len(batches[0])
        index = torch.stack([self.trains[k][batch.to(device)] for k, batch in zip(members, batches)])
        mean = torch.stack([self.models[k].input_mean for k in members]).unsqueeze(1)
        std = torch.stack([self.models[k].input_std for k in members]).unsqueeze(1)
        inputs = (self.x[index] - mean) / std
        params = {n: torch.stack([self.params[k][n] for k in members]) for n in self.params[0]}
        buffers = {n: torch.stack([self.buffers[k][n] for k in members]) for n in self.buffers[0]}
        # Each fold draws its masks from its own generator, layer by layer in call order:
        # the draws FoldDropout makes inside the forward pass in sequential training.
        for name, shape in self.dropout_calls:
            buffers[f"{name}.noise"] = torch.stack([
                torch.rand((size, *shape), generator=self.dropout_generators[k], device=device, dtype=torch.float32)
                for k in members])
        with self.settings.autocast():
            losses = self.batched_loss(params, buffers, inputs, self.y[index], self.pos_weights[members])
        for k in members:
            self.optimizers[k].zero_grad(set_to_none=True)
        losses.sum().backward()
        with torch.no_grad():
            for j, k in enumerate(members):
                self.optimizers[k].step()
                for n, buffer in self.buffers[k].items():
                    buffer.copy_(buffers[n][j])
        return losses


def fold_peak_memory(build_model: Callable[[], torch.nn.Module], x: torch.Tensor, y: torch.Tensor, fold: Fold,
                     settings: TrainSettings) -> int:
    """Peak CUDA memory (bytes) of one fold's training, measured on two batches of the fold."""
    device = settings.device
    torch.cuda.synchronize(device)
    before = torch.cuda.memory_allocated(device)
    torch.cuda.reset_peak_memory_stats(device)
    probe = TrainSettings(**{**settings.__dict__, "epochs": 1})
    train_fold(build_model, x, y, replace(fold, train=fold.train[: settings.batch_size * 2]), probe)
    peak = max(torch.cuda.max_memory_allocated(device) - before, 1)
    torch.cuda.empty_cache()
    return peak


def fold_batch_size(build_model: Callable[[], torch.nn.Module], x: torch.Tensor, y: torch.Tensor, fold: Fold,
                    settings: TrainSettings, n_folds: int, memory_fraction: float = 0.6) -> int:
    """How many folds to train at once on a CUDA device: the free memory over the peak memory
    of one fold's training step (measured), capped at the number of folds."""
    if settings.device.type != "cuda":
        return 1
    free, _total = torch.cuda.mem_get_info(settings.device)
    per_fold = fold_peak_memory(build_model, x, y, fold, settings)
    return max(1, min(n_folds, int(free * memory_fraction // per_fold)))
