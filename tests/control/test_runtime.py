"""The runtime against an in-memory plant (stepped clock, deterministic, no Modbus): modes, safety,
fallback, overrides, store failure and restart. The same scenarios over real Modbus TCP with the simulator
are in test_closed_loop_sim.py."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from microgrid.clock import SteppedClock
from microgrid.control.modes import Mode
from microgrid.control.runtime import Runtime, RuntimeOptions
from microgrid.control.storeport import MemoryStore
from tests.control.aio import async_test
from tests.control.fakes import FakeFleet, FakePlant

TZ = ZoneInfo("Asia/Shanghai")
NOON = datetime(2025, 7, 16, 11, 0, tzinfo=TZ)


def make(site, *, start=NOON, load=lambda t: 250.0, pv=lambda t: 400.0, store=None, plant=None, clock=None,
         **options):
    clock = clock or SteppedClock(start)
    plant = plant or FakePlant(site, clock, load_kw=load, pv_avail_kw=pv)
    store = store if store is not None else MemoryStore()
    opts = RuntimeOptions.from_site(site, **options)
    rt = Runtime(site, FakeFleet(plant), store, clock, options=opts)
    return rt, plant, store, clock


def longest_export_s(log: list[tuple[float, float]], threshold_kw: float, t_from: float = 0.0) -> float:
    """Longest time the (piecewise constant) PCC power stayed below ``-threshold_kw``."""
    longest, run_start = 0.0, None
    for (t, p), (t_next, _p) in zip(log, log[1:], strict=False):
        if t < t_from:
            continue
        if -p > threshold_kw:
            run_start = t if run_start is None else run_start
            longest = max(longest, t_next - run_start)
        else:
            run_start = None
    return longest


@async_test
async def test_zero_export_surplus_goes_to_storage_then_curtailment(small_site):
    rt, plant, store, clock = make(small_site)
    await rt.run(until=clock.now() + timedelta(hours=1))
    await rt.stop()
    threshold = 0.01 * 420  # 1 % of the PV rating
    assert longest_export_s(plant.pcc_log, threshold) <= 2.0  # only the very first cycle, before any control
    k = rt.kpis()
    assert k["compliance"]["max_import_kw"] < small_site.grid.declared_demand_kw
    # 150 kW surplus: the battery (200 kW) takes all of it, almost nothing is curtailed; the intraday plan may
    # add some grid charging for its peak reserve (evening peak above the planned peak), never beyond 200 kW.
    assert -200 <= k["storage_net_kwh"] <= -145
    assert k["pv_curtailed_kwh"] < 5
    # The fake battery is lossless: charge minus discharge is all in the SoC, so the one accounting reports
    # (almost) no loss — not the ~150 kWh that "charge − discharge" alone would claim.
    f = k["figures"]
    assert f["storage_charge_kwh"] > 100 and f["storage_losses_kwh"] == pytest.approx(0.0, abs=3.0)
    assert f["green_power_ratio"] == pytest.approx(f["green_energy_kwh"] / f["consumption_kwh"], rel=1e-4)
    assert rt.mode == Mode.NORMAL
    assert {e.kind for e in rt.events.recent} >= {"runtime_started", "plan_accepted", "mode_change"}
    assert len(store.telemetry) > 0 and store.plans


@async_test
async def test_load_step_and_cloud_transient_are_followed(small_site):
    # Battery out of service so that only PV curtailment can hold zero export.
    def load(t):
        return 100.0 if 600 <= t < 1200 else 300.0  # load step down for 10 min

    def pv(t):
        return 100.0 if 1800 <= t < 2100 else 400.0  # a cloud for 5 min

    rt, plant, store, clock = make(small_site, load=load, pv=pv)
    plant.offline.add("bat_factory")
    await rt.run(until=clock.now() + timedelta(hours=1))
    assert longest_export_s(plant.pcc_log, 4.2, t_from=2.0) <= 2.0
    # After the load step the PV follows within a few cycles: at 19 min the PCC sits at the margin.
    at = {round(t): p for t, p in plant.pcc_log}
    assert 0 <= at[1140] <= 20
    # During the cloud the limit is released above what the PV can give (no curtailment) ...
    limits = [(t, v) for t, asset, v in plant.writes if asset == "pv_roof"]
    assert [v for t, v in limits if t < 2100][-1] >= 100
    assert at[2000] == pytest.approx(300 - 100, abs=1)
    # ... and after it the PV is curtailed again to hold zero export, without exporting in between.
    assert [v for t, v in limits if t < 2400][-1] < 400
    assert 0 <= at[2400] <= 20


@async_test
async def test_meter_loss_safe_state_within_one_cycle_and_recovery(small_site):
    rt, plant, store, clock = make(small_site)
    await rt.run(until=clock.now() + timedelta(minutes=10))
    plant.meter_lost = True
    report = await rt.cycle()
    assert report.mode == Mode.SAFE
    # No load proven (no tenant meter): PV only feeds what the battery, held charging, absorbs.
    assert plant.pv_limit["pv_roof"] <= max(-plant.bat_set["bat_factory"], 0.0) + 1e-6
    change = rt.events.of_kind("mode_change")[-1]
    assert change.data["to"] == "safe" and "meter_pcc" in change.data["reason"]
    await clock.run_for(2)
    plant.meter_lost = False
    modes = []
    for _ in range(3):
        await clock.run_for(2)
        modes.append((await rt.cycle()).mode)
    assert modes == [Mode.SAFE, Mode.SAFE, Mode.NORMAL]  # 3 fresh readings needed


@async_test
async def test_device_offline_share_moves_and_comes_back(reference_site):
    # 7000 kW of load and no PV: the batteries must discharge >= 1000 kW to hold the 6000 kW import cap.
    rt, plant, store, clock = make(reference_site, load=lambda t: 7000.0, pv=lambda t: 0.0)
    await rt.run(until=clock.now() + timedelta(minutes=2))
    assert plant.bat_set["ess_shared"] + plant.bat_set["bat_electronics"] >= 1000 - 1
    plant.offline.add("ess_shared")
    await rt.run(until=clock.now() + timedelta(minutes=2))
    assert [e.source for e in rt.events.of_kind("device_offline")] == ["ess_shared"]
    # The electronics battery takes all it can (500 kW) and the shortfall is an alarm, not a crash.
    assert plant.bat_set["bat_electronics"] == pytest.approx(500)
    assert any("import cap" in e.message for e in rt.events.of_kind("limit_alarm"))
    n_writes = len([w for w in plant.writes if w[1] == "ess_shared"])
    plant.offline.discard("ess_shared")
    await rt.run(until=clock.now() + timedelta(minutes=2))
    assert [e.source for e in rt.events.of_kind("device_online")] == ["ess_shared"]
    assert len([w for w in plant.writes if w[1] == "ess_shared"]) > n_writes
    assert plant.pcc_kw <= 6000 + 1


@async_test
async def test_optimizer_failure_gives_fallback_until_next_good_plan(small_site):
    rt, plant, store, clock = make(small_site)
    await rt.run(until=clock.now() + timedelta(minutes=5))
    assert rt.mode == Mode.NORMAL
    rt.planner.fail_next = "solver crashed (injected)"
    assert rt.request_replan("intraday")
    for _ in range(5):
        await clock.run_for(0)
    await rt.run(until=clock.now() + timedelta(minutes=1))
    assert rt.mode == Mode.FALLBACK
    record = rt.plans.at(clock.now())
    assert record.kind == "fallback" and record.source == "baseline"
    change = rt.events.of_kind("mode_change")[-1]
    assert "solver crashed (injected)" in change.data["reason"]
    # The next intraday run (11:15) succeeds: back to normal.
    await rt.run(until=NOON + timedelta(minutes=16))
    assert rt.mode == Mode.NORMAL
    assert [p.kind for p, _ in store.plans][-2:] == ["fallback", "intraday"]


@async_test
async def test_override_expires_and_manual_mode(small_site):
    rt, plant, store, clock = make(small_site, load=lambda t: 500.0, pv=lambda t: 100.0)
    await rt.start()
    rt.set_override("bat_factory", -50.0, duration_s=300, reason="cell balancing")
    await rt.run(until=clock.now() + timedelta(minutes=4))
    assert plant.bat_set["bat_factory"] == pytest.approx(-50)
    await rt.run(until=clock.now() + timedelta(minutes=2))
    assert [e.data["asset_id"] for e in rt.events.of_kind("override_expired")] == ["bat_factory"]
    assert rt.mode == Mode.NORMAL
    rt.set_manual(True, user="alice", reason="commissioning")
    await rt.run(until=clock.now() + timedelta(minutes=1))
    assert rt.mode == Mode.MANUAL
    assert plant.bat_set["bat_factory"] == 0.0  # no automatic dispatch in manual mode
    assert rt.events.of_kind("mode_change")[-1].data["reason"] == "alice: commissioning"


@async_test
async def test_bms_charge_not_allowed_is_respected(small_site):
    rt, plant, store, clock = make(small_site)
    plant.bms_block.add("bat_factory")
    await rt.run(until=clock.now() + timedelta(minutes=10))
    assert plant.bat_set["bat_factory"] >= 0
    assert longest_export_s(plant.pcc_log, 4.2) <= 2.0  # PV curtailment holds the limit instead


@async_test
async def test_store_failure_never_stops_control(small_site):
    rt, plant, store, clock = make(small_site)
    await rt.run(until=clock.now() + timedelta(minutes=2))
    store.fail = True
    await rt.run(until=clock.now() + timedelta(minutes=5))
    assert rt.store.failing and rt.store.pending
    assert rt.cycles == 210
    store.fail = False
    await rt.run(until=clock.now() + timedelta(minutes=1))
    assert not rt.store.failing and not rt.store.pending
    kinds = [e.kind for e in store.events]
    assert "store_failing" in kinds and "store_recovered" in kinds
    # No telemetry lost: one row per 10 s window for the PCC meter over the whole 8 minutes.
    pcc = sorted(r.ts for r in store.telemetry if r.source_id == "meter_pcc")
    gaps = {(b - a).total_seconds() for a, b in zip(pcc, pcc[1:], strict=False)}
    assert gaps == {10.0}


@async_test
async def test_restart_resumes_plan_peak_and_writes_nothing_twice(small_site):
    store = MemoryStore()
    rt, plant, _, clock = make(small_site, store=store, load=lambda t: 600.0, pv=lambda t: 100.0)
    await rt.run(until=clock.now() + timedelta(minutes=40))
    # Crash: no stop(), no final flush beyond what each cycle flushed.
    peak = rt.accounting.month_peak_kw
    plans_before = len(store.plans)
    writes_before = len(plant.writes)
    rt2, *_ = make(small_site, store=store, plant=plant, clock=clock)
    await rt2.start()
    assert len(store.plans) == plans_before  # resumed the plan in force, no new solve
    assert rt2.accounting.month_peak_kw == pytest.approx(peak)
    assert rt2.plans.at(clock.now()).plan_id == rt.plans.at(clock.now()).plan_id
    await rt2.cycle()
    assert len(plant.writes) == writes_before  # setpoints already in force are not sent again
    assert [e.kind for e in rt2.events.of_kind("runtime_started")] == ["runtime_started"]
    assert "resumed" in rt2.events.of_kind("runtime_started")[0].message


@async_test
async def test_real_time_path_uses_apscheduler_and_the_same_cycle(small_site):
    from microgrid.clock import RealClock
    from microgrid.control.jobs import APSchedulerRunner

    clock = RealClock(TZ)
    plant = FakePlant(small_site, clock, load_kw=lambda t: 300.0, pv_avail_kw=lambda t: 100.0)
    rt = Runtime(small_site, FakeFleet(plant), MemoryStore(), clock,
                 options=RuntimeOptions.from_site(small_site, cycle_s=0.2))
    assert isinstance(rt.jobs, APSchedulerRunner)
    await rt.run(until=clock.now() + timedelta(seconds=1.5))
    await rt.stop()
    assert rt.cycles >= 3
    assert rt.mode == Mode.NORMAL  # the start-up plan was solved in the planner thread
    status = {j["name"]: j for j in rt.snapshot()["jobs"]}
    assert status["intraday"]["next_run"] is not None and status["day_ahead"]["next_run"].endswith("+08:00")


@async_test
async def test_a_failing_read_is_an_alarm_and_the_safe_state(small_site):
    rt, plant, store, clock = make(small_site)
    await rt.run(until=clock.now() + timedelta(minutes=1))
    fleet = rt.fleet

    async def broken():
        raise RuntimeError("driver bug")

    original = fleet.poll
    fleet.poll = broken
    report = await rt.cycle()
    assert report.mode == Mode.SAFE
    assert rt.events.of_kind("read_failed")[0].message == "reading the devices failed: RuntimeError: driver bug"
    fleet.poll = original
    await rt.run(until=clock.now() + timedelta(minutes=1))
    assert rt.mode == Mode.NORMAL


@async_test
async def test_writes_carrying_out_an_override_name_its_operator(small_site):
    """The audit names who caused each device write: the operator of an override in force (and the one who
    ended it, for the write that releases the asset), the controller for everything else."""
    rt, plant, store, clock = make(small_site, load=lambda t: 500.0, pv=lambda t: 100.0)
    await rt.start()
    await rt.run(until=clock.now() + timedelta(minutes=1))
    store.writes.clear()
    rt.set_override("bat_factory", -50.0, duration_s=600, user="li.wei", reason="cell balancing")
    await rt.run(until=clock.now() + timedelta(minutes=1))
    held = [w for _ts, w in store.writes if w.asset_id == "bat_factory"]
    assert held and {w.user for w in held} == {"li.wei"}
    assert plant.bat_set["bat_factory"] == pytest.approx(-50)
    assert {w.user for _ts, w in store.writes if w.asset_id != "bat_factory"} <= {"controller"}
    store.writes.clear()
    rt.clear_override("bat_factory", user="zhang.min")
    await rt.run(until=clock.now() + timedelta(seconds=2))
    released = [w for _ts, w in store.writes if w.asset_id == "bat_factory"]
    assert released and released[0].user == "zhang.min" and plant.bat_set["bat_factory"] != pytest.approx(-50)
    store.writes.clear()
    await rt.run(until=clock.now() + timedelta(minutes=1))
    assert {w.user for _ts, w in store.writes} <= {"controller"}
