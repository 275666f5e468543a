"""What the action-unit metrics promise (issue 29), read field by field against figures computed here by hand:
macro-F1 over the labels present in the truth or the predictions, a probability of exactly 0.5 detected, the
fold-mean macro-F1 as the mean over folds, each database's macro-F1 from its own samples, and the chance line a
run prints — on six hand-made predictions and on a run of a net whose every output is a logit of 0."""

from __future__ import annotations

import dataclasses
import json
import types

import numpy as np
import pandas as pd
import pytest
import torch
from torch import nn

from mebench import hookimpl
from mebench.data import DatasetSpec, ModelSpec
from mebench.metrics import pooled_label_metrics
from mebench.records import Metrics
from mebench_plugins.datasets.synthetic import AU_ACTIONS, AU_OPTIONS, load_synthetic_au
from mebench.tasks import MULTI_LABEL
from tests.conftest import TINY_CHAIN, TINY_INPUT, tiny_registry, tiny_run


def f1(tp: int, fp: int, fn: int) -> float:
    return 2 * tp / (2 * tp + fp + fn)


# --- six predictions by hand ------------------------------------------------------------------------------------

LABELS = ("AU1", "AU2", "AU4")
#: sample, dataset, subject, fold, truth, detected. AU4 is detected once and never true.
SIX = [("s1", "A", "a", 0, "AU1", "AU1"), ("s2", "A", "a", 0, "AU1+AU2", "AU1"), ("s3", "A", "b", 1, "none", "AU4"),
       ("s4", "B", "c", 1, "AU2", "AU2"), ("s5", "B", "c", 1, "AU1", "none"), ("s6", "B", "d", 0, "AU2", "AU1+AU2")]


@pytest.fixture(scope="module")
def six():
    frame = pd.DataFrame(SIX, columns=["sample_id", "dataset", "subject", "fold", "true_label", "predicted_label"])
    return pooled_label_metrics(frame, LABELS)


def test_macro_f1_counts_a_label_present_in_the_truth_or_the_predictions(six):
    # AU1: TP s1 s2, FP s6, FN s5; AU2: TP s4 s6, FN s2; AU4: FP s3 (never true: F1 0, and counted)
    au1, au2, au4 = f1(2, 1, 1), f1(2, 0, 1), f1(0, 1, 0)
    assert (au1, au2, au4) == (4 / 6, 4 / 5, 0.0)
    assert six["pooled"]["macro_f1"] == pytest.approx((au1 + au2 + au4) / 3)
    per_class = six["pooled"]["per_class"]
    assert per_class["AU1"] == pytest.approx({"precision": 2 / 3, "recall": 2 / 3, "f1": au1, "support": 3,
                                              "predicted": 3})
    assert per_class["AU2"] == pytest.approx({"precision": 1.0, "recall": 2 / 3, "f1": au2, "support": 3,
                                              "predicted": 2})
    assert per_class["AU4"] == pytest.approx({"precision": 0.0, "recall": 0.0, "f1": 0.0, "support": 0,
                                              "predicted": 1})


def test_the_fold_mean_macro_f1_is_the_mean_over_folds_not_the_pooled_figure(six):
    # fold 0 (s1 s2 s6): AU1 TP 2 FP 1; AU2 TP 1 FN 1; AU4 absent from both → left out
    fold0 = (f1(2, 1, 0) + f1(1, 0, 1)) / 2
    # fold 1 (s3 s4 s5): AU1 FN 1; AU2 TP 1; AU4 FP 1
    fold1 = (f1(0, 0, 1) + f1(1, 0, 0) + f1(0, 1, 0)) / 3
    assert six["fold_mean"]["macro_f1"] == pytest.approx((fold0 + fold1) / 2)
    assert six["fold_mean"]["folds"] == 2
    assert six["fold_mean"]["macro_f1"] != pytest.approx(six["pooled"]["macro_f1"])


def test_each_databases_macro_f1_scores_its_own_samples_only(six):
    # A (s1 s2 s3): AU1 TP 2; AU2 FN 1; AU4 FP 1
    a = (f1(2, 0, 0) + f1(0, 0, 1) + f1(0, 1, 0)) / 3
    # B (s4 s5 s6): AU1 FP 1 FN 1; AU2 TP 2; AU4 absent → left out
    b = (f1(0, 1, 1) + f1(2, 0, 0)) / 2
    assert six["per_dataset"]["A"]["macro_f1"] == pytest.approx(a) and six["per_dataset"]["A"]["n"] == 3
    assert six["per_dataset"]["B"]["macro_f1"] == pytest.approx(b) and six["per_dataset"]["B"]["n"] == 3
    assert six["per_dataset"]["B"]["per_class"]["AU2"]["support"] == 2


def test_the_chance_line_of_six_predictions(six):
    metrics = Metrics.from_json(six)
    # prevalences AU1 3/6, AU2 3/6; AU4 has no positive and is left out of the mean
    assert MULTI_LABEL.chance_line(metrics.pooled) == ("chance: macro-F1 0.000 (never detecting a label), 0.500 (each label at "
                                           "random at its prevalence)")


def test_a_probability_of_exactly_one_half_is_a_detection_when_epochs_are_scored():
    truth = np.array([[1, 0], [0, 1], [1, 1]])
    half = np.full((1, 3, 2), 0.5)
    below = np.nextafter(half, 0)
    # everything detected: label 1 TP 2 FP 1, label 2 TP 2 FP 1
    assert MULTI_LABEL.epoch_scores(np.concatenate([half, below]), truth) == pytest.approx([f1(2, 1, 0), 0.0])


# --- a run whose net outputs a logit of 0 for every label --------------------------------------------------------

class EvenNet(nn.Module):
    """A logit of 0 (probability exactly 0.5) for every label of every sample; its one parameter gets no
    gradient, so training leaves it so."""

    def __init__(self, num_classes: int):
        super().__init__()
        self.num_classes = num_classes
        self.anchor = nn.Parameter(torch.zeros(1))

    def forward(self, x):
        return self.anchor * 0 + torch.zeros(len(x), self.num_classes, device=x.device)


def load_pair(data_root=None, **options):
    """``synthetic-au`` with its last subject's clips as a second source database, ``pair-b``."""
    samples = load_synthetic_au(data_root, **options)
    last = sorted({s.subject for s in samples})[-1]
    return [dataclasses.replace(s, dataset="pair-b", id=s.id.replace(s.dataset, "pair-b", 1),
                                subject=s.subject.replace(s.dataset, "pair-b", 1)) if s.subject == last else s
            for s in samples]


def even_plugin():
    module = types.ModuleType("even_test_plugin")

    @hookimpl
    def mebench_register_models(register):
        register(ModelSpec(name="even", factory=lambda num_classes, input_spec, **kw: EvenNet(num_classes),
                           input_spec=TINY_INPUT, preprocessing=TINY_CHAIN, description="logit 0 everywhere"))

    @hookimpl
    def mebench_register_datasets(register):
        register(DatasetSpec(name="au-pair", load=load_pair, classes=tuple(AU_ACTIONS), kind=MULTI_LABEL,
                             needs_data_root=False, options=AU_OPTIONS,
                             description="synthetic-au as two source databases"))

    module.mebench_register_models = mebench_register_models
    module.mebench_register_datasets = mebench_register_datasets
    return module


@pytest.fixture(scope="module")
def even_run(tmp_path_factory):
    outcome = tiny_run(tiny_registry(even_plugin()), tmp_path_factory.mktemp("even"), model="even",
                       dataset="au-pair")
    predictions = pd.read_csv(outcome.run_dir / "predictions.csv")
    metrics = json.loads((outcome.run_dir / "metrics.json").read_text())
    return outcome, predictions, metrics


def hand_figures(truth: pd.Series) -> dict:
    """Figures of predictions that detect every label, from the labels present alone: a label with P positives
    among n samples has TP P, FP n − P, FN 0."""
    n = len(truth)
    positives = {label: sum(label in str(t).split("+") for t in truth) for label in AU_ACTIONS}
    per_label = {label: f1(p, n - p, 0) for label, p in positives.items()}
    return {"n": n, "positives": positives, "f1": per_label, "macro_f1": sum(per_label.values()) / len(per_label)}


def test_an_even_net_detects_every_label_at_one_half(even_run):
    _, predictions, _ = even_run
    assert (predictions[[f"p_{label}" for label in AU_ACTIONS]] == 0.5).all().all()
    assert set(predictions["predicted_label"]) == {"+".join(AU_ACTIONS)}


def test_the_multi_label_metrics_json_field_by_field(even_run):
    _, predictions, metrics = even_run
    assert metrics["task"] == "multi-label" and metrics["classes"] == list(AU_ACTIONS)
    pooled = hand_figures(predictions["true_label"])
    assert metrics["pooled"]["n"] == pooled["n"] == 12
    assert metrics["pooled"]["macro_f1"] == pytest.approx(pooled["macro_f1"])
    for label, p in pooled["positives"].items():
        assert metrics["pooled"]["per_class"][label] == pytest.approx(
            {"precision": p / 12, "recall": 1.0 if p else 0.0, "f1": pooled["f1"][label], "support": p,
             "predicted": 12}), label
    assert set(metrics["per_dataset"]) == {"synthetic", "pair-b"}
    for name, rows in predictions.groupby("dataset"):
        own = hand_figures(rows["true_label"])
        assert metrics["per_dataset"][name]["n"] == own["n"]
        assert metrics["per_dataset"][name]["macro_f1"] == pytest.approx(own["macro_f1"]), name
    folds = [hand_figures(rows["true_label"])["macro_f1"] for _, rows in predictions.groupby("fold")]
    assert metrics["fold_mean"]["folds"] == len(folds) == 3
    assert metrics["fold_mean"]["macro_f1"] == pytest.approx(sum(folds) / 3)


def test_an_au_run_prints_its_chance_line_with_both_figures(even_run):
    outcome, predictions, _ = even_run
    positives = hand_figures(predictions["true_label"])["positives"]
    present = [p / 12 for p in positives.values() if p]
    expected = (f"chance: macro-F1 0.000 (never detecting a label), {sum(present) / len(present):.3f} (each label "
                f"at random at its prevalence)")
    lines = outcome.summary().splitlines()
    assert expected in lines
    assert lines.index(expected) < next(i for i, line in enumerate(lines) if line.startswith("| label"))


def test_the_leaderboard_of_an_au_composite_has_a_macro_f1_column_per_database(even_run):
    """Fast stand-in for the slow CD6ME leaderboard test: each source database's macro-F1 in its own column."""
    from mebench.analysis.configurations import load_configurations
    from mebench.analysis.leaderboard import leaderboard_tables

    outcome, predictions, _ = even_run
    [table] = leaderboard_tables(load_configurations(outcome.run_dir.parent))
    [row] = table.display.to_dict("records")
    for name, rows in predictions.groupby("dataset"):
        assert row[f"{name} macro-F1"].startswith(f"{hand_figures(rows['true_label'])['macro_f1']:.3f} ["), name
    assert row["macro-F1"].startswith(f"{hand_figures(predictions['true_label'])['macro_f1']:.3f} [")
