"""An in-process controller for API tests: real plans and measurements in a real store, a hand-moved clock.

:class:`InProcessControl` implements :class:`api.ports.ControlPort` without devices: the plan in force (read
from the store) gives each asset's setpoint and "measured" power, overrides replace it until they expire on
the test's clock, and a re-plan solves the site with the optimizer in a worker thread and stores the new
version (kind ``intraday``), as the runtime does. :func:`seed_store` fills a store with a day-ahead plan
from the optimizer and the measurements that follow it (telemetry rolled up into interval energies by the
store itself), an alarm, events and setpoint writes.
"""

from __future__ import annotations

import asyncio
import itertools
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd

from api.ports import AssetLive, DeviceLive, LiveSnapshot, MeterLive, ReplanTicket
from api.site_view import site_assets
from microgrid.control.overrides import Override, OverrideBook
from microgrid.planning.plan import plan_day
from microgrid.site import Site
from microgrid.store import SetpointWrite, Store, WriteResult


class ManualClock:
    """Site time that moves only when the test says so."""

    def __init__(self, start: datetime) -> None:
        self.t = start

    def now(self) -> datetime:
        return self.t

    def advance(self, **delta: float) -> None:
        self.t += timedelta(**delta)


def _row_at(frame: pd.DataFrame, now: datetime) -> pd.Series | None:
    pos = int(frame.index.searchsorted(pd.Timestamp(now), side="right")) - 1
    return frame.iloc[pos] if 0 <= pos < len(frame) else None


class InProcessControl:
    """:class:`api.ports.ControlPort` for tests (see module docstring)."""

    def __init__(self, site: Site, store: Store, clock: ManualClock) -> None:
        self.site = site
        self.store = store
        self.clock = clock
        self.book = OverrideBook()
        self.mode = "normal"
        self.replans: list[str] = []
        self._ids = itertools.count(1)
        self._task: asyncio.Task | None = None

    def now(self) -> datetime:
        return self.clock.now()

    def _plan(self) -> tuple[pd.Series | None, int | None]:
        now = self.clock.now()
        record = self.store.current_schedule(now.astimezone(ZoneInfo(self.site.timezone)).date())
        if record is None:
            return None, None
        return _row_at(record.frame_df(self.site.timezone), now), record.id

    def snapshot(self) -> LiveSnapshot:
        now = self.clock.now()
        row, plan_id = self._plan()
        self.book.expire(now)
        overrides = self.book.values_kw(now)
        assets = []
        for info in site_assets(self.site):
            planned = float(row[info.power_column]) if row is not None and info.power_column in row else None
            value = overrides.get(info.id, planned)
            soc = float(row[f"{info.id}_soc_pct"]) if row is not None and info.kind == "battery" else None
            devices = [DeviceLive(device_id=d.id, role=d.role, health="online", last_seen=now)
                       for d in self.site.devices_serving(info.id)]
            assets.append(AssetLive(asset_id=info.id, p_kw=value, planned_kw=planned, setpoint_kw=value, soc_pct=soc,
                                    health="online" if devices else "unknown", last_seen=now, devices=devices))
        injections = sum((-a.p_kw if info.consumer else a.p_kw) for a, info in zip(assets, site_assets(self.site),
                                                                                    strict=True) if a.p_kw is not None)
        base = sum(float(row[f"{t.id}_load_kw"]) for t in self.site.tenants) if row is not None else 0.0
        pcc = base - injections
        meters = [MeterLive(meter_id=m.id, p_kw=pcc if m.scope == "pcc" else None, health="online", last_seen=now)
                  for m in self.site.meters]
        return LiveSnapshot(at=now, mode=self.mode, pcc_p_kw=round(pcc, 3), meters=meters, assets=assets,
                            cycle_time_ms=12.5, cycle_time_p99_ms=30.0, solver_time_s=0.4,
                            plan_version=str(plan_id) if plan_id else None,
                            replan_pending=self._task is not None and not self._task.done())

    def overrides(self) -> list[Override]:
        self.book.expire(self.clock.now())  # as the runtime does at every cycle
        return list(self.book.active(self.clock.now()).values())

    async def set_override(self, override: Override) -> Override:
        if override.expires_at <= self.clock.now():
            raise ValueError("expiry is in the past")
        self.book.set(override)
        return override

    async def clear_override(self, asset_id: str, user: str) -> Override | None:
        current = self.book.active(self.clock.now()).get(asset_id)
        if current is None:
            return None
        self.book.clear(asset_id)
        return current

    async def request_replan(self, user: str, reason: str) -> ReplanTicket:
        request_id = f"replan-{next(self._ids)}"
        now = self.clock.now()
        if self._task is not None and not self._task.done():
            return ReplanTicket(accepted=False, request_id=request_id, requested_at=now,
                                message="a re-plan is already running")
        day = now.astimezone(ZoneInfo(self.site.timezone)).date()

        def solve() -> None:
            plan = plan_day(self.site, day)
            self.store.save_schedule(day, plan.result.schedule.frame, kind="intraday", kpis=plan.kpis(),
                                     created_by=user, note=reason, created_at=now)
            self.replans.append(request_id)

        self._task = asyncio.get_running_loop().create_task(asyncio.to_thread(solve))
        return ReplanTicket(accepted=True, request_id=request_id, requested_at=now, message="re-plan started")


def seed_store(site: Site, store: Store, day: date, now: datetime, sample_s: int = 60) -> dict:
    """A day-ahead plan for ``day`` and measurements following it from midnight to ``now`` (see module doc)."""
    tz = ZoneInfo(site.timezone)
    plan = plan_day(site, day)
    frame = plan.result.schedule.frame
    created = datetime.combine(day - timedelta(days=1), datetime.min.time(), tz).replace(hour=15)
    summary = store.save_schedule(day, frame, kind="day_ahead", kpis=plan.kpis(), created_at=created)
    start = frame.index[0]
    times = pd.date_range(start, pd.Timestamp(now), freq=f"{sample_s}s", inclusive="left")
    rows: list[tuple] = []
    rng = np.random.default_rng(7)
    pcc = next(m.id for m in site.meters if m.scope == "pcc")
    for ts in times:
        r = _row_at(frame, ts)
        noise = float(rng.normal(0, 2.0))
        rows.append((ts.to_pydatetime(), pcc, "p_kw", float(r["grid_kw"]) + noise))
        for p in site.assets.pv:
            rows.append((ts.to_pydatetime(), p.id, "p_kw", max(float(r[f"{p.id}_kw"]) - noise, 0.0)))
        for b in site.assets.batteries:
            rows.append((ts.to_pydatetime(), b.id, "p_kw", float(r[f"{b.id}_kw"])))
            rows.append((ts.to_pydatetime(), b.id, "soc_pct", float(r[f"{b.id}_soc_pct"])))
        for h in site.assets.heat_pumps:
            rows.append((ts.to_pydatetime(), h.id, "p_el_kw", float(r[f"{h.id}_p_el_kw"])))
            rows.append((ts.to_pydatetime(), h.id, "tank_temp_c", h.tank_temp_min_c + 5.0))
    store.write_telemetry(rows)
    store.roll_up(now + timedelta(minutes=2))
    alarm = store.raise_alarm("meter_stale", "PCC meter reading 7 s old (limit 5 s)", severity="warning",
                              source_id=pcc, ts=now - timedelta(hours=2))
    store.raise_alarm("device_offline", "pv_roof inverter not answering", severity="critical",
                      source_id=site.assets.pv[0].id, ts=now - timedelta(hours=1))
    cleared = store.raise_alarm("limit", "export limit approached", source_id="rt", ts=now - timedelta(hours=5))
    store.clear_alarm("limit", "rt", ts=now - timedelta(hours=4))
    for k in range(30):
        store.record_event("mode_change" if k % 10 == 0 else "plan", f"event {k}", source_id="planner",
                           ts=now - timedelta(minutes=10 * (30 - k)))
    device = site.devices_serving(site.assets.batteries[0].id)[0].id
    store.record_setpoint_writes([
        SetpointWrite(ts=now - timedelta(minutes=k), device_id=device, point="p_set_kw", new_value=float(-50 - k),
                      result=WriteResult.OK, asset_id=site.assets.batteries[0].id)
        for k in range(15)])
    return {"schedule_id": summary.id, "alarm_id": alarm.id, "cleared_alarm_id": cleared.id,
            "samples": len(times), "plan": plan}
