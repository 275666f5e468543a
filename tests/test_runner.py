import json

import numpy as np
import pandas as pd
import pytest

from mebench.runner import ConfigError, RunConfig, run_loso
from tests.conftest import TINY_DATASET


def tiny_config(**overrides):
    values = dict(model="tiny", dataset="synthetic", epochs=2, batch_size=8, device="cpu", precision="fp32",
                  dataset_options=dict(TINY_DATASET))
    values.update(overrides)
    return RunConfig(**values)


def test_run_writes_the_three_result_files(registry, tmp_path):
    outcome = run_loso(tiny_config(), registry, output_dir=tmp_path, progress=False, workers=1, log=lambda _: None)
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
    a = run_loso(tiny_config(), registry, output_dir=tmp_path / "a", progress=False, workers=1, log=lambda _: None)
    b = run_loso(tiny_config(), registry, output_dir=tmp_path / "b", progress=False, workers=1, log=lambda _: None)
    pa, pb = (pd.read_csv(o.run_dir / "predictions.csv") for o in (a, b))
    assert np.allclose(pa.filter(like="p_").to_numpy(), pb.filter(like="p_").to_numpy(), atol=1e-6)
    c = run_loso(tiny_config(seed=1), registry, output_dir=tmp_path / "a", progress=False, workers=1, log=lambda _: None)
    assert c.run_dir != a.run_dir and a.run_dir.exists()


def test_rerun_is_a_no_op_and_an_interrupted_run_resumes_from_finished_folds(registry, tmp_path, monkeypatch):
    first = run_loso(tiny_config(), registry, output_dir=tmp_path, progress=False, workers=1, log=lambda _: None)
    again = run_loso(tiny_config(), registry, output_dir=tmp_path, progress=False, workers=1, log=lambda _: None)
    assert again.reused and again.run_dir == first.run_dir

    # simulate a run killed after two folds: outputs and the last fold's checkpoint are gone
    for name in ("run.json", "metrics.json", "predictions.csv"):
        (first.run_dir / name).unlink()
    (first.run_dir / "folds" / "fold_002.json").unlink()
    import mebench.execute as loso

    trained = []
    real_train = loso.train_fold
    monkeypatch.setattr(loso, "train_fold", lambda *a, **k: trained.append(a[3].index) or real_train(*a, **k))
    resumed = run_loso(tiny_config(), registry, output_dir=tmp_path, progress=False, workers=1, log=lambda _: None)
    assert trained == [2]
    assert not resumed.reused
    assert pd.read_csv(resumed.run_dir / "predictions.csv").shape[0] == 12

    trained.clear()
    run_loso(tiny_config(), registry, output_dir=tmp_path, progress=False, workers=1, force=True, log=lambda _: None)
    assert trained == [0, 1, 2]


def test_fold_batched_run_matches_the_sequential_run(registry, tmp_path):
    sequential = run_loso(tiny_config(), registry, output_dir=tmp_path / "s", progress=False, workers=1,
                          log=lambda _: None)
    batched = run_loso(tiny_config(fold_batch="2"), registry, output_dir=tmp_path / "b", progress=False, workers=1,
                       log=lambda _: None)
    assert batched.run_dir.name == sequential.run_dir.name  # an execution lever, not a different protocol
    folds = json.loads((batched.run_dir / "folds" / "fold_000.json").read_text())
    assert folds["folds_trained_together"] == 2
    ps, pb = (pd.read_csv(o.run_dir / "predictions.csv") for o in (sequential, batched))
    assert np.allclose(ps.filter(like="p_").to_numpy(), pb.filter(like="p_").to_numpy(), atol=1e-4)


def test_bf16_autocast_and_channels_last_path_runs(registry, tmp_path):
    from mebench.training import bf16_supported
    import torch

    if not bf16_supported(torch.device("cpu")):
        pytest.skip("this CPU has no bf16 support")
    outcome = run_loso(tiny_config(precision="bf16", channels_last="on"), registry, output_dir=tmp_path,
                       progress=False, workers=1, log=lambda _: None)
    assert outcome.run_info["config"]["precision"] == "bf16" and outcome.run_info["config"]["channels_last"]


def test_bad_configurations_are_refused_clearly(registry, tmp_path):
    with pytest.raises(ConfigError, match="precision"):
        run_loso(tiny_config(precision="fp8"), registry, output_dir=tmp_path, progress=False, log=lambda _: None)
    with pytest.raises(LookupError, match="did you mean tiny"):
        run_loso(tiny_config(model="tinyy"), registry, output_dir=tmp_path, progress=False, log=lambda _: None)
