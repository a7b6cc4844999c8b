"""Sungrow semantics (maps ``sungrow_sg`` and ``sungrow_sh``).

SG string inverter: output cap = nominal x ``p_limit_pct`` while ``p_limit_switch`` = 0xAA (the switch must
be enabled for the setting to act; writing only the setting does nothing, as on the device);
``start_stop`` 0xCE stops, 0xCF starts. No revert timer: a limit stays until changed.

SH hybrid battery: ``ems_mode`` (13050) 0 = self-consumption (the battery balances the tenant's connection
point: charges from surplus, discharges to cover import, within its SoC window), 2 = forced mode where
``charge_cmd`` (13051) 0xAA charges / 0xBB discharges / 0xCC stops at ``charge_power_w`` (13052); other modes
idle. ``start_stop`` 0xCE stops. ``soc_min_pct`` / ``soc_max_pct`` bound the SoC; 33047/33048 cap power.
Raw signs: ``bat_p_w`` is a magnitude with the direction in ``running_state`` bits; ``export_p_w`` > 0 = export.
"""

from __future__ import annotations

import math

from sim.devices.base import DeviceModel

ENABLE = 0xAA
START = 0xCF
STOP = 0xCE
CHARGE, DISCHARGE, HOLD = 0xAA, 0xBB, 0xCC


class SungrowSG(DeviceModel):
    family = "sungrow_sg"

    def setup(self) -> None:
        self.pv = self.park.pv(self.device.serves)
        self.set("p_nominal_kw", self.pv.spec.inverter_ac_kw)
        self._e_day_date = self.park.now.date()
        self._e_day_start = 0.0

    def command(self) -> None:
        pv = self.pv
        pv.running = int(self.get("start_stop", START)) != STOP
        if int(self.get("p_limit_switch", 0x55)) == ENABLE:
            pv.limit_kw = pv.spec.inverter_ac_kw * float(self.get("p_limit_pct", 100.0)) / 100.0
        else:
            pv.limit_kw = None

    def measure(self) -> None:
        pv = self.pv
        today = self.park.now.date()
        if today != self._e_day_date:
            self._e_day_date, self._e_day_start = today, pv.e_kwh
        p_w = pv.p_kw * 1000.0
        self.set("p_ac_w", p_w)
        self.set("p_dc_w", p_w / 0.985 if p_w > 0 else 0.0)
        self.set("q_ac_var", 0.0)
        self.set("pf", 1.0)
        self.set("f_hz", 50.0)
        for name in ("u_ab_v", "u_bc_v", "u_ca_v"):
            self.set(name, 400.0)
        amps = p_w / (math.sqrt(3) * 400.0)
        for name in ("i_a_a", "i_b_a", "i_c_a"):
            self.set(name, amps)
        self.set("temp_internal_c", 30.0 + 20.0 * pv.p_kw / pv.spec.inverter_ac_kw)
        self.set("e_total_kwh", pv.e_kwh)
        self.set("e_day_kwh", pv.e_kwh - self._e_day_start)
        if not pv.running:
            state = 0x8000
        elif pv.p_available_kw < 0.5:
            state = 0x1400
        elif int(self.get("p_limit_switch", 0x55)) == ENABLE:
            state = 0x8200
        else:
            state = 0x0000
        self.set("work_state", state)


class SungrowSH(DeviceModel):
    family = "sungrow_sh"

    def setup(self) -> None:
        self.bat = self.park.battery(self.device.serves)
        spec = self.bat.spec
        self.set("p_nominal_kw", max(spec.p_charge_max_kw, spec.p_discharge_max_kw))
        self.set("bat_max_charge_kw", spec.p_charge_max_kw)
        self.set("bat_max_discharge_kw", spec.p_discharge_max_kw)
        self.set("soc_max_pct", spec.soc_max_pct)
        self.set("soc_min_pct", spec.soc_min_pct)
        self.set("bat_soh_pct", 100.0)

    def command(self) -> None:
        bat = self.bat
        bat.running = int(self.get("start_stop", START)) != STOP
        mode = int(self.get("ems_mode", 0))
        bat.self_consumption = mode == 0
        if mode == 2:
            cmd = int(self.get("charge_cmd", HOLD))
            power_kw = float(self.get("charge_power_w", 0.0)) / 1000.0
            bat.p_target_kw = -power_kw if cmd == CHARGE else power_kw if cmd == DISCHARGE else 0.0
        elif mode != 0:
            bat.p_target_kw = 0.0
        bat.p_charge_limit_kw = float(self.get("bat_max_charge_kw", bat.spec.p_charge_max_kw))
        bat.p_discharge_limit_kw = float(self.get("bat_max_discharge_kw", bat.spec.p_discharge_max_kw))
        bat.soc_ceiling_pct = float(self.get("soc_max_pct", bat.spec.soc_max_pct))
        bat.soc_floor_pct = float(self.get("soc_min_pct", bat.spec.soc_min_pct))

    def measure(self) -> None:
        bat = self.bat
        p_kw = bat.p_kw
        owner = self.park.topology.owner.get(bat.spec.id)
        export_kw = -self.park.tenant_forward_kw(owner)
        v = 400.0 + 80.0 * bat.soc_pct / 100.0
        self.set("bat_v_v", v)
        self.set("bat_p_w", abs(p_kw) * 1000.0)
        self.set("bat_i_a", abs(p_kw) * 1000.0 / v)
        self.set("bat_soc_pct", bat.soc_pct)
        self.set("bat_e_charged_kwh", bat.state.e_charged_kwh)
        self.set("bat_e_discharged_kwh", bat.state.e_discharged_kwh)
        self.set("export_p_w", export_kw * 1000.0)
        loads = sum(-i.p_kw for i in self.park.injections() if i.tenant == owner and i.p_kw < 0)
        self.set("load_p_w", loads * 1000.0)
        bits = (2 if p_kw < -0.01 else 0) | (4 if p_kw > 0.01 else 0)
        bits |= 0x10 if export_kw > 0.01 else 0x20 if export_kw < -0.01 else 0
        self.set("running_state", bits)
        if not bat.running:
            state = 0x0002
        elif int(self.get("ems_mode", 0)) == 2:
            state = 0x0800
        else:
            state = 0x0040
        self.set("system_state", state)
