"""deployments/automations.yaml is what Prefect accepts, and watches every run of the nightly flow
(the real server test, test_prefect_server.py, shows them firing)."""

from __future__ import annotations

from datetime import timedelta
from uuid import uuid4

import pytest

from flows.automations import (
    AutomationsError,
    apply_automations,
    load_declarations,
    parse_duration,
    resolve_declaration,
)


def test_declarations_resolve_to_prefect_automations() -> None:
    block, declarations = load_declarations()
    assert block == "callbook-alert"
    block_id = uuid4()
    automations = {
        a.name: a
        for a in (
            resolve_declaration(d, webhook_block_id=block_id, deadline=timedelta(hours=2))
            for d in declarations
        )
    }
    assert set(automations) == {"callbook-nightly-failed", "callbook-nightly-deadline"}

    failed = automations["callbook-nightly-failed"].trigger
    assert failed.posture == "Reactive"
    assert failed.expect == {"prefect.flow-run.Failed", "prefect.flow-run.Crashed"}
    assert failed.for_each == {"prefect.resource.id"}
    # Every run of the nightly flow, whatever started it (a deployment, serve.py, the command
    # line): nothing about a deployment is required (test_prefect_server.py fires it for each).
    assert failed.match_related.root == {
        "prefect.resource.role": "flow",
        "prefect.resource.name": "callbook-nightly",
    }

    deadline = automations["callbook-nightly-deadline"].trigger
    assert deadline.match_related == failed.match_related
    assert deadline.posture == "Proactive"
    assert deadline.after == {"prefect.flow-run.Late", "prefect.flow-run.Pending"}
    assert deadline.expect == {"prefect.flow-run.Completed"}
    assert deadline.within == timedelta(hours=2)  # the file says 4 h; --deadline replaces it

    for automation in automations.values():
        (action,) = automation.actions
        assert (action.type, action.block_document_id) == ("call-webhook", block_id)


def test_the_files_deadline_is_four_hours_when_not_overridden() -> None:
    _, declarations = load_declarations()
    (deadline,) = [
        resolve_declaration(d, webhook_block_id=uuid4())
        for d in declarations
        if d["trigger"]["posture"] == "Proactive"
    ]
    assert deadline.trigger.within == timedelta(hours=4)


def test_durations() -> None:
    assert parse_duration("90m") == timedelta(minutes=90)
    assert parse_duration("1.5h") == timedelta(minutes=90)
    assert parse_duration(" 2d ") == timedelta(days=2)
    with pytest.raises(AutomationsError, match="not a duration"):
        parse_duration("4 hours")


def test_no_webhook_url_is_refused_before_anything_is_created(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("CALLBOOK_ALERT_WEBHOOK_URL", raising=False)
    with pytest.raises(AutomationsError, match="set CALLBOOK_ALERT_WEBHOOK_URL"):
        apply_automations()
