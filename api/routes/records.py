"""Telemetry by source and time range, events, alarms (acknowledge) and the setpoint audit; all paged.

Pages are the store's: items plus ``next_cursor`` (pass it back as ``cursor`` for the next page; ``null`` on
the last page). Rows are the store's typed models (:mod:`microgrid.store.models`).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Annotated
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Path, Query, Request
from starlette.concurrency import run_in_threadpool

from api.audit import record_write
from api.context import AppContext
from api.deps import Ctx, Operator, Viewer
from api.errors import ApiError, not_found
from api.params import BoundedTime
from api.schemas.common import ERROR_RESPONSES, NOT_FOUND
from api.schemas.records import AcknowledgeRequest
from microgrid.errors import UserError
from microgrid.i18n import alarm_text, lang_from_accept
from microgrid.store.models import Alarm, Event, Page, SetpointWrite, TelemetrySample

router = APIRouter(prefix="/api/v1", tags=["records"], responses=ERROR_RESPONSES)

TimeQuery = Annotated[BoundedTime | None, Query(description="ISO 8601; without offset = site local time")]
Cursor = Annotated[str | None, Query(max_length=64, description="next_cursor of the previous page")]
Name = Annotated[str | None, Query(max_length=64)]


def _aware(ctx: AppContext, value: datetime | None) -> datetime | None:
    if value is not None and value.tzinfo is None:
        return value.replace(tzinfo=ZoneInfo(ctx.site.timezone))
    return value


def _range(ctx: AppContext, start: datetime | None, end: datetime | None, default: timedelta | None
           ) -> tuple[datetime | None, datetime | None]:
    start, end = _aware(ctx, start), _aware(ctx, end)
    if default is not None:
        end = end or ctx.control.now()
        start = start or end - default
    if start is not None and end is not None and start >= end:
        raise ApiError(422, "start: must be before end",
                       [f"query.start: {start.isoformat()} is not before end {end.isoformat()}"])
    return start, end


def known_sources(ctx: AppContext) -> list[str]:
    """Ids telemetry may be stored under: meters, assets, devices and the controller itself."""
    site = ctx.site
    ids = [m.id for m in site.meters] + site.all_asset_ids() + [d.id for d in site.devices] + ["controller"]
    return list(dict.fromkeys(ids))


@router.get("/telemetry", response_model=list[str], summary="Sources telemetry is stored under")
async def telemetry_sources(_user: Viewer, ctx: Ctx) -> list[str]:
    return known_sources(ctx)


@router.get("/telemetry/{source_id}", response_model=Page[TelemetrySample],
            summary="Samples of a meter, asset or device in a time range (default: the last hour), oldest first",
            responses=NOT_FOUND)
def telemetry(
    source_id: Annotated[str, Path(max_length=64, examples=["pcc_meter"])],
    _user: Viewer,
    ctx: Ctx,
    quantity: Annotated[str | None, Query(max_length=64, examples=["p_kw"])] = None,
    start: TimeQuery = None,
    end: TimeQuery = None,
    limit: Annotated[int, Query(ge=1, le=5000)] = 500,
    cursor: Cursor = None,
) -> Page[TelemetrySample]:
    if source_id not in known_sources(ctx):
        raise not_found(f"telemetry source '{source_id}'", "see GET /api/v1/telemetry for the ids")
    start_t, end_t = _range(ctx, start, end, timedelta(hours=1))
    return ctx.store.telemetry(source_id, quantity, start=start_t, end=end_t, limit=limit, cursor=cursor)


@router.get("/events", response_model=Page[Event], summary="Events, newest first (category 'api': API writes)")
def list_events(
    _user: Viewer,
    ctx: Ctx,
    category: Name = None,
    source_id: Name = None,
    start: TimeQuery = None,
    end: TimeQuery = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    cursor: Cursor = None,
) -> Page[Event]:
    start_t, end_t = _range(ctx, start, end, None)
    return ctx.store.events(start=start_t, end=end_t, category=category, source_id=source_id, limit=limit,
                            cursor=cursor, newest_first=True)


class AlarmOut(Alarm):
    """An alarm with its text decoded from the code (catalogue ``alarm.<code>``) in the asked language."""

    text: str
    """Decoded text in the language of ``Accept-Language`` (English or Simplified Chinese)."""
    text_en: str
    text_zh: str


def _decoded(alarm: Alarm, lang: str) -> AlarmOut:
    params = {"device": alarm.source_id, "message": alarm.message}
    en, zh = alarm_text(alarm.code, params, "en"), alarm_text(alarm.code, params, "zh-CN")
    return AlarmOut(**alarm.model_dump(), text=zh if lang == "zh-CN" else en, text_en=en, text_zh=zh)


@router.get("/alarms", response_model=Page[AlarmOut], summary="Alarms, newest first, texts decoded by code")
def list_alarms(
    request: Request,
    _user: Viewer,
    ctx: Ctx,
    active: Annotated[bool | None, Query(description="true: not cleared; false: cleared; omit: both")] = None,
    unacknowledged: bool = False,
    start: TimeQuery = None,
    end: TimeQuery = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    cursor: Cursor = None,
) -> Page[AlarmOut]:
    start_t, end_t = _range(ctx, start, end, None)
    page = ctx.store.alarms(active=active, unacknowledged=unacknowledged, start=start_t, end=end_t, limit=limit,
                            cursor=cursor)
    lang = lang_from_accept(request.headers.get("accept-language"))
    return Page[AlarmOut](items=[_decoded(a, lang) for a in page.items], next_cursor=page.next_cursor)


@router.post("/alarms/{alarm_id}/acknowledge", response_model=AlarmOut, summary="Acknowledge an alarm (operator)",
             responses=NOT_FOUND)
async def acknowledge(
    request: Request,
    alarm_id: Annotated[int, Path(ge=1, le=2**53)],
    body: AcknowledgeRequest,
    user: Operator,
    ctx: Ctx,
) -> AlarmOut:
    def ack() -> Alarm:
        try:
            alarm = ctx.store.alarm(alarm_id)
        except UserError:
            raise not_found(f"alarm {alarm_id}", "see GET /api/v1/alarms") from None
        if alarm.acked_at is not None:
            return alarm
        done = ctx.store.acknowledge_alarm(alarm_id, user.name, ts=ctx.control.now())
        record_write(ctx, user, "acknowledge", f"alarm:{alarm_id}", {"code": alarm.code, "comment": body.comment},
                     reason=body.comment)
        return done

    return _decoded(await run_in_threadpool(ack), lang_from_accept(request.headers.get("accept-language")))


@router.get("/audit/setpoints", response_model=Page[SetpointWrite],
            summary="Setpoint audit: every write to a device, with the user who caused it; newest first")
def setpoint_audit(
    _user: Viewer,
    ctx: Ctx,
    device_id: Name = None,
    start: TimeQuery = None,
    end: TimeQuery = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    cursor: Cursor = None,
) -> Page[SetpointWrite]:
    start_t, end_t = _range(ctx, start, end, None)
    return ctx.store.setpoint_writes(start=start_t, end=end_t, device_id=device_id, limit=limit, cursor=cursor,
                                     newest_first=True)
