"""The spotter example of docs/plugins.md ("A spotter"), installed as a separate package: listed with its card, run
on synthetic-long, its figures those `mebench score` computes from its predictions, each fold fitted on that
fold's training videos only."""

import csv
import importlib.util
import json
import os
import re
from pathlib import Path

import pytest

from tests.plugins.third_party.test_third_party_plugin import install_doc_package, mebench


@pytest.fixture(scope="module")
def installed_spotter(tmp_path_factory):
    return install_doc_package(tmp_path_factory, "mebench-frame-energy", "mebench-frame-energy/pyproject.toml",
                               "mebench_frame_energy.py")


def installed_module(env: dict[str, str]):
    """The example's module as pip installed it (the first PYTHONPATH entry), imported in this process."""
    path = Path(env["PYTHONPATH"].split(os.pathsep)[0]) / "mebench_frame_energy.py"
    spec = importlib.util.spec_from_file_location("mebench_frame_energy_installed", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def parse_intervals(text: str) -> list[tuple[int, int, str]]:
    """``me 12-20; mae 40-90`` (``none``: no interval) as (onset, offset, type), read here by a regular
    expression rather than by mebench's reader."""
    return [(int(onset), int(offset), kind) for kind, onset, offset in re.findall(r"(me|mae) (\d+)-(\d+)", text)]


@pytest.mark.slow
def test_third_party_spotter_is_listed_with_its_card(installed_spotter):
    listed = mebench("list", env=installed_spotter)
    assert listed.returncode == 0, listed.stderr
    assert re.search(r"frame_energy\s+mebench-frame-energy\s+0\.1\.0\s+ok", listed.stdout), listed.stdout
    models = listed.stdout.split("\ndatasets:")[0]
    assert re.search(r"^\s*frame-energy\b", models, re.M), models
    card = mebench("info", "frame-energy", env=installed_spotter)
    assert card.returncode == 0, card.stderr
    assert "reconstructed: an example spotter, defined here" in card.stdout, card.stdout
    assert "step (an integer ≥ 1; default 3): frames between the two frames compared" in card.stdout, card.stdout


@pytest.mark.slow
def test_third_party_spotter_runs_and_its_figures_are_those_of_its_predictions(installed_spotter, tmp_path):
    from mebench_plugins.datasets.synthetic_long import load_synthetic_long

    result = mebench("run", "--model", "frame-energy", "--dataset", "synthetic-long", "--dataset-opt", "preset=quick",
                     "--output", str(tmp_path / "results"), "--quiet", env=installed_spotter, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    (run_dir,) = (tmp_path / "results").glob("frame-energy__synthetic-long__*")
    run = json.loads((run_dir / "run.json").read_text())
    assert run["learner"] == "spotter" and run["n_folds"] == 2 and run["n_samples"] == 4
    with open(run_dir / "predictions.csv", newline="") as handle:
        rows = {row["sample_id"]: row for row in csv.DictReader(handle)}

    # the figures again, from predictions.csv through `mebench score` against ground truth written here
    videos = load_synthetic_long(preset="quick")
    assert sorted(rows) == sorted(video.id for video in videos)
    with open(tmp_path / "gt.csv", "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["vid", "onset", "offset", "type", "subject"])
        for video in videos:
            for interval in video.intervals:
                writer.writerow([video.id, interval.onset, interval.offset, interval.kind, video.subject])
    with open(tmp_path / "spots.csv", "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["vid", "pred_onset", "pred_offset", "type"])
        for video_id, row in rows.items():
            for onset, offset, kind in parse_intervals(row["predicted_label"]):
                writer.writerow([video_id, onset, offset, kind])
    scored = mebench("score", str(tmp_path / "spots.csv"), "--task", "spotting", "--ground-truth",
                     str(tmp_path / "gt.csv"), "--json", env=installed_spotter, cwd=tmp_path)
    assert scored.returncode == 0, scored.stderr
    rescored = json.loads(scored.stdout)
    pooled = json.loads((run_dir / "metrics.json").read_text())["pooled"]
    assert pooled["per_class"]["overall"]["tp"] > 0  # the comparison below compares something found
    for block in ("me", "mae", "overall"):
        for cell in ("tp", "fp", "fn", "predictions", "truth"):
            assert pooled["per_class"][block][cell] == rescored[block][cell], (block, cell)
        suffix = "" if block == "overall" else f"_{block}"
        assert pooled[f"f1{suffix}"] == pytest.approx(rescored[block]["f1"], abs=1e-12)
        assert pooled["ci"][f"f1{suffix}"] == pytest.approx(rescored[block]["f1_interval"], abs=1e-12)

    # each fold: the spotter fitted on the fold's training videos only gives exactly the run's intervals
    module = installed_module(installed_spotter)
    by_fold_spotted, by_all_spotted = {}, {}
    everything = module.frame_energy(2, None, step=3, me_max_seconds=0.5)
    everything.fit(videos)
    for fold in run["folds"]:
        test_subject = fold["test_group"]
        spotter = module.frame_energy(2, None, step=3, me_max_seconds=0.5)
        spotter.fit([video for video in videos if video.subject != test_subject])
        for video in videos:
            if video.subject == test_subject:
                by_fold_spotted[video.id] = sorted(spotter.spot_video(video))
                by_all_spotted[video.id] = sorted(everything.spot_video(video))
    assert {video_id: sorted(parse_intervals(row["predicted_label"])) for video_id, row in rows.items()} \
        == by_fold_spotted
    assert by_all_spotted != by_fold_spotted  # a fit that saw the test videos would answer otherwise
