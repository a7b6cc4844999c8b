"""Chinese PCS + BMS pair semantics (maps ``cn_pcs`` and ``cn_bms``, illustrative).

BMS (``cn_bms``), owner of the battery's protection state:

- permission flags: charge NOT allowed at SoC >= the battery's ``soc_max_pct``, discharge NOT allowed at
  SoC <= ``soc_min_pct``, both when the contactor is open, plus forced blocks from faults;
- current limits taper to 0 over the last 5 % of SoC before each limit;
- alarms: a fault's alarm level (1-3); level 3 latches ``fatal``, opens the contactor and stays until
  ``alarm_reset`` = 1 after the cause is gone;
- EMS watchdog: armed by the first Modbus request; no request for ``ems_timeout_s`` (0 = off) latches the
  ``ems_comm_timeout`` alarm and opens the contactor until ``alarm_reset``.

PCS (``cn_pcs``): runs when ``run_cmd`` = 1 and no latched fault; AC power follows ``p_set_kw`` with the
device's raw sign (positive = CHARGE, converted here once) within the BMS flags and current limits and the
battery's ramp. Latched faults (``fault_system`` bits): 0 EMS communication (its own watchdog, as the BMS's),
2 BMS fault (contactor opened or fatal alarm), 4 PCS trip (fault injection). ``fault_reset`` = 1 clears them
if the cause is gone; the PCS then waits for a new start command.
"""

from __future__ import annotations

from typing import Any

from sim.assets import BatteryRuntime
from sim.devices.base import DeviceModel

V_DC_NOMINAL = 800.0
V_AC = 400.0
EMS_FAULT, BMS_FAULT, PCS_TRIP = 1 << 0, 1 << 2, 1 << 4
TAPER_PCT = 5.0


class BmsLogic:
    """Protection state of one battery, shared by its BMS device and read by its PCS."""

    def __init__(self, bat: BatteryRuntime) -> None:
        self.bat = bat
        self.contactor_cmd = True
        self.fatal_latched = False
        self.ems_timeout_latched = False

    @property
    def contactor_closed(self) -> bool:
        return self.contactor_cmd and not self.fatal_latched and not self.ems_timeout_latched

    def update(self) -> None:
        if self.bat.bms_alarm_level >= 3:
            self.fatal_latched = True

    def reset(self) -> None:
        if self.bat.bms_alarm_level < 3:
            self.fatal_latched = False
        self.ems_timeout_latched = False

    def charge_allowed(self) -> bool:
        bat = self.bat
        return (
            self.contactor_closed
            and not bat.bms_forced_charge_block
            and bat.soc_pct < bat.spec.soc_max_pct - 1e-6
        )

    def discharge_allowed(self) -> bool:
        bat = self.bat
        return (
            self.contactor_closed
            and not bat.bms_forced_discharge_block
            and bat.soc_pct > bat.spec.soc_min_pct + 1e-6
        )

    def i_charge_max_a(self) -> float:
        if not self.charge_allowed():
            return 0.0
        room = self.bat.spec.soc_max_pct - self.bat.soc_pct
        return self.bat.spec.p_charge_max_kw * 1000.0 / V_DC_NOMINAL * min(1.0, room / TAPER_PCT)

    def i_discharge_max_a(self) -> float:
        if not self.discharge_allowed():
            return 0.0
        room = self.bat.soc_pct - self.bat.spec.soc_min_pct
        return self.bat.spec.p_discharge_max_kw * 1000.0 / V_DC_NOMINAL * min(1.0, room / TAPER_PCT)


def bms_logic(park, bat: BatteryRuntime) -> BmsLogic:
    """The battery's BMS logic (one per battery, created on first use)."""
    if bat.spec.id not in park.bms_logic:
        park.bms_logic[bat.spec.id] = BmsLogic(bat)
    return park.bms_logic[bat.spec.id]


class _Watchdog:
    """EMS communication watchdog: armed by the first request, expires after ``timeout_s`` of silence."""

    def __init__(self) -> None:
        self.armed = False
        self.last_s = 0.0

    def feed(self, t_s: float) -> None:
        self.armed = True
        self.last_s = t_s

    def expired(self, t_s: float, timeout_s: float) -> bool:
        return self.armed and timeout_s > 0 and t_s - self.last_s > timeout_s


class CnBms(DeviceModel):
    family = "cn_bms"

    def setup(self) -> None:
        self.bat = self.park.battery(self.device.serves)
        self.logic = bms_logic(self.park, self.bat)
        self.watchdog = _Watchdog()
        self.set("e_capacity_kwh", self.bat.spec.e_kwh)
        self.set("soh_pct", 100.0)
        self.set("insulation_pos_kohm", 2000)
        self.set("insulation_neg_kohm", 2000)

    def on_request(self) -> None:
        self.watchdog.feed(self.t_s)

    def on_write(self, point_id: str, value: Any) -> None:
        if point_id == "contactor_cmd":
            self.logic.contactor_cmd = int(value) == 1
        elif point_id == "alarm_reset" and int(value) == 1:
            self.logic.reset()

    def tick(self, dt_s: float) -> None:
        if self.watchdog.expired(self.t_s, float(self.get("ems_timeout_s", 0))):
            self.logic.ems_timeout_latched = True

    def command(self) -> None:
        self.logic.update()

    def measure(self) -> None:
        bat, logic = self.bat, self.logic
        soc = bat.soc_pct
        v = V_DC_NOMINAL * (0.93 + 0.12 * soc / 100.0)
        self.set("v_v", v)
        self.set("i_a", -bat.p_kw * 1000.0 / v)  # BMS: positive = charging
        self.set("soc_pct", soc)
        self.set("e_remaining_kwh", bat.spec.e_kwh * soc / 100.0)
        self.set("temp_cell_max_c", 28.0 + 6.0 * abs(bat.p_kw) / bat.spec.p_discharge_max_kw)
        self.set("temp_cell_min_c", 24.0)
        cell_mv = 3200 + 200 * soc / 100.0
        self.set("v_cell_max_mv", round(cell_mv + 15))
        self.set("v_cell_min_mv", round(cell_mv - 15))
        self.set("i_charge_max_a", logic.i_charge_max_a())
        self.set("i_discharge_max_a", logic.i_discharge_max_a())
        flags = (0 if logic.charge_allowed() else 1) | (0 if logic.discharge_allowed() else 2)
        flags |= 4 if logic.fatal_latched else 0
        self.set("flags", flags)
        level = max(
            bat.bms_alarm_level, 3 if logic.fatal_latched else 0, 2 if logic.ems_timeout_latched else 0
        )
        self.set("alarm_level", level)
        if not logic.contactor_closed:
            state = 5 if logic.fatal_latched else 1
        elif bat.p_kw < -0.1:
            state = 2
        elif bat.p_kw > 0.1:
            state = 3
        else:
            state = 4
        self.set("state", state)
        self.set("cell_ot_l1", bat.bms_alarm_level >= 1)
        self.set("cell_ot_l2", bat.bms_alarm_level >= 2)
        self.set("cell_ot_l3", bat.bms_alarm_level >= 3 or logic.fatal_latched)
        self.set("ems_comm_timeout", logic.ems_timeout_latched)
        self.set("contactor_open", not logic.contactor_closed)


class CnPcs(DeviceModel):
    family = "cn_pcs"

    def setup(self) -> None:
        self.bat = self.park.battery(self.device.serves)
        self.logic = bms_logic(self.park, self.bat)
        self.watchdog = _Watchdog()
        self.faults_latched = 0
        self.running = False

    def trip(self) -> None:
        """PCS trip (fault injection): stop and latch the trip bit."""
        self.faults_latched |= PCS_TRIP
        self.running = False

    def on_request(self) -> None:
        self.watchdog.feed(self.t_s)

    def on_write(self, point_id: str, value: Any) -> None:
        if point_id == "run_cmd":
            self.running = int(value) == 1 and not self.faults_latched
        elif point_id == "fault_reset" and int(value) == 1:
            keep = 0
            if not self.logic.contactor_closed:
                keep |= BMS_FAULT
            if self.bat.tripped_by_fault:  # the injected trip's cause is still there: the reset is refused
                keep |= PCS_TRIP
            self.faults_latched &= keep
            self.running = False
            self.set("run_cmd", 0)

    def tick(self, dt_s: float) -> None:
        if self.watchdog.expired(self.t_s, float(self.get("ems_timeout_s", 0))):
            self.faults_latched |= EMS_FAULT
            self.watchdog.armed = False  # latched; re-armed by the next request
        if self.faults_latched:
            self.running = False

    def command(self) -> None:
        bat, logic = self.bat, self.logic
        logic.update()  # the BMS may have latched a fatal alarm this step
        if self.running and not logic.contactor_closed:
            self.faults_latched |= BMS_FAULT
            self.running = False
        bat.running = self.running and logic.contactor_closed
        bat.self_consumption = False
        bat.p_target_kw = -float(self.get("p_set_kw", 0.0))  # raw: positive = charge
        bat.charge_allowed = logic.charge_allowed()
        bat.discharge_allowed = logic.discharge_allowed()
        v = V_DC_NOMINAL * (0.93 + 0.12 * bat.soc_pct / 100.0)
        bat.p_charge_limit_kw = logic.i_charge_max_a() * v / 1000.0
        bat.p_discharge_limit_kw = logic.i_discharge_max_a() * v / 1000.0
        bat.soc_floor_pct = bat.spec.soc_min_pct
        bat.soc_ceiling_pct = bat.spec.soc_max_pct

    def measure(self) -> None:
        bat = self.bat
        p_raw = -bat.p_kw  # PCS raw sign: charging positive
        self.set("p_kw", p_raw)
        self.set("q_kvar", 0.0)
        self.set("pf", 1.0 if abs(p_raw) > 0.1 else 0.0)
        self.set("f_hz", 50.0)
        for name in ("u_ab_v", "u_bc_v", "u_ca_v"):
            self.set(name, V_AC)
        amps = abs(p_raw) * 1000.0 / (1.7320508 * V_AC)
        for name in ("i_a_a", "i_b_a", "i_c_a"):
            self.set(name, amps)
        v = V_DC_NOMINAL * (0.93 + 0.12 * bat.soc_pct / 100.0)
        self.set("dc_v_v", v)
        dc_p = p_raw * (bat.params.eta_charge if p_raw > 0 else 1.0 / bat.params.eta_discharge)
        self.set("dc_p_kw", dc_p)
        self.set("dc_i_a", dc_p * 1000.0 / v)
        self.set("temp_igbt_c", 35.0 + 25.0 * abs(p_raw) / bat.spec.p_discharge_max_kw)
        self.set("temp_env_c", 28.0)
        if self.faults_latched:
            state = 3
        elif self.running:
            state = 2
        else:
            state = 0
        self.set("run_state", state)
        self.set("fault_system", self.faults_latched)
        self.set(
            "p_charge_allowed_kw",
            min(bat.spec.p_charge_max_kw, bat.p_charge_limit_kw or 0.0) if bat.charge_allowed else 0.0,
        )
        self.set(
            "p_discharge_allowed_kw",
            min(bat.spec.p_discharge_max_kw, bat.p_discharge_limit_kw or 0.0)
            if bat.discharge_allowed
            else 0.0,
        )
        self.set("e_charged_kwh", bat.state.e_charged_kwh)
        self.set("e_discharged_kwh", bat.state.e_discharged_kwh)
