"""Sweeps: grid expansion, skipping and resuming, failure isolation, shards and the Ray executor."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import types
from pathlib import Path

import pandas as pd
import pytest

from mebench import hookimpl
from mebench.data import ModelSpec
from mebench.errors import OptionError
from mebench.run.plan import RunConfig, plan_run
from mebench.registry import discover
from mebench.run.sweep import Sweep, expand_names, grid_configs, parse_seeds, parse_shard, shard_tasks
from tests.conftest import TINY_DATASET, TINY_INPUT, mebench_cli, quiet, tiny_config, tiny_registry

GRID_OPTIONS = ["--epochs", "1", "--precision", "fp32", "--batch-size", "8", "-q",
                *sum((["--dataset-opt", f"{k}={v}"] for k, v in TINY_DATASET.items()), [])]


def base_config(**overrides) -> RunConfig:
    return tiny_config(model="?", **overrides)


def test_seeds_models_and_shards_parse():
    assert parse_seeds("0-4") == [0, 1, 2, 3, 4] and parse_seeds("0,2,5-6") == [0, 2, 5, 6]
    with pytest.raises(OptionError, match="--seeds"):
        parse_seeds("4-1")
    names = ["aspp-i-direct", "aspp-i-waterfall", "aspp-ii-waterfall", "base", "waspp"]
    assert expand_names("waspp,base,aspp-*-waterfall", names, lambda n: n, "model") == [
        "waspp", "base", "aspp-i-waterfall", "aspp-ii-waterfall"]
    with pytest.raises(OptionError, match="no registered model matches"):
        expand_names("nothing-*", names, lambda n: n, "model")
    assert parse_shard("2/4") == (2, 4)
    for bad in ("0/2", "3/2", "x"):
        with pytest.raises(OptionError, match="--shard"):
            parse_shard(bad)


def test_shards_partition_the_grid_tasks(registry, tmp_path):
    grid = Sweep(grid_configs(["tiny"], ["synthetic"], [0, 1, 2], base_config()), tmp_path, registry=registry,
                 progress=False, log=quiet)
    everything = shard_tasks(grid.runs, None)
    parts = [shard_tasks(grid.runs, (i, 3)) for i in (1, 2, 3)]
    for run_id, folds in everything.items():
        pieces = [p.get(run_id, set()) for p in parts]
        assert set().union(*pieces) == folds and sum(map(len, pieces)) == len(folds)


def failing_registry():
    """The installed plugins, the tiny model, and a model whose construction fails."""
    module = types.ModuleType("failing_plugin")

    def broken(num_classes, input_spec):
        raise RuntimeError("this net cannot be built")

    @hookimpl
    def mebench_register_models(register):
        register(ModelSpec(name="broken", factory=broken, input_spec=TINY_INPUT,
                           preprocessing=("apex_frame", "tvl1_flow", "optical_strain", "flow_stack")))

    module.mebench_register_models = mebench_register_models
    return tiny_registry(module)


@pytest.mark.slow
def test_a_failing_run_does_not_stop_the_grid_and_a_rerun_is_a_no_op(tmp_path, monkeypatch):
    registry = failing_registry()
    configs = grid_configs(["broken", "tiny"], ["synthetic"], [0, 1], base_config())
    outcome = Sweep(configs, tmp_path, registry=registry, progress=False, log=quiet).run()
    assert not outcome.ok
    assert {f.run_id.split("__")[0] for f in outcome.failures} == {"broken"}
    assert all("cannot be built" in f.error for f in outcome.failures)
    tiny = [r for r in outcome.runs if r.config.model == "tiny"]
    assert all(r.complete for r in tiny) and all((r.run_dir.path / "run.json").exists() for r in tiny)

    import mebench.run.execute as execute

    monkeypatch.setattr(execute, "train_jobs", lambda *a, **k: pytest.fail("a finished run was trained again"))
    again = Sweep(grid_configs(["tiny"], ["synthetic"], [0, 1], base_config()), tmp_path, registry=registry,
                  progress=False, log=quiet)
    assert [row[-1] for row in again.dry_run_rows()] == ["complete", "complete"]
    assert again.run().ok


def test_a_partial_run_resumes_inside_a_sweep(registry, tmp_path, monkeypatch):
    configs = grid_configs(["tiny"], ["synthetic"], [0], base_config())
    first = Sweep(configs, tmp_path, registry=registry, progress=False, log=quiet).run()
    run_dir = first.runs[0].run_dir.path
    for name in ("run.json", "metrics.json", "predictions.csv"):
        (run_dir / name).unlink()
    (run_dir / "folds" / "fold_001.json").unlink()
    import mebench.run.execute as execute

    trained, real = [], execute.train_jobs
    monkeypatch.setattr(execute, "train_jobs", lambda jobs, *a, **k: trained.extend(j.fold.index for j in jobs)
                        or real(jobs, *a, **k))
    grid = Sweep(configs, tmp_path, registry=registry, progress=False, log=quiet)
    assert grid.dry_run_rows()[0][2] == 2 and grid.dry_run_rows()[0][-1] == "partial"
    assert grid.run().ok and trained == [1] and (run_dir / "run.json").exists()


def predictions(folder: Path) -> pd.DataFrame:
    frames = [pd.read_csv(p).assign(run=p.parent.name) for p in sorted(folder.glob("*/predictions.csv"))]
    return pd.concat(frames).sort_values(["run", "sample_id"]).reset_index(drop=True)


def sweep_command(output: Path, cache: Path, *extra: str) -> list[str]:
    return [sys.executable, "-m", "mebench.cli", "sweep", "--models", "ststnet", "--datasets", "synthetic",
            "--seeds", "0-1", "--output", str(output), "--cache-dir", str(cache), *GRID_OPTIONS, *extra]


@pytest.fixture(scope="module")
def sequential_grid(tmp_path_factory):
    """The reference: the ststnet grid run in one process, through the CLI."""
    root = tmp_path_factory.mktemp("sequential")
    result = mebench_cli(*sweep_command(root / "out", root / "cache")[3:])
    assert result.exit_code == 0, result.output
    return root


@pytest.mark.slow
def test_two_shard_processes_finish_the_grid_together(sequential_grid, tmp_path):
    shards = [subprocess.Popen(sweep_command(tmp_path / "out", sequential_grid / "cache", "--shard", f"{i}/2"),
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True) for i in (1, 2)]
    outputs = [p.communicate(timeout=300)[0] for p in shards]
    assert [p.returncode for p in shards] == [0, 0], outputs
    assert len(list((tmp_path / "out").glob("*/run.json"))) == 2
    together, alone = predictions(tmp_path / "out"), predictions(sequential_grid / "out")
    pd.testing.assert_frame_equal(together.drop(columns="run"), alone.drop(columns="run"), atol=1e-6)


@pytest.mark.slow
def test_ray_matches_sequential_and_resumes_after_its_driver_is_killed(sequential_grid, tmp_path):
    pytest.importorskip("ray")
    env = {**os.environ, "RAY_AUTH_MODE": "disabled"}
    output = tmp_path / "out"
    command = sweep_command(output, sequential_grid / "cache", "--executor", "ray")
    driver = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env,
                              start_new_session=True)
    deadline = time.time() + 240
    while not list(output.glob("*/folds/fold_*.json")) and driver.poll() is None and time.time() < deadline:
        time.sleep(0.2)
    assert driver.poll() is None, "the grid finished before the driver could be killed"
    os.killpg(driver.pid, signal.SIGKILL)  # the driver and the local Ray instance it started
    driver.wait()
    assert not list(output.glob("*/run.json")) or len(list(output.glob("*/run.json"))) < 2
    done_before = len(list(output.glob("*/folds/fold_*.json")))
    assert done_before >= 1

    rerun = subprocess.run(command, capture_output=True, text=True, env=env, timeout=300)
    assert rerun.returncode == 0, rerun.stdout + rerun.stderr
    with_ray, alone = predictions(output), predictions(sequential_grid / "out")
    assert (with_ray["run"] == alone["run"]).all()  # same run ids: the executor is not part of a run's identity
    pd.testing.assert_frame_equal(with_ray.drop(columns="run"), alone.drop(columns="run"), atol=1e-5)


def test_sweep_file_and_dry_run(tmp_path):
    sweep_file = tmp_path / "grid.toml"
    sweep_file.write_text('models = ["ststnet"]\ndatasets = ["synthetic"]\nseeds = "0-2"\nepochs = 1\n'
                          f'dataset_options = {{ subjects = 3, clips_per_subject = 4 }}\noutput = "{tmp_path / "o"}"\n')
    result = mebench_cli("sweep", sweep_file, "--dry-run")
    assert result.exit_code == 0, result.output
    assert result.output.count("ststnet__synthetic__") == 3 and "9 fold tasks to do" in result.output
    # an option given on the command line wins over the file's; the file's others stay
    override = mebench_cli("sweep", sweep_file, "--dry-run", "--epochs", "2", "--seeds", "4")
    expected = plan_run(RunConfig(model="ststnet", dataset="synthetic", epochs=2, seed=4,
                                  dataset_options={"subjects": 3, "clips_per_subject": 4}))
    assert override.exit_code == 0 and override.output.count("ststnet__synthetic__") == 1
    assert expected.run_id in override.output
    sweep_file.write_text('models = ["ststnet"]\ndatasets = ["synthetic"]\nnosuch = 1\n')
    bad = mebench_cli("sweep", sweep_file, "--dry-run")
    assert bad.exit_code == 2 and "unknown key 'nosuch'" in bad.output


FLAKY_PLUGIN = '''
"""A model whose first build on a Ray worker fails (it leaves a marker file), then builds: a transient
failure. Builds in the driver (planning, timing) never fail."""
import os
from pathlib import Path

from mebench import hookimpl
from mebench.data import InputSpec, ModelSpec
from tests.conftest import TINY_CHAIN, TinyNet


def flaky(num_classes, input_spec):
    marker = Path(os.environ["MEBENCH_FLAKY_MARKER"])
    if os.getpid() != int(os.environ["MEBENCH_DRIVER_PID"]) and not marker.exists():
        marker.write_text(f"failed once in process {os.getpid()}")
        raise RuntimeError("a transient failure")
    return TinyNet(num_classes, input_spec)


@hookimpl
def mebench_register_models(register):
    register(ModelSpec(name="flaky", factory=flaky, input_spec=InputSpec(3, 16, 16), preprocessing=TINY_CHAIN))
'''


@pytest.mark.slow
def test_ray_retries_a_fold_task_that_fails_once(tmp_path, monkeypatch):
    """--retries: the first attempt of a fold task fails (on a Ray worker), the retry succeeds."""
    ray = pytest.importorskip("ray")
    from mebench.run.ray_executor import RayExecutor

    site = tmp_path / "site"  # the plugin, installed where Ray's workers find it too (entry point and module)
    (site / "mebench_flaky-0.dist-info").mkdir(parents=True)
    (site / "mebench_flaky-0.dist-info" / "METADATA").write_text("Metadata-Version: 2.1\nName: mebench-flaky\n"
                                                                 "Version: 0\n")
    (site / "mebench_flaky-0.dist-info" / "entry_points.txt").write_text("[mebench]\nflaky = mebench_flaky\n")
    (site / "mebench_flaky.py").write_text(FLAKY_PLUGIN)
    repository = Path(__file__).resolve().parents[3]
    marker = tmp_path / "failed-once"
    monkeypatch.setenv("MEBENCH_FLAKY_MARKER", str(marker))
    monkeypatch.setenv("MEBENCH_DRIVER_PID", str(os.getpid()))
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([str(site), str(repository), os.environ.get("PYTHONPATH", "")]))
    monkeypatch.setenv("RAY_AUTH_MODE", "disabled")
    monkeypatch.syspath_prepend(str(site))
    registry = discover()
    assert "flaky" in registry.models
    configs = grid_configs(["flaky"], ["synthetic"], [0], base_config(dataset_options={**TINY_DATASET, "subjects": 2}))
    executor = RayExecutor(retries=1, num_cpus=2, progress=False, log=quiet)
    try:
        outcome = Sweep(configs, tmp_path / "out", registry=registry, progress=False, log=quiet).run(executor)
    finally:
        ray.shutdown()
    assert marker.exists() and str(os.getpid()) not in marker.read_text()  # a task failed once on a worker …
    assert outcome.ok and outcome.runs[0].complete, outcome.failures  # … and its retry succeeded
