"""Outputs of an annual study: the monthly table (CSV, XLSX) and one self-contained bilingual HTML page.

Every figure is a field of the report accounting (:class:`microgrid.reports.Accounts`, definitions in
docs/reports.md); the study adds only the battery equivalent full cycles (discharge ÷ installed kWh) and
names the emission factor. Charts: monthly green-power ratio against the policy lines (the report's own
chart), the cost split per month, and a heat-map of grid import by day and hour.
"""

from __future__ import annotations

import json
from html import escape
from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from microgrid.reports import charts
from microgrid.reports.export import accounts_frame
from microgrid.reports.html import CSS
from microgrid.reports.periods import PERIODS
from microgrid.reports.table import PARK
from microgrid.study.run import StudyResult

PERIOD_ZH = {"critical": "尖峰", "peak": "高峰", "flat": "平段", "valley": "低谷"}

COLUMNS: list[tuple[str, str, str]] = [
    # (column, English, 中文)
    ("period", "month", "月份"),
    ("consumption_kwh", "consumption kWh", "用电量"),
    ("grid_import_kwh", "grid import kWh", "电网购电"),
    *[(f"import_{p}_kwh", f"import {p} kWh", f"购电({PERIOD_ZH[p]})") for p in PERIODS],
    ("grid_export_kwh", "export kWh", "上网电量"),
    ("pv_generated_kwh", "PV generated kWh", "光伏发电"),
    ("pv_self_consumed_kwh", "PV self-consumed kWh", "光伏自用"),
    ("pv_curtailed_kwh", "PV curtailed kWh", "光伏弃电"),
    ("storage_discharge_kwh", "storage discharge kWh", "储能放电"),
    ("battery_cycles", "battery full cycles", "储能等效循环"),
    ("green_onsite_kwh", "green on-site kWh", "自发绿电"),
    ("green_trading_kwh", "green trading kWh", "绿电交易"),
    ("green_certificates_kwh", "certificates kWh", "绿证"),
    ("green_direct_kwh", "direct green supply kWh", "绿电直连"),
    ("green_total_kwh", "green total kWh", "绿电合计"),
    ("green_ratio_pct", "green-power ratio %", "绿电占比%"),
    ("co2_location_kg", "CO2 location-based kg", "排放(基于位置)kg"),
    *[(f"cost_energy_{p}_cny", f"energy cost {p} CNY", f"电费({PERIOD_ZH[p]})") for p in PERIODS],
    ("cost_energy_cny", "energy cost CNY", "电度电费"),
    ("cost_basic_charge_cny", "demand charge CNY", "基本电费(需量)"),
    ("cost_export_revenue_cny", "export revenue CNY", "上网收入"),
    ("cost_total_cny", "total cost CNY", "总电费"),
    ("peak_import_kw", "peak import kW", "最大需量kW"),
]


def monthly_table(result: StudyResult) -> pd.DataFrame:
    """One row per month plus the year (park), columns of :data:`COLUMNS` and the emission factor used."""
    report = result.report
    rows = [*report.rows("month", PARK), *report.rows("year", PARK)]
    frame = accounts_frame(rows, report.meta.data_source)
    capacity = sum(b.e_kwh for b in result.site.assets.batteries)
    frame["battery_cycles"] = frame["storage_discharge_kwh"] / capacity if capacity else 0.0
    out = frame[[c for c, _, _ in COLUMNS]].copy()
    f = report.meta.factor_location
    out["emission_factor"] = f"{f.id}: {f.kg_co2_per_kwh} kgCO2/kWh, {f.region} {f.year}, {f.document}"
    return out


def write_monthly_csv(result: StudyResult, path: str | Path) -> None:
    monthly_table(result).to_csv(path, index=False, float_format="%.3f", encoding="utf-8")


def about(result: StudyResult) -> list[tuple[str, str]]:
    """What the study is and what it rests on (first sheet of the XLSX, header of the HTML)."""
    m = result.report.meta
    inp = result.inputs
    fallbacks = result.fallback_days
    rows = [("site", f"{m.site_name} ({m.site_id})"), ("year", str(inp.year)),
            ("resolution", f"{inp.step_min} min"),
            ("data", "PLANNED (day-ahead plans of the optimizer), not metered"),
            ("weather", inp.weather_source),
            ("loads", inp.load_source),
            ("PV yield (available, AC)", f"{inp.pv_yield_kwh_per_kwp():.0f} kWh/kWp"),
            ("calendar", inp.calendar.source + (f" — {inp.calendar.note}" if inp.calendar.note else "")),
            ("emission factor", f"{m.factor_location.id}: {m.factor_location.kg_co2_per_kwh} kgCO2/kWh, "
                                f"{m.factor_location.region} {m.factor_location.year}, {m.factor_location.document}"),
            ("tariff", f"{m.tariff_name}{' (illustrative)' if m.tariff_illustrative else ''}: {m.tariff_source}"),
            ("days planned", f"{len(result.outcomes)}; rule-based fallback on {len(fallbacks)}"
                             + (f": {', '.join(d.isoformat() for d in fallbacks[:10])}" if fallbacks else "")),
            ("wall time", f"{result.wall_s:.1f} s")]
    if result.ac is not None:
        rows.append(("AC check", json.dumps(result.ac, ensure_ascii=False)))
    rows += [("note", n) for n in result.notes]
    return rows


def write_xlsx(result: StudyResult, path: str | Path) -> None:
    table = monthly_table(result)
    report = result.report
    with pd.ExcelWriter(path, engine="openpyxl") as xl:
        pd.DataFrame(about(result), columns=["item", "value"]).to_excel(xl, sheet_name="About", index=False)
        table.to_excel(xl, sheet_name="Monthly", index=False)
        for name, rows in (("Report monthly", report.monthly), ("Report daily", report.rows("day", PARK))):
            accounts_frame(rows, report.meta.data_source).to_excel(xl, sheet_name=name, index=False)
        pd.DataFrame({"definition": report.meta.notes}).to_excel(xl, sheet_name="Definitions", index=False)
        xl.sheets["About"].column_dimensions["B"].width = 120


def cost_split_chart(table: pd.DataFrame) -> str:
    """Stacked monthly cost: energy by TOU period and the demand charge, CNY."""
    months = table[table["period"].str.len() == 7]
    fig = Figure(figsize=(9, 3.2))
    ax = fig.add_subplot()
    x = np.arange(len(months))
    bottom = np.zeros(len(months))
    colours = {"critical": "#c0392b", "peak": "#f39c12", "flat": "#95a5a6", "valley": "#3498db"}
    for p in PERIODS:
        v = months[f"cost_energy_{p}_cny"].to_numpy() / 1000
        ax.bar(x, v, bottom=bottom, color=colours[p], label=f"energy {p}")
        bottom += v
    v = months["cost_basic_charge_cny"].to_numpy() / 1000
    ax.bar(x, v, bottom=bottom, color="#8e44ad", label="demand charge")
    ax.set_xticks(x, months["period"], fontsize=8)
    ax.set_ylabel("kCNY per month")
    ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1), frameon=False)
    ax.grid(axis="y", alpha=0.3)
    return charts.to_svg(fig)


def import_heatmap(result: StudyResult) -> str:
    """Grid import, kW, by day of the year (x) and hour of the day (y)."""
    frame = result.schedule["grid_import_kw"].tz_convert(result.site.timezone)
    hourly = frame.groupby([frame.index.date, frame.index.hour]).mean().unstack()
    fig = Figure(figsize=(9, 3.2))
    ax = fig.add_subplot()
    image = ax.imshow(hourly.to_numpy().T, aspect="auto", origin="lower", cmap="viridis", interpolation="nearest")
    ax.set_ylabel("hour of day")
    ax.set_xlabel("day of year")
    fig.colorbar(image, ax=ax, label="grid import kW")
    return charts.to_svg(fig)


def render_html(result: StudyResult) -> str:
    """The study page (English and 中文 side by side)."""
    table = monthly_table(result)
    report = result.report
    year = table.iloc[-1]
    head = "".join(f"<th>{escape(en)}<br>{escape(zh)}</th>" for _, en, zh in COLUMNS)
    body = []
    for _, row in table.iterrows():
        cells = []
        for col, _, _ in COLUMNS:
            v = row[col]
            if col == "period":
                cells.append(f"<td class='t'>{escape(str(v))}</td>")
            elif v is None or (isinstance(v, float) and np.isnan(v)):
                cells.append("<td>–</td>")
            else:
                digits = 2 if col in ("green_ratio_pct", "battery_cycles") else 0
                cells.append(f"<td>{float(v):,.{digits}f}</td>")
        body.append("<tr>" + "".join(cells) + "</tr>")
    about_rows = "".join(f"<tr><td class='t'>{escape(k)}</td><td class='t'>{escape(v)}</td></tr>"
                         for k, v in about(result))
    ratio = year["green_ratio_pct"]
    kpis = [("green-power ratio / 绿电占比", f"{ratio:.1f} %" if ratio == ratio else "–"),
            ("total cost / 总电费", f"{year['cost_total_cny'] / 1e6:,.2f} M CNY"),
            ("CO2 location-based / 排放", f"{year['co2_location_kg'] / 1000:,.0f} t"),
            ("PV curtailed / 弃光", f"{year['pv_curtailed_kwh'] / 1000:,.0f} MWh")]
    kpi_html = "".join(f"<div class='kpi'><div class='v'>{escape(v)}</div><div class='l'>{escape(k)}</div></div>"
                       for k, v in kpis)
    warnings = "".join(f"<div class='warn'>{escape(w)}</div>" for w in report.meta.warnings)
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>Annual study {escape(str(result.inputs.year))} —
{escape(report.meta.site_name)}</title><style>{CSS}</style></head><body>
<h1>Annual study {result.inputs.year} / 年度仿真 — {escape(report.meta.site_name)}</h1>
<div class="banner planned">PLANNED figures (day-ahead plans of every day), not metered / 规划值（逐日日前计划），非计量值</div>
{warnings}
<div class="kpis">{kpi_html}</div>
<h2>Green-power ratio by month / 月度绿电占比</h2>
<div class="chart">{charts.monthly_ratio(report.rows("month", PARK), report.targets)}</div>
<h2>Cost by month / 月度电费构成</h2>
<div class="chart">{cost_split_chart(table)}</div>
<h2>Grid import by day and hour / 电网购电热力图</h2>
<div class="chart">{import_heatmap(result)}</div>
<h2>Monthly table / 月度汇总</h2>
<table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>
<h2>About this study / 说明</h2>
<table>{about_rows}</table>
<h3>Definitions / 定义</h3><ul class="small">{''.join(f'<li>{escape(n)}</li>' for n in report.meta.notes)}</ul>
</body></html>
"""


def write_study(result: StudyResult, out: str | Path) -> dict[str, Path]:
    """Write ``monthly.csv``, ``study.xlsx``, ``study.html`` and ``schedule.csv`` into ``out``."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    paths = {"monthly_csv": out / "monthly.csv", "xlsx": out / "study.xlsx", "html": out / "study.html",
             "schedule_csv": out / "schedule.csv"}
    write_monthly_csv(result, paths["monthly_csv"])
    write_xlsx(result, paths["xlsx"])
    paths["html"].write_text(render_html(result), encoding="utf-8")
    frame = result.schedule.copy()
    frame.index = [ts.isoformat() for ts in frame.index]
    frame.index.name = "timestamp"
    frame.to_csv(paths["schedule_csv"], float_format="%.3f")
    return paths
