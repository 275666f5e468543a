"""Scoring predictions made anywhere: a CSV of predictions against a task's ground truth, with the same
figures, intervals and chance line a run of mebench prints (``mebench score``).

The file names each sample by mebench's sample id (an ``id`` or ``sample_id`` column,
``casme2/sub01/EP02_01f``) or by the official list's columns ``dataset``, ``subject`` and ``clip``
(subjects as any of the usual spellings: ``sub01``, ``1``, ``s01``, ``006``), and its answer in a
``prediction`` (or ``predicted_label``) column: a class name or its index in the task's coding
(MEGC2019: 0 negative, 1 positive, 2 surprise); for an action-unit task, the labels joined by ``+``
(``AU4+AU12``; ``none`` for no label). An optional ``fold`` column is kept for the fold-mean
figure. Every malformed row stops the scoring with its file, row and value; ids the file lacks or adds
are named, and the figures cover the samples both share.

Besides the standard (MEGC2019: pooled over every sample) figures, the report gives the non-standard
figures some publications print instead, each labelled as such: the mean of per-subject UF1 and
accuracy.

``store_scored`` (``mebench score --as NAME``) writes a scored file as a configuration in a run folder of the
standard layout, ``learner`` ``external``, without timing, with the file's SHA-256, so that the leaderboard
and ``mebench compare`` read it like a run of mebench's own.
"""

from __future__ import annotations

import csv
import hashlib
import re
import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Mapping, Sequence

import numpy as np
import pandas as pd
from tabulate import tabulate

import mebench
from mebench.errors import DataError, UsageError
from mebench.metrics import format_interval
from mebench.records import Metrics, RunRecord, load_run
from mebench.identity import config_hash, git_commit, make_run_id
from mebench.results import PredictionsTable, RunDirectory
from mebench.spotting import (AP_LABEL, TYPE_LABELS, Spotted, coco_average_precision, group_rows,
                              pooled_counts, spotting_figures, video_counts)
from mebench.statistics import EncodedCounts, subject_bootstrap
from mebench.tasks import SINGLE_LABEL, TaskKind, kind_of, metrics_report

ID_COLUMNS = ("id", "sample_id")
PREDICTION_COLUMNS = ("prediction", "predicted_label")
OFFICIAL_COLUMNS = ("dataset", "subject", "clip")  # ``filename`` (the official list's own word) for ``clip`` too
#: How many missing or extra ids the report names before it only counts them.
NAMED = 10


@dataclass(frozen=True)
class Truth:
    """One ground-truth sample of the task: its namespaced id and subject, its source dataset and class."""

    sample_id: str
    dataset: str
    subject: str
    label: str


@dataclass
class Scored:
    """What ``mebench score`` reports: the figures over the matched samples, and what did not match."""

    task: str
    file: str
    metrics: Metrics
    per_subject: dict[str, float]
    missing: list[str] = field(default_factory=list)
    extra: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {"task": self.task, "file": self.file, "metrics": self.metrics.to_json(),
                "chance": kind_of(self.metrics).chance(self.metrics.pooled), "non_standard": self.per_subject,
                "missing": self.missing, "extra": self.extra}


def subject_key(subject: str) -> str:
    """A subject's local name reduced to what every spelling shares: ``sub01``, ``s1``, ``01``, ``1`` → ``1``."""
    local = str(subject).strip().lower().rsplit("/", 1)[-1]
    return re.sub(r"^[a-z_]*0*(?=\d)", "", local)


def read_prediction_rows(path: Path) -> tuple[list[dict[str, str]], list[str]]:
    """The rows of a CSV file (header names lower-cased, values stripped, ``__row__`` the row's line number) and
    its header; a row with more or fewer values than the header is refused."""
    try:
        with open(path, newline="", encoding="utf-8-sig") as handle:
            reader = csv.reader(handle)
            header = [name.strip().lower() for name in next(reader, [])]
            records = [(number, record) for number, record in enumerate(reader, start=2)
                       if any(value.strip() for value in record)]
    except (OSError, UnicodeDecodeError, csv.Error) as error:
        raise DataError(path, f"cannot be read ({error})", "pass a UTF-8 CSV file with a header row") from None
    if not header:
        raise DataError(path, "is empty", "write a header row and one row per sample")
    rows = []
    for number, record in records:
        if len(record) != len(header):
            raise DataError(path, f"has {len(record)} values where the header has {len(header)}",
                            "give one value per column", number)
        rows.append(dict(zip(header, (value.strip() for value in record))) | {"__row__": str(number)})
    return rows, header


def match_predictions(path: Path, truth: Sequence[Truth], classes: Sequence[str], kind: TaskKind = SINGLE_LABEL
                      ) -> tuple[pd.DataFrame, list[str], list[str]]:
    """The predictions frame (``TaskKind.pooled``'s columns) of the samples both the file and the truth have,
    the truth's ids the file lacks and the file's ids the truth lacks. The task's kind reads each answer
    (``TaskKind.read_answer``: a class name or index; a multi-label task's label set, ``AU4+AU12``, ``none``)."""
    rows, header = read_prediction_rows(Path(path))
    if "clip" not in header and "filename" in header:
        header = ["clip" if name == "filename" else name for name in header]
        rows = [row | {"clip": row["filename"]} for row in rows]
    id_column = next((name for name in ID_COLUMNS if name in header), None)
    answer = next((name for name in PREDICTION_COLUMNS if name in header), None)
    if answer is None or (id_column is None and not set(OFFICIAL_COLUMNS) <= set(header)):
        raise DataError(path, f"has the columns {header}",
                        "name each sample by an 'id' column (or 'dataset', 'subject', 'clip') and give a "
                        "'prediction' column")
    by_id = {t.sample_id: t for t in truth}
    by_official = {(t.dataset, subject_key(t.subject), t.sample_id.rsplit("/", 1)[-1].lower()): t for t in truth}
    matched, extra, seen = [], [], {}
    for row in rows:
        if id_column is not None:
            sample = by_id.get(row[id_column])
            name = row[id_column]
        else:
            key = (row["dataset"].lower(), subject_key(row["subject"]), row["clip"].lower())
            sample = by_official.get(key)
            name = f"{row['dataset']}/{row['subject']}/{row['clip']}"
        if not name.strip("/"):
            raise DataError(path, "names no sample", "fill the id (or dataset, subject, clip) columns", row["__row__"])
        decision = kind.read_answer(row[answer], classes, path, row["__row__"])
        if sample is None:
            extra.append(name)
            continue
        if sample.sample_id in seen:
            raise DataError(path, f"predicts {sample.sample_id} twice (rows {seen[sample.sample_id]} and "
                                  f"{row['__row__']})", "keep one prediction per sample", row["__row__"])
        seen[sample.sample_id] = row["__row__"]
        matched.append({"sample_id": sample.sample_id, "dataset": sample.dataset, "subject": sample.subject,
                        "fold": row.get("fold") or sample.subject, "true_label": sample.label,
                        "predicted_label": decision})
    missing = sorted(set(by_id) - set(seen))
    if not matched:
        raise DataError(path, f"matches none of the task's {len(truth)} samples",
                        "name samples by mebench's ids or the official list's dataset, subject and clip")
    frame = pd.DataFrame(matched)
    frame.attrs["folds_given"] = "fold" in header  # without them each subject stands in for a fold
    return frame, missing, sorted(extra)


def score_file(path: Path, task: str, truth: Sequence[Truth], classes: Sequence[str], kind: TaskKind = SINGLE_LABEL
               ) -> Scored:
    """Score a predictions file against ``truth``: pooled and per-dataset figures with subject-level intervals
    (multi-label: macro-F1 and per label, MEB's figures beside them)."""
    frame, missing, extra = match_predictions(path, truth, classes, kind)
    metrics = Metrics.from_json(kind.pooled(frame, classes), kind)
    if not frame.attrs["folds_given"]:
        metrics.fold_mean = {}  # the file gave no folds: no fold-mean figure (the per-subject means are below)
    return Scored(task, str(path), metrics, kind.non_standard_figures(frame), missing, extra)


def _named(ids: Sequence[str]) -> str:
    shown = ", ".join(ids[:NAMED])
    return shown + (f", … ({len(ids) - NAMED} more)" if len(ids) > NAMED else "")


def score_report(scored: Scored) -> str:
    """What ``mebench score`` prints: what matched, the run report's table, the non-standard figures."""
    n = scored.metrics.pooled.n
    lines = [f"{scored.file}: {n} predictions scored against task {scored.task!r}"]
    if scored.missing:
        lines.append(f"missing from the file ({len(scored.missing)}; not scored): {_named(scored.missing)}")
    if scored.extra:
        lines.append(f"not in the task ({len(scored.extra)}; ignored): {_named(scored.extra)}")
    lines += ["", metrics_report(scored.metrics)]
    if scored.per_subject:  # the kind's non-standard figures, said as the kind says them
        lines += ["", kind_of(scored.metrics).non_standard_line(scored.per_subject)]
    return "\n".join(lines)


# --- a scored file stored as a configuration (``mebench score --as NAME``) -------------------------------------

#: The ``learner`` of a configuration whose predictions were made elsewhere (``RunRecord.external``).
EXTERNAL = "external"
#: What ``--as`` accepts: the run id joins its parts with ``__``, so a name holds no ``__`` (and no ``/``).
EXTERNAL_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")


def check_external_name(name: str, models: Sequence[str]) -> None:
    """Refuse (``UsageError``, one line) a ``--as`` name that cannot be a configuration's name: one that is not
    letters, digits and ``._-``, holds ``__``, or is the name of a model of mebench (a leaderboard row and
    ``mebench compare NAME`` would not say which is meant)."""
    if not EXTERNAL_NAME.fullmatch(name) or "__" in name:
        raise UsageError(f"--as {name!r}: a name is 1 to 64 letters, digits, '.', '_' or '-', starts with a letter "
                         f"or digit and holds no '__'; e.g. --as ststnet-authors")
    if name in models:
        raise UsageError(f"--as {name!r} is the name of a model of mebench; name the external predictions "
                         f"otherwise, e.g. --as {name}-external")


def file_sha256(path: Path) -> str:
    """The SHA-256 of a file's bytes (hex)."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


@dataclass
class StoredRun:
    """What ``store_scored`` did: the run folder and whether it wrote it, left an identical one, or replaced one."""

    folder: Path
    action: str  # "stored", "unchanged" or "replaced"


def external_record(scored: Scored, name: str, dataset_options: Mapping[str, Any], protocol: str,
                    frame: pd.DataFrame, sha256: str) -> RunRecord:
    """The run record of a scored file: model ``name``, learner ``external``, no timing, its source's digest.
    The identity (and so the run id) is the name, the task and its options — not the file's bytes, so storing
    another file under the same name lands in the same folder."""
    identity = {"model": name, "dataset": scored.task, "dataset_options": dict(dataset_options),
                "learner": EXTERNAL}
    digest = config_hash(identity)
    classes = list(scored.metrics.classes)
    config = {**identity, "protocol": protocol, "protocol_options": {}, "selection": "fixed", "classes": classes,
              "tasks": [scored.task]}
    folds = sorted(frame["fold"].astype(str).unique())
    return RunRecord(run_id=make_run_id(name, scored.task, digest, 0, tag=EXTERNAL), model=name, dataset=scored.task,
                     seed=0, config=config, config_hash=digest, metrics=scored.metrics, timing=None, parameters=0,
                     environment={"device": "", "scored_by": {"mebench": mebench.__version__,
                                                              "git_commit": git_commit()}},
                     protocol=protocol, selection="fixed", classes=classes, n_samples=len(frame), n_folds=len(folds),
                     finished=time.strftime("%Y-%m-%dT%H:%M:%S%z"), learner=EXTERNAL,
                     source={"file": scored.file, "sha256": sha256})


def store_scored(scored: Scored, frame: pd.DataFrame, name: str, results_dir: Path, dataset_options: Mapping[str, Any],
                 protocol: str, allow_missing: bool = False, force: bool = False) -> StoredRun:
    """Write a scored file as a configuration: ``RESULTS/<name>__<task>__external__<hash>__seed0/`` with
    ``predictions.csv`` (``frame``, mebench's columns), ``metrics.json`` (``scored``'s figures) and, last,
    ``run.json``, through the runner's writer. Refused (one line) where the file lacks ids of the task, unless
    ``allow_missing``, and where the folder holds another file's predictions, unless ``force`` replaces them; the
    same file again leaves the folder as it is."""
    if scored.missing and not allow_missing:
        raise DataError(scored.file, f"lacks {len(scored.missing)} of the task's samples ({_named(scored.missing)})",
                        "predict every sample of the task, or pass --allow-missing to store the configuration on the "
                        "samples it has (it then sits in a table of its own, and compare refuses full runs)")
    sha256 = file_sha256(Path(scored.file))
    record = external_record(scored, name, dataset_options, protocol, frame, sha256)
    directory = RunDirectory(Path(results_dir), record.run_id)
    with directory.lock(wait=False):
        previous, _ = load_run(directory.path)
        action = "stored"
        if previous is not None and previous.source.get("sha256") == sha256:
            return StoredRun(directory.path, "unchanged")
        if previous is not None or (directory.path / "predictions.csv").exists():
            if not force:
                was = previous.source.get("file", "another file") if previous is not None else "another file"
                raise UsageError(f"{directory.path} already holds {name!r} on {scored.task!r}, scored from {was} "
                                 f"(another SHA-256); pass --force to replace it, or choose another name")
            directory.clear(keep_locks=True)
            action = "replaced"
        # the file's decisions, without probabilities: the fixed columns only
        directory.write_outputs(record, PredictionsTable.of(frame))
    return StoredRun(directory.path, action)


# --- spotting: intervals in long videos, scored by the MEGC rule (mebench.spotting) ----------------------------

TYPE_SPELLINGS = {"me": "me", "micro": "me", "micro-expression": "me", "mae": "mae", "macro": "mae",
                  "macro-expression": "mae"}


def _column(header: Sequence[str], names: Sequence[str], path: Path, what: str) -> str:
    found = next((name for name in names if name in header), None)
    if found is None:
        raise DataError(path, f"has no {what} column (one of {', '.join(names)}); its columns are {list(header)}",
                        "write the MEGC form: vid,onset,offset,type")
    return found


def _frame(value: str, path: Path, row: str, what: str) -> int:
    if not re.fullmatch(r"\d+", value):
        raise DataError(path, f"{what} {value!r} is not a frame number", "give a whole number ≥ 0", row)
    return int(value)


#: A predictions file's optional confidence column: with it, AP@[.5:.95] is computed beside the MEGC figures.
SCORE_COLUMNS = ("score", "confidence")


def _score(value: str, path: Path, row: str, column: str) -> float:
    try:
        score = float(value)
    except ValueError:
        score = float("nan")
    if not np.isfinite(score):
        raise DataError(path, f"{column} {value!r} is not a number",
                        f"give every prediction a finite {column}, or drop the column (then no AP is computed)", row)
    return score


def read_intervals(path: Path, known: Mapping[str, str] | None = None) -> tuple[list[Spotted], dict[str, str]]:
    """The intervals of a spotting file and every video it names with its subject (``subject`` column, else the
    video). Ground truth (``known`` None): a row with empty onset, offset and type names a video without any
    expression. Predictions (``known``: the ground truth's videos): a video the ground truth lacks is refused; a
    ``score`` (or ``confidence``) column, where there is one, gives each interval its score (a number in every
    row)."""
    rows, header = read_prediction_rows(Path(path))
    video = _column(header, ("vid", "video"), path, "video")
    onset = _column(header, ("onset", "pred_onset"), path, "onset")
    offset = _column(header, ("offset", "pred_offset"), path, "offset")
    type_column = _column(header, ("type",), path, "type")
    score = next((name for name in SCORE_COLUMNS if name in header), None) if known is not None else None
    intervals, videos = [], {}
    for row in rows:
        where = row["__row__"]
        if not row[video]:
            raise DataError(path, "names no video", "fill the vid column", where)
        if known is not None and row[video] not in known:
            raise DataError(path, f"video {row[video]!r} is not in the ground truth",
                            "score predictions for the ground truth's videos only", where)
        videos.setdefault(row[video], row.get("subject") or row[video])
        if known is None and not (row[onset] or row[offset] or row[type_column]):
            continue  # a video without any expression
        spelled = TYPE_SPELLINGS.get(row[type_column].lower())
        if spelled is None:
            raise DataError(path, f"type {row[type_column]!r} is not me or mae", "write me (micro) or mae (macro)",
                            where)
        first, last = _frame(row[onset], path, where, "onset"), _frame(row[offset], path, where, "offset")
        if last < first:
            raise DataError(path, f"offset {last} comes before onset {first}", "swap them or fix the row", where)
        confidence = _score(row[score], path, where, score) if score is not None else None
        intervals.append(Spotted(row[video], first, last, spelled, confidence))
    return intervals, videos


@dataclass
class SpottingScore:
    """``mebench score --task spotting``: counts and figures per type and overall, with intervals."""

    file: str
    ground_truth: str
    iou: float
    counts: dict[str, dict[str, int]]
    figures: dict[str, float]
    ci: dict[str, Any]
    videos: int
    #: COCO-style AP@[.5:.95] (``mebench.spotting.coco_average_precision``); None where the predictions carry no score.
    ap: dict[str, Any] | None = None

    def to_json(self) -> dict[str, Any]:
        blocks = {}
        for name, cells in self.counts.items():
            suffix = "" if name == "overall" else f"_{name}"
            blocks[name] = {**cells, "precision": self.figures[f"precision{suffix}"],
                            "recall": self.figures[f"recall{suffix}"], "f1": self.figures[f"f1{suffix}"],
                            "f1_interval": self.ci[f"f1{suffix}"]}
        scored = {"file": self.file, "ground_truth": self.ground_truth, "iou": self.iou, "videos": self.videos,
                  **blocks, "interval": {key: self.ci[key] for key in ("method", "unit", "resamples", "seed", "level",
                                                                       "groups")}}
        if self.ap is not None:
            scored["ap"] = {"name": AP_LABEL, **self.ap}
        return scored


def score_spotting(path: Path, ground_truth: Path, iou: float) -> SpottingScore:
    """Score a spotting predictions file against a ground-truth file by the MEGC rule (``mebench.spotting``)."""
    truth, videos = read_intervals(ground_truth)
    if not videos:
        raise DataError(ground_truth, "names no video", "one row per ground-truth interval: vid,onset,offset,type")
    return _score_intervals(path, truth, videos, iou, str(ground_truth))


def video_aliases(videos: Sequence[Any]) -> dict[str, str]:
    """How a predictions file may name a task's video (``mebench.long_videos.LongVideo``) → its id: the id
    (``casme2-long/s15/0101``), ``s15/0101``, ``s15_0101`` and, where no other video shares it, ``0101``."""
    aliases: dict[str, str] = {}
    names = [video.video for video in videos]
    for video in videos:
        subject = video.subject.rsplit("/", 1)[-1]
        for alias in (video.id, f"{subject}/{video.video}", f"{subject}_{video.video}"):
            aliases[alias] = video.id
        if names.count(video.video) == 1:
            aliases.setdefault(video.video, video.id)
    return aliases


def score_spotting_task(path: Path, task: str, videos: Sequence[Any], iou: float) -> SpottingScore:
    """Score a spotting predictions file against a spotting task's videos (the user's copy, or generated): the
    ground truth is their annotated intervals, every video counts, subjects are the resampling unit."""
    aliases = video_aliases(videos)
    truth = [Spotted(video.id, interval.onset, interval.offset, interval.kind)
             for video in videos for interval in video.intervals]
    named = {video.id: video.subject for video in videos}
    return _score_intervals(path, truth, named, iou, f"task {task!r} ({len(videos)} videos)", aliases)


def _score_intervals(path: Path, truth: list[Spotted], videos: dict[str, str], iou: float, source: str,
                     aliases: Mapping[str, str] | None = None) -> SpottingScore:
    """The MEGC figures of a predictions file against ``truth`` over ``videos`` (video → subject)."""
    predicted, _ = read_intervals(path, known=aliases or videos)
    if aliases:
        predicted = [replace(interval, video=aliases[interval.video]) for interval in predicted]
    names = sorted(videos)
    counts = video_counts(predicted, truth, names, iou)
    subjects = sorted(set(videos.values()))
    groups = [subjects.index(videos[name]) for name in names]
    grouped = group_rows(counts, groups, len(subjects))
    ci = subject_bootstrap(EncodedCounts(grouped[None], "intervals"))
    by_subject = any(videos[name] != name for name in names)
    if not by_subject:
        ci["unit"] = "video (the ground truth names no subjects)"
        ci["method"] = ci["method"].replace("subject-level", "video-level")
    figures = {name: float(value) for name, value in spotting_figures(counts.sum(axis=0)).items()}
    # AP ranks predictions by their scores: without a score column it is not defined, and not reported
    scores_given = bool(predicted) and all(interval.score is not None for interval in predicted)
    ap = coco_average_precision(predicted, truth) if scores_given else None
    return SpottingScore(str(path), source, float(iou), dict(pooled_counts(counts)), figures, ci, len(names), ap)


def spotting_report(scored: SpottingScore) -> str:
    """The table ``mebench score --task spotting`` prints."""
    rows = []
    for name, cells in scored.counts.items():
        suffix = "" if name == "overall" else f"_{name}"
        rows.append([TYPE_LABELS[name], cells["truth"], cells["predictions"], cells["tp"], cells["fp"], cells["fn"],
                     f"{scored.figures[f'precision{suffix}']:.4f}", f"{scored.figures[f'recall{suffix}']:.4f}",
                     format_interval(scored.figures[f"f1{suffix}"], scored.ci[f"f1{suffix}"])])
    table = tabulate(rows, headers=["type", "truth", "predicted", "TP", "FP", "FN", "precision", "recall", "F1"],
                     tablefmt="github", disable_numparse=True)
    ci = scored.ci
    lines = [f"{scored.file}: spotting scored against {scored.ground_truth} ({scored.videos} videos, MEGC rule, "
             f"IoU ≥ {scored.iou:g})", "", table,
             f"[low, high]: {int(ci['level'] * 100)} % {ci['method']}, {ci['resamples']:,} resamples of "
             f"{ci['groups']} {'subjects' if ci['unit'] == 'subject' else 'videos'}",
             "TP: ground-truth intervals found (each once); FP = predictions − TP; FN = ground truth − TP; overall "
             "from the counts pooled over both types"]
    if any(cells["fp"] < 0 for cells in scored.counts.values()):
        lines.append("note: a prediction matched two ground-truth intervals and found both (the organisers' rule), "
                     "so FP is negative")
    if scored.ap is not None:
        ap = scored.ap
        shown = [f"{TYPE_LABELS[spotted]} " + ("— (no ground truth)" if ap[spotted]["ap"] is None
                                               else f"{ap[spotted]['ap']:.4f}") for spotted in ("me", "mae")]
        mean = "" if ap["overall"] is None else f", mean of the types {ap['overall']:.4f}"
        lines += ["", f"{AP_LABEL}: {', '.join(shown)}{mean}",
                  "(predictions ranked by score, each matched at most once, all-point interpolation, mean over IoU "
                  "0.5, 0.55, …, 0.95)"]
    return "\n".join(lines)
