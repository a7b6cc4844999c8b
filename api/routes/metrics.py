"""``GET /metrics``: Prometheus exposition (needs a viewer token: configure ``authorization`` in Prometheus)."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import PlainTextResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST
from starlette.concurrency import run_in_threadpool

from api.context import AppContext
from api.deps import Ctx, Viewer
from api.figures import day_bounds, local_day, measured_figures
from api.routes.assets import active_alarm_count
from api.schemas.common import ERROR_RESPONSES

router = APIRouter(tags=["metrics"], responses=ERROR_RESPONSES)


def today_figures(ctx: AppContext) -> tuple[dict, int]:
    """Measured figures since local midnight and the number of unacknowledged alarms."""
    now = ctx.control.now()
    start, _end = day_bounds(ctx.site, local_day(ctx.site, now))
    figures = measured_figures(ctx.store, ctx.site, start, max(now, start))
    return figures, active_alarm_count(ctx)


@router.get("/metrics", response_class=PlainTextResponse, summary="Prometheus metrics (viewer)",
            responses={200: {"content": {"text/plain": {"example": "microgrid_pcc_power_kw 812.5\n"}}}})
async def metrics(_user: Viewer, ctx: Ctx) -> Response:
    m = ctx.metrics
    if m.green_stale():
        figures, alarms = await run_in_threadpool(today_figures, ctx)
        m.set_green(figures, alarms)
    return Response(m.render(), media_type=CONTENT_TYPE_LATEST)
