"""Planning for the runtime: day-ahead and intraday solves off the event loop, with a time-out and the
rule-based fallback.

- Day-ahead (:meth:`PlanningService.day_ahead`): the next local day (96 × 15 min), one
  :func:`optimizer.solve_dispatch`.
- Intraday (:meth:`PlanningService.intraday`): a rolling horizon of ``horizon_h`` from the current
  interval, re-solved with the persistent :class:`optimizer.IntradayPlanner` from the measured state
  (SoC, tank energy, EV energy delivered, deferrable/shiftable progress, month-to-date peak).
- Failure (exception, infeasible, no solution, wall time-out at ``timeout_s``, or a previous solve still
  running) → the rule-based schedule of :func:`optimizer.baseline_schedule` (self-consumption + valley
  charging) for the same horizon, marked ``fallback``.

Solves run in one worker thread so the real-time loop keeps its cycle. ``inline=True`` runs them on the
calling thread instead (deterministic stepped-clock runs and the closed-loop benchmark).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import itertools
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import date, datetime

import numpy as np
import pandas as pd

from microgrid.control.latched import without_assets
from microgrid.control.plan import PlanRecord
from microgrid.planning.adapter import PlanOptions, build_dispatch_inputs, horizon_for_day, rolling_horizon
from microgrid.planning.forecasts import site_forecast
from microgrid.planning.intraday import PEAK_RESERVE_MARGIN_PCT
from microgrid.site.models import Site
from optimizer import (
    DispatchInputs,
    DispatchResult,
    IntradayPlanner,
    MeasuredState,
    SolverOptions,
    apply_state,
    baseline_schedule,
    compute_kpis,
    solve_dispatch,
)
from optimizer.errors import OptimizerError
from optimizer.network_limits import NetworkLimit

SolveFn = Callable[[DispatchInputs, SolverOptions], DispatchResult]
"""A day-ahead solve function (default :func:`optimizer.solve_dispatch`); injectable for tests."""


@dataclass
class PlanOutcome:
    """Result of one planning job."""

    record: PlanRecord | None
    """The plan to use (optimised or fallback); ``None`` when not even a fallback could be made."""
    ok: bool
    """True for an optimised plan, False for a fallback or nothing."""
    message: str
    inputs: DispatchInputs | None = None
    wall_s: float = 0.0
    state: dict = field(default_factory=dict)
    """Measured state the plan started from (JSON-ready), for the store."""


def state_dict(state: MeasuredState | None) -> dict:
    if state is None:
        return {}
    return {"soc_pct": dict(state.soc_pct), "tank_kwh": dict(state.tank_kwh),
            "ev_delivered_kwh": {k: dict(v) for k, v in state.ev_delivered_kwh.items()},
            "deferrable_delivered_kwh": dict(state.deferrable_delivered_kwh),
            "shiftable_ahead_kwh": dict(state.shiftable_ahead_kwh), "month_peak_kw": state.month_peak_kw}


class PlanningService:
    """Builds optimizer inputs from the site and solves them (see module docstring)."""

    def __init__(self, site: Site, *, options: SolverOptions | None = None, horizon_h: float = 24.0,
                 timeout_s: float | None = None, inline: bool = False, solve_fn: SolveFn | None = None,
                 forecast_csv: str | None = None) -> None:
        self.site = site
        self.options = options or SolverOptions(time_limit_s=site.control.solver_time_limit_s)
        self.horizon_h = horizon_h
        self.timeout_s = timeout_s if timeout_s is not None else 1.5 * self.options.time_limit_s + 5.0
        self.inline = inline
        self.solve_fn: SolveFn = solve_fn or solve_dispatch
        self.forecast_csv = forecast_csv
        self.fail_next: str | None = None
        """Test/fault-injection hook: the next solve raises ``RuntimeError(fail_next)``."""
        self._intraday: IntradayPlanner | None = None
        self._executor = concurrent.futures.ThreadPoolExecutor(max_workers=1, thread_name_prefix="planner")
        self._busy: concurrent.futures.Future | None = None
        self._seq = itertools.count(1)
        self._forecasts: dict[tuple, pd.DataFrame] = {}
        self._out: frozenset[str] = frozenset()
        self.extra_limits: Callable[[pd.DatetimeIndex], list[NetworkLimit]] | None = None
        """Hard rows added to every plan's inputs (the grid's DR caps, :mod:`microgrid.control.gridcaps`)."""

    @property
    def out_of_service(self) -> frozenset[str]:
        """Assets latched in a fault: planned at 0 kW (:func:`~microgrid.control.latched.without_assets`)."""
        return self._out

    @out_of_service.setter
    def out_of_service(self, ids: frozenset[str]) -> None:
        if ids != self._out:
            self._out = frozenset(ids)
            self._intraday = None  # other bounds: rebuild the persistent model

    def close(self) -> None:
        self._executor.shutdown(wait=False, cancel_futures=True)

    # ---- inputs ------------------------------------------------------------------------------------
    def _with_extra(self, inputs: DispatchInputs) -> DispatchInputs:
        rows = self.extra_limits(inputs.index) if self.extra_limits is not None else []
        return replace(inputs, network_limits=[*inputs.network_limits, *rows]) if rows else inputs

    def day_ahead_inputs(self, day: date, month_peak_kw: float) -> DispatchInputs:
        index = horizon_for_day(self.site, day)
        return self._with_extra(without_assets(build_dispatch_inputs(
            self.site, index, options=PlanOptions(month_peak_kw=month_peak_kw), forecast_csv=self.forecast_csv),
            self._out))

    def intraday_inputs(self, start: datetime, month_peak_kw: float) -> DispatchInputs:
        index = rolling_horizon(self.site, pd.Timestamp(start), hours=self.horizon_h)
        step = index[1] - index[0] if len(index) > 1 else pd.Timedelta(minutes=self.site.site.resolution_min)
        shiftable = {f.id: f for f in self.site.assets.flexible_loads if f.kind == "shiftable"}
        # the baseline a measured backlog belongs to (the longest shift back): it may wait as long as its age allows
        back = int(round(max((f.max_shift_h for f in shiftable.values()), default=0.0) * 3600 / step.total_seconds()))
        frame = self.forecast(pd.date_range(index[0] - back * step, periods=back + len(index), freq=step))
        inputs = build_dispatch_inputs(
            self.site, index, options=PlanOptions(month_peak_kw=month_peak_kw, peak_reserve_margin_pct=PEAK_RESERVE_MARGIN_PCT),
            forecast=frame.iloc[back:])
        if back:
            inputs = replace(inputs, shiftable=[
                replace(x, before_kw=np.minimum(frame[shiftable[x.id].baseline_profile].to_numpy()[:back], x.p_max_kw))
                for x in inputs.shiftable])
        return self._with_extra(without_assets(inputs, self._out))

    def forecast(self, index: pd.DatetimeIndex) -> pd.DataFrame:
        """Forecast rows for ``index``, cut from a frame computed once per local day for the days the
        rolling horizons touch (the PV model runs once a day instead of at every re-plan)."""
        local = index.tz_convert(self.site.timezone)
        first = local[0].normalize()
        days = int((local[-1].normalize() - first).days) + 1
        key = (first, days)
        if key not in self._forecasts:
            step = index[1] - index[0]
            full = pd.date_range(first, first + pd.Timedelta(days=days), freq=step, inclusive="left")
            self._forecasts = {key: site_forecast(self.site, full, self.forecast_csv)}
        frame = self._forecasts[key]
        out = frame.reindex(local)
        out.index = index
        return out

    # ---- solving -----------------------------------------------------------------------------------
    def _check_fault(self) -> None:
        if self.fail_next is not None:
            message, self.fail_next = self.fail_next, None
            raise RuntimeError(message)

    def _solve_day_ahead(self, inputs: DispatchInputs) -> DispatchResult:
        self._check_fault()
        return self.solve_fn(inputs, self.options)

    def _solve_intraday(self, inputs: DispatchInputs, state: MeasuredState) -> DispatchResult:
        self._check_fault()
        if self._intraday is not None:
            try:
                if list(inputs.network_limits) != list(self._intraday.inputs.network_limits):
                    self._intraday.set_network_limits(list(inputs.network_limits))  # e.g. a DR event has passed
                return self._intraday.replan(inputs, state)
            except OptimizerError:
                self._intraday = None  # structure changed (e.g. another EV session count): rebuild
        self._intraday = IntradayPlanner(apply_state(inputs, state), self.options,
                                         ev_slots={d.id: 2 for d in inputs.ev_depots})
        return self._intraday.solve()

    async def _run(self, fn: Callable[[], DispatchResult]) -> DispatchResult:
        if self.inline:
            return fn()
        if self._busy is not None and not self._busy.done():
            raise TimeoutError("the previous solve is still running in the planner thread")
        loop = asyncio.get_running_loop()
        self._busy = self._executor.submit(fn)
        return await asyncio.wait_for(asyncio.wrap_future(self._busy, loop=loop), self.timeout_s)

    def _record(self, kind: str, now: datetime, result: DispatchResult | None, inputs: DispatchInputs,
                reason: str) -> PlanRecord:
        plan_id = f"{kind}-{now.strftime('%Y%m%dT%H%M%S')}-{next(self._seq)}"
        if result is not None and result.ok:
            return PlanRecord(plan_id, kind, now, result.schedule, status=str(result.status), kpis=result.kpis,
                              reason=result.message)
        if result is not None and result.schedule is not None:
            # the optimizer's own fallback: a relaxed plan (source "relaxed") or the rule-based one, with the
            # limits it cannot keep named in its KPIs and in the reason the runtime raises as an event
            schedule, kpis = result.schedule, result.kpis
            named = "; ".join(v.message for v in result.violations[:5])
            if named:
                more = f" (+{len(result.violations) - 5} more)" if len(result.violations) > 5 else ""
                reason = f"{reason}; limits not kept: {named}{more}"
        else:
            schedule = baseline_schedule(inputs)
            schedule.source = "baseline"
            kpis = compute_kpis(schedule, inputs)
        status = str(result.status) if result is not None else "error"
        return PlanRecord(plan_id, "fallback", now, schedule, status=status, kpis=kpis, reason=reason)

    async def _plan(self, kind: str, now: datetime, inputs: DispatchInputs,
                    fn: Callable[[], DispatchResult], state: MeasuredState | None) -> PlanOutcome:
        start = time.perf_counter()
        result: DispatchResult | None = None
        try:
            result = await self._run(fn)
            ok = result.ok
            message = result.message if ok else f"optimizer {result.status}: {result.message}"
        except TimeoutError as exc:
            ok, message = False, f"optimizer time-out after {self.timeout_s:g} s" if not str(exc) else str(exc)
        except Exception as exc:  # noqa: BLE001 - any optimizer failure leads to the fallback plan
            ok, message = False, f"optimizer failed: {type(exc).__name__}: {exc}"
        effective = apply_state(inputs, state) if state is not None else inputs
        record = self._record(kind, now, result, effective, message)
        return PlanOutcome(record, ok, message, effective, time.perf_counter() - start, state_dict(state))

    async def day_ahead(self, day: date, now: datetime, month_peak_kw: float) -> PlanOutcome:
        """Plan local ``day`` (normally tomorrow) from the forecasts."""
        try:
            inputs = self.day_ahead_inputs(day, month_peak_kw)
        except Exception as exc:  # noqa: BLE001 - bad forecasts: no plan, the caller raises an event
            return PlanOutcome(None, False, f"day-ahead inputs failed: {type(exc).__name__}: {exc}")
        return await self._plan("day_ahead", now, inputs, lambda: self._solve_day_ahead(inputs), None)

    async def intraday(self, start: datetime, now: datetime, state: MeasuredState) -> PlanOutcome:
        """Re-plan ``horizon_h`` from ``start`` (an interval start) from the measured ``state``."""
        try:
            inputs = self.intraday_inputs(start, state.month_peak_kw or 0.0)
        except Exception as exc:  # noqa: BLE001
            return PlanOutcome(None, False, f"intraday inputs failed: {type(exc).__name__}: {exc}")
        state = fit_state(state, inputs)
        return await self._plan("intraday", now, inputs, lambda: self._solve_intraday(inputs, state), state)


def fit_state(state: MeasuredState, inputs: DispatchInputs) -> MeasuredState:
    """``state`` without ids the horizon does not hold (e.g. an EV session that has already left)."""
    bats = {b.id for b in inputs.batteries}
    hps = {h.id for h in inputs.heat_pumps}
    deferrable = {x.id for x in inputs.deferrable}
    shiftable = {x.id for x in inputs.shiftable}
    sessions = {d.id: {s.id for s in d.sessions} for d in inputs.ev_depots}
    return MeasuredState(
        soc_pct={k: v for k, v in state.soc_pct.items() if k in bats},
        tank_kwh={k: v for k, v in state.tank_kwh.items() if k in hps},
        ev_delivered_kwh={d: {s: v for s, v in per.items() if s in sessions[d]}
                          for d, per in state.ev_delivered_kwh.items() if d in sessions},
        deferrable_delivered_kwh={k: v for k, v in state.deferrable_delivered_kwh.items() if k in deferrable},
        shiftable_ahead_kwh={k: v for k, v in state.shiftable_ahead_kwh.items() if k in shiftable},
        month_peak_kw=state.month_peak_kw)
