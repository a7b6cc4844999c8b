"""A persistent HiGHS keeps its time limit per solve (HiGHS counts the instance's accumulated run time)."""

from __future__ import annotations

import numpy as np
import pytest

from optimizer import FixedLoad, PVPlant, SolverOptions
from optimizer.model import DispatchModel
from optimizer.solver import make_solver
from tests.optimizer.helpers import day_index, inputs, window


@pytest.mark.parametrize("interface", ["direct", "appsi"])
def test_time_limit_is_relative_to_the_accumulated_run_time(interface):
    index = day_index()
    inp = inputs(index, window(index, 8, 20, 0.8, 0.4), pv=[PVPlant("pv", window(index, 8, 16, 50.0))],
                 loads=[FixedLoad("t", np.full(len(index), 100.0))])
    dm = DispatchModel(inp, mutable=True)
    solver = make_solver(SolverOptions(time_limit_s=5.0, interface=interface), persistent=True)
    highs = None
    for _ in range(3):
        info = solver.solve(dm.m)
        assert info.status == "optimal"
        highs = solver._highs if interface == "direct" else solver._opt._solver_model
        value = highs.getOptionValue("time_limit")
        limit = value[1] if isinstance(value, tuple) else value
        # the limit handed to HiGHS is the run time before this solve + 5 s
        assert limit == pytest.approx(highs.getRunTime() - info.highs_time_s + 5.0, abs=1e-3)
    assert highs.getRunTime() > 0
