"""Benchmark of the batch AC power flow beside lightsim2grid's own time-series solver.

Measures, in one process, on the reference park and its optimised plan for ``--day`` (96 × 15 min),
the same day repeated to a week (672 steps) and to a year (35,040 steps):

- **lightsim2grid baseline**: ``TimeSeriesCPP.compute_Vs`` + ``get_voltages`` on the same net and the same
  bus injections (the raw C++ engine, nothing else);
- **ours, solve**: :meth:`microgrid.network.BatchPowerFlow.solve` (injections → voltages, the mismatch
  re-checked on pandapower's ``Ybus``), with the lightsim2grid backend and, up to a week, the numpy
  fallback;
- **ours, AC check**: :func:`microgrid.network.check_injections` (element powers, solve, branch results,
  limits and the violation list), the whole year included;
- **accuracy**: max |ΔV| (pu) against ``pp.runpp`` on ``--pp-steps`` steps of the day.

Medians of ``--runs`` interleaved rounds after one warm-up; ratios taken per round, then the median.
Run: ``.venv/bin/python bench/bench_ac_batch.py [--runs 5] [--day 2025-07-15]``.
Results go to docs/performance.md (AC check section) by hand, with the command used.
"""

from __future__ import annotations

import argparse
import copy
import logging
import os
import platform
import statistics
import sys
import time
import warnings
from datetime import date
from pathlib import Path

import numpy as np
import pandapower as pp
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from microgrid.network import ParkNetwork, check_injections  # noqa: E402
from microgrid.network.builder import apply_step, element_powers  # noqa: E402
from microgrid.network.powerflow import BatchPowerFlow  # noqa: E402
from microgrid.network.schedule import schedule_injections  # noqa: E402
from microgrid.planning.adapter import build_dispatch_inputs, horizon_for_day  # noqa: E402
from microgrid.site import load_site  # noqa: E402
from optimizer import solve_dispatch  # noqa: E402

HORIZONS = {"day": 1, "week": 7, "year": 365}


def repeat(injections: pd.DataFrame, days: int) -> pd.DataFrame:
    """The day's injections repeated ``days`` times on a continuous 15-min index."""
    values = np.tile(injections.to_numpy(dtype=float), (days, 1))
    index = pd.date_range(injections.index[0], periods=len(values), freq=injections.index.freq or "15min")
    return pd.DataFrame(values, index=index, columns=injections.columns)


def raw_lightsim(solver: BatchPowerFlow, s_bus: np.ndarray) -> float:
    """Seconds of lightsim2grid's TimeSeriesCPP alone on these injections."""
    engine = solver._engine
    t0 = time.perf_counter()
    engine.solve(s_bus, solver.v_init, solver.tol_pu, solver.max_iter)
    return time.perf_counter() - t0


def timed(fn) -> float:
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--day", type=date.fromisoformat, default=date(2025, 7, 15))
    parser.add_argument("--pp-steps", type=int, default=24, help="steps compared with pp.runpp")
    args = parser.parse_args(argv)
    logging.getLogger("pandapower").setLevel(logging.ERROR)
    warnings.simplefilter("ignore")
    import lightsim2grid

    site = load_site(ROOT / "site_configs" / "putian_hitech")
    schedule = solve_dispatch(build_dispatch_inputs(site, horizon_for_day(site, args.day))).schedule
    network = ParkNetwork.from_site(site)
    solver = network.solver
    numpy_solver = BatchPowerFlow(network.net, backend="numpy")
    day = schedule_injections(schedule, network.assets, site)
    print(f"# bench_ac_batch: {site.id}, {args.day}; python {platform.python_version()}, pandapower "
          f"{pp.__version__}, lightsim2grid {lightsim2grid.__version__}, numpy {np.__version__}, "
          f"{os.cpu_count()} CPU(s), load average {os.getloadavg()[0]:.1f}, runs={args.runs}")
    print(f"# backend: {solver.backend}")

    # accuracy against runpp on the day
    check = check_injections(network, day)
    net = copy.deepcopy(network.net)
    powers = element_powers(net, day)
    worst = 0.0
    for step in np.linspace(0, len(day) - 1, min(args.pp_steps, len(day))).astype(int):
        apply_step(net, powers, int(step))
        pp.runpp(net, numba=False, calculate_voltage_angles=True, tolerance_mva=1e-11)
        v_pp = net.res_bus.vm_pu.to_numpy() * np.exp(1j * np.radians(net.res_bus.va_degree.to_numpy()))
        v_us = check.vm_pu.iloc[step].to_numpy() * np.exp(1j * np.radians(check.va_degree.iloc[step].to_numpy()))
        worst = max(worst, float(np.abs(v_pp - v_us).max()))
    print(f"# max |dV| vs pp.runpp over {min(args.pp_steps, len(day))} steps: {worst:.2e} pu\n")

    print("| horizon | steps | lightsim2grid TimeSeriesCPP ms | ours: solve ms | solve / lightsim2grid "
          "| ours: AC check ms | check / lightsim2grid | numpy fallback solve ms |")
    print("|---|---|---|---|---|---|---|---|")
    for name, days in HORIZONS.items():
        inj = repeat(day, days)
        s_bus = solver.bus_injections_pu(element_powers(network.net, inj))
        rounds = []
        for i in range(args.runs + 1):
            base = raw_lightsim(solver, s_bus)
            solve = timed(lambda s=s_bus: solver.solve(s))
            full = timed(lambda x=inj: check_injections(network, x))
            fallback = timed(lambda s=s_bus: numpy_solver.solve(s)) if days <= 7 else float("nan")
            if i:
                rounds.append((base, solve, full, fallback))
        med = [statistics.median(r[k] for r in rounds) * 1000 for k in range(4)]
        solve_ratio = statistics.median(r[1] / r[0] for r in rounds)
        check_ratio = statistics.median(r[2] / r[0] for r in rounds)
        fb = f"{med[3]:.1f}" if days <= 7 else "-"
        print(f"| {name} | {len(inj)} | {med[0]:.1f} | {med[1]:.1f} | {solve_ratio:.2f} | {med[2]:.1f} | "
              f"{check_ratio:.2f} | {fb} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
