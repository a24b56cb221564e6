"""Analyst calls: a hand-written call (TOML or YAML) recorded as a snapshot of kind ``analyst``.

It is resolved and scored by exactly the rules of the model's calls, so a desk can compare its
calls with the model's and with climatology. The file states the call; the market facts the rules
need and the analyst did not write down (the as-of settlement, ATR(14) for the acceptance margin,
the SMA50 for the risk rule) come from the continuous series on the as-of day.

Example (the seed note of 4 Feb 2026 ships as ``pipeline/audit/examples/rty-2026-02-04-seed.toml``)::

    root = "RTY"
    as_of = 2026-02-04
    author = "seed-note"
    primary_trend = "Bullish"
    perspective = "consolidation near highs"
    [levels]
    line_in_the_sand = [2500, 2520]
    bias_defining = [2650, 2700]
    [risk]
    rule = "accept_below_sma50"
    [scenarios.bull]
    probability = 0.40
    trigger = "holds above 2,520 and pushes through 2,700"
    ...
"""

from __future__ import annotations

import contextlib
import hashlib
import math
import re
import tomllib
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any

import polars as pl

from pipeline.analysis import barriers
from pipeline.analysis import indicators as ind
from pipeline.analysis.assemble import (
    CONTENT_COLUMNS,
    RISK_RULES,
    horizon_ends,
    with_content_hash,
)
from pipeline.analysis.params import AnalysisParams
from pipeline.analysis.snapshot import MODEL_AUTHOR, PERSPECTIVES, SCENARIOS
from pipeline.analysis.steps import LEVEL_PREFIXES
from pipeline.market.calendar import CalendarRangeError, is_trade_date, next_session_open
from pipeline.market.notation import NotationError
from pipeline.market.roots import Registry, RootSpec, builtin_registry
from pipeline.text import excerpt

ANALYST_METHODOLOGY = "analyst"
TRENDS = ("Bullish", "Bearish", "Neutral")
PROBABILITY_TOLERANCE = 0.001  # the three probabilities must sum to 1 within this
KNOWN_FIELDS = frozenset(
    {
        "root", "as_of", "author", "primary_trend", "perspective", "horizon_sessions", "notes",
        "levels", "risk", "scenarios",
    }
)  # fmt: skip


#: An author name: letters, digits, '.', '_' and '-', starting with a letter or digit. The
#: snapshot id joins its parts with '/', so a '/' (or a space, a newline ...) would make ids
#: ambiguous and names unprintable.
AUTHOR_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")
#: The longest horizon a call may state (one year of CME sessions).
MAX_HORIZON_SESSIONS = 252
#: Texts (notes, triggers) longer than this are refused (characters).
MAX_TEXT_CHARS = 4_000
#: A call file is a few hundred bytes; anything far larger is not one.
MAX_FILE_BYTES = 64 * 1024
#: The fields each nested table may hold.
SCENARIO_FIELDS = frozenset({"probability", "trigger"})
RISK_FIELDS = frozenset({"rule"})


class AnalystCallError(ValueError):
    """A call file that breaks a rule; the message names the field."""


@dataclass(frozen=True)
class AnalystCall:
    root: str
    as_of: date
    author: str
    primary_trend: str
    perspective: str | None
    levels: dict[str, tuple[float, float]]  # kind -> (low, high), index points
    risk_rule: str
    scenarios: dict[str, tuple[float, str]]  # name -> (probability, trigger text)
    horizon_sessions: int
    notes: str
    fingerprint: str  # sha256 of the file as given

    @property
    def orientation(self) -> str:
        line, bias = self.levels["line_in_the_sand"], self.levels["bias_defining"]
        return "up" if line[1] <= bias[0] else "down"


def parse_analyst_call(
    text: str,
    *,
    fmt: str = "toml",
    params: AnalysisParams | None = None,
    registry: Registry | None = None,
) -> AnalystCall:
    """Parse and check an analyst call file's text. Raises AnalystCallError naming the field.

    ``registry``: the roots a call may be about (None: the built-in roots). Levels are numbers or
    prices written as the exchange writes them (ZN "112'30", ZC "427'4": the root's notation)."""
    params = params or AnalysisParams()
    known = registry if registry is not None else builtin_registry()
    try:
        if fmt == "toml":
            data = tomllib.loads(text)
        elif fmt in ("yaml", "yml"):
            import yaml

            data = yaml.safe_load(text)
        else:
            raise AnalystCallError(f"unknown call file format {excerpt(fmt)} (use .toml or .yaml)")
    except (tomllib.TOMLDecodeError, ValueError) as exc:
        if isinstance(exc, AnalystCallError):
            raise
        raise AnalystCallError(f"not valid {fmt.upper()}: {_parse_problem(exc)}") from exc
    except Exception as exc:  # yaml.YAMLError without importing yaml at module level
        raise AnalystCallError(f"not valid {fmt.upper()}: {_parse_problem(exc)}") from exc
    if not isinstance(data, dict):
        raise AnalystCallError("the file must hold a table of fields (root, as_of, ...)")
    unknown_fields = sorted(set(data) - KNOWN_FIELDS)
    if unknown_fields:
        # A typo such as `horizon_session` must not silently fall back to a default.
        raise AnalystCallError(
            f"field '{unknown_fields[0]}': unknown field (known: {', '.join(sorted(KNOWN_FIELDS))})"
        )

    root = _text(data, "root").upper()
    if root not in known:
        raise AnalystCallError(
            f"field 'root': unknown root {excerpt(root)}; known: {', '.join(known.names())}"
        )
    as_of = _date(data, "as_of")
    author = _text(data, "author")
    if not AUTHOR_PATTERN.fullmatch(author):
        raise AnalystCallError(
            f"field 'author': {excerpt(author)} is not a valid name (letters, digits, '.', '_', "
            "'-', at most 64, starting with a letter or digit; ids use '/' as a separator)"
        )
    if author == MODEL_AUTHOR:
        raise AnalystCallError(f"field 'author': {MODEL_AUTHOR!r} is reserved for the model")
    trend = _text(data, "primary_trend").capitalize()
    if trend not in TRENDS:
        raise AnalystCallError(
            f"field 'primary_trend': {excerpt(trend)} is not one of {', '.join(TRENDS)}"
        )
    perspective = data.get("perspective")
    if perspective is not None and perspective not in PERSPECTIVES:
        raise AnalystCallError(
            f"field 'perspective': {excerpt(perspective)} is not one of: {'; '.join(PERSPECTIVES)}"
        )
    spec = known.spec(root)

    raw_levels = _table(data, "levels")
    levels = {}
    for kind in LEVEL_PREFIXES:
        if kind in raw_levels:
            levels[kind] = _zone(raw_levels[kind], f"levels.{kind}", spec)
        elif kind in ("line_in_the_sand", "bias_defining"):
            raise AnalystCallError(f"field 'levels.{kind}' is required")
    unknown = sorted(set(raw_levels) - set(LEVEL_PREFIXES))
    if unknown:
        raise AnalystCallError(
            f"field 'levels.{unknown[0]}': unknown level (known: {', '.join(LEVEL_PREFIXES)})"
        )
    line, bias = levels["line_in_the_sand"], levels["bias_defining"]
    if not (line[1] <= bias[0] or bias[1] <= line[0]):
        raise AnalystCallError(
            "fields 'levels.line_in_the_sand' and 'levels.bias_defining' overlap: the line in the "
            "sand must lie entirely below (bullish) or above (bearish) the bias-defining level"
        )

    risk = _table(data, "risk")
    _known_fields(risk, RISK_FIELDS, "risk.")
    risk_rule = _text(risk, "rule", prefix="risk.")
    if risk_rule not in RISK_RULES:
        raise AnalystCallError(
            f"field 'risk.rule': {excerpt(risk_rule)} is not one of {', '.join(RISK_RULES)}"
        )

    raw_scenarios = _table(data, "scenarios")
    _known_fields(raw_scenarios, frozenset(SCENARIOS), "scenarios.")
    scenarios: dict[str, tuple[float, str]] = {}
    for name in SCENARIOS:
        entry = raw_scenarios.get(name)
        if not isinstance(entry, dict):
            raise AnalystCallError(
                f"field 'scenarios.{name}' is required (a table with probability, trigger)"
            )
        _known_fields(entry, SCENARIO_FIELDS, f"scenarios.{name}.")
        probability = entry.get("probability")
        if (
            not isinstance(probability, int | float)
            or isinstance(probability, bool)
            or not math.isfinite(probability)
            or not (0.0 <= float(probability) <= 1.0)
        ):
            raise AnalystCallError(
                f"field 'scenarios.{name}.probability': must be a number between 0 and 1, "
                f"got {excerpt(probability)}"
            )
        trigger = _optional_text(entry, "trigger", prefix=f"scenarios.{name}.")
        scenarios[name] = (float(probability), trigger)
    total = sum(p for p, _ in scenarios.values())
    if not math.isclose(total, 1.0, abs_tol=PROBABILITY_TOLERANCE):
        raise AnalystCallError(
            f"fields 'scenarios.*.probability' must sum to 1, they sum to {total:g}"
        )
    horizon = data.get("horizon_sessions", params.horizon_sessions)
    if (
        not isinstance(horizon, int)
        or isinstance(horizon, bool)
        or not 1 <= horizon <= MAX_HORIZON_SESSIONS
    ):
        raise AnalystCallError(
            f"field 'horizon_sessions': must be a whole number of sessions from 1 to "
            f"{MAX_HORIZON_SESSIONS}, got {excerpt(horizon)}"
        )
    return AnalystCall(
        root=root,
        as_of=as_of,
        author=author,
        primary_trend=trend,
        perspective=perspective,
        levels=levels,
        risk_rule=risk_rule,
        scenarios=scenarios,
        horizon_sessions=horizon,
        notes=_optional_text(data, "notes").strip(),
        fingerprint=hashlib.sha256(text.encode()).hexdigest(),
    )


def market_facts(
    series: pl.DataFrame, as_of: date, *, params: AnalysisParams | None = None
) -> dict[str, Any]:
    """What the rules need from the market on ``as_of``: contract, settlement, ATR(14) and SMA50
    in the as-of front contract's points, and the series' adjustment on that day."""
    params = params or AnalysisParams()
    table = series.with_columns(
        ind.wilder_atr("high", "low", "close", window=params.atr_window).alias("atr14"),
        ind.sma("close", params.sma_mid).alias("sma50"),
    ).filter(pl.col("session_date") == as_of)
    if table.height == 0:
        raise AnalystCallError(
            f"field 'as_of': no bar on {as_of} in the stored series (ingest that session first)"
        )
    row = table.row(0, named=True)
    if row["atr14"] is None:
        raise AnalystCallError(f"field 'as_of': {as_of} is too early in the series for ATR(14)")
    factor, offset = row["factor"], row["offset"]
    return {
        "contract": row["contract"],
        "close": row["raw_close"],
        "atr14": round(row["atr14"] / factor, 4),
        "sma50": None if row["sma50"] is None else round((row["sma50"] - offset) / factor, 4),
        "roll_offset": round(offset, 6),
        "roll_factor": round(factor, 9),
    }


def analyst_snapshot_rows(call: AnalystCall, market: dict[str, Any]) -> pl.DataFrame:
    """The wide snapshot row (CONTENT_COLUMNS + content_hash) of an analyst call."""
    line = call.levels["line_in_the_sand"]
    if call.risk_rule in ("accept_below_sma50", "accept_above_sma50"):
        risk_level = market["sma50"]
    else:
        risk_level = line[0] if call.risk_rule == "accept_below_line" else line[1]
    row: dict[str, Any] = {column: None for column in CONTENT_COLUMNS}
    row.update(
        root=call.root,
        as_of=call.as_of,
        author=call.author,
        methodology_version=ANALYST_METHODOLOGY,
        params_hash="",
        input_fingerprint=call.fingerprint,
        source="analyst",
        contract=market["contract"],
        close=market["close"],
        roll_offset=market["roll_offset"],
        roll_factor=market["roll_factor"],
        primary_trend=call.primary_trend,
        perspective=call.perspective,
        orientation=call.orientation,
        sma50=market["sma50"],
        atr14=market["atr14"],
        risk_rule=call.risk_rule,
        risk_level=risk_level,
        horizon_sessions=call.horizon_sessions,
        horizon_end=horizon_ends([call.as_of], call.horizon_sessions)[0],
        notes=_notes(call),
        **{f"p_{name}": call.scenarios[name][0] for name in SCENARIOS},
    )
    for kind, prefix in LEVEL_PREFIXES.items():
        if kind in call.levels:
            row[f"{prefix}_low"], row[f"{prefix}_high"] = call.levels[kind]
            row[f"{prefix}_projected"] = False
    frame = pl.DataFrame([row], schema=_row_schema(), strict=False).with_columns(
        barriers.upper_barrier().alias("upper_barrier"),
        barriers.lower_barrier().alias("lower_barrier"),
    )
    return with_content_hash(frame)


def _notes(call: AnalystCall) -> str:
    triggers = "; ".join(f"{name}: {text}" for name, (_, text) in call.scenarios.items() if text)
    return "\n".join(
        part for part in (call.notes, f"Triggers — {triggers}" if triggers else "") if part
    )


def _row_schema() -> dict[str, pl.DataType]:
    from pipeline.analysis.assemble import LEVEL_FIELDS, PEERS, RS_FIELDS

    schema: dict[str, pl.DataType] = dict.fromkeys(CONTENT_COLUMNS, pl.Float64())
    for name in (
        "root", "author", "methodology_version", "params_hash", "input_fingerprint", "source",
        "contract", "primary_trend", "perspective", "orientation", "pullback_depth",
        "pullback_speed", "risk_rule", "state_key", "notes",
    ):  # fmt: skip
        schema[name] = pl.String()
    for name in ("as_of", "higher_lows_since", "lower_highs_since", "horizon_end"):
        schema[name] = pl.Date()
    for name in ("well_above_sma200", "consolidating"):
        schema[name] = pl.Boolean()
    for name in (
        "higher_lows_count", "lower_highs_count", "n_bear", "n_sideways", "n_bull", "n_analogs",
        "n_geometry", "horizon_sessions",
    ):  # fmt: skip
        schema[name] = pl.Int64()
    for prefix in LEVEL_PREFIXES.values():
        for field in LEVEL_FIELDS:
            schema[f"{prefix}_{field}"] = {
                "touches": pl.Int64(),
                "sources": pl.String(),
                "projected": pl.Boolean(),
            }.get(field, pl.Float64())
    for peer in PEERS:
        schema[f"rs_{peer.lower()}_verdict"] = pl.String()
    assert set(RS_FIELDS)
    return schema


def _text(data: dict[str, Any], name: str, *, prefix: str = "") -> str:
    value = data.get(name)
    if not isinstance(value, str) or not value.strip():
        raise AnalystCallError(f"field '{prefix}{name}' is required (a non-empty text)")
    return _checked_text(value, f"{prefix}{name}").strip()


def _optional_text(data: dict[str, Any], name: str, *, prefix: str = "") -> str:
    value = data.get(name, "")
    if not isinstance(value, str):
        raise AnalystCallError(
            f"field '{prefix}{name}': expected a text, got a {type(value).__name__}"
        )
    return _checked_text(value, f"{prefix}{name}")


def _checked_text(value: str, field: str) -> str:
    if len(value) > MAX_TEXT_CHARS:
        raise AnalystCallError(
            f"field '{field}': {len(value):,} characters, more than {MAX_TEXT_CHARS:,}"
        )
    if any(not ch.isprintable() and ch not in "\n\t" for ch in value):
        raise AnalystCallError(f"field '{field}': holds control characters")
    return value


def _parse_problem(exc: BaseException) -> str:
    """A parser's complaint on one line, with its position but without the quoted text (PyYAML
    quotes the offending lines under its message)."""
    problem = getattr(exc, "problem", None)
    mark = getattr(exc, "problem_mark", None)
    if problem and mark is not None:
        return f"{problem} (line {mark.line + 1}, column {mark.column + 1})"
    lines = str(exc).strip().splitlines()
    return lines[0] if lines else type(exc).__name__


def _known_fields(table: dict[str, Any], known: frozenset[str], prefix: str) -> None:
    """Refuse a nested field the format does not have (a typo must not be silently ignored)."""
    unknown = sorted(set(table) - known)
    if unknown:
        raise AnalystCallError(
            f"field '{prefix}{excerpt(unknown[0]).strip(chr(39))}': unknown field "
            f"(known: {', '.join(sorted(known))})"
        )


def _date(data: dict[str, Any], name: str) -> date:
    value = data.get(name)
    if isinstance(value, str):
        with contextlib.suppress(ValueError):
            value = date.fromisoformat(value)
    # A TOML/YAML date-time parses to a datetime: a date subclass the calendar cannot compare.
    if not isinstance(value, date) or isinstance(value, datetime):
        raise AnalystCallError(f"field '{name}': expected a date YYYY-MM-DD, got {excerpt(value)}")
    try:
        trade_date = is_trade_date(value)
    except CalendarRangeError as exc:
        raise AnalystCallError(f"field '{name}': {exc}") from exc
    if not trade_date:
        raise AnalystCallError(f"field '{name}': {value} is not a CME trade date")
    return value


def _table(data: dict[str, Any], name: str) -> dict[str, Any]:
    value = data.get(name)
    if not isinstance(value, dict):
        raise AnalystCallError(f"field '{name}' is required (a table)")
    return value


def _price(value: Any, name: str, spec: RootSpec) -> float:
    """A level as a number or as the exchange writes it (the root's notation: "112'30")."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    if isinstance(value, str):
        try:
            return spec.prices.parse(value)
        except NotationError as exc:
            raise AnalystCallError(f"field '{name}': {exc}") from None
    raise AnalystCallError(
        f"field '{name}': expected [low, high] in {spec.unit}, got {excerpt(value)}"
    )


def _zone(value: Any, name: str, spec: RootSpec) -> tuple[float, float]:
    """[low, high] in the root's price units (numbers, or prices in its notation): finite,
    low <= high, inside the root's plausible range (above zero unless its prices can fall
    below: CL)."""
    if not isinstance(value, list | tuple) or len(value) != 2:
        raise AnalystCallError(
            f"field '{name}': expected [low, high] in {spec.unit}, got {excerpt(value)}"
        )
    low, high = (_price(v, name, spec) for v in value)
    if not (math.isfinite(low) and math.isfinite(high)):
        raise AnalystCallError(f"field '{name}': need finite numbers, got [{low:g}, {high:g}]")
    if not (low <= high and (low > 0 or spec.allows_negative)):
        raise AnalystCallError(f"field '{name}': need 0 < low <= high, got [{low:g}, {high:g}]")
    least, most = spec.price_range
    if low < least or high > most:
        raise AnalystCallError(
            f"field '{name}': [{low:g}, {high:g}] is outside the plausible range of the root "
            f"({least:g} .. {most:g} {spec.unit})"
        )
    return low, high


def load_analyst_call(path: Path, registry: Registry | None = None) -> AnalystCall:
    """Read and check a call file (.toml, .yaml or .yml). Raises AnalystCallError naming the
    problem; the file's contents are never echoed beyond a short excerpt. ``registry``: the
    roots a call may be about (None: the built-in roots)."""
    if not path.is_file():
        raise AnalystCallError(f"{path}: no such file (or not a regular file)")
    size = path.stat().st_size
    if size > MAX_FILE_BYTES:
        raise AnalystCallError(
            f"{path.name}: {size:,} bytes, more than a call file holds ({MAX_FILE_BYTES:,})"
        )
    try:
        text = path.read_bytes().decode("utf-8")
    except UnicodeDecodeError as exc:
        raise AnalystCallError(f"{path.name}: not UTF-8 text (byte {exc.start:,})") from exc
    return parse_analyst_call(text, fmt=path.suffix.lower().lstrip("."), registry=registry)


def recorded_late(as_of: date, created_at: datetime) -> bool:
    """An analyst call as of ``as_of`` stored at ``created_at`` (tz-aware) is *recorded late*
    when it was stored at or after the next CME session opened (18:00 ET on the calendar day
    before the next trade date: the settlement's 17:00 close plus the one-hour maintenance
    break, :func:`pipeline.market.calendar.next_session_open`). Until then no price after the
    as-of settlement existed, so the call cannot have used one; after it, it may have. Late
    calls are kept out of scoreboards by default.

    >>> from zoneinfo import ZoneInfo
    >>> et = ZoneInfo("America/New_York")
    >>> recorded_late(date(2026, 2, 4), datetime(2026, 2, 4, 17, 59, tzinfo=et))
    False
    >>> recorded_late(date(2026, 2, 4), datetime(2026, 2, 4, 18, 0, tzinfo=et))
    True
    >>> recorded_late(date(2026, 2, 6), datetime(2026, 2, 7, 12, 0, tzinfo=et))  # a Saturday
    False
    """
    if created_at.tzinfo is None:
        raise ValueError("created_at must be timezone-aware")
    return created_at >= next_session_open(as_of)
