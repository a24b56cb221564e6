"""Benchmark: roll gaps of the real front-month feeds in ../shared/data, before and after.

Before (the rule replaced by migration 006): the splice at each expiry E sits at whichever of
(session before E -> E) and (E -> next session) has the larger opening gap, chosen with the
session after E, and the gap is the raw opening gap ``open - previous close``. After
(pipeline.market.rolls): the roll is on the session after the expiry session, by calendar, and
the gap is the jump in the basis against the cash index where the file comes with one (TF1 with
^RUT, YM with ^DJI), else an estimate from the feed's carry over the last 8 rolls, within the carry
bound (ES, NQ; YM also run without its index, to measure how far that estimate is from the basis).

Also measured: where the basis jump sits around each expiry (which session the feed switches
on), how the March 2020 roll was sized and how the published 50-day moved across it.

    uv run python bench/bench_rolls.py            # prints the tables, updates bench/RESULTS.md
    uv run python bench/bench_rolls.py --no-write
"""

from __future__ import annotations

import argparse
import bisect
import math
import sys
import time
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path

import polars as pl

sys.path.insert(0, str(Path(__file__).resolve().parent))
from machine import machine_summary, update_section

from pipeline.analysis.methodology import get as get_methodology
from pipeline.market.continuous import continuous_series_and_rolls
from pipeline.market.contracts import Contract, first_expiring_on_or_after, is_index_symbol
from pipeline.market.rolls import RollParams
from pipeline.market.roots import builtin_spec
from pipeline.quality.suite import validate_batch
from pipeline.sources.file import FileSource

#: Methodology v1's analysis (the registry's one driver).
analyse = get_methodology("v1").analyse

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
LAST_SESSION = date(2026, 2, 23)
FETCHED_AT = datetime(2026, 2, 24, 12, 0, tzinfo=UTC)  # every row of the files is final
#: (label, root, futures file, index file)
FEEDS = (
    (
        "TF1 + ^RUT",
        "RTY",
        "TF1_ICE_russell2000_mini_front_month_quandl_daily_2006-12-18_2018-06-15.csv",
        "RUT_index_daily_1987-09-10_2026-02-23.csv",
    ),
    (
        "YM + ^DJI",
        "YM",
        "YM_F_yahoo_continuous_daily_2002-04-05_2026-02-23.csv",
        "DJI_index_daily_1992-01-02_2026-02-23.csv",
    ),
    ("ES", "ES", "ES_F_yahoo_continuous_daily_2000-09-18_2026-02-23.csv", None),
    ("NQ", "NQ", "NQ_F_yahoo_continuous_daily_2000-09-18_2026-02-23.csv", None),
)
#: The feeds of roots beyond the equity indexes (no cash index: every roll is estimated).
PRODUCT_FEEDS = (
    ("CL", "CL_F_yahoo_continuous_daily_2000-08-23_2026-02-23.csv"),
    ("GC", "GC_F_yahoo_continuous_daily_2000-08-30_2026-02-23.csv"),
    ("ZN", "ZN_F_yahoo_continuous_daily_2000-09-21_2026-02-23.csv"),
    ("ZC", "ZC_F_yahoo_continuous_daily_2000-07-17_2026-02-23.csv"),
)
MARCH_2020_EXPIRY = date(2020, 3, 20)
#: The replaced rule's sizing: this roll's own opening gap, unbounded.
NO_BOUND = RollParams(max_annual_carry=math.inf, carry_estimate_rolls=1)


def clean_bars(root: str, futures: str, index: str | None) -> pl.DataFrame:
    """The file(s) as the warehouse would hold them: read, validated, clean rows only."""
    source = FileSource(DATA / futures, index_path=None if index is None else DATA / index)
    batch = source.fetch(root, start=None, end=LAST_SESSION, fetched_at=FETCHED_AT)
    return validate_batch(batch, spec=builtin_spec(root)).clean


def feed_only(bars: pl.DataFrame) -> pl.DataFrame:
    return bars.filter(~pl.col("contract").map_elements(is_index_symbol, return_dtype=pl.Boolean))


def expiries_of(root: str, days: list[date]) -> list[date]:
    out, contract = [], first_expiring_on_or_after(root, days[0])
    while contract.expiry < days[-1]:
        out.append(contract.expiry)
        contract = contract.next()
    return out


def old_splice_sessions(feed: pl.DataFrame, root: str) -> list[date]:
    """The replaced rule's splice per expiry E: the first row on or after E, or the row after it
    when that row is E and the next opening gap is larger (seen only once the next row exists)."""
    feed = feed.sort("session_date")
    days = feed["session_date"].to_list()
    gaps = (feed["open"] - feed["close"].shift(1)).abs().fill_null(-1.0).to_list()
    out = []
    for expiry in expiries_of(root, days):
        i = bisect.bisect_left(days, expiry)
        if i >= len(days):
            break
        if days[i] == expiry:
            if i + 1 == len(days):
                break
            if gaps[i + 1] > gaps[i]:
                i += 1
        out.append(days[i])
    return out


def before_series(feed: pl.DataFrame, root: str) -> tuple[pl.DataFrame, pl.DataFrame]:
    """The replaced rule's series and rolls: its splices, raw opening gaps (no bound, no index)."""
    return continuous_series_and_rolls(
        feed, roll_sessions=old_splice_sessions(feed, root), params=NO_BOUND
    )


def pct(frame: pl.DataFrame, column: str) -> pl.Series:
    return 100 * frame[column] / frame["before_close"]


@dataclass(frozen=True)
class FeedResult:
    label: str
    rolls: int
    methods: str
    before_max_pct: float
    before_max_session: date
    before_beyond_bound: int
    after_max_pct: float
    after_max_session: date
    after_beyond_bound: int
    after_clipped: int
    series_ms: float


def measure_feed(label: str, root: str, bars: pl.DataFrame) -> FeedResult:
    feed = feed_only(bars)
    _, old = before_series(feed, root)
    started = time.perf_counter()
    _, new = continuous_series_and_rolls(bars)
    elapsed = time.perf_counter() - started
    old_pct, new_pct = pct(old, "gap").abs(), pct(new, "gap").abs()
    # The old gaps against the carry bound of the same expiry (from the new table's evidence).
    bounds = new.select("old_expiry", "carry_bound")
    old_vs_bound = old.drop("carry_bound").join(bounds, on="old_expiry", how="inner")
    methods = ", ".join(f"{m} {n}" for m, n in new.group_by("method").len().sort("method").rows())
    return FeedResult(
        label=label,
        rolls=new.height,
        methods=methods,
        before_max_pct=float(old_pct.max()),  # type: ignore[arg-type]
        before_max_session=old["roll_session"][int(old_pct.arg_max())],  # type: ignore[arg-type]
        before_beyond_bound=int((old_vs_bound["gap"].abs() > old_vs_bound["carry_bound"]).sum()),
        after_max_pct=float(new_pct.max()),  # type: ignore[arg-type]
        after_max_session=new["roll_session"][int(new_pct.arg_max())],  # type: ignore[arg-type]
        after_beyond_bound=int((new["gap"].abs() > new["carry_bound"] * (1 + 1e-12)).sum()),
        after_clipped=int(new["clipped"].sum()),
        series_ms=1000 * elapsed,
    )


def estimate_errors(label: str, root: str, bars: pl.DataFrame) -> list[tuple[str, ...]]:
    """Against the basis-measured gap, the error (% of price) of what a feed without its index
    gets (carry_bounded), of the replaced raw opening gap, and of no adjustment."""
    _, truth = continuous_series_and_rolls(bars)
    _, bounded = continuous_series_and_rolls(feed_only(bars))
    truth = truth.filter(pl.col("method") == "basis")
    joined = truth.select("roll_session", "before_close", pl.col("gap").alias("truth")).join(
        bounded.select("roll_session", "gap", "opening_gap"), on="roll_session"
    )
    rows = []
    for name, estimate in (
        ("carry_bounded (mean carry of 8 rolls)", pl.col("gap")),
        ("raw opening gap (replaced rule)", pl.col("opening_gap")),
        ("no adjustment (gap 0)", pl.lit(0.0)),
    ):
        error = joined.select(100 * (estimate - pl.col("truth")) / pl.col("before_close"))[:, 0]
        rms = math.sqrt(float((error**2).mean()))  # type: ignore[operator]
        rows.append((label, name, str(joined.height), f"{rms:.2f}", f"{error.abs().max():.2f}"))
    return rows


def where_the_jump_sits(label: str, root: str, bars: pl.DataFrame) -> tuple[str, ...]:
    """Around each expiry E: does the feed's close on E sit with the old contract (its basis
    against the index is nearer the session before's) or with the new one (nearer the next
    session's)? Without an index: which opening gap is larger, into E or into the next session."""
    feed = feed_only(bars).sort("session_date")
    index = dict(
        bars.filter(pl.col("contract").str.starts_with("^")).select("session_date", "close").rows()
    )
    days = feed["session_date"].to_list()
    closes, opens = feed["close"].to_list(), feed["open"].to_list()
    old = new = 0
    for expiry in expiries_of(root, days):
        e = bisect.bisect_left(days, expiry)
        if e == 0 or e + 1 >= len(days) or days[e] != expiry:
            continue
        if index:
            if not all(days[k] in index for k in (e - 1, e, e + 1)):
                continue
            basis = [closes[k] - index[days[k]] for k in (e - 1, e, e + 1)]
            if abs(basis[1] - basis[0]) <= abs(basis[2] - basis[1]):
                old += 1
            else:
                new += 1
        elif abs(opens[e + 1] - closes[e]) >= abs(opens[e] - closes[e - 1]):
            old += 1
        else:
            new += 1
    how = "basis on E nearer" if index else "larger opening gap"
    return (label, how, str(old + new), str(old), str(new))


def march_2020(label: str, root: str, bars: pl.DataFrame) -> list[tuple[str, ...]]:
    """The March 2020 roll and the published 50-day (front-contract points) on E and the next
    session, with the replaced rule and with the new one."""
    feed = feed_only(bars)
    variants = (
        ("before", *before_series(feed, root)),
        ("after", *continuous_series_and_rolls(bars)),
    )
    rows = []
    for name, series, rolls in variants:
        roll = rolls.filter(pl.col("old_expiry") == MARCH_2020_EXPIRY).row(0, named=True)
        days = series["session_date"].to_list()
        on_expiry = days[bisect.bisect_right(days, MARCH_2020_EXPIRY) - 1]
        after = days[bisect.bisect_right(days, MARCH_2020_EXPIRY)]
        calls = analyse({root: series}, root, source="file", sessions=[on_expiry, after]).snapshots
        sma50 = dict(calls.select("as_of", "sma50").rows())
        rows.append(
            (
                label,
                name,
                str(roll["roll_session"]),
                "opening gap (raw)" if name == "before" else roll["method"],
                f"{roll['gap']:+.2f} ({100 * roll['gap'] / roll['before_close']:+.2f} %)",
                f"{sma50[on_expiry]:.2f}",
                f"{sma50[after]:.2f}",
                f"{sma50[after] - sma50[on_expiry]:+.2f}",
                f"{sma50[after] - sma50[on_expiry] - roll['gap']:+.2f}",
            )
        )
    return rows


def product_switch(root: str, bars: pl.DataFrame) -> tuple[str, ...]:
    """Where the raw feed switches contract around each last trade day E: the median
    close-to-close move (% of price, signed: the calendar spread's sign survives, the market's
    moves cancel; a median, so that CLK20's -306 % on E-1 does not decide it) and the mean
    absolute opening gap on E and on the sessions either side, against the mean absolute opening
    gap of all sessions; and the median volume on E-1, E and E+1."""
    feed = bars.sort("session_date")
    days = feed["session_date"].to_list()
    closes, opens = feed["close"].to_list(), feed["open"].to_list()
    volumes = feed["volume"].to_list()
    moves: dict[int, list[float]] = {k: [] for k in (-1, 0, 1, 2)}
    gaps: dict[int, list[float]] = {k: [] for k in (-1, 0, 1, 2)}
    vols: dict[int, list[int]] = {k: [] for k in (-1, 0, 1)}
    for contract in expiries_of_contracts(root, days):
        e = bisect.bisect_left(days, contract.expiry)
        if e < 2 or e + 2 >= len(days) or days[e] != contract.expiry:
            continue
        for k in moves:
            i = e + k
            if closes[i - 1] and closes[i - 1] > 0:
                moves[k].append(100 * (closes[i] - closes[i - 1]) / closes[i - 1])
                gaps[k].append(100 * abs(opens[i] - closes[i - 1]) / closes[i - 1])
        for k in vols:
            if volumes[e + k] is not None:
                vols[k].append(volumes[e + k])
    every = [
        100 * abs(o - c) / c for o, c in zip(opens[1:], closes[:-1], strict=True) if c and c > 0
    ]

    def mean(values: list[float]) -> float:
        return sum(values) / len(values)

    def median(values: list[int]) -> str:
        return f"{sorted(values)[len(values) // 2]:,}"

    return (
        root,
        str(len(moves[1])),
        " / ".join(f"{sorted(moves[k])[len(moves[k]) // 2]:+.2f}" for k in (-1, 0, 1, 2)),
        " / ".join(f"{mean(gaps[k]):.2f}" for k in (-1, 0, 1, 2)) + f" (all {mean(every):.2f})",
        " / ".join(median(vols[k]) for k in (-1, 0, 1)),
    )


def expiries_of_contracts(root: str, days: list[date]) -> list[Contract]:
    out, contract = [], first_expiring_on_or_after(root, days[0])
    while contract.expiry < days[-1]:
        out.append(contract)
        contract = contract.next_listed()
    return out


def product_rolls(root: str, bars: pl.DataFrame) -> tuple[str, ...]:
    """Largest roll gap before the roll handling (the raw feed's jump: the roll session's opening
    gap) and after it (the estimated gap the series removes), % of the old contract's price."""
    started = time.perf_counter()
    _, rolls = continuous_series_and_rolls(bars, spec=builtin_spec(root))
    elapsed = time.perf_counter() - started
    scale = pl.when(pl.col("before_close") > 0).then("before_close").otherwise("after_close")
    rolls = rolls.with_columns(
        (100 * pl.col("opening_gap") / scale).abs().alias("before"),
        (100 * pl.col("gap") / scale).abs().alias("after"),
    )
    worst_before = rolls.sort("before", descending=True, nulls_last=True).row(0, named=True)
    worst_after = rolls.sort("after", descending=True, nulls_last=True).row(0, named=True)
    spec = builtin_spec(root)
    return (
        root,
        str(rolls.height),
        str(int(rolls["estimated"].sum())),
        f"{spec.max_annual_carry:.0%}" + (", seasonal" if spec.seasonal else ""),
        str(int(rolls["clipped"].sum())),
        f"{worst_before['before']:.2f} ({worst_before['roll_session']})",
        f"{rolls['before'].median():.2f}",
        f"{worst_after['after']:.2f} ({worst_after['roll_session']})",
        f"{rolls['after'].median():.2f}",
        f"{1000 * elapsed:.0f}",
    )


def table(header: tuple[str, ...], rows: list[tuple[str, ...]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--no-write", action="store_true", help="do not update RESULTS.md")
    args = parser.parse_args()
    if not DATA.is_dir():
        print(f"{DATA} is absent: bench_rolls needs the real files; skipped")
        return

    summary = machine_summary()
    loaded = {label: (root, clean_bars(root, f, i)) for label, root, f, i in FEEDS}
    # YM without its index: what the carry bound alone gives on a feed whose truth is known.
    ym_root, ym = loaded["YM + ^DJI"]
    runs = [*loaded.items(), ("YM without ^DJI", (ym_root, feed_only(ym)))]
    results = [measure_feed(label, root, bars) for label, (root, bars) in runs]

    gap_rows = [
        (
            r.label,
            str(r.rolls),
            r.methods,
            f"{r.before_max_pct:.2f} ({r.before_max_session})",
            str(r.before_beyond_bound),
            f"{r.after_max_pct:.2f} ({r.after_max_session})",
            str(r.after_beyond_bound),
            str(r.after_clipped),
            f"{r.series_ms:.0f}",
        )
        for r in results
    ]
    gaps = table(
        (
            "feed",
            "rolls",
            "after: methods",
            "before: max abs gap % (roll)",
            "before: beyond carry bound",
            "after: max abs gap % (roll)",
            "after: beyond carry bound",
            "after: clipped",
            "series + rolls ms",
        ),
        gap_rows,
    )
    errors = table(
        ("feed", "estimate without the index", "rolls", "RMS error % of price", "max error %"),
        [
            row
            for label in ("TF1 + ^RUT", "YM + ^DJI")
            for row in estimate_errors(label, *loaded[label])
        ],
    )
    jumps = table(
        ("feed", "test", "expiries", "expiry close on the old contract", "on the new one"),
        [where_the_jump_sits(label, root, bars) for label, (root, bars) in loaded.items()],
    )
    march = table(
        (
            "feed",
            "rule",
            "roll session",
            "method",
            "gap (points, % of price)",
            "50-day on 20 Mar",
            "50-day on 23 Mar",
            "change",
            "change less the gap",
        ),
        [row for label in ("ES", "YM + ^DJI") for row in march_2020(label, *loaded[label])],
    )
    body = "\n\n".join(
        [
            summary,
            f"- Data: {DATA} (validated with the bar suite; clean rows only). Carry bound: "
            f"{RollParams().max_annual_carry:.0%} of price a year x the years between the two "
            "expiries.",
            "Largest roll gap in % of the old contract's price, before (splice chosen with the "
            "next session, raw opening gap) and after (calendar roll; basis with an index, else "
            "carry_bounded: the mean carry rate of the last 8 rolls, each opening gap clipped to "
            "the carry bound):",
            gaps,
            "How far an estimate without the index is from the basis-measured gap (rolls "
            "measured by the basis):",
            errors,
            "Where the roll sits: on the expiry session E the feed closes on the old contract "
            "(basis on E nearer the session before's, or the larger opening gap into the session "
            "after E) or on the new one:",
            jumps,
            "The March 2020 roll and the published 50-day (v1 snapshots, points of each day's "
            "front contract: across the roll it moves by the market's part plus the gap):",
            march,
        ]
    )
    print(body)
    products = {root: clean_bars(root, name, None) for root, name in PRODUCT_FEEDS}
    switch = table(
        (
            "feed",
            "expiries",
            "median move % on E-1 / E / E+1 / E+2",
            "mean abs opening gap % on E-1 / E / E+1 / E+2",
            "median volume on E-1 / E / E+1",
        ),
        [product_switch(root, bars) for root, bars in products.items()],
    )
    product_table = table(
        (
            "feed",
            "rolls",
            "estimated",
            "carry bound a year",
            "clipped",
            "before: max abs jump % (roll)",
            "before: median %",
            "after: max abs gap % (roll)",
            "after: median %",
            "series + rolls ms",
        ),
        [product_rolls(root, bars) for root, bars in products.items()],
    )
    product_body = "\n\n".join(
        [
            summary,
            f"- Data: {DATA} (validated with the bar suite; clean rows only). No cash index: "
            "every roll is carry_bounded (estimated, flagged so): the mean carry rate of the "
            "last 8 rolls (seasonal roots: of the same pair of months), each roll's opening gap "
            "clipped to the root's carry bound (roots.toml max_annual_carry).",
            "Where each feed switches contract around a last trading day E (E+1: the first "
            "session after it; the calendar spread shows as a signed median move and a larger "
            "opening gap where the feed switches; the volume on E is already the next "
            "contract's, the close still the expiring one's: CLK20 settled 10.01 on E):",
            switch,
            "Largest roll gap before the roll handling (the unadjusted feed's jump: the roll "
            "session's opening gap) and after it (the gap the continuous series removes), % of "
            "the old contract's last close before its expiry session (the new one's where that "
            "is at or below zero: CLK20, -37.63):",
            product_table,
        ]
    )
    print(product_body)
    if not args.no_write:
        update_section("Rolls of front-month feeds", body)
        update_section("Rolls of the energy, metal, Treasury and grain feeds", product_body)


if __name__ == "__main__":
    main()
