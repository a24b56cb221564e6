"""A small methodology built from the shared steps, hashed under ``decision-v1`` (tests only).

It is what a new methodology looks like on the interface (pipeline/analysis/methodology.py):
its call table composes the shared steps (here through v1's rules, which compose them), its
snapshot rows hold codes, dates and numbers only (the perspective as a code), and its words are
rendered from those codes by a template (:func:`line_reason`), never hashed.
"""

from __future__ import annotations

from typing import Any

import polars as pl
from jinja2 import Environment, StrictUndefined

from pipeline.analysis.assemble import (
    CONTENT_COLUMNS,
    Publication,
    assemble_rows,
    common_columns,
    risk_to_the_thesis,
)
from pipeline.analysis.calls import call_table
from pipeline.analysis.canonical import DECISION_SCHEME
from pipeline.analysis.methodology import Methodology
from pipeline.analysis.params import AnalysisParams, params_hash

VERSION = "t1"

#: How a level's sources read, by code (the words a template renders).
REASON_TEMPLATE = (
    "{% set words = {'swing_high': 'swing highs', 'swing_low': 'swing lows', "
    "'sma50': 'the 50-day', 'sma200': 'the 200-day', 'recent_high': 'the recent high', "
    "'recent_low': 'the recent low'} %}"
    "This zone aligns with "
    "{% for s in sources %}{{ words[s] }}{% if not loop.last %} and {% endif %}{% endfor %}."
)


def snapshot_rows(
    table: pl.DataFrame, params: AnalysisParams, publication: Publication
) -> pl.DataFrame:
    """v1's content columns, the perspective as a code (``pullback_within_uptrend``)."""
    risk = risk_to_the_thesis(pl.col("primary_trend") != "Neutral", tick=publication.tick)
    columns = [
        pl.col("perspective").str.replace_all(" ", "_") if c.meta.output_name() == "perspective"
        else c
        for c in common_columns(table, publication, params_hash=params_hash(params), risk=risk,
                                horizon_sessions=params.horizon_sessions)
    ]  # fmt: skip
    return assemble_rows(
        table,
        publication,
        columns,
        horizon=params.horizon_sessions,
        content_columns=CONTENT_COLUMNS,
        scheme=DECISION_SCHEME,
    )


def methodology(version: str = VERSION) -> Methodology:
    return Methodology(
        version=version,
        description="test: v1's rules, decisions hashed under decision-v1",
        params=AnalysisParams(),
        content_columns=CONTENT_COLUMNS,
        call_table=call_table,
        snapshot_rows=snapshot_rows,
        hash_scheme=DECISION_SCHEME,
        tuning=None,
        note_template="v1",
    )


def line_reason(row: dict[str, Any], template: str = REASON_TEMPLATE) -> str:
    """The line in the sand's reason in words, rendered from its codes."""
    sources = [s for s in (row["line_sources"] or "").split(",") if s]
    return Environment(undefined=StrictUndefined).from_string(template).render(sources=sources)
