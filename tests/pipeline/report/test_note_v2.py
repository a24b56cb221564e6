"""The note of a v2 call: v2's words, and never a sentence its own numbers contradict.

Checked on calls of the demo history spread over the years (every perspective the demo reaches):
the methodology is named, every level says why it is there, a fact is printed exactly when its
field is set, risk wording fits where price is, the scenario evidence prints the heading's
probability (the model's) and a base rate recomputable from its counts, and "the most likely
outcome" is the largest heading.
"""

from __future__ import annotations

import re
from datetime import date

import polars as pl
import pytest

from pipeline.analysis.assemble import snapshot_from_row
from pipeline.analysis.engine import Analysis
from pipeline.analysis.methodology import get
from pipeline.analysis.v2.params import V2Params
from pipeline.market.continuous import continuous_series
from pipeline.report.format import format_date_long, whole_percents
from pipeline.report.note import render_note
from pipeline.sources.demo import demo_bars
from tests.pipeline.analysis.base_rate_oracle import base_rates_at

END = date(2026, 11, 20)
P = V2Params()
MODEL = re.compile(r"Evidence: ([\d.]+)% is the chance that the close, as a random walk")
EVIDENCE = re.compile(
    r"of the (\d+) past sessions .*?, (\d+) of \1 \(\d+%\) ended this way; shrunk toward the "
    r"([\d.]+)% rate .*?the base rate is \((\d+) \+ 60 x ([\d.]+)%\) / \((\d+) \+ 60\) = "
    r"([\d.]+)%"
)


@pytest.fixture(scope="module")
def analysis() -> Analysis:
    series = {
        r: continuous_series(demo_bars(r).filter(pl.col("session_date") <= END))
        for r in ("RTY", "ES", "NQ")
    }
    return get("v2").analyse(series, "RTY", source="demo")


@pytest.fixture(scope="module")
def snapshots(analysis: Analysis) -> list:
    rows = analysis.snapshots
    picked = rows.gather_every(97)  # ~55 calls across 2006-2026
    crash = rows.filter(pl.col("perspective").is_in(["crash", "rebound after crash"])).head(3)
    return [snapshot_from_row(r) for r in pl.concat([picked, crash]).iter_rows(named=True)]


def test_the_note_names_v2_and_says_why_each_level_is_there(snapshots) -> None:
    for s in snapshots:
        note = render_note(s)
        assert "methodology v2" in note and "Methodology: v2" in note
        for level in s.levels:
            assert level.reason, (s.as_of, level.kind)
            assert level.reason[:1].upper() + level.reason[1:] in note


def test_facts_are_printed_exactly_when_they_are_set(snapshots) -> None:
    for s in snapshots:
        note, st, d = render_note(s), s.structure, s.details
        assert st is not None
        said = "Higher lows have formed since" in note
        assert said == (st.higher_lows_since is not None), s.as_of
        if said:
            assert f"since {format_date_long(st.higher_lows_since)}" in note
        assert ("held above the 50-day moving average since" in note) == (
            d["above_sma50_since"] is not None
        )
        if d["impulse_erased"]:
            assert "reversal, not a pullback" in note and "The last pullback was" not in note
        if "The last pullback was" in note:
            assert st.pullback_retracement is not None and st.pullback_retracement <= 1


def test_risk_wording_fits_where_price_is(snapshots) -> None:
    for s in snapshots:
        note, st = render_note(s), s.structure
        assert st is not None
        if "holds above the 50-day moving average" in note:
            assert st.close > st.sma50, s.as_of
        if "stays below the 50-day moving average" in note:
            assert st.close < st.sma50, s.as_of
        if "above its" in note.split("On the daily chart")[1].split("\n")[0]:
            assert st.close > st.sma50


def test_the_evidence_reconciles_with_the_printed_probability(snapshots, analysis) -> None:
    rows = analysis.table["session_date"].to_list()
    for s in snapshots:
        note = render_note(s)
        headings = [int(p) for p in re.findall(r"^### .*\((\d+)%\)$", note, flags=re.M)]
        assert sum(headings) == 100
        # The heading's probability is the model's, printed with the model that made it ...
        by_name = {sc.name: sc.probability for sc in s.scenarios}
        printed = [float(p) / 100 for p in MODEL.findall(note)]
        expected = [by_name[n] for n in ("bull", "sideways", "bear")]
        assert printed == pytest.approx(expected, abs=0.0005 + 1e-9), s.as_of  # 1 decimal in %
        assert (
            headings == whole_percents(printed)
            or max(abs(h - q * 100) for h, q in zip(headings, printed, strict=True)) < 1
        )
        likely = re.search(r"the most likely outcome is .*? \((\d+)%\)", note)
        tie = re.search(r"a tie between .*? \((\d+)% each\)", note)
        assert int((likely or tie).group(1)) == max(headings)  # type: ignore[union-attr]
        # ... and the base rate beside it is recomputable from the counts printed with it.
        if s.analogs_total == 0:
            assert note.count("no past session in the same state has a known") == 3
            continue
        matches = EVIDENCE.findall(note)
        assert len(matches) == 3, s.as_of
        # ... the counts and rates it prints are those of a slow count of the past calls.
        oracle = base_rates_at(
            analysis.table,
            rows.index(s.as_of),
            horizon=P.horizon_sessions,
            prior_weight=P.climatology_prior_weight,
            geometry_weight=P.shrinkage_strength,
            state_weight=P.state_shrinkage_strength,
        )
        for (total, n, geo, n2, geo2, total2, b), scenario in zip(
            matches, ("bull", "sideways", "bear"), strict=True
        ):
            k = ("bear", "sideways", "bull").index(scenario)
            assert (n, geo, total) == (n2, geo2, total2)
            assert (int(n), int(total)) == (oracle.n[k], sum(oracle.n)), (s.as_of, scenario)
            # printed to 2 and 1 decimals of a percent, from rates stored to 4 decimals
            assert float(geo) == pytest.approx(100 * oracle.geo[k], abs=0.016), s.as_of
            assert float(b) == pytest.approx(100 * oracle.base[k], abs=0.061), s.as_of


def test_a_v1_call_keeps_its_v1_note() -> None:
    series = {
        r: continuous_series(demo_bars(r).filter(pl.col("session_date") <= date(2020, 3, 16)))
        for r in ("RTY", "ES", "NQ")
    }
    row = get("v1").analyse(series, "RTY", source="demo", sessions=[date(2020, 3, 16)]).snapshots
    note = render_note(snapshot_from_row(row.row(0, named=True)))
    assert "methodology v1" in note and "Methodology: v2" not in note
    assert "The analog base rates" in note


def test_what_changed_names_the_scenarios_as_the_headings_do(snapshots) -> None:
    # A down call's bull scenario is a reversal: the changes section must not call it a
    # continuation while the scenario headings of the same note say "Bullish Reversal".
    down = [s for s in snapshots if s.orientation == "down"]
    named = 0
    for s in down:
        previous = next(p for p in snapshots if p.as_of < s.as_of)
        note = render_note(s, previous=previous)
        changes = note.split("## What Changed Since the Previous Call")[1].split("\n## ")[0]
        assert "### Bullish Reversal" in note, s.as_of
        assert "Bullish Continuation" not in changes and "Bearish Reversal" not in changes
        named += "- Bullish Reversal: " in changes
    assert named >= 3  # the probabilities of these calls, months apart, do change
