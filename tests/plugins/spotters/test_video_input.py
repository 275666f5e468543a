"""A spotter's input at video scale (``mebench_plugins.spotters.video_input``): frames streamed one at a time,
the face cropped once per video and resized, per-video cache, videos in worker processes."""

from __future__ import annotations

import json
from dataclasses import dataclass

import cv2
import numpy as np
import pytest

from mebench.data import FrameSource
from mebench.errors import DataError, OptionError
from mebench.long_videos import LongVideo
from mebench.run.plan import RunConfig, plan_run
from mebench.run.runner import run
from mebench_plugins.datasets import synthetic_long
from mebench_plugins.spotters import feature_difference, mdmd, video_input
from mebench_plugins.spotters.registered import HandCraftedSpotter, _build
from tests.conftest import QUIET


class Tracked(np.ndarray):
    """A frame as a source loads it: counts how many loaded frames are alive at once (views share their base)."""

    live = 0
    peak = 0

    def __del__(self):
        if self.__dict__.get("counted"):
            Tracked.live -= 1


@dataclass
class CountingFrames(FrameSource):
    """Frames 1..T of a (T, H, W) array, each loaded as a fresh ``Tracked`` copy; counts the loads."""

    frames: np.ndarray
    loads: int = 0

    def indices(self):
        return list(range(1, len(self.frames) + 1))

    def load(self, index):
        self.loads += 1
        frame = np.array(self.frames[index - 1]).view(Tracked)
        frame.counted = True
        Tracked.live += 1
        Tracked.peak = max(Tracked.peak, Tracked.live)
        return frame


def long_video(frames: np.ndarray, cropped: bool | None = False, fingerprint: str = "f" * 64,
               video: str = "v") -> LongVideo:
    return LongVideo("toy-long", "toy-long/s1", video, 30.0, CountingFrames(frames), len(frames), cropped=cropped,
                     fingerprint=fingerprint)


def drawn_face(side: int = 120) -> np.ndarray:
    """synthetic-long's drawn face as an 8-bit image of ``side`` × ``side`` pixels."""
    _, face = synthetic_long._face(0, 1, 128)
    return cv2.resize(np.clip(face, 0, 255).astype(np.uint8), (side, side))


def test_the_face_video_is_the_box_of_each_frame_resized_reading_one_full_size_frame_at_a_time():
    # 12 frames of 240 × 320: the box (rows 40..100, columns 100..160) holds the value 10 + t in frame t, the rest 200
    frames = np.full((12, 240, 320), 200, np.uint8)
    for t in range(12):
        frames[t, 40:100, 100:160] = 10 + t
    video = long_video(frames)
    Tracked.live = Tracked.peak = 0
    faces = video_input.face_video(video, size=48, box=(40, 100, 100, 160))
    assert faces.shape == (12, 48, 48) and faces.dtype == np.uint8
    np.testing.assert_array_equal(faces, np.broadcast_to((10 + np.arange(12, dtype=np.uint8))[:, None, None],
                                                         (12, 48, 48)))
    assert video.frames.loads == 12 and Tracked.peak == 1


def test_the_haar_cascade_finds_a_drawn_face_on_the_first_frames_and_keeps_its_box():
    frames = np.full((6, 240, 320), 90, np.uint8)
    frames[:, 60:180, 150:270] = drawn_face()  # the face: rows 60..179, columns 150..269
    frames[1:, 0:40, 0:40] = 0  # later frames differ outside the face; the box comes from the first
    video = long_video(frames)
    Tracked.live = Tracked.peak = 0
    top, bottom, left, right = video_input.find_face(video)
    assert video.frames.loads == 1 and Tracked.peak == 1  # found on the first frame
    # the box covers the drawn face's centre and lies within a margin of its edges
    assert top <= 120 <= bottom and left <= 210 <= right
    assert abs(top - 60) <= 20 and abs(bottom - 180) <= 20 and abs(left - 150) <= 20 and abs(right - 270) <= 20
    faces = video_input.face_video(video)  # size 0: the authors' 227 for a face cropped here
    assert faces.shape == (6, 227, 227)
    np.testing.assert_array_equal(faces[0], cv2.resize(frames[0, top:bottom, left:right], (227, 227),
                                                      interpolation=cv2.INTER_AREA))


def test_a_video_without_a_face_is_one_line_naming_the_video_and_the_fix():
    video = long_video(np.full((15, 120, 160), 128, np.uint8))
    with pytest.raises(DataError) as error:
        video_input.face_video(video, size=64)
    message = str(error.value)
    assert "\n" not in message and "toy-long/s1/v" in message and "crop=none" in message
    assert video.frames.loads == video_input.FACE_SEARCH_FRAMES  # it looked at the first frames only
    assert video_input.face_video(video, size=64, crop="none").shape == (15, 64, 64)


def test_face_crops_and_unknown_frames_are_used_whole_at_their_size_unless_a_size_is_given():
    rng = np.random.default_rng(0)
    frames = rng.integers(0, 256, (5, 50, 60), dtype=np.uint8)
    for cropped in (True, None):
        np.testing.assert_array_equal(video_input.face_video(long_video(frames, cropped=cropped)), frames)
    np.testing.assert_array_equal(video_input.face_video(long_video(frames), crop="none"), frames)
    resized = video_input.face_video(long_video(frames, cropped=True), size=40)
    np.testing.assert_array_equal(resized[3], cv2.resize(frames[3], (40, 40), interpolation=cv2.INTER_AREA))


def counting_flow(monkeypatch) -> list:
    calls = []
    real = video_input.optical_flow

    def counted(first, second, method):
        calls.append(method)
        return real(first, second, method)

    monkeypatch.setattr(video_input, "optical_flow", counted)
    return calls


def test_the_flows_k_apart_are_cached_per_video_and_read_back_without_computing(tmp_path, monkeypatch):
    calls = counting_flow(monkeypatch)
    rng = np.random.default_rng(1)
    frames = rng.integers(0, 256, (9, 48, 48), dtype=np.uint8)
    video = long_video(frames, cropped=True)
    cache = video_input.VideoCache(tmp_path)
    key = video_input.face_key(video, 0, "auto")
    faces = video_input.cached_face_video(video, 0, "auto", cache)
    first = video_input.cached_flows(video, faces, key, 3, "dis", cache)
    assert len(calls) == 6 and first.shape == (6, 48, 48, 2)
    np.testing.assert_array_equal(first[4], mdmd.optical_flow(frames[4], frames[7], "dis"))
    loads = video.frames.loads
    again = video_input.cached_face_video(video, 0, "auto", cache)
    second = video_input.cached_flows(video, again, key, 3, "dis", cache)
    assert len(calls) == 6 and video.frames.loads == loads  # nothing computed, no frame read
    np.testing.assert_array_equal(second, first)
    video_input.cached_flows(video, again, key, 2, "dis", cache)  # another k: another entry
    assert len(calls) == 6 + 7
    assert not [path for path in tmp_path.rglob("*") if path.name.startswith(".tmp-")]


def test_the_cache_key_holds_the_fingerprint_the_crop_the_size_the_flow_and_k(tmp_path):
    cache = video_input.VideoCache(tmp_path)
    frames = np.zeros((3, 40, 40), np.uint8)
    video = long_video(frames)
    paths = {cache.path(video, "faces", video_input.face_key(video, size, crop))
             for size in (0, 64, 128) for crop in ("auto", "none")}
    assert len(paths) == 6
    key = video_input.face_key(video, 64, "auto")
    flows = {cache.path(video, "flows", {**key, "k": k, "method": method})
             for k in (2, 3) for method in ("dis", "tvl1")}
    assert len(flows) == 4
    other = long_video(frames, fingerprint="e" * 64)
    assert cache.path(other, "faces", key) != cache.path(video, "faces", key)
    assert cache.path(long_video(frames, fingerprint=""), "faces", key) is None  # no fingerprint: never cached


def test_an_entry_whose_computation_fails_leaves_nothing_behind(tmp_path):
    cache = video_input.VideoCache(tmp_path)
    path = cache.path(long_video(np.zeros((2, 8, 8), np.uint8)), "faces", {"side": 8})

    def fails(out):
        out[0] = 1
        raise RuntimeError("interrupted")

    with pytest.raises(RuntimeError):
        cache.array(path, (2, 8, 8), np.uint8, fails)
    assert not path.exists() and not list(path.parent.iterdir())
    written = cache.array(path, (2, 8, 8), np.uint8, lambda out: out.fill(7))
    assert path.exists() and int(written.sum()) == 7 * 128


def short_videos():
    """synthetic-long's quick videos cut to 6 s (180 frames)."""
    return synthetic_long.load_synthetic_long(preset="quick", seconds=6.0)


def mdmd_spotter(**options) -> HandCraftedSpotter:
    given = {"flow": "dis", "k": None, "p": 0.01, "min_length": None, "max_length": None, "blocks": 6,
             "halve_k": True, **options}
    return _build(2, None, spot=mdmd.spot, types=("me", "mae"), per_type=True, min_size=mdmd.MIN_FACE_SIZE, **given)


def test_mdmd_reads_its_cached_flows_on_a_second_run_with_the_answers_it_computes(tmp_path, monkeypatch):
    (video, *_) = short_videos()
    plain = mdmd_spotter().spot_video(video)
    calls = counting_flow(monkeypatch)
    spotter = mdmd_spotter(cache_flows=True)
    first = spotter.spot_video(video, tmp_path)
    computed = len(calls)
    assert computed > 0 and first == plain and first  # float32 flows on disk are OpenCV's own values
    assert spotter.spot_video(video, tmp_path) == first and len(calls) == computed


def test_videos_in_worker_processes_give_the_answers_of_the_serial_path(monkeypatch):
    videos = short_videos()
    spotter = _build(1, None, spot=feature_difference.spot, types=("me",), per_type=False, p=0.05)
    here = []
    spot_video = HandCraftedSpotter.spot_video

    def counted(self, video, cache_dir=None):
        here.append(video.id)
        return spot_video(self, video, cache_dir)

    monkeypatch.setattr(HandCraftedSpotter, "spot_video", counted)
    serial = spotter.spot_videos(videos, workers=1)
    assert len(here) == len(videos)
    monkeypatch.setattr(video_input, "PARALLEL_MIN_FRAMES", 0)
    parallel = spotter.spot_videos(videos, workers=2)
    assert len(here) == len(videos)  # none spotted in this process: all in the workers
    assert parallel == serial and any(serial)


def test_a_face_size_below_the_spotters_smallest_is_refused_in_one_line():
    with pytest.raises(OptionError, match=r"face_size=32: spotter 'mdmd' needs faces of at least 40"):
        mdmd_spotter(face_size=32)
    assert mdmd_spotter(face_size=40).face_size == 40


def test_the_flow_and_the_face_size_are_in_the_run_identity():
    def run_id(**options):
        return plan_run(RunConfig(model="mdmd", dataset="synthetic-long", model_options=options, device="cpu",
                                  precision="fp32")).run_id

    ids = {run_id(), run_id(flow="dis"), run_id(flow="tvl1"), run_id(face_size=128), run_id(face_size=64),
           run_id(crop="none")}
    assert len(ids) == 6


def test_a_run_reads_its_videos_through_the_cache_folder_it_is_given(tmp_path):
    config = RunConfig(model="feature-difference", dataset="synthetic-long", device="cpu", precision="fp32")
    outcome = run(config, output_dir=tmp_path / "results", cache_dir=tmp_path / "cache", **QUIET)
    faces = sorted((tmp_path / "cache" / "spotting").rglob("faces-*.npy"))
    assert len(faces) == len(synthetic_long.load_synthetic_long(preset="quick"))
    # a hand-crafted spotter builds no net: it learns no parameters (the learned ones count their net's)
    assert json.loads((outcome.run_dir / "run.json").read_text())["parameters"] == 0


# --- the learned spotters read the same cache ---------------------------------------------------------------------


def moving_video(count: int = 14) -> LongVideo:
    """``count`` frames of a blurred random texture moving a pixel to the right per frame (flows that are not 0)."""
    texture = cv2.GaussianBlur(np.random.default_rng(5).integers(0, 256, (64, 96), dtype=np.uint8), (7, 7), 0)
    return long_video(np.stack([texture[:, 16 - j // 2:80 - j // 2] for j in range(count)]), cropped=True,
                      fingerprint="e" * 64)


def learned_inputs(name: str, **options):
    """(a fresh spotter of ``name`` (one fold's), its input of a video, the flows per video it needs)."""
    from mebench_plugins.spotters import mean, mtsn, softnet

    if name == "softnet":
        spotter = softnet.SoftNetSpotter(flow="dis", **options)
        spotter.k = {"me": 2}
        return spotter, lambda video: spotter._inputs(video, "me"), lambda video: video.n_frames - 2
    if name == "mtsn":  # the flows k_micro (6 at 30 fps) and 1 apart
        spotter = mtsn.MTSNSpotter(flow="dis", **options)
        return spotter, spotter._inputs, lambda video: (video.n_frames - 6) + (video.n_frames - 1)
    spotter = mean.MeanSpotter(flow="dis", **options)  # k = 3 at 30 fps
    return spotter, spotter._frame_inputs, lambda video: video.n_frames - 3


@pytest.mark.parametrize("name", ["softnet", "mtsn", "mean"])
def test_a_learned_spotter_computes_each_videos_flows_once_for_every_fold_with_the_same_inputs(name, tmp_path,
                                                                                               monkeypatch):
    video = moving_video()
    _, inputs, _ = learned_inputs(name)
    plain = np.array(inputs(video))  # no cache: every flow computed
    calls = counting_flow(monkeypatch)
    first_fold, inputs, flows_needed = learned_inputs(name)
    first_fold.use_cache(tmp_path)
    first = np.array(inputs(video))
    assert len(calls) == flows_needed(video) and np.abs(first).max() > 0
    second_fold, inputs, _ = learned_inputs(name)
    second_fold.use_cache(tmp_path)
    second = np.array(inputs(video))
    assert len(calls) == flows_needed(video)  # the second fold reads them back
    np.testing.assert_array_equal(first, plain)
    np.testing.assert_array_equal(second, plain)
    unkept, inputs, _ = learned_inputs(name, cache_flows=False)  # the face video cached, the flows computed again
    unkept.use_cache(tmp_path)
    np.testing.assert_array_equal(inputs(video), plain)
    assert len(calls) == 2 * flows_needed(video)
