"""One Modbus link per endpoint (``host:port`` or serial port), shared by every unit id behind it.

- Requests are serialised (one outstanding request per link, as pymodbus and most devices and RS-485
  gateways require). Two pauses are honoured: the link's ``inter_frame_gap_s`` between any two requests
  (bus silence, e.g. behind a slow RS-485 gateway) and each unit's own minimum interval between two
  requests *to that unit* (the map's ``min_request_interval_ms``, :meth:`ModbusTransport.configure_unit`),
  waited outside the link lock so that other units use the link meanwhile.
- Timeouts and retries are pymodbus's own (``timeout_s`` per attempt, ``retries`` resends with the same
  transaction id); nothing wraps a request in a shorter outer timeout.
- Busy replies (exception 5 *acknowledge* / 6 *busy*) are retried after an exponential back-off, during
  which the link serves other unit ids.
- The link reconnects on demand with exponential back-off between attempts (pymodbus's background
  reconnect is off, so the connect delay a device needs, e.g. Huawei's 1.5 s, is always honoured).
- Modbus TCP, RTU framing over TCP (transparent serial servers) and serial RTU share this interface.
- A reply must fit its request: the same function code, and for register reads exactly the registers
  asked for (a byte count that disagrees with the data or the request is refused). A frame pymodbus cannot
  decode fails the request at once with :class:`BadReplyError` instead of a traceback from pymodbus's
  protocol callback and a timeout.
"""

from __future__ import annotations

import asyncio
import functools
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Literal

from pymodbus import FramerType
from pymodbus.client import AsyncModbusSerialClient, AsyncModbusTcpClient
from pymodbus.exceptions import ConnectionException, ModbusException, ModbusIOException

from drivers.errors import (
    EXCEPTION_NAMES,
    BadReplyError,
    DeviceBusyError,
    ExceptionReplyError,
    NotConnectedError,
    ResponseTimeoutError,
)
from drivers.logcontext import CURRENT_LINK
from drivers.registermap import Table

Framer = Literal["socket", "rtu"]

BUSY_CODES = frozenset({5, 6})
"""Exception codes meaning "alive, try again later" (acknowledge, server device busy)."""
GATEWAY_SILENT_CODES = frozenset({10, 11})
"""Gateway exceptions meaning the target unit did not answer (treated like a timeout of that unit)."""
READ_FC = {"coil": 1, "discrete": 2, "holding": 3, "input": 4}
"""Function code of a read of each table."""


@dataclass(frozen=True)
class Endpoint:
    """Where a link goes: TCP ``host:port`` (Modbus TCP or RTU over TCP) or a serial port (RTU)."""

    host: str = "127.0.0.1"
    port: int = 502
    framer: Framer = "socket"
    serial_port: str | None = None
    """Serial device (``/dev/ttyUSB0``): serial RTU; ``host``/``port`` are then ignored."""
    baudrate: int = 9600
    parity: Literal["N", "E", "O"] = "N"
    stopbits: int = 1
    bytesize: int = 8

    @property
    def key(self) -> str:
        """Identity of the link: devices with the same key share one connection."""
        return f"serial:{self.serial_port}" if self.serial_port else f"{self.host}:{self.port}"

    @property
    def kind(self) -> str:
        if self.serial_port:
            return "serial RTU"
        return "RTU over TCP" if self.framer == "rtu" else "Modbus TCP"


@dataclass(frozen=True)
class LinkSettings:
    """Timing of one link (the most conservative of the devices sharing it, see :meth:`merge`)."""

    timeout_s: float = 1.0
    """Per-attempt response timeout, s."""
    retries: int = 1
    """Resends after a timeout (pymodbus); a request fails after ``timeout_s × (retries + 1)``."""
    inter_frame_gap_s: float = 0.0
    """Minimum pause between the end of any request on the link and the start of the next, s."""
    connect_delay_s: float = 0.0
    """Wait after a (re)connect before the first request, s (Huawei SmartLogger/SDongle: 1.5)."""
    reconnect_min_s: float = 0.5
    reconnect_max_s: float = 30.0
    busy_retries: int = 3
    """Retries after a busy reply before giving up with :class:`DeviceBusyError`."""
    busy_backoff_s: float = 0.1
    """First back-off after a busy reply, doubled per busy reply up to ``busy_backoff_max_s``."""
    busy_backoff_max_s: float = 2.0

    def merge(self, other: LinkSettings) -> LinkSettings:
        """The most conservative combination of two devices' settings on one link."""
        return LinkSettings(
            timeout_s=max(self.timeout_s, other.timeout_s),
            retries=max(self.retries, other.retries),
            inter_frame_gap_s=max(self.inter_frame_gap_s, other.inter_frame_gap_s),
            connect_delay_s=max(self.connect_delay_s, other.connect_delay_s),
            reconnect_min_s=min(self.reconnect_min_s, other.reconnect_min_s),
            reconnect_max_s=max(self.reconnect_max_s, other.reconnect_max_s),
            busy_retries=max(self.busy_retries, other.busy_retries),
            busy_backoff_s=max(self.busy_backoff_s, other.busy_backoff_s),
            busy_backoff_max_s=max(self.busy_backoff_max_s, other.busy_backoff_max_s),
        )


@dataclass
class LinkStats:
    """Counters of one link (for the CLI, metrics and the benchmark)."""

    requests: int = 0
    registers_read: int = 0
    registers_written: int = 0
    timeouts: int = 0
    exception_replies: int = 0
    bad_replies: int = 0
    busy_replies: int = 0
    connects: int = 0
    connect_failures: int = 0
    disconnects: int = 0
    by_unit: dict[int, int] = field(default_factory=dict)


def _names_link(method):
    """Run ``method`` with :data:`CURRENT_LINK` set to the link's label: pymodbus's log records (and those of
    the connection's read callbacks created meanwhile) then name the devices."""

    @functools.wraps(method)
    async def wrapper(self, *args, **kwargs):
        token = CURRENT_LINK.set(self.label)
        try:
            return await method(self, *args, **kwargs)
        finally:
            CURRENT_LINK.reset(token)

    return wrapper


class ModbusTransport:
    """An async Modbus client for one endpoint with serialised requests, back-off and reconnect."""

    def __init__(
        self,
        endpoint: Endpoint,
        settings: LinkSettings | None = None,
        *,
        client_factory: Callable[[Endpoint, LinkSettings], Any] | None = None,
    ) -> None:
        self.endpoint = endpoint
        self.settings = settings or LinkSettings()
        self.stats = LinkStats()
        self._client_factory = client_factory or _make_client
        self._client: Any = None
        self._lock = asyncio.Lock()
        self._next_connect_t = 0.0
        self._backoff_s = self.settings.reconnect_min_s
        self._last_io_end_t = 0.0
        self._busy_until: dict[int, float] = {}
        self._unit_interval_s: dict[int, float] = {}
        self._unit_last_end_t: dict[int, float] = {}
        self._relaxed = False
        self.label = endpoint.key
        """How log records name this link (the fleet adds the device ids behind it)."""

    # ------------------------------------------------------------------ state

    @property
    def key(self) -> str:
        return self.endpoint.key

    @property
    def connected(self) -> bool:
        return self._client is not None and bool(self._client.connected)

    def __repr__(self) -> str:
        return f"ModbusTransport({self.endpoint.key}, {self.endpoint.kind})"

    def configure_unit(self, unit_id: int, *, min_interval_s: float = 0.0) -> None:
        """Minimum time between the end of one request to ``unit_id`` and the start of the next (max wins)."""
        if self._relaxed:
            return
        self._unit_interval_s[unit_id] = max(self._unit_interval_s.get(unit_id, 0.0), min_interval_s)

    def relax_pacing(self) -> None:
        """Drop every device-protecting pause: per-unit intervals, inter-frame gap, connect delay and
        reconnect back-off. Only for a simulator on loopback (possibly faster than real time, while these
        pauses are wall-clock); real devices need the pacing of their maps."""
        from dataclasses import replace

        self._unit_interval_s.clear()
        self._relaxed = True
        self.settings = replace(
            self.settings, inter_frame_gap_s=0.0, connect_delay_s=0.0, reconnect_min_s=0.0, reconnect_max_s=0.0
        )
        self._backoff_s = 0.0
        self._next_connect_t = 0.0

    async def close(self) -> None:
        """Close the link; a later request reconnects."""
        async with self._lock:
            if self._client is not None:
                self._client.close()
                self._client = None

    # ------------------------------------------------------------------ requests

    async def read(
        self, table: Table, address: int, count: int, unit_id: int, *, on_busy: Callable[[str], None] | None = None
    ) -> list[int]:
        """Registers (or bits as 0/1) ``address .. address+count-1`` of ``table`` from unit ``unit_id``."""
        what = f"read {table} {address}+{count} unit {unit_id}"

        def call(client: Any) -> Awaitable[Any]:
            if table == "holding":
                return client.read_holding_registers(address, count=count, device_id=unit_id)
            if table == "input":
                return client.read_input_registers(address, count=count, device_id=unit_id)
            if table == "coil":
                return client.read_coils(address, count=count, device_id=unit_id)
            return client.read_discrete_inputs(address, count=count, device_id=unit_id)

        rsp = await self._execute(unit_id, call, what, on_busy, READ_FC.get(table, 2))
        if table in ("holding", "input"):
            values = list(getattr(rsp, "registers", None) or [])
            fits = len(values) == count  # the byte count said exactly what was asked for
        else:
            values = [1 if b else 0 for b in (getattr(rsp, "bits", None) or [])]
            fits = count <= len(values) < count + 8  # bits come padded to whole bytes
        if not fits:
            self.stats.bad_replies += 1
            raise BadReplyError(f"{self.key}: {what}: reply carries {len(values)} values, not {count}")
        self.stats.registers_read += count
        return values[:count]

    async def write(
        self,
        table: Table,
        address: int,
        values: list[int],
        unit_id: int,
        *,
        single_fc6: bool = True,
        on_busy: Callable[[str], None] | None = None,
    ) -> None:
        """Write registers (FC6 for one register when ``single_fc6``, else FC16) or coils (FC5/FC15)."""
        if table not in ("holding", "coil"):
            raise ValueError(f"cannot write to the {table} table")
        what = f"write {table} {address} {values} unit {unit_id}"
        if table == "coil":
            fc = 5 if len(values) == 1 else 15
        else:
            fc = 6 if len(values) == 1 and single_fc6 else 16

        def call(client: Any) -> Awaitable[Any]:
            if table == "coil":
                if len(values) == 1:
                    return client.write_coil(address, bool(values[0]), device_id=unit_id)
                return client.write_coils(address, [bool(v) for v in values], device_id=unit_id)
            if len(values) == 1 and single_fc6:
                return client.write_register(address, values[0], device_id=unit_id)
            return client.write_registers(address, list(values), device_id=unit_id)

        await self._execute(unit_id, call, what, on_busy, fc)
        self.stats.registers_written += len(values)

    @_names_link
    async def _execute(
        self,
        unit_id: int,
        call: Callable[[Any], Awaitable[Any]],
        what: str,
        on_busy: Callable[[str], None] | None,
        function_code: int,
    ) -> Any:
        s = self.settings
        for attempt in range(s.busy_retries + 1):
            await self._acquire_for(unit_id)
            try:
                await self._ensure_connected()
                gap = self._last_io_end_t + s.inter_frame_gap_s - time.monotonic()
                if gap > 0:
                    await asyncio.sleep(gap)
                self.stats.requests += 1
                self.stats.by_unit[unit_id] = self.stats.by_unit.get(unit_id, 0) + 1
                try:
                    rsp = await call(self._client)
                except BadReplyError as exc:
                    self.stats.bad_replies += 1
                    raise BadReplyError(f"{self.key}: {what}: {exc}") from None
                except ConnectionException as exc:
                    self._mark_down()
                    raise NotConnectedError(f"{self.key}: {what}: connection lost ({_short(exc)})") from None
                except ModbusIOException as exc:
                    self.stats.timeouts += 1
                    if not self.connected:
                        self._mark_down()
                    raise ResponseTimeoutError(f"{self.key}: {what}: no response ({_short(exc)})") from None
                except ModbusException as exc:
                    raise ResponseTimeoutError(f"{self.key}: {what}: {_short(exc)}") from None
                finally:
                    self._last_io_end_t = self._unit_last_end_t[unit_id] = time.monotonic()
            finally:
                self._lock.release()
            if rsp is None or not rsp.isError():
                self._busy_until.pop(unit_id, None)
                got = getattr(rsp, "function_code", function_code)
                if got != function_code:
                    self.stats.bad_replies += 1
                    raise BadReplyError(f"{self.key}: {what}: reply has function code {got}, "
                                        f"not {function_code}")
                return rsp
            code = int(getattr(rsp, "exception_code", 0) or 0)
            self.stats.exception_replies += 1
            message = f"{self.key}: {what}: exception {code} ({EXCEPTION_NAMES.get(code, 'unknown')})"
            if code in BUSY_CODES:
                self.stats.busy_replies += 1
                if on_busy is not None:
                    on_busy(message)
                if attempt < s.busy_retries:
                    backoff = min(s.busy_backoff_max_s, s.busy_backoff_s * 2**attempt)
                    self._busy_until[unit_id] = time.monotonic() + backoff
                    continue
                raise DeviceBusyError(code, message)
            if code in GATEWAY_SILENT_CODES:
                raise ResponseTimeoutError(message)
            raise ExceptionReplyError(code, message)
        raise AssertionError("unreachable")  # pragma: no cover

    def _unit_ready_t(self, unit_id: int) -> float:
        return max(
            self._busy_until.get(unit_id, 0.0),
            self._unit_last_end_t.get(unit_id, 0.0) + self._unit_interval_s.get(unit_id, 0.0),
        )

    async def _acquire_for(self, unit_id: int) -> None:
        """Take the link lock once ``unit_id`` may be asked again (its interval / busy back-off passed).

        The wait happens outside the lock, so other units use the link meanwhile; if another request to
        the same unit got in first, wait again.
        """
        while True:
            wait = self._unit_ready_t(unit_id) - time.monotonic()
            if wait > 0:
                await asyncio.sleep(wait)
            await self._lock.acquire()
            if self._unit_ready_t(unit_id) <= time.monotonic():
                return
            self._lock.release()

    async def _ensure_connected(self) -> None:
        """Connect if needed (called with the lock held); :class:`NotConnectedError` while backing off."""
        if self._client is not None and self._client.connected:
            return
        now = time.monotonic()
        if now < self._next_connect_t:
            raise NotConnectedError(
                f"{self.key}: not connected (next connection attempt in {self._next_connect_t - now:.1f} s)"
            )
        if self._client is None:
            self._client = self._client_factory(self.endpoint, self.settings)
        try:
            ok = await self._client.connect()
        except (OSError, ModbusException) as exc:  # pragma: no cover - pymodbus returns False normally
            ok = False
            reason = _short(exc)
        else:
            reason = "connection refused or timed out"
        if not ok:
            self.stats.connect_failures += 1
            self._next_connect_t = time.monotonic() + self._backoff_s
            self._backoff_s = min(self.settings.reconnect_max_s, self._backoff_s * 2)
            raise NotConnectedError(f"{self.key}: cannot connect ({reason})")
        self.stats.connects += 1
        self._backoff_s = self.settings.reconnect_min_s
        if self.settings.connect_delay_s > 0:
            await asyncio.sleep(self.settings.connect_delay_s)
        self._last_io_end_t = time.monotonic()

    def _mark_down(self) -> None:
        """The link dropped: the next request tries to reconnect at once, then with back-off."""
        self.stats.disconnects += 1
        if self._client is not None:
            self._client.close()
        self._next_connect_t = 0.0


def _short(exc: BaseException) -> str:
    text = str(exc).replace("Modbus Error: ", "")
    return text if len(text) < 160 else text[:157] + "..."


def _refuse_undecodable(client: Any) -> Any:
    """Make a frame pymodbus cannot decode fail the request waiting for it, at once and in one line.

    pymodbus raises inside its protocol callback (asyncio logs a traceback) and lets the request run into
    its timeout; the frame is dropped here and the waiting request gets :class:`BadReplyError`.
    """
    ctx = getattr(client, "ctx", None)
    original = getattr(ctx, "callback_data", None)
    if original is None:  # pragma: no cover - another pymodbus layout: keep its behaviour
        return client

    def callback_data(data: bytes, addr: tuple | None = None) -> int:
        try:
            return original(data, addr=addr)
        except ModbusException as exc:
            future = getattr(ctx, "response_future", None)
            if future is not None and not future.done():
                future.set_exception(BadReplyError(f"undecodable reply {data[:16].hex(' ')}"
                                                   f"{' ...' if len(data) > 16 else ''} ({_short(exc)})"))
            return len(data)

    ctx.callback_data = callback_data
    return client


def _make_client(endpoint: Endpoint, settings: LinkSettings) -> Any:
    """A pymodbus async client without background reconnect (the transport reconnects itself); replies
    pymodbus cannot decode fail their request (:func:`_refuse_undecodable`)."""
    common: dict[str, Any] = {"timeout": settings.timeout_s, "retries": settings.retries, "reconnect_delay": 0}
    if endpoint.serial_port:
        return _refuse_undecodable(AsyncModbusSerialClient(
            endpoint.serial_port,
            framer=FramerType.RTU,
            baudrate=endpoint.baudrate,
            parity=endpoint.parity,
            stopbits=endpoint.stopbits,
            bytesize=endpoint.bytesize,
            **common,
        ))
    framer = FramerType.RTU if endpoint.framer == "rtu" else FramerType.SOCKET
    return _refuse_undecodable(AsyncModbusTcpClient(endpoint.host, port=endpoint.port, framer=framer, **common))


__all__ = [
    "BUSY_CODES",
    "Endpoint",
    "Framer",
    "LinkSettings",
    "LinkStats",
    "ModbusTransport",
]
