"""SOFTNet (``plugins/spotters/softnet.py``): the port of the authors' Keras net (parameter count from the Keras
layer list, a Keras weights file against a forward pass computed here in numpy), the pseudo-labels, smoothing and
peaks on hand-worked cases, p chosen on the training videos or (LEAKY) on the test videos, and a whole run."""

from __future__ import annotations

import json
import types

import numpy as np
import pandas as pd
import pytest
import torch

from mebench import hookimpl
from mebench.data import DatasetSpec, FrameSource, InputSpec, ModelSpec
from mebench.errors import ConfigError, DataError
from mebench.long_videos import Interval, LongVideo
from mebench.run.plan import RunConfig
from mebench.run.runner import run
from mebench.spotting import Spotted, spotting_figures, video_counts
from mebench.tasks import INTERVALS
from mebench_plugins.spotters import softnet
from tests.conftest import QUIET, tiny_registry


# --- the net ------------------------------------------------------------------------------------------------


def test_parameter_count_is_the_keras_layer_lists():
    # training.SOFTNet(): three Conv2D(maps, (5, 5)) over one input channel each, a kernel of 5·5·1·maps and maps
    # biases; the pools and the concatenation hold none; 42 → MaxPooling2D(3, strides 3) → 14, concatenation
    # 3 + 5 + 8 = 16 maps, MaxPooling2D(2) → 7, Flatten 7·7·16 = 784; Dense(400): 784·400 + 400; Dense(1): 400 + 1
    conv = (5 * 5 * 1 * 3 + 3) + (5 * 5 * 1 * 5 + 5) + (5 * 5 * 1 * 8 + 8)  # 78 + 130 + 208 = 416
    dense = (7 * 7 * 16) * 400 + 400  # 314,000
    output = 400 * 1 + 1  # 401
    keras_count = conv + dense + output
    assert keras_count == 314_817
    net = softnet.SoftNet()
    assert sum(p.numel() for p in net.parameters()) == keras_count
    assert softnet.CARD.reference_parameters == keras_count


def test_initial_weights_are_keras_glorot_uniform_with_zero_biases():
    net = softnet.SoftNet(torch.Generator().manual_seed(0))
    # glorot_uniform: U(−l, l), l = sqrt(6 / (fan_in + fan_out)); Dense(400) over 784: fan_in 784, fan_out 400
    limit = np.sqrt(6 / (784 + 400))
    weight = net.dense.weight.detach().numpy()
    assert weight.max() <= limit and weight.min() >= -limit and weight.max() > 0.99 * limit
    # Conv2D(8, (5, 5)) over one channel: fan_in 5·5·1, fan_out 5·5·8
    assert np.abs(net.streams[2].weight.detach().numpy()).max() <= np.sqrt(6 / (25 + 200))
    assert all(float(layer.bias.detach().abs().sum()) == 0 for layer in (*net.streams, net.dense, net.output))


def write_keras_h5(path, arrays, whole_model=False):
    """A weights file in the layout of the authors' ``SOFTNet_Weights/*/*/s<n>.hdf5`` (Keras 2.2.4-tf
    ``save_weights``): root attributes ``layer_names`` (every layer, those without weights too), per layer a group
    with ``weight_names`` and its arrays under ``<layer>/<layer>/kernel:0`` and ``bias:0``. ``whole_model``: under
    ``model_weights``, as ``model.save`` writes them."""
    h5py = pytest.importorskip("h5py")
    names = ["input_1", "input_2", "input_3", "conv2d", "conv2d_1", "conv2d_2", "max_pooling2d", "max_pooling2d_1",
             "max_pooling2d_2", "concatenate", "max_pooling2d_3", "flatten", "dense", "dense_1"]
    with h5py.File(path, "w") as handle:
        root = handle.create_group("model_weights") if whole_model else handle
        root.attrs["backend"] = b"tensorflow"
        root.attrs["keras_version"] = b"2.2.4-tf"
        root.attrs["layer_names"] = np.array([name.encode() for name in names])
        for name in names:
            group = root.create_group(name)
            if name in arrays:
                kernel, bias = arrays[name]
                group.attrs["weight_names"] = np.array([f"{name}/kernel:0".encode(), f"{name}/bias:0".encode()])
                inner = group.create_group(name)
                inner.create_dataset("kernel:0", data=kernel)
                inner.create_dataset("bias:0", data=bias)
            else:
                group.attrs["weight_names"] = np.array([], dtype=np.float64)


def keras_arrays(seed=3):
    rng = np.random.default_rng(seed)
    arrays = {}
    for name, maps in (("conv2d", 3), ("conv2d_1", 5), ("conv2d_2", 8)):
        arrays[name] = (rng.normal(0, 0.3, (5, 5, 1, maps)).astype(np.float32), rng.normal(0, 0.1, maps).astype(np.float32))
    arrays["dense"] = (rng.normal(0, 0.05, (784, 400)).astype(np.float32), rng.normal(0, 0.1, 400).astype(np.float32))
    arrays["dense_1"] = (rng.normal(0, 0.05, (400, 1)).astype(np.float32), rng.normal(0, 0.1, 1).astype(np.float32))
    return arrays


def numpy_softnet(arrays, images):
    """The Keras model's forward pass on channels-last (N, 42, 42, 3) images, in numpy with explicit loops over the
    kernel offsets: 'same' padding (2 on each side for 5 × 5), ReLU, 3 × 3 / 3 pools, concatenation on the last axis,
    2 × 2 pool, a channels-last Flatten, Dense(400, relu), Dense(1)."""
    streams = []
    for channel, name in enumerate(("conv2d", "conv2d_1", "conv2d_2")):
        kernel, bias = arrays[name]
        padded = np.pad(images[..., channel].astype(np.float64), ((0, 0), (2, 2), (2, 2)))
        out = np.zeros((len(images), 42, 42, kernel.shape[3]))
        for dy in range(5):
            for dx in range(5):
                out += padded[:, dy:dy + 42, dx:dx + 42, None] * kernel[dy, dx, 0][None, None, None, :]
        out = np.maximum(out + bias, 0)
        streams.append(out.reshape(len(images), 14, 3, 14, 3, -1).max(axis=(2, 4)))
    merged = np.concatenate(streams, axis=-1)  # (N, 14, 14, 16)
    merged = merged.reshape(len(images), 7, 2, 7, 2, 16).max(axis=(2, 4))
    flat = merged.reshape(len(images), -1)  # Keras Flatten: row, column, channel
    hidden = np.maximum(flat @ arrays["dense"][0] + arrays["dense"][1], 0)
    return hidden @ arrays["dense_1"][0] + arrays["dense_1"][1]


@pytest.mark.parametrize("whole_model", [False, True])
def test_keras_weights_file_gives_the_forward_pass_computed_from_its_arrays(tmp_path, whole_model):
    arrays = keras_arrays()
    path = tmp_path / "s1.hdf5"
    write_keras_h5(path, arrays, whole_model)
    net = softnet.load_keras_weights(softnet.SoftNet(), path)
    images = np.random.default_rng(7).uniform(0, 1, (4, 42, 42, 3)).astype(np.float32)
    expected = numpy_softnet(arrays, images)
    with torch.no_grad():
        got = net(torch.from_numpy(images.transpose(0, 3, 1, 2).copy())).numpy()
    assert np.abs(expected).max() > 0.1  # a pass that computes something
    np.testing.assert_allclose(got, expected, rtol=1e-4, atol=1e-5)


def test_a_weights_file_of_another_net_is_refused_naming_it(tmp_path):
    arrays = keras_arrays()
    arrays["dense"] = (np.zeros((100, 400), np.float32), np.zeros(400, np.float32))
    path = tmp_path / "other.hdf5"
    write_keras_h5(path, arrays)
    with pytest.raises(DataError, match="other.hdf5: a kernel of shape"):
        softnet.load_keras_weights(softnet.SoftNet(), path)
    with pytest.raises(DataError, match="missing.hdf5: no such weights file"):
        softnet.load_keras_weights(softnet.SoftNet(), tmp_path / "missing.hdf5")


# --- input, labels, smoothing, peaks -----------------------------------------------------------------------


def test_optical_strain_is_the_authors_forward_differences_with_the_last_row_and_column_repeated():
    u = np.array([[0.0, 1.0, 3.0], [2.0, 2.0, 2.0], [5.0, 0.0, 1.0]])
    v = np.zeros((3, 3))
    # at (0, 0): u_x = u[0,0] − u[0,1] = −1, u_y = u[0,0] − u[1,0] = −2: sqrt(1 + 0.5 · 4) = sqrt(3)
    # at (0, 1): u_x = 1 − 3 = −2, u_y = 1 − 2 = −1: sqrt(4 + 0.5) ; at (1, 0): u_x = 0, u_y = 2 − 5 = −3: sqrt(4.5)
    # at (1, 1): u_x = 0, u_y = 2 − 0 = 2: sqrt(2)
    inner = np.array([[np.sqrt(3), np.sqrt(4.5)], [np.sqrt(4.5), np.sqrt(2)]])
    expected = np.array([[inner[0, 0], inner[0, 1], inner[0, 1]],
                         [inner[1, 0], inner[1, 1], inner[1, 1]],
                         [inner[1, 0], inner[1, 1], inner[1, 1]]])
    np.testing.assert_allclose(softnet.optical_strain(u, v), expected)


def test_nose_motion_is_subtracted_and_the_eyes_are_masked():
    points = softnet.landmarks()
    flow = np.full((128, 128, 2), 2.0)  # the whole face moves 2 pixels: head motion, nothing left after the nose
    assert np.abs(softnet.input_image(flow, points)).max() == 0
    flow[..., 0] += np.random.default_rng(0).normal(0, 1, (128, 128))
    image = softnet.input_image(flow, points)
    assert image[..., 0].min() >= 0 and image[..., 0].max() > 0  # |u − nose|
    # the left eye's mask (landmarks 36..41 pushed 15 pixels out): (17, 42), (38, 24), (46, 24), (67, 43), (45, 60),
    # (38, 60) as (x, y); a patch well inside it moves, and the input does not change (the two masks meet at x ≈ 66)
    assert (points[36], points[37], points[39], points[40]) == ((32, 42), (38, 39), (52, 43), (45, 45))
    # the right eye's: (66, 43), (87, 23), (94, 23), (115, 41), (95, 59), (88, 59)
    for patch in ((slice(30, 55), slice(35, 50)), (slice(35, 52), slice(82, 96))):
        masked = flow.copy()
        masked[patch] += 50.0
        np.testing.assert_array_equal(softnet.input_image(masked, points), image)
    moved = flow.copy()
    moved[12:20, 20:60] += 50.0  # the brows, above the mask: the input changes
    assert np.abs(softnet.input_image(moved, points) - image).max() > 1.0


def authors_pseudo_labels(n_frames, intervals, k):
    """``pseudo_labeling`` as the authors' loop writes it, for one video."""
    labels = [0] * (n_frames - k)
    for onset, offset in intervals:
        truth = np.arange(onset + 1, offset + 1)
        for index in range(len(labels)):
            window = np.arange(index, index + k)
            if labels[index] < len(np.intersect1d(window, truth)) / len(np.union1d(window, truth)):
                labels[index] = 1
    return np.array(labels, np.float32)


def test_pseudo_labels_on_a_hand_worked_video():
    # 20 frames, k = 3, one interval at 0-based frames 5..8: the authors' truth is frames 6..8 (np.arange(5 + 1,
    # 8 + 1)); window j is frames j..j+2; they share a frame for j = 4 … 8
    labels = softnet.pseudo_labels(20, [(5, 8)], 3)
    assert labels.tolist() == [0.0] * 4 + [1.0] * 5 + [0.0] * 8
    # a single-frame interval has no frame in the authors' truth: no label
    assert softnet.pseudo_labels(20, [(5, 5)], 3).sum() == 0


def test_pseudo_labels_equal_the_authors_loop():
    rng = np.random.default_rng(1)
    for _ in range(30):
        n, k = int(rng.integers(20, 60)), int(rng.integers(1, 8))
        onsets = np.sort(rng.integers(0, n - 2, 2))
        intervals = [(int(a), int(min(n - 1, a + rng.integers(0, 10)))) for a in onsets]
        np.testing.assert_array_equal(softnet.pseudo_labels(n, intervals, k), authors_pseudo_labels(n, intervals, k))


def test_k_is_half_the_mean_length_as_cal_k():
    # offsets − onsets 10, 13 and 14: N = 37 / 3 = 12.33, int((N + 1) / 2) = 6
    assert softnet.authors_k([10, 13, 14]) == 6
    assert softnet.authors_k([9]) == 5


def test_smoothing_is_the_mean_of_2k_raw_scores():
    scores = np.array([0, 0, 0, 0, 4, 4, 0, 0, 0, 0, 0, 0], float)
    # k = 2: s[j] = mean(scores[j..j+3]), j = 0 … 12 − 4 − 1
    assert softnet.smooth_scores(scores, 2).tolist() == [0, 1, 2, 2, 2, 1, 0, 0]
    assert softnet.smooth_scores(scores, 6).tolist() == []


def test_peaks_above_the_moilanen_threshold_at_least_k_apart_become_intervals_of_2k_plus_one():
    smoothed = np.array([0, 5, 0, 4, 0, 0, 3, 0, 0, 0], float)
    # mean 1.2; p = 0: threshold 1.2, peaks 1 (5), 3 (4), 6 (3); k = 3: 3 lies 2 from the higher 1 and goes
    assert [i[:2] for i in softnet.peak_intervals(smoothed, 3, 0.0)] == [(1, 7), (6, 12)]
    # p = 0.7: threshold 1.2 + 0.7 · 3.8 = 3.86: only 1 and 3 are above it, 3 too close to 1
    assert [i[:2] for i in softnet.peak_intervals(smoothed, 3, 0.7)] == [(1, 7)]
    # k = 1: all three are far enough apart
    assert [i[:2] for i in softnet.peak_intervals(smoothed, 1, 0.0)] == [(1, 3), (3, 5), (6, 8)]


def test_sampling_down_keeps_every_labelled_frame_and_half_as_many_others():
    labels = np.array([0] * 40 + [1] * 6, np.float32)
    kept = softnet.sample_down(labels, np.random.default_rng(0))
    assert (labels[kept] == 1).sum() == 6 and (labels[kept] == 0).sum() == 20
    assert list(kept) == sorted(set(kept.tolist()))


# --- p: on the training videos, or LEAKY on the test videos ------------------------------------------------------


class Frames(FrameSource):
    def __init__(self, n):
        self.n = n

    def indices(self):
        return list(range(1, self.n + 1))

    def load(self, index):
        return np.zeros((8, 8), np.uint8)


def scored_video(name, truth):
    """41 frames; ``truth``: ME intervals as 0-based positions (frame numbers one more)."""
    return LongVideo("toy-long", "toy-long/s1", name, 30.0, Frames(41), 41,
                     tuple(Interval(a + 1, b + 1, "me") for a, b in truth))


def bumpy_scores():
    """Raw scores of 40 frames (T − k, k = 1) whose smoothing s[j] = (x[j] + x[j + 1]) / 2 has a strong peak at 10
    (value 10) and a weak one at 28 (value 4): the bumps (4, 12, 8) at 9..11 and (1.6, 4.8, 3.2) at 27..29."""
    scores = np.zeros(40)
    scores[9:12] = (4, 12, 8)
    scores[27:30] = (1.6, 4.8, 3.2)
    return scores


def spotter_with_scores(videos):
    spotter = softnet.SoftNetSpotter()
    spotter.nets, spotter.k = {"me": None}, {"me": 1}
    for video in videos:
        spotter._scores[(video.id, "me")] = bumpy_scores()
    return spotter


def test_p_chosen_on_training_videos_differs_from_the_test_oracle_where_their_truths_differ():
    smoothed = softnet.smooth_scores(bumpy_scores(), 1)
    assert (smoothed[10], smoothed[28]) == (10.0, 4.0)
    # the weak peak is above mean + p · (max − mean) for p ≤ (4 − mean) / (10 − mean) = 0.334
    mean = smoothed.mean()
    assert 0.30 < (4 - mean) / (10 - mean) < 0.35
    training = [scored_video("train", [(10, 12), (28, 30)])]  # both peaks are expressions: F1 1 for p ≤ 0.30
    test = [scored_video("test", [(10, 12)])]  # only the strong one: F1 1 for p ≥ 0.35
    spotter = spotter_with_scores(training + test)
    # of the p with the best F1, the one nearest the authors' 0.55
    assert spotter.choose_threshold(training, leaky=False) == {"me": 0.3}
    assert spotter.choose_threshold(test) == {"me": 0.55}
    assert [i[:2] for i in spotter.spot_video(test[0])] == [(11, 13)]  # frames 10..12 + 1: the strong peak only


def test_fit_chooses_p_on_the_training_videos_unless_p_is_given(monkeypatch):
    # the nets' scores stand in for training: every video scores bumpy_scores()
    monkeypatch.setattr(softnet, "face_flows", lambda video, size, crop, k, flow, cache, cache_flows:
                        (np.zeros((41, 8, 8), np.uint8), None))
    monkeypatch.setattr(softnet, "flow_inputs", lambda flow_fields, size: np.zeros((40, 42, 42, 3), np.float32))
    monkeypatch.setattr(softnet.SoftNetSpotter, "_train", lambda self, kind, videos, inputs: "net")
    monkeypatch.setattr(softnet, "net_scores", lambda net, images: bumpy_scores())
    training = [scored_video("train", [(10, 12), (28, 30)])]
    spotter = softnet.SoftNetSpotter(expressions="me", k_me=1).fit(training)
    assert spotter.p == {"me": 0.3} and spotter.k == {"me": 1}
    assert [i[:2] for i in spotter.spot_video(training[0])] == [(11, 13), (29, 31)]
    given = softnet.SoftNetSpotter(expressions="me", k_me=1, p=0.55).fit(training)
    assert given.p == {} and [i[:2] for i in given.spot_video(training[0])] == [(11, 13)]


def test_a_fixed_p_refuses_the_test_oracle():
    spotter = softnet.SoftNetSpotter(p=0.55)
    with pytest.raises(ConfigError, match="--model-opt p=0.55 fixes it"):
        spotter.choose_threshold([])


class ChoosingSpotter:
    """Records the videos it fits on and chooses on; answers nothing."""

    calls: list[tuple[str, tuple[str, ...]]] = []

    def fit(self, videos):
        ChoosingSpotter.calls.append(("fit", tuple(v.id for v in videos)))

    def choose_threshold(self, videos):
        ChoosingSpotter.calls.append(("choose", tuple(v.id for v in videos)))

    def spot_video(self, video):
        return []


class PlainSpotter:
    def spot_video(self, video):
        return []


def toy_plugin():
    module = types.ModuleType("softnet_toy_plugin")

    @hookimpl
    def mebench_register_datasets(register):
        register(DatasetSpec(name="toy-long", kind=INTERVALS, classes=("me", "mae"), needs_data_root=False,
                             load=lambda data_root=None: [
                                 LongVideo("toy-long", f"toy-long/{s}", "a", 30.0, Frames(50), 50,
                                           (Interval(10, 14, "me"),)) for s in ("s1", "s2")]))

    @hookimpl
    def mebench_register_models(register):
        register(ModelSpec(name="choosing-spotter", factory=lambda num_classes, input_spec, **kw: ChoosingSpotter(),
                           input_spec=InputSpec(1, 1, 1), preprocessing=(), learner="spotter"))
        register(ModelSpec(name="plain-spotter", factory=lambda num_classes, input_spec, **kw: PlainSpotter(),
                           input_spec=InputSpec(1, 1, 1), preprocessing=(), learner="spotter"))

    module.mebench_register_datasets = mebench_register_datasets
    module.mebench_register_models = mebench_register_models
    return module


def test_selection_test_oracle_chooses_on_each_folds_test_videos_under_the_leaky_label(tmp_path):
    registry = tiny_registry(toy_plugin())
    ChoosingSpotter.calls.clear()
    outcome = run(RunConfig(model="choosing-spotter", dataset="toy-long", device="cpu", selection="test-oracle"),
                  registry, output_dir=tmp_path, **QUIET)
    assert ChoosingSpotter.calls == [("fit", ("toy-long/s2/a",)), ("choose", ("toy-long/s1/a",)),
                                     ("fit", ("toy-long/s1/a",)), ("choose", ("toy-long/s2/a",))]
    assert "LEAKY" in outcome.run_dir.name
    assert json.loads((outcome.run_dir / "metrics.json").read_text())["leaky"] is True
    ChoosingSpotter.calls.clear()
    run(RunConfig(model="choosing-spotter", dataset="toy-long", device="cpu"), registry,
        output_dir=tmp_path, **QUIET)
    assert [call for call, _ in ChoosingSpotter.calls] == ["fit", "fit"]  # fixed: nothing chosen on the test videos


def test_test_oracle_is_refused_for_a_spotter_that_chooses_nothing(tmp_path):
    with pytest.raises(ConfigError, match="--selection test-oracle: spotter PlainSpotter chooses nothing"):
        run(RunConfig(model="plain-spotter", dataset="toy-long", device="cpu", selection="test-oracle"),
            tiny_registry(toy_plugin()), output_dir=tmp_path, **QUIET)


# --- a whole run ----------------------------------------------------------------------------------------------


#: The smallest run that still trains both nets in each fold: two subjects of one 6-second video each (one ME and
#: one MaE planted in each), one epoch, DIS flow.
SMALL_RUN = {"videos_per_subject": 1, "seconds": 6.0}


@pytest.mark.slow
def test_a_softnet_run_on_synthetic_long_spots_intervals_of_the_authors_k(tmp_path):
    outcome = run(RunConfig(model="softnet", dataset="synthetic-long", device="cpu", dataset_options=SMALL_RUN,
                            model_options={"flow": "dis", "epochs": 1}),
                  output_dir=tmp_path, cache_dir=tmp_path / "cache", **QUIET)
    folder = outcome.run_dir
    metrics = json.loads((folder / "metrics.json").read_text())
    record = json.loads((folder / "run.json").read_text())
    assert record["learner"] == "spotter"
    # the parameters of the net the spotter builds (one per type, each this size), from the Keras layer list above
    assert record["parameters"] == 314_817
    from mebench_plugins.datasets.synthetic_long import load_synthetic_long

    videos = {video.id: video for video in load_synthetic_long(**SMALL_RUN)}
    predictions = pd.read_csv(folder / "predictions.csv", keep_default_na=False)
    spotted, truth = [], []
    for row in predictions.itertuples():
        video = videos[row.sample_id]
        others = [v for v in videos.values() if v.subject != video.subject]  # the fold's training videos (LOSO)
        k = {kind: softnet.authors_k([i.offset - i.onset for v in others for i in v.intervals if i.kind == kind])
             for kind in ("me", "mae")}
        for part in filter(None, (text.strip() for text in str(row.predicted_label).split(";"))):
            if part == "none":
                continue
            kind, frames = part.split()
            onset, offset = (int(x) for x in frames.split("-"))
            assert offset - onset == 2 * k[kind]  # every interval is [peak, peak + 2k], k by cal_k on the training side
            spotted.append(Spotted(video.id, onset, offset, kind))
        truth += [Spotted(video.id, i.onset, i.offset, i.kind) for i in video.intervals]
    assert spotted
    figures = spotting_figures(video_counts(spotted, truth, list(videos)).sum(axis=0))
    assert metrics["pooled"]["f1"] == pytest.approx(float(figures["f1"]))
