"""Contracts of every root: last trading days, first notice days and rolls against dates worked
out by hand from each exchange's rule (the worked steps are in the comments; "bd" = business
day, a trade date of the root's calendar). Where QuantConnect LEAN's test data lists the same
contract (Tests/TestData/FuturesExpiryFunctionsTestData.xml) it agrees; it was not the source."""

from __future__ import annotations

from datetime import date

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pipeline.market.calendar import is_trade_date, trading_calendar
from pipeline.market.contracts import (
    Contract,
    contract,
    contracts_between,
    expiries_between,
    first_expiring_on_or_after,
    front_contract,
    parse_contract,
)
from pipeline.market.roots import builtin_registry, builtin_spec

#: (root, year, month) -> last trading day, each worked by hand from the rule in roots.toml.
LAST_TRADE: dict[tuple[str, int, int], date] = {
    # Equity index: third Friday, the bd before when it is a holiday.
    ("ES", 2008, 3): date(2008, 3, 20),  # Fri 21 Mar 2008 was Good Friday -> Thu 20
    ("ES", 2026, 6): date(2026, 6, 18),  # Fri 19 Jun 2026 is Juneteenth -> Thu 18
    ("NQ", 2025, 12): date(2025, 12, 19),  # 1 Dec is a Monday: Fridays 5, 12, 19
    ("RTY", 2026, 3): date(2026, 3, 20),  # Fridays 6, 13, 20
    ("YM", 2024, 9): date(2024, 9, 20),  # Fridays 6, 13, 20
    # CL: 3 bd before the 25th of the month before; 4 when the 25th is not a bd.
    ("CL", 2020, 5): date(2020, 4, 21),  # 25 Apr 2020 a Saturday: 24, 23, 22, 21
    ("CL", 2021, 1): date(2020, 12, 21),  # 25 Dec 2020 Christmas: 24, 23, 22, 21
    ("CL", 2019, 1): date(2018, 12, 19),  # 25 Dec 2018 Christmas: 24, 21, 20, 19
    ("CL", 2017, 12): date(2017, 11, 20),  # 25 Nov a Saturday: 24, 22 (23 Thanksgiving), 21, 20
    ("CL", 2024, 4): date(2024, 3, 20),  # 25 Mar 2024 a Monday bd: 22, 21, 20
    # NG: 3 bd before the first calendar day of the contract month (third last bd before it).
    ("NG", 2018, 1): date(2017, 12, 27),  # Dec 2017: 29, 28, 27
    ("NG", 2020, 12): date(2020, 11, 25),  # Nov 2020: 30, 27, 25 (26 Thanksgiving)
    ("NG", 2024, 5): date(2024, 4, 26),  # Apr 2024: 30, 29, 26
    # RB, HO: last bd of the month before.
    ("RB", 2018, 4): date(2018, 3, 29),  # 30 Mar 2018 was Good Friday
    ("RB", 2017, 10): date(2017, 9, 29),
    ("HO", 2026, 5): date(2026, 4, 30),
    ("HO", 2018, 4): date(2018, 3, 29),
    # Metals: third last bd of the contract month.
    ("GC", 2024, 4): date(2024, 4, 26),  # Apr 2024: 30, 29, 26
    ("GC", 2017, 12): date(2017, 12, 27),  # Dec 2017: 29, 28, 27
    ("GC", 2021, 2): date(2021, 2, 24),  # Feb 2021: 26, 25, 24
    ("SI", 2018, 3): date(2018, 3, 27),  # 30 Mar 2018 Good Friday: 29, 28, 27
    ("HG", 2020, 4): date(2020, 4, 28),  # Apr 2020: 30, 29, 28
    ("HG", 2019, 12): date(2019, 12, 27),  # Dec 2019: 31, 30, 27 (25 Christmas)
    ("PL", 2018, 4): date(2018, 4, 26),  # Apr 2018: 30, 27, 26
    # ZT, ZF: last bd of the contract month.
    ("ZT", 2017, 6): date(2017, 6, 30),
    ("ZT", 2026, 9): date(2026, 9, 30),
    ("ZF", 2017, 9): date(2017, 9, 29),  # 30 Sep a Saturday
    ("ZF", 2024, 3): date(2024, 3, 28),  # 29 Mar 2024 Good Friday
    # ZN, ZB, UB: 7 bd before the last bd of the contract month.
    ("ZN", 2017, 12): date(2017, 12, 19),  # last bd 29: 28, 27, 26, 22 (25 Xmas), 21, 20, 19
    ("ZN", 2026, 3): date(2026, 3, 20),  # last bd Tue 31: 30, 27, 26, 25, 24, 23, 20
    ("ZN", 2022, 6): date(2022, 6, 21),  # last bd Thu 30: 29, 28, 27, 24, 23, 22, 21
    ("ZB", 2017, 9): date(2017, 9, 20),  # last bd 29: 28, 27, 26, 25, 22, 21, 20
    ("UB", 2020, 9): date(2020, 9, 21),  # last bd Wed 30: 29, 28, 25, 24, 23, 22, 21
    # Grains: the bd before the 15th of the contract month.
    ("ZC", 2018, 7): date(2018, 7, 13),  # 15 Jul a Sunday: Fri 13
    ("ZC", 2019, 7): date(2019, 7, 12),  # 15 Jul a Monday: Fri 12
    ("ZC", 2024, 3): date(2024, 3, 14),  # 15 Mar a Friday: Thu 14
    ("ZS", 2018, 1): date(2018, 1, 12),  # 15 Jan 2018 MLK day (a Monday): Fri 12
    ("ZS", 2019, 1): date(2019, 1, 14),  # 15 Jan a Tuesday: Mon 14
    ("ZW", 2018, 7): date(2018, 7, 13),
    ("ZL", 2018, 10): date(2018, 10, 12),  # 15 Oct a Monday
    ("ZM", 2018, 10): date(2018, 10, 12),
    # Currencies: 2 bd before the third Wednesday (6C: 1).
    ("6E", 2018, 3): date(2018, 3, 19),  # Wednesdays 7, 14, 21: 20, 19
    ("6E", 2019, 9): date(2019, 9, 16),  # Wednesdays 4, 11, 18: 17, 16
    ("6E", 2028, 6): date(2028, 6, 16),  # Wednesdays 7, 14, 21: 20, 19 is Juneteenth, so 16
    ("6J", 2018, 12): date(2018, 12, 17),  # Wednesdays 5, 12, 19: 18, 17
    ("6B", 2018, 6): date(2018, 6, 18),  # Wednesdays 6, 13, 20: 19, 18
    ("6A", 2018, 9): date(2018, 9, 17),  # Wednesdays 5, 12, 19: 18, 17
    ("6C", 2018, 3): date(2018, 3, 20),  # third Wednesday 21: 20
    ("6C", 2019, 6): date(2019, 6, 18),  # third Wednesday 19: 18
}

#: First notice days: the last bd of the month before the contract month (metals, Treasuries,
#: grains); roots without a notice period before the last trade have none.
FIRST_NOTICE: dict[tuple[str, int, int], date | None] = {
    ("GC", 2024, 4): date(2024, 3, 28),  # 29 Mar 2024 Good Friday
    ("GC", 2021, 2): date(2021, 1, 29),
    ("ZN", 2022, 6): date(2022, 5, 31),
    ("ZT", 2026, 9): date(2026, 8, 31),
    ("ZC", 2024, 3): date(2024, 2, 29),  # leap year
    ("ZC", 2025, 5): date(2025, 4, 30),
    ("CL", 2020, 5): None,
    ("6E", 2018, 3): None,
    ("ES", 2026, 6): None,
}

#: Per-contract series rolls: equity 8 calendar days before the nominal third Friday (or the bd
#: before); physically delivered roots 2 bd before first notice, or 3 (CL) / 5 (currencies) bd
#: before the last trade.
ROLL: dict[tuple[str, int, int], date] = {
    ("ES", 2026, 6): date(2026, 6, 11),  # nominal Fri 19 Jun - 8 days; not moved by Juneteenth
    ("GC", 2024, 4): date(2024, 3, 26),  # first notice Thu 28 Mar: 27, 26
    ("ZN", 2022, 6): date(2022, 5, 26),  # first notice Tue 31 May: 27 (30 Memorial Day), 26
    ("ZC", 2024, 3): date(2024, 2, 27),  # first notice Thu 29 Feb: 28, 27
    ("CL", 2020, 5): date(2020, 4, 16),  # last trade Tue 21 Apr: 20, 17, 16
    ("6E", 2018, 3): date(2018, 3, 12),  # last trade Mon 19 Mar: 16, 15, 14, 13, 12
}


@pytest.mark.parametrize(("key", "expected"), sorted(LAST_TRADE.items()))
def test_last_trading_day_matches_the_hand_worked_date(
    key: tuple[str, int, int], expected: date
) -> None:
    root, year, month = key
    assert contract(builtin_spec(root), year, month).expiry == expected


def test_every_root_of_the_registry_has_hand_worked_expiries() -> None:
    assert {root for root, _, _ in LAST_TRADE} == set(builtin_registry().names())


def test_clk20_last_traded_on_21_april_2020() -> None:
    clk20 = parse_contract("CLK20", builtin_spec("CL"))
    assert clk20.expiry == date(2020, 4, 21) and clk20.first_notice is None


@pytest.mark.parametrize(("key", "expected"), sorted(FIRST_NOTICE.items()))
def test_first_notice_day_matches_the_hand_worked_date(
    key: tuple[str, int, int], expected: date | None
) -> None:
    root, year, month = key
    assert contract(builtin_spec(root), year, month).first_notice == expected


@pytest.mark.parametrize(("key", "expected"), sorted(ROLL.items()))
def test_roll_day_matches_the_hand_worked_date(key: tuple[str, int, int], expected: date) -> None:
    root, year, month = key
    assert contract(builtin_spec(root), year, month).roll_date == expected


def test_expiries_are_third_fridays_or_the_trade_date_before() -> None:
    assert Contract(2026, 3, "RTY").expiry == date(2026, 3, 20)
    assert Contract(2026, 6, "RTY").expiry == date(2026, 6, 18)  # Juneteenth moves it
    assert Contract(2025, 12, "ES").expiry == date(2025, 12, 19)


def test_roll_dates_match_the_published_2026_schedule() -> None:
    assert [Contract(2026, m, "RTY").roll_date for m in (3, 6, 9, 12)] == [
        date(2026, 3, 12),
        date(2026, 6, 11),
        date(2026, 9, 10),
        date(2026, 12, 10),
    ]


def test_front_contract_switches_on_the_roll_date() -> None:
    assert front_contract("ES", date(2025, 12, 10)).code == "ESZ25"
    assert front_contract("ES", date(2025, 12, 11)).code == "ESH26"
    assert front_contract("ES", date(2025, 12, 31)).code == "ESH26"


def test_front_contract_walks_each_roots_active_months() -> None:
    gc, cl, zc = builtin_spec("GC"), builtin_spec("CL"), builtin_spec("ZC")
    # Gold lists every near month but a per-contract series holds G J M Q V Z.
    assert [front_contract(gc, date(2024, m, 15)).code for m in (1, 2, 3, 4, 5)] == [
        "GCG24", "GCJ24", "GCJ24", "GCM24", "GCM24",
    ]  # fmt: skip
    assert front_contract(cl, date(2020, 4, 15)).code == "CLK20"
    assert front_contract(cl, date(2020, 4, 16)).code == "CLM20"
    # Corn skips from Z to H: on 1 Dec 2024 Z24's first notice (29 Nov) has passed.
    assert front_contract(zc, date(2024, 12, 2)).code == "ZCH25"


def test_a_front_month_feed_holds_the_nearest_listed_contract_through_its_expiry() -> None:
    gc = builtin_spec("GC")
    # GC=F walks every month (measured: the volume of the spot month, see pipeline/market/rolls).
    assert [first_expiring_on_or_after(gc, date(2024, 3, d)).code for d in (25, 26, 27)] == [
        "GCH24", "GCH24", "GCJ24",
    ]  # fmt: skip
    # CL expiries Mar-May 2020: 20 Mar (CLJ20), 21 Apr (CLK20), 19 May (CLM20); CLN20: 22 Jun.
    spring = expiries_between(builtin_spec("CL"), date(2020, 3, 1), date(2020, 5, 31))
    assert [c.code for c in spring] == ["CLJ20", "CLK20", "CLM20"]


def test_parse_and_code_round_trip_and_errors() -> None:
    assert parse_contract("YMU07") == Contract(2007, 9, "YM")
    assert parse_contract("6EM25").code == "6EM25"
    with pytest.raises(ValueError, match="not a contract code"):
        parse_contract("ES=F")
    with pytest.raises(ValueError, match=r"not a contract of ZC \(ROOT \+ a month of HKNUZ"):
        parse_contract("ZCF25", builtin_spec("ZC"))  # corn lists no January


def test_contracts_between_lists_front_and_next() -> None:
    codes = [c.code for c in contracts_between("RTY", date(2026, 1, 5), date(2026, 4, 1))]
    assert codes == ["RTYH26", "RTYM26", "RTYU26"]


@given(
    st.sampled_from(builtin_registry().names()),
    st.integers(min_value=2000, max_value=2035),
    st.integers(min_value=1, max_value=12),
)
def test_every_roots_dates_are_trade_dates_in_order(root: str, year: int, month: int) -> None:
    spec = builtin_spec(root)
    if month not in spec.month_numbers(spec.months):
        return
    c = contract(spec, year, month)
    cal = trading_calendar(spec.calendar)
    assert cal.is_trade_date(c.expiry) and cal.is_trade_date(c.roll_date)
    assert c.roll_date < c.expiry
    if c.first_notice is not None:
        assert cal.is_trade_date(c.first_notice)
        assert c.roll_date < c.first_notice < c.expiry
    # Every last trading day falls in the contract month or the month before it.
    months_before = (year * 12 + month) - (c.expiry.year * 12 + c.expiry.month)
    assert months_before in (0, 1)
    assert c.next_listed() > c
    if month in spec.month_numbers(spec.active):
        assert c.next().previous() == c


@given(st.integers(min_value=2001, max_value=2039), st.sampled_from([3, 6, 9, 12]))
def test_roll_is_a_trade_date_before_expiry(year: int, month: int) -> None:
    c = Contract(year, month, "RTY")
    assert is_trade_date(c.roll_date) and is_trade_date(c.expiry)
    assert 4 <= (c.expiry - c.roll_date).days <= 10
    assert c.next().previous() == c
