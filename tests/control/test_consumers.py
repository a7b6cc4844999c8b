"""Consumers in the real-time loop (pure): deadline floors, the tank guard's holding power, priority shedding,
and storage that does not follow its setpoint."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from microgrid.control.controllers.consumers import (
    Consumer,
    HeatPumpLimits,
    HeatPumpSwitching,
    heat_pump_consumer,
    shift_consumption,
    tank_hold_kw,
    window_job_floor_kw,
)
from microgrid.control.controllers.types import StorageUnit
from microgrid.control.following import StorageFollowing

T0 = datetime(2026, 7, 15, 17, 0, tzinfo=ZoneInfo("Asia/Shanghai"))


@pytest.mark.parametrize(("pending", "left_s", "floor", "late"), [
    (0.0, 3600, 0.0, False),  # nothing left to do
    (100.0, 7200, 0.0, False),  # 100 kWh of 400 kWh possible: free to wait
    (200.0, 3600, 200.0, True),  # needs full power for all the time left: late, runs at full power
    (195.0, 3600, 200.0, False),  # 195 of 200 kWh: runs at full power to stay 3 % ahead of late
])
def test_window_job_floor(pending, left_s, floor, late):
    got, is_late = window_job_floor_kw(pending, 1.0, 200.0, left_s, 10.0)
    assert is_late is late
    assert got == pytest.approx(floor, abs=0.5)


def test_window_job_floor_keeps_the_job_ahead_of_its_deadline():
    # run the floor every 10 s from a job that can just wait: it never becomes late and finishes on time
    pending, left, p_max = 150.0, 3600.0, 200.0
    while left > 0:
        p, late = window_job_floor_kw(pending, 0.95, p_max, left, 10.0)
        assert not late
        pending -= min(p * 10 / 3600 * 0.95, pending)
        left -= 10
    assert pending == pytest.approx(0.0, abs=1e-6)


LIM = HeatPumpLimits(p_min_kw=20.0, p_max_kw=300.0, tank_min_c=45.0, tank_max_c=65.0, tank_kwh_per_k=23.26)


def test_tank_guard_runs_at_holding_power_not_full_power():
    # 40 kW of heat drawn, COP 4, tank 0.5 K above its minimum (inside the 1 K guard band)
    hold = tank_hold_kw(LIM, 45.5, heat_draw_kw=40.0, cop=4.0, guard_k=1.0)
    # (40 kW + 23.26 kWh/K × 1.0 K per 15 min) / 4 = 33.3 kW
    assert hold == pytest.approx((40 + 23.26 * 1.0 * 4) / 4, rel=1e-6)
    c = Consumer("hp", "heat_pump", "b", 0.0, 0.0, 0.0, 300.0)
    guarded = heat_pump_consumer(c, LIM, HeatPumpSwitching(), T0, 45.5, heat_draw_kw=40.0, cop=4.0)
    assert guarded.lo_kw == pytest.approx(hold) and guarded.setpoint_kw == pytest.approx(hold)
    # shedding cannot take it below the holding power
    sp, left = shift_consumption([guarded], {"hp": guarded.setpoint_kw}, -100.0)
    assert sp["hp"] == pytest.approx(hold) and left == pytest.approx(-100.0)
    # without the draw or COP the guard falls back to full power
    assert heat_pump_consumer(c, LIM, HeatPumpSwitching(), T0, 45.5).lo_kw == 300.0


def test_late_window_job_counts_as_running_at_full_power():
    late = Consumer("ev", "ev_depot", "b", 0.0, 0.0, 200.0, 200.0, baseline_kw=200.0, floor_kw=200.0)
    assert late.expected_kw(0.0) == 200.0


def _unit(p_kw: float, setpoint: float | None = None) -> StorageUnit:
    return StorageUnit("bat", p_charge_max_kw=500.0, p_discharge_max_kw=500.0, p_kw=p_kw, setpoint_kw=setpoint,
                       soc_pct=50.0, soc_min_pct=10.0, soc_max_pct=95.0, ramp_kw_per_s=100.0)


def test_storage_that_does_not_follow_is_not_counted_on_then_retried():
    f = StorageFollowing(misses=2, hold_s=60.0)
    now = T0
    units, newly = f.check((_unit(0.0),), 10.0, now)
    assert units[0].online and newly == []
    f.sent(units, {"bat": 500.0})
    now += timedelta(seconds=10)
    units, newly = f.check((_unit(0.0, 500.0),), 10.0, now)  # first miss
    assert units[0].online and newly == []
    f.sent(units, {"bat": 500.0})
    now += timedelta(seconds=10)
    units, newly = f.check((_unit(0.0, 500.0),), 10.0, now)  # second miss: out of the allocation
    assert not units[0].online and newly == ["bat"] and f.blocked() == {"bat"}
    now += timedelta(seconds=60)
    units, newly = f.check((_unit(0.0, 500.0),), 10.0, now)  # retried after the hold time
    assert units[0].online and f.blocked() == set()


def test_storage_limited_by_its_ramp_is_following():
    f = StorageFollowing(misses=1)
    units, _ = f.check((_unit(0.0),), 2.0, T0)
    f.sent(units, {"bat": 500.0})
    units, newly = f.check((_unit(200.0, 500.0),), 2.0, T0 + timedelta(seconds=2))  # 100 kW/s × 2 s
    assert units[0].online and newly == []


def test_a_cycle_longer_than_half_a_device_revert_timer_is_named():
    from microgrid.control.runtime import cycle_beyond_revert_timers
    from microgrid.site import load_site
    from tests.paths import REFERENCE_PARK

    site = load_site(REFERENCE_PARK)
    assert cycle_beyond_revert_timers(site, 10.0) == []
    slow = cycle_beyond_revert_timers(site, 60.0)
    assert "dev_bat_electronics (30 s)" in slow and "dev_ess_pcs (60 s)" in slow


def test_a_consumer_that_ignores_its_setpoint_is_not_counted_on():
    from types import SimpleNamespace

    from microgrid.control.limits import ConsumerControl
    from microgrid.site import load_site
    from tests.paths import REFERENCE_PARK

    site = load_site(REFERENCE_PARK)
    control = ConsumerControl(site, cycle_s=10.0)
    fid = next(f.id for f in site.assets.flexible_loads if f.kind == "shiftable")
    reading = SimpleNamespace(p_kw=80.0, p_baseline_kw=80.0, e_pending_kwh=None)  # the fields prepare() reads
    deltas = []
    for k in range(4):
        consumers, delta = control.prepare({fid: 10.0}, {}, {fid: reading}, T0 + timedelta(seconds=10 * k))
        deltas.append(round(delta, 3))
        control.hold_limits(consumers, None, 0.0, 1e9, None, {}, T0 + timedelta(seconds=10 * k))
    # counted on to drop by 70 kW until it has missed twice (cycles 1 and 2); then its 80 kW are expected to stay
    assert deltas == [-70.0, -70.0, 0.0, 0.0]


def test_shedding_does_not_raise_a_held_up_load_to_its_floor():
    """A shiftable load held at 88 kW by its process (floor) while asked for 32 kW: shedding for a limit must
    keep asking for 32 kW. Commanding it to its floor made the next cycle see it "following" again, count on
    the 56 kW drop and let storage go: the import cap was crossed every third cycle (generated seed 4)."""
    held = Consumer("shift", "shiftable", "b", 88.0, 32.0, 0.0, 130.0, baseline_kw=88.0, floor_kw=88.0)
    out, left = shift_consumption([held], {"shift": 32.0}, -20.0)
    assert out == {"shift": 32.0} and left == pytest.approx(-20.0)


def test_a_shiftable_load_is_counted_at_its_baseline_before_it_stops_deferring():
    """The backlog at which the process refused once is learned; a setpoint that would take the backlog past
    it within two cycles is then counted as the baseline (so storage covers the step before it comes)."""
    from types import SimpleNamespace

    from microgrid.control.limits import ConsumerControl
    from microgrid.site import load_site
    from tests.paths import REFERENCE_PARK

    site = load_site(REFERENCE_PARK)
    control = ConsumerControl(site, cycle_s=10.0)
    fid = next(f.id for f in site.assets.flexible_loads if f.kind == "shiftable")

    def cycle(k: int, p_kw: float, owed_kwh: float) -> float:
        reading = SimpleNamespace(p_kw=p_kw, p_baseline_kw=90.0, e_pending_kwh=owed_kwh)
        consumers, delta = control.prepare({fid: 10.0}, {}, {fid: reading}, T0 + timedelta(seconds=10 * k))
        control.hold_limits(consumers, None, 0.0, 1e9, None, {}, T0 + timedelta(seconds=10 * k))
        return round(delta, 3)

    assert cycle(0, 10.0, 49.0) == 0.0  # following its 10 kW, nothing learned yet
    assert cycle(1, 90.0, 50.0) == 0.0  # refuses at 50 kWh owed: learned at once, counted at its baseline
    for k in range(2, 8):  # pays back while asked up (setpoint at the baseline): the backlog falls
        reading = SimpleNamespace(p_kw=90.0, p_baseline_kw=90.0, e_pending_kwh=40.0)
        consumers, _delta = control.prepare({fid: 90.0}, {}, {fid: reading}, T0 + timedelta(seconds=10 * k))
        control.hold_limits(consumers, None, 0.0, 1e9, None, {}, T0 + timedelta(seconds=10 * k))
    # asked down again: 40 kWh owed, 80 kW less for two cycles adds 0.44 kWh: far from 50, counted on
    assert cycle(8, 90.0, 40.0) == -80.0
    # 49.7 kWh owed: two cycles at 10 kW would pass 50 kWh, so the load is counted at its baseline
    assert cycle(9, 10.0, 49.7) == 80.0
