"""The README's scheduling section against a REAL local Prefect server (not the test harness).

`prefect deploy --prefect-file deployments/prefect.yaml --name nightly` on a fresh server, a
process worker, `prefect deployment run`, `callbook automations apply` with a loopback webhook
receiver, `callbook nightly` with PREFECT_API_URL set, and `python deployments/serve.py` (started,
stopped with Ctrl-C and started again), each as a separate process, as a user runs them. The server
runs on 127.0.0.1 with its own PREFECT_HOME and SQLite file; every wait is bounded and every
process is killed (as a process group) when the module ends, whatever happened.

The runs are kept short and offline: RTY only, as of 2006-06-30 (a year and a half of bars), on
the deployment's own source (demo, as created), into data directories under the test's tmp
directory.
"""

from __future__ import annotations

import os
import re
import shlex
import signal
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from tests.support.prefect_server import (
    ROOT,
    LocalPrefectServer,
    Process,
    WebhookReceiver,
    deploy_nightly,
    local_prefect_server,
    wait_until,
)
from tests.support.sql import query
from warehouse.store import Warehouse

pytestmark = pytest.mark.server

BIN = Path(sys.executable).parent
NEW_YORK = ZoneInfo("America/New_York")
DEMO_AS_OF = date(2006, 6, 30)
DEMO_PARAMETERS = {"source": "demo", "roots": ["RTY"], "as_of": DEMO_AS_OF.isoformat()}
#: What a user overrides to keep a triggered run short; the source stays the deployment's.
SHORT_RUN = {"roots": ["RTY"], "as_of": DEMO_AS_OF.isoformat()}
RUN_TIMEOUT = 300.0  # one short demo run by a worker on a loaded 2-core machine takes ~30-60 s
ALERT_TIMEOUT = 90.0
GRACEFUL_STOP_TIMEOUT = 60.0  # serve.py stopping after Ctrl-C on a loaded machine
SCHEDULE_HORIZON_DAYS = 370  # > 1 year of scheduled runs: at least one DST change either way
TERMINAL = {"COMPLETED", "FAILED", "CRASHED", "CANCELLED"}

SERVER_SETTINGS = {
    "PREFECT_SERVER_SERVICES_SCHEDULER_LOOP_SECONDS": "2",
    # A year of runs at once (by default the scheduler keeps only 3 runs and 1 hour ahead).
    "PREFECT_SERVER_SERVICES_SCHEDULER_MIN_RUNS": "300",
    "PREFECT_SERVER_SERVICES_SCHEDULER_MAX_RUNS": "300",
    "PREFECT_SERVER_SERVICES_SCHEDULER_MIN_SCHEDULED_TIME": f"P{SCHEDULE_HORIZON_DAYS}D",
    "PREFECT_SERVER_SERVICES_SCHEDULER_MAX_SCHEDULED_TIME": f"P{SCHEDULE_HORIZON_DAYS}D",
    # A run nobody picks up is Late 2 s after its start time (the deadline alert's test).
    "PREFECT_SERVER_SERVICES_LATE_RUNS_LOOP_SECONDS": "1",
    "PREFECT_SERVER_SERVICES_LATE_RUNS_AFTER_SECONDS": "2",
    "PREFECT_SERVER_LOGGING_LEVEL": "WARNING",
}


@dataclass(frozen=True)
class Deployed:
    deployment: dict[str, Any]
    data_dir: Path
    deployed_at: datetime


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalPrefectServer]:
    home = tmp_path_factory.mktemp("prefect-server")
    with local_prefect_server(home, settings=SERVER_SETTINGS) as server:
        yield server


@pytest.fixture(scope="module")
def deployed(server: LocalPrefectServer, tmp_path_factory: pytest.TempPathFactory) -> Deployed:
    """The README's commands: create the pool, then deploy with CALLBOOK_HOME/CALLBOOK_DATA_DIR."""
    data_dir = tmp_path_factory.mktemp("nightly-data") / "data"
    server.cli(str(BIN / "prefect"), "work-pool", "create", "callbook-process", "--type", "process")
    deployed_at = datetime.now(UTC)
    deploy_nightly(server, data_dir)
    deployment = server.api("GET", "/deployments/name/callbook-nightly/nightly")
    return Deployed(deployment, data_dir, deployed_at)


@pytest.fixture(scope="module")
def worker(server: LocalPrefectServer, deployed: Deployed) -> Iterator[Process]:
    process = Process(
        [str(BIN / "prefect"), "worker", "start", "--pool", "callbook-process"],
        env=server.env(PREFECT_WORKER_QUERY_SECONDS="1", PREFECT_WORKER_PREFETCH_SECONDS="5"),
        log=server.home / "worker.log",
    )
    try:
        yield process
    finally:
        process.stop(signal.SIGKILL)  # its flow-run processes are in its group


@pytest.fixture(scope="module")
def alerts(server: LocalPrefectServer, deployed: Deployed) -> Iterator[WebhookReceiver]:
    """`callbook automations apply` (deadline 10 s, the shortest Prefect allows) -> a receiver."""
    with WebhookReceiver() as receiver:
        result = server.cli(
            str(BIN / "callbook"),
            "automations",
            "apply",
            "--deadline",
            "10s",
            env=server.env(CALLBOOK_ALERT_WEBHOOK_URL=receiver.url),
        )
        assert "callbook-nightly-failed: created" in result.stdout
        assert "callbook-nightly-deadline: created" in result.stdout
        yield receiver


def start_serve(server: LocalPrefectServer, data_dir: Path, log: str) -> Process:
    """`python deployments/serve.py` as a user starts it."""
    return Process(
        [sys.executable, "deployments/serve.py"],
        env=server.env(CALLBOOK_DATA_DIR=str(data_dir), PREFECT_RUNNER_POLL_FREQUENCY="2"),
        log=server.home / log,
    )


def interrupt(process: Process) -> str:
    """Ctrl-C (SIGINT to its group), as a user stops serve.py; its output, whitespace folded."""
    os.killpg(process.popen.pid, signal.SIGINT)
    try:
        process.popen.wait(timeout=GRACEFUL_STOP_TIMEOUT)
    finally:
        process.stop(signal.SIGKILL)  # whatever is left of its group
    return " ".join(process.tail(200).split())


@pytest.fixture(scope="module")
def served(
    server: LocalPrefectServer, deployed: Deployed, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[Process, dict, Path]]:
    """`python deployments/serve.py` as a user starts it; yields it, its deployment, its data."""
    data_dir = tmp_path_factory.mktemp("served") / "data"
    process = start_serve(server, data_dir, "serve.log")
    try:

        def registered() -> dict | None:
            if not process.alive():
                raise AssertionError(f"serve.py exited:\n{process.tail()}")
            found = server.api(
                "POST",
                "/deployments/filter",
                json={"deployments": {"name": {"any_": ["nightly-serve"]}}},
            )
            return found[0] if found else None

        deployment = wait_until(registered, timeout=120, what="the nightly-serve deployment")
        yield process, deployment, data_dir
    finally:
        process.stop(signal.SIGKILL)  # its flow-run processes are in its group


@dataclass(frozen=True)
class Runs:
    completes: str  # the deployment's own source (demo), by the worker
    fails: str  # a root fails (its file is missing), by the worker
    missing_file: Path
    served: str  # demo data, by serve.py
    never_picked_up: str  # in a paused work queue: no worker takes it
    cli: subprocess.Popen[str]  # `callbook nightly` with PREFECT_API_URL set
    cli_data_dir: Path


@pytest.fixture(scope="module")
def runs(
    server: LocalPrefectServer,
    deployed: Deployed,
    worker: Process,
    served: tuple[Process, dict, Path],
    alerts: WebhookReceiver,
    tmp_path_factory: pytest.TempPathFactory,
) -> Runs:
    """Every run of the module, triggered at once so that they overlap (the module stays short)."""
    missing = tmp_path_factory.mktemp("file-source") / "missing.csv"
    prefect = str(BIN / "prefect")
    server.cli(prefect, "work-queue", "create", "unattended", "--pool", "callbook-process")
    server.cli(prefect, "work-queue", "pause", "unattended", "--pool", "callbook-process")

    def create_run(deployment_id: str, parameters: dict[str, Any], **extra: Any) -> str:
        body = {"parameters": parameters, **extra}
        return server.api("POST", f"/deployments/{deployment_id}/create_flow_run", json=body)["id"]

    nightly_id = deployed.deployment["id"]
    cli_data_dir = tmp_path_factory.mktemp("cli") / "data"
    argv = [
        "--data-dir",
        str(cli_data_dir),
        "nightly",
        "--roots",
        "RTY",
        "--as-of",
        DEMO_AS_OF.isoformat(),
    ]
    cli = callbook_nightly(server, argv)
    return Runs(
        # As the README shows, with `prefect deployment run`; the others through the API (faster).
        completes=trigger(server, "callbook-nightly/nightly", SHORT_RUN),
        fails=create_run(
            nightly_id,
            {"source": "file", "roots": ["RTY"], "source_options": {"path": str(missing)}},
        ),
        missing_file=missing,
        served=create_run(served[1]["id"], DEMO_PARAMETERS),
        never_picked_up=create_run(nightly_id, DEMO_PARAMETERS, work_queue_name="unattended"),
        cli=cli,
        cli_data_dir=cli_data_dir,
    )


def callbook_nightly(server: LocalPrefectServer, argv: list[str]) -> subprocess.Popen[str]:
    """`callbook <argv>` on this server (PREFECT_API_URL set), as a shell or cron runs it."""
    return subprocess.Popen(
        [str(BIN / "callbook"), *argv],
        env=server.env(PREFECT_LOGGING_LEVEL="INFO"),
        cwd=ROOT,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def finished(process: subprocess.Popen[str]) -> tuple[int, str, str]:
    try:
        out, err = process.communicate(timeout=RUN_TIMEOUT)
    finally:
        if process.poll() is None:
            process.kill()
    return process.returncode, out, err


def next_weekday_1815_new_york(after: datetime) -> datetime:
    """The oracle: the first weekday 18:15 New York wall time strictly after ``after``."""
    day = after.astimezone(NEW_YORK).date()
    while True:
        candidate = datetime(day.year, day.month, day.day, 18, 15, tzinfo=NEW_YORK)
        if candidate.weekday() < 5 and candidate > after:
            return candidate
        day += timedelta(days=1)


def flow_runs(server: LocalPrefectServer, deployment_id: str, **filters: Any) -> list[dict]:
    runs: list[dict] = []
    while True:  # pages of 200, the API's largest
        body = {
            "flow_runs": {"deployment_id": {"any_": [deployment_id]}, **filters},
            "sort": "EXPECTED_START_TIME_ASC",
            "limit": 200,
            "offset": len(runs),
        }
        page = server.api("POST", "/flow_runs/filter", json=body)
        runs += page
        if len(page) < 200:
            return runs


def trigger(server: LocalPrefectServer, name: str, parameters: dict[str, Any]) -> str:
    """`prefect deployment run NAME --params JSON`, as the README shows; returns the run's id."""
    import json

    result = server.cli(
        str(BIN / "prefect"), "deployment", "run", name, "--params", json.dumps(parameters)
    )
    match = re.search(r"/runs/flow-run/([0-9a-f-]{36})", result.stdout.replace("\n", ""))
    assert match, result.stdout
    return match[1]


def wait_for_final_state(
    server: LocalPrefectServer, run_id: str, *, logs: Process | None = None
) -> dict:
    def final() -> dict | None:
        run = server.api("GET", f"/flow_runs/{run_id}")
        return run if run["state_type"] in TERMINAL else None

    try:
        return wait_until(final, timeout=RUN_TIMEOUT, interval=1.0, what=f"flow run {run_id}")
    except TimeoutError as exc:
        raise AssertionError(f"{exc}\n{logs.tail() if logs else ''}") from None


def artifact_keys(server: LocalPrefectServer, run_id: str) -> set[str]:
    body = {"artifacts": {"flow_run_id": {"any_": [run_id]}}}
    return {a["key"] for a in server.api("POST", "/artifacts/filter", json=body) if a["key"]}


def test_deploy_schedules_weekdays_at_1815_new_york_across_dst(
    server: LocalPrefectServer, deployed: Deployed
) -> None:
    deployment = deployed.deployment
    assert deployment["work_pool_name"] == "callbook-process"
    assert deployment["job_variables"] == {"env": {"CALLBOOK_DATA_DIR": str(deployed.data_dir)}}
    assert deployment["pull_steps"] == [
        {"prefect.deployments.steps.set_working_directory": {"directory": str(ROOT)}}
    ]
    (schedule,) = deployment["schedules"]
    assert schedule["schedule"]["timezone"] == "America/New_York" and schedule["active"]
    # As created, the deployment runs on the offline demo source (README: how to switch).
    assert deployment["parameters"] == {"roots": ["RTY", "ES", "NQ", "YM"], "source": "demo"}

    # The scheduler fills the horizon within seconds (it never does with SQLAlchemy 2.1).
    def scheduled() -> list[dict]:
        runs = flow_runs(server, deployment["id"], state={"type": {"any_": ["SCHEDULED"]}})
        return runs if len(runs) >= 200 else []

    runs = wait_until(scheduled, timeout=120, what="the scheduler's runs")
    starts = [datetime.fromisoformat(r["expected_start_time"]) for r in runs]
    expected = [next_weekday_1815_new_york(deployed.deployed_at)]
    while len(expected) < len(starts):
        expected.append(next_weekday_1815_new_york(expected[-1]))
    assert starts == expected  # the same instants: every weekday, none skipped, none extra
    # 18:15 in New York is 23:15 UTC in winter (EST) and 22:15 UTC in summer (EDT).
    utc_times = {(s.astimezone(UTC).hour, s.astimezone(UTC).minute) for s in starts}
    assert utc_times == {(23, 15), (22, 15)}
    assert {s.astimezone(NEW_YORK).strftime("%H:%M %a") for s in starts} == {
        f"18:15 {day}" for day in ("Mon", "Tue", "Wed", "Thu", "Fri")
    }


def test_a_worker_runs_a_triggered_run_on_the_deployments_own_source(
    server: LocalPrefectServer, deployed: Deployed, worker: Process, runs: Runs
) -> None:
    run = wait_for_final_state(server, runs.completes, logs=worker)
    assert run["state_type"] == "COMPLETED", f"{run['state']}\n{worker.tail()}"
    assert {"callbook-nightly-summary", "callbook-rty-note"} <= artifact_keys(server, run["id"])
    with Warehouse.open(deployed.data_dir / "warehouse.duckdb", read_only=True) as wh:
        calls = query(
            wh, "select distinct root, as_of, source, kind, flow_run_id from snapshots"
        ).rows()
    assert calls == [("RTY", DEMO_AS_OF, "demo", "backfill", run["id"])]


def test_a_failed_root_fails_the_run_and_the_webhook_hears_of_it(
    server: LocalPrefectServer, worker: Process, alerts: WebhookReceiver, runs: Runs
) -> None:
    run = wait_for_final_state(server, runs.fails, logs=worker)
    assert run["state_type"] == "FAILED", f"{run['state']}\n{worker.tail()}"
    message = run["state"]["message"]
    assert "RootsFailed: 1 of 1 root(s) failed: RTY failed: " in message
    assert f"no such file: {runs.missing_file}" in message
    assert "callbook-nightly-summary" in artifact_keys(server, runs.fails)

    (alert,) = wait_until(
        lambda: alerts.received(
            lambda b: (
                isinstance(b, dict)
                and b.get("alert") == "callbook-nightly-failed"
                and b.get("flow_run_id") == runs.fails
            )
        ),
        timeout=ALERT_TIMEOUT,
        what="the webhook call for the failed run",
    )
    assert (alert["state"], alert["deployment"]) == ("Failed", "nightly")
    assert alert["event"] == "prefect.flow-run.Failed"
    assert alert["text"].endswith("ended Failed (deployment nightly)")
    assert "RTY failed" in alert["message"]
    # The run that completed raised no failure alert.
    assert not alerts.received(
        lambda b: (
            isinstance(b, dict)
            and b.get("alert") == "callbook-nightly-failed"
            and b.get("flow_run_id") == runs.completes
        )
    )


def test_a_nightly_not_completed_by_the_deadline_is_flagged(
    server: LocalPrefectServer, alerts: WebhookReceiver, runs: Runs
) -> None:
    # No worker takes it (its queue is paused): it turns Late, then misses the 10 s deadline.
    (alert,) = wait_until(
        lambda: alerts.received(
            lambda b: (
                isinstance(b, dict)
                and b.get("alert") == "callbook-nightly-deadline"
                and b.get("flow_run_id") == runs.never_picked_up
            )
        ),
        timeout=ALERT_TIMEOUT,
        what="the deadline alert",
    )
    assert "did not complete within the deadline" in alert["text"]
    run = server.api("GET", f"/flow_runs/{runs.never_picked_up}")
    assert run["state_name"] == "Late"
    late_at = datetime.fromisoformat(run["state"]["timestamp"])
    assert datetime.now(UTC) - late_at >= timedelta(seconds=10)  # not before the deadline


def test_serve_registers_its_own_deployment_and_completes_a_run(
    server: LocalPrefectServer, deployed: Deployed, served: tuple[Process, dict, Path], runs: Runs
) -> None:
    process, deployment, data_dir = served
    assert deployment["work_pool_name"] is None
    (schedule,) = deployment["schedules"]
    assert schedule["schedule"]["cron"] == "15 18 * * 1-5"
    assert schedule["schedule"]["timezone"] == "America/New_York"
    # The work-pool deployment is left as `prefect deploy` made it.
    pool_deployment = server.api("GET", "/deployments/name/callbook-nightly/nightly")
    assert pool_deployment["work_pool_name"] == "callbook-process"
    assert pool_deployment["pull_steps"] == deployed.deployment["pull_steps"]
    assert pool_deployment["job_variables"] == deployed.deployment["job_variables"]

    run = wait_for_final_state(server, runs.served, logs=process)
    assert run["state_type"] == "COMPLETED", f"{run['state']}\n{process.tail()}"
    with Warehouse.open(data_dir / "warehouse.duckdb", read_only=True) as wh:
        assert query(wh, "select distinct root, as_of from snapshots").rows() == [
            ("RTY", DEMO_AS_OF)
        ]


def test_stopping_serve_leaves_its_schedule_as_set_and_says_so(
    server: LocalPrefectServer, served: tuple[Process, dict, Path], runs: Runs
) -> None:
    """Ctrl-C leaves the deployment active (Prefect's own serve pauses it, silently) and says
    so, with the command that pauses it; a run due meanwhile turns Late and runs when serve.py is
    back; a schedule the user paused stays paused when serve.py starts again (Prefect's serve
    would resume it), and serve.py says so, at start and at stop."""
    process, deployment, data_dir = served
    wait_for_final_state(server, runs.served, logs=process)  # its run is over
    said = interrupt(process)
    full_name = "callbook-nightly/nightly-serve"
    assert f"serve.py: stopped serving {full_name}; its schedule is left active: runs" in said
    (schedule,) = server.api("GET", f"/deployments/{deployment['id']}")["schedules"]
    pause = f"prefect deployment schedule pause '{full_name}' {schedule['id']}"
    assert f"`{pause}` stops scheduling them" in said
    stopped = server.api("GET", f"/deployments/{deployment['id']}")
    assert stopped["paused"] is False and [s["active"] for s in stopped["schedules"]] == [True]

    # A run falls due while nothing serves the deployment: it turns Late. The user pauses the
    # schedule with the command the stop message gave.
    body = {"parameters": SHORT_RUN}
    due = server.api("POST", f"/deployments/{deployment['id']}/create_flow_run", json=body)["id"]
    wait_until(
        lambda: server.api("GET", f"/flow_runs/{due}")["state_name"] == "Late",
        timeout=ALERT_TIMEOUT,
        what="the unserved run to turn Late",
    )
    server.cli(str(BIN / "prefect"), *shlex.split(pause)[1:])

    again = start_serve(server, data_dir, "serve-again.log")
    try:
        run = wait_for_final_state(server, due, logs=again)  # the Late run, taken on return
        assert run["state_type"] == "COMPLETED", f"{run['state']}\n{again.tail()}"
        started = " ".join(again.tail(200).split())
        resume = f"(`prefect deployment schedule resume '{full_name}' {schedule['id']}` resumes it)"
        assert (
            f"serving {full_name}: weekdays at 18:15 America/New_York, source demo "
            f"(CALLBOOK_SOURCE), data dir {data_dir}; its schedule is paused {resume}, "
            "as it was left"
        ) in started
        kept = server.api("GET", f"/deployments/{deployment['id']}")
        assert [s["active"] for s in kept["schedules"]] == [False] and kept["paused"] is False
    finally:
        said = interrupt(again)
    assert f"stopped serving {full_name}; its schedule is left paused (`prefect deployment" in said


def test_a_flow_command_uses_the_running_server_and_says_so(
    server: LocalPrefectServer, runs: Runs
) -> None:
    code, out, err = finished(runs.cli)
    assert code == 0, err
    assert err.splitlines()[0] == f"callbook: using Prefect API at {server.api_url}"
    assert "temporary" not in err
    match = re.search(r"/runs/flow-run/([0-9a-f-]{36})", err)
    assert match, err
    run = server.api("GET", f"/flow_runs/{match[1]}")
    assert run["state_type"] == "COMPLETED" and run["deployment_id"] is None
    # The command exits without the interpreter's teardown, yet its last logs reached the server.
    logs = server.api(
        "POST",
        "/logs/filter",
        json={"logs": {"flow_run_id": {"any_": [match[1]]}}, "sort": "TIMESTAMP_DESC", "limit": 5},
    )
    assert "Finished in state Completed()" in [log["message"] for log in logs]
    assert "callbook nightly" in out and "RTY" in out


def test_a_nightly_started_on_the_command_line_is_alerted_like_a_scheduled_one(
    server: LocalPrefectServer,
    alerts: WebhookReceiver,
    runs: Runs,
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    """`callbook nightly` from a shell or cron (PREFECT_API_URL set) belongs to no deployment;
    its failure posts to the webhook all the same. (Started after the module's other runs: a
    worker that meets a busy SQLite server reports its run Crashed.)"""
    # A drop folder holding a file that is not a bar file: RTY fails, the run ends Failed.
    data_dir = tmp_path_factory.mktemp("cli-fails") / "data"
    (data_dir / "inbox" / "RTY").mkdir(parents=True)
    (data_dir / "inbox" / "RTY" / "bad.csv").write_text("not,a,bar\n1,2,3\n")
    argv = ["--data-dir", str(data_dir), "nightly", "--source", "file", "--roots", "RTY"]
    code, _, err = finished(callbook_nightly(server, [*argv, "--as-of", DEMO_AS_OF.isoformat()]))
    assert code == 1, err
    match = re.search(r"/runs/flow-run/([0-9a-f-]{36})", err)
    assert match, err
    run = server.api("GET", f"/flow_runs/{match[1]}")
    assert run["state_type"] == "FAILED" and run["deployment_id"] is None
    (alert,) = wait_until(
        lambda: alerts.received(
            lambda b: (
                isinstance(b, dict)
                and b.get("alert") == "callbook-nightly-failed"
                and b.get("flow_run_id") == match[1]
            )
        ),
        timeout=ALERT_TIMEOUT,
        what="the webhook call for the command line's failed run",
    )
    assert (alert["state"], alert["deployment"]) == ("Failed", None)
    assert alert["text"].endswith("ended Failed (started by `callbook nightly`, no deployment)")
    assert "RTY failed: bad.csv: SchemaError: missing required columns" in alert["message"]
