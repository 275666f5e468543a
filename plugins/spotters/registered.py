"""The hand-crafted spotters as mebench models of spotting tasks (``mebench.tasks.INTERVALS``).

A registered spotter is a model whose factory builds a ``HandCraftedSpotter``: ``spot_video(video)`` reads the
video's grey face video through ``video_input`` (frames streamed in file order, the face cropped once per video
and resized to ``face_size``, cached per video under the run's cache folder), runs the module's ``spot`` once per
expression type it spots and returns the intervals in the video's own frame numbers; ``spot_videos`` does so for
a fold's test videos in worker processes. It fits nothing (the
learner ``mebench.run.learners.SPOTTER`` calls no ``fit``), so its figures on a fold do not depend on the fold's
training videos. Every option of ``spot`` is a ``--model-opt`` at the authors' value.

- ``mdmd``: both types, each with its own k and length bounds (``mdmd.spot``'s ``expression``).
- ``feature-difference``: micro-expressions only (Moilanen et al. spot rapid facial movements, not macro-
  expressions); its intervals are typed ``me``.
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any, Callable, Sequence

from mebench.api import InputSpec, ModelSpec, hookimpl
from mebench_plugins.spotters import feature_difference, mdmd, video_input
from mebench_plugins.spotters.video_input import FLOW_CACHE_OPTION, VIDEO_OPTIONS

#: The options that say how a video is read (``video_input``), not how it is spotted.
READING_OPTIONS = tuple(option.name for option in (*VIDEO_OPTIONS, FLOW_CACHE_OPTION))


class HandCraftedSpotter:
    """``spot(frames, fps, **options)`` run on a video's grey face video once per type in ``types`` (with
    ``expression=type`` where the spotter ``per_type``); intervals in the video's frame numbers. ``face_size``
    and ``crop`` say how the face video is made (``video_input.face_video``); ``cache_flows`` (a spotter whose
    ``spot`` takes ``flow_apart``: MDMD) keeps its flows in the cache too."""

    def __init__(self, spot: Callable[..., list], types: Sequence[str], options: dict[str, Any], per_type: bool,
                 face_size: int = 0, crop: str = "auto", cache_flows: bool = False):
        self.spot, self.types, self.per_type = spot, tuple(types), per_type
        self.face_size, self.crop, self.cache_flows = face_size, crop, cache_flows
        self.options = {name: value for name, value in options.items() if value is not None}  # None: by fps

    def spot_video(self, video: Any, cache_dir: Path | str | None = None) -> list[tuple[int, int, str]]:
        """The video's intervals; its face video (and flows, with ``cache_flows``) read from or written to the
        cache under ``cache_dir`` (None: none)."""
        cache = video_input.VideoCache(cache_dir) if cache_dir is not None else None
        frames = video_input.cached_face_video(video, self.face_size, self.crop, cache)
        extra = {}
        if self.cache_flows and cache is not None:
            key = video_input.face_key(video, self.face_size, self.crop)
            extra["flow_apart"] = functools.partial(video_input.cached_flows, video, frames, key,
                                                    method=self.options.get("flow", "rlof"), cache=cache)
        numbers = list(video.frames.indices())
        found = []
        for kind in self.types:
            options = {**self.options, **({"expression": kind} if self.per_type else {})}
            found += [(numbers[onset], numbers[offset], kind)
                      for onset, offset, _score in self.spot(frames, video.fps, **extra, **options)]
        return found

    def spot_videos(self, videos: Sequence[Any], cache_dir: Path | str | None = None, workers: int | None = None,
                    progress: bool = False) -> list[list[tuple[int, int, str]]]:
        """``spot_video`` of each video, in ``workers`` processes (None: the cores available; 1: here) with a
        progress bar of videos; the same answers in the same order as one by one."""
        return video_input.map_videos(functools.partial(_spot_video, self, cache_dir), videos, workers, progress)


def _spot_video(spotter: HandCraftedSpotter, cache_dir: Path | str | None, video: Any) -> list:
    return spotter.spot_video(video, cache_dir)


def _build(num_classes: int, input_spec: InputSpec, *, spot, types, per_type, min_size=1, **options
           ) -> HandCraftedSpotter:
    reading = {name: options.pop(name) for name in READING_OPTIONS if name in options}
    video_input.check_face_size(reading.get("face_size", 0), min_size, spot.__module__.rsplit(".", 1)[-1])
    return HandCraftedSpotter(spot, types, options, per_type, **reading)


#: A spotter reads a video's grey frames itself: no preprocessing chain, no tensor input.
NO_INPUT = InputSpec(1, 1, 1, scaling="none")


@hookimpl
def mebench_register_models(register):
    register(ModelSpec(
        name="mdmd",
        factory=functools.partial(_build, spot=mdmd.spot, types=("me", "mae"), per_type=True,
                                  min_size=mdmd.MIN_FACE_SIZE),
        input_spec=NO_INPUT, preprocessing=(),
        description="MDMD, the MEGC2020 official spotting baseline (main directional maximal difference); ME and "
                    "MaE, each with the authors' k and lengths",
        card=mdmd.CARD, family="spotters", learner="spotter",
        options=(*(option for option in mdmd.OPTIONS if option.name != "expression"), *VIDEO_OPTIONS,
                 FLOW_CACHE_OPTION),
    ))
    register(ModelSpec(
        name="feature-difference",
        factory=functools.partial(_build, spot=feature_difference.spot, types=("me",), per_type=False),
        input_spec=NO_INPUT, preprocessing=(),
        description="LBP feature difference analysis (Moilanen et al. 2014): rapid movements, typed ME",
        card=feature_difference.CARD, family="spotters", options=(*feature_difference.OPTIONS, *VIDEO_OPTIONS),
        learner="spotter",
    ))
