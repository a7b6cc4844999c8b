"""Rule-based baseline (the controller's fallback), KPIs and input validation."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from optimizer import (
    Battery,
    CurtailableLoad,
    DeferrableLoad,
    FixedLoad,
    GreenTarget,
    HeatPump,
    InputError,
    PVPlant,
    ShiftableLoad,
    baseline_schedule,
    compute_kpis,
    solve_dispatch,
)
from optimizer.checks import verify_schedule
from tests.optimizer.helpers import TZ, day_index, hours, inputs, window


def mixed_case():
    idx = day_index()
    h = hours(idx)
    price = np.where(h < 8, 0.36, np.where(((h >= 10) & (h < 12)) | ((h >= 15) & (h < 20)), 0.86, 0.62))
    return inputs(
        idx, price, import_limit_kw=500,
        pv=[PVPlant(id="pv", p_avail_kw=np.clip(400 * np.sin(np.pi * (h - 6) / 12), 0, None))],
        loads=[FixedLoad(id="factory", p_kw=150 + 150 * ((h >= 8) & (h < 20)))],
        batteries=[Battery(id="bat", e_capacity_kwh=300, p_charge_max_kw=150, p_discharge_max_kw=150)],
        heat_pumps=[HeatPump(id="hp", p_el_max_kw=40, cop=np.full(96, 3.5), heat_demand_kw_th=np.full(96, 80.0),
                             tank_capacity_kwh=300, tank_initial_kwh=150)],
        deferrable=[DeferrableLoad(id="batch", energy_kwh=200, p_max_kw=50,
                                   window_start=pd.Timestamp("2025-07-15 08:00", tz=TZ),
                                   window_end=pd.Timestamp("2025-07-15 20:00", tz=TZ))],
        shiftable=[ShiftableLoad(id="air", baseline_kw=window(idx, 6, 22, 40.0), max_shift_h=1, p_max_kw=60)],
        curtailable=[CurtailableLoad(id="hvac", baseline_kw=window(idx, 8, 18, 60.0), max_curtail_pct=30,
                                     penalty_cny_per_kwh=1.2)],
    )


def test_baseline_respects_every_limit_and_has_the_optimizer_columns():
    inp = mixed_case()
    base = baseline_schedule(inp)
    opt = solve_dispatch(inp)
    assert verify_schedule(base, inp) == []
    assert verify_schedule(opt.schedule, inp) == []
    assert list(base.frame.columns) == list(opt.schedule.frame.columns)
    assert base.source == "baseline" and opt.schedule.source == "optimizer"
    f = base.frame
    h = hours(f.index)
    assert f["bat_charge_kw"][h < 8].sum() > 0 and f["bat_discharge_kw"][h < 8].sum() == 0  # valley charging
    assert f["batch_load_kw"].sum() * 0.25 == pytest.approx(200)  # as soon as possible, all of it
    assert f["batch_load_kw"].iloc[32] == 50  # 08:00
    # the optimizer beats the rules on the same cost definition
    assert opt.kpis["cost_total_cny"] < compute_kpis(base, inp)["cost_total_cny"] - 1


def test_baseline_curtails_only_what_zero_export_forces():
    idx = day_index()
    avail = window(idx, 10, 14, 300.0)
    inp = inputs(idx, 0.6, pv=[PVPlant(id="pv", p_avail_kw=avail)], loads=[FixedLoad(id="f", p_kw=np.full(96, 100.0))])
    f = baseline_schedule(inp).frame
    np.testing.assert_allclose(f["pv_curtailed_kw"], np.maximum(avail - 100, 0))
    assert f["grid_export_kw"].max() == 0


def test_kpis_match_the_objective_and_definitions():
    inp = mixed_case()
    inp.green = GreenTarget(min_ratio=None, onsite_certificate_share=0.5, green_purchased_kwh=100)
    inp.carbon.carbon_price_cny_per_t = 80
    result = solve_dispatch(inp)
    k = result.kpis
    assert k["cost_total_cny"] == pytest.approx(result.solve.objective, abs=0.05)
    assert k["consumption_kwh"] == pytest.approx(k["import_kwh"] + k["pv_generation_kwh"] - k["export_kwh"], abs=0.2)
    assert k["green_energy_kwh"] == pytest.approx(0.5 * k["pv_self_consumed_kwh"] + 100, abs=0.2)
    assert k["green_power_ratio"] == pytest.approx(k["green_energy_kwh"] / k["consumption_kwh"], abs=1e-3)
    assert k["co2_kg"] == pytest.approx(k["import_kwh"] * 0.4211, abs=0.2)
    assert k["cost_breakdown_cny"]["carbon"] == pytest.approx(k["co2_kg"] * 80 / 1000, abs=0.02)
    assert k["emission_factor_source"].startswith("Fujian 2023")
    assert k["solver"]["status"] == "optimal" and k["solver"]["formulation"] == "LP"
    assert k["max_balance_error_kw"] == pytest.approx(0, abs=1e-6)


def test_invalid_inputs_list_every_problem():
    idx = day_index()
    inp = inputs(idx, 0.5, pv=[PVPlant(id="pv", p_avail_kw=np.full(96, -1.0))],
                 batteries=[Battery(id="pv", e_capacity_kwh=100, p_charge_max_kw=50, p_discharge_max_kw=50, eta_charge=1.5)])
    inp.tariff.import_price_cny_per_kwh = np.full(95, 0.5)
    with pytest.raises(InputError) as err:
        solve_dispatch(inp)
    assert err.value.problems == [
        "tariff.import_price_cny_per_kwh: expected 96 values (one per interval), got shape (95,)",
        "assets: duplicate ids ['pv']",
        "pv[0] ('pv').p_avail_kw: -1 at interval 0 is below 0",
        "batteries[0] ('pv').eta_charge: 1.5 must lie between 0.001 and 1",
    ]
