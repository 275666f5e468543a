"""The plugin examples of docs/plugins.md, each installed as a separate package, are listed and run."""

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

PLUGINS_DOC = Path(__file__).resolve().parents[3] / "docs" / "plugins.md"


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


def write_toyme(root: Path, emotion_of_last_row: str = "others") -> Path:
    """A small ToyME in the page's layout: 3 subjects × 5 clips of 6 frames (a bright blob that moves a pixel a frame
    in a direction of its class), the fifth clip of each subject annotated ``emotion_of_last_row``."""
    import cv2
    import numpy as np

    folder = root / "TOYME"
    rows = ["subject,clip,onset,apex,offset,emotion"]
    moves = {"happiness": (0, -1), "surprise": (-1, 0), "disgust": (1, 1), "sadness": (0, 1), "others": (1, 0)}
    emotions = ["happiness", "surprise", "disgust", "sadness", emotion_of_last_row]
    y, x = np.mgrid[:48, :48]
    for subject in ("s1", "s2", "s3"):
        for k, emotion in enumerate(emotions):
            clip = folder / subject / f"c{k}"
            clip.mkdir(parents=True)
            dy, dx = moves.get(emotion, (0, 0))
            for n in range(1, 7):
                cy, cx = 24 + dy * n, 20 + dx * n + k
                frame = 60 + 150 * np.exp(-((y - cy) ** 2 + (x - cx) ** 2) / 40.0)
                cv2.imwrite(str(clip / f"img{n}.png"), frame.astype(np.uint8))
            rows.append(f"{subject},c{k},1,4,6,{emotion}")
    (folder / "labels.csv").write_text("\n".join(rows) + "\n")
    return root


@pytest.fixture(scope="module")
def installed_dataset(tmp_path_factory):
    return install_doc_package(tmp_path_factory, "mebench-toy-me", "mebench-toy-me/pyproject.toml",
                               "mebench_toy_me.py")


@pytest.mark.slow
def test_third_party_dataset_is_checked_and_runs(installed_dataset, tmp_path):
    listed = mebench("list", "datasets", env=installed_dataset)
    assert re.search(r"toyme\s+your copy\s+3\s+toy_me\s+ToyME, 3 classes", listed.stdout), listed.stdout
    root = write_toyme(tmp_path / "data")
    checked = mebench("data", "check", "toyme", "--data-root", str(root), env=installed_dataset)
    assert checked.returncode == 0, checked.stderr
    assert "toyme: no official sample list for this task (built from the dataset's own annotation); 12 samples, " \
           "3 subjects" in checked.stdout
    assert re.search(r"\| negative\s+\|\s+6 \|", checked.stdout) and re.search(r"\| total\s+\|\s+12 \|", checked.stdout)
    result = mebench("run", "--model", "ststnet", "--dataset", "toyme", "--data-root", str(root), "--epochs", "1",
                     "--precision", "fp32", "--output", str(tmp_path / "results"), "--quiet", env=installed_dataset,
                     cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    (run_dir,) = (tmp_path / "results").glob("ststnet__toyme__*")
    run = json.loads((run_dir / "run.json").read_text())
    assert run["n_samples"] == 12 and run["n_folds"] == 3
    assert sorted(fold["test_group"] for fold in run["folds"]) == ["toyme/s1", "toyme/s2", "toyme/s3"]


@pytest.mark.slow
def test_third_party_dataset_names_the_file_row_and_fix_of_a_bad_row(installed_dataset, tmp_path):
    root = write_toyme(tmp_path / "data", emotion_of_last_row="joy")
    sheet = root / "TOYME" / "labels.csv"
    checked = mebench("data", "check", "toyme", "--data-root", str(root), env=installed_dataset)
    assert checked.returncode == 1 and "problems: 3" in checked.stdout
    for row in (6, 11, 16):  # the fifth clip of each subject, after the header
        assert f"{sheet}, row {row}: unknown emotion 'joy' — use one of happiness, surprise, disgust, sadness, " \
               f"others" in checked.stdout
    result = mebench("run", "--model", "ststnet", "--dataset", "toyme", "--data-root", str(root), "--epochs", "1",
                     "--output", str(tmp_path / "results"), env=installed_dataset, cwd=tmp_path)
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert result.stderr.strip() == f"Error: {sheet}, row 6: unknown emotion 'joy' — use one of happiness, " \
                                    f"surprise, disgust, sadness, others"
