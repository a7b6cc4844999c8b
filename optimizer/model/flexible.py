"""Flexible loads: deferrable energy windows, shiftable baselines, curtailable loads, EV depots."""

from __future__ import annotations

import pyomo.environ as pyo

from optimizer.inputs import CurtailableLoad, EVDepot
from optimizer.model.core import add_slack, bounded_row
from optimizer.model.data import slot_depot


def define_deferrable_loads(m: pyo.ConcreteModel, d, elastic: bool) -> None:
    r"""Energy :math:`E_d` consumed within a window at bounded power, kW.

    .. math::
        \underline p_{d,t} \le p_{d,t} \le \overline p_{d,t}, \qquad
        E^{owed}_d \le \Delta t \sum_t p_{d,t} \le E^{rem}_d

    :math:`\overline p_{d,t}` is ``p_max_kw`` times the share of interval :math:`t` inside the window (0
    outside), :math:`\underline p` likewise with ``p_min_kw``. :math:`E^{rem}` is the energy still to
    consume; :math:`E^{owed}` is the part that cannot be left for after the horizon at full power
    (:func:`optimizer.model.data.energy_window`), equal to :math:`E^{rem}` when the window ends inside it.
    """
    dt = m._dt
    m.p_def = pyo.Var(m.DEF, m.T, bounds=lambda m, a, t: (d.def_floor[a, t], d.def_cap[a, t]))
    energy = {a: dt * pyo.quicksum(m.p_def[a, t] for t in m.T) for a in m.DEF}
    if elastic:
        short = add_slack(m, "deferrable", m.DEF, "kWh", per_step=False)
        m.c_def_owed = pyo.Constraint(m.DEF, rule=lambda m, a: energy[a] + short[a] >= d.def_owed[a])
    else:
        m.c_def_owed = pyo.Constraint(m.DEF, rule=lambda m, a: energy[a] >= d.def_owed[a])
    m.c_def_max = pyo.Constraint(m.DEF, rule=lambda m, a: energy[a] <= d.def_max[a])


def define_shiftable_loads(m: pyo.ConcreteModel, d, p_bounds: dict[str, tuple[float, float]]) -> None:
    r"""A baseline :math:`b_{s,t}` that may run up to :math:`k_s` intervals earlier or later, kW.

    With :math:`B_{s,t} = \Delta t \sum_{\tau \le t} b_{s,\tau}` the baseline energy by the end of
    interval :math:`t` and :math:`c_{s,t}` the energy actually consumed by then:

    .. math::
        c_{s,t} = c_{s,t-1} + \Delta t\, p_{s,t}, \quad c_{s,-1} = 0, \qquad
        B_{s,t-k_s} - a_s \le c_{s,t} \le B_{s,t+k_s} - a_s, \qquad c_{s,T-1} = B_{s,T-1} - a_s

    with :math:`P^{min}_s \le p_{s,t} \le P^{max}_s` and :math:`a_s` the energy consumed ahead of the
    baseline before the horizon (measured). For :math:`t - k_s < 0`, :math:`B_{s,t-k_s}` is minus the baseline
    energy of the intervals between :math:`t - k_s` and the start (``before_kw``), so an energy owed at the
    start waits as long as its age allows instead of being caught up at once. The envelope is the standard "shift by up to k intervals"
    condition on cumulative energy (a receiver or a cold store's thermal inertia).
    """
    dt = m._dt
    m.p_sh = pyo.Var(m.SH, m.T, bounds=lambda m, a, t: p_bounds[a])
    m.e_sh = pyo.Var(m.SH, m.T, bounds=lambda m, a, t: (d.sh_lo[a, t], d.sh_hi[a, t]))

    def cum_rule(m, a, t):
        prev = 0.0 if t == 0 else m.e_sh[a, t - 1]
        return m.e_sh[a, t] == prev + dt * m.p_sh[a, t]

    m.c_sh_cum = pyo.Constraint(m.SH, m.T, rule=cum_rule)


def define_curtailable_loads(m: pyo.ConcreteModel, d, loads: list[CurtailableLoad]) -> None:
    r"""Load shed below a baseline at a penalty, kW.

    .. math::
        0 \le s_{c,t} \le \rho_c\, b_{c,t}, \qquad p_{c,t} = b_{c,t} - s_{c,t}

    :math:`\rho_c` is ``max_curtail_pct``/100; the objective pays :math:`\pi_c \Delta t\, s_{c,t}`.
    """
    m.p_shed = pyo.Var(m.CU, m.T, bounds=lambda m, a, t: (0.0, d.cu_shed_max[a, t]))


def define_ev_depots(m: pyo.ConcreteModel, d, depots: list[EVDepot], elastic: bool) -> None:
    r"""EV charging sessions (one variable per session slot and interval it can charge in, AC kW).

    .. math::
        0 \le p_{k,t} \le \overline p_{k,t}, \qquad
        E^{owed}_k \le \eta\, \Delta t \sum_t p_{k,t} \le E^{rem}_k, \qquad
        \sum_{k \in depot} p_{k,t} \le P^{depot}

    :math:`\overline p_{k,t}` is the session's charger limit times the share of interval :math:`t`
    between arrival and departure. A session leaving after the horizon owes only what the chargers
    could not deliver after the horizon end, :math:`E^{owed} = \max(0, E^{rem} - \eta \overline P
    h_{after})`; see docs/optimizer.md for how the day-ahead plan splits the overnight window.
    """
    dt = m._dt
    eta = {}
    for depot in depots:
        for key in m._depot_slots[depot.id]:
            eta[key] = depot.eta_charge
    # One-shot models hold a column only where the session can charge (a year has hundreds of sessions,
    # each a few hours long); the persistent model keeps every (slot, step), a slot's window moves intraday.
    sparse = isinstance(d.ev_cap, dict)
    pairs = [(k, t) for k in m.EV for t in m.T if not sparse or d.ev_cap[k, t] > 0]
    m.EV_T = pyo.Set(initialize=pairs, dimen=2, ordered=True)
    m._ev_steps = {k: [] for k in m.EV}
    m._ev_at = {a: {} for a in m.DEPOT}
    for k, t in pairs:
        m._ev_steps[k].append(t)
        m._ev_at[slot_depot(k)].setdefault(t, []).append(k)
    m.p_ev = pyo.Var(m.EV_T, bounds=lambda m, k, t: (0.0, d.ev_cap[k, t]))
    energy = {k: (eta[k] * dt) * pyo.quicksum(m.p_ev[k, t] for t in m._ev_steps[k]) for k in m.EV}
    if elastic:
        short = add_slack(m, "ev", m.EV, "kWh", per_step=False)
        m.c_ev_owed = pyo.Constraint(m.EV, rule=lambda m, k: bounded_row(energy[k] + short[k], d.ev_owed[k], None))
    else:
        m.c_ev_owed = pyo.Constraint(m.EV, rule=lambda m, k: bounded_row(energy[k], d.ev_owed[k], None))
    m.c_ev_max = pyo.Constraint(m.EV, rule=lambda m, k: bounded_row(energy[k], None, d.ev_max[k]))
    multi = [x for x in depots if len(m._depot_slots[x.id]) > 1]
    p_max = {x.id: x.p_max_kw for x in multi}
    m.DEPOT_MULTI = pyo.Set(initialize=[x.id for x in multi], ordered=True)
    m.c_ev_depot = pyo.Constraint(
        m.DEPOT_MULTI, m.T,
        rule=lambda m, a, t: bounded_row(ev_depot_power(m, a, t), None, p_max[a]))


def ev_depot_power(m: pyo.ConcreteModel, depot_id: str, t: int):
    """Charging power of all sessions of an EV depot at interval ``t``, kW (AC, > 0)."""
    return pyo.quicksum(m.p_ev[k, t] for k in m._ev_at[depot_id].get(t, ()))
