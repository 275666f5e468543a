"""Record layouts: the ``"schema"`` number every JSON record mebench writes carries, and ``upgrade``, the one
place that turns a record written in an older layout into the current one, so that the readers
(``from_json`` in :mod:`mebench.records`) read the current layout only.

A record kind is one of ``KINDS``: ``run`` (``run.json``), ``metrics`` (``metrics.json``), ``fold`` (a fold
record, ``folds/fold_NNN.json``) and ``config`` (``config.json``, the configuration a run folder belongs to).

- Layout 1: a record without a ``schema`` key, as every release before schema numbers wrote it. Keys came
  over those releases, so an early record lacks some, and the fold record's held-out group was once
  ``test_subject``. ``upgrade`` gives each missing key the value its readers gave it before: a fold record
  ``folds_trained_together`` 1, ``n_train`` 0, ``n_test`` its number of predictions, ``epoch_losses`` none, and
  ``test_group`` from ``test_subject``; a run record its ``run_id`` from its folder's name, ``classes``,
  ``protocol`` and ``selection`` from its ``config`` (else none, ``loso`` and ``fixed``), ``learner`` ``net``,
  zero or empty for the counts, lists and notes, and in ``timing`` zero batches, no preprocessing time and no peak memory;
  a metrics record ``fold_mean`` empty, ``selection`` ``fixed``, and in each block ``n`` 0 and ``per_class``
  empty.
- Layout 2 (``SCHEMA``, the current one): every key its writer writes, with ``"schema": 2``. A key a writer
  writes only where it applies (metrics' ``task``, ``leaky``, ``per_dataset``, a block's ``ci`` and
  ``confusion_matrix``, a run's ``source``, a selection rule's fold fields) is absent where it does not apply,
  in every layout.

A record whose ``schema`` is newer than ``SCHEMA`` was written by a newer mebench: it is refused with one line
naming the file (``NewerSchemaError``), never guessed at. A new layout is one more ``SCHEMA`` and one more step
in ``UPGRADES`` per kind, from the layout before it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable

from mebench.errors import DataError

#: The layout this mebench writes, and the newest it reads.
SCHEMA = 2
KINDS = ("run", "metrics", "fold", "config")


class RecordError(ValueError):
    """A record file that cannot be used; the message says why (one clause)."""


class NewerSchemaError(DataError):
    """A record written by a newer mebench, in a layout this one does not know."""


def stamped(data: dict[str, Any]) -> dict[str, Any]:
    """``data`` with ``"schema": SCHEMA`` first: what a writer writes."""
    return {"schema": SCHEMA, **{key: value for key, value in data.items() if key != "schema"}}


def layout(data: dict[str, Any]) -> int:
    """The layout a record was written in: its ``schema``, 1 where it has none; ``RecordError`` for a value
    that is not a layout number."""
    number = data.get("schema", 1)
    if isinstance(number, bool) or not isinstance(number, int) or number < 1:
        raise RecordError(f"has schema {number!r}, not a layout number")
    return number


def _fold_1(data: dict[str, Any], source: Path | None) -> dict[str, Any]:
    if "test_group" not in data and "test_subject" in data:  # records written before protocols
        data["test_group"] = data["test_subject"]
    predictions = data.get("predictions")
    data.setdefault("folds_trained_together", 1)
    data.setdefault("n_train", 0)
    data.setdefault("n_test", len(predictions) if isinstance(predictions, list) else 0)
    data["epoch_losses"] = data.get("epoch_losses") or []
    return data


def _timing_1(timing: Any) -> Any:
    if not isinstance(timing, dict):
        return timing  # the run reader refuses it
    timing = dict(timing)
    for key in ("inference_batch_size", "inference_batches", "inference_warmup_batches"):
        timing[key] = timing.get(key) or 0
    for key in ("preprocess_seconds", "peak_memory_bytes"):
        timing.setdefault(key, None)
    timing["peak_memory_kind"] = timing.get("peak_memory_kind") or ""
    return timing


#: A layout-1 run record's missing (or empty) keys and their values.
_RUN_1_DEFAULTS: dict[str, Callable[[], Any]] = {
    "parameters": int, "environment": dict, "n_samples": int, "n_folds": int, "folds": list, "input_spec": str,
    "selected_epochs": dict, "annotation_corrections": dict, "face_crop": dict, "finished": str,
    "learner": lambda: "net"}


def _run_1(data: dict[str, Any], source: Path | None) -> dict[str, Any]:
    if not isinstance(data.get("config"), dict) and "config" in data:
        data["config"] = {}
    config = data.get("config") or {}
    data["run_id"] = data.get("run_id") or (Path(source).parent.name if source is not None else "")
    data["classes"] = list(data.get("classes") or config.get("classes") or [])
    data["protocol"] = data.get("protocol") or config.get("protocol") or "loso"
    data["selection"] = data.get("selection") or config.get("selection") or "fixed"
    for key, empty in _RUN_1_DEFAULTS.items():
        data[key] = data.get(key) or empty()
    if "timing" in data:
        data["timing"] = _timing_1(data["timing"])
    return data


def _block_1(block: Any) -> Any:
    if not isinstance(block, dict):
        return block  # the metrics reader refuses it
    return {**block, "n": block.get("n", 0), "per_class": block.get("per_class") or {}}


def _metrics_1(data: dict[str, Any], source: Path | None) -> dict[str, Any]:
    if "pooled" in data:
        data["pooled"] = _block_1(data["pooled"])
    if isinstance(data.get("per_dataset"), dict):
        data["per_dataset"] = {name: _block_1(block) for name, block in data["per_dataset"].items()}
    data["fold_mean"] = data.get("fold_mean") or {}
    data.setdefault("selection", "fixed")
    return data


def _config_1(data: dict[str, Any], source: Path | None) -> dict[str, Any]:
    return data  # the configuration as recorded: only the schema number is new


#: ``UPGRADES[kind][n]`` turns a record of layout ``n`` into layout ``n + 1``.
UPGRADES: dict[str, dict[int, Callable[[dict[str, Any], Path | None], dict[str, Any]]]] = {
    "run": {1: _run_1}, "metrics": {1: _metrics_1}, "fold": {1: _fold_1}, "config": {1: _config_1}}


def upgrade(kind: str, data: Any, source: Path | str | None = None) -> Any:
    """The record ``data`` of ``kind`` (read from the file ``source``) in the current layout, ``"schema"``
    included; ``data`` itself is left as it was. Anything but a JSON object is returned as it is, for the reader
    to refuse. A record of a newer layout raises ``NewerSchemaError`` naming ``source``."""
    if kind not in UPGRADES:
        raise ValueError(f"no record kind {kind!r}; the kinds are {', '.join(KINDS)}")
    if not isinstance(data, dict):
        return data
    number = layout(data)
    if number > SCHEMA:
        raise NewerSchemaError(source if source is not None else f"a {kind} record",
                               f"written by a newer mebench (record schema {number}; this one reads up to {SCHEMA})",
                               "upgrade mebench to read it (pip install -U mebench)")
    data = dict(data)
    for step in range(number, SCHEMA):
        data = UPGRADES[kind][step](data, Path(source) if source is not None else None)
    return stamped(data)
