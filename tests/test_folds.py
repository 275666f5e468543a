import numpy as np
import pytest

from mebench.folds import loso_folds


def test_one_fold_per_subject_disjoint_and_covering():
    subjects = ["b/2", "a/1", "b/2", "c/1", "a/1", "a/1"]
    folds = loso_folds(subjects)
    assert [f.name for f in folds] == ["a/1", "b/2", "c/1"]
    tested = np.concatenate([f.test for f in folds])
    assert sorted(tested.tolist()) == list(range(len(subjects)))
    for fold in folds:
        assert {subjects[i] for i in fold.test} == {fold.name}
        assert fold.name not in {subjects[i] for i in fold.train}
        assert len(fold.train) + len(fold.test) == len(subjects)


def test_namespaced_subjects_with_the_same_local_name_are_different_folds():
    folds = loso_folds(["casme2/s01", "smic/s01", "casme2/s01"])
    assert len(folds) == 2


def test_needs_two_subjects():
    with pytest.raises(ValueError, match="at least 2 subjects"):
        loso_folds(["a/1", "a/1"])
