"""``schedule.png``: stacked power by source and sink, storage levels and price, with TOU bands.

Uses matplotlib's object API with the Agg canvas (no global pyplot state, safe in servers and threads).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.dates import DateFormatter
from matplotlib.figure import Figure

from microgrid.planning.plan import Plan

PERIOD_COLOURS = {"valley": "#dbeafe", "flat": "#f3f4f6", "peak": "#fde68a", "critical": "#fca5a5"}
# One hue per kind of asset, told apart also in grey-scale print: storage is blue (discharge dark, charge light),
# EV magenta, heat pumps red, flexible loads purple, the grid grey (import dark, export light with hatching).
SOURCE_COLOURS = {"grid import": "#4b5563", "PV": "#f59e0b", "battery discharge": "#1d4ed8",
                  "PV curtailed (not used)": "#fef3c7"}
SINK_COLOURS = {"base loads": "#94a3b8", "heat pumps": "#dc2626", "flexible loads": "#7c3aed",
                "EV charging": "#db2777", "battery charge": "#93c5fd", "grid export": "#d1d5db"}
HATCHES = {"PV curtailed (not used)": "..", "grid export": "//"}
STACK_LEGEND = "above 0: power into the park bus\nbelow 0: consumption and charging\n(each stacked, kW)"


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


def plot_schedule(plan: Plan, path: str | Path) -> None:
    """Render the plan to a PNG at ``path``."""
    sched = plan.result.schedule
    f = sched.frame
    kinds = sched.assets
    idx = f.index
    step = pd.Timedelta(hours=sched.step_h)
    periods = f["tou_period"].to_numpy() if "tou_period" in f.columns else None
    by_kind = {k: [a for a, kk in kinds.items() if kk == k] for k in set(kinds.values())}
    sources = {  # grid import at the bottom, so the import-limit line reads against it
        "grid import": f["grid_import_kw"].to_numpy(),
        "PV": _sum(f, [f"{a}_kw" for a in by_kind.get("pv", [])]),
        "battery discharge": _sum(f, [f"{a}_discharge_kw" for a in by_kind.get("battery", [])]),
        "PV curtailed (not used)": _sum(f, [f"{a}_curtailed_kw" for a in by_kind.get("pv", [])]),
    }
    sinks = {
        "base loads": _sum(f, [f"{a}_load_kw" for a in by_kind.get("load", [])]),
        "heat pumps": _sum(f, [f"{a}_p_el_kw" for a in by_kind.get("heat_pump", [])]),
        "flexible loads": _sum(f, [f"{a}_load_kw" for k in ("deferrable", "shiftable", "curtailable")
                                   for a in by_kind.get(k, [])]),
        "EV charging": _sum(f, [f"{a}_load_kw" for a in by_kind.get("ev_depot", [])]),
        "battery charge": _sum(f, [f"{a}_charge_kw" for a in by_kind.get("battery", [])]),
        "grid export": f["grid_export_kw"].to_numpy(),
    }
    fig = Figure(figsize=(14, 9), dpi=100, layout="constrained")
    FigureCanvasAgg(fig)
    ax1, ax2, ax3 = fig.subplots(3, 1, sharex=True, height_ratios=[3, 1.3, 1])
    title = f"{plan.site_id}: plan from {idx[0]:%Y-%m-%d %H:%M} ({plan.result.formulation} {plan.result.status})"
    if plan.result.relaxed:
        title += " - RELAXED PLAN (named limits broken)"
    elif plan.result.fallback:
        title += " - RULE-BASED FALLBACK"
    fig.suptitle(title)

    for ax in (ax1, ax2, ax3):
        _bands(ax, idx, step, periods)
    x = idx.append(pd.DatetimeIndex([idx[-1] + step]))
    sources = {k: v for k, v in sources.items() if np.abs(v).max() > 1e-6}
    sinks = {k: v for k, v in sinks.items() if np.abs(v).max() > 1e-6}
    for stack, colours, sign in ((sources, SOURCE_COLOURS, 1.0), (sinks, SINK_COLOURS, -1.0)):
        if stack:
            polys = ax1.stackplot(x, *[sign * np.append(v, v[-1]) for v in stack.values()], labels=list(stack),
                                  colors=[colours[k] for k in stack], step="post", alpha=0.9, edgecolor="white",
                                  linewidth=0.3)
            for poly, name in zip(polys, stack, strict=True):
                poly.set_hatch(HATCHES.get(name))
    # The import limit applies to the net exchange at the PCC, not to the stacked total (which includes PV).
    net = f["grid_import_kw"].to_numpy() - f["grid_export_kw"].to_numpy()
    ax1.step(*_steps(idx, step, net), where="post", color="black", lw=1.4, label="net grid import (PCC)")
    ax1.axhline(plan.inputs.grid.import_limit_kw, color="#991b1b", ls="--", lw=1.2,
                label="import limit (for the net import line)")
    ax1.axhline(0, color="black", lw=0.6)
    ax1.set_ylabel("power, kW\n(into the bus + / out −)")
    ax1.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=8, title=STACK_LEGEND, title_fontsize=8,
               alignment="left")

    for a in by_kind.get("battery", []):
        ax2.plot(idx + step, f[f"{a}_soc_pct"], label=f"{a} SoC")
    for h in plan.inputs.heat_pumps:
        if h.tank_capacity_kwh > 0:
            ax2.plot(idx + step, f[f"{h.id}_tank_kwh"] / h.tank_capacity_kwh * 100, ls="--", label=f"{h.id} tank")
    ax2.set_ylabel("storage, %\n(end of interval)")
    ax2.set_ylim(0, 100)
    if ax2.lines:
        ax2.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=8)

    ax3.step(*_steps(idx, step, f["price_import_cny_per_kwh"].to_numpy()), where="post", color="black", label="import")
    if f["price_export_cny_per_kwh"].abs().sum() > 0:
        ax3.step(*_steps(idx, step, f["price_export_cny_per_kwh"].to_numpy()), where="post", color="#6b7280",
                 ls="--", label="export")
    ax3.set_ylabel("price,\nCNY/kWh")
    handles = [ax3.fill_between([], [], color=c, label=p) for p, c in PERIOD_COLOURS.items()
               if periods is not None and p in set(map(str, periods))]
    ax3.legend(handles=[*ax3.get_lines(), *handles], loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=8)
    ax3.xaxis.set_major_formatter(DateFormatter("%H:%M", tz=idx.tz))
    ax3.set_xlim(x[0], x[-1])
    fig.savefig(path, format="png")
