"""Continuous series of stored bars, as the analysis and the outcome resolution read them.

Plain functions (no Prefect): the nightly and backfill flows call them through their tasks, and
commands that need no flow (`callbook resolve`, `callbook calls add`) call them directly.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import date

import polars as pl

from pipeline.analysis.assemble import PEERS
from pipeline.market.continuous import continuous_series
from pipeline.market.contracts import ROOT_SPECS
from warehouse.store import Warehouse

Log = logging.Logger | logging.LoggerAdapter  # type: ignore[type-arg]
LOG = logging.getLogger("callbook")


def series_by_root(
    warehouse: Warehouse,
    roots: Sequence[str],
    *,
    source: str,
    as_of: date,
    log: Log = LOG,
) -> dict[str, pl.DataFrame]:
    """Continuous series (internal frame, cut at ``as_of``) of the roots and their peers."""
    series = {}
    for root in dict.fromkeys([*roots, *PEERS]):
        bars = warehouse.current_bars(root, source=source, end=as_of)
        if bars.height == 0:
            if root in roots:
                log.warning("%s: no %s bars on or before %s: no analysis", root, source, as_of)
            continue
        series[root] = continuous_series(bars, known_rolls=observed_rolls(warehouse, root, source))
        log.info(
            "%s: continuous series of %s sessions (%s rolls) to %s",
            root,
            f"{series[root].height:,}",
            int(series[root]["is_roll"].sum()),
            series[root]["session_date"].max(),
        )
    return series


def observed_rolls(warehouse: Warehouse, root: str, source: str) -> list[date]:
    """Roll sessions of Yahoo's ``=F`` feed seen as shortName changes between nightly fetches."""
    if source != "yahoo" or root not in ROOT_SPECS:
        return []
    from pipeline.sources.yahoo import observed_roll_sessions

    symbol = ROOT_SPECS[root].yahoo_continuous
    return observed_roll_sessions(warehouse.contract_month_observations(root, symbol=symbol))
