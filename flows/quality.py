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
from pipeline.analysis.snapshot import MODEL_AUTHOR
from pipeline.audit.quality import QualityParams, paired_scores, quality_table, statement_table
from pipeline.market.roots import FALLBACK_TICK, Registry
from warehouse.store import Warehouse

#: The pair compared in the score table: the newer methodology first.
COMPARED: tuple[str, str] = ("v2", "v1")


@dataclass(frozen=True)
class QualityReport:
    table: pl.DataFrame  # one row per (root, methodology): pipeline.audit.quality.quality_table
    scores: pl.DataFrame  # one row per root: paired RPS difference of COMPARED on common sessions


def quality_report(
    warehouse: Warehouse,
    *,
    source: str,
    roots: Sequence[str] | None = None,
    params: QualityParams | None = None,
    registry: Registry | None = None,
) -> QualityReport:
    """The quality of every stored model call of ``source`` (all roots with calls, or ``roots``;
    ``registry``: the roots' contract facts, default this configuration's)."""
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
    return QualityReport(table, _paired(warehouse, source=source, roots=roots, params=params))


def _as_scored_calls(stored: pl.DataFrame) -> pl.DataFrame:
    """Stored scored calls of one root and methodology in :func:`scored_calls`' shape."""
    return stored.select(
        pl.col("as_of").alias("session_date"), "rps", pl.col("ref_rps").alias("clim_rps")
    )


def _paired(
    warehouse: Warehouse, *, source: str, roots: Sequence[str] | None, params: QualityParams
) -> pl.DataFrame:
    scored = warehouse.scored_calls(
        author=MODEL_AUTHOR, source=source, methodologies=COMPARED
    ).select("root", "methodology_version", "as_of", "rps", "ref_rps")
    rows = []
    for (root,), of_root in scored.group_by(["root"], maintain_order=True):
        if roots is not None and root not in roots:
            continue
        a, b = (of_root.filter(pl.col("methodology_version") == m).drop("methodology_version")
                for m in COMPARED)  # fmt: skip
        scores = paired_scores(_as_scored_calls(a), _as_scored_calls(b), params)
        if not scores:
            continue
        rps, relative = scores["rps"], scores["rps_vs_climatology"]
        rows.append(
            {
                "root": root,
                "compared": f"{COMPARED[0]} - {COMPARED[1]}",
                "sessions": rps.n,
                "rps_difference": rps.mean,
                "rps_low": rps.low,
                "rps_high": rps.high,
                "vs_climatology_difference": relative.mean,
                "vs_climatology_low": relative.low,
                "vs_climatology_high": relative.high,
            }
        )
    return pl.DataFrame(rows) if rows else pl.DataFrame(schema={"root": pl.String})
