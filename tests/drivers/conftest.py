"""Helpers for driver tests: run coroutines, a simulated park with a fleet on loopback, one cycle."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Mapping
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from drivers.capabilities import AnyReading, AnySetpoint
from drivers.fleet import Fleet
from drivers.safewrite import WriteResult
from microgrid.clock import SteppedClock

logging.getLogger("pymodbus").setLevel(logging.CRITICAL)


def run(coro: Any) -> Any:
    """Run one async test body (no pytest-asyncio in this project)."""
    return asyncio.run(asyncio.wait_for(coro, timeout=600))  # hang guard only


NOON = datetime(2025, 7, 16, 12, 0, tzinfo=ZoneInfo("Asia/Shanghai"))


@contextlib.asynccontextmanager
async def sim_fleet(
    site: Any,
    *,
    seed: int = 1,
    start: datetime = NOON,
    timeout_s: float | None = None,
    relax: bool = False,
    **fleet_kwargs: Any,
) -> AsyncIterator[tuple[Any, Fleet, SteppedClock]]:
    """A simulated park of ``site`` on free loopback ports and a started fleet talking to it.

    Simulated time starts at ``start`` (noon: PV produces) on a stepped clock shared by park and fleet.
    ``timeout_s`` shortens every device's response timeout (and sets retries 0) for fault tests; ``relax``
    drops the maps' wall-clock request pacing (e.g. Growatt's 850 ms), which loopback does not need.
    """
    from sim.park import Park

    clock = SteppedClock(start=start)
    park = Park.from_site(site, clock, seed=seed, bind="auto", load_noise_pct=0.0)
    await park.start(run=False)
    client_site = park.client_site()
    if timeout_s is not None:
        devices = [d.model_copy(update={"timeout_s": timeout_s, "retries": 0}) for d in client_site.devices]
        client_site = client_site.model_copy(update={"devices": devices})
    fleet_kwargs.setdefault("connect_delay_s", 0.0)
    fleet = Fleet.from_site(client_site, clock=clock, **fleet_kwargs)
    if relax:
        fleet.relax_pacing()
    try:
        await fleet.start()
        yield park, fleet, clock
    finally:
        await fleet.close()
        await park.stop()


async def cycle(
    park: Any,
    fleet: Fleet,
    clock: SteppedClock,
    dt_s: float = 1.0,
    setpoints: Mapping[str, AnySetpoint] | None = None,
) -> tuple[dict[str, AnyReading], dict[str, list[WriteResult]]]:
    """One control cycle ``dt_s`` later: physics step, read all, apply the setpoints (and refreshes)."""
    clock.advance(dt_s)
    await park.advance(dt_s)
    readings = await fleet.read_all()
    results = await fleet.apply(setpoints or {})
    return readings, results


def with_devices(site: Any, **changes: dict[str, Any]) -> Any:
    """A copy of ``site`` with some devices changed: ``with_devices(site, dev_bat=dict(map="sungrow_sh"))``."""
    devices = [d.model_copy(update=changes.get(d.id, {})) for d in site.devices]
    return site.model_copy(update={"devices": devices})


@pytest.fixture
def audit_log() -> list[WriteResult]:
    return []


async def serve_device(device: Any) -> tuple[Any, int]:
    """A pymodbus TCP server for one ``SimDevice`` on a free loopback port: (server, port)."""
    from pymodbus.server import ModbusTcpServer

    server = ModbusTcpServer(device, address=("127.0.0.1", 0))
    await server.serve_forever(background=True)
    return server, server.transport.sockets[0].getsockname()[1]


def single_device_fleet(map_name: str, port: int, unit_id: int, kind: str = "pv_inverter") -> Fleet:
    """A fleet of one device (map at 127.0.0.1:port) serving one asset ``pv`` (pacing relaxed: loopback)."""
    from drivers.fleet import AssetConfig, DeviceConfig, FleetConfig
    from drivers.transport import Endpoint

    config = FleetConfig(
        (DeviceConfig("dev", map_name, Endpoint(port=port), unit_id=unit_id),),
        (AssetConfig("pv", kind, {"main": "dev"}),),
    )
    fleet = Fleet(config, connect_delay_s=0.0)
    fleet.relax_pacing()
    return fleet
