"""Realised figures of a run, integrated cycle by cycle from the measurements.

Per planning interval (15 min) the PCC import/export energy, PV energy and curtailment, storage energy,
the plan in force and its price are integrated (each sample held for the time since the previous one).
When an interval closes, its average import updates the month-to-date peak (the demand-charge basis) and
the tracking error ``|mean PCC − planned grid_kw|``. Limit compliance is tracked per sample: the longest
continuous time the export exceeded a threshold (1 % of the PV rating) and the time above the import cap.

KPIs (:meth:`Accounting.kpis`) use the same definitions as :func:`optimizer.compute_kpis` where both exist:
consumption = import + PV − export (storage charging counts as consumption, its discharge as
the energy it returns, as in the plan KPIs); green energy = (PV − export) × retained certificate share;
CO2 = import × emission factor. Plan comparison over the fully covered intervals: ``plan_energy_cost_cny``
prices the planned import; ``plan_energy_cost_with_margin_cny`` prices ``max(planned PCC, pcc_floor)``, i.e.
the plan with the export safety margin the real-time loop holds (zero export: a few kW of import whenever the
plan has the PCC at exactly zero).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

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
class Accounting:
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
            storage_kw: float, plan: IntervalPlan | None) -> IntervalTotals | None:
        """Integrate one cycle ending at ``t`` (``dt_s`` since the previous). Returns an interval if one closed."""
        # A sample ending exactly on a boundary belongs to the interval before it.
        start = self.interval_start(t - timedelta(microseconds=1) if dt_s > 0 else t)
        closed = None
        if self.current is not None and self.current.start != start:
            closed = self.current
            self._close()
        if self.current is None:
            self.current = self._open(start, plan)
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
        self.compliance.add(pcc_kw, dt_s)
        return closed

    # ---- figures -----------------------------------------------------------------------------------
    def kpis(self) -> dict:
        """Realised KPIs over the closed intervals plus the current one."""
        rows = [*self.closed, *([self.current] if self.current else [])]
        site = self.site
        imp = sum(r.import_kwh for r in rows)
        exp = sum(r.export_kwh for r in rows)
        pv = sum(r.pv_kwh for r in rows)
        curtailed = sum(r.pv_curtailed_kwh for r in rows)
        storage = sum(r.storage_kwh for r in rows)
        energy_cost = sum(r.import_kwh * r.price_cny_per_kwh for r in rows)
        export_revenue = sum(r.export_kwh for r in rows) * site.tariff.feed_in_cny_per_kwh
        demand_rate = site.tariff.demand_charge_cny_per_kw_month if site.tariff.basic_charge == "demand" else 0.0
        demand_increase = demand_rate * max(self.month_peak_kw - self.peak_at_start_kw, 0.0)
        consumption = imp + pv - exp
        share = site.green_power.onsite_certificates_retained_pct / 100
        green = max(pv - exp, 0.0) * share
        ef = site.emission_factor()
        full = 0.9 * self.step_min * 60
        tracked = [r for r in self.closed if r.plan_grid_kw is not None and r.covered_s >= full]
        errors = [abs(r.mean_pcc_kw() - r.plan_grid_kw) for r in tracked]
        plan_cost = sum(max(r.plan_grid_kw, 0.0) * r.price_cny_per_kwh * r.covered_s / 3600 for r in tracked)
        floor_cost = sum(max(r.plan_grid_kw, self.pcc_floor_kw, 0.0) * r.price_cny_per_kwh * r.covered_s / 3600
                         for r in tracked)
        real_cost_tracked = sum(r.import_kwh * r.price_cny_per_kwh for r in tracked)
        covered_h = sum(r.covered_s for r in rows) / 3600
        return {
            "hours": round(covered_h, 3),
            "intervals": len(self.closed),
            "import_kwh": round(imp, 3), "export_kwh": round(exp, 3),
            "pv_generation_kwh": round(pv, 3), "pv_curtailed_kwh": round(curtailed, 3),
            "storage_net_kwh": round(storage, 3), "consumption_kwh": round(consumption, 3),
            "energy_cost_cny": round(energy_cost - export_revenue, 2),
            "demand_charge_increase_cny": round(demand_increase, 2),
            "cost_total_cny": round(energy_cost - export_revenue + demand_increase, 2),
            "peak_import_kw": round(max((r.import_kwh / (r.covered_s / 3600) for r in rows if r.covered_s > 0),
                                        default=0.0), 3),
            "month_peak_kw": round(self.month_peak_kw, 3),
            "green_energy_kwh": round(green, 3),
            "green_power_ratio": round(green / consumption, 4) if consumption > 0 else None,
            "co2_kg": round(imp * ef.kg_co2_per_kwh, 2),
            "emission_factor": f"{ef.id} ({ef.kg_co2_per_kwh} kg/kWh, {ef.document})",
            "tracking_mae_kw": round(sum(errors) / len(errors), 3) if errors else None,
            "tracking_max_kw": round(max(errors), 3) if errors else None,
            "plan_energy_cost_cny": round(plan_cost, 2),
            "plan_energy_cost_with_margin_cny": round(floor_cost, 2),
            "realised_energy_cost_tracked_cny": round(real_cost_tracked, 2),
            "compliance": self.compliance.to_dict(),
        }
