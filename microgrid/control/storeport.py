"""What the runtime needs from the store, a resilient wrapper, and an in-memory implementation.

:class:`StorePort` is the runtime's side of the contract; :class:`~microgrid.control.store_adapter.StoreAdapter`
implements it over :mod:`microgrid.store`. :class:`ResilientStore` wraps any port so that a failing store
never stops control: failed operations are kept (bounded) and retried at every :meth:`~ResilientStore.flush`;
the first failure raises an alarm event (``store_failing``), the first success after it clears it
(``store_recovered``). :class:`MemoryStore` keeps everything in lists (tests, ``--store memory``).
"""

from __future__ import annotations

import contextlib
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol

from microgrid.control.events import Event, Severity
from microgrid.control.fleet import WriteOutcome
from microgrid.control.plan import PlanRecord
from microgrid.control.telemetry import TelemetryPoint


@dataclass
class ResumeState:
    """What a restarted controller takes over from the store."""

    plans: list[PlanRecord] = field(default_factory=list)
    """Plans whose horizon covers now or later, oldest first."""
    month_peak_kw: float = 0.0
    last_setpoints: dict[str, float] = field(default_factory=dict)
    """Asset id → last value written (kW, park convention) per the audit trail."""
    controller_state: dict = field(default_factory=dict)
    """Saved runtime state (counters, overrides, manual mode), see :meth:`StorePort.save_state`."""
    last_telemetry: datetime | None = None


class StorePort(Protocol):
    def add_telemetry(self, rows: list[TelemetryPoint]) -> None: ...

    def save_plan(self, record: PlanRecord, inputs: object | None, state: dict) -> None: ...

    def add_writes(self, ts: datetime, writes: list[WriteOutcome]) -> None: ...

    def add_event(self, event: Event) -> None: ...

    def set_alarm(self, code: str, active: bool, message: str, source: str, ts: datetime) -> None: ...

    def save_state(self, ts: datetime, state: dict) -> None: ...

    def resume(self, now: datetime) -> ResumeState: ...

    def flush(self) -> None: ...

    def close(self) -> None: ...


class MemoryStore:
    """Everything in memory (a :class:`StorePort`); ``fail`` makes every call raise (fault injection)."""

    def __init__(self) -> None:
        self.telemetry: list[TelemetryPoint] = []
        self.plans: list[tuple[PlanRecord, dict]] = []
        self.writes: list[tuple[datetime, WriteOutcome]] = []
        self.events: list[Event] = []
        self.alarms: list[tuple[datetime, str, bool, str]] = []
        self.state: dict = {}
        self.fail = False

    def _check(self) -> None:
        if self.fail:
            raise ConnectionError("store unavailable (injected)")

    def add_telemetry(self, rows: list[TelemetryPoint]) -> None:
        self._check()
        self.telemetry.extend(rows)

    def save_plan(self, record: PlanRecord, inputs: object | None, state: dict) -> None:
        self._check()
        self.plans.append((record, state))

    def add_writes(self, ts: datetime, writes: list[WriteOutcome]) -> None:
        self._check()
        self.writes.extend((ts, w) for w in writes)

    def add_event(self, event: Event) -> None:
        self._check()
        self.events.append(event)

    def set_alarm(self, code: str, active: bool, message: str, source: str, ts: datetime) -> None:
        self._check()
        self.alarms.append((ts, code, active, message))

    def save_state(self, ts: datetime, state: dict) -> None:
        self._check()
        self.state = dict(state)

    def resume(self, now: datetime) -> ResumeState:
        self._check()
        plans = [r for r, _s in self.plans if r.end > now]
        last: dict[str, float] = {}
        for _ts, w in self.writes:
            if w.status in ("ok", "readback_mismatch") and w.requested is not None:
                last[w.asset_id] = w.requested
        return ResumeState(plans=plans, month_peak_kw=float(self.state.get("month_peak_kw", 0.0)),
                           last_setpoints=last, controller_state=dict(self.state),
                           last_telemetry=max((r.ts for r in self.telemetry), default=None))

    def flush(self) -> None:
        self._check()

    def close(self) -> None:
        pass


class ResilientStore:
    """Wraps a :class:`StorePort`: calls never raise; failures are buffered, retried and alarmed."""

    def __init__(self, inner: StorePort, emit: Callable[[Event], object], now: Callable[[], datetime],
                 max_pending: int = 100_000) -> None:
        self.inner = inner
        self._emit = emit
        self._now = now
        self.pending: deque[tuple[str, tuple]] = deque(maxlen=max_pending)
        self.failing = False
        self.failures = 0
        self.dropped = 0

    def _call(self, name: str, *args) -> None:
        if self.failing:
            self._queue(name, args)
            return
        try:
            getattr(self.inner, name)(*args)
        except Exception as exc:  # noqa: BLE001 - a failing store never stops control
            self._fail(exc)
            self._queue(name, args)

    def _queue(self, name: str, args: tuple) -> None:
        if len(self.pending) == self.pending.maxlen:
            self.dropped += 1
        self.pending.append((name, args))

    def _fail(self, exc: Exception) -> None:
        self.failures += 1
        if not self.failing:
            self.failing = True
            self._emit(Event(self._now(), "store_failing",
                             f"store unavailable, buffering: {type(exc).__name__}: {exc}", Severity.ALARM, "store"))

    def flush(self) -> None:
        """Retry what is pending (in order), then flush the inner store."""
        try:
            while self.pending:
                name, args = self.pending[0]
                getattr(self.inner, name)(*args)
                self.pending.popleft()
            self.inner.flush()
        except Exception as exc:  # noqa: BLE001
            self._fail(exc)
            return
        if self.failing:
            self.failing = False
            self._emit(Event(self._now(), "store_recovered", "store available again; buffered records written",
                             Severity.INFO, "store", {"dropped": self.dropped}))
            # The recovery event itself goes to the (now working) store too.

    # ---- StorePort ----------------------------------------------------------------------------------
    def add_telemetry(self, rows: list[TelemetryPoint]) -> None:
        if rows:
            self._call("add_telemetry", rows)

    def save_plan(self, record: PlanRecord, inputs: object | None, state: dict) -> None:
        self._call("save_plan", record, inputs, state)

    def add_writes(self, ts: datetime, writes: list[WriteOutcome]) -> None:
        if writes:
            self._call("add_writes", ts, writes)

    def add_event(self, event: Event) -> None:
        self._call("add_event", event)

    def set_alarm(self, code: str, active: bool, message: str, source: str, ts: datetime) -> None:
        self._call("set_alarm", code, active, message, source, ts)

    def save_state(self, ts: datetime, state: dict) -> None:
        self._call("save_state", ts, state)

    def resume(self, now: datetime) -> ResumeState:
        try:
            return self.inner.resume(now)
        except Exception as exc:  # noqa: BLE001 - start without history rather than not at all
            self._fail(exc)
            return ResumeState()

    def close(self) -> None:
        self.flush()
        with contextlib.suppress(Exception):
            self.inner.close()
