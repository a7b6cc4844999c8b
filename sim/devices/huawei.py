"""Huawei SUN2000 / SmartLogger semantics (map ``huawei_sun2000_smartlogger``).

Serving a PV plant:

- output cap = Pmax x ``p_derate_pct`` (40125) and ``p_derate_w`` (40126, 0 or >= Pmax = none);
- ``p_control_mode`` (47415) limits *feed-in at the grid connection point* (the plant's tenant meter):
  5 zero export, 6 ``feed_in_limit_w`` (47416), 7 ``feed_in_limit_pct`` (47418) of Pmax, 0 unlimited;
- ``shutdown`` (40201) stops the inverters (status 0x0301), ``startup`` (40200) restarts them;
- ``device_status`` 0x0201 while a limit holds the output below what the sun offers.

Serving a battery (LUNA2000): ``bat_forced_cmd`` (47100) 1 charges at ``bat_forced_charge_w`` (47247), 2
discharges at ``bat_forced_discharge_w`` (47249), for ``bat_forced_period_min`` (47083) minutes
(``bat_forced_mode`` 0) or until ``bat_forced_target_soc_pct`` (47101, mode 1); then the command returns
to 0 by itself and the battery idles. Cut-off SoCs 47081/47082 bound the SoC; 47075/47077 cap power.

Raw signs: ``bat_p_w`` > 0 is charging and ``meter_p_w`` > 0 is feed-in; both are converted here.
"""

from __future__ import annotations

from typing import Any

from sim.devices.base import DeviceModel, Timer


class HuaweiPlant(DeviceModel):
    family = "huawei"

    def setup(self) -> None:
        serves = self.device.serves
        self.pv = self.park.pvs.get(serves)
        self.bat = self.park.batteries.get(serves)
        if self.pv is None and self.bat is None:
            self.park.pv(serves)  # raises a clear SimError
        self.running = True
        self.forced = Timer()
        self._e_day_date = self.park.now.date()
        self._e_day_start = 0.0
        if self.pv is not None:
            p_max = self.pv.spec.inverter_ac_kw * 1000.0
            self.set("p_rated_w", p_max)
            self.set("p_max_w", p_max)
            self.set("p_derate_w", p_max)
            self.set("model_name", f"SUN2000 plant {self.pv.spec.inverter_ac_kw:g} kW (sim)")
        if self.bat is not None:
            spec = self.bat.spec
            self.set("bat_max_charge_w", spec.p_charge_max_kw * 1000.0)
            self.set("bat_max_discharge_w", spec.p_discharge_max_kw * 1000.0)
            self.set("bat_max_charge_set_w", spec.p_charge_max_kw * 1000.0)
            self.set("bat_max_discharge_set_w", spec.p_discharge_max_kw * 1000.0)
            self.set("bat_charge_cutoff_soc_pct", max(90.0, spec.soc_max_pct))
            self.set("bat_discharge_cutoff_soc_pct", min(20.0, spec.soc_min_pct))
            self.set("model_name", f"LUNA2000 {spec.e_kwh:g} kWh (sim)")

    @property
    def p_max_w(self) -> float:
        return float(self.get("p_max_w", 0.0))

    def on_write(self, point_id: str, value: Any) -> None:
        if point_id == "shutdown":
            self.running = False
        elif point_id == "startup":
            self.running = True
        elif point_id == "bat_forced_cmd":
            if int(value) in (1, 2) and int(self.get("bat_forced_mode", 0)) == 0:
                self.forced.start(float(self.get("bat_forced_period_min", 0)) * 60.0)
                if not self.forced.running:  # a period of 0 means nothing to do
                    self.set("bat_forced_cmd", 0)
            elif int(value) == 0:
                self.forced.stop()
        elif point_id == "bat_forced_period_min" and self.forced.running:
            self.forced.start(float(value) * 60.0)

    def tick(self, dt_s: float) -> None:
        if self.forced.advance(dt_s):
            self.set("bat_forced_cmd", 0)

    def command(self) -> None:
        if self.pv is not None:
            pv = self.pv
            cap_w = self.p_max_w * float(self.get("p_derate_pct", 100.0)) / 100.0
            fixed = float(self.get("p_derate_w", 0.0))
            if 0 < fixed < self.p_max_w:
                cap_w = min(cap_w, fixed)
            pv.limit_kw = cap_w / 1000.0 if cap_w < self.p_max_w - 1e-6 else None
            mode = int(self.get("p_control_mode", 0))
            if mode == 5:
                pv.feed_in_limit_kw = 0.0
            elif mode == 6:
                pv.feed_in_limit_kw = max(0.0, float(self.get("feed_in_limit_w", 0.0))) / 1000.0
            elif mode == 7:
                pv.feed_in_limit_kw = (
                    float(self.get("feed_in_limit_pct", 100.0)) / 100.0 * self.p_max_w / 1000.0
                )
            else:
                pv.feed_in_limit_kw = None
            pv.running = self.running
        if self.bat is not None:
            bat = self.bat
            cmd = int(self.get("bat_forced_cmd", 0))
            if (
                cmd == 1
                and int(self.get("bat_forced_mode", 0)) == 1
                and bat.soc_pct >= float(self.get("bat_forced_target_soc_pct", 100))
            ):
                cmd = 0
                self.set("bat_forced_cmd", 0)
            if (
                cmd == 2
                and int(self.get("bat_forced_mode", 0)) == 1
                and bat.soc_pct <= float(self.get("bat_forced_target_soc_pct", 0))
            ):
                cmd = 0
                self.set("bat_forced_cmd", 0)
            if cmd == 1:
                target_w = -float(self.get("bat_forced_charge_w", 0.0))
            elif cmd == 2:
                target_w = float(self.get("bat_forced_discharge_w", 0.0))
            else:
                target_w = 0.0
            bat.p_target_kw = target_w / 1000.0
            bat.p_charge_limit_kw = float(self.get("bat_max_charge_set_w", 0.0)) / 1000.0
            bat.p_discharge_limit_kw = float(self.get("bat_max_discharge_set_w", 0.0)) / 1000.0
            bat.soc_ceiling_pct = min(
                bat.spec.soc_max_pct, float(self.get("bat_charge_cutoff_soc_pct", 100.0))
            )
            bat.soc_floor_pct = max(
                bat.spec.soc_min_pct, float(self.get("bat_discharge_cutoff_soc_pct", 0.0))
            )
            bat.running = self.running

    def measure(self) -> None:
        tenant = self.park.topology.owner.get((self.pv or self.bat).spec.id)  # type: ignore[union-attr]
        export_kw = -self.park.tenant_forward_kw(tenant)
        self.set("meter_p_w", export_kw * 1000.0)
        meter = next(
            (m for m in self.park.meters.values() if m.spec.scope == "tenant" and m.spec.tenant == tenant),
            None,
        )
        if meter is None and tenant is None:
            meter = next((m for m in self.park.meters.values() if m.spec.scope == "pcc"), None)
        if meter is not None:
            self.set("meter_e_export_kwh", meter.e_export_kwh)
            self.set("meter_e_import_kwh", meter.e_import_kwh)
        if self.pv is not None:
            pv = self.pv
            today = self.park.now.date()
            if today != self._e_day_date:
                self._e_day_date, self._e_day_start = today, pv.e_kwh
            self.set(
                "p_dc_w",
                min(pv.p_available_kw, pv.spec.inverter_ac_kw * 1.02) * 1000.0 if pv.running else 0.0,
            )
            self.set("p_ac_w", pv.p_kw * 1000.0)
            self.set("pf", 1.0)
            self.set("f_hz", 50.0)
            self.set("temp_internal_c", 30.0 + 20.0 * pv.p_kw / pv.spec.inverter_ac_kw)
            if not self.running:
                status = 0x0301
            elif pv.p_available_kw < 0.5:
                status = 0xA000
            elif pv.limited:
                status = 0x0201
            else:
                status = 0x0200
            self.set("device_status", status)
            self.set("e_total_kwh", pv.e_kwh)
            self.set("e_day_kwh", pv.e_kwh - self._e_day_start)
        if self.bat is not None:
            bat = self.bat
            self.set("bat_p_w", -bat.p_kw * 1000.0)  # Huawei: charging positive
            self.set("bat_soc_pct", bat.soc_pct)
            self.set("bat_running_status", 2 if bat.running else 1)
            self.set("bat_e_charged_kwh", bat.state.e_charged_kwh)
            self.set("bat_e_discharged_kwh", bat.state.e_discharged_kwh)
            self.set("device_status", 0x0200 if self.running else 0x0301)
