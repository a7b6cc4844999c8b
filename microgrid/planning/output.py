"""Write a plan to disk (``schedule.csv``, ``kpis.json``, ``schedule.png``) and summarise it in text.

Files are written to a temporary name and renamed, so a crash never leaves a half-written file in place
of a previous plan.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Callable
from pathlib import Path

from microgrid.planning.plan import Plan


def _atomic_write(path: Path, write: Callable[[Path], None]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    os.close(fd)
    try:
        write(Path(tmp))
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def write_plan(plan: Plan, out_dir: str | Path, *, plot: bool = True) -> dict[str, Path]:
    """Write the plan's files into ``out_dir``; returns their paths by name."""
    out = Path(out_dir)
    paths = {"schedule": out / "schedule.csv", "kpis": out / "kpis.json"}
    _atomic_write(paths["schedule"], plan.result.schedule.to_csv)
    text = json.dumps(plan.kpis(), indent=2, ensure_ascii=False, default=str)
    _atomic_write(paths["kpis"], lambda p: p.write_text(text + "\n", encoding="utf-8"))
    if plot:
        from microgrid.planning.plot import plot_schedule

        paths["plot"] = out / "schedule.png"
        _atomic_write(paths["plot"], lambda p: plot_schedule(plan, p))
    return paths


def _money(x: float) -> str:
    return f"{x:,.2f}"


def summary_lines(plan: Plan) -> list[str]:
    """A short human summary of the plan (what the CLI prints)."""
    r, k = plan.result, plan.kpis()
    inp = plan.inputs
    steps = f"{inp.n_steps} × {inp.step_h * 60:g} min"
    s = r.solve
    head = (f"Plan for {plan.site_id} from {k['period_start']} ({steps}): {r.formulation} {r.status} "
            f"with {s.solver} in {r.build_time_s + s.wall_time_s:.2f} s (build {r.build_time_s:.2f} s, "
            f"solve {s.wall_time_s:.2f} s, time limit {s.time_limit_s:g} s)")
    if r.relaxed:
        head = (f"NO FEASIBLE PLAN ({r.status}); the relaxed plan was written: it breaks only the limits named "
                f"below. {head}")
    elif r.fallback:
        head = f"NO OPTIMISED PLAN ({r.status}); the rule-based fallback schedule was written. {head}"
    b = k["cost_breakdown_cny"]
    lines = [
        head,
        f"Cost {_money(k['cost_total_cny'])} CNY: energy {_money(b['energy_import'])}, export {_money(b['export_revenue'])}, "
        f"demand charge +{_money(b['demand_charge'])} (peak {k['peak_import_kw']:,.0f} kW, month-to-date "
        f"{k['month_peak_before_kw']:,.0f} kW), battery wear {_money(b['battery_throughput'])}, load curtailment "
        f"{_money(b['load_curtailment'])}, carbon {_money(b['carbon'])}",
        f"Energy: import {k['import_kwh']:,.0f} kWh, export {k['export_kwh']:,.0f} kWh; PV {k['pv_available_kwh']:,.0f} kWh "
        f"available, {k['pv_self_consumed_kwh']:,.0f} used on site, {k['pv_curtailed_kwh']:,.0f} curtailed",
        f"Green-power ratio {100 * (k['green_power_ratio'] or 0):.1f} %"
        + (f" (minimum {100 * k['min_green_ratio']:.1f} %)" if k["min_green_ratio"] is not None else "")
        + f"; CO2 {k['co2_kg']:,.0f} kg at {k['emission_factor_kg_per_kwh']} kg/kWh ({k['emission_factor_source']})",
    ]
    if not r.fallback:
        base = k["baseline_cost_total_cny"]
        pct = 100 * k["savings_vs_baseline_cny"] / base if base else 0.0
        lines.append(f"Rule-based baseline (self-consumption + valley charging): {_money(base)} CNY; "
                     f"the plan saves {_money(k['savings_vs_baseline_cny'])} CNY ({pct:.1f} %)")
    if r.milp_reasons:
        lines.append("MILP used because: " + "; ".join(r.milp_reasons))
    if r.message and r.status != "optimal":
        lines.append(r.message)
    return lines
