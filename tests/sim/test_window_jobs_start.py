"""A simulation that starts inside an EV or deferrable window owes what the plan assumes (issue 12)."""

from __future__ import annotations

import pandas as pd
import pytest

from microgrid.planning.ev import depot_sessions
from microgrid.site import load_site
from sim.assets import FlexRuntime
from tests.paths import REFERENCE_PARK


def test_ev_session_under_way_at_midnight_owes_what_the_plan_assumes():
    site = load_site(REFERENCE_PARK)
    depot = site.assets.ev_depots[0]  # 20 x 60 kW, 2,400 kWh, 18:00 -> 07:00
    run = FlexRuntime.from_spec(depot)
    run.start(0.0)  # 00:00: seven hours left
    index = pd.date_range("2026-07-15", periods=96, freq="15min", tz=site.timezone)
    first = depot_sessions(depot, index, 0.25)[0]
    owed_by_plan = first.energy_kwh - first.delivered_kwh
    assert run.job.remaining_kwh == pytest.approx(owed_by_plan)
    assert run.job.remaining_kwh == pytest.approx(min(2400.0, 0.95 * 1200.0 * 7))  # the site file's 2,400 kWh
    # a session that arrives in the simulation brings exactly the site file's energy
    fresh = FlexRuntime.from_spec(depot)
    fresh.step(18 * 3600.0, 0.0, 0.0)
    assert fresh.job.active and fresh.job.remaining_kwh == pytest.approx(depot.energy_kwh)


def test_deferrable_batch_under_way_owes_its_pro_rata_share():
    site = load_site(REFERENCE_PARK)
    batch = next(f for f in site.assets.flexible_loads if f.kind == "deferrable")  # 540 kWh, 08:00-20:00
    run = FlexRuntime.from_spec(batch)
    run.start(14 * 3600.0)  # half the window elapsed
    assert run.job.remaining_kwh == pytest.approx(540.0 * 6 / 12)
