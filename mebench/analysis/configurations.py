"""Saved runs grouped into configurations: every seed of one (model, dataset, config hash), with its
predictions aligned by sample id — what leaderboards, comparisons, plots and reports read.

Figures are recomputed from ``predictions.csv`` (:mod:`mebench.statistics`), so runs written before
intervals existed get them too.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any, Iterable, Sequence

import numpy as np
import pandas as pd

from mebench.errors import DataError, ResolveError
from mebench.records import RunRecord, load_results, load_run
from mebench.results import PredictionsTable
from mebench.identity import config_hash as digest
from mebench.statistics import Encoded, subject_bootstrap
from mebench.tasks import TaskKind, kind_of

ALL = "all"  #: scope name of the whole task (the composite, or the single dataset)


def read_predictions(run: RunRecord) -> pd.DataFrame:
    """A run's ``predictions.csv``, sorted by sample id; a missing file or column is a DataError
    (``PredictionsTable.read``)."""
    return PredictionsTable.read(Path(run.path) / PredictionsTable.FILE, "re-run this configuration with --force").frame


@dataclass
class Configuration:
    """Every seed of one (model, dataset, config hash), predictions aligned by sample id."""

    model: str
    dataset: str
    config_hash: str
    runs: list[RunRecord]
    predictions: list[pd.DataFrame]
    classes: tuple[str, ...]
    _stats: dict = field(default_factory=dict, repr=False)
    _encoded: dict = field(default_factory=dict, repr=False)

    @property
    def first(self) -> RunRecord:
        return self.runs[0]

    @property
    def label(self) -> str:
        return f"{self.model} ({self.first.configuration_id})"

    @property
    def protocol(self) -> str:
        return self.first.protocol

    @property
    def selection(self) -> str:
        return self.first.selection

    @property
    def protocol_options(self) -> dict[str, Any]:
        return self.first.protocol_options

    @property
    def dataset_options(self) -> dict[str, Any]:
        return self.first.dataset_options

    @cached_property
    def samples_key(self) -> str:
        """A digest of the evaluated samples (ids, true labels, subjects): what the rows of one table,
        and any two configurations compared, must share."""
        frame = self.predictions[0]
        return digest([frame[column].tolist() for column in ("sample_id", "true_label", "subject")])

    @property
    def seeds(self) -> list[int]:
        return [run.seed for run in self.runs]

    @property
    def sample_ids(self) -> np.ndarray:
        return self.predictions[0]["sample_id"].to_numpy()

    @property
    def scopes(self) -> list[str]:
        """``all``, then each source dataset of a composite."""
        datasets = sorted(self.predictions[0]["dataset"].unique())
        return [ALL] + (datasets if len(datasets) > 1 else [])

    @property
    def kind(self) -> TaskKind:
        """What its task's answer is (``mebench.tasks``), as its metrics.json records."""
        return kind_of(self.first.metrics)

    @property
    def metric_names(self) -> tuple[str, ...]:
        """The figures its statistics give: accuracy, UF1, UAR; or macro-F1 and each label's F1."""
        return self.kind.metric_names(self.classes)

    def encoded(self, scope: str = ALL) -> Encoded:
        """Its seeds' predictions on ``scope`` encoded for the statistics (cached)."""
        if scope not in self._encoded:
            frame = self.predictions[0]
            mask = np.ones(len(frame), bool) if scope == ALL else (frame["dataset"] == scope).to_numpy()
            self._encoded[scope] = self.kind.encode(self.predictions, self.classes, mask)
        return self._encoded[scope]

    def statistics(self, scope: str = ALL) -> dict[str, Any]:
        """Seed-averaged figures with 95 % subject-level bootstrap intervals (cached)."""
        if scope not in self._stats:
            self._stats[scope] = subject_bootstrap(self.encoded(scope))
        return self._stats[scope]

    def same_samples(self, other: "Configuration") -> bool:
        """Whether both are scored on the same samples (ids, true labels, subjects) with the same classes."""
        return self.samples_key == other.samples_key and self.classes == other.classes

    def seed_sd(self, metric: str, scope: str = ALL) -> float | None:
        if len(self.runs) < 2:
            return None
        values = [run.metrics.block(None if scope == ALL else scope).value(metric) for run in self.runs]
        return float(np.std(values, ddof=1))

    def mean_timing(self) -> tuple[float, float]:
        """(training seconds per fold, inference frames per second), each the mean over seeds."""
        return (float(np.mean([run.timing.train_seconds_per_fold_mean for run in self.runs])),
                float(np.mean([run.timing.inference_fps for run in self.runs])))

    def single(self, run: RunRecord) -> "Configuration":
        """This configuration narrowed to one of its runs (seeds)."""
        position = self.runs.index(run)
        return Configuration(self.model, self.dataset, self.config_hash, [run], [self.predictions[position]],
                             self.classes)


def group_runs(runs: Iterable[RunRecord], skipped: list[tuple[str, str]]) -> list[Configuration]:
    """Runs grouped into configurations, seeds in order. A run whose predictions cannot be read, or whose
    samples differ from its configuration's first seed, is appended to ``skipped`` and left out."""
    grouped: dict[tuple[str, str, str], list[tuple[RunRecord, pd.DataFrame]]] = {}
    for run in runs:
        try:
            frame = read_predictions(run)
        except DataError as error:
            skipped.append((str(run.path), str(error)))
            continue
        grouped.setdefault((run.model, run.dataset, run.config_hash), []).append((run, frame))
    configurations = []
    for (model, dataset, config_hash), members in grouped.items():
        members.sort(key=lambda member: member[0].seed)
        reference_run, reference = members[0]
        kept = [members[0]]
        for run, frame in members[1:]:
            if not (np.array_equal(frame["sample_id"], reference["sample_id"])
                    and np.array_equal(frame["true_label"], reference["true_label"])):
                skipped.append((str(run.path), f"its samples differ from {reference_run.path} of the same configuration"))
                continue
            kept.append((run, frame))
        classes = tuple(reference_run.metrics.classes or reference_run.classes)
        configurations.append(Configuration(model, dataset, config_hash, [r for r, _ in kept], [f for _, f in kept],
                                            classes))
    return configurations


def load_configurations(results_dir: Path, skipped: list[tuple[str, str]] | None = None) -> list[Configuration]:
    """Complete runs under ``results_dir`` grouped into configurations. Runs that cannot be used
    are appended to ``skipped`` as (folder, reason) and left out."""
    skipped = [] if skipped is None else skipped
    found: list = []
    runs = load_results(Path(results_dir), skipped=found)
    skipped.extend((str(folder), reason) for folder, reason in found)
    return group_runs(runs, skipped)


def load_run_folders(folders: Sequence[Path]) -> list[Configuration]:
    """Configurations of the given run folders, wherever they are; a folder without a complete,
    readable run is a ``ResolveError`` naming it and why."""
    runs, skipped = [], []
    for folder in folders:
        run, reason = load_run(Path(folder))
        if run is None:
            raise ResolveError(f"{folder}: {reason or 'holds no run (no run.json)'}")
        runs.append(run)
    configurations = group_runs(runs, skipped)
    if skipped:
        raise ResolveError(f"{skipped[0][0]}: {skipped[0][1]}")
    return configurations


def resolve_configuration(reference: str, configurations: Sequence[Configuration], dataset: str | None = None
                          ) -> Configuration:
    """A run id or a model name (all its seeds; ``dataset`` narrows it down) among saved runs; a run folder
    is read by ``load_run_folders``."""
    for configuration in configurations:
        for run in configuration.runs:
            if reference == run.run_id:
                return configuration.single(run)
    matches = [c for c in configurations if c.model == reference and (dataset is None or c.dataset == dataset)]
    if len(matches) == 1:
        return matches[0]
    if matches:
        options = ", ".join(c.first.run_id for c in matches)
        raise ResolveError(f"{reference!r} names {len(matches)} configurations ({options}); "
                           f"pass a run id or --dataset")
    names = sorted({c.model for c in configurations} | {r.run_id for c in configurations for r in c.runs})
    close = difflib.get_close_matches(reference, names, n=3)
    hint = f"; did you mean {', '.join(close)}?" if close else "; `mebench leaderboard` lists the runs"
    raise ResolveError(f"no run, run folder or model {reference!r} in the results{hint}")
