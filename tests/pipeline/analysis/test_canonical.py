"""Hash inputs keep their bytes: golden hashes of hand-built rows, and the canonical text that
the v1 content hashes were computed over, written without any library's encoder.

If one of these tests fails, a hash input's serialisation changed: every stored hash of that kind
would stop matching its row (``callbook verify`` would flag the whole history). Fix the
serialisation, never the golden value.
"""

from __future__ import annotations

import hashlib
import math
from datetime import date, datetime

import polars as pl
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pipeline.analysis.assemble import CONTENT_COLUMNS, with_content_hash
from pipeline.analysis.canonical import canonical_json, content_hashes, json_float
from pipeline.analysis.fingerprint import input_fingerprints
from pipeline.analysis.params import AnalysisParams, params_hash
from pipeline.schema import table_sha256

#: A snapshot row built by hand over every content column: the float cases of the canonical
#: format (plain, 1e-5 <= |x| < 1e-4, below, >= 1e16, -0.0, a 17-digit value), nulls, booleans,
#: dates, integers and a text with quotes, a non-ASCII dash, a newline, a tab and a backslash.
ROW: dict[str, object] = dict.fromkeys(CONTENT_COLUMNS)
ROW.update(
    root="RTY",
    as_of=date(2026, 2, 4),
    author="callbook",
    methodology_version="v1",
    params_hash="9f2c",
    input_fingerprint="a1b2",
    source="demo",
    contract="RTYH26",
    close=2612.3,
    roll_offset=-0.0,
    roll_factor=1.0,
    primary_trend="Bullish",
    perspective="consolidation near highs",
    orientation="up",
    sma20=2598.15,
    sma50=2550.0,
    sma200=2400.125,
    ema21=0.1,
    atr14=41.2,
    rsi14=61.23,
    adx14=24.5,
    sma200_change=2.5e-05,
    sma50_change=1e-07,
    dist_sma200_atr=5.0,
    dist_sma200_pct=0.0885,
    dist_sma50_atr=1e16,
    well_above_sma200=True,
    range_atr=1 / 3,
    consolidating=False,
    high_252=2700.0,
    low_252=123456789012345678.0,
    higher_lows_since=date(2025, 11, 20),
    higher_lows_count=4,
    lower_highs_count=0,
    pullback_depth="shallow",
    line_low=2500.0,
    line_high=2520.0,
    line_touches=3,
    line_sources="swing_low,sma50",
    line_projected=False,
    p_bear=0.2,
    p_sideways=0.4,
    p_bull=0.4,
    n_analogs=118,
    horizon_sessions=20,
    horizon_end=date(2026, 3, 5),
    rs_es_verdict="stronger",
    notes='Line "held" \u2014 2,520\n\tnext: \\ 5%',
)

#: Its canonical text, written out: what the hash is taken over.
GOLDEN_TEXT = (
    '{"root":"RTY","as_of":"2026-02-04","author":"callbook","methodology_version":"v1",'
    '"params_hash":"9f2c","input_fingerprint":"a1b2","source":"demo","contract":"RTYH26",'
    '"close":2612.3,"roll_offset":-0.0,"roll_factor":1.0,"primary_trend":"Bullish",'
    '"perspective":"consolidation near highs","orientation":"up","sma20":2598.15,'
    '"sma50":2550.0,"sma200":2400.125,"ema21":0.1,"atr14":41.2,"rsi14":61.23,"adx14":24.5,'
    '"sma200_change":0.000025,"sma50_change":1e-7,"dist_sma200_atr":5.0,'
    '"dist_sma200_pct":0.0885,"dist_sma50_atr":1e+16,"well_above_sma200":true,'
    '"range_atr":0.3333333333333333,"consolidating":false,"high_252":2700.0,'
    '"low_252":1.2345678901234568e+17,"dist_high_252_atr":null,"dist_low_252_atr":null,'
    '"higher_lows_since":"2025-11-20","higher_lows_count":4,"lower_highs_since":null,'
    '"lower_highs_count":0,"pullback_retracement":null,"pullback_depth":"shallow",'
    '"pullback_speed":null,"line_low":2500.0,"line_high":2520.0,"line_score":null,'
    '"line_touches":3,"line_sources":"swing_low,sma50","line_projected":false,'
    '"bias_low":null,"bias_high":null,"bias_score":null,"bias_touches":null,'
    '"bias_sources":null,"bias_projected":null,"ext_low":null,"ext_high":null,'
    '"ext_score":null,"ext_touches":null,"ext_sources":null,"ext_projected":null,'
    '"deep_low":null,"deep_high":null,"deep_score":null,"deep_touches":null,'
    '"deep_sources":null,"deep_projected":null,"upper_barrier":null,"lower_barrier":null,'
    '"risk_rule":null,"risk_level":null,"p_bear":0.2,"p_sideways":0.4,"p_bull":0.4,'
    '"n_bear":null,"n_sideways":null,"n_bull":null,"n_analogs":118,"n_geometry":null,'
    '"clim_bear":null,"clim_sideways":null,"clim_bull":null,"state_key":null,'
    '"horizon_sessions":20,"horizon_end":"2026-03-05","rs_es_ratio_vs_mean":null,'
    '"rs_es_spread_5":null,"rs_es_spread_20":null,"rs_es_spread_63":null,'
    '"rs_es_verdict":"stronger","rs_nq_ratio_vs_mean":null,"rs_nq_spread_5":null,'
    '"rs_nq_spread_20":null,"rs_nq_spread_63":null,"rs_nq_verdict":null,'
    '"notes":"Line \\"held\\" \u2014 2,520\\n\\tnext: \\\\ 5%"}'
)
#: sha256 of GOLDEN_TEXT (UTF-8), computed once.
GOLDEN_HASH = "de6f0839aacb769fc442d92584482b0fd08768ab53ae6ae395c920db3b196b97"


def frame() -> pl.DataFrame:
    return pl.DataFrame([ROW], infer_schema_length=None)


def test_the_golden_text_is_what_it_says() -> None:
    assert hashlib.sha256(GOLDEN_TEXT.encode()).hexdigest() == GOLDEN_HASH
    assert canonical_json(list(ROW.values()), CONTENT_COLUMNS) == GOLDEN_TEXT


def test_content_hash_of_the_hand_built_row_is_golden() -> None:
    assert content_hashes(frame(), CONTENT_COLUMNS) == [GOLDEN_HASH]
    assert with_content_hash(frame())["content_hash"].to_list() == [GOLDEN_HASH]


def test_the_hash_does_not_depend_on_the_integer_width_or_the_column_order_of_the_frame() -> None:
    narrow = frame().with_columns(pl.col("n_analogs", "horizon_sessions").cast(pl.Int32))
    shuffled = narrow.select(sorted(narrow.columns))
    assert content_hashes(shuffled, CONTENT_COLUMNS) == [GOLDEN_HASH]


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (2500.0, "2500.0"),
        (0.1, "0.1"),
        (-7.25, "-7.25"),
        (1e-4, "0.0001"),
        (2.5e-5, "0.000025"),
        (1e-5, "0.00001"),
        (9.99e-6, "9.99e-6"),
        (1e-7, "1e-7"),
        (999999999999999.9, "999999999999999.9"),
        (1e16, "1e+16"),
        (-1.5e16, "-1.5e+16"),
        (5e-324, "5e-324"),
        (-0.0, "-0.0"),
        (math.nan, "null"),
        (math.inf, "null"),
    ],
)
def test_float_text_by_hand(value: float, text: str) -> None:
    assert json_float(value) == text


def test_types_without_one_canonical_text_are_refused() -> None:
    with pytest.raises(TypeError, match="Float32"):
        content_hashes(pl.DataFrame({"x": pl.Series([0.1], dtype=pl.Float32)}), ["x"])
    with pytest.raises(TypeError, match="Datetime"):
        content_hashes(pl.DataFrame({"x": [datetime(2026, 2, 4)]}), ["x"])


cells = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**63), max_value=2**63 - 1),
    st.floats(allow_nan=True, allow_infinity=True),
    st.dates(min_value=date(1900, 1, 1), max_value=date(2199, 12, 31)),
    st.text(max_size=20),
)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(cells, cells), min_size=1, max_size=8))
def test_canonical_text_equals_the_encoder_the_v1_hashes_were_made_with(
    rows: list[tuple[object, object]],
) -> None:
    """Stored v1 hashes were taken over polars' struct.json_encode; the canonical text equals it
    for every value type a snapshot holds (checked on the installed polars: a failure here after
    a polars upgrade means polars changed, not the hashes, since they no longer use it)."""
    columns = ["a", "b"]
    typed = {c: [r[i] for r in rows] for i, c in enumerate(columns)}
    # one type per column, as in a snapshot frame
    for c in columns:
        kinds = {type(v) for v in typed[c] if v is not None}
        if len(kinds) > 1:
            typed[c] = [v if v is None or type(v) is type(typed[c][0]) else None for v in typed[c]]
    frame = pl.DataFrame(typed, strict=False)
    if any(frame.schema[c] in (pl.Object,) for c in columns):
        return
    polars_text = frame.select(pl.struct(columns).struct.json_encode())[:, 0].to_list()
    ours = [canonical_json(list(r), columns) for r in frame.iter_rows()]
    assert ours == polars_text


def test_params_hash_of_v1_is_golden() -> None:
    """Every stored v1 snapshot carries this parameters hash (the demo history has no other)."""
    assert params_hash(AnalysisParams()) == "bfc82370cef580de"


def test_input_fingerprints_by_hand() -> None:
    """The chain over repr() of each row's (date, contract, raw OHLC, offset, factor), then the
    methodology and parameters, recomputed with hashlib alone."""
    days = [date(2026, 2, 3), date(2026, 2, 4)]
    rows = [
        (days[0], "RTYH26", 2600.0, 2620.25, 2590.1, 2601.5, -12.5, 1.0),
        (days[1], "RTYH26", 2601.5, 2615.0, 2598.0, 2612.3, -12.5, 1.0),
    ]
    series = pl.DataFrame(
        rows,
        schema=["session_date", "contract", "raw_open", "raw_high", "raw_low", "raw_close",
                "offset", "factor"],
        orient="row",
    )  # fmt: skip
    chain = hashlib.sha256()
    expected = []
    for row in rows:
        chain.update(repr(row).encode())
        own = chain.copy().hexdigest()
        expected.append(hashlib.sha256(f"{own}|v1|9f2c".encode()).hexdigest())
    got = input_fingerprints(series, peers={}, methodology_version="v1", params_hash="9f2c")
    assert got.to_list() == expected
    assert expected[1] == "5e33bb6134b3bc7d3c011e1f319bb52ded42ad1ac5488201e84e7685b58139cd"


def test_batch_sha256_of_a_small_table_is_golden() -> None:
    """A batch id is the sha256 of the raw table's Arrow IPC stream (pyarrow's writer): the id
    of every stored batch and lake file name depends on those bytes staying the same."""
    table = pa.table(
        {
            "Date": pa.array(["2026-02-04", "2026-02-05"]),
            "Close": pa.array([2612.3, None], type=pa.float64()),
            "Volume": pa.array([1200, 0], type=pa.int64()),
        }
    )
    assert table_sha256(table) == (
        "f1f2b6c38c1fe268b96504b29f7c67dc8ff8d8e9f97d6a1d274e6fa38490628f"
    )
