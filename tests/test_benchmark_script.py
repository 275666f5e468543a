"""The speed benchmark runs end to end in its quick configuration (a smoke test, not a timed test)."""

import subprocess
import sys
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[1] / "benchmarks" / "loso_speed.py"


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
