"""Helpers for the simulator tests: run coroutines with a bound, build parks on a stepped clock, a map client."""

from __future__ import annotations

import asyncio
from datetime import datetime
from zoneinfo import ZoneInfo

from microgrid.clock import SteppedClock

TZ = ZoneInfo("Asia/Shanghai")
NOON = datetime(2025, 7, 16, 12, 0, tzinfo=TZ)  # a summer Wednesday


def run_async(coro, timeout_s: float = 600.0):
    """Run a coroutine to completion; ``timeout_s`` only guards against a hang (a busy machine is slow)."""
    return asyncio.run(asyncio.wait_for(coro, timeout_s))


def make_park(site, start: datetime = NOON, **kwargs):
    from sim.park import Park

    kwargs.setdefault("load_noise_pct", 0.0)
    kwargs.setdefault("bind", "auto")
    return Park.from_site(site, SteppedClock(start), **kwargs)


def port_of(park, device_id: str) -> int:
    return next(int(r["port"]) for r in park.endpoint_rows() if r["device"] == device_id)


# ------------------------------------------------------------------------------- a plain pymodbus client


class MapClient:
    """A pymodbus client that reads and writes map points by id (the drivers' codec, no driver logic)."""

    def __init__(self, port: int, map_name: str, unit: int = 1, timeout_s: float = 0.5) -> None:
        from pymodbus.client import AsyncModbusTcpClient

        from drivers.registermap import load_map

        self.map = load_map(map_name)
        self.unit = unit
        self.client = AsyncModbusTcpClient(
            "127.0.0.1", port=port, timeout=timeout_s, retries=0, reconnect_delay=0.1
        )

    async def __aenter__(self) -> MapClient:
        assert await self.client.connect()
        return self

    async def __aexit__(self, *exc) -> None:
        self.client.close()

    async def raw(self, point_id: str):
        point = self.map.point(point_id)
        c = self.client
        read = {
            "holding": c.read_holding_registers,
            "input": c.read_input_registers,
            "coil": c.read_coils,
            "discrete_input": c.read_discrete_inputs,
        }[point.table]
        return await read(point.address, count=point.n_registers, device_id=self.unit)

    async def read(self, point_id: str, sf: int | None = None):
        from drivers.registermap import decode

        point = self.map.point(point_id)
        rr = await self.raw(point_id)
        assert not rr.isError(), f"{point_id}: {rr}"
        regs = rr.registers if point.table in ("holding", "input") else [int(rr.bits[0])]
        return decode(point, regs, sf)

    async def write(self, point_id: str, value, sf: int | None = None):
        from drivers.registermap import encode

        point = self.map.point(point_id)
        regs = encode(point, value, sf)
        if len(regs) == 1:
            return await self.client.write_register(point.address, regs[0], device_id=self.unit)
        return await self.client.write_registers(point.address, regs, device_id=self.unit)

    async def write_ok(self, point_id: str, value, sf: int | None = None) -> None:
        rr = await self.write(point_id, value, sf)
        assert not rr.isError(), f"write {point_id}={value}: {rr}"
