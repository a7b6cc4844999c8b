"""Capacity decisions added to the dispatch formulation (target planner, :mod:`optimizer.sizing`).

The sizing model is a parent Pyomo block holding one unchanged :class:`~optimizer.model.DispatchModel`
per (representative) day as a sub-block, plus the families below. Candidate assets are ordinary assets of
each day's inputs, rated at their largest possible size (PV available power for ``max_kwp``, a battery of
``max_power_kw``/``max_energy_kwh``); the rows here tie their operation to the capacity variables. Every
dispatch constraint (balance, transformers, batteries, heat pumps, flexible loads, EV) is the day model's
own: nothing is formulated twice.
"""

from __future__ import annotations

from collections.abc import Sequence

import pyomo.environ as pyo

from optimizer.model.objective import green_energy_terms


def define_pv_capacity(p: pyo.Block, days: Sequence[pyo.Block], candidates: Sequence) -> None:
    r"""Added PV per roof, kWp, and its output in every day.

    .. math::
        0 \le K_c \le \overline K_c, \qquad p^{pv}_{c,d,t} \le \frac{\bar p^{pv}_{c,d,t}}{\overline K_c} K_c

    :math:`\bar p^{pv}_{c,d,t}` is the available power of the roof filled to :math:`\overline K_c`
    (``max_kwp``), so the available power scales linearly with the installed kWp (inverters sized in the
    same DC/AC ratio); curtailment stays free below it.
    """
    by_id = {c.id: c for c in candidates}
    p.PV_ADD = pyo.Set(initialize=list(by_id), ordered=True)
    p.kwp = pyo.Var(p.PV_ADD, bounds=lambda _, c: (0.0, by_id[c].max_kwp))
    for k, m in enumerate(days):
        d = m._d
        rows = [(c, t) for c in by_id for t in m.T if by_id[c].max_kwp > 0]

        def rule(_, c, t, m=m, d=d):
            return m.p_pv[c, t] <= d.pv_avail[c, t] / by_id[c].max_kwp * p.kwp[c]

        p.add_component(f"c_pv_cap_{k}", pyo.Constraint(rows, rule=rule))


def define_storage_capacity(p: pyo.Block, days: Sequence[pyo.Block], candidates: Sequence) -> None:
    r"""Added storage power (kW, AC) and energy (kWh nameplate), and their use in every day.

    .. math::
        p^{ch}_{s,d,t} \le P_s, \quad p^{dis}_{s,d,t} \le P_s, \quad e_{s,d,t} \le u_s E_s, \qquad
        0 \le P_s \le \overline P_s, \; 0 \le E_s \le \overline E_s

    :math:`u_s` is the usable share of the nameplate (SoC window). The candidate's day model counts its
    stored energy above the SoC floor, starting each day empty at midnight (the valley tariff comes
    first, so a daily cycle charges then) with no end rule.
    """
    by_id = {c.id: c for c in candidates}
    p.ST_ADD = pyo.Set(initialize=list(by_id), ordered=True)
    p.p_cap = pyo.Var(p.ST_ADD, bounds=lambda _, c: (0.0, by_id[c].max_power_kw))
    p.e_cap = pyo.Var(p.ST_ADD, bounds=lambda _, c: (0.0, by_id[c].max_energy_kwh))
    for k, m in enumerate(days):
        idx = [(c, t) for c in by_id for t in m.T]
        p.add_component(f"c_st_ch_{k}", pyo.Constraint(idx, rule=lambda _, c, t, m=m: m.p_ch[c, t] <= p.p_cap[c]))
        p.add_component(f"c_st_dis_{k}", pyo.Constraint(idx, rule=lambda _, c, t, m=m: m.p_dis[c, t] <= p.p_cap[c]))
        p.add_component(f"c_st_e_{k}", pyo.Constraint(
            idx, rule=lambda _, c, t, m=m: m.e_bat[c, t] <= by_id[c].usable_fraction * p.e_cap[c]))


def define_heat_pump_capacity(p: pyo.Block, days: Sequence[pyo.Block], candidates: Sequence) -> None:
    r"""Heat-pump electrification of a fuel-fired heat demand: electric rating :math:`H_h`, kW.

    The candidate is a curtailable load of every day's inputs whose baseline is the heat demand at the
    day's COP, :math:`b_{h,d,t} = \dot Q_{h,d,t} / \mathrm{COP}_{h,d,t}`; what the heat pump does not
    serve is shed (up to 100 %) and served by fuel, whose cost per kWh_el-equivalent is the load's shedding
    penalty (fuel cost per kWh_th × COP). The rating bounds what the heat pump takes:

    .. math:: b_{h,d,t} - s_{h,d,t} \le H_h, \qquad 0 \le H_h \le \overline H_h
    """
    by_id = {c.id: c for c in candidates}
    p.HP_ADD = pyo.Set(initialize=list(by_id), ordered=True)
    p.hp_cap = pyo.Var(p.HP_ADD, bounds=lambda _, c: (0.0, by_id[c].max_kw))
    for k, m in enumerate(days):
        d = m._d
        idx = [(c, t) for c in by_id for t in m.T]
        p.add_component(f"c_hp_cap_{k}", pyo.Constraint(
            idx, rule=lambda _, c, t, m=m, d=d: d.cu_base[c, t] - m.p_shed[c, t] <= p.hp_cap[c]))


def define_month_peaks(p: pyo.Block, days: Sequence[pyo.Block], months: Sequence[int]) -> None:
    r"""Each month's peak import over the days that represent it, kW.

    .. math:: P^{peak}_{\mu} \ge p^{imp}_{d,t} \quad \forall d \in \mu, t

    The day models carry no demand term of their own (their demand charge is 0); the sizing objective
    pays :math:`c^{dem} \sum_\mu P^{peak}_\mu` (12 months a year).
    """
    p.MONTHS = pyo.Set(initialize=sorted(set(months)), ordered=True)
    p.month_peak = pyo.Var(p.MONTHS, domain=pyo.NonNegativeReals)
    for k, (m, mu) in enumerate(zip(days, months, strict=True)):
        p.add_component(f"c_month_peak_{k}", pyo.Constraint(m.T, rule=lambda _, t, m=m, mu=mu: p.month_peak[mu] >= m.p_import[t]))


def define_green_purchases(p: pyo.Block, purchases: Sequence) -> None:
    r"""Green energy bought per year, kWh: green-power trading (bundled) and unbundled certificates.

    .. math:: 0 \le G_g \le \overline G_g
    """
    by_id = {g.id: g for g in purchases}
    p.BUY = pyo.Set(initialize=list(by_id), ordered=True)
    p.g_buy = pyo.Var(p.BUY, bounds=lambda _, g: (0.0, None if by_id[g].max_mwh is None else by_id[g].max_mwh * 1000))


def define_annual_green_ratio(p: pyo.Block, days: Sequence[pyo.Block], weights: Sequence[float], share: float,
                              fixed_green_kwh: float, bundled: Sequence[str]) -> None:
    r"""Annual green-power ratio at least :math:`r` (a mutable Param), weighted over the days.

    .. math::
        \kappa \sum_d w_d S_d + \sum_g G_g + G^0 \ge r \sum_d w_d E_d, \qquad
        \sum_{g \in bundled} G_g \le \sum_d w_d \Delta t \sum_t p^{imp}_{d,t}

    :math:`S_d, E_d` are the day's on-site green energy and consumption of
    :func:`~optimizer.model.objective.green_energy_terms` (the definition the day-ahead green constraint
    uses), :math:`w_d` the number of days a representative day stands for, :math:`\kappa` the retained
    certificate share, :math:`G^0` purchases already contracted. Bundled green trading delivers
    electricity, so it cannot exceed the grid import it is claimed for.
    """
    p.min_ratio = pyo.Param(mutable=True, initialize=0.0, domain=pyo.Reals)
    terms = [green_energy_terms(m) for m in days]
    onsite = pyo.quicksum(w * s for w, (s, _) in zip(weights, terms, strict=True))
    consumption = pyo.quicksum(w * e for w, (_, e) in zip(weights, terms, strict=True))
    p.annual_consumption = pyo.Expression(expr=consumption)
    p.annual_onsite_green = pyo.Expression(expr=onsite)
    bought = pyo.quicksum(p.g_buy[g] for g in p.BUY)
    p.c_annual_green = pyo.Constraint(expr=share * onsite + bought + fixed_green_kwh - p.min_ratio * consumption >= 0)
    if bundled:
        imports = pyo.quicksum(w * m._dt * pyo.quicksum(m.p_import[t] for t in m.T) for w, m in zip(weights, days, strict=True))
        p.c_bundled = pyo.Constraint(expr=pyo.quicksum(p.g_buy[g] for g in bundled) <= imports)
