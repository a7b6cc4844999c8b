"""Plans in force: which schedule covers a moment, and what it says for the current interval.

A :class:`PlanRecord` is a :class:`optimizer.Schedule` plus where it came from (``day_ahead``,
``intraday``, ``fallback``), when it was made and its store version. :class:`PlanBook` keeps the plans
that still cover the future; for a moment ``t`` the *newest* plan whose horizon contains ``t`` is in
force (an intraday re-plan overrides the day-ahead plan from its start on; a fallback overrides both until
the next good plan).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

import pandas as pd

from optimizer import Schedule

STORAGE_KINDS = ("battery",)
LOAD_KINDS = ("heat_pump", "deferrable", "shiftable", "curtailable", "ev_depot")


@dataclass(frozen=True)
class IntervalPlan:
    """What the plan in force says for one interval (kW, park sign convention)."""

    start: datetime
    end: datetime
    plan_id: str
    source: str
    """``optimizer`` or ``baseline`` (rule-based fallback)."""
    storage_kw: dict[str, float] = field(default_factory=dict)
    """Battery setpoints, discharge > 0."""
    loads_kw: dict[str, float] = field(default_factory=dict)
    """Consumption setpoints of heat pumps, flexible loads and EV depots (> 0)."""
    pv_kw: dict[str, float] = field(default_factory=dict)
    """Planned PV output (informational: the real-time loop limits PV only for the PCC limits)."""
    grid_kw: float = 0.0
    """Planned net PCC power, import > 0."""
    price_cny_per_kwh: float = 0.0
    plan_peak_kw: float = 0.0
    """Highest planned import over the plan's horizon, kW (the peak the optimizer accepted)."""


@dataclass
class PlanRecord:
    """One accepted plan."""

    plan_id: str
    kind: str
    """``day_ahead``, ``intraday`` or ``fallback``."""
    created_at: datetime
    schedule: Schedule
    status: str = "optimal"
    kpis: dict = field(default_factory=dict)
    reason: str = ""

    @property
    def start(self) -> pd.Timestamp:
        return self.schedule.index[0]

    @property
    def end(self) -> pd.Timestamp:
        return self.schedule.index[-1] + pd.Timedelta(hours=self.schedule.step_h)

    def covers(self, t: datetime) -> bool:
        bounds = self.__dict__.get("_bounds")
        if bounds is None:
            bounds = self.__dict__["_bounds"] = (self.start.to_pydatetime(), self.end.to_pydatetime())
        return bounds[0] <= t < bounds[1]

    @property
    def source(self) -> str:
        return self.schedule.source

    def interval(self, t: datetime) -> IntervalPlan:
        """The interval of this plan containing ``t`` (which must be covered); cached per interval."""
        sched = self.schedule
        ts = pd.Timestamp(t)
        pos = int(sched.index.searchsorted(ts, side="right")) - 1
        if pos < 0 or not self.covers(t):
            raise KeyError(f"plan {self.plan_id} does not cover {ts.isoformat()}")
        cache = self.__dict__.setdefault("_intervals", {})
        if pos not in cache:
            cache[pos] = self._interval_at(pos)
        return cache[pos]

    def _interval_at(self, pos: int) -> IntervalPlan:
        sched = self.schedule
        row = sched.frame.iloc[pos]
        storage, loads, pv = {}, {}, {}
        for asset_id, kind in sched.assets.items():
            if kind in STORAGE_KINDS:
                storage[asset_id] = float(row[f"{asset_id}_kw"])
            elif kind == "heat_pump":
                loads[asset_id] = float(row[f"{asset_id}_p_el_kw"])
            elif kind in LOAD_KINDS:
                loads[asset_id] = float(row[f"{asset_id}_load_kw"])
            elif kind == "pv":
                pv[asset_id] = float(row[f"{asset_id}_kw"])
        start = sched.index[pos].to_pydatetime()
        frame = sched.frame
        peak = float(frame["grid_import_kw"].max()) if "grid_import_kw" in frame else 0.0
        return IntervalPlan(start=start, end=start + timedelta(hours=sched.step_h), plan_id=self.plan_id,
                            source=sched.source, storage_kw=storage, loads_kw=loads, pv_kw=pv,
                            grid_kw=float(row.get("grid_kw", 0.0)),
                            price_cny_per_kwh=float(row.get("price_import_cny_per_kwh", 0.0)),
                            plan_peak_kw=peak)

    def summary(self) -> dict:
        return {"plan_id": self.plan_id, "kind": self.kind, "source": self.source, "status": self.status,
                "created_at": self.created_at.isoformat(), "start": self.start.isoformat(),
                "end": self.end.isoformat(), "reason": self.reason,
                "kpis": {k: v for k, v in self.kpis.items() if isinstance(v, int | float | str | None)}}


class PlanBook:
    """Plans that still matter, newest last."""

    def __init__(self) -> None:
        self.records: list[PlanRecord] = []

    def add(self, record: PlanRecord) -> None:
        self.records.append(record)

    def at(self, t: datetime) -> PlanRecord | None:
        """The plan in force at ``t``: the newest one covering it."""
        for record in reversed(self.records):
            if record.covers(t):
                return record
        return None

    def interval(self, t: datetime) -> IntervalPlan | None:
        record = self.at(t)
        return record.interval(t) if record is not None else None

    def latest(self, kind: str | None = None) -> PlanRecord | None:
        for record in reversed(self.records):
            if kind is None or record.kind == kind:
                return record
        return None

    def prune(self, now: datetime) -> None:
        """Forget plans that ended before ``now`` (the store keeps them)."""
        ts = pd.Timestamp(now)
        self.records = [r for r in self.records if r.end > ts]
