"""Events the control runtime emits (mode changes, skipped jobs, alarms) and where they go.

An :class:`Event` is plain data; sinks are callables. The runtime fans each event out to the store (via
its buffered adapter), to in-memory history for the API, and to the terminal in ``microgrid run``.
"""

from __future__ import annotations

import contextlib
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum


class Severity(StrEnum):
    INFO = "info"
    WARNING = "warning"
    ALARM = "alarm"


@dataclass(frozen=True)
class Event:
    """Something that happened, with a reason a person can read."""

    ts: datetime
    kind: str
    """Machine-readable kind: ``mode_change``, ``job_skipped``, ``job_failed``, ``plan_accepted``,
    ``plan_rejected``, ``device_offline``, ``device_online``, ``override_set``, ``override_expired``,
    ``store_failing``, ``store_recovered``, ``limit_alarm`` …"""
    message: str
    severity: Severity = Severity.INFO
    source: str = "control"
    """Who raised it: ``mode``, ``jobs``, ``planner``, ``rt`` (real-time loop), ``store``, a device id."""
    data: dict = field(default_factory=dict)

    def to_dict(self) -> dict:
        return {"ts": self.ts.isoformat(), "kind": self.kind, "message": self.message,
                "severity": str(self.severity), "source": self.source, "data": dict(self.data)}


EventSink = Callable[[Event], None]


class EventLog:
    """Fan-out of events to sinks, keeping the last ``maxlen`` in memory (newest last)."""

    def __init__(self, maxlen: int = 1000) -> None:
        self.recent: deque[Event] = deque(maxlen=maxlen)
        self._sinks: list[EventSink] = []

    def subscribe(self, sink: EventSink) -> None:
        self._sinks.append(sink)

    def emit(self, event: Event) -> Event:
        self.recent.append(event)
        for sink in list(self._sinks):
            with contextlib.suppress(Exception):  # a failing sink (e.g. the store) never stops control
                sink(event)
        return event

    def of_kind(self, kind: str) -> list[Event]:
        return [e for e in self.recent if e.kind == kind]
