"""Safe writes: every setpoint a driver sends passes here.

Rules, in order, for each point written (:meth:`SafeWriter.write`):

1. **Writable**: read-only points are refused.
2. **Representable**: a negative value for an unsigned register is always refused (never wrapped: it
   would turn a limit into its opposite); a raw request beyond the register's range with no caller limit on
   that side (a commissioning write) is refused; nothing is ever truncated or wrapped. Enum points accept
   only their listed values or meanings.
3. **Clamped**: the value *wanted* is the request within the limits the caller passes (limits the device
   reports at run time and the site file's ratings). When the wanted value lies outside what the device
   itself can take (the map's documented ``min``/``max`` and the register's type and scale), the value
   sent is the device's own limit and the write is **not ok**: its status is ``clamped`` and its message
   names device, register, wanted and written value (the runtime raises an alarm from it). Clamping to the
   caller's limits alone records ``clamped=True`` and stays ``ok``.
4. **Write on change**: nothing is sent when the value is within ``deadband`` of the value the device holds
   (newest of the last readback and the last poll) — unless ``force`` (keep-alive re-writes).
5. **EEPROM budget**: points tagged ``memory: eeprom`` get at most ``max_writes_per_hour`` writes and one
   per ``min_interval_s``; excess writes are refused as ``rate_limited``. Every write is counted.
6. **Read back** and compare within the register's resolution (half a raw step); a difference is a
   ``readback_mismatch`` and a standing health problem of the device until a good write clears it.
7. **Audit**: the callback gets a :class:`WriteResult` (device, point, old, new, status, time, ...) for
   every write attempt, sent or refused (not for ``unchanged``).

Ordered sequences (:meth:`SafeWriter.write_sequence`) validate every step first (nothing is sent if any step
is refused), send the changed steps in their order (all of them with ``force``), stop at the first
failure, then read the sent steps back in as few requests as possible. Points and sequences with device revert timers are re-written before they expire
(:meth:`keep_alive`, :meth:`keep_sequence_alive`); heartbeat registers are incremented (:meth:`heartbeat`).
All of that happens in :meth:`refresh_due`, called by the control cycle: if the controller stops, the
refreshes stop and the device falls back by itself.
"""

from __future__ import annotations

import math
import zlib
from collections import Counter, deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from enum import StrEnum
from typing import Any

from drivers.clock import Clock
from drivers.device import ModbusDevice, Value
from drivers.errors import CommError
from drivers.registermap import Point, decode, encode
from microgrid.i18n import reworded, t, worded


class WriteStatus(StrEnum):
    OK = "ok"
    """Sent and read back within the register's resolution (or a write-only command that was accepted)."""
    UNCHANGED = "unchanged"
    """Within the deadband of the value the device holds: nothing sent."""
    REFUSED = "refused"
    """A safety rule refused the value: nothing sent."""
    RATE_LIMITED = "rate_limited"
    """EEPROM-backed register over its write budget: nothing sent."""
    FAILED = "failed"
    """Not sent or not confirmed because of a communication error or a device exception reply."""
    MISMATCH = "readback_mismatch"
    """Sent, but the device reads back a different value."""
    CLAMPED = "clamped"
    """Sent and read back, but the value wanted does not fit the register or the device's documented range:
    the device holds its own limit instead (written ≠ wanted). A failed write for the controller."""


@dataclass(frozen=True)
class WriteResult:
    """Outcome of one write attempt; also the audit record. Values are in the point's device units."""

    device_id: str
    point_id: str
    old: Value
    """The value the device held before (newest of readback and poll), ``None`` if unknown."""
    new: Value
    """The value sent after clamping (``None`` if the request was refused before a value existed)."""
    status: WriteStatus
    time: datetime
    requested: Value = None
    readback: Value = None
    clamped: bool = False
    reason: str = "setpoint"
    """``setpoint``, ``refresh`` (keep-alive re-write), ``heartbeat``, ``sequence:<name>``, ``manual``."""
    message: str = ""
    """English text (also the audit record's)."""
    key: str = ""
    """Catalogue key of ``message`` (``write.*``) when it has one, for :meth:`describe` in another language."""
    params: tuple[tuple[str, Any], ...] = ()

    @property
    def ok(self) -> bool:
        """The device holds the value wanted (``clamped`` is not ok: written ≠ wanted)."""
        return self.status in (WriteStatus.OK, WriteStatus.UNCHANGED)

    @property
    def applied(self) -> bool:
        """The device holds the value sent (``ok``, or ``clamped`` to its own limit): keep it alive."""
        return self.status in (WriteStatus.OK, WriteStatus.UNCHANGED, WriteStatus.CLAMPED)

    def describe(self, lang: str | None = None) -> str:
        """One line for the operator in ``lang``: ``device.point: status old -> new, readback x: message``."""
        text = t("write.result", lang, device=self.device_id, point=self.point_id,
                 status=t(f"write.status.{self.status.value}", lang))
        if self.new is not None:
            text += f" {self.old!r} -> {self.new!r}"
        if self.clamped:
            text += t("write.clamped_from", lang, requested=repr(self.requested))
        if self.readback is not None:
            text += t("write.readback", lang, readback=repr(self.readback))
        if self.message:
            text += t("write.message", lang, message=reworded(self.message, self.key, self.params, lang))
        return text


AuditCallback = Callable[[WriteResult], None]
"""Called with every write attempt (sent or refused, not ``unchanged``)."""


@dataclass(frozen=True)
class EepromPolicy:
    """Write budget of EEPROM/flash-backed registers (per point)."""

    max_writes_per_hour: int = 6
    min_interval_s: float = 60.0


@dataclass(frozen=True)
class Step:
    """One write of an ordered sequence."""

    point_id: str
    value: Value
    lo: float | None = None
    hi: float | None = None
    deadband: float = 0.0


@dataclass
class _Prepared:
    point: Point
    requested: Value
    value: Value
    registers: list[int]
    clamped: bool
    old: Value
    changed: bool
    deadband: float
    overflow: tuple[tuple[str, Any], ...] = ()
    """Parameters of ``write.overflow`` when the wanted value did not fit the device (register / documented range)."""

    def overflow_wording(self) -> dict[str, Any]:
        """``message``/``key``/``params`` of a result that reports the overflow (empty when there is none)."""
        return worded("write.overflow", **dict(self.overflow)) if self.overflow else {}


@dataclass
class _KeepAlive:
    period_s: float
    next_t: float
    steps: list[Step] | None = None
    name: str = ""


@dataclass
class _Heartbeat:
    period_s: float
    next_t: float = -math.inf
    counter: int = 0


@dataclass
class WriterState:
    """What a writer remembers per point (exposed for the CLI and tests)."""

    confirmed: dict[str, tuple[Value, float]] = field(default_factory=dict)
    """Point -> (value confirmed by readback, monotonic time of the write)."""
    write_counts: Counter[str] = field(default_factory=Counter)
    """Point -> writes sent since start."""
    eeprom_times: dict[str, deque[float]] = field(default_factory=dict)
    rate_limited: Counter[str] = field(default_factory=Counter)


class SafeWriter:
    """The safe-write layer of one device (see the module docstring)."""

    def __init__(
        self,
        device: ModbusDevice,
        *,
        audit: AuditCallback | None = None,
        eeprom: EepromPolicy | None = None,
        clock: Clock | None = None,
    ) -> None:
        self.device = device
        self.audit = audit
        self.eeprom = eeprom or EepromPolicy()
        self.clock = clock or device.clock
        self.state = WriterState()
        self._keep: dict[str, _KeepAlive] = {}
        self._heartbeats: dict[str, _Heartbeat] = {}

    # ------------------------------------------------------------------ public API

    async def write(
        self,
        point_id: str,
        value: Value,
        *,
        lo: float | None = None,
        hi: float | None = None,
        deadband: float = 0.0,
        force: bool = False,
        readback: bool = True,
        reason: str = "setpoint",
    ) -> WriteResult:
        """Write one point through all the rules; never raises for device or value problems."""
        prep = await self._prepare(Step(point_id, value, lo, hi, deadband), reason)
        if isinstance(prep, WriteResult):
            return self.emit(prep)
        if not prep.changed and not force:
            return self._unchanged(prep, reason)
        if (limited := self._check_eeprom(prep, reason)) is not None:
            return self.emit(limited)
        sent = await self._send(prep, reason)
        if sent is not None:
            return self.emit(sent)
        if not readback or prep.point.access == "w":
            self._confirm(prep)
            status = WriteStatus.CLAMPED if prep.overflow else WriteStatus.OK
            return self.emit(self._result(prep, status, reason, **prep.overflow_wording()))
        return self.emit((await self._verify([prep], reason))[0])

    async def write_sequence(
        self, name: str, steps: Sequence[Step], *, force: bool = False, reason: str | None = None
    ) -> list[WriteResult]:
        """Write ``steps`` in order as one transaction (see the module docstring)."""
        reason = reason or f"sequence:{name}"
        prepared: list[_Prepared] = []
        for step in steps:
            prep = await self._prepare(step, reason)
            if isinstance(prep, WriteResult):
                return [self.emit(prep)]
            prepared.append(prep)
        to_send = [p for p in prepared if force or p.changed]
        if not to_send:
            return [self._unchanged(p, reason) for p in prepared]
        for prep in to_send:
            if (limited := self._check_eeprom(prep, reason, dry_run=True)) is not None:
                return [self.emit(limited)]
        results: dict[str, WriteResult] = {
            p.point.id: self._unchanged(p, reason) for p in prepared if p not in to_send
        }
        for prep in to_send:
            self._check_eeprom(prep, reason)  # books the write
            sent = await self._send(prep, reason)
            if sent is not None:
                results[prep.point.id] = self.emit(sent)
                return [results[p.point.id] for p in prepared if p.point.id in results]
        for prep in to_send:
            if prep.point.access == "w":
                self._confirm(prep)
                status = WriteStatus.CLAMPED if prep.overflow else WriteStatus.OK
                results[prep.point.id] = self.emit(self._result(prep, status, reason, **prep.overflow_wording()))
        for r in await self._verify([p for p in to_send if p.point.access != "w"], reason):
            results[r.point_id] = self.emit(r)
        return [results[p.point.id] for p in prepared]

    def keep_alive(self, point_id: str, period_s: float) -> None:
        """Re-write the point's last value every ``period_s`` (device revert timer or write watchdog)."""
        point = self.device.point(point_id)
        if point.memory == "eeprom":
            raise ValueError(f"point {point_id} is EEPROM-backed: it must not be re-written periodically")
        current = self._keep.get(point_id)
        if current is not None:
            current.period_s = period_s  # registering again does not postpone the next re-write
            return
        self._keep[point_id] = _KeepAlive(period_s, self.clock.monotonic() + self._first_period(point_id, period_s))

    def keep_sequence_alive(self, name: str, steps: Sequence[Step], period_s: float) -> None:
        """Re-assert a whole sequence every ``period_s`` (e.g. a forced mode that self-expires)."""
        for step in steps:
            if self.device.point(step.point_id).memory == "eeprom":
                raise ValueError(f"sequence {name}: point {step.point_id} is EEPROM-backed")
        current = self._keep.get(f"seq:{name}")
        if current is not None and current.steps == list(steps):
            current.period_s = period_s
            return
        key = f"seq:{name}"
        self._keep[key] = _KeepAlive(period_s, self.clock.monotonic() + self._first_period(key, period_s), list(steps), name)

    def stop_keep_alive(self, key: str) -> None:
        """Stop re-writing a point id or ``seq:<name>``."""
        self._keep.pop(key, None)

    def heartbeat(self, point_id: str, period_s: float) -> None:
        """Increment the heartbeat register every ``period_s`` (written by :meth:`refresh_due`)."""
        self.device.point(point_id)
        self._heartbeats.setdefault(point_id, _Heartbeat(period_s))

    @property
    def kept_alive(self) -> list[str]:
        return sorted([*self._keep, *(f"heartbeat:{p}" for p in self._heartbeats)])

    async def refresh_due(self) -> list[WriteResult]:
        """Send the heartbeats and keep-alive re-writes that are due now."""
        now = self.clock.monotonic()
        results: list[WriteResult] = []
        for pid, hb in self._heartbeats.items():
            if now >= hb.next_t:
                point = self.device.point(pid)
                top = (1 << (16 * point.n_registers)) - 1
                hb.counter = hb.counter + 1 if hb.counter < top else 1
                r = await self.write(pid, hb.counter, force=True, readback=False, reason="heartbeat")
                if r.status is WriteStatus.OK:
                    first = hb.next_t == -math.inf
                    hb.next_t = now + (self._first_period(pid, hb.period_s) if first else hb.period_s)
                results.append(r)
        for key, ka in self._keep.items():
            if now < ka.next_t:
                continue
            if ka.steps is not None:
                rs = await self.write_sequence(ka.name, ka.steps, force=True, reason="refresh")
                if all(r.ok for r in rs):
                    ka.next_t = now + ka.period_s
                results.extend(rs)
                continue
            # the value written and read back, else the one polled: a setpoint the device already held was
            # never sent ("unchanged"), yet its write watchdog still needs the re-write
            confirmed = self.state.confirmed.get(key)
            sample = self.device.sample(key) if confirmed is None else None
            held = confirmed[0] if confirmed is not None else (sample.value if sample is not None else None)
            if held is None:
                continue
            r = await self.write(key, held, force=True, reason="refresh")
            if r.ok:
                ka.next_t = now + ka.period_s
            results.append(r)
        return results

    def _first_period(self, key: str, period_s: float) -> float:
        """Half to all of ``period_s``, fixed per device and point: the refreshes of many devices started in
        the same cycle spread over the following cycles instead of all falling due together."""
        phase = zlib.crc32(f"{self.device.device_id}:{key}".encode()) / 2**32
        return period_s * (0.5 + 0.5 * phase)

    def confirmed_value(self, point_id: str) -> Value:
        c = self.state.confirmed.get(point_id)
        return c[0] if c else None

    # ------------------------------------------------------------------ steps

    def _current(self, point_id: str) -> tuple[Value, float | None]:
        """What the device holds: the newer of the last readback/write and the last poll."""
        confirmed = self.state.confirmed.get(point_id)
        sample = self.device.sample(point_id)
        if sample is not None and (confirmed is None or sample.t > confirmed[1]):
            return sample.value, sample.t
        if confirmed is not None:
            return confirmed
        return None, None

    async def _prepare(self, step: Step, reason: str) -> _Prepared | WriteResult:
        device = self.device
        point = device.point(step.point_id)
        requested = step.value
        old, _t = self._current(point.id)

        def refuse(key: str, status: WriteStatus = WriteStatus.REFUSED, **params: Any) -> WriteResult:
            return WriteResult(
                device.device_id, point.id, old, None, status, self.clock.now(), requested, reason=reason,
                **worded(key, **params),
            )

        if not point.writable:
            return refuse("write.read_only", point=point.id)
        if device.unresponsive:
            # no answer to its last request (or no link): do not stall the cycle on it; the background
            # poll finds out when it is back
            return refuse("write.not_answering", WriteStatus.FAILED, error=device.health.last_error)
        value: Value = requested
        if point.enum:
            if isinstance(value, str):
                raw = next((k for k, v in point.enum.items() if v == value), None)
                if raw is None:
                    return refuse("write.not_one_of", value=value, choices=str(sorted(point.enum.values())))
                value = raw
            if not isinstance(value, int | float) or value not in point.enum:
                names = ", ".join(f"{k} ({v})" for k, v in point.enum.items())
                return refuse("write.not_allowed", value=repr(value), point=point.id, names=names)
            value = int(value)
        elif point.type != "string" and (
            isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value)
        ):
            return refuse("write.not_finite", point=point.id, value=repr(value))
        sf: int | None = None
        if point.scale_sf:
            sf = device.sf_value(point)
            if sf is None:
                try:
                    await device.read_now([point.scale_sf])
                except CommError as exc:
                    return refuse("write.sf_unreadable", WriteStatus.FAILED, sf=point.scale_sf, error=str(exc))
                sf = device.sf_value(point)
                if sf is None:
                    return refuse("write.sf_not_implemented", WriteStatus.FAILED, sf=point.scale_sf)
        clamped = False
        overflow: tuple[tuple[str, Any], ...] = ()
        if isinstance(value, int | float) and not point.enum:
            r_lo, r_hi = register_range(point, sf)
            if value < 0 <= r_lo:
                return refuse("write.unsigned", point=point.id, type=point.type, lo=f"{r_lo:g}", hi=f"{r_hi:g}",
                              unit=point.unit)
            if (value < r_lo and step.lo is None) or (value > r_hi and step.hi is None):
                try:  # a raw request (no caller limit on that side) the register cannot hold is a mistake
                    encode(point, value, sf=sf)
                except ValueError as exc:
                    return refuse("write.unrepresentable", error=str(exc))
            wanted = clamp(value, step.lo, step.hi)
            dev_lo, dev_hi = _max_opt(point.min, r_lo), _min_opt(point.max, r_hi)
            if dev_lo is not None and dev_hi is not None and dev_lo > dev_hi:
                return refuse("write.no_admissible", lo=f"{dev_lo:g}", hi=f"{dev_hi:g}", unit=point.unit)
            bounded = clamp(wanted, dev_lo, dev_hi)
            if bounded != wanted:
                overflow = (("device", device.device_id), ("point", point.id), ("wanted", f"{wanted:g}"),
                            ("written", f"{bounded:g}"), ("lo", f"{dev_lo:g}"), ("hi", f"{dev_hi:g}"), ("unit", point.unit))
            clamped = bounded != value
            value = bounded
        try:
            registers = encode(point, value, sf=sf)  # type: ignore[arg-type]
        except ValueError as exc:
            return refuse("write.unrepresentable_clamped", error=str(exc))
        quantised = decode(point, registers, sf=sf)
        changed = True
        if point.access != "w" and old is not None:
            if isinstance(quantised, int | float) and isinstance(old, int | float):
                tol = max(step.deadband, _resolution(point, sf) / 2)
                changed = abs(float(quantised) - float(old)) > tol + 1e-9 * max(1.0, abs(float(old)))
            else:
                changed = quantised != old
        return _Prepared(point, requested, quantised, registers, clamped, old, changed, step.deadband, overflow)

    def _check_eeprom(self, prep: _Prepared, reason: str, *, dry_run: bool = False) -> WriteResult | None:
        if prep.point.memory != "eeprom":
            return None
        now = self.clock.monotonic()
        times = self.state.eeprom_times.setdefault(prep.point.id, deque())
        while times and now - times[0] > 3600.0:
            times.popleft()
        policy = self.eeprom
        limited: dict[str, Any] = {}
        if len(times) >= policy.max_writes_per_hour:
            limited = worded("write.eeprom_budget", n=len(times), max=policy.max_writes_per_hour)
        elif times and now - times[-1] < policy.min_interval_s:
            limited = worded("write.eeprom_interval", ago=f"{now - times[-1]:.0f}", min=f"{policy.min_interval_s:g}")
        if limited:
            if not dry_run:
                self.state.rate_limited[prep.point.id] += 1
            return self._result(prep, WriteStatus.RATE_LIMITED, reason, **limited)
        if not dry_run:
            times.append(now)
        return None

    async def _send(self, prep: _Prepared, reason: str) -> WriteResult | None:
        try:
            await self.device.write_registers(prep.point, prep.registers)
        except CommError as exc:
            return self._result(prep, WriteStatus.FAILED, reason, message=str(exc))
        self.state.write_counts[prep.point.id] += 1
        return None

    async def _verify(self, preps: list[_Prepared], reason: str) -> list[WriteResult]:
        if not preps:
            return []
        device = self.device
        try:
            values = await device.read_now([p.point.id for p in preps])
        except CommError as exc:
            return [
                self._result(p, WriteStatus.FAILED, reason, **worded("write.readback_failed", error=str(exc)))
                for p in preps
            ]
        results = []
        for prep in preps:
            back = values.get(prep.point.id)
            if _matches(prep.point, prep.value, back, device.sf_value(prep.point)):
                self._confirm(prep)
                device.health.clear_problem(f"readback:{prep.point.id}")
                status = WriteStatus.CLAMPED if prep.overflow else WriteStatus.OK
                results.append(self._result(prep, status, reason, readback=back, **prep.overflow_wording()))
            else:
                differs = worded("write.readback_differs", value=repr(prep.value), back=repr(back))
                device.health.set_problem(f"readback:{prep.point.id}",
                                          f"readback mismatch on {prep.point.id}: {differs['message']}")
                self.state.confirmed.pop(prep.point.id, None)
                results.append(self._result(prep, WriteStatus.MISMATCH, reason, readback=back, **differs))
        return results

    def _unchanged(self, prep: _Prepared, reason: str) -> WriteResult:
        """Nothing to send; still ``clamped`` (not ok, not audited again) while the wanted value does not fit."""
        if prep.overflow:
            return self._result(prep, WriteStatus.CLAMPED, reason,
                                message=prep.overflow_wording()["message"] + " (already held)")
        return self._result(prep, WriteStatus.UNCHANGED, reason)

    def _confirm(self, prep: _Prepared) -> None:
        self.state.confirmed[prep.point.id] = (prep.value, self.clock.monotonic())
        ka = self._keep.get(prep.point.id)
        if ka is not None:
            ka.next_t = self.clock.monotonic() + ka.period_s

    def _result(
        self,
        prep: _Prepared,
        status: WriteStatus,
        reason: str,
        *,
        readback: Value = None,
        message: str = "",
        key: str = "",
        params: tuple[tuple[str, Any], ...] = (),
    ) -> WriteResult:
        return WriteResult(
            self.device.device_id,
            prep.point.id,
            prep.old,
            prep.value,
            status,
            self.clock.now(),
            prep.requested,
            readback,
            prep.clamped,
            reason,
            message,
            key,
            params,
        )

    def emit(self, result: WriteResult) -> WriteResult:
        """Pass a result to the audit callback (not ``unchanged`` ones); a failing callback never breaks
        control: its error is appended to the result's message."""
        if self.audit is not None and result.status is not WriteStatus.UNCHANGED:
            try:
                self.audit(result)
            except Exception as exc:  # an audit sink must not break control
                return replace(result, message=(result.message + f"; audit callback failed: {exc}").lstrip("; "), key="")
        return result


def register_range(point: Point, sf: int | None) -> tuple[float, float]:
    """Engineering values a numeric point's register can hold (``±inf`` for float32)."""
    from drivers.registermap import raw_range  # the codec's raw ranges (one definition)

    raw = raw_range(point)
    if raw is None:
        return -math.inf, math.inf
    factor = point.scale * (10.0**sf if (point.scale_sf and sf is not None) else 1.0)
    a, b = raw[0] * factor + point.offset, raw[1] * factor + point.offset
    return min(a, b), max(a, b)


def _resolution(point: Point, sf: int | None) -> float:
    """One raw step in engineering units (0 for float and string points)."""
    if point.type in ("f32", "string"):
        return 0.0
    factor = point.scale * (10.0**sf if (point.scale_sf and sf is not None) else 1.0)
    return abs(factor)


def _matches(point: Point, written: Value, back: Value, sf: int | None) -> bool:
    if isinstance(written, int | float) and isinstance(back, int | float):
        if point.type == "f32":
            return math.isclose(float(written), float(back), rel_tol=1e-6, abs_tol=1e-9)
        return abs(float(written) - float(back)) <= _resolution(point, sf) / 2 + 1e-9 * max(1.0, abs(float(written)))
    return written == back


def clamp(value: float, lo: float | None, hi: float | None) -> float:
    """``value`` within optional bounds (``None`` = unbounded on that side)."""
    if lo is not None and value < lo:
        value = lo
    if hi is not None and value > hi:
        value = hi
    return value


def _max_opt(a: float | None, b: float | None) -> float | None:
    return b if a is None else a if b is None else max(a, b)


def _min_opt(a: float | None, b: float | None) -> float | None:
    return b if a is None else a if b is None else min(a, b)


__all__ = [
    "AuditCallback",
    "EepromPolicy",
    "SafeWriter",
    "Step",
    "WriteResult",
    "WriteStatus",
    "WriterState",
    "clamp",
    "register_range",
]
