"""Benchmark: start-up and run time of the ``microgrid`` command (each command a fresh process).

Measured (median of ``--runs`` runs each, wall time of the whole process):

- ``microgrid --help``
- ``microgrid validate site_configs/putian_hitech``
- ``microgrid optimize site_configs/putian_hitech --day 2026-07-15 --no-network --no-plot --out TMP``

Baselines in the same run, so a busy machine shows as ratios: ``python -c pass`` (the interpreter alone),
``python -c "import pandas, pyomo.environ, pvlib"`` (what a plan imported before the forecast's PV chain stopped
loading the pvlib package) and the parser
built the old way, importing every command module (what ``--help`` cost before the CLI imported only the
chosen command). The fourth column divides by the interpreter baseline.

Run: ``.venv/bin/python bench/bench_cli.py [--runs 5]``.
Targets (issue 16): ``--help`` and ``validate`` ≤ 1.5 s, ``optimize --no-network --no-plot`` ≤ 3 s (medians).
Results go to docs/performance.md.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SITE = "site_configs/putian_hitech"
TARGETS_S = {"microgrid --help": 1.5, "microgrid validate": 1.5, "microgrid optimize --no-network --no-plot": 3.0}


def _time(argv: list[str], runs: int) -> list[float]:
    out = []
    for _ in range(runs):
        t0 = time.perf_counter()
        done = subprocess.run(argv, cwd=ROOT, capture_output=True, text=True, check=False)
        out.append(time.perf_counter() - t0)
        if done.returncode != 0:
            raise SystemExit(f"{' '.join(argv)} failed ({done.returncode}): {done.stderr[-500:]}")
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", 1)[0])
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    py = sys.executable
    mg = [py, "-m", "microgrid"]
    with tempfile.TemporaryDirectory() as tmp:
        cases = {
            "python -c pass (baseline)": [py, "-c", "pass"],
            "import pandas, pyomo, pvlib (baseline)": [py, "-c", "import pandas, pyomo.environ, pvlib"],
            "--help, every command module imported (before issue 16)": [
                py, "-c", "from microgrid.cli import build_parser; build_parser().format_help()"],
            "microgrid --help": [*mg, "--help"],
            "microgrid validate": [*mg, "validate", SITE],
            "microgrid optimize --no-network --no-plot": [*mg, "optimize", SITE, "--day", "2026-07-15",
                                                          "--no-network", "--no-plot", "--out", tmp],
        }
        results = {name: _time(argv, args.runs) for name, argv in cases.items()}
    base = statistics.median(results["python -c pass (baseline)"])
    print(f"bench_cli: {args.runs} runs each, {platform.python_version()}, {os.cpu_count()} CPUs, "
          f"load average {os.getloadavg()[0]:.1f}")
    print("| command | median s | min s | × interpreter | target |\n|---|---:|---:|---:|---|")
    for name, times in results.items():
        median = statistics.median(times)
        target = TARGETS_S.get(name)
        verdict = "" if target is None else f"≤ {target:g} s {'ok' if median <= target else 'MISSED'}"
        print(f"| `{name}` | {median:.2f} | {min(times):.2f} | {median / base:.1f} | {verdict} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
