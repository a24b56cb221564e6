"""What the static site reads from the warehouse (read-only): calls, their versions and outcomes,
the bars as known when each call was made, scores, run status and data-quality records.

SQL lives in ``sql/site/*.sql``; values are bound parameters. Nothing here renders or decides
what to rebuild: flows/site.py sequences, pipeline/report/site renders.
"""

from __future__ import annotations

from functools import cache

import polars as pl

from warehouse.store import SNAPSHOT_KEY, SQL_DIR, Warehouse


@cache
def site_sql(name: str) -> str:
    """The SQL text of ``sql/site/<name>.sql``."""
    return (SQL_DIR / "site" / f"{name}.sql").read_text(encoding="utf-8")


class SiteReader:
    """Typed reads for the site over one (read-only) warehouse connection."""

    def __init__(self, warehouse: Warehouse) -> None:
        self.wh = warehouse

    def call_index(self) -> pl.DataFrame:
        """One row per call (its current version) with list columns, outcome and page_inputs."""
        return self.wh.query(site_sql("call_index"))

    def call_versions(self, keys: pl.DataFrame) -> pl.DataFrame:
        """Every version (wide rows) of the calls whose SNAPSHOT_KEY columns are in ``keys``."""
        if keys.height == 0:
            return self.wh.query("select * from snapshots limit 0")
        with self.wh._registered("wanted_calls", keys.select(SNAPSHOT_KEY)):
            return self.wh.query(site_sql("call_versions"))

    def outcomes(self, snapshot_ids: pl.Series) -> pl.DataFrame:
        """The outcome rows of these snapshots (those resolved)."""
        with self.wh._registered("wanted_ids", pl.DataFrame({"snapshot_id": snapshot_ids})):
            return self.wh.query(site_sql("outcomes"))

    def progress(self, snapshot_ids: pl.Series) -> pl.DataFrame:
        """The status so far (open_calls) of these snapshots (those open)."""
        with self.wh._registered("wanted_ids", pl.DataFrame({"snapshot_id": snapshot_ids})):
            return self.wh.query(site_sql("progress"))

    def bar_events(self) -> pl.DataFrame:
        """(source, root, changed_at): every moment the stored bars changed."""
        return self.wh.query(site_sql("bar_events"))

    def bar_sources(self) -> set[str]:
        return self.wh.bar_sources()

    def run_status(self) -> pl.DataFrame:
        return self.wh.query(site_sql("run_status"))

    def methodologies(self) -> pl.DataFrame:
        """(methodology_version, published, params_hash, configured_at)."""
        return self.wh.query(
            "select methodology_version, published, params_hash, configured_at from methodologies"
            " order by published desc, methodology_version"
        )

    def scored_calls(self) -> pl.DataFrame:
        return self.wh.query(
            "select * from scored_calls"
            " order by root, author, kind, methodology_version, source, as_of"
        )

    def scoreboard_view(self) -> pl.DataFrame:
        return self.wh.query("select * from scoreboard")

    def batches(self) -> pl.DataFrame:
        return self.wh.query(site_sql("batches"))

    def findings(self) -> pl.DataFrame:
        return self.wh.query(site_sql("findings"))

    def revisions(self) -> pl.DataFrame:
        return self.wh.query(
            "select * from bar_revisions order by revised_at desc, root, session_date desc"
        )

    def table_marks(self, tables: tuple[str, ...]) -> str:
        """A short text that changes whenever rows are added to ``tables`` (append-only tables:
        their row counts), for deciding whether a page must be rebuilt."""
        counts = self.wh.table_counts()
        superseded = self.wh.query("select count(*) as n from bars where superseded_at is not null")
        marks = [f"{t}={counts[t]}" for t in tables]
        if "bars" in tables:
            marks.append(f"superseded={superseded['n'][0]}")
        return ";".join(marks)
