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


def test_check_folds_refuses_broken_folds_with_a_mebench_error_even_under_python_optimise():
    """The fold rules are checks, not ``assert``s: ``python -O`` strips asserts, and the promise must still hold."""
    script = """
import numpy as np
from mebench.errors import FoldError
from mebench.folds import Fold, SampleTable, check_folds
table = SampleTable.build(["a", "b", "c", "d"], ["s1", "s1", "s2", "s2"], ["x"] * 4, [0, 1, 0, 1], ["t"] * 4)
cases = [
    ("subjects", ("subjects",), [Fold(0, "s1", np.array([1, 2, 3]), np.array([0]))]),
    ("a sample", (), [Fold(0, "s1", np.array([0, 2]), np.array([0, 1])), Fold(1, "s2", np.array([0, 1]), np.array([2, 3]))]),
    ("coverage", ("subjects",), [Fold(0, "s1", np.array([2, 3]), np.array([0, 1]))]),
]
for expected, disjoint, folds in cases:
    try:
        check_folds(folds, table, disjoint=disjoint)
    except FoldError as error:
        print("refused:", error)
    else:
        raise SystemExit(f"not refused: {expected}")
"""
    import subprocess
    import sys

    result = subprocess.run([sys.executable, "-O", "-c", script], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr + result.stdout
    assert result.stdout.splitlines() == [
        "refused: fold 0 (s1): subjects on both sides: ['s1']",
        "refused: fold 0 (s1): a sample on both sides",
        "refused: the test sides do not cover the evaluated samples exactly once",
    ]
