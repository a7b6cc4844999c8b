"""Storage units that do not follow their setpoints are not counted on.

The balancing controller predicts the PCC from the setpoints it sends (``pcc' = pcc − (T − Σ p)``). A unit
that accepts its setpoint but does not move (its own safe state after a missed heartbeat, local mode, a
PCS that ignores remote control) makes that prediction wrong every cycle, and the import cap is lost while
the loop waits for power that never comes. Each cycle this check compares a unit's measured power with
what its previous setpoint should have given (ramp and bounds of that cycle); after ``misses`` misses in a
row the unit is taken out of the allocation for ``hold_s`` (its power stays in the PCC as measured; the
others and the consumers make up for it), then tried again.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta

from microgrid.control.controllers.types import StorageUnit


@dataclass
class StorageFollowing:
    """Per-unit record of setpoints sent and whether the unit follows them."""

    misses: int = 2
    """Cycles in a row a unit may miss its setpoint before it is not counted on."""
    hold_s: float = 300.0
    """How long a unit that does not follow stays out of the allocation, s (doubled each time it fails
    again right after being tried, up to an hour)."""
    tol_kw: float = 5.0
    tol_pct: float = 5.0
    """A unit follows when within ``max(tol_kw, tol_pct % of its rating)`` of the expected power."""
    _sent: dict[str, tuple[float, float, float, float]] = field(default_factory=dict)
    _missed: dict[str, int] = field(default_factory=dict)
    _blocked_until: dict[str, datetime] = field(default_factory=dict)
    _strikes: dict[str, int] = field(default_factory=dict)

    def check(self, units: tuple[StorageUnit, ...], dt_s: float, now: datetime) -> tuple[tuple[StorageUnit, ...],
                                                                                         list[str]]:
        """Units with those that do not follow marked offline, and the ids newly taken out this cycle."""
        out, newly = [], []
        for u in units:
            sent = self._sent.pop(u.id, None)
            if u.online and sent is not None:
                setpoint, p_before, lo, hi = sent
                step = float("inf") if u.ramp_kw_per_s is None else u.ramp_kw_per_s * max(dt_s, 0.0)
                # what the setpoint should have given: ramp from the power then, within the bounds then and
                # now (a BMS limit or an empty battery reported since is not a failure to follow)
                lo_now, hi_now = u.bounds_kw()
                expected = p_before + min(max(setpoint - p_before, -step), step)
                expected = min(max(expected, max(lo, lo_now)), min(hi, hi_now))
                tol = max(self.tol_kw, self.tol_pct / 100 * max(u.p_charge_max_kw, u.p_discharge_max_kw, hi, -lo))
                missed = abs(u.p_kw - expected) > tol
                self._missed[u.id] = self._missed.get(u.id, 0) + 1 if missed else 0
                if not missed and abs(setpoint - p_before) > tol:
                    self._strikes[u.id] = 0  # it moved as told: the next failure starts afresh
                if self._missed[u.id] >= self.misses and u.id not in self._blocked_until:
                    strikes = self._strikes.get(u.id, 0)
                    self._strikes[u.id] = strikes + 1
                    hold = min(self.hold_s * 2 ** strikes, 3600.0)
                    self._blocked_until[u.id] = now + timedelta(seconds=hold)
                    newly.append(u.id)
            until = self._blocked_until.get(u.id)
            if until is not None and now >= until:
                del self._blocked_until[u.id]
                self._missed[u.id] = 0
                until = None
            out.append(replace(u, online=False) if until is not None else u)
        return tuple(out), newly

    def blocked(self) -> set[str]:
        return set(self._blocked_until)

    def sent(self, units: tuple[StorageUnit, ...], setpoints: dict[str, float]) -> None:
        """Record the setpoints handed to the drivers this cycle (with each unit's power and bounds now)."""
        for u in units:
            if u.online and u.id in setpoints:
                lo, hi = u.bounds_kw()
                self._sent[u.id] = (setpoints[u.id], u.p_kw, lo, hi)
