"""The daily note of a methodology v2 call: v2's vocabulary, level reasons, true statements only.

Same sections as the v1 note (:mod:`pipeline.report.note`, after the seed note), with v2's
wording: the regime named by its rule (crash, selloff, rebound, breakout ...), every level with
why it is there and since when, the structure facts v2 defines and checks (each printed only when
its field is set: "higher lows since D" is printed exactly when the call table's
``higher_lows_since`` is, and :mod:`pipeline.analysis.v2.statements` checks that field against
the bars), risk wording that fits where price is, and scenario evidence that says how the
probability was made (the probability model's random walk between the barriers) and sets it
against the base rate a reader can recompute: b = (n + a' * g) / (N + a').
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from pipeline.analysis.snapshot import (
    MODEL_AUTHOR,
    Level,
    RelativeStrength,
    Scenario,
    Snapshot,
    Structure,
)
from pipeline.analysis.v2.params import V2Params
from pipeline.report.format import format_date_long, format_number, format_percent
from pipeline.report.note import (
    DISCLAIMER,
    HOLD_VERBS,
    LEVEL_TITLES,
    NOTE_SCENARIO_ORDER,
    PROJECTED_LABEL,
    RISK_REFERENCES,
    SCENARIO_HEADINGS,
    SMALL_CAP_ROOTS,
    TREND_CLAUSES,
    _adx_word,
    _barrier,
    _capitalised,
    _changes_section,
    _find_scenario,
    _lowered,
    _peers,
    _Prices,
    _relative_strength_clause,
    _relative_strength_reading,
    _rsi_word,
    _scenario_percents,
    _slope_word,
    _target,
    _title,
)
from pipeline.report.note import (
    _relative_strength_section as _v1_relative_strength_section,
)

#: The methodology whose notes this module writes.
METHODOLOGY = "v2"
_PARAMS = V2Params()

#: The swing structure a breakdown / recovery read, in words (pipeline/analysis/v2/regime.py).
STRUCTURE_WORDS: dict[str, str] = {
    "lower_highs": "making lower highs",
    "below_swing_low": "below its last swing low",
    "higher_lows": "making higher lows",
    "above_swing_high": "above its last swing high",
}
PERSPECTIVE_CLAUSES_V2: dict[str, str] = {
    "trending higher": "is trending higher",
    "consolidation near highs": "is consolidating near its highs",
    "pullback within uptrend": "is pulling back within its uptrend",
    "range": "is moving sideways in a range",
    "consolidation near lows": "is consolidating near its lows",
    "trending lower": "is trending lower",
    "rebound within downtrend": "is rebounding within its downtrend",
}
CHANGE_WORDS: dict[str, str] = {
    "new": "first call",
    "orientation": "the call turned, so the levels changed roles",
    "accepted_through": "price accepted through the previous level (two settlements beyond it)",
    "trimmed": "price came into the zone without acceptance; the zone was cut back to it",
    "price_inside": "price came into the previous zone without acceptance; a new level was picked",
    "out_of_range": (
        f"price moved more than {_PARAMS.level_keep_atr:g} ATR away from the previous level "
        f"({_PARAMS.line_keep_atr:g} ATR for the line in the sand)"
    ),
    "new_structure": "a newly confirmed swing made a better-scored zone",
    "average_moved": "the moving average that made the previous level has moved away from it",
    "reordered": "the line or bias moved past the previous level",
    "narrowed": (
        f"volatility fell; the zone was cut to {_PARAMS.zone_max_width_atr:g} ATR, its far edge kept"
    ),
}


def render_note_v2(
    snapshot: Snapshot,
    *,
    chart_file: str | None,
    labelled: bool,
    previous: Snapshot | None,
    prices: _Prices,
) -> str:
    """The note of a v2 snapshot as Markdown (see :func:`pipeline.report.note.render_note`)."""
    s = snapshot
    sections: list[list[str]] = [
        _title(s, labelled=labelled),
        _introduction(s, prices),
        _summary(s, prices),
        _relative_strength_section(s),
        _structure_section(s, prices, chart_file=chart_file),
        _levels_section(s, prices),
        _scenarios_section(s, prices),
        _changes_section(s, previous, prices, heading=scenario_heading)
        if previous is not None
        else [],
        _takeaway_section(s, prices),
        [DISCLAIMER],
    ]
    blocks = ["\n\n".join(section) for section in sections if section]
    return "\n\n".join(blocks) + "\n"


# --- sections -------------------------------------------------------------------------------


def _introduction(s: Snapshot, prices: _Prices) -> list[str]:
    d = s.details
    sentences = [f"{s.root} {_trend_clause(s)} and {perspective_clause(s, prices)}."]
    st = s.structure
    if st is not None:
        sentences.append(
            f"It settled at {prices.price(s.raw_close)} on {format_date_long(s.as_of)}, "
            f"{_distance_to_200(st)}, which is {_slope_word(st.sma200_change)}."
        )
        for fact in structure_facts(s, prices, short=True)[:2]:
            sentences.append(f"{fact}.")
    relative = _relative_strength_clause(s)
    if relative:
        sentences.append(relative)
    no_longer = [peer for peer in ("ES", "NQ") if d.get(f"rs_{peer.lower()}_no_longer_lagging")]
    if no_longer:
        sentences.append(
            f"{s.root} is no longer lagging {' and '.join(no_longer)}: it lagged within the last "
            f"{_PARAMS.rs_memory_sessions} sessions and does not now."
        )
    line = s.level("line_in_the_sand")
    if line is not None:
        hold = "holds above" if s.orientation == "up" else "stays below"
        sentences.append(f"The call stands as long as price {hold} {prices.zone(line)}.")
    return ["## Introduction", " ".join(sentences)]


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
        label = f"Bias-defining level: {prices.zone(bias)}"
        if bias.projected:
            label += " (projected)"
        lines.append(label)
    if s.risk_text:
        risk = f"Risk to the thesis: {s.risk_text}"
        if s.risk_level is not None:
            risk += f" (now {prices.price(s.risk_level)})"
        lines.append(risk)
    lines.append(f"Methodology: {s.methodology_version}")
    return ["## Summary", *lines]


def _structure_section(s: Snapshot, prices: _Prices, *, chart_file: str | None) -> list[str]:
    st = s.structure
    if st is None and chart_file is None:
        return []
    lines = ["## Market Structure & Trend", "### Daily Chart"]
    if chart_file is not None:
        lines.append(f"![{s.root} daily chart]({chart_file})")
    if st is None:
        return lines
    side = "above" if st.close > st.sma50 else "below" if st.close < st.sma50 else "at"
    lines.append(
        f"On the daily chart, {s.root} settled at {prices.price(st.close)}, {side} its "
        f"{_slope_word(st.sma50_change)} 50-day moving average ({prices.price(st.sma50)}); the "
        f"200-day is at {prices.price(st.sma200)}."
    )
    lines.append("A few things stand out:")
    bullets = structure_facts(s, prices, short=False)
    bullets.append(
        f"Momentum: RSI(14) {format_number(st.rsi14)} ({_rsi_word(st.rsi14)}), ADX(14) "
        f"{format_number(st.adx14)} ({_adx_word(st.adx14)})"
    )
    lines.append("\n".join(f"- {bullet}" for bullet in bullets))
    lines.append(risk_outlook(s, st, prices))
    return lines


def _levels_section(s: Snapshot, prices: _Prices) -> list[str]:
    lines = ["## Key Technical Levels"]
    titles = {
        "line_in_the_sand": "### Line in the Sand",
        "bias_defining": "### Levels That Shape the Bias",
    }
    shown_reference = False
    for kind in ("line_in_the_sand", "bias_defining", "extension", "deeper"):
        level = s.level(kind)
        if level is None:
            continue
        if kind in titles:
            lines.append(titles[kind])
        elif not shown_reference:
            lines.append("### Reference and Extension Levels")
            shown_reference = True
        lines.append(level_entry(s, level, prices))
    return lines if len(lines) > 1 else []


def _scenarios_section(s: Snapshot, prices: _Prices) -> list[str]:
    percents = _scenario_percents(s)
    if not percents:
        return []
    lines = ["## Looking Forward: Scenarios"]
    for name in NOTE_SCENARIO_ORDER:
        scenario = _find_scenario(s, name)
        if scenario is None:
            continue
        lines.append(f"### {scenario_heading(s, name)} ({percents[name]}%)")
        lines.append(_scenario_story(s, scenario, prices))
        lines.append("\n".join(f"- {fact}" for fact in _scenario_facts(s, scenario, prices)))
    return lines


def _takeaway_section(s: Snapshot, prices: _Prices) -> list[str]:
    sentences = []
    line = s.level("line_in_the_sand")
    extension = s.level("extension")
    upper, lower = prices.price(s.upper_barrier), prices.price(s.lower_barrier)
    up = s.orientation == "up"
    beyond, barrier = ("above", upper) if up else ("below", lower)
    hold = "holds above" if up else "stays below"
    if s.primary_trend == "Neutral":
        sentences.append(
            f"{s.root} has no primary trend: the band between {lower} and {upper} frames the "
            "next move, and acceptance beyond either edge decides it."
        )
    elif line is not None:
        opens = f" would open {prices.zone(extension)}" if extension else ""
        sentences.append(
            f"{s.root}'s {s.primary_trend.lower()} structure stays intact while price {hold} "
            f"{prices.zone(line)}; "
            f"acceptance {beyond} {barrier}{opens}."
        )
    favoured = most_likely(s)
    if favoured:
        sentences.append(favoured)
    if s.risk_text:
        sentences.append(f"The thesis is at risk on {_lowered(s.risk_text)}.")
    return ["## Final Takeaway", " ".join(sentences)] if sentences else []


# --- wording --------------------------------------------------------------------------------


def _relative_strength_section(s: Snapshot) -> list[str]:
    """v1's section (heading, bullets) with a reading that fits the primary trend: outperforming
    peers in a bearish trend is resilience, not "the support a durable advance needs"; trailing
    them in a bearish trend confirms the trend rather than making moves fragile."""
    section = _v1_relative_strength_section(s)
    peers = _peers(s)
    return [*section[:-1], _relative_strength_reading_v2(s, peers)] if section else []


def _relative_strength_reading_v2(s: Snapshot, peers: Sequence[RelativeStrength]) -> str:
    verdicts = {rs.verdict for rs in peers}
    them = "large caps" if s.root in SMALL_CAP_ROOTS else "its peers"
    if s.primary_trend == "Bearish" and verdicts == {"leading"}:
        return (
            f"{s.root} is outperforming {them}. In a bearish primary trend that is relative "
            "resilience, not a reversal: it can come before a bottom, but it does not turn the "
            "trend by itself."
        )
    if s.primary_trend == "Bearish" and verdicts == {"lagging"}:
        return (
            f"{s.root} is trailing {them} as well as in a bearish trend on its own chart: the "
            "relative weakness confirms the trend."
        )
    if s.primary_trend == "Bullish" and verdicts == {"lagging"}:
        return (
            f"{s.root} is trailing {them}: its advance has less leadership behind it than theirs, "
            "which makes it the more fragile of them if the market turns."
        )
    if s.primary_trend == "Neutral" and verdicts == {"leading"}:
        return (
            f"{s.root} is outperforming {them}: relative strength that would support a break "
            "higher, not yet confirmed by a trend on its own chart."
        )
    return _relative_strength_reading(s.root, peers)


def _trend_clause(s: Snapshot) -> str:
    """The trend, and for the breakdown / recovery / crash rules the facts they read (each true)."""
    clause = TREND_CLAUSES.get(s.primary_trend, f"has a {s.primary_trend.lower()} primary trend")
    st, rule = s.structure, s.details.get("trend_rule")
    if rule == "crash":
        # The crash rule's state (pipeline/analysis/v2/regime.py): price fell through both
        # averages in a crash and has not been accepted back above either.
        return (
            f"{clause} (a crash took price below its 50-day and 200-day moving averages, and it "
            "has not been accepted back above either)"
        )
    if st is None or rule not in ("breakdown", "recovery"):
        return clause
    side = "below" if rule == "breakdown" else "above"
    sma50 = "a falling" if rule == "breakdown" else "a rising"
    words = STRUCTURE_WORDS.get(s.details.get("trend_structure") or "", "")
    return (
        f"{clause} (the close is {format_percent(abs(st.dist_sma200_pct), decimals=0)} {side} "
        f"the 200-day, which is {_slope_word(st.sma200_change)}; {side} {sma50} 50-day"
        + (f"; {words}" if words else "")
        + ")"
    )


def perspective_clause(s: Snapshot, prices: _Prices) -> str:
    """The perspective in words, with the numbers its rule read (all snapshot fields)."""
    d = s.details
    p = s.perspective
    if p in ("crash", "selloff") and d.get("fall_high_date") is not None:
        return (
            f"is in a {p}: {format_percent(d['fall_pct'], decimals=0)} below its high of "
            f"{format_date_long(d['fall_high_date'])}"
        )
    if p.startswith("rebound after") and d.get("selloff_low_date") is not None:
        return _rebound_clause(s, d)
    if p == "breakout to new highs" and d.get("breakout_date") is not None:
        return (
            f"broke out to new highs on {format_date_long(d['breakout_date'])}, above the prior "
            f"high of {prices.price(d['breakout_level'])}, and holds above it"
        )
    if p == "breakdown to new lows" and d.get("breakdown_date") is not None:
        return (
            f"broke down to new lows on {format_date_long(d['breakdown_date'])}, below the prior "
            f"low of {prices.price(d['breakdown_level'])}, and stays below it"
        )
    return PERSPECTIVE_CLAUSES_V2.get(p, f"its market perspective is {p}")


def _rebound_clause(s: Snapshot, d: dict[str, Any]) -> str:
    """The rebound in words: how much of which fall (high and low dates) it has won back."""
    what = "crash" if s.perspective.endswith("crash") else "selloff"
    if d.get("fall_pct") is not None and d["fall_pct"] >= _PARAMS.selloff_fall_pct:
        recovered, low_day = d.get("fall_recovered"), d.get("fall_low_date")
        depth, high_day = d.get("fall_depth_pct"), d.get("fall_high_date")
    else:
        recovered, low_day = d.get("selloff_recovered"), d.get("selloff_low_date")
        depth, high_day = d.get("selloff_pct"), d.get("selloff_high_date")
    span = ""
    if high_day is not None and low_day is not None:
        span = f" from the high of {format_date_long(high_day)} to the low of {format_date_long(low_day)}"
    return (
        f"is rebounding after a {what}: it has won back {format_percent(recovered, decimals=0)} "
        f"of the {format_percent(depth, decimals=0)} fall{span}"
    )


def structure_facts(s: Snapshot, prices: _Prices, *, short: bool) -> list[str]:
    """The structure facts that hold on the as-of day, each from its own defined field."""
    st, d = s.structure, s.details
    if st is None:
        return []
    facts = []
    if st.higher_lows_since is not None:
        facts.append(
            f"Higher lows have formed since {format_date_long(st.higher_lows_since)}"
            + ("" if short else f" ({st.higher_lows_count} rising confirmed swing lows, no "
               "settlement below the first)")
        )  # fmt: skip
    if st.lower_highs_since is not None:
        facts.append(
            f"Lower highs have formed since {format_date_long(st.lower_highs_since)}"
            + ("" if short else f" ({st.lower_highs_count} falling confirmed swing highs, no "
               "settlement above the first)")
        )  # fmt: skip
    if d.get("above_sma50_since") is not None:
        facts.append(
            f"Price has held above the 50-day moving average since "
            f"{format_date_long(d['above_sma50_since'])}"
        )
    elif d.get("below_sma50_since") is not None:
        facts.append(
            f"Price has stayed below the 50-day moving average since "
            f"{format_date_long(d['below_sma50_since'])}"
        )
    if short:
        return facts
    facts.append(
        f"Price is {_distance_to_200(st)}, at {prices.price(st.sma200)} and {_slope_word(st.sma200_change)}"
    )
    pullback = _pullback_fact(s)
    if pullback:
        facts.append(pullback)
    if st.high_252 is None or st.low_252 is None:  # the first sessions after the warm-up
        return facts
    facts.append(
        f"The 252-session high is {prices.price(st.high_252)} "
        f"({format_number(st.dist_high_252_atr)} ATR above the close) and the low "
        f"{prices.price(st.low_252)} ({format_number(st.dist_low_252_atr)} ATR below); "
        f"ATR(14) is {format_number(st.atr14)} points"
    )
    return facts


def _pullback_fact(s: Snapshot) -> str | None:
    st, d = s.structure, s.details
    assert st is not None
    up = s.orientation == "up"
    if d.get("impulse_erased") and d.get("pullback_extreme_date") is not None:
        move = "advance" if up else "decline"
        return (
            f"Price has given back more than the whole last {move} (from "
            f"{format_date_long(d['pullback_start_date'])} to "
            f"{format_date_long(d['pullback_extreme_date'])}): that is a reversal, not a pullback"
        )
    if st.pullback_depth is None:
        return None
    word = "pullback" if up else "rebound"
    phrase = f"The last {word} was {st.pullback_depth}"
    if st.pullback_retracement is not None:
        move = "advance" if up else "decline"
        phrase += f" ({format_percent(st.pullback_retracement, decimals=0)} of the prior {move}"
        if d.get("pullback_extreme_date") is not None:
            phrase += f" to {format_date_long(d['pullback_extreme_date'])}"
        phrase += ")"
    if st.pullback_speed == "corrective":
        phrase += " and corrective, not impulsive"
    elif st.pullback_speed == "impulsive":
        phrase += " and impulsive, not corrective"
    return phrase


def risk_outlook(s: Snapshot, st: Structure, prices: _Prices) -> str:
    """Continuation while the risk rule's side holds; a v2 risk rule always names a reference
    price is on the right side of (the 50-day only while price is beyond it)."""
    outcome = {
        "Bullish": "a continuation of the advance",
        "Bearish": "a continuation of the decline",
    }.get(s.primary_trend, "more two-way trade")
    reference = RISK_REFERENCES.get(s.risk_rule)
    if reference is None or s.risk_level is None:
        return f"This structure points toward {outcome}."
    side, what = reference
    holds = st.close > s.risk_level if side == "above" else st.close < s.risk_level
    if not holds:
        opposite = "below" if side == "above" else "above"
        return (
            f"This structure still points toward {outcome}, but price is already {opposite} "
            f"{what} ({prices.price(s.risk_level)})."
        )
    return (
        f"This structure points toward {outcome} as long as price {HOLD_VERBS[side]} {what} "
        f"({prices.price(s.risk_level)})."
    )


def level_entry(s: Snapshot, level: Level, prices: _Prices) -> str:
    """``**2,500.0–2,520.0** (support, 1.2 ATR below the close): why; since when.``"""
    atr = s.structure.atr14 if s.structure is not None else None
    distance = ""
    if atr:
        gap = s.raw_close - level.high if level.high < s.raw_close else level.low - s.raw_close
        side = "below" if level.high < s.raw_close else "above"
        distance = f", {format_number(gap / atr)} ATR {side} the close"
    head = f"**{prices.zone(level)}** ({LEVEL_TITLES[level.kind].lower()}: {level.role}{distance})"
    if level.projected:
        head += f", {PROJECTED_LABEL}"
    body = [f"{_capitalised(level.reason)}." if level.reason else ""]
    if level.change is not None and level.change != "new":
        body.append(f"Changed on this session: {CHANGE_WORDS.get(level.change, level.change)}.")
    elif level.since is not None and level.since != s.as_of:
        body.append(f"Kept since {format_date_long(level.since)}.")
    body.append(_level_meaning(s, level))
    return head + ":\n" + " ".join(b for b in body if b)


def _level_meaning(s: Snapshot, level: Level) -> str:
    up = s.orientation == "up"
    if level.kind == "line_in_the_sand":
        return (
            "Holding above it keeps the constructive structure intact; a sustained break below "
            "would signal that the advance is losing traction."
            if up
            else "Staying below it keeps the bearish pressure on; a sustained move above would "
            "signal that the decline is losing momentum."
        )
    if level.kind == "bias_defining":
        return (
            "Acceptance above it would strengthen the bullish case."
            if up
            else "Acceptance below it would strengthen the bearish case."
        )
    if level.kind == "extension":
        return f"Potential {'upside' if up else 'downside'} area beyond the bias-defining level."
    return (
        "Deeper support if the line in the sand gives way."
        if up
        else "Higher resistance if a rebound extends through the line in the sand."
    )


def _scenario_story(s: Snapshot, scenario: Scenario, prices: _Prices) -> str:
    target = _target(scenario, prices)
    toward = f" toward {target}" if target else ""
    upper = prices.price(_barrier(s, scenario, "bull"))
    lower = prices.price(_barrier(s, scenario, "bear"))
    up = s.orientation == "up"
    if scenario.name == "sideways":
        return f"Price stays between {lower} and {upper} without acceptance beyond either."
    if scenario.name == "bull":
        return (
            f"{s.root} holds above {lower} and is accepted above {upper}{toward}."
            if up
            else f"{s.root} is accepted back above the line in the sand at {upper}{toward}."
        )
    return (
        f"{s.root} is accepted below the line in the sand at {lower}{toward}."
        if up
        else f"{s.root} stays below {upper} and is accepted below {lower}{toward}."
    )


def _scenario_facts(s: Snapshot, scenario: Scenario, prices: _Prices) -> list[str]:
    if scenario.name == "sideways":
        trigger = (
            f"Trigger: neither barrier accepted; price stays between "
            f"{prices.price(s.lower_barrier)} and {prices.price(s.upper_barrier)}"
        )
    else:
        side = "above" if scenario.name == "bull" else "below"
        level = scenario.trigger_level
        trigger = (
            f"Trigger: acceptance {side} {prices.price(level)} (two settlements beyond it by "
            f"more than {format_number(_PARAMS.acceptance_atr)} ATR)"
            if level is not None
            else f"Trigger: {scenario.trigger}"
        )
    facts = [trigger]
    target = _target(scenario, prices)
    if target:
        facts.append(f"Target zone: {target}")
    if s.author == MODEL_AUTHOR:
        facts.append(evidence(s, scenario))
    facts.append(
        f"Horizon: the next {s.horizon_sessions} sessions (to {s.horizon_end.isoformat()})"
    )
    return facts


#: A downward call's bull scenario reverses the call and its bear scenario continues it.
DOWN_HEADINGS: dict[str, str] = {
    "bull": "Bullish Reversal",
    "sideways": "Sideways Consolidation",
    "bear": "Bearish Continuation",
}


def scenario_heading(s: Snapshot, name: str) -> str:
    return (SCENARIO_HEADINGS if s.orientation == "up" else DOWN_HEADINGS)[name]


def evidence(s: Snapshot, scenario: Scenario) -> str:
    """How the probability was made and what happened before, with every number in it: the
    model's probability (the heading's), then the base rate b = (n + a' g) / (N + a')."""
    d: dict[str, Any] = s.details
    n, total = scenario.analogs, s.analogs_total
    geometry = d.get(f"geo_{scenario.name}")
    a = _PARAMS.state_shrinkage_strength
    text = f"Evidence: {_model_sentence(s, scenario)}"
    if total == 0:
        rate = (
            ""
            if geometry is None
            else f"; the rate of sessions with the same barrier distances is {format_percent(geometry)}"
        )
        return (
            f"{text}; no past session in the same state has a known {s.horizon_sessions}-session "
            f"outcome yet{rate}"
        )
    share = f"{n} of {total} ({format_percent(n / total, decimals=0)})"
    text += (
        f"; of the {total} past sessions in the same state whose "
        f"{s.horizon_sessions}-session outcome was known, {share} ended this way"
    )
    if geometry is not None:
        b = (n + a * geometry) / (total + a)
        text += (
            f"; shrunk toward the {format_percent(geometry, decimals=2)} rate of sessions with the same "
            f"barrier distances ({_n_geometry(s)} sessions, themselves "
            f"shrunk toward the {format_percent(scenario.climatology)} rate of all sessions) "
            f"with a weight of {a:g} sessions, the base rate is ({n} + {a:g} x "
            f"{format_percent(geometry, decimals=2)}) / ({total} + {a:g}) = {format_percent(b)}"
        )
    return text


def _model_sentence(s: Snapshot, scenario: Scenario) -> str:
    """The published probability and the model that made it (v2's probability_model params)."""
    model = _PARAMS.probability_model
    way = {
        "bull": "is accepted above the upper barrier first",
        "bear": "is accepted below the lower barrier first",
        "sideways": "is accepted beyond neither barrier",
    }[scenario.name]
    drift = f"a drift of {format_number(model.drift_atr, decimals=2, signed=True)} ATR a session"
    if model.drift_window:
        drift += f" plus its mean daily change over the last {model.drift_window:,} sessions"
    layer = ", adjusted by a layer fitted on past outcomes," if model.fit_layer else ""
    return (
        f"{format_percent(scenario.probability)} is the chance that the close, as a random walk "
        f"with a daily sd of {format_number(model.daily_sd_atr, decimals=2)} ATR (scaled by the "
        f"ATR against its {model.vol_regime_window}-session norm) and {drift}{layer}, {way} "
        f"within {s.horizon_sessions} sessions"
    )


def _n_geometry(s: Snapshot) -> str:
    n = s.details.get("n_geometry")
    return "n/a" if n is None else f"{n:,}"


def most_likely(s: Snapshot) -> str | None:
    """The most likely scenario in the same whole percents as the headings."""
    percents = _scenario_percents(s)
    if not percents:
        return None
    top = max(percents.values())
    leaders = [n for n in NOTE_SCENARIO_ORDER if percents.get(n) == top]
    basis = (
        "On these probabilities the most likely outcome is"
        if s.author == MODEL_AUTHOR
        else "The analyst favours"
    )
    names = [scenario_heading(s, n).lower() for n in leaders]
    if len(leaders) == 1:
        return f"{basis} {names[0]} ({top}%)."
    return f"{basis} a tie between {' and '.join(names)} ({top}% each)."


def _distance_to_200(st: Structure) -> str:
    side = "above" if st.dist_sma200_atr >= 0 else "below"
    if st.well_above_sma200:
        side = "well above"
    return (
        f"{side} the 200-day moving average ({format_number(abs(st.dist_sma200_atr))} ATR, "
        f"{format_percent(st.dist_sma200_pct, signed=True)})"
    )
