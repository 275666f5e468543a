"""``mebench score``: predictions made anywhere, scored as a run of mebench is scored."""

import csv
import json
from importlib import resources
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from mebench.analysis.score import subject_key

ROOT = Path(__file__).resolve().parents[3]
CLASSES = ("negative", "positive", "surprise")


def official_rows():
    text = resources.files("mebench_plugins").joinpath("data/megc2019_combined_3class_gt.csv").read_text()
    return [row for row in csv.reader(text.splitlines()) if row]


def other_spelling(dataset: str, subject: str) -> str:
    """The subject as another tool writes it: ``sub01`` → ``1``, ``006`` → ``6``, ``s1`` → ``s01``."""
    number = int("".join(ch for ch in subject if ch.isdigit()))
    return {"casme2": str(number), "samm": str(number), "smic": f"s{number:02d}"}[dataset]


def mebench_id(dataset: str, subject: str, clip: str) -> str:
    """The sample id mebench gives an official row: subjects as ``sub01``, ``006``, ``s01``."""
    number = int("".join(ch for ch in subject if ch.isdigit()))
    return f"{dataset}/{ {'casme2': f'sub{number:02d}', 'samm': f'{number:03d}', 'smic': f's{number:02d}'}[dataset]}/{clip}"


def answer(position: int, truth: int) -> int:
    """A fixed, imperfect predictor: right on most samples, a known wrong class on every fifth and seventh."""
    return (truth + 1) % 3 if position % 5 == 0 else (truth + 2) % 3 if position % 7 == 0 else truth


def expected_figures(truth: np.ndarray, predicted: np.ndarray) -> dict[str, float]:
    """Accuracy, UF1 and UAR by hand from the counts (every class is present here)."""
    f1, recall = [], []
    for c in range(3):
        tp = np.sum((truth == c) & (predicted == c))
        fp, fn = np.sum((truth != c) & (predicted == c)), np.sum((truth == c) & (predicted != c))
        f1.append(2 * tp / (2 * tp + fp + fn))
        recall.append(tp / (tp + fn))
    return {"accuracy": float(np.mean(truth == predicted)), "uf1": float(np.mean(f1)), "uar": float(np.mean(recall))}


@pytest.fixture
def official_file(tmp_path):
    """Predictions for the official list less its last two rows, in the official list's columns with other
    subject spellings, half the answers as class names and half as indices, plus one sample the task lacks."""
    rows = official_rows()
    path = tmp_path / "predictions.csv"
    with open(path, "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["Dataset", "Subject", "Clip", "Prediction"])  # header case does not matter
        for position, (dataset, subject, clip, label) in enumerate(rows[:-2]):
            guess = answer(position, int(label))
            writer.writerow([dataset, other_spelling(dataset, subject), clip,
                             CLASSES[guess] if position % 2 else str(guess)])
        writer.writerow(["casme2", "sub99", "EP99_99", "negative"])
    return path, rows


def test_official_columns_with_other_spellings_give_the_hand_computed_figures(cli, official_file):
    path, rows = official_file
    result = cli("score", path, "--task", "combined", "--json")
    assert result.exit_code == 0, result.output
    scored = json.loads(result.output)
    truth = np.array([int(row[3]) for row in rows[:-2]])
    predicted = np.array([answer(position, t) for position, t in enumerate(truth)])
    pooled = scored["metrics"]["pooled"]
    assert pooled["n"] == len(rows) - 2 == 440
    for name, value in expected_figures(truth, predicted).items():
        assert pooled[name] == pytest.approx(value, abs=1e-12), name
        low, high = pooled["ci"][name]
        assert low < value < high
    datasets = np.array([row[0] for row in rows[:-2]])
    for dataset in ("casme2", "samm", "smic"):
        mask = datasets == dataset
        assert scored["metrics"]["per_dataset"][dataset]["accuracy"] == pytest.approx(
            np.mean(truth[mask] == predicted[mask]))
    assert scored["missing"] == sorted(mebench_id(*row[:3]) for row in rows[-2:])
    assert scored["extra"] == ["casme2/sub99/EP99_99"]
    # the non-standard per-subject mean, by hand
    subjects = np.array([f"{row[0]}/{subject_key(row[1])}" for row in rows[:-2]])
    per_subject = [np.mean(truth[subjects == s] == predicted[subjects == s]) for s in np.unique(subjects)]
    assert scored["non_standard"]["mean_subject_accuracy"] == pytest.approx(np.mean(per_subject))
    assert scored["non_standard"]["subjects"] == len(per_subject)


def test_the_printed_report_names_what_is_missing_extra_and_non_standard(cli, official_file):
    path, rows = official_file
    result = cli("score", path, "--task", "combined")
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0] == f"{path}: 440 predictions scored against task 'combined'"
    assert lines[1] == ("missing from the file (2; not scored): "
                        + ", ".join(sorted(mebench_id(*row[:3]) for row in rows[-2:])))
    assert lines[2] == "not in the task (1; ignored): casme2/sub99/EP99_99"
    assert any(line.startswith("chance: accuracy ") for line in lines)
    assert any(line.startswith("non-standard, for comparison") and "mean of per-subject UF1" in line for line in lines)


def test_a_run_of_mebench_and_its_predictions_scored_again_give_the_same_figures(cli, tmp_path):
    run = sorted((ROOT / "leaderboards" / "runs").glob("waspp__synthetic__*__seed0"))[0]
    saved = json.loads((run / "metrics.json").read_text())
    options = json.loads((run / "run.json").read_text())["config"]["dataset_options"]
    frame = pd.read_csv(run / "predictions.csv")
    path = tmp_path / "external.csv"
    frame.rename(columns={"sample_id": "id", "predicted_label": "prediction"})[["id", "fold", "prediction"]].to_csv(
        path, index=False)
    result = cli("score", path, "--task", "synthetic", *[f"--dataset-opt={k}={v}" for k, v in options.items()],
                 "--json")
    assert result.exit_code == 0, result.output
    scored = json.loads(result.output)["metrics"]
    assert scored["pooled"] == saved["pooled"]  # figures, per class, confusion matrix and intervals
    assert scored["fold_mean"]["accuracy"] == saved["fold_mean"]["accuracy"]


@pytest.mark.parametrize("rows, problem", [
    ([["casme2/sub01/EP02_01f", "angry"]], "row 2: prediction 'angry' is neither a class of the task nor its index"),
    ([["casme2/sub01/EP02_01f", "3"]], "row 2: prediction '3' is neither a class"),
    ([["casme2/sub01/EP02_01f", "0"], ["casme2/sub01/EP02_01f", "1"]], "row 3: predicts casme2/sub01/EP02_01f twice"),
    ([["casme2/sub01/EP02_01f", "0", "extra"]], "row 2: has 3 values where the header has 2"),
    ([["casme2/nobody/none", "0"]], "matches none of the task's 442 samples"),
])
def test_a_malformed_row_is_one_line_naming_the_file_the_row_and_the_value(cli, tmp_path, rows, problem):
    path = tmp_path / "bad.csv"
    path.write_text("id,prediction\n" + "".join(",".join(row) + "\n" for row in rows))
    result = cli("score", path, "--task", "combined")
    assert result.exit_code == 1
    assert result.output.count("\n") == 1 and result.output.startswith(f"Error: {path}")
    assert problem in result.output


def test_a_file_without_the_columns_or_a_missing_file_says_what_to_give(cli, tmp_path):
    path = tmp_path / "columns.csv"
    path.write_text("sample,label\nx,0\n")
    result = cli("score", path, "--task", "combined")
    assert result.exit_code == 1 and "give a 'prediction' column" in result.output
    result = cli("score", tmp_path / "absent.csv", "--task", "combined")
    assert result.exit_code == 1 and "absent.csv: no such file" in result.output
    result = cli("score", path, "--task", "no-such-task")
    assert result.exit_code == 2 and result.output.count("\n") == 1


@pytest.mark.parametrize("spelling, key", [("sub01", "1"), ("1", "1"), ("s01", "1"), ("006", "6"), ("casme2/sub17", "17"),
                                           ("S10", "10")])
def test_subject_spellings_reduce_to_one_key(spelling, key):
    assert subject_key(spelling) == key


def test_the_files_own_folds_give_the_fold_mean(cli, tmp_path):
    """A ``fold`` column is kept (two folds by database here); without one, each subject is a fold (LOSO)."""
    rows = official_rows()
    path = tmp_path / "folds.csv"
    truth = np.array([int(row[3]) for row in rows])
    predicted = np.array([answer(position, t) for position, t in enumerate(truth)])
    folds = np.array(["casme2" if row[0] == "casme2" else "others" for row in rows])
    with open(path, "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["dataset", "subject", "clip", "fold", "prediction"])
        writer.writerows([*row[:3], fold, guess] for row, fold, guess in zip(rows, folds, predicted))
    fold_mean = json.loads(cli("score", path, "--task", "combined", "--json").output)["metrics"]["fold_mean"]
    assert fold_mean["folds"] == 2
    assert fold_mean["accuracy"] == pytest.approx(np.mean([np.mean(truth[folds == f] == predicted[folds == f])
                                                           for f in ("casme2", "others")]))


def test_an_action_unit_file_is_scored_by_macro_f1_over_label_sets(cli, tmp_path):
    """Label sets in any order and case, ``none`` for no label; macro-F1 over the labels present, by hand."""
    from mebench.run.plan import load_task_samples
    from mebench.registry import default_registry

    options = {"subjects": 3, "clips_per_subject": 6, "size": 48}
    spec = default_registry().datasets.get("synthetic-au")
    samples, _ = load_task_samples(spec, None, options)
    labels = spec.task_classes(spec.resolve_options(options)[0])
    truth = np.array([[label in sample.targets for label in labels] for sample in samples])
    predicted = truth.copy()
    predicted[::3, labels.index("AU12")] = False  # misses AU12 on every third sample
    predicted[1::4, labels.index("AU1")] = True   # and adds AU1 on every fourth
    rows = ["id,prediction"]
    for sample, row in zip(samples, predicted):
        chosen = [label.lower() for label, on in zip(labels, row) if on][::-1]  # another order, lower case
        rows.append(f"{sample.id},{'+'.join(chosen) or 'none'}")
    path = tmp_path / "aus.csv"
    path.write_text("\n".join(rows) + "\n")
    result = cli("score", path, "--task", "synthetic-au", *[f"--dataset-opt={k}={v}" for k, v in options.items()],
                 "--json")
    assert result.exit_code == 0, result.output
    pooled = json.loads(result.output)["metrics"]["pooled"]
    f1 = []
    for k in range(len(labels)):
        tp = np.sum(truth[:, k] & predicted[:, k])
        fp, fn = np.sum(~truth[:, k] & predicted[:, k]), np.sum(truth[:, k] & ~predicted[:, k])
        if tp + fp + fn:
            f1.append(2 * tp / (2 * tp + fp + fn))
    assert pooled["macro_f1"] == pytest.approx(np.mean(f1))
    assert pooled["macro_f1"] < 1.0
    bad = tmp_path / "bad_aus.csv"
    bad.write_text(f"id,prediction\n{samples[0].id},AU4+AU99\n")
    result = cli("score", bad, "--task", "synthetic-au", *[f"--dataset-opt={k}={v}" for k, v in options.items()])
    assert result.exit_code == 1 and "row 2: prediction 'AU4+AU99' names 'AU99', not a label of the task" in result.output


def test_the_shipped_list_is_used_even_where_mebench_data_is_set_and_filename_names_the_clip(tmp_path, monkeypatch):
    """$MEBENCH_DATA is everyone's set-up, not a request to read the copy; the official header's 'filename' is read."""
    from click.testing import CliRunner

    from mebench.cli import main

    path = tmp_path / "official_header.csv"
    path.write_text("dataset,subject,filename,prediction\ncasme2,sub01,EP02_01f,positive\n")
    result = CliRunner().invoke(main, ["score", str(path), "--task", "combined", "--json"],
                                env={"MEBENCH_DATA": str(tmp_path / "no_such_folder")})
    assert result.exit_code == 0, result.output
    scored = json.loads(result.output)
    assert scored["metrics"]["pooled"]["n"] == 1 and len(scored["missing"]) == 441
    assert scored["metrics"]["fold_mean"] == {}  # the file gave no folds: no fold-mean figure is made up
    report = CliRunner().invoke(main, ["score", str(path), "--task", "combined"]).output
    assert "fold-mean" not in report and "mean of per-subject accuracy 1.000" in report


def test_a_files_answers_and_non_standard_figures_are_read_by_the_tasks_kind(tmp_path, monkeypatch):
    """A kind built on single-label (a plugin's) reads class names and indices and has the per-subject figures;
    a multi-label kind reads label sets and has none; a kind without a reader refuses the file in one line."""
    import mebench.tasks as tasks
    from mebench.errors import DataError
    from mebench.analysis.score import Truth, score_file, score_report
    from mebench.tasks import MULTI_LABEL, SingleLabel, TaskKind

    class Graded(SingleLabel):
        name = "graded-emotion"

    monkeypatch.setattr(tasks, "TASK_KINDS", dict(tasks.TASK_KINDS))  # as its plugin's registration does
    tasks.register_task_kind(Graded())

    truth = [Truth("d/a/1", "d", "d/a", "negative"), Truth("d/a/2", "d", "d/a", "positive"),
             Truth("d/b/1", "d", "d/b", "negative"), Truth("d/b/2", "d", "d/b", "surprise")]
    path = tmp_path / "answers.csv"
    path.write_text("id,prediction\nd/a/1,Negative\nd/a/2,0\nd/b/1,negative\nd/b/2,2\n")
    scored = score_file(path, "graded", truth, CLASSES, Graded())
    # by hand: subject a, accuracy 1/2, UF1 over negative (F1 2/3) and positive (F1 0) = 1/3; subject b all right
    assert scored.per_subject == pytest.approx({"mean_subject_uf1": (1 / 3 + 1) / 2,
                                                "mean_subject_accuracy": (1 / 2 + 1) / 2, "subjects": 2})
    assert scored.metrics.pooled.figures["accuracy"] == pytest.approx(3 / 4)
    assert "mean of per-subject UF1 0.667, mean of per-subject accuracy 0.750 over 2 subjects" in score_report(scored)

    labels = [Truth("d/a/1", "d", "d/a", "AU1"), Truth("d/a/2", "d", "d/a", "none"),
              Truth("d/b/1", "d", "d/b", "AU1+AU2"), Truth("d/b/2", "d", "d/b", "AU2")]
    aus = tmp_path / "aus.csv"
    aus.write_text("id,prediction\nd/a/1,au1\nd/a/2,none\nd/b/1,AU2+AU1\nd/b/2,AU1\n")
    by_labels = score_file(aus, "aus", labels, ("AU1", "AU2"), MULTI_LABEL)
    assert by_labels.per_subject == {} and "non-standard" not in score_report(by_labels)
    # AU1: TP 2, FP 1; AU2: TP 1, FN 1 → F1 4/5 and 2/3
    assert by_labels.metrics.pooled.figures["macro_f1"] == pytest.approx((4 / 5 + 2 / 3) / 2)

    class Scores(TaskKind):
        name = "scores"

    with pytest.raises(DataError) as refused:
        score_file(path, "scores", truth, CLASSES, Scores())
    assert str(refused.value).startswith(f"{path}, row 2: holds answers of a scores task, which mebench score "
                                         f"cannot read from a file")
