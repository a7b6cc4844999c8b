"""Pure allocation helpers: ramp windows, proportional-to-headroom sharing, equal-percentage PV limits."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass


def ramp_window(previous_kw: float, rate_kw_per_s: float | None, dt_s: float) -> tuple[float, float]:
    """Setpoint range reachable from ``previous_kw`` within ``dt_s`` at ``rate_kw_per_s`` (None = any)."""
    if rate_kw_per_s is None:
        return float("-inf"), float("inf")
    step = rate_kw_per_s * max(dt_s, 0.0)
    return previous_kw - step, previous_kw + step


def intersect(bounds: tuple[float, float], window: tuple[float, float]) -> tuple[float, float]:
    """``bounds`` ∩ ``window``; when they do not overlap the hard ``bounds`` win (safety over ramping).

    The result is then the end of ``bounds`` nearest to the window, e.g. a BMS that forbids charging while
    the unit charges at 200 kW gives (0, 0) at once, not a ramp down.
    """
    lo, hi = max(bounds[0], window[0]), min(bounds[1], window[1])
    if lo <= hi:
        return lo, hi
    nearest = bounds[0] if window[1] < bounds[0] else bounds[1]
    return nearest, nearest


@dataclass(frozen=True)
class Slot:
    """One unit taking part in an allocation: its starting value and allowed range."""

    id: str
    base_kw: float
    lo_kw: float
    hi_kw: float


def share_by_headroom(total_kw: float, slots: Sequence[Slot]) -> tuple[dict[str, float], float]:
    """Set the slots so they sum to ``total_kw`` as closely as their ranges allow.

    Each slot starts at its base (clipped into its range); the residual is shared in proportion to each
    slot's headroom in the residual's direction, which is exact in one pass (no slot is pushed past its
    range). Returns the values and the part of ``total_kw`` that could not be placed (> 0: more wanted).
    """
    values = {s.id: min(max(s.base_kw, s.lo_kw), s.hi_kw) for s in slots}
    residual = total_kw - sum(values.values())
    if abs(residual) < 1e-9 or not slots:
        return values, residual
    if residual > 0:
        room = {s.id: s.hi_kw - values[s.id] for s in slots}
    else:
        room = {s.id: values[s.id] - s.lo_kw for s in slots}
    total_room = sum(room.values())
    if total_room <= 1e-12:
        return values, residual
    fraction = min(abs(residual) / total_room, 1.0)
    sign = 1.0 if residual > 0 else -1.0
    for s in slots:
        values[s.id] += sign * fraction * room[s.id]
    return values, residual - sign * fraction * total_room


def share_in_tiers(total_kw: float, tiers: Sequence[Sequence[Slot]]) -> tuple[dict[str, float], float]:
    """:func:`share_by_headroom` tier after tier: later tiers move only for what earlier ones cannot take.

    All slots start at their base; tier 0 takes the residual first, tier 1 the rest, and so on. Used to
    keep manually overridden units at their override unless a hard limit needs them.
    """
    values: dict[str, float] = {s.id: min(max(s.base_kw, s.lo_kw), s.hi_kw) for tier in tiers for s in tier}
    residual = total_kw - sum(values.values())
    for tier in tiers:
        if abs(residual) < 1e-9:
            break
        fixed = sum(values[s.id] for s in tier)
        moved, residual = share_by_headroom(fixed + residual, [Slot(s.id, values[s.id], s.lo_kw, s.hi_kw)
                                                               for s in tier])
        values.update(moved)
    return values, residual


def equal_percentage_limits(cap_kw: float, ratings_kw: Mapping[str, float],
                            available_kw: Mapping[str, float]) -> dict[str, float]:
    """PV limits at one common percentage of rating so that the expected total output is ``cap_kw``.

    Expected output of a plant at limit ``x·rating`` is ``min(x·rating, available)``; the common ``x``
    (0–1) is found exactly by walking the plants in order of ``available/rating``. Plants that cannot use
    their share leave it to the others (fair curtailment across tenants). Returns limits in kW.
    """
    if not ratings_kw:
        return {}
    if cap_kw <= 0:
        return {k: 0.0 for k in ratings_kw}
    if sum(min(available_kw[k], r) for k, r in ratings_kw.items()) <= cap_kw:
        return dict(ratings_kw)
    order = sorted(ratings_kw, key=lambda k: available_kw[k] / ratings_kw[k] if ratings_kw[k] > 0 else 1.0)
    saturated = 0.0  # output of plants whose availability is below x·rating
    rating_left = sum(ratings_kw.values())
    x = 1.0
    for k in order:
        r = ratings_kw[k]
        if rating_left <= 1e-12:
            break
        x = (cap_kw - saturated) / rating_left
        knee = available_kw[k] / r if r > 0 else 1.0
        if x <= knee:
            break
        saturated += min(available_kw[k], r)
        rating_left -= r
    x = min(max(x, 0.0), 1.0)
    return {k: x * r for k, r in ratings_kw.items()}
