import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import balanced_accuracy_score, confusion_matrix, f1_score, precision_recall_fscore_support

from mebench.data import MEGC2019_CLASSES as CLASSES
from mebench.metrics import classification_metrics
from mebench.tasks import SINGLE_LABEL


def frame(rows):
    """Predictions as the runner writes them; each fold tests one subject (LOSO)."""
    predictions = pd.DataFrame(rows, columns=["sample_id", "dataset", "fold", "true_label", "predicted_label"])
    predictions["subject"] = predictions["dataset"] + "/subject" + predictions["fold"].astype(str)
    return predictions


def test_hand_made_three_class_case_matches_hand_computation_and_sklearn():
    # truth:  neg neg neg neg pos pos sur sur
    # pred:   neg neg pos sur pos neg sur sur
    y_true = [0, 0, 0, 0, 1, 1, 2, 2]
    y_pred = [0, 0, 1, 2, 1, 0, 2, 2]
    m = classification_metrics(y_true, y_pred, CLASSES)
    # by hand: neg P=2/3 R=2/4 F1=4/7; pos P=1/2 R=1/2 F1=1/2; sur P=2/3 R=1 F1=4/5
    assert m["accuracy"] == pytest.approx(5 / 8)
    assert m["uf1"] == pytest.approx((4 / 7 + 1 / 2 + 4 / 5) / 3)
    assert m["uar"] == pytest.approx((2 / 4 + 1 / 2 + 1) / 3)
    assert m["per_class"]["negative"]["precision"] == pytest.approx(2 / 3)
    assert m["per_class"]["surprise"]["recall"] == pytest.approx(1.0)
    assert m["confusion_matrix"] == [[2, 1, 1], [1, 1, 0], [0, 0, 2]]
    # and scikit-learn agrees
    assert m["uf1"] == pytest.approx(f1_score(y_true, y_pred, average="macro"))
    assert m["uar"] == pytest.approx(balanced_accuracy_score(y_true, y_pred))
    assert m["confusion_matrix"] == confusion_matrix(y_true, y_pred).tolist()
    p, r, f, s = precision_recall_fscore_support(y_true, y_pred)
    assert [m["per_class"][c]["f1"] for c in CLASSES] == pytest.approx(f.tolist())


def test_class_absent_from_truth_is_not_recalled_but_counts_in_f1_when_predicted():
    # no surprise in the truth, one surprise predicted: its F1 is 0 and counts, its recall is undefined
    y_true = [0, 0, 1, 1]
    y_pred = [0, 2, 1, 1]
    m = classification_metrics(y_true, y_pred, CLASSES)
    assert m["uar"] == pytest.approx((1 / 2 + 1) / 2)
    assert m["uf1"] == pytest.approx((2 / 3 + 1 + 0) / 3)
    assert m["uf1"] == pytest.approx(f1_score(y_true, y_pred, average="macro", zero_division=0))
    # a class in neither truth nor predictions is left out of UF1 rather than counted as zero
    m2 = classification_metrics([0, 1, 1], [0, 1, 0], CLASSES)
    assert m2["uf1"] == pytest.approx((2 / 3 + 2 / 3) / 2)
    assert m2["per_class"]["surprise"]["support"] == 0


def test_pooled_over_folds_differs_from_fold_mean_and_handles_class_absent_from_a_fold():
    rows = [
        # fold 0 has no surprise sample at all
        ("a/1", "a", 0, "negative", "negative"), ("a/2", "a", 0, "positive", "negative"),
        # fold 1 has one of each
        ("a/3", "a", 1, "negative", "negative"), ("a/4", "a", 1, "positive", "positive"),
        ("a/5", "a", 1, "surprise", "surprise"), ("a/6", "a", 1, "surprise", "negative"),
    ]
    result = SINGLE_LABEL.pooled(frame(rows), CLASSES)
    y_true = [0, 1, 0, 1, 2, 2]
    y_pred = [0, 0, 0, 1, 2, 0]
    assert result["pooled"]["accuracy"] == pytest.approx(4 / 6)
    assert result["pooled"]["uf1"] == pytest.approx(f1_score(y_true, y_pred, average="macro"))
    assert result["pooled"]["uar"] == pytest.approx(balanced_accuracy_score(y_true, y_pred))
    assert result["fold_mean"]["accuracy"] == pytest.approx((1 / 2 + 3 / 4) / 2)
    assert result["fold_mean"]["accuracy"] != pytest.approx(result["pooled"]["accuracy"])


def test_predictions_are_aligned_by_sample_id_not_position():
    rows = [("d/%02d" % i, "d", i % 3, CLASSES[i % 3], CLASSES[(i * 7) % 3]) for i in range(30)]
    shuffled = [rows[i] for i in np.random.default_rng(0).permutation(len(rows))]
    assert SINGLE_LABEL.pooled(frame(rows), CLASSES) == SINGLE_LABEL.pooled(frame(shuffled), CLASSES)


def test_per_dataset_metrics_for_composites():
    rows = [("x/1", "x", 0, "negative", "negative"), ("x/2", "x", 0, "positive", "negative"),
            ("y/1", "y", 1, "surprise", "surprise"), ("y/2", "y", 1, "negative", "negative")]
    result = SINGLE_LABEL.pooled(frame(rows), CLASSES)
    assert set(result["per_dataset"]) == {"x", "y"}
    assert result["per_dataset"]["x"]["accuracy"] == pytest.approx(0.5)
    assert result["per_dataset"]["y"]["accuracy"] == pytest.approx(1.0)
    assert result["per_dataset"]["x"]["uf1"] == pytest.approx(f1_score([0, 1], [0, 0], average="macro"))


def test_duplicate_predictions_are_refused():
    rows = [("x/1", "x", 0, "negative", "negative"), ("x/1", "x", 1, "negative", "positive")]
    with pytest.raises(ValueError, match="more than once"):
        SINGLE_LABEL.pooled(frame(rows), CLASSES)


def test_pooled_and_per_dataset_blocks_carry_subject_bootstrap_intervals():
    rows = [(f"{d}/{i:02d}", d, i % 4, CLASSES[i % 3], CLASSES[(i * 5) % 3] if i % 4 else CLASSES[i % 3])
            for d in ("x", "y") for i in range(24)]
    result = SINGLE_LABEL.pooled(frame(rows), CLASSES)
    for block in [result["pooled"], *result["per_dataset"].values()]:
        ci = block["ci"]
        assert ci["resamples"] == 2000 and ci["seed"] == 0 and ci["level"] == 0.95 and ci["unit"] == "subject"
        for name in ("accuracy", "uf1", "uar"):
            assert ci[name][0] <= block[name] <= ci[name][1]
    assert result["pooled"]["ci"]["groups"] == 8 and result["per_dataset"]["x"]["ci"]["groups"] == 4
    all_right = [(f"x/{i}", "x", i % 3, CLASSES[i % 3], CLASSES[i % 3]) for i in range(9)]
    assert SINGLE_LABEL.pooled(frame(all_right), CLASSES)["pooled"]["ci"]["uf1"] == [1.0, 1.0]


def test_predictions_without_subjects_are_refused_with_the_missing_column():
    with pytest.raises(ValueError, match=r"lack the columns \['subject'\]"):
        SINGLE_LABEL.pooled(frame([("x/1", "x", 0, "negative", "negative")]).drop(columns="subject"), CLASSES)
