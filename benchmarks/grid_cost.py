"""What a grid of LOSO runs costs: per-fold training time of each paper net, measured, and the
arithmetic for the paper grid (the ten nets × the four MEGC2019 tasks × five seeds).

For every net, at its own input size and on the composite's size (442 samples, one fold of 435
training samples, batch 32), it times one epoch of one fold trained alone and, on CUDA, one epoch
of K folds trained at once (fold batching, K from free memory as ``--fold-batch auto`` does);
the first epoch is a warm-up and is not counted. From those per-fold epoch costs it projects the
grid: 50 epochs per fold, each task's fold count (combined 68, CASME II 24, SAMM 28, SMIC-HS 16)
with the fold's training size scaled to the task, on one device, on one device with fold batching,
and on 8 such devices fed by Ray (fold tasks are independent: ideal packing, no stragglers assumed).
"""

from __future__ import annotations

import argparse

import torch

from mebench.data import MEGC2019_CLASSES
from mebench.folds import Fold
from mebench.hardware import bf16_supported, device_name, resolve_device
from mebench.registry import default_registry
from mebench.timing import Stopwatch
from mebench.run.fold_batching import fold_batch_size, train_folds_batched
from mebench.run.training import TrainSettings, train_fold

PAPER_NETS = ["base", "dspp", "wspp", "daspp", "waspp", "vgg-m", "alexnet", "ststnet", "offapexnet", "dual-inception"]
#: (task, LOSO folds, samples) of the MEGC2019 tasks.
TASKS = [("combined", 68, 442), ("casme2", 24, 145), ("samm", 28, 133), ("smic", 16, 164)]


def time_epochs(train, epochs: int) -> float:
    """Seconds per epoch after the first (warm-up) epoch."""
    train(1)
    with Stopwatch(DEVICE) as watch:
        train(epochs)
    return watch.seconds / epochs


def main() -> None:
    global DEVICE
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--models", default=",".join(PAPER_NETS))
    parser.add_argument("--device", default="auto")
    parser.add_argument("--epochs", type=int, default=1, help="timed epochs per measurement (after one warm-up)")
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--max-fold-batch", type=int, default=68)
    args = parser.parse_args()
    DEVICE = device = resolve_device(args.device)
    bf16 = bf16_supported(device)
    registry = default_registry()
    settings = TrainSettings(epochs=1, batch_size=32, lr=1e-4, seed=0, device=device, bf16=bf16,
                             channels_last=bf16 or device.type == "cuda")
    print(f"device: {device_name(device)}, torch {torch.__version__}, {'bf16' if bf16 else 'fp32'}")
    print(f"{'model':<16}{'input':<14}{'s/fold-epoch':>14}{'K':>5}{'batched s/fold-epoch':>22}{'ratio':>8}")
    costs = {}
    for name in args.models.split(","):
        spec = registry.models.get(name)
        shape = (spec.input_spec.channels, spec.input_spec.height, spec.input_spec.width)
        x = torch.randn(442, *shape, device=device)
        y = torch.randint(0, 3, (442,), device=device)
        folds = [Fold(k, f"s{k}", torch.arange(442).roll(7 * k)[:435].numpy(), torch.arange(442).roll(7 * k)[435:].numpy())
                 for k in range(args.max_fold_batch)]
        build = lambda: spec.build(len(MEGC2019_CLASSES))  # noqa: E731
        alone = time_epochs(lambda e: train_fold(build, x, y, folds[0], TrainSettings(**{**settings.__dict__, "epochs": e})),
                            args.epochs)
        k, batched = 1, alone
        if device.type == "cuda":
            plain = TrainSettings(**{**settings.__dict__, "channels_last": False})
            k = fold_batch_size(build, x, y, folds[0], plain, args.max_fold_batch)
            while k > 1:  # the runner halves the group on out-of-memory; so does this measurement
                try:
                    group = folds[:k]
                    batched = time_epochs(lambda e: train_folds_batched(
                        build, x, y, group, TrainSettings(**{**plain.__dict__, "epochs": e})), args.epochs) / k
                    break
                except torch.cuda.OutOfMemoryError:
                    k //= 2
                    torch.cuda.empty_cache()
        costs[name] = (alone, min(alone, batched))
        print(f"{name:<16}{'x'.join(map(str, shape)):<14}{alone:>14.3f}{k:>5}{batched:>22.3f}{alone / batched:>7.1f}x",
              flush=True)
        if device.type == "cuda":
            torch.cuda.empty_cache()

    fold_epochs = {name: sum(folds * (samples / 442) for _, folds, samples in TASKS) for name in costs}
    runs = len(costs) * len(TASKS) * args.seeds
    fold_trainings = sum(f for _, f, _ in TASKS) * len(costs) * args.seeds
    sequential = sum(costs[n][0] * fold_epochs[n] * 50 * args.seeds for n in costs)
    batched = sum(costs[n][1] * fold_epochs[n] * 50 * args.seeds for n in costs)
    hours = lambda s: f"{s / 3600:.1f} h"  # noqa: E731
    print(f"\npaper grid: {len(costs)} nets × {len(TASKS)} tasks × {args.seeds} seeds = {runs} runs, "
          f"{fold_trainings:,} fold trainings of 50 epochs")
    print(f"  one device, folds one at a time:   {hours(sequential)}")
    print(f"  one device, fold-batched:          {hours(batched)}")
    print(f"  8 devices via Ray, fold-batched:   {hours(batched / 8)}")


DEVICE = torch.device("cpu")

if __name__ == "__main__":
    main()
