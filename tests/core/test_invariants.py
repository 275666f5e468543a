"""Guards for the promises the documentation (README.md and docs/) makes about the harness.

Each test here fails when the promise it names is broken; ``benchmarks/mutation_check.py``
breaks each promise on purpose in a scratch copy and checks that its guard notices.
"""

from __future__ import annotations

import dataclasses
import json
import os
import re
import types

import numpy as np
import pandas as pd
import pytest
import torch

from mebench import hookimpl
from mebench.data import DatasetSpec, InputSpec, ModelSpec, PreprocessingStep
from mebench.errors import DataError
from mebench.folds import Fold, SampleTable, check_folds
from mebench.run.plan import RunConfig, plan_run
from mebench.run.preprocessing import prepare
from mebench.records import FoldRecord, Prediction
from mebench.registry import PluginInfo, Registry, discover
from mebench.atomic import atomic_write_bytes
from mebench.hardware import bf16_supported
from mebench.identity import config_hash
from mebench.results import RunDirectory
from mebench.run.runner import run
from mebench.run.training import TrainSettings, epoch_batches, fold_normalisation, predict, start_fold, train_fold
from mebench_plugins.datasets.megc2019 import check_task, read_official
from mebench_plugins.datasets.synthetic import load_synthetic
from tests.conftest import (QUIET, TINY_DATASET, TINY_INPUT, TinyNet, private, quiet, tiny_config,
                            tiny_plugin_module)
from tests.kit.megc_fixtures import edit_sheet


def tiny_net() -> TinyNet:
    return TinyNet(3, TINY_INPUT)


def random_inputs(n: int = 12, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """``n`` random inputs of the tiny model's shape and labels cycling through the three classes."""
    generator = torch.Generator().manual_seed(seed)
    x = torch.randn((n, TINY_INPUT.channels, TINY_INPUT.height, TINY_INPUT.width), generator=generator)
    return x, torch.arange(n) % 3


# --- normalisation statistics come from the fold's training samples only ---------------------------

def test_normalisation_statistics_come_from_the_training_samples_only():
    x, _ = random_inputs()
    train, test = np.arange(0, 8), np.arange(8, 12)
    x[test] = 1e6  # the test side, if it leaked into the statistics, would dominate them
    expected_mean = x[train].mean(dim=(0, 2, 3))
    expected_std = x[train].std(dim=(0, 2, 3))
    mean, std = fold_normalisation(x, torch.as_tensor(train))
    assert torch.allclose(mean.flatten(), expected_mean, atol=1e-5)
    assert torch.allclose(std.flatten(), expected_std, atol=1e-5)
    model, *_ = start_fold(tiny_net, x, Fold(0, "a/1", train, test), TrainSettings(epochs=1), channels_last=False)
    assert torch.allclose(model.input_mean.flatten(), expected_mean, atol=1e-5)
    assert torch.allclose(model.input_std.flatten(), expected_std, atol=1e-5)


# --- every sample is seen each epoch; only a trailing batch of one is dropped ----------------------

@pytest.mark.parametrize("n, batch_size, sizes, seen", [
    (10, 4, [4, 4, 2], 10),  # a trailing batch of two is trained on
    (9, 4, [4, 4], 8),  # a trailing batch of one cannot train batch normalisation
    (8, 4, [4, 4], 8),
])
def test_epoch_batches_cover_every_sample_but_a_trailing_one(n, batch_size, sizes, seen):
    batches = epoch_batches(n, batch_size, torch.Generator().manual_seed(0))
    assert [len(b) for b in batches] == sizes
    indices = torch.cat(batches).tolist()
    assert len(set(indices)) == len(indices) == seen and set(indices) <= set(range(n))


def test_epoch_batches_are_a_seeded_shuffle():
    order = lambda seed: torch.cat(epoch_batches(32, 8, torch.Generator().manual_seed(seed))).tolist()  # noqa: E731
    assert order(0) == order(0)
    assert order(0) != order(1) and order(0) != list(range(32))


# --- weights and batch order seeded from (seed, fold) ----------------------------------------------

def test_fold_seeds_differ_across_folds_and_run_seeds():
    seeds = {(seed, fold): TrainSettings(epochs=1, seed=seed).fold_seed(fold)
             for seed in range(4) for fold in range(70)}
    assert len(set(seeds.values())) == len(seeds)


def _start(seed: int, fold_index: int, x: torch.Tensor):
    fold = Fold(fold_index, "a/1", np.arange(0, 8), np.arange(8, 12))
    model, _train, _optimizer, generator = start_fold(tiny_net, x, fold, TrainSettings(epochs=1, seed=seed),
                                                      channels_last=False)
    weights = torch.cat([p.detach().flatten() for p in model.parameters()])
    return weights, torch.randperm(8, generator=generator).tolist()


def test_weights_and_batch_order_follow_the_run_seed_and_the_fold():
    x, _ = random_inputs()
    base_weights, base_order = _start(0, 0, x)
    again_weights, again_order = _start(0, 0, x)
    assert torch.equal(base_weights, again_weights) and base_order == again_order
    for seed, fold_index in ((0, 1), (1, 0)):  # another fold of the same run; the same fold of another run
        weights, order = _start(seed, fold_index, x)
        assert not torch.equal(weights, base_weights), (seed, fold_index)
        assert order != base_order, (seed, fold_index)


def test_the_seed_and_the_fold_change_the_probabilities():
    x, y = random_inputs()

    def probabilities(seed: int, fold_index: int) -> np.ndarray:
        fold = Fold(fold_index, "a/1", np.arange(0, 8), np.arange(8, 12))
        settings = TrainSettings(epochs=1, batch_size=4, seed=seed)
        return predict(train_fold(tiny_net, x, y, fold, settings), x, fold.test, settings)

    base = probabilities(0, 0)
    assert np.array_equal(base, probabilities(0, 0))
    assert not np.allclose(base, probabilities(0, 1))
    assert not np.allclose(base, probabilities(1, 0))


# --- predictions stay attached to their sample through the runner ---------------------------------

def oracle_probabilities(position: int, label: int, n_classes: int = 3) -> np.ndarray:
    """The true class gets 0.6 and the rest a pattern unique to the sample: a row moved to another
    sample no longer matches that sample, even when both have the same label."""
    probabilities = np.random.default_rng(position).dirichlet(np.ones(n_classes)) * 0.4
    probabilities[label] += 0.6
    return probabilities


def test_predictions_stay_attached_to_their_sample(registry, tmp_path, monkeypatch):
    import mebench.run.learners

    class Oracle:
        def __init__(self, labels: torch.Tensor):
            self.labels = labels.cpu().numpy()

    monkeypatch.setattr(mebench.run.learners, "train_fold", lambda build, x, y, *args, **kwargs: Oracle(y))
    monkeypatch.setattr(mebench.run.learners, "predict", lambda model, x, index, *args, **kwargs: np.stack(
        [oracle_probabilities(int(i), int(model.labels[i])) for i in index]))
    config = tiny_config()
    plan = plan_run(config, registry)
    outcome = run(config, registry, output_dir=tmp_path, **QUIET)

    position = {sample.id: i for i, sample in enumerate(plan.samples)}
    label = {sample.id: sample.label for sample in plan.samples}
    predictions = pd.read_csv(outcome.run_dir / "predictions.csv")
    assert sorted(predictions["sample_id"]) == sorted(position)
    for row in predictions.itertuples():
        assert row.true_label == label[row.sample_id] and row.predicted_label == row.true_label
        expected = oracle_probabilities(position[row.sample_id], plan.classes.index(row.true_label))
        assert [getattr(row, f"p_{name}") for name in plan.classes] == pytest.approx(expected.tolist(), abs=1e-9)
    metrics = json.loads((outcome.run_dir / "metrics.json").read_text())
    assert metrics["pooled"]["accuracy"] == 1.0 and metrics["pooled"]["uf1"] == 1.0
    assert metrics["pooled"]["uar"] == 1.0


# --- a fold file written for another fold is not reused --------------------------------------------

def _record(name: str, sample_ids: list[str]) -> FoldRecord:
    return FoldRecord(fold=0, test_group=name, train_seconds=1.0, n_train=8, n_test=len(sample_ids),
                      epoch_losses=[1.0], predictions=[Prediction(i, [0.2, 0.3, 0.5]) for i in sample_ids])


@pytest.mark.parametrize("written_for, sample_ids", [
    ("s/2", ["s/1/a", "s/1/b"]),  # another test subject, even with the same sample ids
    ("s/1", ["s/2/a", "s/2/b"]),  # the right subject name, other test samples
], ids=["other-subject", "other-samples"])
def test_a_fold_record_written_for_another_fold_is_discarded(tmp_path, written_for, sample_ids):
    run_dir = RunDirectory(tmp_path, "run")
    run_dir.save_fold(_record(written_for, sample_ids))
    lines = []
    assert run_dir.load_fold(0, name="s/1", test_ids=["s/1/a", "s/1/b"], n_classes=3, log=lines.append) is None
    assert not run_dir.fold_path(0).exists() and len(lines) == 1 and "fold_000.json" in lines[0]
    run_dir.save_fold(_record("s/1", ["s/1/a", "s/1/b"]))
    assert run_dir.load_fold(0, name="s/1", test_ids=["s/1/b", "s/1/a"], n_classes=3) is not None


def test_a_foreign_fold_file_is_retrained_on_resume(registry, tmp_path, monkeypatch):
    first = run(tiny_config(), registry, output_dir=tmp_path, **QUIET)
    folds = first.run_dir / "folds"
    (folds / "fold_000.json").write_text((folds / "fold_001.json").read_text())  # fold 1's record in fold 0's place
    for name in ("run.json", "metrics.json", "predictions.csv"):
        (first.run_dir / name).unlink()
    import mebench.run.learners

    trained, real_train_fold = [], mebench.run.learners.train_fold
    monkeypatch.setattr(mebench.run.learners, "train_fold",
                        lambda *args, **kwargs: trained.append(args[3].index) or real_train_fold(*args, **kwargs))
    resumed = run(tiny_config(), registry, output_dir=tmp_path, **QUIET)
    assert trained == [0]
    predictions = pd.read_csv(resumed.run_dir / "predictions.csv")
    assert len(predictions) == 12 and predictions.groupby("subject")["fold"].nunique().eq(1).all()
    assert predictions.groupby("fold")["subject"].nunique().eq(1).all()


# --- the run id changes with every protocol setting and only with those ----------------------------

def variant_plugin(preprocessing) -> types.ModuleType:
    """The tiny test model under the same name with another preprocessing chain, and a dataset
    whose plugin gives one sample a label outside its task's classes."""
    module = types.ModuleType("variant_test_plugin")

    @hookimpl
    def mebench_register_models(register):
        register(ModelSpec(name="tiny", factory=lambda num_classes, input_spec, **kw: TinyNet(num_classes, input_spec),
                           input_spec=TINY_INPUT, preprocessing=preprocessing, description="tiny, another chain"))

    @hookimpl
    def mebench_register_datasets(register):
        def load(data_root=None, **options):
            samples = load_synthetic(**options)
            return [dataclasses.replace(samples[0], label="happiness"), *samples[1:]]

        register(DatasetSpec(name="mislabelled", load=load, needs_data_root=False, description="a faulty plugin"))

    module.mebench_register_models = mebench_register_models
    module.mebench_register_datasets = mebench_register_datasets
    return module


@pytest.fixture(scope="module")
def variant_registry():
    registry = discover()
    chain = (("apex_frame", {"target": "middle"}), "tvl1_flow", "optical_strain", "flow_stack")
    registry.load_module(variant_plugin(chain), PluginInfo("variant_test_plugin", "tests", "tests", "0"))
    return registry


def identity_hash(config: RunConfig, registry) -> str:
    return config_hash(plan_run(config, registry).identity)


PROTOCOL_SETTINGS = {
    "epochs": dict(epochs=2),
    "batch_size": dict(batch_size=4),
    "lr": dict(lr=1e-3),
    "channels_last": dict(channels_last="on"),
    "model_options": dict(model_options={"width": 4}),
    "dataset_options": dict(dataset_options={**TINY_DATASET, "size": 56}),
    "protocol": dict(protocol="kfold", protocol_options={"k": 3}),
    "selection": dict(selection="inner-val"),
}


@pytest.mark.filterwarnings("ignore:The least populated class")  # k-fold on 3 subjects of 4 clips
@pytest.mark.parametrize("setting", list(PROTOCOL_SETTINGS))
def test_each_protocol_setting_changes_the_run_id(registry, setting):
    assert identity_hash(tiny_config(**PROTOCOL_SETTINGS[setting]), registry) != identity_hash(tiny_config(), registry)


@pytest.mark.filterwarnings("ignore:The least populated class")
def test_protocol_options_and_preprocessing_change_the_run_id(registry, variant_registry):
    k2, k3 = (identity_hash(tiny_config(protocol="kfold", protocol_options={"k": k}), registry) for k in (2, 3))
    assert k2 != k3
    # the same model name with one step option changed (apex → middle frame)
    assert identity_hash(tiny_config(), variant_registry) != identity_hash(tiny_config(), registry)
    if bf16_supported(torch.device("cpu")):
        assert identity_hash(tiny_config(precision="bf16"), registry) != identity_hash(tiny_config(), registry)


def test_execution_levers_do_not_change_the_run_id(registry, tmp_path):
    base_device = "cuda" if torch.cuda.is_available() else "cpu"
    base = tiny_config(device=base_device)
    plan = plan_run(base, registry)
    for lever in (dict(seed=3), dict(data_root=str(tmp_path)), dict(fold_batch="2"), dict(compile=True),
                  dict(device="cuda:0" if base_device == "cuda" else "auto")):
        other = plan_run(dataclasses.replace(base, **lever), registry)
        assert config_hash(other.identity) == config_hash(plan.identity), lever
        if "seed" not in lever:
            assert other.run_id == plan.run_id, lever
    reseeded = plan_run(dataclasses.replace(base, seed=3), registry).run_id
    assert reseeded == plan.run_id.removesuffix("__seed0") + "__seed3"


# --- the preprocessing cache misses when a step's settings change ----------------------------------

class LevelStep(PreprocessingStep):
    """Fills the image with ``level``; counts its calls."""

    name = "level"
    calls = 0

    def __init__(self, level: float):
        self.level = level

    @property
    def config(self):
        return {"level": self.level}

    def __call__(self, item):
        type(self).calls += 1
        item["image"] = np.full((8, 8, 3), self.level, np.float32)
        return item


def test_prepare_recomputes_when_a_step_setting_changes(tmp_path):
    samples = load_synthetic(subjects=2, clips_per_subject=2, size=48)
    spec = InputSpec(3, 4, 4)
    LevelStep.calls = 0
    first = prepare(samples, [LevelStep(1.0)], spec, cache_dir=tmp_path, workers=1, progress=False)
    second = prepare(samples, [LevelStep(2.0)], spec, cache_dir=tmp_path, workers=1, progress=False)
    assert LevelStep.calls == 8
    assert float(first.x.max()) == 1.0 and float(second.x.min()) == 2.0
    prepare(samples, [LevelStep(1.0)], spec, cache_dir=tmp_path, workers=1, progress=False)
    assert LevelStep.calls == 8  # both settings are cached now


# --- spreadsheets: labels against the official list, unknown emotions, official counts -------------

@pytest.fixture
def casme2_sheet(megc_root, tmp_path):
    """A private copy of the session fixture's CASME II folder (a test may edit its spreadsheet), and
    the data root that reads it."""
    root = private(megc_root, tmp_path, "CASME2")
    return root, root / "CASME2" / "CASME2-coding-20140508.xlsx"


def set_emotion(sheet_path, clip: str, emotion: str) -> int:
    """Write ``emotion`` into the row of ``clip``; returns the spreadsheet row number."""
    return edit_sheet(sheet_path, clip, "Estimated Emotion", emotion)


def test_a_spreadsheet_label_that_disagrees_with_the_official_list_is_reported(casme2_sheet):
    data_root, sheet = casme2_sheet
    sub, clip = next((r[1], r[2]) for r in read_official() if r[0] == "casme2" and r[3] == "positive")
    row = set_emotion(sheet, clip, "disgust")  # a valid emotion of another class
    report = check_task("casme2", data_root)
    sample_id = f"{sub}/{clip}"
    assert not report.ok and sample_id not in {s.id for s in report.found}
    problem = next(p for p in report.problems if sample_id in p)
    assert str(sheet) in problem and f"row {row}" in problem and "official list" in problem


def test_an_unknown_emotion_is_an_error_naming_file_row_and_fix(casme2_sheet):
    data_root, sheet = casme2_sheet
    row = set_emotion(sheet, "EP02_01f", "hapiness")
    with pytest.raises(DataError) as error:
        check_task("casme2", data_root)
    message = str(error.value)
    assert str(sheet) in message and f"row {row}" in message and "'hapiness'" in message
    assert "expected one of" in message


def test_official_list_counts_and_the_441_version():
    rows = read_official()
    assert len(rows) == 442 and len({r[1] for r in rows}) == 68
    assert {d: sum(r[0] == d for r in rows) for d in ("casme2", "samm", "smic")} == {"casme2": 145, "samm": 133,
                                                                                      "smic": 164}
    shorter = read_official(gt_version=441)
    assert len(shorter) == 441 and ("samm", "samm/032", "032_3_1") not in {r[:3] for r in shorter}


def test_a_label_outside_the_task_classes_is_refused_naming_the_sample(variant_registry):
    first = load_synthetic(**TINY_DATASET)[0]
    with pytest.raises(DataError, match=re.escape(first.id)):
        plan_run(tiny_config(dataset="mislabelled"), variant_registry)


# --- LOSO folds: train and test subjects are asserted disjoint -------------------------------------

def test_a_fold_with_a_subject_on_both_sides_is_refused():
    subjects = ["a/1", "a/1", "b/1", "b/1"]
    table = SampleTable.build(["x1", "x2", "x3", "x4"], subjects, ["a", "a", "b", "b"], [0, 1, 0, 1], [""] * 4)
    good = [Fold(0, "a/1", np.array([2, 3]), np.array([0, 1])), Fold(1, "b/1", np.array([0, 1]), np.array([2, 3]))]
    assert check_folds(good, table) == good
    # a/1's second clip trains fold 0 while its first is tested; no sample is on both sides of a fold
    leaky = [Fold(0, "a/1", np.array([1, 2, 3]), np.array([0])), Fold(1, "rest", np.array([0]), np.array([1, 2, 3]))]
    with pytest.raises(AssertionError, match="subjects on both sides"):
        check_folds(leaky, table)


# --- writes are atomic; run.json is written last -------------------------------------------------

@pytest.mark.parametrize("failing", ["fsync", "replace"])
def test_a_write_that_fails_before_the_rename_leaves_the_old_file_and_no_temp_file(tmp_path, monkeypatch, failing):
    path = tmp_path / "metrics.json"
    atomic_write_bytes(path, b"old")

    def fail(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(os, failing, fail)
    with pytest.raises(OSError, match="disk full"):
        atomic_write_bytes(path, b"new")
    monkeypatch.undo()
    assert path.read_bytes() == b"old"
    assert [p.name for p in tmp_path.iterdir()] == ["metrics.json"]


def test_run_json_is_written_last_so_an_interrupted_summary_is_not_complete(registry, tmp_path, monkeypatch):
    import mebench.results

    real_write_json = mebench.results.atomic_write_json

    def failing_write_json(path, data):
        if path.name == "metrics.json":
            raise OSError("killed while writing metrics.json")
        real_write_json(path, data)

    monkeypatch.setattr(mebench.results, "atomic_write_json", failing_write_json)
    with pytest.raises(OSError, match="killed"):
        run(tiny_config(), registry, output_dir=tmp_path, **QUIET)
    monkeypatch.undo()
    run_dirs = [p for p in tmp_path.iterdir() if p.is_dir()]
    assert len(run_dirs) == 1 and not (run_dirs[0] / "run.json").exists()
    finished = run(tiny_config(), registry, output_dir=tmp_path, **QUIET)
    assert not finished.reused and (finished.run_dir / "run.json").exists()


# --- a finished run in a sweep is a no-op: nothing prepared, trained or rewritten ------------------

def test_a_sweep_over_finished_runs_prepares_trains_and_writes_nothing(registry, tmp_path, monkeypatch):
    import mebench.run.execute
    import mebench.run.runner
    from mebench.run.sweep import Sweep

    configs = [tiny_config(seed=0)]
    assert Sweep(configs, tmp_path, registry=registry, progress=False, log=quiet).run().ok
    run_json = next(tmp_path.glob("*/run.json"))
    written = run_json.read_bytes()
    monkeypatch.setattr(mebench.run.runner, "prepare", lambda *a, **k: pytest.fail("a finished run was prepared"))
    monkeypatch.setattr(mebench.run.execute, "train_jobs", lambda *a, **k: pytest.fail("a finished run was trained"))
    assert Sweep(configs, tmp_path, registry=registry, progress=False, log=quiet).run().ok
    assert run_json.read_bytes() == written


# --- declared options: one validator for every kind; recorded defaults belong to the identity -------

@pytest.mark.filterwarnings("ignore:The least populated class")
def test_a_recorded_default_is_part_of_the_run_identity_whether_given_or_not(registry):
    six = {**TINY_DATASET, "subjects": 6}  # enough subjects for the default k = 5
    default = plan_run(tiny_config(protocol="kfold", dataset_options=six), registry)
    explicit = plan_run(tiny_config(protocol="kfold", protocol_options={"k": 5, "seed": 0}, dataset_options=six),
                        registry)
    assert default.resolved["protocol_options"] == {"k": 5, "seed": 0} and default.run_id == explicit.run_id
    assert plan_run(tiny_config(protocol="kfold", protocol_options={"k": 3}, dataset_options=six),
                    registry).run_id != default.run_id
    synthetic = plan_run(tiny_config(), registry)
    assert synthetic.resolved["dataset_options"] == {**TINY_DATASET, "preset": "start"}
    options = {**TINY_DATASET, "preset": "start"}
    assert plan_run(tiny_config(dataset_options=options), registry).run_id == synthetic.run_id
    # an unrecorded default (the generator seed) stays out of the identity until it is given
    assert "seed" not in synthetic.resolved["dataset_options"]


@pytest.mark.parametrize("config, flag, message", [
    (dict(protocol="kfold", protocol_options={"kk": 3}), "--protocol-opt kk",
     "protocol 'kfold' has no option 'kk'; valid options: k, seed"),
    (dict(protocol="kfold", protocol_options={"k": 1}), "--protocol-opt k=1",
     "protocol 'kfold' takes k as an integer ≥ 2; got 1"),
    (dict(dataset_options={"sise": 48}), "--dataset-opt sise",
     "dataset 'synthetic' has no option 'sise'; valid options: preset, subjects, clips_per_subject, seed, size"),
    (dict(model="ststnet", model_options={"dropout": 1.5}), "--model-opt dropout=1.5",
     "model 'ststnet' takes dropout as a number in [0, 1]; got 1.5"),
    (dict(model="waspp", model_options={"branches": 9}), "--model-opt branches=9",
     "model 'waspp' takes branches as an integer in [1, 5] (the paper's pyramids have 2–5 branches); got 9"),
])
def test_every_kind_of_option_is_checked_by_the_one_validator_before_anything_is_read(registry, config, flag,
                                                                                      message):
    from mebench.errors import OptionError

    with pytest.raises(OptionError) as error:
        plan_run(tiny_config(**config), registry)
    assert str(error.value) == f"{flag}: {message}"


def test_a_chain_step_option_is_checked_against_the_steps_declaration(registry):
    from mebench.errors import OptionError
    from mebench.run.preprocessing import build_chain

    with pytest.raises(OptionError, match=r"model 'x': step tvl1_flow sise: preprocessing step 'tvl1_flow' has no "
                                          r"option 'sise'; valid options: tau, lambda_, theta, scales, warps"):
        build_chain(registry, [("tvl1_flow", {"sise": 128})], "model 'x'")
    with pytest.raises(OptionError, match="takes normalise as one of none, minmax; got 'zscore'"):
        build_chain(registry, [("flow_stack", {"normalise": "zscore"})], "model 'x'")
    [step] = build_chain(registry, [("tvl1_flow", {"size": 64})], "model 'x'", partial=True)
    assert step.config["size"] == 64 and step.config["tau"] == 0.25  # the declared defaults reach the step


def test_a_plugin_that_declares_no_options_gets_them_as_given_and_its_own_complaint_is_the_error(registry):
    from mebench.errors import OptionError

    plan = plan_run(tiny_config(model_options={"width": 4}), registry)  # the tiny test model declares nothing
    assert plan.build_model().head.in_features == 4 * 4
    with pytest.raises(OptionError, match=r"^--model-opt nosuch=1: model 'tiny' refused it: .*nosuch"):
        plan_run(tiny_config(model_options={"nosuch": 1}), registry)


def test_a_spec_builds_with_its_declared_defaults(registry):
    """A pyramid net's configuration is its declared defaults: built without options it is itself."""
    waspp = registry.models.get("waspp")
    assert {o.name: o.default for o in waspp.options}["branches"] == 3
    net = waspp.build(3)
    assert net.pyramid2.flow == "waterfall" and len(net.pyramid2.branches) == 3
    assert len(waspp.build(3, branches=2).pyramid2.branches) == 2


# --- a run's identity: its folder's configuration, its samples, its pre-flow size ----------------------------

def test_a_run_folder_written_by_another_configuration_is_refused_until_forced(registry, tmp_path):
    from mebench.errors import RunError

    first = run(tiny_config(), registry, output_dir=tmp_path, **QUIET)
    config_path = first.run_dir / "config.json"
    config = json.loads(config_path.read_text())
    config_path.write_text(json.dumps({**config, "lr": 0.5}))
    (first.run_dir / "run.json").unlink()  # an unfinished run whose folder says another configuration
    with pytest.raises(RunError, match=f"{re.escape(str(config_path))} holds a different configuration; use --force"):
        run(tiny_config(), registry, output_dir=tmp_path, **QUIET)
    again = run(tiny_config(), registry, output_dir=tmp_path, force=True, **QUIET)
    assert again.run_dir == first.run_dir and json.loads(config_path.read_text()) == config


def registry_without(plugin_name: str, module: types.ModuleType) -> Registry:
    """The installed plugins and the tiny test model but ``plugin_name``, plus ``module`` (registering the
    names it took); a replacement that fails to register fails the test."""
    import importlib.metadata

    entry_points = [ep for ep in importlib.metadata.entry_points(group="mebench") if ep.name != plugin_name]
    registry = discover(entry_points)
    if plugin_name != "tiny_test_plugin":
        registry.load_module(tiny_plugin_module(), PluginInfo("tiny_test_plugin", "tests", "tests", "0"))
    registry.load_module(module, PluginInfo("replacement", "tests", "tests", "0"))
    assert not registry.broken, registry.broken
    return registry


def test_the_sample_set_is_part_of_the_run_identity(registry):
    """The same task name and options over samples of which one apex moved by a frame (another copy, an
    edited errata file): another run, and only the samples' digest tells it apart."""
    from mebench_plugins.datasets import synthetic

    module = types.ModuleType("moved_apex")

    @hookimpl
    def mebench_register_datasets(register):
        def load(data_root=None, **options):
            samples = synthetic.load_synthetic(data_root, **options)
            return [dataclasses.replace(samples[0], apex=samples[0].apex + 1), *samples[1:]]

        spec = registry.datasets.get("synthetic")
        register(dataclasses.replace(spec, load=load))

    module.mebench_register_datasets = mebench_register_datasets
    moved = plan_run(tiny_config(), registry_without("synthetic", module))
    original = plan_run(tiny_config(), registry)
    assert moved.run_id != original.run_id
    differing = {key for key in original.identity if original.identity[key] != moved.identity[key]}
    assert differing == {"samples_digest"}


def test_the_pre_flow_size_reaches_the_cache_key_the_run_id_and_run_json(registry, tmp_path):
    from mebench.run.preprocessing import build_chain, chain_config

    def chain(size: int):
        return ("apex_frame", ("tvl1_flow", {"size": size}), "optical_strain", "flow_stack")

    assert chain_config(build_chain(registry, chain(64)), TINY_INPUT) != chain_config(build_chain(registry, chain(0)),
                                                                                      TINY_INPUT)
    sized = plan_run(tiny_config(), registry_without("tiny_test_plugin", variant_plugin(chain(64))))
    native = plan_run(tiny_config(), registry)  # the tiny model's chain: tvl1_flow(size=0)
    assert sized.run_id != native.run_id
    assert {key for key in native.identity if native.identity[key] != sized.identity[key]} == {"preprocessing"}
    outcome = run(tiny_config(), registry, output_dir=tmp_path, **QUIET)
    flow = next(step for step in outcome.record.config["preprocessing"] if step["step"] == "tvl1_flow")
    assert flow["size"] == 0
    recorded = json.loads((outcome.run_dir / "run.json").read_text())["config"]["preprocessing"]
    assert next(step for step in recorded if step["step"] == "tvl1_flow")["size"] == 0
