"""Where callbook keeps its data and what it runs on, from flags, environment, or defaults.

Precedence: explicit argument > environment variable > default.

- ``CALLBOOK_DATA_DIR`` (default ``./data``): holds ``warehouse.duckdb``, ``lake/`` and ``reports/``.
- ``CALLBOOK_ROOTS`` (default: the registry's ``default``, ``RTY,ES,NQ,YM`` built in).
- ``CALLBOOK_ROOTS_FILE``: the user's roots file(s) added to the registry (pipeline/market/roots.py),
  several separated by ``os.pathsep``; read here only: ``Settings.registry`` is the value every
  pure function is given.
- ``CALLBOOK_SOURCE`` (default ``demo``): ``demo`` | ``yahoo`` | ``file``.
- ``CALLBOOK_METHODOLOGIES`` (default: pipeline.analysis.methodology.DEFAULT_METHODOLOGIES): the
  methodology versions every run computes for the same sessions; the first is published.
- ``CALLBOOK_TASK_RUNNER`` (default ``thread``): where the per-root work of ``nightly`` and
  ``backfill`` runs: ``thread`` | ``process`` | ``dask`` (flows/fanout.py);
  ``CALLBOOK_WORKERS`` (default: the number of cores) threads, processes or local Dask workers;
  ``CALLBOOK_DASK_ADDRESS``: a running Dask scheduler (``tcp://host:8786``) instead of a local
  cluster (its workers need callbook installed, the data directory at the same path, and
  ``PREFECT_API_URL``); tasks take up to two per worker thread of that cluster.
- ``CALLBOOK_WRITE_LOCK_TIMEOUT`` (default 21600 s, 6 h): how long a writer waits for another one.
- ``CALLBOOK_PUBLISH_INTERVAL`` (default 120 s): during a long backfill, how often the replica
  readers read is republished (it is always published at the end of a run).
- ``CALLBOOK_INBOX`` (default ``<data dir>/inbox``): the drop folder of ``nightly --source file``.
- ``CALLBOOK_WRITER_MEMORY_MB`` (default 1024): the writer's DuckDB memory limit in MiB (DuckDB's own
  default is 80 % of RAM: its buffers of a large warehouse then grow past 2 GB; above the limit it
  evicts clean pages and spills to a temporary file beside the warehouse).
- The ceilings of ``callbook sql`` (warehouse/sandbox.py, warehouse/sandbox_process.py); its
  ``--timeout`` and ``--memory-mb`` may lower the first two for one query, never raise them:
  ``CALLBOOK_SQL_TIMEOUT`` (default 60 s) of wall time for the query;
  ``CALLBOOK_SQL_MEMORY_MB`` (default 1024) MiB of memory the query process may add to its
  size at start (~150 MiB), read every 10 ms; also DuckDB's memory_limit, and with 128 MiB
  more the bound on the growth of its address space;
  ``CALLBOOK_SQL_THREADS`` (default 2) DuckDB and polars threads (its CPU time is bounded by
  timeout x threads); ``CALLBOOK_SQL_MAX_ROWS`` (default 1,000,000) rows of a result;
  ``CALLBOOK_SQL_MAX_RESULT_MB`` (default 64) MiB of a result, fetched and printed.
"""

from __future__ import annotations

import os
import subprocess
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import TypeVar

from pipeline.analysis.methodology import parse_methodologies
from pipeline.market.roots import (
    BUILTIN_FILE,
    ROOTS_FILE_ENV,
    Registry,
    cached_registry,
    describe_known,
)
from pipeline.sources import SOURCE_NAMES

SOURCES = SOURCE_NAMES
TASK_RUNNERS = ("thread", "process", "dask")
DEFAULT_WRITE_LOCK_TIMEOUT = 6 * 3600.0  # seconds
DEFAULT_PUBLISH_INTERVAL = 120.0  # seconds
DEFAULT_WRITER_MEMORY_MB = 1024  # MiB of DuckDB buffers in the writer (bench/RESULTS.md, "Scale")
DEFAULT_SQL_TIMEOUT = 60.0  # seconds of wall time for one `callbook sql` query
DEFAULT_SQL_MEMORY_MB = 1024  # MiB a `callbook sql` query process may grow by
DEFAULT_SQL_THREADS = 2  # DuckDB and polars threads of a `callbook sql` query
DEFAULT_SQL_MAX_ROWS = 1_000_000  # rows of a `callbook sql` result
DEFAULT_SQL_MAX_RESULT_MB = 64  # MiB of a `callbook sql` result, fetched and printed


def roots_files() -> tuple[Path, ...]:
    """The built-in roots file, then the user's from ``CALLBOOK_ROOTS_FILE``."""
    extra = os.environ.get(ROOTS_FILE_ENV, "")
    return (BUILTIN_FILE, *(Path(p).expanduser() for p in extra.split(os.pathsep) if p.strip()))


def load_registry_from_env() -> Registry:
    """The roots registry of this configuration (built-in roots plus ``CALLBOOK_ROOTS_FILE``)."""
    return cached_registry(roots_files())


@dataclass(frozen=True)
class Settings:
    data_dir: Path
    roots: tuple[str, ...]
    source: str
    registry: Registry = field(default_factory=load_registry_from_env)
    methodologies: tuple[str, ...] = parse_methodologies(None)
    task_runner: str = "thread"
    workers: int = field(default_factory=lambda: os.cpu_count() or 1)
    dask_address: str | None = None
    write_lock_timeout: float | None = DEFAULT_WRITE_LOCK_TIMEOUT
    publish_interval: float = DEFAULT_PUBLISH_INTERVAL
    inbox: Path | None = None  # None: <data dir>/inbox
    writer_memory_mb: int = DEFAULT_WRITER_MEMORY_MB
    sql_timeout: float = DEFAULT_SQL_TIMEOUT
    sql_memory_mb: int = DEFAULT_SQL_MEMORY_MB
    sql_threads: int = DEFAULT_SQL_THREADS
    sql_max_rows: int = DEFAULT_SQL_MAX_ROWS
    sql_max_result_mb: int = DEFAULT_SQL_MAX_RESULT_MB

    @property
    def published_methodology(self) -> str:
        """The methodology shown by default (``callbook show``, notes, ``published_calls``)."""
        return self.methodologies[0]

    @property
    def warehouse_path(self) -> Path:
        return self.data_dir / "warehouse.duckdb"

    @property
    def reports_dir(self) -> Path:
        return self.data_dir / "reports"

    @property
    def inbox_dir(self) -> Path:
        """The drop folder of ``nightly --source file``: ``<inbox>/<ROOT>/*.csv|*.parquet``."""
        return self.inbox if self.inbox is not None else self.data_dir / "inbox"


def parse_roots(
    value: str | list[str] | tuple[str, ...] | None, registry: Registry | None = None
) -> tuple[str, ...]:
    """``"rty, es"`` -> ``("RTY", "ES")``; unknown roots are refused with the list of known ones.

    Known roots come from ``registry`` (default: this configuration's, pipeline/market/roots.toml
    plus CALLBOOK_ROOTS_FILE).

    >>> parse_roots("rty,ES")
    ('RTY', 'ES')
    """
    known = registry if registry is not None else load_registry_from_env()
    if value is None:
        return known.default
    items = value.split(",") if isinstance(value, str) else list(value)
    roots = tuple(dict.fromkeys(r.strip().upper() for r in items if r.strip()))
    unknown = [r for r in roots if r not in known]
    if unknown:
        raise ValueError(
            f"unknown root(s) {', '.join(unknown)}; callbook knows {describe_known(known.specs)} "
            f"(add roots in a file named by {ROOTS_FILE_ENV})"
        )
    if not roots:
        raise ValueError("no roots given")
    return roots


def load_settings(
    *,
    data_dir: str | Path | None = None,
    roots: str | list[str] | tuple[str, ...] | None = None,
    source: str | None = None,
    methodologies: str | list[str] | tuple[str, ...] | None = None,
) -> Settings:
    source = (source or os.environ.get("CALLBOOK_SOURCE") or "demo").lower()
    if source not in SOURCES:
        raise ValueError(f"unknown source {source!r}; choose one of {', '.join(SOURCES)}")
    runner = (os.environ.get("CALLBOOK_TASK_RUNNER") or "thread").lower()
    if runner not in TASK_RUNNERS:
        raise ValueError(
            f"CALLBOOK_TASK_RUNNER={runner!r}: choose one of {', '.join(TASK_RUNNERS)}"
        )
    inbox = os.environ.get("CALLBOOK_INBOX")
    known = load_registry_from_env()
    return Settings(
        data_dir=Path(data_dir or os.environ.get("CALLBOOK_DATA_DIR") or "data").expanduser(),
        roots=parse_roots(roots if roots is not None else os.environ.get("CALLBOOK_ROOTS"), known),
        source=source,
        registry=known,
        methodologies=parse_methodologies(
            methodologies if methodologies is not None else os.environ.get("CALLBOOK_METHODOLOGIES")
        ),
        task_runner=runner,
        workers=_number("CALLBOOK_WORKERS", os.cpu_count() or 1, int, minimum=1),
        dask_address=os.environ.get("CALLBOOK_DASK_ADDRESS") or None,
        write_lock_timeout=_number(
            "CALLBOOK_WRITE_LOCK_TIMEOUT", DEFAULT_WRITE_LOCK_TIMEOUT, float, minimum=0
        ),
        publish_interval=_number(
            "CALLBOOK_PUBLISH_INTERVAL", DEFAULT_PUBLISH_INTERVAL, float, minimum=0
        ),
        inbox=Path(inbox).expanduser() if inbox else None,
        writer_memory_mb=_number(
            "CALLBOOK_WRITER_MEMORY_MB", DEFAULT_WRITER_MEMORY_MB, int, minimum=64
        ),
        sql_timeout=_number("CALLBOOK_SQL_TIMEOUT", DEFAULT_SQL_TIMEOUT, float, minimum=0.1),
        sql_memory_mb=_number("CALLBOOK_SQL_MEMORY_MB", DEFAULT_SQL_MEMORY_MB, int, minimum=16),
        sql_threads=_number("CALLBOOK_SQL_THREADS", DEFAULT_SQL_THREADS, int, minimum=1),
        sql_max_rows=_number("CALLBOOK_SQL_MAX_ROWS", DEFAULT_SQL_MAX_ROWS, int, minimum=1),
        sql_max_result_mb=_number(
            "CALLBOOK_SQL_MAX_RESULT_MB", DEFAULT_SQL_MAX_RESULT_MB, int, minimum=1
        ),
    )


_N = TypeVar("_N", int, float)


def _number(name: str, default: _N, kind: type[_N], *, minimum: _N) -> _N:
    raw = os.environ.get(name)
    if not raw:
        return default
    try:
        value = kind(raw)
    except ValueError:
        raise ValueError(f"{name}={raw!r}: not a number") from None
    if value < minimum:
        raise ValueError(f"{name}={raw!r}: must be at least {minimum}")
    return value


@lru_cache(maxsize=1)
def code_version() -> str:
    """callbook's version plus the git commit it runs from, when there is one ("0.1.0+ee3b48a")."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        base = version("callbook")
    except PackageNotFoundError:
        base = "0+unknown"
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],
            cwd=Path(__file__).resolve().parent,
            capture_output=True,
            text=True,
            timeout=5,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return base
    return f"{base}+{commit}" if commit else base
