"""Growatt SPH/SPA/MIX hybrid inverter with battery (map ``growatt_sph``).

The inverter follows its priority time slots (slot 1 of each; a slot holds from its start up to and
including its stop minute, high byte hour, low byte minute):

- Grid First on and in its slot: discharge at ``grid_first_discharge_rate_pct`` of the rated discharge power
  down to ``grid_first_stop_soc_pct``;
- else Battery First on and in its slot: with AC charge on, charge at ``bat_first_charge_rate_pct`` of the
  rated charge power up to ``bat_first_stop_soc_pct``; without, hold (the device has no PV of its own here);
- else Load First: idle (the simulated unit has no house load behind its meter).

``on_off`` = 0 stops the inverter. Battery power is published as two magnitudes (discharge / charge).
"""

from __future__ import annotations

from sim.devices.base import DeviceModel

V_BAT_NOMINAL = 51.2


def _minutes(raw: int) -> int:
    return (int(raw) >> 8) * 60 + (int(raw) & 0xFF)


class GrowattHybrid(DeviceModel):
    family = "growatt"

    def setup(self) -> None:
        self.bat = self.park.battery(self.device.serves)

    def in_slot(self, prefix: str) -> bool:
        if int(self.get(f"{prefix}_enable_1", 0)) != 1:
            return False
        now = self.now.hour * 60 + self.now.minute
        return _minutes(self.get(f"{prefix}_start_1", 0)) <= now <= _minutes(self.get(f"{prefix}_stop_1", 0))

    def command(self) -> None:
        bat, spec = self.bat, self.bat.spec
        bat.running = int(self.get("on_off", 1)) == 1
        bat.soc_floor_pct, bat.soc_ceiling_pct = spec.soc_min_pct, spec.soc_max_pct
        if self.in_slot("grid_first"):
            priority = 2
            bat.p_target_kw = float(self.get("grid_first_discharge_rate_pct", 0)) / 100.0 * spec.p_discharge_max_kw
            bat.soc_floor_pct = max(spec.soc_min_pct, float(self.get("grid_first_stop_soc_pct", 0)))
        elif self.in_slot("bat_first"):
            priority = 1
            ac_charge = int(self.get("ac_charge_enable", 0)) == 1
            rate = float(self.get("bat_first_charge_rate_pct", 0)) / 100.0
            bat.p_target_kw = -rate * spec.p_charge_max_kw if ac_charge else 0.0
            bat.soc_ceiling_pct = min(spec.soc_max_pct, float(self.get("bat_first_stop_soc_pct", 100)))
        else:
            priority = 0
            bat.p_target_kw = 0.0
        self.set("priority", priority)

    def measure(self) -> None:
        bat = self.bat
        p_w = bat.p_kw * 1000.0
        self.set("status", 1 if bat.running else 0)
        self.set("p_discharge_w", max(0.0, p_w))
        self.set("p_charge_w", max(0.0, -p_w))
        self.set("p_ac_w", max(0.0, p_w))
        self.set("soc_pct", round(bat.soc_pct))
        self.set("v_bat_v", round(V_BAT_NOMINAL * (0.95 + 0.1 * bat.soc_pct / 100.0), 1))
        self.set("e_discharged_kwh", bat.state.e_discharged_kwh)
        self.set("e_charged_kwh", bat.state.e_charged_kwh)
