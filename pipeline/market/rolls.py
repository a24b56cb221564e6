"""Roll gaps of continuous futures series: where each roll sits, how big it is, and the evidence.

A roll gap is what the new front contract trades above the old one at the same moment: the
calendar spread, ``new - old`` in index points (``new / old`` as a ratio). Adjusted series subtract
it (:mod:`pipeline.market.continuous`). How it is measured depends on what the bars hold, in this
order of preference:

* ``observed_spread``: both contracts have a close on a common session (per-contract bars: the
  demo, an exchange file, or Yahoo's ``ESH26.CME`` tickers next to its ``ES=F`` feed). The spread
  of the two closes is the gap, exactly. For a feed the session must lie before the old contract's
  expiry session and at most ``max_spread_age_days`` before it.
* ``basis``: a front-month feed with its cash index (``RootSpec.cash_index``, stored as bars of the
  root under the index symbol). The basis ``futures - index`` is measured on the old contract's
  last session before its expiry session that has an index close, and on the roll session; the
  jump between the two is the gap. The index cancels the market's move between the two sessions,
  which the opening gap alone cannot (the March 2020 ES roll: opening gap -217.73 points, -8.9 %).
* ``carry_bounded``: a feed without an index. The gap cannot be measured: the opening gap of the
  roll session (``open - previous close``) also holds the market's move since the old contract's
  last price (on an expiry Friday its final settlement, fixed at the morning's open). The gap is
  estimated from carry instead: the mean carry rate (fraction of price per year) of the last
  ``carry_estimate_rolls`` rolls, this one included, each as measured or implied by its opening
  gap clipped to the carry bound, times this roll's price and years. A single day's market move
  then weighs 1/8 and never more than the bound; the roll is flagged ``estimated``.

The carry bound: a calendar spread is the cost of carrying the underlying from one expiry to the
next, ``price x (r - q) x T`` with r the financing rate, q the yield of holding it (dividends, a
coupon, a commodity's convenience yield net of storage) and T the time between the two expiries.
``RollParams.max_annual_carry`` bounds ``|r - q|`` (each root declares its own in the roots
registry: 7 % a year for an equity index or a Treasury, 8 % for gold, 300 % for crude oil, whose
one-month spreads reached a quarter of the price in the contango of December 2008 and April
2020), so no gap is ever larger than ``price x max_annual_carry x T``; a measurement beyond it
(a bad print, a stale close) is clipped to it and flagged ``clipped``. The price is the old
contract's last close before its expiry session, or the new contract's close where that one is
at or below zero (CLK20 settled at -37.63 the day before its expiry): a spread is a fraction of
a positive price.

Seasonal roots (``RootSpec.seasonal``: grains' crop years, the heating and driving seasons of
energy) do not carry at one rate all year: a ``carry_bounded`` estimate averages the past rolls
of the same pair of months (July to September corn) instead of the last rolls.

Where a vendor feed rolls (measured on the real files in ../shared/data, bench/bench_rolls.py):
Yahoo's ``ES=F``, ``NQ=F`` and ``YM=F`` stay on the expiring contract through its expiry
session. The expiry Friday's bar is mixed: its close is usually the expiring contract's final
settlement (fixed at the Friday open, while the index moves all day), sometimes the next
contract's price. The larger opening gap around an expiry sits between the expiry session and
the next one in 87 of 93 ES=F and 81 of 91 NQ=F expiries; against ^DJI the YM=F expiry close
sits with the old contract in 58 of 89 (2008-2024 almost always, 2004-2007 mostly with the new
one); ICE TF (TF1) against ^RUT in 16 of 36 (the old one until 2014, then mostly the new one).
So a feed is read, by calendar, as the contract expiring on or after each session
(:func:`pipeline.market.contracts.first_expiring_on_or_after`): the roll is on the first session
after the expiry session, known in advance, and the gap is measured from the session *before*
the expiry session, skipping the mixed bar (where that bar already holds the new contract, it
alone reads off by the spread). Every input of a roll is a bar on or before its roll session, so
appending bars never changes it.

Pure: polars and Python in, frames out; no clock, no I/O.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Literal

import polars as pl

from pipeline.market.contracts import Contract, parse_contract
from pipeline.market.roots import RootSpec

RollMethod = Literal["observed_spread", "basis", "carry_bounded"]
#: The column order and types of a roll table (one row per roll of one series).
ROLL_SCHEMA: dict[str, pl.DataType] = {
    "root": pl.String(),
    "roll_session": pl.Date(),  # CME trade date: the first session on the new contract
    "old_contract": pl.String(),  # e.g. ESH20
    "new_contract": pl.String(),  # e.g. ESM20
    "old_expiry": pl.Date(),  # the old contract's last trade date
    "method": pl.String(),  # observed_spread | basis | carry_bounded
    "estimated": pl.Boolean(),  # True: not measured (carry_bounded)
    "clipped": pl.Boolean(),  # the measurement exceeded the carry bound and was clipped to it
    "gap": pl.Float64(),  # new - old, index points: what the "difference" adjustment removes
    "ratio": pl.Float64(),  # new / old: what the "ratio" adjustment removes
    "measured_gap": pl.Float64(),  # the measurement before clipping, index points
    "before_session": pl.Date(),  # the old contract's session the gap is measured from
    "before_close": pl.Float64(),  # the old contract's close there, index points
    "before_index": pl.Float64(),  # the cash index close that session (basis only)
    "after_session": pl.Date(),  # the new contract's session (roll session; spread session)
    "after_close": pl.Float64(),  # the new contract's close there, index points
    "after_index": pl.Float64(),  # the cash index close that session (basis only)
    "basis_before": pl.Float64(),  # before_close - before_index, index points
    "basis_after": pl.Float64(),  # after_close - after_index, index points
    "opening_gap": pl.Float64(),  # open on the roll session - previous row's close, index points
    "carry_bound": pl.Float64(),  # largest |gap| carry allows: before_close x max carry x years
    "carry_years": pl.Float64(),  # years between the two expiries (calendar days / 365)
    "annual_carry": pl.Float64(),  # the gap as a carry rate: gap / before_close / carry_years
    "carry_rolls": pl.Int64(),  # carry_bounded: how many rolls' carry was averaged; else null
}
DAYS_PER_YEAR = 365.0


@dataclass(frozen=True)
class RollParams:
    """The numbers roll-gap estimation uses, with their units.

    ``max_annual_carry`` (7 % of price per year) bounds ``|r - q|``. Since 2000 the financing rate
    peaked at 6.5 % (Fed funds, 2000) against a Nasdaq-100 dividend yield near 0.1 %, so the
    widest true carry was about 6.4 % a year; the Dow's yield exceeded rates by up to about 4 %
    (2009). The basis-measured YM gaps in ../shared/data peak at 5.2 % annualised (December 2008).

    ``max_spread_age_days`` (14 calendar days): how long before the old contract's expiry a spread
    of two per-contract closes may have been observed to stand for the roll (Yahoo's per-contract
    tickers of the expiring contract stop being fetched at the calendar roll, 8 days before expiry;
    the spread itself drifts by a small part of the carry over two weeks).

    ``carry_estimate_rolls`` (8 rolls, two years): a roll without an index is sized by the feed's
    recent carry, the mean carry rate of this roll and the 7 before it (each as measured, or
    implied by its opening gap clipped to the bound). On the two feeds whose truth the basis gives
    (YM with ^DJI, TF1 with ^RUT, 2002-2026) the RMS error is 0.49 % / 0.59 % of price, against
    0.66 % / 1.02 % for this roll's clipped opening gap alone, 1.20 % / 1.41 % for the raw
    opening gap and 0.56 % / 0.62 % for no adjustment at all; 4 to 12 rolls give 0.48-0.63 %.
    """

    max_annual_carry: float = 0.07  # fraction of price per year
    max_spread_age_days: int = 14  # calendar days before the old contract's expiry
    carry_estimate_rolls: int = 8  # rolls (two years) averaged by a carry_bounded estimate
    seasonal: bool = False  # average the same month pair's past rolls (RootSpec.seasonal)

    @classmethod
    def for_spec(cls, spec: RootSpec) -> RollParams:
        """The defaults with the root's own carry bound and seasonality (roots registry)."""
        return cls(max_annual_carry=spec.max_annual_carry, seasonal=spec.seasonal)


def carry_years(old: Contract, new: Contract) -> float:
    """Years between the two contracts' expiries (calendar days / 365).

    >>> from pipeline.market.contracts import contract
    >>> from pipeline.market.roots import builtin_spec
    >>> es = builtin_spec("ES")
    >>> round(carry_years(contract(es, 2020, 3), contract(es, 2020, 6)), 4)  # 20 Mar -> 19 Jun
    0.2493
    """
    return (new.expiry - old.expiry).days / DAYS_PER_YEAR


def carry_bound(price: float, old: Contract, new: Contract, params: RollParams) -> float:
    """The largest roll gap carry allows between ``old`` and ``new`` at ``price``, index points.

    >>> from pipeline.market.contracts import contract
    >>> from pipeline.market.roots import builtin_spec
    >>> es = builtin_spec("ES")
    >>> round(carry_bound(2403.25, contract(es, 2020, 3), contract(es, 2020, 6), RollParams()), 2)
    41.94
    """
    return abs(price) * params.max_annual_carry * carry_years(old, new)


def _clip(value: float, bound: float) -> float:
    return max(-bound, min(bound, value))


@dataclass(frozen=True)
class FeedRows:
    """A front-month feed in session order, with what each roll may be measured from.

    ``contracts``: the contract each row is read as. ``index_close``: the cash index close by
    session (empty without an index). ``contract_close``: per-contract closes by (code, session)
    (empty without per-contract bars).
    """

    days: Sequence[date]
    opens: Sequence[float | None]
    closes: Sequence[float | None]
    contracts: Sequence[Contract]
    index_close: Mapping[date, float]
    contract_close: Mapping[tuple[str, date], float]


def feed_rolls(
    rows: FeedRows,
    root: str,
    *,
    params: RollParams = RollParams(),
) -> pl.DataFrame:
    """One ROLL_SCHEMA row per roll of a feed: every row whose contract differs from the row
    before's. Each roll reads only rows up to its roll session.

    A roll with nothing to measure it from (no per-contract spread, no basis, no open or previous
    close on the roll session) has null ``gap`` and ``ratio``.

    >>> from datetime import date
    >>> from pipeline.market.contracts import contract
    >>> from pipeline.market.roots import builtin_spec
    >>> h, m = contract(builtin_spec("ES"), 2026, 3), contract(builtin_spec("ES"), 2026, 6)
    >>> rows = FeedRows(
    ...     days=[date(2026, 3, 19), date(2026, 3, 20), date(2026, 3, 23)],
    ...     opens=[6000.0, 6010.0, 6060.0], closes=[6010.0, 6000.0, 6070.0],
    ...     contracts=[h, h, m],
    ...     index_close={date(2026, 3, 19): 6005.0, date(2026, 3, 23): 6040.0},
    ...     contract_close={})
    >>> r = feed_rolls(rows, "ES").row(0, named=True)
    >>> r["method"], r["before_session"], r["basis_before"], r["basis_after"], r["gap"]
    ('basis', datetime.date(2026, 3, 19), 5.0, 30.0, 25.0)
    >>> r["opening_gap"], r["estimated"], r["clipped"]
    (60.0, False, False)
    """
    out = []
    # Carry rate of each roll so far (fraction of price per year) with its pair of months.
    carries: list[tuple[tuple[int, int], float]] = []
    for i in range(1, len(rows.days)):
        old, new = rows.contracts[i - 1], rows.contracts[i]
        if new != old:
            pair = (old.month, new.month)
            history = [c for p, c in carries if p == pair or not params.seasonal]
            row, carry = _measure(rows, i, root, params, history)
            out.append(row)
            if carry is not None:
                carries.append((pair, carry))
    return pl.DataFrame(out, schema=ROLL_SCHEMA, orient="row")


@dataclass(frozen=True)
class _Measurement:
    method: RollMethod
    gap: float | None  # new - old, index points, before clipping
    ratio: float | None  # new / old, before clipping
    before_session: date
    before_close: float | None
    after_session: date
    after_close: float | None
    before_index: float | None = None
    after_index: float | None = None


def _measure(
    rows: FeedRows, i: int, root: str, params: RollParams, carries: list[float]
) -> tuple[tuple[object, ...], float | None]:
    """The ROLL_SCHEMA row of the roll on row ``i`` and the carry rate it contributes to later
    estimates (as measured, or implied by its own clipped opening gap); ``carries`` holds those
    of the feed's earlier rolls an estimate may average (the same pair of months for a seasonal
    root)."""
    old, new = rows.contracts[i - 1], rows.contracts[i]
    # The old contract's sessions before its expiry session (whose bar is mixed), latest first.
    before = []
    for j in range(i - 1, -1, -1):
        if rows.contracts[j] != old:
            break
        if rows.days[j] < old.expiry and rows.closes[j] is not None:
            before.append(j)
    previous_close, roll_open = rows.closes[i - 1], rows.opens[i]
    opening_gap = None
    if roll_open is not None and previous_close is not None:
        opening_gap = roll_open - previous_close
    m = (
        _by_spread(rows, old, new, rows.days[i], params)
        or _by_basis(rows, i, before)
        or _by_opening_gap(rows, i, before, opening_gap)
    )
    years = carry_years(old, new)
    price = _price_scale(m)
    bound = None if price is None else carry_bound(price, old, new, params)
    gap = ratio = carry = clipped = averaged = own = None
    if m.method == "carry_bounded":
        if m.gap is not None and price:
            rate = m.gap / price / years
            own = _clip(rate, params.max_annual_carry)
            clipped = own != rate
            window = [*carries[max(0, len(carries) - params.carry_estimate_rolls + 1) :], own]
            carry, averaged = sum(window) / len(window), len(window)
            gap, ratio = price * carry * years, 1.0 + carry * years
    else:
        fraction = params.max_annual_carry * years
        assert bound is not None and m.gap is not None and m.ratio is not None and price
        gap = _clip(m.gap, bound)
        ratio = max(1.0 - fraction, min(1.0 + fraction, m.ratio))
        clipped = gap != m.gap or ratio != m.ratio
        carry = own = gap / price / years
    row = (
        root,
        rows.days[i],
        old.code,
        new.code,
        old.expiry,
        m.method,
        m.method == "carry_bounded",
        clipped,
        gap,
        ratio,
        m.gap,
        m.before_session,
        m.before_close,
        m.before_index,
        m.after_session,
        m.after_close,
        m.after_index,
        _minus(m.before_close, m.before_index),
        _minus(m.after_close, m.after_index),
        opening_gap,
        bound,
        years,
        carry,
        averaged,
    )
    return row, own


def _price_scale(m: _Measurement) -> float | None:
    """The positive price a roll's carry is a fraction of: the old contract's close before its
    expiry session, or the new contract's close where the old one is at or below zero."""
    for price in (m.before_close, m.after_close):
        if price is not None and price > 0:
            return price
    return None


def _minus(a: float | None, b: float | None) -> float | None:
    return None if a is None or b is None else a - b


def _by_spread(
    rows: FeedRows, old: Contract, new: Contract, roll_day: date, params: RollParams
) -> _Measurement | None:
    spread = _observed_spread(rows, old, new, roll_day, params)
    if spread is None:
        return None
    session, close_old, close_new = spread
    return _Measurement(
        "observed_spread",
        close_new - close_old,
        close_new / close_old,
        session,
        close_old,
        session,
        close_new,
    )


def _by_basis(rows: FeedRows, i: int, before: list[int]) -> _Measurement | None:
    """The jump in futures - index from the old contract's last session with an index close
    before its expiry session to the roll session (which must have one: no later bar is used)."""
    at = next((j for j in before if rows.days[j] in rows.index_close), None)
    after_index = rows.index_close.get(rows.days[i])
    after_close, before_close = rows.closes[i], None if at is None else rows.closes[at]
    if at is None or after_index is None or after_close is None or before_close is None:
        return None
    before_index = rows.index_close[rows.days[at]]
    return _Measurement(
        "basis",
        (after_close - after_index) - (before_close - before_index),
        (after_close / after_index) / (before_close / before_index),
        rows.days[at],
        before_close,
        rows.days[i],
        after_close,
        before_index,
        after_index,
    )


def _by_opening_gap(
    rows: FeedRows, i: int, before: list[int], opening_gap: float | None
) -> _Measurement:
    """The roll session's opening gap (the carry bound is taken at the old contract's last close
    before its expiry session, or at the previous row's when the feed has none)."""
    reference = before[0] if before else i - 1
    previous_close, roll_open = rows.closes[i - 1], rows.opens[i]
    ratio = None
    if roll_open is not None and previous_close:
        ratio = roll_open / previous_close
    return _Measurement(
        "carry_bounded",
        opening_gap,
        ratio,
        rows.days[reference],
        rows.closes[reference],
        rows.days[i],
        rows.closes[i],
    )


def _observed_spread(
    rows: FeedRows, old: Contract, new: Contract, roll_day: date, params: RollParams
) -> tuple[date, float, float] | None:
    """(session, old close, new close) on the latest session before the old contract's expiry
    session, and not older than ``max_spread_age_days``, on which both contracts have a close."""
    if not rows.contract_close:
        return None
    earliest = old.expiry - timedelta(days=params.max_spread_age_days)
    day = min(old.expiry - timedelta(days=1), roll_day)
    while day >= earliest:
        close_old = rows.contract_close.get((old.code, day))
        close_new = rows.contract_close.get((new.code, day))
        if close_old is not None and close_new is not None and close_old > 0:
            return day, close_old, close_new
        day -= timedelta(days=1)
    return None


def contract_rolls(
    measured: pl.DataFrame,
    fronts: pl.DataFrame,
    spec: RootSpec,
    *,
    params: RollParams = RollParams(),
) -> pl.DataFrame:
    """ROLL_SCHEMA rows for a series built from per-contract bars (method ``observed_spread``).

    ``measured``: one row per roll with ``roll_session``, ``old``, ``new``, ``session_date`` (the
    spread session), ``close_old`` and ``close_new``. ``fronts``: the series' rows (``session_date``,
    ``open``, ``close``, ``is_roll``) for the opening gap. The carry bound is evidence only here:
    a spread of two real closes is never clipped.
    """
    root = spec.root
    if measured.is_empty():
        return pl.DataFrame(schema=ROLL_SCHEMA)
    opening = fronts.sort("session_date").select(
        pl.col("session_date").alias("roll_session"),
        (pl.col("open") - pl.col("close").shift(1)).alias("opening_gap"),
    )
    rows = []
    for row in measured.join(opening, on="roll_session", how="left").iter_rows(named=True):
        old, new = parse_contract(row["old"], spec), parse_contract(row["new"], spec)
        spread = row["close_new"] - row["close_old"]
        scale = next((p for p in (row["close_old"], row["close_new"]) if p and p > 0), None)
        rows.append(
            (
                root,
                row["roll_session"],
                old.code,
                new.code,
                old.expiry,
                "observed_spread",
                False,
                False,
                spread,
                row["close_new"] / row["close_old"] if row["close_old"] else None,
                spread,
                row["session_date"],
                row["close_old"],
                None,
                row["session_date"],
                row["close_new"],
                None,
                None,
                None,
                row["opening_gap"],
                carry_bound(scale, old, new, params) if scale else None,
                carry_years(old, new),
                spread / scale / carry_years(old, new) if scale else None,
                None,
            )
        )
    return pl.DataFrame(rows, schema=ROLL_SCHEMA, orient="row").sort("roll_session")
