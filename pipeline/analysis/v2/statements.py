"""Every structure fact a v2 note prints, with its definition, checked against the bars.

A call table says a fact by setting its column (``higher_lows_since``, ``pullback_depth``,
``line_members`` ...); :func:`false_statements` re-derives each said fact from the bars alone, by
the definition in its checker's docstring, with a plain implementation independent of the one
that produced it (slow and obvious: slices and loops), and reports every call where it does not
hold. The quality report runs it on every call of the real files; the tests on generated and
demo histories. The same definitions judge v1's tables (the columns v1 shares mean the same words
in its note), which is how v1's false statements are counted.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date

import numpy as np
import polars as pl

from pipeline.analysis.swings import swing_points
from pipeline.analysis.v2.params import V2Params

#: (fact, the perspective that says it, upward): a breakout to new highs, its mirror.
BREAKOUTS: tuple[tuple[str, str, bool], ...] = (
    ("breakout", "breakout to new highs", True),
    ("breakdown", "breakdown to new lows", False),
)
FALSE_SCHEMA = {"session_date": pl.Date, "fact": pl.String, "detail": pl.String}


@dataclass
class _Bars:
    """The table as plain arrays, and its confirmed swings, for the checkers."""

    table: pl.DataFrame
    dates: list[date]
    index_of: dict[date, int]
    high: np.ndarray
    low: np.ndarray
    close: np.ndarray
    atr: np.ndarray
    sma50: np.ndarray
    sma200: np.ndarray
    offset: np.ndarray
    factor: np.ndarray
    swings: dict[tuple[str, date], tuple[float, int]]  # (kind, pivot date) -> (price, confirm)
    lows: list[tuple[int, float, int]]  # (pivot index, price, confirm index), by pivot
    highs: list[tuple[int, float, int]]
    p: V2Params

    def column(self, name: str) -> list:
        return (
            self.table[name].to_list() if name in self.table.columns else [None] * len(self.dates)
        )


def _bars(table: pl.DataFrame, p: V2Params) -> _Bars:
    def arr(name: str) -> np.ndarray:
        return table[name].cast(pl.Float64).fill_null(np.nan).to_numpy()

    swings = swing_points(table, k=p.fractal_k)
    by_key = {
        (kind, d): (price, confirm)
        for kind, d, price, confirm in swings.select(
            "kind", "pivot_date", "price", "confirm_index"
        ).rows()
    }
    rows = swings.select("kind", "pivot_index", "price", "confirm_index").rows()
    dates = table["session_date"].to_list()
    return _Bars(
        table=table,
        dates=dates,
        index_of={d: j for j, d in enumerate(dates)},
        high=arr("high"),
        low=arr("low"),
        close=arr("close"),
        atr=arr("atr14"),
        sma50=arr("sma50"),
        sma200=arr("sma200"),
        offset=arr("offset"),
        factor=arr("factor"),
        swings=by_key,
        lows=sorted((pi, pr, ci) for kind, pi, pr, ci in rows if kind == "low"),
        highs=sorted((pi, pr, ci) for kind, pi, pr, ci in rows if kind == "high"),
        p=p,
    )


# --- the facts ------------------------------------------------------------------------------


def higher_lows_since(b: _Bars, i: int, since: date, count: int) -> str | None:
    """ "Higher lows since D (n rising confirmed swing lows)": the confirmed swing lows (confirmed
    by session i) with pivots on or after D are n >= ``structure_min_swings``, the first is on D,
    each is higher than the one before, and no close from D to i is below the first of them."""
    return _run_since(b, i, since, count, b.lows, rising=True)


def lower_highs_since(b: _Bars, i: int, since: date, count: int) -> str | None:
    """ "Lower highs since D": the mirror of :func:`higher_lows_since` (each confirmed swing high
    since D lower than the one before, no close above the first since D)."""
    return _run_since(b, i, since, count, b.highs, rising=False)


def _run_since(b, i, since, count, pivots, *, rising: bool) -> str | None:
    start = b.index_of.get(since)
    if start is None:
        return f"{since} is not a session"
    run = [(pi, pr) for pi, pr, ci in pivots if ci <= i and pi >= start]
    if len(run) < b.p.structure_min_swings or len(run) != count:
        return f"{len(run)} confirmed swings since {since}, said {count}"
    if run[0][0] != start:
        return f"no swing on {since}"
    prices = [pr for _, pr in run]
    ordered = all((y > x) if rising else (y < x) for x, y in itertools.pairwise(prices))
    if not ordered:
        return f"swings since {since} not {'rising' if rising else 'falling'}: {prices}"
    closes = b.close[start : i + 1]
    beyond = closes.min() < prices[0] if rising else closes.max() > prices[0]
    if beyond:
        return f"a close since {since} went {'below' if rising else 'above'} {prices[0]}"
    return None


def above_sma50_since(b: _Bars, i: int, since: date) -> str | None:
    """ "Held above the 50-day since D": every close from D to i is above that session's SMA50,
    the close before D is not (or has no SMA50), and i - D + 1 >= ``sma_hold_min_sessions``."""
    return _sma_hold(b, i, since, above=True)


def below_sma50_since(b: _Bars, i: int, since: date) -> str | None:
    """ "Stayed below the 50-day since D": the mirror of :func:`above_sma50_since`."""
    return _sma_hold(b, i, since, above=False)


def _sma_hold(b, i, since, *, above: bool) -> str | None:
    start = b.index_of.get(since)
    if start is None:
        return f"{since} is not a session"
    c, s = b.close[start : i + 1], b.sma50[start : i + 1]
    if not ((c > s) if above else (c < s)).all():
        return f"a close since {since} on the other side of the SMA50"
    if i - start + 1 < b.p.sma_hold_min_sessions:
        return f"only {i - start + 1} sessions"
    if start > 0 and np.isfinite(b.sma50[start - 1]):
        before = (
            b.close[start - 1] > b.sma50[start - 1]
            if above
            else b.close[start - 1] < b.sma50[start - 1]
        )
        if before:
            return f"the streak began before {since}"
    return None


def sma200_position(b: _Bars, i: int, dist_atr: float, well_above: bool) -> str | None:
    """ "Above / below the 200-day (x ATR)": close minus SMA200 over ATR is the printed distance
    (its sign says above or below); "well above" means that distance is >= ``well_above_200_atr``."""
    actual = (b.close[i] - b.sma200[i]) / b.atr[i]
    if abs(actual - dist_atr) > 1e-3:
        return f"distance {actual:.4f} ATR, said {dist_atr:.4f}"
    if bool(well_above) != (actual >= b.p.well_above_200_atr):
        return f"well above said {well_above} at {actual:.2f} ATR"
    return None


#: (toward, against, impulse start, extreme, pullback's furthest point) -> the speed word a
#: methodology's definition gives that pullback (None: no word). v2's: points per session of
#: each whole leg.
SpeedRule = Callable[[np.ndarray, np.ndarray, int, int, int], str | None]


def whole_leg_speed(
    toward: np.ndarray, against: np.ndarray, start: int, extreme: int, back: int
) -> str | None:
    """v2's speed: impulsive when the pullback lost more points per session than the whole
    impulse gained per session."""
    impulse, given = toward[extreme] - against[start], toward[extreme] - against[back]
    fast = given / max(back - extreme, 1) > impulse / max(extreme - start, 1)
    return "impulsive" if fast else "corrective"


def last_pullback(
    b: _Bars, i: int, up: bool, retracement: float | None, depth: str | None, speed: str | None,
    extreme: date | None, erased: bool, speed_rule: SpeedRule = whole_leg_speed,
) -> str | None:  # fmt: skip
    """ "The last pullback was shallow (r% of the prior impulse) and corrective": recomputed from
    highs and lows by its definition (:func:`.pullback.pullback`): the extreme is the highest high
    (up) of the last ``bias_high_window`` sessions, the impulse rose to it from the lowest low
    since the last higher high at most ``impulse_lookback`` sessions before it, the
    pullback is the lowest low since the extreme; r = given back / impulse, never above 100 % for
    a "pullback" (beyond that the impulse is *erased*, which is said instead); depth by the
    shallow / deep thresholds; speed by points per session of each leg."""
    toward, against = (b.high, b.low) if up else (-b.low, -b.high)
    first = max(0, i - b.p.bias_high_window + 1)
    window = toward[first : i + 1]
    e = first + int(np.flatnonzero(window == window.max())[-1])
    if e == i:
        return "a pullback was said while price is at the extreme" if depth or erased else None
    stop = e
    for j in range(e - 1, max(-1, e - b.p.impulse_lookback - 1), -1):
        if toward[j] > toward[e]:
            break
        stop = j
    segment = against[stop : e + 1]
    s = stop + int(np.flatnonzero(segment == segment.min())[-1])
    after = against[e + 1 : i + 1]
    back_j = e + 1 + int(np.flatnonzero(after == after.min())[0])
    impulse = toward[e] - against[s]
    if s == e or not impulse > 0:  # the extreme bar's own range is no impulse
        return "a pullback was said without an impulse" if depth or erased else None
    given = toward[e] - against[back_j]
    r = given / impulse
    if erased:
        return None if r > 1 else f"'erased' said at {r:.3f}"
    if depth is None:
        return None
    if extreme is not None and b.dates[e] != extreme:
        return f"extreme on {b.dates[e]}, said {extreme}"
    if r > 1:
        return f"a {r:.0%} retracement called a {depth} pullback"
    if retracement is not None and abs(retracement - r) > 1e-3:
        return f"retracement {r:.4f}, said {retracement}"
    want = (
        "shallow"
        if r <= b.p.shallow_retracement
        else "deep"
        if r > b.p.deep_retracement
        else "moderate"
    )
    if depth != want:
        return f"depth {want}, said {depth}"
    if speed != speed_rule(toward, against, s, e, back_j):
        return f"speed said {speed}"
    return None


def level_members(
    b: _Bars, i: int, low: float, high: float, members: str | None, tick: float
) -> str | None:
    """A level's reason names only what is in it: each ``kind:date`` is a confirmed swing of that
    kind (confirmed by i) or the bar of that date, whose price (high or low) lies in the zone; a
    ``:flipped`` swing high has the last two settlements above it by more than
    ``acceptance_atr`` ATR (prior breakout structure; swing lows mirror); ``sma50`` / ``sma200``
    lie in the zone on i. Zone bounds are published prices: compared within a tick."""
    if not members:
        return None
    lo = low * b.factor[i] + b.offset[i] - tick * b.factor[i]
    hi = high * b.factor[i] + b.offset[i] + tick * b.factor[i]
    acc = b.p.acceptance_atr
    for token in members.split(","):
        parts = token.split(":")
        kind = parts[0]
        if kind in ("sma50", "sma200"):
            value = b.sma50[i] if kind == "sma50" else b.sma200[i]
            if not lo <= value <= hi:
                return f"{kind} {value:.2f} not in [{lo:.2f}, {hi:.2f}]"
            continue
        day = date.fromisoformat(parts[1])
        j = b.index_of.get(day)
        if j is None or j > i:
            return f"{token}: no such session by {b.dates[i]}"
        if kind in ("swing_high", "swing_low"):
            found = b.swings.get(("high" if kind == "swing_high" else "low", day))
            if found is None or found[1] > i:
                return f"{token}: not a confirmed {kind} by {b.dates[i]}"
            price = found[0]
        elif kind in ("recent_high", "recent_low"):
            price = b.high[j] if kind == "recent_high" else b.low[j]
        else:
            return f"unknown member {token}"
        if not lo <= price <= hi:
            return f"{token} at {price:.2f} not in [{lo:.2f}, {hi:.2f}]"
        if len(parts) > 2 and parts[2] == "flipped":
            c, pc = b.close[i], b.close[i - 1]
            t, pt = acc * b.atr[i], acc * b.atr[i - 1]
            held = (
                (c > price + t and pc > price + pt)
                if kind == "swing_high"
                else (c < price - t and pc < price - pt)
            )
            if not held:
                return f"{token}: price has not accepted beyond it"
    return None


def fall_from_high(b: _Bars, i: int, fall_pct: float, high_day: date) -> str | None:
    """ "Down x% from the high of D": D's high is the highest high of the last ``fall_window``
    sessions and the close is x below it, as a fraction of it in the session's front frame."""
    j = b.index_of.get(high_day)
    first = max(0, i - b.p.fall_window + 1)
    if j is None or not first <= j <= i:
        return f"{high_day} is not within the last {b.p.fall_window} sessions"
    if b.high[j] < b.high[first : i + 1].max():
        return f"the high of {high_day} is not the highest"
    actual = 1 - (b.close[i] - b.offset[i]) / (b.high[j] - b.offset[i])
    if abs(actual - fall_pct) > 1e-6:
        return f"fall {actual:.6f}, said {fall_pct:.6f}"
    return None


def trend_structure(b: _Bars, i: int, structure: str) -> str | None:
    """The swing structure a breakdown (recovery) trend rule read: "lower highs" = the last
    swing high confirmed by session i is below the one confirmed before it; "under its last swing
    low" = the close below the last confirmed swing low. Higher lows / above the last swing high
    mirror."""
    highs = [pr for _, pr, ci in sorted(b.highs, key=lambda h: h[2]) if ci <= i]
    lows = [pr for _, pr, ci in sorted(b.lows, key=lambda h: h[2]) if ci <= i]
    close = b.close[i]
    holds = {
        "lower_highs": len(highs) >= 2 and highs[-1] < highs[-2],
        "higher_lows": len(lows) >= 2 and lows[-1] > lows[-2],
        "below_swing_low": bool(lows) and close < lows[-1],
        "above_swing_high": bool(highs) and close > highs[-1],
    }
    if structure not in holds:
        return f"unknown structure {structure}"
    return None if holds[structure] else f"{structure} does not hold"


def rebound_from(
    b: _Bars, i: int, high_day: date, low_day: date, depth: float, recovered: float
) -> str | None:
    """ "Rebounding: it has won back R of the D fall from the high of H to the low of L": no
    high from H to L is above H's (the fall's top), no low from L to session i is below L's (no
    new low since), D = L's low below H's high (front frame) and R = (close - L's low) / (H's
    high - L's low)."""
    h, lo = b.index_of.get(high_day), b.index_of.get(low_day)
    if h is None or lo is None or not h <= lo <= i:
        return f"{high_day} / {low_day} are not a high and a later low by {b.dates[i]}"
    if b.high[h] < b.high[h : lo + 1].max():
        return f"a higher high than {high_day} before the low of {low_day}"
    if b.low[lo] > b.low[lo : i + 1].min():
        return f"a lower low than {low_day} since"
    top, bottom, off = b.high[h], b.low[lo], b.offset[i]
    if abs((1 - (bottom - off) / (top - off)) - depth) > 1e-5:
        return f"depth said {depth}"
    if abs((b.close[i] - bottom) / (top - bottom) - recovered) > 1e-5:
        return f"recovered said {recovered}"
    return None


def breakout_held(b: _Bars, i: int, day: date, level: float, up: bool, tick: float) -> str | None:
    """ "Broke out to new highs on D above L and holds": the close of D is above every high of
    the ``breakout_window`` sessions before it (L being the highest, set at least
    ``breakout_base_sessions`` before D), D is at most ``breakout_memory_sessions`` back and every
    close since D is above L. Breakdowns mirror."""
    j = b.index_of.get(day)
    w = b.p.breakout_window
    if j is None or j < w or not 0 <= i - j <= b.p.breakout_memory_sessions:
        return f"{day} is not a recent session with {w} sessions before it"
    prior = b.high[j - w : j] if up else b.low[j - w : j]
    extreme = prior.max() if up else prior.min()
    where = j - w + int(np.flatnonzero(prior == extreme)[-1])
    # A stored level is rounded to the tick in the front contract's frame.
    if (
        abs(extreme - level) > tick * b.factor[i] / 2 + 1e-9
        or j - where < b.p.breakout_base_sessions
    ):
        return f"the cleared extreme is {extreme} ({b.dates[where]}), said {level}"
    closes = b.close[j : i + 1]
    if not ((closes > level).all() if up else (closes < level).all()):
        return "a close since went back through the level"
    return None


# --- running every check ---------------------------------------------------------------------


def false_statements(
    table: pl.DataFrame,
    *,
    tick: float,
    params: V2Params | None = None,
    speed_rule: SpeedRule = whole_leg_speed,
) -> pl.DataFrame:
    """Every said fact of every call in ``table`` (a v1 or v2 call table, internal frame) that
    does not hold on the table's own bars: (session_date, fact, detail). Empty = all true.

    Facts a table does not carry are skipped (v1 has no SMA50 holds, level members ...).
    ``speed_rule``: the methodology's definition of a pullback's speed (v2's by default).
    """
    p = params or V2Params()
    b = _bars(table, p)
    has_call = table["has_call"].to_list()
    cols = {c: b.column(c) for c in _COLUMNS}
    up = [o == "up" for o in cols["orientation"]]
    found: list[tuple[date, str, str]] = []

    def check(i: int, fact: str, fn: Callable[..., str | None], *args: object) -> None:
        problem = fn(b, i, *args)
        if problem is not None:
            found.append((b.dates[i], fact, problem))

    for i, call in enumerate(has_call):
        if not call:
            continue
        if cols["higher_lows_since"][i] is not None:
            check(i, "higher_lows", higher_lows_since, cols["higher_lows_since"][i],
                  cols["higher_lows_count"][i])  # fmt: skip
        if cols["lower_highs_since"][i] is not None:
            check(i, "lower_highs", lower_highs_since, cols["lower_highs_since"][i],
                  cols["lower_highs_count"][i])  # fmt: skip
        if cols["above_sma50_since"][i] is not None:
            check(i, "above_sma50", above_sma50_since, cols["above_sma50_since"][i])
        if cols["below_sma50_since"][i] is not None:
            check(i, "below_sma50", below_sma50_since, cols["below_sma50_since"][i])
        if cols["dist_sma200_atr"][i] is not None:
            check(i, "sma200_position", sma200_position, cols["dist_sma200_atr"][i],
                  cols["well_above_sma200"][i])  # fmt: skip
        if cols["pullback_depth"][i] is not None or cols["impulse_erased"][i]:
            check(i, "pullback", last_pullback, up[i], cols["pullback_retracement"][i],
                  cols["pullback_depth"][i], cols["pullback_speed"][i],
                  cols["pullback_extreme_date"][i], bool(cols["impulse_erased"][i]),
                  speed_rule)  # fmt: skip
        for prefix in ("line", "bias", "ext", "deep"):
            members = cols[f"{prefix}_members"][i]
            if members:
                check(i, f"{prefix}_members", level_members, cols[f"{prefix}_low"][i],
                      cols[f"{prefix}_high"][i], members, tick)  # fmt: skip
        if cols["trend_structure"][i] is not None:
            check(i, "trend_structure", trend_structure, cols["trend_structure"][i])
        perspective = cols["perspective"][i] or ""
        if perspective.startswith("rebound after"):
            # The note names the fall from the recent high when price is still 10 % below it,
            # else the selloff of the last rebound_window sessions (report/notes/v2_parts.md.j2).
            fall = cols["fall_pct"][i] is not None and cols["fall_pct"][i] >= p.selloff_fall_pct
            names = ("fall_high_date", "fall_low_date", "fall_depth_pct", "fall_recovered")
            if not fall:
                names = (
                    "selloff_high_date",
                    "selloff_low_date",
                    "selloff_pct",
                    "selloff_recovered",
                )
            values = [cols[n][i] for n in names]
            if None not in values:
                check(i, "rebound", rebound_from, *values)
        if cols["perspective"][i] in ("crash", "selloff") and cols["fall_high_date"][i]:
            check(i, "fall", fall_from_high, cols["fall_pct"][i], cols["fall_high_date"][i])
        for kind, said_by, upward in BREAKOUTS:
            day, level = cols[f"{kind}_date"][i], cols[f"{kind}_level"][i]
            if day is not None and cols["perspective"][i] == said_by:
                check(i, kind, breakout_held, day, level, upward, tick)
    return pl.DataFrame(found, schema=FALSE_SCHEMA, orient="row")


_COLUMNS = (
    "orientation", "perspective", "higher_lows_since", "higher_lows_count", "lower_highs_since",
    "lower_highs_count", "above_sma50_since", "below_sma50_since", "dist_sma200_atr",
    "well_above_sma200", "pullback_retracement", "pullback_depth", "pullback_speed",
    "pullback_extreme_date", "impulse_erased", "line_members", "bias_members", "ext_members",
    "deep_members", "line_low", "line_high", "bias_low", "bias_high", "ext_low", "ext_high",
    "deep_low", "deep_high", "fall_pct", "fall_high_date", "breakout_date", "breakout_level",
    "breakdown_date", "breakdown_level", "trend_structure", "fall_low_date", "fall_depth_pct",
    "fall_recovered", "selloff_high_date", "selloff_low_date", "selloff_pct", "selloff_recovered",
)  # fmt: skip
