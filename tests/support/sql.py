"""Ad-hoc SQL for tests: the warehouse itself offers named readers only (warehouse/sql/*.sql).

Tests look at stored rows in ways no reader needs (counts, a column, a planted edit); they run
their SQL on the warehouse's own DuckDB connection with values bound, through this one helper.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import polars as pl

from warehouse.store import Warehouse, to_polars


def query(wh: Warehouse, sql: str, params: Mapping[str, Any] | None = None) -> pl.DataFrame:
    """The rows of one query ``sql`` on ``wh``'s connection (a statement that returns no rows:
    an empty frame)."""
    relation = wh.con.sql(sql, params=dict(params) if params else None)
    return to_polars(relation) if relation is not None else pl.DataFrame()
