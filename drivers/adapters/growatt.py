"""Growatt SPH/SPA/MIX hybrid inverter with battery (map ``growatt_sph``), storage capability.

Battery power is two magnitudes (discharge 1009, charge 1011): park power = discharge − charge. Growatt
hybrids have no power setpoint; they follow priority time slots. A setpoint becomes one priority on slot 1
(00:00–23:59, written only if the device holds other times):

- discharge P > 0: Battery First slot off, then Grid First with discharge rate 1070 = P / rated discharge
  power (%), stop SoC 1071 = the site's minimum SoC, slot 1082 on;
- charge P < 0: Grid First slot off, then Battery First with charge rate 1090 = |P| / rated charge power
  (%), stop SoC 1091 = the site's maximum SoC, AC charge 1092 on, slot 1102 on;
- 0: Battery First with AC charge off and rate 0 % (hold: the battery neither charges from the grid nor
  discharges).

The ratings are the site file's (the protocol has no rating register); rates are whole percent. All these
settings persist in the inverter, so they carry the EEPROM write budget, and no revert timer exists: the
controller owns the fallback.
"""

from __future__ import annotations

import math
from typing import ClassVar

from drivers.adapters.base import Adapter, enum_name, result_value, soc_gate
from drivers.capabilities import CapabilityKind, StorageReading, StorageState
from drivers.safewrite import Step, WriteResult

WHOLE_DAY = (0, 23 << 8 | 59)
"""Slot start 00:00 and stop 23:59 (high byte hour, low byte minute)."""
_ON, _OFF = 1, 0


class GrowattHybridStorage(Adapter):
    kind = CapabilityKind.STORAGE
    maps: ClassVar[dict[str, str]] = {"main": "growatt_sph"}
    FAST: ClassVar[dict[str, tuple[str, ...]]] = {
        "main": ("status", "p_discharge_w", "p_charge_w", "soc_pct", "priority", "grid_first_enable_1",
                 "bat_first_enable_1", "ac_charge_enable", "grid_first_discharge_rate_pct",
                 "bat_first_charge_rate_pct")
    }
    CONTROL: ClassVar[dict[str, tuple[str, ...]]] = {"main": ("p_discharge_w", "p_charge_w", "soc_pct")}
    SLOW: ClassVar[dict[str, tuple[str, ...]]] = {"main": ("e_discharged_kwh", "e_charged_kwh", "v_bat_v", "p_ac_w")}
    STATIC: ClassVar[dict[str, tuple[str, ...]]] = {
        "main": ("grid_first_start_1", "grid_first_stop_1", "bat_first_start_1", "bat_first_stop_1",
                 "grid_first_stop_soc_pct", "bat_first_stop_soc_pct")
    }

    def ratings_kw(self) -> tuple[float | None, float | None]:
        """(charge, discharge) ratings the rates refer to: the site file's battery powers."""
        return self.limits.p_charge_max_kw or None, self.limits.p_discharge_max_kw or None

    def allowed_kw(self) -> tuple[float, float, list[str]]:
        notes: list[str] = []
        cha, dis = self.ratings_kw()
        if cha is None or dis is None:
            notes.append("blocked: the site file gives no battery power rating (the rates' reference)")
        cha, dis = soc_gate(cha, dis, self.fresh_num("soc_pct"), self.limits.soc_min_pct, self.limits.soc_max_pct,
                            notes)
        return cha, dis, notes

    def p_kw(self) -> float | None:
        dis, cha = self.num("p_discharge_w"), self.num("p_charge_w")
        return None if dis is None or cha is None else (dis - cha) / 1000.0

    def held_kw(self) -> float | None:
        """The power the enabled slot asks for (+ discharge), ``None`` when no slot 1 is on."""
        r_cha, r_dis = self.ratings_kw()
        if self.num("grid_first_enable_1") == _ON:
            rate = self.num("grid_first_discharge_rate_pct")
            return None if rate is None or not r_dis else min(rate, 100.0) / 100.0 * r_dis
        if self.num("bat_first_enable_1") == _ON:
            ac_charge = self.num("ac_charge_enable")
            if ac_charge is None:
                return None
            if ac_charge == _OFF:
                return 0.0
            rate = self.num("bat_first_charge_rate_pct")
            return None if rate is None or not r_cha else -min(rate, 100.0) / 100.0 * r_cha
        return None

    def reading(self) -> StorageReading:
        p_kw = self.p_kw()
        self.check_response(p_kw, point_id="p_discharge_w")
        cha, dis, _ = self.allowed_kw()
        status = enum_name(self.dev(), "status")
        return StorageReading(
            **self.meta(),
            p_kw=p_kw,
            soc_pct=self.num("soc_pct"),
            p_setpoint_kw=self.held_kw(),
            p_charge_max_kw=cha,
            p_discharge_max_kw=dis,
            state={"normal": StorageState.RUNNING, "waiting": StorageState.STANDBY,
                   "fault": StorageState.FAULT}.get(status or "", StorageState.UNKNOWN),
        )

    def plan(self, p_kw: float, cha: float, dis: float, r_cha: float, r_dis: float) -> list[Step]:
        """The slot-1 sequence for ``p_kw`` (see the module docstring)."""
        lim = self.limits
        if p_kw > 0:
            return [
                Step("bat_first_enable_1", _OFF),
                Step("grid_first_start_1", WHOLE_DAY[0]),
                Step("grid_first_stop_1", WHOLE_DAY[1]),
                Step("grid_first_discharge_rate_pct", round(100.0 * p_kw / r_dis), lo=0.0,
                     hi=math.floor(100.0 * dis / r_dis)),
                Step("grid_first_stop_soc_pct", math.ceil(lim.soc_min_pct or 0.0)),
                Step("grid_first_enable_1", _ON),
            ]
        charge = p_kw < 0
        return [
            Step("grid_first_enable_1", _OFF),
            Step("bat_first_start_1", WHOLE_DAY[0]),
            Step("bat_first_stop_1", WHOLE_DAY[1]),
            Step("bat_first_charge_rate_pct", round(100.0 * -p_kw / r_cha) if charge else 0, lo=0.0,
                 hi=math.floor(100.0 * cha / r_cha)),
            Step("bat_first_stop_soc_pct", math.floor(lim.soc_max_pct if lim.soc_max_pct is not None else 100.0)),
            Step("ac_charge_enable", _ON if charge else _OFF),
            Step("bat_first_enable_1", _ON),
        ]

    async def set_power(self, p_kw: float) -> list[WriteResult]:
        """Discharge (> 0) / charge (< 0) at ``p_kw`` through the slot-1 priority, clamped to what is allowed."""
        r_cha, r_dis = self.ratings_kw()
        if r_cha is None or r_dis is None:
            return [self.refuse("growatt_sph: rates are % of the battery rating; the site file gives none",
                                "grid_first_discharge_rate_pct", requested=p_kw)]
        cha, dis, _ = self.allowed_kw()
        results = await self.writer().write_sequence("p_set", self.plan(p_kw, cha, dis, r_cha, r_dis))
        if all(r.applied for r in results):
            rate_id, ref = ("grid_first_discharge_rate_pct", r_dis) if p_kw > 0 else ("bat_first_charge_rate_pct", -r_cha)
            held = result_value(results, rate_id)
            if held is not None:
                self.expect(held / 100.0 * ref, at_most=False, rating_kw=max(r_cha, r_dis), from_kw=self.p_kw())
            self.control_started = True
        return results


__all__ = ["GrowattHybridStorage"]
