"""Benchmark: how long after deploying the first scheduled nightly run appears, on a Prefect server
with its default settings (the README's "Scheduling with Prefect" says what to expect).

A real local Prefect server (`prefect server start`, its own home, no setting changed), then, as
the README shows: `prefect work-pool create`, `prefect deploy --name nightly` (timed from the
moment the command returns), and `python deployments/serve.py` (timed from the moment its
deployment is registered); each is polled every 0.25 s until the server holds a Scheduled run of
the deployment. The deployment is deleted and deployed again for each repetition.

    .venv/bin/python bench/bench_schedule.py [--repeat 3]        # table + bench/RESULTS.md
"""

from __future__ import annotations

import argparse
import signal
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from machine import machine_summary, update_section

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from tests.support.prefect_server import (  # noqa: E402
    LocalPrefectServer,
    Process,
    deploy_nightly,
    local_prefect_server,
    wait_until,
)

BIN = Path(sys.executable).parent
POLL_SECONDS = 0.25
TIMEOUT = 300.0


def scheduled_runs(server: LocalPrefectServer, deployment_id: str) -> list[dict]:
    body = {
        "flow_runs": {
            "deployment_id": {"any_": [deployment_id]},
            "state": {"type": {"any_": ["SCHEDULED"]}},
        },
        "limit": 200,
    }
    return list(server.api("POST", "/flow_runs/filter", json=body))


def deployment_named(server: LocalPrefectServer, name: str) -> dict | None:
    body = {"deployments": {"name": {"any_": [name]}}}
    found = server.api("POST", "/deployments/filter", json=body)
    return found[0] if found else None


def time_to_first_run(server: LocalPrefectServer, deployment_id: str, since: float) -> float:
    wait_until(
        lambda: scheduled_runs(server, deployment_id),
        timeout=TIMEOUT,
        interval=POLL_SECONDS,
        what="the first scheduled run",
    )
    return time.monotonic() - since


def deploy(server: LocalPrefectServer, data_dir: Path) -> tuple[str, float]:
    """`prefect deploy --name nightly`; returns the deployment's id and when the command ended."""
    deploy_nightly(server, data_dir)
    ended = time.monotonic()
    deployment = server.api("GET", "/deployments/name/callbook-nightly/nightly")
    return str(deployment["id"]), ended


def serve(server: LocalPrefectServer, data_dir: Path) -> tuple[float, float, Process]:
    """deployments/serve.py: seconds until its deployment is registered, then until the first
    scheduled run of it appears; the process (still serving)."""
    started = time.monotonic()
    process = Process(
        [sys.executable, "deployments/serve.py"],
        env=server.env(CALLBOOK_DATA_DIR=str(data_dir)),
        log=server.home / "serve.log",
    )
    found = wait_until(
        lambda: deployment_named(server, "nightly-serve"),
        timeout=TIMEOUT,
        interval=POLL_SECONDS,
        what="the nightly-serve deployment",
    )
    registered = time.monotonic()
    first = time_to_first_run(server, str(found["id"]), registered)
    return registered - started, first, process


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    header = machine_summary()
    with tempfile.TemporaryDirectory(prefix="bench-schedule-") as tmp:
        home, data_dir = Path(tmp) / "prefect", Path(tmp) / "data"
        with local_prefect_server(home, settings={"PREFECT_SERVER_LOGGING_LEVEL": "WARNING"}) as (
            server
        ):
            server.cli(
                str(BIN / "prefect"), "work-pool", "create", "callbook-process", "--type", "process"
            )
            deployed: list[float] = []
            counts: list[int] = []
            for _ in range(args.repeat):
                deployment_id, ended = deploy(server, data_dir)
                deployed.append(time_to_first_run(server, deployment_id, ended))
                time.sleep(5)  # the scheduler's first pass may add more runs
                counts.append(len(scheduled_runs(server, deployment_id)))
                server.api("DELETE", f"/deployments/{deployment_id}")
            registered, served_first, process = serve(server, data_dir / "served")
            process.stop(signal.SIGINT)  # Ctrl-C
            after_stop = deployment_named(server, "nightly-serve") or {}
            log = process.tail(80)
            stop_message = log[log.rindex("serve.py: stopped") :].splitlines()
    rows = [
        f"| `prefect deploy --name nightly`, run {i + 1} | {s:.1f} |"
        for i, s in enumerate(deployed)
    ]
    rows.append(
        f"| `deployments/serve.py` (after its deployment is registered) | {served_first:.1f} |"
    )
    body = "\n".join(
        [
            "`bench/bench_schedule.py`",
            "",
            header,
            "",
            "A local `prefect server start` with Prefect's default settings; seconds from the end",
            "of the command (or serve.py's registration) until the server holds a Scheduled run",
            f"(polled every {POLL_SECONDS} s).",
            "",
            "| deployed with | first scheduled run after, s |",
            "|---|---:|",
            *rows,
            "",
            f"- Median after `prefect deploy`: {statistics.median(deployed):.1f} s; scheduled runs "
            f"held 5 s after the first appeared: {', '.join(map(str, counts))}.",
            f"- serve.py registered its deployment {registered:.1f} s after it started.",
            f"- After Ctrl-C, the served deployment is paused: {after_stop.get('paused')}; "
            "serve.py said:",
            "",
            "```text",
            *stop_message,
            "```",
        ]
    )
    print(body)
    update_section("Scheduling", body)


if __name__ == "__main__":
    main()
