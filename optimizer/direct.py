"""The ``direct`` solver path: Pyomo's standard-form compiler → one ``highspy`` model, kept between solves.

Each :meth:`DirectHighs.solve` compiles the Pyomo model (mutable Params evaluated) into sparse arrays in
one pass (``pyomo.repn.plugins.standard_form.LinearStandardFormCompiler``). The first solve hands them to
HiGHS with one ``passModel`` call. Later solves on the same model compare the arrays with what HiGHS
holds and push only the differences with vectorised calls (``changeColsBounds``, ``changeRowsBounds``,
``changeColsCost``, ``changeCoeff``, ``changeColsIntegrality``); HiGHS keeps its basis and warm-starts.
When rows or columns differ (e.g. new network limits), the model is passed again. This avoids the
row-by-row Python transfer and per-Param re-evaluation of the persistent Pyomo interfaces, which dominate
their time at this size (docs/performance.md).
"""

from __future__ import annotations

import math
import sys
import time
from dataclasses import dataclass

import highspy
import numpy as np
import pyomo.environ as pyo
from pyomo.common import dependencies
from pyomo.common.errors import InfeasibleConstraintException
from pyomo.common.gc_manager import PauseGC
from pyomo.repn.plugins import standard_form
from pyomo.repn.plugins.standard_form import LinearStandardFormCompiler

from optimizer.inputs import SolverOptions
from optimizer.solver import SolveInfo, SolveStatus, _highs_version, _new_highs, _status_of

_INF = highspy.kHighsInf


@dataclass
class _Arrays:
    """The LP as HiGHS holds it, with the identities needed to tell whether a new compile matches."""

    col_ids: list[int]
    row_keys: list[tuple[int, int]]
    indptr: np.ndarray
    indices: np.ndarray
    data: np.ndarray
    col_lower: np.ndarray
    col_upper: np.ndarray
    row_lower: np.ndarray
    row_upper: np.ndarray
    cost: np.ndarray
    offset: float
    integer: np.ndarray

    def same_structure(self, other: _Arrays) -> bool:
        return (self.col_ids == other.col_ids and self.row_keys == other.row_keys
                and np.array_equal(self.indptr, other.indptr) and np.array_equal(self.indices, other.indices))


def _sparse_constructors_without_scipy_stats() -> None:
    """Give pyomo's standard-form compiler its numpy/scipy.sparse constructors before its first use.

    Pyomo reaches scipy through a deferred import whose finaliser also loads ``scipy.stats`` and
    ``scipy.integrate`` (≈ 1 s of a fresh ``microgrid optimize``, issue 16) that compiling never uses, and its
    import hook runs that finaliser on any ``import scipy``. So ``scipy.sparse`` is imported with pyomo's
    callback held back, and the compiler's constructors are set from it. Left to pyomo when its internals no
    longer look like this (tests/optimizer/test_direct_imports.py notices)."""
    impl = getattr(standard_form, "_LinearStandardFormCompiler_impl", None)
    if impl is None or getattr(impl, "_to_vector", False) is not None:
        return
    callbacks = getattr(dependencies.DeferredImportCallbackFinder, "_callbacks", None)
    held = callbacks.pop("scipy", None) if isinstance(callbacks, dict) and "scipy" not in sys.modules else None
    try:
        import scipy.sparse
    finally:
        if held is not None:
            callbacks["scipy"] = held  # type: ignore[index]
    impl._to_vector = np.fromiter
    impl._csc_matrix = scipy.sparse.csc_array
    impl._csr_matrix = scipy.sparse.csr_array


def _compile(model: pyo.ConcreteModel, mip: bool) -> tuple[_Arrays, list]:
    _sparse_constructors_without_scipy_stats()
    form = LinearStandardFormCompiler().write(model, mixed_form=True, set_sense=None)
    cols = form.columns
    n = len(cols)
    a = form.A.tocsc()
    rhs = np.asarray(form.rhs, dtype=float)
    kind = np.fromiter((r.bound_type for r in form.rows), dtype=int, count=len(form.rows))
    bounds = [v.bounds for v in cols]  # one property call per column instead of lb and ub
    arrays = _Arrays(
        col_ids=[id(v) for v in cols],
        row_keys=[(id(r.constraint), r.bound_type) for r in form.rows],
        indptr=np.asarray(a.indptr, dtype=np.int32), indices=np.asarray(a.indices, dtype=np.int32),
        data=np.asarray(a.data, dtype=float),
        col_lower=np.fromiter((-_INF if lb is None else lb for lb, _ in bounds), dtype=float, count=n),
        col_upper=np.fromiter((_INF if ub is None else ub for _, ub in bounds), dtype=float, count=n),
        row_lower=np.where(kind == 1, -_INF, rhs), row_upper=np.where(kind == -1, _INF, rhs),
        cost=form.c.toarray().ravel() if form.c.shape[0] else np.zeros(n),
        offset=float(form.c_offset[0]) if len(form.c_offset) else 0.0,
        integer=np.array([v.is_integer() for v in cols], dtype=bool) if mip else np.zeros(n, dtype=bool),
    )
    return arrays, cols


def _as_lp(arr: _Arrays) -> highspy.HighsLp:
    lp = highspy.HighsLp()
    lp.num_col_ = len(arr.col_ids)
    lp.num_row_ = len(arr.row_keys)
    lp.col_cost_ = arr.cost
    lp.offset_ = arr.offset
    lp.col_lower_ = arr.col_lower
    lp.col_upper_ = arr.col_upper
    lp.row_lower_ = arr.row_lower
    lp.row_upper_ = arr.row_upper
    lp.a_matrix_.format_ = highspy.MatrixFormat.kColwise
    lp.a_matrix_.start_ = arr.indptr
    lp.a_matrix_.index_ = arr.indices
    lp.a_matrix_.value_ = arr.data
    if arr.integer.any():
        lp.integrality_ = [highspy.HighsVarType.kInteger if i else highspy.HighsVarType.kContinuous for i in arr.integer]
    return lp


def _push_changes(highs: highspy.Highs, old: _Arrays, new: _Arrays) -> int:
    """Send what differs between ``old`` and ``new`` (same structure) to ``highs``; returns the count."""
    changed = 0
    idx = np.flatnonzero((old.col_lower != new.col_lower) | (old.col_upper != new.col_upper)).astype(np.int32)
    if len(idx):
        highs.changeColsBounds(len(idx), idx, new.col_lower[idx], new.col_upper[idx])
        changed += len(idx)
    idx = np.flatnonzero((old.row_lower != new.row_lower) | (old.row_upper != new.row_upper)).astype(np.int32)
    if len(idx):
        highs.changeRowsBounds(len(idx), idx, new.row_lower[idx], new.row_upper[idx])
        changed += len(idx)
    idx = np.flatnonzero(old.cost != new.cost).astype(np.int32)
    if len(idx):
        highs.changeColsCost(len(idx), idx, new.cost[idx])
        changed += len(idx)
    if old.offset != new.offset:
        highs.changeObjectiveOffset(new.offset)
    positions = np.flatnonzero(old.data != new.data)
    if len(positions):
        col_of = np.repeat(np.arange(len(new.col_ids)), np.diff(new.indptr))
        for pos in positions:
            highs.changeCoeff(int(new.indices[pos]), int(col_of[pos]), float(new.data[pos]))
        changed += len(positions)
    idx = np.flatnonzero(old.integer != new.integer).astype(np.int32)
    if len(idx):
        types = np.array([highspy.HighsVarType.kInteger if new.integer[i] else highspy.HighsVarType.kContinuous
                          for i in idx])
        highs.changeColsIntegrality(len(idx), idx, types)
        changed += len(idx)
    return changed


class DirectHighs:
    """Standard-form compile → ``highspy`` solver, persistent on one model (see the module docstring)."""

    interface = "direct"

    def __init__(self, options: SolverOptions | None = None, highs_options: dict | None = None) -> None:
        self.options = options or SolverOptions()
        self.highs_options = dict(highs_options or {})
        """Extra HiGHS options set before every run (e.g. ``{"solver": "ipm"}`` for a year-long LP)."""
        self.name = f"HiGHS {_highs_version()} (pyomo standard form → highspy)"
        self._highs: highspy.Highs | None = None
        self._model = None
        self._loaded: _Arrays | None = None
        self.last_changes: int | None = None
        """Entries pushed by the last solve (``None`` when the whole model was passed)."""

    def update_variables(self, variables: list) -> None:  # domains are re-read on every compile
        pass

    def mark_structure_changed(self) -> None:  # detected by comparing row and column identities
        pass

    def solve(self, model: pyo.ConcreteModel, *, mip: bool = False) -> SolveInfo:
        """Solve ``model`` (loading the values into its variables when a feasible plan exists)."""
        with PauseGC():
            return self._solve(model, mip)

    def _solve(self, model: pyo.ConcreteModel, mip: bool) -> SolveInfo:
        opts = self.options
        start = time.perf_counter()
        try:
            arrays, cols = _compile(model, mip)
        except InfeasibleConstraintException as exc:
            self._loaded = None
            return SolveInfo(SolveStatus.INFEASIBLE, f"trivially infeasible: {exc}", None, self.name,
                             time.perf_counter() - start, 0.0, mip, opts.time_limit_s)
        try:
            if self._highs is not None and model is self._model and self._loaded is not None \
                    and self._loaded.same_structure(arrays):
                self.last_changes = _push_changes(self._highs, self._loaded, arrays)
            else:
                if self._highs is None:
                    self._highs = _new_highs()
                self._highs.passModel(_as_lp(arrays))
                self.last_changes = None
            highs = self._highs
            highs.setOptionValue("threads", opts.threads)
            run_before = highs.getRunTime()
            # time_limit counts the instance's accumulated run time (HiGHS): relative to it, or a persistent
            # model re-solved often enough would stop at once with "time limit reached"
            highs.setOptionValue("time_limit", float(run_before + opts.time_limit_s))
            highs.setOptionValue("mip_rel_gap", float(opts.mip_rel_gap))
            for name, value in self.highs_options.items():
                highs.setOptionValue(name, value)
            highs.run()
        except Exception as exc:  # noqa: BLE001 - any engine failure becomes an ERROR outcome
            self._highs, self._loaded = None, None
            return SolveInfo(SolveStatus.ERROR, f"{type(exc).__name__}: {exc}", None, self.name,
                             time.perf_counter() - start, 0.0, mip, opts.time_limit_s)
        self._model, self._loaded = model, arrays
        status, model_status, info = _status_of(highs)
        objective = None
        if status.has_solution:
            values = highs.getSolution().col_value
            for v, x in zip(cols, values, strict=True):
                v.set_value(x, skip_validation=True)
            objective = float(info.objective_function_value)
        gap = float(info.mip_gap) if mip and status.has_solution and math.isfinite(info.mip_gap) else None
        return SolveInfo(status, highs.modelStatusToString(model_status), objective, self.name,
                         time.perf_counter() - start, float(highs.getRunTime()) - run_before, mip,
                         opts.time_limit_s, gap)
