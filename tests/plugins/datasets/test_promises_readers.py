"""Readers give the emotion as the annotation writes it; the task that builds the samples assigns its class from
the database's declaration (issue 27). An emotion outside the declared vocabulary stays one line naming where it
was read — the sheet and row, SMIC's emotion folder, the erratum that set it — in every task, the AU tasks too,
and an erratum that sets an emotion changes its class in every task."""

from __future__ import annotations

import shutil

import pytest

from mebench.errors import DataError
from mebench_plugins.datasets import casme2, smic
from mebench_plugins.datasets.au_tasks import check_au_task
from mebench_plugins.datasets.catalog import check_emotion_task, read_clips
from mebench_plugins.datasets.megc2019 import check_task
from tests.kit.megc_fixtures import CASME2_EMOTIONS, edit_sheet

#: One task of each family reading CASME II: the MEGC2019 task (official list), the 5-class task (the database's
#: own labels) and the action-unit task (which uses no emotion).
TASKS = {
    "casme2": lambda root, **options: check_task("casme2", root, **options),
    "casme2-5class": lambda root, **options: check_emotion_task("casme2-5class", root, **options),
    "casme2-au": lambda root, **options: check_au_task("casme2-au", ("casme2",), root, **options),
}
FIX = "correct the cell or add an erratum"


@pytest.fixture
def data_root(megc_root, tmp_path):
    """A private copy of the CASME II, SAMM and SMIC-HS fixtures that a test may damage."""
    return shutil.copytree(megc_root, tmp_path / "data")


def unknown(emotion: str, vocabulary) -> str:
    return f"unknown emotion label {emotion!r} — expected one of {', '.join(sorted(vocabulary))}; {FIX}"


def test_a_reader_keeps_the_emotion_as_written_and_the_task_classes_it_by_the_declaration(megc_root, monkeypatch):
    clip = read_clips(("casme2",), megc_root, {}, None).clips["casme2/sub01/EP02_01f"]
    assert not hasattr(clip, "label") and clip.emotion == "happiness"  # the fixture's positive CASME II emotion
    assert CASME2_EMOTIONS["positive"] == ["happiness"]
    sample = next(s for s in check_task("casme2", megc_root).found if s.id == clip.id)
    assert (sample.label, sample.emotion) == ("positive", "happiness")  # the official list's class 1
    five = next(s for s in check_emotion_task("casme2-5class", megc_root).found if s.id == clip.id)
    assert (five.label, five.emotion) == ("happiness", "happiness")
    # the declaration, read when the task builds its samples, is the one place an emotion becomes a class
    monkeypatch.setitem(casme2.EMOTIONS, "happiness", "surprise")
    report = check_task("casme2", megc_root)
    assert clip.id not in {s.id for s in report.found}
    assert [p for p in report.problems if clip.id in p] == [
        f"{clip.source}, row {clip.row}: {clip.id}: emotion 'happiness' gives surprise but the official list says "
        f"positive — correct the annotation or add an erratum"]


@pytest.mark.parametrize("task", TASKS)
def test_an_unknown_emotion_is_refused_in_every_task_naming_the_sheet_and_row(data_root, task):
    sheet = data_root / "CASME2" / "CASME2-coding-20140508.xlsx"
    row = edit_sheet(sheet, "EP02_01f", "Estimated Emotion", "hapiness")
    with pytest.raises(DataError) as error:
        TASKS[task](data_root)
    assert str(error.value) == f"{sheet}, row {row}: {unknown('hapiness', casme2.EMOTIONS)}"


@pytest.mark.parametrize("task", TASKS)
def test_an_erratum_setting_an_unknown_emotion_is_refused_in_every_task_naming_the_erratum(megc_root, tmp_path,
                                                                                          task):
    errata = tmp_path / "errata.csv"
    errata.write_text("dataset,subject,clip,field,old,value,note\ncasme2,sub01,EP19_06f,emotion,,joyful,a typo\n")
    with pytest.raises(DataError) as error:
        TASKS[task](megc_root, errata=str(errata))
    assert str(error.value) == f"{errata}, line 2, row casme2/sub01/EP19_06f: {unknown('joyful', casme2.EMOTIONS)}"


def test_an_erratum_setting_an_emotion_changes_its_class_in_every_task(megc_root, tmp_path):
    errata = tmp_path / "errata.csv"
    errata.write_text("dataset,subject,clip,field,old,value,note\n"
                      "casme2,sub01,EP19_06f,emotion,,surprise,seen again\n")
    clip = read_clips(("casme2",), megc_root, {}, None).clips["casme2/sub01/EP19_06f"]
    assert clip.emotion in CASME2_EMOTIONS["negative"]  # the official list's class 0
    official = check_task("casme2", megc_root, errata=str(errata))
    assert [p for p in official.problems if clip.id in p] == [
        f"{clip.source}, row {clip.row}: {clip.id}: emotion 'surprise' gives surprise but the official list says "
        f"negative — correct the annotation or add an erratum"]
    five = next(s for s in check_emotion_task("casme2-5class", megc_root, errata=str(errata)).found
                if s.id == clip.id)
    assert (five.label, five.emotion) == ("surprise", "surprise")
    note = f"emotion {clip.emotion!r} corrected by {errata}, line 2 (seen again); used 'surprise'"
    assert note in five.corrections[0]


@pytest.mark.parametrize("task", ["smic", "combined"])
def test_an_unknown_smic_emotion_folder_is_refused_naming_the_folder(data_root, task):
    micro = data_root / "SMIC" / "HS" / "s1" / "micro"
    (micro / "negative").rename(micro / "happy")
    with pytest.raises(DataError) as error:
        check_task(task, data_root)
    assert str(error.value) == f"{micro / 'happy'}: {unknown('happy', smic.EMOTIONS)}"
