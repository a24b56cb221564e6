"""A sandbox for untrusted SQL: what ``callbook sql`` runs a user's query in.

A query typed by a user must not be able to change anything on disk, read files other than the
warehouse, show where files live, or run the machine out of time or memory. Four layers, each
sufficient for its part:

1. **The statement is checked before it runs**, with DuckDB's own parser
   (``duckdb.extract_statements`` and ``json_serialize_sql``): exactly one statement, of type
   SELECT (DESCRIBE, SHOW, SUMMARIZE and FROM-first queries are SELECTs; ATTACH, DETACH, USE,
   COPY, EXPORT, IMPORT, INSTALL, LOAD, SET, PRAGMA, CALL, CHECKPOINT and every write are not).
   Table functions are **allowed by list** (ALLOWED_TABLE_FUNCTIONS: generators and catalog
   functions whose output shows no file path, plus the warehouse's own table macros); every
   other one (``read_csv``, ``glob``, ``query``, ``duckdb_settings``, ``duckdb_databases`` ...)
   is refused, as is a file path in place of a table, a parse tree DuckDB cannot serialise,
   and ``current_setting`` of a setting whose value shows a path. A refusal names what was
   refused, in one line.
2. **The engine refuses the rest.** The query runs in a private in-memory DuckDB database that
   attaches the warehouse file READ_ONLY, then sets ``enable_external_access = false`` (no
   network or extension access, no file outside ``allowed_paths``) and
   ``disabled_filesystems = 'LocalFileSystem'`` (no new file opened at all: DuckDB always
   allows an attached file's own paths, so without this a COPY onto ``warehouse.duckdb.wal``
   or a DETACH followed by a read-write ATTACH would get through the engine), disables
   extension autoloading, spilling to disk (``temp_directory = ''``: a big sort fails instead
   of writing temp files), Python replacement scans (a table name never reads a Python
   variable) and the secret directory, and finally sets ``lock_configuration = true`` so no
   statement can undo any of it. COPY, EXPORT, ATTACH, read_* and INSTALL fail inside DuckDB
   even if the check above missed them.
3. **Limits inside DuckDB.** ``memory_limit`` and ``threads`` bound DuckDB; a timer thread
   interrupts the query after ``timeout`` seconds (``DuckDBPyConnection.interrupt``); at most
   ``max_rows`` rows and ``max_result_mb`` MiB are fetched.
4. **Limits outside it** (warehouse/sandbox_process.py): ``callbook sql`` runs all of this in a
   child process whose address space, CPU time and wall time the operating system bounds, and
   whose answer the parent reads only up to ``max_result_mb``.

Every result is returned in types that print in every layout (pipeline/report/table.py): a
column whose DuckDB type polars cannot hold exactly (INTERVAL, UNION, BIT, BIGNUM, TIME WITH
TIME ZONE, HUGEINT and UHUGEINT, which DuckDB hands over as a 38-digit decimal that drops a
39th digit, ...) or a nested column holding a BLOB arrives as DuckDB's own text of each value;
so does a date or timestamp column holding a value Python cannot (DuckDB's ``infinity``, a
year past 9999), found after the fetch and fetched again as text.

The private database (rather than opening the warehouse file with a special configuration) also
means a process that already holds the warehouse open read-only can run sandboxed queries:
DuckDB refuses to open one file twice in a process with different configurations.
"""

from __future__ import annotations

import json
import os
import re
import threading
import time
from collections.abc import Iterator, Mapping
from pathlib import Path
from types import TracebackType
from typing import Any

import duckdb
import polars as pl

from warehouse.sandbox_process import (
    MIB,
    SandboxLimits,
    SqlRefused,
    memory_refusal,
    size_refusal,
    time_refusal,
)
from warehouse.store import DEFAULT_LOCK_TIMEOUT, Warehouse, WarehouseError, with_lock_wait

__all__ = [
    "ALLOWED_TABLE_FUNCTIONS",
    "CATALOG",
    "SandboxLimits",
    "SqlRefused",
    "SqlSandbox",
    "check_statement",
    "open_sandbox",
]

#: The catalog name the warehouse file is attached under (queries name tables without it).
CATALOG = "warehouse"

#: Statement types a sandboxed query may have (DuckDB's ``StatementType`` names).
ALLOWED_STATEMENTS: frozenset[str] = frozenset({"SELECT"})

#: What each refused statement type is called in the refusal (DuckDB reports USE as SET and
#: INSTALL as LOAD, so the message names both).
STATEMENT_NAMES: dict[str, str] = {
    "SET": "SET/USE",
    "VARIABLE_SET": "SET VARIABLE",
    "LOAD": "INSTALL/LOAD",
    "CALL": "CALL/CHECKPOINT",
    "COPY_DATABASE": "COPY FROM DATABASE",
    "MULTI": "PIVOT",
    "TRANSACTION": "BEGIN/COMMIT/ROLLBACK",
}

#: The table functions a query may call (besides the warehouse's own table macros): they read
#: no file, change nothing, and show no file path. Everything else is refused; among those
#: left out: every reader (read_*, *_scan, glob, sniff_csv, parquet_*), query()/query_table()
#: (SQL in a string, out of the check's reach), duckdb_settings() (allowed_paths holds the
#: warehouse's absolute path), duckdb_databases() and duckdb_extensions() (file paths),
#: duckdb_secrets(), which_secret(), duckdb_logs(), duckdb_temporary_files() and the functions
#: that change state (checkpoint, enable_logging ...).
ALLOWED_TABLE_FUNCTIONS: frozenset[str] = frozenset(
    {
        # generators
        "range", "generate_series", "unnest", "repeat", "repeat_row", "json_each", "json_tree",
        "test_all_types",
        # the catalog: names, types and definitions
        "duckdb_tables", "duckdb_views", "duckdb_columns", "duckdb_constraints", "duckdb_indexes",
        "duckdb_schemas", "duckdb_types", "duckdb_functions", "duckdb_keywords",
        "duckdb_sequences", "duckdb_dependencies", "duckdb_optimizers", "duckdb_memory",
        "pragma_table_info", "pragma_storage_info", "pragma_show", "pragma_database_size",
        "pragma_metadata_info", "pragma_version", "pragma_platform", "pragma_collations",
        "pg_timezone_names", "icu_calendar_names", "summary",
    }
)  # fmt: skip

#: ``SHOW <name>`` forms allowed (they list names only): SHOW TABLES, SHOW ALL TABLES,
#: SHOW DATABASES (names, not paths).
ALLOWED_SHOW_SPECIALS: frozenset[str] = frozenset(
    {'"tables"', "__show_tables_expanded", '"databases"'}
)

#: DuckDB type ids polars holds exactly (BLOB only as a column of its own); nested types
#: (LIST, ARRAY, STRUCT, MAP) when everything in them is one of these. A column of any other
#: type is fetched as DuckDB's text of each value.
EXACT_TYPES: frozenset[str] = frozenset(
    {
        "boolean", "tinyint", "smallint", "integer", "bigint", "utinyint", "usmallint",
        "uinteger", "ubigint", "float", "double", "decimal", "varchar", "uuid", "enum", "null",
        "date", "time", "time_ns", "timestamp", "timestamp_s", "timestamp_ms", "timestamp_ns",
        "timestamp with time zone", "blob",
    }
)  # fmt: skip
NESTED_TYPES: frozenset[str] = frozenset({"list", "array", "struct", "map"})


def check_statement(
    sql: str,
    *,
    con: duckdb.DuckDBPyConnection | None = None,
    table_functions: frozenset[str] = ALLOWED_TABLE_FUNCTIONS,
    hidden_settings: frozenset[str] = frozenset(),
) -> str:
    """The one SELECT statement in ``sql`` (text as DuckDB split it), or SqlRefused.

    ``con`` serialises the parse tree (a private in-memory connection when None);
    ``table_functions`` are the ones allowed; ``current_setting`` of a name in
    ``hidden_settings`` is refused.

    >>> check_statement("select 1; ")
    'select 1; '
    >>> check_statement("copy (select 1) to 'x.csv'")
    Traceback (most recent call last):
    ...
    warehouse.sandbox_process.SqlRefused: refused: COPY statement (one read-only SELECT runs)
    >>> check_statement("select * from read_text('/etc/passwd')")
    Traceback (most recent call last):
    ...
    warehouse.sandbox_process.SqlRefused: refused: table function read_text() is not allowed
    """
    try:
        statements = duckdb.extract_statements(sql)
    except duckdb.Error as exc:
        raise SqlRefused(f"refused: the query does not parse: {_first_line(exc)}") from exc
    if not statements:
        raise SqlRefused("refused: empty query (nothing but whitespace, comments or ';')")
    if len(statements) > 1:
        names = [_statement_name(s) for s in statements]
        kinds = ", ".join(names[:3] + (["…"] if len(names) > 3 else []))
        raise SqlRefused(f"refused: {len(statements)} statements ({kinds}); one runs at a time")
    statement = statements[0]
    if statement.type.name not in ALLOWED_STATEMENTS:
        raise SqlRefused(
            f"refused: {_statement_name(statement)} statement (one read-only SELECT runs)"
        )
    tree = _parse_tree(str(statement.query), con)
    for reason in _refusals(tree, table_functions, hidden_settings):
        raise SqlRefused(f"refused: {reason}")
    return str(statement.query)


def _statement_name(statement: Any) -> str:
    name = statement.type.name
    return STATEMENT_NAMES.get(name, name.replace("_", " "))


def _parse_tree(sql: str, con: duckdb.DuckDBPyConnection | None) -> dict[str, Any]:
    """DuckDB's parse tree of one SELECT (``json_serialize_sql``), or SqlRefused when DuckDB
    cannot serialise it: a tree that cannot be read cannot be checked against the lists."""
    own = con is None
    connection = (
        duckdb.connect(":memory:", config={"enable_external_access": False}) if own else con
    )
    assert connection is not None
    try:
        rows = connection.execute("select json_serialize_sql($sql)", {"sql": sql}).fetchall()
    except duckdb.Error as exc:
        raise SqlRefused(f"refused: the query cannot be checked ({_first_line(exc)})") from exc
    finally:
        if own:
            connection.close()
    tree = json.loads(rows[0][0]) if rows and rows[0][0] else {}
    if not isinstance(tree, dict) or tree.get("error"):
        detail = tree.get("error_message", "no parse tree") if isinstance(tree, dict) else ""
        raise SqlRefused(f"refused: the query cannot be checked ({_excerpt(str(detail))})")
    return tree


def _refusals(
    tree: dict[str, Any], table_functions: frozenset[str], hidden_settings: frozenset[str]
) -> Iterator[str]:
    """What in a SELECT's parse tree is not allowed: table functions off the list, path-like
    tables, SHOW forms off the list, current_setting of a hidden or computed name."""
    for node in _nodes(tree):
        kind = node.get("type")
        if kind == "TABLE_FUNCTION":
            name = str((node.get("function") or {}).get("function_name", "")).lower()
            if name not in table_functions:
                yield f"table function {_excerpt(name)}() is not allowed"
        elif kind == "BASE_TABLE":
            name = str(node.get("table_name", ""))
            if any(mark in name for mark in ("/", "\\", "://")) or "." in name:
                yield f"a file path as a table ({_excerpt(name)})"
        elif kind == "SHOW_REF" and node.get("show_type") == "SHOW_SPECIAL":
            name = str(node.get("table_name", ""))
            if name not in ALLOWED_SHOW_SPECIALS:
                yield f"SHOW {_excerpt(name.strip(chr(34)))}"
        elif kind == "FUNCTION" and str(node.get("function_name", "")).lower() == (
            "current_setting"
        ):
            arguments = node.get("arguments") or node.get("children") or []
            first = arguments[0] if arguments else {}
            expression = first.get("expression", first) if isinstance(first, dict) else {}
            literal = expression.get("literal") or {}
            setting = (
                str(literal.get("text", "")).lower() if literal.get("kind") == "STRING" else ""
            )
            if not setting:
                yield "current_setting() of a computed name"
            elif setting in hidden_settings:
                yield f"current_setting('{_excerpt(setting)}') shows a path"


def _nodes(value: Any) -> Iterator[dict[str, Any]]:
    """Every JSON object in a parse tree, depth first."""
    if isinstance(value, dict):
        yield value
        for child in value.values():
            yield from _nodes(child)
    elif isinstance(value, list):
        for child in value:
            yield from _nodes(child)


class SqlSandbox:
    """A private DuckDB connection with the warehouse attached read-only, for untrusted SQL.

    Use :func:`open_sandbox` (a context manager); :meth:`query` checks and runs one statement.
    ``table_functions`` are the ones a query may call (the list plus the warehouse's macros);
    ``hidden_settings`` the settings whose value shows a file path.
    """

    def __init__(
        self,
        path: Path,
        con: duckdb.DuckDBPyConnection,
        limits: SandboxLimits,
        *,
        table_functions: frozenset[str] = ALLOWED_TABLE_FUNCTIONS,
        hidden_settings: frozenset[str] = frozenset(),
    ) -> None:
        self.path = path
        self.con = con
        self.limits = limits
        self.table_functions = table_functions
        self.hidden_settings = hidden_settings
        self._watchdog = _Watchdog(con)

    def close(self) -> None:
        self._watchdog.close()
        self.con.close()

    def __enter__(self) -> SqlSandbox:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def query(self, sql: str, params: Mapping[str, Any] | None = None) -> pl.DataFrame:
        """Check ``sql`` (:func:`check_statement`), run it within the limits, return its rows
        in types every layout prints (see the module docstring)."""
        statement = check_statement(
            sql,
            con=self.con,
            table_functions=self.table_functions,
            hidden_settings=self.hidden_settings,
        )
        limits = self.limits
        self._watchdog.start(limits.timeout)
        try:
            frame = self._fetch(statement, params, text_columns=frozenset())
            beyond = _beyond_python_dates(frame)
            if beyond:  # infinity or a year past 9999: those columns as DuckDB's text
                frame = self._fetch(statement, params, text_columns=beyond)
            return frame
        except duckdb.InterruptException as exc:
            raise SqlRefused(time_refusal(limits)) from exc
        except (duckdb.OutOfMemoryException, MemoryError) as exc:
            raise SqlRefused(memory_refusal(limits)) from exc
        except duckdb.PermissionException as exc:
            raise SqlRefused(
                f"refused: file, network or extension access ({_first_line(exc)})"
            ) from exc
        except duckdb.Error as exc:
            # An ordinary SQL error (unknown column, bad cast ...): the user's to fix.
            raise SqlRefused(f"query failed: {_first_line(exc)}") from exc
        except pl.exceptions.PolarsError as exc:
            # DuckDB's error while polars read its Arrow stream, wrapped by polars.
            text = _first_line(exc).removeprefix("got external error: ")
            if "Out of Memory" in text:
                raise SqlRefused(memory_refusal(limits)) from exc
            if "INTERRUPT" in text.upper():
                raise SqlRefused(time_refusal(limits)) from exc
            raise SqlRefused(f"query failed: {text}") from exc
        finally:
            self._watchdog.stop()

    def _fetch(
        self, statement: str, params: Mapping[str, Any] | None, *, text_columns: frozenset[int]
    ) -> pl.DataFrame:
        limits = self.limits
        relation = self.con.sql(statement, params=dict(params) if params else None)
        if relation is None:  # not a query after all: check_statement should have said so
            raise SqlRefused("refused: the statement returns no rows")
        printable = _printable(relation, text_columns=text_columns)
        # Through DuckDB's Arrow stream straight into polars (no pyarrow). The OS limits of the
        # child process bound what this materialises; the checks below bound what is kept.
        frame = pl.DataFrame(printable.limit(limits.max_rows + 1))
        if frame.height > limits.max_rows:
            raise SqlRefused(
                f"refused: over {limits.max_rows:,} rows (row limit; aggregate or add a LIMIT)"
            )
        size = frame.estimated_size()
        if size > limits.max_result_bytes:
            raise SqlRefused(size_refusal(limits, f"{size / MIB:,.1f} MiB fetched"))
        return frame


#: Days from 1970-01-01 to the first and last day Python's ``date`` holds (years 1 to 9999).
_FIRST_DAY, _LAST_DAY = -719_162, 2_932_896
_UNIT_PER_DAY = {"ms": 86_400_000, "us": 86_400_000_000, "ns": 86_400_000_000_000}


def _beyond_python_dates(frame: pl.DataFrame) -> frozenset[int]:
    """Positions (1-based) of the columns holding a date or timestamp Python cannot hold:
    DuckDB's infinity, or a year past 9999 (polars stores them; printing them would fail)."""
    checks = {
        position: check
        for position, (name, dtype) in enumerate(frame.schema.items(), start=1)
        if (check := _beyond(pl.col(name), dtype)) is not None
    }
    if not checks or frame.height == 0:
        return frozenset()
    found = frame.select(check.alias(str(p)) for p, check in checks.items()).row(0)
    return frozenset(p for p, hit in zip(checks, found, strict=True) if hit)


def _beyond(column: pl.Expr, dtype: Any) -> pl.Expr | None:
    """Whether any value in ``column`` (any depth) is a date beyond Python's; None: no dates."""
    if dtype == pl.Date:
        days = column.to_physical()
        return ((days < _FIRST_DAY) | (days > _LAST_DAY)).any()
    if isinstance(dtype, pl.Datetime):
        per_day = _UNIT_PER_DAY[dtype.time_unit or "us"]
        ticks = column.to_physical()
        return ((ticks < _FIRST_DAY * per_day) | (ticks >= (_LAST_DAY + 1) * per_day)).any()
    if isinstance(dtype, pl.List):
        return _beyond(column.list.explode(), dtype.inner)
    if isinstance(dtype, pl.Array):
        return _beyond(column.arr.explode(), dtype.inner)
    if isinstance(dtype, pl.Struct):
        parts = [_beyond(column.struct.field(f.name), f.dtype) for f in dtype.fields]
        found = [p for p in parts if p is not None]
        return pl.any_horizontal(found) if found else None
    if isinstance(dtype, pl.Map) and (_holds_dates(dtype.key) or _holds_dates(dtype.value)):
        return pl.lit(True)  # no cheap look inside a map: dates in a map print as text
    return None


def _holds_dates(dtype: Any) -> bool:
    if isinstance(dtype, pl.Date | pl.Datetime):
        return True
    if isinstance(dtype, pl.List | pl.Array):
        return _holds_dates(dtype.inner)
    if isinstance(dtype, pl.Struct):
        return any(_holds_dates(f.dtype) for f in dtype.fields)
    if isinstance(dtype, pl.Map):
        return _holds_dates(dtype.key) or _holds_dates(dtype.value)
    return False


class _Watchdog:
    """One thread, started with the sandbox, that interrupts its connection when a query runs
    past its deadline. (A thread per query would start after the child process's limits are
    armed, where a new thread's stack may no longer fit in the address space.)"""

    def __init__(self, con: duckdb.DuckDBPyConnection) -> None:
        self._con = con
        self._changed = threading.Condition()
        self._deadline: float | None = None
        self._closed = False
        self._thread = threading.Thread(target=self._watch, name="sql-watchdog", daemon=True)
        self._thread.start()

    def start(self, seconds: float) -> None:
        with self._changed:
            self._deadline = time.monotonic() + seconds
            self._changed.notify()

    def stop(self) -> None:
        with self._changed:
            self._deadline = None
            self._changed.notify()

    def close(self) -> None:
        with self._changed:
            self._closed = True
            self._changed.notify()
        self._thread.join(timeout=5)

    def _watch(self) -> None:
        with self._changed:
            while not self._closed:
                if self._deadline is None:
                    self._changed.wait()
                    continue
                remaining = self._deadline - time.monotonic()
                if remaining > 0:
                    self._changed.wait(remaining)
                    continue
                self._deadline = None
                self._con.interrupt()


def _printable(relation: duckdb.DuckDBPyRelation, *, text_columns: frozenset[int]) -> Any:
    """``relation`` with unique column names and every column in a type polars holds exactly;
    the others, and those at ``text_columns`` (1-based), cast to DuckDB's text."""
    names: list[str] = []
    seen: set[str] = set()
    for name in relation.columns:
        unique, n = name, 0
        while unique.lower() in seen:
            n += 1
            unique = f"{name}_{n}"
        seen.add(unique.lower())
        names.append(unique)
    columns = []
    for position, (name, dtype) in enumerate(zip(names, relation.types, strict=True), start=1):
        value = f"#{position}"
        if position in text_columns or _needs_text(dtype, top=True):
            value = f"CAST({value} AS VARCHAR)"
        columns.append(f"{value} AS {_quoted(name)}")
    return relation.project(", ".join(columns))


def _needs_text(dtype: Any, *, top: bool) -> bool:
    kind = str(dtype.id)
    if kind in NESTED_TYPES:
        children = [child for _, child in dtype.children if hasattr(child, "id")]
        return any(_needs_text(child, top=False) for child in children)
    if kind == "blob":
        return not top
    return kind not in EXACT_TYPES


def _quoted(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def open_sandbox(
    path: str | Path,
    limits: SandboxLimits | None = None,
    *,
    lock_timeout: float = DEFAULT_LOCK_TIMEOUT,
) -> SqlSandbox:
    """A :class:`SqlSandbox` over the warehouse file at ``path`` (which must exist and be current).

    Order matters: the warehouse is attached while file access is still allowed, then external
    access is switched off and the configuration locked, before any user SQL is seen.
    """
    path = Path(path)
    limits = limits or SandboxLimits()
    if not path.exists():
        raise WarehouseError(
            f"no warehouse at {path}: run `callbook nightly` first (or pass --data-dir)"
        )
    con = duckdb.connect(
        ":memory:",
        config={
            "autoload_known_extensions": False,
            "autoinstall_known_extensions": False,
            "memory_limit": f"{limits.memory_limit_mb}MB",
            "threads": limits.threads,
            "temp_directory": "",
        },
    )
    try:
        with_lock_wait(
            path,
            lambda: con.execute(
                f"attach $path as {CATALOG} (read_only)", {"path": str(path)}
            ).fetchall(),
            lock_timeout=lock_timeout,
        )
        for setting in (
            f"use {CATALOG}",
            "set TimeZone = 'UTC'",
            # A table name never reads a Python variable of the calling frame.
            "set python_enable_replacements = false",
            # No secret is stored or read; the setting would show the home directory.
            "set secret_directory = ''",
            "set enable_external_access = false",
            # DuckDB keeps an attached file's own paths (the file, its .wal ...) in allowed_paths
            # even with external access off: a COPY onto the .wal, or DETACH + ATTACH
            # read-write, would reach them. With the local file system disabled nothing new is
            # opened at all; the attached file is read through the handle it already has.
            "set disabled_filesystems = 'LocalFileSystem'",
            "set lock_configuration = true",
        ):
            con.execute(setting).fetchall()
        Warehouse(path, con, read_only=True)._check_schema_current()
        macros = con.execute(
            "select distinct lower(function_name) from duckdb_functions() "
            "where database_name = $catalog and function_type = 'table_macro'",
            {"catalog": CATALOG},
        ).fetchall()
        settings = con.execute("select lower(name), value from duckdb_settings()").fetchall()
    except BaseException:
        con.close()
        raise
    return SqlSandbox(
        path,
        con,
        limits,
        table_functions=ALLOWED_TABLE_FUNCTIONS | {name for (name,) in macros},
        hidden_settings=frozenset(name for name, value in settings if _shows_path(value, path)),
    )


#: A file path in a setting's value: absolute, home-relative, or a Windows drive.
_PATH_IN_VALUE = re.compile(r"(^|[\[\s,'\"])(/|~|[A-Za-z]:\\)")


def _shows_path(value: Any, warehouse: Path) -> bool:
    """Whether a setting's value shows a file path (``allowed_paths`` holds the warehouse's).

    >>> _shows_path("[/data/warehouse.duckdb, /data/warehouse.duckdb.wal]", Path("w.duckdb"))
    True
    >>> _shows_path("Etc/UTC", Path("/data/w.duckdb")), _shows_path("1.0 GiB", Path("w"))
    (False, False)
    """
    text = "" if value is None else str(value)
    parent = str(warehouse.resolve().parent)
    home = os.path.expanduser("~")
    return bool(_PATH_IN_VALUE.search(text)) or parent in text or (home != "~" and home in text)


def _first_line(exc: BaseException) -> str:
    lines = str(exc).strip().splitlines()
    return lines[0] if lines else type(exc).__name__


def _excerpt(text: str, limit: int = 60) -> str:
    """``text`` on one line, printable characters only, at most ``limit`` characters."""
    clean = "".join(ch if ch.isprintable() else "?" for ch in text)
    return clean if len(clean) <= limit else clean[: limit - 1] + "…"
