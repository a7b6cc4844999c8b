"""Modbus TCP northbound: read by independent clients and compared with the operator API's live values.

Closed loop (simulator over Modbus TCP, drivers, SQLite store, runtime) on a stepped clock; after some cycles
the loop stands still, so the northbound registers, the API (``GET /api/v1/live`` through the real app) and
the clients all see the same poll. Clients: libmodbus' ``mbpoll`` (Debian; skipped with a message when it
cannot be installed) and a plain pymodbus client. Decoding here is our own struct code from the documented
layout (float32 big-endian, high word first), not the server's helpers.
"""

from __future__ import annotations

import asyncio
import math
import struct
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import httpx
import pytest
from pymodbus.client import AsyncModbusTcpClient

from api import Settings
from api.serve import app_for_runtime, ensure_demo_user
from microgrid.gridside.points import point_table
from microgrid.gridside.service import Northbound
from tests.conftest import debian_tool
from tests.control.aio import async_test
from tests.control.simloop import close_loop, open_loop

TZ = ZoneInfo("Asia/Shanghai")
START = datetime(2026, 7, 15, 11, 0, tzinfo=TZ)


def decode(regs: list[int]) -> list[float]:
    return [struct.unpack(">f", struct.pack(">HH", regs[i], regs[i + 1]))[0] for i in range(0, len(regs), 2)]


async def settle(loop, seconds: float) -> None:
    rt = loop.runtime
    await rt.run(until=rt.clock.now() + timedelta(seconds=seconds))


async def api_live(loop) -> dict:
    settings = Settings.for_dev()
    app = app_for_runtime(loop.runtime, loop.store, loop.runtime.site, settings)
    token = ensure_demo_user(loop.store)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test") as client:
        r = await client.get("/api/v1/live", headers={"Authorization": f"Bearer {token}"})
    assert r.status_code == 200, r.text
    return r.json()


@async_test
async def test_northbound_registers_match_the_api(small_site, tmp_path):
    loop = await open_loop(small_site, START, tmp_path)
    north = Northbound(loop.runtime, modbus=True, iec104=False, modbus_port=0)
    try:
        await loop.runtime.start()
        await north.start()
        await settle(loop, 60)
        port = north.modbus.port
        table = point_table(small_site)
        meas = table.of_kind("measurement")
        live = await api_live(loop)

        client = AsyncModbusTcpClient("127.0.0.1", port=port)
        await client.connect()
        rr = await client.read_input_registers(0, count=2 * len(meas), device_id=1)
        assert not rr.isError()
        di = await client.read_discrete_inputs(0, count=len(table.of_kind("single")), device_id=1)
        assert not di.isError()
        # read-only by default: a write is refused with exception 1 and changes nothing
        wr = await client.write_registers(0, [0x4248, 0], device_id=1)
        assert wr.isError() and wr.exception_code == 1
        client.close()

        values = dict(zip([p.key for p in meas], decode(rr.registers), strict=True))
        assert values["pcc_p_kw"] == pytest.approx(live["pcc_p_kw"], abs=0.01)
        assert values["pv_p_kw"] == pytest.approx(live["pv_kw"], abs=0.01)
        by_asset = {a["id"]: a for a in live["assets"]}
        assert values["storage_bat_factory_p_kw"] == pytest.approx(by_asset["bat_factory"]["p_kw"], abs=0.01)
        assert values["storage_bat_factory_soc_pct"] == pytest.approx(by_asset["bat_factory"]["soc_pct"], abs=0.01)
        assert values["pv_roof_p_kw"] == pytest.approx(by_asset["pv_roof"]["p_kw"], abs=0.01)
        assert values["pcc_limit_kw"] == pytest.approx(live["import_cap_kw"])
        assert math.isnan(values["dr_cap_kw"])
        # plausible physics: PV by day in July, 50 Hz, 10 kV line-to-line at the PCC
        assert values["pv_p_kw"] > 50
        assert values["pcc_f_hz"] == pytest.approx(50.0, abs=0.5)
        assert 0.9 < values["pcc_u_ln_v"] * 3 ** 0.5 / 10_000 < 1.1
        assert values["mode_code"] == 0.0 and live["mode"] == "normal"
        singles = dict(zip([p.key for p in table.of_kind("single")], di.bits, strict=False))
        assert singles["mode_safe"] is False and singles["dr_active"] is False

        # libmodbus' mbpoll, in its own process: input registers as float32 big-endian (-t 3:float -B)
        mbpoll = debian_tool("mbpoll")
        proc = await asyncio.create_subprocess_exec(
            mbpoll, "-m", "tcp", "-a", "1", "-r", "1", "-c", "2", "-t", "3:float", "-B", "-1", "-p", str(port),
            "127.0.0.1", stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
        out, err = await asyncio.wait_for(proc.communicate(), 30)
        assert proc.returncode == 0, err.decode()
        lines = [ln for ln in out.decode().splitlines() if ln.startswith("[")]
        got = [float(ln.split(":", 1)[1].split()[0]) for ln in lines]  # "[1]: 	123.4"
        assert got[0] == pytest.approx(live["pcc_p_kw"], abs=0.01)
        assert got[1] == pytest.approx(values["pcc_q_kvar"], abs=0.01)
    finally:
        await north.stop()
        await close_loop(loop)


@async_test
async def test_writes_when_enabled_are_commands_and_refusals_change_nothing(small_site, tmp_path):
    site = small_site.model_copy(update={"gridside": small_site.gridside.model_copy(
        update={"modbus": small_site.gridside.modbus.model_copy(update={"writes_enabled": True})})})
    loop = await open_loop(site, START, tmp_path)
    north = Northbound(loop.runtime, modbus=True, iec104=False, modbus_port=0)
    try:
        await loop.runtime.start()
        await north.start()
        await settle(loop, 10)
        client = AsyncModbusTcpClient("127.0.0.1", port=north.modbus.port)
        await client.connect()
        cap = site.grid.import_cap_kw
        too_high = list(struct.unpack(">HH", struct.pack(">f", cap + 100.0)))
        r = await client.write_registers(0, too_high, device_id=1)
        assert r.isError() and r.exception_code == 3
        assert loop.runtime.gridcaps.limit is None
        ok = list(struct.unpack(">HH", struct.pack(">f", 150.0)))
        r = await client.write_registers(0, ok, device_id=1)
        assert not r.isError()
        assert loop.runtime.gridcaps.limit_kw(loop.runtime.clock.now()) == 150.0
        await settle(loop, 4)
        hr = await client.read_holding_registers(0, count=2, device_id=1)
        assert decode(hr.registers)[0] == pytest.approx(150.0)
        r = await client.write_coil(0, True, device_id=1)
        assert not r.isError()
        assert loop.runtime.gridcaps.limit is None
        client.close()
        kinds = [(e.kind, e.data.get("accepted")) for e in loop.runtime.events.recent if e.kind == "grid_command"]
        assert kinds == [("grid_command", False), ("grid_command", True), ("grid_command", True)]
    finally:
        await north.stop()
        await close_loop(loop)
