"""deployments/prefect.yaml is what `prefect deploy` accepts, and points at a real flow."""

from __future__ import annotations

import importlib
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]


def test_prefect_yaml_validates_with_prefects_own_model() -> None:
    from prefect.cli.deploy._models import PrefectYamlModel

    raw = yaml.safe_load((ROOT / "deployments" / "prefect.yaml").read_text())
    model = PrefectYamlModel.model_validate(raw)
    (nightly,) = model.deployments
    assert nightly.name == "nightly"
    schedule = nightly.schedules[0]
    assert schedule.cron == "15 18 * * 1-5"
    assert schedule.timezone == "America/New_York"
    assert nightly.work_pool.name == "callbook-process"


def test_entrypoint_is_the_nightly_flow() -> None:
    raw = yaml.safe_load((ROOT / "deployments" / "prefect.yaml").read_text())
    module_path, _, attr = raw["deployments"][0]["entrypoint"].partition(":")
    module = importlib.import_module(module_path.removesuffix(".py").replace("/", "."))
    flow = getattr(module, attr)
    assert flow.name == "callbook-nightly"
    assert set(raw["deployments"][0]["parameters"]) <= set(flow.parameters.properties)


def test_flow_modules_keep_their_annotations_evaluated() -> None:
    """A served flow is pickled by value into its run's process; with postponed annotations
    (`from __future__ import annotations`) its `date` parameter no longer resolves there and every
    run fails ("`NightlyModel` is not fully defined; you should define `date`")."""
    from flows.history import backfill, resolve
    from flows.nightly import ingest, nightly

    for flow in (nightly, ingest, backfill, resolve):
        strings = {k: v for k, v in flow.fn.__annotations__.items() if isinstance(v, str)}
        assert strings == {}, f"{flow.name}: annotations left as strings: {strings}"
