"""The annual study: every day of a year planned day-ahead in sequence, with the real carry-overs.

One persistent dispatch model (:class:`optimizer.IntradayPlanner`, mutable Params, one HiGHS instance) is
built for the first day and re-solved for each following day with that day's inputs: the same
formulation as ``microgrid optimize``, only the data change. Carried from one day to the next:

- battery state of charge and heat-pump tank energy at the end of the day;
- the month-to-date peak import (reset on the 1st), so each day pays only for raising the month's peak
  (the demand charge is weighed in full: ``demand_charge_share = 1``);
- green-power trading, direct supply and retired certificates: the site's volumes, spread over their
  month/year by the report accounting (:class:`microgrid.reports.GreenInstruments`).

EV sessions crossing midnight and deferrable windows follow the day-ahead adapter's rules
(:mod:`microgrid.planning.ev`). Every figure of the result comes from the report accounting
(:func:`microgrid.reports.build_report` over the year's plans), so a study, a ``microgrid report`` and the
dashboard define green ratio, cost and CO2 the same way.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

import pandas as pd

from microgrid.planning.adapter import PlanOptions, build_dispatch_inputs
from microgrid.planning.intraday import EV_SESSION_SLOTS
from microgrid.planning.plan import solver_options_for
from microgrid.reports import Report, build_report, table_from_schedules
from microgrid.site.models import Site
from microgrid.study.year import YearInputs, year_inputs
from optimizer import DispatchInputs, GreenTarget, IntradayPlanner, MeasuredState, SolverOptions
from optimizer.dispatch import solve_dispatch
from optimizer.intraday import apply_state

Progress = Callable[[int, int, date], None]
"""Called after each day with (days done, days in the year, the day)."""


@dataclass
class DayOutcome:
    """How one day's plan went."""

    day: date
    status: str
    formulation: str
    fallback: bool
    solve_s: float
    message: str = ""


@dataclass
class StudyResult:
    """The year's plans, their accounting and how they were made."""

    site: Site
    inputs: YearInputs
    schedule: pd.DataFrame
    """All days' schedule frames, one row per interval (optimizer Schedule columns)."""
    plan_kpis: list[dict]
    """The optimizer's own KPIs per day (:func:`optimizer.compute_kpis`), for cross-checks."""
    outcomes: list[DayOutcome]
    report: Report
    wall_s: float
    ac: dict | None = None
    """Summary of the AC check of every interval (``--ac-check``), else ``None``."""
    notes: list[str] = field(default_factory=list)

    @property
    def fallback_days(self) -> list[date]:
        return [o.day for o in self.outcomes if o.fallback]


def _day_inputs(site: Site, inputs: YearInputs, day: date, month_peak_kw: float) -> DispatchInputs:
    frame = inputs.day_frame(day)
    dispatch = build_dispatch_inputs(site, frame.index, options=PlanOptions(month_peak_kw=month_peak_kw),
                                     forecast=frame)
    # Purchases do not change the dispatch without a green constraint; the report accounts for them, and a
    # per-month volume would otherwise change a constant of the persistent model from month to month.
    share = site.green_power.onsite_certificates_retained_pct / 100
    dispatch.green = GreenTarget(min_ratio=None, onsite_certificate_share=share, green_purchased_kwh=0.0)
    return dispatch


def _end_state(site: Site, frame: pd.DataFrame) -> MeasuredState:
    last = frame.iloc[-1]
    soc = {b.id: float(last[f"{b.id}_soc_pct"]) for b in site.assets.batteries if f"{b.id}_soc_pct" in frame}
    tank = {h.id: float(last[f"{h.id}_tank_kwh"]) for h in site.assets.heat_pumps if f"{h.id}_tank_kwh" in frame}
    return MeasuredState(soc_pct=soc, tank_kwh=tank)


def run_study(site: Site, year: int, *, step_min: int | None = None, weather_csv: str | Path | None = None,
              seed: int | None = None, solver: SolverOptions | None = None, ac_check: bool = False,
              progress: Progress | None = None, inputs: YearInputs | None = None,
              loads_csv: str | Path | None = None, months: tuple[int, int] | None = None) -> StudyResult:
    """Plan every day of ``year`` for ``site`` and account for the year (see the module docstring).

    ``months`` (first, last; 1-12, inclusive) plans only those months of the year, e.g. a quick sweep of
    the summer; the carry-overs start afresh on the first day, as on 1 January.
    """
    start = time.perf_counter()
    if inputs is None:
        kwargs = {} if seed is None else {"seed": seed}
        inputs = year_inputs(site, year, step_min=step_min, weather_csv=weather_csv, loads_csv=loads_csv, **kwargs)
    options = solver or solver_options_for(site, interface="appsi")
    days = inputs.days
    if months is not None:
        days = [d for d in days if months[0] <= d.month <= months[1]]
    planner: IntradayPlanner | None = None
    state = MeasuredState()
    peak = 0.0
    frames, kpis, outcomes = [], [], []
    for k, day in enumerate(days):
        if day.day == 1:
            peak = 0.0
        dispatch = _day_inputs(site, inputs, day, peak)
        if planner is None:
            slots = {d.id: max(EV_SESSION_SLOTS, len(d.sessions)) for d in dispatch.ev_depots}
            planner = IntradayPlanner(dispatch, options, ev_slots=slots)
            result = planner.solve()
        else:
            carried = dataclasses.replace(state, month_peak_kw=peak)
            result = planner.replan(dispatch, carried)
            if result.fallback:
                # a re-used HiGHS instance can stall on a day a fresh one solves at once (numerics, warm start):
                # the day is re-solved from scratch before the rule-based schedule is accepted
                result = solve_dispatch(apply_state(dispatch, carried), options)
        frame = result.schedule.frame
        frames.append(frame)
        kpis.append(result.kpis)
        outcomes.append(DayOutcome(day, str(result.status), result.formulation, result.fallback,
                                   result.solve.wall_time_s, result.message if result.fallback else ""))
        state = _end_state(site, frame)
        peak = max(peak, float(frame["grid_import_kw"].max()))
        if progress is not None:
            progress(k + 1, len(days), day)
    schedule = pd.concat(frames)
    span = str(year) if months is None else f"{days[0]}..{days[-1]}"
    note = (f"day-ahead plans of the optimizer for every day of {span} (annual study, {inputs.weather_source}; "
            f"loads from {inputs.load_source}): planned, not metered")
    table = table_from_schedules(site, frames, days[0], days[-1], source="planned", note=note)
    report = build_report(site, table)
    notes = [inputs.calendar.note] if inputs.calendar.note else []
    result = StudyResult(site, inputs, schedule, kpis, outcomes, report, 0.0, notes=notes)
    if ac_check:
        result.ac = ac_summary(site, schedule, planner)
    result.wall_s = time.perf_counter() - start
    return result


def ac_summary(site: Site, schedule: pd.DataFrame, planner: IntradayPlanner | None) -> dict:
    """AC power flow of every interval of the year in one batch (:func:`microgrid.network.check_schedule`)."""
    from microgrid.network import ParkNetwork, check_schedule
    from optimizer import Schedule

    kinds = planner.inputs.asset_kinds() if planner is not None else {}
    check = check_schedule(ParkNetwork.from_site(site), Schedule(schedule, kinds))
    out = check.summary()
    out["intervals_with_violations"] = int(check.violations["step"].nunique()) if not check.ok else 0
    return out
