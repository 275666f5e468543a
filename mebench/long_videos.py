"""Long videos and their annotated intervals: what a spotting dataset declares.

A spotting sample is a whole video (``LongVideo``: subject, video, frame rate, its frames and how many)
and its targets are the expression intervals annotated in it (``Interval``: inclusive onset..offset
frame numbers, the type ``me`` or ``mae``, the apex and the emotion where the annotation gives them).
Frame numbers are the numbers of the frame files (``img46.jpg`` is frame 46), as the annotations use
them and as the MEGC scorer (``mebench.spotting``) compares them. A video without any interval is a
video of the set too: spotting counts its false positives.

``LongVideoCheck`` is what a long-video reader found, as ``mebench data check`` reports it: videos,
subjects, ME and MaE intervals, total frames, the slips corrected (each named) and what was read.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Sequence

from tabulate import tabulate

from mebench.data import FrameSource

#: Interval types, in the order ``mebench.spotting.TYPES`` counts them: micro- and macro-expressions.
KINDS = ("me", "mae")
KIND_LABELS = {"me": "ME", "mae": "MaE"}
#: ``Interval.emotion_class`` of an emotion its database declares but maps to no class (others): spotting-only.
NO_CLASS = "none"


def _is_frame(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


@dataclass(frozen=True)
class Interval:
    """One annotated expression: inclusive frames ``onset..offset`` (a single frame has onset == offset),
    ``kind`` ``me`` or ``mae``, ``apex`` within onset..offset or None (not annotated), ``emotion`` as the
    annotation spells it or None (the annotation gives none).

    ``emotion_class`` is the class the task assigns to the emotion (readers return the raw emotion; tasks assign
    classes): a class of spot-then-recognise (``mebench.tasks.STR_EMOTIONS``) through the database's declared
    3-class mapping, ``NO_CLASS`` where that mapping maps the emotion to no class (others: the interval is
    spotting-only), None where no class was assigned (no emotion, or one outside the declared vocabulary)."""

    onset: int
    offset: int
    kind: str
    apex: int | None = None
    emotion: str | None = None
    emotion_class: str | None = None

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"interval kind must be one of {', '.join(KINDS)}, got {self.kind!r}")
        if not (_is_frame(self.onset) and _is_frame(self.offset)) or self.onset < 0:
            raise ValueError(f"interval frames must be whole numbers ≥ 0, got {self.onset!r}..{self.offset!r}")
        if self.offset < self.onset:
            raise ValueError(f"interval offset {self.offset} is before its onset {self.onset}")
        if self.apex is not None and not (_is_frame(self.apex) and self.onset <= self.apex <= self.offset):
            raise ValueError(f"interval apex {self.apex!r} is not a frame within {self.onset}..{self.offset}")

    @property
    def length(self) -> int:
        """Frames in the interval, both ends included."""
        return self.offset - self.onset + 1


@dataclass(frozen=True)
class LongVideo:
    """One long video of a spotting dataset.

    ``subject`` is namespaced by dataset (``casme2-long/s15``), ``video`` is the video's name within
    its subject (``0101``, ``006_1``, ``s03_ne_02``, ``a``); ``id`` joins them. ``frames`` numbers and loads
    the frames (``FrameSource``: the numbers of the frame files, gaps allowed); ``n_frames`` is how many
    there are. ``intervals`` lie within the first and last frame number, sorted by onset. ``corrections``
    names every annotation slip the reader corrected for this video, one line each (file, row, what, the
    value used). ``cropped``: whether the frames are already cropped to the face (None: unknown).
    """

    dataset: str
    subject: str
    video: str
    fps: float
    frames: FrameSource
    n_frames: int
    intervals: tuple[Interval, ...] = ()
    corrections: tuple[str, ...] = ()
    cropped: bool | None = None
    fingerprint: str = ""

    def __post_init__(self) -> None:
        if not self.subject.startswith(self.dataset + "/"):
            raise ValueError(f"video {self.video}: subject {self.subject!r} must be namespaced by dataset "
                             f"{self.dataset!r}")
        if not self.fps > 0:
            raise ValueError(f"video {self.id}: frame rate must be positive, got {self.fps!r}")
        if not (_is_frame(self.n_frames) and self.n_frames > 0):
            raise ValueError(f"video {self.id}: n_frames must be a positive whole number, got {self.n_frames!r}")
        indices = self.frames.indices()
        if len(indices) != self.n_frames:
            raise ValueError(f"video {self.id}: n_frames {self.n_frames} but its frame source holds {len(indices)}")
        first, last = indices[0], indices[-1]
        for interval in self.intervals:
            if not isinstance(interval, Interval):
                raise ValueError(f"video {self.id}: intervals must be Interval objects, got {interval!r}")
            if interval.onset < first or interval.offset > last:
                raise ValueError(f"video {self.id}: interval {interval.onset}..{interval.offset} is outside its "
                                 f"frames {first}..{last}")
        if list(self.intervals) != sorted(self.intervals, key=lambda i: (i.onset, i.offset)):
            raise ValueError(f"video {self.id}: intervals must be sorted by onset")

    @property
    def id(self) -> str:
        """``<dataset>/<subject>/<video>``: unique across datasets."""
        return f"{self.subject}/{self.video}"

    def count(self, kind: str) -> int:
        """How many intervals of ``kind`` (``me`` or ``mae``) the video holds."""
        return sum(interval.kind == kind for interval in self.intervals)


@dataclass
class LongVideoCheck:
    """What a long-video reader found: the videos (every video of the copy, those without an interval too),
    one line per file or layout read, and warnings that do not block (a lost video, a conflict named)."""

    dataset: str
    videos: list[LongVideo]
    sources: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    @property
    def subjects(self) -> list[str]:
        return sorted({video.subject for video in self.videos})

    @property
    def counts(self) -> dict[str, int]:
        """Intervals per kind: ``{"me": …, "mae": …}``."""
        return {kind: sum(video.count(kind) for video in self.videos) for kind in KINDS}

    @property
    def total_frames(self) -> int:
        return sum(video.n_frames for video in self.videos)

    @property
    def corrections(self) -> list[str]:
        return [note for video in self.videos for note in video.corrections]

    def subject_rows(self) -> list[list]:
        """Per subject: videos, ME and MaE intervals, frames."""
        rows = []
        for subject in self.subjects:
            videos = [v for v in self.videos if v.subject == subject]
            rows.append([subject, len(videos), *(sum(v.count(kind) for v in videos) for kind in KINDS),
                         sum(v.n_frames for v in videos)])
        return rows

    def headline(self) -> str:
        counts = self.counts
        return (f"{self.dataset}: {len(self.videos)} videos, {len(self.subjects)} subjects, {counts['me']} ME and "
                f"{counts['mae']} MaE intervals, {self.total_frames:,} frames")

    @property
    def ok(self) -> bool:
        """A reader refuses what blocks a run (one ``DataError``): what it returns is usable."""
        return True

    def render(self, classes: Sequence[str] = KINDS, list_all: bool = False, listed: int = 20) -> str:
        """The report ``mebench data check`` prints for a long-video dataset (``classes``: the task's types, which
        the counts follow)."""
        lines = [self.headline(), *(f"  {line}" for line in self.sources), "",
                 tabulate(self.subject_rows(), headers=["subject", "videos", "ME", "MaE", "frames"],
                          tablefmt="github")]
        limit = None if list_all else listed
        for title, items in (("corrections (annotation slips corrected by rule; strict=true refuses them)",
                              self.corrections), ("warnings (they do not block a run)", self.warnings)):
            if items:
                lines += ["", f"{title}: {len(items)}"] + [f"  {item}" for item in items[:limit]]
                if limit and len(items) > limit:
                    lines.append(f"  … {len(items) - limit} more (--list-all)")
        return "\n".join(lines)


def interval_rows(videos: Sequence[LongVideo]) -> list[tuple[str, str, int, int, str]]:
    """Ground truth as the spotting scorer reads it: (video id, subject, onset, offset, kind) per interval."""
    return [(video.id, video.subject, interval.onset, interval.offset, interval.kind)
            for video in videos for interval in video.intervals]
