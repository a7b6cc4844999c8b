"""Chinese PCS + BMS pair (separate Modbus devices) as ONE storage capability.

- PCS (``cn_pcs``): active power 24633 and setpoint 3415 are positive when CHARGING (opposite of the park
  sign: converted here). It reports the charge/discharge power it allows now (24665/24666: rating, BMS
  current limits and flags). It runs with ``run_cmd`` = 1; a setpoint is written *value first, then start*.
  Its EMS watchdog (3424, s) trips it when no request arrives: the fleet's polls keep it fed.
- BMS (``cn_bms``): SoC, state, permission flags (bit 0 charge NOT allowed, bit 1 discharge NOT allowed,
  bit 2 fatal), DC current limits × rack voltage, alarm level. Used on top of the PCS's own limits.

A PCS in fault is not restarted by the driver (that is an operator decision: ``fault_reset`` then
``run_cmd`` from the CLI); the capability reports ``fault`` with the fault words.
"""

from __future__ import annotations

from typing import Any, ClassVar

from drivers.adapters.base import Adapter, bit_list, enum_name, min_opt, neg, result_value, soc_gate
from drivers.capabilities import CapabilityKind, StorageReading, StorageState
from drivers.safewrite import Step, WriteResult

_CHARGE_NOT_ALLOWED = 1 << 0
_DISCHARGE_NOT_ALLOWED = 1 << 1
_FATAL = 1 << 2


class CnPcsBmsStorage(Adapter):
    kind = CapabilityKind.STORAGE
    maps: ClassVar[dict[str, str]] = {"pcs": "cn_pcs", "bms": "cn_bms"}
    # The fault word and the BMS alarm level/flags are read every poll so a trip or a level-3 alarm is
    # decoded (and alarmed) within one control cycle, not one slow poll.
    FAST: ClassVar[dict[str, tuple[str, ...]]] = {
        "pcs": ("p_kw", "run_state", "p_charge_allowed_kw", "p_discharge_allowed_kw", "fault_system"),
        "bms": ("v_v", "soc_pct", "state", "flags", "alarm_level"),
    }
    CONTROL: ClassVar[dict[str, tuple[str, ...]]] = {
        "pcs": ("p_kw", "run_state", "p_charge_allowed_kw", "p_discharge_allowed_kw"),
        "bms": ("soc_pct",),
    }
    SLOW: ClassVar[dict[str, tuple[str, ...]]] = {
        "pcs": ("p_set_kw", "run_cmd", "fault_hw", "fault_grid", "e_charged_kwh", "e_discharged_kwh"),
        "bms": ("i_charge_max_a", "i_discharge_max_a", "soh_pct"),
    }
    STATIC: ClassVar[dict[str, tuple[str, ...]]] = {
        "pcs": ("ems_timeout_s",),
        "bms": ("e_capacity_kwh", "ems_timeout_s"),
    }

    def _bms_limits(self, notes: list[str]) -> tuple[float | None, float | None, bool]:
        """BMS charge/discharge limits (kW, DC: current × rack voltage) and whether the BMS blocks all."""
        bms = self.dev("bms")
        slow_age = max(bms.health.stale_after_s, 3 * self.options.slow_poll_s)
        flags = bms.number("flags") if bms.fresh("flags", slow_age) else None
        v = self.fresh_num("v_v", "bms")
        i_cha = bms.number("i_charge_max_a") if bms.fresh("i_charge_max_a", slow_age) else None
        i_dis = bms.number("i_discharge_max_a") if bms.fresh("i_discharge_max_a", slow_age) else None
        cha = None if v is None or i_cha is None else v * i_cha / 1000.0
        dis = None if v is None or i_dis is None else v * i_dis / 1000.0
        blocked = False
        if flags is not None:
            f = int(flags)
            if f & _FATAL:
                notes.append("blocked: BMS fatal fault")
                blocked = True
            if f & _CHARGE_NOT_ALLOWED:
                cha = 0.0
                notes.append("charge blocked: BMS flag")
            if f & _DISCHARGE_NOT_ALLOWED:
                dis = 0.0
                notes.append("discharge blocked: BMS flag")
        return cha, dis, blocked

    def allowed_kw(self) -> tuple[float, float, list[str]]:
        """Charge/discharge power allowed now (kW ≥ 0): site ∩ PCS live limits ∩ BMS ∩ SoC rules.

        A stale PCS limit or SoC blocks that direction; a PCS fault or a fatal BMS fault blocks both.
        """
        notes: list[str] = []
        lim = self.limits
        pcs_cha = self.fresh_num("p_charge_allowed_kw", "pcs")
        pcs_dis = self.fresh_num("p_discharge_allowed_kw", "pcs")
        if pcs_cha is None or pcs_dis is None:
            notes.append("blocked: PCS limits stale")
        bms_cha, bms_dis, blocked = self._bms_limits(notes)
        if enum_name(self.dev("pcs"), "run_state") == "fault":
            notes.append("blocked: PCS fault")
            blocked = True
        if blocked:
            return 0.0, 0.0, notes
        cha = min_opt(lim.p_charge_max_kw, bms_cha, pcs_cha if pcs_cha is not None else 0.0)
        dis = min_opt(lim.p_discharge_max_kw, bms_dis, pcs_dis if pcs_dis is not None else 0.0)
        soc = self.fresh_num("soc_pct", "bms")
        cha, dis = soc_gate(cha, dis, soc, lim.soc_min_pct, lim.soc_max_pct, notes)
        return cha, dis, notes

    def state(self) -> StorageState:
        run = enum_name(self.dev("pcs"), "run_state")
        bms_state = enum_name(self.dev("bms"), "state")
        if run == "fault" or bms_state == "fault":
            return StorageState.FAULT
        return {
            "running": StorageState.RUNNING,
            "standby": StorageState.STANDBY,
            "stopped": StorageState.STOPPED,
        }.get(run, StorageState.UNKNOWN)

    def alarms(self) -> tuple[str, ...]:
        pcs, bms = self.dev("pcs"), self.dev("bms")
        out = [*bit_list(pcs, "fault_hw"), *bit_list(pcs, "fault_grid"), *bit_list(pcs, "fault_system")]
        out += [f"bms_{b}" for b in bit_list(bms, "flags")]
        level = bms.number("alarm_level")
        if level:
            out.append(f"bms alarm: {enum_name(bms, 'alarm_level')}")
        return tuple(out)

    def reading(self) -> StorageReading:
        p_raw = self.num("p_kw", "pcs")
        self.check_response(neg(p_raw), role="pcs", point_id="p_kw")
        meta = self.meta()
        cha, dis, _ = self.allowed_kw()
        set_raw = self.dev("pcs").number("p_set_kw")
        if (c := self.writer("pcs").confirmed_value("p_set_kw")) is not None and isinstance(c, int | float):
            set_raw = float(c)
        return StorageReading(
            **meta,
            p_kw=neg(p_raw),  # PCS: + = charging
            soc_pct=self.num("soc_pct", "bms"),
            p_setpoint_kw=neg(set_raw),
            p_charge_max_kw=cha,
            p_discharge_max_kw=dis,
            state=self.state(),
            soh_pct=self.num("soh_pct", "bms"),
            e_capacity_kwh=self.num("e_capacity_kwh", "bms"),
            alarms=self.alarms(),
        )

    async def set_power(self, p_kw: float) -> list[WriteResult]:
        """Discharge (> 0) or charge (< 0) at ``p_kw``; written to the PCS as −p_kw (its sign)."""
        cha, dis, _ = self.allowed_kw()
        db = self.deadband_kw(max(cha, dis, self.limits.p_discharge_max_kw or 0.0))
        steps = [Step("p_set_kw", -p_kw, lo=-dis, hi=cha, deadband=db)]
        if p_kw != 0 and enum_name(self.dev("pcs"), "run_state") != "fault":
            steps.append(Step("run_cmd", 1))
        results = await self.writer("pcs").write_sequence("p_set", steps)
        if all(r.applied for r in results) and (held := result_value(results, "p_set_kw")) is not None:
            running = enum_name(self.dev("pcs"), "run_state") == "running" or p_kw != 0
            if running:
                self.expect(neg(held) or 0.0, at_most=False, rating_kw=max(cha, dis), from_kw=neg(self.num("p_kw", "pcs")))
        self.control_started = self.control_started or all(r.applied for r in results)
        return results

    def raw_write_plan(self, role: str, point_id: str, value: Any) -> Any:
        if role == "pcs" and point_id == "p_set_kw" and isinstance(value, int | float) and not isinstance(value, bool):
            return self.set_power(-float(value))
        return None


__all__ = ["CnPcsBmsStorage"]
