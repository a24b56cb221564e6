"""The warehouse: migrations, bitemporal bars, atomic loads, idempotency, locking."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import duckdb
import polars as pl
import pyarrow as pa
import pytest

from pipeline.quality.result import FINDING_SCHEMA, ValidationResult, empty_findings
from pipeline.schema import BAR_SCHEMA, Batch
from tests.support.sql import query
from warehouse import record, store
from warehouse.store import Warehouse, WarehouseError, WarehouseLockedError

T0 = datetime(2026, 2, 5, 1, 0, tzinfo=UTC)
T1 = T0 + timedelta(days=1)
T2 = T0 + timedelta(days=2)


def bars(closes: dict[date, float], contract: str = "RTYH26") -> pl.DataFrame:
    days = sorted(closes)
    return pl.DataFrame(
        {
            "root": ["RTY"] * len(days),
            "contract": [contract] * len(days),
            "session_date": days,
            "open": [closes[d] - 1 for d in days],
            "high": [closes[d] + 5 for d in days],
            "low": [closes[d] - 5 for d in days],
            "close": [closes[d] for d in days],
            "volume": [1000 + i for i in range(len(days))],
            "open_interest": [None] * len(days),
        },
        schema=BAR_SCHEMA,
    )


def batch_of(frame: pl.DataFrame, fetched_at: datetime = T0, source: str = "demo") -> Batch:
    return Batch(source, "RTY", frame.to_arrow(), frame, fetched_at, None, date(2026, 2, 4), {})


def passed(batch: Batch, findings: pl.DataFrame | None = None) -> ValidationResult:
    findings = empty_findings() if findings is None else findings
    bad = set(findings.filter(pl.col("severity") != "warning")["row_index"].to_list())
    clean = batch.bars.with_row_index("i").filter(~pl.col("i").is_in(list(bad))).drop("i")
    return ValidationResult(
        status="partial" if bad else "passed",
        clean=clean,
        findings=findings,
        suite_name="test",
        suite_version="1",
    )


def load(wh: Warehouse, batch: Batch, at: datetime, findings: pl.DataFrame | None = None):
    duplicate = wh.record_batch(batch, lake_path="lake/x.parquet", run_id="run", recorded_at=at)
    return wh.load_batch(
        batch, passed(batch, findings), run_id="run", recorded_at=at, duplicate=duplicate
    )


FEB = {date(2026, 2, 2): 2541.0, date(2026, 2, 3): 2589.3, date(2026, 2, 4): 2618.4}


@pytest.fixture
def wh() -> Warehouse:
    warehouse = Warehouse.in_memory()
    yield warehouse
    warehouse.close()


def test_migrations_are_recorded_and_applied_once(tmp_path: Path) -> None:
    path = tmp_path / "w.duckdb"
    with Warehouse.open(path) as first:
        versions = query(first, "select version, name from schema_migrations order by version")
    assert versions["version"].to_list() == [v for v, _, _ in store.migrations()]
    with Warehouse.open(path) as again:
        assert again.table_counts()["schema_migrations"] == versions.height


def test_new_then_identical_batch_changes_nothing(wh: Warehouse) -> None:
    batch = batch_of(bars(FEB))
    first = load(wh, batch, T0)
    assert (first.inserted, first.revised, first.unchanged, first.duplicate) == (3, 0, 0, False)
    hash_before = wh.content_hash("bars")
    again = load(wh, batch, T1)
    assert (again.inserted, again.revised, again.unchanged, again.duplicate) == (0, 0, 3, True)
    assert wh.content_hash("bars") == hash_before
    assert wh.table_counts()["ingest_batches"] == 1
    assert query(wh, "select outcome from fetch_log order by fetch_id")["outcome"].to_list() == [
        "landed",
        "duplicate",
    ]


def test_revision_supersedes_and_keeps_the_old_version(wh: Warehouse) -> None:
    load(wh, batch_of(bars(FEB)), T0)
    revised = dict(FEB)
    revised[date(2026, 2, 4)] = 2620.0
    outcome = load(wh, batch_of(bars(revised)), T1)
    assert (outcome.inserted, outcome.revised, outcome.unchanged) == (0, 1, 2)

    history = query(
        wh,
        "select close, recorded_at, superseded_at from bars "
        "where session_date = '2026-02-04' order by recorded_at",
    )
    assert history["close"].to_list() == [2618.4, 2620.0]
    assert history["superseded_at"].to_list() == [T1, None]
    current = wh.current_bars("RTY", source="demo")
    assert current.filter(pl.col("session_date") == date(2026, 2, 4))["close"].item() == 2620.0
    assert current.height == 3

    # "As known at" any past moment is a query, not a copy.
    def close_known_at(at: datetime) -> list[float]:
        return query(
            wh, "select close from bars_as_of($at) where session_date = '2026-02-04'", {"at": at}
        )["close"].to_list()

    assert close_known_at(T0 - timedelta(seconds=1)) == []
    assert close_known_at(T0) == [2618.4]
    assert close_known_at(T1 - timedelta(seconds=1)) == [2618.4]
    assert close_known_at(T2) == [2620.0]
    revisions = query(wh, "select old_close, new_close from bar_revisions")
    assert revisions.rows() == [(2618.4, 2620.0)]


def test_null_volume_equal_to_null_is_not_a_revision(wh: Warehouse) -> None:
    frame = bars(FEB).with_columns(pl.lit(None, dtype=pl.Int64).alias("volume"))
    load(wh, batch_of(frame), T0)
    assert load(wh, batch_of(frame, fetched_at=T1), T1).unchanged == 3


def test_sources_keep_separate_histories(wh: Warehouse) -> None:
    load(wh, batch_of(bars(FEB), source="demo"), T0)
    other = {d: c + 10 for d, c in FEB.items()}
    outcome = load(wh, batch_of(bars(other), source="file"), T1)
    assert (outcome.inserted, outcome.revised) == (3, 0)
    assert wh.last_session("RTY", source="file") == date(2026, 2, 4)
    assert wh.current_bars("RTY", source="demo")["close"].to_list() == list(FEB.values())


def test_quarantined_rows_are_kept_with_rule_and_raw_row_and_not_loaded(wh: Warehouse) -> None:
    batch = batch_of(bars(FEB))
    findings = pl.DataFrame(
        {
            "row_index": [1, 2],
            "rule": ["ohlc.high_bound", "volume.zero"],
            "severity": ["error", "warning"],
            "detail": ["high 2594.3 < max(open, close)", "volume is 0"],
            "contract": ["RTYH26", "RTYH26"],
            "session_date": [date(2026, 2, 3), date(2026, 2, 4)],
            "raw_row": ['{"close": 2589.3}', '{"close": 2618.4}'],
        },
        schema=FINDING_SCHEMA,
    )
    outcome = load(wh, batch, T0, findings)
    assert (outcome.inserted, outcome.quarantined, outcome.warnings) == (2, 1, 1)
    q = wh.quarantine_rows("RTY")
    assert q.select("session_date", "rule").rows() == [(date(2026, 2, 3), "ohlc.high_bound")]
    assert q["raw_row"].item() == '{"close": 2589.3}'
    assert query(wh, "select rule, severity from row_findings").rows() == [
        ("volume.zero", "warning")
    ]
    assert date(2026, 2, 3) not in wh.current_bars("RTY", source="demo")["session_date"].to_list()
    # Validating the same batch again adds no finding.
    load(wh, batch, T1, findings)
    assert wh.table_counts()["quarantine"] == 1
    assert wh.table_counts()["row_findings"] == 1
    assert wh.table_counts()["validation_runs"] == 2
    # Neither does the same bad bar arriving again in a later, overlapping batch.
    overlapping = batch_of(bars({**FEB, date(2026, 2, 5): 2630.0}), fetched_at=T2)
    assert overlapping.sha256 != batch.sha256
    load(wh, overlapping, T2, findings)
    assert wh.table_counts()["quarantine"] == 1
    # A different raw value for the same bar and rule is a new finding.
    changed = findings.with_columns(pl.lit('{"close": 2589.4}').alias("raw_row"))
    load(wh, overlapping, T2, changed)
    assert wh.table_counts()["quarantine"] == 2


@pytest.mark.parametrize("per_insert", [1, 5, 122_880])
def test_findings_stored_once_and_the_lakes_record_holds_exactly_the_rows_inserted(
    per_insert: int, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Warehouse.load_batch inserts the findings in plain inserts of ``_FINDINGS_PER_INSERT``
    rows and, before each, streams the same select into the unit of the lake's record: the rows
    the record holds are the rows the tables hold, whatever the slices; findings already on
    record from an earlier batch are not stored twice, and loading the same batch again adds
    nothing."""
    monkeypatch.setattr(store, "_FINDINGS_PER_INSERT", per_insert)
    days = [date(2026, 1, 5) + timedelta(days=i) for i in range(12)]
    batch = batch_of(bars({d: 2500.0 + i for i, d in enumerate(days)}), fetched_at=T1)
    rules = ["ohlc.inverted", "volume.zero", "key.unique", "session.final"]
    severity = {"ohlc.inverted": "error", "key.unique": "error"}
    rows = [
        (i, rule, severity.get(rule, "warning" if rule == "volume.zero" else "deferred"), d)
        for i, d in enumerate(days)
        for rule in rules[: 1 + i % 4]
    ]
    findings = pl.DataFrame(
        {
            "row_index": [r[0] for r in rows],
            "rule": [r[1] for r in rows],
            "severity": [r[2] for r in rows],
            "detail": [f"{r[1]} on row {r[0]}" for r in rows],
            "contract": ["RTYH26"] * len(rows),
            "session_date": [r[3] for r in rows],
            "raw_row": [f'{{"close": {2500 + r[0]}}}' for r in rows],
        },
        schema=FINDING_SCHEMA,
    )
    earlier = batch_of(bars({days[0]: 2500.0, days[5]: 2505.0}), fetched_at=T0)
    on_record = findings.filter(pl.col("row_index").is_in([0, 5])).with_columns(
        pl.when(pl.col("row_index") == 5).then(1).otherwise(0).alias("row_index")
    )

    columns = "batch_id, row_index, rule, detail, contract, session_date, raw_row::varchar"
    stored: dict[str, list[tuple[object, ...]]] = {}
    with Warehouse.open(tmp_path / "warehouse.duckdb") as wh:
        load(wh, earlier, T0, on_record)
        load(wh, batch, T1, findings)
        load(wh, batch, T2, findings)  # the same batch again: nothing new
        for table in ("quarantine", "row_findings"):
            stored[table] = query(wh, f"select {columns} from {table} order by all").rows()
    # errors: ohlc.inverted on the 12 rows, key.unique on 6; rows 0 and 5's ohlc.inverted were
    # on record already (the earlier batch's 2): 2 + 18 - 2
    assert len(stored["quarantine"]) == 18
    # warnings and deferrals: of rules[:1 + i % 4] of row i, 0, 1, 1, 2 per 4 rows: 12, of
    # which row 5's volume.zero was on record already (the earlier batch's row 1): 1 + 12 - 1
    assert len(stored["row_findings"]) == 12
    scanned = record.scan(record.record_dir(tmp_path / "warehouse.duckdb"))
    for table in ("quarantine", "row_findings"):
        parts = [
            str(unit.check_part(part))
            for unit in scanned.units
            for part in unit.manifest.parts
            if part.table == table
        ]
        with duckdb.connect() as con:
            rows = con.sql(
                f"select {columns} from read_parquet($parts, union_by_name = true) order by all",
                params={"parts": parts},
            ).fetchall()
        assert rows == stored[table]


def test_a_failure_in_the_middle_of_a_load_leaves_the_warehouse_as_it_was(
    wh: Warehouse, monkeypatch: pytest.MonkeyPatch
) -> None:
    load(wh, batch_of(bars(FEB)), T0)
    before = {t: wh.content_hash(t) for t in store.TABLES if t != "fetch_log"}
    revised = {**FEB, date(2026, 2, 4): 2500.0, date(2026, 2, 5): 2510.0}
    batch = batch_of(bars(revised), fetched_at=T1)
    wh.record_batch(batch, lake_path="x", run_id=None, recorded_at=T1)
    before["ingest_batches"] = wh.content_hash("ingest_batches")

    real = store.statement

    def failing(name: str) -> str:
        # The old version is already superseded when the insert of the new one fails.
        if name == "insert_bars":
            return "insert into bars select * from no_such_table"
        return real(name)

    monkeypatch.setattr(store, "statement", failing)
    with pytest.raises(Exception, match="no_such_table"):
        wh.load_batch(batch, passed(batch), run_id=None, recorded_at=T1)
    monkeypatch.setattr(store, "statement", real)
    assert {t: wh.content_hash(t) for t in before} == before
    assert wh.current_bars("RTY", source="demo")["close"].to_list() == list(FEB.values())


def test_reader_needs_an_existing_warehouse(tmp_path: Path) -> None:
    with pytest.raises(WarehouseError, match=r"no warehouse at .*callbook nightly"):
        Warehouse.open(tmp_path / "missing.duckdb", read_only=True)


def test_content_hash_refuses_unknown_tables(wh: Warehouse) -> None:
    with pytest.raises(ValueError, match="unknown table 'bars; drop table bars'"):
        wh.content_hash("bars; drop table bars")


def test_a_duckdb_session_on_the_writers_file_is_waited_for_then_named(tmp_path: Path) -> None:
    """Outside callbook's writer lock (someone opened warehouse.duckdb itself): wait, then one line
    naming the process and pointing readers at the replica."""
    path = tmp_path / "w.duckdb"
    Warehouse.open(path).close()
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            textwrap.dedent(
                f"""
                import sys, time, duckdb
                con = duckdb.connect({str(path)!r})
                print("locked", flush=True)
                sys.stdin.readline()
                """
            ),
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "locked"
        started = datetime.now(UTC)
        with pytest.raises(
            WarehouseLockedError,
            match=rf"held open by another process \(PID {holder.pid}, .*\) outside callbook's "
            r"writer lock; waited 1 s\. Readers should open w\.read\.duckdb",
        ) as raised:
            Warehouse.open(path, lock_timeout=1.0)
        assert datetime.now(UTC) - started >= timedelta(seconds=1)
        assert "\n" not in str(raised.value)
    finally:
        assert holder.stdin is not None
        holder.stdin.write("\n")
        holder.stdin.flush()
        holder.wait(timeout=10)
    with Warehouse.open(path, read_only=True) as reader:
        assert reader.table_counts()["bars"] == 0


def test_many_readers_share_the_file(tmp_path: Path) -> None:
    path = tmp_path / "w.duckdb"
    with Warehouse.open(path) as writer:
        load(writer, batch_of(bars(FEB)), T0)
    with Warehouse.open(path, read_only=True) as a, Warehouse.open(path, read_only=True) as b:
        assert a.table_counts()["bars"] == b.table_counts()["bars"] == 3
        with pytest.raises(Exception, match="read-only"):
            query(a, "delete from bars")


def test_register_roundtrip_keeps_arrow_types(wh: Warehouse) -> None:
    assert isinstance(batch_of(bars(FEB)).raw, pa.Table)


def seed_call_rows(p_bull: float = 0.4) -> pl.DataFrame:
    from pipeline.audit.analyst import analyst_snapshot_rows, parse_analyst_call

    text = (
        Path(__file__).resolve().parents[2] / "pipeline/audit/examples/rty-2026-02-04-seed.toml"
    ).read_text()
    text = text.replace(
        'probability = 0.40\ntrigger = "RTY holds', f'probability = {p_bull}\ntrigger = "RTY holds'
    )
    text = text.replace(
        "[scenarios.sideways]\nprobability = 0.40",
        f"[scenarios.sideways]\nprobability = {0.8 - p_bull:.2f}",
    )
    market = {
        "contract": "RTYH26",
        "close": 2617.4,
        "atr14": 35.9,
        "sma50": 2634.7,
        "roll_offset": 0.0,
        "roll_factor": 1.0,
    }
    rows = analyst_snapshot_rows(parse_analyst_call(text), market)
    return rows.with_columns(resolved_on_source=pl.lit("demo"))  # the bars it is resolved on


def test_snapshots_are_versioned_never_updated(wh: Warehouse) -> None:
    write = {"kind": "analyst", "flow_run_id": None, "code_version": "test"}
    first = wh.write_snapshots(seed_call_rows(), created_at=T0, **write)
    assert (first.written, first.unchanged, first.superseding) == (1, 0, 0)
    same = wh.write_snapshots(seed_call_rows(), created_at=T1, **write)
    assert (same.written, same.unchanged) == (0, 1)
    changed = wh.write_snapshots(seed_call_rows(p_bull=0.5), created_at=T1, **write)
    assert (changed.written, changed.superseding) == (1, 1)
    # Back to the first content: compared with the LATEST version, so it is version 3.
    back = wh.write_snapshots(seed_call_rows(), created_at=T2, **write)
    assert back.written == 1
    versions = query(
        wh,
        "select version, supersedes_version, p_bull, snapshot_id, created_at from snapshots order by version",
    )
    assert versions.select("version", "supersedes_version", "p_bull").rows() == [
        (1, None, 0.4),
        (2, 1, 0.5),
        (3, 2, 0.4),
    ]
    assert versions["snapshot_id"].to_list() == [
        f"RTY/2026-02-04/seed-note/analyst/analyst/v{v}" for v in (1, 2, 3)
    ]
    assert versions["created_at"].to_list() == [T0, T1, T2]
    assert (
        wh.table_counts()["snapshot_levels"] == 12 and wh.table_counts()["snapshot_scenarios"] == 9
    )
    latest = wh.snapshot_rows("RTY", author="seed-note")
    assert latest.select("version", "p_bull").rows() == [(3, 0.4)]
    scenarios = query(
        wh,
        "select scenario, ordinal, probability from snapshot_scenarios where version = 2 order by ordinal",
    )
    assert scenarios.rows() == [("bear", 0, 0.2), ("sideways", 1, 0.3), ("bull", 2, 0.5)]


def _as_methodology(rows: pl.DataFrame, version: str, source: str | None = None) -> pl.DataFrame:
    from pipeline.analysis.assemble import with_content_hash

    renamed = rows.with_columns(pl.lit(version).alias("methodology_version"))
    if source is not None:
        renamed = renamed.with_columns(pl.lit(source).alias("source"))
    return with_content_hash(renamed.drop("content_hash"))


def test_each_methodology_and_source_has_its_own_version_chain(wh: Warehouse) -> None:
    write = {"kind": "backfill", "flow_run_id": None, "code_version": "test"}
    wh.write_snapshots(seed_call_rows(), created_at=T0, **write)
    other = _as_methodology(seed_call_rows(), "v9")
    elsewhere = _as_methodology(seed_call_rows(), "v9", source="yahoo")
    result = wh.write_snapshots(pl.concat([other, elsewhere]), created_at=T1, **write)
    assert (result.written, result.superseding) == (2, 0)
    stored = query(
        wh,
        "select snapshot_id, methodology_version, source, version, supersedes_version"
        " from snapshots order by snapshot_id",
    )
    assert stored.rows() == [
        ("RTY/2026-02-04/seed-note/analyst/analyst/v1", "analyst", "analyst", 1, None),
        ("RTY/2026-02-04/seed-note/v9/analyst/v1", "v9", "analyst", 1, None),
        ("RTY/2026-02-04/seed-note/v9/yahoo/v1", "v9", "yahoo", 1, None),
    ]
    # A changed v9 call supersedes only its own chain.
    changed = _as_methodology(seed_call_rows(p_bull=0.5), "v9")
    assert wh.write_snapshots(changed, created_at=T2, **write).superseding == 1
    latest = wh.snapshot_rows("RTY", author="seed-note", methodology="v9", source="analyst")
    assert latest.select("version", "p_bull").rows() == [(2, 0.5)]
    assert wh.snapshot_rows("RTY", author="seed-note", methodology="analyst")[
        "version"
    ].to_list() == [1]
    assert query(wh, "select count(*) as n from latest_snapshots")["n"].item() == 3


def test_migration_004_keeps_stored_snapshots_as_they_were(tmp_path: Path) -> None:
    """A warehouse written before 004 (key without methodology and source) opens with every row,
    id, version and content hash unchanged, and new calls get the new ids."""
    import duckdb

    path = tmp_path / "old.duckdb"
    con = duckdb.connect(str(path))
    con.execute(
        "create table schema_migrations (version integer primary key, name varchar not null,"
        " applied_at timestamptz not null)"
    )
    for version, name, sql in store.migrations():
        if version <= 3:
            con.execute(sql)
            con.execute("insert into schema_migrations values (?, ?, now())", [version, name])
    old = (
        seed_call_rows()
        .drop("resolved_on_source")
        .with_columns(
            pl.lit("RTY/2026-02-04/seed-note/v1").alias("snapshot_id"),
            pl.lit(1, dtype=pl.Int32).alias("version"),
            pl.lit(None, dtype=pl.Int32).alias("supersedes_version"),
            pl.lit("analyst").alias("kind"),
            pl.lit(T0).alias("created_at"),
        )
    )
    con.register("old_rows", old.to_arrow())
    con.execute("insert into snapshots by name select * from old_rows")
    cursor = con.execute("select * from snapshots")
    before = cursor.fetchall()
    columns = ", ".join(d[0] for d in cursor.description)
    con.close()

    with Warehouse.open(path) as wh:
        assert 4 in wh._applied_versions()
        assert query(wh, f"select {columns} from snapshots").rows() == before
        again = wh.write_snapshots(
            seed_call_rows(), kind="analyst", flow_run_id=None, code_version="t", created_at=T1
        )
        assert (again.written, again.unchanged) == (0, 1)
        changed = wh.write_snapshots(
            seed_call_rows(p_bull=0.5),
            kind="analyst",
            flow_run_id=None,
            code_version="t",
            created_at=T1,
        )
        assert changed.superseding == 1
        ids = query(wh, "select snapshot_id from snapshots order by version")["snapshot_id"]
        assert ids.to_list() == [
            "RTY/2026-02-04/seed-note/v1",
            "RTY/2026-02-04/seed-note/analyst/analyst/v2",
        ]


def roll_table(gap: float = 25.0) -> pl.DataFrame:
    """Two rolls of an ES=F feed, as pipeline.market.rolls makes them (the first by the basis)."""
    from pipeline.market.rolls import ROLL_SCHEMA

    common = {
        "root": "ES",
        "estimated": False,
        "clipped": False,
        "opening_gap": 60.0,
        "carry_years": 90 / 365,
    }
    basis = {
        **common,
        "roll_session": date(2026, 3, 23),
        "old_contract": "ESH26",
        "new_contract": "ESM26",
        "old_expiry": date(2026, 3, 20),
        "method": "basis",
        "gap": gap,
        "ratio": (6160.0 / 6130.0) / (6010.0 / 6005.0),
        "measured_gap": gap,
        "before_session": date(2026, 3, 19),
        "before_close": 6010.0,
        "before_index": 6005.0,
        "after_session": date(2026, 3, 23),
        "after_close": 6160.0,
        "after_index": 6130.0,
        "basis_before": 5.0,
        "basis_after": 5.0 + gap,
        "carry_bound": 6010.0 * 0.07 * 90 / 365,
    }
    bounded = {
        **common,
        "roll_session": date(2026, 6, 22),
        "old_contract": "ESM26",
        "new_contract": "ESU26",
        "old_expiry": date(2026, 6, 18),
        "method": "carry_bounded",
        "estimated": True,
        "clipped": True,
        "gap": -100.0,
        "ratio": 0.98,
        "measured_gap": -250.0,
        "before_session": date(2026, 6, 17),
        "before_close": 6200.0,
        "after_session": date(2026, 6, 22),
        "after_close": 5990.0,
        "opening_gap": -250.0,
        "carry_bound": 100.0,
    }
    return pl.DataFrame([basis, bounded], schema=ROLL_SCHEMA)


def test_rolls_round_trip_and_a_remeasured_roll_supersedes_its_version(wh: Warehouse) -> None:
    first = wh.write_rolls(roll_table(), source="yahoo", recorded_at=T0)
    assert (first.new, first.revised, first.unchanged) == (2, 0, 0)
    stored = query(
        wh, "select * exclude (source, recorded_at, superseded_at) from rolls order by roll_session"
    )
    assert stored.equals(roll_table())
    assert wh.write_rolls(roll_table(), source="yahoo", recorded_at=T1).unchanged == 2
    hash_before = wh.content_hash("rolls")
    assert wh.write_rolls(roll_table(), source="yahoo", recorded_at=T2).new == 0
    assert wh.content_hash("rolls") == hash_before
    # The same rolls from another source are their own history.
    assert wh.write_rolls(roll_table(), source="file", recorded_at=T1).new == 2
    # A revised bar changes the March gap: the old version is closed, the new one current.
    revised = wh.write_rolls(roll_table(gap=24.5), source="yahoo", recorded_at=T2)
    assert (revised.new, revised.revised, revised.unchanged) == (0, 1, 1)
    history = query(
        wh,
        "select gap, recorded_at, superseded_at from rolls where source = 'yahoo'"
        " and roll_session = '2026-03-23' order by recorded_at",
    ).rows()
    assert history == [(25.0, T0, T2), (24.5, T2, None)]
    view = query(
        wh,
        "select roll_session, method, gap_pct, opening_gap_pct, carry_bound_pct,"
        " within_carry_bound from rolls_current where source = 'yahoo' order by roll_session",
    ).rows()
    assert view == [
        (
            date(2026, 3, 23),
            "basis",
            round(100 * 24.5 / 6010, 4),
            round(100 * 60 / 6010, 4),
            round(7 * 90 / 365, 4),
            True,
        ),
        (
            date(2026, 6, 22),
            "carry_bounded",
            round(-100 * 100 / 6200, 4),
            round(-100 * 250 / 6200, 4),
            round(100 * 100 / 6200, 4),
            True,
        ),
    ]
