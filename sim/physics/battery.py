"""Battery energy storage physics: AC power -> state of charge with efficiencies, power, ramp and SoC limits.

Sign (park convention): ``p_kw > 0`` discharges into the bus, ``p_kw < 0`` charges. Powers are AC-side at
the PCS terminals, kW; energy kWh; SoC in percent of the usable nameplate ``e_kwh``.

Energy model (constant power over a step of ``dt_s`` seconds, ``h = dt_s / 3600``)::

    charging    (p < 0):  E_stored += -p * eta_charge * h
    discharging (p > 0):  E_stored -=  p / eta_discharge * h

so over any run ``ΔE_stored = eta_charge * E_charged_ac - E_discharged_ac / eta_discharge`` exactly, and the
conversion losses are ``(1 - eta_charge) * E_charged_ac + (1 / eta_discharge - 1) * E_discharged_ac``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace


@dataclass(frozen=True)
class BatteryParams:
    """Ratings of one battery + PCS (AC side)."""

    e_kwh: float
    p_charge_max_kw: float
    p_discharge_max_kw: float
    eta_charge: float = 0.95
    eta_discharge: float = 0.95
    ramp_kw_per_s: float | None = None
    """Maximum rate of change of AC power, kW/s (``None``: instantaneous)."""


@dataclass(frozen=True)
class BatteryState:
    soc_pct: float
    p_kw: float = 0.0
    """Actual AC power over the last step, park sign (discharge > 0)."""
    e_charged_kwh: float = 0.0
    """AC energy taken from the bus (total, >= 0)."""
    e_discharged_kwh: float = 0.0
    """AC energy delivered to the bus (total, >= 0)."""


def ramp_limited(p_prev_kw: float, p_target_kw: float, ramp_kw_per_s: float | None, dt_s: float) -> float:
    """Move from ``p_prev_kw`` towards ``p_target_kw`` by at most ``ramp_kw_per_s * dt_s``."""
    if ramp_kw_per_s is None or dt_s <= 0:
        return p_target_kw
    step = ramp_kw_per_s * dt_s
    return p_prev_kw + max(-step, min(step, p_target_kw - p_prev_kw))


def soc_power_limits_kw(
    params: BatteryParams, soc_pct: float, dt_s: float, soc_floor_pct: float, soc_ceiling_pct: float
) -> tuple[float, float]:
    """Largest charge and discharge powers (both >= 0, kW) that keep SoC within [floor, ceiling] over ``dt_s``."""
    if dt_s <= 0:
        return 0.0, 0.0
    h = dt_s / 3600.0
    headroom_kwh = max(0.0, (soc_ceiling_pct - soc_pct) / 100.0 * params.e_kwh)
    available_kwh = max(0.0, (soc_pct - soc_floor_pct) / 100.0 * params.e_kwh)
    p_charge = headroom_kwh / (params.eta_charge * h)
    p_discharge = available_kwh * params.eta_discharge / h
    return p_charge, p_discharge


def step_battery(
    params: BatteryParams,
    state: BatteryState,
    p_target_kw: float,
    dt_s: float,
    *,
    charge_allowed: bool = True,
    discharge_allowed: bool = True,
    p_charge_limit_kw: float | None = None,
    p_discharge_limit_kw: float | None = None,
    soc_floor_pct: float = 0.0,
    soc_ceiling_pct: float = 100.0,
) -> BatteryState:
    """Advance one step of ``dt_s`` seconds with the AC power request ``p_target_kw`` (park sign).

    The request is limited, in order, by the permissions (a BMS may forbid charging or discharging), the
    power ratings and any tighter device limits, the ramp rate from the previous power, and the energy
    left between the current SoC and ``soc_floor_pct`` / ``soc_ceiling_pct`` over the step.
    """
    p = p_target_kw
    p_ch_max = (
        params.p_charge_max_kw
        if p_charge_limit_kw is None
        else min(params.p_charge_max_kw, p_charge_limit_kw)
    )
    p_dis_max = (
        params.p_discharge_max_kw
        if p_discharge_limit_kw is None
        else min(params.p_discharge_max_kw, p_discharge_limit_kw)
    )
    if not charge_allowed:
        p_ch_max = 0.0
    if not discharge_allowed:
        p_dis_max = 0.0
    p = max(-max(0.0, p_ch_max), min(max(0.0, p_dis_max), p))
    p = ramp_limited(state.p_kw, p, params.ramp_kw_per_s, dt_s)
    # a ramp may carry power across a permission boundary: never charge/discharge when forbidden
    p = max(-max(0.0, p_ch_max), min(max(0.0, p_dis_max), p))
    soc_ch, soc_dis = soc_power_limits_kw(params, state.soc_pct, dt_s, soc_floor_pct, soc_ceiling_pct)
    p = max(-soc_ch, min(soc_dis, p))
    h = dt_s / 3600.0
    if p < 0:
        d_e = -p * params.eta_charge * h
        e_ch, e_dis = state.e_charged_kwh - p * h, state.e_discharged_kwh
    else:
        d_e = -p / params.eta_discharge * h
        e_ch, e_dis = state.e_charged_kwh, state.e_discharged_kwh + p * h
    soc = state.soc_pct + d_e / params.e_kwh * 100.0
    if not math.isfinite(soc):
        raise ValueError("battery SoC became non-finite")
    return replace(
        state, soc_pct=soc, p_kw=p if dt_s > 0 else state.p_kw, e_charged_kwh=e_ch, e_discharged_kwh=e_dis
    )


def stored_energy_kwh(params: BatteryParams, state: BatteryState) -> float:
    """Energy stored, kWh (SoC x usable nameplate)."""
    return state.soc_pct / 100.0 * params.e_kwh


def conversion_losses_kwh(params: BatteryParams, state: BatteryState) -> float:
    """Charge and discharge conversion losses over the state's history, kWh."""
    return (1.0 - params.eta_charge) * state.e_charged_kwh + (
        1.0 / params.eta_discharge - 1.0
    ) * state.e_discharged_kwh
