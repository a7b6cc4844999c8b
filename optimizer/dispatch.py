"""Solve one dispatch horizon: build, solve (LP, MILP when needed), explain failures, fall back safely.

:func:`solve_dispatch` never raises for an infeasible or failed solve: it returns a
:class:`DispatchResult` whose ``status`` says what happened and whose ``message`` names the conflicting
constraints. An infeasible problem is retried elastically (:func:`optimizer.diagnose.diagnose`: every
limit that can conflict gets a named, penalised slack); its optimum becomes the **relaxed plan**
(``relaxed``), which keeps every device limit and breaks only the named limits, by the amounts and in the
intervals its :attr:`~DispatchResult.violations` give. Only when that fails too (or the solve ran out of
time or crashed) is the schedule the rule-based fallback (:func:`optimizer.baseline.baseline_schedule`),
which keeps device limits and names every grid, heat and energy limit it cannot meet. Either way
``fallback`` is true: the schedule is not a feasible optimised plan.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np

from optimizer.baseline import baseline_schedule
from optimizer.diagnose import diagnose
from optimizer.inputs import BinaryMode, DispatchInputs, SolverOptions, as_array
from optimizer.kpis import compute_kpis
from optimizer.model import DispatchModel
from optimizer.results import Schedule, extract_schedule, milp_reasons_from_plan
from optimizer.solver import SolveInfo, SolveStatus, make_solver
from optimizer.violations import Conflict


@dataclass
class DispatchResult:
    """Outcome of a dispatch solve."""

    status: SolveStatus
    schedule: Schedule
    """The optimised plan, or the rule-based fallback when ``fallback`` is true."""
    kpis: dict
    solve: SolveInfo
    build_time_s: float
    formulation: str = "LP"
    """``LP`` or ``MILP``."""
    milp_reasons: list[str] = field(default_factory=list)
    """Why the binary formulation was used (empty for the LP)."""
    conflicts: list[Conflict] = field(default_factory=list)
    """Why the problem is infeasible (from the elastic solve); empty for a feasible one."""
    message: str = ""
    fallback: bool = False
    """True when ``schedule`` is not a feasible optimised plan: the relaxed plan or the rule-based one."""
    relaxed: bool = False
    """True when ``schedule`` is the optimum of the elastic problem (limits broken as ``violations`` say)."""

    @property
    def violations(self) -> list[Conflict]:
        """Limits the returned schedule breaks, with intervals and amounts (empty for a feasible plan)."""
        return self.schedule.violations

    @property
    def ok(self) -> bool:
        """True when ``schedule`` is an optimised plan (optimal, or feasible at the time limit)."""
        return self.status.has_solution and not self.fallback

    def summary(self) -> dict:
        """Solver part of the KPIs (JSON-ready)."""
        out = self.solve.to_dict()
        out.update({
            "status": str(self.status),
            "formulation": self.formulation,
            "milp_reasons": self.milp_reasons,
            "build_time_s": round(self.build_time_s, 4),
            "fallback": self.fallback,
            "relaxed": self.relaxed,
            "message": self.message,
            "conflicts": [c.message for c in self.conflicts],
            "violations": [c.to_dict() for c in self.violations],
        })
        return out


def milp_reasons_from_prices(inputs: DispatchInputs) -> list[str]:
    """Reasons, visible before solving, why the LP could profit from simultaneous flows.

    With non-negative prices, losses and a throughput cost, the LP never charges and discharges at
    once (it would only waste energy); this fails for negative import prices, an export price above the
    import price while export is allowed, negative export prices with must-take generation, and
    must-take generation under zero export (DESIGN.md §5, "Formulation pitfalls").
    """
    n = inputs.n_steps
    imp = as_array(inputs.tariff.import_price_cny_per_kwh, n)
    exp = inputs.export_price()
    must_take = any(not p.curtailable for p in inputs.pv)
    reasons = []
    if np.any(imp < 0):
        reasons.append("negative import prices")
    if inputs.grid.export_limit_kw > 0 and np.any(exp > imp + 1e-9):
        reasons.append("export price above import price in some intervals")
    if must_take and np.any(exp < 0):
        reasons.append("negative export prices with must-take generation")
    if must_take and inputs.grid.export_limit_kw == 0 and inputs.batteries:
        reasons.append("must-take generation with zero export")
    return reasons


def failure_result(inputs: DispatchInputs, options: SolverOptions, info: SolveInfo, build_time_s: float,
                   formulation: str, reasons: list[str]) -> DispatchResult:
    """Result for a solve without a plan: the relaxed plan (elastic retry) or the rule-based fallback.

    An infeasible problem is solved again with named, penalised slacks (:func:`optimizer.diagnose.diagnose`);
    its plan is used when that solve succeeds (``options.elastic_retry``), the rule-based schedule otherwise.
    """
    conflicts: list[Conflict] = []
    relaxed = None
    if info.status in (SolveStatus.INFEASIBLE, SolveStatus.UNBOUNDED):
        diagnosis = diagnose(inputs, options)
        conflicts = diagnosis.conflicts
        message = "no feasible plan: " + diagnosis.message
        if options.elastic_retry and diagnosis.schedule is not None and conflicts:
            relaxed = diagnosis.schedule
            relaxed.source, relaxed.violations = "relaxed", list(conflicts)
    elif info.status == SolveStatus.TIME_LIMIT:
        message = f"no feasible plan within the solver time limit of {options.time_limit_s:g} s"
    else:
        message = f"solver failed: {info.termination}"
    if relaxed is not None:
        schedule = relaxed
        message += "; using the relaxed plan, which breaks only the limits named, by the amounts given"
    else:
        schedule = baseline_schedule(inputs)
        message += "; using the rule-based fallback schedule"
        if schedule.violations:
            message += " (it cannot meet: " + "; ".join(c.message for c in schedule.violations) + ")"
    kpis = compute_kpis(schedule, inputs)
    result = DispatchResult(info.status, schedule, kpis, info, build_time_s, formulation, reasons, conflicts,
                            message, fallback=True, relaxed=relaxed is not None)
    kpis["solver"] = result.summary()
    return result


def initial_milp_reasons(inputs: DispatchInputs, options: SolverOptions) -> list[str]:
    """Why to start with the MILP: requested, or visible in the prices (see :func:`milp_reasons_from_prices`)."""
    if options.binaries == BinaryMode.ALWAYS:
        return ["binaries requested (binaries='always')"]
    if options.binaries == BinaryMode.AUTO:
        return milp_reasons_from_prices(inputs)
    return []


def solve_dispatch(inputs: DispatchInputs, options: SolverOptions | None = None) -> DispatchResult:
    """Build and solve the dispatch problem for ``inputs`` (day-ahead or any single horizon).

    The LP is built without the exclusivity rows; the binary formulation is built when the prices call
    for it, or rebuilt and re-solved when the LP plan shows simultaneous flows (``binaries='auto'``).
    """
    options = options or SolverOptions()
    reasons = initial_milp_reasons(inputs, options)
    start = time.perf_counter()
    dm = DispatchModel(inputs, switches=bool(reasons), slack_penalty=options.slack_penalty_cny_per_kwh)
    if reasons and dm.has_switches:
        dm.set_integer(True)
    build_time = time.perf_counter() - start
    solver = make_solver(options, persistent=False)
    info = solver.solve(dm.m, mip=dm.integer)
    schedule = None
    if info.status.has_solution and not dm.integer and options.binaries == BinaryMode.AUTO:
        schedule = extract_schedule(dm)
        plan_reasons = milp_reasons_from_plan(schedule, inputs, options.simultaneous_tol_kw)
        if plan_reasons:
            schedule = None
            start = time.perf_counter()
            dm = DispatchModel(inputs, switches=True, slack_penalty=options.slack_penalty_cny_per_kwh)
            dm.set_integer(True)
            build_time += time.perf_counter() - start
            lp_time = info.wall_time_s
            info = solver.solve(dm.m, mip=True)
            info.wall_time_s += lp_time
            reasons = reasons + plan_reasons
    return conclude(dm, info, build_time, options, reasons, schedule)


def escalate_in_place(dm: DispatchModel, solver, info: SolveInfo, options: SolverOptions,
                      reasons: list[str]) -> tuple[SolveInfo, list[str], Schedule | None]:
    """Persistent variant of the MILP escalation: make the switches binary and re-solve the same model.

    Returns the (new) solve info, the reasons and the LP schedule when it stands (``None`` otherwise).
    """
    if not (info.status.has_solution and not dm.integer and options.binaries == BinaryMode.AUTO and dm.has_switches):
        return info, reasons, None
    schedule = extract_schedule(dm)
    plan_reasons = milp_reasons_from_plan(schedule, dm.inputs, options.simultaneous_tol_kw)
    if not plan_reasons:
        return info, reasons, schedule
    lp_time = info.wall_time_s
    solver.update_variables(dm.set_integer(True))
    info = solver.solve(dm.m, mip=True)
    info.wall_time_s += lp_time
    return info, reasons + plan_reasons, None


def conclude(dm: DispatchModel, info: SolveInfo, build_time: float, options: SolverOptions,
             reasons: list[str], schedule: Schedule | None = None) -> DispatchResult:
    """Turn a solve into a :class:`DispatchResult`: schedule and KPIs, or diagnosis and fallback."""
    inputs = dm.inputs
    formulation = "MILP" if dm.integer else "LP"
    if not info.status.has_solution:
        return failure_result(inputs, options, info, build_time, formulation, reasons)
    if schedule is None:
        schedule = extract_schedule(dm)
    kpis = compute_kpis(schedule, inputs)
    message = "optimal plan" if info.status == SolveStatus.OPTIMAL else (
        f"time limit of {options.time_limit_s:g} s reached; best plan found is used"
        + (f" (gap {info.mip_gap:.2%})" if info.mip_gap is not None else ""))
    result = DispatchResult(info.status, schedule, kpis, info, build_time, formulation, reasons, [], message)
    kpis["solver"] = result.summary()
    return result
