"""Growatt SPH hybrid (map ``growatt_sph``): the fleet charges and discharges the simulated battery through the
priority slots, and a raw pymodbus client reads the registers at the addresses of Growatt's protocol
(an independent table written here from the document, not from the map)."""

from __future__ import annotations

import pytest
from pymodbus.client import AsyncModbusTcpClient

from drivers.capabilities import StorageSetpoint
from drivers.safewrite import WriteStatus
from tests.drivers.conftest import cycle, run, sim_fleet, with_devices

# Growatt 'Inverter Modbus RTU Protocol II' V1.24 (English): name -> (table, register, words, scale to W / % / raw)
# input p.60: 1009-1010 Pdischarge1 0.1 W, 1011-1012 Pcharge1 0.1 W, 1014 SOC 1 %;
# holding p.32-33: 1070 GridFirstDischargePowerRate 1 %, 1071 GridFirstStopSOC, 1080/1081 GridFirst start/stop
# time 1 (hour << 8 | minute), 1082 switch 1; 1090 BatFirstPowerRate 1 %, 1091 BatFirst stop SOC, 1092 AC charge
# switch, 1100/1101 BatFirst start/stop time 1, 1102 switch 1.
DOC = {
    "Pdischarge1": ("input", 1009, 2, 0.1),
    "Pcharge1": ("input", 1011, 2, 0.1),
    "SOC": ("input", 1014, 1, 1.0),
    "GridFirstDischargePowerRate": ("holding", 1070, 1, 1.0),
    "GridFirstStopSOC": ("holding", 1071, 1, 1.0),
    "GridFirstSwitch1": ("holding", 1082, 1, 1.0),
    "BatFirstPowerRate": ("holding", 1090, 1, 1.0),
    "BatFirstStopSOC": ("holding", 1091, 1, 1.0),
    "ACChargeSwitch": ("holding", 1092, 1, 1.0),
    "BatFirstStartTime1": ("holding", 1100, 1, 1.0),
    "BatFirstStopTime1": ("holding", 1101, 1, 1.0),
    "BatFirstSwitch1": ("holding", 1102, 1, 1.0),
}


async def _doc_read(port: int, unit: int) -> dict[str, float]:
    client = AsyncModbusTcpClient("127.0.0.1", port=port, timeout=2, retries=0)
    await client.connect()
    try:
        out = {}
        for name, (table, reg, words, scale) in DOC.items():
            read = client.read_input_registers if table == "input" else client.read_holding_registers
            rr = await read(reg, count=words, device_id=unit)
            assert not rr.isError(), (name, rr)
            raw = rr.registers[0] << 16 | rr.registers[1] if words == 2 else rr.registers[0]  # high word first
            out[name] = raw * scale
        return out
    finally:
        client.close()


def test_growatt_sph_charges_and_discharges_through_its_priority_slots(small_site):
    site = with_devices(small_site, dev_bat_factory={"map": "growatt_sph"})

    async def body():
        async with sim_fleet(site, relax=True) as (park, fleet, clock):
            port = fleet.devices["dev_bat_factory"].transport.endpoint.port
            readings, _ = await cycle(park, fleet, clock)
            bat = readings["bat_factory"]
            assert bat.valid, bat.problems
            assert bat.p_kw == pytest.approx(0.0, abs=0.1) and bat.soc_pct == pytest.approx(50.0)

            for _ in range(6):  # charge 100 kW of 200 kW: Battery First, AC charge, rate 50 %
                readings, results = await cycle(park, fleet, clock, setpoints={"bat_factory": StorageSetpoint(-100.0)})
            assert park.state().battery_kw["bat_factory"] == pytest.approx(-100.0, abs=0.5)
            assert readings["bat_factory"].p_kw == pytest.approx(-100.0, abs=0.5)
            assert readings["bat_factory"].p_setpoint_kw == pytest.approx(-100.0)
            doc = await _doc_read(port, 1)
            assert doc["Pcharge1"] == pytest.approx(100_000.0, abs=1.0) and doc["Pdischarge1"] == 0
            assert doc["SOC"] == round(park.state().soc_pct["bat_factory"])
            assert (doc["BatFirstPowerRate"], doc["BatFirstStopSOC"], doc["ACChargeSwitch"]) == (50, 95, 1)
            assert (doc["BatFirstStartTime1"], doc["BatFirstStopTime1"], doc["BatFirstSwitch1"]) == (0, 23 * 256 + 59, 1)
            assert doc["GridFirstSwitch1"] == 0

            # within 60 s the stored settings may not change again (EEPROM budget): refused, nothing sent
            _, results = await cycle(park, fleet, clock, setpoints={"bat_factory": StorageSetpoint(60.0)})
            assert {r.status for r in results["bat_factory"]} == {WriteStatus.RATE_LIMITED}, results["bat_factory"]
            for _ in range(60):
                await cycle(park, fleet, clock)
            for _ in range(6):  # discharge 60 kW: Battery First off, Grid First rate 30 %, stop at the site's 10 %
                readings, results = await cycle(park, fleet, clock, setpoints={"bat_factory": StorageSetpoint(60.0)})
            assert all(r.ok for r in results["bat_factory"] if r.status is not WriteStatus.UNCHANGED), results
            assert park.state().battery_kw["bat_factory"] == pytest.approx(60.0, abs=0.5)
            doc = await _doc_read(port, 1)
            assert doc["Pdischarge1"] == pytest.approx(60_000.0, abs=1.0) and doc["Pcharge1"] == 0
            assert (doc["GridFirstDischargePowerRate"], doc["GridFirstStopSOC"], doc["GridFirstSwitch1"]) == (30, 10, 1)
            assert doc["BatFirstSwitch1"] == 0

    run(body())
