"""Rule-based dispatch: self-consumption plus valley charging (the comparison baseline and the fallback).

A pure function of the same :class:`~optimizer.inputs.DispatchInputs` the optimizer takes, returning the
same :class:`~optimizer.results.Schedule` shape, interval by interval in time order:

1. Must-serve loads as forecast; curtailable and shiftable loads follow their baseline (a shiftable load
   that is behind or ahead of its baseline catches up or slows down within its power limits).
2. Heat pumps keep their tank inside ``[minimum, capacity]``: a backward pass finds, per interval, the
   least tank energy from which the rest of the heat demand can still be served, once with the power left
   under the import cap (so the tank is pre-heated before a capped afternoon) and once at full power (the
   physical floor). Each interval runs at least what the floors need, otherwise towards the end-of-horizon
   level within the power left under the cap, within ``[0, p_el_max]`` (``p_el_min`` when running).
3. Deferrable loads and EV sessions run as soon as possible at full power (earliest departure first)
   within the import cap left by the loads above and the PV; energy still owed at the deadline is then
   added as soon as possible regardless of the cap.
4. Batteries: import above the cap is covered first. While over-cap intervals lie ahead (by the net load
   before storage) the cap comes first: the batteries charge towards ``soc_max`` within the cap and
   discharge only against import above it. Otherwise, in valley intervals (``tariff.period == "valley"``,
   else the cheapest price) they charge towards ``soc_max`` within the cap, and elsewhere charge from PV
   surplus and discharge to cover the deficit; always within power and SoC limits.
5. Curtailable loads are shed (within their limit) only where the import would still exceed its cap.
6. Residual surplus is exported up to the export limit, then curtailable PV is curtailed; the rest of the
   deficit is imported.

Device limits (power, SoC, tank band, charger and window limits) always hold. What the rules cannot meet
(import above the cap, export above the limit, heat demand the heat pump and tank cannot serve, EV or
deferrable energy short at the deadline, transformer and network limits) is listed in
:attr:`Schedule.violations <optimizer.results.Schedule.violations>` as named
:class:`~optimizer.violations.Conflict` records with the intervals and amounts, for the runtime to raise as
alarms.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from optimizer.inputs import DispatchInputs, as_array
from optimizer.model.data import Structure, compute_data, slot_key
from optimizer.results import Schedule
from optimizer.violations import Conflict, hhmm, power_violations, sort_conflicts, when

_EPS = 1e-9
_TOL_KW = 1e-3
"""Excess below this (kW, or kWh for energies) is rounding, not a broken limit."""


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


def _energy_loads(inputs: DispatchInputs, data: dict, cols: dict, headroom: np.ndarray,
                  unmet: list[Conflict]) -> np.ndarray:
    """Deferrable loads and EV sessions: ASAP within ``headroom`` (kW left under the import cap), then
    whatever is still owed ASAP regardless of it. Energy still short at the deadline goes to ``unmet``.
    Returns their total consumption per interval, kW."""
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
        owed = data["def_owed"][x.id]
        p = plan(cap, floor, data["def_max"][x.id], owed, 1.0)
        short = owed - p.sum() * dt
        if short > _TOL_KW:
            unmet.append(Conflict("deferrable", x.id, short, "kWh", (
                f"deferrable load '{x.id}' gets {owed - short:.0f} of {owed:.0f} kWh in its window "
                f"{hhmm(x.window_start)}–{hhmm(x.window_end)} at {x.p_max_kw:g} kW: short by {short:.0f} kWh")))
        cols[f"{x.id}_load_kw"] = p
        total += p
    for depot in inputs.ev_depots:
        order = sorted(range(len(depot.sessions)), key=lambda k: depot.sessions[k].departure)
        load = np.zeros(n)
        for k in order:
            key = slot_key(depot.id, k)
            cap = np.array([data["ev_cap"][key, t] for t in range(n)])
            cap = np.minimum(cap, np.maximum(depot.p_max_kw - load, 0.0))
            owed = data["ev_owed"][key]
            p = plan(cap, np.zeros(n), data["ev_max"][key], owed, depot.eta_charge)
            load += p
            short = owed - p.sum() * dt * depot.eta_charge
            if short > _TOL_KW:
                s = depot.sessions[k]
                steps = [int(t) for t in np.flatnonzero(cap > _EPS)]
                unmet.append(Conflict("ev", f"{depot.id}:{s.id}", short, "kWh", (
                    f"EV depot '{depot.id}' session '{s.id}' gets {owed - short:.0f} of {owed:.0f} kWh by "
                    f"{hhmm(min(s.departure, inputs.end))} at the charger limit: short by {short:.0f} kWh"), steps))
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


def tank_floor(lo: np.ndarray, hi: np.ndarray, heat: np.ndarray, cop: np.ndarray, p_kw: np.ndarray,
               keep: float, dt: float) -> np.ndarray:
    """Least tank energy at the end of each interval from which the later heat demand can be served with
    the heat pump at ``p_kw``, kWh_th (capped at ``hi``).

    Backwards from the last interval: :math:`F_{T-1} = \\underline E_{T-1}`,
    :math:`F_t = \\max(\\underline E_t, (F_{t+1} - \\Delta t(\\mathrm{COP}_{t+1} p_{t+1} - \\dot Q_{t+1})) / k)`
    with :math:`k = 1 - \\lambda \\Delta t` the standing-loss factor.
    """
    n = len(lo)
    floor = np.empty(n)
    floor[n - 1] = lo[n - 1]
    for t in range(n - 2, -1, -1):
        floor[t] = max(lo[t], (floor[t + 1] - dt * (cop[t + 1] * p_kw[t + 1] - heat[t + 1])) / keep)
    return np.minimum(floor, hi)


def _heat_pumps(inputs: DispatchInputs, data: dict, cols: dict, headroom: np.ndarray,
                unmet: list[Conflict]) -> np.ndarray:
    """Tank-floor rule per heat pump (module docstring, rule 2); ``headroom`` (kW left under the import cap)
    is used up in place. Returns the total electric consumption per interval, kW."""
    n, dt = inputs.n_steps, inputs.step_h
    total = np.zeros(n)
    for h in inputs.heat_pumps:
        cop = np.maximum(as_array(h.cop, n), 1e-6)
        heat = np.maximum(as_array(h.heat_demand_kw_th, n), 0.0)
        keep = 1.0 - h.tank_loss_pct_per_h / 100.0 * dt
        lo = np.array([data["hp_lo"][h.id, t] for t in range(n)])
        hi = np.array([data["hp_hi"][h.id, t] for t in range(n)])
        room = np.minimum(np.maximum(headroom, 0.0), h.p_el_max_kw)
        floor_cap = tank_floor(lo, hi, heat, cop, room, keep, dt)
        floor_phys = tank_floor(lo, hi, heat, cop, np.full(n, h.p_el_max_kw), keep, dt)
        target = max(data["hp_end"][h.id], h.tank_min_kwh)
        e = h.tank_initial_kwh
        p, tank, short = np.zeros(n), np.zeros(n), np.zeros(n)
        for t in range(n):
            idle = keep * e - dt * heat[t]  # tank at the end of the interval with the heat pump off
            need = np.maximum((np.array([floor_phys[t], floor_cap[t], target, hi[t]]) - idle) / (dt * cop[t]), 0.0)
            pt = min(max(need[0], need[1], min(need[2], room[t])), h.p_el_max_kw, need[3])
            if _EPS < pt < h.p_el_min_kw:  # on/off: run at the minimum unless that overfills the tank
                pt = h.p_el_min_kw if idle + dt * cop[t] * h.p_el_min_kw <= hi[t] + _EPS or idle < lo[t] else 0.0
            e = idle + dt * cop[t] * pt
            if e < lo[t] - _EPS:  # demand the heat pump and the tank cannot serve: named, the tank stays at its floor
                short[t] = (lo[t] - e) / dt
                e = lo[t]
            p[t], tank[t] = pt, e
        headroom -= p
        gap = short > _TOL_KW
        if gap.any():
            steps = [int(t) for t in np.flatnonzero(gap)]
            energy = float(short.sum() * dt)
            unmet.append(Conflict("heat", h.id, energy, "kWh_th", (
                f"heat pump '{h.id}' cannot meet the heat demand at {when(inputs.index, steps)}: {energy:.0f} kWh_th "
                f"short (heat-pump power {h.p_el_max_kw:g} kW and tank too small)"), steps))
        cols[f"{h.id}_p_el_kw"] = p
        cols[f"{h.id}_heat_kw_th"] = p * cop
        cols[f"{h.id}_heat_demand_kw_th"] = heat
        cols[f"{h.id}_tank_kwh"] = tank
        cols[f"{h.id}_cop"] = cop
        total += p
    return total


def _batteries(inputs: DispatchInputs, net: np.ndarray, cols: dict) -> np.ndarray:
    """Cap protection + valley charging + self-consumption (module docstring, rule 4); ``net`` is load − PV.

    ``future[t]`` is the AC energy over the import cap after interval ``t`` (``Σ max(0, net − cap)·Δt``);
    while it is positive the batteries fill up within the cap and do not self-consume.
    Returns the total battery injection per interval, kW.
    """
    n, dt = inputs.n_steps, inputs.step_h
    bats = inputs.batteries
    cap_imp = inputs.grid.import_limit_kw
    valley = valley_mask(inputs)
    excess = np.maximum(net - cap_imp, 0.0) * dt
    future = np.concatenate([np.cumsum(excess[::-1])[::-1][1:], [0.0]])
    e_min = [b.soc_min_pct * b.e_capacity_kwh / 100 for b in bats]
    e_max = [b.soc_max_pct * b.e_capacity_kwh / 100 for b in bats]
    e = [b.soc_initial_pct * b.e_capacity_kwh / 100 for b in bats]
    ch, dis, energy = np.zeros((len(bats), n)), np.zeros((len(bats), n)), np.zeros((len(bats), n))
    residual = net.copy()

    def fill(t: int, room_ch: list[float]) -> None:
        """Charge towards ``soc_max`` within the import cap."""
        for i, b in enumerate(bats):
            add = max(min(b.p_charge_max_kw - ch[i, t], room_ch[i] - ch[i, t], cap_imp - residual[t]), 0.0)
            ch[i, t] += add
            residual[t] += add

    def self_consume(t: int, room_dis: list[float]) -> None:
        """Discharge to cover the deficit, keeping ``future[t]`` (AC kWh) for later over-cap intervals."""
        allowed = max((sum(room_dis) - dis[:, t].sum()) - future[t] / dt, 0.0)
        for i, b in enumerate(bats):
            extra = max(min(b.p_discharge_max_kw - dis[i, t], room_dis[i] - dis[i, t], residual[t], allowed), 0.0)
            dis[i, t] += extra
            residual[t] -= extra
            allowed -= extra

    for t in range(n):
        room_ch = [max((e_max[i] - e[i]) / (b.eta_charge * dt), 0.0) for i, b in enumerate(bats)]
        room_dis = [max((e[i] - e_min[i]) * b.eta_discharge / dt, 0.0) for i, b in enumerate(bats)]
        if residual[t] > cap_imp:
            for i, b in enumerate(bats):  # import above the cap first
                dis[i, t] = min(b.p_discharge_max_kw, room_dis[i], max(residual[t] - cap_imp, 0.0))
                residual[t] -= dis[i, t]
            if future[t] <= _EPS:
                self_consume(t, room_dis)
        elif valley[t]:
            fill(t, room_ch)
        else:
            if residual[t] < 0:  # PV surplus (no import, so the cap cannot bind)
                for i, b in enumerate(bats):
                    ch[i, t] = min(b.p_charge_max_kw, room_ch[i], max(-residual[t], 0.0))
                    residual[t] += ch[i, t]
            if future[t] > _EPS:  # over-cap intervals ahead: the cap comes first, fill up within it
                fill(t, room_ch)
            elif residual[t] > 0:
                self_consume(t, room_dis)
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


def grid_violations(schedule: Schedule, inputs: DispatchInputs) -> list[Conflict]:
    """Import cap, export limit, transformer and network limits that ``schedule`` breaks, per interval."""
    f, idx = schedule.frame, inputs.index
    out = [
        power_violations(idx, "import_limit", "grid", f["grid_import_kw"].to_numpy() - inputs.grid.import_limit_kw,
                         f"import cap {inputs.grid.import_limit_kw:g} kW"),
        power_violations(idx, "export_limit", "grid", f["grid_export_kw"].to_numpy() - inputs.grid.export_limit_kw,
                         f"export limit {inputs.grid.export_limit_kw:g} kW"),
    ]
    inj = schedule.injections_kw()
    for tr in inputs.transformers:
        flow = -inj[list(tr.asset_ids)].sum(axis=1).to_numpy()  # > 0 into the tenant
        out.append(power_violations(idx, "transformer_down", tr.id, flow - tr.limit_kw,
                                    f"transformer '{tr.id}' rating {tr.limit_kw:g} kW (consumption)"))
        out.append(power_violations(idx, "transformer_up", tr.id, -flow - tr.limit_kw,
                                    f"transformer '{tr.id}' rating {tr.limit_kw:g} kW (reverse flow)"))
    for lim in inputs.network_limits:
        value = lim.constant + sum(c * float(inj[a].iloc[lim.step]) for a, c in lim.coeffs_kw.items())
        if value > lim.upper + _TOL_KW:
            out.append(Conflict("network", lim.name, value - lim.upper, "", (
                f"network limit '{lim.name}' at {hhmm(idx[lim.step])} exceeded by {value - lim.upper:.4g}"),
                [lim.step]))
    return [c for c in out if c is not None]


def baseline_schedule(inputs: DispatchInputs) -> Schedule:
    """The rule-based schedule for ``inputs`` (see the module docstring for the rules), with the limits it
    cannot meet in ``violations``."""
    inputs.validate()
    n = inputs.n_steps
    data = compute_data(inputs, Structure.of(inputs)).values
    unmet: list[Conflict] = []
    cols: dict[str, np.ndarray] = {}
    cols["price_import_cny_per_kwh"] = as_array(inputs.tariff.import_price_cny_per_kwh, n)
    cols["price_export_cny_per_kwh"] = inputs.export_price()
    load = np.zeros(n)
    for ld in inputs.loads:
        p = np.maximum(as_array(ld.p_kw, n), 0.0)
        cols[f"{ld.id}_load_kw"] = p
        load += p
    load += _baseline_loads(inputs, cols)
    avail = {pv.id: np.maximum(as_array(pv.p_avail_kw, n), 0.0) for pv in inputs.pv}
    pv_total = sum(avail.values()) if avail else np.zeros(n)
    load += _heat_pumps(inputs, data, cols, inputs.grid.import_limit_kw + pv_total - load, unmet)
    load += _energy_loads(inputs, data, cols, inputs.grid.import_limit_kw + pv_total - load, unmet)
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
    schedule = Schedule(frame=frame, assets=inputs.asset_kinds(), source="baseline")
    schedule.violations = sort_conflicts(grid_violations(schedule, inputs) + unmet)
    return schedule


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
