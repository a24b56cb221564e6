"""What a build redraws, and the methodology comparison on shared sessions."""

from __future__ import annotations

from datetime import date, timedelta

import numpy as np
import polars as pl
import pytest

from pipeline.audit.scores import paired_difference
from pipeline.report.site import paths, plan


def index(n: int = 4, **overrides) -> pl.DataFrame:
    days = [date(2026, 2, 2) + timedelta(days=i) for i in range(n)]
    frame = pl.DataFrame(
        {
            "snapshot_id": [f"RTY/{d}/callbook/v1/demo/v1" for d in days],
            "root": ["RTY"] * n,
            "as_of": days,
            "author": ["callbook"] * n,
            "methodology_version": ["v1"] * n,
            "source": ["demo"] * n,
            "page_inputs": [f"h{i}" for i in range(n)],
            "outcome": ["bull"] * (n - 1) + [None],
        }
    )
    return frame.with_columns(**overrides) if overrides else frame


def test_call_pages_link_neighbours_and_hash_their_inputs() -> None:
    pages = plan.call_pages(index(), code="c1")
    assert pages["path"][0] == paths.call_path("RTY", date(2026, 2, 2), "callbook", "v1", "demo")
    assert pages["previous_path"].to_list() == [None, *pages["path"].to_list()[:-1]]
    assert pages["next_path"].to_list() == [*pages["path"].to_list()[1:], None]
    assert pages["inputs"].n_unique() == 4


def test_only_the_published_methodology_and_analysts_have_call_pages() -> None:
    frame = pl.concat(
        [
            index(),
            index(methodology_version=pl.lit("v3")),
            index(n=1, author=pl.lit("seed-note"), methodology_version=pl.lit("analyst")),
        ]
    )
    pages = plan.call_pages(frame, code="c1", published="v3")
    own = {
        (m, a): set(part["own_page"].to_list())
        for (m, a), part in pages.group_by("methodology_version", "author")
    }
    assert own == {("v3", "callbook"): {True}, ("v1", "callbook"): {False},
                   ("analyst", "seed-note"): {True}}  # fmt: skip
    assert plan.call_pages(frame, code="c1")["own_page"].all()  # no published one: every call
    # A link to a call without a page lands on its row of its year page.
    assert (
        paths.call_target("RTY", date(2026, 2, 2), "callbook", "v1", "demo", published="v3")
        == "roots/RTY/2026.html#2026-02-02-callbook-v1-demo"
    )
    assert paths.call_target(
        "RTY", date(2026, 2, 2), "callbook", "v3", "demo", published="v3"
    ) == paths.call_path("RTY", date(2026, 2, 2), "callbook", "v3", "demo")


def test_only_the_pages_whose_inputs_changed_are_stale() -> None:
    before = plan.call_pages(index(), code="c1")
    manifest = dict(before.select("path", "inputs").iter_rows())
    # A new reading of the open call's status so far redraws that page only.
    moved = plan.call_pages(
        index().with_columns(
            pl.when(pl.col("outcome").is_null())
            .then(pl.lit("h3-progress"))
            .otherwise("page_inputs")
            .alias("page_inputs")
        ),
        code="c1",
    )
    assert plan.stale(moved, manifest)["as_of"].to_list() == [date(2026, 2, 5)]
    # A new version of one call (its stored facts changed) redraws that page only.
    revised = index().with_columns(
        pl.when(pl.col("as_of") == date(2026, 2, 3))
        .then(pl.lit("h1b"))
        .otherwise("page_inputs")
        .alias("page_inputs")
    )
    changed = plan.call_pages(revised, code="c1")
    assert plan.stale(changed, manifest)["as_of"].to_list() == [date(2026, 2, 3)]
    # A new call appends a page and changes the link of the one before.
    grown = plan.call_pages(index(5), code="c1")
    assert sorted(plan.stale(grown, manifest)["as_of"].to_list()) == [
        date(2026, 2, 5), date(2026, 2, 6)
    ]  # fmt: skip
    # New site code redraws everything.
    recoded = plan.call_pages(index(), code="c2")
    assert plan.stale(recoded, manifest).height == 4
    assert plan.stale(before, manifest).height == 0


def test_same_day_calls_see_each_other() -> None:
    both = pl.concat(
        [
            index(2),
            index(2).with_columns(
                author=pl.lit("seed-note"), methodology_version=pl.lit("analyst")
            ),
        ]
    )
    pages = plan.call_pages(both, code="c")
    shared = plan.same_day_map(pages)
    assert [r["author"] for r in shared[("RTY", date(2026, 2, 2))]] == ["callbook", "seed-note"]


def scored(version: str, days: list[date], rps: list[float], ref: list[float]) -> pl.DataFrame:
    return pl.DataFrame(
        {
            "root": "RTY", "author": "callbook", "kind": "backfill", "source": "demo",
            "methodology_version": version, "as_of": days, "rps": rps, "ref_rps": ref,
            "horizon_sessions": 2,
        }
    )  # fmt: skip


def test_methodologies_are_compared_on_the_sessions_both_called() -> None:
    days = [date(2026, 2, 2) + timedelta(days=i) for i in range(8)]
    v1 = scored("v1", days, [0.2, 0.4] * 4, [0.25] * 8)
    v2 = scored("v2", days[2:], [0.1, 0.2] * 3, [0.3] * 6)  # v2 starts two sessions later
    table = plan.methodology_comparison(pl.concat([v1, v2]), order=["v2", "v1"], n_boot=300)
    row = table.row(0, named=True)
    assert (row["a"], row["b"], row["sessions"]) == ("v2", "v1", 6)  # the published one first
    assert row["mean_rps_a"] == pytest.approx(0.15) and row["mean_rps_b"] == pytest.approx(0.3)
    # By hand: RPS v2 - v1 per session -0.1, -0.2, ...; relative to each one's reference
    # (-0.2 - -0.05, -0.1 - 0.15) = -0.15, -0.25, ...
    assert row["rps_difference"] == pytest.approx(-0.15)
    assert row["vs_reference_difference"] == pytest.approx(-0.2)
    # The audit's one interval rule (blocks of three horizons, at most half the calls).
    expected = paired_difference(
        np.array([0.1, 0.2] * 3), np.array([0.2, 0.4] * 3), horizon=2, n_boot=300
    )
    assert (row["rps_low"], row["rps_high"]) == pytest.approx((expected.low, expected.high))
    assert row["rps_low"] < -0.15 < row["rps_high"] and row["interval"] is None
    assert plan.methodology_comparison(v1, order=["v1"]).height == 0  # nothing to compare
    # A constant difference has no spread: the interval is the difference itself.
    same = scored("v2", days, [0.15, 0.35] * 4, [0.25] * 8)
    flat = plan.methodology_comparison(pl.concat([v1, same]), order=["v2", "v1"], n_boot=300)
    assert (flat["rps_low"][0], flat["rps_high"][0]) == pytest.approx((-0.05, -0.05))
    # Fewer than three horizons of shared sessions: the differences, but no interval.
    short = plan.methodology_comparison(pl.concat([v1, v2.head(5)]), order=["v2", "v1"], n_boot=300)
    assert short["rps_difference"][0] == pytest.approx(-0.14)
    assert short["rps_low"][0] is None and "too few paired calls" in short["interval"][0]
