"""Canonical JSON of snapshot rows: the exact text a content hash is taken over.

A content hash is only worth something if the same row always gives the same bytes, whatever
library versions are installed. The first snapshots (methodology v1) were hashed over polars'
``struct.json_encode`` of the row; this module writes that same text itself, so the hashes no
longer depend on how a future polars formats floats, and every hash already stored stays valid
(the equality was checked on the whole demo history, ~21,000 rows; tests/pipeline/analysis/
test_canonical.py pins golden hashes of hand-built rows and compares with polars' encoder).

The format, value by value (keys in the given column order, no whitespace):

* null (and NaN or an infinity, which JSON cannot hold): ``null``
* bool: ``true`` / ``false``; integer: decimal digits
* float: the shortest text that reads back as the same double (Python's ``repr`` digits), written
  as a plain decimal when 1e-5 <= |x| < 1e16 (``2500.0``, ``0.000025``) and otherwise in
  exponent form without zero padding (``1e-7``, ``2.5e+16``)
* date: ``"YYYY-MM-DD"``
* text: a JSON string, non-ASCII characters as themselves (UTF-8), control characters escaped
  (``\\n``, ``\\u0001``)

Only these column types are accepted (a Float32 or a datetime column is refused: its text would
depend on how it is widened).

Hash schemes: how a snapshot's content hash is taken. Each stored snapshot records its scheme
(``snapshots.hash_scheme``; the default is the first), and ``callbook verify`` checks each under
its own:

* ``row-v1``: sha256 of the canonical JSON of the methodology's content columns. v1, v2 and
  analyst calls; their hashes cover whatever the columns hold, prose included (v2's level
  reasons), so changing a word of wording changes the hash of an immutable call.
* ``decision-v1`` (methodologies from v3 on): sha256 of ``decision-v1`` and a newline, then the
  canonical JSON of the content columns, where every text value must be a *code*
  (:data:`CODE`: letters, digits and ``_ . : | , + -``, no space): the hash covers the decision
  (codes, dates, numbers) and the words are rendered from it, so no wording can move it.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Callable, Sequence
from datetime import date, datetime
from decimal import Decimal
from typing import Any

import polars as pl

from pipeline.analysis.schemes import CODE, DECISION_SCHEME, HASH_SCHEMES, ROW_SCHEME

#: Decimal (not exponent) notation for finite floats with a decimal exponent in this range.
PLAIN_EXPONENTS = range(-5, 16)

_INTEGER_TYPES = (
    pl.Int8,
    pl.Int16,
    pl.Int32,
    pl.Int64,
    pl.UInt8,
    pl.UInt16,
    pl.UInt32,
    pl.UInt64,
)


def json_float(value: float) -> str:
    """A float as canonical JSON text.

    >>> [json_float(v) for v in (2500.0, 0.1, 2.5e-5, 1e-7, 1e16, -0.0, float("nan"))]
    ['2500.0', '0.1', '0.000025', '1e-7', '1e+16', '-0.0', 'null']
    """
    if not math.isfinite(value):
        return "null"
    text = repr(value)
    if "e" not in text:
        return text
    mantissa, _, exponent_text = text.partition("e")
    exponent = int(exponent_text)
    if exponent in PLAIN_EXPONENTS:
        # Python switches to exponent form below 1e-4; the canonical text does below 1e-5.
        return format(Decimal(mantissa).scaleb(exponent), "f")
    return f"{mantissa}e{'+' if exponent > 0 else '-'}{abs(exponent)}"


def json_value(value: Any) -> str:
    """One value as canonical JSON text (see the module docstring).

    >>> [json_value(v) for v in (None, True, 3, 1.5, date(2026, 2, 4), "a\\"—")]
    ['null', 'true', '3', '1.5', '"2026-02-04"', '"a\\\\"—"']
    """
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return json_float(value)
    if isinstance(value, datetime):
        raise TypeError(f"no canonical form for a datetime ({value!r}): store a date or text")
    if isinstance(value, date):
        return f'"{value.isoformat()}"'
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    raise TypeError(f"no canonical form for {type(value).__name__} ({value!r})")


def canonical_json(row: Sequence[Any], columns: Sequence[str]) -> str:
    """``{"col":value,...}`` for the values of ``row`` under ``columns`` (same order).

    >>> canonical_json(["RTY", 2500.0, None], ["root", "close", "notes"])
    '{"root":"RTY","close":2500.0,"notes":null}'
    """
    if len(row) != len(columns):
        raise ValueError(f"{len(row)} values for {len(columns)} columns")
    return (
        "{"
        + ",".join(f"{json.dumps(c)}:{json_value(v)}" for c, v in zip(columns, row, strict=True))
        + "}"
    )


def check_hashable_types(frame: pl.DataFrame, columns: Sequence[str]) -> None:
    """Refuse a column whose type has no single canonical text (Float32, datetime, lists ...)."""
    for name in columns:
        dtype = frame.schema[name]
        if not (
            dtype in (pl.String, pl.Float64, pl.Boolean, pl.Date, pl.Null)
            or isinstance(dtype, _INTEGER_TYPES)
        ):
            raise TypeError(f"column {name!r} has type {dtype}: no canonical text for hashing")


def check_codes(frame: pl.DataFrame, columns: Sequence[str]) -> None:
    """Refuse a text value that is not a code (:data:`CODE`), naming its column and row: under
    ``decision-v1`` words are rendered from the decision, never hashed."""
    for name in columns:
        if frame.schema[name] != pl.String:
            continue
        bad = frame.with_row_index("_row").filter(
            pl.col(name).is_not_null() & ~pl.col(name).str.contains(f"^{CODE.pattern}$")
        )
        if bad.height:
            raise ValueError(
                f"column {name!r} row {bad['_row'][0]} holds {bad[name][0]!r}: under "
                f"{DECISION_SCHEME} a hashed text is a code (letters, digits, _ . : | , + -); "
                "render words from codes instead of hashing them"
            )


def content_hashes(
    frame: pl.DataFrame,
    columns: Sequence[str],
    *,
    scheme: str = ROW_SCHEME,
    encode: Callable[[str], bytes] = str.encode,
) -> list[str]:
    """sha256 (hex) of each row's canonical JSON over ``columns`` (:func:`canonical_json`), under
    hash ``scheme`` (see the module docstring).

    Column by column (each value's text once, repeated texts cached), then row by row.

    >>> frame = pl.DataFrame({"root": ["RTY"], "close": [2500.0]})
    >>> content_hashes(frame, ["root", "close"])[0][:16]
    '0d22c0fb4e9ab800'
    >>> content_hashes(frame, ["root", "close"], scheme=DECISION_SCHEME)[0][:16]
    '89c6006e18bb753e'
    """
    if scheme not in HASH_SCHEMES:
        raise ValueError(f"unknown hash scheme {scheme!r} (known: {', '.join(HASH_SCHEMES)})")
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise ValueError(f"rows lack column(s) {', '.join(missing)}")
    check_hashable_types(frame, columns)
    prefix = ""
    if scheme == DECISION_SCHEME:
        check_codes(frame, columns)
        prefix = f"{DECISION_SCHEME}\n"
    texts = [_column_texts(frame[name], json.dumps(name) + ":") for name in columns]
    return [
        hashlib.sha256(encode(prefix + "{" + ",".join(parts) + "}")).hexdigest()
        for parts in zip(*texts, strict=True)
    ]


def _column_texts(series: pl.Series, prefix: str) -> list[str]:
    """``prefix + json_value(v)`` for each value of ``series``, the common cases done in bulk
    (a snapshot history has ~90 float columns: this loop is the cost of hashing)."""
    values = series.to_list()
    if series.dtype == pl.Float64:
        # repr is already the canonical text unless it has an exponent ('e') or is not a finite
        # number ('None', 'nan', 'inf' all contain an 'n').
        return [
            prefix + (t if "e" not in t and "n" not in t else json_value(v))
            for v, t in zip(values, map(repr, values), strict=True)
        ]
    if isinstance(series.dtype, _INTEGER_TYPES):
        return [prefix + ("null" if v is None else str(v)) for v in values]
    cache: dict[Any, str] = {}
    out = []
    for value in values:  # text, dates and booleans repeat: each distinct value written once
        text = cache.get(value)
        if text is None:
            text = cache[value] = prefix + json_value(value)
        out.append(text)
    return out
