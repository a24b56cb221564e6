"""Report files under ``<data dir>/reports``: daily notes (Markdown) and charts (PNG).

Layout: ``reports/<ROOT>/<as_of>/note-<methodology>-r<N>.md`` and ``chart-<methodology>-r<N>.png``
(the snapshot's methodology, e.g. ``v2``, and its revision: the stored version N of that call),
plus ``reports/<ROOT>/latest.md`` pointing at the newest note of the published methodology.
Files written before the revision was spelt ``r<N>`` are named ``...-v<N>.md``/``.png``
(``note-v2-v1.md`` read as two methodologies): they stay where they are and are still found. Files are written to a temporary name and
renamed into place, so a reader never sees half a file.
"""

from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from warehouse.files import new_file_mode

REPORTS_DIR = Path("reports")


@dataclass(frozen=True)
class ReportPaths:
    note: Path  # absolute
    chart: Path
    latest: Path
    legacy_note: Path  # the names written before revisions were spelt r<N>
    legacy_chart: Path

    def existing_chart(self) -> Path | None:
        """The chart drawn for this call, under its name or its legacy name; None: not drawn."""
        return next((p for p in (self.chart, self.legacy_chart) if p.exists()), None)


def report_paths(
    data_dir: Path, root: str, as_of: date, version: int, *, methodology: str
) -> ReportPaths:
    """Where the note and chart of revision ``version`` of a call of ``methodology`` live.

    >>> report_paths(Path("/d"), "RTY", date(2026, 2, 4), 1, methodology="v2").note.name
    'note-v2-r1.md'
    """
    folder = data_dir / REPORTS_DIR / root / as_of.isoformat()
    return ReportPaths(
        note=folder / f"note-{methodology}-r{version}.md",
        chart=folder / f"chart-{methodology}-r{version}.png",
        latest=data_dir / REPORTS_DIR / root / "latest.md",
        legacy_note=folder / f"note-{methodology}-v{version}.md",
        legacy_chart=folder / f"chart-{methodology}-v{version}.png",
    )


def write_atomic(path: Path, content: bytes | str, *, durable: bool = True) -> None:
    """Write ``content`` to ``path`` via a temporary file in the same directory and a rename.
    The file gets the mode ``open()`` would give it (readable by the group under umask 022/002).

    ``durable`` flushes the file to disk before the rename (fsync). The static site writes tens
    of thousands of pages without it (a page lost in a crash is drawn again: the manifest that
    records it is written last, durably)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    data = content.encode() if isinstance(content, str) else content
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        os.fchmod(fd, new_file_mode())
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            if durable:
                fh.flush()
                os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_report(paths: ReportPaths, *, note: str, chart: bytes | None) -> None:
    """The chart first (``None``: keep the one written before), then the note that links it, then
    the latest pointer."""
    if chart is not None:
        write_atomic(paths.chart, chart)
    write_atomic(paths.note, note)
    relative = os.path.relpath(paths.chart, paths.latest.parent)
    write_atomic(paths.latest, note.replace(f"]({paths.chart.name})", f"]({relative})"))
