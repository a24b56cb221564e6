"""The note reader finds sections, sentences and stories by meaning, in v2's words and others."""

from __future__ import annotations

import subprocess
import sys

import pytest

from pipeline.audit.coherence.reading import (
    Lexicon,
    affirmed,
    read_note,
    split_sentences,
    stories_of,
)
from tests.pipeline.audit.coherence.notes import SUMMARY, note, scenario_sections


def test_sections_are_keyed_by_what_their_headings_are_about() -> None:
    v2 = read_note(
        note(
            {
                "Introduction": ["ES is in a bearish primary trend."],
                "Summary": SUMMARY,
                "ES Against the E-mini Nasdaq-100": ["- Against (NQ): **lagging**."],
                "Market Structure & Trend": ["### Daily Chart", "It settled at 2,779.75."],
                "Key Technical Levels": ["### Line in the Sand", "**2,907.75–2,959.75**"],
                "Looking Forward: Scenarios": scenario_sections(
                    {"bull": 45, "sideways": 55, "bear": 0}
                ),
                "What Changed Since the Previous Call": ["- Bullish Reversal: 36% → 45%"],
                "Final Takeaway": ["It holds."],
            }
        )
    )
    assert v2.section_keys() == (
        "introduction", "summary", "relative", "structure", "levels", "scenarios", "changes",
        "takeaway",
    )  # fmt: skip
    other = read_note(note({"Outlook": ["x."], "Bottom line": ["y."], "Our call": ["z."]}))
    assert other.section_keys() == ("scenarios", "takeaway", "our_call")


def test_the_summary_fields_and_the_scenario_blocks_are_read_as_printed() -> None:
    reading = read_note(
        note(
            {
                "Summary": SUMMARY,
                "Looking Forward: Scenarios": scenario_sections(
                    {"bull": 45, "sideways": 55, "bear": 0}
                ),
            }
        )
    )
    assert reading.fields["trend"] == "Bearish"
    assert reading.fields["line"] == "2,907.75–2,959.75"
    assert reading.fields["risk"].endswith("(now 2,896.50)")
    blocks = {b.scenario: b for b in reading.scenarios}
    assert (blocks["bull"].percent, blocks["bull"].trigger) == (45.0, 2959.75)
    assert (blocks["bull"].target_low, blocks["bull"].target_high) == (3168.25, 3250.75)
    assert (blocks["bear"].trigger, blocks["bear"].target_high) == (2700.0, 2550.0)
    assert (blocks["sideways"].percent, blocks["sideways"].trigger) == (55.0, None)


def test_sentences_split_at_sentence_ends_not_at_decimal_points_or_dates() -> None:
    assert split_sentences(
        "It settled at 2,779.75 on 9 Apr 2020, 0.8 ATR below the line. The 200-day is at "
        "2,995.75 (-7.2%). 64% of it is back."
    ) == [
        "It settled at 2,779.75 on 9 Apr 2020, 0.8 ATR below the line.",
        "The 200-day is at 2,995.75 (-7.2%).",
        "64% of it is back.",
    ]


@pytest.mark.parametrize(
    ("sentence", "stories"),
    [
        ("This structure points toward a continuation of the decline as long as price stays "
         "below 2,959.75.", ("bear",)),
        ("This structure points toward a continuation of the advance.", ("bull",)),
        ("This structure points toward more two-way trade.", ("sideways",)),
        ("The primary trend is down; after a crash of this depth the most likely next 20 "
         "sessions are a pause, not a continuation.", ("sideways",)),
        ("ES's bearish structure stays intact while price stays below 2,959.75.",
         ("bear", "sideways")),
        ("The decline is more likely to pause than to resume.", ("sideways",)),
        ("Expect further downside rather than a pause.", ("bear",)),
        ("ES has no primary trend: the band frames the next move.", ()),
    ],
)  # fmt: skip
def test_the_story_of_a_sentence_is_what_it_expects_negated_clauses_dropped(
    sentence: str, stories: tuple[str, ...]
) -> None:
    assert stories_of(sentence) == stories


def test_a_negated_clause_ends_at_the_next_clause_break() -> None:
    assert affirmed("impulsive, not corrective; a pause") == "impulsive; a pause"
    assert affirmed("a bounce rather than a reversal (so far)") == "a bounce (so far)"


def test_most_likely_sentences_name_a_winner_or_a_tie() -> None:
    reading = read_note(
        note(
            {
                "Final Takeaway": [
                    "On these probabilities the most likely outcome is bullish reversal (61%). "
                    "The most likely outcome is a tie between sideways consolidation and "
                    "bullish continuation (38% each). The analog base rates favour bearish "
                    "breakdown (40%)."
                ],
                "Looking Forward: Scenarios": ["### Bullish (40%)", "The most likely path."],
            }
        )
    )
    named = [(s.scenarios, s.tie) for s in reading.most_likely()]
    # The scenarios section's sentences are evidence, not the note's most-likely sentence.
    assert named == [(("bull",), False), (("sideways", "bull"), True), (("bear",), False)]


def test_a_methodology_with_other_words_extends_the_lexicon_not_the_rules() -> None:
    text = note({"Verdict": ["Our call: the advance resumes."]})
    assert read_note(text).thesis() == []
    lexicon = Lexicon().extended(thesis_markers=("our call:",))
    (thesis,) = read_note(text, lexicon).thesis()
    assert thesis.stories == ("bull",)


def test_the_checker_imports_no_note_writer() -> None:
    # Independent of the renderer: importing the checker loads neither pipeline.report nor a
    # methodology's analysis code (a fresh interpreter, so other tests' imports do not count).
    code = (
        "import sys, pipeline.audit.coherence;"
        "bad = sorted(m for m in sys.modules if m.startswith(('pipeline.report', "
        "'pipeline.analysis')));"
        "print(bad); sys.exit(1 if bad else 0)"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr
