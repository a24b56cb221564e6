"""Snapshot rows: content, hashing, long forms, the read model round trip and horizon ends."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import numpy as np
import polars as pl
import pytest

from pipeline.analysis.assemble import (
    CONTENT_COLUMNS,
    RISK_RULES,
    Publication,
    horizon_ends,
    level_rows,
    scenario_rows,
    snapshot_from_row,
    snapshot_rows,
    with_content_hash,
)
from pipeline.analysis.methodology import get as get_methodology
from pipeline.analysis.params import METHODOLOGY_VERSION, AnalysisParams, params_hash
from pipeline.analysis.snapshot import MODEL_AUTHOR, SCENARIOS, Structure
from pipeline.analysis.steps import LEVEL_PREFIXES
from pipeline.market.calendar import add_sessions
from tests.pipeline.analysis.builders import noisy_path, series_frame

#: Methodology v1's analysis (the registry's one driver).
analyse = get_methodology("v1").analyse

PARAMS = AnalysisParams()
RTY_TICK = 0.1


@pytest.fixture(scope="module")
def analysis():
    # Up 300 sessions, then down 150: calls in both orientations (and every trend).
    series = {
        "RTY": series_frame(
            noisy_path([(300, 2.0), (150, -3.0)], start_level=1000.0, noise=1.5, seed=11)
        ),
        "ES": series_frame(noisy_path([(450, 1.0)], start_level=4000.0, noise=3.0, seed=12)),
        "NQ": series_frame(noisy_path([(450, 0.5)], start_level=9000.0, noise=5.0, seed=13)),
    }
    return analyse(series, "RTY", source="demo")


@pytest.fixture(scope="module")
def snapshots(analysis) -> pl.DataFrame:
    return analysis.snapshots


def test_one_row_per_call_with_exactly_the_content_columns_and_a_hash(analysis, snapshots):
    assert snapshots.columns == [*CONTENT_COLUMNS, "content_hash"]
    calls = analysis.table.filter("has_call")
    assert snapshots["as_of"].to_list() == calls["session_date"].to_list()
    assert set(snapshots["orientation"]) == {"up", "down"}
    assert set(snapshots["primary_trend"]) == {"Bullish", "Neutral", "Bearish"}
    assert snapshots["content_hash"].n_unique() == snapshots.height


def test_row_values_come_from_the_call_table_in_front_contract_points(analysis, snapshots):
    table = analysis.table.filter("has_call")
    for call, row in zip(table.iter_rows(named=True), snapshots.iter_rows(named=True), strict=True):
        assert (row["root"], row["source"], row["author"]) == ("RTY", "demo", MODEL_AUTHOR)
        assert row["methodology_version"] == METHODOLOGY_VERSION
        assert row["params_hash"] == params_hash(PARAMS)
        assert row["close"] == call["raw_close"]
        # Offset 0 here; tick 0.1: moving averages to 1 + 2 decimals, RSI to 2.
        assert row["sma200"] == pytest.approx(call["sma200"], abs=0.0005 + 1e-9)
        assert row["sma200"] == round(row["sma200"], 3)
        assert row["rsi14"] == pytest.approx(call["rsi14"], abs=0.005 + 1e-9)
        assert row["line_low"] == call["line_low"]
        assert row["horizon_end"] == add_sessions(row["as_of"], PARAMS.horizon_sessions)
        assert row["risk_rule"] in RISK_RULES
        if call["primary_trend"] == "Bullish":
            assert row["risk_rule"] == "accept_below_sma50"
            # The SMA50 rounded to the tick (a half tick may go either way).
            assert row["risk_level"] == pytest.approx(call["sma50"], abs=RTY_TICK / 2 + 1e-9)
            assert row["risk_level"] / RTY_TICK == pytest.approx(
                round(row["risk_level"] / RTY_TICK)
            )
        elif call["primary_trend"] == "Bearish":
            assert row["risk_rule"] == "accept_above_sma50"
        elif call["orientation"] == "up":
            assert (row["risk_rule"], row["risk_level"]) == ("accept_below_line", row["line_low"])
        else:
            assert (row["risk_rule"], row["risk_level"]) == ("accept_above_line", row["line_high"])
        assert row["p_bear"] + row["p_sideways"] + row["p_bull"] == pytest.approx(1, abs=1e-9)
        assert row["rs_es_verdict"] == call["rs_ES_verdict"]
        assert row["rs_nq_spread_63"] == round(call["rs_NQ_spread_63"], 4)


def test_sessions_restricts_the_rows(analysis, snapshots):
    wanted = [snapshots["as_of"][5], snapshots["as_of"][-1], date(2000, 1, 3)]  # one unknown
    table = analysis.table
    # Any per-row fingerprints will do: only has_call rows are kept.
    fingerprints = pl.Series(snapshots["input_fingerprint"]).extend_constant(
        None, table.height - snapshots.height
    )
    rows = snapshot_rows(
        table, AnalysisParams(), Publication("RTY", "demo", RTY_TICK, fingerprints, sessions=wanted)
    )
    assert rows["as_of"].to_list() == wanted[:2]


def test_snapshot_from_row_round_trip(snapshots):
    rows = [r for r in snapshots.iter_rows(named=True)]
    picked = [next(r for r in rows if r["orientation"] == o) for o in ("up", "down")] + [rows[-1]]
    for row in picked:
        snap = snapshot_from_row(row)
        assert (snap.root, snap.as_of, snap.author, snap.source) == (
            row["root"], row["as_of"], row["author"], row["source"]
        )  # fmt: skip
        assert (snap.contract, snap.raw_close, snap.offset) == (
            row["contract"], row["close"], row["roll_offset"]
        )  # fmt: skip
        assert (snap.primary_trend, snap.perspective, snap.orientation) == (
            row["primary_trend"], row["perspective"], row["orientation"]
        )  # fmt: skip
        assert (snap.upper_barrier, snap.lower_barrier) == (
            row["upper_barrier"],
            row["lower_barrier"],
        )
        assert (snap.risk_rule, snap.risk_level) == (row["risk_rule"], row["risk_level"])
        assert snap.risk_text == RISK_RULES[row["risk_rule"]]
        assert (snap.horizon_sessions, snap.horizon_end) == (20, row["horizon_end"])
        assert (snap.analogs_total, snap.state_key) == (row["n_analogs"], row["state_key"])
        assert snap.input_fingerprint == row["input_fingerprint"]
        assert snap.content_hash == row["content_hash"]
        assert snap.structure is not None
        for name in Structure.__dataclass_fields__:
            assert getattr(snap.structure, name) == row[name], name
        assert [lv.kind for lv in snap.levels] == list(LEVEL_PREFIXES)
        for level in snap.levels:
            prefix = LEVEL_PREFIXES[level.kind]
            assert (level.low, level.high, level.score, level.touches, level.projected) == (
                row[f"{prefix}_low"], row[f"{prefix}_high"], row[f"{prefix}_score"],
                row[f"{prefix}_touches"], row[f"{prefix}_projected"],
            )  # fmt: skip
            assert ",".join(level.sources) == row[f"{prefix}_sources"]
        support = (
            {"line_in_the_sand", "deeper"}
            if row["orientation"] == "up"
            else {"bias_defining", "extension"}
        )
        assert {lv.kind for lv in snap.levels if lv.role == "support"} == support
        assert [s.name for s in snap.scenarios] == list(SCENARIOS)
        for scenario in snap.scenarios:
            assert scenario.probability == row[f"p_{scenario.name}"]
            assert scenario.analogs == row[f"n_{scenario.name}"]
            assert scenario.climatology == row[f"clim_{scenario.name}"]
        assert snap.scenario("bull").trigger_level == row["upper_barrier"]
        assert snap.scenario("bear").trigger_level == row["lower_barrier"]
        assert snap.scenario("sideways").trigger_level is None
        assert [rs.peer for rs in snap.relative_strength] == ["ES", "NQ"]
        for rs in snap.relative_strength:
            peer = rs.peer.lower()
            assert (rs.ratio_vs_mean, rs.spread_5, rs.spread_20, rs.spread_63, rs.verdict) == (
                row[f"rs_{peer}_ratio_vs_mean"], row[f"rs_{peer}_spread_5"],
                row[f"rs_{peer}_spread_20"], row[f"rs_{peer}_spread_63"], row[f"rs_{peer}_verdict"],
            )  # fmt: skip


def changed_value(value: Any, dtype: pl.DataType) -> Any:
    """A different value of the same type."""
    if dtype == pl.String:
        return (value or "") + "x"
    if dtype == pl.Boolean:
        return not value
    if dtype == pl.Date:
        return (value or date(2020, 1, 1)) + timedelta(days=1)
    if dtype.is_integer():
        return (value or 0) + 1
    if dtype.is_float():
        return (value or 0.0) + 0.5
    raise AssertionError(f"no change rule for {dtype}")


def test_content_hash_changes_with_every_content_column(snapshots):
    rows = snapshots.head(3)
    base = with_content_hash(rows)["content_hash"].to_list()
    assert base == rows["content_hash"].to_list()  # deterministic
    for column in CONTENT_COLUMNS:
        dtype = rows.schema[column]
        new = changed_value(rows[column][1], dtype)
        edited = rows.with_columns(
            pl.when(pl.int_range(pl.len()) == 1)
            .then(pl.lit(new, dtype=dtype))
            .otherwise(pl.col(column))
            .alias(column)
        )
        hashes = with_content_hash(edited)["content_hash"].to_list()
        assert hashes[0] == base[0] and hashes[2] == base[2], column
        assert hashes[1] != base[1], column


def test_content_hash_ignores_provenance(snapshots):
    rows = snapshots.head(3)
    stamped = rows.with_columns(
        pl.lit(2).alias("version"),
        pl.lit("backfill").alias("kind"),
        pl.lit("flow-run-1").alias("flow_run_id"),
    )
    hashed = with_content_hash(stamped)
    assert hashed["content_hash"].to_list() == rows["content_hash"].to_list()
    with pytest.raises(ValueError, match=r"lack column.*notes"):
        with_content_hash(rows.drop("notes"))


def test_level_rows_long_form(snapshots):
    stored = snapshots.with_columns(pl.lit(1).alias("version"))
    levels = level_rows(stored)
    assert levels.height == 4 * stored.height
    per_call = levels.group_by("as_of").agg(pl.col("level_kind").sort())
    assert per_call["level_kind"].to_list() == [sorted(LEVEL_PREFIXES)] * stored.height
    joined = levels.join(stored, on=["root", "as_of", "author", "version"])
    for row in joined.iter_rows(named=True):
        prefix = LEVEL_PREFIXES[row["level_kind"]]
        assert (row["low"], row["high"], row["sources"]) == (
            row[f"{prefix}_low"], row[f"{prefix}_high"], row[f"{prefix}_sources"]
        )  # fmt: skip
        below_price = row["level_kind"] in ("line_in_the_sand", "deeper")
        expected_role = "support" if below_price == (row["orientation"] == "up") else "resistance"
        assert row["role"] == expected_role


def test_scenario_rows_long_form(snapshots):
    scenarios = scenario_rows(snapshots)
    assert scenarios.height == 3 * snapshots.height
    assert scenarios.columns[:3] == ["root", "as_of", "author"]
    per_call = scenarios.group_by("as_of", maintain_order=True).agg(
        pl.col("scenario"), pl.col("ordinal"), pl.col("probability").sum().alias("total")
    )
    assert per_call["scenario"].to_list() == [["bear", "sideways", "bull"]] * snapshots.height
    assert per_call["ordinal"].to_list() == [[0, 1, 2]] * snapshots.height
    np.testing.assert_allclose(per_call["total"].to_numpy(), 1.0, rtol=0, atol=1e-9)
    joined = scenarios.join(snapshots, on=["root", "as_of", "author"])
    for row in joined.iter_rows(named=True):
        up = row["orientation"] == "up"
        name = row["scenario"]
        if name == "bull":
            target = "ext" if up else "deep"
            assert (row["trigger_rule"], row["trigger_level"]) == (
                "accept_above_upper",
                row["upper_barrier"],
            )
        elif name == "bear":
            target = "deep" if up else "ext"
            assert (row["trigger_rule"], row["trigger_level"]) == (
                "accept_below_lower",
                row["lower_barrier"],
            )
        else:
            assert (row["trigger_level"], row["target_low"], row["target_high"]) == (
                None,
                None,
                None,
            )
            continue
        assert (row["target_low"], row["target_high"]) == (
            row[f"{target}_low"],
            row[f"{target}_high"],
        )
        assert row["analogs"] == row[f"n_{name}"]


def test_published_probabilities_round_to_four_decimals_and_add_up(snapshots):
    probabilities = snapshots.select("p_bear", "p_sideways", "p_bull").to_numpy()
    np.testing.assert_array_equal(
        probabilities, np.round(probabilities, PARAMS.probability_decimals)
    )
    assert np.all((probabilities > 0) & (probabilities < 1))


class TestHorizonEnds:
    def test_holidays_by_hand(self) -> None:
        # Fri 19 Dec 2025 + 5: 22, 23, 24, (25 Christmas), 26, 29.
        # Wed 26 Nov 2025 + 2: (27 Thanksgiving), Fri 28, Mon 1 Dec.
        # Wed 4 Feb 2026 + 20: Feb 5, 6, 9-13, (16 Presidents' Day), 17-20, 23-27, Mar 2-5.
        assert horizon_ends([date(2025, 12, 19)], 5) == [date(2025, 12, 29)]
        assert horizon_ends([date(2025, 11, 26)], 2) == [date(2025, 12, 1)]
        assert horizon_ends([date(2026, 2, 4), date(2025, 12, 19)], 20) == [
            date(2026, 3, 5),
            date(2026, 1, 21),  # Dec 22-24, 26, 29-31, Jan 2, 5-9, 12-16, (19 MLK), 20, 21
        ]
        assert horizon_ends([], 20) == []

    def test_29_february_is_an_as_of_day_like_any_other(self) -> None:
        # Thu 29 Feb 2024 + 20: Mar 1, 4-8, 11-15, 18-22, 25-28. (date.replace(year=2025) on
        # 29 February raised ValueError here.)
        assert horizon_ends([date(2024, 2, 29)], 20) == [date(2024, 3, 28)]
        assert horizon_ends([date(2024, 2, 28), date(2024, 2, 29)], 1) == [
            date(2024, 2, 29),
            date(2024, 3, 1),
        ]
