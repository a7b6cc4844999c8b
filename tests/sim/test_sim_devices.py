"""Device semantics per map family, observed from a plain pymodbus client over loopback TCP."""

from __future__ import annotations

from datetime import datetime

import pytest

from tests.sim.simtools import TZ, MapClient, make_park, port_of, run_async


def variant(site, device_id: str, **update):
    devices = [d.model_copy(update=update) if d.id == device_id else d for d in site.devices]
    return site.model_copy(update={"devices": devices})


def test_sungrow_sg_limit_needs_the_switch_then_follows_the_setting(reference_site):
    async def scenario():
        park = make_park(reference_site)
        await park.start(run=False)
        try:
            async with MapClient(port_of(park, "dev_pv_electronics"), "sungrow_sg") as c:
                true_w = park.state().pv_kw["pv_electronics"] * 1000.0
                assert await c.read("p_ac_w") == round(true_w)
                assert await c.read("p_nominal_kw") == pytest.approx(1000.0)
                await c.write_ok("p_limit_pct", 30.0)
                await park.advance(1.0)
                assert park.state().pv_kw["pv_electronics"] > 500.0  # switch still disabled: no effect
                await c.write_ok("p_limit_switch", 0xAA)
                await park.advance(1.0)
                assert park.state().pv_kw["pv_electronics"] == pytest.approx(300.0)
                assert await c.read("p_ac_w") == 300_000
                assert await c.read("p_limit_pct") == pytest.approx(30.0)  # read back (FC3)
                assert await c.read("work_state") == 0x8200
                await c.write_ok("start_stop", 0xCE)
                await park.advance(1.0)
                assert park.state().pv_kw["pv_electronics"] == 0.0
                assert await c.read("work_state") == 0x8000
                bad = await c.write("p_limit_pct", 120.0)  # above the 110 % maximum
                assert bad.isError() and bad.exception_code == 3
        finally:
            await park.stop()

    run_async(scenario())


def test_sungrow_sh_ems_mode_sequence_and_self_consumption(small_site):
    site = variant(small_site, "dev_bat_factory", map="sungrow_sh")

    async def scenario():
        park = make_park(site)
        await park.start(run=False)
        try:
            async with MapClient(port_of(park, "dev_bat_factory"), "sungrow_sh") as c:
                # input and holding tables share address 12999 with different content
                assert await c.read("system_state") == 0x0040
                assert await c.read("start_stop") == 0xCF
                # mode 0 (self-consumption): the battery covers the factory's import within its rating
                await park.advance(10.0)
                state = park.state()
                assert state.battery_kw["bat_factory"] > 0
                assert state.pcc_import_kw == pytest.approx(
                    park.tenant_forward_kw("factory", exclude="bat_factory") - state.battery_kw["bat_factory"]
                )
                # the documented sequence: 13050 = 2, 13051 = 0xAA, 13052 = P
                await c.write_ok("ems_mode", 2)
                await c.write_ok("charge_cmd", 0xAA)
                await c.write_ok("charge_power_w", 20_000)
                await park.advance(10.0)
                assert park.state().battery_kw["bat_factory"] == pytest.approx(-20.0)
                assert await c.read("bat_p_w") == 20_000  # 13022 is an int16: SH systems stay below 32.7 kW
                assert await c.read("running_state") & 0b10  # charging bit
                assert await c.read("system_state") == 0x0800
                await c.write_ok("charge_cmd", 0xBB)
                await park.advance(10.0)
                assert park.state().battery_kw["bat_factory"] == pytest.approx(20.0)
                assert await c.read("running_state") & 0b100  # discharging bit
                await c.write_ok("charge_cmd", 0xCC)
                await park.advance(10.0)
                assert park.state().battery_kw["bat_factory"] == pytest.approx(0.0)
        finally:
            await park.stop()

    run_async(scenario())


def test_huawei_derating_zero_export_and_status(reference_site):
    async def scenario():
        park = make_park(reference_site)
        await park.start(run=False)
        try:
            async with MapClient(port_of(park, "dev_pv_shoes"), "huawei_sun2000", unit=1) as c:
                assert await c.read("p_max_w") == 1_250_000
                assert await c.read("device_status") == 0x0200
                await c.write_ok("p_derate_pct", 20.0)
                await park.advance(1.0)
                assert park.state().pv_kw["pv_shoes"] == pytest.approx(250.0)
                assert await c.read("device_status") == 0x0201
                await c.write_ok("p_derate_pct", 100.0)
                # make the factory export: its base load drops by 1,000 kW
                park.faults.inject("load_step", "shoes", delta_kw=-1000.0)
                await park.advance(1.0)
                assert await c.read("meter_p_w") > 100_000  # feeding in
                await c.write_ok("p_control_mode", 5)  # zero-power grid connection
                await park.advance(1.0)
                assert park.state().meter_kw["meter_shoes"] == pytest.approx(0.0, abs=1e-6)
                assert abs(await c.read("meter_p_w")) <= 1
                await c.write_ok("feed_in_limit_w", 50_000)
                await c.write_ok("p_control_mode", 6)
                await park.advance(1.0)
                assert park.state().meter_kw["meter_shoes"] == pytest.approx(-50.0)
                await c.write_ok("shutdown", 1)
                await park.advance(1.0)
                assert park.state().pv_kw["pv_shoes"] == 0.0
                assert await c.read("device_status") == 0x0301
                ro = await c.write("p_ac_w", 5)
                assert ro.isError() and ro.exception_code == 2  # read-only register
        finally:
            await park.stop()

    run_async(scenario())


def test_huawei_forced_charge_expires_after_its_period(small_site):
    site = variant(small_site, "dev_bat_factory", map="huawei_sun2000", unit_id=1)

    async def scenario():
        park = make_park(site)
        await park.start(run=False)
        try:
            async with MapClient(port_of(park, "dev_bat_factory"), "huawei_sun2000", unit=1) as c:
                await c.write_ok("bat_forced_period_min", 1)
                await c.write_ok("bat_forced_charge_w", 80_000)
                await c.write_ok("bat_forced_cmd", 1)
                await park.advance(30.0, step_s=1.0)
                assert park.state().battery_kw["bat_factory"] == pytest.approx(-80.0)
                assert await c.read("bat_p_w") == 80_000  # Huawei: charging positive
                await park.advance(31.0, step_s=1.0)
                assert await c.read("bat_forced_cmd") == 0  # the period ran out by itself
                assert park.state().battery_kw["bat_factory"] == pytest.approx(0.0)
        finally:
            await park.stop()

    run_async(scenario())


def test_pcs_bms_pair_setpoint_sign_watchdog_and_reset(reference_site):
    async def scenario():
        park = make_park(reference_site)
        await park.start(run=False)
        port = port_of(park, "dev_ess_pcs")
        try:
            async with MapClient(port, "cn_pcs", unit=1) as pcs, MapClient(port, "cn_bms", unit=2) as bms:
                assert await pcs.read("run_state") == 0
                await pcs.write_ok("p_set_kw", 1000.0)  # raw positive = CHARGE
                await pcs.write_ok("run_cmd", 1)
                await park.advance(10.0, step_s=1.0)
                assert park.state().battery_kw["ess_shared"] == pytest.approx(-1000.0)
                assert await pcs.read("p_kw") == pytest.approx(1000.0)
                assert await pcs.read("run_state") == 2
                assert await bms.read("i_a") > 0  # BMS: charging positive
                assert await bms.read("flags") == 0
                assert await bms.read("soc_pct") == pytest.approx(
                    park.state().soc_pct["ess_shared"], abs=0.05
                )
                await pcs.write_ok("p_set_kw", -500.0)
                await park.advance(10.0, step_s=1.0)
                assert park.state().battery_kw["ess_shared"] == pytest.approx(500.0)
                # EMS watchdog: 10 s without any request trips the PCS with the EMS-communication bit
                await pcs.write_ok("ems_timeout_s", 10)
                await bms.write_ok("ems_timeout_s", 0)
                await park.advance(12.0, step_s=1.0)
                assert park.state().battery_kw["ess_shared"] == 0.0
                assert await pcs.read("fault_system") & 1
                assert await pcs.read("run_state") == 3
                await pcs.write_ok("run_cmd", 1)  # refused while the fault is latched
                await park.advance(1.0)
                assert park.state().battery_kw["ess_shared"] == 0.0
                await pcs.write_ok("fault_reset", 1)
                await pcs.write_ok("run_cmd", 1)
                await park.advance(4.0, step_s=1.0)
                assert await pcs.read("fault_system") == 0
                assert park.state().battery_kw["ess_shared"] == pytest.approx(500.0)
        finally:
            await park.stop()

    run_async(scenario())


def test_bms_ems_timeout_opens_the_contactor_and_trips_the_pcs(reference_site):
    async def scenario():
        park = make_park(reference_site)
        await park.start(run=False)
        port = port_of(park, "dev_ess_pcs")
        try:
            async with MapClient(port, "cn_pcs", unit=1) as pcs, MapClient(port, "cn_bms", unit=2) as bms:
                await pcs.write_ok("ems_timeout_s", 0)
                await bms.write_ok("ems_timeout_s", 5)
                await pcs.write_ok("p_set_kw", -200.0)
                await pcs.write_ok("run_cmd", 1)
                await park.advance(6.0, step_s=1.0)
                assert park.state().battery_kw["ess_shared"] == 0.0
                assert await bms.read("ems_comm_timeout") == 1
                assert await bms.read("contactor_open") == 1
                assert await bms.read("flags") == 0b011
                assert await pcs.read("fault_system") & 0b100  # BMS fault
                await bms.write_ok("alarm_reset", 1)
                await pcs.write_ok("fault_reset", 1)
                await pcs.write_ok("run_cmd", 1)
                await park.advance(2.0, step_s=1.0)
                assert park.state().battery_kw["ess_shared"] == pytest.approx(200.0)
        finally:
            await park.stop()

    run_async(scenario())


def test_heat_pump_power_mode_refusal_and_watchdog(reference_site):
    async def scenario():
        park = make_park(reference_site)
        await park.start(run=False)
        try:
            async with MapClient(port_of(park, "dev_hp_shoes"), "heat_pump_controller", unit=1) as c:
                await c.write_ok("comm_timeout_s", 20)
                await c.write_ok("control_mode", 1)
                await c.write_ok("p_el_set_kw", 150.0)
                await park.advance(5.0, step_s=1.0)
                assert park.state().heat_pump_kw["hp_shoes"] == pytest.approx(150.0)
                assert await c.read("p_el_kw") == pytest.approx(150.0)
                cop = await c.read("cop")
                assert await c.read("q_th_kw") == pytest.approx(150.0 * cop, rel=0.01)
                too_much = await c.write("p_el_set_kw", 400.0)  # above the 300 kW unit
                assert too_much.isError() and too_much.exception_code == 3
                await park.advance(20.0, step_s=1.0)
                assert await c.read("control_mode") == 0  # watchdog fell back to thermostat
                assert await c.read("alarms") & 0b1000
        finally:
            await park.stop()

    run_async(scenario())


def test_ev_depot_local_full_power_and_remote_cap(reference_site):
    evening = datetime(2025, 7, 16, 20, 0, tzinfo=TZ)

    async def scenario():
        park = make_park(reference_site, start=evening)
        await park.start(run=False)
        try:
            async with MapClient(port_of(park, "dev_ev_logistics"), "flex_load_controller", unit=5) as c:
                await park.advance(1.0)
                assert park.state().flex_kw["ev_logistics"] == pytest.approx(1200.0)
                assert await c.read("n_connected") == 20
                await c.write_ok("p_set_kw", 300.0)
                await c.write_ok("remote_enable", 1)
                await park.advance(1.0)
                assert park.state().flex_kw["ev_logistics"] == pytest.approx(300.0)
                assert await c.read("p_kw") == pytest.approx(300.0)
                assert await c.read("e_pending_kwh") > 1000.0
        finally:
            await park.stop()

    run_async(scenario())


def test_meters_measure_the_flows_with_pt_ct_scaling(reference_site):
    from drivers.registermap import apply_ratios

    async def scenario():
        park = make_park(reference_site)
        await park.start(run=False)
        try:
            async with MapClient(port_of(park, "dev_meter_pcc"), "acrel_dtsd1352") as c:
                pt, ct = await c.read("pt_ratio"), await c.read("ct_ratio")
                assert (pt, ct) == (100, 80)
                secondary = await c.read("p_kw")
                primary = apply_ratios(c.map.point("p_kw"), secondary, {"pt_ratio": pt, "ct_ratio": ct})
                state = park.state()
                assert primary == pytest.approx(state.pcc_import_kw, abs=0.001 * pt * ct)
                consumption = (
                    sum(state.tenant_load_kw.values())
                    + sum(state.heat_pump_kw.values())
                    + sum(state.flex_kw.values())
                )
                generation = sum(state.pv_kw.values()) + sum(state.battery_kw.values())
                assert state.pcc_import_kw == pytest.approx(consumption - generation)
                u_a = apply_ratios(c.map.point("u_a_v"), await c.read("u_a_v"), {"pt_ratio": pt})
                assert u_a == pytest.approx(10_000 / 3**0.5, rel=0.001)
            async with MapClient(port_of(park, "dev_meter_electronics"), "chint_dtsu666", unit=2) as c:
                p_w = await c.read("p_w")
                ct = await c.read("ct_ratio")
                assert ct == 800
                assert p_w * ct / 1000.0 == pytest.approx(
                    park.state().meter_kw["meter_electronics"], rel=1e-5
                )
        finally:
            await park.stop()

    run_async(scenario())


def test_unknown_unit_is_silent_and_gaps_are_illegal(reference_site):
    async def scenario():
        from pymodbus.exceptions import ModbusIOException

        park = make_park(reference_site)
        await park.start(run=False)
        try:
            async with MapClient(port_of(park, "dev_meter_shoes"), "chint_dtsu666", unit=1) as c:
                gap = await c.client.read_holding_registers(0x0008, count=1, device_id=1)
                assert gap.isError() and gap.exception_code == 2
                with pytest.raises(ModbusIOException):
                    await c.client.read_holding_registers(0x2012, count=2, device_id=42)
        finally:
            await park.stop()

    run_async(scenario())


@pytest.mark.slow
def test_a_simulated_device_is_strict_like_a_real_one(small_site):
    """Only its own unit id (others: silence, as on RS-485), only its map's function codes (exception 1),
    only its map's addresses (exception 2); a meter whose map allows FC4 serves its registers on FC4 too."""
    from pymodbus.client import AsyncModbusTcpClient

    site = variant(small_site, "dev_meter_pcc", map="chint_dtsu666", map_options={"function_codes": "fc3_fc4_fc6_fc16"})

    async def scenario():
        park = make_park(site)
        await park.start(run=False)
        try:
            pv = AsyncModbusTcpClient("127.0.0.1", port=port_of(park, "dev_pv_roof"), timeout=0.3, retries=0)
            meter = AsyncModbusTcpClient("127.0.0.1", port=port_of(park, "dev_meter_pcc"), timeout=0.3, retries=0)
            await pv.connect()
            await meter.connect()
            try:
                ok = await pv.read_holding_registers(40000, count=2, device_id=1)
                assert ok.registers == [0x5375, 0x6E53]
                with pytest.raises(Exception, match="No response"):
                    await pv.read_holding_registers(40000, count=2, device_id=2)  # nobody at unit 2
                with pytest.raises(Exception, match="No response"):
                    await pv.read_holding_registers(40000, count=2, device_id=0)  # unit 0 is not a catch-all
                assert (await pv.read_input_registers(40000, count=2, device_id=1)).exception_code == 1
                assert (await pv.read_coils(0, count=1, device_id=1)).exception_code == 1
                assert (await pv.read_holding_registers(100, count=2, device_id=1)).exception_code == 2
                # the meter allows FC4 on its holding registers (map option) but not FC1
                fc3 = await meter.read_holding_registers(0x2012, count=2, device_id=1)
                fc4 = await meter.read_input_registers(0x2012, count=2, device_id=1)
                assert not fc3.isError() and fc4.registers == fc3.registers
                assert (await meter.read_coils(0, count=1, device_id=1)).exception_code == 1
            finally:
                pv.close()
                meter.close()
        finally:
            await park.stop()

    run_async(scenario())
