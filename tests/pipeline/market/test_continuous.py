from __future__ import annotations

import bisect
import itertools
from collections.abc import Iterable
from datetime import date, timedelta

import numpy as np
import polars as pl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pipeline.market.calendar import trade_dates
from pipeline.market.continuous import (
    SERIES_SCHEMA,
    ContinuousSeriesError,
    anchor_on_last,
    continuous_series,
)
from pipeline.market.contracts import (
    Contract,
    contracts_between,
    front_contract,
    parse_contract,
)
from pipeline.schema import BAR_SCHEMA
from pipeline.sources.demo import demo_bars

# Offsets of open/high/low from the close in the hand-built bars, so every price column is checked.
OPEN_BELOW, HIGH_ABOVE, LOW_BELOW = 1.0, 2.0, 3.0


def make_bars(
    rows: Iterable[tuple[str, date, float] | tuple[str, date, float, int]], *, root: str = "RTY"
) -> pl.DataFrame:
    """BAR_SCHEMA frame from (contract, session_date, close[, volume]) tuples."""
    records = []
    for row in rows:
        code, day, close = row[:3]
        volume = row[3] if len(row) == 4 else 1000
        records.append(
            {
                "root": root,
                "contract": code,
                "session_date": day,
                "open": close - OPEN_BELOW,
                "high": close + HIGH_ABOVE,
                "low": close - LOW_BELOW,
                "close": close,
                "volume": volume,
                "open_interest": None,
            }
        )
    return pl.DataFrame(records, schema=BAR_SCHEMA)


def d(month: int, day: int, year: int = 2026) -> date:
    return date(year, month, day)


# Three contracts around the 2026 rolls of RTYH26 -> RTYM26 (Thu 12 Mar) and RTYM26 -> RTYU26
# (Thu 11 Jun). Spread on the session before each roll: 2034 - 2020 = 14 and 2140 - 2120 = 20.
HAND_ROWS = [
    ("RTYH26", d(3, 9), 2000.0),
    ("RTYH26", d(3, 10), 2010.0),
    ("RTYH26", d(3, 11), 2020.0),
    ("RTYH26", d(3, 12), 2030.0),
    ("RTYM26", d(3, 10), 2025.0),
    ("RTYM26", d(3, 11), 2034.0),
    ("RTYM26", d(3, 12), 2045.0),
    ("RTYM26", d(3, 13), 2050.0),
    ("RTYM26", d(6, 8), 2100.0),
    ("RTYM26", d(6, 9), 2110.0),
    ("RTYM26", d(6, 10), 2120.0),
    ("RTYM26", d(6, 11), 2115.0),
    ("RTYU26", d(6, 9), 2130.0),
    ("RTYU26", d(6, 10), 2140.0),
    ("RTYU26", d(6, 11), 2136.0),
    ("RTYU26", d(6, 12), 2150.0),
]
HAND_SESSIONS = [
    d(3, 9),
    d(3, 10),
    d(3, 11),
    d(3, 12),
    d(3, 13),
    d(6, 8),
    d(6, 9),
    d(6, 10),
    d(6, 11),
    d(6, 12),
]
HAND_FRONTS = ["RTYH26"] * 3 + ["RTYM26"] * 5 + ["RTYU26"] * 2
HAND_RAW_CLOSES = [2000, 2010, 2020, 2045, 2050, 2100, 2110, 2120, 2136, 2150]


@pytest.fixture(scope="module")
def hand_bars() -> pl.DataFrame:
    # Shuffled: the input may come in any order.
    return make_bars(HAND_ROWS).sample(fraction=1.0, shuffle=True, seed=7)


def test_hand_example_difference(hand_bars: pl.DataFrame) -> None:
    s = continuous_series(hand_bars, method="difference")
    assert s.schema == pl.Schema(SERIES_SCHEMA)
    assert s["session_date"].to_list() == HAND_SESSIONS
    assert s["contract"].to_list() == HAND_FRONTS
    assert s["raw_close"].to_list() == HAND_RAW_CLOSES
    # H26 offset 0, M26 offset -14, U26 offset -14 - 20 = -34.
    assert s["offset"].to_list() == [0.0] * 3 + [-14.0] * 5 + [-34.0] * 2
    assert s["close"].to_list() == [2000, 2010, 2020, 2031, 2036, 2086, 2096, 2106, 2102, 2116]
    assert s["open"].to_list() == [c - OPEN_BELOW for c in s["close"]]
    assert s["high"].to_list() == [c + HIGH_ABOVE for c in s["close"]]
    assert s["low"].to_list() == [c - LOW_BELOW for c in s["close"]]
    assert s["raw_high"].to_list() == [c + HIGH_ABOVE for c in HAND_RAW_CLOSES]
    assert s["factor"].to_list() == [1.0] * 10
    assert s["is_roll"].to_list() == [False] * 3 + [True] + [False] * 4 + [True, False]
    assert s["roll_gap"].to_list() == [None] * 3 + [14.0] + [None] * 4 + [20.0, None]
    assert s["volume"].to_list() == [1000] * 10


def test_hand_example_ratio(hand_bars: pl.DataFrame) -> None:
    s = continuous_series(hand_bars, method="ratio")
    m26 = 2020 / 2034  # factor of RTYM26: old / new close on 11 March
    u26 = m26 * 2120 / 2140  # ... times old / new close on 10 June
    expected = [2000, 2010, 2020] + [c * m26 for c in (2045, 2050, 2100, 2110, 2120)]
    expected += [c * u26 for c in (2136, 2150)]
    assert s["close"].to_list() == pytest.approx(expected, rel=1e-14)
    assert s["factor"].to_list() == pytest.approx([1.0] * 3 + [m26] * 5 + [u26] * 2, rel=1e-14)
    assert s["offset"].to_list() == [0.0] * 10
    rolls = s.filter("is_roll")
    assert rolls["roll_gap"].to_list() == pytest.approx([2034 / 2020, 2140 / 2120], rel=1e-14)
    # Percentage returns survive the ratio adjustment, across the roll too: the RTYM26 leg
    # 11 Mar -> 12 Mar is 2045 / 2034 in the new contract.
    assert s["close"][3] / s["close"][2] == pytest.approx(2045 / 2034, rel=1e-14)


def test_hand_example_none_reports_rolls_without_adjusting(hand_bars: pl.DataFrame) -> None:
    s = continuous_series(hand_bars, method="none")
    assert s["close"].to_list() == HAND_RAW_CLOSES
    assert s["offset"].to_list() == [0.0] * 10 and s["factor"].to_list() == [1.0] * 10
    assert s.filter("is_roll")["roll_gap"].to_list() == [14.0, 20.0]


def test_anchor_on_last_by_hand(hand_bars: pl.DataFrame) -> None:
    panama = anchor_on_last(continuous_series(hand_bars, method="difference"))
    # Offsets re-based on RTYU26: H26 +34, M26 +20, U26 0.
    assert panama["offset"].to_list() == [34.0] * 3 + [20.0] * 5 + [0.0] * 2
    assert panama["close"].to_list() == [2034, 2044, 2054, 2065, 2070, 2120, 2130, 2140, 2136, 2150]
    assert panama["raw_close"].to_list() == HAND_RAW_CLOSES
    assert panama["open"].to_list() == [c - OPEN_BELOW for c in panama["close"]]
    # A level published on 10 Mar as 2005 (raw RTYH26 points) is 2005 + 34 in today's frame.
    published = 2005.0
    assert published + panama["offset"][1] == 2039.0

    ratio = anchor_on_last(continuous_series(hand_bars, method="ratio"))
    h26 = (2034 / 2020) * (2140 / 2120)  # factor of RTYH26 relative to RTYU26
    assert ratio["close"].to_list()[-2:] == [2136.0, 2150.0]
    assert ratio["close"][0] == pytest.approx(2000 * h26, rel=1e-14)
    assert ratio["factor"].to_list()[-2:] == [1.0, 1.0]


def test_anchor_on_last_leaves_unadjusted_and_single_contract_series_alone(
    hand_bars: pl.DataFrame,
) -> None:
    raw = continuous_series(hand_bars, method="none")
    assert anchor_on_last(raw).equals(raw)
    single = continuous_series(hand_bars.filter(pl.col("session_date") <= d(3, 11)))
    assert anchor_on_last(single).equals(single)


def test_session_without_a_bar_of_the_scheduled_front_is_a_gap(hand_bars: pl.DataFrame) -> None:
    # RTYM26 has no bar on 9 Jun while it is the front; RTYU26 has one but is not the front yet.
    holed = hand_bars.filter(
        ~((pl.col("contract") == "RTYM26") & (pl.col("session_date") == d(6, 9)))
    )
    s = continuous_series(holed)
    assert d(6, 9) not in s["session_date"].to_list()
    assert s.height == len(HAND_SESSIONS) - 1
    assert s.filter("is_roll")["roll_gap"].to_list() == [14.0, 20.0]


# --- volume rule ----------------------------------------------------------------------------------


def test_volume_rule_switches_on_first_session_next_trades_more_and_never_back() -> None:
    bars = make_bars(
        [
            ("RTYH26", d(3, 9), 2000.0, 100),
            ("RTYH26", d(3, 10), 2010.0, 100),
            ("RTYH26", d(3, 11), 2020.0, 80),
            ("RTYH26", d(3, 12), 2030.0, 200),  # H26 busier again: no switch back
            ("RTYH26", d(3, 13), 2040.0, 300),
            ("RTYM26", d(3, 10), 2025.0, 50),
            ("RTYM26", d(3, 11), 2034.0, 90),  # first session M26 > H26 (a day before the calendar)
            ("RTYM26", d(3, 12), 2045.0, 10),
            ("RTYM26", d(3, 13), 2050.0, 20),
        ]
    )
    s = continuous_series(bars, roll="volume")
    assert s["contract"].to_list() == ["RTYH26", "RTYH26", "RTYM26", "RTYM26", "RTYM26"]
    assert s["is_roll"].to_list() == [False, False, True, False, False]
    # Gap measured on 10 Mar, the last session before the switch with both bars: 2025 - 2010.
    assert s["roll_gap"][2] == 15.0
    assert s["close"].to_list() == [2000, 2010, 2019, 2030, 2035]
    assert s["volume"].to_list() == [100, 100, 90, 10, 20]


def test_volume_rule_switches_on_expiry_at_the_latest() -> None:
    # RTYH26 expires Friday 20 Mar 2026 and keeps the larger volume to the end.
    days = trade_dates(d(3, 16), d(3, 24))
    rows = [("RTYH26", day, 2000.0 + i, 500) for i, day in enumerate(days) if day <= d(3, 20)]
    rows += [("RTYM26", day, 2010.0 + i, 100) for i, day in enumerate(days)]
    s = continuous_series(make_bars(rows), roll="volume")
    assert s.filter("is_roll")["session_date"].to_list() == [Contract(2026, 3, "RTY").expiry]
    assert s.filter("is_roll")["roll_gap"].to_list() == [10.0]


def test_volume_rule_with_a_missing_front_volume_does_not_switch() -> None:
    bars = make_bars(
        [
            ("RTYH26", d(3, 10), 2010.0, 100),
            ("RTYH26", d(3, 11), 2020.0, 100),
            ("RTYM26", d(3, 10), 2025.0, 50),
            ("RTYM26", d(3, 11), 2034.0, 90),
        ]
    ).with_columns(
        pl.when(pl.col("session_date") == d(3, 11))
        .then(None)
        .otherwise(pl.col("volume"))
        .alias("volume")
    )
    s = continuous_series(bars, roll="volume")
    assert s["contract"].to_list() == ["RTYH26", "RTYH26"]


# --- synthetic constant basis: adjusted = underlying path + constant ------------------------------

SYNTH_START, SYNTH_END = date(2023, 1, 3), date(2025, 12, 31)
SESSIONS_BEFORE_FRONT = 10


def constant_basis_bars(*, multiplicative: bool) -> tuple[pl.DataFrame, dict[date, float], float]:
    """Contracts that trade a fixed path plus (or times) a constant per contract.

    Returns the bars, the underlying path by session and the first front contract's basis.
    """
    days = trade_dates(SYNTH_START, SYNTH_END)
    rng = np.random.default_rng(11)
    path = dict(zip(days, 2000.0 + np.cumsum(rng.normal(0.0, 20.0, len(days))), strict=True))
    contracts = contracts_between("RTY", SYNTH_START, SYNTH_END)
    rows = []
    for k, contract in enumerate(contracts):
        basis = 1.0 + 0.004 * (k + 1) if multiplicative else 12.5 * (k + 1)
        front_from = contract.previous().roll_date
        listed = [
            day
            for i, day in enumerate(days)
            if day <= contract.expiry
            and i + SESSIONS_BEFORE_FRONT >= bisect.bisect_left(days, front_from)
        ]
        for day in listed:
            price = path[day] * basis if multiplicative else path[day] + basis
            rows.append((contract.code, day, price))
    first_basis = 1.004 if multiplicative else 12.5
    return make_bars(rows), path, first_basis


def sma(values: list[float], window: int) -> list[float]:
    return [sum(values[i - window + 1 : i + 1]) / window for i in range(window - 1, len(values))]


SMA_WINDOW = 200


def test_constant_basis_difference_recovers_the_path_plus_a_constant() -> None:
    bars, path, first_basis = constant_basis_bars(multiplicative=False)
    s = continuous_series(bars, method="difference")
    assert s["is_roll"].sum() == 12  # four a year
    expected = [path[day] + first_basis for day in s["session_date"]]
    assert s["close"].to_list() == pytest.approx(expected, abs=1e-9)
    # ... so a 200-session SMA of the adjusted series is the path's SMA plus the constant, while
    # the raw series' SMA carries every roll jump for 200 sessions.
    adjusted_sma = sma(s["close"].to_list(), SMA_WINDOW)
    path_sma = sma([path[day] for day in s["session_date"]], SMA_WINDOW)
    raw_sma = sma(s["raw_close"].to_list(), SMA_WINDOW)
    assert adjusted_sma == pytest.approx([v + first_basis for v in path_sma], abs=1e-9)
    assert max(abs(r - p - first_basis) for r, p in zip(raw_sma, path_sma, strict=True)) > 50
    # Panama on the last contract: path + the last contract's basis.
    panama = anchor_on_last(s)
    last_basis = panama["raw_close"][-1] - path[panama["session_date"][-1]]
    assert panama["close"].to_list() == pytest.approx(
        [path[day] + last_basis for day in s["session_date"]], abs=1e-9
    )


def test_constant_ratio_basis_ratio_method_recovers_the_path_times_a_constant() -> None:
    bars, path, first_basis = constant_basis_bars(multiplicative=True)
    s = continuous_series(bars, method="ratio")
    expected = [path[day] * first_basis for day in s["session_date"]]
    assert s["close"].to_list() == pytest.approx(expected, rel=1e-12)


# --- demo data ------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def demo() -> pl.DataFrame:
    return demo_bars("RTY")


@pytest.fixture(scope="module")
def demo_series(demo: pl.DataFrame) -> dict[tuple[str, str], pl.DataFrame]:
    return {
        (method, roll): continuous_series(demo, method=method, roll=roll)  # type: ignore[arg-type]
        for method in ("difference", "ratio")
        for roll in ("calendar", "volume")
    }


def test_demo_calendar_rolls_land_on_contract_roll_dates(
    demo: pl.DataFrame, demo_series: dict[tuple[str, str], pl.DataFrame]
) -> None:
    s = demo_series[("difference", "calendar")]
    first, last = s["session_date"].min(), s["session_date"].max()
    assert isinstance(first, date) and isinstance(last, date)
    expected = [
        c.roll_date for c in contracts_between("RTY", first, last) if first < c.roll_date <= last
    ]
    assert s.filter("is_roll")["session_date"].to_list() == expected
    # Every session of the demo is in the series, from the calendar front.
    assert s.height == demo["session_date"].n_unique()
    sample = s.gather_every(97)
    assert sample["contract"].to_list() == [
        front_contract("RTY", day).code for day in sample["session_date"]
    ]


def test_demo_roll_day_moves_are_the_new_contracts_own_moves(
    demo: pl.DataFrame, demo_series: dict[tuple[str, str], pl.DataFrame]
) -> None:
    """On a roll session R the adjusted series moves as the new contract did from the session
    before (an oracle read straight from the bars), while the raw series also jumps by the basis."""
    s = demo_series[("difference", "calendar")].with_columns(
        pl.col("session_date").shift(1).alias("before"),
        pl.col("close").diff().alias("adjusted_move"),
        pl.col("raw_close").diff().alias("raw_move"),
        pl.col("contract").shift(1).alias("old"),
    )
    closes = demo.select("contract", "session_date", "close")
    rolls = (
        s.filter("is_roll")
        .join(closes.rename({"close": "new_on_roll"}), on=["contract", "session_date"])
        .join(
            closes.rename({"close": "new_before", "session_date": "before"}),
            on=["contract", "before"],
        )
        .join(
            closes.rename({"close": "old_before", "session_date": "before", "contract": "old"}),
            on=["old", "before"],
        )
    )
    assert rolls.height == s["is_roll"].sum() > 100
    own_move = rolls["new_on_roll"] - rolls["new_before"]
    basis = rolls["new_before"] - rolls["old_before"]
    assert rolls["adjusted_move"].to_list() == pytest.approx(own_move.to_list(), abs=1e-6)
    assert rolls["raw_move"].to_list() == pytest.approx((own_move + basis).to_list(), abs=1e-6)

    # The size of adjusted roll-day moves looks like any other day's.
    returns = s.with_columns((pl.col("close").pct_change().abs()).alias("size")).drop_nulls("size")
    normal = returns.filter(~pl.col("is_roll"))["size"]
    on_roll = returns.filter("is_roll")["size"]
    for q in (0.5, 0.9):
        ratio = on_roll.quantile(q) / normal.quantile(q)  # type: ignore[operator]
        assert 0.6 < ratio < 1.5, (q, ratio)


def test_demo_volume_rule_never_goes_back_and_stays_near_the_calendar(
    demo_series: dict[tuple[str, str], pl.DataFrame],
) -> None:
    volume = demo_series[("difference", "volume")]
    calendar = demo_series[("difference", "calendar")]
    # Fronts come in expiry order, each quarter once: the rule never switches back.
    fronts = [parse_contract(code) for code in volume["contract"].unique(maintain_order=True)]
    assert all(b == a.next() for a, b in itertools.pairwise(fronts))
    joined = volume.filter("is_roll").join(
        calendar.filter("is_roll"), on="contract", suffix="_calendar"
    )
    assert joined.height == calendar["is_roll"].sum() == len(fronts) - 1
    # The demo's volume crosses over around the calendar roll date.
    lag_days = (joined["session_date"] - joined["session_date_calendar"]).dt.total_days()
    assert max(lag_days.abs().to_list()) <= 3


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(data=st.data())
def test_truncation_never_changes_earlier_rows(
    demo: pl.DataFrame, demo_series: dict[tuple[str, str], pl.DataFrame], data: st.DataObject
) -> None:
    """A series built on bars up to D equals the full series cut at D, bit for bit."""
    method = data.draw(st.sampled_from(["difference", "ratio"]))
    roll = data.draw(st.sampled_from(["calendar", "volume"]))
    sessions = demo_series[(method, roll)]["session_date"].to_list()
    rolls = demo_series[(method, roll)].filter("is_roll")["session_date"].to_list()
    # Cut dates near rolls are the interesting ones; plain random sessions cover the rest.
    near_roll = [day + timedelta(days=k) for day in rolls for k in (-1, 0, 1)]
    cut = data.draw(st.sampled_from(sessions) | st.sampled_from(near_roll))
    truncated = continuous_series(
        demo.filter(pl.col("session_date") <= cut),
        method=method,  # type: ignore[arg-type]
        roll=roll,  # type: ignore[arg-type]
    )
    expected = demo_series[(method, roll)].filter(pl.col("session_date") <= cut)
    assert truncated.equals(expected)


# --- oracle: a slow, obvious implementation of the calendar rule ----------------------------------

ORACLE_DAYS = trade_dates(date(2026, 2, 16), date(2026, 7, 10))
ORACLE_CONTRACTS = [Contract(2026, 3, "RTY"), Contract(2026, 6, "RTY"), Contract(2026, 9, "RTY")]
ORACLE_LISTING = {  # first session each contract trades
    "RTYH26": date(2026, 2, 16),
    "RTYM26": date(2026, 2, 20),
    "RTYU26": date(2026, 5, 20),
}


def random_contract_bars(seed: int, keep: float) -> pl.DataFrame:
    rng = np.random.default_rng(seed)
    rows = []
    for contract in ORACLE_CONTRACTS:
        for day in ORACLE_DAYS:
            if ORACLE_LISTING[contract.code] <= day <= contract.expiry and rng.random() < keep:
                price = float(np.round(rng.uniform(1900, 2100) / 0.1) * 0.1)
                rows.append((contract.code, day, price, int(rng.integers(1, 1000))))
    return make_bars(rows)


def slow_calendar_series(bars: pl.DataFrame, method: str) -> list[tuple[date, str, float]]:
    """Session by session: front from ``front_contract``, offset/factor updated at each change."""
    close = {(c, day): px for c, day, px in bars.select("contract", "session_date", "close").rows()}
    out: list[tuple[date, str, float]] = []
    offset, factor, previous = 0.0, 1.0, None
    for day in sorted({day for _, day in close}):
        code = front_contract("RTY", day).code
        if (code, day) not in close:
            continue
        if previous is not None and code != previous:
            both = [x for x in sorted({x for _, x in close}) if x < day]
            both = [x for x in both if (code, x) in close and (previous, x) in close]
            if not both:
                raise ContinuousSeriesError("no overlap")
            new, old = close[(code, both[-1])], close[(previous, both[-1])]
            offset -= new - old
            factor /= new / old
        raw = close[(code, day)]
        adjusted = raw + offset if method == "difference" else raw * factor
        out.append((day, code, adjusted))
        previous = code
    return out


@settings(max_examples=60, deadline=None)
@given(
    seed=st.integers(0, 2**32 - 1),
    keep=st.sampled_from([0.15, 0.5, 0.9, 1.0]),
    method=st.sampled_from(["difference", "ratio"]),
)
def test_calendar_rule_matches_slow_oracle(seed: int, keep: float, method: str) -> None:
    bars = random_contract_bars(seed, keep)
    if bars.is_empty():
        return
    try:
        expected = slow_calendar_series(bars, method)
    except ContinuousSeriesError:
        with pytest.raises(ContinuousSeriesError, match="never both have a close"):
            continuous_series(bars, method=method)  # type: ignore[arg-type]
        return
    s = continuous_series(bars, method=method)  # type: ignore[arg-type]
    assert s["session_date"].to_list() == [row[0] for row in expected]
    assert s["contract"].to_list() == [row[1] for row in expected]
    assert s["close"].to_list() == pytest.approx([row[2] for row in expected], rel=1e-12)


# --- front-month feed -----------------------------------------------------------------------------

# ESH26 expires Friday 20 Mar 2026 (trade dates 16..27 Mar). The underlying moves +2 a session.
FEED_DAYS = trade_dates(d(3, 16), d(3, 27))
ROLL_SPREAD = 60.0


def feed_bars(planted_on: date) -> pl.DataFrame:
    """ES=F bars whose close-to-open moves are 0.5 except a ROLL_SPREAD jump into ``planted_on``."""
    rows, close = [], 6000.0
    for day in FEED_DAYS:
        open_ = close + 0.5 + (ROLL_SPREAD if day == planted_on else 0.0)
        close = open_ + 1.5
        rows.append(
            {
                "root": "ES",
                "contract": "ES=F",
                "session_date": day,
                "open": open_,
                "high": max(open_, close) + 1.0,
                "low": min(open_, close) - 1.0,
                "close": close,
                "volume": 1000,
                "open_interest": None,
            }
        )
    return pl.DataFrame(rows, schema=BAR_SCHEMA)


@pytest.mark.parametrize("planted_on", [d(3, 20), d(3, 23)])
def test_feed_detects_the_planted_roll_gap_and_adjusts_it_away(planted_on: date) -> None:
    bars = feed_bars(planted_on)
    s = continuous_series(bars)
    assert s.filter("is_roll")["session_date"].to_list() == [planted_on]
    assert s.filter("is_roll")["roll_gap"].to_list() == [ROLL_SPREAD + 0.5]
    rolled = [day >= planted_on for day in FEED_DAYS]
    assert s["contract"].to_list() == ["ESM26" if r else "ESH26" for r in rolled]
    assert s["offset"].to_list() == [-(ROLL_SPREAD + 0.5) if r else 0.0 for r in rolled]
    # Adjusted: every session opens 0.5 above the previous close, except the roll session: the
    # estimated gap takes that session's overnight 0.5 away along with the spread.
    gaps = (s["open"] - s["close"].shift(1)).to_list()[1:]
    assert gaps == [0.0 if day == planted_on else 0.5 for day in FEED_DAYS[1:]]
    ratio = continuous_series(bars, method="ratio")
    previous = ratio.filter(pl.col("session_date") < planted_on)["raw_close"][-1]
    assert ratio.filter("is_roll")["roll_gap"][0] == (previous + ROLL_SPREAD + 0.5) / previous


def test_feed_uses_given_roll_sessions() -> None:
    bars = feed_bars(d(3, 23))
    given_roll = d(3, 19)  # where a vendor's contract name changed, whatever the gaps say
    s = continuous_series(bars, roll_sessions=[given_roll, date(2030, 1, 2)])
    assert s.filter("is_roll")["session_date"].to_list() == [given_roll]
    assert s.filter("is_roll")["roll_gap"].to_list() == [0.5]
    assert s["contract"].to_list() == ["ESH26"] * 3 + ["ESM26"] * 7
    # The planted jump is not a roll any more, so it stays in the adjusted series.
    jump = s.filter(pl.col("session_date") == d(3, 23))
    previous = s.filter(pl.col("session_date") == d(3, 20))
    assert jump["open"][0] - previous["close"][0] == ROLL_SPREAD + 0.5


def test_feed_known_roll_replaces_the_detected_splice_only_at_its_expiry() -> None:
    # Two expiries (Mar and Jun 2026): the March splice is known (Yahoo's contract name changed
    # between the fetches of 19 and 20 March), the June one is still detected from the gap.
    days = trade_dates(d(3, 16), d(6, 26))
    rows, close = [], 6000.0
    for day in days:
        open_ = close + 0.5 + (ROLL_SPREAD if day in (d(3, 23), d(6, 22)) else 0.0)
        close = open_ + 1.5
        rows.append(("ES", "ES=F", day, open_, open_ + 3.0, open_ - 1.0, close, 1000, None))
    bars = pl.DataFrame(rows, schema=BAR_SCHEMA, orient="row")
    detected = continuous_series(bars)
    assert detected.filter("is_roll")["session_date"].to_list() == [d(3, 23), d(6, 22)]
    known = continuous_series(bars, known_rolls=[d(3, 20)])
    assert known.filter("is_roll")["session_date"].to_list() == [d(3, 20), d(6, 22)]
    assert known.filter("is_roll")["roll_gap"].to_list() == [0.5, ROLL_SPREAD + 0.5]
    # A known roll far from any expiry adds a roll without removing a detected one.
    odd = continuous_series(bars, known_rolls=[d(5, 1)])
    assert odd.filter("is_roll")["session_date"].to_list() == [d(3, 23), d(5, 1), d(6, 22)]


def test_feed_expiry_row_is_provisional_until_the_next_session() -> None:
    expiry = Contract(2026, 3, "ES").expiry
    for planted_on in (d(3, 20), d(3, 23)):
        bars = feed_bars(planted_on)
        full = continuous_series(bars)
        for cut in FEED_DAYS:
            truncated = continuous_series(bars.filter(pl.col("session_date") <= cut))
            expected = full.filter(pl.col("session_date") <= cut)
            if cut == expiry:
                # Seen alone, the expiry session reads as the expiring contract.
                assert truncated["contract"][-1] == "ESH26"
                assert not truncated["is_roll"].any()
                assert truncated.head(-1).equals(expected.head(-1))
            else:
                assert truncated.equals(expected)


def test_feed_with_per_contract_rows_uses_only_the_feed() -> None:
    mixed = pl.concat([feed_bars(d(3, 23)), make_bars([("ESH26", d(3, 16), 1.0)], root="ES")])
    assert continuous_series(mixed).equals(continuous_series(feed_bars(d(3, 23))))


@pytest.mark.shared_data
def test_real_es_feed_rolls_once_per_expiry_and_leaves_no_roll_gap(shared_data) -> None:
    path = shared_data / "ES_F_yahoo_continuous_daily_2000-09-18_2026-02-23.csv"
    raw = pl.read_csv(path, schema_overrides={"Date": pl.Date})
    bars = raw.select(
        pl.lit("ES").alias("root"),
        pl.lit("ES=F").alias("contract"),
        pl.col("Date").alias("session_date"),
        *(pl.col(c.title()).cast(pl.Float64).alias(c) for c in ("open", "high", "low", "close")),
        pl.col("Volume").cast(pl.Int64).alias("volume"),
        pl.lit(None, dtype=pl.Int64).alias("open_interest"),
    )
    s = continuous_series(bars)
    first, last = s["session_date"][0], s["session_date"][-1]
    expiries = []
    contract = Contract(first.year, 12, "ES").previous().previous()
    while contract.expiry <= last:
        if contract.expiry > first:
            expiries.append(contract.expiry)
        contract = contract.next()
    rolls = s.filter("is_roll")["session_date"].to_list()
    assert len(rolls) == len(expiries) == 101
    assert all(0 <= (r - e).days <= 4 for r, e in zip(rolls, expiries, strict=True))
    # Both candidate boundaries of every expiry: the splice is removed, the other one is an
    # ordinary overnight gap; raw, the splices stand out.
    days = s["session_date"].to_list()
    boundaries = set()
    for expiry in expiries:
        i = bisect.bisect_left(days, expiry)
        boundaries |= {i, i + 1} if days[i] == expiry else {i}
    opening = (
        s.with_columns(
            ((pl.col("open") / pl.col("close").shift(1) - 1).abs()).alias("adjusted"),
            ((pl.col("raw_open") / pl.col("raw_close").shift(1) - 1).abs()).alias("raw"),
        )
        .with_row_index()
        .filter(pl.col("index").is_in(sorted(boundaries)))
    )
    max_adjusted_gap = 0.02  # about the 99.9th percentile of all ES=F opening gaps
    assert opening["adjusted"].max() < max_adjusted_gap  # type: ignore[operator]
    assert opening["raw"].max() > 2 * max_adjusted_gap  # type: ignore[operator]
    on_roll = opening.filter("is_roll")["adjusted"]
    assert on_roll.max() < 1e-9  # type: ignore[operator]
    # Appending never rewrites history, except an expiry session seen as the last row.
    for cut in (date(2008, 10, 10), rolls[40], date(2025, 12, 18), date(2025, 12, 22)):
        truncated = continuous_series(bars.filter(pl.col("session_date") <= cut))
        assert truncated.equals(s.filter(pl.col("session_date") <= cut))


# --- errors ---------------------------------------------------------------------------------------


def test_non_overlapping_contracts_raise_naming_root_contracts_and_roll() -> None:
    bars = make_bars(
        [("RTYH26", d(3, 9), 2000.0), ("RTYH26", d(3, 10), 2010.0), ("RTYM26", d(3, 12), 2045.0)]
    )
    with pytest.raises(
        ContinuousSeriesError, match=r"RTY: contracts RTYH26 and RTYM26 .*2026-03-12"
    ):
        continuous_series(bars)
    with pytest.raises(ContinuousSeriesError, match="RTYH26 and RTYM26"):
        continuous_series(bars, method="ratio")
    unadjusted = continuous_series(bars, method="none")
    assert unadjusted["is_roll"].to_list() == [False, False, True]
    assert unadjusted["roll_gap"].to_list() == [None, None, None]


def test_input_errors() -> None:
    with pytest.raises(ContinuousSeriesError, match="no bars"):
        continuous_series(pl.DataFrame(schema=BAR_SCHEMA))
    mixed = pl.concat(
        [make_bars(HAND_ROWS[:2]), make_bars([("ESH26", d(3, 9), 6000.0)], root="ES")]
    )
    with pytest.raises(ContinuousSeriesError, match=r"one root.*'ES', 'RTY'"):
        continuous_series(mixed)
    with pytest.raises(ContinuousSeriesError, match="'ESH26' is not a quarterly RTY contract"):
        continuous_series(make_bars([("ESH26", d(3, 9), 6000.0)]))
    with pytest.raises(ContinuousSeriesError, match="several bars for RTYH26 on 2026-03-09"):
        continuous_series(make_bars([HAND_ROWS[0], HAND_ROWS[0]]))
    with pytest.raises(ContinuousSeriesError, match="roll_sessions applies to a front-month feed"):
        continuous_series(make_bars(HAND_ROWS), roll_sessions=[d(3, 12)])
    with pytest.raises(ContinuousSeriesError, match="roll='volume' needs per-contract bars"):
        continuous_series(feed_bars(d(3, 23)), roll="volume")
    with pytest.raises(ValueError, match="method must be one of"):
        continuous_series(make_bars(HAND_ROWS), method="panama")  # type: ignore[arg-type]
    with pytest.raises(ContinuousSeriesError, match="lack required columns: volume"):
        continuous_series(make_bars(HAND_ROWS).drop("volume"))
