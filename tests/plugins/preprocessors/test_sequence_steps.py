"""The preprocessing steps of issue 22 on known answers: grey frame sequences, TIM, LBP-TOP (against
scikit-image's LBP on each plane), Bi-WOOF, Eulerian magnification, HTNet's landmark patches and
Off-TANet's strain variant; and every step's declared options reach its config (the cache key)."""

import numpy as np
import pytest

from mebench.run.preprocessing import build_chain
from mebench.registry import discover
from mebench_plugins.datasets.synthetic import load_synthetic
from mebench_plugins.preprocessors.features import (biwoof_bounds, biwoof_features, lbp_top_codes, lbp_top_features,
                                                    lbp_top_length)
from mebench_plugins.preprocessors.landmarks import HTNET_FALLBACK_LANDMARKS, htnet_patch_image, patch_centres
from mebench_plugins.preprocessors.optical_flow import OpticalStrain, offtanet_strain
from mebench_plugins.preprocessors.sequences import level_gains, magnify, temporal_interpolation, tim_weights

REGISTRY = discover()
NEW_STEPS = ["grey_sequence", "tim", "evm", "lbp_top", "bi_woof", "htnet_patches"]


def sample(size=48):
    return load_synthetic(subjects=2, clips_per_subject=1, size=size)[0]


def run_chain(chain, item=None):
    item = {"sample": sample()} if item is None else item
    for step in build_chain(REGISTRY, chain, partial=True):
        item = step(item)
    return item


@pytest.mark.parametrize("name", NEW_STEPS)
def test_every_new_steps_declared_options_reach_its_config(name):
    spec = REGISTRY.preprocessors.get(name)
    step = spec.factory(**{o.name: o.default for o in spec.options})
    left_out = {"lbp_top": {"codes"}}.get(name, set())  # at its default out of the config: cache keys stay
    assert set(step.config) == {o.name for o in spec.options} - left_out
    assert step.config == {o.name: o.default for o in spec.options if o.name not in left_out}


def test_optical_strains_default_form_leaves_the_config_and_so_every_existing_cache_key_as_it_was():
    assert OpticalStrain().config == {} and OpticalStrain("offtanet").config == {"form": "offtanet"}
    (step,) = build_chain(REGISTRY, [("optical_strain", {"form": "offtanet"})], partial=True)
    assert step.config == {"form": "offtanet"}


def test_offtanet_strain_is_its_sobel_formula():
    yy, xx = np.mgrid[0:20, 0:20].astype(np.float32)
    a, b, c, d = 0.5, -0.25, 0.125, 2.0
    flow = np.stack([a * xx + b * yy, c * xx + d * yy], axis=-1)
    inside = offtanet_strain(flow)[2:-2, 2:-2]  # a 3×3 Sobel of a ramp is 8× its slope
    assert np.allclose(inside, 8 * np.sqrt(a**2 + b**2 + 0.5 * (c + b) ** 2))


def test_grey_sequence_is_the_span_from_onset_to_offset_at_one_size():
    s = sample()
    item = run_chain([("grey_sequence", {"size": 32, "face_crop": "never"})], {"sample": s})
    assert item["frame_indices"] == list(range(s.onset, s.offset + 1))
    assert item["frames"].shape == (s.offset - s.onset + 1, 32, 32) and item["frames"].dtype == np.uint8
    native = run_chain([("grey_sequence", {"size": 0})], {"sample": s})["frames"]
    assert np.array_equal(native[0], s.frames.load(s.onset)) and not run_chain(
        [("grey_sequence", {"size": 0})], {"sample": s})["face_cropped"]  # synthetic frames are already cropped


# --- TIM -------------------------------------------------------------------------------------------


def literal_tim(frames: np.ndarray, n_out: int) -> np.ndarray:
    """TIM step by step as TrainPGM.m / synPGM.m (and MEB's tim()) compute it, without rounding."""
    n = len(frames)
    X = frames.reshape(n, -1).T.astype(np.float64)  # D × N
    mu = X.mean(axis=1, keepdims=True)
    U, S, Vt = np.linalg.svd(X - mu, full_matrices=False)
    U, S, Vt = U[:, : n - 1], S[: n - 1], Vt[: n - 1]
    Q = np.diag(S) @ Vt  # (N−1) × N
    G = np.diag(np.ones(n - 1), 1) + np.diag(np.ones(n - 1), -1)
    L = np.diag(G.sum(axis=1)) - G
    _, vectors = np.linalg.eigh(L)
    V0 = vectors[:, 1:]  # drop the constant eigenvector
    W = np.linalg.solve(Q @ Q.T, Q @ V0)
    k = np.arange(1, n)
    m = Q[:, 0] @ W / np.sin(np.pi * k / n + np.pi * (n - k) / (2 * n))
    positions = np.arange(n_out) / (n_out - 1) * (1 - 1 / n) + 1 / n
    out = []
    for t in positions:
        v = m * np.sin(np.pi * k * t + np.pi * (n - k) / (2 * n))
        a = np.linalg.solve(W.T, v)
        out.append(U @ a + mu[:, 0])
    return np.stack(out).reshape(n_out, *frames.shape[1:])


@pytest.mark.parametrize("n_in, n_out", [(7, 10), (12, 10), (5, 5), (2, 4)])
def test_tim_is_the_temporal_interpolation_model(n_in, n_out):
    rng = np.random.default_rng(n_in)
    frames = rng.uniform(0, 255, (n_in, 6, 5))
    ours = np.tensordot(tim_weights(n_in, n_out), frames, axes=1)
    assert np.allclose(ours, literal_tim(frames, n_out), atol=1e-6)


def test_tim_keeps_the_input_frames_at_their_positions_and_a_still_sequence_still():
    rng = np.random.default_rng(0)
    frames = rng.integers(0, 256, (9, 8, 8)).astype(np.uint8)
    assert np.array_equal(temporal_interpolation(frames, 9), frames)
    out = temporal_interpolation(frames, 10)
    assert out.shape == (10, 8, 8) and np.array_equal(out[0], frames[0]) and np.array_equal(out[-1], frames[-1])
    still = np.full((6, 4, 4), 77, np.uint8)
    assert np.array_equal(temporal_interpolation(still, 10), np.full((10, 4, 4), 77))  # repeated frames: defined


# --- LBP-TOP ---------------------------------------------------------------------------------------


def test_lbp_top_codes_are_scikit_images_lbp_on_each_plane():
    skimage_feature = pytest.importorskip("skimage.feature")
    lbp = lambda image, r: skimage_feature.local_binary_pattern(image, 4, r, method="default").astype(int)  # noqa: E731
    rng = np.random.default_rng(1)
    volume = rng.integers(0, 256, (9, 11, 12)).astype(np.uint8)
    r = 2
    codes = lbp_top_codes(volume, 4, r, r, r)  # equal radii: circles, which scikit-image draws
    inner = (slice(r, -r), slice(r, -r))
    for t in range(r, 9 - r):  # XY: the frame
        assert np.array_equal(codes["xy"][t - r], lbp(volume[t], r)[inner])
    for y in range(r, 11 - r):  # XT: rows are time, reversed (scikit-image's second neighbour is the row above)
        assert np.array_equal(codes["xt"][:, y - r], lbp(volume[::-1, y, :], r)[::-1][inner])
    for x in range(r, 12 - r):  # YT: rows y, columns t
        assert np.array_equal(codes["yt"][:, :, x - r], lbp(volume[:, :, x].T, r)[inner].T)


def test_lbp_top_on_a_brightening_still_face_has_one_code_per_plane():
    volume = np.broadcast_to(np.arange(10.0)[:, None, None], (10, 20, 20))  # frame t is all t
    codes = lbp_top_codes(volume, 4, 1, 1, 4)
    # XY: all four neighbours equal → 1111; XT: (x+1,t) (x,t+4) (x−1,t) set, (x,t−4) darker → 0111;
    # YT: (y,t+4) (y−1,t) (y+1,t) set, (y,t−4) darker → 1011
    assert {p: np.unique(c).tolist() for p, c in codes.items()} == {"xy": [15], "xt": [7], "yt": [11]}
    assert codes["xy"].shape == (2, 18, 18)  # only frames 4 and 5 have both t ± 4
    features = lbp_top_features(volume, 4, 1, 1, 4, blocks=5).reshape(25, 3, 16)
    assert len(lbp_top_features(volume)) == lbp_top_length() == 1_200
    assert np.allclose(features.sum(axis=2), 1.0)
    assert (features[:, 0, 15] == 1).all() and (features[:, 1, 7] == 1).all() and (features[:, 2, 11] == 1).all()


def test_lbp_top_counts_each_centre_pixel_in_the_block_it_lies_in():
    rng = np.random.default_rng(3)
    volume = rng.integers(0, 256, (5, 13, 11)).astype(np.float64)
    codes = lbp_top_codes(volume, 4, 1, 1, 1)
    features = lbp_top_features(volume, 4, 1, 1, 1, blocks=3).reshape(3, 3, 3, 16)
    row_edges, col_edges = [0, 4, 9, 13], [0, 4, 7, 11]  # 13 and 11 pixels split as evenly as integers allow
    for i in range(3):
        for j in range(3):
            for p, plane in enumerate(("xy", "xt", "yt")):
                # centre pixel (y, x) sits at codes[..., y − 1, x − 1]
                inside = codes[plane][:, max(row_edges[i], 1) - 1:min(row_edges[i + 1], 12) - 1,
                                      max(col_edges[j], 1) - 1:min(col_edges[j + 1], 10) - 1]
                expected = np.bincount(inside.ravel(), minlength=16) / inside.size
                assert np.allclose(features[i, j, p], expected)
    with pytest.raises(ValueError, match="needs more than 8 frames"):
        lbp_top_codes(np.zeros((8, 5, 5)), 4, 1, 1, 4)


# --- Bi-WOOF ---------------------------------------------------------------------------------------


def test_biwoof_blocks_are_the_authors_overlapping_bounds():
    # biwoof.m, 1-based inclusive: rows 1…h+1, (k−1)h…kh+1, 4h…H with h = ⌊H/5⌋
    h = 128 // 5
    matlab = [(1, h + 1)] + [((k - 1) * h, k * h + 1) for k in (2, 3, 4)] + [(4 * h, 128)]
    assert biwoof_bounds(128, 5) == [(first - 1, last) for first, last in matlab]
    assert biwoof_bounds(128, 5)[:2] == [(0, 26), (24, 51)]


def test_biwoof_of_a_uniform_flow_votes_one_bin_weighted_by_each_blocks_strain():
    flow = np.zeros((50, 50, 2), np.float32)
    flow[..., 0] = 2.0  # rightward: orientation 0°, the fifth of eight bins over [−180°, 180°]
    strain = np.ones((50, 50), np.float32)
    features = biwoof_features(flow, strain).reshape(25, 8)
    assert (features[:, 4] > 0).all() and np.count_nonzero(features) == 25
    areas = np.array([(b - a) * (d - c) for a, b in biwoof_bounds(50, 5) for c, d in biwoof_bounds(50, 5)], float)
    assert np.allclose(features[:, 4], areas / np.linalg.norm(areas))  # global weight: the block's summed strain
    flow[..., 0] = -1.0  # 180°: counted in the last bin (biwoof.m's edges would drop it)
    assert biwoof_features(flow, strain).reshape(25, 8)[:, 7].all()


# --- Eulerian magnification ------------------------------------------------------------------------


def test_evm_without_amplification_or_motion_returns_the_frames():
    rng = np.random.default_rng(2)
    frames = rng.integers(0, 256, (8, 64, 64)).astype(np.uint8)
    assert np.array_equal(magnify(frames, 0.0, 0.05, 0.4, 5, 16.0), frames)  # the pyramid collapses exactly
    still = np.repeat(frames[:1], 8, axis=0)
    assert np.array_equal(magnify(still, 20.0, 0.05, 0.4, 5, 16.0), still)  # nothing in the pass band


def test_evm_amplifies_motion_in_the_pass_band_and_not_outside_it():
    yy, xx = np.mgrid[0:64, 0:64].astype(np.float32)
    base = 128 + 40 * np.sin(xx / 4.0) * np.cos(yy / 5.0)
    frames = np.stack([base + 3.0 * np.sin(2 * np.pi * 0.25 * t) * np.sin(xx / 4.0) for t in range(16)])
    frames = np.clip(frames, 0, 255).astype(np.uint8)
    swing = lambda v: float(v.astype(float).std(axis=0).mean())  # noqa: E731  (temporal variation)
    assert swing(magnify(frames, 10.0, 0.2, 0.3, 4, 16.0)) > 3 * swing(frames)  # 0.25 cycles per frame: in the band
    assert swing(magnify(frames, 10.0, 0.4, 0.5, 4, 16.0)) < 1.5 * swing(frames)  # outside it


def test_evm_level_gains_follow_the_wavelength_cap():
    delta = 16.0 / 8 / (1 + 10.0)  # λ_c / 8 / (1 + α)
    wavelength = lambda level: np.hypot(128, 128) / 3 / 2 ** (4 - level)  # noqa: E731  (diagonal / 3 at the coarsest)
    gains = level_gains((128, 128), 5, 10.0, 16.0)
    assert gains[0] == 0.0 and gains[4] == 0.0  # the finest and the coarsest level are left alone
    assert gains[1] == pytest.approx(2 * (wavelength(1) / delta / 8 - 1)) and gains[1] < 10.0
    assert gains[2:4] == [10.0, 10.0]  # long enough wavelengths take the full α


# --- HTNet's patches -------------------------------------------------------------------------------


def test_htnet_patches_clamp_truncate_and_index_x_as_rows_as_the_authors_do():
    assert patch_centres(HTNET_FALLBACK_LANDMARKS, 28, 14, swap_xy=True) == [(9, 11), (21, 10), (15, 17), (10, 21),
                                                                             (20, 21)]
    assert patch_centres(HTNET_FALLBACK_LANDMARKS, 28, 14, swap_xy=False)[0] == (11, 9)
    rows, cols = np.mgrid[0:28, 0:28]
    image = np.stack([rows, cols, rows * 0], axis=-1).astype(np.float32)  # each pixel holds its (row, column)
    out = htnet_patch_image(image, HTNET_FALLBACK_LANDMARKS, 28, swap_xy=True)
    assert out.shape == (28, 28, 3)
    for (top, left), (r, c) in zip([(0, 0), (0, 14), (14, 0), (14, 14)], [(9, 11), (21, 10), (10, 21), (20, 21)]):
        patch = out[top:top + 14, left:left + 14]
        assert patch[0, 0, 0] == r - 7 and patch[0, 0, 1] == c - 7 and patch[13, 13, 0] == r + 6


def test_htnet_patch_step_resizes_the_flow_image_and_records_its_options():
    item = run_chain([("apex_frame", {}), ("tvl1_flow", {"size": 0}), "optical_strain",
                      ("flow_stack", {"normalise": "minmax"}), ("htnet_patches", {"swap_xy": False})])
    assert item["image"].shape == (28, 28, 3)
    (step,) = build_chain(REGISTRY, [("htnet_patches", {"swap_xy": False})], partial=True)
    assert step.config == {"landmarks": "fixed", "swap_xy": False, "grid": 28}


def test_the_lbp_top_chain_gives_the_feature_vector_the_model_declares():
    from mebench.run.preprocessing import process_sample

    spec = REGISTRY.models.get("lbptop")
    vector = process_sample(sample(), build_chain(REGISTRY, spec.preprocessing), spec.input_spec)
    assert vector.shape == (1_200, 1, 1) and np.allclose(vector.reshape(25, 3, 16).sum(axis=2), 1.0, atol=1e-5)
    spec = REGISTRY.models.get("biwoof")
    vector = process_sample(sample(), build_chain(REGISTRY, spec.preprocessing), spec.input_spec)
    assert vector.shape == (200, 1, 1) and np.linalg.norm(vector) == pytest.approx(1.0, abs=1e-5)


def test_evm_and_tim_chain_into_lbp_top():
    item = run_chain([("grey_sequence", {"size": 48}), ("evm", {"alpha": 5.0}), ("tim", {"frames": 10}),
                      ("lbp_top", {})])
    assert item["frames"].shape == (10, 48, 48) and item["image"].shape == (1, 1, 1_200)
