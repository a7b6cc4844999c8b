"""Independent checks of a schedule against its inputs: balance, device limits, grid and transformer limits.

:func:`verify_schedule` re-derives every limit from :class:`~optimizer.inputs.DispatchInputs` (not from the
model), so it checks the optimizer and the rule-based baseline alike. It returns human-readable
violations (empty = the schedule respects everything within ``tol``).
"""

from __future__ import annotations

import numpy as np

from optimizer.inputs import DispatchInputs, as_array
from optimizer.model.data import Structure, compute_data
from optimizer.results import Schedule


def _over(problems: list[str], what: str, values: np.ndarray, limit: np.ndarray | float, tol: float) -> None:
    excess = np.asarray(values, dtype=float) - limit
    if np.any(excess > tol):
        t = int(np.argmax(excess))
        problems.append(f"{what}: exceeds its limit by {excess[t]:.3g} at interval {t}")


def verify_schedule(schedule: Schedule, inputs: DispatchInputs, tol: float = 1e-4, *,
                    grid_limits: bool = True) -> list[str]:  # noqa: C901 - one block per family
    """Violations of ``schedule`` against ``inputs`` (device limits always; grid and transformer limits
    unless ``grid_limits`` is false)."""
    f = schedule.frame
    n, dt = inputs.n_steps, inputs.step_h
    data = compute_data(inputs, Structure.of(inputs)).values
    problems: list[str] = []
    _over(problems, "energy balance |Σ injections|", schedule.balance_error_kw().abs().to_numpy(), 0.0, tol)
    imp, exp = f["grid_import_kw"].to_numpy(), f["grid_export_kw"].to_numpy()
    _over(problems, "grid import below 0", -imp, 0.0, tol)
    _over(problems, "grid export below 0", -exp, 0.0, tol)
    if grid_limits:
        _over(problems, "grid import", imp, inputs.grid.import_limit_kw, tol)
        _over(problems, "grid export", exp, inputs.grid.export_limit_kw, tol)
    for pv in inputs.pv:
        out, avail = f[f"{pv.id}_kw"].to_numpy(), as_array(pv.p_avail_kw, n)
        _over(problems, f"PV '{pv.id}' output", out, avail, tol)
        _over(problems, f"PV '{pv.id}' output below 0", -out, 0.0, tol)
        if not pv.curtailable:
            _over(problems, f"must-take PV '{pv.id}' curtailed", avail - out, 0.0, tol)
    for b in inputs.batteries:
        ch, dis = f[f"{b.id}_charge_kw"].to_numpy(), f[f"{b.id}_discharge_kw"].to_numpy()
        e = f[f"{b.id}_e_kwh"].to_numpy()
        _over(problems, f"battery '{b.id}' charge", ch, b.p_charge_max_kw, tol)
        _over(problems, f"battery '{b.id}' discharge", dis, b.p_discharge_max_kw, tol)
        _over(problems, f"battery '{b.id}' negative power", -np.minimum(ch, dis), 0.0, tol)
        lo = np.array([data["bat_lo"][b.id, t] for t in range(n)])
        hi = np.array([data["bat_hi"][b.id, t] for t in range(n)])
        _over(problems, f"battery '{b.id}' energy above SoC max", e, hi, tol)
        _over(problems, f"battery '{b.id}' energy below SoC min", lo - e, 0.0, tol)
        e0 = b.soc_initial_pct * b.e_capacity_kwh / 100
        expect = e0 + np.cumsum(dt * (b.eta_charge * ch - dis / b.eta_discharge))
        _over(problems, f"battery '{b.id}' SoC dynamics", np.abs(expect - e), 0.0, max(tol, 1e-3))
    for h in inputs.heat_pumps:
        p, tank = f[f"{h.id}_p_el_kw"].to_numpy(), f[f"{h.id}_tank_kwh"].to_numpy()
        _over(problems, f"heat pump '{h.id}' power", p, h.p_el_max_kw, tol)
        _over(problems, f"heat pump '{h.id}' power below 0", -p, 0.0, tol)
        hi = np.array([data["hp_hi"][h.id, t] for t in range(n)])
        lo = np.array([data["hp_lo"][h.id, t] for t in range(n)])
        _over(problems, f"heat pump '{h.id}' tank above capacity", tank, hi, tol)
        _over(problems, f"heat pump '{h.id}' tank below minimum (heat demand not met)", lo - tank, 0.0, tol)
        keep = 1 - h.tank_loss_pct_per_h / 100 * dt
        prev = np.concatenate([[h.tank_initial_kwh], tank[:-1]])
        expect = keep * prev + dt * (as_array(h.cop, n) * p - as_array(h.heat_demand_kw_th, n))
        _over(problems, f"heat pump '{h.id}' tank dynamics", np.abs(expect - tank), 0.0, max(tol, 1e-3))
    for x in inputs.deferrable:
        p = f[f"{x.id}_load_kw"].to_numpy()
        cap = np.array([data["def_cap"][x.id, t] for t in range(n)])
        _over(problems, f"deferrable '{x.id}' power", p, cap, tol)
        if p.sum() * dt < data["def_owed"][x.id] - max(tol, 1e-3):
            problems.append(f"deferrable '{x.id}': {p.sum() * dt:.1f} kWh consumed, {data['def_owed'][x.id]:.1f} owed")
    for x in inputs.shiftable:
        p = f[f"{x.id}_load_kw"].to_numpy()
        _over(problems, f"shiftable '{x.id}' power", p, x.p_max_kw, tol)
    for x in inputs.curtailable:
        shed = f[f"{x.id}_shed_kw"].to_numpy()
        _over(problems, f"curtailable '{x.id}' shed", shed, x.base_kw(n) * x.max_curtail_pct / 100, tol)
        if x.p_max_kw is not None:
            _over(problems, f"curtailable '{x.id}' power", f[f"{x.id}_load_kw"].to_numpy(), x.p_max_kw, tol)
    for depot in inputs.ev_depots:
        p = f[f"{depot.id}_load_kw"].to_numpy()
        _over(problems, f"EV depot '{depot.id}' power", p, depot.p_max_kw, tol)
        cap = sum((np.array([data["ev_cap"][f"{depot.id}:{k}", t] for t in range(n)])
                   for k in range(len(depot.sessions))), np.zeros(n))
        _over(problems, f"EV depot '{depot.id}' charging without vehicles", p, cap, tol)
        owed = sum(data["ev_owed"][f"{depot.id}:{k}"] for k in range(len(depot.sessions)))
        if p.sum() * dt * depot.eta_charge < owed - max(tol, 1e-3):
            problems.append(f"EV depot '{depot.id}': {p.sum() * dt * depot.eta_charge:.1f} kWh delivered, {owed:.1f} owed")
    if grid_limits:
        inj = schedule.injections_kw()
        for tr in inputs.transformers:
            flow = -inj[list(tr.asset_ids)].sum(axis=1).to_numpy()
            _over(problems, f"transformer '{tr.id}' flow", np.abs(flow), tr.limit_kw, tol)
    return problems
