"""Health against simulator faults: offline and reconnect, silence versus exception replies, busy back-off,
stale measurements never used for control, and a wrong scale caught by the response check."""

from __future__ import annotations

import asyncio

import pytest

from drivers.capabilities import PVSetpoint, StorageSetpoint
from drivers.health import Health
from drivers.safewrite import WriteStatus
from tests.drivers.conftest import cycle, run, sim_fleet


def test_endpoint_down_is_offline_then_the_fleet_reconnects(small_site):
    async def body():
        async with sim_fleet(small_site, timeout_s=0.5) as (park, fleet, clock):
            fault = park.faults.inject("device_offline", "dev_meter_pcc", mode="refuse")
            readings, _ = await cycle(park, fleet, clock)
            meter = readings["meter_pcc"]
            assert meter.health is Health.OFFLINE and not meter.valid
            assert "cannot connect" in fleet.devices["dev_meter_pcc"].health.last_error
            assert readings["pv_roof"].health is Health.ONLINE  # other links are not affected
            park.faults.clear(fault)
            for _ in range(300):  # bounded (30 s + cycles): reconnect back-off starts at 0.5 s real time; ends when online
                await asyncio.sleep(0.1)
                readings, _ = await cycle(park, fleet, clock, dt_s=0.1)
                if readings["meter_pcc"].health is Health.ONLINE:
                    break
            assert readings["meter_pcc"].health is Health.ONLINE and readings["meter_pcc"].valid
            stats = fleet.devices["dev_meter_pcc"].transport.stats
            assert stats.connects == 2 and stats.connect_failures >= 1

    run(body())


def test_a_silent_device_times_out_into_offline_an_answering_one_stays_alive(small_site):
    async def body():
        async with sim_fleet(small_site, timeout_s=0.5) as (park, fleet, clock):
            park.faults.inject("device_offline", "dev_pv_roof", mode="silent")
            readings, _ = await cycle(park, fleet, clock)  # the cycle waits for this first timeout once
            assert readings["pv_roof"].health is Health.DEGRADED  # one timeout: data still fresh
            pv = fleet.devices["dev_pv_roof"]
            readings, _ = await cycle(park, fleet, clock)
            assert pv.probing  # polled in the background: the cycle did not wait for it
            assert readings["meter_pcc"].valid and readings["bat_factory"].valid
            for _ in range(40):  # bounded: each background poll takes the 0.5 s timeout
                await asyncio.sleep(0.05)
                readings, _ = await cycle(park, fleet, clock)
                if readings["pv_roof"].health is Health.OFFLINE:
                    break
            assert readings["pv_roof"].health is Health.OFFLINE and pv.health.consecutive_timeouts >= 3
            _, results = await cycle(park, fleet, clock, setpoints={"pv_roof": PVSetpoint(100.0)})
            (r,) = results["pv_roof"]
            assert r.status is WriteStatus.FAILED and "not sent: device not answering" in r.message
            park.faults.clear_all()
            park.faults.inject("exception", "dev_bat_factory", code="illegal_address", requests="read")
            for _ in range(5):
                readings, _ = await cycle(park, fleet, clock)
            bat = fleet.devices["dev_bat_factory"]
            # exception replies prove the device is alive: never offline, but its data age
            assert bat.health.consecutive_timeouts == 0 and not bat.health.link_down
            assert readings["bat_factory"].health is Health.STALE
            assert "exception 2" in bat.health.last_error
            # a device refusing every address is not a map mismatch: no point was written off
            assert bat.unsupported == {}
            park.faults.clear_all()
            readings, _ = await cycle(park, fleet, clock)
            assert readings["bat_factory"].valid and readings["bat_factory"].health is Health.ONLINE

    run(body())


def test_busy_replies_are_honoured_with_back_off(small_site):
    async def body():
        async with sim_fleet(small_site, timeout_s=0.5) as (park, fleet, clock):
            park.faults.inject("exception", "dev_bat_factory", code="busy", requests="read")
            readings, _ = await cycle(park, fleet, clock)
            bat = fleet.devices["dev_bat_factory"]
            assert bat.transport.stats.busy_replies >= 4  # first try + 3 retries with back-off
            assert bat.health.n_busy >= 4 and readings["bat_factory"].health is Health.DEGRADED
            park.faults.clear_all()
            readings, _ = await cycle(park, fleet, clock)
            assert readings["bat_factory"].health is Health.ONLINE

    run(body())


def test_stale_measurements_are_flagged_and_not_used_for_control(small_site):
    async def body():
        async with sim_fleet(small_site) as (park, fleet, clock):
            readings, _ = await cycle(park, fleet, clock)
            assert readings["bat_factory"].valid and readings["bat_factory"].p_discharge_max_kw == 200.0
            clock.advance(10.0)  # nothing read for 10 s: older than the 3 s limit
            storage = fleet.capabilities["bat_factory"]
            stale = storage.reading()
            assert stale.stale and not stale.valid and stale.age_s == pytest.approx(10.0)
            assert stale.health is Health.STALE
            assert (stale.p_charge_max_kw, stale.p_discharge_max_kw) == (0.0, 0.0)
            meter = fleet.capabilities["meter_pcc"].reading()
            assert meter.stale and meter.health is Health.STALE  # control.meter_stale_s = 5 s
            results = await storage.set_power(150.0)
            w_set = next(r for r in results if r.point_id == "m704_w_set")
            assert (w_set.new, w_set.clamped) == (0, True)  # a stale SoC never permits power
            readings, _ = await cycle(park, fleet, clock)
            assert readings["bat_factory"].valid

    run(body())


def test_wrong_scale_is_caught_by_the_response_check(small_site):
    async def body():
        async with sim_fleet(small_site) as (park, fleet, clock):
            park.faults.inject("wrong_scale", "dev_bat_factory", factor=2.0)
            sp = {"bat_factory": StorageSetpoint(-20.0)}
            _, results = await cycle(park, fleet, clock, setpoints=sp)
            assert all(r.status in (WriteStatus.OK, WriteStatus.UNCHANGED) for r in results["bat_factory"])
            for _ in range(12):  # settle 10 s + ramp
                readings, _ = await cycle(park, fleet, clock, setpoints=sp)
            bat = readings["bat_factory"]
            assert park.state().battery_kw["bat_factory"] == pytest.approx(-20.0, abs=0.5)
            assert bat.p_kw == pytest.approx(-40.0, abs=1)  # the device reports 2x
            assert bat.health is Health.DEGRADED
            assert any("response mismatch: measured -40" in p for p in bat.problems)
            park.faults.clear_all()
            for _ in range(2):
                readings, _ = await cycle(park, fleet, clock, setpoints=sp)
            assert readings["bat_factory"].health is Health.ONLINE and not readings["bat_factory"].problems

    run(body())
