"""Indicator kernels against TA-Lib, hand-computed tables and slow obvious implementations."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import polars as pl
import pytest
import talib
from hypothesis import given, settings
from hypothesis import strategies as st

from pipeline.analysis import indicators as ind

# After the warm-up every kernel must match TA-Lib to this relative difference.
TALIB_RELATIVE_TOLERANCE = 1e-9
# Slow reference implementations add in a different order; values near 0 need an absolute floor.
SLOW_RELATIVE_TOLERANCE = 1e-9
SLOW_ABSOLUTE_TOLERANCE = 1e-9

SYNTHETIC_ROWS = 10_000
SYNTHETIC_SEED = 20260204
ES_FILE = "ES_F_yahoo_continuous_daily_2000-09-18_2026-02-23.csv"

Bars = pl.DataFrame
Arrays = tuple[np.ndarray, np.ndarray, np.ndarray]


def random_walk_bars(rows: int, *, seed: int) -> Bars:
    """Geometric random walk with ~1% daily moves, overnight gaps and intraday extensions."""
    rng = np.random.default_rng(seed)
    close = 4000.0 * np.exp(np.cumsum(rng.normal(0.0, 0.01, rows)))
    open_ = np.r_[close[0], close[:-1]] * np.exp(rng.normal(0.0, 0.003, rows))
    high = np.maximum(open_, close) * np.exp(np.abs(rng.normal(0.0, 0.004, rows)))
    low = np.minimum(open_, close) * np.exp(-np.abs(rng.normal(0.0, 0.004, rows)))
    return pl.DataFrame({"high": high, "low": low, "close": close})


# name -> (polars kernel, TA-Lib oracle on (high, low, close))
KERNELS: dict[str, tuple[pl.Expr, Callable[[Arrays], np.ndarray]]] = {
    "sma_20": (ind.sma("close", 20), lambda a: talib.SMA(a[2], 20)),
    "sma_50": (ind.sma("close", 50), lambda a: talib.SMA(a[2], 50)),
    "sma_200": (ind.sma("close", 200), lambda a: talib.SMA(a[2], 200)),
    "ema_21": (ind.ema("close", 21), lambda a: talib.EMA(a[2], 21)),
    "ema_2": (ind.ema("close", 2), lambda a: talib.EMA(a[2], 2)),
    "true_range": (ind.true_range("high", "low", "close"), lambda a: talib.TRANGE(*a)),
    "atr_14": (ind.wilder_atr("high", "low", "close"), lambda a: talib.ATR(*a, 14)),
    "atr_1": (ind.wilder_atr("high", "low", "close", window=1), lambda a: talib.ATR(*a, 1)),
    "atr_5": (ind.wilder_atr("high", "low", "close", window=5), lambda a: talib.ATR(*a, 5)),
    "rsi_14": (ind.wilder_rsi("close"), lambda a: talib.RSI(a[2], 14)),
    "rsi_2": (ind.wilder_rsi("close", window=2), lambda a: talib.RSI(a[2], 2)),
    "plus_di_14": (ind.plus_di("high", "low", "close"), lambda a: talib.PLUS_DI(*a, 14)),
    "minus_di_14": (ind.minus_di("high", "low", "close"), lambda a: talib.MINUS_DI(*a, 14)),
    "plus_di_3": (ind.plus_di("high", "low", "close", window=3), lambda a: talib.PLUS_DI(*a, 3)),
    "minus_di_3": (
        ind.minus_di("high", "low", "close", window=3),
        lambda a: talib.MINUS_DI(*a, 3),
    ),
    "adx_14": (ind.adx("high", "low", "close"), lambda a: talib.ADX(*a, 14)),
    "adx_2": (ind.adx("high", "low", "close", window=2), lambda a: talib.ADX(*a, 2)),
    "change_21": (ind.change("close", lookback=21), lambda a: talib.MOM(a[2], 21)),
    "rolling_high_252": (ind.rolling_high("high", 252), lambda a: talib.MAX(a[0], 252)),
    "rolling_low_252": (ind.rolling_low("low", 252), lambda a: talib.MIN(a[1], 252)),
    "rolling_high_20": (ind.rolling_high("close", 20), lambda a: talib.MAX(a[2], 20)),
}


def assert_matches_talib(bars: Bars, name: str) -> None:
    kernel, oracle = KERNELS[name]
    arrays = tuple(bars[c].to_numpy() for c in ("high", "low", "close"))
    expected = oracle(arrays)  # type: ignore[arg-type]
    got = bars.select(kernel.alias(name)).to_series()
    got_null = got.is_null().to_numpy()
    warm_up = np.isnan(expected)
    mismatched = np.flatnonzero(got_null != warm_up)
    assert mismatched.size == 0, f"{name}: null/NaN mismatch at rows {mismatched[:10].tolist()}"
    values, reference = got.to_numpy()[~warm_up], expected[~warm_up]
    # Written as a product so that a reference of exactly 0 (a flat DI, an unchanged close)
    # demands exactly 0.
    too_far = np.abs(values - reference) > TALIB_RELATIVE_TOLERANCE * np.abs(reference)
    bad = np.flatnonzero(too_far)
    assert bad.size == 0, (
        f"{name}: {bad.size} values off by more than {TALIB_RELATIVE_TOLERANCE:g} relative, "
        f"first at valid row {bad[0]}: {values[bad[0]]!r} vs TA-Lib {reference[bad[0]]!r}"
    )


@pytest.fixture(scope="module")
def synthetic_bars() -> Bars:
    return random_walk_bars(SYNTHETIC_ROWS, seed=SYNTHETIC_SEED)


@pytest.mark.parametrize("name", KERNELS)
def test_equals_talib_on_a_random_walk(synthetic_bars: Bars, name: str) -> None:
    assert_matches_talib(synthetic_bars, name)


@pytest.mark.shared_data
@pytest.mark.parametrize("name", KERNELS)
def test_equals_talib_on_real_es_bars(shared_data: Path, name: str) -> None:
    # Yahoo ES=F, 6,400 sessions, with its real defects (gaps at rolls, closes outside the range).
    bars = pl.read_csv(shared_data / ES_FILE).select(
        pl.col("High").alias("high"), pl.col("Low").alias("low"), pl.col("Close").alias("close")
    )
    assert bars.height > 6000
    assert_matches_talib(bars.cast(pl.Float64), name)


# --- Hand-computed tables -------------------------------------------------------------------
# 20 bars in whole index points. The expected values were computed once with exact rational
# arithmetic (fractions.Fraction) from the textbook definitions (Wilder 1978 for ATR and RSI) in a
# throwaway script that uses neither polars nor TA-Lib, then written out as the nearest doubles.
# The first values are checked by hand in the comments; TA-Lib is asserted to agree as well.
HAND_CLOSE = [100, 102, 101, 104, 103, 99, 101, 106, 105, 102, 104, 108, 107, 110, 109, 104, 106, 111, 110, 113]  # fmt: skip
HAND_HIGH = [101, 103, 103, 105, 105, 103, 102, 107, 107, 105, 105, 109, 109, 111, 111, 108, 107, 112, 112, 114]  # fmt: skip
HAND_LOW = [99, 100, 100, 101, 102, 98, 99, 102, 104, 101, 102, 104, 106, 107, 108, 103, 104, 107, 109, 110]  # fmt: skip
HAND_WINDOW = 5
# SMA(5): row 4 = (100 + 102 + 101 + 104 + 103) / 5 = 102; row 5 = (510 - 100 + 99) / 5 = 101.8.
HAND_SMA = [None, None, None, None, 102.0, 101.8, 101.6, 102.6, 102.8, 102.6, 103.6, 105.0, 105.2, 106.2, 107.6, 107.6, 107.2, 108.0, 108.0, 108.8]  # fmt: skip
# EMA(5), alpha 1/3: seed 102; 102 + (99 - 102)/3 = 101; 101 + 0 = 101; 101 + (106 - 101)/3 = 308/3.
HAND_EMA = [None, None, None, None, 102.0, 101.0, 101.0, 102.66666666666667, 103.44444444444444, 102.96296296296296, 103.30864197530865, 104.8724279835391, 105.58161865569274, 107.05441243712849, 107.70294162475233, 106.46862774983488, 106.31241849988992, 107.87494566659328, 108.5832971110622, 110.05553140737479]  # fmt: skip
# True ranges from row 1: 3, 3, 4, 3, 5, 3, 6, ... (row 3: max(105-101, |105-101|, |101-101|) = 4).
# ATR(5): row 5 = (3+3+4+3+5)/5 = 3.6; row 6 = (4 * 3.6 + 3)/5 = 3.48; row 7 = (4 * 3.48 + 6)/5.
HAND_ATR = [None, None, None, None, None, 3.6, 3.48, 3.984, 3.7872, 3.82976, 3.663808, 3.9310464, 3.74483712, 3.795869696, 3.6366957568, 4.10935660544, 3.887485284352, 4.3099882274816, 4.04799058198528, 4.038392465588224]  # fmt: skip
# Moves from row 1: +2, -1, +3, -1, -4, +2, ... RSI(5) row 5: gain 5/5 = 1, loss 6/5 = 1.2, so
# 100 * 1 / 2.2 = 500/11; row 6: gain (4 + 2)/5 = 1.2, loss 4.8/5 = 0.96, 100 * 1.2 / 2.16 = 500/9.
HAND_RSI = [None, None, None, None, None, 45.45454545454545, 55.55555555555556, 71.8475073313783, 65.81598388179987, 50.05746392542459, 58.36482674189599, 70.59343220737232, 64.65879486801484, 73.12975712762504, 66.48938432936522, 42.4170286860402, 51.24318494967213, 67.03373622310065, 62.012814881228245, 70.34290751392939]  # fmt: skip

HAND_BARS = pl.DataFrame(
    {"high": HAND_HIGH, "low": HAND_LOW, "close": HAND_CLOSE},
    schema=dict.fromkeys(("high", "low", "close"), pl.Float64),
)
HAND_ARRAYS = tuple(HAND_BARS[c].to_numpy() for c in ("high", "low", "close"))


@pytest.mark.parametrize(
    ("kernel", "oracle", "expected"),
    [
        (ind.sma("close", HAND_WINDOW), lambda h, lo, c: talib.SMA(c, HAND_WINDOW), HAND_SMA),
        (ind.ema("close", HAND_WINDOW), lambda h, lo, c: talib.EMA(c, HAND_WINDOW), HAND_EMA),
        (
            ind.wilder_atr("high", "low", "close", window=HAND_WINDOW),
            lambda h, lo, c: talib.ATR(h, lo, c, HAND_WINDOW),
            HAND_ATR,
        ),
        (
            ind.wilder_rsi("close", window=HAND_WINDOW),
            lambda h, lo, c: talib.RSI(c, HAND_WINDOW),
            HAND_RSI,
        ),
    ],
    ids=["sma", "ema", "atr", "rsi"],
)
def test_hand_computed_tables(
    kernel: pl.Expr, oracle: Callable[..., np.ndarray], expected: list[float | None]
) -> None:
    assert_close_lists(HAND_BARS.select(kernel).to_series().to_list(), expected)
    talib_values = [None if math.isnan(v) else float(v) for v in oracle(*HAND_ARRAYS)]
    assert_close_lists(talib_values, expected)


def test_hand_computed_directional_indicators() -> None:
    # Window 2 on six bars, worked by hand with Wilder's running sums S = S - S/2 + x:
    # +DM = [-, 2, 0, 2, 1, 0], -DM = [-, 0, 2, 0, 0, 1], TR = [-, 3, 4, 5, 4, 4].
    # Seeds (one value): S+ = 2, S- = 0, STR = 3. Row 2: S+ = 1, S- = 2, STR = 5.5, so
    # +DI = 100/5.5, -DI = 200/5.5, DX = 100/3. Row 3: S+ = 2.5, S- = 1, STR = 7.75, DX = 300/7,
    # ADX = (100/3 + 300/7)/2 = 800/21. Row 4: S+ = 2.25, S- = 0.5, STR = 7.875, DX = 700/11,
    # ADX = (800/21 + 700/11)/2. Row 5: S+ = 1.125, S- = 1.25, STR = 7.9375, DX = 100/19.
    bars = pl.DataFrame(
        {
            "high": [10.0, 12.0, 11.0, 13.0, 14.0, 13.0],
            "low": [8.0, 9.0, 7.0, 8.0, 10.0, 9.0],
            "close": [9.0, 11.0, 8.0, 12.0, 13.0, 10.0],
        }
    )
    adx_4 = (800 / 21 + 700 / 11) / 2
    expected = {
        "plus": [None, None, 100 / 5.5, 250 / 7.75, 225 / 7.875, 112.5 / 7.9375],
        "minus": [None, None, 200 / 5.5, 100 / 7.75, 50 / 7.875, 125 / 7.9375],
        "adx": [None, None, None, 800 / 21, adx_4, (adx_4 + 100 / 19) / 2],
    }
    got = bars.select(
        plus=ind.plus_di("high", "low", "close", window=2),
        minus=ind.minus_di("high", "low", "close", window=2),
        adx=ind.adx("high", "low", "close", window=2),
    )
    for column, values in expected.items():
        assert_close_lists(got[column].to_list(), values)


# --- Slow obvious implementations -----------------------------------------------------------


def slow_sma(xs: Sequence[float], n: int) -> list[float | None]:
    return [None if i < n - 1 else sum(xs[i - n + 1 : i + 1]) / n for i in range(len(xs))]


def slow_seeded(xs: Sequence[float | None], n: int, alpha: float) -> list[float | None]:
    """Mean of the first n values, then m += alpha * (x - m); None in, None out (row skipped)."""
    out: list[float | None] = [None] * len(xs)
    seen: list[float] = []
    m = 0.0
    for i, x in enumerate(xs):
        if x is None:
            continue
        seen.append(x)
        if len(seen) == n:
            m = sum(seen) / n
            out[i] = m
        elif len(seen) > n:
            m = m + alpha * (x - m)
            out[i] = m
    return out


def slow_true_range(
    high: Sequence[float], low: Sequence[float], close: Sequence[float]
) -> list[float | None]:
    return [
        None
        if i == 0
        else max(high[i] - low[i], abs(high[i] - close[i - 1]), abs(low[i] - close[i - 1]))
        for i in range(len(close))
    ]


def slow_atr(
    high: Sequence[float], low: Sequence[float], close: Sequence[float], n: int
) -> list[float | None]:
    ranges = slow_true_range(high, low, close)
    out: list[float | None] = [None] * len(close)
    if len(close) <= n:
        return out
    atr = sum(r for r in ranges[1 : n + 1] if r is not None) / n
    out[n] = atr
    for i in range(n + 1, len(close)):
        atr = (atr * (n - 1) + ranges[i]) / n  # type: ignore[operator]
        out[i] = atr
    return out


def slow_rsi(close: Sequence[float], n: int) -> list[float | None]:
    out: list[float | None] = [None] * len(close)
    if len(close) <= n:
        return out
    moves = [close[i] - close[i - 1] for i in range(1, len(close))]
    gain = sum(max(m, 0.0) for m in moves[:n]) / n
    loss = sum(max(-m, 0.0) for m in moves[:n]) / n
    for i in range(n, len(close)):
        if i > n:
            gain = (gain * (n - 1) + max(moves[i - 1], 0.0)) / n
            loss = (loss * (n - 1) + max(-moves[i - 1], 0.0)) / n
        out[i] = 0.0 if gain + loss == 0 else 100.0 * gain / (gain + loss)
    return out


def slow_directional(
    high: Sequence[float], low: Sequence[float], close: Sequence[float], n: int
) -> tuple[list[float | None], list[float | None], list[float | None]]:
    """TA-Lib's algorithm written out: running sums seeded over n - 1 bars, DIs, DX, ADX."""
    rows = len(close)
    plus_out: list[float | None] = [None] * rows
    minus_out: list[float | None] = [None] * rows
    adx_out: list[float | None] = [None] * rows
    s_plus = s_minus = s_range = 0.0
    dx_sum = 0.0
    adx = 0.0
    for i in range(1, rows):
        rise, fall = high[i] - high[i - 1], low[i - 1] - low[i]
        plus_dm = rise if rise > fall and rise > 0 else 0.0
        minus_dm = fall if fall > rise and fall > 0 else 0.0
        true_range = max(high[i] - low[i], abs(high[i] - close[i - 1]), abs(low[i] - close[i - 1]))
        if i < n:  # seed: plain sums of the first n - 1 values
            s_plus, s_minus, s_range = s_plus + plus_dm, s_minus + minus_dm, s_range + true_range
            continue
        s_plus = s_plus - s_plus / n + plus_dm
        s_minus = s_minus - s_minus / n + minus_dm
        s_range = s_range - s_range / n + true_range
        plus_di = 0.0 if s_range == 0 else 100.0 * s_plus / s_range
        minus_di = 0.0 if s_range == 0 else 100.0 * s_minus / s_range
        plus_out[i], minus_out[i] = plus_di, minus_di
        total = plus_di + minus_di
        dx = 0.0 if total == 0 else 100.0 * abs(plus_di - minus_di) / total
        if i < 2 * n - 1:
            dx_sum += dx
        elif i == 2 * n - 1:
            adx = (dx_sum + dx) / n
            adx_out[i] = adx
        else:
            adx = (adx * (n - 1) + dx) / n
            adx_out[i] = adx
    return plus_out, minus_out, adx_out


def slow_change(xs: Sequence[float], lookback: int) -> list[float | None]:
    return [None if i < lookback else xs[i] - xs[i - lookback] for i in range(len(xs))]


def slow_extreme(
    xs: Sequence[float], n: int, pick: Callable[[Sequence[float]], float]
) -> list[float | None]:
    return [None if i < n - 1 else pick(xs[i - n + 1 : i + 1]) for i in range(len(xs))]


def assert_close_lists(got: Sequence[float | None], expected: Sequence[float | None]) -> None:
    assert len(got) == len(expected)
    for row, (g, e) in enumerate(zip(got, expected, strict=True)):
        if g is None or e is None:
            assert g is None and e is None, f"row {row}: got {g}, expected {e}"
        else:
            assert math.isclose(
                g, e, rel_tol=SLOW_RELATIVE_TOLERANCE, abs_tol=SLOW_ABSOLUTE_TOLERANCE
            ), f"row {row}: got {g}, expected {e}"


# Prices on a quarter-point grid, like ES: exact ties (equal moves, flat bars) happen often.
TICK = 0.25
ticks = st.integers(min_value=0, max_value=40).map(lambda t: t * TICK)


@st.composite
def bar_lists(draw: st.DrawFn, max_rows: int = 60) -> tuple[list[float], list[float], list[float]]:
    rows = draw(st.integers(min_value=0, max_value=max_rows))
    close = draw(st.lists(st.integers(400, 4000), min_size=rows, max_size=rows))
    up = draw(st.lists(ticks, min_size=rows, max_size=rows))
    down = draw(st.lists(ticks, min_size=rows, max_size=rows))
    closes = [c * TICK for c in close]
    return (
        [c + u for c, u in zip(closes, up, strict=True)],
        [c - d for c, d in zip(closes, down, strict=True)],
        closes,
    )


def frame(high: list[float], low: list[float], close: list[float]) -> Bars:
    return pl.DataFrame(
        {"high": high, "low": low, "close": close},
        schema=dict.fromkeys(("high", "low", "close"), pl.Float64),
    )


def run(bars: Bars, kernel: pl.Expr) -> list[float | None]:
    return bars.select(kernel).to_series().to_list()


windows = st.integers(min_value=1, max_value=12)
directional_windows = st.integers(min_value=2, max_value=12)


@settings(max_examples=60, deadline=None)
@given(bars=bar_lists(), window=windows)
def test_single_series_kernels_match_slow_versions(
    bars: tuple[list[float], list[float], list[float]], window: int
) -> None:
    high, low, close = bars
    df = frame(high, low, close)
    assert_close_lists(run(df, ind.sma("close", window)), slow_sma(close, window))
    assert_close_lists(
        run(df, ind.ema("close", window)), slow_seeded(close, window, 2 / (window + 1))
    )
    assert_close_lists(run(df, ind.change("close", lookback=window)), slow_change(close, window))
    assert_close_lists(run(df, ind.rolling_high("high", window)), slow_extreme(high, window, max))
    assert_close_lists(run(df, ind.rolling_low("low", window)), slow_extreme(low, window, min))


@settings(max_examples=60, deadline=None)
@given(bars=bar_lists(), window=directional_windows)
def test_wilder_kernels_match_slow_versions(
    bars: tuple[list[float], list[float], list[float]], window: int
) -> None:
    high, low, close = bars
    df = frame(high, low, close)
    assert_close_lists(
        run(df, ind.true_range("high", "low", "close")), slow_true_range(high, low, close)
    )
    assert_close_lists(
        run(df, ind.wilder_atr("high", "low", "close", window=window)),
        slow_atr(high, low, close, window),
    )
    assert_close_lists(run(df, ind.wilder_rsi("close", window=window)), slow_rsi(close, window))
    plus, minus, adx = slow_directional(high, low, close, window)
    assert_close_lists(run(df, ind.plus_di("high", "low", "close", window=window)), plus)
    assert_close_lists(run(df, ind.minus_di("high", "low", "close", window=window)), minus)
    assert_close_lists(run(df, ind.adx("high", "low", "close", window=window)), adx)


def all_kernels(window: int) -> list[pl.Expr]:
    directional = max(window, ind.MIN_DIRECTIONAL_WINDOW)
    return [
        ind.sma("close", window),
        ind.ema("close", window),
        ind.true_range("high", "low", "close"),
        ind.wilder_atr("high", "low", "close", window=window),
        ind.wilder_rsi("close", window=directional),
        ind.plus_di("high", "low", "close", window=directional),
        ind.minus_di("high", "low", "close", window=directional),
        ind.adx("high", "low", "close", window=directional),
        ind.change("close", lookback=window),
        ind.rolling_high("high", window),
        ind.rolling_low("low", window),
    ]


@settings(max_examples=40, deadline=None)
@given(bars=bar_lists(), window=windows, data=st.data())
def test_every_kernel_is_causal(
    bars: tuple[list[float], list[float], list[float]], window: int, data: st.DataObject
) -> None:
    df = frame(*bars)
    cut = data.draw(st.integers(min_value=0, max_value=df.height), label="cut")
    full = df.select(all_kernels(window))
    prefix = df.head(cut).select(all_kernels(window))
    assert prefix.equals(full.head(cut))


@settings(max_examples=40, deadline=None)
@given(bars=bar_lists(max_rows=40), window=windows, leading=st.integers(1, 5))
def test_leading_nulls_only_shift_the_warm_up(
    bars: tuple[list[float], list[float], list[float]], window: int, leading: int
) -> None:
    df = frame(*bars)
    padded = pl.concat([pl.DataFrame(schema=df.schema).clear(leading), df])
    without = df.select(all_kernels(window))
    with_nulls = padded.select(all_kernels(window))
    assert with_nulls.head(leading).null_count().sum_horizontal().item() == (
        leading * without.width
    )
    assert with_nulls.tail(df.height).equals(without)


@settings(max_examples=40, deadline=None)
@given(
    values=st.lists(st.integers(1, 1000).map(float), min_size=1, max_size=40),
    window=windows,
    data=st.data(),
)
def test_recursive_kernels_skip_an_interior_null(
    values: list[float], window: int, data: st.DataObject
) -> None:
    # A missing row is null in the output and the recursion carries over it as if it were absent.
    gap = data.draw(st.integers(min_value=0, max_value=len(values)), label="gap")
    with_gap: list[float | None] = [*values[:gap], None, *values[gap:]]
    got = pl.DataFrame({"x": with_gap}, schema={"x": pl.Float64}).select(ind.ema("x", window))
    expected = slow_seeded(values, window, 2 / (window + 1))
    assert_close_lists(got.to_series().to_list(), [*expected[:gap], None, *expected[gap:]])


def test_windowed_kernels_null_every_window_holding_a_null() -> None:
    df = pl.DataFrame({"x": [1.0, 2.0, None, 4.0, 5.0, 6.0]})
    assert run(df, ind.sma("x", 2)) == [None, 1.5, None, None, 4.5, 5.5]
    assert run(df, ind.sma("x", 2, min_samples=1)) == [1.0, 1.5, 2.0, 4.0, 4.5, 5.5]
    assert run(df, ind.rolling_high("x", 2)) == [None, 2.0, None, None, 5.0, 6.0]
    assert run(df, ind.change("x", lookback=1)) == [None, 1.0, None, None, 1.0, 1.0]


def test_nan_propagates_like_ieee_arithmetic() -> None:
    df = pl.DataFrame({"x": [1.0, 2.0, float("nan"), 4.0, 5.0, 6.0]})
    sma_values = run(df, ind.sma("x", 2))
    assert [v is not None and math.isnan(v) for v in sma_values] == [
        False,
        False,
        True,
        True,
        False,
        False,
    ]
    ema_values = run(df, ind.ema("x", 2))
    assert ema_values[:2] == [None, 1.5]
    assert all(v is not None and math.isnan(v) for v in ema_values[2:])


def test_over_computes_each_instrument_separately(synthetic_bars: Bars) -> None:
    first, second = synthetic_bars.head(300), synthetic_bars.slice(5000, 400)
    stacked = pl.concat(
        [first.with_columns(symbol=pl.lit("ES")), second.with_columns(symbol=pl.lit("NQ"))]
    )
    kernels = all_kernels(14)
    together = stacked.select([k.over("symbol") for k in kernels])
    apart = pl.concat([first.select(kernels), second.select(kernels)])
    # Equal up to rounding: polars may add the few values of a seed in another order per group.
    for column in apart.columns:
        assert_close_lists(together[column].to_list(), apart[column].to_list())


def test_results_are_named_after_kernel_and_window() -> None:
    df = frame([2.0], [1.0], [1.5])
    assert df.select(all_kernels(3)).columns == [
        "sma_3",
        "ema_3",
        "true_range",
        "atr_3",
        "rsi_3",
        "plus_di_3",
        "minus_di_3",
        "adx_3",
        "change_3",
        "rolling_high_3",
        "rolling_low_3",
    ]


def test_integer_prices_are_computed_as_floats() -> None:
    df = pl.DataFrame({"close": [1, 2, 4]})
    assert df.select(ind.sma("close", 2)).to_series().to_list() == [None, 1.5, 3.0]


@pytest.mark.parametrize(
    ("build", "message"),
    [
        (lambda: ind.sma("close", 0), r"sma: window must be an integer >= 1, got 0"),
        (lambda: ind.ema("close", True), r"ema: window must be an integer >= 1, got True"),
        (lambda: ind.wilder_rsi("close", window=1), r"wilder_rsi: window must be .*>= 2, got 1"),
        (lambda: ind.adx("h", "l", "c", window=1), r"adx: window must be .*>= 2, got 1"),
        (lambda: ind.change("close", lookback=0), r"change: lookback must be .*>= 1, got 0"),
        (lambda: ind.sma("close", 5, min_samples=6), r"sma: min_samples must be in 1..window=5"),
        (lambda: ind.rolling_low("low", 3, min_samples=0), r"rolling_low: min_samples must be"),
        (lambda: ind.wilder_atr("h", "l", "c", window=2.5), r"wilder_atr: window must be"),  # type: ignore[arg-type]
    ],
)
def test_bad_windows_are_rejected_by_name(build: Callable[[], pl.Expr], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        build()
