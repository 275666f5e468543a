"""Break each promise of the harness on purpose and check that a test notices.

Every mutation is one promise from README.md or docs/, one exact snippet of the code that keeps
it, the snippet that breaks it, and the tests that guard it. The script copies the checkout
(tracked and untracked, not ignored, files) to a scratch folder, runs every guard once on the
unchanged copy (they must pass), then for each mutation: applies it, runs its guards there, and
restores the file. It prints one row per mutation: caught (a guard failed), NOT caught (all passed),
snippet not found (the code drifted: update the mutation), or error (the guards could not run).
The exit status is 0 only when every mutation is caught.

    python benchmarks/mutation_check.py                 # all mutations (a few minutes on 2 CPU cores)
    python benchmarks/mutation_check.py --only seed     # those whose promise mentions "seed"
    python benchmarks/mutation_check.py --only "later issue"
    python benchmarks/mutation_check.py --list          # the mutations and their guards

The mutations are data: ``benchmarks/mutations/*.toml``, one ``[[mutation]]`` table each (``promise``, ``file``,
``old``, ``new``, ``guards``, ``source``). To check a new promise, add an entry there and watch its guard catch it.
A guard names its test by the test file's name and the test's (``test_folds.py::test_x``), so a test file may move
between the folders of ``tests/`` without touching an entry.

By default each mutation's tests run in a child forked from this process after it has imported the
heavy third-party libraries (torch, pandas, …) but nothing of mebench, so the child imports the
scratch copy's mebench fresh and pays no start-up cost; ``--fresh`` runs ``python -m pytest`` in a
new interpreter instead. Either way the scratch folder comes first on the import path, with a
``mebench_plugins`` link to its ``plugins`` folder, and a pre-flight check confirms that both
packages are imported from there.
"""

from __future__ import annotations

import argparse
import importlib
import multiprocessing
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import tomllib
from dataclasses import dataclass
from pathlib import Path

from tabulate import tabulate

REPO = Path(__file__).resolve().parent.parent
#: Imported once in this process before forking, so the children do not pay for them.
PRELOAD = ("numpy", "pandas", "torch", "torch.func", "torchvision", "timm", "sklearn.metrics",
           "sklearn.model_selection", "scipy.stats", "cv2", "openpyxl", "pluggy", "click", "click.testing",
           "tabulate", "tqdm.auto", "filelock", "pytest", "_pytest.pytester", "_hypothesis_pytestplugin",
           "pytest_benchmark.plugin", "anyio.pytest_plugin")


@dataclass(frozen=True)
class Mutation:
    promise: str
    file: str  # relative to the repository root
    old: str  # must occur exactly once in the file
    new: str
    guards: tuple[str, ...]  # pytest node ids (``load_mutations`` finds a guard's file by its name under tests/)
    source: str = "issue 13"  # "issue 13" (its guard was missing), "guarded before", "later issue", "issue 18"…


MUTATIONS_DIR = REPO / "benchmarks" / "mutations"


def load_mutations(folder: Path = MUTATIONS_DIR) -> list[Mutation]:
    """Every ``[[mutation]]`` of every ``*.toml`` in ``folder``, in file-name order.

    Each entry has ``promise``, ``file``, ``old``, ``new``, ``guards`` (pytest node ids or files) and ``source``; a file
    that does not parse, or an entry with a missing or unknown key, stops the script naming the file and the entry.
    """
    fields = {"promise", "file", "old", "new", "guards", "source"}
    mutations = []
    for path in sorted(folder.glob("*.toml")):
        shown = path.relative_to(REPO) if path.is_relative_to(REPO) else path
        try:
            entries = tomllib.loads(path.read_text(encoding="utf-8")).get("mutation", [])
        except tomllib.TOMLDecodeError as error:
            raise SystemExit(f"{shown}: not valid TOML ({error})") from None
        for number, entry in enumerate(entries, start=1):
            if set(entry) - fields or not {"promise", "file", "old", "new", "guards"} <= set(entry):
                raise SystemExit(f"{shown}: mutation {number} ({entry.get('promise', '?')!r}) needs the "
                                 f"keys {sorted(fields)} and no others; it has {sorted(entry)}")
            mutations.append(Mutation(entry["promise"], entry["file"], entry["old"], entry["new"],
                                      tuple(map(guard_node, entry["guards"])), entry.get("source", path.stem)))
    return mutations


def guard_node(guard: str, tests: Path = REPO / "tests") -> str:
    """A guard as a pytest node id. An entry names a guard by its test file's name, not its folder
    (``test_folds.py::test_x``, or the file alone), so that moving a test file between the folders of tests/
    breaks no entry; a path (``tests/…``) is taken as it is. A name no file or several files have stays as
    written, and ``missing_guards`` names it."""
    file, sep, rest = guard.partition("::")
    if "/" in file:
        return guard
    found = sorted(tests.rglob(file))
    return f"{found[0].relative_to(tests.parent).as_posix()}{sep}{rest}" if len(found) == 1 else guard


def missing_guards(guards: tuple[str, ...]) -> list[str]:
    """The guards naming a test file or a test function that does not exist (a renamed test breaks its entry
    here, in ``--list``, instead of silently guarding nothing)."""
    missing = []
    for guard_id in guards:
        file, _, test = guard_id.partition("::")
        path = REPO / file
        name = test.split("[", 1)[0].split("::")[-1]
        if not path.is_file() or (name and not re.search(rf"^\s*(?:async )?def {re.escape(name)}\(",
                                                          path.read_text(encoding="utf-8"), flags=re.M)):
            missing.append(guard_id)
    return missing


def checkout_files(repo: Path) -> list[str]:
    """Tracked and untracked files that git does not ignore, as they are now in the working tree."""
    listed = subprocess.run(["git", "ls-files", "--cached", "--others", "--exclude-standard", "-z"], cwd=repo,
                            capture_output=True, text=True, check=True).stdout
    return sorted({name for name in listed.split("\0") if name and (repo / name).is_file()})


def make_scratch(repo: Path, folder: Path) -> Path:
    scratch = folder / "repo"
    for name in checkout_files(repo):
        target = scratch / name
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(repo / name, target)
    (scratch / "mebench_plugins").symlink_to("plugins", target_is_directory=True)
    return scratch


def child_environment(scratch: Path) -> dict[str, str]:
    env = dict(os.environ, PYTHONDONTWRITEBYTECODE="1")  # a stale .pyc of a mutated file must never be read
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(scratch), os.environ.get("PYTHONPATH")]))
    return env


def _forked_pytest(scratch: str, args: list[str], log_path: str) -> None:
    """Body of a forked child: run pytest on the scratch copy, output to ``log_path``."""
    log = os.open(log_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    os.dup2(log, 1)
    os.dup2(log, 2)
    os.environ.update(child_environment(Path(scratch)))
    sys.dont_write_bytecode = True
    sys.path.insert(0, scratch)
    os.chdir(scratch)
    import pytest

    code = pytest.main(args)
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(int(code))


def run_pytest(scratch: Path, args: list[str], log_path: Path, fresh: bool, timeout: float) -> int | None:
    """pytest's exit status on the scratch copy, or None when it ran past ``timeout``."""
    if fresh:
        with open(log_path, "wb") as log:
            try:
                return subprocess.run([sys.executable, "-m", "pytest", *args], cwd=scratch, stdout=log,
                                      stderr=subprocess.STDOUT, env=child_environment(scratch),
                                      timeout=timeout).returncode
            except subprocess.TimeoutExpired:
                return None
    child = multiprocessing.get_context("fork").Process(target=_forked_pytest,
                                                        args=(str(scratch), args, str(log_path)))
    child.start()
    child.join(timeout)
    if child.is_alive():
        child.kill()
        child.join()
        return None
    return child.exitcode


def _report_origins(scratch: str, result_path: str) -> None:
    sys.path.insert(0, scratch)
    lines = []
    for name in ("mebench", "mebench_plugins", "mebench_plugins.datasets.megc2019"):
        lines.append(f"{name} {importlib.import_module(name).__file__}")
    Path(result_path).write_text("\n".join(lines) + "\n")
    os._exit(0)


def check_imports(scratch: Path, fresh: bool, work: Path) -> list[str]:
    """Where the children import mebench from; raises unless it is the scratch copy."""
    result = work / "origins.txt"
    if fresh:
        code = (f"import importlib, pathlib; pathlib.Path({str(result)!r}).write_text(''.join("
                f"f'{{n}} {{importlib.import_module(n).__file__}}\\n' for n in "
                f"('mebench', 'mebench_plugins', 'mebench_plugins.datasets.megc2019')))")
        subprocess.run([sys.executable, "-c", code], cwd=scratch, env=child_environment(scratch), check=True)
    else:
        child = multiprocessing.get_context("fork").Process(target=_report_origins, args=(str(scratch), str(result)))
        child.start()
        child.join()
    lines = result.read_text().splitlines()
    outside = [line for line in lines if not line.split(" ", 1)[1].startswith(str(scratch))]
    if outside:
        raise SystemExit(f"the scratch copy is not what gets imported: {'; '.join(outside)}")
    return lines


PYTEST_ARGS = ["-q", "-p", "no:cacheprovider"]


def failing_nodes(output: str) -> list[str]:
    """Node ids (or files, for collection errors) in pytest's ``-rfE`` short summary."""
    nodes = []
    for line in output.splitlines():
        if line.startswith(("FAILED ", "ERROR ")):
            nodes.append(line.split(" ", 1)[1].split(" - ", 1)[0].strip())
    return nodes


def covers(guard_id: str, node: str) -> bool:
    """Whether the guard ``guard_id`` (a file or a test, maybe unparametrised) includes ``node``."""
    return node == guard_id or node.startswith((guard_id + "::", guard_id + "[")) or guard_id.startswith(node + "::")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--only", help="run only the mutations whose promise or source (issue 13, guarded before, "
                                       "later issue) contains this text")
    parser.add_argument("--list", action="store_true",
                        help="list the mutations and their guards and say which snippets no longer match; run nothing")
    parser.add_argument("--fresh", action="store_true", help="a new interpreter per mutation instead of a fork")
    parser.add_argument("--timeout", type=float, default=300.0, help="seconds allowed per mutation (default 300)")
    parser.add_argument("--keep", action="store_true", help="keep the scratch folder and the pytest logs")
    args = parser.parse_args(argv)

    mutations = [m for m in load_mutations() if not args.only or args.only.lower() in f"{m.promise} [{m.source}]".lower()]
    if args.list:
        drifted = 0
        for m in mutations:
            path = REPO / m.file
            count = path.read_text(encoding="utf-8").count(m.old) if path.exists() else 0
            missing = missing_guards(m.guards)
            drifted += count != 1 or bool(missing)
            state = "" if count == 1 else f" — snippet {'not found' if count == 0 else f'found {count} times'}"
            state += f" — no such guard: {', '.join(missing)}" if missing else ""
            print(f"{m.promise} [{m.source}] — {m.file}{state}\n    " + "\n    ".join(m.guards))
        return 1 if drifted else 0
    if not mutations:
        print(f"no mutation's promise contains {args.only!r}")
        return 1
    if not args.fresh:
        for name in PRELOAD:
            try:
                importlib.import_module(name)
            except ImportError:
                pass  # the children import it themselves, if they need it
        assert not any(name == "mebench" or name.startswith(("mebench.", "mebench_plugins")) for name in sys.modules)

    started = time.perf_counter()
    work = Path(tempfile.mkdtemp(prefix="mebench-mutations-"))
    try:
        scratch = make_scratch(REPO, work)
        for line in check_imports(scratch, args.fresh, work):
            print(f"imports from the scratch copy: {line}")
        guards = list(dict.fromkeys(g for m in mutations for g in m.guards))
        baseline_log = work / "baseline.log"
        # every guard once on the unchanged code; a failing one is reported and left out below
        code = run_pytest(scratch, PYTEST_ARGS + ["-rfE", "--continue-on-collection-errors",
                                                  f"--basetemp={work / 'pytest-baseline'}", *guards],
                          baseline_log, args.fresh, args.timeout * 3)
        broken = failing_nodes(baseline_log.read_text(errors="replace")) if code is not None else guards
        if code not in (0, 1) or (code == 1 and not broken):
            print(baseline_log.read_text(errors="replace")[-4000:])
            print(f"the guards could not run on the unchanged code (pytest exit {code})")
            return 1
        for node in broken:
            print(f"warning: {node} fails on the unchanged code; it guards nothing in this check")
        args.keep |= bool(broken)
        print(f"baseline: {len(guards)} guards run on the unchanged code, {len(broken)} failing "
              f"({time.perf_counter() - started:.0f} s so far)")

        rows, clean = [], True
        for number, mutation in enumerate(mutations, start=1):
            path = scratch / mutation.file
            original = path.read_text(encoding="utf-8") if path.exists() else None
            count = original.count(mutation.old) if original is not None else 0
            live_guards = [g for g in mutation.guards if not any(covers(g, node) for node in broken)]
            if count != 1:
                status, seconds = "snippet not found" if count == 0 else f"snippet found {count} times", 0.0
            elif not live_guards:
                status, seconds = "no guard passes on the unchanged code", 0.0
            else:
                path.write_text(original.replace(mutation.old, mutation.new), encoding="utf-8")
                log = work / f"mutation_{number:02d}.log"
                start = time.perf_counter()
                try:
                    code = run_pytest(scratch, PYTEST_ARGS + ["-x", f"--basetemp={work / f'pytest-{number:02d}'}",
                                                     *live_guards], log, args.fresh, args.timeout)
                finally:
                    path.write_text(original, encoding="utf-8")
                seconds = time.perf_counter() - start
                # pytest exit 1: a test failed (caught); 0: all passed; other codes: the tests did not run
                status = {0: "NOT caught", 1: "caught", None: "timed out"}.get(code, f"error (pytest exit {code})")
                if status.startswith("error") or status == "timed out":
                    print(f"{mutation.promise}: {status}; log: {log}")
                    args.keep = True
            clean &= status == "caught"
            rows.append([number, mutation.promise, mutation.source, mutation.file, status, f"{seconds:.1f}"])
            print(f"[{number}/{len(mutations)}] {status}: {mutation.promise}", flush=True)
        print()
        print(tabulate(rows, headers=["#", "promise", "guard", "file", "result", "seconds"], tablefmt="github"))
        caught = sum(row[4] == "caught" for row in rows)
        print(f"\n{caught} of {len(rows)} mutations caught in {time.perf_counter() - started:.0f} s")
        return 0 if clean else 1
    finally:
        if args.keep:
            print(f"scratch copy and logs kept in {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
