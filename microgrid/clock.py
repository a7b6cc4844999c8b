"""One injectable clock for the controller and the simulator.

Code that waits or reads the time takes a :class:`Clock` instead of calling ``time.time()`` /
``asyncio.sleep`` directly, so the same code runs

- in real time (:class:`RealClock`, 1x) on a site or a hardware-in-the-loop rig,
- accelerated (:class:`ScaledClock`, e.g. 60x or 600x) against the simulator,
- stepped deterministically (:class:`SteppedClock`) in tests, where time only moves when the test says so.

``monotonic()`` is in *simulated* seconds (never goes back); ``now()`` is a tz-aware datetime of simulated
time; ``sleep(s)`` waits ``s`` simulated seconds. This module imports nothing of ours, so the controller can
use it without importing the simulator.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
import time
from datetime import datetime, timedelta, tzinfo
from typing import Protocol, runtime_checkable
from zoneinfo import ZoneInfo

DEFAULT_TZ = ZoneInfo("Asia/Shanghai")


@runtime_checkable
class Clock(Protocol):
    """Time source: ``now()`` tz-aware, ``monotonic()`` seconds, ``sleep(seconds)`` in the same time base."""

    def now(self) -> datetime: ...

    def monotonic(self) -> float: ...

    async def sleep(self, seconds: float) -> None: ...


def _aware(start: datetime | None, tz: tzinfo) -> datetime:
    if start is None:
        return datetime.now(tz)
    if start.tzinfo is None:
        return start.replace(tzinfo=tz)
    return start


class RealClock:
    """Wall-clock time (1x): ``now()`` in ``tz``, ``monotonic()`` = ``time.monotonic()``."""

    speed = 1.0

    def __init__(self, tz: tzinfo = DEFAULT_TZ) -> None:
        self.tz = tz

    def now(self) -> datetime:
        return datetime.now(self.tz)

    def monotonic(self) -> float:
        return time.monotonic()

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(max(0.0, seconds))


class ScaledClock:
    """Simulated time running ``speed`` times faster than the wall clock, starting at ``start``.

    ``monotonic()`` counts simulated seconds from 0 at construction; ``sleep(s)`` waits ``s / speed`` wall
    seconds.
    """

    def __init__(self, speed: float, start: datetime | None = None, tz: tzinfo = DEFAULT_TZ) -> None:
        if not speed > 0:
            raise ValueError(f"speed must be > 0, got {speed}")
        self.speed = float(speed)
        self.start = _aware(start, tz)
        self._wall0 = time.monotonic()

    def monotonic(self) -> float:
        return (time.monotonic() - self._wall0) * self.speed

    def now(self) -> datetime:
        return self.start + timedelta(seconds=self.monotonic())

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(max(0.0, seconds) / self.speed)


class SteppedClock:
    """Deterministic clock for tests: time moves only through :meth:`advance` / :meth:`run_for`.

    ``sleep(s)`` suspends until the clock has been advanced by at least ``s``. Sleepers wake in deadline
    order; :meth:`run_for` stops at each deadline and lets the woken tasks run before moving on, so a task
    sleeping 1 s in a loop runs exactly ten times in ``run_for(10)``.
    """

    speed = 0.0

    def __init__(self, start: datetime | None = None, tz: tzinfo = DEFAULT_TZ) -> None:
        self.start = _aware(start, tz) if start is not None else datetime(2025, 7, 16, 0, 0, tzinfo=tz)
        self._t = 0.0
        self._sleepers: list[tuple[float, int, asyncio.Future[None]]] = []
        self._seq = itertools.count()

    def monotonic(self) -> float:
        return self._t

    def now(self) -> datetime:
        return self.start + timedelta(seconds=self._t)

    async def sleep(self, seconds: float) -> None:
        if seconds <= 0:
            await asyncio.sleep(0)
            return
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        heapq.heappush(self._sleepers, (self._t + seconds, next(self._seq), future))
        await future

    def _wake_due(self) -> int:
        woken = 0
        while self._sleepers and self._sleepers[0][0] <= self._t + 1e-9:
            _deadline, _seq, future = heapq.heappop(self._sleepers)
            if not future.done():
                future.set_result(None)
                woken += 1
        return woken

    def advance(self, seconds: float) -> None:
        """Jump ``seconds`` ahead and wake every sleeper now due (they run at the next loop iteration)."""
        if seconds < 0:
            raise ValueError("a clock cannot go back")
        self._t += seconds
        self._wake_due()

    async def run_for(self, seconds: float, settle: int = 5) -> None:
        """Advance ``seconds`` in deadline order, yielding ``settle`` loop iterations after each wake-up."""
        if seconds < 0:
            raise ValueError("a clock cannot go back")
        target = self._t + seconds
        for _ in range(settle):  # let tasks that are about to sleep register first
            await asyncio.sleep(0)
        while True:
            pending = [d for d, _s, f in self._sleepers if not f.done()]
            next_deadline = min(pending) if pending else None
            if next_deadline is None or next_deadline > target + 1e-9:
                self._t = target
                self._wake_due()
                break
            self._t = max(self._t, next_deadline)
            self._wake_due()
            for _ in range(settle):
                await asyncio.sleep(0)
        for _ in range(settle):
            await asyncio.sleep(0)


__all__ = ["DEFAULT_TZ", "Clock", "RealClock", "ScaledClock", "SteppedClock"]
