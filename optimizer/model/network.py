"""Linear network limits supplied by the network engineer's sensitivities (see optimizer.network_limits)."""

from __future__ import annotations

import math

import pyomo.environ as pyo

from optimizer.model.core import Slack, bounded_row, injection
from optimizer.network_limits import NetworkLimit


def network_limit_body(m: pyo.ConcreteModel, lim: NetworkLimit):
    """``constant + Σ coeffs_kw[a] · p_inj[a, step]`` as a Pyomo expression."""
    return lim.constant + pyo.quicksum(c * injection(m, a, lim.step) for a, c in lim.coeffs_kw.items() if c != 0)


def define_network_limits(m: pyo.ConcreteModel, limits: list[NetworkLimit], elastic: bool) -> None:
    r"""One row per :class:`~optimizer.NetworkLimit`:

    .. math::
        c_\ell + \sum_a \alpha_{\ell,a}\, p^{inj}_{a,t_\ell} \le u_\ell

    :math:`p^{inj}` is the net injection of asset :math:`a` (``"grid"`` = PCC import). The rows live in
    a block that :meth:`~optimizer.model.DispatchModel.set_network_limits` replaces, so the persistent
    intraday model can take a new set of limits without being rebuilt. Limits with an infinite upper
    bound are ignored.
    """
    if m.component("network") is not None:
        m.del_component("network")
    m._slacks = [s for s in m._slacks if s.family != "network"]
    m.network = pyo.Block()
    blk = m.network
    kept = [lim for lim in limits if not math.isinf(lim.upper)]
    blk.limits = kept
    idx = list(range(len(kept)))
    if elastic:
        blk.slack = pyo.Var(idx, domain=pyo.NonNegativeReals)
        labels = {i: (lim.name, lim.step) for i, lim in enumerate(kept)}
        m._slacks.append(Slack(family="network", var=blk.slack, unit="", per_step=False, labels=labels))
        blk.rows = pyo.Constraint(idx, rule=lambda b, i: network_limit_body(m, kept[i]) - blk.slack[i] <= kept[i].upper)
    else:
        blk.rows = pyo.Constraint(idx, rule=lambda b, i: bounded_row(network_limit_body(m, kept[i]), None, kept[i].upper))
