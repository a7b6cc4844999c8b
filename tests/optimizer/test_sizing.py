"""Sizing model: analytically known optima on a one-bus site, and a monotonic cost curve.

One day of 24 h stands for the whole year (weight 365). Load 100 kW flat, import 0.5 CNY/kWh, zero export,
no demand charge; a roof whose PV gives ``unit`` kW per kWp (peak 0.8 kW/kWp at noon). Consumption is the
load, so the annual green energy needed is r · 876 MWh; what PV does not give, purchases must.
"""

from __future__ import annotations

import numpy as np
import pytest

from optimizer import Battery, CurtailableLoad, EndRule, FixedLoad, PVPlant
from optimizer.sizing import (
    GreenPurchase,
    HeatPumpCandidate,
    PVCandidate,
    SizingModel,
    SizingProblem,
    StorageCandidate,
)
from tests.optimizer.helpers import day_index, hours, inputs

LOAD_KW = 100.0
YEAR_KWH = LOAD_KW * 24 * 365
ROOF_KWP = 50.0


def unit_profile(index) -> np.ndarray:
    h = hours(index) + 0.5
    return np.clip(np.sin((h - 6) / 12 * np.pi), 0, None) * 0.8


def problem(*, roof_kwp=ROOF_KWP, pv_cost=100.0, cert_price=5.0, storage=None, storage_cost=(50.0, 50.0)) -> SizingProblem:
    index = day_index("2026-06-10", 24, "60min")
    pv = PVPlant("pv_new", unit_profile(index) * roof_kwp)
    bats = []
    if storage:
        bats = [Battery("bat_new", e_capacity_kwh=storage[1], p_charge_max_kw=storage[0], p_discharge_max_kw=storage[0],
                        eta_charge=0.95, eta_discharge=0.95, soc_min_pct=0, soc_max_pct=100, soc_initial_pct=0,
                        throughput_cost_cny_per_kwh=0.0, end_rule=EndRule.FREE)]
    day = inputs(index, 0.5, pv=[pv], batteries=bats, loads=[FixedLoad("factory", np.full(24, LOAD_KW))])
    return SizingProblem(
        days=[day], weights=[365.0], months=[6], demand_charge_cny_per_kw_month=0.0,
        pv=[PVCandidate("pv_new", roof_kwp, pv_cost)],
        storage=[StorageCandidate("bat_new", storage[0], storage[1], storage_cost[0], storage_cost[1], 1.0)] if storage else [],
        purchases=[GreenPurchase("certificates", cert_price)])


def pv_year_kwh_per_kwp() -> float:
    return float(unit_profile(day_index("2026-06-10", 24, "60min")).sum() * 365)


def test_certificates_cheaper_than_pv_buys_only_certificates():
    # PV costs 100,000 CNY/kWp·a: each kWp saves 0.5 CNY per kWh of ~2,000 kWh but costs far more than the
    # certificates for the same green energy (0.005 CNY/kWh)
    model = SizingModel(problem(pv_cost=1e5, cert_price=5.0))
    res = model.solve(0.45)
    assert res.ok
    assert res.pv_kwp["pv_new"] == pytest.approx(0.0, abs=1e-6)
    assert res.purchases_mwh["certificates"] == pytest.approx(0.45 * YEAR_KWH / 1000, rel=1e-6)
    assert res.annual_cost_cny == pytest.approx(0.5 * YEAR_KWH + 5.0 * 0.45 * YEAR_KWH / 1000, rel=1e-6)


def test_pv_cheaper_fills_the_roof_then_certificates():
    # PV at 100 CNY/kWp·a saves ~0.5 CNY/kWh × ~2,000 kWh/kWp: it pays for itself; the roof limits it
    model = SizingModel(problem(pv_cost=100.0, cert_price=5.0))
    res = model.solve(0.45)
    assert res.pv_kwp["pv_new"] == pytest.approx(ROOF_KWP, rel=1e-9)
    pv_kwh = ROOF_KWP * pv_year_kwh_per_kwp()  # all consumed on site: PV peak 40 kW < load
    assert res.purchases_mwh["certificates"] == pytest.approx((0.45 * YEAR_KWH - pv_kwh) / 1000, rel=1e-6)
    assert res.green_ratio == pytest.approx(0.45, rel=1e-6)


def test_pv_beyond_the_load_is_stored_when_storage_is_cheaper_than_certificates():
    # a roof of 400 kWp peaks at 320 kW against 100 kW of load: with zero export the surplus is curtailed
    # unless stored. Storage nearly free -> it takes surplus; storage dear -> certificates instead.
    cheap = SizingModel(problem(roof_kwp=400, pv_cost=1.0, cert_price=50.0, storage=(400.0, 2000.0),
                                storage_cost=(0.01, 0.01))).solve(0.8)
    dear = SizingModel(problem(roof_kwp=400, pv_cost=1.0, cert_price=50.0, storage=(400.0, 2000.0),
                               storage_cost=(1e5, 1e5))).solve(0.8)
    assert cheap.ok and dear.ok
    assert cheap.pv_kwp["pv_new"] == pytest.approx(400, rel=1e-6) and dear.pv_kwp["pv_new"] == pytest.approx(400, rel=1e-6)
    assert cheap.storage_kwh["bat_new"] > 100 and dear.storage_kwh["bat_new"] == pytest.approx(0, abs=1e-6)
    assert cheap.purchases_mwh["certificates"] < dear.purchases_mwh["certificates"] - 1
    assert cheap.annual_cost_cny < dear.annual_cost_cny


def test_cost_curve_is_monotonic_and_reaches_the_targets():
    model = SizingModel(problem(pv_cost=300.0, cert_price=20.0))
    results = [model.solve(t / 100) for t in range(20, 85, 5)]
    costs = [r.annual_cost_cny for r in results]
    assert all(r.ok for r in results)
    assert all(b >= a - 1e-6 for a, b in zip(costs, costs[1:], strict=False))
    assert costs[-1] > costs[0]
    for t, r in zip(range(20, 85, 5), results, strict=True):
        assert r.green_ratio >= t / 100 - 1e-6


def electrification_problem(hp_cost: float) -> tuple[SizingProblem, np.ndarray]:
    """Heat demand 150 kW_th 08-20 h at COP 3 (baseline 50 kW_el); fuel 0.4 CNY/kWh_th = 1.2 CNY/kWh_el."""
    index = day_index("2026-06-10", 24, "60min")
    baseline = np.where((hours(index) >= 8) & (hours(index) < 20), 150.0 / 3, 0.0)
    hp = CurtailableLoad("hp_add", baseline, max_curtail_pct=100, penalty_cny_per_kwh=0.4 * 3)
    day = inputs(index, 0.5, loads=[FixedLoad("factory", np.full(24, LOAD_KW))], curtailable=[hp])
    return SizingProblem(days=[day], weights=[365.0], months=[6], demand_charge_cny_per_kw_month=0.0,
                         heat_pumps=[HeatPumpCandidate("hp_add", 80.0, hp_cost)],
                         purchases=[GreenPurchase("certificates", 5.0)]), baseline


def test_electrification_when_the_heat_pump_beats_fuel():
    # running the heat pump costs 0.5 CNY/kWh_el against 1.2 for fuel: 0.7 CNY/kWh_el × 12 h × 365 saved per kW
    cheap, baseline = electrification_problem(hp_cost=100.0)
    res = SizingModel(cheap).solve(0.2)
    assert res.heat_pump_kw["hp_add"] == pytest.approx(50.0, rel=1e-6)  # exactly the peak electric demand
    assert res.cost_breakdown_cny["fuel"] == pytest.approx(0.0, abs=1e-6)
    dear, _ = electrification_problem(hp_cost=1e6)
    res = SizingModel(dear).solve(0.2)
    assert res.heat_pump_kw["hp_add"] == pytest.approx(0.0, abs=1e-6)
    assert res.cost_breakdown_cny["fuel"] == pytest.approx(1.2 * baseline.sum() * 365, rel=1e-6)
