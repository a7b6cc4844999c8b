"""Benchmark: one simulated day of the reference park, closed loop, intraday re-planning every 15 min.

What runs (all in this process, on one stepped clock, no sleeping):

- the simulator (:class:`sim.park.Park`) serving every device of the site over Modbus TCP on loopback,
  one physics step per control cycle;
- the drivers' fleet reading every device and writing setpoints through the safe-write layer
  (request pacing of real devices relaxed, see ``microgrid.control.driver_fleet.relax_pacing``);
- the controller runtime: real-time cycle every ``--cycle-s`` simulated seconds, intraday re-plan every
  15 min with the persistent solver (96 solves a day) and the 15:00 day-ahead plan, SQLite store.

Baseline in the same run: the simulator alone stepping the same day at the same step (no Modbus client,
no controller), so the ratio shows what the closed loop adds.

Run: ``.venv/bin/python bench/bench_closed_loop.py [--cycle-s 10] [--hours 24] [--runs 1]``.
Target (DESIGN.md §6): one simulated day ≤ 3 min wall time. Results go to docs/performance.md.
"""

from __future__ import annotations

import argparse
import asyncio
import platform
import statistics
import sys
import tempfile
import time
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from drivers.fleet import Fleet  # noqa: E402
from microgrid.clock import SteppedClock  # noqa: E402
from microgrid.control.driver_fleet import DriverFleet, relax_pacing  # noqa: E402
from microgrid.control.runtime import Runtime, RuntimeOptions  # noqa: E402
from microgrid.control.store_adapter import StoreAdapter  # noqa: E402
from microgrid.site import load_site  # noqa: E402
from microgrid.store import Store, energy_sources_from_site  # noqa: E402
from sim.park import Park  # noqa: E402


async def simulator_only(site, start: datetime, hours: float, step_s: float) -> float:
    """Wall time of the simulator stepping ``hours`` alone (physics + register publishing)."""
    clock = SteppedClock(start)
    park = Park.from_site(site, clock, seed=1, bind="auto", step_s=step_s)
    await park.start(run=False)
    t0 = time.perf_counter()
    n = int(round(hours * 3600 / step_s))
    for _ in range(n):
        await park.advance(step_s)
    wall = time.perf_counter() - t0
    await park.stop()
    return wall


async def closed_loop(site, start: datetime, hours: float, cycle_s: float, db: str) -> dict:
    clock = SteppedClock(start)
    park = Park.from_site(site, clock, seed=1, bind="auto", step_s=cycle_s)
    await park.start()
    client_site = park.client_site()
    fleet = Fleet.from_site(client_site, clock=clock, connect_delay_s=0.0)
    relax_pacing(fleet)
    driver_fleet = DriverFleet(fleet)
    await driver_fleet.start()
    store = Store.open(f"sqlite:///{db}", site_id=site.id, energy_sources=energy_sources_from_site(site),
                       max_hold_s=max(15.0, 2 * cycle_s))
    options = RuntimeOptions.from_site(client_site, cycle_s=cycle_s, telemetry_every_s=max(30.0, cycle_s))
    runtime = Runtime(client_site, driver_fleet, StoreAdapter(store, client_site, roll_up_every_s=300.0), clock,
                      options=options)
    worst_export = [0.0]

    def watch(_rt: Runtime) -> None:
        worst_export[0] = max(worst_export[0], -park.state().pcc_import_kw)

    t0 = time.perf_counter()
    await runtime.run(until=start + timedelta(hours=hours), progress=watch)
    await runtime.stop()
    wall = time.perf_counter() - t0
    await driver_fleet.close()
    await park.stop()
    store.close()
    jobs = runtime.jobs.jobs
    cycles = sorted(runtime.cycle_wall_s)
    kpis = runtime.kpis()
    return {"wall_s": wall, "cycles": runtime.cycles, "cycle_p50_ms": 1000 * statistics.median(cycles),
            "cycle_p99_ms": 1000 * cycles[int(0.99 * (len(cycles) - 1))],
            "intraday_runs": jobs["intraday"].runs, "day_ahead_runs": jobs["day_ahead"].runs,
            "worst_export_truth_kw": worst_export[0], "kpis": kpis, "timings": dict(runtime.timings)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--site", default=str(ROOT / "site_configs" / "putian_hitech"))
    parser.add_argument("--hours", type=float, default=24.0)
    parser.add_argument("--cycle-s", type=float, default=10.0, help="control cycle, simulated s (default 10)")
    parser.add_argument("--runs", type=int, default=1)
    parser.add_argument("--day", default="2025-07-16", help="simulated local day (default: a summer weekday)")
    parser.add_argument("--from", dest="start", default="00:00", help="local start time HH:MM (default 00:00)")
    parser.add_argument("--limits", action="store_true",
                        help="report hard limits on the true flows instead (bench/bench_hard_limits.py)")
    args, rest = parser.parse_known_args()
    if args.limits:
        from bench_hard_limits import main as limits_main

        return limits_main(["--hours", str(args.hours), "--cycle-s", str(args.cycle_s), "--from", args.start, *rest])
    site = load_site(args.site)
    start = datetime.fromisoformat(f"{args.day}T{args.start}").replace(tzinfo=ZoneInfo(site.timezone))
    print(f"python {platform.python_version()}, {platform.machine()}, site {site.id}, {args.hours:g} h, "
          f"cycle {args.cycle_s:g} s, from {args.day} {args.start}")
    walls, bases = [], []
    for run in range(args.runs):
        base = asyncio.run(simulator_only(site, start, args.hours, args.cycle_s))
        with tempfile.TemporaryDirectory() as tmp:
            result = asyncio.run(closed_loop(site, start, args.hours, args.cycle_s, f"{tmp}/bench.db"))
        walls.append(result["wall_s"])
        bases.append(base)
        k = result["kpis"]
        c = k["compliance"]
        print(f"run {run + 1}: closed loop {result['wall_s']:.1f} s ({result['cycles']} cycles, p50 "
              f"{result['cycle_p50_ms']:.1f} ms, p99 {result['cycle_p99_ms']:.1f} ms per cycle; "
              f"{result['intraday_runs']} intraday + {result['day_ahead_runs']} day-ahead plans); "
              f"simulator alone {base:.1f} s; ratio {result['wall_s'] / base:.2f}")
        print("       wall s by phase: " + ", ".join(f"{k} {v:.1f}" for k, v in result["timings"].items()))
        print(f"       export: max {c['max_export_kw']:.1f} kW metered, {result['worst_export_truth_kw']:.1f} kW true, "
              f"longest above {c['export_threshold_kw']:.1f} kW: {c['longest_export_over_threshold_s']:.0f} s; "
              f"import max {c['max_import_kw']:.0f} kW (cap {c['import_cap_kw']:.0f}); "
              f"cost {k['cost_total_cny']:.0f} CNY (plan energy {k['plan_energy_cost_cny']:.0f} vs realised "
              f"{k['realised_energy_cost_tracked_cny']:.0f}); tracking MAE {k['tracking_mae_kw']} kW")
    print(f"median closed-loop wall time: {statistics.median(walls):.1f} s for {args.hours:g} h "
          f"(target <= 180 s for 24 h); median simulator-only {statistics.median(bases):.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
