import numpy as np

from mebench.data import CLASSES
from mebench_plugins.datasets.synthetic import PRESETS, load_synthetic
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


def test_quick_preset_size_and_all_classes_present():
    samples = load_synthetic()
    assert len(samples) == PRESETS["quick"]["subjects"] * PRESETS["quick"]["clips_per_subject"]
    assert {s.label for s in samples} == set(CLASSES)


def test_motion_peaks_at_apex_and_is_class_specific():
    samples = load_synthetic(subjects=4, clips_per_subject=12, size=96)
    mouth_v = {c: [] for c in CLASSES}
    for sample in samples:
        frames = sample.frames
        onset = frames.load(sample.onset).astype(float)
        motion = [np.abs(frames.load(i).astype(float) - onset).mean() for i in frames.indices()]
        assert abs(int(np.argmax(motion)) - (sample.apex - sample.onset)) <= 1  # sensor noise blurs the peak
        item = TvL1Flow()(ApexFrame()({"sample": sample}))
        # vertical flow around the lower face: lip corners go up (v < 0) for positive clips
        mouth_v[sample.label].append(item["flow"][62:80, 30:66, 1].mean())
    assert np.mean(mouth_v["positive"]) < np.mean(mouth_v["negative"])
    assert np.mean(mouth_v["positive"]) < np.mean(mouth_v["surprise"])
