"""The fault-tolerance findings, re-run as a new user would: through the real ``mebench`` command
line, on a tiny synthetic task (STSTNet, 3 subjects × 4 clips, 1 epoch, fp32; 3 folds).

Each test names the finding it covers. Covered elsewhere, at the level where they are decided:
kill -9 and Ctrl-C during preprocessing (per-sample caching, workers that die with their parent)
in ``tests/core/run/test_preprocessing_cache.py``; fold batching with dropout (each fold's masks from its
own generator) in ``tests/core/run/test_fold_batching.py``; the quick start's time in docs/datasets.md's
measurements; annotation slips in ``tests/plugins/datasets/test_datasets.py``.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

from mebench.hardware import describe_cpu, device_label
from tests.conftest import mebench_cli as cli

REPO = Path(__file__).resolve().parents[3]
TINY_TASK = ("--model", "ststnet", "--dataset", "synthetic", "--dataset-opt", "subjects=3",
             "--dataset-opt", "clips_per_subject=4", "--epochs", "1", "--precision", "fp32", "-q")
N_SAMPLES, N_FOLDS, TEST_SAMPLES_PER_FOLD = 12, 3, 4
STSTNET_INPUT = (3, 28, 28)


def run_args(output: Path, cache: Path, *extra: str) -> list[str]:
    """``mebench run`` of the tiny task; later options override earlier ones (click keeps the last)."""
    return ["run", *TINY_TASK, "--output", str(output), "--cache-dir", str(cache), *extra]


def assert_one_error_line(result) -> str:
    """No traceback, and the failure is one ``Error:`` line (click's own usage errors put their
    standard ``Usage:``/``Try`` lines before it); returns that line."""
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exc_info
    assert "Traceback" not in result.output
    errors = [line for line in result.stderr.splitlines() if line.startswith("Error:")]
    assert len(errors) == 1, result.stderr
    return errors[0]


def run_folders(output: Path) -> list[Path]:
    return sorted(p for p in output.iterdir() if p.is_dir()) if output.exists() else []


@pytest.fixture(scope="module")
def prepared(tmp_path_factory):
    """One complete tiny run and its filled preprocessing cache, shared read-only by the tests
    (a test that damages or adds files works on a copy)."""
    root = tmp_path_factory.mktemp("faults")
    result = cli(*run_args(root / "results", root / "cache"))
    assert result.exit_code == 0, result.output
    (run_dir,) = run_folders(root / "results")
    return {"results": root / "results", "cache": root / "cache", "run_dir": run_dir, "stdout": result.stdout,
            "stderr": result.stderr}


def copy_cache(prepared, tmp_path: Path) -> Path:
    cache = tmp_path / "cache"
    shutil.copytree(prepared["cache"], cache)
    return cache


def cache_entries(cache: Path) -> list[Path]:
    return sorted(cache.rglob("*.npy"))


def copy_run(prepared, tmp_path: Path) -> Path:
    """A copy of the complete run in a results folder of its own; returns the run folder."""
    run_dir = tmp_path / "results" / prepared["run_dir"].name
    shutil.copytree(prepared["run_dir"], run_dir)
    return run_dir


def interrupted(run_dir: Path) -> Path:
    """The run as a killed process leaves it: fold records and config.json, no summary."""
    for name in ("run.json", "metrics.json", "predictions.csv"):
        (run_dir / name).unlink()
    return run_dir


# --- what a run prints ------------------------------------------------------------------------------

def test_a_run_prints_the_chance_level_beside_its_result(prepared):
    """The chance line of the tiny task's own class counts: the majority class's share, the expected UF1
    of uniform guessing (a class of prevalence p: 2p(1/K)/(p + 1/K)) and UAR 1/K."""
    truth = pd.read_csv(prepared["run_dir"] / "predictions.csv")["true_label"].value_counts(normalize=True)
    k = len(truth)
    uf1 = sum(2 * p / k / (p + 1 / k) for p in truth) / k
    expected = (f"chance: accuracy {truth.max():.3f} (always the most frequent class), UF1 {uf1:.3f} and UAR "
                f"{1 / k:.3f} (uniform guessing)")
    lines = prepared["stdout"].splitlines()
    assert expected in lines
    assert lines.index(expected) < next(i for i, line in enumerate(lines) if line.startswith("| class"))


def test_a_runs_first_lines_state_the_epochs_it_uses(prepared):
    """The tiny task asks for --epochs 1 (its preset's budget is 3): the plan line and the dataset's line
    both say 1."""
    lines = [line for line in prepared["stderr"].splitlines() if line.startswith(("ststnet on synthetic", "synthetic:"))]
    assert len(lines) == 2, prepared["stderr"]
    assert ", 1 epoch, batch 8, " in lines[0]
    assert lines[1].startswith("synthetic: 3 subjects, 12 clips, 1 epoch, batch ")


# --- finding 2: a damaged preprocessing cache heals ------------------------------------------------

def test_damaged_cache_entries_are_named_recomputed_and_the_run_succeeds(prepared, tmp_path):
    cache = copy_cache(prepared, tmp_path)
    entries = cache_entries(cache)
    assert len(entries) == N_SAMPLES
    truncated, empty, garbage, wrong_shape = entries[:4]
    truncated.write_bytes(truncated.read_bytes()[:-100])
    empty.write_bytes(b"")
    garbage.write_bytes(b"\x93NUMPY garbage \xff\x00" * 16)
    np.save(wrong_shape, np.zeros((3, 75, 75), np.float32))

    result = cli(*run_args(tmp_path / "results", cache))

    assert result.exit_code == 0, result.output
    assert "Traceback" not in result.output
    for damaged in (truncated, empty, garbage, wrong_shape):
        lines = [line for line in result.stderr.splitlines() if str(damaged) in line]
        assert len(lines) == 1, f"{damaged.name}: {result.stderr}"
        assert "warning" in lines[0].lower() or "discarded" in lines[0]
        healed = np.load(damaged)  # recomputed and written back intact
        assert healed.shape == STSTNET_INPUT and healed.dtype == np.float32
    assert len(pd.read_csv(run_folders(tmp_path / "results")[0] / "predictions.csv")) == N_SAMPLES


# --- finding 3: damaged fold records are discarded and the fold retrained ------------------------

def _damage_fold_records(run_dir: Path, damages: dict[int, str]) -> dict[int, Path]:
    paths = {}
    for index, damage in damages.items():
        path = run_dir / "folds" / f"fold_{index:03d}.json"
        record = json.loads(path.read_text())
        if damage == "non-utf8":
            path.write_bytes(b'{"fold": 0, "predictions": [\xff\xfe\x80]}')
        elif damage == "json-list":
            path.write_text(json.dumps([record]))
        elif damage == "no-predictions":
            del record["predictions"]
            path.write_text(json.dumps(record))
        elif damage == "two-predictions":
            record["predictions"] = record["predictions"][:2]
            path.write_text(json.dumps(record))
        paths[index] = path
    return paths


@pytest.mark.parametrize("damages", [
    {0: "non-utf8", 1: "json-list", 2: "no-predictions"},
    {1: "two-predictions"},
], ids=["unreadable-list-no-predictions", "two-of-four-predictions"])
def test_damaged_fold_records_are_named_retrained_and_the_run_completes(prepared, tmp_path, damages):
    run_dir = interrupted(copy_run(prepared, tmp_path))
    untouched = {p.name: p.stat().st_mtime_ns for p in (run_dir / "folds").iterdir()
                 if int(p.stem.split("_")[1]) not in damages}
    damaged = _damage_fold_records(run_dir, damages)

    result = cli(*run_args(tmp_path / "results", prepared["cache"]))

    assert result.exit_code == 0, result.output
    assert "Traceback" not in result.output
    for index, path in damaged.items():
        lines = [line for line in result.stderr.splitlines() if str(path) in line]
        assert len(lines) == 1, f"{damages[index]}: {result.stderr}"
        record = json.loads(path.read_text())  # retrained and saved again
        assert record["fold"] == index and len(record["predictions"]) == TEST_SAMPLES_PER_FOLD
    for name, mtime in untouched.items():  # intact records are kept, not retrained
        assert (run_dir / "folds" / name).stat().st_mtime_ns == mtime
    predictions = pd.read_csv(run_dir / "predictions.csv")
    assert len(predictions) == N_SAMPLES and predictions["sample_id"].is_unique
    assert sorted(predictions["fold"].unique()) == list(range(N_FOLDS))


# --- finding 4: one bad run does not poison a results folder -------------------------------------

def test_unreadable_runs_are_skipped_by_leaderboard_and_ignored_by_run(prepared, tmp_path):
    good = copy_run(prepared, tmp_path)
    results = good.parent
    garbage_run = results / "base__synthetic__0123456789__seed0"
    shutil.copytree(good, garbage_run)
    (garbage_run / "run.json").write_bytes(b"\x00\xffnot json at all")
    no_pooled = results / "waspp__synthetic__9876543210__seed0"
    shutil.copytree(good, no_pooled)
    metrics = json.loads((no_pooled / "metrics.json").read_text())
    del metrics["pooled"]
    (no_pooled / "metrics.json").write_text(json.dumps(metrics))

    board = cli("leaderboard", "--results", str(results))
    assert board.exit_code == 0, board.output
    assert "Traceback" not in board.output
    skipped = [line for line in board.stderr.splitlines() if line.startswith("skipped")]
    assert len(skipped) == 2, board.stderr
    assert any(garbage_run.name in line and "run.json" in line for line in skipped)
    assert any(no_pooled.name in line and "pooled" in line for line in skipped)
    assert "ststnet" in board.stdout  # the good run is still shown

    before = {p: p.stat().st_mtime_ns for p in good.rglob("*") if p.is_file()}
    again = cli(*run_args(results, prepared["cache"]))
    assert again.exit_code == 0, again.output
    assert "Traceback" not in again.output
    assert "already complete" in again.stderr
    assert {p: p.stat().st_mtime_ns for p in good.rglob("*") if p.is_file()} == before  # a no-op
    assert run_folders(results) == sorted([good, garbage_run, no_pooled])


# --- finding 6: every bad option is one line, before anything is written -------------------------

BAD_OPTIONS = {
    "model-opt branches=9": (("--model", "waspp", "--model-opt", "branches=9"), "branches"),
    "dataset-opt nosuch=1": (("--dataset-opt", "nosuch=1"), "valid options: preset, subjects"),
    "dataset-opt subjects=1": (("--dataset-opt", "subjects=1"), "≥ 2"),
    "dataset-opt subjects=abc": (("--dataset-opt", "subjects=abc"), "'abc'"),
    "dataset-opt subjects=0": (("--dataset-opt", "subjects=0"), "≥ 2"),
    "dataset-opt preset=nosuch": (("--dataset-opt", "preset=nosuch"), "start, quick, standard"),
    "device tpu": (("--device", "tpu"), "cpu"),
    "lr -1": (("--lr", "-1"), "x>0"),
    "fold-batch 2x": (("--fold-batch", "2x"), "positive number of folds"),
    "unwritable output": (("--output", "{afile}/sub"), "not writable"),
    "unwritable cache-dir": (("--cache-dir", "{afile}/sub"), "not writable"),
}


@pytest.mark.parametrize("name", list(BAD_OPTIONS))
def test_bad_options_exit_2_in_one_line_and_write_nothing(prepared, tmp_path, name):
    extra, expected = BAD_OPTIONS[name]
    # Under a regular file a folder can never be created, even for root (for whom chmod stops nothing).
    afile = tmp_path / "afile"
    afile.write_text("a file, not a folder")
    extra = tuple(option.format(afile=afile) for option in extra)
    output, cache = tmp_path / "results", tmp_path / "cache"

    result = cli(*run_args(output, cache, *extra))

    line = assert_one_error_line(result)
    assert result.exit_code == 2, result.output
    assert expected in line, line
    assert run_folders(output) == []  # no results/<run-id>/ folder
    assert not cache.exists() or cache_entries(cache) == []  # nothing was preprocessed
    if "{afile}" in " ".join(BAD_OPTIONS[name][0]):
        assert str(afile / "sub") in line


@pytest.mark.parametrize("model, valid", [("ststnet", "dropout"), ("waspp", "branches")])
def test_an_unknown_model_option_lists_the_valid_ones(tmp_path, model, valid):
    result = cli(*run_args(tmp_path / "results", tmp_path / "cache", "--model", model,
                               "--model-opt", "nosuch=1"))
    line = assert_one_error_line(result)
    assert result.exit_code == 2
    assert "nosuch" in line and "valid options" in line and valid in line, line
    assert run_folders(tmp_path / "results") == []


def test_a_non_finite_loss_stops_with_model_fold_epoch_and_fix_exit_1(prepared, tmp_path):
    result = cli(*run_args(tmp_path / "results", prepared["cache"], "--lr", "1e30", "--epochs", "2"))
    line = assert_one_error_line(result)
    assert result.exit_code == 1
    assert "ststnet" in line and "fold 0" in line and "epoch 2" in line, line
    assert "nan" in line.lower() and "--lr" in line, line


@pytest.mark.skipif(not describe_cpu()["bf16_autocast"], reason="this CPU runs no bf16")
def test_a_non_finite_loss_in_bf16_suggests_full_precision(prepared, tmp_path):
    result = cli(*run_args(tmp_path / "results", prepared["cache"], "--lr", "1e30", "--epochs", "2",
                               "--precision", "bf16"))
    line = assert_one_error_line(result)
    assert result.exit_code == 1
    assert "--precision fp32" in line, line


def test_an_out_of_memory_fold_group_is_halved_and_retried(prepared, tmp_path, monkeypatch):
    import mebench.run.execute

    real_train_jobs = mebench.run.execute.train_jobs
    group_sizes = []

    def out_of_memory_for_groups(jobs, *args, **kwargs):
        group_sizes.append(len(jobs))
        if len(jobs) > 1:
            raise torch.cuda.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB")
        return real_train_jobs(jobs, *args, **kwargs)

    monkeypatch.setattr(mebench.run.execute, "train_jobs", out_of_memory_for_groups)
    result = cli(*run_args(tmp_path / "results", prepared["cache"], "--fold-batch", "2"))

    assert result.exit_code == 0, result.output
    assert group_sizes == [2, 1, 1, 1]
    assert any("out of memory with 2 folds" in line and "1 at a time" in line for line in result.stderr.splitlines())
    (run_dir,) = run_folders(tmp_path / "results")
    assert run_dir.name == prepared["run_dir"].name  # an execution lever: the same run
    for index in range(N_FOLDS):
        record = json.loads((run_dir / "folds" / f"fold_{index:03d}.json").read_text())
        assert record["folds_trained_together"] == 1 and len(record["predictions"]) == TEST_SAMPLES_PER_FOLD
    assert len(pd.read_csv(run_dir / "predictions.csv")) == N_SAMPLES


# --- finding 7: two identical runs at once do the work once ---------------------------------------

#: A real ``mebench run`` process whose training waits for a gate file, so the test decides how long
#: it holds the run; every fold it trains is noted (pid and fold) in a trace file.
GATED_RUN = """
import os, sys, time
from pathlib import Path
import mebench.run.execute

gate, trace = Path(sys.argv[1]), Path(sys.argv[2])
real_train_jobs = mebench.run.execute.train_jobs

def gated(jobs, *args, **kwargs):
    deadline = time.monotonic() + 120
    while not gate.exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    with trace.open("a") as handle:
        handle.writelines(f"{os.getpid()} {job.fold.index}\\n" for job in jobs)
    return real_train_jobs(jobs, *args, **kwargs)

mebench.run.execute.train_jobs = gated
from mebench.cli import main
main(sys.argv[3:], prog_name="mebench")
"""


def _wait_for(condition, seconds: float, what: str, processes=()) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        for process in processes:
            if process.poll() is not None:
                raise AssertionError(f"process {process.pid} ended (exit {process.returncode}) before {what}")
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


@pytest.mark.slow
def test_a_second_identical_run_names_the_holder_and_never_repeats_the_work(prepared, tmp_path):
    script, gate, trace = tmp_path / "gated_run.py", tmp_path / "gate", tmp_path / "trace"
    script.write_text(GATED_RUN)
    output = tmp_path / "results"
    run_dir = output / prepared["run_dir"].name
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    logs = [(tmp_path / f"run{k}.out", tmp_path / f"run{k}.err") for k in range(2)]
    # Both start at once (paying their start-up together); whichever takes the lock first holds
    # the run at the gate until the other has said it waits.
    processes = [subprocess.Popen([sys.executable, str(script), str(gate), str(trace),
                                   *run_args(output, prepared["cache"])],
                                  cwd=tmp_path, env=env, stdout=out.open("w"), stderr=err.open("w"))
                 for out, err in logs]
    try:
        def waiting() -> list[int]:
            return [k for k, (_, err) in enumerate(logs) if "waiting" in err.read_text()]

        _wait_for(lambda: waiting() and (run_dir / ".run.lock.owner").exists(), 120,
                  "one run to hold the lock and the other to wait", processes)
        holder_pid = json.loads((run_dir / ".run.lock.owner").read_text())["pid"]
        (waiter,) = waiting()
        holder = 1 - waiter
        assert processes[holder].pid == holder_pid
        said = logs[waiter][1].read_text()
        assert f"process {holder_pid}" in said and run_dir.name in said, said

        refused = cli(*run_args(output, prepared["cache"], "--no-wait"))
        line = assert_one_error_line(refused)
        assert refused.exit_code == 1
        assert f"process {holder_pid}" in line and run_dir.name in line, line

        gate.touch()
        for process, (_, err) in zip(processes, logs):
            assert process.wait(timeout=180) == 0, err.read_text()
    finally:
        for process in processes:
            if process.poll() is None:
                process.kill()
                process.wait()

    waiter_log = logs[waiter][1].read_text()
    assert "completed by the other process" in waiter_log and "Traceback" not in waiter_log
    trained = sorted(line.split() for line in trace.read_text().splitlines())
    assert trained == sorted([str(holder_pid), str(index)] for index in range(N_FOLDS))  # once, by the holder
    assert f"results: {run_dir}" in logs[waiter][0].read_text()  # the finished run, reused


# --- finding 9: stale temp files go; files follow the umask ----------------------------------------

@pytest.mark.parametrize("umask, mode", [(0o022, 0o644), (0o027, 0o640)], ids=["umask-022", "umask-027"])
def test_stale_temp_files_are_removed_and_files_follow_the_umask(prepared, tmp_path, umask, mode):
    run_dir = interrupted(copy_run(prepared, tmp_path))
    (run_dir / "folds" / "fold_002.json").unlink()
    cache = copy_cache(prepared, tmp_path)
    recomputed = cache_entries(cache)[:2]
    for path in recomputed:
        path.unlink()
    chain_folder = recomputed[0].parent.parent
    two_hours_ago = time.time() - 7200
    stale = [run_dir / ".run.json.a1b2c3.tmp", run_dir / "folds" / ".fold_002.json.d4e5f6.tmp",
             chain_folder / recomputed[0].parent.name / ".x.npy.g7h8i9.tmp"]
    recent = [run_dir / ".metrics.json.j1k2l3.tmp", chain_folder / ".y.npy.m4n5o6.tmp"]
    for path in stale + recent:
        path.write_bytes(b"a write that was killed")
    for path in stale:
        os.utime(path, (two_hours_ago, two_hours_ago))

    previous = os.umask(umask)
    try:
        result = cli(*run_args(run_dir.parent, cache))
    finally:
        os.umask(previous)

    assert result.exit_code == 0, result.output
    assert [p for p in stale if p.exists()] == []
    assert all(p.exists() for p in recent)  # perhaps another process's write in progress: kept
    written = [run_dir / name for name in ("run.json", "metrics.json", "predictions.csv")]
    written += [run_dir / "folds" / "fold_002.json", *recomputed]
    assert {str(p): oct(p.stat().st_mode & 0o777) for p in written} == {str(p): oct(mode) for p in written}


# --- finding 10: timings say what they were measured on ------------------------------------------

def test_run_json_and_the_leaderboard_identify_the_cpu_and_its_bf16_support(prepared):
    run = json.loads((prepared["run_dir"] / "run.json").read_text())
    hardware = run["environment"]["hardware"]
    here = describe_cpu()
    assert hardware["kind"] == "cpu" and hardware["name"] == here["name"] and hardware["name"]
    for flag in ("amx_bf16", "avx512_bf16", "bf16_autocast"):
        assert hardware[flag] is here[flag]
    label = device_label(hardware)
    assert run["environment"]["device"] == label
    assert any(word in label for word in ("AMX-bf16", "AVX512-bf16", "Arm-bf16", "no native bf16")), label

    board = cli("leaderboard", "--results", str(prepared["results"]))
    assert board.exit_code == 0, board.output
    header = next(line for line in board.stdout.splitlines() if line.startswith("| model"))
    row = next(line for line in board.stdout.splitlines() if line.startswith("| ststnet"))
    cells = dict(zip([c.strip() for c in header.split("|")], [c.strip() for c in row.split("|")]))
    assert cells["device"] == label
