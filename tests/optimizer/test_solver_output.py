"""A solve in another thread leaves the process's output alone (the controller prints while the planner solves)."""

from __future__ import annotations

import sys
import threading

import pyomo.environ as pyo

from optimizer.inputs import SolverOptions
from optimizer.solver import PersistentHighs, SolveStatus


def _model(n: int) -> pyo.ConcreteModel:
    m = pyo.ConcreteModel()
    m.i = pyo.RangeSet(n)
    m.x = pyo.Var(m.i, bounds=(0, 10))
    m.c = pyo.Constraint(m.i, rule=lambda m, i: m.x[i] + (m.x[i - 1] if i > 1 else 0) >= 1 + i % 3)
    m.obj = pyo.Objective(expr=sum(i * m.x[i] for i in m.i))
    return m


def test_threaded_solves_never_swap_stdout(capsys):
    ours = sys.stdout
    seen: set[int] = set()
    results = []

    def solve() -> None:
        solver = PersistentHighs(SolverOptions(interface="appsi"))
        for _ in range(20):  # bounded: twenty fresh model transfers and solves
            results.append(solver.solve(_model(400)).status)

    worker = threading.Thread(target=solve)
    worker.start()
    printed = 0
    while worker.is_alive():
        seen.add(id(sys.stdout))
        print("controller line")
        printed += 1
    worker.join()
    assert results == [SolveStatus.OPTIMAL] * 20
    assert seen == {id(ours)} and sys.stdout is ours
    assert capsys.readouterr().out.count("controller line\n") == printed
