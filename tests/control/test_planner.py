"""Planning service: intraday from measured state, day-ahead, and every failure path giving the fallback."""

from __future__ import annotations

import time
from datetime import date, datetime
from zoneinfo import ZoneInfo

import pytest

from microgrid.control.planner import PlanningService, fit_state
from microgrid.control.state import occurrence_id
from optimizer import MeasuredState
from tests.control.aio import async_test

TZ = ZoneInfo("Asia/Shanghai")
T0 = datetime(2025, 7, 16, 10, 15, tzinfo=TZ)


@async_test
async def test_intraday_uses_measured_state_and_persistent_solver(small_site):
    planner = PlanningService(small_site, inline=True)
    first = await planner.intraday(T0, T0, MeasuredState(soc_pct={"bat_factory": 80.0}, month_peak_kw=350.0))
    assert first.ok and first.record.kind == "intraday"
    assert first.record.schedule.frame["bat_factory_soc_pct"].iloc[0] != 50.0
    assert first.inputs.batteries[0].soc_initial_pct == 80.0
    assert first.inputs.tariff.month_peak_kw == 350.0
    solver = planner._intraday
    second = await planner.intraday(T0.replace(minute=30), T0.replace(minute=30),
                                    MeasuredState(soc_pct={"bat_factory": 70.0}))
    assert second.ok and planner._intraday is solver  # same persistent model and solver, re-solved
    assert second.record.start.isoformat() == "2025-07-16T10:30:00+08:00"


@async_test
async def test_day_ahead_plans_the_next_day(small_site):
    planner = PlanningService(small_site, inline=True)
    out = await planner.day_ahead(date(2025, 7, 17), T0, month_peak_kw=0.0)
    assert out.ok and out.record.kind == "day_ahead"
    assert (out.record.start.isoformat(), len(out.record.schedule.frame)) == ("2025-07-17T00:00:00+08:00", 96)


@async_test
async def test_exception_gives_rule_based_fallback(small_site):
    planner = PlanningService(small_site, inline=True)
    planner.fail_next = "HiGHS crashed"
    out = await planner.intraday(T0, T0, MeasuredState())
    assert not out.ok
    assert out.message == "optimizer failed: RuntimeError: HiGHS crashed"
    assert (out.record.kind, out.record.source) == ("fallback", "baseline")
    assert out.record.schedule.frame.index[0].isoformat() == "2025-07-16T10:15:00+08:00"


@async_test
async def test_timeout_gives_fallback_and_a_busy_solver_is_not_queued(small_site):
    def slow_solve(inputs, options):
        time.sleep(0.5)
        raise AssertionError("never used")

    planner = PlanningService(small_site, timeout_s=0.05, solve_fn=slow_solve)
    out = await planner.day_ahead(date(2025, 7, 17), T0, 0.0)
    assert not out.ok and out.message == "optimizer time-out after 0.05 s"
    assert out.record.kind == "fallback"
    busy = await planner.day_ahead(date(2025, 7, 17), T0, 0.0)  # the first solve still occupies the thread
    assert busy.message == "the previous solve is still running in the planner thread"
    planner.close()


@pytest.mark.parametrize(
    ("now", "expected"),
    [
        (datetime(2025, 7, 16, 19, 0, tzinfo=TZ), "2025-07-16T18:00"),
        (datetime(2025, 7, 17, 6, 59, tzinfo=TZ), "2025-07-16T18:00"),
        (datetime(2025, 7, 17, 7, 0, tzinfo=TZ), None),
        (datetime(2025, 7, 17, 12, 0, tzinfo=TZ), None),
    ],
)
def test_occurrence_id_of_overnight_window(now, expected):
    assert occurrence_id("18:00", "07:00", now) == expected


def test_fit_state_drops_unknown_ids(reference_site):
    planner = PlanningService(reference_site, inline=True)
    inputs = planner.intraday_inputs(datetime(2025, 7, 16, 20, 0, tzinfo=TZ), 0.0)
    state = MeasuredState(soc_pct={"ess_shared": 40.0, "nope": 1.0},
                          ev_delivered_kwh={"ev_logistics": {"2025-07-16T18:00": 300.0, "2025-07-10T18:00": 5.0}})
    fitted = fit_state(state, inputs)
    assert fitted.soc_pct == {"ess_shared": 40.0}
    assert fitted.ev_delivered_kwh == {"ev_logistics": {"2025-07-16T18:00": 300.0}}
