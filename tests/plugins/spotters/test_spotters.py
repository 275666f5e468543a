"""The hand-crafted spotters (``plugins/spotters``): MDMD as the MEGC2020 baseline code runs it and the LBP
feature difference of Moilanen et al. (2014), on hand-made score curves and flow fields worked out by hand and
on small generated videos with a planted movement."""

import numpy as np
import pytest

from mebench.errors import OptionError
from mebench.spotting import found_intervals, spotting_figures
from mebench_plugins.spotters import feature_difference, mdmd, optical_flow, relative_threshold

NAN = np.nan


def video(frames=120, size=40, event=(50, 57), seed=0, amplitude=60.0, noise=2.0):
    """A grey face-sized texture with sensor noise and, over the frames of ``event`` (inclusive), a local bright
    patch that moves one pixel down and right per frame."""
    rng = np.random.default_rng(seed)
    texture = rng.uniform(0, 255, (size, size))
    kernel = np.exp(-np.arange(-4, 5) ** 2 / 8.0)
    for axis in (0, 1):  # a smooth texture (flow needs gradients)
        texture = np.apply_along_axis(lambda line: np.convolve(line, kernel / kernel.sum(), "same"), axis, texture)
    texture = 40 + (texture - texture.min()) / np.ptp(texture) * 160
    yy, xx = np.mgrid[0:size, 0:size]
    out = np.empty((frames, size, size))
    for t in range(frames):
        image = texture.copy()
        if event and event[0] <= t <= event[1]:
            shift = t - event[0]
            image += amplitude * np.exp(-((yy - 14 - shift) ** 2 + (xx - 14 - shift) ** 2) / 18.0)
        out[t] = image + rng.normal(0, noise, (size, size))
    return np.clip(out, 0, 255).astype(np.uint8)


# --- MDMD ----------------------------------------------------------------------------------------------


def test_mdmd_defaults_are_the_authors_values_at_their_frame_rates():
    # the MEGC2020 README and cmd.m / evaluation_all_p.py: CAS(ME)^2 (30 fps) k 12 (ME) and 39 (MaE), ME 7-16
    # frames, MaE 17 or more; SAMM Long Videos (200 fps) k 80 and 260, ME 47-105, MaE 106 or more
    assert [mdmd.default_frames(mdmd.K_SECONDS[kind], fps) for fps in (30, 200) for kind in ("me", "mae")] == \
        [12, 39, 80, 260]
    assert [mdmd.default_lengths(kind, fps) for fps in (30, 200) for kind in ("me", "mae")] == \
        [(7, 16), (17, 0), (47, 105), (106, 0)]
    assert {option.name: option.default for option in mdmd.OPTIONS}["p"] == 0.01


def test_mdmd_halves_k_for_a_short_video_as_cmd_m_does():
    # cmd.m: while num_frames - 6k < 0, k = round(k / 2) (MATLAB rounds halves up: 39 -> 20 -> 10)
    assert mdmd.effective_k(39, 120, True) == 20
    assert mdmd.effective_k(39, 100, True) == 10
    assert mdmd.effective_k(39, 234, True) == 39
    assert mdmd.effective_k(39, 120, False) == 39


def test_main_direction_follows_the_authors_atan_and_blocks():
    # Two by two blocks of 3 x 3 pixels on a 7 x 7 field: the seventh row and column belong to no block
    # (floor(7 / 2) = 3). In each block two pixels move (1, 1) and (2, 2), two (-3, -3) and (-4, -4) and
    # three (0.5, -0.5); two do not move. atan(u / v) puts the first four in [0, 90) (atan2 would split them
    # over two directions and make the three the main one), so the main direction has m = 4 pixels and the
    # block keeps the largest round(4 / 3) = 1 difference: |(-4, -4)| - |far| = 4 sqrt 2 - 1. The frame keeps
    # the largest round(4 / 3) = 1 block.
    block = np.array([[(1, 1), (2, 2), (-3, -3)], [(-4, -4), (0.5, -0.5), (0.5, -0.5)], [(0.5, -0.5), (0, 0), (0, 0)]],
                     dtype=float)
    near = np.full((7, 7, 2), 100.0)  # the unused row and column: far larger than anything in the blocks
    near[:6, :6] = np.tile(block, (2, 2, 1))
    far = np.zeros((7, 7, 2))
    far[..., 0] = 1.0
    assert mdmd.main_directional_difference(near, far, blocks=2) == pytest.approx(4 * np.sqrt(2) - 1)


def test_mdmd_measures_the_near_and_far_flows_from_frame_i_minus_k(monkeypatch):
    # Frame t is filled with the value t; a stand-in flow from frame a to frame b moves every pixel by
    # (a + 2b, a + 2b), so its magnitude names both frames. MDMD.m: near = flow(i - k -> i), far =
    # flow(i - k -> i + k); every pixel and block alike, so f(i) = sqrt 2 ((3i - k) - (3i + k)) = -2 sqrt 2 k.
    def stand_in(first, second, method):
        shift = float(first[0, 0]) + 2 * float(second[0, 0])
        return np.full(first.shape + (2,), shift)

    monkeypatch.setattr(mdmd, "optical_flow", stand_in)
    frames = np.repeat(np.arange(10, dtype=np.uint8)[:, None, None], 42, axis=1).repeat(42, axis=2)  # 7 x 7 blocks
    expected = np.array([NAN, NAN] + [-4 * np.sqrt(2)] * 6 + [NAN, NAN])
    np.testing.assert_allclose(mdmd.mdmd_scores(frames, k=2), expected)


def test_mdmd_refuses_frames_too_small_for_the_flow():
    with pytest.raises(ValueError, match="at least 40 × 40 pixels; got 30 × 24"):
        mdmd.spot(np.zeros((60, 30, 24), np.uint8), 30)


def test_mdmd_contrast_is_cmd_m_s_over_its_frame_range():
    # T = 20, k = 2, m = k - 1 = 1: the contrast f(i) - (f(i-1) + f(i+1)) / 2 at the 0-based frames 3 ... 12
    # (cmd.m's 1-based 2k ... T - 4k + 1). The spike at frame 14 could be contrasted but lies past that range.
    scores = np.array([NAN, NAN, 0, 0, 0, 0, 1, 3, 3, 1, 0, 0, 0, 0, 5, 0, 0, 0, NAN, NAN])
    expected = np.array([NAN, NAN, NAN, 0, 0, -0.5, -0.5, 1, 1, -0.5, -0.5, 0, 0, NAN, NAN, NAN, NAN, NAN, NAN, NAN])
    np.testing.assert_array_equal(mdmd.mdmd_contrast(scores, 2), expected)


def test_mdmd_threshold_and_length_bounds_on_a_hand_made_contrast():
    # contrast as above: mean 0, max 1. p = 0.01: T = 0.01, frames 7 and 8 are above it -> one run of 2 frames.
    contrast = np.array([NAN, NAN, NAN, 0, 0, -0.5, -0.5, 1, 1, -0.5, -0.5, 0, 0, NAN, NAN])
    assert mdmd.contrast_intervals(contrast, 0.01, 1, 0) == [(7, 8, 1.0)]
    assert mdmd.contrast_intervals(contrast, 0.01, 2, 2) == [(7, 8, 1.0)]  # bounds are inclusive
    assert mdmd.contrast_intervals(contrast, 0.01, 3, 0) == []  # shorter than 3 frames
    assert mdmd.contrast_intervals(contrast, 0.01, 1, 1) == []  # longer than 1 frame
    # p = 0: T = mean = 0, and only frames strictly above it count (the zeros at 3, 4, 11, 12 do not)
    assert mdmd.contrast_intervals(contrast, 0.0, 1, 0) == [(7, 8, 1.0)]
    # p = 0.5 on a curve with two bumps: T = 0.25 + 0.5 * 0.75 = 0.625, only the higher bump passes
    bumps = np.array([0, 0.5, 0.5, 0, 1, 0, 0, 0])
    assert mdmd.contrast_intervals(bumps, 0.5, 1, 0) == [(4, 4, 1.0)]


def test_relative_threshold_is_mean_plus_p_times_max_minus_mean():
    assert relative_threshold(np.array([NAN, 0.0, 1.0, 2.0, 5.0, NAN]), 0.25) == pytest.approx(2.0 + 0.25 * 3.0)
    assert np.isnan(relative_threshold(np.array([NAN, NAN]), 0.25))


@pytest.mark.parametrize("seed, event", [(0, (30, 37)), (1, (50, 57)), (2, (62, 69))])
def test_mdmd_finds_a_planted_movement_by_the_megc_rule(seed, event):
    intervals = mdmd.spot(video(event=event, seed=seed), fps=30, flow="dis")
    assert found_intervals([(onset, offset) for onset, offset, _ in intervals], [event]) == 1
    assert len(intervals) == 1


@pytest.mark.parametrize("seed", [0, 1])
def test_mdmd_spots_nothing_in_a_video_without_movement(seed):
    # sensor noise only: runs above the relative threshold are too short for the ME length bounds
    assert mdmd.spot(video(event=None, seed=seed), fps=30, flow="dis") == []
    # no change at all: no flow, every feature 0, nothing strictly above the threshold at any length
    still = np.repeat(video(event=None, seed=seed, noise=0.0)[:1], 120, axis=0)
    assert mdmd.spot(still, fps=30, flow="dis", min_length=1) == []


@pytest.mark.parametrize("method", ["rlof", "tvl1", "dis"])
def test_each_flow_choice_measures_a_one_pixel_shift(method):
    first = video(frames=1, event=None, noise=0.0)[0]
    second = np.roll(first, 1, axis=1)  # every pixel one to the right
    flow = optical_flow(first, second, method)[8:-8, 8:-8]
    assert np.median(flow[..., 0]) == pytest.approx(1.0, abs=0.1)
    assert np.median(flow[..., 1]) == pytest.approx(0.0, abs=0.1)


def test_mdmd_card_figures_agree_with_the_published_counts():
    # the README's table gives TP/FP/FN per type and overall; its F1 values must follow from them
    for database, counts in mdmd.PUBLISHED_COUNTS.items():
        cells = np.array([[tp + fp, tp + fn, tp] for tp, fp, fn in (counts["me"], counts["mae"])])
        figures = spotting_figures(cells)
        reported = next(f for f in mdmd.CARD.reported if f.dataset == database).figures
        for name in ("f1", "f1_me", "f1_mae"):
            assert round(float(figures[name]), 4) == reported[name], (database, name)
        assert np.array(counts["overall"]).tolist() == np.add(counts["me"], counts["mae"]).tolist()


# --- feature difference (Moilanen et al. 2014) -----------------------------------------------------------


def test_feature_difference_k_gives_the_published_intervals():
    # N = 2k + 1 = 9 frames at 25 fps (SMIC) and 21 at 60 fps (CASME)
    assert [2 * feature_difference.default_frames(feature_difference.K_SECONDS, fps) + 1 for fps in (25, 60)] == [9, 21]


def test_lbp_codes_match_scikit_image_where_neighbours_fall_on_pixels():
    skimage_feature = pytest.importorskip("skimage.feature")
    image = video(frames=1, event=None, seed=3)[0]
    for radius in (1, 3):  # P = 4: neighbours at 0, 90, 180, 270 degrees, whole pixels
        ours = feature_difference.lbp_codes(image[None], 4, radius)[0]
        theirs = skimage_feature.local_binary_pattern(image, 4, radius, method="default").astype(int)
        np.testing.assert_array_equal(ours, theirs[radius:-radius, radius:-radius])


def test_chi_squared_by_hand():
    assert feature_difference.chi_squared(np.array([0.5, 0.5, 0.0]), np.array([1.0, 0.0, 0.0])) == \
        pytest.approx(0.25 / 1.5 + 0.25 / 0.5)


def test_feature_difference_compares_a_frame_with_the_mean_of_its_two_neighbours():
    # frame 0 flat, frames 1 and 2 a ramp in the top half (flat below). A flat block's codes are all "every
    # neighbour >= centre"; a ramp block has none of them. A top block of frame 1 (histogram h) against the mean
    # of frames 0 and 2 ((flat + h) / 2): the ramp bins give sum (h/2)^2 / (3h/2) = 1/6, the flat bin
    # (1/2)^2 / (1/2) = 1/2, chi^2 = 2/3; the bottom blocks are flat in all three frames: 0.
    size = 40
    yy, xx = np.mgrid[0:size, 0:size]
    ramp = np.where(yy < 20, 10 + 2 * xx + 3 * yy, 10).astype(np.uint8)
    flat = np.full((size, size), 10, np.uint8)
    frames = np.stack([flat, ramp, ramp])
    scores = feature_difference.feature_difference_scores(frames, k=1, top_blocks=12)
    assert np.isnan(scores[0]) and np.isnan(scores[2])
    assert scores[1] == pytest.approx(2 / 3)
    # 18 of the 36 blocks (the top three rows) at 2/3, the rest 0: the mean of the 24 largest is 18 * (2/3) / 24
    assert feature_difference.feature_difference_scores(frames, k=1, top_blocks=24)[1] == pytest.approx(0.5)


def test_feature_difference_contrast_clips_negatives():
    # k = 2: C(i) = F(i) - (F(i-2) + F(i+2)) / 2 at frames 4 ... 7, negative values 0
    scores = np.array([NAN, NAN, 0, 0, 0, 0, 2, 0, 0, 0, NAN, NAN])
    expected = np.array([NAN, NAN, NAN, NAN, 0, 0, 2, 0, NAN, NAN, NAN, NAN])
    np.testing.assert_array_equal(feature_difference.feature_difference_contrast(scores, 2), expected)


def test_feature_difference_peaks_on_a_hand_made_contrast():
    # finite values sum 7.5 over 12 frames: mean 0.625, max 3
    contrast = np.array([NAN, NAN, 0, 1, 0, 0.5, 0, 0, 3, 0, 0, 2, 1, 0, NAN, NAN])
    # p = 0.1: T = 0.625 + 0.1 * 2.375 = 0.8625; the peaks 1 (frame 3), 3 (8) and 2 (11) pass, 0.5 (5) does not
    assert feature_difference.threshold_peaks(contrast, 0.1, 1) == [3, 8, 11]
    # peaks at least 4 frames apart: 11 is 3 from the higher 8 and goes
    assert feature_difference.threshold_peaks(contrast, 0.1, 4) == [3, 8]
    # p = 0.5: T = 1.8125
    assert feature_difference.threshold_peaks(contrast, 0.5, 1) == [8, 11]
    # p = 1: T = max, and a peak must be strictly above it
    assert feature_difference.threshold_peaks(contrast, 1.0, 1) == []


@pytest.mark.parametrize("seed, event", [(0, (40, 45)), (1, (50, 57)), (2, (70, 75))])
def test_feature_difference_finds_a_planted_movement(seed, event):
    k = 5  # round(30 / 6): N = 11 frames
    intervals = feature_difference.spot(video(event=event, seed=seed), fps=30)
    assert found_intervals([(onset, offset) for onset, offset, _ in intervals], [event]) == 1
    best = max(intervals, key=lambda interval: interval[2])
    assert best[1] - best[0] == 2 * k and event[0] <= best[0] + k <= event[1]  # [peak - k, peak + k] on the event


def test_feature_difference_spots_nothing_in_a_still_video():
    still = np.repeat(video(frames=1, event=None, noise=0.0), 60, axis=0)
    assert feature_difference.spot(still, fps=30) == []


# --- options ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("module, options, words", [
    (mdmd, {"k": 0}, ["--model-opt k=0", "spotter 'mdmd'", "an integer ≥ 1"]),
    (mdmd, {"flow": "farneback"}, ["--model-opt flow=farneback", "one of rlof, tvl1, dis"]),
    (mdmd, {"threshold": 0.2}, ["has no option 'threshold'", "valid options: expression, k, p, min_length"]),
    (feature_difference, {"p": 1.5}, ["--model-opt p=1.5", "spotter 'feature_difference'", "in [0, 1]"]),
    (feature_difference, {"codes": "riu2"}, ["--model-opt codes=riu2", "one of basic, uniform"]),
])
def test_a_wrong_option_is_one_line_before_any_work(module, options, words):
    with pytest.raises(OptionError) as error:
        module.spot(np.zeros((3, 2, 2), np.uint8), 30, **options)  # too short to spot: the options fail first
    message = str(error.value)
    assert "\n" not in message
    for word in words:
        assert word in message
