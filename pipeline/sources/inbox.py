"""The drop folder of ``nightly --source file``: vendor files waiting per root.

Layout (``CALLBOOK_INBOX``, default ``<data dir>/inbox``)::

    inbox/<ROOT>/*.csv | *.parquet      files waiting, taken in name order
    inbox/<ROOT>/done/                  taken and loaded (warehouse/inbox.py moves them there)
    inbox/<ROOT>/rejected/              unreadable or rejected whole, each with a .reason.txt

Each file is read by :class:`pipeline.sources.file.FileSource` (the same layouts and column
mapping as ``callbook ingest --source file``; a root's ``file_columns`` in the roots registry maps
a vendor's column names). Files whose names start with ``.`` or end with ``.tmp``/``.part`` are
being written and are left alone: a vendor should write elsewhere (or under such a name) and move
the file in when it is complete.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

#: File types taken from the drop folder (matched case-insensitively).
SUFFIXES = (".csv", ".parquet")
DONE, REJECTED = "done", "rejected"
_HASH_BLOCK = 1 << 20


@dataclass(frozen=True)
class DroppedFile:
    root: str
    path: Path
    sha256: str  # of the file's bytes
    size: int  # bytes


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        while block := fh.read(_HASH_BLOCK):
            digest.update(block)
    return digest.hexdigest()


def pending_files(inbox: Path, root: str) -> list[DroppedFile]:
    """The files waiting for ``root``, in name order (none when its folder does not exist)."""
    folder = inbox / root
    if not folder.is_dir():
        return []
    out = []
    for path in sorted(folder.iterdir(), key=lambda p: p.name):
        name = path.name
        if (
            not path.is_file()
            or name.startswith(".")
            or name.endswith((".tmp", ".part"))
            or path.suffix.lower() not in SUFFIXES
        ):
            continue
        out.append(DroppedFile(root, path, file_sha256(path), path.stat().st_size))
    return out
