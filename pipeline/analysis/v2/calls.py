"""Methodology v2's call table: every session's call in one causal pass over a continuous series.

Same shape and promise as v1's :func:`pipeline.analysis.calls.call_table` (one row per session,
row D depends only on rows <= D, so the nightly call equals the backfill's row), with v2's rules:
tight zones kept from session to session (:mod:`.levels`), the trend and perspective rules of
:mod:`.regime`, and the structure facts of :mod:`.structure` and :mod:`.pullback`. Every v1
column that means the same thing keeps its name; v2 adds its own (level reasons, members, change
reasons and start sessions; trend and perspective rules; falls, rebounds, breakouts; the facts'
anchor dates).

Probabilities come from the probability model (:mod:`pipeline.analysis.probability_model`) on
v2's own barriers, with v1's point-in-time base rates beside them as evidence, in one place
(:func:`scenario_probabilities`).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Sequence
from datetime import date

import numpy as np
import polars as pl

from pipeline.analysis import steps
from pipeline.analysis.memo import Remembered, own_fields, series_key
from pipeline.analysis.steps import Peers
from pipeline.analysis.swings import swing_points
from pipeline.analysis.v2.levels import LEVEL_ROLES, Level, LevelTracker, SessionInput
from pipeline.analysis.v2.params import V2Params
from pipeline.analysis.v2.pullback import pullback
from pipeline.analysis.v2.regime import with_perspective, with_trend
from pipeline.analysis.v2.structure import breakouts, falls_and_rebounds, sma_holds, swing_runs
from pipeline.analysis.v2.zones import (
    RECENT_HIGH,
    RECENT_LOW,
    SMA50,
    SMA200,
    SWING_HIGH,
    SWING_LOW,
    Anchor,
    Zone,
)
from pipeline.text import format_date_long, format_date_short


def call_table(
    series: pl.DataFrame, *, tick: float, params: V2Params | None = None, peers: Peers | None = None
) -> pl.DataFrame:
    """Every session's v2 call on one root (see the module docstring).

    ``series``: a continuous series sorted by session_date (v1's SERIES_COLUMNS). ``peers``: other
    roots' continuous series for relative strength. Rows before ``warmup_sessions`` sessions carry
    indicators but no call (``has_call`` false).
    """
    p = params or V2Params()
    table = levels_table(series, tick=tick, params=p)
    table = steps.with_outcomes(table, p)
    table = scenario_probabilities(table, p)
    return with_peer_readings(table, series, peers, p)


def levels_table(series: pl.DataFrame, *, tick: float, params: V2Params) -> pl.DataFrame:
    """v2's call table up to its levels (indicators, structure facts, trend and perspective,
    the kept zones and the pullback), before outcomes and probabilities: the step a later
    methodology composes (v3 moves barriers that lie too far, then resolves and forecasts).

    A pure function of its inputs, remembered for the last few inputs of the process: v2 and
    v3 of one root (a nightly or a backfill computes both, often at once on two threads) build
    this table once. The key is the series' content, the tick and v2's own parameters (a
    subclass's extra fields do not change this table); a second caller with the same key waits
    for the first instead of building it again."""
    key = (series_key(series), tick, own_fields(params, V2Params))
    return LEVELS_TABLES.get(key, lambda: _levels_table(series, tick=tick, params=params))


#: Tables remembered: a few roots' worth (one table is a few MB for 25 years of sessions).
LEVELS_TABLES = Remembered(8)


def forget_levels_tables() -> None:
    """Forget the remembered levels tables (a benchmark measures building them)."""
    LEVELS_TABLES.clear()


def _levels_table(series: pl.DataFrame, *, tick: float, params: V2Params) -> pl.DataFrame:
    table = steps.with_indicators(steps.check_series(series), params)
    return levels_from_indicators(table, tick=tick, params=params)


def levels_from_indicators(table: pl.DataFrame, *, tick: float, params: V2Params) -> pl.DataFrame:
    """v2's structure facts, trend and perspective, kept zones and pullback on a table that
    holds the series and its indicators (:func:`steps.with_indicators` or a later methodology's
    own: v4 puts the series on the trade calendar first). Every row is a session with a bar."""
    p = params
    swings = swing_points(table, k=p.fractal_k)
    table = _with_structure(table, swings, p)
    table = with_perspective(with_trend(table, p), p)
    return _with_levels(table, swings, p, tick=tick)


def with_peer_readings(
    table: pl.DataFrame, series: pl.DataFrame, peers: Peers | None, p: V2Params
) -> pl.DataFrame:
    """Relative strength against each peer, with v2's ``rs_<PEER>_no_longer_lagging``."""
    return steps.with_relative_strength(
        table, series, peers or {}, p, each=lambda t, peer: _no_longer_lagging(t, peer, p)
    )


def _with_structure(table: pl.DataFrame, swings: pl.DataFrame, p: V2Params) -> pl.DataFrame:
    close = table["close"].to_numpy().astype(float)
    dates = table["session_date"].to_list()
    sma50 = table["sma50"].fill_null(np.nan).to_numpy().astype(float)
    runs = swing_runs(swings, close, dates, p)
    above, below = sma_holds(close, sma50, dates, p)
    facts = pl.DataFrame(
        {
            **runs,
            "above_sma50_since": above,
            "below_sma50_since": below,
        },
        schema={
            "higher_lows_since": pl.Date,
            "higher_lows_count": pl.Int64,
            "lower_highs_since": pl.Date,
            "lower_highs_count": pl.Int64,
            "last_swing_high": pl.Float64,
            "prev_swing_high": pl.Float64,
            "last_swing_low": pl.Float64,
            "prev_swing_low": pl.Float64,
            "above_sma50_since": pl.Date,
            "below_sma50_since": pl.Date,
        },
    )
    table = pl.concat(
        [table, facts, falls_and_rebounds(table, p), breakouts(table, p)], how="horizontal"
    )
    day = pl.col("session_date")
    return table.with_columns(
        day.gather(pl.col(f"{name}_index")).alias(f"{name}_date")
        for name in ("fall_high", "fall_low", "selloff_high", "selloff_low")
    ).with_columns(
        pl.when(pl.col(f"{name}_index").is_not_null())
        .then(day.gather(pl.col(f"{name}_index").fill_null(0)))
        .alias(f"{name}_date")
        for name in ("breakout", "breakdown")
    )


_LEVEL_FIELDS: dict[str, pl.DataType] = {
    **steps.LEVEL_FIELD_TYPES,
    "reason": pl.String(),  # why the zone is there, in words
    "members": pl.String(),  # what is in it today: kind:pivot-date[:flipped] | sma50 | sma200
    "change": pl.String(),  # CHANGE_REASONS key when it changed this session, else null
    "since": pl.Date(),  # the session this level was picked on
}
#: v2's extra fields of each named level (beyond v1's low/high/score/touches/sources/projected).
LEVEL_EXTRA_FIELDS: tuple[str, ...] = ("reason", "members", "change", "since")
_LOOP_COLUMNS: dict[str, pl.DataType] = {
    "orientation": pl.String(),
    **steps.level_schema(_LEVEL_FIELDS),
    "pullback_retracement": pl.Float64(),
    "pullback_depth": pl.String(),
    "pullback_speed": pl.String(),
    "pullback_start_date": pl.Date(),
    "pullback_extreme_date": pl.Date(),
    "pullback_low_date": pl.Date(),
    "impulse_erased": pl.Boolean(),
}


def _with_levels(
    table: pl.DataFrame, swings: pl.DataFrame, p: V2Params, *, tick: float
) -> pl.DataFrame:
    n = table.height
    names = (
        "session_date", "high", "low", "close", "sma50", "sma200", "sma50_change",
        "sma200_change", "atr14", "recent_high", "recent_low", "warm", "primary_trend",
        "sma50_side",
    )  # fmt: skip
    cols = {c: table[c].to_list() for c in names}
    dates: list[date] = cols["session_date"]
    high, low, close = cols["high"], cols["low"], cols["close"]
    atr_col, sma50_col = cols["atr14"], cols["sma50"]
    recent_high_col, recent_low_col = cols["recent_high"], cols["recent_low"]
    # The bar of the recent high / low (latest of equals), to name it by its date.
    recent_high_at = latest_extreme_index(high, p.bias_high_window, highest=True)
    recent_low_at = latest_extreme_index(low, p.bias_high_window, highest=False)
    out: dict[str, list[object]] = {name: [] for name in _LOOP_COLUMNS}
    pivots = swings.select("pivot_index", "price", "kind", "confirm_index").rows()
    next_pivot = 0
    visible: deque[tuple[int, float, bool]] = deque()  # (pivot_index, price, is_high)
    tracker = LevelTracker(p)
    describe = _Describer(dates)
    lookback, acc_atr = p.zone_lookback, p.acceptance_atr
    recency_per_session = p.recency_weight / lookback
    for i in range(n):
        new_structure = False
        while next_pivot < len(pivots) and pivots[next_pivot][3] <= i:
            pivot_index, price, kind, _ = pivots[next_pivot]
            next_pivot += 1
            visible.append((pivot_index, price, kind == "high"))
            new_structure = True
        while visible and visible[0][0] <= i - lookback:
            visible.popleft()
        atr = atr_col[i]
        if not cols["warm"][i] or atr is None or not atr > 0 or cols["sma200"][i] is None:
            for values in out.values():
                values.append(None)
            continue
        c, pc = close[i], close[i - 1]
        prev_atr = atr_col[i - 1] if atr_col[i - 1] is not None else atr
        sma50, sma200 = sma50_col[i], cols["sma200"][i]
        # Accepted above / below (two settlements beyond by more than acceptance_atr ATR).
        accepted_above = min(c - acc_atr * atr, pc - acc_atr * prev_atr)
        accepted_below = max(c + acc_atr * atr, pc + acc_atr * prev_atr)

        def anchors_of(
            up: bool, i: int = i, c: float = c, atr: float = atr, sma50: float = sma50,
            sma200: float = sma200, above: float = accepted_above, below: float = accepted_below,
        ) -> list[Anchor]:  # fmt: skip
            """The session's anchors in the call's frame (prices negated for a down call)."""
            lo, hi = c - p.zone_band_atr * atr, c + p.zone_band_atr * atr
            base = p.touch_weight + p.recency_weight - recency_per_session * i
            bonus = p.breakout_weight
            sign = 1.0 if up else -1.0
            high_source, low_source = (SWING_HIGH, SWING_LOW) if up else (SWING_LOW, SWING_HIGH)
            out_anchors = []
            for pivot_index, price, is_high in visible:
                if not lo <= price <= hi:
                    continue
                flipped = price < above if is_high else price > below
                weight = base + recency_per_session * pivot_index + (bonus if flipped else 0.0)
                source = high_source if is_high else low_source
                out_anchors.append(Anchor(sign * price, source, weight, pivot_index, flipped))
            top, bottom = (RECENT_HIGH, RECENT_LOW) if up else (RECENT_LOW, RECENT_HIGH)
            out_anchors += [
                Anchor(sign * sma50, SMA50, p.sma50_weight),
                Anchor(sign * sma200, SMA200, p.sma200_weight),
                Anchor(sign * recent_high_col[i], top, p.recent_extreme_weight, recent_high_at[i]),
                Anchor(sign * recent_low_col[i], bottom, p.recent_extreme_weight, recent_low_at[i]),
            ]
            return out_anchors

        session = SessionInput(
            close=c,
            prev_close=pc,
            atr=atr,
            prev_atr=prev_atr,
            trend=cols["primary_trend"][i],
            sma50_side=cols["sma50_side"][i],
            recent_high=recent_high_col[i],
            recent_low=recent_low_col[i],
            recent_high_at=recent_high_at[i],
            recent_low_at=recent_low_at[i],
            new_structure=new_structure,
        )
        levels = tracker.step(i, session, anchors_of)
        up = bool(tracker.up)
        out["orientation"].append("up" if up else "down")
        smas = ((sma50, cols["sma50_change"][i]), (sma200, cols["sma200_change"][i]))
        for role in LEVEL_ROLES:
            described = describe(
                role,
                levels[role].zone,
                tracker.state[role][0],
                i,
                smas,
                (accepted_above, accepted_below),
            )
            _append_level(out, role, levels[role], described, dates)
        pb = pullback(high, low, i, up=up, params=p)
        if pb is None:
            for name in ("pullback_retracement", "pullback_depth", "pullback_speed"):
                out[name].append(None)
            for name in ("pullback_start_date", "pullback_extreme_date", "pullback_low_date"):
                out[name].append(None)
            out["impulse_erased"].append(False)
        else:
            erased = pb.depth == "erased"
            out["pullback_retracement"].append(None if erased else pb.retracement)
            out["pullback_depth"].append(None if erased else pb.depth)
            out["pullback_speed"].append(None if erased else pb.speed)
            out["pullback_start_date"].append(dates[pb.start_index])
            out["pullback_extreme_date"].append(dates[pb.extreme_index])
            out["pullback_low_date"].append(dates[pb.back_index])
            out["impulse_erased"].append(erased)

    table = pl.concat([table, pl.DataFrame(out, schema=_LOOP_COLUMNS)], how="horizontal")
    return (
        steps.with_published_levels(table, tick=tick, kept_apart=True)
        .with_columns(
            ((pl.col("close") - pl.col("sma200")) / pl.col("atr14")).alias("dist_sma200_atr"),
            ((pl.col("close") - pl.col("sma50")) / pl.col("atr14")).alias("dist_sma50_atr"),
        )
        .with_columns(
            (pl.col("dist_sma200_atr") >= p.well_above_200_atr).alias("well_above_sma200"),
        )
    )


class _Describer:
    """Reasons, members and sources of the published levels, session by session.

    Swing pivots and bar extremes are facts of the past and stay true; the averages and a swing's
    polarity are read on the session itself: the 50-day is named only if that session's SMA50
    lies in the zone, "prior breakout structure" only for swing highs the last two settlements
    are above by more than the acceptance threshold. A kept zone's text is rebuilt only when one
    of those session facts changes (the per-session loop is the hot path).
    """

    def __init__(self, dates: Sequence[date]) -> None:
        self.dates = dates
        self.memo: dict[str, tuple[object, tuple, tuple[str, str, str]]] = {}

    def __call__(
        self,
        role: str,
        zone: Zone,
        identity: object,
        i: int,
        smas: tuple[tuple[float, float | None], tuple[float, float | None]],
        accepted: tuple[float, float],
    ) -> tuple[str, str, str]:
        above, below = accepted
        flags = tuple(
            (a.price < above) if a.source == SWING_HIGH else (a.price > below)
            for a in zone.members
            if a.source in (SWING_HIGH, SWING_LOW)
        )
        in_zone = tuple((zone.low <= value <= zone.high, _slope(change)) for value, change in smas)
        key = (flags, in_zone, self.dates[i].year)
        memo = self.memo.get(role)
        if memo is not None and memo[0] is identity and memo[1] == key:
            return memo[2]
        result = self._describe(zone, flags, in_zone, i)
        self.memo[role] = (identity, key, result)
        return result

    def _describe(self, zone: Zone, flags: tuple, in_zone: tuple, i: int) -> tuple[str, str, str]:
        year = self.dates[i].year
        if zone.projected:
            basis = {
                "recent_high": f"beyond the high of {_short_date(self.dates[zone.basis_index], year)}",
                "recent_low": f"beyond the low of {_short_date(self.dates[zone.basis_index], year)}",
                "close": f"beyond the close of {_short_date(self.dates[zone.basis_index], year)}",
                "line": "beyond the line in the sand",
                "bias": "beyond the bias-defining level",
            }[zone.basis]
            return f"projected {basis}: no tested structure there", "", ""
        parts: list[str] = []
        tokens: list[str] = []
        sources: set[str] = set()
        for (inside, slope), name, words in zip(
            in_zone, (SMA50, SMA200), ("50-day", "200-day"), strict=True
        ):
            if inside:
                parts.append(f"{slope}{words}")
                tokens.append(name)
                sources.add(name)
        groups: dict[str, set[int]] = {}
        swing_flags = iter(flags)
        for anchor in zone.members:
            if anchor.source in (SWING_HIGH, SWING_LOW):
                flipped = next(swing_flags)
                groups.setdefault(f"{anchor.source}{':flipped' if flipped else ''}", set()).add(
                    anchor.at
                )
                sources.add(anchor.source)
            elif anchor.source in (RECENT_HIGH, RECENT_LOW):
                groups.setdefault(anchor.source, set()).add(anchor.at)
                sources.add(anchor.source)
        # A recent high that is also a confirmed swing high is named once, as the swing.
        for extreme, swing in ((RECENT_HIGH, SWING_HIGH), (RECENT_LOW, SWING_LOW)):
            if extreme in groups:
                named = groups.get(swing, set()) | groups.get(f"{swing}:flipped", set())
                groups[extreme] -= named
        for key, (one, many) in _PHRASES.items():
            indices = sorted(groups.get(key, ()))
            if not indices:
                continue
            shown = indices[-_DATES_SHOWN:]
            listed = ", ".join(_short_date(self.dates[j], year) for j in shown)
            if len(indices) > len(shown):
                listed = f"{listed} and {len(indices) - len(shown)} earlier"
            parts.append((one if len(indices) == 1 else many).format(listed))
            kind, _, flipped = key.partition(":")
            suffix = ":flipped" if flipped else ""
            tokens += [f"{kind}:{self.dates[j].isoformat()}{suffix}" for j in indices]
        return " + ".join(parts), ",".join(tokens), ",".join(sorted(sources))


#: Reason phrases by member kind: (one member, several).
_PHRASES: dict[str, tuple[str, str]] = {
    "swing_high:flipped": (
        "prior breakout structure (swing high of {})",
        "prior breakout structure (swing highs of {})",
    ),
    "swing_low:flipped": ("broken support (swing low of {})", "broken support (swing lows of {})"),
    "swing_high": ("swing high of {}", "swing highs of {}"),
    "swing_low": ("swing low of {}", "swing lows of {}"),
    "recent_high": ("the high of {}", "the highs of {}"),
    "recent_low": ("the low of {}", "the lows of {}"),
}
_DATES_SHOWN = 3  # a reason names the latest three dates of a kind ("2 earlier and ...")


def _slope(change: float | None) -> str:
    if change is None:
        return ""
    return "rising " if change > 0 else "falling " if change < 0 else "flat "


def _append_level(
    out: dict[str, list[object]],
    prefix: str,
    level: Level,
    described: tuple[str, str, str],
    dates: Sequence[date],
) -> None:
    zone = level.zone
    reason, members, sources = described
    out[f"{prefix}_low"].append(zone.low)
    out[f"{prefix}_high"].append(zone.high)
    out[f"{prefix}_score"].append(round(zone.score, 4))
    out[f"{prefix}_touches"].append(zone.touches)
    out[f"{prefix}_sources"].append(sources)
    out[f"{prefix}_projected"].append(zone.projected)
    out[f"{prefix}_reason"].append(reason)
    out[f"{prefix}_members"].append(members)
    out[f"{prefix}_change"].append(level.change)
    out[f"{prefix}_since"].append(dates[level.since])


def _short_date(d: date, year: int) -> str:
    """``12 Dec`` within the as-of year, ``12 Dec 2025`` before it."""
    return format_date_short(d) if d.year == year else format_date_long(d)


def latest_extreme_index(values: list[float], window: int, *, highest: bool) -> list[int]:
    """Per session, the index of the highest (lowest) value of the last ``window`` sessions,
    the latest of equal values."""
    out: list[int] = []
    q: deque[int] = deque()
    for i, v in enumerate(values):
        while q and (values[q[-1]] <= v if highest else values[q[-1]] >= v):
            q.pop()
        q.append(i)
        while q[0] <= i - window:
            q.popleft()
        out.append(q[0])
    return out


def scenario_probabilities(table: pl.DataFrame, p: V2Params) -> pl.DataFrame:
    """The scenario probabilities of every call: THE one place the probability model plugs in.

    ``p_*``: the probability model (:func:`pipeline.analysis.probability_model.
    scenario_probabilities` with ``p.probability_model``): the exit probabilities of a random walk
    with a drift between v2's barriers, its daily sd scaled by the volatility regime; point in
    time (row D reads rows <= D only; nothing is fitted to outcomes). Also ``model_sd_atr`` and
    ``model_drift_atr``, the walk's daily sd and drift in ATR (not published).

    Evidence beside them (published, so a reader can set the probability against what happened
    before): v1's point-in-time base rates (:func:`_base_rates`) on v2's own barriers, their
    analog counts ``n_*``, ``n_analogs`` and ``n_geometry``, the climatology ``clim_*`` and the
    barrier-geometry rates ``geo_*``; the base rate itself is ``base_*`` =
    (n + a' geo) / (n_analogs + a') (not published: it follows from the others).
    """
    from pipeline.analysis import probability_model

    table = _base_rates(table, p)
    model = probability_model.scenario_probabilities(
        table.select(probability_model.REQUIRED_COLUMNS), params=p.probability_model
    )
    return table.with_columns(
        model.select(
            "p_bear",
            "p_sideways",
            "p_bull",
            pl.col("daily_sd_atr").alias("model_sd_atr"),
            pl.col("drift_atr").alias("model_drift_atr"),
        )
    )


def _base_rates(table: pl.DataFrame, p: V2Params) -> pl.DataFrame:
    """The shared point-in-time base rates (:func:`pipeline.analysis.steps.with_base_rates`) on
    v2's own barriers, as ``p_*`` and ``base_*``, with ``geo_*``: the geometry rates the state
    counts were shrunk through, recovered from p = (n + a' g) / (N + a') before rounding (as every
    stored v2 snapshot holds them: their content hashes cover these digits)."""
    a_state = p.state_shrinkage_strength

    def geometry_recovered(rates: pl.DataFrame) -> pl.DataFrame:
        return rates.with_columns(
            (
                (pl.col(f"p_{k}") * (pl.col("n_analogs") + a_state) - pl.col(f"n_{k}")) / a_state
            ).alias(f"geo_{k}")
            for k in steps.SCENARIO_NAMES
        )

    table = steps.with_base_rates(
        table, p, derived=geometry_recovered, published=("p", "clim", "geo")
    )
    return table.with_columns(pl.col(f"p_{k}").alias(f"base_{k}") for k in steps.SCENARIO_NAMES)


def _no_longer_lagging(table: pl.DataFrame, peer: str, p: V2Params) -> pl.DataFrame:
    """``rs_<PEER>_no_longer_lagging``: leading or mixed now, lagging on some session of the
    last ``rs_memory_sessions`` before this one."""
    verdict = pl.col(f"rs_{peer}_verdict")
    lagging_lately = (verdict == "lagging").cast(pl.Int32).rolling_max(
        p.rs_memory_sessions, min_samples=1
    ).shift(1).fill_null(0) == 1
    return table.with_columns(
        (verdict.is_in(["leading", "mixed"]) & lagging_lately)
        .fill_null(False)
        .alias(f"rs_{peer}_no_longer_lagging")
    )
