"""Protocols: folds of each built-in protocol, their guards, and runs on fixtures in the official layouts."""

from __future__ import annotations

import json

import numpy as np
import pytest

from mebench.errors import OptionError
from mebench.folds import SampleTable, check_folds, cross_folds, kfold_folds, lodo_folds, loso_folds
from mebench.run.plan import RunConfig, plan_run
from mebench.run.runner import run
from mebench.run.training import fold_normalisation
from mebench.tasks import SINGLE_LABEL
from tests.conftest import QUIET, TINY_DATASET, mebench_cli


def table(subjects, datasets=None, labels=None, task=None) -> SampleTable:
    n = len(subjects)
    return SampleTable.build([f"s{i}" for i in range(n)], subjects, datasets or ["d"] * n,
                             labels if labels is not None else [i % 3 for i in range(n)], task or ["t"] * n)


def test_loso_is_one_fold_per_subject_from_leave_one_group_out():
    folds = loso_folds(table(["b/2", "a/1", "b/2", "c/1", "a/1", "a/1"]))
    assert [f.name for f in folds] == ["a/1", "b/2", "c/1"]
    assert [f.test.tolist() for f in folds] == [[1, 4, 5], [0, 2], [3]]


def test_kfold_is_subject_disjoint_stratified_and_seeded():
    rng = np.random.default_rng(0)
    subjects = [f"d/{i // 6}" for i in range(120)]  # 20 subjects of 6 samples
    labels = rng.integers(0, 3, size=120).tolist()
    t = table(subjects, labels=labels)
    folds = kfold_folds(t, k=5, seed=0)
    assert len(folds) == 5 and [f.name for f in folds] == [f"k{i}/5" for i in range(1, 6)]
    for fold in folds:
        assert not set(t.subjects[fold.train]) & set(t.subjects[fold.test])
    assert [f.test.tolist() for f in kfold_folds(t, k=5, seed=0)] == [f.test.tolist() for f in folds]
    assert [f.test.tolist() for f in kfold_folds(t, k=5, seed=1)] != [f.test.tolist() for f in folds]
    with pytest.raises(OptionError, match="more folds than the task's 20 subjects"):
        kfold_folds(t, k=21)


@pytest.mark.parametrize("seed", range(4))
def test_kfold_stratifies_whole_subjects_by_class(seed):
    """Twelve subjects of one class each — six 'a', three 'b', three 'c' — in three folds: stratified,
    every fold tests two 'a' subjects, one 'b' and one 'c', whatever the shuffling seed."""
    classes = [0] * 6 + [1] * 3 + [2] * 3
    subjects = [f"d/{s:02d}" for s in range(12) for _ in range(4)]
    t = table(subjects, labels=[classes[s] for s in range(12) for _ in range(4)])
    for fold in kfold_folds(t, k=3, seed=seed):
        tested = {subject: t.labels[i] for i in fold.test for subject in [t.subjects[i]]}
        assert sorted(tested.values()) == [0, 0, 1, 2], fold.name


def test_lodo_holds_out_each_database_and_refuses_a_single_one():
    t = table(["a/1", "a/2", "b/1", "b/2", "c/1"], datasets=["a", "a", "b", "b", "c"])
    folds = lodo_folds(t)
    assert [f.name for f in folds] == ["a", "b", "c"]
    for fold in folds:
        assert set(t.datasets[fold.test]) == {fold.name} and fold.name not in set(t.datasets[fold.train])
    with pytest.raises(OptionError, match="lodo needs a composite"):
        lodo_folds(table(["a/1", "a/2"], datasets=["a", "a"]))


def test_cross_trains_on_the_source_and_evaluates_only_the_target():
    t = table(["a/1", "a/2", "b/1"], datasets=["a", "a", "b"], task=["a", "a", "b"])
    (fold,) = cross_folds(t, source="a", target="b")
    assert fold.train.tolist() == [0, 1] and fold.test.tolist() == [2]


def test_a_fold_sharing_a_subject_is_caught():
    from mebench.folds import Fold

    t = table(["a/1", "a/1", "a/2"])
    with pytest.raises(AssertionError, match="subjects on both sides"):
        check_folds([Fold(0, "x", np.array([0]), np.array([1, 2]))], t, evaluated=np.array([1, 2]))


@pytest.mark.parametrize("protocol, options", [("loso", {}), ("lodo", {}), ("kfold", {"k": 4}),
                                               ("cross", {"target": "smic"})])
def test_normalisation_comes_from_the_training_side_only(megc_root, registry, protocol, options):
    """The test side holds extreme values: a fold's statistics must not move."""
    dataset = "combined" if protocol in ("loso", "lodo", "kfold") else "casme2"
    plan = plan_run(RunConfig(model="tiny", dataset=dataset, protocol=protocol, protocol_options=options,
                              data_root=str(megc_root), device="cpu"), registry)
    rng = np.random.default_rng(0)
    import torch

    for fold in plan.folds[:4]:
        x = torch.from_numpy(rng.normal(size=(len(plan.table), 3, 4, 4)).astype(np.float32))
        x[fold.test] = 1e6
        mean, std = fold_normalisation(x, torch.as_tensor(fold.train))
        assert torch.allclose(mean.flatten(), x[fold.train].mean(dim=(0, 2, 3)), atol=1e-4)
        assert float(mean.abs().max()) < 10 and float(std.max()) < 10


@pytest.mark.slow
def test_lodo_and_cross_runs_on_fixtures_in_the_official_layouts(megc_root, registry, tmp_path):
    lodo = run(RunConfig(model="tiny", dataset="combined", protocol="lodo", epochs=1, device="cpu", precision="fp32",
                         data_root=str(megc_root)), registry, output_dir=tmp_path, **QUIET)
    assert lodo.record.n_folds == 3 and lodo.record.n_samples == 442
    assert "__lodo__" in lodo.run_dir.name and lodo.record.config["protocol"] == "lodo"
    assert [f["test_group"] for f in lodo.record.folds] == ["casme2", "samm", "smic"]

    cross = run(RunConfig(model="tiny", dataset="casme2", protocol="cross", protocol_options={"target": "smic"},
                          epochs=1, device="cpu", precision="fp32", data_root=str(megc_root)),
                registry, output_dir=tmp_path, **QUIET)
    assert cross.record.n_folds == 1 and cross.record.n_samples == 164
    metrics = json.loads((cross.run_dir / "metrics.json").read_text())
    assert metrics["pooled"]["n"] == 164
    fold = cross.record.folds[0]
    assert fold["n_train"] == 145 and fold["test_group"] == "casme2→smic"


def test_protocols_that_do_not_fit_the_task_are_one_line_usage_errors(megc_root, tmp_path):
    base = ["run", "--model", "ststnet", "--output", str(tmp_path / "r"), "--epochs", "1", "-q"]
    synthetic = ["--dataset", "synthetic", *sum((["--dataset-opt", f"{k}={v}"] for k, v in TINY_DATASET.items()), [])]
    cases = [
        (synthetic + ["--protocol", "lodo"], "lodo needs a composite"),
        (synthetic + ["--protocol", "kfold", "--protocol-opt", "k=99"], "more folds than"),
        (synthetic + ["--protocol", "cross"], "needs a target task"),
        (synthetic + ["--protocol", "kfold", "--protocol-opt", "nosuch=1"], "valid options: k, seed"),
        (synthetic + ["--protocol", "nosuch"], "unknown protocol"),
        (["--dataset", "casme2", "--data-root", str(megc_root), "--protocol", "cross", "--protocol-opt",
          "target=combined"], "share samples"),
    ]
    for args, message in cases:
        result = mebench_cli(*base, *args)
        assert result.exit_code == 2, (args, result.output)
        assert message in result.output and "Traceback" not in result.output
        assert len(result.output.strip().splitlines()) == 1, result.output
    assert not (tmp_path / "r").exists() or not any((tmp_path / "r").iterdir())


def test_list_protocols_lists_the_four():
    result = mebench_cli("list", "protocols")
    names = {line.split()[0] for line in result.output.splitlines()[2:] if line.strip()}
    assert {"loso", "lodo", "kfold", "cross"} <= names


def test_inner_validation_subjects_come_from_the_training_side_and_ignore_the_test_fold(registry):
    import torch

    from mebench.run.selection import EpochSelector, inner_validation_split
    from mebench.run.training import TrainSettings, train_fold

    subjects = np.array([f"d/{i // 4}" for i in range(40)])  # 10 subjects
    t = table(subjects.tolist())
    fold = loso_folds(t)[0]
    inner, validation = inner_validation_split(fold, subjects, seed=3)
    assert set(subjects[validation]).isdisjoint(subjects[inner.train]) and len(set(subjects[validation])) == 2
    assert set(subjects[validation]).isdisjoint(subjects[fold.test])
    assert sorted(np.concatenate([inner.train, validation]).tolist()) == sorted(fold.train.tolist())

    rng = np.random.default_rng(0)
    x = torch.from_numpy(rng.normal(size=(40, 3, 16, 16)).astype(np.float32))
    y = torch.as_tensor([i % 3 for i in range(40)])
    settings = TrainSettings(epochs=4, batch_size=8, lr=1e-2, seed=0)
    build = lambda: registry.models.get("tiny").build(3)  # noqa: E731
    decisions = []
    for test_value in (0.0, 1e6):  # the test side changes wildly; nothing learned or chosen may change
        x_case = x.clone()
        x_case[fold.test] = test_value
        selector = EpochSelector("inner-val", inner, x_case, y, settings, validation, patience=2)
        model = train_fold(build, x_case, y, inner, settings, after_epoch=selector.after_epoch)
        model, extra = selector.finish(model)
        decisions.append((extra["selected_epoch"], extra["validation_losses"], model.input_mean.flatten().tolist()))
    assert decisions[0] == decisions[1]


def test_selection_rules_run_end_to_end_and_the_oracle_is_marked_leaky(registry, tmp_path):
    config = dict(model="tiny", dataset="synthetic", epochs=3, batch_size=8, device="cpu", precision="fp32",
                  dataset_options=dict(TINY_DATASET))
    oracle = run(RunConfig(**config, selection="test-oracle"), registry, output_dir=tmp_path, **QUIET)
    assert "LEAKY-test-oracle" in oracle.run_dir.name and oracle.record.leaky
    metrics = json.loads((oracle.run_dir / "metrics.json").read_text())
    assert metrics["leaky"] and metrics["pooled"]["accuracy"] >= metrics["fixed_budget"]["pooled"]["accuracy"]
    record = json.loads((oracle.run_dir / "folds" / "fold_000.json").read_text())
    assert len(record["epoch_test_probabilities"]) == 3
    fixed = run(RunConfig(**config), registry, output_dir=tmp_path, **QUIET)
    fixed_metrics = json.loads((fixed.run_dir / "metrics.json").read_text())
    assert fixed_metrics["pooled"]["accuracy"] == pytest.approx(metrics["fixed_budget"]["pooled"]["accuracy"])

    inner = run(RunConfig(**config, selection="inner-val"), registry, output_dir=tmp_path, **QUIET)
    assert "__inner-val__" in inner.run_dir.name and not inner.record.leaky
    assert set(inner.record.selected_epochs) == {"synthetic/s01", "synthetic/s02", "synthetic/s03"}


# --- model selection on cases with known answers -------------------------------------------------------

def test_inner_val_stops_patience_epochs_after_the_best_and_scores_the_best_epochs_weights(monkeypatch):
    """Validation losses 1.0, 0.5, 0.6, 0.7, 0.8…: the best epoch is 1 (0-based); with patience 2 training
    stops after epoch 3 and the model scored carries epoch 1's weights."""
    import torch

    from mebench.run.selection import EpochSelector
    from mebench.run.training import TrainSettings

    losses = iter([1.0, 0.5, 0.6, 0.7, 0.8, 0.9])
    monkeypatch.setattr(EpochSelector, "_validation_loss", lambda self, model: next(losses))
    fold = loso_folds(table([f"d/{i // 2}" for i in range(8)]))[0]
    selector = EpochSelector("inner-val", fold, None, None, TrainSettings(epochs=6), np.array([0]), patience=2)
    model = torch.nn.Linear(1, 1)
    decisions = []
    for epoch in range(6):
        with torch.no_grad():
            model.weight.fill_(float(epoch))  # each epoch's "training" leaves its number in the weight
        decisions.append(selector.after_epoch(epoch, model))
        if decisions[-1]:
            break
    assert decisions == [False, False, False, True]
    model, extra = selector.finish(model)
    assert extra["selected_epoch"] == 1 and extra["validation_losses"] == [1.0, 0.5, 0.6, 0.7]
    assert float(model.weight.detach()) == 1.0


def test_inner_val_split_is_seeded_by_the_fold():
    """Folds with the same training subjects but different indices carve different validation subjects;
    the same fold always carves the same ones."""
    from mebench.folds import Fold
    from mebench.run.selection import selection_for
    from mebench.run.training import TrainSettings

    subjects = np.array([f"d/{i // 3}" for i in range(36)])  # 12 subjects
    train, test = np.arange(3, 36), np.arange(3)
    settings = TrainSettings(epochs=1)
    carved = []
    for index in range(6):
        fold, selector = selection_for("inner-val", Fold(index, "d/0", train, test), subjects, settings, None, None)
        carved.append(tuple(sorted(set(subjects[selector.validation]))))
        again = selection_for("inner-val", Fold(index, "d/0", train, test), subjects, settings, None, None)[1]
        assert tuple(sorted(set(subjects[again.validation]))) == carved[-1]
    assert len(set(carved)) > 1


def test_the_oracle_scores_each_folds_best_test_epoch_and_its_inflation_is_oracle_minus_fixed():
    """One fold of two samples: epoch 0 gets both right, epoch 1 one, epoch 2 (the last: the fixed budget)
    none. The oracle picks epoch 0 (accuracy 1), the fixed budget scores 0: inflation exactly +1."""
    from types import SimpleNamespace

    import torch

    from mebench.data import PreparedData
    from mebench.records import FoldRecord, Prediction
    from mebench.run.learners import NET
    from mebench.run.summarise import run_metrics

    right, wrong = [0.9, 0.05, 0.05], [0.05, 0.9, 0.05]
    epochs = [[right, right], [right, wrong], [wrong, wrong]]
    record = FoldRecord(fold=0, test_group="d/1", train_seconds=1.0,
                        predictions=[Prediction("d/1/a", wrong), Prediction("d/1/b", wrong)],
                        extras={"epoch_test_probabilities": epochs})
    data = PreparedData(x=torch.zeros(2, 1, 1, 1), y=torch.tensor([0, 0]), sample_ids=["d/1/a", "d/1/b"],
                        subjects=["d/1", "d/1"], datasets=["d", "d"])
    plan = SimpleNamespace(config=SimpleNamespace(selection="test-oracle"), classes=("negative", "positive", "surprise"),
                           evaluated=np.array([0, 1]), run_id="oracle-test", kind=SINGLE_LABEL,
                           samples=[None, None], learner=NET)
    predictions, metrics, scored = run_metrics(plan, data, {0: record})
    assert scored[0].selected_epoch == 0 and list(predictions["predicted_label"]) == ["negative", "negative"]
    assert metrics.leaky and metrics.pooled.accuracy == 1.0 and metrics.fixed_budget["pooled"]["accuracy"] == 0.0
    assert metrics.oracle_inflation["accuracy"] == 1.0
