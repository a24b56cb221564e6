"""Each coherence rule on planted calls: a note that breaks it (caught, with the offending
sentence and the numbers) and one that keeps it (clean), in v2's words and in other words."""

from __future__ import annotations

from datetime import date, timedelta

import polars as pl
import pytest

from pipeline.audit.coherence import (
    CallCheck,
    CoherenceParams,
    StoredCall,
    check_call,
    check_calls,
    report_of,
)
from tests.pipeline.audit.coherence.notes import SUMMARY, VALUES, call, note, scenario_sections


def found(*calls: StoredCall, params: CoherenceParams | None = None) -> pl.DataFrame:
    return check_calls(calls, params=params).violations


def rules(*calls: StoredCall, params: CoherenceParams | None = None) -> list[str]:
    return sorted(found(*calls, params=params)["rule"].to_list())


THESIS_DECLINE = (
    "This structure points toward a continuation of the decline as long as price stays below "
    "the 50-day moving average (2,896.50)."
)


def structure(*sentences: str) -> dict[str, list[str]]:
    return {"Summary": SUMMARY, "Market Structure & Trend": [" ".join(sentences)]}


# --- point 1: the thesis, "most likely" and the takeaway follow the probabilities ---------------


def test_a_continuation_thesis_when_its_scenario_is_the_least_likely_is_caught() -> None:
    # ES 2020-04-09 as v2 wrote it: "continuation of the decline" beside bear 0.5 %.
    table = found(call(note(structure(THESIS_DECLINE))))
    (row,) = table.rows(named=True)
    assert (row["rule"], row["point"], row["subject"]) == ("thesis_least_likely", 1, THESIS_DECLINE)
    assert "bear story (0.5%) while sideways is likeliest" in row["detail"]
    assert row["value"] == pytest.approx(0.548 - 0.005)


def test_a_thesis_trailing_the_likeliest_but_not_last_is_caught_apart() -> None:
    probabilities = {"p_bull": 0.5, "p_sideways": 0.2, "p_bear": 0.3}
    assert rules(call(note(structure(THESIS_DECLINE)), **probabilities)) == ["thesis_not_likeliest"]


@pytest.mark.parametrize(
    ("probabilities", "sentence"),
    [
        ({"p_bull": 0.2, "p_sideways": 0.3, "p_bear": 0.5}, THESIS_DECLINE),
        # Within a tie (1 point) of the likeliest: not a contradiction.
        ({"p_bull": 0.19, "p_sideways": 0.41, "p_bear": 0.40}, THESIS_DECLINE),
        # The story the probabilities tell, in other words.
        ({}, "The primary trend is down; after a crash of this depth the most likely next 20 "
             "sessions are a pause, not a continuation."),
        # The conflict named in the sentence itself.
        ({}, "The structure points toward a continuation of the decline, even though the "
             "probabilities make it the least likely path."),
    ],
)  # fmt: skip
def test_a_thesis_that_follows_the_probabilities_is_clean(probabilities, sentence) -> None:
    assert rules(call(note(structure(sentence)), **probabilities)) == []


def test_a_takeaway_whose_trend_story_the_reversal_beats_is_caught() -> None:
    # ES 2002-09-26: "the bearish structure stays intact ... most likely bullish reversal (61%)".
    takeaway = (
        "ES's bearish structure stays intact while price stays below 871.50–878.00; acceptance "
        "below 770.25 would open 722.50–734.50."
    )
    sections = {"Summary": SUMMARY, "Final Takeaway": [takeaway]}
    reversal = {"p_bull": 0.61, "p_sideways": 0.32, "p_bear": 0.07}
    (row,) = found(call(note(sections), **reversal)).rows(named=True)
    assert (row["rule"], row["subject"]) == ("takeaway_against_probabilities", takeaway)
    # A pause does not break a structure that "stays intact": the sideways-likeliest call is
    # clean (ES 2020-04-09's own takeaway).
    assert rules(call(note(sections))) == []


def test_most_likely_on_a_near_tie_is_caught_and_a_printed_tie_is_clean() -> None:
    tie = {"p_bull": 0.375, "p_sideways": 0.375, "p_bear": 0.25}
    winner = "On these probabilities the most likely outcome is bullish continuation (38%)."
    (row,) = found(call(note({"Final Takeaway": [winner]}), **tie)).rows(named=True)
    assert (row["rule"], row["subject"]) == ("most_likely_near_tie", winner)
    assert "0.0 points apart" in row["detail"]
    near = {"p_bull": 0.384, "p_sideways": 0.366, "p_bear": 0.25}  # 1.8 points
    assert rules(call(note({"Final Takeaway": [winner]}), **near)) == ["most_likely_near_tie"]
    apart = {"p_bull": 0.39, "p_sideways": 0.36, "p_bear": 0.25}  # 3 points
    assert rules(call(note({"Final Takeaway": [winner]}), **apart)) == []
    # Exactly 2 points at the stored 4 decimals (0.3767 - 0.3567 is 0.01999... in floats): not
    # closer than 2 points, so not a tie (CL 2018-10-10); 1.99 points is.
    edge = {"p_bull": 0.3767, "p_sideways": 0.3567, "p_bear": 0.2666}
    assert rules(call(note({"Final Takeaway": [winner]}), **edge)) == []
    under = {"p_bull": 0.3766, "p_sideways": 0.3567, "p_bear": 0.2667}
    assert rules(call(note({"Final Takeaway": [winner]}), **under)) == ["most_likely_near_tie"]
    said_tie = (
        "The most likely outcome is a near tie between bullish continuation and sideways "
        "consolidation (38% each)."
    )
    assert rules(call(note({"Final Takeaway": [said_tie]}), **tie)) == []


def test_most_likely_naming_a_scenario_that_is_not_the_likeliest_is_caught() -> None:
    wrong = "On these probabilities the most likely outcome is bearish continuation (40%)."
    assert rules(call(note({"Final Takeaway": [wrong]}))) == ["most_likely_not_top"]
    right = "On these probabilities the most likely outcome is sideways consolidation (55%)."
    assert rules(call(note({"Final Takeaway": [right]}))) == []


ABOVE_RISING = {
    "close": 2000.0, "sma50": 1950.0, "sma200": 1900.0, "sma50_change": 20.0,
    "sma200_change": 5.0, "line_low": 2010.0, "line_high": 2030.0, "risk_level": 2030.0,
    "upper_barrier": 2030.0, "lower_barrier": 1900.0, "atr14": 40.0,
}  # fmt: skip


def test_bearish_beside_a_close_above_both_rising_averages_is_caught() -> None:
    table = found(call(note({"Summary": SUMMARY}), **ABOVE_RISING))
    (row,) = table.rows(named=True)
    assert (row["rule"], row["subject"]) == ("label_against_facts", "Primary trend: Bearish")
    assert "above the 50-day 1950 and the 200-day 1900, both rising" in row["detail"]


def test_the_label_rule_reads_slopes_unless_told_the_position_is_enough() -> None:
    falling = {**ABOVE_RISING, "sma50_change": -20.0, "sma200_change": -5.0}
    assert rules(call(note({"Summary": SUMMARY}), **falling)) == []
    position = CoherenceParams(label_needs_slopes=False)
    assert rules(call(note({"Summary": SUMMARY}), **falling), params=position) == [
        "label_against_facts"
    ]


def test_a_named_conflict_clears_the_label_and_bullish_below_falling_averages_is_caught() -> None:
    named = note(
        {
            "Summary": SUMMARY,
            "Market Structure & Trend": [
                "The trend label lags the price: the close is back above a rising 50-day and "
                "200-day, in conflict with the Bearish label until price is accepted there."
            ],
        }
    )
    assert rules(call(named, **ABOVE_RISING)) == []
    bullish = ["Primary trend: Bullish", *SUMMARY[1:]]
    below_falling = {
        **ABOVE_RISING, "primary_trend": "Bullish", "close": 1800.0, "sma50_change": -20.0,
        "sma200_change": -5.0, "orientation": "up", "line_low": 1700.0, "line_high": 1720.0,
        "risk_level": 1700.0, "lower_barrier": 1700.0, "upper_barrier": 1850.0,
    }  # fmt: skip
    assert rules(call(note({"Summary": bullish}), **below_falling)) == ["label_against_facts"]


def test_a_printed_trend_or_percent_the_call_does_not_hold_is_caught() -> None:
    sections = {
        "Summary": SUMMARY,
        "Looking Forward: Scenarios": scenario_sections({"bull": 45, "sideways": 55, "bear": 0}),
    }
    assert rules(call(note(sections))) == []
    assert rules(call(note(sections), p_bull=0.30, p_sideways=0.695)) == [
        "printed_not_stored",
        "printed_not_stored",
    ]
    assert rules(call(note(sections), primary_trend="Neutral")) == ["printed_not_stored"]


# --- point 2: one invalidation level -----------------------------------------------------------


def test_a_risk_level_far_outside_the_line_without_naming_the_invalidation_is_caught() -> None:
    intro = "The call stands as long as price stays below 2,907.75–2,959.75."
    text = note({"Introduction": [intro], "Summary": SUMMARY})
    # The 50-day 0.07 ATR under the line: one level in practice.
    assert rules(call(text)) == []
    (row,) = found(call(text, risk_level=2700.0)).rows(named=True)
    assert row["rule"] == "two_invalidation_levels"
    assert row["subject"].startswith(intro)
    assert "Risk to the thesis" in row["subject"]
    assert row["value"] == pytest.approx((2907.75 - 2700.0) / 150.9)


def test_naming_one_level_the_invalidation_and_the_other_a_warning_is_clean() -> None:
    text = note(
        {
            "Summary": [
                "Primary trend: Bearish",
                "Invalidation: acceptance above 2,959.75 (the line in the sand) ends the call",
                "Warning: acceptance above the 50-day moving average (2,700.00) comes first",
            ]
        }
    )
    assert rules(call(text, risk_level=2700.0)) == []


# --- point 3: scenarios that say something ------------------------------------------------------


def test_a_band_wider_than_the_stated_limits_is_caught_in_percent_and_in_atr() -> None:
    # ES 2020-04-09: 2,154.25 to 2,959.75 is 29 % of price, 5.3 ATR.
    wide = {"lower_barrier": 2154.25}
    (row,) = found(call(note({"Summary": SUMMARY}), **wide)).rows(named=True)
    assert (row["rule"], row["point"]) == ("band_too_wide_pct", 3)
    assert row["value"] == pytest.approx((2959.75 - 2154.25) / 2779.75)
    assert "29.0% of price > 10%" in row["detail"]
    assert rules(call(note({"Summary": SUMMARY}), atr14=50.0, **wide)) == [
        "band_too_wide_atr",
        "band_too_wide_pct",
    ]
    # 2,700 to 2,959.75: 9.3 % of price, 1.7 ATR (8.7 ATR when the ATR is 30).
    assert rules(call(note({"Summary": SUMMARY}))) == []
    assert rules(call(note({"Summary": SUMMARY}), atr14=30.0)) == ["band_too_wide_atr"]
    loose = CoherenceParams(band_max_pct=0.30)
    assert rules(call(note({"Summary": SUMMARY}), **wide), params=loose) == []


def test_a_target_that_is_no_step_beyond_its_trigger_is_caught() -> None:
    percents = {"bull": 45, "sideways": 55, "bear": 0}
    good = note({"Looking Forward: Scenarios": scenario_sections(percents)})
    assert rules(call(good)) == []
    near = note(
        {"Looking Forward: Scenarios": scenario_sections(percents, bull_target="2,990.00–3,050.00")}
    )
    (row,) = found(call(near)).rows(named=True)
    assert (row["rule"], row["subject"]) == ("target_not_beyond_trigger", "Bullish Reversal (45%)")
    assert row["value"] == pytest.approx((2990.0 - 2959.75) / 150.9, abs=1e-6)
    wrong_side = note(
        {"Looking Forward: Scenarios": scenario_sections(percents, bear_target="2,750–2,800")}
    )
    assert rules(call(wrong_side)) == ["target_not_beyond_trigger"]


# --- point 4: stable probabilities, every move explained --------------------------------------


def changes(*lines: str) -> str:
    return note({"What Changed Since the Previous Call": ["\n".join(f"- {x}" for x in lines)]})


def pair(later_note: str, **later: float) -> tuple[StoredCall, StoredCall]:
    before = {"as_of": date(2020, 4, 8), "p_bull": 0.24, "p_sideways": 0.756, "p_bear": 0.004}
    return call(note({}), **before), call(later_note, **later)


def test_a_move_over_ten_points_without_a_printed_cause_is_caught() -> None:
    bare = changes("Bullish Reversal: 24% → 45%", "Sideways Consolidation: 76% → 55%")
    table = found(*pair(bare))
    (row,) = table.filter(pl.col("rule") == "unexplained_move").rows(named=True)
    assert row["point"] == 4
    assert row["subject"] == "Bullish Reversal: 24% → 45%; Sideways Consolidation: 76% → 55%"
    assert "sideways 75.6% -> 54.8%, bull 24.0% -> 44.7% since 2020-04-08" in row["detail"]


@pytest.mark.parametrize(
    "lines",
    [
        ("Line in the sand: 2,800.00–2,850.00 → 2,907.75–2,959.75", "Bullish Reversal: 24% → 45%"),
        ("Primary trend: Neutral → Bearish",),
        ("Bullish Reversal: 24% → 45%, price accepted above the bias-defining level",),
        ("Volatility fell: ATR(14) 190 → 151 points",),
        ("Bullish Reversal: 24% → 45%: the close rose 1.2 ATR, closer to the upper barrier",),
    ],
)
def test_a_move_with_its_cause_printed_is_clean(lines) -> None:
    assert "unexplained_move" not in rules(*pair(changes(*lines)))


def test_a_risk_or_peer_line_is_no_cause_and_a_small_move_needs_none() -> None:
    no_cause = changes(
        "Risk to the thesis: Sustained acceptance above the line in the sand → Sustained "
        "acceptance back above the 50-day moving average",
        "Against NQ: mixed → lagging",
    )
    assert "unexplained_move" in rules(*pair(no_cause))
    assert "unexplained_move" not in rules(*pair(note({}), p_bull=0.33, p_sideways=0.666))


def test_moves_are_read_between_consecutive_calls_of_one_root_and_methodology() -> None:
    first, second = pair(changes("Bullish Reversal: 24% → 45%"))
    # Given out of order, with another methodology's call between them in time.
    other = call(note({}), as_of=date(2020, 4, 8), methodology_version="v3", p_bull=0.9,
                 p_sideways=0.1, p_bear=0.0)  # fmt: skip
    report = check_calls([second, other, first])
    assert report.violations.filter(pl.col("rule") == "unexplained_move")["as_of"].to_list() == [
        date(2020, 4, 9)
    ]
    moves = report.calls.filter(pl.col("move").is_not_null())
    assert moves.select("methodology", "move_scenario").rows() == [("v2", "sideways")]
    assert moves["move"][0] == pytest.approx(0.548 - 0.756)


# --- point 5: statements that discriminate -----------------------------------------------------


def pullback_note(speed: str, depth: str) -> str:
    other = "corrective" if speed == "impulsive" else "impulsive"
    return note(
        {
            "Market Structure & Trend": [
                f"- The last pullback was {depth} (30% of the prior advance) and {speed}, not "
                f"{other}"
            ]
        }
    )


def test_a_word_true_of_most_of_its_cases_is_caught_once_per_root() -> None:
    params = CoherenceParams(word_min_cases=5)
    start = date(2020, 1, 1)

    def calls(impulsive: int, total: int) -> list[StoredCall]:
        return [
            call(
                pullback_note(
                    "impulsive" if i < impulsive else "corrective", ("shallow", "deep")[i % 2]
                ),
                as_of=start + timedelta(days=i),
                p_bull=0.3,
                p_sideways=0.4,
                p_bear=0.3,
            )
            for i in range(total)
        ]

    (row,) = found(*calls(8, 10), params=params).rows(named=True)
    assert (row["rule"], row["subject"], row["as_of"]) == ("word_does_not_split", "impulsive", None)
    assert row["value"] == pytest.approx(0.8)
    assert row["detail"] == "'impulsive' in 8 of 10 pullback speed sentences (80%)"
    assert rules(*calls(6, 10), params=params) == []
    assert rules(*calls(4, 4), params=params) == []  # too few cases to judge


def relative(root: str, verdicts: dict[str, str], reading: str) -> str:
    bullets = "\n".join(f"- Against the index ({peer}): **{v}**." for peer, v in verdicts.items())
    return note({f"{root} Against its peers": [bullets, reading]})


BROADENING = "ES is outperforming its peers. That is broadening participation."


def test_broadening_participation_is_small_caps_leading_large_caps_only() -> None:
    # "NQ leading ES called broadening participation" (issue 18): large caps leading large caps.
    table = found(call(relative("ES", {"NQ": "leading"}, BROADENING)))
    (row,) = table.rows(named=True)
    assert (row["rule"], row["subject"]) == ("peer_reading", "That is broadening participation.")
    rty = BROADENING.replace("ES", "RTY")
    both = {"ES": "leading", "NQ": "leading"}
    assert rules(call(relative("RTY", both, rty), root="RTY")) == []
    half = {"ES": "leading", "NQ": "mixed"}
    assert rules(call(relative("RTY", half, rty), root="RTY")) == ["peer_reading", "peer_reading"]


def test_outperforming_and_trailing_follow_every_peer_shown() -> None:
    trailing = "YM is still trailing its peers."
    mixed = {"ES": "lagging", "NQ": "mixed"}
    assert rules(call(relative("YM", mixed, trailing), root="YM")) == ["peer_reading"]
    lagging = {"ES": "lagging", "NQ": "lagging"}
    assert rules(call(relative("YM", lagging, trailing), root="YM")) == []


def test_a_fall_quoted_from_a_lower_high_than_the_note_prints_is_caught() -> None:
    # NQ 2022-06-16: "selloff: 18 % below its high" while 33 % under the 252-session high.
    def text(high_252: str) -> str:
        return note(
            {
                "Introduction": [
                    "NQ is in a bearish primary trend and is in a selloff: 18% below its high "
                    "of 29 Mar 2022. It settled at 11,300.00 on 16 Jun 2022."
                ],
                "Market Structure & Trend": [
                    f"- The 252-session high is {high_252} (12.1 ATR above the close) and the "
                    "low 11,068.00 (0.6 ATR below)"
                ],
            }
        )

    (row,) = found(call(text("16,768.00"), root="NQ")).rows(named=True)
    assert row["rule"] == "drawdown_two_definitions"
    assert row["subject"].startswith("NQ is in a bearish primary trend and is in a selloff")
    assert row["value"] == pytest.approx(1 - 11300 / 16768 - 0.18)
    assert rules(call(text("13,800.00"), root="NQ")) == []


def test_two_recovery_figures_for_one_low_are_caught() -> None:
    # ES 2020-04-09: 64 % won back, and "52 % of the prior decline" to the same low.
    rebound = (
        "ES is in a bearish primary trend and is rebounding after a crash: it has won back 64% "
        "of the 30% fall from the high of 3 Mar 2020 to the low of 23 Mar 2020."
    )

    def text(share: int, day: str) -> str:
        pullback = f"- The last rebound was moderate ({share}% of the prior decline to {day})"
        return note({"Introduction": [rebound], "Market Structure & Trend": [pullback]})

    (row,) = found(call(text(52, "23 Mar 2020"))).rows(named=True)
    assert row["rule"] == "recovery_two_definitions"
    assert row["detail"] == "recovery from the low of 23 Mar 2020 quoted as 64% and 52%"
    assert rules(call(text(64, "23 Mar 2020"))) == []
    assert rules(call(text(52, "2 Apr 2020"))) == []  # another low, another move


# --- the report ---------------------------------------------------------------------------------


def test_the_table_counts_each_rule_per_root_and_methodology() -> None:
    calls = [
        call(note(structure(THESIS_DECLINE))),
        call(note(structure(THESIS_DECLINE)), as_of=date(2020, 4, 10)),
        call(note({}), root="NQ", as_of=date(2020, 4, 9)),
    ]
    table = check_calls(calls).table()
    assert table.select("root", "calls", "thesis_least_likely", "band_too_wide_pct").rows() == [
        ("ES", 2, 2, 0),
        ("NQ", 1, 0, 0),
    ]
    assert table["moves_over_10"].to_list() == [0, 0]
    assert table["crash_band_pct_median"].to_list() == [None, None]  # a rebound is no crash
    assert table["band_pct_median"][0] == pytest.approx((2959.75 - 2700.0) / 2779.75)


def test_a_stored_row_without_a_needed_value_is_a_clear_error() -> None:
    row = {k: v for k, v in VALUES.items() if k != "atr14"}
    with pytest.raises(ValueError, match=r"ES 2020-04-09: the stored row has no atr14"):
        check_calls([StoredCall(row, "")])


def test_calls_checked_one_at_a_time_make_the_same_report_as_all_at_once() -> None:
    """check_call with the previous call's values, then report_of (what `audit --quality` does
    with the findings it keeps, kept as JSON text) equals check_calls over the same calls:
    violations row for row (the qualitative-word rule counted over every note of a root), the
    calls' facts and the table."""
    params = CoherenceParams(word_min_cases=5)
    start = date(2020, 1, 1)
    pullbacks = [
        call(pullback_note("impulsive" if i < 8 else "corrective", "shallow"),
             as_of=start + timedelta(days=i), p_bull=0.3, p_sideways=0.4, p_bear=0.3)
        for i in range(10)
    ]  # fmt: skip
    moved = pair(changes("Bullish Reversal: 24% → 45%"))
    calls = [
        *moved,
        call(note(structure(THESIS_DECLINE)), as_of=date(2020, 4, 10)),
        call(relative("ES", {"NQ": "leading"}, BROADENING), as_of=date(2020, 4, 13)),
        call(note({}), root="NQ", as_of=date(2020, 4, 9)),
        *pullbacks,
    ]
    whole = check_calls(list(reversed(calls)), params=params)
    assert set(whole.violations["rule"]) >= {
        "unexplained_move", "thesis_least_likely", "peer_reading", "word_does_not_split",
    }  # fmt: skip

    es = sorted((c for c in calls if c.values["root"] == "ES"), key=lambda c: c.values["as_of"])
    nq = [c for c in calls if c.values["root"] == "NQ"]
    checks = [
        check_call(c, es[i - 1].values if i else None, params=params) for i, c in enumerate(es)
    ] + [check_call(nq[0], params=params)]
    kept = [CallCheck.from_json(c.as_json()) for c in checks]
    assert kept == checks
    one_by_one = report_of(kept, params=params)
    assert one_by_one.violations.equals(whole.violations)
    assert one_by_one.calls.sort("root", "as_of").equals(whole.calls.sort("root", "as_of"))
    assert one_by_one.table().equals(whole.table())
