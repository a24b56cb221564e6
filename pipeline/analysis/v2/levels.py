"""The four named levels of a v2 call, kept from one session to the next (hysteresis).

For an upward call (Bullish, or Neutral leaning up) in the up frame of :mod:`.zones`:

* line in the sand: support below the close, wanted 0.25-4 ATR away, the best-scored zone there
  (touches, recency, breakout structure, the SMA50 and SMA200 in it), discounted per ATR beyond
  ``line_preferred_atr``; a zone only a moving average makes (it moves every session) only when
  no other zone lies there;
* bias-defining level: resistance above the close: the zone holding the recent high when it is
  0.25-4 ATR away, else the best-scored zone in that band, else a level *projected*
  ``projected_step_atr`` ATR above the recent high (at all-time highs there is no structure);
* extension: the best resistance zone beyond the bias level, else projected;
* deeper: the best support zone beneath the line, else projected.

When no zone lies 0.25-4 ATR from the close (a crash leaves the nearest structure far away) the
nearest zone is taken, however far, and the distance says so.

A level is kept the next session unless one of these happens; the first that applies is stored
as its change reason (``CHANGE_REASONS``):

* ``new``: the first call, ``orientation``: the call turned from up to down or back;
* ``accepted_through``: two settlements beyond the level by more than ``acceptance_atr`` ATR
  (the project's acceptance rule);
* ``trimmed``: the close came inside the zone (or within ``zone_gap_atr`` ATR of it) without
  acceptance: the zone is cut back, keeping its far edge (the trigger), the line to
  ``level_near_atr`` ATR below the close (so it stays in the 0.25-4 ATR band), the bias to
  ``bias_gap_atr`` ATR above it;
* ``price_inside``: the same, but too little of the zone would be left, or none of the
  structure that put it there: a new level is picked;
* ``out_of_range``: price moved more than ``line_keep_atr`` ATR away from the line (the bias:
  ``level_keep_atr``; the extension and deeper levels: more than that beyond the bias / line);
* ``average_moved``: a zone that only a moving average made (no swing in it) no longer holds
  that average today (it moves every session): a price band with no reason is not a level;
* ``new_structure``: a swing confirmed today makes another zone, clear of this one, score at
  least ``replace_margin`` points more;
* ``reordered``: (extension, deeper) the line or bias moved so that it no longer lies beyond;
* ``narrowed``: today's ATR shrank so that the kept zone is wider than ``zone_max_width_atr``
  ATR: it is cut to that width, keeping its far edge.

Each session the tracker reads only that session's values and its own state from the session
before, so row D depends on rows <= D only and a history cut at D gives the same levels on D.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from pipeline.analysis.v2.params import V2Params
from pipeline.analysis.v2.zones import (
    RECENT_HIGH,
    SMA50,
    SMA200,
    Anchor,
    Zone,
    above,
    below,
    cluster,
    mirrored,
    projected,
    rescored,
    trimmed,
)

LEVEL_ROLES: tuple[str, ...] = ("line", "bias", "ext", "deep")
CHANGE_REASONS: dict[str, str] = {
    "new": "first call",
    "orientation": "the call turned (up <-> down): every level is picked anew",
    "accepted_through": "two settlements beyond it by more than 0.1 ATR: price accepted through",
    "trimmed": "the close came inside the zone without acceptance: cut back, far edge kept",
    "price_inside": "the close came inside the zone without acceptance: a new level is picked",
    "out_of_range": "price moved more than 4 ATR away from it (the line: 4.25 ATR)",
    "new_structure": "a newly confirmed swing makes a better-scored zone elsewhere",
    "average_moved": "the moving average that made it has moved out of it: nothing holds it there",
    "reordered": "the line or bias moved past it: picked again beyond the new one",
    "narrowed": "ATR shrank: the zone is cut to 1 ATR, far edge kept",
}


@dataclass(frozen=True)
class Level:
    """A published level of one session, in the internal frame (actual prices)."""

    zone: Zone
    change: str | None  # a CHANGE_REASONS key when it changed this session, else None
    since: int  # session index on which this level (these bounds' origin) was picked


@dataclass(frozen=True)
class SessionInput:
    close: float
    prev_close: float
    atr: float
    prev_atr: float
    trend: str  # primary trend: Bullish | Bearish | Neutral
    sma50_side: int | None  # +1 / -1: price accepted above / below the SMA50 (regime.accepted_side)
    recent_high: float
    recent_low: float
    recent_high_at: int  # session index of the recent high / low
    recent_low_at: int
    new_structure: bool  # a swing pivot was confirmed this session


class LevelTracker:
    """Picks and keeps the four levels session by session (see the module docstring)."""

    def __init__(self, params: V2Params) -> None:
        self.p = params
        self.up: bool | None = None
        #: The last line a close went through without acceptance (oriented frame), until price
        #: settles back above it or the call turns.
        self.broken: Zone | None = None
        #: role -> (zone in the oriented frame, session index it was picked on)
        self.state: dict[str, tuple[Zone, int]] = {}

    def step(
        self, i: int, s: SessionInput, anchors_of: Callable[[bool], Sequence[Anchor]]
    ) -> dict[str, Level]:
        """The levels of session ``i``. ``anchors_of(up)`` gives the session's anchors in the
        call's frame (mirrored for a down call, see :func:`.zones.mirrored_anchor`); it is called
        only when a zone has to be (re)considered."""
        p = self.p
        up = self._orientation(s)
        flipped = self.up is not None and up != self.up
        if self.up is None:
            self.up = up
        elif flipped:
            # The levels stay on the chart; their roles swap (old resistance above the close can
            # be the new line of a downward call, old support below its bias), then each is
            # checked like any kept level. Every role reports the turn as its change.
            old = self.state
            self.up = up
            self.state = {
                new_role: (mirrored(old[old_role][0]), i)
                for new_role, old_role in (
                    ("line", "bias"),
                    ("bias", "line"),
                    ("deep", "ext"),
                    ("ext", "deep"),
                )
                if old_role in old
            }
        fresh = "orientation" if flipped else "new"
        if flipped or (
            self.broken is not None and (s.close if up else -s.close) > self.broken.high
        ):
            self.broken = None
        sign = 1.0 if up else -1.0
        atr = s.atr
        view = _View(
            c=sign * s.close,
            pc=sign * s.prev_close,
            atr=atr,
            acc=p.acceptance_atr * atr,
            acc_prev=p.acceptance_atr * s.prev_atr,
            gap=p.zone_gap_atr * atr,
            bias_gap=p.bias_gap_atr * atr,
            min_width=p.zone_min_width_atr * atr,
            trim_min=p.zone_trim_min_atr * atr,
            near=p.level_near_atr * atr,
            top=s.recent_high if up else -s.recent_low,
            bottom=s.recent_low if up else -s.recent_high,
            top_at=s.recent_high_at if up else s.recent_low_at,
            bottom_at=s.recent_low_at if up else s.recent_high_at,
            i=i,
        )
        cache: dict[str, list] = {}

        def anchors() -> list[Anchor]:
            if "anchors" not in cache:
                cache["anchors"] = list(anchors_of(up))
            return cache["anchors"]

        def zones() -> list[Zone]:
            if "zones" not in cache:
                cache["zones"] = cluster(anchors(), atr=atr, params=p)
            return cache["zones"]

        new = s.new_structure
        out: dict[str, Level] = {}

        def settle(
            role: str, kept: tuple[Zone | None, str | None], pick: Callable[[], Zone], support: bool
        ) -> tuple[Zone, str | None, int]:
            return self._settle(role, i, fresh, kept, pick, support=support, atr=atr)

        def pick_beyond(edge: float, support: bool) -> Callable[[], Zone]:
            return lambda: self._pick_beyond(zones(), edge, view, support=support)

        kept = self._keep_near("line", view, new, zones, anchors)
        line = settle("line", kept, lambda: self._pick_line(zones(), view), True)
        kept = self._keep_near("bias", view, new, zones, anchors)
        bias = settle("bias", kept, lambda: self._pick_bias(zones(), view), False)
        # The deeper level lies beneath the line, the extension beyond the bias.
        below, above = line[0].low, bias[0].high
        kept = self._keep_beyond("deep", below, True, view, new, zones, anchors)
        deep = settle("deep", kept, pick_beyond(below, True), True)
        kept = self._keep_beyond("ext", above, False, view, new, zones, anchors)
        ext = settle("ext", kept, pick_beyond(above, False), False)
        for role, (zone, change, since) in zip(LEVEL_ROLES, (line, bias, ext, deep), strict=True):
            self.state[role] = (zone, since)
            out[role] = Level(zone if up else mirrored(zone), change, since)
        return out

    def _orientation(self, s: SessionInput) -> bool:
        """Up (True) for a Bullish trend, down for a Bearish one. A Neutral trend keeps the
        orientation it has until price accepts through the line in the sand (two settlements
        beyond its far edge by more than ``acceptance_atr`` ATR): the call then turns. The first
        call of a Neutral trend leans to the side of the SMA50 price is accepted on."""
        if s.trend == "Bullish":
            return True
        if s.trend == "Bearish":
            return False
        if self.up is None:
            return s.sma50_side is None or s.sma50_side >= 0
        sign = 1.0 if self.up else -1.0
        c, pc = sign * s.close, sign * s.prev_close
        threshold = self.p.acceptance_atr * s.atr
        prev_threshold = self.p.acceptance_atr * s.prev_atr
        kept = self.state.get("line")
        # The line a close broke without acceptance was replaced that session (a published line
        # is never above the close): acceptance through it still turns the call.
        for zone in (kept[0] if kept is not None else None, self.broken):
            if zone is not None and c < zone.low - threshold and pc < zone.low - prev_threshold:
                return not self.up
        return self.up

    def _settle(
        self,
        role: str,
        i: int,
        fresh: str,
        kept: tuple[Zone | None, str | None],
        pick: Callable[[], Zone],
        *,
        support: bool,
        atr: float,
    ) -> tuple[Zone, str | None, int]:
        """(zone, change reason or None, session picked) after keeping or picking, width-capped."""
        zone, reason = kept
        previous = self.state.get(role)
        since = previous[1] if previous is not None else i
        if fresh == "orientation":
            reason, since = fresh, i
        if zone is None:
            zone, since = pick(), i
            reason = reason or fresh
        cap = self.p.zone_max_width_atr * atr
        if zone.high - zone.low > cap:
            zone = (
                trimmed(zone, zone.low, zone.low + cap, self.p.zone_max_scored_swings)
                if support
                else trimmed(zone, zone.high - cap, zone.high, self.p.zone_max_scored_swings)
            )
            reason = reason or "narrowed"
        return zone, reason, since

    # --- keeping --------------------------------------------------------------------------------

    def _keep_near(
        self,
        role: str,
        v: _View,
        new: bool,
        zones: Callable[[], list[Zone]],
        anchors: Callable[[], list[Anchor]],
    ) -> tuple[Zone | None, str | None]:
        """Keep the line in the sand (support below the close) or the bias-defining level
        (resistance above it), or say why not (the module docstring's change reasons)."""
        kept = self.state.get(role)
        if kept is None:
            return None, None
        zone = kept[0]
        line = role == "line"
        if line:
            accepted = v.c < zone.low - v.acc and v.pc < zone.low - v.acc_prev
        else:
            accepted = v.c > zone.high + v.acc and v.pc > zone.high + v.acc_prev
        if accepted:
            return None, "accepted_through"
        if zone.high > v.c - v.gap if line else zone.low < v.c + v.bias_gap:
            # The line is cut back to level_near_atr under the close, not to the gap: a line
            # 0.1 ATR under the close is out of the band and the next close a little lower cuts
            # it again (on ES such lines lasted a median of 1 session; bench/bench_quality.py).
            # The bias is cut to bias_gap_atr above the close (price at it has reached it).
            edge = v.c - v.near if line else v.c + v.bias_gap
            if (edge - zone.low if line else zone.high - edge) >= v.trim_min:
                cut = trimmed(
                    zone,
                    zone.low if line else edge,
                    edge if line else zone.high,
                    self.p.zone_max_scored_swings,
                )
                if _still_structure(cut):
                    return cut, "trimmed"
            if line and v.c < zone.low:
                self.broken = zone
            return None, "price_inside"
        if self._average_moved(zone, anchors):
            return None, "average_moved"
        pick, key = (self._pick_line, self._line_key) if line else (self._pick_bias, self._bias_key)

        def away(z: Zone) -> float:
            return v.c - z.high if line else z.low - v.c

        if away(zone) > (self.p.line_keep_atr if line else self.p.level_keep_atr) * v.atr:
            best = pick(zones(), v)
            if best.projected or self._in_band(away(best) / v.atr):
                return None, "out_of_range"
        if new and away(zone) > self.p.trail_after_atr * v.atr:
            best = pick(zones(), v)
            rescored_zone = rescored(zone, anchors(), self.p.zone_max_scored_swings)
            if self._better(best, rescored_zone, lambda z: key(z, v)):
                return None, "new_structure"
        return zone, None

    def _keep_beyond(
        self,
        role: str,
        edge: float,
        support: bool,
        v: _View,
        new: bool,
        zones: Callable[[], list[Zone]],
        anchors: Callable[[], list[Anchor]],
    ) -> tuple[Zone | None, str | None]:
        kept = self.state.get(role)
        if kept is None:
            return None, None
        zone = kept[0]
        if (zone.high > edge - v.gap) if support else (zone.low < edge + v.gap):
            return None, "reordered"
        beyond = (edge - zone.high) if support else (zone.low - edge)
        if beyond > self.p.level_keep_atr * v.atr:
            return None, "out_of_range"
        if self._average_moved(zone, anchors):
            return None, "average_moved"
        if new:
            best = self._pick_beyond(zones(), edge, v, support=support)
            if self._better(
                best,
                rescored(zone, anchors(), self.p.zone_max_scored_swings),
                lambda z: self._beyond_key(z, edge, v, support),
            ):
                return None, "new_structure"
        return zone, None

    @staticmethod
    def _average_moved(zone: Zone, anchors: Callable[[], list[Anchor]]) -> bool:
        """A real zone whose members are moving averages only, none of which lies in it today
        (today's anchors are read only for such zones: the per-session loop is the hot path)."""
        if not _averages_only(zone):
            return False
        averages = (SMA50, SMA200)
        return not any(a.source in averages and zone.low <= a.price <= zone.high for a in anchors())

    def _better(self, best: Zone, current: Zone, key: Callable[[Zone], float]) -> bool:
        """New structure replaces a kept zone: real, clear of it, and better by the margin."""
        return (
            not best.projected
            and not best.overlaps(current)
            and key(best) >= key(current) + self.p.replace_margin
        )

    # --- picking --------------------------------------------------------------------------------

    def _discounted(
        self, zone: Zone, distance_atr: float, *, preferred: float, discount: float
    ) -> float:
        return zone.score - discount * abs(distance_atr - preferred)

    def _line_key(self, zone: Zone, v: _View) -> float:
        return self._discounted(
            zone,
            (v.c - zone.high) / v.atr,
            preferred=self.p.line_preferred_atr,
            discount=self.p.line_distance_discount,
        )

    def _bias_key(self, zone: Zone, v: _View) -> float:
        return self._discounted(
            zone,
            (zone.low - v.c) / v.atr,
            preferred=self.p.level_preferred_atr,
            discount=self.p.level_distance_discount,
        )

    def _beyond_key(self, zone: Zone, edge: float, v: _View, support: bool) -> float:
        return self._discounted(
            zone,
            (edge - zone.high if support else zone.low - edge) / v.atr,
            preferred=self.p.level_preferred_atr,
            discount=self.p.level_distance_discount,
        )

    def _in_band(self, distance_atr: float) -> bool:
        return self.p.level_near_atr <= distance_atr <= self.p.level_far_atr

    def _pick_line(self, zones: list[Zone], v: _View) -> Zone:
        candidates = below(
            zones, v.c - v.gap, min_width=v.min_width, max_swings=self.p.zone_max_scored_swings
        )
        in_band = [z for z in candidates if self._in_band((v.c - z.high) / v.atr)]
        # A zone only a moving average makes leaves with the average (average_moved, within a
        # few sessions): the line is picked on structure when there is any in the band.
        in_band = [z for z in in_band if not _averages_only(z)] or in_band
        # A line picked hard under the close is tested by the next dip: nearer than
        # line_min_pick_atr only when nothing lies between that and level_far_atr.
        comfortable = [z for z in in_band if (v.c - z.high) / v.atr >= self.p.line_min_pick_atr]
        if comfortable or in_band:
            best = max(comfortable or in_band, key=lambda z: (self._line_key(z, v), z.high))
            return self._buffered(best, v)
        # Nothing 0.25-4 ATR below (a runaway move left the structure far behind, or it all
        # lies hard under the close): a line projected line_preferred_atr below the close.
        width = self.p.projected_width_atr * v.atr
        top = v.c - self.p.line_preferred_atr * v.atr
        return projected(top - width / 2, width=width, basis="close", basis_index=v.i)

    def _buffered(self, zone: Zone, v: _View) -> Zone:
        """The line's zone reaching ``line_buffer_atr`` ATR below its lowest member (a close a
        little under the swing lows is a test of the line, not its loss), never wider than
        ``zone_max_width_atr`` ATR."""
        cap = self.p.zone_max_width_atr * v.atr
        low = max(zone.low - self.p.line_buffer_atr * v.atr, zone.high - cap)
        return Zone(low, zone.high, zone.score, zone.members, zone.projected, zone.basis,
                    zone.basis_index) if low < zone.low else zone  # fmt: skip

    def _pick_bias(self, zones: list[Zone], v: _View) -> Zone:
        candidates = above(
            zones, v.c + v.bias_gap, min_width=v.min_width, max_swings=self.p.zone_max_scored_swings
        )
        in_band = [z for z in candidates if self._in_band((z.low - v.c) / v.atr)]
        holding_recent = [z for z in in_band if any(a.source == RECENT_HIGH for a in z.members)]
        if holding_recent:
            return holding_recent[0]
        if in_band:
            return max(in_band, key=lambda z: (self._bias_key(z, v), -z.low))
        if candidates:
            return min(candidates, key=lambda z: z.low)
        width = self.p.projected_width_atr * v.atr
        start, basis, at = (v.c, "close", v.i) if v.c >= v.top else (v.top, RECENT_HIGH, v.top_at)
        return projected(
            start + self.p.projected_step_atr * v.atr + width / 2,
            width=width,
            basis=basis,
            basis_index=at,
        )

    def _pick_beyond(self, zones: list[Zone], edge: float, v: _View, *, support: bool) -> Zone:
        p = self.p
        width = p.projected_width_atr * v.atr
        if support:
            candidates = [
                z
                for z in below(
                    zones,
                    edge - v.gap,
                    min_width=v.min_width,
                    max_swings=self.p.zone_max_scored_swings,
                )
                if z.touches
            ]
            if candidates:
                return max(candidates, key=lambda z: (self._beyond_key(z, edge, v, True), z.high))
            return projected(
                edge - p.extension_step_atr * v.atr - width / 2, width=width, basis="line"
            )
        candidates = [
            z
            for z in above(
                zones, edge + v.gap, min_width=v.min_width, max_swings=self.p.zone_max_scored_swings
            )
            if z.touches
        ]
        if candidates:
            return max(candidates, key=lambda z: (self._beyond_key(z, edge, v, False), -z.low))
        return projected(edge + p.extension_step_atr * v.atr + width / 2, width=width, basis="bias")


def _averages_only(zone: Zone) -> bool:
    """A real zone whose members are all moving averages (no swing, no recent extreme)."""
    return not zone.projected and all(a.source in (SMA50, SMA200) for a in zone.members)


def _still_structure(zone: Zone) -> bool:
    """A zone cut back to the close still holds a member (a projected zone never has one): cut
    below its last swing it would be a price band with no reason to be there."""
    return zone.projected or bool(zone.members)


@dataclass(frozen=True)
class _View:
    """One session in the oriented frame (prices negated for a downward call)."""

    c: float  # close
    pc: float  # previous close
    atr: float
    acc: float  # acceptance threshold today, points
    acc_prev: float  # ... yesterday
    gap: float  # least distance of the line (and every zone) from the close, points
    bias_gap: float  # least distance of the bias-defining level from the close, points
    min_width: float
    trim_min: float  # least width left of a zone cut back to the close
    near: float  # a line cut back to the close is cut this far under it, points
    top: float  # the recent extreme beyond the bias side (recent high for an up call)
    bottom: float  # ... beyond the line side
    top_at: int  # their sessions
    bottom_at: int
    i: int  # this session
