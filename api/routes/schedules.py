"""Plans (current, by day, versions), their KPIs, plan vs actual, green ratio and CO2, re-planning."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Annotated

import pandas as pd
from fastapi import APIRouter, Path, Query
from starlette.concurrency import run_in_threadpool

from api.actuals import actual_frame
from api.audit import record_write
from api.context import AppContext
from api.deps import Ctx, Operator, Viewer
from api.errors import ApiError, not_found
from api.figures import METHOD, day_bounds, emission_source, local_day, measured_figures, price_bands
from api.params import BoundedDay
from api.ports import ReplanTicket
from api.schemas.common import CONFLICT, ERROR_RESPONSES, NOT_FOUND
from api.schemas.records import ReplanOut, ReplanRequest
from api.schemas.schedules import (
    EnergyFigures,
    GreenOut,
    KpiOut,
    PlanVsActualOut,
    ScheduleOut,
    ScheduleVersionsOut,
)
from api.series import plan_frame, schedule_out, series_out, stack_legend
from microgrid.errors import UserError
from microgrid.store.models import ScheduleRecord

router = APIRouter(prefix="/api/v1", tags=["schedules"], responses=ERROR_RESPONSES)

ScheduleId = Annotated[int, Path(ge=1, le=2**53, description="store id of a plan version", examples=[42])]
DayQuery = Annotated[BoundedDay | None, Query(description="local day (default: today on the controller's clock)")]


def _today(ctx: AppContext) -> date:
    return local_day(ctx.site, ctx.control.now())


def _step(ctx: AppContext) -> int:
    return ctx.site.site.resolution_min


def plan_for_day(ctx: AppContext, day: date) -> ScheduleRecord | None:
    """The newest plan made for ``day``, else the newest plan of the day before whose horizon reaches into it."""
    record = ctx.store.current_schedule(day)
    if record is not None:
        return record
    start, _ = day_bounds(ctx.site, day)
    for summary in reversed(ctx.store.schedule_versions(day - timedelta(days=1))):
        if summary.horizon_end > start:
            return ctx.store.schedule(summary.id)
    return None


def day_plan(ctx: AppContext, day: date) -> tuple[pd.DataFrame | None, ScheduleRecord | None]:
    """The plan that was in force in each interval of ``day``: every version reaching into the day, oldest
    first, each newer one overriding from its horizon start on (as the controller switches plans); and the
    newest version."""
    start, end = day_bounds(ctx.site, day)
    summaries = [v for v in ctx.store.schedule_versions(day - timedelta(days=1)) if v.horizon_end > start]
    summaries += ctx.store.schedule_versions(day)
    summaries.sort(key=lambda v: v.created_at)
    frame, latest = None, None
    for summary in summaries:
        record = ctx.store.schedule(summary.id)
        part = plan_frame(record, ctx.site.timezone)
        part = part[(part.index >= start) & (part.index < end)]
        if part.empty:
            continue
        frame = part if frame is None else pd.concat([frame[frame.index < part.index[0]], part])
        latest = record
    return frame, latest


def _by_id(ctx: AppContext, schedule_id: int) -> ScheduleRecord:
    try:
        return ctx.store.schedule(schedule_id)
    except UserError:
        raise not_found(f"plan {schedule_id}", "see GET /api/v1/schedules?day=YYYY-MM-DD for the ids") from None


def _current(ctx: AppContext) -> ScheduleRecord:
    record = plan_for_day(ctx, _today(ctx))
    if record is None:
        raise not_found("current plan", "none made yet for today (the controller runs the rule-based fallback)")
    return record


@router.get("/schedules/current", response_model=ScheduleOut, summary="The plan in force today", responses=NOT_FOUND)
def current_schedule(_user: Viewer, ctx: Ctx) -> ScheduleOut:
    return schedule_out(_current(ctx), ctx.site, ctx.assets)


@router.get("/schedules/current/kpis", response_model=KpiOut, summary="Key figures of the plan in force",
            responses=NOT_FOUND)
def current_kpis(_user: Viewer, ctx: Ctx) -> KpiOut:
    record = _current(ctx)
    return KpiOut(schedule_id=record.id, version=record.version, kpis=dict(record.kpis))


@router.get("/schedules", response_model=ScheduleVersionsOut, summary="Plan versions made for a day, oldest first")
def list_versions(_user: Viewer, ctx: Ctx, day: DayQuery = None) -> ScheduleVersionsOut:
    day = day or _today(ctx)
    return ScheduleVersionsOut(day=day, versions=ctx.store.schedule_versions(day))


@router.get("/schedules/day/{day}", response_model=ScheduleOut, summary="The plan in force for a local day",
            responses=NOT_FOUND)
def schedule_by_day(day: Annotated[BoundedDay, Path(examples=["2025-07-16"])], _user: Viewer, ctx: Ctx) -> ScheduleOut:
    record = plan_for_day(ctx, day)
    if record is None:
        raise not_found(f"plan for {day}")
    return schedule_out(record, ctx.site, ctx.assets)


@router.get("/schedules/versions/{schedule_id}", response_model=ScheduleOut, summary="One plan version",
            responses=NOT_FOUND)
def schedule_version(schedule_id: ScheduleId, _user: Viewer, ctx: Ctx) -> ScheduleOut:
    return schedule_out(_by_id(ctx, schedule_id), ctx.site, ctx.assets)


@router.get("/schedules/versions/{schedule_id}/kpis", response_model=KpiOut, summary="Key figures of one version",
            responses=NOT_FOUND)
def version_kpis(schedule_id: ScheduleId, _user: Viewer, ctx: Ctx) -> KpiOut:
    record = _by_id(ctx, schedule_id)
    return KpiOut(schedule_id=record.id, version=record.version, kpis=dict(record.kpis))


@router.post("/schedules/replan", response_model=ReplanOut, status_code=202,
             summary="Ask the controller for an intraday re-plan now (operator)", responses=CONFLICT)
async def replan(body: ReplanRequest, user: Operator, ctx: Ctx) -> ReplanOut:
    try:
        ticket = ReplanTicket.model_validate(await ctx.control.request_replan(user.name, body.reason),
                                             from_attributes=True)
    except RuntimeError as exc:
        await run_in_threadpool(record_write, ctx, user, "replan", "plan", {"refused": str(exc)}, "refused",
                                body.reason)
        raise ApiError(409, f"re-plan refused: {exc}") from None
    await run_in_threadpool(record_write, ctx, user, "replan", "plan", {"request_id": ticket.request_id},
                            "ok" if ticket.accepted else "refused", body.reason)
    return ReplanOut.model_validate(ticket, from_attributes=True)


@router.get("/plan-vs-actual", response_model=PlanVsActualOut,
            summary="A day's plan and the measured interval averages, with TOU price bands")
def plan_vs_actual(_user: Viewer, ctx: Ctx, day: DayQuery = None) -> PlanVsActualOut:
    site = ctx.site
    now = ctx.control.now()
    day = day or local_day(site, now)
    start, end = day_bounds(site, day)
    frame, record = day_plan(ctx, day)
    plan = series_out(frame, record.step_min) if frame is not None and record is not None else None
    actual = actual_frame(ctx.store, site, start, min(end, now), _step(ctx))
    return PlanVsActualOut(
        day=day, schedule_id=record.id if record else None, version=record.version if record else None, plan=plan,
        actual=series_out(actual, _step(ctx)), stack=stack_legend(site, list(ctx.assets.values())),
        price_bands=[{**b, "start": b["start"].isoformat(), "end": b["end"].isoformat()}
                     for b in price_bands(site, day)],
    )


@router.get("/green", response_model=GreenOut,
            summary="Green-power ratio, CO2 and energy cost of a day and its month to date (measured)")
def green(_user: Viewer, ctx: Ctx, day: DayQuery = None) -> GreenOut:
    site = ctx.site
    now = ctx.control.now()
    day = day or local_day(site, now)
    start, end = day_bounds(site, day)
    month_start, _ = day_bounds(site, day.replace(day=1))
    upto = max(min(end, now), month_start)
    today = measured_figures(ctx.store, site, start, max(min(end, upto), start))
    mtd = measured_figures(ctx.store, site, month_start, upto)
    return GreenOut(day=day, today=EnergyFigures(**today), month_to_date=EnergyFigures(**mtd),
                    emission_factor_kg_per_kwh=site.emission_factor().kg_co2_per_kwh,
                    emission_factor_source=emission_source(site),
                    target_ratio_pct=site.green_power.target_ratio_pct, method=METHOD)
