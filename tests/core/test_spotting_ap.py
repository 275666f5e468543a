"""COCO-style AP@[.5:.95] as SOFTNet and MEAN print it (their vendored ``mean_average_precision`` package, soft
matching, all-point interpolation), on cases worked out by hand; and ``mebench score --task spotting`` printing it
beside the MEGC figures only when the predictions carry scores."""

import json

import pytest

from mebench.spotting import (AP_LABEL, COCO_IOU_THRESHOLDS, Spotted, average_precision, coco_average_precision,
                              detection_iou)


def me(video, onset, offset, score=None):
    return Spotted(video, onset, offset, "me", score)


def mae(video, onset, offset, score=None):
    return Spotted(video, onset, offset, "mae", score)


def test_the_thresholds_are_the_ten_from_one_half_to_nineteen_twentieths():
    assert COCO_IOU_THRESHOLDS == (0.5, 0.55, 0.6, 0.65, 0.7, 0.75, 0.8, 0.85, 0.9, 0.95)


@pytest.mark.parametrize("first, second, iou", [
    ((10, 19), (10, 25), 10 / 16),  # 10 shared frames of 16
    ((1, 5), (5, 9), 1 / 9),        # touching: one shared frame, as in the MEGC rule
    ((1, 5), (10, 15), 0.0),        # disjoint: nothing shared (the MEGC rule's "+ 1" would give 1/10)
    ((50, 50), (50, 50), 1.0),      # a single frame is one frame (the MEGC rule gives 0)
])
def test_iou_is_the_packages_box_iou_of_onset_0_offset_0(first, second, iou):
    assert detection_iou(first, second) == pytest.approx(iou)
    assert detection_iou(second, first) == pytest.approx(iou)


def test_a_perfect_set_has_ap_one_at_every_threshold():
    truth = [me("v1", 10, 19), me("v2", 50, 50), mae("v1", 100, 139)]
    predicted = [me("v1", 10, 19, 0.2), me("v2", 50, 50, 0.9), mae("v1", 100, 139, 0.5)]
    ap = coco_average_precision(predicted, truth)
    assert ap["me"]["ap"] == 1.0 and ap["mae"]["ap"] == 1.0 and ap["overall"] == 1.0
    assert set(ap["me"]["by_iou"].values()) == {1.0}


def test_one_true_positive_ranked_below_one_false_positive_scores_one_half():
    # the file lists the hit first, but its score puts the miss first. Ranked: miss, hit.
    # precision 0/1, 1/2; recall 0, 1. Envelope at recall 1: 1/2, so AP = (1 − 0) · 1/2 = 0.5 at every threshold
    truth = [me("v1", 10, 19)]
    predicted = [me("v1", 10, 19, 0.5), me("v1", 100, 109, 0.9)]
    ap = coco_average_precision(predicted, truth)
    assert ap["me"]["ap"] == pytest.approx(0.5)
    assert ap["mae"]["ap"] is None and ap["overall"] == pytest.approx(0.5)  # no MaE in the truth: undefined
    # the same two predictions with the scores swapped: hit first, precision 1 up to recall 1, AP 1
    swapped = [me("v1", 10, 19, 0.9), me("v1", 100, 109, 0.5)]
    assert coco_average_precision(swapped, truth)["me"]["ap"] == pytest.approx(1.0)


def test_all_point_interpolation_not_eleven_points():
    # two ground truths; ranked hit (0.9), miss (0.8), hit (0.7): precision 1, 1/2, 2/3; recall 1/2, 1/2, 1.
    # Envelope: 1 up to recall 1/2, 2/3 up to recall 1, so AP = 1/2 · 1 + 1/2 · 2/3 = 5/6.
    # (11-point sampling would give (6 · 1 + 5 · 2/3) / 11 = 28/33.)
    truth = [me("v1", 10, 19), me("v1", 40, 49)]
    predicted = [me("v1", 10, 19, 0.9), me("v1", 200, 209, 0.8), me("v1", 40, 49, 0.7)]
    assert average_precision(predicted, truth, 0.5) == pytest.approx(5 / 6)
    # three ground truths; ranked hit, miss, hit, hit: precision 1, 1/2, 2/3, 3/4 at recall 1/3, 1/3, 2/3, 1.
    # The envelope lifts 2/3 to 3/4: AP = 1/3 · 1 + 1/3 · 3/4 + 1/3 · 3/4 = 5/6 (the raw curve: 1/3 · (1 + 2/3 +
    # 3/4) = 29/36; 11 points: (4 · 1 + 7 · 3/4) / 11 = 37/44)
    truth = [me("v1", 10, 19), me("v1", 40, 49), me("v2", 0, 9)]
    predicted = [me("v1", 10, 19, 0.9), me("v1", 200, 209, 0.8), me("v1", 40, 49, 0.7), me("v2", 0, 9, 0.6)]
    assert average_precision(predicted, truth, 0.5) == pytest.approx(5 / 6)


@pytest.mark.parametrize("answer, prediction, matched_at, ap", [
    # IoU 10/16 = 0.625: a hit at 0.5, 0.55 and 0.6, a miss from 0.65 on → AP 1 at 3 thresholds of 10 = 0.3
    ((10, 19), (10, 25), 3, 0.3),
    # IoU 11/20 = 0.55 exactly: a hit at 0.5 and at 0.55 (IoU ≥ threshold) → 2 of 10 = 0.2
    ((0, 10), (0, 19), 2, 0.2),
])
def test_the_match_flips_at_the_threshold_the_iou_passes(answer, prediction, matched_at, ap):
    result = coco_average_precision([me("v1", *prediction, 0.7)], [me("v1", *answer)])
    assert [result["me"]["by_iou"][f"{t:g}"] for t in COCO_IOU_THRESHOLDS] == [1.0] * matched_at + [0.0] * (
        10 - matched_at)
    assert result["me"]["ap"] == pytest.approx(ap)


def test_soft_matching_a_prediction_whose_best_ground_truth_is_taken_tries_the_next():
    # A = [0, 9], B = [2, 11]. P1 = [0, 9] (0.9): IoU A 1, B 8/12 → takes A.
    # P2 = [0, 10] (0.8): IoU A 10/11 ≈ 0.909, B 9/12 = 0.75; A is taken, so it takes B up to threshold 0.75.
    # Thresholds 0.5 … 0.75 (6): two hits, AP 1. Thresholds 0.8 … 0.95 (4): hit, miss → recall 1/2 at precision 1,
    # AP 1/2. AP@[.5:.95] = (6 · 1 + 4 · 0.5) / 10 = 0.8 (greedy matching, as for VOC, would give 0.5 throughout)
    truth = [me("v1", 0, 9), me("v1", 2, 11)]
    predicted = [me("v1", 0, 9, 0.9), me("v1", 0, 10, 0.8)]
    result = coco_average_precision(predicted, truth)
    assert [result["me"]["by_iou"][f"{t:g}"] for t in COCO_IOU_THRESHOLDS] == [1.0] * 6 + [0.5] * 4
    assert result["me"]["ap"] == pytest.approx(0.8)


def test_a_ground_truth_is_found_once_and_matches_stay_within_video_and_type():
    # Two MEs in the truth (v1, v3). v1's is found by the 0.9 prediction; the 0.8 duplicate is a miss (found
    # once); the 0.7 one, on v1's frames but in v2, is a miss. Ranked ME: hit, miss, miss → precision 1, 1/2, 1/3
    # at recall 1/2, 1/2, 1/2 → AP = 1/2 · 1 = 0.5. MaE: its one prediction lies on v1's ME frames, not on v1's
    # MaE → AP 0 (a type with truth but no hit).
    truth = [me("v1", 10, 19), me("v3", 0, 9), mae("v1", 100, 139)]
    predicted = [me("v1", 10, 19, 0.9), me("v1", 10, 19, 0.8), me("v2", 10, 19, 0.7), mae("v1", 10, 19, 0.6)]
    result = coco_average_precision(predicted, truth)
    assert result["me"]["ap"] == pytest.approx(0.5)
    assert result["mae"]["ap"] == 0.0
    assert result["overall"] == pytest.approx(0.25)  # the mean of the two types


def test_equal_scores_keep_the_order_given():
    # all scores equal (SOFTNet and MEAN give every interval 0): the file's order ranks them.
    # miss first then hit: AP 1/2; hit first then miss: AP 1
    truth = [me("v1", 10, 19)]
    assert average_precision([me("v1", 100, 109, 0.0), me("v1", 10, 19, 0.0)], truth, 0.5) == pytest.approx(0.5)
    assert average_precision([me("v1", 10, 19, 0.0), me("v1", 100, 109, 0.0)], truth, 0.5) == pytest.approx(1.0)


def test_predictions_without_scores_are_refused_by_the_function():
    with pytest.raises(ValueError, match="score"):
        coco_average_precision([me("v1", 10, 19)], [me("v1", 10, 19)])


GROUND_TRUTH = """vid,onset,offset,type,subject
v1,10,19,me,s1
v1,100,139,mae,s1
v2,,,,s2
"""


@pytest.fixture
def truth_file(tmp_path):
    path = tmp_path / "gt.csv"
    path.write_text(GROUND_TRUTH)
    return path


def test_score_prints_ap_beside_the_megc_figures_when_predictions_carry_scores(cli, truth_file, tmp_path):
    # ME ranked: v2 miss (0.9, a video without expressions), v1 hit (0.4) → AP 1/2 at every threshold.
    # MaE: [100, 139] found exactly → 1. Mean of the types: 0.75.
    predictions = tmp_path / "pred.csv"
    predictions.write_text("vid,onset,offset,type,confidence\nv1,10,19,me,0.4\nv2,0,9,me,0.9\nv1,100,139,mae,0.3\n")
    scored = json.loads(cli("score", predictions, "--task", "spotting", "--ground-truth", truth_file, "--json").output)
    assert scored["ap"]["name"] == AP_LABEL
    assert scored["ap"]["me"]["ap"] == pytest.approx(0.5) and scored["ap"]["mae"]["ap"] == pytest.approx(1.0)
    assert scored["ap"]["overall"] == pytest.approx(0.75)
    assert scored["me"]["tp"] == 1 and scored["me"]["fp"] == 1  # the MEGC counts are unchanged beside it
    text = cli("score", predictions, "--task", "spotting", "--ground-truth", truth_file).output
    assert f"{AP_LABEL}: ME 0.5000, MaE 1.0000, mean of the types 0.7500" in text.splitlines()


def test_without_a_score_column_ap_is_not_reported(cli, truth_file, tmp_path):
    predictions = tmp_path / "pred.csv"
    predictions.write_text("vid,onset,offset,type\nv1,10,19,me\nv2,0,9,me\n")
    result = cli("score", predictions, "--task", "spotting", "--ground-truth", truth_file, "--json")
    assert result.exit_code == 0 and "ap" not in json.loads(result.output)
    assert "AP@" not in cli("score", predictions, "--task", "spotting", "--ground-truth", truth_file).output


@pytest.mark.parametrize("value", ["", "high", "nan"])
def test_a_score_that_is_not_a_number_is_one_line_naming_the_file_and_row(cli, truth_file, tmp_path, value):
    predictions = tmp_path / "pred.csv"
    predictions.write_text(f"vid,onset,offset,type,score\nv1,10,19,me,0.5\nv2,0,9,me,{value}\n")
    result = cli("score", predictions, "--task", "spotting", "--ground-truth", truth_file)
    assert result.exit_code == 1 and result.output.count("\n") == 1
    assert result.output.startswith(f"Error: {predictions}")
    assert f"row 3: score {value!r} is not a number" in result.output
