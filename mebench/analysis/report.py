"""A report a paper can cite: one self-contained HTML file and its markdown twin.

``write_report`` puts into OUT: ``report.html`` (images embedded as base64, no network needed to
view it), ``report.md`` (the same content, images as PNG files beside it) and the PNGs. Content:
the leaderboard per dataset, protocol and selection with intervals, significance marks and the
table footers (only tables with a measured row: those of published figures alone, on tasks these
results did not run, are named in one line); published figures next to the measured ones with their
deltas and sources; the leaderboard plots; and per configuration its protocol, environment and run plots.
"""

from __future__ import annotations

import base64
import html
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Sequence

import pandas as pd
from tabulate import tabulate

from mebench.data import ModelSpec, ReportedFigures
from mebench.analysis.configurations import ALL, Configuration
from mebench.analysis.leaderboard import LeaderboardTable, leaderboard_tables, reported_figures
from mebench.metrics import format_interval
from mebench.analysis.plots import configuration_plots, leaderboard_plots, safe_name
from mebench.atomic import atomic_write_text
from mebench.tasks import task_kind


@dataclass(frozen=True)
class Block:
    """One piece of the report: ``kind`` is heading (level in ``level``), text, bullets, table or image."""

    kind: str
    content: object
    level: int = 2


def reported_vs_measured(configurations: Sequence[Configuration], reported: Iterable[tuple[str, ReportedFigures]]
                         ) -> pd.DataFrame:
    """One row per published figure on a dataset and protocol these results ran: the measured figure of the same
    model (fixed selection preferred) with its interval, and measured − reported; "not run here" where that model
    was not run. Figures on tasks nothing here ran stay in the leaderboard tables only."""
    tasks = {(c.dataset, c.protocol) for c in configurations}
    rows = []
    for model, figures in reported:
        if (figures.dataset, figures.protocol) not in tasks:
            continue
        candidates = [c for c in configurations
                      if c.model == model and c.dataset == figures.dataset and c.protocol == figures.protocol]
        candidates.sort(key=lambda c: (c.selection != "fixed", bool(c.protocol_options), -len(c.sample_ids)))
        measured = candidates[0] if candidates else None
        kind = task_kind(figures.kind)
        names, labels = kind.metric_names(()), kind.metric_labels(())
        scopes = [(ALL, {m: figures.value(m) for m in names})]
        scopes += [(name, dict(values)) for name, values in figures.per_dataset.items()]
        for scope, values in scopes:
            for metric in names:
                value = values.get(metric)
                if value is None:
                    continue
                stats = measured.statistics(scope) if measured and scope in measured.scopes else None
                estimate = stats["estimate"][metric] if stats else None
                rows.append({
                    "model": model, "dataset": figures.dataset if scope == ALL else f"{figures.dataset}: {scope}",
                    "metric": labels[metric], "reported": f"{value:.3f}",
                    "measured": format_interval(estimate, stats[metric]) if stats else "not run here",
                    "measured − reported": f"{estimate - value:+.3f}" if stats else "",
                    "reported inside CI": ("yes" if stats[metric][0] <= value <= stats[metric][1] else "no") if stats else "",
                    "selection (measured / reported)": f"{measured.selection} / {figures.selection}" if measured else "",
                    "source": figures.source,
                })
    return pd.DataFrame(rows)


def _protocol_rows(configuration: Configuration) -> list[str]:
    first = configuration.first
    config, environment = first.config, first.environment
    versions = ", ".join(f"{name} {version}" for name, version in environment.get("versions", {}).items())
    if first.external:  # predictions made elsewhere (`mebench score --as`): nothing of their training is known
        return [f"runs: {', '.join(run.run_id for run in configuration.runs)}",
                f"external predictions: {first.source.get('file', '?')} (SHA-256 {first.source.get('sha256', '?')}), "
                f"scored by mebench; how they were trained, their folds and model selection are not known",
                f"samples: {first.n_samples or len(configuration.sample_ids)}, classes: {', '.join(configuration.classes)}",
                f"stored {first.finished or '?'}"]
    return [
        f"runs: {', '.join(run.run_id for run in configuration.runs)}",
        f"protocol: {configuration.protocol.upper()} {first.protocol_options or ''}".rstrip()
        + f", {first.n_folds or '?'} folds, "
        + (first.budget_text.removesuffix(" (no epochs)") if first.fitted else f"{first.epochs} epochs per fold")
        + f", selection {configuration.selection}, seeds {configuration.seeds}",
        f"samples: {first.n_samples or len(configuration.sample_ids)}, classes: {', '.join(configuration.classes)}",
        f"model: {first.parameters:,} parameters, input {first.input_spec or '?'}, "
        + (("fitted" if first.learner == "estimator" else "a spotter") + " (no batches, no learning rate)"
           if first.fitted else
           f"precision {config.get('precision', '?')}, batch {config.get('batch_size', '?')}, lr {config.get('lr', '?')}"),
        f"preprocessing: {config.get('preprocessing', '?')}",
        f"device: {first.device}; python {environment.get('python')} on {environment.get('platform')}",
        f"libraries: {versions or '?'}",
        f"commit: {environment.get('git_commit') or 'unknown'}; finished {first.finished or '?'}",
    ]


def report_blocks(configurations: Sequence[Configuration], specs: Iterable[ModelSpec], out_dir: Path) -> list[Block]:
    """Every block of the report; writes the PNGs into ``out_dir`` on the way."""
    reported = reported_figures(specs)
    tables: list[LeaderboardTable] = leaderboard_tables(configurations, reported)
    runs = sum(len(c.runs) for c in configurations)
    blocks = [Block("heading", "mebench report", 1),
              Block("text", f"{len(configurations)} configurations, {runs} runs; generated "
                            f"{time.strftime('%Y-%m-%d %H:%M')}. Figures are means over seeds with 95 % "
                            f"subject-level bootstrap intervals; each table's footer states its protocol.")]
    plots = {path.name: path for path in leaderboard_plots(tables, out_dir)}
    blocks.append(Block("heading", "Leaderboards"))
    # a table of published figures only (a task nothing here ran) would fill the page with rows of no
    # measurement; it is named, and `mebench leaderboard --reported` shows it
    measured = [(table.numbers["source"] == "measured").any() for table in tables]
    unrun = [table for table, ran in zip(tables, measured) if not ran]
    for table in [table for table, ran in zip(tables, measured) if ran]:
        blocks += [Block("heading", table.title, 3), Block("table", table.display), Block("bullets", table.footer)]
        stem = safe_name(table.stem)
        blocks += [Block("image", plots[name]) for name in (f"{stem}__uf1.png", f"{stem}__pareto.png") if name in plots]
    if unrun:
        blocks.append(Block("text", "Published figures on tasks these results did not run are left out here ("
                                    + "; ".join(table.title for table in unrun)
                                    + "): `mebench leaderboard --reported` lists them."))
    comparison = reported_vs_measured(configurations, reported)
    if not comparison.empty:
        blocks += [Block("heading", "Reported against measured"),
                   Block("text", "Each published figure next to our measurement of the same model, dataset and "
                                 "protocol; a different selection rule or preprocessing can explain a gap, so both "
                                 "selections are shown."),
                   Block("table", comparison)]
    blocks.append(Block("heading", "Runs"))
    for configuration in configurations:
        blocks += [Block("heading", f"{configuration.model} on {configuration.dataset}", 3),
                   Block("bullets", _protocol_rows(configuration))]
        run_plots = configuration_plots(configuration, out_dir)
        blocks += [Block("image", path) for path in run_plots.values()]
        if "loss" not in run_plots:
            blocks.append(Block("text", "No per-epoch training losses in these runs' fold records."))
    return blocks


def render_markdown(blocks: Sequence[Block]) -> str:
    parts = []
    for block in blocks:
        if block.kind == "heading":
            parts.append(f"{'#' * block.level} {block.content}")
        elif block.kind == "text":
            parts.append(str(block.content))
        elif block.kind == "bullets":
            parts.append("\n".join(f"- {line}" for line in block.content))
        elif block.kind == "table":
            parts.append(tabulate(block.content, headers="keys", tablefmt="github", showindex=False,
                                  disable_numparse=True))
        elif block.kind == "image":
            parts.append(f"![{block.content.stem}]({block.content.name})")
    return "\n\n".join(parts) + "\n"


STYLE = """
body { font-family: system-ui, sans-serif; margin: 2em auto; max-width: 1300px; color: #222; }
table { border-collapse: collapse; font-size: 13px; margin: 0.5em 0; }
th, td { border: 1px solid #ccc; padding: 3px 7px; text-align: left; white-space: nowrap; }
th { background: #f2f2f2; }
tr:nth-child(even) td { background: #fafafa; }
ul { font-size: 13px; color: #444; }
img { max-width: 100%; display: block; margin: 0.8em 0; }
.scroll { overflow-x: auto; }
td.long { white-space: normal; min-width: 22em; }
"""


def _html_table(frame: pd.DataFrame, long: int = 40) -> str:
    """The frame as an HTML table; a cell longer than ``long`` characters (a citation) wraps, the rest do not."""
    def cell(tag: str, value) -> str:
        text = html.escape(str(value))
        return f'<{tag} class="long">{text}</{tag}>' if len(text) > long else f"<{tag}>{text}</{tag}>"
    head = "".join(cell("th", column) for column in frame.columns)
    body = "".join("<tr>" + "".join(cell("td", value) for value in row) + "</tr>"
                   for row in frame.itertuples(index=False))
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def render_html(blocks: Sequence[Block]) -> str:
    parts = []
    for block in blocks:
        if block.kind == "heading":
            parts.append(f"<h{block.level}>{html.escape(str(block.content))}</h{block.level}>")
        elif block.kind == "text":
            parts.append(f"<p>{html.escape(str(block.content))}</p>")
        elif block.kind == "bullets":
            parts.append("<ul>" + "".join(f"<li>{html.escape(line)}</li>" for line in block.content) + "</ul>")
        elif block.kind == "table":
            parts.append(f'<div class="scroll">{_html_table(block.content)}</div>')
        elif block.kind == "image":
            data = base64.b64encode(Path(block.content).read_bytes()).decode("ascii")
            parts.append(f'<img alt="{html.escape(block.content.stem)}" src="data:image/png;base64,{data}">')
    return ('<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8"><title>mebench report</title>'
            f"<style>{STYLE}</style></head><body>\n" + "\n".join(parts) + "\n</body></html>\n")


def write_report(configurations: Sequence[Configuration], specs: Iterable[ModelSpec], out_dir: Path) -> tuple[Path, Path]:
    """Write ``report.html``, ``report.md`` and the PNGs into ``out_dir``; returns the two report paths."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    blocks = report_blocks(configurations, specs, out_dir)
    html_path, markdown_path = out_dir / "report.html", out_dir / "report.md"
    atomic_write_text(html_path, render_html(blocks))
    atomic_write_text(markdown_path, render_markdown(blocks))
    return html_path, markdown_path
