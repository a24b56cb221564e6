from __future__ import annotations

import bisect
import itertools
from collections.abc import Iterable
from datetime import date, timedelta
from pathlib import Path

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
    continuous_series_and_rolls,
)
from pipeline.market.contracts import (
    Contract,
    contracts_between,
    first_expiring_on_or_after,
    front_contract,
    parse_contract,
)
from pipeline.market.rolls import RollParams
from pipeline.schema import BAR_SCHEMA
from pipeline.sources.demo import demo_bars, demo_index_bars
from tests.fakes.feeds import front_month_feed
from tests.pipeline.market.real_feeds import real_bars

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

# ESH26 expires Friday 20 Mar 2026 (trade dates 16..27 Mar); ESM26 on Thursday 18 June 2026
# (Juneteenth moves it): 90 days of carry between them.
FEED_DAYS = trade_dates(d(3, 16), d(3, 27))
EXPIRY = Contract(2026, 3, "ES").expiry
ROLL_SESSION = d(3, 23)  # the first session after the expiry session
ROLL_SPREAD = 60.0
CARRY_YEARS = 90 / 365


def feed_bars(planted_on: date, *, spread: float = ROLL_SPREAD) -> pl.DataFrame:
    """ES=F bars whose close-to-open moves are 0.5 except a ``spread`` jump into ``planted_on``."""
    rows, close = [], 6000.0
    for day in FEED_DAYS:
        open_ = close + 0.5 + (spread if day == planted_on else 0.0)
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


def index_bars(closes: dict[date, float], *, symbol: str = "^GSPC") -> pl.DataFrame:
    return make_bars([(symbol, day, close) for day, close in closes.items()], root="ES")


def with_close(bars: pl.DataFrame, day: date, close: float) -> pl.DataFrame:
    """``bars`` with the close of ``day`` replaced (high/low widened to contain it)."""
    on_day = pl.col("session_date") == day
    return bars.with_columns(
        pl.when(on_day).then(close).otherwise(pl.col("close")).alias("close")
    ).with_columns(
        pl.when(on_day).then(pl.max_horizontal("high", "close")).otherwise("high").alias("high"),
        pl.when(on_day).then(pl.min_horizontal("low", "close")).otherwise("low").alias("low"),
    )


@pytest.mark.parametrize("planted_on", [d(3, 20), d(3, 23)])
def test_feed_rolls_on_the_session_after_expiry_whatever_the_gaps(planted_on: date) -> None:
    series, rolls = continuous_series_and_rolls(feed_bars(planted_on))
    rolled = [day >= ROLL_SESSION for day in FEED_DAYS]
    assert series["contract"].to_list() == ["ESM26" if r else "ESH26" for r in rolled]
    assert series.filter("is_roll")["session_date"].to_list() == [ROLL_SESSION]
    # Without an index and without earlier rolls, the gap is the carry rate implied by the
    # opening gap of the roll session (within the bound), flagged as estimated: the spread
    # planted into the expiry session is not seen.
    opening_gap = ROLL_SPREAD + 0.5 if planted_on == ROLL_SESSION else 0.5
    assert series.filter("is_roll")["roll_gap"].to_list() == [pytest.approx(opening_gap)]
    assert series["offset"].to_list() == [pytest.approx(-opening_gap) if r else 0.0 for r in rolled]
    row = rolls.row(0, named=True)
    thursday_close = series.filter(pl.col("session_date") == d(3, 19))["raw_close"].item()
    assert (row["method"], row["estimated"], row["clipped"]) == ("carry_bounded", True, False)
    assert row["annual_carry"] == opening_gap / thursday_close / CARRY_YEARS
    assert row["carry_rolls"] == 1
    assert (row["old_contract"], row["new_contract"], row["old_expiry"]) == (
        "ESH26",
        "ESM26",
        EXPIRY,
    )
    assert (row["before_session"], row["before_close"]) == (d(3, 19), thursday_close)
    assert row["opening_gap"] == row["measured_gap"] == opening_gap
    assert row["gap"] == thursday_close * row["annual_carry"] * CARRY_YEARS
    assert row["carry_years"] == CARRY_YEARS
    assert row["carry_bound"] == pytest.approx(thursday_close * 0.07 * CARRY_YEARS, rel=1e-12)
    assert row["basis_before"] is None and row["basis_after"] is None


def test_feed_opening_gap_beyond_the_carry_bound_is_clipped_to_it() -> None:
    bars = feed_bars(ROLL_SESSION, spread=600.0)
    thursday_close = bars.filter(pl.col("session_date") == d(3, 19))["close"].item()
    bound = thursday_close * 0.07 * CARRY_YEARS  # 6009.5 x 7 % x 90/365 = 103.7 points
    series, rolls = continuous_series_and_rolls(bars)
    row = rolls.row(0, named=True)
    assert (row["measured_gap"], row["gap"], row["clipped"]) == (600.5, bound, True)
    assert series.filter("is_roll")["offset"].item() == -bound
    # The ratio is clipped to the same fraction of price.
    ratio_series, ratio_rolls = continuous_series_and_rolls(bars, method="ratio")
    assert ratio_rolls["ratio"].item() == 1 + 0.07 * CARRY_YEARS
    assert ratio_series.filter("is_roll")["roll_gap"].item() == 1 + 0.07 * CARRY_YEARS
    # A tighter bound is a parameter.
    _, tight = continuous_series_and_rolls(bars, params=RollParams(max_annual_carry=0.01))
    assert tight["gap"].item() == pytest.approx(thursday_close * 0.01 * CARRY_YEARS, rel=1e-12)


def test_feed_without_index_sizes_a_roll_by_the_mean_carry_of_the_last_eight_rolls() -> None:
    """Twelve expiries of an ES=F feed whose roll sessions open with planted gaps: each roll's
    gap is its price x the mean carry rate of the last 8 rolls (itself included, each implied by
    its opening gap clipped to 7 % a year) x its years. Oracle: the same sums by hand."""
    days = trade_dates(date(2023, 3, 1), date(2026, 1, 30))
    expiries = {Contract(y, m, "ES").expiry for y in (2023, 2024, 2025) for m in (3, 6, 9, 12)}
    roll_days = {days[days.index(e) + 1] for e in expiries}
    planted = dict(
        zip(
            sorted(roll_days),
            [30.0, -20.0, 55.0, 400.0, 10.0, -5.0, 25.0, 40.0, -300.0, 15.0, 35.0, 20.0],
            strict=True,
        )
    )
    rows, close = [], 4000.0
    for day in days:
        open_ = close + planted.get(day, 0.0)
        close = open_ + 1.0
        rows.append(("ES", "ES=F", day, open_, open_ + 2.0, open_ - 1.0, close, 1000, None))
    series, rolls = continuous_series_and_rolls(pl.DataFrame(rows, schema=BAR_SCHEMA, orient="row"))
    assert rolls["roll_session"].to_list() == sorted(roll_days)
    rates = []
    closes = dict(zip(series["session_date"], series["raw_close"], strict=True))
    for row in rolls.iter_rows(named=True):
        old, new = parse_contract(row["old_contract"]), parse_contract(row["new_contract"])
        years = (new.expiry - old.expiry).days / 365
        price = closes[row["before_session"]]
        rates.append(max(-0.07, min(0.07, planted[row["roll_session"]] / price / years)))
        window = rates[-8:]
        assert row["carry_rolls"] == len(window)
        assert row["annual_carry"] == pytest.approx(sum(window) / len(window), rel=1e-12)
        assert row["gap"] == pytest.approx(price * sum(window) / len(window) * years, rel=1e-12)
        assert row["clipped"] == (abs(planted[row["roll_session"]] / price / years) > 0.07)
        assert abs(row["gap"]) <= row["carry_bound"]
    # The 400-point opening gap (a crash weekend) moves that roll's estimate by at most 1/8 of
    # the bound; without the averaging it would be the whole bound.
    crash = rolls.filter(pl.col("measured_gap") == 400.0).row(0, named=True)
    assert crash["clipped"] and abs(crash["gap"]) < crash["carry_bound"] / 2


def test_feed_gap_is_the_jump_in_the_basis_and_ignores_the_mixed_expiry_bar() -> None:
    # Thursday: futures 6010, index 6005 (basis 5). Friday, the expiry session: the feed closes
    # at the expiring contract's settlement (5950, fixed in the morning) while the index rallies to
    # 6100. Monday: the new contract at 6160 against an index of 6130 (basis 30).
    bars = with_close(
        with_close(with_close(feed_bars(ROLL_SESSION), d(3, 19), 6010.0), d(3, 20), 5950.0),
        d(3, 23),
        6160.0,
    )
    index = index_bars({d(3, 18): 6000.0, d(3, 19): 6005.0, d(3, 20): 6100.0, d(3, 23): 6130.0})
    series, rolls = continuous_series_and_rolls(pl.concat([bars, index]))
    row = rolls.row(0, named=True)
    assert row["method"] == "basis" and not row["estimated"] and not row["clipped"]
    assert (row["before_session"], row["before_close"], row["before_index"]) == (
        d(3, 19),
        6010.0,
        6005.0,
    )
    assert (row["after_session"], row["after_close"], row["after_index"]) == (
        ROLL_SESSION,
        6160.0,
        6130.0,
    )
    assert (row["basis_before"], row["basis_after"], row["gap"]) == (5.0, 30.0, 25.0)
    assert row["ratio"] == (6160.0 / 6130.0) / (6010.0 / 6005.0)
    # Across the roll the adjusted series moves exactly as the index did, Thursday to Monday.
    close = dict(zip(series["session_date"], series["close"], strict=True))
    assert close[ROLL_SESSION] - close[d(3, 19)] == 6130.0 - 6005.0
    # The index rows are evidence only: the series is the feed's sessions.
    assert series["session_date"].to_list() == FEED_DAYS
    assert series["contract"].str.starts_with("^").sum() == 0


def test_feed_basis_falls_back_when_the_index_lacks_a_session() -> None:
    bars = feed_bars(ROLL_SESSION)
    closes = {day: 6000.0 for day in FEED_DAYS}
    # No index bar on Thursday (a CME-only holiday, say): the basis is taken on Wednesday.
    no_thursday = {k: v for k, v in closes.items() if k != d(3, 19)}
    _, rolls = continuous_series_and_rolls(pl.concat([bars, index_bars(no_thursday)]))
    assert (rolls["method"].item(), rolls["before_session"].item()) == ("basis", d(3, 18))
    # No index bar on the roll session: nothing can cancel the market's move there (a later
    # index bar must not be used), so the gap is carry-bounded.
    no_roll_day = {k: v for k, v in closes.items() if k != ROLL_SESSION}
    _, rolls = continuous_series_and_rolls(pl.concat([bars, index_bars(no_roll_day)]))
    assert rolls["method"].item() == "carry_bounded"
    assert rolls["gap"].item() == pytest.approx(ROLL_SPREAD + 0.5)


def test_feed_gap_from_per_contract_closes_when_both_contracts_have_one() -> None:
    bars = feed_bars(ROLL_SESSION)
    contracts = make_bars(
        [
            ("ESH26", d(3, 5), 5990.0),
            ("ESM26", d(3, 5), 6040.0),
            ("ESH26", d(3, 13), 6001.0),
            ("ESM26", d(3, 13), 6031.0),
        ],
        root="ES",
    )
    index = index_bars({day: 6000.0 for day in FEED_DAYS})
    series, rolls = continuous_series_and_rolls(pl.concat([bars, contracts, index]))
    row = rolls.row(0, named=True)
    assert row["method"] == "observed_spread" and not row["estimated"]
    assert (row["before_session"], row["before_close"], row["after_close"]) == (
        d(3, 13),
        6001.0,
        6031.0,
    )
    assert row["gap"] == 30.0 and row["ratio"] == 6031.0 / 6001.0
    assert series["session_date"].to_list() == FEED_DAYS  # per-contract rows stay evidence
    # A spread older than max_spread_age_days (15 days before expiry) is not used.
    stale = contracts.filter(pl.col("session_date") == d(3, 5))
    _, rolls = continuous_series_and_rolls(pl.concat([bars, stale, index]))
    assert rolls["method"].item() == "basis"


def test_feed_uses_given_roll_sessions() -> None:
    bars = feed_bars(d(3, 23))
    given_roll = d(3, 19)  # where a vendor's contract name changed, whatever the gaps say
    s = continuous_series(bars, roll_sessions=[given_roll, date(2030, 1, 2)])
    assert s.filter("is_roll")["session_date"].to_list() == [given_roll]
    assert s.filter("is_roll")["roll_gap"].to_list() == [pytest.approx(0.5)]
    assert s["contract"].to_list() == ["ESH26"] * 3 + ["ESM26"] * 7
    # The planted jump is not a roll any more, so it stays in the adjusted series.
    jump = s.filter(pl.col("session_date") == d(3, 23))
    previous = s.filter(pl.col("session_date") == d(3, 20))
    assert jump["open"][0] - previous["close"][0] == ROLL_SPREAD + 0.5


def test_feed_with_per_contract_rows_uses_only_the_feed_rows() -> None:
    mixed = pl.concat([feed_bars(d(3, 23)), make_bars([("ESH26", d(3, 16), 1.0)], root="ES")])
    assert continuous_series(mixed).equals(continuous_series(feed_bars(d(3, 23))))


# --- a generated feed: the demo's contracts spliced the way Yahoo splices them -------------------


@pytest.fixture(scope="module")
def demo_market() -> dict[str, pl.DataFrame]:
    """ES per-contract demo bars, the index behind them and a Yahoo-style feed of both."""
    contracts, index = demo_bars("ES"), demo_index_bars("ES")
    return {
        "contracts": contracts,
        "index": index,
        "feed": front_month_feed(contracts, "ES", index=index),
    }


def test_generated_feed_rolls_by_the_basis_move_exactly_as_the_index(
    demo_market: dict[str, pl.DataFrame],
) -> None:
    feed, index = demo_market["feed"], demo_market["index"]
    window = pl.col("session_date").is_between(date(2007, 1, 1), date(2012, 12, 31))
    series, rolls = continuous_series_and_rolls(pl.concat([feed, index]).filter(window))
    assert rolls.height == 24 and rolls["method"].unique().to_list() == ["basis"]
    assert not rolls["clipped"].any()
    expiries = [parse_contract(c).expiry for c in rolls["old_contract"]]
    days = series["session_date"].to_list()
    # Each roll on the session after its contract's expiry session; measured from the session
    # before the expiry session (the expiry bar holds the settlement, not a market close).
    assert rolls["roll_session"].to_list() == [days[days.index(e) + 1] for e in expiries]
    assert rolls["before_session"].to_list() == [days[days.index(e) - 1] for e in expiries]
    # Oracle from the frames: the jump of futures - index between those two sessions...
    f = dict(zip(feed["session_date"], feed["close"], strict=True))
    i = dict(zip(index["session_date"], index["close"], strict=True))
    expected = [
        (f[r] - i[r]) - (f[b] - i[b])
        for r, b in zip(rolls["roll_session"], rolls["before_session"], strict=True)
    ]
    assert rolls["gap"].to_list() == pytest.approx(expected, abs=1e-9)
    # ... so across every roll the adjusted series moves as the index did.
    close = dict(zip(series["session_date"], series["close"], strict=True))
    moves = [
        close[r] - close[b] - (i[r] - i[b])
        for r, b in zip(rolls["roll_session"], rolls["before_session"], strict=True)
    ]
    assert max(map(abs, moves)) < 1e-9
    # Without the index the same rolls are carry-bounded opening gaps, never beyond the bound.
    blind, blind_rolls = continuous_series_and_rolls(feed.filter(window))
    assert blind_rolls["roll_session"].to_list() == rolls["roll_session"].to_list()
    assert blind_rolls["method"].unique().to_list() == ["carry_bounded"]
    assert (blind_rolls["gap"].abs() <= blind_rolls["carry_bound"]).all()
    assert blind["contract"].to_list() == series["contract"].to_list()


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(data=st.data())
def test_generated_feed_truncation_never_changes_earlier_rows(
    demo_market: dict[str, pl.DataFrame], data: st.DataObject
) -> None:
    """A feed series (and its roll table) built on bars up to D equals the full one cut at D, bit
    for bit: with or without an index or per-contract bars, with sessions missing anywhere
    (roll sessions included) and index bars missing on some sessions."""
    sessions = demo_market["feed"]["session_date"].to_list()
    start = data.draw(st.integers(0, len(sessions) - 400))
    window = pl.col("session_date").is_between(sessions[start], sessions[start + 300])
    seed = data.draw(st.integers(0, 2**32 - 1))
    drop = data.draw(st.sampled_from([0.0, 0.02, 0.2]))
    parts = [demo_market["feed"].filter(window)]
    if data.draw(st.booleans()):
        parts.append(demo_market["index"].filter(window))
    if data.draw(st.booleans()):
        parts.append(demo_market["contracts"].filter(window))
    bars = pl.concat(parts)
    bars = bars.filter(pl.Series(np.random.default_rng(seed).random(bars.height) >= drop))
    method = data.draw(st.sampled_from(["difference", "ratio"]))
    full, full_rolls = continuous_series_and_rolls(bars, method=method)  # type: ignore[arg-type]
    rolls = full_rolls["roll_session"].to_list()
    near_roll = [day + timedelta(days=k) for day in rolls for k in (-3, -1, 0, 1)]
    cut = data.draw(
        st.sampled_from(full["session_date"].to_list())
        | st.sampled_from(near_roll or [sessions[start]])
    )
    upto = pl.col("session_date") <= cut
    if bars.filter(upto & ~pl.col("contract").str.starts_with("^")).is_empty():
        return
    truncated, truncated_rolls = continuous_series_and_rolls(bars.filter(upto), method=method)  # type: ignore[arg-type]
    assert truncated.equals(full.filter(upto))
    assert truncated_rolls.equals(full_rolls.filter(pl.col("roll_session") <= cut))


# --- the real feeds in ../shared/data ------------------------------------------------------------


@pytest.mark.shared_data
@pytest.mark.parametrize(
    ("root", "with_index", "every"),
    [
        ("ES", False, 1),
        ("YM", True, 1),
        ("YM", False, 1),
        ("RTY", True, 1),
        # Monthly feeds: every roll's place and bound, the no-look-ahead cuts at every 12th.
        ("CL", False, 12),
        ("GC", False, 12),
        ("ZN", False, 4),
        ("ZC", False, 5),
    ],
)
def test_real_feed_rolls_once_per_expiry_within_the_carry_bound(
    shared_data: Path, root: str, with_index: bool, every: int
) -> None:
    bars = real_bars(shared_data, root, with_index=with_index)
    series, rolls = continuous_series_and_rolls(bars)
    days = series["session_date"].to_list()
    first, last = days[0], days[-1]
    expiries = []
    contract = first_expiring_on_or_after(root, first)
    while contract.expiry < last:
        expiries.append(contract.expiry)
        contract = contract.next_listed()
    assert rolls["old_expiry"].to_list() == expiries
    assert rolls["roll_session"].to_list() == [days[bisect.bisect_right(days, e)] for e in expiries]
    # No roll gap beyond what carry allows, whatever the method.
    assert (rolls["gap"].abs() <= rolls["carry_bound"] * (1 + 1e-12)).all()
    methods = dict(rolls.group_by("method").len().iter_rows())
    if not with_index:
        assert methods == {"carry_bounded": len(expiries)}
        assert rolls["estimated"].all()  # no index, no spread: estimated and flagged so
    else:
        # The index is missing on a roll session only where the file lacks that day.
        assert methods.get("basis", 0) >= len(expiries) - 2
    # Appending bars never rewrites history: cuts on and after every (sampled) expiry session.
    for expiry in expiries[::every]:
        for cut in (expiry, days[bisect.bisect_right(days, expiry)]):
            upto = pl.col("session_date") <= cut
            truncated, truncated_rolls = continuous_series_and_rolls(bars.filter(upto))
            assert truncated.equals(series.filter(upto)), cut
            assert truncated_rolls.equals(rolls.filter(pl.col("roll_session") <= cut)), cut


@pytest.mark.shared_data
def test_real_cl_keeps_the_negative_settlement_and_rolls_after_clk20s_last_trade(
    shared_data: Path,
) -> None:
    bars = real_bars(shared_data, "CL", with_index=False)
    series, rolls = continuous_series_and_rolls(bars)
    april = series.filter(pl.col("session_date").is_between(date(2020, 4, 17), date(2020, 4, 22)))
    assert april["contract"].to_list() == ["CLK20", "CLK20", "CLK20", "CLM20"]
    assert april["raw_close"].round(2).to_list() == [18.27, -37.63, 10.01, 13.78]
    roll = rolls.filter(pl.col("old_contract") == "CLK20").row(0, named=True)
    assert roll["roll_session"] == date(2020, 4, 22) and roll["estimated"]
    # The carry is a fraction of CLM20's positive price, not of CLK20's -37.63.
    assert roll["carry_bound"] == pytest.approx(roll["after_close"] * 3.0 * roll["carry_years"])
    with pytest.raises(ContinuousSeriesError, match="ratio adjustment needs positive prices"):
        continuous_series_and_rolls(bars, method="ratio")


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
    with pytest.raises(ContinuousSeriesError, match="'ESH26' is not a RTY contract code"):
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
