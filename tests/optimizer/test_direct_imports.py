"""A fresh process pays only for the imports a solve needs (issue 16: pyomo's deferred scipy import loads
scipy.stats and scipy.integrate, ≈ 1 s, that compiling never uses)."""

from __future__ import annotations

import subprocess
import sys

from tests.paths import ROOT, SMALL_SITE

SOLVE_IN_A_FRESH_PROCESS = f"""
import sys
from datetime import date
from microgrid.site import load_site
from microgrid.planning.plan import plan_day
plan = plan_day(load_site({str(SMALL_SITE)!r}), date(2025, 7, 15))
print("scipy.stats" in sys.modules, "scipy.integrate" in sys.modules, "scipy.sparse" in sys.modules)
from pyomo.common.dependencies import scipy
print(scipy.stats.norm.cdf(0.0))  # pyomo's own deferred scipy still resolves, with its finaliser
"""


def test_a_solve_loads_scipy_sparse_but_not_stats_and_pyomo_still_resolves_scipy():
    out = subprocess.run([sys.executable, "-c", SOLVE_IN_A_FRESH_PROCESS], cwd=ROOT, capture_output=True,
                         text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    lines = out.stdout.strip().splitlines()
    assert lines[-2] == "False False True", out.stdout
    assert lines[-1] == "0.5"
