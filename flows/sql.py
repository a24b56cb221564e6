"""``callbook sql``: one read-only query, run in a bounded child process, printed in a format.

The parent (the ``callbook`` process) imports nothing heavy before it forks: the child loads
DuckDB, polars and rich, opens the sandbox (warehouse/sandbox.py) on the published replica,
arms the operating-system limits (warehouse/sandbox_process.py), runs the query and renders
the whole answer (pipeline/report/table.py); the parent prints it. The limits come from the
settings (flows/settings.py, ``CALLBOOK_SQL_*``); the command's ``--timeout`` and
``--memory-mb`` may only lower them.
"""

from __future__ import annotations

import functools
import shutil
import sys
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from warehouse.sandbox_process import SandboxLimits, SqlRefused, run_bounded

if TYPE_CHECKING:
    from flows.settings import Settings

#: Bytes of SQL text a query may have (a file given as ``@FILE`` included).
MAX_QUERY_BYTES = 1024 * 1024


def sql_limits(settings: Settings) -> SandboxLimits:
    """The ceilings of a ``callbook sql`` query, from the settings."""
    return SandboxLimits(
        timeout=settings.sql_timeout,
        memory_limit_mb=settings.sql_memory_mb,
        threads=settings.sql_threads,
        max_rows=settings.sql_max_rows,
        max_result_mb=settings.sql_max_result_mb,
    )


def read_query(text: str) -> str:
    """The SQL text of ``callbook sql TEXT``: TEXT itself, or the file named by ``@FILE``; at
    most MAX_QUERY_BYTES either way."""
    if text.startswith("@"):
        path = Path(text[1:])
        try:
            with path.open("rb") as fh:
                raw = fh.read(MAX_QUERY_BYTES + 1)
        except OSError as exc:
            raise SqlRefused(f"refused: cannot read the query file {path}: {exc.strerror}") from exc
        if len(raw) > MAX_QUERY_BYTES:
            raise SqlRefused(f"refused: the query file {path} is larger than 1 MiB")
        try:
            return raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise SqlRefused(f"refused: the query file {path} is not UTF-8 text") from exc
    if len(text.encode("utf-8", errors="replace")) > MAX_QUERY_BYTES:
        raise SqlRefused("refused: the query text is larger than 1 MiB")
    return text


def run_sql(
    settings: Settings,
    query: str,
    params: Mapping[str, Any] | None = None,
    *,
    fmt: str = "auto",
    limit: int | None = 200,
    timeout: float | None = None,
    memory_mb: int | None = None,
) -> str:
    """The printed answer to ``query`` (see pipeline.report.table.render_output), or a
    one-line error (SqlRefused, WarehouseError ...). ``timeout`` and ``memory_mb`` lower the
    settings' ceilings for this query; above them the query is refused."""
    limits = sql_limits(settings).lowered(timeout=timeout, memory_limit_mb=memory_mb)
    terminal, width = where_printed()
    job = functools.partial(
        _answer,
        str(settings.warehouse_path),
        query,
        dict(params) if params else None,
        limits,
        fmt,
        limit,
        width,
        terminal,
    )
    return run_bounded(job, limits).decode("utf-8")


def where_printed() -> tuple[bool, int | None]:
    """Whether standard output is a terminal, and its width (None when it is not): what
    pipeline.report.table.render_output needs to lay a frame out as it will be seen."""
    try:
        terminal = sys.stdout.isatty()
    except (AttributeError, ValueError):
        terminal = False
    return terminal, shutil.get_terminal_size().columns if terminal else None


def _answer(
    warehouse_path: str,
    query: str,
    params: dict[str, Any] | None,
    limits: SandboxLimits,
    fmt: str,
    limit: int | None,
    width: int | None,
    terminal: bool,
    arm: Callable[[], None],
) -> bytes:
    """In the child: open the sandbox, load what printing needs, arm the limits, then run the
    query and render the answer (everything that grows with the user's input runs armed)."""
    import polars as pl

    from pipeline.report.table import render_output
    from warehouse.sandbox import open_sandbox
    from warehouse.store import reader_path, refresh_stale_replica

    # Like every reader, the sandbox reads the published replica: never waits for a writer, and
    # first publishes a replica a writer died (or failed) before refreshing, if none is running.
    refresh_stale_replica(warehouse_path)
    with open_sandbox(reader_path(Path(warehouse_path)), limits) as sandbox:
        # Start polars' thread pool and load the printing code now: their threads and modules
        # are part of the process's size at start, not of the query's budget.
        render_output(pl.DataFrame({"x": [1]}).with_columns(pl.col("x") + 1), fmt=fmt)
        arm()
        frame = sandbox.query(query, params)
    text = render_output(frame, fmt=fmt, limit=limit, width=width, terminal=terminal)
    return text.encode("utf-8")
