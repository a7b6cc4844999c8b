"""The set-point commands the northbound servers accept, in one place for IEC 104 and Modbus.

Each returns ``None`` when accepted or the refusal cause (the servers answer a negative confirmation /
Modbus exception); :class:`~microgrid.control.gridcaps.GridCaps` audits both outcomes. The servers may call
from their own thread (c104 runs callbacks on its thread): :meth:`GridCommands.call` marshals into the
runtime's event loop so the runtime's state is only touched there.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import math
from collections.abc import Callable
from datetime import timedelta

from microgrid.control.events import Severity
from microgrid.control.gridcaps import CommandRefused, DREvent
from microgrid.control.runtime import Runtime

SETPOINT_KEYS = ("cmd_pcc_limit_kw", "cmd_dr_target_kw")
CALL_TIMEOUT_S = 5.0
"""Longest wait of a server thread for the runtime's loop to take a command (busy loop → refused)."""


class GridCommands:
    def __init__(self, runtime: Runtime, loop: asyncio.AbstractEventLoop | None = None) -> None:
        self.runtime = runtime
        self.loop = loop

    def call(self, fn: Callable[[], str | None]) -> str | None:
        """Run ``fn`` in the runtime's loop (directly when already there) and return its result."""
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if self.loop is None or running is self.loop:
            return fn()

        async def run() -> str | None:
            return fn()

        future = asyncio.run_coroutine_threadsafe(run(), self.loop)
        try:
            return future.result(timeout=CALL_TIMEOUT_S)
        except concurrent.futures.TimeoutError:
            future.cancel()
            return f"controller busy: command not taken within {CALL_TIMEOUT_S:g} s"

    def submit(self, fn: Callable[[], object]) -> None:
        """Run ``fn`` in the runtime's loop without waiting (a server thread that must answer at once)."""
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if self.loop is None or running is self.loop:
            fn()
        else:
            self.loop.call_soon_threadsafe(fn)

    def pcc_limit(self, value_kw: float, source: str, user: str) -> str | None:
        def do() -> str | None:
            try:
                self.runtime.gridcaps.set_limit(value_kw, self.runtime.clock.now(), source=source, user=user)
            except CommandRefused as exc:
                return str(exc)
            return None

        return self.call(do)

    def dr_target(self, value_kw: float, source: str, user: str) -> str | None:
        """A DR event from now for ``commands.hold_min`` with ``value_kw`` as its maximum import."""

        def do() -> str | None:
            rt = self.runtime
            now = rt.clock.now()
            hold = timedelta(minutes=rt.site.gridside.commands.hold_min)
            base = f"{source}-{now:%Y%m%dT%H%M%S}"
            # a second target within the same second is an event of its own, not a clash with the first
            taken = rt.gridcaps.events
            event_id = next(i for i in (base, *(f"{base}-{n}" for n in range(2, len(taken) + 3))) if i not in taken)
            event = DREvent(id=event_id, start=now, end=now + hold, max_import_kw=value_kw, source=source, user=user)
            try:
                rt.gridcaps.add_event(event, now)
            except CommandRefused as exc:
                return str(exc)
            return None

        return self.call(do)

    def release(self, source: str, user: str) -> str | None:
        def do() -> str | None:
            self.runtime.gridcaps.release(self.runtime.clock.now(), source=source, user=user)
            return None

        return self.call(do)

    def check(self, key: str, value: float) -> str | None:
        """Why a set-point of ``value`` would be refused (range, finiteness), without applying it."""
        if key not in SETPOINT_KEYS:
            return f"{key} is not a set-point"
        if not math.isfinite(value):
            return f"{value!r} is not a finite number"
        caps = self.runtime.gridcaps
        lo, hi = caps.limits.pcc_limit_min_kw, caps.max_limit_kw
        if not lo <= value <= hi:
            return f"{value:g} kW is outside {lo:g} … {hi:g} kW"
        c = caps.limits
        if key == "cmd_dr_target_kw" and not c.dr_min_duration_min <= c.hold_min <= c.dr_max_duration_min:
            return (f"commands.hold_min {c.hold_min:g} min is outside the DR duration {c.dr_min_duration_min:g} … "
                    f"{c.dr_max_duration_min:g} min")
        return None

    def refused(self, key: str, value: float, cause: str, source: str, user: str) -> None:
        """Audit a command refused before it reached the caps (e.g. at select)."""

        def do() -> None:
            self.runtime.emit("grid_command", f"{key} = {value:g} refused ({source}, {user}): {cause}",
                              Severity.WARNING, source, accepted=False, cause=cause, user=user, key=key, value=value)

        self.submit(do)

    def setpoint(self, key: str, value: float, source: str, user: str) -> str | None:
        """Dispatch a set-point point of the table by key."""
        if key == "cmd_pcc_limit_kw":
            return self.pcc_limit(value, source, user)
        if key == "cmd_dr_target_kw":
            return self.dr_target(value, source, user)
        return f"{key} is not a set-point"
