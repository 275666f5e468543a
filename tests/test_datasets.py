"""The MEGC2019 readers on fixtures written in the datasets' distributed layouts."""

import json
import shutil
from collections import Counter

import openpyxl
import pytest
from click.testing import CliRunner

from mebench.cli import main
from mebench.data import DataError
from mebench.loso import RunConfig, run_loso
from mebench_plugins.datasets.formats import EMOTIONS
from mebench_plugins.datasets.megc2019 import check_task, load_task, read_official
from tests.megc_fixtures import write_megc_fixture

OFFICIAL_COUNTS = {"casme2": (145, 24, {"negative": 88, "positive": 32, "surprise": 25}),
                   "samm": (133, 28, {"negative": 92, "positive": 26, "surprise": 15}),
                   "smic": (164, 16, {"negative": 70, "positive": 51, "surprise": 43})}


@pytest.fixture(scope="module")
def pristine(tmp_path_factory):
    return write_megc_fixture(tmp_path_factory.mktemp("megc"))


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
    result = CliRunner().invoke(main, ["data", "check", "combined", "--data-root", str(pristine)])
    assert result.exit_code == 0, result.output
    assert "442 of 442 official samples found, 68 of 68 subjects" in result.output
    assert "| negative |        250 |     250 |" in result.output
    assert "combined: OK" in result.output


def test_data_check_lists_missing_and_extra_samples(data_root):
    shutil.rmtree(data_root / "SMIC" / "HS" / "s1" / "micro" / "negative" / "s1_ne_01")
    extra = data_root / "SMIC" / "HS" / "s1" / "micro" / "positive" / "s1_po_99"
    shutil.copytree(data_root / "SMIC" / "HS" / "s1" / "micro" / "positive" / "s1_po_01", extra)
    result = CliRunner().invoke(main, ["data", "check", "smic", "--data-root", str(data_root)])
    assert result.exit_code == 1
    assert "missing: 1" in result.output and "smic/s01/s01_ne_01" in result.output
    assert "smic/s01/s01_po_99" in result.output
    with pytest.raises(DataError, match="run `mebench data check smic`"):
        load_task("smic", data_root)


def _edit_sheet(path, row_match, column, value):
    workbook = openpyxl.load_workbook(path)
    sheet = workbook.active
    header = next(r for r in sheet.iter_rows(values_only=True) if r and r[0] == "Subject")
    col = header.index(column) + 1
    for row in sheet.iter_rows(min_row=1):
        if row[1].value == row_match:
            row[col - 1].value = value
            workbook.save(path)
            return row[0].row
    raise AssertionError(row_match)


def _problem(data_root, task):
    report = check_task(task, data_root)
    assert not report.ok
    return "\n".join(report.problems)


def test_unknown_emotion_label_names_file_row_and_fix(data_root):
    sheet = data_root / "CASME2" / "CASME2-coding-20140508.xlsx"
    row = _edit_sheet(sheet, "EP02_01f", "Estimated Emotion", "hapiness")
    with pytest.raises(DataError) as error:
        check_task("casme2", data_root)
    message = str(error.value)
    assert str(sheet) in message and f"row {row}" in message and "'hapiness'" in message and "expected one of" in message


def test_apex_outside_onset_offset_names_the_row(data_root):
    sheet = data_root / "SAMM" / "SAMM_Micro_FACS_Codes_v2.xlsx"
    row = _edit_sheet(sheet, "006_1_2", "Apex Frame", 1)
    problem = _problem(data_root, "samm")
    assert str(sheet) in problem and f"row {row}" in problem and "outside onset..offset" in problem


def test_missing_apex_cell_falls_back_to_the_rule(data_root):
    sheet = data_root / "SAMM" / "SAMM_Micro_FACS_Codes_v2.xlsx"
    _edit_sheet(sheet, "006_1_2", "Apex Frame", -1)
    sample = next(s for s in load_task("samm", data_root) if s.id == "samm/006/006_1_2")
    assert sample.apex is None


def test_missing_frame_and_missing_folder(data_root):
    clip = data_root / "CASME2" / "CASME2_RAW_selected" / "sub01" / "EP02_01f"
    onset = min(clip.iterdir(), key=lambda p: int(p.stem[3:]))
    onset.unlink()
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
    config = RunConfig(model="tiny", dataset="samm", epochs=1, device="cpu", precision="fp32",
                       data_root=str(data_root))
    with pytest.raises(DataError, match=f"{broken}: unreadable image"):
        run_loso(config, registry, output_dir=tmp_path, progress=False, workers=1, log=lambda _: None)
    result = CliRunner().invoke(main, ["run", "--model", "base", "--dataset", "samm", "--data-root", str(data_root),
                                       "--epochs", "1", "--output", str(tmp_path), "--quiet"])
    assert result.exit_code == 1 and "unreadable image" in result.output and "Traceback" not in result.output


def test_errata_file_corrects_an_annotation(data_root, tmp_path):
    sheet = data_root / "SAMM" / "SAMM_Micro_FACS_Codes_v2.xlsx"
    _edit_sheet(sheet, "006_1_2", "Apex Frame", 1)  # a wrong apex …
    errata = tmp_path / "errata.csv"
    errata.write_text("# version 1\ndataset,subject,clip,field,value,note\nsamm,006,006_1_2,apex,,apex unknown\n")
    samples = load_task("samm", data_root, errata=str(errata))  # … corrected by an erratum
    assert next(s for s in samples if s.id == "samm/006/006_1_2").apex is None


def test_no_data_root_is_a_clear_error(monkeypatch):
    for name in ("MEBENCH_CASME2", "MEBENCH_SAMM", "MEBENCH_SMIC"):
        monkeypatch.delenv(name, raising=False)
    with pytest.raises(DataError, match="pass --data-root DIR"):
        load_task("casme2", None)


def test_combined_runs_all_68_folds_with_composite_and_per_dataset_metrics(pristine, registry, tmp_path):
    config = RunConfig(model="tiny", dataset="combined", epochs=1, batch_size=32, device="cpu", precision="fp32",
                       data_root=str(pristine))
    outcome = run_loso(config, registry, output_dir=tmp_path, progress=False, log=lambda _: None)
    assert outcome.run_info["n_folds"] == 68 and outcome.run_info["n_samples"] == 442
    metrics = json.loads((outcome.run_dir / "metrics.json").read_text())
    assert set(metrics["per_dataset"]) == {"casme2", "samm", "smic"}
    assert sum(m["n"] for m in metrics["per_dataset"].values()) == 442
