"""Headline figures of any period ``[start, end)``, from the same ledgers and definitions as the reports.

The ``microgrid run`` summary, the API's ``/api/v1/green`` route, the dashboard tiles and the Prometheus gauges
all call :func:`period_figures` (metered: the store's rolled-up interval energies) or :func:`figures_from_table`
(any interval table); a report over the same period shows the same numbers, because both come from
:func:`microgrid.reports.build.build_report`.
"""

from __future__ import annotations

from datetime import datetime, timedelta

import numpy as np
import pandas as pd

from microgrid.accounting.rules import DemandRule
from microgrid.reports.build import ReportOptions, build_report
from microgrid.reports.model import Accounts
from microgrid.reports.table import ENERGY_COLUMNS, PARK, IntervalTable
from microgrid.site.models import Site

FIGURE_DOCS: dict[str, str] = {
    "start": "start of the period (ISO 8601)",
    "end": "end of the period (exclusive)",
    "intervals": "intervals with usable metered data",
    "coverage_pct": "share of the period's intervals with usable data, %",
    "consumption_kwh": "import - export + PV generation (storage losses included)",
    "green_power_ratio": "0-1 (绿电占比): (on-site PV consumed, certificates kept + trading + certificates + "
                         "direct supply) / consumption; exported PV never counts",
    "partial": "true when metered data cover less than 99 % of the period (every figure is then partial)",
    "green_label": "what the ratio contains; starts with PARTIAL when the data do not cover the period",
    "location_renewable_share": "0-1, on-site PV + the grid's renewable share of grid energy; kept apart",
    "co2_kg": "location-based Scope 2 = import x emission factor",
    "cost_energy_cny": "import x TOU price (demand charge and export revenue not included)",
    "demand_charge_month_to_date_cny": "the month's demand charge on the month-to-date peak (105 %/x2 rule)",
    "demand_charge_increase_cny": "what the period added to the month's demand charge",
    "storage_losses_kwh": "charge - discharge - increase of stored energy (a positive loss)",
}


def _window(table: IntervalTable, start: datetime, end: datetime) -> IntervalTable:
    """The table with every interval outside ``[start, end)`` turned into a gap."""
    frame = table.frame.copy()
    ts = frame["ts"]
    outside = (ts < pd.Timestamp(start)) | (ts >= pd.Timestamp(end))
    frame.loc[outside, list(ENERGY_COLUMNS)] = np.nan
    frame.loc[outside, "coverage"] = 0.0
    return IntervalTable(frame, table.interval_min, table.timezone, table.first_day, table.last_day,
                         source=table.source, source_note=table.source_note, source_note_zh=table.source_note_zh,
                         tenants=table.tenants, curtailment_known=table.curtailment_known, notes=table.notes,
                         notes_zh=table.notes_zh, findings=table.findings,
                         month_peak_before_kw=table.month_peak_before_kw)


def figures_from_accounts(site: Site, a: Accounts, start: datetime, end: datetime, *,
                          peak_before_kw: float = 0.0) -> dict:
    """The JSON-ready headline figures of one :class:`Accounts` row (see :data:`FIGURE_DOCS`)."""
    rule = DemandRule.from_tariff(site.tariff, site.grid.declared_demand_kw)
    step_s = 60.0 * site.site.resolution_min
    window = max(round((end - start).total_seconds() / step_s), 1)
    coverage = a.coverage_pct * a.intervals_expected / window
    ef = site.emission_factor()
    month_peak = a.month_peak_kw if a.month_peak_kw is not None else max(peak_before_kw, a.peak_import_kw or 0.0)
    label = ("green-power ratio (on-site PV kept + trading + certificates + direct supply; monthly and yearly "
             "volumes pro rata to the period)")
    partial = coverage < 99.0
    if partial:
        label = f"PARTIAL: metered data cover {coverage:.1f} % of the period; " + label
    return {
        "start": start.isoformat(), "end": end.isoformat(),
        "intervals": a.intervals_valid, "coverage_pct": round(min(coverage, 100.0), 2),
        "consumption_kwh": round(a.consumption_kwh, 3), "import_kwh": round(a.grid_import_kwh, 3),
        "export_kwh": round(a.grid_export_kwh, 3), "pv_generation_kwh": round(a.pv_generated_kwh, 3),
        "pv_self_consumed_kwh": round(a.pv_self_consumed_kwh, 3), "pv_exported_kwh": round(a.pv_exported_kwh, 3),
        "pv_curtailed_kwh": round(a.pv_curtailed_kwh, 3),
        "green_energy_kwh": round(a.green_total_kwh, 3),
        "green_power_ratio": None if a.green_ratio_pct is None else round(a.green_ratio_pct / 100.0, 6),
        "partial": partial, "green_label": label,
        "green_parts_kwh": {"onsite_pv": round(a.green_onsite_kwh, 3), "trading": round(a.green_trading_kwh, 3),
                            "certificates": round(a.green_certificates_kwh, 3), "direct": round(a.green_direct_kwh, 3),
                            "unused": round(a.green_unused_kwh, 3)},
        "onsite_physical_kwh": round(a.green_onsite_physical_kwh, 3),
        "location_renewable_share": None if a.location_renewable_share_pct is None
        else round(a.location_renewable_share_pct / 100.0, 6),
        "co2_kg": round(a.co2_location_kg, 3),
        "emission_factor": {"id": ef.id, "region": ef.region, "year": ef.year, "kg_co2_per_kwh": ef.kg_co2_per_kwh,
                            "document": ef.document},
        "cost_energy_cny": round(a.cost_energy_cny, 4),
        "cost_energy_by_period_cny": {k: round(v, 4) for k, v in a.cost_energy_by_period_cny.items()},
        "import_by_period_kwh": {k: round(v, 3) for k, v in a.import_by_period_kwh.items()},
        "export_revenue_cny": round(a.cost_export_revenue_cny, 4),
        "peak_import_kw": None if a.peak_import_kw is None else round(a.peak_import_kw, 3),
        "month_peak_before_kw": round(peak_before_kw, 3),
        "month_peak_kw": round(month_peak, 3),
        "demand_charge_month_to_date_cny": round(rule.charge_cny(month_peak), 4),
        "demand_charge_increase_cny": round(rule.increase_cny(peak_before_kw, month_peak), 4),
        "storage_charge_kwh": round(a.storage_charge_kwh, 3), "storage_discharge_kwh": round(a.storage_discharge_kwh, 3),
        "storage_losses_kwh": round(a.storage_losses_kwh, 3),
    }


def figures_from_table(site: Site, table: IntervalTable, start: datetime, end: datetime, *,
                       peak_before_kw: float = 0.0, options: ReportOptions | None = None) -> dict:
    """Figures of ``[start, end)`` from an interval table; ``peak_before_kw`` is the month's peak before
    ``start`` (month-to-date demand charge)."""
    month = pd.Timestamp(start).tz_convert(site.timezone).strftime("%Y-%m")
    windowed = _window(table, start, end)
    windowed.month_peak_before_kw = {month: peak_before_kw} if peak_before_kw else {}
    report = build_report(site, windowed, options=options)
    park = next(a for a in report.total if a.entity == PARK)
    out = figures_from_accounts(site, park, start, end, peak_before_kw=peak_before_kw)
    out["data_quality"] = list(report.meta.data_quality)
    return out


def period_figures(site: Site, store, start: datetime, end: datetime, *, options: ReportOptions | None = None
                   ) -> dict:
    """Figures of ``[start, end)`` from the store's metered interval energies (see the module docstring)."""
    from microgrid.reports.sources import SiteLayout, table_from_store

    tz = site.timezone
    end = max(end, start)
    first = pd.Timestamp(start).tz_convert(tz).date()
    last = (pd.Timestamp(end).tz_convert(tz) - timedelta(microseconds=1)).date() if end > start else first
    table = table_from_store(store, site, first, max(first, last),
                             min_coverage=(options or ReportOptions()).min_coverage)
    pcc = SiteLayout(site).pcc
    before = (store.month_peak_kw(pcc.id, start) if pcc is not None else None) or 0.0
    return figures_from_table(site, table, start, end, peak_before_kw=before, options=options)


__all__ = ["FIGURE_DOCS", "figures_from_accounts", "figures_from_table", "period_figures"]
