import cv2
import numpy as np
import pytest

from mebench.data import InputSpec, PreprocessingStep
from mebench.errors import PreprocessingError
from mebench.run.preprocessing import build_chain, prepare, process_sample
from mebench_plugins.datasets.synthetic import load_synthetic
from mebench_plugins.preprocessors.optical_flow import ApexFrame, FaceCrop, FlowStack, TvL1Flow, optical_strain_magnitude


def test_tvl1_recovers_a_known_subpixel_shift():
    rng = np.random.default_rng(0)
    texture = cv2.GaussianBlur(rng.uniform(0, 255, (64, 64)).astype(np.float32), (0, 0), 2.0)
    onset = cv2.normalize(texture, None, 0, 255, cv2.NORM_MINMAX).astype(np.uint8)
    shift = np.float32([[1, 0, 0.8], [0, 1, -0.5]])
    apex = cv2.warpAffine(onset, shift, (64, 64), borderMode=cv2.BORDER_REFLECT)
    flow = TvL1Flow(size=0)({"onset_frame": onset, "apex_frame": apex, "sample": None})["flow"]
    centre = flow[16:48, 16:48]
    assert centre[..., 0].mean() == pytest.approx(0.8, abs=0.15)
    assert centre[..., 1].mean() == pytest.approx(-0.5, abs=0.15)


def test_optical_strain_of_linear_flow_fields():
    yy, xx = np.mgrid[0:20, 0:20].astype(np.float32)
    stretch = np.stack([0.1 * xx, np.zeros_like(xx)], axis=-1)  # u = 0.1x: pure normal strain 0.1
    assert optical_strain_magnitude(stretch)[5:15, 5:15] == pytest.approx(0.1, abs=1e-5)
    shear = np.stack([0.2 * yy, np.zeros_like(xx)], axis=-1)  # u = 0.2y: e_xy = 0.1, magnitude sqrt(2)*0.1
    assert optical_strain_magnitude(shear)[5:15, 5:15] == pytest.approx(np.sqrt(2) * 0.1, abs=1e-5)
    rotation = np.stack([-0.1 * yy, 0.1 * xx], axis=-1)  # rigid rotation has no strain
    assert optical_strain_magnitude(rotation)[5:15, 5:15] == pytest.approx(0.0, abs=1e-5)


def test_missing_apex_falls_back_to_the_frame_of_maximum_motion():
    sample = load_synthetic(subjects=2, clips_per_subject=1, size=48)[0]
    from dataclasses import replace

    unannotated = replace(sample, apex=None)
    item = ApexFrame()({"sample": unannotated})
    assert item["apex_index"] == sample.apex  # the synthetic motion peaks at the annotated apex


class CountingStep(PreprocessingStep):
    name = "counting"
    calls = 0

    def __call__(self, item):
        type(self).calls += 1
        item["image"] = np.full((8, 8, 3), float(item["sample"].onset), np.float32)
        return item


def test_second_prepare_reads_the_cache_and_recomputes_nothing(tmp_path):
    samples = load_synthetic(subjects=2, clips_per_subject=3, size=48)
    spec = InputSpec(3, 4, 4)
    first = prepare(samples, [CountingStep()], spec, cache_dir=tmp_path, workers=1, progress=False)
    assert CountingStep.calls == 6
    second = prepare(samples, [CountingStep()], spec, cache_dir=tmp_path, workers=1, progress=False)
    assert CountingStep.calls == 6
    assert np.array_equal(first.x.numpy(), second.x.numpy())
    assert first.x.shape == (6, 3, 4, 4)
    # a different output size is a different cache entry
    prepare(samples, [CountingStep()], InputSpec(3, 5, 5), cache_dir=tmp_path, workers=1, progress=False)
    assert CountingStep.calls == 12


@pytest.mark.slow
def test_parallel_and_serial_preprocessing_agree(registry, tmp_path):
    samples = load_synthetic(subjects=4, clips_per_subject=8, size=48)  # 32: enough for the process pool
    # flow at the frames' own 48 px keeps this test fast; the pre-flow size is tested on its own
    chain = build_chain(registry, ("apex_frame", ("tvl1_flow", {"size": 48}), "optical_strain", "flow_stack"))
    spec = InputSpec(3, 16, 16)
    serial = prepare(samples, chain, spec, cache_dir=None, workers=1, progress=False)
    parallel = prepare(samples, chain, spec, cache_dir=None, workers=2, progress=False)
    assert np.allclose(serial.x.numpy(), parallel.x.numpy())
    assert serial.sample_ids == [s.id for s in samples]


def test_a_failing_step_names_the_sample_and_the_step():
    class Broken(PreprocessingStep):
        name = "broken"

        def __call__(self, item):
            raise ValueError("cannot read frame")

    sample = load_synthetic(subjects=2, clips_per_subject=1, size=48)[0]
    with pytest.raises(PreprocessingError, match=f"{sample.id}.*'broken'.*cannot read frame"):
        process_sample(sample, [Broken()], InputSpec(3, 8, 8))


def test_channel_mismatch_with_the_model_is_refused():
    sample = load_synthetic(subjects=2, clips_per_subject=1, size=48)[0]
    with pytest.raises(PreprocessingError, match="gives 3 channels but the model expects 2"):
        process_sample(sample, [CountingStep()], InputSpec(2, 8, 8))


def test_face_crop_box_and_a_frame_without_a_face():
    from mebench_plugins.preprocessors.optical_flow import FaceCrop, crop_box

    assert crop_box((10, 20, 50, 40), 0.1, (100, 64)) == (16, 64, 5, 64)
    blank = np.full((120, 120), 128, np.uint8)
    sample = load_synthetic(subjects=2, clips_per_subject=1, size=48)[0]
    item = {"sample": sample, "onset_frame": blank, "apex_frame": blank}
    with pytest.raises(PreprocessingError, match=f"{sample.id}.*'face_crop'.*no face found"):
        process_sample(sample, [_Frames(blank), FaceCrop()], InputSpec(3, 8, 8))
    kept = FaceCrop(on_miss="keep")(dict(item))
    assert kept["face_box"] is None and kept["onset_frame"].shape == (120, 120)


class _Frames(PreprocessingStep):
    name = "frames"

    def __init__(self, frame):
        self.frame = frame

    def __call__(self, item):
        item.update(onset_frame=self.frame, apex_frame=self.frame)
        return item


def _rendered_face(size, shift):
    """The same smooth texture and the same motion (a shift of ``shift`` × image width) at any resolution."""
    yy, xx = (np.mgrid[0:size, 0:size].astype(np.float32) + 0.5) / size
    xx = xx - shift
    texture = (np.sin(2 * np.pi * 3 * xx) * np.cos(2 * np.pi * 2 * yy) + 0.6 * np.sin(2 * np.pi * (5 * xx + 4 * yy))
               + 0.4 * np.cos(2 * np.pi * 7 * yy - 1.0))
    return cv2.normalize(texture, None, 0, 255, cv2.NORM_MINMAX).astype(np.uint8)


def _central_flow(frames_size, pre_flow_size):
    onset, apex = _rendered_face(frames_size, 0.0), _rendered_face(frames_size, 0.012)
    flow = TvL1Flow(size=pre_flow_size)({"onset_frame": onset, "apex_frame": apex, "sample": None})["flow"]
    h = flow.shape[0]
    return float(flow[h // 4: 3 * h // 4, h // 4: 3 * h // 4, 0].mean())


def test_one_motion_at_two_resolutions_gives_the_same_flow_after_the_common_pre_flow_size():
    small, large = _central_flow(96, 128), _central_flow(240, 128)
    assert small == pytest.approx(0.012 * 128, rel=0.15)
    assert large == pytest.approx(small, rel=0.1)
    # at each dataset's native size the same motion differs by the ratio of face sizes
    assert _central_flow(240, 0) / _central_flow(96, 0) == pytest.approx(240 / 96, rel=0.15)


def test_the_default_chain_records_the_pre_flow_size_and_frame_rule_in_its_config():
    assert TvL1Flow().config["size"] == 128
    assert ApexFrame().config["target"] == "apex" and ApexFrame(target="middle").config["target"] == "middle"
    assert FaceCrop(when="auto").config["when"] == "auto"
    with pytest.raises(ValueError, match="target must be one of"):
        ApexFrame(target="peak")


def test_middle_frame_rule_picks_the_frame_midway_between_onset_and_offset():
    from dataclasses import replace

    sample = load_synthetic(subjects=2, clips_per_subject=1, size=48)[0]
    item = ApexFrame(target="middle")({"sample": sample})
    indices = [i for i in sample.frames.indices() if sample.onset <= i <= sample.offset]
    assert item["apex_index"] == indices[(len(indices) - 1) // 2] and item["target_rule"] == "middle"
    assert np.array_equal(item["apex_frame"], sample.frames.load(item["apex_index"]))
    # the apex annotation plays no part in the middle rule
    moved = replace(sample, apex=sample.offset)
    assert ApexFrame(target="middle")({"sample": moved})["apex_index"] == item["apex_index"]
    assert ApexFrame()({"sample": moved})["apex_index"] == sample.offset


def test_auto_face_crop_crops_only_copies_that_are_not_already_cropped():
    from dataclasses import replace

    sample = load_synthetic(subjects=2, clips_per_subject=1, size=48)[0]
    blank = np.full((120, 120), 128, np.uint8)
    item = FaceCrop(when="auto")({"sample": sample, "onset_frame": blank, "apex_frame": blank})
    assert item["face_cropped"] is False and item["onset_frame"].shape == (120, 120)  # cropped=True: untouched
    uncropped = replace(sample, cropped=False)
    with pytest.raises(PreprocessingError, match="no face found"):  # cropped=False: it looks for the face
        process_sample(uncropped, [_Frames(blank), FaceCrop(when="auto")], InputSpec(3, 8, 8))
    kept = FaceCrop(when="auto", on_miss="keep")({"sample": uncropped, "onset_frame": blank, "apex_frame": blank})
    assert kept["face_cropped"] is False and kept["face_box"] is None


def test_minmax_flow_stack_scales_each_channel_of_each_sample_to_the_unit_range():
    rng = np.random.default_rng(0)
    flow = np.stack([rng.normal(0, 3, (10, 10)), rng.normal(5, 0.1, (10, 10))], axis=-1).astype(np.float32)
    image = FlowStack("v,u", normalise="minmax")({"flow": flow})["image"]
    assert image.shape == (10, 10, 2)
    assert np.allclose(image.min(axis=(0, 1)), 0, atol=1e-6) and np.allclose(image.max(axis=(0, 1)), 1, atol=1e-6)
    assert np.allclose(image[..., 0], (flow[..., 1] - flow[..., 1].min()) / np.ptp(flow[..., 1]), atol=1e-6)
    raw = FlowStack("u,v")({"flow": flow})["image"]
    assert np.array_equal(raw, flow)


def test_a_face_the_detector_misses_is_noted_for_the_run_and_kept_in_the_cache(tmp_path):
    """on_miss=keep never hides a miss: the sample's notes say so, also when read back from the cache."""
    import dataclasses

    samples = [dataclasses.replace(s, cropped=False)
               for s in load_synthetic(subjects=2, clips_per_subject=2, size=48)]  # cartoon faces: no detection
    chain = [ApexFrame(), FaceCrop(when="auto", on_miss="keep"), TvL1Flow(size=0), FlowStack(channels="u,v")]
    spec = InputSpec(2, 16, 16)
    first = prepare(samples, chain, spec, cache_dir=tmp_path, workers=1, progress=False)
    assert {s.id for s in samples} == {i for i, n in first.notes.items() if n.get("face_missed")}
    again = prepare(samples, chain, spec, cache_dir=tmp_path, workers=1, progress=False)
    assert again.notes == first.notes
