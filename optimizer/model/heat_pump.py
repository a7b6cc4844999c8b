"""Heat pumps feeding hot-water tanks; the heat demand is always met from the tank."""

from __future__ import annotations

import pyomo.environ as pyo

from optimizer.inputs import HeatPump
from optimizer.model.core import add_slack


def define_heat_pumps(m: pyo.ConcreteModel, d, heat_pumps: list[HeatPump], elastic: bool) -> None:
    r"""Electric power (kW), heat output and tank energy (kWh_th at the end of each interval).

    .. math::
        0 \le p^{hp}_{h,t} \le P^{hp}_h \\
        E_{h,t} = (1 - \lambda_h \Delta t) E_{h,t-1} + \Delta t \left(\mathrm{COP}_{h,t}\, p^{hp}_{h,t}
            - \dot Q^{dem}_{h,t}\right), \quad E_{h,-1} = E^0_h \\
        \underline E_{h,t} \le E_{h,t} \le \overline E_{h,t}, \qquad E_{h,T-1} \ge E^{end}_h

    :math:`\mathrm{COP}_{h,t}` is precomputed from the ambient and supply temperature (Carnot fraction,
    :func:`optimizer.forecast.cop_carnot`), so the model stays linear. :math:`\lambda_h` is the standing
    loss per hour. The tank energy is counted above its minimum useful temperature, so
    :math:`E \ge \underline E` means the demand :math:`\dot Q^{dem}` is always served. In diagnosis mode
    an "unmet heat" slack enters the balance and names the intervals where it cannot be.
    """
    by_id = {h.id: h for h in heat_pumps}
    dt = m._dt
    last = m.T.last() if len(m.T) else 0
    m.p_hp = pyo.Var(m.HP, m.T, bounds=lambda m, h, t: (0.0, by_id[h].p_el_max_kw))
    m.e_tank = pyo.Var(m.HP, m.T, bounds=lambda m, h, t: (d.hp_lo[h, t], d.hp_hi[h, t]))
    unmet = add_slack(m, "heat", [(h, t) for h in m.HP for t in m.T], "kW_th", per_step=True) if elastic else None

    def tank_rule(m, h, t):
        keep = 1.0 - by_id[h].tank_loss_pct_per_h / 100.0 * dt
        prev = d.hp_t0[h] if t == 0 else m.e_tank[h, t - 1]
        rhs = keep * prev + dt * d.hp_cop[h, t] * m.p_hp[h, t] - dt * d.hp_heat[h, t]
        if unmet is not None:
            rhs = rhs + dt * unmet[h, t]
        return m.e_tank[h, t] == rhs

    m.c_tank = pyo.Constraint(m.HP, m.T, rule=tank_rule)
    if elastic:
        short = add_slack(m, "tank_end", m.HP, "kWh_th", per_step=False)
        m.c_tank_end = pyo.Constraint(m.HP, rule=lambda m, h: m.e_tank[h, last] + short[h] >= d.hp_end[h])
    else:
        m.c_tank_end = pyo.Constraint(m.HP, rule=lambda m, h: m.e_tank[h, last] >= d.hp_end[h])


def define_heat_pump_min_load(m: pyo.ConcreteModel, heat_pumps: list[HeatPump]) -> None:
    r"""Minimum electric load while running, with an on/off switch :math:`o_{h,t}`.

    .. math::
        P^{min}_h o_{h,t} \le p^{hp}_{h,t} \le P^{hp}_h o_{h,t}

    Relaxed (:math:`o \in [0, 1]`) in the LP, where it does not bind; enforced as binary in the MILP.
    """
    by_id = {h.id: h for h in heat_pumps}
    m.u_hp = pyo.Var(m.HPMIN, m.T, bounds=(0.0, 1.0))
    m.c_hp_max_on = pyo.Constraint(m.HPMIN, m.T, rule=lambda m, h, t: m.p_hp[h, t] <= by_id[h].p_el_max_kw * m.u_hp[h, t])
    m.c_hp_min_on = pyo.Constraint(m.HPMIN, m.T, rule=lambda m, h, t: m.p_hp[h, t] >= by_id[h].p_el_min_kw * m.u_hp[h, t])
    m._switches.append(m.u_hp)
