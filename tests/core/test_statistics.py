"""Subject-level bootstrap, paired comparison, McNemar and Holm on cases with known answers."""

from math import comb

import numpy as np
import pytest

from mebench.metrics import classification_metrics
from mebench.statistics import (encode, group_confusions, holm_adjust, mcnemar_exact, metrics_from_confusion,
                                paired_bootstrap, resample_counts, subject_bootstrap)

CLASSES = ("negative", "positive", "surprise")


def random_task(n_subjects=20, per_subject=6, accuracy=0.7, seed=0):
    rng = np.random.default_rng(seed)
    groups = np.repeat(np.arange(n_subjects), per_subject)
    truth = rng.integers(0, 3, groups.size)
    predicted = np.where(rng.random(groups.size) < accuracy, truth, (truth + rng.integers(1, 3, groups.size)) % 3)
    return truth, predicted, groups


def test_vectorised_metrics_equal_classification_metrics_on_every_subset():
    truth, predicted, groups = random_task(n_subjects=12, per_subject=3, accuracy=0.5, seed=4)
    confusions = group_confusions(encode(truth, predicted, groups, CLASSES))[0]
    for subset in ([0], [1, 2], [3, 3, 7], list(range(12))):  # small subsets miss classes: the edge cases
        mask = np.concatenate([np.flatnonzero(groups == g) for g in subset])
        expected = classification_metrics(truth[mask], predicted[mask], CLASSES)
        got = metrics_from_confusion(confusions[subset].sum(axis=0))
        for name in ("accuracy", "uf1", "uar"):
            assert got[name] == pytest.approx(expected[name]), (subset, name)


def test_all_correct_predictions_give_the_interval_one_one():
    truth, _, groups = random_task()
    result = subject_bootstrap(encode(truth, truth, groups, CLASSES))
    for name in ("accuracy", "uf1", "uar"):
        assert result[name] == [1.0, 1.0] and result["estimate"][name] == 1.0
    assert result["resamples"] == 2000 and result["seed"] == 0 and result["level"] == 0.95
    assert result["unit"] == "subject" and "cluster bootstrap" in result["method"]


def test_bootstrap_is_seeded_and_its_interval_brackets_the_estimate():
    data = encode(*random_task(), CLASSES)
    first, again = subject_bootstrap(data), subject_bootstrap(data)
    assert first == again
    assert subject_bootstrap(data, seed=1)["uf1"] != first["uf1"]
    for name in ("accuracy", "uf1", "uar"):
        assert first[name][0] < first["estimate"][name] < first[name][1]


def test_each_resample_draws_whole_subjects_with_replacement():
    counts = resample_counts(n_groups=7, resamples=500, seed=3)
    assert counts.shape == (500, 7) and (counts.sum(axis=1) == 7).all()
    assert (counts == 0).any() and (counts >= 2).any()  # some subjects left out, some drawn twice


def test_resampling_unit_is_the_subject_not_the_sample():
    # 10 subjects of 20 samples: five subjects all right, five all wrong. Resampling samples sees
    # 200 independent coin flips (narrow); resampling subjects sees 10 (wide): the width must
    # follow sqrt(0.25 / 10) rather than sqrt(0.25 / 200).
    groups = np.repeat(np.arange(10), 20)
    truth = np.zeros(200, int)
    predicted = np.where(groups < 5, 0, 1)
    by_subject = subject_bootstrap(encode(truth, predicted, groups, CLASSES))["accuracy"]
    by_sample = subject_bootstrap(encode(truth, predicted, np.arange(200), CLASSES))["accuracy"]
    width_subject, width_sample = by_subject[1] - by_subject[0], by_sample[1] - by_sample[0]
    assert width_subject == pytest.approx(2 * 1.96 * np.sqrt(0.25 / 10), rel=0.2)
    assert width_sample == pytest.approx(2 * 1.96 * np.sqrt(0.25 / 200), rel=0.2)
    assert width_subject > 3 * width_sample


def test_several_seeds_average_metrics_under_one_subject_draw():
    truth, first, groups = random_task(seed=1)
    _, second, _ = random_task(seed=2)
    second = np.where(np.random.default_rng(9).random(truth.size) < 0.5, truth, second)
    both = subject_bootstrap(encode(truth, np.stack([first, second]), groups, CLASSES))
    one = subject_bootstrap(encode(truth, first, groups, CLASSES))
    two = subject_bootstrap(encode(truth, second, groups, CLASSES))
    assert both["seeds"] == 2
    assert both["estimate"]["uf1"] == pytest.approx((one["estimate"]["uf1"] + two["estimate"]["uf1"]) / 2)
    # the same draws for every seed: the interval of the mean lies between the seeds' intervals
    assert min(one["uf1"][0], two["uf1"][0]) <= both["uf1"][0] <= max(one["uf1"][0], two["uf1"][0])


def test_a_run_compared_with_itself_gives_zero_difference_and_p_one():
    data = encode(*random_task(), CLASSES)
    result = paired_bootstrap(data, data)
    for name in ("accuracy", "uf1", "uar"):
        assert result[name] == {"delta": 0.0, "ci": [0.0, 0.0], "p": 1.0}
    truth, predicted, _ = random_task()
    assert mcnemar_exact(predicted == truth, predicted == truth).p == 1.0


def test_paired_bootstrap_finds_a_large_difference_and_not_a_tiny_one():
    truth, good, groups = random_task(n_subjects=30, accuracy=0.9, seed=5)
    _, bad, _ = random_task(n_subjects=30, accuracy=0.4, seed=6)
    result = paired_bootstrap(encode(truth, good, groups, CLASSES), encode(truth, bad, groups, CLASSES))
    assert result["accuracy"]["delta"] == pytest.approx(np.mean(good == truth) - np.mean(bad == truth))
    assert result["accuracy"]["ci"][0] > 0 and result["accuracy"]["p"] == pytest.approx(1 / 2001)
    # one sample flipped each way: no difference in accuracy, far from significant in UF1
    nearly = good.copy()
    right, wrong = np.flatnonzero(good == truth)[0], np.flatnonzero(good != truth)[0]
    nearly[right], nearly[wrong] = (truth[right] + 1) % 3, truth[wrong]
    result = paired_bootstrap(encode(truth, good, groups, CLASSES), encode(truth, nearly, groups, CLASSES))
    assert result["accuracy"]["delta"] == 0 and result["accuracy"]["p"] == 1.0 and result["uf1"]["p"] > 0.5


def test_paired_bootstrap_refuses_different_samples():
    truth, predicted, groups = random_task()
    with pytest.raises(ValueError, match="same samples"):
        paired_bootstrap(encode(truth, predicted, groups, CLASSES), encode(1 - truth % 2, predicted, groups, CLASSES))


def test_mcnemar_matches_a_hand_computed_exact_binomial():
    # 2x2 table: both right 40, A right & B wrong 9, A wrong & B right 2, both wrong 10.
    first = np.array([1] * 40 + [1] * 9 + [0] * 2 + [0] * 10, bool)
    second = np.array([1] * 40 + [0] * 9 + [1] * 2 + [0] * 10, bool)
    result = mcnemar_exact(first, second)
    assert (result.only_first, result.only_second) == (9, 2)
    # two-sided: 2 * P(X <= 2), X ~ Binomial(11, 1/2) = 2 * (1 + 11 + 55) / 2048
    assert result.p == pytest.approx(2 * (comb(11, 0) + comb(11, 1) + comb(11, 2)) / 2 ** 11)
    assert result.p == pytest.approx(0.065430, abs=1e-6)
    assert mcnemar_exact(second, first).p == pytest.approx(result.p)


def test_holm_adjustment_by_hand():
    # sorted 0.01, 0.02, 0.04 → 3·0.01, max(0.03, 2·0.02), max(0.04, 1·0.04); given in another order
    assert holm_adjust([0.04, 0.01, 0.02]).tolist() == pytest.approx([0.04, 0.03, 0.04])
    assert holm_adjust([0.5, 0.9]).tolist() == pytest.approx([1.0, 1.0])  # capped at 1, kept monotone
    assert holm_adjust([]).size == 0


def test_the_interval_of_several_seeds_is_that_of_their_mean():
    """Seed 0 right everywhere, seed 1 wrong everywhere: every draw scores 1 and 0, so the mean is 0.5 on
    every draw — the interval of the mean is [0.5, 0.5], not seed 0's [1, 1] nor seed 1's [0, 0]."""
    truth, _, groups = random_task(n_subjects=12, seed=3)
    wrong = (truth + 1) % 3
    both = subject_bootstrap(encode(truth, np.stack([truth, wrong]), groups, CLASSES))
    for metric in ("accuracy", "uf1", "uar"):
        assert both["estimate"][metric] == pytest.approx(0.5)
        assert both[metric] == pytest.approx([0.5, 0.5])


def test_the_paired_p_value_is_two_sided_on_a_case_worked_by_hand():
    """Two subjects of 5 samples; A and B differ only on subject 0 (A right, B wrong), so Δaccuracy = 0.5.
    A draw takes subject 0 twice (Δ* = 1), once (Δ* = 0.5) or never (Δ* = 0), with probabilities 1/4, 1/2,
    1/4: |Δ* − Δ̂| ≥ |Δ̂| in half the draws, so the two-sided p is about 0.5 (one-sided: about 0.25), and
    swapping A and B gives the same p."""
    groups = np.repeat([0, 1], 5)
    truth = np.zeros(10, int)
    first = truth.copy()
    second = np.where(groups == 0, 1, 0)  # wrong on subject 0, right on subject 1
    a, b = encode(truth, first, groups, CLASSES), encode(truth, second, groups, CLASSES)
    forward, backward = paired_bootstrap(a, b), paired_bootstrap(b, a)
    assert forward["accuracy"]["delta"] == pytest.approx(0.5) and backward["accuracy"]["delta"] == pytest.approx(-0.5)
    assert 0.45 < forward["accuracy"]["p"] < 0.55  # binomial sd of the estimate with 2,000 draws: 0.011
    assert backward["accuracy"]["p"] == forward["accuracy"]["p"]
    assert forward["accuracy"]["ci"] == pytest.approx([0.0, 1.0])


def test_bootstrap_of_a_composite_sized_run():
    """A 442-sample, 68-subject run (the speed is measured by benchmarks/statistics_speed.py)."""
    rng = np.random.default_rng(0)
    sizes = rng.multinomial(442 - 68, np.ones(68) / 68) + 1  # 442 samples over 68 unequal subjects
    groups = np.repeat(np.arange(68), sizes)
    truth = rng.integers(0, 3, 442)
    result = subject_bootstrap(encode(truth, np.where(rng.random(442) < 0.7, truth, 0), groups, CLASSES))
    assert result["groups"] == 68 and result["resamples"] == 2000
    assert result["accuracy"][0] < result["estimate"]["accuracy"] < result["accuracy"][1]
