"""The v2 probability model: Brownian geometry, geometry base rates, the point-in-time layer."""

from __future__ import annotations

import dataclasses
import math
from datetime import date, timedelta
from statistics import NormalDist

import numpy as np
import polars as pl
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from pipeline.analysis.calls import call_table
from pipeline.analysis.probability_model import (
    OUTPUT_COLUMNS,
    ProbabilityInputError,
    brownian_exit_probabilities,
    brownian_scenarios,
    daily_sd_in_atr,
    drift_in_atr,
    fit_logit,
    geometry_base_rates,
    logit_probabilities,
    penalised_log_likelihood,
    scenario_probabilities,
)
from pipeline.analysis.probability_params import (
    V2_BARRIER_PARAMS,
    ProbabilityParams,
    probability_params_hash,
)
from pipeline.audit.scores import (
    block_bootstrap_skill,
    ranked_probability_score,
    reliability_tables,
)
from tests.pipeline.analysis.base_rate_oracle import base_rates_at
from tests.pipeline.analysis.builders import noisy_path, series_frame

ES_FILE = "ES_F_yahoo_continuous_daily_2000-09-18_2026-02-23.csv"

H = 20


# ---------------------------------------------------------------- Brownian geometry


def slow_exit_probabilities(
    up: float, down: float, duration: float, step: float, drift: float = 0.0
) -> np.ndarray:
    """Gambler's ruin with a deadline, by dynamic programming: a walk of +-step every step^2
    units of time (variance 1 per unit, as Brownian motion; up with probability
    (1 + drift step) / 2, so drift per unit of time) absorbed at +up or -down."""
    levels = np.arange(-round(down / step), round(up / step) + 1)
    mass = (levels == 0).astype(float)
    hit_down = hit_up = 0.0
    p_up = (1 + drift * step) / 2
    for _ in range(round(duration / step**2)):
        moved = np.zeros_like(mass)
        moved[1:] += p_up * mass[:-1]
        moved[:-1] += (1 - p_up) * mass[1:]
        hit_down += moved[0]
        hit_up += moved[-1]
        moved[0] = moved[-1] = 0.0
        mass = moved
    return np.array([hit_down, mass.sum(), hit_up])


def test_long_horizon_is_gamblers_ruin() -> None:
    probs = brownian_exit_probabilities(
        np.array([1.0, 2.0, 3.0, 0.5]), np.array([3.0, 2.0, 1.0, 4.5]), duration=1e7
    )
    assert probs == pytest.approx(
        np.array([[0.25, 0.0, 0.75], [0.5, 0.0, 0.5], [0.75, 0.0, 0.25], [0.1, 0.0, 0.9]]),
        abs=1e-9,
    )


def test_one_far_barrier_is_the_reflection_principle() -> None:
    """Lower barrier out of reach: P(max of W over [0, T] >= a) = 2 (1 - Phi(a / sqrt(T)));
    a = 1.6449 sqrt(T) gives 0.10, a = 1.96 sqrt(T) 0.05."""
    duration = 19.0
    z = np.array([NormalDist().inv_cdf(0.95), NormalDist().inv_cdf(0.975)])
    probs = brownian_exit_probabilities(
        z * math.sqrt(duration), np.full(2, 40.0), duration=duration
    )
    assert probs[:, 2].tolist() == pytest.approx([0.10, 0.05], abs=1e-6)
    assert probs[:, 0].max() < 1e-12


@settings(max_examples=12, deadline=None)
@given(
    up=st.integers(min_value=1, max_value=8),
    down=st.integers(min_value=1, max_value=8),
    duration=st.sampled_from([0.5, 1.0, 2.0]),
    drift=st.sampled_from([-1.0, 0.0, 0.5, 1.5]),
)
@example(up=1, down=1, duration=2.0, drift=0.0)
@example(up=8, down=2, duration=0.5, drift=-1.0)
def test_exit_probabilities_match_the_random_walk_oracle(
    up: int, down: int, duration: float, drift: float
) -> None:
    """Distances in quarters of the unit: the walk's step 1/40 lands on both barriers."""
    fast = brownian_exit_probabilities(
        np.array([up / 4]), np.array([down / 4]), duration=duration, drift=drift
    )
    slow = slow_exit_probabilities(up / 4, down / 4, duration, step=0.025, drift=drift)
    assert fast[0] == pytest.approx(slow, abs=0.012)


@settings(max_examples=40, deadline=None)
@given(
    up=st.floats(min_value=0.05, max_value=30.0),
    down=st.floats(min_value=0.05, max_value=30.0),
    duration=st.floats(min_value=1.0, max_value=60.0),
)
def test_exit_probabilities_are_a_distribution_mirrored_and_monotone(
    up: float, down: float, duration: float
) -> None:
    probs = brownian_exit_probabilities(
        np.array([up, down, up * 1.5]), np.array([down, up, down]), duration=duration, terms=400
    )
    assert np.all(probs >= 0) and probs.sum(axis=1) == pytest.approx(np.ones(3))
    assert probs[1] == pytest.approx(probs[0][::-1], abs=1e-9)  # swapping the barriers
    assert probs[2, 2] <= probs[0, 2] + 1e-9  # a farther upper barrier is hit less often
    drifting = brownian_exit_probabilities(
        np.array([up, down]), np.array([down, up]), duration=duration, drift=np.array([0.3, -0.3]),
        terms=400,
    )  # fmt: skip
    assert drifting[1] == pytest.approx(drifting[0][::-1], abs=1e-9)  # mirrored with the drift
    assert drifting[0, 2] >= probs[0, 2] - 1e-9  # drifting up reaches the upper barrier more
    assert drifting[0, 0] <= probs[0, 0] + 1e-9


def test_exit_probabilities_reject_bad_input() -> None:
    with pytest.raises(ValueError, match=r"row 1 has up 0\.0"):
        brownian_exit_probabilities(np.array([1.0, 0.0]), np.array([1.0, 1.0]), duration=5)
    with pytest.raises(ValueError, match="too few"):
        brownian_exit_probabilities(np.array([200.0]), np.array([200.0]), duration=1, terms=8)


def test_drift_in_atr_by_hand() -> None:
    """Daily changes over the previous ATR: -, 1/1, 2/1, -1/2; two-session means 1, 1.5, 0.75
    (the first row has none: 0), plus the constant 0.01."""
    table = pl.DataFrame({"close": [100.0, 101.0, 103.0, 102.0], "atr14": [1.0, 1.0, 2.0, 2.0]})
    params = ProbabilityParams(drift_atr=0.01, drift_window=2)
    assert drift_in_atr(table, params=params).tolist() == pytest.approx([0.01, 1.01, 1.51, 0.76])
    constant = ProbabilityParams(drift_atr=0.02, drift_window=0)
    assert drift_in_atr(table, params=constant).tolist() == [0.02] * 4


def test_brownian_scenarios_add_the_margin_and_the_shift() -> None:
    """Distance 0.9 ATR + margin 0.1 = 1 ATR = 2 sd at 0.5 ATR per session, + 1 sd shift = 3 sd."""
    params = ProbabilityParams(
        daily_sd_atr=0.5, barrier_shift_sd=1.0, acceptance_atr=0.1, horizon_sessions=21
    )
    got = brownian_scenarios(np.array([0.9]), np.array([1.9]), np.array([0.5]), params=params)
    expected = brownian_exit_probabilities(np.array([3.0]), np.array([5.0]), duration=20)
    assert got == pytest.approx(expected)
    # a drift of 0.1 ATR per session is 0.2 sd per session at 0.5 ATR per session
    drifting = brownian_scenarios(
        np.array([0.9]), np.array([1.9]), np.array([0.5]), params=params, drift_atr=0.1
    )
    assert drifting == pytest.approx(
        brownian_exit_probabilities(np.array([3.0]), np.array([5.0]), duration=20, drift=0.2)
    )
    # a close beyond its barrier counts as at it
    beyond = brownian_scenarios(np.array([-2.0]), np.array([1.9]), np.array([0.5]), params=params)
    at = brownian_scenarios(np.array([0.0]), np.array([1.9]), np.array([0.5]), params=params)
    assert beyond == pytest.approx(at)


def test_daily_sd_follows_the_volatility_regime_by_hand() -> None:
    """ATR% 1 %, 1 %, 4 %: over a 2-session window the last row's ln(ATR%) exceeds its mean by
    ln(4) / 2 = ln 2, so with elasticity 1 the sd halves; the first rows sit at their mean."""
    table = pl.DataFrame({"atr14": [1.0, 1.0, 4.0], "raw_close": [100.0, 100.0, 100.0]})
    params = ProbabilityParams(daily_sd_atr=0.6, vol_regime_window=2, vol_regime_elasticity=1.0)
    assert daily_sd_in_atr(table, params=params).tolist() == pytest.approx([0.6, 0.6, 0.3])
    capped = dataclasses.replace(params, vol_regime_cap=0.1)
    assert daily_sd_in_atr(table, params=capped)[2] == pytest.approx(0.6 * math.exp(-0.1))


# ---------------------------------------------------------------- geometry base rates


def test_geometry_base_rates_by_hand() -> None:
    """H = 2: row i counts the calls t <= i - 2. Climatology (n_k + 1) / (n + 3); geometry
    (m_k + clim_k) / (m + 1) with shrinkage 1."""
    keys = ["A", "A", "B", "A", "B", "A", None]
    outcome = np.array([2, 0, 1, 2, -1, -1, -1])
    params = ProbabilityParams(horizon_sessions=2, geometry_shrinkage=1.0)
    clim, geo, analogs = geometry_base_rates(keys, outcome, params=params)
    third = [1 / 3] * 3
    assert clim[:6] == pytest.approx(
        np.array([third, third, [0.25, 0.25, 0.5], [0.4, 0.2, 0.4], third, [2 / 7, 2 / 7, 3 / 7]])
    )
    assert geo[:6] == pytest.approx(
        np.array(
            [
                third,
                third,
                [0.25, 0.25, 0.5],  # B has no analog yet: the climatology
                [1.4 / 3, 0.2 / 3, 1.4 / 3],  # A: one bull, one bear
                [1 / 6, 2 / 3, 1 / 6],  # B: one sideways
                [(1 + 2 / 7) / 4, (2 / 7) / 4, (2 + 3 / 7) / 4],  # A: bull, bear, bull
            ]
        )
    )
    assert analogs[:6].tolist() == [0, 0, 0, 2, 1, 3]
    assert np.isnan(geo[6]).all() and np.isnan(analogs[6])


# ---------------------------------------------------------------- the fitted layer


def test_logit_with_a_flat_offset_and_a_vague_prior_recovers_the_frequencies() -> None:
    """Intercepts only, offset constant: the maximum is softmax(beta) = frequencies, i.e.
    beta_bear = ln(10 / 20), beta_bull = ln(40 / 20)."""
    outcome = np.repeat([0, 1, 2], [10, 20, 40])
    design = np.ones((70, 1))
    offset = np.full((70, 3), math.log(1 / 3))
    beta = fit_logit(design, outcome, offset, weight=1.0, prior_sd=1e4)
    assert beta[0].tolist() == pytest.approx([math.log(0.5), math.log(2.0)], abs=1e-6)
    probs = logit_probabilities(design[:1], beta, offset[:1])
    assert probs[0].tolist() == pytest.approx([1 / 7, 2 / 7, 4 / 7], abs=1e-6)


def test_logit_fit_is_the_maximum_of_its_objective() -> None:
    rng = np.random.default_rng(1)
    n = 400
    design = np.column_stack([np.ones(n), rng.standard_normal((n, 2))])
    offset = np.log(rng.dirichlet([3, 3, 3], n))
    outcome = rng.integers(0, 3, n)
    kwargs = {"weight": 0.05, "prior_sd": 0.3}
    beta = fit_logit(design, outcome, offset, **kwargs)  # type: ignore[arg-type]

    def objective(b: np.ndarray) -> float:
        return penalised_log_likelihood(design, outcome, offset, b, **kwargs)  # type: ignore[arg-type]

    best = objective(beta)
    eps = 1e-6
    for i in range(beta.size):
        bump = np.zeros(beta.shape)
        bump.flat[i] = eps
        gradient = (objective(beta + bump) - objective(beta - bump)) / (2 * eps)
        assert abs(gradient) < 1e-5
    for _ in range(20):
        assert objective(beta + 0.05 * rng.standard_normal(beta.shape)) < best
    # the prior pulls toward the offset: a tight prior leaves the coefficients near 0
    tight = fit_logit(design, outcome, offset, weight=0.05, prior_sd=1e-3)
    assert np.abs(tight).max() < 1e-4


# ---------------------------------------------------------------- synthetic call tables

#: Test parameters: no volatility regime, refits every 50 sessions after 200 calls. The
#: synthetic outcomes are drawn independently (no overlapping horizons), so the 1/H weight of a
#: call makes the data 20 times weaker than it is: a vague prior lets the tests see the signal.
TEST_PARAMS = ProbabilityParams(
    vol_regime_elasticity=0.0,
    drift_atr=0.0,
    drift_window=0,
    fit_layer=True,
    refit_sessions=50,
    min_training_calls=200,
    coefficient_prior_sd=1.0,
)


def synthetic_table(
    n: int, *, seed: int, beta: float, params: ProbabilityParams = TEST_PARAMS
) -> tuple[pl.DataFrame, np.ndarray]:
    """One call per session with random barrier distances and a state ``z`` carried as RSI
    (rsi14 = 50 + 10 z). Outcomes are drawn from the Brownian geometry tilted by ``beta``
    log-odds per unit of z toward bull (and away from bear): the truth is known. Calls of
    the last H sessions are unresolved. Returns the table and the true probabilities."""
    rng = np.random.default_rng(seed)
    days = [date(2001, 1, 1) + timedelta(days=i) for i in range(n)]
    close = 2000 + np.cumsum(rng.normal(0, 1, n))
    up, down = rng.uniform(0.2, 5.0, (2, n))
    z = np.empty(n)
    z[0] = rng.standard_normal()
    for i in range(1, n):  # persistent, as a real state is
        z[i] = 0.9 * z[i - 1] + math.sqrt(1 - 0.81) * rng.standard_normal()
    geometry = brownian_scenarios(up, down, np.full(n, params.daily_sd_atr), params=params)
    logits = np.log(geometry) + np.column_stack([-beta * z, np.zeros(n), beta * z])
    truth = np.exp(logits - logits.max(axis=1, keepdims=True))
    truth /= truth.sum(axis=1, keepdims=True)
    u = rng.uniform(size=n)
    outcome = (u > truth[:, 0]).astype(np.int64) + (u > truth[:, 0] + truth[:, 1])
    outcome[n - params.horizon_sessions :] = -1
    table = pl.DataFrame(
        {
            "session_date": days,
            "close": close,
            "raw_close": close,
            "atr14": np.ones(n),
            "upper_internal": close + up,
            "lower_internal": close - down,
            "outcome": outcome,
            "has_call": np.ones(n, dtype=bool),
            "rsi14": 50 + 10 * z,
        }
    )
    return table, truth


def _probs(frame: pl.DataFrame, prefix: str = "p") -> np.ndarray:
    return frame.select(f"{prefix}_bear", f"{prefix}_sideways", f"{prefix}_bull").to_numpy()


def test_tiny_table_by_hand() -> None:
    """Long horizon, no shift or margin, 1 ATR per session: gambler's ruin; nothing resolves,
    so the geometry and climatology are uniform and the layer stays off."""
    params = ProbabilityParams(
        horizon_sessions=10**6,
        daily_sd_atr=1.0,
        barrier_shift_sd=0.0,
        acceptance_atr=0.0,
        vol_regime_elasticity=0.0,
        drift_atr=0.0,
        drift_window=0,
        probability_floor=1e-12,
    )
    table = pl.DataFrame(
        {
            "session_date": [date(2024, 1, d) for d in (2, 3, 4, 5)],
            "close": [100.0, 100.0, 100.0, 100.0],
            "raw_close": [100.0] * 4,
            "atr14": [1.0, 1.0, 2.0, 1.0],
            "upper_internal": [None, 101.0, 104.0, 102.0],
            "lower_internal": [None, 97.0, 98.0, 99.0],
            "outcome": [-1, -1, -1, -1],
            "has_call": [False, True, True, True],
        }
    )
    out = scenario_probabilities(table, params=params)
    assert set(OUTPUT_COLUMNS) <= set(out.columns)
    # up/down in ATR: (1, 3), (2, 1) at ATR 2, (2, 1): P(bull) = down / (up + down); buckets
    # of (1.0, 2.5): 1 and 2 ATR are bucket 1, 3 ATR bucket 2
    assert out.select("p_bear", "p_sideways", "p_bull").rows() == [
        (None, None, None),
        (0.25, 0.0, 0.75),
        (0.6667, 0.0, 0.3333),
        (0.6667, 0.0, 0.3333),
    ]
    assert out["geometry_key"].to_list() == [None, "up1|down2", "up1|down1", "up1|down1"]
    assert out["geo_bull"].to_list() == [None, 0.3333, 0.3333, 0.3333]
    assert out["geo_sideways"].to_list() == [None, 0.3334, 0.3334, 0.3334]
    assert out["n_geometry"].to_list() == [None, 0, 0, 0]
    assert out["model_calls"].to_list() == [None, 0, 0, 0]
    assert out["model_as_of"].to_list() == [None] * 4
    assert out["daily_sd_atr"].to_list() == [None, 1.0, 1.0, 1.0]
    assert out["drift_atr"].to_list() == [None, 0.0, 0.0, 0.0]
    # a drift up makes the upper barrier likelier: with drift 0.25 sd per session and barriers
    # 2 sd either side, (1 - e^-1) / (1 - e^-2) = 0.7311 up first (drift x ATR 1 = 0.25 ATR)
    drifting = dataclasses.replace(params, drift_atr=0.25)
    symmetric = table.with_columns(
        pl.lit(102.0).alias("upper_internal"), pl.lit(98.0).alias("lower_internal")
    )
    out = scenario_probabilities(symmetric, params=drifting)
    assert out["p_bull"].to_list() == [None, 0.7311, 0.6225, 0.7311]
    assert out["drift_atr"].to_list() == [None, 0.25, 0.25, 0.25]


def test_published_probabilities_add_up_to_one() -> None:
    table, _ = synthetic_table(600, seed=2, beta=0.5)
    out = scenario_probabilities(table, params=TEST_PARAMS).filter("has_call")
    for prefix in ("p", "geo", "clim", "bm"):
        probs = _probs(out, prefix)
        assert np.abs(probs.sum(axis=1) - 1).max() < 1e-9
        assert probs.min() >= 0
        assert np.all(np.round(probs, 4) == probs)
    assert _probs(out).min() >= TEST_PARAMS.probability_floor


def _truncated(table: pl.DataFrame, last: int, *, horizon: int) -> pl.DataFrame:
    """What a run on the sessions up to row ``last`` sees: calls whose horizon has not ended
    inside it are unresolved."""
    prefix = table.head(last + 1).with_row_index("i")
    return prefix.with_columns(
        pl.when(pl.col("i") + horizon <= last)
        .then(pl.col("outcome"))
        .otherwise(-1)
        .alias("outcome")
    ).drop("i")


@settings(max_examples=6, deadline=None)
@given(last=st.integers(min_value=0, max_value=899))
@example(last=219)  # the first refit with 200 known calls
@example(last=250)  # a refit row
@example(last=899)
def test_prefix_invariance(last: int) -> None:
    """Row D of the full run equals the last row of a run on rows <= D, whether those rows
    carry the outcomes a run on D would know, later-known outcomes, or scrambled ones."""
    table, _ = synthetic_table(900, seed=3, beta=0.5)
    params = dataclasses.replace(TEST_PARAMS, features=("rsi", "momentum", "geometry_rate"))

    def last_row(frame: pl.DataFrame, row: int = -1) -> dict[str, object]:
        return (
            scenario_probabilities(frame, params=params)
            .select(list(OUTPUT_COLUMNS))
            .row(row, named=True)
        )

    full = last_row(table, last)
    refit_row = (last // 50) * 50  # calls t with t + 20 <= refit row are known; 200 needed
    assert full["model_calls"] == (refit_row - 19 if refit_row - 19 >= 200 else 0)
    honest = _truncated(table, last, horizon=params.horizon_sessions)
    assert last_row(honest) == full
    leaked = table.head(last + 1)  # outcomes known only after D: must be ignored
    assert last_row(leaked) == full
    rng = np.random.default_rng(last)
    unknown = np.arange(last + 1) + params.horizon_sessions > last
    scrambled = leaked.with_columns(
        pl.Series("outcome", np.where(unknown, rng.integers(0, 3, last + 1), leaked["outcome"]))
    )
    assert last_row(scrambled) == full


def test_prefix_invariance_with_a_pool() -> None:
    table, _ = synthetic_table(700, seed=4, beta=0.5)
    peer, _ = synthetic_table(700, seed=5, beta=0.5)
    peer = peer.with_columns(pl.col("session_date") + timedelta(days=3))  # other sessions
    params = dataclasses.replace(TEST_PARAMS, features=("rsi",))
    full = scenario_probabilities(table, params=params, pool=[peer])
    for last in (260, 480):
        cut = table["session_date"][last]
        mine = _truncated(table, last, horizon=H)
        peer_rows = int((peer["session_date"] <= cut).sum())
        theirs = _truncated(peer, peer_rows - 1, horizon=H)
        row = scenario_probabilities(mine, params=params, pool=[theirs])
        assert row.select(list(OUTPUT_COLUMNS)).row(-1) == full.select(list(OUTPUT_COLUMNS)).row(
            last
        )
    # the pool changes the fit: it is used
    alone = scenario_probabilities(table, params=params)
    assert not np.allclose(_probs(alone.tail(100)), _probs(full.tail(100)))
    assert full["model_calls"][-1] > alone["model_calls"][-1]


def _evaluation(out: pl.DataFrame, start: int) -> pl.DataFrame:
    return out.with_row_index("i").filter((pl.col("i") >= start) & (pl.col("outcome") >= 0))


def test_planted_state_signal_is_detected() -> None:
    """z shifts the odds by 0.7 log-odds per sd beyond the geometry: the model with the
    feature beats the geometry base rates and its own geometry alone, intervals above 0."""
    table, truth = synthetic_table(4000, seed=6, beta=0.7)
    with_state = dataclasses.replace(TEST_PARAMS, features=("rsi",))
    out = _evaluation(scenario_probabilities(table, params=with_state), 1000)
    alone = _evaluation(scenario_probabilities(table, params=TEST_PARAMS), 1000)
    outcome = out["outcome"].to_numpy()
    rps = ranked_probability_score(_probs(out), outcome)
    vs_geometry = block_bootstrap_skill(
        rps, ranked_probability_score(_probs(out, "geo"), outcome), horizon=H
    )
    vs_alone = block_bootstrap_skill(
        rps, ranked_probability_score(_probs(alone), outcome), horizon=H
    )
    assert vs_geometry.low > 0 and vs_alone.low > 0, (vs_geometry, vs_alone)
    # and the probabilities are the true ones, nearly
    rows = out["i"].to_numpy()
    assert np.abs(_probs(out) - truth[rows]).mean() < 0.03


def test_no_skill_is_claimed_from_a_feature_without_signal() -> None:
    """beta = 0: the feature is noise. The reference is the model's own geometry (here the
    truth; the geometry base rates, coarser, are beaten by any model that knows the continuous
    geometry, so they cannot serve as the null). No skill is claimed: the interval is not above
    0 (a noise coefficient only adds estimation error, a loss too small to matter), and the
    probabilities barely move."""
    table, _ = synthetic_table(4000, seed=7, beta=0.0)
    with_state = dataclasses.replace(TEST_PARAMS, features=("rsi",))
    out = _evaluation(scenario_probabilities(table, params=with_state), 1000)
    alone = _evaluation(scenario_probabilities(table, params=TEST_PARAMS), 1000)
    outcome = out["outcome"].to_numpy()
    skill = block_bootstrap_skill(
        ranked_probability_score(_probs(out), outcome),
        ranked_probability_score(_probs(alone), outcome),
        horizon=H,
    )
    assert skill.low < 0, skill
    assert abs(skill.skill) < 0.002, skill
    assert np.abs(_probs(out) - _probs(alone)).mean() < 0.01


def _outside(probs: np.ndarray, outcome: np.ndarray, session: np.ndarray) -> pl.DataFrame:
    """Reliability buckets whose overlap-aware interval misses their mean forecast."""
    table = reliability_tables(probs, outcome, session=session, horizon=H)
    return table.filter(
        (pl.col("mean_forecast") < pl.col("frequency_low"))
        | (pl.col("mean_forecast") > pl.col("frequency_high"))
    )


def test_calibration_on_known_probabilities() -> None:
    """The truth is Brownian geometry tilted by the state. The model's probabilities track it,
    and its reliability buckets (90 % intervals on the effective number of calls) look like the
    truth's own on the same outcomes: some buckets miss even for the true probabilities, so the
    truth is the yardstick."""
    table, truth = synthetic_table(6000, seed=8, beta=0.5)
    params = dataclasses.replace(TEST_PARAMS, features=("rsi",))
    out = _evaluation(scenario_probabilities(table, params=params), 2000)
    probs, outcome = _probs(out), out["outcome"].to_numpy()
    session = out["i"].cast(pl.Int64).to_numpy()
    known = truth[session]
    assert np.abs(probs - known).mean() < 0.015
    buckets = reliability_tables(probs, outcome, session=session, horizon=H)
    assert buckets.height >= 20
    assert _outside(probs, outcome, session).height <= _outside(known, outcome, session).height + 3
    gap = (pl.col("observed_frequency") - pl.col("mean_forecast")).abs()
    oracle = reliability_tables(known, outcome, session=session, horizon=H)
    big, big_oracle = (
        t.filter(pl.col("count") >= 200).select(gap.max()).item() for t in (buckets, oracle)
    )
    assert big <= big_oracle + 0.01


def _assert_nightly_equals_backfill(
    series: pl.DataFrame, lasts: list[int], *, tick: float, params: ProbabilityParams
) -> None:
    """The call table of the sessions up to D (outcomes resolved inside it only), then the
    model: its last row equals row D of the whole history's run."""
    full = scenario_probabilities(call_table(series, tick=tick), params=params)
    columns = list(OUTPUT_COLUMNS)
    for last in lasts:
        nightly = scenario_probabilities(
            call_table(series.head(last + 1), tick=tick), params=params
        )
        assert nightly.select(columns).row(-1) == full.select(columns).row(last), last
    ran = (full["model_calls"].fill_null(0).to_numpy() > 0).any()
    assert ran == params.fit_layer  # the fitted layer ran if it is on


def test_nightly_call_equals_the_backfill_on_v1_call_tables() -> None:
    """End to end on v1's barriers: a trending, then falling, then ranging history."""
    closes = noisy_path(
        [(400, 1.0), (200, -1.5), (300, 0.2)], start_level=2000.0, noise=12.0, seed=11
    )
    params = ProbabilityParams(fit_layer=True, min_training_calls=150, refit_sessions=40)
    _assert_nightly_equals_backfill(series_frame(closes), [520, 777], tick=0.1, params=params)


@pytest.mark.shared_data
def test_nightly_call_equals_the_backfill_on_real_es(shared_data) -> None:
    from pipeline.market.continuous import continuous_series

    raw = pl.read_csv(shared_data / ES_FILE, schema_overrides={"Date": pl.Date})
    bars = raw.select(
        pl.lit("ES").alias("root"),
        pl.lit("ES=F").alias("contract"),
        pl.col("Date").alias("session_date"),
        *(pl.col(c.title()).cast(pl.Float64).alias(c) for c in ("open", "high", "low", "close")),
        pl.col("Volume").cast(pl.Int64).alias("volume"),
    ).filter(pl.col("session_date") <= date(2012, 12, 31))
    series = continuous_series(bars)
    days = series["session_date"].to_list()
    lasts = [days.index(date(2008, 10, 10)), len(days) - 1]
    # the published model, and the fitted layer (off by default) too
    for params in (ProbabilityParams(), ProbabilityParams(fit_layer=True)):
        _assert_nightly_equals_backfill(series, lasts, tick=0.25, params=params)


# ---------------------------------------------------------------- inputs and parameters


def test_bad_tables_are_refused_with_the_row() -> None:
    table, _ = synthetic_table(50, seed=9, beta=0.0)
    with pytest.raises(ProbabilityInputError, match=r"lacks column.*atr14"):
        scenario_probabilities(table.drop("atr14"))
    with pytest.raises(ProbabilityInputError, match="unknown feature 'macd'"):
        scenario_probabilities(table, params=ProbabilityParams(features=("macd",)))
    with pytest.raises(ProbabilityInputError, match=r"lacks column.*sma200"):
        scenario_probabilities(table, params=ProbabilityParams(features=("trend_200",)))
    with pytest.raises(ProbabilityInputError, match="sorted"):
        scenario_probabilities(table.reverse())
    no_atr = table.with_columns(
        pl.when(pl.int_range(pl.len()) == 7).then(0.0).otherwise(pl.col("atr14")).alias("atr14")
    )
    with pytest.raises(
        ProbabilityInputError, match=r"call on 2001-01-08 \(row 7\) lacks a positive atr14"
    ):
        scenario_probabilities(no_atr)
    bad_outcome = table.with_columns(
        pl.when(pl.int_range(pl.len()) == 3).then(5).otherwise(pl.col("outcome")).alias("outcome")
    )
    with pytest.raises(ProbabilityInputError, match=r"outcome on 2001-01-04 \(row 3\) is 5"):
        scenario_probabilities(bad_outcome)


def test_v2_barrier_params_change_only_the_chosen_geometry() -> None:
    """v2's preset differs from the defaults only in what the bench chooses for the Brownian
    geometry: same resolution rule, base rates and publication, so the same audit reference."""
    changed = {
        f.name
        for f in dataclasses.fields(ProbabilityParams)
        if getattr(V2_BARRIER_PARAMS, f.name) != getattr(ProbabilityParams(), f.name)
    }
    assert changed <= {
        "daily_sd_atr",
        "barrier_shift_sd",
        "vol_regime_elasticity",
        "drift_atr",
        "drift_window",
    }
    assert probability_params_hash(V2_BARRIER_PARAMS) != probability_params_hash(
        ProbabilityParams()
    )


def test_params_hash_names_every_field() -> None:
    base = probability_params_hash(ProbabilityParams())
    assert base == probability_params_hash(ProbabilityParams())
    assert len(base) == 16
    for field in dataclasses.fields(ProbabilityParams):
        value = getattr(ProbabilityParams(), field.name)
        if isinstance(value, tuple):
            changed = (*value, "x")
        elif value is None:
            changed = 1000.0
        else:
            changed = value + 1
        assert probability_params_hash(ProbabilityParams(**{field.name: changed})) != base  # type: ignore[arg-type]


# ---------------------------------------------------------------- methodology v2 publishes it


@pytest.fixture(scope="module")
def v2_demo_table() -> pl.DataFrame:
    from pipeline.analysis.v2.calls import call_table as v2_call_table
    from pipeline.market.continuous import continuous_series
    from pipeline.sources.demo import demo_bars

    series = continuous_series(demo_bars("ES").filter(pl.col("session_date") <= date(2012, 6, 29)))
    return v2_call_table(series, tick=0.25)


def test_v2_publishes_the_model_with_its_own_parameters(v2_demo_table) -> None:
    from pipeline.analysis.probability_model import REQUIRED_COLUMNS
    from pipeline.analysis.v2.params import V2Params

    table = v2_demo_table
    assert V2Params().probability_model == V2_BARRIER_PARAMS
    # p_* are exactly the model's on v2's barriers and outcomes (recomputed apart from v2) ...
    model = scenario_probabilities(table.select(REQUIRED_COLUMNS), params=V2_BARRIER_PARAMS)
    calls = table.filter("has_call")
    assert calls.height > 1000
    for k in ("bear", "sideways", "bull"):
        assert model[f"p_{k}"].equals(table[f"p_{k}"]), k
    assert (
        calls.select(pl.sum_horizontal("p_bear", "p_sideways", "p_bull")) - 1
    ).to_series().abs().max() < 1e-9  # type: ignore[operator]
    # ... and differ from the base rates kept beside them as evidence.
    assert (calls["p_bear"] - calls["base_bear"]).abs().max() > 0.05  # type: ignore[operator]


def test_v2s_base_rate_evidence_equals_a_slow_count_of_past_calls(v2_demo_table) -> None:
    """The evidence v2 stores beside its probabilities (climatology, geometry and state base
    rates, analog counts) against base_rate_oracle's plain loops over the past calls."""
    from pipeline.analysis.v2.params import V2Params

    p = V2Params()
    table = v2_demo_table.with_row_index("row")
    calls = table.filter("has_call")
    checked = 0
    for row in calls.gather_every(37).iter_rows(named=True):
        oracle = base_rates_at(
            v2_demo_table,
            row["row"],
            horizon=p.horizon_sessions,
            prior_weight=p.climatology_prior_weight,
            geometry_weight=p.shrinkage_strength,
            state_weight=p.state_shrinkage_strength,
        )
        for k, name in enumerate(("bear", "sideways", "bull")):
            assert row[f"n_{name}"] == oracle.n[k], (row["session_date"], name)
            # stored rounded to 4 decimals (sideways: the remainder of the rounded two)
            tolerance = 1.01e-4 if name == "sideways" else 0.51e-4
            assert row[f"clim_{name}"] == pytest.approx(oracle.clim[k], abs=tolerance)
            assert row[f"geo_{name}"] == pytest.approx(oracle.geo[k], abs=tolerance)
            assert row[f"base_{name}"] == pytest.approx(oracle.base[k], abs=tolerance)
        assert row["n_analogs"] == sum(oracle.n) and row["n_geometry"] == oracle.n_geometry
        checked += 1
    assert checked > 40
    # The evidence has content: analogs known, and geometry apart from climatology somewhere.
    assert calls["n_analogs"].max() > 50  # type: ignore[operator]
    assert (calls["geo_bull"] - calls["clim_bull"]).abs().max() > 0.05  # type: ignore[operator]


def test_v2_hashes_the_model_parameters_and_refuses_another_resolution_rule() -> None:
    from pipeline.analysis.v2.params import V2Params, params_hash

    other = dataclasses.replace(V2_BARRIER_PARAMS, daily_sd_atr=0.7)
    assert params_hash(V2Params(probability_model=other)) != params_hash(V2Params())
    published = V2Params().as_dict()["probability_model"]
    assert (published["daily_sd_atr"], published["barrier_shift_sd"]) == (0.6, 0.6)
    assert (published["drift_atr"], published["vol_regime_elasticity"]) == (0.02, 0.3)
    with pytest.raises(ValueError, match=r"probability_model.horizon_sessions is 10 but v2's"):
        V2Params(probability_model=dataclasses.replace(V2_BARRIER_PARAMS, horizon_sessions=10))
    with pytest.raises(ValueError, match=r"probability_model.acceptance_atr"):
        V2Params(acceptance_atr=0.2)
