from __future__ import annotations

import math

import numpy as np
import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pipeline.analysis.climatology import expanding_climatology
from pipeline.audit.scores import (
    INDEPENDENT,
    LOG_SCORE_FLOOR,
    OVERLAP_BOUND,
    OVERLAP_ESTIMATED,
    SCENARIOS,
    TooFewCallsError,
    block_bootstrap_skill,
    brier_score,
    effective_counts,
    interval_block,
    log_score,
    outcome_index,
    overlap_correlation,
    probabilities_from_frame,
    ranked_probability_score,
    reliability_table,
    reliability_tables,
    skill_score,
    wilson_interval,
    with_scores,
)

BEAR, SIDEWAYS, BULL = 0, 1, 2
HAND_PROBS = [0.2, 0.4, 0.4]


# ---------------------------------------------------------------- slow obvious implementations


def slow_rps(p: list[float], outcome: int) -> float:
    total, forecast_cdf = 0.0, 0.0
    for k in range(len(p) - 1):
        forecast_cdf += p[k]
        outcome_cdf = 1.0 if outcome <= k else 0.0
        total += (forecast_cdf - outcome_cdf) ** 2
    return total / (len(p) - 1)


def slow_brier(p: list[float], outcome: int) -> float:
    return sum((p[k] - (1.0 if k == outcome else 0.0)) ** 2 for k in range(len(p)))


def slow_log(p: list[float], outcome: int, floor: float) -> float:
    return -math.log(max(p[outcome], floor))


def slow_climatology(
    as_of: list[int], resolved: list[int], outcome: list[int], prior: list[float], weight: float
) -> list[list[float]]:
    rows = []
    for t in as_of:
        counts = [0, 0, 0]
        for r, o in zip(resolved, outcome, strict=True):
            if r <= t:
                counts[o] += 1
        m = sum(counts)
        rows.append([(counts[k] + weight * prior[k]) / (m + weight) for k in range(3)])
    return rows


@st.composite
def forecasts(draw: st.DrawFn, max_calls: int = 30) -> tuple[np.ndarray, np.ndarray]:
    """(probs, outcome): random probability rows (zeros included) and outcomes."""
    n = draw(st.integers(1, max_calls))
    weights = np.array(draw(st.lists(st.floats(0, 1), min_size=3 * n, max_size=3 * n)))
    weights = weights.reshape(n, 3)
    # an all-zero row has no direction: make it uniform
    weights[weights.sum(axis=1) < 1e-3] = 1.0
    probs = weights / weights.sum(axis=1, keepdims=True)
    outcome = np.array(draw(st.lists(st.integers(0, 2), min_size=n, max_size=n)))
    return probs, outcome


# ---------------------------------------------------------------- hand-checked scores


@pytest.mark.parametrize(
    ("outcome", "rps", "brier"),
    [
        # CDF_p = (0.2, 0.6). bear: CDF_o = (1, 1) -> (0.64 + 0.16) / 2; Brier 0.64 + 0.16 + 0.16
        (BEAR, 0.40, 0.96),
        # sideways: CDF_o = (0, 1) -> (0.04 + 0.16) / 2; Brier 0.04 + 0.36 + 0.16
        (SIDEWAYS, 0.10, 0.56),
        # bull: CDF_o = (0, 0) -> (0.04 + 0.36) / 2; Brier 0.04 + 0.16 + 0.36
        (BULL, 0.20, 0.56),
    ],
)
def test_hand_checked_rps_and_brier(outcome: int, rps: float, brier: float) -> None:
    probs = np.array([HAND_PROBS])
    assert ranked_probability_score(probs, np.array([outcome]))[0] == pytest.approx(rps)
    assert brier_score(probs, np.array([outcome]))[0] == pytest.approx(brier)


def test_extreme_scores_reach_their_bounds() -> None:
    certain_bear = np.array([[1.0, 0.0, 0.0]])
    assert ranked_probability_score(certain_bear, np.array([BULL]))[0] == 1.0
    assert ranked_probability_score(certain_bear, np.array([SIDEWAYS]))[0] == 0.5
    assert brier_score(certain_bear, np.array([SIDEWAYS]))[0] == 2.0
    assert log_score(certain_bear, np.array([BULL]))[0] == pytest.approx(math.log(100))


def test_log_score_by_hand() -> None:
    probs = np.array([HAND_PROBS, HAND_PROBS, [0.005, 0.495, 0.5]])
    # -ln 0.2 = 1.6094379, -ln 0.4 = 0.9162907, p = 0.005 floored at 0.01: -ln 0.01 = 4.6051702
    assert log_score(probs, np.array([BEAR, BULL, BEAR])).tolist() == pytest.approx(
        [1.6094379, 0.9162907, 4.6051702]
    )
    # a looser floor caps the same miss lower: -ln 0.05 = 2.9957323
    assert log_score(probs[2:], np.array([BEAR]), floor=0.05)[0] == pytest.approx(2.9957323)


def test_ordering_rewards_the_neighbouring_scenario() -> None:
    """RPS (ordered) prefers a bull call ending sideways to one ending bear; Brier does not."""
    probs = np.array([[0.1, 0.1, 0.8]] * 2)
    outcome = np.array([SIDEWAYS, BEAR])
    rps = ranked_probability_score(probs, outcome)
    brier = brier_score(probs, outcome)
    assert rps[0] < rps[1]
    assert brier[0] == pytest.approx(brier[1])


# ---------------------------------------------------------------- properties vs slow oracles


@settings(max_examples=100, deadline=None)
@given(forecasts())
def test_scores_match_slow_implementations(case: tuple[np.ndarray, np.ndarray]) -> None:
    probs, outcome = case
    rows = probs.tolist()
    expected_rps = [slow_rps(p, int(o)) for p, o in zip(rows, outcome, strict=True)]
    expected_brier = [slow_brier(p, int(o)) for p, o in zip(rows, outcome, strict=True)]
    expected_log = [
        slow_log(p, int(o), LOG_SCORE_FLOOR) for p, o in zip(rows, outcome, strict=True)
    ]
    assert ranked_probability_score(probs, outcome).tolist() == pytest.approx(
        expected_rps, abs=1e-12
    )
    assert brier_score(probs, outcome).tolist() == pytest.approx(expected_brier, abs=1e-12)
    assert log_score(probs, outcome).tolist() == pytest.approx(expected_log, abs=1e-12)


@settings(max_examples=100, deadline=None)
@given(forecasts())
def test_score_bounds(case: tuple[np.ndarray, np.ndarray]) -> None:
    probs, outcome = case
    rps = ranked_probability_score(probs, outcome)
    brier = brier_score(probs, outcome)
    logs = log_score(probs, outcome)
    tolerance = 1e-12
    assert ((rps >= 0) & (rps <= 1 + tolerance)).all()
    assert ((brier >= 0) & (brier <= 2 + tolerance)).all()
    assert ((logs >= 0) & (logs <= -math.log(LOG_SCORE_FLOOR) + tolerance)).all()


@settings(max_examples=100, deadline=None)
@given(forecasts())
def test_rps_is_zero_iff_the_forecast_is_certain_and_right(
    case: tuple[np.ndarray, np.ndarray],
) -> None:
    probs, outcome = case
    perfect = np.eye(3)[outcome]
    assert (ranked_probability_score(perfect, outcome) == 0).all()
    realised = probs[np.arange(len(probs)), outcome]
    rps = ranked_probability_score(probs, outcome)
    assert (rps[realised < 1 - 1e-9] > 0).all()


# ---------------------------------------------------------------- input validation


def test_invalid_inputs_name_the_row() -> None:
    good = np.array([HAND_PROBS, HAND_PROBS])
    with pytest.raises(ValueError, match="row 1 is null"):
        ranked_probability_score(np.array([HAND_PROBS, [np.nan, 0.5, 0.5]]), np.array([0, 0]))
    with pytest.raises(ValueError, match="row 0 sums to"):
        brier_score(np.array([[0.2, 0.2, 0.2], HAND_PROBS]), np.array([0, 0]))
    with pytest.raises(ValueError, match=r"row 1 leaves \[0, 1\]"):
        log_score(np.array([HAND_PROBS, [-0.1, 0.6, 0.5]]), np.array([0, 0]))
    with pytest.raises(ValueError, match="row 1 is -1"):
        ranked_probability_score(good, np.array([0, -1]))
    with pytest.raises(ValueError, match="outcome row 0 is null"):
        ranked_probability_score(good, np.array([np.nan, 1.0]))
    with pytest.raises(ValueError, match="shape"):
        ranked_probability_score(good, np.array([0, 1, 2]))
    with pytest.raises(ValueError, match="shape"):
        ranked_probability_score(np.array([[0.5, 0.5]]), np.array([0]))
    with pytest.raises(ValueError, match="floor"):
        log_score(good, np.array([0, 0]), floor=0.0)


def test_outcome_index_round_trip_and_unknown_name() -> None:
    indices = outcome_index(["bear", "sideways", "bull", "bull"])
    assert indices.tolist() == [BEAR, SIDEWAYS, BULL, BULL]
    assert [SCENARIOS[k] for k in indices] == ["bear", "sideways", "bull", "bull"]
    with pytest.raises(ValueError, match="row 1 is 'up'"):
        outcome_index(["bull", "up"])


# ---------------------------------------------------------------- expanding climatology


def test_climatology_by_hand_uses_only_outcomes_known_at_the_call() -> None:
    # calls on sessions 0, 1, 2, 3 with H = 2; outcomes bull, bull, bear, sideways
    as_of = np.array([0, 1, 2, 3])
    clim = expanding_climatology(as_of, as_of + 2, np.array([BULL, BULL, BEAR, SIDEWAYS]))
    third = 1 / 3
    # session 2: call 0 (resolved on 2) is known: (0 + 1, 0 + 1, 1 + 1) / (1 + 3)
    # session 3: calls 0 and 1 are known: (0 + 1, 0 + 1, 2 + 1) / (2 + 3)
    expected = [[third] * 3, [third] * 3, [0.25, 0.25, 0.5], [0.2, 0.2, 0.6]]
    np.testing.assert_allclose(clim, expected)


def test_climatology_prior_and_weight() -> None:
    clim = expanding_climatology(
        np.array([0, 5]),
        np.array([1, 6]),
        np.array([BEAR, BULL]),
        prior=(0.5, 0.3, 0.2),
        prior_weight=1.0,
    )
    # call 0: nothing known -> prior; call 1: one bear known -> (1 + 0.5, 0.3, 0.2) / 2
    np.testing.assert_allclose(clim, [[0.5, 0.3, 0.2], [0.75, 0.15, 0.1]])


@settings(max_examples=200, deadline=None)
@given(
    st.lists(
        st.tuples(st.integers(0, 15), st.integers(1, 6), st.integers(0, 2)), min_size=0, max_size=40
    ),
    st.floats(0.1, 50),
    st.lists(st.floats(0.01, 1), min_size=3, max_size=3),
)
def test_climatology_matches_quadratic_loop(
    calls: list[tuple[int, int, int]], weight: float, prior_weights: list[float]
) -> None:
    """Unsorted calls, ties in as-of and resolution sessions, random priors."""
    as_of = [t for t, _, _ in calls]
    resolved = [t + h for t, h, _ in calls]
    outcome = [o for _, _, o in calls]
    prior = [w / sum(prior_weights) for w in prior_weights]
    clim = expanding_climatology(
        np.array(as_of, dtype=np.int64),
        np.array(resolved, dtype=np.int64),
        np.array(outcome, dtype=np.int64),
        prior=prior,
        prior_weight=weight,
    )
    expected = slow_climatology(as_of, resolved, outcome, prior, weight)
    assert clim.shape == (len(calls), 3)
    np.testing.assert_allclose(clim, np.array(expected).reshape(-1, 3), rtol=1e-12, atol=1e-12)


def test_climatology_rejects_bad_inputs() -> None:
    with pytest.raises(ValueError, match="call 1 is resolved on session 3, not after"):
        expanding_climatology(np.array([0, 3]), np.array([2, 3]), np.array([0, 1]))
    with pytest.raises(TypeError, match="integer session indices"):
        expanding_climatology(np.array([0.0]), np.array([1.0]), np.array([0]))
    with pytest.raises(ValueError, match="prior must be"):
        expanding_climatology(np.array([0]), np.array([1]), np.array([0]), prior=(0.5, 0.5, 0.5))
    with pytest.raises(ValueError, match="prior_weight"):
        expanding_climatology(np.array([0]), np.array([1]), np.array([0]), prior_weight=0.0)
    with pytest.raises(ValueError, match="row 0 is 3"):
        expanding_climatology(np.array([0]), np.array([1]), np.array([3]))


def test_climatology_accepts_polars_series() -> None:
    clim = expanding_climatology(pl.Series([0, 1]), pl.Series([1, 2]), pl.Series([BEAR, BEAR]))
    np.testing.assert_allclose(clim[1], [2 / 4, 1 / 4, 1 / 4])


# ---------------------------------------------------------------- skill and the bootstrap


def test_skill_score_by_hand() -> None:
    assert skill_score(np.array([0.1, 0.2, 0.3]), np.array([0.4, 0.4, 0.4])) == pytest.approx(0.5)
    assert skill_score(np.array([0.6, 0.6]), np.array([0.4, 0.4])) == pytest.approx(-0.5)
    with pytest.raises(ValueError, match="reference mean score"):
        skill_score(np.array([0.1]), np.array([0.0]))
    with pytest.raises(ValueError, match="reference score row 1 is not finite"):
        skill_score(np.array([0.1, 0.1]), np.array([0.2, np.nan]))
    with pytest.raises(ValueError, match="paired"):
        skill_score(np.array([0.1, 0.1]), np.array([0.2]))


def test_bootstrap_identical_scores_have_exactly_zero_skill() -> None:
    scores = np.random.default_rng(1).uniform(0, 1, 1000)
    result = block_bootstrap_skill(scores, scores.copy(), horizon=20, n_boot=500)
    assert result == (0.0, 0.0, 0.0)


def test_bootstrap_exchangeable_scores_interval_contains_zero() -> None:
    rng = np.random.default_rng(2)
    model, reference = rng.uniform(0, 1, (2, 2000))
    skill, low, high = block_bootstrap_skill(model, reference, horizon=20, n_boot=1000)
    assert low < 0 < high
    assert low <= skill <= high


def test_bootstrap_known_skill_is_tight() -> None:
    reference = np.random.default_rng(3).uniform(0.1, 0.9, 3000)
    skill, low, high = block_bootstrap_skill(0.5 * reference, reference, horizon=20, n_boot=500)
    assert skill == pytest.approx(0.5, abs=1e-12)
    assert low == pytest.approx(0.5, abs=1e-12)
    assert high == pytest.approx(0.5, abs=1e-12)


def test_bootstrap_iid_width_matches_normal_theory() -> None:
    """Reference constant 1, model iid N(0.5, sd): skill = 1 - mean(model), whose 90% interval
    is about 2 * 1.645 * sd / sqrt(n) wide whatever the block size (no dependence to keep);
    with 4000 / 60 = 66.7 blocks the t quantile (65.7 df) is 1.668, 1.4 % above 1.645."""
    n, sd = 4000, 0.1
    model = np.random.default_rng(4).normal(0.5, sd, n)
    reference = np.ones(n)
    theory = 2 * 1.6449 * sd / math.sqrt(n)
    for horizon in (1, 20):
        _, low, high = block_bootstrap_skill(
            model, reference, horizon=horizon, n_boot=2000, level=0.9
        )
        assert high - low == pytest.approx(theory, rel=0.15)


def test_bootstrap_autocorrelation_widens_the_interval_with_blocks() -> None:
    """AR(1) with phi = 0.95: the long-run variance of the mean is (1 + phi) / (1 - phi) = 39
    times the iid one, so blocks of 60 (horizon 20) must give a much wider interval than
    blocks of 3 (horizon 1)."""
    n, phi = 4000, 0.95
    rng = np.random.default_rng(5)
    noise = rng.normal(0, 0.05, n)
    series = np.empty(n)
    series[0] = noise[0]
    for i in range(1, n):
        series[i] = phi * series[i - 1] + noise[i]
    model, reference = 0.5 + series, np.ones(n)
    _, low_1, high_1 = block_bootstrap_skill(model, reference, horizon=1, n_boot=1000)
    _, low_20, high_20 = block_bootstrap_skill(model, reference, horizon=20, n_boot=1000)
    assert (high_20 - low_20) > 2.5 * (high_1 - low_1)


def test_bootstrap_refuses_fewer_calls_than_three_horizons() -> None:
    """Twelve calls over a 20-session horizon fit in one circular block: every replicate was a
    rotation of the same calls and the old interval had zero width (low == high == skill).
    Now there is no interval below 3 horizons of calls, whatever the scores."""
    rng = np.random.default_rng(6)
    model, reference = rng.uniform(0, 1, (2, 59))
    for n in (4, 12, 20, 59):
        with pytest.raises(TooFewCallsError, match=rf"too few calls: {n} < 60 \(3 horizons"):
            block_bootstrap_skill(model[:n], reference[:n], horizon=20, n_boot=200)
    with pytest.raises(TooFewCallsError, match="too few calls: 2 < 3"):
        block_bootstrap_skill(model[:2], reference[:2], horizon=1, n_boot=200)


def test_bootstrap_few_blocks_widen_the_interval_by_the_t_quantile() -> None:
    """60 calls over H = 20: two blocks of 30, so the half-width is t(0.95, 1 df) = 6.314 times
    the replicates' standard deviation (a normal quantile would give 1.645)."""
    rng = np.random.default_rng(8)
    model, reference = rng.uniform(0.1, 0.5, 60), rng.uniform(0.3, 0.7, 60)
    skill, low, high = block_bootstrap_skill(model, reference, horizon=20, n_boot=400, seed=3)
    assert interval_block(60, 20) == 30
    # The same replicates by hand: blocks of 30 starting at uniform calls, circularly.
    draws = np.random.default_rng(3).integers(0, 60, size=(400, 2))
    wrapped_m, wrapped_r = np.r_[model, model[:29]], np.r_[reference, reference[:29]]
    replicate = [
        1
        - sum(wrapped_m[a : a + 30].sum() for a in row)
        / sum(wrapped_r[a : a + 30].sum() for a in row)
        for row in draws
    ]
    half_width = 6.3138 * np.std(replicate, ddof=1)
    assert skill == pytest.approx(1 - model.sum() / reference.sum())
    assert (low, high) == pytest.approx((skill - half_width, skill + half_width), rel=1e-4)


def test_bootstrap_is_deterministic_for_a_seed() -> None:
    rng = np.random.default_rng(7)
    model, reference = rng.uniform(0, 1, (2, 500))
    first = block_bootstrap_skill(model, reference, horizon=20, n_boot=300, seed=11)
    again = block_bootstrap_skill(model, reference, horizon=20, n_boot=300, seed=11)
    other = block_bootstrap_skill(model, reference, horizon=20, n_boot=300, seed=12)
    assert first == again
    assert first.skill == other.skill
    assert (first.low, first.high) != (other.low, other.high)


def test_bootstrap_rejects_bad_parameters() -> None:
    scores = np.ones(10)
    with pytest.raises(ValueError, match="horizon must be at least 1"):
        block_bootstrap_skill(scores, scores, horizon=0)
    with pytest.raises(ValueError, match="n_boot"):
        block_bootstrap_skill(scores, scores, horizon=2, n_boot=1)
    with pytest.raises(ValueError, match="level"):
        block_bootstrap_skill(scores, scores, horizon=2, level=1.0)
    with pytest.raises(ValueError, match="zero reference scores"):
        block_bootstrap_skill(scores, np.r_[np.zeros(9), 1.0], horizon=1, n_boot=200)


# ---------------------------------------------------------------- reliability


def test_wilson_interval_by_hand() -> None:
    # 0/1: upper = z^2 / (1 + z^2) = 3.8415 / 4.8415; 1/2 and 2/3 from the textbook formula
    low, high = wilson_interval(np.array([0, 1, 2]), np.array([1, 2, 3]))
    assert low.tolist() == pytest.approx([0.0, 0.0945, 0.2077], abs=5e-4)
    assert high.tolist() == pytest.approx([0.7935, 0.9055, 0.9385], abs=5e-4)


def test_reliability_table_hand_built() -> None:
    prob = np.array([0.05, 0.08, 0.15, 0.95, 0.92, 0.91, 1.0, 0.1])
    hit = np.array([False, True, False, True, True, False, True, False])
    table = reliability_table(prob, hit, bins=10, level=0.95)
    # 0.1 opens bucket 1; 1.0 belongs to the last bucket
    assert table.select("bucket", "count", "hits").rows() == [(0, 2, 1), (1, 2, 0), (9, 4, 3)]
    assert table["bucket_low"].to_list() == pytest.approx([0.0, 0.1, 0.9])
    assert table["bucket_high"].to_list() == pytest.approx([0.1, 0.2, 1.0])
    assert table["mean_forecast"].to_list() == pytest.approx([0.065, 0.125, 0.945])
    assert table["observed_frequency"].to_list() == pytest.approx([0.5, 0.0, 0.75])
    # Wilson 95%: 1/2 -> (0.0945, 0.9055); 0/2 -> (0, z^2 / (2 + z^2) = 0.6576);
    # 3/4 -> (0.3006, 0.9544)
    assert table["frequency_low"].to_list() == pytest.approx([0.0945, 0.0, 0.3006], abs=5e-4)
    assert table["frequency_high"].to_list() == pytest.approx([0.9055, 0.6576, 0.9544], abs=5e-4)
    # Without the calls' sessions every call counts as independent.
    assert table["effective_count"].to_list() == [2.0, 2.0, 4.0]
    assert set(table["interval_basis"]) == {INDEPENDENT}


def test_overlap_correlation_by_hand() -> None:
    # Alternating residuals on consecutive sessions (mean 0, variance 1): lag 1 pairs give
    # -3 / 3 -> clipped to 0, lag 2 gives 2 / 2 = 1, lag 3 gives -1 / 1 -> 0.
    rho, basis = overlap_correlation(
        np.arange(4), np.array([1.0, -1.0, 1.0, -1.0]), horizon=4, estimate=True
    )
    assert (rho.tolist(), basis) == ([1.0, 0.0, 1.0, 0.0], OVERLAP_ESTIMATED)
    # Sessions 0, 2, 3 (residuals 1, 1, -2: variance 2): lag 1 -> -2 / 1 -> 0; lag 2 -> 1 / 1 / 2
    # = 0.5; lag 3 -> -2 -> 0; lag 4 has no pair: the bound 1 - 4 / 5 = 0.2.
    rho, _ = overlap_correlation(
        np.array([3, 0, 2]), np.array([-2.0, 1.0, 1.0]), horizon=5, estimate=True
    )
    assert rho.tolist() == pytest.approx([1.0, 0.0, 0.5, 0.0, 0.2])
    # Too few calls to estimate (fewer than 10 horizons by default): the overlap bound.
    rho, basis = overlap_correlation(np.arange(39), np.zeros(39), horizon=4)
    assert (rho.tolist(), basis) == ([1.0, 0.75, 0.5, 0.25], OVERLAP_BOUND)


def test_effective_counts_by_hand() -> None:
    rho = np.array([1.0, 0.75, 0.5, 0.25])  # H = 4, the overlap bound
    member = np.array(
        [
            [True] * 8,  # a run of 8: 64 / (8 + 2 (0.75 * 7 + 0.5 * 6 + 0.25 * 5)) = 64 / 27
            [True, False, False, False] * 2,  # two calls a horizon apart: independent
            [True, True] + [False] * 6,  # two neighbours: 4 / (2 + 2 * 0.75) = 8 / 7
        ]
    )
    counts = effective_counts(member, np.arange(8), rho)
    assert counts.tolist() == pytest.approx([64 / 27, 2.0, 8 / 7])


def test_reliability_interval_on_overlapping_calls_by_hand() -> None:
    # Eight consecutive daily calls at p = 0.5 over H = 4, the first four hit: 4 / 8 observed on
    # 64 / 27 = 2.370 effective calls (the overlap bound: fewer than 10 horizons of calls).
    # Wilson 90 % (z = 1.6449) on n = 2.370: centre 0.5, half-width
    # z / (1 + z^2 / n) * sqrt(0.25 / n + z^2 / (4 n^2)) = 0.7681 * 0.4753 = 0.3651.
    table = reliability_table(
        np.full(8, 0.5), np.array([1, 1, 1, 1, 0, 0, 0, 0]), session=np.arange(8), horizon=4
    )
    row = table.row(0, named=True)
    assert (row["count"], row["hits"], row["observed_frequency"]) == (8, 4, 0.5)
    assert row["effective_count"] == pytest.approx(64 / 27)
    assert (row["frequency_low"], row["frequency_high"]) == pytest.approx(
        (0.1349, 0.8651), abs=5e-4
    )
    assert row["interval_basis"] == OVERLAP_BOUND
    with pytest.raises(ValueError, match="both session and horizon"):
        reliability_table(np.full(8, 0.5), np.zeros(8), session=np.arange(8))


def test_reliability_table_empty_and_invalid() -> None:
    empty = reliability_table(np.array([]), np.array([]))
    assert empty.height == 0
    assert "observed_frequency" in empty.columns
    with pytest.raises(ValueError, match="prob row 1 is nan"):
        reliability_table(np.array([0.5, np.nan]), np.array([1, 0]))
    with pytest.raises(ValueError, match=r"hit row 0 is 2\.0"):
        reliability_table(np.array([0.5]), np.array([2]))
    with pytest.raises(ValueError, match="bins"):
        reliability_table(np.array([0.5]), np.array([1]), bins=0)


def test_reliability_tables_cover_each_scenario() -> None:
    probs = np.array([[0.2, 0.3, 0.5], [0.1, 0.3, 0.6], [0.7, 0.2, 0.1]])
    outcome = np.array([BULL, SIDEWAYS, BEAR])
    tables = reliability_tables(probs, outcome, bins=5)
    for k, name in enumerate(SCENARIOS):
        part = tables.filter(pl.col("scenario") == name)
        assert part["count"].sum() == 3
        assert part["hits"].sum() == 1
        expected = reliability_table(probs[:, k], outcome == k, bins=5)
        assert part.drop("scenario").equals(expected)


# ---------------------------------------------------------------- polars wrappers


def test_with_scores_on_a_calls_frame() -> None:
    frame = pl.DataFrame(
        {
            "p_bear": [0.2, 0.2, 0.2],
            "p_sideways": [0.4, 0.4, 0.4],
            "p_bull": [0.4, 0.4, 0.4],
            "outcome": [BEAR, SIDEWAYS, BULL],
        }
    )
    scored = with_scores(frame)
    assert scored["rps"].to_list() == pytest.approx([0.40, 0.10, 0.20])
    assert scored["brier"].to_list() == pytest.approx([0.96, 0.56, 0.56])
    assert scored["log_score"].to_list() == pytest.approx(
        [-math.log(0.2), -math.log(0.4), -math.log(0.4)]
    )
    by_name = with_scores(frame.with_columns(pl.Series("outcome", ["bear", "sideways", "bull"])))
    assert by_name["rps"].to_list() == scored["rps"].to_list()
    with pytest.raises(ValueError, match="outcome row 1 is null"):
        with_scores(frame.with_columns(pl.Series("outcome", [0, None, 2])))
    with pytest.raises(ValueError, match="probabilities row 0 is null"):
        probabilities_from_frame(frame.with_columns(pl.Series("p_bull", [None, 0.4, 0.4])))
    with pytest.raises(ValueError, match=r"lacks probability columns \['p_bull'\]"):
        probabilities_from_frame(frame.drop("p_bull"))
