"""What the databases' tasks promise against their sources (issue 30, "The databases"): CD6ME scored as MEB
scores it, SMIC-E's spans checked against their clips, the CAS(ME)³ errata and the class mappings. Every
expected value is worked out by hand in the comments, never copied from the code under test."""

from __future__ import annotations

import warnings
from dataclasses import replace
from types import ModuleType

import numpy as np
import pandas as pd
import pytest

from mebench import hookimpl
from mebench.metrics import label_metrics, meb_label_figures, pooled_label_metrics
from mebench.run.plan import RunConfig, plan_run

# --- CD6ME as MEB scores it -------------------------------------------------------------------------------------

LABELS = ("AU1", "AU2", "AU4")
#: Fold A (database "a", four samples) and fold B (database "b", two samples): truth and detections.
FOLD_A_TRUTH = [[1, 0, 0], [1, 1, 0], [0, 0, 0], [0, 1, 0]]
FOLD_A_PRED = [[1, 0, 0], [0, 1, 0], [0, 1, 0], [0, 0, 0]]
FOLD_B_TRUTH = [[0, 0, 1], [0, 0, 0]]
FOLD_B_PRED = [[0, 0, 1], [1, 0, 0]]


def test_mebs_two_figures_and_mebenchs_macro_f1_on_a_hand_computed_fold():
    # Fold A, per AU (TP, FP, FN, TN):
    #   AU1 (1, 0, 1, 2): positive F1 2/3, negative F1 2·2/(4+0+1) = 4/5, their mean 11/15
    #   AU2 (1, 1, 1, 1): positive F1 2/4 = 1/2, negative F1 2/4 = 1/2, mean 1/2
    #   AU4 (0, 0, 0, 4): no positive anywhere: MEB's binary F1 0 (scikit-learn's zero division), left out of
    #   mebench's macro-F1; only the negative class occurs, F1 1, so its pos/neg mean is 1
    figures = label_metrics(np.array(FOLD_A_TRUTH), np.array(FOLD_A_PRED), LABELS)
    assert figures["macro_f1"] == pytest.approx((2 / 3 + 1 / 2) / 2)  # 7/12: AU4 left out
    assert figures["macro_f1_all"] == pytest.approx((2 / 3 + 1 / 2 + 0) / 3)  # 7/18: MEB, AU4 counted 0
    assert figures["macro_f1_pos_neg"] == pytest.approx((11 / 15 + 1 / 2 + 1) / 3)  # 67/90


def toy_lodo_predictions() -> pd.DataFrame:
    """Fold A (database a) and fold B (database b) of the toy above, as predictions.csv holds them."""
    def joined(rows):
        return ["+".join(label for label, on in zip(LABELS, row) if on) or "none" for row in rows]

    return pd.DataFrame({"sample_id": [f"s{i}" for i in range(6)], "dataset": ["a"] * 4 + ["b"] * 2,
                         "subject": ["a/1", "a/1", "a/2", "a/2", "b/1", "b/2"], "fold": [0] * 4 + [1] * 2,
                         "true_label": joined(FOLD_A_TRUTH + FOLD_B_TRUTH),
                         "predicted_label": joined(FOLD_A_PRED + FOLD_B_PRED)})


def test_the_fold_means_are_mebs_per_database_average_under_lodo():
    # Fold B, per AU: AU1 (0, 1, 0, 1): positive F1 0, negative 2/3, mean 1/3; AU2 (0, 0, 0, 2): MEB 0, left out
    # by mebench, pos/neg 1; AU4 (1, 0, 0, 1): 1, 1, 1. So B: macro-F1 (0 + 1)/2 = 1/2, MEB F1 1/3, pos/neg 7/9.
    result = pooled_label_metrics(toy_lodo_predictions(), LABELS)
    a, b = result["per_dataset"]["a"], result["per_dataset"]["b"]
    assert (a["macro_f1_all"], b["macro_f1_all"]) == pytest.approx((7 / 18, 1 / 3))
    assert (a["macro_f1_pos_neg"], b["macro_f1_pos_neg"]) == pytest.approx((67 / 90, 7 / 9))
    assert b["macro_f1"] == pytest.approx(1 / 2)
    fold = result["fold_mean"]
    assert fold["macro_f1_all"] == pytest.approx((7 / 18 + 1 / 3) / 2)  # 13/36: MEB's "Average" of the databases
    assert fold["macro_f1_pos_neg"] == pytest.approx((67 / 90 + 7 / 9) / 2)  # 137/180
    assert fold["macro_f1"] == pytest.approx((7 / 12 + 1 / 2) / 2)
    # pooled over all six samples: AU1 (1, 1, 1, 3): F1 2/4; AU2 (1, 1, 1, 3): 1/2; AU4 (1, 0, 0, 5): 1
    assert result["pooled"]["macro_f1_all"] == pytest.approx((1 / 2 + 1 / 2 + 1) / 3)


def test_the_leaderboard_of_an_au_task_shows_mebs_figures_per_database(tmp_path):
    from mebench.analysis.configurations import load_configurations
    from mebench.analysis.leaderboard import leaderboard_tables
    from mebench.records import Metrics, RunRecord, Timing
    from mebench.results import RunDirectory

    predictions = toy_lodo_predictions()
    for label in LABELS:
        predictions[f"p_{label}"] = [float(label in text.split("+")) for text in predictions["predicted_label"]]
    run_dir = RunDirectory(tmp_path, "tiny__cd6me__0123456789__seed0")
    record = RunRecord(
        run_id=run_dir.path.name, model="tiny", dataset="cd6me", seed=0, config_hash="0123456789",
        config={"epochs": 1, "protocol": "lodo", "selection": "fixed", "classes": list(LABELS)},
        metrics=Metrics.from_json(pooled_label_metrics(predictions, LABELS)), parameters=10, protocol="lodo",
        selection="fixed", classes=list(LABELS), n_samples=6, n_folds=2, input_spec="3x16x16",
        finished="2024-01-01T00:00:00",
        timing=Timing(train_seconds_per_fold=[1.0, 1.0], inference_fps=1.0, inference_batch_size=2,
                      preprocess_seconds=0.0, peak_memory_bytes=1),
        environment={"device": "cpu (test)", "versions": {}})
    run_dir.write_outputs(record, predictions)
    [table] = leaderboard_tables(load_configurations(tmp_path))
    row = table.display.iloc[0]
    # by hand above: pooled MEB F1 (1/2 + 1/2 + 1)/3; database a 7/18, b 1/3; pos/neg a 67/90, b 7/9
    assert (row["MEB F1"], row["a MEB F1"], row["b MEB F1"]) == ("0.667", "0.389", "0.333")
    assert (row["a MEB pos/neg F1"], row["b MEB pos/neg F1"]) == ("0.744", "0.778")
    assert table.numbers["b_macro_f1_all"].iloc[0] == pytest.approx(1 / 3)


@pytest.mark.parametrize("seed", range(4))
def test_mebs_figures_are_what_mebs_own_calls_compute(seed):
    """MEB's ``MultiLabelF1Score`` (``meb/utils/metrics.py``) calls scikit-learn per AU column with
    ``average="binary"`` and ``average="macro"``; ``Printer.results_to_list`` averages over the AUs."""
    from sklearn.metrics import f1_score

    rng = np.random.default_rng(seed)
    truth = rng.random((9, 5)) < 0.25
    predicted = rng.random((9, 5)) < 0.25
    truth[:, 4] = predicted[:, 4] = False  # one AU nobody has and nobody detected
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # scikit-learn warns of the zero division MEB's figure takes as 0
        binary = np.mean([f1_score(truth[:, i], predicted[:, i], average="binary") for i in range(5)])
        macro = np.mean([f1_score(truth[:, i], predicted[:, i], average="macro") for i in range(5)])
    figures = meb_label_figures(truth, predicted)
    assert figures["macro_f1_all"] == pytest.approx(binary)
    assert figures["macro_f1_pos_neg"] == pytest.approx(macro)


def test_the_run_summary_names_both_conventions():
    from mebench.tasks import metrics_report
    from mebench.records import Metrics

    frame = pd.DataFrame({"sample_id": ["s0", "s1"], "dataset": ["a", "a"], "subject": ["a/1", "a/2"],
                          "fold": [0, 1], "true_label": ["AU1", "none"], "predicted_label": ["AU1", "AU1"]})
    metrics = Metrics.from_json(pooled_label_metrics(frame, ("AU1", "AU2")))
    # AU1 (1, 1, 0, 0): F1 2/3; AU2 neither: MEB 0 → 1/3, mebench 2/3 (AU2 left out)
    text = metrics_report(metrics)
    row = next(line for line in text.splitlines() if line.startswith("| all (pooled)"))
    cells = [cell.strip() for cell in row.strip().strip("|").split("|")]
    # pos/neg: AU1's negative class has F1 2·0/(0 + 1 + 0) = 0, so (2/3 + 0)/2 = 1/3; AU2 only negatives, 1
    assert cells[3:] == ["0.333", "0.667"]  # MEB F1 (2/3 + 0)/2; pos/neg (1/3 + 1)/2
    assert "MEB F1 (all labels)" in text and "MEB pos/neg F1" in text


def test_cd6me_runs_lodo_unless_a_protocol_is_given(megc_root, db_root, registry):
    roots = {"casme3_root": str(db_root / "CASME3"), "mmew_root": str(db_root / "MMEW"),
             "4dme_root": str(db_root / "4DME"), "casme_root": str(db_root / "CASME")}
    config = RunConfig(model="tiny", dataset="cd6me", data_root=str(megc_root), dataset_options=roots,
                       device="cpu", precision="fp32")
    assert config.protocol is None
    plan = plan_run(config, registry)
    assert plan.config.protocol == "lodo"
    assert sorted(fold.name for fold in plan.folds) == sorted(["casme", "casme2", "samm", "4dme", "mmew", "casme3a"])
    assert "__lodo__" in plan.run_id
    given = plan_run(replace(config, protocol="lodo"), registry)
    assert given.run_id == plan.run_id  # the default and the same protocol given are one run
    by_subject = plan_run(replace(config, protocol="loso"), registry)
    assert by_subject.config.protocol == "loso" and len(by_subject.folds) == len(set(plan.table.subjects))


def test_a_task_without_a_declared_protocol_runs_loso_and_a_declared_one_is_used():
    from tests.conftest import TINY_DATASET, tiny_registry

    module = ModuleType("kfold_task_plugin")

    @hookimpl
    def mebench_register_datasets(register):
        from mebench.registry import default_registry

        synthetic = default_registry().datasets.get("synthetic")
        register(replace(synthetic, name="synthetic-kfold", default_protocol="kfold"))

    module.mebench_register_datasets = mebench_register_datasets
    registry = tiny_registry(module)
    config = RunConfig(model="tiny", dataset="synthetic", dataset_options={**TINY_DATASET, "subjects": 6},
                       device="cpu", precision="fp32")
    assert plan_run(config, registry).config.protocol == "loso"
    declared = plan_run(replace(config, dataset="synthetic-kfold"), registry)
    assert declared.config.protocol == "kfold" and len(declared.folds) == 5  # kfold's k


# --- SMIC-E spans against their clips ---------------------------------------------------------------------------

SMIC_E_HEADER = ("Subject", "Filename", None, "OnsetF", "OffsetF", "Onset2F", "Offset2F", "Onset3F", "Offset3F", None,
                 "FirstF", "LastF", "Emotion")
#: (Subject, Filename, spans, FirstF, LastF, Emotion), shaped like the public HS sheet's rows.
SMIC_E_ROWS = [
    (1, "s1_ne_01", [(1000, 1010)], 990, 1100, "negative"),  # row 2: fine
    (1, "s1_ne_02", [(2000, 2010), (2020, 2030), (2020, 2030)], 1990, 2100, "negative"),  # row 3: span 3 repeats 2
    (1, "s1_po_01", [(3010, 3020), (3030, 3040), (1000, 3000)], 3000, 3100, "positive"),  # row 4: span 3 like s20_ne_06
    (2, "s2_sur_01", [(9536, 9562)], 9000, 9100, "surprise"),  # row 5: like s1_ne_03, after its clip
    (2, "s2_ne_01", [(5500, 5510)], None, None, "negative"),  # row 6: no FirstF/LastF, after its frames
    (2, "s2_po_01", [(4000, 4199), (4300, 4500)], 3990, 4600, "positive"),  # row 7: 200 frames, then 201
]
#: The frames on disk of each clip: FirstF..LastF (s2_ne_01: 5000..5100).
SMIC_E_FRAMES = {"s2_ne_01": (5000, 5100)}


def write_smic_e(root):
    import openpyxl

    smic = root / "SMIC"
    smic.mkdir(parents=True)
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    sheet.title = "HS"
    sheet.append(SMIC_E_HEADER)
    for subject, name, spans, first, last, emotion in SMIC_E_ROWS:
        cells = [value for span in spans for value in span] + [None] * (6 - 2 * len(spans))
        sheet.append([subject, name, None, *cells, None, first, last, emotion])
        low, high = SMIC_E_FRAMES.get(name, (first, last))
        folder = smic / "HS_long" / f"s{subject}" / name
        folder.mkdir(parents=True)
        for number in range(low, high + 1):
            (folder / f"image{number}.jpg").touch()
    workbook.save(smic / "SMIC-HS-E_annotation.xlsx")
    return root


@pytest.fixture(scope="module")
def smic_e_check(tmp_path_factory):
    from mebench.registry import default_registry

    root = write_smic_e(tmp_path_factory.mktemp("smic-e"))
    return default_registry().datasets.get("smic-e-hs").check(str(root))


def problem_of(check, sample):
    [line] = [p for p in check.problems if f": smic-e-hs/{sample}: " in p]
    return line


def test_smic_e_refuses_a_span_that_repeats_an_earlier_one_of_its_row(smic_e_check):
    line = problem_of(smic_e_check, "s01/s01_ne_02_span3")
    assert "row 3: smic-e-hs/s01/s01_ne_02_span3: span 2020..2030 repeats Onset2F..Offset2F of the same row" in line
    assert "add an erratum" in line


def test_smic_e_refuses_a_span_far_longer_than_an_expression_reaching_back_before_its_clip(smic_e_check):
    # 1000..3000 is 2,001 frames; HS films 100 fps, so 2 s is 200 frames; it starts before FirstF 3000
    line = problem_of(smic_e_check, "s01/s01_po_01_span3")
    assert ("row 4: smic-e-hs/s01/s01_po_01_span3: span 1000..3000 is 2,001 frames long, far longer than an "
            "expression (at most 200 frames) and does not lie within the recording's frames 3000..3100") in line


def test_smic_e_names_a_span_outside_its_clip_by_the_sheets_values(smic_e_check):
    line = problem_of(smic_e_check, "s02/s02_sur_01")
    assert ("row 5: smic-e-hs/s02/s02_sur_01: span 9536..9562 does not lie within the recording's frames "
            "9000..9100") in line
    # without FirstF/LastF the frames on disk bound it, and the message still shows the sheet's values, not 5100
    line = problem_of(smic_e_check, "s02/s02_ne_01")
    assert "row 6: smic-e-hs/s02/s02_ne_01: onset..offset 5500..5510 lies outside the clip's frames 5000..5100" in line


def test_smic_e_accepts_two_seconds_and_refuses_one_frame_more(smic_e_check):
    found = {sample.id: sample for sample in smic_e_check.found}
    assert (found["smic-e-hs/s02/s02_po_01"].onset, found["smic-e-hs/s02/s02_po_01"].offset) == (4000, 4199)
    assert "span 4300..4500 is 201 frames long" in problem_of(smic_e_check, "s02/s02_po_01_span2")
    # every other span is a sample, with its own frames only, and none is "corrected" into one
    assert sorted(found) == sorted(f"smic-e-hs/{s}" for s in (
        "s01/s01_ne_01", "s01/s01_ne_02", "s01/s01_ne_02_span2", "s01/s01_po_01", "s01/s01_po_01_span2",
        "s02/s02_po_01"))
    assert list(found["smic-e-hs/s01/s01_po_01_span2"].frames.indices()) == list(range(3030, 3041))
    assert all(not sample.corrections for sample in found.values())
    assert len(smic_e_check.problems) == 5


# --- CAS(ME)³ errata: the authors' newest files, conflicts named --------------------------------------------------

@pytest.fixture(scope="module")
def casme3a_check(db_root):
    from mebench_plugins.datasets.catalog import check_emotion_task

    return check_emotion_task("casme3a-7class", db_root)


def test_casme3a_apex_of_spno149_d_is_the_authors_v2_value_and_names_mebs(casme3a_check):
    # the public JpgIndex v2 sheet holds apex 83, before the onset 112; CAS(ME)3_part_A_v2.xls gives 160
    sample = next(s for s in casme3a_check.found if s.id == "casme3a/spNO.149/d_112")
    assert (sample.onset, sample.apex, sample.offset) == (112, 160, 358)
    [note] = [n for n in sample.corrections if "errata.csv" in n]
    assert "CAS(ME)3_part_A_v2.xls" in note and "MEB Casme3A row 128 uses 123" in note and "167" in note


def test_casme3a_offset_of_spno214_c_stays_the_authors_and_the_conflict_with_meb_is_named(casme3a_check):
    sample = next(s for s in casme3a_check.found if s.id == "casme3a/spNO.214/c_5")
    assert (sample.onset, sample.apex, sample.offset) == (5, 5, 3460) and not sample.corrections
    [line] = [w for w in casme3a_check.warnings if "casme3a/spNO.214/c_5" in w]
    assert "offset 3460 (a 3,456-frame span) is what every sheet of the authors gives" in line
    assert "MEB corrects it to 34" in line


# --- the MMEW sheet under another name ---------------------------------------------------------------------------

def mmew_copy(db_root, tmp_path):
    """A private MMEW folder; returns (data root, the sheet's path)."""
    from tests.conftest import private

    root = private(db_root, tmp_path, "MMEW")
    return root, root / "MMEW" / "MMEW_Micro_Exp.xlsx"


def spans(report):
    return sorted((s.id, s.label, s.onset, s.apex, s.offset) for s in report.found)


def write_csv(xlsx, target):
    import csv

    import openpyxl

    workbook = openpyxl.load_workbook(xlsx, read_only=True)
    with open(target, "w", newline="", encoding="utf-8") as handle:
        csv.writer(handle).writerows(["" if v is None else v for v in row]
                                     for row in workbook.worksheets[0].iter_rows(values_only=True))
    workbook.close()


@pytest.mark.parametrize("name", ["MMEW_Micro_Exp_v2.xlsx", "MMEW_Micro_Exp (1).xlsx", "MMEW_Micro_Exp(2).xlsx",
                                  "MMEW_Micro_Exp.csv"])
def test_the_mmew_sheet_is_found_under_the_names_copies_carry(db_root, tmp_path, name):
    from mebench_plugins.datasets.catalog import check_emotion_task

    original = check_emotion_task("mmew", db_root)
    root, sheet = mmew_copy(db_root, tmp_path)
    if name.endswith(".csv"):
        write_csv(sheet, sheet.with_name(name))
        sheet.unlink()
    else:
        sheet.rename(sheet.with_name(name))
    report = check_emotion_task("mmew", root)
    assert report.ok and any(str(root / "MMEW" / name) in line for line in report.sources)
    # the fixture's 3-class MMEW counts (tests/kit/database_fixtures.py MMEW_COUNTS): 11 negative, 3 positive, 4 surprise
    assert len(report.found) == 18 and spans(report) == spans(original)


def test_two_identical_mmew_sheets_are_one_and_two_different_ones_an_error_naming_both(db_root, tmp_path):
    import shutil

    from mebench.errors import DataError
    from mebench_plugins.datasets.catalog import check_emotion_task
    from tests.kit.database_fixtures import edit_cell

    root, sheet = mmew_copy(db_root, tmp_path)
    duplicate = shutil.copy(sheet, sheet.with_name("MMEW_Micro_Exp (1).xlsx"))  # a second download
    assert len(check_emotion_task("mmew", root).found) == 18
    edit_cell(duplicate, {"Filename": "S01-01-001"}, "OffsetFrame", 9)
    with pytest.raises(DataError) as error:
        check_emotion_task("mmew", root)
    message = str(error.value)
    assert "2 different copies of the MMEW micro-expression sheet" in message
    assert str(sheet) in message and str(duplicate) in message and "--dataset-opt sheet=FILE" in message


# --- class mappings and their sources ---------------------------------------------------------------------------

def test_mmews_seventh_category_is_excluded_from_the_3_class_task_whether_spelled_others_or_repression(db_root,
                                                                                                     tmp_path):
    from mebench_plugins.datasets.catalog import check_emotion_task
    from tests.kit.database_fixtures import edit_cell

    root, sheet = mmew_copy(db_root, tmp_path)
    # S01's 'others' clip is S01-07-001 (tests/kit/database_fixtures.py: emotion index 7); MEB's copy spells it repression
    edit_cell(sheet, {"Filename": "S01-07-001"}, "Estimated Emotion", "repression")
    three = {s.id: s.label for s in check_emotion_task("mmew", root).found}
    six = {s.id: s.label for s in check_emotion_task("mmew-6class", root).found}
    assert "mmew/S01/S01-07-001" not in three and six["mmew/S01/S01-07-001"] == "others"
    assert "mmew/S02/S02-07-001" not in three and six["mmew/S02/S02-07-001"] == "others"
    assert len(three) == 18  # 11 negative, 3 positive, 4 surprise, as before the rename


@pytest.mark.parametrize("task, words", [
    ("4dme", "labels annotated with the AUs (objective), not self-reported"),
    ("4dme-5class", "labels annotated with the AUs (objective), not self-reported"),
    ("mmew-6class", "mebench's choice: no source defines a 6-class MMEW task"),
    ("casme-4class", "mebench's choice: no source gives the class set"),
])
def test_task_descriptions_say_where_a_class_set_comes_from(task, words):
    from mebench.registry import default_registry

    assert words in default_registry().datasets.get(task).description
