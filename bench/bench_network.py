"""Benchmark of the AC check and the network-constrained dispatch.

Measures, in one process:

- **AC check**, reference park, 96 × 15 min: the optimizer's plan for ``--day`` checked by
  :func:`microgrid.network.check_schedule` (schedule → injections → vectorised Newton-Raphson → results
  and violations), median of ``--runs`` runs after one warm-up; the solver set-up (one ``runpp``) is
  reported separately because a :class:`~microgrid.network.ParkNetwork` is built once and reused;
- **baselines on the same net and the same 96 steps**: pandapower ``run_timeseries`` with ``ConstControl``
  on every load/sgen/storage (median of ``--baseline-runs``; only the ``run_timeseries`` call is timed, the
  controllers and data sources are built beforehand) and a plain loop of 96 ``pp.runpp``;
- **accuracy**: max |ΔV| (pu) of every bus in every step against ``runpp`` and against ``run_timeseries``,
  and max |Δ loading| (percentage points) against ``runpp``;
- **network-constrained dispatch** on ``site_configs/putian_congested``: time of
  :func:`microgrid.network.constrained.plan_with_network` (first solve + checks + re-solves), iterations,
  cost before/after and violations before/after (median of ``--runs``).

Run: ``.venv/bin/python bench/bench_network.py [--runs 7] [--baseline-runs 3] [--day 2025-07-15] [--json out.json]``.
Results go to docs/performance.md (network section) by hand, with the command used.
"""

from __future__ import annotations

import argparse
import copy
import json
import logging
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

from microgrid.network import ParkNetwork, check_schedule  # noqa: E402
from microgrid.network.builder import ASSET_TABLES, apply_step, element_powers  # noqa: E402
from microgrid.network.constrained import plan_with_network  # noqa: E402
from microgrid.network.schedule import schedule_injections  # noqa: E402
from microgrid.planning.adapter import build_dispatch_inputs, horizon_for_day  # noqa: E402
from microgrid.site import load_site  # noqa: E402
from optimizer import solve_dispatch  # noqa: E402

TARGET_CHECK_S = 0.2
TARGET_SPEEDUP = 3.0
TARGET_DV_PU = 1e-6


def median_s(values: list[float]) -> float:
    return float(statistics.median(values))


def time_check(network: ParkNetwork, schedule, runs: int) -> tuple[list[float], object]:
    check_schedule(network, schedule)  # warm-up
    times, check = [], None
    for _ in range(runs):
        t0 = time.perf_counter()
        check = check_schedule(network, schedule)
        times.append(time.perf_counter() - t0)
    return times, check


def timeseries_net(network: ParkNetwork, powers) -> tuple[pp.pandapowerNet, object]:
    """A copy of the net with ConstControl on every asset element, and its OutputWriter."""
    from pandapower.control import ConstControl
    from pandapower.timeseries import DFData, OutputWriter

    net = copy.deepcopy(network.net)
    steps = powers.n_steps
    for table in ASSET_TABLES:
        if not len(net[table]):
            continue
        names = [f"{table}_{i}" for i in net[table].index]
        for variable, values in (("p_mw", powers.p_mw[table]), ("q_mvar", powers.q_mvar[table])):
            data = DFData(pd.DataFrame(values, index=range(steps), columns=names))
            ConstControl(net, element=table, variable=variable, element_index=net[table].index.to_numpy(),
                         data_source=data, profile_name=names)
    writer = OutputWriter(net, time_steps=range(steps), output_path=None,
                          log_variables=[("res_bus", "vm_pu"), ("res_line", "loading_percent"),
                                         ("res_trafo", "loading_percent")])
    return net, writer


def time_run_timeseries(network: ParkNetwork, powers, runs: int) -> tuple[list[float], np.ndarray]:
    from pandapower.timeseries import run_timeseries

    times, vm = [], None
    for _ in range(runs):
        net, writer = timeseries_net(network, powers)
        t0 = time.perf_counter()
        run_timeseries(net, time_steps=range(powers.n_steps), verbose=False, numba=False)
        times.append(time.perf_counter() - t0)
        vm = writer.output["res_bus.vm_pu"].to_numpy()
    return times, vm


def runpp_loop(network: ParkNetwork, powers) -> tuple[float, np.ndarray, np.ndarray, np.ndarray]:
    """96 × runpp on a copy of the net: (seconds, vm, line loading, trafo loading)."""
    net = copy.deepcopy(network.net)
    vm, line, trafo = [], [], []
    t0 = time.perf_counter()
    for step in range(powers.n_steps):
        apply_step(net, powers, step)
        pp.runpp(net, numba=False)
        vm.append(net.res_bus.vm_pu.to_numpy().copy())
        line.append(net.res_line.loading_percent.to_numpy().copy())
        trafo.append(net.res_trafo.loading_percent.to_numpy().copy())
    return time.perf_counter() - t0, np.array(vm), np.array(line), np.array(trafo)


def bench_loop(day: date, runs: int) -> dict:
    site = load_site(ROOT / "site_configs" / "putian_congested")
    inputs = build_dispatch_inputs(site, horizon_for_day(site, day))
    network = ParkNetwork.from_site(site)
    plan_with_network(inputs, network)  # warm-up
    times, plan = [], None
    for _ in range(runs):
        t0 = time.perf_counter()
        plan = plan_with_network(inputs, network)
        times.append(time.perf_counter() - t0)
    s = plan.summary()
    return {
        "site": site.id, "median_s": median_s(times), "min_s": min(times), "status": plan.status,
        "iterations": plan.iterations, "network_rows": s["network_rows"],
        "cost_unconstrained_cny": s["cost_unconstrained_cny"], "cost_final_cny": s["cost_final_cny"],
        "violations_unconstrained": s["violations_unconstrained"], "violations_remaining": s["violations_remaining"],
        "max_cable_ss_fa1_loading_before_pct": round(float(plan.unconstrained_check.line_loading_pct["cable_ss_fa1"].max()), 2),
        "max_cable_ss_fa1_loading_after_pct": round(float(plan.check.line_loading_pct["cable_ss_fa1"].max()), 2),
        "solve_s_per_iteration": [h.solve_time_s for h in plan.history],
        "check_s_per_iteration": [h.check_time_s for h in plan.history],
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--baseline-runs", type=int, default=3)
    parser.add_argument("--day", type=date.fromisoformat, default=date(2025, 7, 15))
    parser.add_argument("--json", type=Path, help="also write the figures as JSON")
    args = parser.parse_args(argv)
    logging.getLogger("pandapower").setLevel(logging.ERROR)
    warnings.simplefilter("ignore")

    site = load_site(ROOT / "site_configs" / "putian_hitech")
    schedule = solve_dispatch(build_dispatch_inputs(site, horizon_for_day(site, args.day))).schedule
    t0 = time.perf_counter()
    network = ParkNetwork.from_site(site)
    build_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    network.solver  # noqa: B018 - the one runpp that sets up Ybus
    setup_s = time.perf_counter() - t0
    check_times, check = time_check(network, schedule, args.runs)
    powers = element_powers(network.net, schedule_injections(schedule, network.assets, site))
    ts_times, ts_vm = time_run_timeseries(network, powers, args.baseline_runs)
    loop_s, pp_vm, pp_line, pp_trafo = runpp_loop(network, powers)

    ours = median_s(check_times)
    baseline = median_s(ts_times)
    figures = {
        "machine": f"{platform.processor() or platform.machine()}, Python {platform.python_version()}, "
                   f"pandapower {pp.__version__}, numpy {np.__version__}",
        "day": args.day.isoformat(), "steps": len(check.index),
        "net_build_s": round(build_s, 4), "solver_setup_s": round(setup_s, 4),
        "check_median_s": round(ours, 4), "check_min_s": round(min(check_times), 4), "check_runs": args.runs,
        "run_timeseries_median_s": round(baseline, 3), "run_timeseries_runs": args.baseline_runs,
        "runpp_loop_s": round(loop_s, 3),
        "speedup_vs_run_timeseries": round(baseline / ours, 1),
        "speedup_vs_runpp_loop": round(loop_s / ours, 1),
        "max_dv_pu_vs_runpp": float(np.abs(check.vm_pu.to_numpy() - pp_vm).max()),
        "max_dv_pu_vs_run_timeseries": float(np.abs(check.vm_pu.to_numpy() - ts_vm).max()),
        "max_dloading_pct_vs_runpp": float(max(np.abs(check.line_loading_pct.to_numpy() - pp_line).max(),
                                               np.abs(check.trafo_loading_pct.to_numpy() - pp_trafo).max())),
        "violations_in_checked_plan": check.n_violations,
        "constrained_loop": bench_loop(args.day, max(3, args.runs // 2)),
    }
    figures["targets_met"] = {
        "check_le_0.2_s": ours <= TARGET_CHECK_S,
        "speedup_ge_3x": baseline / ours >= TARGET_SPEEDUP,
        "dv_le_1e-6_pu": figures["max_dv_pu_vs_runpp"] <= TARGET_DV_PU,
    }
    print(json.dumps(figures, indent=2))
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2) + "\n", encoding="utf-8")
    return 0 if all(figures["targets_met"].values()) else 1


if __name__ == "__main__":
    sys.exit(main())
