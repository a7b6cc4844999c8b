"""Huawei SUN2000 plant behind a SmartLogger (unit id 0): PV inverter and, where present, storage.

- PV: output 32080 (positive = generation = park sign). Active power limit via 40125 "active power
  percentage derating" (% of Pmax 30075, RAM). The plant's feed-in limit at the grid connection point is
  the documented ordered pair *limit, then mode* (47418 % then 47415 = 7, or 47416 W then 47415 = 6):
  both are EEPROM-backed, so :meth:`HuaweiPVInverter.set_feed_in_limit` is for commissioning and rare
  changes, rate-limited by the safe-write layer.
- Storage: 37765 is positive when CHARGING (opposite of the park sign: converted here). Power via the
  forced charge/discharge command: mode 47246 = duration, period 47083 (minutes), power 47247/47249,
  then command 47100. The command expires by itself after the period, so the sequence is re-asserted
  every ``period × refresh_fraction``; 0 kW sends "stop". Allowed power from 37046/37048.

The SmartLogger needs ~1.5 s after connect (map ``connect_delay_s``) and may answer "busy" (exception 6):
the transport waits and backs off.
"""

from __future__ import annotations

from typing import Any, ClassVar

from drivers.adapters.base import Adapter, enum_name, min_opt, neg, result_value, soc_gate, w_to_kw
from drivers.capabilities import CapabilityKind, PVReading, StorageReading, StorageState
from drivers.safewrite import Step, WriteResult

_STATUS_LIMITED = 0x0201
_MODE_PCT = 7
_MODE_W = 6


class HuaweiPVInverter(Adapter):
    kind = CapabilityKind.PV_INVERTER
    maps: ClassVar[dict[str, str]] = {"main": "huawei_sun2000"}
    # 50 ms between requests to a SmartLogger: every cycle reads only the output; the status and the
    # derating the driver wrote (verified by readback at each write) come in the background rotation.
    FAST: ClassVar[dict[str, tuple[str, ...]]] = {"main": ("p_ac_w",)}
    CONTROL: ClassVar[dict[str, tuple[str, ...]]] = {"main": ("p_ac_w",)}
    SLOW: ClassVar[dict[str, tuple[str, ...]]] = {"main": ("device_status", "p_derate_pct", "e_total_kwh")}
    STATIC: ClassVar[dict[str, tuple[str, ...]]] = {"main": ("p_max_w", "p_rated_w", "model_name")}

    def rated_kw(self) -> float | None:
        """Pmax (30075), the base of the derating percentage, kW."""
        w = self.num("p_max_w") or self.num("p_rated_w")
        return None if not w else w / 1000.0

    def reading(self) -> PVReading:
        w = self.num("p_ac_w")
        self.check_response(None if w is None else w / 1000.0, point_id="p_ac_w")
        pct = self.num("p_derate_pct")
        status = self.num("device_status")
        limit_active = status == _STATUS_LIMITED or (pct is not None and pct < 100.0)
        return self.pv_reading(
            self.meta(),
            p_kw=None if w is None else w / 1000.0,
            limit_pct=pct,
            limit_active=limit_active,
            state=enum_name(self.dev(), "device_status"),
            e_total_kwh=self.num("e_total_kwh"),
        )

    async def set_limit(self, p_limit_kw: float | None) -> list[WriteResult]:
        """Limit the plant's AC output to ``p_limit_kw`` (≥ 0; ``None`` = 100 % of Pmax)."""
        planned = self.pv_limit_pct(p_limit_kw, "p_derate_pct", "plant Pmax (30075)")
        if isinstance(planned, WriteResult):
            return [planned]
        pct, hi_pct, rated = planned
        result = await self.writer().write("p_derate_pct", pct, lo=0.0, hi=hi_pct, deadband=self.options.deadband_pct)
        self.control_started = self.expect_pv_limit([result], "p_derate_pct", rated) or self.control_started
        return [result]

    def feed_in_steps(self, *, pct: float | None = None, watts: float | None = None) -> list[Step]:
        """The ordered pair: the limit first, then the control mode that uses it."""
        if (pct is None) == (watts is None):
            raise ValueError("give exactly one of pct / watts")
        if pct is not None:
            return [Step("feed_in_limit_pct", pct), Step("p_control_mode", _MODE_PCT)]
        return [Step("feed_in_limit_w", watts), Step("p_control_mode", _MODE_W)]

    async def set_feed_in_limit(self, *, pct: float | None = None, watts: float | None = None) -> list[WriteResult]:
        """Grid feed-in limit at the plant's meter (EEPROM: commissioning and rare changes only)."""
        return await self.writer().write_sequence("feed_in_limit", self.feed_in_steps(pct=pct, watts=watts))

    def raw_write_plan(self, role: str, point_id: str, value: Any) -> Any:
        if point_id == "feed_in_limit_pct":
            return self.set_feed_in_limit(pct=value)
        if point_id == "feed_in_limit_w":
            return self.set_feed_in_limit(watts=value)
        if point_id == "p_derate_pct" and isinstance(value, int | float):
            rated = self.rated_kw()
            if rated is not None:
                return self.set_limit(rated * float(value) / 100.0)
        return None


class HuaweiStorage(Adapter):
    kind = CapabilityKind.STORAGE
    maps: ClassVar[dict[str, str]] = {"main": "huawei_sun2000"}
    FAST: ClassVar[dict[str, tuple[str, ...]]] = {
        "main": ("bat_p_w", "bat_soc_pct", "bat_running_status", "bat_forced_cmd")
    }
    CONTROL: ClassVar[dict[str, tuple[str, ...]]] = {"main": ("bat_p_w", "bat_soc_pct")}
    SLOW: ClassVar[dict[str, tuple[str, ...]]] = {
        "main": ("bat_forced_charge_w", "bat_forced_discharge_w", "bat_e_charged_kwh", "bat_e_discharged_kwh")
    }
    STATIC: ClassVar[dict[str, tuple[str, ...]]] = {"main": ("bat_max_charge_w", "bat_max_discharge_w")}

    def allowed_kw(self) -> tuple[float, float, list[str]]:
        notes: list[str] = []
        lim = self.limits
        cha = min_opt(lim.p_charge_max_kw, w_to_kw(self.num("bat_max_charge_w")))
        dis = min_opt(lim.p_discharge_max_kw, w_to_kw(self.num("bat_max_discharge_w")))
        if self.num("bat_running_status") in (0, 3):  # offline, fault
            notes.append(f"blocked: storage status {enum_name(self.dev(), 'bat_running_status')}")
            return 0.0, 0.0, notes
        cha, dis = soc_gate(cha, dis, self.fresh_num("bat_soc_pct"), lim.soc_min_pct, lim.soc_max_pct, notes)
        return cha, dis, notes

    def reading(self) -> StorageReading:
        raw = self.num("bat_p_w")
        self.check_response(neg(None if raw is None else raw / 1000.0), point_id="bat_p_w")
        meta = self.meta()
        cha, dis, _ = self.allowed_kw()
        status = enum_name(self.dev(), "bat_running_status")
        state = {
            "running": StorageState.RUNNING,
            "standby": StorageState.STANDBY,
            "sleep": StorageState.STANDBY,
            "offline": StorageState.STOPPED,
            "fault": StorageState.FAULT,
        }.get(status, StorageState.UNKNOWN)
        cmd = self.num("bat_forced_cmd")
        setpoint = None
        if cmd == 0:
            setpoint = 0.0
        elif cmd == 1:
            setpoint = -(w_to_kw(self.num("bat_forced_charge_w")) or 0.0)
        elif cmd == 2:
            setpoint = w_to_kw(self.num("bat_forced_discharge_w"))
        return StorageReading(
            **meta,
            p_kw=neg(None if raw is None else raw / 1000.0),  # device: + = charging
            soc_pct=self.num("bat_soc_pct"),
            p_setpoint_kw=setpoint,
            p_charge_max_kw=cha,
            p_discharge_max_kw=dis,
            state=state,
        )

    def steps_for(self, p_kw: float, cha: float, dis: float) -> list[Step]:
        db = 1000.0 * self.deadband_kw(max(cha, dis))
        if p_kw > 0 and dis > 0:
            return [
                Step("bat_forced_mode", 0),
                Step("bat_forced_period_min", self.options.forced_period_min),
                Step("bat_forced_discharge_w", 1000.0 * p_kw, lo=0.0, hi=1000.0 * dis, deadband=db),
                Step("bat_forced_cmd", 2),
            ]
        if p_kw < 0 and cha > 0:
            return [
                Step("bat_forced_mode", 0),
                Step("bat_forced_period_min", self.options.forced_period_min),
                Step("bat_forced_charge_w", -1000.0 * p_kw, lo=0.0, hi=1000.0 * cha, deadband=db),
                Step("bat_forced_cmd", 1),
            ]
        return [Step("bat_forced_cmd", 0)]

    async def set_power(self, p_kw: float) -> list[WriteResult]:
        cha, dis, _ = self.allowed_kw()
        steps = self.steps_for(p_kw, cha, dis)
        w = self.writer()
        results = await w.write_sequence("forced", steps)
        if all(r.applied for r in results):
            self.control_started = True
            target = 0.0
            if (v := result_value(results, "bat_forced_discharge_w")) is not None:
                target = v / 1000.0
            elif (v := result_value(results, "bat_forced_charge_w")) is not None:
                target = -v / 1000.0
            raw = self.num("bat_p_w")
            self.expect(target, at_most=False, rating_kw=max(cha, dis), from_kw=neg(None if raw is None else raw / 1000.0))
            if len(steps) > 1:
                period = self.refresh_period(60.0 * self.options.forced_period_min, 120.0)
                w.keep_sequence_alive("forced", steps, period)
            else:
                w.stop_keep_alive("seq:forced")
        return results


__all__ = ["HuaweiPVInverter", "HuaweiStorage"]
