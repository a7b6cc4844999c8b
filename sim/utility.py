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

import logging
import random
import struct
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, tzinfo
from pathlib import Path

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from pymodbus.client import AsyncModbusTcpClient
from pymodbus.exceptions import ModbusException

from microgrid.errors import UserError
from microgrid.site.loader import format_loc, load_yaml_unique

log = logging.getLogger(__name__)

DR_TARGET_REGISTER = 2
"""Holding register of ``cmd_dr_target_kw`` in the northbound table (two registers, float32)."""


@dataclass(frozen=True)
class UtilityEvent:
    at: datetime
    target_kw: float


class _Entry(BaseModel):
    model_config = ConfigDict(extra="forbid")

    at: datetime
    target_kw: float = Field(ge=0, allow_inf_nan=False)


def read_utility_schedule(path: str | Path, tz: tzinfo) -> list[UtilityEvent]:
    """A utility schedule file: a YAML list of ``{at: ISO time, target_kw: kW}`` (no offset: ``tz``), e.g.
    ``- {at: "2026-07-15T14:00", target_kw: 400}``; :class:`UserError` (exit 2) naming the entry otherwise."""
    path = Path(path)
    try:
        data = load_yaml_unique(path.read_bytes().decode("utf-8"))
    except OSError as exc:
        raise UserError.of("uerr.utility_read", path=str(path), error=str(exc.strerror or exc)) from None
    except (UnicodeDecodeError, yaml.YAMLError):
        raise UserError.of("uerr.utility_not_yaml", path=str(path)) from None
    if not isinstance(data, list) or not data:
        raise UserError.of("uerr.utility_not_list", path=str(path))
    events = []
    for i, item in enumerate(data, start=1):
        try:
            entry = _Entry.model_validate(item)
        except ValidationError as exc:
            err = exc.errors(include_url=False)[0]
            where = format_loc(tuple(err["loc"])) or "(entry)"
            raise UserError.of("uerr.utility_entry", path=str(path), n=i, field=where,
                               problem=err["msg"].removeprefix("Value error, ")) from None
        at = entry.at if entry.at.tzinfo else entry.at.replace(tzinfo=tz)
        events.append(UtilityEvent(at, entry.target_kw))
    return events


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
    on_sent: Callable[[datetime, float, str], object] | None = None
    """Told of every event: time, target kW and ``accepted``, ``refused`` or ``not sent: <why>``."""

    def __post_init__(self) -> None:
        self._rng = random.Random(self.seed)
        self._pending = sorted(self.schedule, key=lambda e: e.at)
        self._client: AsyncModbusTcpClient | None = None

    async def _send(self, at: datetime, target_kw: float) -> None:
        if self._client is None:
            self._client = AsyncModbusTcpClient(self.host, port=self.port)
        hi, lo = struct.unpack(">HH", struct.pack(">f", float(target_kw)))
        try:
            if not self._client.connected and not await self._client.connect():
                raise ModbusException(f"controller unreachable at {self.host}:{self.port}")
            reply = await self._client.write_registers(DR_TARGET_REGISTER, [hi, lo], device_id=self.unit_id)
            outcome = "refused" if reply.isError() else "accepted"
        except ModbusException as exc:  # a HIL rig keeps simulating when the controller is away
            outcome = f"not sent: {exc}"
            log.warning("utility mode: DR target %g kW %s", target_kw, outcome)
        self.sent.append((at, float(target_kw), outcome == "accepted"))
        if self.on_sent is not None:
            self.on_sent(at, float(target_kw), outcome)

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
