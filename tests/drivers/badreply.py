"""A Modbus TCP proxy on loopback that damages the replies of a real server (wrong function code, wrong byte
count), for tests of the drivers' reply validation. Requests pass unchanged; replies are rewritten per
MBAP frame (7-byte header, then the PDU: function code, byte count, data)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

Damage = Callable[[bytes], bytes]
"""Takes one reply PDU (function code first), returns the PDU to send instead."""


def wrong_function_code(pdu: bytes) -> bytes:
    """A read reply of the other register table (3 <-> 4), same data: decodes cleanly, answers another request."""
    fc = pdu[0]
    return bytes([{3: 4, 4: 3}.get(fc, fc)]) + pdu[1:] if fc < 0x80 else pdu


def byte_count_too_large(pdu: bytes) -> bytes:
    """A read reply whose byte count exceeds the data sent (pymodbus cannot decode it)."""
    return pdu[:1] + bytes([min(pdu[1] + 4, 255)]) + pdu[2:] if pdu[0] in (3, 4) else pdu


def byte_count_too_small(pdu: bytes) -> bytes:
    """A read reply that announces and carries one register less than asked for."""
    return pdu[:1] + bytes([pdu[1] - 2]) + pdu[2:-2] if pdu[0] in (3, 4) and pdu[1] >= 2 else pdu


class DamagingProxy:
    """``127.0.0.1:<port>`` → ``127.0.0.1:<upstream>``, every reply passed through ``damage``."""

    def __init__(self, upstream_port: int, damage: Damage) -> None:
        self.upstream_port = upstream_port
        self.damage = damage
        self.port = 0
        self.replies = 0
        self._server: asyncio.base_events.Server | None = None
        self._tasks: set[asyncio.Task] = set()

    async def start(self) -> DamagingProxy:
        self._server = await asyncio.start_server(self._client, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()

    async def _client(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self.upstream_port)
        pump = asyncio.create_task(self._pump(reader, up_writer))
        self._tasks.add(pump)
        try:
            while True:
                header = await up_reader.readexactly(7)
                pdu = self.damage(await up_reader.readexactly(int.from_bytes(header[4:6], "big") - 1))
                self.replies += 1
                writer.write(header[:4] + (len(pdu) + 1).to_bytes(2, "big") + header[6:7] + pdu)
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            pump.cancel()
            up_writer.close()
            writer.close()

    @staticmethod
    async def _pump(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while data := await reader.read(4096):
                writer.write(data)
                await writer.drain()
        except (ConnectionError, asyncio.CancelledError):
            pass
