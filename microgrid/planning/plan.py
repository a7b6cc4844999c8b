"""Plan a day (or a rolling horizon) for a site: forecasts → inputs → dispatch → baseline comparison."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import pandas as pd

from microgrid.planning.adapter import PlanOptions, build_dispatch_inputs, horizon_for_day
from microgrid.site.models import Site
from optimizer import (
    DispatchInputs,
    DispatchResult,
    SolverOptions,
    baseline_schedule,
    compute_kpis,
    solve_dispatch,
)


@dataclass
class Plan:
    """A solved horizon with its inputs and the rule-based baseline for comparison."""

    site_id: str
    inputs: DispatchInputs
    result: DispatchResult
    baseline_kpis: dict

    @property
    def day(self) -> date:
        return self.inputs.index[0].date()

    def kpis(self) -> dict:
        """The plan's KPIs plus the baseline comparison (``baseline_cost_total_cny``, ``savings_vs_baseline_cny``)."""
        out = dict(self.result.kpis)
        out["site"] = self.site_id
        base = self.baseline_kpis["cost_total_cny"]
        out["baseline_cost_total_cny"] = base
        out["baseline_cost_breakdown_cny"] = self.baseline_kpis["cost_breakdown_cny"]
        out["savings_vs_baseline_cny"] = round(base - out["cost_total_cny"], 2)
        return out


def next_local_day(site: Site, now: datetime | None = None) -> date:
    """The local calendar day after ``now`` (default: the current time) in the site's timezone."""
    tz = ZoneInfo(site.timezone)
    current = now.astimezone(tz) if now is not None else datetime.now(tz)
    return current.date() + timedelta(days=1)


def solver_options_for(site: Site, **overrides) -> SolverOptions:
    """Solver options with the site's time limit (``control.solver_time_limit_s``) unless overridden."""
    values = {"time_limit_s": site.control.solver_time_limit_s}
    values.update({k: v for k, v in overrides.items() if v is not None})
    return SolverOptions(**values)


def plan_horizon(site: Site, index: pd.DatetimeIndex, *, options: PlanOptions | None = None,
                 solver: SolverOptions | None = None, forecast_csv: str | None = None) -> Plan:
    """Solve the dispatch for ``site`` over ``index`` and compare it with the rule-based baseline."""
    inputs = build_dispatch_inputs(site, index, options=options, forecast_csv=forecast_csv)
    result = solve_dispatch(inputs, solver or solver_options_for(site))
    baseline = compute_kpis(baseline_schedule(inputs), inputs)
    return Plan(site_id=site.id, inputs=inputs, result=result, baseline_kpis=baseline)


def plan_day(site: Site, day: date, *, step_min: int | None = None, options: PlanOptions | None = None,
             solver: SolverOptions | None = None, forecast_csv: str | None = None) -> Plan:
    """Day-ahead plan of the local calendar ``day``."""
    return plan_horizon(site, horizon_for_day(site, day, step_min), options=options, solver=solver,
                        forecast_csv=forecast_csv)
