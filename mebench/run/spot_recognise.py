"""Spot-then-recognise (STR): within each fold, a spotter finds intervals in the test videos and a recognition
model, trained on the fold's training videos' annotated intervals, classifies each spotted interval into an
emotion (``mebench.tasks.STR_EMOTIONS``).

How a run does it (``--protocol str --protocol-opt recogniser=MODEL`` on a spotting task): the plan resolves
the recogniser once (``Recogniser``: its options, input scaling and preprocessing chain) and the learner
``SpotThenRecogniseLearner`` runs the spotter's fold as ``SpotterLearner`` does, then:

1. the recogniser's training clips: every annotated interval of the fold's training videos whose emotion is one
   of the classes (``mebench.tasks.str_emotion``), as a recognition ``Sample`` over the video's own frames
   (onset, apex — the midpoint where none is annotated — and offset);
2. the clips to classify: every spotted interval of the test videos, apex at its midpoint (a spotter gives no
   apex; SOFTNet's and MEAN's intervals are a peak ± k, so their midpoint is the peak MEAN classifies at);
3. both through the recogniser's own preprocessing chain (``mebench.run.preprocessing.prepare``, cached as any
   run's samples are), the net trained on the training clips with the run's epochs, batch size, learning rate
   and seed (``mebench.run.training.train_fold``), and each spotted interval given its most probable emotion.

A fold whose training videos have no clip of some emotion still trains (the net has every class's output); a
fold with no training clip at all is refused in one line.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, Sequence

import numpy as np
import torch

from mebench.data import InputSpec, ModelSpec, PreprocessingStep, Sample
from mebench.errors import RunError
from mebench.folds import Fold
from mebench.run.preprocessing import prepare
from mebench.tasks import SINGLE_LABEL, STR_EMOTIONS, str_emotion
from mebench.run.training import TrainSettings, predict, train_fold

if TYPE_CHECKING:
    from mebench.long_videos import LongVideo


@dataclass(frozen=True)
class Recogniser:
    """The recognition model of a spot-then-recognise run, resolved by the plan: the registered model ``spec`` with
    its factory ``options``, its ``input_scaling``, preprocessing ``chain`` and ``input_spec``; ``cache_dir`` where
    its prepared clips are cached (None: not cached)."""

    spec: ModelSpec
    options: dict[str, Any] = field(default_factory=dict)
    input_scaling: str = "fold"
    chain: tuple[PreprocessingStep, ...] = ()
    input_spec: InputSpec | None = None
    cache_dir: str | None = None


def clip(video: "LongVideo", onset: int, offset: int, apex: int | None, emotion: str, name: str) -> Sample:
    """An interval of a long video as a recognition sample over the video's own frames: ``emotion`` its label,
    the apex at the interval's midpoint where none is given; its fingerprint (the preprocessing cache's key) from
    the video's id and fingerprint and the three frames, so the same clip is prepared once across folds."""
    apex = apex if apex is not None and onset <= apex <= offset else (onset + offset) // 2
    return Sample(id=f"{video.id}@{name}{onset}-{offset}", dataset=video.dataset, subject=video.subject, label=emotion,
                  emotion=emotion, frames=video.frames, onset=int(onset), apex=int(apex), offset=int(offset),
                  fingerprint=hashlib.sha256(repr((video.id, video.fingerprint, int(onset), int(apex), int(offset)))
                                             .encode()).hexdigest()[:32], cropped=video.cropped)


def training_clips(videos: Sequence["LongVideo"], emotions: Sequence[str] = STR_EMOTIONS) -> list[Sample]:
    """Every annotated interval of ``videos`` with an emotion among ``emotions``, as a recognition sample."""
    return [clip(video, i.onset, i.offset, i.apex, emotion, "") for video in videos for i in video.intervals
            if (emotion := str_emotion(i, emotions)) is not None]


def recognise(recogniser: Recogniser, train_videos: Sequence["LongVideo"],
              spotted: Sequence[tuple["LongVideo", Sequence[tuple[int, int]]]], settings: TrainSettings,
              fold_index: int, emotions: Sequence[str] = STR_EMOTIONS) -> list[list[int]]:
    """Per test video of ``spotted`` (the video and its spotted (onset, offset) intervals), the emotion index
    (into ``emotions``) the recogniser trained on ``train_videos``' clips gives each interval."""
    train = training_clips(train_videos, emotions)
    if not train:
        raise RunError(f"fold {fold_index}: the training videos have no interval with an emotion among "
                       f"{', '.join(emotions)}, so the recogniser has nothing to learn from; use a task whose sheet "
                       f"gives emotions")
    test = [clip(video, onset, offset, None, emotions[0], "spotted:") for video, intervals in spotted
            for onset, offset in intervals]
    if not test:
        return [[] for _ in spotted]
    spec = recogniser.spec
    data = prepare(train + test, list(recogniser.chain), recogniser.input_spec or spec.input_spec,
                   Path(recogniser.cache_dir) if recogniser.cache_dir else None, workers=1, progress=False,
                   classes=list(emotions), kind=SINGLE_LABEL)
    fold = Fold(fold_index, "spotted", np.arange(len(train)), np.arange(len(train), len(train) + len(test)))
    own = replace(settings, kind=SINGLE_LABEL, pos_weight=False, input_scaling=recogniser.input_scaling)
    x, y = data.x.to(own.device), data.y.to(own.device)
    model = train_fold(lambda: spec.build(len(emotions), **recogniser.options), x, y, fold, own)
    chosen = predict(model, x, fold.test, own).argmax(axis=1).tolist()
    answers, start = [], 0
    for _, intervals in spotted:
        answers.append([int(index) for index in chosen[start:start + len(intervals)]])
        start += len(intervals)
    return answers


__all__ = ["Recogniser", "clip", "recognise", "training_clips"]
