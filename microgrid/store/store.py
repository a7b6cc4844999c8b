"""The :class:`Store`: one object over one database for the controller, the API and the reports."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import pandas as pd
import sqlalchemy as sa

from microgrid.store import schema as s
from microgrid.store.engine import StoreError, default_url, make_engine, upsert
from microgrid.store.intervals import EnergySource, RollUpSettings
from microgrid.store.models import Alarm, ScheduleRecord, SetpointWrite, utcnow
from microgrid.store.records import RecordsMixin
from microgrid.store.telemetry import Retention, TelemetryMixin
from microgrid.store.users import UsersMixin


@dataclass
class ResumeState:
    """What a controller restarted mid-day reads back before its first cycle."""

    day: date
    """Local day of ``now``."""
    schedule: ScheduleRecord | None
    """Current (latest) schedule version for ``day``."""
    month_peak_kw: float | None
    """Month-to-date peak 15-min import at the PCC meter (from interval energies)."""
    last_setpoints: dict[tuple[str, str], SetpointWrite] = field(default_factory=dict)
    """Last successful write per (device, point): do not write the same value again."""
    active_alarms: list[Alarm] = field(default_factory=list)


class Store(TelemetryMixin, RecordsMixin, UsersMixin):
    """Telemetry, interval energies, schedules, audit, events, alarms and users of one site.

    Open with :meth:`open`; thread-safe for readers and one writer (the controller) per site. All times are
    tz-aware; see docs/store.md for the tables and the telemetry vocabulary.
    """

    def __init__(self, engine: sa.Engine, *, site_id: str, timezone: str = "Asia/Shanghai",
                 settings: RollUpSettings | None = None, retention: Retention | None = None,
                 energy_sources: dict[str, EnergySource] | None = None) -> None:
        self.engine = engine
        self.site_id = site_id
        self.timezone = timezone
        self.settings = settings or RollUpSettings()
        self.retention = retention or Retention()
        self.energy_sources = dict(energy_sources or {})
        self._rolled_ms: int | None = None

    @classmethod
    def open(cls, url: str | None = None, *, site_id: str, timezone: str = "Asia/Shanghai",
             interval_min: int | None = None, max_hold_s: float = 15.0, retention: Retention | None = None,
             energy_sources: dict[str, EnergySource] | None = None, busy_timeout_s: float = 5.0,
             data_dir: str | None = None) -> Store:
        """Open (creating or migrating) the store at ``url``; ``None`` means the site's default SQLite file
        (:func:`~microgrid.store.engine.default_url`). ``interval_min`` (default 15) is fixed when the store
        is created; opening it with another value is an error."""
        engine = make_engine(url or default_url(site_id, data_dir), busy_timeout_s=busy_timeout_s)
        try:
            s.migrate(engine)
            stored_interval = cls._fix_interval(engine, site_id, interval_min)
        except sa.exc.OperationalError as exc:
            engine.dispose()
            raise StoreError.of("uerr.store_cannot_open", url=engine.url.render_as_string(hide_password=True),
                                detail=str(exc.orig)) from None
        except Exception:
            engine.dispose()
            raise
        store = cls(engine, site_id=site_id, timezone=timezone,
                    settings=RollUpSettings(interval_min=stored_interval, max_hold_s=max_hold_s),
                    retention=retention, energy_sources=energy_sources)
        with engine.connect() as conn:
            store._rolled_ms = store._state(conn, "rolled_ms")
        return store

    @staticmethod
    def _fix_interval(engine: sa.Engine, site_id: str, interval_min: int | None) -> int:
        t = s.store_state
        with engine.begin() as conn:
            stored = conn.execute(sa.select(t.c.value).where(t.c.site_id == site_id, t.c.key == "interval_min")).scalar()
            if stored is None:
                value = interval_min or 15
                if value <= 0 or 60 % value and value % 60:
                    raise StoreError(f"interval_min: {value} does not divide an hour; use 5, 10, 15, 20, 30 or 60")
                upsert(conn, t, [{"site_id": site_id, "key": "interval_min", "value": value}], ["site_id", "key"])
                return value
        if interval_min is not None and int(stored) != interval_min:
            raise StoreError(f"interval_min: the store holds {stored}-min intervals, not {interval_min}; "
                             "open it without interval_min or use another store")
        return int(stored)

    @property
    def url(self) -> str:
        return self.engine.url.render_as_string(hide_password=True)

    @property
    def interval_min(self) -> int:
        return self.settings.interval_min

    def close(self) -> None:
        self.engine.dispose()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def ping(self) -> bool:
        """True when the database answers."""
        try:
            with self.engine.connect() as conn:
                conn.execute(sa.text("SELECT 1"))
            return True
        except sa.exc.SQLAlchemyError:
            return False

    def local_day(self, at: datetime | None = None) -> date:
        return pd.Timestamp(at or utcnow()).tz_convert(ZoneInfo(self.timezone)).date()

    def resume_state(self, now: datetime | None = None, *, pcc_meter_id: str | None = None) -> ResumeState:
        """Current schedule for today, month-to-date PCC peak, last setpoints and active alarms."""
        now = now or utcnow()
        day = self.local_day(now)
        return ResumeState(
            day=day,
            schedule=self.current_schedule(day),
            month_peak_kw=self.month_peak_kw(pcc_meter_id, now) if pcc_meter_id else None,
            last_setpoints=self.last_setpoints(),
            active_alarms=self.active_alarms(),
        )

    def save_state(self, key: str, state: dict) -> None:
        """Keep a JSON-able dict (e.g. the controller's counters, overrides, manual mode) under ``key``."""
        from microgrid.store.records import dumps

        with self.engine.begin() as conn:
            upsert(conn, s.store_state, [{"site_id": self.site_id, "key": f"state:{key}", "value": None,
                                          "text": dumps(state)}], ["site_id", "key"])

    def load_state(self, key: str) -> dict | None:
        """The dict saved under ``key``, or ``None``."""
        import json

        t = s.store_state
        with self.engine.connect() as conn:
            text = conn.execute(sa.select(t.c.text).where(t.c.site_id == self.site_id,
                                                          t.c.key == f"state:{key}")).scalar()
        return None if text is None else json.loads(text)

    def day_bounds(self, day: date) -> tuple[datetime, datetime]:
        """Start and end (tz-aware, local) of the local calendar ``day``."""
        tz = ZoneInfo(self.timezone)
        start = datetime(day.year, day.month, day.day, tzinfo=tz)
        nxt = day + timedelta(days=1)
        return start, datetime(nxt.year, nxt.month, nxt.day, tzinfo=tz)
