"""Archiving dropped files (warehouse/inbox.py): nothing is replaced or deleted."""

from __future__ import annotations

from pathlib import Path

from pipeline.sources.inbox import DroppedFile, file_sha256
from warehouse.inbox import archive_path, move_to_archive


def test_the_same_file_dropped_again_and_again_is_archived_beside_its_copies(
    tmp_path: Path,
) -> None:
    """The first copy keeps its name, the second gets its hash, every further one a number: the
    third drop used to fail the nightly (its name-<hash> was taken)."""
    inbox = tmp_path / "inbox"
    content = b"Date,Open,High,Low,Close\n2026-02-23,1,2,0.5,1.5\n"
    archived = []
    for _ in range(4):
        path = inbox / "ES" / "es.csv"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content)
        dropped = DroppedFile("ES", path, file_sha256(path), len(content))
        target = archive_path(dropped, inbox, rejected=False)
        move_to_archive(dropped, target, reason=None)
        archived.append(target.name)
        assert not path.exists()
    digest = file_sha256(inbox / "ES" / "done" / "es.csv")[:12]
    assert archived == ["es.csv", f"es-{digest}.csv", f"es-{digest}-2.csv", f"es-{digest}-3.csv"]
    done = sorted((inbox / "ES" / "done").iterdir())
    assert len(done) == 4 and all(p.read_bytes() == content for p in done)
