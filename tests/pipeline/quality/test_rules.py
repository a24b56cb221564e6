"""The quality rules in polars alone (no Great Expectations): golden tables computed by hand,
TA-Lib as the ATR oracle, and property tests against slow obvious implementations."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, date, datetime, timedelta

import numpy as np
import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pipeline.market.calendar import ET, trade_dates
from pipeline.market.roots import builtin_spec
from pipeline.quality.rules import (
    RULES,
    QualityParams,
    derive_checks,
    detail,
    fails,
    key_checks,
    missing_required_columns,
    near_expiry,
    order_checks,
    product_checks,
    sequential_checks,
    session_checks,
    unparseable_price_columns,
    value_checks,
    walk_sessions,
)
from pipeline.schema import BAR_SCHEMA

NAN = float("nan")


Row = tuple[str, date | None, float | None, float | None, float | None, float | None, int | None]


def bars(rows: Sequence[Row]) -> pl.DataFrame:
    """BAR_SCHEMA frame from (contract, session_date, open, high, low, close, volume)."""
    return pl.DataFrame(
        [("ES", c, d, o, h, lo, cl, v, None) for c, d, o, h, lo, cl, v in rows],
        schema=BAR_SCHEMA,
        orient="row",
    )


def timeline(
    prices: list[tuple[float, float, float]],
    *,
    start: date = date(2026, 1, 5),
    volumes: list[int | None] | None = None,
    context_rows: int = 0,
) -> pl.DataFrame:
    """A walk timeline of one contract from (high, low, close) triples (open = close)."""
    n = len(prices)
    return pl.DataFrame(
        {
            "row_index": [None if i < context_rows else i - context_rows for i in range(n)],
            "contract": ["A"] * n,
            "session_date": [start + timedelta(days=i) for i in range(n)],
            "open": [c for _, _, c in prices],
            "high": [h for h, _, _ in prices],
            "low": [lo for _, lo, _ in prices],
            "close": [c for _, _, c in prices],
            "volume": volumes or list(range(1, n + 1)),
            "roll_exempt": [False] * n,
            "early_close": [False] * n,
        },
        schema_overrides={"row_index": pl.Int64, "volume": pl.Int64},
    )


# ---------------------------------------------------------------------------------------------
# Batch-level helpers


def test_missing_and_unparseable_columns() -> None:
    frame = pl.DataFrame(
        {
            "open": ["6800.25", "n/a"],
            "high": ["NaN", None],  # NaN is not a number either
            "low": [None, None],
            "close": ["x", "6801"],
        }
    )
    assert missing_required_columns(frame) == ["root", "contract", "session_date", "volume"]
    assert unparseable_price_columns(frame) == ["high", "low"]
    assert unparseable_price_columns(frame.clear()) == []  # an empty batch has no cells to judge


# ---------------------------------------------------------------------------------------------
# Stateless rules


def test_value_checks_golden_table() -> None:
    frame = bars(
        [
            ("A", date(2026, 1, 5), 10.0, 11.0, 9.0, 10.5, 5),  # clean
            ("A", date(2026, 1, 6), 10.0, 9.5, 9.0, 9.8, 0),  # high 9.5 < open 10; volume 0
            ("A", date(2026, 1, 7), 10.0, 12.0, 10.2, 11.0, 3),  # low 10.2 > open 10
            ("A", date(2026, 1, 8), 12.0, 12.0, 12.5, 12.0, 3),  # low above everything, high too
            ("A", date(2026, 1, 9), NAN, 12.0, 9.0, 11.0, -1),  # NaN open; volume -1
            ("A", date(2026, 1, 12), None, None, None, None, None),  # nothing parsed
            ("A", date(2026, 1, 13), 5.0, 6.0, -1.0, 5.5, 1),  # negative low
        ]
    )
    out = value_checks(frame)
    names = [
        "price.not_null",
        "price.positive",
        "ohlc.low_bound",
        "ohlc.high_bound",
        "volume.non_negative",
        "volume.zero",
        "ohlc.inverted",
    ]
    assert out.select(fails(n) for n in names).rows() == [
        (False, False, False, False, False, False, False),
        (False, False, False, True, False, True, False),
        (False, False, True, False, False, False, False),
        (False, False, True, False, False, False, True),
        (True, False, False, False, True, False, False),
        (True, False, False, False, False, False, False),
        (False, True, False, False, False, False, False),
    ]
    assert out[detail("ohlc.inverted")][3] == "high 12.0 < low 12.5"
    # A root whose prices can fall below zero (CL) keeps the negative low.
    negative = value_checks(frame, allows_negative=True)
    assert negative[fails("price.positive")].to_list() == [False] * 7
    assert negative["price_sign_ok"].to_list() == [True, True, True, True, True, None, True]
    assert out["body_low"].to_list() == [10.0, 9.8, 10.0, 12.0, None, None, 5.0]
    assert out["body_high"].to_list() == [10.5, 10.0, 11.0, 12.0, None, None, 5.5]
    assert out["lowest_price"].to_list() == [9.0, 9.0, 10.0, 12.0, 9.0, None, -1.0]
    assert out[detail("ohlc.high_bound")][1] == "high 9.5 < max(open 10.0, close 9.8)"
    assert out[detail("ohlc.low_bound")][2] == "low 10.2 > min(open 10.0, close 11.0)"
    assert out[detail("ohlc.low_bound")][3] == "low 12.5 > min(open 12.0, close 12.0)"
    assert out[detail("price.not_null")][4] == "open not a number (missing, text or NaN)"
    assert out[detail("price.not_null")][5] == (
        "open, high, low, close not a number (missing, text or NaN)"
    )
    assert out[detail("price.positive")][6] == "low -1.0 <= 0"
    assert out[detail("volume.non_negative")][4] == "volume -1 < 0"


def test_low_above_high_alone_is_an_inverted_bar() -> None:
    # open/close missing: the body is unknown, but low > high is still a violation
    out = value_checks(bars([("A", date(2026, 1, 5), None, 9.0, 10.0, None, 1)]))
    assert out[fails("ohlc.inverted")].to_list() == [True]
    assert out[fails("ohlc.low_bound")].to_list() == [False]
    assert out[detail("ohlc.inverted")].to_list() == ["high 9.0 < low 10.0"]


def test_tick_grid_allows_vendor_float32_values_and_names_real_misses() -> None:
    import numpy as np

    zn = builtin_spec("ZN")  # tick 1/64
    values = [112.9375, 112.953125, 112.94]  # 112'30, 112'305, off the grid by 0.0016
    frame = pl.DataFrame(
        {
            "contract": "ZN=F",
            "open": [float(np.float32(v)) for v in values],
            "high": [float(np.float32(v + d)) for v, d in zip(values, (0.5, 0, 0.5), strict=True)],
            "low": [float(np.float32(v - d)) for v, d in zip(values, (0.5, 0, 0.5), strict=True)],
            "close": [float(np.float32(v)) for v in values],
            "volume": [10, 0, 10],
        }
    )
    out = product_checks(frame, spec=zn)
    assert out["on_tick_grid"].to_list() == [True, True, False]
    assert out["settlement_only"].to_list() == [False, True, False]
    assert out[detail("price.tick_grid")][2].startswith(
        "open 112.94000244140625 is not a multiple of the tick 0.015625 (nearest 112.9375 or"
    )
    # Yahoo's GC value 1408.699951171875 is 1408.70 in float32: on GC's 0.10 grid, off ES's 0.25.
    gold = pl.DataFrame(
        {
            "contract": "X",
            "open": 1408.699951171875,
            "high": 1408.699951171875,
            "low": 1408.699951171875,
            "close": 1408.699951171875,
            "volume": 1,
        }
    )
    assert product_checks(gold, spec=builtin_spec("GC"))["on_tick_grid"].to_list() == [True]
    assert product_checks(gold, spec=builtin_spec("ES"))["on_tick_grid"].to_list() == [False]


def test_session_checks_golden_table() -> None:
    # Friday 2026-02-20, fetched at 15:00 ET: that session is still trading.
    fetched_at = datetime(2026, 2, 20, 15, 0, tzinfo=ET)
    dates = [
        date(2026, 2, 19),  # Thursday: final
        date(2026, 2, 20),  # Friday: not closed yet -> deferred
        date(2026, 2, 15),  # Sunday
        date(2026, 2, 16),  # Presidents' Day
        date(2026, 2, 23),  # after the window end
        None,  # unparseable
        date(1990, 1, 2),  # before the calendar
    ]
    frame = pl.DataFrame({"session_date": dates}, schema={"session_date": pl.Date})
    out = session_checks(frame, window_end=date(2026, 2, 20), fetched_at=fetched_at)
    assert out.select(
        "is_trade_date",
        "not_future",
        "session_final",
        "deferred",
        fails("session.parsed"),
        fails("session.trade_date"),
        fails("session.not_future"),
        fails("session.final"),
    ).rows() == [
        (True, True, True, False, False, False, False, False),
        (True, True, False, True, False, False, False, True),
        (False, True, None, False, False, True, False, False),
        (False, True, None, False, False, True, False, False),
        (True, False, None, False, False, False, True, False),
        (None, None, None, False, True, False, False, False),
        (False, True, None, False, False, True, False, False),
    ]
    assert out[detail("session.trade_date")].to_list()[2:4] == [
        "2026-02-15 (Sunday) is not a CME trade date (weekend)",
        "2026-02-16 (Monday) is not a CME trade date (holiday)",
    ]
    assert out[detail("session.trade_date")][6] == (
        "1990-01-02 (Tuesday) is not a CME trade date (outside the CME calendar)"
    )
    assert out[detail("session.not_future")][4] == (
        "session 2026-02-23 is after the window end 2026-02-20"
    )
    assert out[detail("session.final")][1] == (
        "session 2026-02-20 ends 2026-02-20 17:00 ET; the batch was fetched 2026-02-20 15:00 ET"
    )


def test_session_end_is_inclusive_and_the_fetch_date_is_taken_in_new_york() -> None:
    frame = pl.DataFrame(
        {"session_date": [date(2026, 2, 20), date(2026, 2, 23)]}, schema={"session_date": pl.Date}
    )
    # 17:00 ET exactly = 22:00 UTC: the Friday session is final. The window allows next week,
    # but the fetch date (ET) is still the 20th, so the 23rd is in the future.
    at_close = datetime(2026, 2, 20, 22, 0, tzinfo=UTC)
    out = session_checks(frame, window_end=date(2026, 2, 27), fetched_at=at_close)
    assert out["session_final"].to_list() == [True, None]
    assert out[detail("session.not_future")].to_list() == [
        None,
        "session 2026-02-23 is after the fetch date 2026-02-20 (ET)",
    ]
    # 01:00 UTC on the 21st is still the evening of the 20th in New York
    late = datetime(2026, 2, 21, 1, 0, tzinfo=UTC)
    out = session_checks(frame, window_end=date(2026, 2, 27), fetched_at=late)
    assert out[fails("session.not_future")].to_list() == [False, True]
    with pytest.raises(ValueError, match="timezone-aware"):
        session_checks(frame, window_end=date(2026, 2, 27), fetched_at=datetime(2026, 2, 21))


def test_key_checks_exact_conflicting_and_out_of_scope() -> None:
    d5, d6, d7 = date(2026, 1, 5), date(2026, 1, 6), date(2026, 1, 7)
    frame = bars(
        [
            ("A", d5, 1.0, 2.0, 0.5, 1.5, 10),  # 0: first copy of an exact duplicate
            ("A", d6, 1.0, 2.0, 0.5, 1.5, 10),  # 1: conflicting with 3 and 4
            ("A", d5, 1.0, 2.0, 0.5, 1.5, 10),  # 2: exact copy of 0
            ("A", d6, 1.0, 2.0, 0.5, 1.5, 10),  # 3: identical to 1, but 4 differs
            ("A", d6, 1.0, 2.0, 0.5, 1.75, 10),  # 4
            ("B", d5, 1.0, 2.0, 0.5, 1.5, 10),  # 5: other contract, same date: fine
            ("A", d7, 1.0, 2.0, 0.5, 1.5, 10),  # 6: duplicate of 7, but 7 is out of scope
            ("A", d7, 1.0, 2.0, 0.5, 1.5, 10),  # 7: out of scope (deferred)
            ("A", None, 1.0, 2.0, 0.5, 1.5, 10),  # 8: undated: session.parsed's business
            ("A", None, 1.0, 2.0, 0.5, 1.5, 10),  # 9
        ]
    )
    in_scope = pl.Series([True] * 7 + [False] + [True] * 2)
    out = key_checks(frame, in_scope=in_scope)
    assert out["duplicate_of"].to_list() == [
        None,
        None,
        0,
        None,
        None,
        None,
        None,
        None,
        None,
        None,
    ]
    assert out[fails("key.unique")].to_list() == [
        False,
        True,
        True,
        True,
        True,
        False,
        False,
        False,
        False,
        False,
    ]
    assert out["key_scope"].to_list() == [
        True,
        True,
        False,
        True,
        True,
        True,
        True,
        False,
        False,
        False,
    ]
    assert out[detail("key.unique")][2] == "duplicate of row 0"
    assert out[detail("key.unique")][4] == "conflicting duplicates of (A, 2026-01-06): rows 1, 3, 4"


def slow_key_failures(rows: list[tuple[str, int, int]]) -> list[bool]:
    """Obvious reference: group by key, compare whole rows."""
    groups: dict[tuple[str, int], list[int]] = {}
    for i, (contract, day, _) in enumerate(rows):
        groups.setdefault((contract, day), []).append(i)
    failed = [False] * len(rows)
    for members in groups.values():
        if len({rows[i] for i in members}) > 1:
            for i in members:
                failed[i] = True
        else:
            for i in members[1:]:
                failed[i] = True
    return failed


@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.tuples(st.sampled_from("AB"), st.integers(5, 8), st.integers(0, 1)), max_size=12)
)
def test_key_checks_match_a_slow_reference(rows: list[tuple[str, int, int]]) -> None:
    frame = bars([(c, date(2026, 1, d), 1.0, 2.0, 0.5, 1.0 + v, 7) for c, d, v in rows])
    out = key_checks(frame, in_scope=pl.Series([True] * len(rows), dtype=pl.Boolean))
    assert out[fails("key.unique")].to_list() == slow_key_failures(rows)


def test_order_is_checked_per_contract() -> None:
    d = [date(2026, 1, x) for x in (5, 6, 7, 8)]
    # the demo layout: sorted by session then contract -> in order
    interleaved = bars([(c, day, 1.0, 2.0, 0.5, 1.5, 1) for day in d[:2] for c in ("A", "B")])
    assert order_checks(interleaved)["in_order"].to_list() == [True] * 4
    # A goes back in time twice; only the first time is reported; undated rows are skipped
    frame = bars(
        [
            ("A", d[1], 1.0, 2.0, 0.5, 1.5, 1),
            ("A", None, 1.0, 2.0, 0.5, 1.5, 1),
            ("B", d[3], 1.0, 2.0, 0.5, 1.5, 1),
            ("A", d[0], 1.0, 2.0, 0.5, 1.5, 1),
            ("A", d[3], 1.0, 2.0, 0.5, 1.5, 1),
            ("A", d[2], 1.0, 2.0, 0.5, 1.5, 1),
        ]
    )
    out = order_checks(frame)
    assert out["in_order"].to_list() == [True, None, True, False, True, True]
    assert out[detail("rows.out_of_order")][3] == (
        "A session 2026-01-05 comes after session 2026-01-06 in the batch"
    )


def slow_first_out_of_order(rows: list[tuple[str, int | None]]) -> int | None:
    last: dict[str, int] = {}
    for i, (contract, day) in enumerate(rows):
        if day is None:
            continue
        if contract in last and day < last[contract]:
            return i
        last[contract] = day
    return None


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.sampled_from("AB"), st.none() | st.integers(5, 9)), max_size=10))
def test_order_checks_match_a_slow_reference(rows: list[tuple[str, int | None]]) -> None:
    frame = bars(
        [(c, None if x is None else date(2026, 1, x), 1.0, 2.0, 0.5, 1.5, 1) for c, x in rows]
    )
    flagged = order_checks(frame)[fails("rows.out_of_order")].to_list()
    first = slow_first_out_of_order(rows)
    assert flagged == [i == first for i in range(len(rows))]


# ---------------------------------------------------------------------------------------------
# Sequential rules


def test_spike_is_quarantined_without_poisoning_the_state() -> None:
    # atr_window=2 keeps the arithmetic by hand:
    #   TR1 = max(103-99, |103-100|, |99-100|) = 4, TR2 = 4 -> ATR = 4 after row 2
    #   row 3 (100x): |10200 - 102| / 4 = 2524.5 ATR -> quarantined, state untouched
    #   row 4: compared with row 2's close 102: |103 - 102| / 4 = 0.25; TR4 = max(7, 6, 1) = 7
    #          -> ATR = (4 * 1 + 7) / 2 = 5.5 (the spike never entered it)
    #   row 5: |106 - 103| / 5.5 = 0.5454..., range 3 / 5.5
    tl = timeline(
        [
            (102.0, 98.0, 100.0),
            (103.0, 99.0, 101.0),
            (104.0, 100.0, 102.0),
            (10300.0, 9900.0, 10200.0),
            (108.0, 101.0, 103.0),
            (107.0, 104.0, 106.0),
        ]
    )
    out = walk_sessions(tl, params=QualityParams(atr_window=2))
    assert out["prev_close"].to_list() == [None, 100.0, 101.0, 102.0, 102.0, 103.0]
    assert out["prev_session"].to_list()[4] == date(2026, 1, 7)  # row 2's session, not the spike's
    assert out["atr"].to_list() == [None, None, None, 4.0, 4.0, 5.5]
    assert out["jump_fraction"].to_list() == [None, 0.01, 1 / 101, None, None, None]
    assert out["jump_atr"].to_list() == [None, None, None, 2524.5, 0.25, 3 / 5.5]
    assert out["range_atr"].to_list() == [None, None, None, 100.0, 7 / 4, 3 / 5.5]


def test_fallback_fraction_applies_until_an_atr_exists() -> None:
    # default atr_window 14: no ATR in three rows; a 30 % move breaks the 25 % fallback and the
    # next row is compared with the last loaded close (100), not with 130.
    out = walk_sessions(
        timeline([(101.0, 99.0, 100.0), (131.0, 129.0, 130.0), (102.0, 100.0, 101.0)]),
        params=QualityParams(),
    )
    assert out["jump_fraction"].to_list() == [None, 0.3, 0.01]
    assert out["atr"].to_list() == [None, None, None]


def test_context_rows_seed_the_state_and_are_not_reported() -> None:
    # two context rows (row_index null) then one batch row
    tl = timeline(
        [(102.0, 98.0, 100.0), (104.0, 100.0, 103.0), (106.0, 103.0, 104.0)], context_rows=2
    )
    out = walk_sessions(tl, params=QualityParams(atr_window=1))
    # TR of the second context row = max(4, |104 - 100|, |100 - 100|) = 4
    assert out.rows() == [(0, 103.0, date(2026, 1, 6), 4.0, 0.25, None, 0.75, 2, True)]


def test_volume_repeated_needs_a_positive_volume() -> None:
    prices = [(101.0, 99.0, 100.0)] * 6
    out = walk_sessions(timeline(prices, volumes=[10, 10, 0, 0, 12, 12]), params=QualityParams())
    assert out["volume_changed"].to_list() == [None, False, None, None, True, False]


@settings(max_examples=25, deadline=None)
@given(
    st.lists(
        # moves of at most 1 % against ranges of at least 1 %: no row comes near a rule, so
        # every bar loads and the walk's ATR must be TA-Lib's
        st.tuples(st.floats(-0.01, 0.01), st.floats(0.005, 0.02), st.floats(0.005, 0.02)),
        min_size=16,
        max_size=60,
    )
)
def test_atr_matches_talib(steps: list[tuple[float, float, float]]) -> None:
    talib = pytest.importorskip("talib")
    close = 1000 * np.exp(np.cumsum([s[0] for s in steps]))
    high = close * (1 + np.array([s[1] for s in steps]))
    low = close * (1 - np.array([s[2] for s in steps]))
    tl = timeline(list(zip(high.tolist(), low.tolist(), close.tolist(), strict=True)))
    walked = walk_sessions(tl, params=QualityParams(atr_window=14))
    oracle = talib.ATR(high, low, close, timeperiod=14)
    # the walk reports the ATR *before* each row: row i sees TA-Lib's value at i - 1
    ours = walked["atr"].to_numpy()[15:]
    np.testing.assert_allclose(ours, oracle[14:-1], rtol=1e-9)
    assert walked["atr"][:15].null_count() == 15


def test_roll_sessions_of_a_continuous_symbol_are_exempt() -> None:
    # ES=F around the 2026-03-20 expiry: the jump on expiry Friday is the roll gap.
    days = trade_dates(date(2026, 2, 26), date(2026, 3, 24))
    closes = [6000.0 + (i % 2) for i in range(len(days))]
    roll = days.index(date(2026, 3, 20))
    closes[roll:] = [c + 60.0 for c in closes[roll:]]  # ~20 ATR gap
    rows = [(d, c + 1.5, c - 1.5, c) for d, c in zip(days, closes, strict=True)]
    params = QualityParams(atr_window=5)

    def run(contract: str) -> pl.DataFrame:
        frame = bars([(contract, d, c, h, lo, c, 100 + i) for i, (d, h, lo, c) in enumerate(rows)])
        walkable = pl.Series([True] * frame.height)
        return sequential_checks(frame, walkable, None, params=params)

    continuous, expiring, contract = run("ES=F"), run("ESH26"), run("ESM26")
    assert continuous[fails("price.jump")].sum() == 0
    assert continuous["jump_atr"][roll] is None  # not evaluated on 03-19, 03-20, 03-23
    assert continuous["jump_atr"][roll - 1 : roll + 2].null_count() == 3
    # ESH26's own last sessions (its expiry 03-20 and the session either side) are exempt too:
    # an expiring contract can squeeze (CLK20 settled at -37.63 the day before its expiry)
    assert expiring[fails("price.jump")].sum() == 0
    assert expiring["jump_atr"][roll - 1 : roll + 2].null_count() == 3
    # a contract far from its expiry has no roll: the +60 gap is a jump, and (the documented
    # price of comparing with the last loaded close) every later bar of the new level is one too
    assert contract[fails("price.jump")].to_list() == [i >= roll for i in range(len(days))]
    # every true range is 3 (the exempt bars count high - low only, not the 60-point gap), so
    # on 03-24 the ATR is still 3 and the 1-point move is 1/3 ATR (with the gap bridged the
    # ATR would be ~14)
    assert continuous["jump_atr"][roll + 2] == pytest.approx(1 / 3)


def test_partial_range_is_not_checked_on_early_closes() -> None:
    # 2025-11-28 (day after Thanksgiving) closes early; 2025-12-01 is a full session. Both are
    # 1 point wide; every earlier bar is 40 points wide with no gaps, so ATR = 40 through
    # 11-26, then the early-close bar (not quarantined: its range is not checked) enters it:
    # ATR = (40 * 13 + 1) / 14 = 521 / 14 = 37.21 before 12-01, whose range is 14 / 521 ATR.
    days = trade_dates(date(2025, 11, 3), date(2025, 12, 1))
    half_width = [0.5 if d >= date(2025, 11, 28) else 20.0 for d in days]
    frame = bars(
        [
            ("ESZ25", d, 6800.0, 6800.0 + w, 6800.0 - w, 6800.0, 1000 + i)
            for i, (d, w) in enumerate(zip(days, half_width, strict=True))
        ]
    )
    out = sequential_checks(frame, pl.Series([True] * frame.height), None, params=QualityParams())
    assert out["range_atr"][-3] == 1.0
    assert out["range_atr"][-2] is None
    assert out["range_atr"][-1] == pytest.approx(14 / 521)
    assert out[fails("range.partial")].to_list()[-2:] == [False, True]
    assert out[detail("range.partial")][-1] == (
        "range 1.0 (high 6800.5 - low 6799.5) = 0.027 ATR < 0.15 ATR (ATR 37.21)"
    )


def test_context_is_replaced_by_batch_rows_of_the_same_session() -> None:
    d = trade_dates(date(2026, 1, 5), date(2026, 1, 8))
    context = bars([("ESH26", x, 100.0, 101.0, 99.0, 100.0, 5) for x in d[:3]])
    # the batch re-sends d[2] revised (close 110) and adds d[3]
    batch = bars(
        [
            ("ESH26", d[2], 100.0, 111.0, 99.0, 110.0, 6),
            ("ESH26", d[3], 110.0, 112.0, 108.0, 111.0, 7),
        ]
    )
    out = sequential_checks(batch, pl.Series([True, True]), context, params=QualityParams())
    # d[2] is compared with the stored d[1] (100), d[3] with the revised d[2] (110), not 100
    assert out["jump_fraction"].to_list() == [0.1, 1 / 110]


# ---------------------------------------------------------------------------------------------
# Everything together


def test_near_expiry_follows_the_moved_june_2026_expiry() -> None:
    # Juneteenth (Friday 19 June 2026) moves the expiry to Thursday 18 June
    es = builtin_spec("ES")
    got = {d: near_expiry(es, "ES=F", date(2026, 6, d), sessions=1) for d in (16, 17, 18, 22, 23)}
    assert got == {16: False, 17: True, 18: True, 22: True, 23: False}
    assert not near_expiry(es, "ES=F", date(2026, 5, 15), sessions=1)


def test_near_expiry_knows_each_products_expiries_and_an_expiring_contracts_last_days() -> None:
    cl, zn = builtin_spec("CL"), builtin_spec("ZN")
    # CL=F walks through every month: CLK20 expired 21 Apr 2020 (20 Apr: -37.63).
    feed = {
        d: near_expiry(cl, "CL=F", date(2020, 4, d), sessions=1) for d in (16, 17, 20, 21, 22, 23)
    }
    assert feed == {16: False, 17: False, 20: True, 21: True, 22: True, 23: False}
    assert near_expiry(cl, "CLK20", date(2020, 4, 20), sessions=1)
    assert not near_expiry(cl, "CLM20", date(2020, 4, 20), sessions=1)  # expires 19 May
    # ZNH26: last trade 7 business days before the last business day of March 2026 (Tuesday
    # 31 Mar): 30, 27, 26, 25, 24, 23, 20 -> Friday 20 Mar.
    assert [
        near_expiry(zn, "ZN=F", date(2026, 3, d), sessions=1) for d in (18, 19, 20, 23, 24)
    ] == [False, True, True, True, False]
    assert not near_expiry(zn, "^TNX", date(2026, 3, 19), sessions=1)  # an index row


def test_a_deferred_row_is_checked_by_session_final_only() -> None:
    days = trade_dates(date(2026, 2, 17), date(2026, 2, 20))
    frame = bars(
        [("ESH26", d, 6800.0, 6810.0, 6790.0, 6805.0, 1000 + i) for i, d in enumerate(days[:-1])]
        # the unfinished Friday bar is inconsistent (close above high) and has zero volume
        + [("ESH26", days[-1], 6800.0, 6805.0, 6790.0, 6900.0, 0)]
    )
    checks = derive_checks(
        frame, window_end=days[-1], fetched_at=datetime(2026, 2, 20, 15, 0, tzinfo=ET)
    )
    last = checks.row(-1, named=True)
    failed = [r.name for r in RULES if fails(r.name) in checks.columns and last[fails(r.name)]]
    assert failed == ["session.final"]
    assert last["body_high"] is None and last["jump_fraction"] is None


def test_a_quarantined_row_is_not_walked() -> None:
    days = trade_dates(date(2026, 2, 17), date(2026, 2, 20))
    frame = bars(
        [
            ("ESH26", days[0], 6800.0, 6810.0, 6790.0, 6800.0, 1000),
            ("ESH26", days[1], 6800.0, 6810.0, 6790.0, NAN, 1001),  # price.not_null
            ("ESH26", days[2], 6800.0, 6810.0, 6790.0, 6802.0, 1001),
        ]
    )
    checks = derive_checks(frame, window_end=days[-1], fetched_at=datetime(2026, 2, 21, tzinfo=UTC))
    assert checks["jump_fraction"].to_list() == [None, None, 2 / 6800]
    # row 2's volume equals row 1's, but row 1 never loaded: compared with row 0 (1000)
    assert checks["volume_changed"].to_list() == [None, None, True]


def test_a_row_before_the_window_start_is_named_by_session_before_window() -> None:
    frame = pl.DataFrame(
        {
            "session_date": [
                date(2026, 2, 17),  # before the start
                date(2026, 2, 18),  # the start itself: in the window
                date(2026, 2, 15),  # a Sunday before the start: both date rules
                None,  # unparseable: session.parsed only
            ]
        },
        schema={"session_date": pl.Date},
    )
    fetched_at = datetime(2026, 2, 21, tzinfo=UTC)
    out = session_checks(
        frame, window_end=date(2026, 2, 20), fetched_at=fetched_at, window_start=date(2026, 2, 18)
    )
    assert out.select(
        "in_window", fails("session.before_window"), fails("session.trade_date"), "deferred"
    ).rows() == [
        (False, True, False, False),
        (True, False, False, False),
        (False, True, True, False),
        (None, False, False, False),
    ]
    assert out[detail("session.before_window")].to_list() == [
        "session 2026-02-17 is before the window start 2026-02-18 (not asked for: not loaded)",
        None,
        "session 2026-02-15 is before the window start 2026-02-18 (not asked for: not loaded)",
        None,
    ]
    # No window start: every dated row is in the window, none fails.
    whole = session_checks(frame, window_end=date(2026, 2, 20), fetched_at=fetched_at)
    assert whole["in_window"].to_list() == [True, True, True, None]
    assert not whole[fails("session.before_window")].any()


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), cut=st.integers(1, 58))
def test_rows_in_the_window_are_judged_as_if_the_file_began_at_its_start(
    seed: int, cut: int
) -> None:
    """A file ingested with --start keeps its earlier rows (session.before_window, nothing
    else changes): every row from the start on fails exactly the rules, with exactly the
    details, it fails when the file is cut at the start. Planted: price spikes (price.jump),
    narrow ranges (range.partial), thin and repeated volumes, inverted bars."""
    rng = np.random.default_rng(seed)
    days = trade_dates(date(2025, 10, 1), date(2026, 2, 20))[-60:]
    close = 6000.0 + np.cumsum(rng.normal(0.0, 30.0, len(days)))
    close[rng.random(len(days)) < 0.08] *= 1.2  # spikes
    spread = np.where(rng.random(len(days)) < 0.1, 0.25, rng.uniform(20.0, 60.0, len(days)))
    volume = rng.choice([0, 10, 5_000, 900_000, 1_000_000], len(days))
    rows: list[Row] = []
    for d, c, s, v in zip(days, close, spread, volume, strict=True):
        high, low = float(np.round(c + s)), float(np.round(c - s))
        if rng.random() < 0.05:
            high, low = low, high  # inverted
        rows.append(("ES=F", d, float(np.round(c)), high, low, float(np.round(c)), int(v)))
    frame, start = bars(rows), days[cut]
    at = datetime(2026, 2, 21, tzinfo=UTC)
    whole = derive_checks(frame, window_end=days[-1], fetched_at=at, window_start=start)
    alone = derive_checks(frame.slice(cut), window_end=days[-1], fetched_at=at)
    judged = [
        c
        for r in RULES
        if r.severity != "batch" and r.name != "session.before_window"
        for c in (fails(r.name), detail(r.name))
        if c in alone.columns
    ]
    assert whole.slice(cut).select(judged).equals(alone.select(judged))
    assert whole[fails("session.before_window")].to_list() == [True] * cut + [False] * (60 - cut)
