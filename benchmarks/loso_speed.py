"""LOSO training speed: a naive per-fold PyTorch loop against mebench's runner, side by side.

One process, one invocation, the same model, data size and epoch budget for every variant:

  naive            DataLoader over a CPU TensorDataset, fp32, host→device copy per batch, one fold after another
  resident-fp32    mebench: whole dataset on the device, index batches, fp32
  resident-bf16    + bf16 autocast
  resident-bf16-cl + channels-last (mebench's CPU default)
  fold-batched     + K folds trained at once with vmap (CUDA only; K from free memory)
  compiled         + torch.compile (with --compile)

It prints wall time, folds/s, samples/s and achieved TFLOP/s per variant, each variant's ratio to
the naive loop, and finally ``speedup: <ratio>x`` for mebench's default on this device.
The default size is the MEGC2019 composite (442 samples, 68 subjects, 3×75×75, WASPP);
``--quick`` is a small configuration that finishes in under a minute on 2 CPU cores.
With ``--parity`` it also runs the synthetic dataset in fp32 and in bf16 and prints UF1/UAR of each.
"""

from __future__ import annotations

import argparse
import dataclasses
import platform

import numpy as np
import torch
import torch.nn.functional as F
from torch.utils.data import DataLoader, TensorDataset

from mebench.data import MEGC2019_CLASSES as CLASSES
from mebench.data import InputSpec
from mebench.folds import loso_folds
from mebench.run.model_card import count_macs
from mebench.registry import default_registry
from mebench.timing import Stopwatch
from mebench.run.fold_batching import fold_batch_size, train_folds_batched
from mebench.hardware import bf16_supported, resolve_device
from mebench.run.training import TrainSettings, train_fold


def naive_loso(build, x_cpu, y_cpu, folds, epochs, batch_size, lr, device, seed):
    """What a typical MER repository does: a DataLoader per fold, fp32, batches copied to the device."""
    for fold in folds:
        torch.manual_seed(seed + fold.index)
        model = build().to(device)
        optimizer = torch.optim.Adam(model.parameters(), lr=lr)
        train = torch.as_tensor(fold.train)
        loader = DataLoader(TensorDataset(x_cpu[train], y_cpu[train]), batch_size=batch_size, shuffle=True,
                            drop_last=len(train) % batch_size == 1)
        model.train()
        for _ in range(epochs):
            for inputs, targets in loader:
                inputs, targets = inputs.to(device), targets.to(device)
                loss = F.cross_entropy(model(inputs), targets)
                optimizer.zero_grad()
                loss.backward()
                optimizer.step()


def mebench_loso(build, x, y, folds, settings, group_size=1):
    for start in range(0, len(folds), group_size):
        group = folds[start:start + group_size]
        if len(group) == 1:
            train_fold(build, x, y, group[0], settings)
        else:
            train_folds_batched(build, x, y, group, settings)


def parity(model: str, seeds: list[int], preset: str) -> None:
    """UF1/UAR of fp32 and bf16 training on the synthetic dataset, per seed."""
    import tempfile

    from mebench.run.plan import RunConfig
    from mebench.run.runner import run

    print(f"\nprecision parity: {model} on synthetic ({preset} preset), seeds {seeds}")
    rows = {}
    with tempfile.TemporaryDirectory() as out:
        for precision in ("fp32", "bf16"):
            for seed in seeds:
                outcome = run(RunConfig(model=model, dataset="synthetic", seed=seed, precision=precision,
                                        channels_last="auto", dataset_options={"preset": preset}),
                              output_dir=out, progress=False, log=lambda _: None)
                pooled = outcome.record.metrics.pooled
                rows.setdefault(precision, []).append((pooled.uf1, pooled.uar))
                print(f"  {precision} seed {seed}: UF1 {pooled.uf1:.4f}  UAR {pooled.uar:.4f}  "
                      f"({sum(outcome.record.timing.train_seconds_per_fold):.0f} s training)")
    for precision, values in rows.items():
        values = np.asarray(values)
        print(f"  {precision}: UF1 {values[:, 0].mean():.4f} ± {values[:, 0].std():.4f}   "
              f"UAR {values[:, 1].mean():.4f} ± {values[:, 1].std():.4f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="small configuration (< 1 minute on 2 CPU cores)")
    parser.add_argument("--model", default="waspp")
    parser.add_argument("--samples", type=int, default=442)
    parser.add_argument("--subjects", type=int, default=68)
    parser.add_argument("--size", type=int, default=75, help="input height and width")
    parser.add_argument("--epochs", type=int, default=None, help="epochs per fold (default 50; quick 1)")
    parser.add_argument("--folds", type=int, default=None, help="time only the first N folds (all by default)")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--device", default="auto")
    parser.add_argument("--fold-batch", type=int, default=None, help="folds at once for fold-batched (default: auto)")
    parser.add_argument("--compile", action="store_true", help="also time a torch.compile variant")
    parser.add_argument("--skip-naive", action="store_true", help="skip the naive loop (no speedup line)")
    parser.add_argument("--peak-tflops", type=float, default=None, help="device peak, to print utilisation")
    parser.add_argument("--parity", action="store_true", help="also compare fp32 and bf16 UF1/UAR on synthetic")
    parser.add_argument("--parity-model", default="base")
    parser.add_argument("--parity-seeds", default="0,1")
    args = parser.parse_args()
    if args.quick:
        args.samples, args.subjects, args.size = 48, 3, 40
        args.epochs = args.epochs or 1
    epochs = args.epochs or 50
    device = resolve_device(args.device)
    torch.manual_seed(0)
    spec = default_registry().models.get(args.model)
    input_spec = InputSpec(spec.input_spec.channels, args.size, args.size)
    sized = dataclasses.replace(spec, input_spec=input_spec)  # the model at the benchmark's input size
    build = lambda: sized.build(len(CLASSES))  # noqa: E731
    x_cpu = torch.randn(args.samples, input_spec.channels, args.size, args.size)
    y_cpu = torch.randint(0, len(CLASSES), (args.samples,))
    subjects = [f"s/{i % args.subjects:03d}" for i in range(args.samples)]
    folds = loso_folds(subjects)[: args.folds or None]
    train_samples = sum(len(f.train) for f in folds) * epochs
    flops_per_sample = 6 * count_macs(build(), sized)  # fwd + bwd ≈ 3× fwd, 2 FLOP/MAC
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else f"cpu {platform.processor() or platform.machine()}"
    print(f"device: {name}, torch {torch.__version__}, {torch.get_num_threads()} threads")
    print(f"model {args.model} at {input_spec}, {args.samples} samples, {len(folds)} folds timed "
          f"(of {args.subjects}), {epochs} epochs, batch {args.batch_size}, "
          f"{flops_per_sample / 6e9:.2f} GMAC/sample forward")

    x, y = x_cpu.to(device), y_cpu.to(device)
    bf16 = bf16_supported(device)
    base = dict(epochs=epochs, batch_size=args.batch_size, lr=1e-4, seed=0, device=device)
    variants: list[tuple[str, callable]] = []
    if not args.skip_naive:
        variants.append(("naive", lambda: naive_loso(build, x_cpu, y_cpu, folds, epochs, args.batch_size, 1e-4,
                                                     device, 0)))
    variants.append(("resident-fp32", lambda: mebench_loso(build, x, y, folds, TrainSettings(**base))))
    default = "resident-fp32"
    if bf16:
        variants.append(("resident-bf16", lambda: mebench_loso(build, x, y, folds, TrainSettings(**base, bf16=True))))
        variants.append(("resident-bf16-cl", lambda: mebench_loso(
            build, x, y, folds, TrainSettings(**base, bf16=True, channels_last=True))))
        default = "resident-bf16-cl"
    if device.type == "cuda":
        settings = TrainSettings(**base, bf16=bf16)
        k = args.fold_batch or fold_batch_size(build, x, y, folds[0], settings, len(folds))
        variants.append((f"fold-batched(K={k})", lambda: mebench_loso(build, x, y, folds, settings, group_size=k)))
        from mebench.run.execute import FOLD_BATCH_MAX_MACS

        if flops_per_sample / 6 < FOLD_BATCH_MAX_MACS:  # what --fold-batch auto picks
            default = variants[-1][0]
    if args.compile:
        compiled = lambda: torch.compile(build())  # noqa: E731
        variants.append(("compiled", lambda: mebench_loso(compiled, x, y, folds, TrainSettings(
            **base, bf16=bf16, channels_last=bf16 or device.type == "cuda"))))

    results = {}
    print(f"\n{'variant':<22}{'wall s':>10}{'folds/s':>10}{'samples/s':>12}{'TFLOP/s':>10}{'vs naive':>10}")
    for label, run in variants:
        if device.type == "cuda":
            torch.cuda.empty_cache()
        with Stopwatch(device) as watch:
            run()
        results[label] = watch.seconds
        ratio = f"{results['naive'] / watch.seconds:.2f}x" if "naive" in results else "-"
        tflops = train_samples * flops_per_sample / watch.seconds / 1e12
        util = f" ({100 * tflops / args.peak_tflops:.1f}% of peak)" if args.peak_tflops else ""
        print(f"{label:<22}{watch.seconds:>10.2f}{len(folds) / watch.seconds:>10.3f}"
              f"{train_samples / watch.seconds:>12.1f}{tflops:>10.3f}{ratio:>10}{util}", flush=True)
    if args.folds and args.folds < args.subjects:
        scale = args.subjects / len(folds)
        print(f"\nprojected full {args.subjects}-fold wall time for {default}: {results[default] * scale:.0f} s")
    if "naive" in results:
        print(f"\nmebench default on this device: {default}")
        print(f"speedup: {results['naive'] / results[default]:.2f}x")
    if args.parity:
        parity(args.parity_model, [int(s) for s in args.parity_seeds.split(",")], "quick")


if __name__ == "__main__":
    main()
