"""Long videos for spotting: the declarations (``mebench.long_videos``), the readers of CAS(ME)², SAMM Long Videos,
SMIC-E and CAS(ME)³ Part A on copies generated here in each distributed layout (nothing is copied from a real
sheet: every row is made up, in the spellings the public readers show), and ``synthetic-long``."""

from __future__ import annotations

import dataclasses
import importlib.util
from pathlib import Path

import cv2
import numpy as np
import openpyxl
import pytest

from mebench import spotting
from mebench.errors import DataError, MebenchError
from mebench.long_videos import KINDS, Interval, LongVideo, LongVideoCheck
from mebench_plugins.datasets.frames import FrameFiles
from mebench_plugins.datasets.long_videos import (read_casme2_long, read_casme3a_long, read_samm_long,
                                                  read_smic_e_long)
from mebench_plugins.datasets.synthetic_long import load_synthetic_long
from tests.kit.database_fixtures import SMIC_E_LOST, SMIC_E_ROWS, write_smic

JPEG = cv2.imencode(".jpg", np.full((8, 8), 128, np.uint8))[1].tobytes()


def _frames(folder: Path, names) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for name in names:
        (folder / name).write_bytes(JPEG)


def _workbook(path: Path, sheets: dict[str, list[list]]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    workbook = openpyxl.Workbook()
    for index, (title, rows) in enumerate(sheets.items()):
        sheet = workbook.active if index == 0 else workbook.create_sheet()
        sheet.title = title
        for row in rows:
            sheet.append(row)
    workbook.save(path)
    return path


def _intervals(check: LongVideoCheck) -> dict[str, list[tuple]]:
    return {video.id: [(i.onset, i.offset, i.kind, i.apex) for i in video.intervals] for video in check.videos}


def _one_line(error: pytest.ExceptionInfo) -> str:
    assert isinstance(error.value, MebenchError)
    text = str(error.value)
    assert "\n" not in text
    return text


# --- the declarations --------------------------------------------------------------------------------------

def test_interval_kinds_are_the_scorer_types():
    assert KINDS == spotting.TYPES


@pytest.mark.parametrize("cells, problem", [
    ((5, 4, "me"), "before its onset"),
    ((4, 5, "micro"), "kind"),
    ((4, 8, "mae", 9), "apex"),
    ((4, 8, "mae", 3), "apex"),
    ((True, 8, "me"), "whole numbers"),
    ((-1, 8, "me"), "whole numbers"),
])
def test_an_interval_refuses_impossible_frames(cells, problem):
    with pytest.raises(ValueError, match=problem):
        Interval(*cells)


def test_a_single_frame_interval_is_one_frame_long():
    assert Interval(7, 7, "me").length == 1
    assert Interval(7, 9, "mae", 8, "happiness").length == 3


def test_a_long_video_keeps_its_intervals_within_its_frames_and_in_order(tmp_path):
    frames = FrameFiles(tmp_path, tuple((n, f"img{n}.jpg") for n in range(3, 13)))
    kwargs = dict(dataset="d", subject="d/s1", video="v1", fps=30, frames=frames, n_frames=10)
    video = LongVideo(**kwargs, intervals=(Interval(3, 5, "me"), Interval(6, 12, "mae")))
    assert video.id == "d/s1/v1" and (video.count("me"), video.count("mae")) == (1, 1)
    with pytest.raises(ValueError, match="outside its frames 3..12"):
        LongVideo(**kwargs, intervals=(Interval(2, 5, "me"),))
    with pytest.raises(ValueError, match="outside its frames 3..12"):
        LongVideo(**kwargs, intervals=(Interval(10, 13, "me"),))
    with pytest.raises(ValueError, match="sorted"):
        LongVideo(**kwargs, intervals=(Interval(6, 12, "mae"), Interval(3, 5, "me")))
    with pytest.raises(ValueError, match="n_frames 9"):
        LongVideo(**{**kwargs, "n_frames": 9})
    with pytest.raises(ValueError, match="namespaced"):
        LongVideo(**{**kwargs, "subject": "s1"})


# --- CAS(ME)² ----------------------------------------------------------------------------------------------

CASME2_CODE = [  # subject number, <video name>_<n>, onset, apex, offset, AU, emotion, type, self-report
    [1, "disgust1_1", 5, 8, 12, "4", "negative", "micro-expression", "disgust"],
    [1, "disgust1_2", 20, 30, 0, "4+7", "negative", "macro-expression", "disgust"],  # offset 0: the apex
    [1, "anger1_1", 10, 0, 41, "4", "negative", "macro-expression", "anger"],  # apex 0: the midpoint, rounded down
    [1, "anger1_2", 50, 58, 70, "10", "negative", "macro-expression", "anger"],  # offset past the last frame
    [2, "disgust1_1", 3, 9, 7, "12", "positive", "micro-expression", "happy"],  # apex after the offset
]


def write_casme2_long(root: Path, code: list[list] | None = None) -> Path:
    """``root/CASME_sq``: the code workbook (no header rows; a video code stored as a number, 401, as some
    copies hold it; ``naming rule1`` not in subject order) and rawpic/ with two subjects; s16's video 0402 has no
    expression."""
    base = root / "CASME_sq"
    for folder in ("s15/15_0101disgustingteeth", "s15/15_0401angryvideo", "s16/16_0101disgustingteeth",
                   "s16/16_0402angryvideo2"):
        _frames(base / "rawpic" / folder, [f"img{n:03d}.jpg" if n < 100 else f"img{n}.jpg" for n in range(1, 61)])
    _workbook(base / "CAS(ME)^2code_final.xlsx", {
        "CASFEcode_final": code if code is not None else CASME2_CODE,
        "naming rule1": [[16, "s16", 2], [15, "s15", 1]],  # by subject number (third column), not by row
        "naming rule2": [["0101", "disgust1"], [401, "anger1"], ["0402", "anger2"]],
    })
    return base


def test_casme2_long_reads_videos_intervals_and_the_organisers_zero_rules(tmp_path):
    check = read_casme2_long(write_casme2_long(tmp_path))
    assert check.dataset == "casme2-long"
    assert check.subjects == ["casme2-long/s15", "casme2-long/s16"]
    assert check.counts == {"me": 2, "mae": 3}
    assert check.total_frames == 240 and all(v.fps == 30 and v.n_frames == 60 for v in check.videos)
    assert _intervals(check) == {
        "casme2-long/s15/0101": [(5, 12, "me", 8), (20, 30, "mae", 30)],
        "casme2-long/s15/0401": [(10, 41, "mae", 25), (50, 60, "mae", 58)],
        "casme2-long/s16/0101": [(3, 7, "me", None)],
        "casme2-long/s16/0402": [],  # a video without any expression is a video of the set
    }
    assert check.videos[0].intervals[0].emotion == "negative"
    notes = check.corrections
    assert len(notes) == 4
    assert any("row 2" in n and "offset 0 means missing; used the apex 30" in n for n in notes)
    assert any("row 3" in n and "apex 0 means missing; used the midpoint 25" in n for n in notes)
    assert any("row 4" in n and "offset 70 is past the video's last frame 60; used 60" in n for n in notes)
    assert any("row 5" in n and "apex 9 is outside onset..offset (3..7)" in n for n in notes)
    assert "casme2-long: 4 videos, 2 subjects, 2 ME and 3 MaE intervals, 240 frames" in check.render()


def test_casme2_long_strict_refuses_the_slips_it_otherwise_corrects(tmp_path):
    with pytest.raises(DataError, match="row 2.*offset 0 means missing"):
        read_casme2_long(write_casme2_long(tmp_path), strict=True)


@pytest.mark.parametrize("row, problem", [
    ([1, "disgust1_3", 30, 25, 20, "4", "negative", "micro-expression", ""], "offset 20 is before onset 30"),
    ([1, "disgust1_3", 3, 4, 5, "4", "negative", "tiny", ""], "'tiny' is neither a micro- nor a macro-expression"),
    ([1, "fear1_1", 3, 4, 5, "4", "negative", "micro-expression", ""], "video name 'fear1' (of 'fear1_1') is not"),
    ([3, "disgust1_1", 3, 4, 5, "4", "negative", "micro-expression", ""], "subject number '3' is not"),
    ([1, "anger2_1", 3, 4, 5, "4", "negative", "micro-expression", ""], "no folder of video 0402"),
    ([1, "disgust1_3", 70, 75, 80, "4", "negative", "micro-expression", ""], "lies outside the video's frames 1..60"),
])
def test_casme2_long_refuses_a_blocking_row_in_one_line_naming_file_and_row(tmp_path, row, problem):
    with pytest.raises(DataError) as error:
        read_casme2_long(write_casme2_long(tmp_path, CASME2_CODE + [row]))
    text = _one_line(error)
    assert problem in text and "row 6" in text
    assert "CAS(ME)^2code_final.xlsx" in text and " — " in text  # the file, and a fix after the dash


# --- SAMM Long Videos --------------------------------------------------------------------------------------

SAMM_TITLE = [["SAMM Long Videos"], ["Facial Action Coding of movements"], [], ["Release V1"], [], [], [], [], []]
SAMM_HEADER = ["Subject", "Filename", "Inducement Code", "Onset", "Apex", "Offset", "Duration", "Type",
               "Action Units", "Notes"]
SAMM_ROWS = [
    ["006", "006_1_1", 1, 5, 10, 15, 11, "Micro - 1/2", "4", None],
    [6, "006_1_2", 1, 0, 30, 50, 51, "Macro", "12", None],  # onset 0: the first frame
    ["007", "007_1_1", 2, 20, -1, 28, 9, "Micro - 1/2", "R2", None],  # apex -1: unknown
    ["007", "007_1_2", 2, 40, 45.5, 60, 21, "Macro", "6+12", None],  # a fraction: rounded half up
    ["007", "007_1_3", 2, 62, 90, 70, 9, "Macro", "4", None],  # apex after the offset: unknown
]


def write_samm_long(root: Path, rows: list[list] | None = None) -> Path:
    base = root / "SAMMLV"
    for video in ("006_1", "006_2", "007_1"):
        _frames(base / "SAMM_longvideos" / video, [f"{video}_{n:04d}.jpg" for n in range(1, 81)])
    _workbook(base / "SAMM_LongVideos_V1_Release.xlsx",
              {"FACS_Movement_Only": SAMM_TITLE + [SAMM_HEADER] + (rows if rows is not None else SAMM_ROWS),
               "Sheet2": [["notes"]]})
    return base


def test_samm_long_finds_its_header_below_the_title_rows_and_corrects_named_slips(tmp_path):
    check = read_samm_long(write_samm_long(tmp_path))
    assert check.subjects == ["samm-long/006", "samm-long/007"]
    assert check.counts == {"me": 2, "mae": 3} and check.total_frames == 240
    assert all(v.fps == 200 for v in check.videos)
    assert _intervals(check) == {
        "samm-long/006/006_1": [(1, 50, "mae", 30), (5, 15, "me", 10)],
        "samm-long/006/006_2": [],
        "samm-long/007/007_1": [(20, 28, "me", None), (40, 60, "mae", 46), (62, 70, "mae", None)],
    }
    notes = check.corrections
    assert len(notes) == 4
    assert any("row 12" in n and "onset 0 is before the video's first frame 1; used 1" in n for n in notes)
    assert any("row 13" in n and "apex -1 means missing" in n for n in notes)
    assert any("row 14" in n and "Apex 45.5 is not a whole frame; used 46" in n for n in notes)
    assert any("row 15" in n and "apex 90 is outside onset..offset (62..70)" in n for n in notes)
    assert "header row 10" in check.sources[0]


@pytest.mark.parametrize("row, problem", [
    [["007", "007_1_4", 2, 3, 4, 5, 3, "Mid", "4", None], "Type 'Mid' is neither"],
    [["008", "007_1_4", 2, 3, 4, 5, 3, "Macro", "4", None], "Subject '008' is not the subject of 007_1_4"],
    [["007", "007_3_1", 2, 3, 4, 5, 3, "Macro", "4", None], "no folder 007_3/"],
    [["007", "007_1_4", 2, "x", 4, 5, 3, "Macro", "4", None], "Onset 'x' is not a frame number"],
])
def test_samm_long_refuses_a_blocking_row_in_one_line(tmp_path, row, problem):
    with pytest.raises(DataError) as error:
        read_samm_long(write_samm_long(tmp_path, SAMM_ROWS + [row]))
    text = _one_line(error)
    assert problem in text and "row 16" in text


# --- SMIC-E ------------------------------------------------------------------------------------------------

def test_smic_e_long_makes_one_video_per_long_clip_with_its_spans_as_me_intervals(tmp_path):
    write_smic(tmp_path)
    check = read_smic_e_long(tmp_path / "SMIC", camera="HS")
    sheet = openpyxl.load_workbook(tmp_path / "SMIC" / "SMIC-E" / "SMIC-HS-E_annotation.xlsx")["HS"]
    header = [c.value for c in sheet[1]]
    expected = {}
    for cells in sheet.iter_rows(min_row=2, values_only=True):
        record = dict(zip(header, cells))
        if record["Filename"] == SMIC_E_LOST:
            continue
        subject, tag, number = record["Filename"].split("_")
        spans = [(record["OnsetF"], record["OffsetF"])] + ([(record["Onset2F"], record["Offset2F"])]
                                                           if record["Onset2F"] else [])
        expected[f"smic-e-hs-long/s{int(subject[1:]):02d}/s{int(subject[1:]):02d}_{tag}_{int(number):02d}"] = [
            (onset, offset, "me", None) for onset, offset in spans]
    assert _intervals(check) == expected
    rows = [r for r in SMIC_E_ROWS["HS"] if r[1] != SMIC_E_LOST]
    assert len(check.videos) == len(rows) == 5
    assert check.counts == {"me": sum(r[2] for r in rows), "mae": 0}
    assert check.subjects == ["smic-e-hs-long/s03", "smic-e-hs-long/s18", "smic-e-hs-long/s20"]
    assert check.total_frames == sum(len(list((v.frames.folder).glob("*.jpg"))) for v in check.videos)
    assert all(v.fps == 100 for v in check.videos)
    assert {i.emotion for v in check.videos if v.video == "s18_sur_03" for i in v.intervals} == {"negative"}
    assert any(SMIC_E_LOST in w for w in check.warnings)


# --- CAS(ME)³ Part A ----------------------------------------------------------------------------------------

CASME3_HEADER = ["Subject", "Filename", "Onset", "Apex", "Offset", "AU", "Expression type", "Objective class"]
CASME3_ROWS = [
    ["spNO.1", "a", 0, 0, 12, "4", "Micro-expression", "II"],  # onset 0 (no 0.jpg), apex 0
    ["spNO.1", "a", 20, 25, 40, "12", "Macro-expression", "I"],
    ["spNO.2", "J", 5, 7, 9, "R10", "Micro-expression", "III"],  # the folder is j
]


def write_casme3a_long(root: Path, rows: list[list] | None = None, suffix: str = ".xlsx") -> Path:
    base = root / "CASME3"
    for subject, recording in (("spNO.1", "a"), ("spNO.1", "b"), ("spNO.2", "j")):
        _frames(base / "part_A" / subject / recording / "color", [f"{n}.jpg" for n in range(1, 51)])
    _workbook(base / "annotation" / f"CAS(ME)3_part_A_v2{suffix}",
              {"AU+Emotion": [CASME3_HEADER] + (rows if rows is not None else CASME3_ROWS),
               "eye blink": [["Subject", "Filename", "Onset", "Offset"], ["spNO.1", "a", 14, 18]]})
    _workbook(base / "annotation" / "cas(me)3_part_A_ME_label_JpgIndex_v2.xlsx", {"label": [
        ["Subject", "Filename", "Onset", "Apex", "Offset", "AU", "Objective class", "emotion"],
        ["spNO.1", "a", 0, 0, 12, "4", "II", "disgust"], ["spNO.2", "J", 5, 7, 9, "R10", "III", "happy"]]})
    return base


def test_casme3a_long_reads_every_recording_and_all_expressions(tmp_path):
    check = read_casme3a_long(write_casme3a_long(tmp_path))
    assert check.subjects == ["casme3a-long/spNO.1", "casme3a-long/spNO.2"]
    assert _intervals(check) == {
        "casme3a-long/spNO.1/a": [(1, 12, "me", None), (20, 40, "mae", 25)],
        "casme3a-long/spNO.1/b": [],
        "casme3a-long/spNO.2/j": [(5, 9, "me", 7)],
    }
    assert check.counts == {"me": 2, "mae": 1} and check.total_frames == 150
    emotions = {(v.video, i.onset): i.emotion for v in check.videos for i in v.intervals}
    assert emotions == {("a", 1): "disgust", ("a", 20): None, ("j", 5): "happy"}  # ME rows: the ME sheet's emotion
    notes = check.corrections
    assert any("row 2" in n and "onset 0 is before the video's first frame 1; used 1" in n for n in notes)
    assert any("row 2" in n and "apex 0 is outside onset..offset (1..12)" in n for n in notes)
    assert any("row 4" in n and "'J' matched the folder 'j'" in n for n in notes)


def test_casme3a_long_refuses_an_unknown_expression_type_in_one_line(tmp_path):
    rows = CASME3_ROWS + [["spNO.2", "j", 20, 22, 24, "4", "Blink", "I"]]
    with pytest.raises(DataError) as error:
        read_casme3a_long(write_casme3a_long(tmp_path, rows))
    text = _one_line(error)
    assert "row 5" in text and "Expression type 'Blink' is neither" in text and "AU+Emotion" in text


@pytest.mark.skipif(importlib.util.find_spec("xlrd") is not None, reason="xlrd is installed: .xls reads")
def test_casme3a_long_says_what_an_xls_needs_where_xlrd_is_missing(tmp_path):
    base = write_casme3a_long(tmp_path)
    xlsx = base / "annotation" / "CAS(ME)3_part_A_v2.xlsx"
    xlsx.unlink()  # an .xls (an OLE2 compound file: what pandas reads with xlrd) cannot be written here
    xlsx.with_suffix(".xls").write_bytes(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(504))
    with pytest.raises(DataError) as error:
        read_casme3a_long(base)
    text = _one_line(error)
    assert "CAS(ME)3_part_A_v2.xls" in text and "xlrd" in text and "save the sheet as .xlsx" in text


# --- synthetic-long ----------------------------------------------------------------------------------------

def test_synthetic_long_is_deterministic_in_its_seed():
    first, again, other = (load_synthetic_long(seed=s) for s in (0, 0, 1))
    assert [v.intervals for v in first] == [v.intervals for v in again]
    assert [v.frames for v in first] == [v.frames for v in again]
    assert np.array_equal(first[0].frames.load(100), again[0].frames.load(100))
    assert [v.intervals for v in first] != [v.intervals for v in other]


def test_synthetic_long_quick_preset_sizes_and_planted_durations():
    videos = load_synthetic_long(preset="quick")
    check = LongVideoCheck("synthetic-long", videos)
    assert len(videos) == 4 and len(check.subjects) == 2
    assert all(v.n_frames == 360 and v.fps == 30 for v in videos)  # 12 s at 30 fps
    assert check.counts == {"me": 8, "mae": 4}  # one ME per 5 s (2), one MaE per 10 s (1) in each video
    for video in videos:
        for interval in video.intervals:
            seconds = interval.length / video.fps
            assert (0.2 <= seconds <= 0.5) if interval.kind == "me" else (1.0 <= seconds <= 3.0)
            assert interval.emotion in ("positive", "negative", "surprise")
        spans = sorted((e.onset, e.offset) for e in video.frames.events)
        assert all(after[0] > before[1] + 1 for before, after in zip(spans, spans[1:]))  # nothing overlaps


def test_synthetic_long_plans_every_length_its_option_allows():
    from mebench_plugins.datasets.synthetic_long import OPTIONS
    shortest = next(option.minimum for option in OPTIONS if option.name == "seconds")
    for seconds in np.arange(shortest, 90.0, 0.5):
        videos = load_synthetic_long(subjects=2, videos_per_subject=1, seconds=float(seconds), seed=int(seconds * 2))
        assert all(v.count("me") >= 1 and v.count("mae") >= 1 for v in videos)


def test_synthetic_long_truth_is_exactly_where_the_face_moves():
    """Every frame of a planted event differs from the same video rendered without its events, and no other
    frame does: the intervals are where the pixels move (blinks are events too, but not truth)."""
    for video in load_synthetic_long(seed=3):
        source = video.frames
        still = dataclasses.replace(source, events=())
        moving = [i for i in source.indices() if np.any(source.load(i) != still.load(i))]
        blinks = [(e.onset, e.offset) for e in source.events if e.kind == "blink"]
        assert blinks
        planted = sorted(i for onset, offset in [(i.onset, i.offset) for i in video.intervals] + blinks
                         for i in range(onset, offset + 1))
        assert moving == planted
        for interval in video.intervals:  # the apex is where the face has moved most (by the planted intensity)
            assert max(range(interval.onset, interval.offset + 1),
                       key=lambda i: sum(e.intensity(i) for e in source.events)) == interval.apex


def _frame_differences(video: LongVideo) -> np.ndarray:
    """Mean absolute difference of each frame from the previous one (entry k: frames k + 1 and k + 2)."""
    stack = np.stack([video.frames.load(i).astype(np.float32) for i in video.frames.indices()])
    return np.abs(np.diff(stack, axis=0)).mean(axis=(1, 2))


def _frame_difference_spotter(video: LongVideo, differences: np.ndarray, threshold: float) -> list[spotting.Spotted]:
    """Runs of frames whose difference from the previous frame exceeds ``threshold``; a run up to 0.5 s is an
    ME, a longer one an MaE."""
    spotted, start = [], None
    for index, on in enumerate(list(differences > threshold) + [False]):
        if on and start is None:
            start = index
        elif not on and start is not None:
            onset, offset = start + 2, index  # differences start..index-1: frames start+2..index move
            kind = "me" if offset - onset + 1 <= 0.5 * video.fps else "mae"
            spotted.append(spotting.Spotted(video.id, onset, offset, kind))
            start = None
    return spotted


def test_a_frame_difference_detector_does_not_spot_synthetic_long_near_f1_one():
    videos = load_synthetic_long(preset="quick")
    truth = [spotting.Spotted(v.id, i.onset, i.offset, i.kind) for v in videos for i in v.intervals]
    oracle = spotting.spotting_figures(spotting.video_counts(truth, truth, [v.id for v in videos]).sum(axis=0))
    assert float(oracle["f1"]) == 1.0  # the scorer finds every planted interval given the truth
    differences = {v.id: _frame_differences(v) for v in videos}
    best = 0.0
    for threshold in np.arange(0.0, 6.01, 0.05):
        predicted = [p for v in videos for p in _frame_difference_spotter(v, differences[v.id], threshold)]
        counts = spotting.video_counts(predicted, truth, [v.id for v in videos])
        best = max(best, float(spotting.spotting_figures(counts.sum(axis=0))["f1"]))
    assert best < 0.5
