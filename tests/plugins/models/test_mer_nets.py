"""The nets of issue 22 — RCN-A/-S/-W/-P/-C/-F, SSSNet, HTNet, IncepTR, Off-TANet — pinned to their
authors' definitions: parameter counts (counted by building the authors' code), layer order, the
quirks each card names, and a forward/backward pass on the declared input. The big nets (HTNet
139.6 M, IncepTR 109.3 M parameters) are counted on the meta device; their training pass is slow."""

import inspect

import pytest
import torch
from torch import nn

from mebench.data import Fidelity, InputSpec
from mebench.run.model_card import model_facts, render_card
from mebench.registry import discover
from mebench_plugins.models.htnet import from_blocks, to_blocks
from mebench_plugins.models.offtanet import position_code
from mebench_plugins.models.rcn import VARIANTS, class_activation_map

REGISTRY = discover()
NETS = ["rcn-a", "rcn-s", "rcn-w", "rcn-p", "rcn-c", "rcn-f", "sssnet", "htnet", "inceptr", "offtanet"]
BIG = {"htnet", "inceptr"}


def count(model):
    return sum(p.numel() for p in model.parameters())


def on_meta(name, **options):
    with torch.device("meta"):
        return REGISTRY.models.get(name).build(3, **options)


def conv(cin, cout, k, bias=True):
    return cin * cout * k * k + (cout if bias else 0)


def bn(c):
    return 2 * c


def types(module):
    return [type(m).__name__ for m in module]


# --- parameter counts, as the authors' code counts them (3 classes) ----------------------------------


@pytest.mark.parametrize("name, expected", [
    ("rcn-a", 51_139), ("rcn-s", 88_195), ("rcn-w", 48_067), ("rcn-p", 126_467), ("rcn-c", 126_467),
    ("rcn-f", 48_067), ("sssnet", 1_349_251), ("htnet", 139_582_982), ("inceptr", 109_329_039), ("offtanet", 59_403),
])
def test_parameter_count_is_the_authors_definitions(name, expected):
    assert count(on_meta(name)) == expected
    assert REGISTRY.models.get(name).card.reference_parameters == expected


def test_rcn_counts_add_up_from_the_authors_modules():
    f, p, k = 64, 5, 3
    stem5 = conv(3, f, 5) + bn(f)
    rcl = conv(f, f, 1) + bn(f) + conv(f, f, 3) + bn(f)  # 41,344: one 3×3 conv used twice
    dense = conv(f, f, 1) + bn(f) + 2 * (conv(f, f, 3) + bn(f))  # 78,400 with the unused conv3
    classifier = p * p * f * k + k
    wide = (conv(3, f // 2, 3) + bn(f // 2)) + 2 * (conv(3, f // 4, 3) + bn(f // 4))  # 960 + 480 + 480
    hybrid = 2 * (conv(3, f // 2, 3) + bn(f // 2))
    embedding = conv(f, f, 1) + bn(f) + conv(f, f, 3) + bn(f)
    assert count(on_meta("rcn-a")) == stem5 + rcl + classifier
    assert count(on_meta("rcn-s")) == stem5 + dense + classifier
    assert count(on_meta("rcn-w")) == wide + rcl + classifier
    assert count(on_meta("rcn-p")) == hybrid + dense + rcl + classifier
    assert count(on_meta("rcn-c")) == wide + dense + embedding + classifier
    assert count(on_meta("rcn-f")) == wide + embedding + classifier
    # the README's command (--featuremap 32 --poolsize 5) and the argparse defaults (64 / 7)
    assert count(on_meta("rcn-a", featuremaps=32)) == 15_331
    assert count(on_meta("rcn-p", pool_size=7)) == 131_075


@pytest.mark.parametrize("name, reference, used", [v[0:1] + v[3:5] for v in VARIANTS])
def test_rcn_modules_built_but_never_called_get_no_gradient(name, reference, used):
    torch.manual_seed(0)
    net = REGISTRY.models.get(name).build(3)
    net.train()(torch.randn(2, 3, 60, 60)).sum().backward()
    assert count(net) == reference
    assert sum(p.numel() for p in net.parameters() if p.grad is not None) == used


def test_rcn_f_reads_its_second_stem_twice_as_the_authors_forward_does():
    net = REGISTRY.models.get("rcn-f").build(3).eval()
    calls = []
    for i, stream in enumerate(net.streams):
        stream.register_forward_hook(lambda m, args, out, i=i: calls.append(i))
    net(torch.randn(1, 3, 60, 60))
    assert calls == [0, 1, 1]


def test_rcn_layer_order_follows_menets():
    a = REGISTRY.models.get("rcn-a").build(3)
    assert types(a.conv1) == ["Conv2d", "BatchNorm2d", "ReLU", "MaxPool2d", "Dropout"]
    assert a.conv1[0].kernel_size == (5, 5) and a.conv1[0].padding == (0, 0)
    block = a.rcls[0]
    assert types(block.ffconv) == types(block.rrconv) == ["Conv2d", "BatchNorm2d", "ReLU"]
    assert types(block.downsample) == ["MaxPool2d", "Dropout"]
    w = REGISTRY.models.get("rcn-w").build(3)
    for stream, (width, dilation) in zip(w.streams, ((32, 1), (16, 2), (16, 3))):
        assert types(stream) == ["Conv2d", "ReLU", "BatchNorm2d", "Dropout"]  # ReLU before BN in the stems
        assert (stream[0].out_channels, stream[0].stride, stream[0].dilation) == (width, (3, 3), (dilation, dilation))
    p = REGISTRY.models.get("rcn-p").build(3)
    assert all(types(s) == ["Conv2d", "ReLU", "BatchNorm2d", "MaxPool2d", "Dropout"] for s in p.streams)
    assert [s[0].dilation for s in p.streams] == [(1, 1), (3, 3)] and p.streams[0][3].kernel_size == 3
    # the authors' initialisation: fan-out Kaiming convs, N(0, 0.01) classifier with zero bias
    assert a.classifier.bias.abs().max() == 0 and a.classifier.weight.std() < 0.02


def test_the_attention_unit_is_the_class_activation_map_of_the_live_classifier_weights():
    torch.manual_seed(0)
    features, weight = torch.randn(2, 4, 5, 5), torch.randn(3, 4 * 5 * 5, requires_grad=True)
    out = class_activation_map(features, weight)
    expected = []
    for k in range(3):  # the authors' per-class loop
        cam = (weight[k].reshape(4, 5, 5) * features).mean(dim=1, keepdim=True)
        cam = cam - cam.amin(dim=(2, 3), keepdim=True)
        expected.append(cam / cam.amax(dim=(2, 3), keepdim=True))
    assert torch.allclose(out, torch.cat(expected, dim=1).mean(dim=1, keepdim=True), atol=1e-6)
    assert out.shape == (2, 1, 5, 5) and out.min() >= 0 and out.max() <= 1
    out.sum().backward()
    assert weight.grad is not None and weight.grad.abs().sum() > 0  # no detach: gradients reach the classifier
    # the first-layer variant averages the weights over their channels: any input channel count
    template = class_activation_map(torch.randn(2, 3, 5, 5), weight, spatial_template=True)
    assert template.shape == (2, 1, 5, 5)
    assert torch.equal(class_activation_map(torch.ones(1, 4, 5, 5), torch.ones(3, 100)), torch.zeros(1, 1, 5, 5))


def test_sssnet_follows_mebs_definition():
    net = REGISTRY.models.get("sssnet").build(3)
    assert types(net.features) == ["Conv2d", "ReLU", "MaxPool2d", "BatchNorm2d", "Dropout2d"] * 2
    assert [net.features[i].kernel_size for i in (0, 5)] == [(5, 5), (3, 3)]
    assert [net.features[i].kernel_size for i in (2, 7)] == [3, 2]
    assert net.classifier[1].in_features == 64 * 9 * 9
    assert types(net.classifier) == ["Flatten", "Linear", "ReLU", "Dropout", "Linear"]
    with pytest.raises(ValueError, match="64–68"):
        REGISTRY.models.get("sssnet").factory(3, InputSpec(3, 60, 60))


def test_htnet_levels_widths_heads_and_the_one_token_blocks():
    net = on_meta("htnet")
    assert net.to_patch_embedding.in_channels == 7 * 7 * 3 and net.to_patch_embedding.out_channels == 256
    widths = [t.layers[0][0].fn.to_qkv.in_channels for t, _ in net.layers]
    heads = [t.layers[0][0].fn.heads for t, _ in net.layers]
    depths = [len(t.layers) for t, _ in net.layers]
    inner = [t.layers[0][0].fn.to_qkv.out_channels // 3 for t, _ in net.layers]
    assert (widths, heads, depths, inner) == ([256, 512, 1024], [3, 6, 12], [2, 2, 10], [255, 510, 1020])
    assert [t.pos_emb.numel() for t, _ in net.layers] == [1, 1, 1]  # one position per block
    aggregate = net.layers[0][1]
    assert types(aggregate) == ["Conv2d", "ChannelLayerNorm", "MaxPool2d"]
    assert (aggregate[2].kernel_size, aggregate[2].stride, aggregate[2].padding) == (3, 2, 1)
    assert isinstance(net.layers[2][1], nn.Identity)
    # every block the attention runs on is 1×1 at this configuration: 4×4 tokens split 4×4, 2×2 split 2×2, 1×1
    seen = []
    real = REGISTRY.models.get("htnet").factory(3, InputSpec(3, 28, 28), dim=8, heads=1, block_repeats="1,1,1")
    for transformer, _ in real.layers:
        transformer.register_forward_pre_hook(lambda m, args: seen.append(tuple(args[0].shape[2:])))
    real.eval()(torch.randn(2, 3, 28, 28))
    assert seen == [(1, 1), (1, 1), (1, 1)]


def test_htnet_blocks_and_patches_are_einops_rearrangements():
    x = torch.arange(2 * 3 * 4 * 4).reshape(2, 3, 4, 4)
    blocks = to_blocks(x, 2)  # 'b c (b1 h) (b2 w) -> (b b1 b2) c h w'
    assert blocks.shape == (8, 3, 2, 2)
    assert torch.equal(blocks[1], x[0, :, 0:2, 2:4]) and torch.equal(blocks[4 + 2], x[1, :, 2:4, 0:2])
    assert torch.equal(from_blocks(blocks, 2), x)
    net = REGISTRY.models.get("htnet").factory(3, InputSpec(3, 28, 28), dim=4, heads=1, block_repeats="1,1,1")
    image = torch.randn(1, 3, 28, 28)
    seen = []
    net.to_patch_embedding.register_forward_pre_hook(lambda m, args: seen.append(args[0]))
    net.eval()(image)
    # 'b c (h p1) (w p2) -> b (p1 p2 c) h w': channel (p1·7 + p2)·3 + c of token (h, w)
    assert torch.equal(seen[0][0, (2 * 7 + 5) * 3 + 1, 3, 0], image[0, 1, 3 * 7 + 2, 0 * 7 + 5])


@pytest.mark.parametrize("depth", [3, 4, 6])
def test_inceptr_stochastic_depth_rates_are_the_authors_torch_linspace(depth):
    """timm-style rates 0 … drop_path as the authors take them ([x.item() for x in torch.linspace(…)]);
    numpy's float32 linspace rounds differently at depths 4 and 6."""
    from mebench_plugins.models.inceptr import GlobalBranch

    branch = GlobalBranch(3, 4, dim=8, depth=depth, heads=4, drop_path=0.3)
    rates = [getattr(block.drop_path, "p", 0.0) for block in branch.blocks]
    assert rates == [x.item() for x in torch.linspace(0, 0.3, depth)]


def test_inceptr_branches_and_the_dense_layer_that_holds_most_of_it():
    net = on_meta("inceptr")
    assert net.fc[1].in_features == 14 * 14 * 512 and count(net.fc[1]) == 102_761_472
    assert types(net.fc) == ["Flatten", "Linear", "ReLU", "Dropout", "Linear"]
    assert types(net.incep_sca) == ["Inception", "Inception", "MaxPool2d", "CBAM"]
    first = net.incep_sca[0].branches
    assert types(first[1]) == ["Conv2d", "BatchNorm2d", "ReLU"] * 2 and first[1][3].kernel_size == (3, 3)
    assert first[2][3].kernel_size == (5, 5) and types(first[3])[0] == "MaxPool2d"
    vit = net.vit_pos
    assert (vit.pos_embed.shape, len(vit.blocks), vit.blocks[0].attn.heads) == ((1, 196, 512), 3, 4)
    assert vit.blocks[0].mlp[0].out_features == 1024 and vit.blocks[0].norm1.eps == 1e-6
    assert [getattr(b.drop_path, "p", 0.0) for b in vit.blocks] == pytest.approx([0.0, 0.15, 0.3])
    unused = count(vit.head) + count(vit.to_mask) + vit.cls_token.numel()
    assert unused == 2_565 + 513 + 512


@pytest.mark.parametrize("mode", ["token", "head"])
def test_inceptr_msad_zeroes_a_token_as_the_authors_code_or_a_head_as_the_paper(mode):
    from mebench_plugins.models.inceptr import HeadDrop

    drop = HeadDrop(1.0, mode).train()
    qkv = torch.ones(3, 196, 3, 4, 128)
    out = drop(qkv)
    for sample in out:
        zeroed = (sample == 0).all(dim=-1)  # (tokens, 3, heads)
        if mode == "token":  # one of the first four tokens loses q, k and v in every head
            tokens = zeroed.all(dim=(1, 2)).nonzero().flatten().tolist()
            assert len(tokens) == 1 and tokens[0] < 4 and zeroed.sum() == 3 * 4
        else:
            heads = zeroed.all(dim=(0, 1)).nonzero().flatten().tolist()
            assert len(heads) == 1 and zeroed.sum() == 196 * 3
    assert torch.equal(drop.eval()(qkv), qkv)


def test_offtanet_layers_and_its_fixed_position_term():
    net = REGISTRY.models.get("offtanet").build(3)
    assert types(net.stem) == ["Conv2d", "ReLU", "BatchNorm2d"]  # ReLU before BN
    assert (net.stem[0].kernel_size, net.stem[0].stride, net.stem[0].padding) == ((7, 7), (2, 2), (3, 3))
    widths = [(s.shortcut.in_channels, s.shortcut.out_channels) for s in net.stages]
    assert widths == [(8, 18), (18, 28), (28, 8)]
    stage = net.stages[2]
    assert [m.out_channels for m in stage.channel.mlp if isinstance(m, nn.Conv2d)] == [1, 28]  # ratio = channels
    assert stage.spatial.conv.bias is None and all(m.bias is None for m in stage.channel.mlp if isinstance(m, nn.Conv2d))
    assert count(stage.attention) == 3 * conv(28, 28, 1)  # four heads of 7 channels for q, k and v
    assert types(net.classifier) == ["Flatten", "Linear", "ReLU", "Dropout", "Linear", "ReLU", "Dropout", "Linear"]
    e = torch.tensor([torch.sin(torch.tensor(1.0)), torch.cos(torch.tensor(1.0))])
    assert torch.allclose(position_code(14)[:2, :2], e[None, :] + e[:, None])
    assert "position" not in net.state_dict()  # fixed, not learned and not saved


def test_offtanet_attention_is_per_channel_row_affinity_times_the_values():
    torch.manual_seed(0)
    attention = REGISTRY.models.get("offtanet").build(3).stages[2].attention
    x = torch.randn(1, 28, 14, 14)
    q, k, v = attention.query(x)[0, 5], attention.key(x)[0, 5], attention.value(x)[0, 5]
    position = position_code(14)
    expected = torch.softmax((q @ k.T + q @ position.T).flatten(), dim=0).view(14, 14) * v
    assert torch.allclose(attention(x)[0, 5], expected, atol=1e-6)


# --- training on the declared input, options, cards -------------------------------------------------


def _forward_backward(model, spec, batch=2):
    torch.manual_seed(0)
    x = torch.randn(batch, spec.channels, spec.height, spec.width)
    out = model.train()(x)
    assert out.shape == (batch, 3)
    torch.nn.functional.cross_entropy(out, torch.tensor([0, 2][:batch])).backward()
    grads = [p.grad for p in model.parameters() if p.grad is not None]
    assert grads and all(torch.isfinite(g).all() for g in grads)


@pytest.mark.parametrize("name", [pytest.param(n, marks=pytest.mark.slow) if n in BIG else n for n in NETS])
def test_every_new_net_trains_on_its_declared_input(name):
    spec = REGISTRY.models.get(name)
    _forward_backward(spec.build(3), spec.input_spec)


@pytest.mark.parametrize("name", NETS)
def test_declared_options_are_the_factorys_own_parameters_with_its_defaults(name):
    spec = REGISTRY.models.get(name)
    parameters = inspect.signature(spec.factory).parameters
    declared = {option.name: option.default for option in spec.options}
    assert set(declared) == set(parameters) - {"num_classes", "input_spec"}
    assert declared == {key: parameters[key].default for key in declared}


@pytest.mark.parametrize("name", NETS)
def test_every_card_states_source_code_fidelity_chain_and_reference_count(name):
    spec = REGISTRY.models.get(name)
    card = spec.card
    assert card.source.authors and card.fidelity_detail and card.reference_parameters_source
    assert card.fidelity is Fidelity.FAITHFUL and card.code and all(c.licence for c in card.code)
    assert card.input_chain and card.deviations
    assert all(f.source and (f.uf1 or f.uar) for f in card.reported)
    if name not in BIG:
        text = render_card(model_facts(spec))
        assert f"{card.reference_parameters:,}" in text and "faithful: " in text


def test_cards_name_the_quirks_and_the_figures_chosen_on_the_test_fold():
    rcn = REGISTRY.models.get("rcn-p").card
    assert any("RCN_H" in d and "RCN_E" in d for d in rcn.deviations)
    assert any("augmentation" in d for d in rcn.deviations)
    htnet = REGISTRY.models.get("htnet").card
    assert any("[x][y]" in d for d in htnet.deviations) and any("fallback" in d for d in htnet.deviations)
    assert any("torch < 2.3" in d for d in htnet.deviations)
    (figures,) = htnet.reported
    assert figures.selection == "test-oracle" and "LEAKY" in figures.note and "best" in figures.note
    assert (figures.uf1, figures.uar) == (0.8603, 0.8475)
    (offtanet,) = REGISTRY.models.get("offtanet").reported
    assert offtanet.selection == "test-oracle" and offtanet.dataset != "combined" and "averaged" in offtanet.note
    assert REGISTRY.models.get("offtanet").card.code[0].licence == "GPL-3.0"
    (inceptr,) = REGISTRY.models.get("inceptr").reported
    assert (inceptr.uf1, inceptr.uar) == (0.753, 0.746)


# --- fold batching (how --fold-batch auto trains the small nets on a GPU) ---------------------------------------


def test_fold_batched_rcn_a_matches_sequential_training():
    """RCN-A reads its classifier's weights inside the forward pass (the attention unit): under the
    vectorised fold batching each fold must still see its own classifier."""
    import numpy as np

    from mebench.run.fold_batching import fold_batching_obstacle, train_folds_batched
    from mebench.folds import loso_folds
    from mebench.run.training import TrainSettings, predict, train_fold

    generator = torch.Generator().manual_seed(0)
    subjects = ["d/a"] * 5 + ["d/b"] * 4 + ["d/c"] * 6
    x = torch.randn(len(subjects), 3, 28, 28, generator=generator)
    y = torch.randint(0, 3, (len(subjects),), generator=generator)
    folds, settings = loso_folds(subjects), TrainSettings(epochs=2, batch_size=4, lr=1e-2, seed=3)

    def build():
        net = REGISTRY.models.get("rcn-a").build(3, featuremaps=8)
        # a convolution's bias right before batch norm gets a zero gradient up to rounding, which Adam
        # scales up to a full step: the two ways of summing give different noise there, so freeze them
        for block in [net.conv1, net.rcls[0].ffconv, net.rcls[0].rrconv]:
            block[0].bias.requires_grad_(False)
        return net

    assert fold_batching_obstacle(build, x) is None
    sequential = [train_fold(build, x, y, fold, settings) for fold in folds]
    batched = train_folds_batched(build, x, y, folds, settings)
    for fold, a, b in zip(folds, sequential, batched):
        np.testing.assert_allclose(predict(a, x, fold.test, settings), predict(b, x, fold.test, settings), atol=1e-5)


@pytest.mark.parametrize("name, reason", [("rcn-f", "called more than once"), ("sssnet", "outside nn.Dropout"),
                                          ("inceptr", "outside nn.Dropout")])
def test_nets_whose_randomness_fold_batching_cannot_reproduce_say_why(name, reason):
    from mebench.run.fold_batching import fold_batching_obstacle

    spec = REGISTRY.models.get(name)
    x = torch.zeros(2, spec.input_spec.channels, spec.input_spec.height, spec.input_spec.width)
    build = (lambda: spec.build(3)) if name != "inceptr" else (lambda: on_meta("inceptr"))
    assert reason in fold_batching_obstacle(build, x)
