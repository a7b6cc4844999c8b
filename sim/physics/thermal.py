"""Heat pump + hot-water tank physics (one fully mixed tank).

Units: electrical and thermal power kW (kW_th), energy kWh, temperature °C. The heat pump's electrical power
is consumption (> 0).

- COP (Carnot fraction): ``COP = eta_carnot * T_supply[K] / (T_supply - T_ambient)``, clipped to
  ``[cop_min, cop_max]`` (e.g. VDI 4650 style estimates; Arpagaus et al. 2018 for industrial heat pumps).
- Tank heat capacity: ``C = V[m³] * 1.163 kWh/(m³·K)`` (water, 4.186 kJ/kg·K).
- Standing loss: ``loss_pct_per_h`` percent of the heat stored above ``temp_min_c`` per hour.
- Energy balance per step (``h = dt_s / 3600``)::

      C * (T_new - T) = q_in * h - q_draw_served * h - q_loss * h

  Draw is served only from heat above ``temp_min_c``; the rest is recorded as unmet demand (a backup heater
  outside the model would cover it). The balance therefore closes exactly over any run.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

WATER_KWH_PER_M3_K = 1.163
"""Heat capacity of water, kWh per m³ per kelvin."""


def cop_carnot(
    t_supply_c: float, t_ambient_c: float, eta_carnot: float, cop_min: float, cop_max: float
) -> float:
    """Coefficient of performance from the supply and ambient (source) temperatures, °C."""
    lift_k = max(t_supply_c - t_ambient_c, 1.0)
    cop = eta_carnot * (t_supply_c + 273.15) / lift_k
    return max(cop_min, min(cop_max, cop))


@dataclass(frozen=True)
class TankParams:
    volume_m3: float
    temp_min_c: float
    temp_max_c: float
    loss_pct_per_h: float = 0.5

    @property
    def capacity_kwh_per_k(self) -> float:
        return self.volume_m3 * WATER_KWH_PER_M3_K


@dataclass(frozen=True)
class TankState:
    temp_c: float
    q_in_kwh: float = 0.0
    """Heat delivered by the heat pump (total)."""
    q_served_kwh: float = 0.0
    """Heat drawn by the process and served (total)."""
    q_unmet_kwh: float = 0.0
    """Heat demand that could not be served (tank at or below its minimum temperature)."""
    q_loss_kwh: float = 0.0
    """Standing losses (total)."""


def tank_loss_kw(params: TankParams, temp_c: float) -> float:
    """Standing loss, kW_th, at ``temp_c``."""
    above_kwh = params.capacity_kwh_per_k * max(0.0, temp_c - params.temp_min_c)
    return params.loss_pct_per_h / 100.0 * above_kwh


def max_heat_input_kw(params: TankParams, state: TankState, q_draw_kw: float, dt_s: float) -> float:
    """Heat input, kW_th, that brings the tank exactly to ``temp_max_c`` at the end of the step."""
    if dt_s <= 0:
        return 0.0
    h = dt_s / 3600.0
    room_kwh = params.capacity_kwh_per_k * max(0.0, params.temp_max_c - state.temp_c)
    return max(0.0, room_kwh / h + q_draw_kw + tank_loss_kw(params, state.temp_c))


def step_tank(
    params: TankParams, state: TankState, q_in_kw: float, q_draw_kw: float, dt_s: float
) -> TankState:
    """Advance the tank by ``dt_s`` with heat input ``q_in_kw`` and process demand ``q_draw_kw`` (both >= 0)."""
    h = dt_s / 3600.0
    cap = params.capacity_kwh_per_k
    loss_kwh = tank_loss_kw(params, state.temp_c) * h
    in_kwh = max(0.0, q_in_kw) * h
    demand_kwh = max(0.0, q_draw_kw) * h
    above_kwh = cap * max(0.0, state.temp_c - params.temp_min_c)
    served_kwh = min(demand_kwh, max(0.0, above_kwh + in_kwh - loss_kwh))
    temp = state.temp_c + (in_kwh - served_kwh - loss_kwh) / cap
    return replace(
        state,
        temp_c=temp,
        q_in_kwh=state.q_in_kwh + in_kwh,
        q_served_kwh=state.q_served_kwh + served_kwh,
        q_unmet_kwh=state.q_unmet_kwh + demand_kwh - served_kwh,
        q_loss_kwh=state.q_loss_kwh + loss_kwh,
    )


def thermostat_on(was_on: bool, temp_c: float, set_c: float, hysteresis_k: float) -> bool:
    """Two-point control: switch on below ``set - hysteresis``, off at or above ``set``."""
    if temp_c >= set_c:
        return False
    if temp_c < set_c - hysteresis_k:
        return True
    return was_on
