"""The house rules a reader relies on, checked on the source itself (issue 17):

- SQL lives in ``warehouse/sql/*.sql``: no SQL string literal in Python outside it and tests;
- no import cycle through flows/ or warehouse/, counting imports inside functions;
- the command line is a shell: ``flows/cli.py`` under 400 lines, no command function over 25.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
#: Python that may not hold SQL: everything but tests (and the SQL files themselves).
CHECKED_FOR_SQL = ("pipeline", "warehouse", "flows", "deployments", "bench")
PACKAGES = ("pipeline", "warehouse", "flows")

#: The start of an SQL statement, as DuckDB would take it (keywords followed by what makes them
#: a statement rather than an English word: "select x from", "insert into t", "set k = v").
_SQL = re.compile(
    r"""(?isx)^\s*(
        select\s+.+?\bfrom\s+[\w"(] | select\s+\S+\s*;?$ | with\s+\w+\s+as\s*\( |
        insert\s+into\s | update\s+\w+\s+set\s | delete\s+from\s |
        create\s+(or\s+replace\s+)?(temp\w*\s+)?(table|view|macro|index|sequence|schema)\s |
        drop\s+(table|view|macro|index|sequence|schema)\s | alter\s+table\s |
        set\s+\w+\s*=\s* | reset\s+\w+$ | pragma\s+\w+ |
        attach\s+(database\s+)?[$'\w] | detach\s+\w+ | checkpoint\s*;?$ |
        copy\s+(from\s+database\s+\w+\s+to\s|\w+\s+(from|to)\s) |
        begin(\s+transaction)?\s*;?$ | commit\s*;?$ | rollback\s*;?$ |
        install\s+\w+\s*;?$ | load\s+\w+\s*;?$ | export\s+database\s | import\s+database\s
    )"""
)


def _sql_literals(path: Path) -> Iterator[tuple[int, str]]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    docstrings = {
        id(node.body[0].value)
        for node in ast.walk(tree)
        if isinstance(node, ast.Module | ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef)
        and node.body
        and isinstance(node.body[0], ast.Expr)
        and isinstance(node.body[0].value, ast.Constant)
    }
    in_fstrings = {
        id(part)
        for node in ast.walk(tree)
        if isinstance(node, ast.JoinedStr)
        for part in node.values
    }
    for node in ast.walk(tree):
        if isinstance(node, ast.JoinedStr):  # an f-string: its text with holes
            text = "".join(v.value if isinstance(v, ast.Constant) else "x" for v in node.values)
        elif isinstance(node, ast.Constant) and isinstance(node.value, str):
            if id(node) in docstrings or id(node) in in_fstrings:
                continue
            text = node.value
        else:
            continue
        if _SQL.match(text):
            yield node.lineno, text


def test_the_sql_detector_knows_sql_from_prose() -> None:
    sql = [
        "select * from latest_snapshots where root = $root",
        "select 1",
        "insert into snapshots by name select * from incoming_rows",
        "set memory_limit = '1024MiB'",
        "attach $path as catalog (read_only)",
        "checkpoint",
        "begin transaction",
        "create or replace view x as select 1",
        "copy from database warehouse to replica",
        "with a as (select 1) select * from a",
    ]
    prose = [
        "select the calls of one root",
        "SELECT",
        "COPY FROM DATABASE",
        "create or replace the automations of deployments/automations.yaml",
        "set PREFECT_API_URL to reuse one",
        "update the site",
        "commit often",
    ]
    assert [bool(_SQL.match(s)) for s in sql] == [True] * len(sql)
    assert [bool(_SQL.match(s)) for s in prose] == [False] * len(prose)


def test_no_sql_string_literal_outside_warehouse_sql() -> None:
    found = [
        f"{path.relative_to(ROOT)}:{line}: {text.strip()[:60]!r}"
        for folder in CHECKED_FOR_SQL
        for path in sorted((ROOT / folder).rglob("*.py"))
        for line, text in _sql_literals(path)
    ]
    assert found == [], "SQL belongs in warehouse/sql/*.sql:\n" + "\n".join(found)


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(path: Path, module: str, known: set[str]) -> set[str]:
    """The first-party modules ``module`` imports anywhere in its code (inside functions too)."""
    out: set[str] = set()
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        names: list[str] = []
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                base = ".".join(package.split(".")[: len(package.split(".")) - node.level + 1])
                base = f"{base}.{node.module}" if node.module else base
            names = [f"{base}.{alias.name}" for alias in node.names] + [base]
        for name in names:
            while name and name not in known:  # `from pkg import mod` or `from mod import name`
                name = name.rpartition(".")[0]
            if name and name != module:
                out.add(name)
    return out


def import_graph() -> dict[str, set[str]]:
    files = {_module_name(p): p for pkg in PACKAGES for p in (ROOT / pkg).rglob("*.py")}
    known = set(files)
    # A package's __init__ is imported with any of its modules; it imports nothing here.
    return {
        m: {d for d in _imports(p, m, known) if "." in d or d in known} for m, p in files.items()
    }


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in graph.get(node, ()):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                top = stack.pop()
                on_stack.discard(top)
                component.append(top)
                if top == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def test_the_cycle_finder_finds_a_planted_cycle() -> None:
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert cycles(graph) == [["a", "b", "c"]]
    assert cycles({"a": {"b"}, "b": set()}) == []


def test_the_import_graph_sees_imports_inside_functions() -> None:
    graph = import_graph()
    assert "flows.reads" in graph["flows.cli"]  # imported inside cmd_status
    assert "warehouse.store" in graph["flows.reads"]


@pytest.mark.parametrize("package", ["flows", "warehouse"])
def test_no_import_cycle_through(package: str) -> None:
    touching = [c for c in cycles(import_graph()) if any(m.startswith(f"{package}.") for m in c)]
    assert touching == []


CLI = ROOT / "flows" / "cli.py"


def test_the_command_line_is_a_shell() -> None:
    source = CLI.read_text(encoding="utf-8")
    assert len(source.splitlines()) < 400
    functions = {
        node.name: node.end_lineno - node.lineno + 1
        for node in ast.parse(source).body
        if isinstance(node, ast.FunctionDef) and node.end_lineno is not None
    }
    long = {name: n for name, n in functions.items() if n > 25}
    assert long == {}
    assert {name for name in functions if name.startswith("cmd_")} >= {
        "cmd_status",
        "cmd_show",
        "cmd_sql",
        "cmd_audit",
        "cmd_backfill",
    }
