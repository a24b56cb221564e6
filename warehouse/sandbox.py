"""A sandbox for untrusted SQL: what ``callbook sql`` runs a user's query in.

A query typed by a user must not be able to change anything on disk, read files other than the
warehouse, or run the machine out of time or memory. Three layers, each sufficient for its part:

1. **The statement is checked before it runs**, with DuckDB's own parser
   (``duckdb.extract_statements`` and ``json_serialize_sql``): exactly one statement, of type
   SELECT (DESCRIBE, SHOW, SUMMARIZE and FROM-first queries are SELECTs; ATTACH, DETACH, USE,
   COPY, EXPORT, IMPORT, INSTALL, LOAD, SET, PRAGMA, CALL, CHECKPOINT and every write are not),
   and no table function that reads files (``read_csv``, ``read_text``, ``glob``, ...) nor a
   file path in place of a table. A refusal names what was refused, in one line.
2. **The engine refuses the rest.** The query runs in a private in-memory DuckDB database that
   attaches the warehouse file READ_ONLY, then sets ``enable_external_access = false`` (no
   network or extension access, no file outside ``allowed_paths``) and
   ``disabled_filesystems = 'LocalFileSystem'`` (no new file opened at all: DuckDB always
   allows an attached file's own paths, so without this a COPY onto ``warehouse.duckdb.wal``
   or a DETACH followed by a read-write ATTACH would get through the engine), disables
   extension autoloading and spilling to disk (``temp_directory = ''``: a big sort fails
   instead of writing temp files), and finally sets ``lock_configuration = true`` so no
   statement can undo any of it. COPY, EXPORT, ATTACH, read_* and INSTALL fail inside DuckDB
   even if the check above missed them.
3. **Limits.** ``memory_limit`` and ``threads`` bound DuckDB; a timer thread interrupts the
   query after ``timeout`` seconds (``DuckDBPyConnection.interrupt``); at most ``max_rows`` rows
   are fetched into Python.

The private database (rather than opening the warehouse file with a special configuration) also
means a process that already holds the warehouse open read-only can run sandboxed queries:
DuckDB refuses to open one file twice in a process with different configurations.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any

import duckdb
import polars as pl

from warehouse.store import DEFAULT_LOCK_TIMEOUT, Warehouse, WarehouseError, with_lock_wait

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
    "MULTI": "PIVOT (as a statement)",
    "TRANSACTION": "BEGIN/COMMIT/ROLLBACK",
}

#: Table functions that read files or other databases (a prefix or suffix rule covers the rest).
FILE_TABLE_FUNCTIONS: frozenset[str] = frozenset(
    {
        "glob",
        "sniff_csv",
        "parquet_metadata",
        "parquet_schema",
        "parquet_file_metadata",
        "parquet_kv_metadata",
        "parquet_bloom_probe",
        "st_read",
        "st_read_meta",
        "sqlite_attach",
    }
)
FILE_FUNCTION_PREFIXES: tuple[str, ...] = ("read_",)
FILE_FUNCTION_SUFFIXES: tuple[str, ...] = ("_scan",)


@dataclass(frozen=True)
class SandboxLimits:
    """How much a sandboxed query may use."""

    timeout: float = 60.0  # seconds of wall time (execution and fetch) before it is interrupted
    memory_limit_mb: int = 1024  # DuckDB's buffer memory, MiB
    threads: int = 2  # DuckDB worker threads
    max_rows: int = 1_000_000  # rows fetched into Python; more is refused (aggregate or limit)

    def __post_init__(self) -> None:
        if not (self.timeout > 0 and self.memory_limit_mb > 0 and self.threads > 0):
            raise ValueError(f"sandbox limits must be positive: {self}")
        if self.max_rows < 1:
            raise ValueError(f"max_rows must be at least 1, got {self.max_rows}")


class SqlRefused(WarehouseError):
    """A query the sandbox will not run, or stopped; the message is one line naming why."""


def check_statement(sql: str) -> str:
    """The one SELECT statement in ``sql`` (text as DuckDB split it), or SqlRefused.

    >>> check_statement("select 1; ")
    'select 1; '
    >>> check_statement("copy (select 1) to 'x.csv'")
    Traceback (most recent call last):
    ...
    warehouse.sandbox.SqlRefused: refused: COPY statement (callbook sql runs one read-only SELECT)
    """
    try:
        statements = duckdb.extract_statements(sql)
    except duckdb.Error as exc:
        raise SqlRefused(f"refused: the query does not parse: {_first_line(exc)}") from exc
    if not statements:
        raise SqlRefused("refused: empty query (nothing but whitespace, comments or ';')")
    if len(statements) > 1:
        kinds = ", ".join(_statement_name(s) for s in statements)
        raise SqlRefused(
            f"refused: {len(statements)} statements ({kinds}); callbook sql runs exactly one"
        )
    statement = statements[0]
    if statement.type.name not in ALLOWED_STATEMENTS:
        raise SqlRefused(
            f"refused: {_statement_name(statement)} statement "
            "(callbook sql runs one read-only SELECT)"
        )
    for reason in _file_access(statement.query):
        raise SqlRefused(f"refused: {reason} (callbook sql reads the warehouse tables only)")
    return str(statement.query)


def _statement_name(statement: Any) -> str:
    name = statement.type.name
    return STATEMENT_NAMES.get(name, name.replace("_", " "))


def _file_access(sql: str) -> Iterator[str]:
    """What in a SELECT would read a file: file-reading table functions and path-like tables.

    Uses DuckDB's parse tree (``json_serialize_sql``); where DuckDB cannot serialise a statement
    nothing is reported here and the engine's ``enable_external_access = false`` still holds.
    """
    con = duckdb.connect(":memory:", config={"enable_external_access": False})
    try:
        row = con.execute("select json_serialize_sql($sql)", {"sql": sql}).fetchone()
    except duckdb.Error:
        return
    finally:
        con.close()
    tree = json.loads(row[0]) if row and row[0] else {}
    if tree.get("error"):
        return
    for node in _nodes(tree):
        kind = node.get("type")
        if kind == "TABLE_FUNCTION":
            name = str((node.get("function") or {}).get("function_name", "")).lower()
            if (
                name in FILE_TABLE_FUNCTIONS
                or name.startswith(FILE_FUNCTION_PREFIXES)
                or name.endswith(FILE_FUNCTION_SUFFIXES)
            ):
                yield f"table function {name}() reads files"
        elif kind == "BASE_TABLE":
            name = str(node.get("table_name", ""))
            if any(mark in name for mark in ("/", "\\", "://")) or "." in name:
                yield f"a file path as a table ({_excerpt(name)})"


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
    """

    def __init__(self, path: Path, con: duckdb.DuckDBPyConnection, limits: SandboxLimits) -> None:
        self.path = path
        self.con = con
        self.limits = limits

    def close(self) -> None:
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
        """Check ``sql`` (:func:`check_statement`), run it within the limits, return its rows."""
        statement = check_statement(sql)
        limits = self.limits
        timer = threading.Timer(limits.timeout, self.con.interrupt)
        timer.daemon = True
        timer.start()
        try:
            relation = self.con.sql(statement, params=dict(params) if params else None)
            if relation is None:  # not a query after all: check_statement should have said so
                raise SqlRefused("refused: the statement returns no rows")
            table = relation.limit(limits.max_rows + 1).to_arrow_table()
            if table.num_rows > limits.max_rows:
                raise SqlRefused(
                    f"refused: the result has more than {limits.max_rows:,} rows "
                    "(row limit; aggregate, or add a LIMIT)"
                )
        except duckdb.InterruptException as exc:
            raise SqlRefused(
                f"refused: the query ran longer than {limits.timeout:g} s and was stopped "
                "(time limit; --timeout)"
            ) from exc
        except duckdb.OutOfMemoryException as exc:
            raise SqlRefused(
                f"refused: the query needs more than {limits.memory_limit_mb:,} MiB "
                "(memory limit; --memory-mb)"
            ) from exc
        except duckdb.PermissionException as exc:
            raise SqlRefused(
                f"refused: file, network or extension access ({_first_line(exc)})"
            ) from exc
        except duckdb.Error as exc:
            # An ordinary SQL error (unknown column, bad cast ...): the user's to fix.
            raise SqlRefused(f"query failed: {_first_line(exc)}") from exc
        finally:
            timer.cancel()
        frame = pl.from_arrow(table)
        assert isinstance(frame, pl.DataFrame)
        return frame


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
            "set enable_external_access = false",
            # DuckDB keeps an attached file's own paths (the file, its .wal ...) in allowed_paths
            # even with external access off: a COPY onto the .wal, or DETACH + ATTACH
            # read-write, would reach them. With the local file system disabled nothing new is
            # opened at all; the attached file is read through the handle it already has.
            "set disabled_filesystems = 'LocalFileSystem'",
            "set lock_configuration = true",
        ):
            con.execute(setting).fetchall()
        Warehouse(path, con, read_only=True).check_schema_current()
    except BaseException:
        con.close()
        raise
    return SqlSandbox(path, con, limits)


def _first_line(exc: BaseException) -> str:
    lines = str(exc).strip().splitlines()
    return lines[0] if lines else type(exc).__name__


def _excerpt(text: str, limit: int = 60) -> str:
    """``text`` on one line, printable characters only, at most ``limit`` characters."""
    clean = "".join(ch if ch.isprintable() else "?" for ch in text)
    return clean if len(clean) <= limit else clean[: limit - 1] + "…"
