"""The scoreboard: how good were the calls, against what reference, and how sure can we be.

Input: scored calls (the ``scored_calls`` view: one row per call with its probabilities, its
realised outcome and its scores). Calls are grouped by (root, author, kind, methodology_version,
source): live, backfill and analyst calls, methodologies and bar sources are never mixed. Within a group, in as-of order:

* the **climatology** reference is the expanding-window frequency of outcomes among the group's
  calls whose horizon had ended by the call's as-of day (never the full sample);
* the **geometry** reference is the same, but counted only among calls with the same barrier
  geometry (distance to the upper and lower barrier in ATR, bucketed like the analog state) and
  shrunk toward the climatology with the model's own strength. It answers "does the model know
  more than where the barriers are?": on a driftless random walk the distances alone carry real
  information, so skill against climatology is expected there, skill against geometry is not.

Skill = 1 - mean score / mean reference score (RPS unless stated). Horizons overlap, so the
interval is a circular block bootstrap with blocks of ``horizon`` consecutive calls.
"""

from __future__ import annotations

import numpy as np
import polars as pl

from pipeline.analysis.params import AnalysisParams
from pipeline.analysis.scenarios import distance_bucket
from pipeline.audit.scores import (
    block_bootstrap_skill,
    expanding_climatology,
    ranked_probability_score,
    reliability_tables,
)

GROUP: tuple[str, ...] = ("root", "author", "kind", "methodology_version", "source")
SCORED_COLUMNS: tuple[str, ...] = (
    *GROUP, "as_of", "horizon_end", "p_bear", "p_sideways", "p_bull", "outcome_ordinal", "rps",
    "brier", "log_score", "close", "atr14", "upper_barrier", "lower_barrier",
)  # fmt: skip


def _day_numbers(dates: pl.Series) -> np.ndarray:
    return dates.cast(pl.Int64).to_numpy()


def expanding_counts(
    as_of_order: np.ndarray, resolved_order: np.ndarray, outcome: np.ndarray, key: np.ndarray
) -> np.ndarray:
    """Per call i, the outcome counts (n, 3) among calls j with the same ``key`` and
    ``resolved_order[j] <= as_of_order[i]``.

    >>> expanding_counts(np.array([0, 5, 9]), np.array([4, 8, 12]), np.array([2, 0, 1]),
    ...                  np.array(["a", "a", "a"])).tolist()
    [[0, 0, 0], [0, 0, 1], [1, 0, 1]]
    """
    counts = np.zeros((as_of_order.size, 3), dtype=np.int64)
    for value in np.unique(key):
        members = np.flatnonzero(key == value)
        order = np.argsort(resolved_order[members], kind="stable")
        resolved_sorted = resolved_order[members][order]
        one_hot = np.eye(3, dtype=np.int64)[outcome[members][order]]
        cumulative = np.vstack([np.zeros((1, 3), dtype=np.int64), np.cumsum(one_hot, axis=0)])
        known = np.searchsorted(resolved_sorted, as_of_order[members], side="right")
        counts[members] = cumulative[known]
    return counts


def geometry_key(frame: pl.DataFrame, *, params: AnalysisParams) -> pl.Series:
    """Barrier-distance bucket of each call, as in the model's analog state ("up1|down2")."""
    edges = params.analog_distance_edges_atr
    up = distance_bucket((pl.col("upper_barrier") - pl.col("close")) / pl.col("atr14"), edges)
    down = distance_bucket((pl.col("close") - pl.col("lower_barrier")) / pl.col("atr14"), edges)
    return frame.select(pl.format("up{}|down{}", up, down).alias("geometry"))["geometry"]


def reference_forecasts(frame: pl.DataFrame, *, params: AnalysisParams) -> pl.DataFrame:
    """Add the climatology (``clim_*``) and geometry (``geo_*``) reference probabilities and
    their RPS (``clim_rps``, ``geo_rps``) to the calls of ONE group, sorted by as_of."""
    frame = frame.sort("as_of")
    as_of = _day_numbers(frame["as_of"])
    resolved = _day_numbers(frame["horizon_end"])
    outcome = frame["outcome_ordinal"].cast(pl.Int64).to_numpy()
    climatology = expanding_climatology(
        as_of, resolved, outcome, prior_weight=params.climatology_prior_weight
    )
    counts = expanding_counts(
        as_of, resolved, outcome, geometry_key(frame, params=params).to_numpy()
    )
    a = params.shrinkage_strength
    geometry = (counts + a * climatology) / (counts.sum(axis=1, keepdims=True) + a)
    names = ("bear", "sideways", "bull")
    return frame.with_columns(
        *(pl.Series(f"clim_{n}", climatology[:, k]) for k, n in enumerate(names)),
        *(pl.Series(f"geo_{n}", geometry[:, k]) for k, n in enumerate(names)),
        pl.Series("clim_rps", ranked_probability_score(climatology, outcome)),
        pl.Series("geo_rps", ranked_probability_score(geometry, outcome)),
    )


def scoreboard(
    scored: pl.DataFrame,
    *,
    params: AnalysisParams | None = None,
    n_boot: int = 2000,
    seed: int = 0,
    level: float = 0.9,
) -> pl.DataFrame:
    """One row per group: calls, effective calls (n / horizon), mean scores, and RPS skill
    against climatology and against barrier geometry with block-bootstrap intervals."""
    params = params or AnalysisParams()
    rows = []
    for _, group in scored.group_by(GROUP, maintain_order=True):
        group = reference_forecasts(group, params=params)
        rps = group["rps"].to_numpy()
        # Blocks of one horizon: the group's own (an analyst may call over another horizon).
        block = (
            int(group["horizon_sessions"].max())  # type: ignore[arg-type]
            if "horizon_sessions" in group.columns
            else params.horizon_sessions
        )
        clim, geo = (
            block_bootstrap_skill(
                rps,
                group[reference].to_numpy(),
                block=min(block, len(rps)),
                n_boot=n_boot,
                seed=seed,
                level=level,
            )
            for reference in ("clim_rps", "geo_rps")
        )
        first = group.row(0, named=True)
        rows.append(
            {
                **{k: first[k] for k in GROUP},
                "calls": group.height,
                "effective_calls": round(group.height / block, 1),
                "first_as_of": group["as_of"].min(),
                "last_as_of": group["as_of"].max(),
                "mean_rps": float(rps.mean()),
                "mean_clim_rps": float(group["clim_rps"].mean()),  # type: ignore[arg-type]
                "skill_vs_climatology": clim.skill,
                "skill_low": clim.low,
                "skill_high": clim.high,
                "skill_vs_geometry": geo.skill,
                "geometry_low": geo.low,
                "geometry_high": geo.high,
                "mean_brier": float(group["brier"].mean()),  # type: ignore[arg-type]
                "mean_log_score": float(group["log_score"].mean()),  # type: ignore[arg-type]
            }
        )
    return pl.DataFrame(rows)


def calibration_table(scored: pl.DataFrame, *, bins: int = 10) -> pl.DataFrame:
    """Reliability per group, scenario and probability bucket (with Wilson intervals)."""
    parts = []
    for keys, group in scored.group_by(GROUP, maintain_order=True):
        table = reliability_tables(
            group.select("p_bear", "p_sideways", "p_bull").to_numpy(),
            group["outcome_ordinal"].cast(pl.Int64).to_numpy(),
            bins=bins,
        )
        parts.append(
            table.with_columns(pl.lit(k).alias(name) for name, k in zip(GROUP, keys, strict=True))
        )
    if not parts:
        return pl.DataFrame()
    table = pl.concat(parts)
    return table.select(*GROUP, *(c for c in table.columns if c not in GROUP))
