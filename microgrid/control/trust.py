"""The runtime's "trust no measurement" step: plausibility, SoC cross-checks and latched device states,
turned into alarms (stable codes, params, English text), a degraded mode and the safe state's load bounds.

One :class:`TrustLayer` per runtime; the runtime calls :meth:`TrustLayer.pcc`, :meth:`TrustLayer.devices`
and :meth:`TrustLayer.soc` once per cycle and :meth:`TrustLayer.load_bounds` in the safe state. Alarm codes
(the operator UI translates by code):

==================== ==================================================================================
``pcc_implausible``  the PCC meter reads a value that cannot be true (non-finite, outside the physical
                     range, frozen, or disagreeing with the tenant meters beyond the Kirchhoff tolerance);
                     params ``meter``, ``meter_kw``, ``estimate_kw``, ``tolerance_kw``, ``used``
``pcc_lost``         no PCC reading; same params
``soc_implausible``  a battery's reported SoC disagrees with energy counting; params ``asset``,
                     ``reported_pct``, ``counted_pct``
``bms_alarm``, ``pcs_trip``, ``device_fault``  see :mod:`microgrid.control.latched`
==================== ==================================================================================

Each alarm is an event of kind ``alarm`` (``data``: ``code``, ``active``, ``params``) when it is raised,
when its params change materially and when it clears, and a store alarm row (``set_alarm``) keyed by code
and source.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from datetime import datetime

from microgrid.control.controllers.safe import LoadBounds
from microgrid.control.events import Event, Severity
from microgrid.control.fleet import FleetReadings
from microgrid.control.latched import LatchChanges, LatchedStates
from microgrid.control.plausibility import PccVerdict, Plausibility, PlausibilityConfig, injection_kw
from microgrid.control.soc_check import SocCheck
from microgrid.site.models import Site

AlarmSink = Callable[[str, bool, str, str, datetime], None]
"""``set_alarm(code, active, message, source, ts)`` of the store port."""


def _r(v: float | None) -> float | None:
    return None if v is None else (round(v, 1) if math.isfinite(v) else v)


class TrustLayer:
    """See the module docstring."""

    def __init__(self, site: Site, emit: Callable[[Event], object], set_alarm: AlarmSink, *,
                 config: PlausibilityConfig | None = None, load_rise_kw: float | None = None) -> None:
        self.site = site
        self._emit = emit
        self._set_alarm = set_alarm
        self.plausibility = Plausibility(site, config or PlausibilityConfig())
        c = site.control
        self.latches = LatchedStates(auto_reset=c.auto_reset, reset_attempts=c.auto_reset_attempts,
                                     reset_delay_s=c.auto_reset_delay_s)
        self.soc_check = SocCheck()
        rise = load_rise_kw if load_rise_kw is not None else c.safe_load_rise_kw
        self.load_rise_kw = rise if rise is not None else 0.1 * site.grid.import_cap_kw
        self.active: dict[tuple[str, str], str] = {}
        """(code, source) → message of the alarms held now."""
        self.last_load_kw: float | None = None
        """Uncontrolled load last computed from a plausible PCC value, kW."""
        self.raised: list[tuple[datetime, str, str]] = []
        """(time, code, source) of every alarm raised (for tests and the API)."""

    # ---- alarms ------------------------------------------------------------------------------------
    def alarm(self, code: str, source: str, active: bool, message: str, now: datetime, **params: object) -> None:
        """Raise (or refresh) / clear one alarm; events only on change."""
        key = (code, source)
        before = self.active.get(key)
        if active:
            self.active[key] = message
            if before is None:
                self.raised.append((now, code, source))
                self._emit(Event(now, "alarm", message, Severity.ALARM, source,
                                 {"code": code, "active": True, "params": params}))
                self._set_alarm(code, True, message, source, now)
            return
        if before is not None:
            del self.active[key]
            self._emit(Event(now, "alarm_cleared", f"cleared: {before}", Severity.INFO, source,
                             {"code": code, "active": False, "params": params}))
            self._set_alarm(code, False, f"cleared: {message}", source, now)

    # ---- the PCC -----------------------------------------------------------------------------------
    def pcc(self, readings: FleetReadings, now: datetime, stale_s: float | None) -> PccVerdict:
        v = self.plausibility.pcc(readings, stale_s)
        meter = v.meter.meter_id
        params = {"meter": meter, "meter_kw": _r(v.meter.value_kw), "estimate_kw": _r(v.estimate_kw),
                  "tolerance_kw": _r(v.tolerance_kw), "used": v.source}
        for code in ("pcc_implausible", "pcc_lost"):
            self.alarm(code, meter, v.alarm == code, f"{code}: {v.reason}", now, **params)
        if v.p_kw is not None:
            inj = [injection_kw(readings, a) for a in (*[p.id for p in self.site.assets.pv],
                                                       *[b.id for b in self.site.assets.batteries])]
            self.last_load_kw = v.p_kw + sum(i for i in inj if i is not None)
        return v

    def load_bounds(self, readings: FleetReadings) -> LoadBounds:
        """Load range for the safe state: proven by plausible tenant meters .. last known + allowed rise."""
        v = self.plausibility.last
        lo = max(v.proven_load_kw if v is not None else 0.0, self.site.control.safe_min_load_kw)
        # The proven part counts the tenants' own PV and storage as their injections; heat pumps and
        # flexible loads behind a plausible meter are inside it.
        hi = None if self.last_load_kw is None else max(self.last_load_kw + self.load_rise_kw, lo)
        return LoadBounds(lo_kw=max(lo, 0.0), hi_kw=hi)

    # ---- devices -----------------------------------------------------------------------------------
    def devices(self, readings: FleetReadings, now: datetime) -> LatchChanges:
        changes = self.latches.update(readings, now)
        for latch in changes.latched:
            self.alarm(latch.code, latch.asset_id, True, f"{latch.code}: {latch.text()}", now, **latch.params())
        for latch in changes.cleared:
            self.alarm(latch.code, latch.asset_id, False, f"{latch.code}: {latch.asset_id} ready again", now,
                       **latch.params())
        return changes

    @property
    def out_of_service(self) -> frozenset[str]:
        return self.latches.out_of_service

    def soc(self, readings: FleetReadings, now: datetime, dt_s: float) -> dict[str, float]:
        """Cross-check every battery's SoC; returns replacements for invalid reported values (id → %)."""
        out: dict[str, float] = {}
        for bat in self.site.assets.batteries:
            v = self.soc_check.update(bat, readings.storage.get(bat.id), now, dt_s)
            self.alarm("soc_implausible", bat.id, v.alarm is not None, f"soc_implausible: {v.reason}", now,
                       asset=bat.id, reported_pct=v.reported_pct, counted_pct=_r(v.counted_pct))
            if v.alarm and v.soc_pct is not None and v.soc_pct != v.reported_pct:
                out[bat.id] = v.soc_pct
        return out

    def snapshot(self) -> dict:
        v = self.plausibility.last
        return {"pcc_source": v.source if v else None, "pcc_estimate_kw": _r(v.estimate_kw) if v else None,
                "degraded": self.plausibility.degraded, "out_of_service": sorted(self.out_of_service),
                "alarms": [{"code": c, "source": s, "message": m} for (c, s), m in self.active.items()]}
