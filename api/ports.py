"""What the API needs from the controller runtime (:class:`ControlPort`) and from the store (:class:`StoreView`).

The app never reaches into the runtime directly: it talks to :class:`ControlPort`, which
:class:`api.runtime_port.RuntimePort` implements over :class:`microgrid.control.runtime.Runtime` (tests may
use another implementation). The value types are pydantic models; an implementation may also return any
object (dataclass, dict) with the same attributes: the API validates results with ``from_attributes=True``,
so the runtime does not have to import ``api`` (layering, DESIGN.md §2). :class:`StoreView` is the subset
of :class:`microgrid.store.Store` the API uses, with the store's own row models.

Sign convention (DESIGN.md §3): power into the park bus from the asset is positive. ``p_kw`` of an asset is
the value of its schedule power column (:func:`optimizer.results.power_column`): PV output > 0, storage
discharge > 0 / charge < 0; heat pumps, flexible loads, EV depots and tenant loads report consumption > 0.
PCC ``p_kw`` is import > 0 / export < 0.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime
from typing import Literal, Protocol, runtime_checkable

import pandas as pd
from pydantic import BaseModel, ConfigDict

from microgrid.control.overrides import Override
from microgrid.store.models import (
    Alarm,
    Event,
    MinuteAggregate,
    Page,
    ScheduleRecord,
    ScheduleSummary,
    SetpointWrite,
    TelemetrySample,
    User,
)

HealthState = Literal["online", "degraded", "stale", "offline", "unknown"]
"""Device communication health (``drivers.health.Health``) plus ``unknown`` for an asset without a device."""


class _Value(BaseModel):
    model_config = ConfigDict(from_attributes=True, frozen=True)


class DeviceLive(_Value):
    device_id: str
    role: str = ""
    health: HealthState = "unknown"
    last_seen: datetime | None = None
    """Time of the newest good measurement (tz-aware)."""
    error: str = ""


class AssetLive(_Value):
    asset_id: str
    p_kw: float | None = None
    """Measured main power (sign: see module docstring); ``None`` when not measured."""
    planned_kw: float | None = None
    """Plan for the current interval, same sign."""
    setpoint_kw: float | None = None
    """Last setpoint written (storage: AC setpoint; PV: active-power limit; loads: consumption)."""
    soc_pct: float | None = None
    tank_kwh_th: float | None = None
    tank_temp_c: float | None = None
    health: HealthState = "unknown"
    last_seen: datetime | None = None
    devices: list[DeviceLive] = []


class MeterLive(_Value):
    meter_id: str
    p_kw: float | None = None
    """PCC meter: import > 0 / export < 0; tenant and asset meters: consumption > 0."""
    health: HealthState = "unknown"
    last_seen: datetime | None = None


class LiveSnapshot(_Value):
    """The runtime's view of the park right now."""

    at: datetime
    mode: str = "normal"
    """Controller mode (:class:`microgrid.control.modes.Mode`): ``normal`` (optimizer plan), ``fallback``
    (rule-based plan), ``manual`` (automatic dispatch suspended), ``safe`` (PCC measurement lost)."""
    pcc_p_kw: float | None = None
    meters: list[MeterLive] = []
    assets: list[AssetLive] = []
    cycle_time_ms: float | None = None
    """Duration of the last control cycle (read all devices, write changed setpoints)."""
    cycle_time_p99_ms: float | None = None
    solver_time_s: float | None = None
    """Wall time of the last (re-)plan solve."""
    plan_version: str | None = None
    last_plan_at: datetime | None = None
    replan_pending: bool = False


class ReplanTicket(_Value):
    accepted: bool
    request_id: str
    requested_at: datetime
    message: str = ""


@runtime_checkable
class ControlPort(Protocol):
    """The controller runtime as the API sees it. Reads are cheap and synchronous; writes are coroutines."""

    def now(self) -> datetime:
        """Current time of the runtime's clock (simulated time under the simulator), tz-aware."""
        ...

    def snapshot(self) -> LiveSnapshot:
        ...

    def overrides(self) -> list[Override]:
        """Overrides in force now (expired ones excluded)."""
        ...

    async def set_override(self, override: Override) -> Override:
        """Put ``override`` in force (replacing one on the same asset). ``ValueError`` = refused, with reason."""
        ...

    async def clear_override(self, asset_id: str, user: str) -> Override | None:
        """End the override on ``asset_id``; returns it, or ``None`` when there was none."""
        ...

    async def request_replan(self, user: str, reason: str) -> ReplanTicket:
        """Ask for an intraday re-plan from the measured state; returns at once (the solve runs later)."""
        ...


@runtime_checkable
class StoreView(Protocol):
    """The part of :class:`microgrid.store.Store` the API uses (reads, users, acknowledgements, its write log).

    Times are tz-aware, ranges ``[start, end)``; pages come with an opaque ``next_cursor``.
    """

    site_id: str

    # users and tokens (hashed in the store; a token is shown once)
    def authenticate(self, token: str) -> User | None: ...

    def user(self, name: str) -> User: ...

    def users(self) -> list[User]: ...

    def create_user(self, name: str, role: str = "viewer") -> tuple[User, str]: ...

    def rotate_token(self, name: str) -> str: ...

    def authenticate_password(self, name: str, password: str) -> tuple[User, str] | None: ...

    def set_password(self, name: str, password: str) -> User: ...

    def set_user_disabled(self, name: str, disabled: bool = True) -> User: ...

    def set_user_role(self, name: str, role: str) -> User: ...

    # schedules
    def current_schedule(self, day: date) -> ScheduleRecord | None: ...

    def schedule_versions(self, day: date) -> list[ScheduleSummary]: ...

    def schedule(self, schedule_id: int) -> ScheduleRecord: ...

    # measurements
    def telemetry(self, source_id: str | None = None, quantity: str | None = None, *, start: datetime | None = None,
                  end: datetime | None = None, limit: int = 1000, cursor: str | None = None,
                  newest_first: bool = False) -> Page[TelemetrySample]: ...

    def telemetry_minutes(self, source_id: str, quantity: str, *, start: datetime, end: datetime
                          ) -> list[MinuteAggregate]: ...

    def interval_frame(self, start: datetime, end: datetime, *, source_ids: Sequence[str] | None = None,
                       quantities: Sequence[str] | None = None) -> pd.DataFrame: ...

    # audit, events, alarms
    def setpoint_writes(self, *, start: datetime | None = None, end: datetime | None = None,
                        device_id: str | None = None, limit: int = 1000, cursor: str | None = None,
                        newest_first: bool = False) -> Page[SetpointWrite]: ...

    def events(self, *, start: datetime | None = None, end: datetime | None = None, category: str | None = None,
               source_id: str | None = None, limit: int = 1000, cursor: str | None = None,
               newest_first: bool = False) -> Page[Event]: ...

    def record_event(self, category: str, message: str, *, reason: str = "", source_id: str = "",
                     user: str = "controller", data: dict | None = None, ts: datetime | None = None) -> Event: ...

    def alarms(self, *, active: bool | None = None, start: datetime | None = None, end: datetime | None = None,
               unacknowledged: bool = False, limit: int = 1000, cursor: str | None = None,
               newest_first: bool = True) -> Page[Alarm]: ...

    def alarm(self, alarm_id: int) -> Alarm: ...

    def acknowledge_alarm(self, alarm_id: int, user: str, *, ts: datetime | None = None) -> Alarm: ...
