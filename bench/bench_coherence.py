"""Benchmark: coherence of v1 and v2 calls on the real files (issue 18), and evidence for v3.

For ES, NQ, YM and TF1 (as RTY) from ../shared/data, loaded as a user loads them
(tests/real_files.py: file source -> validation -> continuous series, YM with ^DJI and TF1 with
^RUT), every call of the whole history of v1 and v2 is computed, its note rendered as the site
renders it (with the previous call, so "What Changed" is there) and read by the coherence checker
(pipeline/audit/coherence: independent of the note writer). Printed: the violations per rule,
root and methodology; the issue's figures, reproduced or corrected; and the candidate
definitions methodology v3 needs, measured on the same calls:

- impulsive vs corrective pullbacks (which definitions split the data);
- barriers in crash / selloff regimes ("nearest tested structure" with limits in % and ATR);
- day-to-day probability moves: causes (Shapley attribution over v2's probability model) and
  smoothing / hysteresis rules, chosen on calls resolved before 2015, scored from 2015;
- the thesis decision (continuation / pause / reversal / tie) and how often each case occurs;
- drawdown and recovery figures under one definition.

    uv run python bench/bench_coherence.py                        # prints, updates RESULTS.md
    uv run python bench/bench_coherence.py --no-write --cache /work/notes/cache

``--cache DIR`` keeps the series, call tables, snapshot rows and rendered notes as Parquet
there and reuses them (delete the files after a methodology change).
"""

from __future__ import annotations

import argparse
import itertools
import math
import sys
import textwrap
import time
from collections.abc import Callable, Iterator
from datetime import date
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from machine import machine_summary, update_section

from pipeline.analysis.assemble import snapshots_from_frame
from pipeline.analysis.methodology import get
from pipeline.analysis.probability_model import brownian_scenarios
from pipeline.analysis.scenarios import resolve_barriers
from pipeline.analysis.swings import swing_points
from pipeline.analysis.v2.params import V2Params
from pipeline.audit.coherence import (
    RULES,
    CoherenceParams,
    CoherenceReport,
    StoredCall,
    check_calls,
)
from pipeline.audit.quality import QualityParams, crash_sessions
from pipeline.audit.scores import (
    block_bootstrap_skill,
    paired_difference,
    ranked_probability_score,
    reliability_tables,
)
from pipeline.report.note import render_note
from tests.real_files import NEW_ROOTS, available, real_series

ROOTS = ("ES", "NQ", "YM", "RTY")
THREE = ("ES", "NQ", "YM")  # the issue's figures and the v3 targets: ES, NQ and YM
METHODOLOGIES = ("v1", "v2", "v3")
SPLIT = date(2015, 1, 1)  # parameters chosen on calls resolved before, scored on calls from
H = 20  # the scenarios' horizon, sessions
V2 = V2Params()
SCENARIOS = ("bear", "sideways", "bull")


# --- loading ---------------------------------------------------------------------------------


def cached(path: Path | None, build: Callable[[], pl.DataFrame]) -> pl.DataFrame:
    if path is not None and path.exists():
        return pl.read_parquet(path)
    frame = build()
    if path is not None:
        frame.write_parquet(path)
    return frame


def load(
    cache: Path | None,
    roots: tuple[str, ...] = ROOTS,
    methodologies: tuple[str, ...] = METHODOLOGIES,
) -> tuple[dict, dict, dict]:
    """Call tables, snapshot rows (sorted by as-of) and rendered notes per (root, methodology)."""

    def at(name: str) -> Path | None:
        return None if cache is None else cache / name

    series = {r: cached(at(f"series_{r}.parquet"), lambda r=r: real_series(r)) for r in roots}
    tables, rows, notes = {}, {}, {}
    for root, m in itertools.product(roots, methodologies):
        table_path, rows_path = at(f"{m}_table_{root}.parquet"), at(f"{m}_snapshots_{root}.parquet")
        if table_path is not None and table_path.exists() and rows_path and rows_path.exists():
            tables[(root, m)], rows[(root, m)] = (
                pl.read_parquet(table_path),
                pl.read_parquet(rows_path),
            )
        else:
            analysis = get(m).analyse(series, root, source="file")
            tables[(root, m)], rows[(root, m)] = analysis.table, analysis.snapshots.sort("as_of")
            if table_path is not None and rows_path is not None:
                tables[(root, m)].write_parquet(table_path)
                rows[(root, m)].write_parquet(rows_path)
        rows[(root, m)] = rows[(root, m)].sort("as_of")

        def render(frame: pl.DataFrame = rows[(root, m)]) -> pl.DataFrame:
            snaps = snapshots_from_frame(frame)
            text = [
                render_note(s, previous=snaps[i - 1] if i else None) for i, s in enumerate(snaps)
            ]
            return pl.DataFrame({"as_of": frame["as_of"], "note": text})

        notes[(root, m)] = cached(at(f"notes_{m}_{root}.parquet"), render)
        assert notes[(root, m)]["as_of"].to_list() == rows[(root, m)]["as_of"].to_list()
    return tables, rows, notes


def stored_calls(rows: dict, notes: dict) -> Iterator[StoredCall]:
    for key, frame in rows.items():
        for values, note in zip(frame.to_dicts(), notes[key]["note"].to_list(), strict=True):
            yield StoredCall(values, note)


# --- formatting --------------------------------------------------------------------------------


def pct(x: float | None, digits: int = 1) -> str:
    return (
        "n/a" if x is None or (isinstance(x, float) and math.isnan(x)) else f"{100 * x:.{digits}f}%"
    )


def label(root: str) -> str:
    return "TF1" if root == "RTY" else root


def wrapped(text: str, width: int = 100) -> str:
    """Prose lines wrapped at ``width`` columns (list items indented); table rows kept whole."""
    out = []
    for line in text.splitlines():
        if line.startswith("|") or len(line) <= width:
            out.append(line)
            continue
        indent = "  " if line.startswith("- ") else ""
        out.append(textwrap.fill(line, width=width, subsequent_indent=indent,
                                 break_long_words=False, break_on_hyphens=False))  # fmt: skip
    return "\n".join(out)


def md_table(header: list[str], body: list[list[Any]]) -> list[str]:
    align = ["---"] + ["---:"] * (len(header) - 1)
    return [
        "| " + " | ".join(header) + " |",
        "|" + "|".join(align) + "|",
        *("| " + " | ".join(str(c) for c in row) + " |" for row in body),
    ]


# --- the baseline: violations per rule ------------------------------------------------------------


def baseline_table(
    report: CoherenceReport,
    roots: tuple[str, ...] = ROOTS,
    methodologies: tuple[str, ...] = METHODOLOGIES,
) -> list[str]:
    table = report.table()
    cols = [(r, m) for r in roots for m in methodologies]
    get_row = {(x["root"], x["methodology"]): x for x in table.iter_rows(named=True)}
    header = ["rule (point)", *(f"{label(r)} {m}" for r, m in cols)]
    body = [["calls", *(f"{get_row[c]['calls']:,}" for c in cols)]]
    for rule in RULES:
        body.append([f"{rule.id} ({rule.point})", *(f"{get_row[c][rule.id]:,}" for c in cols)])
    for name, what in (
        ("moves_over_10_share", "moves > 10 points"),
        ("moves_over_20_share", "moves > 20 points"),
        ("band_pct_median", "band, median % of price"),
        ("crash_band_pct_median", "crash/selloff band, median"),
        ("crash_band_pct_max", "crash/selloff band, max"),
    ):
        body.append([what, *(pct(get_row[c][name]) for c in cols)])
    return md_table(header, body)


# --- the issue's figures --------------------------------------------------------------------------


def issue_figures(tables: dict, rows: dict, report: CoherenceReport) -> list[str]:
    """The figures of issue 18, recomputed on v2 (ES, NQ, YM pooled unless named)."""
    v2 = pl.concat([rows[(r, "v2")] for r in THREE])
    outcome = pl.concat(
        [
            tables[(r, "v2")]
            .filter(pl.col("has_call"))
            .select(pl.lit(r).alias("root"), pl.col("session_date").alias("as_of"), "outcome")
            for r in THREE
        ]
    )
    v2 = v2.join(outcome, on=["root", "as_of"], how="left")
    pmin = pl.min_horizontal("p_bear", "p_sideways", "p_bull")
    pmax = pl.max_horizontal("p_bear", "p_sideways", "p_bull")
    bearish = v2.filter(pl.col("primary_trend") == "Bearish")
    least = bearish.filter(pl.col("p_bear") <= pmin)
    least_resolved = least.filter(pl.col("outcome") >= 0)
    bullish = v2.filter(pl.col("primary_trend") == "Bullish")
    bull_bear_top = bullish.filter(pl.col("p_bear") >= pmax)
    v = report.violations.filter((pl.col("methodology") == "v2") & pl.col("root").is_in(THREE))
    facts = report.calls.filter((pl.col("methodology") == "v2") & pl.col("root").is_in(THREE))
    thesis_bearish = v.filter(pl.col("rule") == "thesis_least_likely").join(
        bearish.select("root", "as_of"), on=["root", "as_of"]
    )
    lines = [
        f"- Bearish calls: {bearish.height:,}; bear the least likely scenario in "
        f"{least.height:,} ({pct(least.height / bearish.height)}; issue: 1,573 of 2,891, 54 %); "
        f"the checker flags the thesis of {thesis_bearish.height:,} of them "
        "(every one says 'continuation of the decline'). "
        f"Of those resolved, {pct((least_resolved['outcome'] == 0).mean())} ended bear "
        "(issue: 14 %).",
        f"- Bullish calls: {bullish.height:,}; bear the most likely in {bull_bear_top.height:,} "
        f"({pct(bull_bear_top.height / bullish.height)}; issue: 13.7 %).",
    ]
    # Crash calls: the close >= 20 % below the 30-session high (pipeline/audit/quality.py).
    band = []
    for r in THREE:
        t = tables[(r, "v2")]
        t = t.with_columns(crash_sessions(t, QualityParams())).filter(pl.col("has_call"))
        band.append(
            t.select(
                "crash_session",
                "perspective",
                ((pl.col("upper_internal") - pl.col("lower_internal")) / pl.col("factor")
                 / pl.col("raw_close")).alias("band_pct"),
                (
                    pl.when(pl.col("orientation") == "up")
                    .then(pl.col("close") - (pl.col("line_high") * pl.col("factor") + pl.col("offset")))
                    .otherwise(pl.col("line_low") * pl.col("factor") + pl.col("offset") - pl.col("close"))
                    / pl.col("atr14")
                ).alias("line_atr"),
            )
        )  # fmt: skip
    b = pl.concat(band)
    crash = b.filter(pl.col("crash_session"))
    regime = b.filter(pl.col("perspective").is_in(["crash", "selloff"]))
    lines += [
        f"- Crash calls (close >= 20 % below the 30-session high): {crash.height}; band between "
        f"the barriers median {pct(crash['band_pct'].median())}, max "
        f"{pct(crash['band_pct'].max())} of price (issue: 17.7 %, up to 47 %: not reproduced on "
        f"this main; perspectives crash or selloff, {regime.height:,} calls: median "
        f"{pct(regime['band_pct'].median())}, max {pct(regime['band_pct'].max())}). Line more "
        f"than 3 ATR from the close: {pct((crash['line_atr'] > 3).mean())} of crash calls, "
        f"{pct((b['line_atr'] > 3).mean())} of all calls (issue: 38 % and 22 %).",
    ]
    moves = facts.filter(pl.col("move").is_not_null())
    big = moves.filter(pl.col("move").abs() > 0.2)
    barrier_moved = []
    for r in THREE:
        t = tables[(r, "v2")].filter(pl.col("has_call"))
        moved = (pl.col("upper_internal").diff().abs() > 1e-6) | (
            pl.col("lower_internal").diff().abs() > 1e-6
        )
        barrier_moved.append(
            t.select(
                pl.lit(r).alias("root"), pl.col("session_date").alias("as_of"), moved.alias("m")
            )
        )
    big = big.join(pl.concat(barrier_moved), on=["root", "as_of"], how="left")
    lines += [
        f"- Sessions where a scenario moved more than 20 points: {big.height:,} of "
        f"{moves.height:,} ({pct(big.height / moves.height)}; issue: 3,571, 19.9 %); in "
        f"{(~big['m']).sum():,} no barrier (line or bias) moved (issue: 1,543 with no level "
        f"changed). More than 10 points: {pct((moves['move'].abs() > 0.1).mean())} (issue: 46 %).",
    ]
    sma50 = v2.filter(pl.col("risk_rule").str.contains("sma50"))
    gap = facts["risk_gap_atr"].drop_nulls()
    risk_vs_line = sma50.select(
        (
            pl.max_horizontal(
                pl.col("line_low") - pl.col("risk_level"),
                pl.col("risk_level") - pl.col("line_high"),
            )
            / pl.col("atr14")
        ).alias("d")
    )["d"]
    lines += [
        f"- Two invalidation levels: the risk rule is the 50-day, not the line, in "
        f"{pct(sma50.height / v2.height)} of calls (issue: 36 %), the two "
        f"{risk_vs_line.abs().median():.2f} ATR apart on the median (issue: about 1); "
        f"the risk level lies more than 0.5 ATR outside the line in {pct((gap > 0.5).mean())} "
        f"(issue: 26.9 %).",
    ]
    above = v2.filter(
        (pl.col("primary_trend") == "Bearish")
        & (pl.col("close") > pl.col("sma50"))
        & (pl.col("close") > pl.col("sma200"))
    )
    rising = above.filter((pl.col("sma50_change") > 0) & (pl.col("sma200_change") > 0))
    below = v2.filter(
        (pl.col("primary_trend") == "Bullish")
        & (pl.col("close") < pl.col("sma50"))
        & (pl.col("close") < pl.col("sma200"))
    )
    falling = below.filter((pl.col("sma50_change") < 0) & (pl.col("sma200_change") < 0))
    speed = pl.concat(
        [tables[(r, "v2")].filter(pl.col("has_call")).select("pullback_speed") for r in THREE]
    )["pullback_speed"].drop_nulls()
    broadening = v.filter(
        (pl.col("rule") == "peer_reading") & pl.col("subject").str.contains("broadening")
    )
    ties = v.filter(pl.col("rule") == "most_likely_near_tie")
    exact = ties.filter(pl.col("value") == 0)
    lines += [
        f"- Bearish with the close above both averages: {above.height} (issue: 71); above both "
        f"*rising* averages: {rising.height}. Bullish below both: {below.height}, below both "
        f"falling: {falling.height}.",
        f"- 'Impulsive' on {pct((speed == 'impulsive').mean())} of pullback statements "
        "(issue: 92 %).",
        "- 'Broadening participation' for a large cap leading a large cap: "
        + ", ".join(f"{label(r)} {broadening.filter(pl.col('root') == r).height:,}" for r in THREE)
        + " notes.",
        f"- 'Most likely' on a near tie (< 2 points): {ties.height:,} notes, {exact.height} of "
        "them exact ties.",
    ]
    return lines


def v3_against_v2(
    tables: dict,
    report: CoherenceReport,
    roots: tuple[str, ...] = ROOTS,
    methodologies: tuple[str, ...] = ("v2", "v3"),
) -> list[str]:
    """Issue 18's "done when" on v3 beside v2: the checker's points 1, 2 and 5 (violations),
    stability (moves > 20 / > 10 points, every move > 10 with a printed cause), and the
    probabilities from 2015 (skill against each one's own barrier-geometry base rates, with a
    block-bootstrap 90 % interval; reliability buckets whose 90 % band misses the forecast)."""
    points = {rule.id: rule.point for rule in RULES}
    v = report.violations.with_columns(
        pl.col("rule").replace_strict(points, return_dtype=pl.Int64).alias("point")
    )
    header = [
        "root", "methodology", "calls", "points 1 / 2 / 5", "moves > 20 / > 10 (cause unprinted)",
        "skill vs geometry from 2015 [90 %]", "buckets out",
    ]  # fmt: skip
    body = []
    for r in roots:
        for m in methodologies:
            mine = v.filter((pl.col("root") == r) & (pl.col("methodology") == m))
            calls = report.calls.filter((pl.col("root") == r) & (pl.col("methodology") == m))
            moves = calls["move"].drop_nulls().abs()
            unexplained = mine.filter(pl.col("rule") == "unexplained_move").height
            by_point = [mine.filter(pl.col("point") == k).height for k in (1, 2, 5)]
            t = (
                tables[(r, m)]
                .with_columns(
                    pl.int_range(pl.len()).alias("session"),
                    pl.col("session_date").shift(-H).alias("horizon_end"),
                )
                .filter(pl.col("has_call"))
            )
            scores = smoothed_scores(t, t.select(*(f"p_{k}" for k in SCENARIOS)).to_numpy())
            skill = block_bootstrap_skill(scores["rq"], scores["rg"], horizon=H, n_boot=1000)
            body.append(
                [
                    label(r),
                    m,
                    f"{calls.height:,}",
                    " / ".join(f"{n:,}" for n in by_point),
                    f"{pct(float((moves > 0.2 + MOVE_EPS).mean()))} / "
                    f"{pct(float((moves > 0.1 + MOVE_EPS).mean()))} ({unexplained:,})",
                    f"{skill.skill:+.3f} [{skill.low:+.3f}, {skill.high:+.3f}]",
                    f"{scores['outside']}/{scores['buckets']}",
                ]
            )
    return [
        "Per root: violations of issue 18's points 1, 2 and 5 (the checker), the share of "
        "sessions where a scenario moved more than 20 / 10 points (and how many moves over 10 "
        "points had no cause printed in the note), and from 2015 the skill of the published "
        "probabilities against each methodology's own barrier-geometry base rates "
        "(point in time; each resolves on its own barriers, so raw RPS does not rank them).",
        "",
        *md_table(header, body),
    ]


def examples(report: CoherenceReport) -> list[str]:
    """The issue's example notes, as the checker reports them."""
    wanted = [
        ("ES", date(2020, 4, 9)), ("ES", date(2002, 9, 26)), ("ES", date(2020, 3, 23)),
        ("ES", date(2020, 3, 16)), ("NQ", date(2022, 6, 16)), ("RTY", date(2008, 10, 10)),
        ("YM", date(2024, 11, 11)),
    ]  # fmt: skip
    v = report.violations.filter(pl.col("methodology") == "v2")
    lines = []
    for root, day in wanted:
        found = v.filter((pl.col("root") == root) & (pl.col("as_of") == day))
        rules = ", ".join(sorted(set(found["rule"].to_list()))) or "none"
        lines.append(f"- {label(root)} {day}: {rules}")
    return lines


# --- impulsive vs corrective ---------------------------------------------------------------------


def pullback_cases(table: pl.DataFrame) -> pl.DataFrame:
    """Every v2 call with a pullback speed, with its geometry (pipeline/analysis/v2/pullback.py):
    the impulse start s, the extreme e, the pullback's furthest point b."""
    index = {d: i for i, d in enumerate(table["session_date"].to_list())}
    hi, lo = table["high"].to_numpy().astype(float), table["low"].to_numpy().astype(float)
    atr = table["atr14"].to_numpy().astype(float)
    out = []
    calls = table.filter(pl.col("has_call") & pl.col("pullback_speed").is_not_null())
    for o, sd, ed, bd, speed in calls.select(
        "orientation", "pullback_start_date", "pullback_extreme_date", "pullback_low_date",
        "pullback_speed",
    ).iter_rows():  # fmt: skip
        s, e, b = index[sd], index[ed], index[bd]
        toward, against = (hi, lo) if o == "up" else (-lo, -hi)
        n = b - e
        given = toward[e] - against[b]
        impulse = toward[e] - against[s]
        j = max(s, e - n)
        last_leg = (toward[e] - against[j : e + 1].min()) / max(e - j, 1)
        out.append(
            {
                "sessions": n,
                "v2": speed == "impulsive",
                "atr_speed": given / n / atr[e],
                "last_leg": given / n > last_leg,
                "whole": given / n > impulse / max(e - s, 1),
            }
        )
    return pl.DataFrame(out)


def pullback_study(tables: dict) -> list[str]:
    cases = {r: pullback_cases(tables[(r, "v2")]) for r in ROOTS}
    candidates: list[tuple[str, int, pl.Expr]] = [
        ("v2: faster than the whole impulse's average", 1, pl.col("v2")),
        ("faster than the impulse's last n sessions", 1, pl.col("last_leg")),
        ("faster than the impulse's last n sessions", 2, pl.col("last_leg")),
        ("faster than the impulse's last n sessions", 3, pl.col("last_leg")),
        ("more than 0.5 ATR a session", 1, pl.col("atr_speed") > 0.5),
        ("more than 0.5 ATR a session", 2, pl.col("atr_speed") > 0.5),
        ("more than 0.75 ATR a session", 1, pl.col("atr_speed") > 0.75),
        ("more than 1 ATR a session", 1, pl.col("atr_speed") > 1.0),
    ]
    body = []
    for name, minimum, expr in candidates:
        cells = []
        for r in ROOTS:
            c = cases[r].filter(pl.col("sessions") >= minimum)
            cells.append(pct(c.select(expr.mean()).item(), 0))
        body.append([name, f">= {minimum}", *cells])
    counts = [
        f">= {n}: "
        + ", ".join(
            f"{label(r)} {cases[r].filter(pl.col('sessions') >= n).height:,}" for r in ROOTS
        )
        for n in (1, 2, 3)
    ]
    return [
        *md_table(
            ["impulsive if the pullback gave back ...", "sessions", *(label(r) for r in ROOTS)],
            body,
        ),
        "",
        "Statements (calls with a pullback speed) by the pullback's length in sessions: "
        + "; ".join(counts)
        + ".",
    ]


# --- barriers in a crash -----------------------------------------------------------------------


def crash_barriers(
    table: pl.DataFrame, *, regime: tuple[str, ...], min_gap_atr: float, max_pct: float,
    max_atr: float, target_min_atr: float = 0.5, lookback: int = 250,
) -> pl.DataFrame:  # fmt: skip
    """Barriers at the nearest tested structure for the calls of ``regime``: the nearest
    confirmed swing (high or low, either polarity) of the last ``lookback`` sessions, the fall's
    low or the rebound's high since it, at least ``min_gap_atr`` ATR from the close; at most
    min(``max_pct`` of price, ``max_atr`` ATR) away, else projected at that distance. A target
    is the next tested structure at least ``target_min_atr`` ATR beyond the barrier. Outcomes
    resolved by v2's rule on the new barriers."""
    index = {d: i for i, d in enumerate(table["session_date"].to_list())}
    hi, lo, close, atr = (
        table[c].to_numpy().astype(float) for c in ("high", "low", "close", "atr14")
    )
    raw, factor = (
        table["raw_close"].to_numpy().astype(float),
        table["factor"].to_numpy().astype(float),
    )
    swings = swing_points(table, k=V2.fractal_k).select("pivot_index", "price", "confirm_index")
    sw = swings.to_numpy()
    upper = table["upper_internal"].fill_null(np.nan).to_numpy().astype(float).copy()
    lower = table["lower_internal"].fill_null(np.nan).to_numpy().astype(float).copy()
    v2_band = (upper - lower) / factor / raw
    perspective, has_call = table["perspective"].to_list(), table["has_call"].to_list()
    fall_low = table["fall_low_date"].to_list()
    rows = []
    for i in range(table.height):
        if not has_call[i] or perspective[i] not in regime:
            continue
        c, a = close[i], atr[i]
        limit, gap = min(max_pct * raw[i] * factor[i], max_atr * a), min_gap_atr * a
        visible = sw[(sw[:, 2] <= i) & (sw[:, 0] > i - lookback)]
        prices = list(visible[:, 1])
        j = index.get(fall_low[i]) if fall_low[i] is not None else None
        if j is not None:
            prices.append(lo[j])
            if j + 1 < i:
                prices.append(hi[j + 1 : i].max())
        p = np.array(prices)
        above, below = np.sort(p[p >= c + gap]), np.sort(p[p <= c - gap])[::-1]
        up_tested = bool(above.size) and above[0] - c <= limit
        down_tested = bool(below.size) and c - below[0] <= limit
        u = above[0] if up_tested else c + limit
        d = below[0] if down_tested else c - limit
        upper[i], lower[i] = u, d
        rows.append(
            {
                "i": i,
                "band_pct": (u - d) / factor[i] / raw[i],
                "band_atr": (u - d) / a,
                "v2_band_pct": v2_band[i],
                "tested_up": up_tested,
                "tested_down": down_tested,
                "bull_target": bool((above >= u + target_min_atr * a).any()),
                "bear_target": bool((below <= d - target_min_atr * a).any()),
            }
        )
    frame = pl.DataFrame(rows)
    if frame.height == 0:
        return frame
    threshold = atr * V2.acceptance_atr
    outcome, _ = resolve_barriers(
        close, upper, lower, threshold, horizon=H, sessions=V2.acceptance_sessions
    )
    return frame.with_columns(pl.Series("outcome", outcome[frame["i"].to_numpy()]))


def v2_targets(rows: pl.DataFrame, regime: tuple[str, ...]) -> tuple[float, float]:
    """Share of v2's bull / bear scenarios in ``regime`` with a tested (not projected) target
    at least 0.5 ATR beyond the trigger."""
    r = rows.filter(pl.col("perspective").is_in(regime))
    up = pl.col("orientation") == "up"
    bull_low = pl.when(up).then(pl.col("ext_low")).otherwise(pl.col("deep_low"))
    bull_proj = pl.when(up).then(pl.col("ext_projected")).otherwise(pl.col("deep_projected"))
    bear_high = pl.when(up).then(pl.col("deep_high")).otherwise(pl.col("ext_high"))
    bear_proj = pl.when(up).then(pl.col("deep_projected")).otherwise(pl.col("ext_projected"))
    shares = r.select(
        (((bull_low - pl.col("upper_barrier")) / pl.col("atr14") >= 0.5) & ~bull_proj).mean(),
        (((pl.col("lower_barrier") - bear_high) / pl.col("atr14") >= 0.5) & ~bear_proj).mean(),
    ).row(0)
    return float(shares[0]), float(shares[1])


def barrier_study(tables: dict, rows: dict) -> list[str]:
    lines = []
    for regime in (("crash",), ("crash", "selloff")):
        body = []
        v2_rows = pl.concat([rows[(r, "v2")] for r in THREE])
        bull_t, bear_t = v2_targets(v2_rows, regime)
        settings = [(0.25, 1.0, 99.0)] + [
            (g, p, 4.0) for g in (0.25, 0.5, 1.0) for p in (0.075, 0.05)
        ]
        first = True
        for gap, max_pct, max_atr in settings:
            frame = pl.concat(
                [
                    crash_barriers(
                        tables[(r, "v2")], regime=regime, min_gap_atr=gap, max_pct=max_pct,
                        max_atr=max_atr,
                    )
                    for r in THREE
                ]
            )  # fmt: skip
            resolved = frame.filter(pl.col("outcome") >= 0)
            if first:
                v2_out = pl.concat(
                    [
                        tables[(r, "v2")]
                        .filter(pl.col("has_call") & pl.col("perspective").is_in(regime))
                        .filter(pl.col("outcome") >= 0)
                        .select("outcome")
                        for r in THREE
                    ]
                )["outcome"]
                body.append(
                    [
                        "v2 as published", "-", pct(frame["v2_band_pct"].median()),
                        pct(frame["v2_band_pct"].max()), "-", "-", pct(bull_t, 0), pct(bear_t, 0),
                        " / ".join(pct((v2_out == k).mean(), 0) for k in (0, 1, 2)),
                    ]
                )  # fmt: skip
                first = False
            limit = "none" if max_pct >= 1 else f"{max_pct:.1%}, {max_atr:g} ATR"
            body.append(
                [
                    f"nearest >= {gap:g}",
                    limit,
                    pct(frame["band_pct"].median()),
                    pct(frame["band_pct"].max()),
                    f"{frame['band_atr'].median():.1f}",
                    f"{pct(frame['tested_up'].mean(), 0)} / {pct(frame['tested_down'].mean(), 0)}",
                    pct(frame["bull_target"].mean(), 0),
                    pct(frame["bear_target"].mean(), 0),
                    " / ".join(pct((resolved["outcome"] == k).mean(), 0) for k in (0, 1, 2)),
                ]
            )
        lines += [
            f"Calls with perspective {' or '.join(regime)} (ES, NQ, YM: {frame.height:,} calls):",
            "",
            *md_table(
                [
                    "barriers",
                    "limit/side",
                    "band",
                    "max",
                    "ATR",
                    "tested up/dn",
                    "bull tgt",
                    "bear tgt",
                    "bear/side/bull",
                ],
                body,
            ),
            "",
        ]
    return lines


# --- probability stability -----------------------------------------------------------------------

FACTORS = ("levels", "price", "volatility")


def _model(u: np.ndarray, lo: np.ndarray, c: np.ndarray, atr: np.ndarray, sd: np.ndarray,
           drift: np.ndarray) -> np.ndarray:  # fmt: skip
    return brownian_scenarios(
        (u - c) / atr, (c - lo) / atr, sd, params=V2.probability_model, drift_atr=drift
    )


def move_causes(table: pl.DataFrame) -> pl.DataFrame:
    """Per pair of consecutive v2 calls: the largest scenario move of v2's probability model
    and its Shapley attribution to the barriers (levels), the close (price) and the ATR with the
    volatility regime (volatility); the drift is constant in v2's published model."""
    t = table.filter(pl.col("has_call"))
    a = {
        c: t[c].to_numpy().astype(float)
        for c in ("upper_internal", "lower_internal", "close", "atr14", "model_sd_atr",
                  "model_drift_atr", "high", "low")
    }  # fmt: skip
    now = {"levels": (a["upper_internal"][1:], a["lower_internal"][1:]), "price": a["close"][1:],
           "volatility": (a["atr14"][1:], a["model_sd_atr"][1:])}  # fmt: skip
    then = {"levels": (a["upper_internal"][:-1], a["lower_internal"][:-1]),
            "price": a["close"][:-1], "volatility": (a["atr14"][:-1], a["model_sd_atr"][:-1])}  # fmt: skip
    drift = a["model_drift_atr"][:-1]

    def f(subset: tuple[str, ...]) -> np.ndarray:
        g = {k: (now if k in subset else then)[k] for k in FACTORS}
        return _model(*g["levels"], g["price"], *g["volatility"], drift)

    values = {s: f(s) for r in range(4) for s in itertools.combinations(FACTORS, r)}
    move = values[FACTORS] - values[()]
    k = np.abs(move).argmax(axis=1)
    n = np.arange(len(k))
    contribution = {}
    for g in FACTORS:
        others = [x for x in FACTORS if x != g]
        total = np.zeros(len(k))
        for r in range(3):
            for s in itertools.combinations(others, r):
                with_g = tuple(x for x in FACTORS if x in (*s, g))
                weight = math.factorial(len(s)) * math.factorial(2 - len(s)) / 6
                total += weight * (values[with_g][n, k] - values[s][n, k])
        contribution[g] = total
    stacked = np.column_stack([contribution[g] for g in FACTORS])
    moved = (np.abs(np.diff(a["upper_internal"])) > 1e-6) | (
        np.abs(np.diff(a["lower_internal"])) > 1e-6
    )
    touched = (a["high"][1:] >= a["upper_internal"][:-1]) | (
        a["low"][1:] <= a["lower_internal"][:-1]
    )
    trend, persp = t["primary_trend"].to_numpy(), t["perspective"].to_numpy()
    stored = t.select("p_bear", "p_sideways", "p_bull").to_numpy()
    return pl.DataFrame(
        {
            "as_of": t["session_date"][1:],
            "stored_move": np.abs(np.diff(stored, axis=0)).max(axis=1),
            "cause": np.array(FACTORS)[np.abs(stacked).argmax(axis=1)],
            "barrier_moved": moved,
            "touched": touched,
            "regime_changed": (trend[1:] != trend[:-1]) | (persp[1:] != persp[:-1]),
            "close_move_atr": np.abs(np.diff(a["close"])) / a["atr14"][:-1],
        }
    )


def causes_table(tables: dict) -> list[str]:
    moves = pl.concat([move_causes(tables[(r, "v2")]) for r in THREE])
    body = []
    for threshold in (0.1, 0.2):
        s = moves.filter(pl.col("stored_move") > threshold)
        for cause in FACTORS:
            c = s.filter(pl.col("cause") == cause)
            if c.height == 0:
                continue
            body.append(
                [
                    f"> {100 * threshold:.0f} points",
                    cause,
                    f"{c.height:,} ({pct(c.height / s.height, 0)})",
                    pct(c["barrier_moved"].mean(), 0),
                    pct(c["touched"].mean(), 0),
                    pct(c["regime_changed"].mean(), 0),
                    f"{c['close_move_atr'].median():.2f}",
                ]
            )
    return md_table(
        ["move", "largest cause", "sessions", "barrier moved", "touched", "regime changed",
         "close move ATR"],
        body,
    )  # fmt: skip


def ema(p: np.ndarray, alpha: float) -> np.ndarray:
    q = p.copy()
    for i in range(1, len(p)):
        q[i] = alpha * p[i] + (1 - alpha) * q[i - 1]
    return q


def capped(p: np.ndarray, cap: float, free: np.ndarray | None = None) -> np.ndarray:
    """Each session's move scaled down so no scenario moves more than ``cap`` (the three still
    sum to 1); ``free`` sessions (a barrier moved) take the model's value."""
    q = p.copy()
    for i in range(1, len(p)):
        if free is not None and free[i]:
            continue
        d = p[i] - q[i - 1]
        m = np.abs(d).max()
        q[i] = q[i - 1] + d * min(1.0, cap / m) if m > 0 else q[i - 1]
    return q


def barrier_moved(t: pl.DataFrame) -> np.ndarray:
    u, lo = t["upper_internal"].to_numpy(), t["lower_internal"].to_numpy()
    moved = np.zeros(len(u), dtype=bool)
    moved[1:] = (np.abs(np.diff(u)) > 1e-6) | (np.abs(np.diff(lo)) > 1e-6)
    return moved


#: Smoother families: (name, parameter grid from the weakest, smoother). A cap of 0.199: a move
#: capped at exactly 0.2 is not "over 20 points", but float rounding may leave it a hair above.
SMOOTHERS: list[tuple[str, list[float], Callable[[pl.DataFrame, np.ndarray, float], np.ndarray]]] = [
    ("EMA, weight a on today", [0.7, 0.6, 0.5, 0.35], lambda t, p, a: ema(p, a)),
    ("move capped at c", [0.3, 0.25, 0.199, 0.15], lambda t, p, c: capped(p, c)),
    ("cap, barrier move free", [0.199, 0.1], lambda t, p, c: capped(p, c, barrier_moved(t))),
]  # fmt: skip
MOVE_EPS = 1e-9  # float slack: a move capped at exactly c is not "over c"


def smoothed_scores(t: pl.DataFrame, q: np.ndarray) -> dict[str, Any]:
    """From 2015: the moves of ``q`` and its scores against v2's own and the geometry's."""
    moves = np.abs(np.diff(q, axis=0)).max(axis=1)
    days = t["session_date"].to_numpy()[1:]
    scored = t.with_columns(
        *(pl.Series(f"q_{k}", q[:, i]) for i, k in enumerate(SCENARIOS))
    ).filter((pl.col("outcome") >= 0) & (pl.col("session_date") >= SPLIT))
    o = scored["outcome"].to_numpy()

    def rps(prefix: str) -> np.ndarray:
        return ranked_probability_score(
            scored.select(*(f"{prefix}_{k}" for k in SCENARIOS)).to_numpy(), o
        )

    rq, rp, rg = rps("q"), rps("p"), rps("geo")
    rel = reliability_tables(
        scored.select("q_bear", "q_sideways", "q_bull").to_numpy(),
        o,
        session=scored["session"].to_numpy(),
        horizon=H,
    )
    outside = rel.filter(
        (pl.col("mean_forecast") < pl.col("frequency_low"))
        | (pl.col("mean_forecast") > pl.col("frequency_high"))
    ).height
    return {
        "pre": moves[days < np.datetime64(SPLIT)],
        "post": moves[days >= np.datetime64(SPLIT)],
        "rq": rq,
        "rp": rp,
        "rg": rg,
        "outside": outside,
        "buckets": rel.height,
    }


def smoothing_study(tables: dict) -> list[str]:
    """Per smoother family the weakest parameter whose share of sessions with a > 20-point move
    on ES, NQ, YM calls before 2015 is <= 5 % is chosen; every parameter tried is shown,
    scored from 2015 (skill and reliability as the probability-model benchmark computes them)."""
    t_by_root = {
        r: tables[(r, "v2")]
        .with_columns(
            pl.int_range(pl.len()).alias("session"),
            pl.col("session_date").shift(-H).alias("horizon_end"),
        )
        .filter(pl.col("has_call"))
        for r in ROOTS
    }
    published = {
        r: t.select("p_bear", "p_sideways", "p_bull").to_numpy().astype(float)
        for r, t in t_by_root.items()
    }
    variants = [("v2 as published", [0.0], lambda t, p, x: p), *SMOOTHERS]
    body, chosen = [], []
    for family, grid, fn in variants:
        picked = None
        for x in grid:
            m = {r: smoothed_scores(t_by_root[r], fn(t_by_root[r], published[r], x)) for r in ROOTS}
            pre20 = float(np.mean(np.concatenate([m[r]["pre"] for r in THREE]) > 0.2 + MOVE_EPS))
            post = np.concatenate([m[r]["post"] for r in THREE])
            if family == "v2 as published" or (picked is None and pre20 <= 0.05):
                picked = x
                chosen.append((family, x, m))
            body.append(
                [
                    family,
                    f"{x:g}",
                    pct(pre20),
                    f"{pct(float(np.mean(post > 0.2 + MOVE_EPS)))} / "
                    f"{pct(float(np.mean(post > 0.1 + MOVE_EPS)), 0)}",
                    pct(float(np.mean(m["RTY"]["post"] > 0.2 + MOVE_EPS))),
                    " ".join(f"{(m[r]['rq'] - m[r]['rp']).mean():+.4f}" for r in THREE),
                    f"{sum(m[r]['outside'] for r in THREE)}/{sum(m[r]['buckets'] for r in THREE)}",
                ]
            )
    detail = []
    for family, x, m in chosen:
        for r in ROOTS:
            skill = block_bootstrap_skill(m[r]["rq"], m[r]["rg"], horizon=H, n_boot=1000)
            diff = paired_difference(m[r]["rq"], m[r]["rp"], horizon=H, n_boot=1000)
            detail.append(
                [
                    f"{family} {x:g}" if family != "v2 as published" else family,
                    label(r),
                    f"{skill.skill:+.3f} [{skill.low:+.3f}, {skill.high:+.3f}]",
                    f"{diff.mean:+.4f} [{diff.low:+.4f}, {diff.high:+.4f}]",
                    f"{m[r]['outside']}/{m[r]['buckets']}",
                ]
            )
    return [
        "From 2015 (ES, NQ, YM pooled unless named): sessions with a move > 20 / > 10 points; "
        "mean RPS minus v2's on the same calls (ES NQ YM; lower is better); reliability buckets "
        "whose 90 % band misses the mean forecast / buckets.",
        "",
        *md_table(
            [
                "rule",
                "param",
                "pre-2015 >20",
                "from 2015 >20 / >10",
                "TF1 >20",
                "RPS - v2",
                "buckets out",
            ],
            body,
        ),
        "",
        "v2 and the parameters chosen before 2015 (the weakest meeting <= 5 % of sessions), "
        "from 2015:",
        "",
        *md_table(
            ["rule", "root", "skill vs geometry [90 %]", "RPS - v2 [90 %]", "buckets out"],
            detail,
        ),
    ]


# --- the thesis decision ---------------------------------------------------------------------------


def story(trend: str, p: dict[str, float], tie: float) -> tuple[str, str]:
    """The story the note tells (the thesis decision) and the scenario it names: the likeliest
    scenario read against the trend (continuation, pause, reversal; for a Neutral trend range,
    break up, break down), or a tie when the top two are closer than ``tie``."""
    ranked = sorted(p, key=lambda k: -p[k])
    top, second = ranked[0], ranked[1]
    cont = {"Bullish": "bull", "Bearish": "bear"}.get(trend)

    def role(k: str) -> str:
        if cont is None:
            return {"sideways": "range", "bull": "break up", "bear": "break down"}[k]
        return "continuation" if k == cont else "pause" if k == "sideways" else "reversal"

    if p[top] - p[second] < tie:
        return "tie (" + " / ".join(sorted((role(top), role(second)))) + ")", top
    return role(top), top


def thesis_study(tables: dict) -> list[str]:
    rows = []
    for r in ROOTS:
        t = tables[(r, "v2")].filter(pl.col("has_call"))
        for trend, pb, ps, pu, o in t.select(
            "primary_trend", "p_bear", "p_sideways", "p_bull", "outcome"
        ).iter_rows():
            name, top = story(trend, {"bear": pb, "sideways": ps, "bull": pu}, 0.02)
            rows.append(
                {
                    "root": r,
                    "trend": trend,
                    "story": name,
                    "happened": None if o < 0 else o == SCENARIOS.index(top),
                }
            )
    d = pl.DataFrame(rows)
    body = []
    for trend in ("Bullish", "Bearish", "Neutral"):
        sub = d.filter(pl.col("trend") == trend)
        stories = sub.group_by("story").len().sort("len", descending=True)["story"].to_list()
        for name in stories:
            cells = []
            for r in ROOTS:
                s = sub.filter(pl.col("root") == r)
                n = s.filter(pl.col("story") == name).height
                cells.append(pct(n / s.height if s.height else None, 0))
            hit = sub.filter((pl.col("story") == name) & pl.col("happened").is_not_null())
            body.append(
                [trend, name, *cells, pct(hit["happened"].mean(), 0) if hit.height else "n/a"]
            )
    return md_table(["trend", "story", *(label(r) for r in ROOTS), "named scenario happened"], body)


# --- drawdown and recovery -------------------------------------------------------------------------


def drawdown_study(tables: dict, report: CoherenceReport) -> list[str]:
    lines = []
    body = []
    for r in ROOTS:
        t = tables[(r, "v2")].filter(pl.col("has_call"))
        front_high = (pl.col("high_252") - pl.col("offset")) / pl.col("factor")
        d = t.select(
            "perspective",
            "fall_pct",
            (1 - pl.col("raw_close") / front_high).alias("from_252"),
        ).filter(pl.col("perspective").is_in(["crash", "selloff"]))
        differ = d.filter((pl.col("from_252") - pl.col("fall_pct")).abs() > 0.02)
        body.append(
            [
                label(r),
                f"{d.height:,}",
                pct(differ.height / d.height if d.height else None, 0),
                pct((d["from_252"] - d["fall_pct"]).median()),
                pct((d["from_252"] - d["fall_pct"]).max()),
            ]
        )
    lines += md_table(
        ["root", "crash/selloff calls", "figures > 2 points apart", "median gap", "max gap"],
        body,
    )  # fmt: skip
    v = report.violations.filter(pl.col("methodology") == "v2")
    counts = ", ".join(
        f"{label(r)} {v.filter((pl.col('root') == r) & (pl.col('rule') == 'recovery_two_definitions')).height}"
        for r in ROOTS
    )
    lines += ["", f"Notes quoting two recovery figures for one low (checker): {counts}."]
    return lines


# --- the roots beyond the equity indexes (issue 19 point 5) ----------------------------------------


def new_roots(args: argparse.Namespace) -> None:
    """CL, GC, ZN and ZC, each analysed on its own with the equity-tuned parameters: the
    checker's rules per root for v2 and v3, and v3 against v2 (probabilities from 2015)."""
    roots, methodologies = NEW_ROOTS, ("v2", "v3")
    if args.cache is not None:
        args.cache.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    tables, rows, notes = load(args.cache, roots, methodologies)
    calls = list(stored_calls(rows, notes))
    report = check_calls(calls, params=CoherenceParams())
    seconds = time.perf_counter() - t0
    print(f"analysed, rendered and checked {len(calls):,} calls in {seconds:.0f} s")
    text = wrapped(
        "\n".join(
            [
                f"Real files (../shared/data), whole history, every call of v2 and v3 on CL, GC, "
                f"ZN and ZC (each on its own: their registry peers have no file here), notes "
                f"rendered with the previous call; checked by pipeline/audit/coherence "
                f"({len(calls):,} calls in {seconds:.0f} s"
                + (", analyses and notes read from --cache" if args.cache else "")
                + "). "
                "Parameters chosen on the equity indexes, not re-tuned. Limits of the band "
                "rules: 10 % of price, 8 ATR (a close at or below zero: the ATR limit alone).",
                "",
                *baseline_table(report, roots, methodologies),
                "",
                *v3_against_v2(tables, report, roots),
            ]
        )
    )
    print(machine_summary())
    print(text)
    if not args.no_write:
        update_section(
            "Coherence (CL, GC, ZN, ZC)",
            f"`bench/bench_coherence.py --new-roots`\n\n{machine_summary()}\n\n{text}",
        )


def with_v4(args: argparse.Namespace) -> None:
    """v4 (v3's rules on the trade calendar) beside v2 and v3 on ES, NQ, YM and TF1: the
    checker's rules, and issue 18's targets (stability, skill, buckets out)."""
    beside_v2_and_v3(args, ("v2", "v3", "v4"), "Coherence: v4 beside v2 and v3", "--v4")


def with_v5(args: argparse.Namespace) -> None:
    """v5 (published: v4 with the limited move kept across sessions without a bar) beside v2, v3
    and v4 on ES, NQ, YM and TF1."""
    beside_v2_and_v3(args, ("v2", "v3", "v4", "v5"), "Coherence: v5 beside v2, v3 and v4", "--v5")


def beside_v2_and_v3(
    args: argparse.Namespace, methodologies: tuple[str, ...], section: str, flag: str
) -> None:
    newest, rest = methodologies[-1], methodologies[:-1]
    if args.cache is not None:
        args.cache.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    tables, rows, notes = load(args.cache, ROOTS, methodologies)
    reports = []
    for m in methodologies:
        kept = (
            None
            if args.cache is None
            else (
                args.cache / f"coherence_{m}_violations.parquet",
                args.cache / f"coherence_{m}_calls.parquet",
            )
        )
        if kept is not None and kept[0].exists() and kept[1].exists():
            reports.append((pl.read_parquet(kept[0]), pl.read_parquet(kept[1])))
            continue
        mine = {key: frame for key, frame in rows.items() if key[1] == m}
        report = check_calls(list(stored_calls(mine, notes)), params=CoherenceParams())
        reports.append((report.violations, report.calls))
        if kept is not None:
            report.violations.write_parquet(kept[0])
            report.calls.write_parquet(kept[1])
    report = CoherenceReport(
        pl.concat([v for v, _ in reports]), pl.concat([c for _, c in reports]), CoherenceParams()
    )
    seconds = time.perf_counter() - t0
    calls = sum(frame.height for frame in rows.values())
    unexplained = report.violations.filter(
        pl.col("methodology").is_in(["v4", "v5"]) & (pl.col("rule") == "unexplained_move")
    ).sort("methodology", "root", "as_of")
    text = wrapped(
        "\n".join(
            [
                f"Real files (../shared/data), whole history, every call of "
                f"{', '.join(rest)} and {newest} (ES, NQ, YM; TF1 as RTY), notes rendered with "
                f"the previous call; checked by pipeline/audit/coherence ({calls:,} calls; "
                f"{seconds:.0f} s"
                + (", analyses, notes and checks read from --cache" if args.cache else "")
                + "). Limits of the band rules: 10 % of price, 8 ATR. v4's and v5's calls are "
                "on the trade calendar: a session without a bar has no call, and the note's "
                "previous call is the last call before it.",
                "",
                *baseline_table(report, ROOTS, methodologies),
                "",
                *v3_against_v2(tables, report, ROOTS, methodologies),
                "",
                "Moves over 10 points with no cause printed (v4: each one right after a session "
                "without a bar, where v4's limit on moves restarts, so the model's value is "
                "published unlimited; v5 keeps the last call as the reference there):",
                "",
                *(
                    f"- {x['methodology']} {label(x['root'])} {x['as_of']}: {x['detail']}"
                    for x in unexplained.iter_rows(named=True)
                ),
                *(["- none"] if unexplained.height == 0 else []),
            ]
        )
    )
    print(machine_summary())
    print(text)
    if not args.no_write:
        update_section(
            section,
            f"`bench/bench_coherence.py {flag} --cache DIR`\n\n{machine_summary()}\n\n{text}",
        )


# --- main -------------------------------------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--no-write", action="store_true", help="print only")
    parser.add_argument("--cache", type=Path, help="keep and reuse intermediate Parquet here")
    parser.add_argument(
        "--reuse-check", action="store_true", help="reuse the checker's output kept in --cache"
    )
    parser.add_argument(
        "--new-roots",
        action="store_true",
        help="CL, GC, ZN, ZC (v2 and v3) only: section 'Coherence (CL, GC, ZN, ZC)'",
    )
    parser.add_argument(
        "--v4",
        action="store_true",
        help="v2, v3 and v4 on ES, NQ, YM, TF1: section 'Coherence: v4 beside v2 and v3'",
    )
    parser.add_argument(
        "--v5",
        action="store_true",
        help="v2, v3, v4 and v5 on ES, NQ, YM, TF1: section 'Coherence: v5 beside v2, v3 and v4'",
    )
    args = parser.parse_args()
    if not available():
        print("bench_coherence: ../shared/data is not present, nothing to measure")
        return
    if args.new_roots:
        new_roots(args)
        return
    if args.v4:
        with_v4(args)
        return
    if args.v5:
        with_v5(args)
        return
    if args.cache is not None:
        args.cache.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    tables, rows, notes = load(args.cache)
    load_seconds = time.perf_counter() - started
    t0 = time.perf_counter()
    calls = list(stored_calls(rows, notes))
    kept = None if args.cache is None else (args.cache / "coherence_violations.parquet",
                                             args.cache / "coherence_calls.parquet")  # fmt: skip
    if args.reuse_check and kept is not None and kept[0].exists() and kept[1].exists():
        report = CoherenceReport(
            pl.read_parquet(kept[0]), pl.read_parquet(kept[1]), CoherenceParams()
        )
    else:
        report = check_calls(calls, params=CoherenceParams())
        if kept is not None:
            report.violations.write_parquet(kept[0])
            report.calls.write_parquet(kept[1])
    check_seconds = time.perf_counter() - t0
    print(f"loaded in {load_seconds:.0f} s; checked {len(calls):,} calls in {check_seconds:.0f} s")
    sections = [
        f"Real files (../shared/data), whole history, every call of v1, v2 and v3 (ES, NQ, YM; TF1 "
        f"as RTY), notes rendered with the previous call; checked by pipeline/audit/coherence "
        f"({len(calls):,} calls in {check_seconds:.0f} s, {1000 * check_seconds / len(calls):.1f} "
        "ms a call). Limits of the band rules: 10 % of price, 8 ATR (CoherenceParams: the v3 "
        "proposal, 5 % of price and 4 ATR a side).",
        "",
        "### Violations per rule (issue 18 point in brackets)",
        "",
        *baseline_table(report),
        "",
        "### v3 against v2 (issue 18's targets)",
        "",
        *v3_against_v2(tables, report),
        "",
        "### The issue's figures on v2 (ES, NQ, YM pooled)",
        "",
        *issue_figures(tables, rows, report),
        "",
        "The issue's example notes (v2), rules the checker reports:",
        "",
        *examples(report),
        "",
        "### Impulsive vs corrective (v2's pullback statements)",
        "",
        *pullback_study(tables),
        "",
        "### Barriers in crash and selloff regimes",
        "",
        *barrier_study(tables, rows),
        "### Day-to-day probability moves: causes (v2, ES, NQ, YM)",
        "",
        *causes_table(tables),
        "",
        "### Smoothing and hysteresis (chosen before 2015, scored from 2015)",
        "",
        *smoothing_study(tables),
        "",
        "### The thesis decision (v2's probabilities, ties < 2 points)",
        "",
        *thesis_study(tables),
        "",
        "### Drawdown and recovery",
        "",
        *drawdown_study(tables, report),
    ]
    text = wrapped("\n".join(sections))
    print(machine_summary())
    print(text)
    if not args.no_write:
        update_section("Coherence", f"`bench/bench_coherence.py`\n\n{machine_summary()}\n\n{text}")


if __name__ == "__main__":
    main()
