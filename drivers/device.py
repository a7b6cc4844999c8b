"""One Modbus device: a register map at a unit id behind a shared :class:`~drivers.transport.ModbusTransport`.

It polls sets of points with planned block reads, decodes them (scale, SunSpec scale factors, offsets, word
order) into timestamped :class:`Sample` values, keeps the device's :class:`~drivers.health.HealthTracker`
up to date and performs raw register writes for the safe-write layer. It knows nothing about signs or
capabilities: that is the adapters' job.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from drivers.clock import SYSTEM_CLOCK, Clock
from drivers.errors import (
    CommError,
    DeviceBusyError,
    ExceptionReplyError,
    NotConnectedError,
    ResponseTimeoutError,
    UnknownPointError,
)
from drivers.health import Health, HealthTracker
from drivers.planning import ReadBlock, plan_reads
from drivers.registermap import Point, RegisterMap, apply_ratios, decode
from drivers.transport import ModbusTransport

Value = float | int | str | None


@dataclass(frozen=True, slots=True)
class Sample:
    """A decoded point value and when it was read (``t`` monotonic s, ``time`` tz-aware)."""

    value: Value
    t: float
    time: datetime


@dataclass
class PollOutcome:
    """What one :meth:`ModbusDevice.poll` did."""

    requests: int = 0
    delivered: int = 0
    """Points that got a fresh value."""
    failed: int = 0
    """Blocks that failed (exception reply, timeout, no link)."""
    error: str = ""


class ModbusDevice:
    """Reads and writes one device; see the module docstring."""

    def __init__(
        self,
        device_id: str,
        regmap: RegisterMap,
        transport: ModbusTransport,
        unit_id: int,
        *,
        clock: Clock = SYSTEM_CLOCK,
        stale_after_s: float = 5.0,
        offline_after: int = 3,
        single_fc6: bool | None = None,
        max_gap_known: int = 32,
        max_gap_unknown: int = 4,
    ) -> None:
        self.device_id = device_id
        self.regmap = regmap
        self.transport = transport
        self.unit_id = unit_id
        self.clock = clock
        self.health = HealthTracker(stale_after_s=stale_after_s, offline_after=offline_after)
        if single_fc6 is None:
            single_fc6 = not regmap.sunspec_models and (not regmap.function_codes or 6 in regmap.function_codes)
        self.single_fc6 = single_fc6
        """FC6 for one-register writes; SunSpec maps and maps whose ``function_codes`` lack 6 use FC16."""
        self.max_gap_known = max_gap_known
        self.max_gap_unknown = max_gap_unknown
        self.samples: dict[str, Sample] = {}
        self.unsupported: dict[str, str] = {}
        """Points the device refused with "illegal data address" -> the error; left out of polls until
        ``unsupported_retry_s`` has passed."""
        self._unsupported_t: dict[str, float] = {}
        self.unsupported_retry_s = 600.0
        self._probe: asyncio.Task[PollOutcome] | None = None
        self._plans: dict[frozenset[str], list[ReadBlock]] = {}
        self._strict_gaps = False
        self._sf_ids = frozenset(p.scale_sf for p in regmap.points if p.scale_sf)
        self._points: dict[str, Point] = {p.id: p for p in regmap.points}  # plain dict: hot path
        transport.configure_unit(unit_id, min_interval_s=regmap.min_request_interval_ms / 1000.0)

    def replace_map(self, regmap: RegisterMap) -> None:
        """Use another map for this device (a discovered SunSpec chain); forgets plans and samples of old ids."""
        self.regmap = regmap
        self._plans.clear()
        self._sf_ids = frozenset(p.scale_sf for p in regmap.points if p.scale_sf)
        self._points = {p.id: p for p in regmap.points}

    def __repr__(self) -> str:
        return f"ModbusDevice({self.device_id}, {self.regmap.name}, unit {self.unit_id} @ {self.transport.key})"

    # ------------------------------------------------------------------ values

    def point(self, point_id: str) -> Point:
        try:
            return self._points[point_id]
        except KeyError:
            raise UnknownPointError.of("uerr.point_unknown", device=self.device_id, map=self.regmap.name,
                                       point=point_id).with_problem(
                "uerr.points_list", ids=", ".join(p.id for p in self.regmap.points)) from None

    def has(self, point_id: str) -> bool:
        return point_id in self._points

    def sample(self, point_id: str) -> Sample | None:
        return self.samples.get(point_id)

    def value(self, point_id: str) -> Value:
        """Last decoded value of a point (device units, secondary side for ratio points) or ``None``."""
        s = self.samples.get(point_id)
        return s.value if s is not None else None

    def number(self, point_id: str) -> float | None:
        """Last value as a float, ``None`` if missing or not numeric."""
        v = self.value(point_id)
        return float(v) if isinstance(v, int | float) and not isinstance(v, bool) else None

    def primary(self, point_id: str) -> float | None:
        """Last value multiplied by its ratio points (``multiply_by``, e.g. meter PT × CT)."""
        v = self.number(point_id)
        point = self._points[point_id]
        if v is None or not point.multiply_by:
            return v
        ratios: dict[str, float] = {}
        for ref in point.multiply_by:
            r = self.number(ref)
            if r is None:
                return None
            ratios[ref] = r
        return apply_ratios(point, v, ratios)

    def age_s(self, point_id: str) -> float | None:
        s = self.samples.get(point_id)
        return None if s is None else self.clock.monotonic() - s.t

    def fresh(self, point_id: str, max_age_s: float | None = None) -> bool:
        """True if the point has a value read within ``max_age_s`` (default: the device's stale limit)."""
        s = self.samples.get(point_id)
        if s is None or s.value is None:
            return False
        limit = self.health.stale_after_s if max_age_s is None else max_age_s
        return self.clock.monotonic() - s.t <= limit

    def health_state(self) -> Health:
        return self.health.state(self.clock.monotonic())

    def sf_value(self, point: Point) -> int | None:
        """Current SunSpec scale factor of ``point`` (``None`` if it has none or it was never read)."""
        if not point.scale_sf:
            return None
        v = self.value(point.scale_sf)
        return int(v) if isinstance(v, int | float) else None

    def expand(self, point_ids: Iterable[str]) -> set[str]:
        """The points plus the SunSpec scale-factor points needed to decode them.

        Ratio points (``multiply_by``, e.g. meter PT/CT) are configuration: adapters read them in their
        static class instead of with every measurement.
        """
        out: set[str] = set()
        for pid in point_ids:
            point = self.point(pid)
            out.add(pid)
            if point.scale_sf:
                out.add(point.scale_sf)
        return out

    # ------------------------------------------------------------------ reading

    def plan(self, point_ids: Iterable[str]) -> list[ReadBlock]:
        """The read requests for ``point_ids`` (cached per set)."""
        key = frozenset(p for p in self.expand(point_ids) if p not in self.unsupported)
        plan = self._plans.get(key)
        if plan is None:
            plan = plan_reads(
                self.regmap,
                [self._points[p] for p in key],
                max_gap_known=self.max_gap_known,
                max_gap_unknown=0 if self._strict_gaps else self.max_gap_unknown,
            )
            self._plans[key] = plan
        return plan

    @property
    def unresponsive(self) -> bool:
        """The last request got no answer at all (timeout), or there is no link."""
        return self.health.consecutive_timeouts > 0 or self.health.link_down

    @property
    def probing(self) -> bool:
        return self._probe is not None and not self._probe.done()

    async def poll_in_cycle(self, point_ids: Iterable[str]) -> PollOutcome | None:
        """Poll as part of a control cycle: a device that did not answer its last request is polled in
        the background (the cycle does not wait ``timeout × (retries + 1)`` for it again); its health and
        samples update when the probe ends. Returns ``None`` when the poll runs in the background."""
        if not self.unresponsive or self.health.link_down:
            return await self.poll(point_ids)  # a down link fails fast (reconnect back-off)
        if not self.probing:
            self._probe = asyncio.create_task(self.poll(list(point_ids)), name=f"probe {self.device_id}")
        return None

    async def close(self) -> None:
        """Wait for a background probe to end (it is bounded by the request timeout)."""
        if self._probe is not None and not self._probe.done():
            await asyncio.gather(self._probe, return_exceptions=True)

    async def poll(self, point_ids: Iterable[str]) -> PollOutcome:
        """Read the points (and what decoding them needs), update samples and health; never raises CommError.

        A merged read refused with "illegal data address" is re-read point by point; points refused alone
        are marked unsupported (re-tried after ``unsupported_retry_s``) — but only when the device served
        other addresses in the same poll, so a device refusing everything is not mistaken for a map
        mismatch. A timeout or a lost link ends the poll (the rest would wait as long again).
        """
        outcome = PollOutcome()
        raw: dict[str, list[int]] = {}
        times: dict[str, tuple[float, datetime]] = {}
        refused: dict[str, str] = {}
        clean = True
        self._expire_unsupported()
        queue = list(self.plan(point_ids))
        singles = False
        while queue:
            block = queue.pop(0)
            try:
                outcome.requests += 1
                values = await self.transport.read(
                    block.table, block.address, block.count, self.unit_id, on_busy=self._on_busy
                )
            except ExceptionReplyError as exc:
                now = self.clock.monotonic()
                if exc.code == 2 and not isinstance(exc, DeviceBusyError):
                    self.health.record_answer(now)
                    if len(block.points) > 1:
                        singles = True
                        queue[:0] = [ReadBlock(p.table, p.address or 0, p.n_registers, (p,)) for p in block.points]
                    else:
                        refused[block.points[0].id] = str(exc)
                    continue
                self.health.record_exception_reply(now, str(exc))
                outcome.failed += 1
                outcome.error = str(exc)
                clean = False
                continue
            except ResponseTimeoutError as exc:
                self.health.record_timeout(str(exc))
                outcome.failed += 1
                outcome.error = str(exc)
                clean = False
                break
            except NotConnectedError as exc:
                self.health.record_disconnected(str(exc))
                outcome.failed += 1
                outcome.error = str(exc)
                clean = False
                break
            t, when = self.clock.monotonic(), self.clock.now()
            self.health.record_answer(t)
            for point in block.points:
                raw[point.id] = block.slice_for(point, values)
                times[point.id] = (t, when)
        if refused:
            if raw:
                for pid, message in refused.items():
                    self.unsupported[pid] = message
                    self._unsupported_t[pid] = self.clock.monotonic()
            else:  # nothing served at all: the device refuses, not the map
                message = next(iter(refused.values()))
                self.health.record_exception_reply(self.clock.monotonic(), message)
                outcome.failed += 1
                outcome.error = message
                clean = False
        if singles:
            if not refused:
                self._strict_gaps = True  # every point is readable alone: the hole between them was not
            self._plans.clear()
        elif refused and raw:
            self._plans.clear()
        self._decode_into_samples(raw, times)
        outcome.delivered = len(raw)
        if raw:
            t, when = max(times.values(), key=lambda x: x[0])
            self.health.record_poll(t, when, delivered=True, clean=clean)
        else:
            self.health.last_poll_clean = False
        return outcome

    def _on_busy(self, message: str) -> None:
        self.health.n_busy += 1
        self.health.last_error = message

    def _expire_unsupported(self) -> None:
        now = self.clock.monotonic()
        expired = [p for p, t in self._unsupported_t.items() if now - t >= self.unsupported_retry_s]
        for pid in expired:
            self.unsupported.pop(pid, None)
            self._unsupported_t.pop(pid, None)
        if expired:
            self._plans.clear()

    def _decode_into_samples(self, raw: dict[str, list[int]], times: dict[str, tuple[float, datetime]]) -> None:
        # Scale-factor points first: other points of this poll decode with the fresh exponents.
        order = sorted(raw, key=lambda pid: 0 if self._is_sf_point(pid) else 1)
        for pid in order:
            point = self._points[pid]
            sf = None
            if point.scale_sf:
                sf = self.sf_value(point)
                if sf is None:
                    continue
            try:
                value = decode(point, raw[pid], sf=sf)
            except ValueError:
                value = None
            t, when = times[pid]
            self.samples[pid] = Sample(value, t, when)

    def _is_sf_point(self, point_id: str) -> bool:
        return point_id in self._sf_ids

    async def read_now(self, point_ids: Iterable[str]) -> dict[str, Value]:
        """Read the points at once and return their values; raises :class:`CommError` on failure."""
        ids = list(point_ids)
        start = self.clock.monotonic()
        outcome = await self.poll(ids)
        missing = [p for p in ids if p not in self.unsupported and (s := self.sample(p)) is not None and s.t < start]
        missing += [p for p in ids if p not in self.unsupported and self.sample(p) is None]
        if missing:
            raise CommError(outcome.error or f"{self.device_id}: no value for {', '.join(missing)}")
        return {p: self.value(p) for p in ids}

    # ------------------------------------------------------------------ writing

    async def write_registers(self, point: Point, registers: list[int]) -> None:
        """Write a point's raw registers (or one coil); raises :class:`CommError` and updates health."""
        assert point.address is not None
        try:
            await self.transport.write(
                point.table,
                point.address,
                registers,
                self.unit_id,
                single_fc6=self.single_fc6,
                on_busy=self._on_busy,
            )
        except ExceptionReplyError as exc:
            self.health.record_exception_reply(self.clock.monotonic(), str(exc))
            raise
        except ResponseTimeoutError as exc:
            self.health.record_timeout(str(exc))
            raise
        except NotConnectedError as exc:
            self.health.record_disconnected(str(exc))
            raise
        self.health.record_answer(self.clock.monotonic())


__all__ = ["ModbusDevice", "PollOutcome", "Sample", "Value"]
