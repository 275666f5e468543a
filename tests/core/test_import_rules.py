"""The core's layers, as docs/design.md draws them, are the imports the code has, and the tree shows them: the
modules of the run and analysis layers live in the subpackages of those names (``mebench/run/``,
``mebench/analysis/``), the lower layers' at the top of ``mebench/``."""

import ast
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
CORE = ROOT / "mebench"


def documented_layers(design: str, core: Path = CORE) -> dict[str, tuple[list[str], set[str]]]:
    """``layer -> (modules, layers it may import)`` from the table under "What may import what"; a layer that is a
    subpackage of ``core`` (``run``, ``analysis``) names its modules within it (``plan`` is ``run.plan``)."""
    section = design.split("## What may import what", 1)[1].split("\n## ", 1)[0]
    layers = {}
    for line in section.splitlines():
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        if len(cells) != 3 or cells[0] in ("layer", "") or set(cells[0]) <= {"-"}:
            continue
        prefix = f"{cells[0]}." if (core / cells[0]).is_dir() else ""
        layers[cells[0]] = ([prefix + name for name in re.findall(r"`(\w+)`", cells[1])],
                            {name.strip() for name in cells[2].split(",")})
    return layers


def module_name(path: Path, core: Path = CORE) -> str:
    """``run.plan`` for mebench/run/plan.py; ``data`` for mebench/data.py."""
    return ".".join(path.relative_to(core).with_suffix("").parts)


def runtime_imports(path: Path, modules: set[str]) -> set[str]:
    """The ``mebench`` modules (among ``modules``) a file imports, at top level or inside functions, but not under
    TYPE_CHECKING."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    hints = {id(node) for block in ast.walk(tree) if isinstance(block, ast.If)
             and getattr(block.test, "id", getattr(block.test, "attr", "")) == "TYPE_CHECKING"
             for stmt in block.body for node in ast.walk(stmt)}
    found = set()
    for node in ast.walk(tree):
        if id(node) in hints:
            continue
        if isinstance(node, ast.ImportFrom) and node.module and node.module.split(".")[0] == "mebench":
            base = node.module.split(".", 1)[1] if "." in node.module else ""
            for alias in node.names:  # from mebench.run import plan: the module run.plan
                found.add(f"{base}.{alias.name}".lstrip(".") if f"{base}.{alias.name}".lstrip(".") in modules
                          else base)
        elif isinstance(node, ast.Import):
            found.update(alias.name.split(".", 1)[1] for alias in node.names if alias.name.startswith("mebench."))
    return {name for name in found if name in modules}


def import_violations(layers, imports: dict[str, set[str]]) -> list[str]:
    layer_of = {module: layer for layer, (modules, _) in layers.items() for module in modules}
    problems = [f"mebench/{module.replace('.', '/')}.py is in no layer of docs/design.md"
                for module in imports if module not in layer_of]
    problems += [f"docs/design.md places {module} ({layer}), which is no module of mebench/"
                 for module, layer in layer_of.items() if module not in imports]
    for module, targets in sorted(imports.items()):
        for target in sorted(targets):
            if module in layer_of and target in layer_of and layer_of[target] not in layers[layer_of[module]][1]:
                problems.append(f"{module} ({layer_of[module]}) imports {target} ({layer_of[target]})")
    return problems


def import_circles(imports: dict[str, set[str]]) -> list[list[str]]:
    circles, state = [], {}

    def visit(module, path):
        state[module] = "open"
        for target in sorted(imports.get(module, ())):
            if state.get(target) == "open":
                circles.append(path[path.index(target):] + [target])
            elif target not in state:
                visit(target, path + [target])
        state[module] = "done"

    for module in sorted(imports):
        if module not in state:
            visit(module, [module])
    return circles


@pytest.fixture(scope="module")
def core_imports():
    paths = [path for path in CORE.rglob("*.py") if path.stem != "__init__"]
    modules = {module_name(path) for path in paths}
    return {module_name(path): runtime_imports(path, modules) for path in paths}


def test_every_import_of_the_core_follows_the_documented_layers(core_imports):
    layers = documented_layers((ROOT / "docs" / "design.md").read_text(encoding="utf-8"))
    assert {"foundations", "run", "analysis", "scoring"} <= set(layers)
    assert import_violations(layers, core_imports) == []


def test_the_run_and_analysis_layers_are_the_subpackages_of_their_names(core_imports):
    layers = documented_layers((ROOT / "docs" / "design.md").read_text(encoding="utf-8"))
    for layer in ("run", "analysis"):
        folder = {module for module in core_imports if module.startswith(f"{layer}.")}
        assert folder and set(layers[layer][0]) == folder
    assert all("." not in module for layer in ("foundations", "scoring", "declarations")
               for module in layers[layer][0])


def test_the_core_has_no_circle_of_imports(core_imports):
    assert import_circles(core_imports) == []


def test_the_rule_check_names_an_upward_import_an_unplaced_module_and_a_placed_one_that_is_not_there(tmp_path):
    (tmp_path / "high").mkdir()
    layers = documented_layers("## What may import what\n\n| layer | modules | may import the layers |\n|---|---|---|\n"
                               "| low | `errors`, `gone` | low |\n| high | `runner` | low, high |\n", tmp_path)
    assert layers["high"][0] == ["high.runner"]
    assert import_violations(layers, {"errors": {"high.runner"}, "high.runner": {"errors"}, "stray": set()}) == [
        "mebench/stray.py is in no layer of docs/design.md", "docs/design.md places gone (low), which is no module "
        "of mebench/", "errors (low) imports high.runner (high)"]
    assert import_circles({"a": {"b"}, "b": {"a"}, "c": set()}) == [["a", "b", "a"]]


def test_imports_are_read_as_modules_whichever_way_they_are_written(tmp_path):
    source = tmp_path / "x.py"
    source.write_text("from typing import TYPE_CHECKING\nfrom mebench.run import plan\nfrom mebench.run.runner "
                      "import run\nimport mebench.analysis.score\nfrom mebench import hookimpl, data\n"
                      "if TYPE_CHECKING:\n    from mebench.analysis.plots import x\n")
    modules = {"run.plan", "run.runner", "analysis.score", "analysis.plots", "data", "hookspecs"}
    assert runtime_imports(source, modules) == {"run.plan", "run.runner", "analysis.score", "data"}
