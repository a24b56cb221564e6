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
deployment when it stops, silently, and resumes it when it starts; here neither happens):
stopped, the deployment stays active, so runs that fall due while nothing serves them turn Late
(the deadline alert fires) and are taken when serve.py starts again; a schedule the user paused
(`prefect deployment schedule pause`, or the deployment paused in the UI) stays paused when
serve.py starts. It says which, on stderr, when it starts and when it stops, with the command that
changes it.
"""

import sys
import textwrap
from dataclasses import dataclass

from prefect.schedules import Cron

from flows.nightly import nightly
from flows.settings import load_settings

DEPLOYMENT_NAME = "nightly-serve"
FULL_NAME = f"{nightly.name}/{DEPLOYMENT_NAME}"
CRON, TIME_ZONE = "15 18 * * 1-5", "America/New_York"
SCHEDULE_TEXT = "weekdays at 18:15 America/New_York"


@dataclass(frozen=True)
class ScheduleState:
    """How the user left the served deployment (a new one: not paused, schedule active)."""

    deployment_paused: bool = False  # the UI's pause of the whole deployment
    schedule_active: bool = True  # `prefect deployment schedule pause/resume`
    schedule_id: str = "SCHEDULE_ID"  # `prefect deployment schedule ls` lists it

    @property
    def paused(self) -> bool:
        return self.deployment_paused or not self.schedule_active

    def describe(self) -> str:
        if self.deployment_paused:
            return "paused (the deployment is paused: resume it in the UI)"
        if not self.schedule_active:
            return f"paused (`{self.command('resume')}` resumes it)"
        return "active"

    def command(self, verb: str) -> str:
        return f"prefect deployment schedule {verb} '{FULL_NAME}' {self.schedule_id}"


def schedule_state() -> ScheduleState:
    """The served deployment's state on the server, as the user last set it."""
    from prefect import get_client
    from prefect.exceptions import ObjectNotFound

    with get_client(sync_client=True) as client:
        try:
            deployment = client.read_deployment_by_name(FULL_NAME)
        except ObjectNotFound:
            return ScheduleState()
    schedules = deployment.schedules or []
    return ScheduleState(
        deployment_paused=bool(deployment.paused),
        schedule_active=not schedules or any(s.active for s in schedules),
        **({"schedule_id": str(schedules[0].id)} if schedules else {}),
    )


def say(text: str) -> None:
    """One message on stderr, wrapped at 100 columns."""
    wrapped = textwrap.fill(
        f"serve.py: {text}",
        width=100,
        subsequent_indent="  ",
        break_on_hyphens=False,  # names, paths and ids stay whole, to be copied
        break_long_words=False,
    )
    print(wrapped, file=sys.stderr)
    sys.stderr.flush()


def main() -> None:
    settings = load_settings()
    state = schedule_state()
    left = ", as it was left" if state.paused else ""
    say(
        f"serving {FULL_NAME}: {SCHEDULE_TEXT}, source {settings.source} (CALLBOOK_SOURCE), "
        f"data dir {settings.data_dir}; its schedule is {state.describe()}{left}"
    )
    try:
        nightly.serve(
            name=DEPLOYMENT_NAME,
            schedules=[Cron(CRON, timezone=TIME_ZONE, active=state.schedule_active)],
            parameters={"source": settings.source},
            paused=state.deployment_paused,
            pause_on_shutdown=False,
            tags=["callbook", "nightly"],
            description=(
                f"The nightly flow served by deployments/serve.py (no work pool), "
                f"source {settings.source}."
            ),
        )
    finally:
        say(f"stopped serving {FULL_NAME}; {_left()}")


def _left() -> str:
    """What stopping left: the deployment's schedule as the user last set it."""
    try:
        state = schedule_state()
    except Exception as exc:  # the server is gone: say so, never hide the stop
        return f"its schedule was not changed (the server did not answer: {type(exc).__name__})"
    if state.paused:
        return f"its schedule is left {state.describe()}"
    return (
        "its schedule is left active: runs that fall due while nothing serves them turn Late "
        f"(the deadline alert fires) and run when serve.py starts again; "
        f"`{state.command('pause')}` stops scheduling them"
    )


if __name__ == "__main__":
    main()
