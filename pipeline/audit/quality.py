"""Call quality: are the calls of a methodology what an analyst would sign? (issue 8, item 7)

Pure: call tables (or stored snapshot rows joined to the bars) in, frames out. Per root and
methodology it measures the level properties every call must have (zone widths, the close never
inside the line or the bias zone, each on its side, the order deeper < line < close < bias <
extension, no overlaps, distances 0.25-4 ATR, persistence of the line in the sand), the structure
statements that do not hold on the bars (:mod:`pipeline.analysis.v2.statements`), the regime
labels given on crash sessions, the roll gaps of the continuous series, and the paired score
difference between two methodologies on the same sessions.

Definitions (``QualityParams``, every threshold named):

* zone width: (high - low) / ATR(14) of the session, each of the four named zones;
* distance of the line (bias) from the close: the gap to its nearer edge, in ATR;
* line run: consecutive calls with the same line in the sand. *Strict*: both edges unchanged in
  the internal (continuous) frame, within one tick (a published price is rounded to the tick in
  the front contract's frame, so a roll can move it by less than a tick) and the same
  orientation. *Same level*: the same picked level (``line_since``; v1 has none, so strict);
* unexplained level: a published zone (not projected) without a reason (issue 8: every zone is
  published with a reason);
* crash session: the close at least ``crash_fall_pct`` below the highest high of the last
  ``crash_window`` sessions (front-contract frame), computed from the bars, not from the call.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import polars as pl

from pipeline.analysis import indicators as ind
from pipeline.analysis.climatology import expanding_climatology
from pipeline.analysis.steps import LEVEL_PREFIXES
from pipeline.audit.scores import (
    MIN_INTERVAL_HORIZONS,
    PairedDifference,
    paired_difference,
    ranked_probability_score,
)


@dataclass(frozen=True)
class QualityParams:
    max_zone_width_atr: float = 1.25  # every published zone at most this wide (ATR)
    median_zone_width_atr: float = 0.8  # ... and the median at most this
    near_atr: float = 0.25  # line and bias wanted at least this far from the close (ATR) ...
    far_atr: float = 4.0  # ... and at most this far
    band_share: float = 0.95  # ... in at least this share of calls
    min_line_run: float = 10.0  # median run length of an unchanged line, sessions
    crash_fall_pct: float = 0.20  # a crash session: the close this far below ...
    crash_window: int = 30  # ... the highest high of this many sessions
    horizon_sessions: int = 20  # scores: outcomes over H sessions (intervals: scores.py's rule)
    n_boot: int = 2000  # bootstrap replicates


PREFIXES: tuple[str, ...] = tuple(LEVEL_PREFIXES.values())  # line, bias, ext, deep


def published_calls(table: pl.DataFrame) -> pl.DataFrame:
    """The calls of a call table (v1 or v2) in the published frame, one row per call: close
    and ATR in the front contract's points, the four zones as published, and the internal frame
    (offset, factor) to follow a level across rolls."""
    keep = [
        c
        for c in ("line_since", "perspective", "primary_trend", "crash_session")
        if c in table.columns
    ]
    return table.filter(pl.col("has_call")).select(
        "session_date",
        pl.col("raw_close").alias("close"),
        (pl.col("atr14") / pl.col("factor")).alias("atr"),
        "orientation",
        *(f"{p}_{edge}" for p in PREFIXES for edge in ("low", "high")),
        "offset",
        "factor",
        *keep,
    )


def level_checks(calls: pl.DataFrame) -> pl.DataFrame:
    """Per call: widths (ATR) of the four zones, the close inside the line / bias, either on the
    wrong side, the line's and bias's distances (ATR), the order and whether any zones overlap.

    ``calls``: :func:`published_calls` output (or stored rows renamed alike). This is the
    validator the tests and the quality report share.
    """
    up = pl.col("orientation") == "up"
    close, atr = pl.col("close"), pl.col("atr")

    def lo(p: str) -> pl.Expr:
        return pl.col(f"{p}_low")

    def hi(p: str) -> pl.Expr:
        return pl.col(f"{p}_high")

    overlaps = [
        (lo(a) <= hi(b)) & (lo(b) <= hi(a))
        for i, a in enumerate(PREFIXES)
        for b in PREFIXES[i + 1 :]
    ]
    order_up = (
        (hi("deep") < lo("line"))
        & (hi("line") < close)
        & (close < lo("bias"))
        & (hi("bias") < lo("ext"))
    )
    order_down = (
        (hi("ext") < lo("bias"))
        & (hi("bias") < close)
        & (close < lo("line"))
        & (hi("line") < lo("deep"))
    )
    return calls.with_columns(
        *(((hi(p) - lo(p)) / atr).alias(f"{p}_width_atr") for p in PREFIXES),
        ((lo("line") <= close) & (close <= hi("line"))).alias("close_in_line"),
        ((lo("bias") <= close) & (close <= hi("bias"))).alias("close_in_bias"),
        pl.when(up)
        .then((hi("line") >= close) | (lo("bias") <= close))
        .otherwise((lo("line") <= close) | (hi("bias") >= close))
        .alias("wrong_side"),
        (pl.when(up).then(close - hi("line")).otherwise(lo("line") - close) / atr).alias(
            "line_distance_atr"
        ),
        (pl.when(up).then(lo("bias") - close).otherwise(close - hi("bias")) / atr).alias(
            "bias_distance_atr"
        ),
        pl.when(up).then(order_up).otherwise(order_down).alias("order_ok"),
        pl.any_horizontal(overlaps).alias("overlap"),
    )


def line_runs(calls: pl.DataFrame, *, tick: float) -> dict[str, float]:
    """Median and mean run lengths of the line in the sand: strict and same-level (see module)."""
    if calls.height == 0:
        return {"line_run_median": float("nan"), "line_run_mean": float("nan"),
                "line_level_run_median": float("nan")}  # fmt: skip
    internal = calls.select(
        (pl.col("line_low") * pl.col("factor") + pl.col("offset")).alias("low"),
        (pl.col("line_high") * pl.col("factor") + pl.col("offset")).alias("high"),
        (pl.col("factor") * tick * 1.001).alias("tolerance"),
        pl.col("orientation"),
        *(["line_since"] if "line_since" in calls.columns else []),
    )
    tol = pl.col("tolerance")
    same = (
        ((pl.col("low") - pl.col("low").shift(1)).abs() <= tol)
        & ((pl.col("high") - pl.col("high").shift(1)).abs() <= tol)
        & (pl.col("orientation") == pl.col("orientation").shift(1))
    ).fill_null(False)

    def runs(condition: pl.Expr) -> pl.Series:
        return internal.select((~condition).cum_sum().alias("run"))["run"].value_counts()["count"]

    strict = runs(same)
    if "line_since" in internal.columns:
        level = runs(
            (
                (pl.col("line_since") == pl.col("line_since").shift(1))
                & (pl.col("orientation") == pl.col("orientation").shift(1))
            ).fill_null(False)
        )
    else:
        level = strict
    return {
        "line_run_median": float(strict.median()),  # type: ignore[arg-type]
        "line_run_mean": float(strict.mean()),  # type: ignore[arg-type]
        "line_level_run_median": float(level.median()),  # type: ignore[arg-type]
    }


def crash_sessions(table: pl.DataFrame, params: QualityParams) -> pl.Series:
    """True where the close is at least ``crash_fall_pct`` below the highest high of the last
    ``crash_window`` sessions (today included), in the session's front-contract frame."""
    top = pl.col("high").rolling_max(params.crash_window, min_samples=1)
    fall = 1 - (pl.col("close") - pl.col("offset")) / (top - pl.col("offset"))
    return table.select((fall >= params.crash_fall_pct).alias("crash_session"))["crash_session"]


def level_quality(calls: pl.DataFrame, *, tick: float, params: QualityParams) -> dict[str, float]:
    """The level properties of a set of calls (one root, one methodology) as figures."""
    checked = level_checks(calls)
    widths = pl.concat([checked[f"{p}_width_atr"] for p in PREFIXES])
    line_d, bias_d = checked["line_distance_atr"], checked["bias_distance_atr"]

    def in_band(d: pl.Series) -> float:
        return float(((d >= params.near_atr) & (d <= params.far_atr)).mean())  # type: ignore[arg-type]

    return {
        "calls": checked.height,
        "max_width_atr": float(widths.max()),  # type: ignore[arg-type]
        "median_width_atr": float(widths.median()),  # type: ignore[arg-type]
        "zones_wider": int((widths > params.max_zone_width_atr).sum()),
        "close_in_line": int(checked["close_in_line"].sum()),
        "close_in_bias": int(checked["close_in_bias"].sum()),
        "wrong_side": int(checked["wrong_side"].sum()),
        "line_in_band": in_band(line_d),
        "bias_in_band": in_band(bias_d),
        "line_too_near": int((line_d < params.near_atr).sum()),
        "line_too_far": int((line_d > params.far_atr).sum()),
        "bias_too_near": int((bias_d < params.near_atr).sum()),
        "bias_too_far": int((bias_d > params.far_atr).sum()),
        "overlaps": int(checked["overlap"].sum()),
        "order_violations": int((~checked["order_ok"]).sum()),
        **line_runs(calls, tick=tick),
    }


def unexplained_levels(table: pl.DataFrame) -> int | None:
    """Published levels (of the four, on calls) that are real zones, not projected, and carry
    no reason; None for a methodology that publishes no reasons (v1: no such columns, or all
    null in stored rows)."""
    if not all(f"{p}_reason" in table.columns for p in PREFIXES):
        return None
    calls = table.filter(pl.col("has_call"))
    # Stored rows of every methodology share the columns: v1's are all null.
    if all(calls[f"{p}_reason"].null_count() == calls.height for p in PREFIXES):
        return None
    return sum(
        calls.filter(
            ~pl.col(f"{p}_projected").fill_null(False) & (pl.col(f"{p}_reason").fill_null("") == "")
        ).height
        for p in PREFIXES
    )


def crash_labels(table: pl.DataFrame, params: QualityParams) -> dict[str, int]:
    """Perspective labels given on crash sessions (with a call): label -> count."""
    crash = crash_sessions(table, params)
    labelled = table.with_columns(crash).filter(pl.col("has_call") & pl.col("crash_session"))
    return dict(labelled["perspective"].value_counts().sort("perspective").rows())


def roll_gaps(rolls: pl.DataFrame) -> dict[str, object]:
    """The rolls of a continuous series (``pipeline.market.rolls.ROLL_SCHEMA``): how many, how
    each was sized (observed_spread | basis | carry_bounded), and the largest |gap| as a share
    of the expiring contract's close it was measured from."""
    if rolls.height == 0:
        return {"rolls": 0, "roll_methods": "", "max_roll_gap_pct": float("nan")}
    share = (rolls["gap"] / rolls["before_close"]).abs()
    methods = ", ".join(f"{m} {n}" for m, n in rolls["method"].value_counts().sort("method").rows())
    return {
        "rolls": rolls.height,
        "roll_methods": methods,
        "max_roll_gap_pct": float(share.max()),  # type: ignore[arg-type]
    }


def scored_calls(table: pl.DataFrame, params: QualityParams) -> pl.DataFrame:
    """Per resolved call: its RPS and the RPS of the expanding climatology of its own outcomes
    (point in time: only outcomes resolved by the as-of session), in session order."""
    resolved = table.with_row_index("i").filter(pl.col("has_call") & (pl.col("outcome") >= 0))
    outcome = resolved["outcome"].to_numpy()
    index = resolved["i"].cast(pl.Int64).to_numpy()
    probs = resolved.select("p_bear", "p_sideways", "p_bull").to_numpy()
    climatology = expanding_climatology(index, index + params.horizon_sessions, outcome)
    return resolved.select(
        "session_date",
        pl.Series("rps", ranked_probability_score(probs, outcome)),
        pl.Series("clim_rps", ranked_probability_score(climatology, outcome)),
    )


def paired_scores(
    a: pl.DataFrame, b: pl.DataFrame, params: QualityParams
) -> dict[str, PairedDifference]:
    """Two methodologies' scores on the sessions both resolved (``scored_calls`` frames):
    the difference a - b of their RPS relative to each one's own point-in-time climatology
    (``rps_vs_climatology``) and, where both frames carry ``geo_rps``, to each one's own
    barrier-geometry reference (``rps_vs_geometry``), and the raw RPS difference (``rps``).
    Each methodology forecasts its own event (its scenarios resolve on its own barriers), so
    the raw difference does not rank them; the relative ones do. Negative favours ``a``.
    Intervals by the audit's one rule (:func:`paired_difference`: blocks of
    ``SKILL_BLOCK_HORIZONS`` horizons, Student-t); fewer than ``MIN_INTERVAL_HORIZONS`` horizons
    of common sessions give no figures at all (an empty dict), never a narrow interval."""
    both = a.join(b, on="session_date", suffix="_b").sort("session_date")
    horizon = params.horizon_sessions
    if both.height < MIN_INTERVAL_HORIZONS * horizon:
        return {}
    references = [("rps_vs_climatology", "clim_rps")]
    if "geo_rps" in a.columns and "geo_rps" in b.columns:
        references.append(("rps_vs_geometry", "geo_rps"))
    return {
        "rps": paired_difference(both["rps"], both["rps_b"], horizon=horizon, n_boot=params.n_boot),
        **{
            name: paired_difference(
                both["rps"] - both[reference],
                both["rps_b"] - both[f"{reference}_b"],
                horizon=horizon,
                n_boot=params.n_boot,
            )
            for name, reference in references
        },
    }


def statement_table(
    rows: pl.DataFrame, series: pl.DataFrame, *, atr_window: int = 14
) -> pl.DataFrame:
    """A call table rebuilt from stored snapshot rows of one root and methodology and the
    continuous series they were made on, for :func:`pipeline.analysis.v2.statements.
    false_statements` and :func:`published_calls`: the bars (internal frame), the indicators
    recomputed from them, and each stored call's facts and published levels on its session."""
    facts = rows.rename({"as_of": "session_date"}).drop(
        "close", "atr14", "sma20", "sma50", "sma200", "ema21", "contract", strict=False
    )
    bars = series.with_columns(
        ind.sma("close", 50).alias("sma50"),
        ind.sma("close", 200).alias("sma200"),
        ind.wilder_atr("high", "low", "close", window=atr_window).alias("atr14"),
    )
    joined = bars.join(facts, on="session_date", how="left")
    # Price facts are stored in the front contract's points; the checks read the series' frame.
    internal = [
        (pl.col(c) * pl.col("factor") + pl.col("offset")).alias(c)
        for c in ("breakout_level", "breakdown_level")
        if c in joined.columns
    ]
    return joined.with_columns(*internal, pl.col("orientation").is_not_null().alias("has_call"))


def quality_table(
    tables: Mapping[tuple[str, str], pl.DataFrame],
    *,
    ticks: Mapping[str, float],
    params: QualityParams | None = None,
    false_statements: Mapping[tuple[str, str], pl.DataFrame] | None = None,
    rolls: Mapping[str, pl.DataFrame] | None = None,
) -> pl.DataFrame:
    """One row per (root, methodology): the level figures, false statements, crash labels and
    roll gaps. ``tables``: call tables by (root, methodology); ``false_statements``: the
    checker's findings by the same key (absent: not counted); ``rolls``: each root's roll
    table (absent: not reported)."""
    params = params or QualityParams()
    rows = []
    for (root, methodology), table in sorted(tables.items()):
        calls = published_calls(table)
        row: dict[str, object] = {"root": root, "methodology": methodology}
        row.update(level_quality(calls, tick=ticks[root], params=params))
        found = (false_statements or {}).get((root, methodology))
        row["false_statements"] = None if found is None else found.height
        row["false_by_fact"] = (
            None
            if found is None
            else ", ".join(f"{f} {n}" for f, n in found["fact"].value_counts().sort("fact").rows())
        )
        row["unexplained_levels"] = unexplained_levels(table)
        labels = crash_labels(table, params)
        row["crash_sessions"] = sum(labels.values())
        row["crash_as_range"] = labels.get("range", 0)
        row["crash_labels"] = ", ".join(f"{k} {v}" for k, v in labels.items())
        if rolls is not None and root in rolls:
            row.update(roll_gaps(rolls[root]))
        rows.append(row)
    return pl.DataFrame(rows, infer_schema_length=None)


def markdown_table(frame: pl.DataFrame, columns: Sequence[tuple[str, str, str]]) -> str:
    """A Markdown table of ``frame``: (column, heading, format spec) per table column."""
    head = "| " + " | ".join(h for _, h, _ in columns) + " |"
    rule = "|" + "|".join("---" if i < 2 else "---:" for i in range(len(columns))) + "|"
    lines = [head, rule]
    for row in frame.iter_rows(named=True):
        cells = []
        for name, _, spec in columns:
            value = row.get(name)
            if value is None or (isinstance(value, float) and not np.isfinite(value)):
                cells.append("n/a")
            elif spec:
                cells.append(format(value, spec))
            else:
                cells.append(str(value))
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


#: The quality table's columns as printed: (column, heading, format).
QUALITY_COLUMNS: tuple[tuple[str, str, str], ...] = (
    ("root", "root", ""),
    ("methodology", "method", ""),
    ("calls", "calls", ","),
    ("max_width_atr", "max width (ATR)", ".2f"),
    ("median_width_atr", "median width", ".2f"),
    ("zones_wider", "zones > 1.25 ATR", ","),
    ("close_in_line", "close in line", ","),
    ("close_in_bias", "close in bias", ","),
    ("wrong_side", "wrong side", ","),
    ("line_in_band", "line 0.25-4 ATR", ".1%"),
    ("bias_in_band", "bias 0.25-4 ATR", ".1%"),
    ("overlaps", "overlaps", ","),
    ("order_violations", "order violations", ","),
    # One decimal: a median of two middle runs can end in .5, and ".0f" rounds 9.5 to "10".
    ("line_run_median", "line run median (strict)", ".1f"),
    ("line_level_run_median", "line run median (same level)", ".1f"),
    ("unexplained_levels", "levels without a reason", ","),
    ("false_statements", "false statements", ","),
    ("crash_sessions", "crash sessions", ","),
    ("crash_as_range", "crash as range", ","),
)


def transposed_quality(
    table: pl.DataFrame, columns: Sequence[tuple[str, str, str]] = QUALITY_COLUMNS
) -> list[tuple[str, pl.DataFrame]]:
    """Per root, the quality figures as rows and the methodologies as columns (fits a terminal)."""
    out = []
    for (root,), part in table.group_by(["root"], maintain_order=True):
        methodologies = part["methodology"].to_list()
        rows = []
        for name, heading, spec in columns:
            if name in ("root", "methodology") or name not in part.columns:
                continue
            values = part[name].to_list()
            cells = [
                "n/a"
                if v is None or (isinstance(v, float) and not np.isfinite(v))
                else format(v, spec)
                if spec
                else str(v)
                for v in values
            ]
            rows.append([heading, *cells])
        out.append((str(root), pl.DataFrame(rows, schema=["figure", *methodologies], orient="row")))
    return out
