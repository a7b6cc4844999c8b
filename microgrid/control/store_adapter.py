"""The runtime's :class:`~microgrid.control.storeport.StorePort` over :mod:`microgrid.store`.

Writes go through :class:`microgrid.store.BufferedStore` (queued, written at :meth:`StoreAdapter.flush`
once per cycle, retried with back-off while the database fails; its outage alarm becomes a runtime event).
Interval energies are rolled up on the *site* clock (``roll_up(now)``), so accelerated and stepped runs get
their month-to-date peak too.

Mapping:

- telemetry rows → ``(ts, source_id, quantity, value, quality)`` samples;
- plans → schedule versions of the local day of their start (``kind`` day_ahead / intraday / fallback,
  ``source`` optimizer / baseline, ``note`` = the runtime's plan id, ``inputs`` = asset kinds, measured
  state and an inputs summary, ``kpis`` = the plan's KPIs);
- write outcomes → setpoint audit rows (``detail`` = why — ``setpoint``, ``sequence:…``, ``refresh``,
  ``heartbeat`` — and the requested park value);
- events → events (``category`` = kind); alarms → raised / cleared alarms.

Resume: the newest plan of each kind saved for yesterday, today and tomorrow that still covers now or later; the month-to-date peak from the
interval energies of the PCC meter; overrides and manual mode replayed from the operator events.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd

from microgrid.control.events import Event, Severity
from microgrid.control.fleet import WriteOutcome, pcc_meter_id
from microgrid.control.plan import PlanRecord
from microgrid.control.storeport import ResumeState
from microgrid.control.telemetry import TelemetryPoint
from microgrid.site.models import Site
from microgrid.store import BufferedStore, SetpointWrite, Store, WriteResult
from microgrid.store.buffered import AVAILABILITY_ERRORS
from optimizer import DispatchInputs, Schedule

_RESULT = {"ok": WriteResult.OK, "unchanged": WriteResult.SKIPPED, "refused": WriteResult.REFUSED,
           "rate_limited": WriteResult.REFUSED, "failed": WriteResult.FAILED,
           "readback_mismatch": WriteResult.READBACK_MISMATCH}
_SEVERITY = {Severity.INFO: "info", Severity.WARNING: "warning", Severity.ALARM: "critical"}


def inputs_summary(inputs: DispatchInputs | None) -> dict:
    """A compact, JSON-ready description of what a plan was made from."""
    if inputs is None:
        return {}
    step_h = inputs.step_h
    return {
        "name": inputs.name,
        "start": inputs.index[0].isoformat(),
        "n_steps": inputs.n_steps,
        "step_min": int(round(step_h * 60)),
        "pv_avail_kwh": {p.id: round(float(np.sum(p.p_avail_kw)) * step_h, 3) for p in inputs.pv},
        "load_kwh": {x.id: round(float(np.sum(x.p_kw)) * step_h, 3) for x in inputs.loads},
        "soc_initial_pct": {b.id: round(b.soc_initial_pct, 3) for b in inputs.batteries},
        "tank_initial_kwh": {h.id: round(h.tank_initial_kwh, 3) for h in inputs.heat_pumps},
        "month_peak_kw": round(inputs.tariff.month_peak_kw, 3),
        "import_limit_kw": inputs.grid.import_limit_kw,
        "export_limit_kw": inputs.grid.export_limit_kw,
    }


class StoreAdapter:
    """Implements :class:`~microgrid.control.storeport.StorePort` over a :class:`~microgrid.store.Store`."""

    def __init__(self, store: Store, site: Site, *, emit: Callable[[Event], object] | None = None,
                 now: Callable[[], datetime] | None = None, roll_up_every_s: float = 60.0,
                 buffered: BufferedStore | None = None) -> None:
        self.store = store
        self.site = site
        self.tz = ZoneInfo(site.timezone)
        self._emit = emit
        self._now = now
        self.buffer = buffered or BufferedStore(store, roll_up_every_s=None, on_alarm=self._on_alarm,
                                                on_recover=self._on_recover)
        self.roll_up_every_s = roll_up_every_s
        self._last_roll_up: datetime | None = None
        self.pcc_id = pcc_meter_id(site)

    def bind(self, emit: Callable[[Event], object], now: Callable[[], datetime]) -> None:
        """Connect to the runtime's event log and clock (called by the runtime)."""
        self._emit, self._now = emit, now

    def _on_alarm(self, alarm) -> None:
        if self._emit and self._now:
            self._emit(Event(self._now(), "store_failing", alarm.message, Severity.ALARM, "store"))

    def _on_recover(self, alarm) -> None:
        if self._emit and self._now:
            self._emit(Event(self._now(), "store_recovered", "store writable again; buffered records written",
                             Severity.INFO, "store"))

    # ---- writes --------------------------------------------------------------------------------------
    def add_telemetry(self, rows: list[TelemetryPoint]) -> None:
        self.buffer.add_telemetry((r.ts, r.source_id, r.quantity, r.value, r.quality) for r in rows)

    def save_plan(self, record: PlanRecord, inputs: object | None, state: dict) -> None:
        schedule = record.schedule
        day = record.start.tz_convert(self.tz).date()
        self.buffer.save_schedule(
            day, schedule.frame, kind=record.kind, source=schedule.source,
            inputs={"plan_id": record.plan_id, "assets": dict(schedule.assets), "state": state,
                    "reason": record.reason, "summary": inputs_summary(inputs)},  # type: ignore[arg-type]
            kpis=record.kpis, note=record.plan_id)

    def add_writes(self, ts: datetime, writes: list[WriteOutcome]) -> None:
        rows = []
        for w in writes:
            value = w.new if w.new is not None else w.requested
            if value is None:
                continue
            detail = w.reason + (f": requested {w.requested:g} kW" if w.requested is not None else "")
            if w.message:
                detail += f"; {w.message}"
            rows.append(SetpointWrite(ts=ts, device_id=w.device_id or w.asset_id, point=w.point or "setpoint",
                                      new_value=float(value), old_value=w.old, result=_RESULT.get(w.status,
                                      WriteResult.FAILED), asset_id=w.asset_id, detail=detail[:500],
                                      user=w.user))
        self.buffer.record_setpoint_writes(rows)

    def add_event(self, event: Event) -> None:
        data = dict(event.data)
        self.buffer.record_event(event.kind, event.message, reason=str(data.get("reason", "")),
                                 source_id=event.source[:64], user=str(data.get("user", "controller")),
                                 data={"severity": str(event.severity), **data}, ts=event.ts)

    def set_alarm(self, code: str, active: bool, message: str, source: str, ts: datetime) -> None:
        if active:
            self.buffer.raise_alarm(code, message, severity="critical", source_id=source[:64], ts=ts)
        else:
            self.buffer.clear_alarm(code, source[:64], ts=ts)

    def save_state(self, ts: datetime, state: dict) -> None:
        """Nothing to do: month peak, overrides and manual mode are rebuilt from energies and events."""

    def flush(self) -> None:
        self.buffer.flush()
        now = self._now() if self._now else None
        if now is None or not self.buffer.healthy:
            return
        if self._last_roll_up is None or (now - self._last_roll_up).total_seconds() >= self.roll_up_every_s:
            try:
                self.store.roll_up(now)
                self._last_roll_up = now
            except AVAILABILITY_ERRORS:
                pass  # the buffer notices at its next flush

    def close(self) -> None:
        """Write everything buffered and roll up every interval of the run, the last one included: the run is
        over, so no late sample can still arrive (no grace)."""
        self.buffer.flush(force=True)
        if self._now is not None:
            with contextlib.suppress(AVAILABILITY_ERRORS):
                self.store.roll_up(self._now(), grace=timedelta(0))

    # ---- resume --------------------------------------------------------------------------------------
    def _record(self, rec) -> PlanRecord | None:
        inputs = rec.inputs or {}
        assets = inputs.get("assets")
        if not assets:
            return None
        frame = rec.frame_df(self.site.timezone)
        schedule = Schedule(frame=frame, assets=dict(assets), source=rec.source)
        return PlanRecord(plan_id=inputs.get("plan_id") or rec.note or f"stored-{rec.id}", kind=str(rec.kind.value),
                          created_at=rec.created_at, schedule=schedule,
                          status=str(rec.kpis.get("solver", {}).get("status", "stored")) if rec.kpis else "stored",
                          kpis=dict(rec.kpis), reason=str(inputs.get("reason", "")))

    def resume(self, now: datetime) -> ResumeState:
        today = pd.Timestamp(now).tz_convert(self.tz).date()
        plans = []
        for day in (today - timedelta(days=1), today, today + timedelta(days=1)):
            newest: dict[str, object] = {}  # the newest version of each kind still covering now or later
            for summary in self.store.schedule_versions(day):
                if summary.horizon_end > now:
                    newest[summary.kind.value] = summary
            for summary in newest.values():
                record = self._record(self.store.schedule(summary.id))  # type: ignore[attr-defined]
                if record is not None:
                    plans.append(record)
        plans.sort(key=lambda r: r.created_at)
        peak = self.store.month_peak_kw(self.pcc_id, now) or 0.0
        state = self._replay_operator_events(now)
        state["month_peak_kw"] = peak
        latest = self.store.latest_telemetry(self.pcc_id)
        last_ts = max((s.ts for s in latest.values()), default=None)
        return ResumeState(plans=plans, month_peak_kw=peak, last_setpoints={}, controller_state=state,
                           last_telemetry=last_ts)

    def _replay_operator_events(self, now: datetime) -> dict:
        overrides: dict[str, dict] = {}
        manual, manual_reason = False, ""
        start = now - timedelta(days=7)
        cursor = None
        while True:
            page = self.store.events(start=start, end=now + timedelta(seconds=1), limit=1000, cursor=cursor)
            for e in page.items:
                if e.category == "override_set":
                    overrides[e.data["asset_id"]] = e.data
                elif e.category in ("override_cleared", "override_expired"):
                    overrides.pop(e.data.get("asset_id", ""), None)
                elif e.category == "manual_set":
                    manual, manual_reason = bool(e.data.get("active")), str(e.data.get("reason", ""))
            if not page.next_cursor:
                break
            cursor = page.next_cursor
        live = [o for o in overrides.values() if datetime.fromisoformat(o["expires_at"]) > now]
        return {"overrides": live, "manual": manual, "manual_reason": manual_reason}
