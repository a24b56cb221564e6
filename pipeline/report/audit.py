"""The audit as text: what is scored, the scoreboard, calibration and open calls as tables whose
every cell is already formatted (no cell is ever empty or "null": a missing figure is "-" or says
why it is missing).

Pure: frames and rows in, strings and frames of strings out (the command prints them).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import polars as pl

from pipeline.audit.calibration import FLAGS, GROUP

MISSING = "-"

SCOREBOARD_INTRO = (
    "Scoreboard — ranked probability score (RPS, lower is better) against two point-in-time "
    "references: the climatology known when each call was made (stored with it, the model's of "
    "the same day for an analyst call, else its group's expanding one: column 'clim.'), and "
    "base rates by barrier geometry alone. Skill = 1 − RPS / reference RPS, with a 90 % "
    "interval from a block bootstrap (blocks of three horizons, Student-t on the number of "
    "blocks: overlapping calls are not independent); none for fewer than three horizons of "
    "calls (a note below says so)."
)
CALIBRATION_INTRO = (
    "Calibration — for each forecast bucket, how often the scenario happened, with a 90 % "
    "Wilson interval on the effective number of calls: overlapping horizons count once per "
    "horizon of overlap (correlation by lag estimated from the calls, or bounded by the overlap "
    "fraction for groups under ten horizons: 'basis')."
)
QUALITY_INTRO = (
    "Call quality — per root and methodology (definitions: pipeline/audit/quality.py). Widths "
    "and distances in ATR(14); runs in sessions."
)
#: Why methodologies are compared as they are (point 6 of issue 18): one sentence.
NOT_RANKED_BY_RPS = (
    "Raw RPS does not rank methodologies: each forecasts a different event (its scenarios "
    "resolve on its own barriers), so one can score lower only because its question is easier; "
    "compare what is comparable: skill against each one's own point-in-time climatology and "
    "barrier geometry, calibration, and coherence."
)
PAIRED_INTRO = (
    "Methodologies on the same sessions (A - B, negative favours A; 90 % block-bootstrap "
    "intervals). " + NOT_RANKED_BY_RPS + " Here: each one's RPS less its own climatology "
    "reference's, then less its own barrier-geometry reference's, differenced; the raw RPS "
    "difference last, for reference only. Calibration: `callbook audit`; coherence: above."
)
COHERENCE_INTRO = (
    "Coherence — does each call tell one story? Every stored call's note, rendered as "
    "`callbook show` renders it, read with its values by the coherence checker (issue 18, "
    "points 1-5; rules: pipeline/audit/coherence/rules.py). Per rule: violations (share of the "
    "calls with at least one); per point: the calls with any of its rules. word_does_not_split "
    "counts words (over all of a root's notes), not calls. Moves: sessions where a scenario's "
    "probability moved more than 10 / 20 points since the previous call (share of the calls "
    "that have one). Band: between the barriers, % of price."
)


def group_label(row: Mapping[str, Any], columns: Sequence[str] = GROUP) -> str:
    """A group's name, a word repeated in a row said once, and its flags in brackets.

    >>> group_label({"root": "RTY", "author": "callbook", "kind": "backfill",
    ...              "methodology_version": "v1", "source": "demo", "flags": ""})
    'RTY callbook backfill v1 demo'
    >>> group_label({"root": "RTY", "author": "desk", "kind": "analyst",
    ...              "methodology_version": "analyst", "source": "analyst",
    ...              "flags": "recorded late"})
    'RTY desk analyst [recorded late]'
    """
    words: list[str] = []
    for column in columns:
        word = str(row[column])
        if not words or words[-1] != word:
            words.append(word)
    text = " ".join(words)
    return f"{text} [{row[FLAGS]}]" if row.get(FLAGS) else text


def interval_text(value: float, low: float | None, high: float | None, refused: str | None) -> str:
    """``+0.102 [-0.016, +0.221]``; ``-0.440 (no interval)`` when none could be given.

    >>> interval_text(0.1016, -0.0162, 0.2207, None), interval_text(-0.44, None, None, "few")
    ('+0.102 [-0.016, +0.221]', '-0.440 (no interval)')
    """
    if refused or low is None or high is None:
        return f"{value:+.3f} (no interval)"
    return f"{value:+.3f} [{low:+.3f}, {high:+.3f}]"


def header_lines(scored: pl.DataFrame, tuning: pl.DataFrame, kinds: Mapping[str, str]) -> list[str]:
    """What the audit counts: the kinds of calls, and each methodology's tuning period."""
    lines = ["What is scored:"]
    present = set(scored["kind"].to_list()) if scored.height else set()
    lines += [f"{kind}: {meaning}" for kind, meaning in kinds.items() if kind in present]
    versions = sorted(set(scored["methodology_version"].to_list())) if scored.height else []
    recorded = {r["methodology_version"]: r for r in tuning.iter_rows(named=True)}
    for version in versions:
        if version == "analyst":
            lines.append("analyst calls: no parameters tuned on data")
            continue
        entry = recorded.get(version)
        if entry is None or not entry.get("tuning_declared"):
            lines.append(
                f"{version}: tuning period not declared: its calls cannot be shown to be out "
                "of sample (flagged)"
            )
        elif entry["tuned_through"] is None:
            lines.append(f"{version}: no parameters chosen on data")
        else:
            lines.append(
                f"{version}: parameters chosen on {entry['tuned_on']} ({entry['tuning_note']});"
                " its calls on those instruments up to those dates, whatever the source of their"
                " bars, are in sample: left out unless --include-in-sample"
            )
    return lines


def left_out_view(left_out: pl.DataFrame) -> pl.DataFrame:
    """The groups of calls not scored, why, and the option that scores them apart."""
    rows = [
        {
            "left out": group_label({**row, FLAGS: ""}),
            "calls": f"{row['calls']:,}",
            "as of": f"{row['first_as_of']} to {row['last_as_of']}",
            "why": row["reason"],
            "scored with": (
                "--include-late" if row["reason"] == "recorded late" else "--include-in-sample"
            ),
        }
        for row in left_out.iter_rows(named=True)
    ]
    return pl.DataFrame(rows) if rows else pl.DataFrame()


def open_calls_view(open_calls: pl.DataFrame) -> pl.DataFrame:
    """Open calls: whose, on which bars, and their status so far (never a score)."""
    rows = [
        {
            "call": f"{row['root']} {row['as_of']} {row['author']}",
            "methodology": row["methodology_version"],
            "bars": row["resolved_on_source"] or MISSING,
            "late": "recorded late" if row["recorded_late"] else MISSING,
            "status so far": row["summary"],
        }
        for row in open_calls.iter_rows(named=True)
    ]
    return pl.DataFrame(rows) if rows else pl.DataFrame()


@dataclass(frozen=True)
class ScoreboardText:
    """The scoreboard as two tables that fit 100 columns, and a note per missing interval."""

    scores: pl.DataFrame  # group, calls, RPS against the reference, skill with its interval
    details: pl.DataFrame  # group, as-of range, climatology basis, Brier and log score
    notes: list[str]  # why methodologies are not ranked by RPS; why a group has no interval


def scoreboard_text(board: pl.DataFrame) -> ScoreboardText:
    """The scoreboard with one readable cell per figure (see :class:`ScoreboardText`)."""
    rows = list(board.iter_rows(named=True))
    scores = [
        {
            "group": group_label(r),
            "calls (eff.)": f"{r['calls']:,} ({r['effective_calls']:,.1f})",
            "RPS": f"{r['mean_rps']:.3f}",
            "ref RPS": f"{r['mean_clim_rps']:.3f}",
            "skill vs clim.": interval_text(
                r["skill_vs_climatology"], r["skill_low"], r["skill_high"], r["interval"]
            ),
            "skill vs geometry": interval_text(
                r["skill_vs_geometry"], r["geometry_low"], r["geometry_high"], r["interval"]
            ),
        }
        for r in rows
    ]
    details = [
        {
            "group": group_label(r),
            "as of": f"{r['first_as_of']} to {r['last_as_of']}",
            "clim.": r["climatology"],
            "Brier": f"{r['mean_brier']:.3f}",
            "log score": f"{r['mean_log_score']:.3f}",
        }
        for r in rows
    ]
    notes = [f"no interval for {group_label(r)}: {r['interval']}" for r in rows if r["interval"]]
    if len({r["methodology_version"] for r in rows if r["author"] == "callbook"}) > 1:
        notes.insert(0, f"{NOT_RANKED_BY_RPS} (Coherence: `callbook audit --quality`.)")
    return ScoreboardText(pl.DataFrame(scores), pl.DataFrame(details), notes)


def calibration_views(calibration: pl.DataFrame) -> Iterator[tuple[str, pl.DataFrame]]:
    """(group, its reliability table) per group: forecast bucket, calls, mean forecast and the
    observed frequency with its interval, scenario by scenario."""
    by = [*GROUP, FLAGS] if FLAGS in calibration.columns else list(GROUP)
    for _, group in calibration.group_by(by, maintain_order=True):
        first = group.row(0, named=True)
        view = group.select(
            "scenario",
            pl.format("{}–{}", pl.col("bucket_low").round(1), pl.col("bucket_high").round(1)).alias(
                "forecast"
            ),
            pl.format("{} ({})", pl.col("count"), pl.col("effective_count").round(1)).alias(
                "calls (eff.)"
            ),
            pl.col("mean_forecast").round(3).alias("mean p"),
            pl.format(
                "{} [{}, {}]",
                pl.col("observed_frequency").round(3),
                pl.col("frequency_low").round(3),
                pl.col("frequency_high").round(3),
            ).alias("observed [90 %]"),
            pl.col("interval_basis").fill_null(MISSING).alias("basis"),
        )
        yield group_label(first), view


def chart_name(row: Mapping[str, Any]) -> str:
    """The reliability chart's file stem of a group: its words joined by '-'.

    >>> chart_name({"root": "RTY", "author": "callbook", "kind": "backfill",
    ...             "methodology_version": "v1", "source": "demo", "flags": "in tuning period"})
    'reliability-RTY-callbook-backfill-v1-demo-in_tuning_period'
    """
    keys = [row[c] for c in (*GROUP, FLAGS) if c in row]
    return "reliability-" + "-".join(str(k).replace(", ", "+").replace(" ", "_") for k in keys if k)


def paired_view(scores: pl.DataFrame) -> pl.DataFrame:
    """The paired differences of each pair of methodologies, one readable cell each: relative
    to each one's own references first, the raw RPS difference last."""
    columns = (
        ("vs_climatology", "vs own climatology"),
        ("vs_geometry", "vs own geometry"),
        ("rps", "raw RPS (not a ranking)"),
    )
    rows = [
        {
            "root": r["root"],
            "A - B": r["compared"],
            "sessions": f"{r['sessions']:,}",
            **{
                heading: interval_text(
                    r[f"{prefix}_difference"], r[f"{prefix}_low"], r[f"{prefix}_high"], None
                )
                for prefix, heading in columns
            },
        }
        for r in scores.iter_rows(named=True)
    ]
    return pl.DataFrame(rows)


def coherence_views(
    table: pl.DataFrame, violations: pl.DataFrame
) -> list[tuple[str, pl.DataFrame]]:
    """Per root, the coherence checker's figures as rows (grouped by issue 18's points: the
    calls with any of a point's rules, then each rule) and the methodologies as columns.

    ``table``: :meth:`pipeline.audit.coherence.CoherenceReport.table` rows; ``violations``: its
    VIOLATION_SCHEMA rows (for the calls with at least one violation of a rule or point)."""
    key = ["root", "methodology"]
    dated = violations.filter(pl.col("as_of").is_not_null())
    with_rule = {
        (r, m, rule): n
        for r, m, rule, n in dated.group_by(*key, "rule").agg(pl.col("as_of").n_unique()).rows()
    }
    with_point = {
        (r, m, point): n
        for r, m, point, n in dated.group_by(*key, "point").agg(pl.col("as_of").n_unique()).rows()
    }
    out = []
    for (root,), part in table.sort(key).group_by(["root"], maintain_order=True):
        columns = [
            _coherence_column(
                c,
                {
                    rule: n
                    for (r, m, rule), n in with_rule.items()
                    if (r, m) == (root, c["methodology"])
                },
                {p: n for (r, m, p), n in with_point.items() if (r, m) == (root, c["methodology"])},
            )
            for c in part.iter_rows(named=True)
        ]
        rows = [[label, *(col[i][1] for col in columns)] for i, (label, _) in enumerate(columns[0])]
        frame = pl.DataFrame(rows, schema=["figure", *part["methodology"]], orient="row")
        out.append((str(root), frame))
    return out


def _coherence_column(
    c: Mapping[str, Any], calls_with_rule: Mapping[str, int], calls_with_point: Mapping[int, int]
) -> list[tuple[str, str]]:
    """One methodology's cells of :func:`coherence_views`, (figure, cell) in row order."""
    from pipeline.audit.coherence import POINTS, RULES

    cells = [("calls", f"{c['calls']:,}")]
    for point, what in POINTS.items():
        cells.append((f"{point} {what}", _count_share(c, calls_with_point.get(point, 0))))
        for rule in (r for r in RULES if r.point == point):
            if rule.id == "word_does_not_split":  # over all of a root's notes: words, not calls
                cells.append((f"  {rule.id}", f"{c[rule.id]:,} words"))
            else:
                cells.append(
                    (f"  {rule.id}", _count_share(c, c[rule.id], calls_with_rule.get(rule.id, 0)))
                )
        if point == 3:
            cells.append(("  band median / max", _pair(c["band_pct_median"], c["band_pct_max"])))
            cells.append(
                (
                    "  crash calls: band median / max",
                    f"{c['crash_calls']:,}: "
                    + _pair(c["crash_band_pct_median"], c["crash_band_pct_max"]),
                )
            )
        if point == 4:
            for over in ("10", "20"):
                count, share = c[f"moves_over_{over}"], c[f"moves_over_{over}_share"]
                cells.append((f"  moves > {over} points", f"{count:,} ({_percent(share)})"))
    return cells


def _count_share(call: Mapping[str, Any], count: int, calls_with: int | None = None) -> str:
    """``1,290 (24.5%)``: a count and the share of the calls it concerns (``calls_with``: the
    calls with at least one, where a rule may fire more than once in a call)."""
    share = (count if calls_with is None else calls_with) / call["calls"] if call["calls"] else None
    return f"{count:,} ({_percent(share)})"


def _percent(share: float | None) -> str:
    """``24.5%``; "-" for none (``None`` or NaN)."""
    return MISSING if share is None or share != share else f"{100 * share:.1f}%"


def _pair(a: float | None, b: float | None) -> str:
    return f"{_percent(a)} / {_percent(b)}"
