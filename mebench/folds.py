"""Leave-one-subject-out folds."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np


@dataclass(frozen=True)
class Fold:
    index: int
    test_subject: str
    train: np.ndarray  # sample positions
    test: np.ndarray


def loso_folds(subjects: Sequence[str]) -> list[Fold]:
    """One fold per subject, in sorted subject order; train and test subjects are disjoint."""
    subjects = np.asarray(subjects)
    unique = sorted(set(subjects.tolist()))
    if len(unique) < 2:
        raise ValueError(f"leave-one-subject-out needs at least 2 subjects, got {len(unique)}")
    folds = []
    for index, subject in enumerate(unique):
        test = np.flatnonzero(subjects == subject)
        train = np.flatnonzero(subjects != subject)
        train_subjects, test_subjects = set(subjects[train].tolist()), set(subjects[test].tolist())
        assert not train_subjects & test_subjects, f"fold {index}: subjects in both train and test"
        assert len(train) + len(test) == len(subjects)
        folds.append(Fold(index, subject, train, test))
    return folds
