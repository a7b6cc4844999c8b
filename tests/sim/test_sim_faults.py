"""Every fault type, observed from a plain pymodbus client; scenario files."""

from __future__ import annotations

from pathlib import Path

import pytest
from pymodbus.exceptions import ConnectionException, ModbusIOException

from sim.faults import FaultError, load_scenario
from tests.paths import REFERENCE_PARK
from tests.sim.simtools import MapClient, make_park, port_of, run_async


def with_park(site, body, **kwargs):
    async def scenario():
        park = make_park(site, **kwargs)
        await park.start(run=False)
        try:
            await body(park)
        finally:
            await park.stop()

    run_async(scenario())


def test_device_offline_silent_then_back(small_site):
    async def body(park):
        async with MapClient(port_of(park, "dev_meter_pcc"), "acrel_dtsd1352", timeout_s=0.3) as c:
            assert await c.read("pt_ratio") == 100
            fault = park.faults.inject("device_offline", "dev_meter_pcc", duration_s=5.0)
            with pytest.raises(ModbusIOException):
                await c.raw("p_kw")
            await park.advance(6.0)
            assert fault.state == "cleared"
            assert await c.read("pt_ratio") == 100

    with_park(small_site, body)


def test_device_offline_refuse_closes_the_port_and_comes_back(small_site):
    async def body(park):
        port = port_of(park, "dev_pv_roof")
        async with MapClient(port, "sunspec_inverter", timeout_s=0.3) as c:
            park.faults.inject("device_offline", "dev_pv_roof", duration_s=3.0, mode="refuse")
            await park.publish()
            with pytest.raises((ConnectionException, ModbusIOException)):
                await c.raw("sunspec_marker")
            await park.advance(4.0)
            assert port_of(park, "dev_pv_roof") == port  # same port again
        async with MapClient(port, "sunspec_inverter", timeout_s=0.5) as again:
            assert await again.read("sunspec_marker") == "SunS"

    with_park(small_site, body)


def test_response_delay_beyond_client_timeout(small_site):
    async def body(park):
        park.faults.inject("response_delay", "dev_meter_pcc", delay_s=0.6)
        async with MapClient(port_of(park, "dev_meter_pcc"), "acrel_dtsd1352", timeout_s=0.3) as fast:
            with pytest.raises(ModbusIOException):
                await fast.raw("p_kw")
        async with MapClient(port_of(park, "dev_meter_pcc"), "acrel_dtsd1352", timeout_s=3.0) as patient:
            assert await patient.read("ct_ratio") == 20

    with_park(small_site, body)


def test_exception_replies_busy_and_illegal_address(small_site):
    async def body(park):
        async with MapClient(port_of(park, "dev_pv_roof"), "sunspec_inverter") as c:
            busy = park.faults.inject("exception", "dev_pv_roof", code="busy")
            rr = await c.raw("sunspec_marker")
            assert rr.isError() and rr.exception_code == 6
            park.faults.clear(busy)
            park.faults.inject("exception", "dev_pv_roof", code="illegal_address", requests="write")
            assert await c.read("sunspec_marker") == "SunS"  # reads still fine
            rr = await c.write("m704_w_max_lim_pct_ena", 1)
            assert rr.isError() and rr.exception_code == 2
            assert park.devices["dev_pv_roof"].writes == []

    with_park(small_site, body)


def test_frozen_noise_and_wrong_scale(small_site):
    async def body(park):
        truth = lambda: park.state().pcc_import_kw  # noqa: E731
        pt_ct = 100 * 20
        async with MapClient(port_of(park, "dev_meter_pcc"), "acrel_dtsd1352") as c:
            before = await c.read("p_kw")
            assert before * pt_ct == pytest.approx(truth(), abs=pt_ct * 0.001)
            frozen = park.faults.inject("frozen_values", "dev_meter_pcc")
            park.faults.inject("load_step", "factory", delta_kw=150.0)
            await park.advance(2.0)
            assert truth() == pytest.approx(before * pt_ct + 150.0, abs=5.0)
            assert await c.read("p_kw") == before  # frozen
            park.faults.clear(frozen)
            scale = park.faults.inject("wrong_scale", "dev_meter_pcc", factor=10.0)
            await park.advance(1.0)
            assert await c.read("p_kw") * pt_ct == pytest.approx(10.0 * truth(), abs=10 * pt_ct * 0.001)
            park.faults.clear(scale)
            park.faults.inject("noise", "dev_meter_pcc", sigma_pct=2.0)
            errors = []
            for _ in range(30):
                await park.advance(1.0)
                errors.append(await c.read("p_kw") * pt_ct / truth() - 1.0)
            spread = (sum(e * e for e in errors) / len(errors)) ** 0.5
            assert 0.005 < spread < 0.05
            assert all(abs(e) < 0.12 for e in errors)

    with_park(small_site, body)


def test_meter_loss_zero_and_silent(small_site):
    async def body(park):
        async with MapClient(port_of(park, "dev_meter_pcc"), "acrel_dtsd1352", timeout_s=0.3) as c:
            assert abs(park.state().pcc_import_kw) > 10
            loss = park.faults.inject("meter_loss", "dev_meter_pcc", mode="zero")
            await park.advance(1.0)
            assert await c.read("p_kw") == 0.0
            assert await c.read("i_a_a") == 0.0
            park.faults.clear(loss)
            park.faults.inject("meter_loss", "dev_meter_pcc")
            with pytest.raises(ModbusIOException):
                await c.raw("p_kw")

    with_park(small_site, body)


def test_cloud_transient_and_load_step(small_site):
    async def body(park):
        async with (
            MapClient(port_of(park, "dev_pv_roof"), "sunspec_inverter") as inv,
            MapClient(port_of(park, "dev_meter_pcc"), "acrel_dtsd1352") as meter,
        ):
            sf = await inv.read("m701_w_sf")
            before = await inv.read("m701_w", sf=sf)
            assert before < 420_000  # not clipped, so the output scales with the sun
            park.faults.inject("cloud_transient", duration_s=60.0, factor=0.25)
            await park.advance(1.0)
            after = await inv.read("m701_w", sf=sf)
            assert after == pytest.approx(
                0.25 * park.state().pv_available_kw["pv_roof"] * 1000.0 / 0.25, rel=0.02
            )
            assert after == pytest.approx(0.25 * before, rel=0.02)
            p0 = await meter.read("p_kw") * 2000
            park.faults.inject("load_step", "factory", delta_kw=300.0)
            await park.advance(1.0)
            assert await meter.read("p_kw") * 2000 - p0 == pytest.approx(300.0, abs=5.0)

    with_park(small_site, body)


def test_bms_faults_and_pcs_trip(reference_site):
    async def body(park):
        port = port_of(park, "dev_ess_pcs")
        async with MapClient(port, "cn_pcs", unit=1) as pcs, MapClient(port, "cn_bms", unit=2) as bms:
            await pcs.write_ok("ems_timeout_s", 0)
            await bms.write_ok("ems_timeout_s", 0)
            await pcs.write_ok("p_set_kw", 300.0)  # charge
            await pcs.write_ok("run_cmd", 1)
            await park.advance(3.0, step_s=1.0)
            assert park.state().battery_kw["ess_shared"] == pytest.approx(-300.0)
            block = park.faults.inject("charge_not_allowed", "dev_ess_bms")
            await park.advance(1.0)
            assert await bms.read("flags") & 1
            assert await bms.read("i_charge_max_a") == 0.0
            assert park.state().battery_kw["ess_shared"] == 0.0
            park.faults.clear(block)
            await park.advance(2.0, step_s=1.0)
            assert park.state().battery_kw["ess_shared"] == pytest.approx(-300.0)
            warn = park.faults.inject("bms_alarm", "ess_shared", level=2)
            await park.advance(1.0)
            assert await bms.read("alarm_level") == 2 and await bms.read("cell_ot_l2") == 1
            assert await pcs.read("run_state") == 2  # a level-2 alarm does not trip
            park.faults.clear(warn)
            park.faults.inject("bms_alarm", "ess_shared", level=3, duration_s=2.0)
            await park.advance(1.0)
            assert await bms.read("flags") & 0b100
            assert await pcs.read("fault_system") & 0b100
            assert park.state().battery_kw["ess_shared"] == 0.0
            await park.advance(3.0)  # cause gone, fatal stays latched until reset
            assert await bms.read("flags") & 0b100
            await bms.write_ok("alarm_reset", 1)
            await pcs.write_ok("fault_reset", 1)
            await pcs.write_ok("run_cmd", 1)
            await park.advance(2.0, step_s=1.0)
            assert park.state().battery_kw["ess_shared"] == pytest.approx(-300.0)
            park.faults.inject("pcs_trip", "dev_ess_pcs")
            await park.advance(1.0)
            assert await pcs.read("fault_system") & 0b10000
            assert await pcs.read("run_state") == 3
            assert park.state().battery_kw["ess_shared"] == 0.0

    with_park(reference_site, body)


def test_sunspec_battery_sees_bms_faults(small_site):
    async def body(park):
        async with MapClient(port_of(park, "dev_bat_factory"), "sunspec_battery") as c:
            sf = await c.read("m704_w_set_sf")
            await c.write_ok("m704_w_set", 60_000, sf=sf)
            await c.write_ok("m704_w_set_ena", 1)
            await park.advance(3.0, step_s=1.0)
            assert park.state().battery_kw["bat_factory"] == pytest.approx(60.0)
            park.faults.inject("discharge_not_allowed", "bat_factory", duration_s=5.0)
            await park.advance(1.0)
            assert park.state().battery_kw["bat_factory"] == 0.0
            assert await c.read("m802_a_dis_cha_max", sf=await c.read("m802_a_max_sf")) == 0.0
            park.faults.inject("pcs_trip", "bat_factory", duration_s=2.0, at_s=park.t_s + 10.0)
            await park.advance(6.0, step_s=1.0)
            assert park.state().battery_kw["bat_factory"] > 0
            await park.advance(5.0, step_s=1.0)
            assert park.state().battery_kw["bat_factory"] == 0.0  # tripped for 2 s
            await park.advance(4.0, step_s=1.0)
            assert park.state().battery_kw["bat_factory"] > 0

    with_park(small_site, body)


def test_example_scenario_loads_and_schedules(reference_site):
    scenario = load_scenario(REFERENCE_PARK / "faults_example.yaml")
    assert len(scenario.faults) >= 13
    kinds = {f.type for f in scenario.faults}
    assert kinds >= {
        "device_offline",
        "response_delay",
        "exception",
        "frozen_values",
        "noise",
        "wrong_scale",
        "meter_loss",
        "bms_alarm",
        "charge_not_allowed",
        "pcs_trip",
        "cloud_transient",
        "load_step",
    }
    park = make_park(reference_site, faults=scenario)
    scheduled = {f.spec.note or f.spec.type: f for f in park.faults.faults}
    assert len(park.faults.faults) == len(scenario.faults)
    evening = [f for f in park.faults.faults if f.spec.at == "18:00"][0]
    assert evening.start_s == 6 * 3600  # the park starts at 12:00
    park.step(61.0)
    assert sorted(f.spec.type for f in park.faults.active()) == ["noise", "response_delay"]
    assert park.devices["dev_pv_shoes"].faults.delay_s == 4.0
    assert park.devices["dev_meter_coatings"].faults.noise_pct == 0.5
    assert scheduled


def test_scenario_problems_are_reported(tmp_path: Path, small_site):
    bad = tmp_path / "bad.yaml"
    bad.write_text(
        "faults:\n"
        "  - {type: response_delay, target: dev_meter_pcc}\n"
        "  - {type: exception, target: dev_meter_pcc, code: nope}\n"
        "  - {type: teleport, target: x}\n"
        "  - {type: noise, target: dev_meter_pcc, sigma_pct: 1, at: '25:00'}\n"
    )
    with pytest.raises(FaultError) as err:
        load_scenario(bad)
    text = str(err.value)
    assert "faults[0]: response_delay needs 'delay_s'" in text
    assert "faults[1]: code 'nope' unknown" in text
    assert "faults[2].type:" in text
    assert "faults[3]: at: '25:00' is not a local time" in text
    park = make_park(small_site)
    with pytest.raises(FaultError, match="unknown device 'dev_nope'"):
        park.faults.inject("frozen_values", "dev_nope")
    with pytest.raises(FaultError, match="unknown tenant 'nobody'"):
        park.faults.inject("load_step", "nobody", delta_kw=1.0)
