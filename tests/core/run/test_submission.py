"""Challenge submissions (``mebench submit``, ``mebench.run.submission``): a spotter trained on every labelled video of
the training tasks, run on a folder of unlabelled videos, its file read back by ``mebench score``."""

import csv
import json
import types
from pathlib import Path

import cv2
import numpy as np
import pytest

from mebench.api import InputSpec, ModelSpec, hookimpl
from mebench.errors import DataError
from mebench.run.submission import index_video, read_unlabelled_videos
from tests.conftest import mebench_cli, tiny_registry

HEADER = "vid,pred_onset,pred_offset,type"  # MEGC2022–2023 spotting


class LearnedThresholdSpotter:
    """A small learning spotter: per frame the mean absolute change since the frame 3 before over 8 × 8 blocks;
    the threshold leaves as many training frames above it as the training videos annotate. ``FITTED`` records
    the ids of the videos each fit saw."""

    FITTED: list[list[str]] = []

    def __init__(self):
        self.threshold = None

    @staticmethod
    def energy(video):
        numbers = np.asarray(video.frames.indices())
        frames = np.stack([video.frames.load(n) for n in numbers]).astype(np.float32)
        count, height, width = frames.shape
        blocks = frames[:, :height // 8 * 8, :width // 8 * 8].reshape(count, height // 8, 8, width // 8, 8).mean(
            axis=(2, 4))
        energy = np.zeros(count, np.float32)
        energy[3:] = np.abs(blocks[3:] - blocks[:-3]).mean(axis=(1, 2))
        return numbers, energy

    def fit(self, videos):
        LearnedThresholdSpotter.FITTED.append([video.id for video in videos])
        energies, annotated = [], []
        for video in videos:
            numbers, energy = self.energy(video)
            inside = np.zeros(len(numbers), bool)
            for interval in video.intervals:
                inside |= (numbers >= interval.onset) & (numbers <= interval.offset)
            energies.append(energy)
            annotated.append(inside)
        self.threshold = float(np.quantile(np.concatenate(energies), 1 - np.concatenate(annotated).mean()))

    def spot_video(self, video):
        numbers, energy = self.energy(video)
        above = np.flatnonzero(energy > self.threshold)
        runs = np.split(above, np.flatnonzero(np.diff(above) > 3) + 1) if above.size else []
        found = []
        for run in runs:
            onset, offset = int(numbers[max(run[0] - 3, 0)]), int(numbers[run[-1]])
            found.append((onset, offset, "me" if (offset - onset + 1) / video.fps <= 0.5 else "mae"))
        return found


class WholeVideoSpotter:
    """Spots each video as one ME from its first to its last frame: shows which frame numbers a file gets."""

    def spot_video(self, video):
        numbers = video.frames.indices()
        return [(numbers[0], numbers[-1], "me")]


class PastTheEndSpotter:
    """Answers an interval that runs one frame past the video's last."""

    def spot_video(self, video):
        numbers = video.frames.indices()
        return [(numbers[0], numbers[-1] + 1, "me")]


def spotter_plugin():
    module = types.ModuleType("submission_test_spotters")

    @hookimpl
    def mebench_register_models(register):
        for name, spotter in (("learned-threshold", LearnedThresholdSpotter), ("whole-video", WholeVideoSpotter),
                              ("past-the-end", PastTheEndSpotter)):
            register(ModelSpec(name=name, factory=lambda num_classes, input_spec, spotter=spotter: spotter(),
                               input_spec=InputSpec(1, 1, 1, scaling="none"), preprocessing=(), learner="spotter"))

    module.mebench_register_models = mebench_register_models
    return module


@pytest.fixture
def spotters(monkeypatch):
    """``mebench`` with the test spotters registered beside the installed plugins."""
    registry = tiny_registry(spotter_plugin())
    monkeypatch.setattr("mebench.cli.default_registry", lambda: registry)
    LearnedThresholdSpotter.FITTED.clear()
    return registry


def synthetic_videos():
    from mebench_plugins.datasets.synthetic_long import load_synthetic_long

    return load_synthetic_long(preset="quick")


def write_unlabelled(videos, folder: Path, first: int = 1) -> Path:
    """Each video's frames as ``<folder>/<video>/img<NNN>.png`` (lossless), numbered from ``first``."""
    for video in videos:
        (folder / video.video).mkdir(parents=True)
        for position, number in enumerate(video.frames.indices()):
            cv2.imwrite(str(folder / video.video / f"img{first + position:03d}.png"), video.frames.load(number))
    return folder


def megc_counts(predicted, truth):
    """Per type: predictions, ground truth and TP by the MEGC rule, computed here: a ground-truth interval is found
    when a prediction of its video and type overlaps it at IoU ≥ 0.5 (intersection min(offsets) − max(onsets) + 1,
    a single-frame interval overlaps nothing)."""
    def iou(a, b):
        if a[0] == a[1] or b[0] == b[1]:
            return 0.0
        shared = max(0, min(a[1], b[1]) - max(a[0], b[0])) + 1
        return shared / ((a[1] - a[0] + 1) + (b[1] - b[0] + 1) - shared)

    counts = {}
    for kind in ("me", "mae"):
        guesses = [p for p in predicted if p[3] == kind]
        truths = [t for t in truth if t[3] == kind]
        found = sum(any(p[0] == t[0] and iou(p[1:3], t[1:3]) >= 0.5 for p in guesses) for t in truths)
        counts[kind] = {"predictions": len(guesses), "truth": len(truths), "tp": found,
                        "fp": len(guesses) - found, "fn": len(truths) - found}
    return counts


def test_a_submission_read_back_by_mebench_score_holds_what_the_spotter_trained_on_every_video_found(
        spotters, tmp_path):
    videos = synthetic_videos()
    folder = write_unlabelled(videos, tmp_path / "unlabelled")
    (folder / "fps.csv").write_text("vid,fps\n" + "".join(f"{video.video},30\n" for video in videos))
    output = tmp_path / "submission.csv"
    result = mebench_cli("submit", "--model", "learned-threshold", "--train", "synthetic-long", "--dataset-opt",
                         "preset=quick", "--videos", folder, "--format", "megc2023", "--output", output)
    assert result.exit_code == 0, result.output
    # trained once, on every labelled video of the task: no fold held out
    assert LearnedThresholdSpotter.FITTED == [[video.id for video in videos]]

    text = output.read_text()
    assert text.splitlines()[0] == HEADER
    with open(output, newline="") as handle:
        rows = list(csv.DictReader(handle))
    written = [(row["vid"], int(row["pred_onset"]), int(row["pred_offset"]), row["type"]) for row in rows]
    # the same spotter fitted here, run on the videos themselves (frames numbered from 1, as their files)
    spotter = LearnedThresholdSpotter()
    spotter.fit(videos)
    direct = sorted((video.video, onset, offset, kind) for video in videos
                    for onset, offset, kind in spotter.spot_video(video))
    assert sorted(written) == direct and direct

    truth = [(video.video, interval.onset, interval.offset, interval.kind) for video in videos
             for interval in video.intervals]
    with open(tmp_path / "gt.csv", "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["vid", "onset", "offset", "type", "subject"])
        writer.writerows([*row, row[0].split("_")[0]] for row in truth)
    scored = mebench_cli("score", output, "--task", "spotting", "--ground-truth", tmp_path / "gt.csv", "--json")
    assert scored.exit_code == 0, scored.output
    figures = json.loads(scored.stdout)
    expected = megc_counts(direct, truth)
    assert sum(cells["tp"] for cells in expected.values()) > 0  # something found: the counts are not all trivial
    for kind in ("me", "mae"):
        assert {cell: figures[kind][cell] for cell in expected[kind]} == expected[kind], kind
    assert figures["overall"]["tp"] == expected["me"]["tp"] + expected["mae"]["tp"]
    assert figures["videos"] == len(videos) - len({v.video for v in videos} - {t[0] for t in truth})


def test_frame_numbers_in_the_file_are_the_videos_own_file_numbers(spotters, tmp_path):
    videos = synthetic_videos()[:2]
    folder = write_unlabelled(videos, tmp_path / "unlabelled", first=101)  # img101.png … img460.png
    output = tmp_path / "submission.csv"
    result = mebench_cli("submit", "--model", "whole-video", "--train", "synthetic-long", "--dataset-opt",
                         "preset=quick", "--videos", folder, "--fps", "200", "--output", output)
    assert result.exit_code == 0, result.output
    assert output.read_text() == f"{HEADER}\ns01_v01,101,460,me\ns01_v02,101,460,me\n"


def test_a_video_takes_its_frame_rate_from_fps_csv_before_the_option(tmp_path):
    folder = write_unlabelled(synthetic_videos()[:2], tmp_path / "unlabelled")
    (folder / "fps.csv").write_text("vid,fps\ns01_v02,200\n")
    first, second = read_unlabelled_videos(folder, fps=30)
    assert (first.video, first.fps, second.video, second.fps) == ("s01_v01", 30.0, "s01_v02", 200.0)
    assert first.frames.indices() == list(range(1, 361))
    assert np.array_equal(first.frames.load(7), synthetic_videos()[0].frames.load(7))


@pytest.mark.parametrize("case, message", [
    ("empty", "unlabelled: holds no video folders — put each unlabelled video's frames in a sub-folder of its own"),
    ("no frames", "s01_v02: video folder holds no frames (.jpg, .jpeg, .png, .bmp) — put the video's frames in it"),
    ("no rate", "s01_v01: no frame rate for this video — pass --fps N, or list it in"),
    ("format", "--format 'megc2019': mebench writes megc2023 (spot-then-recognise forms megc2024-str, "
               "megc2025-str are not written yet)"),
    ("str", "the spot-then-recognise submission form is not written yet; use --format megc2023"),
    ("not a spotter", "--model 'tiny' is not a spotter; a submission needs one (e.g. mdmd)"),
    ("not spotting", "--train 'synthetic' is not a spotting task"),
    ("past the end", "spotter PastTheEndSpotter on video unlabelled/s01_v01/s01_v01: interval (1, 361, 'me') is not one of its "
                     "frames 1..360 with a type among me, mae"),
])
def test_bad_input_is_one_line_naming_what_and_the_fix(spotters, tmp_path, case, message):
    folder = tmp_path / "unlabelled"
    folder.mkdir()
    if case != "empty":
        write_unlabelled(synthetic_videos()[:1], folder)  # s01_v01
    if case == "no frames":
        (folder / "s01_v02").mkdir()
        (folder / "s01_v02" / "notes.txt").write_text("not a frame")
    model = {"not a spotter": "tiny", "past the end": "past-the-end"}.get(case, "whole-video")
    args = ["submit", "--model", model,
            "--train", "synthetic" if case == "not spotting" else "synthetic-long", "--videos", folder,
            "--output", tmp_path / "submission.csv",
            "--format", {"format": "megc2019", "str": "megc2025-str"}.get(case, "megc2023")]
    if case != "no rate":
        args += ["--fps", "30"]
    result = mebench_cli(*args)
    assert result.exit_code in (1, 2) and "Traceback" not in result.output
    errors = [line for line in result.stderr.splitlines() if not line.startswith("training ")]  # the progress line
    assert len(errors) == 1 and errors[0].startswith("Error: ") and message in errors[0], result.stderr
    assert not (tmp_path / "submission.csv").exists()


def test_frames_are_numbered_by_the_last_digits_of_their_names_and_one_number_twice_is_refused(tmp_path):
    from mebench.frame_files import number_frames

    folder = tmp_path / "006_1"
    folder.mkdir()
    image = np.full((4, 4), 7, np.uint8)
    for name in ("006_1_0046.jpg", "006_1_0009.png", "notes.txt"):
        cv2.imwrite(str(folder / name), image) if name.endswith(("jpg", "png")) else (folder / name).write_text("x")
    frames = index_video(folder)
    assert frames.files == ((9, "006_1_0009.png"), (46, "006_1_0046.jpg"))
    assert np.array_equal(frames.load(9), image)
    cv2.imwrite(str(folder / "006_1_046.bmp"), image)
    with pytest.raises(DataError, match=r"006_1: two frames numbered 46: 006_1_0046.jpg and 006_1_046.bmp — keep "
                                        r"one file per frame"):
        number_frames(folder)
