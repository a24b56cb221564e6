"""The DuckDB warehouse: the only code that opens the database.

One file, ``<data dir>/warehouse.duckdb``. Opening it for writing applies the numbered migrations
in ``sql/migrations`` (recorded in ``schema_migrations``) and refreshes the analyst views in
``sql/views``. Every unit of work runs in one transaction, so a crash leaves either the old state or
the new one.

One writer, many readers. A writer holds the writer lock (warehouse/lock.py) from open to close: a
second writer waits for it. Readers never open the writer's file: they read the *replica*
``warehouse.read.duckdb``, a copy of the last published state. A writer publishes it when it closes
and, during a long run, at checkpoints (:meth:`Warehouse.publish_if_due`): CHECKPOINT (everything
committed is in the main file), copy the file to a temporary name, fsync, rename over the replica.
The rename is atomic, so a reader opens either the previous replica or the new one, never a mix; a
reader session left open keeps the version it opened (the old file stays readable until it closes)
and never blocks the writer.

What survives a crash. The writer lock is a ``flock`` the kernel drops with the process, so a
killed writer never blocks the next one. From open to its last publication a writer keeps a marker
``warehouse.duckdb.unpublished``: a marker without a live writer means a writer died (or failed)
after committing work it never published, so the next writer publishes at once when it opens, and
a reader that finds the lock free does the same before it reads (:func:`refresh_stale_replica`).
Run work files (``work/``) exist only while their writer holds the lock, so a writer that takes it
removes whatever a dead run left there. A publication never replaces the replica with a worse
record: the tables that only grow must hold at least as many rows as in the replica it replaces
(:data:`APPEND_ONLY_TABLES`), or the replica is kept and :class:`ReplicaRegressionError` says
why. A missing writer file next to a replica is never recreated empty: opening it for writing
fails and names ``callbook rebuild``. A whole-file copy was measured against ``COPY FROM DATABASE`` into an
attached file: 0.075 s against 2.7 s for the 37 MiB demo warehouse (bench/RESULTS.md, "Scale").

SQL lives in ``sql/``; values are always bound parameters, identifiers come from allow-lists.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from datetime import date, datetime
from functools import cache
from pathlib import Path
from types import TracebackType
from typing import Any, TypeVar

import duckdb
import polars as pl

from pipeline.quality.result import ValidationResult
from pipeline.schema import BAR_SCHEMA, Batch
from warehouse.lock import WriterLock, WriterLockTimeout
from warehouse.results import WORK_DIR

T = TypeVar("T")
SQL_DIR = Path(__file__).parent / "sql"
DEFAULT_LOCK_TIMEOUT = 30.0
#: WAL size at which DuckDB checkpoints on its own (its default is 16 MiB). Each checkpoint
#: rewrites the tables' indexes, so a backfill of 100 roots spent half its write CPU in them;
#: with 256 MiB it spent 0.55x the CPU for 0.3 GB more peak memory (measured with
#: bench/bench_scale.py while developing it, v1 only; not in bench/RESULTS.md).
#: The writer also checkpoints whenever it publishes the replica.
CHECKPOINT_THRESHOLD = "256MB"
REPLICA_INFIX = ".read"
CALL_CHANGES_MIGRATION = 10  # call_change_rows: derived from the snapshots when it is added
_LOCK_POLL_SECONDS = 0.25
_LOCK_HOLDER = re.compile(r"Conflicting lock is held in (?P<program>.+?) \(PID (?P<pid>\d+)\)")

#: Tables no unit of work ever deletes from (bars and rolls are superseded, never removed):
#: a publication holding fewer rows in one of them than the replica it replaces is refused.
APPEND_ONLY_TABLES: tuple[str, ...] = (
    "ingest_batches",
    "fetch_log",
    "validation_runs",
    "quarantine",
    "row_findings",
    "bars",
    "snapshots",
    "snapshot_levels",
    "snapshot_scenarios",
    "outcomes",
    "call_progress",
    "methodologies",
    "rolls",
    "inbox_files",
    "schema_migrations",
)

#: What identifies one call; each key has its own chain of versions.
SNAPSHOT_KEY: tuple[str, ...] = ("root", "as_of", "author", "methodology_version", "source")
#: One call's history: its snapshots of every session (call_history, call_changes).
CALL_KEY: tuple[str, ...] = ("root", "author", "methodology_version", "source")

#: Tables whose content callers may hash or count (identifier allow-list).
TABLES: tuple[str, ...] = (
    "ingest_batches",
    "fetch_log",
    "validation_runs",
    "quarantine",
    "row_findings",
    "bars",
    "snapshots",
    "snapshot_levels",
    "snapshot_scenarios",
    "call_change_rows",
    "outcomes",
    "call_progress",
    "methodologies",
    "rolls",
    "inbox_files",
    "schema_migrations",
)


class WarehouseError(RuntimeError):
    pass


class WarehouseLockedError(WarehouseError):
    """Another process holds the warehouse for writing (longer than the caller would wait)."""


class WarehouseDamagedError(WarehouseError):
    """The writer's file is missing (while its replica exists) or cannot be opened."""


class ReplicaRegressionError(WarehouseError):
    """A publication would replace the replica with a record holding fewer rows."""


@cache
def statement(name: str) -> str:
    """The SQL text of ``sql/statements/<name>.sql``."""
    return (SQL_DIR / "statements" / f"{name}.sql").read_text(encoding="utf-8")


def migrations() -> list[tuple[int, str, str]]:
    """(version, name, sql) for every file ``sql/migrations/NNN_name.sql``, by version."""
    out = []
    for path in sorted((SQL_DIR / "migrations").glob("*.sql")):
        number, _, name = path.stem.partition("_")
        out.append((int(number), name, path.read_text(encoding="utf-8")))
    return out


@dataclass(frozen=True)
class LoadOutcome:
    """What loading one validated batch did."""

    duplicate: bool  # the same raw batch (by sha256) had been recorded before
    inserted: int  # bars that were new
    revised: int  # bars whose values changed (old version superseded, kept)
    unchanged: int  # bars identical to the current version
    quarantined: int  # rows that broke an error rule
    warnings: int  # warning findings (the rows loaded)
    deferred: int  # rows whose session was not final when fetched


@dataclass(frozen=True)
class MethodologyEntry:
    """One configured methodology as the ``methodologies`` table records it."""

    version: str
    params_hash: str
    params: Mapping[str, Any]
    published: bool
    # The period its data-tuned parameters were chosen on (pipeline.analysis.methodology.Tuning);
    # tuning_declared False: the methodology does not say.
    tuning_declared: bool = False
    tuned_through: date | None = None
    tuned_sources: tuple[str, ...] = ()
    tuning_note: str = ""


@dataclass(frozen=True)
class SnapshotWrite:
    """What writing a set of computed snapshots did."""

    written: int  # new rows (version 1 or a new version)
    unchanged: int  # identical content to the latest stored version: nothing written
    superseding: int  # of the written, how many replace an earlier version

    @property
    def received(self) -> int:
        return self.written + self.unchanged


@dataclass(frozen=True)
class RollWrite:
    """What storing the rolls of one series did."""

    new: int  # rolls not stored before
    revised: int  # rolls measured differently than the current version (old version kept)
    unchanged: int  # identical to the current version: nothing written


@dataclass(frozen=True)
class Published:
    """One publication of the replica."""

    path: Path
    seconds: float
    bytes: int


def replica_path(path: Path) -> Path:
    """``warehouse.duckdb`` -> ``warehouse.read.duckdb``: what readers open."""
    return path.with_name(f"{path.stem}{REPLICA_INFIX}{path.suffix}")


def is_replica(path: Path) -> bool:
    return path.stem.endswith(REPLICA_INFIX)


def unpublished_marker(path: Path) -> Path:
    """``warehouse.duckdb`` -> ``warehouse.duckdb.unpublished``: present while the writer's file may
    hold commits its replica lacks (from a writer's open to its last publication)."""
    return path.with_name(path.name + ".unpublished")


def replica_is_stale(path: str | Path) -> bool:
    """Whether the replica of the warehouse ``path`` may lack committed work: a writer is running,
    or one ended without publishing (its marker is left), or it was never published."""
    path = Path(path)
    return path.exists() and (unpublished_marker(path).exists() or not replica_path(path).exists())


def refresh_stale_replica(path: str | Path, *, force: bool = False) -> bool:
    """Publish the replica of ``path`` if a writer ended without publishing it (or ``force``: the
    replica cannot be opened) and no writer is running now; a reader calls this before it reads.
    True if it published. Never waits: with a writer at work the replica is as fresh as that
    writer made it; any failure leaves the replica as it was (``callbook verify`` reports a stale
    or damaged replica)."""
    path = Path(path)
    if not path.exists() or not (force or replica_is_stale(path)):
        return False
    try:
        writer = Warehouse.open(path, write_lock_timeout=0)
    except (WarehouseError, duckdb.Error, OSError):
        return False
    published = False
    try:
        if force and not writer.published_at_open:
            writer.publish()
        published = True
        # Published (on open, or just now) after the only changes this opening made (migrations
        # and views): the replica is current.
        unpublished_marker(path).unlink(missing_ok=True)
    except (WarehouseError, duckdb.Error, OSError):
        pass
    finally:
        with suppress(WarehouseError, duckdb.Error, OSError):
            writer.close(publish=False)
    return published or writer.published_at_open


def reader_path(path: str | Path) -> Path:
    """What readers of the warehouse ``path`` open: its replica (the last published state), or,
    for a data directory written before replicas existed, ``path`` itself."""
    path = Path(path)
    replica = replica_path(path)
    return replica if replica.exists() else path


class Warehouse:
    """A connection to the warehouse file. Use :meth:`open` as a context manager."""

    def __init__(
        self,
        path: Path,
        connection: duckdb.DuckDBPyConnection,
        read_only: bool,
        writer_lock: WriterLock | None = None,
    ) -> None:
        self.path = path
        self.con = connection
        self.read_only = read_only
        self._writer_lock = writer_lock
        self._last_published = time.monotonic()
        self.published_at_open = False  # a writer that published a dead writer's work on open

    # -- opening -------------------------------------------------------------------------------

    @classmethod
    def open(
        cls,
        path: str | Path,
        *,
        read_only: bool = False,
        lock_timeout: float = DEFAULT_LOCK_TIMEOUT,
        write_lock_timeout: float | None = None,
        on_wait: Callable[[str], None] | None = None,
        memory_limit_mb: int | None = None,
    ) -> Warehouse:
        """Open the warehouse file ``path``.

        For writing (the default) take the writer lock first, waiting up to
        ``write_lock_timeout`` seconds (None: as long as it takes) for another writer to finish and
        calling ``on_wait`` with a one-line message while waiting; then apply migrations. A process
        that opened the file without the lock (a DuckDB session on the file itself) is waited for
        ``lock_timeout`` seconds. ``read_only`` opens ``path`` itself read-only (readers normally
        use :meth:`open_reader`, which reads the replica). ``memory_limit_mb`` caps DuckDB's
        buffers in this connection (None: DuckDB's default, 80 % of RAM).
        """
        path = Path(path)
        if read_only and not path.exists():
            raise WarehouseError(
                f"no warehouse at {path}: run `callbook nightly` first (or pass --data-dir)"
            )
        writer_lock = None
        stale = False
        if not read_only:
            path.parent.mkdir(parents=True, exist_ok=True)
            writer_lock = WriterLock(path, timeout=write_lock_timeout, on_wait=on_wait)
            try:
                writer_lock.acquire()
            except WriterLockTimeout as exc:
                raise WarehouseLockedError(str(exc)) from None
        try:
            if writer_lock is not None:
                stale = _take_over(path)
            con = _connect(path, read_only=read_only, lock_timeout=lock_timeout)
            con.execute("set TimeZone = 'UTC'").fetchall()
            if memory_limit_mb is not None:
                con.execute(f"set memory_limit = '{int(memory_limit_mb)}MiB'").fetchall()
            warehouse = cls(path, con, read_only, writer_lock)
            if read_only:
                warehouse._check_schema_current()
            else:
                con.execute(f"set checkpoint_threshold = '{CHECKPOINT_THRESHOLD}'").fetchall()
                warehouse._migrate()
                if stale:  # a dead writer's committed work: readers see it from now on
                    warehouse.publish()
                    warehouse.published_at_open = True
        except BaseException as exc:
            if "con" in locals():
                con.close()
            if writer_lock is not None:
                writer_lock.release()
            if isinstance(exc, duckdb.Error) and is_damage(exc):
                raise WarehouseDamagedError(damaged_message(path, exc)) from exc
            raise
        return warehouse

    @classmethod
    def open_reader(cls, path: str | Path) -> Warehouse:
        """Open what readers read: the replica of ``path`` (the last published state), or, for a
        data directory written before replicas existed, ``path`` itself read-only. A replica a
        dead writer left stale is published first when no writer is running."""
        refresh_stale_replica(path)
        try:
            return cls.open(reader_path(path), read_only=True)
        except WarehouseDamagedError:
            if not refresh_stale_replica(path, force=True):
                raise
            return cls.open(reader_path(path), read_only=True)

    @classmethod
    def in_memory(cls) -> Warehouse:
        """A fresh, migrated in-memory warehouse (tests)."""
        con = duckdb.connect(":memory:")
        con.execute("set TimeZone = 'UTC'").fetchall()
        warehouse = cls(Path(":memory:"), con, read_only=False)
        warehouse._migrate()
        return warehouse

    def close(self, *, publish: bool = True) -> None:
        """Close the connection; a writer publishes the replica first and then releases the lock
        (its unpublished marker goes once the publication succeeded)."""
        try:
            if publish and self._writer_lock is not None:
                self.publish()
                unpublished_marker(self.path).unlink(missing_ok=True)
        finally:
            self.con.close()
            if self._writer_lock is not None:
                self._writer_lock.release()

    def __enter__(self) -> Warehouse:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if exc is None:
            self.close()
            return
        # What was committed before the failure is consistent (one transaction per unit of work):
        # publish it, but never let a second failure hide the first (close() still closes the
        # connection and releases the lock).
        with suppress(Exception):
            self.close()

    # -- the replica readers read --------------------------------------------------------------

    def publish(self) -> Published:
        """Publish the committed state as the replica (atomically: copy, fsync, rename).

        Called by the writer between units of work (never inside a transaction).
        """
        if self._writer_lock is None:
            raise WarehouseError("only the writer publishes the replica")
        start = time.monotonic()
        self._run("checkpoint")
        target = replica_path(self.path)
        _refuse_regression(self._append_only_counts(), target)
        tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
        try:
            shutil.copyfile(self.path, tmp)
            with open(tmp, "rb") as fh:
                os.fsync(fh.fileno())
            os.replace(tmp, target)
        finally:
            tmp.unlink(missing_ok=True)
        directory = os.open(target.parent, os.O_RDONLY)
        try:
            os.fsync(directory)  # the rename itself survives a crash
        finally:
            os.close(directory)
        self._last_published = time.monotonic()
        return Published(target, self._last_published - start, target.stat().st_size)

    def publish_if_due(self, interval_seconds: float) -> Published | None:
        """Publish if the last publication is older than ``interval_seconds`` (a checkpoint of a
        long run, so readers see its progress without paying a copy per unit of work)."""
        if time.monotonic() - self._last_published < interval_seconds:
            return None
        return self.publish()

    # -- schema --------------------------------------------------------------------------------

    def _applied_versions(self) -> set[int]:
        exists = self._first(
            "select count(*) from information_schema.tables where table_name = 'schema_migrations'"
        )
        if not exists or not exists[0]:
            return set()
        return {row[0] for row in self._rows("select version from schema_migrations")}

    def _migrate(self) -> None:
        self._run(
            "create table if not exists schema_migrations ("
            " version integer primary key, name varchar not null, applied_at timestamptz not null)"
        )
        applied = self._applied_versions()
        for version, name, sql in migrations():
            if version in applied:
                continue
            with self.transaction():
                self._run(sql)
                self._run(
                    "insert into schema_migrations values ($version, $name, now())",
                    {"version": version, "name": name},
                )
        with self.transaction():
            for view in sorted((SQL_DIR / "views").glob("*.sql")):
                self._run(view.read_text(encoding="utf-8"))
            if CALL_CHANGES_MIGRATION not in applied:  # upgraded now: derive the rows once
                self._refresh_call_changes(self.query(statement("stored_calls")))

    def _check_schema_current(self) -> None:
        pending = {v for v, _, _ in migrations()} - self._applied_versions()
        if pending:
            raise WarehouseError(
                f"{self.path} needs migrations {sorted(pending)}: open it once for writing "
                "(e.g. `callbook nightly`) to upgrade it"
            )

    def _run(self, sql: str, params: Mapping[str, Any] | None = None) -> None:
        """Execute one statement to completion (DuckDB keeps unread results pending)."""
        self.con.execute(sql, dict(params) if params else None).fetchall()

    def _rows(self, sql: str, params: Mapping[str, Any] | None = None) -> list[tuple[Any, ...]]:
        return self.con.execute(sql, dict(params) if params else None).fetchall()

    def _first(self, sql: str, params: Mapping[str, Any] | None = None) -> tuple[Any, ...] | None:
        rows = self._rows(sql, params)
        return rows[0] if rows else None

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """One unit of work: commit on success, roll back on any exception."""
        self._run("begin transaction")
        try:
            yield
        except BaseException:
            self._run("rollback")
            raise
        self._run("commit")

    # -- reading -------------------------------------------------------------------------------

    def query(self, sql: str, params: Mapping[str, Any] | None = None) -> pl.DataFrame:
        """Run one query and return its result as a polars frame."""
        relation = self.con.sql(sql, params=dict(params) if params else None)
        if relation is None:  # DuckDB returns no relation for an empty text or a non-query
            raise WarehouseError(f"not a query (no rows to return): {sql.strip()[:60]!r}")
        table = relation.to_arrow_table()
        frame = pl.from_arrow(table)
        assert isinstance(frame, pl.DataFrame)
        return frame

    def current_bars(
        self,
        root: str,
        *,
        source: str,
        start: date | None = None,
        end: date | None = None,
    ) -> pl.DataFrame:
        """Current bars of one root from one source (BAR_SCHEMA), by contract and session."""
        frame = self.query(
            statement("current_bars"), {"source": source, "root": root, "start": start, "end": end}
        )
        return (
            frame.cast(pl.Schema(BAR_SCHEMA)) if frame.height else pl.DataFrame(schema=BAR_SCHEMA)
        )

    def bars_stored_at(
        self, root: str, *, source: str, stored_at: datetime, end: date | None = None
    ) -> pl.DataFrame:
        """Bars of one root from one source exactly as stored at ``stored_at`` (BAR_SCHEMA): the
        versions recorded by then and not yet superseded (the ``bars_as_of`` macro); bars first
        recorded later are left out (compare :meth:`bars_as_known`)."""
        frame = self.query(
            statement("bars_stored_at"),
            {"source": source, "root": root, "stored_at": stored_at, "end": end},
        )
        return (
            frame.cast(pl.Schema(BAR_SCHEMA)) if frame.height else pl.DataFrame(schema=BAR_SCHEMA)
        )

    def bar_change_times(self, root: str, *, source: str) -> list[datetime]:
        """When the stored bars of one root and source changed (a version recorded or
        superseded), in order: ``bars_stored_at`` and ``bars_as_known`` answer the same between
        two of these moments."""
        return [
            row[0]
            for row in self._rows(statement("bar_change_times"), {"source": source, "root": root})
        ]

    def last_session(self, root: str, *, source: str) -> date | None:
        row = self._first(
            "select max(session_date) from bars_current where source = $source and root = $root",
            {"source": source, "root": root},
        )
        return row[0] if row else None

    def status(self) -> pl.DataFrame:
        return self.query("select * from ingest_status")

    def bar_sources(self) -> set[str]:
        """The sources any batch came from ("demo" marks a warehouse of synthetic prices)."""
        return {row[0] for row in self._rows("select distinct source from ingest_batches")}

    def quarantine_rows(self, root: str | None = None, *, limit: int = 50) -> pl.DataFrame:
        return self.query(statement("quarantine_rows"), {"root": root, "limit": limit})

    def _append_only_counts(self) -> dict[str, int]:
        return {t: n for t, n in self.table_counts().items() if t in APPEND_ONLY_TABLES}

    def table_counts(self) -> dict[str, int]:
        counts = {}
        for table in TABLES:
            row = self._first(f"select count(*) from {table}")
            counts[table] = int(row[0]) if row else 0
        return counts

    def table_rows(self, table: str) -> pl.DataFrame:
        """Every stored row of ``table`` (one of TABLES), in no particular order."""
        if table not in TABLES:
            raise ValueError(f"unknown table {table!r}; known: {', '.join(TABLES)}")
        return self.query(f"select * from {table}")

    def content_hash(self, table: str) -> str:
        """md5 over every row of ``table`` in a canonical order (for idempotency checks)."""
        if table not in TABLES:
            raise ValueError(f"unknown table {table!r}; known: {', '.join(TABLES)}")
        row = self._first(
            f"select md5(coalesce(string_agg(t::varchar, '\n' order by t::varchar), '')) from {table} t"
        )
        return str(row[0]) if row else ""

    # -- writing -------------------------------------------------------------------------------

    def record_batch(
        self, batch: Batch, *, lake_path: str, run_id: str | None, recorded_at: datetime
    ) -> bool:
        """Record a landed batch before validation (one transaction). True if it was seen before."""
        params = {
            "batch_id": batch.sha256,
            "source": batch.source,
            "root": batch.root,
            "fetched_at": batch.fetched_at,
            "run_id": run_id,
        }
        with self.transaction():
            seen = self._first(
                "select count(*) from ingest_batches where batch_id = $batch_id",
                {"batch_id": batch.sha256},
            )
            duplicate = bool(seen and seen[0])
            if not duplicate:
                self._run(
                    statement("record_batch"),
                    {
                        **params,
                        "window_start": batch.window_start,
                        "window_end": batch.window_end,
                        "row_count": batch.raw.num_rows,
                        "lake_path": str(lake_path),
                        "metadata": json.dumps(batch.metadata, default=str, sort_keys=True),
                        "recorded_at": recorded_at,
                    },
                )
            self._run(
                statement("record_fetch"),
                {**params, "outcome": "duplicate" if duplicate else "landed", "message": None},
            )
        return duplicate

    def record_fetch_failure(
        self, root: str, source: str, at: datetime, run_id: str | None, message: str
    ) -> None:
        with self.transaction():
            self._run(
                statement("record_fetch"),
                {
                    "batch_id": None,
                    "source": source,
                    "root": root,
                    "fetched_at": at,
                    "run_id": run_id,
                    "outcome": "failed",
                    "message": message,
                },
            )

    def load_batch(
        self,
        batch: Batch,
        validation: ValidationResult,
        *,
        run_id: str | None,
        recorded_at: datetime,
        duplicate: bool = False,
    ) -> LoadOutcome:
        """Store a validation run, its findings and the clean bars in ONE transaction.

        Loading the same batch again changes no bar and adds no finding (only a validation run).
        A clean row whose values differ from the current version supersedes it.
        """
        findings = validation.findings
        counts = {
            severity: findings.filter(pl.col("severity") == severity)
            .select(pl.col("row_index").n_unique())
            .item()
            for severity in ("error", "deferred")
        }
        warnings = findings.filter(pl.col("severity") == "warning").height
        clean = (
            validation.clean if validation.status != "rejected" else pl.DataFrame(schema=BAR_SCHEMA)
        )
        scope = {"batch_id": batch.sha256, "source": batch.source, "root": batch.root}
        with self.transaction():
            self._run(
                statement("record_validation"),
                {
                    "batch_id": batch.sha256,
                    "suite_name": validation.suite_name,
                    "suite_version": validation.suite_version,
                    "validated_at": recorded_at,
                    "status": validation.status,
                    "rejection": validation.rejection,
                    "row_count": batch.raw.num_rows,
                    "clean_rows": clean.height,
                    "quarantined_rows": counts["error"],
                    "warning_count": warnings,
                    "deferred_rows": counts["deferred"],
                    "expectations": json.dumps(validation.expectations, default=str),
                    "run_id": run_id,
                },
            )
            with self._registered("incoming_findings", findings):
                self._run(statement("record_quarantine"), {**scope, "recorded_at": recorded_at})
                self._run(statement("record_row_findings"), {**scope, "recorded_at": recorded_at})
            with self._registered("incoming_bars", clean):
                self._run(statement("stage_bar_changes"), {"source": batch.source})
            changes = dict(self._rows("select change, count(*) from bar_changes group by change"))
            self._run(statement("supersede_bars"), {"recorded_at": recorded_at})
            self._run(
                statement("insert_bars"), {"batch_id": batch.sha256, "recorded_at": recorded_at}
            )
            self._run("drop table bar_changes")
        return LoadOutcome(
            duplicate=duplicate,
            inserted=int(changes.get("new", 0)),
            revised=int(changes.get("revised", 0)),
            unchanged=int(changes.get("unchanged", 0)),
            quarantined=int(counts["error"]),
            warnings=warnings,
            deferred=int(counts["deferred"]),
        )

    def write_snapshots(
        self,
        rows: pl.DataFrame,
        *,
        kind: str,
        flow_run_id: str | None,
        code_version: str,
        created_at: datetime,
    ) -> SnapshotWrite:
        """Store computed snapshot rows (wide form with ``content_hash``) in ONE transaction.

        A row whose content hash equals the latest stored version of its key (root, as_of,
        author, methodology_version, source) is skipped; any other row becomes the next version,
        linked to the one it supersedes. Nothing is updated or deleted.

        Provenance (not hashed) the rows may carry, else defaulted: ``bars_mode`` ('current'),
        ``bars_known_at`` (``created_at``), ``resolved_on_source`` (the row's source). The
        warehouse adds ``recorded_late``: an analyst call stored at or after the next session's
        open (pipeline.audit.analyst.recorded_late); never for the model's calls.
        """
        from pipeline.analysis.assemble import level_rows, scenario_rows
        from pipeline.audit.analyst import recorded_late

        if rows.height == 0:
            return SnapshotWrite(0, 0, 0)
        if kind == "analyst" and "resolved_on_source" not in rows.columns:
            raise WarehouseError(
                "an analyst call must name the source of the bars it is resolved on "
                "(column resolved_on_source)"
            )
        defaults = {
            "bars_mode": pl.lit("current"),
            "bars_known_at": pl.lit(created_at).dt.convert_time_zone("UTC"),
            "resolved_on_source": pl.col("source"),
        }
        rows = rows.with_columns(
            value.alias(name) for name, value in defaults.items() if name not in rows.columns
        ).with_columns(
            pl.Series(
                "recorded_late",
                [
                    kind == "analyst" and recorded_late(as_of, created_at)
                    for as_of in rows["as_of"].to_list()
                ],
                dtype=pl.Boolean,
            )
        )
        keys = rows.select(SNAPSHOT_KEY)
        with self.transaction():
            with self._registered("incoming_keys", keys):
                latest = self.query(statement("latest_snapshot_versions"))
            joined = rows.join(latest, on=list(SNAPSHOT_KEY), how="left", nulls_equal=True)
            new = joined.filter(
                pl.col("latest_hash").is_null() | (pl.col("latest_hash") != pl.col("content_hash"))
            )
            new = new.with_columns(
                (pl.col("latest_version").fill_null(0) + 1).cast(pl.Int32).alias("version"),
                pl.col("latest_version").cast(pl.Int32).alias("supersedes_version"),
            ).with_columns(
                pl.format(
                    "{}/{}/{}/{}/{}/v{}",
                    "root",
                    "as_of",
                    "author",
                    "methodology_version",
                    "source",
                    "version",
                ).alias("snapshot_id"),
                pl.lit(kind).alias("kind"),
                pl.lit(flow_run_id, dtype=pl.String).alias("flow_run_id"),
                pl.lit(code_version).alias("code_version"),
                pl.lit(created_at).dt.convert_time_zone("UTC").alias("created_at"),
            )
            if new.height:
                self._insert_by_name("snapshots", new.drop("latest_version", "latest_hash"))
                self._insert_by_name("snapshot_levels", level_rows(new))
                self._insert_by_name("snapshot_scenarios", scenario_rows(new))
                self._refresh_call_changes(new.select(CALL_KEY).unique())
        superseding = new.filter(pl.col("supersedes_version").is_not_null()).height
        return SnapshotWrite(new.height, rows.height - new.height, superseding)

    def _refresh_call_changes(self, calls: pl.DataFrame) -> None:
        """Recompute the stored day-over-day changes (call_change_rows, the call_changes view) of
        ``calls`` (CALL_KEY rows), within the caller's transaction."""
        with self._registered("changed_calls", calls):
            self._run(statement("delete_call_changes"))
            self._run(statement("insert_call_changes"))

    def write_rolls(self, rolls: pl.DataFrame, *, source: str, recorded_at: datetime) -> RollWrite:
        """Store the rolls of one series (``pipeline.market.rolls.ROLL_SCHEMA`` rows) in ONE
        transaction: new rolls are added, a roll whose values changed supersedes its current
        version (kept), identical ones are skipped. Rolls not in ``rolls`` are left alone."""
        if rolls.height == 0:
            return RollWrite(0, 0, 0)
        with self.transaction():
            with self._registered("incoming_rolls", rolls):
                self._run(statement("stage_roll_changes"), {"source": source})
            changes = dict(self._rows("select change, count(*) from roll_changes group by change"))
            self._run(statement("supersede_rolls"), {"recorded_at": recorded_at})
            self._run(statement("insert_rolls"), {"recorded_at": recorded_at})
            self._run("drop table roll_changes")
        return RollWrite(
            new=int(changes.get("new", 0)),
            revised=int(changes.get("revised", 0)),
            unchanged=int(changes.get("unchanged", 0)),
        )

    def snapshot_rows(
        self,
        root: str | None = None,
        *,
        author: str | None = None,
        as_of: date | None = None,
        version: int | None = None,
        methodology: str | None = None,
        source: str | None = None,
        latest_only: bool = True,
    ) -> pl.DataFrame:
        """Stored wide snapshot rows, newest as_of first (latest version unless ``version``)."""
        table = "latest_snapshots" if latest_only and version is None else "snapshots"
        return self.query(
            f"select * from {table} where ($root is null or root = $root)"
            " and ($author is null or author = $author) and ($as_of is null or as_of = $as_of)"
            " and ($version is null or version = $version)"
            " and ($methodology is null or methodology_version = $methodology)"
            " and ($source is null or source = $source)"
            " order by as_of desc, root, author, methodology_version, source",
            {
                "root": root,
                "author": author,
                "as_of": as_of,
                "version": version,
                "methodology": methodology,
                "source": source,
            },
        )

    def record_methodologies(self, entries: Sequence[MethodologyEntry], *, at: datetime) -> None:
        """Write the configured methodologies (the first published) in one transaction."""
        with self.transaction():
            for entry in entries:
                self._run(
                    statement("record_methodology"),
                    {
                        "methodology_version": entry.version,
                        "params_hash": entry.params_hash,
                        "params": json.dumps(entry.params, default=str, sort_keys=True),
                        "published": entry.published,
                        "configured_at": at,
                        "tuning_declared": entry.tuning_declared,
                        "tuned_through": entry.tuned_through,
                        "tuned_sources": ",".join(entry.tuned_sources),
                        "tuning_note": entry.tuning_note,
                    },
                )

    def record_inbox_file(
        self,
        *,
        file_sha256: str,
        root: str,
        file_name: str,
        size: int,
        status: str,
        batch_id: str | None,
        archived_path: str,
        message: str | None,
        run_id: str | None,
        taken_at: datetime,
    ) -> None:
        """Record a file taken from the drop folder (one transaction)."""
        with self.transaction():
            self._run(
                statement("record_inbox_file"),
                {
                    "file_sha256": file_sha256,
                    "root": root,
                    "file_name": file_name,
                    "bytes": size,
                    "status": status,
                    "batch_id": batch_id,
                    "archived_path": archived_path,
                    "message": message,
                    "run_id": run_id,
                    "taken_at": taken_at,
                },
            )

    def inbox_file_taken(self, file_sha256: str) -> tuple[str, str, datetime] | None:
        """(file name, status, taken at) of the first file with this content taken before."""
        row = self._first(statement("inbox_file_taken"), {"file_sha256": file_sha256})
        return (row[0], row[1], row[2]) if row else None

    def contract_month_observations(
        self, root: str, *, symbol: str
    ) -> list[tuple[date, str | None]]:
        """(window end, contract month) of every Yahoo batch of ``root``, in fetch order: the
        month Yahoo's shortName gave for the ``=F`` ``symbol`` (see pipeline.sources.yahoo)."""
        return [
            (row[0], row[1])
            for row in self._rows(
                statement("contract_month_observations"), {"root": root, "symbol": symbol}
            )
        ]

    def unresolved_snapshots(self, root: str, *, source: str, through: date) -> pl.DataFrame:
        """Snapshots of ``root`` resolved on ``source``'s bars, without an outcome, whose horizon
        ended on or before ``through``."""
        return self.query(
            statement("unresolved_snapshots"),
            {"root": root, "source": source, "through": through},
        )

    def open_snapshots(
        self,
        root: str | None = None,
        *,
        source: str | None = None,
        author: str | None = None,
        as_of: date | None = None,
        kind: str | None = None,
    ) -> pl.DataFrame:
        """Current versions of the calls without an outcome (of ``root``, resolved on
        ``source``'s bars, ...; None: any)."""
        return self.query(
            statement("open_snapshots"),
            {"root": root, "source": source, "author": author, "as_of": as_of, "kind": kind},
        )

    def append_progress(self, progress: pl.DataFrame, *, source: str, recorded_at: datetime) -> int:
        """Append open calls' status so far (one transaction); a status already stored for the
        same call and session is kept. Returns the rows written."""
        if progress.height == 0:
            return 0
        with self.transaction():
            before = self._first("select count(*) from call_progress")
            with self._registered("incoming_progress", progress):
                self._run(
                    statement("insert_progress"),
                    {"resolved_on_source": source, "recorded_at": recorded_at},
                )
            after = self._first("select count(*) from call_progress")
        return int(after[0]) - int(before[0]) if before and after else 0

    def bars_as_known(
        self, root: str, *, source: str, known_at: datetime, end: date
    ) -> pl.DataFrame:
        """Bars (BAR_SCHEMA) of one root up to ``end`` as known at ``known_at``: vendor revisions
        recorded later are not used; bars first recorded later count in their first version."""
        frame = self.query(
            statement("bars_as_known"),
            {"source": source, "root": root, "known_at": known_at, "end": end},
        )
        return (
            frame.cast(pl.Schema(BAR_SCHEMA)) if frame.height else pl.DataFrame(schema=BAR_SCHEMA)
        )

    def superseded_bars(self, root: str, *, source: str) -> pl.DataFrame:
        """(session_date, superseded_at) of every bar version a vendor revision replaced."""
        return self.query(statement("superseded_bars"), {"source": source, "root": root})

    def append_outcomes(
        self, outcomes: pl.DataFrame, *, series_through: date, recorded_at: datetime
    ) -> int:
        """Append outcomes in one transaction; those already stored are skipped. Returns the count
        written."""
        if outcomes.height == 0:
            return 0
        with self.transaction():
            before = self._first("select count(*) from outcomes")
            with self._registered("incoming_outcomes", outcomes):
                self._run(
                    statement("insert_outcomes"),
                    {"series_through": series_through, "recorded_at": recorded_at},
                )
            after = self._first("select count(*) from outcomes")
        return int(after[0]) - int(before[0]) if before and after else 0

    def _insert_by_name(self, table: str, frame: pl.DataFrame) -> None:
        if table not in TABLES:
            raise ValueError(f"unknown table {table!r}")
        with self._registered("incoming_rows", frame):
            self._run(f"insert into {table} by name select * from incoming_rows")

    @contextmanager
    def _registered(self, name: str, frame: pl.DataFrame) -> Iterator[None]:
        # Arrow's string_view layout is polars' own: no copy of the text columns (DuckDB reads it).
        self.con.register(name, frame.to_arrow(compat_level=pl.CompatLevel.newest()))
        try:
            yield
        finally:
            self.con.unregister(name)


def _take_over(path: Path) -> bool:
    """What a writer does once it holds the lock, before it opens the file: refuse to recreate a
    missing file next to its replica, remove the work files and half-made replica copies of dead
    runs (they exist only while their writer holds the lock), and mark the file unpublished. True if a dead writer
    left committed work unpublished (or nothing was ever published)."""
    replica = replica_path(path)
    if not path.exists() and replica.exists():
        raise WarehouseDamagedError(
            f"{path.name} is missing but its published replica {replica.name} exists in "
            f"{path.parent}: nothing was written. Restore the warehouse with `callbook rebuild` "
            "(from the lake, checking every hash)."
        )
    stale = replica_is_stale(path)
    shutil.rmtree(path.parent / WORK_DIR, ignore_errors=True)
    for copy in path.parent.glob(f".{replica.name}.*.tmp"):  # a publication cut short
        copy.unlink(missing_ok=True)
    marker = unpublished_marker(path)
    with open(marker, "w", encoding="utf-8") as fh:
        fh.write(f"{os.getpid()}\n")
        fh.flush()
        os.fsync(fh.fileno())
    return stale


def _refuse_regression(counts: Mapping[str, int], replica: Path) -> None:
    """Raise ReplicaRegressionError if ``counts`` (of the record about to be published) hold fewer
    rows in a table that only grows than the current ``replica`` does. A replica that cannot be
    opened (missing, damaged, held open for writing by another session) is no better record."""
    try:
        con = duckdb.connect(str(replica), read_only=True)
    except (duckdb.Error, OSError):
        return
    published: dict[str, int] = {}
    with con:
        for table in counts:
            with suppress(duckdb.Error):  # a table a later migration added
                published[table] = int(
                    con.execute(f"select count(*) from {table}").fetchall()[0][0]
                )
    shrunk = [
        f"{table} {published[table]:,} -> {n:,}"
        for table, n in counts.items()
        if n < published.get(table, 0)
    ]
    if shrunk:
        raise ReplicaRegressionError(
            f"not publishing: the record would lose rows the published replica {replica.name} "
            f"holds ({'; '.join(shrunk)}); the replica is kept as it was"
        )


def _connect(path: Path, *, read_only: bool, lock_timeout: float) -> duckdb.DuckDBPyConnection:
    try:
        return with_lock_wait(
            path,
            lambda: duckdb.connect(str(path), read_only=read_only),
            lock_timeout=lock_timeout,
            read_only=read_only,
        )
    except WarehouseLockedError:
        raise
    except duckdb.Error as exc:
        raise WarehouseDamagedError(damaged_message(path, exc)) from exc


def is_damage(exc: duckdb.Error) -> bool:
    """Whether DuckDB's error says the file's bytes are not a database it can read (truncated,
    overwritten, a checksum that does not match), as opposed to a lock or a query error."""
    text = str(exc).lower()
    if lock_holder(str(exc)) is not None:
        return False
    return (
        isinstance(exc, duckdb.IOException | duckdb.SerializationException)
        or "corrupt" in text
        or "checksum" in text
        or "not a valid duckdb database" in text
    )


def damaged_message(path: Path, exc: BaseException) -> str:
    """One line: which file cannot be opened, DuckDB's reason, and the way back."""
    reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    if is_replica(path):
        way_back = (
            "the next `callbook` command publishes it again from the warehouse when no writer "
            "is running"
        )
    else:
        way_back = "restore it with `callbook rebuild` (from the lake, checking every hash)"
    return f"{path} cannot be opened ({reason}): {way_back}"


def with_lock_wait(
    path: Path, open_file: Callable[[], T], *, lock_timeout: float, read_only: bool = True
) -> T:
    """``open_file()`` (a connect or an ATTACH of ``path``), retried while another process holds
    the file's lock; after ``lock_timeout`` seconds WarehouseLockedError names the holder."""
    deadline = time.monotonic() + lock_timeout
    while True:
        try:
            return open_file()
        except duckdb.IOException as exc:
            holder = lock_holder(str(exc))
            if holder is None:
                raise
            if time.monotonic() >= deadline:
                what = "written by" if read_only else "held open by"
                hint = (
                    ""
                    if is_replica(path)
                    else f" Readers should open {replica_path(path).name} (the published "
                    "replica), read-only."
                )
                raise WarehouseLockedError(
                    f"{path} is {what} another process (PID {holder[1]}, "
                    f"{holder[0]}) outside callbook's writer lock; waited "
                    f"{lock_timeout:.0f} s.{hint}"
                ) from exc
            time.sleep(_LOCK_POLL_SECONDS)


def lock_holder(message: str) -> tuple[str, int] | None:
    """(program, PID) of the process holding the lock, from DuckDB's lock-conflict error text.

    DuckDB reports a conflicting lock only in its message (no structured field), so this text is
    a dependency: tests/warehouse/test_store.py checks it against the installed DuckDB with a real
    second process, and pyproject.toml pins DuckDB's minor version.

    >>> lock_holder('IO Error: Could not set lock on file "w.duckdb": Conflicting lock is held in '
    ...             '/usr/bin/python3.11 (PID 4242) by user me. See also https://duckdb.org/x')
    ('/usr/bin/python3.11', 4242)
    """
    found = _LOCK_HOLDER.search(message)
    return (found["program"], int(found["pid"])) if found else None
