"""Site-level intraday re-planning: a rolling horizon over :class:`optimizer.IntradayPlanner`.

``SiteIntradayPlanner(site, start)`` builds the persistent model once for a 24 h (default) horizon from
``start``; each :meth:`~SiteIntradayPlanner.replan` moves the horizon to a new start (on the site's step
grid), rebuilds the *inputs* from the profiles (or a forecast CSV) and the measured state, and
re-solves the same model with the same persistent HiGHS solver.

Measured state (:class:`optimizer.MeasuredState`): ``deferrable_delivered_kwh`` refers to the window in
force at the new horizon start (0 once a new window has begun); EV energy is keyed by depot id and
session id (the session's arrival, ``YYYY-MM-DDTHH:MM``, see :mod:`microgrid.planning.ev`).
"""

from __future__ import annotations

import pandas as pd

from microgrid.planning.adapter import PlanOptions, build_dispatch_inputs, rolling_horizon
from microgrid.planning.plan import solver_options_for
from microgrid.site.models import Site
from optimizer import DispatchResult, IntradayPlanner, MeasuredState, NetworkLimit, SolverOptions

PEAK_RESERVE_MARGIN_PCT = 5.0
"""Must-serve load forecast error the intraday plan keeps storage energy for, percent (see
:class:`optimizer.PeakReserve`): the real-time loop holds the planned peak with it when the load comes in
above the forecast."""

EV_SESSION_SLOTS = 2
"""A 24 h horizon overlaps at most two daily sessions of a depot (e.g. last night's and tonight's)."""


class SiteIntradayPlanner:
    """Rolling-horizon planner of one site (persistent model and solver)."""

    def __init__(self, site: Site, start: pd.Timestamp, *, hours: float = 24.0, step_min: int | None = None,
                 options: PlanOptions | None = None, solver: SolverOptions | None = None) -> None:
        self.site = site
        self.hours = hours
        self.step_min = step_min
        self.options = options or PlanOptions(peak_reserve_margin_pct=PEAK_RESERVE_MARGIN_PCT)
        inputs = build_dispatch_inputs(site, rolling_horizon(site, start, hours, step_min), options=self.options)
        slots = {d.id: max(EV_SESSION_SLOTS, len(d.sessions)) for d in inputs.ev_depots}
        self.planner = IntradayPlanner(inputs, solver or solver_options_for(site, interface="appsi"), ev_slots=slots)

    def solve(self) -> DispatchResult:
        """Solve the current horizon."""
        return self.planner.solve()

    def replan(self, start: pd.Timestamp, state: MeasuredState | None = None, *,
               forecast_csv: str | None = None) -> DispatchResult:
        """Move the horizon to ``start``, apply ``state`` and re-solve without rebuilding the model."""
        inputs = build_dispatch_inputs(self.site, rolling_horizon(self.site, start, self.hours, self.step_min),
                                       options=self.options, forecast_csv=forecast_csv)
        return self.planner.replan(inputs, state)

    def set_network_limits(self, limits: list[NetworkLimit]) -> None:
        """Replace the linear network limits (see :class:`optimizer.NetworkLimit`)."""
        self.planner.set_network_limits(limits)
