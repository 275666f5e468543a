"""Action-unit detection tasks, dataset side: the AU cell parser on every spelling of the public sheets
(tests/kit/au_spellings.py), the task options (AU set, alternatives, ref), the per-AU counts on fixtures in the
databases' layouts, clips not coded, unreadable cells, errata of AU cells, the composites and a plan."""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path

import pytest

from mebench.data import check_labels
from mebench.errors import DataError, OptionError
from mebench.run.plan import load_task_samples, plan_run
from mebench.registry import default_registry
from mebench_plugins.datasets.action_units import (MEB_AUS, AUCell, AUSyntaxError, au_labels, one_hot, parse_au_cell,
                                                   parse_au_set, read_cell, resolve)
from mebench_plugins.datasets.au_tasks import (AU_TASKS, CD6ME, check_au_task,
                                               parse_au_members, task_databases)
from mebench_plugins.datasets.catalog import DATABASES
from mebench_plugins.datasets.formats import load_errata
from mebench.tasks import MULTI_LABEL
from tests.kit import au_spellings
from tests.kit.au_spellings import MEB_SAMM_PATCHES, MEB_TABLE4, NOT_CODED, Parse
from tests.conftest import mebench_cli, private, tiny_config
from tests.kit.database_fixtures import AU_COUNTS, FOURDME_AUS, MMEW_AUS, MMEW_CLIPS
from tests.kit.megc_fixtures import MEGC_AU_CELLS, MEGC_AU_COUNTS, edit_sheet

MEB12 = au_labels(MEB_AUS)
PUBLIC = {"casme3a": au_spellings.CASME3A, "casme3c": au_spellings.CASME3C, "casme2": au_spellings.CASME2,
          "samm": au_spellings.SAMM}


def assert_parse(cell, expected) -> None:
    code = parse_au_cell(cell)
    if expected is NOT_CODED:
        assert not code.coded, cell
    elif isinstance(expected, set):
        assert code.coded and code.present == expected and not code.alternatives and not code.referenced, cell
        assert not code.static and not code.ignored, cell
    else:
        assert code.coded, cell
        assert (code.present, code.alternatives, code.referenced, code.static) == (
            expected.present, expected.alternatives, expected.referenced, expected.static), cell
        assert any("'/'" in note for note in code.notes) == expected.slash, cell
        assert any("unclear offset" in note for note in code.notes) == expected.unclear, cell
        assert bool(code.ignored) == expected.ignored, cell


# --- the parser --------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("sheet", list(PUBLIC))
def test_every_spelling_of_the_public_sheets_parses_as_listed(sheet):
    for cell, _, expected in PUBLIC[sheet]:
        assert_parse(cell, expected)


def test_the_full_part_a_sheets_further_cells_code_the_numbers_of_their_items():
    for cell in au_spellings.CASME3A_FULL:  # lower-case r18, repeated AUs, mixed sides
        assert_parse(cell, {int(re.sub(r"\D", "", item)) for item in cell.split("+")})


@pytest.mark.parametrize("cell, expected", [
    ("4+L10", {4, 10}), ("R12+R15", {12, 15}), ("12+15", {12, 15}), ("T28+14", {14, 28}), ("R14A", {14}),
    ("20C", {20}), ("R4,5", {4, 5}), ("4，11", {4, 11}), ("14,L24,", {14, 24}), ("r18", {18}), ("B23", {23}),
    ("A12+A7", {7, 12}), ("A1B+A2C", {1, 2}), ("L12 + 61", {12, 61}), (4, {4}), (12.0, {12}),
    ("ref(7B)+43", Parse({43}, referenced={7})), ("7B+ ref(43)", Parse({7}, referenced={43})),
    ("ref(L10)+A12B", Parse({12}, referenced={10})), ("10A/B", Parse({10}, slash=True)),
    ("A/L12", Parse({12}, slash=True)), ("13?", Parse({13}, unclear=True)),
    ("(R6 or R12)+R15", Parse({15}, alternatives=((6, 12),))),
    ("R14A or 17A or 24A", Parse(set(), alternatives=((14, 17, 24),))),
    ("L12 or R12", {12}), ("12/14", Parse(set(), alternatives=((12, 14),))),
    ("AU4(k)+L7", Parse({7}, static={4})), ("AUR2+12(k)+45", Parse({2, 45}, static={12})),
    ("R14+17+soft focus", Parse({14, 17}, ignored=True)),
    ("?", NOT_CODED), (" ? ", NOT_CODED), ("", NOT_CODED), (None, NOT_CODED),
])
def test_the_issues_spellings_and_the_rules_each_shows(cell, expected):
    assert_parse(cell, expected)


@pytest.mark.parametrize("cell, reason", [
    ("4++7", "an empty item between separators"),
    ("L12 or L14+25", "next to other codes without parentheses"),
    ("12/14+25", "next to other codes without parentheses"),
    ("612", "'612' is not an AU code"),
    ("4+x", "'x' is not an AU code"),
    ("(R6 or R12+R15", "a '(' without its ')'"),
    ("AU0", "AU 0 does not exist"),
    ("ref(12 or 14)", "alternatives inside ref"),
    ("soft focus", "no AU code in the cell"),
    ("4+12/Q", "'Q' between '/'"),
    (1.5, "1.5 is not an AU number"),
    (True, "a true/false cell"),
])
def test_what_the_rules_cannot_read_raises_with_the_reason(cell, reason):
    with pytest.raises(AUSyntaxError, match=re.escape(reason)):
        parse_au_cell(cell)


def test_the_public_cells_give_mebs_per_au_counts():
    """CAS(ME)³ Part A's 860 cells give MEB's Table 4 row; SAMM's 159 give MEB's row once MEB's five
    row-position patches are applied to the cells (mebench: errata with field au), and by default drop the
    five clips whose cells give alternatives between AUs of the set."""
    def counts(table, patches=None, **rules):
        found, dropped = Counter(), 0
        for cell, rows, _ in table:
            resolution = resolve(parse_au_cell((patches or {}).get(cell, cell)), MEB_AUS, **rules)
            if resolution.aus is None:
                dropped += rows
            found.update({au: rows for au in resolution.aus or ()})
        return {au: found[au] for au in MEB_AUS}, dropped

    assert counts(au_spellings.CASME3A) == (MEB_TABLE4["casme3a"], 0)
    assert counts(au_spellings.SAMM, MEB_SAMM_PATCHES) == (MEB_TABLE4["samm"], 0)
    default, dropped = counts(au_spellings.SAMM)
    meb = MEB_TABLE4["samm"]
    assert dropped == 5 and {au: meb[au] - n for au, n in default.items() if n != meb[au]} == {12: 2, 14: 3, 15: 2}
    casme2, not_coded = counts(au_spellings.CASME2)
    assert casme2[4] == 129 and not_coded == 5  # the five '?' cells


def test_alternatives_and_ref_are_resolved_by_the_tasks_options():
    code = parse_au_cell("(R6 or R12)+R15")
    assert resolve(code, MEB_AUS, "drop").aus is None
    assert resolve(code, MEB_AUS, "all").aus == (6, 12, 15)
    assert resolve(code, MEB_AUS, "first").aus == (6, 15)
    first = resolve(parse_au_cell("R14A or 17A or 24A"), MEB_AUS, "first")
    assert first.aus == (14,) and "counted AU14 (alternatives=first)" in first.applied[0]
    outside = resolve(parse_au_cell("L12 or L14"), (4, 7), "drop")  # alternatives outside the set: no effect
    assert outside.aus == () and not outside.applied and outside.outside == {12, 14}
    referenced = parse_au_cell("ref(L10)+A12B")
    assert resolve(referenced, MEB_AUS, ref="present").aus == (10, 12)
    assert resolve(referenced, MEB_AUS, ref="absent").aus == (12,)
    assert resolve(parse_au_cell("AU4(k)+L7"), MEB_AUS).aus == (7,)  # a static AU counts as absent
    assert resolve(parse_au_cell("L12+R12A+A12B"), (12,)).aus == (12,)  # sides and intensities never split an AU


def test_an_au_outside_the_set_is_ignored_and_reported():
    resolution = resolve(parse_au_cell("4+38+L24"), MEB_AUS)
    assert resolution.aus == (4,) and resolution.outside == {24, 38}
    assert resolve(parse_au_cell("25+26"), MEB_AUS).aus == ()  # coded, none of the task's AUs: a negative sample


@pytest.mark.parametrize("text, aus", [(None, MEB_AUS), ("1,2,4,5,6,7,9,10,12,14,15,17", MEB_AUS),
                                       ("AU12+AU4", (4, 12)), (" 4, 4 12 ", (4, 12))])
def test_the_au_set_option(text, aus):
    assert parse_au_set(text) == aus


@pytest.mark.parametrize("text", ["", "4,x", "0", "AU100"])
def test_a_wrong_au_set_is_an_option_error(text):
    with pytest.raises(OptionError, match="--dataset-opt aus="):
        parse_au_set(text)


def test_4dmes_one_column_per_au():
    flags = (("AU1", 1), ("AU2", 0), ("AU4", None), ("AU12", 1))
    assert read_cell(AUCell(None, None, flags)).present == {1, 12}  # a sheet with only the columns
    assert not read_cell(AUCell(None, None, (("AU1", None), ("AU2", "")))).coded  # all empty: not coded
    agree = read_cell(AUCell("AUs", "AU1+AU12(k)", flags))
    assert agree.present == {1} and agree.static == {12} and not agree.ignored  # (k) AUs are marked in the columns
    disagree = read_cell(AUCell("AUs", "AU1+AU2", flags))
    assert disagree.present == {1, 2} and "disagree with the AUs cell on AU2, AU12" in disagree.ignored[0]
    assert one_hot(1.0) is True and one_hot("0") is False and one_hot(" ") is None
    with pytest.raises(AUSyntaxError, match="expected 1, 0 or empty"):
        read_cell(AUCell(None, None, (("AU1", "x"),)))


PUBLIC_COUNTS = {  # docs/datasets.md, "Counts on the public sheets": (task row, clips, per-AU counts of MEB's 12)
    "casme3a": ("`casme3a-au` (= MEB)", {}, 860, MEB_TABLE4["casme3a"]),
    "samm": ("`samm-au` (`alternatives=drop`)", {}, 154,
             {1: 6, 2: 18, 4: 23, 5: 10, 6: 3, 7: 46, 9: 5, 10: 6, 12: 26, 14: 10, 15: 2, 17: 6}),
    "samm-meb": ("`samm-au` with MEB's five choices as errata (= MEB)", MEB_SAMM_PATCHES, 159, MEB_TABLE4["samm"]),
    "samm-all": ("`samm-au` (`alternatives=all`)", {"alternatives": "all"}, 159,
                 {1: 6, 2: 18, 4: 23, 5: 10, 6: 5, 7: 46, 9: 5, 10: 6, 12: 30, 14: 13, 15: 4, 17: 7}),
    "casme2": ("`casme2-au` (public 20140508 sheet)", {}, 250,
               {1: 26, 2: 21, 4: 129, 5: 2, 6: 13, 7: 38, 9: 13, 10: 17, 12: 34, 14: 27, 15: 16, 17: 25}),
}


@pytest.mark.parametrize("row", list(PUBLIC_COUNTS))
def test_the_documented_counts_on_the_public_sheets(row):
    title, options, clips, counts = PUBLIC_COUNTS[row]
    patches = options if row == "samm-meb" else {}
    rules = {} if row == "samm-meb" else options
    found, n = Counter(), 0
    for cell, rows, _ in PUBLIC[row.split("-")[0]]:
        resolution = resolve(parse_au_cell(patches.get(cell, cell)), MEB_AUS, **rules)
        if resolution.aus is not None:
            n += rows
            found.update({au: rows for au in resolution.aus})
    assert (n, {au: found[au] for au in MEB_AUS}) == (clips, counts)
    docs = (Path(__file__).parents[3] / "docs" / "datasets.md").read_text()
    assert f"| {title} | {clips} | " + " | ".join(str(counts[au]) for au in MEB_AUS) + " |" in docs


def test_the_documented_errata_adopt_mebs_five_samm_choices(tmp_path):
    docs = (Path(__file__).parents[3] / "docs" / "datasets.md").read_text()
    block = re.search(r"```\n(dataset,subject,clip,field,old,value,note\nsamm,.*?)```", docs, re.S)[1]
    (tmp_path / "errata.csv").write_text(block)
    errata = load_errata(tmp_path / "errata.csv")
    assert {fix.old: fix.value for fixes in errata.values() for fix in fixes} == MEB_SAMM_PATCHES
    assert all(fix.field == "au" for fixes in errata.values() for fix in fixes)


# --- the tasks on the fixtures -----------------------------------------------------------------------------------

def roots(db_root):
    """The options locating the databases that are not under the MEGC fixture's data root."""
    return {"casme3_root": str(db_root / "CASME3"), "mmew_root": str(db_root / "MMEW"),
            "4dme_root": str(db_root / "4DME"), "casme_root": str(db_root / "CASME")}


@pytest.fixture(scope="module")
def cd6me_report(megc_root, db_root):
    """CD6ME checked once on the fixtures (all six databases; CAS(ME)³ Part A's 860 rows)."""
    return check_au_task("cd6me", task_databases("cd6me"), megc_root, **roots(db_root))


def expected_targets(dataset, cell):
    """The AUs of MEB's set that a MEGC fixture cell gives by its listed parse (tests/kit/au_spellings.py), under
    the defaults; None where the clip leaves the task. Independent of the parser."""
    expected = next(e for c, _, e in PUBLIC[dataset] if c == cell)
    if expected is NOT_CODED:
        return None
    if isinstance(expected, set):
        return expected & set(MEB_AUS)
    if any(set(group) & set(MEB_AUS) for group in expected.alternatives):
        return None
    return (expected.present | expected.referenced) & set(MEB_AUS)


@pytest.mark.parametrize("dataset", ["casme2", "samm", "casme3a", "mmew", "4dme", "casme"])
def test_per_au_counts_on_the_fixtures(cd6me_report, dataset):
    counts = {**MEGC_AU_COUNTS, **AU_COUNTS}[dataset]
    found = [s for s in cd6me_report.found if s.dataset == dataset]
    tally = Counter(t for s in found for t in s.targets)
    assert {label: tally[label] for label in MEB12} == {label: counts[label] for label in MEB12}
    assert len(found) == counts["samples"]
    assert all(s.label == ("+".join(s.targets) or "none") and s.subject.startswith(f"{dataset}/") for s in found)
    if dataset in MEGC_AU_CELLS:  # the listed parses give the same targets, sample by sample
        expected = {i: expected_targets(dataset, cell) for i, cell in MEGC_AU_CELLS[dataset].items()}
        assert {s.id: set(int(t[2:]) for t in s.targets) for s in found} == {
            i: aus for i, aus in expected.items() if aus is not None}
    [line] = [line for line in cd6me_report.sources if line.startswith(f"{DATABASES[dataset].name}: AU codes from ")]
    assert (f"{counts['samples']} in the task, {counts['not coded']} not coded, {counts['dropped']} dropped by "
            f"alternatives=drop") in line


def test_cd6me_holds_the_six_databases_with_subjects_qualified_by_database(cd6me_report):
    assert cd6me_report.ok, cd6me_report.problems[:3]
    assert [k for k in task_databases("cd6me")] == ["casme", "casme2", "samm", "4dme", "mmew", "casme3a"]
    assert Counter(s.dataset for s in cd6me_report.found) == {
        d: c["samples"] for d, c in {**MEGC_AU_COUNTS, **AU_COUNTS}.items()}
    assert all(s.id.startswith(f"{s.dataset}/") and s.subject.startswith(f"{s.dataset}/") for s in cd6me_report.found)
    assert cd6me_report.labels == MEB12
    check_labels(cd6me_report.found, MEB12, "cd6me", kind=MULTI_LABEL)  # the core's multi-label interface
    table = cd6me_report.label_counts(MEB12)
    assert table.loc["AU4", "all"] == sum(c["AU4"] for c in {**MEGC_AU_COUNTS, **AU_COUNTS}.values())


def test_clips_not_coded_leave_the_task_and_are_listed(cd6me_report):
    not_coded = [i for i, cell in MEGC_AU_CELLS["casme2"].items() if cell == "?"]
    mmew = [f"mmew/S{s:02d}/" for (s, e), cell in zip(MMEW_CLIPS, MMEW_AUS) if cell is None]
    assert len(not_coded) == MEGC_AU_COUNTS["casme2"]["not coded"] and len(mmew) == 1
    found = {s.id for s in cd6me_report.found}
    listed = [w for w in cd6me_report.warnings if "not coded (an empty cell or '?'); the clip leaves the AU task" in w]
    assert len(listed) == len(not_coded) + 1
    for sample_id in not_coded:
        assert sample_id not in found and any(f": {sample_id}: Action Units '?': not coded" in w for w in listed)
    assert any(mmew[0] in w and "Action Units (empty)" in w for w in listed)


def test_the_rows_a_rule_touched_are_listed(cd6me_report):
    warnings = cd6me_report.warnings
    alternatives = [w for w in warnings if "the clip leaves the task (alternatives=drop)" in w]
    assert len(alternatives) == 5 and all(", row " in w and "samm/" in w for w in alternatives)
    assert any("Action Units 'L12 or L14': alternatives AU12 or AU14" in w for w in alternatives)
    assert sum("counted as present (ref=present)" in w for w in warnings) == 6  # ref(AU) of the set: 6 of 9 cells
    assert any("'R14+17+soft focus': free text 'soft focus' is not an AU code; ignored" in w for w in warnings)
    static = [w for w in warnings if "marked (k) (static) counted as absent" in w]
    assert [w.split(": ")[2] for w in static] == ["AUs 'AU4(k)+L7'", "AUs 'AUR2+12(k)+45'"]
    disagree = [w for w in warnings if "one-hot columns disagree" in w]
    assert len(disagree) == 1 and FOURDME_AUS[10][0] in disagree[0]


def test_data_check_prints_per_au_counts_what_it_read_and_the_rows_listed(megc_root):
    result = mebench_cli("data", "check", "samm-au", "--data-root", megc_root, "--list-all")
    assert result.exit_code == 0, result.output
    counts = MEGC_AU_COUNTS["samm"]
    for label in MEB12:
        assert re.search(rf"^\| {label} +\| +{counts[label]} \|$", result.output, re.M), label
    assert re.search(rf"^\| samples +\| +{counts['samples']} \|$", result.output, re.M)
    assert "SAMM: AU codes from column 'Action Units': 136 rows, 131 in the task, 0 not coded, 5 dropped" in result.output
    assert "AUs coded outside the task's set (ignored; rows): AU8 1" in result.output
    assert result.output.count("(alternatives=drop)") == 5 and "samm-au: OK" in result.output
    every = mebench_cli("data", "check", "samm-au", "--data-root", megc_root, "--dataset-opt", "alternatives=all")
    assert "136 samples" in every.output and "counted AU6, AU12 (alternatives=all)" in every.output


def test_an_unreadable_au_cell_blocks_with_file_row_and_value(megc_root, tmp_path):
    data = private(megc_root, tmp_path, "CASME2")
    sheet = data / "CASME2" / "CASME2-coding-20140508.xlsx"
    row = edit_sheet(sheet, "EP03_02f", "Action Units", "4+x")
    report = check_au_task("casme2-au", ("casme2",), data)
    [problem] = report.problems
    assert problem.startswith(f"{sheet}, row {row}: casme2/sub02/EP03_02f: Action Units '4+x' cannot be read: "
                              f"'x' is not an AU code")
    with pytest.raises(DataError, match=re.escape(f"first: {sheet}, row {row}: casme2/sub02/EP03_02f: Action Units "
                                                  f"'4+x' cannot be read")):
        load_task_samples(default_registry().datasets.get("casme2-au"), str(data), {})
    result = mebench_cli("data", "check", "casme2-au", "--data-root", data)
    assert result.exit_code == 1 and "problems: 1" in result.output and "'4+x'" in result.output


def test_a_sheet_without_an_au_column_blocks_the_au_task_only(db_root, tmp_path):
    data = private(db_root, tmp_path, "CASME")
    import openpyxl

    path = data / "CASME" / "casme.xlsx"
    workbook = openpyxl.load_workbook(path)
    workbook.active.cell(row=1, column=9).value = "Comment"  # the AU column renamed
    workbook.save(path)
    with pytest.raises(DataError, match="no action-unit column \\(Action Units, AU, AUs, or one column per AU"):
        check_au_task("casme-au", ("casme",), data)
    from mebench_plugins.datasets.catalog import check_emotion_task

    assert check_emotion_task("casme", data).ok  # the emotion tasks do not need it


def test_a_4dme_sheet_with_only_one_column_per_au_is_read_from_the_columns(db_root, tmp_path):
    import openpyxl

    data = private(db_root, tmp_path, "4DME")
    path = data / "4DME" / "4DME_Labelling_Micro_release v1.xlsx"
    workbook = openpyxl.load_workbook(path)
    header = [cell.value for cell in workbook.active[1]]
    workbook.active.cell(row=1, column=header.index("AUs") + 1).value = "comment"
    workbook.save(path)
    report = check_au_task("4dme-au", ("4dme",), data)
    targets = {s.id: set(s.targets) for s in report.found}
    assert targets["4dme/S01/S01_001"] == {"AU4", "AU7"}  # the columns mark the static AU4 too: no (k) without the cell
    assert targets["4dme/S03/S03_003"] == {"AU4"}  # the row whose columns disagree with its cell
    assert any("4DME: AU codes from one column per AU: 12 rows, 12 in the task" in line for line in report.sources)


def test_an_erratum_may_correct_an_au_cell_by_clip(megc_root, tmp_path):
    """MEB's choice for one SAMM cell with alternatives, written as an erratum (by clip, guarded by the old cell)."""
    sample_id = next(i for i, cell in MEGC_AU_CELLS["samm"].items() if cell == "L12 or L14")
    _, subject, clip = sample_id.split("/")
    errata = tmp_path / "errata.csv"
    errata.write_text(f"dataset,subject,clip,field,old,value,note\nsamm,{subject},{clip},au,L12 or L14,L14,"
                      f"MEB's optical-flow choice\n")
    report = check_au_task("samm-au", ("samm",), megc_root, errata=str(errata))
    sample = next(s for s in report.found if s.id == sample_id)
    assert sample.targets == ("AU14",) and len(report.found) == MEGC_AU_COUNTS["samm"]["samples"] + 1
    assert "au 'L12 or L14' corrected by" in sample.corrections[0] and "used 'L14'" in sample.corrections[0]
    errata.write_text(f"dataset,subject,clip,field,old,value,note\nsamm,{subject},{clip},au,L12 or R14,L14,x\n")
    stale = check_au_task("samm-au", ("samm",), megc_root, errata=str(errata))
    assert any(f"{sample_id} au is 'L12 or L14'" in w and "not applied" in w for w in stale.warnings)


def test_another_au_set_changes_the_labels_data_check_counts(megc_root, registry):
    result = mebench_cli("data", "check", "casme2-au", "--data-root", megc_root, "--dataset-opt", "aus=4,12,25")
    assert result.exit_code == 0, result.output
    counts = MEGC_AU_COUNTS["casme2"]
    assert re.search(rf"^\| AU4 +\| +{counts['AU4']} \|$", result.output, re.M)
    assert re.search(r"^\| AU25 +\| +2 \|$", result.output, re.M) and "| AU1 " not in result.output
    spec = default_registry().datasets.get("casme2-au")
    samples, _ = load_task_samples(spec, str(megc_root), {"aus": "4,12,25"})
    assert {t for s in samples for t in s.targets} == {"AU4", "AU12", "AU25"}
    assert spec.task_classes({"aus": "4,12,25"}) == ("AU4", "AU12", "AU25")
    plan = plan_run(tiny_config(dataset="casme2-au", data_root=str(megc_root), dataset_options={"aus": "4,12,25"},
                                batch_size=None), registry)
    assert plan.classes == ("AU4", "AU12", "AU25") and plan.build_model().head.out_features == 3


def test_every_au_task_is_a_multilabel_task_with_mebs_12_aus_and_its_options():
    registry = default_registry()
    for task in [*AU_TASKS, "cd6me", "au-composite"]:
        spec = registry.datasets.get(task)
        assert spec.kind is MULTI_LABEL and spec.classes == MEB12, task
        names = [option.name for option in spec.options]
        assert names[names.index("aus"):names.index("aus") + 5] == ["aus", "alternatives", "ref", "errata", "strict"]
        assert {o.name: o.default for o in spec.options}["alternatives"] == "drop"
    assert [AU_TASKS[name] for name in CD6ME] == list(task_databases("cd6me"))
    with pytest.raises(OptionError, match="takes alternatives as one of drop, all, first"):
        load_task_samples(registry.datasets.get("samm-au"), "/nowhere", {"alternatives": "any"})


@pytest.mark.parametrize("members, message", [
    (None, "needs its member tasks"), ("casme2-au,casme2", "'casme2' is not an AU task"),
    ("samm-au,samm-au", "samm-au named twice"), ("samm-au", "needs at least two members")])
def test_au_composite_members_are_checked(members, message):
    with pytest.raises(OptionError, match=message):
        parse_au_members(members)


def test_au_composite_reads_its_members(megc_root):
    report = check_au_task("au-composite", parse_au_members("samm-au,casme2-au"), megc_root)
    assert Counter(s.dataset for s in report.found) == {d: MEGC_AU_COUNTS[d]["samples"] for d in ("casme2", "samm")}


def test_an_au_task_and_cd6me_lodo_plan_a_run(megc_root, db_root, registry):
    plan = plan_run(tiny_config(dataset="casme2-au", data_root=str(megc_root), dataset_options={}, batch_size=None),
                    registry)
    assert len(plan.samples) == MEGC_AU_COUNTS["casme2"]["samples"] and plan.classes == MEB12
    assert all(s.targets is not None for s in plan.samples)
    assert len(plan.folds) == len({s.subject for s in plan.samples})
    lodo = plan_run(tiny_config(dataset="cd6me", protocol="lodo", data_root=str(megc_root), batch_size=None,
                                dataset_options=roots(db_root)), registry)
    assert sorted(f.name for f in lodo.folds) == sorted(task_databases("cd6me"))


@pytest.mark.slow
def test_cd6me_lodo_runs_with_twelve_au_probabilities_per_sample_and_a_leaderboard(megc_root, db_root, registry,
                                                                                      tmp_path):
    """The issue's check on the fixtures (the tiny net for sssnet: the same records, in seconds)."""
    import pandas as pd

    from mebench.analysis.configurations import load_configurations
    from mebench.analysis.leaderboard import leaderboard_tables
    from tests.conftest import tiny_run

    outcome = tiny_run(registry, tmp_path, dataset="cd6me", protocol="lodo", data_root=str(megc_root),
                       batch_size=None, dataset_options=roots(db_root))
    predictions = pd.read_csv(outcome.run_dir / "predictions.csv", keep_default_na=False)
    assert len(predictions) == outcome.record.n_samples == predictions["sample_id"].nunique()
    assert [c for c in predictions.columns if c.startswith("p_")] == [f"p_{label}" for label in MEB12]
    assert outcome.record.n_folds == 6 and sorted(predictions["dataset"].unique()) == sorted(task_databases("cd6me"))
    [table] = leaderboard_tables(load_configurations(tmp_path))
    assert {f"{database} macro-F1" for database in task_databases("cd6me")} <= set(table.display.columns)
    assert {f"{label} F1" for label in MEB12} <= set(table.display.columns)
