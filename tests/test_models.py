import pytest
import torch

from mebench.data import InputSpec
from mebench.registry import discover
from mebench_plugins.models.pyramid_nets import PyramidModule, PyramidNet

REGISTRY = discover()
FULL_SIZE = {"base", "dspp", "wspp", "daspp", "waspp", "vgg-m", "alexnet", "ststnet", "offapexnet", "dual-inception"}
SMALL = InputSpec(3, 36, 36)  # the 32 pyramid variants share one implementation; test their wiring small


def _forward_backward(model, spec, batch=2):
    torch.manual_seed(0)
    x = torch.randn(batch, spec.channels, spec.height, spec.width)
    model.train()
    out = model(x)
    assert out.shape == (batch, 3)
    torch.nn.functional.cross_entropy(out, torch.tensor([0, 2][:batch])).backward()
    grads = [p.grad for p in model.parameters() if p.requires_grad]
    assert grads and all(g is not None and torch.isfinite(g).all() for g in grads)


@pytest.mark.parametrize("name", REGISTRY.models.names())
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


@pytest.mark.parametrize("name,flow", [("dspp", "direct"), ("daspp", "direct"), ("wspp", "waterfall"),
                                       ("waspp", "waterfall")])
def test_headline_pyramid_parameter_counts(name, flow):
    # three branches of 128 channels after Conv2; Conv3 widens from 256 to 256 + 3·128 inputs
    expected = BASE - conv(256, 512, 3) + conv(256 + 3 * 128, 512, 3) + branches(256, 128, 3, flow)
    assert count(REGISTRY.models.get(name).build(3)) == expected


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
