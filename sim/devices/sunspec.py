"""SunSpec IEEE 1547 DER semantics (maps ``sunspec_inverter`` and ``sunspec_battery``).

Shared (models 701/702/704/715):

- 704 ``WMaxLimPctEna`` + ``WMaxLimPct`` caps output at a percentage of 702 ``WMax``; ``WSetEna`` +
  ``WSetMod`` (1 WATTS: ``WSet`` W; 0 W_MAX_PCT: ``WSetPct`` % of ``WMax``) sets active power (a PV plant
  treats it as a cap). Each family has a reversion timer: a write to the setpoint, its enable or its
  ``*RvrtTms`` restarts the timer when ``*RvrtTms > 0``; at expiry the setpoint and enable take their
  ``*Rvrt`` / ``*EnaRvrt`` values; ``*RvrtRem`` shows the seconds left.
- 715 ``OpCtl`` STOP / ENTER_STANDBY set 0 W, START / EXIT_STANDBY resume; ``DERHb`` counts seconds; once the
  controller has written ``ControllerHb`` (or 802 ``CtrlHb``) it must change within the point's ``revert_s``
  (30 s) or the device applies every reversion value at once (its safe state).
- 701 ``W`` is positive for generation / discharge — the park sign, so no conversion is needed here.

Battery only (802): ``SetOp`` CONNECT / DISCONNECT closes / opens the contactor, ``SetInvState`` stops or
starts the inverter, ``SoCRsvMin`` / ``SocRsvMax`` are the device's SoC window, ``Hb`` counts seconds,
``AChaMax`` / ``ADisChaMax`` give the currents allowed now.
"""

from __future__ import annotations

import math
from typing import Any

from sim.devices.base import DeviceModel, Timer

V_LL_NOMINAL = 400.0
V_DC_NOMINAL = 768.0
V_CELL_NOMINAL = 3.3
_WMAXLIM_TRIGGERS = frozenset({"WMaxLimPct", "WMaxLimPctEna", "WMaxLimPctRvrtTms"})
_WSET_TRIGGERS = frozenset({"WSet", "WSetPct", "WSetEna", "WSetMod", "WSetRvrtTms"})


def sf_for(max_abs: float, raw_max: int, lowest: int = -3) -> int:
    """Smallest SunSpec scale factor (10**sf per count) that represents ``max_abs`` within ``raw_max`` counts."""
    if max_abs <= 0:
        return 0
    return max(lowest, math.ceil(math.log10(max_abs / raw_max) - 1e-12))


class SunSpecDER(DeviceModel):
    """Behaviour common to SunSpec DER maps (1 + 701/702/704/715)."""

    family = "sunspec"
    rating_w = 0.0

    def setup(self) -> None:
        self.ids = {(p.group, p.sunspec_name): p.id for p in self.map.points if p.sunspec_name}
        self.timers = {"WMaxLimPct": Timer(), "WSet": Timer()}
        self._hb_accum = 0.0
        self._hb_last_value: dict[str, Any] = {}
        self._hb_last_change: dict[str, float] = {}
        self.heartbeat_lost = False
        self.safe_state_count = 0
        self.sset(1, "SN", self.device.id[:32])
        self.sset(1, "DA", self.device.unit_id)

    # -- access by SunSpec name
    def sid(self, model: int, name: str) -> str:
        return self.ids[(f"model_{model}", name)]

    def sget(self, model: int, name: str, default: Any = 0) -> Any:
        point_id = self.ids.get((f"model_{model}", name))
        return default if point_id is None else self.get(point_id, default)

    def sset(self, model: int, name: str, value: Any) -> None:
        key = (f"model_{model}", name)
        if key in self.ids:
            self.values[self.ids[key]] = value

    def set_ratings(self, rating_w: float) -> None:
        """Scale factors and ratings for a device of ``rating_w`` W."""
        self.rating_w = rating_w
        i_max = rating_w / (math.sqrt(3) * V_LL_NOMINAL)
        for name in ("W_SF", "VA_SF", "Var_SF"):
            self.sset(701, name, sf_for(rating_w, 32767))
            self.sset(702, name, sf_for(rating_w, 65535))
        self.sset(701, "A_SF", sf_for(i_max * 1.2, 32767))
        self.sset(702, "A_SF", sf_for(i_max * 1.2, 65535))
        self.sset(704, "WSet_SF", sf_for(rating_w, 2**31 - 1, lowest=0))
        self.sset(704, "VarSet_SF", sf_for(rating_w, 2**31 - 1, lowest=0))
        for name in ("WMaxRtg", "VAMaxRtg", "WMax", "VAMax"):
            self.sset(702, name, rating_w)
        for name in ("VarMaxInjRtg", "VarMaxAbsRtg", "VarMaxInj", "VarMaxAbs"):
            self.sset(702, name, round(0.44 * rating_w, -2))
        self.sset(702, "AMaxRtg", round(i_max * 1.1, 1))
        self.sset(702, "AMax", round(i_max * 1.1, 1))
        self.sset(701, "LLV", V_LL_NOMINAL)
        self.sset(701, "LNV", round(V_LL_NOMINAL / math.sqrt(3), 1))
        self.sset(701, "Hz", 50.0)
        self.sset(701, "TotWhInj", 0)
        self.sset(701, "TotWhAbs", 0)

    @property
    def w_max(self) -> float:
        w = self.sget(702, "WMax", None)
        return float(w) if w else self.rating_w

    # -- writes and timers
    def on_write(self, point_id: str, value: Any) -> None:
        point = self.map.point(point_id)
        name = point.sunspec_name or ""
        if point.group == "model_704":
            if name in _WMAXLIM_TRIGGERS:
                self._restart("WMaxLimPct")
            if name in _WSET_TRIGGERS:
                self._restart("WSet")
        if name in ("ControllerHb", "CtrlHb") and value != self._hb_last_value.get(point_id):
            self._hb_last_value[point_id] = value
            self._hb_last_change[point_id] = self.t_s
            self.heartbeat_lost = False
        if name == "AlarmReset" and value == 1:
            self.sset(701, "Alrm", 0)

    def _restart(self, family: str) -> None:
        tms = float(self.sget(704, f"{family}RvrtTms", 0) or 0)
        if tms > 0:
            self.timers[family].start(tms)
        else:
            self.timers[family].stop()

    def _revert(self, family: str) -> None:
        if family == "WMaxLimPct":
            self.sset(704, "WMaxLimPct", self.sget(704, "WMaxLimPctRvrt", 100.0))
            self.sset(704, "WMaxLimPctEna", self.sget(704, "WMaxLimPctEnaRvrt", 0))
        else:
            self.sset(704, "WSet", self.sget(704, "WSetRvrt", 0.0))
            self.sset(704, "WSetPct", self.sget(704, "WSetPctRvrt", 0.0))
            self.sset(704, "WSetEna", self.sget(704, "WSetEnaRvrt", 0))

    def apply_safe_state(self) -> None:
        """Heartbeat lost: every control takes its reversion value at once."""
        for family in self.timers:
            self.timers[family].stop()
            self._revert(family)
        self.safe_state_count += 1

    def tick(self, dt_s: float) -> None:
        for family, timer in self.timers.items():
            if timer.advance(dt_s):
                self._revert(family)
            self.sset(704, f"{family}RvrtRem", int(math.ceil(timer.remaining_s)) if timer.running else 0)
        self._hb_accum += dt_s
        whole = int(self._hb_accum)
        if whole:
            self._hb_accum -= whole
            self.sset(715, "DERHb", (int(self.sget(715, "DERHb", 0)) + whole) % 2**32)
            self.sset(802, "Hb", (int(self.sget(802, "Hb", 0)) + whole) % 2**16)
        for point_id, t_change in self._hb_last_change.items():
            timeout = self.map.point(point_id).revert_s or 30.0
            if not self.heartbeat_lost and self.t_s - t_change > timeout:
                self.heartbeat_lost = True
                self.apply_safe_state()

    # -- commands
    def op_running(self) -> bool:
        return int(self.sget(715, "OpCtl", 1)) in (1, 3) and int(self.sget(703, "ES", 1) or 0) != 0

    def w_set_w(self) -> float | None:
        """Active power set by WSet (W, park sign), or ``None`` when disabled."""
        if int(self.sget(704, "WSetEna", 0)) != 1:
            return None
        if int(self.sget(704, "WSetMod", 1)) == 1:
            return float(self.sget(704, "WSet", 0.0))
        return float(self.sget(704, "WSetPct", 0.0)) / 100.0 * self.w_max

    def w_max_lim_w(self) -> float:
        if int(self.sget(704, "WMaxLimPctEna", 0)) != 1:
            return self.w_max
        return max(0.0, float(self.sget(704, "WMaxLimPct", 100.0))) / 100.0 * self.w_max

    def measure_ac(self, p_w: float, available_w: float | None = None) -> None:
        self.sset(701, "W", p_w)
        self.sset(701, "VA", abs(p_w))
        self.sset(701, "Var", 0.0)
        self.sset(701, "PF", 1.0 if p_w >= 0 else -1.0)
        amps = abs(p_w) / (math.sqrt(3) * V_LL_NOMINAL)
        self.sset(701, "A", amps)
        for phase in ("L1", "L2", "L3"):
            self.sset(701, f"W{phase}", p_w / 3)
            self.sset(701, f"VA{phase}", abs(p_w) / 3)
            self.sset(701, f"A{phase}", amps)
            self.sset(701, f"V{phase}", round(V_LL_NOMINAL / math.sqrt(3), 1))
        self.sset(701, "VL1L2", V_LL_NOMINAL)
        self.sset(701, "VL2L3", V_LL_NOMINAL)
        self.sset(701, "VL3L1", V_LL_NOMINAL)
        self.sset(701, "TmpCab", 30.0 + 15.0 * abs(p_w) / max(self.rating_w, 1.0))


class SunSpecInverter(SunSpecDER):
    """PV inverter: output = min(available, inverter rating, WMaxLimPct x WMax, WSet) while started."""

    def setup(self) -> None:
        super().setup()
        self.pv = self.park.pv(self.device.serves)
        self.set_ratings(self.pv.spec.inverter_ac_kw * 1000.0)
        self.sset(1, "Md", f"PV inverter {self.pv.spec.inverter_ac_kw:g} kW")

    def command(self) -> None:
        limit_w = self.w_max_lim_w()
        w_set = self.w_set_w()
        if w_set is not None:
            limit_w = min(limit_w, max(0.0, w_set))
        self.pv.limit_kw = limit_w / 1000.0 if limit_w < self.rating_w - 1e-6 else None
        self.pv.running = self.op_running()

    def measure(self) -> None:
        pv = self.pv
        p_w = pv.p_kw * 1000.0
        self.measure_ac(p_w)
        self.sset(701, "TotWhInj", int(pv.e_kwh * 1000.0))
        on = pv.running
        state = 3 if on and pv.p_available_kw > 0.5 else (7 if on else 0)
        if on and pv.limited:
            state = 4
        self.sset(701, "St", 1 if on else 0)
        self.sset(701, "InvSt", state)
        self.sset(701, "ConnSt", 1 if on else 0)
        available = min(pv.p_available_kw, pv.spec.inverter_ac_kw)
        throttle = 100.0 * (1.0 - pv.p_kw / available) if pv.limited and available > 0 else 0.0
        self.sset(701, "ThrotPct", round(max(0.0, min(100.0, throttle))))
        source = 0
        if pv.limited:
            source |= 1 if int(self.sget(704, "WMaxLimPctEna", 0)) == 1 else 0
            source |= 2 if self.w_set_w() is not None else 0
        self.sset(701, "ThrotSrc", source)
        self.sset(701, "DERMode", 1 | (4 if pv.clipped else 0))


class SunSpecBattery(SunSpecDER):
    """Storage DER: 704 WSet is the signed AC setpoint (discharge > 0), within 802/702 limits and the SoC window."""

    def setup(self) -> None:
        super().setup()
        self.bat = self.park.battery(self.device.serves)
        spec = self.bat.spec
        rating_w = max(spec.p_charge_max_kw, spec.p_discharge_max_kw) * 1000.0
        self.set_ratings(rating_w)
        self.sset(1, "Md", f"Battery {spec.p_discharge_max_kw:g} kW / {spec.e_kwh:g} kWh")
        self.sset(702, "WChaRteMaxRtg", spec.p_charge_max_kw * 1000.0)
        self.sset(702, "WDisChaRteMaxRtg", spec.p_discharge_max_kw * 1000.0)
        self.sset(702, "WChaRteMax", spec.p_charge_max_kw * 1000.0)
        self.sset(702, "WDisChaRteMax", spec.p_discharge_max_kw * 1000.0)
        wh = spec.e_kwh * 1000.0
        for model, name, sf_name in ((713, "WHRtg", "WH_SF"), (802, "WHRtg", "WHRtg_SF")):
            self.sset(model, sf_name, sf_for(wh, 65535, lowest=0))
            self.sset(model, name, wh)
        self.sset(802, "WChaDisChaMax_SF", sf_for(rating_w, 65535, lowest=0))
        self.sset(802, "W_SF", sf_for(rating_w, 32767, lowest=0))
        self.sset(802, "AHRtg", round(wh / V_DC_NOMINAL))
        self.sset(802, "AHRtg_SF", sf_for(wh / V_DC_NOMINAL, 65535, lowest=0))
        self.sset(802, "WChaRteMax", spec.p_charge_max_kw * 1000.0)
        self.sset(802, "WDisChaRteMax", spec.p_discharge_max_kw * 1000.0)
        i_max = rating_w / V_DC_NOMINAL
        self.sset(802, "A_SF", sf_for(i_max * 1.2, 32767))
        self.sset(802, "AMax_SF", sf_for(i_max * 1.2, 65535))
        self.sset(802, "SocRsvMax", spec.soc_max_pct)
        self.sset(802, "SoCRsvMin", spec.soc_min_pct)
        self.sset(802, "V", V_DC_NOMINAL)
        self.sset(802, "VMax", V_DC_NOMINAL * 1.1)
        self.sset(802, "VMin", V_DC_NOMINAL * 0.85)

    def command(self) -> None:
        bat = self.bat
        connected = int(self.sget(802, "SetOp", 1)) == 1
        started = int(self.sget(802, "SetInvState", 3)) == 3
        bat.running = connected and started and self.op_running()
        target = self.w_set_w() or 0.0
        target = min(target, self.w_max_lim_w())
        bat.p_target_kw = target / 1000.0
        bat.p_charge_limit_kw = (
            float(self.sget(702, "WChaRteMax", bat.spec.p_charge_max_kw * 1000.0)) / 1000.0
        )
        bat.p_discharge_limit_kw = (
            float(self.sget(702, "WDisChaRteMax", bat.spec.p_discharge_max_kw * 1000.0)) / 1000.0
        )
        bat.soc_floor_pct = float(self.sget(802, "SoCRsvMin", bat.spec.soc_min_pct))
        bat.soc_ceiling_pct = float(self.sget(802, "SocRsvMax", bat.spec.soc_max_pct))

    def measure(self) -> None:
        bat = self.bat
        p_w = bat.p_kw * 1000.0
        self.measure_ac(p_w)
        self.sset(701, "TotWhInj", int(bat.state.e_discharged_kwh * 1000.0))
        self.sset(701, "TotWhAbs", int(bat.state.e_charged_kwh * 1000.0))
        on = bat.running
        self.sset(701, "St", 1 if on else 0)
        self.sset(701, "InvSt", 3 if on else 0)
        self.sset(701, "ConnSt", 1 if on else 0)
        soc = bat.soc_pct
        self.sset(713, "SoC", soc)
        self.sset(713, "WHAvail", bat.spec.e_kwh * 1000.0 * soc / 100.0)
        self.sset(802, "SoC", soc)
        self.sset(802, "DoD", 100.0 - soc)
        self.sset(802, "NCyc", int(bat.state.e_discharged_kwh / bat.spec.e_kwh))
        connected = int(self.sget(802, "SetOp", 1)) == 1
        self.sset(802, "State", 3 if connected else 1)
        if not connected:
            cha_st = 1
        elif p_w < -1:
            cha_st = 4
        elif p_w > 1:
            cha_st = 3
        elif soc >= bat.soc_ceiling_pct - 0.05:
            cha_st = 5
        elif soc <= bat.soc_floor_pct + 0.05:
            cha_st = 2
        else:
            cha_st = 6
        self.sset(802, "ChaSt", cha_st)
        self.sset(802, "W", p_w)
        self.sset(802, "A", p_w / V_DC_NOMINAL)
        self.sset(802, "V", V_DC_NOMINAL * (0.95 + 0.1 * soc / 100.0))
        cell = V_CELL_NOMINAL * (0.97 + 0.06 * soc / 100.0)
        for name, value in (("CellVMax", cell + 0.01), ("CellVMin", cell - 0.01), ("CellVAvg", cell)):
            self.sset(802, name, round(value, 3))
        charge_ok = connected and soc < bat.soc_ceiling_pct - 1e-6 and not bat.bms_forced_charge_block
        discharge_ok = connected and soc > bat.soc_floor_pct + 1e-6 and not bat.bms_forced_discharge_block
        alarm = 0
        if bat.bms_alarm_level >= 1:
            alarm |= 1 << 2  # OVER_TEMP_WARNING
        if bat.bms_alarm_level >= 3:
            alarm |= 1 << 1  # OVER_TEMP_ALARM
        self.sset(802, "Evt1", alarm)
        self.sset(802, "AChaMax", bat.spec.p_charge_max_kw * 1000.0 / V_DC_NOMINAL if charge_ok else 0.0)
        self.sset(
            802, "ADisChaMax", bat.spec.p_discharge_max_kw * 1000.0 / V_DC_NOMINAL if discharge_ok else 0.0
        )
