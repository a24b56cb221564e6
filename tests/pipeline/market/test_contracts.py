from __future__ import annotations

from datetime import date

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pipeline.market.calendar import is_trade_date
from pipeline.market.contracts import Contract, contracts_between, front_contract, parse_contract


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


def test_parse_and_code_round_trip_and_errors() -> None:
    assert parse_contract("YMU07") == Contract(2007, 9, "YM")
    with pytest.raises(ValueError, match="not a quarterly contract code"):
        parse_contract("ES=F")


def test_contracts_between_lists_front_and_next() -> None:
    codes = [c.code for c in contracts_between("RTY", date(2026, 1, 5), date(2026, 4, 1))]
    assert codes == ["RTYH26", "RTYM26", "RTYU26"]


@given(st.integers(min_value=2001, max_value=2039), st.sampled_from([3, 6, 9, 12]))
def test_roll_is_a_trade_date_before_expiry(year: int, month: int) -> None:
    c = Contract(year, month, "RTY")
    assert is_trade_date(c.roll_date) and is_trade_date(c.expiry)
    assert 4 <= (c.expiry - c.roll_date).days <= 10
    assert c.next().previous() == c
