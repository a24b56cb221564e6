"""Benchmark: what v3 costs on top of v2, and the two savings measured side by side.

1. v2's levels table (``pipeline.analysis.v2.calls.levels_table``) is remembered per process, so
   v3's call table (which composes it) does not build it again after v2 of the same root: the
   nightly path (``analyse(..., sessions=[last])``) of v2 then v3 on one root, with the memory
   cleared before each methodology ("before") and kept ("after"), alternating, best of N.
2. ``limited_move`` (v3's stable probabilities): the first version (a plain 48-step bisection,
   kept here as the reference) against the current one (the same bisection, the sum computed
   only near one), on the same random triples; the results must be bit-equal.

    .venv/bin/python bench/bench_v3_cost.py            # table + bench/RESULTS.md
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from machine import machine_summary, update_section

from pipeline.analysis.methodology import get
from pipeline.analysis.v2.calls import forget_levels_tables
from pipeline.analysis.v3.stability import limited_move
from pipeline.market.continuous import continuous_series
from pipeline.sources.demo import demo_bars

ROOTS = ("RTY", "ES", "NQ", "YM")
REPEATS = 3
TRIPLES = 20_000


def first_limited_move(model: np.ndarray, previous: np.ndarray, cap: float) -> np.ndarray:
    """The first version of ``limited_move``: bisection on the common shift, 48 steps."""
    m = [float(x) for x in model]
    low = [min(max(float(q) - cap, 0.0), 1.0) for q in previous]
    high = [min(max(float(q) + cap, 0.0), 1.0) for q in previous]

    def total(shift: float) -> float:
        return sum(min(max(x + shift, lo), hi) for x, lo, hi in zip(m, low, high, strict=True))

    lo_shift, hi_shift = -1.0, 1.0
    for _ in range(48):
        mid = (lo_shift + hi_shift) / 2
        if total(mid) < 1.0:
            lo_shift = mid
        else:
            hi_shift = mid
    out = [min(max(x + hi_shift, lo), hi) for x, lo, hi in zip(m, low, high, strict=True)]
    scale = sum(out)
    return np.array([x / scale for x in out])


def nightly_path(series: dict, root: str, *, keep_levels: bool) -> float:
    last = series[root]["session_date"].max()
    forget_levels_tables()
    started = time.perf_counter()
    for version in ("v2", "v3"):
        if not keep_levels:
            forget_levels_tables()
        get(version).analyse(series, root, source="demo", sessions=[last])
    return time.perf_counter() - started


def main() -> None:
    series = {root: continuous_series(demo_bars(root)) for root in ROOTS}
    rows = []
    for root in ROOTS:
        before, after = [], []
        for _ in range(REPEATS):  # alternating: both see the same load
            before.append(nightly_path(series, root, keep_levels=False))
            after.append(nightly_path(series, root, keep_levels=True))
        rows.append((root, min(before), min(after)))
        print(
            f"{root}: v2 then v3, levels built twice {min(before):.2f} s, once {min(after):.2f} s"
        )

    rng = np.random.default_rng(20261207)
    cases = []
    for i in range(TRIPLES):
        model, previous = rng.dirichlet([1, 1, 1]), rng.dirichlet([1, 1, 1])
        if i % 2 == 0:  # on the 4-decimal grid of published probabilities
            model = np.round(model, 4)
        cases.append((model, previous, float(rng.choice([0.095, 0.19]))))
    started = time.perf_counter()
    first = [first_limited_move(*case) for case in cases]
    first_us = (time.perf_counter() - started) / TRIPLES * 1e6
    started = time.perf_counter()
    current = [limited_move(*case) for case in cases]
    current_us = (time.perf_counter() - started) / TRIPLES * 1e6
    unequal = sum(not np.array_equal(a, b) for a, b in zip(first, current, strict=True))
    print(f"limited_move: first {first_us:.0f} µs, current {current_us:.0f} µs, {unequal} unequal")

    table = "\n".join(
        f"| {root}: v2 then v3, nightly path | {b:.2f} | {a:.2f} | {b / a:.2f}x |"
        for root, b, a in rows
    )
    body = f"""`bench/bench_v3_cost.py`

{machine_summary()}

Demo history (7,547 sessions a root), best of {REPEATS}, before and after alternating:

| what | before (s) | after (s) | ratio |
|---|---:|---:|---:|
{table}

- Before: v2's levels table built for v2 and again inside v3's call table; after: remembered
  once per process (`pipeline.analysis.v2.calls.levels_table`), tables equal.
- `limited_move` over {TRIPLES:,} random triples (half on the 4-decimal grid, caps 9.5 and 19
  points): first version {first_us:.0f} µs a session, current {current_us:.0f} µs
  ({first_us / current_us:.2f}x); results not bit-equal: {unequal}.
"""
    if os.environ.get("BENCH_NO_WRITE") != "1":
        update_section("v3's cost: one levels table for v2 and v3, the limited move", body)


if __name__ == "__main__":
    main()
