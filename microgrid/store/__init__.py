"""Persistent store of the controller, API and reports (SQLAlchemy Core; SQLite WAL or PostgreSQL).

``Store.open(url, site_id=...)`` → telemetry (raw, 1-min, interval energies), versioned schedules with
KPIs, setpoint-write audit, events, alarms and API users. :class:`BufferedStore` wraps it for the
controller so a failing database never stops control. See docs/store.md.
"""

from microgrid.store.buffered import BufferedStore, FlushReport
from microgrid.store.engine import StoreError, StoreUnavailable, default_url
from microgrid.store.intervals import EnergySource, RollUpSettings, energy_sources_from_site
from microgrid.store.models import (
    Alarm,
    EnergyMethod,
    Event,
    IntervalEnergy,
    IntervalFlag,
    MinuteAggregate,
    Page,
    Quality,
    Role,
    ScheduleKind,
    ScheduleRecord,
    ScheduleSummary,
    SetpointWrite,
    Severity,
    TelemetrySample,
    User,
    WriteResult,
)
from microgrid.store.records import NotFound
from microgrid.store.store import ResumeState, Store
from microgrid.store.telemetry import Retention, RollUpResult

__all__ = [
    "Alarm",
    "BufferedStore",
    "EnergyMethod",
    "EnergySource",
    "Event",
    "FlushReport",
    "IntervalEnergy",
    "IntervalFlag",
    "MinuteAggregate",
    "NotFound",
    "Page",
    "Quality",
    "ResumeState",
    "Retention",
    "Role",
    "RollUpResult",
    "RollUpSettings",
    "ScheduleKind",
    "ScheduleRecord",
    "ScheduleSummary",
    "SetpointWrite",
    "Severity",
    "Store",
    "StoreError",
    "StoreUnavailable",
    "TelemetrySample",
    "User",
    "WriteResult",
    "default_url",
    "energy_sources_from_site",
]
