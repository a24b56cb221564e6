"""Snapshots as frames: from the call table to the rows the warehouse stores, with content hashes.

One *wide* row per call holds everything a reader calls "the call" (``CONTENT_COLUMNS``, all
values rounded for publication); its content hash is the sha256 of that row as canonical JSON
(:mod:`pipeline.analysis.canonical`).
The long ``snapshot_levels`` and ``snapshot_scenarios`` rows are derived from the wide row, so the
hash covers them too. Provenance (version, kind, flow run, code version, creation time) is added by
the warehouse and is not hashed. The nightly call and the backfill both go through
:func:`snapshot_rows`, which is why they hash alike.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

import polars as pl

from pipeline.analysis import barriers
from pipeline.analysis.canonical import ROW_SCHEME, content_hashes
from pipeline.analysis.params import METHODOLOGY_VERSION, AnalysisParams, params_hash
from pipeline.analysis.prices import front_price, published_price, tick_decimals
from pipeline.analysis.snapshot import (
    MODEL_AUTHOR,
    Level,
    RelativeStrength,
    Scenario,
    Snapshot,
    Structure,
)
from pipeline.analysis.steps import LEVEL_FIELD_TYPES, LEVEL_PREFIXES, level_columns
from pipeline.market.calendar import EQUITY, TradingCalendar

PEERS: tuple[str, ...] = ("ES", "NQ")
RS_FIELDS: tuple[str, ...] = ("ratio_vs_mean", "spread_5", "spread_20", "spread_63", "verdict")
LEVEL_FIELDS: tuple[str, ...] = tuple(LEVEL_FIELD_TYPES)
#: Level fields a methodology may add (v2), wide-row suffix -> snapshot_levels column (005).
LEVEL_DETAIL_FIELDS: dict[str, str] = {
    "reason": "reason",
    "members": "members",
    "change": "change_reason",
    "since": "since",
}

#: The hashed content of a snapshot, in this order.
CONTENT_COLUMNS: tuple[str, ...] = (
    "root", "as_of", "author", "methodology_version", "params_hash", "input_fingerprint", "source",
    "contract", "close", "roll_offset", "roll_factor", "primary_trend", "perspective", "orientation",
    "sma20", "sma50", "sma200", "ema21", "atr14", "rsi14", "adx14", "sma200_change",
    "sma50_change", "dist_sma200_atr", "dist_sma200_pct", "dist_sma50_atr", "well_above_sma200",
    "range_atr", "consolidating", "high_252", "low_252", "dist_high_252_atr", "dist_low_252_atr",
    "higher_lows_since", "higher_lows_count", "lower_highs_since", "lower_highs_count",
    "pullback_retracement", "pullback_depth", "pullback_speed",
    *level_columns(LEVEL_FIELDS),
    "upper_barrier", "lower_barrier", "risk_rule", "risk_level",
    "p_bear", "p_sideways", "p_bull", "n_bear", "n_sideways", "n_bull", "n_analogs", "n_geometry",
    "clim_bear", "clim_sideways", "clim_bull", "state_key", "horizon_sessions", "horizon_end",
    *(f"rs_{peer.lower()}_{field}" for peer in PEERS for field in RS_FIELDS),
    "notes",
)  # fmt: skip

RISK_RULES: dict[str, str] = {
    "accept_below_sma50": "Sustained acceptance back below the 50-day moving average",
    "accept_above_sma50": "Sustained acceptance back above the 50-day moving average",
    "accept_below_line": "Sustained acceptance below the line in the sand",
    "accept_above_line": "Sustained acceptance above the line in the sand",
}


def horizon_ends(
    as_of: Sequence[date], horizon: int, calendar: TradingCalendar = EQUITY
) -> list[date]:
    """The trade date ``horizon`` sessions after each as-of trade date (the root's calendar)."""
    return [calendar.add_sessions(d, horizon) for d in as_of]


@dataclass(frozen=True)
class Publication:
    """What a methodology's snapshot rows are of, besides its call table and parameters: the
    root, the source of its bars and its tick, the calls' input fingerprints (one per table
    row), the methodology's name, the sessions asked for (None: every call) and the root's
    trade calendar (its horizons end on it: ``RootSpec.trading_calendar``)."""

    root: str
    source: str
    tick: float
    fingerprints: pl.Series
    methodology_version: str = METHODOLOGY_VERSION
    sessions: Sequence[date] | None = None
    calendar: TradingCalendar = EQUITY


def snapshot_rows(
    table: pl.DataFrame, params: AnalysisParams, publication: Publication
) -> pl.DataFrame:
    """Methodology v1's wide snapshot rows (CONTENT_COLUMNS + content_hash) for every call in
    ``table`` (:func:`pipeline.analysis.calls.call_table`'s output) on the sessions asked for.

    v1's risk to the thesis: acceptance back below (above) the SMA50 for a Bullish (Bearish)
    call, acceptance beyond the line in the sand for a Neutral one (Bullish calls are up and
    Bearish calls down: v1's orientation follows its trend)."""
    risk = risk_to_the_thesis(pl.col("primary_trend") != "Neutral", tick=publication.tick)
    columns = common_columns(table, publication, params_hash=params_hash(params), risk=risk,
                             horizon_sessions=params.horizon_sessions)  # fmt: skip
    return assemble_rows(
        table,
        publication,
        columns,
        horizon=params.horizon_sessions,
        content_columns=CONTENT_COLUMNS,
    )


def risk_to_the_thesis(sma50_rule: pl.Expr, *, tick: float) -> tuple[pl.Expr, pl.Expr]:
    """(risk_rule, risk_level): where ``sma50_rule`` holds, acceptance back below the SMA50 for
    an upward call (above, for a downward one) at the session's SMA50 on the tick; elsewhere
    acceptance beyond the line in the sand, at its trigger edge (RISK_RULES)."""
    up = pl.col("orientation") == "up"
    rule = (
        pl.when(sma50_rule & up)
        .then(pl.lit("accept_below_sma50"))
        .when(sma50_rule)
        .then(pl.lit("accept_above_sma50"))
        .when(up)
        .then(pl.lit("accept_below_line"))
        .otherwise(pl.lit("accept_above_line"))
    )
    level = (
        pl.when(sma50_rule)
        .then(published_price(pl.col("sma50"), tick=tick))
        .otherwise(barriers.line_trigger())
    )
    return rule, level


def assemble_rows(
    table: pl.DataFrame,
    publication: Publication,
    columns: Sequence[pl.Expr],
    *,
    horizon: int,
    content_columns: Sequence[str],
    scheme: str = ROW_SCHEME,
) -> pl.DataFrame:
    """The wide rows every methodology stores: its ``columns`` (expressions over the call table,
    ``input_fingerprint`` included) on the calls of ``table``, cut to the sessions asked for,
    with ``horizon_end`` (on the publication's calendar) and the content hash over ``content_columns`` under hash ``scheme``.

    Every row is computed on the whole table and only then cut to the sessions, so that a call
    asked for alone (the nightly) is computed exactly as in the whole-history pass (the
    backfill): same frame, same kernels, bit for bit."""
    frame = table.with_columns(publication.fingerprints.alias("input_fingerprint"))
    out = frame.filter(pl.col("has_call")).select(*columns)
    if publication.sessions is not None:
        out = out.filter(pl.col("as_of").is_in(list(publication.sessions)))
    ends = with_horizon_end(out, horizon, publication.calendar)
    return with_content_hash(ends, content_columns, scheme=scheme)


def common_columns(
    frame: pl.DataFrame,
    publication: Publication,
    *,
    params_hash: str,
    risk: tuple[pl.Expr, pl.Expr],
    horizon_sessions: int,
) -> list[pl.Expr]:
    """The expressions of CONTENT_COLUMNS (in order) over a call table's rows: published prices
    in the front contract's points, rounded as published. Shared by every methodology whose call
    table keeps v1's column names; ``risk`` is (risk_rule, risk_level) (see
    :func:`risk_to_the_thesis`); ``horizon_end`` is filled by :func:`with_horizon_end`."""
    tick = publication.tick
    risk_rule, risk_level = risk
    decimals = tick_decimals(tick)

    def front(column: str, places: int) -> pl.Expr:
        return front_price(pl.col(column)).round(places).alias(column)

    def points(column: str) -> pl.Expr:
        return (pl.col(column) / pl.col("factor")).round(4).alias(column)

    rs_columns = []
    for peer in PEERS:
        for field in RS_FIELDS:
            name = f"rs_{peer}_{field}"
            value = pl.col(name) if name in frame.columns else pl.lit(None)
            typed = value.cast(pl.String) if field == "verdict" else value.cast(pl.Float64).round(4)
            rs_columns.append(typed.alias(f"rs_{peer.lower()}_{field}"))

    return [
        pl.lit(publication.root).alias("root"),
        pl.col("session_date").alias("as_of"),
        pl.lit(MODEL_AUTHOR).alias("author"),
        pl.lit(publication.methodology_version).alias("methodology_version"),
        pl.lit(params_hash).alias("params_hash"),
        pl.col("input_fingerprint"),
        pl.lit(publication.source).alias("source"),
        pl.col("contract"),
        pl.col("raw_close").alias("close"),
        pl.col("offset").round(6).alias("roll_offset"),
        pl.col("factor").round(9).alias("roll_factor"),
        pl.col("primary_trend"),
        pl.col("perspective"),
        pl.col("orientation"),
        *(front(c, decimals + 2) for c in ("sma20", "sma50", "sma200", "ema21")),
        *(points(c) for c in ("atr14", "sma200_change", "sma50_change")),
        pl.col("rsi14").round(2),
        pl.col("adx14").round(2),
        *(pl.col(c).round(4) for c in ("dist_sma200_atr", "dist_sma200_pct", "dist_sma50_atr")),
        pl.col("well_above_sma200"),
        pl.col("range_atr").round(4),
        pl.col("consolidating"),
        *(front(c, decimals) for c in ("high_252", "low_252")),
        pl.col("dist_high_252_atr").round(4),
        pl.col("dist_low_252_atr").round(4),
        *(
            pl.col(c)
            for c in (
                "higher_lows_since",
                "higher_lows_count",
                "lower_highs_since",
                "lower_highs_count",
                "pullback_retracement",
                "pullback_depth",
                "pullback_speed",
            )
        ),
        *(pl.col(name) for name in level_columns(LEVEL_FIELDS)),
        pl.col("upper_barrier"),
        pl.col("lower_barrier"),
        risk_rule.alias("risk_rule"),
        risk_level.alias("risk_level"),
        *(
            pl.col(c)
            for c in (
                "p_bear",
                "p_sideways",
                "p_bull",
                "n_bear",
                "n_sideways",
                "n_bull",
                "n_analogs",
                "n_geometry",
                "clim_bear",
                "clim_sideways",
                "clim_bull",
                "state_key",
            )
        ),
        pl.lit(horizon_sessions).alias("horizon_sessions"),
        pl.lit(None, dtype=pl.Date).alias("horizon_end"),
        *rs_columns,
        pl.lit("").alias("notes"),
    ]


def with_horizon_end(
    rows: pl.DataFrame, horizon: int, calendar: TradingCalendar = EQUITY
) -> pl.DataFrame:
    """Fill ``horizon_end``: the trade date ``horizon`` sessions after each as-of (the root's
    calendar)."""
    ends = horizon_ends(rows["as_of"].to_list(), horizon, calendar)
    return rows.with_columns(pl.Series("horizon_end", ends, pl.Date))


def with_content_hash(
    rows: pl.DataFrame, columns: Sequence[str] = CONTENT_COLUMNS, *, scheme: str = ROW_SCHEME
) -> pl.DataFrame:
    """Add ``content_hash``: sha256 of each row's ``columns`` as canonical JSON (in that order;
    :mod:`pipeline.analysis.canonical`, which writes it without any library's encoder), under
    hash ``scheme``.

    ``columns`` are the content columns of the rows' methodology (v1: CONTENT_COLUMNS); the
    result holds exactly those columns and the hash, and ``hash_scheme`` unless the scheme is
    ``row-v1`` (the stored default: every snapshot written before schemes were recorded).
    """
    missing = [c for c in columns if c not in rows.columns]
    if missing:
        raise ValueError(f"snapshot rows lack column(s) {', '.join(missing)}")
    hashes = content_hashes(rows, columns, scheme=scheme)
    out = rows.select(*columns).with_columns(pl.Series("content_hash", hashes, pl.String))
    return out if scheme == ROW_SCHEME else out.with_columns(pl.lit(scheme).alias("hash_scheme"))


#: Stored columns that say how a snapshot was made, not what it says.
_PROVENANCE: frozenset[str] = frozenset(
    ("snapshot_id", "version", "supersedes_version", "kind", "content_hash", "hash_scheme",
     "created_at", "flow_run_id", "code_version", "published")
)  # fmt: skip

#: The columns the long rows carry over from their wide row (those present).
_LONG_KEY: tuple[str, ...] = ("snapshot_id", "root", "as_of", "author", "version")


def level_rows(snapshots: pl.DataFrame) -> pl.DataFrame:
    """Long form: one row per (snapshot, named level), keyed like the snapshot rows."""
    key = [c for c in _LONG_KEY if c in snapshots.columns]
    parts = []
    for kind, prefix in LEVEL_PREFIXES.items():
        up_role = "support" if kind in ("line_in_the_sand", "deeper") else "resistance"
        down_role = "resistance" if up_role == "support" else "support"
        parts.append(
            snapshots.select(
                *key,
                pl.lit(kind).alias("level_kind"),
                pl.when(pl.col("orientation") == "up")
                .then(pl.lit(up_role))
                .otherwise(pl.lit(down_role))
                .alias("role"),
                *(pl.col(f"{prefix}_{field}").alias(field) for field in LEVEL_FIELDS),
                *(
                    pl.col(f"{prefix}_{field}").alias(name)
                    for field, name in LEVEL_DETAIL_FIELDS.items()
                    if f"{prefix}_{field}" in snapshots.columns
                ),
            )
        )
    return pl.concat(parts, how="diagonal").sort(*key, "level_kind")


def _target(snapshots: pl.DataFrame, name: str) -> tuple[pl.Expr, pl.Expr]:
    """The bull or bear scenario's target zone: the methodology's own (``<name>_target_low`` /
    ``_high``, v3) where stored, else the level beyond the trigger (barriers.scenario_target)."""
    low, high = barriers.scenario_target(name)
    own = (f"{name}_target_low", f"{name}_target_high")
    if all(c in snapshots.columns for c in own):
        return pl.coalesce(pl.col(own[0]), low), pl.coalesce(pl.col(own[1]), high)
    return low, high


def scenario_rows(snapshots: pl.DataFrame) -> pl.DataFrame:
    """Long form: one row per (snapshot, scenario) with ordinal, probability and triggers."""
    key = [c for c in _LONG_KEY if c in snapshots.columns]
    targets = {name: _target(snapshots, name) for name in ("bear", "bull")}
    triggers = {
        "bear": ("accept_below_lower", pl.col("lower_barrier")),
        "sideways": ("neither_barrier_accepted", pl.lit(None, dtype=pl.Float64)),
        "bull": ("accept_above_upper", pl.col("upper_barrier")),
    }
    parts = []
    for ordinal, name in enumerate(("bear", "sideways", "bull")):
        rule, level = triggers[name]
        low, high = targets.get(name, (pl.lit(None, dtype=pl.Float64),) * 2)
        parts.append(
            snapshots.select(
                *key,
                pl.lit(name).alias("scenario"),
                pl.lit(ordinal, dtype=pl.Int8).alias("ordinal"),
                pl.col(f"p_{name}").alias("probability"),
                pl.col(f"n_{name}").alias("analogs"),
                pl.col("n_analogs").alias("analogs_total"),
                pl.col(f"clim_{name}").alias("climatology"),
                pl.lit(rule).alias("trigger_rule"),
                level.alias("trigger_level"),
                low.alias("target_low"),
                high.alias("target_high"),
            )
        )
    return pl.concat(parts).sort(*key, "ordinal")


def snapshot_from_row(row: dict) -> Snapshot:
    """The read model of one stored wide row (notes, charts, ``callbook show``)."""
    return _snapshot(row, scenario_rows(pl.DataFrame([row], infer_schema_length=None)).to_dicts())


def snapshots_from_frame(rows: pl.DataFrame) -> list[Snapshot]:
    """:func:`snapshot_from_row` of every stored wide row of ``rows``, in order: the scenarios
    are derived in one pass over the frame instead of one small frame per row (the static site
    reads tens of thousands)."""
    if rows.height == 0:
        return []
    numbered = rows.with_columns(pl.int_range(pl.len(), dtype=pl.Int64).alias("snapshot_id"))
    long = scenario_rows(numbered).to_dicts()  # three per row, in row order
    per_row = len(long) // rows.height
    return [
        _snapshot(row, long[i * per_row : (i + 1) * per_row])
        for i, row in enumerate(rows.to_dicts())
    ]


def _snapshot(row: dict, scenario_dicts: list[dict]) -> Snapshot:
    up = row["orientation"] == "up"
    levels = tuple(
        Level(
            kind=kind,
            role=("support" if (kind in ("line_in_the_sand", "deeper")) == up else "resistance"),
            low=row[f"{prefix}_low"],
            high=row[f"{prefix}_high"],
            score=row[f"{prefix}_score"] or 0.0,
            touches=row[f"{prefix}_touches"] or 0,
            sources=tuple(s for s in (row[f"{prefix}_sources"] or "").split(",") if s),
            projected=bool(row[f"{prefix}_projected"]),
            reason=row.get(f"{prefix}_reason") or "",
            change=row.get(f"{prefix}_change"),
            since=row.get(f"{prefix}_since"),
        )
        for kind, prefix in LEVEL_PREFIXES.items()
        if row.get(f"{prefix}_low") is not None
    )
    scenarios = tuple(
        Scenario(
            name=s["scenario"],
            probability=s["probability"],
            analogs=s["analogs"] or 0,
            climatology=s["climatology"] or 0.0,
            trigger=s["trigger_rule"],
            trigger_level=s["trigger_level"],
            target_low=s["target_low"],
            target_high=s["target_high"],
        )
        for s in scenario_dicts
    )
    structure = None
    if row.get("sma200") is not None:
        structure = Structure(
            **{name: row[name] for name in Structure.__dataclass_fields__ if name != "close"},
            close=row["close"],
        )
    relative = tuple(
        RelativeStrength(peer, *(row.get(f"rs_{peer.lower()}_{f}") for f in RS_FIELDS))
        for peer in PEERS
        if row.get(f"rs_{peer.lower()}_verdict") is not None
    )
    return Snapshot(
        root=row["root"],
        as_of=row["as_of"],
        author=row["author"],
        methodology_version=row["methodology_version"],
        params_hash=row["params_hash"],
        input_fingerprint=row["input_fingerprint"],
        source=row["source"],
        contract=row["contract"],
        raw_close=row["close"],
        offset=row["roll_offset"] or 0.0,
        primary_trend=row["primary_trend"],
        # A code under decision-v1 (words joined by _: "rebound_after_crash"), words elsewhere.
        perspective=row["perspective"].replace("_", " "),
        orientation=row["orientation"],
        structure=structure,
        levels=levels,
        risk_rule=row["risk_rule"],
        risk_level=row["risk_level"],
        risk_text=RISK_RULES.get(row["risk_rule"], row["risk_rule"]),
        scenarios=scenarios,
        horizon_sessions=row["horizon_sessions"],
        horizon_end=row["horizon_end"],
        upper_barrier=row["upper_barrier"],
        lower_barrier=row["lower_barrier"],
        relative_strength=relative,
        analogs_total=row["n_analogs"] or 0,
        state_key=row["state_key"] or "",
        notes=row.get("notes") or "",
        extra={k: row[k] for k in ("version", "kind", "content_hash", "created_at") if k in row},
        details={k: v for k, v in row.items() if k not in _PROVENANCE},
    )
