"""Record layouts (``mebench.schema``): every JSON record a run writes carries ``"schema"``; a record of layout 1
(no key: what releases before schema numbers wrote) reads as its current form through the one ``upgrade``;
a record of a layout newer than this mebench is refused in one line naming the file and the fix."""

from __future__ import annotations

import dataclasses
import json
import shutil
from pathlib import Path

import pytest

from mebench.errors import RunError
from mebench.records import RecordError, load_run, saved_fold_records
from mebench.results import RunDirectory
from mebench.schema import SCHEMA, NewerSchemaError, upgrade
from tests.conftest import mebench_cli, tiny_run

ROOT = Path(__file__).resolve().parents[2]

# The keys the previous release (a918f3b, the last before schema numbers) wrote, in its order (its to_json).
PREVIOUS_RUN_KEYS = ["run_id", "model", "dataset", "protocol", "selection", "leaky", "seed", "config", "config_hash",
                     "classes", "n_samples", "n_folds", "folds", "parameters", "input_spec", "timing", "environment",
                     "selected_epochs", "annotation_corrections", "face_crop", "finished", "learner"]
PREVIOUS_METRICS_KEYS = ["classes", "pooled", "fold_mean", "selection"]  # a single-label task with fixed selection
PREVIOUS_FOLD_KEYS = ["fold", "test_group", "train_seconds", "folds_trained_together", "n_train", "n_test",
                      "epoch_losses", "predictions"]
# The first release (2eec2f3) wrote fewer keys: its run.json, its timing and its fold record.
FIRST_RUN_KEYS = ["run_id", "model", "dataset", "seed", "config", "config_hash", "n_samples", "n_folds", "parameters",
                  "input_spec", "timing", "environment", "finished"]
FIRST_FOLD_KEYS = ["fold", "test_subject", "train_seconds", "n_train", "n_test", "predictions"]


@pytest.fixture(scope="module")
def written(registry, tmp_path_factory):
    """One finished tiny run (3 folds), read back: (run folder, its record)."""
    outcome = tiny_run(registry, tmp_path_factory.mktemp("schema") / "results")
    record, reason = load_run(outcome.run_dir)
    assert reason is None
    return outcome.run_dir, record


def read(path: Path):
    return json.loads(path.read_text())


def write(path: Path, data) -> None:
    path.write_text(json.dumps(data, indent=2) + "\n")


def copy_run(written, tmp_path: Path) -> Path:
    """A copy of the tiny run, in a folder of the same name."""
    return Path(shutil.copytree(written[0], tmp_path / "results" / written[0].name))


def rewrite(path: Path, keys: list[str], renamed: dict[str, str] | None = None, **values) -> dict:
    """Rewrite the record at ``path`` with only ``keys`` (in that order; ``renamed`` old → current name) and
    ``values`` set; returns what was written."""
    data = read(path)
    data = {key: data[(renamed or {}).get(key, key)] for key in keys} | values
    write(path, data)
    return data


def json_records(folder: Path) -> list[Path]:
    return sorted(path for path in folder.rglob("*.json"))


def test_every_record_a_run_writes_carries_the_current_schema(written):
    records = json_records(written[0])
    names = sorted(path.relative_to(written[0]).as_posix() for path in records)
    assert names == ["config.json", "folds/fold_000.json", "folds/fold_001.json", "folds/fold_002.json",
                     "metrics.json", "run.json"]
    assert SCHEMA == 2
    assert {path.name: read(path).get("schema") for path in records} == {path.name: 2 for path in records}


def test_the_current_layout_is_the_previous_releases_keys_and_schema(written):
    folder = written[0]
    assert list(read(folder / "run.json")) == ["schema", *PREVIOUS_RUN_KEYS]
    assert list(read(folder / "metrics.json")) == ["schema", *PREVIOUS_METRICS_KEYS]
    assert list(read(folder / "folds" / "fold_001.json")) == ["schema", *PREVIOUS_FOLD_KEYS]


def test_a_run_folder_of_the_previous_release_reads_as_its_current_form(written, tmp_path):
    folder = copy_run(written, tmp_path)
    rewrite(folder / "run.json", PREVIOUS_RUN_KEYS)
    rewrite(folder / "metrics.json", PREVIOUS_METRICS_KEYS)
    for path in sorted(folder.glob("folds/*.json")):
        rewrite(path, PREVIOUS_FOLD_KEYS)
    assert all("schema" not in read(path) for path in json_records(folder) if path.name != "config.json")
    record, reason = load_run(folder)
    assert reason is None
    assert dataclasses.replace(record, path=None) == dataclasses.replace(written[1], path=None)
    assert saved_fold_records(folder) == saved_fold_records(written[0])


def test_a_run_folder_of_the_first_release_reads_with_the_values_its_readers_gave_missing_keys(written, tmp_path):
    folder = copy_run(written, tmp_path)
    run = rewrite(folder / "run.json", FIRST_RUN_KEYS, run_id="")  # an empty run id: the folder's name stands in
    timing = run["timing"]
    for key in ("inference_batches", "inference_warmup_batches", "peak_memory_kind"):
        del timing[key]
    write(folder / "run.json", run)
    metrics = rewrite(folder / "metrics.json", ["classes", "pooled", "fold_mean"])
    del metrics["pooled"]["per_class"]
    write(folder / "metrics.json", metrics)
    for path in sorted(folder.glob("folds/*.json")):
        rewrite(path, FIRST_FOLD_KEYS, renamed={"test_subject": "test_group"})

    record, reason = load_run(folder)
    assert reason is None
    current = written[1]
    assert record.run_id == folder.name == current.run_id
    assert (record.classes, record.protocol, record.selection) == (current.config["classes"], "loso", "fixed")
    assert (record.learner, record.folds, record.selected_epochs, record.face_crop) == ("net", [], {}, {})
    assert record.annotation_corrections == {}
    assert (record.timing.inference_batches, record.timing.inference_warmup_batches) == (0, 0)
    assert record.timing.peak_memory_kind == ""
    assert record.timing.inference_batch_size == current.timing.inference_batch_size
    assert record.metrics.selection == "fixed" and record.metrics.pooled.per_class == {}
    assert record.metrics.pooled == dataclasses.replace(current.metrics.pooled, per_class={})

    folds, fresh = saved_fold_records(folder), saved_fold_records(written[0])
    assert [f.test_group for f in folds] == [f.test_group for f in fresh] and len(folds) == 3
    assert [(f.folds_trained_together, f.epoch_losses) for f in folds] == [(1, [])] * 3
    assert [(f.n_train, f.n_test, f.predictions) for f in folds] == [(f.n_train, f.n_test, f.predictions)
                                                                      for f in fresh]


def test_upgrade_leaves_its_input_alone_and_stamps_the_result():
    old = {"fold": 0, "test_subject": "s1", "train_seconds": 1.0, "predictions": []}
    new = upgrade("fold", old)
    assert old == {"fold": 0, "test_subject": "s1", "train_seconds": 1.0, "predictions": []}
    assert (new["schema"], new["test_group"], new["n_test"], new["epoch_losses"]) == (2, "s1", 0, [])
    assert upgrade("fold", new) == new


def test_a_current_record_without_a_key_is_refused_not_defaulted(written, tmp_path):
    folder = copy_run(written, tmp_path)
    run = read(folder / "run.json")
    del run["learner"]
    write(folder / "run.json", run)
    assert load_run(folder) == (None, "run.json lacks learner")
    del run["schema"]  # the same record in layout 1 is an early run: a net
    write(folder / "run.json", run)
    assert load_run(folder)[0].learner == "net"

    fold = read(folder / "folds" / "fold_000.json")
    del fold["n_test"]
    write(folder / "folds" / "fold_000.json", fold)
    lines = []
    assert RunDirectory(folder.parent, folder.name).load_fold(0, log=lines.append) is None
    assert lines == [f"warning: {folder / 'folds' / 'fold_000.json'}: has no 'n_test'; discarded, the fold is "
                     f"trained again"]


def test_a_schema_that_is_not_a_layout_number_is_a_malformed_record(written, tmp_path):
    folder = copy_run(written, tmp_path)
    run = read(folder / "run.json")
    write(folder / "run.json", {**run, "schema": "2"})
    assert load_run(folder) == (None, "run.json has schema '2', not a layout number")
    with pytest.raises(RecordError, match="has schema 0"):
        upgrade("metrics", {"schema": 0})


@pytest.mark.parametrize("name", ["run.json", "metrics.json"])
def test_a_run_of_a_newer_schema_is_refused_in_one_line_naming_the_file(written, tmp_path, name):
    folder = copy_run(written, tmp_path)
    write(folder / name, {**read(folder / name), "schema": SCHEMA + 1})
    expected = (f"{folder / name}: written by a newer mebench (record schema 3; this one reads up to 2) — upgrade "
                f"mebench to read it (pip install -U mebench)")
    with pytest.raises(NewerSchemaError) as raised:
        load_run(folder)
    assert str(raised.value) == expected
    result = mebench_cli("leaderboard", "--results", folder.parent)
    assert result.exit_code == 1 and "Traceback" not in result.output
    assert result.stderr.strip().splitlines() == [f"Error: {expected}"]


def test_a_fold_record_or_config_of_a_newer_schema_is_refused_and_kept(written, tmp_path):
    folder = copy_run(written, tmp_path)
    run_dir = RunDirectory(folder.parent, folder.name)
    fold_path = folder / "folds" / "fold_001.json"
    write(fold_path, {**read(fold_path), "schema": 7})
    with pytest.raises(NewerSchemaError, match="record schema 7; this one reads up to 2"):
        run_dir.load_fold(1, log=lambda line: None)
    assert fold_path.exists()
    with pytest.raises(NewerSchemaError, match="record schema 7"):
        saved_fold_records(folder)

    config = read(folder / "config.json")
    write(folder / "config.json", {**config, "schema": 3})
    identity = {key: value for key, value in config.items() if key != "schema"}
    with pytest.raises(NewerSchemaError, match=f"^{folder / 'config.json'}: written by a newer mebench"):
        run_dir.start(identity)
    assert read(folder / "config.json")["schema"] == 3


def test_a_run_folder_started_by_the_previous_release_resumes(written, tmp_path):
    folder = copy_run(written, tmp_path)
    config = read(folder / "config.json")
    identity = {key: value for key, value in config.items() if key != "schema"}
    write(folder / "config.json", identity)  # as the previous release wrote it
    RunDirectory(folder.parent, folder.name).start(identity)  # the same configuration: not refused
    assert read(folder / "config.json") == identity  # nor rewritten
    with pytest.raises(RunError, match="holds a different configuration"):
        RunDirectory(folder.parent, folder.name).start({**identity, "lr": 0.5})


def test_the_checked_in_runs_are_layout_1_and_all_read():
    """The 66 recognition runs were written before records had a schema (layout 1); the spotting and
    spot-then-recognise runs added since are schema 2. All are read."""
    runs = ROOT / "leaderboards" / "runs"
    folders = sorted(path for path in runs.iterdir() if path.is_dir())
    spotting = [path for path in folders if "__synthetic-long__" in path.name]
    older = [path for path in folders if path not in spotting]
    assert len(older) == 66 and len(spotting) >= 8
    assert not [path for folder in older for path in folder.rglob("*.json") if "schema" in read(path)]
    assert all(read(folder / name)["schema"] == 2 for folder in spotting for name in ("run.json", "metrics.json"))
    loaded = [load_run(folder) for folder in folders]
    assert [reason for _, reason in loaded] == [None] * len(folders)
    assert sorted(record.learner for record, _ in loaded).count("estimator") == 6
    learners = {record.run_id: record.learner for record, _ in loaded}
    assert {learners[path.name] for path in spotting} == {"spotter", "spot-then-recognise"}
    assert {record.run_id for record, _ in loaded} == {folder.name for folder in folders}


@pytest.mark.slow  # the whole synthetic leaderboard, from 66 runs' predictions with intervals
def test_the_checked_in_leaderboard_rebuilds_byte_for_byte_from_its_layout_1_runs(tmp_path):
    out = tmp_path / "synthetic.md"
    result = mebench_cli("leaderboard", "--results", ROOT / "leaderboards" / "runs", "--reported",
                         "--plots", tmp_path / "images", "--write", out)
    assert result.exit_code == 0, result.output
    assert out.read_bytes() == (ROOT / "leaderboards" / "synthetic.md").read_bytes()


def test_each_metrics_record_reads_as_the_kind_its_task_names_in_any_layout():
    """No figure set is guessed from a block's keys: a record is read by the figures of the kind its ``"task"``
    names (absent: single-label, as every record has written it since the first)."""
    from mebench.records import Metrics, read_record
    from mebench.tasks import task_kind

    # an action-unit record as the release that added action units wrote it: no schema, no selection, no MEB figures
    first_au = {"classes": ["AU1", "AU2"], "task": "multi-label", "fold_mean": {},
                "pooled": {"n": 4, "macro_f1": 0.5, "accuracy": 0.25, "per_class": {"AU1": {"f1": 1.0}}}}
    metrics = Metrics.from_json(upgrade("metrics", first_au))
    assert (metrics.task, metrics.pooled.figures, metrics.selection) == ("multi-label", {"macro_f1": 0.5}, "fixed")
    read_as = {}
    for folder in sorted(path for path in (ROOT / "leaderboards" / "runs").iterdir() if path.is_dir()):
        written = read(folder / "metrics.json")
        recorded = Metrics.from_json(read_record("metrics", folder / "metrics.json"))
        kind = task_kind(written.get("task"))
        assert list(recorded.pooled.figures) == [name for name in kind.recorded_figures + kind.optional_figures
                                                 if name in written["pooled"]]
        read_as[folder.name] = recorded.task
    spotting = {name: task for name, task in read_as.items() if "__synthetic-long__" in name}
    assert set(spotting.values()) == {"intervals", "spot-then-recognise"}
    assert {task for name, task in read_as.items() if name not in spotting} == {"single-label"}
    assert all(recorded_task == read(ROOT / "leaderboards" / "runs" / name / "metrics.json")["task"]
               for name, recorded_task in spotting.items())
