"""A backlog measured at the start of an intraday horizon waits as long as its age allows (``before_kw``).

Hand case: flat 100 kW baseline, shift by up to 1 h (4 intervals), 50 kWh owed at the start = the baseline of
the last two intervals before it. Energy is dear in the first hour, cheap after. Without the history the plan
must catch the backlog up at once; with it the backlog may wait until it is 1 h old: cumulative consumption
by the end of interval t at least B(t−4) + 50 with B(−4) = −75, B(−3) = −50, B(−2) = −25, B(−1) = 0,
so 0 kWh by the end of intervals 0 and 1, 25 by interval 2, 50 by interval 3 (the dear hour), each plus the
plan's margin of ``SHIFT_MARGIN`` × the allowed backlog (here 100 kWh at every interval end).
"""

from __future__ import annotations

import numpy as np
import pytest

from optimizer import ShiftableLoad, solve_dispatch
from optimizer.checks import verify_schedule
from optimizer.model.data import SHIFT_MARGIN
from tests.optimizer.helpers import day_index, inputs

IDX = day_index(start="2025-07-15 14:00", periods=16)
PRICE = np.r_[np.full(4, 1.5), np.full(12, 0.5)]


def _plan(before_kw):
    load = ShiftableLoad(id="air", baseline_kw=np.full(16, 100.0), max_shift_h=1, p_max_kw=200, ahead_kwh=-50.0,
                         before_kw=np.asarray(before_kw, dtype=float))
    inp = inputs(IDX, PRICE, shiftable=[load])
    result = solve_dispatch(inp)
    assert result.ok and verify_schedule(result.schedule, inp) == []
    return result.schedule.frame["air_load_kw"].to_numpy()


def test_backlog_with_its_history_waits_until_it_is_max_shift_h_old():
    p = _plan([100.0] * 4)
    cum = np.cumsum(p) * 0.25
    m = SHIFT_MARGIN * 100.0
    assert cum[:4] == pytest.approx([0.0, m, 25.0 + m, 50.0 + m], abs=1e-6)  # on the envelope while energy is dear
    assert cum[4] >= 75.0 + m - 1e-6
    assert cum[-1] == pytest.approx(16 * 25.0 + 50.0)  # the backlog is paid back within the horizon


def test_backlog_without_history_is_caught_up_at_once():
    p = _plan([])
    assert p[0] == pytest.approx(200.0)  # 50 kWh owed, at most 50 kWh per interval: full power first
    assert np.cumsum(p)[-1] * 0.25 == pytest.approx(16 * 25.0 + 50.0)
