"""Time source of the drivers: :class:`microgrid.clock.Clock` (``monotonic()`` for ages, timers and
write-rate limits, ``now()`` for timestamps).

Injectable so that tests (``SteppedClock``) and accelerated simulations (``ScaledClock``) drive ages,
stale limits, revert timers and EEPROM budgets without sleeping. Network timeouts, back-offs and
inter-request gaps are always real time (asyncio), because the devices are real.
"""

from __future__ import annotations

from microgrid.clock import Clock, RealClock, SteppedClock

SYSTEM_CLOCK: Clock = RealClock()

__all__ = ["SYSTEM_CLOCK", "Clock", "RealClock", "SteppedClock"]
