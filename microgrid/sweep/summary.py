"""The sweep's summary page: cost against green-power ratio (Pareto front), target reached, sites compared.

One self-contained HTML file in English and Chinese (inline SVG, the report's stylesheet). A scenario is on
its site's **Pareto front** when no other scenario of that site is at most as costly *and* at least as green
with one of the two strictly better; fronts are per site, since parks are not alternatives to each other.
Rows with ``error`` have no figures and are listed with their error; ``fallback`` rows are plotted hollow
(some days used the rule-based plan).
"""

from __future__ import annotations

from html import escape

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from microgrid.reports import charts
from microgrid.reports.html import CSS

MARKERS = ("o", "s", "^", "D", "v", "P", "X", "*")


def pareto_front(frame: pd.DataFrame) -> pd.Series:
    """True where a row is on its site's cost (min) vs green-power ratio (max) front; False without figures."""
    out = pd.Series(False, index=frame.index)
    if frame.empty or "cost_total_cny" not in frame:
        return out
    have = frame["cost_total_cny"].notna() & frame["green_ratio_pct"].notna()
    for _, group in frame[have].groupby("site_id"):
        cost = group["cost_total_cny"].to_numpy(float)
        green = group["green_ratio_pct"].to_numpy(float)
        for i, idx in enumerate(group.index):
            dominated = (cost <= cost[i]) & (green >= green[i]) & ((cost < cost[i]) | (green > green[i]))
            out[idx] = not dominated.any()
    return out


def pareto_chart(frame: pd.DataFrame) -> str:
    """Total cost (M CNY) against green-power ratio (%), one marker per site, fronts joined."""
    fig = Figure(figsize=(9, 4.2))
    ax = fig.add_subplot()
    front = pareto_front(frame)
    have = frame[frame["cost_total_cny"].notna()] if "cost_total_cny" in frame else frame.iloc[0:0]
    for i, (site, group) in enumerate(have.groupby("site_id", sort=False)):
        colour = f"C{i % 10}"
        ok = group["status"] == "ok"
        ax.scatter(group.loc[ok, "green_ratio_pct"], group.loc[ok, "cost_total_cny"] / 1e6, marker=MARKERS[i % 8],
                   color=colour, label=str(site), zorder=3)
        if (~ok).any():
            ax.scatter(group.loc[~ok, "green_ratio_pct"], group.loc[~ok, "cost_total_cny"] / 1e6,
                       marker=MARKERS[i % 8], facecolors="none", edgecolors=colour, zorder=3,
                       label=f"{site} (fallback days)")
        line = group[front[group.index]].sort_values("green_ratio_pct")
        ax.plot(line["green_ratio_pct"], line["cost_total_cny"] / 1e6, color=colour, linewidth=1, zorder=2)
        for _, row in group[front[group.index]].iterrows():
            ax.annotate(str(row["scenario"]), (row["green_ratio_pct"], row["cost_total_cny"] / 1e6), fontsize=7,
                        xytext=(4, 3), textcoords="offset points")
    for t in sorted(set(have["target_ratio_pct"].dropna())) if "target_ratio_pct" in have else []:
        ax.axvline(t, color=charts.COLORS["target"], linestyle="--", linewidth=1)
        ax.text(t, ax.get_ylim()[1], f" target {t:g} %", color=charts.COLORS["target"], fontsize=7, va="top")
    ax.set_xlabel("green-power ratio, %")
    ax.set_ylabel("total cost, M CNY")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1), frameon=False)
    return charts.to_svg(fig)


def site_chart(frame: pd.DataFrame) -> str:
    """Per site: the range of green-power ratios over its scenarios, and the cheapest scenario's ratio."""
    have = frame[frame["green_ratio_pct"].notna()] if "green_ratio_pct" in frame else frame.iloc[0:0]
    sites = list(dict.fromkeys(have["site_id"]))
    fig = Figure(figsize=(9, 0.6 + 0.5 * max(len(sites), 1)))
    ax = fig.add_subplot()
    for y, site in enumerate(sites):
        g = have[have["site_id"] == site]
        lo, hi = g["green_ratio_pct"].min(), g["green_ratio_pct"].max()
        ax.barh(y, hi - lo if hi > lo else 0.3, left=lo if hi > lo else lo - 0.15, color="#a9dfbf", height=0.5)
        cheapest = g.loc[g["cost_total_cny"].idxmin()]
        ax.plot(cheapest["green_ratio_pct"], y, "o", color="#1e8449")
    ax.set_yticks(range(len(sites)), sites, fontsize=8)
    ax.set_xlabel("green-power ratio over the scenarios (bar) and of the cheapest (dot), %")
    ax.grid(axis="x", alpha=0.3)
    return charts.to_svg(fig)


def _fmt(value, digits: int = 0) -> str:
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return "–"
    if isinstance(value, bool | np.bool_):
        return "✓" if value else "✗"
    if isinstance(value, int | float | np.integer | np.floating):
        return f"{float(value):,.{digits}f}"
    return escape(str(value))


def site_table(frame: pd.DataFrame) -> pd.DataFrame:
    """One row per site: scenarios, how many reach the target, cheapest and greenest scenario, cheapest reaching it."""
    rows = []
    for site, g in frame.groupby("site_id", sort=False):
        fig = g[g["cost_total_cny"].notna()] if "cost_total_cny" in g else g.iloc[0:0]
        met = fig[fig["target_met"] == True] if "target_met" in fig else fig.iloc[0:0]  # noqa: E712 - object column
        cheap = fig.loc[fig["cost_total_cny"].idxmin()] if len(fig) else None
        green = fig.loc[fig["green_ratio_pct"].idxmax()] if len(fig) else None
        best = met.loc[met["cost_total_cny"].idxmin()] if len(met) else None
        rows.append({
            "site_id": site, "scenarios": len(g), "failed": int((g["status"] == "error").sum()),
            "target_pct": fig["target_ratio_pct"].iloc[0] if len(fig) and "target_ratio_pct" in fig else None,
            "reaching_target": len(met),
            "cheapest": None if cheap is None else cheap["scenario"],
            "cheapest_cost_cny": None if cheap is None else cheap["cost_total_cny"],
            "cheapest_green_pct": None if cheap is None else cheap["green_ratio_pct"],
            "greenest": None if green is None else green["scenario"],
            "greenest_green_pct": None if green is None else green["green_ratio_pct"],
            "cheapest_reaching_target": None if best is None else best["scenario"],
            "its_cost_cny": None if best is None else best["cost_total_cny"],
        })
    return pd.DataFrame(rows)


SITE_COLUMNS = [("site_id", "site", "园区", None), ("scenarios", "scenarios", "情景数", 0),
                ("failed", "failed", "失败", 0), ("target_pct", "target %", "目标%", 1),
                ("reaching_target", "reaching target", "达标情景", 0), ("cheapest", "cheapest", "最低成本情景", None),
                ("cheapest_cost_cny", "its cost CNY", "其成本", 0), ("cheapest_green_pct", "its green %", "其绿电占比", 2),
                ("greenest", "greenest", "绿电最高情景", None), ("greenest_green_pct", "green %", "绿电占比", 2),
                ("cheapest_reaching_target", "cheapest reaching target", "达标最低成本情景", None),
                ("its_cost_cny", "its cost CNY", "其成本", 0)]
ROW_COLUMNS = [("site_id", "site", "园区", None), ("scenario", "scenario", "情景", None),
               ("green_ratio_pct", "green %", "绿电占比%", 2), ("cost_total_cny", "total cost CNY", "总电费", 0),
               ("cost_basic_charge_cny", "demand charge CNY", "基本电费", 0),
               ("co2_location_kg", "CO2 kg", "排放kg", 0), ("grid_import_kwh", "grid import kWh", "购电量", 0),
               ("pv_curtailed_kwh", "PV curtailed kWh", "弃光", 0), ("pv_kwp", "PV kWp", "光伏kWp", 0),
               ("storage_kwh", "storage kWh", "储能kWh", 0), ("target_met", "target met", "达标", None),
               ("pareto", "Pareto", "帕累托", None), ("status", "status", "状态", None),
               ("error", "error", "错误", None)]


def _html_table(frame: pd.DataFrame, columns) -> str:
    cols = [c for c in columns if c[0] in frame.columns]
    head = "".join(f"<th>{escape(en)}<br>{escape(zh)}</th>" for _, en, zh, _ in cols)
    body = []
    for _, row in frame.iterrows():
        cells = "".join(f"<td class='t'>{_fmt(row[c])}</td>" if d is None else f"<td>{_fmt(row[c], d)}</td>"
                        for c, _, _, d in cols)
        body.append(f"<tr>{cells}</tr>")
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"


def render_summary(frame: pd.DataFrame, about: list[tuple[str, str]]) -> str:
    """The summary page for the result ``frame`` (rows of :func:`microgrid.sweep.task.run_task`)."""
    frame = frame.copy()
    for col in ("cost_total_cny", "green_ratio_pct", "target_ratio_pct"):
        if col not in frame:
            frame[col] = np.nan
    frame["pareto"] = pareto_front(frame)
    params = [c for c in frame.columns if c.startswith("param_")]
    row_cols = ROW_COLUMNS[:2] + [(p, p.removeprefix("param_"), p.removeprefix("param_"), None) for p in params] \
        + ROW_COLUMNS[2:]
    errors = frame[frame["status"] != "ok"]
    about_rows = "".join(f"<tr><td class='t'>{escape(k)}</td><td class='t'>{escape(v)}</td></tr>" for k, v in about)
    warn = (f"<div class='warn'>{len(errors)} scenario(s) with errors or fallback days / {len(errors)} 个情景有错误或"
            "备用计划 — see the table / 见下表</div>") if len(errors) else ""
    has_figures = frame["cost_total_cny"].notna().any()
    charts_html = (f"<h2>Cost vs green-power ratio / 成本与绿电占比（帕累托前沿）</h2>"
                   f"<div class='chart'>{pareto_chart(frame)}</div>"
                   f"<h2>Sites compared / 园区对比</h2><div class='chart'>{site_chart(frame)}</div>") \
        if has_figures else "<div class='warn'>no scenario has figures / 没有情景得出结果</div>"
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>Scenario sweep / 情景扫描</title><style>{CSS}</style></head><body>
<h1>Scenario sweep / 情景扫描</h1>
<div class="banner planned">PLANNED figures (day-ahead plans of every day of each scenario), not metered /
规划值（各情景逐日日前计划），非计量值</div>
{warn}
{charts_html}
<h2>Per site / 分园区</h2>
{_html_table(site_table(frame), SITE_COLUMNS)}
<h2>Every scenario / 全部情景</h2>
{_html_table(frame, row_cols)}
<h2>About this sweep / 说明</h2>
<table>{about_rows}</table>
<p class="small">Pareto front: no other scenario of the same site is both cheaper (or as cheap) and greener (or as
green). Figures from the report accounting over the studied period (docs/reports.md, docs/sweeps.md). /
帕累托前沿：同一园区内没有其他情景既更便宜又更绿。</p>
</body></html>
"""


def write_outputs(out, keys: list[str], about: list[tuple[str, str]]) -> tuple[dict, pd.DataFrame]:
    """``results.parquet``, ``results.csv`` and ``summary.html`` of the stored rows of ``keys`` in ``out``;
    their paths and the table."""
    from pathlib import Path

    from microgrid.sweep.results import ResultStore, atomic_write

    store = ResultStore(out)
    frame = store.table(keys)
    paths = store.write_tables(frame)
    paths["html"] = Path(out) / "summary.html"
    html = render_summary(frame, about)
    atomic_write(paths["html"], lambda tmp: Path(tmp).write_text(html, encoding="utf-8"))
    return paths, frame
