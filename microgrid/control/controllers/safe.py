"""Safe state without a PCC measurement (stale or lost meter): PV held to what the export limit allows
blind, storage idle.

With no measurement the controller cannot know the load, so the total PV limit is the export limit plus
the load the park is known to draw at all times (``ControllerConfig.safe_min_load_kw``, default 0): at a
zero-export site every PV limit goes to 0 kW. The limits are spread at one percentage of rating. Lowering
is immediate (no ramp); storage goes to 0 kW at once when its BMS bounds allow, else ramps there.
"""

from __future__ import annotations

from microgrid.control.controllers.allocate import equal_percentage_limits
from microgrid.control.controllers.types import ControlInputs, Setpoints


def safe_pv_cap_kw(inp: ControlInputs) -> float:
    """Total PV output allowed without a measurement, kW."""
    return max(inp.limits.export_limit_kw - inp.config.export_margin_kw, 0.0) + inp.config.safe_min_load_kw


def safe_state(inp: ControlInputs) -> Setpoints:
    """Setpoints of the safe state: PV limits within the blind export allowance, storage idle."""
    units = [u for u in inp.pv if u.online and u.curtailable]
    ratings = {u.id: u.rating_kw for u in units}
    limits = equal_percentage_limits(safe_pv_cap_kw(inp), ratings, ratings)
    # Never raise a limit in the safe state: only hold or lower it.
    limits = {u.id: round(min(limits[u.id], u.limit_or_rating_kw), 3) for u in units}
    storage = {u.id: 0.0 for u in inp.storage if u.online}
    notes = ("safe state: PCC measurement missing",)
    return Setpoints(pv_limit_kw=limits, storage_kw=storage, pcc_expected_kw=None, notes=notes)
