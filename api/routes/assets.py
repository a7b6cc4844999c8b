"""Assets with live values and health, the live overview, and manual overrides with expiry."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated

from fastapi import APIRouter, Path, Response
from starlette.concurrency import run_in_threadpool

from api.audit import record_write
from api.context import AppContext
from api.deps import Ctx, Operator, Viewer
from api.errors import ApiError, not_found
from api.live import asset_live_out, live_view, override_out, read_snapshot
from api.schemas.common import ERROR_RESPONSES, NOT_FOUND
from api.schemas.records import OverrideList, OverrideRequest
from api.schemas.site import AssetLiveOut, LiveOut, OverrideOut
from api.site_view import AssetInfo
from microgrid.control.overrides import Override

router = APIRouter(prefix="/api/v1", tags=["assets"], responses=ERROR_RESPONSES)

AssetId = Annotated[str, Path(max_length=64, examples=["bess_shared"])]


def _asset(ctx: AppContext, asset_id: str) -> AssetInfo:
    info = ctx.assets.get(asset_id)
    if info is None:
        raise not_found(f"asset '{asset_id}'", "see GET /api/v1/assets for the ids")
    return info


def active_alarm_count(ctx: AppContext) -> int:
    """Alarms still active and not yet acknowledged."""
    return len(ctx.store.alarms(active=True, unacknowledged=True, limit=1000).items)


@router.get("/live", response_model=LiveOut, summary="The park now: PCC, mode, flows per tenant and asset")
async def get_live(_user: Viewer, ctx: Ctx) -> LiveOut:
    snap = read_snapshot(ctx)
    return live_view(ctx, snap, await run_in_threadpool(active_alarm_count, ctx))


@router.get("/assets", response_model=list[AssetLiveOut], summary="Every asset with live values and health")
async def list_assets(_user: Viewer, ctx: Ctx) -> list[AssetLiveOut]:
    return live_view(ctx, read_snapshot(ctx), 0).assets


@router.get("/assets/{asset_id}", response_model=AssetLiveOut, summary="One asset with live values and health",
            responses=NOT_FOUND)
async def get_asset(asset_id: AssetId, _user: Viewer, ctx: Ctx) -> AssetLiveOut:
    info = _asset(ctx, asset_id)
    snap = read_snapshot(ctx)
    live = next((a for a in snap.assets if a.asset_id == asset_id), None)
    override = next((o for o in ctx.control.overrides() if o.asset_id == asset_id), None)
    return asset_live_out(info, live, override)


@router.get("/overrides", response_model=OverrideList, summary="Overrides in force")
async def list_overrides(_user: Viewer, ctx: Ctx) -> OverrideList:
    return OverrideList(at=ctx.control.now(), items=[override_out(o) for o in ctx.control.overrides()])


@router.put("/assets/{asset_id}/override", response_model=OverrideOut,
            summary="Set a manual override with expiry (operator)", responses=NOT_FOUND)
async def put_override(asset_id: AssetId, body: OverrideRequest, user: Operator, ctx: Ctx) -> OverrideOut:
    info = _asset(ctx, asset_id)
    if not info.min_kw - 1e-9 <= body.value_kw <= info.max_kw + 1e-9:
        raise ApiError(422, f"value_kw: {body.value_kw:g} kW is outside the range of {info.kind} '{asset_id}' "
                            f"[{info.min_kw:g}, {info.max_kw:g}] kW ({info.override_meaning})",
                       [f"body.value_kw: must be between {info.min_kw:g} and {info.max_kw:g}"])
    now = ctx.control.now()
    override = Override(asset_id=asset_id, value_kw=float(body.value_kw),
                        expires_at=now + timedelta(minutes=body.duration_min), reason=body.reason,
                        user=user.name, created_at=now)
    detail = {"value_kw": override.value_kw, "expires_at": override.expires_at.isoformat(), "reason": body.reason}
    try:
        placed = await ctx.control.set_override(override)
    except ValueError as exc:
        await run_in_threadpool(record_write, ctx, user, "override_set", asset_id, {**detail, "refused": str(exc)},
                                "refused", body.reason)
        raise ApiError(422, f"override refused by the controller: {exc}") from None
    await run_in_threadpool(record_write, ctx, user, "override_set", asset_id, detail, "ok", body.reason)
    return override_out(placed or override)


@router.delete("/assets/{asset_id}/override", status_code=204, summary="End the override on an asset (operator)",
               responses=NOT_FOUND)
async def delete_override(asset_id: AssetId, user: Operator, ctx: Ctx) -> Response:
    _asset(ctx, asset_id)
    gone = await ctx.control.clear_override(asset_id, user.name)
    if gone is None:
        raise not_found(f"override on '{asset_id}'", "it has expired or was never set")
    await run_in_threadpool(record_write, ctx, user, "override_clear", asset_id, {"value_kw": gone.value_kw})
    return Response(status_code=204)
