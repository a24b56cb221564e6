"""Serve the nightly flow from this process, without a work pool or worker.

    export PREFECT_API_URL=http://127.0.0.1:4200/api      # a running `prefect server start`
    CALLBOOK_DATA_DIR=$PWD/data-yahoo .venv/bin/python deployments/serve.py    # Ctrl-C to stop

It registers its own deployment, ``callbook-nightly/nightly-serve`` (same schedule as
deployments/prefect.yaml: weekdays 18:15 America/New_York, ``source: yahoo``), and leaves the
work-pool deployment ``callbook-nightly/nightly`` as it is. Runs execute in child processes of
this one, with its environment (``CALLBOOK_DATA_DIR``) and working directory. Use one of the two
deployments for the schedule, not both: pause the other's schedule.
"""

from prefect.schedules import Cron

from flows.nightly import nightly

DEPLOYMENT_NAME = "nightly-serve"
SCHEDULE = Cron("15 18 * * 1-5", timezone="America/New_York")
PARAMETERS = {"source": "yahoo"}


def main() -> None:
    nightly.serve(
        name=DEPLOYMENT_NAME,
        schedules=[SCHEDULE],
        parameters=PARAMETERS,
        tags=["callbook", "nightly"],
        description="The nightly flow served by deployments/serve.py (no work pool).",
    )


if __name__ == "__main__":
    main()
