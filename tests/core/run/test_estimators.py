"""Models that are fitted, not trained (``mebench.estimators``): one fit per fold on the fold's training
samples, the same records, predictions and timings a net writes, seeded by the fold, under every
protocol; selection rules that need epochs are refused in one line; no fold batching."""

import json

import numpy as np
import pandas as pd
import pytest
import torch

from mebench.data import ModelSpec
from mebench.errors import ConfigError
from mebench.estimators import count_parameters, is_estimator, predict_probabilities, seeded
from mebench.run.model_card import model_facts, models_leaderboard, render_card
from mebench.run.plan import plan_run
from mebench.registry import Registry
from mebench.run.training import TrainSettings
from mebench.run.learners import ESTIMATOR, NET
from tests.conftest import TINY_CHAIN, TINY_INPUT, tiny_config, tiny_registry, tiny_run

FITS: list[dict] = []  # every fit of the test estimator: its random_state and training size


class NearestCentroid:
    """A deterministic test estimator that records how it was fitted; its ``random_state`` jitters the
    centroids so that a different seed gives different probabilities."""

    def __init__(self, random_state=None, shrink: float = 0.0):
        self.random_state, self.shrink = random_state, shrink

    def get_params(self, deep=True):
        return {"random_state": self.random_state, "shrink": self.shrink}

    def set_params(self, **params):
        for key, value in params.items():
            setattr(self, key, value)
        return self

    def fit(self, X, y):
        FITS.append({"random_state": self.random_state, "n": len(X), "X": X})
        self.classes_ = np.unique(y)
        jitter = np.random.default_rng(self.random_state).normal(0, 1e-3, (len(self.classes_), X.shape[1]))
        self.centroids_ = np.stack([X[y == c].mean(axis=0) for c in self.classes_]) * (1 - self.shrink) + jitter
        self.n_parameters_ = self.centroids_.size
        return self

    def predict_proba(self, X):
        distance = ((X[:, None, :] - self.centroids_[None]) ** 2).sum(axis=2)
        scores = np.exp(-(distance - distance.min(axis=1, keepdims=True)) / X.shape[1])
        return scores / scores.sum(axis=1, keepdims=True)  # columns: self.classes_


def estimator_plugin():
    import types

    from mebench import hookimpl

    module = types.ModuleType("estimator_test_plugin")

    @hookimpl
    def mebench_register_models(register):
        register(ModelSpec(name="centroid", factory=lambda num_classes, input_spec, **kw: NearestCentroid(**kw),
                           input_spec=TINY_INPUT, preprocessing=TINY_CHAIN, description="a fitted test model"))

    module.mebench_register_models = mebench_register_models
    return module


@pytest.fixture(scope="module")
def registry():
    return tiny_registry(estimator_plugin())


def centroid_run(registry, output, **overrides):
    FITS.clear()
    return tiny_run(registry, output, model="centroid", **overrides)


def test_an_estimator_is_fitted_once_per_fold_and_writes_the_records_a_net_writes(registry, tmp_path):
    outcome = centroid_run(registry, tmp_path)
    plan = plan_run(tiny_config(model="centroid"), registry)
    assert plan.learner is ESTIMATOR and plan_run(tiny_config(), registry).learner is NET
    folds = plan.folds
    # one fit per fold on its training samples, one more to time inference and count parameters
    assert [f["n"] for f in FITS] == [len(f.train) for f in folds] + [len(folds[0].train)]
    assert all(f["X"].shape[1] == 3 * 16 * 16 for f in FITS)  # the model input, flattened
    record = json.loads((outcome.run_dir / "run.json").read_text())
    assert record["parameters"] == FITS[-1]["X"].shape[1] * len(np.unique(plan.table.labels[folds[0].train]))
    assert len(record["timing"]["train_seconds_per_fold"]) == len(folds)
    assert record["timing"]["inference_fps"] > 0 and record["timing"]["inference_batch_size"] == 12
    for fold in folds:
        saved = json.loads((outcome.run_dir / "folds" / f"fold_{fold.index:03d}.json").read_text())
        assert saved["epoch_losses"] == [] and saved["n_train"] == len(fold.train) and saved["train_seconds"] > 0
        assert sorted(p["sample_id"] for p in saved["predictions"]) == sorted(plan.samples[i].id for i in fold.test)
    predictions = pd.read_csv(outcome.run_dir / "predictions.csv")
    assert len(predictions) == 12 and np.allclose(predictions.filter(like="p_").sum(axis=1), 1.0)
    assert (outcome.run_dir / "metrics.json").exists()


def test_an_estimator_fit_is_seeded_by_the_run_seed_and_the_fold(registry, tmp_path):
    a = centroid_run(registry, tmp_path / "a")
    seeds = [f["random_state"] for f in FITS]
    settings = TrainSettings(epochs=1, seed=0)
    assert seeds[:3] == [settings.fold_seed(i) for i in range(3)]
    b = centroid_run(registry, tmp_path / "b")
    c = centroid_run(registry, tmp_path / "c", seed=1)
    assert [f["random_state"] for f in FITS][:3] == [TrainSettings(epochs=1, seed=1).fold_seed(i) for i in range(3)]
    pa, pb, pc = (pd.read_csv(o.run_dir / "predictions.csv").filter(like="p_").to_numpy() for o in (a, b, c))
    assert np.array_equal(pa, pb) and not np.array_equal(pa, pc)


@pytest.mark.parametrize("selection", ["inner-val", "test-oracle"])
def test_an_estimator_with_a_selection_rule_is_refused_in_one_line(registry, selection):
    with pytest.raises(ConfigError, match=f"--selection {selection}: model 'centroid' is an estimator") as error:
        plan_run(tiny_config(model="centroid", selection=selection), registry)
    assert "\n" not in str(error.value) and "--selection fixed" in str(error.value)


def test_an_estimator_on_a_multi_label_task_is_refused_in_one_line(registry):
    with pytest.raises(ConfigError, match="'centroid' is an estimator of one class per sample; task 'synthetic-au'"):
        plan_run(tiny_config(model="centroid", dataset="synthetic-au"), registry)


def test_an_estimator_is_never_fold_batched_nor_compiled(registry):
    plan = plan_run(tiny_config(model="centroid", fold_batch="4", compile=True), registry)
    assert plan.fold_batch == "off"
    from mebench.run.execute import FoldJob

    data = type("Data", (), {"subjects": [], "sample_ids": [s.id for s in plan.samples]})()
    assert not FoldJob.of(plan, data, plan.folds[0]).compile and FoldJob.of(plan, data, plan.folds[0]).learner is ESTIMATOR


def test_a_selection_refusal_is_a_usage_error_on_the_command_line(cli):
    result = cli("run", "--model", "lbptop", "--dataset", "synthetic", "--selection", "test-oracle")
    assert result.exit_code == 2
    assert "is an estimator fitted once per fold" in result.output and len(result.output.strip().splitlines()) == 1


@pytest.mark.filterwarnings("ignore:The least populated class")  # k-fold on 3 subjects of 4 clips
def test_an_estimator_runs_under_kfold_too(registry, tmp_path):
    outcome = centroid_run(registry, tmp_path, protocol="kfold", protocol_options={"k": 3})
    assert outcome.record.n_folds == 3 and outcome.record.protocol == "kfold"
    assert len(pd.read_csv(outcome.run_dir / "predictions.csv")) == 12


@pytest.mark.slow
@pytest.mark.parametrize("protocol, options, dataset", [("lodo", {}, "combined"),
                                                       ("cross", {"target": "smic"}, "casme2")])
def test_an_estimator_runs_under_the_cross_database_protocols(registry, megc_root, tmp_path, protocol, options, dataset):
    outcome = centroid_run(registry, tmp_path, dataset=dataset, protocol=protocol, protocol_options=options,
                           data_root=str(megc_root), dataset_options={})
    assert outcome.record.n_samples == (442 if protocol == "lodo" else 164)
    assert all(json.loads(p.read_text())["epoch_losses"] == [] for p in (outcome.run_dir / "folds").iterdir())


def test_probabilities_of_a_fold_that_lacked_a_class_are_put_in_their_places():
    estimator = NearestCentroid(random_state=0).fit(np.array([[0.0], [0.1], [5.0]]), np.array([0, 0, 2]))
    x = torch.tensor([[[[0.0]]], [[[5.0]]]])
    probabilities = predict_probabilities(estimator, x, np.array([0, 1]), 3)
    assert probabilities.shape == (2, 3) and (probabilities[:, 1] == 0).all()
    assert probabilities[0].argmax() == 0 and probabilities[1].argmax() == 2


def test_is_estimator_seeding_and_parameter_count():
    assert is_estimator(NearestCentroid()) and not is_estimator(torch.nn.Linear(2, 2))
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler
    from sklearn.svm import SVC

    pipeline = seeded(make_pipeline(StandardScaler(), SVC(probability=True)), 7)
    assert pipeline.get_params()["svc__random_state"] == 7
    assert count_parameters(NearestCentroid()) == 0  # an estimator that defines no count counts 0


def test_an_estimators_card_shows_no_parameters_or_macs_before_fitting(registry):
    facts = model_facts(registry.models.get("lbptop"))
    assert facts.parameters is None and facts.macs is None
    text = render_card(facts)
    assert "parameters (ours)" in text and "— (an estimator" in text
    only = Registry()
    only.models.add(registry.models.get("lbptop"), "svm_baselines")
    row = models_leaderboard(only).splitlines()[-1]
    assert row.startswith("| lbptop ") and row.count("| —") == 2  # params and MACs


def test_an_estimator_run_says_it_was_fitted_not_trained_by_epochs(registry, tmp_path):
    """run.json names the learner; the leaderboard and the report show "fitted", not the unused epoch budget."""
    from mebench.analysis.configurations import load_run_folders
    from mebench.analysis.leaderboard import leaderboard_tables, render_tables
    from mebench.analysis.report import _protocol_rows

    fitted = centroid_run(registry, tmp_path / "fitted").run_dir
    trained = tiny_run(registry, tmp_path / "trained").run_dir
    assert json.loads((fitted / "run.json").read_text())["learner"] == "estimator"
    assert json.loads((trained / "run.json").read_text())["learner"] == "net"
    configurations = load_run_folders([fitted, trained])
    text = render_tables(leaderboard_tables(configurations))
    rows = {line.split("|")[1].strip(): [cell.strip() for cell in line.split("|")]
            for line in text.splitlines() if line.startswith("| centroid") or line.startswith("| tiny")}
    epochs_column = text.splitlines()[2].split("|").index(" epochs   ")
    assert rows["centroid"][epochs_column] == "fitted" and rows["tiny"][epochs_column] == "1"
    assert "1 epochs per fold; centroid fitted once per fold (no epochs)" in text
    fitted_rows = _protocol_rows(next(c for c in configurations if c.model == "centroid"))
    assert "fitted once per fold" in fitted_rows[1] and "batch " not in fitted_rows[3] and "lr " not in fitted_rows[3]
