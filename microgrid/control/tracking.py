"""What the controller integrates from its own samples while it runs: interval energies, month peak, limits.

Per planning interval (15 min) the PCC import/export energy, PV energy and curtailment, storage charge and
discharge, the plan in force and its price are integrated (each sample held for the time since the previous
one). When an interval closes, its average import updates the month-to-date peak (the demand-charge basis the
planner and the demand target use) and the tracking error ``|mean PCC − planned grid_kw|``. Limit compliance
is tracked per sample: the longest continuous time the export exceeded a threshold (1 % of the PV rating) and
the time above the import cap.

No figure is defined here: :meth:`RunTracker.table` hands the intervals to the one accounting
(:mod:`microgrid.accounting`, via :func:`microgrid.reports.figures.figures_from_table`), which computes green
power, CO2, cost and demand charge exactly as the reports do. Plan comparison over the fully covered
intervals: ``plan_energy_cost_cny`` prices the planned import; ``plan_energy_cost_with_margin_cny`` prices
``max(planned PCC, pcc_floor)``, i.e. the plan with the export safety margin the real-time loop holds.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd

from microgrid.control.plan import IntervalPlan
from microgrid.planning.tariff import tou_prices
from microgrid.profiles import day_index
from microgrid.site.models import Site

MAX_INTERVALS = 31 * 96
"""Closed intervals kept in memory (a month of 15-min intervals); KPIs cover at most these."""


@dataclass
class IntervalTotals:
    """Energies of one planning interval so far (kWh) and the plan in force at its start."""

    start: datetime
    covered_s: float = 0.0
    import_kwh: float = 0.0
    export_kwh: float = 0.0
    pv_kwh: float = 0.0
    pv_curtailed_kwh: float = 0.0
    storage_kwh: float = 0.0
    """Storage net AC energy, discharge > 0."""
    charge_kwh: float = 0.0
    discharge_kwh: float = 0.0
    stored_start_kwh: float | None = None
    """Energy in all batteries at the interval's first sample and its last (from SoC), kWh."""
    stored_end_kwh: float | None = None
    price_cny_per_kwh: float = 0.0
    plan_grid_kw: float | None = None
    plan_id: str | None = None
    plan_source: str | None = None

    def mean_pcc_kw(self) -> float | None:
        if self.covered_s <= 0:
            return None
        return (self.import_kwh - self.export_kwh) / (self.covered_s / 3600)


@dataclass
class Compliance:
    """Limit compliance from the PCC samples."""

    export_threshold_kw: float
    import_cap_kw: float
    max_export_kw: float = 0.0
    max_import_kw: float = 0.0
    export_over_s: float = 0.0
    """Total time with export above the threshold."""
    longest_export_over_s: float = 0.0
    import_over_s: float = 0.0
    longest_import_over_s: float = 0.0
    _run_export_s: float = 0.0
    _run_import_s: float = 0.0

    def add(self, pcc_kw: float, dt_s: float) -> None:
        self.max_export_kw = max(self.max_export_kw, -pcc_kw)
        self.max_import_kw = max(self.max_import_kw, pcc_kw)
        if -pcc_kw > self.export_threshold_kw:
            self._run_export_s += dt_s
            self.export_over_s += dt_s
            self.longest_export_over_s = max(self.longest_export_over_s, self._run_export_s)
        else:
            self._run_export_s = 0.0
        if pcc_kw > self.import_cap_kw:
            self._run_import_s += dt_s
            self.import_over_s += dt_s
            self.longest_import_over_s = max(self.longest_import_over_s, self._run_import_s)
        else:
            self._run_import_s = 0.0

    def to_dict(self) -> dict:
        return {"export_threshold_kw": round(self.export_threshold_kw, 3), "max_export_kw": round(self.max_export_kw, 3),
                "export_over_threshold_s": round(self.export_over_s, 1),
                "longest_export_over_threshold_s": round(self.longest_export_over_s, 1),
                "import_cap_kw": round(self.import_cap_kw, 3), "max_import_kw": round(self.max_import_kw, 3),
                "import_over_cap_s": round(self.import_over_s, 1),
                "longest_import_over_cap_s": round(self.longest_import_over_s, 1)}


@dataclass
class RunTracker:
    """Integrates one run (see module docstring)."""

    site: Site
    step_min: int
    month_peak_kw: float = 0.0
    """Highest interval-average import of the billing month so far, kW (resumed from the store)."""
    month: tuple[int, int] | None = None
    closed: list[IntervalTotals] = field(default_factory=list)
    current: IntervalTotals | None = None
    compliance: Compliance | None = None
    peak_at_start_kw: float = 0.0
    pcc_floor_kw: float = 0.0
    """Lowest PCC power the real-time loop holds (``−export_limit + export_margin``), kW: a plan asking for
    less (e.g. exactly zero import under zero export) is compared with this floor priced in."""
    _prices: dict[date, pd.Series] = field(default_factory=dict)

    def __post_init__(self) -> None:
        pv_rating = sum(p.inverter_ac_kw for p in self.site.assets.pv)
        self.compliance = Compliance(export_threshold_kw=self.site.grid.export_limit_kw + 0.01 * pv_rating,
                                     import_cap_kw=self.site.grid.import_cap_kw)
        self.peak_at_start_kw = self.month_peak_kw

    def interval_start(self, t: datetime) -> datetime:
        """Start of the planning interval containing ``t``, local time of the site."""
        local = t.astimezone(ZoneInfo(self.site.timezone))
        minutes = (local.hour * 60 + local.minute) // self.step_min * self.step_min
        return local.replace(hour=minutes // 60, minute=minutes % 60, second=0, microsecond=0)

    def price_at(self, start: datetime) -> float:
        local = pd.Timestamp(start).tz_convert(self.site.timezone)
        day = local.date()
        if day not in self._prices:
            index = day_index(self.site, day, self.step_min)
            prices, _ = tou_prices(self.site, index)
            self._prices[day] = pd.Series(prices, index=index)
        series = self._prices[day]
        pos = int(series.index.searchsorted(local, side="right")) - 1
        return float(series.iloc[max(pos, 0)])

    def _open(self, start: datetime, plan: IntervalPlan | None) -> IntervalTotals:
        local = pd.Timestamp(start).tz_convert(self.site.timezone)
        if self.month != (local.year, local.month):
            if self.month is not None:
                self.month_peak_kw = 0.0
            self.month = (local.year, local.month)
        return IntervalTotals(start=start, price_cny_per_kwh=self.price_at(start),
                              plan_grid_kw=plan.grid_kw if plan else None, plan_id=plan.plan_id if plan else None,
                              plan_source=plan.source if plan else None)

    def _close(self) -> None:
        cur = self.current
        if cur is None:
            return
        if cur.covered_s >= 0.5 * self.step_min * 60:
            # Interval-average import; a partly covered interval (restart, meter gap) counts its covered mean.
            self.month_peak_kw = max(self.month_peak_kw, cur.import_kwh / (cur.covered_s / 3600))
        self.closed.append(cur)
        if len(self.closed) > MAX_INTERVALS:
            del self.closed[: len(self.closed) - MAX_INTERVALS]
        self.current = None

    def add(self, t: datetime, dt_s: float, pcc_kw: float | None, pv_kw: float, pv_curtailed_kw: float,
            storage_kw: float, plan: IntervalPlan | None, *, stored_kwh: float | None = None) -> IntervalTotals | None:
        """Integrate one cycle ending at ``t`` (``dt_s`` since the previous; ``stored_kwh`` the energy in all
        batteries now, if known). Returns an interval if one closed."""
        # A sample ending exactly on a boundary belongs to the interval before it.
        start = self.interval_start(t - timedelta(microseconds=1) if dt_s > 0 else t)
        closed = None
        if self.current is not None and self.current.start != start:
            closed = self.current
            self._close()
        if self.current is None:
            self.current = self._open(start, plan)
            # The energy held when the previous interval ended is where this one starts.
            self.current.stored_start_kwh = closed.stored_end_kwh if closed is not None else stored_kwh
        if stored_kwh is not None:
            if self.current.stored_start_kwh is None:
                self.current.stored_start_kwh = stored_kwh
            self.current.stored_end_kwh = stored_kwh
        if dt_s <= 0 or pcc_kw is None:
            return closed
        h = dt_s / 3600
        cur = self.current
        cur.covered_s += dt_s
        cur.import_kwh += max(pcc_kw, 0.0) * h
        cur.export_kwh += max(-pcc_kw, 0.0) * h
        cur.pv_kwh += pv_kw * h
        cur.pv_curtailed_kwh += pv_curtailed_kw * h
        cur.storage_kwh += storage_kw * h
        cur.charge_kwh += max(-storage_kw, 0.0) * h
        cur.discharge_kwh += max(storage_kw, 0.0) * h
        self.compliance.add(pcc_kw, dt_s)
        return closed

    # ---- hand-over to the accounting ----------------------------------------------------------------
    def rows(self) -> list[IntervalTotals]:
        return [*self.closed, *([self.current] if self.current else [])]

    def park_frame(self) -> pd.DataFrame:
        """The integrated intervals as park rows of an interval table (:mod:`microgrid.reports.table`)."""
        rows = [r for r in self.rows() if r.covered_s > 0]
        step_s = self.step_min * 60
        return pd.DataFrame({
            "ts": [pd.Timestamp(r.start) for r in rows], "entity": "park",
            "import_kwh": [r.import_kwh for r in rows], "export_kwh": [r.export_kwh for r in rows],
            "pv_kwh": [r.pv_kwh for r in rows], "pv_curtailed_kwh": [r.pv_curtailed_kwh for r in rows],
            "bat_charge_kwh": [r.charge_kwh for r in rows], "bat_discharge_kwh": [r.discharge_kwh for r in rows],
            "bat_stored_start_kwh": [np.nan if r.stored_start_kwh is None else r.stored_start_kwh for r in rows],
            "bat_stored_end_kwh": [np.nan if r.stored_end_kwh is None else r.stored_end_kwh for r in rows],
            "coverage": [min(r.covered_s / step_s, 1.0) for r in rows],
        }, columns=["ts", "entity", "import_kwh", "export_kwh", "pv_kwh", "pv_curtailed_kwh", "bat_charge_kwh",
                    "bat_discharge_kwh", "bat_stored_start_kwh", "bat_stored_end_kwh", "coverage"])

    def kpis(self) -> dict:
        """Energies, tracking and compliance of the run (no priced figure: see :meth:`park_frame`)."""
        rows = self.rows()
        full = 0.9 * self.step_min * 60
        tracked = [r for r in self.closed if r.plan_grid_kw is not None and r.covered_s >= full]
        errors = [abs(r.mean_pcc_kw() - r.plan_grid_kw) for r in tracked]
        plan_cost = sum(max(r.plan_grid_kw, 0.0) * r.price_cny_per_kwh * r.covered_s / 3600 for r in tracked)
        floor_cost = sum(max(r.plan_grid_kw, self.pcc_floor_kw, 0.0) * r.price_cny_per_kwh * r.covered_s / 3600
                         for r in tracked)
        real_cost_tracked = sum(r.import_kwh * r.price_cny_per_kwh for r in tracked)
        return {
            "hours": round(sum(r.covered_s for r in rows) / 3600, 3),
            "intervals": len(self.closed),
            "import_kwh": round(sum(r.import_kwh for r in rows), 3),
            "export_kwh": round(sum(r.export_kwh for r in rows), 3),
            "pv_generation_kwh": round(sum(r.pv_kwh for r in rows), 3),
            "pv_curtailed_kwh": round(sum(r.pv_curtailed_kwh for r in rows), 3),
            "storage_net_kwh": round(sum(r.storage_kwh for r in rows), 3),
            "peak_import_kw": round(max((r.import_kwh / (r.covered_s / 3600) for r in rows if r.covered_s > 0),
                                        default=0.0), 3),
            "month_peak_kw": round(self.month_peak_kw, 3),
            "tracking_mae_kw": round(sum(errors) / len(errors), 3) if errors else None,
            "tracking_max_kw": round(max(errors), 3) if errors else None,
            "plan_energy_cost_cny": round(plan_cost, 2),
            "plan_energy_cost_with_margin_cny": round(floor_cost, 2),
            "realised_energy_cost_tracked_cny": round(real_cost_tracked, 2),
            "compliance": self.compliance.to_dict(),
        }
