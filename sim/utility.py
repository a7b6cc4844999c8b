"""Utility mode: the simulator plays the grid operator's load-management system and sends DR targets.

It talks to the controller as a real utility would, over the controller's Modbus TCP northbound server
(``gridside.modbus`` with ``writes_enabled``), never through its code (the simulator never imports the
controller): a DR target is a float32 (big-endian, high word first) written with FC16 to holding register 2
(``cmd_dr_target_kw``, docs/gridside.md), which the controller turns into an event from now for its
``commands.hold_min``. Events come from a fixed schedule, or at random (seeded) with a mean rate per day and
a target drawn as a fraction of the site's import cap. Driven by the simulator's clock
(:meth:`UtilityMode.step` after each physics step): no real-time sleep.
"""

from __future__ import annotations

import random
import struct
from dataclasses import dataclass, field
from datetime import datetime

from pymodbus.client import AsyncModbusTcpClient

DR_TARGET_REGISTER = 2
"""Holding register of ``cmd_dr_target_kw`` in the northbound table (two registers, float32)."""


@dataclass(frozen=True)
class UtilityEvent:
    at: datetime
    target_kw: float


@dataclass
class UtilityMode:
    """Sends ``schedule`` (or random events) to the controller's northbound Modbus server at ``host:port``."""

    host: str
    port: int
    unit_id: int = 1
    schedule: list[UtilityEvent] = field(default_factory=list)
    random_per_day: float = 0.0
    """Mean random events per simulated day (0 = schedule only)."""
    target_range_kw: tuple[float, float] = (0.0, 0.0)
    seed: int = 0
    sent: list[tuple[datetime, float, bool]] = field(default_factory=list)
    """(time, target kW, accepted by the controller) of every event sent."""

    def __post_init__(self) -> None:
        self._rng = random.Random(self.seed)
        self._pending = sorted(self.schedule, key=lambda e: e.at)
        self._client: AsyncModbusTcpClient | None = None

    async def _send(self, at: datetime, target_kw: float) -> None:
        if self._client is None:
            self._client = AsyncModbusTcpClient(self.host, port=self.port)
        if not self._client.connected:
            await self._client.connect()
        hi, lo = struct.unpack(">HH", struct.pack(">f", float(target_kw)))
        reply = await self._client.write_registers(DR_TARGET_REGISTER, [hi, lo], device_id=self.unit_id)
        self.sent.append((at, float(target_kw), not reply.isError()))

    async def step(self, now: datetime, dt_s: float) -> None:
        """Send what is due at ``now`` (scheduled events, and a random one with probability rate × dt)."""
        while self._pending and self._pending[0].at <= now:
            event = self._pending.pop(0)
            await self._send(now, event.target_kw)
        if self.random_per_day > 0 and self._rng.random() < self.random_per_day * dt_s / 86400.0:
            lo, hi = self.target_range_kw
            await self._send(now, round(self._rng.uniform(lo, hi), 1))

    def close(self) -> None:
        if self._client is not None:
            self._client.close()
