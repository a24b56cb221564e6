"""The coherence checker's findings kept between runs: a round trip, and what is read as none."""

from __future__ import annotations

from pathlib import Path

import polars as pl

from warehouse.checks import CHECKS_SCHEMA, checks_path, read_checks, write_checks


def kept(code: str, n: int = 3) -> pl.DataFrame:
    return pl.DataFrame(
        {
            "snapshot_id": [f"RTY/2026-02-0{i + 2}/callbook/v2/demo/v1@h{i}" for i in range(n)],
            "previous_id": [
                "",
                *(f"RTY/2026-02-0{i + 2}/callbook/v2/demo/v1@h{i}" for i in range(n - 1)),
            ],
            "code": [code] * n,
            "findings": [f'{{"violations": [], "n": {i}}}' for i in range(n)],
        },
        schema=CHECKS_SCHEMA,
    )


def test_findings_round_trip_and_are_replaced_whole(tmp_path: Path) -> None:
    path = checks_path(tmp_path, source="demo", root="RTY", methodology="v2")
    assert path == tmp_path / "reports" / "coherence" / "demo" / "RTY-v2.parquet"
    assert read_checks(path, code="c1").height == 0  # nothing kept yet
    write_checks(path, kept("c1"))
    assert read_checks(path, code="c1").equals(kept("c1"))
    write_checks(path, kept("c1", n=2))
    assert read_checks(path, code="c1").equals(kept("c1", n=2))
    assert [p.name for p in path.parent.iterdir()] == ["RTY-v2.parquet"]  # no temporary left


def test_findings_of_other_code_or_an_unreadable_file_count_as_none(tmp_path: Path) -> None:
    path = checks_path(tmp_path, source="demo", root="RTY", methodology="v1")
    write_checks(path, kept("old"))
    assert read_checks(path, code="new").height == 0
    path.write_bytes(b"not parquet")
    assert read_checks(path, code="old").schema == pl.Schema(CHECKS_SCHEMA)
    assert read_checks(path, code="old").height == 0
    pl.DataFrame({"snapshot_id": ["x"]}).write_parquet(path)  # another layout
    assert read_checks(path, code="old").height == 0
