"""The controller runtime: real-time loop, planning jobs, safety, store, resume — one clock for all.

One :class:`Runtime` joins the pieces below it (DESIGN.md §2, layer 4):

- **real-time cycle** (:meth:`Runtime.cycle`, every ``cycle_s``): poll the fleet → PCC freshness and mode →
  plan interval in force → pure controllers (:func:`~microgrid.control.controllers.balance` or
  :func:`~microgrid.control.controllers.safe_state`, consumers via
  :func:`~microgrid.control.controllers.load_setpoints`) → write changed setpoints through the drivers'
  safe writes (audited) → keep-alives → accounting, telemetry (downsampled) and events to the store;
- **planning jobs** on a :class:`~microgrid.control.jobs.JobRunner`: the day-ahead plan for the next local
  day at ``control.day_ahead_at`` and the intraday re-plan every ``control.intraday_every_min`` from the
  measured state; an optimizer failure or time-out yields the rule-based fallback plan;
- **resume** (:meth:`Runtime.start`): plans covering now, the month-to-date peak, the last setpoints and
  the saved runtime state (overrides, manual mode) come from the store; setpoints go to the drivers'
  write-on-change, which compares with what each device holds, so nothing in force is sent again.

Time comes only from the injected :class:`~microgrid.clock.Clock`. With a clock that has ``run_for``
(:class:`~microgrid.clock.SteppedClock`) the loop advances simulated time itself, one cycle at a time, and
runs due jobs to completion between cycles (deterministic); otherwise it sleeps on the clock and jobs run
beside it (APScheduler in real time, the clock-driven runner in accelerated time). The runtime never
imports the simulator.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Literal
from zoneinfo import ZoneInfo

import pandas as pd

from microgrid.clock import Clock
from microgrid.control.cap_reserve import CapReserve
from microgrid.control.controllers import (
    ControlInputs,
    GridLimits,
    Setpoints,
    balance,
    load_setpoints,
    pcc_band_kw,
    safe_state,
)
from microgrid.control.events import Event, EventLog, Severity
from microgrid.control.fleet import (
    FleetPort,
    FleetReadings,
    WriteOutcome,
    held_setpoints,
    load_units,
    pcc_meter_id,
    pv_units,
    storage_units,
    telemetry_samples,
    without,
)
from microgrid.control.following import StorageFollowing
from microgrid.control.gridcaps import GridCaps
from microgrid.control.jobs import APSchedulerRunner, ClockJobRunner, DailyAt, Every, JobRunner
from microgrid.control.limits import ConsumerControl
from microgrid.control.modes import Condition, Mode, ModeMachine
from microgrid.control.options import CYCLE_HISTORY, CycleReport, RuntimeOptions
from microgrid.control.overrides import Override, OverrideBook
from microgrid.control.plan import IntervalPlan, PlanBook
from microgrid.control.planner import PlanningService
from microgrid.control.state import measured_state
from microgrid.control.storeport import ResilientStore, StorePort
from microgrid.control.telemetry import GOOD, Downsampler
from microgrid.control.tracking import RunTracker
from microgrid.control.trust import TrustLayer
from microgrid.control.write_alarms import WriteAlarms, audited
from microgrid.control.write_alarms import failed as write_failed
from microgrid.site.models import Site
from optimizer import MeasuredState

MAX_FAILED_CYCLES = 30


def cycle_beyond_revert_timers(site: Site, cycle_s: float) -> list[str]:
    """Devices (``id (N s)``) whose map has a revert timer / heartbeat timeout shorter than two cycles: the
    keep-alives go once per cycle, so such a device may revert between two of them."""
    from drivers.registermap import load_map

    out = []
    for d in site.devices:
        timers = [p.revert_s for p in load_map(d.map, d.map_options).points if p.revert_s]
        if timers and 2 * cycle_s > min(timers):
            out.append(f"{d.id} ({min(timers):g} s)")
    return out
"""Consecutive failed cycles after which :meth:`Runtime.run` gives up (and the device fallbacks take over)."""


class Runtime:
    """The controller runtime (see the module docstring)."""

    def __init__(self, site: Site, fleet: FleetPort, store: StorePort, clock: Clock, *,
                 options: RuntimeOptions | None = None, planner: PlanningService | None = None,
                 user: str = "controller") -> None:
        self.site = site
        self.fleet = fleet
        self.clock = clock
        self.options = options or RuntimeOptions.from_site(site)
        self.user = user
        self.tz = ZoneInfo(site.timezone)
        self.stepped = hasattr(clock, "run_for")
        inline = self.options.planning_inline if self.options.planning_inline is not None else self.stepped
        self.planner = planner or PlanningService(site, horizon_h=self.options.horizon_h, inline=inline)
        self.events = EventLog()
        if hasattr(store, "bind"):
            store.bind(self.events.emit, clock.now)
        self.store = ResilientStore(store, self.events.emit, clock.now)
        self.events.subscribe(self.store.add_event)
        self.modes = ModeMachine(self.events.emit, recover_cycles=self.options.recover_cycles)
        self.overrides = OverrideBook()
        self.plans = PlanBook()
        self.pcc_id = pcc_meter_id(site)
        self.trust = TrustLayer(site, self.events.emit, self.store.set_alarm)
        self.accounting = RunTracker(site, site.site.resolution_min, pcc_floor_kw=-site.grid.export_limit_kw
                                     + self.options.controller.export_margin_kw)
        self.telemetry = Downsampler(self.options.telemetry_every_s)
        self.jobs: JobRunner = self._make_jobs()
        self.readings = FleetReadings()
        self.last: CycleReport | None = None
        self.cycles = 0
        self.overruns = 0
        self.writes_sent = 0
        self.failed_cycles = 0
        self._commanded: dict[str, float] = {}
        self._last_mono: float | None = None
        self._online: dict[str, bool] = {}
        self._notes: set[str] = set()
        self._soc_fix: dict[str, float] = {}
        self._stop = asyncio.Event()
        self._started = False
        self.cycle_wall_s: list[float] = []
        self.timings: dict[str, float] = {}
        """Wall seconds spent per phase of the cycle (read, control, write, account_store), summed."""
        self._last_flush: datetime | None = None
        self.consumers = ConsumerControl(site, cycle_s=self.options.cycle_s)
        self.following = StorageFollowing()
        self.cap_reserve = CapReserve(site)
        self.gridcaps = GridCaps(site, self.emit)
        """Import caps set by the grid (DR events, commanded PCC limit): an extra input to the import cap."""
        self._caps_version = 0
        self.planner.extra_limits = self.gridcaps.plan_rows
        self.cycle_observers: list[Callable[[CycleReport], Awaitable[None]]] = []
        """Awaited after every cycle (northbound servers publishing the new values); failures are events."""
        self.write_alarms = WriteAlarms(
            self.store.set_alarm,
            lambda kind, text, source, data: self.emit(kind, text, Severity.ALARM, source, **data))

    # ---- set-up --------------------------------------------------------------------------------------
    def _make_jobs(self) -> JobRunner:
        mode = self.options.jobs
        if mode == "auto":
            if self.stepped:
                mode = "polled"
            elif getattr(self.clock, "speed", None) == 1.0:
                mode = "apscheduler"
            else:
                mode = "clock"
        self._polled = mode == "polled"
        runner: JobRunner
        if mode == "apscheduler":
            runner = APSchedulerRunner(self.clock, self.events.emit, self.tz)
        else:
            runner = ClockJobRunner(self.clock, self.events.emit)
        grace = self.options.misfire_grace_s
        runner.add_job("day_ahead", self._job_day_ahead, DailyAt(self.options.day_ahead_at, self.tz), grace)
        runner.add_job("intraday", self._job_intraday, Every(self.options.intraday_every_min * 60, self.tz), grace)
        return runner

    def emit(self, kind: str, message: str, severity: Severity = Severity.INFO, source: str = "control",
             **data: object) -> Event:
        return self.events.emit(Event(self.clock.now(), kind, message, severity, source, data))

    async def start(self) -> None:
        """Resume from the store, make a first plan if none covers now, start the job runner."""
        if self._started:
            return
        self._started = True
        now = self.clock.now()
        resume = self.store.resume(now)
        for record in resume.plans:
            self.plans.add(record)
        self.accounting.month_peak_kw = max(resume.month_peak_kw, 0.0)
        self.accounting.peak_at_start_kw = self.accounting.month_peak_kw
        self._commanded.update(resume.last_setpoints)
        self._restore_state(resume.controller_state, now)
        self._caps_version = self.gridcaps.version
        resumed = bool(resume.plans or resume.month_peak_kw or resume.controller_state.get("overrides")
                       or resume.controller_state.get("manual"))
        self.emit("runtime_started", f"controller started{' (resumed from the store)' if resumed else ''}",
                  plans=len(resume.plans), month_peak_kw=round(self.accounting.month_peak_kw, 3))
        if self.options.plan_on_start and self.plans.at(now) is None:
            await self._job_intraday(now)
        if not self._polled:
            self.jobs.start()

    def check_cycle(self) -> list[str]:
        """Warn (event ``cycle_too_slow``) when the cycle is longer than half a device's revert timer; returns
        the devices named. Reads the register maps, so the CLI calls it once before starting."""
        slow = cycle_beyond_revert_timers(self.site, self.options.cycle_s)
        if slow:
            self.emit("cycle_too_slow", f"control cycle {self.options.cycle_s:g} s is longer than half the revert "
                      f"timer of {', '.join(slow)}: those devices may drop to their own safe state between cycles "
                      "(a unit that then does not follow is not counted on)", Severity.WARNING, "rt")
        return slow

    def _restore_state(self, state: dict, now: datetime) -> None:
        for item in state.get("overrides", []):
            expires = datetime.fromisoformat(item["expires_at"])
            if expires > now:
                self.overrides.set(Override(item["asset_id"], float(item["value_kw"]), expires,
                                            item.get("reason", ""), item.get("user", "operator")))
        self.gridcaps.restore(state.get("gridside", {}), now)
        if state.get("manual"):
            self.modes.set(Condition.MANUAL, True, f"resumed: {state.get('manual_reason', 'manual mode')}", now)

    def _save_state(self) -> None:
        state = {"month_peak_kw": self.accounting.month_peak_kw,
                 "overrides": [o.to_dict() for o in self.overrides.active(self.clock.now()).values()],
                 "manual": Condition.MANUAL in self.modes.conditions,
                 "manual_reason": self.modes.conditions.get(Condition.MANUAL, ""),
                 "gridside": self.gridcaps.state()}
        self.store.save_state(self.clock.now(), state)

    # ---- planning jobs -----------------------------------------------------------------------------
    def interval_start(self, t: datetime) -> datetime:
        return self.accounting.interval_start(t)

    def measured_state(self) -> MeasuredState:
        state = measured_state(self.site, self.readings, self.clock.now(), self.accounting.month_peak_kw)
        state.soc_pct.update(self._soc_fix)
        return state

    async def _job_intraday(self, _scheduled: datetime) -> str:
        t0 = time.perf_counter()
        now = self.clock.now()
        outcome = await self.planner.intraday(self.interval_start(now), now, self.measured_state())
        self.timings["plan"] = self.timings.get("plan", 0.0) + time.perf_counter() - t0
        return self._accept(outcome)

    async def _job_day_ahead(self, _scheduled: datetime) -> str:
        t0 = time.perf_counter()
        now = self.clock.now()
        day = now.astimezone(self.tz).date() + timedelta(days=1)
        outcome = await self.planner.day_ahead(day, now, self.accounting.month_peak_kw)
        self.timings["plan"] = self.timings.get("plan", 0.0) + time.perf_counter() - t0
        return self._accept(outcome)

    def _accept(self, outcome) -> str:
        record = outcome.record
        if record is None:
            self.emit("plan_failed", outcome.message, Severity.ALARM, "planner")
            return outcome.message
        self.plans.add(record)
        self.plans.prune(self.clock.now())
        self.store.save_plan(record, outcome.inputs, outcome.state)
        kind = "plan_accepted" if outcome.ok else "plan_fallback"
        severity = Severity.INFO if outcome.ok else Severity.WARNING
        self.emit(kind, f"{record.plan_id}: {outcome.message}", severity, "planner", plan_id=record.plan_id,
                  plan_kind=record.kind, status=record.status, wall_s=round(outcome.wall_s, 3))
        self.store.flush()
        return record.plan_id

    def request_replan(self, kind: Literal["intraday", "day_ahead"] = "intraday") -> bool:
        """Start a re-plan now (API); ``False`` (and a ``job_skipped`` event) if one is running."""
        return self.jobs.run_now(kind)

    # ---- operator actions ------------------------------------------------------------------------
    def set_override(self, asset_id: str, value_kw: float, *, duration_s: float | None = None,
                     until: datetime | None = None, user: str = "operator", reason: str = "") -> Override:
        """Hold ``asset_id`` at ``value_kw`` (meaning per :mod:`microgrid.control.overrides`) until expiry."""
        if asset_id not in self.site.all_asset_ids():
            raise KeyError(f"unknown asset '{asset_id}' (known: {', '.join(self.site.all_asset_ids())})")
        now = self.clock.now()
        expires = until or now + timedelta(seconds=duration_s if duration_s is not None else 3600)
        override = Override(asset_id, float(value_kw), expires, reason, user, now)
        self.overrides.set(override)
        self.emit("override_set", f"{asset_id} held at {value_kw:g} kW by {user} until {expires.isoformat()}"
                  f"{': ' + reason if reason else ''}", Severity.WARNING, "operator", **override.to_dict())
        self._save_state()
        return override

    def clear_override(self, asset_id: str, user: str = "operator") -> bool:
        gone = self.overrides.clear(asset_id, user)
        if gone is not None:
            self.emit("override_cleared", f"{asset_id} released by {user}", Severity.INFO, "operator",
                      asset_id=asset_id, user=user)
            self._save_state()
        return gone is not None

    def set_manual(self, active: bool, user: str = "operator", reason: str = "") -> Mode:
        """Site-wide manual mode on/off (automatic dispatch suspended; limits still protected)."""
        text = f"{user}: {reason or ('manual mode' if active else 'automatic mode')}"
        self.emit("manual_set", f"manual mode {'on' if active else 'off'} ({text})", Severity.WARNING, "operator",
                  active=active, reason=text, user=user)
        mode = self.modes.set(Condition.MANUAL, active, text, self.clock.now())
        self._save_state()
        return mode

    @property
    def mode(self) -> Mode:
        return self.modes.mode

    # ---- real-time cycle ---------------------------------------------------------------------------
    def _track_devices(self, readings: FleetReadings, now: datetime) -> None:
        groups = (readings.meters, readings.pv, readings.storage, readings.heat_pumps, readings.flex)
        for group in groups:
            for asset_id, r in group.items():
                online = r.valid
                before = self._online.get(asset_id)
                self._online[asset_id] = online
                if before == online or (before is None and online):
                    continue  # no change (a device seen online at start-up is no news)
                if online:
                    self.emit("device_online", f"{asset_id} back online", Severity.INFO, asset_id)
                    self.store.set_alarm("device_offline", False, f"{asset_id} online", asset_id, now)
                else:  # went offline, or is offline from the start
                    why = f"{r.health}" + (f": {'; '.join(r.problems)}" if r.problems else "")
                    self.emit("device_offline", f"{asset_id} offline ({why}); its share moves to the others",
                              Severity.ALARM, asset_id)
                    self.store.set_alarm("device_offline", True, f"{asset_id} offline ({why})", asset_id, now)

    async def _trust_devices(self, readings: FleetReadings, now: datetime, dt_s: float) -> None:
        """Latched device states (out of the plan, re-plan, automatic reset) and SoC cross-checks."""
        changes = self.trust.devices(readings, now)
        self.planner.out_of_service = self.trust.out_of_service
        if changes.replan:
            self.request_replan("intraday")
        reset = getattr(self.fleet, "reset", None)
        for latch in changes.resets_due:
            if reset is None:
                break
            try:
                writes = await reset(latch.asset_id)
            except Exception as exc:  # noqa: BLE001 - a failed reset is an event; the asset stays out
                writes = [WriteOutcome(latch.asset_id, "", "reset", None, None, None, "failed", str(exc), "auto_reset")]
            self.store.add_writes(now, [w for w in writes if w.status != "unchanged"])
            ok = bool(writes) and all(w.status == "ok" for w in writes)
            self.emit("auto_reset", f"{latch.asset_id}: automatic reset attempt {latch.attempts} "
                      f"({'sent' if ok else 'failed'}) after {latch.code}", Severity.WARNING, latch.asset_id,
                      code=latch.code, attempt=latch.attempts, ok=ok)
        self._soc_fix = self.trust.soc(readings, now, 0.0 if self.cycles == 0 else dt_s)

    def _plan_condition(self, interval: IntervalPlan | None, now: datetime) -> None:
        if interval is None:
            self.modes.set(Condition.NO_PLAN, True, "no plan covers now", now)
        elif interval.source != "optimizer":
            record = self.plans.at(now)
            self.modes.set(Condition.NO_PLAN, True, f"fallback plan {interval.plan_id}: "
                           f"{record.reason if record else ''}", now)
        else:
            self.modes.set(Condition.NO_PLAN, False, f"plan {interval.plan_id} in force", now)

    async def _apply(self, sp: Setpoints, loads: dict[str, float], readings: FleetReadings) -> list[WriteOutcome]:
        """Hand every setpoint to the drivers (they send only what differs from what the device holds).

        A value within ``deadband_kw`` of the held one is snapped to it, so control jitter sends nothing.
        PV limits that go down are sent first (export protection), then storage, then the rest.
        """
        held = held_setpoints(self.site, readings)

        def snap(asset_id: str, value: float) -> float:
            h = held.get(asset_id)
            return h if h is not None and abs(value - h) <= self.options.deadband_kw else value

        hp_ids = {h.id for h in self.site.assets.heat_pumps}
        calls = []
        pv_items = sorted(sp.pv_limit_kw.items(), key=lambda kv: kv[1] - (held.get(kv[0]) or kv[1]))
        for asset_id, value in pv_items:
            calls.append((asset_id, snap(asset_id, value), self.fleet.set_pv_limit))
        for asset_id, value in sp.storage_kw.items():
            calls.append((asset_id, snap(asset_id, value), self.fleet.set_storage))
        for asset_id, value in loads.items():
            call = self.fleet.set_heat_pump if asset_id in hp_ids else self.fleet.set_flex
            calls.append((asset_id, snap(asset_id, value), call))
        writes: list[WriteOutcome] = []
        for asset_id, value, call in calls:
            try:
                results = await call(asset_id, value)
            except Exception as exc:  # noqa: BLE001 - a failed write is audited, the cycle goes on
                results = [WriteOutcome(asset_id, "", "", value, None, None, "failed", f"{type(exc).__name__}: {exc}")]
            writes.extend(results)
            if not write_failed(results):
                self._commanded[asset_id] = value
        self.write_alarms.update(writes, self.clock.now())
        self.writes_sent += len(audited(writes))
        return writes

    def _flush_due(self, now: datetime) -> bool:
        """Flush at least once per telemetry window even when nothing closed (audit rows, events)."""
        if self._last_flush is None or (now - self._last_flush).total_seconds() >= self.options.telemetry_every_s:
            self._last_flush = now
            return True
        return False

    def _storage_peak_target(self, peak_target: float | None, interval: IntervalPlan | None, now: datetime,
                             dt_s: float, pcc_kw: float | None, storage, import_cap_kw: float) -> float | None:
        """The demand target the storage chases: ``peak_target`` while the batteries hold enough energy for the
        import cap over the rest of the planned stretch, else none (the cap only); see :mod:`cap_reserve`.
        ``pcc_kw`` is ``None`` outside normal mode: a PCC reading the trust layer doubts (noise, a frozen or
        lost meter) must not pass for a load running above its plan."""
        planned_net = None if interval is None else interval.grid_kw + sum(interval.storage_kw.values())
        self.cap_reserve.observe(now, dt_s, pcc_kw, storage, planned_net)
        if peak_target is None:
            return None
        pcc_max = import_cap_kw - self.options.controller.import_margin_kw
        changed = self.cap_reserve.update(self.plans.at(now), now, pcc_max, storage)
        r = self.cap_reserve
        if changed is False:
            self.emit("storage_reserved_for_cap",
                      f"storage kept for the import cap ({import_cap_kw:.0f} kW): {r.last_usable_kwh:.0f} kWh left, "
                      f"{r.last_need_kwh:.0f} kWh needed until the next planned charge (load at {r.last_k:.2f}× "
                      f"the plan); the demand target {peak_target:.0f} kW is held by the loads only",
                      Severity.WARNING, "rt", usable_kwh=round(r.last_usable_kwh, 1),
                      need_kwh=round(r.last_need_kwh, 1), load_factor=round(r.last_k, 3))
        elif changed is True:
            self.emit("storage_reserve_restored",
                      f"storage energy for the import cap restored ({r.last_usable_kwh:.0f} kWh for "
                      f"{r.last_need_kwh:.0f} kWh): the storage holds the demand target {peak_target:.0f} kW again",
                      Severity.INFO, "rt")
        return peak_target if r.soft_allowed else None

    def _grid_caps_changed(self, now: datetime) -> None:
        """A DR event or commanded limit came or went: save it and re-plan with it as a hard cap."""
        self.gridcaps.expire(now)
        if self.gridcaps.version != self._caps_version:
            self._caps_version = self.gridcaps.version
            self._save_state()
            if self._started:
                self.request_replan("intraday")

    def _notes_to_events(self, notes: tuple[str, ...], now: datetime) -> None:
        current = {n.split(":")[0] for n in notes}
        for key in current - self._notes:
            text = next(n for n in notes if n.startswith(key))
            self.emit("limit_alarm", text, Severity.ALARM, "rt")
            self.store.set_alarm("limit", True, text, "rt", now)
        for key in self._notes - current:
            self.emit("limit_cleared", f"cleared: {key}", Severity.INFO, "rt")
            self.store.set_alarm("limit", False, f"cleared: {key}", "rt", now)
        self._notes = current

    async def cycle(self) -> CycleReport:
        """One real-time cycle (see the module docstring). Never raises for device or store trouble."""
        wall0 = time.perf_counter()
        now = self.clock.now()
        mono = self.clock.monotonic()
        first = self._last_mono is None
        dt_s = self.options.cycle_s if first else max(mono - self._last_mono, 0.0)
        self._last_mono = mono
        try:
            readings = await self.fleet.poll()
        except Exception as exc:  # noqa: BLE001 - no readings at all: the PCC is lost, safe state follows
            self.emit("read_failed", f"reading the devices failed: {type(exc).__name__}: {exc}", Severity.ALARM, "rt")
            readings = FleetReadings()
        t_read = time.perf_counter()
        self.readings = readings
        self._track_devices(readings, now)
        verdict = self.trust.pcc(readings, now, self.options.meter_stale_s)
        pcc_kw = verdict.p_kw
        mode = self.modes.pcc_reading(pcc_kw is not None, verdict.reason, now)
        self.modes.set(Condition.PCC_DEGRADED, pcc_kw is not None and verdict.alarm is not None, verdict.reason, now)
        await self._trust_devices(readings, now, dt_s)
        control = without(readings, self.trust.out_of_service)
        for gone in self.overrides.expire(now):
            self.emit("override_expired", f"override of {gone.asset_id} expired", Severity.INFO, "operator",
                      asset_id=gone.asset_id)
            self._save_state()
        interval = self.plans.interval(now)
        self._plan_condition(interval, now)
        mode = self.modes.mode
        overrides = self.overrides.values_kw(now)
        automatic = mode in (Mode.NORMAL, Mode.FALLBACK, Mode.DEGRADED)
        plan_storage = interval.storage_kw if (interval and automatic) else {}
        peak_target = None
        if interval is not None and automatic:
            peak_target = max(self.accounting.month_peak_kw, interval.plan_peak_kw)
        grid = self.site.grid
        self._grid_caps_changed(now)
        import_cap = self.gridcaps.import_cap_kw(now, grid.import_cap_kw)
        pv = pv_units(self.site, control.pv, self._commanded)
        storage = storage_units(self.site, control.storage, self._commanded, horizon_s=self.options.cycle_s)
        storage_peak = self._storage_peak_target(peak_target, interval, now, dt_s,
                                                 pcc_kw if mode == Mode.NORMAL else None, storage, import_cap)
        limits = GridLimits(grid.export_limit_kw, import_cap, storage_peak)
        storage, stalled = self.following.check(storage, dt_s, now)
        for sid in stalled:
            self.emit("storage_not_following", f"{sid} does not follow its setpoint: not counted on "
                      "(tried again with back-off)", Severity.ALARM, "rt", asset_id=sid)
        if self.following.blocked():  # its power is in the PCC as measured; the others make up for it
            plan_storage = {k: v for k, v in plan_storage.items() if k not in self.following.blocked()}
        units = load_units(self.site, control.heat_pumps, control.flex)
        plan_loads = interval.loads_kw if (interval and automatic) else {}
        loads = load_setpoints(units, plan_loads, overrides)
        consumers, load_delta = self.consumers.prepare(loads, control.heat_pumps, control.flex, now)
        # storage and PV are set for the PCC the consumers' new setpoints will cause
        pcc_next = None if pcc_kw is None else pcc_kw + load_delta
        inputs = ControlInputs(dt_s=dt_s, pcc_p_kw=pcc_next, limits=limits, pv=pv, storage=storage,
                               plan_storage_kw=plan_storage,
                               overrides_kw={} if mode == Mode.SAFE else overrides,
                               config=self.options.controller,
                               storage_for_cap_only=(mode == Mode.NORMAL and peak_target is not None
                                                     and storage_peak is None))
        setpoints = safe_state(inputs, self.trust.load_bounds(readings)) if mode == Mode.SAFE else balance(inputs)
        self.following.sent(storage, setpoints.storage_kw)
        if mode != Mode.SAFE:
            pcc_min, pcc_max = pcc_band_kw(inputs)
            loads, load_notes = self.consumers.hold_limits(
                consumers, setpoints.pcc_expected_kw, pcc_min, pcc_max, peak_target, readings.meters, now)
            if load_notes:
                setpoints = replace(setpoints, notes=(*setpoints.notes, *load_notes))
        else:
            loads = {c.id: c.setpoint_kw for c in consumers}
        t_control = time.perf_counter()
        writes = await self._apply(setpoints, loads, readings)
        try:
            writes += await self.fleet.refresh()
        except Exception as exc:  # noqa: BLE001 - keep-alive trouble shows in device health
            self.emit("refresh_failed", f"keep-alive writes failed: {exc}", Severity.WARNING, "rt")
        t_write = time.perf_counter()
        if mode != Mode.SAFE:
            self._notes_to_events(setpoints.notes, now)
        # Accounting, telemetry, store.
        pv_kw = sum(max(r.p_kw or 0.0, 0.0) for r in readings.pv.values() if r.valid)
        curtailed = sum(max((r.p_available_kw or 0.0) - (r.p_kw or 0.0), 0.0)
                        for r in readings.pv.values() if r.valid and r.p_available_kw is not None)
        st_kw = sum(r.p_kw or 0.0 for r in readings.storage.values() if r.valid)
        socs = {b: r.soc_pct for b, r in readings.storage.items() if r.valid and r.soc_pct is not None}
        stored = (sum(socs[b.id] / 100.0 * b.e_kwh for b in self.site.assets.batteries)
                  if len(socs) == len(self.site.assets.batteries) else None)
        closed = self.accounting.add(now, 0.0 if first else dt_s, pcc_kw, pv_kw, curtailed, st_kw, interval,
                                     stored_kwh=stored)
        self.store.add_writes(now, self.overrides.attribute(audited(writes), now, held=mode != Mode.SAFE))
        samples = telemetry_samples(readings, self._commanded)
        samples[("controller", "mode_code")] = (float(list(Mode).index(mode)), GOOD)
        rows = self.telemetry.add(now, samples)
        self.store.add_telemetry(rows)
        if closed is not None:
            self._save_state()
        if rows or closed is not None or self.store.failing or self._flush_due(now):
            self.store.flush()
        t_end = time.perf_counter()
        for phase, seconds in (("read", t_read - wall0), ("control", t_control - t_read),
                               ("write", t_write - t_control), ("account_store", t_end - t_write)):
            self.timings[phase] = self.timings.get(phase, 0.0) + seconds
        self.cycles += 1
        report = CycleReport(now, mode, pcc_kw, setpoints, loads, len(writes),
                             interval.plan_id if interval else None, time.perf_counter() - wall0)
        self.last = report
        self.cycle_wall_s.append(report.duration_s)
        if len(self.cycle_wall_s) > 2 * CYCLE_HISTORY:
            del self.cycle_wall_s[:-CYCLE_HISTORY]
        for observer in self.cycle_observers:
            try:
                await observer(report)
            except Exception as exc:  # noqa: BLE001 - a northbound server's trouble never stops control
                self.emit("observer_failed", f"after-cycle update failed: {type(exc).__name__}: {exc}",
                          Severity.WARNING, "rt")
        return report

    # ---- main loop ---------------------------------------------------------------------------------
    async def run(self, until: datetime | None = None, *,
                  progress: Callable[[Runtime], None] | None = None) -> None:
        """Run cycles until ``until`` (site time), :meth:`request_stop` or cancellation."""
        await self.start()
        cycle_s = self.options.cycle_s
        wall0, sim0 = time.perf_counter(), self.clock.monotonic()
        while not self._stop.is_set():
            if until is not None and self.clock.now() >= until:
                break
            if self._polled:
                await self.jobs.run_due(self.clock.now())
            t0 = self.clock.monotonic()
            try:
                await self.cycle()
                self.failed_cycles = 0
            except Exception as exc:  # noqa: BLE001 - one bad cycle must not stop control
                self.failed_cycles += 1
                self.emit("cycle_failed", f"control cycle failed ({self.failed_cycles} in a row): "
                          f"{type(exc).__name__}: {exc}", Severity.ALARM, "rt")
                if self.failed_cycles >= MAX_FAILED_CYCLES:
                    raise  # the devices' revert timers take over once the keep-alives stop
            if progress is not None:
                progress(self)
            if self.stepped:
                step = cycle_s
                if until is not None:
                    step = min(step, max((until - self.clock.now()).total_seconds(), 0.0)) or cycle_s
                await self.clock.run_for(step)
                if self.options.pace_speed:
                    ahead = (self.clock.monotonic() - sim0) / self.options.pace_speed - (time.perf_counter() - wall0)
                    if ahead > 0:
                        await asyncio.sleep(ahead)
            else:
                wait = t0 + cycle_s - self.clock.monotonic()
                if wait < 0:
                    self.overruns += 1
                await self.clock.sleep(max(wait, 0.0))

    def request_stop(self) -> None:
        self._stop.set()

    async def stop(self) -> None:
        """Stop jobs, flush the downsampler and the store (graceful shutdown)."""
        await self.jobs.shutdown()
        self.store.add_telemetry(self.telemetry.flush())
        self._save_state()
        self.store.flush()
        self.planner.close()

    # ---- live values for the API -------------------------------------------------------------------
    def kpis(self) -> dict:
        """The run's energies, tracking and compliance, plus its green power, CO2, cost and demand charge from
        the one accounting (:func:`microgrid.reports.figures.figures_from_table`) over the integrated intervals."""
        out = self.accounting.kpis()
        out["figures"] = self.figures()
        f = out["figures"]
        if f is not None:
            out["cost_total_cny"] = round(f["cost_energy_cny"] - f["export_revenue_cny"]
                                          + f["demand_charge_increase_cny"], 2)
        out["cycles"] = self.cycles
        out["writes_sent"] = self.writes_sent
        out["mode"] = str(self.mode)
        return out

    def figures(self, since: datetime | None = None) -> dict | None:
        """Figures of the run so far (from ``since`` if given) from the controller's own samples (``None``
        before the first interval)."""
        from microgrid.reports.figures import figures_from_table
        from microgrid.reports.table import IntervalTable

        frame = self.accounting.park_frame()
        if since is not None:
            frame = frame[frame["ts"] >= pd.Timestamp(since)].reset_index(drop=True)
        if frame.empty:
            return None
        start = frame["ts"].iloc[0]
        end = frame["ts"].iloc[-1] + pd.Timedelta(minutes=self.accounting.step_min)
        local = frame["ts"].dt.tz_convert(self.site.timezone)
        table = IntervalTable(frame, self.accounting.step_min, self.site.timezone, local.iloc[0].date(),
                              local.iloc[-1].date(), source="metered",
                              source_note="the controller's own PCC, PV and storage samples")
        return figures_from_table(self.site, table, start.to_pydatetime(), end.to_pydatetime(),
                                  peak_before_kw=self.accounting.peak_at_start_kw)

    def snapshot(self) -> dict:
        """Live values: mode, PCC, setpoints, plan in force, overrides, jobs (JSON-ready)."""
        now = self.clock.now()
        last = self.last
        record = self.plans.at(now)
        jobs = self.jobs
        if isinstance(jobs, APSchedulerRunner):
            jobs.refresh()
        return {
            "ts": now.isoformat(),
            "mode": self.modes.snapshot(),
            "pcc_kw": last.pcc_kw if last else None,
            "pv_limit_kw": dict(last.setpoints.pv_limit_kw) if last and last.setpoints else {},
            "storage_kw": dict(last.setpoints.storage_kw) if last and last.setpoints else {},
            "loads_kw": dict(last.loads_kw) if last else {},
            "plan": record.summary() if record else None,
            "overrides": [o.to_dict() for o in self.overrides.active(now).values()],
            "devices_online": dict(self._online),
            "jobs": [j.status() for j in jobs.jobs.values()],
            "month_peak_kw": round(self.accounting.month_peak_kw, 3),
            "store": {"failing": self.store.failing, "pending": len(self.store.pending)},
            "cycles": self.cycles,
        }

    def recent_events(self, limit: int = 100) -> list[dict]:
        return [e.to_dict() for e in list(self.events.recent)[-limit:]]
