"""Training faults, fold-seeded dropout, and the hardware description recorded with timings."""

from __future__ import annotations

import dataclasses

import pytest
import torch

from mebench.folds import loso_folds
from mebench.hardware import describe_cpu, describe_device, device_label
from mebench.errors import NonFiniteLossError
from mebench.run.fold_batching import train_folds_batched
from mebench.run.training import FoldDropout, TrainSettings, train_fold, use_fold_dropout
from tests.conftest import TINY_INPUT, TinyNet


def _diverging_problem():
    subjects = ["d/a"] * 6 + ["d/b"] * 6 + ["d/c"] * 6
    x = torch.randn(len(subjects), TINY_INPUT.channels, TINY_INPUT.height, TINY_INPUT.width)
    x[0, 0, 0, 0] = float("nan")  # a training sample of folds 1 and 2 (its subject "d/a" is fold 0's test)
    return x, torch.randint(0, 3, (len(subjects),)), loso_folds(subjects)


def test_a_non_finite_loss_stops_the_fold_naming_fold_epoch_and_fix():
    x, y, folds = _diverging_problem()
    build = lambda: TinyNet(3, TINY_INPUT)  # noqa: E731
    settings = TrainSettings(epochs=2, batch_size=4, lr=1e-3)
    train_fold(build, x, y, folds[0], settings)  # its training side is clean
    with pytest.raises(NonFiniteLossError, match=r"^fold 1 \(test d/b\): the training loss became nan in epoch 1 of "
                                                 r"2; lower the learning rate \(--lr, now 0.001\)$"):
        train_fold(build, x, y, folds[1], settings)
    bf16 = dataclasses.replace(settings, bf16=True, epochs=1)
    with pytest.raises(NonFiniteLossError, match=r"fold 1 \(test d/b\).*epoch 1 .*--precision fp32.* or .*--lr"):
        train_folds_batched(build, x, y, folds[:2], bf16)  # fold-batched: names the fold that diverged


def test_fold_dropout_behaves_like_dropout_with_its_own_generator():
    layer = FoldDropout(0.25, torch.Generator().manual_seed(3))
    ones = torch.ones(4000)
    out = layer.train()(ones)
    kept = out != 0
    assert torch.allclose(out[kept], torch.full_like(out[kept], 1 / 0.75))
    assert abs(kept.float().mean().item() - 0.75) < 0.03
    again = FoldDropout(0.25, torch.Generator().manual_seed(3)).train()(ones)
    torch.manual_seed(0)  # the global stream plays no part
    assert torch.equal(out, again)
    assert torch.equal(layer.eval()(ones), ones)

    net = torch.nn.Sequential(torch.nn.Linear(2, 2), torch.nn.Dropout(0.5), torch.nn.Dropout2d(0.5))
    assert use_fold_dropout(net, None) == ["1"]
    assert isinstance(net[1], FoldDropout) and net[1].p == 0.5 and type(net[2]) is torch.nn.Dropout2d


SAPPHIRE_RAPIDS = {"vendor_id": "GenuineIntel", "cpu family": "6", "model": "143",
                   "model name": "Intel(R) Xeon(R) Platinum 8481C CPU @ 2.70GHz",
                   "flags": "fpu avx2 avx512f avx512_bf16 amx_bf16 amx_tile amx_int8"}
GENOA = {"vendor_id": "AuthenticAMD", "cpu family": "25", "model": "17",
         "model name": "AMD EPYC 9B14 96-Core Processor", "flags": "fpu avx2 avx512f avx512_bf16"}
VIRTUAL = {"vendor_id": "GenuineIntel", "cpu family": "6", "model": "85", "model name": "Intel(R) Xeon(R) Processor",
           "flags": "fpu avx2 avx512f"}


def test_cpu_descriptions_name_the_model_and_its_bf16_instructions():
    spr = describe_cpu(SAPPHIRE_RAPIDS)
    assert spr["amx_bf16"] and spr["avx512_bf16"] and spr["name"] == SAPPHIRE_RAPIDS["model name"]
    threads = torch.get_num_threads()
    assert device_label(spr) == f"Intel Xeon Platinum 8481C ×{threads} threads, AMX-bf16"
    assert device_label(describe_cpu(GENOA)) == f"AMD EPYC 9B14 ×{threads} threads, AVX512-bf16"
    assert device_label(describe_cpu(VIRTUAL)) == (f"Intel Xeon (family 6 model 85) ×{threads} threads, "
                                                   f"no native bf16")
    here = describe_device(torch.device("cpu"))
    assert here["kind"] == "cpu" and here["name"] and here["threads"] == threads
    assert isinstance(here["amx_bf16"], bool) and isinstance(here["bf16_autocast"], bool)


def test_gpu_label_names_the_card_cuda_and_driver():
    description = {"kind": "cuda", "name": "NVIDIA H100 80GB HBM3", "capability": "9.0", "cuda": "12.4",
                   "driver": "550.54.15", "memory_gb": 79.1}
    assert device_label(description) == "NVIDIA H100 80GB HBM3, CUDA 12.4, driver 550.54.15"
    assert device_label({**description, "driver": None}) == "NVIDIA H100 80GB HBM3, CUDA 12.4"


class _SlowNet(torch.nn.Module):
    """Each forward call advances a fake clock by ``step`` seconds."""

    def __init__(self, step: float):
        super().__init__()
        self.step, self.now, self.calls = step, 0.0, 0

    def forward(self, x):
        self.now += self.step
        self.calls += 1
        return x

    def clock(self) -> float:
        return self.now


@pytest.mark.parametrize("step, warmup, timed", [(4.0, 1, 1), (2.0, 2, 2), (0.2, 2, 5), (0.01, 2, 50)])
def test_inference_timing_is_time_boxed_for_slow_nets_and_extended_for_fast_ones(step, warmup, timed):
    from mebench.timing import inference_throughput

    net = _SlowNet(step)
    throughput = inference_throughput(net, torch.zeros(4, 3), clock=net.clock)
    assert net.calls == warmup + timed and throughput.batches == timed and throughput.warmup_batches == warmup
    assert throughput.frames_per_second == pytest.approx(4 / step)
