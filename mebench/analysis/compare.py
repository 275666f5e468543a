"""``mebench compare``: two configurations on the same samples, paired — the bootstrap of each
metric's difference with its interval and p-value, and McNemar's exact test per seed pair."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from tabulate import tabulate

from mebench.analysis.configurations import Configuration
from mebench.errors import UsageError
from mebench.analysis.leaderboard import Layout, seeds_rule
from mebench.statistics import DEFAULT_RESAMPLES, mcnemar_exact, paired_bootstrap


class NotComparableError(UsageError, ValueError):
    """Two configurations that are not scored on the same task and samples."""


def check_comparable(first: Configuration, second: Configuration) -> None:
    """Refuse (one line) two configurations that are not on the same task and samples."""
    if first.dataset != second.dataset:
        raise NotComparableError(f"different datasets: {first.label} is on {first.dataset!r}, {second.label} on "
                                 f"{second.dataset!r}; a paired comparison needs the same samples")
    if first.kind is not second.kind or first.classes != second.classes:
        raise NotComparableError(f"different tasks: {first.label} and {second.label} score other classes or labels")
    if not first.same_samples(second):
        only_first = len(set(first.sample_ids) - set(second.sample_ids))
        only_second = len(set(second.sample_ids) - set(first.sample_ids))
        raise NotComparableError(f"different sample sets: {only_first} samples only in {first.label}, {only_second} "
                                 f"only in {second.label} (or different labels/subjects); compare runs of the same "
                                 f"dataset version")


@dataclass
class McNemarPair:
    first_seed: int
    second_seed: int
    only_first: int  # samples A got right and B wrong
    only_second: int  # samples A got wrong and B right
    p: float
    label: str = ""  # a multi-label task: the label whose per-sample decisions are compared


@dataclass
class Comparison:
    """first − second: per scope (``all``, then each source dataset) the paired bootstrap of every
    metric, and McNemar's exact test per seed pair."""

    first: Configuration
    second: Configuration
    scopes: dict[str, dict[str, Any]]
    mcnemar: list[McNemarPair]


def compare_configurations(first: Configuration, second: Configuration) -> Comparison:
    """Paired figures of first − second; seeds are paired by number, else by order."""
    check_comparable(first, second)
    scopes = {scope: paired_bootstrap(first.encoded(scope), second.encoded(scope)) for scope in first.scopes}
    common = sorted(set(first.seeds) & set(second.seeds))
    pairs = ([(first.seeds.index(s), second.seeds.index(s)) for s in common] if common
             else list(zip(range(len(first.runs)), range(len(second.runs)))))
    mcnemar = []
    for i, j in pairs:
        a, b = first.predictions[i], second.predictions[j]
        right_a, right_b = first.kind.right(a, first.classes), first.kind.right(b, first.classes)
        if right_a.ndim == 1:  # one decision per sample
            test = mcnemar_exact(right_a, right_b)
            mcnemar.append(McNemarPair(first.seeds[i], second.seeds[j], test.only_first, test.only_second, test.p))
            continue
        for k, label in enumerate(first.classes):  # a decision per label: McNemar per label
            test = mcnemar_exact(right_a[:, k], right_b[:, k])
            mcnemar.append(McNemarPair(first.seeds[i], second.seeds[j], test.only_first, test.only_second,
                                       test.p, label))
    return Comparison(first, second, scopes, mcnemar)


def render_comparison(comparison: Comparison) -> str:
    first, second = comparison.first, comparison.second
    layout = Layout.of([first])
    rows = []
    for scope, result in comparison.scopes.items():
        first_stats, second_stats = first.statistics(scope), second.statistics(scope)
        for metric in layout.names:
            figures = result[metric]
            if not np.isfinite(figures["delta"]):
                continue  # a label neither shows on these samples
            rows.append([scope, layout.labels[metric], f"{first_stats['estimate'][metric]:.3f}",
                         f"{second_stats['estimate'][metric]:.3f}", f"{figures['delta']:+.3f}",
                         f"[{figures['ci'][0]:+.3f}, {figures['ci'][1]:+.3f}]", f"{figures['p']:.3f}"])
    table = tabulate(rows, headers=["scope", "metric", "A", "B", "Δ (A − B)", "95 % CI", "p"], tablefmt="github",
                     disable_numparse=True)
    n = len(first.sample_ids)
    lines = [f"A: {first.label}, seeds {first.seeds}", f"B: {second.label}, seeds {second.seeds}",
             f"{first.dataset}: {n} samples, {first.statistics()['groups']} subjects (paired by sample id)", "", table, ""]
    for test in comparison.mcnemar:
        label = f", {test.label}" if test.label else ""
        lines.append(f"McNemar exact (seed {test.first_seed} vs {test.second_seed}{label}): A right & B wrong "
                     f"{test.only_first}, A wrong & B right {test.only_second}, p = {test.p:.3f}")
    lines.append(f"Δ, CI, p: paired subject-level cluster bootstrap, {DEFAULT_RESAMPLES:,} resamples (seed 0), both "
                 f"configurations scored on each draw, p from the centred bootstrap distribution, uncorrected for the "
                 f"several rows; {seeds_rule(None).split(':', 1)[1].strip()}. McNemar: two-sided exact binomial on the "
                 f"discordant samples.")
    return "\n".join(lines)
