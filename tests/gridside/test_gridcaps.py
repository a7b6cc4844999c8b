"""Grid caps: the cap in force, refusals with their cause (audited), expiry, plan rows."""

from __future__ import annotations

import math
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pandas as pd
import pytest

from microgrid.control.gridcaps import CommandRefused, DREvent, GridCaps

TZ = ZoneInfo("Asia/Shanghai")
NOW = datetime(2026, 7, 15, 9, 0, tzinfo=TZ)


def caps(site, baseline=None):
    seen = []
    c = GridCaps(site, lambda *a, **k: seen.append((a, k)), baseline=baseline)
    return c, seen


def test_cap_in_force_is_the_lowest_and_expires(small_site):
    c, seen = caps(small_site)
    site_cap = small_site.grid.import_cap_kw
    assert c.import_cap_kw(NOW) == site_cap
    c.set_limit(500, NOW, source="iec104", user="scada")
    c.add_event(DREvent("e1", NOW + timedelta(minutes=30), NOW + timedelta(minutes=90), max_import_kw=300), NOW)
    assert c.import_cap_kw(NOW) == 500
    assert c.import_cap_kw(NOW + timedelta(minutes=45)) == 300
    assert c.import_cap_kw(NOW + timedelta(minutes=61)) == 300  # limit expired (hold 60 min), event still on
    c.expire(NOW + timedelta(minutes=61))
    assert c.limit is None
    assert c.import_cap_kw(NOW + timedelta(minutes=95)) == site_cap
    assert [a[0] for a, _k in seen].count("grid_command") == 2  # the command and its expiry


@pytest.mark.parametrize(("value", "cause"), [(5000, "outside"), (-1, "outside"), (math.nan, "finite")])
def test_bad_limits_are_refused_with_cause_and_audited(small_site, value, cause):
    c, seen = caps(small_site)
    with pytest.raises(CommandRefused, match=cause):
        c.set_limit(value, NOW, source="modbus", user="x")
    assert c.limit is None and c.version == 0
    (args, data), = seen
    assert args[0] == "grid_command" and data["accepted"] is False and cause in data["cause"]


@pytest.mark.parametrize(("event", "cause"), [
    (DREvent("a", NOW, NOW + timedelta(minutes=5), max_import_kw=300), "lasts 5 min"),
    (DREvent("b", NOW - timedelta(hours=2), NOW - timedelta(hours=1), max_import_kw=300), "past"),
    (DREvent("c", NOW, NOW + timedelta(hours=1)), "exactly one"),
    (DREvent("d", NOW, NOW + timedelta(hours=1), reduction_kw=100), "no baseline"),
    (DREvent("e", NOW, NOW + timedelta(hours=1), max_import_kw=9000), "outside"),
])
def test_bad_events_are_refused(small_site, event, cause):
    c, _ = caps(small_site)
    with pytest.raises(CommandRefused, match=cause):
        c.add_event(event, NOW)
    assert not c.events


def test_reduction_event_caps_at_baseline_minus_reduction_and_plan_rows(small_site):
    c, _ = caps(small_site, baseline=lambda a, b: 420.0)
    e = c.add_event(DREvent("r", NOW + timedelta(minutes=20), NOW + timedelta(minutes=50), reduction_kw=100), NOW)
    assert e.cap_kw == 320.0 and e.baseline_kw == 420.0
    index = pd.date_range(NOW, periods=8, freq="15min")
    rows = c.plan_rows(index)
    assert [r.step for r in rows] == [1, 2, 3]  # 09:15–09:30 overlaps from 09:20, 09:45–10:00 until 09:50
    assert all(r.upper == 320.0 and r.coeffs_kw == {"grid": 1.0} for r in rows)
    assert c.end_event("r", NOW + timedelta(minutes=30), source="api") is not None
    assert c.import_cap_kw(NOW + timedelta(minutes=35)) == small_site.grid.import_cap_kw


def test_state_round_trip(small_site):
    c, _ = caps(small_site)
    c.set_limit(450, NOW, source="api")
    c.add_event(DREvent("s", NOW, NOW + timedelta(hours=1), max_import_kw=350, source="schedule"), NOW)
    d, _ = caps(small_site)
    d.restore(c.state(), NOW + timedelta(minutes=10))
    assert d.import_cap_kw(NOW + timedelta(minutes=10)) == 350
    assert d.limit_kw(NOW + timedelta(minutes=10)) == 450
