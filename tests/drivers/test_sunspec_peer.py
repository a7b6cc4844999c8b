"""An independent peer: pysunspec2 (its own Modbus stack) and our driver read the same simulated SunSpec
devices, agree on the model chain and the values, and see each other's writes."""

from __future__ import annotations

import asyncio

import pytest
import sunspec2.modbus.client as sunspec_client

from drivers.capabilities import PVSetpoint, StorageSetpoint
from tests.drivers.conftest import cycle, run, sim_fleet, with_devices


def _scan(port: int) -> sunspec_client.SunSpecModbusClientDeviceTCP:
    device = sunspec_client.SunSpecModbusClientDeviceTCP(slave_id=1, ipaddr="127.0.0.1", ipport=port, timeout=2)
    device.scan()
    return device


def _port(fleet, device_id: str) -> int:
    return fleet.devices[device_id].transport.endpoint.port


def test_pysunspec2_and_our_driver_agree_on_a_sunspec_inverter_and_battery(small_site):
    async def body():
        async with sim_fleet(small_site) as (park, fleet, clock):
            readings, _ = await cycle(park, fleet, clock)
            inv = await asyncio.to_thread(_scan, _port(fleet, "dev_pv_roof"))
            bat = await asyncio.to_thread(_scan, _port(fleet, "dev_bat_factory"))
            try:
                ours_inv, ours_bat = fleet.devices["dev_pv_roof"], fleet.devices["dev_bat_factory"]
                # the same model chain, in the same order
                assert [m for m in inv.models if isinstance(m, int)] == ours_inv.regmap.sunspec_models
                assert [m for m in bat.models if isinstance(m, int)] == ours_bat.regmap.sunspec_models
                m701 = inv.models[701][0]
                m702 = inv.models[702][0]
                assert m701.W.cvalue == pytest.approx(ours_inv.value("m701_w"))
                assert m701.W.cvalue / 1000 == pytest.approx(readings["pv_roof"].p_kw)
                assert m702.WMaxRtg.cvalue / 1000 == pytest.approx(readings["pv_roof"].p_rated_kw) == 420.0
                assert inv.models[1][0].SN.value == ours_inv.value("m1_sn") == "dev_pv_roof"
                assert bat.models[802][0].SoC.cvalue == pytest.approx(readings["bat_factory"].soc_pct)
                ours = await ours_bat.read_now(["m713_soc", "m713_wh_rtg"])
                assert bat.models[713][0].SoC.cvalue == pytest.approx(ours["m713_soc"])
                assert bat.models[713][0].WHRtg.cvalue == pytest.approx(ours["m713_wh_rtg"]) == 400_000
                assert bat.models[802][0].WChaRteMax.cvalue == pytest.approx(ours_bat.value("m802_w_cha_rte_max"))

                # our write, their read: limit 210 kW of 420 kW = 50 % with the enable after the value
                await cycle(park, fleet, clock, setpoints={"pv_roof": PVSetpoint(210.0)})
                ctl = inv.models[704][0]
                await asyncio.to_thread(ctl.read)
                assert (ctl.WMaxLimPct.cvalue, ctl.WMaxLimPctEna.value, ctl.WMaxLimPctRvrtTms.value) == (50.0, 1, 60)

                # their write, our read: pysunspec2 sets a 30 % limit
                def write_30() -> None:
                    ctl.WMaxLimPct.cvalue = 30.0
                    ctl.write()

                await asyncio.to_thread(write_30)
                readings, _ = await cycle(park, fleet, clock)
                assert readings["pv_roof"].p_limit_pct == pytest.approx(30.0)
                assert readings["pv_roof"].p_limit_kw == pytest.approx(126.0)
                assert park.state().pv_kw["pv_roof"] <= 126.0 + 0.5  # it takes effect in the plant, not only the register
            finally:
                inv.close()
                bat.close()

    run(body())


def test_a_simulated_legacy_124_battery_follows_our_setpoint_and_reverts(small_site):
    """The simulator serves 1/103/120/121/123/124; pysunspec2 scans it and decodes the window our driver
    writes; the battery's true flow follows it, and falls back to 0 W when the writes stop."""
    site = with_devices(small_site, dev_bat_factory=dict(map="sunspec_battery_legacy"))

    async def body():
        async with sim_fleet(site) as (park, fleet, clock):
            readings, _ = await cycle(park, fleet, clock)
            assert readings["bat_factory"].valid, readings["bat_factory"].problems
            bat = await asyncio.to_thread(_scan, _port(fleet, "dev_bat_factory"))
            try:
                assert [m for m in bat.models if isinstance(m, int)] == [1, 103, 120, 121, 123, 124]
                assert bat.models[124][0].ChaState.cvalue == pytest.approx(readings["bat_factory"].soc_pct)
                assert bat.models[124][0].WChaMax.cvalue == pytest.approx(200_000.0)

                for _ in range(6):  # ramp 50 kW/s
                    readings, results = await cycle(park, fleet, clock, setpoints={"bat_factory": StorageSetpoint(-120.0)})
                assert park.state().battery_kw["bat_factory"] == pytest.approx(-120.0, abs=0.5)
                assert readings["bat_factory"].p_kw == pytest.approx(-120.0, abs=1.0)
                ctl = bat.models[124][0]
                await asyncio.to_thread(ctl.read)
                assert (ctl.OutWRte.cvalue, ctl.InWRte.cvalue, ctl.StorCtl_Mod.value) == (-60.0, 60.0, 3)
                assert ctl.InOutWRte_RvrtTms.value == 60

                # the controller stops: the device's own 60 s timer opens the window, the battery idles
                for _ in range(70):
                    clock.advance(1.0)
                    await park.advance(1.0)
                assert park.state().battery_kw["bat_factory"] == pytest.approx(0.0, abs=0.5)
                await asyncio.to_thread(ctl.read)
                assert (ctl.OutWRte.cvalue, ctl.InWRte.cvalue, ctl.StorCtl_Mod.value) == (100.0, 100.0, 0)
            finally:
                bat.close()

    run(body())
