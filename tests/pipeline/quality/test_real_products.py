"""Validation per product on the real CL, GC, ZN and ZC files (../shared/data): the defects the
data README leaves for validation to find are found and named by rule, and nothing real is
rejected (the CL settlement of -37.63, settlement-only records, thin sessions' settlements)."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import polars as pl
import pytest

from tests.pipeline.market.real_feeds import real_validation

pytestmark = pytest.mark.shared_data


def found(findings: pl.DataFrame, rule: str) -> pl.DataFrame:
    return findings.filter(pl.col("rule") == rule)


def quarantined(findings: pl.DataFrame) -> pl.DataFrame:
    return findings.filter(pl.col("severity") == "error")


def test_the_negative_cl_settlement_loads_clean(shared_data: Path) -> None:
    bars, findings = real_validation(shared_data, "CL")
    april = bars.filter(pl.col("session_date").is_between(date(2020, 4, 17), date(2020, 4, 22)))
    assert april["close"].round(2).to_list() == [18.27, -37.63, 10.01, 13.78]
    assert findings.filter(
        pl.col("session_date").is_between(date(2020, 4, 17), date(2020, 4, 22))
    ).is_empty()


@pytest.mark.parametrize(
    ("root", "holidays"),
    [
        # Labor Day 2006 (a Globex bar, no settlement), the updater's 4 July and 1 September 2025
        ("CL", [date(2006, 9, 4), date(2025, 7, 4), date(2025, 9, 1)]),
        # COMEX was closed on 2 Jan 2007 (Ford's funeral): GC=F repeats 29 Dec's settlement
        ("GC", [date(2006, 9, 4), date(2007, 1, 2), date(2025, 7, 4), date(2025, 9, 1)]),
        # Reagan's funeral, Thanksgiving 2023 (a Globex bar)
        ("ZN", [date(2004, 6, 11), date(2023, 11, 23), date(2025, 7, 4), date(2025, 9, 1)]),
        # Thanksgivings 2005 and 2006, flat bars of a closed market
        ("ZC", [date(2004, 6, 11), date(2005, 11, 24), date(2006, 11, 23)]),
    ],
)
def test_bars_on_a_products_holiday_are_named_and_quarantined(
    shared_data: Path, root: str, holidays: list[date]
) -> None:
    _, findings = real_validation(shared_data, root)
    holiday = found(findings, "session.trade_date").filter(pl.col("detail").str.contains("holiday"))
    assert holiday["session_date"].to_list() == holidays
    assert (holiday["severity"] == "error").all()


def test_the_traded_sessions_of_2007_01_02_and_2025_01_09_load(shared_data: Path) -> None:
    # NYMEX and the CBOT Treasuries traded on Ford's funeral day; every group on Carter's.
    for root, day in (("CL", date(2007, 1, 2)), ("ZN", date(2007, 1, 2)), ("ZC", date(2025, 1, 9))):
        bars, findings = real_validation(shared_data, root)
        assert bars.filter(pl.col("session_date") == day).height == 1
        assert quarantined(findings).filter(pl.col("session_date") == day).is_empty(), root


def test_gc_settlement_only_records_and_thin_sessions_are_named_and_kept(
    shared_data: Path,
) -> None:
    bars, findings = real_validation(shared_data, "GC")
    flat = found(findings, "bar.settlement_only")
    assert (flat["severity"] == "warning").all() and flat.height > 500
    assert flat["session_date"].min() == date(2000, 8, 30)  # the file's first row
    first = bars.filter(pl.col("session_date") == date(2000, 8, 30)).row(0, named=True)
    assert first["open"] == first["high"] == first["low"] == first["close"]
    apart = found(findings, "ohlc.settlement_outside_range")
    assert (apart["severity"] == "warning").all() and apart.height > 300
    # 2003-04-29: GCM03 traded at 333.0 only; it settled at 333.7 (the exchange's settlement).
    row = apart.filter(pl.col("session_date") == date(2003, 4, 29)).row(0, named=True)
    assert row["detail"].startswith(
        "open 333.0, close 333.70001220703125: outside the traded range"
    )
    # The one inverted bar of the file.
    inverted = found(findings, "ohlc.inverted")
    assert inverted.select("session_date", "detail").rows() == [
        (date(2009, 11, 23), "high 1163.0 < low 1164.300048828125")
    ]
    assert 1 - quarantined(findings)["row_index"].n_unique() / bars.height > 0.98


def test_zc_electronic_sessions_before_2006_keep_their_settlements(shared_data: Path) -> None:
    bars, findings = real_validation(shared_data, "ZC")
    apart = found(findings, "ohlc.settlement_outside_range")
    assert apart.height > 500 and apart["session_date"].max() < date(2012, 1, 1)
    assert 1 - quarantined(findings)["row_index"].n_unique() / bars.height > 0.98


def test_zn_prices_written_to_four_decimals_are_on_its_1_64_grid(shared_data: Path) -> None:
    bars, findings = real_validation(shared_data, "ZN")
    # 2000-09-27's low 100.0938 (float32 100.09380340576172) is 100'03, 0.3 % of a tick off.
    row = bars.filter(pl.col("session_date") == date(2000, 9, 27)).row(0, named=True)
    assert abs(row["low"] - (100 + 3 / 32)) < 0.0001
    assert (
        found(findings, "price.tick_grid")
        .filter(pl.col("session_date") == date(2000, 9, 27))
        .is_empty()
    )
    assert found(findings, "price.tick_grid").height < 20


def test_the_updaters_partial_bar_is_still_quarantined(shared_data: Path) -> None:
    # 2025-08-11 traded a sliver of the usual volume (CL=F 516 of a median 263,619): cut short,
    # not a thin market.
    for root in ("CL", "ZN"):
        _, findings = real_validation(shared_data, root)
        partial = found(findings, "range.partial").filter(
            pl.col("session_date") == date(2025, 8, 11)
        )
        assert partial.height == 1 and partial["severity"][0] == "error", root
