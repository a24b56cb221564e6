"""v2 through the methodology registry: v1 reproducible bit for bit beside it, v2's snapshot rows,
the nightly row equal to the backfill's (no look-ahead on random dates, for v1 and v2 alike:
tests/pipeline/analysis/test_engine.py).
"""

from __future__ import annotations

import hashlib
from datetime import date

import polars as pl
import pytest
from polars.testing import assert_frame_equal

from pipeline.analysis.assemble import CONTENT_COLUMNS, with_content_hash
from pipeline.analysis.methodology import get, parse_methodologies
from pipeline.analysis.v2.assemble import EXTRA_COLUMNS, V2_CONTENT_COLUMNS
from pipeline.analysis.v2.params import V2Params, params_hash
from pipeline.market.continuous import continuous_series
from pipeline.sources.demo import demo_bars
from tests.pipeline.analysis import look_ahead

V2 = get("v2")


@pytest.fixture(scope="module")
def demo_history() -> dict[str, pl.DataFrame]:
    return look_ahead.demo_history()


@pytest.fixture(scope="module")
def es_series(demo_history) -> dict[str, pl.DataFrame]:
    return look_ahead.cut(demo_history, "ES", look_ahead.HISTORY_END)


@pytest.fixture(scope="module")
def es_rows(es_series) -> pl.DataFrame:
    """v2's snapshot rows of ES's whole history (peer NQ)."""
    return V2.analyse(es_series, "ES", source="demo").snapshots


# ---- v1 stays reproducible bit for bit ----------------------------------------------------

#: sha256 of the concatenated content hashes of every v1 snapshot of the demo history to
#: 2026-11-20 (RTY with ES and NQ as peers ...), computed on main before v2 existed.
V1_DIGESTS = {
    "RTY": "db7c974e8f4f1f07f147c63191d36ccd06cba93f232e0ec8c9fc9e6550ce04ab",
    "ES": "42f0ced11a9afc418092bf3ee69c12f7aaee0f1ccfc0dda4e861c751a14e3b77",
    "NQ": "d12a1dfc5ee19741db6f5e9407b5188e2642e6050e0c2899bb3baa49a5919e32",
    "YM": "831c7636ba516a7822ad6dbdb894a9f448d0fd0ca45e5f68f1dda7d5c763128f",
}
V1_CRASH_HASH_RTY = "62e5b1c2ffabf6b79c4d4b49f36798559ca6af8f0acb1b0214690894764d9b4c"


def test_v1_snapshots_keep_their_content_hashes() -> None:
    end = date(2026, 11, 20)
    series = {
        r: continuous_series(demo_bars(r).filter(pl.col("session_date") <= end))
        for r in ("RTY", "ES", "NQ", "YM")
    }
    v1 = get("v1")
    for root, digest in V1_DIGESTS.items():
        rows = v1.analyse(series, root, source="demo").snapshots
        assert rows.height == 5261
        joined = "".join(rows["content_hash"].to_list())
        assert hashlib.sha256(joined.encode()).hexdigest() == digest, root
        if root == "RTY":
            crash = rows.filter(pl.col("as_of") == date(2020, 3, 16))
            assert crash["content_hash"].to_list() == [V1_CRASH_HASH_RTY]
            assert list(rows.columns) == [*CONTENT_COLUMNS, "content_hash"]


def test_v2_is_registered_beside_v1_with_its_own_parameters_and_columns() -> None:
    assert parse_methodologies("v2,v1") == ("v2", "v1")
    assert V2.version == "v2" and V2.params == V2Params()
    assert V2.params_hash == params_hash(V2Params()) != get("v1").params_hash
    # Every v1 content column means the same thing in v2 and keeps its name and place.
    assert V2.content_columns[: len(CONTENT_COLUMNS)] == CONTENT_COLUMNS
    assert V2.content_columns[len(CONTENT_COLUMNS) :] == EXTRA_COLUMNS
    assert not set(EXTRA_COLUMNS) & set(CONTENT_COLUMNS)


def test_v2_rows_hash_their_content_and_say_their_methodology(es_rows) -> None:
    rows = es_rows
    assert set(rows["methodology_version"]) == {"v2"}
    assert set(rows["params_hash"]) == {params_hash(V2Params())}
    rehashed = with_content_hash(rows.drop("content_hash"), V2_CONTENT_COLUMNS)
    assert rehashed["content_hash"].to_list() == rows["content_hash"].to_list()
    # A change in a v2-only column changes the hash.
    changed = rows.head(1).with_columns(pl.lit("something else").alias("line_reason"))
    assert (
        with_content_hash(changed.drop("content_hash"), V2_CONTENT_COLUMNS)["content_hash"][0]
        != rows["content_hash"][0]
    )


def test_the_nightly_row_equals_the_backfill_row(es_series, es_rows) -> None:
    """One session asked for alone (the nightly) gives the backfill's row of that session."""
    days = [date(2009, 3, 9), date(2016, 3, 10), date(2020, 3, 16), date(2026, 2, 9)]
    for day in days:
        alone = V2.analyse(es_series, "ES", source="demo", sessions=[day]).snapshots
        assert_frame_equal(alone, es_rows.filter(pl.col("as_of") == day))
