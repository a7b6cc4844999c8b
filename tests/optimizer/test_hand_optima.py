"""Cases whose optimum is known by hand (DESIGN.md §6: assert real values, not just "it solved")."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from optimizer import (
    Battery,
    BinaryMode,
    EndRule,
    EVDepot,
    EVSession,
    FixedLoad,
    GreenTarget,
    HeatPump,
    PVPlant,
    SolverOptions,
    SolveStatus,
    solve_dispatch,
)
from tests.optimizer.helpers import day_index, hours, inputs, window

DT = 0.25


def arbitrage_inputs(binaries: bool = False):
    idx = day_index()
    price = window(idx, 0, 8, 0.30, 0.0) + window(idx, 8, 16, 0.60, 0.0) + window(idx, 16, 24, 1.00, 0.0)
    bat = Battery(id="bat", e_capacity_kwh=100, p_charge_max_kw=50, p_discharge_max_kw=50, eta_charge=0.9,
                  eta_discharge=0.9, soc_min_pct=0, soc_max_pct=100, soc_initial_pct=0,
                  throughput_cost_cny_per_kwh=0.01)
    return inputs(idx, price, batteries=[bat], loads=[FixedLoad(id="factory", p_kw=np.full(96, 100.0))])


@pytest.mark.parametrize("binaries", [BinaryMode.AUTO, BinaryMode.ALWAYS])
def test_battery_valley_to_peak_arbitrage_exact_cost(binaries):
    """100 kWh, η 0.9/0.9, 0.01 CNY/kWh throughput; valley 0.30 / flat 0.60 / peak 1.00; 100 kW load.

    One full valley→peak cycle: charge 100/0.9 = 111.11 kWh at 0.30, discharge 90 kWh at 1.00.
    Benefit 90 − 33.333 − 0.01·(111.11 + 90) = 54.6556; base cost 800·(0.3 + 0.6 + 1.0) = 1520.
    Two cycles (valley→flat, flat→peak) would only gain 18.66 + 21.32 = 39.98.
    """
    result = solve_dispatch(arbitrage_inputs(), SolverOptions(binaries=binaries))
    assert result.status == SolveStatus.OPTIMAL
    expected = 1520 - (90 - 0.3 * 1000 / 9 - 0.01 * (1000 / 9 + 90))
    assert result.solve.objective == pytest.approx(expected, abs=1e-6)
    assert result.kpis["cost_total_cny"] == pytest.approx(expected, abs=0.01)
    f = result.schedule.frame
    h = hours(f.index)
    assert f["bat_charge_kw"][h < 8].sum() * DT == pytest.approx(1000 / 9, abs=1e-6)
    assert f["bat_charge_kw"][h >= 8].sum() == pytest.approx(0, abs=1e-6)
    assert f["bat_discharge_kw"][h >= 16].sum() * DT == pytest.approx(90, abs=1e-6)
    assert f["bat_discharge_kw"][h < 16].sum() == pytest.approx(0, abs=1e-6)
    assert f["bat_soc_pct"].max() == pytest.approx(100, abs=1e-6)
    assert f["bat_soc_pct"].iloc[-1] == pytest.approx(0, abs=1e-6)
    assert result.formulation == ("MILP" if binaries == BinaryMode.ALWAYS else "LP")


@pytest.mark.parametrize("export_limit_kw", [0.0, 20.0])
def test_export_limit_curtails_exactly_the_surplus(export_limit_kw):
    """PV above load: with zero export every surplus kW is curtailed; with 20 kW export (priced) only the rest."""
    idx = day_index()
    h = hours(idx)
    avail = np.clip(400 * np.sin(np.pi * (h - 6) / 12), 0, None)
    load = np.full(96, 150.0)
    inp = inputs(idx, 0.6, export_limit_kw=export_limit_kw, export_price=0.1,
                 pv=[PVPlant(id="pv", p_avail_kw=avail)], loads=[FixedLoad(id="factory", p_kw=load)])
    result = solve_dispatch(inp)
    f = result.schedule.frame
    expected_curtail = np.maximum(avail - load - export_limit_kw, 0)
    np.testing.assert_allclose(f["pv_curtailed_kw"], expected_curtail, atol=1e-6)
    np.testing.assert_allclose(f["grid_export_kw"], np.minimum(np.maximum(avail - load, 0), export_limit_kw), atol=1e-6)
    np.testing.assert_allclose(f["grid_import_kw"], np.maximum(load - avail, 0), atol=1e-6)
    assert result.kpis["pv_curtailed_kwh"] == pytest.approx(expected_curtail.sum() * DT, abs=0.1)
    assert result.kpis["max_balance_error_kw"] == pytest.approx(0, abs=1e-6)


def test_heat_pump_moves_heating_into_pv_hours_and_meets_demand():
    """COP 3, demand 60 kW_th all day, 200 kW of PV 10–14 h, zero export, flat 1.0 CNY/kWh, lossless tank.

    The tank (600 kWh_th at the start, end ≥ start) is drained to 0 by 10:00, the heat pump runs at its
    100 kW limit on PV for 4 h (+960 kWh_th net), and only the 240 kWh_th missing at the end
    (1440 demand − 1200 from PV) come from the grid: 80 kWh at 1.0 = 80 CNY.
    """
    idx = day_index()
    h = hours(idx)
    hp = HeatPump(id="hp", p_el_max_kw=100, cop=np.full(96, 3.0), heat_demand_kw_th=np.full(96, 60.0),
                  tank_capacity_kwh=2000, tank_initial_kwh=600, tank_loss_pct_per_h=0)
    inp = inputs(idx, 1.0, heat_pumps=[hp], pv=[PVPlant(id="pv", p_avail_kw=window(idx, 10, 14, 200.0))])
    result = solve_dispatch(inp)
    f = result.schedule.frame
    pv_hours = (h >= 10) & (h < 14)
    np.testing.assert_allclose(f["hp_p_el_kw"][pv_hours], 100.0, atol=1e-6)
    assert f["grid_import_kw"].sum() * DT == pytest.approx(80.0, abs=1e-6)
    assert result.solve.objective == pytest.approx(80.0, abs=1e-6)
    # demand always met: the tank never goes below 0 and follows its energy balance
    assert f["hp_tank_kwh"].min() >= -1e-6
    tank = 600 + np.cumsum((f["hp_heat_kw_th"] - f["hp_heat_demand_kw_th"]).to_numpy()) * DT
    np.testing.assert_allclose(f["hp_tank_kwh"], tank, atol=1e-6)
    assert f["hp_tank_kwh"].iloc[-1] == pytest.approx(600, abs=1e-6)
    assert f["hp_heat_kw_th"].sum() * DT == pytest.approx(1440, abs=1e-6)


@pytest.mark.parametrize(("energy_kwh", "expected_cost"), [(400, 400 / 0.95 * 0.3), (800, 0.3 * 700 + 1.0 * (800 / 0.95 - 700))])
def test_ev_depot_meets_deadline_at_least_cost(energy_kwh, expected_cost):
    """Horizon 12:00 → 12:00 next day; trucks 18:00 → 07:00; 100 kW of chargers, η 0.95; valley 0–8 h at 0.3.

    400 kWh fit in the valley (7 h × 100 kW = 700 kWh AC); 800 kWh need 842.1 kWh AC, of which the
    142.1 kWh that the valley cannot take are charged in the evening at 1.0.
    """
    idx = day_index("2025-07-15 12:00")
    price = np.where(hours(idx) < 8, 0.3, 1.0)
    ts = pd.Timestamp
    session = EVSession(id="night", arrival=ts("2025-07-15 18:00", tz="Asia/Shanghai"),
                        departure=ts("2025-07-16 07:00", tz="Asia/Shanghai"), energy_kwh=energy_kwh)
    inp = inputs(idx, price, ev_depots=[EVDepot(id="depot", p_max_kw=100, sessions=[session], eta_charge=0.95)])
    result = solve_dispatch(inp)
    f = result.schedule.frame
    assert result.solve.objective == pytest.approx(expected_cost, abs=1e-6)
    assert f["depot_delivered_kwh"].iloc[-1] == pytest.approx(energy_kwh, abs=1e-6)
    outside = (f.index < session.arrival) | (f.index >= session.departure)
    assert f["depot_load_kw"][outside].abs().max() == pytest.approx(0, abs=1e-9)
    assert f["depot_load_kw"].max() <= 100 + 1e-9


def test_demand_charge_caps_peak_at_incumbent_month_peak():
    """Load 100 kW with a 150 kW peak 17–19 h; month-to-date peak 120 kW; 36 CNY/kW·month, share 1.

    The battery shaves the peak exactly to the incumbent 120 kW (below it there is nothing to save),
    so the plan adds no demand charge.
    """
    idx = day_index()
    load = window(idx, 17, 19, 150.0, 100.0)
    inp = inputs(idx, 0.5, loads=[FixedLoad(id="factory", p_kw=load)],
                 batteries=[Battery(id="bat", e_capacity_kwh=200, p_charge_max_kw=50, p_discharge_max_kw=50,
                                    soc_initial_pct=50)])
    inp.tariff.demand_charge_cny_per_kw_month = 36
    inp.tariff.month_peak_kw = 120
    result = solve_dispatch(inp)
    f = result.schedule.frame
    assert f["grid_import_kw"].max() == pytest.approx(120, abs=1e-6)
    assert result.kpis["month_peak_after_kw"] == pytest.approx(120, abs=0.05)
    assert result.kpis["cost_breakdown_cny"]["demand_charge"] == pytest.approx(0, abs=0.01)
    peak = (hours(idx) >= 17) & (hours(idx) < 19)
    np.testing.assert_allclose(f["bat_discharge_kw"][peak], 30, atol=1e-6)
    # without the demand charge the same battery would not bother shaving at a flat price
    inp.tariff.demand_charge_cny_per_kw_month = 0
    assert solve_dispatch(inp).schedule.frame["grid_import_kw"].max() == pytest.approx(150, abs=1e-6)


def green_inputs(min_ratio: float):
    """PV 200 kW 10–14 h, load 100 kW, zero export, 400 kWh battery (η 0.9/0.9) starting empty.

    Most green: 400 kWh PV direct + 400 kWh PV stored (324 kWh back): green 800 kWh of consumption
    2400 + 76 kWh losses → 800 / 2476 = 32.31 %.
    """
    idx = day_index()
    bat = Battery(id="bat", e_capacity_kwh=400, p_charge_max_kw=100, p_discharge_max_kw=100, eta_charge=0.9,
                  eta_discharge=0.9, soc_min_pct=0, soc_max_pct=100, soc_initial_pct=0,
                  throughput_cost_cny_per_kwh=0.0, end_rule=EndRule.INITIAL)
    inp = inputs(idx, window(idx, 0, 8, 0.3, 0.8), pv=[PVPlant(id="pv", p_avail_kw=window(idx, 10, 14, 200.0))],
                 loads=[FixedLoad(id="factory", p_kw=np.full(96, 100.0))], batteries=[bat])
    inp.green = GreenTarget(min_ratio=min_ratio)
    return inp


def test_min_green_ratio_reachable():
    result = solve_dispatch(green_inputs(0.30))
    assert result.status == SolveStatus.OPTIMAL
    assert result.kpis["green_power_ratio"] >= 0.30 - 1e-6


def test_min_green_ratio_unreachable_gives_clear_error():
    result = solve_dispatch(green_inputs(0.40))
    assert result.status == SolveStatus.INFEASIBLE
    assert result.fallback
    assert [c.family for c in result.conflicts] == ["green"]
    assert "minimum green-power ratio 40.0 % is not reachable: at most 32.3 %" in result.message
