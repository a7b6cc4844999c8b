"""The report as one self-contained HTML file (inline SVG charts, no CDN) that prints cleanly to PDF."""

from __future__ import annotations

from datetime import datetime
from html import escape
from zoneinfo import ZoneInfo

from microgrid.i18n import t
from microgrid.reports import charts
from microgrid.reports.dr import DR_HEAD, dr_rows, dr_rule
from microgrid.reports.model import Accounts, Report
from microgrid.reports.table import PARK
from microgrid.reports.targets import target_name

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


ENERGY_HEAD = ["entity", "period", "coverage", "consumption", "import", "pv", "pv_self", "pv_export", "pv_curtailed",
               "storage", "storage_losses", "green", "green_ratio", "co2_loc", "co2_mkt", "cost", "savings"]
"""Catalogue keys ``rep.e.<name>`` of the energy table's columns."""


def _entity(name: str, lang: str) -> str:
    return t("rep.park", lang) if name == PARK else name


def _energy_row(a: Accounts, lang: str) -> list[str]:
    name = escape(_entity(a.entity, lang)) + (" *" if a.estimated else "")
    return [name, escape(a.period), _pct(a.coverage_pct), _mwh(a.consumption_kwh), _mwh(a.grid_import_kwh),
            _mwh(a.pv_generated_kwh), _mwh(a.pv_self_consumed_kwh), _mwh(a.pv_exported_kwh), _mwh(a.pv_curtailed_kwh),
            f"{_mwh(a.storage_charge_kwh)} / {_mwh(a.storage_discharge_kwh)}", _mwh(a.storage_losses_kwh),
            _mwh(a.green_total_kwh), _pct(a.green_ratio_pct), _n(a.co2_location_kg / 1000, 2),
            _n(a.co2_market_kg / 1000, 2), _n(a.cost_total_cny), _n(a.savings_cny)]


def _cost_rows(items: list[Accounts], lang: str) -> list[list[str]]:
    rows = []
    for a in items:
        by = a.cost_energy_by_period_cny
        rows.append([escape(_entity(a.entity, lang)), escape(a.period), _n(by["critical"]), _n(by["peak"]),
                     _n(by["flat"]), _n(by["valley"]), _n(a.cost_energy_cny), _n(a.cost_basic_charge_cny),
                     _n(a.cost_export_revenue_cny), _n(a.cost_total_cny), _n(a.counterfactual_cost_cny),
                     _n(a.savings_cny)])
    return rows


COST_HEAD = ["entity", "period", "critical", "peak", "flat", "valley", "energy", "basic", "export", "total",
             "counterfactual", "savings"]
"""Catalogue keys ``rep.c.<name>`` (``rep.e.<name>`` for entity and period)."""


def _green_rows(items: list[Accounts], lang: str) -> list[list[str]]:
    return [[escape(_entity(a.entity, lang)), _mwh(a.consumption_kwh), _mwh(a.green_onsite_physical_kwh),
             _mwh(a.green_onsite_kwh), _mwh(a.onsite_certificates_sold_kwh), _mwh(a.green_direct_kwh),
             _mwh(a.green_trading_kwh), _mwh(a.green_certificates_kwh), _mwh(a.green_total_kwh),
             _pct(a.green_ratio_pct), _pct(a.onsite_physical_share_pct), _pct(a.location_renewable_share_pct)]
            for a in items]


GREEN_HEAD = ["consumption", "onsite", "retained", "sold", "direct", "trading", "certificates", "total", "ratio",
              "physical", "location"]
"""Catalogue keys ``rep.g.<name>`` (after the entity column)."""


def _heads(prefix: str, names: list[str], lang: str) -> list[str]:
    return [t(f"rep.e.{n}", lang) if n in ("entity", "period") and prefix != "rep.e" else t(f"{prefix}.{n}", lang)
            for n in names]


def _dr_section(report: Report, lang: str) -> list[str]:
    """The period's DR events with their settlement (metered park reports only)."""
    if report.demand_response_terms is None:
        return []
    out = [f"<h2>{escape(t('rep.h.dr', lang))}</h2>"]
    if not report.demand_response:
        return [*out, f'<p class="small">{escape(t("rep.dr.none", lang))}</p>']
    rows = [[escape(r[0]), r[1], _n(r[2]), escape(r[3]) or "–", *(_n(v, 1) for v in r[4:9]), _pct(r[9]),
             _n(r[10], 2), _n(r[11], 2), escape(r[12])] for r in dr_rows(report, lang)]
    rows.append([escape(t("rep.dr.total", lang)), *[""] * 9,
                 _n(sum(s.compensation_cny for s in report.demand_response), 2),
                 _n(sum(s.penalty_cny for s in report.demand_response), 2), ""])
    out.append(_table([t(f"rep.dr.{k}", lang) for k in DR_HEAD], rows, text_cols=2))
    out.append(f'<p class="small">{escape(dr_rule(report, lang))}</p>')
    return out


def render_html(report: Report, lang: str = "en") -> str:
    """The whole report in ``lang`` (``en`` or ``zh-CN``); its first page carries the data source, the gaps
    and the headline figures. Times are the site's local time."""
    def L(key: str, **params: object) -> str:  # noqa: N802 - reads like the text it is
        return t(key, lang, **params)

    zh = lang != "en"
    m = report.meta
    focus = m.tenant or PARK
    main = next(a for a in report.total if a.entity == focus)
    tenants = [a for a in report.total if a.entity != PARK]
    site_name = (m.site_name_zh or m.site_name) if zh else m.site_name
    title = L("rep.title", site=site_name)
    who = L("rep.who_tenant", tenant=m.tenant) if m.tenant else L("rep.who_all")
    parts = [f"<h1>{escape(title)}</h1>",
             '<div class="sub">' + escape(L("rep.sub", site_id=m.site_id, who=who, first=m.first_day, last=m.last_day,
                                                tz=m.timezone, interval=m.interval_min,
                                                generated=f"{_local(m.generated_at, m.timezone):%Y-%m-%d %H:%M}"))
             + "</div>"]
    note = (m.data_note_zh or m.data_note) if zh else m.data_note
    colon = "：" if zh else ": "
    parts.append(f'<div class="banner {m.data_source}">{escape(L(f"rep.banner.{m.data_source}"))}{colon}'
                 f"{escape(note)}</div>")
    warnings = m.warnings_zh if zh and m.warnings_zh else m.warnings
    parts += [f'<div class="warn">{escape(w)}</div>' for w, en in zip(warnings, m.warnings, strict=False)
              if not en.startswith("These figures are")]
    cny = L("rep.cny")
    parts.append('<div class="kpis">' + "".join([
        _kpi(L("rep.kpi.green_ratio") + ("" if zh else " 绿电占比"), _pct(main.green_ratio_pct)),
        _kpi(L("rep.kpi.consumption"), f"{_mwh(main.consumption_kwh)} MWh"),
        _kpi(L("rep.kpi.pv_consumed"), f"{_mwh(main.green_onsite_physical_kwh)} MWh"),
        _kpi(L("rep.kpi.coverage"), _pct(main.coverage_pct)),
        _kpi(L("rep.kpi.scope2_location", region=m.factor_location.region, year=m.factor_location.year),
             f"{_n(main.co2_location_kg / 1000, 1)} tCO2"),
        _kpi(L("rep.kpi.scope2_market"), f"{_n(main.co2_market_kg / 1000, 1)} tCO2"),
        _kpi(L("rep.kpi.energy_cost"), f"{_n(main.cost_energy_cny, 2)} {cny}"),
        _kpi(L("rep.kpi.demand_mtd"), "–" if main.demand_charge_month_to_date_cny is None
             else f"{_n(main.demand_charge_month_to_date_cny, 2)} {cny}"),
        _kpi(L("rep.kpi.co2_location"), f"{_n(main.co2_location_kg, 1)} kg"),
        _kpi(L("rep.kpi.cost"), f"{_n(main.cost_total_cny)} {cny}"),
        _kpi(L("rep.kpi.savings"), f"{_n(main.savings_cny)} {cny}"),
    ]) + "</div>")
    basis = L("rep.basis", entity=_entity(main.entity, lang), period=main.period, coverage=_pct(main.coverage_pct))
    target_rows = [[escape(target_name(tp, lang)), _pct(tp.target_pct), _pct(tp.actual_pct),
                    f'<span class="met">{L("rep.met")}</span>' if tp.met else (
                        f'<span class="notmet">{L("rep.not_met")}</span>' if tp.met is not None else "–"),
                    _n(tp.gap_pp, 1), escape(basis),
                    escape(L("target.site_source") if tp.id == "site" else tp.source)] for tp in report.targets]
    parts.append(f"<h3>{L('rep.targets')}</h3>" + _table(
        [L(f"rep.th.{k}") for k in ("target", "required", "actual", "status", "gap", "basis", "source")],
        target_rows, text_cols=1))
    loc, mkt = m.factor_location, m.factor_market
    sec = m.factor_secondary
    factors = [escape(L("rep.factor.location", value=loc.kg_co2_per_kwh, region=loc.region, year=loc.year,
                        document=loc.document)) + (f" ({escape(loc.url)})" if loc.url else "")]
    if sec:
        factors.append(escape(L("rep.factor.secondary", value=sec.kg_co2_per_kwh, region=sec.region, year=sec.year,
                                document=sec.document)))
    factors.append(escape(L("rep.factor.market", value=mkt.kg_co2_per_kwh, id=mkt.id, note=(m.factor_market_note_zh or m.factor_market_note) if zh else m.factor_market_note)))
    tariff = escape(L("rep.tariff", name=m.tariff_name) + (L("rep.illustrative") if m.tariff_illustrative else ""))
    parts.append('<p class="small">' + "<br>".join([*factors, tariff + f" — {escape(m.tariff_source)}"]) + "</p>")

    days = report.rows("day", focus)
    months = report.rows("month", focus)
    energy_head = _heads("rep.e", ENERGY_HEAD, lang)
    parts.append(f'<h2 class="page">{L("rep.h.daily")}</h2>')
    parts.append(f'<div class="chart">{charts.daily_stack(days, lang)}</div>')
    parts.append(f"<h2>{L('rep.h.monthly_ratio')}</h2>")
    parts.append(f'<div class="chart">{charts.monthly_ratio(months, report.targets, lang)}</div>')
    if tenants:
        parts.append(f'<h2 class="page">{L("rep.h.tenants")}</h2>')
        site_target = next((tp.target_pct for tp in report.targets if tp.id == "site"), None)
        parts.append(f'<div class="chart">{charts.tenant_ratios(tenants, site_target, lang)}</div>')
        parts.append(_table(energy_head, [_energy_row(a, lang) for a in report.total], text_cols=2))
        if any(a.estimated for a in tenants):
            parts.append(f'<p class="small">{L("rep.estimated_note")}</p>')
    parts.append(f"<h2>{L('rep.h.green')}" + ("" if zh else " (绿电)") + "</h2>")
    parts.append(_table([L("rep.e.entity"), *_heads("rep.g", GREEN_HEAD, lang)], _green_rows(report.total, lang)))
    parts.append(f"<h2>{L('rep.h.cost')}</h2>")
    parts.append(_table(_heads("rep.c", COST_HEAD, lang), _cost_rows(report.total, lang), text_cols=2))
    parts += _dr_section(report, lang)
    parts.append(f'<h2 class="page">{L("rep.h.by_month")}</h2>')
    parts.append(_table(energy_head, [_energy_row(a, lang) for a in report.monthly], text_cols=2))
    if len(report.yearly) > len(report.total):
        parts.append(f"<h2>{L('rep.h.by_year')}</h2>")
        parts.append(_table(energy_head, [_energy_row(a, lang) for a in report.yearly], text_cols=2))
    parts.append(f"<h2>{escape(L('rep.h.by_day', entity=_entity(focus, lang)))}</h2>")
    parts.append(_table(energy_head, [_energy_row(a, lang) for a in days], text_cols=2))
    if m.gaps:
        parts.append(f"<h2>{L('rep.h.gaps')}</h2>")
        parts.append(_table([L("rep.e.entity"), L("rep.gap.from"), L("rep.gap.to"), L("rep.gap.intervals")],
                            [[escape(_entity(g.entity, lang)), f"{_local(g.start, m.timezone):%Y-%m-%d %H:%M}",
                              f"{_local(g.end, m.timezone):%Y-%m-%d %H:%M}", str(g.intervals)] for g in m.gaps[:200]]))
        if len(m.gaps) > 200:
            parts.append(f'<p class="small">{escape(L("rep.more_gaps", n=len(m.gaps) - 200))}</p>')
    if m.data_quality:
        parts.append(f"<h2>{L('rep.h.quality')}</h2><ul class=\"small\">"
                     + "".join(f"<li>{escape(f)}</li>" for f in m.data_quality[:200]) + "</ul>")
    notes = m.notes_zh if zh and m.notes_zh else m.notes
    parts.append(f"<h2>{L('rep.h.definitions')}</h2><ul class=\"small\">"
                 + "".join(f"<li>{escape(n)}</li>" for n in notes) + "</ul>")
    body = "\n".join(parts)
    return (f'<!DOCTYPE html>\n<html lang="{"zh-CN" if zh else "en"}"><head><meta charset="utf-8">'
            f"<title>{escape(title)}</title><style>{CSS}</style></head><body>\n{body}\n</body></html>\n")
