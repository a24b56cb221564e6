"""Paired score differences of two methodologies on the same sessions."""

from __future__ import annotations

from datetime import date, timedelta

import numpy as np
import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pipeline.audit.scores import (
    MIN_INTERVAL_HORIZONS,
    TooFewCallsError,
    interval_block,
    paired_difference,
    paired_score_difference,
)

H = 20


def slow_block_bootstrap_means(
    difference: np.ndarray, *, block: int, n_boot: int, seed: int
) -> np.ndarray:
    """Replicate means the obvious way: draw the block starts as the fast version does, then
    copy each circular block call by call."""
    n = len(difference)
    n_blocks = -(-n // block)
    starts = np.random.default_rng(seed).integers(0, n, size=(n_boot, n_blocks))
    means = []
    for row in starts:
        drawn: list[float] = []
        for start in row:
            for offset in range(block):
                if len(drawn) < n:
                    drawn.append(difference[(start + offset) % n])
        means.append(sum(drawn) / n)
    return np.array(means)


# ---------------------------------------------------------------- paired_difference


def slow_interval(
    difference: np.ndarray, *, horizon: int, n_boot: int, seed: int, level: float = 0.9
) -> tuple[float, float, float]:
    """The rule written out: blocks of min(3 horizons, n / 2), mean -+ t sd of the replicates."""
    from scipy.stats import t as student_t

    n = len(difference)
    block = min(3 * horizon, n // 2)
    means = slow_block_bootstrap_means(difference, block=block, n_boot=n_boot, seed=seed)
    half = student_t.ppf((1 + level) / 2, n / block - 1) * means.std(ddof=1)
    mean = float(difference.mean())
    return mean, mean - half, mean + half


def test_difference_by_hand_and_against_the_slow_bootstrap() -> None:
    a = np.array([0.3, 0.1, 0.4, 0.2, 0.5, 0.1, 0.2, 0.3, 0.6, 0.2, 0.1, 0.4])
    b = np.full(12, 0.2)
    # mean(a) = 3.4 / 12, mean(b) = 0.2; H = 2: blocks of 6 calls, two of them
    result = paired_difference(a, b, horizon=2, n_boot=300, seed=5)
    assert result.mean == pytest.approx(3.4 / 12 - 0.2)
    assert result.n == 12
    assert tuple(result[:3]) == pytest.approx(slow_interval(a - b, horizon=2, n_boot=300, seed=5))
    assert result.low < result.mean < result.high


@settings(max_examples=25, deadline=None)
@given(
    n=st.integers(min_value=10, max_value=80),
    horizon=st.integers(min_value=1, max_value=8),
    seed=st.integers(min_value=0, max_value=10_000),
)
def test_difference_matches_the_slow_bootstrap(n: int, horizon: int, seed: int) -> None:
    if n < MIN_INTERVAL_HORIZONS * horizon:
        return
    rng = np.random.default_rng(seed)
    a, b = rng.uniform(0, 1, (2, n))
    result = paired_difference(a, b, horizon=horizon, n_boot=50, seed=seed, level=0.8)
    expected = slow_interval(a - b, horizon=horizon, n_boot=50, seed=seed, level=0.8)
    assert tuple(result[:3]) == pytest.approx(expected)


def test_identical_methodologies_differ_by_exactly_zero() -> None:
    scores = np.random.default_rng(1).uniform(0, 0.5, 500)
    assert paired_difference(scores, scores.copy(), horizon=H) == (0.0, 0.0, 0.0, 500)


def test_too_few_paired_calls_are_refused_not_given_a_zero_width_interval() -> None:
    rng = np.random.default_rng(2)
    a, b = rng.uniform(0, 1, (2, 200))
    with pytest.raises(TooFewCallsError, match=r"too few paired calls: 19 < 60 \(3 horizons of 20"):
        paired_difference(a[:19], b[:19], horizon=H)
    with pytest.raises(TooFewCallsError, match="too few paired calls: 59 < 60"):
        paired_difference(a[:59], b[:59], horizon=H)
    # three horizons: two blocks of 30, never a single circular block (a zero-width interval)
    assert interval_block(60, H) == 30
    enough = paired_difference(a[:60], b[:60], horizon=H, n_boot=500)
    assert enough.high - enough.low > 0.05


def test_difference_rejects_bad_inputs() -> None:
    scores = np.full(100, 0.2)
    with pytest.raises(ValueError, match="A and B scores must be 1-D and paired"):
        paired_difference(scores, scores[:-1], horizon=2)
    with pytest.raises(ValueError, match="B score row 3 is not finite"):
        paired_difference(scores, np.r_[scores[:3], np.nan, scores[4:]], horizon=2)
    with pytest.raises(ValueError, match="horizon must be at least 1"):
        paired_difference(scores, scores, horizon=0)
    with pytest.raises(ValueError, match="n_boot"):
        paired_difference(scores, scores, horizon=2, n_boot=1)
    with pytest.raises(ValueError, match="level"):
        paired_difference(scores, scores, horizon=2, level=0.0)


#: Noise of the planted series: how one shock spreads over the following calls.
NOISE_WEIGHTS = {
    "independent": np.r_[1.0, np.zeros(H - 1)],
    # as real RPS differences: correlation decaying within a horizon (lag-5 about 0.4)
    "decaying": np.exp(-np.arange(H) / 5.0),
    # worst case: a shock moves the next H calls alike (a horizon's full overlap)
    "full overlap": np.ones(H),
}


def _coverage(noise: str, *, n: int, seeds: int, true_difference: float = 0.01) -> float:
    """Share of seeds whose 90 % interval holds the true mean difference of A = B + d + noise."""
    weights = NOISE_WEIGHTS[noise] / np.sqrt((NOISE_WEIGHTS[noise] ** 2).sum())
    covered = 0
    for seed in range(seeds):
        rng = np.random.default_rng(20_000 + seed)
        e = np.convolve(rng.standard_normal(n + H), weights, mode="valid")[:n]
        b = rng.uniform(0.1, 0.4, n)
        a = b + true_difference + 0.05 * e
        result = paired_difference(a, b, horizon=H, n_boot=400, seed=seed)
        covered += result.low <= true_difference <= result.high
    return covered / seeds


@pytest.mark.parametrize("noise", ["independent", "decaying", "full overlap"])
@pytest.mark.parametrize("n", [200, 3000])
def test_planted_difference_coverage_of_the_90_percent_interval(noise: str, n: int) -> None:
    """A = B + 0.01 + noise, 10 to 150 horizons of calls: over 400 seeds the 90 % interval
    holds 0.01 in 85-95 % of them, whether the noise is independent, decays within a horizon or
    is shared by a full horizon of calls (measured: 0.93, 0.91, 0.91 at 200 calls; 0.88, 0.86,
    0.85 at 3,000)."""
    coverage = _coverage(noise, n=n, seeds=400)
    assert 0.85 <= coverage <= 0.95, coverage


# ---------------------------------------------------------------- paired_score_difference


def _calls(root: str, days: list[date], rps: np.ndarray) -> pl.DataFrame:
    return pl.DataFrame({"root": root, "as_of": days, "rps": rps})


def test_paired_difference_joins_on_root_and_session_only() -> None:
    days = [date(2020, 1, 1) + timedelta(days=i) for i in range(140)]
    rng = np.random.default_rng(3)
    b_es, b_nq = rng.uniform(0.1, 0.3, (2, 140))
    a = pl.concat(
        [
            _calls("ES", days[:130], b_es[:130] - 0.02),  # A has no call on the last 10 days
            _calls("NQ", days, b_nq + 0.01),
        ]
    )
    b = pl.concat(
        [
            _calls("ES", days[5:], b_es[5:]),  # B has no call on the first 5 days
            _calls("NQ", days, b_nq),
            _calls("YM", days, b_nq),  # a root A never called
        ]
    )
    table = paired_score_difference(a.sample(fraction=1.0, shuffle=True, seed=1), b, horizon=5)
    assert table["root"].to_list() == ["ES", "NQ"]
    es, nq = table.rows(named=True)
    assert es["calls"] == 125 and nq["calls"] == 140
    assert (es["first_as_of"], es["last_as_of"]) == (days[5], days[129])
    assert es["mean_b"] == pytest.approx(b_es[5:130].mean())
    assert es["mean_a"] == pytest.approx(b_es[5:130].mean() - 0.02)
    assert es["difference"] == pytest.approx(-0.02)
    assert es["difference_low"] == pytest.approx(-0.02) and es["block"] == 15  # 3 horizons
    assert nq["difference"] == pytest.approx(0.01)


def test_paired_difference_refuses_too_few_and_names_the_root() -> None:
    days = [date(2021, 3, 1) + timedelta(days=i) for i in range(300)]
    scores = np.full(300, 0.2)
    a = pl.concat([_calls("ES", days, scores), _calls("NQ", days[:50], scores[:50])])
    with pytest.raises(TooFewCallsError, match=r"NQ: too few paired calls: 50 < 60"):
        paired_score_difference(a, a, horizon=H)
    with pytest.raises(TooFewCallsError, match="too few paired calls: 0"):
        paired_score_difference(
            _calls("ES", days[:10], scores[:10]),
            a.filter(pl.col("root") == "NQ").with_columns(pl.lit("YM").alias("root")),
            horizon=H,
        )


def test_paired_difference_rejects_duplicates_and_missing_columns() -> None:
    days = [date(2021, 3, 1) + timedelta(days=i) for i in range(200)]
    frame = _calls("ES", days, np.full(200, 0.2))
    with pytest.raises(ValueError, match="methodology A has several calls for"):
        paired_score_difference(pl.concat([frame, frame.head(1)]), frame, horizon=2)
    with pytest.raises(ValueError, match="methodology B's calls lack column"):
        paired_score_difference(frame, frame.drop("rps"), horizon=2)
