"""PCC balancing controller: plan setpoints corrected by PCC feedback (export limit, import cap).

One call = one control cycle. Pure: no I/O, no clock; the runtime feeds measured values and the last
commanded setpoints back in, so the controller can be tested cycle by cycle with tables.

Maths (all kW, PCC import > 0, injections > 0; ``Δ`` = new setpoint − measured, for online units):

- PCC band held: ``pcc_min = −export_limit + export_margin`` … ``pcc_max = import_cap − import_margin``.
  Storage additionally aims at ``min(pcc_max, demand_target)`` (peak shaving); PV curtailment never helps
  import so it only serves the export side. With ``storage_for_cap_only`` (its energy is needed for the cap
  later) the runtime gives no demand target and planned discharge is trimmed so the PCC rises to ``pcc_max``.
- Storage first: the plan total ``T = Σ plan_i`` (planned setpoints of *all* units, so an offline unit's
  share moves to the others) predicts ``pcc' = pcc − (T − Σ p_i)``. If ``pcc' > target_max`` the units
  discharge more by the difference; if ``pcc' < pcc_min`` (and absorbing is on) they charge more. While PV
  is being curtailed the charge target is ``pcc_min + absorb_offset`` instead, so surplus hidden by the
  curtailment moves into storage step by step (the PV limit then rises to follow). The total is shared by
  headroom within each unit's BMS/SoC bounds and ramp window (overridden units last).
- PV second: the PCC stays above ``pcc_min`` when ``Σ pv_new ≤ Σ pv + (pcc − pcc_min) − max(Δbat, 0)``;
  a storage increase that has not happened yet is not counted on (conservative by one cycle). The cap is
  spread over the controllable plants at one common percentage of rating
  (:func:`~microgrid.control.controllers.allocate.equal_percentage_limits`); raising a limit is ramped and
  damped by ``release_gain``, lowering is immediate.
"""

from __future__ import annotations

from microgrid.control.controllers.allocate import (
    Slot,
    equal_percentage_limits,
    intersect,
    ramp_window,
    share_by_headroom,
)
from microgrid.control.controllers.types import ControlInputs, PVUnit, Setpoints, StorageUnit


def pcc_band_kw(inp: ControlInputs) -> tuple[float, float]:
    """(pcc_min, pcc_max) the loop holds, kW (import > 0)."""
    lim, cfg = inp.limits, inp.config
    pcc_min = -lim.export_limit_kw + cfg.export_margin_kw
    pcc_max = lim.import_cap_kw - cfg.import_margin_kw
    return pcc_min, max(pcc_max, pcc_min)


def pv_curtailing(inp: ControlInputs) -> bool:
    """True when some online curtailable plant is held below its rating and produces at its limit.

    A plant producing (almost) nothing is not counted, whatever its limit: at night a limit left a few kW
    above zero is "at its limit" within the tolerance, and the storage then held the PCC ``absorb_offset_kw``
    above its floor all night, importing for nothing (5 kW × 12 h on the zero-export test day)."""
    tol_pct = inp.config.limited_tol_pct
    return any(u.online and u.curtailable and u.limit_or_rating_kw < u.rating_kw * (1 - tol_pct / 100)
               and u.p_kw > 1.0 and _limited(u, tol_pct) for u in inp.pv)


def storage_slot(unit: StorageUnit, base_kw: float, dt_s: float) -> Slot:
    """Allocation slot of a storage unit: BMS/SoC bounds ∩ ramp window from its last setpoint."""
    previous = unit.setpoint_kw if unit.setpoint_kw is not None else unit.p_kw
    lo, hi = intersect(unit.bounds_kw(), ramp_window(previous, unit.ramp_kw_per_s, dt_s))
    return Slot(unit.id, base_kw, lo, hi)


def storage_setpoints(inp: ControlInputs, pcc_kw: float | None) -> tuple[dict[str, float], list[str]]:
    """Storage setpoints for this cycle (plan, offline share moved, PCC correction); see module doc."""
    online = [u for u in inp.storage if u.online]
    notes: list[str] = []
    if not online:
        return {}, notes
    plan = {u.id: float(inp.plan_storage_kw.get(u.id, 0.0)) for u in inp.storage}
    base = {u.id: inp.overrides_kw.get(u.id, plan[u.id]) for u in online}
    target = sum(base.values()) + sum(plan[u.id] for u in inp.storage if not u.online)
    hard_target = None  # total needed to hold the import cap itself (may move overridden units)
    if pcc_kw is not None:
        pcc_min, pcc_max = pcc_band_kw(inp)
        demand = inp.limits.demand_target_kw
        target_max = pcc_max if demand is None else max(min(pcc_max, demand), pcc_min)
        predicted = pcc_kw - (target - sum(u.p_kw for u in online))
        absorb_to = pcc_min + inp.config.absorb_offset_kw if pv_curtailing(inp) else pcc_min
        if predicted > pcc_max:
            hard_target = target + predicted - pcc_max
        if predicted > target_max:
            target += predicted - target_max
        elif predicted < absorb_to and inp.config.absorb_export_with_storage:
            target -= min(absorb_to, target_max) - predicted
        elif inp.storage_for_cap_only and target > 0 and predicted < pcc_max:
            target -= min(target, pcc_max - predicted)
    free = [storage_slot(u, base[u.id], inp.dt_s) for u in online if u.id not in inp.overrides_kw]
    held = [storage_slot(u, base[u.id], inp.dt_s) for u in online if u.id in inp.overrides_kw]
    held_base = {s.id: min(max(s.base_kw, s.lo_kw), s.hi_kw) for s in held}
    values, _short = share_by_headroom(target - sum(held_base.values()), free)
    values.update(held_base)
    if hard_target is not None and hard_target > sum(values.values()) + 1e-9:
        moved, _short = share_by_headroom(hard_target - sum(values[s.id] for s in free), held)
        values.update(moved)
    if hard_target is not None and hard_target - sum(values.values()) > 1.0:
        notes.append(f"storage: no discharge headroom (short {hard_target - sum(values.values()):.1f} kW)")
    return {k: round(v, 3) for k, v in values.items()}, notes


def _limited(unit: PVUnit, tol_pct: float) -> bool:
    """True when the plant produces at (or near) its limit, i.e. its availability is unknown."""
    return unit.p_kw >= unit.limit_or_rating_kw - max(1.0, tol_pct / 100 * unit.rating_kw)


def _available(unit: PVUnit, tol_pct: float) -> float:
    """Best estimate of what the plant could produce: its rating when limited (unknown), else its output."""
    return unit.rating_kw if _limited(unit, tol_pct) else max(unit.p_kw, 0.0)


def _expected(unit: PVUnit, limit_kw: float, tol_pct: float) -> float:
    """Output to expect once ``limit_kw`` applies (pessimistic for export: a limited plant may rise)."""
    return min(limit_kw, _available(unit, tol_pct))


def pv_limits(inp: ControlInputs, cap_total_kw: float, units: list[PVUnit]) -> dict[str, float]:
    """Equal-percentage limits for ``units`` summing (in expected output) to ``cap_total_kw``, ramped up."""
    cfg = inp.config
    ratings = {u.id: u.rating_kw for u in units}
    available = {u.id: _available(u, cfg.limited_tol_pct) for u in units}
    wanted = equal_percentage_limits(cap_total_kw, ratings, available)
    out: dict[str, float] = {}
    for u in units:
        previous = u.limit_or_rating_kw
        new = wanted[u.id]
        if new > previous:
            step = cfg.pv_ramp_up_pct_per_s / 100 * u.rating_kw * max(inp.dt_s, 0.0)
            new = min(new, previous + step)
        out[u.id] = round(min(max(new, 0.0), u.rating_kw), 3)
    return out


def balance(inp: ControlInputs) -> Setpoints:
    """One cycle with a fresh PCC measurement: storage then PV setpoints (see module docstring)."""
    pcc = inp.pcc_p_kw
    if pcc is None:
        raise ValueError("balance() needs a PCC measurement; use safe_state() without one")
    storage, notes = storage_setpoints(inp, pcc)
    online_storage = [u for u in inp.storage if u.online]
    delta_bat = sum(storage[u.id] - u.p_kw for u in online_storage)
    pcc_min, pcc_max = pcc_band_kw(inp)

    controllable = [u for u in inp.pv if u.online and u.curtailable]
    held = [u for u in controllable if u.id in inp.overrides_kw]
    free = [u for u in controllable if u.id not in inp.overrides_kw]
    pv_now = sum(u.p_kw for u in controllable)
    headroom = pcc - pcc_min - max(delta_bat, 0.0)
    if headroom > 0:
        headroom *= inp.config.release_gain
    cap_total = pv_now + headroom

    limits: dict[str, float] = {}
    # Overridden plants keep their override; they are curtailed only when curtailing every other plant
    # to zero would not hold the export limit.
    if held:
        held_limits = {u.id: min(inp.overrides_kw[u.id], u.rating_kw) for u in held}
        held_avail = {u.id: _available(u, inp.config.limited_tol_pct) for u in held}
        if sum(min(held_limits[k], held_avail[k]) for k in held_limits) > max(cap_total, 0.0):
            scaled = equal_percentage_limits(max(cap_total, 0.0), {u.id: u.rating_kw for u in held},
                                             {k: min(held_limits[k], held_avail[k]) for k in held_limits})
            held_limits = {k: min(held_limits[k], scaled[k]) for k in held_limits}
        limits.update({k: round(max(v, 0.0), 3) for k, v in held_limits.items()})
    held_out = sum(_expected(u, limits[u.id], inp.config.limited_tol_pct) for u in held)
    limits.update(pv_limits(inp, cap_total - held_out, free))

    expected_pv = sum(min(u.p_kw, limits[u.id]) for u in controllable)  # limits only lower output at once
    expected = pcc - (expected_pv - pv_now) - delta_bat
    if expected < pcc_min - 1.0 and cap_total < 0:
        notes.append(f"export limit: no curtailable PV left (PCC {pcc:.1f} kW, limit {pcc_min:.1f} kW)")
    if pcc > pcc_max + 1.0 and any(n.startswith("storage: no discharge") for n in notes):
        notes.append(f"import cap: {pcc:.1f} kW above {pcc_max:.1f} kW and no storage headroom")
    return Setpoints(pv_limit_kw=limits, storage_kw=storage, pcc_expected_kw=round(expected, 3),
                     notes=tuple(notes))
