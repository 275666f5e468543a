"""MTSN (``plugins/spotters/mtsn.py``): the port of the authors' PyTorch net (parameter count from their layer
definitions, a state dict in the layout of their published weights against a forward pass computed here in numpy),
the hard and soft pseudo-labels, the score aggregation, interval detection and ME/MaE check on hand-worked cases,
the thresholds chosen on the videos given, and a whole run."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from mebench.errors import ConfigError, DataError, MebenchError
from mebench.run.plan import RunConfig
from mebench.run.runner import run
from mebench_plugins.spotters import mtsn
from tests.conftest import QUIET

# --- the net ------------------------------------------------------------------------------------------------------


def test_parameter_count_is_the_authors_layer_definitions():
    # network.py: SOFTNet's conv1, conv2, conv3 are Conv2d(1, maps, 5) with 3, 5, 8 maps: 5·5·1·maps + maps each;
    # the pools, ReLU and flatten hold none; 28 → MaxPool2d(3, 3) → 9, concatenation 3 + 5 + 8 = 16 maps,
    # MaxPool2d(2, 2) → 4: 16·4·4 = 256 per stream, two streams 512; fc1 Linear(512, 128), fc2 Linear(128, 1).
    # MTSN holds ONE SOFTNet (self.SOFTNet), called on both streams.
    backbone = (5 * 5 * 1 * 3 + 3) + (5 * 5 * 1 * 5 + 5) + (5 * 5 * 1 * 8 + 8)  # 78 + 130 + 208 = 416
    fc1 = 512 * 128 + 128  # 65,664
    fc2 = 128 * 1 + 1  # 129
    authors = backbone + fc1 + fc2
    assert authors == 66_209
    net = mtsn.MTSN()
    assert sum(p.numel() for p in net.parameters()) == authors
    assert mtsn.CARD.reference_parameters == authors


def test_initial_weights_are_xavier_uniform_with_zero_biases():
    net = mtsn.MTSN(torch.Generator().manual_seed(0))
    # init_weights: xavier_uniform_, U(−l, l), l = sqrt(6 / (fan_in + fan_out)); fc1: 512 in, 128 out
    limit = np.sqrt(6 / (512 + 128))
    weight = net.fc1.weight.detach().numpy()
    assert weight.max() <= limit and weight.min() >= -limit and weight.max() > 0.99 * limit
    # conv3: fan_in 1·5·5 = 25, fan_out 8·5·5 = 200
    assert np.abs(net.SOFTNet.conv3.weight.detach().numpy()).max() <= np.sqrt(6 / (25 + 200))
    layers = (net.SOFTNet.conv1, net.SOFTNet.conv2, net.SOFTNet.conv3, net.fc1, net.fc2)
    assert all(float(layer.bias.detach().abs().sum()) == 0 for layer in layers)


#: The tensors of the authors' megc2022-pretrained-weights/cas_weights.pkl (torch.save(model.state_dict())), by name
#: and shape, as the file holds them.
AUTHORS_LAYOUT = {
    "SOFTNet.conv1.weight": (3, 1, 5, 5), "SOFTNet.conv1.bias": (3,),
    "SOFTNet.conv2.weight": (5, 1, 5, 5), "SOFTNet.conv2.bias": (5,),
    "SOFTNet.conv3.weight": (8, 1, 5, 5), "SOFTNet.conv3.bias": (8,),
    "fc1.weight": (128, 512), "fc1.bias": (128,),
    "fc2.weight": (1, 128), "fc2.bias": (1,),
}


def seeded_state(seed=3):
    rng = np.random.default_rng(seed)
    return {name: rng.normal(0.0, 0.1, shape).astype(np.float32) for name, shape in AUTHORS_LAYOUT.items()}


def numpy_conv_same(image, kernel, bias):
    """A 5 × 5 cross-correlation with 2 pixels of zero padding: image (N, H, W), kernel (C, 1, 5, 5) → (N, C, H, W)."""
    padded = np.pad(image, ((0, 0), (2, 2), (2, 2)))
    windows = np.lib.stride_tricks.sliding_window_view(padded, (5, 5), axis=(1, 2))  # (N, H, W, 5, 5)
    return np.einsum("nhwij,cij->nchw", windows, kernel[:, 0]) + bias[None, :, None, None]


def numpy_pool(maps, size):
    n, c, h, w = maps.shape
    h2, w2 = h // size, w // size
    return maps[:, :, :h2 * size, :w2 * size].reshape(n, c, h2, size, w2, size).max(axis=(3, 5))


def numpy_forward(state, x):
    """network.MTSN's forward written out: x (N, 6, 28, 28), the k-apart u, v, strain then the 1-apart ones."""
    def backbone(u, v, e):
        maps = [numpy_pool(np.maximum(numpy_conv_same(channel, state[f"SOFTNet.conv{i}.weight"],
                                                      state[f"SOFTNet.conv{i}.bias"]), 0), 3)
                for i, channel in ((1, u), (2, v), (3, e))]
        return numpy_pool(np.concatenate(maps, axis=1), 2).reshape(len(u), -1)  # (N, 16·4·4) in C, H, W order
    x = x.astype(np.float64)
    joined = np.concatenate([backbone(x[:, 0], x[:, 1], x[:, 2]), backbone(x[:, 3], x[:, 4], x[:, 5])], axis=1)
    hidden = np.maximum(joined @ state["fc1.weight"].T + state["fc1.bias"], 0)
    return 1 / (1 + np.exp(-(hidden @ state["fc2.weight"].T + state["fc2.bias"])))


def test_a_file_in_the_authors_layout_loads_and_matches_a_forward_pass_written_out(tmp_path):
    state = seeded_state()
    path = tmp_path / "cas_weights.pkl"
    torch.save({name: torch.from_numpy(array) for name, array in state.items()}, path)
    net = mtsn.load_authors_weights(mtsn.MTSN(), path)
    x = np.random.default_rng(4).uniform(0, 1, (5, 6, 28, 28)).astype(np.float32)
    with torch.no_grad():
        ours = net(torch.from_numpy(x)).numpy()
    expected = numpy_forward({k: v.astype(np.float64) for k, v in state.items()}, x)
    assert ours.shape == (5, 1) and 0.1 < expected.min() and expected.max() < 0.9  # away from the sigmoid's ends
    np.testing.assert_allclose(ours, expected, rtol=1e-4, atol=1e-5)
    # the two streams are not interchangeable: fc1's first 256 inputs are the k-apart stream's
    swapped = np.concatenate([x[:, 3:], x[:, :3]], axis=1)
    assert np.abs(numpy_forward({k: v.astype(np.float64) for k, v in state.items()}, swapped) - expected).max() > 1e-3


def test_a_weights_file_of_another_layout_is_one_clear_error(tmp_path):
    state = {name: torch.zeros(shape) for name, shape in AUTHORS_LAYOUT.items()}
    state["fc1.weight"] = torch.zeros(128, 784)
    path = tmp_path / "other.pkl"
    torch.save(state, path)
    with pytest.raises(DataError) as error:
        mtsn.load_authors_weights(mtsn.MTSN(), path)
    assert "other.pkl" in str(error.value) and "fc1.weight" in str(error.value) and "\n" not in str(error.value)
    (tmp_path / "junk.pkl").write_bytes(b"not a pickle")
    with pytest.raises(MebenchError):
        mtsn.load_authors_weights(mtsn.MTSN(), tmp_path / "junk.pkl")


# --- labels ---------------------------------------------------------------------------------------------------------


def test_hard_and_soft_pseudo_labels_by_hand():
    # (onset 2, apex 4, offset 7): hard 1 on 2…7; soft rises 0/2, 1/2, 2/2 over 2…4 and falls (7 − f)/3 over 5…7
    hard, soft = mtsn.pseudo_labels(10, [(2, 4, 7)])
    assert hard.tolist() == [0, 0, 1, 1, 1, 1, 1, 1, 0, 0]
    np.testing.assert_allclose(soft, [0, 0, 0, 0.5, 1, 2 / 3, 1 / 3, 0, 0, 0])


def test_an_onset_of_0_or_1_labels_from_the_apex_and_labels_stop_at_the_inputs_end():
    # prepare_data: "if sample[0] > 1: onset = sample[0] else: onset = sample[1]" — (1, 3, 5) is labelled from 3;
    # soft at 3: frame_index 0 over (3 − 1); at 4: (5 − 4)/(5 − 3); frames past the last input (n_labels) dropped
    hard, soft = mtsn.pseudo_labels(5, [(1, 3, 5)])
    assert hard.tolist() == [0, 0, 0, 1, 1]
    np.testing.assert_allclose(soft, [0, 0, 0, 0, 0.5])


def test_sampling_down_keeps_ratio_times_the_labelled_frames():
    labels = np.array([0] * 20 + [1] * 3 + [0] * 5)
    kept = mtsn.sample_down(labels, 2, np.random.default_rng(0))
    assert (labels[kept] > 0).sum() == 3 and (labels[kept] == 0).sum() == 6
    assert list(kept) == sorted(kept)


def test_the_loss_is_the_codes_hard_mse_and_soft_weight_mixes_in_the_soft_one():
    out, hard, soft = torch.tensor([0.5, 0.5]), torch.tensor([1.0, 0.0]), torch.tensor([0.5, 0.5])
    # MSE(out, hard) = (0.25 + 0.25) / 2 = 0.25; MSE(out, soft) = 0
    assert mtsn.training_loss(out, hard, soft, 0.0).item() == pytest.approx(0.25)  # 0.7 · 0.25 + 0.3 · 0.25
    assert mtsn.training_loss(out, hard, soft, 0.3).item() == pytest.approx(0.175)  # 0.7 · 0.25 + 0.3 · 0
    assert mtsn.MTSNSpotter().options["soft_weight"] == 0.0


# --- post-processing --------------------------------------------------------------------------------------------------


def test_aggregation_is_the_mean_of_2k_scores_cut_by_k_at_both_ends():
    # authors: s[x] = score[x − 1:x + 1].mean() for x = 1 … 4, then s[1:-1]
    np.testing.assert_allclose(mtsn.aggregate(np.array([0, 0, 1, 1, 0, 0.]), 1), [0, 0.5, 1, 0.5])
    np.testing.assert_allclose(mtsn.aggregate(np.arange(8.), 2), [1.5, 2.5, 3.5, 4.5])
    assert len(mtsn.aggregate(np.ones(4), 2)) == 0


def test_detect_interval_by_hand():
    scores = np.array([0.1, 0.5, 0.8, 0.9, 0.6, 0.2])
    # left of peak 3 (3 back): 0.5 differs most from 0.9 while above 0.4; right (2 on): 0.6
    assert mtsn.detect_interval(scores, 3, 3, 2, 0.4) == (1, 3, 4)
    # nothing above 0.85 on either side: start 0, end peak + right_dis (the authors' defaults)
    assert mtsn.detect_interval(scores, 3, 3, 2, 0.85) == (0, 3, 5)
    # …frame 0 even where it lies beyond left_dis (1 back looks at frame 2 only), end the last frame
    assert mtsn.detect_interval(scores, 3, 1, 5, 0.85) == (0, 3, 5)


SMALL = mtsn.Setting(fps=30, k_micro=1, k_macro=2, micro_min=1, micro_max=10, macro_min=1, macro_max=20,
                     micro_left_dis=3, micro_right_dis=3, macro_left_dis=5, macro_right_dis=5, peak_micro_dis=2,
                     peak_macro_dis=4, micro_threshold=0.5, macro_threshold=0.5, dif_threshold=0.4)


def test_both_types_spotted_shifted_by_their_k_and_an_me_under_the_mae_curve_dropped():
    micro = np.array([0, 0.2, 0.9, 1.0, 0.9, 0.2, 0, 0])
    macro = np.array([0, 0.1, 0.6, 0.7, 0.6, 0.1, 0, 0])
    # ME: peak 3, start 2 and end 4 (0.9, above 0.5); 1.0 − 0.7 = 0.3 is not above dif 0.4 → dropped
    # MaE: peak 3, start 2, end 4; shifted by k_macro 2 → (4, 6)
    assert mtsn.spot_curves(micro, macro, SMALL, 0.5, 0.5, 0.4) == [(4, 6, "mae")]
    # dif 0.2: the ME stays, shifted by k_micro 1 → (3, 5)
    assert mtsn.spot_curves(micro, macro, SMALL, 0.5, 0.5, 0.2) == [(3, 5, "me"), (4, 6, "mae")]


def test_an_interval_too_long_or_with_the_peak_not_above_its_ends_is_dropped():
    # peak 3 of 0.7 with no shoulder above 0.5: start 0, end 6 (peak + 3): 6 − 0 = 6 lies within (1, 10) → kept
    curve = np.array([0, 0.1, 0.2, 0.7, 0.2, 0.1, 0, 0, 0])
    assert mtsn.detect(curve, 0.5, 2, 3, 3, 1, 10) == [(0, 3, 6)]
    assert mtsn.detect(curve, 0.5, 2, 3, 3, 1, 6) == []  # 6 is not below 6
    assert mtsn.detect(curve, 0.5, 2, 3, 3, 6, 10) == []  # nor above 6
    # start 0 holds 0.8, above the peak's 0.7 (and the peak is not above 0.95): dropped
    assert mtsn.detect(np.array([0.8, 0.1, 0.2, 0.7, 0.2, 0.1, 0, 0, 0]), 0.5, 2, 3, 3, 1, 10) == []


def test_thresholds_are_chosen_for_the_best_f1_on_the_videos_given():
    # one video; the micro curve (k_micro 1: s[i] = (r[i] + r[i+1]) / 2, inverted here) holds a true ME bump
    # peaking at 0.5 with 0.48 shoulders and a false one at 0.35 with 0.33 shoulders. Below 0.33 both are spotted
    # (F1 2/3); from 0.33 the false one's interval runs from frame 0 (no shoulder above) and is too long; from 0.48
    # the true one's is too → F1 1 for thresholds 0.35, 0.40, 0.45, of which 0.45 is nearest the authors' 0.7.
    curve = np.zeros(30)
    curve[3:8] = [0.1, 0.48, 0.5, 0.48, 0.1]
    curve[18:23] = [0.1, 0.33, 0.35, 0.33, 0.1]
    raw = np.zeros(32)
    for i, value in enumerate(curve):
        raw[i + 1] = 2 * value - raw[i]
    setting = mtsn.Setting(30, 1, 16, 1, 10, 1, 20, 3, 3, 5, 5, 2, 4, 0.7, 0.7, 0.4)  # MaE curve empty: 32 ≤ 2·16
    np.testing.assert_allclose(mtsn.aggregate(raw, 1), curve, atol=1e-12)
    truth = {"v": [(5, 7, "me")]}  # the true bump's interval: start 4, end 6, + k_micro 1
    chosen = mtsn.choose_thresholds({"v": raw}, truth, {"v": setting}, mtsn.SETTINGS["cas"])
    assert chosen["micro_threshold"] == 0.45
    # dif: the ME's 0.5 against an empty MaE curve (0): every dif below 0.5 keeps it; 0.4 is the authors'
    assert chosen["dif_threshold"] == 0.4
    # a threshold given is kept, the others chosen with it
    fixed = mtsn.choose_thresholds({"v": raw}, truth, {"v": setting}, mtsn.SETTINGS["cas"], {"micro_threshold": 0.2})
    assert fixed["micro_threshold"] == 0.2 and fixed["dif_threshold"] == 0.4


def test_all_thresholds_fixed_refuse_the_leaky_choice_in_one_line():
    spotter = mtsn.MTSNSpotter(micro_threshold=0.7, macro_threshold=0.7, dif_threshold=0.4)
    with pytest.raises(ConfigError) as error:
        spotter.choose_threshold([], leaky=True)
    assert "test-oracle" in str(error.value) and "\n" not in str(error.value)


def test_the_authors_constants_scale_with_the_frame_rate_and_samm_keeps_its_own():
    spotter = mtsn.MTSNSpotter()

    class Video:
        def __init__(self, dataset, fps):
            self.dataset, self.fps = dataset, fps

    assert spotter.setting(Video("synthetic-long", 30)) == mtsn.SETTINGS["cas"]
    assert spotter.setting(Video("samm-long", 200)) == mtsn.SETTINGS["samm"]
    doubled = spotter.setting(Video("casme3a-long", 60))
    assert (doubled.k_micro, doubled.k_macro, doubled.micro_max, doubled.peak_macro_dis) == (12, 36, 60, 72)
    assert doubled.micro_threshold == 0.7


# --- a run ------------------------------------------------------------------------------------------------------------


#: A small run that still spots both types: two subjects of one 12-second video each (2 MEs and 1 MaE planted in each;
#: with one ME per video, at 6, 8 or 9 seconds, the run spotted no ME).
SMALL_RUN = {"videos_per_subject": 1, "seconds": 12.0}


@pytest.mark.slow
def test_a_run_on_synthetic_long_completes_and_spots(tmp_path):
    outcome = run(RunConfig(model="mtsn", dataset="synthetic-long", device="cpu", dataset_options=SMALL_RUN,
                            model_options={"flow": "dis", "epochs": 1}),
                  output_dir=tmp_path / "results", cache_dir=tmp_path / "cache", **QUIET)
    run_dir = outcome.run_dir
    pooled = json.loads((run_dir / "metrics.json").read_text())["pooled"]
    # both types are planted in every video: the one score spots some of each
    assert pooled["per_class"]["me"]["tp"] >= 1 and pooled["per_class"]["mae"]["tp"] >= 1
    assert pooled["f1"] > 0
    record = json.loads((run_dir / "run.json").read_text())
    assert record["learner"] == "spotter"
    # the parameters of the one net the spotter builds, counted from the authors' layers (the first test)
    assert record["parameters"] == 66_209
    # the learner gave the spotter the run's cache folder: each video's flows k_micro (6) and 1 apart written once,
    # read by the other fold
    cached = sorted((tmp_path / "cache" / "spotting").rglob("*.npy"))
    assert sorted(path.name.split("-")[0] for path in cached) == ["faces"] * 2 + ["flows"] * 4


# --- the authors' published weights in a run --------------------------------------------------------------------------


class TexturedFrames:
    """Frames 1..T of a blurred random texture moving a pixel to the right every second frame."""

    def __init__(self, count):
        import cv2

        texture = cv2.GaussianBlur(np.random.default_rng(5).integers(0, 256, (64, 96), dtype=np.uint8), (7, 7), 0)
        self.frames = [texture[:, 16 - j // 2:80 - j // 2] for j in range(count)]

    def indices(self):
        return list(range(1, len(self.frames) + 1))

    def load(self, index):
        return self.frames[index - 1]


def weights_config(path, **options):
    return RunConfig(model="mtsn", dataset="synthetic-long", device="cpu", dataset_options=dict(SMALL_RUN),
                     model_options={"flow": "dis", "weights": str(path), **options})


def test_published_weights_are_loaded_instead_of_training_and_the_run_is_named_by_their_digest(tmp_path,
                                                                                               monkeypatch):
    import hashlib
    import shutil

    from mebench.long_videos import Interval, LongVideo
    from mebench.run.plan import plan_run

    state = seeded_state()
    path = tmp_path / "cas_weights.pkl"
    torch.save({name: torch.from_numpy(array) for name, array in state.items()}, path)
    (tmp_path / "elsewhere").mkdir()
    renamed = shutil.copy(path, tmp_path / "elsewhere" / "mine.pkl")
    plan = plan_run(weights_config(path))
    assert plan.resolved["pretrained"]["sha256"] == hashlib.sha256(path.read_bytes()).hexdigest()
    assert plan_run(weights_config(renamed)).run_id == plan.run_id  # the same bytes elsewhere: the same run
    other = tmp_path / "other.pkl"
    torch.save({name: torch.from_numpy(array) for name, array in seeded_state(4).items()}, other)
    assert plan_run(weights_config(other)).run_id != plan.run_id
    assert plan_run(RunConfig(model="mtsn", dataset="synthetic-long", device="cpu", dataset_options=dict(SMALL_RUN),
                              model_options={"flow": "dis"})).run_id != plan.run_id
    # fit: the authors' net in the fold, nothing trained; the thresholds still chosen on the training videos
    monkeypatch.setattr(mtsn, "train_net", lambda *args: pytest.fail("trained despite the published weights"))
    video = LongVideo("toy-long", "toy-long/s1", "a", 30.0, TexturedFrames(24), 24, (Interval(8, 14, "me", apex=11),))
    spotter = mtsn.MTSNSpotter(flow="dis", weights=str(path)).fit([video])
    for name, tensor in spotter.net.state_dict().items():
        np.testing.assert_array_equal(tensor.numpy(), state[name])
    assert set(spotter.thresholds) == {"micro_threshold", "macro_threshold", "dif_threshold"}


def test_a_bad_weights_file_stops_the_plan_in_one_line_naming_it(tmp_path):
    from mebench.run.plan import plan_run

    (tmp_path / "junk.pkl").write_bytes(b"not a pickle")
    for given, named in ((tmp_path / "junk.pkl", "junk.pkl"), (tmp_path / "missing.pkl", "missing.pkl")):
        with pytest.raises(MebenchError) as error:
            plan_run(weights_config(given))
        assert named in str(error.value) and "\n" not in str(error.value)
