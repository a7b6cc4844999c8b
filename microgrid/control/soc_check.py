"""State of charge cross-checked against energy counting (the second SoC source every battery has).

The BMS reports SoC; the PCS (storage capability) reports AC power. Counting the AC energy over a window,
``ΔSoC = −∫P dt · η / E`` (charge: × ``eta_charge``; discharge: ÷ ``eta_discharge``; P discharge > 0),
predicts how far the SoC must have moved. A reported SoC that is non-finite or outside 0–100 % is invalid;
one whose change over the window differs from the counted change by more than ``tol_pct`` points (plus
``rel_pct`` of the counted change, for efficiency and capacity error) is implausible: alarm
``soc_implausible`` naming both values. The window restarts after every agreeing comparison, so counting
drift never accumulates beyond one window.

Which value is used: an *invalid* SoC is replaced by the counted one (anchored at the last valid value);
an implausible but valid one is kept for control — the BMS protects the cells on its own value — and
the alarm asks for a check. Counting needs the power reading, so a battery without one is not judged.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import datetime

from drivers.capabilities import StorageReading
from microgrid.site.models import Battery


@dataclass(frozen=True)
class SocVerdict:
    battery_id: str
    soc_pct: float | None
    """SoC to use (BMS value, or the counted one when the BMS value is invalid), %."""
    reported_pct: float | None
    counted_pct: float | None
    alarm: str | None = None
    """``soc_implausible`` while the two disagree or the report is invalid."""
    reason: str = ""


@dataclass
class _Window:
    start_reported: float
    counted: float
    t_start: datetime


@dataclass
class SocCheck:
    """Per-battery SoC watch; :meth:`update` once per cycle with the battery's reading."""

    tol_pct: float = 3.0
    rel_pct: float = 20.0
    window_s: float = 900.0
    """Length of one comparison window, s."""
    _windows: dict[str, _Window] = field(default_factory=dict)
    _alarm: dict[str, str] = field(default_factory=dict)

    def update(self, bat: Battery, r: StorageReading | None, now: datetime, dt_s: float) -> SocVerdict:
        if r is None or not r.valid or r.p_kw is None or not math.isfinite(r.p_kw):
            return SocVerdict(bat.id, None if r is None else r.soc_pct, None, None, self._alarm.get(bat.id),
                              "no power reading")
        w = self._windows.get(bat.id)
        p = float(r.p_kw)
        if w is not None and dt_s > 0:
            eta = bat.eta_charge if p < 0 else 1.0 / bat.eta_discharge
            w.counted -= p * dt_s / 3600.0 * eta / bat.e_kwh * 100.0
        soc = r.soc_pct
        if soc is None or not math.isfinite(soc) or not 0.0 <= soc <= 100.0:
            counted = w.counted if w is not None else None
            why = f"{bat.id}: reported SoC {soc} is invalid; counted {counted if counted is None else round(counted, 1)} %"
            self._alarm[bat.id] = why
            return SocVerdict(bat.id, counted, soc, counted, "soc_implausible", why)
        soc = float(soc)
        if w is None:
            self._windows[bat.id] = _Window(soc, soc, now)
            return SocVerdict(bat.id, soc, soc, soc)
        moved, counted_moved = soc - w.start_reported, w.counted - w.start_reported
        tol = self.tol_pct + self.rel_pct / 100.0 * abs(counted_moved)
        off = abs(moved - counted_moved)
        if off > tol:
            why = (f"{bat.id}: SoC reported {soc:.1f} % but energy counting gives {w.counted:.1f} % "
                   f"(moved {moved:+.1f} vs {counted_moved:+.1f} points since {w.t_start:%H:%M})")
            self._alarm[bat.id] = why
            return SocVerdict(bat.id, soc, soc, w.counted, "soc_implausible", why)
        if (now - w.t_start).total_seconds() >= self.window_s:
            self._windows[bat.id] = _Window(soc, soc, now)
            self._alarm.pop(bat.id, None)
        return SocVerdict(bat.id, soc, soc, w.counted, "soc_implausible" if bat.id in self._alarm else None,
                          self._alarm.get(bat.id, ""))
