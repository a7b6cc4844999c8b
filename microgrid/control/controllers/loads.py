"""Setpoints of controllable consumers (heat pumps, flexible loads, EV depot): plan, override, clamp."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass


@dataclass(frozen=True)
class LoadUnit:
    """A controllable consumer; power is consumption (> 0)."""

    id: str
    p_max_kw: float
    p_min_kw: float = 0.0
    online: bool = True


def load_setpoints(units: tuple[LoadUnit, ...] | list[LoadUnit], plan_kw: Mapping[str, float],
                   overrides_kw: Mapping[str, float]) -> dict[str, float]:
    """Consumption setpoint per online unit: override, else plan, clamped to ``[p_min, p_max]``.

    A unit without a planned value is left out (the device keeps its own control).
    """
    out: dict[str, float] = {}
    for u in units:
        if not u.online:
            continue
        if u.id in overrides_kw:
            value = overrides_kw[u.id]
        elif u.id in plan_kw:
            value = plan_kw[u.id]
        else:
            continue
        out[u.id] = round(min(max(float(value), u.p_min_kw, 0.0), u.p_max_kw), 3)
    return out
