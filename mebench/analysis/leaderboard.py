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

from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, NamedTuple, Sequence

import numpy as np
import pandas as pd
from tabulate import tabulate

from mebench.analysis.configurations import ALL, Configuration
from mebench.data import ModelSpec, ReportedFigures, options_text
from mebench.metrics import MEB_LABEL_FIGURES, format_interval, meb_label_figures
from mebench.errors import MebenchError, OptionError
from mebench.tasks import SINGLE_LABEL, TaskKind, for_kind, task_kind
from mebench.statistics import (DEFAULT_LEVEL, DEFAULT_RESAMPLES, METRIC_NAMES, SEEDS_RULE,
                                holm_adjust, paired_bootstrap)

METRIC_CHOICES = ("accuracy", "uf1", "uar", "per-dataset")
COMPOSITE_DEFAULT_METRICS = ("uf1", "uar", "per-dataset")  # the MEGC2019 layout
SINGLE_DEFAULT_METRICS = ("accuracy", "uf1", "uar")
RANKING_METRIC = SINGLE_LABEL.ranking
ALPHA = 0.05
BEST_MARK, TIED_MARK, LEAKY_MARK = "★ best", "≈ best", "LEAKY"
EXTERNAL_SOURCE, NOT_RECORDED = "external", "—"  # a configuration stored by `mebench score --as`
LEAKY_SELECTIONS = {"test-oracle"}
SELECTION_TEXT = {
    "fixed": "fixed epoch budget, no model selection on the test fold",
    "inner-val": "early stopping on validation subjects carved from the training side, never the test fold",
    "test-oracle": "LEAKY: the epoch was chosen on the test fold (reproduces a common inflation; not a valid estimate)",
}
MULTI_LABEL_CHOICES = ("macro_f1", "per-label", "per-dataset", "meb")


@dataclass(frozen=True)
class Layout:
    """What a table of one kind of task shows: every figure its statistics give (``names``), each one's
    column label, the figure that ranks the rows, and the figures a per-dataset column repeats."""

    names: tuple[str, ...]
    labels: dict[str, str]
    ranking: str
    definitions: str
    kind: TaskKind = SINGLE_LABEL

    @classmethod
    def of(cls, configurations: Sequence[Configuration], kind: TaskKind | None = None) -> "Layout":
        """The layout the task kind of ``configurations`` declares (``mebench.tasks``); ``kind`` where there are
        none (a table of publications' figures alone)."""
        kind = configurations[0].kind if configurations else kind or SINGLE_LABEL
        classes = configurations[0].classes if configurations else ()
        return cls(kind.metric_names(classes), kind.metric_labels(classes), kind.ranking, kind.definitions(), kind)

    @property
    def point_figures(self) -> tuple[str, ...]:
        """Figures shown as points, without an interval (MEB's two multi-label figures)."""
        return self.kind.point_figures

    def resolve(self, metrics: Sequence[str] | None, composite: bool) -> tuple[list[str], list[str]]:
        """(figures shown for the whole task, figures shown per source dataset) for ``--metrics``."""
        return for_kind(METRIC_RESOLVERS, self.kind)(self, metrics, composite)

    @property
    def ranking_label(self) -> str:
        return self.labels[self.ranking]


def _class_figures(layout: Layout, metrics: Sequence[str] | None, composite: bool) -> tuple[list[str], list[str]]:
    """``--metrics`` of a single-label table: accuracy, UF1, UAR, per-dataset."""
    base, per_dataset = resolve_metrics(metrics, composite)
    return base, base if per_dataset else []


def _label_figures(layout: Layout, metrics: Sequence[str] | None, composite: bool) -> tuple[list[str], list[str]]:
    """``--metrics`` of a multi-label table: macro_f1, per-label, per-dataset, meb."""
    chosen = list(metrics) if metrics else list(MULTI_LABEL_CHOICES)
    unknown = [m for m in chosen if m not in MULTI_LABEL_CHOICES]
    if unknown:
        raise OptionError(f"--metrics: unknown metric {unknown[0]!r} for a multi-label task; choose from "
                          f"{', '.join(MULTI_LABEL_CHOICES)}")
    points = list(layout.point_figures) if "meb" in chosen else []
    base = [layout.ranking] + (list(layout.names[1:]) if "per-label" in chosen else []) + points
    return base, [layout.ranking] + points if "per-dataset" in chosen and composite else []


def _interval_figures(layout: Layout, metrics: Sequence[str] | None, composite: bool) -> tuple[list[str], list[str]]:
    """``--metrics`` of a spotting table: F1 overall, ME F1, MaE F1 (``--metrics`` names any of them)."""
    chosen = list(metrics) if metrics else list(layout.names)
    unknown = [m for m in chosen if m not in layout.names]
    if unknown:
        raise OptionError(f"--metrics: unknown metric {unknown[0]!r} for a spotting task; choose from "
                          f"{', '.join(layout.names)}")
    base = [m for m in layout.names if m in chosen]
    return base, base if composite else []


#: How ``--metrics`` picks a table's columns, per task kind.
METRIC_RESOLVERS = {"single-label": _class_figures, "multi-label": _label_figures, "intervals": _interval_figures}


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
    ranking = Layout.of(configurations).ranking
    scores = [c.statistics()["estimate"][ranking] for c in configurations]
    best = int(np.argmax(scores))
    verdicts = {best: Verdict(BEST_MARK, None)}
    comparable = [i for i, c in enumerate(configurations) if i != best and c.same_samples(configurations[best])]
    raw = [paired_bootstrap(configurations[best].encoded(), configurations[i].encoded())[ranking]["p"]
           for i in comparable]
    for i, p in zip(comparable, holm_adjust(raw)):
        verdicts[i] = Verdict(TIED_MARK if p > alpha else "", float(p))
    for i in range(len(configurations)):
        verdicts.setdefault(i, Verdict("", None, comparable=False))
    return verdicts


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
    layout: Layout | None = None  # the figures of the table's task (single- or multi-label)

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


def resolve_metrics(metrics: Sequence[str] | None, composite: bool) -> tuple[list[str], bool]:
    """(base metrics shown for the whole task, whether per-dataset columns are shown)."""
    chosen = list(metrics) if metrics else list(COMPOSITE_DEFAULT_METRICS if composite else SINGLE_DEFAULT_METRICS)
    unknown = [m for m in chosen if m not in METRIC_CHOICES]
    if unknown:
        raise OptionError(f"--metrics: unknown metric {unknown[0]!r}; choose from {', '.join(METRIC_CHOICES)}")
    base = [m for m in METRIC_NAMES if m in chosen] or ["uf1", "uar"]  # "per-dataset" alone: UF1/UAR as MEGC prints
    return base, "per-dataset" in chosen and composite


def _measured_row(configuration: Configuration, verdict: Verdict, scopes: list[str], base: list[str],
                  per_dataset: list[str], layout: Layout) -> tuple[dict, dict]:
    first = configuration.first
    leaky = configuration.selection in LEAKY_SELECTIONS
    mark = " ".join(part for part in (LEAKY_MARK if leaky else "", verdict.mark) if part)
    source = EXTERNAL_SOURCE if first.external else "measured"
    display = {"model": configuration.model, **row_values(configuration.protocol_options, layout),
               "mark": mark, "source": source, "seeds": len(configuration.runs),
               "epochs": NOT_RECORDED if first.external else ("fitted" if first.learner == "estimator" else "—")
               if first.fitted else first.epochs}
    numbers = {"model": configuration.model, **row_values(configuration.protocol_options, layout, missing=None),
               "dataset": configuration.dataset, "source": source, "seeds": len(configuration.runs)}
    for scope in scopes:
        stats = configuration.statistics(scope) if scope in configuration.scopes else None
        for metric in base if scope == ALL else per_dataset:
            column = layout.labels[metric] if scope == ALL else f"{scope} {layout.labels[metric]}"
            if metric in layout.point_figures:
                display[column] = format_interval(meb_figures(configuration, scope)[metric]) if stats else ""
                continue
            display[column] = format_interval(stats["estimate"][metric], stats[metric]) if stats else ""
    for scope in configuration.scopes:
        stats = configuration.statistics(scope)
        prefix = "" if scope == ALL else f"{scope}_"
        for metric in layout.names:
            numbers[f"{prefix}{metric}"] = stats["estimate"][metric]
            numbers[f"{prefix}{metric}_ci_low"], numbers[f"{prefix}{metric}_ci_high"] = stats[metric]
        if layout.point_figures:
            numbers.update({f"{prefix}{name}": value for name, value in meb_figures(configuration, scope).items()})
    seed_sd = configuration.seed_sd(layout.ranking)
    display[f"{layout.ranking_label} seed sd"] = f"{seed_sd:.3f}" if seed_sd is not None else ""
    display["p vs best (Holm)"] = (f"{verdict.p:.3f}" if verdict.p is not None else
                                   "" if verdict.comparable else "— (other samples)")
    if first.external:  # predictions made elsewhere: nothing trained, timed or counted here
        train_seconds = fps = None
        display.update({"params": NOT_RECORDED, "train s/fold": NOT_RECORDED, "fps": NOT_RECORDED,
                        "device": NOT_RECORDED})
    else:
        train_seconds, fps = configuration.mean_timing()
        display.update({"params": f"{first.parameters:,}", "train s/fold": f"{train_seconds:.1f}",
                        "fps": f"{fps:.0f}", "device": first.device})
    numbers.update({
        f"{layout.ranking}_seed_sd": seed_sd, "mark": mark, "p_vs_best_holm": verdict.p, "protocol": configuration.protocol,
        "selection": configuration.selection, "epochs": None if first.fitted or first.external else first.epochs,
        "params": None if first.external else first.parameters,
        "train_s_per_fold": train_seconds, "fps": fps, "device": first.device,
        "run_ids": " ".join(run.run_id for run in configuration.runs),
    })
    display[PRETRAINED_COLUMN] = pretrained_on(first.pretrained)
    if first.pretrained:
        numbers.update(pretrained_on=display[PRETRAINED_COLUMN], pretrained_sha256=first.pretrained.get("sha256"))
    return display, numbers


def row_values(protocol_options: dict, layout: Layout, missing: str | None = NOT_RECORDED) -> dict:
    """The columns of the protocol options the task kind shows per row (STR's recogniser): the option's value,
    ``missing`` where the row has none."""
    values = {name: protocol_options.get(name) for name, _ in layout.kind.row_options}
    return {name: missing if value is None else value for name, value in values.items()}


def table_options(configuration: Configuration) -> str:
    """The protocol options that split tables: all but those the task kind shows per row."""
    row_options = {name for name, _ in configuration.kind.row_options}
    return options_text({k: v for k, v in configuration.protocol_options.items() if k not in row_options})


#: The column naming each row's starting weights, shown where a row of the table has some.
PRETRAINED_COLUMN = "pretrained on"


def pretrained_on(record: dict) -> str:
    """A run's starting weights in a table cell: their source and the start of the file's SHA-256 digest."""
    if not record:
        return ""
    return record.get("source", "") + (f" (sha256 {record['sha256'][:12]})" if record.get("sha256") else "")


def _pretrained_column(display: pd.DataFrame) -> pd.DataFrame:
    """``display`` without the pretrained column where no row has starting weights (reported rows: blank)."""
    if PRETRAINED_COLUMN not in display:
        return display
    display[PRETRAINED_COLUMN] = display[PRETRAINED_COLUMN].fillna("")
    return display if display[PRETRAINED_COLUMN].any() else display.drop(columns=[PRETRAINED_COLUMN])


def meb_figures(configuration: Configuration, scope: str = ALL) -> dict[str, float]:
    """MEB's two figures of a multi-label configuration on ``scope`` (``meb_label_figures``), the mean over its
    seeds, from the predictions."""
    encoded = configuration.encoded(scope)
    figures = [meb_label_figures(encoded.truth, predicted) for predicted in encoded.predicted]
    return {name: float(np.mean([f[name] for f in figures])) for name in MEB_LABEL_FIGURES}


def _reported_row(name: str, figures: ReportedFigures, scopes: list[str], base: list[str], per_dataset: list[str],
                  dataset: str, layout: Layout) -> tuple[dict, dict]:
    display = {"model": name, **row_values({}, layout, missing=""), "mark": "", "source": f"reported: {figures.source}",
               "seeds": "", "epochs": ""}
    numbers = {"model": name, **row_values({}, layout, missing=None), "dataset": dataset, "source": "reported",
               "seeds": None}
    for scope in scopes:
        block = ({m: figures.value(m) for m in layout.names} if scope == ALL
                 else dict(figures.per_dataset.get(scope, {})))
        for metric in layout.names:
            value = block.get(metric)
            numbers[metric if scope == ALL else f"{scope}_{metric}"] = value
            if metric in (base if scope == ALL else per_dataset):
                column = layout.labels[metric] if scope == ALL else f"{scope} {layout.labels[metric]}"
                display[column] = format_interval(value)
    display.update({f"{layout.ranking_label} seed sd": "", "p vs best (Holm)": "",
                    "params": f"{figures.parameters:,}" if figures.parameters else "",
                    "train s/fold": f"{figures.train_s_per_subject:g}" if figures.train_s_per_subject else "",
                    "fps": f"{figures.fps:g}" if figures.fps else "", "device": figures.device or "paper"})
    numbers.update({"protocol": figures.protocol, "selection": figures.selection, "params": figures.parameters,
                    "train_s_per_fold": figures.train_s_per_subject, "fps": figures.fps, "device": figures.device,
                    "reported_source": figures.source})
    return display, numbers


def reported_figures(specs: Iterable[ModelSpec]) -> list[tuple[str, ReportedFigures]]:
    """(model name, figures) for every publication figure on the given model cards; figures a source gives
    under its own name (``ReportedFigures.model``, e.g. one row for several variants) once, under that name."""
    listed: list[tuple[str, ReportedFigures]] = []
    for spec in specs:
        for figures in spec.reported:
            if (figures.model or spec.name, figures) not in listed:
                listed.append((figures.model or spec.name, figures))
    return listed


def seeds_rule(column: str | None) -> str:
    """How several seeds combine, naming the column that shows their spread (``None``: the output has none)."""
    rule = SEEDS_RULE.split(" (seed-to-seed spread", 1)[0]
    return rule + (f" (seed-to-seed spread: '{column}')" if column else "")


def _footer(configurations: list[Configuration], protocol: str, selection: str, has_reported: bool,
            per_dataset: bool, layout: Layout) -> list[str]:
    epochs = sorted({c.first.epochs for c in configurations if not (c.first.fitted or c.first.external)})
    fitted: dict[str, list[str]] = {}  # how they learnt → models
    for c in configurations:
        if c.first.fitted:
            fitted.setdefault(c.first.budget_text, []).append(c.model)
    external = [c.model for c in configurations if c.first.external]
    budget = [f"{'/'.join(map(str, epochs))} epochs per fold"] if epochs else []
    budget += [f"{', '.join(models)} {text}" for text, models in fitted.items()]
    budget += [f"{', '.join(external)} {EXTERNAL_SOURCE} (predictions made elsewhere, scored here)"] if external else []
    folds = sorted({c.first.n_folds for c in configurations})
    subjects = sorted({c.statistics()["groups"] for c in configurations})
    lines = []
    if configurations:
        lines.append(f"Protocol: {protocol.upper()} ({', '.join(map(str, folds))} folds), "
                     f"{'; '.join(budget)}; {SELECTION_TEXT.get(selection, selection)}.")
    lines += [f"{name}: {meaning}." for name, meaning in layout.kind.row_options]
    lines.append(f"Metrics: {layout.definitions}" + ("; per-dataset columns score each source dataset's samples "
                                                      "of the same composite run" if per_dataset else "") + ".")
    if configurations:
        lines.append(f"[low, high]: {int(DEFAULT_LEVEL * 100)} % subject-level cluster bootstrap percentile "
                     f"interval, {DEFAULT_RESAMPLES:,} resamples of the {'/'.join(map(str, subjects))} subjects "
                     f"(per-dataset: of that dataset's subjects), seed 0; "
                     f"{seeds_rule(f'{layout.ranking_label} seed sd')}.")
        lines.append(f"{BEST_MARK}: highest {layout.ranking_label}. {TIED_MARK}: not significantly different from it "
                     f"— paired subject-level bootstrap of Δ{layout.ranking_label} on the same resamples, two-sided, "
                     f"Holm-adjusted over the comparisons with the best, α = {ALPHA}.")
    if has_reported:
        lines.append("reported: the cited source's own figures (not run here); not part of the significance test.")
    if external:
        lines.append(f"{EXTERNAL_SOURCE}: a predictions file stored by `mebench score --as` and scored here like a run "
                     f"(its SHA-256 in run.json); how it was trained, its folds and model selection are not known to "
                     f"mebench; {NOT_RECORDED}: not recorded.")
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
    table are scored on the same samples —, measured rows by UF1 then reported rows; tables with measured rows
    come before tables of reported rows alone.
    ``metrics`` picks columns among accuracy, uf1, uar, per-dataset (default: the MEGC2019 layout
    — UF1, UAR, per-dataset UF1/UAR — for composites, accuracy/UF1/UAR otherwise); ``dataset`` filters."""
    groups: dict[TableKey, list[Configuration]] = {}
    for configuration in configurations:
        if dataset is None or configuration.dataset == dataset:
            key = TableKey(configuration.dataset, configuration.protocol, table_options(configuration),
                           configuration.selection, configuration.samples_key)
            groups.setdefault(key, []).append(configuration)
    reported = [(name, f) for name, f in reported if dataset is None or f.dataset == dataset]
    for _, figures in reported:
        if not any(key.dataset == figures.dataset and key.protocol == figures.protocol for key in groups):
            groups.setdefault(TableKey(figures.dataset, figures.protocol, "", "fixed", ""), [])
    qualifiers = _sample_set_qualifiers(groups)
    homes = _reported_homes(groups)
    tables = []
    # tables with measured rows first; tables of publications' figures alone after them
    for key, members in sorted(groups.items(), key=lambda item: (not item[1], *item[0][:4], qualifiers[item[0]])):
        name, protocol, protocol_options, selection = key.dataset, key.protocol, key.protocol_options, key.selection
        own_reported = [(m, f) for m, f in reported
                        if key in homes and f.dataset == name and f.protocol == protocol]
        layout = Layout.of(members, task_kind(own_reported[0][1].kind) if own_reported else None)
        members = sorted(members, key=lambda c: -c.statistics()["estimate"][layout.ranking])
        scopes = sorted({s for c in members for s in c.scopes} - {ALL})
        scopes += sorted({s for _, f in own_reported for s in f.per_dataset} - set(scopes))
        scopes = [ALL] + scopes
        base, per_dataset = layout.resolve(metrics, composite=len(scopes) > 1)
        verdicts = significance_marks(members)
        rows = [_measured_row(c, verdicts[i], scopes, base, per_dataset, layout) for i, c in enumerate(members)]
        rows += [_reported_row(m, f, scopes, base, per_dataset, name, layout) for m, f in own_reported]
        display = _pretrained_column(pd.DataFrame([r[0] for r in rows]))
        numbers = pd.DataFrame([r[1] for r in rows])
        footer = _footer(members, protocol, selection, bool(own_reported), bool(per_dataset), layout)
        tables.append(LeaderboardTable(name, protocol, selection, display, numbers, footer, members,
                                       protocol_options, qualifiers[key], layout))
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


def leaderboard_text(configurations: Sequence[Configuration], registry=None, fmt: str = "markdown",
                     metrics: Sequence[str] | None = None, dataset: str | None = None,
                     plots_dir: Path | None = None) -> tuple[str, list[Path]]:
    """(``mebench leaderboard``'s text, the plot files written): with a ``registry``, the published
    figures of its model cards are added as reported rows; ``plots_dir`` also writes the plots."""
    specs = [registry.models.get(name) for name in registry.models.names()] if registry is not None else []
    tables = leaderboard_tables(configurations, reported_figures(specs), metrics, dataset)
    if not tables:
        raise MebenchError(f"no runs of dataset {dataset!r} in these results")
    plots = []
    if plots_dir:
        from mebench.analysis.plots import leaderboard_plots

        plots = leaderboard_plots(tables, plots_dir)
    return render_tables(tables, fmt), plots
