"""Result frames laid out for a terminal or a text file: table, vertical records, CSV, JSON, Markdown.

Human layouts (table, vertical, Markdown) show every number rounded to what it means, chosen by
its column name: prices on the root's tick grid (the frame's ``root`` column, else two decimals),
probabilities and frequencies to 3 decimals, scores and skills to 4, multiples of ATR to 2,
RSI/ADX to 1, counts with thousands separators, timestamps to the second in UTC; a cell longer
than MAX_CELL_CHARS is cut there and says how much is left out. Machine layouts (CSV, JSON)
keep every value exactly as stored.

Every polars type prints in every layout: binary values as hex in PostgreSQL's form
(``\\x616263``), decimals and 128-bit integers exactly, lists, arrays, structs and maps as
JSON (a CSV cell holds the JSON text; a nested value holding binary data, a duration or a
Python object is JSON text in JSON output too). JSON has no NaN or infinity: a non-finite
float is ``null`` there, as polars and pandas write it (CSV and the human layouts print
``NaN``, ``inf``). An empty result prints its header: the column names and ``0 rows`` in the
human layouts, the header line in CSV, ``[]`` in JSON.

``auto`` picks the table when its rows fit the terminal width and one record per block (the
``psql \\x`` layout) when they do not, so a 30-column view never prints as 3-character columns.

Pure: a polars frame in, text or a rich renderable out; nothing here reads the terminal itself
(the caller passes its width).
"""

from __future__ import annotations

import io
import json
import math
import re
from datetime import UTC, date, datetime, time
from decimal import Decimal
from typing import TYPE_CHECKING, Any

import polars as pl

from pipeline.market.roots import Registry, builtin_registry
from pipeline.report.format import format_price

if TYPE_CHECKING:
    from rich.console import RenderableType

FORMATS: tuple[str, ...] = ("auto", "table", "vertical", "csv", "json", "markdown")
#: Width of the scratch console a table is measured on (wider than any real terminal).
MEASURE_WIDTH = 100_000
#: Prices with no root to take a tick from are shown with this many decimals.
DEFAULT_PRICE_DECIMALS = 2
NULL_TEXT = ""
VERTICAL_NULL_TEXT = "null"
#: Characters of one cell a human layout prints; the rest is left out, and the cell says so.
MAX_CELL_CHARS = 10_000
#: Printed under an empty result in the human layouts (CSV prints its header, JSON ``[]``).
NO_ROWS_TEXT = "0 rows"

#: Decimals by meaning. ``price`` uses the tick grid instead.
DECIMALS: dict[str, int] = {
    "probability": 3,  # p_bull, frequencies, rates: 0.412
    "score": 4,  # RPS, Brier, log score, skill: 0.1873
    "atr": 2,  # distances and excursions in multiples of ATR
    "fraction": 4,  # *_pct: fractions, 0.0512 = 5.12 %
    "oscillator": 1,  # RSI, ADX: 0..100
    "factor": 6,  # ratio adjustments
}

_PRICE_NAMES = frozenset(
    {
        "open", "high", "low", "close", "raw_close", "settlement", "price", "level",
        "sma20", "sma50", "sma200", "ema21", "atr14", "sma200_change", "sma50_change",
        "high_252", "low_252", "risk_level", "trigger_level", "target_low", "target_high",
        "close_at_horizon", "roll_offset", "offset", "upper_barrier", "lower_barrier",
    }
)  # fmt: skip
_PRICE_PATTERN = re.compile(
    r"^((old|new|zone|level)_)?((line|bias|ext|deep)_(low|high)|open|high|low|close)$"
    r"|_(barrier|internal|close)$"
)
_PROBABILITY_NAMES = frozenset(
    {
        "probability", "climatology", "forecast", "mean_forecast", "observed_frequency",
        "frequency_low", "frequency_high", "bucket_low", "bucket_high", "mean p",
    }
)  # fmt: skip
_PROBABILITY_PATTERN = re.compile(r"^(p|clim|ref|geo)_(bear|sideways|bull)$|_rate$")
_SCORE_PATTERN = re.compile(
    r"(^|_)(rps|brier|log_score|skill)(_|$)|^(skill|geometry)_(low|high)$|^skill"
)
_OSCILLATORS = frozenset({"rsi14", "adx14", "rsi", "adx"})
_FACTORS = frozenset({"roll_factor", "factor"})


def column_kind(name: str) -> str:
    """What a column's numbers mean, from its name (see DECIMALS; ``price``; ``number``).

    >>> [column_kind(c) for c in ("p_bull", "mean_rps", "line_low", "mfe_atr", "bucket_low")]
    ['probability', 'score', 'price', 'atr', 'probability']
    >>> [column_kind(c) for c in ("skill_low", "geometry_high", "rsi14", "n_analogs")]
    ['score', 'score', 'oscillator', 'number']
    """
    lowered = name.lower()
    if lowered in _PROBABILITY_NAMES or _PROBABILITY_PATTERN.search(lowered):
        return "probability"
    if _SCORE_PATTERN.search(lowered):
        return "score"
    if lowered.endswith("_atr"):
        return "atr"
    if lowered.endswith("_pct"):
        return "fraction"
    if lowered in _OSCILLATORS:
        return "oscillator"
    if lowered in _FACTORS:
        return "factor"
    if lowered in _PRICE_NAMES or _PRICE_PATTERN.search(lowered):
        return "price"
    return "number"


def format_cell(
    value: Any, *, kind: str = "number", tick: float | None = None, notation: str = "decimal"
) -> str:
    r"""One value as a person reads it (see the module docstring); a price in the root's
    ``notation`` on its ``tick`` grid.

    >>> format_cell(0.06544145077720197, kind="probability"), format_cell(0.06544145077720197)
    ('0.065', '0.0654')
    >>> format_cell(2512.3456, kind="price", tick=0.1), format_cell(2512.3456, kind="price")
    ('2,512.3', '2,512.35')
    >>> format_cell(21873), format_cell(True), format_cell(None), format_cell(1234.5678)
    ('21,873', 'true', '', '1,234.57')
    >>> format_cell(datetime(2026, 2, 5, 18, 15, 3, 123456, tzinfo=UTC))
    '2026-02-05 18:15:03Z'
    >>> format_cell(b"abc"), format_cell(Decimal("12345.6700")), format_cell(time(9, 30))
    ('\\x616263', '12,345.6700', '09:30:00')
    >>> format_cell({"k": [b"\x00", Decimal("1.50")]}), format_cell(float("nan"))
    ('{"k":["\\\\x00","1.50"]}', 'NaN')
    >>> format_cell(112.953125, kind="price", tick=0.015625, notation="32nds")
    "112'305"
    """
    if value is None:
        return NULL_TEXT
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        return _format_float(value, kind=kind, tick=tick, notation=notation)
    if isinstance(value, Decimal):
        return f"{value:,}" if value.is_finite() else str(value)
    if isinstance(value, datetime):
        return _format_timestamp(value)
    if isinstance(value, date | time):
        return value.isoformat()
    if isinstance(value, bytes | bytearray | memoryview):
        return hex_text(bytes(value))
    if isinstance(value, list | tuple):
        items = (
            format_cell(v, kind=kind, tick=tick, notation=notation) if v is not None else "null"
            for v in value
        )
        return "[" + ", ".join(items) + "]"
    if isinstance(value, dict):
        return json.dumps(json_value(value), ensure_ascii=False, separators=(",", ":"))
    return str(value)


def hex_text(value: bytes) -> str:
    r"""Binary data as text, in PostgreSQL's hex form (``bytea_output = hex``).

    >>> hex_text(b"abc"), hex_text(b"")
    ('\\x616263', '\\x')
    """
    return "\\x" + value.hex()


def json_value(value: Any) -> Any:
    r"""``value`` as plain JSON data: binary as :func:`hex_text`, decimals as exact strings,
    dates and times in ISO 8601, non-finite floats as None, nested values element by element.

    >>> json_value({"b": b"ab", "d": Decimal("1.50"), "l": [date(2026, 1, 2), float("inf")]})
    {'b': '\\x6162', 'd': '1.50', 'l': ['2026-01-02', None]}
    """
    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, bytes | bytearray | memoryview):
        return hex_text(bytes(value))
    if isinstance(value, datetime | date | time):
        return value.isoformat()
    if isinstance(value, dict):
        return {str(k): json_value(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [json_value(v) for v in value]
    return str(value)  # Decimal, timedelta, UUID, anything else: its exact text


def display_rows(
    frame: pl.DataFrame, *, limit: int | None = None, registry: Registry | None = None
) -> list[list[str]]:
    """The frame's first ``limit`` rows (all when None) as display strings, column by column;
    prices in the notation of the row's root (``registry``; None: the built-in roots)."""
    kinds = [column_kind(c) for c in frame.columns]
    rows = frame.head(limit) if limit is not None else frame
    writers: list[tuple[float | None, str]] = [(None, "decimal")] * rows.height
    if "root" in frame.columns and frame.schema["root"] == pl.String:
        specs = (registry if registry is not None else builtin_registry()).specs
        writers = [
            (s.tick, s.notation) if (s := specs.get(r)) is not None else (None, "decimal")
            for r in rows["root"].to_list()
        ]
    return [
        [
            _clip(format_cell(v, kind=k, tick=writers[i][0], notation=writers[i][1]))
            for v, k in zip(row, kinds, strict=True)
        ]
        for i, row in enumerate(rows.iter_rows())
    ]


def _clip(text: str) -> str:
    if len(text) <= MAX_CELL_CHARS:
        return text
    left_out = len(text) - MAX_CELL_CHARS
    return f"{text[:MAX_CELL_CHARS]}… [{left_out:,} more characters: --format csv or json]"


def table_width(table: RenderableType, *, wrapped: bool = False) -> int:
    """Characters a rich table needs: without wrapping a cell (its natural width), or with every
    cell wrapped at its spaces (``wrapped``: its longest word decides)."""
    import io

    from rich.console import Console
    from rich.measure import Measurement

    console = Console(width=MEASURE_WIDTH, file=io.StringIO())
    measured = Measurement.get(console, console.options, table)
    return measured.minimum if wrapped else measured.maximum


def choose_layout(
    frame: pl.DataFrame, *, width: int, limit: int | None = None, wrap: bool = False
) -> str:
    """``table`` when the rows fit in ``width`` characters, else ``vertical``. With ``wrap`` a
    table whose cells may wrap at their spaces (never inside a word or a number) still counts
    as fitting: for short, known layouts such as ``callbook status``."""
    table = render_table(frame, limit=limit)
    return "table" if table_width(table, wrapped=wrap) <= width else "vertical"


def render_table(
    frame: pl.DataFrame, *, title: str | None = None, limit: int | None = None
) -> RenderableType:
    """The rows as a rich table (numbers right-aligned, no wrapping inside a cell's line)."""
    from rich import box
    from rich.table import Table
    from rich.text import Text

    table = Table(
        title=title,
        box=box.SIMPLE_HEAD,
        title_justify="left",
        show_edge=False,
        collapse_padding=True,
    )
    numeric = [frame.schema[c].is_numeric() for c in frame.columns]
    for name, right in zip(frame.columns, numeric, strict=True):
        # A header never breaks inside a word; cells wrap at their spaces when they must.
        longest_word = max((len(w) for w in name.split()), default=0)
        table.add_column(
            name, justify="right" if right else "left", overflow="fold", min_width=longest_word
        )
    for row in display_rows(frame, limit=limit):
        table.add_row(*(Text(cell) for cell in row))  # data, not markup: "[in tuning period]"
    return table


def render_vertical(
    frame: pl.DataFrame, *, title: str | None = None, limit: int | None = None
) -> RenderableType:
    """One block per row: a rule naming the record, then ``column  value`` lines."""
    from rich.console import Group
    from rich.rule import Rule
    from rich.table import Table
    from rich.text import Text

    parts: list[Any] = [Text(title, style="bold")] if title else []
    if frame.height == 0:  # no record to show the names in: the names alone
        parts.append(Text("columns: " + ", ".join(frame.columns)))
    for index, row in enumerate(display_rows(frame, limit=limit), start=1):
        parts.append(Rule(f"record {index:,}", align="left", style="dim"))
        grid = Table.grid(padding=(0, 2))
        grid.add_column(style="bold", no_wrap=True)
        grid.add_column(overflow="fold")
        for name, cell in zip(frame.columns, row, strict=True):
            grid.add_row(
                Text(name), Text(cell) if cell != NULL_TEXT else Text(VERTICAL_NULL_TEXT, "dim")
            )
        parts.append(grid)
    return Group(*parts)


def render_markdown(frame: pl.DataFrame, *, limit: int | None = None) -> str:
    """A GitHub-flavoured Markdown table (pipes in cells escaped, numbers right-aligned).

    >>> print(render_markdown(pl.DataFrame({"root": ["RTY"], "p_bull": [0.41234]})), end="")
    | root | p_bull |
    |---|---:|
    | RTY | 0.412 |
    """
    align = ["---:" if frame.schema[c].is_numeric() else "---" for c in frame.columns]
    lines = [
        "| " + " | ".join(_md(c) for c in frame.columns) + " |",
        "|" + "|".join(align) + "|",
    ]
    lines += [
        "| " + " | ".join(_md(cell) for cell in row) + " |"
        for row in display_rows(frame, limit=limit)
    ]
    return "\n".join(lines) + "\n"


def render_csv(frame: pl.DataFrame) -> str:
    r"""Every value as stored (no rounding), RFC 4180; nested values as JSON text, binary as hex.

    >>> print(render_csv(pl.DataFrame({"b": [b"ab"], "l": [[1, 2]]})), end="")
    b,l
    \x6162,"[1,2]"
    """
    return _machine_ready(frame, nested_as_text=True).write_csv()


def render_json(frame: pl.DataFrame) -> str:
    r"""A JSON array of row objects, every value as stored (no rounding; see the module docstring
    for binary data and non-finite floats).

    >>> render_json(pl.DataFrame({"b": [b"ab"], "n": [None]}))
    '[{"b":"\\\\x6162","n":null}]\n'
    """
    return _machine_ready(frame, nested_as_text=False).write_json() + "\n"


def render_output(
    frame: pl.DataFrame,
    *,
    fmt: str = "auto",
    title: str | None = None,
    limit: int | None = 200,
    wrap: bool = False,
    width: int | None = None,
    terminal: bool | None = None,
) -> str:
    r"""The whole printed answer for ``frame`` in one of FORMATS: the layout, then ``0 rows`` under
    an empty result, or how many rows ``limit`` left out. ``auto`` picks table or vertical,
    whichever fits ``width`` (``wrap``: a table whose cells wrap at spaces still fits).
    ``width`` and ``terminal`` describe where the text goes (None: rich's defaults for a file,
    80 columns and no colour); the caller reads them from its terminal.

    >>> empty = pl.DataFrame(schema={"root": pl.String, "n": pl.Int64})
    >>> print(render_output(empty, fmt="markdown"), end="")
    | root | n |
    |---|---:|
    <BLANKLINE>
    0 rows
    >>> render_output(empty, fmt="csv"), render_output(empty, fmt="json")
    ('root,n\n', '[]\n')
    """
    if fmt not in FORMATS:
        raise ValueError(f"unknown format {fmt!r}; choose one of {', '.join(FORMATS)}")
    if fmt == "csv":
        return render_csv(frame)
    if fmt == "json":
        return render_json(frame)
    out = io.StringIO()
    if fmt == "markdown":
        if title:
            out.write(f"**{title}**\n\n")
        out.write(render_markdown(frame, limit=limit))
        if frame.height == 0:
            out.write("\n")
    else:
        from rich.console import Console

        console = Console(file=out, width=width, force_terminal=terminal)
        layout = (
            fmt
            if fmt != "auto"
            else choose_layout(frame, width=console.width, limit=limit, wrap=wrap)
        )
        render = render_vertical if layout == "vertical" else render_table
        console.print(render(frame, title=title, limit=limit))
    if frame.height == 0:
        out.write(NO_ROWS_TEXT + "\n")
    elif limit is not None and frame.height > limit:
        out.write(f"({frame.height - limit:,} more rows; use --limit or --format csv)\n")
    return out.getvalue()


# --- helpers ----------------------------------------------------------------------------------


def _format_float(value: float, *, kind: str, tick: float | None, notation: str) -> str:
    if not math.isfinite(value):
        return "NaN" if math.isnan(value) else ("inf" if value > 0 else "-inf")
    if kind == "price":
        if tick is not None:
            return format_price(value, tick=tick, notation=notation)
        return f"{value:,.{DEFAULT_PRICE_DECIMALS}f}"
    if kind in DECIMALS:
        return f"{value:,.{DECIMALS[kind]}f}"
    magnitude = abs(value)
    if magnitude >= 100:
        return f"{value:,.2f}"
    if magnitude >= 1:
        return f"{value:.3f}"
    if magnitude == 0 or magnitude >= 1e-3:
        return f"{value:.4f}"
    return f"{value:.3e}"


def _format_timestamp(value: datetime) -> str:
    if value.tzinfo is None:
        return value.strftime("%Y-%m-%d %H:%M:%S")
    return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%SZ")


def _machine_ready(frame: pl.DataFrame, *, nested_as_text: bool) -> pl.DataFrame:
    """``frame`` with every column in a type polars writes to CSV (``nested_as_text``) or JSON:
    binary as hex text, durations as ISO 8601 text, nested values as JSON text where the writer
    cannot nest them or they hold such a type, Python objects as their text."""
    columns = []
    for name, dtype in frame.schema.items():
        column = pl.col(name)
        if dtype == pl.Binary:
            column = pl.concat_str([pl.lit("\\x"), column.bin.encode("hex")])
        elif isinstance(dtype, pl.Duration):
            column = column.dt.to_string("iso")
        elif dtype == pl.Object or (
            dtype.is_nested()
            and _holds(dtype, lambda t: t in (pl.Binary, pl.Object) or t.is_(pl.Duration))
        ):
            column = column.map_elements(_json_text, return_dtype=pl.String, skip_nulls=True)
        elif dtype.is_nested() and nested_as_text:
            encoded = pl.struct(column.alias("v")).struct.json_encode()
            text = encoded.str.strip_prefix('{"v":').str.strip_suffix("}")
            column = pl.when(column.is_null()).then(None).otherwise(text)
        else:
            continue
        columns.append(column.alias(name))
    return frame.with_columns(columns) if columns else frame


def _holds(dtype: Any, wanted: Any) -> bool:
    """Whether ``dtype`` or any type nested in it satisfies ``wanted``."""
    if wanted(dtype):
        return True
    if isinstance(dtype, pl.List | pl.Array):
        return _holds(dtype.inner, wanted)
    if isinstance(dtype, pl.Struct):
        return any(_holds(field.dtype, wanted) for field in dtype.fields)
    if isinstance(dtype, pl.Map):
        return _holds(dtype.key, wanted) or _holds(dtype.value, wanted)
    return False


def _json_text(value: Any) -> str:
    return json.dumps(json_value(value), ensure_ascii=False, separators=(",", ":"))


def _md(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", "<br>")


def calls_list_view(calls: pl.DataFrame, *, with_root: bool = True) -> pl.DataFrame:
    """The ``calls_list`` rows as ``callbook calls list`` prints them.

    ``by`` is ``callbook v1`` for the model's calls (author and methodology) and the analyst's
    name otherwise; ``bull/side/bear`` are whole percents summing to 100; ``outcome`` is the
    realised scenario with the session it settled on, or ``open to D`` while the horizon runs
    (an open call has no score yet).

    >>> row = {"as_of": date(2026, 2, 4), "root": "RTY", "author": "callbook",
    ...        "methodology_version": "v1", "kind": "live", "source": "demo", "version": 1,
    ...        "primary_trend": "Bullish", "p_bull": 0.4, "p_sideways": 0.4, "p_bear": 0.2,
    ...        "horizon_end": date(2026, 3, 4), "outcome": None, "resolved_session": None,
    ...        "rps": None}
    >>> calls_list_view(pl.DataFrame([row])).row(0)
    (datetime.date(2026, 2, 4), 'RTY', 'callbook v1', 'live', 'Bullish', '40/40/20', 'open to 2026-03-04', None)
    """
    from pipeline.report.format import whole_percents

    rows = []
    for r in calls.iter_rows(named=True):
        by = r["author"]
        if r["methodology_version"] != "analyst":
            by = f"{by} {r['methodology_version']}"
        percents = (
            "/".join(str(p) for p in whole_percents([r["p_bull"], r["p_sideways"], r["p_bear"]]))
            if None not in (r["p_bull"], r["p_sideways"], r["p_bear"])
            else ""
        )
        outcome = (
            f"{r['outcome']} {r['resolved_session']}"
            if r["outcome"] is not None
            else f"open to {r['horizon_end']}"
        )
        rows.append(
            {
                "as_of": r["as_of"],
                "root": r["root"],
                "by": by,
                "kind": r["kind"],
                "trend": r["primary_trend"],
                "bull/side/bear": percents,
                "outcome": outcome,
                "rps": r["rps"],
            }
        )
    schema = {
        "as_of": pl.Date, "root": pl.String, "by": pl.String, "kind": pl.String,
        "trend": pl.String, "bull/side/bear": pl.String, "outcome": pl.String, "rps": pl.Float64,
    }  # fmt: skip
    view = pl.DataFrame(rows, schema=schema)
    return view if with_root else view.drop("root")
