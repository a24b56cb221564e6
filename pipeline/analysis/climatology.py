"""Base rates from counted outcomes: the one definition of shrinkage toward a prior, point in time.

Every base rate callbook publishes or scores against is counted outcomes shrunk toward a prior
with a number of pseudo-calls (:func:`shrunk`):

    rate_k = (n_k + w * prior_k) / (n + w)

* the **climatology**: all outcomes known by the call's day, toward the uniform prior with
  ``CLIMATOLOGY_PRIOR_WEIGHT`` pseudo-calls (:func:`expanding_climatology`);
* the **barrier geometry**: outcomes of calls with the same barrier-distance buckets, toward the
  climatology with ``shrinkage_strength`` pseudo-calls;
* the **state**: outcomes of calls in the same full state, toward the geometry with
  ``state_shrinkage_strength`` pseudo-calls (:func:`pipeline.analysis.scenarios.
  base_rate_probabilities`).

The analysis (methodologies' base rates, the probability model's geometry) and the audit (the
scoreboard's climatology and geometry references) both count and shrink here; the SQL views do
the same with the macro of ``warehouse/sql/views/000_climatology.sql``, the prior weight bound
from :data:`pipeline.analysis.params.CLIMATOLOGY_PRIOR_WEIGHT` (the ``reference_parameters``
table). Outcomes are
scenario indices 0 (bear), 1 (sideways), 2 (bull).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import numpy.typing as npt
import polars as pl

from pipeline.analysis.params import CLIMATOLOGY_PRIOR_WEIGHT
from pipeline.analysis.snapshot import SCENARIOS

#: Number of ordered scenarios (bear, sideways, bull).
N_SCENARIOS = len(SCENARIOS)
#: Climatology before any outcome is known: uniform over the scenarios...
UNIFORM_PRIOR: tuple[float, ...] = (1 / 3, 1 / 3, 1 / 3)
#: ...worth CLIMATOLOGY_PRIOR_WEIGHT pseudo-calls (pipeline/analysis/params.py).
#: How far a prior may sum from 1.
PRIOR_SUM_TOLERANCE = 1e-6


def first_row(mask: npt.ArrayLike) -> int:
    """The index of the first True of ``mask`` (for error messages naming the row at fault)."""
    return int(np.flatnonzero(mask)[0])


def outcome_indices(outcome: np.ndarray | pl.Series, n: int) -> np.ndarray:
    """``outcome`` as int64 scenario indices of shape ``(n,)``, or a ValueError naming the first
    row that is not 0, 1 or 2 (an unresolved call, -1, cannot be counted or scored).

    >>> outcome_indices(np.array([2, 0]), 2).tolist()
    [2, 0]
    """
    values = np.asarray(outcome)
    if values.shape != (n,):
        raise ValueError(
            f"outcome must have shape ({n},) to match the probabilities, got {values.shape}"
        )
    if not np.issubdtype(values.dtype, np.integer):
        if np.issubdtype(values.dtype, np.floating) and np.isnan(values).any():
            raise ValueError(
                f"outcome row {first_row(np.isnan(values))} is null: score only resolved calls"
            )
        raise TypeError(f"outcome must hold integer scenario indices, got dtype {values.dtype}")
    invalid = (values < 0) | (values >= N_SCENARIOS)
    if invalid.any():
        row = first_row(invalid)
        raise ValueError(
            f"outcome row {row} is {int(values[row])}: expected 0 (bear), 1 (sideways) or "
            "2 (bull); an unresolved call (-1) cannot be scored"
        )
    return values.astype(np.int64)


def shrunk(counts: np.ndarray, pseudo_counts: np.ndarray | float, weight: float) -> np.ndarray:
    """Rates ``(counts + pseudo_counts) / (n + weight)`` per row, ``n`` the row's total count.

    ``counts``: ``(n, 3)`` outcome counts; ``pseudo_counts``: ``weight`` times the prior the
    rates are shrunk toward (a row per call, or one for all).

    >>> shrunk(np.array([[0, 0, 0], [2, 1, 3]]), np.ones(3), 3.0).round(4).tolist()
    [[0.3333, 0.3333, 0.3333], [0.3333, 0.2222, 0.4444]]
    """
    return (counts + pseudo_counts) / (counts.sum(axis=1, keepdims=True) + weight)


def session_indices(values: np.ndarray | pl.Series, name: str) -> np.ndarray:
    array = np.asarray(values)
    if array.ndim != 1:
        raise ValueError(f"{name} must be one-dimensional, got shape {array.shape}")
    if not np.issubdtype(array.dtype, np.integer):
        raise TypeError(f"{name} must hold integer session indices, got dtype {array.dtype}")
    return array.astype(np.int64)


def expanding_counts(
    as_of_order: np.ndarray, resolved_order: np.ndarray, outcome: np.ndarray, key: np.ndarray
) -> np.ndarray:
    """Per call i, the outcome counts (n, 3) among calls j with the same ``key`` and
    ``resolved_order[j] <= as_of_order[i]``.

    >>> expanding_counts(np.array([0, 5, 9]), np.array([4, 8, 12]), np.array([2, 0, 1]),
    ...                  np.array(["a", "a", "a"])).tolist()
    [[0, 0, 0], [0, 0, 1], [1, 0, 1]]
    """
    counts = np.zeros((as_of_order.size, N_SCENARIOS), dtype=np.int64)
    for value in np.unique(key):
        members = np.flatnonzero(key == value)
        order = np.argsort(resolved_order[members], kind="stable")
        resolved_sorted = resolved_order[members][order]
        one_hot = np.eye(N_SCENARIOS, dtype=np.int64)[outcome[members][order]]
        cumulative = np.vstack(
            [np.zeros((1, N_SCENARIOS), dtype=np.int64), np.cumsum(one_hot, axis=0)]
        )
        known = np.searchsorted(resolved_sorted, as_of_order[members], side="right")
        counts[members] = cumulative[known]
    return counts


def expanding_climatology(
    as_of_order: np.ndarray | pl.Series,
    resolved_order: np.ndarray | pl.Series,
    outcome: np.ndarray | pl.Series,
    *,
    prior: Sequence[float] = UNIFORM_PRIOR,
    prior_weight: float = CLIMATOLOGY_PRIOR_WEIGHT,
) -> np.ndarray:
    """Point-in-time climatological probabilities for every call, shape ``(n, 3)``.

    Orders are integer session indices (e.g. positions in the CME trade-date calendar). Call
    ``j`` is made on session ``as_of_order[j]`` and its outcome becomes known on session
    ``resolved_order[j]`` (strictly later). For call ``i`` made on ``t_i``, call ``j`` counts iff
    ``resolved_order[j] <= t_i``: an outcome settled at the close of ``t_i`` is known when the
    call is made after that close. With counts ``n_k`` of such outcomes (``m`` in all)::

        clim_ik = (n_k + prior_weight * prior_k) / (m + prior_weight)

    so the first calls get ``prior`` and no call ever sees the full sample. Pass
    ``resolved_order = as_of_order + H`` to count only fully elapsed horizons (as
    ``pipeline.analysis.scenarios`` does). Pass every resolved call (in any order, ties allowed):
    calls still open cannot feed any climatology. Pooling across roots is the caller's choice.
    O(n log n).

    >>> expanding_climatology(
    ...     np.array([0, 1, 2, 3]), np.array([2, 3, 4, 5]), np.array([2, 2, 0, 1])
    ... ).round(6).tolist()  # calls 2 and 3 see the bull outcomes of calls 0 (and 1)
    [[0.333333, 0.333333, 0.333333], [0.333333, 0.333333, 0.333333], [0.25, 0.25, 0.5], [0.2, 0.2, 0.6]]
    """
    as_of = session_indices(as_of_order, "as_of_order")
    resolved = session_indices(resolved_order, "resolved_order")
    if resolved.shape != as_of.shape:
        raise ValueError(
            f"resolved_order has {len(resolved)} calls but as_of_order has {len(as_of)}"
        )
    outcomes = outcome_indices(outcome, len(as_of))
    too_early = resolved <= as_of
    if too_early.any():
        row = first_row(too_early)
        raise ValueError(
            f"call {row} is resolved on session {int(resolved[row])}, not after it was made "
            f"(session {int(as_of[row])})"
        )
    prior_probs = np.asarray(prior, dtype=np.float64)
    if (
        prior_probs.shape != (N_SCENARIOS,)
        or not np.isfinite(prior_probs).all()
        or (prior_probs < 0).any()
        or abs(prior_probs.sum() - 1) > PRIOR_SUM_TOLERANCE
    ):
        raise ValueError(f"prior must be {N_SCENARIOS} probabilities summing to 1, got {prior}")
    if not (math.isfinite(prior_weight) and prior_weight > 0):
        raise ValueError(
            f"prior_weight must be a positive number of pseudo-calls, got {prior_weight}"
        )
    counts = expanding_counts(as_of, resolved, outcomes, np.zeros(len(as_of), dtype=np.int8))
    return shrunk(counts, prior_weight * prior_probs, prior_weight)
