"""call_changes: rows the writer derives with every snapshot write, equal to consecutive calls
compared by a slow obvious implementation, after revisions of days in the middle of a history,
and derived once for the stored calls of a warehouse upgraded to migration 010."""

from __future__ import annotations

from datetime import UTC, date, datetime
from itertools import pairwise
from pathlib import Path

import polars as pl
import pytest

from pipeline.analysis.methodology import get
from pipeline.market.continuous import continuous_series
from pipeline.sources.demo import demo_bars
from warehouse.store import CALL_CHANGES_MIGRATION, Warehouse

AT = datetime(2026, 11, 21, 12, tzinfo=UTC)
PROBABILITY_MOVE = 0.05  # the view reports a move of bull or bear by at least this
COMPARED = {
    "primary_trend": ("primary_trend",),
    "perspective": ("perspective",),
    "line_in_the_sand": ("line_low", "line_high"),
    "bias_defining": ("bias_low", "bias_high"),
}


@pytest.fixture(scope="module")
def rows() -> pl.DataFrame:
    series = {
        root: continuous_series(demo_bars(root).filter(pl.col("session_date") <= date(2026, 3, 31)))
        for root in ("RTY", "ES", "NQ")
    }
    days = series["RTY"]["session_date"].tail(40).to_list()
    return pl.concat(
        [
            get(m).analyse(series, "RTY", source="demo", sessions=days).snapshots
            for m in ("v1", "v2")
        ],
        how="diagonal_relaxed",
    )


def expected_changes(current: pl.DataFrame) -> set[tuple[str, date, str]]:
    """(methodology, as_of, what) of every change between consecutive current calls."""
    out = set()
    for (methodology,), calls in current.group_by("methodology_version"):
        ordered = calls.sort("as_of").to_dicts()
        for prev, now in pairwise(ordered):
            for what, columns in COMPARED.items():
                level_reason = what == "line_in_the_sand" and now.get("line_change") is not None
                bias_reason = what == "bias_defining" and now.get("bias_change") is not None
                if any(prev[c] != now[c] for c in columns) or level_reason or bias_reason:
                    out.add((str(methodology), now["as_of"], what))
            if (
                abs(now["p_bull"] - prev["p_bull"]) >= PROBABILITY_MOVE
                or abs(now["p_bear"] - prev["p_bear"]) >= PROBABILITY_MOVE
            ):
                out.add((str(methodology), now["as_of"], "probabilities"))
    return out


def stored_changes(wh: Warehouse) -> set[tuple[str, date, str]]:
    return {
        (m, d, w)
        for m, d, w in wh.query("select methodology_version, as_of, what from call_changes").rows()
    }


def moved_line(rows: pl.DataFrame, days: list[date], by: float) -> pl.DataFrame:
    """Revised calls for ``days``: the line in the sand ``by`` points higher (a new version)."""
    return rows.filter(pl.col("as_of").is_in(days)).with_columns(
        pl.col("line_low") + by,
        pl.col("line_high") + by,
        pl.col("content_hash") + f"-line{by}",
    )


def write(wh: Warehouse, frame: pl.DataFrame, kind: str = "backfill") -> None:
    wh.write_snapshots(frame, kind=kind, flow_run_id=None, code_version="t", created_at=AT)


def test_call_changes_follow_every_write_of_current_versions(rows: pl.DataFrame) -> None:
    wh = Warehouse.in_memory()
    days = rows["as_of"].unique().sort().to_list()
    write(wh, rows.filter(pl.col("as_of") <= days[19]), "live")  # the first 20 sessions
    write(wh, rows)  # all 40: the changes of sessions 21-40 and the one between 20 and 21
    assert stored_changes(wh) == expected_changes(rows)

    revised_days = [days[5], days[30]]
    revision = moved_line(rows, revised_days, 7.0)
    write(wh, revision)  # version 2 of two days in the middle of each history
    current = wh.query("select * from latest_snapshots")
    assert current.filter(pl.col("version") == 2).height == 2 * len(revised_days)
    assert stored_changes(wh) == expected_changes(current)
    for day in revised_days:  # the day and the next one compare against the revised line
        after = wh.query(
            "select after from call_changes where as_of = $d and what = 'line_in_the_sand' "
            "and methodology_version = 'v1'",
            {"d": day},
        )["after"].to_list()
        row = revision.filter((pl.col("as_of") == day) & (pl.col("methodology_version") == "v1"))
        assert after == [f"{row['line_low'][0]}–{row['line_high'][0]}"]
    n_rows = wh.query("select count(*) as n from call_change_rows")["n"][0]
    write(wh, revision)  # written again: nothing new, nothing derived twice
    assert wh.query("select count(*) as n from call_change_rows")["n"][0] == n_rows


def test_a_warehouse_upgraded_to_010_derives_the_changes_of_its_stored_calls(
    rows: pl.DataFrame, tmp_path: Path
) -> None:
    path = tmp_path / "warehouse.duckdb"
    wh = Warehouse.open(path)
    write(wh, rows)
    before = wh.query("select * from call_changes order by all")
    assert before.height > 0
    # as a warehouse written before 010 is: no derived rows, migration 010 not applied (and never
    # published so: its replica would hold one migration fewer)
    wh.con.execute("drop table call_change_rows")
    wh.con.execute(
        "delete from schema_migrations where version = $v", {"v": CALL_CHANGES_MIGRATION}
    )
    wh.close(publish=False)
    with Warehouse.open(path) as wh:
        assert wh.query("select * from call_changes order by all").equals(before)
