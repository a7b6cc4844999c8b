"""SunSpec storage through the legacy models: 101/102/103 (AC power), 120/121 (ratings), 124 (basic storage
controls), for battery inverters that predate IEEE 1547-2018 (no 701/704/802).

Model 124 (pysunspec2 ``model_124.json``) has no signed watt setpoint. It bounds the battery power ``P``
(W, + discharge = park sign) by two rates in % of ``WChaMax`` (scale ``InOutWRte_SF``), each enabled by a
bit of ``StorCtl_Mod`` (bit 0 CHARGE: ``InWRte``; bit 1 DISCHARGE: ``OutWRte``)::

    -InWRte/100 x WChaMax  <=  P  <=  OutWRte/100 x WChaMax

so ``StorCtl_Mod = 3``, ``OutWRte = x`` and ``InWRte = -x`` hold ``P`` at ``x`` % of ``WChaMax`` (negative
``x``: charging). This is how SunSpec 124 devices document forced charge/discharge (a negative rate moves the
other end of the window); ``InOutWRte_RvrtTms`` reverts both rates to 100 % and ``StorCtl_Mod`` to 0 (no
forcing) when the controller stops re-writing. The bound that widens the window is written first, so the
window is never empty between the two writes.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from drivers.adapters.base import enum_name, min_opt, result_value, soc_gate, w_to_kw
from drivers.capabilities import StorageReading, StorageState
from drivers.safewrite import Step, WriteResult

if TYPE_CHECKING:
    from drivers.adapters.sunspec import SunSpecStorage

BOTH_LIMITS = 0b11
"""``StorCtl_Mod`` with the charge (bit 0) and discharge (bit 1) limits active."""
W_IDS = ("m103_w", "m102_w", "m101_w")
ST_IDS = ("m103_st", "m102_st", "m101_st")
WH_IDS = ("m103_wh", "m102_wh", "m101_wh")
FAST = ("m124_stor_ctl_mod", "m124_in_w_rte", "m124_out_w_rte", "m124_cha_state", "m124_w_cha_max", "m124_cha_st")
STATIC = ("m120_w_rtg", "m120_max_cha_rte", "m120_max_dis_cha_rte", "m120_wh_rtg", "m121_w_max", "m124_min_rsv_pct")


def usable(models: list[int]) -> bool:
    """Whether a chain can be controlled through 124 (AC power model and basic storage controls)."""
    return 124 in models and any(m in models for m in (101, 102, 103))


def configure(a: SunSpecStorage) -> None:
    """Point sets of a 124 device (called from ``on_map_changed``)."""
    m = a.dev().regmap
    first = lambda ids: next((i for i in ids if m.has(i)), None)  # noqa: E731
    a.w_id, a.st_id, a.wh_id = first(W_IDS), first(ST_IDS), first(WH_IDS)
    have = lambda ids: tuple(i for i in ids if i and m.has(i))  # noqa: E731
    a.FAST = {"main": have((a.w_id, a.st_id, *FAST))}
    a.CONTROL = {"main": have((a.w_id, "m124_cha_state", "m124_w_cha_max"))}
    a.SLOW = {"main": have((a.wh_id,))}
    a.STATIC = {"main": have((*a.chain_points(m), *STATIC))}


def allowed_kw(a: SunSpecStorage) -> tuple[float, float, list[str]]:
    """(charge, discharge) kW ≥ 0 allowed now: site ∩ 120 MaxChaRte/MaxDisChaRte ∩ 121 WMax ∩ 124 WChaMax
    (charge), SoC window; both 0 when ``WChaMax`` (the reference of every rate) is stale or unknown."""
    notes: list[str] = []
    lim = a.limits
    w_cha_max = a.fresh_num("m124_w_cha_max")
    w_max = w_to_kw(a.num("m121_w_max"))
    cha = min_opt(lim.p_charge_max_kw, w_to_kw(a.num("m120_max_cha_rte")), w_max, w_to_kw(w_cha_max))
    dis = min_opt(lim.p_discharge_max_kw, w_to_kw(a.num("m120_max_dis_cha_rte")), w_max)
    if not w_cha_max or w_cha_max <= 0:
        cha = dis = 0.0
        notes.append("blocked: 124 WChaMax (reference of the charge/discharge rates) stale or not positive")
    else:  # a rate cannot exceed 100 % of WChaMax
        dis = min_opt(dis, w_cha_max / 1000.0)
    cha, dis = soc_gate(cha, dis, a.fresh_num("m124_cha_state"), lim.soc_min_pct, lim.soc_max_pct, notes)
    return cha, dis, notes


def state(a: SunSpecStorage) -> StorageState:
    st = enum_name(a.dev(), a.st_id) if a.st_id else None
    return {
        "FAULT": StorageState.FAULT,
        "MPPT": StorageState.RUNNING,
        "THROTTLED": StorageState.RUNNING,
        "STARTING": StorageState.RUNNING,
        "STANDBY": StorageState.STANDBY,
        "SLEEPING": StorageState.STANDBY,
        "OFF": StorageState.STOPPED,
        "SHUTTING_DOWN": StorageState.STOPPED,
    }.get(st or "", StorageState.UNKNOWN)


def held_w(a: SunSpecStorage) -> float | None:
    """The power the 124 window holds (W, + discharge), ``None`` when it is not a single point."""
    mod, w_in, w_out, ref = (a.num(i) for i in ("m124_stor_ctl_mod", "m124_in_w_rte", "m124_out_w_rte",
                                               "m124_w_cha_max"))
    if mod is None or int(mod) & BOTH_LIMITS != BOTH_LIMITS or None in (w_in, w_out, ref):
        return None
    if abs(w_out + w_in) > 1e-6:
        return None
    return w_out / 100.0 * ref


def reading(a: SunSpecStorage, problem: str | None) -> StorageReading:
    w = a.num(a.w_id) if a.w_id else None
    a.check_response(w_to_kw(w), point_id=a.w_id or "-")
    cha, dis, _notes = allowed_kw(a)
    held = held_w(a)
    return StorageReading(
        **a.meta([problem] if problem else []),
        p_kw=w_to_kw(w),
        soc_pct=a.num("m124_cha_state"),
        p_setpoint_kw=w_to_kw(held),
        p_charge_max_kw=cha,
        p_discharge_max_kw=dis,
        state=state(a),
        e_capacity_kwh=w_to_kw(a.num("m120_wh_rtg")),
    )


def steps(a: SunSpecStorage, p_kw: float, cha: float, dis: float, ref_w: float, deadband_w: float) -> list[Step]:
    """The 124 sequence for ``p_kw``: revert timer, the widening bound, the narrowing bound, then the mode."""
    pct = 100.0 * 1000.0 * p_kw / ref_w
    lo, hi = -100.0 * 1000.0 * cha / ref_w, 100.0 * 1000.0 * dis / ref_w
    band = 100.0 * deadband_w / ref_w
    out_step = Step("m124_out_w_rte", pct, lo=lo, hi=hi, deadband=band)
    in_step = Step("m124_in_w_rte", -pct, lo=-hi, hi=-lo, deadband=band)
    current = a.num("m124_out_w_rte")
    rising = current is None or pct >= current
    bounds = [out_step, in_step] if rising else [in_step, out_step]
    return [
        Step("m124_in_out_w_rte_rvrt_tms", round(a.options.revert_timer_s)),
        *bounds,
        Step("m124_stor_ctl_mod", BOTH_LIMITS),
    ]


async def set_power(a: SunSpecStorage, p_kw: float) -> list[WriteResult]:
    """Discharge (> 0) / charge (< 0) at ``p_kw`` through the 124 window, clamped to what is allowed now."""
    cha, dis, _notes = allowed_kw(a)
    ref_w = a.fresh_num("m124_w_cha_max")
    if not ref_w or ref_w <= 0:
        return [a.refuse("SunSpec 124 WChaMax unknown, stale or 0: the rates have no reference", "m124_out_w_rte",
                         requested=p_kw)]
    rating = max(cha, dis, a.limits.p_discharge_max_kw or 0.0)
    plan = steps(a, p_kw, cha, dis, ref_w, 1000.0 * a.deadband_kw(rating))
    results = await a.writer().write_sequence("p_set", plan)
    if all(r.applied for r in results):
        held = result_value(results, "m124_out_w_rte")
        if held is not None:
            a.expect(held / 100.0 * ref_w / 1000.0, at_most=False, rating_kw=rating, from_kw=w_to_kw(a.num(a.w_id)))
        a.writer().keep_sequence_alive("p_set_124", plan, a.refresh_period(a.options.revert_timer_s, 60.0))
        a.control_started = True
    return results
