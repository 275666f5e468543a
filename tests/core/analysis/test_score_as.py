"""``mebench score --as NAME``: a predictions file made elsewhere stored as a configuration, marked external, that
``mebench leaderboard`` and ``mebench compare`` use like a run of mebench's own.

The mebench run is a copy of a saved run (WASPP on the synthetic task, ``leaderboards/runs``); the
external file is that run's answers with known changes, so every expected count is taken by hand from the two
files.
"""

from __future__ import annotations

import hashlib
import io
import json
import shutil
from pathlib import Path

import pandas as pd
import pytest

from mebench.records import load_run
from tests.conftest import mebench_cli as cli

ROOT = Path(__file__).resolve().parents[3]
RUN = sorted((ROOT / "leaderboards" / "runs").glob("waspp__synthetic__*__seed0"))[0]
TASK = ("--task", "synthetic", *[f"--dataset-opt={key}={value}" for key, value in
                                 json.loads((RUN / "run.json").read_text())["config"]["dataset_options"].items()])
NAME = "waspp-authors"
CLASSES = ("negative", "positive", "surprise")
FIGURES = ("accuracy", "uf1", "uar")


def mebench_predictions() -> pd.DataFrame:
    return pd.read_csv(RUN / "predictions.csv").sort_values("sample_id").reset_index(drop=True)


def external_answers(frame: pd.DataFrame, shift: int = 0) -> list[str]:
    """The saved run's answers, but right on every fourth sample and one class off on every ninth (from
    ``shift``): the external predictor agrees with mebench's run on most samples, not all."""
    answers = []
    for position, (truth, predicted) in enumerate(zip(frame["true_label"], frame["predicted_label"])):
        if position % 4 == 0:
            predicted = truth
        elif position % 9 == 1 + shift:
            predicted = CLASSES[(CLASSES.index(truth) + 1) % 3]
        answers.append(predicted)
    return answers


def write_file(path: Path, frame: pd.DataFrame, answers: list[str]) -> Path:
    pd.DataFrame({"id": frame["sample_id"], "prediction": answers}).to_csv(path, index=False)
    return path


def store(path: Path, results: Path, *extra):
    return cli("score", path, *TASK, "--as", NAME, "--results", results, *extra)


def markdown_rows(text: str) -> dict[str, dict[str, str]]:
    """The rows of the first markdown table in ``text``, by model."""
    lines = [line for line in text.splitlines() if line.startswith("|")]
    header = [cell.strip() for cell in lines[0].strip("|").split("|")]
    rows = [dict(zip(header, (cell.strip() for cell in line.strip("|").split("|")))) for line in lines[2:]]
    return {row["model"]: row for row in rows}


@pytest.fixture(scope="module")
def stored(tmp_path_factory):
    """A results folder holding the saved run, and the external file stored in it by ``score --json --as``."""
    root = tmp_path_factory.mktemp("score_as")
    results = root / "results"
    shutil.copytree(RUN, results / RUN.name)
    frame = mebench_predictions()
    answers = external_answers(frame)
    path = write_file(root / "external.csv", frame, answers)
    result = cli("score", path, *TASK, "--json", "--as", NAME, "--results", results)
    assert result.exit_code == 0, result.output
    (folder,) = [p for p in results.iterdir() if p.name != RUN.name]
    return {"root": root, "results": results, "path": path, "frame": frame, "answers": answers,
            "scored": json.loads(result.stdout), "result": result, "folder": folder}


def test_the_stored_configuration_is_a_leaderboard_row_with_the_figures_score_printed(stored):
    result = cli("leaderboard", "--results", stored["results"], "--format", "csv")
    assert result.exit_code == 0, result.output
    numbers = pd.read_csv(io.StringIO(result.stdout)).set_index("model")
    pooled = stored["scored"]["metrics"]["pooled"]
    row = numbers.loc[NAME]
    assert row["source"] == "external"
    for figure in FIGURES:
        assert row[figure] == pytest.approx(pooled[figure], abs=1e-12), figure
        assert [row[f"{figure}_ci_low"], row[f"{figure}_ci_high"]] == pytest.approx(pooled["ci"][figure], abs=1e-12)
    assert pd.isna(row["params"]) and pd.isna(row["train_s_per_fold"]) and pd.isna(row["fps"])
    assert numbers.loc["waspp", "source"] == "measured"  # the same table: the same samples


def test_the_markdown_row_says_external_and_shows_no_time_or_parameters(stored):
    result = cli("leaderboard", "--results", stored["results"])
    assert result.exit_code == 0, result.output
    rows = markdown_rows(result.stdout)
    assert set(rows) == {NAME, "waspp"}  # one table: the external file is scored on the run's samples
    row = rows[NAME]
    assert (row["source"], row["epochs"], row["params"], row["train s/fold"], row["fps"]) == \
        ("external", "—", "—", "—", "—")
    parameters = json.loads((RUN / "run.json").read_text())["parameters"]
    assert rows["waspp"]["source"] == "measured" and rows["waspp"]["params"] == f"{parameters:,}"
    assert f"{NAME} external (predictions made elsewhere, scored here)" in result.stdout
    assert "- external: a predictions file stored by `mebench score --as`" in result.stdout


def test_the_run_folder_records_the_name_the_learner_the_digest_and_no_timing(stored):
    folder, path = stored["folder"], stored["path"]
    assert folder.name.startswith(f"{NAME}__synthetic__external__") and folder.name.endswith("__seed0")
    run = json.loads((folder / "run.json").read_text())
    assert (run["model"], run["dataset"], run["learner"], run["timing"], run["parameters"]) == \
        (NAME, "synthetic", "external", None, 0)
    assert run["source"] == {"file": str(path), "sha256": hashlib.sha256(path.read_bytes()).hexdigest()}
    assert json.loads((folder / "metrics.json").read_text())["pooled"] == stored["scored"]["metrics"]["pooled"]
    written = pd.read_csv(folder / "predictions.csv")
    assert list(written.columns) == ["sample_id", "dataset", "subject", "fold", "true_label", "predicted_label"]
    assert written["sample_id"].tolist() == stored["frame"]["sample_id"].tolist()
    assert written["predicted_label"].tolist() == stored["answers"]
    assert written["true_label"].tolist() == stored["frame"]["true_label"].tolist()
    record, reason = load_run(folder)
    assert reason is None and record.external and record.timing is None
    assert f"stored as '{NAME}' (external): {folder}" in stored["result"].stderr


def test_a_run_without_timing_is_still_refused_unless_it_is_external(tmp_path):
    copy = tmp_path / RUN.name
    shutil.copytree(RUN, copy)
    run = json.loads((copy / "run.json").read_text())
    for timing in ("absent", None):
        if timing == "absent":
            del run["timing"]
        else:
            run["timing"] = timing
        (copy / "run.json").write_text(json.dumps(run))
        record, reason = load_run(copy)
        assert record is None and "timing" in reason, timing


def test_compare_pairs_the_external_configuration_with_a_run_of_mebench(stored):
    result = cli("compare", NAME, "waspp", "--results", stored["results"])
    assert result.exit_code == 0, result.output
    frame, answers = stored["frame"], stored["answers"]
    right_external = [a == t for a, t in zip(answers, frame["true_label"])]
    right_mebench = (frame["predicted_label"] == frame["true_label"]).tolist()
    only_external = sum(a and not b for a, b in zip(right_external, right_mebench))
    only_mebench = sum(b and not a for a, b in zip(right_external, right_mebench))
    assert (only_external, only_mebench) != (0, 0)
    assert f"A right & B wrong {only_external}, A wrong & B right {only_mebench}" in result.stdout
    saved = json.loads((RUN / "metrics.json").read_text())["pooled"]
    pooled = stored["scored"]["metrics"]["pooled"]
    (line,) = [line for line in result.stdout.splitlines() if line.startswith("| all ") and "| UF1 " in line]
    cells = [cell.strip() for cell in line.strip("|").split("|")]
    assert cells[2:5] == [f"{pooled['uf1']:.3f}", f"{saved['uf1']:.3f}", f"{pooled['uf1'] - saved['uf1']:+.3f}"]


def test_the_same_file_again_leaves_the_folder_as_it_is(stored):
    before = {p: p.read_bytes() for p in stored["folder"].rglob("*") if p.is_file()}
    result = store(stored["path"], stored["results"])
    assert result.exit_code == 0, result.output
    assert "unchanged" in result.stderr and "the same file was stored before" in result.stderr
    assert {p: p.read_bytes() for p in stored["folder"].rglob("*") if p.is_file()} == before


def test_another_file_under_the_same_name_is_refused_unless_forced(stored, tmp_path):
    results = tmp_path / "results"
    shutil.copytree(stored["results"], results)
    (folder,) = [p for p in results.iterdir() if p.name.startswith(NAME)]
    before = (folder / "run.json").read_bytes()
    other = write_file(tmp_path / "other.csv", stored["frame"], external_answers(stored["frame"], shift=2))
    refused = store(other, results)
    assert refused.exit_code == 2
    (line,) = [line for line in refused.stderr.splitlines() if line.startswith("Error:")]
    assert "already holds 'waspp-authors' on 'synthetic'" in line and "--force" in line
    assert (folder / "run.json").read_bytes() == before
    forced = store(other, results, "--force", "--json")
    assert forced.exit_code == 0, forced.output
    assert [p.name for p in results.iterdir() if p.name.startswith(NAME)] == [folder.name]
    run = json.loads((folder / "run.json").read_text())
    assert run["source"]["sha256"] == hashlib.sha256(other.read_bytes()).hexdigest()
    board = pd.read_csv(io.StringIO(cli("leaderboard", "--results", results, "--format", "csv").stdout))
    assert board.set_index("model").loc[NAME, "uf1"] == pytest.approx(
        json.loads(forced.stdout)["metrics"]["pooled"]["uf1"], abs=1e-12)
    assert json.loads(forced.stdout)["metrics"]["pooled"]["uf1"] != stored["scored"]["metrics"]["pooled"]["uf1"]


@pytest.mark.parametrize("name, problem", [
    ("my/net", "a name is 1 to 64 letters"),
    ("my__net", "holds no '__'"),
    ("-net", "starts with a letter or digit"),
    ("x" * 65, "a name is 1 to 64 letters"),
    ("waspp", "'waspp' is the name of a model of mebench"),
])
def test_a_bad_name_is_one_line_and_stores_nothing(stored, tmp_path, name, problem):
    result = cli("score", stored["path"], *TASK, "--as", name, "--results", tmp_path / "results")
    assert result.exit_code == 2
    assert result.stderr.count("\n") == 1 and result.stderr.startswith("Error: --as ") and problem in result.stderr
    assert "Traceback" not in result.output
    assert not (tmp_path / "results").exists()


def test_a_file_lacking_ids_is_refused_unless_allow_missing(stored, tmp_path):
    frame = stored["frame"].iloc[2:].reset_index(drop=True)
    path = write_file(tmp_path / "short.csv", frame, stored["answers"][2:])
    results = tmp_path / "results"
    refused = store(path, results)
    assert refused.exit_code == 1
    (line,) = [line for line in refused.stderr.splitlines() if line.startswith("Error:")]
    assert f"lacks 2 of the task's samples ({', '.join(stored['frame']['sample_id'][:2])})" in line
    assert "--allow-missing" in line
    assert not any(results.glob("*/run.json"))
    allowed = store(path, results, "--allow-missing")
    assert allowed.exit_code == 0, allowed.output
    (folder,) = results.iterdir()
    assert json.loads((folder / "run.json").read_text())["n_samples"] == 62
    shutil.copytree(RUN, results / RUN.name)
    different = cli("compare", NAME, "waspp", "--results", results)
    assert different.exit_code == 2 and "different sample sets: 0 samples only in" in different.stderr


def test_as_options_without_as_and_as_with_spotting_are_refused(stored, tmp_path):
    alone = cli("score", stored["path"], *TASK, "--allow-missing")
    assert alone.exit_code == 2 and "go with --as NAME" in alone.stderr
    spotting = cli("score", stored["path"], "--task", "spotting", "--ground-truth", stored["path"], "--as", "x")
    assert spotting.exit_code == 2 and "--as stores recognition predictions" in spotting.stderr


def test_an_external_configuration_exports_its_figures_and_no_timing(stored, tmp_path):
    pytest.importorskip("tensorboard")
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    result = cli("export", stored["folder"], "--to", "tensorboard", "--uri", tmp_path / "tb")
    assert result.exit_code == 0, result.output
    events = EventAccumulator(str(tmp_path / "tb" / stored["folder"].name))
    events.Reload()
    pooled = stored["scored"]["metrics"]["pooled"]
    assert [e.value for e in events.Scalars("uf1")] == [pytest.approx(pooled["uf1"], rel=1e-6)]
    assert not {"parameters", "train_seconds_per_fold", "inference_fps"} & set(events.Tags()["scalars"])


def test_the_report_names_the_external_file_and_its_digest(stored, tmp_path):
    result = cli("report", "--results", stored["results"], "--out", tmp_path / "report", "--no-reported")
    assert result.exit_code == 0, result.output
    text = (tmp_path / "report" / "report.md").read_text()
    digest = hashlib.sha256(stored["path"].read_bytes()).hexdigest()
    assert f"- external predictions: {stored['path']} (SHA-256 {digest}), scored by mebench" in text
