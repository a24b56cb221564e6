"""Methodology v2's entry point: continuous series in, v2 call table and snapshot rows out.

The same contract as v1's :func:`pipeline.analysis.engine.analyse` (the methodology registry
calls both the same way): one causal pass over the history, the rows of the requested sessions.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date

import polars as pl

from pipeline.analysis.engine import Analysis, one_pass
from pipeline.analysis.v2.assemble import snapshot_rows
from pipeline.analysis.v2.calls import call_table
from pipeline.analysis.v2.params import METHODOLOGY_VERSION, V2Params, params_hash
from pipeline.market.roots import RootSpec


def analyse(
    series_by_root: Mapping[str, pl.DataFrame],
    root: str,
    *,
    source: str,
    sessions: Sequence[date] | None = None,
    params: V2Params | None = None,
    methodology_version: str = METHODOLOGY_VERSION,
    spec: RootSpec | None = None,
) -> Analysis:
    """v2 calls and snapshot rows of ``root`` for ``sessions`` (None: every session with a call).

    ``series_by_root`` holds continuous series (internal frame), each cut at the as-of date the
    caller wants: nothing after it is read. ``methodology_version`` names the rules in the
    snapshots (v2's rules under other parameters are another methodology).
    """
    params = params or V2Params()
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
