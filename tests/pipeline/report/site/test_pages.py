"""Pages of the static site from hand-made inputs: what a reader must (and must not) see."""

from __future__ import annotations

import dataclasses
import re
from datetime import UTC, date, datetime

import numpy as np

from pipeline.analysis.snapshot import example_snapshot
from pipeline.report.site import pages
from pipeline.report.site.series import ChartWindow

CTX = pages.SiteContext(
    demo=True, roots=("RTY", "ES"), built_at="2026-02-05 00:00Z", code_version="test",
    methodologies=("v1",), published="v1",
)  # fmt: skip
WRITTEN = datetime(2026, 2, 4, 23, 30, tzinfo=UTC)


def snapshot():
    return dataclasses.replace(example_snapshot(), extra={"version": 2, "kind": "analyst"})


def versions() -> list[dict]:
    base = {
        "kind": "analyst", "primary_trend": "Bullish", "perspective": "consolidation near highs",
        "line_low": 2500.0, "line_high": 2520.0, "p_bull": 0.4, "p_sideways": 0.4, "p_bear": 0.2,
        "params_hash": "", "input_fingerprint": "a", "created_at": WRITTEN,
    }  # fmt: skip
    return [
        {**base, "version": 1, "content_hash": "1" * 64},
        {**base, "version": 2, "content_hash": "2" * 64, "p_bull": 0.5, "p_bear": 0.1,
         "input_fingerprint": "b", "line_reason": "swing cluster at the 50-day",
         "trend_rule": "sma_stack"},
    ]  # fmt: skip


def window() -> ChartWindow:
    values = np.array([2590.0, 2600.0])
    return ChartWindow(
        [date(2026, 2, 3), date(2026, 2, 4)], values, values + 5, values - 5, values, values, values
    )


def page(**changes) -> str:
    call = pages.CallPage(
        path="calls/RTY/2026/2026-02-04-seed-note-analyst-analyst.html",
        snapshot=snapshot(),
        versions=versions(),
        window=window(),
        known_at=WRITTEN,
        **changes,
    )
    return pages.render_call_page(call, CTX)


def test_an_open_call_shows_its_status_so_far_and_no_score() -> None:
    progress = {
        "snapshot_id": "x", "through_session": date(2026, 2, 9), "sessions_elapsed": 3,
        "horizon_sessions": 20, "status": "open", "settled_session": None,
        "upper_touch_step": 2, "lower_touch_step": None, "upper_accept_step": None,
        "lower_accept_step": None, "line_break_step": None, "risk_trigger_step": None,
        "close_so_far": 2650.0, "mfe_atr": 1.2, "mae_atr": 0.3,
        "status_so_far": "sideways so far, 3 of 20 sessions (to 2026-02-09): upper barrier "
        "touched on session 2, not accepted; not scored until the horizon ends",
    }  # fmt: skip
    html = page(progress=progress)
    assert "Open — status so far, not a score" in html
    assert "3 of 20 (through 2026-02-09)" in html
    assert "Sideways so far, 3 of 20 sessions" in html
    assert "touched on session 2, not accepted" in html
    assert (
        "Ranked probability" not in html
        and "RPS" not in html.split('id="outcome"')[1].split("</section>")[0]
    )
    assert "scored only after its horizon ends" in html


def test_a_resolved_call_shows_its_outcome_scores_and_reference() -> None:
    outcome = {
        "outcome": "bull", "resolved_session": date(2026, 2, 12), "steps": 6,
        "horizon_end": date(2026, 3, 4), "rps": 0.1, "brier": 0.56, "log_score": 0.9163,
        "line_held": True, "line_break_step": None, "risk_triggered": False,
        "risk_trigger_step": None, "trend_correct": True, "mfe_atr": 2.5, "mae_atr": 0.4,
        "close_at_horizon": 2712.3, "series_through": date(2026, 3, 10), "recorded_at": WRITTEN,
    }  # fmt: skip
    html = page(outcome=outcome, ref_rps=0.2222)
    assert "Outcome: Bullish continuation" in html
    assert "settled on 2026-02-12 (session 6 of 20)" in html
    assert "The call gave it 40 %" in html  # the current version's forecast
    assert "0.1000" in html and "0.2222 — better" in html
    assert "status so far" not in html


def test_every_page_is_labelled_demo_and_loads_nothing_from_outside() -> None:
    html = page()
    assert html.count("DEMO DATA") >= 3  # banner, badge, chart watermark, note
    assert not re.search(r'(src|href)="(https?:)?//', html)  # no CDN, no absolute link
    assert '<script src="../../../assets/site.js">' in html
    assert '<link rel="stylesheet" href="../../../assets/site.css">' in html


def test_versions_say_what_changed_and_methodology_facts_are_shown() -> None:
    html = page()
    assert "first version" in html
    assert "probabilities, input bars (a revision)" in html
    facts = html.split('id="methodology-facts"')[1].split("</section>")[0]
    assert "trend_rule" in facts and "sma_stack" in facts
    # A level's reason is said in the levels table, not among the further facts.
    assert "line_reason" not in facts


def test_v2_levels_say_why_and_since_when_and_scenarios_follow_the_orientation() -> None:
    base = example_snapshot()
    line = dataclasses.replace(
        base.levels[0], reason="swing cluster at the 50-day", change="trimmed",
        since=date(2026, 1, 20),
    )  # fmt: skip
    down = dataclasses.replace(
        base, methodology_version="v2", orientation="down", levels=(line, *base.levels[1:])
    )
    views = pages.level_views(down)
    assert (views[0]["reason"], views[0]["since"]) == ("swing cluster at the 50-day", line.since)
    assert views[0]["change"].startswith("price came into the zone without acceptance")
    # A down call's bull scenario is a reversal and its bear scenario a continuation (the v2
    # note's headings); v1 keeps the generic names.
    assert pages.scenario_titles(down) == {
        "bear": "Bearish continuation", "sideways": "Sideways consolidation",
        "bull": "Bullish reversal",
    }  # fmt: skip
    assert pages.scenario_titles(dataclasses.replace(down, methodology_version="v1"))["bull"] == (
        "Bullish continuation"
    )


def test_same_day_calls_are_linked() -> None:
    other = {
        "root": "RTY", "as_of": date(2026, 2, 4), "author": "callbook",
        "methodology_version": "v1", "source": "demo", "kind": "backfill",
        "primary_trend": "Bullish", "perspective": "range", "line_low": 2490.0,
        "line_high": 2510.0, "bias_low": 2700.0, "bias_high": 2720.0, "p_bull": 0.3,
        "p_sideways": 0.5, "p_bear": 0.2, "outcome": None, "horizon_end": date(2026, 3, 4),
        "rps": None, "resolved_session": None,
    }  # fmt: skip
    html = page(same_day=[other])
    assert 'href="2026-02-04-callbook-v1-demo.html"' in html
    assert "Other calls on RTY for 2026-02-04" in html


def test_every_template_compiles() -> None:
    env = pages.environment()
    for template in pages.TEMPLATES.glob("*.j2"):
        env.get_template(template.name)


def test_the_scoreboard_keeps_in_sample_calls_apart() -> None:
    import polars as pl

    group = {"root": "RTY", "author": "callbook", "kind": "backfill", "methodology_version": "v1",
             "source": "demo"}  # fmt: skip
    view = pl.DataFrame(
        [{**group, "calls": 30, "first_as_of": date(2026, 11, 23), "last_as_of": date(2026, 12, 31),
          "mean_rps": 0.18, "mean_ref_rps": 0.2, "skill_rps": 0.1, "mean_brier": 0.5,
          "skill_brier": 0.05, "mean_log_score": 1.0, "skill_log": 0.02, "line_held_rate": 0.8,
          "trend_correct_rate": 0.6}]
    )  # fmt: skip
    apart = pl.DataFrame(
        [{**group, "flags": "in tuning period", "calls": 5000, "effective_calls": 250.0,
          "first_as_of": date(2005, 12, 28), "last_as_of": date(2026, 11, 20), "mean_rps": 0.17,
          "mean_clim_rps": 0.22, "skill_vs_climatology": 0.24, "skill_low": 0.2,
          "skill_high": 0.28, "skill_vs_geometry": 0.001, "geometry_low": -0.01,
          "geometry_high": 0.012, "interval": None, "mean_brier": 0.5, "mean_log_score": 0.9}]
    )  # fmt: skip
    empty = pl.DataFrame()
    html = pages.render_scoreboard(
        CTX, view=view, intervals=empty, calibration=empty, comparison=empty, apart=apart
    )
    honest = html.split('class="scoreboard honest"')[1].split("</table>")[0]
    assert (
        '<span data-field="skill_rps">+0.100</span>' in honest and "in tuning period" not in honest
    )
    flagged = html.split('class="scoreboard apart"')[1].split("</table>")[0]
    assert "in tuning period" in flagged and "+0.240" in flagged and "[+0.200, +0.280]" in flagged
    nothing = pages.render_scoreboard(
        CTX, view=view.head(0), intervals=empty, calibration=empty, comparison=empty, apart=apart
    )
    assert "No resolved call counts in the honest scoreboard yet" in nothing


def test_the_comparison_of_calls_scored_apart_is_flagged_and_never_the_honest_one() -> None:
    import polars as pl

    row = {
        "root": "RTY", "kind": "backfill", "source": "demo", "a": "v2", "b": "v1",
        "sessions": 100, "mean_rps_a": 0.2, "mean_rps_b": 0.18, "rps_difference": 0.02,
        "rps_low": 0.01, "rps_high": 0.03, "vs_reference_difference": -0.01,
        "vs_reference_low": -0.02, "vs_reference_high": 0.005, "interval": None,
    }  # fmt: skip
    view = pl.DataFrame(
        schema={k: pl.String for k in ("root", "author", "kind", "methodology_version", "source")}
    )
    html = pages.render_scoreboard(
        CTX, view=view, intervals=pl.DataFrame(), calibration=pl.DataFrame(),
        comparison=pl.DataFrame(), comparison_apart=pl.DataFrame([row]),
    )  # fmt: skip
    section = html.split('id="comparison"')[1].split("<h2>")[0]
    assert "there is no honest comparison" in section
    assert 'class="comparison honest"' not in section
    flagged = section.split("<h3>")[1]
    assert flagged.startswith("Including the calls scored apart") and "not evidence" in flagged
    assert '+0.0200 <span class="ci">[+0.0100, +0.0300]</span>' in flagged
    assert '-0.0100 <span class="ci">[-0.0200, +0.0050]</span>' in flagged
