"""v2 snapshots in a real DuckDB file: stored with their own columns (migration 005) beside v1,
read back unchanged, their level change reasons in snapshot_levels and call_changes, and the
level-quality views over both."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path

import polars as pl
import pytest

from pipeline.analysis.assemble import snapshot_from_row, with_content_hash
from pipeline.analysis.methodology import get
from pipeline.analysis.v2.assemble import EXTRA_COLUMNS, V2_CONTENT_COLUMNS
from pipeline.market.continuous import continuous_series
from pipeline.sources.demo import demo_bars
from tests.support.sql import query
from warehouse.store import Warehouse

END = date(2020, 6, 30)
T = datetime(2026, 1, 5, 12, tzinfo=UTC)


@pytest.fixture(scope="module")
def stored(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, pl.DataFrame]]:
    series = {
        r: continuous_series(demo_bars(r).filter(pl.col("session_date") <= END))
        for r in ("RTY", "ES", "NQ")
    }
    computed = {m: get(m).analyse(series, "RTY", source="demo").snapshots for m in ("v2", "v1")}
    path = tmp_path_factory.mktemp("v2store") / "warehouse.duckdb"
    with Warehouse.open(path) as wh:
        for rows in computed.values():
            wh.write_snapshots(
                rows, kind="backfill", flow_run_id=None, code_version="t", created_at=T
            )
    return path, computed


def test_v2_rows_round_trip_with_their_own_columns_and_hashes(stored) -> None:
    path, computed = stored
    with Warehouse.open(path, read_only=True) as wh:
        back = wh.snapshot_rows("RTY", methodology="v2", latest_only=True).sort("as_of")
        v1 = wh.snapshot_rows("RTY", methodology="v1", latest_only=True)
        assert set(query(wh, "select version from schema_migrations")["version"]) >= {5}
    assert back.height == computed["v2"].height
    # Every hashed column reads back as written: the stored hash recomputes.
    rehashed = with_content_hash(back.select(V2_CONTENT_COLUMNS), V2_CONTENT_COLUMNS)
    assert rehashed["content_hash"].to_list() == back["content_hash"].to_list()
    assert back["content_hash"].to_list() == computed["v2"].sort("as_of")["content_hash"].to_list()
    # v1 rows leave v2's columns empty and keep their own hashes.
    assert v1.select(EXTRA_COLUMNS).null_count().row(0) == (v1.height,) * len(EXTRA_COLUMNS)
    assert sorted(v1["content_hash"]) == sorted(computed["v1"]["content_hash"])


def test_the_read_model_carries_level_reasons_and_details(stored) -> None:
    path, _ = stored
    with Warehouse.open(path, read_only=True) as wh:
        row = wh.snapshot_rows("RTY", as_of=date(2020, 3, 16), methodology="v2").row(0, named=True)
    s = snapshot_from_row(row)
    assert s.methodology_version == "v2" and s.perspective == "crash"
    line = s.level("line_in_the_sand")
    assert line is not None and line.reason == row["line_reason"] and line.since is not None
    assert s.details["trend_rule"] == row["trend_rule"]


def test_snapshot_levels_and_call_changes_say_why_a_level_moved(stored) -> None:
    path, computed = stored
    v2 = computed["v2"]
    with Warehouse.open(path, read_only=True) as wh:
        levels = query(
            wh,
            "select l.as_of, l.level_kind, l.change_reason, l.reason, l.since from snapshot_levels l"
            " join snapshots s using (snapshot_id) where s.methodology_version = 'v2'"
            " and l.level_kind = 'line_in_the_sand' order by l.as_of",
        )
        changes = query(
            wh,
            "select as_of, why from call_changes where methodology_version = 'v2'"
            " and what = 'line_in_the_sand' order by as_of",
        )
    assert levels["change_reason"].to_list() == v2.sort("as_of")["line_change"].to_list()
    changed = v2.filter(pl.col("line_change").is_not_null()).sort("as_of")["as_of"].to_list()
    # Every recorded change is in the view, its reason first; the first call has no previous.
    reasons = dict(zip(changes["as_of"], changes["why"], strict=True))
    for day in changed[1:]:
        code = v2.filter(pl.col("as_of") == day)["line_change"][0]
        assert reasons[day].startswith(f"{code}: ")
    kept_but_moved = [d for d, why in reasons.items() if why.startswith("kept; its prices moved")]
    assert all(d not in changed for d in kept_but_moved)  # rolls only


def test_level_quality_view_matches_the_report(stored) -> None:
    path, _ = stored
    with Warehouse.open(path, read_only=True) as wh:
        view = query(
            wh, "select * from level_quality where root = 'RTY' order by methodology_version"
        )
    v1, v2 = view.row(0, named=True), view.row(1, named=True)
    assert (v1["methodology_version"], v2["methodology_version"]) == ("v1", "v2")
    assert v2["zones_wider_than_1_25_atr"] == v2["closes_in_line"] == v2["closes_in_bias"] == 0
    assert v2["overlaps"] == v2["order_violations"] == v2["wrong_side"] == 0
    assert v2["max_width_atr"] <= 1.25
    assert v1["zones_wider_than_1_25_atr"] > 0 and v1["closes_in_line"] > 0
