"""Tables remembered by their inputs' content, for methodologies that compose each other.

A nightly or a backfill computes several methodologies of one root, often at once on two
threads; a later methodology that composes an earlier one's step on the same inputs (v3 on v2's
levels table; v4 on v3's whole call table when no session lacks a bar) asks for the same table
again. :class:`Remembered` builds it once: a pure function's result kept for the last few keys
of the process, a second caller with the same key waiting for the first instead of building it
again. Keys are made of the inputs' content (:func:`series_key`, :func:`own_fields`), never of
object identity.

>>> import polars as pl
>>> tables, built = Remembered(2), []
>>> def build():
...     built.append(1)
...     return pl.DataFrame({"x": [1]})
>>> key = (series_key(pl.DataFrame({"x": [1.0, 2.0]})), 0.25)
>>> tables.get(key, build).equals(tables.get(key, build)), len(built)
(True, 1)
>>> series_key(pl.DataFrame({"x": [1.0, 2.0]})) == series_key(pl.DataFrame({"x": [2.0, 1.0]}))
False
"""

from __future__ import annotations

import dataclasses
import hashlib
import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable, Mapping
from typing import Any

import polars as pl


def series_key(frame: pl.DataFrame) -> tuple[str, int, tuple[str, ...]]:
    """The content of ``frame`` as a key: its rows' hashes in order, digested (a sum of them
    would not see two rows swapped), its height and its columns."""
    rows = hashlib.sha256(frame.hash_rows().to_numpy().tobytes()).hexdigest()
    return rows, frame.height, tuple(frame.columns)


def peers_key(peers: Mapping[str, pl.DataFrame] | None) -> tuple[object, ...]:
    """The content of a root's peers' series as a key (None: no peers)."""
    if peers is None:
        return ()
    return tuple((name, series_key(frame)) for name, frame in sorted(peers.items()))


def own_fields(params: Any, cls: type) -> tuple[tuple[str, object], ...]:
    """The fields of the dataclass ``cls`` as ``params`` holds them: a subclass's extra fields
    (a later methodology's own rules) are not part of the key of ``cls``'s table."""
    return tuple((f.name, getattr(params, f.name)) for f in dataclasses.fields(cls))


class _Slot:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.table: pl.DataFrame | None = None


class Remembered:
    """The last ``size`` tables built, by key (thread-safe; one build per key at a time)."""

    def __init__(self, size: int) -> None:
        self.size = size
        self._slots: OrderedDict[Hashable, _Slot] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: Hashable, build: Callable[[], pl.DataFrame]) -> pl.DataFrame:
        """The table remembered under ``key``, built by ``build()`` if there is none."""
        with self._lock:
            slot = self._slots.get(key)
            if slot is None:
                slot = self._slots[key] = _Slot()
                while len(self._slots) > self.size:
                    self._slots.popitem(last=False)
            else:
                self._slots.move_to_end(key)
        with slot.lock:
            if slot.table is None:
                slot.table = build()
            return slot.table

    def clear(self) -> None:
        with self._lock:
            self._slots.clear()
