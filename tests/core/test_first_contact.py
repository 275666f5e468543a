"""What a newcomer meets first (issue 30, "First contact"): the run lock names its holder, data checks
report every problem at once, the HTML report reads well, and the small messages say the right thing."""

from __future__ import annotations

import json
import os
import socket
import threading

import numpy as np
import pytest

from mebench.errors import RunLockedError
from mebench.results import RunLock
from tests.conftest import mebench_cli, private
from tests.core.analysis.test_leaderboard import predictions_with_accuracy, reported_spec, task_samples, write_run


# --- the run lock names its holder, even when asked the moment the lock is taken -----------------

def test_a_process_that_finds_the_lock_taken_waits_for_the_holders_record(tmp_path):
    """The holder takes the lock, then writes its record; here it writes only after the other side
    has read the (missing) record once, the order that made the second run say "another process"."""
    holder, other = RunLock(tmp_path / "run"), RunLock(tmp_path / "run", wait=False)
    locked, first_look = threading.Event(), threading.Event()
    record_owner, read_owner = holder._record_owner, other._read_owner

    def late_record():
        locked.set()
        assert first_look.wait(30)
        record_owner()

    def look():
        owner = read_owner()
        first_look.set()
        return owner

    holder._record_owner, other._read_owner = late_record, look
    taking = threading.Thread(target=holder.__enter__)
    taking.start()
    try:
        assert locked.wait(30)
        with pytest.raises(RunLockedError) as refused:
            other.__enter__()
    finally:
        first_look.set()
        taking.join(30)
        holder.__exit__(None, None, None)
    assert f"run is being run by process {os.getpid()} on {socket.gethostname()} (since " in str(refused.value)
    assert not (tmp_path / "run" / ".run.lock.owner").exists()  # the holder's record goes with the lock


def test_a_dead_holders_record_is_not_named(tmp_path):
    """A record left by a killed holder names a process that no longer exists: the lock's new holder
    is waited for instead (here the lock is free, so it is simply taken)."""
    folder = tmp_path / "run"
    folder.mkdir()
    dead = 2 ** 22 + 12345  # above Linux's default pid_max, so no live process has it
    (folder / ".run.lock.owner").write_text(json.dumps({"pid": dead, "host": socket.gethostname(),
                                                         "since": "2026-01-01T00:00:00+0000"}))
    lock = RunLock(folder)
    assert lock._read_owner() is None
    with lock:
        assert json.loads((folder / ".run.lock.owner").read_text())["pid"] == os.getpid()


# --- data check: every database that cannot be read, at once; a data root that does not exist -----

def error_line(result) -> str:
    """The one ``Error:`` line of a failed command (no traceback, nothing else on stderr)."""
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exc_info
    assert "Traceback" not in result.output and result.stderr.count("\n") == 1, result.stderr
    assert result.stderr.startswith("Error: ")
    return result.stderr.strip()


def test_data_check_names_every_database_it_cannot_read(megc_root, tmp_path):
    root = private(megc_root, tmp_path, "CASME2")  # SAMM and SMIC missing
    result = mebench_cli("data", "check", "combined", "--data-root", root)
    line = error_line(result)
    assert result.exit_code == 1
    assert f"{root}: 2 of 3 databases cannot be read: " in line
    assert f"cannot be read: {root / 'SAMM'}/" in line and "SAMM coding spreadsheet not found" in line
    assert f"; {root / 'SMIC'}: " in line and "samm_root=DIR" in line and "smic_root=DIR" in line
    assert "CASME" not in line.replace("casme2_root", "")  # the one that was read is not named


def test_a_data_root_that_does_not_exist_says_so(tmp_path, monkeypatch):
    missing = tmp_path / "no-such-root"
    for command in (("data", "check", "combined"), ("run", "--model", "waspp", "--dataset", "samm")):
        result = mebench_cli(*command, "--data-root", missing)
        assert error_line(result) == (f"Error: {missing}: no such folder (given by --data-root) — point --data-root "
                                      "or $MEBENCH_DATA at the folder that holds your copies of the databases")
        assert result.exit_code == 1
    monkeypatch.setenv("MEBENCH_DATA", str(missing))
    result = mebench_cli("data", "check", "casme2")
    assert f"Error: {missing}: no such folder (given by $MEBENCH_DATA)" in error_line(result)
    # a built-in task reads no data root: a stale $MEBENCH_DATA does not stop it
    builtin = mebench_cli("data", "check", "synthetic")
    assert builtin.exit_code == 2 and "reads no files of yours" in error_line(builtin)


# --- the report: titles inside the image, chance marks unlike interval caps, no tables of nothing run --

@pytest.fixture
def drawn(monkeypatch):
    """The figures the plot functions save, kept open (and still written) for the test to measure."""
    from mebench.analysis import plots

    figures, save = [], plots._save

    def keep(figure, path):
        figure.canvas.draw()
        renderer = figure.canvas.get_renderer()
        titles = [t for t in [figure._suptitle, *(ax.title for ax in figure.axes)] if t is not None and t.get_text()]
        figure.title_boxes = [(t.get_text(), t.get_window_extent(renderer)) for t in titles]  # measured as saved
        figures.append(figure)
        return save(figure, path)

    monkeypatch.setattr(plots, "_save", keep)
    yield figures
    import matplotlib.pyplot as plt

    plt.close("all")


def assert_titles_inside(figure) -> None:
    assert figure.title_boxes
    for text, box in figure.title_boxes:
        assert 0 <= box.x0 and box.x1 <= figure.bbox.width, (text, box.x0, box.x1, figure.bbox.width)


LONG = "rcn-a on casme2+samm+smic+casme+mmew+4dme (10 seeds, preset=standard)"


def test_per_subject_confusion_loss_and_ranking_titles_stay_inside_the_image(drawn, tmp_path):
    from mebench.analysis.plots import confusion_plot, interval_plot, subject_accuracy_plot

    truth = task_samples({"synthetic": 4}, per_subject=16)
    subject_accuracy_plot([predictions_with_accuracy(truth, 0.7, seed=0)], f"{LONG}: accuracy per subject",
                          tmp_path / "s.png")
    confusion_plot(np.eye(3, dtype=int) * 5, ["negative", "positive", "surprise"],
                   f"{LONG} — counts summed over seeds — and more words to pass the width", tmp_path / "c.png")
    interval_plot(["dual-inception", "b"], [0.7, 0.6], [0.6, 0.5], [0.8, 0.7], ["★ best", ""],
                  f"{LONG} — LOSO (target=smic), test-oracle selection — LEAKY", tmp_path / "i.png")
    assert len(drawn) == 3
    for figure in drawn:
        assert_titles_inside(figure)
    subjects = drawn[0].axes[0].title.get_text()
    assert subjects.replace("\n", " ") == f"{LONG}: accuracy per subject — samples per subject above the bars"


def test_chance_marks_on_the_per_label_chart_do_not_look_like_interval_caps(drawn, tmp_path):
    from matplotlib.collections import LineCollection
    from matplotlib.colors import to_rgba

    from mebench.analysis.plots import label_f1_plot

    prevalence = [0.1, 0.4, 0.25]
    label_f1_plot(["AU1", "AU2", "AU4"], [0.5, 0.6, 0.3], [(0.4, 0.6), (0.5, 0.7), (0.2, 0.4)], prevalence,
                  f"{LONG}: F1 per label", tmp_path / "l.png")
    (figure,) = drawn
    assert_titles_inside(figure)
    ax = figure.axes[0]
    (chance,) = [c for c in ax.collections if isinstance(c, LineCollection) and c.get_label() == "chance (prevalence)"]
    segments = chance.get_segments()
    assert [segment[0][1] for segment in segments] == prevalence == [segment[1][1] for segment in segments]
    bar_width = ax.patches[0].get_width()
    assert [segment[1][0] - segment[0][0] for segment in segments] == pytest.approx([bar_width] * 3)  # across the bar
    (errorbars,) = ax.containers[1:]
    _, caps, (intervals,) = errorbars.lines
    assert caps == ()  # an interval ends without a cap: only the chance mark is a horizontal line
    assert chance.get_linestyle()[0][1] is not None  # dashed
    assert to_rgba(chance.get_color()[0]) != to_rgba(intervals.get_color()[0])


def test_the_report_leaves_out_tables_of_published_figures_on_tasks_it_did_not_run(tmp_path):
    from mebench.analysis.configurations import load_configurations
    from mebench.data import ReportedFigures
    from mebench.analysis.report import write_report

    results = tmp_path / "results"
    write_run(results, "solo", predictions_with_accuracy(task_samples(), 0.8, seed=1), epoch_losses=False)
    elsewhere = [reported_spec(f"rcn-{v}", ReportedFigures(source="Roe 2024, Table 2", dataset="combined", uf1=0.743))
                 for v in "acf"]
    here = reported_spec("solo", ReportedFigures(source="Doe 2020, Table 4", dataset="synthetic", uf1=0.66))
    html_path, markdown_path = write_report(load_configurations(results), [*elsewhere, here], tmp_path / "out")
    page, markdown = html_path.read_text(), markdown_path.read_text()
    assert "<h3>synthetic — LOSO, fixed selection</h3>" in page and "Doe 2020, Table 4" in page
    assert "Roe 2024" not in page and "rcn-a" not in page and "<h3>combined" not in page
    assert ("Published figures on tasks these results did not run are left out here (combined — LOSO, fixed "
            "selection): `mebench leaderboard --reported` lists them.") in markdown


# --- small slips ---------------------------------------------------------------------------------

def preset_rows(section: str) -> dict[str, list[str]]:
    """The cells of one preset table of docs/datasets.md (``section``: a line just above the table)."""
    from pathlib import Path

    text = (Path(__file__).parents[2] / "docs" / "datasets.md").read_text()
    table = text[text.index(section):].split("\n\n")[1]
    rows = {}
    for line in table.splitlines()[2:]:
        cells = [cell.strip() for cell in line.strip("|").split("|")]
        rows[cells[0].split("`")[1]] = cells[1:]
    return rows


def test_the_docs_name_each_synthetic_presets_difficulty_as_the_code_does():
    from mebench_plugins.datasets.synthetic import AU_PRESETS, DIFFICULTY, PRESETS

    three = preset_rows("`run.json`.)")
    six = preset_rows("epochs than telling three classes apart, so its presets are its own:")
    assert set(three) == set(PRESETS) and set(six) == set(AU_PRESETS)
    for rows, presets in ((three, PRESETS), (six, AU_PRESETS)):
        for name, cells in rows.items():
            difficulty = presets[name]["difficulty"]
            signal = cells[3]
            if difficulty == "standard":
                assert signal.startswith("as ")  # "as described above": the dataset's own description
                continue
            assert signal.split()[0] == difficulty, (name, signal)
            if "(" in signal:
                action, nuisance = DIFFICULTY[difficulty]
                assert signal.endswith(f"(action ×{action}, nuisance ×{nuisance})"), signal


def quoted_seed_columns(lines) -> list[str]:
    import re

    return re.findall(r"'([^']* seed sd)'", " ".join(lines))


def test_the_seed_spread_column_a_footer_names_is_the_tables_own(registry, tmp_path):
    from mebench.analysis.configurations import load_configurations
    from mebench.analysis.leaderboard import leaderboard_tables
    from tests.conftest import tiny_run

    single = tmp_path / "single"
    for seed in (0, 1):
        write_run(single, "solo", predictions_with_accuracy(task_samples(), 0.8, seed=seed), seed=seed)
    for seed in (0, 1):
        tiny_run(registry, tmp_path / "au", dataset="synthetic-au", epochs=1, batch_size=8, seed=seed)
    (emotions,), (labels,) = (leaderboard_tables(load_configurations(tmp_path / name)) for name in ("single", "au"))
    assert quoted_seed_columns(emotions.footer) == ["UF1 seed sd"]
    assert quoted_seed_columns(labels.footer) == ["macro-F1 seed sd"]
    assert "UF1 seed sd" in emotions.display.columns and "macro-F1 seed sd" in labels.display.columns


def test_compare_names_no_seed_spread_column_it_does_not_print(tmp_path):
    results = tmp_path / "results"
    truth = task_samples()
    write_run(results, "a", predictions_with_accuracy(truth, 0.8, seed=1))
    write_run(results, "b", predictions_with_accuracy(truth, 0.5, seed=2))
    result = mebench_cli("compare", "a", "b", "--results", results)
    assert result.exit_code == 0, result.output
    assert "seed sd" not in result.output
    assert "a figure is the mean over seeds and its interval is the subject-sampling uncertainty of that mean." \
        in " ".join(result.output.split())


def test_an_estimators_run_names_no_epochs_or_batch(registry, tmp_path):
    from mebench.run.runner import run
    from tests.conftest import tiny_config

    said = []
    config = tiny_config(model="lbptop", dataset_options={"subjects": 3, "clips_per_subject": 4, "size": 48},
                         epochs=None, batch_size=None)
    run(config, registry, output_dir=tmp_path / "results", progress=False, workers=1, log=said.append)
    (banner,) = [line for line in said if line.startswith("synthetic: ")]
    assert banner.startswith("synthetic: 3 subjects, 12 clips (preset 'start' with subjects=3, clips_per_subject=4, "
                             "size=48, obvious class signal)")
    (described,) = [line for line in said if line.startswith("lbptop on synthetic: ")]
    assert "fitted once per fold (an estimator)" in described and "epoch" not in described
    net = []
    run(tiny_config(dataset_options={"subjects": 3, "clips_per_subject": 4, "size": 48}), registry,
        output_dir=tmp_path / "results", progress=False, workers=1, log=net.append)
    assert [line for line in net if line.startswith("synthetic: ")][0].startswith(
        "synthetic: 3 subjects, 12 clips, 1 epoch, batch 8 (preset 'start'")


def test_plugin_status_counts_one_entry_and_several_entries():
    from tests.conftest import tiny_registry

    registry = tiny_registry()
    listing = registry.listing("plugins").splitlines()
    counts = {p.name: len(p.registered) for p in registry.plugins}
    assert counts["tiny_test_plugin"] == 1 and max(counts.values()) > 1
    for name, count in counts.items():
        (row,) = [line for line in listing if line.split()[0] == name]
        assert row.endswith(f"ok ({count} {'entry' if count == 1 else 'entries'})"), row


def test_a_bad_option_value_is_one_line_naming_the_help():
    result = mebench_cli("run", "--model", "waspp", "--dataset", "synthetic", "--epochs", "0")
    assert result.exit_code == 2 and result.stdout == ""
    line = error_line(result)
    assert line.startswith("Error: Invalid value for '--epochs': 0 is not in the range x>=1 — see `")
    assert line.endswith(" run --help`")
    unknown = mebench_cli("data", "check", "casme2", "--nosuch")
    assert unknown.exit_code == 2 and error_line(unknown).endswith(" data check --help`")


def test_ctrl_c_says_that_a_rerun_resumes(monkeypatch):
    import mebench.dataset_check
    import mebench.run.runner

    def interrupt(*_args, **_kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(mebench.run.runner, "run", interrupt)
    monkeypatch.setattr(mebench.dataset_check, "check_dataset", interrupt)
    result = mebench_cli("run", "--model", "waspp", "--dataset", "synthetic")
    assert result.exit_code == 130
    assert error_line(result) == ("Error: interrupted; every finished fold is kept, and the same command again "
                                  "resumes from them")
    checking = mebench_cli("data", "check", "synthetic")
    assert checking.exit_code == 130 and error_line(checking) == "Error: interrupted"


@pytest.mark.parametrize("given, meant", [("WASPP", "waspp"), ("Base", "base"), ("RCN-A", "rcn-a")])
def test_a_name_in_the_wrong_case_gets_the_right_one_suggested(given, meant):
    result = mebench_cli("info", given)
    assert result.exit_code == 2
    assert error_line(result) == (f"Error: unknown model {given!r}; did you mean {meant}? "
                                  "(`mebench list models` shows all)")


def test_the_readmes_report_folder_is_ignored_by_git():
    """The folders the README's commands write (results and the report) are ignored (read without git: a
    source copy has no repository)."""
    import re
    from pathlib import Path

    repo = Path(__file__).parents[2]
    (out,) = re.findall(r"mebench report --results results --out (\S+)", (repo / "README.md").read_text())
    ignored = {line.strip().strip("/") for line in (repo / ".gitignore").read_text().splitlines()
               if line.strip() and not line.startswith("#")}
    assert {out.strip("/"), "results"} <= ignored


def test_a_sweep_ends_with_the_leaderboard_of_its_own_grid(registry, tmp_path, monkeypatch):
    import mebench.run.sweep
    from tests.conftest import TINY_DATASET

    output = tmp_path / "results"
    write_run(output, "foreign", predictions_with_accuracy(task_samples(), 0.8, seed=1))  # not of the grid
    monkeypatch.setattr(mebench.run.sweep, "default_registry", lambda: registry)
    options = sum((["--dataset-opt", f"{k}={v}"] for k, v in TINY_DATASET.items()), [])
    result = mebench_cli("sweep", "--models", "tiny", "--datasets", "synthetic", "--seeds", "0-1", "--epochs", "1",
                         "--precision", "fp32", "--batch-size", "8", "-q", "--output", output,
                         "--cache-dir", tmp_path / "cache", *options)
    assert result.exit_code == 0, result.output
    rows = [line.split("|")[1].strip() for line in result.stdout.splitlines() if line.startswith("| ")]
    assert rows == ["model", "tiny"]  # the grid's one configuration (two seeds), nothing else in the folder
    assert "| tiny    | ★ best | measured | 2       |" in result.stdout


# --- the README's install advice -----------------------------------------------------------------

def test_the_readme_gives_a_cpu_only_torch_install_for_every_torch_package_mebench_needs():
    import re
    import tomllib
    from pathlib import Path

    repo = Path(__file__).parents[2]
    readme = (repo / "README.md").read_text()
    setup = readme[readme.index("## Set-up"):readme.index("## Using it")]
    requirements = tomllib.loads((repo / "pyproject.toml").read_text())["project"]["dependencies"]
    torch_family = {re.split(r"[<>=!~ ]", r)[0] for r in requirements if r.startswith("torch")}
    assert torch_family == {"torch", "torchvision"}
    (cpu_line,) = [line.strip() for line in setup.splitlines() if "download.pytorch.org" in line]
    words = cpu_line.split()
    assert words[:4] == ["python3", "-m", "pip", "install"]
    assert words[-2:] == ["--index-url", "https://download.pytorch.org/whl/cpu"]
    assert set(words[4:-2]) == torch_family  # every torch package, from the CPU index, nothing else
    assert setup.index(cpu_line) > setup.index('pip install -e ".[test]"')  # the two set-up commands stay first
    assert "python3 -m venv .venv && . .venv/bin/activate" in setup and "PEP 668" in setup
    # the two set-up commands CI runs, as written
    assert "python3 -m pip install -e . && mebench run --model waspp --dataset synthetic" in setup
    assert 'python3 -m pip install -e ".[test]" && python3 -m pytest -q' in setup


# --- licence and citation ------------------------------------------------------------------------

def cff_scalars(text: str) -> dict[str, str]:
    """The top-level ``key: value`` lines of a CITATION.cff (quotes removed)."""
    pairs = (line.split(":", 1) for line in text.splitlines() if line and line[0].isalpha() and ":" in line)
    return {key.strip(): value.strip().strip('"') for key, value in pairs}


def test_the_licence_and_the_citation_agree_with_pyproject():
    import tomllib
    from pathlib import Path

    repo = Path(__file__).parents[2]
    project = tomllib.loads((repo / "pyproject.toml").read_text())["project"]
    licence = (repo / "LICENSE").read_text()
    assert project["license"] == {"text": "MIT"}
    assert licence.startswith("MIT License\n") and "Permission is hereby granted, free of charge" in licence
    citation = cff_scalars((repo / "CITATION.cff").read_text())
    assert citation["cff-version"] == "1.2.0" and citation["type"] == "software"
    assert (citation["title"], citation["version"], citation["license"], citation["abstract"]) == (
        project["name"], project["version"], project["license"]["text"], project["description"])
    assert "authors" in citation and citation["message"]
