"""A curtailable load is never planned above its own rating, even when its baseline forecast is (issue 12)."""

from __future__ import annotations

import numpy as np

from optimizer import CurtailableLoad, FixedLoad, baseline_schedule, solve_dispatch
from optimizer.checks import verify_schedule
from tests.optimizer.helpers import day_index, hours, inputs


def test_planned_power_stays_within_p_max_in_every_interval():
    idx = day_index()
    h = hours(idx)
    price = np.where(h < 8, 0.36, 0.86)
    base = np.where((h >= 8) & (h < 18), 154.7, 40.0)  # the forecast runs above the 150 kW rating
    inp = inputs(idx, price, import_limit_kw=1000,
                 loads=[FixedLoad(id="office", p_kw=np.full(96, 100.0))],
                 curtailable=[CurtailableLoad(id="hvac", baseline_kw=base, max_curtail_pct=30,
                                              penalty_cny_per_kwh=5.0, p_max_kw=150.0)])
    for schedule in (solve_dispatch(inp).schedule, baseline_schedule(inp)):
        load = schedule.frame["hvac_load_kw"].to_numpy()
        assert load.max() <= 150.0 + 1e-6
        assert load[(h >= 8) & (h < 18)].min() >= 150.0 * 0.7 - 1e-6  # shed within its own limit
        assert verify_schedule(schedule, inp) == []
