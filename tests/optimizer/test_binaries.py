"""When the LP is not enough: negative prices, must-take PV under zero export, heat-pump minimum load."""

from __future__ import annotations

import numpy as np
import pytest

from optimizer import Battery, BinaryMode, FixedLoad, HeatPump, PVPlant, SolverOptions, solve_dispatch
from tests.optimizer.helpers import day_index, inputs, window


def simultaneous_kwh(frame, bat="bat"):
    return float(np.minimum(frame[f"{bat}_charge_kw"], frame[f"{bat}_discharge_kw"]).sum() * 0.25)


def negative_price_case():
    idx = day_index()
    bat = Battery(id="bat", e_capacity_kwh=200, p_charge_max_kw=100, p_discharge_max_kw=100, eta_charge=0.9,
                  eta_discharge=0.9, soc_initial_pct=50, throughput_cost_cny_per_kwh=0.0)
    return inputs(idx, window(idx, 11, 14, -0.05, 0.5), batteries=[bat], loads=[FixedLoad(id="f", p_kw=np.full(96, 50.0))])


def test_lp_burns_energy_at_negative_prices_and_the_milp_does_not():
    lp = solve_dispatch(negative_price_case(), SolverOptions(binaries=BinaryMode.NEVER))
    assert lp.formulation == "LP"
    assert simultaneous_kwh(lp.schedule.frame) > 10  # the LP profits from round-trip losses
    milp = solve_dispatch(negative_price_case())
    assert milp.formulation == "MILP"
    assert milp.milp_reasons == ["negative import prices"]
    assert simultaneous_kwh(milp.schedule.frame) == pytest.approx(0, abs=1e-6)
    assert milp.solve.objective >= lp.solve.objective - 1e-6  # the MILP is a restriction of the LP


def must_take_case(battery_kwh: float):
    """30 kW of must-take PV surplus for 4 h (120 kWh AC) under zero export."""
    idx = day_index()
    bat = Battery(id="bat", e_capacity_kwh=battery_kwh, p_charge_max_kw=50, p_discharge_max_kw=50)
    return inputs(idx, 0.5, batteries=[bat], pv=[PVPlant(id="pv", p_avail_kw=window(idx, 10, 14, 60.0), curtailable=False)],
                  loads=[FixedLoad(id="f", p_kw=np.full(96, 30.0))])


def test_must_take_pv_with_zero_export_uses_binaries():
    result = solve_dispatch(must_take_case(400))  # 50 % → 95 % of 400 kWh absorbs 180 kWh
    assert result.ok and result.formulation == "MILP"
    assert "must-take generation with zero export" in result.milp_reasons
    f = result.schedule.frame
    np.testing.assert_allclose(f["pv_kw"], f["pv_avail_kw"])  # nothing curtailed
    assert f["grid_export_kw"].max() == pytest.approx(0, abs=1e-9)
    assert simultaneous_kwh(f) == pytest.approx(0, abs=1e-6)


def test_heat_pump_minimum_load_escalates_to_milp_when_the_lp_violates_it():
    idx = day_index()
    hp = HeatPump(id="hp", p_el_max_kw=100, p_el_min_kw=40, cop=np.full(96, 3.0), heat_demand_kw_th=np.full(96, 30.0),
                  tank_capacity_kwh=100, tank_initial_kwh=50, tank_loss_pct_per_h=0)
    result = solve_dispatch(inputs(idx, 0.5, heat_pumps=[hp]))
    assert result.formulation == "MILP"
    assert result.milp_reasons == ["heat pump 'hp' below its minimum load 40 kW"]
    p = result.schedule.frame["hp_p_el_kw"].to_numpy()
    assert np.all((p < 1e-6) | (p >= 40 - 1e-6))
    # heat delivered = demand (lossless tank back at its start): 30 kW_th · 24 h / COP 3 = 240 kWh,
    # within the MIP gap (1e-3 of a 120 CNY objective ≈ 0.24 kWh)
    assert p.sum() * 0.25 == pytest.approx(240, abs=0.3)


def test_must_take_surplus_beyond_the_battery_is_reported_not_faked():
    """100 kWh at 50 % can store only 45 kWh of the 120 kWh surplus: infeasible, and said so."""
    result = solve_dispatch(must_take_case(100))
    assert result.status == "infeasible"
    assert [c.family for c in result.conflicts] == ["export_limit"]
    assert "export limit 0 kW is below the must-take PV surplus at" in result.message
