"""What the other databases' readers and the composites promise, each on a fixture in the second layout or
spelling it names (tests/kit/database_fixtures.py): CASME's cropped and raw frame folders, padded and unpadded
subject folders, its apex column and its positive class; 4DME's two frame folders; CAS(ME)³'s recordings and
its several frame folders; headers in other cases; where a database lives; composites; and ``strict=true``
on every task family (issue 29)."""

from __future__ import annotations

import shutil
from collections import Counter

import openpyxl
import pytest

from mebench.errors import DataError, OptionError
from mebench.registry import default_registry
from mebench_plugins.datasets.databases import check_composite
from tests.conftest import load_task
from tests.kit.database_fixtures import (CASME3_SHEET, CASME3_SMALL_ROWS, CASME_COUNTS, CASME_VARIANT_CLIPS,
                                     FOURDME_CLIPS, FOURDME_COUNTS, MMEW_COUNTS, edit_cell, recase_header, write_4dme,
                                     write_casme, write_casme3_small, write_casme_variant, write_mmew, write_smic)

# --- composites and where a database lives ---------------------------------------------------------------------


@pytest.mark.parametrize("view", ["smic-e-hs", "smic-e-vis", "smic-e-nir"])
def test_a_composite_refuses_smic_beside_any_smic_e_view(view, tmp_path):
    with pytest.raises(OptionError, match=f"smic, {view} are views of the same SMIC recordings"):
        load_task("composite", tmp_path, members=f"smic,{view}")


def test_the_root_option_wins_over_the_environment_variable(tmp_path, monkeypatch):
    write_mmew(tmp_path / "data")
    monkeypatch.setenv("MEBENCH_MMEW", str(tmp_path / "nowhere"))
    samples = load_task("mmew", None, mmew_root=str(tmp_path / "data" / "MMEW"))
    assert Counter(s.label for s in samples) == MMEW_COUNTS["mmew"]
    monkeypatch.setenv("MEBENCH_MMEW", str(tmp_path / "data" / "MMEW"))
    with pytest.raises(DataError, match="nowhere: database folder not found"):
        load_task("mmew", None, mmew_root=str(tmp_path / "nowhere"))


def test_a_composite_passes_gt_version_to_its_megc_members(megc_root, tmp_path):
    """The 441 version of the official list drops SAMM 032_3_1: the composite's samm member drops it too."""
    write_mmew(tmp_path)
    mmew = str(tmp_path / "MMEW")
    latest = check_composite(megc_root, members="samm,mmew", mmew_root=mmew)
    older = check_composite(megc_root, members="samm,mmew", gt_version=441, mmew_root=mmew)
    samm = {s.id for s in latest.found if s.dataset == "samm"}
    assert "samm/032/032_3_1" in samm
    assert {s.id for s in older.found if s.dataset == "samm"} == samm - {"samm/032/032_3_1"}
    assert sum(s.dataset == "mmew" for s in older.found) == sum(MMEW_COUNTS["mmew"].values())


# --- CASME: its frame folders, subject folders, apex column and classes ------------------------------------------


def test_casme_reads_unpadded_subject_folders_and_apexf1(tmp_path):
    cells = write_casme_variant(tmp_path, folders=("CASME_raw_selected",), padded=False)
    samples = {s.id: s for s in load_task("casme", tmp_path)}
    assert set(samples) == set(cells) and len(samples) == len(CASME_VARIANT_CLIPS)
    for sample_id, (onset, apex_f1, apex_f2, offset) in cells.items():
        sample = samples[sample_id]
        assert (sample.onset, sample.apex, sample.offset) == (onset, apex_f1, offset) and apex_f1 != apex_f2
        subject = f"sub{int(sample_id.split('/')[1][3:])}"  # sub01 → the folder sub1
        assert sample.frames.folder == tmp_path / "CASME" / "CASME_raw_selected" / subject / sample_id.split("/")[2]


def test_casme_prefers_cropped_frames_and_marks_them_cropped(tmp_path):
    write_casme_variant(tmp_path, folders=("Cropped", "CASME_raw_selected"), padded=True)
    samples = load_task("casme", tmp_path)
    assert len(samples) == len(CASME_VARIANT_CLIPS)
    assert all(s.cropped is True and s.frames.folder.parent.parent.name == "Cropped" for s in samples)
    assert all(name.startswith("reg_") for s in samples for _, name in s.frames.files)
    shutil.rmtree(tmp_path / "CASME" / "Cropped")
    raw = load_task("casme", tmp_path)
    assert all(s.cropped is False and s.frames.folder.parent.parent.name == "CASME_raw_selected" for s in raw)


def test_casme_amusement_is_positive(tmp_path):
    write_casme_variant(tmp_path, folders=("CASME_raw_selected",))
    labels = {s.id: s.label for s in load_task("casme", tmp_path)}
    expected = {"amusement": "positive", "happiness": "positive", "disgust": "negative", "surprise": "surprise"}
    assert labels == {f"casme/sub{subject:02d}/{name}": expected[emotion]
                      for subject, name, emotion in CASME_VARIANT_CLIPS}


# --- 4DME and CAS(ME)³: which frames, and whether they are already cropped ------------------------------------


def test_4dme_gray_micro_is_not_cropped_and_gray_micro_crop_is(tmp_path):
    write_4dme(tmp_path)
    raw = load_task("4dme-5class", tmp_path)
    assert len(raw) == sum(FOURDME_COUNTS["4dme-5class"].values())
    assert all(s.cropped is False and "gray_micro" in s.frames.folder.parts for s in raw)
    (tmp_path / "4DME" / "gray_micro").rename(tmp_path / "4DME" / "gray_micro_crop")
    cropped = load_task("4dme-5class", tmp_path)
    assert {s.id for s in cropped} == {s.id for s in raw}
    assert all(s.cropped is True and "gray_micro_crop" in s.frames.folder.parts for s in cropped)


def test_casme3a_recordings_are_not_cropped(tmp_path):
    write_casme3_small(tmp_path)
    samples = load_task("casme3a-7class", tmp_path)
    assert sorted(s.id for s in samples) == sorted(f"casme3a/{s}/{f}_{o}" for s, f, o, *_ in CASME3_SMALL_ROWS)
    assert all(s.cropped is False for s in samples)


@pytest.mark.parametrize("folders", [("RGB", "part_A"), ("part_A", "zz_frames")])
def test_casme3a_prefers_part_a_among_folders_of_subject_folders(tmp_path, folders):
    write_casme3_small(tmp_path, folders=folders)
    samples = load_task("casme3a-7class", tmp_path)
    assert len(samples) == len(CASME3_SMALL_ROWS)
    assert all(s.frames.folder.parents[2] == tmp_path / "CASME3" / "part_A" for s in samples)


# --- sheet columns matched without regard to case --------------------------------------------------------------


@pytest.mark.parametrize("spell", [str.upper, str.lower, str.swapcase], ids=["upper", "lower", "swapped"])
def test_sheet_columns_are_matched_without_regard_to_case(tmp_path, spell):
    write_mmew(tmp_path)
    write_4dme(tmp_path)
    write_casme(tmp_path)
    assert recase_header(tmp_path / "MMEW" / "MMEW_Micro_Exp.xlsx", spell)[1] == spell("Filename")
    recase_header(tmp_path / "4DME" / "4DME_Labelling_Micro_release v1.xlsx", spell)
    recase_header(tmp_path / "CASME" / "casme.xlsx", spell)
    for task, counts in (("mmew", MMEW_COUNTS["mmew"]), ("4dme", FOURDME_COUNTS["4dme"]),
                         ("casme", CASME_COUNTS["casme"])):
        assert Counter(s.label for s in load_task(task, tmp_path)) == counts, task
    au = {s.id: s.targets for s in load_task("casme-au", tmp_path)}
    assert au["casme/sub01/EP01_5"] == ("AU4", "AU9")  # CASME_AUS[0] = '4+9', read from the 'au' column


# --- strict=true on every task family ----------------------------------------------------------------------------

def _mmew(root):
    write_mmew(root)
    return {}


def _casme(root):
    write_casme(root)
    return {}


def _mmew_casme(root):
    write_mmew(root)
    write_casme(root)
    return {}


def _4dme(root):
    write_4dme(root)
    write_casme(root)  # for the composite casme,4dme
    _, name, _ = FOURDME_CLIPS[0]
    edit_cell(root / "4DME" / "4DME_Labelling_Micro_release v1.xlsx", {"fold_name": name}, "Offset", 99_999)
    return {}


def _smic_e(root):
    """s11_ne_01's offset set to FirstF + 40 (within the sheet's FirstF..LastF) in a copy that lost the recording's
    last frame: its last frame on disk is FirstF + 28."""
    write_smic(root)
    sheet = root / "SMIC" / "SMIC-E" / "SMIC-NIR-E_annotation.xlsx"
    table = openpyxl.load_workbook(sheet).worksheets[0]
    header = [c.value for c in table[1]]
    [first] = [r[header.index("FirstF")] for r in table.iter_rows(min_row=2, values_only=True) if r[1] == "s11_ne_01"]
    edit_cell(sheet, {"Filename": "s11_ne_01"}, "OffsetF", first + 40)
    (root / "SMIC" / "NIR_long" / "SMIC_NIR_E" / "s11" / "s11_ne_01" / f"image{first + 60:06d}.jpg").unlink()
    return {}


def _casme3(root):
    write_casme3_small(root)
    edit_cell(root / "CASME3" / "annotation" / "partA" / CASME3_SHEET, {"Subject": "spNO.1", "Filename": "a"},
              "Offset", "99")
    return {}


def _samm_mmew(root):
    """With the session's MEGC data root: MMEW's folder given by its option."""
    write_mmew(root)
    return {"mmew_root": str(root / "MMEW")}


def _cd6me(root):
    """With the session's MEGC data root (CASME II, SAMM): the other four databases' folders by their options."""
    write_mmew(root)
    write_4dme(root)
    write_casme(root)
    write_casme3_small(root)
    return {f"{name}_root": str(root / folder) for name, folder in (("mmew", "MMEW"), ("4dme", "4DME"),
                                                                      ("casme", "CASME"), ("casme3", "CASME3"))}


ON_MEGC_ROOT = (_samm_mmew, _cd6me)


MMEW_OFFSET = ("mmew/S02/S02-02-001", "offset 33 is past the clip's last frame 13")
CASME_ONSET = ("casme/sub02/EP02_1", "is before the clip's first frame")
#: task, options, fixture, the slipped sample and its slip; the data root is the fixture's (ON_MEGC_ROOT: the MEGC one)
STRICT_CASES = [
    ("mmew", {}, _mmew, *MMEW_OFFSET),
    ("mmew-6class", {}, _mmew, "mmew/S03/S03-05-001", "apex frame not annotated"),
    ("casme", {}, _casme, *CASME_ONSET),
    ("casme-4class", {}, _casme, *CASME_ONSET),
    ("4dme", {}, _4dme, "4dme/S01/S01_001", "offset 99999 is past the clip's last frame"),
    ("4dme-5class", {}, _4dme, "4dme/S01/S01_001", "offset 99999 is past the clip's last frame"),
    ("smic-e-nir", {}, _smic_e, "smic-e-nir/s11/s11_ne_01", "is past the clip's last frame"),
    ("casme3a", {}, _casme3, "casme3a/spNO.1/a_20", "offset 99 is past the clip's last frame 35"),
    ("casme3a-7class", {}, _casme3, "casme3a/spNO.1/a_20", "offset 99 is past the clip's last frame 35"),
    ("composite", {"members": "mmew,casme"}, _mmew_casme, *MMEW_OFFSET),
    ("composite", {"members": "casme,4dme"}, _4dme, "4dme/S01/S01_001", "offset 99999 is past"),
    ("composite", {"members": "samm,mmew"}, _samm_mmew, "samm/007/007_3_1", "is past the clip's last frame"),
    ("mmew-au", {}, _mmew, *MMEW_OFFSET),
    ("casme-au", {}, _casme, *CASME_ONSET),
    ("casme3a-au", {}, _casme3, "casme3a/spNO.1/a_20", "offset 99 is past the clip's last frame 35"),
    ("au-composite", {"members": "mmew-au,casme-au"}, _mmew_casme, *CASME_ONSET),
    ("au-composite", {"members": "samm-au,mmew-au"}, _samm_mmew, "samm/007/007_3_1", "is past the clip's last"),
    ("cd6me", {}, _cd6me, *MMEW_OFFSET),
]


@pytest.mark.parametrize("task, options, fixture, sample_id, slip", STRICT_CASES,
                         ids=[f"{c[0]}-{c[1].get('members', '')}".rstrip("-") for c in STRICT_CASES])
def test_strict_refuses_the_slips_it_otherwise_corrects(task, options, fixture, sample_id, slip, tmp_path,
                                                        megc_root):
    if fixture in ON_MEGC_ROOT:
        root, options = megc_root, {**options, **fixture(tmp_path)}
    else:
        fixture(tmp_path)
        root = tmp_path
    corrected = {s.id: s for s in load_task(task, root, **options)}
    notes = corrected[sample_id].corrections
    assert any(f"{sample_id}: " in note and slip in note for note in notes), notes
    with pytest.raises(DataError, match="strict=true refuses known annotation slips"):
        load_task(task, root, strict=True, **options)
    report = default_registry().datasets.get(task).check(str(root), strict=True, **options)
    assert sample_id not in {s.id for s in report.found}
    assert any(f"{sample_id}: " in problem and slip in problem for problem in report.problems), report.problems

