"""Industrial heat-pump controller semantics (map ``heat_pump_controller``, illustrative).

``run_cmd`` 0/1 switches the unit. ``control_mode`` 0 = thermostat: full power below
``tank_temp_set_c - tank_hysteresis_k`` until ``tank_temp_set_c``; 1 = power setpoint: electrical power follows
``p_el_set_kw`` (raised to the unit's minimum when running). The unit never heats the tank above its maximum
temperature. Watchdog: in power mode, no write for ``comm_timeout_s`` (0 = off) reverts to thermostat mode
and sets alarm bit 3 until the next write. Electrical power is consumption (> 0), as in the park convention.
"""

from __future__ import annotations

from typing import Any

from sim.devices.base import DeviceModel

COMM_TIMEOUT_BIT = 1 << 3
OVER_TEMP_BIT = 1 << 2


class HeatPumpController(DeviceModel):
    family = "heat_pump"

    def setup(self) -> None:
        self.hp = self.park.heat_pump(self.device.serves)
        spec = self.hp.spec
        self.set("p_el_max_kw", spec.p_el_max_kw)
        self.set("supply_temp_set_c", spec.cop.supply_temp_c)
        self.set("tank_temp_set_c", self.hp.tank_set_c)
        self.set("tank_hysteresis_k", self.hp.hysteresis_k)
        self.comm_alarm = False
        self._t_last_write = 0.0

    def check_write(self, point, value: Any):
        from pymodbus.constants import ExcCodes

        if point.id == "p_el_set_kw" and value > self.hp.spec.p_el_max_kw + 1e-6:
            return ExcCodes.ILLEGAL_VALUE
        return None

    def on_write(self, point_id: str, value: Any) -> None:
        self._t_last_write = self.t_s
        self.comm_alarm = False

    def tick(self, dt_s: float) -> None:
        timeout = float(self.get("comm_timeout_s", 0))
        if int(self.get("control_mode", 0)) == 1 and timeout > 0 and self.t_s - self._t_last_write > timeout:
            self.set("control_mode", 0)
            self.comm_alarm = True

    def command(self) -> None:
        hp = self.hp
        hp.on = int(self.get("run_cmd", 1)) == 1
        hp.mode = "power" if int(self.get("control_mode", 0)) == 1 else "thermostat"
        hp.p_set_kw = float(self.get("p_el_set_kw", 0.0))
        hp.tank_set_c = float(self.get("tank_temp_set_c", hp.tank_set_c))
        hp.hysteresis_k = float(self.get("tank_hysteresis_k", hp.hysteresis_k))
        hp.supply_set_c = float(self.get("supply_temp_set_c", hp.supply_set_c))

    def measure(self) -> None:
        hp = self.hp
        self.set("p_el_kw", hp.p_el_kw)
        self.set("q_th_kw", hp.q_th_kw)
        self.set("cop", hp.cop)
        supply = min(hp.supply_set_c, hp.tank.temp_c + 8.0) if hp.p_el_kw > 0 else hp.tank.temp_c
        self.set("supply_temp_c", supply)
        self.set("return_temp_c", hp.tank.temp_c - (3.0 if hp.p_el_kw > 0 else 0.0))
        self.set("tank_temp_c", hp.tank.temp_c)
        self.set("ambient_temp_c", hp.t_ambient_c)
        self.set("status", 0 if not hp.on else 2 if hp.p_el_kw > 0 else 1)
        alarms = (COMM_TIMEOUT_BIT if self.comm_alarm else 0) | (
            OVER_TEMP_BIT if hp.tank.temp_c > hp.spec.tank_temp_max_c + 0.5 else 0
        )
        self.set("alarms", alarms)
        self.set("e_el_kwh", hp.e_el_kwh)
        self.set("e_th_kwh", hp.tank.q_in_kwh)
        self.set("heat_draw_kw", hp.q_draw_kw)
