"""The analysis entry point: peers and relative strength, the chart frame, and no look-ahead.

No look-ahead is the product's key promise: the call published for session D, computed from the
bars up to D, must be exactly the call a backfill computes for D from a longer history. It is
checked for every methodology on the demo history of RTY (peers ES and NQ) and ES (peer NQ) for
seeded random days D and random k = 1..60 sessions later, every snapshot column and the content
hash (tests/pipeline/analysis/look_ahead.py).
"""

from __future__ import annotations

import dataclasses
from datetime import date

import numpy as np
import polars as pl
import pytest

from pipeline.analysis.assemble import RS_FIELDS
from pipeline.analysis.engine import chart_frame, peers_of
from pipeline.analysis.methodology import get as get_methodology
from pipeline.analysis.params import AnalysisParams
from pipeline.market.calendar import EQUITY
from pipeline.market.continuous import continuous_series
from pipeline.market.roots import builtin_registry
from pipeline.sources.demo import demo_bars
from tests.pipeline.analysis import look_ahead
from tests.pipeline.analysis.builders import contract_bars, noisy_path, series_frame, sessions

#: Methodology v1's analysis (the registry's one driver).
analyse = get_methodology("v1").analyse

PARAMS = AnalysisParams()
GROWTH = {"RTY": 1.01, "ES": 1.0, "NQ": 1.005}  # per session
ROWS = 300


@pytest.fixture(scope="module")
def compounding_series() -> dict[str, pl.DataFrame]:
    return {
        root: series_frame(100.0 * growth ** np.arange(ROWS), wick=0.5)
        for root, growth in GROWTH.items()
    }


def test_peers_of() -> None:
    assert peers_of("RTY", ["RTY", "ES", "NQ", "YM"]) == ["ES", "NQ"]
    assert peers_of("ES", ["RTY", "ES", "NQ"]) == ["NQ"]
    assert peers_of("NQ", ["NQ", "ES"]) == ["ES"]
    assert peers_of("RTY", ["RTY"]) == []


#: 2007-01-02, President Ford's day of mourning: NYMEX energy traded, CME equity did not. Twenty
#: sessions after 2006-12-29 (counted by hand, MLK day 2007-01-15 no trade date): 2007-01-30 on
#: the energy calendar (2 Jan is its first), 2007-01-31 on the equity calendar.
FORD_EVE = date(2006, 12, 29)


@pytest.mark.parametrize("version", ["v1", "v2", "v3", "v4", "v5"])
def test_the_horizon_ends_on_the_roots_own_calendar(version: str) -> None:
    cl = builtin_registry().spec("CL")
    series = {"CL": continuous_series(
        demo_bars("CL").filter(pl.col("session_date") <= FORD_EVE), spec=cl
    )}  # fmt: skip
    rows = (
        get_methodology(version)
        .analyse(series, "CL", source="demo", sessions=[FORD_EVE], spec=cl)
        .snapshots
    )
    assert rows.select("horizon_sessions", "horizon_end").rows() == [(20, date(2007, 1, 30))]


def test_the_spec_given_decides_the_calendar_not_the_built_in_registry() -> None:
    """A root's registry entry passed in (a user's roots file) wins over the built-in one: ES
    described on the energy calendar ends the horizon of its 2006-12-29 call there."""
    es = builtin_registry().spec("ES")
    days = EQUITY.trade_dates(date(2005, 1, 3), FORD_EVE)[-ROWS:]
    series = {"ES": series_frame(100.0 * 1.002 ** np.arange(ROWS), root="ES", days=days)}
    ends = {
        calendar: analyse(
            series, "ES", source="demo", sessions=[FORD_EVE],
            spec=dataclasses.replace(es, calendar=calendar),
        ).snapshots["horizon_end"].to_list()
        for calendar in ("cme_equity", "cme_energy")
    }  # fmt: skip
    assert ends == {"cme_equity": [date(2007, 1, 31)], "cme_energy": [date(2007, 1, 30)]}


def rs_columns(peer: str) -> list[str]:
    return [f"rs_{peer}_{field}" for field in RS_FIELDS]


def test_rty_is_compared_with_es_and_nq_and_es_only_with_nq(compounding_series) -> None:
    rty = analyse(compounding_series, "RTY", source="demo").snapshots.row(-1, named=True)
    es = analyse(compounding_series, "ES", source="demo").snapshots.row(-1, named=True)
    # Spreads: compounded root return minus compounded peer return over 5 sessions.
    assert rty["rs_es_spread_5"] == round(1.01**5 - 1, 4)
    assert rty["rs_nq_spread_5"] == round(1.01**5 - 1.005**5, 4)
    assert (rty["rs_es_verdict"], rty["rs_nq_verdict"]) == ("leading", "leading")
    assert es["rs_nq_spread_20"] == round(1 - 1.005**20, 4)
    assert es["rs_nq_verdict"] == "lagging"
    assert all(rty[c] is not None for c in rs_columns("es") + rs_columns("nq"))
    assert all(es[c] is None for c in rs_columns("es"))
    assert all(es[c] is not None for c in rs_columns("nq"))
    alone = analyse({"RTY": compounding_series["RTY"]}, "RTY", source="demo").snapshots
    nulls = alone.select(rs_columns("es") + rs_columns("nq")).null_count().row(0)
    assert nulls == (alone.height,) * 2 * len(RS_FIELDS)


def test_sessions_picks_rows_and_the_table_is_the_call_table(compounding_series) -> None:
    days = compounding_series["RTY"]["session_date"]
    wanted = [days[260], days[ROWS - 1]]
    result = analyse(compounding_series, "RTY", source="demo", sessions=wanted)
    assert result.root == "RTY"
    assert result.snapshots["as_of"].to_list() == wanted
    assert result.table.height == ROWS
    assert "rs_ES_verdict" in result.table.columns and "rs_NQ_verdict" in result.table.columns


def test_chart_frame_is_in_the_as_of_front_contracts_points() -> None:
    days = sessions(320, start=date(2025, 1, 2))
    path = np.round(noisy_path([(320, 1.0)], start_level=2000.0, noise=4.0, seed=21))
    bars, premium_steps = contract_bars(days, path, root="RTY", premium=40.0)
    table = analyse({"RTY": continuous_series(bars)}, "RTY", source="demo").table
    as_of = days[-1]
    frame = chart_frame(table, as_of)
    last = table.row(-1, named=True)
    steps = premium_steps[last["contract"]]
    assert frame.height == table.height
    # Every price, old contracts included, reads in the last front contract's points.
    np.testing.assert_allclose(frame["close"].to_numpy(), path + 40.0 * steps)
    assert frame["close"][-1] == last["raw_close"]
    earlier = chart_frame(table, days[100])
    assert earlier.height == 101
    np.testing.assert_allclose(
        earlier["close"].to_numpy(), path[:101] + 40.0 * premium_steps[table["contract"][100]]
    )
    with pytest.raises(ValueError, match="no session on or before 2024-12-31"):
        chart_frame(table, date(2024, 12, 31))


# ---- No look-ahead on the demo history ---------------------------------------------------

#: Days chosen on purpose, and how many random ones to add per root.
SPECIAL_DAYS = {
    "RTY": [
        date(2020, 3, 11),  # the session before the March 2020 roll (12 March), in the crash
        date(2024, 2, 29),  # a leap day (horizon_end once failed on it)
        date(2008, 10, 10),  # a crisis week
    ],
    "ES": [date(2016, 3, 10)],  # the ES roll session of March 2016
}
#: How many random days per root: v1 20 + 10 = 30 days in all; v2, whose levels are kept from
#: session to session (a call depends on the calls before it), 10 + 6 more.
RANDOM_DAYS = {"v1": {"RTY": 17, "ES": 9}, "v2": {"RTY": 7, "ES": 5}, "v3": {"RTY": 5, "ES": 4}}
CASES = [
    (version, case)
    for version, counts in RANDOM_DAYS.items()
    for case in look_ahead.cases(SPECIAL_DAYS, counts)
]


def test_the_cases_cover_the_history() -> None:
    v1_cases = [case for version, case in CASES if version == "v1"]
    assert len(v1_cases) >= 30
    years = {day.year for _, day, _ in v1_cases}
    assert len(years) >= 12
    assert {k for _, _, k in v1_cases} != {1}


@pytest.fixture(scope="module")
def demo_history() -> dict[str, pl.DataFrame]:
    return look_ahead.demo_history()


@pytest.fixture(scope="module")
def whole_histories() -> dict[str, dict[str, pl.DataFrame]]:
    """Snapshot rows of the whole history per methodology and root, computed when first asked."""
    return {}


@pytest.mark.parametrize(
    ("version", "case"), CASES, ids=[f"{v}-{r}-{d}-k{k}" for v, (r, d, k) in CASES]
)
def test_no_look_ahead(
    demo_history, whole_histories, version: str, case: tuple[str, date, int]
) -> None:
    methodology = get_methodology(version)
    if version not in whole_histories:
        whole_histories[version] = look_ahead.whole_history(methodology, demo_history)
    look_ahead.assert_no_look_ahead(methodology, demo_history, whole_histories[version], case)
