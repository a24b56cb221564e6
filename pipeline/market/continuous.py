"""Continuous futures series per root: roll schedule plus back-adjustment.

A continuous series has one row per session, taken from that session's *front* contract. Raw
prices jump at every roll by the spread between the two contracts (the basis: the next contract
trades at a premium or discount to the expiring one); adjusted prices remove those jumps so that
indicators (SMA200, ATR, zones) see only market moves.

Two kinds of input, told apart by the ``contract`` column:

* **Per-contract bars** (``RTYH26``, ``RTYM26``, ...; demo and exchange data). The front on a
  session follows a roll rule: ``"calendar"`` (``front_contract``: the next contract is the front
  from the Thursday 8 calendar days before expiry) or ``"volume"`` (switch on the first session
  on which the next contract trades more than the front, at the latest on the front's expiry
  session). The roll gap at a roll on session R is measured on the last session before R on which
  both contracts have a close: the spread ``close_next - close_old`` or the ratio
  ``close_next / close_old``.
* **A vendor front-month feed** (one symbol ending in ``=F``, e.g. Yahoo ``ES=F``): already spliced
  from the front contracts, not adjusted. By the vendors' convention (measured in
  :mod:`pipeline.market.rolls`) each row is read as the contract expiring on or after its session:
  the feed stays on a contract through its expiry session and rolls on the next session, a split
  known in advance from the calendar (or the sessions given by ``roll_sessions``). The roll gap
  is measured from rows up to the roll session only: the spread of per-contract closes when the
  bars hold both contracts, else the jump in the basis against the root's cash index when the
  bars hold it (rows under ``RootSpec.cash_index``, e.g. ``^GSPC``), else an estimate from the
  feed's recent carry that never exceeds the carry bound, flagged as estimated
  (:mod:`pipeline.market.rolls`). The expiry session's own bar is mixed (usually the expiring
  contract's final settlement) and is read as the expiring contract.

Rows of the cash index (contract ``^...``) never become rows of the series; they only measure
the rolls of a feed. ``continuous_series_and_rolls`` also returns each roll's gap, method and
evidence (``pipeline.market.rolls.ROLL_SCHEMA``).

The internal frame is *forward-anchored*: the first contract of the series has offset 0 (factor 1)
and every roll adds to it. Every roll, and so every row's offset and adjusted prices, depends only
on bars up to that row, so a series computed on bars up to D equals the full series cut at D, bit
for bit (the product's no-look-ahead proof), for per-contract bars and feeds alike.

``anchor_on_last`` re-expresses a series the way analysts read it: Panama-adjusted with adjusted
equal to raw on the current front contract.

Sessions on which the scheduled front contract has no bar are left out of the series (a gap, not a
row of nulls and not a row from another contract).
"""

from __future__ import annotations

import bisect
from collections.abc import Sequence
from datetime import date
from typing import Literal, get_args

import polars as pl

from pipeline.market.contracts import (
    Contract,
    contracts_between,
    first_expiring_on_or_after,
    parse_contract,
)
from pipeline.market.rolls import FeedRows, RollParams, contract_rolls, feed_rolls
from pipeline.market.roots import INDEX_PREFIX, RootSpec, builtin_spec

Method = Literal["difference", "ratio", "none"]
RollRule = Literal["calendar", "volume"]

#: Vendor continuous front-month symbols end with this (Yahoo ``ES=F``).
FRONT_MONTH_SUFFIX = "=F"

SERIES_SCHEMA: dict[str, pl.DataType] = {
    "session_date": pl.Date(),
    "contract": pl.String(),  # the front contract (for a feed: implied by the feed's convention)
    "open": pl.Float64(),  # adjusted, index points
    "high": pl.Float64(),
    "low": pl.Float64(),
    "close": pl.Float64(),
    "raw_open": pl.Float64(),  # as traded
    "raw_high": pl.Float64(),
    "raw_low": pl.Float64(),
    "raw_close": pl.Float64(),
    "volume": pl.Int64(),  # of the front
    "open_interest": pl.Int64(),
    "offset": pl.Float64(),  # adjusted - raw (method "difference"); 0.0 otherwise
    "factor": pl.Float64(),  # adjusted / raw (method "ratio"); 1.0 otherwise
    "is_roll": pl.Boolean(),  # first session on a new front
    "roll_gap": pl.Float64(),  # spread or ratio of this roll; null on non-roll sessions
}

_PRICES = ("open", "high", "low", "close")
_REQUIRED_COLUMNS = ("root", "contract", "session_date", *_PRICES, "volume")


class ContinuousSeriesError(ValueError):
    """Bars from which no continuous series can be built; the message names root, contract, date."""


def continuous_series(
    bars: pl.DataFrame,
    *,
    spec: RootSpec | None = None,
    method: Method = "difference",
    roll: RollRule = "calendar",
    roll_sessions: Sequence[date] | None = None,
    params: RollParams | None = None,
) -> pl.DataFrame:
    """One row per session from the front contract of one root, raw and adjusted (SERIES_SCHEMA).

    ``bars``: BAR_SCHEMA rows of one root, any order. Rows of the root's cash index (contract
    starting with ``^``) only measure the rolls of a front-month feed. If some rows carry a
    front-month symbol (``ES=F``) the series is made of those rows: each is read as the contract
    expiring on or after its session, or the rolls are the ``roll_sessions`` given (each maps to
    the feed's first row on or after it; dates on or before the first row or after the last are
    ignored); per-contract rows then only measure roll gaps. Otherwise every contract code must
    parse with ``parse_contract`` and ``roll`` picks the rule (``"volume"`` needs per-contract
    bars). Roll gaps: see the module docstring and :mod:`pipeline.market.rolls`.

    ``method``: ``"difference"`` adds ``offset`` (index points) to raw prices, ``"ratio"``
    multiplies them by ``factor``, ``"none"`` leaves them raw (rolls are still reported, with the
    measured gap as ``roll_gap`` when there is one, else null). Offsets and factors are
    forward-anchored (0 / 1 on the first contract); see ``anchor_on_last``.

    Output: sorted by ``session_date``; sessions without a bar of the front are absent. Null raw
    prices stay null. Raises ``ContinuousSeriesError`` for empty input, several roots or feeds,
    unparsable or duplicated contract rows, and for a roll whose gap cannot be measured
    (``"difference"``/``"ratio"``).

    >>> from datetime import date
    >>> bars = pl.DataFrame(
    ...     {
    ...         "root": "RTY",
    ...         "contract": ["RTYH26"] * 3 + ["RTYM26"] * 3,
    ...         "session_date": [date(2026, 3, d) for d in (10, 11, 12)]
    ...         + [date(2026, 3, d) for d in (11, 12, 13)],
    ...         "open": [100.0, 101.0, 102.0, 111.0, 112.0, 113.0],
    ...         "high": [100.0, 101.0, 102.0, 111.0, 112.0, 113.0],
    ...         "low": [100.0, 101.0, 102.0, 111.0, 112.0, 113.0],
    ...         "close": [100.0, 101.0, 102.0, 111.0, 112.0, 113.0],
    ...         "volume": [10, 10, 10, 5, 20, 20],
    ...         "open_interest": None,
    ...     }
    ... )
    >>> s = continuous_series(bars)  # roll on Thursday 2026-03-12; spread 111 - 101 on the 11th
    >>> s["contract"].to_list(), s["raw_close"].to_list()
    (['RTYH26', 'RTYH26', 'RTYM26', 'RTYM26'], [100.0, 101.0, 112.0, 113.0])
    >>> s["close"].to_list(), s["offset"].to_list(), s["roll_gap"].to_list()
    ([100.0, 101.0, 102.0, 103.0], [0.0, 0.0, -10.0, -10.0], [None, None, 10.0, None])
    """
    series, _ = continuous_series_and_rolls(
        bars, spec=spec, method=method, roll=roll, roll_sessions=roll_sessions, params=params
    )
    return series


def continuous_series_and_rolls(
    bars: pl.DataFrame,
    *,
    spec: RootSpec | None = None,
    method: Method = "difference",
    roll: RollRule = "calendar",
    roll_sessions: Sequence[date] | None = None,
    params: RollParams | None = None,
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """``continuous_series`` and its roll table (``ROLL_SCHEMA``: one row per roll with the gap,
    the method that measured it and the evidence), from the same bars and options.

    ``spec``: the root's contract facts (its registry entry; None: the built-in registry's);
    ``params``: None for the defaults with the root's own carry bound (``RollParams.for_spec``).
    """
    _check_choice("method", method, Method)
    _check_choice("roll", roll, RollRule)
    if bars.is_empty():
        raise ContinuousSeriesError("no bars: a continuous series needs at least one bar")
    missing = [c for c in _REQUIRED_COLUMNS if c not in bars.columns]
    if missing:
        raise ContinuousSeriesError(f"bars lack required columns: {', '.join(missing)}")
    if "open_interest" not in bars.columns:
        bars = bars.with_columns(pl.lit(None, dtype=pl.Int64).alias("open_interest"))
    root = _single_root(bars)
    if spec is None:
        spec = builtin_spec(root)
    elif spec.root != root:
        raise ContinuousSeriesError(f"bars of root {root} with the contract facts of {spec.root}")
    if params is None:
        params = RollParams.for_spec(spec)
    if method == "ratio":
        _require_positive_prices(bars, root)
    is_index = pl.col("contract").str.starts_with(INDEX_PREFIX)
    index, bars = bars.filter(is_index), bars.filter(~is_index)
    if bars.is_empty():
        raise ContinuousSeriesError(f"{root}: no futures bars, only cash index rows")

    feed = bars.filter(pl.col("contract").str.ends_with(FRONT_MONTH_SUFFIX))
    if not feed.is_empty():
        if roll != "calendar":
            raise ContinuousSeriesError(
                f"{root}: roll={roll!r} needs per-contract bars; a front-month feed rolls at "
                "expiries or at the given roll_sessions"
            )
        fronts, rolls = _feed_fronts(
            feed,
            spec,
            method=method,
            roll_sessions=roll_sessions,
            index=index,
            contracts=bars.filter(~pl.col("contract").str.ends_with(FRONT_MONTH_SUFFIX)),
            params=params,
        )
    else:
        if roll_sessions is not None:
            raise ContinuousSeriesError(
                f"{root}: roll_sessions applies to a front-month feed "
                f"({root}{FRONT_MONTH_SUFFIX}); per-contract bars roll by the roll rule"
            )
        rows = _checked_contract_rows(bars, spec)
        schedule = (
            _calendar_fronts(rows, spec) if roll == "calendar" else _volume_fronts(rows, spec)
        )
        fronts, measured = _with_contract_roll_gaps(
            _front_rows(rows, schedule), rows, root, method=method
        )
        rolls = contract_rolls(measured, fronts, spec, params=params)
    return _adjust(fronts, method=method), rolls


def anchor_on_last(series: pl.DataFrame) -> pl.DataFrame:
    """Re-anchor a ``continuous_series`` output on its last (current) front contract.

    Adjusted prices equal raw prices on the last contract; earlier contracts are shifted (method
    difference: ``offset - offset_last``) or scaled (method ratio: ``factor / factor_last``), and
    ``open..close`` are recomputed from the raw prices with the re-based column. A level L quoted in
    raw front-contract terms on day D reads ``L + offset(D)`` (ratio: ``L * factor(D)``) in this
    frame. Unadjusted series and series without a roll come back unchanged. The re-anchored frame
    changes whenever a roll is appended, so it is for display and analysis as of the last session,
    not for point-in-time comparisons.

    >>> s = pl.DataFrame(
    ...     {"raw_close": [100.0, 112.0], "offset": [0.0, -10.0], "factor": [1.0, 1.0]}
    ... ).with_columns(
    ...     raw_open=pl.col("raw_close"), raw_high=pl.col("raw_close"), raw_low=pl.col("raw_close")
    ... )
    >>> anchor_on_last(s).select("close", "offset").rows()
    [(110.0, 10.0), (112.0, 0.0)]
    """
    if series.is_empty():
        return series
    if "session_date" in series.columns:
        series = series.sort("session_date")
    if (series["factor"] != 1.0).any():
        # Element-wise true division in numpy: polars may divide by a scalar via its reciprocal,
        # which would leave the last contract's factor a hair off 1.0.
        factors = series["factor"].to_numpy()
        factor = pl.Series("factor", factors / factors[-1], dtype=pl.Float64)
        return series.with_columns(factor).with_columns(
            (pl.col(f"raw_{p}") * pl.col("factor")).alias(p) for p in _PRICES
        )
    offset = pl.col("offset") - pl.col("offset").last()
    return series.with_columns(offset.alias("offset")).with_columns(
        (pl.col(f"raw_{p}") + pl.col("offset")).alias(p) for p in _PRICES
    )


def _check_choice(name: str, value: object, options: object) -> None:
    allowed = get_args(options)
    if value not in allowed:
        raise ValueError(f"{name} must be one of {', '.join(map(repr, allowed))}, got {value!r}")


def _single_root(bars: pl.DataFrame) -> str:
    roots = bars["root"].unique().sort(nulls_last=True).to_list()
    if len(roots) != 1 or roots[0] is None:
        raise ContinuousSeriesError(
            f"a continuous series is built for one root; bars carry roots {roots}"
        )
    return str(roots[0])


def _checked_contract_rows(bars: pl.DataFrame, spec: RootSpec) -> pl.DataFrame:
    """Bars with every contract code parsed and of the root, one row per (contract, session)."""
    root = spec.root
    for code in bars["contract"].unique().sort(nulls_last=True).to_list():
        try:
            contract = parse_contract(code, spec) if code is not None else None
        except ValueError:
            contract = None
        if contract is None:
            example = f"{root}{spec.months[0]}26"
            raise ContinuousSeriesError(
                f"{root}: contract {code!r} is not a {root} contract code (expected e.g. "
                f"{example}) nor a front-month symbol {root}{FRONT_MONTH_SUFFIX}"
            )
    duplicated = bars.filter(pl.struct("contract", "session_date").is_duplicated())
    if not duplicated.is_empty():
        code, day = duplicated.sort("session_date", "contract").row(0)[1:3]
        raise ContinuousSeriesError(f"{root}: several bars for {code} on {day}")
    return bars


def _calendar_fronts(rows: pl.DataFrame, spec: RootSpec) -> pl.DataFrame:
    """(session_date, contract): ``front_contract(spec, d)`` for every session in ``rows``."""
    sessions = rows.select("session_date").unique().sort("session_date")
    first, last = sessions["session_date"][0], sessions["session_date"][-1]
    schedule = pl.DataFrame(
        [(c.previous().roll_date, c.code) for c in contracts_between(spec, first, last)],
        schema={"front_from": pl.Date, "contract": pl.String},
        orient="row",
    )
    return sessions.join_asof(
        schedule, left_on="session_date", right_on="front_from", strategy="backward"
    ).select("session_date", "contract")


def _volume_fronts(rows: pl.DataFrame, spec: RootSpec) -> pl.DataFrame:
    """(session_date, contract) under the volume rule, deciding each session from its own bars.

    The first front is the earliest-expiring contract with a bar on the first session and an
    expiry after it. On each session the front moves to its next contract if that session is the
    front's expiry or later (forced), or if both have a volume that session and the next contract's
    is larger; it never moves back. A null or missing volume never triggers a switch.
    """
    volume: dict[tuple[str, date], int | None] = {}
    codes_on: dict[date, list[str]] = {}
    for code, day, vol in rows.select("contract", "session_date", "volume").iter_rows():
        volume[(code, day)] = vol
        codes_on.setdefault(day, []).append(code)

    chosen: list[tuple[date, str]] = []
    front: Contract | None = None
    for day in sorted(codes_on):
        if front is None:
            live = sorted(
                c for c in (parse_contract(x, spec) for x in codes_on[day]) if c.expiry > day
            )
            if not live:
                continue
            front = live[0]
        while day >= front.expiry:
            front = front.next()
        following = front.next()
        front_volume = volume.get((front.code, day))
        next_volume = volume.get((following.code, day))
        if front_volume is not None and next_volume is not None and next_volume > front_volume:
            front = following
        if (front.code, day) in volume:
            chosen.append((day, front.code))
    return pl.DataFrame(
        chosen, schema={"session_date": pl.Date, "contract": pl.String}, orient="row"
    )


def _front_rows(rows: pl.DataFrame, schedule: pl.DataFrame) -> pl.DataFrame:
    """The bars of the scheduled front per session (sessions without one drop out), with
    ``is_roll`` and ``previous_contract`` (the front of the previous row)."""
    fronts = rows.join(schedule, on=["session_date", "contract"], how="inner").sort("session_date")
    previous = pl.col("contract").shift(1)
    return fronts.with_columns(
        previous.alias("previous_contract"),
        (previous.is_not_null() & (pl.col("contract") != previous)).alias("is_roll"),
    )


def _with_contract_roll_gaps(
    fronts: pl.DataFrame, rows: pl.DataFrame, root: str, *, method: Method
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Add ``roll_spread`` and ``roll_ratio`` on roll rows, measured on the last session before
    the roll on which both the old and the new contract have a close; also return those
    measurements (``roll_session``, ``old``, ``new``, ``session_date``, ``close_old``,
    ``close_new``)."""
    rolls = fronts.filter("is_roll").select(
        pl.col("session_date").alias("roll_session"),
        pl.col("previous_contract").alias("old"),
        pl.col("contract").alias("new"),
    )
    closes = rows.filter(pl.col("close").is_not_null()).select("session_date", "contract", "close")
    measured = (
        rolls.join(closes.rename({"contract": "old", "close": "close_old"}), on="old", how="inner")
        .filter(pl.col("session_date") < pl.col("roll_session"))
        .join(
            closes.rename({"contract": "new", "close": "close_new"}),
            on=["new", "session_date"],
            how="inner",
        )
        .group_by("roll_session")
        .agg(pl.all().sort_by("session_date").last())
    )
    unmeasured = rolls.join(measured, on="roll_session", how="anti").sort("roll_session")
    if method != "none" and not unmeasured.is_empty():
        day, old, new = unmeasured.row(0)
        raise ContinuousSeriesError(
            f"{root}: contracts {old} and {new} never both have a close before the roll on {day}; "
            "the roll gap cannot be measured"
        )
    if method == "ratio":
        _require_positive(measured, root)
    gaps = measured.select(
        pl.col("roll_session").alias("session_date"),
        (pl.col("close_new") - pl.col("close_old")).alias("roll_spread"),
        (pl.col("close_new") / pl.col("close_old")).alias("roll_ratio"),
    )
    return fronts.join(gaps, on="session_date", how="left").sort("session_date"), measured


def _require_positive_prices(bars: pl.DataFrame, root: str) -> None:
    """Ratio adjustment multiplies prices: a series with a price at or below zero (CL in April
    2020) cannot stay meaningful under it and is adjusted by difference instead."""
    bad = bars.filter(pl.min_horizontal(*(pl.col(p) for p in _PRICES)) <= 0)
    if not bad.is_empty():
        row = bad.sort("session_date").row(0, named=True)
        raise ContinuousSeriesError(
            f"{root}: ratio adjustment needs positive prices; {row['contract']} on "
            f"{row['session_date']} has a price at or below zero (low {row['low']}): use the "
            "difference adjustment"
        )


def _require_positive(measured: pl.DataFrame, root: str) -> None:
    bad = measured.filter((pl.col("close_old") <= 0) | (pl.col("close_new") <= 0))
    if not bad.is_empty():
        row = bad.sort("roll_session").row(0, named=True)
        raise ContinuousSeriesError(
            f"{root}: ratio adjustment needs positive closes; {row['old']}={row['close_old']} and "
            f"{row['new']}={row['close_new']} on {row['session_date']} "
            f"(roll on {row['roll_session']})"
        )


def _feed_fronts(
    feed: pl.DataFrame,
    spec: RootSpec,
    *,
    method: Method,
    roll_sessions: Sequence[date] | None,
    index: pl.DataFrame,
    contracts: pl.DataFrame,
    params: RollParams,
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """The feed's rows with the contract each is read as, ``is_roll``, ``roll_spread`` and
    ``roll_ratio``, and the roll table.

    Contract of a row: the one expiring on or after its session; with ``roll_sessions``, the
    first row's such contract, then at each given roll R the next contract after the one
    expiring on or after the session before R.
    """
    root = spec.root
    symbols = feed["contract"].unique().sort().to_list()
    if len(symbols) != 1:
        raise ContinuousSeriesError(f"{root}: several front-month feeds in one series: {symbols}")
    for name, rows in (("", feed), (" index", index)):
        duplicated = rows.filter(pl.struct("contract", "session_date").is_duplicated())
        if not duplicated.is_empty():
            code, day = duplicated.sort("session_date").select("contract", "session_date").row(0)
            raise ContinuousSeriesError(f"{root}: several{name} {code} bars on {day}")
    if index["contract"].n_unique() > 1:
        raise ContinuousSeriesError(
            f"{root}: several cash indexes in one series: {index['contract'].unique().sort().to_list()}"
        )
    feed = feed.sort("session_date")
    days: list[date] = feed["session_date"].to_list()
    labels = _feed_contracts(spec, days, roll_sessions)
    index_close = {
        d: c
        for d, c in index.select("session_date", "close").iter_rows()
        if d is not None and c is not None and c > 0
    }
    contract_close = {
        (code, d): c
        for code, d, c in contracts.select("contract", "session_date", "close").iter_rows()
        if c is not None
    }
    rolls = feed_rolls(
        FeedRows(
            days=days,
            opens=feed["open"].to_list(),
            closes=feed["close"].to_list(),
            contracts=labels,
            index_close=index_close,
            contract_close=contract_close,
        ),
        root,
        params=params,
    )
    if method != "none":
        unmeasured = rolls.filter(pl.col("gap").is_null() | pl.col("ratio").is_null())
        if not unmeasured.is_empty():
            raise ContinuousSeriesError(
                f"{root}: {symbols[0]} roll on {unmeasured['roll_session'][0]} has no open or no "
                "previous close (and no index or contract spread); the roll gap cannot be measured"
            )
    if method == "ratio":
        nonpositive = rolls.filter(pl.col("ratio") <= 0)
        if not nonpositive.is_empty():
            raise ContinuousSeriesError(
                f"{root}: ratio adjustment needs positive prices at the {symbols[0]} roll on "
                f"{nonpositive['roll_session'][0]}"
            )
    gaps = rolls.select(
        pl.col("roll_session").alias("session_date"),
        pl.col("gap").alias("roll_spread"),
        pl.col("ratio").alias("roll_ratio"),
    )
    fronts = (
        feed.with_columns(pl.Series("contract", [c.code for c in labels], dtype=pl.String))
        .with_columns(
            (pl.col("contract") != pl.col("contract").shift(1)).fill_null(False).alias("is_roll")
        )
        .join(gaps, on="session_date", how="left")
        .sort("session_date")
    )
    return fronts, rolls


def _feed_contracts(
    spec: RootSpec, days: list[date], roll_sessions: Sequence[date] | None
) -> list[Contract]:
    """The contract each feed row (``days``, ascending) is read as (see ``_feed_fronts``)."""
    if roll_sessions is None:
        chain = [first_expiring_on_or_after(spec, days[0])]
        while chain[-1].expiry < days[-1]:
            chain.append(chain[-1].next_listed())
        expiries = [c.expiry for c in chain]
        return [chain[bisect.bisect_left(expiries, d)] for d in days]
    roll_rows = sorted({bisect.bisect_left(days, d) for d in roll_sessions})
    roll_rows = [i for i in roll_rows if 0 < i < len(days)]
    segments = [first_expiring_on_or_after(spec, days[0])] + [
        first_expiring_on_or_after(spec, days[i - 1]).next_listed() for i in roll_rows
    ]
    return [segments[bisect.bisect_right(roll_rows, j)] for j in range(len(days))]


def _adjust(fronts: pl.DataFrame, *, method: Method) -> pl.DataFrame:
    """Forward-anchored offsets/factors from the roll gaps, then the output columns.

    The running offset and factor are accumulated roll by roll in session order, so the value on a
    row depends only on rolls up to that row (appending bars cannot change it).
    """
    rolls = fronts.filter("is_roll")
    # One entry per segment (the first contract, then one per roll), accumulated in session order.
    offsets = [0.0] * (rolls.height + 1)
    factors = [1.0] * (rolls.height + 1)
    if method == "difference":
        for k, spread in enumerate(rolls["roll_spread"].to_list(), start=1):
            offsets[k] = offsets[k - 1] - spread
    elif method == "ratio":
        for k, ratio in enumerate(rolls["roll_ratio"].to_list(), start=1):
            factors[k] = factors[k - 1] / ratio
    segment = fronts["is_roll"].cast(pl.UInt32).cum_sum()
    offset = pl.Series("offset", offsets, dtype=pl.Float64).gather(segment)
    factor = pl.Series("factor", factors, dtype=pl.Float64).gather(segment)
    gap_column = "roll_ratio" if method == "ratio" else "roll_spread"
    out = fronts.with_columns(
        offset,
        factor,
        pl.when(pl.col("is_roll")).then(pl.col(gap_column)).alias("roll_gap"),
        *(pl.col(p).alias(f"raw_{p}") for p in _PRICES),
    )
    if method == "ratio":
        adjusted = [(pl.col(f"raw_{p}") * pl.col("factor")).alias(p) for p in _PRICES]
    elif method == "difference":
        adjusted = [(pl.col(f"raw_{p}") + pl.col("offset")).alias(p) for p in _PRICES]
    else:
        adjusted = [pl.col(f"raw_{p}").alias(p) for p in _PRICES]
    return out.with_columns(adjusted).select(
        pl.col(name).cast(dtype) for name, dtype in SERIES_SCHEMA.items()
    )
