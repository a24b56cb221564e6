"""Intervals that mean what they say: coverage of the audit's 90 % intervals on planted series.

The planted process has overlapping horizons as callbook's calls do. Shocks e_t are iid N(0, 1);
the call made on session t resolves on S_t = mu_t + (e_{t+1} + ... + e_{t+H}) / sqrt(H): bull if
S_t > 0.5, bear if S_t < -0.5, sideways otherwise. Calls t and t + k share H - k shocks, so their
outcomes are dependent up to one horizon apart. mu_t is a slow AR(1) (phi 0.995, sd 0.6) that
the forecaster knows, so forecasts vary and come in long runs (as a trend state does), and the
true probability of every call is known exactly: P(bull) = 1 - Phi(0.5 - mu_t), etc.

- Skill: the forecaster issues the true probabilities, the reference is uniform; the true skill
  of a sample is 1 - sum E[RPS model] / sum E[RPS reference] (expectations over the outcome given
  the truth). The 90 % interval of ``block_bootstrap_skill`` must cover it 85-95 % of the time.
- Reliability: the forecaster is miscalibrated (0.8 p + 0.2 / 3), calls are bucketed by its
  bull probability, and each bucket's 90 % interval must cover the mean true probability of its
  calls 85-95 % of the time (short groups: at least 85 %; their interval rests on a bound and
  is wider).

Everything is vectorised over seeds; the whole module takes a few seconds.
"""

from __future__ import annotations

import numpy as np
import pytest
from scipy.signal import lfilter
from scipy.special import ndtr

from pipeline.audit.scores import (
    INDEPENDENT,
    OVERLAP_BOUND,
    OVERLAP_ESTIMATED,
    block_bootstrap_skill,
    ranked_probability_score,
    reliability_table,
)

H = 20
EDGE = 0.5  # |S| beyond this is bull / bear
PHI, MU_SD = 0.995, 0.6
LEVEL = 0.9


def planted(rng: np.random.Generator, seeds: int, calls: int) -> tuple[np.ndarray, np.ndarray]:
    """(truth, outcome): true probabilities (seeds, calls, 3) and outcome indices (seeds, calls)."""
    shocks = rng.normal(size=(seeds, calls + H))
    path = np.concatenate([np.zeros((seeds, 1)), np.cumsum(shocks, axis=1)], axis=1)
    t = np.arange(calls)
    ahead = (path[:, t + H + 1] - path[:, t + 1]) / np.sqrt(H)
    innovations = rng.normal(0.0, MU_SD * np.sqrt(1 - PHI**2), size=(seeds, calls))
    innovations[:, 0] = rng.normal(0.0, MU_SD, seeds)  # start in the stationary distribution
    mu = lfilter([1.0], [1.0, -PHI], innovations, axis=1)
    s = mu + ahead
    outcome = np.where(s > EDGE, 2, np.where(s < -EDGE, 0, 1))
    below, above = ndtr(-EDGE - mu), ndtr(EDGE - mu)
    truth = np.stack([below, above - below, 1 - above], axis=-1)
    return truth, outcome


def expected_rps(forecast: np.ndarray, truth: np.ndarray) -> np.ndarray:
    """E[RPS(forecast, Y)] for Y ~ truth, per call (flat arrays of shape (n, 3))."""
    return sum(
        truth[:, k] * ranked_probability_score(forecast, np.full(len(forecast), k))
        for k in range(3)
    )


def skill_coverage(calls: int, seeds: int, *, seed: int) -> float:
    truth, outcome = planted(np.random.default_rng(seed), seeds, calls)
    uniform = np.full((calls, 3), 1 / 3)
    covered = 0
    for s in range(seeds):
        model = ranked_probability_score(truth[s], outcome[s])
        reference = ranked_probability_score(uniform, outcome[s])
        target = 1 - expected_rps(truth[s], truth[s]).sum() / expected_rps(uniform, truth[s]).sum()
        _, low, high = block_bootstrap_skill(model, reference, horizon=H, n_boot=400, seed=s)
        covered += low <= target <= high
    return covered / seeds


@pytest.mark.parametrize(
    ("calls", "seeds"),
    [
        (3 * H, 400),  # the fewest calls that get an interval: 2 blocks, t with 1 df
        (10 * H, 300),
        (100 * H, 200),
    ],
)
def test_skill_interval_covers_the_true_skill(calls: int, seeds: int) -> None:
    coverage = skill_coverage(calls, seeds, seed=calls)
    print(f"skill interval, {calls} calls: coverage {coverage:.3f} over {seeds} seeds")
    assert 0.85 <= coverage <= 0.95


def reliability_coverage(calls: int, seeds: int, *, seed: int, overlap: bool) -> tuple[float, str]:
    truth, outcome = planted(np.random.default_rng(seed), seeds, calls)
    forecast = 0.8 * truth[..., 2] + 0.2 / 3
    covered = total = 0
    bases = set()
    for s in range(seeds):
        options = {"session": np.arange(calls), "horizon": H} if overlap else {}
        table = reliability_table(forecast[s], outcome[s] == 2, level=LEVEL, **options)
        bucket = np.minimum((forecast[s] * 10).astype(np.int64), 9)
        for row in table.iter_rows(named=True):
            target = truth[s, bucket == row["bucket"], 2].mean()
            covered += row["frequency_low"] <= target <= row["frequency_high"]
            total += 1
            bases.add(row["interval_basis"])
    (basis,) = bases
    return covered / total, basis


def test_reliability_interval_on_the_overlap_covers_the_true_frequency() -> None:
    coverage, basis = reliability_coverage(50 * H, 200, seed=1, overlap=True)
    print(f"reliability, {50 * H} calls ({basis}): coverage {coverage:.3f}")
    assert basis == OVERLAP_ESTIMATED
    assert 0.85 <= coverage <= 0.95


def test_reliability_interval_of_a_short_group_rests_on_the_overlap_bound() -> None:
    coverage, basis = reliability_coverage(5 * H, 400, seed=2, overlap=True)
    print(f"reliability, {5 * H} calls ({basis}): coverage {coverage:.3f}")
    assert basis == OVERLAP_BOUND
    # Conservative by construction: the overlap fraction bounds the correlation from above.
    assert 0.85 <= coverage <= 0.97


def test_counting_overlapping_calls_as_independent_is_far_too_narrow() -> None:
    # What the audit printed before: a Wilson interval on the raw count.
    coverage, basis = reliability_coverage(50 * H, 100, seed=3, overlap=False)
    print(f"reliability, {50 * H} calls ({basis}): coverage {coverage:.3f}")
    assert basis == INDEPENDENT
    assert coverage < 0.6
