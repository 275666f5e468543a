"""The small truths of the model cards and the steps behind them: the test oracle's tie rule, IncepTR's
branch-similarity loss, LBP-TOP's code tables, the EVM step's gain, and a figure reported for a net family
shown once under the name its source gives."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from torch import nn

from mebench.records import FoldRecord, Prediction
from mebench.registry import discover
from mebench.run.selection import oracle_records

REGISTRY = discover()


def test_the_test_oracle_takes_the_earliest_of_epochs_with_equal_best_accuracy():
    # three test samples, classes 0/1; epochs 1 and 3 both get 2 of 3 right, with different predictions
    epochs = [[[0.9, 0.1], [0.9, 0.1], [0.9, 0.1]],  # predicts 0, 0, 0: 1 right
              [[0.9, 0.1], [0.2, 0.8], [0.9, 0.1]],  # predicts 0, 1, 0: 2 right
              [[0.9, 0.1], [0.9, 0.1], [0.9, 0.1]],  # 1 right
              [[0.1, 0.9], [0.2, 0.8], [0.1, 0.9]]]  # predicts 1, 1, 1: 2 right
    ids = ["s/a", "s/b", "s/c"]
    record = FoldRecord(0, "s", 0.0, [Prediction(i, [0.5, 0.5]) for i in ids],
                        extras={"epoch_test_probabilities": epochs})
    chosen = oracle_records({0: record}, {"s/a": 0, "s/b": 1, "s/c": 1})[0]
    assert chosen.selected_epoch == 1
    assert [p.probabilities for p in chosen.predictions] == epochs[1]


# --- IncepTR's similarity loss (the authors' main_contrast.py: 0.1 · mean(1 − cosine similarity)) ---------------


def test_branch_dissimilarity_is_one_minus_the_channel_cosine_averaged_over_positions():
    from mebench_plugins.models.inceptr import branch_dissimilarity

    # one sample, 2 channels, 1×2 positions: orthogonal vectors (cosine 0) at the first, parallel at the second
    global_map = torch.tensor([[[[1.0, 1.0]], [[0.0, 1.0]]]])
    local_map = torch.tensor([[[[0.0, 2.0]], [[1.0, 2.0]]]])
    assert float(branch_dissimilarity(global_map, local_map)) == pytest.approx((1 - 0) / 2 + (1 - 1) / 2)
    # opposite vectors: cosine −1, so 2
    assert float(branch_dissimilarity(torch.ones(1, 3, 1, 1), -torch.ones(1, 3, 1, 1))) == pytest.approx(2.0)


def test_inceptr_adds_the_weighted_branch_dissimilarity_to_its_training_loss():
    from mebench.tasks import SINGLE_LABEL
    from mebench.run.training import training_loss

    spec = REGISTRY.models.get("inceptr")
    assert {o.name: (o.default, o.recorded) for o in spec.options}["similarity_weight"] == (0.1, True)
    torch.manual_seed(0)
    net = spec.build(3, hidden=8, embed_dim=16, fusion_channels=4).eval()
    x, y = torch.rand(2, 3, 28, 28), torch.tensor([0, 2])
    with torch.no_grad():
        global_map, local_map = (m.numpy().astype(np.float64) for m in net.branches(x))
        cosine = (global_map * local_map).sum(axis=1) / (np.linalg.norm(global_map, axis=1)
                                                         * np.linalg.norm(local_map, axis=1))
        expected = float(SINGLE_LABEL.loss(net(x), y)) + 0.1 * float(np.mean(1 - cosine))
        assert float(training_loss(net, x, y)) == pytest.approx(expected, rel=1e-5)
        without = spec.build(3, hidden=8, embed_dim=16, fusion_channels=4, similarity_weight=0.0)
        without.load_state_dict(net.state_dict())
        assert float(training_loss(without.eval(), x, y)) == pytest.approx(float(SINGLE_LABEL.loss(net(x), y)), rel=1e-6)


class ConstantTerm(nn.Module):
    """Zero logits for 3 classes (cross-entropy ln 3) and a training term of 0.5."""

    def __init__(self, num_classes=3, input_spec=None):
        super().__init__()
        self.weight = nn.Parameter(torch.zeros(1))

    def forward(self, x):
        return self.weight * x.flatten(1)[:, :3]

    def forward_with_auxiliary_loss(self, x):
        return self.forward(x), 0.5 + 0 * self.weight.sum()


def test_a_fold_trains_on_the_task_loss_plus_the_models_own_term_and_is_not_fold_batched():
    from mebench.run.fold_batching import fold_batching_obstacle
    from mebench.folds import Fold
    from mebench.run.training import TrainSettings, train_fold

    x, y = torch.rand(6, 3, 2, 2), torch.tensor([0, 1, 2, 0, 1, 2])
    fold = Fold(0, "a", np.arange(4), np.arange(4, 6))
    losses = []
    train_fold(ConstantTerm, x, y, fold, TrainSettings(epochs=1, batch_size=4, lr=0.0),
               on_epoch=lambda epoch, loss: losses.append(loss))
    assert losses == [pytest.approx(math.log(3) + 0.5)]
    assert "own term" in fold_batching_obstacle(ConstantTerm, x)


# --- EVM: the gain MIT's code applies for the same α -------------------------------------------------------------


def test_evm_temporal_filter_keeps_half_an_in_band_component_as_mits_one_sided_mask_does():
    from mebench_plugins.preprocessors.sequences import ideal_bandpass

    # one pixel over 8 frames: 3 + cos(2π·0.25·t). The DFT puts the cosine in bins 2 and 6 (0.25 and 0.75 cycles
    # per frame); MIT's mask (Freq > wl & Freq < wh over k/T, k = 0 … T−1) keeps bin 2 only, so the real part of
    # the inverse is cos(2π·0.25·t) / 2, and the constant (bin 0) goes.
    t = np.arange(8)
    pixel = (3 + np.cos(2 * np.pi * 0.25 * t)).reshape(8, 1, 1)
    filtered = ideal_bandpass(pixel, 0.1, 0.4).ravel()
    np.testing.assert_allclose(filtered, [0.5, 0, -0.5, 0, 0.5, 0, -0.5, 0], atol=1e-6)
    # the ends of the band are excluded, as MIT's strict inequalities
    np.testing.assert_allclose(ideal_bandpass(pixel, 0.25, 0.4).ravel(), 0.0, atol=1e-6)
    np.testing.assert_allclose(ideal_bandpass(pixel, 0.1, 0.25).ravel(), 0.0, atol=1e-6)
    # two-sided: bins 2 and 6 kept, the cosine whole (twice MIT's gain for the same α)
    np.testing.assert_allclose(ideal_bandpass(pixel, 0.1, 0.4, "two-sided").ravel(), np.cos(2 * np.pi * 0.25 * t),
                               atol=1e-6)


def test_the_evm_step_magnifies_with_mits_filter_unless_told_otherwise():
    from mebench_plugins.preprocessors.sequences import EulerianMagnification, magnify

    xx = np.mgrid[0:32, 0:32][1].astype(np.float32)
    frames = np.stack([128 + 30 * np.sin(xx / 3.0 + 0.4 * np.sin(2 * np.pi * 0.25 * t)) for t in range(8)])
    frames = frames.astype(np.uint8)

    def step(**options):
        return EulerianMagnification(alpha=8.0, levels=4, **options)({"frames": frames})["frames"]

    assert np.array_equal(step(), magnify(frames, 8.0, 0.05, 0.4, 4, 16.0, "mit"))
    assert np.array_equal(step(temporal_filter="two-sided"), magnify(frames, 8.0, 0.05, 0.4, 4, 16.0, "two-sided"))
    # what each adds to the frames: the two-sided filter twice what MIT's adds (up to the rounding to 8 bits)
    mit, two_sided = (step(**options).astype(float) - frames for options in ({}, {"temporal_filter": "two-sided"}))
    assert np.abs(mit).max() >= 3 and np.abs(two_sided - 2 * mit).max() <= 1.5


# --- LBP-TOP: the basic codes (our choice) or uniform-2 (MEB's) ---------------------------------------------------


def test_the_uniform_2_table_gives_each_code_with_at_most_two_transitions_a_bin_and_the_rest_one():
    from mebench_plugins.preprocessors.features import code_bins, uniform_code_table

    # P = 4: 0101 (5) and 1010 (10) have four circular 0/1 transitions, every other code at most two
    assert uniform_code_table(4).tolist() == [0, 1, 2, 3, 4, 14, 5, 6, 7, 8, 14, 9, 10, 11, 12, 13]
    assert (code_bins(4, "basic"), code_bins(4, "uniform"), code_bins(8, "uniform")) == (16, 15, 59)


def test_uniform_lbp_top_codes_group_pixels_as_scikit_images_nri_uniform_does():
    from skimage.feature import local_binary_pattern

    from mebench_plugins.preprocessors.features import lbp_top_codes, uniform_code_table

    volume = np.random.default_rng(0).integers(0, 256, (9, 14, 14)).astype(np.uint8)
    basic = lbp_top_codes(volume, 4, 1, 1, 4)["xy"][0]  # the XY plane of the one centre frame (t = 4)
    assert np.array_equal(basic, local_binary_pattern(volume[4], 4, 1, method="default")[1:-1, 1:-1])
    ours = uniform_code_table(4)[basic]
    theirs = local_binary_pattern(volume[4], 4, 1, method="nri_uniform")[1:-1, 1:-1]
    pairs = set(zip(ours.ravel().tolist(), theirs.ravel().tolist()))
    # the same partition of the pixels: each of our bins is one of theirs and each of theirs one of ours
    assert len(pairs) == len({a for a, _ in pairs}) == len({b for _, b in pairs}) >= 10


def test_lbp_top_uniform_histograms_merge_the_non_uniform_codes_and_basic_keeps_its_cache_key():
    from mebench_plugins.preprocessors.features import LbpTop, lbp_top_features, lbp_top_length

    volume = np.random.default_rng(1).integers(0, 256, (10, 20, 20)).astype(np.uint8)
    basic = lbp_top_features(volume, 4, 1, 1, 4, blocks=2).reshape(2 * 2 * 3, 16)
    uniform = lbp_top_features(volume, 4, 1, 1, 4, blocks=2, codes="uniform").reshape(2 * 2 * 3, 15)
    merged = np.concatenate([np.delete(basic, [5, 10], axis=1), basic[:, [5, 10]].sum(axis=1, keepdims=True)], axis=1)
    np.testing.assert_allclose(uniform, merged, atol=1e-6)
    assert lbp_top_length(4, 5, "uniform") == 5 * 5 * 3 * 15
    assert LbpTop().config == {"points": 4, "radius_x": 1.0, "radius_y": 1.0, "radius_t": 4.0, "blocks": 5}
    assert LbpTop(codes="uniform").config["codes"] == "uniform"
    item = LbpTop(points=4, blocks=2, codes="uniform")({"frames": volume})
    np.testing.assert_allclose(item["image"].ravel(), uniform.ravel())


# --- one figure for a family whose member the source does not name ----------------------------------------------

RCN = ("rcn-a", "rcn-s", "rcn-w", "rcn-p", "rcn-c", "rcn-f")


def test_htnets_rcn_row_is_listed_once_as_rcn_variant_not_stated():
    from mebench.analysis.leaderboard import reported_figures
    from mebench.run.model_card import model_facts, render_card

    specs = [REGISTRY.models.get(name) for name in RCN]
    ((name, figures),) = reported_figures(specs)
    assert name == "RCN (variant not stated)" and (figures.uf1, figures.uar) == (0.7432, 0.7190)
    assert [n for n, _ in reported_figures(specs + [REGISTRY.models.get("htnet")])] == [name, "htnet"]
    assert "  - RCN (variant not stated) — Wang et al. 2024" in render_card(model_facts(specs[0]))


def test_models_document_shows_the_rcn_variants_in_one_section_with_each_reference_count(monkeypatch):
    from mebench.run import model_card

    specs = [REGISTRY.models.get(name) for name in RCN]
    facts = [model_card.model_facts(spec) for spec in specs]
    monkeypatch.setattr(model_card, "all_model_facts", lambda registry: facts)
    document = model_card.models_document(REGISTRY)
    assert document.count("row 'RCN'") == 1 and document.count("\n## ") == 1
    assert "- RCN (variant not stated) — Wang et al. 2024" in document
    header = next(line for line in document.splitlines() if line.startswith("| model |"))
    assert [c.strip() for c in header.split("|")[1:-1]] == ["model", "description", "params (ours)",
                                                             "params (reference)", "MMACs"]
    for spec in specs:
        row = next(line for line in document.splitlines() if line.startswith(f"| {spec.name} |"))
        assert row.split("|")[4].strip() == f"{spec.card.reference_parameters:,}"
    assert "| parameters (reference) |" not in document
