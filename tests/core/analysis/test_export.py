"""``mebench export`` and ``--track``: a finished run's configuration, figures with their intervals, fold
losses and files round-trip through a local MLflow store (SQLite) and a TensorBoard folder, read back with
the trackers' own readers; exporting again adds nothing; the run folder is never changed; a missing
extra and a folder that is not a finished run are one line each.

One tiny run (STSTNet on 3 synthetic subjects × 4 clips, 2 epochs, 3 folds) is trained once and exported
through the command line, as a user would; tests that need another state work on copies.
"""

from __future__ import annotations

import json
import re
import shutil
import sys
from pathlib import Path

import pytest

from mebench.analysis.export import read_run_export
from tests.conftest import mebench_cli as cli

TINY_TASK = ("--model", "ststnet", "--dataset", "synthetic", "--dataset-opt", "subjects=3",
             "--dataset-opt", "clips_per_subject=4", "--epochs", "2", "--precision", "fp32", "-q")
EPOCHS, FOLDS = 2, 3
FIGURES = ("accuracy", "uf1", "uar")
ARTIFACTS = ("predictions.csv", "metrics.json", "run.json")


def folder_bytes(folder: Path) -> dict[str, bytes]:
    """Every file under ``folder`` (relative path → bytes)."""
    return {str(path.relative_to(folder)): path.read_bytes() for path in sorted(folder.rglob("*")) if path.is_file()}


def tracker_environment(patch: pytest.MonkeyPatch) -> None:
    """No tracker configuration of the machine's user, and nothing sent anywhere."""
    for name in ("MLFLOW_TRACKING_URI", "WANDB_MODE"):
        patch.delenv(name, raising=False)
    patch.setenv("MLFLOW_DISABLE_TELEMETRY", "true")
    patch.setenv("DO_NOT_TRACK", "true")


@pytest.fixture(autouse=True)
def quiet_trackers(monkeypatch):
    tracker_environment(monkeypatch)


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    """The tiny run, its files' bytes before any export, and two ``mebench export --to mlflow`` of it into
    the default store (beside the results folder)."""
    root = tmp_path_factory.mktemp("export")
    with pytest.MonkeyPatch.context() as patch:
        tracker_environment(patch)
        trained = cli("run", *TINY_TASK, "--output", root / "results", "--cache-dir", root / "cache")
        assert trained.exit_code == 0, trained.output
        (run_dir,) = [path for path in (root / "results").iterdir() if path.is_dir()]
        before = folder_bytes(run_dir)
        first = cli("export", run_dir, "--to", "mlflow")
        second = cli("export", run_dir, "--to", "mlflow")
    assert first.exit_code == 0 and second.exit_code == 0, first.output + second.output
    return {"root": root, "run_dir": run_dir, "before": before, "first": first, "second": second}


def mlflow_run(exported):
    """The MLflow client of the default store and the one run in it."""
    from mlflow.tracking import MlflowClient

    client = MlflowClient(tracking_uri=f"sqlite:///{exported['root'] / 'mlflow.db'}")
    experiment = client.get_experiment_by_name("mebench")
    runs = client.search_runs([experiment.experiment_id])
    assert len(runs) == 1, [run.info.run_name for run in runs]
    return client, runs[0]


def read(run_dir: Path, name: str):
    return json.loads((run_dir / name).read_text())


def fold_losses(run_dir: Path) -> dict[int, list[float]]:
    records = [json.loads(path.read_text()) for path in sorted(run_dir.glob("folds/fold_*.json"))]
    return {record["fold"]: record["epoch_losses"] for record in records}


def test_export_goes_to_a_sqlite_store_beside_the_results_folder(exported):
    root = exported["root"]
    assert (root / "mlflow.db").is_file()
    assert f"sqlite:///{root / 'mlflow.db'}" in exported["first"].stdout
    client, run = mlflow_run(exported)
    assert Path(client.get_experiment(run.info.experiment_id).artifact_location.removeprefix("file://")) \
        == root / "mlartifacts"
    assert not any(path.name in ("mlflow.db", "mlartifacts", "mlruns") for path in (root / "results").rglob("*"))


def test_mlflow_parameters_are_the_runs_configuration(exported):
    _, run = mlflow_run(exported)
    params = run.data.params
    assert {key: params[key] for key in ("model", "dataset", "seed", "epochs", "precision")} == \
        {"model": "ststnet", "dataset": "synthetic", "seed": "0", "epochs": str(EPOCHS), "precision": "fp32"}
    assert params["dataset_options.subjects"] == "3" and params["dataset_options.clips_per_subject"] == "4"
    assert json.loads(params["classes"]) == read(exported["run_dir"], "run.json")["classes"]
    assert run.data.tags["mebench.run_id"] == exported["run_dir"].name
    assert run.info.run_name == exported["run_dir"].name


def test_mlflow_metrics_are_the_runs_figures_with_their_interval_bounds(exported):
    _, run = mlflow_run(exported)
    pooled = read(exported["run_dir"], "metrics.json")["pooled"]
    for figure in FIGURES:
        assert run.data.metrics[figure] == pooled[figure]
        assert (run.data.metrics[f"{figure}_low"], run.data.metrics[f"{figure}_high"]) == tuple(pooled["ci"][figure])


def test_mlflow_has_each_folds_losses_as_steps(exported):
    client, run = mlflow_run(exported)
    losses = fold_losses(exported["run_dir"])
    assert sorted(losses) == list(range(FOLDS)) and all(len(curve) == EPOCHS for curve in losses.values())
    for fold, curve in losses.items():
        history = client.get_metric_history(run.info.run_id, f"train_loss/fold_{fold:03d}")
        assert sorted((m.step, m.value) for m in history) == [(epoch + 1, value) for epoch, value in enumerate(curve)]


def test_mlflow_artifacts_are_the_runs_files(exported, tmp_path):
    client, run = mlflow_run(exported)
    assert sorted(a.path for a in client.list_artifacts(run.info.run_id)) == sorted(ARTIFACTS)
    for name in ARTIFACTS:
        copy = Path(client.download_artifacts(run.info.run_id, name, str(tmp_path)))
        assert copy.read_bytes() == (exported["run_dir"] / name).read_bytes()


def test_exporting_twice_updates_the_one_mlflow_run_and_logs_nothing_twice(exported):
    client, run = mlflow_run(exported)  # one run, checked there
    first, second = (re.search(r"run ([0-9a-f]+)\)", exported[key].stdout).group(1) for key in ("first", "second"))
    assert first == second == run.info.run_id
    assert len(client.get_metric_history(run.info.run_id, "uf1")) == 1
    assert len(client.get_metric_history(run.info.run_id, "train_loss/fold_000")) == EPOCHS


def test_export_never_changes_the_run_folder(exported):
    tensorboard = cli("export", exported["run_dir"], "--to", "tensorboard")  # its default folder, beside the results
    assert tensorboard.exit_code == 0, tensorboard.output
    assert folder_bytes(exported["run_dir"]) == exported["before"]


def tensorboard_events(folder: Path):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    events = EventAccumulator(str(folder))
    events.Reload()
    return events


def test_tensorboard_round_trip(exported, tmp_path):
    result = cli("export", exported["run_dir"], "--to", "tensorboard", "--uri", tmp_path / "tb")
    assert result.exit_code == 0, result.output
    events = tensorboard_events(tmp_path / "tb" / exported["run_dir"].name)
    pooled = read(exported["run_dir"], "metrics.json")["pooled"]
    for figure in FIGURES:  # TensorBoard keeps 32-bit floats
        assert [e.value for e in events.Scalars(figure)] == [pytest.approx(pooled[figure], rel=1e-6)]
        assert [e.value for e in events.Scalars(f"{figure}_high")] == [pytest.approx(pooled["ci"][figure][1], rel=1e-6)]
    for fold, curve in fold_losses(exported["run_dir"]).items():
        scalars = events.Scalars(f"train_loss/fold_{fold:03d}")
        assert [(e.step, e.value) for e in scalars] == [(epoch + 1, pytest.approx(value, rel=1e-6))
                                                        for epoch, value in enumerate(curve)]
    (text,) = events.Tensors("config/text_summary")
    assert "| dataset_options.subjects | 3 |" in text.tensor_proto.string_val[0].decode()


def test_tensorboard_export_twice_rewrites_the_runs_folder(exported, tmp_path):
    for _ in range(2):
        assert cli("export", exported["run_dir"], "--to", "tensorboard", "--uri", tmp_path).exit_code == 0
    folder = tmp_path / exported["run_dir"].name
    assert len(list(folder.glob("events.out.tfevents.*"))) == 1
    assert len(tensorboard_events(folder).Scalars("uf1")) == 1


def test_run_with_track_exports_the_run(exported):
    root = exported["root"]
    result = cli("run", *TINY_TASK, "--output", root / "results", "--cache-dir", root / "cache", "--track", "tensorboard")
    assert result.exit_code == 0, result.output
    folder = root / "tensorboard" / exported["run_dir"].name
    pooled = read(exported["run_dir"], "metrics.json")["pooled"]
    assert [e.value for e in tensorboard_events(folder).Scalars("uf1")] == [pytest.approx(pooled["uf1"], rel=1e-6)]
    assert f"exported {exported['run_dir'].name}" in result.stderr


def test_sweep_with_track_exports_its_complete_runs(exported, tmp_path):
    shutil.copytree(exported["run_dir"], tmp_path / "results" / exported["run_dir"].name)
    result = cli("sweep", "--models", "ststnet", "--datasets", "synthetic", *TINY_TASK[4:], "--output",
                 tmp_path / "results", "--cache-dir", exported["root"] / "cache", "--track", "tensorboard")
    assert result.exit_code == 0, result.output
    events = tensorboard_events(tmp_path / "tensorboard" / exported["run_dir"].name)
    pooled = read(exported["run_dir"], "metrics.json")["pooled"]
    assert [e.value for e in events.Scalars("uar")] == [pytest.approx(pooled["uar"], rel=1e-6)]


def test_sweep_names_a_run_it_could_not_export_and_exits_1(exported, tmp_path):
    shutil.copytree(exported["run_dir"], tmp_path / "results" / exported["run_dir"].name)
    (tmp_path / "tensorboard").write_text("a file where the default TensorBoard folder would go")
    result = cli("sweep", "--models", "ststnet", "--datasets", "synthetic", *TINY_TASK[4:], "--output",
                 tmp_path / "results", "--cache-dir", exported["root"] / "cache", "--track", "tensorboard")
    assert result.exit_code == 1
    (line,) = [line for line in result.stderr.splitlines() if "not exported" in line]
    assert line.startswith(f"{tmp_path / 'results' / exported['run_dir'].name}: not exported to tensorboard: ")
    assert "1 of 1 runs complete" in result.stderr


def test_mlflows_store_is_mlflow_tracking_uri_where_that_is_set(exported, monkeypatch):
    from mebench.analysis.export import default_mlflow_uri

    export = read_run_export(exported["run_dir"])
    assert default_mlflow_uri(export) == f"sqlite:///{exported['root'] / 'mlflow.db'}"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "http://tracking.example:5000")
    assert default_mlflow_uri(export) == "http://tracking.example:5000"


@pytest.mark.slow  # a second MLflow store (its schema is created on first use)
def test_a_run_trained_again_replaces_its_mlflow_run(exported, tmp_path):
    from mlflow.tracking import MlflowClient

    run_dir = Path(shutil.copytree(exported["run_dir"], tmp_path / "results" / exported["run_dir"].name))
    uri = f"sqlite:///{tmp_path / 'store.db'}"
    assert cli("export", run_dir, "--to", "mlflow", "--uri", uri).exit_code == 0
    run, metrics = read(run_dir, "run.json"), read(run_dir, "metrics.json")
    run["finished"], metrics["pooled"]["uf1"] = "2031-01-02T03:04:05+0000", 0.875  # as `mebench run --force` would
    (run_dir / "run.json").write_text(json.dumps(run))
    (run_dir / "metrics.json").write_text(json.dumps(metrics))
    assert cli("export", run_dir, "--to", "mlflow", "--uri", uri).exit_code == 0
    client = MlflowClient(tracking_uri=uri)
    (current,) = client.search_runs([client.get_experiment_by_name("mebench").experiment_id])
    assert current.data.metrics["uf1"] == 0.875 and current.data.tags["mebench.finished"] == run["finished"]


def test_per_dataset_and_multi_label_figures_get_their_bounds(exported, tmp_path):
    run_dir = Path(shutil.copytree(exported["run_dir"], tmp_path / exported["run_dir"].name))
    metrics = read(run_dir, "metrics.json")
    metrics["per_dataset"] = {"casme2": {"n": 4, "accuracy": 0.5, "uf1": 0.4, "uar": 0.45, "per_class": {},
                                           "ci": {"uf1": [0.1, 0.7]}}}
    (run_dir / "metrics.json").write_text(json.dumps(metrics))
    figures = read_run_export(run_dir).metrics
    assert (figures["casme2/uf1"], figures["casme2/uf1_low"], figures["casme2/uf1_high"]) == (0.4, 0.1, 0.7)
    assert figures["casme2/accuracy"] == 0.5 and "casme2/accuracy_low" not in figures
    assert figures["uf1"] == metrics["pooled"]["uf1"]

    multi_label = {"classes": ["AU1", "AU4"], "task": "multi-label",
                   "pooled": {"n": 12, "macro_f1": 0.3, "ci": {"macro_f1": [0.2, 0.4]}}}
    (run_dir / "metrics.json").write_text(json.dumps(multi_label))
    figures = read_run_export(run_dir).metrics
    assert (figures["macro_f1"], figures["macro_f1_low"], figures["macro_f1_high"]) == (0.3, 0.2, 0.4)
    assert "uf1" not in figures


def test_inner_val_validation_losses_are_exported_as_steps_too(exported, tmp_path):
    run_dir = Path(shutil.copytree(exported["run_dir"], tmp_path / exported["run_dir"].name))
    record = json.loads((run_dir / "folds" / "fold_001.json").read_text())
    record.update(selection="inner-val", validation_losses=[0.75, 0.5], selected_epoch=2)
    (run_dir / "folds" / "fold_001.json").write_text(json.dumps(record))
    curves = read_run_export(run_dir).curves
    assert curves["validation_loss/fold_001"] == [0.75, 0.5]
    assert "validation_loss/fold_000" not in curves and curves["train_loss/fold_001"] == record["epoch_losses"]


def test_a_test_oracle_run_is_tagged_leaky(exported, tmp_path):
    run_dir = Path(shutil.copytree(exported["run_dir"], tmp_path / exported["run_dir"].name))
    assert "mebench.leaky" not in read_run_export(run_dir).tags
    run = read(run_dir, "run.json")
    run["selection"] = "test-oracle"
    (run_dir / "run.json").write_text(json.dumps(run))
    tags = read_run_export(run_dir).tags
    assert tags["mebench.selection"] == "test-oracle" and tags["mebench.leaky"].startswith("true")


def one_error_line(result) -> str:
    assert "Traceback" not in result.output
    errors = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(errors) == 1 and errors[0].startswith("Error:"), result.stderr
    return errors[0]


@pytest.mark.parametrize("tracker", ["mlflow", "tensorboard", "wandb"])
def test_a_missing_extra_is_one_line_naming_it(exported, monkeypatch, tracker):
    monkeypatch.setitem(sys.modules, tracker, None)  # `import <tracker>` fails as if it were not installed
    result = cli("export", exported["run_dir"], "--to", tracker)
    assert result.exit_code == 2
    assert f'pip install "mebench[{tracker}]"' in one_error_line(result)


@pytest.mark.parametrize("command", ["run", "sweep"])
def test_track_without_its_extra_stops_before_training(monkeypatch, tmp_path, command):
    monkeypatch.setitem(sys.modules, "wandb", None)
    task = TINY_TASK if command == "run" else ("--models", "ststnet", "--datasets", "synthetic", *TINY_TASK[4:])
    result = cli(command, *task, "--output", tmp_path / "results", "--cache-dir", tmp_path / "cache",
                 "--track", "wandb")
    assert result.exit_code == 2
    assert 'pip install "mebench[wandb]"' in one_error_line(result)
    assert not (tmp_path / "results").exists() and not (tmp_path / "cache").exists()


def test_a_folder_that_is_not_a_finished_run_is_one_line_naming_it(exported, tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    line = one_error_line(result := cli("export", empty, "--to", "tensorboard"))
    assert result.exit_code == 1 and str(empty) in line and "not a finished run" in line

    unfinished = Path(shutil.copytree(exported["run_dir"], tmp_path / "unfinished"))
    (unfinished / "run.json").unlink()
    line = one_error_line(result := cli("export", unfinished, "--to", "tensorboard"))
    assert result.exit_code == 1 and str(unfinished) in line and "incomplete" in line

    results = exported["root"] / "results"
    line = one_error_line(cli("export", results, "--to", "tensorboard"))
    assert "a results folder" in line and f"{results}/*" in line

    # every folder is read before any run is exported: nothing is exported at all
    result = cli("export", exported["run_dir"], empty, "--to", "tensorboard", "--uri", tmp_path / "tb")
    assert result.exit_code == 1 and str(empty) in one_error_line(result)
    assert not (tmp_path / "tb").exists()
