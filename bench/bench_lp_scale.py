"""Benchmark of the dispatch LP at 1 day, 1 week and (``--year``) 1 year beside raw highspy.

For each horizon of the reference park (15-min steps from ``--start``):

- **raw highspy baseline**: the same LP already held as numpy/scipy CSC arrays (what a hand-built matrix
  gives, with its construction cost left out, so the baseline is a lower bound) handed to ``highspy`` with
  one ``passModel`` and solved with ``run``;
- **ours**: what ``microgrid optimize`` does for the LP: :class:`optimizer.model.DispatchModel` (the Pyomo
  declaration) → :class:`optimizer.direct.DirectHighs` (standard-form compile → ``passModel`` → ``run`` →
  values back into Pyomo) → :func:`optimizer.results.extract_schedule`.

Wall times are medians of ``--runs`` interleaved rounds (raw, then ours) in this process after one warm-up;
the ratio is taken per round, then the median. Objectives must agree to 1e-9 relative. Peak memory is
per process, so each side is also run once in a child process of its own and its peak RSS reported
(``--memory``). The LP is solved with 1 thread, as in the product.

Run: ``.venv/bin/python bench/bench_lp_scale.py [--runs 5] [--year] [--memory]``.
Results go to docs/performance.md (optimizer section) by hand, with the command used.
"""

from __future__ import annotations

import argparse
import os
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import highspy
import numpy as np
import pandas as pd
import pyomo

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from microgrid.planning.adapter import build_dispatch_inputs, rolling_horizon  # noqa: E402
from microgrid.site import load_site  # noqa: E402
from optimizer import SolverOptions  # noqa: E402
from optimizer.direct import DirectHighs, _as_lp, _compile  # noqa: E402
from optimizer.model import DispatchModel  # noqa: E402
from optimizer.results import extract_schedule  # noqa: E402
from optimizer.solver import _new_highs  # noqa: E402

HORIZON_DAYS = {"day": 1, "week": 7, "year": 365}


def inputs_for(days: int, start: str):
    site = load_site(ROOT / "site_configs" / "putian_hitech")
    return build_dispatch_inputs(site, rolling_horizon(site, pd.Timestamp(start, tz=site.timezone), hours=24 * days))


def reference_lp(inputs) -> highspy.HighsLp:
    """The LP as numpy arrays (compiled once, untimed): the raw baseline's hand-built matrix."""
    dm = DispatchModel(inputs, switches=False)
    arrays, _ = _compile(dm.m, False)
    return _as_lp(arrays)


def raw(lp: highspy.HighsLp) -> tuple[float, float]:
    """passModel + run of ready arrays: (seconds, objective)."""
    t0 = time.perf_counter()
    highs = _new_highs()
    highs.setOptionValue("threads", 1)
    highs.passModel(lp)
    highs.run()
    wall = time.perf_counter() - t0
    return wall, highs.getInfo().objective_function_value


def ours(inputs) -> tuple[float, float]:
    """Pyomo build → direct compile → HiGHS → schedule: (seconds, objective)."""
    t0 = time.perf_counter()
    dm = DispatchModel(inputs, switches=False)
    info = DirectHighs(SolverOptions(interface="direct", time_limit_s=1e6)).solve(dm.m)  # no limit, as raw
    if not info.status.has_solution:
        raise SystemExit(f"solve failed: {info.termination}")
    extract_schedule(dm)
    return time.perf_counter() - t0, info.objective


def save_lp(lp: highspy.HighsLp, path: str) -> None:
    a = lp.a_matrix_
    np.savez(path, cost=lp.col_cost_, offset=lp.offset_, col_lower=lp.col_lower_, col_upper=lp.col_upper_,
             row_lower=lp.row_lower_, row_upper=lp.row_upper_, start=a.start_, index=a.index_, value=a.value_)


def load_lp(path: str) -> highspy.HighsLp:
    z = np.load(path)
    lp = highspy.HighsLp()
    lp.num_col_, lp.num_row_ = len(z["cost"]), len(z["row_lower"])
    lp.col_cost_, lp.offset_ = z["cost"], float(z["offset"])
    lp.col_lower_, lp.col_upper_ = z["col_lower"], z["col_upper"]
    lp.row_lower_, lp.row_upper_ = z["row_lower"], z["row_upper"]
    lp.a_matrix_.format_ = highspy.MatrixFormat.kColwise
    lp.a_matrix_.start_, lp.a_matrix_.index_, lp.a_matrix_.value_ = z["start"], z["index"], z["value"]
    return lp


def child(kind: str, days: int, start: str, lp_path: str) -> None:
    """One side, once, in this (child) process: prints wall, objective and peak RSS (MB). The raw side
    reads the arrays from ``lp_path`` (written by the parent), so no Pyomo object exists in it."""
    if kind == "raw":
        wall, obj = raw(load_lp(lp_path))
    else:
        wall, obj = ours(inputs_for(days, start))
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(f"{wall:.6f} {obj!r} {peak / 1024:.1f}")


def memory(lp: highspy.HighsLp, days: int, start: str) -> dict[str, float]:
    """Peak RSS (MB) of each side in a fresh child process."""
    out = {}
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "lp.npz")
        save_lp(lp, path)
        for kind in ("raw", "ours"):
            res = subprocess.run([sys.executable, __file__, "--child", kind, "--days", str(days), "--start", start,
                                  "--lp", path], capture_output=True, text=True, check=True)
            out[kind] = float(res.stdout.split()[-1])
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--start", default="2025-07-14", help="first local day (default: a Monday in July)")
    parser.add_argument("--year", action="store_true", help="also the 35,040-step year (long: minutes per solve)")
    parser.add_argument("--memory", action="store_true", help="peak RSS of each side in a child process")
    parser.add_argument("--child", choices=("raw", "ours"), help=argparse.SUPPRESS)
    parser.add_argument("--days", type=int, default=1, help=argparse.SUPPRESS)
    parser.add_argument("--lp", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        child(args.child, args.days, args.start, args.lp)
        return 0
    print(f"# bench_lp_scale: putian_hitech from {args.start}; python {platform.python_version()}, pyomo "
          f"{pyomo.version.version}, highspy {highspy.HIGHS_VERSION_MAJOR}.{highspy.HIGHS_VERSION_MINOR}."
          f"{highspy.HIGHS_VERSION_PATCH}, {os.cpu_count()} CPU(s), load average {os.getloadavg()[0]:.1f}, "
          f"runs={args.runs}")
    print("| horizon | steps | rows | columns | raw highspy s | ours s | ours / raw | objective rel. diff "
          "| peak MB raw | peak MB ours | peak ours / raw |")
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    horizons = {k: v for k, v in HORIZON_DAYS.items() if args.year or k != "year"}
    for name, days in horizons.items():
        inputs = inputs_for(days, args.start)
        lp = reference_lp(inputs)
        runs = 1 if days > 7 else args.runs
        rows = []
        for i in range(runs + (0 if days > 7 else 1)):
            r = raw(lp)
            o = ours(inputs)
            if i or days > 7:
                rows.append((r, o))
        worst = max(abs(o[1] - r[1]) / max(1.0, abs(r[1])) for r, o in rows)
        if worst > 1e-9:
            raise SystemExit(f"{name}: objectives differ by {worst:.2e} relative")
        raw_s = statistics.median(r[0] for r, _ in rows)
        our_s = statistics.median(o[0] for _, o in rows)
        ratio = statistics.median(o[0] / r[0] for r, o in rows)
        mem = memory(lp, days, args.start) if args.memory else None
        m_raw = f"{mem['raw']:.0f}" if mem else "-"
        m_our = f"{mem['ours']:.0f}" if mem else "-"
        m_ratio = f"{mem['ours'] / mem['raw']:.2f}" if mem else "-"
        print(f"| {name} | {inputs.n_steps} | {lp.num_row_} | {lp.num_col_} | {raw_s:.3f} | {our_s:.3f} | "
              f"{ratio:.2f} | {worst:.1e} | {m_raw} | {m_our} | {m_ratio} |", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
