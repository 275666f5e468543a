"""The core's layers, as docs/design.md draws them, are the imports the code has."""

import ast
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
CORE = ROOT / "mebench"


def documented_layers(design: str) -> dict[str, tuple[list[str], set[str]]]:
    """``layer -> (modules, layers it may import)`` from the table under "What may import what"."""
    section = design.split("## What may import what", 1)[1].split("\n## ", 1)[0]
    layers = {}
    for line in section.splitlines():
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        if len(cells) != 3 or cells[0] in ("layer", "") or set(cells[0]) <= {"-"}:
            continue
        layers[cells[0]] = (re.findall(r"`(\w+)`", cells[1]), {name.strip() for name in cells[2].split(",")})
    return layers


def runtime_imports(path: Path) -> set[str]:
    """The ``mebench`` modules a file imports, at top level or inside functions, but not under TYPE_CHECKING."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    hints = {id(node) for block in ast.walk(tree) if isinstance(block, ast.If)
             and getattr(block.test, "id", getattr(block.test, "attr", "")) == "TYPE_CHECKING"
             for stmt in block.body for node in ast.walk(stmt)}
    found = set()
    for node in ast.walk(tree):
        if id(node) in hints:
            continue
        if isinstance(node, ast.ImportFrom) and node.module and node.module.split(".")[0] == "mebench":
            parts = node.module.split(".")
            found.update([parts[1]] if len(parts) > 1 else [alias.name for alias in node.names])
        elif isinstance(node, ast.Import):
            found.update(alias.name.split(".")[1] for alias in node.names if alias.name.startswith("mebench."))
    return found - {"__init__"}


def import_violations(layers, imports: dict[str, set[str]]) -> list[str]:
    layer_of = {module: layer for layer, (modules, _) in layers.items() for module in modules}
    problems = [f"mebench/{module}.py is in no layer of docs/design.md" for module in imports if module not in layer_of]
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
    return {path.stem: runtime_imports(path) for path in CORE.glob("*.py") if path.stem != "__init__"}


def test_every_import_of_the_core_follows_the_documented_layers(core_imports):
    layers = documented_layers((ROOT / "docs" / "design.md").read_text(encoding="utf-8"))
    assert {"foundations", "run", "analysis", "scoring"} <= set(layers)
    assert import_violations(layers, core_imports) == []


def test_the_core_has_no_circle_of_imports(core_imports):
    assert import_circles(core_imports) == []


def test_the_rule_check_names_an_upward_import_and_an_unplaced_module():
    layers = documented_layers("## What may import what\n\n| layer | modules | may import the layers |\n|---|---|---|\n"
                               "| low | `errors` | low |\n| high | `runner` | low, high |\n")
    assert import_violations(layers, {"errors": {"runner"}, "runner": {"errors"}, "stray": set()}) == [
        "mebench/stray.py is in no layer of docs/design.md", "errors (low) imports runner (high)"]
    assert import_circles({"a": {"b"}, "b": {"a"}, "c": set()}) == [["a", "b", "a"]]
