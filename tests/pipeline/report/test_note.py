from __future__ import annotations

import dataclasses
import re
from datetime import date
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pipeline.analysis.snapshot import (
    MODEL_AUTHOR,
    SCENARIOS,
    Level,
    RelativeStrength,
    Scenario,
    Snapshot,
    Structure,
    example_snapshot,
)
from pipeline.report import note as note_module
from pipeline.report.format import format_price, whole_percents
from pipeline.report.note import DEMO_LABEL, render_note, render_summary_line

# A price as the note prints it for RTY: thousands separator, one decimal (tick 0.1).
RTY_PRICE = r"\d{1,3}(?:,\d{3})+\.\d(?!\d)"
ES_PRICE = r"\d{1,3}(?:,\d{3})+\.\d\d(?!\d)"


def model_snapshot() -> Snapshot:
    """A bullish RTY call as the model would make it (structure, relative strength, analogs)."""
    structure = Structure(
        close=2600.0,
        sma20=2580.0,
        sma50=2510.0,
        sma200=2452.5,
        ema21=2575.0,
        atr14=35.0,
        rsi14=61.3,
        adx14=27.5,
        sma200_change=12.0,
        sma50_change=-3.0,
        dist_sma200_atr=4.2,
        dist_sma200_pct=0.0602,
        dist_sma50_atr=2.6,
        well_above_sma200=True,
        range_atr=3.4,
        high_252=2735.6,
        low_252=2011.4,
        dist_high_252_atr=3.9,
        dist_low_252_atr=16.8,
        higher_lows_since=date(2025, 11, 21),
        higher_lows_count=4,
        lower_highs_since=None,
        lower_highs_count=0,
        pullback_retracement=0.31,
        pullback_depth="shallow",
        pullback_speed="corrective",
    )
    return Snapshot(
        root="RTY",
        as_of=date(2026, 2, 4),
        author=MODEL_AUTHOR,
        methodology_version="v1",
        params_hash="0123456789abcdef",
        input_fingerprint="f" * 64,
        source="yahoo",
        contract="RTYH26",
        raw_close=2600.0,
        offset=-12.5,
        primary_trend="Bullish",
        perspective="consolidation near highs",
        orientation="up",
        structure=structure,
        levels=(
            Level("line_in_the_sand", "support", 2500.0, 2520.0, 4.2, 3, ("sma50", "swing_low")),
            Level(
                "bias_defining", "resistance", 2650.0, 2700.0, 2.5, 2, ("recent_high", "swing_high")
            ),
            Level("extension", "resistance", 2770.0, 2787.5, 0.0, 0, (), projected=True),
            Level("deeper", "support", 2401.3, 2419.8, 1.5, 2, ("swing_high", "swing_low")),
        ),
        risk_rule="accept_below_sma50",
        risk_level=2510.0,
        risk_text="Sustained acceptance back below the 50-day moving average",
        scenarios=(
            Scenario("bear", 0.2137, 41, 0.25, "accept_below_lower", 2500.0, 2401.3, 2419.8),
            Scenario("sideways", 0.4121, 80, 0.40, "neither_barrier_accepted", None),
            Scenario("bull", 0.3742, 73, 0.35, "accept_above_upper", 2700.0, 2770.0, 2787.5),
        ),
        horizon_sessions=20,
        horizon_end=date(2026, 3, 5),
        upper_barrier=2700.0,
        lower_barrier=2500.0,
        relative_strength=(
            RelativeStrength("ES", 0.032, 0.004, 0.021, 0.04, "leading"),
            RelativeStrength("NQ", -0.01, -0.003, 0.012, -0.02, "mixed"),
        ),
        analogs_total=194,
        state_key="Bullish|near|mid",
        extra={"version": 1, "content_hash": "ab" * 32},
    )


def bearish_snapshot() -> Snapshot:
    """A bearish ES call with a downward orientation: every role mirrors."""
    model = model_snapshot()
    assert model.structure is not None
    structure = dataclasses.replace(
        model.structure,
        close=6812.25,
        sma50=6962.5,
        sma200=7100.75,
        dist_sma200_atr=-4.5,
        dist_sma200_pct=-0.0406,
        dist_sma50_atr=-2.3,
        well_above_sma200=False,
        higher_lows_since=None,
        higher_lows_count=0,
        lower_highs_since=date(2025, 12, 10),
        lower_highs_count=3,
        sma200_change=-20.0,
        sma50_change=-45.0,
        rsi14=28.0,
    )
    return dataclasses.replace(
        model,
        root="ES",
        contract="ESH26",
        raw_close=6812.25,
        primary_trend="Bearish",
        perspective="trending lower",
        orientation="down",
        structure=structure,
        levels=(
            Level(
                "line_in_the_sand", "resistance", 6950.0, 6975.25, 3.0, 2, ("sma50", "swing_high")
            ),
            Level("bias_defining", "support", 6700.5, 6740.0, 2.0, 2, ("recent_low", "swing_low")),
            Level("extension", "support", 6600.0, 6625.75, 1.0, 1, ("swing_low",)),
            Level("deeper", "resistance", 7050.0, 7080.0, 1.0, 1, ("swing_high",)),
        ),
        risk_rule="accept_above_sma50",
        risk_level=6962.5,
        risk_text="Sustained acceptance back above the 50-day moving average",
        scenarios=(
            Scenario("bear", 0.45, 50, 0.3, "accept_below_lower", 6700.5, 6600.0, 6625.75),
            Scenario("sideways", 0.35, 40, 0.4, "neither_barrier_accepted", None),
            Scenario("bull", 0.2, 20, 0.3, "accept_above_upper", 6975.25, 7050.0, 7080.0),
        ),
        upper_barrier=6975.25,
        lower_barrier=6700.5,
        relative_strength=(RelativeStrength("NQ", 0.01, 0.002, -0.004, 0.01, "mixed"),),
    )


def section(note: str, heading: str) -> str:
    """The text of the ``## heading`` section, up to the next ``## `` heading."""
    start = note.index(f"## {heading}\n")
    end = note.find("\n## ", start + 1)
    return note[start : end if end != -1 else len(note)]


def parse_price(text: str) -> float:
    return float(text.replace(",", ""))


def on_tick(value: float, tick: float) -> float:
    """Independent of the formatter: the nearest multiple of ``tick``, half away from zero."""
    step = Decimal(str(tick))
    return float((Decimal(str(value)) / step).to_integral_value(rounding=ROUND_HALF_UP) * step)


def snapshot_prices(s: Snapshot) -> set[float]:
    """Every price field of a snapshot, on the tick grid of its root."""
    tick = {"RTY": 0.1, "ES": 0.25}[s.root]
    values = [s.raw_close, s.upper_barrier, s.lower_barrier, s.risk_level]
    values += [v for lv in s.levels for v in (lv.low, lv.high)]
    values += [v for sc in s.scenarios for v in (sc.trigger_level, sc.target_low, sc.target_high)]
    if s.structure is not None:
        st_ = s.structure
        values += [st_.close, st_.sma50, st_.sma200, st_.high_252, st_.low_252]
    return {on_tick(v, tick) for v in values if v is not None}


# --- the seed's sections ---------------------------------------------------------------------


def test_title_and_sections_follow_the_seed_order() -> None:
    note = render_note(model_snapshot(), chart_file="rty-2026-02-04.png")
    assert note.splitlines()[0] == "# E-mini Russell 2000 (RTY) Technical Analysis, 4 Feb 2026"
    headings = re.findall(r"^## (.+)$", note, flags=re.MULTILINE)
    assert headings == [
        "Introduction",
        "Summary",
        "Why RTY Looks Different Than Large Caps",
        "Market Structure & Trend",
        "Key Technical Levels",
        "Looking Forward: Scenarios",
        "Final Takeaway",
    ]
    assert "educational and informational purposes only" in note
    assert "not trading advice" in note


def test_summary_block_lines_are_exact() -> None:
    summary = section(render_note(model_snapshot()), "Summary")
    lines = [line for line in summary.splitlines()[1:] if line]
    assert lines == [
        "Primary trend: Bullish",
        "Current market perspective: Consolidation near highs",
        "Key support (line in the sand): 2,500.0–2,520.0",
        "Bias-defining level: 2,650.0–2,700.0",
        "Risk to the thesis: Sustained acceptance back below the 50-day moving average "
        "(now 2,510.0)",
    ]


def test_introduction_states_trend_perspective_distance_and_relative_strength() -> None:
    intro = section(render_note(model_snapshot()), "Introduction")
    assert "RTY is in a bullish primary trend and is consolidating near its highs." in intro
    assert "well above the 200-day moving average (4.2 ATR, +6.0%), which is rising" in intro
    assert (
        "Against its peers (20-session return spreads), RTY is leading the E-mini S&P 500 "
        "(+2.1%) and mixed against the E-mini Nasdaq-100 (+1.2%)."
    ) in intro
    assert "swing lows have been rising since 21 Nov 2025" in intro


def test_relative_strength_section_lists_each_peer_with_spreads_and_ratio() -> None:
    rs = section(render_note(model_snapshot()), "Why RTY Looks Different Than Large Caps")
    assert (
        "- Against the E-mini S&P 500 (ES): **leading**. Return spread (RTY minus ES): "
        "+0.4% over 5 sessions, +2.1% over 20 sessions, +4.0% over 63 sessions. "
        "The RTY/ES ratio is 3.2% above its mean."
    ) in rs
    assert "(NQ): **mixed**" in rs and "The RTY/NQ ratio is 1.0% below its mean." in rs
    assert "The relative picture is mixed" in rs


def test_relative_strength_verdicts_choose_the_reading() -> None:
    leading = dataclasses.replace(
        model_snapshot(),
        relative_strength=(RelativeStrength("ES", 0.02, 0.01, 0.03, 0.05, "leading"),),
    )
    lagging = dataclasses.replace(
        model_snapshot(),
        relative_strength=(RelativeStrength("ES", -0.02, -0.01, -0.03, -0.05, "lagging"),),
    )
    assert "RTY is outperforming large caps" in render_note(leading)
    both = dataclasses.replace(
        model_snapshot(),
        relative_strength=(
            RelativeStrength("ES", 0.02, 0.0, 0.03, 0.05, "leading"),
            RelativeStrength("NQ", 0.01, -0.0004, 0.01, 0.02, "leading"),
        ),
    )
    note = render_note(both)
    assert "RTY is leading the E-mini S&P 500 (+3.0%) and the E-mini Nasdaq-100 (+1.0%)." in note
    assert "+0.0% over 5 sessions" in note and "-0.0%" not in note
    assert "RTY is still trailing large caps" in render_note(lagging)


def test_market_structure_links_the_chart_and_lists_the_facts() -> None:
    structure = section(
        render_note(model_snapshot(), chart_file="charts/rty.png"), "Market Structure & Trend"
    )
    assert "![RTY daily chart](charts/rty.png)" in structure
    bullets = [line[2:] for line in structure.splitlines() if line.startswith("- ")]
    assert bullets[0] == "Higher lows have formed since 21 Nov 2025 (4 rising confirmed swing lows)"
    assert bullets[1] == (
        "Price is well above the 200-day moving average (4.2 ATR, +6.0%), at 2,452.5 and rising"
    )
    assert (
        "The last pullback was shallow (31% of the prior impulse) and corrective, not impulsive"
        in bullets
    )
    assert (
        "Momentum: RSI(14) 61.3 (neither overbought nor oversold), ADX(14) 27.5 (a trending market)"
        in bullets
    )
    assert "its falling 50-day moving average (2,510.0)" in structure
    assert structure.rstrip().endswith(
        "continuation of the advance as long as price holds above the 50-day moving average."
    )
    assert "![" not in render_note(model_snapshot())


def test_structure_warns_when_price_is_already_beyond_the_risk_reference() -> None:
    s = model_snapshot()
    assert s.structure is not None
    below = dataclasses.replace(
        s, structure=dataclasses.replace(s.structure, close=2495.0, dist_sma50_atr=-0.4)
    )
    structure = section(render_note(below), "Market Structure & Trend")
    assert structure.rstrip().endswith(
        "This structure still points toward a continuation of the advance, but price is already "
        "below the 50-day moving average (2,510.0): sustained acceptance back below the 50-day "
        "moving average would put the thesis at risk."
    )
    assert "Price is 0.4 ATR below the 50-day moving average" in structure


def test_every_level_in_the_levels_section_is_a_snapshot_level() -> None:
    s = model_snapshot()
    levels = section(render_note(s), "Key Technical Levels")
    zones = re.findall(rf"\*\*({RTY_PRICE})–({RTY_PRICE})\*\*", levels)
    assert [(parse_price(lo), parse_price(hi)) for lo, hi in zones] == [
        (lv.low, lv.high) for lv in s.levels
    ]
    assert "**2,770.0–2,787.5** (resistance), projected (no tested zone beyond):" in levels
    assert "former resistance turned support" in levels  # the deeper zone has swing highs and lows


def test_every_price_in_the_note_comes_from_the_snapshot() -> None:
    for s, pattern in ((model_snapshot(), RTY_PRICE), (bearish_snapshot(), ES_PRICE)):
        note = render_note(s, previous=dataclasses.replace(s, levels=s.levels[:2]))
        printed = {parse_price(p) for p in re.findall(pattern, note)}
        assert printed  # the pattern does match the note's prices
        assert printed <= snapshot_prices(s), printed - snapshot_prices(s)


def test_prices_are_rounded_to_the_tick_grid() -> None:
    s = dataclasses.replace(
        model_snapshot(),
        levels=(Level("line_in_the_sand", "support", 2512.34, 2520.35, 1.0, 1, ("swing_low",)),),
    )
    assert "Key support (line in the sand): 2,512.3–2,520.4" in render_note(s).splitlines()


def test_scenarios_in_seed_order_with_whole_percents_summing_to_100() -> None:
    scenarios = section(render_note(model_snapshot()), "Looking Forward: Scenarios")
    headings = re.findall(r"^### (.+) \((\d+)%\)$", scenarios, flags=re.MULTILINE)
    # 37.42 / 41.21 / 21.37: the floors sum to 99, the largest remainder (.42) gets the point.
    assert headings == [
        ("Bullish Continuation", "38"),
        ("Sideways Consolidation", "41"),
        ("Bearish Breakdown", "21"),
    ]
    assert "- Trigger: acceptance above 2,700.0" in scenarios
    assert "- Trigger: acceptance below 2,500.0" in scenarios
    assert (
        "- Trigger: neither barrier is accepted; price stays between 2,500.0 and 2,700.0"
        in scenarios
    )
    assert "- Target zone: 2,770.0–2,787.5" in scenarios
    assert (
        "- Evidence: based on 73 analog sessions (of 194 in the same state; base rate 35%)"
        in scenarios
    )
    assert scenarios.count("- Horizon: over the next 20 sessions (to 2026-03-05)") == 3


def test_takeaway_names_the_line_the_trigger_and_the_favoured_scenario() -> None:
    takeaway = section(render_note(model_snapshot()), "Final Takeaway")
    assert "while price holds above 2,500.0–2,520.0" in takeaway
    assert "acceptance above 2,700.0 would open 2,770.0–2,787.5" in takeaway
    assert "favour sideways consolidation (41%)" in takeaway


# --- demo, mirroring, changes, analyst calls ------------------------------------------------


def test_demo_label_on_the_title_and_the_first_body_line() -> None:
    lines = [line for line in render_note(model_snapshot(), demo=True).splitlines() if line]
    assert lines[0].startswith("# ") and DEMO_LABEL in lines[0]
    assert DEMO_LABEL in lines[1] and lines[1].startswith("> **")
    assert DEMO_LABEL not in render_note(model_snapshot())


def test_demo_source_is_labelled_even_without_the_flag() -> None:
    note = render_note(dataclasses.replace(model_snapshot(), source="demo"))
    assert DEMO_LABEL in note.splitlines()[0]
    assert render_summary_line(dataclasses.replace(model_snapshot(), source="demo")).startswith(
        "[DEMO] "
    )


def test_down_orientation_mirrors_the_wording() -> None:
    s = bearish_snapshot()
    note = render_note(s)
    assert note.splitlines()[0] == "# E-mini S&P 500 (ES) Technical Analysis, 4 Feb 2026"
    assert "Key resistance (line in the sand): 6,950.00–6,975.25" in note.splitlines()
    assert "The call stands as long as price stays below 6,950.00–6,975.25." in note
    assert "Rallies are being sold: swing highs have been falling since 10 Dec 2025." in note
    assert "below the 200-day moving average (4.5 ATR, -4.1%)" in note
    levels = section(note, "Key Technical Levels")
    assert "**6,950.00–6,975.25** (resistance):" in levels
    assert "Staying below it keeps the bearish pressure on." in levels
    assert "Acceptance below it would strengthen the bearish case" in levels
    assert (
        "Potential downside area" in levels and "Higher resistance if a rebound extends" in levels
    )
    assert "This zone aligns with 1 confirmed swing low." in levels
    scenarios = section(note, "Looking Forward: Scenarios")
    assert "ES reclaims the line in the sand with acceptance above 6,975.25" in scenarios
    assert "breaks through 6,700.50, the decline resuming toward 6,600.00–6,625.75" in scenarios
    assert re.findall(r"^### (.+) \((\d+)%\)$", scenarios, flags=re.MULTILINE) == [
        ("Bullish Continuation", "20"),
        ("Sideways Consolidation", "35"),
        ("Bearish Breakdown", "45"),
    ]
    assert "## ES Against the E-mini Nasdaq-100" in note
    assert "continuation of the decline as long as price stays below the 50-day" in note
    takeaway = section(note, "Final Takeaway")
    assert "rallies toward that zone are where sellers have to show up" in takeaway
    assert "holds above" not in takeaway


def test_what_changed_lists_the_differences_from_the_previous_call() -> None:
    current = model_snapshot()
    previous = dataclasses.replace(
        current,
        as_of=date(2026, 2, 3),
        primary_trend="Neutral",
        perspective="range",
        levels=(
            Level("line_in_the_sand", "support", 2480.0, 2495.5, 1.0, 1, ("swing_low",)),
            *current.levels[1:],
        ),
        scenarios=(
            dataclasses.replace(current.scenarios[0], probability=0.3),
            dataclasses.replace(current.scenarios[1], probability=0.4),
            dataclasses.replace(current.scenarios[2], probability=0.3),
        ),
    )
    changed = section(
        render_note(current, previous=previous), "What Changed Since the Previous Call"
    )
    items = [line[2:] for line in changed.splitlines() if line.startswith("- ")]
    assert items == [
        "Primary trend: Neutral → Bullish",
        "Market perspective: range → consolidation near highs",
        "Line in the sand: 2,480.0–2,495.5 → 2,500.0–2,520.0",
        "Bullish Continuation: 30% → 38%",
        "Sideways Consolidation: 40% → 41%",
        "Bearish Breakdown: 30% → 21%",
    ]
    assert "Against the call of 3 Feb 2026:" in changed


def test_a_roll_says_how_far_every_quoted_price_moved() -> None:
    """At a roll the same internal price is quoted in the new contract: offset 0 -> 12.75 means a
    price that read P in RTYH26 reads P - 12.75 in RTYM26 (front = internal - offset)."""
    current = dataclasses.replace(model_snapshot(), contract="RTYM26", offset=12.75)
    unmoved = tuple(
        dataclasses.replace(level, low=level.low + 12.75, high=level.high + 12.75)
        for level in current.levels
    )  # the same internal prices, quoted in RTYH26
    previous = dataclasses.replace(
        current, as_of=date(2026, 2, 3), contract="RTYH26", offset=0.0, levels=unmoved
    )
    items = section(
        render_note(current, previous=previous), "What Changed Since the Previous Call"
    ).splitlines()
    assert "- Front contract: RTYH26 → RTYM26" in items
    assert (
        "- Prices are now quoted in RTYM26: a level that did not move reads 12.8 index points"
        " lower than in RTYH26; the previous call's prices below are converted to RTYM26"
    ) in items
    # The levels are the same internal prices: the line moved by the roll alone is no change.
    assert not [line for line in items if line.startswith("- Line in the sand")]
    moved = dataclasses.replace(
        previous,
        levels=(
            Level("line_in_the_sand", "support", 2480.0, 2495.5, 1.0, 1, ("swing_low",)),
            *unmoved[1:],
        ),
    )
    converted = section(
        render_note(current, previous=moved), "What Changed Since the Previous Call"
    ).splitlines()
    # 2,480.0-2,495.5 in RTYH26 is 2,467.25-2,482.75 in RTYM26 (shown on RTY's 0.1 grid).
    assert "- Line in the sand: 2,467.3–2,482.8 → 2,500.0–2,520.0" in converted
    assert len([line for line in converted if line.startswith("- ")]) == 3  # + contract, roll
    back = dataclasses.replace(previous, offset=20.0)
    assert "reads 7.3 index points higher than in RTYH26" in render_note(current, previous=back)
    same = dataclasses.replace(previous, contract="RTYM26", offset=12.75)
    assert "Prices are now quoted" not in render_note(current, previous=same)


def test_what_changed_only_with_a_previous_call_and_says_when_nothing_did() -> None:
    s = model_snapshot()
    assert "What Changed" not in render_note(s)
    unchanged = render_note(s, previous=dataclasses.replace(s, as_of=date(2026, 2, 3)))
    same = section(unchanged, "What Changed Since the Previous Call")
    assert "- Nothing material" in same
    with pytest.raises(ValueError, match="previous call is on ES, not RTY"):
        render_note(s, previous=bearish_snapshot())


def test_analyst_call_without_structure_skips_missing_sections() -> None:
    analyst = dataclasses.replace(example_snapshot(), notes="Small caps are repairing.")
    note = render_note(analyst)
    headings = re.findall(r"^## (.+)$", note, flags=re.MULTILINE)
    assert headings == [
        "Introduction",
        "Summary",
        "Key Technical Levels",
        "Looking Forward: Scenarios",
        "Final Takeaway",
    ]
    assert "Analyst's notes: Small caps are repairing." in note
    assert "Evidence: the judgement of seed-note, not an analog count" in note
    assert "Key support (line in the sand): 2,500.0–2,520.0" in note.splitlines()
    with_chart = render_note(analyst, chart_file="c.png")
    assert (
        "## Market Structure & Trend" in with_chart and "A few things stand out" not in with_chart
    )
    bare = dataclasses.replace(analyst, levels=(), scenarios=(), risk_text="")
    bare_headings = re.findall(r"^## (.+)$", render_note(bare), flags=re.MULTILINE)
    assert bare_headings == ["Introduction", "Summary"]


def test_summary_line() -> None:
    assert render_summary_line(model_snapshot()) == (
        "RTY 2026-02-04 r1: Bullish, consolidation near highs; line 2,500.0–2,520.0; "
        "bias 2,650.0–2,700.0; bull 38% / side 41% / bear 21%"
    )
    assert render_summary_line(example_snapshot()).startswith("RTY 2026-02-04 by seed-note: ")


def test_a_root_no_registry_describes_is_written_with_the_generic_spec() -> None:
    # A user's root the built-in registry does not know: its name, a 0.01 tick, decimal points
    # (pipeline.report.format.root_spec), never an error that would lose the note.
    snapshot = dataclasses.replace(model_snapshot(), root="XX")
    lines = render_note(snapshot).splitlines()
    assert lines[0] == "# XX (XX) Technical Analysis, 4 Feb 2026"
    assert lines[2].startswith("*Front contract RTYH26; prices in points (settlement 2,600.00).")
    assert render_summary_line(snapshot).startswith(
        "XX 2026-02-04 r1: Bullish, consolidation near highs; line 2,500.00–2,520.00; "
    )


# --- the formatting the note relies on -------------------------------------------------------


@given(st.lists(st.integers(min_value=0, max_value=10_000), min_size=1, max_size=5))
def test_whole_percents_sum_to_100_and_stay_within_a_point(weights: list[int]) -> None:
    total = sum(weights)
    if total == 0:
        return
    probabilities = [round(w / total, 4) for w in weights]
    percents = whole_percents(probabilities)
    if abs(sum(probabilities) - 1) <= 0.005:
        assert sum(percents) == 100
    for p, shown in zip(probabilities, percents, strict=True):
        assert abs(shown - 100 * p) < 1


@given(
    st.floats(min_value=-1e6, max_value=1e6, allow_nan=False),
    st.sampled_from([0.1, 0.25, 1.0]),
)
def test_format_price_is_the_nearest_tick(value: float, tick: float) -> None:
    shown = parse_price(format_price(value, tick=tick))
    assert shown == pytest.approx(on_tick(value, tick), abs=1e-9)
    assert abs(shown - value) <= tick / 2 + 1e-9


@pytest.mark.parametrize(
    ("root", "peers", "words"),
    [
        ("CL", ("HO", "RB"), "refined products"),
        ("GC", ("SI",), "silver"),
        ("ZN", ("ZT", "ZF", "ZB"), "the rest of the curve"),
        ("ZC", ("ZS", "ZW"), "soybeans and wheat"),
    ],
)
@pytest.mark.parametrize("version", ["v1", "v2", "v3", "v4", "v5"])
@pytest.mark.parametrize("verdict", ["leading", "lagging", "mixed"])
def test_beyond_equity_indexes_peers_are_read_in_the_registrys_words(
    root: str, peers: tuple[str, ...], words: str, version: str, verdict: str
) -> None:
    """Issue 19 point 5: crude against refined products, gold against silver, the 10-year against
    the curve, corn against soybeans and wheat; never small or large caps, participation or
    leadership (equity-index ideas), whatever the verdict and trend."""
    sign = {"leading": 1, "lagging": -1, "mixed": 0}[verdict]
    spread = 0.02 * sign if sign else None
    snapshot = dataclasses.replace(
        model_snapshot(),
        root=root,
        methodology_version=version,
        relative_strength=tuple(
            RelativeStrength(peer, spread, spread, spread, spread, verdict) for peer in peers
        ),
    )
    note = render_note(snapshot)
    section = note[note.index(f"## {root} Against") :]
    reading = section.split("\n\n")[2]
    expected = {
        "leading": f"{root} is outperforming {words}: ",
        "lagging": f"{root} is trailing {words}: ",
        "mixed": f"{root} is neither clearly leading nor clearly lagging {words}, ",
    }[verdict]
    assert expected in reading
    for equity_word in ("small caps", "large caps", "participation", "leadership"):
        assert equity_word not in note


# --- the templates as modules: made once a process, the same bytes as made once a note -------


def _per_note_environment() -> Any:
    """An oracle: the note environment as it was before the parts became shared modules (every
    import "with context", Jinja's own Context), so each note builds its modules afresh from
    its own values."""
    from jinja2 import Environment, FunctionLoader, StrictUndefined

    env = note_module.environment()

    def source(name: str) -> str:
        text = (note_module.TEMPLATES / name).read_text(encoding="utf-8")
        return re.sub(r'(\{%- import "[\w.]+" as \w+) -%\}', r"\1 with context -%}", text)

    oracle = Environment(
        loader=FunctionLoader(source),
        undefined=StrictUndefined,
        autoescape=False,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        extensions=["jinja2.ext.do"],
    )
    oracle.filters.update(env.filters)
    oracle.globals.update(env.globals)
    return oracle


def _oracle_note(oracle: Any, s: Snapshot, *, previous: Snapshot | None, demo: bool) -> str:
    context = note_module._context(s)
    labelled = demo or s.source == note_module.DEMO_SOURCE
    context.update(chart_file="c.png" if demo else None, labelled=labelled, previous=previous)
    return str(oracle.get_template(f"{note_module._name(s)}.md.j2").render(context))


def _oracle_words(oracle: Any, s: Snapshot) -> list[str]:
    parts = oracle.get_template(f"{note_module._name(s)}_parts.md.j2").make_module(
        note_module._context(s)
    )
    words = [str(parts.scenario_heading(s.orientation, n)) for n in SCENARIOS]
    for level in s.levels:
        reason = getattr(parts, "reason", None)
        words.append(level.reason or ("" if reason is None else str(reason(s, level.kind, level))))
        words.append("" if level.change is None else str(parts.change_word(level.change)))
    return words


def _words(s: Snapshot) -> list[str]:
    words = list(note_module.scenario_headings(s).values())
    for level in s.levels:
        words += [note_module.level_reason(s, level), note_module.change_words(s, level.change)]
    return words


@pytest.fixture(scope="module")
def calls_of_every_template() -> list[tuple[Snapshot, Snapshot | None]]:
    """(call, the call before it) of each methodology on 18 months of demo bars (every 12th
    call), and v1's relabelled as an analyst's, interleaved so consecutive notes change
    template."""
    import polars as pl

    from pipeline.analysis.assemble import snapshot_from_row
    from pipeline.analysis.methodology import get
    from pipeline.market.continuous import continuous_series
    from pipeline.sources.demo import demo_bars

    window = (date(2023, 1, 1), date(2024, 6, 30))
    series = {
        r: continuous_series(demo_bars(r).filter(pl.col("session_date").is_between(*window)))
        for r in ("RTY", "ES", "NQ")
    }
    per_methodology = []
    for version in ("v1", "v2", "v3", "v4"):
        rows = get(version).analyse(series, "RTY", source="demo").snapshots.sort("as_of")
        calls = [snapshot_from_row(r) for r in rows.iter_rows(named=True)]
        per_methodology.append(
            [(calls[i], calls[i - 1] if i else None) for i in range(0, len(calls), 12)]
        )
    analyst = [
        (dataclasses.replace(s, author="seed-note", methodology_version="analyst"), None)
        for s, _ in per_methodology[0]
    ]
    per_methodology.append(analyst)
    return [pair for group in zip(*per_methodology, strict=False) for pair in group]


def test_every_note_is_the_bytes_of_modules_made_for_it_alone(calls_of_every_template) -> None:
    """The parts templates are modules made once a process (imports without context), their
    macros reading the note being rendered: every note, and every word the site takes from the
    parts, is byte for byte what modules made afresh for that note alone write, in any order."""
    oracle = _per_note_environment()
    assert {note_module._name(s) for s, _ in calls_of_every_template} == {"v1", "v2", "v3"}
    for i, (call, previous) in enumerate(calls_of_every_template):
        demo = i % 3 == 0
        s = call if i % 2 else dataclasses.replace(call, source="file")  # labelled or not
        got = render_note(s, previous=previous, demo=demo, chart_file="c.png" if demo else None)
        assert got == _oracle_note(oracle, s, previous=previous, demo=demo), (
            s.as_of,
            s.methodology_version,
        )
        assert _words(s) == _oracle_words(oracle, s), (s.as_of, s.methodology_version)


def test_notes_rendered_in_threads_are_those_rendered_alone(calls_of_every_template) -> None:
    """Each thread renders with its own note's values (a ContextVar), never another's."""
    from concurrent.futures import ThreadPoolExecutor

    def both(pair: tuple[Snapshot, Snapshot | None]) -> tuple[str, list[str]]:
        return render_note(pair[0], previous=pair[1]), _words(pair[0])

    alone = [both(pair) for pair in calls_of_every_template]
    with ThreadPoolExecutor(4) as pool:
        together = list(pool.map(both, calls_of_every_template * 3))
    assert together == alone * 3


def test_outside_a_note_the_parts_have_no_note_values() -> None:
    """A parts module is shared by every note: its macros see a note's values only while that
    note (or its words) renders, never the last note's."""
    from jinja2 import UndefinedError

    s = model_snapshot()
    render_note(s)
    parts = note_module.environment().get_template("v1_parts.md.j2").module
    with pytest.raises(UndefinedError, match="is undefined"):
        str(parts.summary(s))
