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
- strict like a real device (:class:`StrictCore`): a unit id nobody has gets no reply (unit 0 is a device of
  its own, e.g. a SmartLogger, never a catch-all), a function code the device's map does not allow gets
  exception 1, an address outside the map exception 2. A map whose ``function_codes`` allow FC4 but which has
  no input registers serves its holding registers on FC4 too (meters that answer both).
- serial RTU: an endpoint with ``serial_port`` serves the same devices with ``ModbusSerialServer`` (RTU).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable

from pymodbus.constants import ExcCodes
from pymodbus.exceptions import NoSuchIdException
from pymodbus.framer import FramerType
from pymodbus.server import ModbusSerialServer, ModbusTcpServer
from pymodbus.simulator import DataType, SimData, SimDevice
from pymodbus.simulator.simcore import SimCore

from drivers.registermap import Point
from sim.devices.base import WRITE_FCS, DeviceModel

log = logging.getLogger(__name__)

_TABLE_FC = {"coil": 1, "discrete_input": 2, "holding": 3, "input": 4}
_TABLE_ORDER = ("coil", "discrete_input", "holding", "input")
_WRITE_TABLE = {5: "coil", 15: "coil", 6: "holding", 16: "holding", 22: "holding", 23: "holding"}
_BIT_PLACEHOLDER = 65520


class StrictCore(SimCore):
    """pymodbus's datastore core with a real device's strictness (see the module docstring)."""

    def __init__(self, devices: list[SimDevice], allowed: dict[int, frozenset[int]], fc4_alias: set[int]) -> None:
        super().__init__(devices)
        self.allowed = allowed
        self.fc4_alias = fc4_alias

    def _SimCore__get_device(self, device_id: int):  # noqa: N802 - overrides SimCore's private lookup
        try:
            return self.devices[device_id]
        except KeyError:
            raise NoSuchIdException(f"no device at unit id {device_id}") from None

    def _fc(self, device_id: int, fc: int) -> int | None:
        """The function code to serve, or ``None`` when the device does not support it."""
        if device_id in self.allowed and fc not in self.allowed[device_id]:
            return None
        return 3 if fc == 4 and device_id in self.fc4_alias else fc

    async def async_getValues(self, device_id: int, func_code: int, address: int, count: int = 1):  # noqa: N802
        self._SimCore__get_device(device_id)
        fc = self._fc(device_id, func_code)
        if fc is None:
            return ExcCodes.ILLEGAL_FUNCTION
        return await super().async_getValues(device_id, fc, address, count)

    async def async_setValues(self, device_id: int, func_code: int, address: int, values):  # noqa: N802
        self._SimCore__get_device(device_id)
        if func_code in WRITE_FCS and self._fc(device_id, func_code) is None:
            return ExcCodes.ILLEGAL_FUNCTION
        return await super().async_setValues(device_id, func_code, address, values)


class EndpointError(RuntimeError):
    """An endpoint could not be started (port in use, bad address); ``where``/``reason`` when it could not listen."""

    def __init__(self, message: str, where: str | None = None, reason: str | None = None) -> None:
        super().__init__(message)
        self.where, self.reason = where, reason


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
        self,
        host: str,
        port: int,
        devices: Iterable[DeviceModel],
        bind_port: int | None = None,
        serial_port: str | None = None,
    ) -> None:
        self.serial_port = serial_port
        """Serial device the simulator serves on (RTU) instead of ``host:port``."""
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
        self.framer = FramerType.RTU if framers == {"rtu"} or serial_port else FramerType.SOCKET
        self.server: ModbusTcpServer | None = None
        self.down = False
        self._published: dict[tuple[str, str], list[int]] = {}
        self._encoded_from: dict[tuple[str, str], tuple] = {}
        """(served value, scale factor) each published point was encoded from: unchanged → not re-encoded."""
        self._raw_fault: dict[str, float | None] = {}
        self._order: dict[str, dict[str, tuple[tuple[int, int], Point]]] = {
            d.device.id: {point.id: ((rank, point.address or 0), point)
                          for rank, table in enumerate(_TABLE_ORDER) for point in d.map.points_in(table)}  # type: ignore[arg-type]
            for d in self.devices}
        """Per device, each point's (table rank, address) sort key: changed points are written in runs."""

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
        return simdevices

    def _core(self) -> StrictCore:
        allowed = {d.device.unit_id: d.map.allowed_function_codes for d in self.devices}
        alias = {
            d.device.unit_id
            for d in self.devices
            if 4 in allowed[d.device.unit_id] and not d.map.points_in("input") and d.map.points_in("holding")
        }
        return StrictCore(self._simdevices(), allowed, alias)

    async def start(self) -> None:
        """Listen (again) on the bind port (or serial port) with the devices' current register content."""
        if self.server is not None:
            return
        where = self.serial_port or f"{self.host}:{self.bound_port or self.bind_port}"
        core = self._core()
        server: ModbusTcpServer | ModbusSerialServer
        if self.serial_port:
            server = ModbusSerialServer(
                _placeholder(),
                framer=FramerType.RTU,
                port=self.serial_port,
                baudrate=self.devices[0].device.baudrate,
                parity=self.devices[0].device.parity,
                stopbits=self.devices[0].device.stopbits,
                bytesize=self.devices[0].device.bytesize,
                ignore_missing_devices=True,
            )
        else:
            server = ModbusTcpServer(
                _placeholder(),
                framer=self.framer,
                address=(self.host, self.bound_port or self.bind_port),
                ignore_missing_devices=True,
            )
        server.context = core  # strict unit ids and function codes (pymodbus's own core falls back to unit 0)
        try:
            await server.serve_forever(background=True)
        except (OSError, RuntimeError) as exc:
            raise EndpointError(f"cannot listen on {where}: {exc}", where, str(exc)) from exc
        if not self.serial_port:
            sockets = getattr(server.transport, "sockets", None) or []
            self.bound_port = sockets[0].getsockname()[1] if sockets else self.bind_port
        self.server = server
        self.down = False

    async def stop(self) -> None:
        """Stop listening and drop every client connection."""
        server, self.server = self.server, None
        if server is not None:
            await server.shutdown()
            # Let the closed connections reach the clients (loopback EOF) in a few loop turns, not in wall time:
            # the physics task awaits this, and a real sleep would stall it under a stepped clock.
            for _ in range(3):
                await asyncio.sleep(0)
            if self.serial_port:
                await asyncio.sleep(0.02)  # a pty (socat) passes the hang-up on its own schedule

    async def publish(self) -> int:
        """Write the points whose served registers changed; returns the number of write calls.

        Only the points a device noted as changed since the last publish are looked at (all of them when the
        raw-value fault comes or goes, which bypasses the served values); a point is re-encoded only when its
        (served value, scale factor) differs from what it was encoded from, and written only when its
        registers differ."""
        if self.server is None:
            return 0
        calls = 0
        for device in self.devices:
            raw = device.faults.raw_value
            if raw != self._raw_fault.get(device.device.id):
                self._raw_fault[device.device.id] = raw
                self._encoded_from = {k: v for k, v in self._encoded_from.items() if k[0] != device.device.id}
                device.mark_all_changed()
            if not device.changed:
                continue
            order = self._order[device.device.id]
            points = sorted((order[pid] for pid in device.take_changed() if pid in order), key=lambda x: x[0])
            table: str | None = None
            run_start: int | None = None
            run: list = []
            for (_rank, address), point in points:
                key = (device.device.id, point.id)
                source = _encoding_input(device, point)
                regs = None
                if self._encoded_from.get(key) != source:  # encode only when the value changed
                    regs = device.registers_of(point)
                    self._encoded_from[key] = source
                if regs is None or self._published.get(key) == regs:
                    continue
                self._published[key] = regs
                if run and table == point.table and run_start is not None and run_start + len(run) == address:
                    run.extend(_as_table(point, regs))
                else:
                    if run:
                        calls += await self._write(device, table, run_start, run)
                    table, run_start, run = point.table, address, list(_as_table(point, regs))
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



def _placeholder() -> SimDevice:
    """A minimal device for the server constructor; the real datastore is the :class:`StrictCore` set after."""
    return SimDevice(id=1, simdata=[SimData(0, count=1, datatype=DataType.REGISTERS)])
