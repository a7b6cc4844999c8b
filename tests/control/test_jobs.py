"""Job runners: triggers, no overlap (skip, not queue), coalescing, missed runs, failures."""

from __future__ import annotations

import asyncio
import time
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from microgrid.clock import RealClock, SteppedClock
from microgrid.control.events import EventLog
from microgrid.control.jobs import APSchedulerRunner, ClockJobRunner, DailyAt, Every
from tests.control.aio import async_test

TZ = ZoneInfo("Asia/Shanghai")
START = datetime(2025, 7, 16, 0, 0, tzinfo=TZ)


@pytest.mark.parametrize(
    ("after", "expected"),
    [
        (datetime(2025, 7, 16, 14, 59, tzinfo=TZ), datetime(2025, 7, 16, 15, 0, tzinfo=TZ)),
        (datetime(2025, 7, 16, 15, 0, tzinfo=TZ), datetime(2025, 7, 17, 15, 0, tzinfo=TZ)),
        (datetime(2025, 7, 16, 7, 0, tzinfo=ZoneInfo("UTC")), datetime(2025, 7, 17, 15, 0, tzinfo=TZ)),
    ],
)
def test_daily_at(after, expected):
    assert DailyAt("15:00", TZ).next_fire(after) == expected


@pytest.mark.parametrize(
    ("after", "expected"),
    [
        (datetime(2025, 7, 16, 10, 0, tzinfo=TZ), datetime(2025, 7, 16, 10, 15, tzinfo=TZ)),
        (datetime(2025, 7, 16, 10, 7, 30, tzinfo=TZ), datetime(2025, 7, 16, 10, 15, tzinfo=TZ)),
        (datetime(2025, 7, 16, 23, 50, tzinfo=TZ), datetime(2025, 7, 17, 0, 0, tzinfo=TZ)),
    ],
)
def test_every_aligned_to_local_midnight(after, expected):
    assert Every(900, TZ).next_fire(after) == expected


def test_every_with_offset():
    assert Every(900, TZ, offset_s=60).next_fire(datetime(2025, 7, 16, 10, 1, tzinfo=TZ)) == \
        datetime(2025, 7, 16, 10, 16, tzinfo=TZ)


@async_test
async def test_clock_runner_skips_overlapping_runs_instead_of_queueing():
    clock = SteppedClock(START)
    log = EventLog()
    runner = ClockJobRunner(clock, log.emit)
    started: list[float] = []

    async def slow(_scheduled):
        started.append(clock.monotonic())
        await clock.sleep(90)

    runner.add_job("slow", slow, Every(60, TZ))
    runner.start()
    await asyncio.sleep(0)  # let the runner task reach its first clock.sleep
    await clock.run_for(250)
    await runner.shutdown()
    assert started == [60, 180]
    skips = log.of_kind("job_skipped")
    assert [e.data["reason"] for e in skips] == ["max_instances", "max_instances"]
    assert [e.data["scheduled"] for e in skips] == [
        datetime(2025, 7, 16, 0, 2, tzinfo=TZ).isoformat(), datetime(2025, 7, 16, 0, 4, tzinfo=TZ).isoformat()]
    assert runner.jobs["slow"].skipped == 2


@async_test
async def test_clock_runner_polled_mode_skips_late_runs_and_coalesces():
    clock = SteppedClock(START)
    log = EventLog()
    runner = ClockJobRunner(clock, log.emit)
    seen: list[datetime] = []

    async def job(scheduled):
        seen.append(scheduled)

    runner.add_job("late", job, Every(60, TZ), misfire_grace_s=10)
    clock.advance(75)
    assert await runner.run_due() == []  # 15 s late > 10 s grace
    assert log.of_kind("job_skipped")[0].data["reason"] == "missed"
    clock.advance(110)  # t = 185: 120 and 180 passed -> one run for 180 (5 s late)
    assert await runner.run_due() == ["late"]
    assert seen == [datetime(2025, 7, 16, 0, 3, tzinfo=TZ)]
    assert runner.jobs["late"].next_run == datetime(2025, 7, 16, 0, 4, tzinfo=TZ)


@async_test
async def test_failing_job_is_an_event_and_later_runs_continue():
    clock = SteppedClock(START)
    log = EventLog()
    runner = ClockJobRunner(clock, log.emit)
    calls = []

    async def flaky(scheduled):
        calls.append(scheduled)
        if len(calls) == 1:
            raise RuntimeError("solver crashed")
        return "ok"

    runner.add_job("flaky", flaky, Every(60, TZ))
    for _ in range(2):
        clock.advance(60)
        await runner.run_due()
    assert len(calls) == 2
    failed = log.of_kind("job_failed")
    assert [e.message for e in failed] == ["job flaky failed: RuntimeError: solver crashed"]
    assert runner.jobs["flaky"].last_result == "ok"


@async_test
async def test_run_now_refuses_while_running():
    clock = SteppedClock(START)
    log = EventLog()
    runner = ClockJobRunner(clock, log.emit)
    gate = asyncio.Event()

    async def job(_scheduled):
        await gate.wait()

    runner.add_job("plan", job, DailyAt("15:00", TZ))
    assert runner.run_now("plan") is True
    await asyncio.sleep(0)
    assert runner.run_now("plan") is False
    gate.set()
    await asyncio.sleep(0)
    await asyncio.sleep(0)
    assert runner.jobs["plan"].runs == 1
    assert log.of_kind("job_skipped")[0].data["reason"] == "max_instances"
    await runner.shutdown()


@async_test
async def test_apscheduler_runner_skips_overlap_with_an_event():
    clock = RealClock(TZ)
    log = EventLog()
    runner = APSchedulerRunner(clock, log.emit, TZ)
    gate = asyncio.Event()

    async def blocked(_scheduled):
        await gate.wait()

    runner.add_job("blocked", blocked, Every(0.25, TZ), misfire_grace_s=5)
    runner.start()
    for _ in range(60):
        await asyncio.sleep(0.05)
        if runner.jobs["blocked"].skipped >= 2:
            break
    gate.set()
    await asyncio.sleep(0.05)
    await runner.shutdown()
    assert runner.jobs["blocked"].runs == 1
    assert runner.jobs["blocked"].skipped >= 2
    assert {e.data["reason"] for e in log.of_kind("job_skipped")} == {"max_instances"}


@async_test
async def test_apscheduler_runner_reports_missed_runs():
    clock = RealClock(TZ)
    log = EventLog()
    runner = APSchedulerRunner(clock, log.emit, TZ)
    runs = []

    async def quick(scheduled):
        runs.append(scheduled)

    trigger = Every(2.5, TZ)
    runner.add_job("quick", quick, trigger, misfire_grace_s=1)
    runner.start()
    fire = trigger.next_fire(clock.now())
    await asyncio.sleep(max((fire - clock.now()).total_seconds() - 0.3, 0))
    time.sleep(1.8)  # block the event loop past fire + grace, as an overloaded host would
    for _ in range(40):
        await asyncio.sleep(0.05)
        if log.of_kind("job_skipped"):
            break
    await runner.shutdown()
    assert "missed" in {e.data["reason"] for e in log.of_kind("job_skipped")}
