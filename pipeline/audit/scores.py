"""Scores for ordered three-scenario forecasts, climatology, skill, reliability and uncertainty.

Every call carries probabilities ``p = (p_bear, p_sideways, p_bull)`` over the ordered scenarios
bear (0) < sideways (1) < bull (2), summing to 1, and once its horizon has passed a realised
outcome index in {0, 1, 2}. The core functions take numpy arrays: ``probs`` of shape ``(n, 3)``
and ``outcome`` of shape ``(n,)``; :func:`probabilities_from_frame` and :func:`with_scores` are
thin polars wrappers.

All three scores are *losses*: lower is better, 0 is a certain and correct forecast.

=====================  ===========  =====================================================
score                  range        meaning
=====================  ===========  =====================================================
ranked probability     [0, 1]       squared distance between forecast and outcome CDFs,
                                    so mass on the neighbouring scenario costs less than
                                    mass on the opposite one (primary score)
multi-category Brier   [0, 2]       squared distance between forecast and one-hot outcome
log score              [0, 4.61]    -ln p(outcome), p floored at 0.01 (nats)
=====================  ===========  =====================================================

Skill is measured against a point-in-time climatology: built only from outcomes already known
when each call was made (never the full sample). Calls use a 20-session horizon, so consecutive
calls overlap and neighbouring outcomes are dependent. Every interval here accounts for it:

* skill: a circular block bootstrap with blocks of ``SKILL_BLOCK_HORIZONS`` horizons, its
  standard error turned into an interval with a Student-t quantile on (blocks - 1) degrees of
  freedom; fewer than ``MIN_INTERVAL_HORIZONS`` horizons of calls get no interval at all
  (:class:`TooFewCallsError`, "too few calls: n < ...");
* observed frequencies (reliability): a Wilson interval on the *effective* number of calls of
  the bucket, from the overlap of their horizons (:func:`effective_counts`).

Both were checked for coverage on planted series whose truth is known
(tests/pipeline/audit/test_interval_coverage.py).

Null handling: a NaN probability, a probability outside [0, 1], a row not summing to 1 or an
outcome outside {0, 1, 2} (e.g. -1 = unresolved) raises ``ValueError`` naming the first row at
fault. Score only resolved calls.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from statistics import NormalDist
from typing import NamedTuple

import numpy as np
import polars as pl

from pipeline.analysis.climatology import N_SCENARIOS, first_row, outcome_indices, session_indices
from pipeline.analysis.snapshot import SCENARIOS

#: The probability columns of a calls frame, in scenario order.
PROBABILITY_COLUMNS: tuple[str, ...] = tuple(f"p_{name}" for name in SCENARIOS)
#: How far a row of probabilities may sum from 1 (they are stored rounded).
PROBABILITY_SUM_TOLERANCE = 1e-6
#: Probabilities below this are raised to it in the log score, so one confident miss costs
#: at most -ln(0.01) = 4.6 nats instead of infinity.
LOG_SCORE_FLOOR = 0.01
DEFAULT_BOOTSTRAP_REPLICATES = 2000
DEFAULT_INTERVAL_LEVEL = 0.9
DEFAULT_RELIABILITY_BINS = 10
#: Default confidence level of :func:`wilson_interval`...
WILSON_LEVEL = 0.95
#: ...and of the reliability tables' intervals (as the skill interval's: the level whose
#: coverage is tested).
RELIABILITY_LEVEL = DEFAULT_INTERVAL_LEVEL
#: Skill intervals resample blocks of this many horizons of consecutive calls. Scores of calls
#: whose horizons overlap are dependent over up to one horizon, and blocks of exactly one horizon
#: cut that dependence at every block edge: on the planted series of test_interval_coverage.py
#: the 90 % interval covered the true skill 79-89 % of the time with blocks of one horizon and
#: 91-95 % with three (60 to 2,000 calls, two seeds each).
SKILL_BLOCK_HORIZONS = 3
#: A skill interval needs calls spanning at least this many horizons: with fewer, every bootstrap
#: replicate is nearly the same calls (one circular block gives a zero-width interval) and the
#: interval claims a precision the calls do not have (84 % coverage at two horizons).
MIN_INTERVAL_HORIZONS = 3
#: Below this many horizons of calls the correlation of overlapping outcomes is not estimated
#: from the calls (too noisy: 80-84 % coverage at 3-5 horizons) but bounded by the overlap
#: fraction ``1 - lag / H`` (95-97 % coverage there: wider than needed, never narrower). From
#: this many on, estimated: 90-92 % (test_interval_coverage.py).
OVERLAP_ESTIMATE_MIN_HORIZONS = 10
# Bootstrap block draws generated per chunk: bounds memory (a few arrays of 8 MB) for any n_boot.
_BOOTSTRAP_DRAWS_PER_CHUNK = 1_000_000

_SCENARIO_INDEX: dict[str, int] = {name: k for k, name in enumerate(SCENARIOS)}


# --------------------------------------------------------------------------------------------
# Scenario names and input validation
# --------------------------------------------------------------------------------------------


def outcome_index(names: Iterable[str]) -> np.ndarray:
    """Scenario names ("bear", "sideways", "bull") to outcome indices 0, 1, 2.

    >>> outcome_index(["bull", "bear", "sideways"]).tolist()
    [2, 0, 1]
    >>> [SCENARIOS[k] for k in outcome_index(["sideways"])]
    ['sideways']
    """
    indices = []
    for row, name in enumerate(names):
        if name not in _SCENARIO_INDEX:
            raise ValueError(f"outcome row {row} is {name!r}: expected one of {SCENARIOS}")
        indices.append(_SCENARIO_INDEX[name])
    return np.asarray(indices, dtype=np.int64)


def _as_probabilities(probs: np.ndarray | pl.DataFrame) -> np.ndarray:
    values = np.asarray(probs, dtype=np.float64)
    if values.ndim != 2 or values.shape[1] != N_SCENARIOS:
        raise ValueError(
            f"probabilities must have shape (n, {N_SCENARIOS}) in order {SCENARIOS}, "
            f"got {values.shape}"
        )
    missing = np.isnan(values).any(axis=1)
    if missing.any():
        row = first_row(missing)
        raise ValueError(f"probabilities row {row} is null/NaN: {values[row].tolist()}")
    out_of_range = ((values < 0) | (values > 1)).any(axis=1)
    if out_of_range.any():
        row = first_row(out_of_range)
        raise ValueError(f"probabilities row {row} leaves [0, 1]: {values[row].tolist()}")
    off_sum = np.abs(values.sum(axis=1) - 1) > PROBABILITY_SUM_TOLERANCE
    if off_sum.any():
        row = first_row(off_sum)
        raise ValueError(
            f"probabilities row {row} sums to {float(values[row].sum())!r}, not 1 "
            f"(tolerance {PROBABILITY_SUM_TOLERANCE}): {values[row].tolist()}"
        )
    return values


def _validated(
    probs: np.ndarray | pl.DataFrame, outcome: np.ndarray | pl.Series
) -> tuple[np.ndarray, np.ndarray]:
    values = _as_probabilities(probs)
    return values, outcome_indices(outcome, len(values))


# --------------------------------------------------------------------------------------------
# Scores (per call; lower is better)
# --------------------------------------------------------------------------------------------


def ranked_probability_score(
    probs: np.ndarray | pl.DataFrame, outcome: np.ndarray | pl.Series
) -> np.ndarray:
    """Ranked probability score per call, normalised to [0, 1]; lower is better.

    ``RPS = sum_{k < K-1} (CDF_p(k) - CDF_o(k))^2 / (K - 1)`` with ``CDF_o`` the step at the
    outcome. 0 only for certainty on the realised scenario; 1 for certainty on one extreme when
    the other extreme happens. Because the scenarios are ordered, a bull call that ends sideways
    scores better than one that ends bear.

    >>> p = np.array([[0.2, 0.4, 0.4]] * 3)
    >>> ranked_probability_score(p, np.array([0, 1, 2])).round(6).tolist()
    [0.4, 0.1, 0.2]
    """
    values, outcomes = _validated(probs, outcome)
    forecast_cdf = np.cumsum(values, axis=1)[:, :-1]
    outcome_cdf = outcomes[:, None] <= np.arange(N_SCENARIOS - 1)[None, :]
    return np.sum((forecast_cdf - outcome_cdf) ** 2, axis=1) / (N_SCENARIOS - 1)


def brier_score(probs: np.ndarray | pl.DataFrame, outcome: np.ndarray | pl.Series) -> np.ndarray:
    """Multi-category Brier score per call, ``sum_k (p_k - o_k)^2`` in [0, 2]; lower is better.

    Ignores the order of the scenarios (any miss costs the same).

    >>> p = np.array([[0.2, 0.4, 0.4]] * 3)
    >>> brier_score(p, np.array([0, 1, 2])).round(6).tolist()
    [0.96, 0.56, 0.56]
    """
    values, outcomes = _validated(probs, outcome)
    one_hot = outcomes[:, None] == np.arange(N_SCENARIOS)[None, :]
    return np.sum((values - one_hot) ** 2, axis=1)


def log_score(
    probs: np.ndarray | pl.DataFrame,
    outcome: np.ndarray | pl.Series,
    *,
    floor: float = LOG_SCORE_FLOOR,
) -> np.ndarray:
    """Log score per call: ``-ln(max(p_outcome, floor))`` in nats; lower is better.

    Sign convention: the negative log-likelihood, so like the other scores 0 is a certain and
    correct forecast; the worst value is ``-ln(floor)`` (4.605 with the default 0.01).

    >>> p = np.array([[0.2, 0.4, 0.4], [0.0, 0.5, 0.5]])
    >>> log_score(p, np.array([0, 0])).round(4).tolist()  # -ln 0.2, -ln 0.01 (floored)
    [1.6094, 4.6052]
    """
    if not 0 < floor <= 1:
        raise ValueError(f"log score floor must be in (0, 1], got {floor}")
    values, outcomes = _validated(probs, outcome)
    realised = values[np.arange(len(values)), outcomes]
    return -np.log(np.maximum(realised, floor))


# --------------------------------------------------------------------------------------------
# Skill and its uncertainty
# --------------------------------------------------------------------------------------------


class SkillInterval(NamedTuple):
    """A skill score with the bounds of its bootstrap percentile interval."""

    skill: float
    low: float
    high: float


def _paired_scores(
    model_scores: np.ndarray | pl.Series,
    reference_scores: np.ndarray | pl.Series,
    *,
    names: tuple[str, str] = ("model", "reference"),
) -> tuple[np.ndarray, np.ndarray]:
    model = np.asarray(model_scores, dtype=np.float64)
    reference = np.asarray(reference_scores, dtype=np.float64)
    if model.ndim != 1 or model.shape != reference.shape:
        raise ValueError(
            f"{names[0]} and {names[1]} scores must be 1-D and paired, got shapes {model.shape} "
            f"and {reference.shape}"
        )
    if len(model) == 0:
        raise ValueError("skill needs at least one scored call")
    for name, values in zip(names, (model, reference), strict=True):
        not_finite = ~np.isfinite(values)
        if not_finite.any():
            row = first_row(not_finite)
            raise ValueError(f"{name} score row {row} is not finite: {float(values[row])}")
    return model, reference


def skill_score(
    model_scores: np.ndarray | pl.Series, reference_scores: np.ndarray | pl.Series
) -> float:
    """``1 - mean(model) / mean(reference)`` for paired loss scores (higher is better).

    1 = perfect, 0 = no better than the reference, negative = worse than the reference.
    Raises if the reference's mean score is not positive (nothing left to improve on).

    >>> skill_score(np.array([0.1, 0.3]), np.array([0.4, 0.4]))
    0.5
    """
    model, reference = _paired_scores(model_scores, reference_scores)
    reference_mean = reference.mean()
    if reference_mean <= 0:
        raise ValueError(f"reference mean score is {float(reference_mean)}: skill is undefined")
    return float(1 - model.mean() / reference_mean)


def _circular_cumsum(values: np.ndarray, block: int) -> np.ndarray:
    """Cumulative sums (leading 0) of ``values`` followed by its first ``block - 1`` values, so
    the sum of the circular block starting at ``s`` is ``out[s + length] - out[s]``."""
    wrapped = np.concatenate([values, values[: block - 1]])
    return np.concatenate([[0.0], np.cumsum(wrapped)])


def _block_lengths(n: int, block: int) -> np.ndarray:
    """Lengths of the blocks one replicate joins: ``ceil(n / block)`` blocks, the last cut so
    that they add up to ``n``."""
    full_blocks, remainder = divmod(n, block)
    lengths = np.full(full_blocks + (remainder > 0), block)
    if remainder:
        lengths[-1] = remainder
    return lengths


class TooFewCallsError(ValueError):
    """Too few calls for an honest interval (the message says how many were needed)."""


def interval_block(n: int, horizon: int) -> int:
    """The bootstrap block length for ``n`` calls over ``horizon`` sessions:
    ``SKILL_BLOCK_HORIZONS`` horizons, but at most half the calls (two blocks at least).

    Raises :class:`TooFewCallsError` below ``MIN_INTERVAL_HORIZONS`` horizons of calls.

    >>> interval_block(1000, 20), interval_block(90, 20)
    (60, 45)
    >>> interval_block(12, 20)
    Traceback (most recent call last):
    ...
    pipeline.audit.scores.TooFewCallsError: too few calls: 12 < 60 (3 horizons of 20 sessions)
    """
    if horizon < 1:
        raise ValueError(f"horizon must be at least 1 session, got {horizon}")
    minimum = MIN_INTERVAL_HORIZONS * horizon
    if n < minimum:
        raise TooFewCallsError(
            f"too few calls: {n} < {minimum} ({MIN_INTERVAL_HORIZONS} horizons of {horizon} "
            "sessions)"
        )
    return min(SKILL_BLOCK_HORIZONS * horizon, n // 2)


def block_bootstrap_skill(
    model_scores: np.ndarray | pl.Series,
    reference_scores: np.ndarray | pl.Series,
    *,
    horizon: int,
    n_boot: int = DEFAULT_BOOTSTRAP_REPLICATES,
    seed: int = 0,
    level: float = DEFAULT_INTERVAL_LEVEL,
) -> SkillInterval:
    """Skill with a circular block bootstrap interval that accounts for overlapping horizons.

    The scores must be in time order of the calls, one call per session, each resolved over
    ``horizon`` sessions. Each replicate joins ``ceil(n / block)`` blocks of ``block`` =
    :func:`interval_block` consecutive calls (wrapping around the end), cut to ``n`` calls, each
    block starting at a uniformly drawn call; model and reference scores of a call stay paired.
    The interval is ``skill -+ t * sd``: ``sd`` the replicates' standard deviation and ``t`` the
    Student-t quantile at ``(1 + level) / 2`` with ``n / block - 1`` degrees of freedom, which
    widens it when only a few independent blocks exist (a percentile interval of 5-10 blocks
    covered 63-80 % of the time at a nominal 90 %). Fewer than ``MIN_INTERVAL_HORIZONS``
    horizons of calls raise :class:`TooFewCallsError` instead of returning a falsely narrow
    interval. Deterministic for a given ``seed``; each replicate costs O(n / block).

    >>> reference = np.linspace(0.2, 0.6, 80)
    >>> result = block_bootstrap_skill(0.5 * reference, reference, horizon=20, n_boot=200)
    >>> [round(x, 6) for x in result]
    [0.5, 0.5, 0.5]
    """
    from scipy.stats import t as student_t

    model, reference = _paired_scores(model_scores, reference_scores)
    n = len(model)
    block = interval_block(n, horizon)
    if n_boot < 2:
        raise ValueError(f"n_boot must be at least 2, got {n_boot}")
    if not 0 < level < 1:
        raise ValueError(f"level must be in (0, 1), got {level}")
    skill = skill_score(model, reference)

    model_cumsum = _circular_cumsum(model, block)
    reference_cumsum = _circular_cumsum(reference, block)
    lengths = _block_lengths(n, block)
    rng = np.random.default_rng(seed)
    replicate_skill = np.empty(n_boot)
    replicates_per_chunk = max(1, _BOOTSTRAP_DRAWS_PER_CHUNK // len(lengths))
    for first in range(0, n_boot, replicates_per_chunk):
        count = min(replicates_per_chunk, n_boot - first)
        starts = rng.integers(0, n, size=(count, len(lengths)))
        ends = starts + lengths
        model_total = (model_cumsum[ends] - model_cumsum[starts]).sum(axis=1)
        reference_total = (reference_cumsum[ends] - reference_cumsum[starts]).sum(axis=1)
        with np.errstate(divide="ignore", invalid="ignore"):
            replicate_skill[first : first + count] = 1 - model_total / reference_total
    if not np.isfinite(replicate_skill).all():
        raise ValueError(
            "a bootstrap replicate drew only zero reference scores: skill is undefined there"
        )
    half_width = float(student_t.ppf((1 + level) / 2, n / block - 1)) * float(
        replicate_skill.std(ddof=1)
    )
    return SkillInterval(skill, skill - half_width, skill + half_width)


# --------------------------------------------------------------------------------------------
# Paired difference of two methodologies' scores
# --------------------------------------------------------------------------------------------


class PairedDifference(NamedTuple):
    """The mean of paired differences (a - b) with its bootstrap interval."""

    mean: float
    low: float
    high: float
    n: int


def paired_difference(
    a_scores: np.ndarray | pl.Series,
    b_scores: np.ndarray | pl.Series,
    *,
    horizon: int,
    n_boot: int = DEFAULT_BOOTSTRAP_REPLICATES,
    seed: int = 0,
    level: float = DEFAULT_INTERVAL_LEVEL,
) -> PairedDifference:
    """``mean(a - b)`` over paired calls, with the skill interval's rule for its interval.

    ``a_scores[i]`` and ``b_scores[i]`` score the same call (same root and as-of day), in time
    order, one call per session, resolved over ``horizon`` sessions. For loss scores (RPS) a
    negative difference means A did better. As :func:`block_bootstrap_skill`: replicates join
    circular blocks of :func:`interval_block` consecutive pairs, and the interval is
    ``mean -+ t * sd`` (replicates' sd, Student-t on ``n / block - 1`` degrees of freedom).
    Fewer than ``MIN_INTERVAL_HORIZONS`` horizons of pairs raise
    :class:`TooFewCallsError` ("too few paired calls: ...") rather than return a falsely narrow
    interval.

    >>> b = np.linspace(0.1, 0.5, 100)
    >>> d = paired_difference(b + 0.02, b, horizon=20, n_boot=200)
    >>> [round(x, 6) for x in d[:3]], d.n
    ([0.02, 0.02, 0.02], 100)
    """
    from scipy.stats import t as student_t

    a = np.asarray(a_scores, dtype=np.float64)
    if a.ndim == 1 and horizon >= 1 and len(a) < MIN_INTERVAL_HORIZONS * horizon:
        raise TooFewCallsError(
            f"too few paired calls: {len(a)} < {MIN_INTERVAL_HORIZONS * horizon} "
            f"({MIN_INTERVAL_HORIZONS} horizons of {horizon} sessions)"
        )
    a, b = _paired_scores(a, b_scores, names=("A", "B"))
    n = len(a)
    block = interval_block(n, horizon)
    if n_boot < 2:
        raise ValueError(f"n_boot must be at least 2, got {n_boot}")
    if not 0 < level < 1:
        raise ValueError(f"level must be in (0, 1), got {level}")
    difference = a - b
    cumsum = _circular_cumsum(difference, block)
    lengths = _block_lengths(n, block)
    rng = np.random.default_rng(seed)
    replicates = np.empty(n_boot)
    replicates_per_chunk = max(1, _BOOTSTRAP_DRAWS_PER_CHUNK // len(lengths))
    for first in range(0, n_boot, replicates_per_chunk):
        count = min(replicates_per_chunk, n_boot - first)
        starts = rng.integers(0, n, size=(count, len(lengths)))
        replicates[first : first + count] = (cumsum[starts + lengths] - cumsum[starts]).sum(1) / n
    mean = float(difference.mean())
    half_width = float(student_t.ppf((1 + level) / 2, n / block - 1)) * float(
        replicates.std(ddof=1)
    )
    return PairedDifference(mean, mean - half_width, mean + half_width, n)


PAIRED_DIFFERENCE_SCHEMA: dict[str, pl.DataType] = {
    "calls": pl.Int64(),
    "first_as_of": pl.Date(),
    "last_as_of": pl.Date(),
    "mean_a": pl.Float64(),
    "mean_b": pl.Float64(),
    "difference": pl.Float64(),
    "difference_low": pl.Float64(),
    "difference_high": pl.Float64(),
    "block": pl.Int64(),
}


def paired_score_difference(
    a: pl.DataFrame,
    b: pl.DataFrame,
    *,
    horizon: int,
    score: str = "rps",
    by: Sequence[str] = ("root",),
    n_boot: int = DEFAULT_BOOTSTRAP_REPLICATES,
    seed: int = 0,
    level: float = DEFAULT_INTERVAL_LEVEL,
) -> pl.DataFrame:
    """Methodology A's ``score`` minus methodology B's, on the calls both made, per ``by`` group.

    ``a`` and ``b``: scored calls (columns ``by``, ``as_of`` and ``score``; at most one row per
    key in each). They are joined on ``(*by, as_of)``: a session only one methodology called is
    left out, so both are judged on the same sessions. Per group, in as-of order, the mean
    difference and its :func:`paired_difference` interval (``horizon`` in sessions, the calls'
    H; ``block`` in the output is the bootstrap block, :func:`interval_block`). For a loss such
    as the RPS a negative difference means A scored better. One row per group: ``by`` columns,
    then PAIRED_DIFFERENCE_SCHEMA. A group with too few paired calls raises
    ``TooFewCallsError("<group>: too few paired calls: ...")``.

    >>> days = pl.date_range(pl.date(2020, 1, 1), pl.date(2020, 12, 31), eager=True)[:200]
    >>> b = pl.DataFrame({"root": "ES", "as_of": days, "rps": np.linspace(0.1, 0.3, 200)})
    >>> a = b.with_columns(pl.col("rps") - 0.01)
    >>> row = paired_score_difference(a, b, horizon=5, n_boot=100).row(0, named=True)
    >>> row["calls"], round(row["difference"], 6), round(row["difference_low"], 6)
    (200, -0.01, -0.01)
    """
    if horizon < 1:
        raise ValueError(f"horizon must be at least 1 session, got {horizon}")
    keys = [*by, "as_of"]
    for name, frame in (("A", a), ("B", b)):
        missing = [c for c in (*keys, score) if c not in frame.columns]
        if missing:
            raise ValueError(f"methodology {name}'s calls lack column(s) {', '.join(missing)}")
        duplicated = frame.filter(frame.select(keys).is_duplicated())
        if duplicated.height:
            raise ValueError(
                f"methodology {name} has several calls for {duplicated.select(keys).row(0)}: "
                "pass one call per root and session"
            )
    joined = (
        a.select(*keys, pl.col(score).alias("score_a"))
        .join(b.select(*keys, pl.col(score).alias("score_b")), on=keys, how="inner")
        .sort(keys)
    )
    if joined.is_empty():
        raise TooFewCallsError(
            f"too few paired calls: 0 < {MIN_INTERVAL_HORIZONS * horizon} (no common session)"
        )
    rows = []
    for group_key, group in joined.group_by(list(by), maintain_order=True):
        label = "/".join(str(k) for k in group_key)
        try:
            interval = paired_difference(
                group["score_a"],
                group["score_b"],
                horizon=horizon,
                n_boot=n_boot,
                seed=seed,
                level=level,
            )
        except TooFewCallsError as exc:
            raise TooFewCallsError(f"{label}: {exc}") from None
        rows.append(
            {
                **dict(zip(by, group_key, strict=True)),
                "calls": group.height,
                "first_as_of": group["as_of"].min(),
                "last_as_of": group["as_of"].max(),
                "mean_a": float(group["score_a"].mean()),  # type: ignore[arg-type]
                "mean_b": float(group["score_b"].mean()),  # type: ignore[arg-type]
                "difference": interval.mean,
                "difference_low": interval.low,
                "difference_high": interval.high,
                "block": interval_block(group.height, horizon),
            }
        )
    group_schema = {c: joined.schema[c] for c in by}
    return pl.DataFrame(rows, schema={**group_schema, **PAIRED_DIFFERENCE_SCHEMA})


# --------------------------------------------------------------------------------------------
# Reliability
# --------------------------------------------------------------------------------------------


def wilson_interval(
    hits: np.ndarray, count: np.ndarray, *, level: float = WILSON_LEVEL
) -> tuple[np.ndarray, np.ndarray]:
    """Wilson score interval for a frequency ``hits / count`` (elementwise; count >= 1).

    Unlike the normal approximation it stays inside [0, 1] and is sensible for 0 or all hits.

    >>> low, high = wilson_interval(np.array([0, 1]), np.array([1, 2]))
    >>> low.round(4).tolist(), high.round(4).tolist()
    ([0.0, 0.0945], [0.7935, 0.9055])
    """
    if not 0 < level < 1:
        raise ValueError(f"level must be in (0, 1), got {level}")
    hits = np.asarray(hits, dtype=np.float64)
    count = np.asarray(count, dtype=np.float64)
    if (count < 1).any() or (hits < 0).any() or (hits > count).any():
        raise ValueError("wilson_interval needs 0 <= hits <= count and count >= 1")
    z = NormalDist().inv_cdf((1 + level) / 2)
    frequency = hits / count
    denominator = 1 + z**2 / count
    centre = (frequency + z**2 / (2 * count)) / denominator
    half_width = (
        z / denominator * np.sqrt(frequency * (1 - frequency) / count + z**2 / (4 * count**2))
    )
    return np.clip(centre - half_width, 0, 1), np.clip(centre + half_width, 0, 1)


RELIABILITY_SCHEMA: dict[str, pl.DataType] = {
    "bucket": pl.Int64(),
    "bucket_low": pl.Float64(),
    "bucket_high": pl.Float64(),
    "count": pl.Int64(),
    "hits": pl.Int64(),
    "mean_forecast": pl.Float64(),
    "observed_frequency": pl.Float64(),
    "effective_count": pl.Float64(),  # calls the interval rests on (see effective_counts)
    "frequency_low": pl.Float64(),
    "frequency_high": pl.Float64(),
    "interval_basis": pl.String(),  # independent | overlap estimated | overlap bound
}

#: How a reliability interval treats the dependence between calls (``interval_basis``).
INDEPENDENT, OVERLAP_ESTIMATED, OVERLAP_BOUND = "independent", "overlap estimated", "overlap bound"


def overlap_correlation(
    session: np.ndarray | pl.Series,
    residual: np.ndarray | pl.Series,
    *,
    horizon: int,
    estimate: bool | None = None,
) -> tuple[np.ndarray, str]:
    """Correlation of the outcomes of two calls ``lag`` sessions apart, lag = 0 .. horizon - 1.

    Calls resolved over ``horizon`` sessions share ``horizon - lag`` of them, so their outcomes
    are dependent; calls a horizon or more apart share none and count as independent given
    their forecasts. ``session`` holds each call's as-of session index (CME trade-date
    positions, sorted or not) and ``residual`` its outcome minus its forecast (hit - p). With
    ``estimate`` (default: when the calls span at least ``OVERLAP_ESTIMATE_MIN_HORIZONS``
    horizons) the correlation at each lag is measured on the residuals (pairs of calls that
    far apart; clipped to [0, 1]); otherwise, or where no pair is that far apart, it is the
    overlap fraction ``1 - lag / horizon``. Returns ``(rho, basis)`` with basis
    OVERLAP_ESTIMATED or OVERLAP_BOUND.

    >>> rho, basis = overlap_correlation(np.arange(4), np.zeros(4), horizon=4)
    >>> rho.tolist(), basis
    ([1.0, 0.75, 0.5, 0.25], 'overlap bound')
    """
    if horizon < 1:
        raise ValueError(f"horizon must be at least 1 session, got {horizon}")
    times = session_indices(np.asarray(session), "session")
    values = np.asarray(residual, dtype=np.float64)
    if values.shape != times.shape:
        raise ValueError(f"residual has shape {values.shape} but session has {times.shape}")
    bound = 1 - np.arange(horizon) / horizon
    if estimate is None:
        estimate = len(times) >= OVERLAP_ESTIMATE_MIN_HORIZONS * horizon
    if not estimate or len(times) < 2:
        return bound, OVERLAP_BOUND
    centred = values - values.mean()
    variance = float(np.mean(centred**2))
    if variance <= 0:
        return bound, OVERLAP_BOUND
    span = int(times.max() - times.min()) + 1
    at = times - times.min()
    total = np.bincount(at, weights=centred, minlength=span)
    calls = np.bincount(at, minlength=span).astype(np.float64)
    rho = bound.copy()
    for lag in range(1, min(horizon, span)):
        pairs = float(calls[:-lag] @ calls[lag:])
        if pairs > 0:
            covariance = float(total[:-lag] @ total[lag:]) / pairs
            rho[lag] = min(1.0, max(0.0, covariance / variance))
    return rho, OVERLAP_ESTIMATED


def effective_counts(member: np.ndarray, session: np.ndarray, rho: np.ndarray) -> np.ndarray:
    """Effective number of independent calls in each row of ``member`` (groups x calls, bool).

    ``n_eff = n^2 / sum_ij rho(|t_i - t_j|)`` over the group's calls i, j (as-of sessions
    ``session``, correlation ``rho`` from :func:`overlap_correlation`, 0 from one horizon on):
    the variance of a frequency of n calls is that of ``n_eff`` independent ones. n for calls a
    horizon or more apart; about ``n / H`` for a run of consecutive daily calls (rho = overlap).

    Eight consecutive calls over H = 4: 64 / (8 + 2 (0.75 * 7 + 0.5 * 6 + 0.25 * 5)) = 64 / 27;
    every other one of them: 16 / (4 + 2 * 0.5 * 3) = 16 / 7.

    >>> rho = 1 - np.arange(4) / 4
    >>> effective_counts(np.array([[True] * 8, [True, False] * 4]), np.arange(8), rho).round(3).tolist()
    [2.37, 2.286]
    """
    member = np.atleast_2d(np.asarray(member, dtype=bool))
    times = session_indices(np.asarray(session), "session")
    span = int(times.max() - times.min()) + 1 if times.size else 1
    at = times - (times.min() if times.size else 0)
    dense = np.zeros((member.shape[0], span))
    for row in range(member.shape[0]):
        dense[row] = np.bincount(at[member[row]], minlength=span)
    n = dense.sum(axis=1)
    pair_weight = (dense**2).sum(axis=1)
    for lag in range(1, min(len(rho), span)):
        pair_weight += 2 * rho[lag] * (dense[:, :-lag] * dense[:, lag:]).sum(axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(n > 0, n**2 / pair_weight, 0.0)


def reliability_table(
    prob: np.ndarray | pl.Series,
    hit: np.ndarray | pl.Series,
    *,
    bins: int = DEFAULT_RELIABILITY_BINS,
    level: float = RELIABILITY_LEVEL,
    session: np.ndarray | pl.Series | None = None,
    horizon: int | None = None,
) -> pl.DataFrame:
    """Reliability table for one scenario: forecast probability vs observed frequency.

    ``prob`` is the forecast probability of the scenario per call, ``hit`` whether it happened
    (bool or 0/1). Calls fall into ``bins`` equal-width buckets ``[k/bins, (k+1)/bins)`` (1.0 in
    the last). One row per non-empty bucket (empty ones are omitted), columns as in
    ``RELIABILITY_SCHEMA``: the bucket's ``count`` and ``hits``, ``mean_forecast``,
    ``observed_frequency`` = hits / count, and its Wilson interval at ``level``
    (``frequency_low``, ``frequency_high``) on ``effective_count`` calls. Calibrated forecasts
    have ``mean_forecast`` inside the interval. NaN probabilities or hits raise.

    Without ``session`` the calls count as independent (``interval_basis`` "independent"). With
    the calls' as-of ``session`` indices and their ``horizon``, overlapping horizons are
    accounted for: the effective count comes from :func:`effective_counts` with the
    correlation of :func:`overlap_correlation` on the residuals hit - prob.

    >>> table = reliability_table(np.array([0.05, 0.08, 0.95]), np.array([0, 1, 1]))
    >>> table.select("bucket", "count", "mean_forecast", "observed_frequency").rows()
    [(0, 2, 0.065, 0.5), (9, 1, 0.95, 1.0)]
    """
    if bins < 1:
        raise ValueError(f"bins must be at least 1, got {bins}")
    forecast = np.asarray(prob, dtype=np.float64)
    if forecast.ndim != 1:
        raise ValueError(f"prob must be one-dimensional, got shape {forecast.shape}")
    outcome = np.asarray(hit, dtype=np.float64)
    if outcome.shape != forecast.shape:
        raise ValueError(f"hit has shape {outcome.shape} but prob has {forecast.shape}")
    bad_forecast = ~((forecast >= 0) & (forecast <= 1))  # NaN fails both comparisons
    if bad_forecast.any():
        row = first_row(bad_forecast)
        raise ValueError(
            f"prob row {row} is {float(forecast[row])}: expected a probability in [0, 1]"
        )
    bad_hit = ~np.isin(outcome, (0.0, 1.0))
    if bad_hit.any():
        row = first_row(bad_hit)
        raise ValueError(f"hit row {row} is {float(outcome[row])}: expected 0/1 or a bool")
    if (session is None) != (horizon is None):
        raise ValueError("pass both session and horizon (overlapping calls) or neither")

    bucket = np.minimum((forecast * bins).astype(np.int64), bins - 1)
    count = np.bincount(bucket, minlength=bins)
    hits = np.bincount(bucket, weights=outcome, minlength=bins)
    forecast_sum = np.bincount(bucket, weights=forecast, minlength=bins)
    occupied = np.flatnonzero(count)
    count, hits, forecast_sum = count[occupied], hits[occupied], forecast_sum[occupied]
    frequency = hits / np.maximum(count, 1)
    if session is None or horizon is None:
        effective, basis = count.astype(np.float64), INDEPENDENT
    else:
        times = session_indices(np.asarray(session), "session")
        if times.shape != forecast.shape:
            raise ValueError(f"session has shape {times.shape} but prob has {forecast.shape}")
        rho, basis = overlap_correlation(times, outcome - forecast, horizon=horizon)
        effective = effective_counts(bucket[None, :] == occupied[:, None], times, rho)
    frequency_low, frequency_high = wilson_interval(
        frequency * effective, np.maximum(effective, 1.0), level=level
    )
    return pl.DataFrame(
        {
            "bucket": occupied,
            "bucket_low": occupied / bins,
            "bucket_high": (occupied + 1) / bins,
            "count": count,
            "hits": hits.astype(np.int64),
            "mean_forecast": forecast_sum / np.maximum(count, 1),
            "observed_frequency": frequency,
            "effective_count": effective,
            "frequency_low": frequency_low,
            "frequency_high": frequency_high,
            "interval_basis": [basis] * len(occupied),
        },
        schema=RELIABILITY_SCHEMA,
    )


def reliability_tables(
    probs: np.ndarray | pl.DataFrame,
    outcome: np.ndarray | pl.Series,
    *,
    bins: int = DEFAULT_RELIABILITY_BINS,
    level: float = RELIABILITY_LEVEL,
    session: np.ndarray | pl.Series | None = None,
    horizon: int | None = None,
) -> pl.DataFrame:
    """:func:`reliability_table` for each scenario, stacked with a leading ``scenario`` column.

    >>> probs = np.array([[0.2, 0.3, 0.5], [0.1, 0.3, 0.6]])
    >>> reliability_tables(probs, np.array([2, 1])).select("scenario", "bucket", "hits").rows()
    [('bear', 1, 0), ('bear', 2, 0), ('sideways', 3, 1), ('bull', 5, 1), ('bull', 6, 0)]
    """
    values, outcomes = _validated(probs, outcome)
    return pl.concat(
        [
            reliability_table(
                values[:, k],
                outcomes == k,
                bins=bins,
                level=level,
                session=session,
                horizon=horizon,
            ).select(pl.lit(name).alias("scenario"), pl.all())
            for k, name in enumerate(SCENARIOS)
        ]
    )


# --------------------------------------------------------------------------------------------
# Polars wrappers
# --------------------------------------------------------------------------------------------


def probabilities_from_frame(
    frame: pl.DataFrame, *, columns: Sequence[str] = PROBABILITY_COLUMNS
) -> np.ndarray:
    """The ``(n, 3)`` probability array of a calls frame, validated (nulls raise).

    >>> frame = pl.DataFrame({"p_bear": [0.2], "p_sideways": [0.4], "p_bull": [0.4]})
    >>> probabilities_from_frame(frame).tolist()
    [[0.2, 0.4, 0.4]]
    """
    if len(columns) != N_SCENARIOS:
        raise ValueError(
            f"need {N_SCENARIOS} probability columns in order {SCENARIOS}, got {columns}"
        )
    missing = [name for name in columns if name not in frame.columns]
    if missing:
        raise ValueError(f"calls frame lacks probability columns {missing}")
    return _as_probabilities(frame.select(columns).cast(pl.Float64).to_numpy())


def with_scores(
    frame: pl.DataFrame,
    *,
    probability_columns: Sequence[str] = PROBABILITY_COLUMNS,
    outcome_column: str = "outcome",
    log_floor: float = LOG_SCORE_FLOOR,
) -> pl.DataFrame:
    """``frame`` (resolved calls) with Float64 columns ``rps``, ``brier`` and ``log_score``.

    The outcome column holds scenario indices (integers) or names ("bear", ...).

    >>> frame = pl.DataFrame(
    ...     {"p_bear": [0.2], "p_sideways": [0.4], "p_bull": [0.4], "outcome": ["bull"]}
    ... )
    >>> with_scores(frame).select(pl.col("rps", "brier").round(6)).rows()
    [(0.2, 0.56)]
    """
    probs = probabilities_from_frame(frame, columns=probability_columns)
    outcome_series = frame.get_column(outcome_column)
    if outcome_series.null_count():
        row = first_row(outcome_series.is_null().to_numpy())
        raise ValueError(f"{outcome_column} row {row} is null: score only resolved calls")
    if outcome_series.dtype == pl.String:
        outcome = outcome_index(outcome_series.to_list())
    else:
        outcome = outcome_series.to_numpy()
    return frame.with_columns(
        pl.Series("rps", ranked_probability_score(probs, outcome), dtype=pl.Float64),
        pl.Series("brier", brier_score(probs, outcome), dtype=pl.Float64),
        pl.Series("log_score", log_score(probs, outcome, floor=log_floor), dtype=pl.Float64),
    )
