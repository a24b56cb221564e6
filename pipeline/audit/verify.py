"""Is the record what was written? The comparisons behind ``callbook verify`` (pure functions).

Each check compares what is stored with what it must be and returns one :class:`Difference` per
disagreement, naming the snapshot, outcome or file:

* ``content-hash``: a stored snapshot's hash against the hash of its stored values under the hash
  scheme it records (the canonical text of its methodology's content columns,
  :mod:`pipeline.analysis.canonical`);
* ``levels`` / ``scenarios``: the long rows against the ones its wide row implies;
* ``rederive``: a snapshot against the one its inputs give when computed again;
* ``outcome``: a stored outcome against a fresh resolution;
* ``lake``: a landed file against the sha256 its batch was recorded with (flows/verify.py).

Floats are compared exactly: every stored value was rounded by the code that computes it, and a
fresh computation from the same inputs rounds the same way.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import polars as pl

from pipeline.analysis.assemble import level_rows, scenario_rows
from pipeline.analysis.canonical import ROW_SCHEME, content_hashes
from pipeline.text import excerpt

#: Differing columns named per row at most (the rest are counted).
SHOWN_COLUMNS = 4


@dataclass(frozen=True, order=True)
class Difference:
    """One thing that is not what it should be."""

    check: str  # content-hash | levels | scenarios | rederive | outcome | lake
    subject: str  # the snapshot id, outcome's snapshot id or lake path
    detail: str

    def line(self) -> str:
        return f"{self.check} {self.subject}: {self.detail}"


def content_hash_differences(
    rows: pl.DataFrame, columns_of: Callable[[str], Sequence[str]]
) -> list[Difference]:
    """Stored snapshots (wide, with ``snapshot_id`` and ``content_hash``) whose hash is not the
    hash of their stored values under their own hash scheme (``hash_scheme``; absent or null:
    ``row-v1``, :mod:`pipeline.analysis.canonical`); ``columns_of(methodology_version)`` names
    the hashed columns.

    >>> from pipeline.analysis.canonical import content_hashes
    >>> rows = pl.DataFrame({"snapshot_id": ["a", "b"], "methodology_version": "m", "x": [1.0, 2.0]})
    >>> rows = rows.with_columns(content_hash=pl.Series(content_hashes(rows, ["x"])))
    >>> tampered = rows.with_columns(x=pl.Series([1.0, 2.5]))
    >>> [(d.check, d.subject) for d in content_hash_differences(tampered, lambda m: ["x"])]
    [('content-hash', 'b')]
    """
    out = []
    scheme = (
        pl.col("hash_scheme").fill_null(ROW_SCHEME)
        if "hash_scheme" in rows.columns
        else pl.lit(ROW_SCHEME)
    )
    rows = rows.with_columns(scheme.alias("_scheme"))
    for (version, scheme_name), group in rows.group_by(
        "methodology_version", "_scheme", maintain_order=True
    ):
        try:
            fresh = content_hashes(group, columns_of(str(version)), scheme=str(scheme_name))
        except ValueError as error:  # an unknown scheme, or words where a scheme hashes codes
            out += [
                Difference("content-hash", sid, f"cannot be hashed under {scheme_name}: {error}")
                for sid in group["snapshot_id"]
            ]
            continue
        bad = group.select("snapshot_id", "content_hash").with_columns(
            pl.Series("_fresh", fresh, pl.String)
        )
        for snapshot_id, stored, recomputed in bad.filter(
            pl.col("content_hash") != pl.col("_fresh")
        ).iter_rows():
            out.append(
                Difference(
                    "content-hash",
                    snapshot_id,
                    f"stored {stored[:16]} is not the {scheme_name} hash of its values "
                    f"({recomputed[:16]}): a stored value changed",
                )
            )
    return out


def long_row_differences(
    wide: pl.DataFrame, levels: pl.DataFrame, scenarios: pl.DataFrame
) -> list[Difference]:
    """``snapshot_levels`` and ``snapshot_scenarios`` rows against those the stored wide rows
    imply (the functions the warehouse wrote them with)."""
    return [
        *frame_differences(
            levels, level_rows(wide), key=("snapshot_id", "level_kind"), check="levels"
        ),
        *frame_differences(
            scenarios, scenario_rows(wide), key=("snapshot_id", "scenario"), check="scenarios"
        ),
    ]


def frame_differences(
    stored: pl.DataFrame,
    expected: pl.DataFrame,
    *,
    key: Sequence[str],
    check: str,
    columns: Sequence[str] | None = None,
    not_expected: str = "stored, not expected",
) -> list[Difference]:
    """Rows of ``stored`` and ``expected`` that differ, matched on ``key`` (the first key column
    names the subject): missing on either side (``not_expected`` says what a stored row without
    an expected one means), or any of ``columns`` (default: every column both have) not equal
    (null equals null).

    >>> a = pl.DataFrame({"id": ["x", "y"], "v": [1.0, 2.0]})
    >>> b = pl.DataFrame({"id": ["x", "z"], "v": [1.5, 3.0]})
    >>> [d.line() for d in frame_differences(a, b, key=["id"], check="t")]
    ['t x: v 1.0 stored, 1.5 expected', 't y: stored, not expected', 't z: expected, not stored']
    """
    key = list(key)
    names = [
        c
        for c in (columns if columns is not None else stored.columns)
        if c in stored.columns and c in expected.columns and c not in key
    ]
    expected = expected.select(
        *key,
        *(pl.col(c).cast(stored.schema[c], strict=False) for c in names),
        pl.lit(True).alias("_in_expected"),
    )
    joined = stored.select(*key, *names, pl.lit(True).alias("_in_stored")).join(
        expected, on=key, how="full", coalesce=True, suffix="_expected", nulls_equal=True
    )
    # Only the rows that differ are looked at one by one (the others: one vectorized pass).
    same = pl.all_horizontal(
        pl.lit(True), *(pl.col(c).eq_missing(pl.col(f"{c}_expected")) for c in names)
    )
    joined = joined.filter(
        ~same | pl.col("_in_stored").is_null() | pl.col("_in_expected").is_null()
    )
    marks = joined.select(pl.col(c).eq_missing(pl.col(f"{c}_expected")).alias(c) for c in names)
    out = []
    for index, row in enumerate(joined.iter_rows(named=True)):
        subject = _subject(tuple(row[k] for k in key))
        if row["_in_expected"] is None:
            out.append(Difference(check, subject, not_expected))
            continue
        if row["_in_stored"] is None:
            out.append(Difference(check, subject, "expected, not stored"))
            continue
        differing = [c for c in names if not marks[c][index]]
        if differing:
            shown = "; ".join(
                f"{c} {_value(row[c])} stored, {_value(row[f'{c}_expected'])} expected"
                for c in differing[:SHOWN_COLUMNS]
            )
            more = (
                f" (and {len(differing) - SHOWN_COLUMNS} more columns)"
                if len(differing) > SHOWN_COLUMNS
                else ""
            )
            out.append(Difference(check, subject, shown + more))
    return sorted(out)


def _subject(ident: tuple[Any, ...]) -> str:
    return " ".join(str(part) for part in ident)


def _value(value: Any) -> str:
    return excerpt(value, 40) if isinstance(value, str) else repr(value)
