"""What a run states and records (issue 29), on tiny cases in the fast set: the epochs its dataset's start line
names when the dataset's budget is used, the chance line an emotion run prints beside its figures,
``synthetic-au``'s own epoch budget, and ``run.json``'s annotation corrections."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pandas as pd
import pytest

from mebench.run.plan import plan_run
from mebench.run.runner import run
from mebench_plugins.datasets.synthetic import DEFAULT_PRESET, PRESETS
from tests.conftest import tiny_config, tiny_run
from tests.kit.database_fixtures import MMEW_SLIPS, write_mmew

DATASETS_DOC = Path(__file__).resolve().parents[3] / "docs" / "datasets.md"


@pytest.fixture(scope="module")
def budget_run(registry, tmp_path_factory):
    """The tiny task with no --epochs: its preset's budget is used. Returns the outcome and the logged lines."""
    lines: list[str] = []
    outcome = run(tiny_config(epochs=None), registry, output_dir=tmp_path_factory.mktemp("budget"), progress=False,
                  workers=1, log=lines.append)
    return outcome, lines


def test_the_start_line_names_the_epochs_actually_used(budget_run):
    outcome, lines = budget_run
    budget = PRESETS[DEFAULT_PRESET]["epochs"]
    assert outcome.record.epochs == budget
    [note] = [line for line in lines if line.startswith("synthetic:")]
    assert note.startswith(f"synthetic: 3 subjects, 12 clips, {budget} epochs, batch ")
    [plan_line] = [line for line in lines if line.startswith("tiny on synthetic")]
    assert f", {budget} epochs, " in plan_line


def test_an_emotion_run_prints_its_chance_line_beside_its_figures(budget_run):
    outcome, _ = budget_run
    truth = pd.read_csv(outcome.run_dir / "predictions.csv")["true_label"]
    shares = [count / len(truth) for count in truth.value_counts()]
    k = len(shares)
    uf1 = sum(2 * p * (1 / k) / (p + 1 / k) for p in shares) / k
    expected = (f"chance: accuracy {max(shares):.3f} (always the most frequent class), UF1 {uf1:.3f} and UAR "
                f"{1 / k:.3f} (uniform guessing)")
    lines = outcome.summary().splitlines()
    assert expected in lines
    table = next(i for i, line in enumerate(lines) if line.startswith("| all (pooled)"))
    assert table < lines.index(expected) < next(i for i, line in enumerate(lines) if line.startswith("| class"))


def test_synthetic_au_uses_its_own_documented_epoch_budget(registry):
    """docs/datasets.md's table of the synthetic-au presets gives each its epochs and batch."""
    section = DATASETS_DOC.read_text().split("## The synthetic action-unit task")[1].split("\n## ")[0]
    rows = re.findall(r"^\| `(\w+)`(?: \(default\))? \| (\d+) \| (\d+) \| (\d+), (\d+) \|", section, re.M)
    documented = {preset: (int(epochs), int(batch)) for preset, _, _, epochs, batch in rows}
    assert set(documented) == {"start", "quick", "standard"}
    for preset, (epochs, batch) in documented.items():
        plan = plan_run(tiny_config(dataset="synthetic-au", epochs=None, batch_size=None,
                                    dataset_options={"preset": preset, "subjects": 3, "clips_per_subject": 4,
                                                     "size": 48}), registry)
        assert (plan.settings.epochs, plan.settings.batch_size) == (epochs, batch), preset
        emotion = plan_run(tiny_config(epochs=None, dataset_options={"preset": preset, "subjects": 3,
                                                                     "clips_per_subject": 4}), registry)
        assert emotion.settings.epochs == PRESETS[preset]["epochs"] != epochs


def test_run_json_records_each_samples_annotation_corrections(registry, tmp_path):
    write_mmew(tmp_path / "data")
    outcome = tiny_run(registry, tmp_path / "results", dataset="mmew", data_root=str(tmp_path / "data"),
                       dataset_options={}, batch_size=8)
    corrections = json.loads((outcome.run_dir / "run.json").read_text())["annotation_corrections"]
    assert set(corrections) == set(MMEW_SLIPS)
    [offset] = corrections["mmew/S02/S02-02-001"]
    assert offset.endswith("mmew/S02/S02-02-001: offset 33 is past the clip's last frame 13; used offset 13 "
                           "(the last frame)")
    [apex] = corrections["mmew/S03/S03-05-001"]
    assert apex.endswith("mmew/S03/S03-05-001: apex frame not annotated; used the apex rule of the preprocessing "
                         "chain")
