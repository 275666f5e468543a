"""Pretrained backbones (issue 26): ``timm:<name>`` and ``tv:<name>`` start from a local weights file, adapted as
timm adapts them; what was loaded (source, SHA-256 of the file, layers) enters ``run.json``, the run's identity and
the leaderboard; fine-tuning options reach the optimiser. Weights files are made here from seeded nets: nothing
downloads."""

from __future__ import annotations

import hashlib
import shutil
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import timm
import torch
import torchvision

from mebench.analysis.configurations import load_configurations
from mebench.errors import DataError, OptionError
from mebench.analysis.leaderboard import leaderboard_tables
from mebench.run.plan import plan_run
from mebench.registry import default_registry
from mebench.run.runner import run
from mebench.run.training import start_fold
from tests.conftest import QUIET, tiny_config

TIMM = "timm:resnet18@32"
VIDEO = "tv:mc3_18@8x32"
SMALL = {"subjects": 2, "clips_per_subject": 4, "size": 48}


def seeded_timm(seed: int, num_classes: int = 3, in_chans: int = 3) -> torch.nn.Module:
    torch.manual_seed(seed)
    return timm.create_model("resnet18", num_classes=num_classes, in_chans=in_chans)


def save(model_or_state, path: Path) -> Path:
    state = model_or_state if isinstance(model_or_state, dict) else model_or_state.state_dict()
    torch.save(state, path)
    return path


@pytest.fixture(scope="module")
def weights(tmp_path_factory) -> Path:
    """A resnet18 state dict with 3 classes, seed 1."""
    return save(seeded_timm(1), tmp_path_factory.mktemp("weights") / "r18.pth")


@pytest.fixture(scope="module")
def other_weights(tmp_path_factory) -> Path:
    """Another resnet18 state dict with 3 classes, seed 2."""
    return save(seeded_timm(2), tmp_path_factory.mktemp("weights") / "r18-other.pth")


def config(model: str = TIMM, **model_options):
    return tiny_config(model=model, dataset_options=dict(SMALL), model_options=model_options)


def assert_equal_tensors(model: torch.nn.Module, state: dict, keys) -> None:
    own = model.state_dict()
    for key in keys:
        assert torch.equal(own[key], state[key]), key


# --- loading and adapting -----------------------------------------------------------------------------------------

def test_a_weights_file_gives_the_net_every_tensor_of_the_file(weights):
    state = torch.load(weights)
    model = default_registry().models.get(TIMM).build(3, weights=str(weights))
    assert_equal_tensors(model, state, state)
    assert set(model.state_dict()) == set(state)
    record = model.pretrained_record
    assert record["new"] == [] and record["adapted"] == []
    assert record["loaded"][0] == "conv1" and record["loaded"][-1] == "fc"


def test_a_checkpoint_holding_the_state_dict_under_state_dict_or_model_loads_the_same(weights, tmp_path):
    state = torch.load(weights)
    for key in ("state_dict", "model"):
        path = save({key: state, "epoch": 7}, tmp_path / f"{key}.pth")
        model = default_registry().models.get(TIMM).build(3, weights=str(path))
        assert_equal_tensors(model, state, state)


def test_a_head_of_another_class_count_is_new_and_every_other_layer_loaded(tmp_path):
    source = seeded_timm(3, num_classes=5)
    state = source.state_dict()
    torch.manual_seed(0)
    fresh = timm.create_model("resnet18", num_classes=3, in_chans=3)
    torch.manual_seed(0)
    model = default_registry().models.get(TIMM).build(3, weights=str(save(source, tmp_path / "five.pth")))
    assert_equal_tensors(model, state, [k for k in state if not k.startswith("fc.")])
    # the head is the one the same seed gives without weights: newly initialised, not taken from the file
    assert torch.equal(model.fc.weight, fresh.fc.weight) and model.fc.weight.shape == (3, 512)
    assert model.pretrained_record["new"] == ["fc"]


def test_a_first_convolution_of_another_channel_count_is_repeated_and_scaled_as_timm_adapts_it(tmp_path):
    source = seeded_timm(4, in_chans=1)
    grey = source.conv1.weight.detach()
    model = default_registry().models.get(TIMM).build(3, weights=str(save(source, tmp_path / "grey.pth")))
    # timm's rule: the channels repeated, scaled by source channels / target channels
    expected = grey.repeat(1, 3, 1, 1) / 3
    assert torch.allclose(model.conv1.weight, expected, atol=0, rtol=1e-6)
    assert model.pretrained_record["adapted"] == ["conv1.weight (1 → 3 input channels, timm adapt_input_conv)"]
    assert "conv1" not in model.pretrained_record["loaded"]


def test_a_vision_transformer_of_another_size_gets_its_position_embedding_resampled_by_timms_filter(tmp_path):
    from timm.layers import resample_abs_pos_embed

    torch.manual_seed(7)
    source = timm.create_model("vit_tiny_patch16_224", num_classes=10)
    model = default_registry().models.get("timm:vit_tiny_patch16_224@32").build(
        3, weights=str(save(source, tmp_path / "vit.pth")))
    # 14×14 patches at 224 → 2×2 at 32, the class token kept: what timm.create_model(pretrained=True) does
    expected = resample_abs_pos_embed(source.pos_embed.detach(), (2, 2), num_prefix_tokens=1)
    assert model.pos_embed.shape == (1, 5, 192) and torch.allclose(model.pos_embed, expected)
    assert torch.equal(model.blocks[0].attn.qkv.weight, source.blocks[0].attn.qkv.weight)
    assert model.pretrained_record["new"] == ["head"]


def test_timm_pretrained_comes_from_the_hugging_face_cache_by_its_tag(weights, monkeypatch):
    from mebench_plugins.models import timm_adapter

    asked = []
    monkeypatch.setattr(timm_adapter, "_fetch", lambda hub, url: asked.append(hub) or str(weights))
    model = default_registry().models.get(TIMM).build(3, pretrained="timm")
    assert asked == ["timm/resnet18.a1_in1k"]
    assert model.pretrained_record["source"] == "timm resnet18.a1_in1k"
    assert model.pretrained_record["sha256"] == hashlib.sha256(weights.read_bytes()).hexdigest()
    model = default_registry().models.get(TIMM).build(3, pretrained="hf-hub:someone/r18")
    assert asked[-1] == "someone/r18" and model.pretrained_record["source"] == "hf-hub:someone/r18"


# --- refusals: one line naming the file and the fix ---------------------------------------------------------------

def one_line_error(cli, *args) -> str:
    result = cli("run", "--model", TIMM, "--dataset", "synthetic", "--epochs", "1", "--device", "cpu", *args)
    assert result.exit_code in (1, 2), result.output
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1 and "Traceback" not in result.output, result.output
    return lines[0]


def test_a_missing_weights_file_is_one_line_naming_it(cli, tmp_path):
    missing = tmp_path / "nowhere.pth"
    line = one_line_error(cli, "--model-opt", f"weights={missing}")
    assert str(missing) in line and "no such file" in line


def test_a_tensor_of_another_shape_is_one_line_naming_the_file_and_the_layer(cli, tmp_path):
    state = seeded_timm(5).state_dict()
    state["layer2.0.conv1.weight"] = torch.zeros(64, 64, 3, 3)
    path = save(state, tmp_path / "wrong.pth")
    line = one_line_error(cli, "--model-opt", f"weights={path}")
    assert str(path) in line
    assert "layer2.0.conv1.weight is 64×64×3×3 in the file but 128×64×3×3" in line and "give weights" in line


def test_weights_of_another_architecture_and_an_unreadable_file_are_refused_naming_the_file(tmp_path):
    torch.manual_seed(0)
    other = save(timm.create_model("resnet34", num_classes=3), tmp_path / "r34.pth")
    with pytest.raises(DataError, match=rf"^{other}: holds .* tensor\(s\) resnet18 does not have"):
        plan_run(config(weights=str(other)))
    junk = tmp_path / "junk.pth"
    junk.write_bytes(b"not a checkpoint")
    with pytest.raises(DataError, match=rf"^{junk}: cannot read weights"):
        plan_run(config(weights=str(junk)))
    with pytest.raises(OptionError, match=r"freeze=layer9: model 'timm:resnet18' has no layer 'layer9'; "
                                          r"its layers: conv1, bn1, layer1"):
        plan_run(config(freeze="layer9"))


# --- identity and run.json ----------------------------------------------------------------------------------------

def test_the_files_digest_not_its_path_is_the_configuration(weights, other_weights, tmp_path):
    plain = plan_run(config())
    first = plan_run(config(weights=str(weights)))
    other = plan_run(config(weights=str(other_weights)))
    copy = plan_run(config(weights=str(shutil.copy(weights, tmp_path / "elsewhere.pth"))))
    assert len({plain.run_id, first.run_id, other.run_id}) == 3
    assert copy.run_id == first.run_id  # the same bytes at another path
    assert first.resolved["pretrained"]["sha256"] == hashlib.sha256(weights.read_bytes()).hexdigest()
    assert first.resolved["pretrained"]["file"] == str(weights) and "pretrained" not in plain.resolved


@pytest.mark.slow
def test_a_run_records_the_digest_and_the_leaderboard_shows_the_source(weights, tmp_path):
    registry = default_registry()
    pretrained = run(config(weights=str(weights)), registry, output_dir=tmp_path / "results", **QUIET)
    recorded = pretrained.record.pretrained
    assert recorded["sha256"] == hashlib.sha256(weights.read_bytes()).hexdigest()
    assert recorded["source"] == "r18.pth" and recorded["new"] == []
    plain_dir = tmp_path / "plain"
    plain = run(config(), registry, output_dir=plain_dir, **QUIET)
    assert plain.record.pretrained == {}
    table = leaderboard_tables(load_configurations(plain_dir))[0].display
    assert "pretrained on" not in table.columns  # no row of the table has pretrained weights
    shutil.copytree(plain.run_dir, tmp_path / "results" / plain.run_dir.name)
    table = leaderboard_tables(load_configurations(tmp_path / "results"))[0].display
    assert sorted(table["pretrained on"]) == ["", f"r18.pth (sha256 {recorded['sha256'][:12]})"]


# --- fine-tuning ----------------------------------------------------------------------------------------------------

def test_backbone_learning_rate_scale_and_frozen_layers_reach_the_optimiser(weights):
    plan = plan_run(config(weights=str(weights), backbone_lr_scale=0.1, freeze="conv1,bn1,layer1"))
    x = torch.zeros(len(plan.samples), 3, 32, 32)
    settings = replace(plan.settings, lr=1e-3)
    model, _, optimizer, _ = start_fold(plan.build_model, x, plan.folds[0], settings, channels_last=False)
    lrs = [group["lr"] for group in optimizer.param_groups]
    assert lrs == pytest.approx([1e-4, 1e-3])
    names = {id(p): n for n, p in model.named_parameters()}
    assert sorted(names[id(p)] for p in optimizer.param_groups[1]["params"]) == ["fc.bias", "fc.weight"]
    frozen = sorted(n for n, p in model.named_parameters() if not p.requires_grad)
    assert frozen and all(n.split(".")[0] in ("conv1", "bn1", "layer1") for n in frozen)
    assert {n.split(".")[0] for n in frozen} == {"conv1", "bn1", "layer1"}
    assert plan.identity["model_options"] == {"backbone_lr_scale": 0.1, "freeze": "conv1,bn1,layer1"}


@pytest.mark.slow
def test_frozen_layers_keep_the_files_values_through_training(weights, tmp_path):
    state = torch.load(weights)
    plan = plan_run(config(weights=str(weights), freeze="conv1,layer1"))
    x = torch.randn(len(plan.samples), 3, 32, 32, generator=torch.Generator().manual_seed(0))
    y = torch.as_tensor([plan.classes.index(s.label) for s in plan.samples])
    from mebench.run.training import train_fold

    trained = train_fold(plan.build_model, x, y, plan.folds[0], plan.settings).state_dict()
    parameters = [name for name, _ in timm.create_model("resnet18", num_classes=3).named_parameters()]
    frozen = [name for name in parameters if name.split(".")[0] in ("conv1", "layer1")]
    assert len(frozen) == 13 and all(torch.equal(trained[name], state[name]) for name in frozen)
    assert not torch.equal(trained["fc.weight"], state["fc.weight"])
    assert not torch.equal(trained["layer4.1.bn2.weight"], state["layer4.1.bn2.weight"])


# --- torchvision video nets ---------------------------------------------------------------------------------------

def test_the_clip_step_makes_one_channel_per_frame_in_unit_range():
    from mebench_plugins.preprocessors.sequences import ClipChannels

    frames = np.arange(2 * 3 * 4, dtype=np.uint8).reshape(2, 3, 4) * 10
    image = ClipChannels()({"frames": frames})["image"]
    assert image.shape == (3, 4, 2)
    assert image[1, 2, 0] == pytest.approx(frames[0, 1, 2] / 255)
    assert image[1, 2, 1] == pytest.approx(frames[1, 1, 2] / 255)


def test_a_video_net_shows_the_grey_clip_in_each_colour_channel():
    model = default_registry().models.get("tv:r3d_18@8x32").build(3).eval()
    clip = torch.randn(2, 8, 32, 32, generator=torch.Generator().manual_seed(0))
    reference = torchvision.models.video.VideoResNet.forward(model, clip[:, None].repeat(1, 3, 1, 1, 1))
    assert torch.equal(model(clip), reference)
    # training's channels-last lever (a 2-D layout) takes the net's 5-D weights to their 3-D layout
    model = model.to(memory_format=torch.channels_last)
    assert model.stem[0].weight.is_contiguous(memory_format=torch.channels_last_3d)
    assert torch.allclose(model(clip.contiguous(memory_format=torch.channels_last)), reference, atol=1e-5)


@pytest.mark.slow
def test_a_video_net_loads_a_weights_file_and_runs_on_synthetic_clips(tmp_path):
    torch.manual_seed(6)
    source = torchvision.models.video.mc3_18(num_classes=3)
    path = save(source, tmp_path / "mc3.pth")
    state = source.state_dict()
    model = default_registry().models.get(VIDEO).build(3, weights=str(path))
    assert_equal_tensors(model, state, state)
    outcome = run(config(VIDEO, weights=str(path)), default_registry(), output_dir=tmp_path / "results", **QUIET)
    assert outcome.record.input_spec == "8x32x32"
    assert outcome.record.pretrained["sha256"] == hashlib.sha256(path.read_bytes()).hexdigest()
    assert outcome.record.metrics.pooled.n == SMALL["subjects"] * SMALL["clips_per_subject"]
