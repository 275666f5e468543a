"""Spot-then-recognise: within each fold a spotter finds intervals and a recogniser trained on the fold's training
videos classifies them; scored by the MEGC rule for spotting, UF1 and UAR on the spotted true positives, and
STRS = spotting F1 × recognition UF1."""

from __future__ import annotations

import json
import types

import numpy as np
import pandas as pd
import pytest
import torch
from sklearn.metrics import f1_score, recall_score

from mebench import hookimpl
from mebench.data import DatasetSpec, FrameSource, InputSpec, ModelSpec
from mebench.errors import ConfigError, OptionError
from mebench.run.learners import SPOT_THEN_RECOGNISE as STR_LEARNER
from mebench.long_videos import Interval, LongVideo
from mebench.run.plan import RunConfig, plan_run
from mebench.run.runner import run
from mebench.spotting import Spotted, megc_iou, recognised_pairs, video_counts
from mebench.statistics import metric_names, recognition_confusion
from mebench.tasks import INTERVALS, SPOT_THEN_RECOGNISE, STR_EMOTIONS, read_str_text, str_text
from tests.conftest import QUIET, TINY_CHAIN, tiny_registry


class Ramp(FrameSource):
    """``n`` 24×24 frames numbered from 1, each a little brighter than the one before (so flows are finite)."""

    def __init__(self, n: int):
        self.n = n

    def indices(self):
        return list(range(1, self.n + 1))

    def load(self, index):
        image = np.zeros((24, 24), np.uint8)
        image[4 + index % 8:12 + index % 8, 6:18] = 120
        return image


#: Two videos per subject; intervals as (onset, offset, type, emotion); None: an interval without an emotion.
TRUTH = {
    ("s1", "a"): [(10, 14, "me", "negative"), (40, 80, "mae", "surprise")],
    ("s1", "b"): [(20, 26, "me", None)],
    ("s2", "a"): [(5, 9, "me", "surprise")],
    ("s2", "b"): [(20, 60, "mae", "negative")],
    ("s3", "a"): [(30, 34, "me", "positive"), (50, 54, "me", "negative")],
    ("s3", "b"): [(70, 99, "mae", "positive")],
}
#: What the spotter answers per video.
ANSWERS = {
    "emo-long/s1/a": [(10, 14, "me"), (40, 79, "mae")],  # both found
    "emo-long/s1/b": [(20, 26, "me"), (60, 66, "me")],  # found (no emotion: spotting only) and one FP
    "emo-long/s2/a": [(30, 33, "me")],  # missed, one FP
    "emo-long/s2/b": [(20, 40, "mae")],  # found (IoU 21/41)
    "emo-long/s3/a": [(30, 34, "me")],  # one of two found
    "emo-long/s3/b": [],  # missed
}
#: The recogniser below answers this for every clip.
ALWAYS = "positive"


def emotion_videos(data_root=None, emotions=None):
    return [LongVideo("emo-long", f"emo-long/{subject}", video, 30.0, Ramp(100), 100,
                      tuple(Interval(onset, offset, kind, None, (emotions or {}).get(emotion, emotion))
                            for onset, offset, kind, emotion in intervals))
            for (subject, video), intervals in TRUTH.items()]


class FixedSpotter:
    def fit(self, videos):
        pass

    def spot_video(self, video):
        return ANSWERS[video.id]


class RecognisingSpotter(FixedSpotter):
    """Answers ``ANSWERS`` with an emotion of its own: ``surprise`` for every ME, ``negative`` for every MaE."""

    recognises = True

    def spot_video(self, video):
        return [(*a, "surprise" if a[2] == "me" else "negative") for a in ANSWERS[video.id]]


class Always(torch.nn.Module):
    """A recogniser that answers ``ALWAYS`` for every clip (a bias far above the others; lr 1e-4 cannot move it)."""

    def __init__(self, num_classes: int, input_spec: InputSpec):
        super().__init__()
        self.bias = torch.nn.Parameter(torch.tensor([20.0 if c == ALWAYS else 0.0 for c in STR_EMOTIONS]))

    def forward(self, x):
        return self.bias.expand(len(x), -1) + 0.0 * x.flatten(1).sum(dim=1, keepdim=True)


def str_plugin():
    module = types.ModuleType("toy_str_plugin")

    @hookimpl
    def mebench_register_datasets(register):
        register(DatasetSpec(name="emo-long", load=emotion_videos, classes=("me", "mae"), kind=INTERVALS,
                             needs_data_root=False))
        register(DatasetSpec(name="raw-emotions-long", classes=("me", "mae"), kind=INTERVALS, needs_data_root=False,
                             load=lambda data_root=None: emotion_videos(emotions={"negative": "disgust"})))

    @hookimpl
    def mebench_register_models(register):
        register(ModelSpec(name="fixed-spotter", factory=lambda num_classes, input_spec, **kw: FixedSpotter(),
                           input_spec=InputSpec(1, 1, 1), preprocessing=()))
        register(ModelSpec(name="recognising-spotter", input_spec=InputSpec(1, 1, 1), preprocessing=(),
                           factory=lambda num_classes, input_spec, **kw: RecognisingSpotter()))
        register(ModelSpec(name="always", factory=lambda num_classes, input_spec, **kw: Always(num_classes, input_spec),
                           input_spec=InputSpec(3, 16, 16), preprocessing=TINY_CHAIN))

    module.mebench_register_datasets = mebench_register_datasets
    module.mebench_register_models = mebench_register_models
    return module


@pytest.fixture(scope="module")
def str_registry():
    return tiny_registry(str_plugin())


def str_config(**overrides):
    values = dict(model="fixed-spotter", dataset="emo-long", protocol="str",
                  protocol_options={"recogniser": "always"}, epochs=1, batch_size=4, device="cpu", precision="fp32")
    return RunConfig(**{**values, **overrides})


def by_hand():
    """Per type: (TP, FP, FN) by the MEGC rule and the (true, recognised) emotions of the TPs with an emotion."""
    result = {}
    for kind in ("me", "mae"):
        tp = fp = fn = 0
        pairs = []
        for (subject, video), truth in TRUTH.items():
            answers = [a for a in ANSWERS[f"emo-long/{subject}/{video}"] if a[2] == kind]
            truth = [t for t in truth if t[2] == kind]
            found = [t for t in truth if any(megc_iou(a[:2], t[:2]) >= 0.5 for a in answers)]
            tp, fp, fn = tp + len(found), fp + len(answers) - len(found), fn + len(truth) - len(found)
            pairs += [(t[3], ALWAYS) for t in found if t[3] is not None]
        result[kind] = (tp, fp, fn, pairs)
    return result


def f1(tp, fp, fn):
    precision, recall = (tp / (tp + fp) if tp + fp else 0.0), (tp / (tp + fn) if tp + fn else 0.0)
    return 2 * precision * recall / (precision + recall) if precision + recall else 0.0


def uf1_uar(pairs):
    true, predicted = [p[0] for p in pairs], [p[1] for p in pairs]
    return (f1_score(true, predicted, average="macro"),
            recall_score(true, predicted, average="macro", labels=sorted(set(true))))


def test_a_str_run_scores_recognition_on_the_spotted_true_positives_and_strs_is_their_product(str_registry, tmp_path,
                                                                                           monkeypatch):
    import mebench.run.spot_recognise as spot_recognise

    prepared = []
    real_prepare = spot_recognise.prepare

    def recording(samples, *args, **kwargs):
        prepared.append([s.id for s in samples])
        return real_prepare(samples, *args, **kwargs)

    monkeypatch.setattr(spot_recognise, "prepare", recording)
    plan = plan_run(str_config(), str_registry)
    assert plan.kind is SPOT_THEN_RECOGNISE and plan.learner is STR_LEARNER and plan.recogniser.spec.name == "always"
    outcome = run(str_config(), str_registry, output_dir=tmp_path, **QUIET)
    # the system's parameters: the fixed spotter has none, the recogniser its bias of one per emotion
    assert json.loads((outcome.run_dir / "run.json").read_text())["parameters"] == len(STR_EMOTIONS)

    # each fold's recogniser learns from the training videos' intervals with an emotion, and only from them
    for fold, ids in zip(plan.folds, prepared):
        train_videos = {plan.samples[i].id for i in fold.train}
        test_videos = {plan.samples[i].id for i in fold.test}
        training = [i for i in ids if "@spotted:" not in i]
        assert {i.split("@")[0] for i in training} <= train_videos
        assert len(training) == sum(1 for (s, v), t in TRUTH.items() for row in t
                                    if f"emo-long/{s}/{v}" in train_videos and row[3] is not None)
        spotted = [i for i in ids if "@spotted:" in i]
        assert len(spotted) == sum(len(ANSWERS[v]) for v in test_videos)

    hand = by_hand()
    assert [hand[k][:3] for k in ("me", "mae")] == [(3, 2, 2), (2, 0, 1)]
    metrics = json.loads((outcome.run_dir / "metrics.json").read_text())
    assert metrics["task"] == "spot-then-recognise"
    pooled = metrics["pooled"]
    pairs = hand["me"][3] + hand["mae"][3]
    assert len(pairs) == 4 == pooled["per_class"]["overall"]["recognised"]  # the emotionless TP is not scored
    assert pooled["per_class"]["overall"]["recognised_right"] == sum(t == r for t, r in pairs) == 1
    uf1, uar = uf1_uar(pairs)
    assert pooled["recognition_uf1"] == pytest.approx(uf1) and pooled["recognition_uar"] == pytest.approx(uar)
    spotted_f1 = f1(5, 2, 3)
    assert pooled["f1"] == pytest.approx(spotted_f1)
    assert pooled["strs"] == pytest.approx(spotted_f1 * uf1)
    for kind in ("me", "mae"):
        tp, fp, fn, own = hand[kind]
        assert pooled[f"strs_{kind}"] == pytest.approx(f1(tp, fp, fn) * uf1_uar(own)[0])

    rows = pd.read_csv(outcome.run_dir / "predictions.csv", keep_default_na=False).set_index("sample_id")
    assert rows.loc["emo-long/s1/a", "true_label"] == "me 10-14 negative; mae 40-80 surprise"
    assert rows.loc["emo-long/s1/a", "predicted_label"] == "me 10-14 positive; mae 40-79 positive"
    assert rows.loc["emo-long/s1/b", "true_label"] == "me 20-26"
    assert json.loads((outcome.run_dir / "run.json").read_text())["learner"] == "spot-then-recognise"
    assert "STRS" in outcome.summary() and f"{pooled['strs']:.3f}" in outcome.summary()


def test_recognition_takes_the_best_overlapping_prediction_of_each_found_interval():
    truth = [(10, 20, "negative"), (40, 50, None), (70, 80, "surprise")]
    predicted = [(9, 19, "positive"), (10, 20, "negative"), (40, 50, "surprise"), (100, 110, "surprise")]
    # (10, 20) is matched by two predictions: the exact one (IoU 1) wins; (40, 50) has no emotion; (70, 80) missed
    assert recognised_pairs(predicted, truth) == [("negative", "negative")]
    assert recognised_pairs([(9, 19, "positive"), (10, 20, "negative")][::-1], truth[:1]) == [("negative", "negative")]
    counts = video_counts([Spotted("v", *p[:2], "me", emotion=p[2]) for p in predicted],
                          [Spotted("v", *t[:2], "me", emotion=t[2]) for t in truth], ["v"], emotions=STR_EMOTIONS)
    assert counts.shape == (1, 2, 3 + 9) and counts[0, 0, :3].tolist() == [4, 3, 2]
    confusion = recognition_confusion(counts)[0]
    assert confusion.sum() == 1 and confusion[0, 0] == 1


def test_strs_is_zero_where_nothing_is_found_and_every_str_figure_is_declared_once():
    counts = np.zeros((2, 3 + 9))
    counts[0, :3] = (5, 2, 0)  # five ME predictions, two ground truth, none found
    from mebench.statistics import declared_metrics

    figures = {m.name: float(m.from_counts(counts)) for m in declared_metrics("spot-then-recognise")}
    assert figures["strs"] == figures["recognition_uf1"] == figures["strs_me"] == 0.0
    assert set(SPOT_THEN_RECOGNISE.recorded_figures) == set(metric_names("spot-then-recognise"))
    assert metric_names("spot-then-recognise")[0] == SPOT_THEN_RECOGNISE.ranking == "strs"


def test_str_answers_round_trip_through_predictions_text():
    quadruples = [(40, 90, "mae", "negative"), (12, 20, "me", "positive"), (30, 31, "me", None)]
    text = str_text(quadruples)
    assert text == "me 12-20 positive; me 30-31; mae 40-90 negative"
    assert read_str_text(text) == sorted(quadruples)
    with pytest.raises(ValueError, match="EMOTION one of negative, positive, surprise"):
        read_str_text("me 12-20 happy")


@pytest.mark.parametrize("overrides, error, message", [
    ({"protocol_options": {}}, OptionError, "protocol str needs a recognition model for spotter 'fixed-spotter'"),
    ({"protocol_options": {"recogniser": "fixed-spotter"}}, ConfigError,
     "the recogniser must be a net trained by epochs"),
    ({"model": "tiny", "dataset": "synthetic"}, ConfigError, "spot-then-recognise runs a spotter on a spotting task"),
    ({"model": "recognising-spotter"}, ConfigError, "recognises its intervals itself; leave the recogniser out"),
    ({"dataset": "raw-emotions-long"}, ConfigError, r"annotates emotions \(disgust\) that are not mapped"),
])
def test_a_str_run_that_cannot_be_made_is_one_line(str_registry, overrides, error, message):
    with pytest.raises(error, match=message) as caught:
        plan_run(str_config(**overrides), str_registry)
    assert "\n" not in str(caught.value)


def test_the_leaderboard_gives_str_runs_one_table_ranked_by_strs_with_a_recogniser_column(str_registry, tmp_path,
                                                                                           cli):
    run(str_config(), str_registry, output_dir=tmp_path, **QUIET)
    run(str_config(model="recognising-spotter", protocol_options={}), str_registry, output_dir=tmp_path, **QUIET)
    result = cli("leaderboard", "--results", tmp_path)
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert sum(line.startswith("### ") for line in lines) == 1 and "### emo-long — STR, fixed selection" in lines
    header = next(line for line in lines if line.startswith("| model"))
    columns = [cell.strip() for cell in header.strip("|").split("|")]
    assert columns[:2] == ["model", "recogniser"]
    assert columns[columns.index("epochs") + 1:columns.index("epochs") + 4] == ["STRS", "F1", "ME F1"]
    rows = {cells[0]: cells[1] for line in lines[lines.index(header) + 2:] if line.startswith("| ")
            for cells in [[cell.strip() for cell in line.strip("|").split("|")]]}
    assert rows == {"fixed-spotter": "always", "recognising-spotter": "—"}
    assert "★ best: highest STRS" in result.output and "- recogniser: the recognition model" in result.output


def test_an_interval_becomes_a_clip_over_the_videos_own_frames_with_its_apex_or_midpoint():
    from mebench.run.spot_recognise import clip, training_clips

    video = emotion_videos()[0]
    spotted = clip(video, 40, 79, None, "negative", "spotted:")
    assert (spotted.onset, spotted.apex, spotted.offset, spotted.frames) == (40, 59, 79, video.frames)
    assert spotted.subject == video.subject and spotted.id == "emo-long/s1/a@spotted:40-79"
    assert clip(video, 40, 79, 45, "negative", "").apex == 45
    assert [(c.onset, c.offset, c.label) for c in training_clips(emotion_videos())[:3]] == [
        (10, 14, "negative"), (40, 80, "surprise"), (5, 9, "surprise")]  # s1/b's emotionless interval left out


def test_a_spotter_that_recognises_is_scored_by_its_own_emotions_and_a_spotting_run_drops_them(str_registry,
                                                                                               tmp_path):
    outcome = run(str_config(model="recognising-spotter", protocol_options={}), str_registry,
                  output_dir=tmp_path / "str", **QUIET)
    pooled = json.loads((outcome.run_dir / "metrics.json").read_text())["pooled"]
    hand = by_hand()
    pairs = [(t, "surprise") for t, _ in hand["me"][3]] + [(t, "negative") for t, _ in hand["mae"][3]]
    uf1, uar = uf1_uar(pairs)
    assert (pooled["recognition_uf1"], pooled["recognition_uar"]) == (pytest.approx(uf1), pytest.approx(uar))
    assert pooled["strs"] == pytest.approx(f1(5, 2, 3) * uf1)
    rows = pd.read_csv(outcome.run_dir / "predictions.csv", keep_default_na=False).set_index("sample_id")
    assert rows.loc["emo-long/s1/a", "predicted_label"] == "me 10-14 surprise; mae 40-79 negative"

    spotting = run(str_config(model="recognising-spotter", protocol="loso", protocol_options={}), str_registry,
                   output_dir=tmp_path / "spotting", **QUIET)
    rows = pd.read_csv(spotting.run_dir / "predictions.csv", keep_default_na=False).set_index("sample_id")
    assert rows.loc["emo-long/s1/a", "predicted_label"] == "me 10-14; mae 40-79"
    assert json.loads((spotting.run_dir / "metrics.json").read_text())["pooled"]["f1"] == pytest.approx(f1(5, 2, 3))


def test_a_str_run_caches_the_recognisers_clips_in_the_runs_cache_folder(str_registry, tmp_path):
    run(str_config(), str_registry, output_dir=tmp_path / "results", cache_dir=tmp_path / "cache", **QUIET)
    cached = [p for p in (tmp_path / "cache").rglob("*.npy")]
    clips = {(f"emo-long/{s}/{v}", row[0], (row[0] + row[1]) // 2, row[1]) for (s, v), rows in TRUTH.items()
             for row in rows if row[3] is not None}
    clips |= {(video, a[0], (a[0] + a[1]) // 2, a[1]) for video, answers in ANSWERS.items() for a in answers}
    assert len(cached) == len(clips) == 12  # each clip once, whatever number of folds it is in, in the run's folder


def test_a_spotting_and_a_str_run_export_their_figures_with_interval_bounds(str_registry, tmp_path):
    from mebench.analysis.export import read_run_export

    for protocol, options, figures, parameters in [
            ("str", {"recogniser": "always"}, ("strs", "recognition_uf1", "f1_me"), len(STR_EMOTIONS)),
            ("loso", {}, ("f1", "f1_me", "f1_mae"), 0)]:  # the recogniser's bias; a fixed spotter has none
        outcome = run(str_config(protocol=protocol, protocol_options=options), str_registry,
                      output_dir=tmp_path / protocol, **QUIET)
        pooled = json.loads((outcome.run_dir / "metrics.json").read_text())["pooled"]
        exported = read_run_export(outcome.run_dir).metrics
        for figure in figures:
            assert exported[figure] == pooled[figure]
            assert [exported[f"{figure}_low"], exported[f"{figure}_high"]] == pooled["ci"][figure]
        assert exported["parameters"] == parameters
