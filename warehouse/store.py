"""The DuckDB warehouse: the only code that opens the database.

One file, ``<data dir>/warehouse.duckdb``. Opening it for writing applies the numbered migrations
in ``sql/migrations`` (recorded in ``schema_migrations``) and refreshes the analyst views in
``sql/views``. Every unit of work runs in one transaction, so a crash leaves either the old state or
the new one. DuckDB allows one writing process at a time: a second writer waits up to
``lock_timeout`` seconds for the lock and then fails with a message naming the holder; readers open
the file read-only.

SQL lives in ``sql/``; values are always bound parameters, identifiers come from allow-lists.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, datetime
from functools import cache
from pathlib import Path
from types import TracebackType
from typing import Any

import duckdb
import polars as pl

from pipeline.quality.result import ValidationResult
from pipeline.schema import BAR_SCHEMA, Batch

SQL_DIR = Path(__file__).parent / "sql"
DEFAULT_LOCK_TIMEOUT = 30.0
_LOCK_POLL_SECONDS = 0.25
_LOCK_HOLDER = re.compile(r"Conflicting lock is held in (?P<program>.+?) \(PID (?P<pid>\d+)\)")

#: What identifies one call; each key has its own chain of versions.
SNAPSHOT_KEY: tuple[str, ...] = ("root", "as_of", "author", "methodology_version", "source")

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
    "outcomes",
    "call_progress",
    "methodologies",
    "rolls",
    "schema_migrations",
)


class WarehouseError(RuntimeError):
    pass


class WarehouseLockedError(WarehouseError):
    """Another process holds the write lock."""


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


class Warehouse:
    """A connection to the warehouse file. Use :meth:`open` as a context manager."""

    def __init__(self, path: Path, connection: duckdb.DuckDBPyConnection, read_only: bool) -> None:
        self.path = path
        self.con = connection
        self.read_only = read_only

    # -- opening -------------------------------------------------------------------------------

    @classmethod
    def open(
        cls,
        path: str | Path,
        *,
        read_only: bool = False,
        lock_timeout: float = DEFAULT_LOCK_TIMEOUT,
    ) -> Warehouse:
        path = Path(path)
        if read_only and not path.exists():
            raise WarehouseError(
                f"no warehouse at {path}: run `callbook nightly` first (or pass --data-dir)"
            )
        if not read_only:
            path.parent.mkdir(parents=True, exist_ok=True)
        con = _connect(path, read_only=read_only, lock_timeout=lock_timeout)
        con.execute("set TimeZone = 'UTC'").fetchall()
        warehouse = cls(path, con, read_only)
        if read_only:
            warehouse._check_schema_current()
        else:
            warehouse._migrate()
        return warehouse

    @classmethod
    def in_memory(cls) -> Warehouse:
        """A fresh, migrated in-memory warehouse (tests)."""
        con = duckdb.connect(":memory:")
        con.execute("set TimeZone = 'UTC'").fetchall()
        warehouse = cls(Path(":memory:"), con, read_only=False)
        warehouse._migrate()
        return warehouse

    def close(self) -> None:
        self.con.close()

    def __enter__(self) -> Warehouse:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

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
        table = self.con.sql(sql, params=dict(params) if params else None).to_arrow_table()
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

    def last_session(self, root: str, *, source: str) -> date | None:
        row = self._first(
            "select max(session_date) from bars_current where source = $source and root = $root",
            {"source": source, "root": root},
        )
        return row[0] if row else None

    def status(self) -> pl.DataFrame:
        return self.query("select * from ingest_status")

    def quarantine_rows(self, root: str | None = None, *, limit: int = 50) -> pl.DataFrame:
        return self.query(statement("quarantine_rows"), {"root": root, "limit": limit})

    def table_counts(self) -> dict[str, int]:
        counts = {}
        for table in TABLES:
            row = self._first(f"select count(*) from {table}")
            counts[table] = int(row[0]) if row else 0
        return counts

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
        superseding = new.filter(pl.col("supersedes_version").is_not_null()).height
        return SnapshotWrite(new.height, rows.height - new.height, superseding)

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
        self.con.register(name, frame.to_arrow())
        try:
            yield
        finally:
            self.con.unregister(name)


def _connect(path: Path, *, read_only: bool, lock_timeout: float) -> duckdb.DuckDBPyConnection:
    deadline = time.monotonic() + lock_timeout
    while True:
        try:
            return duckdb.connect(str(path), read_only=read_only)
        except duckdb.IOException as exc:
            holder = _LOCK_HOLDER.search(str(exc))
            if holder is None:
                raise
            if time.monotonic() >= deadline:
                raise WarehouseLockedError(
                    f"{path} is locked by another callbook process (PID {holder['pid']}, "
                    f"{holder['program']}); waited {lock_timeout:.0f} s. Try again when it has "
                    "finished."
                ) from exc
            time.sleep(_LOCK_POLL_SECONDS)
