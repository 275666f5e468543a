"""What the hand-crafted baselines and the declared options promise (issue 29): ``standardise`` scales test
samples with the training fold's statistics, the SVM's ``C`` reaches the SVM, Bi-WOOF's votes are weighted
by flow magnitude, ``lbp_top``'s ``radius_y`` is used, ``grey_sequence`` does not crop frames that are already
cropped; an integer option refuses 2.5 and no option takes infinity or NaN. Expected values are computed
here from the definitions (scikit-learn's SVC, explicit loops), not read from the code under test."""

from __future__ import annotations

import math
import types

import numpy as np
import pytest
from sklearn.svm import SVC

from mebench.errors import OptionError
from mebench.options import Option, resolve_options
from mebench.run.preprocessing import build_chain
from mebench.registry import default_registry
from mebench_plugins.models.svm_baselines import LinearSVM
from mebench_plugins.preprocessors import sequences
from mebench_plugins.preprocessors.features import biwoof_features
from tests.conftest import mebench_cli


def softmax_of_svc(svc: SVC, x: np.ndarray) -> np.ndarray:
    """The documented scores: a softmax of libsvm's one-vs-rest-shaped decision values."""
    decision = svc.decision_function(x)
    scores = np.exp(decision - decision.max(axis=1, keepdims=True))
    return scores / scores.sum(axis=1, keepdims=True)


def overlapping_classes(seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Three overlapping classes in 3-D, the last feature on a scale 1,000 times the others."""
    rng = np.random.default_rng(seed)
    y = np.repeat([0, 1, 2], 10)
    x = rng.normal(size=(30, 3)) + np.eye(3)[y] * 1.2
    return x * np.array([1.0, 1.0, 1000.0]), y


# --- the linear SVM ---------------------------------------------------------------------------------------------

def test_standardise_scales_test_samples_with_the_training_folds_statistics():
    x, y = overlapping_classes()
    test = x[:6] * 3.0 + np.array([2.0, -1.0, 500.0])  # another mean and spread than the training fold
    mean, deviation = x.mean(axis=0), x.std(axis=0)
    svc = SVC(kernel="linear", C=1.0, decision_function_shape="ovr").fit((x - mean) / deviation, y)
    fitted = LinearSVM(num_classes=3, standardise=True).fit(x, y)
    np.testing.assert_allclose(fitted.predict_proba(test), softmax_of_svc(svc, (test - mean) / deviation), atol=1e-9)
    own = (test - test.mean(axis=0)) / test.std(axis=0)  # what scaling by the test samples' own statistics gives
    assert not np.allclose(fitted.predict_proba(test), softmax_of_svc(svc, own), atol=1e-3)


@pytest.mark.parametrize("model", ["lbptop", "biwoof"])
def test_the_svms_c_reaches_the_svm(model):
    x, y = overlapping_classes(1)
    x = x / np.array([1.0, 1.0, 1000.0])
    spec = default_registry().models.get(model)
    values, _ = resolve_options({"C": 0.01}, spec.options, "--model-opt", f"model {model!r}")
    fitted = spec.build(3, **values).fit(x, y)
    assert fitted.svm_.C == 0.01
    small = SVC(kernel="linear", C=0.01, decision_function_shape="ovr").fit(x, y)
    default = SVC(kernel="linear", C=1.0, decision_function_shape="ovr").fit(x, y)
    np.testing.assert_allclose(fitted.predict_proba(x), softmax_of_svc(small, x), atol=1e-9)
    assert not np.allclose(softmax_of_svc(small, x), softmax_of_svc(default, x), atol=1e-3)  # C matters here


# --- the feature steps ------------------------------------------------------------------------------------------

def test_bi_woof_votes_are_weighted_by_flow_magnitude():
    """One block: 8 pixels flowing right with magnitude 3, 8 flowing up with magnitude 1. Orientation 0° falls
    in bin 4 of [−180°, 180°] in 45° bins, 90° in bin 6; weighted votes 24 and 8 give 0.75 and 0.25 (by count
    they would be 0.5 and 0.5), scaled by the summed strain, then L2-normalised."""
    flow = np.zeros((4, 4, 2))
    flow[:2, :, 0] = 3.0  # right
    flow[2:, :, 1] = 1.0  # up: v > 0, atan2(1, 0) = 90°
    strain = np.full((4, 4), 0.5)
    expected = np.zeros(8)
    expected[4], expected[6] = 0.75, 0.25
    expected = expected * 8.0 / np.linalg.norm(expected * 8.0)
    np.testing.assert_allclose(biwoof_features(flow, strain, blocks=1, bins=8), expected, rtol=1e-6)


#: Neighbour offsets of P = 4 at angles 0°, 90°, 180°, 270° for radii (x 1, y 2, t 1), from the definition
#: (x + r_x cos a, y − r_y sin a) in XY, (x + r_x cos a, t + r_t sin a) in XT, (y − r_y sin a, t + r_t cos a)
#: in YT, as (dt, dy, dx).
OFFSETS = {"xy": [(0, 0, 1), (0, -2, 0), (0, 0, -1), (0, 2, 0)],
           "xt": [(0, 0, 1), (1, 0, 0), (0, 0, -1), (-1, 0, 0)],
           "yt": [(1, 0, 0), (0, -2, 0), (-1, 0, 0), (0, 2, 0)]}


def naive_lbp_top(volume: np.ndarray) -> np.ndarray:
    """One block's LBP-TOP for radii (1, 2, 1), P = 4, pixel by pixel: per plane the histogram of the 16
    codes over the centre pixels (borders t 1, y 2, x 1), normalised to sum 1; planes XY, XT, YT."""
    frames, height, width = volume.shape
    histograms = []
    for plane in ("xy", "xt", "yt"):
        counts = np.zeros(16)
        for t in range(1, frames - 1):
            for y in range(2, height - 2):
                for x in range(1, width - 1):
                    code = sum(1 << p for p, (dt, dy, dx) in enumerate(OFFSETS[plane])
                               if volume[t + dt, y + dy, x + dx] >= volume[t, y, x])
                    counts[code] += 1
        histograms.append(counts / counts.sum())
    return np.concatenate(histograms)


def test_lbp_tops_radius_y_is_used():
    volume = np.random.default_rng(0).integers(0, 256, size=(5, 9, 9)).astype(np.uint8)
    [step] = build_chain(default_registry(), [("lbp_top", {"radius_x": 1.0, "radius_y": 2.0, "radius_t": 1.0,
                                                           "blocks": 1})], partial=True)
    features = step({"frames": volume})["image"]
    assert features.shape == (1, 1, 48)
    np.testing.assert_allclose(features.ravel(), naive_lbp_top(volume.astype(np.float64)), atol=1e-6)


class FourFrames:
    """Frames 0..3 of a clip, each 20×20 with its own values."""

    def indices(self):
        return [0, 1, 2, 3]

    def load(self, index):
        return (np.arange(400).reshape(20, 20) % 50 + 40 * index).astype(np.uint8)


@pytest.mark.parametrize("cropped, face_crop, crops", [(True, "auto", False), (False, "auto", True),
                                                        (None, "auto", False), (True, "always", True),
                                                        (False, "never", False)])
def test_grey_sequence_does_not_crop_what_is_already_cropped(monkeypatch, cropped, face_crop, crops):
    monkeypatch.setattr(sequences, "face_box", lambda frame: (2, 12, 4, 14))  # a face is found everywhere
    sample = types.SimpleNamespace(frames=FourFrames(), onset=0, offset=3, cropped=cropped)
    item = sequences.GreySequence(size=0, face_crop=face_crop)({"sample": sample})
    whole = np.stack([FourFrames().load(i) for i in range(4)])
    np.testing.assert_array_equal(item["frames"], whole[:, 2:12, 4:14] if crops else whole)
    assert item["face_cropped"] is crops


# --- declared options -------------------------------------------------------------------------------------------

def test_an_integer_option_refuses_2_5():
    declared = (Option("folds", int, 5, minimum=2),)
    with pytest.raises(OptionError, match=r"takes folds as an integer ≥ 2; got 2\.5"):
        resolve_options({"folds": 2.5}, declared, "--protocol-opt", "protocol 'kfold'")
    assert resolve_options({"folds": 3.0}, declared, "--protocol-opt", "protocol 'kfold'")[0] == {"folds": 3}
    spec = default_registry().datasets.get("synthetic")
    with pytest.raises(OptionError, match="takes subjects as an integer"):
        spec.resolve_options({"subjects": 2.5})


@pytest.mark.parametrize("value", [math.inf, -math.inf, math.nan])
@pytest.mark.parametrize("kind", [int, float])
def test_no_option_takes_infinity_or_nan(value, kind):
    for option in (Option("x", kind), Option("x", kind, minimum=0), Option("x", kind, maximum=10)):
        assert not option.accepts(value), (option, value)
        with pytest.raises(OptionError, match="--model-opt x="):
            resolve_options({"x": value}, (option,), "--model-opt", "model 'm'")


@pytest.mark.parametrize("text", ["inf", "nan"])
def test_a_declared_c_of_infinity_or_nan_is_refused_in_one_line(text, tmp_path):
    result = mebench_cli("run", "--model", "lbptop", "--dataset", "synthetic", "--model-opt", f"C={text}",
                         "--output", tmp_path)
    assert result.exit_code == 2 and "Traceback" not in result.output
    [line] = [line for line in result.stderr.splitlines() if line.startswith("Error:")]
    assert f"--model-opt C={text}: model 'lbptop' takes C as a number ≥ 1e-09" in line
