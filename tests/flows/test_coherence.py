"""The coherence figures of stored calls (flows/coherence.py) on a small real data directory:
every stored model call checked once, its findings kept and reused, a methodology's declared
settings applied, and the code that decides a call's findings named."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import polars as pl
import pytest

from flows import coherence
from flows.coherence import checker_settings, coherence_code_files, coherence_report
from pipeline.audit.coherence import CoherenceParams
from pipeline.audit.coherence.reading import DEFAULT_LEXICON
from tests.warehouse.small_book import ROOTS, build_small_data_dir
from warehouse.checks import checks_path
from warehouse.store import Warehouse


@pytest.fixture(scope="module")
def small(tmp_path_factory: pytest.TempPathFactory) -> Path:
    data_dir = tmp_path_factory.mktemp("coherence") / "data"
    data_dir.mkdir()
    build_small_data_dir(data_dir)
    return data_dir


def stored_calls(data_dir: Path) -> pl.DataFrame:
    with Warehouse.open(data_dir / "warehouse.duckdb", read_only=True) as wh:
        return wh.snapshot_rows(author="callbook", source="demo")


def test_every_stored_call_is_checked_once_and_its_findings_kept(
    small: Path, tmp_path: Path
) -> None:
    rows = stored_calls(small)
    told: list[str] = []
    with Warehouse.open(small / "warehouse.duckdb", read_only=True) as wh:
        first = coherence_report(wh, source="demo", data_dir=tmp_path, progress=told.append)
        again = coherence_report(wh, source="demo", data_dir=tmp_path)
        unkept = coherence_report(wh, source="demo", data_dir=None, roots=["ES"])
    per_root = dict(rows.group_by("root").len().rows())
    assert dict(first.table.select("root", "calls").rows()) == per_root
    assert set(first.table["methodology"]) == {"v1"} and len(per_root) == len(ROOTS)
    assert (first.checked, first.kept) == (rows.height, 0)
    assert (again.checked, again.kept) == (0, rows.height)
    assert [line.split(" (")[0] for line in told] == [
        f"coherence: {root} v1: {n:,} calls, {n:,} checked now, 0 kept"
        for root, n in sorted(per_root.items())
    ]
    assert again.table.equals(first.table) and again.violations.equals(first.violations)
    for root in per_root:
        assert checks_path(tmp_path, source="demo", root=root, methodology="v1").exists()
    # Without a place to keep them, nothing is written; the figures are the same.
    assert unkept.table.equals(first.table.filter(pl.col("root") == "ES"))
    assert not (small / "reports").exists()


def test_a_methodology_declares_its_band_limits_and_phrases(
    small: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    params, lexicon = checker_settings("v1")
    assert (params, lexicon) == (CoherenceParams(), DEFAULT_LEXICON)  # v1 declares nothing

    def declared(version: str) -> tuple[dict, dict]:
        return {"band_max_pct": 0.05}, {"thesis_markers": ("our call:",)}

    monkeypatch.setattr(coherence, "coherence_settings", declared)
    params, lexicon = checker_settings("v1")
    assert params == replace(CoherenceParams(), band_max_pct=0.05)
    assert lexicon.thesis_markers[-1] == "our call:"
    # The declared limit is the one applied: the calls whose band is wider than 5 % of price.
    rows = stored_calls(small).filter(pl.col("root") == "NQ")
    wide = int(((rows["upper_barrier"] - rows["lower_barrier"]) / rows["close"] > 0.05).sum())
    with Warehouse.open(small / "warehouse.duckdb", read_only=True) as wh:
        report = coherence_report(wh, source="demo", data_dir=None, roots=["NQ"])
    assert report.table["band_too_wide_pct"].to_list() == [wide]
    assert 0 < wide < rows.height

    monkeypatch.setattr(coherence, "coherence_settings", lambda v: ({"band_max": 0.05}, {}))
    with pytest.raises(ValueError, match="methodology v1 declares coherence parameters the "
                       "checker does not have: band_max"):  # fmt: skip
        checker_settings("v1")


def test_the_code_that_decides_a_calls_findings() -> None:
    pipeline = Path(coherence.__file__).resolve().parents[1] / "pipeline"
    names = {p.relative_to(pipeline).as_posix() for p in coherence_code_files()}
    # What renders a note and what checks it ...
    for name in (
        "report/note.py", "report/format.py", "report/notes/v2_parts.md.j2",
        "analysis/snapshot.py", "analysis/methodology.py", "market/contracts.py",
        "audit/coherence/rules.py", "audit/coherence/reading.py",
    ):  # fmt: skip
        assert name in names, name
    # ... and not what draws the site, the audit's other tables or charts.
    assert not any(
        n.startswith(("report/site/", "audit/quality", "audit/calibration")) for n in names
    )
    assert "report/audit.py" not in names and "report/chart.py" not in names
