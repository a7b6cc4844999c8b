"""Schedules (versioned, with inputs and KPIs), the setpoint-write audit, events and alarms."""

from __future__ import annotations

import json
import math
from collections.abc import Iterable
from datetime import date, datetime
from typing import Any

import numpy as np
import pandas as pd
import sqlalchemy as sa

from microgrid.errors import UserError
from microgrid.store import schema as s
from microgrid.store.models import (
    Alarm,
    Event,
    Page,
    ScheduleKind,
    ScheduleRecord,
    ScheduleSummary,
    SetpointWrite,
    Severity,
    WriteResult,
    from_ms,
    to_ms,
    utcnow,
)
from microgrid.store.telemetry import encode_cursor, keyset


class NotFound(UserError):
    """No stored row with that id."""

    exit_code = 2


def _json_default(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, datetime | date | pd.Timestamp):
        return value.isoformat()
    if isinstance(value, np.ndarray):
        return value.tolist()
    return str(value)


def _clean(value: Any) -> Any:
    """NaN/inf → None so the JSON is standard."""
    if isinstance(value, float | np.floating) and not math.isfinite(float(value)):
        return None
    if isinstance(value, dict):
        return {str(k): _clean(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_clean(v) for v in value]
    return value


def dumps(value: Any) -> str:
    return json.dumps(_clean(value), default=_json_default, allow_nan=False, ensure_ascii=False)


def frame_to_split(frame: pd.DataFrame | dict) -> dict[str, Any]:
    """A schedule frame as ``{"index": [ISO 8601], "columns": [...], "data": [[...]]}``."""
    if isinstance(frame, dict):
        if not {"index", "columns", "data"} <= frame.keys():
            raise ValueError("schedule frame dict needs 'index', 'columns' and 'data' keys (pandas 'split')")
        return frame
    if not isinstance(frame.index, pd.DatetimeIndex) or frame.index.tz is None:
        raise ValueError("schedule frame must be indexed by tz-aware interval starts")
    data = frame.astype(object).where(frame.notna(), None).to_numpy().tolist()
    return {"index": [ts.isoformat() for ts in frame.index], "columns": [str(c) for c in frame.columns],
            "data": _clean(data)}


def flatten_kpis(kpis: dict[str, Any], prefix: str = "") -> list[tuple[str, float | None, str | None]]:
    """``{"a": {"b": 1}}`` → ``[("a.b", 1.0, None)]``; non-numbers go to the text column as JSON."""
    out: list[tuple[str, float | None, str | None]] = []
    for key, value in kpis.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict) and value:
            out.extend(flatten_kpis(value, name + "."))
        elif isinstance(value, bool) or value is None or not isinstance(value, int | float | np.number):
            out.append((name, None, dumps(value)))
        else:
            number = float(value)
            out.append((name, number if math.isfinite(number) else None, None))
    return out


def _unique_kpis(rows: list[tuple[str, float | None, str | None]]) -> list[tuple[str, float | None, str | None]]:
    seen: set[str] = set()
    for name, _, _ in rows:
        if name in seen:
            raise ValueError(f"KPI name '{name}' appears twice once nested keys are joined with '.'")
        seen.add(name)
    return rows


def unflatten_kpis(rows: Iterable[tuple[str, float | None, str | None]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name, value, text in rows:
        parts = name.split(".")
        node = out
        for part in parts[:-1]:
            node = node.setdefault(part, {})
        node[parts[-1]] = json.loads(text) if text is not None else value
    return out


class RecordsMixin:
    """Methods of :class:`Store` for schedules, audit, events and alarms."""

    engine: sa.Engine
    site_id: str

    # ---- schedules --------------------------------------------------------------------------------------
    def save_schedule(self, day: date, frame: pd.DataFrame | dict, *, kind: ScheduleKind | str = "day_ahead",
                      source: str = "optimizer", inputs: dict | None = None, kpis: dict | None = None,
                      created_by: str = "controller", note: str = "", created_at: datetime | None = None,
                      ) -> ScheduleSummary:
        """Store a new version of ``day``'s schedule and its KPIs in one transaction (version = last + 1)."""
        split = frame_to_split(frame)
        index = pd.DatetimeIndex(pd.to_datetime(split["index"], utc=True))
        if len(index) == 0:
            raise ValueError("schedule frame has no intervals")
        step_min = int(round((index[1] - index[0]).total_seconds() / 60)) if len(index) > 1 else 15
        kind = ScheduleKind(kind)
        frame_json, inputs_json = dumps(split), dumps(inputs or {})
        kpi_rows = _unique_kpis(flatten_kpis(kpis or {}))
        created = created_at or utcnow()
        for attempt in range(3):
            try:
                with self.engine.begin() as conn:
                    last = conn.execute(sa.select(sa.func.max(s.schedules.c.version)).where(
                        s.schedules.c.site_id == self.site_id, s.schedules.c.day == day.isoformat())).scalar()
                    version = int(last or 0) + 1
                    schedule_id = conn.execute(s.schedules.insert().values(
                        site_id=self.site_id, day=day.isoformat(), version=version, kind=kind.value, source=source,
                        created_ms=to_ms(created), created_by=created_by, horizon_start_ms=to_ms(index[0]),
                        horizon_end_ms=to_ms(index[-1]) + step_min * 60_000, step_min=step_min,
                        frame_json=frame_json, inputs_json=inputs_json, note=note)).inserted_primary_key[0]
                    if kpi_rows:
                        conn.execute(s.schedule_kpis.insert(), [
                            {"schedule_id": schedule_id, "name": n, "value": v, "text": t} for n, v, t in kpi_rows])
                break
            except sa.exc.IntegrityError:
                if attempt == 2:  # another writer kept taking the version number
                    raise
        return self.schedule_summary(int(schedule_id))

    def _kpis(self, conn: sa.Connection, schedule_ids: list[int]) -> dict[int, dict]:
        if not schedule_ids:
            return {}
        k = s.schedule_kpis
        rows = conn.execute(sa.select(k).where(k.c.schedule_id.in_(schedule_ids))).all()
        grouped: dict[int, list] = {}
        for r in rows:
            grouped.setdefault(r.schedule_id, []).append((r.name, r.value, r.text))
        return {sid: unflatten_kpis(items) for sid, items in grouped.items()}

    @staticmethod
    def _summary_fields(r: sa.Row, kpis: dict) -> dict:
        return {"id": r.id, "site_id": r.site_id, "day": date.fromisoformat(r.day), "version": r.version,
                "kind": r.kind, "source": r.source, "created_at": from_ms(r.created_ms), "created_by": r.created_by,
                "horizon_start": from_ms(r.horizon_start_ms), "horizon_end": from_ms(r.horizon_end_ms),
                "step_min": r.step_min, "note": r.note, "kpis": kpis}

    def schedule_summary(self, schedule_id: int) -> ScheduleSummary:
        t = s.schedules
        cols = [c for c in t.c if c.name not in ("frame_json", "inputs_json")]
        with self.engine.connect() as conn:
            r = conn.execute(sa.select(*cols).where(t.c.id == schedule_id, t.c.site_id == self.site_id)).first()
            if r is None:
                raise NotFound(f"no schedule with id {schedule_id}")
            return ScheduleSummary(**self._summary_fields(r, self._kpis(conn, [r.id]).get(r.id, {})))

    def schedule(self, schedule_id: int) -> ScheduleRecord:
        """One schedule version with frame, inputs and KPIs."""
        t = s.schedules
        with self.engine.connect() as conn:
            r = conn.execute(sa.select(t).where(t.c.id == schedule_id, t.c.site_id == self.site_id)).first()
            if r is None:
                raise NotFound(f"no schedule with id {schedule_id}")
            kpis = self._kpis(conn, [r.id]).get(r.id, {})
        return ScheduleRecord(**self._summary_fields(r, kpis), frame=json.loads(r.frame_json),
                              inputs=json.loads(r.inputs_json))

    def schedule_versions(self, day: date) -> list[ScheduleSummary]:
        """Every version stored for ``day``, oldest first."""
        t = s.schedules
        cols = [c for c in t.c if c.name not in ("frame_json", "inputs_json")]
        with self.engine.connect() as conn:
            rows = conn.execute(sa.select(*cols).where(t.c.site_id == self.site_id, t.c.day == day.isoformat())
                                .order_by(t.c.version)).all()
            kpis = self._kpis(conn, [r.id for r in rows])
        return [ScheduleSummary(**self._summary_fields(r, kpis.get(r.id, {}))) for r in rows]

    def current_schedule(self, day: date) -> ScheduleRecord | None:
        """The latest version for ``day`` (what the controller follows), or ``None``."""
        t = s.schedules
        with self.engine.connect() as conn:
            sid = conn.execute(sa.select(t.c.id).where(t.c.site_id == self.site_id, t.c.day == day.isoformat())
                               .order_by(t.c.version.desc()).limit(1)).scalar()
        return None if sid is None else self.schedule(int(sid))

    # ---- setpoint audit ---------------------------------------------------------------------------------
    def record_setpoint_writes(self, writes: Iterable[SetpointWrite]) -> int:
        rows = [{"site_id": self.site_id, "ts_ms": to_ms(w.ts), "device_id": w.device_id, "point": w.point,
                 "asset_id": w.asset_id, "old_value": w.old_value, "new_value": w.new_value, "result": w.result.value,
                 "user": w.user, "detail": w.detail, "schedule_id": w.schedule_id} for w in writes]
        if rows:
            with self.engine.begin() as conn:
                conn.execute(s.setpoint_writes.insert(), rows)
        return len(rows)

    @staticmethod
    def _write(r: sa.Row) -> SetpointWrite:
        return SetpointWrite(id=r.id, ts=from_ms(r.ts_ms), device_id=r.device_id, point=r.point, asset_id=r.asset_id,
                             old_value=r.old_value, new_value=r.new_value, result=WriteResult(r.result), user=r.user,
                             detail=r.detail, schedule_id=r.schedule_id)

    def setpoint_writes(self, *, start: datetime | None = None, end: datetime | None = None,
                        device_id: str | None = None, limit: int = 1000, cursor: str | None = None,
                        newest_first: bool = False) -> Page[SetpointWrite]:
        """Audit records in ``[start, end)``, optionally of one device."""
        t = s.setpoint_writes
        q = sa.select(t).where(t.c.site_id == self.site_id)
        if device_id is not None:
            q = q.where(t.c.device_id == device_id)
        q = _time_range(t, q, start, end)
        return _page(t, q, cursor, newest_first, limit, self._write, self.engine)

    def last_setpoints(self, *, only_ok: bool = True) -> dict[tuple[str, str], SetpointWrite]:
        """The last write of every (device, point) (successful ones only by default), so a restarted
        controller knows what the devices hold and does not write it again."""
        t = s.setpoint_writes
        newest = sa.select(sa.func.max(t.c.id).label("id")).where(t.c.site_id == self.site_id)
        if only_ok:
            newest = newest.where(t.c.result.in_([WriteResult.OK.value, WriteResult.SKIPPED.value]))
        sub = newest.group_by(t.c.device_id, t.c.point).subquery()
        with self.engine.connect() as conn:
            rows = conn.execute(sa.select(t).join(sub, t.c.id == sub.c.id)).all()
        return {(r.device_id, r.point): self._write(r) for r in rows}

    # ---- events -----------------------------------------------------------------------------------------
    def record_events(self, items: Iterable[Event]) -> int:
        rows = [{"site_id": self.site_id, "ts_ms": to_ms(e.ts), "category": e.category, "source_id": e.source_id,
                 "message": e.message, "reason": e.reason, "user": e.user, "data_json": dumps(e.data)} for e in items]
        if rows:
            with self.engine.begin() as conn:
                conn.execute(s.events.insert(), rows)
        return len(rows)

    def record_event(self, category: str, message: str, *, reason: str = "", source_id: str = "",
                     user: str = "controller", data: dict | None = None, ts: datetime | None = None) -> Event:
        event = Event(ts=ts or utcnow(), category=category, message=message, reason=reason, source_id=source_id,
                      user=user, data=data or {})
        self.record_events([event])
        return event

    @staticmethod
    def _event(r: sa.Row) -> Event:
        return Event(id=r.id, ts=from_ms(r.ts_ms), category=r.category, message=r.message, reason=r.reason,
                     source_id=r.source_id, user=r.user, data=json.loads(r.data_json))

    def events(self, *, start: datetime | None = None, end: datetime | None = None, category: str | None = None,
               source_id: str | None = None, limit: int = 1000, cursor: str | None = None,
               newest_first: bool = False) -> Page[Event]:
        t = s.events
        q = sa.select(t).where(t.c.site_id == self.site_id)
        if category is not None:
            q = q.where(t.c.category == category)
        if source_id is not None:
            q = q.where(t.c.source_id == source_id)
        q = _time_range(t, q, start, end)
        return _page(t, q, cursor, newest_first, limit, self._event, self.engine)

    # ---- alarms -----------------------------------------------------------------------------------------
    @staticmethod
    def _alarm(r: sa.Row) -> Alarm:
        return Alarm(id=r.id, code=r.code, severity=Severity(r.severity), source_id=r.source_id, message=r.message,
                     raised_at=from_ms(r.raised_ms), last_at=from_ms(r.last_ms), count=r.count,
                     cleared_at=from_ms(r.cleared_ms), acked_at=from_ms(r.acked_ms), acked_by=r.acked_by)

    def raise_alarm(self, code: str, message: str = "", *, severity: Severity | str = Severity.WARNING,
                    source_id: str = "", ts: datetime | None = None) -> Alarm:
        """Raise ``code`` for ``source_id``; an active alarm of the same code and source is updated (count + 1)
        instead of opening a second one."""
        t = s.alarms
        ts_ms = to_ms(ts or utcnow())
        severity = Severity(severity)
        with self.engine.begin() as conn:
            active = conn.execute(sa.select(t).where(t.c.site_id == self.site_id, t.c.code == code,
                                                     t.c.source_id == source_id, t.c.cleared_ms.is_(None))
                                  .order_by(t.c.id.desc()).limit(1)).first()
            if active is not None:
                conn.execute(t.update().where(t.c.id == active.id).values(
                    last_ms=max(ts_ms, active.last_ms), count=active.count + 1, message=message or active.message,
                    severity=severity.value))
                alarm_id = active.id
            else:
                alarm_id = conn.execute(t.insert().values(
                    site_id=self.site_id, code=code, severity=severity.value, source_id=source_id, message=message,
                    raised_ms=ts_ms, last_ms=ts_ms, count=1)).inserted_primary_key[0]
        return self.alarm(int(alarm_id))

    def clear_alarm(self, code: str, source_id: str = "", *, ts: datetime | None = None) -> Alarm | None:
        """Clear the active alarm ``code`` of ``source_id`` (``None`` when none is active)."""
        t = s.alarms
        with self.engine.begin() as conn:
            active = conn.execute(sa.select(t.c.id).where(t.c.site_id == self.site_id, t.c.code == code,
                                                          t.c.source_id == source_id, t.c.cleared_ms.is_(None))).all()
            if not active:
                return None
            ids = [r.id for r in active]
            conn.execute(t.update().where(t.c.id.in_(ids)).values(cleared_ms=to_ms(ts or utcnow())))
        return self.alarm(int(ids[-1]))

    def acknowledge_alarm(self, alarm_id: int, user: str, *, ts: datetime | None = None) -> Alarm:
        """Record that ``user`` has seen the alarm (it stays active until cleared)."""
        t = s.alarms
        with self.engine.begin() as conn:
            done = conn.execute(t.update().where(t.c.id == alarm_id, t.c.site_id == self.site_id).values(
                acked_ms=to_ms(ts or utcnow()), acked_by=user)).rowcount
        if not done:
            raise NotFound(f"no alarm with id {alarm_id}")
        return self.alarm(alarm_id)

    def alarm(self, alarm_id: int) -> Alarm:
        t = s.alarms
        with self.engine.connect() as conn:
            r = conn.execute(sa.select(t).where(t.c.id == alarm_id, t.c.site_id == self.site_id)).first()
        if r is None:
            raise NotFound(f"no alarm with id {alarm_id}")
        return self._alarm(r)

    def alarms(self, *, active: bool | None = None, start: datetime | None = None, end: datetime | None = None,
               unacknowledged: bool = False, limit: int = 1000, cursor: str | None = None,
               newest_first: bool = True) -> Page[Alarm]:
        """Alarms raised in ``[start, end)``; ``active=True`` only uncleared ones, ``False`` only cleared."""
        t = s.alarms
        q = sa.select(t, t.c.raised_ms.label("ts_ms")).where(t.c.site_id == self.site_id)
        if active is True:
            q = q.where(t.c.cleared_ms.is_(None))
        elif active is False:
            q = q.where(t.c.cleared_ms.is_not(None))
        if unacknowledged:
            q = q.where(t.c.acked_ms.is_(None))
        if start is not None:
            q = q.where(t.c.raised_ms >= to_ms(start))
        if end is not None:
            q = q.where(t.c.raised_ms < to_ms(end))
        sub = q.subquery()
        q2 = keyset(sub, sa.select(sub), cursor, newest_first).limit(limit + 1)
        with self.engine.connect() as conn:
            rows = conn.execute(q2).all()
        more = len(rows) > limit
        rows = rows[:limit]
        return Page(items=[self._alarm(r) for r in rows],
                    next_cursor=encode_cursor(rows[-1].ts_ms, rows[-1].id) if more else None)

    def active_alarms(self) -> list[Alarm]:
        return self.alarms(active=True, limit=10_000).items


def _time_range(t: sa.Table, q: sa.Select, start: datetime | None, end: datetime | None) -> sa.Select:
    if start is not None:
        q = q.where(t.c.ts_ms >= to_ms(start))
    if end is not None:
        q = q.where(t.c.ts_ms < to_ms(end))
    return q


def _page(t: sa.Table, q: sa.Select, cursor: str | None, newest_first: bool, limit: int, convert, engine) -> Page:
    q = keyset(t, q, cursor, newest_first).limit(limit + 1)
    with engine.connect() as conn:
        rows = conn.execute(q).all()
    more = len(rows) > limit
    rows = rows[:limit]
    return Page(items=[convert(r) for r in rows],
                next_cursor=encode_cursor(rows[-1].ts_ms, rows[-1].id) if more else None)
