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

The lake holds the whole record (warehouse/record.py). A writer's every unit of work also writes
the rows it changed, as its statements return them (``returning *``), to a pending unit in the
lake, sealed with its ``record_units`` row inside the transaction and moved into place after the
commit; a writer opening the file first settles what a dead one left pending. So the lake can
recreate every table (:meth:`Warehouse.replay`, ``callbook rebuild``). What fails after a commit
(moving the unit into place, a checkpoint, the replica) never undoes the unit nor raises: it is
a warning (:attr:`Warehouse.warnings`) saying what is left and how it gets finished.

SQL lives in ``sql/``; values are always bound parameters, identifiers come from allow-lists.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import sys
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import ExitStack, contextmanager, suppress
from dataclasses import dataclass
from datetime import UTC, date, datetime
from functools import cache
from pathlib import Path
from types import TracebackType
from typing import Any, TypeVar

import duckdb
import polars as pl

from pipeline.analysis.params import REFERENCE_PARAMETERS
from pipeline.quality.result import ValidationResult
from pipeline.schema import BAR_SCHEMA, Batch, ReceivedBatch
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
#: Rows per Arrow batch when the rows a statement wrote stream to the lake's record.
_CAPTURE_BATCH_ROWS = 65_536
#: Findings inserted per statement: one DuckDB row group. A plain insert of a whole row group
#: writes it to the file at once; smaller statements, and ``insert ... returning`` of any size,
#: keep the transaction's rows in memory until the commit (10^6 findings: ~100 MiB, and the
#: returned rows besides).
_FINDINGS_PER_INSERT = 122_880
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
    "record_units",
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
    "tuning_periods",
    "reference_parameters",
    "rolls",
    "inbox_files",
    "schema_migrations",
    "record_units",
)
#: Tables the lake's record does not hold: derived from the snapshots (call_change_rows) or
#: from the code's definitions on every write open (reference_parameters), recomputed by a rebuild.
DERIVED_TABLES: tuple[str, ...] = ("call_change_rows", "reference_parameters")
#: The statements replaying a unit's part (warehouse/record.py) per operation.
_REPLAY = {
    ("append", None): "replay_append",
    ("upsert", None): "replay_upsert",
    ("close", "bars"): "replay_close_bars",
    ("close", "rolls"): "replay_close_rolls",
}
RECORD_MIGRATION = 12  # record_units: the lake's record starts once it exists

#: Views analysts (and benchmarks) may read whole (identifier allow-list).
VIEWS: tuple[str, ...] = (
    "bars_current",
    "bar_revisions",
    "ingest_status",
    "latest_snapshots",
    "latest_calls",
    "published_calls",
    "call_history",
    "call_changes",
    "snapshot_versions",
    "snapshot_status",
    "calls_vs_outcomes",
    "scored_calls",
    "scoreboard",
    "calibration",
    "open_calls",
    "level_checks",
    "level_quality",
    "rolls_current",
)
_IDENTIFIER = re.compile(r"\{(\w+)\}")


class WarehouseError(RuntimeError):
    pass


class WarehouseLockedError(WarehouseError):
    """Another process holds the warehouse for writing (longer than the caller would wait)."""


class WarehouseDamagedError(WarehouseError):
    """The writer's file is missing (while its replica exists) or cannot be opened."""


class ReplicaRegressionError(WarehouseError):
    """A publication would replace the replica with a record holding fewer rows."""


class WarehouseWriteError(WarehouseError):
    """A unit of work did not commit: nothing of it was written, in the warehouse or the lake."""


class PublishError(WarehouseError):
    """Publishing the replica failed at one step (``phase``: warehouse checkpoint, or replica copy) after
    the work it publishes had committed."""

    def __init__(self, phase: str, cause: BaseException) -> None:
        reason = str(cause).strip().splitlines()[0] if str(cause).strip() else type(cause).__name__
        super().__init__(f"the {phase} failed ({reason})")
        self.phase = phase


@cache
def sql_text(name: str) -> str:
    """The SQL text of ``sql/<name>.sql`` (``name`` without a folder: ``sql/statements/``)."""
    folder, _, stem = name.rpartition("/")
    return (SQL_DIR / (folder or "statements") / f"{stem}.sql").read_text(encoding="utf-8")


def statement(name: str) -> str:
    """The SQL text of ``sql/statements/<name>.sql``."""
    return sql_text(f"statements/{name}")


def statements_in(sql: str) -> list[str]:
    """The statements of a SQL text holding several, as DuckDB's parser splits them (a ``;`` in a
    comment or a string does not split)."""
    return [statement.query for statement in duckdb.extract_statements(sql)]


def with_identifiers(sql: str, **identifiers: str) -> str:
    """``sql`` with each ``{name}`` replaced by an identifier from an allow-list: a table of
    TABLES or a view of VIEWS (values are never spliced in: they are bound parameters)."""
    for value in identifiers.values():
        if value not in TABLES and value not in VIEWS:
            raise ValueError(f"unknown table or view {value!r}; known: {', '.join(TABLES + VIEWS)}")
    return _IDENTIFIER.sub(lambda m: identifiers[m[1]], sql)


def to_polars(relation: duckdb.DuckDBPyRelation) -> pl.DataFrame:
    """A DuckDB result as a polars frame, through Arrow either way.

    A read command (`callbook status`, `calls list`) never needs pyarrow, whose import costs it
    about 0.1 s of its 0.3 s: without pyarrow loaded the result crosses over the Arrow C stream
    interface instead. That path makes DuckDB 2.0 print a one-time "nanobind: leaked" warning at
    interpreter exit (the CLI leaves with os._exit and never shows it), so processes that have
    pyarrow anyway (flows, tests) keep the pyarrow path."""
    if "pyarrow" not in sys.modules:
        return pl.DataFrame(relation)
    frame = pl.from_arrow(relation.to_arrow_table())
    assert isinstance(frame, pl.DataFrame)
    return frame


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
    # The data its parameters were chosen on (pipeline.analysis.methodology.Tuning);
    # tuning_declared False: the methodology does not say.
    tuning_declared: bool = False
    tuned_through: date | None = None  # the last session of any tuning period
    tuned_on: str = ""  # the periods in words
    tuning_note: str = ""
    # (root, synthetic, through): the roots the periods cover, expanded with the root registry.
    tuned_roots: tuple[tuple[str, bool, date], ...] = ()


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
        if not writer.published_at_open:  # forced, or the publication on open failed
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
        on_warning: Callable[[str], None] | None = None,
    ) -> None:
        self.path = path
        self.con = connection
        self.read_only = read_only
        self._writer_lock = writer_lock
        self._last_published = time.monotonic()
        self.published_at_open = False  # a writer that published a dead writer's work on open
        #: What went wrong after work had committed (a checkpoint, the replica, a unit's final
        #: rename): the work is kept; each line says what is left and how it gets finished.
        self.warnings: list[str] = []
        self._on_warning = on_warning
        self._settings: list[
            tuple[str, dict[str, Any] | None]
        ] = []  # connection settings, applied again on a reconnect
        #: The lake record directory of this writer's units (None: not recorded).
        self._record_dir: Path | None = None
        self._unit: Any = None  # the open transaction's record.PendingUnit, once it wrote a part
        self._unit_label = ""
        #: (seq, manifest sha256) of the last committed unit, once asked (None: ask the table).
        self._last_unit: tuple[int, str] | None = None
        self.units_committed = 0  # units of work this writer committed (recorded in the lake)

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
        on_warning: Callable[[str], None] | None = None,
        memory_limit_mb: int | None = None,
        writer_lock: WriterLock | None = None,
    ) -> Warehouse:
        """Open the warehouse file ``path``.

        For writing (the default) take the writer lock first, waiting up to
        ``write_lock_timeout`` seconds (None: as long as it takes) for another writer to finish and
        calling ``on_wait`` with a one-line message while waiting; settle the lake units a dead
        writer left pending (warehouse/record.py), apply migrations, and start the lake's record
        with a base unit if it has none. A process that opened the file without the lock (a
        DuckDB session on the file itself) is waited for ``lock_timeout`` seconds. ``read_only``
        opens ``path`` itself read-only (readers normally use :meth:`open_reader`, which reads
        the replica). ``memory_limit_mb`` caps DuckDB's buffers in this connection (None:
        DuckDB's default, 80 % of RAM). ``on_warning`` hears what failed after a commit (see
        :attr:`warnings`). ``writer_lock``: the writer lock, already held by the caller (who
        gives it to this writer: it is released on close).
        """
        path = Path(path)
        if read_only and not path.exists():
            raise WarehouseError(
                f"no warehouse at {path}: run `callbook nightly` first (or pass --data-dir)"
            )
        stale = False
        if not read_only and writer_lock is None:
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
            warehouse = cls(path, con, read_only, writer_lock, on_warning)
            warehouse._settings = [(statement("utc_session"), None)]
            if memory_limit_mb is not None:
                warehouse._settings.append(
                    (statement("set_memory_limit"), {"memory_limit": f"{int(memory_limit_mb)}MiB"})
                )
            if not read_only:
                warehouse._settings.append(
                    (statement("set_checkpoint_threshold"), {"threshold": CHECKPOINT_THRESHOLD})
                )
            warehouse._apply_settings()
            if read_only:
                warehouse.check_schema_current()
            else:
                warehouse._settle_record()
                warehouse._migrate()
                warehouse._start_record()
                if stale:  # a dead writer's committed work: readers see it from now on
                    try:
                        warehouse.publish()
                        warehouse.published_at_open = True
                    except PublishError as exc:  # (a replica that would lose rows: refused)
                        warehouse._warn_unpublished(exc)
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
        con.execute(statement("utc_session")).fetchall()
        warehouse = cls(Path(":memory:"), con, read_only=False)
        warehouse._migrate()
        return warehouse

    @classmethod
    def create_for_rebuild(cls, path: Path) -> Warehouse:
        """A new, empty database file ``path`` that :meth:`replay` fills from the lake's record
        (``callbook rebuild``): no lock (the caller holds the warehouse's), no migration (the
        record's units apply them at their place), nothing recorded."""
        if path.exists():
            raise WarehouseError(f"{path} exists: a rebuild writes into a new file")
        con = duckdb.connect(str(path))
        con.execute(statement("utc_session")).fetchall()
        con.execute(statement("no_progress_bar")).fetchall()
        return cls(path, con, read_only=False)

    def close(self, *, publish: bool = True) -> None:
        """Close the connection; a writer publishes the replica first and then releases the lock
        (its unpublished marker goes once the publication succeeded). A publication that fails
        never undoes the committed work nor fails the close: it is a warning (:attr:`warnings`)
        and the marker stays, so the next command publishes."""
        try:
            if publish and self._writer_lock is not None:
                try:
                    self.publish()
                    unpublished_marker(self.path).unlink(missing_ok=True)
                except (WarehouseError, duckdb.Error, OSError) as exc:
                    self._warn_unpublished(exc)
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

    def _warn(self, message: str) -> None:
        self.warnings.append(message)
        if self._on_warning is not None:
            self._on_warning(message)

    def _warn_unpublished(self, exc: BaseException) -> None:
        what = str(exc) if isinstance(exc, WarehouseError) else PublishError("publication", exc)
        if self.units_committed:
            self._warn(
                f"the work is committed in {self.path.name}, but publishing it for readers did "
                f"not finish: {what}. Readers still see the previous state until the next "
                "callbook command publishes it (any command does, e.g. `callbook verify`, once "
                "the cause is fixed)."
            )
        else:
            self._warn(
                f"publishing the replica did not finish: {what} (this command committed no "
                "work; the next callbook command publishes the replica again)"
            )

    def _reconnect(self) -> None:
        """A new connection to the same file after DuckDB invalidated this one (a checkpoint
        that failed: "reopen the database instance to recover"); the WAL holds every commit."""
        with suppress(duckdb.Error):
            self.con.close()
        self.con = duckdb.connect(str(self.path))
        self._apply_settings()

    def _apply_settings(self) -> None:
        for sql, params in self._settings:
            self.con.execute(sql, params).fetchall()

    # -- the replica readers read --------------------------------------------------------------

    def publish(self) -> Published:
        """Publish the committed state as the replica (atomically: copy, fsync, rename).

        Called by the writer between units of work (never inside a transaction). A step that
        fails raises :class:`PublishError` naming it (the replica is left as it was); a
        checkpoint that fails invalidates DuckDB's connection, so the writer reconnects first.
        """
        if self._writer_lock is None:
            raise WarehouseError("only the writer publishes the replica")
        start = time.monotonic()
        try:
            self.con.checkpoint()
        except duckdb.Error as exc:
            with suppress(duckdb.Error, OSError):
                self._reconnect()
            raise PublishError("warehouse checkpoint", exc) from exc
        target = replica_path(self.path)
        _refuse_regression(self._append_only_counts(), target)
        tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
        try:
            shutil.copyfile(self.path, tmp)
            with open(tmp, "rb") as fh:
                os.fsync(fh.fileno())
            os.replace(tmp, target)
            directory = os.open(target.parent, os.O_RDONLY)
            try:
                os.fsync(directory)  # the rename itself survives a crash
            finally:
                os.close(directory)
        except OSError as exc:
            raise PublishError("replica copy", exc) from exc
        finally:
            tmp.unlink(missing_ok=True)
        self._last_published = time.monotonic()
        return Published(target, self._last_published - start, target.stat().st_size)

    def publish_if_due(self, interval_seconds: float) -> Published | None:
        """Publish if the last publication is older than ``interval_seconds`` (a checkpoint of a
        long run, so readers see its progress without paying a copy per unit of work). A failed
        publication is a warning: the run goes on, and publishes again at its end."""
        if time.monotonic() - self._last_published < interval_seconds:
            return None
        try:
            return self.publish()
        except (WarehouseError, duckdb.Error, OSError) as exc:
            self._last_published = time.monotonic()
            self._warn_unpublished(exc)
            return None

    def copy_database_to(self, target: Path) -> None:
        """Copy the database into the new file ``target`` with COPY FROM DATABASE (what
        :meth:`publish` does not do: bench/bench_scale.py measures both)."""
        for sql in statements_in(statement("copy_database_to")):
            self._run(sql, {"path": str(target)} if "$path" in sql else None)

    # -- schema --------------------------------------------------------------------------------

    def _applied_versions(self) -> set[int]:
        exists = self._first(statement("schema_migrations_exists"))
        if not exists or not exists[0]:
            return set()
        return {row[0] for row in self._rows(statement("applied_migrations"))}

    def _migrate(self) -> None:
        self._run(statement("create_schema_migrations"))
        applied = self._applied_versions()
        for version, name, sql in migrations():
            if version in applied:
                continue
            with self.transaction(
                f"migration {version:03d} {name}", kind="migration", migrations={version: sql}
            ):
                self._run(sql)
                self._capture(
                    "schema_migrations",
                    "append",
                    statement("record_migration"),
                    {"version": version, "name": name},
                )
        self._create_views(derive_call_changes=CALL_CHANGES_MIGRATION not in applied)

    def _create_views(self, *, derive_call_changes: bool) -> None:
        with self.transaction():
            for name, value in REFERENCE_PARAMETERS.items():
                self._run(statement("record_reference_parameter"), {"name": name, "value": value})
            for view in sorted((SQL_DIR / "views").glob("*.sql")):
                self._run(view.read_text(encoding="utf-8"))
            if derive_call_changes:  # upgraded now (or rebuilt): derive the rows once
                self._refresh_call_changes(self._query(statement("stored_calls")))

    def check_schema_current(self) -> None:
        """Raise WarehouseError naming the pending migrations if the file needs an upgrade (a
        read-only connection cannot apply them)."""
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
    def transaction(
        self,
        label: str = "",
        *,
        kind: str = "work",
        migrations: Mapping[int, str] | None = None,
    ) -> Iterator[None]:
        """One unit of work: commit on success, roll back on any exception.

        A writer whose lake keeps the record (warehouse/record.py) also writes the rows the unit
        changed (:meth:`_capture`) to a pending unit in the lake, seals it with its
        ``record_units`` row before the commit, and moves it into place after: a unit that did
        not commit leaves nothing, neither in the warehouse nor in the lake. ``label`` says what
        the unit did; ``migrations`` (version -> SQL) names the migration a migration unit
        applied."""
        self.con.begin()
        self._unit = None
        self._unit_label = label or "a unit of work"
        try:
            yield
            sealed = self._seal_unit(label, kind, migrations)
        except BaseException:
            unit, self._unit = self._unit, None
            try:
                self.con.rollback()
            finally:
                if unit is not None:
                    unit.discard()
            raise
        self._unit = None
        try:
            self.con.commit()
        except BaseException as exc:
            self._last_unit = None  # whatever happened, the table says
            if sealed is None:
                raise
            committed = self._commit_outcome(sealed, exc)
            if committed is False:
                raise WarehouseWriteError(
                    f"{self._unit_label}: the commit failed ({_first_line(exc)}); nothing of it "
                    "was written"
                ) from exc
            if committed is None:
                raise
        if sealed is not None:
            self._last_unit = sealed
            self.units_committed += 1
            self._finalize_unit(sealed)

    # -- the lake's record (warehouse/record.py) ----------------------------------------------

    def _capture(
        self, table: str, op: str, sql: str, params: Mapping[str, Any] | None = None
    ) -> int:
        """Run a writing statement that returns the rows it wrote (``returning *``); a recording
        writer adds them to the open unit as a part (``op`` on ``table``). Returns their count."""
        # The unit's number first: no other query may run while the rows stream out.
        next_seq = None
        if self._record_dir is not None and self._unit is None:
            last = self._last_committed_unit()
            next_seq = (last[0] if last else 0) + 1
        relation = self.con.sql(sql, params=dict(params) if params else None)
        if relation is None:
            return 0
        # The rows written stream out in batches (a million quarantined rows are never held
        # whole as Python tuples or as one Arrow table beside DuckDB's own result).
        batches = relation.to_arrow_reader(_CAPTURE_BATCH_ROWS)
        if self._record_dir is None:
            return sum(batch.num_rows for batch in batches)
        import pyarrow as pa

        from warehouse import record

        first = next((b for b in batches if b.num_rows), None)
        if first is None:
            for _ in batches:  # drained: the connection takes the next query
                pass
            return 0
        counted = [first.num_rows]

        def rest() -> Iterator[Any]:
            yield first
            for batch in batches:
                counted.append(batch.num_rows)
                yield batch

        try:
            if self._unit is None:
                assert next_seq is not None
                self._unit = record.PendingUnit(self._record_dir, next_seq)
            self._unit.add(table, op, pa.RecordBatchReader.from_batches(first.schema, rest()))
        except OSError as exc:
            raise self._lake_write_failed(exc) from exc
        finally:
            for _ in batches:  # drained even when the lake write failed: the rollback must run
                pass
        return sum(counted)

    def _insert_captured(self, table: str, sql: str, params: Mapping[str, Any]) -> None:
        """Insert into ``table`` the rows the select ``sql`` returns, in one statement without
        ``returning``; a recording writer first streams the same rows into the open unit (an
        ``append`` part of ``table``).

        Why not :meth:`_capture`'s ``insert ... returning *``: DuckDB then holds the inserted rows
        in memory until the commit (and the returned rows whole per statement); a plain insert
        of a row group (122,880 rows) writes it to the file (see ``_FINDINGS_PER_INSERT``). The
        select runs twice in the same transaction with nothing written in between, so the unit
        holds exactly the rows inserted."""
        if self._record_dir is not None:
            self._capture(table, "append", sql, params)
        self.con.sql(sql, params=dict(params)).insert_into(table)

    def _seal_unit(
        self, label: str, kind: str, migrations: Mapping[int, str] | None
    ) -> tuple[int, str] | None:
        """Write the open unit's manifest and its record_units row (inside the transaction):
        (seq, manifest sha256), or None when the unit wrote no row."""
        unit = self._unit
        if unit is None:
            return None
        from warehouse import record

        last = self._last_committed_unit()
        try:
            manifest, sha = unit.seal(
                kind=kind,
                label=label or "work",
                sealed_at=datetime.now(UTC),
                prev_sha256=last[1] if last else None,
                migrations={v: record.sha256_text(sql) for v, sql in (migrations or {}).items()},
            )
        except OSError as exc:
            raise self._lake_write_failed(exc) from exc
        self._run(
            statement("record_unit_insert"),
            {
                "seq": manifest.seq,
                "kind": manifest.kind,
                "label": manifest.label,
                "parts": len(manifest.parts),
                "row_count": manifest.rows,
                "manifest_sha256": sha,
                "prev_sha256": manifest.prev_sha256,
                "sealed_at": manifest.sealed_at,
            },
        )
        return manifest.seq, sha

    def _lake_write_failed(self, exc: OSError) -> WarehouseWriteError:
        return WarehouseWriteError(
            f"{self._unit_label}: writing its record to the lake failed ({_first_line(exc)}); "
            "nothing of it was written"
        )

    def _commit_outcome(self, sealed: tuple[int, str], exc: BaseException) -> bool | None:
        """Whether a commit that raised took effect anyway (DuckDB: "COMMIT succeeded and is
        durable, but the autocheckpoint failed"): asked of the warehouse itself, on a new
        connection when DuckDB invalidated this one. False: the pending unit is deleted. True:
        the caller keeps the unit and goes on, with a warning. None: nobody can tell now (the
        pending unit stays for the next writer to settle)."""
        from warehouse import record

        seq, sha = sealed
        try:
            committed = self._unit_committed(seq, sha)
        except duckdb.Error:
            try:
                self._reconnect()
                committed = self._unit_committed(seq, sha)
            except duckdb.Error:
                # Unknown until the next writer opens and settles the pending unit against the
                # warehouse: keep it for that.
                self._warn(
                    f"the commit of unit {seq} failed ({_first_line(exc)}) and the warehouse "
                    "cannot be asked whether it took effect: the next callbook writer settles it"
                )
                return None
        if not committed:
            record.discard_pending(self._record_dir_or_fail(), seq)
            return False
        self._warn(
            f"the work is committed (unit {seq}), but DuckDB's checkpoint after the commit "
            f"failed ({_first_line(exc)}): nothing is lost (DuckDB's log holds it); the next "
            "checkpoint, at the next publication or command, writes it into the file"
        )
        return True

    def _last_committed_unit(self) -> tuple[int, str] | None:
        if self._last_unit is None:
            row = self._first(statement("record_unit_last"))
            self._last_unit = (int(row[0]), str(row[1])) if row else None
        return self._last_unit

    def _record_dir_or_fail(self) -> Path:
        if self._record_dir is None:
            raise WarehouseError("this warehouse keeps no lake record")
        return self._record_dir

    def _unit_committed(self, seq: int, sha: str) -> bool:
        rows = self._rows(statement("record_units_from"), {"first": seq})
        return dict(rows).get(seq) == sha

    def _finalize_unit(self, sealed: tuple[int, str]) -> None:
        """Move a committed unit into place; a failure here loses nothing (the next writer
        finishes it) and is a warning, not an error: the work is committed."""
        from warehouse import record

        seq, _ = sealed
        try:
            record.finalize(self._record_dir_or_fail(), seq)
        except (OSError, record.RecordError) as exc:
            self._warn(
                f"the work is committed (unit {seq}), but moving its lake record into place "
                f"failed ({_first_line(exc)}): the next callbook writer moves it"
            )

    def _settle_record(self) -> None:
        """A writer, on opening: settle the units a dead or failed writer left pending (keep the
        committed, delete the others), before this writer records anything."""
        from warehouse import record

        root = record.record_dir(self.path)
        exists = self._first(statement("record_units_exists"))
        if not exists or not exists[0]:
            return  # made before the record existed: its base unit comes after the migrations
        if self._first(statement("record_unit_last")) is not None:
            self._record_dir = root  # the migrations about to run are units too
        pending = record.pending_seqs(root)
        if pending:
            committed = dict(self._rows(statement("record_units_from"), {"first": min(pending)}))
            record.reconcile(root, committed)
        last = self._first(statement("record_unit_last"))
        if last is not None:
            problem = record.disagreement(root, seq=int(last[0]), sha256=str(last[1]))
            if problem is not None:
                raise WarehouseDamagedError(
                    f"{self.path.name} and the lake's record disagree: {problem}. Nothing was "
                    "written. If the lake is right (the warehouse file was replaced by an older "
                    "or another one), `callbook rebuild --force` recreates the warehouse from it."
                )

    def _start_record(self) -> None:
        """Record this writer's units in the lake from now on; a warehouse whose record has not
        started (made before it existed, or new) first writes every table as a base unit."""
        from warehouse import record

        root = record.record_dir(self.path)
        exists = self._first(statement("record_units_exists"))
        if self._record_dir is not None or not exists or not exists[0]:
            return  # started already, or a schema without the record (tests of old migrations)
        found = record.unit_dirs(root)
        if found:
            raise WarehouseDamagedError(
                f"{self.path.name} has no record of its units, but {root / record.UNITS_DIR} "
                f"holds {len(found):,}: this is not the warehouse the lake recorded. Nothing was "
                "written. Recreate it from the lake with `callbook rebuild --force`, or move "
                "the lake's record aside to start a new one."
            )
        applied = self._applied_versions()
        self._record_dir = root
        try:
            with self.transaction("base", kind="base", migrations=_migration_sql(applied)):
                self._unit = record.PendingUnit(root, 1)
                for table in TABLES:
                    if table in DERIVED_TABLES or table == "record_units":
                        continue
                    reader = self.con.sql(with_identifiers(statement("table_rows"), table=table))
                    self._unit.add(table, "append", reader.fetch_record_batch())
        except BaseException:
            self._record_dir = None
            raise

    def replay(self, unit: Any) -> None:
        """Apply one unit of the lake's record (a :class:`warehouse.record.Unit`) in one
        transaction, as it was first committed: the migrations it applied (their SQL must be the
        one recorded), then every part in order, checked against its sha256 and row count, then
        its record_units row. Only on a database made by :meth:`create_for_rebuild`."""
        from warehouse import record

        manifest = unit.manifest
        by_version = {v: (name, sql) for v, name, sql in migrations()}
        with self.transaction():
            if manifest.kind == "base":
                self._run(statement("create_schema_migrations"))
            if manifest.kind in ("base", "migration"):
                for version, digest in sorted(manifest.migrations.items()):
                    if version not in by_version:
                        raise record.RecordError(
                            f"unit {manifest.seq} relies on migration {version:03d}, which this "
                            "callbook does not have: rebuild with the callbook that wrote it"
                        )
                    name, sql = by_version[version]
                    if record.sha256_text(sql) != digest:
                        raise record.RecordError(
                            f"migration {version:03d}_{name}.sql is not the SQL unit "
                            f"{manifest.seq} was recorded with (sha256 {digest[:16]})"
                        )
                    self._run(sql)
            for part in manifest.parts:
                path = unit.check_part(part)  # its sha256 and row count
                replay = _REPLAY.get((part.op, part.table if part.op == "close" else None))
                if replay is None or part.table not in TABLES:
                    raise record.RecordError(
                        f"unit {manifest.seq}: cannot replay {part.op} on {part.table!r}"
                    )
                sql = statement(replay)
                if "{table}" in sql:
                    sql = with_identifiers(sql, table=part.table)
                changed = self._first(sql, {"path": str(path)})
                if part.op == "close" and (not changed or changed[0] != part.rows):
                    raise record.RecordError(
                        f"unit {manifest.seq}: {part.name} closes {part.rows} {part.table} "
                        f"versions, {changed[0] if changed else 0} matched a current version"
                    )
            self._run(
                statement("record_unit_insert"),
                {
                    "seq": manifest.seq,
                    "kind": manifest.kind,
                    "label": manifest.label,
                    "parts": len(manifest.parts),
                    "row_count": manifest.rows,
                    "manifest_sha256": unit.sha256,
                    "prev_sha256": manifest.prev_sha256,
                    "sealed_at": manifest.sealed_at,
                },
            )

    def finish_rebuild(self) -> None:
        """After the last unit: the analyst views, the derived call changes, the id sequences
        moved past the ids the rows came back with, and a checkpoint (the file complete)."""
        self._create_views(derive_call_changes=True)
        self._run(statement("advance_sequences"))
        self.con.checkpoint()

    # -- reading -------------------------------------------------------------------------------

    def _query(self, sql: str, params: Mapping[str, Any] | None = None) -> pl.DataFrame:
        """Run one query and return its result as a polars frame."""
        relation = self.con.sql(sql, params=dict(params) if params else None)
        if relation is None:  # DuckDB returns no relation for an empty text or a non-query
            raise WarehouseError(f"not a query (no rows to return): {sql.strip()[:60]!r}")
        return to_polars(relation)

    def read(
        self,
        name: str,
        params: Mapping[str, Any] | None = None,
        *,
        frames: Mapping[str, pl.DataFrame] | None = None,
    ) -> pl.DataFrame:
        """The rows of the named query ``sql/<name>.sql`` (see :func:`sql_text`), its values bound
        from ``params``, with ``frames`` registered as tables under their names meanwhile."""
        with ExitStack() as stack:
            for table, frame in (frames or {}).items():
                stack.enter_context(self._registered(table, frame))
            return self._query(sql_text(name), params)

    def current_bars(
        self,
        root: str,
        *,
        source: str,
        start: date | None = None,
        end: date | None = None,
    ) -> pl.DataFrame:
        """Current bars of one root from one source (BAR_SCHEMA), by contract and session."""
        frame = self._query(
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
        frame = self._query(
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
        row = self._first(statement("last_session"), {"source": source, "root": root})
        return row[0] if row else None

    def bar_sources(self) -> set[str]:
        """The sources any batch came from ("demo" marks a warehouse of synthetic prices)."""
        return {row[0] for row in self._rows(statement("batch_sources"))}

    def root_sources(self, root: str) -> list[str]:
        """The sources of ``root``'s stored bars (every version), in name order."""
        return [row[0] for row in self._rows(statement("root_sources"), {"root": root})]

    def quarantine_rows(self, root: str | None = None, *, limit: int = 50) -> pl.DataFrame:
        return self._query(statement("quarantine_rows"), {"root": root, "limit": limit})

    def row_count(self, table: str) -> int:
        """Rows of ``table`` (one of TABLES) or of a view (one of VIEWS)."""
        row = self._first(with_identifiers(statement("row_count"), table=table))
        return int(row[0]) if row else 0

    def _append_only_counts(self) -> dict[str, int]:
        return {t: n for t, n in self.table_counts().items() if t in APPEND_ONLY_TABLES}

    def read_whole(self) -> int:
        """Read every value of every table this file holds (a block whose checksum does not
        match raises): the rows read."""
        return sum(
            int(row[0])
            for table in self.existing_tables()
            if (row := self._first(with_identifiers(statement("table_scan"), table=table)))
        )

    def existing_tables(self) -> list[str]:
        """The tables of TABLES this file holds (an older file lacks later migrations' tables)."""
        return [t for (t,) in self._rows(statement("existing_tables")) if t in TABLES]

    def table_counts(self) -> dict[str, int]:
        return {table: self.row_count(table) for table in TABLES}

    def table_rows(self, table: str) -> pl.DataFrame:
        """Every row of ``table`` (one of TABLES) or of a view (one of VIEWS), in no particular
        order."""
        return self._query(with_identifiers(statement("table_rows"), table=table))

    def content_hash(self, table: str) -> str:
        """md5 over every row of ``table`` in a canonical order (for idempotency checks)."""
        if table not in TABLES:
            raise ValueError(f"unknown table {table!r}; known: {', '.join(TABLES)}")
        row = self._first(with_identifiers(statement("table_content_hash"), table=table))
        return str(row[0]) if row else ""

    def superseded_bar_count(self) -> int:
        """Bar versions a later version replaced (all roots and sources)."""
        row = self._first(statement("superseded_bar_count"))
        return int(row[0]) if row else 0

    def ingest_status(self) -> pl.DataFrame:
        """`callbook status`, bars: one row per source and root (narrow: fits 100 columns)."""
        return self._query(statement("status_bars"))

    def call_status(self) -> pl.DataFrame:
        """`callbook status`, calls: one row per root, author, methodology and source."""
        return self._query(statement("status_snapshots"))

    def methodologies(self) -> pl.DataFrame:
        """The configured methodologies (``methodologies`` rows), the published one first."""
        return self._query(statement("methodologies"))

    def published_methodology(self) -> str | None:
        """The methodology the last run published (None before any run)."""
        row = self._first(statement("published_methodology"))
        return str(row[0]) if row else None

    def calls_list(
        self,
        *,
        root: str | None = None,
        methodology: str | None = None,
        author: str | None = None,
        kind: str | None = None,
        since: date | None = None,
        limit: int | None = None,
    ) -> pl.DataFrame:
        """`callbook calls list`: current versions, newest first, with outcomes (None: any)."""
        return self._query(
            statement("calls_list"),
            {
                "root": root,
                "methodology": methodology,
                "author": author,
                "kind": kind,
                "since": since,
                "limit": limit,
            },
        )

    def previous_call(
        self, root: str, *, author: str, methodology: str, source: str, as_of: date
    ) -> pl.DataFrame:
        """The current version of the same call that a note's "what changed" compares (a wide
        row; no row when there is none): the model's call of the previous session with bars (none
        when the last stored call is older), an analyst's last call before ``as_of``."""
        # Imported here: every read command imports this module and most never ask (~12 ms).
        from pipeline.analysis.snapshot import MODEL_AUTHOR

        return self._query(
            statement("previous_call"),
            {
                "model_author": MODEL_AUTHOR,
                "root": root,
                "author": author,
                "methodology": methodology,
                "source": source,
                "as_of": as_of,
            },
        )

    def scored_calls(
        self,
        *,
        root: str | None = None,
        author: str | None = None,
        kind: str | None = None,
        source: str | None = None,
        methodologies: Sequence[str] | None = None,
    ) -> pl.DataFrame:
        """Resolved calls with their scores (the ``scored_calls`` view), selected (None: any),
        by root, author, kind, methodology, source and as-of date."""
        return self._query(
            statement("scored_calls"),
            {
                "root": root,
                "author": author,
                "kind": kind,
                "source": source,
                "methodologies": list(methodologies) if methodologies is not None else None,
            },
        )

    def status_so_far(self, snapshot_id: str) -> str | None:
        """An open call's status so far as the last resolution run recorded it (the open_calls
        view); None before its first session after the call, once resolved or superseded."""
        row = self._first(statement("status_so_far"), {"snapshot_id": snapshot_id})
        return str(row[0]) if row else None

    def outcome_rows(self, snapshot_id: str) -> pl.DataFrame:
        """The stored outcome of one snapshot (no row while it is open)."""
        return self._query(statement("outcome_of"), {"snapshot_id": snapshot_id})

    # -- writing -------------------------------------------------------------------------------

    def record_batch(
        self,
        batch: Batch | ReceivedBatch,
        *,
        lake_path: str,
        run_id: str | None,
        recorded_at: datetime,
    ) -> bool:
        """Record a landed batch before validation (one transaction). True if it was seen before."""
        params = {
            "batch_id": batch.sha256,
            "source": batch.source,
            "root": batch.root,
            "fetched_at": batch.fetched_at,
            "run_id": run_id,
        }
        with self.transaction(f"record_batch {batch.root} {batch.sha256[:16]}"):
            duplicate = self.batch_recorded(batch.sha256)
            if not duplicate:
                self._capture(
                    "ingest_batches",
                    "append",
                    statement("record_batch"),
                    {
                        **params,
                        "window_start": batch.window_start,
                        "window_end": batch.window_end,
                        "row_count": batch.row_count,
                        "lake_path": str(lake_path),
                        "metadata": json.dumps(batch.metadata, default=str, sort_keys=True),
                        "recorded_at": recorded_at,
                    },
                )
            self._capture(
                "fetch_log",
                "append",
                statement("record_fetch"),
                {**params, "outcome": "duplicate" if duplicate else "landed", "message": None},
            )
        return duplicate

    def batch_recorded(self, batch_id: str) -> bool:
        """Whether a batch with this sha256 is in ingest_batches."""
        seen = self._first(statement("batch_seen"), {"batch_id": batch_id})
        return bool(seen and seen[0])

    def record_fetch_failure(
        self, root: str, source: str, at: datetime, run_id: str | None, message: str
    ) -> None:
        with self.transaction(f"record_fetch_failure {root}"):
            self._capture(
                "fetch_log",
                "append",
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
        batch: Batch | ReceivedBatch,
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
        with self.transaction(f"load_batch {batch.root} {batch.sha256[:16]}"):
            self._capture(
                "validation_runs",
                "append",
                statement("record_validation"),
                {
                    "batch_id": batch.sha256,
                    "suite_name": validation.suite_name,
                    "suite_version": validation.suite_version,
                    "validated_at": recorded_at,
                    "status": validation.status,
                    "rejection": validation.rejection,
                    "row_count": batch.row_count,
                    "clean_rows": clean.height,
                    "quarantined_rows": counts["error"],
                    "warning_count": warnings,
                    "deferred_rows": counts["deferred"],
                    "expectations": json.dumps(validation.expectations, default=str),
                    "run_id": run_id,
                },
            )
            at = {**scope, "recorded_at": recorded_at}
            for part in findings.iter_slices(_FINDINGS_PER_INSERT):
                rows = part["row_index"]
                of_part = {**at, "first_row": rows.min(), "last_row": rows.max()}
                with self._registered("incoming_findings", part):
                    self._insert_captured("quarantine", statement("new_quarantine"), of_part)
                    self._insert_captured("row_findings", statement("new_row_findings"), of_part)
            with self._registered("incoming_bars", clean):
                self._run(statement("stage_bar_changes"), {"source": batch.source})
            changes = dict(self._rows(statement("bar_change_counts")))
            self._capture(
                "bars", "close", statement("supersede_bars"), {"recorded_at": recorded_at}
            )
            self._capture(
                "bars",
                "append",
                statement("insert_bars"),
                {"batch_id": batch.sha256, "recorded_at": recorded_at},
            )
            self._run(statement("drop_bar_changes"))
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
        roots = ",".join(sorted(set(rows["root"].to_list())))
        with self.transaction(f"write_snapshots {kind} {roots} ({rows.height:,} received)"):
            with self._registered("incoming_keys", keys):
                latest = self._query(statement("latest_snapshot_versions"))
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
        with self.transaction(f"write_rolls {source}"):
            with self._registered("incoming_rolls", rolls):
                self._run(statement("stage_roll_changes"), {"source": source})
            changes = dict(self._rows(statement("roll_change_counts")))
            at = {"recorded_at": recorded_at}
            self._capture("rolls", "close", statement("supersede_rolls"), at)
            self._capture("rolls", "append", statement("insert_rolls"), at)
            self._run(statement("drop_roll_changes"))
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
        return self._query(
            with_identifiers(statement("snapshot_rows"), table=table),
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
        with self.transaction("record_methodologies"):
            for entry in entries:
                self._capture(
                    "methodologies",
                    "upsert",
                    statement("record_methodology"),
                    {
                        "methodology_version": entry.version,
                        "params_hash": entry.params_hash,
                        "params": json.dumps(entry.params, default=str, sort_keys=True),
                        "published": entry.published,
                        "configured_at": at,
                        "tuning_declared": entry.tuning_declared,
                        "tuned_through": entry.tuned_through,
                        "tuned_on": entry.tuned_on,
                        "tuning_note": entry.tuning_note,
                    },
                )
                for root, synthetic, through in entry.tuned_roots:
                    self._capture(
                        "tuning_periods",
                        "upsert",
                        statement("insert_tuning_period"),
                        {
                            "methodology_version": entry.version,
                            "root": root,
                            "synthetic": synthetic,
                            "tuned_through": through,
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
        with self.transaction(f"record_inbox_file {root} {file_name}"):
            self._capture(
                "inbox_files",
                "append",
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
        return self._query(
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
        return self._query(
            statement("open_snapshots"),
            {"root": root, "source": source, "author": author, "as_of": as_of, "kind": kind},
        )

    def append_progress(self, progress: pl.DataFrame, *, source: str, recorded_at: datetime) -> int:
        """Append open calls' status so far (one transaction); a status already stored for the
        same call and session is kept. Returns the rows written."""
        if progress.height == 0:
            return 0
        with (
            self.transaction(f"append_progress {source}"),
            self._registered("incoming_progress", progress),
        ):
            return self._capture(
                "call_progress",
                "append",
                statement("insert_progress"),
                {"resolved_on_source": source, "recorded_at": recorded_at},
            )

    def bars_as_known(
        self, root: str, *, source: str, known_at: datetime, end: date
    ) -> pl.DataFrame:
        """Bars (BAR_SCHEMA) of one root up to ``end`` as known at ``known_at``: vendor revisions
        recorded later are not used; bars first recorded later count in their first version."""
        frame = self._query(
            statement("bars_as_known"),
            {"source": source, "root": root, "known_at": known_at, "end": end},
        )
        return (
            frame.cast(pl.Schema(BAR_SCHEMA)) if frame.height else pl.DataFrame(schema=BAR_SCHEMA)
        )

    def superseded_bars(self, root: str, *, source: str) -> pl.DataFrame:
        """(session_date, superseded_at) of every bar version a vendor revision replaced."""
        return self._query(statement("superseded_bars"), {"source": source, "root": root})

    def append_outcomes(
        self, outcomes: pl.DataFrame, *, series_through: date, recorded_at: datetime
    ) -> int:
        """Append outcomes in one transaction; those already stored are skipped. Returns the count
        written."""
        if outcomes.height == 0:
            return 0
        with (
            self.transaction(f"append_outcomes through {series_through}"),
            self._registered("incoming_outcomes", outcomes),
        ):
            return self._capture(
                "outcomes",
                "append",
                statement("insert_outcomes"),
                {"series_through": series_through, "recorded_at": recorded_at},
            )

    def _insert_by_name(self, table: str, frame: pl.DataFrame) -> None:
        with self._registered("incoming_rows", frame):
            self._capture(
                table, "append", with_identifiers(statement("insert_by_name"), table=table)
            )

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
    if not path.exists() and _has_record(path):
        raise WarehouseDamagedError(
            f"{path.name} is missing but the lake in {path.parent} holds its record: nothing "
            "was written. Restore the warehouse with `callbook rebuild` (from the lake, "
            "checking every hash)."
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


def _has_record(path: Path) -> bool:
    """Whether the lake holds a record of the warehouse ``path``'s units (warehouse/record.py)."""
    from warehouse import record

    return bool(record.unit_dirs(record.record_dir(path)))


def _migration_sql(versions: set[int]) -> dict[int, str]:
    """version -> SQL of the given applied migrations this code has."""
    return {v: sql for v, _, sql in migrations() if v in versions}


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def _refuse_regression(counts: Mapping[str, int], replica: Path) -> None:
    """Raise ReplicaRegressionError if ``counts`` (of the record about to be published) hold fewer
    rows in a table that only grows than the current ``replica`` does. A replica that cannot be
    opened (missing, damaged, held open for writing by another session) is no better record."""
    shrunk = fewer_rows(counts, replica)
    if shrunk:
        raise ReplicaRegressionError(
            f"not publishing: the record would lose rows the published replica {replica.name} "
            f"holds ({'; '.join(shrunk)}); the replica is kept as it was"
        )


def fewer_rows(counts: Mapping[str, int], other: Path) -> list[str]:
    """``"table before -> after"`` for each table of ``counts`` (a record about to replace the
    DuckDB file ``other``) that holds fewer rows than ``other`` does; empty if ``other`` cannot
    be opened (no better record) or a table is new."""
    try:
        con = duckdb.connect(str(other), read_only=True)
    except (duckdb.Error, OSError):
        return []
    theirs: dict[str, int] = {}
    with con:
        for table in counts:
            with suppress(duckdb.Error):  # a table a later migration added
                row = con.execute(with_identifiers(statement("row_count"), table=table)).fetchone()
                theirs[table] = int(row[0]) if row else 0
    return [
        f"{table} {theirs[table]:,} -> {n:,}"
        for table, n in counts.items()
        if n < theirs.get(table, 0)
    ]


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
