"""The :class:`Schedule`: one row per interval, one column per asset quantity, in one sign convention.

Columns (``<id>`` is the asset id; tenant id for a base load), interval labelled by its start, power as
the interval average in kW, energy/SoC at the *end* of the interval:

=================================  ==========================================================================
``price_import_cny_per_kwh``       import price; ``price_export_cny_per_kwh`` export price; ``tou_period``
``grid_import_kw``                 import at the PCC (>= 0); ``grid_export_kw`` export (>= 0)
``grid_kw``                        net PCC power, import > 0 / export < 0
``<pv>_kw``                        PV output after curtailment (> 0); ``<pv>_avail_kw``, ``<pv>_curtailed_kw``
``<bat>_kw``                       battery net power, discharge > 0 / charge < 0 (AC side)
``<bat>_charge_kw``                charge (>= 0); ``<bat>_discharge_kw`` discharge (>= 0)
``<bat>_soc_pct``                  state of charge; ``<bat>_e_kwh`` stored energy
``<hp>_p_el_kw``                   heat-pump electric consumption (> 0); ``<hp>_heat_kw_th`` heat output
``<hp>_heat_demand_kw_th``         heat drawn from the tank; ``<hp>_tank_kwh`` tank energy; ``<hp>_cop``
``<tenant>_load_kw``               tenant base load (consumption > 0)
``<flex>_load_kw``                 flexible-load consumption (> 0); ``<flex>_baseline_kw`` (shiftable,
                                   curtailable); ``<flex>_shed_kw`` (curtailable)
``<ev>_load_kw``                   EV depot charging power, AC (> 0); ``<ev>_delivered_kwh`` energy delivered
                                   to vehicles since the horizon start
=================================  ==========================================================================
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from optimizer.inputs import as_array
from optimizer.network_limits import GRID_KEY
from optimizer.violations import Conflict

CONSUMER_KINDS = ("heat_pump", "load", "deferrable", "shiftable", "curtailable", "ev_depot")


def power_column(asset_id: str, kind: str) -> str:
    """Column of an asset's main power: ``<id>_kw`` for sources/storage, consumption columns otherwise."""
    if kind in ("pv", "battery"):
        return f"{asset_id}_kw"
    if kind == "heat_pump":
        return f"{asset_id}_p_el_kw"
    return f"{asset_id}_load_kw"


@dataclass
class Schedule:
    """A dispatch plan (optimised or rule-based) for one horizon."""

    frame: pd.DataFrame
    assets: dict[str, str] = field(default_factory=dict)
    """Asset id → kind (``pv``, ``battery``, ``heat_pump``, ``load``, ``deferrable``, ``shiftable``,
    ``curtailable``, ``ev_depot``)."""
    source: str = "optimizer"
    """``optimizer``, ``relaxed`` (optimum of the elastic problem, limits broken as named in ``violations``)
    or ``baseline`` (the rule-based fallback)."""
    violations: list[Conflict] = field(default_factory=list)
    """Limits this schedule breaks, named with interval and amount (empty for a feasible plan)."""

    @property
    def index(self) -> pd.DatetimeIndex:
        return self.frame.index

    @property
    def step_h(self) -> float:
        idx = self.frame.index
        return (idx[1] - idx[0]).total_seconds() / 3600 if len(idx) > 1 else 0.25

    def power_kw(self, asset_id: str) -> pd.Series:
        """Main power column of an asset (see :func:`power_column` for its sign)."""
        return self.frame[power_column(asset_id, self.assets[asset_id])]

    def injections_kw(self) -> pd.DataFrame:
        """Net injection of every asset into its bus, kW, one column per asset id plus ``"grid"``.

        Sign per DESIGN.md §3 (what :class:`~optimizer.NetworkLimit` coefficients multiply): PV > 0,
        battery discharge > 0 / charge < 0, consumptions < 0, ``grid`` = PCC import > 0.
        """
        out = {}
        for asset_id, kind in self.assets.items():
            col = self.frame[power_column(asset_id, kind)]
            out[asset_id] = -col if kind in CONSUMER_KINDS else col
        out[GRID_KEY] = self.frame["grid_kw"]
        return pd.DataFrame(out, index=self.frame.index)

    def balance_error_kw(self) -> pd.Series:
        """Sum of all injections per interval (zero when the plan balances), kW."""
        return self.injections_kw().sum(axis=1)

    def to_csv(self, path: str | Path) -> None:
        """Write the schedule with ISO-8601 timestamps (with UTC offset) in the first column."""
        frame = self.frame.copy()
        frame.index = [ts.isoformat() for ts in frame.index]
        frame.index.name = "timestamp"
        frame.to_csv(path, float_format="%.4f")


def _values(var, keys: list) -> np.ndarray:
    return np.array([var[k].value or 0.0 for k in keys], dtype=float)


def _clean(values: np.ndarray) -> np.ndarray:
    """Drop solver noise below 1e-6 (so that 0 prints as 0)."""
    values = np.where(np.abs(values) < 1e-6, 0.0, values)
    return values


def extract_schedule(dm) -> Schedule:  # noqa: C901 - one block per asset family
    """Read a solved :class:`~optimizer.model.DispatchModel` into a :class:`Schedule`."""
    m, inp = dm.m, dm.inputs
    d = dm.data.values
    n = inp.n_steps
    steps = list(range(n))
    cols: dict[str, np.ndarray] = {}
    cols["price_import_cny_per_kwh"] = as_array(inp.tariff.import_price_cny_per_kwh, n)
    cols["price_export_cny_per_kwh"] = inp.export_price()
    imp = _clean(_values(m.p_import, steps))
    exp = _clean(_values(m.p_export, steps))
    cols["grid_import_kw"], cols["grid_export_kw"], cols["grid_kw"] = imp, exp, imp - exp
    for pv in inp.pv:
        out = _clean(_values(m.p_pv, [(pv.id, t) for t in steps]))
        avail = np.array([d["pv_avail"][pv.id, t] for t in steps])
        cols[f"{pv.id}_kw"] = out
        cols[f"{pv.id}_avail_kw"] = avail
        cols[f"{pv.id}_curtailed_kw"] = _clean(np.maximum(avail - out, 0.0))
    for b in inp.batteries:
        keys = [(b.id, t) for t in steps]
        ch, dis = _clean(_values(m.p_ch, keys)), _clean(_values(m.p_dis, keys))
        e = _values(m.e_bat, keys)
        cols[f"{b.id}_kw"] = dis - ch
        cols[f"{b.id}_charge_kw"] = ch
        cols[f"{b.id}_discharge_kw"] = dis
        cols[f"{b.id}_soc_pct"] = e / b.e_capacity_kwh * 100
        cols[f"{b.id}_e_kwh"] = e
    for h in inp.heat_pumps:
        keys = [(h.id, t) for t in steps]
        p = _clean(_values(m.p_hp, keys))
        cop = np.array([d["hp_cop"][k] for k in keys])
        cols[f"{h.id}_p_el_kw"] = p
        cols[f"{h.id}_heat_kw_th"] = p * cop
        cols[f"{h.id}_heat_demand_kw_th"] = np.array([d["hp_heat"][k] for k in keys])
        cols[f"{h.id}_tank_kwh"] = _values(m.e_tank, keys)
        cols[f"{h.id}_cop"] = cop
    for ld in inp.loads:
        cols[f"{ld.id}_load_kw"] = np.array([d["load"][ld.id, t] for t in steps])
    for x in inp.deferrable:
        cols[f"{x.id}_load_kw"] = _clean(_values(m.p_def, [(x.id, t) for t in steps]))
    for x in inp.shiftable:
        cols[f"{x.id}_load_kw"] = _clean(_values(m.p_sh, [(x.id, t) for t in steps]))
        cols[f"{x.id}_baseline_kw"] = as_array(x.baseline_kw, n)
    for x in inp.curtailable:
        shed = _clean(_values(m.p_shed, [(x.id, t) for t in steps]))
        base = np.array([d["cu_base"][x.id, t] for t in steps])
        cols[f"{x.id}_load_kw"] = base - shed
        cols[f"{x.id}_baseline_kw"] = base
        cols[f"{x.id}_shed_kw"] = shed
    for depot in inp.ev_depots:
        total = np.zeros(n)
        for key in m._depot_slots[depot.id]:
            at = m._ev_steps[key]
            total[at] += _clean(_values(m.p_ev, [(key, t) for t in at]))
        cols[f"{depot.id}_load_kw"] = total
        cols[f"{depot.id}_delivered_kwh"] = np.cumsum(total) * inp.step_h * depot.eta_charge
    frame = pd.DataFrame(cols, index=inp.index)
    if inp.tariff.period is not None:
        frame.insert(2, "tou_period", np.asarray(inp.tariff.period))
    return Schedule(frame=frame, assets=inp.asset_kinds(), source="optimizer")


def simultaneous_flows(schedule: Schedule, tol_kw: float = 1e-3) -> list[str]:
    """Intervals where one battery charges and discharges, or the PCC imports and exports, at once."""
    f = schedule.frame
    found = []
    for asset_id, kind in schedule.assets.items():
        if kind == "battery":
            both = np.minimum(f[f"{asset_id}_charge_kw"], f[f"{asset_id}_discharge_kw"]) > tol_kw
            if both.any():
                found.append(f"battery '{asset_id}' charges and discharges at once in {int(both.sum())} interval(s)")
    both = np.minimum(f["grid_import_kw"], f["grid_export_kw"]) > tol_kw
    if both.any():
        found.append(f"the PCC imports and exports at once in {int(both.sum())} interval(s)")
    return found


def milp_reasons_from_plan(schedule: Schedule, inputs, tol_kw: float) -> list[str]:
    """Reasons, found in an LP plan, to re-solve with binaries (simultaneous flows, heat-pump minimum load)."""
    reasons = simultaneous_flows(schedule, tol_kw)
    f = schedule.frame
    for h in inputs.heat_pumps:
        if h.p_el_min_kw > 0:
            p = f[f"{h.id}_p_el_kw"].to_numpy()
            if np.any((p > tol_kw) & (p < h.p_el_min_kw - tol_kw)):
                reasons.append(f"heat pump '{h.id}' below its minimum load {h.p_el_min_kw:g} kW")
    return reasons
