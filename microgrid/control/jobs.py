"""Clock-aware job runners with one set of semantics: no overlap, coalesce, late runs skipped with an event.

Two implementations of :class:`JobRunner` run the same job functions:

- :class:`APSchedulerRunner`: APScheduler 3 ``AsyncIOScheduler`` for real time (``max_instances=1``,
  ``coalesce=True``, small ``misfire_grace_time``; a listener turns ``EVENT_JOB_MAX_INSTANCES`` /
  ``EVENT_JOB_MISSED`` / ``EVENT_JOB_ERROR`` into :class:`~microgrid.control.events.Event`).
- :class:`ClockJobRunner`: driven by an injectable :class:`~microgrid.clock.Clock` (accelerated or stepped
  time, where APScheduler's wall-clock triggers do not work). It either runs its own task
  (:meth:`ClockJobRunner.start`) or is polled by the control loop (:meth:`ClockJobRunner.run_due`, which
  awaits due jobs to completion: deterministic under a stepped clock).

Semantics shared by both (checked by tests/control/test_jobs.py):

- a fire time reached while the previous run is still going is *skipped* (event ``job_skipped``,
  reason ``max_instances``), never queued;
- fire times missed while the runner could not run are coalesced into one;
- a run noticed more than ``misfire_grace_s`` late is skipped (event ``job_skipped``, reason ``missed``);
- a failing job emits ``job_failed`` and does not stop later runs.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta, tzinfo
from typing import Protocol

from microgrid.clock import Clock
from microgrid.control.events import Event, Severity

JobFunc = Callable[[datetime], Awaitable[object]]
"""A job: ``await func(scheduled_time)``; the return value is kept as ``last_result``."""


# ---- triggers ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class DailyAt:
    """Every day at ``hhmm`` local time in ``tz``."""

    hhmm: str
    tz: tzinfo

    def next_fire(self, after: datetime) -> datetime:
        """First fire time strictly after ``after``."""
        hour, minute = (int(x) for x in self.hhmm.split(":"))
        local = after.astimezone(self.tz)
        candidate = local.replace(hour=hour, minute=minute, second=0, microsecond=0)
        if candidate <= local:
            candidate = (local + timedelta(days=1)).replace(hour=hour, minute=minute, second=0, microsecond=0)
        return candidate


@dataclass(frozen=True)
class Every:
    """Every ``seconds``, aligned to local midnight in ``tz`` plus ``offset_s`` (e.g. :00, :15, :30, :45)."""

    seconds: float
    tz: tzinfo
    offset_s: float = 0.0

    def __post_init__(self) -> None:
        if not self.seconds > 0:
            raise ValueError("Every.seconds must be > 0")

    def next_fire(self, after: datetime) -> datetime:
        local = after.astimezone(self.tz)
        midnight = local.replace(hour=0, minute=0, second=0, microsecond=0)
        elapsed = (local - midnight).total_seconds() - self.offset_s
        k = math.floor(elapsed / self.seconds + 1e-9) + 1
        return midnight + timedelta(seconds=k * self.seconds + self.offset_s)


Trigger = DailyAt | Every


# ---- job bookkeeping shared by both runners ----------------------------------------------------------


@dataclass
class JobState:
    """One job and what it did last; also enforces the no-overlap rule."""

    name: str
    func: JobFunc
    trigger: Trigger
    misfire_grace_s: float
    next_run: datetime | None = None
    running: bool = False
    runs: int = 0
    skipped: int = 0
    failures: int = 0
    last_started: datetime | None = None
    last_finished: datetime | None = None
    last_result: object = None
    last_error: str | None = None
    task: asyncio.Task | None = field(default=None, repr=False)

    def status(self) -> dict:
        return {"name": self.name, "next_run": self.next_run.isoformat() if self.next_run else None,
                "running": self.running, "runs": self.runs, "skipped": self.skipped, "failures": self.failures,
                "last_started": self.last_started.isoformat() if self.last_started else None,
                "last_finished": self.last_finished.isoformat() if self.last_finished else None,
                "last_error": self.last_error}


class JobRunner(Protocol):
    """What the runtime needs from a job runner."""

    jobs: dict[str, JobState]

    def add_job(self, name: str, func: JobFunc, trigger: Trigger, misfire_grace_s: float = 30.0) -> None: ...

    def start(self) -> None: ...

    async def shutdown(self) -> None: ...

    def run_now(self, name: str) -> bool:
        """Start ``name`` at once unless it is running (then: skip event, ``False``)."""
        ...


class _Base:
    """Emitting events, running a job body with bookkeeping, manual runs."""

    def __init__(self, clock: Clock, emit: Callable[[Event], object]) -> None:
        self.clock = clock
        self._emit = emit
        self.jobs: dict[str, JobState] = {}
        self._tasks: set[asyncio.Task] = set()

    def _event(self, kind: str, job: JobState, message: str, severity: Severity, **data: object) -> None:
        self._emit(Event(self.clock.now(), kind, message, severity, "jobs", {"job": job.name, **data}))

    def skip(self, job: JobState, reason: str, scheduled: datetime, detail: str) -> None:
        job.skipped += 1
        self._event("job_skipped", job, f"job {job.name} at {scheduled.isoformat()} skipped: {detail}",
                    Severity.WARNING, reason=reason, scheduled=scheduled.isoformat())

    async def execute(self, job: JobState, scheduled: datetime) -> object:
        """Run ``job`` once (the caller has checked it is not running)."""
        job.running = True
        job.runs += 1
        job.last_started = self.clock.now()
        try:
            job.last_result = await job.func(scheduled)
            job.last_error = None
            return job.last_result
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # noqa: BLE001 - a failing job is an event, never a crash of the runner
            job.failures += 1
            job.last_error = f"{type(exc).__name__}: {exc}"
            self._event("job_failed", job, f"job {job.name} failed: {job.last_error}", Severity.ALARM,
                        error=job.last_error)
            return None
        finally:
            job.running = False
            job.last_finished = self.clock.now()

    def run_now(self, name: str) -> bool:
        job = self.jobs[name]
        now = self.clock.now()
        if job.running:
            self.skip(job, "max_instances", now, "previous run still going")
            return False
        task = asyncio.get_running_loop().create_task(self.execute(job, now), name=f"job:{name}")
        job.task = task
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return True

    async def _cancel_tasks(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        for task in list(self._tasks):
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task


class ClockJobRunner(_Base):
    """Job runner on an injectable clock (accelerated or stepped simulated time)."""

    def __init__(self, clock: Clock, emit: Callable[[Event], object]) -> None:
        super().__init__(clock, emit)
        self._loop_task: asyncio.Task | None = None
        self._wake = asyncio.Event()

    def add_job(self, name: str, func: JobFunc, trigger: Trigger, misfire_grace_s: float = 30.0) -> None:
        job = JobState(name, func, trigger, misfire_grace_s)
        job.next_run = trigger.next_fire(self.clock.now())
        self.jobs[name] = job

    def _due(self, now: datetime) -> list[tuple[JobState, datetime]]:
        """Jobs whose fire time has come, with the latest passed fire time (coalesced); advances them."""
        due = []
        for job in self.jobs.values():
            if job.next_run is None or job.next_run > now:
                continue
            scheduled = job.next_run
            while True:  # coalesce: keep only the latest fire time not after now
                following = job.trigger.next_fire(scheduled)
                if following > now:
                    break
                scheduled = following
            job.next_run = job.trigger.next_fire(now)
            due.append((job, scheduled))
        return due

    def _admit(self, job: JobState, scheduled: datetime, now: datetime) -> bool:
        late_s = (now - scheduled).total_seconds()
        if late_s > job.misfire_grace_s:
            self.skip(job, "missed", scheduled, f"noticed {late_s:.1f} s late (grace {job.misfire_grace_s:g} s)")
            return False
        if job.running:
            self.skip(job, "max_instances", scheduled, "previous run still going")
            return False
        return True

    async def run_due(self, now: datetime | None = None) -> list[str]:
        """Run every due job to completion, in order (the control loop's polled mode). Returns their names."""
        now = now or self.clock.now()
        ran = []
        for job, scheduled in self._due(now):
            if self._admit(job, scheduled, now):
                await self.execute(job, scheduled)
                ran.append(job.name)
        return ran

    def next_fire(self) -> datetime | None:
        times = [j.next_run for j in self.jobs.values() if j.next_run is not None]
        return min(times) if times else None

    # ---- own-task mode -----------------------------------------------------------------------------
    def start(self) -> None:
        if self._loop_task is None:
            self._loop_task = asyncio.get_running_loop().create_task(self._run(), name="clock-job-runner")

    async def _run(self) -> None:
        while True:
            upcoming = self.next_fire()
            if upcoming is None:
                await asyncio.sleep(3600)
                continue
            wait_s = (upcoming - self.clock.now()).total_seconds()
            if wait_s > 0:
                await self.clock.sleep(wait_s)
            now = self.clock.now()
            for job, scheduled in self._due(now):
                if self._admit(job, scheduled, now):
                    task = asyncio.get_running_loop().create_task(self.execute(job, scheduled),
                                                                  name=f"job:{job.name}")
                    job.task = task
                    self._tasks.add(task)
                    task.add_done_callback(self._tasks.discard)

    async def shutdown(self) -> None:
        if self._loop_task is not None:
            self._loop_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._loop_task
            self._loop_task = None
        await self._cancel_tasks()


class APSchedulerRunner(_Base):
    """Real-time job runner on APScheduler 3's ``AsyncIOScheduler`` (wall-clock triggers)."""

    def __init__(self, clock: Clock, emit: Callable[[Event], object], tz: tzinfo) -> None:
        super().__init__(clock, emit)
        from apscheduler.events import EVENT_JOB_ERROR, EVENT_JOB_MAX_INSTANCES, EVENT_JOB_MISSED
        from apscheduler.schedulers.asyncio import AsyncIOScheduler

        self.tz = tz
        self.scheduler = AsyncIOScheduler(timezone=tz)
        self.scheduler.add_listener(self._listener, EVENT_JOB_MAX_INSTANCES | EVENT_JOB_MISSED | EVENT_JOB_ERROR)

    def _aps_trigger(self, trigger: Trigger):
        from apscheduler.triggers.cron import CronTrigger
        from apscheduler.triggers.interval import IntervalTrigger

        if isinstance(trigger, DailyAt):
            hour, minute = trigger.hhmm.split(":")
            return CronTrigger(hour=int(hour), minute=int(minute), timezone=self.tz)
        start = trigger.next_fire(datetime.now(self.tz)) - timedelta(seconds=trigger.seconds)
        return IntervalTrigger(seconds=trigger.seconds, start_date=start, timezone=self.tz)

    def add_job(self, name: str, func: JobFunc, trigger: Trigger, misfire_grace_s: float = 30.0) -> None:
        job = JobState(name, func, trigger, misfire_grace_s)
        self.jobs[name] = job

        async def body(scheduled_iso: str | None = None) -> object:
            if job.running:  # a run_now() in progress: same rule as a scheduled overlap
                self.skip(job, "max_instances", self.clock.now(), "previous run still going")
                return None
            return await self.execute(job, self.clock.now())

        self.scheduler.add_job(body, self._aps_trigger(trigger), id=name, name=name, max_instances=1,
                               coalesce=True, misfire_grace_time=max(1, int(math.ceil(misfire_grace_s))),
                               replace_existing=True)

    def _listener(self, ev) -> None:
        from apscheduler.events import EVENT_JOB_ERROR, EVENT_JOB_MAX_INSTANCES, EVENT_JOB_MISSED

        job = self.jobs.get(ev.job_id)
        if job is None:
            return
        if ev.code == EVENT_JOB_MAX_INSTANCES:
            times = getattr(ev, "scheduled_run_times", None) or [self.clock.now()]
            self.skip(job, "max_instances", times[-1], "previous run still going")
        elif ev.code == EVENT_JOB_MISSED:
            self.skip(job, "missed", ev.scheduled_run_time, f"missed its start (grace {job.misfire_grace_s:g} s)")
        elif ev.code == EVENT_JOB_ERROR:  # pragma: no cover - execute() catches job errors itself
            self._event("job_failed", job, f"job {job.name} failed: {ev.exception}", Severity.ALARM)

    def start(self) -> None:
        self.scheduler.start()
        for name, job in self.jobs.items():
            aps = self.scheduler.get_job(name)
            job.next_run = aps.next_run_time if aps else None

    async def shutdown(self) -> None:
        if self.scheduler.running:
            self.scheduler.shutdown(wait=False)
        await self._cancel_tasks()

    def refresh(self) -> None:
        """Copy APScheduler's next run times into :attr:`jobs` (for status reports)."""
        for name, job in self.jobs.items():
            aps = self.scheduler.get_job(name)
            job.next_run = aps.next_run_time if aps else None


__all__ = ["APSchedulerRunner", "ClockJobRunner", "DailyAt", "Every", "JobRunner", "JobState", "Trigger"]
