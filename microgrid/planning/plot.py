"""``schedule.png``: stacked power by source and sink, storage levels and price, with TOU bands.

Uses matplotlib's object API with the Agg canvas (no global pyplot state, safe in servers and threads).
"""

from __future__ import annotations

from pathlib import Path

import matplotlib
import numpy as np
import pandas as pd
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.dates import DateFormatter
from matplotlib.figure import Figure

from microgrid.i18n import t
from microgrid.i18n.fonts import cjk_font, plot_lang
from microgrid.planning.plan import Plan

PERIOD_COLOURS = {"valley": "#dbeafe", "flat": "#f3f4f6", "peak": "#fde68a", "critical": "#fca5a5"}
# One hue per kind of asset, told apart also in grey-scale print: storage is blue (discharge dark, charge light),
# EV magenta, heat pumps red, flexible loads purple, the grid grey (import dark, export light with hatching).
# Keys are catalogue keys ``plot.<key>`` (labels in English or Chinese).
SOURCE_COLOURS = {"grid_import": "#4b5563", "pv": "#f59e0b", "battery_discharge": "#1d4ed8",
                  "pv_curtailed": "#fef3c7"}
SINK_COLOURS = {"base_loads": "#94a3b8", "heat_pumps": "#dc2626", "flexible_loads": "#7c3aed",
                "ev_charging": "#db2777", "battery_charge": "#93c5fd", "grid_export": "#d1d5db"}
HATCHES = {"pv_curtailed": "..", "grid_export": "//"}


def _sum(frame: pd.DataFrame, columns: list[str]) -> np.ndarray:
    return frame[columns].sum(axis=1).to_numpy() if columns else np.zeros(len(frame))


def _steps(x: pd.DatetimeIndex, step: pd.Timedelta, y: np.ndarray) -> tuple[pd.DatetimeIndex, np.ndarray]:
    """Append the end of the last interval so step plots cover it."""
    return x.append(pd.DatetimeIndex([x[-1] + step])), np.append(y, y[-1])


def _bands(ax, index: pd.DatetimeIndex, step: pd.Timedelta, periods) -> None:
    if periods is None:
        return
    start = 0
    labels = list(periods)
    for i in range(1, len(labels) + 1):
        if i == len(labels) or labels[i] != labels[start]:
            ax.axvspan(index[start], index[i - 1] + step, color=PERIOD_COLOURS.get(str(labels[start]), "#ffffff"),
                       alpha=0.6, lw=0, zorder=0)
            start = i


def plot_schedule(plan: Plan, path: str | Path, lang: str = "en") -> None:
    """Render the plan to a PNG at ``path``, labelled in ``lang`` (English when no CJK font is installed)."""
    lang = plot_lang(lang)
    rc = {"font.family": [cjk_font(), "DejaVu Sans"]} if lang != "en" else {}

    def L(key: str, **params: object) -> str:  # noqa: N802 - reads like the label it is
        return t(f"plot.{key}", lang, **params)
    sched = plan.result.schedule
    f = sched.frame
    kinds = sched.assets
    idx = f.index
    step = pd.Timedelta(hours=sched.step_h)
    periods = f["tou_period"].to_numpy() if "tou_period" in f.columns else None
    by_kind = {k: [a for a, kk in kinds.items() if kk == k] for k in set(kinds.values())}
    sources = {  # grid import at the bottom, so the import-limit line reads against it
        "grid_import": f["grid_import_kw"].to_numpy(),
        "pv": _sum(f, [f"{a}_kw" for a in by_kind.get("pv", [])]),
        "battery_discharge": _sum(f, [f"{a}_discharge_kw" for a in by_kind.get("battery", [])]),
        "pv_curtailed": _sum(f, [f"{a}_curtailed_kw" for a in by_kind.get("pv", [])]),
    }
    sinks = {
        "base_loads": _sum(f, [f"{a}_load_kw" for a in by_kind.get("load", [])]),
        "heat_pumps": _sum(f, [f"{a}_p_el_kw" for a in by_kind.get("heat_pump", [])]),
        "flexible_loads": _sum(f, [f"{a}_load_kw" for k in ("deferrable", "shiftable", "curtailable")
                                   for a in by_kind.get(k, [])]),
        "ev_charging": _sum(f, [f"{a}_load_kw" for a in by_kind.get("ev_depot", [])]),
        "battery_charge": _sum(f, [f"{a}_charge_kw" for a in by_kind.get("battery", [])]),
        "grid_export": f["grid_export_kw"].to_numpy(),
    }
    with matplotlib.rc_context(rc):  # the font applies when the figure is drawn, i.e. in savefig
        fig = _draw(plan, f, idx, step, periods, by_kind, sources, sinks, L)
        fig.savefig(path, format="png")


def _draw(plan: Plan, f: pd.DataFrame, idx: pd.DatetimeIndex, step: pd.Timedelta, periods, by_kind: dict,
          sources: dict, sinks: dict, L) -> Figure:  # noqa: N803 - the label function, as in plot_schedule
    fig = Figure(figsize=(14, 9), dpi=100, layout="constrained")
    FigureCanvasAgg(fig)
    ax1, ax2, ax3 = fig.subplots(3, 1, sharex=True, height_ratios=[3, 1.3, 1])
    title = L("title", site=plan.site_id, start=f"{idx[0]:%Y-%m-%d %H:%M}", formulation=plan.result.formulation,
              status=plan.result.status)
    if plan.result.relaxed:
        title += L("relaxed")
    elif plan.result.fallback:
        title += L("fallback")
    fig.suptitle(title)

    for ax in (ax1, ax2, ax3):
        _bands(ax, idx, step, periods)
    x = idx.append(pd.DatetimeIndex([idx[-1] + step]))
    sources = {k: v for k, v in sources.items() if np.abs(v).max() > 1e-6}
    sinks = {k: v for k, v in sinks.items() if np.abs(v).max() > 1e-6}
    for stack, colours, sign in ((sources, SOURCE_COLOURS, 1.0), (sinks, SINK_COLOURS, -1.0)):
        if stack:
            polys = ax1.stackplot(x, *[sign * np.append(v, v[-1]) for v in stack.values()],
                                  labels=[L(k) for k in stack],
                                  colors=[colours[k] for k in stack], step="post", alpha=0.9, edgecolor="white",
                                  linewidth=0.3)
            for poly, name in zip(polys, stack, strict=True):
                poly.set_hatch(HATCHES.get(name))
    # The import limit applies to the net exchange at the PCC, not to the stacked total (which includes PV).
    net = f["grid_import_kw"].to_numpy() - f["grid_export_kw"].to_numpy()
    ax1.step(*_steps(idx, step, net), where="post", color="black", lw=1.4, label=L("net_import"))
    ax1.axhline(plan.inputs.grid.import_limit_kw, color="#991b1b", ls="--", lw=1.2,
                label=L("import_limit"))
    ax1.axhline(0, color="black", lw=0.6)
    ax1.set_ylabel(L("power_axis"))
    ax1.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=8, title=L("stack_legend"), title_fontsize=8,
               alignment="left")

    for a in by_kind.get("battery", []):
        ax2.plot(idx + step, f[f"{a}_soc_pct"], label=L("soc", asset=a))
    for h in plan.inputs.heat_pumps:
        if h.tank_capacity_kwh > 0:
            ax2.plot(idx + step, f[f"{h.id}_tank_kwh"] / h.tank_capacity_kwh * 100, ls="--", label=L("tank", asset=h.id))
    ax2.set_ylabel(L("storage_axis"))
    ax2.set_ylim(0, 100)
    if ax2.lines:
        ax2.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=8)

    ax3.step(*_steps(idx, step, f["price_import_cny_per_kwh"].to_numpy()), where="post", color="black",
             label=L("price_import"))
    if f["price_export_cny_per_kwh"].abs().sum() > 0:
        ax3.step(*_steps(idx, step, f["price_export_cny_per_kwh"].to_numpy()), where="post", color="#6b7280",
                 ls="--", label=L("price_export"))
    ax3.set_ylabel(L("price_axis"))
    handles = [ax3.fill_between([], [], color=c, label=L(f"period.{p}")) for p, c in PERIOD_COLOURS.items()
               if periods is not None and p in set(map(str, periods))]
    ax3.legend(handles=[*ax3.get_lines(), *handles], loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=8)
    ax3.xaxis.set_major_formatter(DateFormatter("%H:%M", tz=idx.tz))
    ax3.set_xlim(x[0], x[-1])
    return fig
