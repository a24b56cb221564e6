"""Hash decisions, not prose: under ``decision-v1`` a snapshot's content hash covers codes, dates
and numbers, so the words rendered from them can change without moving it; ``row-v1`` (v1, v2)
hashes whatever its columns hold. Each stored snapshot is checked under its own scheme."""

from __future__ import annotations

from datetime import date

import polars as pl
import pytest

from pipeline.analysis.assemble import CONTENT_COLUMNS, with_content_hash
from pipeline.analysis.canonical import DECISION_SCHEME, ROW_SCHEME, content_hashes
from pipeline.audit.verify import content_hash_differences
from pipeline.market.continuous import continuous_series
from pipeline.sources.demo import demo_bars
from tests.pipeline.analysis import decision_methodology as t1

END = date(2010, 6, 30)


@pytest.fixture(scope="module")
def rows() -> pl.DataFrame:
    series = {"RTY": continuous_series(demo_bars("RTY").filter(pl.col("session_date") <= END))}
    return t1.methodology().analyse(series, "RTY", source="demo").snapshots


def test_a_reasons_wording_changes_the_words_not_the_hash(rows: pl.DataFrame) -> None:
    assert rows.height > 500 and set(rows["hash_scheme"]) == {DECISION_SCHEME}
    reworded = t1.REASON_TEMPLATE.replace("This zone aligns with", "Support made of")
    calls = rows.to_dicts()
    before = [t1.line_reason(r) for r in calls]
    after = [t1.line_reason(r, reworded) for r in calls]
    assert all(a != b for a, b in zip(before, after, strict=True))
    assert "This zone aligns with the 50-day" in before[-1] or "swing" in before[-1]
    # The hash is taken over the decision alone: recomputed after the rewording, unchanged.
    rehashed = with_content_hash(rows.drop("content_hash", "hash_scheme"), CONTENT_COLUMNS,
                                 scheme=DECISION_SCHEME)  # fmt: skip
    assert rehashed["content_hash"].to_list() == rows["content_hash"].to_list()
    # A decision changes the hash (the line's sources are a code of the decision).
    changed = rows.head(1).with_columns(pl.lit("sma200").alias("line_sources"))
    assert (
        content_hashes(changed, CONTENT_COLUMNS, scheme=DECISION_SCHEME)
        != rows["content_hash"].head(1).to_list()
    )


def test_under_row_v1_the_same_rewording_moves_the_hash(rows: pl.DataFrame) -> None:
    """What v2 does (its level reasons are content): a word changes an immutable call's hash."""
    reworded = t1.REASON_TEMPLATE.replace("This zone aligns with", "Support made of")
    calls = rows.head(3)
    columns = [*CONTENT_COLUMNS, "line_reason"]

    def hashed(template: str) -> list[str]:
        reasons = [t1.line_reason(r, template) for r in calls.to_dicts()]
        frame = calls.with_columns(pl.Series("line_reason", reasons))
        return content_hashes(frame, columns, scheme=ROW_SCHEME)

    assert hashed(t1.REASON_TEMPLATE) != hashed(reworded)


def test_decision_v1_refuses_words_in_the_hash(rows: pl.DataFrame) -> None:
    worded = rows.head(2).with_columns(
        pl.Series("line_reason", [t1.line_reason(r) for r in rows.head(2).to_dicts()])
    )
    with pytest.raises(ValueError, match=r"column 'line_reason' row 0 holds 'This zone"):
        content_hashes(worded, [*CONTENT_COLUMNS, "line_reason"], scheme=DECISION_SCHEME)
    with pytest.raises(ValueError, match="unknown hash scheme 'row-v9'"):
        content_hashes(worded, CONTENT_COLUMNS, scheme="row-v9")


def test_each_stored_snapshot_is_checked_under_its_own_scheme(rows: pl.DataFrame) -> None:
    decision = rows.head(3).with_columns(pl.format("t1/{}", "as_of").alias("snapshot_id"))
    v1_rows = rows.tail(2).drop("content_hash", "hash_scheme")
    row_v1 = with_content_hash(
        v1_rows.with_columns(pl.lit("v1").alias("methodology_version"))
    ).with_columns(
        pl.format("v1/{}", "as_of").alias("snapshot_id"),
        pl.lit(None, dtype=pl.String).alias("hash_scheme"),  # stored before 011: the default
    )
    stored = pl.concat([decision, row_v1.select(decision.columns)], how="vertical_relaxed")
    assert content_hash_differences(stored, lambda version: CONTENT_COLUMNS) == []
    # A changed value is found under either scheme.
    tampered = stored.with_columns(
        pl.when(pl.col("snapshot_id").is_in([stored["snapshot_id"][0], stored["snapshot_id"][-1]]))
        .then(pl.col("close") + 1)
        .otherwise(pl.col("close"))
        .alias("close")
    )
    found = content_hash_differences(tampered, lambda version: CONTENT_COLUMNS)
    assert sorted(d.subject for d in found) == sorted(
        [stored["snapshot_id"][0], stored["snapshot_id"][-1]]
    )
    assert {d.detail.split(" is not the ")[1].split(" ")[0] for d in found} == {
        ROW_SCHEME,
        DECISION_SCHEME,
    }
    # A snapshot said to be of the other scheme does not verify.
    relabelled = stored.with_columns(pl.lit(ROW_SCHEME).alias("hash_scheme"))
    assert len(content_hash_differences(relabelled, lambda version: CONTENT_COLUMNS)) == 3
