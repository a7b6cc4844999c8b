"""SunSpec devices (IEEE 1547-2018 information models): PV inverter and storage.

Model chain at 40000 checked against the map (marker ``SunS``, model ids and lengths at their addresses):
a device whose chain differs is not controlled (its setpoint writes are refused) because every address
after the first difference would be wrong.

- PV (``sunspec_inverter``): output = 701 ``W`` (positive for generation = park sign). Limit via 704
  ``WMaxLimPct`` (% of 702 ``WMax``) with its reversion timer ``WMaxLimPctRvrtTms`` (revert to
  ``options.pv_fallback_limit_pct``); written value first, enable last.
- Storage (``sunspec_battery``): 701 ``W`` is positive when discharging (= park sign). Power via 704
  ``WSet`` in watts (``WSetMod`` = WATTS) with ``WSetRvrtTms`` reverting to 0 W; allowed charge/discharge
  from 802 ``WChaRteMax``/``WDisChaRteMax`` and 702 ratings; SoC from 802. A legacy battery inverter
  without 701/704/802 but with 124 (and 101/102/103) is read and controlled through
  :mod:`drivers.adapters.sunspec124` (``sunspec_battery_legacy`` is the simulated one).

Both send the 715 ``ControllerHb`` heartbeat (and the battery the 802 ``CtrlHb``) once control has started
and re-write the setpoint before its reversion timer expires.
"""

from __future__ import annotations

from typing import Any, ClassVar

from drivers.adapters import sunspec124
from drivers.adapters.base import Adapter, enum_name, min_opt, result_value, soc_gate, w_to_kw
from drivers.capabilities import CapabilityKind, PVReading, StorageReading, StorageState
from drivers.safewrite import Step, WriteResult
from microgrid.i18n import t

_ENABLED = 1
_WATTS = 1


class _SunSpec(Adapter):
    """Chain check and heartbeats shared by SunSpec adapters."""

    HEARTBEATS: ClassVar[tuple[str, ...]] = ("m715_controller_hb",)

    IDENTITY: ClassVar[tuple[str, ...]] = ("m1_mn", "m1_md", "m1_vr", "m1_sn")

    @classmethod
    def chain_points(cls, regmap) -> tuple[str, ...]:
        """Marker, model ids and lengths, end marker, and the common model's identity strings."""
        ids = ["sunspec_marker", "sunspec_end_id", *cls.IDENTITY]
        for model in regmap.sunspec_models:
            ids += [f"m{model}_id", f"m{model}_l"]
        return tuple(i for i in ids if regmap.has(i))

    def num(self, pid: str, role: str = "main") -> float | None:
        """A point's value; ``None`` when the device's (discovered) chain lacks the model."""
        return super().num(pid, role) if self.dev(role).has(pid) else None

    def fresh_num(self, pid: str, role: str = "main") -> float | None:
        return super().fresh_num(pid, role) if self.dev(role).has(pid) else None

    def chain_mismatch(self) -> dict[str, str] | None:
        """Parameters of ``devices.find.chain`` when the device's model chain differs from the map (``None`` if
        it matches or is not read yet)."""
        d = self.dev()
        for pid in self.chain_points(d.regmap):
            point = d.point(pid)
            value = d.value(pid)
            if d.sample(pid) is None or pid in self.IDENTITY:
                continue
            if point.default is not None and value != point.default:
                return {"map": d.regmap.name, "point": pid, "address": str(point.address), "value": repr(value),
                        "expected": repr(point.default)}
        return None

    def chain_problem(self) -> str | None:
        """:meth:`chain_mismatch` in English words."""
        found = self.chain_mismatch()
        return None if found is None else t("devices.find.chain", "en", **found)

    def check_chain(self) -> str | None:
        problem = self.chain_problem()
        if problem:
            self.dev().health.set_problem("config", problem)
        else:
            self.dev().health.clear_problem("config")
        return problem

    def start_heartbeats(self) -> None:
        d = self.dev()
        for pid in self.HEARTBEATS:
            if d.has(pid):
                point = d.point(pid)
                self.writer().heartbeat(pid, self.refresh_period(point.revert_s, 30.0))


class SunSpecPVInverter(_SunSpec):
    """PV inverter on SunSpec: reading through 701 (else 103/102/101), rating 702 (else 121/120), limit through
    704 ``WMaxLimPct`` (else the legacy 123 ``WMaxLimPct`` with ``WMaxLim_Ena``)."""

    kind = CapabilityKind.PV_INVERTER
    maps: ClassVar[dict[str, str]] = {"main": "sunspec_inverter"}
    FAST: ClassVar[dict[str, tuple[str, ...]]] = {
        "main": ("m701_w", "m701_inv_st", "m701_throt_pct", "m704_w_max_lim_pct", "m704_w_max_lim_pct_ena")
    }
    CONTROL: ClassVar[dict[str, tuple[str, ...]]] = {"main": ("m701_w",)}
    SLOW: ClassVar[dict[str, tuple[str, ...]]] = {"main": ("m701_tot_wh_inj",)}

    @classmethod
    def static_points(cls, regmap) -> tuple[str, ...]:
        ids = ("m702_w_max_rtg", "m702_w_max", "m121_w_max", "m120_w_rtg")
        return (*cls.chain_points(regmap), *(i for i in ids if regmap.has(i)))

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.on_map_changed()

    def on_map_changed(self) -> None:
        """Pick the models this device has (IEEE 1547-2018 701-704, else the legacy 101-103/120-123)."""
        m = self.dev().regmap
        self.w_id = next((i for i in ("m701_w", "m103_w", "m102_w", "m101_w") if m.has(i)), None)
        self.state_id = next((i for i in ("m701_inv_st", "m103_st", "m102_st", "m101_st") if m.has(i)), None)
        self.wh_id = next((i for i in ("m701_tot_wh_inj", "m103_wh", "m102_wh", "m101_wh") if m.has(i)), None)
        self.limit = "704" if m.has("m704_w_max_lim_pct") else "123" if m.has("m123_w_max_lim_pct") else None
        pct, ena = {"704": ("m704_w_max_lim_pct", "m704_w_max_lim_pct_ena"),
                    "123": ("m123_w_max_lim_pct", "m123_w_max_lim_ena"), None: (None, None)}[self.limit]
        self.pct_id, self.ena_id = pct, ena
        fast = [self.w_id, self.state_id, pct, ena] + (["m701_throt_pct"] if m.has("m701_throt_pct") else [])
        self.FAST = {"main": tuple(i for i in fast if i)}
        self.CONTROL = {"main": (self.w_id,) if self.w_id else ()}
        self.SLOW = {"main": (self.wh_id,) if self.wh_id else ()}
        self.STATIC = {"main": self.static_points(m)}

    def missing(self) -> str | None:
        """Why this device cannot serve as a PV inverter (``None``: it can)."""
        if self.w_id is None:
            return "SunSpec device has no AC power model (701, 101, 102 or 103)"
        return None

    def rated_kw(self) -> float | None:
        """The power ``WMaxLimPct`` refers to: 702 ``WMax`` (setting) else ``WMaxRtg``; legacy 121 ``WMax`` else
        120 ``WRtg``; kW."""
        for pid in ("m702_w_max", "m702_w_max_rtg", "m121_w_max", "m120_w_rtg"):
            w = self.num(pid) if self.dev().has(pid) else None
            if w is not None and w > 0:
                return w / 1000.0
        return None

    def available_kw(self, p_kw: float | None, limit_active: bool) -> float | None:
        """Power available without the limit: 701 ``ThrotPct`` is the throttling "in pct of maximum active
        power" (model 701 text), so available = output + ThrotPct × WMax."""
        if p_kw is None:
            return None
        if not limit_active:
            return p_kw
        throt = self.num("m701_throt_pct") if self.dev().has("m701_throt_pct") else None
        rated = self.rated_kw()
        if throt is None or rated is None or not 0 <= throt <= 100:
            return None
        return p_kw + throt / 100.0 * rated

    def reading(self) -> PVReading:
        problem = self.check_chain() or self.missing()
        w = self.num(self.w_id) if self.w_id else None
        self.check_response(None if w is None else w / 1000.0, point_id=self.w_id or "-")
        meta = self.meta([problem] if problem else [])
        rated = self.rated_kw()
        pct = self.num(self.pct_id) if self.pct_id else None
        enabled = self.ena_id is not None and self.num(self.ena_id) == _ENABLED
        state = enum_name(self.dev(), self.state_id) if self.state_id else None
        limit_pct = pct if enabled and pct is not None else None
        limit_active = (limit_pct is not None and limit_pct < 100.0) or state == "THROTTLED"
        p_kw = None if w is None else w / 1000.0
        wh = self.num(self.wh_id) if self.wh_id else None
        return PVReading(
            **meta,
            p_kw=p_kw,
            p_rated_kw=rated,
            p_limit_pct=limit_pct,
            p_limit_kw=None if limit_pct is None or rated is None else rated * limit_pct / 100.0,
            limit_active=limit_active,
            p_available_kw=self.available_kw(p_kw, limit_active),
            state=state,
            e_total_kwh=None if wh is None else wh / 1000.0,
        )

    def _steps(self, pct: float, hi_pct: float, rated: float) -> list[Step]:
        o = self.options
        if self.limit == "123":  # legacy: revert timer, value, then enable
            return [
                Step("m123_w_max_lim_pct_rvrt_tms", round(o.revert_timer_s)),
                Step("m123_w_max_lim_pct", pct, lo=0.0, hi=hi_pct, deadband=o.deadband_pct),
                Step("m123_w_max_lim_ena", _ENABLED),
            ]
        return [
            Step("m704_w_max_lim_pct_rvrt_tms", round(o.revert_timer_s)),
            Step("m704_w_max_lim_pct_rvrt", min(o.pv_fallback_limit_pct, hi_pct)),
            Step("m704_w_max_lim_pct_ena_rvrt", _ENABLED),
            Step("m704_w_max_lim_pct", pct, lo=0.0, hi=hi_pct, deadband=o.deadband_pct),
            Step("m704_w_max_lim_pct_ena", _ENABLED),
        ]

    async def set_limit(self, p_limit_kw: float | None) -> list[WriteResult]:
        """Limit the AC output to ``p_limit_kw`` (≥ 0; ``None`` = 100 % of the rating)."""
        if problem := self.check_chain() or self.missing():
            return [self.refuse(problem, self.pct_id or "-", requested=p_limit_kw)]
        if self.pct_id is None:
            return [self.refuse("SunSpec device offers no active power limit (neither model 704 nor 123)",
                                requested=p_limit_kw)]
        planned = self.pv_limit_pct(p_limit_kw, self.pct_id, "device rating (702 / 121 / 120)")
        if isinstance(planned, WriteResult):
            return [planned]
        pct, hi_pct, rated = planned
        results = await self.writer().write_sequence("pv_limit", self._steps(pct, hi_pct, rated))
        if self.expect_pv_limit(results, self.pct_id, rated):
            self.writer().keep_alive(self.pct_id, self.refresh_period(self.options.revert_timer_s, 60.0))
            self.start_heartbeats()
            self.control_started = True
        return results

    def raw_write_plan(self, role: str, point_id: str, value: Any) -> Any:
        if point_id == self.pct_id and _is_number(value) and value >= 0:
            rated = self.rated_kw()
            if rated is not None:
                return self.set_limit(rated * float(value) / 100.0)
        return None


class SunSpecStorage(_SunSpec):
    """Battery on SunSpec 1 + 701/702/704/713/715/802."""

    kind = CapabilityKind.STORAGE
    maps: ClassVar[dict[str, str]] = {"main": "sunspec_battery"}
    HEARTBEATS: ClassVar[tuple[str, ...]] = ("m715_controller_hb", "m802_ctrl_hb")
    FAST: ClassVar[dict[str, tuple[str, ...]]] = {
        "main": (
            "m701_w",
            "m701_inv_st",
            "m704_w_set",
            "m704_w_set_ena",
            "m802_soc",
            "m802_state",
            "m802_w_cha_rte_max",
            "m802_w_dis_cha_rte_max",
            "m802_a_cha_max",
            "m802_a_dis_cha_max",
        )
    }
    CONTROL: ClassVar[dict[str, tuple[str, ...]]] = {"main": ("m701_w", "m802_soc")}
    SLOW: ClassVar[dict[str, tuple[str, ...]]] = {"main": ("m802_soh", "m802_cha_st", "m802_evt1")}

    @classmethod
    def static_points(cls, regmap) -> tuple[str, ...]:
        return (
            *cls.chain_points(regmap),
            "m702_w_max_rtg",
            "m702_w_cha_rte_max_rtg",
            "m702_w_dis_cha_rte_max_rtg",
            "m802_wh_rtg",
        )

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.on_map_changed()

    def on_map_changed(self) -> None:
        """Pick the models this device controls through (701/704/802, else legacy 124); keep the points its
        chain has; note the models control needs and it lacks."""
        m = self.dev().regmap
        lacking = [mid for mid in (701, 704, 802) if mid not in m.sunspec_models]
        self.lacking = (
            f"SunSpec storage control needs models 701, 704 and 802 (or 124 with 101/102/103); this device lacks "
            f"{lacking} (chain {m.sunspec_models}): read-only" if lacking else None
        )
        # without 701 the legacy models are read (101-103), and controlled when 124 is there
        self.legacy = bool(lacking) and any(mid in m.sunspec_models for mid in (101, 102, 103))
        if self.legacy:
            sunspec124.configure(self)
            if sunspec124.usable(m.sunspec_models):
                self.lacking = None
            return
        have = lambda ids: tuple(i for i in ids if m.has(i))  # noqa: E731
        self.FAST = {"main": have(SunSpecStorage.FAST["main"])}
        self.CONTROL = {"main": have(SunSpecStorage.CONTROL["main"])}
        self.SLOW = {"main": have(SunSpecStorage.SLOW["main"])}
        self.STATIC = {"main": have(self.static_points(m))}

    def allowed_kw(self) -> tuple[float, float, list[str]]:
        """(charge, discharge) power allowed now, kW ≥ 0, and why they are reduced.

        Minimum of the site limits, the 702 ratings and the live 802 limits; a direction whose live limit
        or SoC is stale is blocked (0), as is charging at or above the site's maximum SoC and discharging
        at or below its minimum.
        """
        if self.legacy:
            return sunspec124.allowed_kw(self)
        notes: list[str] = []
        lim = self.limits
        cha_live = self.fresh_num("m802_w_cha_rte_max")
        dis_live = self.fresh_num("m802_w_dis_cha_rte_max")
        soc = self.fresh_num("m802_soc")
        cha = min_opt(lim.p_charge_max_kw, w_to_kw(self.num("m702_w_cha_rte_max_rtg")), w_to_kw(cha_live))
        dis = min_opt(lim.p_discharge_max_kw, w_to_kw(self.num("m702_w_dis_cha_rte_max_rtg")), w_to_kw(dis_live))
        if cha_live is None:
            cha = 0.0
            notes.append("charge blocked: live charge limit stale")
        if dis_live is None:
            dis = 0.0
            notes.append("discharge blocked: live discharge limit stale")
        if self.fresh_num("m802_a_cha_max") == 0:
            cha = 0.0
            notes.append("charge blocked: battery allows 0 A charge")
        if self.fresh_num("m802_a_dis_cha_max") == 0:
            dis = 0.0
            notes.append("discharge blocked: battery allows 0 A discharge")
        cha, dis = soc_gate(cha, dis, soc, self.limits.soc_min_pct, self.limits.soc_max_pct, notes)
        return cha, dis, notes

    def state(self) -> StorageState:
        st = enum_name(self.dev(), "m802_state")
        inv = enum_name(self.dev(), "m701_inv_st")
        if st == "FAULT" or inv == "FAULT":
            return StorageState.FAULT
        if inv in ("RUNNING", "THROTTLED", "STARTING"):
            return StorageState.RUNNING
        if inv in ("STANDBY", "SLEEPING") or st == "STANDBY":
            return StorageState.STANDBY
        if inv in ("OFF", "SHUTTING_DOWN") or st == "DISCONNECTED":
            return StorageState.STOPPED
        return StorageState.UNKNOWN

    def reading(self) -> StorageReading:
        problem = self.check_chain() or self.lacking
        if self.legacy:
            return sunspec124.reading(self, problem)
        self.check_response(w_to_kw(self.num("m701_w")), point_id="m701_w")
        meta = self.meta([problem] if problem else [])
        cha, dis, _notes = self.allowed_kw()
        w_set = self.num("m704_w_set")
        wh = self.num("m802_wh_rtg")
        return StorageReading(
            **meta,
            p_kw=w_to_kw(self.num("m701_w")),
            soc_pct=self.num("m802_soc"),
            p_setpoint_kw=w_to_kw(w_set) if self.num("m704_w_set_ena") == _ENABLED else None,
            p_charge_max_kw=cha,
            p_discharge_max_kw=dis,
            state=self.state(),
            soh_pct=self.num("m802_soh"),
            e_capacity_kwh=w_to_kw(wh),
        )

    async def set_power(self, p_kw: float) -> list[WriteResult]:
        """Discharge (> 0) or charge (< 0) at ``p_kw`` kW, clamped to what is allowed now."""
        if problem := self.check_chain() or self.lacking:
            return [self.refuse(problem, "m704_w_set", requested=p_kw)]
        if self.legacy:
            return await sunspec124.set_power(self, p_kw)
        cha, dis, _notes = self.allowed_kw()
        o = self.options
        rating = max(cha, dis, self.limits.p_discharge_max_kw or 0.0)
        deadband_w = 1000.0 * self.deadband_kw(rating)
        steps = [
            Step("m704_w_set_rvrt_tms", round(o.revert_timer_s)),
            Step("m704_w_set_rvrt", 0),
            Step("m704_w_set_ena_rvrt", _ENABLED),
            Step("m704_w_set_mod", _WATTS),
            Step("m704_w_set", 1000.0 * p_kw, lo=-1000.0 * cha, hi=1000.0 * dis, deadband=deadband_w),
            Step("m704_w_set_ena", _ENABLED),
        ]
        results = await self.writer().write_sequence("p_set", steps)
        if all(r.applied for r in results):
            held = result_value(results, "m704_w_set")
            if held is not None:
                self.expect(held / 1000.0, at_most=False, rating_kw=rating, from_kw=w_to_kw(self.num("m701_w")))
            self.writer().keep_alive("m704_w_set", self.refresh_period(o.revert_timer_s, 60.0))
            self.start_heartbeats()
            self.control_started = True
        return results

    def raw_write_plan(self, role: str, point_id: str, value: Any) -> Any:
        if point_id == "m704_w_set" and _is_number(value):
            return self.set_power(float(value) / 1000.0)
        return None


class SunSpecLegacyStorage(SunSpecStorage):
    """The same driver for a site file naming the legacy map (1 + 103/120/121/123/124): control through 124."""

    maps: ClassVar[dict[str, str]] = {"main": "sunspec_battery_legacy"}


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


__all__ = ["SunSpecLegacyStorage", "SunSpecPVInverter", "SunSpecStorage"]
