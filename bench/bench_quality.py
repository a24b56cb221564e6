"""Benchmark: call quality of methodologies v1, v2 and v3 on the real files (issue 8, item 7;
issue 19, point 5).

For ES, NQ, YM and TF1 (as RTY), and CL, GC, ZN, ZC (parameters chosen on the equity indexes,
not re-tuned), from ../shared/data, loaded the way a user loads them (file source ->
validation -> continuous series), every session of the whole history: the level properties,
persistence, false statements, crash-session labels and roll gaps per methodology
(pipeline/audit/quality.py), v2 - v1 scores on the same sessions with block-bootstrap
intervals, each methodology's probabilities from 2015 against its own barrier-geometry base
rates and its climatology (skill, 90 % interval, reliability buckets missed), the calls of a
few dates, and the cost of a call table.

    uv run python bench/bench_quality.py             # prints, updates bench/RESULTS.md
    uv run python bench/bench_quality.py --no-write
    uv run python bench/bench_quality.py --roots CL,GC,ZN,ZC --no-write   # a subset, print only
"""

from __future__ import annotations

import argparse
import sys
import textwrap
import time
from datetime import date
from pathlib import Path

import numpy as np
import polars as pl

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from machine import machine_summary, update_section

from pipeline.analysis.methodology import get
from pipeline.analysis.v2.params import V2Params
from pipeline.analysis.v2.statements import false_statements
from pipeline.audit.quality import (
    QUALITY_COLUMNS,
    QualityParams,
    markdown_table,
    paired_scores,
    quality_table,
    scored_calls,
)
from pipeline.audit.scores import (
    MIN_INTERVAL_HORIZONS,
    TooFewCallsError,
    block_bootstrap_skill,
    ranked_probability_score,
    reliability_tables,
)
from pipeline.market.notation import format_price
from pipeline.market.roots import builtin_spec
from tests.real_files import EQUITY_ROOTS, LABELS, NEW_ROOTS, available, real_series_and_rolls

ROOTS = (*EQUITY_ROOTS, *NEW_ROOTS)
METHODOLOGIES = ("v1", "v2", "v3")
DATES = (date(2008, 10, 10), date(2020, 3, 16), date(2020, 3, 23), date(2022, 6, 16),
         date(2024, 11, 11))  # fmt: skip
DATE_ROOTS = ("ES", "NQ", "YM")
#: Dates of issue 19 point 5 on the new roots: crude's 2008 and 2020 (the negative settlement
#: of 2020-04-20 and the day after), gold's 2013, corn's 2012 and the bond sell-off of 2022.
NEW_DATES = {
    "CL": (date(2008, 12, 19), date(2020, 4, 20), date(2020, 4, 21)),
    "GC": (date(2013, 4, 15), date(2013, 6, 27)),
    "ZC": (date(2012, 8, 10), date(2013, 8, 5)),
    "ZN": (date(2022, 6, 14), date(2022, 10, 21)),
}
SCORED_FROM = date(2015, 1, 1)  # the probability model's parameters were chosen before
SCENARIOS = ("bear", "sideways", "bull")


def call_line(table: pl.DataFrame, day: date, root: str) -> str:
    row = table.filter(pl.col("session_date") == day)
    if row.height == 0 or not row["has_call"][0]:
        return "no session / no call"
    r = row.row(0, named=True)
    spec = builtin_spec(root)

    def price(value: float) -> str:
        return format_price(value, tick=spec.tick, notation=spec.notation)

    return (
        f"{r['primary_trend']}, {r['perspective']}; line {price(r['line_low'])}-"
        f"{price(r['line_high'])}; bias {price(r['bias_low'])}-{price(r['bias_high'])}"
        f"{' (projected)' if r['bias_projected'] else ''}; "
        f"bull {r['p_bull']:.0%} / side {r['p_sideways']:.0%} / bear {r['p_bear']:.0%} "
        f"(close {price(r['raw_close'])})"
    )


def probability_row(table: pl.DataFrame, params: QualityParams) -> dict[str, str] | None:
    """The published probabilities of one call table from ``SCORED_FROM``: RPS skill against
    the methodology's own barrier-geometry base rates (``geo_*``, point in time) and against its
    expanding climatology (``scored_calls``), each with the audit's block-bootstrap 90 %
    interval, and the reliability buckets (10 per scenario) whose 90 % band misses the mean
    forecast. None when the table has no geometry rates (v1 stores none)."""
    if "geo_bear" not in table.columns:
        return None
    horizon = params.horizon_sessions
    resolved = table.with_row_index("session").filter(pl.col("has_call") & (pl.col("outcome") >= 0))
    climatology = scored_calls(table, params)
    both = resolved.join(climatology, on="session_date").filter(
        pl.col("session_date") >= SCORED_FROM
    )
    if both.height < MIN_INTERVAL_HORIZONS * horizon:
        return None
    outcome = both["outcome"].to_numpy()
    probs = both.select(*(f"p_{k}" for k in SCENARIOS)).to_numpy()
    geometry = both.select(*(f"geo_{k}" for k in SCENARIOS)).to_numpy()
    rps = ranked_probability_score(probs, outcome)

    def skill(reference: np.ndarray) -> str:
        try:
            s = block_bootstrap_skill(rps, reference, horizon=horizon, n_boot=params.n_boot)
        except TooFewCallsError:
            return "too few calls"
        return f"{s.skill:+.3f} [{s.low:+.3f}, {s.high:+.3f}]"

    buckets = reliability_tables(
        probs, outcome, session=both["session"].to_numpy(), horizon=horizon
    )
    out = buckets.filter(
        (pl.col("mean_forecast") < pl.col("frequency_low"))
        | (pl.col("mean_forecast") > pl.col("frequency_high"))
    ).height
    return {
        "calls": f"{both.height:,}",
        "geometry": skill(ranked_probability_score(geometry, outcome)),
        "climatology": skill(both["clim_rps"].to_numpy()),
        "buckets": f"{out}/{buckets.height}",
    }


def ideal_line_runs(table: pl.DataFrame, *, keep_atr: float, params: V2Params) -> float:
    """The ceiling of persistence within the distance band: the median run of a line that is
    no structure at all, set ``line_preferred_atr`` ATR under the close, kept until the close
    comes within ``zone_gap_atr`` ATR of it or runs ``keep_atr`` ATR above it, then set again
    (every session with a call, always upward). Real lines also end on acceptance, new
    structure, a turned call, and sit where structure is, not at the best distance."""
    calls = table.filter(pl.col("has_call"))
    close, atr = calls["close"].to_numpy(), calls["atr14"].to_numpy()
    runs, i = [], 0
    while i < len(close):
        top = close[i] - params.line_preferred_atr * atr[i]
        j = i + 1
        while j < len(close) and params.zone_gap_atr <= (close[j] - top) / atr[j] <= keep_atr:
            j += 1
        runs.append(j - i)
        i = j
    return float(np.median(runs))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--no-write", action="store_true", help="print only")
    parser.add_argument(
        "--roots", default=",".join(ROOTS), help="comma-separated subset (implies --no-write)"
    )
    args = parser.parse_args()
    roots = tuple(r for r in ROOTS if r in args.roots.split(","))
    if not roots:
        parser.error(f"--roots: none of {args.roots!r} is one of {', '.join(ROOTS)}")
    if roots != ROOTS:
        args.no_write = True  # the section holds every root or none
    if not available():
        print("bench_quality: ../shared/data is not present, nothing to measure")
        return
    started = time.perf_counter()
    loaded = {root: real_series_and_rolls(root) for root in roots}
    series = {root: s for root, (s, _) in loaded.items()}
    rolls = {root: r for root, (_, r) in loaded.items()}
    load_seconds = time.perf_counter() - started

    tables: dict[tuple[str, str], pl.DataFrame] = {}
    found: dict[tuple[str, str], pl.DataFrame] = {}
    seconds: dict[tuple[str, str], float] = {}
    for root in roots:
        tick = builtin_spec(root).tick
        for m in METHODOLOGIES:
            t0 = time.perf_counter()
            analysis = get(m).analyse(series, root, source="file")
            seconds[(root, m)] = time.perf_counter() - t0
            tables[(root, m)] = analysis.table
            checker = get(m).statement_checker or false_statements
            found[(root, m)] = checker(analysis.table, tick=tick)
            print(f"{root} {m}: {seconds[(root, m)]:.2f} s, {found[(root, m)].height} false")
    params = QualityParams()
    quality = quality_table(
        tables,
        ticks={r: builtin_spec(r).tick for r in roots},
        params=params,
        false_statements=found,
        rolls=rolls,
    ).with_columns(pl.col("root").replace(LABELS))
    print(quality)

    score_lines = [
        "| root | sessions | RPS v2 - v1 [90% CI] | (RPS - climatology RPS) v2 - v1 [90% CI] |",
        "|---|---:|---|---|",
    ]
    for root in roots:
        scores = paired_scores(
            scored_calls(tables[(root, "v2")], params),
            scored_calls(tables[(root, "v1")], params),
            params,
        )
        if not scores:
            continue
        rps, rel = scores["rps"], scores["rps_vs_climatology"]
        score_lines.append(
            f"| {LABELS[root]} | {rps.n:,} | {rps.mean:+.4f} [{rps.low:+.4f}, {rps.high:+.4f}] "
            f"| {rel.mean:+.4f} [{rel.low:+.4f}, {rel.high:+.4f}] |"
        )
    date_lines = []
    dated = [(root, day) for root in DATE_ROOTS for day in DATES]
    dated += [(root, day) for root, days in NEW_DATES.items() for day in days]
    for root, day in dated:
        if root in roots:
            for m in METHODOLOGIES:
                date_lines.append(f"- {root} {day} {m}: {call_line(tables[(root, m)], day, root)}")
    probability_lines = [
        f"| root | methodology | calls from {SCORED_FROM} | skill vs geometry [90% CI] | "
        "skill vs climatology [90% CI] | buckets out |",
        "|---|---|---:|---|---|---:|",
    ]
    for root in roots:
        for m in METHODOLOGIES:
            row = probability_row(tables[(root, m)], params)
            if row is not None:
                probability_lines.append(
                    f"| {LABELS[root]} | {m} | {row['calls']} | {row['geometry']} | "
                    f"{row['climatology']} | {row['buckets']} |"
                )
    facts = [
        f"- {LABELS[root]} {m}: {found[(root, m)].height} false"
        + (
            " ("
            + ", ".join(
                f"{f} {n}" for f, n in found[(root, m)]["fact"].value_counts().sort("fact").rows()
            )
            + ")"
            if found[(root, m)].height
            else ""
        )
        for root in roots
        for m in METHODOLOGIES
    ]
    crash = [
        f"- {row['root']} {row['methodology']}: {row['crash_labels'] or 'none'}"
        for row in quality.iter_rows(named=True)
    ]
    roll_lines = [
        f"- {row['root']}: {row['rolls']} rolls ({row['roll_methods']}), largest |gap| "
        f"{row['max_roll_gap_pct']:.2%} of the expiring contract's close"
        for row in quality.filter(pl.col("methodology") == "v1").iter_rows(named=True)
    ]
    v2p = V2Params()
    ceiling = "; ".join(
        f"{LABELS[root]} "
        + " / ".join(
            f"{ideal_line_runs(tables[(root, 'v2')], keep_atr=k, params=v2p):.1f}"
            for k in (v2p.level_far_atr, v2p.line_keep_atr)
        )
        for root in roots
    )
    timing = "\n".join(
        f"| {LABELS[root]} | {series[root].height:,} | "
        + " | ".join(f"{seconds[(root, m)]:.2f}" for m in METHODOLOGIES)
        + " |"
        for root in roots
    )
    text = "\n".join(
        [
            f"Real files (../shared/data), whole history, every session with a call; loaded through "
            f"FileSource (YM with ^DJI, TF1 with ^RUT; CL, GC, ZN, ZC each on its own, their "
            f"registry peers have no file here) -> validate_batch -> "
            f"continuous_series_and_rolls in {load_seconds:.1f} s. "
            "Definitions in pipeline/audit/quality.py; statements checked by "
            "pipeline/analysis/v2/statements.py (the same definitions judge v1's printed facts).",
            "",
            markdown_table(quality, QUALITY_COLUMNS),
            "",
            "Out-of-band line / bias distances (calls): "
            + "; ".join(
                f"{r['root']} {r['methodology']} line <0.25 {r['line_too_near']}, >4 {r['line_too_far']}, "
                f"bias <0.25 {r['bias_too_near']}, >4 {r['bias_too_far']}"
                for r in quality.iter_rows(named=True)
            ),
            "",
            "False statements by fact:",
            "",
            *facts,
            "",
            f"Perspective labels on crash sessions (close >= {params.crash_fall_pct:.0%} below the "
            f"{params.crash_window}-session high):",
            "",
            *crash,
            "",
            "Roll gaps of the continuous series (pipeline/market/rolls.py): YM with ^DJI and TF1 "
            "with ^RUT sized from the basis, ES and NQ (no index file) bounded by carry:",
            "",
            *roll_lines,
            "",
            "Scores on the same sessions (each methodology resolved on its own barriers; RPS, "
            "lower is better; negative favours v2), 90% interval by the audit's rule (circular "
            "block bootstrap, blocks of three 20-session horizons, Student-t):",
            "",
            *score_lines,
            "",
            textwrap.fill(
                f"Published probabilities from {SCORED_FROM} (the probability model's parameters "
                "were chosen on ES, NQ and YM calls resolved before 2015; CL, GC, ZN, ZC never "
                "used): RPS skill against each methodology's own point-in-time barrier-geometry "
                "base rates and its expanding climatology (positive: better than the reference), "
                "90% interval by the audit's rule; reliability buckets (10 per scenario, those with "
                "calls) whose 90% band misses the mean forecast. v1 stores no geometry rates.",
                width=100,
                break_on_hyphens=False,
            ),
            "",
            *probability_lines,
            "",
            f"Ceiling of the line run within the band (bench_quality.ideal_line_runs: a line "
            f"with no structure {v2p.line_preferred_atr} ATR under the close, replaced only when "
            f"the close comes within {v2p.zone_gap_atr} ATR of it or runs {v2p.level_far_atr} / "
            f"{v2p.line_keep_atr} ATR above it), median sessions: {ceiling}",
            "",
            "Calls on the issues' dates (prices in the front contract, in the exchange's "
            "notation):",
            "",
            *date_lines,
            "",
            "Cost of `analyse` (call table + fingerprints + every snapshot row, peers included), seconds:",
            "",
            "| root | sessions | " + " | ".join(METHODOLOGIES) + " |",
            "|---|---:|" + "---:|" * len(METHODOLOGIES),
            timing,
        ]
    )
    print(machine_summary())
    print(text)
    if not args.no_write:
        update_section(
            "Call quality (real files)",
            f"`bench/bench_quality.py`\n\n{machine_summary()}\n\n{text}",
        )


if __name__ == "__main__":
    main()
