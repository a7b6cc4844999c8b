"""Operating mode of the controller, derived from conditions; every change is an event with a reason.

Modes, by priority (the highest active condition wins):

=========  ================================================================================================
``safe``   PCC measurement stale or lost: PV held to the blind export allowance, storage idle.
``degraded`` The PCC meter is implausible or lost but the tenant meters and device readings still give the
           PCC (Kirchhoff): control goes on with that estimate, the alarm names both values.
``manual`` An operator put the whole site in manual: no automatic dispatch (storage idle unless
           overridden), export/import protection still on.
``fallback`` No valid optimizer plan (failure, time-out, none yet): the rule-based schedule is used.
``normal`` Optimizer plan in force.
=========  ================================================================================================

Per-asset overrides work in ``normal``, ``fallback`` and ``manual``; the safe state ignores storage ones.
The PCC condition clears only after ``recover_cycles`` consecutive fresh readings (hysteresis).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from enum import StrEnum

from microgrid.control.events import Event, Severity


class Mode(StrEnum):
    NORMAL = "normal"
    FALLBACK = "fallback"
    SAFE = "safe"
    MANUAL = "manual"
    DEGRADED = "degraded"


class Condition(StrEnum):
    PCC_LOST = "pcc_lost"
    MANUAL = "manual"
    NO_PLAN = "no_plan"
    PCC_DEGRADED = "pcc_degraded"


_PRIORITY: tuple[tuple[Condition, Mode], ...] = (
    (Condition.PCC_LOST, Mode.SAFE),
    (Condition.MANUAL, Mode.MANUAL),
    (Condition.PCC_DEGRADED, Mode.DEGRADED),
    (Condition.NO_PLAN, Mode.FALLBACK),
)
_SEVERITY = {Mode.SAFE: Severity.ALARM, Mode.FALLBACK: Severity.WARNING, Mode.MANUAL: Severity.WARNING,
             Mode.DEGRADED: Severity.ALARM,
             Mode.NORMAL: Severity.INFO}


class ModeMachine:
    """Holds the active conditions and the resulting mode; emits ``mode_change`` events."""

    def __init__(self, emit: Callable[[Event], object], *, recover_cycles: int = 3,
                 initial: set[Condition] | None = None) -> None:
        self._emit = emit
        self.recover_cycles = recover_cycles
        start = {Condition.NO_PLAN} if initial is None else initial
        self.conditions: dict[Condition, str] = {c: "start-up" for c in start}
        self.mode = self._derive()
        self._fresh_count = 0
        self.since: datetime | None = None

    def _derive(self) -> Mode:
        for condition, mode in _PRIORITY:
            if condition in self.conditions:
                return mode
        return Mode.NORMAL

    def set(self, condition: Condition, active: bool, reason: str, now: datetime) -> Mode:
        """Raise or clear ``condition`` because of ``reason``; emits an event when the mode changes."""
        if active:
            self.conditions[condition] = reason
        else:
            self.conditions.pop(condition, None)
        new = self._derive()
        if new != self.mode:
            old, self.mode, self.since = self.mode, new, now
            self._emit(Event(now, "mode_change", f"{old} -> {new}: {reason}", _SEVERITY[new], "mode",
                             {"from": str(old), "to": str(new), "reason": reason,
                              "condition": str(condition), "active": active}))
        return self.mode

    def pcc_reading(self, fresh: bool, reason: str, now: datetime) -> Mode:
        """Feed one cycle's PCC freshness; lost at once, recovered after ``recover_cycles`` fresh cycles."""
        if not fresh:
            self._fresh_count = 0
            if Condition.PCC_LOST not in self.conditions:
                return self.set(Condition.PCC_LOST, True, reason, now)
            return self.mode
        if Condition.PCC_LOST in self.conditions:
            self._fresh_count += 1
            if self._fresh_count >= self.recover_cycles:
                return self.set(Condition.PCC_LOST, False, reason, now)
        return self.mode

    @property
    def safe(self) -> bool:
        return self.mode == Mode.SAFE

    def snapshot(self) -> dict:
        return {"mode": str(self.mode), "since": self.since.isoformat() if self.since else None,
                "conditions": {str(k): v for k, v in self.conditions.items()}}
