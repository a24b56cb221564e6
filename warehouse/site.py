"""What the static site reads from the warehouse (read-only): calls, their versions and outcomes,
the bars as known when each call was made, scores, run status and data-quality records.

SQL lives in ``sql/site/*.sql``; values are bound parameters. Nothing here renders or decides
what to rebuild: flows/site.py sequences, pipeline/report/site renders.
"""

from __future__ import annotations

import polars as pl

from warehouse.store import SNAPSHOT_KEY, Warehouse


class SiteReader:
    """Typed reads for the site over one (read-only) warehouse connection."""

    def __init__(self, warehouse: Warehouse) -> None:
        self.wh = warehouse

    def call_index(self) -> pl.DataFrame:
        """One row per call (its current version) with list columns, outcome and page_inputs."""
        return self.wh.read("site/call_index")

    def call_versions(self, keys: pl.DataFrame) -> pl.DataFrame:
        """Every version (wide rows) of the calls whose SNAPSHOT_KEY columns are in ``keys``."""
        return self.wh.read(
            "site/call_versions", frames={"wanted_calls": keys.select(SNAPSHOT_KEY)}
        )

    def outcomes(self, snapshot_ids: pl.Series) -> pl.DataFrame:
        """The outcome rows of these snapshots (those resolved)."""
        wanted = pl.DataFrame({"snapshot_id": snapshot_ids})
        return self.wh.read("site/outcomes", frames={"wanted_ids": wanted})

    def progress(self, snapshot_ids: pl.Series) -> pl.DataFrame:
        """The status so far (open_calls) of these snapshots (those open)."""
        wanted = pl.DataFrame({"snapshot_id": snapshot_ids})
        return self.wh.read("site/progress", frames={"wanted_ids": wanted})

    def bar_events(self) -> pl.DataFrame:
        """(source, root, changed_at): every moment the stored bars changed."""
        return self.wh.read("site/bar_events")

    def bar_sources(self) -> set[str]:
        return self.wh.bar_sources()

    def run_status(self) -> pl.DataFrame:
        return self.wh.read("site/run_status")

    def methodologies(self) -> pl.DataFrame:
        """(methodology_version, published, params_hash, configured_at)."""
        return self.wh.read("site/methodologies")

    def scored_calls(self) -> pl.DataFrame:
        return self.wh.scored_calls()

    def scoreboard_view(self) -> pl.DataFrame:
        return self.wh.read("site/scoreboard")

    def batches(self) -> pl.DataFrame:
        return self.wh.read("site/batches")

    def findings(self) -> pl.DataFrame:
        return self.wh.read("site/findings")

    def revisions(self) -> pl.DataFrame:
        return self.wh.read("site/revisions")

    def table_marks(self, tables: tuple[str, ...]) -> str:
        """A short text that changes whenever rows are added to ``tables`` (append-only tables:
        their row counts), for deciding whether a page must be rebuilt."""
        marks = [f"{t}={self.wh.row_count(t)}" for t in tables]
        if "bars" in tables:
            marks.append(f"superseded={self.wh.superseded_bar_count()}")
        return ";".join(marks)
