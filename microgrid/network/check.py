"""AC check of a schedule: voltages, loadings, losses and violations of every interval.

:func:`check_schedule` solves all intervals at once with the vectorised Newton–Raphson of
:mod:`microgrid.network.powerflow`. An interval it cannot solve is retried with pandapower's ``runpp``
(DC start, flat start, Iwamoto-damped Newton, backward/forward sweep); if every attempt fails the
interval is reported as not converged, in :attr:`NetworkCheck.failures` *and* as a row of the violation
table, never silently dropped.

Limits (GB/T 12325, DESIGN.md §5): 10 kV buses ±7 %, 0.4 kV buses +7 % / −10 %; lines and transformers
up to their ``max_loading_pct`` from the site file (default 100 %) or a global override.
"""

from __future__ import annotations

import contextlib
import io
import time
import warnings
from dataclasses import dataclass, field

import numpy as np
import pandapower as pp
import pandas as pd

from microgrid.i18n import display_width, ljust, rjust, t
from microgrid.network.builder import ElementPowers, NetOptions, apply_step, element_powers
from microgrid.network.park import ParkNetwork
from microgrid.network.powerflow import FlowResults
from microgrid.network.schedule import PLAUSIBLE_FACTOR, schedule_injections, validate_injections
from microgrid.site.models import Site

RETRIES: tuple[tuple[str, str], ...] = (("nr", "dc"), ("nr", "flat"), ("iwamoto_nr", "flat"), ("bfsw", "flat"))
"""(algorithm, init) of the ``pp.runpp`` attempts for an interval the batch solver could not solve."""

_RUNPP_ERRORS = (pp.LoadflowNotConverged, np.linalg.LinAlgError, ValueError, ZeroDivisionError, FloatingPointError)


@dataclass(frozen=True)
class CheckLimits:
    """Voltage bands and loading limits of the check."""

    mv_vm_min_pu: float = 0.93
    mv_vm_max_pu: float = 1.07
    lv_vm_min_pu: float = 0.90
    lv_vm_max_pu: float = 1.07
    lv_max_kv: float = 1.0
    """Buses with a nominal voltage at or below this are low-voltage (0.4 kV band)."""
    max_loading_pct: float | None = None
    """Loading limit of every line and transformer, percent; ``None`` = each element's ``max_loading_pct``."""

    def vm_bounds(self, vn_kv: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Lower and upper voltage limits (pu) of buses with nominal voltages ``vn_kv``."""
        lv = np.asarray(vn_kv) <= self.lv_max_kv
        return (np.where(lv, self.lv_vm_min_pu, self.mv_vm_min_pu),
                np.where(lv, self.lv_vm_max_pu, self.mv_vm_max_pu))

    def loading_limits(self, element_limits: np.ndarray) -> np.ndarray:
        if self.max_loading_pct is None:
            return np.asarray(element_limits, dtype=float)
        return np.full(len(element_limits), float(self.max_loading_pct))


@dataclass(frozen=True)
class StepFailure:
    """An interval whose power flow could not be solved."""

    step: int
    time: pd.Timestamp
    reason: str


VIOLATION_COLUMNS = ["time", "step", "element_type", "element", "quantity", "value", "limit", "detail"]


@dataclass
class NetworkCheck:
    """Result of an AC check: per-interval results (rows = intervals, columns = element ids) and violations."""

    index: pd.DatetimeIndex
    injections_kw: pd.DataFrame
    """Operating point checked: net injection of every asset, kW, park convention."""
    vm_pu: pd.DataFrame
    va_degree: pd.DataFrame
    line_loading_pct: pd.DataFrame
    trafo_loading_pct: pd.DataFrame
    losses_kw: pd.Series
    grid_p_kw: pd.Series
    """Active power from the grid at the PCC (import > 0), kW, including network losses."""
    grid_q_kvar: pd.Series
    converged: pd.Series
    method: pd.Series
    """How each interval was solved: ``batch-nr``, ``runpp <algorithm> (init <init>)`` or ``failed``."""
    vm_min_pu: pd.Series
    vm_max_pu: pd.Series
    line_limit_pct: pd.Series
    trafo_limit_pct: pd.Series
    violations: pd.DataFrame
    """One row per violated limit and interval (:data:`VIOLATION_COLUMNS`), plus one per failed interval."""
    failures: list[StepFailure] = field(default_factory=list)
    v_internal: np.ndarray | None = None
    """Complex voltages in the solver's internal bus order (for sensitivities); NaN rows where failed."""
    elapsed_s: float = 0.0

    @property
    def ok(self) -> bool:
        """True when every interval converged and no limit is violated."""
        return self.violations.empty

    @property
    def n_violations(self) -> int:
        return int((self.violations["element_type"] != "power_flow").sum())

    def violated_elements(self) -> list[tuple[str, str]]:
        """(element_type, element id) of every element violated in at least one interval."""
        v = self.violations[self.violations["element_type"] != "power_flow"]
        return sorted(set(zip(v["element_type"], v["element"], strict=True)))

    def summary(self) -> dict:
        """Key figures (JSON-ready)."""
        return {
            "intervals": len(self.index),
            "converged": int(self.converged.sum()),
            "failed": len(self.failures),
            "violations": self.n_violations,
            "violated_elements": [f"{t} {e}" for t, e in self.violated_elements()],
            "max_line_loading_pct": _round(np.nanmax(self.line_loading_pct.to_numpy(), initial=0.0)),
            "max_trafo_loading_pct": _round(np.nanmax(self.trafo_loading_pct.to_numpy(), initial=0.0)),
            "min_vm_pu": _round(np.nanmin(self.vm_pu.to_numpy(), initial=np.inf), 4),
            "max_vm_pu": _round(np.nanmax(self.vm_pu.to_numpy(), initial=0.0), 4),
            "losses_kwh": _round(float(self.losses_kw.sum()) * _step_h(self.index)),
            "elapsed_s": _round(self.elapsed_s, 4),
        }

    def to_frame(self) -> pd.DataFrame:
        """Wide per-interval table written as ``network.csv`` (``<bus>_vm_pu``, ``<line>_loading_pct``, ...)."""
        n_viol = self.violations[self.violations["element_type"] != "power_flow"].groupby("step").size()
        out = pd.DataFrame({
            "converged": self.converged, "method": self.method,
            "losses_kw": self.losses_kw, "grid_p_kw": self.grid_p_kw, "grid_q_kvar": self.grid_q_kvar,
            "min_vm_pu": self.vm_pu.min(axis=1), "max_vm_pu": self.vm_pu.max(axis=1),
            "max_line_loading_pct": self.line_loading_pct.max(axis=1),
            "max_trafo_loading_pct": self.trafo_loading_pct.max(axis=1),
            "violations": n_viol.reindex(range(len(self.index)), fill_value=0).to_numpy(),
        }, index=self.index)
        parts = [out, self.vm_pu.add_suffix("_vm_pu"), self.line_loading_pct.add_suffix("_loading_pct"),
                 self.trafo_loading_pct.add_suffix("_loading_pct")]
        frame = pd.concat(parts, axis=1)
        frame.index.name = "timestamp"
        return frame

    def write_csv(self, path) -> None:
        frame = self.to_frame()
        frame.index = [ts.isoformat() for ts in frame.index]
        frame.index.name = "timestamp"
        frame.to_csv(path, float_format="%.6g")

    def violation_table(self, max_rows: int = 50, lang: str | None = None) -> str:
        """Plain-text table of the violations: time, element, value, limit (columns aligned for ``lang``)."""
        if self.violations.empty:
            return t("check.no_violations", lang)
        na = t("check.na", lang)
        rows = [tuple(t(f"check.col.{c}", lang) for c in ("time", "element", "quantity", "value", "limit"))]
        for r in self.violations.head(max_rows).itertuples(index=False):
            element = t(f"check.element.{r.element_type}", lang, id=r.element)
            value = na if pd.isna(r.value) else f"{r.value:.4g}"
            limit = na if pd.isna(r.limit) else f"{r.limit:.4g}"
            quantity = t(f"check.quantity.{r.quantity.replace(' ', '_')}", lang)
            rows.append((r.time.strftime("%Y-%m-%d %H:%M"), element, quantity, value, limit))
        widths = [max(display_width(row[i]) for row in rows) for i in range(5)]
        lines = ["  ".join(ljust(cell, w) if i < 3 else rjust(cell, w)
                           for i, (cell, w) in enumerate(zip(row, widths, strict=True)))
                 for row in rows]
        lines.insert(1, "  ".join("-" * w for w in widths))
        if len(self.violations) > max_rows:
            lines.append(t("check.more_rows", lang, n=len(self.violations) - max_rows))
        for f in self.failures:
            lines.append(t("check.not_converged", lang, time=f.time.strftime("%Y-%m-%d %H:%M"), reason=f.reason))
        return "\n".join(lines)


def _round(x: float, nd: int = 3) -> float | None:
    return None if not np.isfinite(x) else float(round(float(x), nd))


def _step_h(index: pd.DatetimeIndex) -> float:
    return (index[1] - index[0]).total_seconds() / 3600 if len(index) > 1 else 0.25


def check_schedule(network: ParkNetwork | Site, schedule: object, limits: CheckLimits | None = None,
                   options: NetOptions | None = None) -> NetworkCheck:
    """AC check of ``schedule`` (``optimizer.Schedule``, DataFrame or CSV path) on ``network``.

    ``network`` is a :class:`ParkNetwork` (reuse it for repeated checks) or a :class:`Site` (the net is built
    with ``options``). Tenant base loads missing from the schedule come from the site's profiles.
    """
    if isinstance(network, Site):
        network = ParkNetwork.from_site(network, options)
    injections = schedule_injections(schedule, network.assets, network.site)
    validate_injections(injections, network.assets, plausible_limit_kw(network))
    return check_injections(network, injections, limits)


def plausible_limit_kw(network: ParkNetwork) -> float:
    """Largest believable |P| of one schedule column: :data:`PLAUSIBLE_FACTOR` × the park's transformer kVA."""
    capacity_kva = float(network.net.trafo["sn_mva"].sum()) * 1000.0
    return PLAUSIBLE_FACTOR * max(capacity_kva, 1000.0)


def check_injections(network: ParkNetwork, injections_kw: pd.DataFrame,
                     limits: CheckLimits | None = None) -> NetworkCheck:
    """AC check of net injections (kW, park convention, one column per asset id, one row per interval)."""
    start = time.perf_counter()
    limits = limits or CheckLimits()
    solver = network.solver
    index = injections_kw.index
    powers = element_powers(network.net, injections_kw)
    solution = solver.solve(solver.bus_injections_pu(powers))
    v = solution.v
    method = np.where(solution.converged, "batch-nr", "failed").astype(object)
    failures: list[StepFailure] = []
    finite = np.all(np.isfinite(injections_kw.to_numpy(dtype=float)), axis=1)
    for step in np.flatnonzero(~solution.converged):
        if not finite[step]:
            bad = [c for c in injections_kw.columns if not np.isfinite(injections_kw.iloc[step][c])]
            failures.append(StepFailure(int(step), index[step], f"non-finite power for {', '.join(bad)}"))
            v[step] = np.nan
            continue
        attempt = _retry_with_runpp(network, powers, int(step))
        if attempt is None:
            failures.append(StepFailure(int(step), index[step],
                                        f"power flow did not converge (batch Newton-Raphson and runpp "
                                        f"{', '.join(f'{a}/{i}' for a, i in RETRIES)}); "
                                        f"mismatch {solution.max_mismatch_pu[step]:.3g} pu"))
            v[step] = np.nan
            continue
        v[step], method[step] = attempt
    converged = np.isfinite(v).all(axis=1)
    res = solver.results(np.where(converged[:, None], v, solver.v_init[None, :]))
    _blank_failed(res, converged)
    return _assemble(network, limits, index, injections_kw, res, converged, method, failures, v,
                     time.perf_counter() - start)


def _retry_with_runpp(network: ParkNetwork, powers: ElementPowers, step: int) -> tuple[np.ndarray, str] | None:
    """Solve one interval with ``pp.runpp`` strategies; return internal voltages and the method, or None."""
    net, solver = network.net, network.solver
    apply_step(net, powers, step)
    s_bus = solver.bus_injections_pu(ElementPowers({t: p[step:step + 1] for t, p in powers.p_mw.items()},
                                                   {t: q[step:step + 1] for t, q in powers.q_mvar.items()}))
    for algorithm, init in RETRIES:
        with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()):
            warnings.simplefilter("ignore")  # pandapower prints/warns on every failed attempt
            try:
                pp.runpp(net, algorithm=algorithm, init=init, numba=False, calculate_voltage_angles=True,
                         max_iteration=100 if algorithm == "bfsw" else 50)
            except _RUNPP_ERRORS:
                continue
        v0 = np.asarray(net._ppc.get("internal", {}).get("V", np.zeros(0)), dtype=complex)
        if v0.shape != (solver.n_bus,) or not np.all(np.isfinite(v0)):
            continue
        polished = solver.solve(s_bus, v0[None, :])  # Newton from pandapower's solution: same results code
        if polished.converged[0]:
            return polished.v[0], f"runpp {algorithm} (init {init})"
    return None


def _blank_failed(res: FlowResults, converged: np.ndarray) -> None:
    for name in ("vm_pu", "va_degree", "line_i_ka", "line_loading_pct", "trafo_loading_pct"):
        getattr(res, name)[~converged] = np.nan
    for name in ("losses_mw", "grid_p_mw", "grid_q_mvar"):
        getattr(res, name)[~converged] = np.nan


def _assemble(network: ParkNetwork, limits: CheckLimits, index: pd.DatetimeIndex, injections: pd.DataFrame,
              res: FlowResults, converged: np.ndarray, method: np.ndarray, failures: list[StepFailure],
              v: np.ndarray, elapsed: float) -> NetworkCheck:
    buses, lines, trafos = network.bus_ids, network.line_ids, network.trafo_ids
    vm = pd.DataFrame(res.vm_pu, index=index, columns=buses)
    line = pd.DataFrame(res.line_loading_pct, index=index, columns=lines)
    trafo = pd.DataFrame(res.trafo_loading_pct, index=index, columns=trafos)
    vmin, vmax = limits.vm_bounds(network.bus_vn_kv)
    line_lim = limits.loading_limits(network.element_max_loading_pct("line"))
    trafo_lim = limits.loading_limits(network.element_max_loading_pct("trafo"))
    rows: list[tuple] = []
    _collect(rows, index, "bus", buses, res.vm_pu, vmax, "vm_pu above", upper=True)
    _collect(rows, index, "bus", buses, res.vm_pu, vmin, "vm_pu below", upper=False)
    _collect(rows, index, "line", lines, res.line_loading_pct, line_lim, "loading_pct", upper=True)
    _collect(rows, index, "trafo", trafos, res.trafo_loading_pct, trafo_lim, "loading_pct", upper=True)
    for f in failures:
        rows.append((f.time, f.step, "power_flow", "", "not converged", np.nan, np.nan, f.reason))
    violations = pd.DataFrame(rows, columns=VIOLATION_COLUMNS)
    if not violations.empty:
        violations = violations.sort_values(["step", "element_type", "element"], kind="stable").reset_index(drop=True)
    return NetworkCheck(
        index=index, injections_kw=injections, vm_pu=vm,
        va_degree=pd.DataFrame(res.va_degree, index=index, columns=buses),
        line_loading_pct=line, trafo_loading_pct=trafo,
        losses_kw=pd.Series(res.losses_mw * 1000, index=index, name="losses_kw"),
        grid_p_kw=pd.Series(res.grid_p_mw * 1000, index=index, name="grid_p_kw"),
        grid_q_kvar=pd.Series(res.grid_q_mvar * 1000, index=index, name="grid_q_kvar"),
        converged=pd.Series(converged, index=index, name="converged"),
        method=pd.Series(method, index=index, name="method"),
        vm_min_pu=pd.Series(vmin, index=buses), vm_max_pu=pd.Series(vmax, index=buses),
        line_limit_pct=pd.Series(line_lim, index=lines), trafo_limit_pct=pd.Series(trafo_lim, index=trafos),
        violations=violations, failures=failures, v_internal=v, elapsed_s=elapsed)


def _collect(rows: list[tuple], index: pd.DatetimeIndex, element_type: str, ids: list[str], values: np.ndarray,
             limit: np.ndarray, quantity: str, upper: bool, tol: float = 1e-9) -> None:
    with np.errstate(invalid="ignore"):
        bad = values > limit[None, :] + tol if upper else values < limit[None, :] - tol
    for step, col in zip(*np.nonzero(bad), strict=True):
        rows.append((index[step], int(step), element_type, ids[col], quantity, float(values[step, col]),
                     float(limit[col]), ""))
