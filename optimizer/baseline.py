"""Rule-based dispatch: self-consumption plus valley charging (the comparison baseline and the fallback).

A pure function of the same :class:`~optimizer.inputs.DispatchInputs` the optimizer takes, returning the
same :class:`~optimizer.results.Schedule` shape, interval by interval in time order:

1. Must-serve loads as forecast; curtailable and shiftable loads follow their baseline (a shiftable load
   that is behind or ahead of its baseline catches up or slows down within its power limits).
2. Heat pumps keep their tank at the end-of-horizon level: they produce the demand plus losses plus
   the gap to that level, within ``[0, p_el_max]`` (rounded up to ``p_el_min`` when running) and the
   tank's capacity.
3. Deferrable loads and EV sessions run as soon as possible at full power (earliest departure first)
   within the import cap left by the loads above and the PV; energy still owed at the deadline is then
   added as soon as possible regardless of the cap.
4. Batteries: in valley intervals (``tariff.period == "valley"``, else the cheapest price of the horizon)
   charge towards ``soc_max`` within the import limit and do not discharge; otherwise charge from PV
   surplus and discharge to cover the deficit, within power and SoC limits, always covering import above
   the cap first and holding back the energy that later over-cap intervals will need.
5. Curtailable loads are shed (within their limit) only where the import would still exceed its cap.
6. Residual surplus is exported up to the export limit, then curtailable PV is curtailed; the rest of the
   deficit is imported.

Every device stays within its power, energy and SoC limits. Grid limits (import cap, transformers) are
respected where the rules allow; a problem that is infeasible for the optimizer may still exceed them
here, which :func:`optimizer.kpis.compute_kpis` and the caller report.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from optimizer.inputs import DispatchInputs, as_array
from optimizer.model.data import Structure, compute_data
from optimizer.results import Schedule

_EPS = 1e-9


def valley_mask(inputs: DispatchInputs) -> np.ndarray:
    """True in valley intervals: the tariff's ``valley`` label, else the horizon's lowest import price."""
    n = inputs.n_steps
    if inputs.tariff.period is not None:
        return np.asarray([str(p) == "valley" for p in inputs.tariff.period])
    price = as_array(inputs.tariff.import_price_cny_per_kwh, n)
    return price <= price.min() + 1e-6


def _energy_asap(cap: np.ndarray, floor: np.ndarray, energy_kwh: float, dt: float, eta: float = 1.0) -> np.ndarray:
    """Power per interval running as early as possible at ``cap`` until ``energy_kwh`` is delivered."""
    p = np.zeros(len(cap))
    left = energy_kwh
    for t in range(len(cap)):
        want = left / (eta * dt) if left > _EPS else 0.0
        p[t] = min(cap[t], max(floor[t], want))
        left -= p[t] * eta * dt
    return p


def _energy_loads(inputs: DispatchInputs, data: dict, cols: dict, headroom: np.ndarray) -> np.ndarray:
    """Deferrable loads and EV sessions: ASAP within ``headroom`` (kW left under the import cap), then
    whatever is still owed ASAP regardless of it. Returns their total consumption per interval, kW."""
    n, dt = inputs.n_steps, inputs.step_h
    room = np.maximum(headroom, 0.0)
    total = np.zeros(n)

    def plan(cap: np.ndarray, floor: np.ndarray, energy: float, owed: float, eta: float) -> np.ndarray:
        nonlocal room
        first = _energy_asap(np.minimum(cap, np.maximum(room, floor)), floor, energy, dt, eta)
        short = owed - first.sum() * eta * dt
        if short > _EPS:
            first += _energy_asap(cap - first, np.zeros(n), short, dt, eta)
        room = np.maximum(room - first, 0.0)
        return first

    for x in inputs.deferrable:
        cap = np.array([data["def_cap"][x.id, t] for t in range(n)])
        floor = np.array([data["def_floor"][x.id, t] for t in range(n)])
        p = plan(cap, floor, data["def_max"][x.id], data["def_owed"][x.id], 1.0)
        cols[f"{x.id}_load_kw"] = p
        total += p
    for depot in inputs.ev_depots:
        order = sorted(range(len(depot.sessions)), key=lambda k: depot.sessions[k].departure)
        load = np.zeros(n)
        for k in order:
            key = f"{depot.id}:{k}"
            cap = np.array([data["ev_cap"][key, t] for t in range(n)])
            cap = np.minimum(cap, np.maximum(depot.p_max_kw - load, 0.0))
            load += plan(cap, np.zeros(n), data["ev_max"][key], data["ev_owed"][key], depot.eta_charge)
        cols[f"{depot.id}_load_kw"] = load
        cols[f"{depot.id}_delivered_kwh"] = np.cumsum(load) * dt * depot.eta_charge
        total += load
    return total


def _baseline_loads(inputs: DispatchInputs, cols: dict) -> np.ndarray:
    """Shiftable and curtailable loads on their baselines; returns their total consumption, kW."""
    n, dt = inputs.n_steps, inputs.step_h
    total = np.zeros(n)
    for x in inputs.shiftable:
        base = np.maximum(as_array(x.baseline_kw, n), 0.0)
        p = base.copy()
        offset = x.ahead_kwh  # > 0: ahead of the baseline, consume less; < 0: behind, catch up
        for t in range(n):
            if offset < -_EPS:
                p[t] = min(x.p_max_kw, base[t] - offset / dt)
            elif offset > _EPS:
                p[t] = max(x.p_min_kw, base[t] - offset / dt)
            offset += (p[t] - base[t]) * dt
        cols[f"{x.id}_load_kw"] = p
        cols[f"{x.id}_baseline_kw"] = base
        total += p
    for x in inputs.curtailable:
        base = x.base_kw(n)
        cols[f"{x.id}_load_kw"] = base
        cols[f"{x.id}_baseline_kw"] = base
        cols[f"{x.id}_shed_kw"] = np.zeros(n)
        total += base
    return total


def _heat_pumps(inputs: DispatchInputs, data: dict, cols: dict) -> np.ndarray:
    """Thermostat rule per heat pump; return the total electric consumption per interval, kW."""
    n, dt = inputs.n_steps, inputs.step_h
    total = np.zeros(n)
    for h in inputs.heat_pumps:
        cop = as_array(h.cop, n)
        heat = np.maximum(as_array(h.heat_demand_kw_th, n), 0.0)
        keep = 1.0 - h.tank_loss_pct_per_h / 100.0 * dt
        target = max(data["hp_end"][h.id], h.tank_min_kwh)
        e = h.tank_initial_kwh
        p = np.zeros(n)
        tank = np.zeros(n)
        for t in range(n):
            need_th = (target - keep * e) / dt + heat[t]
            pt = min(max(need_th / cop[t], 0.0), h.p_el_max_kw)
            if 0 < pt < h.p_el_min_kw:
                pt = h.p_el_min_kw
            room = (h.tank_capacity_kwh - keep * e) / dt + heat[t]  # most heat the tank can take
            pt = min(pt, max(room, 0.0) / cop[t])
            p[t] = pt
            e = keep * e + dt * (cop[t] * pt - heat[t])
            tank[t] = e
        cols[f"{h.id}_p_el_kw"] = p
        cols[f"{h.id}_heat_kw_th"] = p * cop
        cols[f"{h.id}_heat_demand_kw_th"] = heat
        cols[f"{h.id}_tank_kwh"] = tank
        cols[f"{h.id}_cop"] = cop
        total += p
    return total


def _batteries(inputs: DispatchInputs, net: np.ndarray, cols: dict) -> np.ndarray:
    """Self-consumption + valley charging + import-cap protection; ``net`` is load − PV (kW).

    The energy needed later to keep the import under its cap (``Σ max(0, net − cap)·Δt`` over the rest of
    the horizon, AC) is held back, across all batteries together, from ordinary self-consumption.
    Returns the total battery injection per interval, kW.
    """
    n, dt = inputs.n_steps, inputs.step_h
    bats = inputs.batteries
    cap_imp = inputs.grid.import_limit_kw
    valley = valley_mask(inputs)
    excess = np.maximum(net - cap_imp, 0.0) * dt
    future = np.concatenate([np.cumsum(excess[::-1])[::-1][1:], [0.0]])  # AC kWh over the cap after interval t
    e_min = [b.soc_min_pct * b.e_capacity_kwh / 100 for b in bats]
    e_max = [b.soc_max_pct * b.e_capacity_kwh / 100 for b in bats]
    e = [b.soc_initial_pct * b.e_capacity_kwh / 100 for b in bats]
    ch, dis, energy = np.zeros((len(bats), n)), np.zeros((len(bats), n)), np.zeros((len(bats), n))
    residual = net.copy()
    for t in range(n):
        room_ch = [max((e_max[i] - e[i]) / (b.eta_charge * dt), 0.0) for i, b in enumerate(bats)]
        room_dis = [max((e[i] - e_min[i]) * b.eta_discharge / dt, 0.0) for i, b in enumerate(bats)]
        if valley[t] and residual[t] <= cap_imp:
            for i, b in enumerate(bats):
                ch[i, t] = min(b.p_charge_max_kw, room_ch[i], max(cap_imp - residual[t], 0.0))
                residual[t] += ch[i, t]
        elif residual[t] < 0:
            for i, b in enumerate(bats):
                ch[i, t] = min(b.p_charge_max_kw, room_ch[i], max(-residual[t], 0.0))
                residual[t] += ch[i, t]
        elif residual[t] > 0:
            for i, b in enumerate(bats):  # import above the cap first
                dis[i, t] = min(b.p_discharge_max_kw, room_dis[i], max(residual[t] - cap_imp, 0.0))
                residual[t] -= dis[i, t]
            spare = sum(room_dis) * dt - dis[:, t].sum() * dt - future[t]  # AC kWh above the reserve
            allowed = max(spare / dt, 0.0)
            for i, b in enumerate(bats):
                extra = min(b.p_discharge_max_kw - dis[i, t], room_dis[i] - dis[i, t], residual[t], allowed)
                extra = max(extra, 0.0)
                dis[i, t] += extra
                residual[t] -= extra
                allowed -= extra
        for i, b in enumerate(bats):
            e[i] += dt * (b.eta_charge * ch[i, t] - dis[i, t] / b.eta_discharge)
            energy[i, t] = e[i]
    total = np.zeros(n)
    for i, b in enumerate(bats):
        cols[f"{b.id}_kw"] = dis[i] - ch[i]
        cols[f"{b.id}_charge_kw"] = ch[i]
        cols[f"{b.id}_discharge_kw"] = dis[i]
        cols[f"{b.id}_soc_pct"] = energy[i] / b.e_capacity_kwh * 100
        cols[f"{b.id}_e_kwh"] = energy[i]
        total += dis[i] - ch[i]
    return total


def _shed_over_cap(inputs: DispatchInputs, residual: np.ndarray, cols: dict) -> np.ndarray:
    """Shed curtailable loads (up to their limit) where the import would exceed its cap; returns the shed, kW."""
    n = inputs.n_steps
    over = np.maximum(residual - inputs.grid.import_limit_kw, 0.0)
    total = np.zeros(n)
    for x in inputs.curtailable:
        base = cols[f"{x.id}_baseline_kw"]
        shed = np.minimum(base * x.max_curtail_pct / 100, over)
        over -= shed
        cols[f"{x.id}_shed_kw"] = shed
        cols[f"{x.id}_load_kw"] = base - shed
        total += shed
    return total


def baseline_schedule(inputs: DispatchInputs) -> Schedule:
    """The rule-based schedule for ``inputs`` (see the module docstring for the rules)."""
    inputs.validate()
    n = inputs.n_steps
    data = compute_data(inputs, Structure.of(inputs)).values
    cols: dict[str, np.ndarray] = {}
    cols["price_import_cny_per_kwh"] = as_array(inputs.tariff.import_price_cny_per_kwh, n)
    cols["price_export_cny_per_kwh"] = inputs.export_price()
    load = np.zeros(n)
    for ld in inputs.loads:
        p = np.maximum(as_array(ld.p_kw, n), 0.0)
        cols[f"{ld.id}_load_kw"] = p
        load += p
    load += _baseline_loads(inputs, cols)
    load += _heat_pumps(inputs, data, cols)
    avail = {pv.id: np.maximum(as_array(pv.p_avail_kw, n), 0.0) for pv in inputs.pv}
    pv_total = sum(avail.values()) if avail else np.zeros(n)
    load += _energy_loads(inputs, data, cols, inputs.grid.import_limit_kw + pv_total - load)
    bat = _batteries(inputs, load - pv_total, cols)
    residual = load - pv_total - bat  # > 0 deficit (import), < 0 surplus
    residual -= _shed_over_cap(inputs, residual, cols)
    export = np.minimum(np.maximum(-residual, 0.0), inputs.grid.export_limit_kw)
    surplus = np.maximum(-residual - export, 0.0)  # must be curtailed
    curtailable_avail = sum((avail[p.id] for p in inputs.pv if p.curtailable), np.zeros(n))
    share = np.divide(np.minimum(surplus, curtailable_avail), curtailable_avail,
                      out=np.zeros(n), where=curtailable_avail > _EPS)
    for pv in inputs.pv:
        cut = avail[pv.id] * share if pv.curtailable else np.zeros(n)
        cols[f"{pv.id}_kw"] = avail[pv.id] - cut
        cols[f"{pv.id}_avail_kw"] = avail[pv.id]
        cols[f"{pv.id}_curtailed_kw"] = cut
    export += surplus - np.minimum(surplus, curtailable_avail)  # must-take surplus has nowhere else to go
    imp = np.maximum(residual, 0.0)
    cols["grid_import_kw"], cols["grid_export_kw"], cols["grid_kw"] = imp, export, imp - export
    order = _column_order(inputs)
    frame = _frame(inputs, cols, order)
    return Schedule(frame=frame, assets=inputs.asset_kinds(), source="baseline")


def _column_order(inputs: DispatchInputs) -> list[str]:
    """Same column order as :func:`optimizer.results.extract_schedule`."""
    order = ["price_import_cny_per_kwh", "price_export_cny_per_kwh", "grid_import_kw", "grid_export_kw", "grid_kw"]
    for pv in inputs.pv:
        order += [f"{pv.id}_kw", f"{pv.id}_avail_kw", f"{pv.id}_curtailed_kw"]
    for b in inputs.batteries:
        order += [f"{b.id}_{s}" for s in ("kw", "charge_kw", "discharge_kw", "soc_pct", "e_kwh")]
    for h in inputs.heat_pumps:
        order += [f"{h.id}_{s}" for s in ("p_el_kw", "heat_kw_th", "heat_demand_kw_th", "tank_kwh", "cop")]
    order += [f"{x.id}_load_kw" for x in inputs.loads]
    order += [f"{x.id}_load_kw" for x in inputs.deferrable]
    for x in inputs.shiftable:
        order += [f"{x.id}_load_kw", f"{x.id}_baseline_kw"]
    for x in inputs.curtailable:
        order += [f"{x.id}_load_kw", f"{x.id}_baseline_kw", f"{x.id}_shed_kw"]
    for x in inputs.ev_depots:
        order += [f"{x.id}_load_kw", f"{x.id}_delivered_kwh"]
    return order


def _frame(inputs: DispatchInputs, cols: dict, order: list[str]) -> pd.DataFrame:
    frame = pd.DataFrame({c: cols[c] for c in order}, index=inputs.index)
    if inputs.tariff.period is not None:
        frame.insert(2, "tou_period", np.asarray(inputs.tariff.period))
    return frame
