"""The report as one self-contained HTML file (inline SVG charts, no CDN) that prints cleanly to PDF."""

from __future__ import annotations

from datetime import datetime
from html import escape
from zoneinfo import ZoneInfo

from microgrid.reports import charts
from microgrid.reports.model import Accounts, Report
from microgrid.reports.table import PARK

CSS = """
@page { size: A4; margin: 14mm 12mm; }
body { font-family: "Noto Sans", "Noto Sans CJK SC", "Microsoft YaHei", Arial, sans-serif; font-size: 10pt;
       color: #222; max-width: 1100px; margin: 0 auto; padding: 12px; }
h1 { font-size: 17pt; margin: 0 0 4px; } h2 { font-size: 13pt; border-bottom: 2px solid #27ae60;
  padding-bottom: 2px; margin-top: 22px; } h3 { font-size: 11pt; margin: 14px 0 4px; }
.sub { color: #555; margin-bottom: 10px; }
.banner { padding: 8px 10px; margin: 8px 0; border-radius: 4px; font-weight: bold; }
.banner.simulated, .banner.planned { background: #fdebd0; border: 2px solid #e67e22; }
.banner.metered { background: #e8f6ef; border: 1px solid #27ae60; }
.warn { background: #fef9e7; border-left: 4px solid #f1c40f; padding: 6px 10px; margin: 6px 0; }
.kpis { display: grid; grid-template-columns: repeat(4, 1fr); gap: 8px; margin: 10px 0; }
.kpi { border: 1px solid #ddd; border-radius: 4px; padding: 6px 8px; }
.kpi .v { font-size: 14pt; font-weight: bold; } .kpi .l { color: #555; font-size: 8.5pt; }
table { border-collapse: collapse; width: 100%; margin: 6px 0; font-size: 8.5pt; }
th, td { border: 1px solid #ccc; padding: 3px 5px; text-align: right; }
th { background: #f2f4f4; } td.t, th.t { text-align: left; }
tr { page-break-inside: avoid; } thead { display: table-header-group; }
.met { color: #1e8449; font-weight: bold; } .notmet { color: #c0392b; font-weight: bold; }
.chart svg { max-width: 100%; height: auto; }
.page { page-break-before: always; }
.small { font-size: 8.5pt; color: #555; }
@media print { body { max-width: none; padding: 0; } .chart { page-break-inside: avoid; } }
"""



def _local(ts: datetime, timezone: str) -> datetime:
    """Customers read the report in the site's time, not UTC."""
    return ts.astimezone(ZoneInfo(timezone))

def _n(value: float | None, digits: int = 0) -> str:
    if value is None:
        return "–"
    return f"{value:,.{digits}f}"


def _mwh(kwh: float | None) -> str:
    return "–" if kwh is None else f"{kwh / 1000:,.2f}"


def _pct(value: float | None) -> str:
    return "–" if value is None else f"{value:.1f} %"


def _kpi(label: str, value: str) -> str:
    return f'<div class="kpi"><div class="v">{escape(value)}</div><div class="l">{escape(label)}</div></div>'


def _table(head: list[str], rows: list[list[str]], text_cols: int = 1) -> str:
    th = "".join(f'<th class="{"t" if i < text_cols else ""}">{escape(h)}</th>' for i, h in enumerate(head))
    body = "".join("<tr>" + "".join(f'<td class="{"t" if i < text_cols else ""}">{c}</td>' for i, c in enumerate(r))
                   + "</tr>" for r in rows)
    return f"<table><thead><tr>{th}</tr></thead><tbody>{body}</tbody></table>"


ENERGY_HEAD = ["entity", "period", "coverage", "consumption MWh", "grid import MWh", "PV gen. MWh",
               "PV self-cons. MWh", "PV exported MWh", "PV curtailed MWh", "storage in/out MWh", "storage losses MWh",
               "green MWh", "green ratio", "CO2 loc. t", "CO2 mkt. t", "cost CNY", "savings CNY"]


def _energy_row(a: Accounts) -> list[str]:
    name = escape(a.entity) + (" *" if a.estimated else "")
    return [name, escape(a.period), _pct(a.coverage_pct), _mwh(a.consumption_kwh), _mwh(a.grid_import_kwh),
            _mwh(a.pv_generated_kwh), _mwh(a.pv_self_consumed_kwh), _mwh(a.pv_exported_kwh), _mwh(a.pv_curtailed_kwh),
            f"{_mwh(a.storage_charge_kwh)} / {_mwh(a.storage_discharge_kwh)}", _mwh(a.storage_losses_kwh),
            _mwh(a.green_total_kwh), _pct(a.green_ratio_pct), _n(a.co2_location_kg / 1000, 2),
            _n(a.co2_market_kg / 1000, 2), _n(a.cost_total_cny), _n(a.savings_cny)]


def _cost_rows(items: list[Accounts]) -> list[list[str]]:
    rows = []
    for a in items:
        by = a.cost_energy_by_period_cny
        rows.append([escape(a.entity), escape(a.period), _n(by["critical"]), _n(by["peak"]), _n(by["flat"]),
                     _n(by["valley"]), _n(a.cost_energy_cny), _n(a.cost_basic_charge_cny),
                     _n(a.cost_export_revenue_cny), _n(a.cost_total_cny), _n(a.counterfactual_cost_cny),
                     _n(a.savings_cny)])
    return rows


COST_HEAD = ["entity", "period", "critical", "peak", "flat", "valley", "energy", "basic charge", "export revenue",
             "total", "without storage/opt.", "savings"]


def _green_rows(items: list[Accounts]) -> list[list[str]]:
    return [[escape(a.entity), _mwh(a.consumption_kwh), _mwh(a.green_onsite_physical_kwh), _mwh(a.green_onsite_kwh),
             _mwh(a.onsite_certificates_sold_kwh), _mwh(a.green_direct_kwh), _mwh(a.green_trading_kwh),
             _mwh(a.green_certificates_kwh), _mwh(a.green_total_kwh), _pct(a.green_ratio_pct),
             _pct(a.onsite_physical_share_pct), _pct(a.location_renewable_share_pct)] for a in items]


GREEN_HEAD = ["entity", "consumption MWh", "on-site PV consumed", "… certificates retained", "… certificates sold",
              "direct supply", "green trading", "retired certificates", "green total", "green ratio",
              "on-site share (physical)", "location-based share"]


def render_html(report: Report) -> str:
    """The whole report; its first page carries the data source, the gaps and the headline figures."""
    m = report.meta
    focus = m.tenant or PARK
    main = next(a for a in report.total if a.entity == focus)
    tenants = [a for a in report.total if a.entity != PARK]
    title = f"Green power, carbon and cost report — {m.site_name}"
    who = f"tenant {m.tenant}" if m.tenant else "park and tenants"
    parts = [f"<h1>{escape(title)}</h1>",
             f'<div class="sub">{escape(m.site_id)} · {who} · {m.first_day} to {m.last_day} ({escape(m.timezone)}, '
             f"{m.interval_min}-min intervals) · generated {_local(m.generated_at, m.timezone):%Y-%m-%d %H:%M} local time</div>"]
    label = {"metered": "METERED data", "simulated": "SIMULATED data — not metered",
             "planned": "PLANNED data — not metered"}[m.data_source]
    parts.append(f'<div class="banner {m.data_source}">{escape(label)}: {escape(m.data_note)}</div>')
    parts += [f'<div class="warn">{escape(w)}</div>' for w in m.warnings if not w.startswith("These figures are")]
    parts.append('<div class="kpis">' + "".join([
        _kpi("green-power ratio 绿电占比", _pct(main.green_ratio_pct)),
        _kpi("consumption", f"{_mwh(main.consumption_kwh)} MWh"),
        _kpi("on-site PV consumed", f"{_mwh(main.green_onsite_physical_kwh)} MWh"),
        _kpi("data coverage", _pct(main.coverage_pct)),
        _kpi(f"Scope 2 location-based ({m.factor_location.region} {m.factor_location.year})",
             f"{_n(main.co2_location_kg / 1000, 1)} tCO2"),
        _kpi("Scope 2 market-based", f"{_n(main.co2_market_kg / 1000, 1)} tCO2"),
        _kpi("energy cost (TOU)", f"{_n(main.cost_energy_cny, 2)} CNY"),
        _kpi("demand charge, month to date", "–" if main.demand_charge_month_to_date_cny is None
             else f"{_n(main.demand_charge_month_to_date_cny, 2)} CNY"),
        _kpi("CO2 location-based", f"{_n(main.co2_location_kg, 1)} kg"),
        _kpi("electricity cost", f"{_n(main.cost_total_cny)} CNY"),
        _kpi("savings vs no storage/optimisation", f"{_n(main.savings_cny)} CNY"),
    ]) + "</div>")
    target_rows = [[escape(t.name), _pct(t.target_pct), _pct(t.actual_pct),
                    '<span class="met">met</span>' if t.met else ('<span class="notmet">not met</span>'
                                                                   if t.met is not None else "–"),
                    _n(t.gap_pp, 1), escape(t.basis), escape(t.source)] for t in report.targets]
    parts.append("<h3>Targets</h3>" + _table(["target", "required", "actual", "status", "gap (pp)", "basis", "source"],
                                             target_rows, text_cols=1))
    loc, mkt = m.factor_location, m.factor_market
    sec = m.factor_secondary
    factors = [f"Location-based: {loc.kg_co2_per_kwh} kgCO2/kWh — {escape(loc.region)} {loc.year}, "
               f"{escape(loc.document)}" + (f" ({escape(loc.url)})" if loc.url else "")]
    if sec:
        factors.append(f"Secondary: {sec.kg_co2_per_kwh} kgCO2/kWh — {escape(sec.region)} {sec.year}, "
                       f"{escape(sec.document)}")
    factors.append(f"Market-based: {mkt.kg_co2_per_kwh} kgCO2/kWh ({escape(mkt.id)}) — {escape(m.factor_market_note)}")
    tariff = f"Tariff: {escape(m.tariff_name)}" + (" (illustrative prices)" if m.tariff_illustrative else "")
    parts.append('<p class="small">' + "<br>".join([*factors, tariff + f" — {escape(m.tariff_source)}"]) + "</p>")

    days = report.rows("day", focus)
    months = report.rows("month", focus)
    parts.append('<h2 class="page">Daily energy</h2>')
    parts.append(f'<div class="chart">{charts.daily_stack(days)}</div>')
    parts.append("<h2>Green-power ratio by month</h2>")
    parts.append(f'<div class="chart">{charts.monthly_ratio(months, report.targets)}</div>')
    if tenants:
        parts.append('<h2 class="page">Tenants</h2>')
        site_target = next((t.target_pct for t in report.targets if t.id == "site"), None)
        parts.append(f'<div class="chart">{charts.tenant_ratios(tenants, site_target)}</div>')
        parts.append(_table(ENERGY_HEAD, [_energy_row(a) for a in report.total], text_cols=2))
        if any(a.estimated for a in tenants):
            parts.append('<p class="small">* consumption derived from the park meters (no own meter).</p>')
    parts.append("<h2>Green power (绿电) breakdown, whole period</h2>")
    parts.append(_table(GREEN_HEAD, _green_rows(report.total)))
    parts.append("<h2>Cost, whole period (CNY)</h2>")
    parts.append(_table(COST_HEAD, _cost_rows(report.total), text_cols=2))
    parts.append('<h2 class="page">By month</h2>')
    parts.append(_table(ENERGY_HEAD, [_energy_row(a) for a in report.monthly], text_cols=2))
    if len(report.yearly) > len(report.total):
        parts.append("<h2>By year</h2>")
        parts.append(_table(ENERGY_HEAD, [_energy_row(a) for a in report.yearly], text_cols=2))
    parts.append(f"<h2>By day ({escape(focus)})</h2>")
    parts.append(_table(ENERGY_HEAD, [_energy_row(a) for a in days], text_cols=2))
    if m.gaps:
        parts.append("<h2>Data gaps</h2>")
        parts.append(_table(["entity", "from", "to", "intervals"],
                            [[escape(g.entity), f"{g.start:%Y-%m-%d %H:%M}", f"{g.end:%Y-%m-%d %H:%M}",
                              str(g.intervals)] for g in m.gaps[:200]]))
        if len(m.gaps) > 200:
            parts.append(f'<p class="small">… and {len(m.gaps) - 200} more gaps (see the CSV/XLSX).</p>')
    if m.data_quality:
        parts.append("<h2>Data-quality findings</h2><ul class=\"small\">"
                     + "".join(f"<li>{escape(f)}</li>" for f in m.data_quality[:200]) + "</ul>")
    parts.append("<h2>Definitions</h2><ul class=\"small\">" + "".join(f"<li>{escape(n)}</li>" for n in m.notes)
                 + "</ul>")
    body = "\n".join(parts)
    return (f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8"><title>{escape(title)}</title>'
            f"<style>{CSS}</style></head><body>\n{body}\n</body></html>\n")
