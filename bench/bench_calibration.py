"""Benchmark: calibration of v2, v3 and v4 on the real files (issue 18's last target).

Issue 18 asks v3's probabilities to miss "no more reliability buckets outside their 90 % band than
v2's" on ES, NQ and YM (scored from 2015, parameters chosen before). This bench reads the call
tables `bench/bench_coherence.py --v4 --cache DIR` keeps (v2, v3, v4; ES, NQ, YM, TF1 as RTY)
and prints, per root:

- the buckets out of band from 2015 of: v2 (the probability model on v2's barriers); the same
  model on v3's / v4's barriers before the limited move (``model_p_*``); the published v3 / v4
  (after the limit). So each step's effect is counted apart: the barriers within 5 % / 4 ATR,
  then the limited move. The near-tie rule changes words only, never a probability.
- every bucket out of band: scenario, bucket, calls, effective calls, mean forecast, observed
  frequency and its band, forecast too high or too low, over- or under-confident (further from
  or nearer to the scenario's base frequency than the outcomes), and the same bucket on the
  tuning period (calls resolved before 2015);
- noise: how many buckets a perfectly calibrated forecaster with the same forecasts misses.
  Outcomes are drawn from the forecast itself (a uniform per call mapped through the forecast's
  cumulative bear / sideways / bull), the uniforms correlated like overlapping 20-session
  horizons (a moving sum of 20 independent normals), and scored by the same reliability rule
  (effective counts from the residuals' overlap correlation). Mean, 90 % range and the share of
  draws that miss at least as many buckets as measured.

    uv run python bench/bench_calibration.py --cache /tmp/calib_cache [--no-write] [--draws N]
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
from datetime import date
from pathlib import Path

import numpy as np
import polars as pl
from scipy.stats import norm

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from bench_coherence import wrapped
from machine import machine_summary, update_section

from pipeline.analysis import probability_model
from pipeline.analysis.engine import known_spec, root_tick
from pipeline.analysis.probability_params import ProbabilityParams
from pipeline.analysis.v3.stability import limited_move, session_causes, stable_probabilities
from pipeline.analysis.v4.calls import call_table as v4_call_table
from pipeline.analysis.v4.params import V4Params
from pipeline.audit.scores import (
    block_bootstrap_skill,
    ranked_probability_score,
    reliability_tables,
)

ROOTS = ("ES", "NQ", "YM", "RTY")
SPLIT = date(2015, 1, 1)  # parameters chosen on calls resolved before, scored on calls from
H = 20  # the scenarios' horizon, sessions
SCENARIOS = ("bear", "sideways", "bull")
#: (name, methodology table, probability column prefix)
FORECASTS = (
    ("v2", "v2", "p"),
    ("v3 model", "v3", "model_p"),
    ("v3", "v3", "p"),
    ("v4 model", "v4", "model_p"),
    ("v4", "v4", "p"),
)


def label(root: str) -> str:
    return "TF1" if root == "RTY" else root


def scored(table: pl.DataFrame, *, after: bool) -> pl.DataFrame:
    """Resolved calls from 2015 (``after``) or resolved before it (the tuning period), with the
    session index on the table's own rows (v4: trade dates)."""
    t = table.with_columns(
        pl.int_range(pl.len()).alias("session"),
        pl.col("session_date").shift(-H).alias("horizon_end"),
    ).filter(pl.col("has_call") & (pl.col("outcome") >= 0))
    if after:
        return t.filter(pl.col("session_date") >= SPLIT)
    return t.filter(pl.col("horizon_end") < SPLIT)


def probs(t: pl.DataFrame, prefix: str) -> np.ndarray:
    return t.select(*(f"{prefix}_{k}" for k in SCENARIOS)).to_numpy().astype(float)


def reliability(t: pl.DataFrame, q: np.ndarray, o: np.ndarray | None = None) -> pl.DataFrame:
    o = t["outcome"].to_numpy() if o is None else o
    rel = reliability_tables(q, o, session=t["session"].to_numpy(), horizon=H)
    return rel.with_columns(
        ((pl.col("mean_forecast") < pl.col("frequency_low"))
         | (pl.col("mean_forecast") > pl.col("frequency_high"))).alias("out")
    )  # fmt: skip


def calibrated_draw(
    q: np.ndarray, session: np.ndarray, rng: np.random.Generator, overlap: int = H
) -> np.ndarray:
    """Outcomes drawn from the forecasts ``q``; the uniforms of calls whose horizons overlap
    correlated as overlapping ``overlap``-session sums (corr (overlap - lag) / overlap; 1:
    independent calls)."""
    n_sessions = int(session.max()) + overlap + 1
    e = rng.standard_normal(n_sessions)
    c = np.concatenate([[0.0], np.cumsum(e)])
    z = (c[session + overlap] - c[session]) / np.sqrt(overlap)
    u = norm.cdf(z)
    cum = np.cumsum(q, axis=1)
    return (u[:, None] >= cum[:, :2]).sum(axis=1)


def noise(t: pl.DataFrame, q: np.ndarray, draws: int, seed: int, overlap: int = H) -> np.ndarray:
    rng = np.random.default_rng(seed)
    session = t["session"].to_numpy()
    return np.array(
        [
            int(reliability(t, q, calibrated_draw(q, session, rng, overlap))["out"].sum())
            for _ in range(draws)
        ]
    )


def skill(t: pl.DataFrame, prefix: str) -> str:
    o = t["outcome"].to_numpy()
    s = block_bootstrap_skill(
        ranked_probability_score(probs(t, prefix), o),
        ranked_probability_score(probs(t, "geo"), o),
        horizon=H,
        n_boot=1000,
    )
    return f"{s.skill:+.3f} [{s.low:+.3f}, {s.high:+.3f}]"


def bias(t: pl.DataFrame, prefix: str) -> str:
    """Mean forecast minus observed frequency per scenario (bear / sideways / bull), points."""
    q = probs(t, prefix)
    o = np.bincount(t["outcome"].to_numpy(), minlength=3) / t.height
    return " / ".join(f"{100 * (q[:, k].mean() - o[k]):+.1f}" for k in range(3))


# --- what a choice before 2015 would change -----------------------------------------------------

CHOICE_ROOTS = ("ES", "NQ", "YM")  # the roots the parameters were chosen on (issue 18's targets)


def carried_limit(model: np.ndarray, has_call: list, has_bar: list, causes: list, p: V4Params):
    """v4's limited move, the last call kept as the reference across sessions without a bar
    (v4 restarts the limit there); a session with a bar and no call (warm-up) restarts it."""
    out = np.full_like(model, np.nan)
    previous: np.ndarray | None = None
    for i, call in enumerate(has_call):
        if not call or np.isnan(model[i]).any():
            if has_bar[i]:
                previous = None
            continue
        cap = p.caused_move_points if causes[i] else p.uncaused_move_points
        out[i] = model[i] if previous is None else limited_move(model[i], previous, cap)
        previous = out[i]
    return out


def published(t: pl.DataFrame, q: np.ndarray) -> pl.DataFrame:
    """``t`` with ``q_*``: ``q`` rounded as v3 publishes (4 decimals, sideways the rest)."""
    bear, bull = np.round(q[:, 0], 4), np.round(q[:, 2], 4)
    return t.with_columns(
        pl.Series("q_bear", bear), pl.Series("q_sideways", np.round(1 - bear - bull, 4)),
        pl.Series("q_bull", bull),
    )  # fmt: skip


def scores_of(t: pl.DataFrame) -> list[tuple[float, int, int]]:
    """(skill vs geometry, buckets out, buckets) of ``q_*`` before 2015 and from 2015."""
    result = []
    for after in (False, True):
        s = scored(t, after=after)
        o = s["outcome"].to_numpy()
        rel = reliability(s, probs(s, "q"))
        rq = ranked_probability_score(probs(s, "q"), o).mean()
        rg = ranked_probability_score(probs(s, "geo"), o).mean()
        result.append((1 - rq / rg, int(rel["out"].sum()), rel.height))
    return result


def variant_row(name: str, tables: dict[str, pl.DataFrame]) -> list[str]:
    per_root = {r: scores_of(t) for r, t in tables.items()}
    pre = np.mean([per_root[r][0][0] for r in per_root])
    return [name, f"{pre:+.4f}", *(
        f"{per_root[r][0][0]:+.4f} {per_root[r][0][1]}/{per_root[r][0][2]}; "
        f"{per_root[r][1][0]:+.4f} {per_root[r][1][1]}/{per_root[r][1][2]}" for r in per_root
    )]  # fmt: skip


def variants(cache: Path) -> list[str]:
    """v4 with one rule or parameter changed, scored before 2015 (where a choice may look) and
    from 2015: the probability model's parameters (v2's search, one coordinate at a time, on
    v4's barriers), a rolling drift, the fitted layer, the limits on moves, the barriers' ATR
    limit, and the limit carried across sessions without a bar."""
    p = V4Params()
    base = p.probability_model
    tables = {r: pl.read_parquet(cache / f"v4_table_{r}.parquet") for r in CHOICE_ROOTS}
    causes = {r: session_causes(t, p).to_list() for r, t in tables.items()}

    def model(t: pl.DataFrame, params: ProbabilityParams) -> np.ndarray:
        m = probability_model.scenario_probabilities(
            t.select(probability_model.REQUIRED_COLUMNS), params=params
        )
        return m.select(f"p_{k}" for k in SCENARIOS).to_numpy().astype(float)

    def limited(r: str, q: np.ndarray, q_params: V4Params = p) -> np.ndarray:
        c = causes[r] if q_params is p else session_causes(tables[r], q_params).to_list()
        return stable_probabilities(q, tables[r]["has_call"].to_list(), c, q_params)

    def with_model(params: ProbabilityParams) -> dict[str, pl.DataFrame]:
        return {r: published(t, limited(r, model(t, params))) for r, t in tables.items()}

    rows = [variant_row("v4 as published", {r: published(t, probs(t, "p")) for r, t in
                                            tables.items()})]  # fmt: skip
    unlimited = {r: published(t, probs(t, "model_p")) for r, t in tables.items()}
    rows.append(variant_row("v4's model, no limit on moves", unlimited))
    grid = {
        "daily_sd_atr": (0.5, 0.55, 0.65, 0.7),
        "barrier_shift_sd": (0.2, 0.4, 0.8),
        "vol_regime_elasticity": (0.0, 0.45, 0.6),
        "drift_atr": (0.0, 0.01, 0.03, 0.04),
        "drift_window": (1000, 2500),
    }
    for field, values in grid.items():
        for v in values:
            name = f"model {field} {v} (published {getattr(base, field)})"
            changed: ProbabilityParams = dataclasses.replace(
                base,
                **{field: v},  # type: ignore[arg-type]
            )
            rows.append(variant_row(name, with_model(changed)))
    for prior in (0.05, 0.2):
        for half_life in (None, 500.0):
            layer = dataclasses.replace(base, fit_layer=True, coefficient_prior_sd=prior,
                                        training_half_life_sessions=half_life)  # fmt: skip
            rows.append(variant_row(f"fitted layer, prior sd {prior}, half-life {half_life}",
                                    with_model(layer)))  # fmt: skip
    for uncaused, caused in ((0.07, 0.15), (0.05, 0.10), (0.07, 0.19), (0.03, 0.19)):
        q_params = dataclasses.replace(p, uncaused_move_points=uncaused,
                                       caused_move_points=caused)  # fmt: skip
        rows.append(variant_row(
            f"limits on moves {100 * uncaused:g} / {100 * caused:g} points (published 9.5 / 19)",
            {r: published(t, limited(r, probs(t, "model_p"), q_params)) for r, t in
             tables.items()},
        ))  # fmt: skip
    wide = dataclasses.replace(p, barrier_max_atr=5.0)
    series = {r: pl.read_parquet(cache / f"series_{r}.parquet") for r in CHOICE_ROOTS}
    wide_tables = {}
    for r in CHOICE_ROOTS:
        spec = known_spec(r, None)
        assert spec is not None
        t = v4_call_table(series[r], tick=root_tick(r, spec), params=wide,
                          calendar=spec.trading_calendar)  # fmt: skip
        wide_tables[r] = published(t, probs(t, "p"))
    rows.append(variant_row("barriers within min(5 %, 5 ATR) (published 4 ATR)", wide_tables))
    rows.append(variant_row(
        "limit carried across sessions without a bar",
        {r: published(t, carried_limit(probs(t, "model_p"), t["has_call"].to_list(),
                                       t["has_bar"].to_list(), causes[r], p))
         for r, t in tables.items()},
    ))  # fmt: skip
    moves = []
    for r, t in tables.items():
        calls = t.filter(pl.col("has_call"))
        q = carried_limit(probs(t, "model_p"), t["has_call"].to_list(), t["has_bar"].to_list(),
                          causes[r], p)[t["has_call"].to_numpy()]  # fmt: skip
        new = probs(published(calls, q), "q")
        step = np.abs(np.diff(new, axis=0)).max(axis=1)
        was = np.abs(np.diff(probs(calls, "p"), axis=0)).max(axis=1)
        cause = calls["probability_cause"].is_not_null().to_numpy()[1:]
        moves.append(
            f"{r}: moves > 20 points {int((was > 0.2 + 1e-9).sum())} -> "
            f"{int((step > 0.2 + 1e-9).sum())}, moves > 10 points in a session without a "
            f"cause code {int(((was > 0.1 + 1e-9) & ~cause).sum())} -> "
            f"{int(((step > 0.1 + 1e-9) & ~cause).sum())}, calls changed "
            f"{int((np.abs(new - probs(calls, 'p')).max(axis=1) > 1e-9).sum())}"
        )
    header = ["variant of v4", "mean skill before 2015",
              *(f"{r}: before 2015; from 2015" for r in CHOICE_ROOTS)]  # fmt: skip
    return [
        *md_table(header, rows),
        "",
        "The limit carried across sessions without a bar (v4 restarts it there):",
        "",
        *(f"- {line}" for line in moves),
    ]


def drift_and_barriers(tables: dict) -> list[str]:
    """Per root: the mean close change a session in ATR (the model's drift is a constant 0.02)
    before 2015 and from 2015, and the median distance of v2's and v4's barriers, in ATR."""
    lines = []
    for r in ROOTS:
        t = tables[(r, "v4")].filter(pl.col("has_bar"))
        change = (pl.col("close") - pl.col("close").shift(1)) / pl.col("atr14").shift(1)
        d = t.select("session_date", change.alias("d")).drop_nulls()
        early = d.filter(pl.col("session_date") < SPLIT)["d"].mean()
        late = d.filter(pl.col("session_date") >= SPLIT)["d"].mean()
        far = []
        for m in ("v2", "v4"):
            c = tables[(r, m)].filter(pl.col("has_call") & (pl.col("session_date") >= SPLIT))
            up = ((c["upper_internal"] - c["close"]) / c["atr14"]).median()
            down = ((c["close"] - c["lower_internal"]) / c["atr14"]).median()
            far.append(f"{m} {up:.2f} above / {down:.2f} below")
        lines.append(
            f"- {label(r)}: mean close change {early:+.4f} ATR a session before 2015, "
            f"{late:+.4f} from 2015; barriers from 2015 (median ATR from the close): "
            + ", ".join(far)
        )
    return lines


def md_table(header: list[str], body: list[list[str]]) -> list[str]:
    right = ["---"] + ["---:"] * (len(header) - 1)
    return [
        "| " + " | ".join(header) + " |",
        "|" + "|".join(right) + "|",
        *("| " + " | ".join(row) + " |" for row in body),
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--cache", type=Path, required=True, help="bench_coherence's --cache")
    parser.add_argument("--no-write", action="store_true", help="print only")
    parser.add_argument("--draws", type=int, default=200, help="calibrated draws per forecast")
    parser.add_argument("--variants", action="store_true", help="also v4's variants (minutes)")
    args = parser.parse_args()
    tables = {
        (r, m): pl.read_parquet(args.cache / f"{m}_table_{r}.parquet")
        for r in ROOTS
        for m in ("v2", "v3", "v4")
    }
    summary: list[list[str]] = []
    detail: list[list[str]] = []
    for r in ROOTS:
        for name, m, prefix in FORECASTS:
            after, before = scored(tables[(r, m)], after=True), scored(tables[(r, m)], after=False)
            q = probs(after, prefix)
            rel = reliability(after, q)
            rel_before = reliability(before, probs(before, prefix))
            out = int(rel["out"].sum())
            sim = noise(after, q, args.draws, seed=len(summary))
            lo, hi = np.quantile(sim, [0.05, 0.95])
            alone = noise(after, q, args.draws, seed=1000 + len(summary), overlap=1)
            alone_lo, alone_hi = np.quantile(alone, [0.05, 0.95])
            summary.append(
                [
                    label(r), name, f"{after.height:,}", f"{out}/{rel.height}",
                    f"{int(rel_before['out'].sum())}/{rel_before.height}",
                    f"{sim.mean():.1f} [{lo:.0f}, {hi:.0f}]", f"{(sim >= out).mean():.2f}",
                    f"{alone.mean():.1f} [{alone_lo:.0f}, {alone_hi:.0f}]",
                    f"{(alone >= out).mean():.2f}",
                    bias(before, prefix), bias(after, prefix), skill(after, prefix),
                ]
            )  # fmt: skip
            base = np.bincount(after["outcome"].to_numpy(), minlength=3) / after.height
            for row in rel.filter(pl.col("out")).iter_rows(named=True):
                k = SCENARIOS.index(row["scenario"])
                f, o = row["mean_forecast"], row["observed_frequency"]
                conf = "over" if abs(f - base[k]) > abs(o - base[k]) else "under"
                same = rel_before.filter(
                    (pl.col("scenario") == row["scenario"]) & (pl.col("bucket") == row["bucket"])
                )
                was = (
                    "none"
                    if same.height == 0
                    else f"{same['mean_forecast'][0]:.2f} vs {same['observed_frequency'][0]:.2f}"
                    + (" out" if same["out"][0] else " in")
                )
                mine = after.filter(
                    (pl.col(f"{prefix}_{row['scenario']}") * 10).floor().clip(0, 9) == row["bucket"]
                ).with_columns((pl.col("outcome") == k).alias("hit"))
                halves = [
                    mine.filter(pl.col("session_date").dt.year() < 2020),
                    mine.filter(pl.col("session_date").dt.year() >= 2020),
                ]
                span = " / ".join(
                    f"{h['hit'].cast(pl.Float64).sum() / h.height:.2f} ({h.height})"
                    if h.height
                    else "none"
                    for h in halves
                )
                detail.append(
                    [
                        label(r), name, row["scenario"], f"{row['bucket'] / 10:.1f}",
                        f"{row['count']:,}", f"{row['effective_count']:.0f}",
                        f"{f:.3f}", f"{o:.3f} [{row['frequency_low']:.3f}, "
                        f"{row['frequency_high']:.3f}]",
                        "too high" if f > o else "too low", conf, span, was,
                    ]
                )  # fmt: skip
            print(" | ".join(summary[-1]), flush=True)
    text = wrapped(
        "\n".join(
            [
                "From 2015-01-01, resolved calls (each methodology on its own barriers); a bucket "
                "(10 per scenario, those with calls) is out when its 90 % band (Wilson, on effective "
                "counts for overlapping 20-session horizons) misses its mean forecast. 'model': the "
                "probability model on that methodology's barriers before the limited move. 'before "
                "2015': the same count on the calls resolved before 2015 (the tuning period). "
                f"'calibrated': buckets out for a perfectly calibrated forecaster with the same "
                f"forecasts ({args.draws} draws; outcomes drawn from the forecast, correlated like "
                "overlapping horizons): mean [90 % range], and the share of draws with at least as "
                "many out as measured; 'independent': the same with independent outcomes (no "
                "overlap: a lower bound on the noise). Bias: mean forecast minus observed frequency, bear / sideways "
                "/ bull, in points. Skill against each one's own barrier-geometry base rates (block "
                "bootstrap, 90 %).",
                "",
                *md_table(
                    [
                        "root",
                        "forecast",
                        "calls",
                        "buckets out",
                        "before 2015",
                        "calibrated",
                        "P(>= out)",
                        "calibrated, independent",
                        "P(>= out), independent",
                        "bias before 2015",
                        "bias from 2015",
                        "skill vs geometry [90 %]",
                    ],
                    summary,
                ),
                "",
                "The market's drift (the model assumes 0.02 ATR a session) and the barriers' distance:",
                "",
                *drift_and_barriers(tables),
                "",
                *(
                    [
                        "v4 with one rule or parameter changed (ES, NQ, YM; each cell: skill against "
                        "the geometry base rates and buckets out, before 2015; from 2015). A choice "
                        "may read only the columns before 2015 (v2's rule: the best mean skill).",
                        "",
                        *variants(args.cache),
                        "",
                    ]
                    if args.variants
                    else []
                ),
                "Every bucket out of band from 2015 (forecast vs observed [90 % band]; 'over': the "
                "forecast lies further from the scenario's base frequency than the outcomes; the "
                "bucket's observed frequency (calls) in 2015-2019 and from 2020; the same bucket on "
                "the calls resolved before 2015, forecast vs observed):",
                "",
                *md_table(
                    [
                        "root",
                        "forecast",
                        "scenario",
                        "bucket",
                        "calls",
                        "effective",
                        "forecast",
                        "observed [90 %]",
                        "forecast is",
                        "confident",
                        "observed 2015-19 / 2020+",
                        "before 2015",
                    ],
                    detail,
                ),
            ]
        )
    )
    print(machine_summary())
    print(text)
    if not args.no_write:
        update_section(
            "Calibration of v2, v3 and v4 (real files)",
            f"`bench/bench_calibration.py`\n\n{machine_summary()}\n\n{text}",
        )


if __name__ == "__main__":
    main()
