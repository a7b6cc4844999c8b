"""Modbus TCP northbound server: the point table (:mod:`microgrid.gridside.points`) for the park's SCADA.

One unit id (``gridside.modbus.unit_id``), four tables: measurements as float32 big-endian (high word
first) in input registers (FC4), single points as discrete inputs (FC2), the set-points' read-back as
float32 in holding registers (FC3) and the release command as coil 0 (FC1). Read-only by default: a write
(FC5/6/15/16) answers exception 1 (illegal function) unless ``gridside.modbus.writes_enabled``; then a
float32 written with FC16 to a set-point's two registers is the same command as over IEC 104 (exception 3,
illegal value, when refused: the cause is in the audit), and writing 1 to the coil releases. Clients not in
``allowed_clients`` are disconnected at connect. Runs in the runtime's event loop (pymodbus 3.16).
"""

from __future__ import annotations

import logging
import math
import struct

from pymodbus.constants import ExcCodes
from pymodbus.server import ModbusTcpServer
from pymodbus.simulator import DataType, SimData, SimDevice

from microgrid.gridside.commands import GridCommands
from microgrid.gridside.points import PointTable
from microgrid.gridside.values import ValueSource
from microgrid.site.gridside import ModbusNorthSettings

log = logging.getLogger(__name__)

_WRITE_FCS = {5, 6, 15, 16, 22, 23}


def float_regs(value: float) -> list[int]:
    """float32 big-endian as two registers, high word first (NaN when not measured)."""
    hi, lo = struct.unpack(">HH", struct.pack(">f", float(value)))
    return [hi, lo]


def regs_float(regs: list[int]) -> float:
    return struct.unpack(">f", struct.pack(">HH", int(regs[0]), int(regs[1])))[0]


class _GuardedServer(ModbusTcpServer):
    """pymodbus's TCP server that drops connections from addresses not allowed."""

    allowed: frozenset[str] = frozenset()

    def callback_new_connection(self):
        handler = super().callback_new_connection()
        made = handler.connection_made
        allowed = self.allowed

        def connection_made(transport) -> None:
            peer = transport.get_extra_info("peername")
            ip = peer[0] if peer else ""
            if ip not in allowed:
                log.warning("Modbus northbound: connection from %s refused (not in allowed_clients)", ip)
                transport.close()
                return
            made(transport)

        handler.connection_made = connection_made
        return handler


class ModbusNorthServer:
    """Serve ``table`` from ``values`` and take commands through ``commands`` (see module docstring)."""

    def __init__(self, settings: ModbusNorthSettings, table: PointTable, values: ValueSource,
                 commands: GridCommands) -> None:
        self.settings = settings
        self.table = table
        self.values = values
        self.commands = commands
        self.server: _GuardedServer | None = None
        self.port: int | None = None
        self._holding = {p.modbus_address: p for p in table.of_kind("setpoint")}

    def _device(self) -> SimDevice:
        t = self.table
        n_in = len(t.of_kind("measurement"))
        tables = (
            [SimData(0, values=[False] * max(len(t.of_kind("command")), 1), datatype=DataType.BITS)],
            [SimData(0, values=[False] * len(t.of_kind("single")), datatype=DataType.BITS)],
            [SimData(0, values=float_regs(math.nan) * len(t.of_kind("setpoint")), datatype=DataType.REGISTERS)],
            [SimData(0, values=float_regs(math.nan) * n_in, datatype=DataType.REGISTERS)],
        )
        return SimDevice(id=self.settings.unit_id, simdata=tables, action=self._action)

    async def _action(self, fc, _start, address, count, _registers, set_values):
        if set_values is None or fc not in _WRITE_FCS:
            return None  # a read, or the server's own update
        if not self.settings.writes_enabled:
            return ExcCodes.ILLEGAL_FUNCTION
        user = "modbus"
        values = list(set_values)
        if fc in (5, 15):
            if address != 0 or len(values) != 1:
                return ExcCodes.ILLEGAL_ADDRESS
            if values[0]:
                self.commands.release("modbus", user)
            return None
        point = self._holding.get(address)
        if point is None or len(values) != 2:
            return ExcCodes.ILLEGAL_ADDRESS  # a set-point is one float32: both registers in one FC16
        cause = self.commands.setpoint(point.key, regs_float(values), "modbus", user)
        return ExcCodes.ILLEGAL_VALUE if cause else None

    async def start(self) -> int:
        s = self.settings
        server = _GuardedServer(SimDevice(id=s.unit_id, simdata=[SimData(0, count=1, datatype=DataType.REGISTERS)]),
                                address=(s.host, s.port))
        server.allowed = frozenset(s.allowed_clients)
        from pymodbus.simulator.simcore import SimCore

        server.context = SimCore([self._device()])
        try:
            await server.serve_forever(background=True)
        except (OSError, RuntimeError) as exc:
            raise OSError(f"Modbus northbound: cannot listen on {s.host}:{s.port}: {exc}") from exc
        sockets = getattr(server.transport, "sockets", None) or []
        self.port = sockets[0].getsockname()[1] if sockets else s.port
        self.server = server
        await self.publish()
        return self.port

    async def publish(self, values: dict[str, float | bool] | None = None) -> None:
        """Write the current values into the tables (called after every control cycle)."""
        if self.server is None:
            return
        values = self.values.values() if values is None else values
        unit = self.settings.unit_id
        regs: list[int] = []
        for p in self.table.of_kind("measurement"):
            regs += float_regs(values[p.key])
        await self.server.async_setValues(unit, 4, 0, regs)
        await self.server.async_setValues(unit, 2, 0, [bool(values[p.key]) for p in self.table.of_kind("single")])
        held: list[int] = []
        for p in self.table.of_kind("setpoint"):
            held += float_regs(values[p.key])
        await self.server.async_setValues(unit, 3, 0, held)
        await self.server.async_setValues(unit, 1, 0, [False] * max(len(self.table.of_kind("command")), 1))

    async def stop(self) -> None:
        server, self.server = self.server, None
        if server is not None:
            await server.shutdown()
