"""Comparison tables from saved results: pandas for the numbers, tabulate for the text."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Iterable

import pandas as pd
from tabulate import tabulate

from mebench.data import ModelSpec
from mebench.results import load_results

RESULT_COLUMNS = ["model", "dataset", "source", "seeds", "accuracy", "uf1", "uar", "params",
                  "train_s_per_fold", "fps", "device", "epochs"]


def results_frame(runs: Iterable[dict[str, Any]]) -> pd.DataFrame:
    """One row per run (seed)."""
    rows = []
    for run in runs:
        pooled = run["metrics"]["pooled"]
        rows.append({
            "model": run["model"], "dataset": run["dataset"], "config_hash": run["config_hash"],
            "seed": run["seed"], "accuracy": pooled["accuracy"], "uf1": pooled["uf1"], "uar": pooled["uar"],
            "params": run["parameters"], "train_s_per_fold": run["timing"]["train_seconds_per_fold_mean"],
            "fps": run["timing"]["inference_fps"], "device": run["environment"]["device"],
            "epochs": run["config"]["epochs"],
        })
    return pd.DataFrame(rows)


def _mean_std(values: pd.Series, scale: float, digits: int) -> str:
    mean = values.mean() * scale
    if len(values) < 2:
        return f"{mean:.{digits}f}"
    return f"{mean:.{digits}f} ± {values.std(ddof=1) * scale:.{digits}f}"


def leaderboard_table(runs: Iterable[dict[str, Any]], reported: Iterable[ModelSpec] = ()) -> pd.DataFrame:
    """Runs grouped by (model, dataset, config); repeated seeds give mean ± std. Paper figures
    from model cards are added as rows whose source is "reported"."""
    frame = results_frame(runs)
    rows = []
    if not frame.empty:
        for _, group in frame.groupby(["model", "dataset", "config_hash"], sort=False):
            first = group.iloc[0]
            rows.append({
                "model": first["model"], "dataset": first["dataset"], "source": "measured",
                "seeds": len(group), "accuracy": _mean_std(group["accuracy"], 100, 2),
                "uf1": _mean_std(group["uf1"], 1, 4), "uar": _mean_std(group["uar"], 1, 4),
                "params": f"{int(first['params']):,}", "train_s_per_fold": f"{group['train_s_per_fold'].mean():.1f}",
                "fps": f"{group['fps'].mean():.0f}", "device": first["device"], "epochs": int(first["epochs"]),
                "_sort": group["uf1"].mean(),
            })
    for spec in reported:
        figures = spec.reported
        if "combined_accuracy" not in figures:
            continue
        rows.append({
            "model": spec.name, "dataset": "combined", "source": "reported", "seeds": "",
            "accuracy": f"{figures['combined_accuracy']:.2f}",
            "uf1": f"{figures['combined_f1']:.4f}" if "combined_f1" in figures else "",
            "uar": "", "params": f"{figures['parameters']:,}" if "parameters" in figures else "",
            "train_s_per_fold": str(figures.get("train_s_per_subject", "")), "fps": str(figures.get("fps", "")),
            "device": figures.get("device", "paper"), "epochs": "", "_sort": -1.0,
        })
    table = pd.DataFrame(rows, columns=RESULT_COLUMNS + ["_sort"])
    table = table.sort_values(["dataset", "source", "_sort"], ascending=[True, True, False])
    return table.drop(columns="_sort").reset_index(drop=True)


def render(table: pd.DataFrame, fmt: str = "markdown") -> str:
    if fmt == "csv":
        return table.to_csv(index=False)
    if fmt != "markdown":
        raise ValueError(f"format must be markdown or csv, got {fmt!r}")
    if table.empty:
        return "(no results)"
    return tabulate(table, headers="keys", tablefmt="github", showindex=False, disable_numparse=True)


def results_leaderboard(results_dir: Path, reported: Iterable[ModelSpec] = (), fmt: str = "markdown") -> str:
    return render(leaderboard_table(load_results(results_dir), reported), fmt)


def metrics_report(metrics: dict[str, Any]) -> str:
    """The table printed at the end of a run: pooled and per-dataset figures, then per class."""
    sections = [("all (pooled)", metrics["pooled"])] + list(metrics.get("per_dataset", {}).items())
    summary = tabulate(
        [[name, m["n"], f"{100 * m['accuracy']:.2f}", f"{m['uf1']:.4f}", f"{m['uar']:.4f}"] for name, m in sections],
        headers=["subset", "samples", "accuracy %", "UF1", "UAR"], tablefmt="github", disable_numparse=True)
    per_class = tabulate(
        [[name, f"{c['precision']:.3f}", f"{c['recall']:.3f}", f"{c['f1']:.3f}", c["support"]]
         for name, c in metrics["pooled"]["per_class"].items()],
        headers=["class", "precision", "recall", "F1", "support"], tablefmt="github", disable_numparse=True)
    classes = metrics["classes"]
    confusion = tabulate([[f"true {c}"] + row for c, row in zip(classes, metrics["pooled"]["confusion_matrix"])],
                         headers=[""] + [f"pred {c}" for c in classes], tablefmt="github")
    fold = metrics["fold_mean"]
    return (f"{summary}\n\n{per_class}\n\n{confusion}\n\n"
            f"fold-mean accuracy (not pooled): {100 * fold['accuracy']:.2f} ± {100 * fold['accuracy_std']:.2f} "
            f"over {fold['folds']} folds")
