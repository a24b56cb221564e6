"""v3 on the real files of ../shared/data (skipped when absent), read by the coherence checker.

The checker (pipeline/audit/coherence) shares no code with the note writer: it reads each stored
call's values and its rendered note. Here, on blocks of consecutive sessions around issue 18's
dates (crashes, a selloff, a breakout, a bear-market bottom), every v3 note is rendered with the
call before it, as the site renders it, and checked; each block is checked on its own (its first
call has no previous one). bench/bench_coherence.py checks every call of the whole history and
writes the figures to bench/RESULTS.md ("Coherence"). Issue 19 point 5 adds a date of each new
root (crude's negative settlement, gold's 2013 selloff, the bond sell-off of 2022, corn's 2012
drought rally), analysed on its own with the equity-tuned parameters.
"""

from __future__ import annotations

from datetime import date

import polars as pl
import pytest

from pipeline.analysis.assemble import snapshots_from_frame
from pipeline.analysis.methodology import get
from pipeline.analysis.v3.params import V3Params
from pipeline.audit.coherence import RULES, StoredCall, check_calls
from pipeline.market.roots import builtin_spec
from pipeline.report.note import render_note
from tests.real_files import NEW_ROOTS, available, real_series

pytestmark = pytest.mark.shared_data
ROOTS = ("ES", "NQ", "YM", "RTY")
#: (root, a date of issue 18): the block is the 40 sessions up to it and 20 after.
DATES = (
    ("ES", date(2002, 9, 26)),
    ("ES", date(2008, 10, 10)),
    ("ES", date(2020, 3, 23)),
    ("ES", date(2020, 4, 9)),
    ("NQ", date(2022, 6, 16)),
    ("RTY", date(2008, 10, 10)),
    ("YM", date(2024, 11, 11)),
    ("CL", date(2020, 4, 21)),
    ("GC", date(2013, 4, 15)),
    ("ZN", date(2022, 6, 14)),
    ("ZC", date(2012, 8, 10)),
)
POINTS = {rule.id: rule.point for rule in RULES}


@pytest.fixture(scope="module")
def analyses() -> dict[str, tuple[pl.DataFrame, pl.DataFrame]]:
    if not available():
        pytest.skip("../shared/data is not present")
    series = {root: real_series(root) for root in (*ROOTS, *NEW_ROOTS)}
    out = {}
    for root in sorted({r for r, _ in DATES}):
        v3 = get("v3").analyse(series, root, source="file")
        v2 = get("v2").analyse(series, root, source="file")
        out[root] = (v3.snapshots.sort("as_of"), v2.table)
        out[root + ":table"] = (v3.table, v2.table)
    return out


@pytest.mark.parametrize(("root", "day"), DATES)
def test_no_note_around_the_issues_dates_breaks_a_rule(analyses, root: str, day: date) -> None:
    rows = analyses[root][0]
    at = rows["as_of"].to_list().index(day)
    block = rows.slice(max(0, at - 40), 61)
    snaps = snapshots_from_frame(block)
    calls = [
        StoredCall(values, render_note(s, previous=snaps[i - 1] if i else None))
        for i, (values, s) in enumerate(zip(block.to_dicts(), snaps, strict=True))
    ]
    report = check_calls(calls)
    # word_does_not_split judges a root's whole history (bench/bench_coherence.py), not a block.
    found = report.violations.filter(pl.col("rule") != "word_does_not_split")
    assert found.select("rule", "as_of", "detail").rows() == []
    moves = report.calls["move"].drop_nulls().abs()
    assert moves.max() <= 0.2  # every move over 10 points has its cause printed (rule above)


@pytest.mark.parametrize("root", sorted({r for r, _ in DATES}))
def test_v3_keeps_v2s_levels_and_its_barriers_within_the_limit(analyses, root: str) -> None:
    v3, v2 = analyses[root + ":table"]
    levels = [f"{p}_{e}" for p in ("line", "bias", "ext", "deep") for e in ("low", "high")]
    assert v3.select(levels).equals(v2.select(levels))
    rows = analyses[root][0]
    # Each barrier within min(5 % of the close, 4 ATR) of it, up to its rounding to the tick;
    # the ATR limit alone where the close is at or below zero (CL, April 2020).
    p, tick = V3Params(), builtin_spec(root).tick
    width = rows["upper_barrier"] - rows["lower_barrier"]
    positive = rows["close"] > 0
    assert (~positive | (width <= 2 * p.barrier_max_pct * rows["close"] + 2 * tick + 1e-9)).all()
    assert (width <= 2 * p.barrier_max_atr * rows["atr14"] + 2 * tick + 1e-9).all()
    if root in ("ES", "NQ", "YM", "RTY"):
        assert (width / rows["close"]).max() <= 0.10  # as measured before (bench_coherence)
    assert rows.filter(pl.col("risk_level").is_not_null())["risk_rule"].str.contains("line").all()
