"""The speed benchmark runs end to end in its quick configuration (a smoke test, not a timed test)."""

import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[2] / "benchmarks" / "loso_speed.py"


@pytest.mark.slow
def test_quick_benchmark_prints_every_variant_and_the_speedup_line():
    result = subprocess.run([sys.executable, str(SCRIPT), "--quick", "--model", "ststnet"],
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert any(line.startswith("naive") for line in lines)
    assert any(line.startswith("resident-fp32") for line in lines)
    speedup = [line for line in lines if line.startswith("speedup: ")]
    assert len(speedup) == 1 and speedup[0].endswith("x")
    assert float(speedup[0].split()[1].rstrip("x")) > 0


@pytest.mark.slow
def test_quick_spotting_cost_prints_every_choice_and_the_casme2_target_verdict():
    script = SCRIPT.parent / "spotting_cost.py"
    result = subprocess.run([sys.executable, str(script), "--quick"], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    first_table = lines[lines.index("| choice | 64×64 |"):]
    per_core = {}
    for choice in ("flow rlof", "flow tvl1", "flow dis", "mdmd rlof", "mdmd tvl1", "mdmd dis", "feature-difference"):
        row = next(line for line in first_table if line.startswith(f"| {choice} |"))
        per_core[choice] = float(row.split("|")[2].split("(")[0].replace(",", ""))
        assert per_core[choice] > 0
    assert any("2 flows per frame per expression type" in line for line in lines)
    # CAS(ME)²'s size from the MEGC2024 page's figures: 97 videos × 148 s average × 30 fps
    casme_frames = 97 * 148 * 30
    assert any(line.startswith(f"CAS(ME)²: {casme_frames:,} frames") for line in lines)
    assert any(line.startswith(f"SAMM-LV: {147 * 35.5 * 200:,.0f} frames") for line in lines)
    # the verdict: the fast choice's input on 2 cores, twice its per-core rate, against 10 minutes
    target = [line for line in lines if line.startswith("target at 64×64: ")]
    assert len(target) == 1
    verdict, measured = target[0].split(": ")[1], float(target[0].split(": ")[2].split()[0].replace(",", ""))
    assert abs(measured - 2 * per_core["flow dis"]) <= 0.01 * measured + 1
    assert verdict == ("met" if casme_frames / measured < 600 else "not met")


def _cells(lines, first):
    """The cells of the table row whose first cell is ``first``, numbers without their thousands commas."""
    row = next(line for line in lines if line.startswith(f"| {first} |"))
    return [cell.strip().replace(",", "") for cell in row.strip("|").split("|")]


@pytest.mark.slow
def test_quick_learned_spotter_cost_prints_levers_as_ratios_and_the_casme2_fold(monkeypatch, capsys):
    # in this process (the imports are the smoke's largest cost), its thread settings and environment restored after
    import cv2
    import torch

    for variable in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        monkeypatch.setenv(variable, os.environ.get(variable, ""))  # the script sets them on import
    monkeypatch.syspath_prepend(str(SCRIPT.parent))
    spec = importlib.util.spec_from_file_location("learned_spotter_cost", SCRIPT.parent / "learned_spotter_cost.py")
    script = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, spec.name, script)  # its dataclasses look their module up there
    threads, cv2_threads = torch.get_num_threads(), cv2.getNumThreads()
    try:
        spec.loader.exec_module(script)
        script.main(["--quick"])
    finally:
        torch.set_num_threads(threads)
        cv2.setNumThreads(cv2_threads)
    stdout = capsys.readouterr().out
    lines = stdout.splitlines()
    # the cached input is a cache read then the input image, one after the other for every frame
    read = float(_cells(lines, "cache read")[1].split("(")[0])
    image = float(_cells(lines, "softnet image")[1].split("(")[0])
    cached = float(_cells(lines, "cached")[1])
    assert abs(cached - 1 / (1 / read + 1 / image)) <= 0.01 * cached + 1
    # SOFTNet's own input path: the ratio printed is the cached row's rate over the computed row's
    computed = float(_cells(lines, "softnet fold, flows computed")[1].split("(")[0])
    from_cache = float(_cells(lines, "softnet fold, flows cached")[1].split("(")[0])
    (path,) = [line for line in lines if line.startswith("SOFTNet's own input path")]
    assert abs(float(path.rsplit(" ", 1)[1].rstrip("x")) - from_cache / computed) <= 0.01 * from_cache / computed + 0.01
    # each training variant's ratio is the authors' loop's seconds over its own
    authors = float(_cells(lines, "batch 12, fp32 (authors')")[1])
    large = _cells(lines, "batch 256, bf16")
    assert abs(float(large[3].rstrip("x")) - authors / float(large[1])) <= 0.02 * authors / float(large[1]) + 0.01
    # a CAS(ME)² fold: 97 videos × 148 s × 30 fps, 21 of 22 subjects trained on, half kept by the sampling down
    assert f"10 epochs over {97 * 148 * 30 * 21 / 22 / 2:,.0f} images per net" in stdout
