"""Spotting scored by the MEGC rule, on cases worked out by hand from the organisers' ``calc_iou`` and
``pred_clips_analysis`` (MEGC2020 baseline, ``MDMD_results/result_helper.py``)."""

import json

import numpy as np
import pytest

from mebench.spotting import found_intervals, megc_iou, spotting_figures
from mebench.statistics import EncodedCounts, subject_bootstrap

GROUND_TRUTH = """vid,onset,offset,type,subject
v1,10,19,me,s1
v1,100,119,mae,s1
v2,0,9,me,s1
v2,4,13,me,s1
v3,50,50,me,s2
v3,200,259,mae,s2
v4,,,,s2
v5,30,39,mae,s3
"""
PREDICTIONS = """vid,pred_onset,pred_offset,type
v1,10,19,me
v1,11,20,me
v1,119,138,mae
v2,2,11,me
v3,50,50,me
v3,200,259,mae
v4,5,25,me
v5,30,39,me
"""


@pytest.mark.parametrize("first, second, iou", [
    ((10, 19), (12, 21), 8 / 12),   # 8 shared frames of 12
    ((10, 19), (14, 23), 6 / 14),   # below 0.5
    ((1, 5), (5, 9), 1 / 9),        # touching: one shared frame
    ((1, 5), (10, 15), 1 / 10),     # disjoint: the organisers' "+ 1" still counts one frame
    ((50, 50), (50, 50), 0.0),      # single-frame intervals: IoU 0 by the organisers' rule
    ((0, 9), (0, 9), 1.0),
])
def test_iou_is_the_organisers_calc_iou(first, second, iou):
    assert megc_iou(first, second) == pytest.approx(iou)
    assert megc_iou(second, first) == pytest.approx(iou)


def test_a_ground_truth_found_twice_counts_once_and_one_prediction_can_find_two():
    assert found_intervals([(10, 19), (11, 20)], [(10, 19)]) == 1
    assert found_intervals([(2, 11)], [(0, 9), (4, 13)]) == 2
    assert found_intervals([(14, 23)], [(10, 19)], threshold=0.4) == 1  # the threshold is settable
    assert found_intervals([(14, 23)], [(10, 19)]) == 0


def test_figures_come_from_pooled_counts_not_from_the_mean_of_two_f1s():
    counts = np.array([[6, 4, 3], [2, 3, 1]])  # (type, [predictions, truth, found])
    figures = spotting_figures(counts)
    assert figures["f1_me"] == pytest.approx(0.6) and figures["f1_mae"] == pytest.approx(0.4)
    assert figures["f1"] == pytest.approx(8 / 15)  # 2·4 / (8 + 7), not (0.6 + 0.4) / 2
    assert figures["precision"] == pytest.approx(0.5) and figures["recall"] == pytest.approx(4 / 7)
    empty = spotting_figures(np.zeros((2, 3)))
    assert empty["f1"] == 0.0 and empty["precision"] == 0.0


@pytest.fixture
def files(tmp_path):
    truth, predictions = tmp_path / "gt.csv", tmp_path / "pred.csv"
    truth.write_text(GROUND_TRUTH)
    predictions.write_text(PREDICTIONS)
    return predictions, truth


def test_score_counts_every_case_as_the_organisers_code_does(cli, files):
    predictions, truth = files
    result = cli("score", predictions, "--task", "spotting", "--ground-truth", truth, "--json")
    assert result.exit_code == 0, result.output
    scored = json.loads(result.output)
    # ME: v1 found once by two predictions; v2 two found by one prediction; v3 single frames never match;
    # v4 (no expression) and v5 (an ME prediction on an MaE) are false positives
    assert {k: scored["me"][k] for k in ("tp", "fp", "fn")} == {"tp": 3, "fp": 3, "fn": 1}
    assert scored["me"]["precision"] == pytest.approx(0.5) and scored["me"]["recall"] == pytest.approx(0.75)
    assert scored["me"]["f1"] == pytest.approx(0.6)
    # MaE: v1's prediction only touches its interval; v3's matches; v5's was never predicted as MaE
    assert {k: scored["mae"][k] for k in ("tp", "fp", "fn")} == {"tp": 1, "fp": 1, "fn": 2}
    assert scored["mae"]["f1"] == pytest.approx(0.4)
    assert {k: scored["overall"][k] for k in ("tp", "fp", "fn")} == {"tp": 4, "fp": 4, "fn": 3}
    assert scored["overall"]["f1"] == pytest.approx(8 / 15)
    assert scored["videos"] == 5 and scored["iou"] == 0.5
    assert scored["interval"]["unit"] == "subject" and scored["interval"]["groups"] == 3
    low, high = scored["overall"]["f1_interval"]
    assert low <= 8 / 15 <= high


def test_the_interval_resamples_subjects_with_all_their_videos():
    # two subjects: one perfect (F1 1), one all wrong (F1 0); every resample is one of three mixes
    counts = np.array([[[[2, 2, 2], [0, 0, 0]], [[2, 2, 0], [0, 0, 0]]]])
    result = subject_bootstrap(EncodedCounts(counts, "intervals"), resamples=400)
    assert result["estimate"]["f1"] == pytest.approx(0.5)
    assert result["f1"] == [0.0, 1.0]


def test_the_printed_table_and_a_lower_iou(cli, files):
    predictions, truth = files
    result = cli("score", predictions, "--task", "spotting", "--ground-truth", truth)
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0].endswith("(5 videos, MEGC rule, IoU ≥ 0.5)")
    me = next(line for line in lines if line.startswith("| ME "))
    assert [cell.strip() for cell in me.strip("|").split("|")][:8] == ["ME", "4", "6", "3", "3", "1", "0.5000",
                                                                        "0.7500"]
    looser = json.loads(cli("score", predictions, "--task", "spotting", "--ground-truth", truth, "--iou", "0.4",
                            "--json").output)
    assert looser["me"]["tp"] == 3 and looser["iou"] == 0.4


@pytest.mark.parametrize("row, problem", [
    ("v9,1,5,me", "row 2: video 'v9' is not in the ground truth"),
    ("v1,20,10,me", "row 2: offset 10 comes before onset 20"),
    ("v1,1,5,micro-1", "row 2: type 'micro-1' is not me or mae"),
    ("v1,1.5,5,me", "row 2: onset '1.5' is not a frame number"),
    ("v1,1,5", "row 2: has 3 values where the header has 4"),
])
def test_a_bad_prediction_row_is_one_line_naming_the_file_the_row_and_the_value(cli, files, row, problem):
    predictions, truth = files
    predictions.write_text("vid,onset,offset,type\n" + row + "\n")
    result = cli("score", predictions, "--task", "spotting", "--ground-truth", truth)
    assert result.exit_code == 1 and result.output.count("\n") == 1
    assert result.output.startswith(f"Error: {predictions}") and problem in result.output


def test_spotting_needs_its_ground_truth_file(cli, files):
    predictions, truth = files
    result = cli("score", predictions, "--task", "spotting")
    assert result.exit_code == 2 and "--ground-truth" in result.output
    result = cli("score", predictions, "--task", "combined", "--ground-truth", truth)
    assert result.exit_code == 2 and "--task spotting" in result.output


def test_without_subjects_the_interval_says_it_resamples_videos_and_recognition_options_are_refused(cli, tmp_path):
    truth, predictions = tmp_path / "gt.csv", tmp_path / "pred.csv"
    truth.write_text("vid,onset,offset,type\nv1,10,19,me\nv2,0,9,me\n")
    predictions.write_text("vid,onset,offset,type\nv1,10,19,me\n")
    scored = json.loads(cli("score", predictions, "--task", "spotting", "--ground-truth", truth, "--json").output)
    assert scored["interval"]["unit"].startswith("video") and scored["interval"]["groups"] == 2
    assert scored["interval"]["method"].startswith("video-level")
    result = cli("score", predictions, "--task", "spotting", "--ground-truth", truth, "--dataset-opt", "gt_version=441")
    assert result.exit_code == 2 and "--dataset-opt" in result.output
