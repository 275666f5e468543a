"""The hand-crafted spotters as mebench models of spotting tasks (``mebench.tasks.INTERVALS``).

A registered spotter is a model whose factory builds a ``HandCraftedSpotter``: ``spot_video(video)`` reads the
whole video's frames (``LongVideo.frames``, as the reader numbers them), runs the module's ``spot`` once per
expression type it spots and returns the intervals in the video's own frame numbers. It fits nothing (the
learner ``mebench.learners.SPOTTER`` calls no ``fit``), so its figures on a fold do not depend on the fold's
training videos. Every option of ``spot`` is a ``--model-opt`` at the authors' value.

- ``mdmd``: both types, each with its own k and length bounds (``mdmd.spot``'s ``expression``).
- ``feature-difference``: micro-expressions only (Moilanen et al. spot rapid facial movements, not macro-
  expressions); its intervals are typed ``me``.
"""

from __future__ import annotations

import functools
from typing import Any, Callable, Sequence

import numpy as np

from mebench.api import InputSpec, ModelSpec, hookimpl
from mebench_plugins.spotters import feature_difference, mdmd


class HandCraftedSpotter:
    """``spot(frames, fps, **options)`` run on a whole video once per type in ``types`` (with
    ``expression=type`` where the spotter ``per_type``); intervals in the video's frame numbers."""

    def __init__(self, spot: Callable[..., list], types: Sequence[str], options: dict[str, Any], per_type: bool):
        self.spot, self.types, self.per_type = spot, tuple(types), per_type
        self.options = {name: value for name, value in options.items() if value is not None}  # None: by fps

    def spot_video(self, video: Any) -> list[tuple[int, int, str]]:
        numbers = list(video.frames.indices())
        frames = np.stack([video.frames.load(number) for number in numbers])
        found = []
        for kind in self.types:
            options = {**self.options, **({"expression": kind} if self.per_type else {})}
            found += [(numbers[onset], numbers[offset], kind)
                      for onset, offset, _score in self.spot(frames, video.fps, **options)]
        return found


def _build(num_classes: int, input_spec: InputSpec, *, spot, types, per_type, **options) -> HandCraftedSpotter:
    return HandCraftedSpotter(spot, types, options, per_type)


#: A spotter reads a video's grey frames itself: no preprocessing chain, no tensor input.
NO_INPUT = InputSpec(1, 1, 1, scaling="none")


@hookimpl
def mebench_register_models(register):
    register(ModelSpec(
        name="mdmd",
        factory=functools.partial(_build, spot=mdmd.spot, types=("me", "mae"), per_type=True),
        input_spec=NO_INPUT, preprocessing=(),
        description="MDMD, the MEGC2020 official spotting baseline (main directional maximal difference); ME and "
                    "MaE, each with the authors' k and lengths",
        card=mdmd.CARD, family="spotters", learner="spotter",
        options=tuple(option for option in mdmd.OPTIONS if option.name != "expression"),
    ))
    register(ModelSpec(
        name="feature-difference",
        factory=functools.partial(_build, spot=feature_difference.spot, types=("me",), per_type=False),
        input_spec=NO_INPUT, preprocessing=(),
        description="LBP feature difference analysis (Moilanen et al. 2014): rapid movements, typed ME",
        card=feature_difference.CARD, family="spotters", options=feature_difference.OPTIONS, learner="spotter",
    ))
