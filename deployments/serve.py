"""Serve the nightly flow from this process, without a work pool or worker.

    export PREFECT_API_URL=http://127.0.0.1:4200/api      # a running `prefect server start`
    CALLBOOK_DATA_DIR=$PWD/data-served .venv/bin/python deployments/serve.py    # Ctrl-C to stop

It registers its own deployment, ``callbook-nightly/nightly-serve`` (same schedule as
deployments/prefect.yaml: weekdays 18:15 America/New_York), with the source of the configuration
(``CALLBOOK_SOURCE``: ``demo`` unless set, as ``make run``), and leaves the work-pool deployment
``callbook-nightly/nightly`` as it is. Runs execute in child processes of this one, with its
environment (``CALLBOOK_DATA_DIR``) and working directory. Use one of the two deployments for the
schedule, not both.

Starting and stopping it leave the schedule as the user set it (Prefect's own ``serve`` pauses the
deployment when it stops, silently; here it does not): stopped, the deployment stays active, so
runs that fall due while nothing serves them turn Late (the deadline alert fires) and are taken
when serve.py starts again; a deployment the user paused (`prefect deployment pause`) stays paused
when serve.py starts. It says which, on stderr, when it starts and when it stops.
"""

import sys
import textwrap

from prefect.schedules import Cron

from flows.nightly import nightly
from flows.settings import load_settings

DEPLOYMENT_NAME = "nightly-serve"
SCHEDULE = Cron("15 18 * * 1-5", timezone="America/New_York")
SCHEDULE_TEXT = "weekdays at 18:15 America/New_York"


def paused_by_user(full_name: str) -> bool:
    """Whether the deployment exists and is paused (by `prefect deployment pause` or the UI)."""
    from prefect import get_client
    from prefect.exceptions import ObjectNotFound

    with get_client(sync_client=True) as client:
        try:
            return bool(client.read_deployment_by_name(full_name).paused)
        except ObjectNotFound:
            return False


def say(text: str) -> None:
    """One message on stderr, wrapped at 100 columns."""
    print(textwrap.fill(f"serve.py: {text}", width=100, subsequent_indent="  "), file=sys.stderr)
    sys.stderr.flush()


def main() -> None:
    settings = load_settings()
    full_name = f"{nightly.name}/{DEPLOYMENT_NAME}"
    paused = paused_by_user(full_name)
    state = (
        f"paused, as it was left (`prefect deployment resume '{full_name}'` resumes it)"
        if paused
        else "active"
    )
    say(
        f"serving {full_name}: {SCHEDULE_TEXT}, source {settings.source} (CALLBOOK_SOURCE), "
        f"data dir {settings.data_dir}; its schedule is {state}"
    )
    try:
        nightly.serve(
            name=DEPLOYMENT_NAME,
            schedules=[SCHEDULE],
            parameters={"source": settings.source},
            paused=paused,
            pause_on_shutdown=False,
            tags=["callbook", "nightly"],
            description=(
                f"The nightly flow served by deployments/serve.py (no work pool), "
                f"source {settings.source}."
            ),
        )
    finally:
        say(f"stopped serving {full_name}; {_left(full_name)}")


def _left(full_name: str) -> str:
    """What stopping left: the deployment's schedule as the user last set it."""
    try:
        paused = paused_by_user(full_name)
    except Exception as exc:  # the server is gone: say so, never hide the stop
        return f"its schedule was not changed (the server did not answer: {type(exc).__name__})"
    if paused:
        return f"its schedule is left paused (`prefect deployment resume '{full_name}'`)"
    return (
        "its schedule is left active: runs that fall due while nothing serves them turn Late "
        "(the deadline alert fires) and run when serve.py starts again; `prefect deployment "
        f"pause '{full_name}'` stops scheduling them"
    )


if __name__ == "__main__":
    main()
