"""Text shared by every package: bounded, printable excerpts of untrusted values, and dates in
words.

A file callbook is pointed at may be anything (a symlink to /etc/passwd, a binary, a terminal
escape sequence). Messages and findings show at most ``EXCERPT_CHARS`` characters of a value it
holds, with anything outside printable ASCII replaced by ``?``, quoted, so an error line never
echoes a file's contents nor drives the terminal. One rule, two forms: :func:`excerpt` for a
Python value, :func:`excerpt_expr` for a polars column.
"""

from __future__ import annotations

import re
from datetime import date

import polars as pl

#: Characters of a value shown at most (the last replaced by an ellipsis when cut).
EXCERPT_CHARS = 20
_UNPRINTABLE = r"[^\x20-\x7E]"
_ELLIPSIS = "…"


def excerpt(value: object, limit: int = EXCERPT_CHARS) -> str:
    """A quoted, printable excerpt of ``value`` of at most ``limit`` characters.

    >>> excerpt("1e30"), excerpt("root:x:0:0:root:/root:/bin/bash"), excerpt("a\\x1b[2Jb")
    ("'1e30'", "'root:x:0:0:root:/ro…'", "'a?[2Jb'")
    """
    text = re.sub(_UNPRINTABLE, "?", str(value))
    return "'" + (text if len(text) <= limit else text[: limit - 1] + _ELLIPSIS) + "'"


def excerpt_expr(expr: pl.Expr, limit: int = EXCERPT_CHARS) -> pl.Expr:
    """:func:`excerpt` of each value of a string column (null stays null).

    >>> pl.select(excerpt_expr(pl.lit("root:x:0:0:root:/root:/bin/bash"))).item()
    "'root:x:0:0:root:/ro…'"
    """
    text = expr.cast(pl.String).str.replace_all(_UNPRINTABLE, "?")
    cut = (
        pl.when(text.str.len_chars() <= limit)
        .then(text)
        .otherwise(text.str.slice(0, limit - 1) + pl.lit(_ELLIPSIS))
    )
    return pl.lit("'") + cut + pl.lit("'")


#: Month names as a printed note writes them (fixed English, independent of the locale).
MONTH_ABBREVIATIONS: tuple[str, ...] = (
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
)  # fmt: skip


def format_date_long(day: date) -> str:
    """``4 Feb 2026``: the day as a printed note writes it (independent of the locale).

    >>> format_date_long(date(2026, 2, 4))
    '4 Feb 2026'
    """
    return f"{day.day} {MONTH_ABBREVIATIONS[day.month - 1]} {day.year}"


def format_date_short(day: date) -> str:
    """``4 Feb``: a chart's axis label, a date within the year it is read in.

    >>> format_date_short(date(2026, 2, 4))
    '4 Feb'
    """
    return f"{day.day} {MONTH_ABBREVIATIONS[day.month - 1]}"
