"""Folds: which samples train and which test, for every protocol.

A protocol turns a task's samples into folds. Splits are built on scikit-learn's group splitters
(``LeaveOneGroupOut``, ``StratifiedGroupKFold``), never by hand, and every fold is checked: no
subject (and, for cross-database protocols, no database) is on both sides, and the test sides
together cover the evaluated samples exactly once.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np
from sklearn.model_selection import LeaveOneGroupOut, StratifiedGroupKFold

from mebench.errors import FoldError, OptionError


@dataclass(frozen=True)
class Fold:
    index: int
    name: str  # what is held out: a subject (LOSO), a database (LODO), "k3/5" (k-fold), "casme2→smic" (cross)
    train: np.ndarray  # sample positions
    test: np.ndarray


@dataclass(frozen=True)
class SampleTable:
    """What a protocol may look at: one entry per sample, in the order of the prepared tensor.

    ``task`` is the task each sample was loaded from: the run's own dataset, or the target
    task of a cross-dataset protocol."""

    sample_ids: np.ndarray
    subjects: np.ndarray
    datasets: np.ndarray
    labels: np.ndarray  # class indices
    task: np.ndarray

    @classmethod
    def build(cls, sample_ids: Sequence[str], subjects: Sequence[str], datasets: Sequence[str],
              labels: Sequence[int], task: Sequence[str]) -> "SampleTable":
        return cls(*(np.asarray(values) for values in (sample_ids, subjects, datasets, labels, task)))

    def __len__(self) -> int:
        return len(self.sample_ids)


def check_folds(folds: Sequence[Fold], table: SampleTable, disjoint: Sequence[str] = ("subjects",),
                evaluated: np.ndarray | None = None) -> list[Fold]:
    """Check that every fold's train and test sides share no value of each field in ``disjoint``
    (``subjects``, ``datasets``) and that the test sides cover ``evaluated`` (default: every
    sample) exactly once; a ``FoldError`` says which fold breaks which rule. Returns the folds."""
    if not folds:
        raise OptionError("the protocol produced no folds")
    for fold in folds:
        if len(fold.train) == 0 or len(fold.test) == 0:
            side = "train" if len(fold.train) == 0 else "test"
            raise OptionError(f"fold {fold.index} ({fold.name}) has an empty {side} side")
        for field in disjoint:
            values = getattr(table, field)
            shared = set(values[fold.train].tolist()) & set(values[fold.test].tolist())
            if shared:
                raise FoldError(f"fold {fold.index} ({fold.name}): {field} on both sides: {sorted(shared)[:3]}")
        if set(fold.train.tolist()) & set(fold.test.tolist()):
            raise FoldError(f"fold {fold.index} ({fold.name}): a sample on both sides")
    tested = np.sort(np.concatenate([fold.test for fold in folds]))
    expected = np.arange(len(table)) if evaluated is None else np.sort(evaluated)
    if not np.array_equal(tested, expected):
        raise FoldError("the test sides do not cover the evaluated samples exactly once")
    return list(folds)


def group_folds(splitter, table: SampleTable, groups: np.ndarray, name=lambda test: "", y=None) -> list[Fold]:
    """Folds from a scikit-learn group splitter, named by ``name(test positions)``."""
    positions = np.arange(len(table))
    return [Fold(index, name(test), np.sort(train), np.sort(test))
            for index, (train, test) in enumerate(splitter.split(positions, y, groups))]


def loso_folds(table: SampleTable | Sequence[str]) -> list[Fold]:
    """Leave one subject out: one fold per subject, in sorted subject order."""
    if not isinstance(table, SampleTable):  # a plain list of subjects
        subjects = list(table)
        table = SampleTable.build(subjects, subjects, [""] * len(subjects), [0] * len(subjects), [""] * len(subjects))
    unique = np.unique(table.subjects)
    if len(unique) < 2:
        raise OptionError(f"leave-one-subject-out needs at least 2 subjects, got {len(unique)}")
    folds = group_folds(LeaveOneGroupOut(), table, table.subjects, name=lambda test: str(table.subjects[test[0]]))
    return check_folds(folds, table)


def lodo_folds(table: SampleTable) -> list[Fold]:
    """Leave one database out: train on the other source databases of a composite, test on this one."""
    unique = np.unique(table.datasets)
    if len(unique) < 2:
        raise OptionError(f"protocol lodo needs a composite task with at least 2 source databases; this task has "
                          f"{len(unique)} ({', '.join(unique)}) — use --dataset combined, or --protocol loso")
    folds = group_folds(LeaveOneGroupOut(), table, table.datasets, name=lambda test: str(table.datasets[test[0]]))
    return check_folds(folds, table, disjoint=("subjects", "datasets"))


def kfold_folds(table: SampleTable, k: int = 5, seed: int = 0) -> list[Fold]:
    """``k`` subject-disjoint folds, stratified by class as far as whole subjects allow, shuffled
    with ``seed`` (the protocol's own seed: the folds stay the same across training seeds)."""
    n_subjects = len(np.unique(table.subjects))
    if not isinstance(k, int) or isinstance(k, bool) or k < 2:
        raise OptionError(f"--protocol-opt k must be an integer of at least 2, got {k!r}")
    if k > n_subjects:
        raise OptionError(f"--protocol-opt k={k} is more folds than the task's {n_subjects} subjects; "
                          f"use k <= {n_subjects}, or --protocol loso")
    splitter = StratifiedGroupKFold(n_splits=k, shuffle=True, random_state=int(seed))
    folds = group_folds(splitter, table, table.subjects, name=lambda test: "", y=table.labels)
    folds = [Fold(f.index, f"k{f.index + 1}/{k}", f.train, f.test) for f in folds]
    return check_folds(folds, table)


def cross_folds(table: SampleTable, source: str, target: str) -> list[Fold]:
    """Train on every sample of the source task, test on every sample of the target task."""
    train, test = np.flatnonzero(table.task == source), np.flatnonzero(table.task == target)
    folds = [Fold(0, f"{source}→{target}", train, test)]
    return check_folds(folds, table, disjoint=("subjects", "datasets"), evaluated=test)
