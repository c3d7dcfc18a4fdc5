"""The house's rules: data flows one way, and nothing imports in a circle.

Every ``import funnelsim...`` of every module counts, at its top or inside a function (a lazy
import is still a dependency), except those under ``if TYPE_CHECKING:``.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src"
PACKAGE = SRC / "funnelsim"

# Layers, lowest first: a module may import its own layer and those below, never above.
LAYERS: list[tuple[str, ...]] = [
    ("errors", "units", "rng", "staffing", "compiled", "curves", "bands", "crm", "crm.formats"),
    (
        "scenario.schema",
        "scenario.ranges",
        "scenario.load",
        "scenario.study",
        "scenario.optimization",
    ),
    ("calendar",),
    ("records", "economics"),
    ("model.",),
    (
        "theory",
        "workload",
        "metrics",
        "breakdown",
        "warmup",
        "analysis",
        "goals",
        "uncertainty",
        "formatting",
        "executors",
        "replications",
        "worker",
    ),
    ("store", "results"),
    (
        "experiment",
        "sensitivity_analysis",
        "sizing",
        "optimizer",
        "planning",
        "crm.",
        "calibration",
        "backtesting",
        "refinement",
    ),
    ("charts",),
    ("review",),
    ("reporting",),
    ("api", "funnelsim"),  # ``import funnelsim as fs``: the package's names are the API's
    ("cli",),
]


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE).with_suffix("").parts
    return ".".join(p for p in parts if p != "__init__") or "funnelsim"


def layer(module: str) -> int:
    for index, names in enumerate(LAYERS):
        if any(module == n or (n.endswith(".") and module.startswith(n)) for n in names):
            return index
    raise AssertionError(f"funnelsim.{module} belongs to no layer: add it to LAYERS")


def imports(path: Path) -> set[str]:
    """The funnelsim modules ``path`` imports (without the ``funnelsim.`` prefix)."""
    tree = ast.parse(path.read_text())
    type_only: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            type_only |= {id(n) for child in node.body for n in ast.walk(child)}
    found: set[str] = set()
    for node in ast.walk(tree):
        if id(node) in type_only:
            continue
        names: list[str] = []
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module:
            names = [node.module] + [f"{node.module}.{alias.name}" for alias in node.names]
        for name in names:
            if name.startswith("funnelsim."):
                candidate = name.removeprefix("funnelsim.")
                if (PACKAGE / f"{candidate.replace('.', '/')}.py").exists():
                    found.add(candidate)
    return found


GRAPH = {
    module_name(path): imports(path)
    for path in sorted(PACKAGE.rglob("*.py"))
    if path.name != "__init__.py" or path.parent == PACKAGE  # the package itself: "funnelsim"
}


def test_the_graph_is_read() -> None:
    assert "model.story" in GRAPH["model.run"]
    assert "scenario.schema" in GRAPH["scenario.load"]
    assert len(GRAPH) > 30


@pytest.mark.parametrize("module", sorted(GRAPH))
def test_no_module_imports_upward(module: str) -> None:
    upward = sorted(m for m in GRAPH[module] if layer(m) > layer(module))
    assert not upward, f"funnelsim.{module} imports a layer above it: {upward}"


def test_the_model_is_reached_only_through_its_entry_point() -> None:
    outside = {
        module: sorted(m for m in deps if m.startswith("model.") and m != "model.run")
        for module, deps in GRAPH.items()
        if not module.startswith("model.") and module != "theory"
    }
    assert not any(outside.values()), {k: v for k, v in outside.items() if v}


def test_nothing_imports_in_a_circle() -> None:
    state: dict[str, int] = {}  # 1: on the current path, 2: done

    def visit(module: str, path: list[str]) -> None:
        state[module] = 1
        for dep in sorted(GRAPH.get(module, ())):
            if state.get(dep) == 1:
                cycle = [*path[path.index(dep) :], dep]
                raise AssertionError(f"import cycle: {' -> '.join(cycle)}")
            if dep not in state:
                visit(dep, [*path, dep])
        state[module] = 2

    for module in sorted(GRAPH):
        if module not in state:
            visit(module, [module])
