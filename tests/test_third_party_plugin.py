"""The plugin examples of docs/plugins.md, each installed as a separate package, are listed and run."""

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

PLUGINS_DOC = Path(__file__).resolve().parents[1] / "docs" / "plugins.md"


def doc_block(after_heading: str, language: str) -> str:
    text = PLUGINS_DOC.read_text()
    match = re.search(rf"`{re.escape(after_heading)}`\s*\n\s*```{language}\n(.*?)```", text, re.S)
    assert match, f"docs/plugins.md has no {language} block after `{after_heading}`"
    return match.group(1)


def install_doc_package(tmp_path_factory, name: str, pyproject_heading: str, module: str) -> dict[str, str]:
    """Build the package ``name`` from the page's blocks, pip-install it into its own folder and
    return an environment in which it is importable (mebench itself is not touched)."""
    source = tmp_path_factory.mktemp(name)
    (source / "pyproject.toml").write_text(doc_block(pyproject_heading, "toml"))
    (source / module).write_text(doc_block(module, "python"))
    target = tmp_path_factory.mktemp("site")
    subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--no-build-isolation",
                    "--target", str(target), str(source)], check=True, capture_output=True)
    return {**os.environ, "PYTHONPATH": os.pathsep.join([str(target), os.environ.get("PYTHONPATH", "")])}


@pytest.fixture(scope="module")
def installed_plugin(tmp_path_factory):
    return install_doc_package(tmp_path_factory, "mebench-shallow-cnn", "pyproject.toml", "mebench_shallow_cnn.py")


def mebench(*args, env, cwd=None):
    return subprocess.run([sys.executable, "-m", "mebench.cli", *args], env=env, cwd=cwd,
                          capture_output=True, text=True, timeout=300)


@pytest.mark.slow
def test_third_party_model_is_listed_with_its_package(installed_plugin):
    result = mebench("list", env=installed_plugin)  # every section: models, …, plugins
    assert result.returncode == 0, result.stderr
    assert re.search(r"shallow_cnn\s+mebench-shallow-cnn\s+0\.1\.0\s+ok", result.stdout)
    models = result.stdout.split("\ndatasets:")[0]
    assert re.search(r"shallow-cnn\s+3x28x28", models), models
    card = mebench("info", "shallow-cnn", env=installed_plugin)  # the card and options it declares
    assert "reconstructed: an example net, defined here" in card.stdout, card.stderr
    assert "width (an integer ≥ 1; default 16): channels of the first block" in card.stdout


@pytest.mark.slow
def test_third_party_model_runs_without_touching_mebench(installed_plugin, tmp_path):
    args = ("run", "--model", "shallow-cnn", "--dataset", "synthetic", "--epochs", "1", "--dataset-opt", "subjects=3",
            "--dataset-opt", "clips_per_subject=4", "--dataset-opt", "size=48", "--output", str(tmp_path / "results"),
            "--quiet")
    result = mebench(*args, "--model-opt", "width=8", env=installed_plugin, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "UF1" in result.stdout
    run_dirs = list((tmp_path / "results").glob("shallow-cnn__synthetic__*"))
    assert len(run_dirs) == 1
    assert {"run.json", "predictions.csv", "metrics.json"} <= {p.name for p in run_dirs[0].iterdir()}
    run = json.loads((run_dirs[0] / "run.json").read_text())
    assert run["config"]["model_options"] == {"width": 8}
    assert run["parameters"] == (3 * 9 * 8 + 8) + 2 * 8 + (8 * 9 * 16 + 16) + 2 * 16 + (16 * 3 + 3)  # width 8
    refused = mebench(*args, "--model-opt", "width=0", env=installed_plugin, cwd=tmp_path)
    assert refused.returncode == 2 and "model 'shallow-cnn' takes width as an integer ≥ 1; got 0" in refused.stderr


@pytest.fixture(scope="module")
def installed_protocol(tmp_path_factory):
    return install_doc_package(tmp_path_factory, "mebench-subject-halves", "mebench-subject-halves/pyproject.toml",
                                  "mebench_subject_halves.py")


@pytest.mark.slow
def test_third_party_protocol_is_listed_and_runs(installed_protocol, tmp_path):
    listed = mebench("list", "protocols", env=installed_protocol)
    assert re.search(r"halves\s+subject_halves\s+Two folds", listed.stdout), listed.stdout
    result = mebench("run", "--model", "ststnet", "--dataset", "synthetic", "--protocol", "halves", "--epochs", "1",
                     "--dataset-opt", "subjects=4", "--dataset-opt", "clips_per_subject=3", "--precision", "fp32",
                     "--output", str(tmp_path / "results"), "--quiet", env=installed_protocol, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    (run_dir,) = (tmp_path / "results").glob("ststnet__synthetic__halves__*")
    run = json.loads((run_dir / "run.json").read_text())
    assert run["n_folds"] == 2 and run["n_samples"] == 12
