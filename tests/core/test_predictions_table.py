"""PredictionsTable owns predictions.csv: its columns (the fixed ones, then the task kind's), its atomic write and
its read, with one clear line for a missing file or column."""

from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

from mebench.analysis.configurations import read_predictions
from mebench.errors import DataError
from mebench.results import PREDICTIONS_COLUMNS, PredictionsTable, RunDirectory
from mebench.tasks import INTERVALS, MULTI_LABEL, SINGLE_LABEL

ROOT = Path(__file__).resolve().parents[2]
FIXED = ["sample_id", "dataset", "subject", "fold", "true_label", "predicted_label"]


def row(sample_id: str, fold: int, truth: str, answer: str, **answers) -> dict:
    dataset, subject, _ = sample_id.split("/")
    return {"sample_id": sample_id, "dataset": dataset, "subject": f"{dataset}/{subject}", "fold": fold,
            "true_label": truth, "predicted_label": answer, **answers}


def round_trip(table: PredictionsTable, tmp_path: Path) -> tuple[PredictionsTable, str]:
    path = tmp_path / "run" / "predictions.csv"
    table.write(path)
    return PredictionsTable.read(path), path.read_text(encoding="utf-8")


def test_single_label_round_trip(tmp_path):
    classes = ("negative", "positive", "surprise")
    answers = {"casme2/sub02/EP01_1": [0.2, 0.7, 0.1], "casme2/sub01/EP02_01f": [0.6, 0.3, 0.1]}
    rows = [row(sample, fold, truth, SINGLE_LABEL.answer_text(np.array(answers[sample]), classes),
                **SINGLE_LABEL.answer_columns(answers[sample], classes))
            for sample, fold, truth in [("casme2/sub02/EP01_1", 1, "surprise"), ("casme2/sub01/EP02_01f", 0, "negative")]]
    table = PredictionsTable.build(rows, SINGLE_LABEL, classes)
    read, text = round_trip(table, tmp_path)
    assert text.splitlines() == [
        "sample_id,dataset,subject,fold,true_label,predicted_label,p_negative,p_positive,p_surprise",
        "casme2/sub01/EP02_01f,casme2,casme2/sub01,0,negative,negative,0.6,0.3,0.1",  # sorted by sample id
        "casme2/sub02/EP01_1,casme2,casme2/sub02,1,surprise,positive,0.2,0.7,0.1"]
    pd.testing.assert_frame_equal(read.frame, table.frame)
    assert read.frame["p_positive"].tolist() == [0.3, 0.7]
    assert list(SINGLE_LABEL.read_answers(read.frame["predicted_label"], classes)) == ["negative", "positive"]
    assert SINGLE_LABEL.right(read.frame, classes).tolist() == [True, False]


def test_multi_label_round_trip(tmp_path):
    classes = ("AU4", "AU12")
    probabilities = {"samm/006/006_1_2": [0.9, 0.2], "samm/007/007_3_1": [0.1, 0.4]}
    truths = {"samm/006/006_1_2": [1, 1], "samm/007/007_3_1": [0, 0]}
    rows = [row(sample, 0, MULTI_LABEL.truth_text(truths[sample], classes),
                MULTI_LABEL.answer_text(probabilities[sample], classes),
                **MULTI_LABEL.answer_columns(probabilities[sample], classes)) for sample in probabilities]
    read, text = round_trip(PredictionsTable.build(rows, MULTI_LABEL, classes), tmp_path)
    assert text.splitlines() == ["sample_id,dataset,subject,fold,true_label,predicted_label,p_AU4,p_AU12",
                                 "samm/006/006_1_2,samm,samm/006,0,AU4+AU12,AU4,0.9,0.2",
                                 "samm/007/007_3_1,samm,samm/007,0,none,none,0.1,0.4"]
    assert MULTI_LABEL.read_answers(read.frame["true_label"].tolist(), classes).tolist() == [[1, 1], [0, 0]]
    assert MULTI_LABEL.read_answers(read.frame["predicted_label"].tolist(), classes).tolist() == [[1, 0], [0, 0]]
    assert read.frame["p_AU12"].tolist() == [0.2, 0.4]


def test_intervals_round_trip_has_no_answer_columns(tmp_path):
    classes = ("me", "mae")
    found = [40, 90, 1, 12, 20, 0]  # a fold record's flat (onset, offset, type index) triples
    rows = [row("cas(me)2/s15/v01", 3, "me 12-20; mae 40-90", INTERVALS.answer_text(found, classes),
                **INTERVALS.answer_columns(found, classes)),
            row("cas(me)2/s15/v02", 3, "me 5-9", INTERVALS.answer_text([], classes))]
    read, text = round_trip(PredictionsTable.build(rows, INTERVALS, classes), tmp_path)
    assert text.splitlines() == ["sample_id,dataset,subject,fold,true_label,predicted_label",
                                 "cas(me)2/s15/v01,cas(me)2,cas(me)2/s15,3,me 12-20; mae 40-90,me 12-20; mae 40-90",
                                 "cas(me)2/s15/v02,cas(me)2,cas(me)2/s15,3,me 5-9,none"]
    assert INTERVALS.read_answers(read.frame["predicted_label"], classes) == [[(12, 20, "me"), (40, 90, "mae")], []]
    assert INTERVALS.right(read.frame, classes).tolist() == [True, False]


def test_a_table_of_decisions_only_keeps_the_fixed_columns(tmp_path):
    frame = pd.DataFrame([row("casme2/sub02/EP01_1", 0, "surprise", "surprise") | {"__row__": "3"},
                          row("casme2/sub01/EP02_01f", 0, "negative", "positive") | {"__row__": "2"}])
    table = PredictionsTable.of(frame)
    assert list(table.frame.columns) == FIXED
    assert table.frame["sample_id"].tolist() == ["casme2/sub01/EP02_01f", "casme2/sub02/EP01_1"]


def test_read_sorts_the_rows_by_sample_id_and_keeps_ids_as_text(tmp_path):
    path = tmp_path / "predictions.csv"
    path.write_text("sample_id,dataset,subject,fold,true_label,predicted_label\n"
                    "samm/007/007_3_1,samm,007,1,surprise,surprise\n"
                    "samm/006/006_1_2,samm,006,0,negative,positive\n")
    frame = PredictionsTable.read(path).frame
    assert frame["sample_id"].tolist() == ["samm/006/006_1_2", "samm/007/007_3_1"]
    assert frame["subject"].tolist() == ["006", "007"] and frame["fold"].tolist() == [0, 1]


def test_a_missing_column_is_named_with_the_file_and_the_fix(tmp_path):
    path = tmp_path / "predictions.csv"
    path.write_text("sample_id,dataset,subject,fold,true_label\ncasme2/sub01/EP02_01f,casme2,casme2/sub01,0,negative\n")
    with pytest.raises(DataError) as error:
        PredictionsTable.read(path)
    message = str(error.value)
    assert str(path) in message and "lacks the columns ['predicted_label']" in message
    assert "re-run this configuration with --force" in message and "\n" not in message


def test_a_missing_file_is_one_clear_line(tmp_path):
    run = SimpleNamespace(path=tmp_path / "model__casme2__0123456789__seed0")
    with pytest.raises(DataError) as error:
        read_predictions(run)
    message = str(error.value)
    assert str(run.path / "predictions.csv") in message and "cannot be read (FileNotFoundError)" in message
    assert "re-run this configuration with --force" in message


def test_a_frame_not_in_the_tables_columns_is_not_written(tmp_path):
    frame = pd.DataFrame([row("casme2/sub01/EP02_01f", 0, "negative", "negative")])[["fold", *PREDICTIONS_COLUMNS[:3],
                                                                                      *PREDICTIONS_COLUMNS[4:]]]
    with pytest.raises(ValueError, match="starts with the columns sample_id, dataset, subject, fold"):
        PredictionsTable(frame).write(tmp_path / "predictions.csv")
    assert not (tmp_path / "predictions.csv").exists()


def test_a_run_folder_writes_a_frame_in_the_tables_column_order(tmp_path):
    frame = pd.DataFrame([row("casme2/sub02/EP01_1", 1, "surprise", "negative") | {"p_negative": 0.5},
                          row("casme2/sub01/EP02_01f", 0, "negative", "negative") | {"p_negative": 0.9}])
    frame = frame[["fold", "p_negative", *[c for c in frame.columns if c not in ("fold", "p_negative")]]]
    record = SimpleNamespace(metrics=SimpleNamespace(to_json=lambda: {}), to_json=lambda: {})
    directory = RunDirectory(tmp_path, "model__casme2__0123456789__seed0")
    directory.write_outputs(record, frame)
    assert (directory.path / "predictions.csv").read_text().splitlines() == [
        ",".join(FIXED) + ",p_negative",
        "casme2/sub01/EP02_01f,casme2,casme2/sub01,0,negative,negative,0.9",
        "casme2/sub02/EP01_1,casme2,casme2/sub02,1,surprise,negative,0.5"]


def test_write_is_atomic(tmp_path, monkeypatch):
    path = tmp_path / "predictions.csv"
    path.write_text("the previous table\n")

    def interrupted(source, target):
        raise OSError("disk full")

    monkeypatch.setattr("os.replace", interrupted)
    table = PredictionsTable.build([row("casme2/sub01/EP02_01f", 0, "negative", "negative")], INTERVALS, ("me", "mae"))
    with pytest.raises(OSError):
        table.write(path)
    assert path.read_text() == "the previous table\n" and [p.name for p in tmp_path.iterdir()] == ["predictions.csv"]


def test_the_checked_in_runs_are_read_and_written_back_byte_for_byte(tmp_path):
    folders = sorted((ROOT / "leaderboards" / "runs").glob("*__seed0"))[:4]
    assert folders
    for folder in folders:
        original = (folder / "predictions.csv").read_bytes()
        table = PredictionsTable.read(folder / "predictions.csv")
        RunDirectory(tmp_path, folder.name).path.mkdir(parents=True)
        table.write(tmp_path / folder.name / "predictions.csv")
        assert (tmp_path / folder.name / "predictions.csv").read_bytes() == original, folder.name
