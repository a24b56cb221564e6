"""Scenario probabilities for methodology v2: barrier geometry, drift, volatility regime.

Each call has three ordered scenarios resolved over ``H`` sessions by first acceptance above the
upper barrier (bull) or below the lower one (bear), else sideways
(:func:`pipeline.analysis.scenarios.resolve_barriers`). The probabilities of a call on session
``t`` come in three layers, all point-in-time:

1. **Brownian geometry.** The close is treated as a random walk with a drift (``drift_atr`` ATR
   per session plus, by default, the mean daily close change of the last ``drift_window``
   sessions, in ATR) and a daily standard deviation of ``sigma = daily_sd_atr * ATR14``, scaled
   by the volatility regime: ``sigma *= (ATR% / its rolling mean) ** -vol_regime_elasticity``
   (an ATR swollen above its one-year norm overstates the sessions ahead: volatility
   mean-reverts). The distances to the barriers plus the acceptance margin, in units of
   ``sigma`` and widened by ``barrier_shift_sd`` (a continuity correction for daily settlements
   and the two-session acceptance), go into the exact exit probabilities of Brownian motion with
   drift between two barriers within ``H - (acceptance_sessions - 1)`` sessions
   (:func:`brownian_exit_probabilities`). Nothing here is fitted to outcomes: the numbers
   (drift window, daily sd per ATR, volatility elasticity, barrier shift) were chosen on calls
   resolved before 2015.
2. **Fitted layer** (``fit_layer``; off by default, see below). A multinomial logit with the
   Brownian log-probabilities as offset: ``log p_k = log b_k + z . beta_k - log-normaliser``
   (sideways the reference), ``z`` = an intercept and the chosen state features, standardised
   on the training calls. The coefficients have a Gaussian prior centred on 0
   (``coefficient_prior_sd``), so with little evidence the layer stays at the Brownian
   geometry. It is refitted every ``refit_sessions`` sessions (at table rows 0, R, 2R, ...) on
   the calls whose horizon had fully elapsed by then (call ``t`` counts from row ``t + H``),
   each weighted ``1 / H`` because overlapping horizons make about one independent outcome per
   ``H`` calls; rows up to the next refit use those coefficients. Before
   ``min_training_calls`` such calls exist it is off. On ES, NQ and YM before 2015 neither the
   layer (intercepts, whatever the prior) nor any state feature on offer (FEATURE_COLUMNS:
   distance to the 200-day, its slope, 20-session momentum, RSI, ADX, range, volatility
   regime, relative strength; MODEL_FEATURES) improved on the Brownian geometry with drift and
   volatility regime, so the published model does not fit it.
3. **Geometry base rates** (evidence, and the reference the audit scores against): the
   frequency of each outcome among past calls with the same barrier-distance buckets, shrunk
   toward the expanding climatology: the definition of the audit's "barrier geometry"
   reference (:func:`pipeline.audit.calibration.reference_forecasts`), counted in table rows.

Causality: every input of row ``D`` comes from rows ``<= D``, and the coefficients used on row
``D`` from outcomes known by the last refit at or before ``D``, so row ``D`` of
``scenario_probabilities(table)`` equals the last row of ``scenario_probabilities(table[:D+1])``
(tested). The parameters (:mod:`pipeline.analysis.probability_params`): the defaults are the
variant chosen on ES, NQ and YM before 2015 on v1's barriers, V2_BARRIER_PARAMS the one chosen on
v2's, which v2 publishes with (bench/bench_probability_model.py; bench/RESULTS.md,
"Probability model v2 (real files)" and "Probability model v2 (real files, v2 barriers)").
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np
import polars as pl

from pipeline.analysis import indicators as ind
from pipeline.analysis.climatology import expanding_climatology, expanding_counts, shrunk
from pipeline.analysis.probability_params import ProbabilityParams
from pipeline.analysis.scenarios import (
    BEAR,
    BULL,
    SIDEWAYS,
    UNRESOLVED,
    distance_bucket,
    geometry_key,
)

SCENARIO_NAMES: tuple[str, ...] = ("bear", "sideways", "bull")
#: Largest tail of the exit-probability series left out (probability units).
SERIES_REMAINDER = 1e-10
#: Smallest barrier distance fed to the series (sd): a close exactly at a barrier, no shift.
MIN_DISTANCE_SD = 1e-9
#: Newton step halving: accept a step that lowers the objective by at most this (rounding), and
#: give up halving below this step fraction.
ASCENT_SLACK = 1e-12
MIN_STEP_FRACTION = 1e-6
#: Input columns every call table needs (more for the chosen features, see FEATURE_COLUMNS).
REQUIRED_COLUMNS: tuple[str, ...] = (
    "session_date",
    "close",
    "raw_close",
    "atr14",
    "upper_internal",
    "lower_internal",
    "outcome",
    "has_call",
)


class ProbabilityInputError(ValueError):
    pass


# --------------------------------------------------------------------------------------------
# Brownian geometry
# --------------------------------------------------------------------------------------------


def brownian_exit_probabilities(
    up: np.ndarray,
    down: np.ndarray,
    *,
    duration: float,
    drift: np.ndarray | float = 0.0,
    terms: int = 64,
) -> np.ndarray:
    """Exit probabilities of a Brownian motion started at 0 between -down and +up.

    Returns shape ``(n, 3)``: P(exit through -down first, by ``duration``), P(no exit by then),
    P(exit through +up first, by then). Units: the motion has variance 1 per unit of time
    (distances in sd per session, ``duration`` in sessions) and ``drift`` per unit of time (sd
    per session, > 0 toward +up). With ``w = up + down``, ``x = down`` (the start, measured from
    the lower barrier), ``l_n = n^2 pi^2 / (2 w^2) + drift^2 / 2`` (the heat equation on
    ``[0, w]`` solved by a sine series, the drift by Girsanov's factor ``exp(drift (y - x))``)::

        P(up first by t) = P(up first ever)
            - exp(drift up) pi / w^2 sum_n n (-1)^(n+1) sin(n pi x / w) exp(-l_n t) / l_n
        P(up first ever) = (1 - exp(-2 drift x)) / (1 - exp(-2 drift w))    (x / w without drift)

    and the mirror for down (``x -> up``, ``drift -> -drift``). Raises if ``terms`` leave a
    remainder above SERIES_REMAINDER (barriers too far apart for the number of terms).

    >>> probs = brownian_exit_probabilities(np.array([1.0, 3.0]), np.array([3.0, 3.0]), duration=1e6)
    >>> probs.round(6).tolist()  # long horizon: gambler's ruin, P(up first) = down / (up + down)
    [[0.25, 0.0, 0.75], [0.5, 0.0, 0.5]]
    >>> drifting = brownian_exit_probabilities(np.array([2.0]), np.array([2.0]), duration=1e6, drift=0.25)
    >>> drifting.round(6).tolist()  # (1 - e^-1) / (1 - e^-2) up first
    [[0.268941, 0.0, 0.731059]]
    """
    up = np.asarray(up, dtype=np.float64)
    down = np.asarray(down, dtype=np.float64)
    if up.shape != down.shape or up.ndim != 1:
        raise ValueError(f"up and down must be 1-D and alike, got {up.shape} and {down.shape}")
    bad = ~((up > 0) & (down > 0) & np.isfinite(up) & np.isfinite(down))
    if bad.any():
        row = int(np.flatnonzero(bad)[0])
        raise ValueError(
            f"barrier distances must be positive and finite: row {row} has up {up[row]}, "
            f"down {down[row]}"
        )
    if not duration > 0:
        raise ValueError(f"duration must be positive, got {duration}")
    mu = np.broadcast_to(np.asarray(drift, dtype=np.float64), up.shape)
    if not np.isfinite(mu).all():
        raise ValueError("drift must be finite")
    if up.size == 0:
        return np.empty((0, 3))
    width = up + down
    remainder = math.exp(
        -((terms + 1) ** 2) * math.pi**2 * duration / (2 * float(width.max()) ** 2)
    ) * math.exp(float(np.abs(mu * width).max()))
    if remainder > SERIES_REMAINDER:
        raise ValueError(
            f"{terms} series terms are too few for barriers {float(width.max()):.1f} sd apart "
            f"over {duration} sessions (remainder {remainder:.1e}); raise series_terms or "
            "lower distance_cap_sd"
        )
    up_first = _first_exit(up, down, mu, duration, terms)
    down_first = _first_exit(down, up, -mu, duration, terms)
    up_first, down_first = np.clip(up_first, 0, 1), np.clip(down_first, 0, 1)
    inside = np.clip(1 - up_first - down_first, 0, 1)
    return np.column_stack([down_first, inside, up_first])


def _first_exit(
    near: np.ndarray, far: np.ndarray, mu: np.ndarray, duration: float, terms: int
) -> np.ndarray:
    """P(exit through the barrier ``near`` away, before the one ``far`` away on the other side,
    by ``duration``), drift ``mu`` toward ``near`` (see brownian_exit_probabilities)."""
    width = near + far
    with np.errstate(divide="ignore", invalid="ignore"):
        ever = np.where(
            np.abs(mu) * width < 1e-12,
            far / width,
            np.expm1(-2 * mu * far) / np.expm1(-2 * mu * width),
        )
    n = np.arange(1, terms + 1, dtype=np.float64)[None, :]
    rate = n**2 * math.pi**2 / (2 * width[:, None] ** 2) + mu[:, None] ** 2 / 2
    series = (
        n * (-1.0) ** (n + 1) * np.sin(n * math.pi * far[:, None] / width[:, None])
        * np.exp(-rate * duration) / rate
    ).sum(axis=1)  # fmt: skip
    return ever - np.exp(mu * near) * math.pi / width**2 * series


def vol_regime(*, window: int) -> pl.Expr:
    """ln(ATR% / its rolling mean over ``window`` sessions): > 0 when the ATR is high for its year.

    ATR% = atr14 / raw_close, the front contract's own price (a difference-adjusted close drifts
    away from it over the years). Causal; early rows use the sessions available so far.
    """
    log_atr_pct = (pl.col("atr14") / pl.col("raw_close")).log()
    return log_atr_pct - log_atr_pct.rolling_mean(window, min_samples=1)


def daily_sd_in_atr(table: pl.DataFrame, *, params: ProbabilityParams) -> np.ndarray:
    """Per row, the daily sd of the close assumed for the Brownian geometry, in ATR14 units."""
    regime = table.select(vol_regime(window=params.vol_regime_window).alias("v"))["v"]
    capped = np.clip(
        regime.fill_null(0.0).fill_nan(0.0).to_numpy(),
        -params.vol_regime_cap,
        params.vol_regime_cap,
    )
    return params.daily_sd_atr * np.exp(-params.vol_regime_elasticity * capped)


def drift_in_atr(table: pl.DataFrame, *, params: ProbabilityParams) -> np.ndarray:
    """Per row, the drift of the close per session assumed by the Brownian geometry (ATR).

    ``drift_atr``, plus the mean of ``(close - previous close) / previous ATR14`` over the last
    ``drift_window`` sessions if that is positive (causal; early rows average what exists).
    """
    drift = np.full(table.height, params.drift_atr)
    if params.drift_window > 0:
        change = (pl.col("close") - pl.col("close").shift(1)) / pl.col("atr14").shift(1)
        mean = table.select(change.rolling_mean(params.drift_window, min_samples=1).alias("m"))
        drift += mean["m"].fill_null(0.0).fill_nan(0.0).to_numpy()
    return drift


def barrier_distances_atr(table: pl.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """(upper - close) / ATR and (close - lower) / ATR per row (NaN where there is no call)."""
    atr = pl.col("atr14")
    frame = table.select(
        ((pl.col("upper_internal") - pl.col("close")) / atr).alias("up"),
        ((pl.col("close") - pl.col("lower_internal")) / atr).alias("down"),
    )
    return (
        frame["up"].fill_null(np.nan).to_numpy().astype(np.float64),
        frame["down"].fill_null(np.nan).to_numpy().astype(np.float64),
    )


def brownian_scenarios(
    up_atr: np.ndarray,
    down_atr: np.ndarray,
    sd_atr: np.ndarray,
    *,
    params: ProbabilityParams,
    drift_atr: np.ndarray | float = 0.0,
) -> np.ndarray:
    """Brownian (bear, sideways, bull) for barrier distances and daily sd, all in ATR.

    A close already beyond a barrier counts as at it (distance 0) before the acceptance margin
    and the continuity correction are added.

    >>> p = ProbabilityParams(daily_sd_atr=1.0, barrier_shift_sd=0.0, acceptance_atr=0.0,
    ...                       horizon_sessions=10**6)
    >>> brownian_scenarios(np.array([1.0]), np.array([3.0]), np.array([1.0]), params=p).round(4).tolist()
    [[0.25, 0.0, 0.75]]
    """
    cap = params.distance_cap_sd

    def effective(distance: np.ndarray) -> np.ndarray:
        sd = (np.maximum(distance, 0) + params.acceptance_atr) / sd_atr + params.barrier_shift_sd
        return np.clip(sd, MIN_DISTANCE_SD, cap)

    return brownian_exit_probabilities(
        effective(up_atr),
        effective(down_atr),
        duration=params.effective_horizon,
        drift=np.asarray(drift_atr) / sd_atr,
        terms=params.series_terms,
    )


# --------------------------------------------------------------------------------------------
# Geometry base rates (the audit's reference)
# --------------------------------------------------------------------------------------------


def geometry_keys(
    up_atr: np.ndarray, down_atr: np.ndarray, *, params: ProbabilityParams
) -> list[str | None]:
    """The barrier-distance cell of each row, as in v1's analog state ("up1|down2")."""
    frame = pl.DataFrame({"up": up_atr, "down": down_atr}).fill_nan(None)
    edges = params.distance_edges_atr
    key = geometry_key(distance_bucket(pl.col("up"), edges), distance_bucket(pl.col("down"), edges))
    return frame.select(key.alias("key"))["key"].to_list()


def geometry_base_rates(
    keys: list[str | None], outcome: np.ndarray, *, params: ProbabilityParams
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Point-in-time climatology, geometry base rates (both ``(n, 3)``) and geometry analog counts.

    Row ``i`` counts the calls ``t`` with a resolved outcome and ``t + H <= i`` (one row per
    session), as the audit's reference does with its dates: climatology
    ``(n_k + w / 3) / (n + w)`` and geometry ``(m_k + a * clim_k) / (m + a)`` over the calls of
    the same cell. Rows without a key get NaN.
    """
    n = len(keys)
    index = np.arange(n, dtype=np.int64)
    has_key = np.array([k is not None for k in keys], dtype=bool)
    resolved = has_key & (outcome >= 0)
    never = np.full(n, n + params.horizon_sessions + 1, dtype=np.int64)  # known after the table
    known_from = np.where(resolved, index + params.horizon_sessions, never)
    counted_outcome = np.where(resolved, outcome, SIDEWAYS).astype(np.int64)
    climatology = expanding_climatology(
        index, known_from, counted_outcome, prior_weight=params.climatology_prior_weight
    )
    cell = np.array([k if k is not None else "" for k in keys], dtype=object)
    counts = expanding_counts(index, known_from, counted_outcome, cell).astype(np.float64)
    a = params.geometry_shrinkage
    analogs = counts.sum(axis=1)
    geometry = shrunk(counts, a * climatology, a)
    geometry[~has_key] = np.nan
    climatology[~has_key] = np.nan
    return climatology, geometry, np.where(has_key, analogs, np.nan)


# --------------------------------------------------------------------------------------------
# State features
# --------------------------------------------------------------------------------------------


def _relative_strength(table: pl.DataFrame) -> pl.Expr:
    spreads = [c for c in table.columns if c.startswith("rs_") and c.endswith("_spread_20")]
    if not spreads:
        raise ProbabilityInputError(
            "feature relative_strength needs rs_<PEER>_spread_20 columns (call_table with peers)"
        )
    return pl.mean_horizontal(*spreads)


#: State feature -> (input columns it reads, builder). Units: trend_200 ATR (close - SMA200);
#: slope_200 ATR per trend_slope_sessions; momentum ATR (close change over momentum_sessions);
#: rsi RSI points above 50; adx ADX points; range ATR (high-low span over range_sessions);
#: vol_regime ln(ATR% / its rolling mean); relative_strength fraction (mean 20-session return
#: spread over the peers).
FEATURE_COLUMNS: dict[str, tuple[str, ...]] = {
    "trend_200": ("close", "sma200", "atr14"),
    "slope_200": ("sma200", "atr14"),
    "momentum": ("close", "atr14"),
    "rsi": ("rsi14",),
    "adx": ("adx14",),
    "range": ("high", "low", "atr14"),
    "vol_regime": ("atr14", "raw_close"),
    "relative_strength": (),
}
#: Features computed from the geometry layers rather than read from the table: the Brownian
#: log-odds (a calibration slope) and the log ratio of the geometry base rate to the Brownian.
MODEL_FEATURES: tuple[str, ...] = ("brownian_logodds", "geometry_rate")


def _table_feature(name: str, table: pl.DataFrame, params: ProbabilityParams) -> pl.Expr:
    atr = pl.col("atr14")
    builders: dict[str, Callable[[], pl.Expr]] = {
        "trend_200": lambda: (pl.col("close") - pl.col("sma200")) / atr,
        "slope_200": lambda: ind.change("sma200", lookback=params.trend_slope_sessions) / atr,
        "momentum": lambda: ind.change("close", lookback=params.momentum_sessions) / atr,
        "rsi": lambda: pl.col("rsi14") - 50,
        "adx": lambda: pl.col("adx14"),
        "range": lambda: (
            (
                ind.rolling_high("high", params.range_sessions)
                - ind.rolling_low("low", params.range_sessions)
            )
            / atr
        ),
        "vol_regime": lambda: vol_regime(window=params.vol_regime_window),
        "relative_strength": lambda: _relative_strength(table),
    }
    return builders[name]()


def feature_matrix(
    table: pl.DataFrame, *, params: ProbabilityParams, brownian: np.ndarray, geometry: np.ndarray
) -> tuple[np.ndarray, list[str]]:
    """The chosen features as raw (unstandardised) columns, NaN where undefined, and their names."""
    columns: list[np.ndarray] = []
    names: list[str] = []
    for name in params.features:
        if name == "brownian_logodds":
            log_b = np.log(brownian)
            columns += [log_b[:, BEAR] - log_b[:, SIDEWAYS], log_b[:, BULL] - log_b[:, SIDEWAYS]]
            names += ["brownian_logodds_bear", "brownian_logodds_bull"]
        elif name == "geometry_rate":
            columns += [np.log(geometry[:, k] / brownian[:, k]) for k in (BEAR, BULL)]
            names += ["geometry_rate_bear", "geometry_rate_bull"]
        else:
            value = table.select(_table_feature(name, table, params).alias("f"))["f"]
            columns.append(value.cast(pl.Float64).fill_null(np.nan).to_numpy())
            names.append(name)
    if not columns:
        return np.empty((table.height, 0)), []
    return np.column_stack(columns), names


# --------------------------------------------------------------------------------------------
# Fitted layer: multinomial logit with an offset and a Gaussian prior
# --------------------------------------------------------------------------------------------


def logit_probabilities(
    design: np.ndarray, coefficients: np.ndarray, offset: np.ndarray
) -> np.ndarray:
    """softmax(offset + [design @ beta_bear, 0, design @ beta_bull]) per row, shape ``(n, 3)``."""
    bear = offset[:, BEAR] + design @ coefficients[:, 0]
    sideways = offset[:, SIDEWAYS]
    bull = offset[:, BULL] + design @ coefficients[:, 1]
    top = np.maximum(np.maximum(bear, sideways), bull)
    probs = np.column_stack([np.exp(bear - top), np.exp(sideways - top), np.exp(bull - top)])
    return probs / probs.sum(axis=1, keepdims=True)


def penalised_log_likelihood(
    design: np.ndarray,
    outcome: np.ndarray,
    offset: np.ndarray,
    coefficients: np.ndarray,
    *,
    weight: float | np.ndarray,
    prior_sd: float,
) -> float:
    """``sum_i weight_i ln p_i(outcome_i) - sum(beta^2) / (2 prior_sd^2)``: what the fit
    maximises (``weight`` one number for every call, or one per call)."""
    probs = logit_probabilities(design, coefficients, offset)
    return _objective(probs, outcome, coefficients, weight=weight, prior_sd=prior_sd)


def _objective(
    probs: np.ndarray,
    outcome: np.ndarray,
    coefficients: np.ndarray,
    *,
    weight: float | np.ndarray,
    prior_sd: float,
) -> float:
    log_lik = (weight * np.log(probs[np.arange(len(outcome)), outcome])).sum()
    return float(log_lik - (coefficients**2).sum() / (2 * prior_sd**2))


def fit_logit(
    design: np.ndarray,
    outcome: np.ndarray,
    offset: np.ndarray,
    *,
    weight: float | np.ndarray,
    prior_sd: float,
    start: np.ndarray | None = None,
    iterations: int = 50,
    tolerance: float = 1e-7,
) -> np.ndarray:
    """Maximise :func:`penalised_log_likelihood` by Newton's method; returns ``(k, 2)``
    coefficients (bear, bull; sideways is the reference).

    The objective is strictly concave (the prior), so Newton with step halving converges to its
    single maximum from any start. ``design``: ``(n, k)``; ``outcome``: 0/1/2; ``offset``:
    ``(n, 3)`` log-probabilities of the reference forecast.
    """
    k = design.shape[1]
    coefficients = np.zeros((k, 2)) if start is None else start.copy()
    is_bear, is_bull = (outcome == BEAR).astype(np.float64), (outcome == BULL).astype(np.float64)
    precision = 1 / prior_sd**2
    probs = logit_probabilities(design, coefficients, offset)
    current = _objective(probs, outcome, coefficients, weight=weight, prior_sd=prior_sd)
    for _ in range(iterations):
        p_bear, p_bull = probs[:, BEAR], probs[:, BULL]
        gradient = np.concatenate(
            [design.T @ (weight * (is_bear - p_bear)), design.T @ (weight * (is_bull - p_bull))]
        ) - precision * coefficients.T.reshape(-1)
        h_bear = design.T @ (design * (weight * p_bear * (1 - p_bear))[:, None])
        h_bull = design.T @ (design * (weight * p_bull * (1 - p_bull))[:, None])
        h_cross = -design.T @ (design * (weight * p_bear * p_bull)[:, None])
        hessian = np.block([[h_bear, h_cross], [h_cross, h_bull]]) + precision * np.eye(2 * k)
        step = np.linalg.solve(hessian, gradient).reshape(2, k).T
        scale = 1.0
        while True:
            candidate = coefficients + scale * step
            candidate_probs = logit_probabilities(design, candidate, offset)
            value = _objective(
                candidate_probs, outcome, candidate, weight=weight, prior_sd=prior_sd
            )
            if value >= current - ASCENT_SLACK or scale < MIN_STEP_FRACTION:
                break
            scale /= 2
        coefficients, probs, current = candidate, candidate_probs, value
        if np.abs(scale * step).max() < tolerance:
            break
    return coefficients


@dataclass(frozen=True)
class _Fit:
    coefficients: np.ndarray
    mean: np.ndarray
    sd: np.ndarray
    calls: int
    row: int


def _standardised(raw: np.ndarray, fit: _Fit, cap: float) -> np.ndarray:
    z = np.clip((raw - fit.mean) / fit.sd, -cap, cap)
    return np.column_stack([np.ones(len(raw)), np.nan_to_num(z, nan=0.0)])


class TrainingCalls(NamedTuple):
    """Resolved calls the fitted layer may learn from, each with the table row from which its
    outcome is known (a call on row ``t`` of its own table: ``t + H``)."""

    raw: np.ndarray  # (m, k) raw features
    outcome: np.ndarray  # (m,) 0/1/2
    offset: np.ndarray  # (m, 3) log Brownian probabilities
    known_row: np.ndarray  # (m,) int


def _training_weights(known_row: np.ndarray, row: int, params: ProbabilityParams) -> np.ndarray:
    """1 / H per call (overlapping horizons: about one independent outcome per H calls), halved
    every ``training_half_life_sessions`` since the call became known (no decay if None)."""
    weight = np.full(len(known_row), 1 / params.horizon_sessions)
    if params.training_half_life_sessions is not None:
        weight *= 0.5 ** ((row - known_row) / params.training_half_life_sessions)
    return weight


def _refit(
    calls: TrainingCalls,
    train: np.ndarray,
    row: int,
    previous: _Fit | None,
    params: ProbabilityParams,
) -> _Fit:
    raw = calls.raw[train]
    mean = np.zeros(raw.shape[1])
    sd = np.ones(raw.shape[1])
    if raw.shape[1]:
        with np.errstate(all="ignore"):
            mean = np.nan_to_num(np.nanmean(raw, axis=0))
            sd = np.nan_to_num(np.nanstd(raw, axis=0), nan=1.0)
        sd = np.where(sd > 0, sd, 1.0)
    scaffold = _Fit(np.zeros((raw.shape[1] + 1, 2)), mean, sd, int(train.sum()), row)
    coefficients = fit_logit(
        _standardised(raw, scaffold, params.feature_cap_sd),
        calls.outcome[train],
        calls.offset[train],
        weight=_training_weights(calls.known_row[train], row, params),
        prior_sd=params.coefficient_prior_sd,
        start=previous.coefficients if previous is not None else None,
        iterations=params.newton_iterations,
        tolerance=params.newton_tolerance,
    )
    return dataclasses.replace(scaffold, coefficients=coefficients)


def point_in_time_layer(
    raw: np.ndarray,
    outcome: np.ndarray,
    has_call: np.ndarray,
    offset: np.ndarray,
    *,
    params: ProbabilityParams,
    pool: TrainingCalls | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Probabilities of the fitted layer for every row, the training calls and the refit row.

    Refits at rows 0, R, 2R, ... on the calls resolved and known by then (``t + H <= row``),
    plus the ``pool`` calls (e.g. other roots') known by then; the rows of each period use that
    period's fit. No fit (the offset itself, 0 calls, row -1) while fewer than
    ``min_training_calls`` calls are known.
    """
    n = len(outcome)
    index = np.arange(n)
    resolved = has_call & (outcome >= 0)
    calls = TrainingCalls(
        raw[resolved],
        outcome[resolved],
        offset[resolved],
        index[resolved] + params.horizon_sessions,
    )
    if pool is not None:
        calls = TrainingCalls(
            *(np.concatenate([mine, theirs]) for mine, theirs in zip(calls, pool, strict=True))
        )
    probs = np.exp(offset - offset.max(axis=1, keepdims=True))
    probs /= probs.sum(axis=1, keepdims=True)
    fitted_calls = np.zeros(n, dtype=np.int64)
    fitted_row = np.full(n, -1, dtype=np.int64)
    fit: _Fit | None = None
    for row in range(0, n if params.fit_layer else 0, params.refit_sessions):
        train = calls.known_row <= row
        if train.sum() >= params.min_training_calls:
            fit = _refit(calls, train, row, fit, params)
        if fit is None:
            continue
        period = slice(row, min(row + params.refit_sessions, n))
        design = _standardised(raw[period], fit, params.feature_cap_sd)
        probs[period] = logit_probabilities(design, fit.coefficients, offset[period])
        fitted_calls[period] = fit.calls
        fitted_row[period] = fit.row
    return probs, fitted_calls, fitted_row


# --------------------------------------------------------------------------------------------
# The call table
# --------------------------------------------------------------------------------------------


def _check_table(table: pl.DataFrame, params: ProbabilityParams) -> None:
    needed = list(REQUIRED_COLUMNS)
    for name in params.features:
        if name in MODEL_FEATURES:
            continue
        if name not in FEATURE_COLUMNS:
            known = ", ".join([*FEATURE_COLUMNS, *MODEL_FEATURES])
            raise ProbabilityInputError(f"unknown feature {name!r} (known: {known})")
        needed += [c for c in FEATURE_COLUMNS[name] if c not in needed]
    missing = [c for c in needed if c not in table.columns]
    if missing:
        raise ProbabilityInputError(f"call table lacks column(s) {', '.join(missing)}")
    if table.height and not table["session_date"].is_sorted():
        raise ProbabilityInputError("call table must be sorted by session_date")
    calls = table.with_row_index("row").filter(pl.col("has_call"))
    bad = calls.filter(
        ~(pl.col("atr14") > 0)
        | pl.any_horizontal(
            pl.col("close", "raw_close", "upper_internal", "lower_internal").is_null()
        )
        | pl.col("atr14").is_null()
    )
    if bad.height:
        raise ProbabilityInputError(
            f"call on {bad['session_date'][0]} (row {bad['row'][0]}) lacks a positive atr14, a "
            "close, a raw_close or a barrier"
        )
    outcome = table["outcome"].fill_null(UNRESOLVED)
    invalid = table.with_row_index("row").filter(~outcome.is_in([UNRESOLVED, BEAR, SIDEWAYS, BULL]))
    if invalid.height:
        raise ProbabilityInputError(
            f"outcome on {invalid['session_date'][0]} (row {invalid['row'][0]}) is "
            f"{invalid['outcome'][0]}: expected -1 (unresolved), 0, 1 or 2"
        )


def _published(
    probs: np.ndarray, has_call: np.ndarray, decimals: int, prefix: str
) -> list[pl.Series]:
    """Bear and bull rounded, sideways the remainder (the three add up to 1); null off calls."""
    bear = np.round(probs[:, BEAR], decimals)
    bull = np.round(probs[:, BULL], decimals)
    sideways = np.round(1 - bear - bull, decimals)
    return [
        pl.Series(
            f"{prefix}_{name}", np.where(has_call, values, np.nan), dtype=pl.Float64
        ).fill_nan(None)
        for name, values in zip(SCENARIO_NAMES, (bear, sideways, bull), strict=True)
    ]


#: Output columns added to the call table: probabilities in [0, 1] (rounded to
#: ``probability_decimals``, each triple adding up to 1), counts in calls, sd in ATR14, the refit
#: session as a CME trade date; null on rows without a call.
OUTPUT_COLUMNS: dict[str, str] = {
    "p_bear": "published probability of the bear scenario (4 decimals; the three add up to 1)",
    "p_sideways": "... of the sideways scenario",
    "p_bull": "... of the bull scenario",
    "geo_bear": "geometry base rate of bear: past calls with the same barrier-distance buckets",
    "geo_sideways": "... of sideways",
    "geo_bull": "... of bull",
    "n_geometry": "resolved calls in the geometry cell known by the as-of day (analog count)",
    "geometry_key": "the barrier-distance cell, e.g. 'up1|down2' (buckets of distance_edges_atr)",
    "clim_bear": "expanding climatology of bear (all resolved calls known by then)",
    "clim_sideways": "... of sideways",
    "clim_bull": "... of bull",
    "bm_bear": "Brownian geometry probability of bear (before the fitted layer)",
    "bm_sideways": "... of sideways",
    "bm_bull": "... of bull",
    "daily_sd_atr": "daily sd of the close assumed by the Brownian geometry, in ATR14",
    "drift_atr": "drift of the close per session assumed by the Brownian geometry, in ATR14",
    "model_calls": "resolved calls the fitted layer was fitted on (0: Brownian geometry alone)",
    "model_as_of": "session of the refit whose coefficients apply (null: Brownian alone)",
}


class ModelInputs(NamedTuple):
    """Everything the fitted layer needs from one call table, per row."""

    session_date: pl.Series
    has_call: np.ndarray  # bool
    outcome: np.ndarray  # -1 unresolved, 0/1/2
    sd_atr: np.ndarray  # daily sd of the Brownian geometry (ATR)
    drift_atr: np.ndarray  # drift per session of the Brownian geometry (ATR)
    brownian: np.ndarray  # (n, 3), floored
    keys: list[str | None]  # geometry cells
    climatology: np.ndarray  # (n, 3), NaN off calls
    geometry: np.ndarray  # (n, 3), NaN off calls
    analogs: np.ndarray  # geometry analog counts, NaN off calls
    raw: np.ndarray  # (n, k) raw features


def model_inputs(table: pl.DataFrame, *, params: ProbabilityParams) -> ModelInputs:
    """The Brownian geometry, geometry base rates and raw features of one call table."""
    _check_table(table, params)
    has_call = table["has_call"].fill_null(False).to_numpy().astype(bool)
    outcome = table["outcome"].fill_null(UNRESOLVED).to_numpy().astype(np.int64)
    up_atr, down_atr = barrier_distances_atr(table)
    sd_atr = daily_sd_in_atr(table, params=params)
    brownian = np.full((table.height, 3), 1 / 3)
    drift = drift_in_atr(table, params=params)
    brownian[has_call] = brownian_scenarios(
        up_atr[has_call],
        down_atr[has_call],
        sd_atr[has_call],
        params=params,
        drift_atr=drift[has_call],
    )
    brownian = np.maximum(brownian, params.probability_floor)
    brownian /= brownian.sum(axis=1, keepdims=True)
    keys = geometry_keys(
        np.where(has_call, up_atr, np.nan), np.where(has_call, down_atr, np.nan), params=params
    )
    climatology, geometry, analogs = geometry_base_rates(keys, outcome, params=params)
    raw, _ = feature_matrix(
        table,
        params=params,
        brownian=brownian,
        geometry=np.where(has_call[:, None], geometry, 1 / 3),
    )
    return ModelInputs(
        table["session_date"], has_call, outcome, sd_atr, drift, brownian, keys, climatology,
        geometry, analogs, raw,
    )  # fmt: skip


def pooled_calls(
    peers: Sequence[ModelInputs], session_date: pl.Series, *, params: ProbabilityParams
) -> TrainingCalls:
    """Other roots' resolved calls as training calls of a table with ``session_date``: each is
    known from the first of its sessions on or after the session that ended its horizon."""
    parts = []
    dates = session_date.to_numpy()
    for peer in peers:
        index = np.flatnonzero(peer.has_call & (peer.outcome >= 0))
        horizon_end = peer.session_date.to_numpy()[index + params.horizon_sessions]
        known_row = np.searchsorted(dates, horizon_end, side="left")
        parts.append(
            TrainingCalls(
                peer.raw[index], peer.outcome[index], np.log(peer.brownian[index]), known_row
            )
        )
    if not parts:
        return TrainingCalls(
            np.empty((0, 0)), np.empty(0, np.int64), np.empty((0, 3)), np.empty(0, np.int64)
        )
    return TrainingCalls(*(np.concatenate(column) for column in zip(*parts, strict=True)))


def scenario_probabilities(
    table: pl.DataFrame,
    *,
    params: ProbabilityParams | None = None,
    pool: Sequence[pl.DataFrame] = (),
) -> pl.DataFrame:
    """``table`` with the point-in-time scenario probabilities and their evidence (OUTPUT_COLUMNS).

    ``table``: one row per session of one root, sorted by session_date, with REQUIRED_COLUMNS
    (``outcome``: 0 bear, 1 sideways, 2 bull, -1 or null unresolved; ``has_call``: the row is a
    call; barriers and closes in the internal continuous frame) and the columns of the chosen
    features (FEATURE_COLUMNS). Rows without a call get nulls. Columns of the same names are
    replaced. Row ``D`` depends on rows ``<= D`` only (see the module docstring).

    ``pool``: other roots' call tables (same columns) whose resolved calls join the fitted
    layer's training set from the session their horizon ended (pooling across roots; the
    default model does not pool, see bench/RESULTS.md).
    """
    params = params or ProbabilityParams()
    inputs = model_inputs(table, params=params)
    peers = [model_inputs(peer, params=params) for peer in pool]
    probs, calls, fitted_row = point_in_time_layer(
        inputs.raw,
        inputs.outcome,
        inputs.has_call,
        np.log(inputs.brownian),
        params=params,
        pool=pooled_calls(peers, inputs.session_date, params=params) if peers else None,
    )
    probs = np.maximum(probs, params.probability_floor)
    probs /= probs.sum(axis=1, keepdims=True)

    has_call = inputs.has_call
    decimals = params.probability_decimals
    dates = table["session_date"]
    fitted_on = [
        dates[int(r)] if r >= 0 and call else None
        for r, call in zip(fitted_row, has_call, strict=True)
    ]
    sd_atr = np.where(has_call, np.round(inputs.sd_atr, decimals), np.nan)
    drift_atr = np.where(has_call, np.round(inputs.drift_atr, decimals), np.nan)
    return table.with_columns(
        *_published(probs, has_call, decimals, "p"),
        *_published(np.nan_to_num(inputs.geometry, nan=1 / 3), has_call, decimals, "geo"),
        pl.Series("n_geometry", np.nan_to_num(inputs.analogs).astype(np.int64)),
        pl.Series("geometry_key", inputs.keys, dtype=pl.String),
        *_published(np.nan_to_num(inputs.climatology, nan=1 / 3), has_call, decimals, "clim"),
        *_published(inputs.brownian, has_call, decimals, "bm"),
        pl.Series("daily_sd_atr", sd_atr).fill_nan(None),
        pl.Series("drift_atr", drift_atr).fill_nan(None),
        pl.Series("model_calls", calls, dtype=pl.Int64),
        pl.Series("model_as_of", fitted_on, dtype=pl.Date),
    ).with_columns(
        pl.when(pl.col("has_call")).then(pl.col(c)).otherwise(None).alias(c)
        for c in ("n_geometry", "model_calls")
    )
