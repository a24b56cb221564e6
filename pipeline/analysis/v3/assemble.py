"""Methodology v3's snapshot rows: decisions hashed, never prose.

The hashed content of a v3 call is v1's content columns (the perspective as a code: words
joined by ``_``), v2's extra columns that are codes, dates and numbers (not its level reasons,
which are words, nor the geometry rates back-solved from the base rate), and v3's own:
each barrier's basis, the model's probabilities before the limit, the cause that allowed a
move, the thesis decision, the label conflict and the one drawdown. Under the ``decision-v1``
hash scheme a hashed text must be a code: the note's words are rendered from these codes by
``pipeline/report/notes/v3*.md.j2`` and can change without changing a hash.

The risk to the thesis is the line in the sand, always: one invalidation level.
"""

from __future__ import annotations

import polars as pl

from pipeline.analysis.assemble import (
    CONTENT_COLUMNS,
    Publication,
    assemble_rows,
    common_columns,
    risk_to_the_thesis,
)
from pipeline.analysis.canonical import DECISION_SCHEME
from pipeline.analysis.params import params_hash
from pipeline.analysis.v2.assemble import EXTRA_COLUMNS as V2_EXTRA_COLUMNS
from pipeline.analysis.v2.assemble import extra_columns as v2_extra_columns
from pipeline.analysis.v3.params import V3Params

#: v2's extra columns v3 does not store: prose (level reasons) and values derived from others.
NOT_STORED: frozenset[str] = frozenset(
    {f"{prefix}_reason" for prefix in ("line", "bias", "ext", "deep")}
    | {"geo_bear", "geo_sideways", "geo_bull"}
)
#: v3's own columns, in hash order. Units: ``_pct`` and ``_recovered`` fractions (0.2 = 20 %),
#: probabilities fractions, dates CME trade dates.
V3_COLUMNS: tuple[str, ...] = (
    "upper_basis",  # level (v2's level kept) | structure (nearest structure) | limit (projected)
    "lower_basis",
    "upper_structure",  # swing_high | recent_high | sma50 | sma200 (basis structure), else null
    "lower_structure",
    "bull_target_low",  # the bull scenario's target zone (front-contract points)
    "bull_target_high",
    "bull_target_basis",  # level (v2's extension / deeper level) | projected
    "bear_target_low",
    "bear_target_high",
    "bear_target_basis",
    "model_p_bear",  # the probability model's, before the limit on moves
    "model_p_sideways",
    "model_p_bull",
    "probability_cause",  # regime+level+barrier+volatility+price (those present), else null
    "likeliest",  # bear | sideways | bull | tie
    "thesis",  # continuation | pause | reversal | range | break_up | break_down | tie
    "label_conflict",  # above_both_averages | below_both_averages | null
    "drawdown_pct",  # 1 - close / highest high of 252 sessions (front contract)
    "drawdown_recovered",  # (close - trough) / (peak - trough), trough: lowest low since
    "drawdown_peak_date",
    "drawdown_trough_date",
)
#: The hashed content of a v3 snapshot, in this order.
V3_CONTENT_COLUMNS: tuple[str, ...] = (
    *CONTENT_COLUMNS,
    *(c for c in V2_EXTRA_COLUMNS if c not in NOT_STORED),
    *V3_COLUMNS,
)


def snapshot_rows(table: pl.DataFrame, p: V3Params, publication: Publication) -> pl.DataFrame:
    """Wide v3 snapshot rows (V3_CONTENT_COLUMNS + content_hash) for every call in ``table``
    (:func:`pipeline.analysis.v3.calls.call_table`'s output) on the sessions asked for."""
    common = [
        pl.col("perspective").str.replace_all(" ", "_").alias("perspective")
        if c.meta.output_name() == "perspective"
        else c
        for c in common_columns(
            table,
            publication,
            params_hash=params_hash(p),
            risk=risk_to_the_thesis(pl.lit(False), tick=publication.tick),
            horizon_sessions=p.horizon_sessions,
        )
    ]
    extras = [
        e for e in v2_extra_columns(table, publication.tick)
        if e.meta.output_name() not in NOT_STORED
    ]  # fmt: skip
    own = [
        *(pl.col(c) for c in V3_COLUMNS[:10]),
        *(
            pl.col(f"model_p_{k}").round(p.probability_decimals)
            for k in ("bear", "sideways", "bull")
        ),
        *(pl.col(c) for c in ("probability_cause", "likeliest", "thesis", "label_conflict")),
        *(pl.col(c).round(6) for c in ("drawdown_pct", "drawdown_recovered")),
        pl.col("drawdown_peak_date"),
        pl.col("drawdown_trough_date"),
    ]
    return assemble_rows(
        table,
        publication,
        [*common, *extras, *own],
        horizon=p.horizon_sessions,
        content_columns=V3_CONTENT_COLUMNS,
        scheme=DECISION_SCHEME,
    )
