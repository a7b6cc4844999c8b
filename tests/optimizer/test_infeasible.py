"""Infeasible or failed solves never crash: status, a message naming the conflict, a safe fallback."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from optimizer import (
    Battery,
    BinaryMode,
    EVDepot,
    EVSession,
    FixedLoad,
    HeatPump,
    NetworkLimit,
    SolverOptions,
    SolveStatus,
    solve_dispatch,
)
from optimizer.checks import verify_schedule
from tests.optimizer.helpers import TZ, day_index, inputs, window


def test_declared_demand_below_must_serve_load_names_the_time():
    idx = day_index()
    load = window(idx, 19, 19.25, 150.0, 100.0)
    result = solve_dispatch(inputs(idx, 0.6, import_limit_kw=120, loads=[FixedLoad(id="factory", p_kw=load)]))
    assert result.status == SolveStatus.INFEASIBLE
    assert result.fallback and result.relaxed and not result.ok
    assert result.message.startswith(
        "no feasible plan: import limit (declared demand) 120 kW is below the load that must be served at 19:00: "
        "up to 150 kW needed at 19:00 (30 kW more)")
    assert result.message.endswith("; using the relaxed plan, which breaks only the limits named, by the amounts given")
    assert [(c.family, c.steps) for c in result.conflicts] == [("import_limit", [76])]
    # the relaxed plan serves the load: device limits hold; only the named cap is exceeded, where and by what it says
    assert verify_schedule(result.schedule, result_inputs(result), grid_limits=False) == []
    assert result.schedule.source == "relaxed"
    over = result.schedule.frame["grid_import_kw"].to_numpy() - 120
    assert list(np.flatnonzero(over > 1e-6)) == result.violations[0].steps == [76]
    assert result.violations[0].amount == pytest.approx(over.max()) == pytest.approx(30)
    assert result.kpis["solver"]["violations"][0]["steps"] == [76]


def test_without_elastic_retry_the_rule_based_fallback_names_what_it_cannot_meet():
    idx = day_index()
    load = window(idx, 19, 19.25, 150.0, 100.0)
    inp = inputs(idx, 0.6, import_limit_kw=120, loads=[FixedLoad(id="factory", p_kw=load)])
    result = solve_dispatch(inp, SolverOptions(elastic_retry=False))
    assert result.fallback and not result.relaxed and result.schedule.source == "baseline"
    assert [(c.family, c.steps) for c in result.conflicts] == [("import_limit", [76])]  # the same diagnosis
    assert result.message.endswith("; using the rule-based fallback schedule (it cannot meet: import cap 120 kW "
                                   "exceeded at 19:00 by up to 30.0 kW)")
    (unmet,) = result.violations
    assert (unmet.family, unmet.steps, unmet.amount) == ("import_limit", [76], pytest.approx(30))
    assert verify_schedule(result.schedule, inp, grid_limits=False) == []


def result_inputs(result):
    """The inputs are not kept on the result; rebuild them for the checks."""
    idx = result.schedule.index
    f = result.schedule.frame
    return inputs(idx, f["price_import_cny_per_kwh"].to_numpy(), import_limit_kw=120,
                  loads=[FixedLoad(id="factory", p_kw=f["factory_load_kw"].to_numpy())])


def test_ev_energy_not_deliverable_by_deadline_at_charger_limit():
    idx = day_index("2025-07-15 12:00")
    session = EVSession(id="night", arrival=pd.Timestamp("2025-07-15 18:00", tz=TZ),
                        departure=pd.Timestamp("2025-07-16 07:00", tz=TZ), energy_kwh=1500)
    inp = inputs(idx, 0.5, ev_depots=[EVDepot(id="depot", p_max_kw=100, sessions=[session], eta_charge=1.0)])
    for options, tail in ((None, "using the relaxed plan, which breaks only the limits named, by the amounts given"),
                          (SolverOptions(elastic_retry=False), "using the rule-based fallback schedule (it cannot meet: "
                           "EV depot 'depot' session 'night' gets 1300 of 1500 kWh by 07:00 at the charger limit: "
                           "short by 200 kWh)")):
        result = solve_dispatch(inp, options)
        assert result.status == SolveStatus.INFEASIBLE
        assert result.message == (
            "no feasible plan: EV depot 'depot' session 'night' cannot receive 1500 kWh by its deadline 07:00 at the "
            "charger limit 100 kW: short by 200 kWh; " + tail)
        f = result.schedule.frame
        assert f["depot_load_kw"].max() <= 100 + 1e-9  # both charge at the limit, never above
        assert f["depot_delivered_kwh"].iloc[-1] == pytest.approx(1300)
        assert verify_schedule(result.schedule, inp, grid_limits=False) == [
            "EV depot 'depot': 1300.0 kWh delivered, 1500.0 owed"]
        assert [(c.family, round(c.amount)) for c in result.violations] == [("ev", 200)]


def test_heat_demand_beyond_heat_pump_and_tank():
    idx = day_index()
    hp = HeatPump(id="hp", p_el_max_kw=10, cop=np.full(96, 3.0), heat_demand_kw_th=window(idx, 6, 8, 60.0),
                  tank_capacity_kwh=20, tank_initial_kwh=20, tank_loss_pct_per_h=0)
    result = solve_dispatch(inputs(idx, 0.5, heat_pumps=[hp]))
    assert result.status == SolveStatus.INFEASIBLE
    (conflict,) = result.conflicts
    assert (conflict.family, conflict.subject, conflict.unit) == ("heat", "hp", "kWh_th")
    assert conflict.amount == pytest.approx(40.0, abs=1e-6)  # 60 − 30 kW_th for 2 h, minus 20 kWh in the tank
    # 20 kWh in the tank cover 06:00–06:40 at a 30 kW_th deficit; then the demand goes unmet until 08:00
    assert conflict.message == ("heat pump 'hp' cannot meet the heat demand at 06:30–08:00: 40 kWh_th short "
                                "(heat-pump power and tank too small)")


def test_unmeetable_network_limit_is_named():
    idx = day_index()
    inp = inputs(idx, 0.5, loads=[FixedLoad(id="factory", p_kw=np.full(96, 50.0))],
                 network_limits=[NetworkLimit(name="line L1 loading", step=40, coeffs_kw={"factory": -1.0}, upper=10.0)])
    result = solve_dispatch(inp)
    assert result.status == SolveStatus.INFEASIBLE
    assert "network limit 'line L1 loading' at 10:00 cannot be met: exceeded by 40" in result.message


def test_time_limit_without_a_plan_falls_back_and_reports_the_limit():
    idx = day_index()
    bat = Battery(id="bat", e_capacity_kwh=200, p_charge_max_kw=100, p_discharge_max_kw=100)
    inp = inputs(idx, window(idx, 0, 8, 0.3, 0.9), batteries=[bat], loads=[FixedLoad(id="f", p_kw=np.full(96, 50.0))])
    result = solve_dispatch(inp, SolverOptions(time_limit_s=1e-9, binaries=BinaryMode.ALWAYS))
    assert result.status in (SolveStatus.TIME_LIMIT, SolveStatus.FEASIBLE)
    if result.status == SolveStatus.TIME_LIMIT:
        assert result.fallback
        assert "no feasible plan within the solver time limit of 1e-09 s" in result.message
    assert result.kpis["solver"]["time_limit_s"] == 1e-9
    assert verify_schedule(result.schedule, inp) == []
