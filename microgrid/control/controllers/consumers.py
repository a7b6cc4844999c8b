"""Controllable consumers in the real-time loop: heat-pump switching and priority shedding for hard limits.

Power is consumption (> 0), kW. Pure functions plus one small record of heat-pump switching times.

- **Heat pumps** follow the plan with an on/off decision: a setpoint below half the unit's minimum power
  means *off* (``run_cmd`` 0), otherwise the setpoint is at least the minimum. A unit that has run less than
  its minimum run time stays on (at least at its minimum); one stopped less than its minimum stop time
  stays off. The tank guard overrides both: at or below the tank's minimum temperature (+ ``guard_k``) the
  unit runs at full power, at or above the maximum (− ``guard_k``) it may not be raised.
- **Shedding** (:func:`shift_consumption`): when the PCC (or a transformer) would cross a hard limit after
  storage and PV have done what they can, consumers give up consumption tier by tier in a configured
  priority (default: curtailable, shiftable, EV depots, deferrable, heat pumps), each within its own
  limits; the opposite direction (absorbing export) raises consumption the same way. What cannot be placed
  is returned so the caller can name the limit it cannot hold.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime

from microgrid.control.controllers.allocate import Slot, share_by_headroom

SHED_ORDER: tuple[str, ...] = ("curtailable", "shiftable", "ev_depot", "deferrable", "heat_pump")
"""Default priority in which consumers are shed for the import cap (first = shed first)."""

PEAK_SHED_KINDS: frozenset[str] = frozenset({"curtailable", "shiftable", "ev_depot"})
"""Consumers also shed to hold the demand target (the others only for hard limits)."""


@dataclass(frozen=True)
class Consumer:
    """A controllable consumer as seen this cycle."""

    id: str
    kind: str
    """``heat_pump``, ``curtailable``, ``shiftable``, ``deferrable`` or ``ev_depot``."""
    bus: str
    p_kw: float
    """Measured consumption, kW."""
    setpoint_kw: float
    """Setpoint wanted this cycle (plan or override, after the heat-pump guard), kW."""
    lo_kw: float
    """Lowest setpoint allowed now (process minimum, minimum run time, tank guard), kW."""
    hi_kw: float
    """Highest setpoint allowed now, kW."""
    baseline_kw: float | None = None
    """What the load would draw in local mode now (window jobs: full power while active, 0 otherwise)."""
    floor_kw: float = 0.0
    """Consumption the process keeps whatever the setpoint (curtailable: baseline × (1 − max curtail))."""

    def expected_kw(self, setpoint_kw: float) -> float:
        """Consumption to expect once ``setpoint_kw`` applies (a cap never raises a load above its baseline)."""
        value = setpoint_kw
        if self.kind in ("curtailable", "ev_depot", "deferrable") and self.baseline_kw is not None:
            value = min(value, self.baseline_kw)
        return max(value, self.floor_kw)


def shift_consumption(consumers: Sequence[Consumer], setpoints: Mapping[str, float], delta_kw: float,
                      order: Sequence[str] = SHED_ORDER, kinds: frozenset[str] | None = None,
                      ) -> tuple[dict[str, float], float]:
    """Change the expected total consumption by ``delta_kw`` (< 0 shed, > 0 absorb), tier by tier.

    Returns the new setpoints (every consumer of ``setpoints``) and the part not placed (same sign).
    """
    out = dict(setpoints)
    residual = delta_kw
    for kind in order:
        if abs(residual) < 1e-6:
            break
        if kinds is not None and kind not in kinds:
            continue
        tier = [c for c in consumers if c.kind == kind and c.id in out]
        if not tier:
            continue
        slots = []
        for c in tier:
            now = c.expected_kw(out[c.id])
            lo, hi = c.expected_kw(c.lo_kw), c.expected_kw(c.hi_kw)
            slots.append(Slot(c.id, now, min(lo, now), max(hi, now)))
        before = sum(s.base_kw for s in slots)
        values, _left = share_by_headroom(before + residual, slots)
        placed = sum(values.values()) - before
        residual -= placed
        for c in tier:
            # the setpoint that gives the expected consumption (a cap at the wanted value); at the floor any
            # lower setpoint gives the same, so the lower one stays asked (a load held up by its process,
            # e.g. a shiftable load catching up, must keep being asked down, not be commanded to its floor)
            value = values[c.id]
            if value <= c.floor_kw + 1e-6:
                value = min(value, out[c.id])
            out[c.id] = round(min(max(value, c.lo_kw), c.hi_kw), 3)
    return out, residual


@dataclass
class HeatPumpSwitching:
    """When each heat pump last switched on or off (for minimum run and stop times)."""

    on: dict[str, bool] = field(default_factory=dict)
    since: dict[str, datetime] = field(default_factory=dict)

    def record(self, hp_id: str, on: bool, now: datetime) -> None:
        if self.on.get(hp_id) != on:
            self.on[hp_id] = on
            self.since[hp_id] = now

    def seconds_in_state(self, hp_id: str, now: datetime) -> float:
        since = self.since.get(hp_id)
        return float("inf") if since is None else (now - since).total_seconds()


@dataclass(frozen=True)
class HeatPumpLimits:
    """Site data of a heat pump the guard needs."""

    p_min_kw: float
    p_max_kw: float
    tank_min_c: float
    tank_max_c: float
    min_run_s: float = 0.0
    min_stop_s: float = 0.0
    tank_kwh_per_k: float = 0.0
    """Heat the tank stores per kelvin, kWh/K (0 = unknown: the guard runs at full power)."""


TANK_RECOVER_S = 900.0
"""The tank guard brings a tank back above its guard band within this time (s)."""


def tank_hold_kw(lim: HeatPumpLimits, tank_temp_c: float, heat_draw_kw: float | None, cop: float | None,
                 guard_k: float) -> float:
    """Electric power that covers the heat drawn and lifts the tank back over ``min + guard_k`` within
    :data:`TANK_RECOVER_S`, kW (full power when the draw, COP or tank size is not known)."""
    if heat_draw_kw is None or cop is None or cop <= 0 or lim.tank_kwh_per_k <= 0:
        return lim.p_max_kw
    deficit_k = max(lim.tank_min_c + guard_k - tank_temp_c, 0.0) + 0.5 * guard_k
    q_kw = max(heat_draw_kw, 0.0) + lim.tank_kwh_per_k * deficit_k * 3600 / TANK_RECOVER_S
    return min(max(q_kw / cop, lim.p_min_kw), lim.p_max_kw)


def heat_pump_consumer(c: Consumer, lim: HeatPumpLimits, switching: HeatPumpSwitching, now: datetime,
                       tank_temp_c: float | None, guard_k: float = 1.0, *, heat_draw_kw: float | None = None,
                       cop: float | None = None) -> Consumer:
    """The heat pump with its setpoint and allowed range after on/off, minimum times and the tank guard.

    At the tank's minimum (+ ``guard_k``) the unit must run at least at :func:`tank_hold_kw`: steady power
    for the heat drawn plus a recovery term, not full power (a full-power burst every few cycles would
    push the park over its import cap while the tank hovers at its minimum)."""
    hp_on = switching.on.get(c.id, c.p_kw > 0.5 * max(lim.p_min_kw, 1.0))
    in_state = switching.seconds_in_state(c.id, now)
    lo, hi = 0.0, lim.p_max_kw
    if hp_on and in_state < lim.min_run_s:
        lo = max(lim.p_min_kw, 0.0) or min(1.0, lim.p_max_kw)  # must keep running
    if not hp_on and in_state < lim.min_stop_s:
        hi = 0.0  # must stay off
    if tank_temp_c is not None and tank_temp_c <= lim.tank_min_c + guard_k:
        # the tank comes first: at least what holds it, whatever the minimum stop time says
        lo = max(lo, tank_hold_kw(lim, tank_temp_c, heat_draw_kw, cop, guard_k))
        hi = lim.p_max_kw
    elif tank_temp_c is not None and tank_temp_c >= lim.tank_max_c - guard_k:
        hi = min(hi, max(c.p_kw, lo))
    value = min(max(c.setpoint_kw, lo), hi)
    return replace(c, setpoint_kw=on_off(value, lim.p_min_kw), lo_kw=lo, hi_kw=hi)


def window_job_floor_kw(pending_kwh: float, eta: float, p_max_kw: float, seconds_left: float, dt_s: float,
                        reserve: float = 0.97) -> tuple[float, bool]:
    """Least power a window job (deferrable batch, EV session) needs this cycle to stay on time, kW.

    A job whose energy still needed (AC side, ``pending / eta``) takes its full power for all the time left is
    *late*: its own control runs it at full power whatever the setpoint (the deadline is a process limit).
    The floor keeps the job ``reserve`` of its full-power energy ahead of that point after this cycle, so the
    controller, not the deadline, decides when it runs. Returns (floor kW, late now).
    """
    if pending_kwh <= 1e-6 or p_max_kw <= 0 or seconds_left <= 0:
        return 0.0, False
    need_kwh = pending_kwh / max(eta, 1e-6)
    if need_kwh >= 0.999 * p_max_kw * seconds_left / 3600:
        return p_max_kw, True
    dt_s = max(min(dt_s, seconds_left), 1e-6)
    slack_kwh = need_kwh - reserve * p_max_kw * (seconds_left - dt_s) / 3600
    return min(max(slack_kwh * 3600 / dt_s, 0.0), p_max_kw), False


def on_off(value_kw: float, p_min_kw: float) -> float:
    """A heat-pump setpoint as the unit runs it: off below half its minimum, else at least the minimum."""
    if value_kw <= 0 or value_kw < 0.5 * p_min_kw:
        return 0.0
    return max(value_kw, p_min_kw)


__all__ = [
    "PEAK_SHED_KINDS",
    "SHED_ORDER",
    "Consumer",
    "HeatPumpLimits",
    "HeatPumpSwitching",
    "heat_pump_consumer",
    "on_off",
    "shift_consumption",
    "window_job_floor_kw",
]
