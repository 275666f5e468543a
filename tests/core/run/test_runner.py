import json

import numpy as np
import pandas as pd
import pytest

from mebench.errors import ConfigError, UnknownNameError
from mebench.run.runner import run
from tests.conftest import QUIET, tiny_config, tiny_run


def test_run_writes_the_three_result_files(registry, tmp_path):
    outcome = tiny_run(registry, tmp_path, epochs=2)
    files = {p.name for p in outcome.run_dir.iterdir()}
    assert {"run.json", "predictions.csv", "metrics.json"} <= files
    run = json.loads((outcome.run_dir / "run.json").read_text())
    assert run["model"] == "tiny" and run["seed"] == 0 and run["n_folds"] == 3 and run["n_samples"] == 12
    assert run["config"]["epochs"] == 2 and run["config"]["lr"] == 1e-4
    assert run["parameters"] == sum(p.numel() for p in registry.models.get("tiny").build(3).parameters())
    assert len(run["timing"]["train_seconds_per_fold"]) == 3
    assert run["timing"]["inference_fps"] > 0 and run["timing"]["inference_batch_size"] == 12
    assert {"torch", "timm", "numpy"} <= set(run["environment"]["versions"])
    predictions = pd.read_csv(outcome.run_dir / "predictions.csv")
    assert list(predictions.columns[:6]) == ["sample_id", "dataset", "subject", "fold", "true_label", "predicted_label"]
    assert len(predictions) == 12 and predictions["sample_id"].is_unique
    probabilities = predictions[["p_negative", "p_positive", "p_surprise"]].to_numpy()
    assert np.allclose(probabilities.sum(axis=1), 1.0, atol=1e-5)
    # every sample is tested exactly in the fold of its own subject
    assert predictions.groupby("subject")["fold"].nunique().eq(1).all()
    metrics = json.loads((outcome.run_dir / "metrics.json").read_text())
    accuracy = (predictions["true_label"] == predictions["predicted_label"]).mean()
    assert metrics["pooled"]["accuracy"] == pytest.approx(accuracy)


def test_same_seed_same_predictions_and_different_seed_different_run(registry, tmp_path):
    a = tiny_run(registry, tmp_path / "a")
    b = tiny_run(registry, tmp_path / "b")
    pa, pb = (pd.read_csv(o.run_dir / "predictions.csv") for o in (a, b))
    assert np.allclose(pa.filter(like="p_").to_numpy(), pb.filter(like="p_").to_numpy(), atol=1e-6)
    c = tiny_run(registry, tmp_path / "a", seed=1)
    assert c.run_dir != a.run_dir and a.run_dir.exists()


def test_rerun_is_a_no_op_and_an_interrupted_run_resumes_from_finished_folds(registry, tmp_path, monkeypatch):
    first = tiny_run(registry, tmp_path)
    again = tiny_run(registry, tmp_path)
    assert again.reused and again.run_dir == first.run_dir

    # simulate a run killed after two folds: outputs and the last fold's checkpoint are gone
    for name in ("run.json", "metrics.json", "predictions.csv"):
        (first.run_dir / name).unlink()
    (first.run_dir / "folds" / "fold_002.json").unlink()
    import mebench.run.learners

    trained = []
    real_train = mebench.run.learners.train_fold
    monkeypatch.setattr(mebench.run.learners, "train_fold", lambda *a, **k: trained.append(a[3].index) or real_train(*a, **k))
    resumed = tiny_run(registry, tmp_path)
    assert trained == [2]
    assert not resumed.reused
    assert pd.read_csv(resumed.run_dir / "predictions.csv").shape[0] == 12

    trained.clear()
    run(tiny_config(), registry, output_dir=tmp_path, force=True, **QUIET)
    assert trained == [0, 1, 2]


def test_fold_batched_run_matches_the_sequential_run(registry, tmp_path):
    sequential = tiny_run(registry, tmp_path / "s")
    batched = tiny_run(registry, tmp_path / "b", fold_batch="2")
    assert batched.run_dir.name == sequential.run_dir.name  # an execution lever, not a different protocol
    folds = json.loads((batched.run_dir / "folds" / "fold_000.json").read_text())
    assert folds["folds_trained_together"] == 2
    ps, pb = (pd.read_csv(o.run_dir / "predictions.csv") for o in (sequential, batched))
    assert np.allclose(ps.filter(like="p_").to_numpy(), pb.filter(like="p_").to_numpy(), atol=1e-4)


def test_bf16_autocast_and_channels_last_path_runs(registry, tmp_path):
    from mebench.hardware import bf16_supported
    import torch

    if not bf16_supported(torch.device("cpu")):
        pytest.skip("this CPU has no bf16 support")
    outcome = tiny_run(registry, tmp_path, precision="bf16", channels_last="on")
    assert outcome.record.config["precision"] == "bf16" and outcome.record.config["channels_last"]


def test_bad_configurations_are_refused_clearly(registry, tmp_path):
    with pytest.raises(ConfigError, match="precision"):
        tiny_run(registry, tmp_path, precision="fp8")
    with pytest.raises(UnknownNameError, match="did you mean tiny"):
        tiny_run(registry, tmp_path, model="tinyy")
