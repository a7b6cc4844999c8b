"""Linearised network limits around AC operating points, as rows for the optimizer.

For an element *e* (line or transformer loading, bus voltage) with AC value :math:`x_{e,t}(p)` and
sensitivities :math:`s_{e,t,a} = \\partial x_{e,t} / \\partial p_{a,t}` at a point :math:`\\hat p_{\\cdot,t}`
(per kW of net injection of asset *a*, park convention, the external grid absorbing the change; from the
power-flow Jacobian, :meth:`~microgrid.network.powerflow.BatchPowerFlow.sensitivities`), the row

.. math::
    x_{e,t}(\\hat p) + \\sum_a s_{e,t,a}\\,(p_{a,t} - \\hat p_{a,t}) \\le \\bar x_e - \\mu

is an :class:`optimizer.NetworkLimit` with ``constant = x(p̂) - Σ s·p̂``, ``coeffs_kw = s`` and
``upper = x̄ - μ`` (μ: a small margin for the remaining linearisation error). A lower voltage bound is
written negated.

Where the rows are taken (:math:`\\hat p`):

- **Voltages** are nearly linear in the injections: at the checked operating point.
- **Loadings** are ``|I|``, convex but far from linear where it matters: the LV voltage sags as load grows,
  and near zero flow the magnetising current dominates, so a tangent at a lightly loaded interval
  predicts almost no change and lets the optimizer overload the element there (a plain cutting-plane loop
  then needs one iteration per such interval). Loading rows are therefore *supporting hyperplanes at the
  limit*: from the operating point, a secant search along the gradient (a few batched AC solves for all
  intervals at once) finds the point where the element reaches its limit, and the row is the tangent
  there. A tangent of a convex function never cuts off a plan the AC limit allows, and it is exact on the
  limit, where the optimum lies. Intervals whose search fails keep the tangent at the operating point.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from microgrid.network.builder import element_powers
from microgrid.network.check import NetworkCheck
from microgrid.network.park import ParkNetwork
from microgrid.network.powerflow import Sensitivities
from optimizer.network_limits import NetworkLimit

MIN_COEFF = 1e-9
"""Coefficients smaller than this (per kW) are dropped from a row."""
MAX_STEP_KW = 20_000.0
"""Largest move of the boundary search away from the operating point, kW (Euclidean over assets)."""
SEARCH_STEPS = 4


@dataclass(frozen=True)
class Margins:
    """Tightening of the linearised rows below the AC limits (covers the linearisation error)."""

    loading_pct: float = 0.5
    """Percentage points below a loading limit."""
    vm_pu: float = 0.001
    """Per unit inside a voltage band."""


def sensitivities_at(network: ParkNetwork, v: np.ndarray) -> Sensitivities:
    """Sensitivities of every loading and voltage at internal voltages ``v`` (steps × buses; NaN rows give
    NaN sensitivities)."""
    ok = np.isfinite(v).all(axis=1)
    v_safe = np.where(ok[:, None], v, network.solver.v_init[None, :])
    sens = network.solver.sensitivities(v_safe, network.assets["bus"].to_numpy(), network.asset_q_ratio(),
                                        list(network.assets.index))
    for arr in (sens.line_loading_pct, sens.trafo_loading_pct, sens.vm_pu):
        arr[~ok] = np.nan
    return sens


def check_sensitivities(network: ParkNetwork, check: NetworkCheck) -> Sensitivities:
    """Sensitivities at the operating points of ``check`` (failed intervals: NaN)."""
    return sensitivities_at(network, check.v_internal)


def linearised_limits(network: ParkNetwork, check: NetworkCheck, elements: list[tuple[str, str]],
                      asset_ids: list[str], margins: Margins | None = None, label: str = "") -> list[NetworkLimit]:
    """Rows for every interval of every ``(element_type, id)`` in ``elements`` (``line``/``trafo`` loading,
    ``bus`` voltage on the side(s) near or over its band).

    The limits are those the check used (``check.line_limit_pct``, ``check.vm_min_pu``, ...). Assets of the
    net that are not in ``asset_ids`` (the optimizer's decision variables) are held at their checked value:
    their term goes into the constant.
    """
    margins = margins or Margins()
    sens = check_sensitivities(network, check)
    p0 = check.injections_kw.to_numpy(dtype=float)
    keep = np.isin(np.array(sens.asset_ids), list(asset_ids))
    ids = np.array(sens.asset_ids)
    rows: list[NetworkLimit] = []
    suffix = f" ({label})" if label else ""
    for element_type, element in elements:
        if element_type in ("line", "trafo"):
            col = (network.line_ids if element_type == "line" else network.trafo_ids).index(element)
            values = (check.line_loading_pct if element_type == "line" else check.trafo_loading_pct)[element].to_numpy()
            s = (sens.line_loading_pct if element_type == "line" else sens.trafo_loading_pct)[:, col, :]
            upper = float((check.line_limit_pct if element_type == "line" else check.trafo_limit_pct)[element])
            p_hat, x_hat, s_hat = _limit_points(network, check, element_type, col, values, s, keep, upper)
            rows += _rows(f"{element_type} {element} loading_pct{suffix}", x_hat, s_hat, p_hat, keep, ids,
                          upper - margins.loading_pct, sign=1.0)
        elif element_type == "bus":
            col = network.bus_ids.index(element)
            values = check.vm_pu[element].to_numpy()
            s = sens.vm_pu[:, col, :]
            hi, lo = check.vm_max_pu[element], check.vm_min_pu[element]
            if np.nanmax(values) > hi - margins.vm_pu:
                rows += _rows(f"bus {element} vm_pu max{suffix}", values, s, p0, keep, ids, hi - margins.vm_pu, 1.0)
            if np.nanmin(values) < lo + margins.vm_pu:
                rows += _rows(f"bus {element} vm_pu min{suffix}", values, s, p0, keep, ids, -(lo + margins.vm_pu), -1.0)
        else:
            raise ValueError(f"unknown element type '{element_type}' (use line, trafo or bus)")
    return rows


def _loading_at(network: ParkNetwork, injections: np.ndarray, check: NetworkCheck, element_type: str,
                col: int, v0: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """AC loading of one element for injections (steps × assets): (loading, converged, voltages)."""
    solver = network.solver
    frame = network.asset_frame(injections, check.index)
    with np.errstate(all="ignore"):
        solution = solver.solve(solver.bus_injections_pu(element_powers(network.net, frame)), v0)
        res = solver.results(np.where(solution.converged[:, None], solution.v, solver.v_init[None, :]))
    loading = (res.line_loading_pct if element_type == "line" else res.trafo_loading_pct)[:, col]
    return np.where(solution.converged, loading, np.nan), solution.converged, solution.v


def _limit_points(network: ParkNetwork, check: NetworkCheck, element_type: str, col: int, values: np.ndarray,
                  s: np.ndarray, keep: np.ndarray, upper: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per interval, the point where the element reaches ``upper`` along its gradient (secant search), its
    loading and sensitivities there; the operating point itself where the search fails."""
    p0 = check.injections_kw.to_numpy(dtype=float)
    g = np.where(keep[None, :], np.nan_to_num(s), 0.0)
    norm = np.sqrt((g * g).sum(axis=1))
    d = g / np.where(norm > 0, norm, 1.0)[:, None]
    searchable = np.isfinite(values) & (norm > MIN_COEFF)
    # Secant iteration on the distance a (kW along d): f(a) = loading(p0 + a·d) - upper.
    a_prev, f_prev = np.zeros(len(values)), np.nan_to_num(values) - upper
    a = np.clip(np.where(searchable, -f_prev / np.where(norm > 0, norm, 1.0), 0.0), -MAX_STEP_KW, MAX_STEP_KW)
    v = check.v_internal
    x = np.full(len(values), np.nan)
    for _ in range(SEARCH_STEPS):
        x, ok, v_new = _loading_at(network, p0 + a[:, None] * d, check, element_type, col, v)
        v = np.where(ok[:, None], v_new, v)
        f = x - upper
        searchable &= ok
        with np.errstate(divide="ignore", invalid="ignore"):
            a_next = a - f * (a - a_prev) / (f - f_prev)
        step_ok = searchable & np.isfinite(a_next) & (np.abs(f) > 1e-3)
        a_prev, f_prev = np.where(step_ok, a, a_prev), np.where(step_ok, f, f_prev)
        a = np.where(step_ok, np.clip(a_next, -MAX_STEP_KW, MAX_STEP_KW), a)
    x, ok, v_hat = _loading_at(network, p0 + a[:, None] * d, check, element_type, col, v)
    found = searchable & ok & (np.abs(x - upper) < 1.0)
    sens_hat = sensitivities_at(network, np.where(found[:, None], v_hat, np.nan))
    s_hat_all = (sens_hat.line_loading_pct if element_type == "line" else sens_hat.trafo_loading_pct)[:, col, :]
    p_hat = np.where(found[:, None], p0 + a[:, None] * d, p0)
    x_hat = np.where(found, x, values)
    s_hat = np.where(found[:, None], s_hat_all, s)
    return p_hat, x_hat, s_hat


def _rows(name: str, values: np.ndarray, s: np.ndarray, p_hat: np.ndarray, keep: np.ndarray, ids: np.ndarray,
          upper: float, sign: float) -> list[NetworkLimit]:
    out = []
    for t in range(len(values)):
        if not np.isfinite(values[t]) or not np.all(np.isfinite(s[t])):
            continue
        st = sign * s[t]
        constant = sign * values[t] - float(st[keep] @ p_hat[t, keep])
        coeffs = {str(a): float(c) for a, c in zip(ids[keep], st[keep], strict=True) if abs(c) > MIN_COEFF}
        if not coeffs:
            continue  # nothing the optimizer controls moves this element
        out.append(NetworkLimit(name=name, step=t, coeffs_kw=coeffs, constant=float(constant), upper=float(upper)))
    return out
