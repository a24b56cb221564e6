"""Reading a rendered note by meaning: sections, sentences, the thesis, "most likely", stories.

The coherence checker never imports the code that writes notes. It reads the Markdown a reader
reads, the way a reader does: it finds the sections by what their headings are about (the
summary, the structure, the scenarios, what changed, the takeaway), splits them into sentences,
and recognises the handful of sentences issue 18 is about by the meaning of a few phrases (a
:class:`Lexicon`), not by one renderer's exact wording. v2's notes are read with the default
lexicon; a methodology whose templates word things differently (v3) passes its own lexicon, or
adds phrases to it, and every rule then reads its notes the same way.

A *story* is which of the three scenarios a sentence expects: ``bear``, ``sideways`` or
``bull``. "Points toward a continuation of the decline" tells the bear story; "the most likely
next 20 sessions are a pause, not a continuation" tells the sideways one (a clause negated by
"not", "rather than" or "instead of" is dropped before the story is read).

>>> note = "## Summary\\n\\nPrimary trend: Bearish\\n\\n## Final Takeaway\\n\\nIt holds. " \\
...     "On these probabilities the most likely outcome is sideways consolidation (55%)."
>>> reading = read_note(note)
>>> reading.summary["primary trend"], reading.section_keys()
('Bearish', ('summary', 'takeaway'))
>>> [s.scenarios for s in reading.most_likely()]
[('sideways',)]
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from functools import cache, cached_property

#: The three scenarios, ordered bear < sideways < bull.
SCENARIO_NAMES: tuple[str, ...] = ("bear", "sideways", "bull")


@dataclass(frozen=True)
class Lexicon:
    """The phrases that carry each meaning (lower case; regular expressions where noted).

    Every tuple is searched in lower-cased text. A methodology whose notes word a meaning
    differently extends a tuple (:meth:`extended`), never a rule.
    """

    #: Section key -> words of a level-2 heading that name it (the first key that matches wins).
    sections: tuple[tuple[str, tuple[str, ...]], ...] = (
        ("summary", ("summary",)),
        ("introduction", ("introduction",)),
        ("changes", ("what changed", "changes since")),
        ("scenarios", ("looking forward", "scenarios", "outlook")),
        ("takeaway", ("takeaway", "bottom line", "conclusion")),
        ("levels", ("technical levels", "key levels")),
        ("structure", ("structure", "daily chart")),
        ("relative", ("against", "looks different", "relative strength", "peers")),
    )
    #: Summary keys (lower-cased text before the colon) -> canonical field.
    summary_fields: tuple[tuple[str, str], ...] = (
        ("primary trend", "trend"),
        ("perspective", "perspective"),
        ("line in the sand", "line"),
        ("bias-defining", "bias"),
        ("risk to the thesis", "risk"),
        ("thesis", "thesis"),
        ("invalidation", "invalidation"),
        ("warning", "warning"),
    )
    #: A sentence that states which story the note tells (the "thesis").
    thesis_markers: tuple[str, ...] = (
        "points toward",
        "points to a",
        "the thesis is",
        "thesis:",
        "the story is",
        "most likely next",
        "we expect",
    )
    #: A sentence that names the most likely scenario.
    most_likely_markers: tuple[str, ...] = ("most likely", " favour", " favor")
    #: In a most-likely sentence: a tie is being reported, not a winner (regular expressions).
    tie_patterns: tuple[str, ...] = (
        r"\bties?\b",
        r"split evenly",
        r"no favou?rite",
        r"\bas likely as\b",
        r"equally likely",
    )
    #: Story phrases (regular expressions) -> the scenario(s) they expect ("bear|sideways": either
    #: fits the sentence). Order does not matter: every match counts.
    story_patterns: tuple[tuple[str, str], ...] = (
        (r"continuation of the (decline|selloff|sell-off|downtrend|fall)", "bear"),
        (r"continuation of the (advance|rally|uptrend|rise|recovery|rebound)", "bull"),
        (r"bearish (continuation|breakdown)", "bear"),
        (r"bullish (continuation|reversal|breakout)", "bull"),
        (r"bearish reversal", "bear"),
        (r"sideways( consolidation)?", "sideways"),
        (r"\bconsolidation\b", "sideways"),
        (r"two-way trade", "sideways"),
        (r"\ba pause\b|\bpause\b", "sideways"),
        (r"range-bound", "sideways"),
        # "The bearish structure stays intact while ...": the trend holds, which a continuation
        # and a pause both do; only the reversal contradicts it.
        (r"\bbearish (structure|case|thesis) (stays|remains) intact", "bear|sideways"),
        (r"\bbullish (structure|case|thesis) (stays|remains) intact", "bull|sideways"),
        (r"\b(the )?decline (resumes|resuming|continues)", "bear"),
        (r"\b(the )?(advance|rally) (resumes|resuming|continues)", "bull"),
        (r"\bfurther (decline|downside|losses)", "bear"),
        (r"\bfurther (upside|gains)", "bull"),
        (r"\b(a|the) reversal (higher|up)\b", "bull"),
        (r"\b(a|the) reversal (lower|down)\b", "bear"),
    )
    #: A clause beginning with one of these is negated: its story is not told.
    negations: tuple[str, ...] = (", not ", " not a ", " not an ", "rather than", "instead of")
    #: Words that say the note knows two things disagree (a named conflict).
    conflict_markers: tuple[str, ...] = (
        "runs against",
        "against the primary trend",
        "against the trend",
        "despite",
        "although",
        "even though",
        "conflict",
        "contradict",
        "not a continuation",
        "lags the",
    )
    #: Scenario heading words -> scenario (headings like "Bullish Reversal (45%)").
    heading_words: tuple[tuple[str, str], ...] = (
        ("bull", "bull"),
        ("upside", "bull"),
        ("bear", "bear"),
        ("downside", "bear"),
        ("sideways", "sideways"),
        ("consolidation", "sideways"),
        ("range", "sideways"),
        ("pause", "sideways"),
    )
    #: A sentence naming the level whose acceptance ends the call (invalidates it) ...
    invalidation_markers: tuple[str, ...] = ("invalidat",)
    #: ... and one naming a level that is only a warning.
    warning_markers: tuple[str, ...] = ("warning", "early warning", "first warning")
    #: Sentences that state a level the call depends on (every one cites an invalidation level).
    stand_markers: tuple[str, ...] = (
        "stands as long as",
        "risk to the thesis",
        "as long as price",
        "invalidat",
        "thesis is at risk",
    )
    #: What-changed lines that name a cause of a probability move, by cause.
    cause_patterns: tuple[tuple[str, str], ...] = (
        (r"^line in the sand\b|^bias-defining level\b|barrier|trigger", "level"),
        (r"\btouch|\btested\b|\baccepted\b|\bacceptance\b", "barrier"),
        (r"volatility|\batr\b", "volatility"),
        (r"analog|evidence|base rate", "evidence"),
        (r"^primary trend\b|^market perspective\b|^orientation\b", "regime"),
        (
            r"\b(price|the close) (moved|rose|fell|came|ran)\b|\bcloser to\b|\bfurther from\b",
            "price",
        ),
        (r"\bbecause\b|\bcaused\b|\bas price\b", "stated"),
    )
    #: What-changed lines that are no cause of a probability move, whatever words they hold.
    non_cause_lines: tuple[str, ...] = ("risk to the thesis", "front contract", "against ")
    #: Relative strength: phrases that claim broadening participation / outperformance.
    participation_phrases: tuple[str, ...] = ("broadening participation", "broadening breadth")
    #: ... and that read the root against all its peers at once ("is outperforming its peers").
    outperform_phrases: tuple[str, ...] = ("is outperforming", "leads large caps")
    underperform_phrases: tuple[str, ...] = (
        "is trailing",
        "is still trailing",
        "trails large caps",
    )
    #: Qualitative word families: (family, a regular expression a sentence must match to be one
    #: of its cases, the words that compete). A word true of most cases does not split the data.
    word_families: tuple[tuple[str, str, tuple[str, ...]], ...] = (
        ("pullback speed", r"\b(pullback|rebound|dip)\b", ("impulsive", "corrective")),
        ("pullback depth", r"\b(pullback|rebound) was\b", ("shallow", "moderate", "deep")),
        ("trend strength", r"\badx\b", ("a trending market", "no strong trend")),
    )

    def extended(self, **more: tuple) -> Lexicon:
        """This lexicon with ``more`` phrases appended to the named tuples.

        >>> Lexicon().extended(thesis_markers=("our call:",)).thesis_markers[-1]
        'our call:'
        """
        return replace(
            self, **{name: (*getattr(self, name), *extra) for name, extra in more.items()}
        )


DEFAULT_LEXICON = Lexicon()


@dataclass(frozen=True)
class Sentence:
    """One sentence of a note: its section, its text, and the stories and scenarios it names."""

    section: str  # canonical section key ("" before the first heading)
    text: str
    scenarios: tuple[str, ...] = ()  # scenarios a most-likely sentence names as favoured
    tie: bool = False  # a most-likely sentence that reports a tie
    lexicon: Lexicon = field(default=DEFAULT_LEXICON, repr=False, compare=False)

    @cached_property
    def stories(self) -> tuple[str, ...]:
        """The scenarios the sentence expects (negated clauses dropped); read on first use."""
        return stories_of(self.text, self.lexicon)


@dataclass(frozen=True)
class ScenarioBlock:
    """A scenario of the note: its heading, printed percent, trigger and target prices."""

    scenario: str  # bear | sideways | bull
    heading: str
    percent: float | None
    trigger: float | None = None
    target_low: float | None = None
    target_high: float | None = None


@dataclass(frozen=True)
class NoteReading:
    """A note read by meaning (see the module docstring)."""

    sections: dict[str, list[str]]  # section key -> its paragraphs / bullet lines, in order
    headings: dict[str, str]  # section key -> its heading as printed
    summary: dict[str, str]  # summary key (lower case) -> value as printed
    fields: dict[str, str]  # canonical summary field -> value as printed
    sentences: tuple[Sentence, ...]
    scenarios: tuple[ScenarioBlock, ...]
    lexicon: Lexicon = field(default=DEFAULT_LEXICON, repr=False)

    def section_keys(self) -> tuple[str, ...]:
        return tuple(self.sections)

    def in_section(self, key: str) -> list[Sentence]:
        return [s for s in self.sentences if s.section == key]

    def thesis(self) -> list[Sentence]:
        """The sentences that state the note's story, outside the takeaway and the scenarios."""
        marks = self.lexicon.thesis_markers
        return [
            s
            for s in self.sentences
            if s.section not in ("takeaway", "scenarios", "changes")
            and _contains_any(s.text.lower(), marks)
            and s.stories
        ]

    def most_likely(self) -> list[Sentence]:
        """The sentences that name the most likely scenario (or a tie), wherever they are."""
        return [s for s in self.sentences if s.scenarios or s.tie]

    def takeaway_story(self) -> list[Sentence]:
        """The takeaway's story sentences (its most-likely sentence is read separately)."""
        return [s for s in self.in_section("takeaway") if s.stories and not (s.scenarios or s.tie)]

    def names_conflict(self, sentence: Sentence) -> bool:
        return _contains_any(sentence.text.lower(), self.lexicon.conflict_markers)

    def scenario_percent(self, name: str) -> float | None:
        block = next((b for b in self.scenarios if b.scenario == name), None)
        return None if block is None else block.percent


# --- reading ---------------------------------------------------------------------------------

_HEADING = re.compile(r"^(#{1,6})\s+(.*?)\s*$")
#: Sentence ends: . ! ? followed by space and a capital, a digit, a quote or Markdown emphasis.
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[A-Z0-9\"'*(])")
_PERCENT_IN_HEADING = re.compile(r"\((\d+(?:\.\d+)?)\s*%\)")
#: A price as printed: 2,907.75 or 44010 or 0.6 (thousands separators optional), or in the
#: exchange's fractions: 112'30 (32nds), 112'305 (and a half / quarter 32nd), 427'4 (eighths).
PRICE = r"-?\d+'\d{1,3}(?!\d)|-?\d{1,3}(?:,\d{3})+(?:\.\d+)?|-?\d+(?:\.\d+)?"
_ZONE = re.compile(rf"({PRICE})\s*[–-]\s*({PRICE})")
_TRIGGER_PRICE = re.compile(rf"\b(?:above|below)\s+({PRICE})")


#: The last digit of a three-digit 32nds fraction: quarters of a 32nd (CBOT's convention).
_QUARTER_32NDS = {"0": 0.0, "2": 0.25, "5": 0.5, "7": 0.75}


def parse_price(text: str) -> float:
    """``"2,907.75"`` -> 2907.75; the exchange's fractions read on their own rule (this reader
    shares no code with the writer): one digit after the apostrophe is eighths (corn), two are
    32nds, three are 32nds and a quarter-32nd digit (0, 2, 5, 7).

    >>> parse_price("2,907.75"), parse_price("44010"), parse_price("-37.63")
    (2907.75, 44010.0, -37.63)
    >>> parse_price("112'30"), parse_price("108'075"), parse_price("427'4")
    (112.9375, 108.234375, 427.5)
    """
    if "'" not in text:
        return float(text.replace(",", ""))
    whole, fraction = text.split("'")
    sign = -1.0 if whole.startswith("-") else 1.0
    if len(fraction) == 1:
        part = int(fraction) / 8
    else:
        part = (int(fraction[:2]) + _QUARTER_32NDS.get(fraction[2:], 0.0)) / 32
    return sign * (abs(int(whole)) + part)


def read_note(text: str, lexicon: Lexicon = DEFAULT_LEXICON) -> NoteReading:
    """Split a Markdown note into sections (level-2 headings, keyed by meaning), paragraphs and
    sentences; read the summary's ``Key: value`` lines and the scenario blocks."""
    sections: dict[str, list[str]] = {}
    headings: dict[str, str] = {}
    current = ""
    subheading = ""
    blocks: list[tuple[str, str, list[str]]] = []  # scenario subsections: (section, heading, lines)
    for paragraph in _paragraphs(text):
        match = _HEADING.match(paragraph)
        if match and len(match.group(1)) == 2:
            current = _section_key(match.group(2), lexicon, taken=headings)
            headings[current] = match.group(2)
            sections.setdefault(current, [])
            subheading = ""
            continue
        if match:  # level 1 (title) or 3+ (a subsection inside the current section)
            subheading = match.group(2) if len(match.group(1)) >= 3 else ""
            if subheading and current == "scenarios":
                blocks.append((current, subheading, []))
            continue
        sections.setdefault(current, []).append(paragraph)
        if subheading and current == "scenarios" and blocks:
            blocks[-1][2].append(paragraph)
    summary = _summary(sections.get("summary", []))
    fields = {}
    for key, value in summary.items():
        for marker, name in lexicon.summary_fields:
            if marker in key and name not in fields:
                fields[name] = value
                break
    sentences = tuple(
        _sentence(key, s, lexicon)
        for key, paragraphs in sections.items()
        for paragraph in paragraphs
        for line in _lines(paragraph)
        for s in split_sentences(line)
    )
    return NoteReading(
        sections=sections,
        headings=headings,
        summary=summary,
        fields=fields,
        sentences=sentences,
        scenarios=tuple(_scenario_block(h, lines, lexicon) for _, h, lines in blocks),
        lexicon=lexicon,
    )


def split_sentences(text: str) -> list[str]:
    """Sentences of one line of prose (decimal points and dates do not end a sentence).

    >>> split_sentences("It settled at 2,779.75 on 9 Apr 2020. Price is 0.8 ATR above it.")
    ['It settled at 2,779.75 on 9 Apr 2020.', 'Price is 0.8 ATR above it.']
    """
    text = text.strip()
    return [s.strip() for s in _SENTENCE_END.split(text) if s.strip()] if text else []


def stories_of(text: str, lexicon: Lexicon = DEFAULT_LEXICON) -> tuple[str, ...]:
    """The scenarios a sentence expects, negated clauses dropped, in SCENARIO_NAMES order.

    >>> stories_of("This structure points toward a continuation of the decline.")
    ('bear',)
    >>> stories_of("After a crash the most likely next 20 sessions are a pause, not a continuation.")
    ('sideways',)
    >>> stories_of("The band between 1 and 2 frames the next move.")
    ()
    """
    return _stories(affirmed(text.lower(), lexicon), lexicon)


def _stories(kept: str, lexicon: Lexicon) -> tuple[str, ...]:
    any_story, patterns = _compiled_stories(lexicon)
    if any_story.search(kept) is None:  # most sentences tell no story: one search decides
        return ()
    found = {name for pattern, names in patterns if pattern.search(kept) for name in names}
    return tuple(n for n in SCENARIO_NAMES if n in found)


@cache
def _compiled_stories(
    lexicon: Lexicon,
) -> tuple[re.Pattern[str], tuple[tuple[re.Pattern[str], tuple[str, ...]], ...]]:
    patterns = tuple((re.compile(p), tuple(n.split("|"))) for p, n in lexicon.story_patterns)
    return re.compile("|".join(f"(?:{p})" for p, _ in lexicon.story_patterns)), patterns


def affirmed(lowered: str, lexicon: Lexicon = DEFAULT_LEXICON) -> str:
    """The text with every negated clause cut: from a negation to the next clause break.

    >>> affirmed("a pause, not a continuation of the decline; then more")
    'a pause; then more'
    """
    out = lowered
    for marker in lexicon.negations:
        while marker in out:
            start = out.index(marker)
            rest = out[start + len(marker) :]
            stop = re.search(r"[;:.()]|, (?:and|but|which|while|as)\b", rest)
            out = out[:start] + (rest[stop.start() :] if stop else "")
    return out


def _sentence(section: str, text: str, lexicon: Lexicon) -> Sentence:
    lowered = text.lower()
    scenarios: tuple[str, ...] = ()
    tie = False
    if section not in ("scenarios", "changes") and _contains_any(
        lowered, lexicon.most_likely_markers
    ):
        kept = affirmed(lowered, lexicon)
        tie = any(re.search(pattern, kept) for pattern in lexicon.tie_patterns)
        scenarios = _favoured(lowered, lexicon)
    return Sentence(section, text, scenarios, tie, lexicon)


def _favoured(lowered: str, lexicon: Lexicon) -> tuple[str, ...]:
    """The scenarios a most-likely sentence names after its marker (by story or heading words)."""
    start = min((lowered.index(m) for m in lexicon.most_likely_markers if m in lowered), default=0)
    tail = affirmed(lowered[start:], lexicon)
    found = set(_stories(tail, lexicon)) or {
        name for word, name in lexicon.heading_words if word in tail
    }
    return tuple(n for n in SCENARIO_NAMES if n in found)


def _scenario_block(heading: str, lines: list[str], lexicon: Lexicon) -> ScenarioBlock:
    lowered = heading.lower()
    name = next((n for w, n in lexicon.heading_words if w in lowered), "")
    percent_match = _PERCENT_IN_HEADING.search(heading)
    trigger = target_low = target_high = None
    for paragraph in lines:
        for line in _lines(paragraph):
            low = line.lower()
            if low.startswith("trigger:") and name != "sideways":
                found = _TRIGGER_PRICE.search(low)
                trigger = parse_price(found.group(1)) if found else None
            elif low.startswith("target zone:"):
                zone = _ZONE.search(line)
                if zone:
                    target_low, target_high = sorted(
                        (parse_price(zone.group(1)), parse_price(zone.group(2)))
                    )
    return ScenarioBlock(
        scenario=name,
        heading=heading,
        percent=float(percent_match.group(1)) if percent_match else None,
        trigger=trigger,
        target_low=target_low,
        target_high=target_high,
    )


def _summary(paragraphs: list[str]) -> dict[str, str]:
    out: dict[str, str] = {}
    for paragraph in paragraphs:
        for line in _lines(paragraph):
            key, sep, value = line.partition(":")
            if sep and key.strip():
                out.setdefault(key.strip().lower(), value.strip())
    return out


def _section_key(heading: str, lexicon: Lexicon, *, taken: dict[str, str]) -> str:
    lowered = heading.lower()
    for key, words in lexicon.sections:
        if key not in taken and _contains_any(lowered, words):
            return key
    base = re.sub(r"[^a-z0-9]+", "_", lowered).strip("_") or "section"
    return base


def _paragraphs(text: str) -> list[str]:
    return [p.strip() for p in re.split(r"\n\s*\n", text) if p.strip()]


def _lines(paragraph: str) -> list[str]:
    """A paragraph's lines: a bullet list gives one line per bullet, prose one line."""
    lines = [ln.strip() for ln in paragraph.splitlines() if ln.strip()]
    if any(ln.startswith(("- ", "* ", "• ")) for ln in lines):
        return [ln[2:].strip() if ln.startswith(("- ", "* ", "• ")) else ln for ln in lines]
    if len(lines) > 1 and all(":" in ln for ln in lines):  # summary-style Key: value lines
        return lines
    return [" ".join(lines)]


def _contains_any(text: str, phrases: Iterable[str]) -> bool:
    return any(p in text for p in phrases)
