"""SunSpec devices checked by an independent client: pysunspec2 (its own Modbus stack) over loopback TCP."""

from __future__ import annotations

import asyncio

import pytest
import sunspec2.modbus.client as sunspec_client

from tests.sim.simtools import make_park, port_of, run_async


def _device(port: int):
    device = sunspec_client.SunSpecModbusClientDeviceTCP(
        slave_id=1, ipaddr="127.0.0.1", ipport=port, timeout=2
    )
    device.scan()
    return device


def test_pysunspec2_scans_reads_and_limits_the_pv_inverter(small_site):
    async def scenario():
        park = make_park(small_site)
        await park.start(run=False)
        try:
            await park.advance(10.0)
            device = await asyncio.to_thread(_device, port_of(park, "dev_pv_roof"))
            try:
                assert [m for m in device.models if isinstance(m, int)] == [1, 701, 702, 703, 704, 715]
                common = device.models[1][0]
                assert common.SN.value == "dev_pv_roof"
                nameplate = device.models[702][0]
                assert nameplate.WMaxRtg.cvalue == pytest.approx(420_000.0)
                meas = device.models[701][0]
                true_w = park.state().pv_kw["pv_roof"] * 1000.0
                assert true_w > 200_000  # July noon
                resolution = 10.0**meas.W_SF.value
                assert meas.W.cvalue == pytest.approx(true_w, abs=resolution / 2 + 1e-6)
                assert meas.InvSt.value == 3  # RUNNING

                ctl = device.models[704][0]
                ctl.WMaxLimPct.cvalue = 25.0
                ctl.WMaxLimPctEna.value = 1
                await asyncio.to_thread(ctl.write)
                await park.advance(2.0)
                assert park.state().pv_kw["pv_roof"] == pytest.approx(105.0)
                await asyncio.to_thread(meas.read)
                assert meas.W.cvalue == pytest.approx(105_000.0, abs=resolution)
                assert meas.InvSt.value == 4  # THROTTLED
                await asyncio.to_thread(ctl.read)
                assert ctl.WMaxLimPct.cvalue == pytest.approx(25.0)
            finally:
                device.close()
        finally:
            await park.stop()

    run_async(scenario())


def test_wmaxlimpct_revert_timer_expires(small_site):
    async def scenario():
        park = make_park(small_site)
        await park.start(run=False)
        try:
            device = await asyncio.to_thread(_device, port_of(park, "dev_pv_roof"))
            try:
                ctl = device.models[704][0]
                ctl.WMaxLimPctRvrtTms.value = 30
                ctl.WMaxLimPct.cvalue = 40.0
                ctl.WMaxLimPctEna.value = 1
                await asyncio.to_thread(ctl.write)
                await park.advance(20.0, step_s=1.0)
                assert park.state().pv_kw["pv_roof"] == pytest.approx(168.0)
                await asyncio.to_thread(ctl.read)
                assert ctl.WMaxLimPctRvrtRem.value == 10
                await park.advance(11.0, step_s=1.0)
                assert park.state().pv_kw["pv_roof"] > 200.0  # reverted: WMaxLimPctEnaRvrt = 0
                await asyncio.to_thread(ctl.read)
                assert ctl.WMaxLimPctEna.value == 0
                assert ctl.WMaxLimPct.cvalue == pytest.approx(100.0)
                assert ctl.WMaxLimPctRvrtRem.value == 0
            finally:
                device.close()
        finally:
            await park.stop()

    run_async(scenario())


def test_battery_wset_charges_and_heartbeat_loss_reverts(small_site):
    async def scenario():
        park = make_park(small_site)
        await park.start(run=False)
        try:
            device = await asyncio.to_thread(_device, port_of(park, "dev_bat_factory"))
            try:
                assert [m for m in device.models if isinstance(m, int)] == [1, 701, 702, 704, 713, 715, 802]
                bat = device.models[802][0]
                bat.CtrlHb.value = 1
                await asyncio.to_thread(bat.write)
                ctl = device.models[704][0]
                ctl.WSetMod.value = 1
                ctl.WSet.cvalue = -100_000.0  # charge 100 kW (negative = absorb)
                ctl.WSetEna.value = 1
                await asyncio.to_thread(ctl.write)
                soc0 = park.state().soc_pct["bat_factory"]
                await park.advance(20.0, step_s=1.0)
                state = park.state()
                assert state.battery_kw["bat_factory"] == pytest.approx(-100.0)
                # ramp 50 kW/s: 1 s at 50 kW then 19 s at 100 kW, eta 0.95, 400 kWh
                expected = soc0 + (50.0 + 19 * 100.0) / 3600.0 * 0.95 / 400.0 * 100.0
                assert state.soc_pct["bat_factory"] == pytest.approx(expected, abs=1e-9)
                meas = device.models[701][0]
                await asyncio.to_thread(meas.read)
                assert meas.W.cvalue == pytest.approx(-100_000.0, abs=10.0**meas.W_SF.value)
                await asyncio.to_thread(bat.read)
                assert bat.ChaSt.value == 4  # CHARGING
                assert bat.SoC.cvalue == pytest.approx(state.soc_pct["bat_factory"], abs=0.1)
                hb0 = bat.Hb.value
                # the controller keeps its heartbeat alive ...
                bat.CtrlHb.value = 2
                await asyncio.to_thread(bat.write)
                await park.advance(25.0, step_s=1.0)
                assert park.state().battery_kw["bat_factory"] == pytest.approx(-100.0)
                await asyncio.to_thread(bat.read)
                assert bat.Hb.value - hb0 == 25  # the device's heartbeat counts seconds
                # ... then stops: 30 s later the device reverts WSet to WSetRvrt (0 W)
                await park.advance(10.0, step_s=1.0)
                assert park.state().battery_kw["bat_factory"] == pytest.approx(0.0)
                await asyncio.to_thread(ctl.read)
                assert ctl.WSetEna.value == 0
            finally:
                device.close()
        finally:
            await park.stop()

    run_async(scenario())


def test_reference_park_ieee1547_inverter_follows_wset(reference_site):
    async def scenario():
        park = make_park(reference_site)
        await park.start(run=False)
        try:
            device = await asyncio.to_thread(_device, port_of(park, "dev_pv_food"))
            try:
                ctl = device.models[704][0]
                ctl.WSetMod.value = 1
                ctl.WSet.cvalue = 123_000.0
                ctl.WSetEna.value = 1
                await asyncio.to_thread(ctl.write)
                await park.advance(2.0)
                assert park.state().pv_kw["pv_food"] == pytest.approx(123.0)
                meas = device.models[701][0]
                await asyncio.to_thread(meas.read)
                assert meas.W.cvalue == pytest.approx(123_000.0, abs=10.0**meas.W_SF.value)
            finally:
                device.close()
        finally:
            await park.stop()

    run_async(scenario())
