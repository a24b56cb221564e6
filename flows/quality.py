"""The call-quality report of stored calls (``callbook audit --quality``): warehouse in, frames out.

A plain service (no Prefect): it reads the stored model calls of each root and methodology and the
bars they were made on, rebuilds the continuous series, and hands both to the pure report in
:mod:`pipeline.audit.quality`. Paired scores come from the stored outcomes (``scored_calls``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import polars as pl

from flows.series import root_series_and_rolls
from flows.settings import load_registry_from_env
from pipeline.analysis.methodology import statement_checker
from pipeline.analysis.params import CoreParams
from pipeline.analysis.snapshot import MODEL_AUTHOR
from pipeline.audit.calibration import reference_forecasts
from pipeline.audit.quality import QualityParams, paired_scores, quality_table, statement_table
from pipeline.market.roots import FALLBACK_TICK, Registry
from warehouse.store import Warehouse

#: The methodologies compared in the score table unless told: the first against each other.
COMPARED: tuple[str, ...] = ("v2", "v1")


@dataclass(frozen=True)
class QualityReport:
    table: pl.DataFrame  # one row per (root, methodology): pipeline.audit.quality.quality_table
    #: one row per root and pair (the first of ``compared`` against each other one): paired
    #: score differences on common sessions (pipeline.audit.quality.paired_scores)
    scores: pl.DataFrame


def quality_report(
    warehouse: Warehouse,
    *,
    source: str,
    roots: Sequence[str] | None = None,
    params: QualityParams | None = None,
    registry: Registry | None = None,
    compared: Sequence[str] = COMPARED,
) -> QualityReport:
    """The quality of every stored model call of ``source`` (all roots with calls, or ``roots``;
    ``registry``: the roots' contract facts, default this configuration's); the scores of
    ``compared[0]`` against each other methodology of ``compared`` on the same sessions."""
    params = params or QualityParams()
    known = registry if registry is not None else load_registry_from_env()
    stored = warehouse.snapshot_rows(author=MODEL_AUTHOR, source=source).sort(
        "root", "methodology_version", "as_of"
    )
    if roots is not None:
        stored = stored.filter(pl.col("root").is_in(list(roots)))
    tables: dict[tuple[str, str], pl.DataFrame] = {}
    found: dict[tuple[str, str], pl.DataFrame] = {}
    series: dict[str, pl.DataFrame] = {}
    rolls: dict[str, pl.DataFrame] = {}
    for (root,), of_root in stored.group_by(["root"], maintain_order=True):
        built = root_series_and_rolls(warehouse, str(root), source=source)
        if built is None:
            continue
        series[str(root)], rolls[str(root)] = built
        spec = known.get(str(root))
        tick = spec.tick if spec is not None else FALLBACK_TICK
        for (methodology,), rows in of_root.group_by(["methodology_version"], maintain_order=True):
            key = (str(root), str(methodology))
            tables[key] = statement_table(rows, series[str(root)])
            checker = statement_checker(str(methodology))
            if checker is not None:
                found[key] = checker(tables[key], tick=tick)
    ticks = {r: s.tick if (s := known.get(r)) is not None else FALLBACK_TICK for r, _ in tables}
    table = quality_table(tables, ticks=ticks, params=params, false_statements=found, rolls=rolls)
    scores = _paired(warehouse, source=source, roots=roots, params=params, compared=compared)
    return QualityReport(table, scores)


def _as_scored_calls(stored: pl.DataFrame) -> pl.DataFrame:
    """Stored scored calls of one root and methodology in :func:`paired_scores`' shape, with the
    RPS of each call's barrier-geometry reference (pipeline.audit.calibration, as the
    scoreboard computes it over the methodology's calls)."""
    with_geometry = reference_forecasts(stored, params=CoreParams())
    return with_geometry.select(
        pl.col("as_of").alias("session_date"), "rps", pl.col("ref_rps").alias("clim_rps"), "geo_rps"
    )


def _paired(
    warehouse: Warehouse,
    *,
    source: str,
    roots: Sequence[str] | None,
    params: QualityParams,
    compared: Sequence[str],
) -> pl.DataFrame:
    scored = warehouse.scored_calls(author=MODEL_AUTHOR, source=source, methodologies=compared)
    rows = []
    for (root,), of_root in scored.group_by(["root"], maintain_order=True):
        if roots is not None and root not in roots:
            continue
        calls = {
            str(m): _as_scored_calls(part)
            for (m,), part in of_root.group_by(["methodology_version"])
        }
        first = compared[0]
        for other in compared[1:]:
            if first not in calls or other not in calls:
                continue
            scores = paired_scores(calls[first], calls[other], params)
            if not scores:
                continue
            row: dict[str, object] = {
                "root": root,
                "compared": f"{first} - {other}",
                "sessions": scores["rps"].n,
            }
            for name, prefix in (
                ("rps_vs_climatology", "vs_climatology"),
                ("rps_vs_geometry", "vs_geometry"),
                ("rps", "rps"),
            ):
                d = scores[name]
                row.update({f"{prefix}_difference": d.mean, f"{prefix}_low": d.low})
                row[f"{prefix}_high"] = d.high
            rows.append(row)
    return pl.DataFrame(rows) if rows else pl.DataFrame(schema={"root": pl.String})
