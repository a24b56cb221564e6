"""Scenario resolution (first touch with acceptance) and point-in-time base-rate probabilities.

Resolution rule (DESIGN.md): over the ``horizon`` sessions after the call, *bull* if acceptance
above the upper barrier comes first, *bear* if acceptance below the lower barrier comes first,
*sideways* if neither happens. Acceptance = ``sessions`` consecutive settlements beyond the barrier
by more than ``threshold`` (0.1 ATR of the call day). The settlements are those of the
difference-adjusted continuous series, so a roll inside the horizon moves no barrier: shifting the
barrier by the roll spread and adjusting the prices by it are the same thing.

Probabilities: for a call on session d, the analogs are past calls in the same state whose horizon
had fully ended by d (t + horizon <= d). Counting only fully elapsed horizons keeps early
resolutions (bull or bear) from being over-represented among the recent analogs. The counts are
shrunk toward the climatology of all elapsed calls, through the barrier geometry:
p_k = (n_k + a' * g_k) / (n + a') with g_k = (m_k + a * pi_k) / (m + a) (see
:func:`base_rate_probabilities`).
"""

from __future__ import annotations

import numpy as np
import polars as pl

from pipeline.analysis.climatology import UNIFORM_PRIOR, shrunk
from pipeline.analysis.params import CoreParams

BEAR, SIDEWAYS, BULL = 0, 1, 2
UNRESOLVED = -1


def resolve_barriers(
    close: np.ndarray,
    upper: np.ndarray,
    lower: np.ndarray,
    threshold: np.ndarray,
    *,
    horizon: int,
    sessions: int,
) -> tuple[np.ndarray, np.ndarray]:
    """Resolve a call made on every session i of ``close`` against its own barriers.

    Returns ``(outcome, steps)``: outcome BEAR/SIDEWAYS/BULL, or UNRESOLVED when fewer than
    ``horizon`` sessions follow i or a barrier is NaN; steps = sessions after i on which the
    outcome was settled (the acceptance session, or ``horizon`` for sideways; -1 if unresolved).

    >>> close = np.array([100.0, 103.0, 106.0, 107.0, 104.0, 101.0])
    >>> up, lo, thr = np.full(6, 105.0), np.full(6, 95.0), np.full(6, 0.5)
    >>> outcome, steps = resolve_barriers(close, up, lo, thr, horizon=3, sessions=2)
    >>> outcome.tolist(), steps.tolist()
    ([2, 2, 1, -1, -1, -1], [3, 2, 3, -1, -1, -1])
    """
    calls = np.arange(close.size)
    ahead = sessions_ahead(close, calls, horizon=horizon)
    first_up = first_acceptance(ahead > (upper + threshold)[:, None], sessions=sessions)
    first_down = first_acceptance(ahead < (lower - threshold)[:, None], sessions=sessions)
    resolvable = (calls + horizon < close.size) & np.isfinite(upper) & np.isfinite(lower)
    resolvable &= np.isfinite(threshold)
    return scenario_outcome(first_up, first_down, resolvable, horizon=horizon)


def sessions_ahead(values: np.ndarray, calls: np.ndarray, *, horizon: int) -> np.ndarray:
    """``values[call + h]`` for h = 1..horizon as an (n_calls, horizon) matrix (NaN past the end)."""
    if horizon < 1:
        raise ValueError(f"horizon must be >= 1, got {horizon}")
    index = calls[:, None] + np.arange(1, horizon + 1)[None, :]
    inside = index < values.size
    out = np.full(index.shape, np.nan)
    out[inside] = values[index[inside]]
    return out


def first_acceptance(beyond: np.ndarray, *, sessions: int) -> np.ndarray:
    """Per row, the step (1-based) completing the first run of ``sessions`` consecutive Trues.

    ``horizon + 1`` where there is none.

    >>> first_acceptance(np.array([[False, True, True, True], [True, False, True, False]]), sessions=2)
    array([3, 5])
    """
    if sessions < 1:
        raise ValueError(f"sessions must be >= 1, got {sessions}")
    accepted = beyond.copy()
    for lag in range(1, sessions):
        accepted[:, lag:] &= beyond[:, :-lag]
        accepted[:, :lag] = False
    hit = accepted.any(axis=1)
    return np.where(hit, accepted.argmax(axis=1) + 1, beyond.shape[1] + 1)


def scenario_outcome(
    first_up: np.ndarray, first_down: np.ndarray, resolvable: np.ndarray, *, horizon: int
) -> tuple[np.ndarray, np.ndarray]:
    """(outcome, steps) from the first acceptance steps above and below (see resolve_barriers)."""
    outcome = np.where(first_up < first_down, BULL, np.where(first_down < first_up, BEAR, SIDEWAYS))
    steps = np.minimum(np.minimum(first_up, first_down), horizon)
    return (
        np.where(resolvable, outcome, UNRESOLVED).astype(np.int64),
        np.where(resolvable, steps, -1).astype(np.int64),
    )


def distance_bucket(distance_atr: pl.Expr, edges: tuple[float, ...]) -> pl.Expr:
    """0 for a distance below edges[0], 1 below edges[1], ... (null stays null)."""
    bucket = pl.lit(0, dtype=pl.Int32)
    for edge in edges:
        bucket = bucket + (distance_atr >= edge).cast(pl.Int32)
    return pl.when(distance_atr.is_null()).then(None).otherwise(bucket)


def geometry_key(up_bucket: pl.Expr, down_bucket: pl.Expr) -> pl.Expr:
    """The barrier-geometry cell of a call, ``up<bucket>|down<bucket>`` (the distance buckets of
    :func:`distance_bucket` to the upper and lower barrier): the part of the analog state the
    geometry base rates, the probability model and the audit's geometry reference all key on.

    >>> pl.select(geometry_key(pl.lit(1), pl.lit(2))).item()
    'up1|down2'
    """
    return pl.format("up{}|down{}", up_bucket, down_bucket)


def _known_counts(
    indexed: pl.DataFrame, resolved: pl.DataFrame, key: str | None, prefix: str
) -> pl.DataFrame:
    """As-of join onto every session the outcome counts of the analogs known by then.

    ``resolved`` has ``known_from`` (session index from which an analog's outcome is known),
    one-hot ``is_<scenario>`` columns and, unless ``key`` is None, the key column.
    """
    names = ("bear", "sideways", "bull")
    over = [key] if key else []
    cumulative = resolved.sort("known_from").select(
        *over,
        "known_from",
        *(
            (pl.col(f"is_{n}").cum_sum().over(key) if key else pl.col(f"is_{n}").cum_sum()).alias(
                f"{prefix}_{n}"
            )
            for n in names
        ),
    )
    # Several analogs can become known on the same session: keep the last cumulative row.
    cumulative = cumulative.group_by(*over, "known_from", maintain_order=True).last()
    return indexed.join_asof(
        cumulative,
        left_on="session_index",
        right_on="known_from",
        by=key,
        strategy="backward",
        # Sorted by known_from as a whole, hence within every key too.
        check_sortedness=key is None,
    ).drop("known_from")


def base_rate_probabilities(table: pl.DataFrame, *, params: CoreParams) -> pl.DataFrame:
    """Point-in-time scenario probabilities for every row of ``table``.

    ``table`` (one row per session, in order) needs ``state_key`` and ``geometry_key`` (String;
    null = no call that day; the geometry key is the barrier-distance part of the state) and
    ``outcome`` (Int64: BEAR/SIDEWAYS/BULL or UNRESOLVED). Shrinkage is hierarchical:

    * climatology pi_k: all analogs known by then, plus ``climatology_prior_weight`` pseudo-counts;
    * geometry rate g_k = (m_k + a * pi_k) / (m + a) over analogs with the same barrier distances;
    * p_k = (n_k + a' * g_k) / (n + a') over analogs in the same full state
      (a = ``shrinkage_strength``, a' = ``state_shrinkage_strength``).

    So a sparse state falls back on its barrier geometry, and a sparse geometry on climatology.
    Returns ``table`` with ``p_*``, the state analog counts ``n_*`` and ``n_analogs``, the
    geometry analog count ``n_geometry`` and the climatology ``clim_*``.
    """
    horizon = params.horizon_sessions
    a = params.shrinkage_strength
    prior = params.climatology_prior_weight
    names = ("bear", "sideways", "bull")
    indexed = table.with_row_index("session_index").with_columns(
        pl.col("session_index").cast(pl.Int64)
    )
    resolved = indexed.filter(
        pl.col("state_key").is_not_null() & (pl.col("outcome") != UNRESOLVED)
    ).select(
        "state_key",
        "geometry_key",
        (pl.col("session_index") + horizon).alias("known_from"),
        *(
            (pl.col("outcome") == k).cast(pl.Int64).alias(f"is_{name}")
            for k, name in enumerate(names)
        ),
    )
    out = indexed.sort("session_index")
    out = _known_counts(out, resolved.drop("state_key", "geometry_key"), None, "all")
    out = _known_counts(out, resolved.drop("state_key"), "geometry_key", "geo")
    out = _known_counts(out, resolved.drop("geometry_key"), "state_key", "n")

    def counts(prefix: str) -> np.ndarray:
        columns = [pl.col(f"{prefix}_{name}").fill_null(0) for name in names]
        return out.select(columns).to_numpy().astype(np.int64)

    # The one shrinkage (pipeline.analysis.climatology.shrunk): climatology toward the uniform
    # prior, geometry toward the climatology, the full state toward the geometry.
    totals, geometry_counts, state_counts = counts("all"), counts("geo"), counts("n")
    climatology = shrunk(totals, prior * np.asarray(UNIFORM_PRIOR), prior)
    geometry = shrunk(geometry_counts, a * climatology, a)
    a_state = params.state_shrinkage_strength
    probabilities = shrunk(state_counts, a_state * geometry, a_state)
    has_call = pl.col("state_key").is_not_null()

    def on_calls(values: np.ndarray, prefix: str) -> list[pl.Expr]:
        return [
            pl.when(has_call).then(pl.lit(pl.Series(values[:, k]))).alias(f"{prefix}_{name}")
            for k, name in enumerate(names)
        ]

    return out.with_columns(
        *on_calls(state_counts, "n"),
        pl.when(has_call).then(pl.lit(pl.Series(state_counts.sum(axis=1)))).alias("n_analogs"),
        pl.when(has_call).then(pl.lit(pl.Series(geometry_counts.sum(axis=1)))).alias("n_geometry"),
        *on_calls(climatology, "clim"),
        *on_calls(probabilities, "p"),
    ).drop("session_index", *(f"all_{name}" for name in names), *(f"geo_{name}" for name in names))
