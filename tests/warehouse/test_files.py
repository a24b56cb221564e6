"""Notes, charts and lake files are readable by the group: the mode honours the umask (mkstemp's
0600 does not)."""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.warehouse.test_lake import make_batch
from warehouse.files import new_file_mode, process_umask
from warehouse.lake import land_batch
from warehouse.reports import report_paths, write_report


@pytest.fixture(params=[0o022, 0o002, 0o077])
def umask(request: pytest.FixtureRequest) -> Iterator[int]:
    previous = os.umask(request.param)
    try:
        yield request.param
    finally:
        os.umask(previous)


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


EXPECTED = {0o022: 0o644, 0o002: 0o664, 0o077: 0o600}


def test_the_umask_is_read_without_changing_it(umask: int) -> None:
    assert process_umask() == umask
    assert process_umask() == umask
    assert new_file_mode() == EXPECTED[umask]


def test_reports_get_the_mode_open_would_give_them(umask: int, tmp_path: Path) -> None:
    from datetime import date

    paths = report_paths(tmp_path, "RTY", date(2026, 2, 4), 1, methodology="v1")
    write_report(paths, note="# RTY\n\n![chart](chart-v1-r1.png)\n", chart=b"\x89PNG...")
    plain = tmp_path / "plain.txt"
    plain.write_text("made by open()")
    for path in (paths.note, paths.chart, paths.latest):
        assert mode(path) == EXPECTED[umask] == mode(plain), path
    assert not list(paths.note.parent.glob(".*"))  # no temporary file left behind


def test_lake_files_too(umask: int, tmp_path: Path) -> None:
    landed = land_batch(tmp_path, make_batch())
    assert mode(tmp_path / landed.path) == EXPECTED[umask]


def test_a_chart_written_under_the_old_name_is_still_found(tmp_path: Path) -> None:
    """Reports written before revisions were spelt r<N> keep their names and are found."""
    from datetime import date

    paths = report_paths(tmp_path, "RTY", date(2026, 2, 4), 3, methodology="v2")
    assert (paths.note.name, paths.chart.name) == ("note-v2-r3.md", "chart-v2-r3.png")
    assert paths.existing_chart() is None
    paths.legacy_chart.parent.mkdir(parents=True)
    paths.legacy_chart.write_bytes(b"\x89PNG old")
    assert paths.legacy_chart.name == "chart-v2-v3.png"
    assert paths.existing_chart() == paths.legacy_chart
    write_report(paths, note="# RTY\n\n![chart](chart-v2-r3.png)\n", chart=b"\x89PNG new")
    assert paths.existing_chart() == paths.chart
