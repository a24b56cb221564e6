"""File modes for what callbook writes under the data directory.

``tempfile.mkstemp`` (used for every atomic write: temporary file, then rename) creates files
0600, which would lock the rest of the group out of the notes, charts and lake files. Files are
given the mode ``open()`` would give them instead: 0666 less the process umask (0644 with the
usual umask 022, 0664 with 002).
"""

from __future__ import annotations

import os
from pathlib import Path

_PROC_STATUS = Path("/proc/self/status")


def process_umask() -> int:
    """The process umask, read without changing it (``os.umask`` can only set it, which would
    briefly leave other threads with another umask)."""
    try:
        for line in _PROC_STATUS.read_text().splitlines():
            if line.startswith("Umask:"):
                return int(line.split()[1], 8)
    except OSError:
        pass
    mask = os.umask(0o022)  # no /proc (not Linux): set and restore
    os.umask(mask)
    return mask


def new_file_mode() -> int:
    """0666 less the umask: the mode of a file made by ``open(path, "w")``.

    >>> oct(new_file_mode() | process_umask())
    '0o666'
    """
    return 0o666 & ~process_umask()
