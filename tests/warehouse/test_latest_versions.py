"""latest_snapshots (the versions nothing supersedes) equals the highest version of every call."""

from __future__ import annotations

from datetime import UTC, date, datetime

import polars as pl
import pytest

from pipeline.analysis.methodology import get
from pipeline.market.continuous import continuous_series
from pipeline.sources.demo import demo_bars
from tests.support.sql import query
from warehouse.store import SNAPSHOT_KEY, Warehouse

AT = datetime(2026, 11, 21, 12, tzinfo=UTC)
KEY = ", ".join(SNAPSHOT_KEY)
ORACLE = f"""
select snapshot_id from snapshots
qualify row_number() over (partition by {KEY} order by version desc) = 1
order by snapshot_id
"""


@pytest.fixture(scope="module")
def rows() -> pl.DataFrame:
    series = {
        root: continuous_series(demo_bars(root).filter(pl.col("session_date") <= date(2026, 3, 31)))
        for root in ("RTY", "ES", "NQ")
    }
    days = series["RTY"]["session_date"].tail(30).to_list()
    return get("v1").analyse(series, "RTY", source="demo", sessions=days).snapshots


def revised(rows: pl.DataFrame, every: int, tag: str) -> pl.DataFrame:
    """A new content hash for every ``every``-th call (a revised bar would change it so)."""
    return rows.with_columns(
        pl.when(pl.int_range(pl.len()) % every == 0)
        .then(pl.col("content_hash") + tag)
        .otherwise(pl.col("content_hash"))
        .alias("content_hash")
    )


def test_latest_snapshots_is_the_highest_version_of_every_call(rows: pl.DataFrame) -> None:
    wh = Warehouse.in_memory()

    def write(frame: pl.DataFrame, kind: str) -> None:
        wh.write_snapshots(frame, kind=kind, flow_run_id=None, code_version="t", created_at=AT)

    write(rows, "live")
    write(revised(rows, 2, "-a"), "backfill")  # every 2nd call gets version 2
    write(revised(revised(rows, 2, "-a"), 6, "-b"), "backfill")  # every 6th: version 3
    write(revised(rows, 5, "-c").head(10), "live")  # some go back to other content: a new version
    versions = query(
        wh, "select version, count(*) as n from snapshots group by 1 order by 1"
    ).rows()
    assert [v for v, _ in versions] == [1, 2, 3, 4] and sum(n for _, n in versions) > rows.height
    latest = query(wh, "select snapshot_id from latest_snapshots order by snapshot_id")
    assert latest.height == rows.height
    assert latest["snapshot_id"].to_list() == query(wh, ORACLE)["snapshot_id"].to_list()
