"""Comparison tables from saved results: pandas for the numbers, tabulate for the text.

A *configuration* is every run of one (model, dataset, config hash): its seeds. Tables group
configurations by (dataset, evaluated samples, protocol and its options, selection), the only rows
whose figures are comparable; a publication's figures appear in one table per (dataset, protocol).
Each figure is the mean over seeds with a 95 % subject-level bootstrap interval
(:mod:`mebench.statistics`), computed from ``predictions.csv`` so that runs written before
intervals existed get them too. In each table the configuration with the best UF1 is marked, and
so is every configuration not significantly different from it (paired subject-level bootstrap
of ΔUF1, Holm-adjusted, α = 0.05).
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any, Iterable, NamedTuple, Sequence

import numpy as np
import pandas as pd
from tabulate import tabulate

from mebench.data import DataError, ModelSpec, ReportedFigures, options_text
from mebench.preprocessing import config_hash as digest
from mebench.results import load_results
from mebench.statistics import (DEFAULT_LEVEL, DEFAULT_RESAMPLES, METRIC_NAMES, EncodedPredictions, encode,
                                holm_adjust, mcnemar_exact, paired_bootstrap, subject_bootstrap)

ALL = "all"  #: scope name of the whole task (the composite, or the single dataset)
METRIC_LABELS = {"accuracy": "accuracy", "uf1": "UF1", "uar": "UAR"}
METRIC_CHOICES = ("accuracy", "uf1", "uar", "per-dataset")
COMPOSITE_DEFAULT_METRICS = ("uf1", "uar", "per-dataset")  # the MEGC2019 layout
SINGLE_DEFAULT_METRICS = ("accuracy", "uf1", "uar")
RANKING_METRIC = "uf1"
ALPHA = 0.05
BEST_MARK, TIED_MARK, LEAKY_MARK = "★ best", "≈ best", "LEAKY"
LEAKY_SELECTIONS = {"test-oracle"}
SELECTION_TEXT = {
    "fixed": "fixed epoch budget, no model selection on the test fold",
    "inner-val": "early stopping on validation subjects carved from the training side, never the test fold",
    "test-oracle": "LEAKY: the epoch was chosen on the test fold (reproduces a common inflation; not a valid estimate)",
}
METRIC_DEFINITIONS = ("accuracy = correct / total; UF1 = mean per-class F1 over the classes present in truth or "
                      "predictions; UAR = mean per-class recall over the classes present in the truth; all pooled "
                      "over every fold's predictions")
SEEDS_RULE = ("several seeds: every resample draws subjects once, applies that draw to each seed and averages the "
              "seeds' metrics, so a figure is the mean over seeds and its interval is the subject-sampling "
              "uncertainty of that mean (seed-to-seed spread: 'UF1 seed sd')")


def _load_runs(results_dir: Path, skipped: list[tuple[str, str]]) -> list[dict[str, Any]]:
    found: list = []
    runs = load_results(results_dir, skipped=found)
    skipped.extend((str(folder), reason) for folder, reason in found)
    return runs


def read_predictions(run: dict[str, Any]) -> pd.DataFrame:
    """A run's ``predictions.csv``, sorted by sample id; a missing file or column is a DataError."""
    path = Path(run["path"]) / "predictions.csv"
    try:
        frame = pd.read_csv(path, dtype={"sample_id": str, "subject": str, "dataset": str})
    except (OSError, pd.errors.ParserError, pd.errors.EmptyDataError) as error:
        raise DataError(path, f"cannot be read ({error.__class__.__name__})", "re-run this configuration with --force")
    missing = {"sample_id", "dataset", "subject", "true_label", "predicted_label"} - set(frame.columns)
    if missing:
        raise DataError(path, f"lacks the columns {sorted(missing)}", "re-run this configuration with --force")
    return frame.sort_values("sample_id").reset_index(drop=True)


@dataclass
class Configuration:
    """Every seed of one (model, dataset, config hash), predictions aligned by sample id."""

    model: str
    dataset: str
    config_hash: str
    runs: list[dict[str, Any]]
    predictions: list[pd.DataFrame]
    classes: tuple[str, ...]
    _stats: dict = field(default_factory=dict, repr=False)

    @property
    def first(self) -> dict[str, Any]:
        return self.runs[0]

    @property
    def label(self) -> str:
        return f"{self.model} ({self.first['run_id'].rsplit('__seed', 1)[0]})"

    @property
    def protocol(self) -> str:
        return str(self.first["config"].get("protocol", "loso"))

    @property
    def selection(self) -> str:
        return str(self.first["config"].get("selection", "fixed"))

    @property
    def protocol_options(self) -> dict[str, Any]:
        return dict(self.first["config"].get("protocol_options") or {})

    @property
    def dataset_options(self) -> dict[str, Any]:
        return dict(self.first["config"].get("dataset_options") or {})

    @cached_property
    def samples_key(self) -> str:
        """A digest of the evaluated samples (ids, true labels, subjects): what the rows of one table,
        and any two configurations compared, must share."""
        frame = self.predictions[0]
        return digest([frame[column].tolist() for column in ("sample_id", "true_label", "subject")])

    @property
    def seeds(self) -> list[int]:
        return [int(run["seed"]) for run in self.runs]

    @property
    def sample_ids(self) -> np.ndarray:
        return self.predictions[0]["sample_id"].to_numpy()

    @property
    def scopes(self) -> list[str]:
        """``all``, then each source dataset of a composite."""
        datasets = sorted(self.predictions[0]["dataset"].unique())
        return [ALL] + (datasets if len(datasets) > 1 else [])

    def encoded(self, scope: str = ALL) -> EncodedPredictions:
        frame = self.predictions[0]
        mask = np.ones(len(frame), bool) if scope == ALL else (frame["dataset"] == scope).to_numpy()
        return encode(frame["true_label"][mask], np.stack([p["predicted_label"].to_numpy()[mask] for p in self.predictions]),
                      frame["subject"][mask], self.classes)

    def statistics(self, scope: str = ALL) -> dict[str, Any]:
        """Seed-averaged figures with 95 % subject-level bootstrap intervals (cached)."""
        if scope not in self._stats:
            self._stats[scope] = subject_bootstrap(self.encoded(scope))
        return self._stats[scope]

    def seed_sd(self, metric: str, scope: str = ALL) -> float | None:
        if len(self.runs) < 2:
            return None
        values = [run["metrics"]["pooled" if scope == ALL else "per_dataset"] for run in self.runs]
        values = [(block if scope == ALL else block[scope])[metric] for block in values]
        return float(np.std(values, ddof=1))


def load_configurations(results_dir: Path, skipped: list[tuple[str, str]] | None = None) -> list[Configuration]:
    """Complete runs under ``results_dir`` grouped into configurations. Runs that cannot be used
    are appended to ``skipped`` as (folder, reason) and left out."""
    skipped = [] if skipped is None else skipped
    grouped: dict[tuple[str, str, str], list[tuple[dict, pd.DataFrame]]] = {}
    for run in _load_runs(Path(results_dir), skipped):
        try:
            frame = read_predictions(run)
        except DataError as error:
            skipped.append((run["path"], str(error)))
            continue
        grouped.setdefault((run["model"], run["dataset"], run["config_hash"]), []).append((run, frame))
    configurations = []
    for (model, dataset, config_hash), members in grouped.items():
        members.sort(key=lambda member: member[0]["seed"])
        reference_run, reference = members[0]
        kept = [members[0]]
        for run, frame in members[1:]:
            if not (np.array_equal(frame["sample_id"], reference["sample_id"])
                    and np.array_equal(frame["true_label"], reference["true_label"])):
                skipped.append((run["path"], f"its samples differ from {reference_run['path']} of the same configuration"))
                continue
            kept.append((run, frame))
        classes = tuple(reference_run["metrics"].get("classes") or reference_run["config"].get("classes"))
        configurations.append(Configuration(model, dataset, config_hash, [r for r, _ in kept], [f for _, f in kept],
                                            classes))
    return configurations


def results_frame(runs: Iterable[dict[str, Any]]) -> pd.DataFrame:
    """One row per run (seed) with its pooled figures, as recorded in metrics.json."""
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


# --- significance ---------------------------------------------------------------------------------

@dataclass(frozen=True)
class Verdict:
    """A configuration against the best of its table: ``mark`` is ★ best, ≈ best or empty;
    ``p`` the Holm-adjusted p-value of ΔUF1 (None for the best and for rows not comparable)."""

    mark: str
    p: float | None
    comparable: bool = True


def significance_marks(configurations: Sequence[Configuration], alpha: float = ALPHA) -> dict[int, Verdict]:
    """Verdicts keyed by position in ``configurations`` (one table's measured rows)."""
    if not configurations:
        return {}
    scores = [c.statistics()["estimate"][RANKING_METRIC] for c in configurations]
    best = int(np.argmax(scores))
    verdicts = {best: Verdict(BEST_MARK, None)}
    comparable = [i for i, c in enumerate(configurations) if i != best and _same_samples(c, configurations[best])]
    raw = [paired_bootstrap(configurations[best].encoded(), configurations[i].encoded())[RANKING_METRIC]["p"]
           for i in comparable]
    for i, p in zip(comparable, holm_adjust(raw)):
        verdicts[i] = Verdict(TIED_MARK if p > alpha else "", float(p))
    for i in range(len(configurations)):
        verdicts.setdefault(i, Verdict("", None, comparable=False))
    return verdicts


def _same_samples(first: Configuration, second: Configuration) -> bool:
    return first.samples_key == second.samples_key and first.classes == second.classes


# --- tables ---------------------------------------------------------------------------------------

@dataclass
class LeaderboardTable:
    """One comparable group: a display table, the same rows as numbers, and the footer."""

    dataset: str
    protocol: str
    selection: str
    display: pd.DataFrame
    numbers: pd.DataFrame
    footer: list[str]
    configurations: list[Configuration]
    protocol_options: str = ""  # e.g. "target=smic"; part of what makes rows comparable
    qualifier: str = ""  # tells apart tables of one dataset on different samples, e.g. "preset=start"

    @property
    def title(self) -> str:
        selection = f"{self.selection} selection" + (" — LEAKY" if self.selection in LEAKY_SELECTIONS else "")
        dataset = self.dataset + (f" ({self.qualifier})" if self.qualifier else "")
        protocol = self.protocol.upper() + (f" ({self.protocol_options})" if self.protocol_options else "")
        return f"{dataset} — {protocol}, {selection}"

    @property
    def stem(self) -> str:
        """A file-name stem unique to the table."""
        return "__".join(filter(None, [self.dataset, self.qualifier, self.protocol, self.protocol_options,
                                       self.selection]))


def format_interval(value: float | None, interval: Sequence[float] | None = None) -> str:
    """``0.712 [0.664, 0.759]``; an empty string for a missing value."""
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return ""
    return f"{value:.3f}" + (f" [{interval[0]:.3f}, {interval[1]:.3f}]" if interval is not None else "")


def resolve_metrics(metrics: Sequence[str] | None, composite: bool) -> tuple[list[str], bool]:
    """(base metrics shown for the whole task, whether per-dataset columns are shown)."""
    chosen = list(metrics) if metrics else list(COMPOSITE_DEFAULT_METRICS if composite else SINGLE_DEFAULT_METRICS)
    unknown = [m for m in chosen if m not in METRIC_CHOICES]
    if unknown:
        raise ValueError(f"unknown metric {unknown[0]!r}; choose from {', '.join(METRIC_CHOICES)}")
    base = [m for m in METRIC_NAMES if m in chosen] or ["uf1", "uar"]  # "per-dataset" alone: UF1/UAR as MEGC prints
    return base, "per-dataset" in chosen and composite


def _measured_row(configuration: Configuration, verdict: Verdict, scopes: list[str], base: list[str],
                  per_dataset: bool) -> tuple[dict, dict]:
    first = configuration.first
    leaky = configuration.selection in LEAKY_SELECTIONS
    mark = " ".join(part for part in (LEAKY_MARK if leaky else "", verdict.mark) if part)
    display = {"model": configuration.model, "mark": mark, "source": "measured", "seeds": len(configuration.runs),
               "epochs": int(first["config"]["epochs"])}
    numbers = {"model": configuration.model, "dataset": configuration.dataset, "source": "measured",
               "seeds": len(configuration.runs)}
    for scope in scopes:
        if scope != ALL and not per_dataset:
            continue
        stats = configuration.statistics(scope) if scope in configuration.scopes else None
        for metric in base:
            column = METRIC_LABELS[metric] if scope == ALL else f"{scope} {METRIC_LABELS[metric]}"
            display[column] = format_interval(stats["estimate"][metric], stats[metric]) if stats else ""
    for scope in configuration.scopes:
        stats = configuration.statistics(scope)
        prefix = "" if scope == ALL else f"{scope}_"
        for metric in METRIC_NAMES:
            numbers[f"{prefix}{metric}"] = stats["estimate"][metric]
            numbers[f"{prefix}{metric}_ci_low"], numbers[f"{prefix}{metric}_ci_high"] = stats[metric]
    seed_sd = configuration.seed_sd(RANKING_METRIC)
    display["UF1 seed sd"] = f"{seed_sd:.3f}" if seed_sd is not None else ""
    display["p vs best (Holm)"] = (f"{verdict.p:.3f}" if verdict.p is not None else
                                   "" if verdict.comparable else "— (other samples)")
    timing = [run["timing"] for run in configuration.runs]
    display.update({
        "params": f"{int(first['parameters']):,}",
        "train s/fold": f"{np.mean([t['train_seconds_per_fold_mean'] for t in timing]):.1f}",
        "fps": f"{np.mean([t['inference_fps'] for t in timing]):.0f}",
        "device": first["environment"]["device"],
    })
    numbers.update({
        "uf1_seed_sd": seed_sd, "mark": mark, "p_vs_best_holm": verdict.p, "protocol": configuration.protocol,
        "selection": configuration.selection, "epochs": int(first["config"]["epochs"]),
        "params": int(first["parameters"]),
        "train_s_per_fold": float(np.mean([t["train_seconds_per_fold_mean"] for t in timing])),
        "fps": float(np.mean([t["inference_fps"] for t in timing])), "device": first["environment"]["device"],
        "run_ids": " ".join(run["run_id"] for run in configuration.runs),
    })
    return display, numbers


def _reported_row(name: str, figures: ReportedFigures, scopes: list[str], base: list[str], per_dataset: bool,
                  dataset: str) -> tuple[dict, dict]:
    display = {"model": name, "mark": "", "source": f"reported: {figures.source}", "seeds": "", "epochs": ""}
    numbers = {"model": name, "dataset": dataset, "source": "reported", "seeds": None}
    for scope in scopes:
        block = ({m: getattr(figures, m) for m in METRIC_NAMES} if scope == ALL
                 else dict(figures.per_dataset.get(scope, {})))
        for metric in METRIC_NAMES:
            value = block.get(metric)
            numbers[metric if scope == ALL else f"{scope}_{metric}"] = value
            if metric in base and (scope == ALL or per_dataset):
                column = METRIC_LABELS[metric] if scope == ALL else f"{scope} {METRIC_LABELS[metric]}"
                display[column] = format_interval(value)
    display.update({"UF1 seed sd": "", "p vs best (Holm)": "",
                    "params": f"{figures.parameters:,}" if figures.parameters else "",
                    "train s/fold": f"{figures.train_s_per_subject:g}" if figures.train_s_per_subject else "",
                    "fps": f"{figures.fps:g}" if figures.fps else "", "device": figures.device or "paper"})
    numbers.update({"protocol": figures.protocol, "selection": figures.selection, "params": figures.parameters,
                    "train_s_per_fold": figures.train_s_per_subject, "fps": figures.fps, "device": figures.device,
                    "reported_source": figures.source})
    return display, numbers


def reported_figures(specs: Iterable[ModelSpec]) -> list[tuple[str, ReportedFigures]]:
    """(model name, figures) for every publication figure on the given model cards."""
    return [(spec.name, figures) for spec in specs for figures in spec.reported if isinstance(figures, ReportedFigures)]


def _footer(configurations: list[Configuration], protocol: str, selection: str, has_reported: bool,
            per_dataset: bool) -> list[str]:
    epochs = sorted({int(c.first["config"]["epochs"]) for c in configurations})
    folds = sorted({int(c.first.get("n_folds", 0)) for c in configurations})
    subjects = sorted({c.statistics()["groups"] for c in configurations})
    lines = []
    if configurations:
        lines.append(f"Protocol: {protocol.upper()} ({', '.join(map(str, folds))} folds), "
                     f"{'/'.join(map(str, epochs))} epochs per fold; {SELECTION_TEXT.get(selection, selection)}.")
    lines.append(f"Metrics: {METRIC_DEFINITIONS}" + ("; per-dataset columns score each source dataset's samples "
                                                      "of the same composite run" if per_dataset else "") + ".")
    if configurations:
        lines.append(f"[low, high]: {int(DEFAULT_LEVEL * 100)} % subject-level cluster bootstrap percentile "
                     f"interval, {DEFAULT_RESAMPLES:,} resamples of the {'/'.join(map(str, subjects))} subjects "
                     f"(per-dataset: of that dataset's subjects), seed 0; {SEEDS_RULE}.")
        lines.append(f"{BEST_MARK}: highest UF1. {TIED_MARK}: not significantly different from it — paired "
                     f"subject-level bootstrap of ΔUF1 on the same resamples, two-sided, Holm-adjusted over the "
                     f"comparisons with the best, α = {ALPHA}.")
    if has_reported:
        lines.append("reported: the cited source's own figures (not run here); not part of the significance test.")
    return lines


class TableKey(NamedTuple):
    """What the rows of one table share."""

    dataset: str
    protocol: str
    protocol_options: str  # options_text of the protocol's options
    selection: str
    samples: str  # Configuration.samples_key ("" for a table of reported figures only)


def leaderboard_tables(configurations: Sequence[Configuration], reported: Iterable[tuple[str, ReportedFigures]] = (),
                       metrics: Sequence[str] | None = None, dataset: str | None = None) -> list[LeaderboardTable]:
    """One table per (dataset and its samples, protocol and its options, selection) — rows of one
    table are scored on the same samples —, measured rows by UF1 then reported rows.
    ``metrics`` picks columns among accuracy, uf1, uar, per-dataset (default: the MEGC2019 layout
    — UF1, UAR, per-dataset UF1/UAR — for composites, accuracy/UF1/UAR otherwise); ``dataset`` filters."""
    groups: dict[TableKey, list[Configuration]] = {}
    for configuration in configurations:
        if dataset is None or configuration.dataset == dataset:
            key = TableKey(configuration.dataset, configuration.protocol, options_text(configuration.protocol_options),
                           configuration.selection, configuration.samples_key)
            groups.setdefault(key, []).append(configuration)
    reported = [(name, f) for name, f in reported if dataset is None or f.dataset == dataset]
    for _, figures in reported:
        if not any(key.dataset == figures.dataset and key.protocol == figures.protocol for key in groups):
            groups.setdefault(TableKey(figures.dataset, figures.protocol, "", "fixed", ""), [])
    qualifiers = _sample_set_qualifiers(groups)
    homes = _reported_homes(groups)
    tables = []
    for key, members in sorted(groups.items(), key=lambda item: (*item[0][:4], qualifiers[item[0]])):
        name, protocol, protocol_options, selection = key.dataset, key.protocol, key.protocol_options, key.selection
        members = sorted(members, key=lambda c: -c.statistics()["estimate"][RANKING_METRIC])
        own_reported = [(m, f) for m, f in reported
                        if key in homes and f.dataset == name and f.protocol == protocol]
        scopes = sorted({s for c in members for s in c.scopes} - {ALL})
        scopes += sorted({s for _, f in own_reported for s in f.per_dataset} - set(scopes))
        scopes = [ALL] + scopes
        base, per_dataset = resolve_metrics(metrics, composite=len(scopes) > 1)
        verdicts = significance_marks(members)
        rows = [_measured_row(c, verdicts[i], scopes, base, per_dataset) for i, c in enumerate(members)]
        rows += [_reported_row(m, f, scopes, base, per_dataset, name) for m, f in own_reported]
        display = pd.DataFrame([r[0] for r in rows])
        numbers = pd.DataFrame([r[1] for r in rows])
        footer = _footer(members, protocol, selection, bool(own_reported), per_dataset)
        tables.append(LeaderboardTable(name, protocol, selection, display, numbers, footer, members,
                                       protocol_options, qualifiers[key]))
    return tables


def _sample_set_qualifiers(groups: dict[TableKey, list[Configuration]]) -> dict[TableKey, str]:
    """For tables of one (dataset, protocol, options, selection) on different samples: the dataset
    options that differ between them (else a digest of the samples); empty where there is one table."""
    qualifiers = {key: "" for key in groups}
    siblings: dict[tuple, list[TableKey]] = {}
    for key in groups:
        siblings.setdefault(key[:4], []).append(key)  # all but the samples
    for keys in siblings.values():
        if len(keys) < 2:
            continue
        options = {key: groups[key][0].dataset_options if groups[key] else {} for key in keys}
        differing = sorted({name for o in options.values() for name in o
                            if len({repr(other.get(name)) for other in options.values()}) > 1})
        texts = {key: ", ".join(f"{name}={options[key].get(name)}" for name in differing) for key in keys}
        for key in keys:
            repeated = sum(text == texts[key] for text in texts.values()) > 1
            qualifiers[key] = ", ".join(filter(None, [texts[key], f"samples {key.samples[:8]}" if repeated else ""]))
    return qualifiers


def _reported_homes(groups: dict[TableKey, list[Configuration]]) -> set[TableKey]:
    """The one table per (dataset, protocol) that shows the publications' figures: fixed selection,
    no protocol options, the most samples — the closest to the full task they were reported on."""
    homes: dict[tuple[str, str], TableKey] = {}
    for key in sorted(groups, key=lambda k: (k.selection != "fixed", k.protocol_options != "",
                                             -max((len(c.sample_ids) for c in groups[k]), default=0), k)):
        homes.setdefault((key.dataset, key.protocol), key)
    return set(homes.values())


def render_tables(tables: Sequence[LeaderboardTable], fmt: str = "markdown") -> str:
    """Markdown: a heading, the table and its footer per group. CSV: one row per configuration."""
    if fmt == "csv":
        frames = [t.numbers for t in tables if not t.numbers.empty]
        return pd.concat(frames, ignore_index=True).to_csv(index=False) if frames else ""
    if fmt != "markdown":
        raise ValueError(f"format must be markdown or csv, got {fmt!r}")
    if not tables:
        return "(no results)"
    sections = []
    for table in tables:
        text = tabulate(table.display, headers="keys", tablefmt="github", showindex=False, disable_numparse=True)
        footer = "\n".join(f"- {line}" for line in table.footer)
        sections.append(f"### {table.title}\n\n{text}\n\n{footer}")
    return "\n\n".join(sections)


def results_leaderboard(results_dir: Path, reported: Iterable[ModelSpec] = (), fmt: str = "markdown",
                        metrics: Sequence[str] | None = None, dataset: str | None = None,
                        skipped: list[tuple[str, str]] | None = None) -> str:
    """The leaderboard of every complete run under ``results_dir``; unusable runs go to ``skipped``."""
    configurations = load_configurations(results_dir, skipped)
    return render_tables(leaderboard_tables(configurations, reported_figures(reported), metrics, dataset), fmt)


# --- resolving and comparing ----------------------------------------------------------------------

class ResolveError(ValueError):
    """A run reference that names nothing, or more than one configuration."""


def resolve_configuration(reference: str, configurations: Sequence[Configuration], dataset: str | None = None
                          ) -> Configuration:
    """A run id, a run folder, or a model name (all its seeds; ``dataset`` narrows it down)."""
    path = Path(reference).resolve()
    for configuration in configurations:
        for run, frame in zip(configuration.runs, configuration.predictions):
            if reference == run["run_id"] or (path.is_dir() and Path(run["path"]).resolve() == path):
                return Configuration(configuration.model, configuration.dataset, configuration.config_hash,
                                     [run], [frame], configuration.classes)
    matches = [c for c in configurations if c.model == reference and (dataset is None or c.dataset == dataset)]
    if len(matches) == 1:
        return matches[0]
    if matches:
        options = ", ".join(c.first["run_id"] for c in matches)
        raise ResolveError(f"{reference!r} names {len(matches)} configurations ({options}); "
                           f"pass a run id or --dataset")
    names = sorted({c.model for c in configurations} | {r["run_id"] for c in configurations for r in c.runs})
    close = difflib.get_close_matches(reference, names, n=3)
    hint = f"; did you mean {', '.join(close)}?" if close else "; `mebench leaderboard` lists the runs"
    raise ResolveError(f"no run, run folder or model {reference!r} in the results{hint}")


def check_comparable(first: Configuration, second: Configuration) -> None:
    """Refuse (ValueError, one line) two configurations that are not on the same task and samples."""
    if first.dataset != second.dataset:
        raise ValueError(f"different datasets: {first.label} is on {first.dataset!r}, {second.label} on "
                         f"{second.dataset!r}; a paired comparison needs the same samples")
    if not _same_samples(first, second):
        only_first = len(set(first.sample_ids) - set(second.sample_ids))
        only_second = len(set(second.sample_ids) - set(first.sample_ids))
        raise ValueError(f"different sample sets: {only_first} samples only in {first.label}, {only_second} only in "
                         f"{second.label} (or different labels/subjects); compare runs of the same dataset version")


def compare_configurations(first: Configuration, second: Configuration) -> dict[str, Any]:
    """Paired figures of first − second: per scope the paired bootstrap (Δ, CI, p per metric), and
    McNemar's exact test per seed pair (seeds matched by number, else by order)."""
    check_comparable(first, second)
    scopes = {scope: paired_bootstrap(first.encoded(scope), second.encoded(scope)) for scope in first.scopes}
    common = sorted(set(first.seeds) & set(second.seeds))
    pairs = ([(first.seeds.index(s), second.seeds.index(s)) for s in common] if common
             else list(zip(range(len(first.runs)), range(len(second.runs)))))
    mcnemar = []
    for i, j in pairs:
        a, b = first.predictions[i], second.predictions[j]
        test = mcnemar_exact(a["predicted_label"] == a["true_label"], b["predicted_label"] == b["true_label"])
        mcnemar.append({"first_seed": first.seeds[i], "second_seed": second.seeds[j], "only_first": test.only_first,
                        "only_second": test.only_second, "p": test.p})
    return {"first": first, "second": second, "scopes": scopes, "mcnemar": mcnemar}


def render_comparison(comparison: dict[str, Any]) -> str:
    first, second = comparison["first"], comparison["second"]
    rows = []
    for scope, result in comparison["scopes"].items():
        first_stats, second_stats = first.statistics(scope), second.statistics(scope)
        for metric in METRIC_NAMES:
            figures = result[metric]
            rows.append([scope, METRIC_LABELS[metric], f"{first_stats['estimate'][metric]:.3f}",
                         f"{second_stats['estimate'][metric]:.3f}", f"{figures['delta']:+.3f}",
                         f"[{figures['ci'][0]:+.3f}, {figures['ci'][1]:+.3f}]", f"{figures['p']:.3f}"])
    table = tabulate(rows, headers=["scope", "metric", "A", "B", "Δ (A − B)", "95 % CI", "p"], tablefmt="github",
                     disable_numparse=True)
    n = len(first.sample_ids)
    lines = [f"A: {first.label}, seeds {first.seeds}", f"B: {second.label}, seeds {second.seeds}",
             f"{first.dataset}: {n} samples, {first.statistics()['groups']} subjects (paired by sample id)", "", table, ""]
    for test in comparison["mcnemar"]:
        lines.append(f"McNemar exact (seed {test['first_seed']} vs {test['second_seed']}): A right & B wrong "
                     f"{test['only_first']}, A wrong & B right {test['only_second']}, p = {test['p']:.3f}")
    lines.append(f"Δ, CI, p: paired subject-level cluster bootstrap, {DEFAULT_RESAMPLES:,} resamples (seed 0), both "
                 f"configurations scored on each draw, p from the centred bootstrap distribution, uncorrected for the "
                 f"several rows; {SEEDS_RULE.split(':', 1)[1].strip()}. McNemar: two-sided exact binomial on the "
                 f"discordant samples.")
    return "\n".join(lines)


def metrics_report(metrics: dict[str, Any]) -> str:
    """The table printed at the end of a run: pooled and per-dataset figures with their 95 %
    subject-level intervals where recorded, then per class."""
    sections = [("all (pooled)", metrics["pooled"])] + list(metrics.get("per_dataset", {}).items())

    def cell(block: dict, metric: str) -> str:
        ci = block.get("ci", {}).get(metric)
        return format_interval(block[metric], ci)

    summary = tabulate(
        [[name, m["n"], cell(m, "accuracy"), cell(m, "uf1"), cell(m, "uar")] for name, m in sections],
        headers=["subset", "samples", "accuracy", "UF1", "UAR"], tablefmt="github", disable_numparse=True)
    per_class = tabulate(
        [[name, f"{c['precision']:.3f}", f"{c['recall']:.3f}", f"{c['f1']:.3f}", c["support"]]
         for name, c in metrics["pooled"]["per_class"].items()],
        headers=["class", "precision", "recall", "F1", "support"], tablefmt="github", disable_numparse=True)
    classes = metrics["classes"]
    confusion = tabulate([[f"true {c}"] + row for c, row in zip(classes, metrics["pooled"]["confusion_matrix"])],
                         headers=[""] + [f"pred {c}" for c in classes], tablefmt="github")
    fold = metrics["fold_mean"]
    ci = metrics["pooled"].get("ci")
    note = (f"\n[low, high]: {int(ci['level'] * 100)} % {ci['method']}, {ci['resamples']:,} resamples of "
            f"{ci['groups']} subjects" if ci else "")
    return (f"{summary}{note}\n{chance_line(metrics['pooled'])}\n\n{per_class}\n\n{confusion}\n\n"
            f"fold-mean accuracy (not pooled): {100 * fold['accuracy']:.2f} ± {100 * fold['accuracy_std']:.2f} "
            f"over {fold['folds']} folds")


def chance_level(pooled: dict[str, Any]) -> dict[str, float]:
    """What guessing scores on these samples: the accuracy of always answering the most frequent
    class, and the expected UF1 and UAR of answering uniformly at random (UAR = 1/K; a class of
    prevalence p gets expected F1 2p(1/K)/(p + 1/K))."""
    support = np.array([c["support"] for c in pooled["per_class"].values()], dtype=float)
    present = support[support > 0]
    prevalence, k = present / present.sum(), len(present)
    return {"accuracy": float(prevalence.max()), "uf1": float(np.mean(2 * prevalence / k / (prevalence + 1 / k))),
            "uar": 1.0 / k}


def chance_line(pooled: dict[str, Any]) -> str:
    chance = chance_level(pooled)
    return (f"chance: accuracy {chance['accuracy']:.3f} (always the most frequent class), "
            f"UF1 {chance['uf1']:.3f} and UAR {chance['uar']:.3f} (uniform guessing)")
