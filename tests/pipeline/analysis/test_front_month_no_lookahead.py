"""No hindsight on a real front-month feed: the call made on an expiry day is the call kept.

The roll of a vendor feed at expiry E is placed by calendar (the session after E) and measured
from bars up to its roll session only (pipeline.market.rolls), so the v1 call table computed on
the ES=F bars cut at E, or at the session after E, gives exactly the rows of the full history's
table and snapshots for those sessions: every column, the content hash included.
"""

from __future__ import annotations

import bisect
from datetime import date
from functools import cache
from pathlib import Path

import polars as pl
import pytest

from pipeline.analysis.engine import Analysis
from pipeline.analysis.methodology import get as get_methodology
from pipeline.market.continuous import continuous_series
from pipeline.market.contracts import first_expiring_on_or_after
from tests.pipeline.market.real_feeds import real_bars

#: Methodology v1's analysis (the registry's one driver).
analyse = get_methodology("v1").analyse

#: The expiries are checked in this many groups (so that xdist can spread them over workers).
GROUPS = 4
#: Call-table columns holding the realised outcome, resolved with the bars *after* the session
#: (null/-1 until the horizon has passed inside the series): not part of the call.
RESOLUTION_COLUMNS = ("outcome", "outcome_steps")


@cache
def full_run(shared_data: Path) -> tuple[pl.DataFrame, Analysis, list[date]]:
    bars = real_bars(shared_data, "ES", with_index=False)
    full = analyse({"ES": continuous_series(bars)}, "ES", source="file")
    days = full.table["session_date"].to_list()
    expiries = []
    contract = first_expiring_on_or_after("ES", days[0])
    while contract.expiry < days[-1]:
        expiries.append(contract.expiry)
        contract = contract.next()
    return bars, full, expiries


@pytest.mark.shared_data
@pytest.mark.parametrize("group", range(GROUPS))
def test_es_expiry_day_calls_computed_on_the_day_equal_the_calls_computed_later(
    shared_data: Path, group: int
) -> None:
    bars, full, expiries = full_run(shared_data)
    days = full.table["session_date"].to_list()
    table = full.table.drop(RESOLUTION_COLUMNS)
    compared = 0
    for expiry in expiries[group::GROUPS]:
        # The expiry session itself, or the session before it where validation quarantined the
        # expiry bar (ES=F has OHLC violations on some expiry days), and the roll session.
        on_expiry = days[bisect.bisect_right(days, expiry) - 1]
        after = days[bisect.bisect_right(days, expiry)]
        for cut in (on_expiry, after):
            made = analyse(
                {"ES": continuous_series(bars.filter(pl.col("session_date") <= cut))},
                "ES",
                source="file",
                sessions=[on_expiry, after],
            )
            for day in (on_expiry, after) if cut == after else (on_expiry,):
                row = pl.col("session_date") == day
                assert made.table.drop(RESOLUTION_COLUMNS).filter(row).equals(table.filter(row)), (
                    cut,
                    day,
                )
                call = made.snapshots.filter(pl.col("as_of") == day)
                assert call.equals(full.snapshots.filter(pl.col("as_of") == day)), (cut, day)
                compared += call.height
    # Every expiry after the warm-up has its calls (the first two years fall inside it).
    assert compared >= 3 * len(expiries[group::GROUPS]) - 3 * 3
