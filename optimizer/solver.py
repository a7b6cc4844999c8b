"""HiGHS through Pyomo; solver outcomes normalised to :class:`SolveStatus` and :class:`SolveInfo`.

Three paths drive the same HiGHS engine (docs/optimizer.md, "Solver interface"; timings in
docs/performance.md):

- ``appsi``: Pyomo's persistent ``pyomo.contrib.appsi.solvers.highs.Highs`` (intraday default);
- ``contrib``: Pyomo's persistent ``pyomo.contrib.solver.solvers.highs.Highs`` (the "future" interface,
  labelled development preview in Pyomo 6.10);
- ``direct`` (:mod:`optimizer.direct`): Pyomo's ``LinearStandardFormCompiler`` turns the model into
  sparse arrays in one pass, which go to ``highspy`` in one ``passModel`` call; kept between solves,
  only changed entries are pushed (day-ahead default: the persistent interfaces transfer the model row
  by row in Python, which costs more than HiGHS itself at 96 steps).

The persistent classes are referenced directly rather than through a factory string, because the
factory names are expected to change (Pyomo PR #3922). The HiGHS model status is read from the
underlying ``highspy`` object in every case, so the mapping to :class:`SolveStatus` is one table.
"""

from __future__ import annotations

import contextlib
import dataclasses
import math
import os
import sys
import time
from dataclasses import dataclass
from enum import StrEnum

import highspy
import pyomo.environ as pyo
from pyomo.common.gc_manager import PauseGC

from optimizer.inputs import SolverOptions

_UPDATE_FLAGS = (
    "check_for_new_or_removed_constraints",
    "check_for_new_or_removed_vars",
    "check_for_new_or_removed_params",
    "check_for_new_objective",
    "update_constraints",
    "update_vars",
    "update_named_expressions",
    "update_objective",
)


class SolveStatus(StrEnum):
    """Normalised outcome of a solve."""

    OPTIMAL = "optimal"
    FEASIBLE = "feasible"
    """Stopped at the time limit (or gap/iteration limit) with a feasible plan that may not be optimal."""
    INFEASIBLE = "infeasible"
    UNBOUNDED = "unbounded"
    TIME_LIMIT = "time_limit"
    """Stopped at the time limit without any feasible plan."""
    ERROR = "error"

    @property
    def has_solution(self) -> bool:
        return self in (SolveStatus.OPTIMAL, SolveStatus.FEASIBLE)


_HIGHS_STATUS = {
    highspy.HighsModelStatus.kOptimal: SolveStatus.OPTIMAL,
    highspy.HighsModelStatus.kInfeasible: SolveStatus.INFEASIBLE,
    highspy.HighsModelStatus.kUnboundedOrInfeasible: SolveStatus.INFEASIBLE,
    highspy.HighsModelStatus.kUnbounded: SolveStatus.UNBOUNDED,
    highspy.HighsModelStatus.kTimeLimit: SolveStatus.TIME_LIMIT,
    highspy.HighsModelStatus.kIterationLimit: SolveStatus.TIME_LIMIT,
    highspy.HighsModelStatus.kObjectiveBound: SolveStatus.TIME_LIMIT,
    highspy.HighsModelStatus.kObjectiveTarget: SolveStatus.TIME_LIMIT,
}


@dataclass
class SolveInfo:
    """What one solver call did."""

    status: SolveStatus
    termination: str
    """HiGHS model status text, e.g. ``"Optimal"``, ``"Time limit reached"``."""
    objective: float | None
    solver: str
    """Engine and interface, e.g. ``"HiGHS 1.16.0 (pyomo appsi)"``."""
    wall_time_s: float
    """Wall time of the solve call: model transfer/update, HiGHS, reading the solution back."""
    highs_time_s: float
    """Time HiGHS itself reports for this solve (difference of ``getRunTime``, which accumulates)."""
    mip: bool
    time_limit_s: float
    mip_gap: float | None = None
    """Relative gap reached (MILP only)."""

    def to_dict(self) -> dict:
        return {
            "status": str(self.status),
            "termination": self.termination,
            "objective": self.objective,
            "solver": self.solver,
            "wall_time_s": round(self.wall_time_s, 4),
            "highs_time_s": round(self.highs_time_s, 4),
            "mip": self.mip,
            "time_limit_s": self.time_limit_s,
            "mip_gap": self.mip_gap,
        }


def _highs_version() -> str:
    return f"{highspy.HIGHS_VERSION_MAJOR}.{highspy.HIGHS_VERSION_MINOR}.{highspy.HIGHS_VERSION_PATCH}"


class PersistentHighs:
    """A persistent HiGHS solver bound to one Pyomo model.

    The first :meth:`solve` transfers the model; later solves push only changed mutable Params
    (coefficients, bounds, right-hand sides) and warm-start from the previous basis. Structural changes
    are announced explicitly: :meth:`update_variables` (domain or bound changes) and
    ``structure_changed=True`` (rows added or removed, e.g. new network limits).
    """

    def __init__(self, options: SolverOptions | None = None) -> None:
        self.options = options or SolverOptions()
        self.interface = "appsi" if self.options.interface in ("auto", "direct") else self.options.interface
        self._model = None
        self._structure_dirty = False
        if self.interface == "appsi":
            import pyomo.contrib.appsi.solvers.highs as appsi_highs

            _quiet(appsi_highs)
            self._opt = appsi_highs.Highs()
            self._opt.config.load_solution = False
            self._opt.config.stream_solver = False
            self._opt.highs_options = {"output_flag": False, "threads": self.options.threads}
        elif self.interface == "contrib":
            import pyomo.contrib.solver.solvers.highs as contrib_highs

            _quiet(contrib_highs)
            self._opt = contrib_highs.Highs()
        else:
            raise ValueError(f"unknown HiGHS interface '{self.interface}' (use 'appsi' or 'contrib')")
        self.name = f"HiGHS {_highs_version()} (pyomo {self.interface})"

    # ---- incremental updates -----------------------------------------------------------------
    def _set_update_flags(self, full: bool) -> None:
        cfg = self._opt.update_config if self.interface == "appsi" else self._opt.config.auto_updates
        for flag in _UPDATE_FLAGS:
            setattr(cfg, flag, full)

    def update_variables(self, variables: list) -> None:
        """Tell the solver that these variables changed domain or constant bounds."""
        if variables and self._model is not None:
            self._opt.update_variables(variables)

    def mark_structure_changed(self) -> None:
        """Rows were added or removed: the next solve scans the model for them."""
        self._structure_dirty = True

    # ---- solve -----------------------------------------------------------------------------
    def solve(self, model: pyo.ConcreteModel, *, mip: bool = False) -> SolveInfo:
        """Solve ``model`` (loading the values into its variables when a feasible plan exists)."""
        with PauseGC():
            return self._solve(model, mip)

    def _solve(self, model: pyo.ConcreteModel, mip: bool) -> SolveInfo:
        opts = self.options
        first = model is not self._model
        if not first:
            self._set_update_flags(self._structure_dirty)
        start = time.perf_counter()
        highs_before = self._opt._solver_model.getRunTime() if not first and self._opt._solver_model else 0.0
        try:
            # HiGHS measures time_limit against the run time accumulated by its instance since creation, so
            # a persistent solver would hit it after enough re-solves: the limit is set relative to it.
            limit = highs_before + opts.time_limit_s
            if self.interface == "appsi":
                self._opt.config.time_limit = limit
                self._opt.config.mip_gap = opts.mip_rel_gap
                results = self._opt.solve(model)
            else:
                results = self._opt.solve(
                    model, time_limit=limit, rel_gap=opts.mip_rel_gap, threads=opts.threads,
                    load_solutions=False, raise_exception_on_nonoptimal_result=False,
                    solver_options={"output_flag": False})
        except Exception as exc:  # noqa: BLE001 - any interface failure becomes an ERROR outcome
            self._model = None
            return SolveInfo(SolveStatus.ERROR, f"{type(exc).__name__}: {exc}", None, self.name,
                             time.perf_counter() - start, 0.0, mip, opts.time_limit_s)
        self._model = model
        self._structure_dirty = False
        highs = self._opt._solver_model
        status, model_status, info = _status_of(highs)
        objective = None
        if status.has_solution:
            results.solution_loader.load_vars()
            objective = float(pyo.value(_active_objective(model)))
        wall = time.perf_counter() - start
        gap = None
        if mip and status.has_solution and math.isfinite(info.mip_gap):
            gap = float(info.mip_gap)
        return SolveInfo(status, highs.modelStatusToString(model_status), objective, self.name, wall,
                         float(highs.getRunTime()) - highs_before, mip, opts.time_limit_s, gap)


def _active_objective(model: pyo.ConcreteModel):
    return next(model.component_data_objects(pyo.Objective, active=True))


def _swallow_banner() -> None:
    """Create the process's first ``highspy.Highs`` (it prints a banner on stdout) with file descriptor 1
    pointed at /dev/null for that instant; ``sys.stdout`` itself is never swapped (see :func:`_no_capture`)."""
    try:
        sys.stdout.flush()
        saved, null = os.dup(1), os.open(os.devnull, os.O_WRONLY)
    except (OSError, ValueError):  # no usable stdout (a daemon): nothing to protect
        highspy.Highs()
        return
    try:
        os.dup2(null, 1)
        highspy.Highs()
    finally:
        os.dup2(saved, 1)
        os.close(saved)
        os.close(null)


_swallow_banner()


@contextlib.contextmanager
def _no_capture(*_args, **_kwargs):
    """Stands in for pyomo's ``capture_output`` around HiGHS calls. pyomo swaps ``sys.stdout``/``sys.stderr`` and
    file descriptors 1 and 2 for the whole process while a solve runs; a solve in the planner thread then
    swallowed the controller's console lines (alarms, progress) printed meanwhile, and overlapping solves could
    leave a stale ``sys.stdout`` behind. HiGHS is silent here anyway (``output_flag`` false)."""
    yield None


def _quiet(module) -> None:
    """Make a pyomo HiGHS interface module call HiGHS without capturing the process's output."""
    module.capture_output = _no_capture


def _new_highs() -> highspy.Highs:
    """A silent ``highspy.Highs`` (the process's banner was swallowed at import)."""
    highs = highspy.Highs()
    highs.setOptionValue("output_flag", False)
    return highs


def _status_of(highs: highspy.Highs) -> tuple[SolveStatus, highspy.HighsModelStatus, object]:
    model_status = highs.getModelStatus()
    info = highs.getInfo()
    status = _HIGHS_STATUS.get(model_status, SolveStatus.ERROR)
    if status == SolveStatus.TIME_LIMIT and info.primal_solution_status == 2:
        status = SolveStatus.FEASIBLE
    return status, model_status, info


def make_solver(options: SolverOptions, *, persistent: bool):
    """The solver for ``options.interface``.

    ``auto`` picks what measured fastest (docs/performance.md): ``direct`` for one-shot solves, ``appsi``
    when ``persistent`` (the intraday planner reuses the solver on the same model; ``direct`` supports
    that too, by keeping its ``highspy`` model and pushing only what changed, but is not faster there).
    """
    from optimizer.direct import DirectHighs

    interface = options.interface
    if interface == "auto":
        interface = "appsi" if persistent else "direct"
    if interface == "direct":
        return DirectHighs(options)
    if interface not in ("appsi", "contrib"):
        raise ValueError(f"unknown HiGHS interface '{interface}' (use auto, direct, appsi or contrib)")
    return PersistentHighs(dataclasses.replace(options, interface=interface))
