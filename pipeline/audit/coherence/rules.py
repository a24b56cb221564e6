"""The coherence rules of issue 18, points 1-5: each reads a call's values and its note.

Every rule has an id and the issue point it enforces (``RULES``), and reports each violation
with the offending sentence or value as printed (``subject``) and what it found (``detail``,
with the numbers). Per-call rules read one call; :func:`probability_moves` reads a call and the
one before it (same root and methodology); :func:`words_that_do_not_split` reads all of a root's
notes at once. Thresholds are named in :class:`CoherenceParams` with their units.

Probabilities are the stored ones (fractions); "points" are percentage points (0.02 = 2 points).
Prices are the stored ones, in the as-of front contract's points; ATR is the stored ``atr14``
in the same points.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any

from pipeline.audit.coherence.reading import (
    DEFAULT_LEXICON,
    PRICE,
    SCENARIO_NAMES,
    Lexicon,
    NoteReading,
    Sentence,
    affirmed,
    parse_price,
)


@dataclass(frozen=True)
class CoherenceParams:
    """Every threshold of the checker, with its unit."""

    tie_points: float = 0.02  # probabilities closer than this (fraction) are a tie
    invalidation_gap_atr: float = 0.5  # risk level this far outside the line: two invalidations
    # The stated limits of the band between the barriers: a methodology declares its own (v3).
    # These defaults are the limits proposed for v3 (each barrier at most min(5 % of price,
    # 4 ATR) from the close; bench/RESULTS.md, "Coherence").
    band_max_pct: float = 0.10  # (upper - lower) / close
    band_max_atr: float = 8.0  # (upper - lower) / ATR(14)
    target_min_atr: float = 0.5  # a target's near edge at least this far beyond its trigger
    move_points: float = 0.10  # a probability move above this needs a printed cause
    big_move_points: float = 0.20  # moves above this are counted apart (figures)
    word_max_share: float = 0.70  # a qualitative word true of more than this share does not split
    word_min_cases: int = 30  # ... judged once a family has at least this many sentences
    figure_tolerance: float = 0.02  # two drawdown (recovery) figures differ beyond this (fraction)
    printed_tolerance_points: float = 1.0  # a printed percent may differ from the stored by this
    label_needs_slopes: bool = True  # label vs facts: the averages' slopes must define it too
    # Roots read as small caps and the large caps they are set against (peer readings). The root
    # registry (pipeline/market/roots.toml) has no such attribute yet; the note writer keeps its
    # own SMALL_CAP_ROOTS, which the checker must not import.
    small_cap_roots: tuple[str, ...] = ("RTY",)
    large_cap_roots: tuple[str, ...] = ("ES", "NQ", "YM")


@dataclass(frozen=True)
class Rule:
    id: str
    point: int  # issue 18's point (1-5)
    what: str


RULES: tuple[Rule, ...] = (
    Rule("thesis_least_likely", 1, "the thesis tells the story of the least likely scenario"),
    Rule("thesis_not_likeliest", 1, "the thesis tells a story another scenario beats by >= a tie"),
    Rule("takeaway_against_probabilities", 1, "the takeaway's story trails the likeliest"),
    Rule("most_likely_near_tie", 1, "'most likely' names one scenario of a near tie (< 2 points)"),
    Rule("most_likely_not_top", 1, "'most likely' names a scenario that is not the likeliest"),
    Rule("label_against_facts", 1, "a trend label beside facts that define its opposite"),
    Rule("printed_not_stored", 1, "the note prints a trend or probability the call does not hold"),
    Rule("two_invalidation_levels", 2, "risk level and line in the sand apart, none named"),
    Rule("band_too_wide_pct", 3, "band between the barriers wider than the limit in % of price"),
    Rule("band_too_wide_atr", 3, "band between the barriers wider than the limit in ATR"),
    Rule("target_not_beyond_trigger", 3, "a scenario's target is not a meaningful step beyond"),
    Rule("unexplained_move", 4, "a probability moved > 10 points with no printed cause"),
    Rule("word_does_not_split", 5, "a qualitative word true of > 70 % of its cases"),
    Rule("peer_reading", 5, "a peer reading that does not follow the peers"),
    Rule("drawdown_two_definitions", 5, "drawdown figures of one note that disagree"),
    Rule("recovery_two_definitions", 5, "recovery figures of one move that disagree"),
)
RULE_POINTS: dict[str, int] = {rule.id: rule.point for rule in RULES}
#: Issue 18's points 1-5, in its words: what each group of rules enforces.
POINTS: dict[int, str] = {
    1: "the thesis follows the evidence",
    2: "one invalidation level",
    3: "scenarios that say something",
    4: "stable probabilities",
    5: "statements that discriminate",
}


@dataclass(frozen=True)
class Violation:
    rule: str  # a RULES id
    root: str
    methodology: str
    as_of: date | None  # None for a rule over many calls (word_does_not_split)
    subject: str  # the offending sentence or value, as printed
    detail: str  # what the rule found, with its numbers
    value: float | None = None  # the measured number (gap, width, share ...), for figures

    @property
    def point(self) -> int:
        return RULE_POINTS[self.rule]


class CallValuesError(ValueError):
    pass


#: The stored columns the rules read (a methodology's wide snapshot row holds them).
REQUIRED_VALUES: tuple[str, ...] = (
    "root", "as_of", "methodology_version", "primary_trend", "orientation", "close", "atr14",
    "sma50", "sma200", "sma50_change", "sma200_change", "p_bear", "p_sideways", "p_bull",
    "upper_barrier", "lower_barrier", "line_low", "line_high", "risk_level",
)  # fmt: skip


@dataclass(frozen=True)
class CallValues:
    """The values of one stored call that the rules read (see REQUIRED_VALUES)."""

    root: str
    as_of: date
    methodology: str
    trend: str
    perspective: str
    orientation: str
    close: float
    atr: float
    sma50: float | None
    sma200: float | None
    sma50_change: float | None
    sma200_change: float | None
    p: dict[str, float]
    upper: float | None
    lower: float | None
    line: tuple[float, float] | None
    risk_level: float | None
    verdicts: dict[str, str]  # peer -> leading | lagging | mixed (those stored)

    @classmethod
    def from_row(cls, row: Mapping[str, Any]) -> CallValues:
        """Read a stored wide row; a clear error names a missing column and the call."""
        missing = [c for c in REQUIRED_VALUES if c not in row]
        if missing:
            who = f"{row.get('root', '?')} {row.get('as_of', '?')}"
            raise CallValuesError(
                f"call {who}: the stored row has no {', '.join(missing)} (coherence needs "
                f"{', '.join(REQUIRED_VALUES)})"
            )
        line = None
        if row["line_low"] is not None and row["line_high"] is not None:
            line = (float(row["line_low"]), float(row["line_high"]))
        verdicts = {
            key[3:-8].upper(): value
            for key, value in row.items()
            if key.startswith("rs_") and key.endswith("_verdict") and value is not None
        }
        return cls(
            root=row["root"],
            as_of=row["as_of"],
            methodology=row["methodology_version"],
            trend=row["primary_trend"],
            perspective=row.get("perspective") or "",
            orientation=row["orientation"],
            close=float(row["close"]),
            atr=float(row["atr14"]),
            sma50=row["sma50"],
            sma200=row["sma200"],
            sma50_change=row["sma50_change"],
            sma200_change=row["sma200_change"],
            p={name: float(row[f"p_{name}"] or 0.0) for name in SCENARIO_NAMES},
            upper=row["upper_barrier"],
            lower=row["lower_barrier"],
            line=line,
            risk_level=row["risk_level"],
            verdicts=verdicts,
        )

    @property
    def top(self) -> float:
        return max(self.p.values())

    def ranked(self) -> list[tuple[str, float]]:
        return sorted(self.p.items(), key=lambda kv: -kv[1])


def _points(x: float) -> str:
    return f"{100 * x:.1f}"


def _probabilities(v: CallValues) -> str:
    return " / ".join(f"{name} {_points(v.p[name])}%" for name in ("bull", "sideways", "bear"))


# --- point 1: one story -----------------------------------------------------------------------


def story_against_probabilities(
    v: CallValues, reading: NoteReading, params: CoherenceParams
) -> list[Violation]:
    """The thesis sentences and the takeaway tell the likeliest story (within a tie).

    A sentence telling the story of scenario s, with s trailing the likeliest by at least
    ``tie_points`` and no conflict named in that sentence, is a violation: of
    ``thesis_least_likely`` when s is the least likely of the three, else of
    ``thesis_not_likeliest``; takeaway sentences of ``takeaway_against_probabilities``. A
    sentence naming several stories is judged by its likeliest one.
    """
    out = []
    candidates = [(s, True) for s in reading.thesis()] + [
        (s, False) for s in reading.takeaway_story()
    ]
    for sentence, is_thesis in candidates:
        best = max(sentence.stories, key=lambda name: v.p[name])
        gap = v.top - v.p[best]
        if gap < params.tie_points or reading.names_conflict(sentence):
            continue
        least = v.p[best] <= min(p for name, p in v.p.items() if name != best)
        rule = (
            ("thesis_least_likely" if least else "thesis_not_likeliest")
            if is_thesis
            else "takeaway_against_probabilities"
        )
        out.append(
            _violation(
                rule,
                v,
                sentence.text,
                f"tells the {'/'.join(sentence.stories)} story ({_points(v.p[best])}%) while "
                f"{v.ranked()[0][0]} is likeliest ({_probabilities(v)})",
                gap,
            )
        )
    return out


def most_likely_sentences(
    v: CallValues, reading: NoteReading, params: CoherenceParams
) -> list[Violation]:
    """A "most likely" sentence names the likeliest scenario, and a near tie (the top two
    closer than ``tie_points``, exact ties included) only as a tie."""
    out = []
    (first, p1), (_, p2) = v.ranked()[:2]
    for sentence in reading.most_likely():
        if sentence.tie:
            continue
        if len(sentence.scenarios) != 1:
            continue
        named = sentence.scenarios[0]
        if v.top - v.p[named] >= params.tie_points:
            out.append(
                _violation(
                    "most_likely_not_top",
                    v,
                    sentence.text,
                    f"names {named} ({_points(v.p[named])}%), {first} is likeliest "
                    f"({_probabilities(v)})",
                    v.top - v.p[named],
                )
            )
        # Stored probabilities have 4 decimals: 0.3767 - 0.3567 is 2.00 points, not a float
        # a hair under (CL 2018-10-10, ZC 2007-04-13).
        elif round(p1 - p2, 9) < params.tie_points:
            out.append(
                _violation(
                    "most_likely_near_tie",
                    v,
                    sentence.text,
                    f"top two {_points(p1)}% and {_points(p2)}% are {_points(p1 - p2)} points "
                    f"apart (< {_points(params.tie_points)}): a tie ({_probabilities(v)})",
                    p1 - p2,
                )
            )
    return out


def label_against_facts(
    v: CallValues, reading: NoteReading, params: CoherenceParams
) -> list[Violation]:
    """A printed Bearish label with the close above both the 50-day and the 200-day, both
    rising (Bullish: below both, both falling), unless a sentence of the note names the
    conflict next to the averages. ``label_needs_slopes`` False: the position alone."""
    label = reading.fields.get("trend", "").strip()
    if label not in ("Bearish", "Bullish") or v.sma50 is None or v.sma200 is None:
        return []
    up = label == "Bearish"  # the facts that would define the opposite label point up
    sign = 1.0 if up else -1.0
    beyond = sign * (v.close - v.sma50) > 0 and sign * (v.close - v.sma200) > 0
    sloped = (
        v.sma50_change is not None
        and v.sma200_change is not None
        and sign * v.sma50_change > 0
        and sign * v.sma200_change > 0
    )
    if not beyond or (params.label_needs_slopes and not sloped):
        return []
    if any(
        reading.names_conflict(s) and re.search(r"50-day|200-day|moving average", s.text.lower())
        for s in reading.sentences
    ):
        return []
    side, slope = ("above", "rising") if up else ("below", "falling")
    return [
        _violation(
            "label_against_facts",
            v,
            f"Primary trend: {label}",
            f"close {v.close:g} {side} the 50-day {v.sma50:g} and the 200-day {v.sma200:g}"
            + (f", both {slope}" if sloped else "")
            + "; no sentence names the conflict",
        )
    ]


def printed_against_stored(
    v: CallValues, reading: NoteReading, params: CoherenceParams
) -> list[Violation]:
    """The note prints the stored trend and each scenario within ``printed_tolerance_points``
    of its stored probability (whole percents that sum to 100 move one by less than a point)."""
    out = []
    label = reading.fields.get("trend")
    if label is not None and label.strip() != v.trend:
        out.append(
            _violation("printed_not_stored", v, f"Primary trend: {label}", f"stored {v.trend}")
        )
    for block in reading.scenarios:
        if block.scenario not in v.p or block.percent is None:
            continue
        stored = 100 * v.p[block.scenario]
        if abs(block.percent - stored) > params.printed_tolerance_points:
            out.append(
                _violation(
                    "printed_not_stored",
                    v,
                    block.heading,
                    f"stored {block.scenario} {stored:.1f}%",
                    abs(block.percent - stored),
                )
            )
    return out


# --- point 2: one invalidation level -------------------------------------------------------


def two_invalidation_levels(
    v: CallValues, reading: NoteReading, params: CoherenceParams
) -> list[Violation]:
    """The risk level lies more than ``invalidation_gap_atr`` ATR outside the line in the sand
    and the note does not name one as the invalidation and the other as a warning (one
    sentence with an invalidation marker, one with a warning marker)."""
    if v.risk_level is None or v.line is None or not v.atr > 0:
        return []
    low, high = v.line
    gap = max(low - v.risk_level, v.risk_level - high, 0.0) / v.atr
    if gap <= params.invalidation_gap_atr:
        return []
    lex = reading.lexicon
    texts = [s.text.lower() for s in reading.sentences]
    named = any(any(m in t for m in lex.invalidation_markers) for t in texts) and any(
        any(m in t for m in lex.warning_markers) for t in texts
    )
    if named:
        return []
    stands = [
        s.text for s in reading.sentences if any(m in s.text.lower() for m in lex.stand_markers)
    ]
    return [
        _violation(
            "two_invalidation_levels",
            v,
            " | ".join(stands[:3]) or f"risk level {v.risk_level:g}",
            f"risk level {v.risk_level:g} lies {gap:.2f} ATR outside the line in the sand "
            f"{low:g}-{high:g}; neither is named the invalidation",
            gap,
        )
    ]


# --- point 3: scenarios that say something ------------------------------------------------------


def scenario_band(v: CallValues, reading: NoteReading, params: CoherenceParams) -> list[Violation]:
    """The band between the barriers is at most ``band_max_pct`` of the close and at most
    ``band_max_atr`` ATR wide; each directional scenario's target zone starts at least
    ``target_min_atr`` ATR beyond its trigger (both read from the note)."""
    out = []
    if v.upper is not None and v.lower is not None:
        width = v.upper - v.lower
        subject = f"barriers {v.lower:g} and {v.upper:g} (close {v.close:g})"
        # No percentage of a close at or below zero (CL, April 2020): the ATR limit alone.
        pct = width / v.close if v.close > 0 else 0.0
        atrs = width / v.atr if v.atr > 0 else float("inf")
        if pct > params.band_max_pct:
            out.append(
                _violation(
                    "band_too_wide_pct",
                    v,
                    subject,
                    f"band {100 * pct:.1f}% of price > {100 * params.band_max_pct:g}%",
                    pct,
                )
            )
        if atrs > params.band_max_atr:
            out.append(
                _violation(
                    "band_too_wide_atr",
                    v,
                    subject,
                    f"band {atrs:.2f} ATR > {params.band_max_atr:g} ATR",
                    atrs,
                )
            )
    for block in reading.scenarios:
        if block.scenario not in ("bull", "bear") or block.trigger is None:
            continue
        if block.target_low is None or block.target_high is None:
            out.append(
                _violation(
                    "target_not_beyond_trigger", v, block.heading, "no target zone printed", None
                )
            )
            continue
        beyond = (
            block.target_low - block.trigger
            if block.scenario == "bull"
            else block.trigger - block.target_high
        ) / v.atr
        if beyond < params.target_min_atr:
            out.append(
                _violation(
                    "target_not_beyond_trigger",
                    v,
                    block.heading,
                    f"target {block.target_low:g}-{block.target_high:g} starts {beyond:.2f} ATR "
                    f"beyond the trigger {block.trigger:g} (< {params.target_min_atr:g})",
                    beyond,
                )
            )
    return out


# --- point 4: stable probabilities, every move explained ---------------------------------------


def largest_move(v: CallValues, previous: CallValues) -> tuple[str, float]:
    """The scenario whose probability moved most since ``previous`` and the move (fraction)."""
    name = max(SCENARIO_NAMES, key=lambda n: abs(v.p[n] - previous.p[n]))
    return name, v.p[name] - previous.p[name]


#: A printed probability change: "Bullish Reversal: 24% → 3%" (the cause may follow it).
_PERCENT_CHANGE = re.compile(r"\d+(?:\.\d+)?%\s*(?:→|->)\s*\d+(?:\.\d+)?%")


def printed_causes(reading: NoteReading) -> set[str]:
    """The causes the what-changed section names (``Lexicon.cause_patterns``): a line that
    names a cause, or the words beside a probability change on its line ("Bullish: 24% → 45%,
    price accepted above the bias level"); a bare probability change names none."""
    found: set[str] = set()
    for paragraph in reading.sections.get("changes", []):
        for line in paragraph.splitlines():
            text = line.strip().lstrip("-*• ").strip().lower()
            if text.startswith(reading.lexicon.non_cause_lines):
                continue
            if _PERCENT_CHANGE.search(text):
                text = _PERCENT_CHANGE.sub(" ", text.partition(":")[2] or text)
            for pattern, cause in reading.lexicon.cause_patterns:
                if re.search(pattern, text.strip()):
                    found.add(cause)
    return found


def probability_moves(
    v: CallValues, previous: CallValues | None, reading: NoteReading, params: CoherenceParams
) -> list[Violation]:
    """A scenario moving more than ``move_points`` since the previous call needs a cause in the
    note's what-changed section (a level, a barrier touched or accepted, the volatility regime,
    new evidence, a changed trend or perspective, or a cause stated in words)."""
    if previous is None:
        return []
    moved = [n for n in SCENARIO_NAMES if abs(v.p[n] - previous.p[n]) > params.move_points]
    if not moved or printed_causes(reading):
        return []
    _, move = largest_move(v, previous)
    changes = [
        line.strip().lstrip("-*• ")
        for paragraph in reading.sections.get("changes", [])
        for line in paragraph.splitlines()
        if "%" in line
    ]
    return [
        _violation(
            "unexplained_move",
            v,
            "; ".join(changes) or "(no what-changed section)",
            ", ".join(f"{n} {_points(previous.p[n])}% -> {_points(v.p[n])}%" for n in moved)
            + f" since {previous.as_of}; no cause printed",
            abs(move),
        )
    ]


# --- point 5: statements that discriminate ----------------------------------------------------


def word_of(text: str, words: tuple[str, ...], lexicon: Lexicon = DEFAULT_LEXICON) -> str | None:
    """The one word of ``words`` a sentence affirms (negated clauses dropped), else None.

    >>> word_of("The last pullback was shallow and corrective, not impulsive",
    ...         ("impulsive", "corrective"))
    'corrective'
    """
    kept = affirmed(text.lower(), lexicon)
    found = [w for w in words if re.search(rf"\b{re.escape(w)}\b", kept)]
    return found[0] if len(found) == 1 else None


def peer_reading(v: CallValues, reading: NoteReading, params: CoherenceParams) -> list[Violation]:
    """Peer readings follow the peers: "broadening participation" only for a small-cap root
    leading every large-cap peer; "outperforming" only when leading every peer shown,
    "trailing" only when lagging every one. Verdicts as printed (the bullets' **verdict**),
    else as stored."""
    lex = reading.lexicon
    verdicts = printed_verdicts(reading) or v.verdicts
    if not verdicts:
        return []
    states = set(verdicts.values())
    out = []
    for s in reading.sentences:
        text = s.text.lower()
        if any(p in text for p in lex.participation_phrases) and not (
            v.root in params.small_cap_roots
            and states == {"leading"}
            and all(peer in params.large_cap_roots for peer in verdicts)
        ):
            out.append(
                _violation(
                    "peer_reading",
                    v,
                    s.text,
                    f"{v.root} against {_verdict_list(verdicts)}: broadening participation is "
                    "small caps leading large caps",
                )
            )
        elif any(p in text for p in lex.outperform_phrases) and states != {"leading"}:
            out.append(
                _violation(
                    "peer_reading", v, s.text, f"outperforming said, {_verdict_list(verdicts)}"
                )
            )
        elif any(p in text for p in lex.underperform_phrases) and states != {"lagging"}:
            out.append(
                _violation("peer_reading", v, s.text, f"trailing said, {_verdict_list(verdicts)}")
            )
    return out


_VERDICT = re.compile(r"\((?P<peer>[A-Z0-9]{1,4})\):\s*\*\*(?P<verdict>leading|lagging|mixed)\*\*")


def printed_verdicts(reading: NoteReading) -> dict[str, str]:
    found: dict[str, str] = {}
    for paragraph in reading.sections.get("relative", []):
        for m in _VERDICT.finditer(paragraph):
            found[m.group("peer")] = m.group("verdict")
    return found


def _verdict_list(verdicts: Mapping[str, str]) -> str:
    return ", ".join(f"{peer} {verdict}" for peer, verdict in sorted(verdicts.items()))


_DATE = r"\d{1,2} [A-Z][a-z]{2}(?: \d{4})?"
_BELOW_HIGH = re.compile(rf"(\d+(?:\.\d+)?)% below (?:its|the) high of ({_DATE})")
_WON_BACK = re.compile(
    rf"won back (\d+(?:\.\d+)?)% of the (\d+(?:\.\d+)?)% (?:fall|decline|drop)[^.]*?"
    rf"(?:to|at) the low of ({_DATE})"
)
_SHARE_OF_DECLINE = re.compile(
    rf"\((\d+(?:\.\d+)?)% of the (?:prior|last) (?:decline|fall|drop) to ({_DATE})\)"
)
_WINDOW_HIGH = re.compile(rf"(\d+)-session high is ({PRICE})")
_SETTLED = re.compile(rf"settled at ({PRICE})")


def _day(text: str, year: int) -> str:
    return text if re.search(r"\d{4}$", text) else f"{text} {year}"


def figures_of_one_move(
    v: CallValues, reading: NoteReading, params: CoherenceParams
) -> list[Violation]:
    """One definition of drawdown and recovery per note.

    Drawdown: every "x% below its high" the note prints agrees (within ``figure_tolerance``)
    with the fall from the highest high the note prints (an "N-session high is P" beside the
    settlement it prints); a note saying "18 % below its high" while it prints a high 33 %
    above the close uses two definitions. Recovery: every share of a fall won back that the
    note prints for the same low ("won back R% of the fall ... to the low of D", "R% of the
    prior decline to D") agrees within ``figure_tolerance``.
    """
    out = []
    texts = [
        s.text for s in reading.sentences if "settled at" in s.text or "-session high" in s.text
    ]
    settled = next((m for m in map(_SETTLED.search, texts) if m), None)
    highs = [(int(n), parse_price(p)) for t in texts for n, p in _WINDOW_HIGH.findall(t)]
    if settled and highs:
        close = parse_price(settled.group(1))
        window, top = max(highs, key=lambda h: h[1])
        implied = 1 - close / top if top > 0 else 0.0
        for s in reading.sentences:
            if "high of" not in s.text:
                continue
            for pct, day in _BELOW_HIGH.findall(s.text):
                said = float(pct) / 100
                if implied - said > params.figure_tolerance:
                    out.append(
                        _violation(
                            "drawdown_two_definitions",
                            v,
                            s.text,
                            f"{pct}% below the high of {day}, while the note's {window}-session "
                            f"high {top:g} puts the close {100 * implied:.0f}% below it",
                            implied - said,
                        )
                    )
    recoveries: dict[str, list[tuple[float, str]]] = {}
    for s in reading.sentences:
        if "won back" not in s.text and "% of the" not in s.text:
            continue
        for won, _depth, day in _WON_BACK.findall(s.text):
            recoveries.setdefault(_day(day, v.as_of.year), []).append((float(won) / 100, s.text))
        for share, day in _SHARE_OF_DECLINE.findall(s.text):
            recoveries.setdefault(_day(day, v.as_of.year), []).append((float(share) / 100, s.text))
    for day, found in recoveries.items():
        values = [f for f, _ in found]
        if len(found) > 1 and max(values) - min(values) > params.figure_tolerance:
            out.append(
                _violation(
                    "recovery_two_definitions",
                    v,
                    " | ".join(dict.fromkeys(t for _, t in found)),
                    "recovery from the low of "
                    + day
                    + " quoted as "
                    + " and ".join(f"{100 * f:.0f}%" for f in values),
                    max(values) - min(values),
                )
            )
    return out


def _violation(
    rule: str, v: CallValues, subject: str, detail: str, value: float | None = None
) -> Violation:
    return Violation(rule, v.root, v.methodology, v.as_of, subject, detail, value)


#: The per-call rules, in the order they are run.
CALL_RULES = (
    story_against_probabilities,
    most_likely_sentences,
    label_against_facts,
    printed_against_stored,
    two_invalidation_levels,
    scenario_band,
    peer_reading,
    figures_of_one_move,
)


def word_cases(
    sentences: Iterable[Sentence], lexicon: Lexicon = DEFAULT_LEXICON
) -> dict[str, dict[str, int]]:
    """Per word family (``Lexicon.word_families``), how many sentences affirm each of its
    words (one case per sentence)."""
    families = [
        (family, re.compile(context), words) for family, context, words in lexicon.word_families
    ]
    counts: dict[str, dict[str, int]] = {family: {} for family, _, _ in families}
    for s in sentences:
        lowered = s.text.lower()
        for family, context, words in families:
            if not any(w in lowered for w in words) or not context.search(lowered):
                continue
            word = word_of(s.text, words, lexicon)
            if word is not None:
                counts[family][word] = counts[family].get(word, 0) + 1
    return counts


def words_that_do_not_split(
    root: str, methodology: str, counts: dict[str, dict[str, int]], params: CoherenceParams
) -> list[Violation]:
    """Per root and methodology: a word true of more than ``word_max_share`` of the sentences
    of its family (at least ``word_min_cases`` of them) does not split the data."""
    out = []
    for family, words in counts.items():
        total = sum(words.values())
        if total < params.word_min_cases:
            continue
        for word, n in sorted(words.items()):
            share = n / total
            if share > params.word_max_share:
                out.append(
                    Violation(
                        "word_does_not_split",
                        root,
                        methodology,
                        None,
                        word,
                        f"'{word}' in {n:,} of {total:,} {family} sentences ({100 * share:.0f}%)",
                        share,
                    )
                )
    return out
