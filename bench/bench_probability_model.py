"""Benchmark of the probability model's quality: why state_shrinkage_strength is 60, not 20.

For each demo root and a few strengths a' of the state -> geometry shrinkage, the RPS skill of the
model's point-in-time scenario probabilities against (1) the expanding climatology and (2) base
rates by barrier geometry alone (the model's own first shrinkage level), with 90 % block-bootstrap
intervals (blocks of one horizon). Every call of the history is scored on its realised outcome.

    uv run python bench/bench_probability_model.py
"""

from __future__ import annotations

import dataclasses
import sys
from datetime import date
from pathlib import Path

import numpy as np
import polars as pl

sys.path.insert(0, str(Path(__file__).resolve().parent))
from machine import machine_summary, update_section

from pipeline.analysis.calls import call_table
from pipeline.analysis.params import AnalysisParams
from pipeline.audit.calibration import expanding_counts
from pipeline.audit.scores import (
    block_bootstrap_skill,
    expanding_climatology,
    ranked_probability_score,
)
from pipeline.market.continuous import continuous_series
from pipeline.market.contracts import ROOT_SPECS
from pipeline.sources.demo import demo_bars

AS_OF = date(2026, 11, 20)
STRENGTHS = (20.0, 60.0, 200.0)


def interval(s) -> str:
    return f"{s.skill:+.3f} [{s.low:+.3f}, {s.high:+.3f}]"


def main() -> None:
    base = AnalysisParams()
    lines = [
        "| root | a' (state -> geometry) | calls | skill vs climatology | skill vs geometry |",
        "|---|---:|---:|---|---|",
    ]
    for root in ("RTY", "ES", "NQ", "YM"):
        series = continuous_series(demo_bars(root).filter(pl.col("session_date") <= AS_OF))
        for strength in STRENGTHS:
            params = dataclasses.replace(base, state_shrinkage_strength=strength)
            table = call_table(series, tick=ROOT_SPECS[root].tick, params=params).filter(
                pl.col("has_call") & (pl.col("outcome") >= 0)
            )
            outcome = table["outcome"].to_numpy()
            probs = table.select("p_bear", "p_sideways", "p_bull").to_numpy()
            index = np.arange(table.height)
            horizon = params.horizon_sessions
            climatology = expanding_climatology(index, index + horizon, outcome)
            counts = expanding_counts(
                index, index + horizon, outcome, table["geometry_key"].to_numpy()
            )
            a = params.shrinkage_strength
            geometry = (counts + a * climatology) / (counts.sum(axis=1, keepdims=True) + a)
            rps = ranked_probability_score(probs, outcome)
            vs_clim = block_bootstrap_skill(
                rps, ranked_probability_score(climatology, outcome), horizon=horizon
            )
            vs_geo = block_bootstrap_skill(
                rps, ranked_probability_score(geometry, outcome), horizon=horizon
            )
            lines.append(
                f"| {root} | {strength:g} | {table.height:,} | {interval(vs_clim)} | {interval(vs_geo)} |"
            )
            print(lines[-1])
    text = "\n".join(
        [
            "Demo history of each root to "
            f"{AS_OF}; geometry level a = {base.shrinkage_strength:g} in both references.",
            "",
            *lines,
            "",
            "With a' = 20 the sparse full-state cells (trend x vol regime x consolidation within a "
            "barrier geometry) score below geometry alone (RTY beyond its interval). a' = 60 and "
            "200 remove that loss; on the demo data the state then adds little beyond the barrier "
            "geometry (within about +-0.5 %). Methodology v1 uses 60, which still lets a state with "
            "~60 or more analogs move the probabilities when real data carries a trend signal.",
        ]
    )
    print(machine_summary())
    update_section(
        "Probability model", f"`bench/bench_probability_model.py`\n\n{machine_summary()}\n\n{text}"
    )


if __name__ == "__main__":
    main()
