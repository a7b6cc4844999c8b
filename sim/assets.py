"""Runtime objects of the simulated assets: site parameters + physical state + the commands devices set.

Device semantics (:mod:`sim.devices`) write the command fields (limits, setpoints, on/off, permissions);
:class:`sim.park.Park` calls ``step`` with the environment's inputs; tests read the state. Powers use the
park convention: generation and battery discharge > 0 in ``p_kw``; loads keep consumption > 0 in
``p_kw`` and enter the balance with a minus sign (see :meth:`injection_kw`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from typing import Literal

from microgrid.site.models import (
    Battery,
    EVDepot,
    FlexibleLoad,
    HeatPump,
    Meter,
    PVPlant,
    energy_still_owed_kwh,
    in_window,
    minutes_of,
)
from sim.physics.battery import BatteryParams, BatteryState, step_battery
from sim.physics.loads import (
    ShiftableParams,
    ShiftableState,
    WindowJobParams,
    WindowJobState,
    close_window,
    curtailable_power_kw,
    open_window,
    shiftable_power_kw,
    step_shiftable,
    step_window_job,
    window_job_power_kw,
)
from sim.physics.pv import ac_power_kw
from sim.physics.thermal import (
    TankParams,
    TankState,
    cop_carnot,
    max_heat_input_kw,
    step_tank,
    thermostat_on,
)


@dataclass
class PVRuntime:
    spec: PVPlant
    running: bool = True
    limit_kw: float | None = None
    """Commanded output limit at the inverters, kW (``None``: none)."""
    feed_in_limit_kw: float | None = None
    """Limit of export at the plant's grid connection point (tenant meter), kW (``None``: none)."""
    p_available_kw: float = 0.0
    p_kw: float = 0.0
    e_kwh: float = 0.0
    clipped: bool = False
    limited: bool = False

    def injection_kw(self) -> float:
        return self.p_kw

    def step(self, p_available_kw: float, dt_s: float, feed_in_room_kw: float | None = None) -> None:
        """Output for this step; ``feed_in_room_kw`` is the largest output keeping export within the feed-in limit."""
        self.p_available_kw = max(0.0, p_available_kw)
        limit = self.limit_kw
        if feed_in_room_kw is not None:
            limit = feed_in_room_kw if limit is None else min(limit, feed_in_room_kw)
        p = ac_power_kw(self.p_available_kw, self.spec.inverter_ac_kw, limit) if self.running else 0.0
        self.clipped = (
            self.running
            and self.p_available_kw > self.spec.inverter_ac_kw
            and p >= self.spec.inverter_ac_kw - 1e-9
        )
        self.limited = self.running and p < min(self.p_available_kw, self.spec.inverter_ac_kw) - 1e-6
        self.p_kw = p
        self.e_kwh += p * dt_s / 3600.0


@dataclass
class BatteryRuntime:
    spec: Battery
    params: BatteryParams
    state: BatteryState
    running: bool = True
    """PCS running and contactor closed; ``False`` forces 0 kW at once (stop / trip)."""
    p_target_kw: float = 0.0
    self_consumption: bool = False
    """The device balances its own connection point; the park computes ``p_target_kw`` each step."""
    charge_allowed: bool = True
    discharge_allowed: bool = True
    p_charge_limit_kw: float | None = None
    p_discharge_limit_kw: float | None = None
    soc_floor_pct: float = 0.0
    soc_ceiling_pct: float = 100.0
    # BMS-level state shared by PCS and BMS device semantics
    bms_fatal: bool = False
    bms_forced_charge_block: bool = False
    bms_forced_discharge_block: bool = False
    bms_alarm_level: int = 0
    tripped_by_fault: bool = False
    """A pcs_trip fault on a battery without a PCS device: stopped for the fault's duration."""

    @classmethod
    def from_spec(cls, spec: Battery) -> BatteryRuntime:
        params = BatteryParams(
            e_kwh=spec.e_kwh,
            p_charge_max_kw=spec.p_charge_max_kw,
            p_discharge_max_kw=spec.p_discharge_max_kw,
            eta_charge=spec.eta_charge,
            eta_discharge=spec.eta_discharge,
            ramp_kw_per_s=spec.ramp_kw_per_s,
        )
        return cls(
            spec=spec,
            params=params,
            state=BatteryState(soc_pct=spec.soc_initial_pct),
            soc_floor_pct=spec.soc_min_pct,
            soc_ceiling_pct=spec.soc_max_pct,
        )

    @property
    def p_kw(self) -> float:
        return self.state.p_kw

    @property
    def soc_pct(self) -> float:
        return self.state.soc_pct

    def injection_kw(self) -> float:
        return self.state.p_kw

    def step(self, dt_s: float) -> None:
        if not self.running:
            self.state = step_battery(replace(self.params, ramp_kw_per_s=None), self.state, 0.0, dt_s)
            return
        self.state = step_battery(
            self.params,
            self.state,
            self.p_target_kw,
            dt_s,
            charge_allowed=self.charge_allowed and not self.bms_forced_charge_block,
            discharge_allowed=self.discharge_allowed and not self.bms_forced_discharge_block,
            p_charge_limit_kw=self.p_charge_limit_kw,
            p_discharge_limit_kw=self.p_discharge_limit_kw,
            soc_floor_pct=self.soc_floor_pct,
            soc_ceiling_pct=self.soc_ceiling_pct,
        )


@dataclass
class HeatPumpRuntime:
    spec: HeatPump
    tank_params: TankParams
    tank: TankState
    on: bool = True
    mode: Literal["thermostat", "power"] = "thermostat"
    p_set_kw: float = 0.0
    tank_set_c: float = 60.0
    hysteresis_k: float = 5.0
    supply_set_c: float = 55.0
    heating: bool = False
    p_el_kw: float = 0.0
    q_th_kw: float = 0.0
    cop: float = 0.0
    q_draw_kw: float = 0.0
    e_el_kwh: float = 0.0
    t_ambient_c: float = 20.0

    @classmethod
    def from_spec(cls, spec: HeatPump) -> HeatPumpRuntime:
        params = TankParams(
            spec.tank_volume_m3, spec.tank_temp_min_c, spec.tank_temp_max_c, spec.tank_loss_pct_per_h
        )
        initial = (
            spec.tank_temp_initial_c
            if spec.tank_temp_initial_c is not None
            else (spec.tank_temp_min_c + spec.tank_temp_max_c) / 2
        )
        return cls(
            spec=spec,
            tank_params=params,
            tank=TankState(temp_c=initial),
            tank_set_c=spec.tank_temp_max_c - 2.0,
            hysteresis_k=min(5.0, max(1.0, (spec.tank_temp_max_c - spec.tank_temp_min_c) / 4)),
            supply_set_c=spec.cop.supply_temp_c,
        )

    def injection_kw(self) -> float:
        return -self.p_el_kw

    def step(self, t_ambient_c: float, q_draw_kw: float, dt_s: float) -> None:
        spec = self.spec
        self.t_ambient_c = t_ambient_c
        self.q_draw_kw = max(0.0, q_draw_kw)
        self.cop = cop_carnot(
            self.supply_set_c, t_ambient_c, spec.cop.eta_carnot, spec.cop.cop_min, spec.cop.cop_max
        )
        if not self.on:
            p_el = 0.0
            self.heating = False
        elif self.mode == "thermostat":
            self.heating = thermostat_on(
                self.heating, self.tank.temp_c, min(self.tank_set_c, spec.tank_temp_max_c), self.hysteresis_k
            )
            p_el = spec.p_el_max_kw if self.heating else 0.0
        else:
            p_el = max(0.0, min(spec.p_el_max_kw, self.p_set_kw))
            if 0.0 < p_el < spec.p_el_min_kw:
                p_el = spec.p_el_min_kw
            self.heating = p_el > 0
        # the unit never overheats the tank: it modulates down at the maximum temperature
        q_max = max_heat_input_kw(self.tank_params, self.tank, self.q_draw_kw, dt_s)
        p_el = min(p_el, q_max / self.cop) if self.cop > 0 else 0.0
        self.p_el_kw = p_el
        self.q_th_kw = p_el * self.cop
        self.tank = step_tank(self.tank_params, self.tank, self.q_th_kw, self.q_draw_kw, dt_s)
        self.e_el_kwh += p_el * dt_s / 3600.0


@dataclass
class FlexRuntime:
    """A flexible load (curtailable, shiftable or deferrable) or an EV depot (a window job with chargers)."""

    spec: FlexibleLoad | EVDepot
    remote: bool = False
    p_set_kw: float = 0.0
    p_kw: float = 0.0
    baseline_kw: float = 0.0
    e_kwh: float = 0.0
    shift: ShiftableState = field(default_factory=ShiftableState)
    shift_params: ShiftableParams | None = None
    job: WindowJobState = field(default_factory=WindowJobState)
    job_params: WindowJobParams | None = None
    seconds_left: float = 0.0

    @property
    def kind(self) -> str:
        return "ev_depot" if isinstance(self.spec, EVDepot) else self.spec.kind

    @property
    def p_max_kw(self) -> float:
        return self.spec.p_max_kw

    @classmethod
    def from_spec(cls, spec: FlexibleLoad | EVDepot) -> FlexRuntime:
        run = cls(spec=spec)
        if isinstance(spec, EVDepot):
            run.job_params = WindowJobParams(
                p_max_kw=spec.p_max_kw, energy_kwh=spec.energy_kwh, eta=spec.eta_charge
            )
        elif spec.kind == "deferrable":
            run.job_params = WindowJobParams(p_max_kw=spec.p_max_kw, energy_kwh=spec.energy_kwh or 0.0)
        elif spec.kind == "shiftable":
            run.shift_params = ShiftableParams(
                p_max_kw=spec.p_max_kw, p_min_kw=spec.p_min_kw
            )
        return run

    def _window(self) -> tuple[str, str]:
        if isinstance(self.spec, EVDepot):
            return self.spec.arrival, self.spec.departure
        return self.spec.window_start or "00:00", self.spec.window_end or "24:00"

    def start(self, seconds_of_day: float) -> None:
        """Initial window state when the simulation starts inside a window.

        The job still needs what the plan assumes (:func:`~microgrid.site.models.energy_still_owed_kwh`):
        everything the time left can deliver at full power, up to the site file's energy.
        """
        if self.job_params is None:
            return
        start, end = self._window()
        inside, left = in_window(seconds_of_day, start, end)
        if inside:
            p = self.job_params
            window_h = None
            if not isinstance(self.spec, EVDepot):
                length = (minutes_of(end) - minutes_of(start)) % 1440 or 1440
                window_h = length / 60
            owed = energy_still_owed_kwh(p.energy_kwh, p.p_max_kw, left / 3600.0, p.eta, window_h)
            self.job = open_window(self.job, owed)
            self.seconds_left = left

    def injection_kw(self) -> float:
        return -self.p_kw

    def step(self, seconds_of_day: float, baseline_kw: float, dt_s: float,
             shift_caps_kwh: tuple[float, float] | None = None) -> None:
        """One physics step; ``shift_caps_kwh`` = (most energy owed, most consumed ahead) at the end of the
        step for a shiftable load (the park passes them from its baseline profile; without them it cannot shift)."""
        cap = self.p_set_kw if self.remote else None
        if self.job_params is not None:
            start, end = self._window()
            inside, left = in_window(seconds_of_day, start, end)
            if inside and not self.job.active:
                self.job = open_window(self.job, self.job_params.energy_kwh)
            elif not inside and self.job.active:
                self.job = close_window(self.job)
            self.seconds_left = left
            self.baseline_kw = window_job_power_kw(self.job_params, self.job, left, None)
            request = window_job_power_kw(self.job_params, self.job, left, cap)
            self.job, self.p_kw = step_window_job(self.job_params, self.job, request, dt_s)
        elif self.shift_params is not None:
            self.baseline_kw = max(0.0, baseline_kw)
            defer_cap, ahead_cap = shift_caps_kwh if shift_caps_kwh is not None else (None, None)
            self.p_kw = shiftable_power_kw(self.shift_params, self.shift, self.baseline_kw, cap, defer_cap, ahead_cap,
                                           dt_s)
            self.shift = step_shiftable(self.shift, self.p_kw, self.baseline_kw, dt_s)
        else:
            self.baseline_kw = max(0.0, baseline_kw)
            max_curtail = getattr(self.spec, "max_curtail_pct", 0.0)
            self.p_kw = min(self.p_max_kw, curtailable_power_kw(self.baseline_kw, cap, max_curtail))
        self.e_kwh += self.p_kw * dt_s / 3600.0

    @property
    def pending_kwh(self) -> float:
        """Energy still needed (window jobs) or owed to the process (shiftable), kWh."""
        if self.job_params is not None:
            return self.job.remaining_kwh
        return self.shift.backlog_kwh


@dataclass
class TenantLoadRuntime:
    tenant: str
    bus: str
    p_kw: float = 0.0
    extra_kw: float = 0.0
    """Added by a load-step fault."""
    noise_state: float = 0.0

    def injection_kw(self) -> float:
        return -self.p_kw


@dataclass
class MeterRuntime:
    spec: Meter
    p_kw: float = 0.0
    """Forward (into the metered side) active power, primary, kW."""
    e_import_kwh: float = 0.0
    e_export_kwh: float = 0.0
    vm_pu: float = 1.0
    vn_kv: float = 0.4
    f_hz: float = 50.0

    def integrate(self, p_kw: float, dt_s: float) -> None:
        self.p_kw = p_kw
        h = dt_s / 3600.0
        if p_kw >= 0:
            self.e_import_kwh += p_kw * h
        else:
            self.e_export_kwh += -p_kw * h

    @property
    def u_ll_v(self) -> float:
        return self.vn_kv * 1000.0 * self.vm_pu

    @property
    def i_a(self) -> float:
        return abs(self.p_kw) * 1000.0 / (math.sqrt(3) * self.u_ll_v) if self.u_ll_v > 0 else 0.0
