"""Multi-label (action-unit) tasks in the core: metrics, intervals, comparisons, chance, loss and model
selection, on cases with known answers."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch

from mebench.metrics import label_matrix, label_metrics
from mebench.records import Metrics
from mebench.statistics import encode_labels, label_metrics_from_counts, paired_bootstrap, subject_bootstrap
from mebench.tasks import MULTI_LABEL
from mebench.run.training import TrainSettings, fold_pos_weight

LABELS = ("AU1", "AU4", "AU12")


def test_f1_per_label_and_macro_f1_by_hand():
    # AU1: TP 2, FP 1, FN 1 → F1 4/6; AU4: nothing in truth or predictions → no F1, left out; AU12: TP 0, FN 2 → 0
    counts = np.array([[2, 1, 1], [0, 0, 0], [0, 0, 2]])
    result = label_metrics_from_counts(counts, LABELS)
    assert result["f1_AU1"] == pytest.approx(4 / 6) and np.isnan(result["f1_AU4"]) and result["f1_AU12"] == 0.0
    assert result["macro_f1"] == pytest.approx((4 / 6 + 0) / 2)


def random_labels(n=60, k=3, seed=0, right=0.8):
    rng = np.random.default_rng(seed)
    truth = rng.random((n, k)) < 0.3
    predicted = np.where(rng.random((n, k)) < right, truth, ~truth)
    return truth, predicted, np.repeat(np.arange(n // 4), 4)


def test_pooled_label_figures_agree_with_the_vectorised_bootstrap_figures():
    truth, predicted, groups = random_labels()
    figures = label_metrics(truth, predicted, LABELS)
    estimate = subject_bootstrap(encode_labels(truth, predicted, groups, LABELS))["estimate"]
    assert estimate["macro_f1"] == pytest.approx(figures["macro_f1"])
    for label in LABELS:
        assert estimate[f"f1_{label}"] == pytest.approx(figures["per_class"][label]["f1"])
        assert figures["per_class"][label]["support"] == int(truth[:, LABELS.index(label)].sum())


def test_all_right_gives_the_interval_one_one_and_a_run_against_itself_p_one():
    truth, _, groups = random_labels()
    data = encode_labels(truth, truth, groups, LABELS)
    result = subject_bootstrap(data)
    assert result["estimate"]["macro_f1"] == 1.0 and result["macro_f1"] == [1.0, 1.0]
    assert paired_bootstrap(data, data)["macro_f1"] == {"delta": 0.0, "ci": [0.0, 0.0], "p": 1.0}


def test_the_label_bootstrap_resamples_subjects():
    """One subject holds every positive of AU1: a draw without it has no AU1 at all, so the interval of
    AU1's F1 is NaN-free only over the draws that show it, and macro-F1 moves with the subject."""
    truth = np.zeros((12, 3), bool)
    truth[:3, 0] = True  # subject 0: AU1
    truth[:, 1] = True  # AU4 everywhere, always detected
    predicted = truth.copy()
    predicted[:3, 0] = False  # AU1 never detected
    result = subject_bootstrap(encode_labels(truth, predicted, np.repeat(np.arange(4), 3), LABELS))
    assert result["estimate"]["f1_AU1"] == 0.0 and result["f1_AU1"] == [0.0, 0.0]
    # with subject 0 drawn macro-F1 is (0 + 1)/2, without it 1/1: the interval spans both
    assert result["macro_f1"] == [0.5, 1.0]


def test_chance_of_a_multi_label_task_by_hand():
    frame = pd.DataFrame({"sample_id": [f"d/s/{i}" for i in range(4)], "dataset": "d", "subject": "d/s", "fold": 0,
                          "true_label": ["AU1+AU4", "AU1", "none", "none"],
                          "predicted_label": ["none"] * 4})
    metrics = Metrics.from_json(MULTI_LABEL.pooled(frame, LABELS))
    assert metrics.task == "multi-label" and metrics.pooled.value("macro_f1") == 0.0
    # prevalences AU1 2/4, AU4 1/4 (AU12 never present): random detection at those rates scores (0.5 + 0.25)/2
    assert MULTI_LABEL.chance(metrics.pooled) == {"macro_f1_none": 0.0, "macro_f1_random": pytest.approx(0.375)}


def test_label_sets_are_written_joined_and_read_back():
    matrix = label_matrix(["AU1+AU12", "none", "AU4"], LABELS)
    assert matrix.tolist() == [[True, False, True], [False, False, False], [False, True, False]]
    with pytest.raises(ValueError, match="'AU9' is not among the task's labels"):
        label_matrix(["AU9"], LABELS)


def test_binary_cross_entropy_and_positive_weights_from_the_training_fold_only():
    logits = torch.tensor([[2.0, -1.0], [0.5, 0.0]])
    targets = torch.tensor([[1.0, 0.0], [0.0, 1.0]])
    expected = -(torch.log(torch.sigmoid(logits)) * targets + torch.log(1 - torch.sigmoid(logits)) * (1 - targets))
    assert MULTI_LABEL.loss(logits, targets) == pytest.approx(float(expected.mean()))
    y = torch.tensor([[1.0, 0.0], [0.0, 0.0], [0.0, 0.0], [1.0, 1.0], [1.0, 1.0]])
    settings = TrainSettings(epochs=1, kind=MULTI_LABEL, pos_weight=True)
    train = torch.tensor([0, 1, 2])  # label 0: 1 positive of 3 → weight 2; label 1: none → 1
    assert fold_pos_weight(y, train, settings).tolist() == [2.0, 1.0]
    assert fold_pos_weight(y, train, TrainSettings(epochs=1, kind=MULTI_LABEL)) is None


def test_multi_label_outputs_are_each_labels_own_probability():
    """Sigmoid per label, not a softmax over them: two confident labels are both detected."""
    from mebench.run.training import predict

    class Constant(torch.nn.Module):
        def forward(self, x):
            return torch.tensor([[2.0, 2.0, -3.0]]).expand(len(x), 3)

    model = Constant()
    model.register_buffer("input_mean", torch.zeros(1, 1, 1))
    model.register_buffer("input_std", torch.ones(1, 1, 1))
    x = torch.zeros(4, 1, 2, 2)
    probabilities = predict(model, x, np.arange(4), TrainSettings(epochs=1, kind=MULTI_LABEL))
    assert probabilities[0] == pytest.approx(torch.sigmoid(torch.tensor([2.0, 2.0, -3.0])).tolist())
    single = predict(model, x, np.arange(4), TrainSettings(epochs=1))
    assert single[0].sum() == pytest.approx(1.0)


def test_the_oracle_scores_a_multi_label_epoch_by_macro_f1():
    truth = np.array([[1, 0], [0, 1]])
    epochs = np.array([[[0.9, 0.1], [0.1, 0.9]],   # both labels right: macro-F1 1
                       [[0.9, 0.9], [0.9, 0.9]]])  # everything detected: F1 2/3 each
    assert MULTI_LABEL.epoch_scores(epochs, truth).tolist() == pytest.approx([1.0, 2 / 3])


# --- a multi-label task end to end: synthetic-au ------------------------------------------------------------

AU_CONFIG = dict(dataset="synthetic-au", epochs=2, batch_size=8)


@pytest.fixture(scope="module")
def au_runs(registry, tmp_path_factory):
    """Two configurations of the tiny net on the tiny synthetic-au task (seed 0 and 1 of one, one of another)."""
    from tests.conftest import tiny_run

    root = tmp_path_factory.mktemp("au-runs")
    runs = [tiny_run(registry, root, **AU_CONFIG, seed=seed) for seed in (0, 1)]
    runs.append(tiny_run(registry, root, **AU_CONFIG, lr=1e-2))
    return root, runs


def test_a_multi_label_run_writes_each_labels_probability_truth_and_detection(au_runs):
    _, (run, *_) = au_runs
    predictions = pd.read_csv(run.run_dir / "predictions.csv", keep_default_na=False)
    labels = run.record.classes
    assert labels == ["AU1", "AU2", "AU4", "AU12", "AU15", "AU26"] and run.record.metrics.task == "multi-label"
    assert [f"p_{label}" for label in labels] == [c for c in predictions.columns if c.startswith("p_")]
    for row in predictions.itertuples():
        detected = [label for label in labels if getattr(row, f"p_{label}") >= 0.5]
        assert row.predicted_label == ("+".join(detected) or "none")
        assert row.true_label != "none"  # every synthetic-au clip shows at least one AU
    block = run.record.metrics.pooled
    assert set(block.figures) == {"macro_f1", "macro_f1_all", "macro_f1_pos_neg"} and set(block.per_class) == set(labels)
    assert block.interval("macro_f1") is not None and block.interval("f1_AU4") is not None


def test_the_leaderboard_of_a_multi_label_task_ranks_by_macro_f1_with_per_label_columns(au_runs):
    from mebench.analysis.configurations import load_configurations
    from mebench.analysis.leaderboard import BEST_MARK, leaderboard_tables, render_tables

    root, _ = au_runs
    [table] = leaderboard_tables(load_configurations(root))
    assert list(table.display.columns[5:12]) == ["macro-F1", "AU1 F1", "AU2 F1", "AU4 F1", "AU12 F1", "AU15 F1",
                                                 "AU26 F1"]
    numbers = table.numbers
    assert list(numbers["macro_f1"]) == sorted(numbers["macro_f1"], reverse=True)
    assert table.display["mark"].iloc[0] == BEST_MARK and "macro-F1 seed sd" in table.display.columns
    text = render_tables([table])
    assert "highest macro-F1" in text and "macro-F1 = mean F1 over the labels present" in text


def test_compare_and_report_on_a_multi_label_task(au_runs, cli, tmp_path):
    root, runs = au_runs
    result = cli("compare", runs[0].run_dir, runs[2].run_dir)
    assert result.exit_code == 0, result.output
    assert "| all     | macro-F1 |" in result.output
    # McNemar per label, on each sample's decision about that label, counted here by hand for AU4
    a, b = (pd.read_csv(run.run_dir / "predictions.csv", keep_default_na=False) for run in (runs[0], runs[2]))
    truth = a["true_label"].str.split("+").apply(lambda labels: "AU4" in labels)
    right_a = a["predicted_label"].str.split("+").apply(lambda labels: "AU4" in labels) == truth
    right_b = b["predicted_label"].str.split("+").apply(lambda labels: "AU4" in labels) == truth
    assert (f"McNemar exact (seed 0 vs 0, AU4): A right & B wrong {int((right_a & ~right_b).sum())}, A wrong & B "
            f"right {int((~right_a & right_b).sum())}") in result.output
    report = cli("report", "--results", root, "--out", tmp_path / "report")
    assert report.exit_code == 0, report.output
    assert list((tmp_path / "report").glob("*__labels.png"))  # F1 per label instead of a confusion matrix


@pytest.mark.parametrize("selection", ["inner-val", "test-oracle"])
def test_selection_rules_run_on_a_multi_label_task(registry, tmp_path, selection):
    from tests.conftest import tiny_run

    outcome = tiny_run(registry, tmp_path, **{**AU_CONFIG, "epochs": 3}, selection=selection)
    metrics = outcome.record.metrics
    assert outcome.record.selected_epochs and metrics.selection == selection
    if selection == "test-oracle":
        assert metrics.oracle_inflation["macro_f1"] == pytest.approx(
            metrics.pooled.value("macro_f1") - metrics.fixed_budget["pooled"]["macro_f1"])


def test_pos_weight_is_for_multi_label_tasks_and_part_of_the_identity(registry):
    from mebench.errors import ConfigError
    from mebench.run.plan import plan_run
    from tests.conftest import tiny_config

    weighted = plan_run(tiny_config(**AU_CONFIG, pos_weight=True), registry)
    plain = plan_run(tiny_config(**AU_CONFIG), registry)
    assert weighted.settings.pos_weight and weighted.run_id != plain.run_id
    assert "pos_weight" not in plain.resolved  # a setting added later is recorded only when set
    with pytest.raises(ConfigError, match="--pos-weight weighs the labels of a multi-label task"):
        plan_run(tiny_config(pos_weight=True), registry)


def test_fold_batched_multi_label_training_matches_sequential(registry, tmp_path):
    from tests.conftest import tiny_run

    sequential = tiny_run(registry, tmp_path / "s", **AU_CONFIG, pos_weight=True)
    batched = tiny_run(registry, tmp_path / "b", **AU_CONFIG, pos_weight=True, fold_batch="3")
    columns = [f"p_{label}" for label in sequential.record.classes]
    first, second = (pd.read_csv(o.run_dir / "predictions.csv")[columns].to_numpy() for o in (sequential, batched))
    assert np.allclose(first, second, atol=1e-4)


@pytest.mark.slow
def test_ststnet_learns_synthetic_au_clearly_above_chance(registry, tmp_path):
    """The issue's check, with the task's defaults (the start preset: 64 clips, 40 epochs, batch 8)."""
    from mebench.run.plan import RunConfig
    from mebench.run.runner import run
    from tests.conftest import QUIET

    outcome = run(RunConfig(model="ststnet", dataset="synthetic-au"), registry, output_dir=tmp_path, **QUIET)
    pooled = outcome.record.metrics.pooled
    assert pooled.interval("macro_f1")[0] > MULTI_LABEL.chance(pooled)["macro_f1_random"]
