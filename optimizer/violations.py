"""Named limits a schedule does not meet: the one record shared by the diagnosis, the relaxed plan and the
rule-based fallback, so a caller (the runtime's alarms, the CLI, the API) reads them the same way.

A :class:`Conflict` names the limit family, its subject (asset, transformer, session or ``grid``), the
intervals where it is broken, the worst (power families, kW) or total (energy families, kWh) amount and a
sentence for operators. :func:`power_violations` builds one from a per-interval excess.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

FAMILY_ORDER = {"import_limit": 0, "transformer_down": 1, "transformer_up": 1, "export_limit": 2, "network": 3,
                "ev": 4, "deferrable": 5, "heat": 6, "tank_end": 7, "battery_end": 8, "green": 9}
"""Order in which conflicts are listed: grid caps first, comfort and end-of-horizon rules last."""


@dataclass
class Conflict:
    """One limit that a plan breaks (or that makes the problem infeasible)."""

    family: str
    """``import_limit``, ``export_limit``, ``transformer_down``/``_up``, ``heat``, ``tank_end``,
    ``battery_end``, ``ev``, ``deferrable``, ``green``, ``network``."""
    subject: str
    """Asset, transformer, session or limit name (``grid`` for the PCC caps)."""
    amount: float
    """Largest violation (power families, kW) or total shortfall (energy families, kWh)."""
    unit: str
    message: str
    steps: list[int] = field(default_factory=list)
    """Intervals (0-based positions in the horizon) where the limit is broken; empty for energy totals."""

    def to_dict(self) -> dict:
        """JSON-ready form (for stores, alarms and the API)."""
        return {"family": self.family, "subject": self.subject, "amount": round(float(self.amount), 6),
                "unit": self.unit, "steps": [int(s) for s in self.steps], "message": self.message}


def sort_conflicts(conflicts: list[Conflict]) -> list[Conflict]:
    """Grid caps first, then by size within a family (see :data:`FAMILY_ORDER`)."""
    return sorted(conflicts, key=lambda c: (FAMILY_ORDER.get(c.family, 99), -c.amount))


def hhmm(ts: pd.Timestamp, end_of: pd.Timestamp | None = None) -> str:
    """``HH:MM``; an end at midnight after ``end_of``'s day prints as ``24:00``."""
    if end_of is not None and ts.normalize() > end_of.normalize() and ts == ts.normalize():
        return "24:00"
    return ts.strftime("%H:%M")


def runs(steps: list[int]) -> list[list[int]]:
    """Group sorted step indices into contiguous runs."""
    out: list[list[int]] = []
    for s in steps:
        if out and s == out[-1][-1] + 1:
            out[-1].append(s)
        else:
            out.append([s])
    return out


def when(index: pd.DatetimeIndex, steps: list[int], limit: int = 3) -> str:
    """``19:00`` or ``19:00–20:15`` (end of the last interval), several runs joined by commas."""
    dt = index[1] - index[0] if len(index) > 1 else pd.Timedelta(minutes=15)
    parts = []
    groups = runs(steps)
    for run in groups[:limit]:
        start = index[run[0]]
        parts.append(hhmm(start) if len(run) == 1 else f"{hhmm(start)}–{hhmm(index[run[-1]] + dt, start)}")
    more = len(groups) - limit
    return ", ".join(parts) + (f" and {more} more period(s)" if more > 0 else "")


def power_violations(index: pd.DatetimeIndex, family: str, subject: str, excess_kw: np.ndarray, what: str,
                     tol_kw: float = 1e-3) -> Conflict | None:
    """A :class:`Conflict` for the intervals where ``excess_kw`` (kW above a limit) exceeds ``tol_kw``.

    ``what`` describes the limit, e.g. ``"import cap 1600 kW"``; the message reads
    ``"<what> exceeded at 17:00–18:30 by up to 686 kW"``.
    """
    excess = np.asarray(excess_kw, dtype=float)
    steps = [int(t) for t in np.flatnonzero(excess > tol_kw)]
    if not steps:
        return None
    worst = float(excess[steps].max())
    return Conflict(family, subject, worst, "kW", f"{what} exceeded at {when(index, steps)} by up to {worst:.1f} kW",
                    steps)
