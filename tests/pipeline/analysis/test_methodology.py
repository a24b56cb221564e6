"""The methodology registry: versions side by side, v1 unchanged under its registry entry, one
driver for every methodology, tuning periods by instrument and dates."""

from __future__ import annotations

from dataclasses import replace
from datetime import date

import polars as pl
import pytest

from pipeline.analysis import methodology
from pipeline.analysis.assemble import CONTENT_COLUMNS, Publication, snapshot_rows
from pipeline.analysis.calls import call_table
from pipeline.analysis.fingerprint import input_fingerprints
from pipeline.analysis.methodology import TunedOn, Tuning
from pipeline.analysis.params import AnalysisParams, params_hash
from pipeline.market.continuous import continuous_series
from pipeline.sources.demo import demo_bars

ROOT_SESSIONS = 600


def demo_series(root: str, *, sessions: int) -> object:
    bars = demo_bars(root)
    first_days = bars["session_date"].unique().sort().head(sessions)
    return continuous_series(bars.filter(pl.col("session_date").is_in(first_days.implode())))


def test_unknown_methodologies_are_refused_by_name() -> None:
    with pytest.raises(ValueError, match=r"unknown methodology v7, v8; callbook knows v1"):
        methodology.parse_methodologies("v1, v7,v8")
    with pytest.raises(ValueError, match="no methodology given"):
        methodology.parse_methodologies(" , ")
    assert methodology.parse_methodologies(["v1", "v1"]) == ("v1",)


def test_v1_through_the_registry_is_v1() -> None:
    """The registry's driver composes v1's own pieces exactly as written out here by hand."""
    v1 = methodology.get("v1")
    assert v1.params == AnalysisParams() and v1.params_hash == params_hash(AnalysisParams())
    assert v1.content_columns == CONTENT_COLUMNS
    assert methodology.content_columns("analyst") == CONTENT_COLUMNS
    series = demo_series("RTY", sessions=ROOT_SESSIONS)
    table = call_table(series, tick=0.1, params=AnalysisParams(), peers={})
    fingerprints = input_fingerprints(
        series, peers={}, methodology_version="v1", params_hash=params_hash(AnalysisParams())
    )
    direct = snapshot_rows(table, AnalysisParams(), Publication("RTY", "demo", 0.1, fingerprints))
    registered = v1.analyse({"RTY": series}, "RTY", source="demo")
    assert registered.snapshots.height == direct.height > 100
    assert registered.snapshots.equals(direct)
    assert registered.table.equals(table)


def test_a_variant_is_its_own_methodology(monkeypatch: pytest.MonkeyPatch) -> None:
    variant = replace(
        methodology.get("v1"), version="v1-h10", params=AnalysisParams(horizon_sessions=10)
    )
    monkeypatch.setitem(methodology._LOADERS, "v1-h10", lambda: variant)
    methodology.get.cache_clear()
    try:
        assert methodology.parse_methodologies("v1-h10,v1") == ("v1-h10", "v1")
        series = {"RTY": demo_series("RTY", sessions=ROOT_SESSIONS)}
        rows = methodology.get("v1-h10").analyse(series, "RTY", source="demo").snapshots
        v1_rows = methodology.get("v1").analyse(series, "RTY", source="demo").snapshots
    finally:
        methodology.get.cache_clear()
    assert set(rows["methodology_version"]) == {"v1-h10"}
    assert set(rows["horizon_sessions"]) == {10}
    assert set(rows["params_hash"]) == {params_hash(AnalysisParams(horizon_sessions=10))}
    # Other rules or numbers: another fingerprint and another hash for every call.
    joined = rows.join(v1_rows, on="as_of", suffix="_v1")
    assert joined.height == rows.height
    assert (joined["input_fingerprint"] != joined["input_fingerprint_v1"]).all()
    assert (joined["content_hash"] != joined["content_hash_v1"]).all()


def test_v1_declares_the_data_its_parameters_were_chosen_on() -> None:
    tuning = methodology.get("v1").tuning
    assert isinstance(tuning, Tuning)
    # state_shrinkage_strength = 60 was chosen on the demo history to 2026-11-20
    # (bench/RESULTS.md, "Probability model", run 2026-11-24): the synthetic market only.
    assert tuning.periods == (TunedOn(("RTY", "ES", "NQ", "YM"), date(2026, 11, 20), True),)
    assert tuning.in_sample("ES", date(2020, 3, 16), synthetic=True)
    assert not tuning.in_sample("ES", date(2020, 3, 16), synthetic=False)
    assert "state_shrinkage_strength" in tuning.note
    # Declaring it is no parameter: v1's hash (as before the declaration), and so every stored
    # v1 content hash, is unchanged.
    assert methodology.get("v1").params_hash == "bfc82370cef580de"


def test_v2_is_in_sample_on_its_instruments_whatever_the_source() -> None:
    """v2 was tuned on the real ES, NQ, YM and TF1 (Russell 2000) files to 2026-02-20: the same
    market's calls from Yahoo are as much in sample as the file's; another root on the Russell
    2000 is too (by its underlying); later sessions and other markets are not."""
    tuning = methodology.get("v2").tuning
    assert tuning is not None
    on_real = {"ES": "^GSPC", "RTY": "^RUT", "TF": "^RUT", "CL": None}
    tuned = sorted(tuning.tuned_roots(on_real))
    assert tuned == [
        ("ES", False, date(2026, 2, 20)),
        ("ES", True, date(2026, 11, 20)),
        ("RTY", False, date(2026, 2, 20)),
        ("RTY", True, date(2026, 11, 20)),
        ("TF", False, date(2026, 2, 20)),
    ]
    for root, underlying in (("ES", "^GSPC"), ("TF", "^RUT"), ("YM", "^DJI")):
        assert tuning.in_sample(root, date(2020, 3, 16), synthetic=False, underlying=underlying)
    assert not tuning.in_sample("ES", date(2026, 2, 23), synthetic=False)
    assert not tuning.in_sample("CL", date(2020, 3, 16), synthetic=False)
    assert tuning.in_sample("ES", date(2026, 6, 1), synthetic=True)  # the demo history
    assert "market data through 2026-02-20" in tuning.describe()
