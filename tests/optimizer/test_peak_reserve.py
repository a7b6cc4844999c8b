"""Intraday energy reserve: a re-plan at 13:00 keeps the storage energy the day's remaining demand peaks need
above the plan's peak, so the real-time loop can hold that peak when the load comes in high (issue 12)."""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
import pytest

from optimizer import Battery, FixedLoad, IntradayPlanner, PeakReserve, PVPlant, Tariff, solve_dispatch
from optimizer.checks import verify_schedule
from tests.optimizer.helpers import TZ, hours, inputs

MARGIN_PCT = 10.0


def replan_at_13(reserve: bool):
    """24 h from 13:00: two demand peaks (15–16 h and 18–19 h at 600 kW over a 400 kW base), a month-to-date
    peak of 450 kW, expensive energy before the first peak and cheap energy between them, so that without a
    reserve the plan refills the battery between the peaks instead of holding the energy from the start."""
    idx = pd.date_range("2025-07-15 13:00", periods=96, freq="15min", tz=TZ)
    h = hours(idx)
    load = np.where(((h >= 15) & (h < 16)) | ((h >= 18) & (h < 19)), 600.0, 400.0)
    price = np.where((h >= 13) & (h < 15), 0.96, np.where((h >= 16) & (h < 18), 0.62, np.where(h < 8, 0.36, 0.86)))
    pv = np.clip(120 * np.sin(np.pi * (h - 6) / 12), 0, None)
    inp = inputs(idx, price, import_limit_kw=1000, loads=[FixedLoad(id="factory", p_kw=load)],
                 pv=[PVPlant(id="pv", p_avail_kw=pv)],
                 batteries=[Battery(id="bat", e_capacity_kwh=500, p_charge_max_kw=250, p_discharge_max_kw=250,
                                    soc_initial_pct=30)])
    inp.tariff = Tariff(import_price_cny_per_kwh=price, demand_charge_cny_per_kw_month=36, month_peak_kw=450)
    if reserve:
        inp.peak_reserve = PeakReserve(until=pd.Timestamp("2025-07-16 00:00", tz=TZ), load_margin_pct=MARGIN_PCT)
    return inp


def shortfall_kwh(inp, schedule) -> float:
    """Largest gap, from the interval before the first peak until midnight, between the energy the battery
    holds (AC, above its minimum) and what the later peaks of the day need above the plan's peak with the
    load margin, kWh. Recomputed here from the forecasts and the plan's powers, not from the model's rows."""
    f = schedule.frame
    dt = inp.step_h
    b = inp.batteries[0]
    e = b.soc_initial_pct / 100 * b.e_capacity_kwh + np.cumsum(
        dt * (b.eta_charge * f["bat_charge_kw"].to_numpy() - f["bat_discharge_kw"].to_numpy() / b.eta_discharge))
    held = b.eta_discharge * (e - b.soc_min_pct / 100 * b.e_capacity_kwh)
    target = max(inp.tariff.month_peak_kw, f["grid_import_kw"].max())
    today = (inp.index < pd.Timestamp("2025-07-16 00:00", tz=TZ))
    need = np.where(today, np.clip((1 + MARGIN_PCT / 100) * np.asarray(inp.loads[0].p_kw) - np.asarray(inp.pv[0].p_avail_kw)
                                   - target, 0, None) * dt, 0.0)
    later = np.concatenate([np.cumsum(need[::-1])[::-1][1:], [0.0]])  # need after each interval
    from_first_peak = np.arange(inp.n_steps) >= int(np.flatnonzero(need > 0)[0]) - 1  # it may charge before
    return float((later - held)[today & from_first_peak].max())


def test_replan_at_13_keeps_the_energy_the_remaining_peaks_need():
    plain = solve_dispatch(replan_at_13(reserve=False))
    kept = solve_dispatch(replan_at_13(reserve=True))
    assert plain.ok and kept.ok
    # without the reserve the plan counts on refilling between the peaks: the margin is not there at 15:00
    assert shortfall_kwh(replan_at_13(False), plain.schedule) > 20
    # with it, at every interval of the day the battery holds what the later peaks need above the plan's peak
    assert shortfall_kwh(replan_at_13(True), kept.schedule) <= 1e-4
    assert verify_schedule(kept.schedule, replan_at_13(True)) == []
    # the plan still holds its peak; keeping the reserve costs more energy (bought before the first peak)
    assert kept.kpis["peak_import_kw"] <= plain.kpis["peak_import_kw"] + 1e-6
    assert kept.solve.objective >= plain.solve.objective - 1e-6


def test_reserve_rows_follow_the_rolling_horizon_in_the_persistent_model():
    first = replan_at_13(reserve=True)
    planner = IntradayPlanner(first)
    assert planner.solve().solve.objective == pytest.approx(solve_dispatch(first).solve.objective, rel=1e-7)
    later = replan_at_13(reserve=True)
    later.index = later.index + pd.Timedelta(hours=2)  # 15:00: the first peak is under way
    later.peak_reserve = dataclasses.replace(later.peak_reserve)
    result = planner.replan(later)
    assert result.ok
    assert result.solve.objective == pytest.approx(solve_dispatch(later).solve.objective, rel=1e-7, abs=1e-6)
