"""Methodology v5's call table: v4's (:mod:`pipeline.analysis.v4.calls`) with the limited move
kept across sessions without a bar (:mod:`pipeline.analysis.v5.params`). Where no session lacks
a bar, v5's table is v4's, which is v3's."""

from __future__ import annotations

import polars as pl

from pipeline.analysis.steps import Peers
from pipeline.analysis.v4.calls import call_table as v4_call_table
from pipeline.analysis.v5.params import V5Params
from pipeline.market.calendar import EQUITY, TradingCalendar


def call_table(
    series: pl.DataFrame,
    *,
    tick: float,
    params: V5Params | None = None,
    peers: Peers | None = None,
    calendar: TradingCalendar = EQUITY,
) -> pl.DataFrame:
    """Every trade date's v5 row on one root: v4's rows, each call's probabilities limited
    against the last call even when sessions without a bar lie between them."""
    p = params or V5Params()
    return v4_call_table(
        series,
        tick=tick,
        params=p,
        peers=peers,
        calendar=calendar,
        limit_across_missing_bars=p.limit_across_missing_bars,
    )
