"""Maps checked against independently maintained clients and definitions, not against themselves.

- the huawei-solar library (its own Modbus stack and register table) sets up and reads the simulated SUN2000;
- libmodbus' ``mbpoll`` reads the simulated DTSU666 float block and agrees with ``microgrid devices``;
- our drivers read a SUN2000 server whose registers are encoded with huawei-solar's register definitions
  (not with our map), and land their writes on the registers those definitions name.
"""

from __future__ import annotations

import asyncio
import re
import subprocess

import pytest
from huawei_solar import register_names as rn
from huawei_solar.bridge import create_tcp_bridge
from huawei_solar.registers import REGISTERS
from pymodbus.client.mixin import ModbusClientMixin
from pymodbus.simulator import DataType, SimData, SimDevice

from drivers.capabilities import PVSetpoint
from microgrid.cli import main
from tests.conftest import debian_tool
from tests.drivers.conftest import cycle, run, serve_device, sim_fleet, single_device_fleet, with_devices
from tests.drivers.test_cli_devices import served_site


@pytest.mark.slow
def test_huawei_solar_library_sets_up_and_reads_the_simulated_sun2000(small_site):
    site = with_devices(small_site, dev_pv_roof={"map": "huawei_sun2000", "unit_id": 1})

    async def body():
        async with sim_fleet(site) as (park, fleet, clock):
            readings, _ = await cycle(park, fleet, clock)
            port = fleet.devices["dev_pv_roof"].transport.endpoint.port
            bridge = await create_tcp_bridge("127.0.0.1", port, slave_id=1)
            try:
                # the set-up step: model, serial, PN, firmware, strings, storage and meter probes, clock
                assert bridge.model_name == fleet.devices["dev_pv_roof"].value("model_name")
                assert bridge.serial_number == "SIM0000000001"
                assert bridge.pv_string_count == 2
                data = await bridge.client.get_multiple(
                    [rn.PHASE_A_VOLTAGE, rn.PHASE_B_VOLTAGE, rn.PHASE_C_VOLTAGE], 1
                )
                assert [d.value for d in data] == pytest.approx([230.9] * 3)
                power = (await bridge.client.get(rn.ACTIVE_POWER, 1)).value
                amps = (await bridge.client.get(rn.PHASE_A_CURRENT, 1)).value
                true_kw = park.state().pv_kw["pv_roof"]
                assert power / 1000 == pytest.approx(true_kw, abs=0.5) == pytest.approx(readings["pv_roof"].p_kw, abs=0.5)
                assert amps == pytest.approx(true_kw * 1000 / (3**0.5 * 400), rel=0.01)
                rated = (await bridge.client.get(rn.P_MAX, 1)).value
                assert rated / 1000 == pytest.approx(readings["pv_roof"].p_rated_kw)
            finally:
                await bridge.stop()

    run(body())


@pytest.mark.slow
def test_mbpoll_reads_the_meter_block_microgrid_devices_shows(tmp_path, capsys):
    mbpoll = debian_tool("mbpoll")
    with served_site(tmp_path) as (site_dir, park):
        port = next(r["port"] for r in park.endpoint_rows() if r["device"] == "dev_meter_pcc")
        capsys.readouterr()
        assert main(["devices", str(site_dir), "--device", "dev_meter_pcc"]) == 0
        out = capsys.readouterr().out
        # mbpoll: Modbus TCP, unit 1, holding registers (-t 4, 16-bit), 1-based reference 0x61 + 1, 6 values
        cmd = [mbpoll, "-m", "tcp", "-p", str(port), "-a", "1", "-t", "4", "-r", str(0x0061 + 1), "-c", "6",
               "-1", "127.0.0.1"]
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=20, check=False)
    assert done.returncode == 0, done.stdout + done.stderr
    theirs = [int(v) for v in re.findall(r"^\[\d+\]:\s+(-?\d+)", done.stdout, re.M)]
    ours = {m["id"]: float(m["v"]) for m in re.finditer(r"^\s+(?P<id>[ui]_[abc]_[av])\s+(?P<v>[-\d.e+]+)", out, re.M)}
    # mbpoll shows raw words; the DTSD1352 map scales them (U x0.1 V, I x0.01 A); the table is secondary side
    assert len(theirs) == 6 and all(v > 0 for v in theirs)
    scaled = [v * 0.1 for v in theirs[:3]] + [v * 0.01 for v in theirs[3:]]
    expected = [ours[k] for k in ("u_a_v", "u_b_v", "u_c_v", "i_a_a", "i_b_a", "i_c_a")]
    assert scaled == pytest.approx(expected, rel=1e-3)


# ------------------------------------------------------------------------ servers from huawei-solar definitions

SUN2000_VALUES = {
    rn.MODEL_NAME: "SUN2000-100KTL-M1",
    rn.RATED_POWER: 100_000,
    rn.P_MAX: 110_000,
    rn.ACTIVE_POWER: 73_456,
    rn.REACTIVE_POWER: -1_234,
    rn.GRID_FREQUENCY: 50.02,
    rn.ACCUMULATED_YIELD_ENERGY: 123_456.78,
    rn.DEVICE_STATUS: 0x0200,
    rn.ACTIVE_POWER_PERCENTAGE_DERATING: 100.0,
    rn.PHASE_A_VOLTAGE: 231.4,
}


def _device_from_definitions(values: dict, unit_id: int) -> SimDevice:
    """A Modbus server whose registers are encoded by huawei-solar's own definitions (address, type, gain)."""
    regs: dict[int, int] = {}
    for name, value in values.items():
        rd = REGISTERS[name]
        if isinstance(value, str):
            encoded = rd.encode(value)
        else:  # their datatype and gain; rounded here (their float encode truncates 50.02 x 100 to 5001)
            encoded = ModbusClientMixin.convert_to_registers(round(value * rd.gain), rd.datatype)
        words = list(encoded) + [0] * (rd.length - len(encoded))
        for i, word in enumerate(words[: rd.length]):
            regs[rd.register + i] = word
    blocks = [SimData(a, values=[regs[a]], datatype=DataType.REGISTERS) for a in sorted(regs)]
    return SimDevice(id=unit_id, simdata=blocks)


def test_our_sun2000_map_reads_a_server_built_from_huawei_solar_definitions():
    async def body():
        server, port = await serve_device(_device_from_definitions(SUN2000_VALUES, unit_id=1))
        fleet = single_device_fleet("huawei_sun2000", port, unit_id=1)
        try:
            dev = fleet.devices["dev"]
            got = await dev.read_now(["model_name", "p_rated_w", "p_max_w", "p_ac_w", "q_ac_var", "f_hz",
                                      "e_total_kwh", "device_status", "p_derate_pct", "u_a_v"])
            assert got == {
                "model_name": "SUN2000-100KTL-M1", "p_rated_w": 100_000, "p_max_w": 110_000, "p_ac_w": 73_456,
                "q_ac_var": -1_234, "f_hz": pytest.approx(50.02), "e_total_kwh": pytest.approx(123_456.78),
                "device_status": 0x0200, "p_derate_pct": pytest.approx(100.0), "u_a_v": pytest.approx(231.4),
            }
            # our limit lands on the register huawei-solar calls ACTIVE_POWER_PERCENTAGE_DERATING
            await fleet.start()
            results = await fleet.apply({"pv": PVSetpoint(p_limit_kw=55.0)})
            assert all(r.ok for r in results["pv"]), results["pv"]
            rd = REGISTERS[rn.ACTIVE_POWER_PERCENTAGE_DERATING]
            raw = await server.async_getValues(1, 3, rd.register, rd.length)
            assert rd.decode(raw) == pytest.approx(50.0)  # 55 kW of Pmax 110 kW, in their gain
        finally:
            await fleet.close()
            await server.shutdown()
            await asyncio.sleep(0)

    run(body())


# huawei-solar 3.0.7 (PyPI wheel, Python >= 3.12, so not importable here) src/huawei_solar/registers.py
# SMARTLOGGER_REGISTERS, transcribed for this test: name -> (register, datatype, gain)
SMARTLOGGER_DEFS = {
    "SMARTLOGGER_RATED_PV_POWER": (40396, "uint32", 1000),
    "SMARTLOGGER_ACTIVE_POWER_ADJUSTMENT_IN_PERCENTAGE": (40428, "int16", 10),
    "SMARTLOGGER_INPUT_POWER": (40521, "uint32", 1000),
    "SMARTLOGGER_ACTIVE_POWER": (40525, "int32", 1000),
    "SMARTLOGGER_POWER_FACTOR": (40532, "int16", 1000),
    "SMARTLOGGER_REACTIVE_POWER": (40544, "int32", 1000),
    "SMARTLOGGER_TOTAL_ENERGY_YIELD": (40560, "uint32", 10),
}
SMARTLOGGER_VALUES = {
    "SMARTLOGGER_RATED_PV_POWER": 1250.0,
    "SMARTLOGGER_ACTIVE_POWER_ADJUSTMENT_IN_PERCENTAGE": 100.0,
    "SMARTLOGGER_INPUT_POWER": 912.345,
    "SMARTLOGGER_ACTIVE_POWER": 890.123,
    "SMARTLOGGER_POWER_FACTOR": 0.998,
    "SMARTLOGGER_REACTIVE_POWER": -12.5,
    "SMARTLOGGER_TOTAL_ENERGY_YIELD": 4_567_890.1,
}


def test_our_smartlogger_map_reads_a_server_built_from_huawei_solar_3_definitions():
    dt = ModbusClientMixin.DATATYPE
    types = {"uint32": dt.UINT32, "int32": dt.INT32, "int16": dt.INT16}

    async def body():
        blocks = []
        for name, (register, kind, gain) in SMARTLOGGER_DEFS.items():
            words = ModbusClientMixin.convert_to_registers(round(SMARTLOGGER_VALUES[name] * gain), types[kind])
            blocks.append(SimData(register, values=list(words), datatype=DataType.REGISTERS))
        esn = b"SL3000TEST".ljust(20, b"\0")  # 40713, 10 registers (SMARTLOGGER_EQUIPMENT_SERIAL_NUMBER_ESN)
        blocks.append(SimData(40713, values=[int.from_bytes(esn[i : i + 2], "big") for i in range(0, 20, 2)],
                              datatype=DataType.REGISTERS))
        server, port = await serve_device(SimDevice(id=0, simdata=blocks))
        fleet = single_device_fleet("huawei_smartlogger", port, unit_id=0)
        try:
            got = await fleet.devices["dev"].read_now(["p_rated_kw", "p_dc_kw", "p_kw", "pf", "q_kvar", "e_total_kwh", "esn"])
            assert got == {"p_rated_kw": pytest.approx(1250.0), "p_dc_kw": pytest.approx(912.345),
                           "p_kw": pytest.approx(890.123), "pf": pytest.approx(0.998), "q_kvar": pytest.approx(-12.5),
                           "e_total_kwh": pytest.approx(4_567_890.1), "esn": "SL3000TEST"}
            await fleet.start()
            results = await fleet.apply({"pv": PVSetpoint(p_limit_kw=500.0)})
            assert all(r.ok for r in results["pv"]), results["pv"]
            raw = await server.async_getValues(0, 3, 40428, 1)
            value = ModbusClientMixin.convert_from_registers(list(raw), dt.INT16)
            assert value / 10 == pytest.approx(40.0)  # 500 of 1250 kW, in their gain of 10
        finally:
            await fleet.close()
            await server.shutdown()
            await asyncio.sleep(0)

    run(body())
