"""Batteries: SoC dynamics, efficiencies, limits, end-of-horizon rule, charge/discharge exclusivity."""

from __future__ import annotations

import pyomo.environ as pyo

from optimizer.inputs import Battery
from optimizer.model.core import add_slack


def define_batteries(m: pyo.ConcreteModel, d, batteries: list[Battery], elastic: bool) -> None:
    r"""Charge, discharge (AC side, kW) and stored energy (kWh at the end of each interval).

    .. math::
        0 \le p^{ch}_{b,t} \le P^{ch}_b, \quad 0 \le p^{dis}_{b,t} \le P^{dis}_b \\
        e_{b,t} = e_{b,t-1} + \Delta t \left(\eta^{ch}_b p^{ch}_{b,t} - p^{dis}_{b,t} / \eta^{dis}_b\right),
            \quad e_{b,-1} = e^0_b \\
        \underline e_{b,t} \le e_{b,t} \le \overline e_{b,t}, \qquad e_{b,T-1} \ge e^{end}_b

    Power limits are AC-side at the PCS terminals; :math:`\eta^{ch}` converts AC to stored energy and
    :math:`1/\eta^{dis}` stored energy to AC. The SoC band :math:`[\underline e, \overline e]` is
    ``soc_min/max_pct`` of capacity, relaxed at the start only when the measured SoC lies outside it
    (the plan then returns inside at almost full power). The end rule :math:`e^{end}` is the initial
    energy (default), a target, or none (see :class:`~optimizer.inputs.EndRule`). The throughput cost in
    the objective, :math:`c^{thr}_b \Delta t (p^{ch} + p^{dis})`, prices degradation and makes
    simultaneous charge and discharge strictly unprofitable whenever prices are non-negative.
    """
    by_id = {b.id: b for b in batteries}
    dt = m._dt
    last = m.T.last() if len(m.T) else 0
    m.p_ch = pyo.Var(m.BAT, m.T, bounds=lambda m, b, t: (0.0, by_id[b].p_charge_max_kw))
    m.p_dis = pyo.Var(m.BAT, m.T, bounds=lambda m, b, t: (0.0, by_id[b].p_discharge_max_kw))
    m.e_bat = pyo.Var(m.BAT, m.T, bounds=lambda m, b, t: (d.bat_lo[b, t], d.bat_hi[b, t]))

    def soc_rule(m, b, t):
        bat = by_id[b]
        prev = d.bat_e0[b] if t == 0 else m.e_bat[b, t - 1]
        return m.e_bat[b, t] == prev + (dt * bat.eta_charge) * m.p_ch[b, t] - (dt / bat.eta_discharge) * m.p_dis[b, t]

    m.c_bat_soc = pyo.Constraint(m.BAT, m.T, rule=soc_rule)
    if elastic:
        short = add_slack(m, "battery_end", m.BAT, "kWh", per_step=False)
        m.c_bat_end = pyo.Constraint(m.BAT, rule=lambda m, b: m.e_bat[b, last] + short[b] >= d.bat_end[b])
    else:
        m.c_bat_end = pyo.Constraint(m.BAT, rule=lambda m, b: m.e_bat[b, last] >= d.bat_end[b])


def define_battery_exclusivity(m: pyo.ConcreteModel, batteries: list[Battery]) -> None:
    r"""Optional no-simultaneous charge/discharge rows with a switch :math:`u_{b,t}`.

    .. math::
        p^{ch}_{b,t} \le P^{ch}_b u_{b,t}, \qquad p^{dis}_{b,t} \le P^{dis}_b (1 - u_{b,t})

    With :math:`u \in [0, 1]` (LP) the rows only cut :math:`p^{ch}/P^{ch} + p^{dis}/P^{dis} \le 1`, the
    convex hull of the binary set; with :math:`u \in \{0, 1\}` (MILP) they forbid simultaneous flows.
    The MILP is needed only where losses are worth creating: negative prices, must-take generation with
    zero export, or a green-ratio target (docs/optimizer.md, "LP or MILP").
    """
    by_id = {b.id: b for b in batteries}
    m.u_bat = pyo.Var(m.BAT, m.T, bounds=(0.0, 1.0))
    m.c_bat_ch_on = pyo.Constraint(m.BAT, m.T, rule=lambda m, b, t: m.p_ch[b, t] <= by_id[b].p_charge_max_kw * m.u_bat[b, t])
    m.c_bat_dis_on = pyo.Constraint(
        m.BAT, m.T, rule=lambda m, b, t: m.p_dis[b, t] <= by_id[b].p_discharge_max_kw * (1 - m.u_bat[b, t]))
    m._switches.append(m.u_bat)
