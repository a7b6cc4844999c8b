"""Grid connection, energy balance and transformer limits."""

from __future__ import annotations

import numpy as np
import pyomo.environ as pyo

from optimizer.inputs import DispatchInputs
from optimizer.model.core import add_slack, bounded_row, injection


def define_grid(m: pyo.ConcreteModel, inp: DispatchInputs, elastic: bool, must_take: bool) -> None:
    r"""Import and export at the PCC, kW, both non-negative.

    .. math::
        0 \le p^{imp}_t \le P^{imp}, \qquad 0 \le p^{exp}_t \le P^{exp}

    :math:`P^{imp}` is the import cap (declared demand unless set otherwise) and :math:`P^{exp}` the
    export limit (0 = zero export). In diagnosis mode the import cap becomes
    :math:`p^{imp}_t \le P^{imp} + s^{imp}_t` (and the export cap likewise when generation is
    must-take), so a load that cannot be served is reported with its size and time.
    """
    lim_imp, lim_exp = inp.grid.import_limit_kw, inp.grid.export_limit_kw
    if not elastic:
        m.p_import = pyo.Var(m.T, bounds=(0.0, lim_imp))
        m.p_export = pyo.Var(m.T, bounds=(0.0, lim_exp))
        return
    m.p_import = pyo.Var(m.T, domain=pyo.NonNegativeReals)
    over = add_slack(m, "import_limit", m.T, "kW", per_step=True)
    m.c_import_limit = pyo.Constraint(m.T, rule=lambda m, t: m.p_import[t] - over[t] <= lim_imp)
    if must_take:
        m.p_export = pyo.Var(m.T, domain=pyo.NonNegativeReals)
        over_x = add_slack(m, "export_limit", m.T, "kW", per_step=True)
        m.c_export_limit = pyo.Constraint(m.T, rule=lambda m, t: m.p_export[t] - over_x[t] <= lim_exp)
    else:
        m.p_export = pyo.Var(m.T, bounds=(0.0, lim_exp))


def define_grid_exclusivity(m: pyo.ConcreteModel, inp: DispatchInputs) -> None:
    r"""Optional no-simultaneous import/export rows with a switch :math:`g_t` (only if export is allowed).

    .. math::
        p^{imp}_t \le P^{imp} g_t, \qquad p^{exp}_t \le P^{exp} (1 - g_t)

    Needed as binary only when some export price exceeds the import price in the same interval.
    """
    lim_imp, lim_exp = inp.grid.import_limit_kw, inp.grid.export_limit_kw
    m.u_grid = pyo.Var(m.T, bounds=(0.0, 1.0))
    m.c_grid_imp_on = pyo.Constraint(m.T, rule=lambda m, t: m.p_import[t] <= lim_imp * m.u_grid[t])
    m.c_grid_exp_on = pyo.Constraint(m.T, rule=lambda m, t: m.p_export[t] <= lim_exp * (1 - m.u_grid[t]))
    m._switches.append(m.u_grid)


def define_energy_balance(m: pyo.ConcreteModel, asset_ids: list[str]) -> None:
    r"""Power balance of the park bus in every interval (lossless copper plate).

    .. math::
        p^{imp}_t - p^{exp}_t + \sum_a p^{inj}_{a,t} = 0

    with the net injections :math:`p^{inj}` of :func:`optimizer.model.core.injection`: PV output,
    battery discharge − charge, and minus every consumption (base loads, heat pumps, flexible loads,
    EV chargers). Network losses and limits enter through :class:`~optimizer.NetworkLimit` rows.
    """

    def rule(m, t):
        return pyo.quicksum(injection(m, a, t) for a in ("grid", *asset_ids)) == 0

    m.c_balance = pyo.Constraint(m.T, rule=rule)


def _flow_bounds(inp: DispatchInputs, md, asset_ids: set[str]) -> tuple[np.ndarray, np.ndarray]:
    """Largest possible down-flow (into the tenant) and up-flow through a transformer per interval, kW."""
    n = inp.n_steps
    v = md.values
    down, up = np.zeros(n), np.zeros(n)

    def series(name: str, asset_id: str) -> np.ndarray:
        values = v[name]
        return np.fromiter((values[asset_id, t] for t in range(n)), dtype=float, count=n)

    for pv in inp.pv:
        if pv.id in asset_ids:
            up += series("pv_avail", pv.id)
    for b in inp.batteries:
        if b.id in asset_ids:
            up += b.p_discharge_max_kw
            down += b.p_charge_max_kw
    for h in inp.heat_pumps:
        if h.id in asset_ids:
            down += h.p_el_max_kw
    for ld in inp.loads:
        if ld.id in asset_ids:
            down += series("load", ld.id)
    for x in inp.deferrable:
        if x.id in asset_ids:
            down += series("def_cap", x.id)
    for x in inp.shiftable:
        if x.id in asset_ids:
            down += x.p_max_kw
    for x in inp.curtailable:
        if x.id in asset_ids:
            down += series("cu_base", x.id)
    for x in inp.ev_depots:
        if x.id in asset_ids:
            down += x.p_max_kw
    return down, up


def define_transformer_limits(m: pyo.ConcreteModel, inp: DispatchInputs, md, elastic: bool, prune: bool) -> None:
    r"""Net power through each tenant transformer within its rating (at the assumed power factor).

    .. math::
        -S_x \cos\varphi_x \le -\sum_{a \in x} p^{inj}_{a,t} \le S_x \cos\varphi_x

    The flow is the sum of the tenant's consumptions minus its generation on the LV side; the rating is
    in kVA and taken as kW at power factor ``power_factor`` (1 by default: reactive power is neglected in
    the day-ahead plan and checked by the AC power flow). With ``prune`` the rows that cannot bind in an
    interval (even with every asset at its rating) are left out; the persistent model keeps them all.
    """
    rows = []
    for tr in inp.transformers:
        down, up = _flow_bounds(inp, md, set(tr.asset_ids))
        for t in range(inp.n_steps):
            if prune and down[t] <= tr.limit_kw and up[t] <= tr.limit_kw:
                continue
            rows.append((tr.id, t))
    by_id = {tr.id: tr for tr in inp.transformers}
    m.TR_T = pyo.Set(initialize=rows, dimen=2, ordered=True)
    if elastic:
        over = add_slack(m, "transformer_down", rows, "kW", per_step=True)
        back = add_slack(m, "transformer_up", rows, "kW", per_step=True)
    else:
        over = back = None

    def rule(m, x, t):
        flow = -pyo.quicksum(injection(m, a, t) for a in by_id[x].asset_ids)
        if over is not None:
            flow = flow - over[x, t] + back[x, t]
        lim = by_id[x].limit_kw
        return bounded_row(flow, -lim, lim)

    m.c_transformer = pyo.Constraint(m.TR_T, rule=rule)
