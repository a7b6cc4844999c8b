"""The rule-based fallback on generated parks: every hard limit is kept or named (issue 12, item 4).

The schedule is judged by recomputing it here, from the site file and the forecasts, not from the
baseline's own bookkeeping: the PCC power is the sum of the asset columns, battery energy and tank energy
are integrated from the powers with the site's efficiencies and losses, EV energy is summed from the
charging power. Every interval where a recomputed quantity breaks its limit must be named in
``schedule.violations`` (family, interval, an amount at least as large as the recomputed excess).
Forced-infeasible variants (import cap cut, heat pumps too small for an empty tank, an empty battery and
EV sessions beyond the chargers, must-take PV under zero export) make sure the naming is exercised.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from microgrid.planning.adapter import build_dispatch_inputs, horizon_for_day
from microgrid.site import load_site
from optimizer import DispatchInputs, Schedule, baseline_schedule, solve_dispatch
from tests.sitegen import generate_site
from tests.sitegen.generator import CAP_DAY

SEEDS = range(10)
TOL = 1e-3


def _cut_cap(inp: DispatchInputs) -> DispatchInputs:
    return dataclasses.replace(inp, grid=dataclasses.replace(inp.grid, import_limit_kw=0.75 * inp.grid.import_limit_kw))


def _weak_heat_pumps(inp: DispatchInputs) -> DispatchInputs:
    hps = [dataclasses.replace(h, p_el_max_kw=0.2 * h.p_el_max_kw, p_el_min_kw=0.0, tank_initial_kwh=0.0)
           for h in inp.heat_pumps]
    return dataclasses.replace(inp, heat_pumps=hps)


def _empty_battery_and_big_ev(inp: DispatchInputs) -> DispatchInputs:
    bats = [dataclasses.replace(b, soc_initial_pct=b.soc_min_pct) for b in inp.batteries]
    depots = [dataclasses.replace(d, sessions=[dataclasses.replace(s, energy_kwh=4 * s.energy_kwh) for s in d.sessions])
              for d in inp.ev_depots]
    return dataclasses.replace(inp, batteries=bats, ev_depots=depots)


def _must_take_zero_export(inp: DispatchInputs) -> DispatchInputs:
    pv = [dataclasses.replace(p, curtailable=False, p_avail_kw=3 * np.asarray(p.p_avail_kw)) for p in inp.pv]
    return dataclasses.replace(inp, pv=pv, grid=dataclasses.replace(inp.grid, export_limit_kw=0.0))


VARIANTS = {"as generated": lambda inp: inp, "cap cut to 75 %": _cut_cap, "weak heat pumps": _weak_heat_pumps,
            "empty battery, 4x EV energy": _empty_battery_and_big_ev, "must-take PV, zero export": _must_take_zero_export}


@pytest.fixture(scope="module")
def parks(tmp_path_factory):
    root = tmp_path_factory.mktemp("fallback_parks")
    out = []
    for seed in SEEDS:
        site = load_site(generate_site(seed, root))
        out.append((seed, site, build_dispatch_inputs(site, horizon_for_day(site, CAP_DAY))))
    return out


def _named(schedule: Schedule, family: str, subject: str | None = None) -> list:
    return [c for c in schedule.violations if c.family == family and (subject is None or c.subject == subject)]


def _assert_power_limit(schedule: Schedule, family: str, excess: np.ndarray, where: str) -> int:
    """Each interval over the limit is listed with an amount >= its excess; returns the count."""
    over = np.flatnonzero(excess > TOL)
    if len(over) == 0:
        return 0
    named = _named(schedule, family)
    assert named, f"{where}: {family} exceeded at {list(over)} by up to {excess.max():.1f} kW, not named"
    steps = {s for c in named for s in c.steps}
    assert set(over.tolist()) <= steps, f"{where}: {family} exceeded at unnamed intervals {sorted(set(over) - steps)}"
    assert max(c.amount for c in named) >= excess.max() - TOL
    return len(over)


def check_fallback(site, inp: DispatchInputs, schedule: Schedule, where: str) -> dict[str, int]:
    """Recompute ``schedule`` from the site and the forecasts and check every hard limit (see module doc)."""
    f, n, dt = schedule.frame, inp.n_steps, inp.step_h
    a = site.assets
    found = {"import": 0, "export": 0, "heat": 0, "ev": 0}
    consumption = sum(f[f"{t.id}_load_kw"].to_numpy() for t in site.tenants)
    consumption = consumption + sum((f[f"{h.id}_p_el_kw"].to_numpy() for h in a.heat_pumps), np.zeros(n))
    consumption = consumption + sum((f[f"{x.id}_load_kw"].to_numpy() for x in [*a.flexible_loads, *a.ev_depots]), np.zeros(n))
    generation = sum((f[f"{p.id}_kw"].to_numpy() for p in a.pv), np.zeros(n))
    generation = generation + sum((f[f"{b.id}_discharge_kw"].to_numpy() - f[f"{b.id}_charge_kw"].to_numpy()
                                   for b in a.batteries), np.zeros(n))
    pcc = consumption - generation  # import > 0
    imp, exp = np.maximum(pcc, 0.0), np.maximum(-pcc, 0.0)
    np.testing.assert_allclose(f["grid_import_kw"] - f["grid_export_kw"], pcc, atol=1e-6, err_msg=where)
    found["import"] = _assert_power_limit(schedule, "import_limit", imp - site.grid.import_cap_kw, where)
    found["export"] = _assert_power_limit(schedule, "export_limit", exp - inp.grid.export_limit_kw, where)
    for pv, spec in zip(inp.pv, a.pv, strict=True):
        out = f[f"{spec.id}_kw"].to_numpy()
        assert np.all(out <= np.asarray(pv.p_avail_kw) + TOL) and np.all(out >= -TOL), where
        if not pv.curtailable:
            np.testing.assert_allclose(out, pv.p_avail_kw, atol=TOL, err_msg=where)
    for b, spec in zip(inp.batteries, a.batteries, strict=True):
        ch, dis = f[f"{b.id}_charge_kw"].to_numpy(), f[f"{b.id}_discharge_kw"].to_numpy()
        assert ch.max() <= spec.p_charge_max_kw + TOL and dis.max() <= spec.p_discharge_max_kw + TOL, where
        assert np.all(np.minimum(ch, dis) <= TOL), f"{where}: battery '{b.id}' charges and discharges at once"
        e = b.soc_initial_pct / 100 * spec.e_kwh + np.cumsum(dt * (spec.eta_charge * ch - dis / spec.eta_discharge))
        soc = 100 * e / spec.e_kwh
        assert soc.min() >= spec.soc_min_pct - 1e-6 and soc.max() <= spec.soc_max_pct + 1e-6, (
            f"{where}: battery '{b.id}' SoC {soc.min():.2f}–{soc.max():.2f} % outside "
            f"{spec.soc_min_pct}–{spec.soc_max_pct} %")
    for h, spec in zip(inp.heat_pumps, a.heat_pumps, strict=True):
        p = f[f"{h.id}_p_el_kw"].to_numpy()
        assert p.max() <= h.p_el_max_kw + TOL and p.min() >= -TOL, where
        keep = 1 - spec.tank_loss_pct_per_h / 100 * dt
        tank, e = np.zeros(n), h.tank_initial_kwh
        for t in range(n):  # the heat demand is drawn in full: unmet demand shows as a tank below its minimum
            e = keep * e + dt * (np.asarray(h.cop)[t] * p[t] - np.asarray(h.heat_demand_kw_th)[t])
            tank[t] = e
        assert tank.max() <= spec.tank_capacity_kwh_th + TOL, f"{where}: tank '{h.id}' overfilled"
        if tank.min() < -TOL:
            named = _named(schedule, "heat", h.id)
            assert named, f"{where}: tank '{h.id}' driven to {tank.min():.0f} kWh_th, not named"
            first = int(np.flatnonzero(tank < -TOL)[0])
            assert first in named[0].steps and named[0].amount >= -tank.min() - TOL, where
            found["heat"] += 1
    for depot, spec in zip(inp.ev_depots, a.ev_depots, strict=True):
        p = f[f"{depot.id}_load_kw"].to_numpy()
        assert p.max() <= spec.p_max_kw + TOL, where
        for s in depot.sessions:
            if s.departure > inp.end:
                continue  # owes only part of its energy in this horizon; the next horizon finishes it
            inside = (inp.index >= s.arrival) & (inp.index < s.departure)  # sessions of one depot do not overlap here
            delivered = p[inside].sum() * dt * depot.eta_charge
            owed = s.energy_kwh - s.delivered_kwh
            if delivered < owed - TOL:
                named = _named(schedule, "ev", f"{depot.id}:{s.id}")
                assert named and named[0].amount >= owed - delivered - TOL, (
                    f"{where}: EV session '{s.id}' short by {owed - delivered:.0f} kWh, not named")
                found["ev"] += 1
    for x in inp.curtailable:
        assert f[f"{x.id}_load_kw"].max() <= x.p_max_kw + 1e-6, f"{where}: curtailable '{x.id}' above p_max_kw"
    kinds = {x.id: kind for kind, group in (("pv", a.pv), ("bat", a.batteries)) for x in group}
    for tr in site.network.transformers:  # everything on the LV bus (the site file's topology), both ways
        ids = [t.id for t in site.tenants if t.bus == tr.lv_bus]
        ids += [x.id for g in (a.pv, a.batteries, a.heat_pumps, a.flexible_loads, a.ev_depots) for x in g if x.bus == tr.lv_bus]
        flow = np.zeros(n)
        for i in ids:
            if kinds.get(i) == "pv":
                flow -= f[f"{i}_kw"].to_numpy()
            elif kinds.get(i) == "bat":
                flow -= f[f"{i}_discharge_kw"].to_numpy() - f[f"{i}_charge_kw"].to_numpy()
            else:
                flow += f[f"{i}_p_el_kw" if f"{i}_p_el_kw" in f else f"{i}_load_kw"].to_numpy()
        limit = tr.sn_kva * tr.max_loading_pct / 100
        for family, excess in (("transformer_down", flow - limit), ("transformer_up", -flow - limit)):
            if (excess > TOL).any():
                named = _named(schedule, family, tr.id)
                assert named and set(np.flatnonzero(excess > TOL).tolist()) <= set(named[0].steps), (
                    f"{where}: transformer '{tr.id}' {family} by {excess.max():.1f} kW, not named")
    return found


@pytest.mark.slow
def test_fallback_keeps_or_names_every_limit_on_generated_parks(parks):
    totals = {name: {"import": 0, "export": 0, "heat": 0, "ev": 0} for name in VARIANTS}
    clean = 0
    for seed, site, inp in parks:
        for name, variant in VARIANTS.items():
            case = variant(inp)
            schedule = baseline_schedule(case)
            found = check_fallback(site, case, schedule, f"seed {seed}, {name}")
            for key, count in found.items():
                totals[name][key] += count
            if name == "as generated":
                clean += not schedule.violations
    # the forced variants must really force what they are named for, or the naming was never exercised
    assert totals["cap cut to 75 %"]["import"] > 0
    assert totals["weak heat pumps"]["heat"] > 0
    assert totals["empty battery, 4x EV energy"]["ev"] > 0
    assert totals["must-take PV, zero export"]["export"] > 0
    assert clean == len(SEEDS)  # the generated days themselves are met in full by the rules


@pytest.mark.slow
def test_relaxed_plans_keep_or_name_every_limit_on_generated_parks(parks):
    """The elastic retry's plan is judged by the same recomputation: device limits hold, broken limits named."""
    relaxed = 0
    for seed, site, inp in parks[:3]:
        for name in ("cap cut to 75 %", "weak heat pumps"):
            case = VARIANTS[name](inp)
            result = solve_dispatch(case)
            check_fallback(site, case, result.schedule, f"seed {seed}, {name}, {result.schedule.source}")
            assert result.ok or (result.relaxed and result.violations), result.message
            relaxed += result.relaxed
    assert relaxed >= 3  # the forced variants are infeasible on most parks: the elastic retry answers them


@pytest.mark.slow
def test_curtailable_loads_planned_within_their_rating_on_generated_parks(parks):
    for seed, _site, inp in parks[:3]:
        squeezed = dataclasses.replace(inp, curtailable=[dataclasses.replace(x, p_max_kw=0.9 * float(np.max(x.baseline_kw)))
                                                          for x in inp.curtailable])
        for schedule in (solve_dispatch(squeezed).schedule, baseline_schedule(squeezed)):
            for x in squeezed.curtailable:
                load = schedule.frame[f"{x.id}_load_kw"].to_numpy()
                assert load.max() <= x.p_max_kw + 1e-6, f"seed {seed}: '{x.id}' {load.max():.1f} > {x.p_max_kw:.1f} kW"
