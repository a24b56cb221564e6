"""Jobs for warehouse.sandbox_process.run_bounded in the tests: module-level functions, so a
spawned child (a fresh interpreter) can unpickle them by name."""

from __future__ import annotations

import os
from collections.abc import Callable

Arm = Callable[[], None]


def answer(text: str, arm: Arm) -> bytes:
    arm()
    return text.encode("utf-8")


def allocate(mib: int, arm: Arm) -> bytes:
    """Touch ``mib`` MiB of memory after arming (a MemoryError under a smaller limit)."""
    arm()
    block = bytearray(mib * 1024 * 1024)
    return f"allocated {len(block) // (1024 * 1024)} MiB".encode()


def spin(arm: Arm) -> bytes:
    """Burn CPU forever after arming."""
    arm()
    n = 0
    while True:
        n += 1


def abort(arm: Arm) -> bytes:
    """Die as a process does when an allocation fails where no error can be raised."""
    arm()
    os.abort()


def shout(size: int, arm: Arm) -> bytes:
    arm()
    return b"x" * size


def never_arms(arm: Arm) -> bytes:
    return b"unbounded"


def fail_like_the_warehouse(arm: Arm) -> bytes:
    from warehouse.store import WarehouseError

    arm()
    raise WarehouseError("no warehouse at /nowhere: run `callbook nightly` first")


def fail_oddly(arm: Arm) -> bytes:
    arm()
    raise KeyError("a bug\nwith a second line")


def grow(arm: Arm) -> bytes:
    """Touch memory 8 MiB at a time, slowly, without end: only the RSS limit stops it before
    the address-space limit does."""
    import time

    arm()
    kept = []
    while True:
        kept.append(bytearray(8 * 1024 * 1024))
        time.sleep(0.02)
