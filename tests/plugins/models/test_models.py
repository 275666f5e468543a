import pytest
import torch

from mebench.data import InputSpec
from mebench.registry import discover
from mebench_plugins.models.comparison_nets import VGGM
from mebench_plugins.models.pyramid_nets import PyramidModule, PyramidNet

REGISTRY = discover()
FULL_SIZE = {"base", "dspp", "wspp", "daspp", "waspp", "vgg-m", "alexnet", "ststnet", "offapexnet", "dual-inception"}
SMALL = InputSpec(3, 36, 36)  # the 32 pyramid variants share one implementation; test their wiring small
#: families pinned in their own files: tests/plugins/models/test_mer_nets.py trains each net on its declared input,
#: tests/plugins/models/test_baselines.py fits the estimators
OWN_TESTS = {"rcn", "sssnet", "htnet", "inceptr", "offtanet", "svm_baselines", "spotters"}  # spotters: test_spotters


def _forward_backward(model, spec, batch=2):
    torch.manual_seed(0)
    x = torch.randn(batch, spec.channels, spec.height, spec.width)
    model.train()
    out = model(x)
    assert out.shape == (batch, 3)
    torch.nn.functional.cross_entropy(out, torch.tensor([0, 2][:batch])).backward()
    grads = [p.grad for p in model.parameters() if p.requires_grad]
    assert grads and all(g is not None and torch.isfinite(g).all() for g in grads)


@pytest.mark.parametrize("name", [n for n in REGISTRY.models.names() if REGISTRY.models.get(n).family not in OWN_TESTS])
def test_every_registered_model_trains_on_its_declared_input(name):
    spec = REGISTRY.models.get(name)
    input_spec = spec.input_spec if name in FULL_SIZE else SMALL
    _forward_backward(spec.factory(num_classes=3, input_spec=input_spec), input_spec)


@pytest.mark.parametrize("name", ["timm:resnet18@64", "timm:vit_tiny_patch16_224@32"])
def test_timm_adapter_builds_random_init_models_of_any_size(name):
    spec = REGISTRY.models.get(name)
    assert spec.input_spec.height == int(name.split("@")[1])
    _forward_backward(spec.build(3), spec.input_spec)


def test_timm_default_input_size_comes_from_its_config():
    assert REGISTRY.models.get("timm:resnet18").input_spec == InputSpec(3, 224, 224)


def count(model):
    return sum(p.numel() for p in model.parameters())


def conv(cin, cout, k, bias=True):
    return cin * cout * k * k + (cout if bias else 0)


BASE = (conv(3, 96, 7) + conv(96, 256, 5) + conv(256, 512, 3) + 2 * conv(512, 512, 3)
        + (512 * 8 * 8 * 128 + 128) + (128 * 128 + 128) + (128 * 3 + 3))


def test_base_cnn_parameter_count_follows_table_2():
    assert BASE == 10_739_971  # Table 2 with a 3-channel 75×75 input
    assert count(REGISTRY.models.get("base").build(3)) == BASE


def test_base_cnn_reproduces_table_2_output_sizes():
    model = REGISTRY.models.get("base").build(3)
    sizes = {}
    for name in ("conv1", "conv2", "conv3", "pool3", "conv4", "pool4", "conv5", "pool5"):
        getattr(model, name).register_forward_hook(lambda m, i, o, n=name: sizes.__setitem__(n, tuple(o.shape[1:])))
    model(torch.zeros(1, 3, 75, 75))
    assert sizes == {"conv1": (96, 69, 69), "conv2": (256, 65, 65), "conv3": (512, 65, 65), "pool3": (512, 32, 32),
                     "conv4": (512, 32, 32), "pool4": (512, 16, 16), "conv5": (512, 16, 16), "pool5": (512, 8, 8)}


def branches(cin, width, n, flow):
    """3×3 bias-free branch convs + BN (weight, bias) per branch."""
    first = conv(cin, width, 3, bias=False)
    rest = conv(cin if flow == "direct" else width, width, 3, bias=False)
    return first + (n - 1) * rest + n * 2 * width


def pyramid_count(n_branches, flow):
    """Table 2's base CNN with n 128-channel branches after Conv2; Conv3 widens to 256 + n·128 inputs."""
    return BASE - conv(256, 512, 3) + conv(256 + n_branches * 128, 512, 3) + branches(256, 128, n_branches, flow)


@pytest.mark.parametrize("name,kind,flow,n_branches", [
    ("dspp", "spp", "direct", 2), ("wspp", "spp", "waterfall", 2),      # SPP V (Table 10 = Table 6 column V)
    ("daspp", "aspp", "direct", 3), ("waspp", "aspp", "waterfall", 3),  # ASPP VI (Table 11 = Table 8 column VI)
])
def test_headline_nets_are_the_variants_the_result_tables_identify(name, kind, flow, n_branches):
    net = REGISTRY.models.get(name).build(3)
    assert isinstance(net.pyramid1, torch.nn.Identity)  # nothing after Conv1
    module = net.pyramid2  # the pyramid sits after Conv2
    assert isinstance(module, PyramidModule) and len(module.branches) == n_branches and module.flow == flow
    assert all(branch.kind == kind for branch in module.branches)
    assert count(net) == pyramid_count(n_branches, flow)


def test_dspp_minus_wspp_is_table_14s_gap_of_one_128_channel_conv():
    dspp, wspp = (count(REGISTRY.models.get(name).build(3)) for name in ("dspp", "wspp"))
    assert dspp - wspp == 8_378_659 - 8_231_203 == 128 * 128 * 3 * 3


def test_variant_after_conv1_parameter_count():
    # SPP IV: five branches of 48 channels after Conv1; Conv2 widens from 96 to 96 + 5·48 inputs
    expected = BASE - conv(96, 256, 5) + conv(96 + 5 * 48, 256, 5) + branches(96, 48, 5, "waterfall")
    assert count(REGISTRY.models.get("spp-iv-waterfall").build(3)) == expected


def _branch_io(module, x):
    inputs, outputs = [], []
    for branch in module.branches:
        branch.register_forward_pre_hook(lambda m, args: inputs.append(args[0]))
        branch.register_forward_hook(lambda m, args, out: outputs.append(out))
    result = module(x)
    return inputs, outputs, result


@pytest.mark.parametrize("kind", ["spp", "aspp"])
def test_waterfall_branches_read_the_previous_branch_and_direct_ones_the_input(kind):
    torch.manual_seed(0)
    x = torch.randn(2, 16, 20, 20)
    direct_in, direct_out, direct_result = _branch_io(PyramidModule(16, kind, 4, "direct"), x)
    assert all(inp is x for inp in direct_in)
    water_in, water_out, water_result = _branch_io(PyramidModule(16, kind, 4, "waterfall"), x)
    assert water_in[0] is x
    assert all(water_in[i] is water_out[i - 1] for i in range(1, 4))
    for result, outs in ((direct_result, direct_out), (water_result, water_out)):
        assert result.shape == (2, 16 + 4 * 8, 20, 20)
        assert torch.equal(result[:, :16], x)  # the skip connection
        assert torch.equal(result[:, 16:24], outs[0])


def test_branch_scales_follow_tables_3_and_4():
    spp = PyramidModule(16, "spp", 5, "direct")
    assert [b.pool.kernel_size for b in spp.branches] == [2, 4, 6, 8, 10]
    aspp = PyramidModule(16, "aspp", 5, "direct")
    assert [b.conv.dilation for b in aspp.branches] == [(1, 1), (2, 2), (3, 3), (4, 4), (5, 5)]


def test_variant_names_map_to_tables_3_and_4():
    net = REGISTRY.models.get("aspp-ii-waterfall").build(3)
    assert isinstance(net.pyramid1, PyramidModule) and len(net.pyramid1.branches) == 3
    assert isinstance(net.pyramid2, torch.nn.Identity)
    net = REGISTRY.models.get("spp-viii-direct").build(3)
    assert len(net.pyramid2.branches) == 5 and net.pyramid2.flow == "direct"
    net = REGISTRY.models.get("waspp").build(3, branches=5)  # the branch count is a model option
    assert len(net.pyramid2.branches) == 5
    assert isinstance(PyramidNet(pyramid=None), PyramidNet)


# --- comparison nets, pinned to their reference definitions -------------------------------------


def _layer_types(module):
    return [type(m).__name__ for m in module]


def test_vgg_m_matches_the_cadene_port_with_ceil_mode_pools():
    net = REGISTRY.models.get("vgg-m").build(3)
    # conv 3×(96·3·49) … fc6 18,432 → 4096 … fc8 4096 → 3 (pretrainedmodels/models/vggm.py)
    assert count(net) == 98_823_811
    assert net.classifier[1].in_features == 18_432  # pool5 is 512×6×6 at 224×224
    pools = [m for m in net.features if isinstance(m, torch.nn.MaxPool2d)]
    assert len(pools) == 3 and all(p.ceil_mode for p in pools)
    assert _layer_types(net.features)[:4] == ["Conv2d", "ReLU", "LocalResponseNorm", "MaxPool2d"]


def test_vgg_m_lrn_is_caffes_normalisation():
    # Caffe: x / (k + alpha/1 · Σ_window x²)^beta with alpha = 1e-4 over 5 channels, no division by n
    lrn = VGGM(3, InputSpec(3, 64, 64)).features[2]  # the layers do not depend on the input size
    torch.manual_seed(0)
    x = torch.randn(1, 7, 3, 3) * 20
    padded = torch.nn.functional.pad(x.pow(2), (0, 0, 0, 0, 2, 2))
    window_sum = torch.stack([padded[:, c:c + 5].sum(1) for c in range(7)], dim=1)
    caffe = x / (2.0 + 1e-4 * window_sum).pow(0.75)
    assert torch.allclose(lrn(x), caffe, rtol=1e-5)


def test_ststnet_matches_the_authors_main_py():
    net = REGISTRY.models.get("ststnet").build(3)
    assert count(net) == 1_683
    for stream, width in zip(net.streams, (3, 5, 8)):
        assert _layer_types(stream) == ["Conv2d", "ReLU", "BatchNorm2d", "MaxPool2d", "Dropout"]
        assert stream[0].in_channels == 3 and stream[0].out_channels == width and stream[0].padding == (2, 2)
    assert not any(isinstance(m, torch.nn.Dropout) for m in (net.pool, net.fc))  # no dropout before the FC
    assert net.fc.in_features == 5 * 5 * 16


def test_offapexnet_follows_the_reconstruction_without_conv_activations():
    net = REGISTRY.models.get("offapexnet").build(3)
    assert count(net) == 2 * (conv(1, 6, 5) + conv(6, 16, 5)) + (1568 * 1024 + 1024) + (1024 * 1024 + 1024) + 3075
    assert count(net) == 2_664_475
    assert not any(isinstance(m, torch.nn.ReLU) for m in net.streams.modules())
    relu_variant = REGISTRY.models.get("offapexnet").build(3, conv_activation="relu")
    assert sum(isinstance(m, torch.nn.ReLU) for m in relu_variant.streams.modules()) == 4
    assert count(relu_variant) == count(net)


def inception_block(cin, width):
    """One block of dual_inception.py: 1×1; 1×1→3×3; 1×1→5×5; pool→1×1, each with bias."""
    return 4 * conv(cin, width, 1) + conv(width, width, 3) + conv(width, width, 5)


def test_dual_inception_matches_the_authors_keras_definition():
    net = REGISTRY.models.get("dual-inception").build(3)
    # per stream 28×28×3 → Inception(6) → pool → Inception(16) → pool → 7×7×64; Dense(1024) on both; Dense(3)
    keras_count = 2 * (inception_block(3, 6) + inception_block(24, 16)) + (2 * 64 * 7 * 7 * 1024 + 1024) + 1024 * 3 + 3
    assert keras_count == 6_449_963
    assert count(net) == keras_count
    seen = []
    for stream in net.streams:
        stream.register_forward_pre_hook(lambda m, args: seen.append(args[0]))
    x = torch.randn(2, 2, 28, 28)
    net.eval()(x)
    for i, stream_input in enumerate(seen):  # each stream reads its component as three equal channels
        assert stream_input.shape == (2, 3, 28, 28)
        assert all(torch.equal(stream_input[:, c], x[:, i]) for c in range(3))


@pytest.mark.parametrize("name", ["vgg-m", "alexnet", "ststnet", "offapexnet", "dual-inception",
                                  "base", "dspp", "wspp", "daspp", "waspp"])
def test_every_card_states_source_fidelity_chain_and_reference_count(name):
    from mebench.data import Fidelity
    from mebench.run.model_card import model_facts, render_card

    facts = model_facts(REGISTRY.models.get(name))
    card = facts.card
    assert card.source.authors and card.fidelity_detail and card.reference_parameters and card.reference_parameters_source
    assert card.fidelity in (Fidelity.FAITHFUL, Fidelity.RECONSTRUCTED)
    assert card.code or card.fidelity is Fidelity.RECONSTRUCTED  # a net with published code follows it
    if card.fidelity is Fidelity.FAITHFUL:  # our count is the reference definition's
        assert facts.parameters == card.reference_parameters
    assert "128×128 before TV-L1" in card.input_chain
    assert card.reported and all(figures.source for figures in card.reported)
    text = render_card(facts)
    assert f"{facts.parameters:,}" in text and f"{card.reference_parameters:,}" in text
    assert f"{card.fidelity.value}: " in text and "options (--model-opt):" in text


@pytest.mark.parametrize("name", sorted(FULL_SIZE | {"base", "spp-i-direct"}))
def test_declared_options_are_the_factorys_own_parameters_with_its_defaults(name):
    """The declaration is what --model-opt checks and what build passes: each declared option is a
    parameter of the factory, and a spec's default is the configuration it names."""
    import inspect

    spec = REGISTRY.models.get(name)
    parameters = inspect.signature(spec.factory).parameters
    declared = {option.name: option.default for option in spec.options}
    assert set(declared) == set(parameters) - {"num_classes", "input_spec"}
    if spec.family == "comparison_nets":
        assert declared == {key: parameters[key].default for key in declared}


def test_comparison_nets_carry_their_own_published_figures_and_the_ststnet_copy_error():
    ststnet = REGISTRY.models.get("ststnet").reported
    assert [f.source.split(" ")[0] for f in ststnet] == ["Stofa", "Liong"]
    assert (ststnet[1].uf1, ststnet[1].uar) == (0.7353, 0.7605)
    base = REGISTRY.models.get("base").reported[0]
    assert (ststnet[0].accuracy, ststnet[0].uf1) == (base.accuracy, base.uf1)  # Table 13 repeats Tables 6–7
    assert "copy error" in ststnet[0].note
    dual = REGISTRY.models.get("dual-inception").reported
    assert (dual[1].uf1, dual[1].uar) == (0.7322, 0.7278)
    assert all(0 <= f.accuracy <= 1 for name in FULL_SIZE for f in REGISTRY.models.get(name).reported if f.accuracy)


def test_dual_inception_chain_uses_the_middle_frame_and_the_others_the_apex():
    def apex_options(name):
        step = REGISTRY.models.get(name).preprocessing[0]
        return {} if isinstance(step, str) else dict(step[1])

    assert apex_options("dual-inception") == {"target": "middle"}
    assert all(apex_options(name).get("target", "apex") == "apex" for name in FULL_SIZE - {"dual-inception"})
