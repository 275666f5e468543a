"""Task kinds: what a task's answer is, and everything that follows from it.

A task's kind is declared once, on its ``DatasetSpec`` (``kind=``), and owns what differs between
kinds of answer: how samples become targets, the loss, probabilities and the decisions taken from
them, how predictions.csv writes the truth and the answer of a sample and reads them back, the
figures that score them (``mebench.statistics.METRICS`` declares each figure and the kinds it
applies to), the figure that ranks configurations and chooses epochs, the chance level, and the
summary a run prints. Nothing on the run path or in the analysis asks which kind it has: it asks
the kind.

- ``SingleLabel`` (``single-label``): one class per sample (emotions). Softmax, cross-entropy, the
  most probable class; accuracy, UF1 and UAR, ranked by UF1.
- ``MultiLabel`` (``multi-label``): several labels per sample (action units). Sigmoid, binary
  cross-entropy (``--pos-weight`` weighs each label's positives), a label detected at probability
  ≥ 0.5; macro-F1 and each label's F1, ranked by macro-F1.

- ``Intervals`` (``intervals``): intervals in long videos (spotting). A sample is a whole video, its answer
  the ME and MaE intervals a spotter finds; the MEGC rule's F1, precision and recall per type and overall,
  ranked by overall F1.

- ``SpotThenRecognise`` (``spot-then-recognise``): spotting whose spotted intervals also carry an emotion.

A new kind is one more subclass known by its name in ``TASK_KINDS``: a plugin declares it with the hook
``mebench_register_task_kinds`` (or a ``DatasetSpec`` declaring it), which ``mebench.registry`` passes to
``register_task_kind`` (``docs/design.md``, ``docs/plugins.md``). A record names its kind by ``TaskKind.name``
(``metrics.json`` ``"task"``, absent for a single-label task, as every record written before kinds were declared),
and is read back as the kind of that name.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any, Mapping, Sequence

import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F
from sklearn.metrics import f1_score
from tabulate import tabulate

from mebench import metrics as scoring
from mebench.errors import DataError, OptionError
from mebench.spotting import (DEFAULT_IOU, TYPE_LABELS, TYPES, Spotted, group_rows, pooled_counts, spotting_figures,
                              video_counts)
from mebench.statistics import (Encoded, EncodedCounts, declared_metrics, label_cells, label_metric_names,
                                label_metrics_from_counts, metric_labels, metric_names, subject_bootstrap)

POOLED = "all pooled over every fold's predictions"

if TYPE_CHECKING:
    from mebench.data import Sample
    from mebench.records import MetricBlock, Metrics


class TaskKind:
    """What one kind of task's answer is; subclasses implement every method."""

    #: The kind's name, as records and ``mebench list`` write it.
    name: str = ""
    #: What one of the task's ``classes`` is called in tables: ``class`` or ``label``.
    label_word: str = "class"
    #: What a sample's answer is, in words.
    answer: str = ""
    #: The figure that ranks configurations (★ best) and chooses epochs under the selection rules.
    ranking: str = ""
    #: Whether a fold's training samples may be weighed per label (``--pos-weight``).
    weighs_labels: bool = False
    #: Whether a scikit-learn-style estimator of one class per sample (``mebench.estimators``) can learn it.
    takes_estimators: bool = False
    #: The learners (``mebench.run.learners``, by name) that can learn a task of this kind.
    learners: tuple[str, ...] = ("net",)
    #: Whether a sample has several of the task's classes (labels): ``data check`` counts samples per label.
    several_per_sample: bool = False
    #: Figures a block of its ``metrics.json`` may hold besides its declared ones, kept where written (a spotting
    #: block's precision and recall).
    further_figures: tuple[str, ...] = ()
    #: Protocol options that name a part of each row (STR's recogniser) with what their column means: a
    #: leaderboard shows them in a column of their own and ranks those rows together instead of splitting tables.
    row_options: tuple[tuple[str, str], ...] = ()

    # --- targets and training -------------------------------------------------------------------------------

    def check_labels(self, samples: Sequence["Sample"], classes: Sequence[str], task: str = "") -> None:
        """Refuse (``DataError`` naming the sample) a sample whose answer is not among the task's classes."""
        raise NotImplementedError

    def targets(self, samples: Sequence["Sample"], classes: Sequence[str]) -> torch.Tensor:
        """The samples' targets as the loss takes them."""
        raise NotImplementedError

    def stratum(self, sample: "Sample", classes: Sequence[str]) -> int:
        """The class a k-fold protocol stratifies the sample by (0 for all where there is none)."""
        return 0

    def digest_row(self, sample: Any) -> tuple:
        """What of a sample enters the run's identity (its id and annotation): another copy, erratum or generator
        version that changes it is another run."""
        return (sample.id, sample.label, sample.onset, sample.apex, sample.offset)

    def loss(self, logits: torch.Tensor, targets: torch.Tensor, pos_weight: torch.Tensor | None = None,
             reduction: str = "mean") -> torch.Tensor:
        raise NotImplementedError

    def probabilities(self, logits: torch.Tensor) -> torch.Tensor:
        """The outputs as probabilities, float32."""
        raise NotImplementedError

    def fold_pos_weight(self, y: torch.Tensor, train: torch.Tensor) -> torch.Tensor | None:
        """Per label, negatives / positives over the fold's training samples (``--pos-weight``)."""
        return None

    # --- predictions.csv ------------------------------------------------------------------------------------

    def truth_text(self, target: Any, classes: Sequence[str], sample: Any = None) -> str:
        """A sample's truth as ``true_label`` writes it, from its row of targets (or the sample itself)."""
        raise NotImplementedError

    def answer_columns(self, answer: Sequence[float], classes: Sequence[str]) -> dict[str, float]:
        """The columns predictions.csv adds after the answer: each class's (label's) probability."""
        return {f"p_{name}": float(p) for name, p in zip(classes, answer)}

    def answer_width(self, classes: Sequence[str]) -> int | None:
        """How many numbers a fold record holds per sample (None: any number)."""
        return len(classes)

    def answer_problem(self, values: Sequence[float], classes: Sequence[str]) -> str | None:
        """What is wrong with a sample's answer as a fold record holds it (None: nothing), beyond its width."""
        return None

    def answer_text(self, probabilities: np.ndarray, classes: Sequence[str]) -> str:
        """A sample's answer as ``predicted_label`` writes it, from its probabilities."""
        raise NotImplementedError

    def read_answers(self, texts: Sequence[str], classes: Sequence[str]) -> np.ndarray:
        """``true_label``/``predicted_label`` texts back as the codes the statistics take."""
        raise NotImplementedError

    def right(self, frame: pd.DataFrame, classes: Sequence[str]) -> np.ndarray:
        """Per sample (and label), whether the answer was right: what McNemar's test pairs."""
        raise NotImplementedError

    # --- mebench score: a file of answers made elsewhere ----------------------------------------------------------

    def read_answer(self, value: str, classes: Sequence[str], path: Any, row: str) -> str:
        """One sample's answer as a predictions file (``mebench score``) gives it, in the form ``predicted_label``
        writes it; ``DataError`` naming the file, the row and the fix where it is none of the task's answers."""
        raise DataError(path, f"holds answers of a {self.name} task, which mebench score cannot read from a file",
                        "score it with the plugin that declares the task kind", row)

    def non_standard_figures(self, frame: pd.DataFrame) -> dict[str, Any]:
        """Figures some publications print instead of the standard ones, from a scored file's predictions (the
        columns of ``pooled``); none unless the kind has them."""
        return {}

    def non_standard_line(self, figures: Mapping[str, Any]) -> str:
        """How ``mebench score``'s report says ``non_standard_figures``, labelled as non-standard."""
        return ""

    # --- scoring --------------------------------------------------------------------------------------------

    def metric_names(self, classes: Sequence[str]) -> tuple[str, ...]:
        """The figures its statistics give (``mebench.statistics.METRICS``), in table order."""
        raise NotImplementedError

    def metric_labels(self, classes: Sequence[str]) -> dict[str, str]:
        """Each figure's column label (the figures with intervals and the point figures)."""
        raise NotImplementedError

    @property
    def metrics_kind(self) -> str:
        """The kind name its figures are declared under (``mebench.statistics.METRICS``): its own, else that of the
        nearest kind it extends that declares figures (a plugin's kind built on ``SingleLabel`` scores as it)."""
        for base in type(self).__mro__:
            name = getattr(base, "name", "")
            if name and declared_metrics(name, with_interval=False):
                return name
        return self.name

    def declared(self, with_interval: bool = True) -> tuple[Any, ...]:
        """Its declared figures (``statistics.Metric``), those with an interval only unless told otherwise."""
        return declared_metrics(self.metrics_kind, with_interval)

    @property
    def point_figures(self) -> tuple[str, ...]:
        """Declared figures shown as points, without an interval (MEB's two multi-label figures)."""
        return tuple(m.name for m in self.declared(with_interval=False) if m.from_counts is None)

    @property
    def recorded_figures(self) -> tuple[str, ...]:
        """The figures every block of its ``metrics.json`` holds, in order: its declared figures with an interval.
        ``records.MetricBlock`` reads a block by them; a block without one of them is malformed."""
        return tuple(m.name for m in self.declared())

    @property
    def optional_figures(self) -> tuple[str, ...]:
        """Figures a block may also hold, kept where written: its point figures (written since they were declared)
        and ``further_figures``."""
        return (*self.point_figures, *self.further_figures)

    def definitions(self) -> str:
        """The figures' definitions a leaderboard's footer prints, from their declarations."""
        raise NotImplementedError

    def encode(self, frames: Sequence[pd.DataFrame], classes: Sequence[str], mask: np.ndarray | None = None
               ) -> Encoded:
        """The predictions of one or more seeds (frames aligned by sample id) encoded for the statistics."""
        raise NotImplementedError

    def epoch_scores(self, epochs: np.ndarray, truth: np.ndarray) -> np.ndarray:
        """The ranking figure of each epoch's probabilities (E, n, K) on a fold's test samples."""
        raise NotImplementedError

    def pooled(self, predictions: pd.DataFrame, classes: Sequence[str]) -> dict[str, Any]:
        """``metrics.json``'s figures from a run's per-sample predictions."""
        raise NotImplementedError

    def chance(self, pooled: "MetricBlock") -> dict[str, float]:
        """What guessing scores on these samples."""
        raise NotImplementedError

    def chance_line(self, pooled: "MetricBlock") -> str:
        raise NotImplementedError

    def report(self, metrics: "Metrics") -> str:
        """The table printed at the end of a run."""
        raise NotImplementedError

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"

    def __reduce__(self):  # one instance per kind, also after pickling (Ray workers, shard processes)
        return task_kind, (self.name,)


class SingleLabel(TaskKind):
    """One class per sample (emotions)."""

    name, label_word, ranking, takes_estimators = "single-label", "class", "uf1", True
    answer, learners = "one class per sample", ("net", "estimator")

    def check_labels(self, samples, classes, task=""):
        whose = f"task {task!r}'s" if task else "the task's"
        for sample in samples:
            if sample.label not in classes:
                raise DataError(f"sample {sample.id}", f"label {sample.label!r} is not one of {whose} classes "
                                                       f"({', '.join(classes)})", "fix the dataset plugin's label rules")

    def targets(self, samples, classes):
        index = {name: i for i, name in enumerate(classes)}
        return torch.tensor([index[s.label] for s in samples], dtype=torch.long)

    def stratum(self, sample, classes):
        return list(classes).index(sample.label)

    def loss(self, logits, targets, pos_weight=None, reduction="mean"):
        return F.cross_entropy(logits, targets, reduction=reduction)

    def probabilities(self, logits):
        return torch.softmax(logits.float(), dim=1)

    def truth_text(self, target, classes, sample=None):
        return classes[int(target)]

    def answer_text(self, probabilities, classes):
        return classes[int(np.asarray(probabilities).argmax())]

    def read_answers(self, texts, classes):
        return np.asarray(texts)  # class names; ``encode`` turns them into indices and names unknown ones

    def right(self, frame, classes):
        return (frame["predicted_label"] == frame["true_label"]).to_numpy()

    def read_answer(self, value, classes, path, row):
        """A class name (any case) or its index in the task's coding (MEGC2019: 0 negative, 1 positive, 2 surprise)."""
        by_name = {name.lower(): name for name in classes}
        if value.lower() in by_name:
            return by_name[value.lower()]
        if re.fullmatch(r"\d+", value) and int(value) < len(classes):
            return classes[int(value)]
        coding = ", ".join(f"{i} {name}" for i, name in enumerate(classes))
        raise DataError(path, f"prediction {value!r} is neither a class of the task nor its index",
                        f"use one of: {coding}", row)

    def non_standard_figures(self, frame):
        """The mean over subjects of each subject's UF1 (over the classes present in that subject's truth or
        predictions) and accuracy."""
        groups = frame.groupby("subject")
        uf1 = [f1_score(g["true_label"], g["predicted_label"], average="macro", zero_division=0) for _, g in groups]
        accuracy = [float((g["true_label"] == g["predicted_label"]).mean()) for _, g in groups]
        return {"mean_subject_uf1": float(np.mean(uf1)), "mean_subject_accuracy": float(np.mean(accuracy)),
                "subjects": len(uf1)}

    def non_standard_line(self, figures):
        return (f"non-standard, for comparison with papers that report them (not the MEGC figures above): "
                f"mean of per-subject UF1 {figures['mean_subject_uf1']:.3f}, mean of per-subject accuracy "
                f"{figures['mean_subject_accuracy']:.3f} over {figures['subjects']} subjects")

    def metric_names(self, classes):
        return metric_names(self.metrics_kind)

    def metric_labels(self, classes):
        return metric_labels(self.metrics_kind)

    def definitions(self):
        return "; ".join([*(m.definition for m in self.declared()), POOLED])

    def encode(self, frames, classes, mask=None):
        return scoring.encode_class_frames(frames, classes, mask)

    def epoch_scores(self, epochs, truth):  # accuracy: the rule every selection paper of the field uses
        return (epochs.argmax(axis=2) == truth).mean(axis=1)

    def pooled(self, predictions, classes):
        return {**scoring.pooled_class_metrics(predictions, classes), "task": self.name}

    def chance(self, pooled):
        return scoring.class_chance_level(pooled)

    def chance_line(self, pooled):
        chance = self.chance(pooled)
        return (f"chance: accuracy {chance['accuracy']:.3f} (always the most frequent class), "
                f"UF1 {chance['uf1']:.3f} and UAR {chance['uar']:.3f} (uniform guessing)")

    def report(self, metrics):
        return scoring.class_metrics_report(metrics, self.chance_line(metrics.pooled))


class MultiLabel(TaskKind):
    """Several labels per sample (action units): a sample's ``targets`` are among the task's classes."""

    name, label_word, ranking, weighs_labels, several_per_sample = "multi-label", "label", "macro_f1", True, True
    answer = "several labels per sample"

    def check_labels(self, samples, classes, task=""):
        whose = f"task {task!r}'s" if task else "the task's"
        for sample in samples:
            if sample.targets is None or any(target not in classes for target in sample.targets):
                raise DataError(f"sample {sample.id}", f"labels {sample.targets!r} are not among {whose} labels "
                                                       f"({', '.join(classes)})", "fix the dataset plugin's label rules")

    def targets(self, samples, classes):
        return torch.tensor([[float(c in s.targets) for c in classes] for s in samples], dtype=torch.float32)

    def loss(self, logits, targets, pos_weight=None, reduction="mean"):
        return F.binary_cross_entropy_with_logits(logits, targets, pos_weight=pos_weight, reduction=reduction)

    def probabilities(self, logits):
        return torch.sigmoid(logits.float())

    def fold_pos_weight(self, y, train):
        positives = y[train].sum(dim=0)
        negatives = len(train) - positives
        return torch.where(positives > 0, negatives / positives.clamp_min(1), torch.ones_like(positives))

    def truth_text(self, target, classes, sample=None):
        return scoring.join_labels([c for c, present in zip(classes, np.asarray(target).tolist()) if present])

    def answer_text(self, probabilities, classes):
        return scoring.join_labels([c for c, p in zip(classes, probabilities) if p >= scoring.DETECTION_THRESHOLD])

    def read_answers(self, texts, classes):
        return scoring.label_matrix(texts, classes)

    def right(self, frame, classes):  # per label: was the sample's decision on it right?
        truth = self.read_answers(frame["true_label"].tolist(), classes)
        return self.read_answers(frame["predicted_label"].tolist(), classes) == truth

    def read_answer(self, value, classes, path, row):
        """A label set (``AU4+AU12``, any order and case, also joined by ``;``, ``,`` or spaces; ``none`` or empty
        for no label) in the form predictions.csv writes."""
        by_name = {name.lower(): name for name in classes}
        given = [part.strip() for part in re.split(r"[+;,\s]+", value) if part.strip()]
        if [part.lower() for part in given] in ([], [scoring.NO_LABEL]):
            return scoring.NO_LABEL
        unknown = [part for part in given if part.lower() not in by_name]
        if unknown:
            raise DataError(path, f"prediction {value!r} names {', '.join(map(repr, unknown))}, not a label of the "
                                  f"task", f"use the task's labels joined by '+' ({'+'.join(classes[:3])}…) or "
                                           f"'{scoring.NO_LABEL}'", row)
        chosen = {by_name[part.lower()] for part in given}
        return scoring.join_labels([name for name in classes if name in chosen])

    def metric_names(self, classes):
        return label_metric_names(classes)

    def metric_labels(self, classes):
        declared = metric_labels(self.metrics_kind)
        return {**{name: declared.get(name) or f"{name.removeprefix('f1_')} F1" for name in self.metric_names(classes)},
                **declared}

    def definitions(self):
        points = [m.definition for m in self.declared(with_interval=False) if m.from_counts is None]
        return "; ".join([f"a label is detected where its probability is at least {scoring.DETECTION_THRESHOLD:g}",
                          "F1 per label = 2TP / (2TP + FP + FN)", *(m.definition for m in self.declared()),
                          POOLED, f"MEB's two figures (points, no interval): {', '.join(points)} (per dataset under "
                                  f"LODO: MEB's per-database figures)"])

    def encode(self, frames, classes, mask=None):
        return scoring.encode_label_frames(frames, classes, mask)

    def epoch_scores(self, epochs, truth):
        counts = label_cells(truth[None], epochs >= scoring.DETECTION_THRESHOLD).sum(axis=1)  # (E, K, 3)
        return label_metrics_from_counts(counts, range(truth.shape[1]))["macro_f1"]

    def pooled(self, predictions, classes):
        return {**scoring.pooled_label_metrics(predictions, classes), "task": self.name}

    def chance(self, pooled):
        return scoring.label_chance_level(pooled)

    def chance_line(self, pooled):
        chance = self.chance(pooled)
        return (f"chance: macro-F1 {chance['macro_f1_none']:.3f} (never detecting a label), "
                f"{chance['macro_f1_random']:.3f} (each label at random at its prevalence)")

    def report(self, metrics):
        return scoring.label_metrics_report(metrics, self.chance_line(metrics.pooled))


#: How predictions.csv writes a video's intervals: ``me 12-20; mae 40-90`` (inclusive frame numbers); ``none``.
INTERVAL_SEPARATOR = "; "


def intervals_text(intervals: Sequence[tuple[int, int, str]]) -> str:
    """``me 12-20; mae 40-90`` from (onset, offset, type) triples, sorted by onset; ``none`` for no interval."""
    ordered = sorted((int(onset), int(offset), str(kind)) for onset, offset, kind in intervals)
    return INTERVAL_SEPARATOR.join(f"{kind} {onset}-{offset}" for onset, offset, kind in ordered) or scoring.NO_LABEL


def read_intervals_text(text: str, types: Sequence[str] = TYPES) -> list[tuple[int, int, str]]:
    """(onset, offset, type) triples back from ``intervals_text``'s form."""
    text = str(text).strip()
    if text in ("", scoring.NO_LABEL, "nan"):
        return []
    triples = []
    for part in text.split(";"):
        kind, _, frames = part.strip().partition(" ")
        onset, _, offset = frames.partition("-")
        if kind not in types or not onset.strip().isdigit() or not offset.strip().isdigit():
            raise ValueError(f"{part.strip()!r} is not an interval written as 'TYPE ONSET-OFFSET' (TYPE one of "
                             f"{', '.join(types)})")
        triples.append((int(onset), int(offset), kind))
    return triples


class Intervals(TaskKind):
    """Intervals in long videos (spotting): a sample is a whole video (``mebench.long_videos.LongVideo``), its
    targets the annotated intervals (ME or MaE), its answer the intervals a spotter finds. Scored by the MEGC
    rule (``mebench.spotting``): per type and overall F1, precision and recall from TP, FP and FN, with
    subject-level intervals. Learnt by spotters (``mebench.run.learners.SPOTTER``), not by nets."""

    name, label_word, ranking, learners = "intervals", "type", "f1", ("spotter",)
    answer = "intervals in long videos (spotting)"
    further_figures = ("precision", "recall", "precision_me", "recall_me", "precision_mae", "recall_mae")

    def check_labels(self, samples, classes, task=""):
        whose = f"task {task!r}'s" if task else "the task's"
        for sample in samples:
            intervals = getattr(sample, "intervals", None)
            if intervals is None:
                raise DataError(f"sample {sample.id}", "is not a long video with intervals",
                                "a spotting task's loader returns mebench.long_videos.LongVideo objects")
            for interval in intervals:
                if interval.kind not in classes:
                    raise DataError(f"video {sample.id}", f"interval {interval.onset}-{interval.offset} has type "
                                                          f"{interval.kind!r}, not one of {whose} types "
                                                          f"({', '.join(classes)})", "fix the dataset plugin's rules")

    def targets(self, samples, classes):
        return torch.zeros(len(samples), dtype=torch.long)  # a video's intervals stay on the sample

    def digest_row(self, sample):
        return (sample.id, sample.n_frames, sample.fps, sample.fingerprint,
                [(i.onset, i.offset, i.kind) for i in sample.intervals])

    def loss(self, logits, targets, pos_weight=None, reduction="mean"):
        raise TypeError("a spotting task is learnt by a spotter, not by a net's loss")

    def probabilities(self, logits):
        raise TypeError("a spotting task is learnt by a spotter, not by a net")

    def truth_text(self, target, classes, sample=None):
        return intervals_text([(i.onset, i.offset, i.kind) for i in sample.intervals])

    def answer_text(self, answer, classes):
        """A fold record holds a video's intervals as flat (onset, offset, type index) triples."""
        values = [int(v) for v in answer]
        return intervals_text([(values[k], values[k + 1], classes[values[k + 2]]) for k in range(0, len(values), 3)])

    def answer_columns(self, answer, classes):
        return {}

    def answer_width(self, classes):
        return None

    def answer_problem(self, values, classes):
        if len(values) % 3 or not all(isinstance(v, int) and not isinstance(v, bool) for v in values):
            return "is not whole (onset, offset, type) triples"
        for onset, offset, kind in zip(values[::3], values[1::3], values[2::3]):
            if not (0 <= onset <= offset and 0 <= kind < len(classes)):
                return f"holds ({onset}, {offset}, {kind}), not an interval of a type among {', '.join(classes)}"
        return None

    def read_answers(self, texts, classes):
        return [read_intervals_text(text, classes) for text in texts]

    def _counts(self, frame: pd.DataFrame, predicted_texts: Sequence[str], classes: Sequence[str]) -> np.ndarray:
        """(videos, 2 types, 3 cells) of the frame's videos: predictions, ground truth, found."""
        videos = frame["sample_id"].tolist()
        truth = [Spotted(video, onset, offset, kind) for video, text in zip(videos, frame["true_label"])
                 for onset, offset, kind in read_intervals_text(text, classes)]
        predicted = [Spotted(video, onset, offset, kind) for video, text in zip(videos, predicted_texts)
                     for onset, offset, kind in read_intervals_text(text, classes)]
        return video_counts(predicted, truth, videos)

    def right(self, frame, classes):  # per video: every interval found and nothing else predicted
        counts = self._counts(frame, frame["predicted_label"].tolist(), classes)
        return ((counts[..., 0] == counts[..., 2]) & (counts[..., 1] == counts[..., 2])).all(axis=1)

    def metric_names(self, classes):
        return metric_names(self.metrics_kind)

    def metric_labels(self, classes):
        return metric_labels(self.metrics_kind)

    def definitions(self):
        return "; ".join([*(m.definition for m in self.declared() if m.definition),
                          "all pooled over every fold's videos"])

    @staticmethod
    def _by_subject(frame: pd.DataFrame, counts: np.ndarray) -> np.ndarray:
        """Per-video counts summed per subject of ``frame``: (subjects, 2 types, 3 cells)."""
        subjects = sorted(frame["subject"].unique())
        return group_rows(counts, [subjects.index(s) for s in frame["subject"]], len(subjects))

    def encode(self, frames, classes, mask=None):
        frame = frames[0]
        mask = np.ones(len(frame), bool) if mask is None else mask
        subset = frame[mask]
        return EncodedCounts(np.stack([self._by_subject(subset, self._counts(subset, f["predicted_label"][mask].tolist(),
                                                                             classes)) for f in frames]),
                             self.metrics_kind)

    def epoch_scores(self, epochs, truth):
        raise TypeError("a spotter has no epochs to choose among")

    def _block(self, frame: pd.DataFrame, classes: Sequence[str]) -> dict[str, Any]:
        counts = self._counts(frame, frame["predicted_label"].tolist(), classes)
        encoded = EncodedCounts(self._by_subject(frame, counts)[None], self.metrics_kind)
        total = counts.sum(axis=0)
        figures = {name: float(value) for name, value in spotting_figures(total).items()}  # precision, recall too
        figures.update({name: float(value) for name, value in encoded.metrics(total).items()})  # the declared ones
        pooled = pooled_counts(counts)
        per_type = {kind: {**pooled[kind], "precision": figures[f"precision_{kind}"],
                           "recall": figures[f"recall_{kind}"], "f1": figures[f"f1_{kind}"]} for kind in TYPES}
        per_type["overall"] = {**pooled["overall"], "precision": figures["precision"], "recall": figures["recall"],
                               "f1": figures["f1"]}
        ci = subject_bootstrap(encoded)
        ci.pop("estimate")
        return {"n": int(len(frame)), **figures, "per_class": per_type, "ci": ci}

    def pooled(self, predictions, classes):
        frame = predictions.sort_values("sample_id").reset_index(drop=True)
        result = {"classes": list(classes), "task": self.name, "pooled": self._block(frame, classes)}
        datasets = sorted(frame["dataset"].unique())
        if len(datasets) > 1:
            result["per_dataset"] = {name: self._block(frame[frame["dataset"] == name].reset_index(drop=True),
                                                       classes) for name in datasets}
        result["fold_mean"] = {}
        return result

    def chance(self, pooled):
        return {"f1_nothing": 0.0, "truth": int(pooled.per_class["overall"]["truth"])}

    def chance_line(self, pooled):
        return (f"chance: F1 0.000 when spotting nothing ({pooled.per_class['overall']['truth']} ground-truth "
                f"intervals, all missed); a prediction counts only where it overlaps an interval of its type at "
                f"IoU ≥ {DEFAULT_IOU}")

    def report(self, metrics):
        rows = []
        for scope, block in [("all", metrics.pooled), *metrics.per_dataset.items()]:
            for kind in (*TYPES, "overall"):
                cells = block.per_class[kind]
                name = "f1" if kind == "overall" else f"f1_{kind}"
                rows.append([scope, TYPE_LABELS[kind], block.n, cells["tp"], cells["fp"], cells["fn"],
                             f"{cells['precision']:.3f}", f"{cells['recall']:.3f}",
                             scoring.format_interval(block.value(name), block.interval(name))])
        table = tabulate(rows, headers=["videos of", "type", "videos", "TP", "FP", "FN", "precision", "recall", "F1"],
                         tablefmt="github", disable_numparse=True)
        ci = metrics.pooled.ci
        note = (f"\n[low, high]: {int(ci['level'] * 100)} % {ci['method']}, {ci['resamples']:,} resamples of "
                f"{ci['groups']} subjects" if ci else "")
        return f"{table}{note}\n{self.chance_line(metrics.pooled)}"


#: The emotions spot-then-recognise classifies a spotted interval into (MEAN's three classes, MEGC2023 onwards).
STR_EMOTIONS = ("negative", "positive", "surprise")


def str_text(intervals: Sequence[tuple[int, int, str, str | None]]) -> str:
    """``me 12-20 positive; mae 40-90`` from (onset, offset, type, emotion) quadruples (emotion None: left out)."""
    ordered = sorted((int(onset), int(offset), str(kind), emotion) for onset, offset, kind, emotion in intervals)
    return INTERVAL_SEPARATOR.join(" ".join(filter(None, (kind, f"{onset}-{offset}", emotion)))
                                   for onset, offset, kind, emotion in ordered) or scoring.NO_LABEL


def read_str_text(text: str, types: Sequence[str] = TYPES, emotions: Sequence[str] = STR_EMOTIONS
                  ) -> list[tuple[int, int, str, str | None]]:
    """(onset, offset, type, emotion or None) quadruples back from ``str_text``'s form."""
    text = str(text).strip()
    if text in ("", scoring.NO_LABEL, "nan"):
        return []
    quadruples = []
    for part in text.split(";"):
        words = part.split()
        emotion = words.pop() if len(words) == 3 else None
        if len(words) != 2 or (emotion is not None and emotion not in emotions):
            raise ValueError(f"{part.strip()!r} is not an interval written as 'TYPE ONSET-OFFSET [EMOTION]' (EMOTION "
                             f"one of {', '.join(emotions)})")
        (onset, offset, kind), = read_intervals_text(" ".join(words), types)
        quadruples.append((onset, offset, kind, emotion))
    return quadruples


def str_emotion(interval: Any, emotions: Sequence[str] = STR_EMOTIONS) -> str | None:
    """The emotion class of an annotated interval for spot-then-recognise: the class its task assigned
    (``emotion_class``: a spotting task maps each raw emotion through its database's declared mapping) where it is
    one of ``emotions``; for an interval no task classed (``emotion_class`` None: built by hand), its emotion where
    that is already one of them; else None (not scored for recognition)."""
    assigned = getattr(interval, "emotion_class", None)
    if assigned is not None:
        return assigned if assigned in emotions else None
    emotion = str(interval.emotion or "").strip().lower()
    return emotion if emotion in emotions else None


class SpotThenRecognise(Intervals):
    """Spot-then-recognise (STR): a spotting task (``Intervals``) whose spotted intervals are also classified into
    an emotion (``STR_EMOTIONS``) by a recognition model trained on the training videos' annotated intervals
    (``mebench.run.spot_recognise``). Scored as spotting plus recognition on the spotted true positives (UF1, UAR)
    and STRS = spotting F1 × recognition UF1, per type and overall, with subject-level intervals. A run is one
    with the ``str`` protocol on a spotting task."""

    name, ranking, learners = "spot-then-recognise", "strs", ("spot-then-recognise",)
    answer = "intervals in long videos, each with an emotion (spot-then-recognise)"
    emotions = STR_EMOTIONS
    row_options = (("recogniser", "the recognition model trained in each fold on the training videos' annotated "
                                  "intervals (—: the spotter recognises what it spots itself)"),)

    def digest_row(self, sample):
        return (*super().digest_row(sample), [str_emotion(i) for i in sample.intervals])

    def truth_text(self, target, classes, sample=None):
        return str_text([(i.onset, i.offset, i.kind, str_emotion(i)) for i in sample.intervals])

    def answer_text(self, answer, classes):
        """A fold record holds a video's intervals as flat (onset, offset, type index, emotion index) quadruples."""
        values = [int(v) for v in answer]
        return str_text([(values[k], values[k + 1], classes[values[k + 2]], self.emotions[values[k + 3]])
                         for k in range(0, len(values), 4)])

    def answer_problem(self, values, classes):
        if len(values) % 4 or not all(isinstance(v, int) and not isinstance(v, bool) for v in values):
            return "is not whole (onset, offset, type, emotion) quadruples"
        for onset, offset, kind, emotion in zip(values[::4], values[1::4], values[2::4], values[3::4]):
            if not (0 <= onset <= offset and 0 <= kind < len(classes) and 0 <= emotion < len(self.emotions)):
                return (f"holds ({onset}, {offset}, {kind}, {emotion}), not an interval of a type among "
                        f"{', '.join(classes)} with an emotion among {', '.join(self.emotions)}")
        return None

    def read_answers(self, texts, classes):  # the intervals (the timeline draws them); emotions: read_str_text
        return [[(onset, offset, kind) for onset, offset, kind, _ in read_str_text(text, classes, self.emotions)]
                for text in texts]

    def _counts(self, frame, predicted_texts, classes):
        """(videos, 2 types, 3 + K·K cells): the spotting cells and the true-by-recognised emotions of the TPs."""
        videos = frame["sample_id"].tolist()
        def spotted(texts):
            return [Spotted(video, onset, offset, kind, emotion=emotion) for video, text in zip(videos, texts)
                    for onset, offset, kind, emotion in read_str_text(text, classes, self.emotions)]
        return video_counts(spotted(predicted_texts), spotted(frame["true_label"]), videos,
                            emotions=list(self.emotions))

    def right(self, frame, classes):  # per video: every interval found, nothing else, every emotion right
        counts = self._counts(frame, frame["predicted_label"].tolist(), classes)
        k = len(self.emotions)
        confusion = counts[..., 3:].reshape(*counts.shape[:-1], k, k)
        wrong = confusion.sum(axis=(-2, -1)) - np.trace(confusion, axis1=-2, axis2=-1)
        return super().right(frame, classes) & (wrong == 0).all(axis=1)

    def _block(self, frame, classes):
        block = super()._block(frame, classes)
        counts = self._counts(frame, frame["predicted_label"].tolist(), classes)
        k = len(self.emotions)
        confusion = counts[..., 3:].reshape(*counts.shape[:-1], k, k).sum(axis=0)  # (2 types, K, K)
        for index, kind in enumerate(TYPES):
            block["per_class"][kind]["recognised"] = int(confusion[index].sum())
            block["per_class"][kind]["recognised_right"] = int(np.trace(confusion[index]))
        block["per_class"]["overall"]["recognised"] = int(confusion.sum())
        block["per_class"]["overall"]["recognised_right"] = int(np.trace(confusion.sum(axis=0)))
        block["confusion"] = confusion.sum(axis=0).tolist()
        return block

    def pooled(self, predictions, classes):
        return {**super().pooled(predictions, classes), "emotions": list(self.emotions)}

    def chance_line(self, pooled):
        return (f"{super().chance_line(pooled)}; recognition on the {pooled.per_class['overall']['recognised']} "
                f"true positives with an emotion, chance UF1 about 1/{len(self.emotions)} for a uniform guess")

    def report(self, metrics):
        spotting = super().report(metrics)
        rows = []
        for scope, block in [("all", metrics.pooled), *metrics.per_dataset.items()]:
            for kind in (*TYPES, "overall"):
                cells = block.per_class[kind]
                suffix = "" if kind == "overall" else f"_{kind}"
                recognition = (scoring.format_interval(block.value("recognition_uf1"), block.interval("recognition_uf1"))
                               if kind == "overall" else "")
                uar = (scoring.format_interval(block.value("recognition_uar"), block.interval("recognition_uar"))
                       if kind == "overall" else "")
                rows.append([scope, TYPE_LABELS[kind], cells["tp"], cells["recognised"], cells["recognised_right"],
                             recognition, uar, scoring.format_interval(block.value(f"strs{suffix}"),
                                                                       block.interval(f"strs{suffix}"))])
        table = tabulate(rows, headers=["videos of", "type", "TP", "TP with emotion", "recognised right",
                                        "rec. UF1", "rec. UAR", "STRS"], tablefmt="github", disable_numparse=True)
        return f"{spotting}\n\nspot-then-recognise (emotions {', '.join(self.emotions)}; recognition on the true " \
               f"positives):\n{table}"


SINGLE_LABEL, MULTI_LABEL, INTERVALS = SingleLabel(), MultiLabel(), Intervals()
SPOT_THEN_RECOGNISE = SpotThenRecognise()
#: Every task kind by name, the built-in ones and those plugins declare (``register_task_kind``).
TASK_KINDS: dict[str, TaskKind] = {kind.name: kind for kind in (SINGLE_LABEL, MULTI_LABEL, INTERVALS,
                                                                 SPOT_THEN_RECOGNISE)}


def kind_conflict(kind: Any) -> str | None:
    """Why ``kind`` cannot be registered (None: it can): not a ``TaskKind``, without a name, or its name taken by
    another kind. The same kind again (one of the same class under the same name) is no conflict."""
    if not isinstance(kind, TaskKind):
        return f"a task kind is a mebench.api.TaskKind, not {type(kind).__name__}"
    if not isinstance(kind.name, str) or not kind.name:
        return f"task kind {type(kind).__name__} has no name"
    known = TASK_KINDS.get(kind.name)
    if known is not None and type(known) is not type(kind):
        return f"task kind {kind.name!r} is already {type(known).__name__}, not {type(kind).__name__}"
    return None


def register_task_kind(kind: TaskKind) -> TaskKind:
    """Make ``kind`` known by its name, so that a record naming it (``metrics.json``'s ``"task"``) is read as it
    (``mebench.registry`` registers the kinds plugins declare); the kind already known by that name where it is
    the same kind; ``ValueError`` naming the conflict otherwise."""
    problem = kind_conflict(kind)
    if problem:
        raise ValueError(problem)
    return TASK_KINDS.setdefault(kind.name, kind)


def task_kind(name: str | None) -> TaskKind:
    """The kind a record names (None, as every single-label record before kinds were declared: single-label)."""
    if name is None:
        return SINGLE_LABEL
    try:
        return TASK_KINDS[name]
    except KeyError:
        raise OptionError(f"unknown task kind {name!r}; known: {', '.join(TASK_KINDS)} (declared by a plugin that is "
                          f"not installed, or written by a newer mebench? install the plugin or upgrade mebench)"
                          ) from None


def for_kind(table: Mapping[str, Any], kind: TaskKind) -> Any:
    """The entry of ``table`` (by kind name) for ``kind``, else for the nearest kind it extends: a kind built on
    another (spot-then-recognise on intervals) takes that kind's layouts where it declares none of its own."""
    for base in type(kind).__mro__:
        name = getattr(base, "name", "")
        if name in table:
            return table[name]
    raise KeyError(f"no entry for task kind {kind.name!r}")


def kind_of(metrics: "Metrics") -> TaskKind:
    """The kind of the task a run's ``metrics.json`` scores."""
    return task_kind(metrics.task)


def metrics_report(metrics: "Metrics") -> str:
    """The table printed at the end of a run (or by ``mebench score``), as the task's kind lays it out."""
    return kind_of(metrics).report(metrics)


__all__ = ["INTERVALS", "Intervals", "MULTI_LABEL", "MultiLabel", "SINGLE_LABEL", "SPOT_THEN_RECOGNISE", "STR_EMOTIONS",
           "SingleLabel", "SpotThenRecognise", "TASK_KINDS", "TaskKind", "for_kind", "kind_conflict", "kind_of",
           "metrics_report", "register_task_kind", "task_kind"]
