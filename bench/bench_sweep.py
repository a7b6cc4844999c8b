"""Benchmark of a scenario sweep on Dask: the reference park's year, hourly, 16 scenarios, 1 and 2 workers.

For each worker count a fresh embedded ``LocalCluster`` (worker processes, one thread each) runs the 16
scenarios of ``site_configs/putian_hitech/scenarios.yaml`` (PV × shared-storage energy) into an empty
directory. Measured:

- wall time of the sweep (cluster start to last row written) and the cluster start-up alone;
- ``task_s``: time inside each task on its worker (the year planned and accounted), and its solver part;
- per-task Dask overhead = ((wall − start-up) × workers − Σ task_s) / tasks: worker-seconds per task not
  spent computing (client building the inputs, serialising them, scheduling, first imports on a worker,
  idle tail at the end);
- speed-up = wall(1 worker) / wall(2 workers), with and without the start-up;
- that both runs give identical figures (same inputs, deterministic solves);
- a paper estimate for 100 parks × 50 scenarios on 32 workers from the measured per-task costs.

Run: ``.venv/bin/python bench/bench_sweep.py [--workers 1 2] [--months FIRST LAST] [--json FILE]``. Results go to
docs/performance.md ("Scenario sweeps on Dask") by hand, with the command used.
"""

from __future__ import annotations

import argparse
import json
import math
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

SITE = ROOT / "site_configs" / "putian_hitech"
SCENARIOS = SITE / "scenarios.yaml"
YEAR = 2026


def sweep_once(workers: int, out: Path, months: tuple[int, int] | None = None) -> dict:
    from microgrid.sweep.results import ResultStore
    from microgrid.sweep.runner import LOCAL, RunSettings, run_sweep
    from microgrid.sweep.scenarios import SiteSource, cases, read_scenarios

    todo = cases([SiteSource.read(SITE)], read_scenarios(SCENARIOS), str(SCENARIOS))
    t0 = time.perf_counter()
    marks: dict[str, float] = {}
    outcome = run_sweep(todo, RunSettings(YEAR, step_min=60, months=months), out, scheduler=LOCAL, workers=workers,
                        on_start=lambda what, link: marks.setdefault("started", time.perf_counter() - t0),
                        on_row=lambda row, done, total: print(f"  {workers} worker(s) [{done}/{total}] {row['key']} "
                                                              f"{row['status']} {row.get('task_s', 0):.1f} s",
                                                              flush=True))
    wall = time.perf_counter() - t0
    frame = ResultStore(out).table(outcome.keys)
    tasks = frame["task_s"].to_numpy(float)
    startup = marks["started"]
    overhead = ((wall - startup) * workers - tasks.sum()) / len(tasks)
    return {"workers": workers, "tasks": len(tasks), "wall_s": wall, "startup_s": startup,
            "task_s_median": statistics.median(tasks), "task_s_sum": float(tasks.sum()),
            "solve_s_median": float(frame["solve_s"].median()), "overhead_per_task_s": overhead,
            "statuses": frame["status"].value_counts().to_dict(),
            "figures": frame[["key", "cost_total_cny", "green_ratio_pct"]].to_dict("records")}


def paper_estimate(task_s: float, overhead_s: float, startup_s: float, parks: int = 100, scenarios: int = 50,
                   workers: int = 32) -> dict:
    """Wall time of ``parks × scenarios`` tasks on ``workers``, each costing ``task_s + overhead_s``."""
    n = parks * scenarios
    rounds = math.ceil(n / workers)
    wall = startup_s + rounds * (task_s + overhead_s)
    return {"tasks": n, "workers": workers, "rounds": rounds, "wall_h": wall / 3600,
            "serial_h": n * task_s / 3600}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--months", type=int, nargs=2, metavar=("FIRST", "LAST"),
                        help="study only these months (a shorter run on a busy machine; default: the year)")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    runs = []
    for n in args.workers:
        with tempfile.TemporaryDirectory() as tmp:
            runs.append(sweep_once(n, Path(tmp) / "out", tuple(args.months) if args.months else None))
        r = runs[-1]
        print(f"{n} worker(s): wall {r['wall_s']:.1f} s (start-up {r['startup_s']:.1f} s), task median "
              f"{r['task_s_median']:.1f} s (solver {r['solve_s_median']:.1f} s), overhead per task "
              f"{r['overhead_per_task_s']:.2f} s, statuses {r['statuses']}", flush=True)
    result: dict = {"runs": runs, "months": args.months or "whole year"}
    if len(runs) >= 2:
        a, b = runs[0], runs[-1]
        result["speedup"] = a["wall_s"] / b["wall_s"]
        result["speedup_without_startup"] = (a["wall_s"] - a["startup_s"]) / (b["wall_s"] - b["startup_s"])
        result["identical_figures"] = a["figures"] == b["figures"]
        print(f"speed-up {a['workers']} -> {b['workers']} workers: {result['speedup']:.2f}x "
              f"({result['speedup_without_startup']:.2f}x without start-up); identical figures: "
              f"{result['identical_figures']}")
    # the single-worker run is closest to one task per core of a dedicated cluster node
    base = runs[0]
    result["estimate"] = paper_estimate(base["task_s_median"], max(base["overhead_per_task_s"], 0.0),
                                        base["startup_s"])
    e = result["estimate"]
    print(f"paper estimate, 100 parks x 50 scenarios on 32 workers: {e['tasks']} tasks in {e['rounds']} rounds, "
          f"≈ {e['wall_h']:.1f} h (serial ≈ {e['serial_h']:.1f} h)")
    for r in runs:
        r.pop("figures")
    if args.json:
        args.json.write_text(json.dumps(result, indent=1), encoding="utf-8")


if __name__ == "__main__":
    main()
