"""Benchmark the polars indicator kernels against TA-Lib on a long synthetic OHLC series.

Each kernel runs alone and then all together in one ``select`` (the whole set once more on 6,500
rows, one root's 25 years), in polars eager (``DataFrame.select``, the in-memory engine) and lazy
(``LazyFrame.collect()``, polars' default engine, streaming since 2.0), against TA-Lib on NumPy
arrays. The best of several repeats is kept. Before timing, every polars result is checked against
TA-Lib so the numbers are for correct output.

Prints a table and rewrites the generated block of the ``## Indicators`` section of
bench/RESULTS.md (other sections and the hand-written notes are left alone).

    uv run --frozen python bench/bench_indicators.py [--rows 1000000] [--repeats 7]
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import platform
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from pathlib import Path

import numpy as np
import polars as pl
import talib

from pipeline.analysis import indicators as ind

sys.path.insert(0, str(Path(__file__).resolve().parent))
from machine import RESULTS, machine, update_section

DEFAULT_ROWS = 1_000_000
DEFAULT_REPEATS = 7
# One root over 25 years of sessions: the size callbook really computes, where polars' fixed
# per-query cost dominates. Timed with more repeats because each run is short.
REAL_SIZE_ROWS = 6_500
REAL_SIZE_REPEATS = 30
SEED = 20260204

SECTION_TITLE = "Indicators"
# Correctness gate before timing: the test suite holds the kernels to 1e-9 on 10k rows.
CHECK_RELATIVE_TOLERANCE = 1e-9

Arrays = tuple[np.ndarray, np.ndarray, np.ndarray]


@dataclass(frozen=True)
class Kernel:
    name: str
    polars: pl.Expr
    talib: Callable[[Arrays], np.ndarray]


KERNELS = [
    Kernel("sma(close, 200)", ind.sma("close", 200), lambda a: talib.SMA(a[2], 200)),
    Kernel("ema(close, 21)", ind.ema("close", 21), lambda a: talib.EMA(a[2], 21)),
    Kernel("true_range", ind.true_range("high", "low", "close"), lambda a: talib.TRANGE(*a)),
    Kernel("wilder_atr(14)", ind.wilder_atr("high", "low", "close"), lambda a: talib.ATR(*a, 14)),
    Kernel("wilder_rsi(14)", ind.wilder_rsi("close"), lambda a: talib.RSI(a[2], 14)),
    Kernel("plus_di(14)", ind.plus_di("high", "low", "close"), lambda a: talib.PLUS_DI(*a, 14)),
    Kernel("minus_di(14)", ind.minus_di("high", "low", "close"), lambda a: talib.MINUS_DI(*a, 14)),
    Kernel("adx(14)", ind.adx("high", "low", "close"), lambda a: talib.ADX(*a, 14)),
    Kernel("change(close, 21)", ind.change("close", lookback=21), lambda a: talib.MOM(a[2], 21)),
    Kernel(
        "rolling_high(high, 252)", ind.rolling_high("high", 252), lambda a: talib.MAX(a[0], 252)
    ),
    Kernel("rolling_low(low, 252)", ind.rolling_low("low", 252), lambda a: talib.MIN(a[1], 252)),
]


def random_walk_bars(rows: int, *, seed: int) -> pl.DataFrame:
    """Geometric random walk OHLC (0.1% daily moves keep a million rows in a sane price range)."""
    rng = np.random.default_rng(seed)
    close = 4000.0 * np.exp(np.cumsum(rng.normal(0.0, 0.001, rows)))
    open_ = np.r_[close[0], close[:-1]] * np.exp(rng.normal(0.0, 0.003, rows))
    high = np.maximum(open_, close) * np.exp(np.abs(rng.normal(0.0, 0.004, rows)))
    low = np.minimum(open_, close) * np.exp(-np.abs(rng.normal(0.0, 0.004, rows)))
    return pl.DataFrame({"high": high, "low": low, "close": close})


def best_seconds(run: Callable[[], object], repeats: int) -> float:
    run()  # warm-up: first-call allocations and polars' thread pool
    timings = []
    for _ in range(repeats):
        start = time.perf_counter()
        run()
        timings.append(time.perf_counter() - start)
    return min(timings)


def check_equal(kernel: Kernel, bars: pl.DataFrame, arrays: Arrays) -> None:
    got = bars.lazy().select(kernel.polars).collect().to_series()
    expected = kernel.talib(arrays)
    same_nulls = np.array_equal(got.is_null().to_numpy(), np.isnan(expected))
    valid = ~np.isnan(expected)
    values = got.to_numpy()[valid]
    close = np.abs(values - expected[valid]) <= CHECK_RELATIVE_TOLERANCE * np.abs(expected[valid])
    if not (same_nulls and close.all()):
        raise SystemExit(f"{kernel.name}: polars result differs from TA-Lib; not benchmarking")


@dataclass(frozen=True)
class Timing:
    name: str
    talib_s: float
    lazy_s: float
    eager_s: float


def collect(lazy: pl.LazyFrame, exprs: list[pl.Expr]) -> pl.DataFrame:
    return lazy.select(exprs).collect()


def run_talib(kernels: list[Kernel], arrays: Arrays) -> list[np.ndarray]:
    return [k.talib(arrays) for k in kernels]


def measure(bars: pl.DataFrame, repeats: int) -> list[Timing]:
    """Each kernel alone, then all of them in one select."""
    arrays = as_arrays(bars)
    lazy = bars.lazy()
    timings = []
    for kernel in KERNELS:
        check_equal(kernel, bars, arrays)
        exprs = [kernel.polars]
        timings.append(
            Timing(
                kernel.name,
                talib_s=best_seconds(partial(run_talib, [kernel], arrays), repeats),
                lazy_s=best_seconds(partial(collect, lazy, exprs), repeats),
                eager_s=best_seconds(partial(bars.select, exprs), repeats),
            )
        )
    timings.append(measure_all(bars, repeats, label="all of the above, one select"))
    return timings


def measure_all(bars: pl.DataFrame, repeats: int, *, label: str) -> Timing:
    arrays = as_arrays(bars)
    every = [k.polars.alias(str(i)) for i, k in enumerate(KERNELS)]
    return Timing(
        label,
        talib_s=best_seconds(partial(run_talib, KERNELS, arrays), repeats),
        lazy_s=best_seconds(partial(collect, bars.lazy(), every), repeats),
        eager_s=best_seconds(partial(bars.select, every), repeats),
    )


def as_arrays(bars: pl.DataFrame) -> Arrays:
    return (bars["high"].to_numpy(), bars["low"].to_numpy(), bars["close"].to_numpy())


def table(timings: list[Timing]) -> str:
    lines = [
        "| kernel | TA-Lib ms | polars lazy ms | polars eager ms | lazy / TA-Lib | eager / TA-Lib |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for t in timings:
        lines.append(
            f"| {t.name} | {t.talib_s * 1e3:.2f} | {t.lazy_s * 1e3:.2f} | {t.eager_s * 1e3:.2f} "
            f"| {t.lazy_s / t.talib_s:.1f} | {t.eager_s / t.talib_s:.1f} |"
        )
    return "\n".join(lines)


def generated_block(timings: list[Timing], rows: int, repeats: int, load_at_start: float) -> str:
    versions = (
        f"Python {platform.python_version()}, polars {pl.__version__}, "
        f"TA-Lib (python) {talib.__version__}, numpy {np.__version__}"
    )
    return "\n".join(
        [
            f"Latest run: {dt.date.today().isoformat()}, {rows:,} rows, best of {repeats} "
            "repeats (after one warm-up call).",
            "",
            f"- Machine: {machine()}",
            f"- Load average (1 min) when the run started: {load_at_start:.2f}",
            f"- Versions: {versions}",
            "",
            table(timings),
        ]
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=DEFAULT_ROWS)
    parser.add_argument("--repeats", type=int, default=DEFAULT_REPEATS)
    parser.add_argument("--results", type=Path, default=RESULTS, help="markdown file to update")
    parser.add_argument("--no-write", action="store_true", help="print only")
    args = parser.parse_args()

    # Other processes on the machine slow every repeat; the load average says how busy it was.
    load_at_start = os.getloadavg()[0]
    bars = random_walk_bars(args.rows, seed=SEED)
    timings = measure(bars, args.repeats)
    real_size = random_walk_bars(REAL_SIZE_ROWS, seed=SEED)
    label = f"all eleven, one select, {REAL_SIZE_ROWS:,} rows"
    timings.append(measure_all(real_size, REAL_SIZE_REPEATS, label=label))
    block = generated_block(timings, args.rows, args.repeats, load_at_start)
    print(block)
    if not args.no_write:
        update_section(SECTION_TITLE, block, args.results)
        print(f"\nwrote {args.results}")


if __name__ == "__main__":
    main()
