"""Import caps the grid sets on the park: demand-response events and the commanded PCC import limit.

One :class:`GridCaps` per runtime holds both and answers one question for the real-time loop and the
planner: *the PCC import cap in force at time t* — the lowest of the site's own cap, a commanded PCC limit
(until it expires) and the cap of every DR event whose window covers t. Sources (IEC 104, Modbus, the API,
a schedule file, the simulator's utility mode) all go through :meth:`GridCaps.add_event`,
:meth:`GridCaps.set_limit` and :meth:`GridCaps.release`, which check the request against
``gridside.commands`` and either accept it or raise :class:`CommandRefused` with the cause; both outcomes
are audited as events (``grid_command``, ``dr_event``, ``dr_event_ended``) with the source and user.

A DR event is a window with either a maximum import (``max_import_kw``) or a reduction against the
baseline (``reduction_kw``): the cap is then ``baseline − reduction``, the baseline fixed when the event is
accepted (:mod:`microgrid.gridside.settlement` gives the similar-days baseline). Sign: import > 0, kW.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import asdict, dataclass, replace
from datetime import datetime, timedelta

import pandas as pd

from microgrid.control.events import Severity
from microgrid.site.models import Site
from optimizer.network_limits import GRID_KEY, NetworkLimit

Emit = Callable[..., object]
"""``emit(kind, message, severity, source, **data)`` (the runtime's :meth:`~microgrid.control.runtime.Runtime.emit`)."""
BaselineFn = Callable[[datetime, datetime], "float | None"]
"""Mean baseline import over a window, kW (``None`` when the similar-days rule finds too few days)."""


class CommandRefused(ValueError):
    """A grid command or DR event that is out of range or not allowed; ``str()`` is the cause."""


@dataclass(frozen=True)
class DREvent:
    """A demand-response window (times tz-aware, powers kW, import > 0)."""

    id: str
    start: datetime
    end: datetime
    max_import_kw: float | None = None
    reduction_kw: float | None = None
    baseline_kw: float | None = None
    """Mean similar-days baseline over the window, fixed at acceptance (reduction events; informative else)."""
    source: str = "api"
    """api, schedule, iec104, modbus or utility."""
    user: str = ""

    @property
    def cap_kw(self) -> float:
        if self.max_import_kw is not None:
            return self.max_import_kw
        assert self.baseline_kw is not None and self.reduction_kw is not None
        return max(self.baseline_kw - self.reduction_kw, 0.0)

    def covers(self, t: datetime) -> bool:
        return self.start <= t < self.end

    def to_dict(self) -> dict:
        out = asdict(self)
        out["start"], out["end"] = self.start.isoformat(), self.end.isoformat()
        out["cap_kw"] = self.cap_kw
        return out

    @classmethod
    def from_dict(cls, data: dict) -> DREvent:
        return cls(id=str(data["id"]), start=datetime.fromisoformat(str(data["start"])),
                   end=datetime.fromisoformat(str(data["end"])), max_import_kw=data.get("max_import_kw"),
                   reduction_kw=data.get("reduction_kw"), baseline_kw=data.get("baseline_kw"),
                   source=str(data.get("source", "api")), user=str(data.get("user", "")))


@dataclass(frozen=True)
class CommandedLimit:
    value_kw: float
    expires: datetime
    source: str
    user: str


def _finite(value: float, what: str) -> float:
    if value is None or not math.isfinite(float(value)):
        raise CommandRefused(f"{what}: {value!r} is not a finite number")
    return float(value)


class GridCaps:
    """The grid's import caps on the park (see the module docstring)."""

    def __init__(self, site: Site, emit: Emit | None = None, baseline: BaselineFn | None = None) -> None:
        self.site = site
        self.limits = site.gridside.commands
        self.emit = emit or (lambda *a, **k: None)
        self.baseline = baseline
        self.events: dict[str, DREvent] = {}
        self.limit: CommandedLimit | None = None
        self.version = 0
        """Bumped on every change (the runtime re-plans when it moves)."""

    # ---- queries -----------------------------------------------------------------------------------
    @property
    def max_limit_kw(self) -> float:
        c = self.limits
        return c.pcc_limit_max_kw if c.pcc_limit_max_kw is not None else self.site.grid.import_cap_kw

    def active(self, now: datetime) -> list[DREvent]:
        return [e for e in self.events.values() if e.covers(now)]

    def dr_cap_kw(self, now: datetime) -> float | None:
        caps = [e.cap_kw for e in self.active(now)]
        return min(caps) if caps else None

    def limit_kw(self, now: datetime) -> float | None:
        """Commanded PCC limit in force (``None`` when none or expired)."""
        return self.limit.value_kw if self.limit is not None and now < self.limit.expires else None

    def import_cap_kw(self, now: datetime, site_cap_kw: float | None = None) -> float:
        """PCC import cap in force at ``now``: min(site cap, commanded limit, DR caps), kW."""
        caps = [self.site.grid.import_cap_kw if site_cap_kw is None else site_cap_kw]
        caps += [c for c in (self.limit_kw(now), self.dr_cap_kw(now)) if c is not None]
        return min(caps)

    def plan_rows(self, index: pd.DatetimeIndex) -> list[NetworkLimit]:
        """Hard ``grid import ≤ cap`` rows for the intervals of ``index`` a DR event overlaps (planning)."""
        if len(index) < 2 or not self.events:
            return []
        step = index[1] - index[0]
        rows = []
        for t, start in enumerate(index):
            end = start + step
            caps = [e.cap_kw for e in self.events.values() if e.start < end and e.end > start]
            if caps:
                rows.append(NetworkLimit(name="demand response", step=t, coeffs_kw={GRID_KEY: 1.0}, upper=min(caps)))
        return rows

    # ---- commands ----------------------------------------------------------------------------------
    def _refuse(self, what: str, cause: str, source: str, user: str, **data) -> CommandRefused:
        self.emit("grid_command", f"{what} refused ({source}, {user or '-'}): {cause}", Severity.WARNING,
                  source, accepted=False, cause=cause, user=user, **data)
        return CommandRefused(cause)

    def set_limit(self, value_kw: float, now: datetime, *, source: str, user: str = "",
                  hold_min: float | None = None) -> CommandedLimit:
        """Command a PCC import limit for ``hold_min`` (default ``commands.hold_min``)."""
        try:
            value = _finite(value_kw, "PCC limit")
        except CommandRefused as exc:
            raise self._refuse("PCC limit", str(exc), source, user, value_kw=str(value_kw)) from None
        lo, hi = self.limits.pcc_limit_min_kw, self.max_limit_kw
        if not lo <= value <= hi:
            raise self._refuse("PCC limit", f"{value:g} kW is outside {lo:g} … {hi:g} kW", source, user, value_kw=value)
        hold = self.limits.hold_min if hold_min is None else hold_min
        self.limit = CommandedLimit(value, now + timedelta(minutes=hold), source, user)
        self.version += 1
        self.emit("grid_command", f"PCC import limit {value:g} kW until {self.limit.expires.isoformat()} "
                  f"({source}, {user or '-'})", Severity.WARNING, source, accepted=True, command="pcc_limit",
                  value_kw=value, expires=self.limit.expires.isoformat(), user=user)
        return self.limit

    def add_event(self, event: DREvent, now: datetime) -> DREvent:
        """Accept a DR event (fixing its baseline) or raise :class:`CommandRefused` with the cause."""
        src, user = event.source, event.user
        c = self.limits
        minutes = (event.end - event.start).total_seconds() / 60
        if event.start.tzinfo is None or event.end.tzinfo is None:
            raise self._refuse(f"DR event {event.id}", "start and end need a time zone", src, user)
        if event.end <= now:
            raise self._refuse(f"DR event {event.id}", f"ends in the past ({event.end.isoformat()})", src, user)
        if not c.dr_min_duration_min <= minutes <= c.dr_max_duration_min:
            raise self._refuse(f"DR event {event.id}", f"lasts {minutes:g} min, allowed {c.dr_min_duration_min:g} … "
                               f"{c.dr_max_duration_min:g} min", src, user)
        if (event.max_import_kw is None) == (event.reduction_kw is None):
            raise self._refuse(f"DR event {event.id}", "give exactly one of max_import_kw and reduction_kw", src, user)
        base = self.baseline(event.start, event.end) if self.baseline is not None else None
        if event.max_import_kw is not None:
            value = _finite(event.max_import_kw, "max_import_kw")
            lo, hi = self.limits.pcc_limit_min_kw, self.max_limit_kw
            if not lo <= value <= hi:
                raise self._refuse(f"DR event {event.id}", f"max import {value:g} kW is outside {lo:g} … {hi:g} kW",
                                   src, user)
        else:
            value = _finite(event.reduction_kw, "reduction_kw")
            if value <= 0:
                raise self._refuse(f"DR event {event.id}", f"reduction {value:g} kW must be above 0", src, user)
            if base is None:
                raise self._refuse(f"DR event {event.id}", "no baseline (too few similar days metered); "
                                   "send max_import_kw instead", src, user)
        if event.id in self.events and self.events[event.id].start <= now:
            raise self._refuse(f"DR event {event.id}", "an event with this id is already under way", src, user)
        event = replace(event, baseline_kw=base)
        self.events[event.id] = event
        self.version += 1
        self.emit("dr_event", f"DR event {event.id} {event.start.isoformat()} – {event.end.isoformat()}: cap "
                  f"{event.cap_kw:g} kW ({src}, {user or '-'})", Severity.WARNING, src, event=event.to_dict())
        return event

    def end_event(self, event_id: str, now: datetime, *, source: str, user: str = "") -> DREvent | None:
        """End an event now (or drop it if it has not begun); ``None`` if unknown or over."""
        event = self.events.get(event_id)
        if event is None or event.end <= now:
            return None
        if event.start >= now:
            del self.events[event_id]
        else:
            self.events[event_id] = replace(event, end=now)
        self.version += 1
        self.emit("dr_event_ended", f"DR event {event_id} ended at {now.isoformat()} ({source}, {user or '-'})",
                  Severity.INFO, source, id=event_id, end=now.isoformat(), user=user)
        return self.events.get(event_id)

    def release(self, now: datetime, *, source: str, user: str = "") -> None:
        """Drop the commanded PCC limit and end the DR events the grid commanded by set-point."""
        if self.limit is not None:
            self.limit = None
            self.version += 1
            self.emit("grid_command", f"PCC import limit released ({source}, {user or '-'})", Severity.INFO, source,
                      accepted=True, command="release", user=user)
        for event in list(self.events.values()):
            if event.source in ("iec104", "modbus") and event.end > now:
                self.end_event(event.id, now, source=source, user=user)

    def expire(self, now: datetime) -> None:
        """Forget expired limits and events over for a day (the store keeps them for the report)."""
        if self.limit is not None and now >= self.limit.expires:
            self.emit("grid_command", "commanded PCC import limit expired", Severity.INFO, self.limit.source,
                      accepted=True, command="expired")
            self.limit = None
            self.version += 1
        for key in [k for k, e in self.events.items() if e.end < now - timedelta(days=1)]:
            del self.events[key]

    # ---- persistence (controller state) -------------------------------------------------------------
    def state(self) -> dict:
        out: dict = {"events": [e.to_dict() for e in self.events.values()]}
        if self.limit is not None:
            out["limit"] = {"value_kw": self.limit.value_kw, "expires": self.limit.expires.isoformat(),
                            "source": self.limit.source, "user": self.limit.user}
        return out

    def restore(self, state: dict, now: datetime) -> None:
        for item in state.get("events", []):
            event = DREvent.from_dict(item)
            if event.end > now:
                self.events[event.id] = event
        lim = state.get("limit")
        if lim and datetime.fromisoformat(lim["expires"]) > now:
            self.limit = CommandedLimit(float(lim["value_kw"]), datetime.fromisoformat(lim["expires"]),
                                        lim.get("source", ""), lim.get("user", ""))
        self.version += 1
