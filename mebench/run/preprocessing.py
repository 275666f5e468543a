"""Runs a preprocessing chain over samples: in parallel, with a progress bar, cached on disk.

The cache holds one ``.npy`` per sample, keyed by the sample's input fingerprint and a hash of
the chain's configuration (every step's config plus the output size), so a second run of the same
dataset and preprocessing recomputes nothing, and any change to inputs or settings misses.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import io
import json
import multiprocessing
import os
import signal
import sys
import threading
import time
import warnings
from concurrent.futures import ProcessPoolExecutor, as_completed
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path
from typing import Any, Callable, Sequence

import cv2
import numpy as np
import torch
from tqdm.auto import tqdm

from mebench.data import MEGC2019_CLASSES, InputSpec, PreparedData, PreprocessingStep, Sample, SampleNote, StepRef
from mebench.errors import ConfigError, DataError, OptionError, PreprocessingError
from mebench.options import resolve_options
from mebench.registry import Registry
from mebench.atomic import atomic_write_bytes, atomic_write_text, remove_stale_temp_files
from mebench.identity import config_hash
from mebench.tasks import SINGLE_LABEL, TaskKind


def default_cache_dir() -> Path:
    """``$MEBENCH_CACHE``, else ``$XDG_CACHE_HOME/mebench``, else ``~/.cache/mebench``."""
    if os.environ.get("MEBENCH_CACHE"):
        return Path(os.environ["MEBENCH_CACHE"])
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "mebench"


def build_chain(registry: Registry, steps: Sequence[StepRef], owner: str = "the chain", *,
                partial: bool = False) -> list[PreprocessingStep]:
    """The steps of a chain as a model declares them, each with its options checked against the
    step's declaration (``owner`` names who declared the chain, e.g. ``model 'ststnet'``), and the
    chain's order checked against what its steps need and give (``check_chain``). ``partial``: a
    piece of a chain (a step built on its own, an item filled by hand), whose order is not checked."""
    chain = []
    for ref in steps:
        name, given = (ref, {}) if isinstance(ref, str) else (ref[0], dict(ref[1]))
        spec = registry.preprocessors.get(name)
        values, _ = resolve_options(given, spec.options, f"{owner}: step {name}", f"preprocessing step {name!r}")
        try:
            chain.append(spec.factory(**values))
        except (TypeError, ValueError) as error:  # an undeclared step's own complaint, or a value it refuses
            raise OptionError(f"{owner}: preprocessing step {name!r} refused its options: {error}") from None
    if not partial:
        check_chain(chain, owner, registry)
    return chain


#: The item key the runner sets before the first step, and the one it reads after the last.
ITEM_START, ITEM_END = "sample", "image"


def check_chain(chain: Sequence[PreprocessingStep], owner: str, registry: Registry | None = None) -> None:
    """Refuse a chain in which a step needs an item key that no step before it gives, or that ends
    without ``image``, in one line naming the chain, the step, the key and what gives it (the steps
    of ``registry`` that declare it). Undeclared steps (``needs``/``gives`` None) are not checked,
    and after a step whose ``gives`` is undeclared any key may be present."""
    present: set[str] | None = {ITEM_START}  # None: an undeclared step may have given anything
    for position, step in enumerate(chain):
        needs, gives = (_keys(getattr(step, attribute, None)) for attribute in ("needs", "gives"))
        for key in (needs or ()) if present is not None else ():
            if key not in present:
                raise ConfigError(f"{owner}: preprocessing step {step.name!r} needs {key!r}, which no step "
                                  f"before it gives; {_givers(key, chain[position + 1:], registry)} "
                                  f"before {step.name!r}")
        present = None if present is None or gives is None else present | set(gives)
    if present is not None and ITEM_END not in present:
        raise ConfigError(f"{owner}: the preprocessing chain ends without {ITEM_END!r}, the model input; "
                          f"{_givers(ITEM_END, (), registry)} at its end")


def _keys(declared: Any) -> tuple[str, ...] | None:
    """A declaration of keys as a tuple: None stays undeclared (as on a duck-typed step), and one key
    written without its tuple (``needs = ("flow")``) is that key, not its letters."""
    return None if declared is None else (declared,) if isinstance(declared, str) else tuple(declared)


def _givers(key: str, later: Sequence[PreprocessingStep], registry: Registry | None) -> str:
    """What to do about a missing key: move the later step of the chain that gives it, or add one that does."""
    moved = [step.name for step in later if key in (_keys(getattr(step, "gives", None)) or ())]
    if moved:
        return f"{moved[0]!r} gives it: put it"
    table = registry.preprocessors if registry is not None else None
    names = [name for name in (table.names() if table is not None else ())  # makers of the key, not its editors
             if key in (_keys(getattr(table.get(name).factory, "gives", None)) or ())
             and key not in (_keys(getattr(table.get(name).factory, "needs", None)) or ())]
    return (f"add a step that gives it ({', '.join(names)})" if names
            else "add a step that gives it (no registered step declares it)")


def chain_config(chain: Sequence[PreprocessingStep], input_spec: InputSpec) -> list[dict[str, Any]]:
    """What the cache key and ``run.json`` record about preprocessing."""
    steps = [{"step": step.name, **step.config} for step in chain]
    steps.append({"step": "resize", "height": input_spec.height, "width": input_spec.width})
    return steps


def resize_image(image: np.ndarray, input_spec: InputSpec) -> np.ndarray:
    """(H, W, C) → (C, height, width) float32; area interpolation when shrinking. An image already of
    that size is kept as it is (as cv2.resize would copy it), so a feature vector (1, 1, D) passes
    whatever D (cv2.resize takes at most 512 channels)."""
    h, w = image.shape[:2]
    shrinking = input_spec.height < h or input_spec.width < w
    resized = image if (h, w) == (input_spec.height, input_spec.width) else cv2.resize(
        image, (input_spec.width, input_spec.height), interpolation=cv2.INTER_AREA if shrinking else cv2.INTER_LINEAR)
    if resized.ndim == 2:
        resized = resized[..., None]
    return np.ascontiguousarray(resized.transpose(2, 0, 1), dtype=np.float32)


def declared_notes(chain: Sequence[PreprocessingStep]) -> list[SampleNote]:
    """The notes the chain's steps declare, in chain order, one per key (the first declaration)."""
    notes: dict[str, SampleNote] = {}
    for step in chain:
        for note in getattr(step, "notes", ()):
            notes.setdefault(note.key, note)
    return list(notes.values())


def process_sample_noted(sample: Sample, chain: Sequence[PreprocessingStep],
                         input_spec: InputSpec) -> tuple[np.ndarray, dict[str, Any]]:
    """The model input of one sample, and what its steps recorded (the notes they declare)."""
    item: dict[str, Any] = {}
    tensor = process_sample(sample, chain, input_spec, item)
    return tensor, {note.key: _plain(item[note.key]) for note in declared_notes(chain) if note.key in item}


def summarise_notes(chain: Sequence[PreprocessingStep], notes: dict[str, dict]) -> dict[str, Any]:
    """The entries of ``run.json``'s ``face_crop`` section that the chain's declared notes summarise,
    from the notes of every sample (by sample id); see ``SampleNote.form``."""
    summary: dict[str, Any] = {}
    for note in declared_notes(chain):
        if not note.summary:
            continue
        noted = {sample_id: values[note.key] for sample_id, values in notes.items() if note.key in values}
        true = sorted(sample_id for sample_id, value in noted.items() if value)
        if note.form == "count":
            summary[note.summary] = len(true)
        elif note.form == "samples":
            summary[note.summary] = true
        elif noted:  # outcomes
            no, yes = note.outcomes
            summary[note.summary] = {no: len(noted) - len(true), yes: len(true), f"{yes}_samples": true}
    return summary


def note_warnings(chain: Sequence[PreprocessingStep], notes: dict[str, dict], *, samples: int,
                  uncropped: int) -> list[str]:
    """The lines the run prints for the declared notes with a ``warning`` that some sample's note makes true
    (``samples``: how many were prepared; ``uncropped``: how many of them are not cropped in their copy)."""
    lines = []
    for note in declared_notes(chain):
        true = sorted(sample_id for sample_id, values in notes.items() if values.get(note.key))
        if note.warning and true:
            lines.append(note.warning.format(count=len(true), first=true[0], samples=samples, uncropped=uncropped))
    return lines


def _plain(value: Any) -> Any:
    return value.item() if isinstance(value, np.generic) else value


def process_sample(sample: Sample, chain: Sequence[PreprocessingStep], input_spec: InputSpec,
                   item: dict[str, Any] | None = None) -> np.ndarray:
    item = item if item is not None else {}
    item["sample"] = sample
    for step in chain:
        try:
            item = step(item)
        except (PreprocessingError, DataError):
            raise
        except Exception as error:
            raise PreprocessingError(f"sample {sample.id}: preprocessing step {step.name!r} failed: "
                                     f"{type(error).__name__}: {error}") from error
    if "image" not in item:
        raise PreprocessingError(f"sample {sample.id}: the preprocessing chain produced no 'image'; "
                                 f"end it with a step such as 'flow_stack'")
    tensor = resize_image(item["image"], input_spec)
    if tensor.shape[0] != input_spec.channels:
        raise PreprocessingError(f"sample {sample.id}: preprocessing gives {tensor.shape[0]} channels but the "
                                 f"model expects {input_spec.channels}")
    return tensor


_PR_SET_PDEATHSIG = 1  # from <sys/prctl.h>


def _die_with_parent(parent_pid: int) -> None:
    """Make this worker process end when the process that started the pool ends, even by kill -9.

    Linux delivers SIGKILL on the death of the parent (the forkserver, which itself exits when the
    main process goes); a daemon thread polling the parent and the main process covers the rest
    (other platforms, and a parent that died before the request was made)."""
    if sys.platform.startswith("linux"):
        try:
            libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
            libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
        except (OSError, AttributeError):
            pass  # the watchdog below still applies
    original_parent = os.getppid()

    def watchdog() -> None:
        while True:
            if os.getppid() != original_parent or not _process_alive(parent_pid):
                os._exit(1)
            time.sleep(0.5)

    threading.Thread(target=watchdog, name="mebench-parent-watchdog", daemon=True).start()


def _process_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # exists, owned by someone else
    return True


def _worker_init(parent_pid: int) -> None:
    cv2.setNumThreads(1)
    # Ctrl-C reaches the whole process group; only the parent acts on it (and stops the workers).
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    _die_with_parent(parent_pid)


def _cache_path(cache_root: Path, sample: Sample) -> Path:
    return cache_root / sample.fingerprint[:2] / f"{sample.fingerprint}.npy"


def _save(path: Path, array: np.ndarray) -> None:
    buffer = io.BytesIO()
    np.save(buffer, array)
    atomic_write_bytes(path, buffer.getvalue())


def _load_cached(path: Path, input_spec: InputSpec) -> tuple[np.ndarray | None, str | None]:
    """A cache entry and None, or None and why the entry is unusable (it is then deleted)."""
    expected = (input_spec.channels, input_spec.height, input_spec.width)
    try:
        array = np.load(path, allow_pickle=False)
    except (OSError, ValueError, EOFError) as error:
        problem = f"unreadable: {str(error).split('. ')[0]}"
    else:
        if array.shape == expected and array.dtype == np.float32:
            return array, None
        problem = f"holds a {array.dtype} array of shape {array.shape}, expected float32 {expected}"
    path.unlink(missing_ok=True)
    return None, problem


class SampleCache:
    """One chain's cache folder: per sample, its model input (``.npy``) and what the chain recorded
    about it (``.json``), keyed by the sample's input fingerprint."""

    def __init__(self, cache_dir: Path, chain: Sequence[PreprocessingStep], input_spec: InputSpec,
                 report: Callable[[str], None]):
        self.root = Path(cache_dir) / config_hash(chain_config(chain, input_spec))
        self.input_spec, self.report = input_spec, report
        if self.root.is_dir():
            remove_stale_temp_files(self.root)

    def read(self, sample: Sample) -> tuple[np.ndarray, dict[str, Any]] | None:
        """The cached (tensor, notes), or None: not cached, or damaged (then deleted, with one report line)."""
        path = _cache_path(self.root, sample)
        if not path.exists():
            return None
        array, problem = _load_cached(path, self.input_spec)
        if array is None:
            self.report(f"preprocessing cache: discarded {path} ({problem}); recomputing {sample.id}")
            return None
        return array, _load_notes(path)

    def write(self, sample: Sample, tensor: np.ndarray, notes: dict[str, Any]) -> None:
        path = _cache_path(self.root, sample)
        if notes:  # before the tensor: an entry whose tensor exists always has its notes
            atomic_write_text(path.with_suffix(".json"), json.dumps(notes))
        _save(path, tensor)


def prepare(samples: Sequence[Sample], chain: Sequence[PreprocessingStep], input_spec: InputSpec,
            cache_dir: Path | None = None, workers: int | None = None, progress: bool = True, *,
            classes: Sequence[str] = MEGC2019_CLASSES, log: Callable[[str], None] | None = None,
            kind: TaskKind = SINGLE_LABEL) -> PreparedData:
    """Preprocess every sample into one (N, C, H, W) tensor, reusing cached results.

    ``y`` holds the task kind's targets (``TaskKind.targets``: an index into ``classes``; multi-label: one
    column per class, 1 where the sample has it);
    a sample whose label is not among them is refused with a ``DataError`` before any work. Each sample is cached as soon as it is computed, so an
    interrupted run (Ctrl-C, kill) keeps what was done and the next run computes only the rest;
    on Ctrl-C the worker processes are stopped at once and ``KeyboardInterrupt`` propagates.
    Worker processes end with their parent, even if it is killed. A damaged cache entry
    (unreadable, or of the wrong shape or type) is reported in one ``log`` line (default: a
    ``UserWarning``), deleted and recomputed. Stale temporary files of killed writes older than
    an hour are removed from the chain's cache folder.
    """
    _check_samples(samples, classes, kind)
    report = log if log is not None else (lambda message: warnings.warn(message, stacklevel=3))
    cache = SampleCache(cache_dir, chain, input_spec, report) if cache_dir else None
    results: dict[int, tuple[np.ndarray, dict[str, Any]]] = {}
    for i, sample in enumerate(samples):
        if cache is not None and (cached := cache.read(sample)) is not None:
            results[i] = cached
    missing = [i for i in range(len(samples)) if i not in results]
    if missing:
        bar = tqdm(total=len(missing), desc="preprocessing", unit="sample", disable=not progress, leave=False)

        def finished(i: int, result: tuple[np.ndarray, dict[str, Any]]) -> None:
            results[i] = result
            if cache is not None:
                cache.write(samples[i], *result)
            bar.update()

        workers = workers if workers is not None else min(os.cpu_count() or 1, 8)
        try:
            if workers > 1 and len(missing) >= 32:
                _process_in_parallel(samples, missing, chain, input_spec, workers, finished)
            else:
                for i in missing:
                    finished(i, process_sample_noted(samples[i], chain, input_spec))
        finally:
            bar.close()
    x = torch.from_numpy(np.stack([results[i][0] for i in range(len(samples))]))
    return PreparedData(x=x, y=kind.targets(samples, classes), sample_ids=[s.id for s in samples], subjects=[s.subject for s in samples],
                        datasets=[s.dataset for s in samples],
                        notes={samples[i].id: results[i][1] for i in range(len(samples)) if results[i][1]})


def _check_samples(samples: Sequence[Sample], classes: Sequence[str], kind: TaskKind) -> None:
    if not samples:
        raise PreprocessingError("no samples to preprocess")
    if len({s.id for s in samples}) != len(samples):
        seen: set[str] = set()
        duplicates = {s.id for s in samples if s.id in seen or seen.add(s.id)}
        raise PreprocessingError(f"duplicate sample ids: {sorted(duplicates)[:5]}")
    kind.check_labels(samples, classes)


def _load_notes(path: Path) -> dict[str, Any]:
    """A cache entry's notes (``.json`` beside its ``.npy``); none when absent or unreadable."""
    try:
        notes = json.loads(path.with_suffix(".json").read_text())
    except (OSError, ValueError):
        return {}
    return notes if isinstance(notes, dict) else {}


def _process_in_parallel(samples: Sequence[Sample], positions: Sequence[int], chain: Sequence[PreprocessingStep],
                         input_spec: InputSpec, workers: int, finished: Callable[[int, tuple], None]) -> None:
    """Run ``process_sample`` over ``positions`` in a process pool, handing each result to
    ``finished`` as it completes. On any exception (a failed sample, Ctrl-C) the pending samples
    are cancelled and the workers terminated before the exception propagates."""
    # Not "fork": a child forked after OpenCV or torch started their thread pools can deadlock.
    methods = multiprocessing.get_all_start_methods()
    context = multiprocessing.get_context("forkserver" if "forkserver" in methods else "spawn")
    pool = ProcessPoolExecutor(workers, mp_context=context, initializer=_worker_init, initargs=(os.getpid(),))
    try:
        futures = {pool.submit(process_sample_noted, samples[i], chain, input_spec): i for i in positions}
        for future in as_completed(futures):
            finished(futures[future], future.result())
    except BrokenProcessPool:
        pool.shutdown(wait=False, cancel_futures=True)
        _terminate_workers(pool)
        raise PreprocessingError(
            "a preprocessing worker process stopped abruptly (killed, out of memory, or a script that calls "
            "mebench without an `if __name__ == \"__main__\":` guard, which each worker re-imports); the samples "
            "finished so far are cached — `--workers 1` preprocesses in this process") from None
    except BaseException:
        pool.shutdown(wait=False, cancel_futures=True)
        _terminate_workers(pool)
        raise
    pool.shutdown(wait=True)


def _terminate_workers(pool: ProcessPoolExecutor) -> None:
    """Stop the pool's workers now, not after their current sample."""
    if hasattr(pool, "terminate_workers"):  # Python 3.14+
        pool.terminate_workers()
        return
    # Before 3.14 the executor has no public way to stop running workers; its process table does.
    for process in list((getattr(pool, "_processes", None) or {}).values()):
        process.terminate()
