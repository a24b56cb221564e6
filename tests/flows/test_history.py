"""The backfill flow is point-in-time: each stored snapshot equals the one made from truncated bars."""

from __future__ import annotations

import random
import shutil
from datetime import UTC, date, datetime
from pathlib import Path

import polars as pl
import pytest

from flows.history import backfill
from flows.nightly import nightly
from pipeline.analysis.assemble import CONTENT_COLUMNS
from pipeline.analysis.methodology import get as get_methodology
from pipeline.market.continuous import continuous_series
from tests.fakes.clock import frozen_clock
from tests.support.sql import query
from warehouse.store import Warehouse

#: Methodology v1's analysis (the registry's one driver).
analyse = get_methodology("v1").analyse

AS_OF = date(2026, 11, 20)
NOW = datetime(2026, 11, 21, 12, 0, tzinfo=UTC)
ROOTS = ["RTY", "ES", "NQ"]
DATES = 50


@pytest.fixture(scope="module")
def backfilled(prefect_harness: None, tmp_path_factory: pytest.TempPathFactory) -> Path:
    with frozen_clock(NOW):
        data_dir = tmp_path_factory.mktemp("history") / "data"
        # v1's backfill against v1's analysis (v2's twin: tests/pipeline/analysis/v2).
        only_v1 = {"methodologies": ["v1"]}
        nightly(roots=ROOTS, source="demo", as_of=AS_OF, data_dir=str(data_dir), **only_v1)
        result = backfill(
            roots=["RTY"], source="demo", end=AS_OF, data_dir=str(data_dir), **only_v1
        )
    assert result.computed > 5000
    return data_dir


def test_backfilled_snapshots_equal_the_calls_made_from_bars_cut_at_their_date(
    backfilled: Path,
) -> None:
    with Warehouse.open(backfilled / "warehouse.duckdb", read_only=True) as wh:
        stored = wh.snapshot_rows("RTY")
        bars = {root: wh.current_bars(root, source="demo") for root in ROOTS}
    assert set(stored["kind"]) == {"backfill", "live"}  # the nightly's own call is kept as is
    days = random.Random(20260204).sample(sorted(stored["as_of"].to_list()), DATES)
    for day in days:
        cut = {
            root: continuous_series(frame.filter(pl.col("session_date") <= day))
            for root, frame in bars.items()
        }
        fresh = analyse(cut, "RTY", source="demo", sessions=[day]).snapshots
        row = stored.filter(pl.col("as_of") == day)
        assert fresh.height == row.height == 1, day
        assert fresh.select(CONTENT_COLUMNS).rows() == row.select(CONTENT_COLUMNS).rows(), day
        assert fresh["content_hash"].item() == row["content_hash"].item(), day


def test_outcomes_exist_exactly_for_calls_whose_horizon_has_passed(backfilled: Path) -> None:
    with Warehouse.open(backfilled / "warehouse.duckdb", read_only=True) as wh:
        counts = query(
            wh,
            "select s.horizon_end <= $through as due, count(o.snapshot_id) as resolved, count(*) as n"
            " from snapshots s left join outcomes o using (snapshot_id) where s.root = 'RTY'"
            " group by 1 order by 1",
            {"through": AS_OF},
        ).rows()
    (not_due, resolved_not_due, _), (due, resolved_due, n_due) = counts
    assert (not_due, due) == (False, True)
    assert resolved_not_due == 0
    assert resolved_due == n_due > 5000


def test_a_window_ending_in_the_past_resolves_its_calls_on_every_stored_bar(
    backfilled: Path, tmp_path: Path
) -> None:
    """Calls see the bars up to their date; their outcomes are resolved on every stored bar."""
    data_dir = tmp_path / "data"
    shutil.copytree(backfilled, data_dir)
    day = date(2026, 6, 2)  # a Tuesday session; its 20-session horizon ends in early July
    with frozen_clock(NOW):
        backfill(
            roots=["ES"], source="demo", start=day, end=day, data_dir=str(data_dir),
            methodologies=["v1"],
        )  # fmt: skip
    with Warehouse.open(data_dir / "warehouse.duckdb", read_only=True) as wh:
        (call,) = query(
            wh,
            "select s.horizon_end, o.outcome,"
            " (select count(*) from call_progress p where p.snapshot_id = s.snapshot_id)"
            " from snapshots s left join outcomes o using (snapshot_id)"
            " where s.root = 'ES' and s.as_of = $day",
            {"day": day},
        ).rows()
    horizon_end, outcome, statuses = call
    assert date(2026, 6, 29) <= horizon_end < AS_OF  # passed in the stored bars (to AS_OF)
    assert outcome in ("bull", "sideways", "bear")  # resolved, not left open at the window's end
    assert statuses == 0  # no "status so far" recorded as of the window's end
