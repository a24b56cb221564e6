"""Create callbook's Prefect automations (deployments/automations.yaml) on a Prefect server.

``callbook automations apply`` saves the alert webhook URL from configuration
(``CALLBOOK_ALERT_WEBHOOK_URL``) in a Prefect Webhook block, points every ``call-webhook`` action of
the file at it, and creates each automation, replacing any of the same name (so it can be run
again after editing the file or changing the URL).
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any
from uuid import UUID

import yaml

AUTOMATIONS_FILE = Path(__file__).resolve().parents[1] / "deployments" / "automations.yaml"
WEBHOOK_URL_ENV = "CALLBOOK_ALERT_WEBHOOK_URL"
_DURATION = re.compile(r"^\s*(?P<n>\d+(?:\.\d+)?)\s*(?P<unit>[smhd])\s*$")
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


class AutomationsError(ValueError):
    """The automations file or the configuration is not usable."""


@dataclass(frozen=True)
class AppliedAutomation:
    name: str
    id: UUID
    replaced: int  # automations of the same name deleted first
    trigger: str  # one line: what it fires on

    def line(self) -> str:
        return f"{self.name}: {'replaced' if self.replaced else 'created'} ({self.id}) — {self.trigger}"


def parse_duration(text: str) -> timedelta:
    """``"4h"``, ``"90m"``, ``"15s"``, ``"1d"`` -> timedelta.

    >>> parse_duration("4h"), parse_duration("15s")
    (datetime.timedelta(seconds=14400), datetime.timedelta(seconds=15))
    """
    match = _DURATION.match(text)
    if not match:
        raise AutomationsError(f"not a duration (e.g. 4h, 90m, 15s): {text!r}")
    return timedelta(seconds=float(match["n"]) * _UNIT_SECONDS[match["unit"]])


def load_declarations(path: Path = AUTOMATIONS_FILE) -> tuple[str, list[dict[str, Any]]]:
    """The webhook block name and the automations declared in ``path``."""
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    if not isinstance(data, dict) or not isinstance(data.get("automations"), list):
        raise AutomationsError(f"{path}: expected a mapping with an `automations` list")
    block = data.get("webhook_block")
    if not isinstance(block, str) or not block:
        raise AutomationsError(f"{path}: `webhook_block` (the Webhook block's name) is missing")
    return block, data["automations"]


def resolve_declaration(
    declaration: dict[str, Any], *, webhook_block_id: UUID, deadline: timedelta | None = None
) -> Any:
    """One declared automation as Prefect's ``AutomationCore``: webhook actions point at the block,
    and ``deadline`` (if given) replaces the ``within`` of proactive triggers."""
    from prefect.events.schemas.automations import AutomationCore

    declaration = {**declaration, "trigger": dict(declaration["trigger"])}
    if deadline is not None and declaration["trigger"].get("posture") == "Proactive":
        declaration["trigger"]["within"] = deadline.total_seconds()
    declaration["actions"] = [
        {"block_document_id": str(webhook_block_id), **action}
        if action.get("type") == "call-webhook"
        else action
        for action in declaration.get("actions", [])
    ]
    return AutomationCore.model_validate(declaration)


def apply_automations(
    *,
    webhook_url: str | None = None,
    path: Path = AUTOMATIONS_FILE,
    deadline: timedelta | None = None,
) -> list[AppliedAutomation]:
    """Save the webhook block and create (or replace) every automation of ``path`` on the Prefect
    API that PREFECT_API_URL points at."""
    from prefect.blocks.webhook import Webhook
    from prefect.client.orchestration import get_client

    url = webhook_url or os.environ.get(WEBHOOK_URL_ENV)
    if not url:
        raise AutomationsError(f"no webhook URL: set {WEBHOOK_URL_ENV} (or pass --webhook-url)")
    block_name, declarations = load_declarations(path)
    webhook = Webhook.model_validate({"url": url, "headers": {"Content-Type": "application/json"}})
    block_id = webhook.save(block_name, overwrite=True)
    assert isinstance(block_id, UUID)  # the synchronous call returns the id
    automations = [
        resolve_declaration(d, webhook_block_id=block_id, deadline=deadline) for d in declarations
    ]
    applied = []
    with get_client(sync_client=True) as client:
        for automation in automations:
            existing = client.read_automations_by_name(automation.name)
            for old in existing:
                client.delete_automation(old.id)
            new_id = client.create_automation(automation)
            applied.append(
                AppliedAutomation(
                    automation.name,
                    new_id,
                    len(existing),
                    " ".join(automation.trigger.describe_for_cli().split()),
                )
            )
    return applied


def apply_on_configured_api(
    *, webhook_url: str | None, file: str | None, deadline: str | None
) -> tuple[list[AppliedAutomation], str]:
    """`callbook automations apply`: the automations of ``file`` (default AUTOMATIONS_FILE) on
    the Prefect server of PREFECT_API_URL, with ``deadline`` ("4h") if given; returns them and
    the API's URL. Without a configured server there is nowhere to put them: refused."""
    from flows.prefect_api import configured_api_url

    url = configured_api_url()
    if not url:
        raise AutomationsError(
            "automations live on a Prefect server: set PREFECT_API_URL (e.g. "
            "http://127.0.0.1:4200/api after `prefect server start`)"
        )
    applied = apply_automations(
        webhook_url=webhook_url,
        path=Path(file) if file else AUTOMATIONS_FILE,
        deadline=parse_duration(deadline) if deadline else None,
    )
    return applied, url
