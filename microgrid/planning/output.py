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

from microgrid.i18n import t
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


def write_plan(plan: Plan, out_dir: str | Path, *, plot: bool = True, lang: str = "en") -> dict[str, Path]:
    """Write the plan's files into ``out_dir`` (``schedule.png`` labelled in ``lang``); returns their paths."""
    out = Path(out_dir)
    paths = {"schedule": out / "schedule.csv", "kpis": out / "kpis.json"}
    _atomic_write(paths["schedule"], plan.result.schedule.to_csv)
    text = json.dumps(plan.kpis(), indent=2, ensure_ascii=False, default=str)
    _atomic_write(paths["kpis"], lambda p: p.write_text(text + "\n", encoding="utf-8"))
    if plot:
        from microgrid.planning.plot import plot_schedule

        paths["plot"] = out / "schedule.png"
        _atomic_write(paths["plot"], lambda p: plot_schedule(plan, p, lang))
    return paths


def _money(x: float) -> str:
    return f"{x:,.2f}"


def summary_lines(plan: Plan, lang: str = "en") -> list[str]:
    """A short human summary of the plan (what the CLI prints), in ``lang``."""
    def L(key: str, **params: object) -> str:  # noqa: N802 - reads like the text it is
        return t(key, lang, **params)

    r, k = plan.result, plan.kpis()
    inp = plan.inputs
    steps = L("opt.steps", n=inp.n_steps, min=f"{inp.step_h * 60:g}")
    s = r.solve
    head = L("opt.head", site=plan.site_id, start=k["period_start"], steps=steps, formulation=r.formulation,
             status=r.status, solver=s.solver, total=f"{r.build_time_s + s.wall_time_s:.2f}",
             build=f"{r.build_time_s:.2f}", solve=f"{s.wall_time_s:.2f}", limit=f"{s.time_limit_s:g}")
    if r.relaxed:
        head = L("opt.relaxed", status=r.status, head=head)
    elif r.fallback:
        head = L("opt.fallback", status=r.status, head=head)
    b = k["cost_breakdown_cny"]
    green = L("opt.green", ratio=f"{100 * (k['green_power_ratio'] or 0):.1f}")
    if k["min_green_ratio"] is not None:
        green += L("opt.green_min", min=f"{100 * k['min_green_ratio']:.1f}")
    green += L("opt.co2", kg=f"{k['co2_kg']:,.0f}", factor=k["emission_factor_kg_per_kwh"],
               source=k["emission_factor_source"])
    lines = [
        head,
        L("opt.cost", total=_money(k["cost_total_cny"]), energy=_money(b["energy_import"]),
          export=_money(b["export_revenue"]), demand=_money(b["demand_charge"]), peak=f"{k['peak_import_kw']:,.0f}",
          mtd=f"{k['month_peak_before_kw']:,.0f}", wear=_money(b["battery_throughput"]),
          curtail=_money(b["load_curtailment"]), carbon=_money(b["carbon"])),
        L("opt.energy", imp=f"{k['import_kwh']:,.0f}", exp=f"{k['export_kwh']:,.0f}", pv=f"{k['pv_available_kwh']:,.0f}",
          used=f"{k['pv_self_consumed_kwh']:,.0f}", curtailed=f"{k['pv_curtailed_kwh']:,.0f}"),
        green,
    ]
    if not r.fallback:
        base = k["baseline_cost_total_cny"]
        pct = 100 * k["savings_vs_baseline_cny"] / base if base else 0.0
        lines.append(L("opt.baseline", base=_money(base), saves=_money(k["savings_vs_baseline_cny"]), pct=f"{pct:.1f}"))
    if r.milp_reasons:
        lines.append(L("opt.milp", reasons="; ".join(r.milp_reasons)))
    if r.message and r.status != "optimal":
        lines.append(r.message)
    return lines
