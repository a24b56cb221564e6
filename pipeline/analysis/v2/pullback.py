"""The last pullback's depth and speed: the definition behind "pullbacks shallow and corrective".

A pullback retraces part of the last impulse. When price gives back more than the whole impulse
it is no longer a pullback (v1 called a 750 % retracement a pullback): :func:`pullback` then says
the impulse was *erased* and the note says so instead.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

from pipeline.analysis.v2.params import V2Params


class Pullback(NamedTuple):
    retracement: float  # fraction of the impulse given back (> 1: the impulse is erased)
    depth: str  # shallow | moderate | deep | erased
    speed: str  # corrective | impulsive
    start_index: int  # where the impulse started (its low for an up move)
    extreme_index: int  # where it ended (the recent high)
    back_index: int  # the furthest point of the pullback since (its lowest low)


def pullback(
    high: Sequence[float], low: Sequence[float], i: int, *, up: bool, params: V2Params
) -> Pullback | None:
    """The pullback on session ``i`` against the direction of the call (up: a dip from a high).

    Definition (up; down mirrors every comparison): the *extreme* is the highest high of the
    last ``bias_high_window`` sessions (the latest of equal highs); none while it is today's. The
    *impulse* is the rise to it from the lowest low between it and the last earlier session whose
    high was higher, at most ``impulse_lookback`` sessions back (the latest of equal lows; an
    earlier equal high is the same top, not the start of the move). The
    *pullback* is the lowest low after the extreme. Retracement = (extreme - pullback low) /
    (extreme - impulse low); depth: shallow if <= ``shallow_retracement``, deep if >
    ``deep_retracement``, erased if > 1, else moderate. Speed: impulsive if the pullback lost more
    points per session (extreme to its low) than the impulse gained per session (its low to the
    extreme), else corrective. None when there is no impulse: a flat window, or an extreme whose
    own low is the lowest since the last higher high (the window's high is its first session, on
    the way down from a higher one: "the last advance from 2 Nov to 2 Nov" would be that one
    bar's range).

    >>> h = [10.0, 11.0, 12.0, 15.0, 14.0, 13.0]
    >>> l = [9.0, 10.0, 11.0, 14.0, 13.0, 12.0]
    >>> pullback(h, l, 5, up=True, params=V2Params())
    Pullback(retracement=0.5, depth='moderate', speed='corrective', start_index=0, extreme_index=3, back_index=5)
    >>> pullback([15.0, 14.0, 13.0], [12.0, 12.5, 11.0], 2, up=True, params=V2Params()) is None
    True
    """
    toward, against = (high, low) if up else (low, high)
    sign = 1.0 if up else -1.0
    first = max(0, i - params.bias_high_window + 1)
    e_idx, extreme = first, sign * toward[first]
    for j in range(first + 1, i + 1):
        if sign * toward[j] >= extreme:
            e_idx, extreme = j, sign * toward[j]
    if e_idx == i:
        return None
    start_idx, start_value = e_idx, sign * against[e_idx]
    for j in range(e_idx - 1, max(-1, e_idx - params.impulse_lookback - 1), -1):
        if sign * toward[j] > extreme:
            break
        if sign * against[j] < start_value:
            start_idx, start_value = j, sign * against[j]
    b_idx, back = e_idx + 1, sign * against[e_idx + 1]
    for j in range(e_idx + 2, i + 1):
        if sign * against[j] < back:
            b_idx, back = j, sign * against[j]
    impulse = extreme - start_value
    if start_idx == e_idx or not impulse > 0:  # one bar's own range is no advance
        return None
    given_back = extreme - back
    retracement = given_back / impulse
    if retracement > 1:
        depth = "erased"
    elif retracement <= params.shallow_retracement:
        depth = "shallow"
    elif retracement > params.deep_retracement:
        depth = "deep"
    else:
        depth = "moderate"
    impulse_speed = impulse / max(e_idx - start_idx, 1)
    pullback_speed = given_back / max(b_idx - e_idx, 1)
    speed = "impulsive" if pullback_speed > impulse_speed else "corrective"
    return Pullback(round(retracement, 4), depth, speed, start_idx, e_idx, b_idx)
