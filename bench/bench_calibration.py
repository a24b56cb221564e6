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
import sys
from datetime import date
from pathlib import Path

import numpy as np
import polars as pl
from scipy.stats import norm

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from machine import machine_summary, update_section

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


def calibrated_draw(q: np.ndarray, session: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Outcomes drawn from the forecasts ``q``; the uniforms of calls whose horizons overlap
    correlated as overlapping 20-session sums (corr (H - lag) / H)."""
    n_sessions = int(session.max()) + H + 1
    e = rng.standard_normal(n_sessions)
    c = np.concatenate([[0.0], np.cumsum(e)])
    z = (c[session + H] - c[session]) / np.sqrt(H)
    u = norm.cdf(z)
    cum = np.cumsum(q, axis=1)
    return (u[:, None] >= cum[:, :2]).sum(axis=1)


def noise(t: pl.DataFrame, q: np.ndarray, draws: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    session = t["session"].to_numpy()
    return np.array(
        [
            int(reliability(t, q, calibrated_draw(q, session, rng))["out"].sum())
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
    args = parser.parse_args()
    tables = {
        (r, m): pl.read_parquet(args.cache / f"{m}_table_{r}.parquet")
        for r in ROOTS
        for m in ("v2", "v3", "v4")
    }
    summary, detail = [], []
    for r in ROOTS:
        for name, m, prefix in FORECASTS:
            after, before = scored(tables[(r, m)], after=True), scored(tables[(r, m)], after=False)
            q = probs(after, prefix)
            rel = reliability(after, q)
            rel_before = reliability(before, probs(before, prefix))
            out = int(rel["out"].sum())
            sim = noise(after, q, args.draws, seed=len(summary))
            lo, hi = np.quantile(sim, [0.05, 0.95])
            summary.append(
                [
                    label(r), name, f"{after.height:,}", f"{out}/{rel.height}",
                    f"{int(rel_before['out'].sum())}/{rel_before.height}",
                    f"{sim.mean():.1f} [{lo:.0f}, {hi:.0f}]", f"{(sim >= out).mean():.2f}",
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
                    f"{h['hit'].mean():.2f} ({h.height})" if h.height else "none" for h in halves
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
    text = "\n".join(
        [
            "From 2015-01-01, resolved calls (each methodology on its own barriers); a bucket "
            "(10 per scenario, those with calls) is out when its 90 % band (Wilson, on effective "
            "counts for overlapping 20-session horizons) misses its mean forecast. 'model': the "
            "probability model on that methodology's barriers before the limited move. 'before "
            "2015': the same count on the calls resolved before 2015 (the tuning period). "
            f"'calibrated': buckets out for a perfectly calibrated forecaster with the same "
            f"forecasts ({args.draws} draws; outcomes drawn from the forecast, correlated like "
            "overlapping horizons): mean [90 % range], and the share of draws with at least as "
            "many out as measured. Bias: mean forecast minus observed frequency, bear / sideways "
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
                    "bias before 2015",
                    "bias from 2015",
                    "skill vs geometry [90 %]",
                ],
                summary,
            ),
            "",
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
    print(machine_summary())
    print(text)
    if not args.no_write:
        update_section(
            "Calibration of v2, v3 and v4 (real files)",
            f"`bench/bench_calibration.py`\n\n{machine_summary()}\n\n{text}",
        )


if __name__ == "__main__":
    main()
