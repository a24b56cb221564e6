"""One entry point for the analysis: continuous series in, call table and snapshot rows out.

The nightly run asks for the snapshot of one session, the backfill for every session of a range;
both run the same single vectorised pass over the history (:func:`call_table`) and only differ in
which rows they keep. Relative strength uses the peers' series (ES and NQ) when given.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

import polars as pl

from pipeline.analysis.assemble import PEERS, snapshot_rows
from pipeline.analysis.calls import call_table
from pipeline.analysis.fingerprint import input_fingerprints
from pipeline.analysis.params import METHODOLOGY_VERSION, AnalysisParams, params_hash
from pipeline.market.calendar import EQUITY
from pipeline.market.roots import RootSpec, builtin_registry


@dataclass(frozen=True)
class Analysis:
    root: str
    table: pl.DataFrame  # call_table output, one row per session of the series
    snapshots: pl.DataFrame  # wide snapshot rows for the requested sessions that have a call


def _spec(root: str, spec: RootSpec | None) -> RootSpec | None:
    """The root's contract facts as given, else the built-in registry's (None: unknown root)."""
    return spec if spec is not None else builtin_registry().get(root)


def peers_of(root: str, available: Sequence[str], spec: RootSpec | None = None) -> list[str]:
    """The peers a root is compared with: its registered peers (``spec``: its registry entry;
    None: the built-in registry's) among those v1 stores (ES, NQ), never itself, only those
    available (a root outside the registry: ES and NQ).

    >>> peers_of("RTY", ["ES", "NQ", "YM"]), peers_of("ES", ["ES", "NQ"]), peers_of("NQ", ["NQ"])
    (['ES', 'NQ'], ['NQ'], [])
    """
    known = _spec(root, spec)
    declared = known.peers if known is not None else PEERS
    return [peer for peer in PEERS if peer != root and peer in declared and peer in available]


def analyse(
    series_by_root: Mapping[str, pl.DataFrame],
    root: str,
    *,
    source: str,
    sessions: Sequence[date] | None = None,
    params: AnalysisParams | None = None,
    methodology_version: str = METHODOLOGY_VERSION,
    spec: RootSpec | None = None,
) -> Analysis:
    """Calls and snapshot rows of ``root`` for ``sessions`` (None: every session with a call).

    ``series_by_root`` holds continuous series (internal frame), each cut at the as-of date the
    caller wants: nothing after it is read. ``methodology_version`` names the rules in the
    snapshots (v1's rules under other parameters are another methodology). ``spec``: the root's
    registry entry (tick, peers; None: the built-in registry's).
    """
    params = params or AnalysisParams()
    return one_pass(
        series_by_root,
        root,
        source=source,
        sessions=sessions,
        params=params,
        params_digest=params_hash(params),
        methodology_version=methodology_version,
        call_table=call_table,
        snapshot_rows=snapshot_rows,
        spec=spec,
    )


def one_pass(
    series_by_root: Mapping[str, pl.DataFrame],
    root: str,
    *,
    source: str,
    sessions: Sequence[date] | None,
    params: Any,
    params_digest: str,
    methodology_version: str,
    call_table: Callable[..., pl.DataFrame],
    snapshot_rows: Callable[..., pl.DataFrame],
    spec: RootSpec | None = None,
) -> Analysis:
    """What every methodology's ``analyse`` does with its own ``call_table`` and
    ``snapshot_rows``: the root's peers and tick, one causal pass over the history, the input
    fingerprints, and the snapshot rows of ``sessions``."""
    series = series_by_root[root]
    known = _spec(root, spec)
    peers = {peer: series_by_root[peer] for peer in peers_of(root, list(series_by_root), known)}
    tick = known.tick if known is not None else 0.01
    table = call_table(series, tick=tick, params=params, peers=peers)
    fingerprints = input_fingerprints(
        series,
        peers=peers,
        methodology_version=methodology_version,
        params_hash=params_digest,
    )
    rows = snapshot_rows(
        table,
        root=root,
        source=source,
        tick=tick,
        fingerprints=fingerprints,
        params=params,
        sessions=sessions,
        methodology_version=methodology_version,
        calendar=known.trading_calendar if known is not None else EQUITY,
    )
    return Analysis(root, table, rows)


def chart_frame(table: pl.DataFrame, as_of: date) -> pl.DataFrame:
    """Prices and moving averages up to ``as_of`` in the price frame of the as-of front contract.

    This is the frame the snapshot's levels are published in, so the chart can overlay them.
    """
    upto = table.filter(pl.col("session_date") <= as_of)
    if upto.height == 0:
        raise ValueError(f"no session on or before {as_of} in the series")
    offset, factor = upto.select(pl.col("offset").last(), pl.col("factor").last()).row(0)
    return upto.select(
        "session_date",
        *(
            ((pl.col(c) - offset) / factor).alias(c)
            for c in ("open", "high", "low", "close", "sma50", "sma200")
        ),
    )
