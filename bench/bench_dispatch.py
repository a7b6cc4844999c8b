"""Benchmark of the day-ahead and intraday dispatch on the reference park (96 × 15 min).

Measures, in one process and on the same LP:

- build time (Pyomo model from the inputs) and solve time (transfer + HiGHS + reading the solution back)
  for each solver path: ``direct`` (standard-form compile → highspy), ``appsi`` and ``contrib``
  (Pyomo's persistent HiGHS interfaces); median of ``--runs`` runs after one warm-up;
- the baseline: the same LP exported by Pyomo's LP writer and solved by plain ``highspy``
  (``readModel`` + ``run``), and the ratios of our times to it;
- intraday re-planning: :class:`optimizer.IntradayPlanner` rolled forward 15 min at a time with new
  forecasts and measured state, median time of ``replan`` (update + solve + results); ``appsi+reserve``
  is the default path with the peak-reserve rows the site intraday planner adds.

Run: ``.venv/bin/python bench/bench_dispatch.py [--runs 7] [--resolves 12] [--day 2025-07-15]``.
Results go to docs/performance.md (optimizer section) by hand, with the command used.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

import highspy
import pandas as pd
import pyomo

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from microgrid.planning.adapter import (  # noqa: E402
    PlanOptions,
    build_dispatch_inputs,
    horizon_for_day,
    rolling_horizon,
)
from microgrid.planning.intraday import PEAK_RESERVE_MARGIN_PCT  # noqa: E402
from microgrid.site import load_site  # noqa: E402
from optimizer import IntradayPlanner, MeasuredState, SolverOptions  # noqa: E402
from optimizer.model import DispatchModel  # noqa: E402
from optimizer.solver import make_solver  # noqa: E402

INTERFACES = ("direct", "appsi", "contrib")
RESERVE = "appsi+reserve"
"""The default intraday path with the peak reserve rows of the site intraday planner."""


def median_ms(values: list[float]) -> float:
    return statistics.median(values) * 1000


def export_lp(inputs, directory: str) -> tuple[str, float]:
    """Write the LP (no exclusivity rows, as solved day-ahead) with Pyomo's LP writer; returns path, seconds."""
    dm = DispatchModel(inputs, switches=False)
    path = os.path.join(directory, "dispatch.lp")
    t0 = time.perf_counter()
    dm.m.write(path, io_options={"symbolic_solver_labels": False})
    return path, time.perf_counter() - t0


def plain_highspy(path: str) -> tuple[float, float, float, tuple[int, int, int]]:
    """readModel + run of the exported LP by plain highspy: (read s, run s, objective, (rows, cols, nnz))."""
    highs = highspy.Highs()
    highs.setOptionValue("output_flag", False)
    highs.setOptionValue("threads", 1)
    t0 = time.perf_counter()
    highs.readModel(path)
    t1 = time.perf_counter()
    highs.run()
    t2 = time.perf_counter()
    return t1 - t0, t2 - t1, highs.getInfo().objective_function_value, (highs.getNumRow(), highs.getNumCol(),
                                                                         highs.getNumNz())


def one_shot(inputs, interface: str) -> tuple[float, float, float, float]:
    """Fresh build + solve: (build s, solve s, HiGHS s, objective)."""
    t0 = time.perf_counter()
    dm = DispatchModel(inputs, switches=False)
    t1 = time.perf_counter()
    info = make_solver(SolverOptions(interface=interface), persistent=interface != "direct").solve(dm.m)
    t2 = time.perf_counter()
    if not info.status.has_solution:
        raise SystemExit(f"{interface}: solve failed: {info.termination}")
    return t1 - t0, t2 - t1, info.highs_time_s, info.objective


def bench_one_shot(inputs, runs: int) -> tuple[dict, dict]:
    """Interleaved rounds (plain highspy, then each path) so machine load hits all alike; first round is
    a warm-up. Ratios are taken per round against that round's highspy time, then the median."""
    samples: dict[str, list[tuple]] = {i: [] for i in INTERFACES}
    plain: list[tuple] = []
    with tempfile.TemporaryDirectory() as tmp:
        path, write_s = export_lp(inputs, tmp)
        for i in range(runs + 1):
            p = plain_highspy(path)
            row = {name: one_shot(inputs, name) for name in INTERFACES}
            if i:
                plain.append(p)
                for name, values in row.items():
                    samples[name].append((*values, p[0] + p[1]))
    objective, shape = plain[-1][2], plain[-1][3]
    out = {}
    for name, rows in samples.items():
        for _build, _solve, _highs, obj, _base in rows:
            if abs(obj - objective) > 1e-6 * max(1.0, abs(objective)):
                raise SystemExit(f"{name}: objective {obj} differs from plain highspy {objective}")
        out[name] = {
            "build": median_ms([r[0] for r in rows]), "solve": median_ms([r[1] for r in rows]),
            "highs": median_ms([r[2] for r in rows]), "first": median_ms([r[0] + r[1] for r in rows]),
            "solve_ratio": statistics.median(r[1] / r[4] for r in rows),
            "first_ratio": statistics.median((r[0] + r[1]) / r[4] for r in rows),
        }
    base = {"write": write_s * 1000, "read": median_ms([p[0] for p in plain]), "run": median_ms([p[1] for p in plain]),
            "objective": objective, "shape": shape}
    return base, out


def bench_intraday(site, inputs, resolves: int, lp_path: str, firsts: int = 3) -> dict:
    """Persistent planners for ``direct``, ``appsi`` and ``contrib``, measured interleaved: ``firsts`` first solves
    (build + solve) each, then rolling 15-min re-solves with new data and state, alternating between the
    interfaces; a plain highspy solve of the day-ahead LP runs before each pair as the baseline."""
    names = ("direct", "appsi", "contrib", RESERVE)
    start = inputs.index[0]
    reserve = PlanOptions(peak_reserve_margin_pct=PEAK_RESERVE_MARGIN_PCT)
    horizons = [{n: build_dispatch_inputs(site, rolling_horizon(site, start + pd.Timedelta(minutes=15 * k)),
                                          options=reserve if n == RESERVE else None) for n in names}
                for k in range(1, resolves + 2)]
    first_inputs = {n: build_dispatch_inputs(site, inputs.index, options=reserve) if n == RESERVE else inputs
                    for n in names}
    first = {n: [] for n in names}
    build = {n: [] for n in names}
    planners = {}
    for _ in range(firsts):
        for name in names:
            t0 = time.perf_counter()
            planner = IntradayPlanner(first_inputs[name], SolverOptions(interface=name.split("+")[0]))
            result = planner.solve()
            first[name].append(time.perf_counter() - t0)
            build[name].append(planner.build_time_s)
            if not result.ok:
                raise SystemExit(f"intraday {name}: first solve failed: {result.message}")
            planners[name] = planner
    times = {n: [] for n in names}
    highs_times = {n: [] for n in names}
    ratios = {n: [] for n in names}
    for k, horizon in enumerate(horizons):
        read, run, _, _ = plain_highspy(lp_path)
        state = MeasuredState(soc_pct={b.id: 40.0 + k for b in inputs.batteries}, month_peak_kw=3000.0 + 10 * k)
        for name in names[k % len(names):] + names[:k % len(names)]:  # rotate who goes first
            t0 = time.perf_counter()
            result = planners[name].replan(horizon[name], state)
            dt = time.perf_counter() - t0
            if not result.ok:
                raise SystemExit(f"intraday {name}: re-solve {k} failed: {result.message}")
            if k:  # the first re-solve is a warm-up of the update path
                times[name].append(dt)
                highs_times[name].append(result.solve.highs_time_s)
                ratios[name].append(dt / (read + run))
    return {n: {"first": median_ms(first[n]), "first_build": median_ms(build[n]), "resolve": median_ms(times[n]),
                "resolve_max": max(times[n]) * 1000, "highs": median_ms(highs_times[n]),
                "ratio": statistics.median(ratios[n])} for n in names}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--site", default=str(ROOT / "site_configs" / "putian_hitech"))
    parser.add_argument("--day", default="2025-07-15", help="planned local day (default: a summer weekday)")
    parser.add_argument("--runs", type=int, default=7, help="runs per one-shot measurement (median; >= 5)")
    parser.add_argument("--resolves", type=int, default=12, help="intraday re-solves (median)")
    args = parser.parse_args(argv)
    site = load_site(args.site)
    inputs = build_dispatch_inputs(site, horizon_for_day(site, date.fromisoformat(args.day)))
    print(f"# bench_dispatch: {site.id}, {args.day}, {inputs.n_steps} steps x {inputs.step_h * 60:g} min")
    print(f"# python {platform.python_version()}, pyomo {pyomo.version.version}, highspy "
          f"{highspy.HIGHS_VERSION_MAJOR}.{highspy.HIGHS_VERSION_MINOR}.{highspy.HIGHS_VERSION_PATCH}, "
          f"{os.cpu_count()} CPU(s), {platform.processor() or platform.machine()}, runs={args.runs}")
    plain, paths = bench_one_shot(inputs, args.runs)
    base = plain["read"] + plain["run"]
    rows, cols, nnz = plain["shape"]
    print(f"\nLP: {rows} rows, {cols} columns, {nnz} nonzeros; objective {plain['objective']:.4f} CNY")
    print(f"plain highspy (same LP via Pyomo LP writer, {plain['write']:.1f} ms to write): "
          f"readModel {plain['read']:.1f} ms + run {plain['run']:.1f} ms = {base:.1f} ms\n")
    print("| path | build ms | solve ms | (HiGHS ms) | first solve ms | solve / highspy | first solve / highspy |")
    print("|---|---|---|---|---|---|---|")
    for interface, r in paths.items():
        print(f"| {interface} | {r['build']:.1f} | {r['solve']:.1f} | {r['highs']:.1f} | {r['first']:.1f} | "
              f"{r['solve_ratio']:.2f} | {r['first_ratio']:.2f} |")
    print("\n| intraday (persistent) | build ms | first solve ms (build+solve) | re-solve median ms | re-solve max ms "
          "| (HiGHS ms) | re-solve / highspy |")
    print("|---|---|---|---|---|---|---|")
    with tempfile.TemporaryDirectory() as tmp:
        lp_path, _ = export_lp(inputs, tmp)
        for interface, r in bench_intraday(site, inputs, args.resolves, lp_path).items():
            print(f"| {interface} | {r['first_build']:.1f} | {r['first']:.1f} | {r['resolve']:.1f} | "
                  f"{r['resolve_max']:.1f} | {r['highs']:.1f} | {r['ratio']:.2f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
