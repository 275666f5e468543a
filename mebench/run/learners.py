"""Learners: how a model learns a fold, chosen once per run by the plan.

- ``NetLearner`` (``net``): a net trained by epochs in batches, with an epoch selection rule, fold
  batching where it pays and ``torch.compile`` on request (``mebench.run.training``,
  ``mebench.run.fold_batching``, ``mebench.selection``).
- ``EstimatorLearner`` (``estimator``): a scikit-learn-style estimator fitted once per fold on the
  chain's features (``mebench.estimators``): no epochs, batches, selection rule, fold batching or
  input scaling; fitted on the CPU.

The plan asks ``learner_for(build)`` which one a model needs and keeps it (``RunPlan.learner``); the
executors, the summary and the Ray executor ask the learner, never the model. A spotter (a model that
turns a long video into scored intervals) is one more learner. ``run.json`` records the learner's
``name``.
"""

from __future__ import annotations

import numbers
from typing import TYPE_CHECKING, Any, Callable, Sequence

import numpy as np
import torch

from mebench.errors import ConfigError, RunError
from mebench.estimators import (Predictor, builds_estimator, count_parameters, fit_estimator, is_spotter,
                                predict_probabilities)
from mebench.run.fold_batching import fold_batch_size, fold_batching_obstacle, train_folds_batched
from mebench.records import FoldRecord, Prediction
from mebench.run.selection import selection_for
from mebench.timing import Stopwatch, inference_throughput
from mebench.run.training import TrainSettings, predict, train_fold

if TYPE_CHECKING:
    from mebench.data import PreparedData
    from mebench.run.execute import FoldJob
    from mebench.folds import Fold
    from mebench.run.plan import RunPlan
    from mebench.tasks import TaskKind

#: ``--fold-batch auto`` batches folds on CUDA only for nets below this many forward MACs per sample.
#: Measured on an H200 (benchmarks/README.md, grid_cost.py): the 28×28 nets (≤ 0.1 GMAC) train
#: 2.3–5.3× faster fold-batched; the 75×75 pyramid nets (10–22 GMAC) and AlexNet at 224 (0.7 GMAC)
#: saturate the GPU alone and run 0.6–0.9× as fast when batched.
FOLD_BATCH_MAX_MACS = 0.5e9

OnEpoch = Callable[[int, float], None]


class Learner:
    """How a model learns one fold; one instance per kind of learner (``NET``, ``ESTIMATOR``, ``SPOTTER``)."""

    #: What ``run.json``'s ``learner`` records.
    name: str = ""
    #: Whether epochs and batch sizes mean anything (a fitted estimator has neither).
    has_epochs: bool = True
    #: Whether its folds may use a GPU of a Ray cluster.
    uses_gpu: bool = True
    #: Whether the model takes the prepared tensor of a preprocessing chain (a spotter reads its videos itself).
    uses_chain: bool = True
    #: Whether a fold's job carries the samples themselves (a spotter's videos), not only their ids.
    needs_samples: bool = False

    def check(self, model: str, dataset: str, selection: str, model_options: dict[str, Any], kind: "TaskKind",
              scaling_option: str) -> None:
        """Refuse (``ConfigError``, one line) what this learner cannot do with the run's settings."""
        if self.name not in kind.learners:
            raise ConfigError(f"model {model!r} is a {self.name}; task {dataset!r} has {kind.answer}, which a "
                              f"{' or '.join(kind.learners)} learns: pick a model of that kind or another task")

    def input_scaling(self, scaling: str) -> str | None:
        """The input scaling the run applies and records (None: the model scales its own inputs)."""
        return scaling

    def fold_batch(self, lever: str) -> str:
        """The fold-batching lever the run keeps (``auto``, ``off`` or a number of folds)."""
        return lever

    def compiles(self, asked: bool) -> bool:
        """Whether each fold's model is wrapped in ``torch.compile``."""
        return False

    def fold_group_size(self, plan: "RunPlan", x: torch.Tensor, y: torch.Tensor, pending: list["Fold"],
                        log: Callable[[str], None]) -> int:
        """How many folds to train at once: the one answer to "may this be fold-batched?"."""
        return 1

    def train(self, jobs: list["FoldJob"], build: Callable[[], Any], x: torch.Tensor, y: torch.Tensor,
              on_epoch: OnEpoch | None = None, log: Callable[[str], None] | None = None) -> list[FoldRecord]:
        """The records of ``jobs`` (one fold, or a fold-batched group)."""
        raise NotImplementedError

    def measure(self, plan: "RunPlan", data: "PreparedData", records: dict[int, FoldRecord] | None = None
                ) -> tuple[dict[str, Any], int]:
        """(inference throughput of a fresh model, its parameter count); ``records``: the run's fold records."""
        raise NotImplementedError

    def describe(self, settings: TrainSettings, device: str, bf16: bool, channels_last: bool) -> str:
        """The budget and device part of the line a run prints first."""
        raise NotImplementedError

    def budget(self, settings: TrainSettings) -> dict[str, Any]:
        """The budget a dataset's ``describe_run`` sees (epochs, batch size), empty where there is none."""
        return {}

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"

    def __reduce__(self):  # one instance per learner, also after pickling (Ray workers)
        return learner_named, (self.name,)


def fold_record(job: "FoldJob", probabilities: Sequence[Sequence[float]], seconds: float, together: int,
                epoch_losses: list[float], extras: dict) -> FoldRecord:
    """The record of a trained fold: what summarise and resumption read. ``probabilities``: per test sample, its
    answer as the fold record holds it (class probabilities; a spotter's interval triples)."""
    fold = job.fold
    n_train = int(len(fold.train)) - int(extras.get("n_validation", 0))  # inner-val: without the validation side
    return FoldRecord(fold=fold.index, test_group=fold.name, train_seconds=seconds, folds_trained_together=together,
                      n_train=n_train, n_test=int(len(fold.test)), epoch_losses=[float(v) for v in epoch_losses],
                      predictions=[Prediction(sample_id, np.asarray(probabilities[k]).tolist())
                                   for k, sample_id in enumerate(job.test_ids)],
                      extras=extras)


def worth_fold_batching(plan: "RunPlan") -> bool:
    """Whether ``--fold-batch auto`` trains several folds at once: on CUDA, for small nets only."""
    if plan.device.type != "cuda":
        return False
    from mebench.run.model_card import count_macs

    return count_macs(plan.build_model(), plan.model_spec) < FOLD_BATCH_MAX_MACS


class NetLearner(Learner):
    """A net trained by epochs (``mebench.run.training``)."""

    name = "net"

    def compiles(self, asked: bool) -> bool:
        return asked

    def fold_group_size(self, plan, x, y, pending, log):
        group_size = 1
        if plan.fold_batch == "auto" and worth_fold_batching(plan):
            group_size = fold_batch_size(plan.build_model, x, y, pending[0], plan.settings, len(pending))
        elif plan.fold_batch not in ("auto", "off"):
            group_size = int(plan.fold_batch)
        if plan.config.selection != "fixed" or plan.compile:
            group_size = 1
        if group_size > 1 and (obstacle := fold_batching_obstacle(plan.build_model, x)) is not None:
            log(f"fold batching off: {obstacle}; folds are trained one at a time")
            group_size = 1
        if group_size > 1:
            log(f"fold-batched training: {group_size} folds at a time")
        return group_size

    def train(self, jobs, build, x, y, on_epoch=None, log=None):
        """Train one fold, or several at once (fold-batched)."""
        settings = jobs[0].settings
        losses: list[list[float]] = [[] for _ in jobs]
        position = {job.fold.index: k for k, job in enumerate(jobs)}

        def record_loss(epoch: int, loss: float) -> None:  # one fold trained alone
            losses[0].append(loss)
            if on_epoch is not None:
                on_epoch(epoch, loss)

        def record_fold_loss(fold, epoch: int, loss: float) -> None:  # each fold of a batched group
            losses[position[fold.index]].append(loss)

        extras: list[dict] = [{} for _ in jobs]
        with Stopwatch(settings.device) as watch:
            if len(jobs) == 1:
                job = jobs[0]
                fold, selector = selection_for(job.selection, job.fold, np.asarray(job.subjects or []), settings,
                                               x, y)
                model = train_fold(build, x, y, fold, settings, record_loss,
                                   after_epoch=selector.after_epoch if selector else None)
                if selector is not None:
                    model, extras[0] = selector.finish(model)
                models = [model]
            else:
                assert all(j.selection == "fixed" for j in jobs), "fold batching trains fixed-budget folds only"
                models = train_folds_batched(build, x, y, [j.fold for j in jobs], settings, on_epoch,
                                             on_fold_epoch=record_fold_loss, log=log)
        return [fold_record(job, predict(model, x, job.fold.test, settings), watch.seconds / len(jobs), len(jobs),
                            fold_losses, extra)
                for job, model, fold_losses, extra in zip(jobs, models, losses, extras)]

    def measure(self, plan, data, records=None):
        torch.manual_seed(0)
        model = plan.build_model().to(plan.device)
        batch = data.x[: min(len(data), 32)].to(plan.device).clone()
        if plan.settings.channels_last:
            model = model.to(memory_format=torch.channels_last)
            batch = batch.contiguous(memory_format=torch.channels_last)
        throughput = inference_throughput(model, batch, plan.settings.autocast)
        return throughput.as_dict(), int(sum(p.numel() for p in model.parameters()))

    def describe(self, settings, device, bf16, channels_last):
        return (f"{settings.epochs} epoch{'s' if settings.epochs != 1 else ''}, batch {settings.batch_size}, {device}, "
                f"{'bf16 autocast' if bf16 else 'fp32'}{', channels-last' if channels_last else ''}")

    def budget(self, settings):
        return {"epochs": settings.epochs, "batch_size": settings.batch_size}


class EstimatorLearner(Learner):
    """An estimator fitted once per fold (``mebench.estimators``): same records, predictions and timings as a
    net, no epoch losses."""

    name, has_epochs, uses_gpu = "estimator", False, False

    def check(self, model, dataset, selection, model_options, kind, scaling_option):
        if not kind.takes_estimators:
            raise ConfigError(f"model {model!r} is an estimator of one class per sample; task {dataset!r} "
                              f"has {kind.answer}: pick a single-label task")
        if scaling_option in model_options:
            raise ConfigError(f"--model-opt {scaling_option}: model {model!r} is an estimator fitted on the "
                              f"chain's features, which it scales itself; leave {scaling_option} out")
        if selection != "fixed":
            raise ConfigError(f"--selection {selection}: model {model!r} is an estimator fitted once per "
                              f"fold, with no epochs to choose among; use --selection fixed")

    def input_scaling(self, scaling):
        return None

    def fold_batch(self, lever):
        return "off"

    def train(self, jobs, build, x, y, on_epoch=None, log=None):
        """Each fold fitted on its training samples, one by one, timed like training."""
        records = []
        for job in jobs:
            with Stopwatch(job.settings.device) as watch:
                estimator = fit_estimator(build, x, y, job.fold.train, job.settings.fold_seed(job.fold.index))
            records.append(fold_record(job, predict_probabilities(estimator, x, job.fold.test, job.n_classes),
                                       watch.seconds, 1, [], {}))
        return records

    def measure(self, plan, data, records=None):
        """Timed the same way as a net once fitted on the first fold's training samples; the parameters its
        card defines (``mebench.estimators.count_parameters``)."""
        first = plan.folds[0]
        estimator = fit_estimator(plan.build_model, data.x, data.y, first.train, plan.settings.fold_seed(first.index))
        throughput = inference_throughput(Predictor(estimator), data.x[: min(len(data), 32)].clone())
        return throughput.as_dict(), count_parameters(estimator)

    def describe(self, settings, device, bf16, channels_last):
        from mebench.hardware import describe_device, device_label

        return f"fitted once per fold (an estimator), {device_label(describe_device(torch.device('cpu')))}"


def _video_frames(video: Any) -> int:
    return int(video.n_frames)


class SpotterLearner(Learner):
    """A spotter (``is_spotter``): per fold, ``fit`` on the fold's training videos where it has one (a
    hand-crafted spotter has none), then ``spot_video`` on each test video; a spotter with ``use_cache(folder)``
    is given the run's cache folder first. Its record holds each video's
    intervals as flat (onset, offset, type index) triples; timing counts the frames spotted per second."""

    name, has_epochs, uses_gpu, uses_chain, needs_samples = "spotter", False, False, False, True

    def check(self, model, dataset, selection, model_options, kind, scaling_option):
        super().check(model, dataset, selection, model_options, kind, scaling_option)
        if selection not in ("fixed", "test-oracle"):  # test-oracle: a learned spotter's threshold on the test videos
            raise ConfigError(f"--selection {selection}: model {model!r} is a spotter, with no epochs to choose "
                              f"among; use --selection fixed (or test-oracle, LEAKY, where it chooses a threshold)")
        if scaling_option in model_options:
            raise ConfigError(f"--model-opt {scaling_option}: model {model!r} is a spotter reading its videos' "
                              f"frames as they are; leave {scaling_option} out")

    def input_scaling(self, scaling):
        return None

    def fold_batch(self, lever):
        return "off"

    @staticmethod
    def _spot_all(spotter: Any, videos: list, settings: dict) -> list:
        """Each video's intervals, in order: ``spot_videos(videos, **settings)`` where the spotter has it (the run's
        ``cache_dir``, ``workers`` and ``progress``: videos in worker processes, read through the cache), else
        ``spot_video`` one by one."""
        spot_videos = getattr(spotter, "spot_videos", None)
        if callable(spot_videos):
            return list(spot_videos(videos, **settings))
        return [spotter.spot_video(video) for video in videos]

    def _spotted(self, spotter: Any, video: Any, types: tuple[str, ...], intervals: list) -> list[int]:
        """The video's ``intervals`` as flat (onset, offset, type index) triples; an interval that is not one
        (offset before onset, outside the video's frames, a type the task lacks) is a ``RunError`` naming it."""
        frame_numbers = video.frames.indices()
        first, last = int(frame_numbers[0]), int(frame_numbers[-1])
        triples = []
        for interval in intervals:
            if getattr(spotter, "recognises", False) and isinstance(interval, (tuple, list)) and len(interval) == 4:
                interval = tuple(interval[:3])  # a spotter that also recognises: spotting keeps the interval
            whole = (isinstance(interval, (tuple, list)) and len(interval) == 3
                     and all(isinstance(v, numbers.Integral) and not isinstance(v, bool) for v in interval[:2]))
            if not whole or interval[2] not in types or not (first <= interval[0] <= interval[1] <= last):
                raise RunError(f"spotter {type(spotter).__name__} on video {video.id}: interval {interval!r} "
                               f"is not one of its frames {first}..{last} with a type among {', '.join(types)} "
                               f"(onset, offset as whole frame numbers, type); fix the spotter")
            triples += [int(interval[0]), int(interval[1]), types.index(interval[2])]
        return triples

    @staticmethod
    def _give_cache(spotter: Any, settings: dict) -> None:
        """A spotter with ``use_cache(folder)`` (a learned one, reading every training video again in each fold) is
        given the run's cache folder before ``fit``."""
        use_cache = getattr(spotter, "use_cache", None)
        if callable(use_cache) and settings.get("cache_dir"):
            use_cache(settings["cache_dir"])

    @staticmethod
    def _choose_on_test(spotter: Any, videos: list) -> None:
        choose = getattr(spotter, "choose_threshold", None)
        if not callable(choose):
            raise ConfigError(f"--selection test-oracle: spotter {type(spotter).__name__} chooses nothing on the test "
                              f"videos (it has no choose_threshold); use --selection fixed")
        choose(videos)

    def train(self, jobs, build, x, y, on_epoch=None, log=None):
        records = []
        for job in jobs:
            with Stopwatch(job.settings.device) as watch:
                spotter = build()
                self._give_cache(spotter, job.video_settings or {})
                if callable(getattr(spotter, "fit", None)):
                    spotter.fit([job.samples[i] for i in job.fold.train])
                if job.selection == "test-oracle":  # LEAKY: the threshold chosen on the videos it is scored on
                    self._choose_on_test(spotter, [job.samples[i] for i in job.fold.test])
                videos = [job.samples[i] for i in job.fold.test]
                found = self._spot_all(spotter, videos, job.video_settings or {})
                answers = [self._spotted(spotter, video, job.classes, intervals)
                           for video, intervals in zip(videos, found)]
            records.append(fold_record(job, answers, watch.seconds, 1, [], {}))
        return records

    def measure(self, plan, data, records=None):
        """Frames spotted per second over the folds as they ran (test videos' frames / the folds' seconds, a
        fit included): a spotter is not run again to be timed. Its parameters: the ``n_parameters`` a spotter
        built for the run gives (a learned spotter's net, counted before any fit), else 0 (a hand-crafted one)."""
        frames = sum(_video_frames(plan.samples[int(i)]) for fold in plan.folds for i in fold.test)
        seconds = max(sum(record.train_seconds for record in (records or {}).values()), 1e-9)
        parameters = int(getattr(plan.build_model(), "n_parameters", 0) or 0)
        return {"inference_fps": frames / seconds, "inference_batch_size": 1,
                "inference_batches": len(plan.folds), "inference_warmup_batches": 0}, parameters

    def describe(self, settings, device, bf16, channels_last):
        from mebench.hardware import describe_device, device_label

        return f"a spotter run on each test video, {device_label(describe_device(torch.device('cpu')))}"


class SpotThenRecogniseLearner(SpotterLearner):
    """Spot-then-recognise (``mebench.run.spot_recognise``): the spotter's fold as ``SpotterLearner`` runs it, then the
    run's recogniser trained on the fold's training videos' annotated intervals and given each spotted interval.
    Its record holds each video's intervals as flat (onset, offset, type index, emotion index) quadruples; the
    fold's seconds count both."""

    name = "spot-then-recognise"

    def _spotted(self, spotter, video, types, intervals):
        """A spotter that recognises (``recognises = True``) gives (onset, offset, type, emotion): its quadruples,
        flat; any other spotter's triples, as the spotter learner checks them."""
        if not getattr(spotter, "recognises", False):
            return super()._spotted(spotter, video, types, intervals)
        from mebench.tasks import STR_EMOTIONS

        values = []
        for interval in intervals:
            if not (isinstance(interval, (tuple, list)) and len(interval) == 4 and interval[3] in STR_EMOTIONS):
                raise RunError(f"spotter {type(spotter).__name__} on video {video.id}: interval {interval!r} is not "
                               f"(onset, offset, type, emotion) with an emotion among {', '.join(STR_EMOTIONS)}; "
                               f"fix the spotter")
            values += [*super()._spotted(spotter, video, types, [tuple(interval[:3])]),
                       STR_EMOTIONS.index(interval[3])]
        return values

    def train(self, jobs, build, x, y, on_epoch=None, log=None):
        from mebench.run.spot_recognise import recognise

        records = super().train(jobs, build, x, y, on_epoch, log)
        for job, record in zip(jobs, records):
            if job.recogniser is None:  # the spotter recognised its intervals itself
                continue
            videos = [job.samples[i] for i in job.fold.test]
            flat = [[int(v) for v in prediction.probabilities] for prediction in record.predictions]
            with Stopwatch(job.settings.device) as watch:
                emotions = recognise(job.recogniser, [job.samples[i] for i in job.fold.train],
                                     [(video, list(zip(values[::3], values[1::3]))) for video, values in zip(videos, flat)],
                                     job.settings, job.fold.index)
            record.predictions = [
                Prediction(prediction.sample_id,
                           [v for k, emotion in enumerate(chosen) for v in (*values[3 * k:3 * k + 3], emotion)])
                for prediction, values, chosen in zip(record.predictions, flat, emotions)]
            record.train_seconds += watch.seconds
        return records

    def measure(self, plan, data, records=None):
        """The spotter's measures; its parameters and the recogniser's together (the system a row of the table is)."""
        measures, parameters = super().measure(plan, data, records)
        if plan.recogniser is not None:
            from mebench.tasks import STR_EMOTIONS

            net = plan.recogniser.spec.build(len(STR_EMOTIONS), **plan.recogniser.options)
            parameters += sum(p.numel() for p in net.parameters())
        return measures, parameters

    def describe(self, settings, device, bf16, channels_last):
        return f"{super().describe(settings, device, bf16, channels_last)}, then a recogniser trained per fold"


NET, ESTIMATOR, SPOTTER = NetLearner(), EstimatorLearner(), SpotterLearner()
SPOT_THEN_RECOGNISE = SpotThenRecogniseLearner()
#: Every learner by the name run.json records: a new learner is one more entry.
LEARNERS: dict[str, Learner] = {learner.name: learner for learner in (NET, ESTIMATOR, SPOTTER, SPOT_THEN_RECOGNISE)}


def learner_named(name: str) -> Learner:
    return LEARNERS[name]


def learner_for(build: Callable[[], Any], declared: str | None = None) -> Learner:
    """The learner a model declares (``ModelSpec.learner``), else the one it needs: ``SPOTTER`` where its factory makes a spotter, ``ESTIMATOR`` where it makes a
    fitted-not-trained estimator (both found on the meta device, without building a net for real), else ``NET``."""
    if declared is not None:
        if declared not in LEARNERS:
            raise ConfigError(f"the model declares learner {declared!r}; mebench knows {', '.join(LEARNERS)}")
        return LEARNERS[declared]
    try:
        with torch.device("meta"):
            if is_spotter(build()):
                return SPOTTER
    except Exception:  # a factory that cannot build on the meta device: found below, or a net
        pass
    return ESTIMATOR if builds_estimator(build) else NET


__all__ = ["SPOTTER", "SPOT_THEN_RECOGNISE", "SpotThenRecogniseLearner", "SpotterLearner", "is_spotter", "ESTIMATOR", "EstimatorLearner", "FOLD_BATCH_MAX_MACS", "LEARNERS", "Learner", "NET", "NetLearner",
           "fold_record", "learner_for", "worth_fold_batching"]
