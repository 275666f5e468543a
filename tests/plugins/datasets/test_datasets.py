"""The MEGC2019 readers on fixtures written in the datasets' distributed layouts."""

import json
import logging
import shutil
from collections import Counter

import openpyxl
import pytest

from mebench.errors import DataError, OptionError
from mebench.registry import default_registry
from mebench_plugins.datasets.formats import EMOTIONS, FIVE_CLASS_TASKS
from mebench_plugins.datasets.megc2019 import check_task, read_official
from tests.conftest import load_task, mebench_cli, tiny_run
from tests.kit.megc_fixtures import FIVE_CLASS_COUNTS, FIVE_CLASS_SUBJECTS, SLIPS, edit_sheet

OFFICIAL_COUNTS = {"casme2": (145, 24, {"negative": 88, "positive": 32, "surprise": 25}),
                   "samm": (133, 28, {"negative": 92, "positive": 26, "surprise": 15}),
                   "smic": (164, 16, {"negative": 70, "positive": 51, "surprise": 43})}


@pytest.fixture
def pristine(megc_root):
    """The session's fixture copy (never modified; shared with other test modules and their cache)."""
    return megc_root


@pytest.fixture
def data_root(pristine, tmp_path):
    """A private copy that a test may damage."""
    return shutil.copytree(pristine, tmp_path / "data")


def test_official_list_has_the_published_counts():
    rows = read_official()
    assert len(rows) == 442 and len({r[1] for r in rows}) == 68
    for dataset, (n, subjects, classes) in OFFICIAL_COUNTS.items():
        mine = [r for r in rows if r[0] == dataset]
        assert len(mine) == n and len({r[1] for r in mine}) == subjects
        assert Counter(r[3] for r in mine) == classes
    assert len(read_official(gt_version=441)) == 441


def test_spreadsheets_and_rules_agree_with_the_official_list(pristine):
    report = check_task("combined", pristine)
    assert report.ok and not report.extra
    assert len(report.found) == 442 and len({s.subject for s in report.found}) == 68
    official = {f"{r[1]}/{r[2]}": r[3] for r in read_official()}
    assert {s.id: s.label for s in report.found} == official  # labels derived from emotions + rules
    emotions = Counter((s.dataset, s.emotion) for s in report.found)
    assert all(EMOTIONS[d][e.lower()] is not None for d, e in emotions)
    smic = next(s for s in report.found if s.dataset == "smic")
    assert smic.apex is None and smic.onset < smic.offset  # first/last frames, apex by rule
    casme = next(s for s in report.found if s.id == "casme2/sub01/EP02_01f")
    assert casme.frames.indices() == [casme.onset + 3 * k for k in range(5)]  # numbers read from file names


@pytest.mark.parametrize("task", ["casme2", "samm", "smic"])
def test_single_dataset_tasks(pristine, task):
    samples = load_task(task, pristine)
    n, subjects, classes = OFFICIAL_COUNTS[task]
    assert len(samples) == n and len({s.subject for s in samples}) == subjects
    assert Counter(s.label for s in samples) == classes


def test_data_check_cli_reports_the_official_table(pristine):
    result = mebench_cli("data", "check", "combined", "--data-root", str(pristine))
    assert result.exit_code == 0, result.output
    assert "442 of 442 official samples found, 68 of 68 subjects" in result.output
    assert "| negative |        250 |     250 |" in result.output
    assert "combined: OK" in result.output


def test_data_check_lists_missing_and_extra_samples(data_root):
    shutil.rmtree(data_root / "SMIC" / "HS" / "s1" / "micro" / "negative" / "s1_ne_01")
    extra = data_root / "SMIC" / "HS" / "s1" / "micro" / "positive" / "s1_po_99"
    shutil.copytree(data_root / "SMIC" / "HS" / "s1" / "micro" / "positive" / "s1_po_01", extra)
    result = mebench_cli("data", "check", "smic", "--data-root", str(data_root))
    assert result.exit_code == 1
    assert "missing: 1" in result.output and "smic/s01/s01_ne_01" in result.output
    assert "smic/s01/s01_po_99" in result.output
    with pytest.raises(DataError, match="run `mebench data check smic`"):
        load_task("smic", data_root)


def _problem(data_root, task):
    report = check_task(task, data_root)
    assert not report.ok
    return "\n".join(report.problems)


def test_unknown_emotion_label_names_file_row_and_fix(data_root):
    sheet = data_root / "CASME2" / "CASME2-coding-20140508.xlsx"
    row = edit_sheet(sheet, "EP02_01f", "Estimated Emotion", "hapiness")
    with pytest.raises(DataError) as error:
        check_task("casme2", data_root)
    message = str(error.value)
    assert str(sheet) in message and f"row {row}" in message and "'hapiness'" in message and "expected one of" in message


def test_apex_outside_onset_offset_falls_back_to_the_rule_with_a_note(data_root):
    sheet = data_root / "SAMM" / "SAMM_Micro_FACS_Codes_v2.xlsx"
    row = edit_sheet(sheet, "006_1_2", "Apex Frame", 1)
    sample = next(s for s in check_task("samm", data_root).found if s.id == "samm/006/006_1_2")
    assert sample.apex is None
    [note] = sample.corrections
    assert note.startswith(f"{sheet}, row {row}: samm/006/006_1_2: apex 1 is outside onset..offset")
    assert note.endswith("used the apex rule of the preprocessing chain")


def test_missing_apex_cell_falls_back_to_the_rule(data_root):
    sheet = data_root / "SAMM" / "SAMM_Micro_FACS_Codes_v2.xlsx"
    edit_sheet(sheet, "006_1_2", "Apex Frame", -1)
    sample = next(s for s in load_task("samm", data_root) if s.id == "samm/006/006_1_2")
    assert sample.apex is None and "apex frame not annotated" in sample.corrections[0]


def test_known_slips_are_corrected_noted_and_do_not_block(pristine, caplog):
    report = check_task("combined", pristine)
    assert report.ok
    corrected = {s.id: s for s in report.found if s.corrections}
    assert set(corrected) == set(SLIPS)
    for sample_id, sample in corrected.items():
        [note] = sample.corrections
        sheet = "CASME2-coding-20140508.xlsx" if sample.dataset == "casme2" else "SAMM_Micro_FACS_Codes_v2.xlsx"
        assert sheet in note and ", row " in note and sample_id in note and "; used " in note
        present = sample.frames.indices()
        assert present[0] <= sample.onset <= sample.offset <= present[-1]
    offset_slip = corrected["casme2/sub03/EP01_2"]
    assert offset_slip.offset == offset_slip.frames.indices()[-1]
    assert f"used offset {offset_slip.offset} (the last frame)" in offset_slip.corrections[0]
    onset_slip = corrected["casme2/sub04/EP12_02f"]
    assert onset_slip.onset == onset_slip.frames.indices()[0]
    assert corrected["samm/009/009_2_1"].apex is None and corrected["samm/010/010_2_1"].apex is None
    with caplog.at_level(logging.WARNING, logger="mebench.datasets"):
        samples = load_task("samm", pristine)
    assert len(samples) == 133
    warnings = [r.getMessage() for r in caplog.records if r.name == "mebench.datasets"]
    assert sorted(warnings) == sorted(s.corrections[0] for s in corrected.values() if s.dataset == "samm")
    assert all("\n" not in line for line in warnings)


def test_strict_refuses_known_slips(pristine):
    report = check_task("casme2", pristine, strict=True)
    assert len(report.problems) == 3 and all("strict=true" in p for p in report.problems)
    with pytest.raises(DataError, match="3 problem"):
        load_task("casme2", pristine, strict=True)


def test_data_check_lists_corrections_and_exits_by_what_blocks(data_root):
    result = mebench_cli("data", "check", "casme2", "--data-root", str(data_root))
    assert result.exit_code == 0, result.output
    assert "corrections (known annotation slips" in result.output and "casme2/sub05/EP02_07" in result.output
    assert "casme2: OK (3 annotation slip(s) corrected)" in result.output
    result = mebench_cli("data", "check", "casme2", "--data-root", str(data_root),
                                       "--dataset-opt", "strict=true")
    assert result.exit_code == 1 and "problems: 3" in result.output
    edit_sheet(data_root / "CASME2" / "CASME2-coding-20140508.xlsx", "EP02_01f", "Estimated Emotion", "hapiness")
    result = mebench_cli("data", "check", "casme2", "--data-root", str(data_root))
    assert result.exit_code == 1 and "unknown emotion label 'hapiness'" in result.output


def test_missing_frame_and_missing_folder(data_root):
    # the onset's file is missing while an earlier frame is present: a damaged copy, not a slip
    clip = data_root / "CASME2" / "CASME2_RAW_selected" / "sub01" / "EP02_01f"
    onset = min(clip.iterdir(), key=lambda p: int(p.stem[3:]))
    onset.rename(clip / f"img{int(onset.stem[3:]) - 1}.jpg")
    problem = _problem(data_root, "casme2")
    assert str(clip) in problem and "missing onset frame" in problem and "row 2" in problem
    shutil.rmtree(data_root / "CASME2" / "CASME2_RAW_selected" / "sub02")
    problem = _problem(data_root, "casme2")
    assert "missing clip folder" in problem and "sub02" in problem


def test_spreadsheet_without_the_expected_header(data_root):
    sheet = data_root / "SAMM" / "SAMM_Micro_FACS_Codes_v2.xlsx"
    workbook = openpyxl.Workbook()
    workbook.active.append(["Participant", "Clip"])
    workbook.save(sheet)
    with pytest.raises(DataError, match="no header row .*'Subject'.*expected a header with columns Subject, Filename"):
        check_task("samm", data_root)
    workbook = openpyxl.Workbook()
    workbook.active.append(["Subject", "Filename", "Onset Frame"])
    workbook.save(sheet)
    with pytest.raises(DataError, match="row 1: header row lacks column\\(s\\) Apex Frame"):
        check_task("samm", data_root)


def test_unreadable_image_names_the_file(data_root, registry, tmp_path):
    clip = data_root / "SAMM" / "SAMM" / "006" / "006_1_2"
    broken = sorted(clip.iterdir())[0]
    broken.write_bytes(b"not a jpeg")
    with pytest.raises(DataError, match=f"{broken}: unreadable image"):
        tiny_run(registry, tmp_path, dataset="samm", batch_size=None, dataset_options={}, data_root=str(data_root))
    result = mebench_cli("run", "--model", "base", "--dataset", "samm", "--data-root", data_root, "--epochs", "1",
                         "--output", tmp_path, "--quiet")
    assert result.exit_code == 1 and "unreadable image" in result.output and "Traceback" not in result.output


def test_errata_file_corrects_an_annotation(data_root, tmp_path):
    sheet = data_root / "SAMM" / "SAMM_Micro_FACS_Codes_v2.xlsx"
    edit_sheet(sheet, "006_1_2", "Apex Frame", 1)  # a wrong apex …
    errata = tmp_path / "errata.csv"
    errata.write_text("# version 1\ndataset,subject,clip,field,value,note\nsamm,006,006_1_2,apex,,apex unknown\n")
    samples = load_task("samm", data_root, errata=str(errata))  # … corrected by an erratum
    sample = next(s for s in samples if s.id == "samm/006/006_1_2")
    assert sample.apex is None
    [note] = sample.corrections  # the erratum's note, no second note for the apex it cleared
    assert f"corrected by {errata}, line 3 (apex unknown)" in note


def test_shipped_errata_name_clips_only():
    from mebench_plugins.datasets.formats import load_errata

    for (dataset, subject, clip), fixes in load_errata().items():
        assert dataset in EMOTIONS and subject and clip and all(fix.note for fix in fixes)


def test_no_data_root_is_a_clear_error(monkeypatch):
    for name in ("MEBENCH_CASME2", "MEBENCH_SAMM", "MEBENCH_SMIC"):
        monkeypatch.delenv(name, raising=False)
    with pytest.raises(DataError, match="pass --data-root DIR"):
        load_task("casme2", None)


@pytest.mark.slow
def test_combined_runs_all_68_folds_with_composite_and_per_dataset_metrics(pristine, registry, tmp_path):
    outcome = tiny_run(registry, tmp_path, dataset="combined", batch_size=32, dataset_options={},
                       data_root=str(pristine))
    assert outcome.record.n_folds == 68 and outcome.record.n_samples == 442
    metrics = json.loads((outcome.run_dir / "metrics.json").read_text())
    assert set(metrics["per_dataset"]) == {"casme2", "samm", "smic"}
    assert sum(m["n"] for m in metrics["per_dataset"].values()) == 442
    run = json.loads((outcome.run_dir / "run.json").read_text())
    assert set(run["annotation_corrections"]) == set(SLIPS)  # each corrected slip recorded per sample
    assert run["face_crop"]["uncropped_samples"] == 442  # every fixture layout is a not-cropped one


@pytest.mark.parametrize("task", ["casme2-5class", "samm-5class"])
def test_five_class_tasks_count_classes_from_the_spreadsheet(pristine, task):
    spec = default_registry().datasets.get(task)
    samples = load_task(task, pristine)
    assert spec.classes == FIVE_CLASS_TASKS[task].classes
    assert Counter(s.label for s in samples) == FIVE_CLASS_COUNTS[task]
    assert len({s.subject for s in samples}) == FIVE_CLASS_SUBJECTS[task]
    excluded = {"casme2-5class": {"fear", "sadness"}, "samm-5class": {"disgust", "fear", "sadness"}}[task]
    assert not {s.emotion.lower() for s in samples} & excluded
    assert all(s.label in spec.classes for s in samples)


def test_five_class_label_mapping():
    casme2, samm = FIVE_CLASS_TASKS["casme2-5class"], FIVE_CLASS_TASKS["samm-5class"]
    assert casme2.classes == ("happiness", "surprise", "disgust", "repression", "others")
    assert samm.classes == ("anger", "contempt", "happiness", "surprise", "other")
    assert samm.mapping["others"] == samm.mapping["other"] == "other"  # a spelling some copies use
    assert [e for e, c in casme2.mapping.items() if c is None] == ["fear", "sadness"]
    assert sorted(e for e, c in samm.mapping.items() if c is None) == ["disgust", "fear", "sadness"]
    for task in (casme2, samm):  # one vocabulary per dataset: a typo is an error in every task
        assert set(task.mapping) == set(EMOTIONS[task.dataset])
        assert {c for c in task.mapping.values() if c} == set(task.classes)


def test_five_class_unknown_emotion_is_an_error(data_root):
    sheet = data_root / "SAMM" / "SAMM_Micro_FACS_Codes_v2.xlsx"
    row = edit_sheet(sheet, "007_9_9", "Estimated Emotion", "Contemp")
    with pytest.raises(DataError, match=f"row {row}: unknown emotion label 'Contemp' — expected one of"):
        load_task("samm-5class", data_root)


def test_data_check_shows_five_class_counts_per_class_and_subject(pristine):
    result = mebench_cli("data", "check", "samm-5class", "--data-root", str(pristine))
    assert result.exit_code == 0, result.output
    assert "no official sample list for this task" in result.output
    assert "82 samples, 27 subjects" in result.output
    assert "| anger     |        19 |" in result.output
    assert "| subject   |   anger |   contempt |   happiness |   surprise |   other |   total |" in result.output


def test_each_sample_records_whether_its_layout_is_face_cropped(data_root):
    found = check_task("combined", data_root).found
    assert {s.dataset: s.cropped for s in found} == {"casme2": False, "samm": False, "smic": False}
    (data_root / "CASME2" / "CASME2_RAW_selected").rename(data_root / "CASME2" / "Cropped")
    (data_root / "SMIC" / "SMIC_all_cropped").mkdir()
    (data_root / "SMIC" / "HS").rename(data_root / "SMIC" / "SMIC_all_cropped" / "HS")
    found = check_task("combined", data_root).found
    assert {s.dataset: s.cropped for s in found} == {"casme2": True, "samm": False, "smic": True}
    result = mebench_cli("data", "check", "combined", "--data-root", str(data_root))
    assert "| casme2    |       145 |               145 |                    0 |" in result.output
    assert "| samm      |       133 |                 0 |                  133 |" in result.output


@pytest.mark.parametrize("options, message", [
    ({"nosuch": 1}, "--dataset-opt nosuch: dataset 'samm' has no option 'nosuch'; valid options: gt_version, "
                    "official, errata, strict, samm_root"),
    ({"casme2_root": "/x"}, "dataset 'samm' has no option 'casme2_root'"),
    ({"gt_version": 440}, "--dataset-opt gt_version=440: dataset 'samm' takes gt_version as one of 442, 441; got 440"),
    ({"strict": "yes"}, "takes strict as true or false; got 'yes'"),
])
def test_megc_options_are_validated_before_reading(options, message, tmp_path):
    with pytest.raises(OptionError) as error:
        load_task("samm", tmp_path / "nothing here", **options)  # refused before the missing folder is noticed
    assert str(error.value) == message or message in str(error.value)
    result = mebench_cli("data", "check", "samm", "--data-root", tmp_path,
                         *[f"--dataset-opt={k}={v}" for k, v in options.items()])
    assert result.exit_code == 2 and message.split(";")[0] in result.output and "Traceback" not in result.output
