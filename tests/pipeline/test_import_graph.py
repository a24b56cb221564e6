"""The import graph of ``pipeline/``: no cycles, counting imports inside functions, and the
arrows between sub-packages point one way (DESIGN.md, "Layout"; issue 17, point 7).

The graph is read from the source (``ast``), not from ``sys.modules``: an import inside a function
is an arrow like any other, because it is one the day the function runs. Imports under ``if
TYPE_CHECKING:`` are left out: they never run.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = "pipeline"

#: Sub-packages that analysis must never import (analysis is below them: they read its calls).
NOT_FROM_ANALYSIS = ("pipeline.audit", "pipeline.report")


def module_name(path: Path, root: Path = ROOT) -> str:
    parts = list(path.relative_to(root).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _imports(tree: ast.AST) -> Iterator[ast.Import | ast.ImportFrom]:
    """Every import statement, at any depth, outside ``if TYPE_CHECKING:`` blocks."""
    stack: list[ast.AST] = [tree]
    while stack:
        node = stack.pop()
        if isinstance(node, ast.If) and _is_type_checking(node.test):
            stack.extend(node.orelse)
            continue
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            yield node
        stack.extend(ast.iter_child_nodes(node))


def import_graph(root: Path = ROOT) -> dict[str, set[str]]:
    """module -> the ``pipeline`` modules it imports (``from a import b`` names ``a.b`` when
    ``b`` is a module, else ``a``)."""
    paths = sorted((root / PACKAGE).rglob("*.py"))
    modules = {module_name(p, root): p for p in paths}
    graph: dict[str, set[str]] = {}
    for name, path in modules.items():
        is_package = path.name == "__init__.py"
        targets: set[str] = set()
        for node in _imports(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                bases = [alias.name for alias in node.names]
                found = [b for b in bases if b in modules]
            else:
                base = node.module or ""
                if node.level:
                    anchor = name.split(".") if is_package else name.split(".")[:-1]
                    anchor = anchor[: len(anchor) - (node.level - 1)]
                    base = ".".join([*anchor, base] if base else anchor)
                found = []
                for alias in node.names:
                    child = f"{base}.{alias.name}"
                    found.append(child if child in modules else base)
            targets.update(t for t in found if t in modules and t != name)
        graph[name] = targets
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components with more than one module (Tarjan), sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    on_stack: set[str] = set()
    stack: list[str] = []
    found: list[list[str]] = []
    counter = 0

    def visit(v: str) -> None:
        nonlocal counter
        index[v] = low[v] = counter
        counter += 1
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph.get(v, ())):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return sorted(found)


def package_graph(graph: dict[str, set[str]]) -> dict[str, set[str]]:
    """The graph between sub-packages (``pipeline.analysis``, ``pipeline.audit`` ...; a module
    directly under ``pipeline`` stands for itself)."""

    def package(module: str) -> str:
        return ".".join(module.split(".")[:2])

    out: dict[str, set[str]] = {}
    for source, targets in graph.items():
        out.setdefault(package(source), set()).update(
            package(t) for t in targets if package(t) != package(source)
        )
    return out


def forbidden_arrows(graph: dict[str, set[str]]) -> list[tuple[str, str]]:
    """Arrows from ``pipeline.analysis`` into audit or report."""
    return sorted(
        (source, target)
        for source, targets in graph.items()
        if source.startswith("pipeline.analysis")
        for target in targets
        if target.startswith(NOT_FROM_ANALYSIS)
    )


def test_the_graph_reads_imports_inside_functions(tmp_path: Path) -> None:
    package = tmp_path / PACKAGE
    (package / "a").mkdir(parents=True)
    (package / "__init__.py").write_text("")
    (package / "a" / "__init__.py").write_text("")
    (package / "a" / "x.py").write_text("def f():\n    from pipeline.a import y\n")
    (package / "a" / "y.py").write_text(
        "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from pipeline.a import z\n"
        "from . import x\n"
    )
    (package / "a" / "z.py").write_text("import pipeline.a.y\n")
    graph = import_graph(tmp_path)
    assert graph["pipeline.a.x"] == {"pipeline.a.y"}
    assert graph["pipeline.a.y"] == {"pipeline.a.x"}  # the TYPE_CHECKING import is left out
    assert graph["pipeline.a.z"] == {"pipeline.a.y"}
    assert cycles(graph) == [["pipeline.a.x", "pipeline.a.y"]]


def test_pipeline_has_no_import_cycle() -> None:
    assert cycles(import_graph()) == []


def test_sub_packages_have_no_import_cycle() -> None:
    assert cycles(package_graph(import_graph())) == []


@pytest.mark.parametrize("target", NOT_FROM_ANALYSIS)
def test_analysis_never_imports_audit_or_report(target: str) -> None:
    arrows = [(s, t) for s, t in forbidden_arrows(import_graph()) if t.startswith(target)]
    assert arrows == []
