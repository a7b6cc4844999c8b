"""Park orchestration: start/stop, clock-driven stepping, determinism, every point served, day-long balances."""

from __future__ import annotations

import asyncio
import time
from datetime import datetime

import pytest

from drivers.registermap import decode, load_map
from microgrid.clock import SteppedClock
from sim.park import Park
from tests.sim.simtools import NOON, TZ, MapClient, make_park, run_async


def test_reference_park_starts_and_stops_quickly(reference_site):
    async def scenario():
        t0 = time.perf_counter()
        park = Park.from_site(reference_site, SteppedClock(NOON), bind="auto")
        await park.start()
        started = time.perf_counter() - t0
        rows = park.endpoint_rows()
        await park.stop()
        return started, time.perf_counter() - t0, rows

    started, total, rows = run_async(scenario())
    assert len(rows) == len(reference_site.devices) == 23
    assert {r["map"] for r in rows} == {d.map for d in reference_site.devices}
    assert total < 10.0, f"start {started:.2f} s, start+stop {total:.2f} s"


def test_background_task_steps_on_the_clock(small_site):
    async def scenario():
        clock = SteppedClock(NOON)
        park = Park.from_site(small_site, clock, bind="auto", step_s=1.0)
        await park.start()
        try:
            await clock.run_for(10.0)
            assert park.t_s == pytest.approx(10.0)
            assert park.now == clock.now()
            assert park.steps == 11  # the construction step + 10
        finally:
            await park.stop()
        assert all(not e.running for e in park.endpoints.values())

    run_async(scenario())


def _run(site, seed: int) -> dict:
    park = Park.from_site(site, SteppedClock(NOON), seed=seed, bind="auto", load_noise_pct=2.0)
    park.faults.inject("noise", "dev_meter_pcc", sigma_pct=1.0)
    for _ in range(120):
        park.step(1.0)
    return {"pcc": park.state().pcc_import_kw, "served": park.devices["dev_meter_pcc"].served["p_kw"]}


def test_same_seed_same_run(small_site):
    assert _run(small_site, 7) == _run(small_site, 7)
    assert _run(small_site, 7) != _run(small_site, 8)


def test_every_point_of_every_device_is_served_and_decodes(reference_site):
    async def scenario():
        park = make_park(reference_site)
        await park.start(run=False)
        checked = 0
        try:
            for row in park.endpoint_rows():
                rmap = load_map(str(row["map"]))
                device = park.devices[str(row["device"])]
                async with MapClient(int(row["port"]), rmap.name, unit=int(row["unit_id"])) as c:
                    for table, address, count, points in rmap.read_blocks(rmap.points):
                        read = {
                            "holding": c.client.read_holding_registers,
                            "input": c.client.read_input_registers,
                            "coil": c.client.read_coils,
                            "discrete_input": c.client.read_discrete_inputs,
                        }[table]
                        rr = await read(address, count=count, device_id=c.unit)
                        assert not rr.isError(), (row["device"], table, address, rr)
                        for point in points:
                            offset = point.address - address
                            if table in ("coil", "discrete_input"):
                                regs = [int(rr.bits[offset])]
                            else:
                                regs = rr.registers[offset : offset + point.n_registers]
                            sf = None
                            if point.scale_sf:
                                sf_point = rmap.point(point.scale_sf)
                                sf = rr_sf = device.served[sf_point.id]
                                assert isinstance(rr_sf, int)
                            value = decode(point, regs, sf)
                            served = device.served[point.id]
                            if isinstance(served, float) and value is not None:
                                step = abs(point.scale) * 10.0 ** (sf or 0)
                                assert value == pytest.approx(served, abs=step, rel=1e-6), (
                                    row["device"],
                                    point.id,
                                )
                            checked += 1
        finally:
            await park.stop()
        return checked

    assert run_async(scenario()) > 700


def test_a_day_conserves_battery_and_tank_energy(reference_site):
    park = Park.from_site(
        reference_site, SteppedClock(datetime(2025, 7, 16, 0, 0, tzinfo=TZ)), bind="auto", load_noise_pct=0.0
    )
    pcs = park.devices["dev_ess_pcs"]
    assert pcs.client_write("holding", 0x0D60, [0]) is None  # watchdog off: no client in this test
    assert pcs.client_write("holding", 0x0291, [1]) is None
    bat = park.batteries["ess_shared"]
    tanks = {hp_id: hp.tank for hp_id, hp in park.heat_pumps.items()}
    soc0 = bat.soc_pct
    for minute in range(24 * 60):
        hour = minute / 60
        setpoint = 2000.0 if hour < 7 else -1800.0 if 17 <= hour < 21 else 0.0  # raw: + charge
        raw = round(setpoint * 10)
        assert pcs.client_write("holding", 0x0D57, [raw & 0xFFFF]) is None
        park.step(60.0)
    assert park.now.day == 17  # crossed midnight onto the next day's profile
    state = bat.state
    stored = (bat.soc_pct - soc0) / 100 * bat.spec.e_kwh
    assert stored == pytest.approx(
        bat.params.eta_charge * state.e_charged_kwh - state.e_discharged_kwh / bat.params.eta_discharge,
        abs=1e-6,
    )
    assert state.e_charged_kwh > 2000 and state.e_discharged_kwh > 2000  # full to empty: SoC limits held
    assert bat.spec.soc_min_pct - 1e-9 <= bat.soc_pct <= bat.spec.soc_max_pct + 1e-9
    for hp_id, hp in park.heat_pumps.items():
        t0 = tanks[hp_id].temp_c
        tank = hp.tank
        cap = hp.tank_params.capacity_kwh_per_k
        assert cap * (tank.temp_c - t0) == pytest.approx(
            tank.q_in_kwh - tank.q_served_kwh - tank.q_loss_kwh, abs=1e-6
        )
        assert tank.q_in_kwh == pytest.approx(hp.e_el_kwh * hp.cop, rel=0.2)
        assert tank.q_unmet_kwh == pytest.approx(0.0, abs=1.0)
        assert hp.spec.tank_temp_min_c - 1 < tank.temp_c <= hp.spec.tank_temp_max_c + 1e-6


def test_pandapower_network_adds_losses(small_site):
    balance = Park.from_site(small_site, SteppedClock(NOON), bind="auto", load_noise_pct=0.0)
    flow = Park.from_site(
        small_site, SteppedClock(NOON), bind="auto", load_noise_pct=0.0, network="pandapower"
    )
    balance.step(1.0)
    flow.step(1.0)
    losses = flow.state().losses_kw
    assert 0.0 < losses < 0.05 * abs(balance.state().pcc_import_kw)
    assert flow.state().pcc_import_kw == pytest.approx(balance.state().pcc_import_kw + losses)


def test_client_site_points_at_the_served_ports(small_site):
    async def scenario():
        park = make_park(small_site)
        await park.start(run=False)
        try:
            client_site = park.client_site()
            served = {r["device"]: r["port"] for r in park.endpoint_rows()}
            assert {d.id: d.port for d in client_site.devices} == served
            assert all(d.port != 15120 for d in client_site.devices if d.id == "dev_meter_pcc")
        finally:
            await park.stop()

    run_async(scenario())


def test_stepped_clock_wakes_sleepers_in_order():
    clock = SteppedClock(NOON)
    seen = []

    async def sleeper(name, period, n):
        for _ in range(n):
            await clock.sleep(period)
            seen.append((name, clock.monotonic()))

    async def scenario():
        tasks = [asyncio.create_task(sleeper("a", 1.0, 5)), asyncio.create_task(sleeper("b", 2.5, 2))]
        await asyncio.sleep(0)
        await clock.run_for(5.0)
        await asyncio.gather(*tasks)

    run_async(scenario())
    # equal deadlines wake in the order the sleeps began (b slept at 2.5 s, a at 4 s)
    assert seen == [("a", 1.0), ("a", 2.0), ("b", 2.5), ("a", 3.0), ("a", 4.0), ("b", 5.0), ("a", 5.0)]
    assert clock.now() == NOON.replace(second=5)
