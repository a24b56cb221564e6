"""A child process the operating system bounds: what ``callbook sql`` runs a user's query in.

DuckDB's own ``memory_limit`` covers its buffer manager, not every allocation (a 2 GB string
from ``repeat`` is not in it), and Python, polars and the result text are outside it altogether;
its interrupt cannot stop work that never returns to it. So the query runs in a child process
whose limits the kernel and the parent enforce from outside, whatever runs inside:

- **Memory** (RSS): the child may grow by ``memory_limit_mb`` beyond its size when it is
  ready (interpreter, DuckDB with the warehouse attached, polars: ~150 MiB). The parent reads
  the child's RSS every RSS_POLL_SECONDS and kills it past that (no cgroup is needed; what the
  child allocates within one poll can pass the limit before it is killed).
- **Address space** (``RLIMIT_AS``): the child's size when it is ready (~0.65 GiB of address
  space for those ~150 MiB of memory: libraries, thread stacks, allocator reservations) plus
  ``memory_limit_mb`` plus ADDRESS_SPACE_ALLOWANCE_MB for what the allocators reserve without
  using (even ``select 1`` adds ~75 MiB of address space for 1 MiB of memory). An allocation
  past it fails at once, so a single huge allocation never happens between two polls; DuckDB
  and Python report it, and code that cannot (a Rust allocation in polars) aborts the child.
  Either way the caller gets one line naming the limit. All the child's threads allocate from
  one glibc arena: an arena per thread reserves 64 MiB of address space it later fills unseen.
- **CPU time** (``RLIMIT_CPU``): ``timeout`` seconds for each of ``threads`` threads, plus a
  few; past it the kernel ends the child (SIGXCPU, then SIGKILL).
- **Wall time**: the parent stops waiting after ``2 x timeout + 5`` seconds (the query's own
  timeout stops DuckDB; the rest is printing) and kills the child.
- **Result size**: the child's answer (the printed text) may be at most ``max_result_mb``; the
  parent stops reading past it and kills the child.

How the child starts: a process that has loaded little and runs a single thread (the
``callbook`` command at this point: no polars or pyarrow thread pools yet) is **forked**, so
the child re-imports nothing the parent already has. A process that runs other threads (a test
runner, a notebook) is not forked: a lock another thread held at the fork would stay locked in
the child forever. There the child is a fresh interpreter (``sys.executable``) that receives the
job pickled. The job and its result are the same either way.

Errors cross the process boundary as (module, class name, one line); the parent raises the
same class when it is callbook's own (``WarehouseError`` ...), else :class:`SqlRefused` naming
the class.

The address-space bound and the fork need Linux's /proc (the process's size, its thread
count); elsewhere the child is spawned and bounded by CPU time, wall time, result size and
DuckDB's own memory_limit only.

This module imports nothing but the standard library, so a caller can import it, fork, and
only then load the heavy modules (in the child for the query, in the parent for nothing).
"""

from __future__ import annotations

import contextlib
import importlib
import json
import math
import os
import pickle
import select
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

MIB = 1024 * 1024
#: Address space (MiB) the child may grow by beyond ``memory_limit_mb``: what is reserved
#: without being used (the stacks of the query's threads, allocator chunks). Measured on
#: ordinary queries (select 1, snapshots, range(1e6)): +76..87 MiB of address space for
#: +1..20 MiB of memory.
ADDRESS_SPACE_ALLOWANCE_MB = 128
#: How often the parent reads the armed child's RSS (seconds): the memory limit can be passed
#: by what the child allocates in that time before it is killed.
RSS_POLL_SECONDS = 0.01
#: The length of the child's "armed" header (``A`` and its RSS in KiB, 15 digits).
ARMED_HEADER_BYTES = 16
#: CPU seconds the child may use beyond ``timeout x threads`` (start-up, printing).
CPU_GRACE_SECONDS = 5
#: The parent waits ``WALL_FACTOR x timeout + WALL_GRACE_SECONDS`` for the child's answer.
WALL_FACTOR = 2.0
WALL_GRACE_SECONDS = 5.0
#: Modules whose exception classes the parent re-raises as themselves.
_TRUSTED_ERROR_MODULES = ("warehouse.", "flows.", "pipeline.")

#: ``job(arm) -> bytes``: the work done in the child. It sets itself up (imports, connections),
#: calls ``arm()`` once, when what is left depends on the user's input, and returns its answer.
Job = Callable[[Callable[[], None]], bytes]


class SqlRefused(RuntimeError):
    """A query the sandbox will not run, or stopped; the message is one line naming why."""


@dataclass(frozen=True)
class SandboxLimits:
    """How much a sandboxed query may use. The defaults are settings (flows/settings.py); a user
    may lower a limit for one query (:meth:`lowered`), never raise it."""

    timeout: float = 60.0  # seconds of wall time for the query (execution and fetch)
    memory_limit_mb: int = 1024  # MiB: DuckDB's memory_limit, and the child's growth bound
    threads: int = 2  # DuckDB and polars worker threads
    max_rows: int = 1_000_000  # rows fetched; more is refused (aggregate or limit)
    max_result_mb: int = 64  # MiB: the fetched result, and the printed answer

    def __post_init__(self) -> None:
        if not (self.timeout > 0 and self.memory_limit_mb > 0 and self.threads > 0):
            raise ValueError(f"sandbox limits must be positive: {self}")
        if self.max_rows < 1 or self.max_result_mb < 1:
            raise ValueError(f"max_rows and max_result_mb must be at least 1: {self}")

    @property
    def max_result_bytes(self) -> int:
        return self.max_result_mb * MIB

    def lowered(
        self, *, timeout: float | None = None, memory_limit_mb: int | None = None
    ) -> SandboxLimits:
        """These limits with ``timeout`` / ``memory_limit_mb`` lowered for one query; a value
        above the ceiling (these limits) is refused, naming the setting that sets it.

        >>> SandboxLimits(memory_limit_mb=1024).lowered(memory_limit_mb=256).memory_limit_mb
        256
        >>> SandboxLimits(memory_limit_mb=1024).lowered(memory_limit_mb=100_000_000)
        Traceback (most recent call last):
        ...
        warehouse.sandbox_process.SqlRefused: refused: --memory-mb above the ceiling 1,024 \
(CALLBOOK_SQL_MEMORY_MB)
        """
        if memory_limit_mb is not None:
            if memory_limit_mb > self.memory_limit_mb:
                raise SqlRefused(
                    f"refused: --memory-mb above the ceiling {self.memory_limit_mb:,} "
                    "(CALLBOOK_SQL_MEMORY_MB)"
                )
            if memory_limit_mb < 1:
                raise SqlRefused(f"refused: --memory-mb {memory_limit_mb} is not a size")
        if timeout is not None:
            if timeout > self.timeout:
                raise SqlRefused(
                    f"refused: --timeout above the ceiling {self.timeout:g} (CALLBOOK_SQL_TIMEOUT)"
                )
            if not timeout > 0:
                raise SqlRefused(f"refused: --timeout {timeout:g} is not a duration")
        return replace(
            self,
            timeout=self.timeout if timeout is None else timeout,
            memory_limit_mb=self.memory_limit_mb if memory_limit_mb is None else memory_limit_mb,
        )


def memory_refusal(limits: SandboxLimits, how: str = "--memory-mb") -> str:
    """The one line for a query stopped by the memory limit (``how``: what to say after it)."""
    return f"refused: the query needs over {limits.memory_limit_mb:,} MiB (memory limit, {how})"


def time_refusal(limits: SandboxLimits, *, printing: bool = False) -> str:
    """The one line for a query stopped by the time limit."""
    if printing:
        total = WALL_FACTOR * limits.timeout + WALL_GRACE_SECONDS
        return f"refused: query and printing took over {total:g} s (time limit, --timeout)"
    return f"refused: the query ran longer than {limits.timeout:g} s (time limit, --timeout)"


def size_refusal(limits: SandboxLimits, size: str) -> str:
    """The one line for a result over the size limit."""
    return f"refused: the result is over {limits.max_result_mb:,} MiB ({size}; add a LIMIT)"


def run_bounded(job: Job, limits: SandboxLimits) -> bytes:
    """Run ``job`` in a bounded child process (see the module docstring); its answer, or the
    child's error raised here in one line."""
    if _single_threaded():
        return _run_forked(job, limits)
    return _run_spawned(job, limits)


# --- the parent ---------------------------------------------------------------------------------


def _single_threaded() -> bool:
    """Whether this process runs one thread (Linux: /proc); unknown counts as no."""
    try:
        with open("/proc/self/status", encoding="ascii", errors="replace") as fh:
            for line in fh:
                if line.startswith("Threads:"):
                    return int(line.split()[1]) == 1
    except (OSError, ValueError):
        pass
    return False


def _run_forked(job: Job, limits: SandboxLimits) -> bytes:
    read_end, write_end = os.pipe()
    for stream in (sys.stdout, sys.stderr):  # nothing buffered may be written twice
        with contextlib.suppress(OSError, ValueError):
            stream.flush()
    pid = os.fork()
    if pid == 0:  # the child: never returns
        os.close(read_end)
        code = 1
        try:
            code = _child_main(job, limits, write_end)
        finally:
            os._exit(code)
    os.close(write_end)
    return _collect(pid, read_end, limits)


def _run_spawned(job: Job, limits: SandboxLimits) -> bytes:
    read_end, write_end = os.pipe()
    request = pickle.dumps((job, limits, write_end))
    path = os.pathsep.join(p for p in sys.path if p)
    env = {**os.environ, "PYTHONPATH": path}
    try:
        child = subprocess.Popen(
            [sys.executable, "-c", "from warehouse.sandbox_process import _spawned; _spawned()"],
            stdin=subprocess.PIPE,
            stdout=subprocess.DEVNULL,
            stderr=None if os.environ.get("CALLBOOK_DEBUG") else subprocess.DEVNULL,
            pass_fds=(write_end,),
            env=env,
        )
    finally:
        os.close(write_end)
    assert child.stdin is not None
    try:
        child.stdin.write(request)
        child.stdin.close()
    except BrokenPipeError:  # it died at once; _collect says how
        pass
    try:
        return _collect(child.pid, read_end, limits)
    finally:
        child.returncode = 0  # reaped by _collect (os.waitpid): nothing left for Popen to wait for


def _collect(pid: int, read_end: int, limits: SandboxLimits) -> bytes:
    """Read the child's answer within the wall-time, memory and size limits, reap it, and
    return the answer or raise its error. Once the child has armed (its ``A`` header names its
    RSS then), its RSS is read every RSS_POLL_SECONDS; past that + ``memory_limit_mb`` it is
    killed."""
    deadline = time.monotonic() + WALL_FACTOR * limits.timeout + WALL_GRACE_SECONDS
    ceiling = limits.max_result_bytes + 64 * 1024  # the answer plus its header
    budget_kib = limits.memory_limit_mb * 1024
    chunks: list[bytes] = []
    size = 0
    start_kib: int | None = None
    stopped: str | None = None
    try:
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                stopped = time_refusal(limits, printing=True)
                break
            ready, _, _ = select.select([read_end], [], [], min(remaining, RSS_POLL_SECONDS))
            if start_kib is None and size >= ARMED_HEADER_BYTES:
                start_kib = _armed_rss_kib(b"".join(chunks))
            if start_kib is not None and _rss_kib(pid) - start_kib > budget_kib:
                stopped = memory_refusal(limits)
                break
            if not ready:
                continue
            chunk = os.read(read_end, 1 << 20)
            if not chunk:
                break
            chunks.append(chunk)
            size += len(chunk)
            if size > ceiling:
                stopped = size_refusal(limits, "the printed answer")
                break
    except BaseException:  # Ctrl-C in the parent: the child goes too
        _kill(pid)
        raise
    finally:
        os.close(read_end)
    if stopped is not None:
        _kill(pid)
        raise SqlRefused(stopped)
    status = _reap(pid)
    data = b"".join(chunks)
    if data[:1] == b"A":
        data = data[ARMED_HEADER_BYTES:]
    if data[:1] == b"O":
        return data[1:]
    if data[:1] == b"E":
        raise _error(data[1:])
    raise SqlRefused(_death(status, limits))


def _armed_header(rss_kib: int) -> bytes:
    """What the child writes when it arms: ``A`` and its RSS in KiB, ARMED_HEADER_BYTES long."""
    return b"A%015d" % rss_kib


def _armed_rss_kib(data: bytes) -> int | None:
    if data[:1] != b"A":
        return None
    try:
        return int(data[1:ARMED_HEADER_BYTES])
    except ValueError:
        return None


def _rss_kib(pid: int) -> int:
    """The resident size of process ``pid`` in KiB (Linux: /proc/PID/statm), 0 if unknown."""
    try:
        with open(f"/proc/{pid}/statm", encoding="ascii") as fh:
            return int(fh.read().split()[1]) * (os.sysconf("SC_PAGE_SIZE") // 1024)
    except (OSError, ValueError, IndexError):
        return 0


def _print_stats(child: Any) -> None:
    """One line on standard error (CALLBOOK_SQL_STATS set): the query process's peak memory and
    CPU time, and this process's peak memory so far (bench/bench_sql.py reads it). This
    process's own peak is its VmHWM: ``ru_maxrss`` of a process that was started by ``exec``
    also counts the process that started it."""
    print(
        f"callbook sql: query process peak RSS {child.ru_maxrss / 1024:,.1f} MiB, "
        f"CPU {child.ru_utime + child.ru_stime:.2f} s; "
        f"parent peak RSS {_status_kib('VmHWM') / 1024:,.1f} MiB",
        file=sys.stderr,
    )


def _kill(pid: int) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGKILL)
    with contextlib.suppress(ChildProcessError):
        _reap(pid)


def _reap(pid: int) -> int:
    """Wait for the child to end; its wait status (and its usage, with CALLBOOK_SQL_STATS)."""
    _, status, usage = os.wait4(pid, 0)
    if os.environ.get("CALLBOOK_SQL_STATS"):
        _print_stats(usage)
    return status


def _death(status: int, limits: SandboxLimits) -> str:
    """Why a child that sent no answer ended, in one line."""
    if os.WIFSIGNALED(status):
        number = os.WTERMSIG(status)
        if number in (signal.SIGXCPU, signal.SIGKILL):
            return (
                f"refused: the query used over {limits.timeout * limits.threads:g} s of CPU "
                "(time limit, --timeout)"
            )
        # A failed allocation where no error can be raised (Rust aborts, C++ terminates).
        if number in (signal.SIGABRT, signal.SIGSEGV, signal.SIGBUS):
            return memory_refusal(limits, f"ended on {_signal_name(number)}")
        return f"refused: the query process ended on {_signal_name(number)}"
    return f"refused: the query process ended without an answer (exit status {status >> 8})"


def _signal_name(number: int) -> str:
    try:
        return signal.Signals(number).name
    except ValueError:
        return f"signal {number}"


def _error(payload: bytes) -> Exception:
    """The child's error as an exception of the same class where that class is trusted."""
    try:
        module, name, message = json.loads(payload.decode("utf-8"))
    except (ValueError, UnicodeDecodeError):
        return SqlRefused("refused: the query process sent an unreadable error")
    if module.startswith(_TRUSTED_ERROR_MODULES):
        try:
            cls = getattr(importlib.import_module(module), name)
            if isinstance(cls, type) and issubclass(cls, Exception):
                return cls(message)
        except Exception:  # any failure to rebuild it: the generic error below
            pass
    return SqlRefused(f"query failed: {name}: {message}")


# --- the child ----------------------------------------------------------------------------------


def _spawned() -> None:
    """Entry point of a spawned child: the pickled request on stdin."""
    job, limits, write_end = pickle.loads(sys.stdin.buffer.read())  # from our own parent
    os._exit(_child_main(job, limits, write_end))


def _child_main(job: Job, limits: SandboxLimits, write_end: int) -> int:
    """Run the job and write ``O<answer>`` or ``E<error json>`` to ``write_end``; the exit
    status. Its standard error is closed unless CALLBOOK_DEBUG is set: a Rust panic or an
    allocation failure would otherwise print lines of its own before the parent's one line."""
    debug = bool(os.environ.get("CALLBOOK_DEBUG"))
    if not debug:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, 2)
        os.close(devnull)
    os.environ["POLARS_MAX_THREADS"] = str(limits.threads)
    _one_malloc_arena()
    armed: list[bool] = []

    def arm() -> None:
        if not armed:
            _apply_os_limits(limits)
            armed.append(True)
            rss = _status_kib("VmRSS")
            _write_all(write_end, _armed_header(0 if rss != rss else int(rss)))

    try:
        answer = job(arm)
        if not armed:
            raise RuntimeError("the sandboxed job never armed its limits")
        if len(answer) > limits.max_result_bytes:
            raise SqlRefused(size_refusal(limits, f"{len(answer) / MIB:,.1f} MiB printed"))
        message = b"O" + answer
    except MemoryError:
        message = b"E" + _error_payload(SqlRefused(memory_refusal(limits)))
    except BaseException as exc:  # every error becomes the parent's one line
        if debug:
            import traceback

            traceback.print_exc()
        message = b"E" + _error_payload(exc)
    try:
        _write_all(write_end, message)
    except OSError:  # the parent has gone (killed or interrupted)
        return 1
    finally:
        os.close(write_end)
    return 0


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        written = os.write(fd, view)
        view = view[written:]


def _one_malloc_arena() -> None:
    """Make every thread of this (still single-threaded) process allocate from glibc's main
    arena. Each extra arena reserves 64 MiB of address space up front, which its thread then
    fills without growing the address space: with a dozen DuckDB and polars threads that was
    ~300 MiB of memory the address-space bound never saw. Elsewhere (not glibc): nothing."""
    import ctypes

    m_arena_max = -8  # glibc's malloc.h
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None).mallopt(m_arena_max, 1)


def _error_payload(exc: BaseException) -> bytes:
    lines = str(exc).strip().splitlines()
    text = lines[0] if lines else ""
    cls = type(exc)
    return json.dumps([cls.__module__, cls.__qualname__, text]).encode("utf-8")


def _apply_os_limits(limits: SandboxLimits) -> None:
    """Bound this process from here on: address space = its size now + the memory budget + the
    allowance, CPU time = what it has used + ``timeout x threads`` + a grace (see the module
    docstring)."""
    import resource

    size = _address_space_bytes()
    if size is not None:
        ceiling = size + (limits.memory_limit_mb + ADDRESS_SPACE_ALLOWANCE_MB) * MIB
        _lower(resource.RLIMIT_AS, ceiling)
    usage = resource.getrusage(resource.RUSAGE_SELF)
    used = usage.ru_utime + usage.ru_stime
    cpu = math.ceil(used + limits.timeout * limits.threads) + CPU_GRACE_SECONDS
    _lower(resource.RLIMIT_CPU, cpu, hard=cpu + 2)


def _lower(which: int, soft: int, *, hard: int | None = None) -> None:
    import resource

    hard = soft if hard is None else hard
    current_soft, current_hard = resource.getrlimit(which)
    if current_hard != resource.RLIM_INFINITY:
        hard = min(hard, current_hard)
        soft = min(soft, hard)
    if current_soft != resource.RLIM_INFINITY:
        soft = min(soft, current_soft)
    resource.setrlimit(which, (soft, hard))


def _address_space_bytes() -> int | None:
    """This process's virtual size (Linux: VmSize), or None where it cannot be read."""
    kib = _status_kib("VmSize")
    return None if kib != kib else int(kib) * 1024


def _status_kib(field: str) -> float:
    """A ``kB`` field of /proc/self/status (Linux), NaN where it cannot be read."""
    try:
        with open("/proc/self/status", encoding="ascii", errors="replace") as fh:
            for line in fh:
                if line.startswith(f"{field}:"):
                    return float(line.split()[1])
    except (OSError, ValueError):
        pass
    return float("nan")
