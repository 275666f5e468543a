"""Leaderboard and compare on fabricated run folders with controlled predictions."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from mebench.analysis.configurations import load_configurations
from mebench.data import Fidelity, InputSpec, ModelCard, ModelSpec, Reference, ReportedFigures
from mebench.analysis.leaderboard import BEST_MARK, TIED_MARK, leaderboard_tables, render_tables, reported_figures
from mebench.records import FoldRecord, Metrics, Prediction, RunRecord, Timing
from mebench.results import RunDirectory
from mebench.tasks import SINGLE_LABEL

CLASSES = ("negative", "positive", "surprise")
COMPOSITE = {"casme2": 6, "samm": 5, "smic": 4}  # subjects per source dataset


def task_samples(datasets: dict[str, int] | None = None, per_subject: int = 6, seed: int = 0) -> pd.DataFrame:
    """The truth of a fabricated task: ``per_subject`` samples for each subject of each dataset."""
    rng = np.random.default_rng(seed)
    rows = []
    for dataset, subjects in (datasets or {"synthetic": 8}).items():
        for s in range(subjects):
            for c in range(per_subject):
                rows.append({"sample_id": f"{dataset}/s{s:02d}/c{c:02d}", "dataset": dataset,
                             "subject": f"{dataset}/s{s:02d}", "true_label": CLASSES[rng.integers(3)]})
    frame = pd.DataFrame(rows)
    frame["fold"] = frame["subject"].astype("category").cat.codes
    return frame


def predictions_with_accuracy(truth: pd.DataFrame, accuracy: float, seed: int) -> pd.DataFrame:
    """Each sample is right with probability ``accuracy`` (else a wrong class), seeded."""
    rng = np.random.default_rng(seed)
    index = truth["true_label"].map({c: i for i, c in enumerate(CLASSES)}).to_numpy()
    wrong = (index + rng.integers(1, 3, len(index))) % 3
    predicted = np.where(rng.random(len(index)) < accuracy, index, wrong)
    frame = truth.copy()
    frame["predicted_label"] = [CLASSES[i] for i in predicted]
    for i, name in enumerate(CLASSES):
        frame[f"p_{name}"] = (predicted == i).astype(float)
    return frame


def write_run(root: Path, model: str, predictions: pd.DataFrame, seed: int = 0, dataset: str | None = None,
              config: dict | None = None, with_ci: bool = True, epoch_losses: bool = True, parameters: int = 1000,
              fps: float = 100.0, with_folds: bool = True, train_seconds: float = 1.0) -> Path:
    """A complete run folder as the runner writes it (through the same writer): run.json,
    predictions.csv, metrics.json, folds/."""
    dataset = dataset or ("combined" if predictions["dataset"].nunique() > 1 else predictions["dataset"].iloc[0])
    config = {"epochs": 3, "protocol": "loso", "selection": "fixed", "classes": list(CLASSES), **(config or {})}
    config_hash = f"{abs(hash(json.dumps(config, sort_keys=True))):010d}"[:10]
    run_id = f"{model}__{dataset}__{config_hash}__seed{seed}"
    run_dir = RunDirectory(root, run_id)
    metrics = SINGLE_LABEL.pooled(predictions, CLASSES)
    if not with_ci:
        for block in [metrics["pooled"], *metrics.get("per_dataset", {}).values()]:
            block.pop("ci")
    folds = sorted(predictions["fold"].unique())
    for fold in folds if with_folds else ():
        test = predictions[predictions["fold"] == fold]
        losses = [1.1 / (1 + e + 0.1 * fold) for e in range(config["epochs"])] if epoch_losses else []
        run_dir.save_fold(FoldRecord(fold=int(fold), test_group=test["subject"].iloc[0], train_seconds=1.0,
                                     n_train=len(predictions) - len(test), n_test=len(test), epoch_losses=losses,
                                     predictions=[Prediction(s, [1.0, 0.0, 0.0]) for s in test["sample_id"]]))
    record = RunRecord(
        run_id=run_id, model=model, dataset=dataset, seed=seed, config=config, config_hash=config_hash,
        metrics=Metrics.from_json(metrics), parameters=parameters, protocol=config["protocol"],
        selection=config["selection"], classes=list(CLASSES), n_samples=len(predictions), n_folds=len(folds),
        input_spec="3x28x28", finished="2024-01-01T00:00:00",
        timing=Timing(train_seconds_per_fold=[train_seconds] * len(folds), inference_fps=fps, inference_batch_size=32,
                      preprocess_seconds=0.5, peak_memory_bytes=1),
        environment={"device": "cpu (test)", "python": "3.11", "platform": "linux",
                     "versions": {"torch": "2.x", "numpy": "1.x"}, "git_commit": "abc123"})
    run_dir.write_outputs(record, predictions)
    return run_dir.path


def reported_spec(name: str, *figures: ReportedFigures) -> ModelSpec:
    """A model whose card carries only the given published figures."""
    card = ModelCard(source=Reference("Doe, J.", "A net", "Venue", 2020), fidelity=Fidelity.RECONSTRUCTED,
                     fidelity_detail="test", reported=figures)
    return ModelSpec(name=name, factory=lambda **_: None, input_spec=InputSpec(3, 28, 28), preprocessing=(), card=card)


def perturb(predictions: pd.DataFrame, spoiled: int, repaired: int, seed: int) -> pd.DataFrame:
    """The same predictions with ``spoiled`` right answers made wrong and ``repaired`` wrong ones made right."""
    rng = np.random.default_rng(seed)
    frame = predictions.copy()
    right = (frame["predicted_label"] == frame["true_label"]).to_numpy()
    for i in rng.choice(np.flatnonzero(right), spoiled, replace=False):
        frame.loc[i, "predicted_label"] = CLASSES[(CLASSES.index(frame.loc[i, "true_label"]) + 1) % 3]
    for i in rng.choice(np.flatnonzero(~right), repaired, replace=False):
        frame.loc[i, "predicted_label"] = frame.loc[i, "true_label"]
    return frame


@pytest.fixture
def three_models(tmp_path):
    """strong (≈0.9), close (strong with 5 right answers spoiled and 4 wrong ones repaired: one
    fewer right of 120) and weak (≈0.4) on one composite task, three seeds each."""
    truth = task_samples(COMPOSITE, per_subject=8)
    for seed in range(3):
        strong = predictions_with_accuracy(truth, 0.9, seed=seed)
        write_run(tmp_path, "strong", strong, seed=seed, parameters=5000, fps=50.0)
        write_run(tmp_path, "close", perturb(strong, 5, 4, seed), seed=seed, parameters=1000, fps=200.0)
        write_run(tmp_path, "weak", predictions_with_accuracy(truth, 0.4, seed=10 + seed), seed=seed, parameters=2000,
                  fps=100.0)
    return tmp_path


def test_composite_table_has_megc_layout_intervals_and_significance_marks(three_models):
    tables = leaderboard_tables(load_configurations(three_models))
    assert len(tables) == 1
    table = tables[0].display
    assert list(table["model"]) == ["strong", "close", "weak"]
    for column in ("UF1", "UAR", "casme2 UF1", "casme2 UAR", "samm UF1", "samm UAR", "smic UF1", "smic UAR"):
        assert column in table.columns
    assert "accuracy" not in table.columns
    marks = dict(zip(table["model"], table["mark"]))
    assert marks == {"strong": BEST_MARK, "close": TIED_MARK, "weak": ""}
    numbers = tables[0].numbers.set_index("model")
    assert numbers.loc["weak", "p_vs_best_holm"] < 0.05 < numbers.loc["close", "p_vs_best_holm"]
    assert numbers.loc["strong", "uf1_ci_low"] < numbers.loc["strong", "uf1"] < numbers.loc["strong", "uf1_ci_high"]
    text = render_tables(tables)
    cell = table.set_index("model").loc["strong", "UF1"]
    assert cell.count("[") == 1 and cell in text
    footer = "\n".join(tables[0].footer)
    assert "Holm" in footer and "2,000 resamples" in footer and "averages the seeds' metrics" in footer
    assert "LOSO" in footer and "3 epochs" in footer and "no model selection on the test fold" in footer


def test_seed_averaged_estimate_is_the_mean_of_recorded_pooled_figures(three_models):
    configuration = next(c for c in load_configurations(three_models) if c.model == "weak")
    recorded = [run.metrics.pooled.uf1 for run in configuration.runs]
    assert configuration.statistics()["estimate"]["uf1"] == pytest.approx(np.mean(recorded))
    assert configuration.statistics()["seeds"] == 3
    assert configuration.seed_sd("uf1") == pytest.approx(np.std(recorded, ddof=1))


def test_metrics_option_and_dataset_filter(three_models, tmp_path_factory):
    configurations = load_configurations(three_models)
    table = leaderboard_tables(configurations, metrics=["accuracy"])[0].display
    assert "accuracy" in table.columns and "UF1" not in table.columns and "casme2 UF1" not in table.columns
    table = leaderboard_tables(configurations, metrics=["accuracy", "per-dataset"])[0].display
    assert {"accuracy", "samm accuracy"} <= set(table.columns) and "samm UF1" not in table.columns
    with pytest.raises(ValueError, match="unknown metric 'f1'"):
        leaderboard_tables(configurations, metrics=["f1"])
    assert leaderboard_tables(configurations, dataset="casme2") == []
    # a single-dataset run gets its own table, with accuracy by default and no per-dataset columns
    write_run(three_models, "solo", predictions_with_accuracy(task_samples(), 0.8, seed=1))
    tables = leaderboard_tables(load_configurations(three_models))
    assert [t.dataset for t in tables] == ["combined", "synthetic"]
    assert list(tables[1].display.columns[5:8]) == ["accuracy", "UF1", "UAR"]
    assert [t.dataset for t in leaderboard_tables(load_configurations(three_models), dataset="synthetic")] == ["synthetic"]


def test_old_runs_without_intervals_get_them_from_predictions(tmp_path):
    truth = task_samples()
    write_run(tmp_path, "old", predictions_with_accuracy(truth, 0.7, seed=3), with_ci=False)
    write_run(tmp_path / "new", "old", predictions_with_accuracy(truth, 0.7, seed=3))
    old = load_configurations(tmp_path)[0]
    new = load_configurations(tmp_path / "new")[0]
    assert old.first.metrics.pooled.ci is None
    assert old.statistics()["uf1"] == new.first.metrics.pooled.interval("uf1")


def test_test_oracle_selection_is_its_own_leaky_table(tmp_path):
    truth = task_samples()
    write_run(tmp_path, "net", predictions_with_accuracy(truth, 0.7, seed=3))
    write_run(tmp_path, "net", predictions_with_accuracy(truth, 0.8, seed=4), config={"selection": "test-oracle"})
    tables = leaderboard_tables(load_configurations(tmp_path))
    assert [(t.selection, "LEAKY" in t.title) for t in tables] == [("fixed", False), ("test-oracle", True)]
    assert tables[1].display["mark"].iloc[0] == f"LEAKY {BEST_MARK}"
    assert "LEAKY" in tables[1].footer[0]


def test_reported_rows_carry_their_source_and_sit_in_their_dataset_table(three_models):
    spec = reported_spec("strong", ReportedFigures(source="Doe 2020, Table 4", dataset="combined", accuracy=0.75,
                                                   uf1=0.66, per_dataset={"casme2": {"uf1": 0.7, "uar": 0.71}},
                                                   parameters=123),
                         ReportedFigures(source="Doe 2020, Table 5", dataset="casme2", uf1=0.8))
    tables = leaderboard_tables(load_configurations(three_models), reported_figures([spec]))
    # a reported-only dataset gets its own table, after the tables with measured rows
    assert [t.dataset for t in tables] == ["combined", "casme2"]
    combined = tables[0].display.set_index("source")
    row = combined.loc["reported: Doe 2020, Table 4"]
    assert row["UF1"] == "0.660" and row["casme2 UF1"] == "0.700" and row["samm UF1"] == "" and row["params"] == "123"
    assert "not part of the significance test" in tables[0].footer[-1]
    csv = render_tables(tables, "csv")
    assert csv.splitlines()[0].startswith("model,dataset,source,seeds,accuracy")
    assert "Doe 2020, Table 5" in csv


def test_leaderboard_cli_lists_skipped_runs_and_refuses_empty_folders(cli, three_models, tmp_path_factory):
    broken = three_models / "strong__combined__0123456789__seed9"
    broken.mkdir()
    (broken / "config.json").write_text("{}")
    result = cli("leaderboard", "--results", str(three_models))
    assert result.exit_code == 0, result.output
    assert "★ best" in result.output and "≈ best" in result.output and "[0." in result.output
    skipped_lines = [line for line in result.output.splitlines() if line.startswith("skipped")]
    assert len(skipped_lines) == 1 and str(broken) in skipped_lines[0]
    empty = tmp_path_factory.mktemp("empty")
    result = cli("leaderboard", "--results", str(empty))
    assert result.exit_code == 1 and "no complete runs" in result.output and "Traceback" not in result.output
    result = cli("leaderboard", "--results", str(three_models), "--metrics", "f1")
    assert result.exit_code == 2 and "unknown metric 'f1'" in result.output


def test_compare_prints_paired_figures_and_mcnemar_per_seed(cli, three_models):
    result = cli("compare", "strong", "weak", "--results", str(three_models))
    assert result.exit_code == 0, result.output
    assert "Δ (A − B)" in result.output and "95 % CI" in result.output
    assert result.output.count("McNemar exact (seed") == 3
    row = next(line for line in result.output.splitlines() if line.startswith("| all") and "| UF1" in line)
    assert "+0." in row  # strong beats weak
    run_folder = next(three_models.glob("close__*seed1"))
    result = cli("compare", str(run_folder), next(three_models.glob("strong__*seed1")).name,
                               "--results", str(three_models))
    assert result.exit_code == 0 and result.output.count("McNemar exact (seed 1 vs 1)") == 1


def test_compare_refuses_different_samples_unknown_ids_and_ambiguous_names(cli, three_models):
    other = task_samples(COMPOSITE, per_subject=7)
    write_run(three_models, "fewer", predictions_with_accuracy(other, 0.8, seed=1))
    result = cli("compare", "strong", "fewer", "--results", str(three_models))
    assert result.exit_code == 2 and "different sample sets" in result.output and "Traceback" not in result.output
    assert len(result.output.strip().splitlines()) == 1
    result = cli("compare", "strnog", "weak", "--results", str(three_models))
    assert result.exit_code == 2 and "did you mean strong" in result.output
    write_run(three_models, "strong", predictions_with_accuracy(task_samples(), 0.8, seed=1))
    result = cli("compare", "strong", "weak", "--results", str(three_models))
    assert result.exit_code == 2 and "2 configurations" in result.output
    result = cli("compare", "strong", "weak", "--results", str(three_models), "--dataset", "combined")
    assert result.exit_code == 0


def test_chance_level_of_a_class_distribution():
    from mebench.records import MetricBlock

    support = {"a": 50, "b": 25, "c": 25, "d": 0}
    pooled = MetricBlock(n=100, figures={"accuracy": 0.0, "uf1": 0.0, "uar": 0.0},
                         per_class={name: {"support": n} for name, n in support.items()})
    chance = SINGLE_LABEL.chance(pooled)
    assert chance["accuracy"] == pytest.approx(0.5) and chance["uar"] == pytest.approx(1 / 3)
    assert chance["uf1"] == pytest.approx((0.4 + 2 * (2 * 0.25 / 3 / (0.25 + 1 / 3))) / 3)


def test_rows_on_other_samples_or_protocol_options_get_tables_of_their_own(tmp_path):
    """A run of the quick start (preset start) and one of the leaderboard's preset are scored on
    different samples; cross runs to two targets test on different tasks: neither is ranked
    against the other."""
    small, large = task_samples({"synthetic": 4}, per_subject=4), task_samples({"synthetic": 4}, per_subject=8)
    write_run(tmp_path, "a", predictions_with_accuracy(small, 0.95, 0), config={"dataset_options": {"preset": "start"}})
    write_run(tmp_path, "b", predictions_with_accuracy(large, 0.6, 1), config={"dataset_options": {"preset": "quick"}})
    write_run(tmp_path, "c", predictions_with_accuracy(large, 0.8, 2), config={"dataset_options": {"preset": "quick"}})
    for target, seed in (("smic", 3), ("samm", 4)):
        write_run(tmp_path, f"x-{target}", predictions_with_accuracy(small, 0.7, seed), dataset="casme2",
                  config={"protocol": "cross", "protocol_options": {"target": target}})
    tables = leaderboard_tables(load_configurations(tmp_path))
    titles = {table.title: list(table.display["model"]) for table in tables}
    assert titles == {
        "casme2 — CROSS (target=samm), fixed selection": ["x-samm"],
        "casme2 — CROSS (target=smic), fixed selection": ["x-smic"],
        "synthetic (preset=quick) — LOSO, fixed selection": ["c", "b"],
        "synthetic (preset=start) — LOSO, fixed selection": ["a"],
    }
    assert len({table.stem for table in tables}) == 4  # plot and report files do not overwrite each other
    quick = next(t for t in tables if "quick" in t.title).display.set_index("model")["mark"]
    assert quick["c"] == BEST_MARK

    # the publication's figures sit in one table of the dataset: the one with the most samples
    spec = reported_spec("c", ReportedFigures(source="Doe 2020, Table 4", dataset="synthetic", uf1=0.66))
    tables = leaderboard_tables(load_configurations(tmp_path), reported_figures([spec]))
    with_reported = [t.title for t in tables if t.display["source"].str.startswith("reported").any()]
    assert with_reported == ["synthetic (preset=quick) — LOSO, fixed selection"]

    # another quick sample set (another generator version, say): its qualifier names the samples too
    other = task_samples({"synthetic": 5}, per_subject=8)
    write_run(tmp_path, "d", predictions_with_accuracy(other, 0.7, 5), config={"dataset_options": {"preset": "quick"},
                                                                               "generator": 2})
    titles = [t.title for t in leaderboard_tables(load_configurations(tmp_path)) if t.dataset == "synthetic"]
    assert len(titles) == len(set(titles)) == 3
    assert sum(title.startswith("synthetic (preset=quick, samples ") for title in titles) == 2


def test_compare_takes_two_run_folders_wherever_they_are(cli, three_models, tmp_path_factory, monkeypatch):
    scratch = tmp_path_factory.mktemp("scratch")
    first, second = (Path(shutil.copytree(next(three_models.glob(f"{model}__*seed0")), scratch / model))
                     for model in ("strong", "weak"))
    monkeypatch.chdir(tmp_path_factory.mktemp("elsewhere"))  # no ./results here
    result = cli("compare", first, second)
    assert result.exit_code == 0, result.output
    assert result.output.startswith("A: strong (strong__combined__") and result.output.count("McNemar exact") == 1
    result = cli("compare", first, scratch / "nothing")
    assert result.exit_code == 2 and f"{scratch / 'nothing'}: holds no run (no run.json)" in result.output
    (second / "metrics.json").write_text("{")
    result = cli("compare", first, second)
    assert result.exit_code == 2 and f"{second}: metrics.json is missing or unreadable" in result.output


# --- every figure, mark and column a table prints, on cases with known answers ----------------------------

def labelled(truth: pd.DataFrame, predicted: list[str]) -> pd.DataFrame:
    frame = truth.copy()
    frame["predicted_label"] = predicted
    for name in CLASSES:
        frame[f"p_{name}"] = (frame["predicted_label"] == name).astype(float)
    return frame


def test_per_dataset_columns_score_each_datasets_own_samples(tmp_path):
    """casme2 all right, samm all wrong, smic right on its negatives only: each column says so exactly."""
    truth = task_samples(COMPOSITE, per_subject=6, seed=4)
    wrong = {c: CLASSES[(i + 1) % 3] for i, c in enumerate(CLASSES)}
    predicted = [t if d == "casme2" or (d == "smic" and t == "negative") else wrong[t]
                 for d, t in zip(truth["dataset"], truth["true_label"])]
    write_run(tmp_path, "net", labelled(truth, predicted))
    [table] = leaderboard_tables(load_configurations(tmp_path), metrics=["accuracy", "uf1", "uar", "per-dataset"])
    row = table.numbers.iloc[0]
    assert (row["casme2_accuracy"], row["casme2_uf1"], row["casme2_uar"]) == (1.0, 1.0, 1.0)
    assert (row["samm_accuracy"], row["samm_uf1"], row["samm_uar"]) == (0.0, 0.0, 0.0)
    smic = truth[truth["dataset"] == "smic"]
    assert row["smic_accuracy"] == pytest.approx((smic["true_label"] == "negative").mean())
    assert row["smic_uar"] == pytest.approx(1 / 3)  # negatives recalled, the other two classes not
    display = table.display.iloc[0]
    assert display["casme2 UF1"].startswith("1.000 [1.000, 1.000]") and display["samm UF1"].startswith("0.000")


def test_the_p_column_is_holm_adjusted_and_marks_follow_the_adjusted_p(three_models, monkeypatch):
    """Raw p of the three rows below the best 0.01, 0.04, 0.03 → Holm 0.03, 0.06, 0.06 (by hand: sorted
    3·0.01, max(0.03, 2·0.03), max(0.06, 1·0.04)): one row below α, two tied with the best."""
    import mebench.analysis.leaderboard as leaderboard

    truth = task_samples(COMPOSITE, per_subject=8)
    write_run(three_models, "fourth", predictions_with_accuracy(truth, 0.5, seed=20))
    configurations = sorted(load_configurations(three_models), key=lambda c: -c.statistics()["estimate"]["uf1"])
    raw = {"close": 0.01, "fourth": 0.04, "weak": 0.03}
    encoded_of = {}  # each configuration's encoded predictions, fixed so the stub can tell whose they are
    for configuration in configurations:
        encoded = configuration.encoded()
        encoded_of[id(encoded)] = configuration.model
        configuration.encoded = (lambda e: lambda scope="all": e)(encoded)
    monkeypatch.setattr(leaderboard, "paired_bootstrap", lambda best, other: {"uf1": {"p": raw[encoded_of[id(other)]]}})
    verdicts = leaderboard.significance_marks(configurations)
    by_model = {c.model: verdicts[i] for i, c in enumerate(configurations)}
    assert by_model["strong"].mark == BEST_MARK and by_model["strong"].p is None
    assert {m: round(by_model[m].p, 10) for m in raw} == {"close": 0.03, "fourth": 0.06, "weak": 0.06}
    assert [by_model[m].mark for m in ("close", "fourth", "weak")] == ["", TIED_MARK, TIED_MARK]


def test_best_is_the_highest_uf1_even_where_accuracy_ranks_the_other_way(tmp_path):
    """'majority' always answers the frequent class (accuracy 0.6, UF1 0.25); 'balanced' gets every class
    half right (accuracy 0.5, UF1 (0.6 + 1/3 + 0.5)/3 ≈ 0.48): UF1 ranks balanced first, accuracy would not."""
    rows = [{"sample_id": f"synthetic/s{s:02d}/c{c:02d}", "dataset": "synthetic", "subject": f"synthetic/s{s:02d}",
             "true_label": label, "fold": s}
            for s in range(10) for c, label in enumerate(["negative"] * 6 + ["positive"] * 2 + ["surprise"] * 2)]
    truth = pd.DataFrame(rows)
    majority = ["negative"] * len(truth)
    balanced = [t if (i % 10) in (0, 1, 2, 6, 8) else CLASSES[(CLASSES.index(t) + 1) % 3]
                for i, t in enumerate(truth["true_label"])]
    write_run(tmp_path, "majority", labelled(truth, majority))
    write_run(tmp_path, "balanced", labelled(truth, balanced))
    [table] = leaderboard_tables(load_configurations(tmp_path))
    numbers = table.numbers.set_index("model")
    assert numbers.loc["majority", "accuracy"] > numbers.loc["balanced", "accuracy"]
    assert numbers.loc["balanced", "uf1"] == pytest.approx((0.6 + 1 / 3 + 0.5) / 3)
    assert numbers.loc["majority", "uf1"] == pytest.approx(0.25)
    assert list(table.display["model"]) == ["balanced", "majority"] and table.display["mark"].iloc[0] == BEST_MARK


def test_timing_size_and_seed_columns_are_the_runs_own_figures(tmp_path):
    truth = task_samples()
    for seed, (seconds, fps) in enumerate([(2.0, 100.0), (4.0, 300.0)]):
        write_run(tmp_path, "net", predictions_with_accuracy(truth, 0.7, seed), seed=seed, parameters=4321,
                  train_seconds=seconds, fps=fps, config={"epochs": 7})
    [table] = leaderboard_tables(load_configurations(tmp_path))
    display, numbers = table.display.iloc[0], table.numbers.iloc[0]
    assert (display["seeds"], display["epochs"], display["params"]) == (2, 7, "4,321")
    assert (display["train s/fold"], display["fps"]) == ("3.0", "200")  # means over the seeds
    assert (numbers["train_s_per_fold"], numbers["fps"], numbers["params"]) == (3.0, 200.0, 4321)
    configuration = load_configurations(tmp_path)[0]
    recorded = [run.metrics.pooled.uf1 for run in configuration.runs]
    assert display["UF1 seed sd"] == f"{np.std(recorded, ddof=1):.3f}"
    stats = configuration.statistics()
    assert display["UF1"] == f"{stats['estimate']['uf1']:.3f} [{stats['uf1'][0]:.3f}, {stats['uf1'][1]:.3f}]"
    assert (numbers["uf1_ci_low"], numbers["uf1_ci_high"]) == tuple(stats["uf1"])


def test_compare_counts_mcnemar_discordant_samples_of_a_against_b(cli, tmp_path):
    """A right & B wrong on 5 samples, A wrong & B right on 2, the rest alike: p = 2·(1 + 7 + 21)/2⁷."""
    truth = task_samples(per_subject=4)
    wrong = {c: CLASSES[(i + 1) % 3] for i, c in enumerate(CLASSES)}
    a = [wrong[t] if i in (10, 11) or i >= 20 else t for i, t in enumerate(truth["true_label"])]
    b = [wrong[t] if i < 5 or i >= 20 else t for i, t in enumerate(truth["true_label"])]
    first, second = write_run(tmp_path, "a", labelled(truth, a)), write_run(tmp_path, "b", labelled(truth, b))
    result = cli("compare", first, second)
    assert result.exit_code == 0, result.output
    assert "A right & B wrong 5, A wrong & B right 2, p = 0.453" in result.output
    reverse = cli("compare", second, first)
    assert "A right & B wrong 2, A wrong & B right 5, p = 0.453" in reverse.output
