"""Planning: turn a site into optimizer inputs, plan a day or a rolling horizon, write and plot the plan.

- :func:`build_dispatch_inputs` (adapter): ``Site`` + horizon (+ forecast CSV) → :class:`optimizer.DispatchInputs`;
- :func:`plan_day` / :func:`plan_horizon`: solve and compare with the rule-based baseline → :class:`Plan`;
- :func:`write_plan`: ``schedule.csv``, ``kpis.json``, ``schedule.png``;
- :class:`SiteIntradayPlanner`: rolling-horizon re-planning with a persistent model and solver.
"""

from microgrid.planning.adapter import PlanOptions, build_dispatch_inputs, horizon_for_day, rolling_horizon
from microgrid.planning.forecasts import site_forecast
from microgrid.planning.intraday import SiteIntradayPlanner
from microgrid.planning.output import summary_lines, write_plan
from microgrid.planning.plan import Plan, next_local_day, plan_day, plan_horizon, solver_options_for

__all__ = [
    "Plan",
    "PlanOptions",
    "SiteIntradayPlanner",
    "build_dispatch_inputs",
    "horizon_for_day",
    "next_local_day",
    "plan_day",
    "plan_horizon",
    "rolling_horizon",
    "site_forecast",
    "solver_options_for",
    "summary_lines",
    "write_plan",
]
