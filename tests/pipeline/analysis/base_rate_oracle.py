"""A slow, obvious oracle of the point-in-time base rates (tests only).

For the call on row ``i`` of a call table it lists, by plain loops, every earlier call whose
outcome was known by then (resolved, and ``t + H <= i``), counts their outcomes among all of
them (climatology), among those in the same barrier-distance cell (geometry) and among those in
the same full state, and shrinks each toward the one before with its pseudo-counts. Nothing of
pipeline.analysis.scenarios or pipeline.analysis.climatology is used, so a test comparing stored
evidence with it checks the evidence, not an identity.
"""

from __future__ import annotations

from dataclasses import dataclass

import polars as pl

OUTCOMES = ("bear", "sideways", "bull")


@dataclass(frozen=True)
class Rates:
    clim: tuple[float, float, float]
    geo: tuple[float, float, float]
    base: tuple[float, float, float]
    n: tuple[int, int, int]  # state analog counts by outcome
    n_geometry: int


def base_rates_at(
    table: pl.DataFrame,
    i: int,
    *,
    horizon: int,
    prior_weight: float,
    geometry_weight: float,
    state_weight: float,
) -> Rates:
    """The base rates of the call on row ``i`` of ``table`` (state_key, geometry_key, outcome)."""
    rows = table.select("state_key", "geometry_key", "outcome").rows()
    state, geometry, _ = rows[i]
    known = [
        (s, g, o)
        for t, (s, g, o) in enumerate(rows[:i])
        if s is not None and o is not None and o >= 0 and t + horizon <= i
    ]

    def counts(members: list[tuple]) -> list[int]:
        return [sum(1 for m in members if m[2] == k) for k in range(3)]

    everything = counts(known)
    in_cell = counts([m for m in known if m[1] == geometry])
    in_state = counts([m for m in known if m[0] == state])
    clim = [(c + prior_weight / 3) / (sum(everything) + prior_weight) for c in everything]
    geo = [
        (c + geometry_weight * pi) / (sum(in_cell) + geometry_weight)
        for c, pi in zip(in_cell, clim, strict=True)
    ]
    base = [
        (c + state_weight * g) / (sum(in_state) + state_weight)
        for c, g in zip(in_state, geo, strict=True)
    ]
    return Rates(tuple(clim), tuple(geo), tuple(base), tuple(in_state), sum(in_cell))  # type: ignore[arg-type]
