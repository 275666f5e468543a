import numpy as np
import pytest

from mebench.data import MEGC2019_CLASSES as CLASSES
from mebench.errors import OptionError
from mebench.run.plan import load_task_samples
from mebench.registry import default_registry
from mebench_plugins.datasets.synthetic import DEFAULT_PRESET, PRESETS, describe_run, load_synthetic
from mebench_plugins.preprocessors.optical_flow import ApexFrame, TvL1Flow


def test_generation_is_deterministic_and_namespaced():
    a = load_synthetic(subjects=3, clips_per_subject=4, size=48)
    b = load_synthetic(subjects=3, clips_per_subject=4, size=48)
    assert [s.id for s in a] == [s.id for s in b]
    assert all(s.id.startswith("synthetic/s0") and s.subject.startswith("synthetic/") for s in a)
    assert np.array_equal(a[5].frames.load(a[5].apex), b[5].frames.load(b[5].apex))
    other = load_synthetic(subjects=3, clips_per_subject=4, size=48, seed=1)[5]
    assert not np.array_equal(a[5].frames.load(a[5].onset), other.frames.load(other.onset))
    assert len({s.subject for s in a}) == 3 and len(a) == 12


@pytest.mark.parametrize("preset", list(PRESETS))
def test_preset_size_and_all_classes_present(preset):
    samples = load_synthetic(preset=preset)
    assert len(samples) == PRESETS[preset]["subjects"] * PRESETS[preset]["clips_per_subject"]
    assert {s.label for s in samples} == set(CLASSES)
    assert all(s.cropped is True and s.corrections == () for s in samples)


def test_the_default_preset_is_the_quick_starts_and_suggests_its_training_budget(registry):
    from mebench.run.plan import RunConfig, plan_run

    assert DEFAULT_PRESET == "start" and load_synthetic()[0].fingerprint == load_synthetic(preset="start")[0].fingerprint
    plan = plan_run(RunConfig(model="waspp", dataset="synthetic", device="cpu", precision="fp32"), registry)
    assert (plan.settings.epochs, plan.settings.batch_size) == (3, 8)
    assert plan.resolved["batch_size"] == 8 and plan.identity["batch_size"] == 8
    # an explicit batch size wins, and the other presets keep the paper's batch of 32
    assert plan_run(RunConfig(model="waspp", dataset="synthetic", batch_size=16, device="cpu", precision="fp32"),
                    registry).settings.batch_size == 16
    quick = plan_run(RunConfig(model="waspp", dataset="synthetic", dataset_options={"preset": "quick"},
                               device="cpu", precision="fp32"), registry)
    assert (quick.settings.epochs, quick.settings.batch_size) == (3, 32)


@pytest.mark.parametrize("options, allowed", [
    ({"subjects": 0}, "takes subjects as an integer ≥ 2 (leave-one-subject-out needs two subjects); got 0"),
    ({"subjects": 1}, "takes subjects as an integer ≥ 2"),
    ({"subjects": "abc"}, "takes subjects as an integer ≥ 2 (leave-one-subject-out needs two subjects); got 'abc'"),
    ({"subjects": True}, "takes subjects as an integer ≥ 2"),
    ({"preset": "nosuch"}, "takes preset as one of start, quick, standard; got 'nosuch'"),
    ({"clips_per_subject": 0}, "takes clips_per_subject as an integer ≥ 1; got 0"),
    ({"size": 2.5}, "takes size as an integer ≥ 48; got 2.5"),
])
def test_options_out_of_range_or_of_the_wrong_type_are_refused(options, allowed):
    with pytest.raises(OptionError) as error:
        load_task_samples(default_registry().datasets.get("synthetic"), None, options)
    name, value = next(iter(options.items()))
    assert str(error.value).startswith(f"--dataset-opt {name}={value}: dataset 'synthetic' ")
    assert allowed in str(error.value)


def test_describe_run_states_the_numbers_used():
    assert describe_run({"preset": "start", "batch_size": 8}, epochs=3).startswith(
        "synthetic: 4 subjects, 32 clips, 3 epochs, batch 8 (preset 'start', obvious class signal): "
        "a reduced configuration")
    assert describe_run({"preset": "quick"}, epochs=3).startswith(
        "synthetic: 4 subjects, 64 clips, 3 epochs (preset 'quick', easy class signal): a reduced configuration")
    line = describe_run({"preset": "quick", "subjects": 3, "clips_per_subject": 4}, epochs=1)
    assert line.startswith("synthetic: 3 subjects, 12 clips, 1 epoch (preset 'quick' with subjects=3, "
                           "clips_per_subject=4, easy class signal): a reduced configuration")
    assert describe_run({"preset": "standard"}, epochs=10) == (
        "synthetic: 10 subjects, 120 clips, 10 epochs (preset 'standard', standard class signal): "
        "the documented learnability configuration.")
    assert "a reduced configuration" in describe_run({"preset": "standard"}, epochs=2)
    assert describe_run({"preset": "standard", "subjects": 3, "epochs": 2, "batch_size": 32}).startswith(
        "synthetic: 3 subjects, 36 clips, 2 epochs, batch 32 (preset 'standard' with subjects=3, standard class "
        "signal): a reduced configuration")  # as the runner calls it
    assert len(load_synthetic(subjects=3, clips_per_subject=4, size=48)) == 12  # what the line says is what runs


@pytest.mark.slow
def test_motion_peaks_at_apex_and_is_class_specific():
    samples = load_synthetic(subjects=4, clips_per_subject=12, size=96)
    mouth_v = {c: [] for c in CLASSES}
    for sample in samples:
        frames = sample.frames
        onset = frames.load(sample.onset).astype(float)
        motion = [np.abs(frames.load(i).astype(float) - onset).mean() for i in frames.indices()]
        assert abs(int(np.argmax(motion)) - (sample.apex - sample.onset)) <= 1  # sensor noise blurs the peak
        item = TvL1Flow(size=0)(ApexFrame()({"sample": sample}))  # native 96×96: the crop below is in its pixels
        # vertical flow around the lower face: lip corners go up (v < 0) for positive clips
        mouth_v[sample.label].append(item["flow"][62:80, 30:66, 1].mean())
    assert np.mean(mouth_v["positive"]) < np.mean(mouth_v["negative"])
    assert np.mean(mouth_v["positive"]) < np.mean(mouth_v["surprise"])
