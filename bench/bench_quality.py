"""Benchmark: call quality of methodologies v1, v2 and v3 on the real files (issue 8, item 7).

For ES, NQ, YM and TF1 (as RTY) from ../shared/data, loaded the way a user loads them (file
source -> validation -> continuous series), every session of the whole history: the level
properties, persistence, false statements, crash-session labels and roll gaps per methodology
(pipeline/audit/quality.py), v2 - v1 scores on the same sessions with block-bootstrap
intervals, the calls of five dates, and the cost of a v2 call table.

    uv run python bench/bench_quality.py             # prints, updates bench/RESULTS.md
    uv run python bench/bench_quality.py --no-write
"""

from __future__ import annotations

import argparse
import sys
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
from pipeline.market.roots import builtin_spec
from tests.real_files import LABELS, available, real_series_and_rolls

ROOTS = ("ES", "NQ", "YM", "RTY")
METHODOLOGIES = ("v1", "v2", "v3")
DATES = (date(2008, 10, 10), date(2020, 3, 16), date(2020, 3, 23), date(2022, 6, 16),
         date(2024, 11, 11))  # fmt: skip
DATE_ROOTS = ("ES", "NQ", "YM")


def call_line(table: pl.DataFrame, day: date, tick: float) -> str:
    row = table.filter(pl.col("session_date") == day)
    if row.height == 0 or not row["has_call"][0]:
        return "no session / no call"
    r = row.row(0, named=True)
    fmt = ".2f" if tick < 1 else ".0f"
    return (
        f"{r['primary_trend']}, {r['perspective']}; line {r['line_low']:{fmt}}-{r['line_high']:{fmt}}; "
        f"bias {r['bias_low']:{fmt}}-{r['bias_high']:{fmt}}"
        f"{' (projected)' if r['bias_projected'] else ''}; "
        f"bull {r['p_bull']:.0%} / side {r['p_sideways']:.0%} / bear {r['p_bear']:.0%} "
        f"(close {r['raw_close']:{fmt}})"
    )


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
    args = parser.parse_args()
    if not available():
        print("bench_quality: ../shared/data is not present, nothing to measure")
        return
    started = time.perf_counter()
    loaded = {root: real_series_and_rolls(root) for root in ROOTS}
    series = {root: s for root, (s, _) in loaded.items()}
    rolls = {root: r for root, (_, r) in loaded.items()}
    load_seconds = time.perf_counter() - started

    tables: dict[tuple[str, str], pl.DataFrame] = {}
    found: dict[tuple[str, str], pl.DataFrame] = {}
    seconds: dict[tuple[str, str], float] = {}
    for root in ROOTS:
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
        ticks={r: builtin_spec(r).tick for r in ROOTS},
        params=params,
        false_statements=found,
        rolls=rolls,
    ).with_columns(pl.col("root").replace(LABELS))
    print(quality)

    score_lines = [
        "| root | sessions | RPS v2 - v1 [90% CI] | (RPS - climatology RPS) v2 - v1 [90% CI] |",
        "|---|---:|---|---|",
    ]
    for root in ROOTS:
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
    for root in DATE_ROOTS:
        tick = builtin_spec(root).tick
        for day in DATES:
            for m in METHODOLOGIES:
                date_lines.append(f"- {root} {day} {m}: {call_line(tables[(root, m)], day, tick)}")
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
        for root in ROOTS
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
        for root in ROOTS
    )
    timing = "\n".join(
        f"| {LABELS[root]} | {series[root].height:,} | "
        + " | ".join(f"{seconds[(root, m)]:.2f}" for m in METHODOLOGIES)
        + " |"
        for root in ROOTS
    )
    text = "\n".join(
        [
            f"Real files (../shared/data), whole history, every session with a call; loaded through "
            f"FileSource (YM with ^DJI, TF1 with ^RUT) -> validate_batch -> "
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
            f"Ceiling of the line run within the band (bench_quality.ideal_line_runs: a line "
            f"with no structure {v2p.line_preferred_atr} ATR under the close, replaced only when "
            f"the close comes within {v2p.zone_gap_atr} ATR of it or runs {v2p.level_far_atr} / "
            f"{v2p.line_keep_atr} ATR above it), median sessions: {ceiling}",
            "",
            "Calls on five dates (prices in the front contract's points):",
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
