"""Archiving the drop folder's files once taken (pipeline/sources/inbox.py lists them).

A file that was loaded (or duplicates one that was) moves to ``<inbox>/<ROOT>/done/``; one that
could not be read or was rejected whole moves to ``<inbox>/<ROOT>/rejected/`` beside a
``<name>.reason.txt`` saying why. Nothing is deleted: the file keeps its name (with its hash
prefix added if that name is taken already) and its bytes, and the raw batch it became is in the
lake besides. The caller records the file (``inbox_files``) before moving it: a crash in between
leaves a recorded file waiting, which the next run archives as a duplicate, never loads twice.
"""

from __future__ import annotations

import os
from pathlib import Path

from pipeline.sources.inbox import DONE, REJECTED, DroppedFile


def archive_path(dropped: DroppedFile, inbox: Path, *, rejected: bool) -> Path:
    """Where ``dropped`` will be archived (absolute): its name, or name-<hash> if taken, or
    name-<hash>-<n> (n = 2, 3, ...) when the same bytes were dropped and archived before.

    >>> import tempfile
    >>> from pipeline.sources.inbox import DroppedFile
    >>> inbox = Path(tempfile.mkdtemp())
    >>> dropped = DroppedFile("ES", inbox / "ES" / "es.csv", "ab" * 32, 10)
    >>> names = []
    >>> for _ in range(3):
    ...     target = archive_path(dropped, inbox, rejected=False)
    ...     target.parent.mkdir(parents=True, exist_ok=True)
    ...     _ = target.write_text("x")
    ...     names.append(target.name)
    >>> names
    ['es.csv', 'es-abababababab.csv', 'es-abababababab-2.csv']
    """
    folder = inbox / dropped.root / (REJECTED if rejected else DONE)
    target = folder / dropped.path.name
    if not target.exists():
        return target
    stem, suffix = f"{dropped.path.stem}-{dropped.sha256[:12]}", dropped.path.suffix
    target, copy = folder / f"{stem}{suffix}", 1
    while target.exists():  # the same bytes dropped again: nothing is replaced or deleted
        copy += 1
        target = folder / f"{stem}-{copy}{suffix}"
    return target


def move_to_archive(dropped: DroppedFile, target: Path, *, reason: str | None) -> None:
    """Move ``dropped`` to ``target`` (from :func:`archive_path`), with a reason file if given."""
    target.parent.mkdir(parents=True, exist_ok=True)
    # link + unlink: never replaces a file archived under that name, even in a race.
    os.link(dropped.path, target)
    dropped.path.unlink()
    if reason:
        note = target.with_name(target.name + ".reason.txt")
        note.write_text(reason.rstrip("\n") + "\n", encoding="utf-8")
