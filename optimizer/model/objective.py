"""Demand charge, green-power ratio and the objective."""

from __future__ import annotations

import pyomo.environ as pyo

from optimizer.inputs import DispatchInputs
from optimizer.model.core import add_slack


def demand_excess_threshold_kw(inp: DispatchInputs) -> float | None:
    """Import above which the demand is billed at the excess rate, kW (None when it cannot bind)."""
    t = inp.tariff
    if t.declared_demand_kw is None or t.demand_excess_factor <= 1:
        return None
    threshold = t.declared_demand_kw * t.demand_excess_threshold_pct / 100
    return threshold if threshold < inp.grid.import_limit_kw else None


def define_demand_charge(m: pyo.ConcreteModel, d, inp: DispatchInputs) -> None:
    r"""The month's peak import, carried from the month-to-date peak :math:`\hat P`.

    .. math::
        P^{peak} \ge p^{imp}_t \;\forall t, \qquad P^{peak} \ge \hat P, \qquad
        X \ge P^{peak} - \theta D, \; X \ge 0

    The objective pays :math:`\sigma\, c^{dem} (P^{peak} - \hat P) + \sigma\, c^{dem} (f - 1) X`: only
    raising the month's peak above what is already billed costs money (floor at the incumbent, as in the
    EMHASS demand-charge cookbook). :math:`\sigma` is the share of the monthly charge weighed in this
    horizon, :math:`D` the declared demand, :math:`\theta` the excess threshold (105 %) and :math:`f`
    the excess factor (2×, 发改办价格〔2016〕1583号). Intervals are the tariff's 15-min demand intervals
    when the step is 15 min; with shorter steps the peak is a slightly conservative proxy.
    """
    m.peak = pyo.Var(bounds=(d.month_peak[None], None))
    m.c_peak = pyo.Constraint(m.T, rule=lambda m, t: m.peak >= m.p_import[t])
    threshold = demand_excess_threshold_kw(inp)
    if threshold is not None:
        m.peak_excess = pyo.Var(domain=pyo.NonNegativeReals)
        m.c_peak_excess = pyo.Constraint(expr=m.peak_excess >= m.peak - threshold)


def define_peak_reserve(m: pyo.ConcreteModel, d, inp: DispatchInputs) -> None:
    r"""Storage energy kept for the day's remaining demand peaks (:class:`~optimizer.inputs.PeakReserve`).

    .. math::
        r_\tau \ge N_\tau - P^{peak}, \; r_\tau \ge 0, \qquad
        R_t = R_{t+1} + \Delta t\, r_{t+1}, \; R_{T-1} = 0, \qquad
        \sum_b \eta^{dis}_b \big(e_{b,t} - \underline e_{b,t}\big) \ge R_t - C_t

    :math:`N_\tau` is the must-serve net load with its margin (0 after the reserved window,
    :func:`optimizer.model.data.peak_reserve_need`): :math:`R_t` is the AC energy the storage must hold at
    the end of interval :math:`t` to keep the import at the plan's peak through every later interval of the
    window without recharging. Raising :math:`P^{peak}` lowers it, at the demand charge. The credit
    :math:`C_t` (the storage's whole AC capacity before the interval preceding the first one whose
    :math:`N_\tau` exceeds the month-to-date peak, 0 from then on) lets the storage charge before the peaks.
    """
    dt = m._dt
    last = m.T.last()
    eta = {b.id: b.eta_discharge for b in inp.batteries}
    m.res_short = pyo.Var(m.T, domain=pyo.NonNegativeReals)
    m.res_left = pyo.Var(m.T, domain=pyo.NonNegativeReals)
    m.c_res_short = pyo.Constraint(m.T, rule=lambda m, t: m.res_short[t] >= d.res_need[t] - m.peak)
    m.c_res_left = pyo.Constraint(m.T, rule=lambda m, t: m.res_left[t] == (
        0.0 if t == last else m.res_left[t + 1] + dt * m.res_short[t + 1]))
    m.c_res_keep = pyo.Constraint(m.T, rule=lambda m, t: pyo.quicksum(
        eta[b] * (m.e_bat[b, t] - d.bat_lo[b, t]) for b in m.BAT) >= m.res_left[t] - d.res_credit[t])


def define_green_ratio(m: pyo.ConcreteModel, inp: DispatchInputs, elastic: bool) -> None:
    r"""Minimum green-power ratio (绿电占比) over the horizon.

    .. math::
        \kappa \Delta t \sum_t \Big(\sum_a p^{pv}_{a,t} - p^{exp}_t\Big) + G
        \ge r \,\Delta t \sum_t \Big(p^{imp}_t + \sum_a p^{pv}_{a,t} - p^{exp}_t\Big)

    Green energy is on-site PV consumed on site (exported PV does not count, counted first against PV)
    whose certificates are retained (share :math:`\kappa`) plus green energy bought :math:`G`; total
    consumption is import plus on-site PV consumed, battery losses included. Because a higher ratio can
    be "bought" by burning PV in round-trip losses, the plan is checked for simultaneous
    charge/discharge and re-solved as a MILP if needed.
    """
    g = inp.green
    onsite, consumption = green_energy_terms(m)
    lhs = g.onsite_certificate_share * onsite + g.green_purchased_kwh
    rhs = g.min_ratio * consumption
    if elastic:
        short = add_slack(m, "green", None, "kWh", per_step=False)
        m.c_green = pyo.Constraint(expr=lhs + short >= rhs)
    else:
        m.c_green = pyo.Constraint(expr=lhs >= rhs)


def green_energy_terms(m: pyo.ConcreteModel) -> tuple:
    r"""On-site PV consumed on site and total consumption over the horizon, kWh, as linear expressions.

    .. math::
        S = \Delta t \sum_t \Big(\sum_a p^{pv}_{a,t} - p^{exp}_t\Big), \qquad
        E = \Delta t \sum_t \Big(p^{imp}_t + \sum_a p^{pv}_{a,t} - p^{exp}_t\Big)

    The one definition used by :func:`define_green_ratio` (per horizon) and by the target planner's annual
    ratio (:func:`optimizer.model.capacity.define_annual_green_ratio`, weighted over days).
    """
    dt = m._dt
    pv = dt * pyo.quicksum(m.p_pv[a, t] for a in m.PV for t in m.T)
    exp = dt * pyo.quicksum(m.p_export[t] for t in m.T)
    imp = dt * pyo.quicksum(m.p_import[t] for t in m.T)
    return pv - exp, imp + pv - exp


def define_objective(m: pyo.ConcreteModel, d, inp: DispatchInputs, slack_penalty: float) -> None:
    r"""Cost of the plan over the horizon, CNY.

    .. math::
        \min \sum_t \big(c^{imp}_t + c^{CO_2} \epsilon\big) \Delta t\, p^{imp}_t
        - c^{exp}_t \Delta t\, p^{exp}_t
        + \sum_{b,t} c^{thr}_b \Delta t (p^{ch}_{b,t} + p^{dis}_{b,t})
        + \sum_{c,t} \pi_c \Delta t\, s_{c,t}
        + \sigma c^{dem} \big(P^{peak} - \hat P\big) + \sigma c^{dem} (f - 1) X
        + W \sum \text{slacks}

    TOU energy cost (plus the optional carbon price :math:`c^{CO_2}` times the emission factor
    :math:`\epsilon`), export revenue, battery throughput cost, load-curtailment penalties, the demand
    charge and, in diagnosis mode only, the penalised slacks (:math:`W` CNY per kWh or unit; per-interval
    slacks 0.1 % dearer early in the horizon so that degenerate violations are reported where they end).
    """
    dt = m._dt
    terms = [d.c_import[t] * m.p_import[t] - d.c_export[t] * m.p_export[t] for t in m.T]
    for b in inp.batteries:
        if b.throughput_cost_cny_per_kwh > 0:
            c = b.throughput_cost_cny_per_kwh * dt
            terms.extend(c * (m.p_ch[b.id, t] + m.p_dis[b.id, t]) for t in m.T)
    for c in inp.curtailable:
        if c.penalty_cny_per_kwh > 0:
            terms.extend((c.penalty_cny_per_kwh * dt) * m.p_shed[c.id, t] for t in m.T)
    tariff = inp.tariff
    weight = tariff.demand_charge_share * tariff.demand_charge_cny_per_kw_month
    if m.component("peak") is not None and weight > 0:
        terms.append(weight * (m.peak - d.month_peak[None]))
        if m.component("peak_excess") is not None:
            terms.append(weight * (tariff.demand_excess_factor - 1) * m.peak_excess)
    n = max(len(m.T), 1)
    for slack in m._slacks:
        if not slack.per_step:
            terms.extend(slack_penalty * v for v in slack.var.values())
            continue
        for index, v in slack.var.items():
            t = index[-1] if isinstance(index, tuple) else index
            # earlier violations cost 0.1 % more: among equal-size violations the diagnosis reports the
            # contiguous period where a store runs dry, not an arbitrary spread of intervals
            terms.append(slack_penalty * dt * (1 + 1e-3 * (n - 1 - t) / n) * v)
    m.objective = pyo.Objective(expr=pyo.quicksum(terms), sense=pyo.minimize)
