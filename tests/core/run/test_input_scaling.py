"""Input scaling is part of each net's declared input (issue 30): the authors' scaling where their code shows
it, the training fold's standardisation where mebench chooses it; the run records it, and its identity holds it
only where it is not the fold standardisation every earlier run had."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

from mebench.errors import OptionError
from mebench.folds import Fold
from mebench.run.plan import plan_run
from mebench.run.training import TrainSettings, predict, start_fold
from tests.conftest import tiny_config, tiny_run

ROOT = Path(__file__).resolve().parents[3]

#: What each built-in net's authors feed it, read in the code its card names:
#: none — the values as the chain gives them; byte — 8-bit images read unscaled (0–255);
#: fold — mebench's choice.
AUTHORS_SCALING = {
    "rcn-a": "none", "rcn-s": "none", "rcn-w": "none", "rcn-p": "none", "rcn-c": "none", "rcn-f": "none",  # ToTensor()
    "sssnet": "none",  # MEB: no transform by default
    "inceptr": "none",  # the raw .npz flow; the defined transform is never applied
    "offtanet": "none",  # data.py: TV-L1 flow in pixels
    "offapexnet": "none",  # the reconstruction's loader (the Off-TANet repository's data.py)
    "dual-inception": "none",  # image_process.py: img / 255.0 of the 8-bit flow images
    "htnet": "byte",  # main_HTNet.py: cv2.imread → torch.Tensor, 0–255
    "ststnet": "byte",  # main.py: cv2.imread → torch.Tensor, 0–255
    # no code of the seed paper shows a scaling: the fold standardisation, as every run before had
    "base": "fold", "dspp": "fold", "wspp": "fold", "daspp": "fold", "waspp": "fold", "vgg-m": "fold",
    "alexnet": "fold",
}


@pytest.mark.parametrize("model", sorted(AUTHORS_SCALING))
def test_each_net_declares_the_scaling_its_authors_code_feeds_it(registry, model):
    spec = registry.models.get(model)
    assert spec.input_spec.scaling == AUTHORS_SCALING[model]
    scaling_words = {"none": "input scaling none", "byte": "input scaling byte", "fold": "input scaling fold"}
    assert scaling_words[AUTHORS_SCALING[model]] in spec.card.input_chain + " ".join(spec.card.deviations)


class Recorder(nn.Module):
    """A net that keeps every input it is given and answers zeros."""

    def __init__(self):
        super().__init__()
        self.seen: list[torch.Tensor] = []
        self.head = nn.Linear(1, 3)

    def forward(self, x):
        self.seen.append(x.detach().clone())
        return torch.zeros(len(x), 3)


def fed_inputs(scaling: str) -> tuple[torch.Tensor, torch.Tensor]:
    """(what the net is fed for 6 samples, the samples) under ``scaling``, training on the first four."""
    x = torch.arange(6 * 3 * 2 * 2, dtype=torch.float32).reshape(6, 3, 2, 2) / 100.0
    x[4:] = 7.0  # the test side: were it in the statistics, they would move
    settings = TrainSettings(epochs=1, input_scaling=scaling)
    model, *_ = start_fold(Recorder, x, Fold(0, "s/1", np.arange(4), np.arange(4, 6)), settings, channels_last=False)
    predict(model, x, np.arange(6), settings)
    return torch.cat(model.seen), x


def test_scaling_none_feeds_the_values_as_they_are():
    seen, x = fed_inputs("none")
    assert torch.equal(seen, x)


def test_scaling_byte_feeds_the_values_times_255():
    seen, x = fed_inputs("byte")
    assert torch.allclose(seen, x * 255.0, rtol=1e-6)
    assert seen[0, 0, 0, 1].item() == pytest.approx(2.55, rel=1e-6)  # x = 0.01


def test_scaling_fold_standardises_each_channel_with_the_training_samples():
    seen, x = fed_inputs("fold")
    train = x[:4]
    # channel 0 of the training samples: 0.00–0.03, 0.12–0.15, 0.24–0.27, 0.36–0.39
    values = torch.tensor([0.00, 0.01, 0.02, 0.03, 0.12, 0.13, 0.14, 0.15, 0.24, 0.25, 0.26, 0.27,
                           0.36, 0.37, 0.38, 0.39])
    mean, std = values.mean(), values.std()
    assert torch.allclose(seen[:4, 0], (train[:, 0] - mean) / std, atol=1e-5)
    assert seen[:4].mean(dim=(0, 2, 3)).abs().max() < 1e-5  # zero mean over the training samples, every channel
    assert torch.allclose(seen[:4].std(dim=(0, 2, 3)), torch.ones(3), atol=1e-5)


def test_a_run_records_its_scaling_and_its_identity_holds_it_only_where_it_is_not_fold(registry):
    default = plan_run(tiny_config(), registry)
    given_fold = plan_run(tiny_config(model_options={"input_scaling": "fold"}), registry)
    unscaled = plan_run(tiny_config(model_options={"input_scaling": "none"}), registry)
    assert default.resolved["input_scaling"] == "fold" and "input_scaling" not in default.identity
    assert given_fold.run_id == default.run_id  # the same inputs: the same run
    assert unscaled.identity["input_scaling"] == "none" and unscaled.settings.input_scaling == "none"
    assert unscaled.run_id != default.run_id
    assert unscaled.identity["model_options"] == {}  # the harness's option, not the factory's


def test_fold_standardised_nets_keep_the_run_ids_of_the_checked_in_leaderboard(registry, monkeypatch):
    monkeypatch.setattr("mebench.run.plan.bf16_supported", lambda device: True)  # the leaderboard's levers, anywhere
    for model in ("alexnet", "base", "lbptop"):
        plan = plan_run(tiny_config(model=model, dataset_options={"preset": "quick"}, epochs=None, batch_size=None,
                                    device="cpu", precision="bf16", channels_last="on"), registry)
        assert (ROOT / "leaderboards" / "runs" / plan.run_id / "run.json").is_file(), plan.run_id


def test_a_scaling_outside_the_declared_ones_gets_one_line_naming_them(registry):
    with pytest.raises(OptionError, match=r"input_scaling=unit: .*one of fold, none, byte"):
        plan_run(tiny_config(model_options={"input_scaling": "unit"}), registry)


def test_the_net_is_fed_as_run_json_says(registry, tmp_path):
    """End to end: the scaling given reaches run.json and, unlike fold, the run's identity (config.json)."""
    folder = tiny_run(registry, tmp_path, model_options={"input_scaling": "byte"}).run_dir
    run = json.loads((folder / "run.json").read_text())
    assert run["config"]["input_scaling"] == "byte"
    assert json.loads((folder / "config.json").read_text())["input_scaling"] == "byte"


# --- HTNet's landmarks: the authors' detector where installed, the fixed landmarks where it finds no face ---------

def flow_image(size: int = 28) -> np.ndarray:
    """A flow image whose every pixel differs: value 100·row + column in channel 0 (and + 0.5, + 0.25 after)."""
    rows, columns = np.mgrid[0:size, 0:size].astype(np.float32)
    base = 100 * rows + columns
    return np.stack([base, base + 0.5, base + 0.25], axis=2)


def stub_detector(monkeypatch, answers: list):
    """Replace the mtcnn detector by a stub answering ``answers`` in turn (None: no face); returns the images it saw."""
    from mebench_plugins.preprocessors import landmarks

    seen = []

    def load():
        def detect(image):
            seen.append(image)
            return answers[(len(seen) - 1) % len(answers)]
        return detect

    monkeypatch.setitem(landmarks.DETECTORS, "mtcnn", landmarks.LandmarkDetector(load))
    return seen


def test_detected_landmarks_centre_the_patches_and_a_miss_falls_back_to_the_fixed_ones(monkeypatch):
    from mebench_plugins.preprocessors.landmarks import HtnetPatches

    # x, y of left eye, right eye, nose, left and right mouth corner on the 28 grid
    found = np.array([[10.7, 12.2], [18.0, 9.9], [14.0, 15.0], [8.0, 20.5], [19.3, 20.9]])
    seen = stub_detector(monkeypatch, [found, None])
    step = HtnetPatches(landmarks="mtcnn")
    apex = np.full((40, 36), 90, dtype=np.uint8)
    detected = step({"image": flow_image(), "apex_frame": apex})
    missed = step({"image": flow_image(), "apex_frame": apex})
    assert seen[0].shape == (28, 28, 3) and seen[0].dtype == np.uint8 and int(seen[0][5, 5, 1]) == 90
    image = flow_image()
    # rows by x (the authors' flow[x][y]), truncated: left eye (10, 12), right eye (18, 9), mouth (8, 20), (19, 20)
    assert np.array_equal(detected["image"][:14, :14], image[3:17, 5:19])
    assert np.array_equal(detected["image"][:14, 14:], image[11:25, 2:16])
    assert np.array_equal(detected["image"][14:, :14], image[1:15, 13:27])
    assert np.array_equal(detected["image"][14:, 14:], image[12:26, 13:27])
    assert detected["landmarks_fallback"] is False
    # the authors' fallback left eye (9.528, 11.063) → (9, 11)
    assert np.array_equal(missed["image"][:14, :14], image[2:16, 4:18])
    assert missed["landmarks_fallback"] is True


def test_fixed_landmarks_detect_nothing_and_note_nothing(monkeypatch):
    from mebench_plugins.preprocessors.landmarks import HtnetPatches

    seen = stub_detector(monkeypatch, [None])
    item = HtnetPatches(landmarks="fixed")({"image": flow_image(), "apex_frame": np.zeros((28, 28), np.uint8)})
    assert seen == [] and "landmarks_fallback" not in item
    assert np.array_equal(item["image"][:14, :14], flow_image()[2:16, 4:18])


def detecting_plugin():
    import types

    from mebench import hookimpl
    from mebench.data import ModelSpec
    from tests.conftest import TINY_CHAIN, TINY_INPUT, TinyNet

    module = types.ModuleType("detecting_test_plugin")

    @hookimpl
    def mebench_register_models(register):
        register(ModelSpec(name="tiny-landmarks", factory=lambda num_classes, input_spec, **kw: TinyNet(num_classes,
                                                                                                     input_spec),
                           input_spec=TINY_INPUT, preprocessing=TINY_CHAIN + (("htnet_patches",
                                                                                 {"landmarks": "mtcnn", "grid": 16}),)))

    module.mebench_register_models = mebench_register_models
    return module


def test_run_json_counts_the_samples_cut_around_the_fallback_landmarks(monkeypatch, tmp_path):
    from tests.conftest import tiny_registry

    stub_detector(monkeypatch, [np.full((5, 2), 12.0), None, None])  # a face in one sample of every three
    folder = tiny_run(tiny_registry(detecting_plugin()), tmp_path, model="tiny-landmarks").run_dir
    landmarks = json.loads((folder / "run.json").read_text())["face_crop"]["landmarks"]
    assert (landmarks["detected"], landmarks["fallback"]) == (4, 8)  # 12 samples
    assert len(landmarks["fallback_samples"]) == 8 and all(s.startswith("synthetic/") for s in
                                                           landmarks["fallback_samples"])


def test_a_detector_that_is_not_installed_is_refused_at_planning_with_its_install_line(registry, monkeypatch):
    from mebench_plugins.preprocessors import landmarks

    absent = landmarks.LandmarkDetector(landmarks.mtcnn_detector, requires="facenet_pytorch_absent_here",
                                        install=landmarks.MTCNN_INSTALL)
    monkeypatch.setitem(landmarks.DETECTORS, "mtcnn", absent)
    with pytest.raises(OptionError, match=r"htnet_patches.*pip install --no-deps facenet-pytorch"):
        plan_run(tiny_config(model="htnet-mtcnn"), registry)


def test_htnet_mtcnn_detects_its_landmarks_and_its_card_says_which_were_used(registry):
    fixed, detected = registry.models.get("htnet"), registry.models.get("htnet-mtcnn")
    assert fixed.preprocessing[-1] == ("htnet_patches", {"landmarks": "fixed", "swap_xy": True})
    assert detected.preprocessing[-1] == ("htnet_patches", {"landmarks": "mtcnn", "swap_xy": True})
    assert detected.preprocessing[:-1] == fixed.preprocessing[:-1] and detected.input_spec == fixed.input_spec
    assert "landmarks MTCNN finds" in detected.card.input_chain
    assert "fallback landmarks (htnet_patches landmarks=fixed)" in " ".join(fixed.card.deviations)
    assert any(d.startswith("landmarks: the authors' detector") for d in detected.card.deviations)


def test_mebench_info_says_how_the_net_is_scaled(cli):
    rcn = cli("info", "rcn-c")
    assert rcn.exit_code == 0
    assert "input scaling" in rcn.output and "none: the chain's values as they are" in rcn.output
    assert "does not apply: an estimator" in cli("info", "lbptop").output
