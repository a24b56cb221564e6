"""Scenario resolution by first acceptance, and point-in-time base-rate probabilities."""

from __future__ import annotations

import math
from fractions import Fraction

import numpy as np
import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pipeline.analysis.params import AnalysisParams
from pipeline.analysis.scenarios import (
    BEAR,
    BULL,
    SIDEWAYS,
    UNRESOLVED,
    base_rate_probabilities,
    distance_bucket,
    first_acceptance,
    resolve_barriers,
    scenario_outcome,
    sessions_ahead,
)

UPPER, LOWER, THRESHOLD = 105.0, 95.0, 0.5  # acceptance: above 105.5 or below 94.5
H, N = 5, 2


def first_call(closes: list[float], *, threshold: float = THRESHOLD, horizon: int = H):
    """(outcome, steps) of the call made on the first session of ``closes``."""
    close = np.array(closes, dtype=float)
    n = close.size
    outcome, steps = resolve_barriers(
        close,
        np.full(n, UPPER),
        np.full(n, LOWER),
        np.full(n, threshold),
        horizon=horizon,
        sessions=N,
    )
    return int(outcome[0]), int(steps[0])


class TestResolveBarriers:
    def test_two_consecutive_settlements_above_accept(self) -> None:
        # above 105.5: T F T T F -> the first run of two ends on step 4
        assert first_call([100, 106, 104, 106, 107, 100]) == (BULL, 4)

    def test_beyond_means_by_more_than_the_threshold(self) -> None:
        # 105.5 is not above 105 + 0.5; 105.6 twice is, on steps 2 and 3.
        assert first_call([100, 105.5, 105.6, 105.6, 100, 100]) == (BULL, 3)
        # With a threshold of 0.6 nothing is beyond: sideways, settled at the horizon.
        assert first_call([100, 105.5, 105.6, 105.6, 100, 100], threshold=0.6) == (SIDEWAYS, H)

    def test_first_acceptance_wins(self) -> None:
        # Below 94.5 on steps 1-2, above 105.5 on steps 3-4: bear.
        assert first_call([100, 94, 94, 106, 106, 100]) == (BEAR, 2)
        assert first_call([100, 106, 106, 94, 94, 100]) == (BULL, 2)

    def test_single_settlements_beyond_are_not_acceptance(self) -> None:
        assert first_call([100, 106, 100, 94, 100, 106]) == (SIDEWAYS, H)

    def test_acceptance_must_complete_inside_the_horizon(self) -> None:
        assert first_call([100, 100, 100, 100, 106, 106]) == (BULL, 5)
        # One session later the second settlement falls outside the horizon of the first call,
        # but inside that of the second call.
        close = np.array([100, 100, 100, 100, 100, 106, 106], dtype=float)
        outcome, steps = resolve_barriers(
            close,
            np.full(7, UPPER),
            np.full(7, LOWER),
            np.full(7, THRESHOLD),
            horizon=H,
            sessions=N,
        )
        assert outcome.tolist() == [SIDEWAYS, BULL, *[UNRESOLVED] * 5]
        assert steps.tolist() == [H, 5, *[-1] * 5]

    def test_calls_without_a_full_horizon_or_barriers_are_unresolved(self) -> None:
        close = np.full(8, 100.0)
        upper, lower, thr = np.full(8, UPPER), np.full(8, LOWER), np.full(8, THRESHOLD)
        upper[0], lower[1], thr[2] = np.nan, np.nan, np.nan
        outcome, steps = resolve_barriers(close, upper, lower, thr, horizon=H, sessions=N)
        # Calls 0-2 lack a barrier or threshold; 3+ lack 5 sessions after them (8 rows).
        assert outcome.tolist() == [UNRESOLVED] * 8
        assert steps.tolist() == [-1] * 8
        # With every barrier in place, calls 0, 1 and 2 have their 5 sessions.
        outcome, _ = resolve_barriers(
            close,
            np.full(8, UPPER),
            np.full(8, LOWER),
            np.full(8, THRESHOLD),
            horizon=H,
            sessions=N,
        )
        assert outcome.tolist() == [SIDEWAYS] * 3 + [UNRESOLVED] * 5

    def test_each_call_uses_its_own_barriers(self) -> None:
        close = np.array([100, 101, 102, 103, 104, 105, 106, 107], dtype=float)
        upper = np.array([101.5, 200, 200, 200, 200, 200, 200, 200])
        lower = np.array([0, 101.5, 0, 0, 0, 0, 0, 0], dtype=float)
        outcome, steps = resolve_barriers(
            close, upper, lower, np.zeros(8), horizon=3, sessions=2
        )  # fmt: skip
        # Call 0: 102 and 103 above 101.5 -> bull on step 3. Call 1: never below 101.5 -> sideways.
        assert outcome[:2].tolist() == [BULL, SIDEWAYS]
        assert steps[:2].tolist() == [3, 3]


def test_sessions_ahead_by_hand() -> None:
    ahead = sessions_ahead(np.array([1.0, 2.0, 3.0, 4.0]), np.array([0, 2, 3]), horizon=2)
    np.testing.assert_array_equal(ahead, [[2.0, 3.0], [4.0, np.nan], [np.nan, np.nan]])
    with pytest.raises(ValueError, match="horizon must be >= 1, got 0"):
        sessions_ahead(np.ones(3), np.array([0]), horizon=0)


def test_first_acceptance_by_hand() -> None:
    beyond = np.array(
        [
            [False, True, True, True],
            [True, False, True, False],
            [True, True, True, False],
            [False, False, False, False],
        ]
    )
    assert first_acceptance(beyond, sessions=1).tolist() == [2, 1, 1, 5]
    assert first_acceptance(beyond, sessions=2).tolist() == [3, 5, 2, 5]
    assert first_acceptance(beyond, sessions=3).tolist() == [4, 5, 3, 5]
    with pytest.raises(ValueError, match="sessions must be >= 1, got 0"):
        first_acceptance(beyond, sessions=0)


def test_distance_bucket_edges() -> None:
    frame = pl.DataFrame({"d": [0.0, 0.99, 1.0, 2.49, 2.5, 7.0, None]})
    buckets = frame.select(distance_bucket(pl.col("d"), (1.0, 2.5)))[:, 0].to_list()
    assert buckets == [0, 0, 1, 1, 2, 2, None]


def slow_resolution(close, upper, lower, threshold, horizon, sessions):
    """The rule, one call and one session at a time."""
    outcomes, steps = [], []
    for i in range(len(close)):
        barriers = (upper[i], lower[i], threshold[i])
        if i + horizon >= len(close) or any(math.isnan(x) for x in barriers):
            outcomes.append(UNRESOLVED)
            steps.append(-1)
            continue
        above = below = 0
        result = (SIDEWAYS, horizon)
        for h in range(1, horizon + 1):
            c = close[i + h]
            above = above + 1 if c > upper[i] + threshold[i] else 0
            below = below + 1 if c < lower[i] - threshold[i] else 0
            if above >= sessions:
                result = (BULL, h)
                break
            if below >= sessions:
                result = (BEAR, h)
                break
        outcomes.append(result[0])
        steps.append(result[1])
    return outcomes, steps


@settings(max_examples=200, deadline=None)
@given(
    st.lists(st.integers(90, 110).map(float), min_size=1, max_size=30),
    st.integers(1, 6),
    st.integers(1, 3),
    st.data(),
)
def test_resolution_matches_the_slow_rule(closes, horizon, sessions, data) -> None:
    n = len(closes)
    # Barriers as calls make them: lower below upper, either may be missing.
    maybe_missing = st.one_of(st.integers(1, 10).map(float), st.just(math.nan))
    lower = data.draw(st.lists(st.integers(90, 110).map(float), min_size=n, max_size=n))
    lower_gaps = data.draw(st.lists(maybe_missing, min_size=n, max_size=n))
    upper_gaps = data.draw(st.lists(maybe_missing, min_size=n, max_size=n))
    upper = [low + gap for low, gap in zip(lower, upper_gaps, strict=True)]
    lower = [low + 0 * gap for low, gap in zip(lower, lower_gaps, strict=True)]  # nan stays nan
    threshold = data.draw(st.lists(st.sampled_from([0.0, 0.5, 1.0]), min_size=n, max_size=n))
    outcome, steps = resolve_barriers(
        np.array(closes),
        np.array(upper),
        np.array(lower),
        np.array(threshold),
        horizon=horizon,
        sessions=sessions,
    )
    expected = slow_resolution(closes, upper, lower, threshold, horizon, sessions)
    assert (outcome.tolist(), steps.tolist()) == expected


def test_driftless_random_walk_hits_the_upper_barrier_with_the_gamblers_ruin_odds() -> None:
    # DESIGN.md: with no drift, P(upper first) ~ (close - lower) / (upper - lower). Acceptance of
    # one session with no threshold is plain first passage. Unit Gaussian steps, barriers 15 above
    # and 5 below (p = 5 / 20 = 0.25), horizon 1000 sessions: the expected exit time is 5 * 15 = 75
    # and the chance of no exit by 1000 is ~exp(-pi^2 / (2 * 20^2) * 1000) < 1e-5: all resolve.
    # Tolerance: a discrete walk overshoots the barrier it crosses by ~0.58 step (Siegmund's
    # constant), which moves p to about (5 + 0.58) / (20 + 2 * 0.58) = 0.264 (bias 0.014), and
    # the standard error over 4000 walks is sqrt(0.25 * 0.75 / 4000) = 0.007: 0.014 + 3 * 0.007.
    walks, horizon, above, below = 4000, 1000, 15.0, 5.0
    rng = np.random.default_rng(20260204)
    paths = np.cumsum(rng.standard_normal((walks, horizon)), axis=1)  # steps 1..horizon after 0
    first_up = first_acceptance(paths > above, sessions=1)
    first_down = first_acceptance(paths < -below, sessions=1)
    outcome, _ = scenario_outcome(first_up, first_down, np.ones(walks, bool), horizon=horizon)
    assert (outcome == SIDEWAYS).mean() < 0.001
    assert (outcome == BULL).mean() == pytest.approx(below / (above + below), abs=0.035)
    # The same through resolve_barriers on one long walk: every session is a call with barriers
    # 15 above and 5 below its own close, horizon 300 (~97 % exit by then; only exits counted).
    # Overlapping calls share their paths: ~40 000 / 75 = 530 independent exits, standard error
    # ~0.019; tolerance 0.014 + 3 * 0.019 = 0.07.
    walk = np.cumsum(rng.standard_normal(40_000))
    outcome, _ = resolve_barriers(
        walk, walk + above, walk - below, np.zeros(walk.size), horizon=300, sessions=1
    )
    resolved = outcome[(outcome == BULL) | (outcome == BEAR)]
    assert resolved.size > 0.9 * (walk.size - 300)
    assert (resolved == BULL).mean() == pytest.approx(below / (above + below), abs=0.07)


# ---- Base rates --------------------------------------------------------------------------

SMALL = AnalysisParams(
    horizon_sessions=2,  # an analog on session t is known from t + 2
    shrinkage_strength=2.0,  # a: geometry -> climatology
    state_shrinkage_strength=4.0,  # a': state -> geometry
    climatology_prior_weight=3.0,  # one pseudo-count per scenario
)
F = Fraction


def table(rows: list[tuple[str | None, str | None, int]]) -> pl.DataFrame:
    return pl.DataFrame(
        rows,
        schema={"state_key": pl.String, "geometry_key": pl.String, "outcome": pl.Int64},
        orient="row",
    )


HAND_TABLE = table(
    [
        ("S1", "G1", BULL),  # 0: known from 2
        ("S1", "G1", BULL),  # 1: known from 3
        ("S2", "G1", BEAR),  # 2: known from 4
        (None, None, UNRESOLVED),  # 3: no call
        ("S2", "G2", SIDEWAYS),  # 4: known from 6
        ("S1", "G1", UNRESOLVED),  # 5
        ("S1", "G1", UNRESOLVED),  # 6
    ]
)
#: By hand, p = (n_k + a' g_k) / (n + a'), g = (m_k + a pi_k) / (m + a), pi = (t_k + 1) / (t + 3)
#: (bear, sideways, bull), with the analogs t <= d - 2.
HAND_EXPECTED = {
    # d=0: nothing known: pi = g = p = 1/3.
    0: ((F(1, 3),) * 3, (0, 0, 0), 0, (F(1, 3),) * 3),
    # d=2: row 0 (bull) known. pi = (1/4, 1/4, 2/4); G1 holds row 0: g = ((0 + 2/4) / 3,
    # (0 + 2/4) / 3, (1 + 1) / 3) = (1/6, 1/6, 2/3); S2 has no known analog: p = g.
    2: ((F(1, 6), F(1, 6), F(2, 3)), (0, 0, 0), 1, (F(1, 4), F(1, 4), F(1, 2))),
    # d=4: rows 0, 1, 2 known (bull, bull, bear). pi = (2/6, 1/6, 3/6); G2 empty: g = pi;
    # S2 holds row 2 (bear): p = ((1 + 4/3) / 5, (0 + 4/6) / 5, (0 + 4/2) / 5).
    4: ((F(7, 15), F(2, 15), F(6, 15)), (1, 0, 0), 0, (F(1, 3), F(1, 6), F(1, 2))),
    # d=5: same analogs; G1 holds 0, 1, 2: g = ((1 + 2/3) / 5, (0 + 1/3) / 5, (2 + 1) / 5)
    # = (1/3, 1/15, 3/5); S1 holds 0, 1 (bull, bull): p = ((0 + 4/3) / 6, (0 + 4/15) / 6,
    # (2 + 12/5) / 6) = (2/9, 2/45, 11/15).
    5: ((F(2, 9), F(2, 45), F(11, 15)), (0, 0, 2), 3, (F(1, 3), F(1, 6), F(1, 2))),
    # d=6: row 4 (sideways, known from 6) joins: pi = (2/7, 2/7, 3/7); G1 still 0, 1, 2:
    # g = ((1 + 4/7) / 5, (4/7) / 5, (2 + 6/7) / 5) = (11/35, 4/35, 20/35); S1: rows 0, 1:
    # p = ((44/35) / 6, (16/35) / 6, (2 + 80/35) / 6) = (44/210, 16/210, 150/210).
    6: ((F(44, 210), F(16, 210), F(150, 210)), (0, 0, 2), 3, (F(2, 7), F(2, 7), F(3, 7))),
}


@pytest.mark.parametrize("day", sorted(HAND_EXPECTED))
def test_base_rates_by_hand(day: int) -> None:
    probabilities, counts, n_geometry, climatology = HAND_EXPECTED[day]
    row = base_rate_probabilities(HAND_TABLE, params=SMALL).row(day, named=True)
    assert [row["p_bear"], row["p_sideways"], row["p_bull"]] == pytest.approx(
        [float(p) for p in probabilities], abs=1e-12
    )
    assert (row["n_bear"], row["n_sideways"], row["n_bull"]) == counts
    assert row["n_analogs"] == sum(counts)
    assert row["n_geometry"] == n_geometry
    assert [row["clim_bear"], row["clim_sideways"], row["clim_bull"]] == pytest.approx(
        [float(p) for p in climatology], abs=1e-12
    )


def test_only_analogs_whose_horizon_ended_count() -> None:
    rates = base_rate_probabilities(HAND_TABLE, params=SMALL)
    # Row 3 has no call; on rows 1 and 3, only t <= d - 2 is known: row 0 from d=2, row 1 from 3.
    assert rates["n_geometry"].to_list() == [0, 0, 1, None, 0, 3, 3]
    # A horizon of 1 makes each analog known one session earlier.
    faster = base_rate_probabilities(
        HAND_TABLE, params=AnalysisParams(**{**SMALL.as_dict(), "horizon_sessions": 1})
    )
    assert faster["n_geometry"].to_list() == [0, 1, 2, None, 0, 3, 3]


def test_rows_without_a_call_get_no_probabilities() -> None:
    row = base_rate_probabilities(HAND_TABLE, params=SMALL).row(3, named=True)
    keys = ("p_bear", "p_sideways", "p_bull", "n_analogs", "n_geometry", "clim_bull")
    assert all(row[key] is None for key in keys)


def slow_base_rates(rows, params: AnalysisParams) -> list[tuple[float, float, float] | None]:
    """The documented estimator, one session and one analog at a time, in exact fractions."""
    a = F(params.shrinkage_strength)
    a_state = F(params.state_shrinkage_strength)
    prior = F(params.climatology_prior_weight)
    out: list[tuple[float, float, float] | None] = []
    for d, (state, geometry, _) in enumerate(rows):
        if state is None:
            out.append(None)
            continue
        known = [
            r
            for t, r in enumerate(rows[: d + 1])
            if r[0] is not None and r[2] != UNRESOLVED and t + params.horizon_sessions <= d
        ]
        totals = [sum(r[2] == k for r in known) for k in (BEAR, SIDEWAYS, BULL)]
        pi = [(c + prior / 3) / (len(known) + prior) for c in totals]
        same_geometry = [r for r in known if r[1] == geometry]
        m = [sum(r[2] == k for r in same_geometry) for k in (BEAR, SIDEWAYS, BULL)]
        g = [(m[k] + a * pi[k]) / (len(same_geometry) + a) for k in range(3)]
        same_state = [r for r in known if r[0] == state]
        n = [sum(r[2] == k for r in same_state) for k in (BEAR, SIDEWAYS, BULL)]
        p = [float((n[k] + a_state * g[k]) / (len(same_state) + a_state)) for k in range(3)]
        out.append((p[0], p[1], p[2]))
    return out


analog_row = st.one_of(
    st.tuples(st.none(), st.none(), st.just(UNRESOLVED)),
    st.tuples(
        st.sampled_from(["A|x", "B|x", "A|y"]),
        st.sampled_from(["x", "y"]),
        st.sampled_from([BEAR, SIDEWAYS, BULL, UNRESOLVED]),
    ).map(lambda r: (r[0], r[0].split("|")[1], r[2])),
)


@settings(max_examples=150, deadline=None)
@given(
    st.lists(analog_row, min_size=1, max_size=40),
    st.integers(1, 5),
    st.sampled_from([1.0, 20.0]),
    st.sampled_from([2.0, 60.0]),
)
def test_base_rates_match_the_slow_estimator_and_are_probabilities(rows, horizon, a, a_state):
    params = AnalysisParams(
        horizon_sessions=horizon, shrinkage_strength=a, state_shrinkage_strength=a_state
    )
    rates = base_rate_probabilities(table(rows), params=params)
    got = rates.select("p_bear", "p_sideways", "p_bull").rows()
    for actual, expected in zip(got, slow_base_rates(rows, params), strict=True):
        if expected is None:
            assert actual == (None, None, None)
            continue
        assert actual == pytest.approx(expected, abs=1e-12)
        assert sum(actual) == pytest.approx(1.0, abs=1e-12)
        assert all(0 < p < 1 for p in actual)
