"""Benchmark of the annual study and the target planner on the reference park.

Measures, each in a fresh child process (so peak memory is the study's own):

- the year study (:func:`microgrid.study.run_study`) at hourly and 15-min resolution: wall time, peak RSS,
  the split into year inputs / daily plans / report accounting, and per-day solve time; baseline in the
  same run: one day-ahead plan of the same park (``solve_dispatch`` one-shot), × 365;
- the target planner (:class:`optimizer.sizing.SizingModel`) at hourly resolution for 2 and 3
  representative days a month and for the full year: build and solve time, peak RSS, annual cost at the
  35 % and 45 % targets and the representative-day error against the full year.

Run: ``.venv/bin/python bench/bench_study.py [--runs 1] [--skip-15min] [--skip-full-year] [--json FILE]``.
Results go to docs/performance.md ("Annual study and target planner") by hand, with the command used.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import resource
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

SITE = ROOT / "site_configs" / "putian_hitech"
YEAR = 2026


def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _study(step_min: int, queue) -> None:
    from microgrid.site import load_site
    from microgrid.study import run_study, year_inputs

    site = load_site(SITE)
    t0 = time.perf_counter()
    inputs = year_inputs(site, YEAR, step_min=step_min)
    t_inputs = time.perf_counter() - t0
    result = run_study(site, YEAR, inputs=inputs)
    total = time.perf_counter() - t0
    solves = [o.solve_s for o in result.outcomes]
    year = result.report.rows("year", "park")[0]
    queue.put({"step_min": step_min, "wall_s": total, "inputs_s": t_inputs, "study_s": result.wall_s,
               "median_day_solve_ms": statistics.median(solves) * 1000, "peak_rss_mb": _peak_rss_mb(),
               "fallback_days": len(result.fallback_days), "green_ratio_pct": year.green_ratio_pct,
               "cost_total_cny": year.cost_total_cny})


def _one_shot_days(step_min: int, queue, n_days: int = 14) -> None:
    from datetime import date, timedelta

    from microgrid.planning import plan_day
    from microgrid.site import load_site

    site = load_site(SITE)
    plan_day(site, date(YEAR, 1, 5), step_min=step_min)  # warm-up (imports, first HiGHS)
    t0 = time.perf_counter()
    for k in range(n_days):
        plan_day(site, date(YEAR, 3, 2) + timedelta(days=k), step_min=step_min)
    queue.put({"step_min": step_min, "per_day_s": (time.perf_counter() - t0) / n_days})


def _sizing(per_month, queue) -> None:
    from microgrid.site import load_site
    from microgrid.study.target import build_target_plan

    site = load_site(SITE)
    t0 = time.perf_counter()
    plan = build_target_plan(site, YEAR, step_min=60, per_month=per_month)
    build = time.perf_counter() - t0
    out = {"per_month": per_month, "days": plan.n_days, "build_s": build, "model_build_s": plan.model.build_time_s}
    for target in (0.35, 0.45):
        res = plan.model.solve(target)
        out[f"cost_{int(target * 100)}"] = res.annual_cost_cny
        out[f"solve_{int(target * 100)}_s"] = res.solve.wall_time_s
        out[f"highs_{int(target * 100)}_s"] = res.solve.highs_time_s
    out["peak_rss_mb"] = _peak_rss_mb()
    queue.put(out)


def child(target, *args) -> dict:
    ctx = mp.get_context("spawn")
    queue = ctx.Queue()
    proc = ctx.Process(target=target, args=(*args, queue))
    proc.start()
    result = queue.get()
    proc.join()
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=1, help="repetitions of each year study (median reported)")
    parser.add_argument("--skip-15min", action="store_true")
    parser.add_argument("--skip-full-year", action="store_true", help="skip the full-year sizing solve")
    parser.add_argument("--json", type=Path, help="write the figures to this file")
    args = parser.parse_args()
    out: dict = {"study": [], "baseline": [], "sizing": []}
    for step in (60,) if args.skip_15min else (60, 15):
        runs = [child(_study, step) for _ in range(args.runs)]
        best = sorted(runs, key=lambda r: r["wall_s"])[len(runs) // 2]
        out["study"].append(best)
        base = child(_one_shot_days, step)
        base["year_estimate_s"] = base["per_day_s"] * 365
        base["ratio_study_vs_one_shot"] = best["study_s"] / base["year_estimate_s"]
        out["baseline"].append(base)
        print(json.dumps(best), json.dumps(base), flush=True)
    for per_month in (2, 3) if args.skip_full_year else (2, 3, None):
        res = child(_sizing, per_month)
        out["sizing"].append(res)
        print(json.dumps(res), flush=True)
    full = next((s for s in out["sizing"] if s["per_month"] is None), None)
    if full:
        for s in out["sizing"]:
            for t in (35, 45):
                s[f"error_{t}_pct"] = (s[f"cost_{t}"] - full[f"cost_{t}"]) / abs(full[f"cost_{t}"]) * 100
    if args.json:
        args.json.write_text(json.dumps(out, indent=2), encoding="utf-8")
    print(json.dumps(out, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
