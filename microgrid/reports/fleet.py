"""Fleet report: several parks' reports side by side and in total (the park operator company's view).

Each park's figures are its own report (:func:`microgrid.reports.build_report` over its store, or simulated
and said so), so the definitions are those of docs/reports.md. The fleet total adds what adds up across
parks: energies, costs and CO2 (each park with its own emission factor, named per row). Green energy is
claimed park by park (a park's purchases cannot cover another park's consumption), so the fleet's
green-power ratio is Σ green claimed / Σ consumption, never an average of ratios. Peaks are not added:
parks have separate grid connections and bills.
"""

from __future__ import annotations

from html import escape

import pandas as pd
from matplotlib.figure import Figure

from microgrid.reports import charts
from microgrid.reports.html import CSS
from microgrid.reports.model import Accounts, Report
from microgrid.reports.table import PARK

ADDITIVE = ("consumption_kwh", "grid_import_kwh", "grid_export_kwh", "pv_generated_kwh", "pv_self_consumed_kwh",
            "pv_curtailed_kwh", "storage_discharge_kwh", "green_onsite_kwh", "green_trading_kwh",
            "green_certificates_kwh", "green_direct_kwh", "green_total_kwh", "co2_location_kg", "co2_market_kg",
            "cost_energy_cny", "cost_basic_charge_cny", "cost_export_revenue_cny", "cost_total_cny",
            "counterfactual_cost_cny", "savings_cny")
TOTAL = "fleet total"

COLUMNS = [  # (field, English, 中文, digits; None = text)
    ("site_id", "park", "园区", None), ("data_source", "data", "数据来源", None),
    ("coverage_pct", "coverage %", "覆盖率%", 1), ("consumption_kwh", "consumption kWh", "用电量", 0),
    ("grid_import_kwh", "grid import kWh", "电网购电", 0), ("pv_generated_kwh", "PV generated kWh", "光伏发电", 0),
    ("green_total_kwh", "green kWh", "绿电合计", 0), ("green_ratio_pct", "green-power ratio %", "绿电占比%", 2),
    ("co2_location_kg", "CO2 location-based kg", "排放(基于位置)kg", 0), ("emission_factor", "factor", "排放因子", None),
    ("cost_energy_cny", "energy cost CNY", "电度电费", 0), ("cost_basic_charge_cny", "basic charge CNY", "基本电费", 0),
    ("cost_total_cny", "total cost CNY", "总电费", 0), ("savings_cny", "savings CNY", "节省", 0),
]


def park_total(report: Report) -> Accounts:
    """The park's accounts over the report's whole period."""
    return report.rows("total", PARK)[0]


def fleet_frame(reports: list[Report]) -> pd.DataFrame:
    """One row per park (its report's period total) and a last row with the fleet total."""
    rows = []
    for r in reports:
        a = park_total(r)
        f = r.meta.factor_location
        rows.append({"site_id": r.meta.site_id, "site_name": r.meta.site_name, "data_source": r.meta.data_source,
                     "first_day": r.meta.first_day.isoformat(), "last_day": r.meta.last_day.isoformat(),
                     "coverage_pct": a.coverage_pct, **{k: getattr(a, k) for k in ADDITIVE},
                     "green_ratio_pct": a.green_ratio_pct, "peak_import_kw": a.peak_import_kw,
                     "emission_factor": f"{f.id} ({f.kg_co2_per_kwh} kgCO2/kWh)",
                     "intervals_expected": a.intervals_expected, "intervals_valid": a.intervals_valid})
    frame = pd.DataFrame(rows)
    total = {k: frame[k].sum() for k in ADDITIVE}
    consumption = total["consumption_kwh"]
    total.update(site_id=TOTAL, site_name=TOTAL, data_source="+".join(sorted(set(frame["data_source"]))),
                 first_day=frame["first_day"].min(), last_day=frame["last_day"].max(),
                 green_ratio_pct=100 * total["green_total_kwh"] / consumption if consumption > 1e-9 else None,
                 coverage_pct=100 * frame["intervals_valid"].sum() / max(frame["intervals_expected"].sum(), 1),
                 peak_import_kw=None, emission_factor="each park's own",
                 intervals_expected=frame["intervals_expected"].sum(), intervals_valid=frame["intervals_valid"].sum())
    return pd.concat([frame, pd.DataFrame([total])], ignore_index=True)


def _chart(frame: pd.DataFrame) -> str:
    parks = frame[frame["site_id"] != TOTAL]
    fig = Figure(figsize=(9, 0.8 + 0.45 * len(frame)))
    ax1, ax2 = fig.subplots(1, 2, sharey=True)
    y = range(len(frame))
    ratios = [v if v == v and v is not None else 0.0 for v in frame["green_ratio_pct"]]
    colours = [charts.COLORS["ratio"]] * len(parks) + ["#1e8449"]
    ax1.barh(list(y), ratios, color=colours)
    ax1.set_yticks(list(y), list(frame["site_id"]), fontsize=8)
    ax1.invert_yaxis()
    ax1.set_xlabel("green-power ratio, %")
    ax2.barh(list(y), frame["cost_total_cny"] / 1e6, color=["#7f8c8d"] * len(parks) + ["#34495e"])
    ax2.set_xlabel("total cost, M CNY")
    for ax in (ax1, ax2):
        ax.grid(axis="x", alpha=0.3)
    return charts.to_svg(fig)


def _cell(value, digits) -> str:
    if digits is None:
        return f"<td class='t'>{escape(str(value))}</td>"
    if value is None or value != value:
        return "<td>–</td>"
    return f"<td>{float(value):,.{digits}f}</td>"


def render_fleet_html(reports: list[Report]) -> str:
    """The fleet page, English and 中文."""
    frame = fleet_frame(reports)
    head = "".join(f"<th>{escape(en)}<br>{escape(zh)}</th>" for _, en, zh, _ in COLUMNS)
    body = "".join("<tr>" + "".join(_cell(row[c], d) for c, _, _, d in COLUMNS) + "</tr>" for _, row in frame.iterrows())
    first, last = frame["first_day"].iloc[-1], frame["last_day"].iloc[-1]
    banners = "".join(f"<div class='warn'>{escape(r.meta.site_id)}: {escape(r.meta.data_source.upper())} data — "
                      f"{escape(r.meta.data_note)}</div>" for r in reports if r.meta.data_source != "metered")
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>Fleet report / 园区群报告 {first}..{last}</title>
<style>{CSS}</style></head><body>
<h1>Fleet report / 园区群报告: green power, carbon and cost / 绿电、碳排放与电费</h1>
<div class="sub">{escape(first)} – {escape(last)}; {len(reports)} parks / 个园区</div>
{banners}
<div class="chart">{_chart(frame)}</div>
<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>
<p class="small">Each park's figures are its own report (docs/reports.md). The fleet total adds energies, costs and
CO2; its green-power ratio is Σ green claimed / Σ consumption (green energy is claimed park by park); peaks are not
added. / 各园区数据即其自身报告；合计为电量、电费、排放之和，绿电占比 = Σ绿电 / Σ用电量。</p>
</body></html>
"""


def render_fleet(reports: list[Report], fmt: str) -> bytes:
    """The fleet report as ``html``, ``csv`` or ``xlsx`` bytes."""
    if fmt == "html":
        return render_fleet_html(reports).encode("utf-8")
    frame = fleet_frame(reports)
    if fmt == "csv":
        return frame.to_csv(index=False, float_format="%.4f").encode("utf-8")
    import io

    from microgrid.reports.export import accounts_frame

    buf = io.BytesIO()
    with pd.ExcelWriter(buf, engine="openpyxl") as xl:
        frame.to_excel(xl, sheet_name="Fleet", index=False)
        for r in reports:
            accounts_frame([*r.total, *r.monthly], r.meta.data_source).to_excel(xl, sheet_name=r.meta.site_id[:31],
                                                                                 index=False)
    return buf.getvalue()
