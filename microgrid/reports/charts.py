"""Report charts as inline SVG (matplotlib, no pyplot state, no external files)."""

from __future__ import annotations

import io
import re

import matplotlib
from matplotlib.figure import Figure  # a bare Figure needs no backend and leaves pyplot alone

from microgrid.i18n import t
from microgrid.i18n.fonts import cjk_font, plot_lang
from microgrid.reports.model import Accounts, TargetProgress
from microgrid.reports.targets import target_name

COLORS = {"pv": "#f2a900", "grid": "#7f8c8d", "storage": "#2e86c1", "export": "#e67e22", "curtailed": "#c0392b",
          "ratio": "#27ae60", "target": "#8e44ad"}
matplotlib.rcParams["svg.fonttype"] = "none"  # keep text as text: small files, crisp print


def _rc(lang: str) -> dict:
    """Matplotlib settings for labels in ``lang`` (a CJK font for Chinese, to measure and draw the text)."""
    return {"font.family": [cjk_font(), "DejaVu Sans"]} if lang != "en" else {}


def to_svg(fig: Figure, lang: str = "en") -> str:
    buf = io.StringIO()
    with matplotlib.rc_context(_rc(lang)):
        fig.savefig(buf, format="svg", bbox_inches="tight")
    svg = buf.getvalue()
    svg = svg[svg.index("<svg"):]  # drop the XML prolog and DOCTYPE for inline use
    return re.sub(r'width="[\d.]+pt" height="[\d.]+pt"', 'width="100%"', svg, count=1)


def daily_stack(days: list[Accounts], lang: str = "en") -> str:
    """Per day: consumption met by on-site PV, storage and grid (up); PV exported and curtailed (down)."""
    lang = plot_lang(lang)
    with matplotlib.rc_context(_rc(lang)):
        return _daily_stack(days, lang)


def _daily_stack(days: list[Accounts], lang: str) -> str:
    fig = Figure(figsize=(9, 3.4))
    ax = fig.add_subplot()
    labels = [d.period[5:] for d in days]
    x = range(len(days))
    mwh = 1 / 1000
    pv = [max(d.green_onsite_physical_kwh, 0) * mwh for d in days]
    grid = [d.grid_import_kwh * mwh for d in days]
    exported = [-d.pv_exported_kwh * mwh for d in days]
    curtailed = [-d.pv_curtailed_kwh * mwh for d in days]
    ax.bar(x, pv, color=COLORS["pv"], label=t("rep.chart.pv", lang))
    ax.bar(x, grid, bottom=pv, color=COLORS["grid"], label=t("rep.chart.grid", lang))
    ax.bar(x, exported, color=COLORS["export"], label=t("rep.chart.export", lang))
    ax.bar(x, curtailed, bottom=exported, color=COLORS["curtailed"], label=t("rep.chart.curtailed", lang))
    ax.axhline(0, color="black", linewidth=0.6)
    ax.set_ylabel(t("rep.chart.mwh_day", lang))
    step = max(1, len(days) // 16)
    ax.set_xticks(list(x)[::step], labels[::step], fontsize=8)
    ax.legend(fontsize=8, ncol=4, loc="upper center", bbox_to_anchor=(0.5, -0.12), frameon=False)
    ax.grid(axis="y", alpha=0.3)
    return to_svg(fig, lang)


def monthly_ratio(months: list[Accounts], targets: list[TargetProgress], lang: str = "en") -> str:
    """Green-power ratio per month against the targets."""
    lang = plot_lang(lang)
    with matplotlib.rc_context(_rc(lang)):
        return _monthly_ratio(months, targets, lang)


def _monthly_ratio(months: list[Accounts], targets: list[TargetProgress], lang: str) -> str:
    fig = Figure(figsize=(9, 3.0))
    ax = fig.add_subplot()
    x = range(len(months))
    ratios = [m.green_ratio_pct or 0.0 for m in months]
    ax.bar(x, ratios, color=COLORS["ratio"], width=0.6, label=t("rep.chart.ratio", lang))
    styles = ["-", "--", ":", "-."]
    colors = [COLORS["target"], "#2c3e50", "#c0392b", "#16a085"]
    for i, tp in enumerate(targets):
        ax.axhline(tp.target_pct, color=colors[i % 4], linestyle=styles[i % 4], linewidth=1.2,
                   label=f"{target_name(tp, lang)} ({tp.target_pct:g} %)")
    for xi, r in zip(x, ratios, strict=True):
        ax.text(xi, r + 0.8, f"{r:.1f} %", ha="center", fontsize=8)
    ax.set_xticks(list(x), [m.period for m in months], fontsize=8)
    ax.set_ylabel("%")
    ax.set_ylim(0, max([*ratios, *(tp.target_pct for tp in targets), 10]) * 1.2)
    ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1), frameon=False)
    ax.grid(axis="y", alpha=0.3)
    return to_svg(fig, lang)


def tenant_ratios(tenants: list[Accounts], target_pct: float | None, lang: str = "en") -> str:
    """Green-power ratio and on-site share per tenant."""
    lang = plot_lang(lang)
    with matplotlib.rc_context(_rc(lang)):
        return _tenant_ratios(tenants, target_pct, lang)


def _tenant_ratios(tenants: list[Accounts], target_pct: float | None, lang: str) -> str:
    fig = Figure(figsize=(9, 0.45 * max(len(tenants), 2) + 0.8))
    ax = fig.add_subplot()
    y = range(len(tenants))
    ax.barh(y, [t.green_ratio_pct or 0.0 for t in tenants], color=COLORS["ratio"], height=0.6,
            label=t("rep.chart.ratio", lang))
    if target_pct is not None:
        ax.axvline(target_pct, color=COLORS["target"], linestyle="--", linewidth=1,
                   label=t("rep.chart.site_target", lang, pct=f"{target_pct:g}"))
    ax.set_yticks(list(y), [t.entity for t in tenants], fontsize=8)
    ax.invert_yaxis()
    ax.set_xlabel("%")
    ax.legend(fontsize=8, loc="lower right", frameon=False)
    ax.grid(axis="x", alpha=0.3)
    return to_svg(fig, lang)
