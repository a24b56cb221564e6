"""The coherence checker (issue 18, point 7): does each stored call tell one story?

Independent of the code that writes notes (it imports nothing from ``pipeline.report`` nor from
a methodology's note or statement code): it reads what was stored, a call's values (its wide
snapshot row) and its rendered note (Markdown), and reports every violation of issue 18's points
1-5 by rule (:data:`rules.RULES`), with the offending sentence or value. The note is read by
meaning (:mod:`.reading`): v2's notes with the default lexicon, a methodology whose templates
word things differently with its own.

    report = check_calls(calls)            # calls: StoredCall(values=row, note=markdown), any order
    report.violations                      # one row per violation (VIOLATION_SCHEMA)
    report.calls                           # one row per call checked (CALL_SCHEMA): the figures' base
    report.table()                         # one row per root and methodology: counts per rule, figures

One call at a time (:func:`check_call`, with the values of the call before it): its findings
(:class:`CallCheck`) depend on nothing else, so a caller may keep them and check only calls it
has not seen; :func:`report_of` puts such findings together as :func:`check_calls` does.

Calls are grouped by (root, methodology) and ordered by as-of date; the previous call of a group
is what the probability-stability rule compares with, and each group's notes together are what
the qualitative-word rule counts.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any

import polars as pl

from pipeline.audit.coherence.reading import (
    DEFAULT_LEXICON,
    SCENARIO_NAMES,
    Lexicon,
    NoteReading,
    read_note,
)
from pipeline.audit.coherence.rules import (
    CALL_RULES,
    POINTS,
    RULES,
    CallValues,
    CoherenceParams,
    Violation,
    largest_move,
    printed_causes,
    probability_moves,
    word_cases,
    words_that_do_not_split,
)

__all__ = [
    "CALL_SCHEMA",
    "POINTS",
    "RULES",
    "VIOLATION_SCHEMA",
    "CallCheck",
    "CoherenceParams",
    "CoherenceReport",
    "Lexicon",
    "StoredCall",
    "Violation",
    "check_call",
    "check_calls",
    "read_note",
    "report_of",
]

#: Perspectives of a falling market (the vocabulary of v2; v3 keeps the words).
CRASH_PERSPECTIVES: tuple[str, ...] = ("crash", "selloff")


@dataclass(frozen=True)
class StoredCall:
    """A call as stored: its wide snapshot row (column -> value) and its rendered note."""

    values: Mapping[str, Any]
    note: str


VIOLATION_SCHEMA: dict[str, pl.DataType] = {
    "root": pl.String(),
    "methodology": pl.String(),
    "as_of": pl.Date(),  # null for a rule over all of a root's calls
    "point": pl.Int8(),  # issue 18's point, 1-5
    "rule": pl.String(),
    "subject": pl.String(),  # the offending sentence or value, as printed
    "detail": pl.String(),
    "value": pl.Float64(),  # the measured number (gap, width, share ...)
}
CALL_SCHEMA: dict[str, pl.DataType] = {
    "root": pl.String(),
    "methodology": pl.String(),
    "as_of": pl.Date(),
    "primary_trend": pl.String(),
    "perspective": pl.String(),
    "p_bear": pl.Float64(),
    "p_sideways": pl.Float64(),
    "p_bull": pl.Float64(),
    "thesis_story": pl.String(),  # the story the thesis sentence tells (first one), or null
    "most_likely_named": pl.String(),  # "tie" or the scenario the most-likely sentence names
    "band_pct": pl.Float64(),  # (upper - lower barrier) / close
    "band_atr": pl.Float64(),  # (upper - lower barrier) / ATR(14)
    "risk_gap_atr": pl.Float64(),  # risk level outside the line in the sand, ATR (0 inside)
    "move_scenario": pl.String(),  # the scenario that moved most since the previous call
    "move": pl.Float64(),  # its move (fraction, signed); null for a group's first call
    "causes": pl.String(),  # causes the what-changed section names, comma-separated
}


@dataclass(frozen=True)
class CoherenceReport:
    violations: pl.DataFrame  # VIOLATION_SCHEMA
    calls: pl.DataFrame  # CALL_SCHEMA
    params: CoherenceParams

    def table(self) -> pl.DataFrame:
        """One row per (root, methodology): calls, violations per rule (one column per rule
        id), and the figures issue 18 states targets for (see :func:`coherence_table`)."""
        return coherence_table(self.violations, self.calls, self.params)


@dataclass(frozen=True)
class CallCheck:
    """What the checker found in one call: a pure function of the call, the values of the call
    before it (same root and methodology), the parameters and the lexicon."""

    violations: tuple[Violation, ...]  # of the per-call rules and the probability-move rule
    facts: Mapping[str, Any]  # its CALL_SCHEMA row
    words: Mapping[str, Mapping[str, int]]  # word family -> word -> sentences (word_cases)

    def as_json(self) -> str:
        """The findings as JSON text (dates as ISO text), for keeping them between runs."""
        return json.dumps(
            {
                "violations": [
                    [x.rule, x.root, x.methodology, _iso(x.as_of), x.subject, x.detail, x.value]
                    for x in self.violations
                ],
                "facts": {**self.facts, "as_of": _iso(self.facts["as_of"])},
                "words": self.words,
            },
            ensure_ascii=False,
        )

    @classmethod
    def from_json(cls, text: str) -> CallCheck:
        """The findings :meth:`as_json` wrote.

        >>> check = CallCheck((), {"as_of": date(2020, 3, 16), "move": None}, {"speed": {}})
        >>> CallCheck.from_json(check.as_json()) == check
        True
        """
        data = json.loads(text)
        violations = tuple(
            Violation(rule, root, methodology, _date(as_of), subject, detail, value)
            for rule, root, methodology, as_of, subject, detail, value in data["violations"]
        )
        facts = {**data["facts"], "as_of": _date(data["facts"]["as_of"])}
        return cls(violations, facts, data["words"])


def check_calls(
    calls: Iterable[StoredCall],
    *,
    params: CoherenceParams | None = None,
    lexicon: Lexicon = DEFAULT_LEXICON,
) -> CoherenceReport:
    """Every violation of every call (see the module docstring)."""
    params = params or CoherenceParams()
    groups: dict[tuple[str, str], list[StoredCall]] = {}
    for call in calls:
        v = CallValues.from_row(call.values)
        groups.setdefault((v.root, v.methodology), []).append(call)
    checks: list[CallCheck] = []
    for _, group in sorted(groups.items()):
        group.sort(key=lambda call: call.values["as_of"])
        previous: Mapping[str, Any] | None = None
        for call in group:
            checks.append(check_call(call, previous, params=params, lexicon=lexicon))
            previous = call.values
    return report_of(checks, params=params, lexicon=lexicon)


def check_call(
    call: StoredCall,
    previous: Mapping[str, Any] | None = None,
    *,
    params: CoherenceParams | None = None,
    lexicon: Lexicon = DEFAULT_LEXICON,
) -> CallCheck:
    """The findings of one call; ``previous``: the stored values of the call before it of the
    same root and methodology (None: it is the first), which the probability-move rule reads."""
    params = params or CoherenceParams()
    v = CallValues.from_row(call.values)
    before = None if previous is None else CallValues.from_row(previous)
    reading = read_note(call.note, lexicon)
    found: list[Violation] = []
    for rule in CALL_RULES:
        found += rule(v, reading, params)
    found += probability_moves(v, before, reading, params)
    return CallCheck(
        tuple(found), _facts(v, before, reading), word_cases(reading.sentences, lexicon)
    )


def report_of(
    checks: Iterable[CallCheck],
    *,
    params: CoherenceParams | None = None,
    lexicon: Lexicon = DEFAULT_LEXICON,
) -> CoherenceReport:
    """The report of calls checked one by one (:func:`check_call`), as :func:`check_calls`
    makes it: their violations, and per root and methodology the words that do not split its
    notes (counted over all of them)."""
    params = params or CoherenceParams()
    found: list[Violation] = []
    facts: list[Mapping[str, Any]] = []
    words: dict[tuple[str, str], dict[str, dict[str, int]]] = {}
    families = [family for family, _, _ in lexicon.word_families]
    for check in checks:
        found += check.violations
        facts.append(check.facts)
        key = (check.facts["root"], check.facts["methodology"])
        counts = words.setdefault(key, {family: {} for family in families})
        for family, by_word in check.words.items():
            into = counts.setdefault(family, {})
            for word, n in by_word.items():
                into[word] = into.get(word, 0) + n
    for (root, methodology), counts in sorted(words.items()):
        found += words_that_do_not_split(root, methodology, counts, params)
    # By root, methodology and as-of date (stable: a call's own findings keep their rule order),
    # each group's words last.
    found.sort(key=lambda x: (x.root, x.methodology, x.as_of is None, x.as_of or date.min))
    violations = pl.DataFrame(
        [
            {
                "root": x.root,
                "methodology": x.methodology,
                "as_of": x.as_of,
                "point": x.point,
                "rule": x.rule,
                "subject": x.subject,
                "detail": x.detail,
                "value": x.value,
            }
            for x in found
        ],
        schema=VIOLATION_SCHEMA,
    )
    return CoherenceReport(violations, pl.DataFrame(facts, schema=CALL_SCHEMA), params)


def _facts(v: CallValues, previous: CallValues | None, reading: NoteReading) -> dict[str, Any]:
    thesis = reading.thesis()
    named = reading.most_likely()
    band = None if v.upper is None or v.lower is None else v.upper - v.lower
    gap = None
    if v.risk_level is not None and v.line is not None and v.atr > 0:
        gap = max(v.line[0] - v.risk_level, v.risk_level - v.line[1], 0.0) / v.atr
    move_name, move = largest_move(v, previous) if previous is not None else (None, None)
    return {
        "root": v.root,
        "methodology": v.methodology,
        "as_of": v.as_of,
        "primary_trend": v.trend,
        "perspective": v.perspective,
        **{f"p_{n}": v.p[n] for n in SCENARIO_NAMES},
        "thesis_story": max(thesis[0].stories, key=lambda n: v.p[n]) if thesis else None,
        "most_likely_named": (
            None if not named else "tie" if named[0].tie else ",".join(named[0].scenarios) or None
        ),
        "band_pct": None if band is None else band / v.close,
        "band_atr": None if band is None or not v.atr > 0 else band / v.atr,
        "risk_gap_atr": gap,
        "move_scenario": move_name,
        "move": move,
        "causes": ",".join(sorted(printed_causes(reading))) or None,
    }


def coherence_table(
    violations: pl.DataFrame, calls: pl.DataFrame, params: CoherenceParams
) -> pl.DataFrame:
    """Per (root, methodology): ``calls``; one column per rule id with its violation count;
    ``moves_over_10`` / ``moves_over_20`` (sessions where a scenario moved more than
    ``move_points`` / ``big_move_points`` since the previous call, and their shares of the
    sessions that have a previous call); the band between the barriers in % of price (median
    and max over all calls and over crash / selloff calls)."""
    key = ["root", "methodology"]
    counts = (
        violations.group_by(*key, "rule").len().pivot(on="rule", index=key, values="len")
        if violations.height
        else pl.DataFrame(schema={"root": pl.String, "methodology": pl.String})
    )
    moved = pl.col("move").abs()
    crash = pl.col("perspective").is_in(CRASH_PERSPECTIVES)
    figures = calls.group_by(key).agg(
        pl.len().alias("calls"),
        (moved > params.move_points).sum().alias("moves_over_10"),
        (moved > params.big_move_points).sum().alias("moves_over_20"),
        ((moved > params.move_points).sum() / pl.col("move").is_not_null().sum()).alias(
            "moves_over_10_share"
        ),
        ((moved > params.big_move_points).sum() / pl.col("move").is_not_null().sum()).alias(
            "moves_over_20_share"
        ),
        pl.col("band_pct").median().alias("band_pct_median"),
        pl.col("band_pct").max().alias("band_pct_max"),
        pl.col("band_pct").filter(crash).median().alias("crash_band_pct_median"),
        pl.col("band_pct").filter(crash).max().alias("crash_band_pct_max"),
        crash.sum().alias("crash_calls"),
    )
    table = figures.join(counts, on=key, how="left")
    rule_columns = [r.id for r in RULES]
    return (
        table.with_columns(
            (pl.col(r).fill_null(0) if r in table.columns else pl.lit(0)).cast(pl.Int64).alias(r)
            for r in rule_columns
        )
        .select(
            *key,
            "calls",
            *rule_columns,
            "moves_over_10",
            "moves_over_10_share",
            "moves_over_20",
            "moves_over_20_share",
            "band_pct_median",
            "band_pct_max",
            "crash_calls",
            "crash_band_pct_median",
            "crash_band_pct_max",
        )
        .sort(key)
    )


def _iso(day: date | None) -> str | None:
    return None if day is None else day.isoformat()


def _date(text: str | None) -> date | None:
    return None if text is None else date.fromisoformat(text)
