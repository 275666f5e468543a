"""Report and plots on fabricated runs: self-contained HTML, markdown twin, PNGs."""

import base64
import re
from dataclasses import replace

import numpy as np
from mebench.analysis.configurations import load_configurations
from mebench.data import ReportedFigures
from mebench.analysis.plots import configuration_plots, pareto_front
from mebench.analysis.report import reported_vs_measured, write_report
from tests.conftest import mebench_cli
from tests.core.analysis.test_leaderboard import COMPOSITE, perturb, predictions_with_accuracy, reported_spec, task_samples, write_run

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def make_results(root, epoch_losses=True):
    truth = task_samples(COMPOSITE, per_subject=4)
    for seed in range(2):
        strong = predictions_with_accuracy(truth, 0.85, seed=seed)
        write_run(root, "strong", strong, seed=seed, parameters=5000, epoch_losses=epoch_losses)
        write_run(root, "close", perturb(strong, 3, 2, seed), seed=seed, parameters=800, epoch_losses=epoch_losses)
        write_run(root, "weak", predictions_with_accuracy(truth, 0.4, seed=7 + seed), seed=seed, parameters=3000,
                  epoch_losses=epoch_losses)
    return root


def test_report_is_self_contained_html_with_a_markdown_twin(tmp_path):
    results = make_results(tmp_path / "results")
    spec = reported_spec("strong", ReportedFigures(source="Doe 2020, Table 4", accuracy=0.75, uf1=0.66))
    html_path, markdown_path = write_report(load_configurations(results), [spec], tmp_path / "out")
    page = html_path.read_text()
    assert "http://" not in page and "https://" not in page and "<link" not in page  # nothing fetched to view it
    images = re.findall(r'src="data:image/png;base64,([^"]+)"', page)
    assert len(images) == 2 + 3 * 3  # UF1 and Pareto plots, then confusion, subjects, loss per configuration
    assert all(base64.b64decode(image).startswith(PNG_SIGNATURE) for image in images)
    for text in ("★ best", "≈ best", "Holm", "LOSO", "3 epochs per fold", "no model selection on the test fold",
                 "subject-level cluster bootstrap", "Doe 2020, Table 4", "commit: abc123", "cpu (test)"):
        assert text in page, text
    markdown = markdown_path.read_text()
    linked = re.findall(r"!\[[^\]]*\]\(([^)]+\.png)\)", markdown)
    assert len(linked) == len(images) and all((markdown_path.parent / name).read_bytes().startswith(PNG_SIGNATURE)
                                              for name in linked)
    assert "| strong  | ★ best" in markdown and "Doe 2020, Table 4" in markdown


def test_reported_rows_give_measured_minus_reported_and_their_source(tmp_path):
    configurations = load_configurations(make_results(tmp_path))
    figures = ReportedFigures(source="Doe 2020, Table 4", accuracy=0.75, uf1=0.66, per_dataset={"samm": {"uar": 0.5}})
    frame = reported_vs_measured(configurations, [("strong", figures), ("absent", figures)]).set_index(["model", "metric", "dataset"])
    strong = next(c for c in configurations if c.model == "strong")
    measured = strong.statistics()["estimate"]["uf1"]
    row = frame.loc[("strong", "UF1", "combined")]
    assert row["measured − reported"] == f"{measured - 0.66:+.3f}" and row["source"] == "Doe 2020, Table 4"
    assert frame.loc[("strong", "UAR", "combined: samm"), "reported"] == "0.500"
    assert frame.loc[("absent", "UF1", "combined"), "measured"] == "not run here"
    elsewhere = replace(figures, dataset="samm")  # a task nothing here ran: no rows, however many figures
    assert reported_vs_measured(configurations, [("strong", elsewhere)]).empty


def test_loss_plot_is_skipped_where_fold_records_lack_epoch_losses(tmp_path):
    configurations = load_configurations(make_results(tmp_path / "results", epoch_losses=False))
    plots = configuration_plots(configurations[0], tmp_path / "plots")
    assert set(plots) == {"confusion", "subjects"}
    assert all(path.read_bytes().startswith(PNG_SIGNATURE) for path in plots.values())


def test_pareto_front_by_hand():
    # (parameters, UF1): A (1, 0.5), B (2, 0.7), C (3, 0.6) dominated by B, D (4, 0.9)
    assert pareto_front([1, 2, 3, 4], [0.5, 0.7, 0.6, 0.9], larger_x_is_better=False) == [0, 1, 3]
    # as speed (more is better) only D survives: it is fastest and best
    assert pareto_front([1, 2, 3, 4], [0.5, 0.7, 0.6, 0.9], larger_x_is_better=True) == [3]
    assert np.array_equal(pareto_front([1, 1], [0.5, 0.5], False), [0, 1])  # ties both stay


def test_report_cli_writes_both_files_and_refuses_an_empty_folder(tmp_path):
    results = tmp_path / "results"
    write_run(results, "solo", predictions_with_accuracy(task_samples(), 0.8, seed=1), epoch_losses=False)
    result = mebench_cli("report", "--results", results, "--out", tmp_path / "out", "--no-reported")
    assert result.exit_code == 0, result.output
    assert (tmp_path / "out" / "report.html").exists() and (tmp_path / "out" / "report.md").exists()
    (tmp_path / "empty").mkdir()
    result = mebench_cli("report", "--results", tmp_path / "empty", "--out", tmp_path / "o2")
    assert result.exit_code == 1 and "no complete runs" in result.output and "Traceback" not in result.output


def test_reported_inside_ci_says_yes_only_for_a_figure_inside_the_interval(tmp_path):
    """An all-correct run: accuracy 1 with the interval [1, 1]. A reported 1.0 lies inside it, 0.5 does not."""
    truth = task_samples()
    write_run(tmp_path, "perfect", predictions_with_accuracy(truth, 1.0, seed=0))
    configurations = load_configurations(tmp_path)
    inside = ReportedFigures(source="Doe 2020, Table 1", dataset="synthetic", accuracy=1.0)
    outside = ReportedFigures(source="Doe 2020, Table 2", dataset="synthetic", accuracy=0.5)
    frame = reported_vs_measured(configurations, [("perfect", inside), ("perfect", outside)]).set_index("source")
    assert frame.loc["Doe 2020, Table 1", "reported inside CI"] == "yes"
    assert frame.loc["Doe 2020, Table 2", "reported inside CI"] == "no"
    assert frame.loc["Doe 2020, Table 2", "measured − reported"] == "+0.500"
    assert frame.loc["Doe 2020, Table 2", "measured"] == "1.000 [1.000, 1.000]"
