"""``synthetic-long``: generated long videos for spotting, with the planted expressions as ground truth.

Each subject has the face of ``synthetic`` (its geometry, texture and expressiveness); each of its videos is
a few seconds to minutes of small grey frames (64×64 by default) at 30 fps, in which expressions are planted
among distractors:

- micro-expressions (``me``): 0.2–0.5 s, one local facial action of about a pixel at the apex;
- macro-expressions (``mae``): 1–3 s, one or two facial actions of 2.5–4 pixels;
- distractors, not in the ground truth: blinks (0.1–0.2 s, strong and local), a slow head drift (a smooth
  translation of up to two pixels, with periods of 10–30 s) and sensor noise on every frame.

Expressions and blinks never overlap (each is placed in its own stretch of the video, at least 0.3 s from the
next); each rises steadily from its onset to its apex and falls back to rest at its offset, so the frame
before the onset and the frame after the offset show no expression. Frame numbers start at 1. The
emotion of an interval is the class of its action (``positive``: lip-corner puller, ``negative``: brow lowerer
or lip-corner depressor, ``surprise``: brow raiser), as in ``synthetic``.

Generation is deterministic in (seed, preset, sizes): the plan of every video comes from its own generator
(seeded by seed, subject and video), and frames are rendered on demand, as ``synthetic`` renders its clips.
"""

from __future__ import annotations

import functools
import hashlib
from dataclasses import dataclass, replace

import cv2
import numpy as np

from mebench.long_videos import Interval, LongVideo, LongVideoCheck
from mebench.options import Option
from mebench_plugins.datasets.synthetic import CLASS_ACTIONS, _action_field, _render_face, _subject_geometry

GENERATOR_VERSION = 1
DATASET = "synthetic-long"

#: Named sizes. ``quick`` is tiny: its frames render in about a second on one core.
PRESETS = {
    "quick": {"subjects": 2, "videos_per_subject": 2, "seconds": 12.0},
    "standard": {"subjects": 6, "videos_per_subject": 3, "seconds": 60.0},
}
DEFAULT_PRESET = "quick"
FPS = 30
#: Durations in seconds (inclusive frames: round(seconds × fps)) and apex amplitudes in pixels (× the subject's
#: expressiveness) of what is planted.
ME_SECONDS, MAE_SECONDS, BLINK_SECONDS = (0.2, 0.5), (1.0, 3.0), (0.1, 0.2)
ME_AMPLITUDE, MAE_AMPLITUDE, BLINK_AMPLITUDE = (0.8, 1.2), (2.5, 4.0), (1.5, 2.5)
#: Per ``seconds`` of video: one micro-expression per 5 s, one macro-expression per 10 s, one blink per 3 s
#: (each at least one).
ME_EVERY, MAE_EVERY, BLINK_EVERY = 5.0, 10.0, 3.0
GAP_SECONDS = 0.3
DRIFT_PIXELS, DRIFT_PERIOD_SECONDS = (1.0, 2.0), (10.0, 30.0)
NOISE = 2.0
ACTION_EMOTION = {action: emotion for emotion, actions in CLASS_ACTIONS.items() for action in actions}

OPTIONS = (
    Option("preset", str, DEFAULT_PRESET, "named size", choices=tuple(PRESETS), recorded=True),
    Option("subjects", int, None, "subjects (default: the preset's)", minimum=2,
           reason="leave-one-subject-out needs two subjects"),
    Option("videos_per_subject", int, None, "videos per subject (default: the preset's)", minimum=1),
    Option("seconds", float, None, "length of each video in seconds (default: the preset's)", minimum=6.0,
           reason="a shorter video cannot hold one micro-expression, one macro-expression and a blink apart"),
    Option("seed", int, 0, "generator seed", minimum=0),
    Option("size", int, 64, "frame size in pixels", minimum=48),
)


@dataclass(frozen=True)
class PlantedEvent:
    """One planted movement: ``kind`` ``me``, ``mae`` or ``blink`` (a distractor), inclusive frames, the apex,
    the facial actions moved and their apex amplitude in pixels."""

    kind: str
    onset: int
    apex: int
    offset: int
    actions: tuple[str, ...]
    amplitude: float

    def intensity(self, index: int) -> float:
        """0 outside onset..offset, rising linearly to 1 at the apex and back (0 at onset − 1 and offset + 1, above
        0 at every frame of onset..offset)."""
        if not self.onset <= index <= self.offset:
            return 0.0
        if index <= self.apex:
            u = (index - self.onset + 1) / (self.apex - self.onset + 1)
        else:
            u = (self.offset + 1 - index) / (self.offset + 1 - self.apex)
        return float(u)


@functools.lru_cache(maxsize=64)
def _face(seed: int, subject: int, size: int):
    rng = np.random.default_rng([seed, subject])
    geometry = _subject_geometry(rng, size)
    return geometry, _render_face(geometry, rng, size)


@functools.lru_cache(maxsize=512)
def _field(seed: int, subject: int, size: int, action: str) -> tuple[np.ndarray, np.ndarray]:
    geometry, _ = _face(seed, subject, size)
    return _action_field(action, geometry, size)


@dataclass(frozen=True)
class SyntheticLongVideo:
    """Renders the frames 1..n_frames of one generated long video on demand (deterministic, picklable): a
    ``FrameSource``."""

    seed: int
    subject: int
    video: int
    size: int
    n_frames: int
    events: tuple[PlantedEvent, ...]
    drift: tuple[float, float, float, float, float]  # amplitude (px), periods x and y (frames), phases x and y

    def indices(self) -> list[int]:
        return list(range(1, self.n_frames + 1))

    def head_shift(self, index: int) -> tuple[float, float]:
        amplitude, period_x, period_y, phase_x, phase_y = self.drift
        return (amplitude * float(np.sin(2 * np.pi * index / period_x + phase_x)),
                amplitude * float(np.sin(2 * np.pi * index / period_y + phase_y)))

    def load(self, index: int) -> np.ndarray:
        if not 1 <= index <= self.n_frames:
            raise IndexError(f"synthetic long video has frames 1..{self.n_frames}")
        _, face = _face(self.seed, self.subject, self.size)
        dx = np.zeros((self.size, self.size), np.float32)
        dy = np.zeros((self.size, self.size), np.float32)
        for event in self.events:
            weight = event.intensity(index) * event.amplitude
            if weight:
                for action in event.actions:
                    fx, fy = _field(self.seed, self.subject, self.size, action)
                    dx, dy = dx + weight * fx, dy + weight * fy
        shift_x, shift_y = self.head_shift(index)
        yy, xx = np.mgrid[0:self.size, 0:self.size].astype(np.float32)
        frame = cv2.remap(face, (xx - dx - shift_x).astype(np.float32), (yy - dy - shift_y).astype(np.float32),
                          cv2.INTER_CUBIC, borderMode=cv2.BORDER_REFLECT)
        noise = np.random.default_rng([self.seed, self.subject, self.video, index]).normal(0, NOISE, frame.shape)
        return np.clip(frame + noise, 0, 255).astype(np.uint8)


def _frames(seconds: float, fps: int = FPS) -> int:
    return max(1, int(round(seconds * fps)))


def plan_video(seed: int, subject: int, video: int, n_frames: int, fps: int = FPS
               ) -> tuple[tuple[PlantedEvent, ...], tuple[float, float, float, float, float]]:
    """The planted events (sorted by onset, never overlapping) and the head drift of one video."""
    rng = np.random.default_rng([seed, subject, video, 30_000])
    seconds = n_frames / fps
    kinds = (["me"] * max(1, round(seconds / ME_EVERY)) + ["mae"] * max(1, round(seconds / MAE_EVERY))
             + ["blink"] * max(1, round(seconds / BLINK_EVERY)))
    rng.shuffle(kinds)
    spans = {"me": ME_SECONDS, "mae": MAE_SECONDS, "blink": BLINK_SECONDS}
    lengths = [_frames(rng.uniform(*spans[kind]), fps) for kind in kinds]
    gap = _frames(GAP_SECONDS, fps)
    slack = n_frames - sum(lengths) - gap * (len(kinds) + 1)
    if slack < 0:
        raise ValueError(f"a synthetic long video of {n_frames} frames cannot hold {len(kinds)} events")
    shares = np.diff(np.concatenate([[0], np.sort(rng.integers(0, slack + 1, len(kinds))), [slack]]))
    events, start = [], 1
    all_actions = sorted(ACTION_EMOTION)
    for kind, length, share in zip(kinds, lengths, shares[:-1]):
        onset = start + gap + int(share)
        offset = onset + length - 1
        apex = onset + int(rng.integers(0, length))
        if kind == "blink":
            actions, amplitude = ("blink",), rng.uniform(*BLINK_AMPLITUDE)
        elif kind == "me":
            actions, amplitude = (all_actions[rng.integers(len(all_actions))],), rng.uniform(*ME_AMPLITUDE)
        else:
            count = 1 + int(rng.integers(0, 2))
            actions = tuple(all_actions[i] for i in sorted(rng.choice(len(all_actions), count, replace=False)))
            amplitude = rng.uniform(*MAE_AMPLITUDE)
        events.append(PlantedEvent(kind, onset, apex, offset, actions, float(amplitude)))
        start = offset + 1
    drift = (float(rng.uniform(*DRIFT_PIXELS)), float(rng.uniform(*DRIFT_PERIOD_SECONDS) * fps),
             float(rng.uniform(*DRIFT_PERIOD_SECONDS) * fps), float(rng.uniform(0, 2 * np.pi)),
             float(rng.uniform(0, 2 * np.pi)))
    return tuple(events), drift


def synthetic_long_size(preset: str = DEFAULT_PRESET, subjects: int | None = None,
                        videos_per_subject: int | None = None, seconds: float | None = None) -> tuple[int, int, float]:
    """(subjects, videos per subject, seconds per video): the overrides, else the preset's."""
    chosen = PRESETS[preset]
    return (int(subjects if subjects is not None else chosen["subjects"]),
            int(videos_per_subject if videos_per_subject is not None else chosen["videos_per_subject"]),
            float(seconds if seconds is not None else chosen["seconds"]))


def load_synthetic_long(data_root=None, preset: str = DEFAULT_PRESET, subjects: int | None = None,
                        videos_per_subject: int | None = None, seconds: float | None = None, seed: int = 0,
                        size: int = 64) -> list[LongVideo]:
    """Generate the videos (``data_root`` is ignored: nothing is read), the planted ME and MaE intervals as their
    ground truth (blinks are distractors, not truth)."""
    n_subjects, n_videos, length = synthetic_long_size(preset, subjects, videos_per_subject, seconds)
    n_frames = _frames(length)
    videos = []
    for s in range(1, n_subjects + 1):
        for v in range(1, n_videos + 1):
            events, drift = plan_video(seed, s, v, n_frames)
            source = SyntheticLongVideo(seed, s, v, size, n_frames, events, drift)
            intervals = tuple(Interval(e.onset, e.offset, e.kind, e.apex, ACTION_EMOTION.get(e.actions[0]))
                              for e in events if e.kind != "blink")
            # the planted emotions are the STR classes themselves: each is its own class, as a task assigns it
            intervals = tuple(replace(i, emotion_class=i.emotion) for i in intervals)
            key = f"{DATASET}-v{GENERATOR_VERSION}:{seed}:{s}:{v}:{size}:{n_frames}"
            videos.append(LongVideo(dataset=DATASET, subject=f"{DATASET}/s{s:02d}", video=f"s{s:02d}_v{v:02d}",
                                    fps=FPS, frames=source, n_frames=n_frames, intervals=intervals, cropped=True,
                                    fingerprint=hashlib.sha256(key.encode()).hexdigest()))
    return videos


def check_synthetic_long(data_root=None, **options) -> LongVideoCheck:
    """The generated videos as ``mebench data check`` reports a long-video dataset."""
    videos = load_synthetic_long(data_root, **options)
    return LongVideoCheck(DATASET, videos, [f"generated (version {GENERATOR_VERSION}): {options or 'defaults'}; "
                                            f"{FPS} fps, blinks, head drift and noise as distractors"])
