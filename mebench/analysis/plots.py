"""PNG figures of runs and leaderboards (matplotlib, Agg backend: no display needed).

Per configuration (one run, or the seeds of one configuration): the confusion matrix in counts
and row-normalised (summed over seeds), accuracy per subject (mean over seeds), and the training
loss per epoch of every fold (from the fold records' ``epoch_losses``; skipped where no fold has
them). Per leaderboard table: UF1 with its 95 % interval per configuration, and UF1 against
parameters and against inference speed with the Pareto front marked.
"""

from __future__ import annotations

import io
import re
import textwrap
from pathlib import Path
from typing import Iterable, Sequence

import matplotlib

matplotlib.use("Agg")  # headless: the report is built on machines without a display

import matplotlib.patches  # noqa: E402
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from matplotlib.ticker import EngFormatter, LogLocator, NullFormatter  # noqa: E402
from sklearn.metrics import ConfusionMatrixDisplay  # noqa: E402

from mebench.records import saved_fold_records  # noqa: E402
from mebench.atomic import atomic_write_bytes  # noqa: E402
from mebench.tasks import for_kind  # noqa: E402

DPI = 110


def _save(figure: plt.Figure, path: Path) -> Path:
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=DPI)  # layout fixed by tight_layout: one draw, not two
    plt.close(figure)
    atomic_write_bytes(path, buffer.getvalue())
    return path


def fitted(text: str, figure: plt.Figure, fontsize: float = 10, margin: float = 0.7) -> str:
    """``text`` broken into lines that fit the figure's width less ``margin`` inches (a title centred over
    an axes beside its y label), so that no title is cut at the image's edge. A character is taken as
    0.58 of the font size wide, a little more than DejaVu Sans's average."""
    characters = max(16, int((figure.get_figwidth() - margin) * 72 / (0.58 * fontsize)))
    return "\n".join(textwrap.wrap(text, characters, break_on_hyphens=False)) or text


def safe_name(text: str) -> str:
    """A file-name-safe version of a run or table name."""
    return re.sub(r"[^A-Za-z0-9._-]+", "_", text).strip("_")


def confusion_plot(confusion: np.ndarray, classes: Sequence[str], title: str, path: Path) -> Path:
    """Counts and row-normalised (recall per true class) side by side."""
    confusion = np.asarray(confusion)
    figure, axes = plt.subplots(1, 2, figsize=(9.5, 4.2))
    totals = confusion.sum(axis=1, keepdims=True)
    normalised = np.divide(confusion, totals, out=np.zeros(confusion.shape, float), where=totals > 0)
    for ax, matrix, fmt, name in ((axes[0], confusion, "d", "counts"), (axes[1], normalised, ".2f", "row-normalised")):
        display = ConfusionMatrixDisplay(matrix, display_labels=list(classes))
        display.plot(ax=ax, values_format=fmt, cmap="Blues", colorbar=False)
        ax.set_title(name)
    figure.suptitle(fitted(title, figure, margin=0.3), fontsize=10)
    figure.tight_layout()
    return _save(figure, path)


def subject_accuracy_plot(predictions: Sequence[pd.DataFrame], title: str, path: Path,
                          right: Sequence[np.ndarray] | None = None) -> Path:
    """One bar per subject (mean over seeds), coloured by source dataset, sample count on top. ``right``: per
    seed, whether each sample was answered right (the task kind's rule; default: the texts are equal)."""
    right = right or [(p["predicted_label"] == p["true_label"]).to_numpy() for p in predictions]
    frames = [p.assign(correct=np.asarray(r, float)) for p, r in zip(predictions, right)]
    per_subject = pd.concat(frames).groupby(["dataset", "subject"], sort=True)["correct"].mean()
    counts = predictions[0].groupby(["dataset", "subject"], sort=True).size()
    datasets = list(per_subject.index.get_level_values(0).unique())
    colours = dict(zip(datasets, plt.cm.tab10.colors))
    n = len(per_subject)
    figure, ax = plt.subplots(figsize=(min(max(6.0, 0.22 * n + 2), 18), 4.0))
    positions = np.arange(n)
    ax.bar(positions, per_subject.to_numpy(), color=[colours[d] for d, _ in per_subject.index], width=0.8)
    labels = [subject.split("/", 1)[-1] for _, subject in per_subject.index]
    ax.set_xticks(positions, labels, rotation=90, fontsize=7 if n > 30 else 8)
    ax.set_xlim(-0.7, n - 0.3)
    ax.set_ylim(0, 1.22)  # headroom above 1.0 for the sample counts and the legend
    ax.set_yticks(np.linspace(0, 1, 6))
    ax.set_ylabel("accuracy" + (f" (mean of {len(predictions)} seeds)" if len(predictions) > 1 else ""))
    if n <= 40:
        for x, count in zip(positions, counts.to_numpy()):
            ax.text(x, 1.02, str(count), ha="center", fontsize=6, color="dimgray")
    if len(datasets) > 1:
        ax.legend(handles=[plt.Rectangle((0, 0), 1, 1, color=colours[d]) for d in datasets], labels=datasets,
                  loc="upper right", ncols=len(datasets), fontsize=8, frameon=False)
    ax.set_title(fitted(title + (" — samples per subject above the bars" if n <= 40 else ""), figure), fontsize=10)
    figure.tight_layout()
    return _save(figure, path)


def fold_losses(run_folder: Path) -> list[list[float]]:
    """``epoch_losses`` of every fold record that has them (an empty list where none do)."""
    return [record.epoch_losses for record in saved_fold_records(run_folder) if record.epoch_losses]


def training_loss_plot(run_folders: Iterable[Path], title: str, path: Path) -> Path | None:
    """Training loss per epoch, one thin line per fold (all seeds) and their mean; None (no file)
    where no fold record has ``epoch_losses``."""
    per_run = [fold_losses(folder) for folder in run_folders]
    curves = [curve for run in per_run for curve in run]
    if not curves:
        return None
    figure, ax = plt.subplots(figsize=(6.0, 3.6))
    for curve in curves:
        ax.plot(np.arange(1, len(curve) + 1), curve, color="tab:blue", alpha=0.25, linewidth=0.8)
    longest = max(len(c) for c in curves)
    padded = np.full((len(curves), longest), np.nan)
    for i, curve in enumerate(curves):
        padded[i, : len(curve)] = curve
    ax.plot(np.arange(1, longest + 1), np.nanmean(padded, axis=0), color="black", linewidth=2, label="mean over folds")
    ax.set_xlabel("epoch")
    ax.set_ylabel("training loss")
    ax.xaxis.get_major_locator().set_params(integer=True)
    ax.legend(fontsize=8, frameon=False)
    runs = [run for run in per_run if run]
    extent = f"{len(runs[0])} folds" + (f" × {len(runs)} seeds" if len(runs) > 1 else "")
    ax.set_title(fitted(f"{title} — {extent}", figure), fontsize=10)
    figure.tight_layout()
    return _save(figure, path)


def interval_plot(labels: Sequence[str], values: Sequence[float], lows: Sequence[float], highs: Sequence[float],
                  marks: Sequence[str], title: str, path: Path, metric: str = "UF1") -> Path:
    """A figure (UF1) per configuration with its interval, best first; marked rows in dark colours."""
    n = len(labels)
    figure, ax = plt.subplots(figsize=(7.5, 0.45 * n + 1.4))
    positions = np.arange(n)[::-1]
    colours = ["tab:red" if "best" in m and "≈" not in m else "tab:orange" if "≈" in m else "gray" for m in marks]
    values, lows, highs = map(np.asarray, (values, lows, highs))
    for value, low, high, position, colour in zip(values, lows, highs, positions, colours):
        ax.errorbar([value], [position], xerr=[[value - low], [high - value]], fmt="o", color=colour, capsize=3)
    ax.set_yticks(positions, [f"{label}  {mark}".strip() for label, mark in zip(labels, marks)], fontsize=8)
    ax.set_xlabel(f"{metric} (95 % subject-level bootstrap interval)")
    ax.set_ylim(-0.7, n - 0.3)
    ax.grid(axis="x", alpha=0.3)
    ax.set_title(fitted(title, figure, margin=3.0), fontsize=10)  # the labels on the left take ~2.5 in
    figure.tight_layout()
    return _save(figure, path)


def pareto_front(x: Sequence[float], y: Sequence[float], larger_x_is_better: bool) -> list[int]:
    """Indices of the points no other point beats on both x and y (larger y is better), by x."""
    x, y = np.asarray(x, float), np.asarray(y, float)
    sign = 1.0 if larger_x_is_better else -1.0
    front = [i for i in range(len(x))
             if not any((sign * x[j] >= sign * x[i]) and (y[j] >= y[i]) and (x[j] != x[i] or y[j] != y[i])
                        for j in range(len(x)))]
    return sorted(front, key=lambda i: x[i])

# label offsets in points tried in turn: right-above, right-below, left-above, left-below, then further out
_LABEL_OFFSETS = ((4, 3), (4, -10), (-4, 3), (-4, -10), (4, 11), (4, -18), (-4, 11), (-4, -18))


def _place_labels(ax: plt.Axes, x: Sequence[float], y: Sequence[float], labels: Sequence[str],
                  fontsize: float = 7) -> None:
    """Annotate each point where its label covers no marker and no label already placed (the first free offset,
    else the first offset): close points (nets of one family, a row of pyramids) stay readable."""
    ax.figure.canvas.draw()  # fixes the limits, so data map to display points
    scale = 72.0 / ax.figure.dpi
    points = ax.transData.transform(np.column_stack([np.asarray(x, float), np.asarray(y, float)])) * scale
    width, height = 0.6 * fontsize, fontsize  # a character's box, in points
    marker = 3.5  # a marker's half width, in points: labels avoid the markers too
    placed = [(px - marker, py - marker, px + marker, py + marker) for px, py in points]
    for i in sorted(range(len(labels)), key=lambda i: -points[i][1]):
        px, py = points[i]
        w = width * len(labels[i])
        for dx, dy in _LABEL_OFFSETS:
            left = px + dx if dx >= 0 else px + dx - w
            box = (left, py + dy, left + w, py + dy + height)
            if not any(box[0] < b[2] and b[0] < box[2] and box[1] < b[3] and b[1] < box[3] for b in placed):
                break
        else:
            dx, dy = _LABEL_OFFSETS[0]
            left = px + dx
            box = (left, py + dy, left + w, py + dy + height)
        placed.append(box)
        ax.annotate(labels[i], (x[i], y[i]), textcoords="offset points", xytext=(dx, dy), fontsize=fontsize,
                    ha="left" if dx >= 0 else "right")


def pareto_plot(labels: Sequence[str], uf1: Sequence[float], parameters: Sequence[float], fps: Sequence[float],
                title: str, path: Path, metric: str = "UF1") -> Path:
    """A figure (UF1) against parameters (fewer is better) and against inference fps (more is better). A row without
    a value on an axis (a hand-crafted spotter has no parameters) is left out of that panel, which says how many."""
    figure, axes = plt.subplots(1, 2, figsize=(11, 4.2))
    for ax, values, name, larger in ((axes[0], parameters, "parameters", False),
                                     (axes[1], fps, "inference frames/s", True)):
        values = np.asarray(values, float)
        shown = values > 0  # a log axis has no place for 0
        x, y = values[shown], np.asarray(uf1, float)[shown]
        front = pareto_front(x, y, larger)
        ax.scatter(x, y, color="gray", zorder=2)
        ax.plot(x[front], y[front], color="tab:red", marker="o", zorder=3, label="Pareto front")
        ax.set_xscale("log")
        ax.xaxis.set_major_formatter(EngFormatter())  # 2 M rather than 2×10⁶
        ax.xaxis.set_minor_locator(LogLocator(subs=(2.0, 5.0)))  # 1, 2, 5 per decade
        # labels at 2 and 5 only where few decades are shown; across many they would overlap
        decades = np.log10(max(x.max(), 1) / max(x.min(), 1))
        ax.xaxis.set_minor_formatter(EngFormatter() if decades <= 3 else NullFormatter())
        hidden = int((~shown).sum())
        ax.set_xlabel(f"{name} (log scale; {'fewer' if not larger else 'more'} is better)"
                      + (f"\n{hidden} without {name} not shown" if hidden else ""))
        ax.set_ylabel(metric)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8, frameon=False, loc="lower right")
        ax.margins(x=0.15, y=0.1)
        _place_labels(ax, x, y, [label for label, kept in zip(labels, shown) if kept])
    figure.suptitle(fitted(title, figure, margin=0.3), fontsize=10)
    figure.tight_layout()
    return _save(figure, path)


def label_f1_plot(labels: Sequence[str], values: Sequence[float], intervals: Sequence[Sequence[float]],
                  prevalence: Sequence[float], title: str, path: Path) -> Path:
    """A multi-label task's F1 per label with its interval (a black line, no caps), beside each label's
    prevalence (the F1 of detecting it at random at that rate) as a dashed orange line across the bar: the
    two must not look alike."""
    n = len(labels)
    figure, ax = plt.subplots(figsize=(max(6.0, 0.55 * n + 2), 4.0))
    positions = np.arange(n)
    values = np.nan_to_num(np.asarray(values, float))
    low = np.array([v - (i[0] if np.isfinite(i[0]) else v) for v, i in zip(values, intervals)])
    high = np.array([(i[1] if np.isfinite(i[1]) else v) - v for v, i in zip(values, intervals)])
    ax.bar(positions, values, width=0.7, color="tab:blue", label="F1")
    ax.errorbar(positions, values, yerr=[low, high], fmt="none", ecolor="black", elinewidth=1.2, capsize=0,
                zorder=3, label="95 % interval")
    ax.hlines(prevalence, positions - 0.35, positions + 0.35, colors="tab:orange", linestyles="dashed", linewidth=2,
              zorder=4, label="chance (prevalence)")
    ax.set_xticks(positions, labels, rotation=0 if n <= 14 else 90, fontsize=8)
    ax.set_ylim(0, 1.2)  # headroom above 1.0 for the legend
    ax.set_yticks(np.linspace(0, 1, 6))
    ax.set_ylabel("F1")
    ax.legend(fontsize=8, frameon=False, loc="upper right", ncols=3)
    ax.set_title(fitted(title, figure), fontsize=10)
    figure.tight_layout()
    return _save(figure, path)


def _label_plots(configuration, title: str, stem: Path) -> tuple[dict[str, Path], str]:
    """A multi-label configuration's F1 per label, and the title of its per-subject plot."""
    stats, pooled = configuration.statistics(), configuration.first.metrics.pooled
    labels = list(configuration.classes)
    first = label_f1_plot(labels, [stats["estimate"][f"f1_{label}"] for label in labels],
                          [stats[f"f1_{label}"] for label in labels],
                          [pooled.per_class[label]["support"] / max(pooled.n, 1) for label in labels],
                          f"{title}: F1 per label", stem.with_name(f"{stem.name}__labels.png"))
    return {"labels": first}, f"{title}: exact-match accuracy (every label right) per subject"


def _class_plots(configuration, title: str, stem: Path) -> tuple[dict[str, Path], str]:
    """A single-label configuration's confusion matrix (summed over seeds), and the title of its per-subject plot."""
    seeds = len(configuration.runs)
    confusion = np.sum([run.metrics.pooled.confusion_matrix for run in configuration.runs], axis=0)
    return ({"confusion": confusion_plot(confusion, configuration.classes,
                                         title + (" — counts summed over seeds" if seeds > 1 else ""),
                                         stem.with_name(f"{stem.name}__confusion.png"))},
            f"{title}: accuracy per subject")


#: Colours of the interval types along a video.
TYPE_COLOURS = {"me": "tab:red", "mae": "tab:blue"}


def spotting_timeline_plot(videos: Sequence[str], truth: Sequence[Sequence[tuple[int, int, str]]],
                           predicted: Sequence[Sequence[tuple[int, int, str]]], title: str, path: Path) -> Path:
    """Per video two rows along its frames: the true intervals (upper, solid) and the spotted ones (lower,
    hatched), coloured by type (ME red, MaE blue)."""
    n = len(videos)
    figure, ax = plt.subplots(figsize=(9.0, max(2.5, 0.55 * n + 1.2)))
    for row, (true, spotted) in enumerate(zip(truth, predicted)):
        y = n - 1 - row
        for onset, offset, kind in true:
            ax.broken_barh([(onset, offset - onset + 1)], (y + 0.05, 0.4), color=TYPE_COLOURS[kind])
        for onset, offset, kind in spotted:
            ax.broken_barh([(onset, offset - onset + 1)], (y - 0.45, 0.4), facecolor="white",
                           edgecolor=TYPE_COLOURS[kind], hatch="////", linewidth=0.8)
    ax.set_yticks(np.arange(n), [textwrap.shorten(video, 28) for video in reversed(videos)], fontsize=7)
    ax.set_ylim(-0.6, n - 0.4)
    ax.set_xlabel("frame")
    handles = [matplotlib.patches.Patch(color=TYPE_COLOURS["me"], label="ME (true)"),
               matplotlib.patches.Patch(color=TYPE_COLOURS["mae"], label="MaE (true)"),
               matplotlib.patches.Patch(facecolor="white", edgecolor="black", hatch="////", label="spotted")]
    ax.legend(handles=handles, fontsize=8, frameon=False, loc="upper center", bbox_to_anchor=(0.5, -0.12 - 0.3 / n),
              ncols=3)
    ax.set_title(fitted(title, figure), fontsize=10)
    figure.tight_layout()
    return _save(figure, path)


#: How many videos the timeline of a spotting configuration shows (those with the most true intervals).
TIMELINE_VIDEOS = 12


def _interval_plots(configuration, title: str, stem: Path) -> tuple[dict[str, Path], str]:
    """A spotting configuration's true and spotted intervals along its videos (the first seed; the videos with
    the most true intervals), and the title of its per-subject plot."""
    frame = configuration.predictions[0]
    kind, classes = configuration.kind, configuration.classes
    truth, spotted = kind.read_answers(frame["true_label"].tolist(), classes), kind.read_answers(
        frame["predicted_label"].tolist(), classes)
    order = sorted(range(len(frame)), key=lambda i: (-len(truth[i]), frame["sample_id"].iloc[i]))[:TIMELINE_VIDEOS]
    timeline = spotting_timeline_plot([frame["sample_id"].iloc[i] for i in order], [truth[i] for i in order],
                                      [spotted[i] for i in order], f"{title}: true and spotted intervals",
                                      stem.with_name(f"{stem.name}__intervals.png"))
    return {"intervals": timeline}, f"{title}: videos spotted exactly (every interval found, nothing else) per subject"


#: The plots of a configuration's answers, per task kind (``mebench.tasks``).
ANSWER_PLOTS = {"single-label": _class_plots, "multi-label": _label_plots, "intervals": _interval_plots}


def configuration_plots(configuration, out_dir: Path) -> dict[str, Path]:
    """Confusion matrix (a multi-label task: F1 per label), accuracy per subject and (where recorded)
    training loss of one configuration (a :class:`mebench.analysis.configurations.Configuration`); name → PNG path."""
    seeds = len(configuration.runs)
    stem = safe_name(configuration.first.configuration_id)
    title = f"{configuration.model} on {configuration.dataset}" + (f" ({seeds} seeds)" if seeds > 1 else "")
    plots, subjects_title = for_kind(ANSWER_PLOTS, configuration.kind)(configuration, title, Path(out_dir) / stem)
    rights = [configuration.kind.right(p, configuration.classes) for p in configuration.predictions]
    rights = [r.all(axis=1) if r.ndim == 2 else r for r in rights]  # several labels: every one right
    plots["subjects"] = subject_accuracy_plot(configuration.predictions, subjects_title,
                                              Path(out_dir) / f"{stem}__subjects.png", rights)
    loss = training_loss_plot([Path(run.path) for run in configuration.runs], f"{title}: training loss",
                              Path(out_dir) / f"{stem}__loss.png")
    if loss is not None:
        plots["loss"] = loss
    return plots


def leaderboard_plots(tables, out_dir: Path) -> list[Path]:
    """For each :class:`mebench.analysis.leaderboard.LeaderboardTable` with measured rows: its ranking figure (UF1,
    or macro-F1 for a multi-label task) with its interval per configuration, and the two Pareto plots.
    The files are named ``<table stem>__uf1.png`` and ``__pareto.png`` whatever the figure."""
    written = []
    for table in tables:
        measured = table.numbers[table.numbers["source"] == "measured"]
        if measured.empty:
            continue
        stem = safe_name(table.stem)
        row_options = [name for name, _ in table.layout.kind.row_options]
        labels = [" + ".join([row["model"], *(row[name] for name in row_options if pd.notna(row[name]))])
                  for _, row in measured.iterrows()]
        metric, label = table.layout.ranking, table.layout.ranking_label
        written.append(interval_plot(labels, measured[metric], measured[f"{metric}_ci_low"],
                                     measured[f"{metric}_ci_high"], list(measured["mark"]), table.title,
                                     Path(out_dir) / f"{stem}__uf1.png", label))
        if not (measured["params"].fillna(0) > 0).any():  # spotters only: no parameters to plot against
            continue
        written.append(pareto_plot(labels, list(measured[metric]), list(measured["params"]), list(measured["fps"]),
                                   table.title, Path(out_dir) / f"{stem}__pareto.png", label))
    return written
