"""What validation returns: the clean rows, the findings, and the batch verdict."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

import polars as pl

Severity = Literal["error", "warning", "deferred"]
#: error: the row is quarantined; warning: the row loads and the finding is recorded;
#: deferred: the row is neither loaded nor quarantined (its session was not final when fetched)
#: and is fetched again on a later run.

#: One row per (raw row, failed rule).
FINDING_SCHEMA: dict[str, pl.DataType] = {
    "row_index": pl.Int64(),  # position in the batch (raw and canonical rows are aligned 1:1)
    "rule": pl.String(),
    "severity": pl.String(),
    "detail": pl.String(),
    "contract": pl.String(),
    "session_date": pl.Date(),
    "raw_row": pl.String(),  # the raw row as JSON, exactly as received
}


def empty_findings() -> pl.DataFrame:
    return pl.DataFrame(schema=FINDING_SCHEMA)


@dataclass(frozen=True)
class ValidationResult:
    """Outcome of validating one batch.

    ``status``: ``passed`` (no errors), ``partial`` (some rows quarantined), ``rejected`` (a
    batch-level rule failed: nothing loads, ``rejection`` says why). ``clean`` holds the rows to
    load (BAR_SCHEMA, sorted by contract and session_date). ``expectations`` has one summary dict
    per rule: ``{"rule", "expectation", "severity", "success", "unexpected_count"}``.
    """

    status: Literal["passed", "partial", "rejected"]
    clean: pl.DataFrame
    findings: pl.DataFrame
    suite_name: str
    suite_version: str
    rejection: str | None = None
    expectations: list[dict[str, Any]] = field(default_factory=list)

    @property
    def loads_nothing(self) -> bool:
        """Every row of a non-empty batch was quarantined (or deferred): nothing will load, which
        the run reports as a failure, not as "ok"."""
        return (
            self.status != "rejected"
            and self.clean.height == 0
            and self.findings.filter(pl.col("severity") == "error").height > 0
        )

    @property
    def quarantined(self) -> pl.DataFrame:
        return self.findings.filter(pl.col("severity") == "error")

    @property
    def warnings(self) -> pl.DataFrame:
        return self.findings.filter(pl.col("severity") == "warning")

    @property
    def deferred(self) -> pl.DataFrame:
        return self.findings.filter(pl.col("severity") == "deferred")
