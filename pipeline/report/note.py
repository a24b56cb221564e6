"""The daily note: a Snapshot rendered as the Markdown an analyst would publish.

The note follows the seed note (``seed/rty-technical-analysis-2026-02-04.txt``) section by section:
title, introduction, Summary, relative strength ("Why RTY Looks Different Than Large Caps"),
Market Structure & Trend (with the chart), Key Technical Levels, Looking Forward: Scenarios,
optionally What Changed Since the Previous Call, Final Takeaway and a disclaimer. Every sentence is
chosen by a rule from the snapshot's facts and every number is a snapshot field, only formatted
(prices on the root's tick grid, probabilities as whole percents that sum to 100): the note never
recomputes the call. A section whose facts are missing (an analyst's call without structure,
relative strength or scenarios) is left out rather than filled with placeholders.

Orientation "up" reads as the seed does (the line in the sand is support below price, the
bias-defining level resistance at the recent high); orientation "down" mirrors every phrase.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from pipeline.analysis.snapshot import (
    MODEL_AUTHOR,
    Level,
    RelativeStrength,
    Scenario,
    Snapshot,
    Structure,
)
from pipeline.report.format import (
    format_date_long,
    format_number,
    format_percent,
    format_price,
    format_zone,
    root_spec,
    whole_percents,
)

DEMO_LABEL = "DEMO DATA — synthetic prices, not market data"
#: ``Snapshot.source`` of synthetic bars: such a note is labelled even if the caller forgets ``demo``.
DEMO_SOURCE = "demo"
#: Roots whose peers (every other root) are large caps, so the seed's heading applies verbatim.
SMALL_CAP_ROOTS = frozenset({"RTY"})

#: The seed lists the scenarios from the most to the least constructive.
NOTE_SCENARIO_ORDER: tuple[str, ...] = ("bull", "sideways", "bear")
SCENARIO_HEADINGS: dict[str, str] = {
    "bull": "Bullish Continuation",
    "sideways": "Sideways Consolidation",
    "bear": "Bearish Breakdown",
}
SUMMARY_LINE_NAMES: dict[str, str] = {"bull": "bull", "sideways": "side", "bear": "bear"}
LEVEL_TITLES: dict[str, str] = {
    "line_in_the_sand": "Line in the sand",
    "bias_defining": "Bias-defining level",
    "extension": "Extension",
    "deeper": "Deeper level",
}
PROJECTED_LABEL = "projected (no tested zone beyond)"
CALL_ID_LENGTH = 12  # hex digits of the content hash shown as the call's id
#: Calls of this methodology are written in its own words (pipeline/report/note_v2.py).
V2_METHODOLOGY = "v2"

# Conventional momentum thresholds (Wilder), used only to choose words, never to make the call.
RSI_OVERBOUGHT = 70.0
RSI_OVERSOLD = 30.0
ADX_TRENDING = 25.0

TREND_CLAUSES: dict[str, str] = {
    "Bullish": "is in a bullish primary trend",
    "Bearish": "is in a bearish primary trend",
    "Neutral": "has no clear primary trend",
}
PERSPECTIVE_CLAUSES: dict[str, str] = {
    "trending higher": "is trending higher",
    "consolidation near highs": "is consolidating near its highs",
    "pullback within uptrend": "is pulling back within its uptrend",
    "range": "is moving sideways in a range",
    "consolidation near lows": "is consolidating near its lows",
    "trending lower": "is trending lower",
    "rebound within downtrend": "is rebounding within its downtrend",
}
TREND_CONTINUATIONS: dict[str, str] = {
    "Bullish": "a continuation of the advance",
    "Bearish": "a continuation of the decline",
    "Neutral": "more two-way trade",
}
#: Risk rule -> (the side price must stay on, the reference it is measured against).
RISK_REFERENCES: dict[str, tuple[str, str]] = {
    "accept_below_sma50": ("above", "the 50-day moving average"),
    "accept_above_sma50": ("below", "the 50-day moving average"),
    "accept_below_line": ("above", "the line in the sand"),
    "accept_above_line": ("below", "the line in the sand"),
}
HOLD_VERBS: dict[str, str] = {"above": "holds above", "below": "stays below"}
#: What a zone is, for an analyst's level that lists no sources.
LEVEL_FALLBACK_DESCRIPTIONS: dict[str, str] = {
    "bias_defining": "This area holds the recent extreme.",
}
SOURCE_PHRASES: dict[str, str] = {
    "sma50": "the 50-day moving average",
    "sma200": "the 200-day moving average",
    "recent_high": "the recent high",
    "recent_low": "the recent low",
}
VERDICT_PHRASES: dict[str, str] = {
    "leading": "leading",
    "lagging": "lagging",
    "mixed": "mixed against",
}

DISCLAIMER = (
    "*This analysis is for educational and informational purposes only. It is not trading "
    "advice and not a recommendation to buy or sell any futures contract. The probabilities are "
    "estimates from past market behaviour and guarantee nothing. Futures trading involves "
    "substantial risk of loss and is not suitable for every investor; do your own research and "
    "consult a licensed professional before making trading decisions.*"
)


@dataclass(frozen=True)
class _Prices:
    """Formats prices and zones on one root's tick grid, in its notation (ZN 112'30)."""

    tick: float
    notation: str = "decimal"

    @classmethod
    def of(cls, root: str) -> _Prices:
        spec = root_spec(root)
        return cls(spec.tick, spec.notation)

    def price(self, value: float) -> str:
        return format_price(value, tick=self.tick, notation=self.notation)

    def zone(self, level: Level) -> str:
        return format_zone(level.low, level.high, tick=self.tick, notation=self.notation)

    def span(self, low: float, high: float) -> str:
        return format_zone(low, high, tick=self.tick, notation=self.notation)


def render_note(
    snapshot: Snapshot,
    *,
    chart_file: str | None = None,
    demo: bool = False,
    previous: Snapshot | None = None,
) -> str:
    """The daily note of ``snapshot`` as Markdown (ends with a newline).

    ``chart_file`` is the chart's path or URL relative to where the note will live (linked from
    Market Structure & Trend). ``demo`` labels the title and the first body line as synthetic
    data; a snapshot whose ``source`` is ``demo`` is labelled either way. ``previous`` (the same
    root's earlier call) adds a section listing what changed.

    >>> from pipeline.analysis.snapshot import example_snapshot
    >>> note = render_note(example_snapshot())
    >>> note.splitlines()[0]
    '# E-mini Russell 2000 (RTY) Technical Analysis, 4 Feb 2026'
    >>> "Key support (line in the sand): 2,500.0–2,520.0" in note.splitlines()
    True
    """
    if previous is not None and previous.root != snapshot.root:
        raise ValueError(
            f"previous call is on {previous.root}, not {snapshot.root}: cannot compare calls "
            "on different roots"
        )
    prices = _Prices.of(snapshot.root)
    labelled = demo or snapshot.source == DEMO_SOURCE
    if snapshot.methodology_version == V2_METHODOLOGY:
        from pipeline.report.note_v2 import render_note_v2

        return render_note_v2(
            snapshot, chart_file=chart_file, labelled=labelled, previous=previous, prices=prices
        )
    sections: list[list[str]] = [
        _title(snapshot, labelled=labelled),
        _introduction(snapshot, prices),
        _summary(snapshot, prices),
        _relative_strength_section(snapshot),
        _structure_section(snapshot, prices, chart_file=chart_file),
        _levels_section(snapshot, prices),
        _scenarios_section(snapshot, prices),
        _changes_section(snapshot, previous, prices) if previous is not None else [],
        _takeaway_section(snapshot, prices),
        [DISCLAIMER],
    ]
    blocks = ["\n\n".join(section) for section in sections if section]
    return "\n\n".join(blocks) + "\n"


def _unit(root: str) -> str:
    """What the note's prices are in: "its index points", "US cents per bushel" ..."""
    unit = root_spec(root).unit
    return f"its {unit}" if unit == "index points" else unit


def render_summary_line(snapshot: Snapshot) -> str:
    """One line for tables and logs: root, as-of, stored version, trend, perspective, levels, odds.

    The version (``v3``) appears once the snapshot is stored; an analyst's name follows ``by``.

    >>> from pipeline.analysis.snapshot import example_snapshot
    >>> render_summary_line(example_snapshot())
    'RTY 2026-02-04 by seed-note: Bullish, consolidation near highs; line 2,500.0–2,520.0; bias 2,650.0–2,700.0; bull 40% / side 40% / bear 20%'
    """
    prices = _Prices.of(snapshot.root)
    head = f"{snapshot.root} {snapshot.as_of.isoformat()}"
    if snapshot.version is not None:
        head += f" v{snapshot.version}"
    if snapshot.author != MODEL_AUTHOR:
        head += f" by {snapshot.author}"
    if snapshot.source == DEMO_SOURCE:
        head = f"[DEMO] {head}"
    parts = [f"{snapshot.primary_trend}, {snapshot.perspective}"]
    for kind, short in (("line_in_the_sand", "line"), ("bias_defining", "bias")):
        level = snapshot.level(kind)
        if level is not None:
            parts.append(f"{short} {prices.zone(level)}")
    percents = _scenario_percents(snapshot)
    if percents:
        parts.append(
            " / ".join(
                f"{SUMMARY_LINE_NAMES[name]} {percents[name]}%"
                for name in NOTE_SCENARIO_ORDER
                if name in percents
            )
        )
    return f"{head}: " + "; ".join(parts)


# --- sections -------------------------------------------------------------------------------


def _title(s: Snapshot, *, labelled: bool) -> list[str]:
    name = root_spec(s.root).name
    title = f"# {name} ({s.root}) Technical Analysis, {format_date_long(s.as_of)}"
    if labelled:
        title += f" ({DEMO_LABEL})"
    lines = [title]
    if labelled:
        lines.append(
            f"> **{DEMO_LABEL}.** These bars come from the seeded demo source: the levels, "
            "scenarios and probabilities below describe no real market."
        )
    lines.append(_provenance(s))
    return lines


def _provenance(s: Snapshot) -> str:
    made_by = "callbook" if s.author == MODEL_AUTHOR else f"analyst {s.author}"
    facts = [f"methodology {s.methodology_version}", f"source {s.source}"]
    if s.version is not None:
        facts.append(f"version {s.version}")
    if s.content_hash:
        facts.append(f"call id `{s.content_hash[:CALL_ID_LENGTH]}`")
    return (
        f"*Front contract {s.contract}; prices in {_unit(s.root)} (settlement "
        f"{_Prices.of(s.root).price(s.raw_close)}). Call by {made_by}: "
        f"{', '.join(facts)}.*"
    )


def _introduction(s: Snapshot, prices: _Prices) -> list[str]:
    sentences = [f"{s.root} {_trend_clause(s.primary_trend)} and {_perspective_clause(s)}."]
    st = s.structure
    settled = f"It settled at {prices.price(s.raw_close)} on {format_date_long(s.as_of)}"
    if st is None:
        sentences.append(f"{settled} ({s.contract}).")
    else:
        sentences.append(
            f"{settled}, {_distance_to_200(st)}, which is {_slope_word(st.sma200_change)}."
        )
        if s.orientation == "up" and st.higher_lows_since is not None:
            sentences.append(
                "Pullbacks are being bought: swing lows have been rising since "
                f"{format_date_long(st.higher_lows_since)}."
            )
        elif s.orientation == "down" and st.lower_highs_since is not None:
            sentences.append(
                "Rallies are being sold: swing highs have been falling since "
                f"{format_date_long(st.lower_highs_since)}."
            )
    relative = _relative_strength_clause(s)
    if relative:
        sentences.append(relative)
    line = s.level("line_in_the_sand")
    if line is not None:
        hold = "holds above" if s.orientation == "up" else "stays below"
        sentences.append(f"The call stands as long as price {hold} {prices.zone(line)}.")
    paragraphs = [" ".join(sentences)]
    if s.notes:
        paragraphs.append(f"Analyst's notes: {s.notes}")
    return ["## Introduction", *paragraphs]


def _summary(s: Snapshot, prices: _Prices) -> list[str]:
    lines = [
        f"Primary trend: {s.primary_trend}",
        f"Current market perspective: {_capitalised(s.perspective)}",
    ]
    line = s.level("line_in_the_sand")
    if line is not None:
        lines.append(f"Key {line.role} (line in the sand): {prices.zone(line)}")
    bias = s.level("bias_defining")
    if bias is not None:
        lines.append(f"Bias-defining level: {prices.zone(bias)}")
    if s.risk_text:
        risk = f"Risk to the thesis: {s.risk_text}"
        if s.risk_level is not None:
            risk += f" (now {prices.price(s.risk_level)})"
        lines.append(risk)
    # One paragraph per line, so each stays a line of its own in every Markdown renderer.
    return ["## Summary", *lines]


def _relative_strength_section(s: Snapshot) -> list[str]:
    peers = _peers(s)
    if not peers:
        return []
    if s.root in SMALL_CAP_ROOTS:
        heading = f"## Why {s.root} Looks Different Than Large Caps"
    else:
        names = " and ".join(f"the {_market_name(rs.peer)}" for rs in peers)
        heading = f"## {s.root} Against {names}"
    bullets = [_relative_strength_bullet(s.root, rs) for rs in peers]
    return [heading, "\n".join(bullets), _relative_strength_reading(s.root, peers)]


def _relative_strength_bullet(root: str, rs: RelativeStrength) -> str:
    spreads = ", ".join(
        f"{format_percent(value, signed=True)} over {window} sessions"
        for window, value in ((5, rs.spread_5), (20, rs.spread_20), (63, rs.spread_63))
    )
    bullet = (
        f"- Against the {_market_name(rs.peer)} ({rs.peer}): **{rs.verdict}**. Return spread "
        f"({root} minus {rs.peer}): {spreads}."
    )
    if rs.ratio_vs_mean is not None:
        side = "above" if rs.ratio_vs_mean >= 0 else "below"
        bullet += (
            f" The {root}/{rs.peer} ratio is {format_percent(abs(rs.ratio_vs_mean))} {side} "
            "its mean."
        )
    return bullet


def _relative_strength_reading(root: str, peers: Sequence[RelativeStrength]) -> str:
    verdicts = {rs.verdict for rs in peers}
    them = "large caps" if root in SMALL_CAP_ROOTS else "its peers"
    if verdicts == {"leading"}:
        return (
            f"{root} is outperforming {them}. That is broadening participation, the kind of "
            "support a durable advance needs."
        )
    if verdicts == {"lagging"}:
        return (
            f"{root} is still trailing {them}. Whatever it does on its own chart is happening "
            "without leadership, which leaves moves more fragile and reversals more likely."
        )
    return (
        f"The relative picture is mixed: {root} is neither clearly leading nor clearly lagging "
        f"{them}, so relative strength neither confirms nor contradicts the call yet."
    )


def _structure_section(s: Snapshot, prices: _Prices, *, chart_file: str | None) -> list[str]:
    st = s.structure
    if st is None and chart_file is None:
        return []
    lines = ["## Market Structure & Trend", "### Daily Chart"]
    if chart_file is not None:
        lines.append(f"![{s.root} daily chart]({chart_file})")
    if st is None:
        return lines
    ma_side = "above" if st.close >= st.sma50 else "below"
    lines.append(
        f"On the daily chart, {s.root} settled at {prices.price(st.close)}, {ma_side} its "
        f"{_slope_word(st.sma50_change)} 50-day moving average ({prices.price(st.sma50)}); the "
        f"200-day is at {prices.price(st.sma200)}."
    )
    lines.append("A few things stand out:")
    lines.append("\n".join(f"- {bullet}" for bullet in _structure_bullets(st, prices)))
    lines.append(_risk_outlook(s, st, prices))
    return lines


def _risk_outlook(s: Snapshot, st: Structure, prices: _Prices) -> str:
    """Continuation while the risk rule's side holds; a warning when price is already beyond."""
    outcome = TREND_CONTINUATIONS.get(s.primary_trend, "more of the same")
    reference = RISK_REFERENCES.get(s.risk_rule)
    if reference is None:
        return (
            f"This structure points toward {outcome} until the risk to the thesis plays out "
            f"({_lowered(s.risk_text)})."
        )
    side, what = reference
    if s.risk_level is not None and (
        st.close < s.risk_level if side == "above" else st.close > s.risk_level
    ):
        opposite = "below" if side == "above" else "above"
        return (
            f"This structure still points toward {outcome}, but price is already {opposite} "
            f"{what} ({prices.price(s.risk_level)}): {_lowered(s.risk_text)} would put the "
            "thesis at risk."
        )
    return f"This structure points toward {outcome} as long as price {HOLD_VERBS[side]} {what}."


def _structure_bullets(st: Structure, prices: _Prices) -> list[str]:
    bullets = []
    if st.higher_lows_since is not None:
        bullets.append(
            f"Higher lows have formed since {format_date_long(st.higher_lows_since)} "
            f"({st.higher_lows_count} rising confirmed swing lows)"
        )
    if st.lower_highs_since is not None:
        bullets.append(
            f"Lower highs have formed since {format_date_long(st.lower_highs_since)} "
            f"({st.lower_highs_count} falling confirmed swing highs)"
        )
    bullets.append(
        f"Price is {_distance_to_200(st)}, at {prices.price(st.sma200)} and "
        f"{_slope_word(st.sma200_change)}"
    )
    sma50_side = "above" if st.dist_sma50_atr >= 0 else "below"
    bullets.append(
        f"Price is {format_number(abs(st.dist_sma50_atr))} ATR {sma50_side} the 50-day moving "
        f"average; ATR(14) is {format_number(st.atr14)} points"
    )
    pullback = _pullback_phrase(st)
    if pullback:
        bullets.append(pullback)
    if st.high_252 is None or st.low_252 is None:  # the first calls come before 252 sessions
        bullets.append(
            "The 252-session high and low are not known yet (fewer than 252 sessions of "
            f"history); the recent consolidation range spans {format_number(st.range_atr)} ATR"
        )
    else:
        bullets.append(
            f"The 252-session high is {prices.price(st.high_252)} "
            f"({format_number(st.dist_high_252_atr)} ATR above the close) and the low "
            f"{prices.price(st.low_252)} ({format_number(st.dist_low_252_atr)} ATR below); the "
            f"recent consolidation range spans {format_number(st.range_atr)} ATR"
        )
    bullets.append(
        f"Momentum: RSI(14) {format_number(st.rsi14)} ({_rsi_word(st.rsi14)}), ADX(14) "
        f"{format_number(st.adx14)} ({_adx_word(st.adx14)})"
    )
    return bullets


def _pullback_phrase(st: Structure) -> str | None:
    if st.pullback_depth is None:
        return None
    phrase = f"The last pullback was {st.pullback_depth}"
    if st.pullback_retracement is not None:
        phrase += f" ({format_percent(st.pullback_retracement, decimals=0)} of the prior impulse)"
    if st.pullback_speed == "corrective":
        phrase += " and corrective, not impulsive"
    elif st.pullback_speed == "impulsive":
        phrase += " and impulsive, not corrective"
    return phrase


def _levels_section(s: Snapshot, prices: _Prices) -> list[str]:
    line = s.level("line_in_the_sand")
    bias = s.level("bias_defining")
    reference = [lv for lv in (s.level("extension"), s.level("deeper")) if lv is not None]
    if line is None and bias is None and not reference:
        return []
    lines = ["## Key Technical Levels"]
    if line is not None:
        lines += ["### Line in the Sand", _level_entry(s, line, prices, _line_meaning(s))]
    if bias is not None:
        lines += ["### Levels That Shape the Bias", _level_entry(s, bias, prices, _bias_meaning(s))]
    if reference:
        lines.append("### Reference and Extension Levels")
        for level in reference:
            meaning = _extension_meaning(s) if level.kind == "extension" else _deeper_meaning(s)
            lines.append(_level_entry(s, level, prices, meaning))
    return lines


def _level_entry(s: Snapshot, level: Level, prices: _Prices, meaning: str) -> str:
    head = f"**{prices.zone(level)}** ({level.role})"
    if level.projected:
        head += f", {PROJECTED_LABEL}"
    made_of = _zone_composition(level) or LEVEL_FALLBACK_DESCRIPTIONS.get(level.kind, "")
    body = f"{made_of} {meaning}" if made_of else meaning
    return f"{head}:\n{body}"


def _zone_composition(level: Level) -> str:
    if level.projected:
        return "It sits a fixed step beyond the last tested zone."
    parts = [SOURCE_PHRASES[src] for src in level.sources if src in SOURCE_PHRASES]
    if level.touches:
        highs, lows = "swing_high" in level.sources, "swing_low" in level.sources
        kind = (
            "swing highs and lows" if highs and lows else "swing highs" if highs else "swing lows"
        )
        if level.touches == 1:
            kind = "swing point" if highs and lows else kind[:-1]
        parts.insert(0, f"{level.touches} confirmed {kind}")
    if not parts:
        return ""
    flipped = (
        " (former resistance turned support)"
        if level.role == "support" and "swing_high" in level.sources
        else " (former support turned resistance)"
        if level.role == "resistance" and "swing_low" in level.sources
        else ""
    )
    return f"This zone aligns with {_joined(parts)}{flipped}."


def _line_meaning(s: Snapshot) -> str:
    if s.orientation == "up":
        return (
            "Holding above it keeps the constructive structure intact. A sustained break below "
            "would signal that the advance is losing traction."
        )
    return (
        "Staying below it keeps the bearish pressure on. A sustained move above would signal "
        "that the decline is losing momentum."
    )


def _bias_meaning(s: Snapshot) -> str:
    if s.orientation == "up":
        return (
            "Acceptance above it would strengthen the bullish case and open the door to the "
            "extension level."
        )
    return (
        "Acceptance below it would strengthen the bearish case and open the door to the "
        "extension level."
    )


def _extension_meaning(s: Snapshot) -> str:
    direction = "upside" if s.orientation == "up" else "downside"
    return (
        f"Potential {direction} area if {s.root} turns from {s.perspective} into a more "
        "directional move."
    )


def _deeper_meaning(s: Snapshot) -> str:
    if s.orientation == "up":
        return "Deeper support if volatility increases and the index revisits prior value."
    return "Higher resistance if a rebound extends and the index revisits prior value."


def _scenarios_section(s: Snapshot, prices: _Prices) -> list[str]:
    percents = _scenario_percents(s)
    if not percents:
        return []
    lines = ["## Looking Forward: Scenarios"]
    for name in NOTE_SCENARIO_ORDER:
        scenario = _find_scenario(s, name)
        if scenario is None:
            continue
        lines.append(f"### {SCENARIO_HEADINGS[name]} ({percents[name]}%)")
        lines.append(_scenario_story(s, scenario, prices))
        lines.append("\n".join(f"- {fact}" for fact in _scenario_facts(s, scenario, prices)))
    return lines


def _scenario_story(s: Snapshot, scenario: Scenario, prices: _Prices) -> str:
    target = _target(scenario, prices)
    toward = f" toward {target}" if target else ""
    upper = prices.price(_barrier(s, scenario, "bull"))
    lower = prices.price(_barrier(s, scenario, "bear"))
    if scenario.name == "sideways":
        mood = (
            "digesting gains while keeping a constructive structure"
            if s.orientation == "up"
            else "digesting losses without a decisive rebound"
        )
        return f"Price remains range-bound between {lower} and {upper}, {mood}."
    if scenario.name == "bull":
        if s.orientation == "up":
            return (
                f"{s.root} holds above {lower} and pushes through {upper}, continuing its move "
                f"higher{toward} as the trend becomes more expansive."
            )
        return (
            f"{s.root} reclaims the line in the sand with acceptance above {upper}, turning the "
            f"decline into a recovery{toward}."
        )
    if s.orientation == "up":
        return (
            f"Acceptance below {lower} breaks the line in the sand, weakens the setup and opens "
            f"the door to a deeper pullback{toward}."
        )
    return (
        f"{s.root} stays below {upper} and breaks through {lower}, the decline resuming{toward} "
        "as selling becomes more expansive."
    )


def _scenario_facts(s: Snapshot, scenario: Scenario, prices: _Prices) -> list[str]:
    if scenario.name == "sideways":
        trigger = (
            f"Trigger: neither barrier is accepted; price stays between "
            f"{prices.price(s.lower_barrier)} and {prices.price(s.upper_barrier)}"
        )
    elif scenario.trigger_level is not None:
        side = "above" if scenario.name == "bull" else "below"
        trigger = f"Trigger: acceptance {side} {prices.price(scenario.trigger_level)}"
    else:
        trigger = f"Trigger: {scenario.trigger}"
    facts = [trigger]
    target = _target(scenario, prices)
    if target:
        facts.append(f"Target zone: {target}")
    if s.author == MODEL_AUTHOR:
        facts.append(
            f"Evidence: based on {scenario.analogs} analog sessions (of {s.analogs_total} in the "
            f"same state; base rate {format_percent(scenario.climatology, decimals=0)})"
        )
    else:
        facts.append(f"Evidence: the judgement of {s.author}, not an analog count")
    facts.append(
        f"Horizon: over the next {s.horizon_sessions} sessions (to {s.horizon_end.isoformat()})"
    )
    return facts


def _changes_section(
    s: Snapshot,
    previous: Snapshot,
    prices: _Prices,
    *,
    heading: Callable[[Snapshot, str], str] | None = None,
) -> list[str]:
    """What differs from ``previous``; ``heading(s, name)`` names a scenario as the note's own
    scenario headings do (v1: the fixed names)."""
    changes = []
    for label, old, new in (
        ("Primary trend", previous.primary_trend, s.primary_trend),
        ("Market perspective", previous.perspective, s.perspective),
        ("Orientation", previous.orientation, s.orientation),
        ("Front contract", previous.contract, s.contract),
    ):
        if old != new:
            changes.append(f"{label}: {old} → {new}")
    for kind, title in LEVEL_TITLES.items():
        old_level, new_level = previous.level(kind), s.level(kind)
        old_text = prices.zone(old_level) if old_level else "none"
        new_text = prices.zone(new_level) if new_level else "none"
        if old_text != new_text:
            changes.append(f"{title}: {old_text} → {new_text}")
    if previous.risk_text != s.risk_text:
        changes.append(f"Risk to the thesis: {previous.risk_text} → {s.risk_text}")
    old_percents, new_percents = _scenario_percents(previous), _scenario_percents(s)
    for name in NOTE_SCENARIO_ORDER:
        old_p, new_p = old_percents.get(name), new_percents.get(name)
        if old_p != new_p:
            changes.append(
                f"{heading(s, name) if heading else SCENARIO_HEADINGS[name]}: "
                f"{_percent_or_none(old_p)} → {_percent_or_none(new_p)}"
            )
    old_verdicts = {rs.peer: rs.verdict for rs in previous.relative_strength}
    for rs in s.relative_strength:
        old_verdict = old_verdicts.get(rs.peer)
        if old_verdict is not None and old_verdict != rs.verdict:
            changes.append(f"Against {rs.peer}: {old_verdict} → {rs.verdict}")
    if not changes:
        changes.append(
            "Nothing material: trend, perspective, levels and probabilities are unchanged"
        )
    intro = f"Against the call of {format_date_long(previous.as_of)}:"
    return [
        "## What Changed Since the Previous Call",
        intro,
        "\n".join(f"- {c}" for c in changes),
    ]


def _takeaway_section(s: Snapshot, prices: _Prices) -> list[str]:
    sentences = []
    line = s.level("line_in_the_sand")
    extension = s.level("extension")
    upper, lower = prices.price(s.upper_barrier), prices.price(s.lower_barrier)
    if s.orientation == "up":
        beyond, barrier, swings, side = "above", upper, "Pullbacks", "buyers"
        hold = "holds above"
    else:
        beyond, barrier, swings, side = "below", lower, "Rallies", "sellers"
        hold = "stays below"
    if s.primary_trend == "Neutral":
        sentences.append(
            f"{s.root} has no primary trend: the band between {lower} and {upper} frames the "
            "next move, and acceptance beyond either edge decides it."
        )
    elif line is not None:
        opens = f" would open {prices.zone(extension)}" if extension else " would extend the move"
        sentences.append(
            f"{s.root}'s structure stays intact while price {hold} {prices.zone(line)}: "
            f"{swings.lower()} toward that zone are where {side} have to show up, and "
            f"acceptance {beyond} {barrier}{opens}."
        )
    favoured = _favoured(s)
    if favoured:
        sentences.append(favoured)
    if s.risk_text:
        sentences.append(f"The thesis is at risk on {_lowered(s.risk_text)}.")
    if not sentences:
        return []
    return ["## Final Takeaway", " ".join(sentences)]


# --- small helpers --------------------------------------------------------------------------


def _scenario_percents(s: Snapshot) -> dict[str, int]:
    present = [sc for sc in s.scenarios if sc.name in SCENARIO_HEADINGS]
    percents = whole_percents([sc.probability for sc in present])
    return {sc.name: p for sc, p in zip(present, percents, strict=True)}


def _favoured(s: Snapshot) -> str | None:
    percents = _scenario_percents(s)
    if not percents:
        return None
    top = max(percents.values())
    leaders = [n for n in NOTE_SCENARIO_ORDER if percents.get(n) == top]
    basis = "The analog base rates" if s.author == MODEL_AUTHOR else "The probabilities"
    if len(leaders) == 1:
        return f"{basis} favour {SCENARIO_HEADINGS[leaders[0]].lower()} ({top}%)."
    names = _joined([SCENARIO_HEADINGS[n].lower() for n in leaders])
    return f"{basis} split evenly between {names} ({top}% each)."


def _find_scenario(s: Snapshot, name: str) -> Scenario | None:
    return next((sc for sc in s.scenarios if sc.name == name), None)


def _barrier(s: Snapshot, scenario: Scenario, side: str) -> float:
    """The scenario's own trigger level when it is the barrier asked for, else the snapshot's."""
    if scenario.name == side and scenario.trigger_level is not None:
        return scenario.trigger_level
    return s.upper_barrier if side == "bull" else s.lower_barrier


def _target(scenario: Scenario, prices: _Prices) -> str | None:
    if scenario.target_low is None or scenario.target_high is None:
        return None
    return prices.span(scenario.target_low, scenario.target_high)


def _distance_to_200(st: Structure) -> str:
    """``well above the 200-day moving average (4.2 ATR, +6.3%)``."""
    side = "above" if st.dist_sma200_atr >= 0 else "below"
    if st.well_above_sma200:
        side = "well above"
    return (
        f"{side} the 200-day moving average ({format_number(abs(st.dist_sma200_atr))} ATR, "
        f"{format_percent(st.dist_sma200_pct, signed=True)})"
    )


def _relative_strength_clause(s: Snapshot) -> str | None:
    """``Against its peers (20-session return spreads), RTY is leading the ES (+2.1%) and ...``."""
    clauses = []
    for verdict, phrase in VERDICT_PHRASES.items():
        named = [
            f"the {_market_name(rs.peer)} ({format_percent(rs.spread_20, signed=True)})"
            for rs in _peers(s)
            if rs.verdict == verdict
        ]
        if named:
            clauses.append(f"{phrase} {_joined(named)}")
    if not clauses:
        return None
    return f"Against its peers (20-session return spreads), {s.root} is {_joined(clauses)}."


def _peers(s: Snapshot) -> list[RelativeStrength]:
    """Peers with a verdict (none during warm-up), never the root against itself."""
    return [rs for rs in s.relative_strength if rs.verdict is not None and rs.peer != s.root]


def _trend_clause(trend: str) -> str:
    return TREND_CLAUSES.get(trend, f"has a {trend.lower()} primary trend")


def _perspective_clause(s: Snapshot) -> str:
    return PERSPECTIVE_CLAUSES.get(s.perspective, f"its market perspective is {s.perspective}")


def _slope_word(change: float) -> str:
    return "rising" if change > 0 else "falling" if change < 0 else "flat"


def _rsi_word(rsi: float) -> str:
    if rsi >= RSI_OVERBOUGHT:
        return "overbought"
    if rsi <= RSI_OVERSOLD:
        return "oversold"
    return "neither overbought nor oversold"


def _adx_word(adx: float) -> str:
    return "a trending market" if adx >= ADX_TRENDING else "no strong trend"


def _market_name(root: str) -> str:
    try:
        return root_spec(root).name
    except ValueError:
        return root


def _percent_or_none(p: int | None) -> str:
    return "none" if p is None else f"{p}%"


def _joined(parts: Sequence[str]) -> str:
    if len(parts) <= 1:
        return "".join(parts)
    return ", ".join(parts[:-1]) + " and " + parts[-1]


def _capitalised(text: str) -> str:
    return text[:1].upper() + text[1:]


def _lowered(text: str) -> str:
    return text[:1].lower() + text[1:]
