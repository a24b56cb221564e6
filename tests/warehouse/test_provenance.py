"""Migrations 008 and 011 and what they serve: recorded_late, bars provenance, resolution by
source, the tuning period per methodology, root and dates (whatever the source), the
point-in-time climatology of scored_calls, open_calls."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from pipeline.analysis.assemble import with_content_hash
from pipeline.analysis.climatology import expanding_climatology
from pipeline.analysis.methodology import get as get_methodology
from pipeline.analysis.params import CLIMATOLOGY_PRIOR_WEIGHT
from pipeline.audit.outcomes import OUTCOME_SCHEMA
from pipeline.audit.scores import outcome_index
from tests.support.sql import query
from tests.warehouse.test_store import bars, seed_call_rows
from warehouse import store
from warehouse.store import MethodologyEntry, Warehouse, WarehouseError

AS_OF = date(2026, 2, 4)  # the seed call's as-of day, a Wednesday
BEFORE_OPEN = datetime(2026, 2, 4, 22, 59, tzinfo=UTC)  # 17:59 ET
AT_OPEN = datetime(2026, 2, 4, 23, 0, tzinfo=UTC)  # 18:00 ET: the next session opens
MODEL_CLIM = (0.25, 0.45, 0.30)


def write(wh: Warehouse, rows: pl.DataFrame, kind: str, at: datetime):
    return wh.write_snapshots(rows, kind=kind, flow_run_id=None, code_version="t", created_at=at)


def model_call(
    source: str = "demo", version: str = "v1", clim=MODEL_CLIM, *, as_of: date = AS_OF
) -> pl.DataFrame:
    """The seed call's numbers as a model call of the same root and day (or ``as_of``), with a
    stored climatology."""
    rows = seed_call_rows().drop("resolved_on_source")
    rows = rows.with_columns(
        pl.lit("callbook").alias("author"),
        pl.lit(version).alias("methodology_version"),
        pl.lit(source).alias("source"),
        pl.lit(as_of).alias("as_of"),
        *(
            pl.lit(v).alias(f"clim_{n}")
            for v, n in zip(clim, ("bear", "sideways", "bull"), strict=True)
        ),
    )
    return with_content_hash(rows.drop("content_hash"))


def outcome_row(snapshot_id: str, outcome: str, ordinal: int, rps: float) -> pl.DataFrame:
    row = {name: None for name in OUTCOME_SCHEMA}
    row.update(
        snapshot_id=snapshot_id,
        resolved_session=date(2026, 3, 5),
        horizon_end=date(2026, 3, 5),
        outcome=outcome,
        outcome_ordinal=ordinal,
        steps=20,
        rps=rps,
        brier=0.0,
        log_score=0.0,
    )
    return pl.DataFrame([row], schema=OUTCOME_SCHEMA)


@pytest.fixture
def wh() -> Warehouse:
    warehouse = Warehouse.in_memory()
    yield warehouse
    warehouse.close()


def test_an_analyst_call_is_late_from_the_next_sessions_open(wh: Warehouse) -> None:
    on_time = seed_call_rows()
    late = seed_call_rows().with_columns(pl.lit("late-desk").alias("author"))
    late = with_content_hash(late.drop("content_hash")).with_columns(
        resolved_on_source=pl.lit("demo")
    )
    write(wh, on_time, "analyst", BEFORE_OPEN)
    write(wh, late, "analyst", AT_OPEN)
    # The model's calls are never late: a backfill made in July is point in time by construction.
    write(wh, model_call(), "backfill", datetime(2026, 7, 1, tzinfo=UTC))
    stored = query(wh, "select author, recorded_late from snapshots order by author")
    assert stored.rows() == [("callbook", False), ("late-desk", True), ("seed-note", False)]
    assert query(wh, "select recorded_late from latest_calls where author = 'late-desk'").item()
    with pytest.raises(WarehouseError, match="resolved_on_source"):
        write(wh, seed_call_rows().drop("resolved_on_source"), "analyst", BEFORE_OPEN)


def test_provenance_defaults_and_as_known_columns(wh: Warehouse) -> None:
    write(wh, model_call(), "backfill", BEFORE_OPEN)
    known_at = datetime(2026, 2, 5, 22, 0, tzinfo=UTC)
    as_known = model_call(version="v9").with_columns(
        bars_mode=pl.lit("as_known"), bars_known_at=pl.lit(known_at)
    )
    write(wh, as_known, "backfill", AT_OPEN)
    stored = query(
        wh,
        "select methodology_version, bars_mode, bars_known_at, resolved_on_source, content_hash"
        " from snapshots order by methodology_version",
    )
    assert stored.select(pl.exclude("content_hash")).rows() == [
        ("v1", "current", BEFORE_OPEN, "demo"),
        ("v9", "as_known", known_at, "demo"),
    ]
    # Provenance is not content: the hashes are those of the content columns alone.
    assert stored["content_hash"].to_list() == [
        model_call()["content_hash"].item(),
        model_call(version="v9")["content_hash"].item(),
    ]


def test_calls_are_resolved_only_on_the_bars_of_their_source(wh: Warehouse) -> None:
    write(wh, model_call("demo"), "backfill", BEFORE_OPEN)
    write(wh, model_call("yahoo"), "backfill", BEFORE_OPEN)
    write(wh, seed_call_rows(), "analyst", BEFORE_OPEN)  # resolved on demo bars
    yahoo_desk = with_content_hash(
        seed_call_rows().drop("content_hash").with_columns(pl.lit("yahoo-desk").alias("author"))
    ).with_columns(resolved_on_source=pl.lit("yahoo"))
    write(wh, yahoo_desk, "analyst", BEFORE_OPEN)
    through = date(2026, 3, 31)

    def due(source: str) -> list[tuple[str, str]]:
        pending = wh.unresolved_snapshots("RTY", source=source, through=through)
        return sorted(pending.select("author", "source").rows())

    assert due("demo") == [("callbook", "demo"), ("seed-note", "analyst")]
    assert due("yahoo") == [("callbook", "yahoo"), ("yahoo-desk", "analyst")]
    assert due("file") == []
    assert wh.open_snapshots("RTY", source="yahoo").height == 2
    assert wh.open_snapshots(author="seed-note").height == 1


def entry(version: str, published: bool = False) -> MethodologyEntry:
    """What a run records of a registered methodology (flows/analysis.py), on RTY (^RUT)."""
    tuning = get_methodology(version).tuning
    assert tuning is not None
    return MethodologyEntry(
        version,
        f"h{version}",
        {},
        published,
        tuning_declared=True,
        tuned_through=tuning.through,
        tuned_on=tuning.describe(),
        tuning_note=tuning.note,
        tuned_roots=tuple(tuning.tuned_roots({"RTY": "^RUT", "ES": "^GSPC"})),
    )


def test_methodologies_record_their_tuning_period_and_calls_are_flagged(wh: Warehouse) -> None:
    at = datetime(2026, 11, 30, tzinfo=UTC)
    undeclared = MethodologyEntry("v9", "h9", {}, False)  # declares nothing
    wh.record_methodologies([entry("v2", True), entry("v1"), undeclared], at=at)
    # v2 was tuned on the real RTY (TF1) file to 2026-02-20 and on the demo history to
    # 2026-11-20; v1 on the demo history only.
    later = date(2026, 2, 24)  # after v2's real-data tuning period, inside the demo one
    for source in ("file", "yahoo", "demo"):
        for day in (AS_OF, later):
            write(wh, model_call(source, "v2", as_of=day), "backfill", BEFORE_OPEN)
    write(wh, model_call("demo"), "backfill", BEFORE_OPEN)  # in v1's tuning period
    write(wh, model_call("yahoo"), "backfill", BEFORE_OPEN)  # v1 was not tuned on market data
    write(wh, model_call("demo", "v9"), "backfill", BEFORE_OPEN)
    write(wh, seed_call_rows(), "analyst", BEFORE_OPEN)
    ids = query(wh, "select snapshot_id from snapshots order by snapshot_id")["snapshot_id"]
    outcomes = pl.concat([outcome_row(i, "bull", 2, 0.2) for i in ids])
    wh.append_outcomes(outcomes, series_through=date(2026, 3, 5), recorded_at=at)
    flags = query(
        wh,
        "select methodology_version, source, as_of, in_tuning_period from calls_vs_outcomes"
        " order by methodology_version, source, as_of",
    )
    assert flags.rows() == [
        ("analyst", "analyst", AS_OF, False),
        ("v1", "demo", AS_OF, True),
        ("v1", "yahoo", AS_OF, False),
        ("v2", "demo", AS_OF, True),
        ("v2", "demo", later, True),
        # The same call on the same market's bars is in sample whatever source stored them.
        ("v2", "file", AS_OF, True),
        ("v2", "file", later, False),
        ("v2", "yahoo", AS_OF, True),
        ("v2", "yahoo", later, False),
        ("v9", "demo", AS_OF, None),
    ]
    recorded = query(
        wh,
        "select methodology_version, tuning_declared, tuned_through, tuned_on from methodologies"
        " order by methodology_version",
    )
    assert recorded.rows() == [
        ("v1", True, date(2026, 11, 20), get_methodology("v1").tuning.describe()),
        ("v2", True, date(2026, 11, 20), get_methodology("v2").tuning.describe()),
        ("v9", False, None, ""),
    ]
    periods = query(wh, "select * from tuning_periods order by all")
    assert periods.rows() == [
        ("v1", "ES", True, date(2026, 11, 20)),
        ("v1", "RTY", True, date(2026, 11, 20)),
        ("v2", "ES", False, date(2026, 2, 20)),
        ("v2", "ES", True, date(2026, 11, 20)),
        ("v2", "RTY", False, date(2026, 2, 20)),
        ("v2", "RTY", True, date(2026, 11, 20)),
    ]
    # Recorded again (every run does): the same rows, no duplicates.
    wh.record_methodologies([entry("v2", True), entry("v1"), undeclared], at=at)
    assert query(wh, "select * from tuning_periods order by all").rows() == periods.rows()
    # The scoreboard view counts no in-sample call (nor a late one).
    board = query(
        wh,
        "select methodology_version, source, calls from scoreboard order by methodology_version,"
        " source",
    )
    assert board.rows() == [
        ("analyst", "analyst", 1),
        ("v1", "yahoo", 1),
        ("v2", "file", 1),
        ("v2", "yahoo", 1),
        ("v9", "demo", 1),
    ]


def test_scored_calls_use_the_stored_point_in_time_climatology(wh: Warehouse) -> None:
    wh.record_methodologies([MethodologyEntry("v1", "h1", {}, True)], at=AT_OPEN)
    write(wh, model_call("demo", "v1", MODEL_CLIM), "backfill", BEFORE_OPEN)
    write(wh, model_call("demo", "v9", (0.1, 0.1, 0.8)), "backfill", BEFORE_OPEN)
    write(wh, seed_call_rows(), "analyst", BEFORE_OPEN)
    other_day = with_content_hash(
        seed_call_rows()
        .drop("content_hash")
        .with_columns(pl.lit(date(2026, 2, 5)).alias("as_of"), pl.lit("desk").alias("author"))
    ).with_columns(resolved_on_source=pl.lit("demo"))
    write(wh, other_day, "analyst", BEFORE_OPEN + timedelta(days=1))
    ids = query(wh, "select snapshot_id from snapshots")["snapshot_id"]
    wh.append_outcomes(
        pl.concat([outcome_row(i, "sideways", 1, 0.1) for i in ids]),
        series_through=date(2026, 3, 6),
        recorded_at=AT_OPEN,
    )
    refs = query(
        wh,
        "select author, methodology_version, ref_basis, ref_bear, ref_sideways, ref_bull, ref_rps"
        " from scored_calls order by author, methodology_version",
    )
    rows = {(r[0], r[1]): r[2:] for r in refs.rows()}
    # The model's calls: their own stored climatology.
    assert rows[("callbook", "v1")][:4] == pytest.approx(("stored", *MODEL_CLIM))
    assert rows[("callbook", "v9")][:4] == pytest.approx(("stored", 0.1, 0.1, 0.8))
    # The seed call borrows the PUBLISHED methodology's climatology of the same day and bars;
    # sideways: RPS = ((0.25 - 0)^2 + (0.70 - 1)^2) / 2 = 0.07625.
    assert rows[("seed-note", "analyst")] == pytest.approx(("model", *MODEL_CLIM, 0.07625))
    # No model call on 5 Feb: the analyst's own expanding climatology (uniform, nothing known).
    assert rows[("desk", "analyst")][:4] == pytest.approx(("expanding", 1 / 3, 1 / 3, 1 / 3))


def test_open_calls_show_the_latest_status_so_far(wh: Warehouse) -> None:
    write(wh, seed_call_rows(), "analyst", BEFORE_OPEN)
    (snapshot_id,) = query(wh, "select snapshot_id from snapshots")["snapshot_id"]
    assert query(wh, "select status_so_far from open_calls").item().startswith("no status yet")
    progress = pl.DataFrame(
        {
            "snapshot_id": [snapshot_id] * 2,
            "through_session": [date(2026, 2, 12), date(2026, 2, 20)],
            "sessions_elapsed": [6, 11],
            "horizon_sessions": [20, 20],
            "status": ["open", "open"],
            "summary": ["sideways so far, 6 of 20 sessions", "sideways so far, 11 of 20 sessions"],
        }
    )
    assert wh.append_progress(progress, source="demo", recorded_at=AT_OPEN) == 2
    assert wh.append_progress(progress, source="demo", recorded_at=AT_OPEN) == 0  # idempotent
    view = query(wh, "select sessions_elapsed, status_so_far, resolved_on_source from open_calls")
    assert view.rows() == [(11, "sideways so far, 11 of 20 sessions", "demo")]
    wh.append_outcomes(
        outcome_row(snapshot_id, "bull", 2, 0.2),
        series_through=date(2026, 3, 5),
        recorded_at=AT_OPEN,
    )
    assert query(wh, "select count(*) from open_calls").item() == 0  # resolved: scored, not open


def test_migration_008_fills_the_provenance_of_calls_stored_before_it(tmp_path: Path) -> None:
    """A warehouse at 004 holding demo bars, a model backfill made in July, and three analyst
    calls as of 4 Feb: stored that evening (on time), a week later (late), and one whose contract
    and settlement match no stored bar, stored in July (its bars are unknown: resolved on none)."""
    import duckdb

    seed = seed_call_rows().drop("resolved_on_source")
    day_bars = bars({AS_OF: seed["close"].item()}).with_columns(
        pl.lit(seed["contract"].item()).alias("contract"),
        pl.lit("demo").alias("source"),
        pl.lit("batch").alias("batch_id"),
        pl.lit(BEFORE_OPEN).alias("recorded_at"),
        pl.lit(None, dtype=pl.Datetime("us", "UTC")).alias("superseded_at"),
    )

    def legacy(rows: pl.DataFrame, kind: str, at: datetime, author: str) -> pl.DataFrame:
        rows = with_content_hash(
            rows.drop("content_hash").with_columns(pl.lit(author).alias("author"))
        )
        return rows.with_columns(
            pl.lit(f"old/{author}").alias("snapshot_id"),
            pl.lit(1, dtype=pl.Int32).alias("version"),
            pl.lit(None, dtype=pl.Int32).alias("supersedes_version"),
            pl.lit(kind).alias("kind"),
            pl.lit(at).alias("created_at"),
        )

    july = datetime(2026, 7, 1, tzinfo=UTC)
    old = pl.concat(
        [
            legacy(model_call(), "backfill", july, "callbook"),
            legacy(seed, "analyst", BEFORE_OPEN, "evening"),
            legacy(seed, "analyst", AT_OPEN + timedelta(days=7), "week-later"),
            legacy(seed.with_columns(pl.lit(1.0).alias("close")), "analyst", july, "nowhere"),
        ]
    )
    path = tmp_path / "old.duckdb"
    con = duckdb.connect(str(path))
    con.execute(
        "create table schema_migrations (version integer primary key, name varchar not null,"
        " applied_at timestamptz not null)"
    )
    for version, name, sql in store.migrations():
        if version <= 4:
            con.execute(sql)
            con.execute("insert into schema_migrations values (?, ?, now())", [version, name])
    con.register("old_rows", old.to_arrow())
    con.execute("insert into snapshots by name select * from old_rows")
    con.register("old_bars", day_bars.to_arrow())
    con.execute("insert into bars by name select * from old_bars")
    hashes = con.execute("select snapshot_id, content_hash from snapshots order by 1").fetchall()
    con.close()

    with Warehouse.open(path) as wh:
        assert 8 in wh._applied_versions()
        migrated = query(
            wh,
            "select author, recorded_late, bars_mode, bars_known_at, resolved_on_source"
            " from snapshots order by author",
        )
        assert query(wh, "select snapshot_id, content_hash from snapshots order by 1").rows() == (
            hashes
        )
    assert migrated.rows() == [
        ("callbook", False, "current", july, "demo"),
        ("evening", False, "current", BEFORE_OPEN, "demo"),
        ("nowhere", True, "current", july, None),  # stored in July: late; no bar matches: no source
        ("week-later", True, "current", AT_OPEN + timedelta(days=7), "demo"),
    ]


def test_the_expanding_climatology_of_scored_calls_is_the_python_one(wh: Warehouse) -> None:
    """scored_calls' expanding climatology (an analyst's calls with no model call to borrow
    from) equals pipeline.analysis.climatology.expanding_climatology on the same outcomes, with
    the prior weight the warehouse recorded from its Python definition, and follows that
    recorded weight (bound, not written into the view)."""
    days = [AS_OF + timedelta(days=7 * k) for k in range(8)]
    outcomes = ["bull", "bull", "bear", "sideways", "bull", "bear", "bull", "sideways"]
    ends = [day + timedelta(days=15) for day in days]  # known two calls later
    for day in days:
        call = (
            seed_call_rows()
            .drop("content_hash")
            .with_columns(pl.lit("desk").alias("author"), pl.lit(day).alias("as_of"))
        )
        write(wh, with_content_hash(call.drop("resolved_on_source")).with_columns(
            resolved_on_source=pl.lit("demo")
        ), "analyst", datetime(2026, 1, 1, tzinfo=UTC))  # fmt: skip
    ids = query(wh, "select snapshot_id from snapshots order by as_of")["snapshot_id"].to_list()
    ordinal = {"bear": 0, "sideways": 1, "bull": 2}
    rows = [
        outcome_row(i, o, ordinal[o], 0.1).with_columns(pl.lit(end).alias("horizon_end"))
        for i, o, end in zip(ids, outcomes, ends, strict=True)
    ]
    wh.append_outcomes(pl.concat(rows), series_through=ends[-1], recorded_at=AT_OPEN)
    assert query(wh, "select * from reference_parameters").rows() == [
        ("climatology_prior_weight", CLIMATOLOGY_PRIOR_WEIGHT)
    ]

    def refs() -> np.ndarray:
        frame = query(
            wh,
            "select ref_basis, ref_bear, ref_sideways, ref_bull from scored_calls"
            " where author = 'desk' order by as_of",
        )
        assert set(frame["ref_basis"]) == {"expanding"}
        return frame.drop("ref_basis").to_numpy()

    def oracle(weight: float) -> np.ndarray:
        as_of = np.array([d.toordinal() for d in days])
        known = np.array([d.toordinal() for d in ends])
        return expanding_climatology(as_of, known, outcome_index(outcomes), prior_weight=weight)

    np.testing.assert_allclose(refs(), oracle(CLIMATOLOGY_PRIOR_WEIGHT), rtol=0, atol=1e-12)
    np.testing.assert_allclose(refs()[0], [1 / 3, 1 / 3, 1 / 3])  # nothing known yet
    np.testing.assert_allclose(refs()[4], [0.2, 0.2, 0.6])  # two bulls known: (2 + 1) / (2 + 3)
    wh.con.execute(
        "update reference_parameters set value = 12 where name = 'climatology_prior_weight'"
    )
    np.testing.assert_allclose(refs(), oracle(12.0), rtol=0, atol=1e-12)
    assert np.abs(refs() - oracle(CLIMATOLOGY_PRIOR_WEIGHT)).max() > 0.05
