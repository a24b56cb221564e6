"""What one analysis of a root is made of and returns (the driver itself is
:meth:`pipeline.analysis.methodology.Methodology.analyse`, the same for every methodology).

The nightly run asks for the snapshot of one session, the backfill for every session of a range;
both run the same single vectorised pass over the history (a methodology's call table) and only
differ in which rows they keep. Relative strength uses the peers' series (ES and NQ) when given.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

import polars as pl

from pipeline.analysis.assemble import PEERS
from pipeline.market.roots import FALLBACK_TICK, RootSpec, builtin_registry


@dataclass(frozen=True)
class Analysis:
    root: str
    table: pl.DataFrame  # call_table output, one row per session of the series
    snapshots: pl.DataFrame  # wide snapshot rows for the requested sessions that have a call


def known_spec(root: str, spec: RootSpec | None = None) -> RootSpec | None:
    """The root's contract facts as given (its registry entry), else the built-in registry's
    (None: a root no registry describes)."""
    return spec if spec is not None else builtin_registry().get(root)


def peers_of(root: str, available: Sequence[str], spec: RootSpec | None = None) -> list[str]:
    """The peers a root is compared with: its registered peers (``spec``: its registry entry;
    None: the built-in registry's) among those v1 stores (ES, NQ), never itself, only those
    available (a root outside the registry: ES and NQ).

    >>> peers_of("RTY", ["ES", "NQ", "YM"]), peers_of("ES", ["ES", "NQ"]), peers_of("NQ", ["NQ"])
    (['ES', 'NQ'], ['NQ'], [])
    """
    known = known_spec(root, spec)
    declared = known.peers if known is not None else PEERS
    return [peer for peer in PEERS if peer != root and peer in declared and peer in available]


def root_tick(root: str, spec: RootSpec | None = None) -> float:
    """The root's tick (price units); FALLBACK_TICK for a root outside the registry."""
    known = known_spec(root, spec)
    return known.tick if known is not None else FALLBACK_TICK


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
