"""The scoreboard: how good were the calls, against what reference, and how sure can we be.

Input: scored calls (the ``scored_calls`` view: one row per call with its probabilities, its
realised outcome and its scores). Calls are grouped by (root, author, kind, methodology_version,
source): live, backfill and analyst calls, methodologies and bar sources are never mixed; calls
flagged by :func:`select_calls` (recorded late, made in the methodology's tuning period) are
left out by default and, when asked for, form groups of their own (``flags``). Within a group,
in as-of order:

* the **climatology** reference is point in time. A call that stores the climatology it was
  made with (the model's ``clim_*``: outcome frequencies of every past session of the series
  resolved by its as-of day) is scored against it (basis ``stored``); an analyst call against
  the model's stored climatology for the same root, as-of day, bars and horizon (``model``;
  the ``scored_calls`` view finds it); any other call against the expanding frequency of
  outcomes among its own group's calls whose horizon had ended by its as-of day, from a uniform
  prior (``expanding``: weak while a group is young, which is why the stored one comes first);
* the **geometry** reference is the frequency among the group's calls with the same barrier
  geometry (distance to the upper and lower barrier in ATR, bucketed like the analog state)
  known by the call's day, shrunk toward that climatology with the model's own strength. It
  answers "does the model know more than where the barriers are?": on a driftless random walk
  the distances alone carry real information, so skill against climatology is expected there,
  skill against geometry is not.

Skill = 1 - mean score / mean reference score (RPS unless stated). Horizons overlap, so the
interval is a block bootstrap (:func:`pipeline.audit.scores.block_bootstrap_skill`); a group with
fewer than three horizons of calls gets none ("too few calls: ..."). Reliability intervals rest
on the effective number of calls given their overlap (:func:`pipeline.audit.scores.reliability_table`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import polars as pl

from pipeline.analysis.climatology import expanding_climatology, expanding_counts, shrunk
from pipeline.analysis.params import CoreParams
from pipeline.analysis.scenarios import distance_bucket
from pipeline.analysis.scenarios import geometry_key as scenario_geometry_key
from pipeline.audit.scores import (
    RELIABILITY_LEVEL,
    TooFewCallsError,
    block_bootstrap_skill,
    ranked_probability_score,
    reliability_tables,
)
from pipeline.market.calendar import session_numbers

GROUP: tuple[str, ...] = ("root", "author", "kind", "methodology_version", "source")
SCORED_COLUMNS: tuple[str, ...] = (
    *GROUP, "as_of", "horizon_end", "p_bear", "p_sideways", "p_bull", "outcome_ordinal", "rps",
    "brier", "log_score", "close", "atr14", "upper_barrier", "lower_barrier",
)  # fmt: skip
#: The point-in-time climatology the ``scored_calls`` view attaches to a call, and its basis.
STORED_CLIMATOLOGY: tuple[str, ...] = ("pit_clim_bear", "pit_clim_sideways", "pit_clim_bull")
#: Labels of a group of calls kept apart from the honest default (empty: none).
FLAGS = "flags"
RECORDED_LATE, IN_TUNING_PERIOD, TUNING_UNDECLARED = (
    "recorded late",
    "in tuning period",
    "tuning period undeclared",
)

#: What each kind of call is (the audit prints it).
KIND_MEANINGS: dict[str, str] = {
    "live": "made by the nightly run on its as-of day, from the bars known that evening",
    "backfill": (
        "computed later from stored history, point in time by construction (only bars up to the "
        "as-of day; bars_mode says whether as stored now or as known then); never mixed with "
        "live or analyst calls"
    ),
    "analyst": (
        "hand-written calls; on time when recorded before the next session opened (18:00 ET), "
        "otherwise recorded late"
    ),
}


def _day_numbers(dates: pl.Series) -> np.ndarray:
    return dates.cast(pl.Int64).to_numpy()


def geometry_key(frame: pl.DataFrame, *, params: CoreParams) -> pl.Series:
    """Barrier-distance bucket of each call, as in the model's analog state ("up1|down2")."""
    edges = params.analog_distance_edges_atr
    up = distance_bucket((pl.col("upper_barrier") - pl.col("close")) / pl.col("atr14"), edges)
    down = distance_bucket((pl.col("close") - pl.col("lower_barrier")) / pl.col("atr14"), edges)
    return frame.select(scenario_geometry_key(up, down).alias("geometry"))["geometry"]


def reference_forecasts(frame: pl.DataFrame, *, params: CoreParams) -> pl.DataFrame:
    """Add the climatology (``clim_*``, basis ``clim_basis``) and geometry (``geo_*``) reference
    probabilities and their RPS (``clim_rps``, ``geo_rps``) to the calls of ONE group, sorted by
    as_of. The climatology is the stored point-in-time one where the frame carries it
    (STORED_CLIMATOLOGY columns, basis from ``pit_clim_source``), else the group's expanding one."""
    frame = frame.sort("as_of")
    as_of = _day_numbers(frame["as_of"])
    resolved = _day_numbers(frame["horizon_end"])
    outcome = frame["outcome_ordinal"].cast(pl.Int64).to_numpy()
    climatology = expanding_climatology(
        as_of, resolved, outcome, prior_weight=params.climatology_prior_weight
    )
    basis = np.full(frame.height, "expanding", dtype=object)
    if all(c in frame.columns for c in STORED_CLIMATOLOGY):
        stored = frame.select(pl.col(STORED_CLIMATOLOGY).cast(pl.Float64)).to_numpy()
        known = np.isfinite(stored).all(axis=1)
        # Stored rounded to 4 decimals: renormalise so each row sums to 1 exactly.
        climatology[known] = stored[known] / stored[known].sum(axis=1, keepdims=True)
        source = (
            frame["pit_clim_source"].fill_null("stored").to_numpy()
            if "pit_clim_source" in frame.columns
            else np.full(frame.height, "stored", dtype=object)
        )
        basis[known] = source[known]
    counts = expanding_counts(
        as_of, resolved, outcome, geometry_key(frame, params=params).to_numpy()
    )
    a = params.shrinkage_strength
    geometry = shrunk(counts, a * climatology, a)
    names = ("bear", "sideways", "bull")
    return frame.with_columns(
        *(pl.Series(f"clim_{n}", climatology[:, k]) for k, n in enumerate(names)),
        pl.Series("clim_basis", basis.astype(str), dtype=pl.String),
        *(pl.Series(f"geo_{n}", geometry[:, k]) for k, n in enumerate(names)),
        pl.Series("clim_rps", ranked_probability_score(climatology, outcome)),
        pl.Series("geo_rps", ranked_probability_score(geometry, outcome)),
    )


def _group_by(scored: pl.DataFrame) -> list[str]:
    return [*GROUP, FLAGS] if FLAGS in scored.columns else list(GROUP)


def _horizon(group: pl.DataFrame, params: CoreParams) -> int:
    """The group's horizon in sessions (an analyst may call over another one than the model)."""
    if "horizon_sessions" in group.columns and group["horizon_sessions"].null_count() == 0:
        return int(group["horizon_sessions"].max())  # type: ignore[arg-type]
    return params.horizon_sessions


def _basis_summary(basis: pl.Series) -> str:
    counts = basis.value_counts(sort=True)
    return ", ".join(f"{value} {n:,}" for value, n in counts.iter_rows())


def scoreboard(
    scored: pl.DataFrame,
    *,
    params: CoreParams | None = None,
    n_boot: int = 2000,
    seed: int = 0,
    level: float = 0.9,
) -> pl.DataFrame:
    """One row per group: calls, effective calls (n / horizon), mean scores, and RPS skill
    against climatology and against barrier geometry with block-bootstrap intervals.

    ``interval`` is None when the intervals were computed, else why there are none (a group
    with fewer than three horizons of calls: "too few calls: 12 < 60 ..."; its ``skill_low``
    etc. are then null, never a zero-width interval). ``climatology`` says which reference each
    call was scored against (e.g. "stored 5,241" or "model 9, expanding 3")."""
    params = params or CoreParams()
    rows = []
    for _, group in scored.group_by(_group_by(scored), maintain_order=True):
        group = reference_forecasts(group, params=params)
        rps = group["rps"].to_numpy()
        horizon = _horizon(group, params)
        try:
            clim, geo = (
                block_bootstrap_skill(
                    rps,
                    group[reference].to_numpy(),
                    horizon=horizon,
                    n_boot=n_boot,
                    seed=seed,
                    level=level,
                )
                for reference in ("clim_rps", "geo_rps")
            )
            refused = None
        except TooFewCallsError as exc:
            refused = str(exc)
        first = group.row(0, named=True)
        mean_clim = float(group["clim_rps"].mean())  # type: ignore[arg-type]
        mean_geo = float(group["geo_rps"].mean())  # type: ignore[arg-type]
        rows.append(
            {
                **{k: first[k] for k in _group_by(scored)},
                "calls": group.height,
                "horizon": horizon,
                "effective_calls": round(group.height / horizon, 1),
                "first_as_of": group["as_of"].min(),
                "last_as_of": group["as_of"].max(),
                "mean_rps": float(rps.mean()),
                "mean_clim_rps": mean_clim,
                "climatology": _basis_summary(group["clim_basis"]),
                "skill_vs_climatology": 1 - float(rps.mean()) / mean_clim,
                "skill_low": None if refused else clim.low,
                "skill_high": None if refused else clim.high,
                "skill_vs_geometry": 1 - float(rps.mean()) / mean_geo,
                "geometry_low": None if refused else geo.low,
                "geometry_high": None if refused else geo.high,
                "interval": refused,
                "mean_brier": float(group["brier"].mean()),  # type: ignore[arg-type]
                "mean_log_score": float(group["log_score"].mean()),  # type: ignore[arg-type]
            }
        )
    return pl.DataFrame(rows, infer_schema_length=None)


def calibration_table(
    scored: pl.DataFrame,
    *,
    bins: int = 10,
    level: float = RELIABILITY_LEVEL,
    params: CoreParams | None = None,
) -> pl.DataFrame:
    """Reliability per group, scenario and probability bucket. Intervals account for the
    overlap of the calls' horizons (``effective_count``, ``interval_basis``: see
    :func:`pipeline.audit.scores.reliability_table`)."""
    params = params or CoreParams()
    by = _group_by(scored)
    parts = []
    for keys, group in scored.group_by(by, maintain_order=True):
        group = group.sort("as_of")
        table = reliability_tables(
            group.select("p_bear", "p_sideways", "p_bull").to_numpy(),
            group["outcome_ordinal"].cast(pl.Int64).to_numpy(),
            bins=bins,
            level=level,
            session=session_numbers(group["as_of"].to_list()),
            horizon=_horizon(group, params),
        )
        parts.append(
            table.with_columns(pl.lit(k).alias(name) for name, k in zip(by, keys, strict=True))
        )
    if not parts:
        return pl.DataFrame()
    table = pl.concat(parts)
    return table.select(*by, *(c for c in table.columns if c not in by))


@dataclass(frozen=True)
class Selection:
    """The calls an audit scores, and what it left out."""

    scored: pl.DataFrame  # the calls kept, with a ``flags`` column ("" for the honest default)
    left_out: pl.DataFrame  # GROUP columns, ``reason``, ``calls``: calls not scored, by reason


def select_calls(
    scored: pl.DataFrame, *, include_late: bool = False, include_tuning: bool = False
) -> Selection:
    """Keep the calls an honest scoreboard may count, and label the rest.

    A call recorded late (``recorded_late``: an analyst call stored after the next session had
    opened, when prices after its as-of day existed) or made in its methodology's tuning period
    (``in_tuning_period``: the parameters were chosen on data including it) is left out, unless
    ``include_late`` / ``include_tuning``: then it is kept but flagged, so it forms a group of
    its own. A methodology that does not declare its tuning period (``in_tuning_period`` null)
    is kept and flagged "tuning period undeclared". Frames without these columns are kept as
    they are (flags empty).
    """
    late = (
        pl.col("recorded_late").fill_null(False)
        if "recorded_late" in scored.columns
        else pl.lit(False)
    )
    tuning = pl.col("in_tuning_period") if "in_tuning_period" in scored.columns else pl.lit(False)
    labelled = scored.with_columns(
        _late=late,
        _tuning=tuning.fill_null(False),
        _undeclared=tuning.is_null(),
    ).with_columns(
        pl.concat_list(
            pl.when(pl.col("_late")).then(pl.lit(RECORDED_LATE)),
            pl.when(pl.col("_tuning")).then(pl.lit(IN_TUNING_PERIOD)),
            pl.when(pl.col("_undeclared")).then(pl.lit(TUNING_UNDECLARED)),
        )
        .list.drop_nulls()
        .list.join(", ")
        .alias(FLAGS)
    )
    dropped = (pl.col("_late") & (not include_late)) | (pl.col("_tuning") & (not include_tuning))
    left_out = (
        labelled.filter(dropped)
        .group_by(*GROUP, FLAGS, maintain_order=True)
        .agg(
            pl.len().alias("calls"),
            pl.col("as_of").min().alias("first_as_of"),
            pl.col("as_of").max().alias("last_as_of"),
        )
        .rename({FLAGS: "reason"})
    )
    return Selection(labelled.filter(~dropped).drop("_late", "_tuning", "_undeclared"), left_out)


def describe_group(row: dict, columns: Sequence[str] = GROUP) -> str:
    """'RTY callbook backfill v1 demo' (+ ' [flags]' when the group is flagged)."""
    text = " ".join(str(row[c]) for c in columns)
    return f"{text} [{row[FLAGS]}]" if row.get(FLAGS) else text
