"""A tiny pymodbus server serving one or more register maps, for driver tests that need exact control.

Each unit id serves the map's points (and nothing in between: holes answer "illegal data address", like
many real devices) with separate holding/input/coil/discrete tables. Faults: ``busy`` (answer exception 6
to the next N requests), ``silent`` (delay every reply beyond the client's timeout), ``stored_scale``
(a write is stored multiplied by this factor, so the readback differs).
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from typing import Any

from pymodbus.constants import ExcCodes
from pymodbus.server import ModbusTcpServer
from pymodbus.simulator import DataType, SimData, SimDevice

from drivers.registermap import Point, RegisterMap, encode


def _initial(point: Point, sf_values: dict[str, int]) -> list[int]:
    if point.default is None:
        return [0] * point.n_registers
    sf = sf_values.get(point.scale_sf, 0) if point.scale_sf else None
    try:
        return encode(point, point.default, sf=sf)
    except ValueError:
        return [0] * point.n_registers


@dataclass
class UnitFaults:
    busy_next: int = 0
    silent: bool = False
    stored_scale: float = 1.0
    writes: list[tuple[int, int, list[int]]] = field(default_factory=list)
    requests: int = 0
    times: list[float] = field(default_factory=list)


class MapServer:
    """Serve ``{unit_id: RegisterMap}`` on 127.0.0.1 at a free port."""

    def __init__(
        self,
        units: dict[int, RegisterMap],
        *,
        port: int | None = None,
        initial: dict[int, dict[str, Any]] | None = None,
        framer: str = "socket",
    ):
        self.framer = framer
        self.units = units
        self.port = port or 0  # 0: the OS picks a free port at bind time (no find-then-bind race)
        self.faults: dict[int, UnitFaults] = {u: UnitFaults() for u in units}
        self.initial = initial or {}
        self.server: ModbusTcpServer | None = None

    def _device(self, unit: int, regmap: RegisterMap) -> SimDevice:
        sf_values: dict[str, int] = {}
        for p in regmap.points:
            if p.id.endswith("_sf") and p.default is not None:
                sf_values[p.id] = int(p.default)
        for pid, v in self.initial.get(unit, {}).items():
            if pid.endswith("_sf"):
                sf_values[pid] = int(v)
        tables: dict[str, list[SimData]] = {"coil": [], "discrete_input": [], "holding": [], "input": []}
        for p in regmap.points:
            assert p.address is not None
            if p.id in self.initial.get(unit, {}):
                value = self.initial[unit][p.id]
                sf = sf_values.get(p.scale_sf, 0) if p.scale_sf else None
                regs = encode(p, value, sf=sf)
            else:
                regs = _initial(p, sf_values)
            if p.table in ("coil", "discrete_input"):
                tables[p.table].append(
                    SimData(p.address, count=1, values=bool(regs[0]), datatype=DataType.BITS)
                )
            else:
                for i, r in enumerate(regs):
                    tables[p.table].append(
                        SimData(p.address + i, count=1, values=r, datatype=DataType.REGISTERS)
                    )
        faults = self.faults[unit]

        async def action(fc, start_address, address, count, current_registers, set_values):
            if fc not in (1, 2, 3, 4, 5, 6, 15, 16, 23):
                return None
            faults.requests += 1
            faults.times.append(time.monotonic())
            if faults.silent:
                await asyncio.sleep(30)
                return None
            if faults.busy_next > 0:
                faults.busy_next -= 1
                return ExcCodes.DEVICE_BUSY
            if fc in (6, 16) and set_values is not None:
                values = list(set_values)
                faults.writes.append((fc, address, values))
                if faults.stored_scale != 1.0:
                    for i, v in enumerate(values):
                        set_values[i] = int(v * faults.stored_scale) & 0xFFFF
                    return None
            return None

        for key in tables:
            if not tables[key]:
                dummy_addr = 65000 if key in ("holding", "input") else 0
                dt = DataType.REGISTERS if key in ("holding", "input") else DataType.BITS
                tables[key].append(
                    SimData(dummy_addr, count=1, values=0 if dt == DataType.REGISTERS else False, datatype=dt)
                )
        return SimDevice(
            unit,
            simdata=(tables["coil"], tables["discrete_input"], tables["holding"], tables["input"]),
            action=action,
        )

    async def start(self) -> MapServer:
        devices = [self._device(u, m) for u, m in self.units.items()]
        from pymodbus import FramerType

        framer = FramerType.RTU if self.framer == "rtu" else FramerType.SOCKET
        self.server = ModbusTcpServer(devices, address=("127.0.0.1", self.port), framer=framer)
        await self.server.serve_forever(background=True)
        if self.port == 0:
            self.port = self.server.transport.sockets[0].getsockname()[1]
        return self

    async def stop(self) -> None:
        if self.server is not None:
            await self.server.shutdown()
            self.server = None

    async def set_point(self, unit: int, point: Point, value: Any, sf: int | None = None) -> None:
        """Simulator-side update of a point."""
        assert self.server is not None
        regs = encode(point, value, sf=sf)
        fc = {"holding": 3, "input": 4}[point.table]
        await self.server.async_setValues(unit, fc, point.address, regs)
