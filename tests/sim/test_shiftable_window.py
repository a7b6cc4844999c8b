"""A shiftable load in the simulator shifts by at most ``max_shift_h``, as the site file and the plan say.

The limits are checked against energies integrated here from the environment's profile values (fine
rectangle sums), not against :meth:`sim.environment.Environment.energy_kwh`, which the park uses.
"""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from sim.assets import FlexRuntime
from sim.environment import Environment
from tests.sim.simtools import TZ


def _integrated_kwh(env: Environment, column: str, t0: datetime, t1: datetime, step_s: float = 5.0) -> float:
    n = int(round((t1 - t0).total_seconds() / step_s))
    return sum(env.value(column, t0 + timedelta(seconds=(i + 0.5) * step_s)) for i in range(n)) * step_s / 3600


def test_profile_energy_across_midnight(reference_site):
    env = Environment(reference_site)
    load = next(f for f in reference_site.assets.flexible_loads if f.id == "cold_store_food")
    t0 = datetime(2026, 7, 15, 22, 40, tzinfo=TZ)
    t1 = datetime(2026, 7, 16, 1, 10, tzinfo=TZ)
    assert env.energy_kwh(load.baseline_profile, t0, t1) == pytest.approx(
        _integrated_kwh(env, load.baseline_profile, t0, t1), rel=1e-4)
    assert env.energy_kwh(load.baseline_profile, t1, t0) == 0.0
    assert env.energy_kwh("no_such_column", t0, t1) == 0.0


def test_held_down_shiftable_owes_at_most_the_last_max_shift_h_of_baseline(reference_site):
    """Commanded to 0 kW all morning, the compressed-air station (``max_shift_h`` 1) owes at most its baseline
    energy of the last hour at any time: what falls out of that hour is consumed although the setpoint
    says 0 (the process cannot wait longer)."""
    env = Environment(reference_site)
    spec = next(f for f in reference_site.assets.flexible_loads if f.id == "air_coatings")
    run = FlexRuntime.from_spec(spec)
    run.remote, run.p_set_kw = True, 0.0
    window = timedelta(hours=spec.max_shift_h)
    t = datetime(2026, 7, 15, 7, 0, tzinfo=TZ)
    dt_s = 10.0
    paid_back = 0.0
    for _ in range(int(4 * 3600 / dt_s)):
        mid, end = t + timedelta(seconds=dt_s / 2), t + timedelta(seconds=dt_s)
        caps = (env.energy_kwh(spec.baseline_profile, end - window, end),
                env.energy_kwh(spec.baseline_profile, end, end + window))
        run.step(0.0, env.value(spec.baseline_profile, mid), dt_s, caps)
        paid_back += run.p_kw * dt_s / 3600
        t += timedelta(seconds=dt_s)
        last_hour = _integrated_kwh(env, spec.baseline_profile, t - window, t)
        assert run.shift.backlog_kwh <= last_hour + 0.01
    assert run.shift.backlog_kwh > 0.5 * _integrated_kwh(env, spec.baseline_profile, t - window, t)
    assert paid_back > 0  # the load ran although commanded to 0
