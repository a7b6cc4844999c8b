"""The reference park: the plan balances in every interval, respects every limit and beats the rules."""

from __future__ import annotations

from datetime import date

import pandas as pd
import pytest

from microgrid.planning import build_dispatch_inputs, horizon_for_day, plan_day, rolling_horizon
from optimizer import IntradayPlanner, MeasuredState, apply_state, baseline_schedule, solve_dispatch
from optimizer.checks import verify_schedule

DAYS = [date(2025, 7, 15), date(2025, 1, 15), date(2025, 7, 19)]  # summer weekday, winter weekday, weekend


@pytest.mark.parametrize("day", DAYS, ids=lambda d: d.isoformat())
def test_plan_balances_respects_limits_and_beats_the_baseline(reference_site, day):
    plan = plan_day(reference_site, day)
    result, inputs = plan.result, plan.inputs
    assert result.ok and result.formulation == "LP"
    schedule = result.schedule
    assert schedule.balance_error_kw().abs().max() < 1e-6  # energy balance in every interval
    assert verify_schedule(schedule, inputs) == []  # device, import/export and transformer limits
    assert verify_schedule(baseline_schedule(inputs), inputs) == []  # the fallback is safe too
    k = plan.kpis()
    assert k["cost_total_cny"] < k["baseline_cost_total_cny"]
    assert k["savings_vs_baseline_cny"] > 0.05 * k["baseline_cost_total_cny"]
    assert k["ev_delivered_kwh"] >= 2400 - 0.1  # the morning session finishes by 07:00
    f = schedule.frame
    assert f["ev_logistics_load_kw"][f.index.hour < 7].sum() * 0.25 * 0.95 == pytest.approx(2400, abs=0.1)
    assert k["pv_curtailed_kwh"] == pytest.approx(0, abs=0.1)  # PV never exceeds the park's load here
    assert k["peak_import_kw"] <= 6000 + 1e-6


def test_intraday_replan_from_measured_state_on_the_reference_park(reference_site):
    day_inputs = build_dispatch_inputs(reference_site, horizon_for_day(reference_site, DAYS[0]))
    planner = IntradayPlanner(day_inputs)
    assert planner.solve().ok
    start = pd.Timestamp("2025-07-15 14:00", tz="Asia/Shanghai")
    rolled = build_dispatch_inputs(reference_site, rolling_horizon(reference_site, start))
    state = MeasuredState(soc_pct={"ess_shared": 80.0, "bat_electronics": 60.0}, tank_kwh={"hp_food": 500.0},
                          deferrable_delivered_kwh={"aeration_food": 300.0}, month_peak_kw=4500.0)
    result = planner.replan(rolled, state)
    assert result.ok
    assert verify_schedule(result.schedule, planner.inputs) == []
    assert result.solve.objective == pytest.approx(solve_dispatch(apply_state(rolled, state)).solve.objective, rel=1e-7)
    f = result.schedule.frame
    # 240 kWh of aeration left in its window (ends 20:00)
    assert f["aeration_food_load_kw"].sum() * 0.25 == pytest.approx(240, abs=1e-4)
    assert result.kpis["month_peak_before_kw"] == 4500.0


def test_site_intraday_planner_rolls_across_midnight(reference_site):
    from microgrid.planning import SiteIntradayPlanner

    tz = "Asia/Shanghai"
    planner = SiteIntradayPlanner(reference_site, pd.Timestamp("2025-07-15 12:00", tz=tz))
    assert planner.solve().ok
    for start in ("2025-07-15 12:15", "2025-07-15 19:00", "2025-07-16 02:00"):
        result = planner.replan(pd.Timestamp(start, tz=tz), MeasuredState(month_peak_kw=4000.0))
        assert result.ok, result.message
        assert result.schedule.index[0] == pd.Timestamp(start, tz=tz)
        assert verify_schedule(result.schedule, planner.planner.inputs) == []
        # the reserve for the day's remaining demand peaks moves with the horizon: until the next local midnight
        reserve = planner.planner.inputs.peak_reserve
        assert reserve.until == (pd.Timestamp(start, tz=tz).normalize() + pd.Timedelta(days=1))
        assert reserve.load_margin_pct == 5.0 and planner.planner.model.structure.peak_reserve
