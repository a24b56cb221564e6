"""Benchmark: computing the calls for one root's full history.

Target (issue 3): < 0.5 s for one root's full history (~5,500 sessions), every session's call,
relative strength included. Also measures the zone clustering kernel, the per-session loop's hot
spot, against the first (dataclass) version kept here as a baseline, side by side.

    uv run python bench/bench_calls.py            # prints a table, updates bench/RESULTS.md
"""

from __future__ import annotations

import statistics
import sys
import time
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import polars as pl

sys.path.insert(0, str(Path(__file__).resolve().parent))
from machine import machine_summary, update_section

from pipeline.analysis.calls import call_table
from pipeline.analysis.levels import Candidate, Zone, cluster_zones
from pipeline.analysis.methodology import get
from pipeline.analysis.methodology import get as get_methodology
from pipeline.analysis.params import AnalysisParams
from pipeline.analysis.v2.calls import call_table as v2_call_table
from pipeline.market.continuous import continuous_series
from pipeline.sources.demo import demo_bars

#: Methodology v1's analysis (the registry's one driver).
analyse = get_methodology("v1").analyse

AS_OF = date(2026, 11, 20)
REPEATS = 7


def best_and_median(fn, repeats: int = REPEATS) -> tuple[float, float]:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times), statistics.median(times)


@dataclass(frozen=True)
class _ZoneV0:
    low: float
    high: float
    score: float
    touches: int
    sources: tuple[str, ...]


def cluster_zones_v0(
    candidates: list[tuple[float, str, float]], *, atr: float, p: AnalysisParams
) -> list[_ZoneV0]:
    """The first version: frozen dataclasses, a list per group, sums by comprehension."""
    gap, min_width = p.zone_cluster_atr * atr, p.zone_min_width_atr * atr
    ordered = sorted(candidates, key=lambda c: (c[0], c[1]))
    groups: list[list[tuple[float, str, float]]] = [[ordered[0]]]
    for c in ordered[1:]:
        if c[0] - groups[-1][-1][0] <= gap:
            groups[-1].append(c)
        else:
            groups.append([c])
    zones = []
    for g in groups:
        low, high = g[0][0], g[-1][0]
        if high - low < min_width:
            centre = (low + high) / 2
            low, high = centre - min_width / 2, centre + min_width / 2
        swings = [c for c in g if c[1] in ("swing_high", "swing_low")]
        score = sum(p.zone_touch_weight + p.zone_recency_weight * c[2] for c in swings)
        score += p.zone_ma_weight * sum(c[1] in ("sma50", "sma200") for c in g)
        zones.append(_ZoneV0(low, high, score, len(swings), tuple(sorted({c[1] for c in g}))))
    return zones


def main() -> None:
    roots = ("RTY", "ES", "NQ")
    series = {
        r: continuous_series(demo_bars(r).filter(pl.col("session_date") <= AS_OF)) for r in roots
    }
    rty = series["RTY"]
    peers = {"ES": series["ES"], "NQ": series["NQ"]}
    call_table(rty, tick=0.1)  # warm caches (calendar, polars)

    alone = best_and_median(lambda: call_table(rty, tick=0.1))
    with_peers = best_and_median(lambda: call_table(rty, tick=0.1, peers=peers))
    full = best_and_median(lambda: analyse(series, "RTY", source="demo"))
    one_day = best_and_median(lambda: analyse(series, "RTY", source="demo", sessions=[AS_OF]))

    # The clustering kernel on the candidate sets of the real history (one per session).
    params = AnalysisParams()
    table = call_table(rty, tick=0.1)
    sets = []
    swings = [
        (r["price"], "swing_high" if r["kind"] == "high" else "swing_low", r["pivot_index"])
        for r in __import__("pipeline.analysis.swings", fromlist=["swing_points"])
        .swing_points(rty, k=2)
        .iter_rows(named=True)
    ]
    for i, row in enumerate(table.iter_rows(named=True)):
        if not row["warm"]:
            continue
        visible = [s for s in swings if i - 250 < s[2] <= i - 2]
        extra = [
            (row["sma50"], "sma50", -1),
            (row["sma200"], "sma200", -1),
            (row["recent_high"], "recent_high", -1),
            (row["recent_low"], "recent_low", -1),
        ]
        sets.append((i, row["atr14"], visible + extra))
    new_sets = [(i, atr, [Candidate(*c) for c in cands]) for i, atr, cands in sets]
    old_sets = [
        (atr, [(c[0], c[1], 1 - (i - c[2]) / 250 if c[2] >= 0 else 0.0) for c in cands])
        for i, atr, cands in sets
    ]
    kernel_new = best_and_median(
        lambda: [cluster_zones(c, atr=a, as_of_index=i, params=params) for i, a, c in new_sets]
    )
    kernel_old = best_and_median(
        lambda: [cluster_zones_v0(c, atr=a, p=params) for a, c in old_sets]
    )
    check_new = [
        cluster_zones(c, atr=a, as_of_index=i, params=params) for i, a, c in new_sets[:200]
    ]
    check_old = [cluster_zones_v0(c, atr=a, p=params) for a, c in old_sets[:200]]
    assert all(
        [(z.low, z.high, z.touches) for z in n] == [(z.low, z.high, z.touches) for z in o]
        for n, o in zip(check_new, check_old, strict=True)
    )
    assert isinstance(check_new[0][0], Zone)

    # Methodology v2 beside v1: the same history, every call.
    v2_alone = best_and_median(lambda: v2_call_table(rty, tick=0.1))
    v2_with_peers = best_and_median(lambda: v2_call_table(rty, tick=0.1, peers=peers))
    v2_full = best_and_median(lambda: get("v2").analyse(series, "RTY", source="demo"))
    v2_one_day = best_and_median(
        lambda: get("v2").analyse(series, "RTY", source="demo", sessions=[AS_OF])
    )
    all_series = {
        **series,
        "YM": continuous_series(demo_bars("YM").filter(pl.col("session_date") <= AS_OF)),
    }

    def backfill_compute(version: str) -> int:
        return sum(
            get(version).analyse(all_series, root, source="demo").snapshots.height
            for root in ("RTY", "ES", "NQ", "YM")
        )

    snapshots_v1 = backfill_compute("v1")
    snapshots_v2 = backfill_compute("v2")
    demo_v1 = best_and_median(lambda: backfill_compute("v1"), repeats=3)
    demo_v2 = best_and_median(lambda: backfill_compute("v2"), repeats=3)

    sessions = rty.height
    calls = table.filter(pl.col("has_call")).height
    lines = [
        f"RTY demo history to {AS_OF}: {sessions:,} sessions, {calls:,} calls (after the 250-session warm-up).",
        "",
        "| what | best (s) | median (s) |",
        "|---|---:|---:|",
        f"| call_table, RTY alone | {alone[0]:.3f} | {alone[1]:.3f} |",
        f"| call_table, RTY with ES and NQ relative strength | {with_peers[0]:.3f} | {with_peers[1]:.3f} |",
        f"| analyse: call table + fingerprints + every snapshot row | {full[0]:.3f} | {full[1]:.3f} |",
        f"| analyse: the nightly call (one snapshot row) | {one_day[0]:.3f} | {one_day[1]:.3f} |",
        "",
        f"Target < 0.5 s for one root's full history: **{'met' if with_peers[0] < 0.5 else 'NOT met'}** "
        f"(best {with_peers[0]:.3f} s with relative strength).",
        "",
        f"Zone clustering kernel over the {len(sets):,} candidate sets of that history (one per session with a call), side by side:",
        "",
        "| version | best (s) | median (s) | per session (µs) |",
        "|---|---:|---:|---:|",
        f"| first version: frozen dataclasses, list per group | {kernel_old[0]:.3f} | {kernel_old[1]:.3f} | {kernel_old[0] / len(sets) * 1e6:.1f} |",
        f"| current: NamedTuples, one pass, recency from the pivot index | {kernel_new[0]:.3f} | {kernel_new[1]:.3f} | {kernel_new[0] / len(sets) * 1e6:.1f} |",
        f"| ratio first / current | {kernel_old[0] / kernel_new[0]:.2f}x | | |",
        "",
        "Methodology v2 on the same history (tight zones kept session to session, regimes, "
        "statement fields), side by side with v1 in the same run:",
        "",
        "| what | v1 best (s) | v2 best (s) | v2 / v1 |",
        "|---|---:|---:|---:|",
        f"| call_table, RTY alone | {alone[0]:.3f} | {v2_alone[0]:.3f} | {v2_alone[0] / alone[0]:.2f}x |",
        f"| call_table, RTY with ES and NQ | {with_peers[0]:.3f} | {v2_with_peers[0]:.3f} | {v2_with_peers[0] / with_peers[0]:.2f}x |",
        f"| analyse: every snapshot row | {full[0]:.3f} | {v2_full[0]:.3f} | {v2_full[0] / full[0]:.2f}x |",
        f"| analyse: the nightly call | {one_day[0]:.3f} | {v2_one_day[0]:.3f} | {v2_one_day[0] / one_day[0]:.2f}x |",
        f"| demo backfill compute, 4 roots ({snapshots_v1:,} / {snapshots_v2:,} snapshots) | {demo_v1[0]:.2f} | {demo_v2[0]:.2f} | {demo_v2[0] / demo_v1[0]:.2f}x |",
        f"| ... snapshots per second, one core | {snapshots_v1 / demo_v1[0]:,.0f} | {snapshots_v2 / demo_v2[0]:,.0f} | |",
    ]
    text = "\n".join(lines)
    print(machine_summary())
    print(text)
    update_section("Calls for one root", f"`bench/bench_calls.py`\n\n{machine_summary()}\n\n{text}")


if __name__ == "__main__":
    main()
