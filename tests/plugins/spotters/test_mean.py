"""MEAN (``plugins/spotters/mean.py``): the port of the authors' Keras nets (parameter counts from the Keras layer
lists, the trunk frozen for recognition, a Keras weights file against a forward pass computed here in numpy), the
input's strain, the pseudo-labels, the sampling down, smoothing, peaks and the Case 2 emotion on hand-worked
cases, what ``fit`` trains the recognition head on, and a spot-then-recognise run."""

from __future__ import annotations

import json
from collections import Counter

import numpy as np
import pandas as pd
import pytest
import torch

from mebench.data import FrameSource
from mebench.errors import ConfigError, DataError
from mebench.long_videos import Interval, LongVideo
from mebench.run.plan import RunConfig
from mebench.run.runner import run
from mebench.tasks import read_str_text
from mebench_plugins.datasets.synthetic_long import load_synthetic_long
from mebench_plugins.spotters import mean
from tests.conftest import QUIET

# --- the nets ------------------------------------------------------------------------------------------------


def test_parameter_counts_are_the_keras_layer_lists():
    # define_model.MEAN_Spot: three Conv2D(maps, (5, 5)) over one input channel, maps 3, 3 and 8: 5·5·1·maps + maps
    streams = (5 * 5 * 1 * 3 + 3) + (5 * 5 * 1 * 3 + 3) + (5 * 5 * 1 * 8 + 8)  # 78 + 78 + 208 = 364
    # BatchNormalization per stream: gamma, beta (trainable), moving mean, moving variance (not): 4 per map
    norms = 4 * (3 + 3 + 8)  # 56, of which 28 are the moving statistics
    # 42 → MaxPooling2D(3, strides 3, 'same') → 14; Concatenate: 3 + 3 + 8 = 14 maps; Conv2D(8, (5, 5)) over 14
    merged_conv = 5 * 5 * 14 * 8 + 8  # 2,808
    # MaxPooling2D(2, 'same') → 7; Flatten 7·7·8 = 392; Dense(1, name='spot'): 392 + 1
    spot = 7 * 7 * 8 * 1 + 1  # 393
    # MEAN_Recog_TL: from layers[-6] (the concatenation) a new Conv2D(8, (5, 5)) and Dense(3, softmax, name='recog')
    recog = 7 * 7 * 8 * 3 + 3  # 1,179
    keras_spot = streams + norms + merged_conv + spot
    keras_recog = streams + norms + merged_conv + recog
    keras_combined = streams + norms + 2 * merged_conv + spot + recog  # MEAN_Spot_Recog_TL: both heads
    assert (keras_spot, keras_recog, keras_combined) == (3_621, 4_407, 7_608)
    net = mean.MeanNet()
    parameters = sum(p.numel() for p in net.parameters())
    assert parameters == keras_combined - 28  # the moving statistics are buffers in PyTorch
    assert mean.keras_parameter_count(net) == keras_combined
    spot_net = sum(p.numel() for p in [*net.trunk_parameters(), *net.head_parameters("spot")])
    recog_net = sum(p.numel() for p in [*net.trunk_parameters(), *net.head_parameters("recog")])
    assert (spot_net, recog_net) == (keras_spot - 28, keras_recog - 28)
    # MEAN_Recog_TL sets every layer of the spotting net untrainable: what it trains is its own head only
    assert sum(p.numel() for p in net.head_parameters("recog")) == merged_conv + recog
    assert mean.CARD.reference_parameters == keras_combined


def test_recognition_training_leaves_the_trunk_and_its_statistics_and_trains_the_new_head():
    torch.manual_seed(0)
    net = mean.MeanNet(generator=torch.Generator().manual_seed(0))
    with torch.no_grad():  # moving statistics other than Keras's initial ones, so that a change would show
        for norm in net.norms:
            norm.running_mean.uniform_(0.1, 0.5)
            norm.running_var.uniform_(0.5, 2.0)
    before = {name: value.detach().clone() for name, value in net.state_dict().items()}
    images = np.random.default_rng(0).uniform(0, 1, (40, 42, 42, 3)).astype(np.float32)
    mean.train_recognition(net, images, np.arange(40) % 3, epochs=2, batch_size=16, lr=0.01,
                           generator=torch.Generator().manual_seed(1))
    after = net.state_dict()
    trunk = [name for name in before if name.startswith(("streams.", "norms."))]
    assert any(name.endswith("running_mean") for name in trunk)
    for name in trunk:
        if not name.endswith("num_batches_tracked"):
            torch.testing.assert_close(after[name], before[name], rtol=0, atol=0)
    for name in ("spot_conv.weight", "spot.weight"):  # the spotting head is not part of the recognition net
        torch.testing.assert_close(after[name], before[name], rtol=0, atol=0)
    for name in ("recog_conv.weight", "recog.weight"):
        assert not torch.equal(after[name], before[name])
    assert all(p.requires_grad for p in net.parameters())  # the freeze is lifted afterwards


def test_the_l2_terms_are_keras_factors_on_the_kernels_being_trained():
    net = mean.MeanNet(generator=torch.Generator().manual_seed(2))
    streams = sum(float(conv.weight.detach().pow(2).sum()) for conv in net.streams)
    spot_conv = float(net.spot_conv.weight.detach().pow(2).sum())
    recog_conv = float(net.recog_conv.weight.detach().pow(2).sum())
    # l2(0.001) on each stream convolution, l2(0.1) on the merged one
    assert float(net.l2_penalty("spot", trunk=True).detach()) == pytest.approx(0.001 * streams + 0.1 * spot_conv, rel=1e-5)
    assert float(net.l2_penalty("recog", trunk=False).detach()) == pytest.approx(0.1 * recog_conv, rel=1e-5)


STREAMS = ("conv2d", "conv2d_1", "conv2d_2")
NORMS = ("batch_normalization", "batch_normalization_1", "batch_normalization_2")


def keras_arrays(seed=3, heads=("spot", "recog")):
    """Seeded arrays in the shapes of the Keras layers of ``MEAN_Spot_Recog_TL`` (HWIO kernels, (in, out) dense)."""
    rng = np.random.default_rng(seed)
    arrays = {}
    for name, maps in zip(STREAMS, (3, 3, 8)):
        arrays[name] = [rng.normal(0, 0.3, (5, 5, 1, maps)), rng.normal(0, 0.1, maps)]
    for name, maps in zip(NORMS, (3, 3, 8)):
        arrays[name] = [rng.uniform(0.5, 1.5, maps), rng.normal(0, 0.1, maps), rng.normal(0, 0.2, maps),
                        rng.uniform(0.2, 2.0, maps)]  # gamma, beta, moving mean, moving variance
    for name, head in (("conv2d_3", "spot"), ("conv2d_4", "recog")):
        if head in heads:
            arrays[name] = [rng.normal(0, 0.1, (5, 5, 14, 8)), rng.normal(0, 0.1, 8)]
    if "spot" in heads:
        arrays["spot"] = [rng.normal(0, 0.1, (392, 1)), rng.normal(0, 0.1, 1)]
    if "recog" in heads:
        arrays["recog"] = [rng.normal(0, 0.1, (392, 3)), rng.normal(0, 0.1, 3)]
    return {name: [np.asarray(a, np.float32) for a in values] for name, values in arrays.items()}


def write_keras_h5(path, arrays, whole_model=False):
    """A weights file in the layout of the authors' ``MEAN_Weights/*/spot_recog/s<n>.hdf5`` (Keras 2.4.0
    ``save_weights``): root ``layer_names`` (every layer, those without weights too, in the model's order), per
    layer a group with ``weight_names`` and its arrays under ``<layer>/<layer>/<weight>:0``."""
    h5py = pytest.importorskip("h5py")
    order = ["input_1", "input_2", "input_3", *STREAMS, *NORMS, "max_pooling2d", "max_pooling2d_1",
             "max_pooling2d_2", "dropout", "dropout_1", "dropout_2", "concatenate", "conv2d_3", "conv2d_4",
             "max_pooling2d_3", "max_pooling2d_4", "flatten", "flatten_1", "dropout_3", "dropout_4", "spot", "recog"]
    names = [name for name in order if name in arrays or not name.startswith(("conv2d", "spot", "recog"))]
    with h5py.File(path, "w") as handle:
        root = handle.create_group("model_weights") if whole_model else handle
        root.attrs["backend"] = b"tensorflow"
        root.attrs["keras_version"] = b"2.4.0"
        root.attrs["layer_names"] = np.array([name.encode() for name in names])
        for name in names:
            group = root.create_group(name)
            weights = arrays.get(name)
            if weights is None:
                group.attrs["weight_names"] = np.array([], dtype=np.float64)
                continue
            kinds = (["gamma", "beta", "moving_mean", "moving_variance"] if name.startswith("batch")
                     else ["kernel", "bias"])
            group.attrs["weight_names"] = np.array([f"{name}/{kind}:0".encode() for kind in kinds])
            inner = group.create_group(name)
            for kind, value in zip(kinds, weights):
                inner.create_dataset(f"{kind}:0", data=value)


def conv_same(images, kernel, bias):
    """A 'same' 5 × 5 convolution of channels-last (N, H, W, C) by an HWIO kernel, with loops over the offsets."""
    n, h, w, _ = images.shape
    padded = np.pad(images.astype(np.float64), ((0, 0), (2, 2), (2, 2), (0, 0)))
    out = np.zeros((n, h, w, kernel.shape[3]))
    for dy in range(5):
        for dx in range(5):
            out += padded[:, dy:dy + h, dx:dx + w, :] @ kernel[dy, dx].astype(np.float64)
    return out + bias


def max_pool(images, size):
    n, h, w, c = images.shape
    return images.reshape(n, h // size, size, w // size, size, c).max(axis=(2, 4))


def numpy_mean(arrays, images, heads=("spot", "recog")):
    """The Keras model's inference pass on channels-last (N, 42, 42, 3) images: per stream conv 'same' + ReLU,
    batch normalisation by the moving statistics (ε 0.001), 3 × 3 pool, concatenation; per head conv 'same' +
    ReLU, 2 × 2 pool, channels-last Flatten, Dense (softmax for ``recog``); dropout is off in inference."""
    streams = []
    for channel, (conv, norm) in enumerate(zip(STREAMS, NORMS)):
        out = np.maximum(conv_same(images[..., channel:channel + 1], *arrays[conv]), 0)
        gamma, beta, moving_mean, moving_var = arrays[norm]
        out = gamma * (out - moving_mean) / np.sqrt(moving_var + 0.001) + beta
        streams.append(max_pool(out, 3))
    merged = np.concatenate(streams, axis=-1)  # (N, 14, 14, 14)
    outputs = {}
    for conv, head in (("conv2d_3", "spot"), ("conv2d_4", "recog")):
        if head not in heads:
            continue
        flat = max_pool(np.maximum(conv_same(merged, *arrays[conv]), 0), 2).reshape(len(images), -1)
        logits = flat @ arrays[head][0] + arrays[head][1]
        if head == "recog":
            logits = np.exp(logits - logits.max(axis=1, keepdims=True))
            logits = logits / logits.sum(axis=1, keepdims=True)
        outputs[head] = logits
    return outputs


@pytest.mark.parametrize("whole_model", [False, True])
def test_keras_weights_file_gives_the_forward_pass_computed_from_its_arrays(tmp_path, whole_model):
    arrays = keras_arrays()
    path = tmp_path / "s1.hdf5"
    write_keras_h5(path, arrays, whole_model)
    net = mean.load_keras_weights(mean.MeanNet(), path)
    images = np.random.default_rng(7).uniform(0, 1, (4, 42, 42, 3)).astype(np.float32)
    expected = numpy_mean(arrays, images)
    scores, probabilities = mean.net_outputs(net, images)
    assert np.abs(expected["spot"]).max() > 0.1 and expected["recog"].std() > 0.01  # passes that compute something
    np.testing.assert_allclose(scores, expected["spot"].ravel(), rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(probabilities, expected["recog"], rtol=1e-4, atol=1e-5)


def test_a_spotting_weights_file_fills_the_spotting_head_only(tmp_path):
    arrays = keras_arrays(heads=("spot",))
    path = tmp_path / "spot.hdf5"
    write_keras_h5(path, arrays)
    fresh = mean.MeanNet(generator=torch.Generator().manual_seed(5))
    recog_before = fresh.recog.weight.detach().clone()
    net = mean.load_keras_weights(fresh, path)
    images = np.random.default_rng(8).uniform(0, 1, (3, 42, 42, 3)).astype(np.float32)
    scores, _ = mean.net_outputs(net, images)
    np.testing.assert_allclose(scores, numpy_mean(arrays, images, ("spot",))["spot"].ravel(), rtol=1e-4, atol=1e-5)
    assert torch.equal(net.recog.weight, recog_before)


def test_a_weights_file_of_another_net_is_refused_naming_it(tmp_path):
    arrays = keras_arrays()
    arrays["conv2d_3"] = [np.zeros((5, 5, 16, 8), np.float32), np.zeros(8, np.float32)]  # SOFTNet's 16 maps
    path = tmp_path / "other.hdf5"
    write_keras_h5(path, arrays)
    with pytest.raises(DataError, match="other.hdf5"):
        mean.load_keras_weights(mean.MeanNet(), path)


# --- input, labels, smoothing, peaks, emotions -----------------------------------------------------------------


def test_optical_strain_is_the_authors_backward_differences_with_zero_where_there_is_no_neighbour():
    u = np.array([[0.0, 1.0, 3.0], [2.0, 2.0, 2.0], [5.0, 0.0, 1.0]])
    v = np.zeros((3, 3))
    # computeStrain: u_x = u − u shifted right (u[i, j] − u[i, j − 1]), u_y = u − u shifted down; NaN → 0
    # (0, 0): nothing; (0, 1): u_x = 1: sqrt(1); (0, 2): u_x = 2: 2; (1, 0): u_y = 2: sqrt(0.5 · 4)
    # (1, 1): u_x = 0, u_y = 1: sqrt(0.5); (1, 2): u_x = 0, u_y = −1: sqrt(0.5)
    # (2, 0): u_y = 3: sqrt(4.5); (2, 1): u_x = −5, u_y = −2: sqrt(25 + 2); (2, 2): u_x = 1, u_y = −1: sqrt(1.5)
    expected = np.sqrt([[0, 1, 4], [2, 0.5, 0.5], [4.5, 27, 1.5]])
    np.testing.assert_allclose(mean.optical_strain(u, v), expected)


def test_k_is_a_tenth_of_a_second_and_k_p_half_the_mean_length():
    assert (mean.authors_k(30), mean.authors_k(200)) == (3, 20)  # set_k: CAS(ME)² 3, SAMM-LV 20
    # offsets − onsets 10, 13 and 14: N = 37 / 3 = 12.33, int((N + 1) / 2) = 6
    assert mean.authors_k_p([10, 13, 14]) == 6


def authors_pseudo_labels(n_inputs, intervals, k_p):
    """``spotting_pseudo_labeling`` as the authors' loop writes it, for one video."""
    labels = [0] * n_inputs
    for onset, offset in intervals:
        truth = np.arange(onset, offset + 1)
        for index in range(len(labels)):
            window = np.arange(index, index + k_p)
            if labels[index] < len(np.intersect1d(window, truth)) / len(np.union1d(window, truth)):
                labels[index] = 1
    return np.array(labels, np.float32)


def test_pseudo_labels_on_a_hand_worked_video():
    # 20 inputs, k_p = 3, one ME at frames 5..8 (the authors' truth np.arange(5, 8 + 1), onset included):
    # window j is frames j..j+2; they share a frame for j = 3 … 8
    assert mean.pseudo_labels(20, [(5, 8)], 3).tolist() == [0.0] * 3 + [1.0] * 6 + [0.0] * 11
    # a single-frame ME still labels the windows holding it
    assert mean.pseudo_labels(10, [(4, 4)], 2).tolist() == [0, 0, 0, 1, 1, 0, 0, 0, 0, 0]
    rng = np.random.default_rng(1)
    for _ in range(20):
        n, k_p = int(rng.integers(20, 60)), int(rng.integers(1, 8))
        intervals = [(int(a), int(min(n - 1, a + rng.integers(0, 10)))) for a in np.sort(rng.integers(0, n - 2, 2))]
        np.testing.assert_array_equal(mean.pseudo_labels(n, intervals, k_p), authors_pseudo_labels(n, intervals, k_p))


def test_sampling_down_keeps_ratio_times_the_labelled_frames():
    labels = np.array([0] * 40 + [1] * 6, np.float32)
    kept = mean.sample_down(labels, 5, np.random.default_rng(0))
    # rem_count = int(6 · 5) = 30 ≤ 46 frames: 30 label-0 frames and every labelled one
    assert (labels[kept] == 1).sum() == 6 and (labels[kept] == 0).sum() == 30
    assert list(kept) == sorted(set(kept.tolist()))
    # more labelled than ratio allows: 4 label-0 and 30 labelled, rem_count = 20 ≤ 34 — all 4 label-0 frames kept
    labels = np.array([0] * 4 + [1] * 30, np.float32)
    assert len(mean.sample_down(labels, 5, np.random.default_rng(0))) == 34
    # rem_count = int(2 · 5) = 10 > 9 frames: int(7 / 5) = 1 labelled frame with every label-0 one
    labels = np.array([0] * 2 + [1] * 7, np.float32)
    kept = mean.sample_down(labels, 5, np.random.default_rng(0))
    assert (labels[kept] == 0).sum() == 2 and (labels[kept] == 1).sum() == 1


def test_smoothing_is_the_authors_same_mode_box_of_2_k_p():
    scores = np.array([0, 0, 0, 0, 8, 8, 0, 0, 0, 0], float)
    # k_p = 2: box of 4; np.convolve(mode='same') puts s[j] = (x[j − 2] + … + x[j + 1]) / 4
    assert mean.smooth_scores(scores, 2).tolist() == [0, 0, 0, 2, 4, 4, 4, 2, 0, 0]
    np.testing.assert_allclose(mean.smooth_scores(scores, 2), np.convolve(scores, np.ones(4) / 4, mode="same"))


def test_peaks_above_the_threshold_at_least_k_p_apart_become_peak_plus_minus_k_p():
    smoothed = np.array([0, 5, 0, 4, 0, 0, 3, 0, 0, 0, 0, 0], float)
    # mean 1; p = 0: threshold 1, peaks 1 (5), 3 (4), 6 (3); k_p = 3: 3 lies 2 from the higher 1 and goes
    assert mean.peak_intervals(smoothed, 3, 0.0) == [(-2, 4, 1), (3, 9, 6)]
    # p = 0.6: threshold 1 + 0.6 · 4 = 3.4: 1 and 3 are above it, 3 too close to 1
    assert mean.peak_intervals(smoothed, 3, 0.6) == [(-2, 4, 1)]
    # k_p = 1: all three are far enough apart
    assert mean.peak_intervals(smoothed, 1, 0.0) == [(0, 2, 1), (2, 4, 3), (5, 7, 6)]


def test_the_emotion_of_a_peak_is_the_most_common_over_the_k_p_frames_before_it():
    # per-frame probabilities of (negative, positive, surprise); arg-maxes by frame:
    argmaxes = [2, 2, 2, 0, 1, 1, 0, 1, 2, 2]
    emotions = np.eye(3)[argmaxes] * 0.5 + 0.1
    # peak 7, k_p = 4: frames 3 … 6 (the peak itself left out): 0, 1, 1, 0 — equal counts, the first met wins: 0
    assert mean.peak_emotion(emotions, 7, 4) == 0
    # peak 8, k_p = 4: frames 4 … 7: 1, 1, 0, 1 → 1; the peak's own frame (Case 1) would give 2
    assert mean.peak_emotion(emotions, 8, 4) == 1
    # peak 2, k_p = 4: frames 0 … 1 → 2; peak 0: frame 0 alone (max(1, peak)) → 2
    assert (mean.peak_emotion(emotions, 2, 4), mean.peak_emotion(emotions, 0, 4)) == (2, 2)
    assert Counter([0, 1, 1, 0]).most_common(1)[0][0] == 0  # the authors' tie rule, which the first case relies on


# --- p: on the training videos, or LEAKY on the test videos ----------------------------------------------------


def test_p_is_chosen_where_the_videos_truth_is_and_a_fixed_p_refuses_the_test_oracle():
    curve = np.zeros(40)
    curve[10], curve[28] = 10.0, 4.0  # k_p = 1: intervals [9, 11] and [27, 29]
    # mean 0.35: the weak peak is above mean + p · (max − mean) for p ≤ (4 − 0.35) / 9.65 = 0.378
    both = {"v": [(9, 11), (27, 29)]}  # both peaks are MEs: F1 1 for p ≤ 0.35 of the grid, the nearest 0.55 is 0.35
    strong = {"v": [(9, 11)]}  # only the strong one: F1 1 for p ≥ 0.40, and 0.55 itself is among them
    assert mean.choose_p({"v": curve}, both, 1) == 0.35
    assert mean.choose_p({"v": curve}, strong, 1) == 0.55
    with pytest.raises(ConfigError, match="--model-opt p=0.55 fixes it"):
        mean.MeanSpotter(p=0.55).choose_threshold([])


# --- the spotter --------------------------------------------------------------------------------------------------


class Frames(FrameSource):
    def __init__(self, n, seed=0):
        self.n, self.seed = n, seed

    def indices(self):
        return list(range(1, self.n + 1))

    def load(self, index):
        return np.random.default_rng([self.seed, index]).integers(0, 255, (32, 32)).astype(np.uint8)


def video(name, n, intervals, subject="s1", fps=30.0):
    return LongVideo("toy-long", f"toy-long/{subject}", name, fps, Frames(n), n, tuple(intervals))


def test_spot_video_gives_peak_plus_minus_k_p_with_the_case_2_emotion_in_frame_numbers():
    spotter = mean.MeanSpotter(p=0.5)
    spotter.net, spotter.k_p = object(), 2  # outputs given below: no net runs
    clip = video("a", 24, [])
    scores = np.zeros(21)  # T − k = 24 − 3 inputs
    scores[[5, 15]] = 10.0
    # smoothed (k_p = 2: x[j − 2 … j + 1] / 4): 2.5 at 4 … 7 and 14 … 17; find_peaks takes the middle of a
    # plateau: (4 + 7) // 2 = 5 and 15
    argmaxes = np.zeros(21, int)
    argmaxes[3:5] = 1  # frames 3, 4 before the first peak: positive
    argmaxes[13:15] = 2  # frames 13, 14 before the second: surprise
    spotter._outputs[clip.id] = (scores, np.eye(3)[argmaxes])
    # positions 5 ± 2 and 15 ± 2, frame numbers one more
    assert spotter.spot_video(clip) == [(4, 8, "me", "positive"), (14, 18, "me", "surprise")]
    assert mean.MeanSpotter.recognises is True


def test_fit_trains_the_recognition_head_on_the_training_mes_with_an_str_emotion(monkeypatch):
    seen = {}

    def spotting(net, images, labels, *args):
        seen["spotting"] = (len(images), int(labels.sum()))
        return net

    def recognition(net, images, classes, *args):
        seen["recognition"] = (len(images), classes.tolist())
        return net

    def pairs(faces, chosen, flow):
        seen.setdefault("pairs", []).append(list(chosen))
        return np.zeros((len(chosen), 42, 42, 3), np.float32)

    def frames(video, size, crop, k, flow, cache, cache_flows):  # the flows k apart of every frame j of one video
        seen.setdefault("pairs", []).append([(j, j + k) for j in range(video.n_frames - k)])
        return np.zeros((video.n_frames, 8, 8), np.uint8), np.zeros((video.n_frames - k, 8, 8, 2), np.float32)

    monkeypatch.setattr(mean, "train_spotting", spotting)
    monkeypatch.setattr(mean, "train_recognition", recognition)
    monkeypatch.setattr(mean, "pair_inputs", pairs)
    monkeypatch.setattr(mean, "face_flows", frames)
    monkeypatch.setattr(mean, "flow_inputs", lambda flow_fields, size: np.zeros((len(flow_fields), 42, 42, 3)))
    with_mes = video("a", 40, [Interval(5, 9, "me", apex=7, emotion="positive"),  # positions 4..8, apex 6
                               Interval(12, 18, "mae", apex=15, emotion="negative"),  # a MaE: not MEAN's
                               Interval(20, 26, "me", emotion="surprise"),  # no apex: the midpoint 23 → position 22
                               Interval(30, 34, "me", emotion="others")])  # no STR emotion: spotted, not recognised
    without = video("b", 40, [Interval(12, 30, "mae", emotion="negative")], subject="s2")
    spotter = mean.MeanSpotter(crop="none", flow="dis", p=0.5).fit([with_mes, without])
    # k = 3 at 30 fps; k_p = int((mean(4, 6, 4) + 1) / 2) = 2 over the three MEs
    assert (spotter._k(with_mes), spotter.k_p) == (3, 2)
    # the video without an ME is not trained on (load_label keeps the videos with one): 37 inputs of one video
    assert seen["pairs"][0] == [(j, j + 3) for j in range(37)]
    # onset → apex of each ME with an STR emotion, in the order of the video's intervals
    assert seen["pairs"][1:] == [[(4, 6)], [(19, 22)]]
    assert seen["recognition"] == (2, [1, 2])  # positive, surprise
    # spotting labels from the three MEs (the 'others' one too), not the MaE: with k_p = 2, inputs 3..8, 18..25 and
    # 28..33 are 1 (20), 17 are 0; rem_count = 17 · 5 > 37 inputs, so int(20 / 5) = 4 labelled with the 17 others
    assert seen["spotting"] == (21, 4)


# --- a whole run ----------------------------------------------------------------------------------------------


#: The smallest run that still trains both heads in each fold: two subjects of one 6-second video each (one ME each,
#: with its emotion), one epoch of each head, DIS flow.
SMALL_RUN = {"videos_per_subject": 1, "seconds": 6.0}


@pytest.mark.slow
def test_a_str_run_of_mean_recognises_its_own_intervals_of_the_authors_k_p(tmp_path):
    folder = run(RunConfig(model="mean", dataset="synthetic-long", protocol="str", device="cpu",
                           dataset_options=SMALL_RUN,
                           model_options={"flow": "dis", "epochs_spot": 1, "epochs_recog": 1}),
                 output_dir=tmp_path, cache_dir=tmp_path / "cache", **QUIET).run_dir
    record = json.loads((folder / "run.json").read_text())
    assert record["learner"] == "spot-then-recognise"
    # the parameters of the net the spotter builds, as PyTorch counts them: Keras's count less the moving means and
    # variances of the three batch normalisations (3 + 3 + 8 maps, two statistics each), which PyTorch keeps as buffers
    assert record["parameters"] == 7_608 - 2 * (3 + 3 + 8)  # MEAN_Spot_Recog_TL's 7,608 (the first test)
    pooled = json.loads((folder / "metrics.json").read_text())["pooled"]
    assert {"strs", "recognition_uf1", "f1_me"} <= set(pooled)
    videos = load_synthetic_long(**SMALL_RUN)
    spotted = 0
    for row in pd.read_csv(folder / "predictions.csv").itertuples():
        video = next(v for v in videos if v.id == row.sample_id)
        others = [v for v in videos if v.subject != video.subject]  # the fold's training videos (LOSO, 2 subjects)
        k_p = mean.authors_k_p([i.offset - i.onset for v in others for i in v.intervals if i.kind == "me"])
        first, last = video.frames.indices()[0], video.frames.indices()[-1]
        for onset, offset, kind, emotion in read_str_text(row.predicted_label):
            assert kind == "me" and emotion in ("negative", "positive", "surprise")
            if first < onset and offset < last:  # not clipped at the video's ends: peak ± k_p
                assert offset - onset == 2 * k_p
            spotted += 1
    assert spotted > 0


@pytest.mark.slow
def test_two_fits_on_the_same_videos_give_the_same_net_and_leave_the_callers_random_state_alone(tmp_path):
    videos = [video for video in load_synthetic_long(**SMALL_RUN) if video.count("me")][:1]
    options = dict(crop="none", flow="dis", epochs_spot=1, epochs_recog=1, p=0.5)
    torch.manual_seed(123)
    before = torch.get_rng_state()
    first = mean.MeanSpotter(**options)
    first.use_cache(tmp_path)  # the second fit reads the flows the first one made
    first.fit(videos)
    assert torch.equal(torch.get_rng_state(), before)  # the dropout masks come from the seed, not the caller's state
    torch.manual_seed(456)  # another global state: the same net
    second = mean.MeanSpotter(**options)
    second.use_cache(tmp_path)
    second.fit(videos)
    for (name, a), (_, b) in zip(first.net.state_dict().items(), second.net.state_dict().items()):
        assert torch.equal(a, b), name
    assert first.spot_video(videos[0]) == second.spot_video(videos[0])
