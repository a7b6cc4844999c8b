"""Adapters for maps that carry a ``profile`` (:class:`drivers.registermap.Profile`): devices by data file alone.

The profile names the points that mean power, rating, limit, SoC, setpoint ...; units (W/kW) come from the
points and signs from ``power_sign`` / ``setpoint_sign``. Used for every map with a profile that has no
dedicated adapter (GoodWe, Solis, Growatt, Acrel ADL400, the SmartLogger plant, Kehua PCS, ...).

- PV: output = ``power``; limit = ``limit_pct`` (% of ``rated``), after ``limit_enable`` if the map has one.
- Meter: every value × the point's ``multiply_by`` ratios (primary side); PT/CT read once and compared with
  the site file when the map has ``pt_ratio``/``ct_ratio`` points.
- Storage: ``setpoint`` (× ``setpoint_sign``) then ``run``; allowed power = site ∩ ``rated`` ∩ SoC window.
"""

from __future__ import annotations

from typing import Any, ClassVar

from drivers.adapters.base import Adapter, enum_name, min_opt, result_value, soc_gate
from drivers.adapters.meters import ratio_problems
from drivers.capabilities import CapabilityKind, MeterReading, PVReading, StorageReading, StorageState
from drivers.readonly import control_gap
from drivers.registermap import Profile, kw_factor
from drivers.safewrite import Step, WriteResult


class _ProfileAdapter(Adapter):
    """Reads the polling classes and conversions from the device's map profile."""

    maps: ClassVar[dict[str, str]] = {"main": "*"}

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        prof = self.dev().regmap.profile
        assert prof is not None, "profile adapters need a map with a profile"
        self.prof: Profile = prof
        fast = [prof.power, prof.soc, prof.limit_pct, prof.setpoint]
        fast += [prof.limit_enable.point if prof.limit_enable else None]
        slow = [prof.reactive, prof.frequency, prof.power_factor, prof.energy_import, prof.energy_export]
        slow += [prof.state, *prof.voltages, *prof.currents]
        static = [prof.rated] + [p for p in ("pt_ratio", "ct_ratio") if self.dev().has(p)]
        self.FAST = {"main": tuple(p for p in fast if p)}
        self.CONTROL = {"main": tuple(p for p in (prof.power, prof.soc) if p)}
        self.SLOW = {"main": tuple(p for p in slow if p)}
        self.STATIC = {"main": tuple(p for p in static if p)}

    def kw(self, pid: str | None, sign: int = 1) -> float | None:
        """The point's value in kW (kvar, kWh), primary side, times ``sign``; ``None`` if unknown."""
        if pid is None:
            return None
        d = self.dev()
        v = d.primary(pid)
        return None if v is None else sign * v * kw_factor(d.point(pid))

    def rated_kw(self) -> float | None:
        """The device's rating register, else the site file's rating (inverter AC rating), kW."""
        v = self.kw(self.prof.rated)
        return v if v else self.limits.p_max_kw


class ProfilePVInverter(_ProfileAdapter):
    kind = CapabilityKind.PV_INVERTER

    def limit_in_force(self) -> float | None:
        """The limit percentage in force (``None``: no limit or its switch is off)."""
        prof = self.prof
        if prof.limit_pct is None:
            return None
        if prof.limit_enable is not None and self.num(prof.limit_enable.point) != prof.limit_enable.value:
            return None
        return self.num(prof.limit_pct)

    def reading(self) -> PVReading:
        p_kw = self.kw(self.prof.power, self.prof.power_sign)
        self.check_response(p_kw, point_id=self.prof.power)
        pct = self.limit_in_force()
        return self.pv_reading(
            self.meta(),
            p_kw=p_kw,
            limit_pct=pct,
            limit_active=pct is not None and pct < 100.0,
            state=enum_name(self.dev(), self.prof.state) if self.prof.state else None,
            e_total_kwh=self.kw(self.prof.energy_import),
        )

    async def set_limit(self, p_limit_kw: float | None) -> list[WriteResult]:
        """Limit the AC output to ``p_limit_kw`` (≥ 0; ``None`` = 100 % of the rating)."""
        prof = self.prof
        if prof.limit_pct is None:
            return [self.refuse(control_gap(self.dev().regmap) or "no active power limit", requested=p_limit_kw)]
        planned = self.pv_limit_pct(p_limit_kw, prof.limit_pct, f"rating ({prof.rated})")
        if isinstance(planned, WriteResult):
            return [planned]
        pct, hi_pct, rated = planned
        steps = [Step(prof.limit_enable.point, prof.limit_enable.value)] if prof.limit_enable else []
        steps.append(Step(prof.limit_pct, pct, lo=0.0, hi=hi_pct, deadband=self.options.deadband_pct))
        results = await self.writer().write_sequence("pv_limit", steps)
        self.control_started = self.expect_pv_limit(results, prof.limit_pct, rated) or self.control_started
        return results

    def raw_write_plan(self, role: str, point_id: str, value: Any) -> Any:
        if point_id == self.prof.limit_pct and isinstance(value, int | float) and (rated := self.rated_kw()):
            return self.set_limit(rated * float(value) / 100.0)
        return None


class ProfileMeter(_ProfileAdapter):
    kind = CapabilityKind.METER

    def _mean(self, ids: list[str]) -> float | None:
        values = [v for v in (self.dev().primary(p) for p in ids) if v is not None]
        return sum(values) / len(values) if values else None

    def reading(self) -> MeterReading:
        d = self.dev()
        ratio_problems(self)
        meta = self.meta()
        if any(d.has(p) and d.number(p) is None for p in ("pt_ratio", "ct_ratio")):
            meta["stale"] = True  # without the ratios the primary values are unknown
        prof = self.prof
        return MeterReading(
            **meta,
            p_kw=self.kw(prof.power, prof.power_sign),
            q_kvar=self.kw(prof.reactive, prof.power_sign),
            v_v=self._mean(prof.voltages),
            i_a=self._mean(prof.currents),
            f_hz=d.number(prof.frequency) if prof.frequency else None,
            pf=d.number(prof.power_factor) if prof.power_factor else None,
            e_import_kwh=self.kw(prof.energy_import),
            e_export_kwh=self.kw(prof.energy_export),
        )


class ProfileStorage(_ProfileAdapter):
    kind = CapabilityKind.STORAGE

    def allowed_kw(self) -> tuple[float, float, list[str]]:
        notes: list[str] = []
        lim = self.limits
        rated = self.rated_kw()
        cha = min_opt(lim.p_charge_max_kw, rated)
        dis = min_opt(lim.p_discharge_max_kw, rated)
        soc = self.fresh_num(self.prof.soc) if self.prof.soc else None
        cha, dis = soc_gate(cha, dis, soc, lim.soc_min_pct, lim.soc_max_pct, notes)
        return cha, dis, notes

    def reading(self) -> StorageReading:
        prof = self.prof
        p_kw = self.kw(prof.power, prof.power_sign)
        self.check_response(p_kw, point_id=prof.power)
        cha, dis, _ = self.allowed_kw()
        state = enum_name(self.dev(), prof.state) if prof.state else ""
        return StorageReading(
            **self.meta(),
            p_kw=p_kw,
            soc_pct=self.num(prof.soc) if prof.soc else None,
            p_setpoint_kw=self.kw(prof.setpoint, prof.setpoint_sign),
            p_charge_max_kw=cha,
            p_discharge_max_kw=dis,
            state={"running": StorageState.RUNNING, "standby": StorageState.STANDBY, "fault": StorageState.FAULT,
                   "stopped": StorageState.STOPPED}.get(state, StorageState.UNKNOWN),
        )

    async def set_power(self, p_kw: float) -> list[WriteResult]:
        """Discharge (> 0) or charge (< 0) at ``p_kw``: the setpoint in the device's unit and sign, then run."""
        prof = self.prof
        if prof.setpoint is None:
            return [self.refuse(control_gap(self.dev().regmap) or "no power setpoint", requested=p_kw)]
        cha, dis, _ = self.allowed_kw()
        unit = 1.0 / kw_factor(self.dev().point(prof.setpoint))
        s = prof.setpoint_sign
        lo, hi = sorted((-cha * unit * s, dis * unit * s))
        db = self.deadband_kw(max(cha, dis)) * unit
        steps = [Step(prof.setpoint, p_kw * unit * s, lo=lo, hi=hi, deadband=db)]
        if prof.run is not None and p_kw != 0 and (dis if p_kw > 0 else cha) > 0:
            steps.append(Step(prof.run.point, prof.run.value))  # never start a unit that may not move
        results = await self.writer().write_sequence("p_set", steps)
        if all(r.ok for r in results) and (held := result_value(results, prof.setpoint)) is not None:
            self.expect(float(held) * s / unit, at_most=False, rating_kw=max(cha, dis), from_kw=self.kw(prof.power))
        self.control_started = self.control_started or all(r.ok for r in results)
        return results


PROFILE_ADAPTERS: dict[str, type[_ProfileAdapter]] = {
    "pv_inverter": ProfilePVInverter,
    "meter": ProfileMeter,
    "storage": ProfileStorage,
}

__all__ = ["PROFILE_ADAPTERS", "ProfileMeter", "ProfilePVInverter", "ProfileStorage"]
