"""PV plants with curtailment."""

from __future__ import annotations

import pyomo.environ as pyo


def define_pv(m: pyo.ConcreteModel, d, must_take: tuple[str, ...]) -> None:
    r"""PV output per plant and interval, kW.

    .. math::
        0 \le p^{pv}_{a,t} \le \bar p^{pv}_{a,t} \quad \text{(curtailable)}, \qquad
        p^{pv}_{a,t} = \bar p^{pv}_{a,t} \quad \text{(must-take)}

    where :math:`\bar p^{pv}_{a,t}` is the available AC power (forecast after inverter clipping).
    Curtailment is :math:`\bar p^{pv}_{a,t} - p^{pv}_{a,t}`; anti-backflow inverters curtail physically.
    """

    def bounds(m, a, t):
        avail = d.pv_avail[a, t]
        return (avail if a in must_take else 0.0, avail)

    m.p_pv = pyo.Var(m.PV, m.T, bounds=bounds)
