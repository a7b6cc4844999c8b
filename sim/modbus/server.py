"""Serve simulated devices over Modbus TCP with pymodbus 3.16 (``SimDevice`` / ``SimData`` datastore).

One :class:`Endpoint` per configured ``host:port`` runs one ``ModbusTcpServer`` carrying a ``SimDevice`` per
unit id (an RS-485 line behind a serial server, or a gateway such as a SmartLogger). Every device has four
separate tables (coils, discrete inputs, holding, input registers), so input and holding registers may share
addresses (Sungrow). Each map point is one ``SimData`` block; addresses between points are invalid and
answer exception 2, as on most real devices.

Data flow:

- simulator -> registers: after each physics step :meth:`Endpoint.publish` writes the changed points with
  ``server.async_setValues`` (read function codes with values, which the action ignores);
- client -> simulator: the ``action`` callback sees every request. It applies communication faults (silence,
  delay, exception replies), feeds the device's watchdogs, and routes writes (FC 5/6/15/16/22/23) to
  :meth:`DeviceModel.client_write`, which may refuse them with an exception code (the registers then keep
  their old content).
- an unknown unit id gets no reply (a catch-all unit 0 stays silent), like a serial gateway with nothing at
  that address; pymodbus alone would answer exception 4.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable

from pymodbus.constants import ExcCodes
from pymodbus.exceptions import NoSuchIdException
from pymodbus.framer import FramerType
from pymodbus.server import ModbusTcpServer
from pymodbus.simulator import DataType, SimData, SimDevice

from drivers.registermap import Point
from sim.devices.base import WRITE_FCS, DeviceModel

log = logging.getLogger(__name__)

_TABLE_FC = {"coil": 1, "discrete_input": 2, "holding": 3, "input": 4}
_TABLE_ORDER = ("coil", "discrete_input", "holding", "input")
_WRITE_TABLE = {5: "coil", 15: "coil", 6: "holding", 16: "holding", 22: "holding", 23: "holding"}
_BIT_PLACEHOLDER = 65520


class EndpointError(RuntimeError):
    """An endpoint could not be started (port in use, bad address)."""


def _table_simdata(device: DeviceModel, table: str) -> list[SimData]:
    blocks: list[SimData] = []
    for point in device.map.points_in(table):  # type: ignore[arg-type]
        regs = device.registers_of(point)
        if table in ("coil", "discrete_input"):
            blocks.append(SimData(point.address, values=[bool(regs[0])], datatype=DataType.BITS))
        else:
            blocks.append(SimData(point.address, values=regs, datatype=DataType.REGISTERS))
    if not blocks:  # pymodbus needs one block per table: an invalid register / a far-away bit block
        if table in ("coil", "discrete_input"):
            blocks.append(SimData(_BIT_PLACEHOLDER, values=[False] * 16, datatype=DataType.BITS))
        else:
            blocks.append(SimData(0, count=1, datatype=DataType.INVALID))
    return blocks


class Endpoint:
    """One Modbus TCP server (host:port) carrying one or more simulated devices (unit ids)."""

    def __init__(
        self, host: str, port: int, devices: Iterable[DeviceModel], bind_port: int | None = None
    ) -> None:
        self.host = host
        self.port = port
        """Configured port (site file)."""
        self.bind_port = port if bind_port is None else bind_port
        self.bound_port: int | None = None
        """Port actually listened on (differs from ``port`` when started with free ports)."""
        self.devices = list(devices)
        framers = {d.device.framer for d in self.devices}
        if len(framers) > 1:
            raise EndpointError(f"{host}:{port}: devices mix framers {sorted(framers)}")
        self.framer = FramerType.RTU if framers == {"rtu"} else FramerType.SOCKET
        self.server: ModbusTcpServer | None = None
        self.down = False
        self._published: dict[tuple[str, str], list[int]] = {}
        self._encoded_from: dict[tuple[str, str], tuple] = {}
        """(served value, scale factor) each published point was encoded from: unchanged → not re-encoded."""

    @property
    def running(self) -> bool:
        return self.server is not None

    def _action_for(self, device: DeviceModel):
        async def action(fc, _start, address, _count, _registers, set_values) -> ExcCodes | None:
            if set_values is not None and fc not in WRITE_FCS:
                return None  # the simulator's own update
            faults = device.faults
            if faults.silent:
                raise NoSuchIdException(f"simulated silence of unit {device.device.unit_id}")
            device.note_request()
            if faults.delay_s > 0:
                await asyncio.sleep(faults.delay_s)
            if faults.exception is not None:
                is_write = fc in WRITE_FCS
                if faults.exception_on == "all" or (faults.exception_on == "write") == is_write:
                    return faults.exception
            if fc in WRITE_FCS and set_values is not None:
                return device.client_write(_WRITE_TABLE[fc], address, list(set_values))
            return None

        return action

    def _simdevices(self) -> list[SimDevice]:
        simdevices = []
        for device in self.devices:
            tables = tuple(_table_simdata(device, t) for t in _TABLE_ORDER)
            simdevices.append(
                SimDevice(id=device.device.unit_id, simdata=tables, action=self._action_for(device))
            )
            for point in device.map.points:
                key = (device.device.id, point.id)
                self._published[key] = device.registers_of(point)
                self._encoded_from[key] = _encoding_input(device, point)
        if all(d.device.unit_id != 0 for d in self.devices):

            async def silent(*_args) -> ExcCodes | None:
                raise NoSuchIdException("no device at this unit id")

            # one shared block over the whole address space, so every request reaches the action
            simdevices.append(
                SimDevice(id=0, simdata=[SimData(0, count=65535, datatype=DataType.REGISTERS)], action=silent)
            )
        return simdevices

    async def start(self) -> None:
        """Listen (again) on the bind port with the devices' current register content."""
        if self.server is not None:
            return
        server = ModbusTcpServer(
            self._simdevices(),
            framer=self.framer,
            address=(self.host, self.bound_port or self.bind_port),
            ignore_missing_devices=True,
        )
        try:
            await server.serve_forever(background=True)
        except (OSError, RuntimeError) as exc:
            raise EndpointError(
                f"cannot listen on {self.host}:{self.bound_port or self.bind_port}: {exc}"
            ) from exc
        sockets = getattr(server.transport, "sockets", None) or []
        self.bound_port = sockets[0].getsockname()[1] if sockets else self.bind_port
        self.server = server
        self.down = False

    async def stop(self) -> None:
        """Stop listening and drop every client connection."""
        server, self.server = self.server, None
        if server is not None:
            await server.shutdown()

    async def publish(self) -> int:
        """Write the points whose served registers changed; returns the number of write calls."""
        if self.server is None:
            return 0
        calls = 0
        for device in self.devices:
            for table in _TABLE_ORDER:
                run_start: int | None = None
                run: list = []
                for point in device.map.points_in(table):  # type: ignore[arg-type]
                    key = (device.device.id, point.id)
                    source = _encoding_input(device, point)
                    regs = None
                    if self._encoded_from.get(key) != source:  # encode only when the value changed
                        regs = device.registers_of(point)
                        self._encoded_from[key] = source
                    if regs is None or self._published.get(key) == regs:
                        if run:
                            calls += await self._write(device, table, run_start, run)
                            run_start, run = None, []
                        continue
                    self._published[key] = regs
                    if run and run_start is not None and run_start + len(run) == point.address:
                        run.extend(_as_table(point, regs))
                    else:
                        if run:
                            calls += await self._write(device, table, run_start, run)
                        run_start, run = point.address, list(_as_table(point, regs))
                if run:
                    calls += await self._write(device, table, run_start, run)
        return calls

    async def _write(self, device: DeviceModel, table: str, address: int | None, values: list) -> int:
        assert self.server is not None and address is not None
        await self.server.async_setValues(device.device.unit_id, _TABLE_FC[table], address, values)
        return 1


def _encoding_input(device: DeviceModel, point: Point) -> tuple:
    """What a point's registers are a pure function of: its served value and scale factor."""
    return device.served.get(point.id), device.sf_of(point)


def _as_table(point: Point, regs: list[int]) -> list:
    return [bool(regs[0])] if point.table in ("coil", "discrete_input") else regs
