"""Spot-then-recognise on the real long-video databases: each task assigns every interval its STR class from the
raw emotion the reader returns, through the database's own declared 3-class mapping (others: spotting-only);
SAMM Long Videos' emotions come from the SAMM micro-expression sheet matched by Filename; a vocabulary gap and a
task without any classed interval are refused for ``--protocol str``. Copies are generated here in the official
layouts (every row made up)."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from mebench.errors import ConfigError
from mebench.run.plan import RunConfig, plan_run
from mebench.run.runner import run
from mebench.run.spot_recognise import training_clips
from mebench_plugins.datasets.spotting_tasks import long_spec
from tests.conftest import QUIET
from tests.plugins.datasets.test_long_videos import (SAMM_ROWS, _workbook, write_casme2_long, write_casme3a_long,
                                    write_samm_long)

#: CAS(ME)² code rows (subject number, <video name>_<n>, onset, apex, offset, AU, emotion, type, self-report): each
#: class of the sheet's seventh column once, 'Others' (spelt as in a sheet) spotting-only.
CASME2_CODE = [
    [1, "disgust1_1", 5, 8, 12, "4", "negative", "micro-expression", "disgust"],
    [1, "disgust1_2", 20, 30, 40, "4+7", "Others", "macro-expression", "disgust"],
    [1, "anger1_1", 10, 25, 41, "4", "surprise", "macro-expression", "anger"],
    [2, "disgust1_1", 3, 5, 7, "12", "positive", "micro-expression", "happy"],
]
CASME2_CLASSES = {
    "casme2-long/s15/0101": [(5, 12, "me", "negative", "negative"), (20, 40, "mae", "Others", "none")],
    "casme2-long/s15/0401": [(10, 41, "mae", "surprise", "surprise")],
    "casme2-long/s16/0101": [(3, 7, "me", "positive", "positive")],
    "casme2-long/s16/0402": [],
}

#: The SAMM micro-expression sheet as distributed (title rows, then the header; worksheet MICRO_ONLY).
SAMM_ME_HEADER = ["Subject", "Filename", "Inducement Code", "Onset Frame", "Apex Frame", "Offset Frame", "Duration",
                  "Micro", "Action Units", "Estimated Emotion", "Objective Classes", "Notes"]
SAMM_ME_ROWS = [
    ["006", "006_1_1", 1, 5, 10, 15, 11, "Micro - 1/2", "12", "Happiness", 1, None],
    ["007", "007_1_1", 2, 20, 24, 28, 9, "Micro - 1/2", "R2", "Other", 7, None],
    ["007", "007_1_2", 2, 40, 46, 60, 21, "Micro - 1/2", "4", "Anger", 3, None],  # a MaE in the long-video sheet
    ["006", "006_2_1", 1, 3, 4, 5, 3, "Micro - 1/2", "1+2", "Surprise", 2, None],  # no long-video row
]
#: The long-video sheet's rows plus one ME (row 16) that the micro-expression sheet does not list.
SAMM_LV_ROWS = SAMM_ROWS + [["007", "007_1_4", 2, 30, 32, 35, 6, "Micro - 1/2", "4", None]]


def _classes(videos) -> dict[str, list[tuple]]:
    return {v.id: [(i.onset, i.offset, i.kind, i.emotion, i.emotion_class) for i in v.intervals] for v in videos}


def write_samm_me_sheet(data_root: Path, rows: list[list] = SAMM_ME_ROWS) -> Path:
    """``<data root>/SAMM/SAMM_Micro_FACS_Codes_v2.xlsx``, where the ``samm`` recognition task reads it."""
    return _workbook(data_root / "SAMM" / "SAMM_Micro_FACS_Codes_v2.xlsx", {"MICRO_ONLY": [
        ["SAMM Dataset - Master FACS Codes"], [], ["Symbol Key:"], [], SAMM_ME_HEADER, *rows]})


def str_plan(dataset: str, data_root: Path):
    return plan_run(RunConfig(model="feature-difference", dataset=dataset, protocol="str",
                              protocol_options={"recogniser": "ststnet"}, data_root=data_root,
                              model_options={"crop": "none"}, epochs=1, batch_size=4, device="cpu",
                              precision="fp32"))


def test_casme2_long_classes_its_sheet_emotions_and_others_are_spotting_only(tmp_path):
    write_casme2_long(tmp_path, CASME2_CODE)
    videos = long_spec("casme2-long").load(data_root=str(tmp_path))
    assert _classes(videos) == CASME2_CLASSES  # the raw emotion kept, the class beside it
    check = long_spec("casme2-long").check(data_root=str(tmp_path))
    assert ("STR classes (the database's 3-class mapping): negative 1, positive 1, surprise 1; spotting-only 1 "
            "(Others 1); no emotion 0") in check.render()


def test_samm_long_takes_me_emotions_from_the_micro_expression_sheet_by_filename(tmp_path):
    write_samm_long(tmp_path, SAMM_LV_ROWS)
    write_samm_me_sheet(tmp_path)
    check = long_spec("samm-long").check(data_root=str(tmp_path))
    assert _classes(check.videos) == {
        "samm-long/006/006_1": [(1, 50, "mae", None, None), (5, 15, "me", "Happiness", "positive")],
        "samm-long/006/006_2": [],
        "samm-long/007/007_1": [(20, 28, "me", "Other", "none"), (30, 35, "me", None, None),  # 007_1_4: unmatched
                                (40, 60, "mae", None, None), (62, 70, "mae", None, None)],  # MaE: no emotion
    }
    assert len(check.warnings) == 1
    assert "row 16" in check.warnings[0] and "007_1_4" in check.warnings[0]
    assert "no row of that Filename in the SAMM micro-expression sheet" in check.warnings[0]
    report = check.render()
    assert "SAMM_Micro_FACS_Codes_v2.xlsx" in report and "2 ME intervals matched, 1 not" in report
    assert "negative 0, positive 1, surprise 0; spotting-only 1 (Other 1); no emotion 4" in report


def test_samm_long_without_the_micro_expression_sheet_spots_but_str_is_refused(tmp_path):
    write_samm_long(tmp_path, SAMM_LV_ROWS)
    check = long_spec("samm-long").check(data_root=str(tmp_path))
    assert all(i.emotion is None and i.emotion_class is None for v in check.videos for i in v.intervals)
    assert check.warnings == []
    assert "no SAMM micro-expression sheet (SAMM_Micro_FACS_Codes_v2.xlsx)" in check.render()
    with pytest.raises(ConfigError) as error:
        str_plan("samm-long", tmp_path)
    text = str(error.value)
    assert "\n" not in text and "no interval of task 'samm-long' has an emotion among" in text
    assert "mebench data check samm-long" in text


def test_casme3a_long_classes_me_emotions_of_the_me_sheet(tmp_path):
    write_casme3a_long(tmp_path)
    videos = long_spec("casme3a-long").load(data_root=str(tmp_path))
    assert _classes(videos) == {
        "casme3a-long/spNO.1/a": [(1, 12, "me", "disgust", "negative"), (20, 40, "mae", None, None)],
        "casme3a-long/spNO.1/b": [],
        "casme3a-long/spNO.2/j": [(5, 9, "me", "happy", "positive")],
    }
    # the recogniser's training clips take the assigned class, not the raw emotion
    assert [(c.onset, c.label) for c in training_clips(videos)] == [(1, "negative"), (5, "positive")]


def test_str_accepts_spotting_only_others_and_refuses_an_emotion_outside_the_vocabulary(tmp_path):
    write_casme2_long(tmp_path, CASME2_CODE)
    plan = str_plan("casme2-long", tmp_path)  # 'Others' is declared: spotting-only, not refused
    assert [str(i.emotion) for v in plan.task.samples for i in v.intervals if i.emotion_class == "none"] == ["Others"]
    gap = tmp_path / "gap"
    write_casme2_long(gap, CASME2_CODE + [[2, "disgust1_2", 20, 22, 24, "4", "happyy", "micro-expression", ""]])
    with pytest.raises(ConfigError) as error:
        str_plan("casme2-long", gap)
    text = str(error.value)
    assert "\n" not in text and "annotates emotions (happyy) that are not mapped" in text
    assert "not in the vocabulary 1 (happyy 1" in long_spec("casme2-long").check(data_root=str(gap)).render()


def test_an_str_run_on_a_real_layout_copy_completes_with_strs(tmp_path):
    write_casme2_long(tmp_path, CASME2_CODE)
    config = RunConfig(model="feature-difference", dataset="casme2-long", protocol="str",
                       protocol_options={"recogniser": "ststnet"}, data_root=tmp_path,
                       model_options={"crop": "none", "face_size": 16}, epochs=1, batch_size=4, device="cpu",
                       precision="fp32")
    outcome = run(config, output_dir=tmp_path / "results", cache_dir=tmp_path / "cache", **QUIET)
    metrics = json.loads((outcome.run_dir / "metrics.json").read_text())
    assert metrics["task"] == "spot-then-recognise"
    pooled = metrics["pooled"]
    # the frames are flat grey: nothing is spotted, so every interval is missed and STRS is 0
    assert [pooled["per_class"][kind]["truth"] for kind in ("me", "mae", "overall")] == [2, 2, 4]
    assert pooled["per_class"]["overall"]["predictions"] == 0 and pooled["strs"] == 0.0
    truth = pd.read_csv(outcome.run_dir / "predictions.csv", keep_default_na=False).set_index("sample_id")["true_label"]
    assert truth.to_dict() == {  # the classes the task assigned; 'Others' spotting-only, written without one
        "casme2-long/s15/0101": "me 5-12 negative; mae 20-40", "casme2-long/s15/0401": "mae 10-41 surprise",
        "casme2-long/s16/0101": "me 3-7 positive", "casme2-long/s16/0402": "none"}
