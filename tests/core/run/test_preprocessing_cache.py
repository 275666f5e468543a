"""The preprocessing cache heals, keeps what is done when a run is interrupted, and its workers
never outlive the process that started them."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest

from mebench.data import InputSpec, PreprocessingStep, Sample
from mebench.errors import DataError, PreprocessingError
from mebench.run.preprocessing import chain_config, prepare
from mebench.identity import config_hash
from tests.conftest import quiet, tiny_config, tiny_run

SPEC = InputSpec(3, 4, 4)
REPO = Path(__file__).resolve().parents[3]


def fake_samples(n: int, subjects: int = 4) -> list[Sample]:
    """Samples without frames: ``StampStep`` makes each one's image from its onset number alone."""
    labels = ("negative", "positive", "surprise")
    return [Sample(id=f"fake/s{k % subjects}/clip{k:03d}", dataset="fake", subject=f"fake/s{k % subjects}",
                   label=labels[k % 3], emotion=labels[k % 3], frames=None, onset=k, apex=k, offset=k,
                   fingerprint=f"{k:064x}")
            for k in range(n)]


class StampStep(PreprocessingStep):
    """An image filled with the sample's onset number, after ``delay`` seconds; each call leaves a
    file named after the process that made it in ``trace_dir`` (when given)."""

    name = "stamp"

    def __init__(self, delay: float = 0.0, trace_dir: str | None = None):
        self.delay, self.trace_dir = delay, trace_dir

    def __call__(self, item):
        time.sleep(self.delay)
        if self.trace_dir:
            Path(self.trace_dir, f"{os.getpid()}-{item['sample'].onset}").touch()
        item["image"] = np.full((8, 8, 3), float(item["sample"].onset), np.float32)
        return item


def cache_files(cache_dir: Path) -> list[Path]:
    return sorted(cache_dir.rglob("*.npy"))


def entry(cache_dir: Path, sample: Sample) -> Path:
    root = cache_dir / config_hash(chain_config([StampStep()], SPEC))
    return root / sample.fingerprint[:2] / f"{sample.fingerprint}.npy"


def test_damaged_cache_entries_are_named_discarded_and_recomputed(tmp_path):
    samples = fake_samples(6)
    fresh = prepare(samples, [StampStep()], SPEC, cache_dir=tmp_path, workers=1, progress=False)
    damaged = {
        samples[0]: b"",                                   # empty
        samples[1]: entry(tmp_path, samples[1]).read_bytes()[:-7],  # truncated
        samples[2]: b"\x00garbage" * 20,                   # not an array at all
    }
    for sample, content in damaged.items():
        entry(tmp_path, sample).write_bytes(content)
    np.save(entry(tmp_path, samples[3]), np.zeros((3, 5, 5), np.float32))  # wrong shape
    lines = []
    healed = prepare(samples, [StampStep()], SPEC, cache_dir=tmp_path, workers=1, progress=False, log=lines.append)
    assert len(lines) == 4
    for sample, line in zip(samples[:4], lines):
        assert str(entry(tmp_path, sample)) in line and sample.id in line and "\n" not in line
    assert "shape (3, 5, 5)" in lines[3]
    np.testing.assert_array_equal(healed.x.numpy(), fresh.x.numpy())
    quiet = []
    prepare(samples, [StampStep()], SPEC, cache_dir=tmp_path, workers=1, progress=False, log=quiet.append)
    assert quiet == []  # the recomputed entries were written back, intact


def test_labels_index_the_task_classes_and_an_unknown_label_names_the_sample(tmp_path):
    samples = fake_samples(6)
    data = prepare(samples, [StampStep()], SPEC, cache_dir=None, workers=1, progress=False,
                   classes=("surprise", "positive", "negative"))
    assert data.y.tolist() == [("surprise", "positive", "negative").index(s.label) for s in samples]
    with pytest.raises(DataError, match=r"sample fake/s2/clip002: label 'surprise' is not one of the task's "
                                        r"classes \(negative, positive\)"):
        prepare(samples, [StampStep()], SPEC, cache_dir=None, workers=1, progress=False,
                classes=("negative", "positive"))


def test_each_sample_is_cached_as_it_completes(tmp_path):
    class FailsOnFourth(StampStep):
        def __call__(self, item):
            if item["sample"].onset == 3:
                raise RuntimeError("unreadable frame")
            return super().__call__(item)

    samples = fake_samples(6)
    with pytest.raises(Exception, match="fake/s3/clip003"):
        prepare(samples, [FailsOnFourth()], SPEC, cache_dir=tmp_path, workers=1, progress=False)
    assert [p.name for p in cache_files(tmp_path)] == sorted(s.fingerprint + ".npy" for s in samples[:3])


def test_stale_temp_files_go_and_cache_files_follow_the_umask(tmp_path):
    samples = fake_samples(3)
    prepare(samples, [StampStep()], SPEC, cache_dir=tmp_path, workers=1, progress=False)
    folder = entry(tmp_path, samples[0]).parent
    stale, recent = folder / ".x.npy.abc.tmp", folder / ".y.npy.def.tmp"
    stale.write_bytes(b"partial")
    recent.write_bytes(b"being written")
    two_hours_ago = time.time() - 7200
    os.utime(stale, (two_hours_ago, two_hours_ago))
    previous = os.umask(0o027)
    try:
        entry(tmp_path, samples[1]).unlink()
        prepare(samples, [StampStep()], SPEC, cache_dir=tmp_path, workers=1, progress=False)
    finally:
        os.umask(previous)
    assert not stale.exists() and recent.exists()
    assert entry(tmp_path, samples[1]).stat().st_mode & 0o777 == 0o640


# --- interruption, with a real process running prepare over slow samples on 2 workers ---

RUNNER = textwrap.dedent("""
    import signal
    import sys
    # Ctrl-C as a terminal delivers it, whatever disposition the test process passes on to its children
    signal.signal(signal.SIGINT, signal.default_int_handler)
    from tests.core.run.test_preprocessing_cache import SPEC, StampStep, fake_samples
    from mebench.run.preprocessing import prepare
    prepare(fake_samples(120), [StampStep(delay=0.4, trace_dir=sys.argv[2])], SPEC, cache_dir=sys.argv[1],
            workers=2, progress=False)
""")


def _parent_pids() -> dict[int, int]:
    parents = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        parents[int(stat.parent.name)] = int(fields[1])
    return parents


def _descendants(pid: int) -> set[int]:
    parents, found, frontier = _parent_pids(), set(), {pid}
    while frontier:
        frontier = {child for child, parent in parents.items() if parent in frontier} - found
        found |= frontier
    return found


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state not in ("Z", "X")


def _start_and_wait_for_cached_samples(tmp_path: Path, count: int):
    cache, trace = tmp_path / "cache", tmp_path / "trace"
    trace.mkdir()
    process = subprocess.Popen([sys.executable, "-c", RUNNER, str(cache), str(trace)], cwd=REPO,
                               stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 90
    while len(cache_files(cache)) < count:
        assert process.poll() is None, process.stderr.read()
        assert time.monotonic() < deadline, "preprocessing did not start"
        time.sleep(0.05)
    workers = {int(name.split("-")[0]) for name in os.listdir(trace)}
    return process, cache, workers | _descendants(process.pid)


def _wait_until_gone(pids: set[int], seconds: float) -> set[int]:
    deadline = time.monotonic() + seconds
    while (alive := {pid for pid in pids if _alive(pid)}) and time.monotonic() < deadline:
        time.sleep(0.05)
    return alive


pytestmark_linux = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")


@pytestmark_linux
@pytest.mark.slow
def test_kill_9_keeps_the_cached_samples_and_leaves_no_worker_behind(tmp_path):
    process, cache, children = _start_and_wait_for_cached_samples(tmp_path, count=3)
    assert len(children) >= 2  # at least the two workers
    process.kill()
    process.wait()
    assert _wait_until_gone(children, seconds=30) == set()
    kept = cache_files(cache)
    assert 3 <= len(kept) < 40
    assert all(np.load(path).shape == (3, 4, 4) for path in kept)


@pytestmark_linux
@pytest.mark.slow
def test_ctrl_c_stops_within_seconds_and_keeps_what_is_done(tmp_path):
    process, cache, children = _start_and_wait_for_cached_samples(tmp_path, count=3)
    process.send_signal(signal.SIGINT)
    # A generous bound a loaded machine keeps; that it stopped at once shows in the cache: the 117 or so
    # samples still to do (0.4 s each, two workers: 23 s, more than a loaded machine takes to interrupt) were not
    # computed.
    process.wait(timeout=60)
    assert "KeyboardInterrupt" in process.stderr.read()
    assert _wait_until_gone(children, seconds=30) == set()
    assert 3 <= len(cache_files(cache)) < 20



class DyingStep(StampStep):
    """Ends its worker process abruptly, as a worker killed or out of memory does."""

    name = "dying"

    def __call__(self, item):
        os._exit(1)


@pytest.mark.slow
def test_a_worker_that_dies_is_one_clear_error_naming_the_likely_causes(tmp_path):
    with pytest.raises(PreprocessingError) as error:
        prepare(fake_samples(32), [DyingStep()], SPEC, cache_dir=tmp_path, workers=2, progress=False)
    message = str(error.value)
    assert "worker process stopped abruptly" in message and "--workers 1" in message
    assert 'if __name__ == "__main__":' in message


def test_mebench_called_again_inside_its_own_worker_says_to_add_a_main_guard(registry, monkeypatch, tmp_path):
    """A script without a main guard is re-imported by each preprocessing worker; there its call
    to mebench must fail at once with the fix, not wait for the run's lock held by its parent."""
    import multiprocessing

    from mebench.errors import WorkerReentryError
    from mebench.run.sweep import Sweep

    monkeypatch.setattr(multiprocessing.current_process(), "_inheriting", True, raising=False)
    with pytest.raises(WorkerReentryError, match='put the code that calls mebench under `if __name__ == "__main__":`'):
        tiny_run(registry, tmp_path)
    # a sweep, which reports a run's bad options and goes on with the others, stops here too
    with pytest.raises(WorkerReentryError):
        Sweep([tiny_config()], tmp_path, registry=registry, progress=False, log=quiet).run()
