"""Model scaffolding: sets, data (plain numbers or mutable Params), slack registry, injections.

:class:`DispatchModel` is built by :func:`optimizer.model.build_model`; the ``define_*`` functions in the
sibling modules add one family of variables and constraints each.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from types import SimpleNamespace

import pyomo.environ as pyo
from pyomo.core.expr.numvalue import is_constant

from optimizer.inputs import DispatchInputs
from optimizer.model.data import ModelData, Structure, slot_depot
from optimizer.network_limits import GRID_KEY

_PARAM_SETS: dict[str, tuple[str, ...]] = {
    # data item → index sets of its Param (names of Sets on the model); () = scalar keyed by None
    "c_import": ("T",),
    "c_export": ("T",),
    "month_peak": (),
    "pv_avail": ("PV", "T"),
    "load": ("LOAD", "T"),
    "bat_e0": ("BAT",),
    "bat_lo": ("BAT", "T"),
    "bat_hi": ("BAT", "T"),
    "bat_end": ("BAT",),
    "hp_cop": ("HP", "T"),
    "hp_heat": ("HP", "T"),
    "hp_t0": ("HP",),
    "hp_lo": ("HP", "T"),
    "hp_hi": ("HP", "T"),
    "hp_end": ("HP",),
    "def_cap": ("DEF", "T"),
    "def_floor": ("DEF", "T"),
    "def_owed": ("DEF",),
    "def_max": ("DEF",),
    "sh_lo": ("SH", "T"),
    "sh_hi": ("SH", "T"),
    "cu_base": ("CU", "T"),
    "cu_shed_max": ("CU", "T"),
    "ev_cap": ("EV", "T"),
    "ev_owed": ("EV",),
    "ev_max": ("EV",),
    "res_need": ("T",),
    "res_credit": ("T",),
}


@dataclass
class Slack:
    """A family of elastic variables (diagnosis mode only): what they relax and in which unit."""

    family: str
    var: pyo.Var
    unit: str
    per_step: bool
    """True when the variable is a power (kW) per interval, weighted by the interval length."""
    labels: dict = field(default_factory=dict)
    """Index → (asset or constraint name, extra context) for messages."""


def add_sets(m: pyo.ConcreteModel, s: Structure) -> None:
    """Index sets: intervals ``T`` and one set per asset family."""
    m.T = pyo.Set(initialize=range(s.n_steps), ordered=True)
    m.PV = pyo.Set(initialize=s.pv, ordered=True)
    m.BAT = pyo.Set(initialize=s.batteries, ordered=True)
    m.HP = pyo.Set(initialize=s.heat_pumps, ordered=True)
    m.HPMIN = pyo.Set(initialize=s.hp_min_load, ordered=True)
    m.LOAD = pyo.Set(initialize=s.loads, ordered=True)
    m.DEF = pyo.Set(initialize=s.deferrable, ordered=True)
    m.SH = pyo.Set(initialize=s.shiftable, ordered=True)
    m.CU = pyo.Set(initialize=s.curtailable, ordered=True)
    m.EV = pyo.Set(initialize=s.ev_slots, ordered=True)
    m.DEPOT = pyo.Set(initialize=s.ev_depots, ordered=True)


def add_data(m: pyo.ConcreteModel, md: ModelData, mutable: bool) -> SimpleNamespace:
    """Attach the data items: mutable Params (persistent model) or plain dicts (one-shot model).

    Plain dicts are faster to build and to pass to HiGHS; mutable Params let the persistent solver push
    only changed coefficients and bounds on the next solve.
    """
    ns = SimpleNamespace()
    for name, values in md.values.items():
        if not mutable:
            setattr(ns, name, values)
            continue
        sets = [getattr(m, s) for s in _PARAM_SETS[name]]
        if sets:
            param = pyo.Param(*sets, mutable=True, initialize=values, domain=pyo.Reals)
        else:
            param = pyo.Param(mutable=True, initialize=values[None], domain=pyo.Reals)
        m.add_component(f"p_{name}", param)
        setattr(ns, name, param)
    return ns


def store_data(m: pyo.ConcreteModel, md: ModelData) -> None:
    """Write new values into the model's mutable Params (same keys as at build time)."""
    for name, values in md.values.items():
        param = m.component(f"p_{name}")
        if param is None:
            continue
        if not param.is_indexed():
            param.set_value(values[None])
            continue
        data = param._data  # direct access: ~10x faster than __setitem__ for thousands of values
        for key, value in values.items():
            data[key].set_value(value)


def add_slack(m: pyo.ConcreteModel, family: str, index: Iterable | None, unit: str, per_step: bool,
              labels: dict | None = None) -> pyo.Var:
    """Create a non-negative slack Var for ``family`` (elastic mode) and register it."""
    if index is None:
        var = pyo.Var(domain=pyo.NonNegativeReals)
    else:
        var = pyo.Var(list(index), domain=pyo.NonNegativeReals)
    m.add_component(f"slack_{family}", var)
    m._slacks.append(Slack(family=family, var=var, unit=unit, per_step=per_step, labels=labels or {}))
    return var


def injection(m: pyo.ConcreteModel, asset_id: str, t: int):
    """Net injection of ``asset_id`` into its bus at interval ``t``, kW (DESIGN.md §3 sign).

    PV output > 0, battery discharge − charge, loads −consumption, ``"grid"`` = import − export.
    """
    kind = m._kinds.get(asset_id)
    d = m._d
    if asset_id == GRID_KEY:
        return m.p_import[t] - m.p_export[t]
    if kind == "pv":
        return m.p_pv[asset_id, t]
    if kind == "battery":
        return m.p_dis[asset_id, t] - m.p_ch[asset_id, t]
    if kind == "heat_pump":
        return -m.p_hp[asset_id, t]
    if kind == "load":
        return -d.load[asset_id, t]
    if kind == "deferrable":
        return -m.p_def[asset_id, t]
    if kind == "shiftable":
        return -m.p_sh[asset_id, t]
    if kind == "curtailable":
        return m.p_shed[asset_id, t] - d.cu_base[asset_id, t]
    if kind == "ev_depot":
        return -pyo.quicksum(m.p_ev[k, t] for k in m._ev_at[asset_id].get(t, ()))
    raise KeyError(f"unknown asset id '{asset_id}' (use a site asset id, a tenant id or 'grid')")


def bounded_row(body, lower: float | None, upper: float | None):
    """``lower <= body <= upper`` as a Constraint rule result, handling bodies without variables.

    A body made only of fixed data (e.g. a transformer that feeds nothing but a base load) is skipped
    when it satisfies the bounds and becomes ``Constraint.Infeasible`` when it does not, so the solve
    reports infeasibility and the diagnosis names it.
    """
    if is_constant(body):  # plain numbers; bodies with mutable Params stay rows (they change on update)
        value = pyo.value(body)
        ok = (lower is None or value >= lower - 1e-9) and (upper is None or value <= upper + 1e-9)
        return pyo.Constraint.Skip if ok else pyo.Constraint.Infeasible
    return pyo.inequality(lower, body, upper) if lower is not None and upper is not None else (
        body <= upper if lower is None else body >= lower)


def init_model(inp: DispatchInputs, structure: Structure) -> pyo.ConcreteModel:
    """An empty model with its bookkeeping attributes."""
    m = pyo.ConcreteModel(name=inp.name)
    m._kinds = inp.asset_kinds()
    m._slacks = []
    m._switches = []  # Vars whose domain toggles between [0, 1] (LP) and {0, 1} (MILP)
    m._depot_slots = {d: [k for k in structure.ev_slots if slot_depot(k) == d] for d in structure.ev_depots}
    m._dt = structure.step_h
    return m
