"""Serve the nightly deployment from this process (no work pool needed).

    uv run python deployments/serve.py        # Ctrl-C to stop

Same schedule as deployments/prefect.yaml: weekdays 18:15 America/New_York.
"""

from __future__ import annotations

from prefect.schedules import Cron

from flows.nightly import nightly

if __name__ == "__main__":
    nightly.serve(
        name="nightly",
        schedules=[Cron("15 18 * * 1-5", timezone="America/New_York")],
        parameters={"source": "yahoo"},
        tags=["callbook", "nightly"],
    )
