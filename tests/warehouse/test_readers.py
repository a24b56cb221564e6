"""The warehouse's named readers (warehouse/sql/statements/*.sql) against independent oracles:
the same question answered in polars over the stored rows.

Two methodologies' calls of RTY on the last 30 demo sessions of March 2026, some revised.
"""

from __future__ import annotations

from datetime import UTC, date, datetime

import polars as pl
import pytest

from flows.outcomes import append_outcomes_of
from pipeline.analysis.methodology import get
from pipeline.market.continuous import continuous_series
from pipeline.quality.result import ValidationResult, empty_findings
from pipeline.schema import Batch
from pipeline.sources.demo import demo_bars
from warehouse.store import (
    TABLES,
    Warehouse,
    sql_text,
    statements_in,
    with_identifiers,
)

AT = datetime(2026, 11, 21, 12, tzinfo=UTC)


@pytest.fixture(scope="module")
def wh() -> Warehouse:
    series = {
        root: continuous_series(demo_bars(root).filter(pl.col("session_date") <= date(2026, 3, 31)))
        for root in ("RTY", "ES", "NQ")
    }
    days = series["RTY"]["session_date"].tail(30).to_list()
    warehouse = Warehouse.in_memory()
    for version in ("v1", "v2"):
        rows = get(version).analyse(series, "RTY", source="demo", sessions=days).snapshots
        for kind, frame in (("backfill", rows), ("live", rows.head(5))):
            revised = frame.with_columns(pl.col("content_hash") + f"-{kind}")
            warehouse.write_snapshots(
                revised if kind == "live" else frame,
                kind=kind,
                flow_run_id=None,
                code_version="t",
                created_at=AT,
            )
    # Every call's horizon has passed by the end of May: each gets its outcome.
    later = continuous_series(demo_bars("RTY").filter(pl.col("session_date") <= date(2026, 5, 29)))
    due = warehouse.unresolved_snapshots("RTY", source="demo", through=date(2026, 5, 29))
    assert append_outcomes_of(warehouse, due, later) == due.height == 70  # superseded ones too
    return warehouse


def latest(wh: Warehouse) -> pl.DataFrame:
    """The oracle of latest_snapshots: the highest version of every call."""
    key = ["root", "as_of", "author", "methodology_version", "source"]
    snapshots = wh.table_rows("snapshots")
    return snapshots.filter(pl.col("version") == pl.col("version").max().over(key))


def test_previous_call_is_the_same_calls_latest_version_on_the_session_before(
    wh: Warehouse,
) -> None:
    stored = latest(wh).filter(pl.col("methodology_version") == "v2").sort("as_of")
    days = stored["as_of"].to_list()
    for day, before in ((days[10], days[9]), (days[1], days[0])):
        previous = wh.previous_call(
            "RTY", author="callbook", methodology="v2", source="demo", as_of=day
        )
        expected = stored.filter(pl.col("as_of") == before)
        assert previous["snapshot_id"].to_list() == expected["snapshot_id"].to_list()
        assert previous["version"].to_list() == expected["version"].to_list()
    first = wh.previous_call(
        "RTY", author="callbook", methodology="v2", source="demo", as_of=days[0]
    )
    assert first.height == 0
    other = wh.previous_call(
        "RTY", author="callbook", methodology="v9", source="demo", as_of=days[5]
    )
    assert other.height == 0


def test_a_revised_call_counts_once_with_its_newest_version(wh: Warehouse) -> None:
    listed = wh.calls_list(root="RTY", methodology="v1")
    oracle = latest(wh).filter(pl.col("methodology_version") == "v1")
    assert listed.height == oracle.height == 30
    assert sorted(listed["as_of"].to_list(), reverse=True) == listed["as_of"].to_list()
    assert listed.filter(pl.col("version") == 2).height == 5  # the five revised by the live run
    assert wh.calls_list(root="RTY", limit=7).height == 7
    assert wh.calls_list(root="ES").height == 0


def test_scored_calls_filters_as_the_view_selected_in_polars(wh: Warehouse) -> None:
    everything = wh.table_rows("scored_calls")
    assert everything["methodology_version"].unique().sort().to_list() == ["v1", "v2"]
    for methodologies in (None, ["v1"], ["v1", "v2"], []):
        got = wh.scored_calls(root="RTY", methodologies=methodologies)
        expected = everything.filter(pl.col("root") == "RTY")
        if methodologies is not None:
            expected = expected.filter(pl.col("methodology_version").is_in(methodologies))
        assert got.height == expected.height
        assert sorted(got["snapshot_id"].to_list()) == sorted(expected["snapshot_id"].to_list())


def test_row_counts_and_counts_of_every_table(wh: Warehouse) -> None:
    counts = wh.table_counts()
    assert set(counts) == set(TABLES)
    assert counts["snapshots"] == wh.table_rows("snapshots").height == 60 + 10
    assert wh.row_count("latest_snapshots") == latest(wh).height == 60
    assert wh.methodologies().height == 0 and wh.published_methodology() is None


def test_identifiers_come_from_the_allow_lists_only() -> None:
    sql = sql_text("statements/row_count")
    assert with_identifiers(sql, table="snapshots").strip().endswith("from snapshots")
    assert with_identifiers(sql, table="scoreboard").strip().endswith("from scoreboard")
    for bad in ("snapshots; drop table bars", "pg_catalog.pg_user", "Snapshots"):
        with pytest.raises(ValueError, match="unknown table or view"):
            with_identifiers(sql, table=bad)


def test_statements_split_where_duckdb_splits_them() -> None:
    text = "-- a comment; not a statement\nselect 1; select ';' as semicolon;\nselect 2"
    assert [s.strip() for s in statements_in(text)] == [
        "select 1;",  # the comment before it is no statement
        "select ';' as semicolon;",
        "select 2",
    ]


def test_the_models_previous_call_is_the_previous_sessions_an_analysts_their_last() -> None:
    """A note compares the model's call with its call of the previous session with bars, never
    with one stored days earlier (the sessions between have bars but no call); an analyst's call
    with their last one, however long ago."""
    bars = demo_bars("RTY").filter(pl.col("session_date") <= date(2026, 3, 31))
    days = bars["session_date"].unique().sort().tail(6).to_list()
    stored_days = [days[0], days[1], days[5]]
    rows = (
        get("v2")
        .analyse({"RTY": continuous_series(bars)}, "RTY", source="demo", sessions=stored_days)
        .snapshots
    )
    analyst = rows.with_columns(pl.lit("jane").alias("author"), pl.col("content_hash") + "-jane")
    batch = Batch("demo", "RTY", bars.to_arrow(), bars, AT, None, days[-1], {})
    with Warehouse.in_memory() as wh:
        wh.record_batch(batch, lake_path="lake/x.parquet", run_id="r", recorded_at=AT)
        clean = ValidationResult("passed", bars, empty_findings(), "test", "1")
        wh.load_batch(batch, clean, run_id="r", recorded_at=AT)
        for frame in (rows, analyst):
            wh.write_snapshots(
                frame, kind="backfill", flow_run_id=None, code_version="t", created_at=AT
            )

        def previous(author: str, day: date) -> list[date]:
            found = wh.previous_call(
                "RTY", author=author, methodology="v2", source="demo", as_of=day
            )
            return found["as_of"].to_list()

        assert previous("callbook", days[1]) == [days[0]]  # the session before: compared
        assert previous("callbook", days[5]) == []  # days[2:5] have bars and no call
        assert previous("callbook", days[0]) == []
        assert previous("jane", days[5]) == [days[1]]  # an analyst's last call, 4 sessions back
