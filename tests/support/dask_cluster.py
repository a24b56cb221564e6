"""A real Dask cluster started as users start one, for tests and benchmarks: `dask scheduler`
and `dask worker` processes on 127.0.0.1 (the `dask` command of this environment), each in its
own process group with its output in a log file, killed as groups at the end."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from tests.support.prefect_server import Process, free_port, wait_until

#: A loaded 2-core machine imports distributed, Prefect and polars in each worker in ~10-30 s.
CLUSTER_STARTUP_TIMEOUT = 180.0


@dataclass(frozen=True)
class DaskCluster:
    address: str
    scheduler: Process
    workers: tuple[Process, ...]

    def worker_logs(self) -> list[str]:
        return [w.log.read_text(errors="replace") for w in self.workers]


def dask_command() -> Path:
    return Path(sys.executable).with_name("dask")


def connected_workers(address: str) -> int:
    """How many workers the scheduler at ``address`` has (0 while it does not answer)."""
    from distributed import Client

    try:
        with Client(address, timeout=10) as client:
            return len(client.scheduler_info()["workers"])
    except OSError:
        return 0


@contextmanager
def dask_cluster(
    directory: Path, *, env: dict[str, str], workers: int = 2, threads: int = 1
) -> Iterator[DaskCluster]:
    """`dask scheduler` and ``workers`` single-process `dask worker`s of ``threads`` threads,
    started with ``env`` (give them PREFECT_API_URL: a worker without it starts a Prefect server
    of its own for its first task run); yields once every worker is connected."""
    directory.mkdir(parents=True, exist_ok=True)
    address = f"tcp://127.0.0.1:{free_port()}"
    started: list[Process] = []
    try:
        scheduler = Process(
            [
                str(dask_command()),
                "scheduler",
                *("--host", "127.0.0.1", "--port", address.rsplit(":", 1)[1]),
                "--no-dashboard",
            ],
            env=env,
            log=directory / "scheduler.log",
        )
        started.append(scheduler)
        for i in range(workers):
            started.append(
                Process(
                    [
                        str(dask_command()),
                        "worker",
                        address,
                        *("--name", f"worker-{i + 1}", "--nthreads", str(threads)),
                        *("--host", "127.0.0.1", "--no-dashboard"),
                        *("--local-directory", str(directory / f"worker-{i + 1}")),
                    ],
                    env=env,
                    log=directory / f"worker-{i + 1}.log",
                )
            )

        def ready() -> bool:
            for process in started:
                if not process.alive():
                    raise RuntimeError(f"{process.log.name} exited:\n{process.tail()}")
            return connected_workers(address) == workers

        wait_until(
            ready, timeout=CLUSTER_STARTUP_TIMEOUT, interval=1.0, what=f"{workers} Dask workers"
        )
        yield DaskCluster(address, scheduler, tuple(started[1:]))
    finally:
        for process in reversed(started):
            process.stop()
