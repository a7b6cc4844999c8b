"""Safe state without a plausible PCC value: the last setpoints held, bounded so that neither the export
limit nor the import cap can be crossed for any load the remaining measurements allow.

Worst-case reasoning (docs/control.md, "Safe state"). With ``L`` the uncontrolled net load of the park
(everything but the PV and storage the loop controls), ``P`` the PV output and ``S`` the storage power
(discharge > 0), the PCC is ``L − P − S``. Without a PCC value, ``L`` is only known to lie in
``[L_lo, L_hi]`` (:class:`LoadBounds`):

* ``L_lo`` — load *proven* by the tenant meters that still read plausibly (each tenant's meter plus its
  own PV and storage; 0 for a tenant without one), at least ``safe_min_load_kw``;
* ``L_hi`` — the load last known while the PCC was plausible, plus ``safe_load_rise_kw``.

Export (``PCC ≥ −E``) must hold for the lowest load and the highest PV output the limits allow (a cloud
can clear within a cycle): ``Σ PV limits + S ≤ L_lo + E − export_margin``. Import (``PCC ≤ C``) must hold for the highest
load at the PV output measured now (a drop in PV is seen and answered next cycle):
``S ≥ L_hi − P − C + import_margin``. So storage first holds its last setpoint clipped to
``[L_hi − P − C + m_i, L_lo + E − m_e]`` ∩ its BMS bounds, then the PV limits share ``L_lo + E − S`` at one percentage
of rating: charging storage makes room for PV, discharging storage takes it away. When the two bounds
cross (``L_hi − L_lo > C + E − …``) the export limit wins (protection relays trip on backflow; an import
excursion is billed) and a note says the import cap is at risk. Without ``L_hi`` (no plausible PCC since
start) the import side is not bounded and storage holds its setpoint within the export bound.
"""

from __future__ import annotations

from dataclasses import dataclass

from microgrid.control.controllers.allocate import Slot, equal_percentage_limits, share_by_headroom
from microgrid.control.controllers.types import ControlInputs, Setpoints


@dataclass(frozen=True)
class LoadBounds:
    """Range of the park's uncontrolled net load while the PCC is not measured, kW (consumption > 0)."""

    lo_kw: float = 0.0
    """Proven by plausible tenant meters (and ``safe_min_load_kw``)."""
    hi_kw: float | None = None
    """Last known load plus the allowed rise; ``None``: unknown."""


def safe_pv_cap_kw(inp: ControlInputs, load: LoadBounds | None = None, storage_kw: float = 0.0) -> float:
    """Total PV limit that keeps export ≤ the limit for the lowest provable load, kW."""
    lo = max(load.lo_kw if load else 0.0, inp.config.safe_min_load_kw)
    return max(inp.limits.export_limit_kw - inp.config.export_margin_kw + lo - storage_kw, 0.0)


def safe_state(inp: ControlInputs, load: LoadBounds | None = None) -> Setpoints:
    """Setpoints of the safe state (see the module docstring)."""
    load = load or LoadBounds()
    lo_load = max(load.lo_kw, inp.config.safe_min_load_kw)
    exp_room = lo_load + inp.limits.export_limit_kw - inp.config.export_margin_kw
    pv_now = sum(u.p_kw for u in inp.pv if u.online)
    storage = [u for u in inp.storage if u.online]
    notes = ["safe state: PCC measurement missing"]
    bounds = {u.id: u.bounds_kw() for u in storage}
    held = sum(min(max(u.setpoint_kw if u.setpoint_kw is not None else u.p_kw, bounds[u.id][0]), bounds[u.id][1])
               for u in storage)
    s_lo_all = sum(b[0] for b in bounds.values())
    s_hi_all = sum(b[1] for b in bounds.values())
    want_lo = (-float("inf") if load.hi_kw is None
               else load.hi_kw - pv_now - inp.limits.import_cap_kw + inp.config.import_margin_kw)
    want_hi = exp_room
    if want_lo > want_hi:
        notes.append(f"safe state: import cap at risk (load up to {load.hi_kw:.0f} kW, proven {lo_load:.0f} kW)")
        want_lo = want_hi
    lo, hi = max(want_lo, s_lo_all), max(min(want_hi, s_hi_all), s_lo_all)
    total = min(max(held, lo), hi)  # lo > hi: the export side wins within what storage can do
    slots = [Slot(u.id, min(max(u.setpoint_kw if u.setpoint_kw is not None else u.p_kw, bounds[u.id][0]),
                                bounds[u.id][1]), bounds[u.id][0], bounds[u.id][1]) for u in storage]
    values, _rest = share_by_headroom(total, slots)
    storage_kw = {k: round(v, 3) for k, v in values.items()}
    units = [u for u in inp.pv if u.online and u.curtailable]
    ratings = {u.id: u.rating_kw for u in units}
    fixed = sum(u.p_kw for u in inp.pv if u.online and not u.curtailable)
    # Storage still ramping towards more charge has not made the room yet: count the larger of the two.
    s_count = max(sum(storage_kw.values()), sum(u.p_kw for u in storage))
    cap = safe_pv_cap_kw(inp, LoadBounds(lo_load), s_count) - fixed
    limits = equal_percentage_limits(max(cap, 0.0), ratings, ratings)
    limits = {u.id: round(min(limits[u.id], u.rating_kw), 3) for u in units}
    return Setpoints(pv_limit_kw=limits, storage_kw=storage_kw, pcc_expected_kw=None, notes=tuple(notes))
