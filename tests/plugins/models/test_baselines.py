"""The hand-crafted baselines (LBP-TOP + SVM, the official MEGC2019 baseline; Bi-WOOF + SVM) and a run
of every model of issue 22 through the runner on the tiny synthetic configuration."""

import json

import numpy as np
import pandas as pd
import pytest
from sklearn.svm import SVC

from mebench.data import Fidelity
from mebench.registry import discover
from mebench_plugins.models.svm_baselines import LinearSVM
from tests.conftest import tiny_run

REGISTRY = discover()


def blobs(classes=(0, 1, 2), n=10, d=6, seed=0):
    rng = np.random.default_rng(seed)
    y = np.repeat(classes, n)
    return rng.normal(size=(len(y), d)) + 3 * np.eye(d)[y % d], y


def test_linear_svm_predicts_libsvms_vote_with_one_column_per_class():
    X, y = blobs()
    model = LinearSVM(num_classes=3).fit(X, y)
    probabilities = model.predict_proba(X)
    assert probabilities.shape == (30, 3) and np.allclose(probabilities.sum(axis=1), 1.0)
    assert np.array_equal(probabilities.argmax(axis=1), SVC(kernel="linear").fit(X, y).predict(X))
    assert model.n_parameters_ == 3 * 6 + 3  # three one-vs-one hyperplanes and their intercepts
    assert LinearSVM(num_classes=3, standardise=True).fit(X, y).n_parameters_ == 3 * 6 + 3 + 2 * 6


def test_linear_svm_on_a_fold_missing_classes():
    X, y = blobs(classes=(0, 2))
    two = LinearSVM(num_classes=3).fit(X, y).predict_proba(X)
    assert two.shape == (20, 3) and (two[:, 1] == 0).all() and (two.argmax(axis=1) == y).mean() > 0.9
    one = LinearSVM(num_classes=3).fit(X[:5], y[:5]).predict_proba(X)
    assert (one.argmax(axis=1) == 0).all()


def test_linear_svm_is_deterministic():
    X, y = blobs(seed=3)
    a = LinearSVM(random_state=1).fit(X, y).predict_proba(X)
    b = LinearSVM(random_state=2).fit(X, y).predict_proba(X)
    assert np.array_equal(a, b)


@pytest.mark.parametrize("name, features", [("lbptop", 1_200), ("biwoof", 200)])
def test_baseline_cards_say_what_parameters_mean_and_cite_their_figures(name, features):
    spec = REGISTRY.models.get(name)
    assert spec.input_spec.channels == features and (spec.input_spec.height, spec.input_spec.width) == (1, 1)
    card = spec.card
    assert card.fidelity in (Fidelity.RECONSTRUCTED, Fidelity.ADAPTED) and "parameters" in card.fidelity_detail
    (figures,) = card.reported
    assert figures.source and figures.per_dataset and figures.note


def test_the_official_baselines_figures_are_the_challenge_documents():
    (figures,) = REGISTRY.models.get("lbptop").reported
    assert "MEGC2019" in figures.source and (figures.uf1, figures.uar) == (0.5882, 0.5785)
    assert figures.per_dataset == {"smic": {"uf1": 0.2000, "uar": 0.5280}, "casme2": {"uf1": 0.7026, "uar": 0.7429},
                                   "samm": {"uf1": 0.3954, "uar": 0.4102}}
    chain = dict((step, options) for step, options in REGISTRY.models.get("lbptop").preprocessing)
    assert chain["tim"] == {"frames": 10}
    assert chain["lbp_top"] == {"points": 4, "radius_x": 1.0, "radius_y": 1.0, "radius_t": 4.0, "blocks": 5}


# --- every new model runs through the runner ---------------------------------------------------------------

NETS = ["rcn-a", "rcn-s", "rcn-w", "rcn-p", "rcn-c", "rcn-f", "sssnet", "offtanet"]
#: the big nets run at a reduced width here (their full size is pinned in tests/plugins/models/test_mer_nets.py)
SMALL_OPTIONS = {"htnet": {"dim": 8, "heads": 1, "block_repeats": "1,1,1"},
                 "inceptr": {"embed_dim": 16, "fusion_channels": 4, "hidden": 16}}


@pytest.mark.slow
@pytest.mark.parametrize("name", ["lbptop", "biwoof"] + NETS + ["htnet", "inceptr"])
def test_every_new_model_runs_on_the_tiny_synthetic_configuration(name, tmp_path):
    options = SMALL_OPTIONS.get(name, {})
    outcome = tiny_run(REGISTRY, tmp_path, model=name, model_options=options)
    record = json.loads((outcome.run_dir / "run.json").read_text())
    assert record["n_samples"] == 12 and record["n_folds"] == 3 and record["parameters"] > 0
    spec = REGISTRY.models.get(name)
    if spec.card.reference_parameters and not options:
        assert record["parameters"] == spec.card.reference_parameters
    predictions = pd.read_csv(outcome.run_dir / "predictions.csv")
    assert len(predictions) == 12 and np.allclose(predictions.filter(like="p_").sum(axis=1), 1.0, atol=1e-5)
    losses = [json.loads(p.read_text())["epoch_losses"] for p in sorted((outcome.run_dir / "folds").iterdir())]
    assert all(len(fold) == (0 if name in ("lbptop", "biwoof") else 1) for fold in losses)
