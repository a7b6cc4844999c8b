"""Telemetry, 1-minute aggregates and interval energies of the :class:`~microgrid.store.Store`."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd
import sqlalchemy as sa

from microgrid.store import schema as s
from microgrid.store.engine import executemany, fetch_rows, upsert
from microgrid.store.intervals import EnergySource, RollUpSettings, compute_interval_rows, minute_rows
from microgrid.store.models import (
    EnergyMethod,
    IntervalEnergy,
    IntervalFlag,
    MinuteAggregate,
    Page,
    Quality,
    TelemetrySample,
    from_ms,
    to_ms,
    utcnow,
)

TelemetryInput = TelemetrySample | tuple
"""A sample, or a tuple ``(ts, source_id, quantity, value[, quality])`` with ``ts`` a tz-aware datetime or
epoch milliseconds (the fast path for the controller)."""

CHUNK_MS = 6 * 3_600_000
"""Roll-up works through at most six hours of raw samples at a time."""


@dataclass(frozen=True)
class Retention:
    """How long each resolution is kept. Interval energies are kept forever."""

    raw: timedelta = timedelta(days=2)
    minute: timedelta = timedelta(days=90)


@dataclass
class RollUpResult:
    intervals_written: int = 0
    minutes_written: int = 0
    raw_deleted: int = 0
    minutes_deleted: int = 0
    rolled_until: datetime | None = None


def _sample_row(site_id: str, item: TelemetryInput) -> dict:
    if isinstance(item, TelemetrySample):
        return {"site_id": site_id, "ts_ms": to_ms(item.ts), "source_id": item.source_id,
                "quantity": item.quantity, "value": float(item.value), "quality": int(item.quality)}
    ts, source_id, quantity, value, *rest = item
    ts_ms = int(ts) if isinstance(ts, int | np.integer) else to_ms(ts)
    return {"site_id": site_id, "ts_ms": ts_ms, "source_id": str(source_id), "quantity": str(quantity),
            "value": float(value), "quality": int(rest[0]) if rest else 0}


def encode_cursor(ts_ms: int, row_id: int) -> str:
    return f"{ts_ms}:{row_id}"


def decode_cursor(cursor: str | None) -> tuple[int, int] | None:
    if not cursor:
        return None
    try:
        ts_ms, row_id = cursor.split(":")
        return int(ts_ms), int(row_id)
    except ValueError:
        from microgrid.store.engine import StoreError

        raise StoreError(f"cursor '{cursor}' is not valid; pass the next_cursor of the previous page") from None


def keyset(table: sa.Table, query: sa.Select, cursor: str | None, newest_first: bool) -> sa.Select:
    """Order by (ts_ms, id) and continue after ``cursor``."""
    after = decode_cursor(cursor)
    ts, rid = table.c.ts_ms, table.c.id
    if after is not None:
        if newest_first:
            query = query.where(sa.or_(ts < after[0], sa.and_(ts == after[0], rid < after[1])))
        else:
            query = query.where(sa.or_(ts > after[0], sa.and_(ts == after[0], rid > after[1])))
    return query.order_by(ts.desc(), rid.desc()) if newest_first else query.order_by(ts, rid)


class TelemetryMixin:
    """Methods of :class:`Store` for measured data. Expects ``engine``, ``site_id``, ``settings``,
    ``retention``, ``timezone`` and ``energy_sources`` on the instance."""

    engine: sa.Engine
    site_id: str
    timezone: str
    settings: RollUpSettings
    retention: Retention
    energy_sources: dict[str, EnergySource]
    _rolled_ms: int | None

    # ---- state helpers ----------------------------------------------------------------------------------
    def _state(self, conn: sa.Connection, key: str) -> int | None:
        row = conn.execute(sa.select(s.store_state.c.value).where(
            s.store_state.c.site_id == self.site_id, s.store_state.c.key == key)).first()
        return None if row is None else row[0]

    def _set_state(self, conn: sa.Connection, key: str, value: int | None) -> None:
        upsert(conn, s.store_state, [{"site_id": self.site_id, "key": key, "value": value}], ["site_id", "key"])

    # ---- telemetry --------------------------------------------------------------------------------------
    def write_telemetry(self, samples: Iterable[TelemetryInput]) -> int:
        """Insert samples in one transaction (executemany); returns how many were written."""
        rows = [_sample_row(self.site_id, item) for item in samples]
        if not rows:
            return 0
        bad = next((r for r in rows if not np.isfinite(r["value"])), None)
        if bad is not None:
            raise ValueError(f"telemetry value of {bad['source_id']}.{bad['quantity']} is {bad['value']}; "
                             "store only finite numbers (mark unreadable values with quality BAD and a value)")
        oldest = min(r["ts_ms"] for r in rows)
        with self.engine.begin() as conn:
            executemany(conn, s.telemetry.insert(), rows)
            if self._rolled_ms is not None and oldest < self._rolled_ms:
                dirty = self._state(conn, "dirty_from_ms")
                self._set_state(conn, "dirty_from_ms", oldest if dirty is None else min(dirty, oldest))
        return len(rows)

    def telemetry(self, source_id: str | None = None, quantity: str | None = None, *,
                  start: datetime | None = None, end: datetime | None = None, limit: int = 1000,
                  cursor: str | None = None, newest_first: bool = False) -> Page[TelemetrySample]:
        """Raw samples in ``[start, end)`` for a source (and quantity), one page ordered by time."""
        t = s.telemetry
        q = sa.select(t).where(t.c.site_id == self.site_id)
        if source_id is not None:
            q = q.where(t.c.source_id == source_id)
        if quantity is not None:
            q = q.where(t.c.quantity == quantity)
        if start is not None:
            q = q.where(t.c.ts_ms >= to_ms(start))
        if end is not None:
            q = q.where(t.c.ts_ms < to_ms(end))
        q = keyset(t, q, cursor, newest_first).limit(limit + 1)
        with self.engine.connect() as conn:
            rows = conn.execute(q).all()
        more = len(rows) > limit
        rows = rows[:limit]
        items = [TelemetrySample(ts=from_ms(r.ts_ms), source_id=r.source_id, quantity=r.quantity, value=r.value,
                                 quality=Quality(r.quality)) for r in rows]
        return Page(items=items, next_cursor=encode_cursor(rows[-1].ts_ms, rows[-1].id) if more else None)

    def latest_telemetry(self, source_id: str | None = None) -> dict[tuple[str, str], TelemetrySample]:
        """The newest raw sample of every (source, quantity) (of one source when given)."""
        t = s.telemetry
        newest = (sa.select(t.c.source_id, t.c.quantity, sa.func.max(t.c.id).label("id"))
                  .where(t.c.site_id == self.site_id).group_by(t.c.source_id, t.c.quantity))
        if source_id is not None:
            newest = newest.where(t.c.source_id == source_id)
        sub = newest.subquery()
        q = sa.select(t).join(sub, t.c.id == sub.c.id)
        with self.engine.connect() as conn:
            rows = conn.execute(q).all()
        return {(r.source_id, r.quantity): TelemetrySample(ts=from_ms(r.ts_ms), source_id=r.source_id,
                                                           quantity=r.quantity, value=r.value,
                                                           quality=Quality(r.quality)) for r in rows}

    def telemetry_minutes(self, source_id: str, quantity: str, *, start: datetime, end: datetime
                          ) -> list[MinuteAggregate]:
        """1-minute aggregates in ``[start, end)``."""
        t = s.telemetry_1min
        q = (sa.select(t).where(t.c.site_id == self.site_id, t.c.source_id == source_id,
                                t.c.quantity == quantity, t.c.ts_ms >= to_ms(start), t.c.ts_ms < to_ms(end))
             .order_by(t.c.ts_ms))
        with self.engine.connect() as conn:
            return [MinuteAggregate(ts=from_ms(r.ts_ms), source_id=r.source_id, quantity=r.quantity, mean=r.mean,
                                    min=r.min, max=r.max, n=r.n, quality=Quality(r.quality))
                    for r in conn.execute(q)]

    # ---- interval energies ------------------------------------------------------------------------------
    def write_interval_energies(self, rows: Iterable[IntervalEnergy]) -> int:
        """Insert or replace interval energies (e.g. imported from a billing meter)."""
        now = to_ms(utcnow())
        data = [{"site_id": self.site_id, "source_id": r.source_id, "quantity": r.quantity, "ts_ms": to_ms(r.ts),
                 "interval_min": r.interval_min, "value": r.value, "coverage_pct": r.coverage_pct,
                 "flag": r.flag.value, "method": r.method.value, "n_samples": r.n_samples, "updated_ms": now}
                for r in rows]
        with self.engine.begin() as conn:
            upsert(conn, s.interval_energy, data, ["site_id", "source_id", "quantity", "ts_ms"])
        return len(data)

    def interval_frame(self, start: datetime, end: datetime, *, source_ids: Sequence[str] | None = None,
                       quantities: Sequence[str] | None = None) -> pd.DataFrame:
        """Interval energies with start in ``[start, end)`` as a tidy frame: ``ts`` (UTC), ``source_id``,
        ``quantity``, ``value``, ``coverage_pct``, ``flag``, ``method``, ``n_samples``."""
        t = s.interval_energy
        q = sa.select(t.c.ts_ms, t.c.source_id, t.c.quantity, t.c.value, t.c.coverage_pct, t.c.flag, t.c.method,
                      t.c.n_samples, t.c.interval_min).where(
            t.c.site_id == self.site_id, t.c.ts_ms >= to_ms(start), t.c.ts_ms < to_ms(end))
        if source_ids is not None:
            q = q.where(t.c.source_id.in_(list(source_ids)))
        if quantities is not None:
            q = q.where(t.c.quantity.in_(list(quantities)))
        with self.engine.connect() as conn:
            frame = pd.DataFrame(conn.execute(q.order_by(t.c.ts_ms, t.c.source_id, t.c.quantity)).all(),
                                 columns=["ts_ms", "source_id", "quantity", "value", "coverage_pct", "flag",
                                          "method", "n_samples", "interval_min"])
        frame.insert(0, "ts", pd.to_datetime(frame.pop("ts_ms").astype("int64"), unit="ms", utc=True))
        frame["value"] = frame["value"].astype(float)
        return frame

    def interval_energies(self, start: datetime, end: datetime, *, source_ids: Sequence[str] | None = None,
                          quantities: Sequence[str] | None = None) -> list[IntervalEnergy]:
        """Interval energies with start in ``[start, end)`` as typed rows."""
        frame = self.interval_frame(start, end, source_ids=source_ids, quantities=quantities)
        return [IntervalEnergy(ts=r.ts.to_pydatetime(), interval_min=int(r.interval_min), source_id=r.source_id,
                               quantity=r.quantity, value=None if pd.isna(r.value) else float(r.value),
                               coverage_pct=float(r.coverage_pct), flag=IntervalFlag(r.flag),
                               method=EnergyMethod(r.method), n_samples=int(r.n_samples))
                for r in frame.itertuples(index=False)]

    def month_peak_kw(self, meter_id: str, at: datetime | None = None) -> float | None:
        """Highest interval-average import of ``meter_id`` in the local calendar month of ``at`` up to ``at``
        (kW, from stored interval energies), or ``None`` when the month has none yet."""
        at = at or utcnow()
        local = pd.Timestamp(at).tz_convert(ZoneInfo(self.timezone))
        month_start = local.normalize().replace(day=1)
        t = s.interval_energy
        q = sa.select(t.c.value, t.c.interval_min).where(
            t.c.site_id == self.site_id, t.c.source_id == meter_id, t.c.quantity == "e_import_kwh",
            t.c.ts_ms >= to_ms(month_start), t.c.ts_ms < to_ms(at), t.c.value.is_not(None),
            t.c.flag != IntervalFlag.MISSING.value)
        with self.engine.connect() as conn:
            rows = conn.execute(q).all()
        if not rows:
            return None
        return max(r.value * 60.0 / r.interval_min for r in rows)

    # ---- roll-up ----------------------------------------------------------------------------------------
    def roll_up(self, now: datetime | None = None, *, grace: timedelta = timedelta(seconds=60)) -> RollUpResult:
        """Compute 1-minute aggregates and interval energies for every interval closed by ``now - grace``,
        recompute intervals that received late samples, and apply retention. Safe to call often."""
        now_ms = to_ms(now or utcnow())
        step = self.settings.interval_min * 60_000
        until = (now_ms - int(grace.total_seconds() * 1000)) // step * step
        result = RollUpResult()
        with self.engine.connect() as conn:
            rolled = self._state(conn, "rolled_ms")
            dirty = self._state(conn, "dirty_from_ms")
            oldest = conn.execute(sa.select(sa.func.min(s.telemetry.c.ts_ms)).where(
                s.telemetry.c.site_id == self.site_id)).scalar()
        if oldest is None:
            return result
        first_full = -(-int(oldest) // step) * step if rolled is not None else int(oldest) // step * step
        start = rolled if rolled is not None else first_full
        if dirty is not None:
            start = min(start, max(int(dirty) // step * step, first_full))
        lookback = int(max(self.settings.max_hold_s, self.settings.counter_max_gap_s) * 1000)
        chunk_start = start
        while chunk_start < until:
            chunk_end = min(until, chunk_start + CHUNK_MS)
            samples = self._raw_frame(chunk_start - lookback, chunk_end + lookback)
            if samples.empty:  # nothing to roll up here: skip to the next interval that has samples
                with self.engine.connect() as conn:
                    nxt = conn.execute(sa.select(sa.func.min(s.telemetry.c.ts_ms)).where(
                        s.telemetry.c.site_id == self.site_id, s.telemetry.c.ts_ms >= chunk_end)).scalar()
                if nxt is None or int(nxt) // step * step >= until:
                    chunk_end = until
                else:
                    chunk_end = max(chunk_end, int(nxt) // step * step)
                with self.engine.begin() as conn:
                    self._set_state(conn, "rolled_ms", max(chunk_end, rolled or chunk_end))
                chunk_start = chunk_end
                continue
            edges = np.arange(chunk_start, chunk_end + step, step, dtype=np.int64)
            minutes = minute_rows(samples, chunk_start, chunk_end)
            intervals = compute_interval_rows(samples, self.energy_sources, edges, self.settings)
            stamp = to_ms(utcnow())
            for row in intervals:
                row.update(site_id=self.site_id, updated_ms=stamp)
            for row in minutes:
                row["site_id"] = self.site_id
            with self.engine.begin() as conn:
                upsert(conn, s.telemetry_1min, minutes, ["site_id", "source_id", "quantity", "ts_ms"])
                upsert(conn, s.interval_energy, intervals, ["site_id", "source_id", "quantity", "ts_ms"])
                self._set_state(conn, "rolled_ms", max(chunk_end, rolled or chunk_end))
                if dirty is not None and chunk_end >= (rolled or 0) and self._state(conn, "dirty_from_ms") == dirty:
                    self._set_state(conn, "dirty_from_ms", None)
            result.intervals_written += len(intervals)
            result.minutes_written += len(minutes)
            chunk_start = chunk_end
        with self.engine.connect() as conn:
            rolled = self._state(conn, "rolled_ms")
        self._rolled_ms = rolled
        result.rolled_until = from_ms(rolled)
        self._apply_retention(now_ms, rolled, result)
        return result

    def _raw_frame(self, start_ms: int, end_ms: int) -> pd.DataFrame:
        t = s.telemetry
        q = sa.select(t.c.ts_ms, t.c.source_id, t.c.quantity, t.c.value, t.c.quality).where(
            t.c.site_id == self.site_id, t.c.ts_ms >= start_ms, t.c.ts_ms < end_ms)
        with self.engine.connect() as conn:
            rows = fetch_rows(conn, q)
        return pd.DataFrame(rows, columns=["ts_ms", "source_id", "quantity", "value", "quality"])

    def _apply_retention(self, now_ms: int, rolled_ms: int | None, result: RollUpResult) -> None:
        raw_cut = now_ms - int(self.retention.raw.total_seconds() * 1000)
        if rolled_ms is not None:
            raw_cut = min(raw_cut, rolled_ms)  # never delete samples not yet rolled up
        else:
            return
        minute_cut = now_ms - int(self.retention.minute.total_seconds() * 1000)
        with self.engine.begin() as conn:
            result.raw_deleted = conn.execute(s.telemetry.delete().where(
                s.telemetry.c.site_id == self.site_id, s.telemetry.c.ts_ms < raw_cut)).rowcount or 0
            result.minutes_deleted = conn.execute(s.telemetry_1min.delete().where(
                s.telemetry_1min.c.site_id == self.site_id, s.telemetry_1min.c.ts_ms < minute_cut)).rowcount or 0
