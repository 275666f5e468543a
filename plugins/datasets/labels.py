"""Emotion labels and classes: a task built from a database's own labels (``EmotionTask``) and the rule that
turns one original emotion into a class (``emotion_class``). The vocabularies themselves are declared by
each database (its module's ``DATABASE``) and tabulated in ``declared``."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping

from mebench.errors import DataError


@dataclass(frozen=True)
class EmotionTask:
    """A single-dataset task built from the dataset's own emotion labels: its classes in label-index
    order and the emotion → class mapping (None = known but excluded; same vocabulary as the database's
    3-class mapping, ``declared.EMOTIONS``)."""

    dataset: str
    classes: tuple[str, ...]
    mapping: Mapping[str, str | None]


def emotion_class(mapping: Mapping[str, str | None], emotion: str, file: object, row: object = None) -> str | None:
    """The class of an original emotion under ``mapping``; None for known-but-excluded emotions.
    An emotion outside the mapping's vocabulary (a typo) is an error naming file and row. A label naming
    several emotions joined by ``+`` (4DME's ``Surprise+Positive``) is known when each part is; it keeps
    its class when all parts fall in one class and is excluded otherwise."""
    key = str(emotion).strip().lower()
    if "+" in key:
        classes = {emotion_class(mapping, part, file, row) for part in str(emotion).strip().split("+")}
        return classes.pop() if len(classes) == 1 else None
    if key not in mapping:
        raise DataError(file, f"unknown emotion label {emotion!r}",
                        f"expected one of {', '.join(sorted(mapping))}; correct the cell or add an erratum", row)
    return mapping[key]
