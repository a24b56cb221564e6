"""Benchmark: what v4 (v3's rules on the trade calendar) adds to the nightly path of v2 and v3.

The nightly path of one root (``analyse(..., sessions=[last])``, every methodology of the
default list after v1) with and without v4, alternating, best of N, v2's levels memory kept as
in a real run:

- the demo history (no session without a bar: v4 takes v2's remembered levels table);
- the demo history with a bar removed every 250 sessions (v4 builds its own levels table on
  the calendar series);
- the real files of ../shared/data when present (ES, NQ, YM, TF1 as RTY: 18-34 sessions
  without a bar each).

    .venv/bin/python bench/bench_v4_cost.py            # table + bench/RESULTS.md
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

import polars as pl

sys.path.insert(0, str(Path(__file__).resolve().parent))
from machine import machine_summary, update_section

from pipeline.analysis.methodology import get
from pipeline.analysis.v2.calls import forget_levels_tables
from pipeline.market.continuous import continuous_series
from pipeline.sources.demo import demo_bars

ROOTS = ("RTY", "ES", "NQ", "YM")
REPEATS = 2
GAP_EVERY = 250  # sessions between removed bars in the gapped demo


def nightly_path(series: dict, root: str, versions: tuple[str, ...]) -> float:
    last = series[root]["session_date"].max()
    forget_levels_tables()
    started = time.perf_counter()
    for version in versions:
        get(version).analyse(series, root, source="demo", sessions=[last])
    return time.perf_counter() - started


def measure(label: str, series: dict, roots: tuple[str, ...]) -> list[tuple[str, float, float]]:
    rows = []
    for root in roots:
        without, with_v4 = [], []
        for _ in range(REPEATS):  # alternating: both see the same load
            without.append(nightly_path(series, root, ("v2", "v3")))
            with_v4.append(nightly_path(series, root, ("v2", "v3", "v4")))
        rows.append((f"{label} {root}", min(without), min(with_v4)))
        print(f"{label} {root}: v2+v3 {min(without):.2f} s, v2+v3+v4 {min(with_v4):.2f} s")
    return rows


def main() -> None:
    demo = {root: continuous_series(demo_bars(root)) for root in ROOTS}
    gapped = {
        root: s.filter(pl.int_range(pl.len()) % GAP_EVERY != GAP_EVERY - 1)
        for root, s in demo.items()
    }
    rows = measure("demo", demo, ROOTS) + measure("demo, gaps", gapped, ROOTS)
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from tests.real_files import available, real_series

    if available():
        real = {root: real_series(root) for root in ROOTS}
        rows += measure("real", real, ROOTS)
    table = "\n".join(
        f"| {what} | {b:.2f} | {a:.2f} | {a - b:+.2f} | {a / b:.2f}x |" for what, b, a in rows
    )
    body = f"""`bench/bench_v4_cost.py`

{machine_summary()}

Nightly path of one root (`analyse(..., sessions=[last])`), best of {REPEATS}, alternating;
v2's levels table remembered as in a real run:

| series, root | v2 + v3 (s) | v2 + v3 + v4 (s) | v4 adds (s) | ratio |
|---|---:|---:|---:|---:|
{table}

- Demo: no session without a bar, v4 takes v2's remembered levels table and adds v3's forecast.
- Demo with gaps (a bar removed every {GAP_EVERY} sessions) and the real files (ES, NQ, YM, TF1
  as RTY; 18-34 sessions without a bar each): v4 builds its own levels table on the calendar.
"""
    if os.environ.get("BENCH_NO_WRITE") != "1":
        update_section("v4's cost: v3's rules on the trade calendar", body)


if __name__ == "__main__":
    main()
