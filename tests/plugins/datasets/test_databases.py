"""The field's other databases (CAS(ME)³ Part A, MMEW, 4DME, CASME, SMIC-VIS/NIR, SMIC-E) and composites
of any 3-class tasks, on fixtures written in each database's distributed layout (tests/kit/database_fixtures.py)."""

from __future__ import annotations

import logging
import os
import shutil
from collections import Counter

import openpyxl
import pandas as pd
import pytest

from mebench.data import MEGC2019_CLASSES
from mebench.errors import DataError, OptionError
from mebench.run.plan import RunConfig, plan_run
from mebench.registry import default_registry
from mebench_plugins.datasets.catalog import DATABASES, check_emotion_task
from mebench_plugins.datasets.databases import MEMBERS, check_composite
from mebench_plugins.datasets.formats import (EMOTION_TASKS, EMOTIONS, NATIVE_TASKS, Column, emotion_class,
                                              load_errata, read_sheet)
from tests.conftest import load_task, mebench_cli, private, tiny_run
from tests.kit.database_fixtures import (CASME3_CASE, CASME3_COUNTS, CASME3_FLAGGED, CASME3_SHEET, CASME3_SLIPS,
                                     CASME3_SUBJECTS, CASME_COUNTS, CASME_SLIPS, FOURDME_COUNTS, MMEW_COUNTS,
                                     MMEW_SLIPS, SMIC_CAMERA_COUNTS, SMIC_E_COUNTS, SMIC_E_LOST, edit_cell)

ANNOTATION = ("CASME3", "annotation", "partA", CASME3_SHEET)


@pytest.fixture(scope="module")
def casme3_reports(db_root):
    """The three CAS(ME)³ Part A tasks checked once (860 rows: read once per module, not per test)."""
    return {task: check_emotion_task(task, db_root) for task in CASME3_COUNTS}


def private_sheet(db_root, tmp_path):
    """A private copy of the CAS(ME)³ sheet (read with sheet=FILE; the frames stay the session's)."""
    return shutil.copy(db_root.joinpath(*ANNOTATION), tmp_path / CASME3_SHEET)


# --- CAS(ME)³ Part A ------------------------------------------------------------------------------------

@pytest.mark.parametrize("task", list(CASME3_COUNTS))
def test_casme3a_counts_per_class_and_subject(casme3_reports, task):
    report = casme3_reports[task]
    assert report.ok, report.problems[:3]
    assert Counter(s.label for s in report.found) == CASME3_COUNTS[task]
    assert len({s.subject for s in report.found}) == CASME3_SUBJECTS[task]
    assert tuple(default_registry().datasets.get(task).classes) == tuple(CASME3_COUNTS[task])


def test_casme3a_data_check_cli_prints_counts_what_it_read_and_the_corrections(db_root):
    result = mebench_cli("data", "check", "casme3a-7class", "--data-root", db_root, "--list-all")
    assert result.exit_code == 0, result.output
    assert "casme3a-7class: no official sample list for this task" in result.output
    assert "860 samples, 94 subjects" in result.output
    assert f"{CASME3_SHEET} (sheet 'label', header row 1, 860 rows)" in result.output
    assert "| others   |       161 |" in result.output and "| disgust  |       250 |" in result.output
    assert "'Others' 3" in result.output  # the labels as spelled in the sheet
    assert "| subject          |   disgust |" in result.output
    for sample_id in CASME3_SLIPS:
        assert sample_id in result.output
    assert "casme3a-7class: OK (7 annotation slip(s) corrected)" in result.output  # 6 errata + the 'J' folder
    assert "warnings (they do not block a run): 3" in result.output and CASME3_FLAGGED[0] in result.output
    three = mebench_cli("data", "check", "casme3a", "--data-root", db_root)
    assert "699 samples, 88 subjects" in three.output and "excluded by the task's rules" in three.output


def test_casme3a_six_clip_named_errata_correct_the_public_sheet_slips(casme3_reports):
    found = {s.id: s for s in casme3_reports["casme3a-7class"].found}
    for sample_id, (row, used) in CASME3_SLIPS.items():
        sample = found[sample_id]
        assert (sample.onset, sample.apex, sample.offset) == used, sample_id
        errata_notes = [n for n in sample.corrections if "corrected by mebench_plugins/data/errata.csv" in n]
        if used == row[2:5]:  # MEB's correction not applied (spNO.214/c_5: the authors' sheets all give 3460)
            assert not errata_notes, sample_id
            continue
        assert errata_notes and all(sample_id in n and ", sheet 'label', row " in n for n in errata_notes)
    assert len([n for s in found.values() for n in s.corrections if "errata.csv" in n]) == 6
    shipped = load_errata()
    assert sorted(k for k in shipped if k[0] == "casme3a") == sorted(
        ("casme3a", *sample_id.split("/")[1:]) for sample_id, (row, used) in CASME3_SLIPS.items() if used != row[2:5])
    assert all(fix.old is not None for k, fixes in shipped.items() if k[0] == "casme3a" for fix in fixes)


def test_casme3a_sample_ids_carry_the_onset_and_samples_are_cut_from_the_recording(casme3_reports):
    found = casme3_reports["casme3a-7class"].found
    ids = [s.id for s in found]
    assert len(set(ids)) == 860
    by_id = {s.id: s for s in found}
    first, second = by_id["casme3a/spNO.40/e_1812"], by_id["casme3a/spNO.40/e_2327"]  # one recording, two samples
    assert first.subject == second.subject == "casme3a/spNO.40"
    assert first.frames.folder == second.frames.folder and first.frames.folder.name == "color"
    for sample in (first, second):
        assert sample.frames.indices() and all(sample.onset <= i <= sample.offset for i in sample.frames.indices())
    assert first.frames.indices() == [1812, 1815, 1824, 1845]


def test_an_erratum_whose_old_value_the_sheet_no_longer_holds_is_not_applied_and_says_so(db_root, tmp_path, caplog):
    sheet = private_sheet(db_root, tmp_path)
    row = edit_cell(sheet, {"Subject": "spNO.149", "Filename": "d", "Onset": "112"}, "Apex", "160")  # a corrected copy
    edit_cell(sheet, {"Subject": "spNO.216", "Filename": "d", "Onset": "3647"}, "Onset", "2647")  # renamed clip
    report = check_emotion_task("casme3a-7class", db_root, sheet=str(sheet))
    assert report.ok
    sample = next(s for s in report.found if s.id == "casme3a/spNO.149/d_112")
    assert sample.apex == 160 and not sample.corrections
    stale = [w for w in report.warnings if "erratum no longer applies" in w]
    assert len(stale) == 2
    assert any("errata.csv, line" in w and "casme3a/spNO.149/d_112 apex is 160" in w and f"row {row}" in w
               and "not '83'" in w for w in stale)
    assert any("lists no clip casme3a/spNO.216/d_3647" in w for w in stale)
    assert "casme3a/spNO.216/d_2647" in {s.id for s in report.found}
    with caplog.at_level(logging.WARNING, logger="mebench.datasets"):
        load_task("casme3a-7class", db_root, sheet=str(sheet))
    assert sum("erratum no longer applies" in r.getMessage() for r in caplog.records) == 2


def test_an_errata_file_without_the_old_column_still_applies(db_root, tmp_path):
    errata = tmp_path / "errata.csv"
    errata.write_text("dataset,subject,clip,field,value,note\ncasme3a,spNO.149,d_112,apex,118,my own apex\n")
    report = check_emotion_task("casme3a-7class", db_root, errata=str(errata))  # replaces the shipped errata
    sample = next(s for s in report.found if s.id == "casme3a/spNO.149/d_112")
    assert sample.apex == 118 and "(my own apex); used 118" in sample.corrections[0]
    conflict = [w for w in report.warnings if "casme3a/spNO.214/c_5: offset 3460" in w]  # named, not corrected
    assert len(report.problems) == 3 and report.warnings[:-2] == conflict  # the slips the shipped errata correct block


def test_an_erratum_for_an_unknown_dataset_is_an_error_naming_the_line(tmp_path):
    errata = tmp_path / "errata.csv"
    errata.write_text("dataset,subject,clip,field,old,value,note\ncasme3,spNO.149,d_112,apex,83,123,typo\n")
    with pytest.raises(DataError, match=f"{errata}, row 2: unknown erratum dataset 'casme3' — use one of "):
        load_errata(errata)


def test_the_label_sheet_is_read_by_name_and_its_header_found_by_name(db_root, tmp_path):
    path = private_sheet(db_root, tmp_path)
    workbook = openpyxl.load_workbook(path)
    decoy = workbook.create_sheet("notes", 0)  # a first worksheet with a table of its own
    decoy.append(["Subject", "Filename", "comment"])
    decoy.append(["spNO.1", "a", "not the annotation"])
    label = workbook["label"]
    label.insert_rows(1, 2)  # a title block above the header
    label.insert_cols(1)  # and a column before it: the header row starts in column B
    label["A1"] = "CAS(ME)3 part A micro-expressions"
    label["I3"] = "Estimated Emotion"  # another spelling of the emotion column
    workbook.save(path)
    table = read_sheet(path, (Column("Subject"), Column("emotion", ("Estimated Emotion",))), sheets=("label",))
    assert (table.sheet, table.header_row, len(table)) == ("label", 3, 860)
    assert table.source == f"{path}, sheet 'label'"
    report = check_emotion_task("casme3a-7class", db_root, sheet=str(path))
    assert report.ok and len(report.found) == 860
    assert any("(sheet 'label', header row 3, 860 rows)" in line for line in report.sources)
    del workbook["label"]
    workbook.save(path)
    with pytest.raises(DataError, match="header row lacks column\\(s\\) Onset, Apex, Offset, emotion"):
        check_emotion_task("casme3a-7class", db_root, sheet=str(path))  # else the first sheet with a header


def test_an_unknown_emotion_names_file_sheet_row_and_fix(db_root, tmp_path):
    path = private_sheet(db_root, tmp_path)
    row = edit_cell(path, {"Subject": "spNO.149", "Filename": "d", "Onset": "112"}, "emotion", "feer")
    with pytest.raises(DataError) as error:
        check_emotion_task("casme3a", db_root, sheet=str(path))
    assert f"{path}, sheet 'label', row {row}: unknown emotion label 'feer' — expected one of" in str(error.value)


def test_an_upper_case_filename_matches_its_lower_case_folder_with_a_note(casme3_reports):
    subject, filename = CASME3_CASE
    sample = next(s for s in casme3_reports["casme3a-7class"].found if s.id == f"casme3a/{subject}/{filename}_500")
    assert sample.frames.folder.parent.name == filename.lower()
    [note] = sample.corrections
    assert f"Filename {filename!r} matched the folder {filename.lower()!r} (case differs)" in note


def test_the_exception_lists_warn_about_samples_holding_a_listed_frame(casme3_reports):
    warnings = [w for w in casme3_reports["casme3a-7class"].warnings if " are listed in " in w]
    assert [w.split(": ")[1] for w in warnings] == list(CASME3_FLAGGED)
    assert "image_with_bad_quality_partA.txt (the annotated apex among them): 26" in warnings[0]
    assert "error_info_damaged_image_partA.txt: 23, 24" in warnings[1]
    assert any("exception list" in line for line in casme3_reports["casme3a-7class"].sources)


def test_casme3a_frames_directly_in_the_filename_folder_are_read_too(db_root, tmp_path):
    root = tmp_path / "data"  # a copy of spNO.40's recordings, the other subjects linked
    for source in (db_root / "CASME3").rglob("*"):
        if source.parent == db_root / "CASME3" / "part_A" and source.name != "spNO.40" or source.is_file() and \
                "part_A" not in source.parts:
            target = root / source.relative_to(db_root)
            target.parent.mkdir(parents=True, exist_ok=True)
            target.symlink_to(source)
    shutil.copytree(db_root / "CASME3" / "part_A" / "spNO.40", root / "CASME3" / "part_A" / "spNO.40")
    recording = root / "CASME3" / "part_A" / "spNO.40" / "e"
    for frame in (recording / "color").iterdir():
        frame.rename(recording / frame.name)
    (recording / "color").rmdir()
    report = check_emotion_task("casme3a-7class", root)
    assert report.ok
    assert next(s for s in report.found if s.id == "casme3a/spNO.40/e_1812").frames.folder == recording
    assert any("frames color/ and directly in the Filename folder" in line for line in report.sources)


def test_casme3a_without_frames_says_what_it_looked_for(db_root, tmp_path):
    root = tmp_path / "data"  # the annotation without the frames
    (root / "CASME3" / "annotation" / "partA").mkdir(parents=True)
    shutil.copy(db_root.joinpath(*ANNOTATION), root.joinpath(*ANNOTATION))
    with pytest.raises(DataError, match="no folder below it holds spNO.<n> subject folders"):
        check_emotion_task("casme3a", root)
    (root / "CASME3" / "annotation" / "partA" / CASME3_SHEET).unlink()
    with pytest.raises(DataError) as error:
        check_emotion_task("casme3a", root)
    message = str(error.value)
    assert f"expected exactly one CAS(ME)³ Part A micro-expression sheet ({CASME3_SHEET})" in message
    assert "anywhere below this folder, found none" in message and "--dataset-opt sheet=FILE" in message


def test_two_rows_naming_one_sample_are_an_error_naming_both(db_root, tmp_path):
    path = private_sheet(db_root, tmp_path)
    row = edit_cell(path, {"Subject": "spNO.40", "Filename": "e", "Onset": "2327"}, "Onset", "1812")
    with pytest.raises(DataError, match=f"row {row}: two rows name the sample casme3a/spNO.40/e_1812: .*row {row - 1} "
                                        f"and this one"):
        check_emotion_task("casme3a", db_root, sheet=str(path))


# --- MMEW, 4DME, CASME ------------------------------------------------------------------------------------

@pytest.mark.parametrize("task, counts", [*MMEW_COUNTS.items(), *FOURDME_COUNTS.items(), *CASME_COUNTS.items()])
def test_counts_of_the_other_databases(db_root, task, counts):
    report = check_emotion_task(task, db_root)
    assert report.ok, report.problems[:3]
    assert Counter(s.label for s in report.found) == counts
    assert len({s.subject for s in report.found}) == 3
    assert all(s.label in EMOTION_TASKS[task].classes for s in report.found)


def test_mmew_reads_both_published_layouts_and_corrects_its_slips_by_rule(db_root, tmp_path):
    report = check_emotion_task("mmew-6class", db_root)
    corrected = {s.id: s.corrections for s in report.found if s.corrections}
    assert set(corrected) == set(MMEW_SLIPS)
    assert "offset 33 is past the clip's last frame 13" in corrected["mmew/S02/S02-02-001"][0]
    assert "apex frame not annotated" in corrected["mmew/S03/S03-05-001"][0]
    assert all(s.cropped for s in report.found)  # MMEW's frames are already face-cropped
    root = private(db_root, tmp_path, "MMEW")  # the database page's layout: <subject>/<emotion>/<clip>
    frames = root / "MMEW" / "Micro_Expression"
    for clip in sorted(frames.glob("*/*")):
        target = frames / clip.name[:3] / clip.parent.name / clip.name
        target.parent.mkdir(parents=True, exist_ok=True)
        clip.rename(target)
    for emotion in {"happiness", "surprise", "disgust", "fear", "sadness", "anger", "repression"}:
        (frames / emotion).rmdir()
    moved = check_emotion_task("mmew-6class", root)
    assert moved.ok and len(moved.found) == len(report.found)
    assert any("found: <subject>/<emotion>/<Filename>" in line for line in moved.sources)


def test_a_label_naming_several_emotions_keeps_its_class_only_when_they_agree():
    mapping = EMOTIONS["4dme"]
    assert emotion_class(mapping, "Negative+Repression", "f") == "negative"
    assert emotion_class(mapping, "Surprise+Positive", "f") is None
    assert emotion_class(NATIVE_TASKS["4dme-5class"].mapping, "Negative+Repression", "f") is None
    with pytest.raises(DataError, match="unknown emotion label 'Surprize'"):
        emotion_class(mapping, "Surprize+Positive", "f")


def test_casme_corrects_an_onset_before_the_first_frame(db_root):
    report = check_emotion_task("casme", db_root)
    corrected = {s.id: s for s in report.found if s.corrections}
    assert set(corrected) == set(CASME_SLIPS)
    sample = corrected["casme/sub02/EP02_1"]
    assert sample.onset == sample.frames.indices()[0] and "is before the clip's first frame" in sample.corrections[0]


# --- SMIC VIS / NIR and SMIC-E -------------------------------------------------------------------------------

@pytest.mark.parametrize("task", ["smic-vis", "smic-nir"])
def test_smic_vis_and_nir_read_the_hs_layout(db_root, task):
    report = check_emotion_task(task, db_root)
    assert report.ok and Counter(s.label for s in report.found) == SMIC_CAMERA_COUNTS
    assert {s.subject for s in report.found} == {f"{task}/s11", f"{task}/s12", f"{task}/s13"}
    assert all(s.apex is None and s.onset < s.offset for s in report.found)


def test_a_missing_camera_folder_says_what_was_looked_for(tmp_path):
    (tmp_path / "SMIC" / "HS").mkdir(parents=True)
    with pytest.raises(DataError, match="no SMIC-NIR folder NIR/ or SMIC_all_cropped/NIR/ .* expected "
                                        "NIR/s<k>/micro/<negative|positive|surprise>/"):
        check_emotion_task("smic-nir", tmp_path)


@pytest.mark.parametrize("task", ["smic-e-hs", "smic-e-vis", "smic-e-nir"])
def test_smic_e_one_sample_per_annotated_span(db_root, task):
    report = check_emotion_task(task, db_root)
    assert report.ok, report.problems[:3]
    assert Counter(s.label for s in report.found) == SMIC_E_COUNTS
    by_id = {s.id: s for s in report.found}
    first, second = by_id[f"{task}/s18/s18_sur_03"], by_id[f"{task}/s18/s18_sur_03_span2"]
    assert first.frames.folder == second.frames.folder and first.offset < second.onset
    assert all(s.apex is None and set(s.frames.indices()) <= set(range(s.onset, s.offset + 1)) for s in by_id.values())
    mismatch = [n for n in first.corrections if "disagrees with the clip name's 'surprise'" in n]
    assert mismatch and "used 'negative' (the sheet's label)" in mismatch[0] and first.label == "negative"
    sheet = {"smic-e-hs": "SMIC-HS-E_annotation.xlsx (sheet 'HS'", "smic-e-vis": "SMIC-HS-E_annotation.xlsx (sheet "
             "'VIS'", "smic-e-nir": "SMIC-NIR-E_annotation.xlsx (sheet 'Sheet'"}[task]
    assert any(sheet in line for line in report.sources)
    lost = [w for w in report.warnings if SMIC_E_LOST in w]
    assert (len(lost) == 1 and "its video was lost); skipped" in lost[0]) if task == "smic-e-hs" else not lost


def test_a_missing_long_clip_that_was_not_lost_blocks(db_root, tmp_path):
    root = private(db_root, tmp_path, "SMIC")
    shutil.rmtree(root / "SMIC" / "VIS_long" / "SMIC_VIS_E" / "s20" / "s20_sur_01")
    report = check_emotion_task("smic-e-vis", root)
    assert not report.ok and "missing clip folder" in report.problems[0] and "s20_sur_01" in report.problems[0]


# --- options: where each database lives -----------------------------------------------------------------------

ROOTS = {"casme3a": ("casme3", "CASME3"), "mmew": ("mmew", "MMEW"), "4dme": ("4dme", "4DME"),
         "casme": ("casme", "CASME"), "smic-e-vis": ("smic", "SMIC")}


@pytest.mark.parametrize("task", [pytest.param(t, marks=pytest.mark.slow) if t == "casme3a" else t for t in ROOTS])
def test_root_option_environment_variable_and_sheet_option(db_root, tmp_path, monkeypatch, task):
    root, folder = ROOTS[task]
    elsewhere = shutil.copytree(db_root / folder, tmp_path / "elsewhere" / "copy", copy_function=os.symlink)
    expected = {s.id for s in check_emotion_task(task, db_root).found}
    assert {s.id for s in load_task(task, None, **{f"{root}_root": str(elsewhere)})} == expected
    monkeypatch.setenv(f"MEBENCH_{root.upper()}", str(elsewhere))
    assert {s.id for s in load_task(task, None)} == expected
    monkeypatch.delenv(f"MEBENCH_{root.upper()}")
    sheets = [p for p in elsewhere.rglob("*.xlsx") if "NIR" not in p.name]
    [sheet] = sheets
    moved = sheet.rename(tmp_path / sheet.name)
    with pytest.raises(DataError, match="found none"):
        load_task(task, None, **{f"{root}_root": str(elsewhere)})
    assert {s.id for s in load_task(task, None, **{f"{root}_root": str(elsewhere), "sheet": str(moved)})} == expected


@pytest.mark.parametrize("task, sheet, clip, column", [
    ("casme2", "CASME2/CASME2-coding-20140508.xlsx", "EP02_01f", "ApexFrame"),
    ("samm", "SAMM/SAMM_Micro_FACS_Codes_v2.xlsx", "006_1_2", "Apex Frame")])
def test_the_megc_tasks_take_a_sheet_option_too(megc_root, tmp_path, task, sheet, clip, column):
    from tests.kit.megc_fixtures import edit_sheet

    copy = shutil.copy(megc_root / sheet, tmp_path / "mine.xlsx")
    edit_sheet(copy, clip, column, 1)  # an apex outside the clip: noted with the copy's name
    sample = next(s for s in load_task(task, megc_root, sheet=str(copy)) if s.id.endswith(f"/{clip}"))
    assert sample.apex is None and sample.corrections[0].startswith(f"{copy}, row ")


def test_a_composite_passes_each_database_its_sheet(db_root, tmp_path):
    copy = shutil.copy(db_root / "MMEW" / "MMEW_Micro_Exp.xlsx", tmp_path / "mine.xlsx")
    edit_cell(copy, {"Filename": "S01-01-001"}, "Estimated Emotion", "surprise")
    report = check_composite(db_root, members="mmew,casme", mmew_sheet=str(copy))
    assert report.ok and Counter(s.label for s in report.found if s.dataset == "mmew") == {
        "negative": 11, "positive": 2, "surprise": 5}
    assert any(f"annotation {copy}" in line for line in report.sources)


@pytest.mark.parametrize("task", [t for t in NATIVE_TASKS if not t.startswith("casme3a")])
def test_data_check_of_each_task_prints_what_it_read_and_exits_0(db_root, task):
    result = mebench_cli("data", "check", task, "--data-root", db_root)
    assert result.exit_code == 0, result.output
    assert "labels in the annotation:" in result.output and f"{task}: OK" in result.output


def test_every_database_task_declares_its_root_and_sheet_options():
    registry = default_registry()
    for task, definition in NATIVE_TASKS.items():
        names = [o.name for o in registry.datasets.get(task).options]
        root = DATABASES[definition.dataset].root
        assert names[:3] == ["errata", "strict", f"{root}_root"], task
        assert ("sheet" in names) == DATABASES[definition.dataset].sheet, task
    with pytest.raises(OptionError, match="dataset 'mmew' has no option 'casme3_root'; valid options: errata, "
                                          "strict, mmew_root, sheet"):
        load_task("mmew", None, casme3_root="/x")


# --- the class mappings live in one place -----------------------------------------------------------------------

def test_every_task_maps_its_databases_whole_vocabulary_onto_its_classes():
    for task, definition in EMOTION_TASKS.items():
        assert set(definition.mapping) == set(EMOTIONS[definition.dataset]), task
        assert {c for c in definition.mapping.values() if c} == set(definition.classes), task
    for dataset in ("casme3a", "mmew", "4dme", "casme", "smic-vis", "smic-nir", "smic-e-hs", "smic-e-vis",
                    "smic-e-nir"):
        assert NATIVE_TASKS[dataset].mapping is EMOTIONS[dataset] and NATIVE_TASKS[dataset].classes == MEGC2019_CLASSES
    four, three = NATIVE_TASKS["casme3a-4class"].mapping, EMOTIONS["casme3a"]
    negative = {"disgust", "fear", "anger", "sad"}
    assert {e for e, c in four.items() if c == "negative"} == {e for e, c in three.items() if c == "negative"} == negative


def test_list_datasets_shows_every_task():
    result = mebench_cli("list", "datasets")
    names = {line.split()[0] for line in result.output.splitlines()[2:] if line.strip()}
    assert set(EMOTION_TASKS) | {"composite", "combined", "casme2", "samm", "smic"} <= names
    assert "casme3c" not in names  # Part C's frames are numbered by folder order; no public source shows it


# --- composites ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize("members, message", [
    (None, "needs its member tasks"),
    ("casme2,nosuch", "'nosuch' is not a 3-class task a composite can hold; valid members: casme2, samm, smic"),
    ("casme3a-7class,mmew", "'casme3a-7class' is not a 3-class task"),
    ("mmew,mmew", "mmew named twice"),
    ("smic,smic-vis,mmew", "smic, smic-vis are views of the same SMIC recordings"),
    ("mmew", "needs at least two members"),
])
def test_composite_members_are_checked(members, message, tmp_path):
    with pytest.raises(OptionError, match=message):
        load_task("composite", tmp_path, **({"members": members} if members else {}))
    assert "combined" not in MEMBERS


def test_composite_of_the_megc_tasks_and_casme3a_checks_each_member(megc_root, db_root):
    report = check_composite(megc_root, members="casme2,samm,smic,casme3a", casme3_root=str(db_root / "CASME3"))
    assert report.ok, report.problems[:3]
    counts = Counter(s.dataset for s in report.found)
    assert counts == {"casme2": 145, "samm": 133, "smic": 164, "casme3a": 699}
    assert Counter(s.label for s in report.found if s.dataset == "casme3a") == CASME3_COUNTS["casme3a"]
    assert any(line.startswith("casme2: 145 of 145 samples of the official MEGC2019 list") for line in report.sources)
    subjects = {s.subject for s in report.found}
    assert all(s.split("/")[0] in counts for s in subjects) and len(subjects) == 68 + 88
    result = mebench_cli("data", "check", "composite", "--data-root", megc_root, "--dataset-opt",
                         "members=casme2,samm,smic,casme3a", "--dataset-opt", f"casme3_root={db_root / 'CASME3'}")
    assert result.exit_code == 0 and "1141 samples, 156 subjects" in result.output


SMALL = "mmew,4dme,casme,smic-vis"  # four databases, 48 samples, 12 subjects


@pytest.mark.parametrize("protocol, options, folds", [("loso", {}, 12), ("lodo", {}, 4),
                                                      ("cross", {"target": "casme3a"}, 1)])
def test_composite_folds_for_loso_lodo_and_cross(db_root, registry, protocol, options, folds):
    plan = plan_run(RunConfig(model="tiny", dataset="composite", protocol=protocol, protocol_options=options,
                              dataset_options={"members": SMALL}, data_root=str(db_root), device="cpu"), registry)
    assert len(plan.folds) == folds
    if protocol == "lodo":
        assert sorted(f.name for f in plan.folds) == ["4dme", "casme", "mmew", "smic-vis"]
    if protocol == "cross":
        assert len(plan.folds[0].test) == 699 and len(plan.folds[0].train) == 48


@pytest.mark.parametrize("protocol", [pytest.param("loso", marks=pytest.mark.slow), "lodo"])  # LOSO: 12 folds, ~5 s
def test_one_epoch_runs_on_a_composite_of_four_databases(db_root, registry, tmp_path, protocol):
    outcome = tiny_run(registry, tmp_path, dataset="composite", protocol=protocol, batch_size=16,
                       dataset_options={"members": SMALL}, data_root=str(db_root))
    predictions = pd.read_csv(outcome.run_dir / "predictions.csv")
    assert len(predictions) == 48 and predictions["sample_id"].is_unique
    assert set(predictions["dataset"]) == {"mmew", "4dme", "casme", "smic-vis"}
    assert outcome.record.n_folds == {"loso": 12, "lodo": 4}[protocol]
