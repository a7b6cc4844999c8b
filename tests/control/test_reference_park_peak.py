"""Reference park, July weekday, closed loop (issue 12 acceptance): the peak the plan paid for is held and
the energy cost follows the plan — judged on the simulator's TRUE flows.

The run covers 15:00–19:00 (peak and critical-peak hours, where the park's peak is set) from the plan made at
start, at a 10-s cycle (the SunSpec battery's 30-s heartbeat allows no slower cycle), with the simulator's
default forecast error. Realised monthly peak (highest 15-min mean of the true import; the month starts
with this run) ≤ the plan's peak + 2 %; realised cost (true import at the plan's prices) within 3 % of the
plan's over the same cycles; every hard limit held (``tests/control/limitloop.judge``).
"""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from microgrid.site import load_site
from tests.control.aio import async_test
from tests.control.limitloop import judge, run_day
from tests.paths import REFERENCE_PARK

START = datetime(2025, 7, 16, 15, 0, tzinfo=ZoneInfo("Asia/Shanghai"))  # a July Wednesday


@pytest.mark.slow
@async_test
async def test_reference_park_holds_the_planned_peak_and_cost():
    site = load_site(REFERENCE_PARK)
    day = await run_day(site, START, cycle_s=10.0, hours=4.0, intraday_every_min=60)
    assert judge(day) == []
    realised, planned = day.realised_peak_kw(), day.first_plan_peak_kw()
    assert realised <= planned * 1.02, f"realised peak {realised:.0f} kW vs planned {planned:.0f} kW"
    cost, plan_cost = day.cost_cny()
    assert abs(cost / plan_cost - 1) <= 0.03, f"realised cost {cost:.0f} CNY vs planned {plan_cost:.0f} CNY"
