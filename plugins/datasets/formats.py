"""What the MER dataset readers share, by the names it always had: this module re-exports them from their
homes, split by concern — ``labels`` (emotion tasks and classes), ``frames`` (frame folders, annotation
slips), ``sheets`` (coding spreadsheets, annotation files), ``clips`` (``Clip``, ``Reading``), ``errata`` —
and the tables ``declared`` derives from each database's declaration (``EMOTIONS``, ``NATIVE_TASKS`` …).
New code imports from those modules."""

from __future__ import annotations

from mebench_plugins.datasets.action_units import AU_COLUMN_ALIASES, AU_COLUMN_NAME, AUCell, au_cell  # noqa: F401
from mebench_plugins.datasets.clips import Clip, Reading, clip_from_sheet
from mebench_plugins.datasets.catalog import three_class
from mebench_plugins.datasets.declared import EMOTION_TASKS, EMOTIONS, FIVE_CLASS_TASKS, NATIVE_TASKS
from mebench_plugins.datasets.errata import (ERRATA_FIELDS, ERRATA_HEADER, Erratum, apply_errata, load_errata,
                                             unmatched_errata)
from mebench_plugins.datasets.frames import (FRAME_NUMBER, IMAGE_SUFFIXES, STRICT_FIX, FrameFiles, ResolvedFrames,
                                             index_frames, resolve_frames, span_problems)
from mebench_plugins.datasets.labels import EmotionTask, emotion_class
from mebench_plugins.datasets.sheets import (AU_COLUMN, Column, Sheet, find_annotation, find_dirs, find_files,
                                             frame_number, read_sheet)
from mebench_plugins.datasets.sheets import _norm, _read_csv, _sheet_below  # noqa: F401 (helpers imported from here)

__all__ = ["AU_COLUMN", "Clip", "Column", "EMOTIONS", "EMOTION_TASKS", "ERRATA_FIELDS", "ERRATA_HEADER",
           "EmotionTask", "Erratum", "FIVE_CLASS_TASKS", "FRAME_NUMBER", "FrameFiles", "IMAGE_SUFFIXES",
           "NATIVE_TASKS", "Reading", "ResolvedFrames", "STRICT_FIX", "Sheet", "apply_errata", "clip_from_sheet",
           "emotion_class", "find_annotation", "find_dirs", "find_files", "frame_number", "index_frames",
           "load_errata", "read_sheet", "resolve_frames", "span_problems", "three_class", "unmatched_errata"]
