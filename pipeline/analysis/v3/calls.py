"""Methodology v3's call table: v2's steps composed with v3's own, in one causal pass.

1. v2's levels table (:func:`pipeline.analysis.v2.calls.levels_table`): indicators, structure
   facts, trend and perspective, the kept zones, the pullback;
2. barriers that stay near (:mod:`.barriers`): v2's levels unmoved, the scenarios' barriers
   within the limit;
3. outcomes resolved on v3's own barriers, the point-in-time base rates and the probability
   model (v2's, unchanged: :func:`pipeline.analysis.v2.calls.scenario_probabilities`);
4. probabilities limited to move only for a named cause (:mod:`.stability`);
5. the thesis decided from them (:mod:`.thesis`), the statements' definitions
   (:mod:`.statements`), relative strength.

Row D depends only on rows <= D (every step is causal), so the nightly call equals the
backfill's row.
"""

from __future__ import annotations

import polars as pl

from pipeline.analysis import steps
from pipeline.analysis.memo import Remembered, own_fields, peers_key, series_key
from pipeline.analysis.steps import Peers
from pipeline.analysis.v2.calls import levels_table, scenario_probabilities, with_peer_readings
from pipeline.analysis.v3.barriers import with_near_barriers, with_targets
from pipeline.analysis.v3.params import V3Params
from pipeline.analysis.v3.stability import with_stable_probabilities
from pipeline.analysis.v3.statements import with_drawdown, with_pullback_speed
from pipeline.analysis.v3.thesis import label_conflict, thesis_codes


def call_table(
    series: pl.DataFrame, *, tick: float, params: V3Params | None = None, peers: Peers | None = None
) -> pl.DataFrame:
    """Every session's v3 call on one root (see the module docstring).

    Remembered like v2's levels table (:mod:`pipeline.analysis.memo`): v4 on a series without a
    missing session is v3's table, and a run computes both. The key is the series' and peers'
    content, the tick and v3's own parameters."""
    p = params or V3Params()
    key = (series_key(series), peers_key(peers), tick, own_fields(p, V3Params))
    return CALL_TABLES.get(key, lambda: _call_table(series, tick=tick, params=p, peers=peers))


#: v3 call tables remembered (a few roots' worth).
CALL_TABLES = Remembered(8)


def _call_table(
    series: pl.DataFrame, *, tick: float, params: V3Params, peers: Peers | None
) -> pl.DataFrame:
    table = with_barriers(levels_table(series, tick=tick, params=params), params, tick=tick)
    return forecast(table, series, params, peers=peers)


def with_barriers(table: pl.DataFrame, p: V3Params, *, tick: float) -> pl.DataFrame:
    """Step 2: the scenarios' barriers kept near and their targets, on v2's levels table."""
    return with_targets(with_near_barriers(table, p, tick=tick), p, tick=tick)


def forecast(
    table: pl.DataFrame,
    series: pl.DataFrame,
    p: V3Params,
    *,
    peers: Peers | None = None,
    limit_across_missing_bars: bool = False,
) -> pl.DataFrame:
    """Steps 3-5 on a table with barriers: outcomes, the limited probabilities, the thesis,
    the statements' definitions and the peers' readings (``series``: the root's own bars).
    ``limit_across_missing_bars``: v5's reference call across sessions without a bar
    (:func:`pipeline.analysis.v3.stability.stable_probabilities`)."""
    table = steps.with_outcomes(table, p)
    table = with_stable_probabilities(
        scenario_probabilities(table, p), p, limit_across_missing_bars=limit_across_missing_bars
    )
    table = table.with_columns(*thesis_codes(tie_points=p.tie_points), label_conflict())
    table = with_drawdown(with_pullback_speed(table, p), p)
    return with_peer_readings(table, series, peers, p)
