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
  from the front contracts, not adjusted. Rolls are the sessions given by ``roll_sessions`` or are
  detected at each quarterly expiry E: the feed stays on the expiring contract through the Thursday
  before E, and the splice sits either at (session before E -> E) or at (E -> session after E),
  whichever boundary has the larger opening gap ``|open_t - close_{t-1}|``. The roll gap is that
  opening gap (``open_t - close_{t-1}`` or ``open_t / close_{t-1}``). It is an *estimate*, not the
  spread: it also contains the market's move between the old contract's last price and the new
  contract's open (the overnight move, and on an expiry Friday whose close is the expiring
  contract's morning special settlement, the rest of that day's move), which the adjusted series
  then loses along with the spread. On the real ES=F file (2000-2025) 95 of 101 detected splices
  sit at (E -> next session), and single estimates can be far off: June 2025 reads -46 points
  while the next contract traded at a premium.

The internal frame is *forward-anchored*: the first contract of the series has offset 0 (factor 1)
and every roll adds to it. Appending later bars therefore never changes an earlier row, so a series
computed on bars up to D equals the full series cut at D, bit for bit (the product's no-look-ahead
proof). The one exception is a detected front-month roll: the splice at expiry E is chosen with
the session after E, so while E is the last row of a feed no roll is placed at E yet (its row reads
as the expiring contract, where the Yahoo feeds usually still are on E); when the next session
arrives and the (session before E -> E) boundary turns out to have the larger gap, E's row is
revised. Passing ``roll_sessions`` (the Yahoo source knows them from the contract-name change)
avoids this.

``anchor_on_last`` re-expresses a series the way analysts read it: Panama-adjusted with adjusted
equal to raw on the current front contract.

Sessions on which the scheduled front contract has no bar are left out of the series (a gap, not a
row of nulls and not a row from another contract).
"""

from __future__ import annotations

import bisect
from collections.abc import Sequence
from datetime import date, timedelta
from typing import Literal, get_args

import polars as pl

from pipeline.market.contracts import Contract, contracts_between, front_contract, parse_contract

Method = Literal["difference", "ratio", "none"]
#: A known roll session replaces a detected splice this many rows or fewer away (the detected
#: splice is always within a session of the expiry).
KNOWN_ROLL_ROWS = 3
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
    method: Method = "difference",
    roll: RollRule = "calendar",
    roll_sessions: Sequence[date] | None = None,
    known_rolls: Sequence[date] = (),
) -> pl.DataFrame:
    """One row per session from the front contract of one root, raw and adjusted (SERIES_SCHEMA).

    ``bars``: BAR_SCHEMA rows of one root, any order. If some rows carry a front-month symbol
    (``ES=F``) only those rows are used and the rolls are detected at expiries or given by
    ``roll_sessions`` (each maps to the feed's first row on or after it; dates on or before the
    first row or after the last are ignored). ``known_rolls`` are roll sessions observed some other
    way (Yahoo's contract-name change between two nightly fetches): each replaces the detected
    splice at its expiry (within KNOWN_ROLL_ROWS rows), the other expiries are still detected.
    Otherwise every contract code must parse with
    ``parse_contract`` and ``roll`` picks the rule (``"volume"`` needs per-contract bars).

    ``method``: ``"difference"`` adds ``offset`` (index points) to raw prices, ``"ratio"``
    multiplies them by ``factor``, ``"none"`` leaves them raw (rolls are still reported, with the
    measured spread as ``roll_gap`` when the contracts overlap, else null). Offsets and factors are
    forward-anchored (0 / 1 on the first contract); see ``anchor_on_last``.

    Output: sorted by ``session_date``; sessions without a bar of the front are absent. Null raw
    prices stay null. Raises ``ContinuousSeriesError`` for empty input, several roots or feeds,
    unparsable or duplicated contract rows, and for a roll whose two contracts never both have a
    close before the roll session (``"difference"``/``"ratio"``).

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

    feed = bars.filter(pl.col("contract").str.ends_with(FRONT_MONTH_SUFFIX))
    if not feed.is_empty():
        if roll != "calendar":
            raise ContinuousSeriesError(
                f"{root}: roll={roll!r} needs per-contract bars; a front-month feed rolls at "
                "expiries or at the given roll_sessions"
            )
        fronts = _feed_fronts(
            feed, root, method=method, roll_sessions=roll_sessions, known_rolls=known_rolls
        )
    else:
        if roll_sessions is not None:
            raise ContinuousSeriesError(
                f"{root}: roll_sessions applies to a front-month feed "
                f"({root}{FRONT_MONTH_SUFFIX}); per-contract bars roll by the roll rule"
            )
        rows = _checked_contract_rows(bars, root)
        schedule = _calendar_fronts(rows, root) if roll == "calendar" else _volume_fronts(rows)
        fronts = _with_contract_roll_gaps(_front_rows(rows, schedule), rows, root, method=method)
    return _adjust(fronts, method=method)


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


def _checked_contract_rows(bars: pl.DataFrame, root: str) -> pl.DataFrame:
    """Bars with every contract code parsed and of ``root``, one row per (contract, session)."""
    for code in bars["contract"].unique().sort(nulls_last=True).to_list():
        try:
            contract = parse_contract(code) if code is not None else None
        except ValueError:
            contract = None
        if contract is None or contract.root != root:
            raise ContinuousSeriesError(
                f"{root}: contract {code!r} is not a quarterly {root} contract code "
                f"(expected e.g. {root}H26) nor a front-month symbol {root}{FRONT_MONTH_SUFFIX}"
            )
    duplicated = bars.filter(pl.struct("contract", "session_date").is_duplicated())
    if not duplicated.is_empty():
        code, day = duplicated.sort("session_date", "contract").row(0)[1:3]
        raise ContinuousSeriesError(f"{root}: several bars for {code} on {day}")
    return bars


def _calendar_fronts(rows: pl.DataFrame, root: str) -> pl.DataFrame:
    """(session_date, contract): ``front_contract(root, d)`` for every session in ``rows``."""
    sessions = rows.select("session_date").unique().sort("session_date")
    first, last = sessions["session_date"][0], sessions["session_date"][-1]
    schedule = pl.DataFrame(
        [(c.previous().roll_date, c.code) for c in contracts_between(root, first, last)],
        schema={"front_from": pl.Date, "contract": pl.String},
        orient="row",
    )
    return sessions.join_asof(
        schedule, left_on="session_date", right_on="front_from", strategy="backward"
    ).select("session_date", "contract")


def _volume_fronts(rows: pl.DataFrame) -> pl.DataFrame:
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
            live = sorted(c for c in map(parse_contract, codes_on[day]) if c.expiry > day)
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
) -> pl.DataFrame:
    """Add ``roll_spread`` and ``roll_ratio`` on roll rows, measured on the last session before
    the roll on which both the old and the new contract have a close."""
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
    return fronts.join(gaps, on="session_date", how="left").sort("session_date")


def _require_positive(measured: pl.DataFrame, root: str) -> None:
    bad = measured.filter((pl.col("close_old") <= 0) | (pl.col("close_new") <= 0))
    if not bad.is_empty():
        row = bad.sort("roll_session").row(0, named=True)
        raise ContinuousSeriesError(
            f"{root}: ratio adjustment needs positive closes; {row['old']}={row['close_old']} and "
            f"{row['new']}={row['close_new']} on {row['session_date']} "
            f"(roll on {row['roll_session']})"
        )


def _first_expiring_on_or_after(root: str, day: date) -> Contract:
    """The contract of ``root`` with the earliest expiry on or after ``day``."""
    contract = front_contract(root, day).previous()
    while contract.expiry < day:
        contract = contract.next()
    return contract


def _feed_fronts(
    feed: pl.DataFrame,
    root: str,
    *,
    method: Method,
    roll_sessions: Sequence[date] | None,
    known_rolls: Sequence[date] = (),
) -> pl.DataFrame:
    """The feed's rows with the implied contract, ``is_roll``, ``roll_spread`` and ``roll_ratio``.

    Implied contract: before the first roll, the first contract expiring after the first session
    (a feed starting on an expiry session is taken as already rolled); from a roll on session R,
    the next contract after the one expiring on or after the session before R.
    """
    symbols = feed["contract"].unique().sort().to_list()
    if len(symbols) != 1:
        raise ContinuousSeriesError(f"{root}: several front-month feeds in one series: {symbols}")
    duplicated = feed.filter(pl.col("session_date").is_duplicated())
    if not duplicated.is_empty():
        raise ContinuousSeriesError(
            f"{root}: several {symbols[0]} bars on {duplicated['session_date'].sort().to_list()[0]}"
        )
    previous_close = pl.col("close").shift(1)
    feed = feed.sort("session_date").with_columns(
        (pl.col("open") - previous_close).alias("opening_gap"),
        (pl.col("open") / previous_close).alias("opening_ratio"),
    )
    days: list[date] = feed["session_date"].to_list()
    gaps: list[float | None] = feed["opening_gap"].to_list()
    if roll_sessions is None:
        roll_rows = _detected_roll_rows(days, gaps, root)
        for known in (bisect.bisect_left(days, d) for d in known_rolls):
            if 0 < known < len(days):
                roll_rows = [r for r in roll_rows if abs(r - known) > KNOWN_ROLL_ROWS]
                roll_rows = sorted({*roll_rows, known})
    else:
        roll_rows = sorted({i for i in (bisect.bisect_left(days, d) for d in roll_sessions)})
        roll_rows = [i for i in roll_rows if 0 < i < len(days)]

    first = _first_expiring_on_or_after(root, days[0] + timedelta(days=1))
    segment_codes = [first.code] + [
        _first_expiring_on_or_after(root, days[i - 1]).next().code for i in roll_rows
    ]
    roll_set = set(roll_rows)
    fronts = feed.with_columns(
        pl.Series(
            "contract",
            [segment_codes[bisect.bisect_right(roll_rows, j)] for j in range(len(days))],
            dtype=pl.String,
        ),
        pl.Series("is_roll", [j in roll_set for j in range(len(days))], dtype=pl.Boolean),
    )
    unmeasured = fronts.filter(pl.col("is_roll") & pl.col("opening_gap").is_null())
    if method != "none" and not unmeasured.is_empty():
        raise ContinuousSeriesError(
            f"{root}: {symbols[0]} roll on {unmeasured['session_date'][0]} has no open or no "
            "previous close; the roll gap cannot be measured"
        )
    if method == "ratio":
        ratio = pl.col("opening_ratio")
        nonpositive = fronts.filter(pl.col("is_roll") & ((ratio <= 0) | ~ratio.is_finite()))
        if not nonpositive.is_empty():
            raise ContinuousSeriesError(
                f"{root}: ratio adjustment needs positive prices at the {symbols[0]} roll on "
                f"{nonpositive['session_date'][0]}"
            )
    on_roll = pl.col("is_roll")
    return fronts.with_columns(
        pl.when(on_roll).then(pl.col("opening_gap")).alias("roll_spread"),
        pl.when(on_roll).then(pl.col("opening_ratio")).alias("roll_ratio"),
    )


def _detected_roll_rows(days: list[date], gaps: list[float | None], root: str) -> list[int]:
    """Row index of the splice at every quarterly expiry E after the first session.

    Candidates are the first row on or after E and, if that row is E itself, the row after it;
    the larger absolute opening gap wins (ties and missing gaps go to the earlier boundary). While
    E is the last row the second candidate is unseen, so that expiry has no roll yet (the feed is
    read as still on the expiring contract, which is where the Yahoo feeds usually are on E).
    """

    def size(i: int) -> float:
        gap = gaps[i]
        return -1.0 if gap is None else abs(gap)

    rows: list[int] = []
    expiring = _first_expiring_on_or_after(root, days[0] + timedelta(days=1))
    while expiring.expiry <= days[-1]:
        i = bisect.bisect_left(days, expiring.expiry)
        if days[i] == expiring.expiry:
            if i + 1 == len(days):
                break
            if size(i + 1) > size(i):
                i += 1
        rows.append(i)
        expiring = expiring.next()
    return rows


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
