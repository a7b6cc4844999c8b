"""Sungrow SG string inverters (PV) and SH hybrid inverters (storage).

Sungrow manuals number registers from 1 (the map holds the wire addresses) and send 32-bit values low
word first (the map's ``word_order: little``): nothing of that appears here.

- SG (PV): output 5031 (input table, positive = generation = park sign). Limit: the ordered pair
  *switch then setting*: 5007 = 0xAA (enable), then 5008 in 0.1 % of nominal power (5001). No revert timer
  is documented: the controller owns the fallback.
- SH (storage): EMS forced mode as the ordered triple *mode → command → power*: 13050 = 2 (forced), 13051 =
  0xAA charge / 0xBB discharge / 0xCC stop, 13052 = |P| W. Battery power 13022 is a magnitude whose
  direction is in the running-state bits (bit 1 charging, bit 2 discharging); converted to the park sign
  here. No revert timer is documented: the sequence is re-asserted every 60 s (as Tinkerforge does) so
  that a restarted inverter picks it up again; the controller owns the fallback.
"""

from __future__ import annotations

from typing import Any, ClassVar

from drivers.adapters.base import Adapter, enum_name, min_opt, result_value, soc_gate
from drivers.capabilities import CapabilityKind, PVReading, StorageReading, StorageState
from drivers.safewrite import Step, WriteResult

_ENABLE = 0xAA
_CHARGE, _DISCHARGE, _STOP = 0xAA, 0xBB, 0xCC
_FORCED = 2


class SungrowSGInverter(Adapter):
    kind = CapabilityKind.PV_INVERTER
    maps: ClassVar[dict[str, str]] = {"main": "sungrow_sg"}
    FAST: ClassVar[dict[str, tuple[str, ...]]] = {"main": ("p_ac_w", "work_state", "p_limit_switch", "p_limit_pct")}
    CONTROL: ClassVar[dict[str, tuple[str, ...]]] = {"main": ("p_ac_w",)}
    SLOW: ClassVar[dict[str, tuple[str, ...]]] = {"main": ("e_total_kwh", "p_dc_w", "temp_internal_c")}
    STATIC: ClassVar[dict[str, tuple[str, ...]]] = {"main": ("p_nominal_kw", "device_type_code")}

    def rated_kw(self) -> float | None:
        v = self.num("p_nominal_kw")
        return v if v else None

    def reading(self) -> PVReading:
        w = self.num("p_ac_w")
        self.check_response(None if w is None else w / 1000.0, point_id="p_ac_w")
        enabled = self.num("p_limit_switch") == _ENABLE
        pct = self.num("p_limit_pct") if enabled else None
        state = enum_name(self.dev(), "work_state")
        limit_active = (pct is not None and pct < 100.0) or state in ("dispatch run", "derating run")
        return self.pv_reading(
            self.meta(),
            p_kw=None if w is None else w / 1000.0,
            limit_pct=pct,
            limit_active=limit_active,
            state=state,
            e_total_kwh=self.num("e_total_kwh"),
        )

    async def set_limit(self, p_limit_kw: float | None) -> list[WriteResult]:
        """Limit the AC output to ``p_limit_kw`` (≥ 0; ``None`` = 100 % of nominal power)."""
        planned = self.pv_limit_pct(p_limit_kw, "p_limit_pct", "nominal power (5001)")
        if isinstance(planned, WriteResult):
            return [planned]
        pct, hi_pct, rated = planned
        steps = [
            Step("p_limit_switch", _ENABLE),
            Step("p_limit_pct", pct, lo=0.0, hi=hi_pct, deadband=self.options.deadband_pct),
        ]
        results = await self.writer().write_sequence("p_limit", steps)
        self.control_started = self.expect_pv_limit(results, "p_limit_pct", rated) or self.control_started
        return results

    def raw_write_plan(self, role: str, point_id: str, value: Any) -> Any:
        if point_id == "p_limit_pct" and isinstance(value, int | float) and not isinstance(value, bool):
            rated = self.rated_kw()
            if rated is not None and value >= 0:
                return self.set_limit(rated * float(value) / 100.0)
        return None


class SungrowSHStorage(Adapter):
    kind = CapabilityKind.STORAGE
    maps: ClassVar[dict[str, str]] = {"main": "sungrow_sh"}
    FAST: ClassVar[dict[str, tuple[str, ...]]] = {
        "main": ("system_state", "running_state", "bat_p_w", "bat_soc_pct", "ems_mode", "charge_cmd", "charge_power_w")
    }
    CONTROL: ClassVar[dict[str, tuple[str, ...]]] = {"main": ("bat_p_w", "bat_soc_pct", "running_state")}
    SLOW: ClassVar[dict[str, tuple[str, ...]]] = {
        "main": ("bat_soh_pct", "bat_e_charged_kwh", "bat_e_discharged_kwh", "export_p_w")
    }
    STATIC: ClassVar[dict[str, tuple[str, ...]]] = {
        "main": ("bat_max_charge_kw", "bat_max_discharge_kw", "soc_min_pct", "soc_max_pct", "p_nominal_kw")
    }
    REASSERT_S: ClassVar[float] = 60.0

    def allowed_kw(self) -> tuple[float, float, list[str]]:
        notes: list[str] = []
        lim = self.limits
        soc_min = max(x for x in (lim.soc_min_pct, self.num("soc_min_pct"), 0.0) if x is not None)
        soc_max = min(x for x in (lim.soc_max_pct, self.num("soc_max_pct"), 100.0) if x is not None)
        cha = min_opt(lim.p_charge_max_kw, self.num("bat_max_charge_kw"))
        dis = min_opt(lim.p_discharge_max_kw, self.num("bat_max_discharge_kw"))
        cha, dis = soc_gate(cha, dis, self.fresh_num("bat_soc_pct"), soc_min, soc_max, notes)
        return cha, dis, notes

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        if self.dev().has("bat_p_signed_w"):  # firmware from 2024-10: the signed int32 at 5214
            self.FAST = {"main": (*self.FAST["main"], "bat_p_signed_w")}
            self.CONTROL = {"main": ("bat_p_signed_w", "bat_soc_pct")}

    def battery_kw(self) -> float | None:
        """Battery power in the park sign: 5214 (+ discharging) if the map has it, else 13022's magnitude with
        the direction from running_state (+ discharging bit 2, − charging bit 1)."""
        if self.dev().has("bat_p_signed_w"):
            signed = self.num("bat_p_signed_w")
            return None if signed is None else signed / 1000.0
        mag = self.num("bat_p_w")
        bits = self.num("running_state")
        if mag is None or bits is None:
            return None
        bits = int(bits)
        if bits & 0b100:
            return abs(mag) / 1000.0
        if bits & 0b010:
            return -abs(mag) / 1000.0
        return 0.0

    def reading(self) -> StorageReading:
        self.check_response(self.battery_kw(), point_id="bat_p_w")
        meta = self.meta()
        cha, dis, _ = self.allowed_kw()
        state_name = enum_name(self.dev(), "system_state")
        state = {
            "running": StorageState.RUNNING,
            "forced mode": StorageState.RUNNING,
            "external EMS mode": StorageState.RUNNING,
            "standby": StorageState.STANDBY,
            "stop": StorageState.STOPPED,
        }.get(state_name, StorageState.UNKNOWN)
        setpoint = None
        if self.num("ems_mode") == _FORCED:
            cmd = self.num("charge_cmd")
            mag = (self.num("charge_power_w") or 0.0) / 1000.0
            setpoint = mag if cmd == _DISCHARGE else -mag if cmd == _CHARGE else 0.0
        return StorageReading(
            **meta,
            p_kw=self.battery_kw(),
            soc_pct=self.num("bat_soc_pct"),
            p_setpoint_kw=setpoint,
            p_charge_max_kw=cha,
            p_discharge_max_kw=dis,
            state=state,
            soh_pct=self.num("bat_soh_pct"),
        )

    def steps_for(self, p_kw: float, cha: float, dis: float) -> list[Step]:
        db = 1000.0 * self.deadband_kw(max(cha, dis))
        if p_kw > 0 and dis > 0:
            cmd, hi = _DISCHARGE, dis
        elif p_kw < 0 and cha > 0:
            cmd, hi = _CHARGE, cha
        else:
            return [Step("ems_mode", _FORCED), Step("charge_cmd", _STOP), Step("charge_power_w", 0)]
        return [
            Step("ems_mode", _FORCED),
            Step("charge_cmd", cmd),
            Step("charge_power_w", abs(1000.0 * p_kw), lo=0.0, hi=1000.0 * hi, deadband=db),
        ]

    async def set_power(self, p_kw: float) -> list[WriteResult]:
        cha, dis, _ = self.allowed_kw()
        steps = self.steps_for(p_kw, cha, dis)
        w = self.writer()
        results = await w.write_sequence("ems", steps)
        if all(r.ok for r in results):
            self.control_started = True
            mag = (result_value(results, "charge_power_w") or 0.0) / 1000.0
            cmd = steps[1].value
            target = mag if cmd == _DISCHARGE else -mag if cmd == _CHARGE else 0.0
            self.expect(target, at_most=False, rating_kw=max(cha, dis), from_kw=self.battery_kw())
            w.keep_sequence_alive("ems", steps, self.REASSERT_S)
        return results


__all__ = ["SungrowSGInverter", "SungrowSHStorage"]
