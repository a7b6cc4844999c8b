"""Typed rows of the store, declared once and reused by the controller, the API and the reports.

Every timestamp is timezone-aware; the store keeps UTC milliseconds and returns UTC datetimes. Power and
energy follow the one sign convention of DESIGN.md §3 (see docs/store.md, "Telemetry vocabulary").
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from enum import IntEnum, StrEnum
from typing import Any, Generic, TypeVar

import pandas as pd
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field


class Quality(IntEnum):
    """Quality of a telemetry sample (stored as a small integer)."""

    GOOD = 0
    UNCERTAIN = 1
    """Read, but the device flagged it (e.g. a range warning); still used for energies."""
    STALE = 2
    """Not refreshed within the device's staleness limit; not used for energies."""
    BAD = 3
    """Read failed or the value is invalid; kept for the record, never used for energies."""


class IntervalFlag(StrEnum):
    """Data quality of one interval energy."""

    OK = "ok"
    """Counter difference, or power samples covering at least 99 % of the interval."""
    PARTIAL = "partial"
    """Power samples cover part of the interval; the value is the mean power over the covered part × the
    interval length (an estimate). Its ``coverage_pct`` says how much was covered."""
    MISSING = "missing"
    """No usable data; ``value`` is ``None``. Reports treat it as a gap, never as zero."""


class EnergyMethod(StrEnum):
    COUNTER = "counter"
    """Difference of a cumulative energy register (revenue meters), interpolated at the interval edges."""
    INTEGRATED = "integrated"
    """Integral of power samples, each held until the next sample (at most ``max_hold_s``)."""
    LAST = "last"
    """Last value in the interval (states such as ``soc_end_pct``)."""


class WriteResult(StrEnum):
    """Outcome of one setpoint write (audit)."""

    OK = "ok"
    REFUSED = "refused"
    """Refused before writing (out of range, clamped to nothing, not permitted)."""
    FAILED = "failed"
    """Modbus exception or timeout."""
    READBACK_MISMATCH = "readback_mismatch"
    SKIPPED = "skipped"
    """Not written because the device already holds the value."""


class Severity(StrEnum):
    INFO = "info"
    WARNING = "warning"
    CRITICAL = "critical"


class Role(StrEnum):
    """API roles, each including the rights of the ones before it."""

    VIEWER = "viewer"
    OPERATOR = "operator"
    ADMIN = "admin"


class ScheduleKind(StrEnum):
    DAY_AHEAD = "day_ahead"
    INTRADAY = "intraday"
    MANUAL = "manual"
    FALLBACK = "fallback"


class Row(BaseModel):
    model_config = ConfigDict(frozen=True)


class TelemetrySample(Row):
    """One measured value. ``source_id`` is a device, asset or meter id; ``quantity`` names the value with
    its unit (``p_kw``, ``soc_pct``, ``e_import_kwh``)."""

    ts: AwareDatetime
    source_id: str = Field(max_length=64)
    quantity: str = Field(max_length=64)
    value: float
    quality: Quality = Quality.GOOD


class MinuteAggregate(Row):
    """1-minute statistics of one quantity (kept longer than raw samples)."""

    ts: AwareDatetime
    """Start of the minute (UTC)."""
    source_id: str
    quantity: str
    mean: float
    min: float
    max: float
    n: int
    quality: Quality
    """Worst quality among the samples of the minute."""


class IntervalEnergy(Row):
    """Energy (or end state) of one source over one interval, computed from telemetry (kept forever)."""

    ts: AwareDatetime
    """Start of the interval (UTC)."""
    interval_min: int
    source_id: str
    """Asset or meter id of the site (device telemetry is attributed to what the device serves)."""
    quantity: str
    """``e_import_kwh``/``e_export_kwh`` (meters), ``e_pv_kwh``/``e_curtailed_kwh`` (PV),
    ``e_charge_kwh``/``e_discharge_kwh``/``soc_end_pct`` (batteries), ``e_load_kwh`` (loads)."""
    value: float | None
    coverage_pct: float = Field(ge=0, le=100)
    flag: IntervalFlag
    method: EnergyMethod
    n_samples: int = 0


class ScheduleSummary(Row):
    """A stored schedule version without its frame (for listings)."""

    id: int
    site_id: str
    day: date
    """Local calendar day the schedule is for."""
    version: int
    """1, 2, ... per day; the highest is the current one."""
    kind: ScheduleKind
    source: str
    """``optimizer`` or ``baseline`` (rule-based fallback)."""
    created_at: AwareDatetime
    created_by: str
    horizon_start: AwareDatetime
    horizon_end: AwareDatetime
    step_min: int
    note: str = ""
    kpis: dict[str, Any] = {}


class ScheduleRecord(ScheduleSummary):
    """A stored schedule version with its frame (``split`` JSON: index, columns, data) and inputs."""

    frame: dict[str, Any]
    inputs: dict[str, Any] = {}

    def frame_df(self, tz: str | None = None) -> pd.DataFrame:
        """The schedule as a DataFrame indexed by interval start (UTC, or ``tz`` when given)."""
        index = pd.DatetimeIndex(pd.to_datetime(self.frame["index"], utc=True))
        if tz:
            index = index.tz_convert(tz)
        return pd.DataFrame(self.frame["data"], index=index, columns=self.frame["columns"], dtype=object).infer_objects()


class SetpointWrite(Row):
    """Audit record of one setpoint write. Values in engineering units of ``point``."""

    id: int | None = None
    ts: AwareDatetime
    device_id: str
    point: str
    new_value: float
    old_value: float | None = None
    """Value read back before writing, when known."""
    result: WriteResult
    user: str = "controller"
    """``controller`` for automatic writes, else the API user who caused it."""
    asset_id: str | None = None
    detail: str = ""
    schedule_id: int | None = None


class Event(Row):
    """Something that happened, with its reason (mode change, override, fallback, re-plan, ...)."""

    id: int | None = None
    ts: AwareDatetime
    category: str
    message: str
    reason: str = ""
    source_id: str = ""
    user: str = "controller"
    data: dict[str, Any] = {}


class Alarm(Row):
    """A condition needing attention. One row per occurrence (raised → cleared), re-raises counted."""

    id: int | None = None
    code: str
    """Stable identifier, e.g. ``store_unavailable``, ``meter_stale``."""
    severity: Severity = Severity.WARNING
    source_id: str = ""
    message: str = ""
    raised_at: AwareDatetime
    last_at: AwareDatetime
    count: int = 1
    cleared_at: AwareDatetime | None = None
    acked_at: AwareDatetime | None = None
    acked_by: str | None = None

    @property
    def active(self) -> bool:
        return self.cleared_at is None


class User(Row):
    """An API user. The token itself is never stored, only its salted hash."""

    id: int
    name: str
    role: Role
    created_at: AwareDatetime
    disabled: bool = False
    has_password: bool = False
    """True once a dashboard password is set (only its salted hash is stored)."""


T = TypeVar("T")


class Page(BaseModel, Generic[T]):
    """One page of a query; pass ``next_cursor`` back to get the next page (``None``: no more)."""

    items: list[T]
    next_cursor: str | None = None


def utcnow() -> datetime:
    return datetime.now(UTC)


def to_ms(ts: datetime | pd.Timestamp) -> int:
    """Milliseconds since the epoch of a tz-aware timestamp."""
    if ts.tzinfo is None:
        raise ValueError(f"timestamp {ts!s} has no time zone; use a tz-aware datetime (e.g. UTC)")
    return int(pd.Timestamp(ts).value // 1_000_000)


def from_ms(ms: int | None) -> datetime | None:
    return None if ms is None else datetime.fromtimestamp(ms / 1000, tz=UTC)
