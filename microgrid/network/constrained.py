"""Network-constrained dispatch: optimise, check by AC power flow, add linearised limits, re-solve.

:func:`plan_with_network` runs the loop

1. solve the dispatch (``optimizer.solve_dispatch``) with the rows collected so far;
2. AC check of the plan (:func:`~microgrid.network.check.check_injections`);
3. stop when the check is clean; otherwise add, for every element violated in this or an earlier
   iteration, linearised rows for *all* intervals around the new AC solution
   (:func:`~microgrid.network.sensitivity.linearised_limits`) and go to 1,

until the check is clean or ``max_iterations`` re-solves have been made. Rows of earlier iterations are
kept (tangent cuts of a convex loading stay valid), so the loop cannot cycle between two plans. The
result reports the iterations, the cost of each plan and what remains violated.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field, replace

from microgrid.network.check import CheckLimits, NetworkCheck, check_injections
from microgrid.network.park import ParkNetwork
from microgrid.network.schedule import schedule_injections
from microgrid.network.sensitivity import Margins, linearised_limits
from optimizer import DispatchInputs, DispatchResult, NetworkLimit, SolverOptions, solve_dispatch


@dataclass
class IterationRecord:
    """One pass of the loop (iteration 0 = the plan without network rows)."""

    iteration: int
    objective_cny: float | None
    cost_total_cny: float | None
    violations: int
    failed_intervals: int
    violated_elements: list[str]
    max_line_loading_pct: float | None
    max_trafo_loading_pct: float | None
    network_rows: int
    solve_time_s: float
    check_time_s: float

    def to_dict(self) -> dict:
        return dict(self.__dict__)


@dataclass
class NetworkPlan:
    """Outcome of :func:`plan_with_network`."""

    result: DispatchResult
    """The final plan (with network rows when any were needed)."""
    check: NetworkCheck
    """AC check of the final plan."""
    unconstrained: DispatchResult
    unconstrained_check: NetworkCheck
    iterations: int
    """Re-solves made with network rows (0 when the first plan was already clean)."""
    status: str
    """``clean``; ``iteration_limit`` (violations remain); ``infeasible`` (the rows leave no plan: the last
    feasible plan is kept); ``solve_failed`` (the dispatch itself failed); ``power_flow_failed``."""
    message: str
    history: list[IterationRecord] = field(default_factory=list)
    limits: list[NetworkLimit] = field(default_factory=list)
    """Network rows of the final problem."""
    elapsed_s: float = 0.0

    @property
    def ok(self) -> bool:
        return self.status == "clean"

    def summary(self) -> dict:
        """JSON-ready figures: status, iterations, cost before/after, what remains."""
        first, last = self.history[0], self.history[-1]
        return {
            "status": self.status,
            "message": self.message,
            "iterations": self.iterations,
            "network_rows": len(self.limits),
            "cost_unconstrained_cny": first.cost_total_cny,
            "cost_final_cny": last.cost_total_cny,
            "violations_unconstrained": first.violations,
            "violations_remaining": self.check.n_violations,
            "failed_intervals": len(self.check.failures),
            "remaining_elements": [f"{t} {e}" for t, e in self.check.violated_elements()],
            "elapsed_s": round(self.elapsed_s, 3),
            "history": [h.to_dict() for h in self.history],
        }


def _record(iteration: int, result: DispatchResult, check: NetworkCheck, rows: int, solve_s: float) -> IterationRecord:
    s = check.summary()
    return IterationRecord(
        iteration=iteration, objective_cny=result.solve.objective,
        cost_total_cny=result.kpis.get("cost_total_cny"), violations=check.n_violations,
        failed_intervals=len(check.failures), violated_elements=s["violated_elements"],
        max_line_loading_pct=s["max_line_loading_pct"], max_trafo_loading_pct=s["max_trafo_loading_pct"],
        network_rows=rows, solve_time_s=round(solve_s, 4), check_time_s=round(check.elapsed_s, 4))


def check_result(network: ParkNetwork, result: DispatchResult, limits: CheckLimits | None = None) -> NetworkCheck:
    """AC check of a dispatch result's schedule."""
    return check_injections(network, schedule_injections(result.schedule, network.assets, network.site), limits)


def plan_with_network(inputs: DispatchInputs, network: ParkNetwork, *, solver_options: SolverOptions | None = None,
                      limits: CheckLimits | None = None, margins: Margins | None = None, max_iterations: int = 5,
                      first: DispatchResult | None = None) -> NetworkPlan:
    """Dispatch ``inputs`` so that the AC check on ``network`` is clean (see the module docstring).

    ``first`` is an already solved unconstrained result for ``inputs`` (skips the first solve). The asset
    ids of ``inputs`` must be those of the net (site ids; tenant ids for base loads).
    """
    start = time.perf_counter()
    t0 = time.perf_counter()
    result = first if first is not None else solve_dispatch(inputs, solver_options)
    solve_s = time.perf_counter() - t0
    if not result.ok:
        check = check_result(network, result, limits)
        plan = NetworkPlan(result, check, result, check, 0, "solve_failed",
                           f"dispatch failed before any network check: {result.message}",
                           [_record(0, result, check, 0, solve_s)])
        plan.elapsed_s = time.perf_counter() - start
        return plan
    check = check_result(network, result, limits)
    unconstrained, unconstrained_check = result, check
    history = [_record(0, result, check, 0, solve_s)]
    asset_ids = inputs.asset_ids()
    base_rows = list(inputs.network_limits)
    rows: list[NetworkLimit] = []
    kept_rows = list(base_rows)
    elements: set[tuple[str, str]] = set()
    iteration = 0
    status, message = "clean", "AC check clean without network constraints"
    while not check.ok:
        if check.failures and not check.n_violations:
            status = "power_flow_failed"
            message = f"{len(check.failures)} interval(s) did not converge; no linearisation possible there"
            break
        if iteration >= max_iterations:
            status = "iteration_limit"
            message = (f"{check.n_violations} violation(s) remain after {iteration} iteration(s) "
                       f"(raise max_iterations or the margins)")
            break
        iteration += 1
        elements |= set(check.violated_elements())
        rows += linearised_limits(network, check, sorted(elements), asset_ids, margins, label=f"iteration {iteration}")
        t0 = time.perf_counter()
        candidate = solve_dispatch(replace(inputs, network_limits=base_rows + rows), solver_options)
        solve_s = time.perf_counter() - t0
        if not candidate.ok:
            status = "infeasible"
            message = (f"iteration {iteration}: no plan satisfies the linearised network limits ({candidate.message}); "
                       f"keeping the plan of iteration {iteration - 1}")
            history.append(IterationRecord(iteration, None, None, check.n_violations, len(check.failures),
                                           [f"{t} {e}" for t, e in check.violated_elements()], None, None,
                                           len(rows), round(solve_s, 4), 0.0))
            break
        result, kept_rows = candidate, base_rows + rows
        check = check_result(network, result, limits)
        history.append(_record(iteration, result, check, len(rows), solve_s))
        if check.ok:
            status = "clean"
            message = f"AC check clean after {iteration} network-constrained re-solve(s)"
    plan = NetworkPlan(result, check, unconstrained, unconstrained_check, iteration, status, message, history,
                       kept_rows)
    plan.elapsed_s = time.perf_counter() - start
    return plan
