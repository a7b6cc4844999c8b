"""A write buffer in front of the :class:`Store` for the controller: a failing database never stops control.

The controller hands every write to the buffer (no database I/O on the call) and calls :meth:`flush` once per
cycle. ``flush`` writes the queued records, then the telemetry in batches, then rolls up closed intervals.
When the database fails (locked, read-only, disconnected) the buffer raises an in-memory alarm
(``store_unavailable``, passed to ``on_alarm``), keeps everything and retries with exponential back-off.
Telemetry is dropped — oldest first — only when its bounded queue is full; schedules, setpoint audit, events
and alarm changes are never dropped and are written in the order they were made. When the database answers
again the outage is written to it as an alarm (raised and cleared) and an event.
"""

from __future__ import annotations

import math
import time
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

import pandas as pd
import sqlalchemy as sa

from microgrid.store.engine import StoreUnavailable
from microgrid.store.models import Alarm, Event, ScheduleKind, SetpointWrite, Severity, utcnow
from microgrid.store.records import frame_to_split
from microgrid.store.store import ResumeState, Store
from microgrid.store.telemetry import TelemetryInput, _sample_row

OUTAGE_ALARM = "store_unavailable"
REJECTED_ALARM = "store_write_rejected"
AVAILABILITY_ERRORS: tuple[type[BaseException], ...] = (
    sa.exc.OperationalError, sa.exc.InterfaceError, sa.exc.DisconnectionError, sa.exc.TimeoutError,
    StoreUnavailable, OSError)
"""Errors meaning "the database is not usable now": keep the data and retry. Anything else raised by a
record (e.g. an integrity error) is a problem of that record: it is set aside in ``rejected`` with an alarm."""


@dataclass
class _Op:
    what: str
    apply: Callable[[Store], Any]


@dataclass
class FlushReport:
    """What one :meth:`BufferedStore.flush` did."""

    healthy: bool
    records_written: int = 0
    telemetry_written: int = 0
    pending_records: int = 0
    pending_telemetry: int = 0
    dropped_telemetry_total: int = 0
    rolled_up: bool = False
    error: str | None = None
    retry_in_s: float | None = None
    """Seconds until the next attempt while the store is failing."""


class BufferedStore:
    """Buffered, retrying writes to ``store`` (see the module docstring)."""

    def __init__(self, store: Store, *, max_telemetry: int = 200_000, batch_size: int = 5_000,
                 retry_initial_s: float = 1.0, retry_max_s: float = 60.0, roll_up_every_s: float | None = 60.0,
                 clock: Callable[[], float] = time.monotonic, on_alarm: Callable[[Alarm], None] | None = None,
                 on_recover: Callable[[Alarm], None] | None = None) -> None:
        if max_telemetry < 1 or batch_size < 1:
            raise ValueError("max_telemetry and batch_size must be at least 1")
        self.store = store
        self.max_telemetry = max_telemetry
        self.batch_size = batch_size
        self.retry_initial_s = retry_initial_s
        self.retry_max_s = retry_max_s
        self.roll_up_every_s = roll_up_every_s
        self._clock = clock
        self._on_alarm = on_alarm
        self._on_recover = on_recover
        self._telemetry: deque[tuple] = deque()
        self._records: deque[_Op] = deque()
        self.rejected: list[tuple[str, str]] = []
        """Records the database refused for their content: ``(what, error)``."""
        self.dropped_telemetry = 0
        """Samples dropped because the queue was full (or the database refused their batch)."""
        self.invalid_telemetry = 0
        """Samples not queued because their value was not a finite number."""
        self._failures = 0
        self._next_try = 0.0
        self._last_roll_up: float | None = None
        self.alarm: Alarm | None = None
        """The active ``store_unavailable`` alarm while the database fails."""
        self._dropped_at_outage = 0
        self._first_error = ""

    # ---- state ------------------------------------------------------------------------------------------
    @property
    def healthy(self) -> bool:
        return self.alarm is None

    @property
    def pending_telemetry(self) -> int:
        return len(self._telemetry)

    @property
    def pending_records(self) -> int:
        return len(self._records)

    # ---- enqueue (no I/O) -------------------------------------------------------------------------------
    def add_telemetry(self, samples: Iterable[TelemetryInput]) -> None:
        """Queue samples; when the queue is full the oldest samples are dropped (and counted)."""
        rows = [_sample_row(self.store.site_id, item) for item in samples]
        finite = [r for r in rows if math.isfinite(r["value"])]
        self.invalid_telemetry += len(rows) - len(finite)
        self._telemetry.extend((r["ts_ms"], r["source_id"], r["quantity"], r["value"], r["quality"]) for r in finite)
        overflow = len(self._telemetry) - self.max_telemetry
        if overflow > 0:
            for _ in range(overflow):
                self._telemetry.popleft()
            self.dropped_telemetry += overflow

    def save_schedule(self, day: date, frame: pd.DataFrame | dict, *, kind: ScheduleKind | str = "day_ahead",
                      source: str = "optimizer", inputs: dict | None = None, kpis: dict | None = None,
                      created_by: str = "controller", note: str = "") -> None:
        """Queue a schedule version (written atomically with its KPIs; the version number is assigned then)."""
        split = frame_to_split(frame)  # fail now, in the caller, on a malformed frame
        kind = ScheduleKind(kind)
        created = utcnow()
        self._records.append(_Op(f"schedule {day}", lambda st: st.save_schedule(
            day, split, kind=kind, source=source, inputs=inputs, kpis=kpis, created_by=created_by, note=note,
            created_at=created)))

    def record_setpoint_writes(self, writes: Iterable[SetpointWrite]) -> None:
        batch = list(writes)
        if batch:
            self._records.append(_Op(f"{len(batch)} setpoint write(s)", lambda st: st.record_setpoint_writes(batch)))

    def record_event(self, category: str, message: str, *, reason: str = "", source_id: str = "",
                     user: str = "controller", data: dict | None = None, ts: datetime | None = None) -> None:
        event = Event(ts=ts or utcnow(), category=category, message=message, reason=reason, source_id=source_id,
                      user=user, data=data or {})
        self._records.append(_Op(f"event {category}", lambda st: st.record_events([event])))

    def raise_alarm(self, code: str, message: str = "", *, severity: Severity | str = Severity.WARNING,
                    source_id: str = "", ts: datetime | None = None) -> None:
        ts = ts or utcnow()
        self._records.append(_Op(f"alarm {code}", lambda st: st.raise_alarm(
            code, message, severity=severity, source_id=source_id, ts=ts)))

    def clear_alarm(self, code: str, source_id: str = "", *, ts: datetime | None = None) -> None:
        ts = ts or utcnow()
        self._records.append(_Op(f"clear {code}", lambda st: st.clear_alarm(code, source_id, ts=ts)))

    # ---- reads (pass through; raise when the database fails) --------------------------------------------
    def resume_state(self, now: datetime | None = None, *, pcc_meter_id: str | None = None) -> ResumeState:
        return self.store.resume_state(now, pcc_meter_id=pcc_meter_id)

    # ---- flush ------------------------------------------------------------------------------------------
    def flush(self, *, force: bool = False) -> FlushReport:
        """Write what is queued (records, then telemetry, then a due roll-up). Never raises for database
        failures: they are reported, alarmed and retried after a back-off (``force`` ignores the back-off)."""
        report = FlushReport(healthy=self.healthy)
        now = self._clock()
        if not self.healthy and not force and now < self._next_try:
            return self._finish(report, retry_in=self._next_try - now)
        try:
            while self._records:
                op = self._records[0]
                try:
                    op.apply(self.store)
                except AVAILABILITY_ERRORS:
                    raise
                except Exception as exc:  # noqa: BLE001 - a record the database refuses must not block the rest
                    self._records.popleft()
                    self._reject(op, exc)
                    continue
                self._records.popleft()
                report.records_written += 1
            while self._telemetry:
                batch = [self._telemetry[i] for i in range(min(self.batch_size, len(self._telemetry)))]
                try:
                    self.store.write_telemetry(batch)
                except AVAILABILITY_ERRORS:
                    raise
                except Exception as exc:  # noqa: BLE001 - a batch the database refuses is dropped, not retried
                    self.dropped_telemetry += len(batch)
                    self._reject(_Op(f"{len(batch)} telemetry sample(s)", lambda st: None), exc)
                else:
                    report.telemetry_written += len(batch)
                for _ in batch:
                    self._telemetry.popleft()
            if self.roll_up_every_s is not None and (
                    self._last_roll_up is None or now - self._last_roll_up >= self.roll_up_every_s):
                self._last_roll_up = now
                try:
                    self.store.roll_up()
                    report.rolled_up = True
                except AVAILABILITY_ERRORS:
                    raise
                except Exception as exc:  # noqa: BLE001 - a roll-up bug must not stop the controller
                    self._reject(_Op("roll-up of interval energies", lambda st: None), exc)
            if not self.healthy:
                self._recover()
        except AVAILABILITY_ERRORS as exc:
            self._fail(exc, now)
            report.error = _describe(exc)
            return self._finish(report, retry_in=self._next_try - now)
        return self._finish(report)

    def _finish(self, report: FlushReport, retry_in: float | None = None) -> FlushReport:
        report.healthy = self.healthy
        report.pending_records = len(self._records)
        report.pending_telemetry = len(self._telemetry)
        report.dropped_telemetry_total = self.dropped_telemetry
        report.retry_in_s = retry_in
        if report.error is None and self.alarm is not None:
            report.error = self.alarm.message
        return report

    def _fail(self, exc: BaseException, now: float) -> None:
        self._failures += 1
        delay = min(self.retry_max_s, self.retry_initial_s * 2 ** (self._failures - 1))
        self._next_try = now + delay
        stamp = utcnow()
        text = _describe(exc)
        if self.alarm is None:
            self._first_error = text
            self._dropped_at_outage = self.dropped_telemetry
            self.alarm = Alarm(code=OUTAGE_ALARM, severity=Severity.CRITICAL,
                               message=f"store not writable ({text}); buffering writes and retrying",
                               raised_at=stamp, last_at=stamp)
        else:
            self.alarm = self.alarm.model_copy(update={"last_at": stamp, "count": self.alarm.count + 1})
        if self._on_alarm is not None and self.alarm.count == 1:
            self._on_alarm(self.alarm)

    def _recover(self) -> None:
        """The database answers again: write the outage down, clear the alarm."""
        alarm = self.alarm
        assert alarm is not None
        cleared = utcnow()
        lost = self.dropped_telemetry - self._dropped_at_outage
        seconds = (cleared - alarm.raised_at).total_seconds()
        self.store.raise_alarm(OUTAGE_ALARM, alarm.message, severity=Severity.CRITICAL, ts=alarm.raised_at)
        self.store.clear_alarm(OUTAGE_ALARM, ts=cleared)
        self.store.record_event(
            "store", f"store writable again after {seconds:.0f} s; {lost} telemetry sample(s) dropped",
            reason=self._first_error, data={"outage_s": round(seconds, 1), "dropped_telemetry": lost,
                                            "attempts": self._failures}, ts=cleared)
        self.alarm = None
        self._failures = 0
        if self._on_recover is not None:
            self._on_recover(alarm.model_copy(update={"cleared_at": cleared}))

    def _reject(self, op: _Op, exc: Exception) -> None:
        text = _describe(exc)
        self.rejected.append((op.what, text))
        message = f"{op.what} refused by the store: {text}"
        self._records.append(_Op(f"alarm {REJECTED_ALARM}", lambda st: st.raise_alarm(
            REJECTED_ALARM, message, severity=Severity.WARNING)))
        if self._on_alarm is not None:
            stamp = utcnow()
            self._on_alarm(Alarm(code=REJECTED_ALARM, severity=Severity.WARNING, message=message, raised_at=stamp,
                                 last_at=stamp))


def _describe(exc: BaseException) -> str:
    orig = getattr(exc, "orig", None)
    text = str(orig if orig is not None else exc).strip().splitlines()
    return f"{type(orig or exc).__name__}: {text[0] if text else ''}"


__all__ = ["AVAILABILITY_ERRORS", "OUTAGE_ALARM", "BufferedStore", "FlushReport"]
