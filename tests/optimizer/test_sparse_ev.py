"""One-shot models hold EV columns only where a session can charge; the optimum is that of the full
(slot × step) formulation the persistent model keeps, on every bundled site and over a week."""

from __future__ import annotations

import pandas as pd
import pytest

from microgrid.planning.adapter import build_dispatch_inputs, rolling_horizon
from microgrid.site import load_site
from optimizer import SolverOptions
from optimizer.direct import DirectHighs
from optimizer.model import DispatchModel
from optimizer.results import extract_schedule
from tests.paths import SITE_CONFIGS

BUNDLED = sorted(p.name for p in SITE_CONFIGS.iterdir() if (p / "site.yaml").exists())


def _solve(inputs, mutable: bool):
    dm = DispatchModel(inputs, switches=False, mutable=mutable)
    info = DirectHighs(SolverOptions(interface="direct", time_limit_s=600)).solve(dm.m)
    assert info.status.has_solution, info.termination
    return dm, info.objective


@pytest.mark.slow
@pytest.mark.parametrize(("site_name", "days"), [(name, 1) for name in BUNDLED] + [("putian_hitech", 7)])
def test_sparse_ev_columns_keep_the_optimum(site_name, days):
    site = load_site(SITE_CONFIGS / site_name)
    inputs = build_dispatch_inputs(site, rolling_horizon(site, pd.Timestamp("2025-07-14", tz=site.timezone),
                                                         hours=24 * days))
    sparse, obj_sparse = _solve(inputs, mutable=False)
    full, obj_full = _solve(inputs, mutable=True)
    assert abs(obj_sparse - obj_full) <= 1e-9 * max(1.0, abs(obj_full))
    n_full = sum(1 for _ in full.m.p_ev.values())
    n_sparse = sum(1 for _ in sparse.m.p_ev.values())
    assert n_sparse <= n_full
    if inputs.ev_depots and any(d.sessions for d in inputs.ev_depots):
        assert n_sparse < n_full
        ev = [c for c in extract_schedule(sparse).frame.columns if c.endswith("_delivered_kwh")]
        assert ev and (extract_schedule(sparse).frame[ev].iloc[-1] > 0).all()
