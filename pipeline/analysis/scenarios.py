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
shrunk toward the climatology of all elapsed calls: p_k = (n_k + a * pi_k) / (n + a).
"""

from __future__ import annotations

import numpy as np
import polars as pl

from pipeline.analysis.params import AnalysisParams

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


def base_rate_probabilities(table: pl.DataFrame, *, params: AnalysisParams) -> pl.DataFrame:
    """Point-in-time scenario probabilities for every row of ``table``.

    ``table`` (one row per session, in order) needs: ``state_key`` (String; null = no call that
    day), ``outcome`` (Int64: BEAR/SIDEWAYS/BULL or UNRESOLVED). Returns ``table`` with
    ``p_bear, p_sideways, p_bull``, the analog counts ``n_bear, n_sideways, n_bull, n_analogs``
    and the climatology ``clim_bear, clim_sideways, clim_bull``; probabilities are null where
    the state key is null.
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
        (pl.col("session_index") + horizon).alias("known_from"),
        *(
            (pl.col("outcome") == k).cast(pl.Int64).alias(f"is_{name}")
            for k, name in enumerate(names)
        ),
    )
    by_state = resolved.sort("known_from").select(
        "state_key",
        "known_from",
        *(pl.col(f"is_{name}").cum_sum().over("state_key").alias(f"n_{name}") for name in names),
    )
    overall = resolved.sort("known_from").select(
        "known_from", *(pl.col(f"is_{name}").cum_sum().alias(f"all_{name}") for name in names)
    )
    # Several analogs can become known on the same session: keep the last cumulative row.
    by_state = by_state.group_by("state_key", "known_from", maintain_order=True).last()
    overall = overall.group_by("known_from", maintain_order=True).last()

    out = indexed.sort("session_index")
    out = out.join_asof(
        overall, left_on="session_index", right_on="known_from", strategy="backward"
    ).drop("known_from")
    out = out.join_asof(
        by_state.sort("known_from"),
        left_on="session_index",
        right_on="known_from",
        by="state_key",
        strategy="backward",
        # Sorted by known_from within every state (the frame is sorted by it as a whole).
        check_sortedness=False,
    ).drop("known_from")
    counts = [pl.col(f"n_{name}").fill_null(0) for name in names]
    totals = [pl.col(f"all_{name}").fill_null(0) for name in names]
    n_all = pl.sum_horizontal(totals)
    n_state = pl.sum_horizontal(counts)
    climatology = [(t + prior / 3) / (n_all + prior) for t in totals]
    probabilities = [
        (c + a * pi) / (n_state + a) for c, pi in zip(counts, climatology, strict=True)
    ]
    has_call = pl.col("state_key").is_not_null()
    return out.with_columns(
        *(
            pl.when(has_call).then(c).alias(f"n_{name}")
            for c, name in zip(counts, names, strict=True)
        ),
        pl.when(has_call).then(n_state).alias("n_analogs"),
        *(
            pl.when(has_call).then(pi).alias(f"clim_{name}")
            for pi, name in zip(climatology, names, strict=True)
        ),
        *(
            pl.when(has_call).then(p).alias(f"p_{name}")
            for p, name in zip(probabilities, names, strict=True)
        ),
    ).drop("session_index", *(f"all_{name}" for name in names))
