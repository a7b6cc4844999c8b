"""Device physics: battery SoC and energy conservation, tank energy balance, PV clipping, loads."""

from __future__ import annotations

import math

import pytest

from sim.physics.battery import (
    BatteryParams,
    BatteryState,
    conversion_losses_kwh,
    ramp_limited,
    step_battery,
    stored_energy_kwh,
)
from sim.physics.loads import (
    ShiftableParams,
    ShiftableState,
    WindowJobParams,
    WindowJobState,
    close_window,
    curtailable_power_kw,
    open_window,
    shiftable_power_kw,
    step_window_job,
    window_job_power_kw,
)
from sim.physics.pv import ac_power_kw, cell_temperature_c, dc_power_kw
from sim.physics.thermal import TankParams, TankState, cop_carnot, step_tank, tank_loss_kw, thermostat_on

PARAMS = BatteryParams(
    e_kwh=1000.0, p_charge_max_kw=500.0, p_discharge_max_kw=500.0, eta_charge=0.95, eta_discharge=0.95
)


def test_soc_integration_matches_hand_calculation():
    # 1 h charging at 400 kW: stored += 400 * 0.95 = 380 kWh -> +38 %; then 30 min discharging at 300 kW:
    # stored -= 300 * 0.5 / 0.95 = 157.894736... kWh -> -15.7894736... %
    state = BatteryState(soc_pct=20.0)
    for _ in range(3600):
        state = step_battery(PARAMS, state, -400.0, 1.0)
    assert state.soc_pct == pytest.approx(58.0, abs=1e-9)
    assert state.e_charged_kwh == pytest.approx(400.0)
    for _ in range(1800):
        state = step_battery(PARAMS, state, 300.0, 1.0)
    assert state.soc_pct == pytest.approx(58.0 - 150.0 / 0.95 / 10.0, abs=1e-9)
    assert state.e_discharged_kwh == pytest.approx(150.0)
    assert state.p_kw == 300.0


def test_battery_energy_is_conserved_over_a_day():
    state = BatteryState(soc_pct=50.0)
    start = stored_energy_kwh(PARAMS, state)
    # a day of 1-min steps with a setpoint that charges, discharges and hits the limits
    for minute in range(1440):
        p = 600.0 * math.sin(2 * math.pi * minute / 480.0)
        state = step_battery(PARAMS, state, p, 60.0, soc_floor_pct=10.0, soc_ceiling_pct=95.0)
        assert 10.0 - 1e-9 <= state.soc_pct <= 95.0 + 1e-9
    delta = stored_energy_kwh(PARAMS, state) - start
    assert delta == pytest.approx(0.95 * state.e_charged_kwh - state.e_discharged_kwh / 0.95, abs=1e-6)
    ac_net = state.e_charged_kwh - state.e_discharged_kwh
    assert ac_net == pytest.approx(delta + conversion_losses_kwh(PARAMS, state), abs=1e-6)
    assert state.e_charged_kwh > 1000 and state.e_discharged_kwh > 1000  # really cycled


def test_battery_limits_permissions_and_ramp():
    state = BatteryState(soc_pct=50.0)
    assert step_battery(PARAMS, state, -900.0, 1.0).p_kw == -500.0  # rating
    assert step_battery(PARAMS, state, -300.0, 1.0, p_charge_limit_kw=100.0).p_kw == -100.0
    assert step_battery(PARAMS, state, -300.0, 1.0, charge_allowed=False).p_kw == 0.0
    assert step_battery(PARAMS, state, 300.0, 1.0, discharge_allowed=False).p_kw == 0.0
    ramped = BatteryParams(**{**PARAMS.__dict__, "ramp_kw_per_s": 50.0})
    assert step_battery(ramped, state, 400.0, 2.0).p_kw == 100.0
    assert ramp_limited(100.0, -400.0, 50.0, 1.0) == 50.0
    # at the SoC ceiling charging stops exactly at the ceiling
    near_full = BatteryState(soc_pct=94.99)
    full = step_battery(PARAMS, near_full, -500.0, 60.0, soc_ceiling_pct=95.0)
    assert full.soc_pct == pytest.approx(95.0)
    assert -500.0 < full.p_kw < 0


def test_tank_energy_balance_over_a_day_with_thermostat():
    params = TankParams(volume_m3=20.0, temp_min_c=45.0, temp_max_c=65.0, loss_pct_per_h=0.5)
    cap = params.capacity_kwh_per_k
    assert cap == pytest.approx(23.26)
    state = TankState(temp_c=55.0)
    on = False
    for minute in range(1440):
        demand = 80.0 if 8 * 60 <= minute < 20 * 60 else 20.0
        on = thermostat_on(on, state.temp_c, 63.0, 5.0)
        q_in = 300.0 * 3.0 if on else 0.0
        state = step_tank(params, state, q_in, demand, 60.0)
    balance = state.q_in_kwh - state.q_served_kwh - state.q_loss_kwh
    assert cap * (state.temp_c - 55.0) == pytest.approx(balance, abs=1e-6)
    assert state.q_unmet_kwh == pytest.approx(0.0)
    assert state.q_in_kwh > 0 and state.q_loss_kwh > 0
    assert 45.0 < state.temp_c < 65.0


def test_tank_serves_only_heat_above_minimum_and_loses_per_spec():
    params = TankParams(volume_m3=10.0, temp_min_c=50.0, temp_max_c=70.0, loss_pct_per_h=1.0)
    assert tank_loss_kw(params, 60.0) == pytest.approx(0.01 * 11.63 * 10.0)
    state = step_tank(params, TankState(temp_c=51.0), 0.0, 100.0, 3600.0)
    above = 11.63 * 1.0
    assert state.q_served_kwh == pytest.approx(above - tank_loss_kw(params, 51.0))
    assert state.q_unmet_kwh == pytest.approx(100.0 - state.q_served_kwh)
    assert state.temp_c == pytest.approx(50.0)


def test_cop_carnot_and_clipping():
    assert cop_carnot(65.0, 25.0, 0.45, 2.0, 5.5) == pytest.approx(0.45 * 338.15 / 40.0)
    assert cop_carnot(65.0, 64.0, 0.45, 2.0, 5.5) == 5.5
    assert cop_carnot(75.0, -20.0, 0.45, 1.8, 5.0) == pytest.approx(max(1.8, 0.45 * 348.15 / 95.0))


def test_pv_clipping_limit_and_temperature():
    assert ac_power_kw(900.0, 660.0) == 660.0
    assert ac_power_kw(500.0, 660.0, 200.0) == 200.0
    assert ac_power_kw(500.0, 660.0, -5.0) == 0.0
    t_cell = cell_temperature_c(1000.0, 25.0, 45.0)
    assert t_cell == pytest.approx(56.25)
    p = dc_power_kw(1000.0, 25.0, 100.0, -0.35, 14.0)
    assert p == pytest.approx(86.0)
    assert dc_power_kw(1000.0, 35.0, 100.0, -0.35, 0.0) == pytest.approx(96.5)


def test_flexible_load_rules():
    assert curtailable_power_kw(100.0, None, 30.0) == 100.0
    assert curtailable_power_kw(100.0, 50.0, 30.0) == 70.0  # cannot go below 70 %
    assert curtailable_power_kw(100.0, 90.0, 30.0) == 90.0
    params = ShiftableParams(p_max_kw=250.0, backlog_cap_kwh=100.0)
    assert shiftable_power_kw(params, ShiftableState(), 120.0, 0.0) == 0.0
    assert (
        shiftable_power_kw(params, ShiftableState(backlog_kwh=100.0), 120.0, 0.0) == 120.0
    )  # cannot defer more
    assert shiftable_power_kw(params, ShiftableState(backlog_kwh=25.0), 120.0, None) == 220.0  # pays back


def test_shiftable_limits_that_move_with_the_window():
    params = ShiftableParams(p_max_kw=250.0, payback_h=0.25)
    owed = ShiftableState(backlog_kwh=60.0)
    step = 36.0  # s: 0.01 h
    assert shiftable_power_kw(params, owed, 100.0, 0.0, defer_cap_kwh=80.0, ahead_cap_kwh=80.0, dt_s=step) == 0.0
    # 60 kWh owed, at most 59.5 by the end of the step: 0.5 kWh more than the baseline's 1 kWh → 150 kW
    assert shiftable_power_kw(params, owed, 100.0, 0.0, defer_cap_kwh=59.5, ahead_cap_kwh=80.0,
                              dt_s=step) == pytest.approx(150.0)
    ahead = ShiftableState(backlog_kwh=-30.0)
    assert shiftable_power_kw(params, ahead, 100.0, 250.0, defer_cap_kwh=50.0, ahead_cap_kwh=40.0, dt_s=step) == 250.0
    # 30 kWh ahead, at most 30.2: 0.2 kWh above the baseline's 1 kWh in 0.01 h → 120 kW
    assert shiftable_power_kw(params, ahead, 100.0, 250.0, defer_cap_kwh=50.0, ahead_cap_kwh=30.2,
                              dt_s=step) == pytest.approx(120.0)
    # without a step length the limit is reached within payback_h
    assert shiftable_power_kw(params, owed, 100.0, 0.0, defer_cap_kwh=50.0, ahead_cap_kwh=80.0) == 140.0


def test_window_job_obeys_cap_until_late_then_runs_full():
    params = WindowJobParams(p_max_kw=100.0, energy_kwh=95.0, eta=0.95)
    state = open_window(WindowJobState(), 95.0)
    assert window_job_power_kw(params, state, 4 * 3600, 10.0) == 10.0
    assert window_job_power_kw(params, state, 3600, 10.0) == 100.0  # 100 kWh AC needed in 1 h
    state, p = step_window_job(params, state, 100.0, 1800.0)
    assert p == 100.0 and state.remaining_kwh == pytest.approx(95.0 - 47.5)
    state, p = step_window_job(params, state, 100.0, 3600.0)
    assert state.remaining_kwh == pytest.approx(0.0) and p == pytest.approx(50.0)
    assert state.e_kwh == pytest.approx(100.0)
    closed = close_window(open_window(WindowJobState(), 10.0))
    assert closed.unmet_kwh == 10.0 and not closed.active
