"""Task kinds and learners are declared strategies: a kind owns its targets, answers and figures; a learner is
chosen once by the plan. The third kind, intervals in long videos (spotting), runs end to end on the same
house: plan, folds, fold records, summary, metrics.json, leaderboard."""

from __future__ import annotations

import json
import types

import numpy as np
import pandas as pd
import pytest

from mebench import hookimpl
from mebench.data import DatasetSpec, FrameSource, InputSpec, ModelSpec
from mebench.errors import ConfigError, MebenchError
from mebench.run.learners import ESTIMATOR, NET, SPOTTER, learner_for
from mebench.long_videos import Interval, LongVideo
from mebench.run.plan import RunConfig, plan_run
from mebench.records import Metrics
from mebench.run.runner import run
from mebench.spotting import megc_iou
from mebench.statistics import METRICS, metric_names
from mebench.tasks import (INTERVALS, MULTI_LABEL, SINGLE_LABEL, TASK_KINDS, MultiLabel, SingleLabel, intervals_text,
                           kind_of, read_intervals_text)
from tests.conftest import QUIET, tiny_registry


class Still(FrameSource):
    """A video of ``n`` black 8×8 frames numbered from ``first``."""

    def __init__(self, n: int, first: int = 1):
        self.n, self.first = n, first

    def indices(self):
        return list(range(self.first, self.first + self.n))

    def load(self, index):
        return np.zeros((8, 8), np.uint8)


#: Three subjects, two videos each; intervals as (onset, offset, type).
TRUTH = {
    ("s1", "a"): [(10, 14, "me"), (40, 80, "mae")],
    ("s1", "b"): [],
    ("s2", "a"): [(5, 9, "me")],
    ("s2", "b"): [(20, 60, "mae")],
    ("s3", "a"): [(30, 34, "me"), (50, 54, "me")],
    ("s3", "b"): [(70, 99, "mae")],
}
#: What the test spotter answers: per video, exactly these (its own, fixed answers).
ANSWERS = {
    "toy-long/s1/a": [(10, 14, "me"), (40, 79, "mae")],  # both found
    "toy-long/s1/b": [(3, 7, "me")],  # a false positive in a video without any expression
    "toy-long/s2/a": [(30, 33, "me")],  # missed the ME, one FP
    "toy-long/s2/b": [(20, 40, "mae")],  # IoU 21/41 ≥ 0.5: found
    "toy-long/s3/a": [(30, 34, "me")],  # one of two found
    "toy-long/s3/b": [],  # missed
}


def toy_videos(data_root=None):
    return [LongVideo("toy-long", f"toy-long/{subject}", video, 30.0, Still(100), 100,
                      tuple(Interval(onset, offset, kind) for onset, offset, kind in intervals))
            for (subject, video), intervals in TRUTH.items()]


class FixedSpotter:
    """Answers ``ANSWERS`` whatever the video holds; counts its fits."""

    fits: list[int] = []

    def fit(self, videos):
        FixedSpotter.fits.append(len(videos))

    def spot_video(self, video):
        return ANSWERS[video.id]


def spotting_plugin():
    module = types.ModuleType("toy_spotting_plugin")

    @hookimpl
    def mebench_register_datasets(register):
        register(DatasetSpec(name="toy-long", load=toy_videos, classes=("me", "mae"), kind=INTERVALS,
                             needs_data_root=False))

    @hookimpl
    def mebench_register_models(register):
        register(ModelSpec(name="fixed-spotter", factory=lambda num_classes, input_spec, **kw: FixedSpotter(),
                           input_spec=InputSpec(1, 1, 1), preprocessing=()))

    module.mebench_register_datasets = mebench_register_datasets
    module.mebench_register_models = mebench_register_models
    return module


@pytest.fixture(scope="module")
def spotting_registry():
    return tiny_registry(spotting_plugin())


def counts_by_hand(iou: float = 0.5):
    """(TP, FP, FN) per type, by the MEGC rule, counted here from TRUTH and ANSWERS."""
    result = {}
    for kind in ("me", "mae"):
        tp = fp = fn = 0
        for (subject, video), truth in TRUTH.items():
            answers = [a for a in ANSWERS[f"toy-long/{subject}/{video}"] if a[2] == kind]
            truth = [t for t in truth if t[2] == kind]
            found = sum(any(megc_iou(a[:2], t[:2]) >= iou for a in answers) for t in truth)
            tp, fp, fn = tp + found, fp + len(answers) - found, fn + len(truth) - found
        result[kind] = (tp, fp, fn)
    return result


def f1(tp, fp, fn):
    precision, recall = tp / (tp + fp), tp / (tp + fn)
    return 2 * precision * recall / (precision + recall)


def test_a_spotting_run_goes_through_the_house_and_scores_by_the_megc_rule(spotting_registry, tmp_path):
    FixedSpotter.fits.clear()
    config = RunConfig(model="fixed-spotter", dataset="toy-long", device="cpu", precision="fp32")
    plan = plan_run(config, spotting_registry)
    assert plan.kind is INTERVALS and plan.learner is SPOTTER and plan.chain == [] and plan.fold_batch == "off"
    outcome = run(config, spotting_registry, output_dir=tmp_path, **QUIET)
    assert FixedSpotter.fits == [4, 4, 4]  # LOSO over 3 subjects: each fold fits on the other two's 4 videos

    by_hand = counts_by_hand()
    assert by_hand == {"me": (2, 2, 2), "mae": (2, 0, 1)}
    metrics = json.loads((outcome.run_dir / "metrics.json").read_text())
    assert metrics["task"] == "intervals"
    pooled = metrics["pooled"]
    for kind in ("me", "mae"):
        tp, fp, fn = by_hand[kind]
        assert (pooled["per_class"][kind]["tp"], pooled["per_class"][kind]["fp"], pooled["per_class"][kind]["fn"]) \
            == (tp, fp, fn)
        assert pooled[f"f1_{kind}"] == pytest.approx(f1(tp, fp, fn))
    assert pooled["f1"] == pytest.approx(f1(4, 2, 3))  # from the pooled counts, not the mean of the two F1s
    assert pooled["f1"] != pytest.approx((pooled["f1_me"] + pooled["f1_mae"]) / 2)
    assert pooled["ci"]["unit"] == "subject" and pooled["ci"]["groups"] == 3

    predictions = pd.read_csv(outcome.run_dir / "predictions.csv", keep_default_na=False)
    row = predictions.set_index("sample_id").loc["toy-long/s1/a"]
    assert row["true_label"] == "me 10-14; mae 40-80" and row["predicted_label"] == "me 10-14; mae 40-79"
    assert predictions.set_index("sample_id").loc["toy-long/s3/b", "predicted_label"] == "none"
    assert not [c for c in predictions.columns if c.startswith("p_")]
    run_json = json.loads((outcome.run_dir / "run.json").read_text())
    assert run_json["learner"] == "spotter" and run_json["parameters"] == 0

    text = outcome.summary()
    rows = {tuple(cell.strip() for cell in line.strip("|").split("|")[:6]) for line in text.splitlines()}
    assert {("all", "ME", "6", "2", "2", "2"), ("all", "MaE", "6", "2", "0", "1"),
            ("all", "overall", "6", "4", "2", "3")} <= rows
    assert "chance: F1 0.000 when spotting nothing (7 ground-truth intervals, all missed)" in text


def test_a_spotting_run_resumes_and_its_leaderboard_ranks_by_overall_f1(spotting_registry, tmp_path, cli):
    config = RunConfig(model="fixed-spotter", dataset="toy-long", device="cpu", precision="fp32")
    first = run(config, spotting_registry, output_dir=tmp_path, **QUIET)
    (first.run_dir / "run.json").unlink()
    (first.run_dir / "folds" / "fold_001.json").unlink()
    FixedSpotter.fits.clear()
    again = run(config, spotting_registry, output_dir=tmp_path, **QUIET)
    assert FixedSpotter.fits == [4]  # only the missing fold ran again
    assert again.record.metrics.pooled.value("f1") == pytest.approx(f1(4, 2, 3))

    from mebench.analysis.configurations import load_configurations
    from mebench.analysis.leaderboard import Layout

    configurations = load_configurations(tmp_path)
    layout = Layout.of(configurations)
    assert (layout.names, layout.ranking) == (("f1", "f1_me", "f1_mae"), "f1")
    statistics = configurations[0].statistics()
    assert statistics["estimate"]["f1"] == pytest.approx(f1(4, 2, 3))
    assert statistics["estimate"]["f1_me"] == pytest.approx(f1(2, 2, 2))


def test_each_learner_refuses_a_kind_it_cannot_learn(spotting_registry):
    with pytest.raises(ConfigError, match="model 'tiny' is a net; task 'toy-long' has intervals in long videos"):
        plan_run(RunConfig(model="tiny", dataset="toy-long", device="cpu"), spotting_registry)
    with pytest.raises(ConfigError, match="model 'fixed-spotter' is a spotter; task 'synthetic' has one class"):
        plan_run(RunConfig(model="fixed-spotter", dataset="synthetic", device="cpu"), spotting_registry)
    with pytest.raises(ConfigError, match="--selection inner-val: model 'fixed-spotter' is a spotter"):
        plan_run(RunConfig(model="fixed-spotter", dataset="toy-long", device="cpu", selection="inner-val"),
                 spotting_registry)


def test_the_learner_is_chosen_from_what_the_factory_builds():
    from sklearn.svm import SVC
    from torch import nn

    assert learner_for(lambda: nn.Linear(2, 2)) is NET
    assert learner_for(lambda: SVC(probability=True)) is ESTIMATOR
    assert learner_for(lambda: FixedSpotter()) is SPOTTER

    class NetSpotter(nn.Module):  # a learned spotter may be a net
        def spot_video(self, video):
            return []

    assert learner_for(lambda: NetSpotter()) is SPOTTER
    assert learner_for(lambda: nn.Linear(2, 2), declared="spotter") is SPOTTER  # a declaration wins
    with pytest.raises(ConfigError, match="declares learner 'tree'"):
        learner_for(lambda: nn.Linear(2, 2), declared="tree")


def test_intervals_round_trip_through_predictions_text():
    triples = [(40, 80, "mae"), (10, 14, "me")]
    assert intervals_text(triples) == "me 10-14; mae 40-80"
    assert read_intervals_text("me 10-14; mae 40-80") == sorted(triples)
    assert intervals_text([]) == "none" and read_intervals_text("none") == []
    with pytest.raises(ValueError, match="'blink 3-4' is not an interval"):
        read_intervals_text("me 1-2; blink 3-4")


def test_every_kind_declares_its_figures_once():
    assert set(TASK_KINDS) == {"single-label", "multi-label", "intervals", "spot-then-recognise"}
    assert TASK_KINDS["intervals"] is INTERVALS
    for kind in TASK_KINDS.values():
        names = kind.metric_names(("AU1", "AU2"))
        assert kind.ranking in names
        assert set(metric_names(kind.name)) <= set(names)
        assert set(kind.metric_labels(("AU1", "AU2"))) >= set(names)
    declared = [m.name for m in METRICS]
    assert len(declared) == len(set(declared))
    assert metric_names("single-label") == ("accuracy", "uf1", "uar")
    assert (SINGLE_LABEL.ranking, MULTI_LABEL.ranking, INTERVALS.ranking) == ("uf1", "macro_f1", "f1")


def test_a_figure_is_computed_by_its_one_declaration_for_the_point_and_every_draw():
    """Replacing a declaration's from_counts changes metrics.json's figure and its interval alike."""
    from dataclasses import replace

    import mebench.statistics as statistics

    frame = pd.DataFrame({"sample_id": [f"d/{i}" for i in range(6)], "dataset": "d",
                          "subject": ["d/a", "d/a", "d/b", "d/b", "d/c", "d/c"], "fold": 0,
                          "true_label": ["negative", "positive", "surprise", "negative", "positive", "surprise"],
                          "predicted_label": ["negative", "positive", "negative", "negative", "surprise", "surprise"]})
    classes = ("negative", "positive", "surprise")
    before = SINGLE_LABEL.pooled(frame, classes)["pooled"]
    assert before["accuracy"] == pytest.approx(4 / 6)
    original = statistics.METRICS
    try:
        statistics.METRICS = tuple(replace(m, from_counts=lambda counts: np.zeros(np.shape(counts)[:-2]))
                                   if m.name == "accuracy" else m for m in original)
        after = SINGLE_LABEL.pooled(frame, classes)["pooled"]
    finally:
        statistics.METRICS = original
    assert after["accuracy"] == 0.0 and after["ci"]["accuracy"] == [0.0, 0.0]
    assert after["uf1"] == before["uf1"]


def test_old_metrics_records_read_as_their_kind():
    block = {"n": 1, "accuracy": 1.0, "uf1": 1.0, "uar": 1.0, "per_class": {}}
    assert Metrics.from_json({"classes": ["a"], "pooled": block, "fold_mean": {}}).task == "single-label"
    labels = {"n": 1, "macro_f1": 0.5, "per_class": {}}
    recorded = Metrics.from_json({"classes": ["AU1"], "task": "multi-label", "pooled": labels, "fold_mean": {}})
    assert recorded.task == "multi-label" and recorded.to_json()["task"] == "multi-label"
    assert "task" not in Metrics.from_json({"classes": ["a"], "pooled": block, "fold_mean": {}}).to_json()


# --- the registered spotting tasks and spotters, through the CLI --------------------------------------------------

def test_data_check_of_a_long_video_database_in_its_distributed_layout(tmp_path, cli):
    from tests.plugins.datasets.test_long_videos import write_casme2_long

    root = write_casme2_long(tmp_path)  # tmp_path/CASME_sq, the folder CAS(ME)² unpacks to
    result = cli("data", "check", "casme2-long", "--data-root", tmp_path)
    assert result.exit_code == 0, result.output
    assert "casme2-long: 4 videos, 2 subjects, 2 ME and 3 MaE intervals, 240 frames" in result.output
    assert result.output.rstrip().endswith("casme2-long: OK (4 annotation slip(s) corrected)")
    assert cli("data", "check", "casme2-long", "--dataset-opt", f"root={root}").exit_code == 0
    missing = cli("data", "check", "casme2-long", "--data-root", tmp_path / "nowhere")
    assert missing.exit_code != 0 and "no such folder" in missing.output and "Traceback" not in missing.output


def test_a_registered_spotter_runs_on_synthetic_long_and_the_leaderboard_shows_it(tmp_path, cli):
    result = cli("run", "--model", "feature-difference", "--dataset", "synthetic-long", "--dataset-opt",
                 "preset=quick", "-o", tmp_path, "-q")
    assert result.exit_code == 0, result.output
    assert "a spotter run on each test video" in result.output and "chance: F1 0.000 when spotting nothing" in result.output
    (run_dir,) = tmp_path.iterdir()
    metrics = json.loads((run_dir / "metrics.json").read_text())
    truth = metrics["pooled"]["per_class"]
    assert (truth["me"]["truth"], truth["mae"]["truth"]) == (8, 4)  # the quick preset's planted intervals
    assert truth["mae"]["predictions"] == 0  # the feature-difference spotter types what it finds ME
    board = cli("leaderboard", "--results", tmp_path)
    assert board.exit_code == 0 and "### synthetic-long — LOSO, fixed selection" in board.output
    assert "| feature-difference | ★ best |" in board.output


@pytest.mark.parametrize("answer", [(14, 10, "me"), (95, 101, "me"), (10, 14, "blink"), (10, 14), (None, 14, "me"),
                                    (10.7, 14.2, "me"), ("10", "14", "me")])
def test_a_spotter_answer_that_is_no_interval_of_the_video_is_one_line(spotting_registry, tmp_path, monkeypatch,
                                                                          answer):
    from mebench.errors import RunError

    monkeypatch.setitem(ANSWERS, "toy-long/s1/a", [answer])
    config = RunConfig(model="fixed-spotter", dataset="toy-long", device="cpu", precision="fp32")
    with pytest.raises(RunError) as error:
        run(config, spotting_registry, output_dir=tmp_path, **QUIET)
    assert f"spotter FixedSpotter on video toy-long/s1/a: interval {answer!r} is not one of its frames 1..100 with " \
           f"a type among me, mae (onset, offset as whole frame numbers, type); fix the spotter" in str(error.value)
    assert "\n" not in str(error.value)


def test_a_registered_spotter_answers_in_the_videos_own_frame_numbers():
    from mebench_plugins.spotters.registered import HandCraftedSpotter

    calls = []

    def spot(frames, fps, **options):  # positions 2..5 of whatever it is given
        calls.append((frames.shape, fps, options))
        return [(2, 5, 0.9)]

    video = LongVideo("toy-long", "toy-long/s9", "z", 25.0, Still(40, first=101), 40)
    spotter = HandCraftedSpotter(spot, ("me", "mae"), {"k": None, "p": 0.2}, per_type=True)
    assert spotter.spot_video(video) == [(103, 106, "me"), (103, 106, "mae")]
    assert calls == [((40, 8, 8), 25.0, {"p": 0.2, "expression": "me"}), ((40, 8, 8), 25.0, {"p": 0.2, "expression": "mae"})]


def test_a_spotting_configuration_is_drawn_as_true_and_spotted_intervals_along_its_videos(spotting_registry,
                                                                                          tmp_path):
    import matplotlib.image

    from mebench.analysis.configurations import load_configurations
    from mebench.analysis.plots import configuration_plots

    run(RunConfig(model="fixed-spotter", dataset="toy-long", device="cpu", precision="fp32"), spotting_registry,
        output_dir=tmp_path / "results", **QUIET)
    (configuration,) = load_configurations(tmp_path / "results")
    plots = configuration_plots(configuration, tmp_path / "plots")
    assert set(plots) == {"intervals", "subjects"}
    pixels = matplotlib.image.imread(plots["intervals"])[..., :3]
    red = (pixels[..., 0] > 0.75) & (pixels[..., 1] < 0.25) & (pixels[..., 2] < 0.25)  # ME: tab:red
    blue = (pixels[..., 2] > 0.6) & (pixels[..., 0] < 0.2)  # MaE: tab:blue
    assert red.sum() > 200 and blue.sum() > 200


class OtherSpotter(FixedSpotter):
    """``FixedSpotter`` that misses everything in subject s1's first video."""

    def spot_video(self, video):
        return [] if video.id == "toy-long/s1/a" else ANSWERS[video.id]


def test_two_spotting_configurations_are_ranked_and_compared_pairwise(spotting_registry, tmp_path, cli):
    module = types.ModuleType("other_spotter_plugin")

    @hookimpl
    def mebench_register_models(register):
        register(ModelSpec(name="other-spotter", factory=lambda num_classes, input_spec, **kw: OtherSpotter(),
                           input_spec=InputSpec(1, 1, 1), preprocessing=(), learner="spotter"))

    module.mebench_register_models = mebench_register_models
    registry = tiny_registry(spotting_plugin(), module)
    for model in ("fixed-spotter", "other-spotter"):
        run(RunConfig(model=model, dataset="toy-long", device="cpu", precision="fp32"), registry, output_dir=tmp_path,
            **QUIET)
    board = cli("leaderboard", "--results", tmp_path)
    assert board.exit_code == 0, board.output
    rows = [line for line in board.output.splitlines() if line.startswith("| fixed-spotter") or
            line.startswith("| other-spotter")]
    assert rows[0].startswith("| fixed-spotter | ★ best") and rows[1].startswith("| other-spotter |")
    compared = cli("compare", "fixed-spotter", "other-spotter", "--results", tmp_path)
    assert compared.exit_code == 0, compared.output
    # other-spotter loses s1/a's two found intervals: ΔF1 = F1(4, 2, 3) − F1(2, 2, 5)
    delta = f1(4, 2, 3) - f1(2, 2, 5)
    assert f"{delta:+.3f}" in compared.output


def test_a_damaged_spotting_fold_record_is_discarded_and_its_fold_run_again(spotting_registry, tmp_path):
    config = RunConfig(model="fixed-spotter", dataset="toy-long", device="cpu", precision="fp32")
    first = run(config, spotting_registry, output_dir=tmp_path, **QUIET)
    (first.run_dir / "run.json").unlink()
    path = first.run_dir / "folds" / "fold_000.json"
    record = json.loads(path.read_text())
    record["predictions"][0]["probabilities"] = [14, 10, 0]  # offset before onset
    path.write_text(json.dumps(record))
    FixedSpotter.fits.clear()
    lines = []
    again = run(config, spotting_registry, output_dir=tmp_path, progress=False, workers=1, log=lines.append)
    assert FixedSpotter.fits == [4]
    assert any("fold_000.json" in line and "holds (14, 10, 0), not an interval" in line and "trained again" in line
               for line in lines)
    assert again.record.metrics.pooled.value("f1") == pytest.approx(f1(4, 2, 3))


def test_a_spotting_file_is_scored_against_a_spotting_tasks_own_videos(tmp_path, cli):
    """``mebench score --task synthetic-long``: the ground truth is the generated videos' intervals; videos may be
    named as the MEGC files name them."""
    from mebench_plugins.datasets.synthetic_long import load_synthetic_long

    videos = load_synthetic_long()
    first = videos[0]
    subject = first.subject.rsplit("/", 1)[-1]
    me = next(i for i in first.intervals if i.kind == "me")
    rows = ["vid,onset,offset,type", f"{subject}_{first.video},{me.onset},{me.offset},me",  # one found
            f"{videos[1].id},1,5,mae"]  # one false positive
    (tmp_path / "spots.csv").write_text("\n".join(rows) + "\n")
    result = cli("score", tmp_path / "spots.csv", "--task", "synthetic-long", "--json")
    assert result.exit_code == 0, result.output
    scored = json.loads(result.output)
    total = sum(len(v.intervals) for v in videos)
    assert (scored["overall"]["tp"], scored["overall"]["fp"], scored["overall"]["fn"]) == (1, 1, total - 1)
    assert scored["videos"] == len(videos)
    unknown = cli("score", tmp_path / "spots.csv", "--task", "synthetic-long", "--dataset-opt", "subjects=3")
    assert unknown.exit_code == 0  # the same names exist in a larger set
    (tmp_path / "bad.csv").write_text("vid,onset,offset,type\nnope,1,5,me\n")
    bad = cli("score", tmp_path / "bad.csv", "--task", "synthetic-long")
    assert bad.exit_code != 0 and "video 'nope' is not in the ground truth" in bad.output


@pytest.mark.parametrize("task, write, headline", [
    ("samm-long", "write_samm_long", "samm-long: 3 videos, 2 subjects"),
    ("casme3a-long", "write_casme3a_long", "casme3a-long: 3 videos, 2 subjects"),
])
def test_data_check_finds_each_long_video_database_in_its_folder_under_the_data_root(tmp_path, cli, task, write,
                                                                                    headline):
    import tests.plugins.datasets.test_long_videos as fixtures

    getattr(fixtures, write)(tmp_path)
    result = cli("data", "check", task, "--data-root", tmp_path)
    assert result.exit_code == 0, result.output
    assert result.output.startswith(headline)


# --- a plugin's own task kind: declared through the registry, found by name when its records are read back ---------

class Graded(SingleLabel):
    """A plugin's kind: one class per sample, scored as single-label, under a name of its own."""

    name = "graded-emotion"


GRADED = Graded()
EMOTIONS = ("negative", "positive", "surprise")
#: Six samples of three subjects; four answers right. By hand: accuracy 4/6; F1 negative 4/5 (TP 2, FP 1),
#: positive 2/3 (TP 1, FN 1), surprise 1/2 (TP 1, FP 1, FN 1); recall 1, 1/2, 1/2.
SIX = pd.DataFrame({"sample_id": [f"d/{i}" for i in range(6)], "dataset": "d",
                    "subject": ["d/a", "d/a", "d/b", "d/b", "d/c", "d/c"], "fold": 0,
                    "true_label": ["negative", "positive", "surprise", "negative", "positive", "surprise"],
                    "predicted_label": ["negative", "positive", "negative", "negative", "surprise", "surprise"]})


def kind_plugin(*kinds, datasets=()):
    """A plugin module declaring ``kinds`` through the hook and registering ``datasets``."""
    module = types.ModuleType("kind_plugin")

    @hookimpl
    def mebench_register_task_kinds(register):
        for kind in kinds:
            register(kind)

    @hookimpl
    def mebench_register_datasets(register):
        for spec in datasets:
            register(spec)

    module.mebench_register_task_kinds = mebench_register_task_kinds
    module.mebench_register_datasets = mebench_register_datasets
    return module


def load_plugin(module):
    from mebench.registry import PluginInfo, Registry

    info = PluginInfo(module.__name__, module.__name__, "tests", "0")
    Registry().load_module(module, info)
    return info


@pytest.fixture
def known_kinds(monkeypatch):
    """The kinds known by name, as they are; a registry adds a plugin's kinds to the table, restored afterwards."""
    import mebench.tasks as tasks

    monkeypatch.setattr(tasks, "TASK_KINDS", dict(tasks.TASK_KINDS))
    return tasks


def test_a_plugins_task_kind_is_found_by_name_when_its_metrics_are_read_back(known_kinds, tmp_path):
    from mebench.records import read_record
    from mebench.schema import RecordError

    pooled = GRADED.pooled(SIX, EMOTIONS)
    with pytest.raises(RecordError, match="unknown task kind 'graded-emotion'"):
        Metrics.from_json(pooled)  # not declared by any plugin loaded yet
    info = load_plugin(kind_plugin(GRADED))
    assert info.error is None and info.registered == ["task kind:graded-emotion"]
    path = tmp_path / "metrics.json"
    path.write_text(json.dumps(Metrics.from_json(pooled).to_json()))
    assert json.loads(path.read_text())["task"] == "graded-emotion"
    read = Metrics.from_json(read_record("metrics", path))
    assert kind_of(read) is GRADED and read.task == "graded-emotion"
    # scored by the figures of the kind it extends, in their order
    assert list(read.pooled.figures) == ["accuracy", "uf1", "uar"]
    assert read.pooled.figures == pytest.approx({"accuracy": 4 / 6, "uf1": (4 / 5 + 2 / 3 + 1 / 2) / 3,
                                                 "uar": (1 + 1 / 2 + 1 / 2) / 3})
    assert GRADED.metric_names(EMOTIONS) == ("accuracy", "uf1", "uar")
    again = load_plugin(kind_plugin(GRADED))  # another registry of the same plugins: the same kind, no conflict
    assert again.error is None and again.registered == []


def test_a_kind_taking_a_known_name_breaks_its_plugin_and_a_datasets_new_kind_comes_with_it(known_kinds):
    class Impostor(MultiLabel):
        name = "single-label"

    broken = load_plugin(kind_plugin(Impostor()))
    assert "task kind 'single-label' is already SingleLabel, not Impostor" in broken.error
    assert known_kinds.task_kind("single-label") is SINGLE_LABEL

    class Ranked(MultiLabel):
        name = "ranked-labels"

    spec = DatasetSpec(name="ranked-data", load=lambda data_root=None: [], classes=("AU1",), kind=Ranked())
    info = load_plugin(kind_plugin(datasets=[spec]))
    assert info.error is None and info.registered == ["dataset:ranked-data", "task kind:ranked-labels"]
    assert known_kinds.task_kind("ranked-labels") is spec.kind


def test_a_metrics_block_is_read_by_the_figures_of_the_kind_it_names():
    from mebench.schema import RecordError

    both = {"n": 2, "accuracy": 0.5, "uf1": 0.4, "uar": 0.5, "macro_f1": 0.3, "macro_f1_all": 0.2, "per_class": {}}
    labels = Metrics.from_json({"classes": ["AU1"], "task": "multi-label", "pooled": both, "fold_mean": {}})
    assert labels.pooled.figures == {"macro_f1": 0.3, "macro_f1_all": 0.2}
    emotions = Metrics.from_json({"classes": ["a"], "pooled": both, "fold_mean": {}})
    assert emotions.pooled.figures == {"accuracy": 0.5, "uf1": 0.4, "uar": 0.5}
    with pytest.raises(RecordError, match="has a 'intervals' block without f1, f1_me, f1_mae"):
        Metrics.from_json({"classes": ["me", "mae"], "task": "intervals", "pooled": both, "fold_mean": {}})


def test_the_plugin_guides_task_kind_registers_and_its_runs_figures_read_back(known_kinds):
    """docs/plugins.md's kind, loaded as a plugin: registered by its hook, found by name, scored as single-label."""
    import re
    from pathlib import Path

    guide = (Path(__file__).resolve().parents[2] / "docs" / "plugins.md").read_text()
    code = re.search(r"^## A task kind\n.*?```python\n(.*?)```", guide, re.S | re.M).group(1)
    module = types.ModuleType("graded_emotion")
    exec(compile(code, "graded_emotion.py", "exec"), module.__dict__)
    info = load_plugin(module)
    assert info.error is None and info.registered == ["task kind:graded-emotion"]
    written = Metrics.from_json(module.GRADED_EMOTION.pooled(SIX, EMOTIONS)).to_json()
    read = Metrics.from_json(json.loads(json.dumps(written)))
    assert kind_of(read) is module.GRADED_EMOTION
    assert read.pooled.figures == pytest.approx({"accuracy": 4 / 6, "uf1": (4 / 5 + 2 / 3 + 1 / 2) / 3,
                                                 "uar": (1 + 1 / 2 + 1 / 2) / 3})


def test_every_command_reading_saved_runs_loads_the_plugins_first_so_their_kinds_are_known(monkeypatch, tmp_path):
    import mebench.cli as cli_module

    loaded = []
    monkeypatch.setattr(cli_module, "default_registry", lambda: loaded.append("plugins"))
    monkeypatch.setattr("mebench.analysis.configurations.load_configurations",
                        lambda folder, skipped: loaded.append("runs") or [])
    with pytest.raises(MebenchError, match="no complete runs"):
        cli_module.load_saved_runs(tmp_path)  # leaderboard, compare, report
    monkeypatch.setattr("mebench.analysis.export.export_runs", lambda *args, **kwargs: loaded.append("export") or [])
    cli_module.export.callback((tmp_path,), "tensorboard", None, "mebench")
    assert loaded == ["plugins", "runs", "plugins", "export"]
