"""The bar quality rules: names, severities, parameters and the polars columns each rule needs.

Validation has two halves. This module *computes*: from a batch's canonical bars (and the stored
bars before it) it derives one frame with, per batch row, the inputs every rule checks, a failure
mask per rule and a human sentence per failure. :mod:`pipeline.quality.suite` *checks and
records*: a Great Expectations suite runs over those columns and its unexpected row indices become
the findings. Nothing here imports Great Expectations or reads the clock (``fetched_at`` and
``window_end`` are parameters).

Scope and precedence, decided once so every rule agrees:

* Batch-level rules (``batch.not_empty``, ``schema.required_columns``, ``schema.column_types``)
  reject the whole batch; no row rule runs.
* ``session.final`` applies only to rows whose date passed the date rules (parsed, a trade date,
  not in the future). Such a row whose session had not closed when fetched is *deferred*: its
  values are provisional, so the value rules are not evaluated on it (a half-day bar would always
  look "partial"); it is neither loaded nor quarantined and is fetched again.
* The stateless value rules (prices, OHLC bounds, volume sign, duplicate keys, zero volume) run on
  every row that is not deferred, including rows with a bad date, so a row's findings are complete.
* An exact copy of an earlier row (every column equal, dated, not deferred) is reported by
  ``key.unique`` ("duplicate of row i") and by no other rule: validation sets copies aside first
  (:func:`exact_copies`), so a file of one row repeated 400,000 times costs the rules one row,
  and the copy's other findings would be its original's, which are recorded.
* The sequential rules (``price.jump``, ``range.partial``, ``volume.repeated``) walk, per contract
  and in session order, only the rows that passed every stateless rule, after the stored
  ``context`` bars. The walk keeps the previous close, previous volume and a Wilder ATR of the
  rows that *loaded* so far: a quarantined bar never enters that state. So a 10x spike is
  quarantined, the ATR is not poisoned by it, and the bar after it is compared with the last good
  close (it is not flagged as a "jump back"). The price of this choice: a genuine level shift
  larger than ``k`` ATR would quarantine every later bar until a person looks, which is why ``k``
  sits well above the largest real daily move (see ``QualityParams``).
"""

from __future__ import annotations

import functools
import operator
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, Literal

import polars as pl

from pipeline.market.calendar import (
    EQUITY,
    ET,
    SESSION_END_ET,
    CalendarRangeError,
    TradingCalendar,
    session_end,
)
from pipeline.market.contracts import (
    contract_root,
    first_expiring_on_or_after,
    is_index_symbol,
    listing_problem,
    parse_contract,
)
from pipeline.market.roots import RootSpec, builtin_spec
from pipeline.schema import BAR_COLUMNS, BAR_SCHEMA, PRICE_COLUMNS
from pipeline.text import excerpt_expr

SUITE_NAME = "callbook.bars"
#: Bump when a rule, its scope or a default parameter changes: results record the version.
SUITE_VERSION = "1.3.0"  # 1.3.0: session.before_window

#: A vendor continuous symbol ("ES=F") ends with this; its bars jump at every roll.
CONTINUOUS_SUFFIX = "=F"
#: A vendor's float32 price (1408.699951171875 for 1408.70) is off its tick by up to half a
#: float32 step, 2^-24 of the price; prices within 2^-22 of the price from a tick multiple are on
#: the grid (a genuine off-grid price, 1408.60 on a 0.25 tick, misses by 0.10).
FLOAT32_RELATIVE_TOLERANCE = 2.0**-22
#: ... or within this fraction of a tick: vendors that wrote prices to four decimals put ZN's
#: 100 3/32 (100.09375) at 100.0938, 0.3 % of its 1/64 tick away (ZN=F 2000-2003).
TICK_TOLERANCE = 0.02


@dataclass(frozen=True)
class QualityParams:
    """Every number the row rules use, with its unit.

    ``jump_atr_multiple`` (k = 8): on the real ES=F file (2000-09 .. 2026-02, Wilder ATR(14) of
    the prior sessions, roll sessions excepted) the largest close-to-close move is 5.43 ATR
    (2007-02-27), then 5.31 (2018-02-05) and 4.41 (2018-10-10); the 2008 and 2020 crash days stay
    under 3.1 ATR (2020-02-24: 3.01, 2008-09-29: 2.51) because ATR rises with volatility. NQ=F
    peaks at 3.99 (2016-06-24). k = 8 leaves a 1.5x margin over the worst real day while a
    decimal-shift or 100x bar (tens to thousands of ATR) is caught.

    ``jump_fallback_fraction`` (25 %): used before ``atr_window`` true ranges exist. The largest
    daily close move on ES=F is 14.1 %, on NQ=F 16.7 %.

    ``partial_range_atr`` (p = 0.15): the ES=F partial bar of 2025-08-11 spans 0.105 ATR (range
    7.25 vs ATR 69.2) and the NQ=F one 0.109 ATR; the narrowest genuine full sessions are
    2008-12-26 (0.217 ATR) and the expiry Friday 2024-09-20 (0.223; NQ=F 2010-06-18: 0.192).
    0.15 sits between the two groups. Early-close sessions are not checked (their ranges go down
    to 0.18 ATR legitimately).
    """

    atr_window: int = 14  # sessions in the Wilder ATR (seeded with the mean of the first 14 TRs)
    jump_atr_multiple: float = 8.0  # k: |close - previous close| above k x ATR is a jump
    jump_fallback_fraction: float = 0.25  # fraction of the previous close, while no ATR exists
    partial_range_atr: float = 0.15  # p: high - low below p x ATR is a partial bar
    roll_window_sessions: int = 1  # expiry exception: sessions either side of a last trade day
    #: volume.plausible: most contracts one session can trade. The largest real session in
    #: ../shared/data is 6,285,917 (ES=F), the demo's 7,621,951; 100 million is 13x that.
    max_volume: int = 100_000_000
    #: A thin session: fewer contracts than this traded (GC=F's spot month and ZC=F's electronic
    #: session before side-by-side trading in August 2006: a median of 18 to 2,000 a day, ZN=F's
    #: expiring contract in the weeks before its last trade), ...
    thin_session_volume: int = 5_000
    #: ... and at least this fraction of the median volume of the contract's previous
    #: ``volume_median_sessions`` rows: a thin *market*, not a bar cut short. The updater's
    #: partial bars of 2025-08-11 traded 0.2-0.6 % of their usual volume (CL=F 516 of a median
    #: 263,619, YM=F 426 of 76,906, ES=F 3,856 of 1,187,728); GC=F's thin sessions 3 % and more.
    #: A thin session's open and settlement may lie outside the range of its few trades (the
    #: exchange settles it from the active month: ohlc.settlement_outside_range, named and kept),
    #: its range is no partial bar's, and its ATR understates the market's moves (price.jump
    #: judged by jump_fallback_fraction instead).
    thin_relative_volume: float = 0.01
    volume_median_sessions: int = 60


RuleSeverity = Literal["batch", "error", "deferred", "warning"]


@dataclass(frozen=True)
class Rule:
    """One named rule. ``severity`` "batch" rejects the whole batch; the others are per row."""

    name: str
    severity: RuleSeverity
    description: str


BATCH_NOT_EMPTY = "batch.not_empty"
SCHEMA_REQUIRED_COLUMNS = "schema.required_columns"
SCHEMA_COLUMN_TYPES = "schema.column_types"
PRICE_NOT_NULL = "price.not_null"
PRICE_POSITIVE = "price.positive"
OHLC_LOW_BOUND = "ohlc.low_bound"
OHLC_HIGH_BOUND = "ohlc.high_bound"
OHLC_INVERTED = "ohlc.inverted"
OHLC_SETTLEMENT_OUTSIDE = "ohlc.settlement_outside_range"
PRICE_TICK_GRID = "price.tick_grid"
BAR_SETTLEMENT_ONLY = "bar.settlement_only"
VOLUME_NON_NEGATIVE = "volume.non_negative"
SESSION_PARSED = "session.parsed"
SESSION_TRADE_DATE = "session.trade_date"
SESSION_NOT_FUTURE = "session.not_future"
SESSION_BEFORE_WINDOW = "session.before_window"
KEY_UNIQUE = "key.unique"
PRICE_JUMP = "price.jump"
RANGE_PARTIAL = "range.partial"
SESSION_FINAL = "session.final"
VOLUME_ZERO = "volume.zero"
VOLUME_REPEATED = "volume.repeated"
ROWS_OUT_OF_ORDER = "rows.out_of_order"
PRICE_PLAUSIBLE = "price.plausible"
VOLUME_PLAUSIBLE = "volume.plausible"
CONTRACT_LISTED = "contract.listed"

RULES: tuple[Rule, ...] = (
    Rule(BATCH_NOT_EMPTY, "batch", "the batch has at least one row"),
    Rule(SCHEMA_REQUIRED_COLUMNS, "batch", "every BAR_SCHEMA column but open_interest is present"),
    Rule(SCHEMA_COLUMN_TYPES, "batch", "each price column has at least one numeric cell"),
    Rule(SESSION_PARSED, "error", "session_date is present and parses as a date"),
    Rule(SESSION_TRADE_DATE, "error", "session_date is a trade date of the root's calendar"),
    Rule(SESSION_NOT_FUTURE, "error", "session_date is not after window_end or the fetch date"),
    Rule(
        SESSION_BEFORE_WINDOW,
        "error",
        "session_date is not before window_start (`ingest --start`: the first session asked "
        "for); the row stays in the landed batch, is named and is not loaded",
    ),
    Rule(PRICE_NOT_NULL, "error", "open, high, low and close are numbers (not null, not NaN)"),
    Rule(
        PRICE_POSITIVE,
        "error",
        "every price is > 0, unless the root's prices can fall to or below zero (its "
        "price_range starts at or below 0: CL)",
    ),
    Rule(
        PRICE_PLAUSIBLE,
        "error",
        "every price lies in the root's plausible range (RootSpec.price_range; not inf)",
    ),
    Rule(
        VOLUME_PLAUSIBLE,
        "error",
        "volume and open interest are empty or whole numbers of contracts up to max_volume "
        "(a cell that does not convert is reported, never stored as null); not on index rows",
    ),
    Rule(
        CONTRACT_LISTED,
        "error",
        "the contract is one of the root's contracts listed on the session, its continuous "
        "symbol or its cash index",
    ),
    Rule(OHLC_INVERTED, "error", "high >= low (a bar whose high is below its low is inverted)"),
    Rule(
        OHLC_LOW_BOUND,
        "error",
        "low <= min(open, close) (a thin session's close outside the range: see "
        "ohlc.settlement_outside_range)",
    ),
    Rule(OHLC_HIGH_BOUND, "error", "high >= max(open, close) (likewise)"),
    Rule(VOLUME_NON_NEGATIVE, "error", "volume >= 0"),
    Rule(KEY_UNIQUE, "error", "one row per (contract, session_date)"),
    Rule(
        PRICE_JUMP,
        "error",
        "|close - previous close| <= k ATR (before an ATR exists: a fraction of it); not "
        "within roll_window_sessions of the contract's (or a front-month feed's) last trade day",
    ),
    Rule(
        RANGE_PARTIAL,
        "error",
        "high - low >= p ATR on a full-length session (not on a settlement-only record)",
    ),
    Rule(SESSION_FINAL, "deferred", "the session had closed (17:00 ET) when the batch was fetched"),
    Rule(VOLUME_ZERO, "warning", "volume is not 0"),
    Rule(
        BAR_SETTLEMENT_ONLY,
        "warning",
        "not open = high = low = close (a settlement-only record, as vendors kept for quiet "
        "sessions, with zero volume or the day's volume beside it: it loads as the session's "
        "settlement; no partial-range check, jumps judged by the fallback fraction)",
    ),
    Rule(
        OHLC_SETTLEMENT_OUTSIDE,
        "warning",
        "on a thin session (QualityParams.thin_session_volume) the open or the close (the "
        "exchange's settlement, set from the active month) lies outside the range of its few "
        "trades: named, kept",
    ),
    Rule(
        PRICE_TICK_GRID,
        "warning",
        "every price is a multiple of the root's tick, within float32 precision (2^-22 of the "
        "price)",
    ),
    Rule(VOLUME_REPEATED, "warning", "volume differs from the previous session's volume"),
    Rule(ROWS_OUT_OF_ORDER, "warning", "each contract's rows come in session order"),
)
RULES_BY_NAME: dict[str, Rule] = {r.name: r for r in RULES}
BATCH_RULES: tuple[Rule, ...] = tuple(r for r in RULES if r.severity == "batch")
ROW_RULES: tuple[Rule, ...] = tuple(r for r in RULES if r.severity != "batch")

#: The columns a batch must have (the same list conform_bars enforces).
REQUIRED_COLUMNS: tuple[str, ...] = tuple(c for c in BAR_COLUMNS if c != "open_interest")
KEY_COLUMNS: tuple[str, ...] = ("contract", "session_date")
#: Row indices a conflicting-duplicate finding lists (the rest are counted).
LISTED_DUPLICATES = 5

#: Column-name prefixes in the frame ``derive_checks`` returns.
FAILS = "fails:"  # bool: True where the rule reports the row
DETAIL = "detail:"  # str: the finding's sentence (null where the rule does not fail)


def fails(rule: str) -> str:
    return FAILS + rule


def detail(rule: str) -> str:
    return DETAIL + rule


# --------------------------------------------------------------------------------------------
# Batch-level helpers


def missing_required_columns(frame: pl.DataFrame) -> list[str]:
    """Required canonical columns absent from ``frame``.

    >>> missing_required_columns(pl.DataFrame({"root": ["ES"], "close": [1.0]}))
    ['contract', 'session_date', 'open', 'high', 'low', 'volume']
    """
    return [c for c in REQUIRED_COLUMNS if c not in frame.columns]


def cast_price_columns(frame: pl.DataFrame) -> pl.DataFrame:
    """``frame`` with each price column it has cast to Float64 (cells that do not parse: null)."""
    return frame.with_columns(
        pl.col(c).cast(pl.Float64, strict=False) for c in PRICE_COLUMNS if c in frame.columns
    )


def unparseable_price_columns(frame: pl.DataFrame) -> list[str]:
    """Price columns of a non-empty ``frame`` in which no cell is a number (null or NaN).

    >>> unparseable_price_columns(pl.DataFrame({"open": ["1.5", "x"], "close": ["n/a", None]}))
    ['close']
    """
    if frame.height == 0:
        return []
    cast = cast_price_columns(frame)
    return [
        c
        for c in PRICE_COLUMNS
        if c in cast.columns and cast[c].fill_nan(None).null_count() == cast.height
    ]


# --------------------------------------------------------------------------------------------
# Calendar lookups (Python calendar functions evaluated once per distinct date)


def _by_date(
    dates: pl.Series, fn: Callable[[date], Any], dtype: pl.DataType, name: str
) -> pl.DataFrame:
    """``session_date -> fn(session_date)`` for each distinct non-null date, for a join."""
    distinct = dates.drop_nulls().unique().to_list()
    return pl.DataFrame(
        {"session_date": distinct, name: [fn(d) for d in distinct]},
        schema={"session_date": pl.Date(), name: dtype},
    )


def _trade_date_status(calendar: TradingCalendar) -> Callable[[date], str]:
    """Classify a date: "trade date", "weekend", "holiday" or "outside the CME calendar"."""

    def status(d: date) -> str:
        try:
            if calendar.is_trade_date(d):
                return "trade date"
        except CalendarRangeError:
            return "outside the CME calendar"
        return "weekend" if d.weekday() >= 5 else "holiday"

    return status


def near_expiry(spec: RootSpec, contract: str | None, d: date, *, sessions: int) -> bool:
    """True if trade date ``d`` is within ``sessions`` sessions of a last trade day of the bar's
    contract: for a front-month feed (``ES=F``) the expiry of any contract it walks through (the
    feed switches contract there, so its close jumps by the calendar spread), for a single
    contract its own expiry (an expiring contract can squeeze: CLK20 settled at -37.63 the day
    before its last trade). Cash index rows and codes of other roots: False.

    >>> es = builtin_spec("ES")
    >>> [near_expiry(es, "ES=F", date(2026, 3, d), sessions=1) for d in (18, 19, 20, 23, 24)]
    [False, True, True, True, False]
    >>> cl = builtin_spec("CL")
    >>> [near_expiry(cl, "CLK20", date(2020, 4, d), sessions=1) for d in (16, 17, 20, 21)]
    [False, False, True, True]
    """
    if contract is None or is_index_symbol(contract):
        return False
    cal = spec.trading_calendar
    if contract.endswith(CONTINUOUS_SUFFIX):
        current = first_expiring_on_or_after(spec, d)
        before = first_expiring_on_or_after(spec, cal.previous_trade_date(d))
        expiries = {current.expiry, before.expiry}
    else:
        if contract_root(contract) != spec.root:
            return False
        try:
            expiries = {parse_contract(contract, spec).expiry}
        except ValueError:
            return False
    return any(cal.sessions_between(min(d, e), max(d, e)) <= sessions for e in expiries)


# --------------------------------------------------------------------------------------------
# Stateless rules


def _fmt(expr: pl.Expr) -> pl.Expr:
    """A number as text, shortest round-trip form (6400.5, 3856)."""
    return expr.cast(pl.String)


def _fmt2(expr: pl.Expr) -> pl.Expr:
    """A derived amount (ATR, a move, a range) as text with two decimals."""
    return expr.round(2).cast(pl.String)


def _fmt_bound(expr: pl.Expr) -> pl.Expr:
    """A plausible-range bound: whole when it is one (200000), else as given (0.002)."""
    return (
        pl.when(expr == expr.round(0))
        .then(expr.round(0).cast(pl.Int64).cast(pl.String))
        .otherwise(expr.cast(pl.String))
    )


def _fmt3(expr: pl.Expr) -> pl.Expr:
    """A ratio to a threshold (ATR multiples) with three decimals, so 0.148 < 0.15 reads true."""
    return expr.round(3).cast(pl.String)


def session_checks(
    bars: pl.DataFrame,
    *,
    window_end: date,
    fetched_at: datetime,
    window_start: date | None = None,
    calendar: TradingCalendar = EQUITY,
) -> pl.DataFrame:
    """Date rules and the deferral flag, one row per bar (aligned with ``bars``).

    Adds ``is_trade_date``, ``not_future`` and ``in_window`` (null when the date is null;
    ``in_window`` is True on every dated row when ``window_start`` is None), ``session_final``
    (null unless the date passed the four date rules), ``deferred`` (never null), the failure
    masks and details of ``session.parsed/trade_date/not_future/before_window/final``.
    ``fetched_at`` must be timezone-aware; "the fetch date" is its calendar date in New York.
    ``calendar``: the root's trade-date calendar (a bar on one of its holidays fails
    ``session.trade_date``).

    >>> days = pl.DataFrame({"session_date": [date(2026, 2, 19), date(2026, 2, 20), date(2026, 2, 21)]})
    >>> out = session_checks(days, window_end=date(2026, 2, 20),
    ...                      fetched_at=datetime(2026, 2, 20, 15, 0, tzinfo=ET))
    >>> out.select("is_trade_date", "session_final", "deferred").rows()  # Thu, Fri 15:00 ET, Sat
    [(True, True, False), (True, False, True), (False, None, False)]
    """
    if fetched_at.tzinfo is None:
        raise ValueError(f"fetched_at must be timezone-aware, got {fetched_at!r}")
    fetched_et = fetched_at.astimezone(ET)
    fetch_date = fetched_et.date()
    latest_allowed = min(window_end, fetch_date)
    status = _by_date(bars["session_date"], _trade_date_status(calendar), pl.String(), "_status")
    final = _by_date(
        bars["session_date"], lambda d: fetched_at >= session_end(d), pl.Boolean(), "_final"
    )
    d = pl.col("session_date")
    date_ok = pl.col("is_trade_date") & pl.col("not_future") & pl.col("in_window")
    end_text = f" {SESSION_END_ET:%H:%M} ET"
    return (
        bars.select("session_date")
        .join(status, on="session_date", how="left", maintain_order="left")
        .join(final, on="session_date", how="left", maintain_order="left")
        .with_columns(
            is_trade_date=pl.col("_status") == "trade date",
            not_future=d <= latest_allowed,
            in_window=pl.when(d.is_not_null()).then(True)
            if window_start is None
            else d >= window_start,
        )
        .with_columns(session_final=pl.when(date_ok).then(pl.col("_final")))
        .with_columns(deferred=pl.col("session_final").not_().fill_null(False))
        .with_columns(
            pl.col("session_date").is_null().alias(fails(SESSION_PARSED)),
            (~pl.col("is_trade_date")).fill_null(False).alias(fails(SESSION_TRADE_DATE)),
            (~pl.col("not_future")).fill_null(False).alias(fails(SESSION_NOT_FUTURE)),
            (~pl.col("in_window")).fill_null(False).alias(fails(SESSION_BEFORE_WINDOW)),
            pl.col("deferred").alias(fails(SESSION_FINAL)),
        )
        .with_columns(
            pl.when(pl.col(fails(SESSION_PARSED)))
            .then(pl.lit("session_date is missing or not a YYYY-MM-DD date"))
            .alias(detail(SESSION_PARSED)),
            pl.when(pl.col(fails(SESSION_TRADE_DATE)))
            .then(
                pl.format(
                    "{} ({}) is not a CME trade date ({})",
                    d,
                    d.dt.strftime("%A"),
                    pl.col("_status"),
                )
            )
            .alias(detail(SESSION_TRADE_DATE)),
            pl.when(pl.col(fails(SESSION_NOT_FUTURE)))
            .then(
                pl.when(d > window_end)
                .then(pl.format("session {} is after the window end {}", d, pl.lit(window_end)))
                .otherwise(
                    pl.format("session {} is after the fetch date {} (ET)", d, pl.lit(fetch_date))
                )
            )
            .alias(detail(SESSION_NOT_FUTURE)),
            pl.when(pl.col(fails(SESSION_BEFORE_WINDOW)))
            .then(
                pl.format(
                    "session {} is before the window start {} (not asked for: not loaded)",
                    d,
                    pl.lit(window_start),
                )
            )
            .alias(detail(SESSION_BEFORE_WINDOW)),
            pl.when(pl.col(fails(SESSION_FINAL)))
            .then(
                pl.format(
                    "session {} ends {}{}; the batch was fetched {} ET",
                    d,
                    d,
                    pl.lit(end_text),
                    pl.lit(f"{fetched_et:%Y-%m-%d %H:%M}"),
                )
            )
            .alias(detail(SESSION_FINAL)),
        )
        .drop("session_date", "_status", "_final")
    )


def value_checks(
    bars: pl.DataFrame, *, allows_negative: bool = False, thin: pl.Series | None = None
) -> pl.DataFrame:
    """Price and volume rules that need one row only, aligned with ``bars``.

    Adds the derived inputs ``lowest_price`` (min of the four prices, nulls and NaN ignored),
    ``body_low`` = min(open, close) and ``body_high`` = max(open, close) (null if either is
    missing or the settlement lies apart, below), ``price_sign_ok`` and ``settles_inside`` (null
    without a price) and the masks/details of
    ``price.not_null``, ``price.positive`` (never failing where ``allows_negative``: a root whose
    prices can fall to or below zero), ``ohlc.inverted``, ``ohlc.low_bound``, ``ohlc.high_bound``,
    ``volume.non_negative``, ``volume.zero`` and ``ohlc.settlement_outside_range``: on a thin
    session (``thin``, aligned with ``bars``: :func:`thin_sessions`; None: none is) an open or
    close outside the traded range is that rule's warning, not a bound's error. Null prices fail
    only ``price.not_null``; comparisons with a null are not failures.

    >>> bars = pl.DataFrame({"open": [10.0, 10.0, -5.0], "high": [11.0, 9.5, -1.0],
    ...     "low": [9.0, 9.0, -8.0], "close": [10.5, 9.8, -2.0], "volume": [5, 0, 7]})
    >>> out = value_checks(bars)
    >>> out.select("body_high", "fails:ohlc.high_bound", "fails:volume.zero").rows()
    [(10.5, False, False), (10.0, True, True), (-2.0, False, False)]
    >>> out["fails:price.positive"].to_list(), value_checks(bars, allows_negative=True)["fails:price.positive"].to_list()
    ([False, False, True], [False, False, False])
    """
    o, h, lo, c, v = (pl.col(x) for x in ("open", "high", "low", "close", "volume"))
    missing = [pl.col(x).is_null() | pl.col(x).is_nan() for x in PRICE_COLUMNS]
    missing_names = pl.concat_list(
        pl.when(m).then(pl.lit(x)) for m, x in zip(missing, PRICE_COLUMNS, strict=True)
    ).list.drop_nulls()
    non_positive_names = pl.concat_list(
        pl.when((pl.col(x) <= 0) & pl.lit(not allows_negative)).then(
            pl.format("{} {}", pl.lit(x), _fmt(pl.col(x)))
        )
        for x in PRICE_COLUMNS
    ).list.drop_nulls()
    frame = bars.select(
        *(pl.col(x).fill_nan(None) for x in PRICE_COLUMNS),
        v,
        missing_names.alias("_missing"),
        non_positive_names.alias("_non_positive"),
        (thin if thin is not None else pl.repeat(False, bars.height, eager=True)).alias("_thin"),
    )
    inverted = lo > h
    outside = (o > h) | (o < lo) | (c > h) | (c < lo)
    apart = (pl.col("_thin").fill_null(False) & outside & ~inverted).fill_null(False)
    low_above_body = (pl.col("low") > pl.col("body_low")) & ~apart
    # The body of a thin session whose settlement lies apart is not held to the range (null:
    # the bound rules, here and in the suite, skip it).
    body = o.is_not_null() & c.is_not_null() & ~apart
    return frame.with_columns(
        lowest_price=pl.min_horizontal(*(pl.col(x) for x in PRICE_COLUMNS)),
        body_low=pl.when(body).then(pl.min_horizontal(o, c)),
        body_high=pl.when(body).then(pl.max_horizontal(o, c)),
    ).select(
        "lowest_price",
        "body_low",
        "body_high",
        pl.when(pl.col("lowest_price").is_not_null())
        .then(pl.col("_non_positive").list.len() == 0)
        .alias("price_sign_ok"),
        pl.when(pl.col("lowest_price").is_not_null()).then(~apart).alias("settles_inside"),
        (pl.col("_missing").list.len() > 0).alias(fails(PRICE_NOT_NULL)),
        pl.when(pl.col("_missing").list.len() > 0)
        .then(
            pl.format("{} not a number (missing, text or NaN)", pl.col("_missing").list.join(", "))
        )
        .alias(detail(PRICE_NOT_NULL)),
        (pl.col("_non_positive").list.len() > 0).alias(fails(PRICE_POSITIVE)),
        pl.when(pl.col("_non_positive").list.len() > 0)
        .then(pl.format("{} <= 0", pl.col("_non_positive").list.join(", ")))
        .alias(detail(PRICE_POSITIVE)),
        inverted.fill_null(False).alias(fails(OHLC_INVERTED)),
        pl.when(inverted)
        .then(pl.format("high {} < low {}", _fmt(h), _fmt(lo)))
        .alias(detail(OHLC_INVERTED)),
        low_above_body.fill_null(False).alias(fails(OHLC_LOW_BOUND)),
        pl.when(low_above_body)
        .then(pl.format("low {} > min(open {}, close {})", _fmt(lo), _fmt(o), _fmt(c)))
        .alias(detail(OHLC_LOW_BOUND)),
        ((h < pl.col("body_high")) & ~apart).fill_null(False).alias(fails(OHLC_HIGH_BOUND)),
        pl.when((h < pl.col("body_high")) & ~apart)
        .then(pl.format("high {} < max(open {}, close {})", _fmt(h), _fmt(o), _fmt(c)))
        .alias(detail(OHLC_HIGH_BOUND)),
        apart.alias(fails(OHLC_SETTLEMENT_OUTSIDE)),
        pl.when(apart)
        .then(
            pl.format(
                "open {}, close {}: outside the traded range {} .. {} of a thin session "
                "(volume {})",
                _fmt(o),
                _fmt(c),
                _fmt(lo),
                _fmt(h),
                v,
            )
        )
        .alias(detail(OHLC_SETTLEMENT_OUTSIDE)),
        (v < 0).fill_null(False).alias(fails(VOLUME_NON_NEGATIVE)),
        pl.when(v < 0).then(pl.format("volume {} < 0", _fmt(v))).alias(detail(VOLUME_NON_NEGATIVE)),
        (v == 0).fill_null(False).alias(fails(VOLUME_ZERO)),
        pl.when(v == 0).then(pl.lit("volume 0")).alias(detail(VOLUME_ZERO)),
    )


def product_checks(
    bars: pl.DataFrame, *, spec: RootSpec, params: QualityParams | None = None
) -> pl.DataFrame:
    """The rules a root's own contract facts define, aligned with ``bars``: ``price.tick_grid``
    (every price a multiple of the root's tick, within ``FLOAT32_RELATIVE_TOLERANCE`` of the
    price or ``TICK_TOLERANCE`` of a tick; cash index rows are not futures prices and are not
    checked) and ``bar.settlement_only`` (open = high = low = close). Adds ``on_tick_grid`` and
    ``full_bar`` (null where a rule does not apply) and ``settlement_only`` (never null).

    >>> bars = pl.DataFrame({"contract": ["ZCH05", "ZCH05", "^X"], "open": [200.0, 201.0, 1.3],
    ...     "high": [200.0, 202.5, 1.3], "low": [200.0, 200.1, 1.3], "close": [200.0, 201.75, 1.3],
    ...     "volume": [0, 10, None]})
    >>> out = product_checks(bars, spec=builtin_spec("ZC"))
    >>> out.select("on_tick_grid", "settlement_only").rows()
    [(True, True), (False, False), (None, False)]
    >>> out["detail:price.tick_grid"][1]
    'low 200.1 is not a multiple of the tick 0.25 (nearest 200.0 or 200.25)'
    """
    params = params or QualityParams()
    tick = spec.tick
    index_row = pl.col("contract").str.starts_with("^").fill_null(False)
    off = []
    for x in PRICE_COLUMNS:
        price = pl.col(x).fill_nan(None)
        steps = price / tick
        nearest = steps.round(0) * tick
        tolerance = pl.max_horizontal(
            price.abs() * FLOAT32_RELATIVE_TOLERANCE, pl.lit(tick * TICK_TOLERANCE)
        )
        miss = (price - nearest).abs() > tolerance
        lower = (steps.floor() * tick).round(9)
        off.append(
            pl.when(miss & ~index_row).then(
                pl.format(
                    "{} {} is not a multiple of the tick {} (nearest {} or {})",
                    pl.lit(x),
                    _fmt(price),
                    pl.lit(repr(tick)),
                    _fmt(lower),
                    _fmt((lower + tick).round(9)),
                )
            )
        )
    has_price = pl.any_horizontal(pl.col(x).fill_nan(None).is_not_null() for x in PRICE_COLUMNS)
    flat = (
        (pl.col("open") == pl.col("high"))
        & (pl.col("high") == pl.col("low"))
        & (pl.col("low") == pl.col("close"))
    )
    settlement_only = flat.fill_null(False) & ~index_row
    return bars.select(
        pl.concat_list(off).list.drop_nulls().alias("_off"),
        has_price.alias("_has_price"),
        index_row.alias("_index"),
        settlement_only.alias("settlement_only"),
        pl.col("volume"),
        pl.col("close"),
    ).select(
        pl.when(pl.col("_has_price") & ~pl.col("_index"))
        .then(pl.col("_off").list.len() == 0)
        .alias("on_tick_grid"),
        pl.when(pl.col("_has_price")).then(~pl.col("settlement_only")).alias("full_bar"),
        "settlement_only",
        (pl.col("_off").list.len() > 0).alias(fails(PRICE_TICK_GRID)),
        pl.when(pl.col("_off").list.len() > 0)
        .then(pl.col("_off").list.join("; "))
        .alias(detail(PRICE_TICK_GRID)),
        pl.col("settlement_only").alias(fails(BAR_SETTLEMENT_ONLY)),
        pl.when(pl.col("settlement_only"))
        .then(
            pl.format(
                "open = high = low = close = {} (volume {}): a settlement-only record",
                _fmt(pl.col("close")),
                pl.col("volume").cast(pl.String).fill_null("missing"),
            )
        )
        .alias(detail(BAR_SETTLEMENT_ONLY)),
    )


#: Raw cells that mean "no value" rather than a value that failed to convert.
NULL_MARKERS: tuple[str, ...] = ("", "null", "none", "nan", "n/a", "na", "-")
#: Integer columns whose raw cells are checked for values that did not convert.
COUNT_COLUMNS: tuple[str, ...] = ("volume", "open_interest")


def plausibility_checks(
    bars: pl.DataFrame,
    *,
    raw_cells: pl.DataFrame | None = None,
    params: QualityParams,
    spec: RootSpec | None = None,
) -> pl.DataFrame:
    """``price.plausible``, ``volume.plausible`` and ``contract.listed``, aligned with ``bars``.

    ``raw_cells`` (aligned with ``bars``, optional) holds the text of the volume and open
    interest cells as the vendor sent them: a cell that is not a null marker but is null in
    ``bars`` did not convert (text, 1e30 ...) and is reported instead of being stored as null.
    Adds ``price_plausible``, ``volume_plausible`` and ``contract_listed``, the inputs the suite
    checks (null where a rule does not apply: no price at all, a cash index row's volume, which
    counts shares). Each distinct (root, contract, session) is judged once by
    :func:`pipeline.market.contracts.listing_problem`. ``spec``: the batch root's contract facts
    (None: the built-in registry's entry of the rows' root); rows of another root fail
    ``contract.listed`` and ``price.plausible`` (no range is known for them).

    >>> bars = pl.DataFrame({"root": "ES", "contract": ["ESH26", "ESX26", "ESH26"],
    ...     "session_date": [date(2026, 2, 4)] * 3, "open": [6800.0, 6800.0, 1e300],
    ...     "high": [6810.0, 6810.0, 1e300], "low": [6790.0, 6790.0, 1e300],
    ...     "close": [6805.0, 6805.0, 1e300], "volume": [1000, 1000, None], "open_interest": None})
    >>> raw = pl.DataFrame({"volume": ["1000", "1000", "1e30"]})
    >>> out = plausibility_checks(bars, raw_cells=raw, params=QualityParams())
    >>> out.select("price_plausible", "volume_plausible", "contract_listed").rows()
    [(True, True, True), (True, True, False), (False, False, True)]
    >>> out["detail:volume.plausible"][2]
    "volume cell '1e30' is not a whole number of contracts"
    >>> out["detail:price.plausible"][2]
    'open 1e+300, high 1e+300, low 1e+300, close 1e+300 outside the plausible range for ES (300 .. 200000 index points)'
    """
    keys = bars.select("root", "contract", "session_date").unique()
    if spec is None and keys.height:
        first = keys["root"].drop_nulls()
        spec = builtin_spec(first[0]) if first.len() else None
    specs = {spec.root: spec} if spec is not None else {}
    keys = keys.with_columns(
        pl.Series(
            "_listing",
            [listing_problem(specs.get(r), r, c, d) for r, c, d in keys.iter_rows()],
            dtype=pl.String,
        ),
        pl.Series(
            "_index",
            [code is not None and is_index_symbol(code) for code in keys["contract"]],
            dtype=pl.Boolean,
        ),
        pl.Series(
            "_lo",
            [specs[r].price_range[0] if r in specs else None for r in keys["root"]],
            dtype=pl.Float64,
        ),
        pl.Series(
            "_hi",
            [specs[r].price_range[1] if r in specs else None for r in keys["root"]],
            dtype=pl.Float64,
        ),
    )
    on = ["root", "contract", "session_date"]
    frame = bars.join(keys, on=on, how="left", maintain_order="left", nulls_equal=True)
    cells = raw_cells if raw_cells is not None else pl.DataFrame()
    frame = frame.with_columns(
        (cells[c].cast(pl.String) if c in cells.columns else pl.lit(None, dtype=pl.String)).alias(
            f"_raw_{c}"
        )
        for c in COUNT_COLUMNS
    )

    prices = [pl.col(c).fill_nan(None) for c in PRICE_COLUMNS]
    lo, hi = pl.col("_lo"), pl.col("_hi")
    outside = pl.concat_list(
        pl.when((price < lo) | (price > hi) | lo.is_null()).then(
            pl.format("{} {}", pl.lit(name), _fmt(price))
        )
        for name, price in zip(PRICE_COLUMNS, prices, strict=True)
    ).list.drop_nulls()
    frame = frame.with_columns(outside.alias("_outside"))
    price_bad = pl.col("_outside").list.len() > 0

    def unconverted(column: str) -> pl.Expr:
        text = pl.col(f"_raw_{column}").str.strip_chars().str.to_lowercase()
        return (text.is_not_null() & ~text.is_in(NULL_MARKERS) & pl.col(column).is_null()).alias(
            f"_unconverted_{column}"
        )

    frame = frame.with_columns(unconverted(c) for c in COUNT_COLUMNS)
    limit = pl.lit(f"{params.max_volume:,}")
    count_failures = [
        (
            pl.col(f"_unconverted_{c}"),
            pl.format(
                "{} cell {} is not a whole number of contracts",
                pl.lit(c.replace("_", " ")),
                excerpt_expr(pl.col(f"_raw_{c}")),
            ),
        )
        for c in COUNT_COLUMNS
    ] + [
        (
            (pl.col(c) > params.max_volume).fill_null(False),
            pl.format(
                "{} {} > {} contracts, the most one session can trade",
                pl.lit(c.replace("_", " ")),
                pl.col(c),
                limit,
            ),
        )
        for c in COUNT_COLUMNS
    ]
    volume_bad = ~pl.col("_index") & pl.any_horizontal(bad for bad, _ in count_failures)
    volume_detail: Any = pl
    for bad, text in count_failures:
        volume_detail = volume_detail.when(bad).then(text)
    unit = spec.unit if spec is not None else "index points"
    range_text = pl.format(
        "the plausible range for {} ({} .. {} {})",
        "root",
        _fmt_bound(lo),
        _fmt_bound(hi),
        pl.lit(unit),
    )
    return frame.select(
        pl.when(pl.any_horizontal(p.is_not_null() for p in prices))
        .then(~price_bad)
        .alias("price_plausible"),
        pl.when(~pl.col("_index")).then(~volume_bad).alias("volume_plausible"),
        pl.col("_listing").is_null().alias("contract_listed"),
        price_bad.alias(fails(PRICE_PLAUSIBLE)),
        pl.when(price_bad & lo.is_null())
        .then(pl.format("no plausible price range is known for root {}", "root"))
        .when(price_bad)
        .then(pl.format("{} outside {}", pl.col("_outside").list.join(", "), range_text))
        .alias(detail(PRICE_PLAUSIBLE)),
        volume_bad.alias(fails(VOLUME_PLAUSIBLE)),
        pl.when(volume_bad).then(volume_detail).alias(detail(VOLUME_PLAUSIBLE)),
        pl.col("_listing").is_not_null().alias(fails(CONTRACT_LISTED)),
        pl.col("_listing").alias(detail(CONTRACT_LISTED)),
    )


def key_checks(bars: pl.DataFrame, *, in_scope: pl.Series) -> pl.DataFrame:
    """Duplicate (contract, session_date) keys among the rows where ``in_scope`` is True.

    Exact duplicates (every column equal): the first copy stays, each later copy gets
    ``duplicate_of`` = the first copy's row index. Conflicting duplicates (the copies differ): all
    copies fail, none is trusted. ``key_scope`` marks the rows whose keys must be unique (in scope,
    dated, not a later exact copy). Rows with a null date are left to ``session.parsed``.

    Memory stays linear in the rows: identical rows are found by a 64-bit hash of the whole row,
    then confirmed column by column (a hash collision is never taken for a copy), and the
    finding's text is built once per key, not once per row.

    >>> bars = pl.DataFrame({"contract": ["ESH26"] * 4, "session_date": [date(2026, 1, d) for d in (5, 5, 6, 6)],
    ...                      "close": [1.0, 1.0, 2.0, 3.0]})
    >>> key_checks(bars, in_scope=pl.Series([True] * 4)).select("duplicate_of", "fails:key.unique").rows()
    [(None, False), (0, True), (None, True), (None, True)]
    """
    indexed = bars.with_row_index("row_index").with_columns(
        pl.col("row_index").cast(pl.Int64), in_scope.alias("_in_scope")
    )
    keyed = indexed.filter(pl.col("_in_scope") & pl.col("session_date").is_not_null())
    identical = _first_identical(bars, keyed["row_index"])
    keyed = keyed.select("row_index", *KEY_COLUMNS).with_columns(identical.alias("_identical"))
    groups = (
        keyed.group_by(KEY_COLUMNS)
        .agg(
            pl.col("row_index").min().alias("_first"),
            pl.len().alias("_copies"),
            # distinct rows of the key: those that are not a copy of an earlier one
            pl.col("_identical").is_null().sum().alias("_versions"),
            # At most LISTED_DUPLICATES indices per key: a file of one row repeated 400,000
            # times would otherwise put a 3 MB list on each of its rows (quadratic memory).
            pl.col("row_index")
            .sort()
            .head(LISTED_DUPLICATES)
            .cast(pl.String)
            .str.join(", ")
            .alias("_rows"),
        )
        .select(
            *KEY_COLUMNS,
            ((pl.col("_copies") > 1) & (pl.col("_versions") == 1)).alias("_exact"),
            ((pl.col("_copies") > 1) & (pl.col("_versions") > 1)).alias("_conflict"),
            pl.format(
                "conflicting duplicates of ({}, {}): rows {}{}",
                pl.col("contract"),
                pl.col("session_date"),
                pl.col("_rows"),
                pl.when(pl.col("_copies") > LISTED_DUPLICATES)
                .then(pl.format(" and {} more", pl.col("_copies") - LISTED_DUPLICATES))
                .otherwise(pl.lit("")),
            ).alias("_conflict_text"),
        )
    )
    joined = keyed.join(groups, on=list(KEY_COLUMNS), how="left", nulls_equal=True).select(
        "row_index",
        pl.when(pl.col("_exact")).then(pl.col("_identical")).alias("duplicate_of"),
        "_conflict",
        "_conflict_text",
    )
    out = indexed.select("row_index", "_in_scope", "session_date").join(
        joined, on="row_index", how="left", maintain_order="left"
    )
    failing = pl.col("duplicate_of").is_not_null() | pl.col("_conflict").fill_null(False)
    return out.select(
        "duplicate_of",
        (
            pl.col("_in_scope")
            & pl.col("session_date").is_not_null()
            & pl.col("duplicate_of").is_null()
        ).alias("key_scope"),
        failing.alias(fails(KEY_UNIQUE)),
        pl.when(pl.col("duplicate_of").is_not_null())
        .then(pl.format("duplicate of row {}", pl.col("duplicate_of")))
        .when(pl.col("_conflict"))
        .then(pl.col("_conflict_text"))
        .alias(detail(KEY_UNIQUE)),
    )


def _first_identical(bars: pl.DataFrame, rows: pl.Series) -> pl.Series:
    """For each of ``rows`` (batch positions), the first of ``rows`` whose values equal its own
    in every column (nulls and NaN compare equal), or null if there is none before it. Aligned
    with ``rows``.

    >>> bars = pl.DataFrame({"a": [1.0, 1.0, 2.0, None, None], "b": ["x", "x", "x", "y", "y"]})
    >>> _first_identical(bars, pl.Series([0, 1, 2, 3, 4])).to_list()
    [None, 0, None, None, 3]
    """
    rows = rows.cast(pl.Int64)
    # Per-column hashes (a different seed each) xor-ed: a struct hash would encode every row
    # first (~170 bytes a row). Equal rows hash equal; the rare unequal pair that does too is
    # told apart below.
    row_hash = functools.reduce(
        operator.xor, (pl.col(c).hash(seed=i) for i, c in enumerate(bars.columns))
    )
    hashes = bars.select(row_hash.gather(rows).alias("_hash"))
    frame = (
        pl.DataFrame({"row_index": rows})
        .with_columns(hashes)
        .with_columns(pl.col("row_index").min().over("_hash").alias("_first"))
        .with_columns(
            pl.when(pl.col("_first") != pl.col("row_index")).then("_first").alias("_candidate")
        )
    )
    later = frame.filter(pl.col("_candidate").is_not_null())
    # Confirm column by column (one column's copies alive at a time, not two copies of bars).
    same = pl.repeat(True, later.height, dtype=pl.Boolean, eager=True)
    for column in bars.columns:
        values = bars[column]
        same &= values.gather(later["row_index"]).eq_missing(values.gather(later["_candidate"]))
    confirmed = later.select("row_index", "_candidate").filter(same)
    return frame.select("row_index").join(
        confirmed, on="row_index", how="left", maintain_order="left"
    )["_candidate"]


def exact_copies(
    bars: pl.DataFrame,
    *,
    window_end: date,
    fetched_at: datetime,
    window_start: date | None = None,
) -> pl.Series:
    """``duplicate_of`` of every row of ``bars`` (aligned): the index of the earlier row it is an
    exact copy of, or null. The definition is :func:`key_checks`' (rows in scope: dated and not
    deferred), applied to the whole batch before the other rules, which then skip the copies.

    >>> bars = pl.DataFrame({"contract": ["ESH26"] * 3, "session_date": [date(2026, 1, 5)] * 3,
    ...                      "close": [1.0, 1.0, 1.0]})
    >>> exact_copies(bars, window_end=date(2026, 1, 5), fetched_at=datetime(2026, 1, 6, tzinfo=ET)).to_list()
    [None, 0, 0]
    """
    # Deferral depends on the date alone: decided once per distinct date, then joined back.
    dates = bars.select("session_date").unique()
    deferred = dates.with_columns(
        session_checks(
            dates, window_end=window_end, fetched_at=fetched_at, window_start=window_start
        )["deferred"]
    )
    in_scope = bars.select("session_date").join(
        deferred, on="session_date", how="left", maintain_order="left", nulls_equal=True
    )["deferred"]
    return key_checks(bars, in_scope=~in_scope)["duplicate_of"]


def order_checks(bars: pl.DataFrame) -> pl.DataFrame:
    """``in_order``: False on the first row whose session is earlier than the row before it of
    the same contract (in batch order), True on the other dated rows, null on undated rows.

    Order is checked within each contract: a multi-contract feed sorted by session then contract
    (the demo source) is in order; a contract's sessions going backwards is what a broken vendor
    download looks like.

    >>> bars = pl.DataFrame({"contract": ["A"] * 4, "session_date": [date(2026, 1, d) for d in (5, 7, 6, 8)]})
    >>> order_checks(bars)["in_order"].to_list()
    [True, True, False, True]
    """
    indexed = bars.select(KEY_COLUMNS).with_row_index("row_index")
    dated = indexed.filter(pl.col("session_date").is_not_null()).with_columns(
        _previous=pl.col("session_date").shift(1).over("contract", order_by="row_index")
    )
    backwards = (pl.col("session_date") < pl.col("_previous")).fill_null(False)
    dated = dated.with_columns(
        _first_backwards=backwards & (backwards.cast(pl.Int64).cum_sum() == 1)
    )
    out = indexed.join(
        dated.select("row_index", "_previous", "_first_backwards"),
        on="row_index",
        how="left",
        maintain_order="left",
    )
    return out.select(
        (~pl.col("_first_backwards")).alias("in_order"),
        pl.col("_first_backwards").fill_null(False).alias(fails(ROWS_OUT_OF_ORDER)),
        pl.when(pl.col("_first_backwards"))
        .then(
            pl.format(
                "{} session {} comes after session {} in the batch",
                pl.col("contract"),
                pl.col("session_date"),
                pl.col("_previous"),
            )
        )
        .alias(detail(ROWS_OUT_OF_ORDER)),
    )


# --------------------------------------------------------------------------------------------
# Sequential rules


#: What the walk reports per batch row it visits (null where a value does not exist).
WALK_SCHEMA: dict[str, pl.DataType] = {
    "row_index": pl.Int64(),
    "prev_close": pl.Float64(),  # last loaded close of the contract (index points)
    "prev_session": pl.Date(),
    "atr": pl.Float64(),  # Wilder ATR of the loaded bars before this one (index points)
    "jump_atr": pl.Float64(),  # |close - prev_close| / atr
    "jump_fraction": pl.Float64(),  # |close - prev_close| / prev_close, only while atr is null
    "range_atr": pl.Float64(),  # (high - low) / atr, not on early closes
    "prev_volume": pl.Int64(),
    "volume_changed": pl.Boolean(),  # False = same volume as prev_volume (> 0)
}


def walk_sessions(timeline: pl.DataFrame, *, params: QualityParams) -> pl.DataFrame:
    """The sequential rules over ``timeline``: one contract's bars after another, in session order.

    ``timeline`` has ``row_index`` (null for stored context bars, which are trusted and only feed
    the state), ``contract``, ``session_date``, the four prices, ``volume``, ``roll_exempt`` (no
    jump check; the true range is the bar's own high - low, not bridged to the previous close),
    ``early_close`` (no partial-range check) and optionally ``settlement_only`` and ``thin``
    (:func:`thin_sessions`). Prices are non-null: only rows that passed every stateless rule are
    walked.

    State per contract: previous loaded close and volume, and a Wilder ATR over true ranges
    max(high - low, |high - prev close|, |low - prev close|): no value until ``atr_window`` true
    ranges exist (the first bar has none), then their mean, then ATR = (ATR * (n - 1) + TR) / n.
    A settlement-only or thin row has no partial-range check and its jump is judged by
    ``jump_fallback_fraction`` of the previous close (its absolute value: prices may be
    negative), as before an ATR exists.
    A batch row that fails ``price.jump`` or ``range.partial`` does not update the state.
    This is a loop, not an expression: each row's verdict decides what the next row is compared
    with, which no vectorised scan can express. Returns ``WALK_SCHEMA`` rows for the batch rows.

    >>> tl = pl.DataFrame({"row_index": [0, 1, 2], "contract": "A",
    ...     "session_date": [date(2026, 1, d) for d in (5, 6, 7)],
    ...     "open": [100.0, 101.0, 150.0], "high": [102.0, 103.0, 151.0], "low": [99.0, 100.0, 149.0],
    ...     "close": [101.0, 102.0, 150.0], "volume": [5000, 5000, 6000],
    ...     "roll_exempt": False, "early_close": False})
    >>> walk_sessions(tl, params=QualityParams(atr_window=1)).select("atr", "jump_atr", "volume_changed").rows()
    [(None, None, None), (None, None, False), (3.0, 16.0, True)]
    """
    n = params.atr_window
    out: dict[str, list[Any]] = {name: [] for name in WALK_SCHEMA}
    contract: object = object()
    prev_close: float | None = None
    prev_session: date | None = None
    prev_volume: int | None = None
    atr: float | None = None
    seed_sum = 0.0
    seed_count = 0
    flags = [c for c in ("settlement_only", "thin") if c in timeline.columns]
    ordered = timeline.sort("contract", "session_date", "row_index", nulls_last=True)
    for row in ordered.iter_rows(named=True):
        if row["contract"] != contract:
            contract = row["contract"]
            prev_close, prev_session, prev_volume, atr = None, None, None, None
            seed_sum, seed_count = 0.0, 0
        high, low, close, volume = row["high"], row["low"], row["close"], row["volume"]
        loads = True
        if row["row_index"] is not None:
            thin = any(bool(row[c]) for c in flags)
            jump_atr = jump_fraction = range_atr = None
            if prev_close is not None and not row["roll_exempt"]:
                move = abs(close - prev_close)
                if atr is not None and atr > 0 and not thin:
                    jump_atr = move / atr
                    loads = jump_atr <= params.jump_atr_multiple
                elif prev_close != 0:
                    jump_fraction = move / abs(prev_close)
                    loads = jump_fraction <= params.jump_fallback_fraction
            if atr is not None and atr > 0 and not row["early_close"] and not thin:
                range_atr = (high - low) / atr
                loads = loads and range_atr >= params.partial_range_atr
            changed = None
            if prev_volume is not None and volume is not None and volume > 0:
                changed = volume != prev_volume
            for name, value in (
                ("row_index", row["row_index"]),
                ("prev_close", prev_close),
                ("prev_session", prev_session),
                ("atr", atr),
                ("jump_atr", jump_atr),
                ("jump_fraction", jump_fraction),
                ("range_atr", range_atr),
                ("prev_volume", prev_volume),
                ("volume_changed", changed),
            ):
                out[name].append(value)
        if not loads:
            continue
        if prev_close is not None:
            true_range = high - low
            if not row["roll_exempt"]:
                true_range = max(true_range, abs(high - prev_close), abs(low - prev_close))
            if atr is None:
                seed_sum += true_range
                seed_count += 1
                if seed_count == n:
                    atr = seed_sum / n
            else:
                atr = (atr * (n - 1) + true_range) / n
        prev_close, prev_session, prev_volume = close, row["session_date"], volume
    return pl.DataFrame(out, schema=WALK_SCHEMA)


def thin_sessions(
    bars: pl.DataFrame, context: pl.DataFrame | None, *, params: QualityParams
) -> pl.Series:
    """Which rows of ``bars`` (aligned) are thin sessions: fewer than ``thin_session_volume``
    contracts traded, and at least ``thin_relative_volume`` of the median volume of the same
    contract's previous ``volume_median_sessions`` rows (batch and stored ``context``; no
    previous row: thin) -- a thin market, not a bar cut short (``QualityParams``).

    >>> bars = pl.DataFrame({"contract": "GCJ24", "session_date": [date(2024, 4, d) for d in (1, 2, 3)],
    ...     "volume": [400, 20, 2]})
    >>> thin_sessions(bars, None, params=QualityParams(thin_relative_volume=0.05)).to_list()
    [True, True, False]
    """
    rows = bars.select(
        pl.int_range(pl.len(), dtype=pl.Int64).alias("_row"), "contract", "session_date", "volume"
    )
    parts = [rows]
    if context is not None and context.height:
        stored = (
            context.select(
                pl.col("contract").cast(pl.String),
                pl.col("session_date").cast(pl.Date),
                pl.col("volume").cast(pl.Int64),
            )
            .join(
                rows.select("contract", "session_date"), on=["contract", "session_date"], how="anti"
            )
            .select(
                pl.lit(None, dtype=pl.Int64).alias("_row"), "contract", "session_date", "volume"
            )
        )
        parts.append(stored)
    median = (
        pl.col("volume")
        .cast(pl.Float64)
        .rolling_median(params.volume_median_sessions, min_samples=1)
        .shift(1)
        .over("contract", order_by="session_date")
    )
    judged = (
        pl.concat(parts)
        .filter(pl.col("session_date").is_not_null())
        .with_columns(median.alias("_median"))
        .filter(pl.col("_row").is_not_null())
        .select(
            "_row",
            (
                (pl.col("volume") < params.thin_session_volume)
                & (
                    pl.col("_median").is_null()
                    | (pl.col("volume") >= params.thin_relative_volume * pl.col("_median"))
                )
            )
            .fill_null(False)
            .alias("thin"),
        )
    )
    return (
        rows.select("_row")
        .join(judged, on="_row", how="left", maintain_order="left")["thin"]
        .fill_null(False)
    )


def _timeline(
    bars: pl.DataFrame,
    walkable: pl.Series,
    context: pl.DataFrame | None,
    *,
    params: QualityParams,
    spec: RootSpec,
    thin: pl.Series | None = None,
) -> pl.DataFrame:
    """Walkable batch rows plus the context bars of the same contracts not replaced by them,
    with ``roll_exempt`` (near a last trade day: :func:`near_expiry`), ``early_close``,
    ``settlement_only`` (bar.settlement_only's definition) and ``thin`` (``thin``, aligned with
    ``bars``; context rows are never judged)."""
    columns = ["contract", "session_date", *PRICE_COLUMNS, "volume"]
    thin = thin if thin is not None else pl.repeat(False, bars.height, eager=True)
    batch_rows = (
        bars.with_row_index("row_index")
        .with_columns(pl.col("row_index").cast(pl.Int64), thin.alias("thin"))
        .filter(walkable)
        .select("row_index", *columns, "thin")
    )
    parts = [batch_rows]
    if context is not None and context.height > 0:
        stored = (
            context.select(pl.col(c).cast(BAR_SCHEMA[c]) for c in columns)
            .join(batch_rows.select(KEY_COLUMNS), on=list(KEY_COLUMNS), how="anti")
            .filter(pl.col("contract").is_in(batch_rows["contract"].unique().to_list()))
            .select(
                pl.lit(None, dtype=pl.Int64).alias("row_index"),
                *columns,
                pl.lit(False).alias("thin"),
            )
        )
        parts.append(stored)
    timeline = pl.concat(parts)
    keys = timeline.select("contract", "session_date").unique()
    exempt = keys.with_columns(
        pl.Series(
            "roll_exempt",
            [
                near_expiry(spec, c, d, sessions=params.roll_window_sessions)
                for c, d in keys.iter_rows()
            ],
            dtype=pl.Boolean,
        )
    )
    cal = spec.trading_calendar
    early = _by_date(timeline["session_date"], cal.is_early_close, pl.Boolean(), "early_close")
    flat = (
        (pl.col("open") == pl.col("high"))
        & (pl.col("high") == pl.col("low"))
        & (pl.col("low") == pl.col("close"))
    ).fill_null(False)
    return (
        timeline.join(exempt, on=["contract", "session_date"], how="left")
        .join(early, on="session_date", how="left")
        .with_columns(pl.col("early_close").fill_null(False), flat.alias("settlement_only"))
    )


def sequential_checks(
    bars: pl.DataFrame,
    walkable: pl.Series,
    context: pl.DataFrame | None,
    *,
    params: QualityParams,
    spec: RootSpec | None = None,
    thin: pl.Series | None = None,
) -> pl.DataFrame:
    """``price.jump``, ``range.partial`` and ``volume.repeated``, aligned with ``bars``.

    Only rows where ``walkable`` is True are evaluated (the others get nulls and no failure).
    ``context`` is stored bars (BAR_SCHEMA) of the same root: they seed the previous close, the
    ATR and the previous volume across the batch boundary; a batch row replaces the stored bar
    of the same (contract, session_date). ``spec``: the root's contract facts (None: the
    built-in registry's entry of the bars' root).
    """
    spec = spec if spec is not None else builtin_spec(bars["root"][0])
    walked = walk_sessions(
        _timeline(bars, walkable, context, params=params, spec=spec, thin=thin), params=params
    )
    k, fraction, p = (
        params.jump_atr_multiple,
        params.jump_fallback_fraction,
        params.partial_range_atr,
    )
    jumps = (pl.col("jump_atr") > k).fill_null(False) | (
        pl.col("jump_fraction") > fraction
    ).fill_null(False)
    move = (pl.col("close") - pl.col("prev_close")).abs()
    aligned = (
        bars.select("close", "high", "low", "volume")
        .with_row_index("row_index")
        .with_columns(pl.col("row_index").cast(pl.Int64))
        .join(walked, on="row_index", how="left", maintain_order="left")
    )
    return aligned.select(
        "jump_atr",
        "jump_fraction",
        "range_atr",
        "volume_changed",
        jumps.alias(fails(PRICE_JUMP)),
        pl.when(pl.col("jump_atr") > k)
        .then(
            pl.format(
                "close {} moved {} from the previous close {} ({}) = {} ATR > {} ATR (ATR {})",
                _fmt(pl.col("close")),
                _fmt2(move),
                _fmt(pl.col("prev_close")),
                pl.col("prev_session"),
                _fmt3(pl.col("jump_atr")),
                pl.lit(k),
                _fmt2(pl.col("atr")),
            )
        )
        .when(pl.col("jump_fraction") > fraction)
        .then(
            pl.format(
                "close {} moved {} % from the previous close {} ({}) > {} % (no ATR yet)",
                _fmt(pl.col("close")),
                _fmt3(pl.col("jump_fraction") * 100),
                _fmt(pl.col("prev_close")),
                pl.col("prev_session"),
                pl.lit(fraction * 100),
            )
        )
        .alias(detail(PRICE_JUMP)),
        (pl.col("range_atr") < p).fill_null(False).alias(fails(RANGE_PARTIAL)),
        pl.when(pl.col("range_atr") < p)
        .then(
            pl.format(
                "range {} (high {} - low {}) = {} ATR < {} ATR (ATR {})",
                _fmt2(pl.col("high") - pl.col("low")),
                _fmt(pl.col("high")),
                _fmt(pl.col("low")),
                _fmt3(pl.col("range_atr")),
                pl.lit(p),
                _fmt2(pl.col("atr")),
            )
        )
        .alias(detail(RANGE_PARTIAL)),
        pl.col("volume_changed").not_().fill_null(False).alias(fails(VOLUME_REPEATED)),
        pl.when(pl.col("volume_changed").not_())
        .then(
            pl.format(
                "volume {} equals the volume of the previous session {}",
                pl.col("volume"),
                pl.col("prev_session"),
            )
        )
        .alias(detail(VOLUME_REPEATED)),
    )


# --------------------------------------------------------------------------------------------
# Everything together

#: Error rules decided from one row (plus its duplicates): a row failing one is not walked.
STATELESS_ERRORS: tuple[str, ...] = tuple(
    r.name for r in ROW_RULES if r.severity == "error" and r.name not in (PRICE_JUMP, RANGE_PARTIAL)
)
#: Rules that do not apply to a deferred row (its values are provisional).
VALUE_RULES: tuple[str, ...] = (
    PRICE_NOT_NULL,
    PRICE_POSITIVE,
    PRICE_PLAUSIBLE,
    VOLUME_PLAUSIBLE,
    CONTRACT_LISTED,
    OHLC_INVERTED,
    OHLC_LOW_BOUND,
    OHLC_HIGH_BOUND,
    VOLUME_NON_NEGATIVE,
    KEY_UNIQUE,
    PRICE_JUMP,
    RANGE_PARTIAL,
    VOLUME_ZERO,
    VOLUME_REPEATED,
    PRICE_TICK_GRID,
    BAR_SETTLEMENT_ONLY,
    OHLC_SETTLEMENT_OUTSIDE,
)


def derive_checks(
    bars: pl.DataFrame,
    *,
    window_end: date,
    fetched_at: datetime,
    window_start: date | None = None,
    context: pl.DataFrame | None = None,
    raw_cells: pl.DataFrame | None = None,
    params: QualityParams = QualityParams(),
    spec: RootSpec | None = None,
) -> pl.DataFrame:
    """Every row rule's inputs, failure mask and detail, one row per bar (aligned with ``bars``).

    ``raw_cells``: the vendor's text of the volume and open interest cells, aligned with
    ``bars`` (see :func:`plausibility_checks`). ``window_start``: the first session asked for
    (None: every session); a row before it fails ``session.before_window``, is not walked by the
    sequential rules and does not count in the thin-session volume history (so the rows from
    ``window_start`` on are judged exactly as if the file began there, but for the batch-order
    rule ``rows.out_of_order``). ``spec``: the batch root's contract facts
    (calendar, listed months, tick, whether prices can fall below zero); None: the built-in
    registry's entry of the bars' root.

    ``bars`` is a conformed canonical frame (BAR_SCHEMA). The result has ``row_index``, the key
    and value columns, the derived inputs the suite checks (``lowest_price``, ``body_low``,
    ``body_high``, ``price_sign_ok``, ``is_trade_date``, ``not_future``, ``session_final``,
    ``deferred``, ``duplicate_of``, ``key_scope``, ``jump_atr``, ``jump_fraction``,
    ``range_atr``, ``volume_changed``, ``in_order``, ``on_tick_grid``, ``full_bar``), and per row
    rule ``fails:<rule>`` and ``detail:<rule>``.
    Masks follow the scope rules of the module docstring (a deferred row fails only
    ``session.final``).

    >>> from pipeline.schema import conform_bars
    >>> bars = conform_bars(pl.DataFrame({"root": "ES", "contract": "ESH26",
    ...     "session_date": [date(2026, 2, 18), date(2026, 2, 19)],
    ...     "open": [6800.0, 6810.0], "high": [6820.0, 6805.0], "low": [6790.0, 6795.0],
    ...     "close": [6810.0, 6800.0], "volume": [1000, 0]}))
    >>> checks = derive_checks(bars, window_end=date(2026, 2, 19),
    ...                        fetched_at=datetime(2026, 2, 20, tzinfo=ET))
    >>> checks.select("fails:ohlc.high_bound", "fails:volume.zero", "jump_fraction").rows()
    [(False, False, None), (True, True, None)]
    >>> checks["detail:ohlc.high_bound"][1]
    'high 6805.0 < max(open 6810.0, close 6800.0)'
    """
    if spec is None:
        spec = builtin_spec(bars["root"][0])
    sessions = session_checks(
        bars,
        window_end=window_end,
        fetched_at=fetched_at,
        window_start=window_start,
        calendar=spec.trading_calendar,
    )
    deferred = sessions["deferred"]
    thin = _thin_in_window(bars, ~sessions[fails(SESSION_BEFORE_WINDOW)], context, params=params)
    values = value_checks(bars, allows_negative=spec.allows_negative, thin=thin)
    plausible = plausibility_checks(bars, raw_cells=raw_cells, params=params, spec=spec)
    keys = key_checks(bars, in_scope=~deferred)
    order = order_checks(bars)
    product = product_checks(bars, spec=spec, params=params)
    stateless = pl.concat([sessions, values, plausible, keys, product], how="horizontal")
    stateless_ok = ~pl.any_horizontal(
        *(pl.col(fails(r)) & ~pl.col("deferred") for r in STATELESS_ERRORS)
    )
    walkable = stateless.select((stateless_ok & ~pl.col("deferred")).alias("w"))["w"]
    sequential = sequential_checks(bars, walkable, context, params=params, spec=spec, thin=thin)
    frame = pl.concat(
        [
            bars.with_row_index("row_index").with_columns(pl.col("row_index").cast(pl.Int64)),
            stateless,
            sequential,
            order,
        ],
        how="horizontal",
    )
    # A deferred row is checked by session.final only: mask the value rules and their inputs.
    masked_inputs = (
        "lowest_price",
        "body_low",
        "body_high",
        "price_sign_ok",
        "settles_inside",
        "duplicate_of",
        "price_plausible",
        "volume_plausible",
        "contract_listed",
        "on_tick_grid",
        "full_bar",
    )
    return frame.with_columns(
        *(pl.col(c).fill_nan(None) for c in PRICE_COLUMNS),
        *(pl.col(fails(r)) & ~pl.col("deferred") for r in VALUE_RULES),
        *(
            pl.when(~pl.col("deferred")).then(pl.col(detail(r))).alias(detail(r))
            for r in VALUE_RULES
        ),
        *(pl.when(~pl.col("deferred")).then(pl.col(c)).alias(c) for c in masked_inputs),
    )


def _thin_in_window(
    bars: pl.DataFrame, in_window: pl.Series, context: pl.DataFrame | None, *, params: QualityParams
) -> pl.Series:
    """:func:`thin_sessions` of the rows in the window (aligned with ``bars``; False on the rows
    before it, which are quarantined and must not stand in for the stored volume history)."""
    if in_window.all():
        return thin_sessions(bars, context, params=params)
    thin = pl.Series("thin", [False] * bars.height, dtype=pl.Boolean)
    inside = thin_sessions(bars.filter(in_window), context, params=params)
    return thin.scatter(in_window.arg_true(), inside)


def rule_failures(checks: pl.DataFrame, rules: Iterable[str]) -> dict[str, list[int]]:
    """Row indices each rule reports, from a ``derive_checks`` frame."""
    return {r: checks.filter(pl.col(fails(r)))["row_index"].to_list() for r in rules}
