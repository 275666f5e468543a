"""``mebench sweep --track``: each run of the grid goes to the tracker as soon as it is complete (``Sweep.run``'s
``on_complete``), not when the grid ends; runs complete before the sweep go once, at its start; a run that
cannot be handed on is that run's failure and the grid goes on. The tracked values are read back from a
TensorBoard folder and a local MLflow store.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from mebench.analysis.export import track_runs
from mebench.run.sweep import Sweep, grid_configs
from tests.conftest import mebench_cli as cli
from tests.conftest import quiet, tiny_config
from tests.core.analysis.test_export import TINY_TASK, tracker_environment


@pytest.fixture(autouse=True)
def quiet_trackers(monkeypatch):
    tracker_environment(monkeypatch)


def tensorboard_scalars(folder: Path, tag: str) -> list[float]:
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    events = EventAccumulator(str(folder))
    events.Reload()
    return [event.value for event in events.Scalars(tag)]


def pooled(run_dir: Path) -> dict:
    return json.loads((run_dir / "metrics.json").read_text())["pooled"]


def grid(registry, root: Path) -> Sweep:
    configs = grid_configs(["tiny"], ["synthetic"], [0, 1], tiny_config(model="?"))
    return Sweep(configs, root / "results", cache_dir=root / "cache", registry=registry, workers=1, progress=False,
                 log=quiet)


@pytest.fixture(scope="module")
def tracked(registry, tmp_path_factory):
    """A two-run grid (seeds 0 and 1 of the tiny net) whose ``on_complete`` notes, when it is called, which of
    the grid's runs are complete, then exports the run to a TensorBoard folder."""
    pytest.importorskip("tensorboard")
    root = tmp_path_factory.mktemp("sweep_track")
    sweep = grid(registry, root)
    folders = [run.run_dir.path for run in sweep.runs]
    calls, logged = [], []

    def on_complete(folder: Path) -> None:
        calls.append((folder, [(other / "run.json").exists() for other in folders]))
        assert track_runs([folder], "tensorboard", logged.append) == []

    outcome = sweep.run(on_complete=on_complete)
    assert outcome.ok and outcome.complete == 2, outcome.problems
    return {"root": root, "folders": folders, "calls": calls, "logged": logged}


def test_each_run_is_handed_on_as_soon_as_it_is_complete(tracked):
    first, second = tracked["folders"]
    assert first.name.endswith("__seed0") and second.name.endswith("__seed1")
    # seed 0 went to the tracker before seed 1 was complete: while the grid was still training
    assert tracked["calls"] == [(first, [True, False]), (second, [True, True])]


def test_the_tracker_holds_each_runs_figures(tracked):
    for folder in tracked["folders"]:
        figures = pooled(folder)
        board = tracked["root"] / "tensorboard" / folder.name
        for name in ("accuracy", "uf1", "uar"):
            assert tensorboard_scalars(board, name) == [pytest.approx(figures[name], rel=1e-6)]
        assert tensorboard_scalars(board, "uf1_low") == [pytest.approx(figures["ci"]["uf1"][0], rel=1e-6)]
    assert [line.split(" → ")[0] for line in tracked["logged"]] == \
        [f"exported {folder.name}" for folder in tracked["folders"]]


def test_runs_complete_before_the_sweep_are_handed_on_once_at_its_start(registry, tracked):
    before = {path: path.stat().st_mtime_ns for folder in tracked["folders"] for path in folder.rglob("*.json")}
    calls = []
    outcome = grid(registry, tracked["root"]).run(on_complete=calls.append)
    assert outcome.ok and calls == tracked["folders"]
    assert {path: path.stat().st_mtime_ns for path in before} == before  # nothing trained or summarised again


def test_a_run_that_cannot_be_handed_on_is_its_failure_and_the_grid_goes_on(registry, tracked):
    calls = []

    def refuse_the_first(folder: Path) -> None:
        calls.append(folder)
        if folder == tracked["folders"][0]:
            raise OSError("the tracker's disk is full")

    outcome = grid(registry, tracked["root"]).run(on_complete=refuse_the_first)
    assert calls == tracked["folders"]
    assert outcome.problems == [(f"{tracked['folders'][0].name} fold on complete", "OSError: the tracker's disk is full")]


@pytest.mark.slow  # two runs trained through the command line, and a new MLflow store (its schema created on first use)
def test_sweep_track_mlflow_logs_every_run_of_the_grid(tmp_path):
    pytest.importorskip("mlflow")
    from mlflow.tracking import MlflowClient

    result = cli("sweep", "--models", "ststnet", "--datasets", "synthetic", "--seeds", "0-1", *TINY_TASK[4:],
                 "--output", tmp_path / "results", "--cache-dir", tmp_path / "cache", "--track", "mlflow")
    assert result.exit_code == 0, result.output
    folders = sorted(path for path in (tmp_path / "results").iterdir() if path.is_dir())
    assert [folder.name[-5:] for folder in folders] == ["seed0", "seed1"]
    exported = [line.split(" → ")[0] for line in result.stderr.splitlines() if line.startswith("exported ")]
    assert exported == [f"exported {folder.name}" for folder in folders]
    client = MlflowClient(tracking_uri=f"sqlite:///{tmp_path / 'mlflow.db'}")
    runs = client.search_runs([client.get_experiment_by_name("mebench").experiment_id])
    by_id = {run.data.tags["mebench.run_id"]: run for run in runs}
    assert sorted(by_id) == [folder.name for folder in folders]
    for folder in folders:
        figures = pooled(folder)
        for name in ("accuracy", "uf1", "uar"):
            assert by_id[folder.name].data.metrics[name] == pytest.approx(figures[name], abs=1e-12)
        assert by_id[folder.name].data.metrics["uar_high"] == pytest.approx(figures["ci"]["uar"][1], abs=1e-12)
