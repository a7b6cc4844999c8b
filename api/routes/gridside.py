"""Demand-response events: list, announce (operator), end (operator) — the caps IEC 104 and Modbus also set —
and their settlement over a period (viewer)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query, Response
from starlette.concurrency import run_in_threadpool

from api.audit import record_write
from api.deps import Ctx, Operator, Viewer
from api.errors import ApiError, not_found
from api.params import BoundedDay
from api.schemas.common import ERROR_RESPONSES, NOT_FOUND
from api.schemas.gridside import DREventList, DREventOut, DREventRequest, DRSettlementList

router = APIRouter(prefix="/api/v1", tags=["schedules"], responses=ERROR_RESPONSES)

EventId = Annotated[str, Path(pattern=r"^[A-Za-z0-9_.:-]{1,64}$", examples=["dr-2026-07-15-pm"])]


def _caps(ctx):
    """The runtime's grid caps; ``None`` for a control port without them (then nothing is listed or taken)."""
    return getattr(ctx.control, "gridcaps", None)


@router.get("/dr-events", response_model=DREventList, summary="Demand-response events known to the controller")
async def list_dr_events(_user: Viewer, ctx: Ctx) -> DREventList:
    caps = _caps(ctx)
    now = ctx.control.now()
    if caps is None:
        return DREventList(at=now, import_cap_kw=ctx.site.grid.import_cap_kw, items=[])
    items = [DREventOut(**e.to_dict()) for e in sorted(caps.events.values(), key=lambda e: e.start)]
    return DREventList(at=now, import_cap_kw=caps.import_cap_kw(now), items=items)


@router.post("/dr-events", response_model=DREventOut, status_code=201,
             summary="Announce a demand-response event (operator): a hard import cap for its window")
async def post_dr_event(body: DREventRequest, user: Operator, ctx: Ctx) -> DREventOut:
    from microgrid.control.gridcaps import CommandRefused, DREvent

    caps = _caps(ctx)
    if caps is None:
        raise ApiError(422, "this controller takes no demand-response events")
    event = DREvent(id=body.id, start=body.start, end=body.end, max_import_kw=body.max_import_kw,
                    reduction_kw=body.reduction_kw, source="api", user=user.name)
    detail = body.model_dump(mode="json")
    try:
        accepted = caps.add_event(event, ctx.control.now())
    except CommandRefused as exc:
        await run_in_threadpool(record_write, ctx, user, "dr_event", body.id, {**detail, "refused": str(exc)},
                                "refused", "")
        raise ApiError(422, f"DR event refused: {exc}") from None
    await run_in_threadpool(record_write, ctx, user, "dr_event", body.id, detail, "ok", "")
    return DREventOut(**accepted.to_dict())


@router.delete("/dr-events/{event_id}", status_code=204, summary="End a demand-response event now (operator)",
               responses=NOT_FOUND)
async def delete_dr_event(event_id: EventId, user: Operator, ctx: Ctx) -> Response:
    caps = _caps(ctx)
    if caps is None or event_id not in caps.events or (
            caps.end_event(event_id, ctx.control.now(), source="api", user=user.name) is None
            and event_id in caps.events):
        raise not_found(f"DR event '{event_id}'", "it is over or was never announced")
    await run_in_threadpool(record_write, ctx, user, "dr_event_end", event_id, {})
    return Response(status_code=204)


@router.get("/dr-settlements", response_model=DRSettlementList,
            summary="Demand-response events of a period settled from the metered PCC import")
def get_dr_settlements(
    _user: Viewer,
    ctx: Ctx,
    first_day: Annotated[BoundedDay, Query(alias="from", description="first local day", examples=["2026-07-15"])],
    last_day: Annotated[BoundedDay, Query(alias="to", description="last local day (inclusive)",
                                          examples=["2026-07-15"])],
) -> DRSettlementList:
    from microgrid.gridside.ledger import MAX_DAYS, settlements

    days = (last_day - first_day).days + 1
    if days < 1:
        raise ApiError(422, f"to: {last_day} is before from {first_day}", ["query.to: must not be before from"])
    if days > MAX_DAYS:
        raise ApiError(422, f"to: the period has {days} days; at most {MAX_DAYS}", ["query.to: shorten the period"])
    items = settlements(ctx.site, ctx.store, first_day, last_day)  # type: ignore[arg-type]  # refusals: 422
    return DRSettlementList(first_day=first_day, last_day=last_day, terms=ctx.site.gridside.demand_response,
                            items=items, compensation_cny=sum(s.compensation_cny for s in items),
                            penalty_cny=sum(s.penalty_cny for s in items))
