"""The persistent intraday planner: same optimum as a fresh solve, measured state, network rows, structure."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from optimizer import (
    Battery,
    EVDepot,
    EVSession,
    FixedLoad,
    HeatPump,
    InputError,
    IntradayPlanner,
    MeasuredState,
    NetworkLimit,
    PVPlant,
    SolverOptions,
    StructureError,
    apply_state,
    solve_dispatch,
)
from tests.optimizer.helpers import TZ, hours, inputs


def horizon(start: str, soc: float = 50.0):
    """A 24 h horizon from ``start`` with TOU prices, PV, a battery, a heat pump and an EV depot."""
    idx = pd.date_range(start, periods=96, freq="15min", tz=TZ)
    h = hours(idx)
    price = np.where(h < 8, 0.36, np.where(((h >= 10) & (h < 12)) | ((h >= 15) & (h < 20)), 0.86, 0.62))
    pv = np.clip(300 * np.sin(np.pi * (h - 6) / 12), 0, None)
    day = idx[0].normalize()
    sessions = []
    for d in (day - pd.Timedelta(days=1), day):
        arrival, departure = d + pd.Timedelta(hours=18), d + pd.Timedelta(hours=31)
        if departure > idx[0]:
            # a session under way has delivered at least what the remaining time at full power cannot
            left_h = (departure - max(arrival, idx[0])).total_seconds() / 3600
            sessions.append(EVSession(id=f"{d:%m%d}", arrival=arrival, departure=departure, energy_kwh=300,
                                      delivered_kwh=max(0.0, 300 - 0.95 * 120 * left_h)))
    return inputs(
        idx, price, import_limit_kw=600,
        pv=[PVPlant(id="pv", p_avail_kw=pv)],
        loads=[FixedLoad(id="factory", p_kw=200 + 100 * ((h >= 8) & (h < 20)))],
        batteries=[Battery(id="bat", e_capacity_kwh=400, p_charge_max_kw=200, p_discharge_max_kw=200,
                           soc_initial_pct=soc)],
        heat_pumps=[HeatPump(id="hp", p_el_max_kw=50, cop=np.full(96, 3.0), heat_demand_kw_th=np.full(96, 60.0),
                             tank_capacity_kwh=300, tank_initial_kwh=150)],
        ev_depots=[EVDepot(id="ev", p_max_kw=120, sessions=sessions)],
    )


@pytest.mark.parametrize("interface", ["appsi", "contrib", "direct"])
def test_replan_matches_a_fresh_solve_on_a_rolling_horizon(interface):
    planner = IntradayPlanner(horizon("2025-07-15 00:00"), SolverOptions(interface=interface), ev_slots={"ev": 2})
    first = planner.solve()
    assert first.ok
    assert first.solve.objective == pytest.approx(solve_dispatch(horizon("2025-07-15 00:00")).solve.objective, rel=1e-9)
    for k, start in enumerate(["2025-07-15 00:15", "2025-07-15 06:00", "2025-07-15 18:30"]):
        state = MeasuredState(soc_pct={"bat": 30.0 + 10 * k}, tank_kwh={"hp": 100.0 + k}, month_peak_kw=250.0,
                              ev_delivered_kwh={})
        result = planner.replan(horizon(start), state)
        fresh = solve_dispatch(apply_state(horizon(start), state))
        assert result.ok
        assert result.solve.objective == pytest.approx(fresh.solve.objective, rel=1e-7, abs=1e-6)
        f = result.schedule.frame
        assert f.index[0] == pd.Timestamp(start, tz=TZ)
        # the measured SoC is the starting point of the new plan
        first_e = 400 * (30.0 + 10 * k) / 100 + 0.25 * (0.95 * f["bat_charge_kw"].iloc[0] - f["bat_discharge_kw"].iloc[0] / 0.95)
        assert f["bat_e_kwh"].iloc[0] == pytest.approx(first_e, abs=1e-6)
    assert planner.solves == 4


def test_measured_ev_energy_reduces_what_is_owed():
    start = "2025-07-15 20:00"
    planner = IntradayPlanner(horizon(start))
    before = planner.solve().kpis["ev_delivered_kwh"]
    session_id = horizon(start).ev_depots[0].sessions[-1].id
    after = planner.replan(state=MeasuredState(ev_delivered_kwh={"ev": {session_id: 200.0}})).kpis["ev_delivered_kwh"]
    assert before == pytest.approx(300, abs=0.1)  # the evening session, all of it inside the horizon
    assert after == pytest.approx(100, abs=0.1)


@pytest.mark.parametrize("interface", ["appsi", "direct"])
def test_network_limits_can_be_added_and_replaced_without_rebuild(interface):
    planner = IntradayPlanner(horizon("2025-07-15 00:00"), SolverOptions(interface=interface))
    model = planner.model.m
    base = planner.solve().schedule.frame["grid_import_kw"]
    assert base.iloc[84] > 100  # 21:00, no PV
    planner.set_network_limits([NetworkLimit(name="pcc", step=84, coeffs_kw={"grid": 1.0}, upper=base.iloc[84] - 50)])
    capped = planner.solve()
    assert capped.ok
    assert capped.schedule.frame["grid_import_kw"].iloc[84] == pytest.approx(base.iloc[84] - 50, abs=1e-6)
    planner.set_network_limits([NetworkLimit(name="pcc", step=85, coeffs_kw={"grid": 1.0, "pv": 0.0}, upper=50.0)])
    moved = planner.solve()
    assert moved.ok
    assert moved.schedule.frame["grid_import_kw"].iloc[85] == pytest.approx(50, abs=1e-6)
    assert moved.schedule.frame["grid_import_kw"].iloc[84] > base.iloc[84] - 50 + 1  # the old row is gone
    assert planner.model.m is model  # same Pyomo model throughout


def test_structure_changes_are_refused_with_a_clear_message():
    planner = IntradayPlanner(horizon("2025-07-15 00:00"))
    shorter = horizon("2025-07-15 00:00")
    shorter.index = shorter.index[:48]
    with pytest.raises(InputError):
        planner.update(shorter)
    other = horizon("2025-07-15 00:00")
    other.batteries[0].p_charge_max_kw = 100
    with pytest.raises(StructureError, match="batteries 'bat' ratings"):
        planner.update(other)


def test_unknown_ids_in_the_measured_state_are_rejected():
    with pytest.raises(InputError) as err:
        apply_state(horizon("2025-07-15 00:00"), MeasuredState(soc_pct={"nope": 50.0}, ev_delivered_kwh={"ev": {"x": 1.0}}))
    assert err.value.problems == ["soc_pct: unknown id 'nope' (known: ['bat'])",
                                  "ev_delivered_kwh.ev: unknown session 'x' (known: ['0714', '0715'])"]


def test_rows_made_only_of_forecast_data_stay_live_after_updates():
    """A transformer feeding only a base load has no variable in its row; an update can still overload it."""
    from optimizer import TransformerLimit

    def case(load_kw: float):
        idx = pd.date_range("2025-07-15", periods=96, freq="15min", tz=TZ)
        return inputs(idx, 0.5, loads=[FixedLoad(id="t1", p_kw=np.full(96, load_kw)), FixedLoad(id="t2", p_kw=np.full(96, 10.0))],
                      transformers=[TransformerLimit(id="tx1", s_kva=100, asset_ids=("t1",))])

    planner = IntradayPlanner(case(50.0))
    assert planner.solve().ok
    result = planner.replan(case(150.0))
    assert result.status == "infeasible"
    assert result.message.startswith("no feasible plan: transformer 'tx1' (100 kW at the assumed power factor) is "
                                     "overloaded by the tenant's consumption at 00:00–24:00: up to 50 kW over")
    assert planner.replan(case(60.0)).ok


def test_direct_path_pushes_only_changes_on_the_same_structure():
    planner = IntradayPlanner(horizon("2025-07-15 00:00"), SolverOptions(interface="direct"))
    planner.solve()
    assert planner.solver.last_changes is None  # first solve: whole model passed
    planner.replan(state=MeasuredState(soc_pct={"bat": 70.0}))
    assert 0 < planner.solver.last_changes < 20  # one battery's recovery-free bounds and first SoC row
    planner.set_network_limits([NetworkLimit(name="pcc", step=84, coeffs_kw={"grid": 1.0}, upper=100.0)])
    planner.solve()
    assert planner.solver.last_changes is None  # a new row: passed again
