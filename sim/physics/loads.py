"""Flexible loads and EV charging: pure power and energy rules (kW, kWh; consumption > 0).

- Curtailable: follows its baseline; a cap can reduce it by at most ``max_curtail_pct`` of the baseline.
- Shiftable: follows its baseline in local mode; a setpoint moves consumption earlier or later while the
  energy owed to the process (``backlog``) stays within what shifting by up to ``max_shift_h`` allows: at
  most the baseline energy of the last ``max_shift_h`` hours owed, at most that of the next ``max_shift_h``
  hours consumed ahead (the site file's meaning, and the optimizer's envelope on cumulative energy; e.g. a
  compressed-air receiver or a cold store's thermal inertia). Without a baseline profile the limit is the
  fixed ``backlog_cap_kwh`` both ways. In local mode the backlog is paid back over ``payback_h``.
- Window job (deferrable load, EV depot): ``energy_kwh`` (delivered side, after ``eta``) must be consumed
  inside a window at up to ``p_max_kw``; a cap is obeyed until the remaining energy only just fits in the
  time left at full power, then the job runs at full power (the process protects itself).
"""

from __future__ import annotations

from dataclasses import dataclass, replace


def curtailable_power_kw(baseline_kw: float, cap_kw: float | None, max_curtail_pct: float) -> float:
    """Consumption of a curtailable load under an optional cap, kW."""
    baseline = max(0.0, baseline_kw)
    if cap_kw is None:
        return baseline
    floor = baseline * (1.0 - max_curtail_pct / 100.0)
    return min(baseline, max(cap_kw, floor))


@dataclass(frozen=True)
class ShiftableParams:
    p_max_kw: float
    p_min_kw: float = 0.0
    backlog_cap_kwh: float = 0.0
    payback_h: float = 0.25


@dataclass(frozen=True)
class ShiftableState:
    backlog_kwh: float = 0.0
    """Energy owed to the process vs. its baseline (> 0: consumed less than the baseline so far)."""
    e_kwh: float = 0.0


def shiftable_power_kw(
    params: ShiftableParams, state: ShiftableState, baseline_kw: float, setpoint_kw: float | None,
    defer_cap_kwh: float | None = None, ahead_cap_kwh: float | None = None, dt_s: float | None = None,
) -> float:
    """Consumption, kW: baseline + payback in local mode (``setpoint_kw is None``), else the setpoint within limits.

    ``defer_cap_kwh`` / ``ahead_cap_kwh``: the most energy that may be owed / consumed ahead at the end of
    the step (default ``params.backlog_cap_kwh``); the setpoint is overruled where it would end the step
    beyond them (``dt_s``; without it, within ``payback_h``)."""
    baseline = max(0.0, baseline_kw)
    defer_cap = params.backlog_cap_kwh if defer_cap_kwh is None else defer_cap_kwh
    ahead_cap = params.backlog_cap_kwh if ahead_cap_kwh is None else ahead_cap_kwh
    if setpoint_kw is None:
        p = baseline + state.backlog_kwh / params.payback_h
    else:
        h = params.payback_h if dt_s is None else max(dt_s, 1e-9) / 3600.0
        # the process cannot wait longer than the shift allows, nor store more than it allows ahead
        lowest = baseline + (state.backlog_kwh - defer_cap) / h
        highest = baseline + (state.backlog_kwh + ahead_cap) / h
        p = min(max(setpoint_kw, lowest), highest)
    return max(params.p_min_kw, min(params.p_max_kw, p))


def step_shiftable(state: ShiftableState, p_kw: float, baseline_kw: float, dt_s: float) -> ShiftableState:
    h = dt_s / 3600.0
    return replace(
        state,
        backlog_kwh=state.backlog_kwh + (max(0.0, baseline_kw) - p_kw) * h,
        e_kwh=state.e_kwh + p_kw * h,
    )


@dataclass(frozen=True)
class WindowJobParams:
    p_max_kw: float
    energy_kwh: float
    """Energy needed per window, on the delivered side (e.g. into the truck batteries)."""
    eta: float = 1.0
    """Delivered energy per kWh consumed (charger efficiency)."""


@dataclass(frozen=True)
class WindowJobState:
    active: bool = False
    remaining_kwh: float = 0.0
    """Delivered-side energy still needed in the current window."""
    e_kwh: float = 0.0
    """Consumed (AC) energy, total."""
    unmet_kwh: float = 0.0
    """Delivered-side energy not served when windows closed, total."""


def window_job_power_kw(
    params: WindowJobParams, state: WindowJobState, seconds_left: float, cap_kw: float | None
) -> float:
    """Requested consumption, kW: full power in local mode (``cap_kw is None``), else the cap unless late."""
    if not state.active or state.remaining_kwh <= 1e-9:
        return 0.0
    if cap_kw is None:
        return params.p_max_kw
    need_ac_kwh = state.remaining_kwh / params.eta
    full_kwh = params.p_max_kw * max(0.0, seconds_left) / 3600.0
    if need_ac_kwh >= 0.999 * full_kwh:
        return params.p_max_kw  # must run now or the job fails
    return max(0.0, min(params.p_max_kw, cap_kw))


def step_window_job(
    params: WindowJobParams, state: WindowJobState, p_kw: float, dt_s: float
) -> tuple[WindowJobState, float]:
    """Consume ``p_kw`` for ``dt_s`` (less if the job finishes); returns the new state and the actual power."""
    if dt_s <= 0 or not state.active:
        return state, 0.0
    h = dt_s / 3600.0
    delivered = min(max(0.0, p_kw) * h * params.eta, max(0.0, state.remaining_kwh))
    consumed = delivered / params.eta
    new = replace(state, remaining_kwh=state.remaining_kwh - delivered, e_kwh=state.e_kwh + consumed)
    return new, consumed / h


def open_window(state: WindowJobState, energy_kwh: float) -> WindowJobState:
    return replace(state, active=True, remaining_kwh=energy_kwh)


def close_window(state: WindowJobState) -> WindowJobState:
    return replace(
        state, active=False, unmet_kwh=state.unmet_kwh + max(0.0, state.remaining_kwh), remaining_kwh=0.0
    )
