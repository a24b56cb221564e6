"""Analyst calls: the seed note's file, every refusal naming its field, the snapshot row built from
the call and the market facts, and the seed call resolved and scored on demo data."""

from __future__ import annotations

import dataclasses
import math
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import polars as pl
import pytest
import talib

from pipeline.audit.analyst import (
    ANALYST_METHODOLOGY,
    AnalystCall,
    AnalystCallError,
    analyst_snapshot_rows,
    load_analyst_call,
    market_facts,
    parse_analyst_call,
    recorded_late,
)
from pipeline.audit.outcomes import resolve_outcomes
from pipeline.market.calendar import ET
from pipeline.market.continuous import continuous_series
from pipeline.sources.demo import demo_bars

SEED_FILE = Path(__file__).resolve().parents[3] / "pipeline/audit/examples/rty-2026-02-04-seed.toml"
SEED_TEXT = SEED_FILE.read_text()
SEED_AS_OF = date(2026, 2, 4)

SEED_YAML = """\
root: RTY
as_of: 2026-02-04
author: seed-note
primary_trend: Bullish
perspective: consolidation near highs
horizon_sessions: 20
notes: |
  Small caps grinding higher with improving structure: higher lows since late November, price well
  above the 200-day, shallow and corrective pullbacks into a rising 50-day moving average.
levels:
  line_in_the_sand: [2500, 2520]
  bias_defining: [2650, 2700]
  extension: [2750, 2800]
  deeper: [2400, 2420]
risk:
  rule: accept_below_sma50
scenarios:
  bull:
    probability: 0.40
    trigger: RTY holds above 2,520 and pushes through 2,700
  sideways:
    probability: 0.40
    trigger: range-bound between 2,520 and 2,700
  bear:
    probability: 0.20
    trigger: a sustained move below the 50-day MA opens the low-2,400s
"""


def edited(*replacements: tuple[str, str]) -> str:
    """The seed file with each (old, new) applied; every old text must occur exactly once."""
    text = SEED_TEXT
    for old, new in replacements:
        assert text.count(old) == 1, old
        text = text.replace(old, new)
    return text


# ------------------------------------------------------------------------------------- parsing


def test_the_seed_file_parses_to_the_notes_numbers() -> None:
    call = parse_analyst_call(SEED_TEXT)
    assert (call.root, call.as_of, call.author) == ("RTY", SEED_AS_OF, "seed-note")
    assert (call.primary_trend, call.perspective) == ("Bullish", "consolidation near highs")
    assert call.levels == {
        "line_in_the_sand": (2500.0, 2520.0),
        "bias_defining": (2650.0, 2700.0),
        "extension": (2750.0, 2800.0),
        "deeper": (2400.0, 2420.0),
    }
    assert {name: p for name, (p, _) in call.scenarios.items()} == {
        "bear": 0.2,
        "sideways": 0.4,
        "bull": 0.4,
    }
    assert call.scenarios["bull"][1] == "RTY holds above 2,520 and pushes through 2,700"
    assert (call.risk_rule, call.horizon_sessions, call.orientation) == (
        "accept_below_sma50",
        20,
        "up",
    )
    assert call.notes.startswith("Small caps grinding higher") and call.notes.endswith("average.")


def test_the_yaml_equivalent_parses_the_same() -> None:
    from_toml = parse_analyst_call(SEED_TEXT)
    from_yaml = parse_analyst_call(SEED_YAML, fmt="yaml")
    # Only the fingerprint (sha256 of the file as given) tells the two files apart.
    assert from_yaml.fingerprint != from_toml.fingerprint
    assert dataclasses.replace(from_yaml, fingerprint=from_toml.fingerprint) == from_toml


def test_fingerprint_is_the_sha256_of_the_text() -> None:
    import hashlib

    assert (
        parse_analyst_call(SEED_TEXT).fingerprint == hashlib.sha256(SEED_TEXT.encode()).hexdigest()
    )


BEAR_BLOCK = """[scenarios.bear]
probability = 0.20
trigger = "a sustained move below the 50-day MA opens the low-2,400s"
"""

BAD_FILES = [
    pytest.param(edited(('root = "RTY"\n', "")), "'root'", id="missing-root"),
    pytest.param(edited(('root = "RTY"', 'root = "XYZ"')), "'root'", id="unknown-root"),
    pytest.param(
        edited(("as_of = 2026-02-04", "as_of = 2026-02-07")), "'as_of'", id="as-of-saturday"
    ),
    pytest.param(
        edited(("as_of = 2026-02-04", "as_of = 2026-02-16")), "'as_of'", id="as-of-presidents-day"
    ),
    pytest.param(
        edited(("as_of = 2026-02-04", "as_of = 2026-02-04T18:00:00")),
        "'as_of'",
        id="as-of-a-datetime",
    ),
    pytest.param(edited(("as_of = 2026-02-04", 'as_of = "Feb 4"')), "'as_of'", id="as-of-text"),
    pytest.param(
        edited(('author = "seed-note"', 'author = "callbook"')), "'author'", id="author-reserved"
    ),
    pytest.param(
        edited(('primary_trend = "Bullish"', 'primary_trend = "Sideways"')),
        "'primary_trend'",
        id="unknown-trend",
    ),
    pytest.param(
        edited(('perspective = "consolidation near highs"', 'perspective = "to the moon"')),
        "'perspective'",
        id="unknown-perspective",
    ),
    pytest.param(
        edited(("line_in_the_sand = [2500, 2520]", "line_in_the_sand = [2500]")),
        "'levels.line_in_the_sand'",
        id="level-not-a-pair",
    ),
    pytest.param(
        edited(("line_in_the_sand = [2500, 2520]", 'line_in_the_sand = "2500-2520"')),
        "'levels.line_in_the_sand'",
        id="level-as-text",
    ),
    pytest.param(
        edited(("line_in_the_sand = [2500, 2520]", "line_in_the_sand = [2520, 2500]")),
        "'levels.line_in_the_sand'",
        id="level-low-above-high",
    ),
    pytest.param(
        edited(("line_in_the_sand = [2500, 2520]", "line_in_the_sand = [2600, 2660]")),
        "'levels.line_in_the_sand' and 'levels.bias_defining'",
        id="line-overlaps-bias",
    ),
    pytest.param(
        edited(("bias_defining = [2650, 2700]", "")),
        "'levels.bias_defining'",
        id="missing-bias-defining",
    ),
    pytest.param(
        edited(("deeper = [2400, 2420]", "deeper = [2400, 2420]\ntarget = [2900, 2950]")),
        "'levels.target'",
        id="unknown-level-kind",
    ),
    pytest.param(
        edited(('rule = "accept_below_sma50"', 'rule = "accept_below_sma200"')),
        "'risk.rule'",
        id="unknown-risk-rule",
    ),
    pytest.param(edited((BEAR_BLOCK, "")), "'scenarios.bear'", id="missing-scenario"),
    pytest.param(
        edited(
            ('probability = 0.40\ntrigger = "RTY', 'probability = 1.40\ntrigger = "RTY'),
        ),
        "'scenarios.bull.probability'",
        id="probability-above-1",
    ),
    pytest.param(
        edited(("probability = 0.20", "probability = -0.20")),
        "'scenarios.bear.probability'",
        id="probability-negative",
    ),
    pytest.param(
        edited(("probability = 0.20", 'probability = "0.20"')),
        "'scenarios.bear.probability'",
        id="probability-as-text",
    ),
    pytest.param(
        edited(("probability = 0.20", "probability = 0.25")),
        "'scenarios.*.probability' must sum to 1",
        id="probabilities-sum-to-1.05",
    ),
    pytest.param(
        edited(("horizon_sessions = 20", "horizon_sessions = 0")),
        "'horizon_sessions'",
        id="horizon-0",
    ),
    pytest.param(
        edited(("horizon_sessions = 20", "horizon_sessions = 2.5")),
        "'horizon_sessions'",
        id="horizon-fractional",
    ),
    pytest.param(edited(('root = "RTY"', 'root = "RTY')), "not valid TOML", id="invalid-toml"),
    pytest.param(
        edited(("horizon_sessions = 20", "horizon_session = 10")),
        "field 'horizon_session': unknown field",
        id="misspelt-field",
    ),
    # -- numbers that are not finite or not plausible for the root
    pytest.param(
        edited(("line_in_the_sand = [2500, 2520]", "line_in_the_sand = [2500, inf]")),
        "field 'levels.line_in_the_sand': need finite numbers",
        id="level-infinite",
    ),
    pytest.param(
        edited(("deeper = [2400, 2420]", "deeper = [nan, 2420]")),
        "field 'levels.deeper': need finite numbers",
        id="level-nan",
    ),
    pytest.param(
        edited(("extension = [2750, 2800]", "extension = [2750, 1e300]")),
        "field 'levels.extension': [2750, 1e+300] is outside the plausible range of the root "
        "(50 .. 50000 index points)",
        id="level-implausible",
    ),
    pytest.param(
        edited(("deeper = [2400, 2420]", "deeper = [2.4, 2.42]")),
        "field 'levels.deeper': [2.4, 2.42] is outside the plausible range",
        id="level-unit-error",
    ),
    pytest.param(
        edited(("probability = 0.20", "probability = nan")),
        "field 'scenarios.bear.probability': must be a number between 0 and 1, got 'nan'",
        id="probability-nan",
    ),
    pytest.param(
        edited(("probability = 0.20", "probability = inf")),
        "field 'scenarios.bear.probability'",
        id="probability-infinite",
    ),
    pytest.param(
        edited(("horizon_sessions = 20", "horizon_sessions = 100000")),
        "field 'horizon_sessions': must be a whole number of sessions from 1 to 252",
        id="horizon-implausible",
    ),
    # -- nested fields the format does not have
    pytest.param(
        edited(("probability = 0.20", "probabilty = 0.20")),
        "field 'scenarios.bear.probabilty': unknown field (known: probability, trigger)",
        id="misspelt-nested-field",
    ),
    pytest.param(
        edited((BEAR_BLOCK, BEAR_BLOCK + "[scenarios.crash]\nprobability = 0.0\n")),
        "field 'scenarios.crash': unknown field (known: bear, bull, sideways)",
        id="unknown-scenario",
    ),
    pytest.param(
        edited(('rule = "accept_below_sma50"', 'rule = "accept_below_sma50"\nlevel = 2500')),
        "field 'risk.level': unknown field (known: rule)",
        id="unknown-risk-field",
    ),
    pytest.param(
        edited(('probability = 0.20\ntrigger = "a', 'probability = 0.20\nodds = 4\ntrigger = "a')),
        "field 'scenarios.bear.odds': unknown field",
        id="extra-nested-field",
    ),
    pytest.param(
        edited(('trigger = "range-bound between 2,520 and 2,700"', "trigger = 2520")),
        "field 'scenarios.sideways.trigger': expected a text, got a int",
        id="trigger-not-text",
    ),
    pytest.param(
        edited(('notes = """', r'notes = """\u001b[2J')),  # TOML's escape for ESC
        "field 'notes': holds control characters",
        id="notes-control-characters",
    ),
    # -- author names that would make snapshot ids ambiguous or unprintable
    pytest.param(
        edited(('author = "seed-note"', 'author = "desk/alice"')),
        "field 'author': 'desk/alice' is not a valid name",
        id="author-with-slash",
    ),
    pytest.param(
        edited(('author = "seed-note"', 'author = "seed note"')),
        "field 'author': 'seed note' is not a valid name",
        id="author-with-space",
    ),
    pytest.param(
        edited(('author = "seed-note"', 'author = "seed\\nnote"')),
        "field 'author': 'seed?note' is not a valid name",
        id="author-with-newline",
    ),
    pytest.param(
        edited(('author = "seed-note"', 'author = "../callbook"')),
        "field 'author': '../callbook' is not a valid name",
        id="author-path",
    ),
    pytest.param(
        edited(('author = "seed-note"', f'author = "{"a" * 65}"')),
        "field 'author'",
        id="author-too-long",
    ),
]


@pytest.mark.parametrize(("text", "names"), BAD_FILES)
def test_bad_fields_are_refused_by_name(text: str, names: str) -> None:
    with pytest.raises(AnalystCallError) as refused:
        parse_analyst_call(text)
    assert names in str(refused.value)


def test_every_refusal_is_one_line() -> None:
    for param in BAD_FILES:
        text = param.values[0]
        with pytest.raises(AnalystCallError) as refused:
            parse_analyst_call(str(text))
        assert "\n" not in str(refused.value), str(refused.value)


def test_yaml_errors_do_not_quote_the_file() -> None:
    with pytest.raises(AnalystCallError) as refused:
        parse_analyst_call("root: [RTY\nsecret: hunter2\n", fmt="yaml")
    assert "hunter2" not in str(refused.value) and "\n" not in str(refused.value)
    assert "line" in str(refused.value)


def test_call_files_that_are_not_call_files_are_refused(tmp_path: Path) -> None:
    big = tmp_path / "big.toml"
    big.write_text(SEED_TEXT + "#" * 70_000)
    with pytest.raises(AnalystCallError, match=r"big.toml: 7\d,\d{3} bytes, more than a call file"):
        load_analyst_call(big)
    binary = tmp_path / "binary.toml"
    binary.write_bytes(b"root = \xff\xfe")
    with pytest.raises(AnalystCallError, match=r"binary\.toml: not UTF-8 text"):
        load_analyst_call(binary)
    with pytest.raises(AnalystCallError, match="not a regular file"):
        load_analyst_call(tmp_path)
    good = tmp_path / "seed.toml"
    good.write_text(SEED_TEXT)
    assert load_analyst_call(good) == parse_analyst_call(SEED_TEXT)


def test_bad_yaml_and_formats_are_refused() -> None:
    with pytest.raises(AnalystCallError, match="not valid YAML"):
        parse_analyst_call("root: [RTY", fmt="yaml")
    with pytest.raises(AnalystCallError, match="table of fields"):
        parse_analyst_call("- RTY\n- 2026-02-04\n", fmt="yaml")
    with pytest.raises(AnalystCallError, match="'as_of': expected a date"):
        parse_analyst_call(SEED_YAML.replace("2026-02-04", "2026-02-04 18:00:00"), fmt="yaml")
    with pytest.raises(AnalystCallError, match="format 'json'"):
        parse_analyst_call("{}", fmt="json")


def test_probabilities_within_the_tolerance_are_accepted() -> None:
    # Three rounded thirds sum to 0.999: inside the 0.001 tolerance.
    text = edited(
        ("probability = 0.20", "probability = 0.333"),
        ('probability = 0.40\ntrigger = "range', 'probability = 0.333\ntrigger = "range'),
        ('probability = 0.40\ntrigger = "RTY', 'probability = 0.333\ntrigger = "RTY'),
    )
    assert parse_analyst_call(text).scenarios["bear"][0] == 0.333


# ----------------------------------------------------------------------------- snapshot rows

HAND_MARKET: dict[str, Any] = {
    "contract": "RTYH26",
    "close": 2617.4,
    "atr14": 36.25,
    "sma50": 2634.7,
    "roll_offset": -411.3,
    "roll_factor": 1.0,
}

BEARISH_EDITS = (
    ('primary_trend = "Bullish"', 'primary_trend = "Bearish"'),
    ('perspective = "consolidation near highs"', 'perspective = "rebound within downtrend"'),
    ("line_in_the_sand = [2500, 2520]", "line_in_the_sand = [2700, 2720]"),
    ("bias_defining = [2650, 2700]", "bias_defining = [2500, 2550]"),
    ("extension = [2750, 2800]", "extension = [2400, 2450]"),
    ("deeper = [2400, 2420]", "deeper = [2800, 2820]"),
)


def snapshot_row(text: str, market: dict[str, Any] = HAND_MARKET) -> dict[str, Any]:
    rows = analyst_snapshot_rows(parse_analyst_call(text), market)
    assert rows.height == 1
    return rows.row(0, named=True)


def test_bullish_call_snapshot_row() -> None:
    row = snapshot_row(SEED_TEXT)
    # Up orientation: the bull barrier is the top of the bias-defining level, the bear barrier the
    # bottom of the line in the sand.
    assert (row["orientation"], row["upper_barrier"], row["lower_barrier"]) == (
        "up",
        2700.0,
        2500.0,
    )
    assert (row["risk_rule"], row["risk_level"]) == ("accept_below_sma50", 2634.7)
    assert (row["line_low"], row["line_high"], row["bias_low"], row["bias_high"]) == (
        2500.0,
        2520.0,
        2650.0,
        2700.0,
    )
    assert (row["ext_low"], row["ext_high"], row["deep_low"], row["deep_high"]) == (
        2750.0,
        2800.0,
        2400.0,
        2420.0,
    )
    assert row["line_projected"] is False
    assert (row["p_bear"], row["p_sideways"], row["p_bull"]) == (0.2, 0.4, 0.4)
    assert (row["author"], row["methodology_version"], row["source"]) == (
        "seed-note",
        ANALYST_METHODOLOGY,
        "analyst",
    )
    assert (row["contract"], row["close"], row["atr14"], row["sma50"]) == (
        "RTYH26",
        2617.4,
        36.25,
        2634.7,
    )
    assert (row["roll_offset"], row["roll_factor"]) == (-411.3, 1.0)
    # 20 CME sessions after Wed 4 Feb 2026, skipping Presidents Day (Mon 16 Feb): Thu 5 Mar.
    assert (row["horizon_sessions"], row["horizon_end"]) == (20, date(2026, 3, 5))
    assert row["input_fingerprint"] == parse_analyst_call(SEED_TEXT).fingerprint
    assert "bull: RTY holds above 2,520 and pushes through 2,700" in row["notes"]
    assert row["notes"].startswith("Small caps grinding higher")
    # What the model fills and the analyst does not write stays empty.
    assert row["state_key"] is None and row["n_analogs"] is None and row["sma200"] is None


@pytest.mark.parametrize(
    ("rule", "risk_level"),
    [
        ("accept_above_line", 2720.0),  # the top of the line in the sand above price
        ("accept_above_sma50", HAND_MARKET["sma50"]),
    ],
)
def test_bearish_call_mirrors_the_barriers(rule: str, risk_level: float) -> None:
    text = edited(*BEARISH_EDITS, ('rule = "accept_below_sma50"', f'rule = "{rule}"'))
    row = snapshot_row(text)
    # Down orientation: the bull barrier is the top of the line in the sand (resistance), the
    # bear barrier the bottom of the bias-defining level (support).
    assert (row["orientation"], row["upper_barrier"], row["lower_barrier"]) == (
        "down",
        2720.0,
        2500.0,
    )
    assert (row["primary_trend"], row["risk_rule"], row["risk_level"]) == (
        "Bearish",
        rule,
        risk_level,
    )


def test_level_risk_rule_takes_the_bottom_of_the_line() -> None:
    row = snapshot_row(edited(('rule = "accept_below_sma50"', 'rule = "accept_below_line"')))
    assert row["risk_level"] == 2500.0


def test_content_hash_is_stable_and_covers_the_probabilities() -> None:
    first, again = snapshot_row(SEED_TEXT), snapshot_row(SEED_TEXT)
    assert first["content_hash"] == again["content_hash"]
    assert len(first["content_hash"]) == 64
    moved = edited(
        ("probability = 0.20", "probability = 0.25"),
        ('probability = 0.40\ntrigger = "range', 'probability = 0.35\ntrigger = "range'),
    )
    assert snapshot_row(moved)["content_hash"] != first["content_hash"]
    # The same file against another market fact is another snapshot too.
    other_close = {**HAND_MARKET, "close": 2617.5}
    assert snapshot_row(SEED_TEXT, other_close)["content_hash"] != first["content_hash"]


# ------------------------------------------------------------------------- on demo market data

DEMO_CUT = date(2026, 11, 20)


@pytest.fixture(scope="module")
def demo_rty() -> tuple[pl.DataFrame, pl.DataFrame]:
    bars = demo_bars("RTY").filter(pl.col("session_date") <= DEMO_CUT)
    return bars, continuous_series(bars)


def talib_atr_and_sma50(series: pl.DataFrame, as_of: date) -> tuple[float, float, dict[str, Any]]:
    """TA-Lib's ATR(14) and SMA(50) of the adjusted series on ``as_of`` (internal frame)."""
    upto = series.filter(pl.col("session_date") <= as_of)
    high, low, close = (upto[c].to_numpy().astype(float) for c in ("high", "low", "close"))
    atr = talib.ATR(high, low, close, timeperiod=14)[-1]
    sma = talib.SMA(close, timeperiod=50)[-1]
    return float(atr), float(sma), upto.row(-1, named=True)


def test_market_facts_on_demo_data(demo_rty: tuple[pl.DataFrame, pl.DataFrame]) -> None:
    bars, series = demo_rty
    facts = market_facts(series, SEED_AS_OF)
    # The front on 4 Feb 2026 is RTYH26 (the December roll was on Thursday 11 Dec 2025), and the
    # close is its raw settlement that day.
    settlement = bars.filter(
        (pl.col("contract") == "RTYH26") & (pl.col("session_date") == SEED_AS_OF)
    )["close"].item()
    assert (facts["contract"], facts["close"]) == ("RTYH26", settlement)
    atr, sma, day = talib_atr_and_sma50(series, SEED_AS_OF)
    assert day["offset"] != 0.0  # the series is adjusted: the facts must take it out
    assert facts["roll_offset"] == pytest.approx(day["offset"], abs=1e-6)
    assert facts["roll_factor"] == 1.0
    # ATR is a distance: the same in the series and in front points; SMA50 is a price: minus offset.
    assert facts["atr14"] == pytest.approx(atr, abs=1e-4)
    assert facts["sma50"] == pytest.approx(sma - day["offset"], abs=1e-4)


def test_market_facts_on_a_ratio_adjusted_series(
    demo_rty: tuple[pl.DataFrame, pl.DataFrame],
) -> None:
    bars, series = demo_rty
    ratio_series = continuous_series(bars, method="ratio")
    facts = market_facts(ratio_series, SEED_AS_OF)
    atr, sma, day = talib_atr_and_sma50(ratio_series, SEED_AS_OF)
    assert day["factor"] != 1.0
    assert facts["close"] == market_facts(series, SEED_AS_OF)["close"]
    assert facts["atr14"] == pytest.approx(atr / day["factor"], abs=1e-4)
    assert facts["sma50"] == pytest.approx(sma / day["factor"], abs=1e-4)


def test_market_facts_refuse_an_as_of_they_cannot_serve(
    demo_rty: tuple[pl.DataFrame, pl.DataFrame],
) -> None:
    _, series = demo_rty
    with pytest.raises(AnalystCallError, match="'as_of': no bar on 2026-12-01"):
        market_facts(series, date(2026, 12, 1))
    first = series["session_date"][0]
    with pytest.raises(AnalystCallError, match=r"'as_of'.*too early"):
        market_facts(series.head(5), first)


def slow_resolution(series: pl.DataFrame, call: AnalystCall, atr: float) -> tuple[str, int]:
    """The acceptance rule by a plain loop, in points of the as-of front contract."""
    dates = series["session_date"].to_list()
    start = dates.index(call.as_of)
    offset = series["offset"][start]
    closes = [c - offset for c in series["close"][start + 1 : start + 1 + call.horizon_sessions]]
    up = call.levels["bias_defining"][1] + 0.1 * atr
    down = call.levels["line_in_the_sand"][0] - 0.1 * atr
    for step in range(2, len(closes) + 1):
        if closes[step - 2] > up and closes[step - 1] > up:
            return "bull", step
        if closes[step - 2] < down and closes[step - 1] < down:
            return "bear", step
    return "sideways", call.horizon_sessions


# p = (0.2, 0.4, 0.4): see tests/pipeline/audit/test_outcomes.py for the arithmetic.
HAND_SCORES = {"bear": (0.40, 0.96, 0.2), "sideways": (0.10, 0.56, 0.4), "bull": (0.20, 0.56, 0.4)}


def test_the_seed_call_resolved_on_demo_data(demo_rty: tuple[pl.DataFrame, pl.DataFrame]) -> None:
    _, series = demo_rty
    call = parse_analyst_call(SEED_TEXT)
    facts = market_facts(series, call.as_of)
    rows = analyst_snapshot_rows(call, facts).with_columns(pl.lit("seed").alias("snapshot_id"))
    outcome = resolve_outcomes(rows, series)
    assert outcome.height == 1
    row = outcome.row(0, named=True)
    expected, steps = slow_resolution(series, call, facts["atr14"])
    assert (row["outcome"], row["steps"]) == (expected, steps)
    assert row["horizon_end"] == date(2026, 3, 5)
    rps, brier, p_realised = HAND_SCORES[row["outcome"]]
    assert row["rps"] == pytest.approx(rps, abs=1e-9)
    assert row["brier"] == pytest.approx(brier, abs=1e-9)
    assert row["log_score"] == pytest.approx(-math.log(p_realised), abs=1e-6)
    # The horizon ends on 5 Mar, before the 12 Mar roll: its last settlement is RTYH26's.
    settlement = series.filter(pl.col("session_date") == date(2026, 3, 5))
    assert settlement["contract"].item() == "RTYH26"
    assert row["close_at_horizon"] == pytest.approx(settlement["raw_close"].item(), abs=1e-6)
    # A Bullish call: the favourable excursion is the highest high of the horizon above the as-of
    # settlement, the adverse one the lowest low below it, in ATR (clipped at 0).
    horizon = series.filter(
        (pl.col("session_date") > call.as_of) & (pl.col("session_date") <= date(2026, 3, 5))
    )
    as_of_close = series.filter(pl.col("session_date") == call.as_of)["close"].item()
    up = (horizon["high"].max() - as_of_close) / facts["atr14"]
    down = (as_of_close - horizon["low"].min()) / facts["atr14"]
    assert row["mfe_atr"] == pytest.approx(max(up, 0.0), abs=1e-4)
    assert row["mae_atr"] == pytest.approx(max(down, 0.0), abs=1e-4)


# ----------------------------------------------------------------------------- recorded late


@pytest.mark.parametrize(
    ("as_of", "stored_et", "late"),
    [
        (date(2026, 2, 4), datetime(2026, 2, 4, 17, 59), False),  # between the close and 18:00
        (date(2026, 2, 4), datetime(2026, 2, 4, 18, 0), True),  # Globex reopened for 5 Feb
        (date(2026, 2, 6), datetime(2026, 2, 8, 17, 59), False),  # Friday's call on Sunday
        (date(2026, 2, 6), datetime(2026, 2, 8, 18, 0), True),
        # Wednesday 24 Dec 2025: the next trade date is Friday 26 (Christmas is none), whose
        # session opens at 18:00 ET on Thursday 25.
        (date(2025, 12, 24), datetime(2025, 12, 25, 12, 0), False),
        (date(2025, 12, 24), datetime(2025, 12, 25, 18, 0), True),
        (date(2026, 2, 4), datetime(2026, 11, 21, 7, 0), True),  # typed in months later
    ],
)
def test_a_call_is_late_once_the_next_session_has_opened(
    as_of: date, stored_et: datetime, late: bool
) -> None:
    assert recorded_late(as_of, stored_et.replace(tzinfo=ET)) is late
    assert recorded_late(as_of, stored_et.replace(tzinfo=ET).astimezone(UTC)) is late


def test_recorded_late_needs_an_aware_time() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        recorded_late(date(2026, 2, 4), datetime(2026, 2, 4, 12, 0))
