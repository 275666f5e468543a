"""The mutation list (benchmarks/mutations/*.toml) stays in step with the code and the tests it names."""

import importlib.util
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def mutation_check():
    spec = importlib.util.spec_from_file_location("mutation_check", ROOT / "benchmarks" / "mutation_check.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


def test_every_entry_names_one_snippet_and_existing_guards(mutation_check):
    mutations = mutation_check.load_mutations()
    assert len(mutations) >= 150
    problems = []
    for m in mutations:
        count = (ROOT / m.file).read_text(encoding="utf-8").count(m.old) if (ROOT / m.file).is_file() else 0
        if count != 1:
            problems.append(f"{m.promise}: snippet found {count} times in {m.file}")
        if m.old == m.new:
            problems.append(f"{m.promise}: the mutation changes nothing")
        problems += [f"{m.promise}: no such guard {g}" for g in mutation_check.missing_guards(m.guards)]
    assert problems == []


def test_a_renamed_guard_and_a_malformed_entry_are_named(mutation_check, tmp_path):
    assert mutation_check.missing_guards(("tests/core/test_folds.py::test_no_such_test", "tests/core/test_folds.py",
                                          "tests/no_such_file.py")) == [
        "tests/core/test_folds.py::test_no_such_test", "tests/no_such_file.py"]
    (tmp_path / "bad.toml").write_text("[[mutation]]\npromise = 'p'\nfile = 'f'\nold = 'a'\n")
    with pytest.raises(SystemExit, match=r"bad.toml: mutation 1 \('p'\) needs the keys"):
        mutation_check.load_mutations(tmp_path)


def test_a_guard_named_by_its_files_name_is_found_in_any_folder_of_the_tests(mutation_check, tmp_path):
    (tmp_path / "core").mkdir()
    (tmp_path / "plugins").mkdir()
    for folder in ("core", "plugins"):
        (tmp_path / folder / "test_twice.py").write_text("def test_x():\n    pass\n")
    (tmp_path / "core" / "test_once.py").write_text("def test_y():\n    pass\n")
    tests = ROOT / "tests"
    node = mutation_check.guard_node
    assert node("test_once.py::test_y[1]", tmp_path).endswith("core/test_once.py::test_y[1]")
    assert node("test_twice.py::test_x", tmp_path) == "test_twice.py::test_x"  # two files: left for missing_guards
    assert node("tests/core/test_folds.py::test_z", tests) == "tests/core/test_folds.py::test_z"
    assert mutation_check.missing_guards(("test_twice.py::test_x",)) == ["test_twice.py::test_x"]


def test_no_two_test_files_share_a_name_so_a_guard_names_one():
    names = [path.name for path in (ROOT / "tests").rglob("test_*.py")]
    assert sorted(name for name in set(names) if names.count(name) > 1) == []
