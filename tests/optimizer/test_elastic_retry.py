"""Elastic retry: an infeasible day-ahead or intraday solve gives the relaxed plan, which breaks only the named
limits, in the named intervals, by the named amounts, before the rule-based fallback is used (issue 12)."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from optimizer import Battery, FixedLoad, IntradayPlanner, MeasuredState, PVPlant, SolveStatus, solve_dispatch
from optimizer.checks import verify_schedule
from tests.optimizer.helpers import day_index, hours, inputs
from tests.optimizer.test_intraday import horizon


def _surge(inp, start_h: float, end_h: float, kw: float):
    """``inp`` with the factory forecast raised to ``kw`` between two local hours."""
    h = hours(inp.index)
    load = np.where((h >= start_h) & (h < end_h), kw, np.asarray(inp.loads[0].p_kw))
    return dataclasses.replace(inp, loads=[FixedLoad(id="factory", p_kw=load)])


def test_infeasible_intraday_replan_is_relaxed_with_named_slack_and_the_planner_recovers():
    planner = IntradayPlanner(horizon("2025-07-15 00:00"), ev_slots={"ev": 2})
    assert planner.solve().ok
    state = MeasuredState(soc_pct={"bat": 60.0}, tank_kwh={"hp": 150.0}, month_peak_kw=550.0)
    # 17:00–19:00 the forecast jumps to 900 kW against a 600 kW cap; the battery gives at most 200 kW
    surge = _surge(horizon("2025-07-15 13:00"), 17, 19, 900.0)
    result = planner.replan(surge, state)
    assert result.status == SolveStatus.INFEASIBLE and result.relaxed and result.fallback and not result.ok
    assert result.schedule.source == "relaxed"
    (broken,) = result.violations
    assert broken.family == "import_limit" and broken.subject == "grid"
    f = result.schedule.frame
    over = f["grid_import_kw"].to_numpy() - 600
    assert np.flatnonzero(over > 1e-3).tolist() == broken.steps  # exactly the intervals it names
    assert broken.amount == pytest.approx(over.max(), abs=1e-6)
    # the least energy over the cap: the battery enters the surge full (95 %) and leaves it empty (10 %)
    e = f["bat_e_kwh"].to_numpy()
    assert e[broken.steps[0] - 1] == pytest.approx(380, abs=1e-3) and e[broken.steps[-1]] == pytest.approx(40, abs=1e-3)
    assert f["hp_p_el_kw"].to_numpy()[broken.steps].max() <= 1e-6  # the heat pump runs on its tank meanwhile
    assert all(f.index[s].hour in (17, 18) for s in broken.steps)
    assert "17:00–19:00" in broken.message and result.message.startswith("no feasible plan: import limit")
    # every device limit holds in the relaxed plan (SoC, tank, chargers); only the named cap is broken
    assert verify_schedule(result.schedule, surge_with_state(surge, state), grid_limits=False) == []
    # the persistent model and solver are intact: the next ordinary re-plan is optimal again
    assert planner.replan(horizon("2025-07-15 13:15"), state).ok


def surge_with_state(inp, state):
    from optimizer import apply_state

    return apply_state(inp, state)


def test_relaxed_plan_never_charges_and_discharges_a_battery_at_once():
    """Must-take PV beyond zero export: the LP would burn the surplus through the battery; the relaxed plan
    is re-solved with binaries and names the export it cannot avoid instead."""
    idx = day_index()
    h = hours(idx)
    pv = np.where((h >= 10) & (h < 14), 600.0, 0.0)
    bat = Battery(id="bat", e_capacity_kwh=200, p_charge_max_kw=100, p_discharge_max_kw=100, soc_initial_pct=50)
    inp = inputs(idx, 0.6, pv=[PVPlant(id="pv", p_avail_kw=pv, curtailable=False)],
                 loads=[FixedLoad(id="factory", p_kw=np.full(96, 200.0))], batteries=[bat])
    result = solve_dispatch(inp)
    assert result.relaxed
    f = result.schedule.frame
    assert np.minimum(f["bat_charge_kw"], f["bat_discharge_kw"]).max() <= 1e-6
    named = {c.family for c in result.violations}
    assert named == {"export_limit"}
    exp = f["grid_export_kw"].to_numpy()
    (broken,) = result.violations
    assert np.flatnonzero(exp > 1e-3).tolist() == broken.steps and broken.amount == pytest.approx(exp.max(), abs=1e-6)
