"""Layers point one way: problems <- solvers <- learned <- optbox (CLI); benchmarks beside.

Every import in the project's own packages is read from the source (function-level imports
included), resolved to a module of the project, and checked against the layer order; the
module graph must have no cycle, and no library module may exceed the size the style asks.
"""

from __future__ import annotations

import ast
from pathlib import Path

import networkx as nx
import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("problems", "solvers", "learned", "optbox", "benchmarks")
#: what each package may import from the project (itself always)
ALLOWED = {
    "problems": set(),
    "solvers": {"problems"},
    "learned": {"problems", "solvers"},
    "optbox": {"problems", "solvers", "learned", "benchmarks"},
    "benchmarks": {"problems", "solvers", "learned"},
}
MAX_LINES = 430


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def _modules() -> dict[str, Path]:
    out = {}
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            out[_module_name(path)] = path
    return out


def _imports(name: str, path: Path, known: set[str]) -> set[str]:
    """Project modules imported anywhere in ``path`` (resolved to the longest known name)."""
    tree = ast.parse(path.read_text(), filename=str(path))
    is_package = path.name == "__init__.py"
    found = set()
    for node in ast.walk(tree):
        targets: list[str] = []
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = name.split(".")
                base = base if is_package else base[:-1]
                base = base[: len(base) - (node.level - 1)]
                prefix = ".".join(base + ([node.module] if node.module else []))
            else:
                prefix = node.module or ""
            targets = [prefix] + [f"{prefix}.{alias.name}" for alias in node.names]
        elif isinstance(node, ast.Call) and getattr(node.func, "attr", "") == "import_module" \
                and node.args and isinstance(node.args[0], ast.Constant) and isinstance(node.args[0].value, str):
            targets = [node.args[0].value]
        for target in targets:
            parts = target.split(".")
            while parts and ".".join(parts) not in known:
                parts.pop()
            if parts:
                found.add(".".join(parts))
    found.discard(name)
    return found


@pytest.fixture(scope="module")
def graph() -> nx.DiGraph:
    modules = _modules()
    g = nx.DiGraph()
    for name, path in modules.items():
        g.add_node(name)
        for target in _imports(name, path, set(modules)):
            g.add_edge(name, target)
    return g


def test_layers_point_one_way(graph):
    wrong = []
    for src, dst in graph.edges:
        a, b = src.split(".")[0], dst.split(".")[0]
        if a != b and b not in ALLOWED[a]:
            wrong.append(f"{src} imports {dst}")
    assert not wrong, "\n".join(wrong)


def test_no_solvers_module_imports_learned_or_benchmarks(graph):
    bad = [f"{s} -> {d}" for s, d in graph.edges
           if s.startswith("solvers") and d.split(".")[0] in ("learned", "benchmarks", "optbox")]
    assert not bad, bad


def test_no_import_cycles(graph):
    # a package's __init__ importing its own submodules is not a cycle of ideas: drop those
    # edges (package -> its own child) before looking for cycles
    g = graph.copy()
    g.remove_edges_from([(s, d) for s, d in graph.edges if d.startswith(s + ".")])
    cycles = list(nx.simple_cycles(g))
    assert not cycles, cycles[:5]


def test_modules_stay_small():
    big = []
    for package in ("problems", "solvers", "learned"):
        for path in (ROOT / package).rglob("*.py"):
            n = len(path.read_text().splitlines())
            if n > MAX_LINES:
                big.append(f"{path.relative_to(ROOT)}: {n} lines")
    assert not big, big


def test_learned_methods_are_registered_by_path_only():
    """The registry names learned methods by string; resolving the table imports no torch."""
    from solvers.registry import registry

    learned = [s for s in registry().values() if s.target.startswith("learned.")]
    assert {s.name for s in learned} >= {"udc", "dcdm"}
