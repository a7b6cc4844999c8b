"""Closed loop over real Modbus TCP: simulator + drivers + SQLite store + runtime on one stepped clock.

Deterministic: time moves only by control cycles (the runtime advances the stepped clock), solves run
between cycles, the simulator uses a fixed seed. Each test states what it checks against the issue.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from microgrid.control.modes import Mode
from sim.faults import FaultScenario, FaultSpec
from tests.control.aio import async_test
from tests.control.simloop import close_loop, new_runtime, open_loop, run_cancelled

TZ = ZoneInfo("Asia/Shanghai")
SATURDAY = date(2025, 7, 19)  # weekend profile: low load, PV far above it at midday


def big_pv_site(small_site):
    """The small site with 1 MW of PV (1.2 MWp): PV well above the load for hours, zero export."""
    pv = small_site.assets.pv[0].model_copy(update={"kwp": 1200.0, "inverter_ac_kw": 1000.0})
    assets = small_site.assets.model_copy(update={"pv": [pv]})
    return small_site.model_copy(update={"assets": assets})


def at(day: date, hhmm: str) -> datetime:
    h, m = (int(x) for x in hhmm.split(":"))
    return datetime(day.year, day.month, day.day, h, m, tzinfo=TZ)


@pytest.mark.slow
@async_test
async def test_zero_export_day_with_cloud_and_load_step(small_site, tmp_path):
    """A simulated day on a zero-export site with PV > load: export never above 1 % of the PV rating for more
    than 2 s, import never above the declared demand; a cloud transient and a load step are followed;
    realised energy cost within 5 % of the plans' for the same intervals (zero-export margin priced in); the
    15:00 day-ahead plan is made."""
    site = big_pv_site(small_site)
    faults = FaultScenario(faults=[
        FaultSpec(type="cloud_transient", at="12:00", duration_s=300, factor=0.2),
        FaultSpec(type="load_step", target="factory", at="13:00", duration_s=600, delta_kw=150.0),
    ])
    loop = await open_loop(site, at(SATURDAY, "00:00"), tmp_path, faults=faults)
    try:
        await loop.runtime.run(until=at(SATURDAY, "00:00") + timedelta(days=1))
        rt = loop.runtime
        threshold = 0.01 * 1000.0
        pcc_truth = [p for _t, p, _dt in loop.truth]
        assert loop.longest_export_s(threshold) <= 2.0
        assert loop.max_import_kw() <= site.grid.declared_demand_kw
        k = rt.kpis()
        assert k["pv_curtailed_kwh"] > 500  # PV really was above the load (zero export held by curtailment)
        # Cloud at 12:00 for 5 min (PV x 0.2): the PV is not held back 30 s into it, the PCC imports.
        noon = 12 * 3600
        assert loop.pcc_at(noon + 30) > 0
        # Load step +150 kW at 13:00 for 10 min: followed within 30 s (PCC back inside its band), and its end
        # (a step down) does not export beyond 2 s (checked over the whole day above).
        one = 13 * 3600
        assert 0 <= loop.pcc_at(one + 30) <= 30
        assert 0 <= loop.pcc_at(one + 630) <= 30
        # Cost: realised energy cost vs the plans in force, same intervals.
        # The plan has the PCC at exactly 0 kW while PV is curtailed; the loop holds export_margin_kw (5 kW) of
        # import there for safety. With that margin priced in, the realised cost is within 5 % of the plan's.
        plan, real = k["plan_energy_cost_with_margin_cny"], k["realised_energy_cost_tracked_cny"]
        # Measured 2026-12-07: 328.52 vs 316.65 CNY (+3.7 %). It was +7.7 % while a PV limit left at a few kW
        # overnight counted as "curtailing" and kept the storage's absorb offset on (5 kW imported all night).
        assert real == pytest.approx(plan, rel=0.05)
        assert k["plan_energy_cost_cny"] < real
        assert rt.mode == Mode.NORMAL
        assert rt.jobs.jobs["day_ahead"].runs == 1
        loop.runtime.store.flush()
        versions = loop.store.schedule_versions(SATURDAY + timedelta(days=1))
        assert "day_ahead" in {v.kind.value for v in versions}
        print("zero-export day:", {x: k[x] for x in ("import_kwh", "pv_generation_kwh", "pv_curtailed_kwh",
                                                    "cost_total_cny", "plan_energy_cost_cny", "plan_energy_cost_with_margin_cny",
                                                    "realised_energy_cost_tracked_cny", "tracking_mae_kw")},
              k["compliance"], "true longest export s:", loop.longest_export_s(threshold),
              "true max export kW:", -min(pcc_truth))
    finally:
        await close_loop(loop)


@async_test
async def test_meter_loss_safe_state_within_one_cycle(small_site, tmp_path):
    site = big_pv_site(small_site)
    loop = await open_loop(site, at(SATURDAY, "11:00"), tmp_path)
    try:
        rt = loop.runtime
        await rt.run(until=at(SATURDAY, "11:05"))
        assert rt.mode == Mode.NORMAL
        loop.park.faults.inject("device_offline", "dev_meter_pcc", duration_s=30, mode="refuse")
        await loop.clock.run_for(site.control.cycle_s)
        report = await rt.cycle()  # the first cycle without a PCC reading
        assert report.mode == Mode.SAFE
        # No load is proven (no tenant meter): PV may only feed the charging battery (worst case: no load).
        charge = -report.setpoints.storage_kw["bat_factory"]
        assert charge > 50
        assert report.setpoints.pv_limit_kw["pv_roof"] == pytest.approx(charge - site.control.export_margin_kw, abs=1.0)
        await loop.clock.run_for(site.control.cycle_s)
        state = loop.park.state()
        assert state.pv_kw["pv_roof"] <= charge + 1.0  # the inverter followed in one step
        change = rt.events.of_kind("mode_change")[-1]
        assert change.data["to"] == "safe" and "meter_pcc" in change.data["reason"]
        await rt.run(until=at(SATURDAY, "11:08"))  # fault over after 30 s; 3 fresh readings to recover
        assert rt.mode == Mode.NORMAL
        assert loop.longest_export_s(10.0) <= 2.0
    finally:
        await close_loop(loop)


@async_test
async def test_device_offline_and_back_moves_its_share(reference_site, tmp_path):
    loop = await open_loop(reference_site, at(date(2025, 7, 16), "19:00"), tmp_path)
    try:
        rt = loop.runtime
        rt.set_override("ess_shared", 0.0, duration_s=3600, reason="test: keep the shared battery idle")
        rt.set_override("bat_electronics", 400.0, duration_s=3600, reason="test: discharge")
        await rt.run(until=at(date(2025, 7, 16), "19:02"))
        assert loop.park.state().battery_kw["bat_electronics"] == pytest.approx(400, abs=5)
        rt.clear_override("ess_shared")
        rt.clear_override("bat_electronics")
        loop.park.faults.inject("device_offline", "dev_bat_electronics", duration_s=120, mode="refuse")
        await rt.run(until=at(date(2025, 7, 16), "19:04"))
        assert [e.source for e in rt.events.of_kind("device_offline")] == ["bat_electronics"]
        assert "bat_electronics" not in rt.last.setpoints.storage_kw  # not written while offline
        planned = rt.plans.interval(loop.clock.now()).storage_kw
        # The shared battery carries the plan of both (within its own limits).
        assert rt.last.setpoints.storage_kw["ess_shared"] == pytest.approx(
            min(planned["ess_shared"] + planned["bat_electronics"], 2500), abs=30)
        await rt.run(until=at(date(2025, 7, 16), "19:07"))
        assert [e.source for e in rt.events.of_kind("device_online")] == ["bat_electronics"]
        assert "bat_electronics" in rt.last.setpoints.storage_kw
        assert loop.max_import_kw() <= reference_site.grid.declared_demand_kw
    finally:
        await close_loop(loop)


@async_test
async def test_optimizer_failure_gives_fallback_plan(small_site, tmp_path):
    loop = await open_loop(small_site, at(date(2025, 7, 16), "10:05"), tmp_path)
    try:
        rt = loop.runtime
        await rt.run(until=at(date(2025, 7, 16), "10:10"))
        rt.planner.fail_next = "HiGHS crashed (injected)"
        await rt.run(until=at(date(2025, 7, 16), "10:16"))  # the 10:15 re-plan fails
        assert rt.mode == Mode.FALLBACK
        assert rt.plans.at(loop.clock.now()).source == "baseline"
        assert any("HiGHS crashed (injected)" in e.message for e in rt.events.of_kind("plan_fallback"))
        await rt.run(until=at(date(2025, 7, 16), "10:31"))  # 10:30 succeeds
        assert rt.mode == Mode.NORMAL
        rt.store.flush()
        kinds = [v.kind.value for v in loop.store.schedule_versions(date(2025, 7, 16))]
        assert kinds == ["intraday", "fallback", "intraday"]
        changes = [(e.data["from"], e.data["to"]) for e in rt.events.of_kind("mode_change")]
        assert ("normal", "fallback") in changes and changes[-1] == ("fallback", "normal")
    finally:
        await close_loop(loop)


@async_test
async def test_restart_mid_day_resumes_without_duplicate_writes_or_lost_telemetry(small_site, tmp_path):
    day = date(2025, 7, 16)
    loop = await open_loop(small_site, at(day, "10:00"), tmp_path)
    kill_at = at(day, "10:37")
    await run_cancelled(loop, kill_at)  # crash: no stop(), no final flush
    first = loop.runtime
    plan_id = first.plans.at(loop.clock.now()).plan_id
    peak = first.accounting.month_peak_kw
    await loop.fleet.close()
    loop.store.close()
    await loop.clock.run_for(20)  # the controller is down for 20 s; the park goes on
    restart = loop.clock.now()
    fleet, store, second = await new_runtime(small_site, loop.clock, loop.park, loop.db_url)
    try:
        n_plans = len(store.schedule_versions(day))
        await second.start()
        assert len(store.schedule_versions(day)) == n_plans  # resumed the stored plan: no new solve
        assert second.plans.at(restart).plan_id == plan_id
        assert second.accounting.month_peak_kw == pytest.approx(peak, rel=0.02)
        await second.run(until=at(day, "10:45"))
        await second.stop()
        second.store.close()
        writes = store.setpoint_writes(start=restart, end=at(day, "10:45"), limit=10_000).items
        setpoints = [w for w in writes if not w.detail.startswith(("refresh", "heartbeat"))]
        assert all(w.old_value is None or w.new_value != w.old_value for w in setpoints)
        samples = store.telemetry("meter_pcc", "p_kw", start=at(day, "10:00"), end=at(day, "10:45"),
                                  limit=10_000).items
        stamps = [s.ts for s in samples]
        gaps = [(b - a).total_seconds() for a, b in zip(stamps, stamps[1:], strict=False)]
        every = second.options.telemetry_every_s
        assert max(gaps) <= 20 + 2 * every  # only the downtime (plus the window in progress at the crash)
        assert sorted(set(gaps))[:1] == [every]
        assert stamps[0] == at(day, "10:00") and stamps[-1] >= at(day, "10:44")
    finally:
        await fleet.close()
        await loop.park.stop()
        store.close()
