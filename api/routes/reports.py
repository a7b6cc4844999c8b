"""Green-power, carbon and cost reports (:mod:`microgrid.reports`) of a period, per park or tenant.

``format=json`` answers the report model; ``html``, ``csv`` and ``xlsx`` download the rendered report. Reports
use metered interval energies from the store; ``simulate=true`` allows a simulated report (marked as such in
the report) for short periods without metered data.
"""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response

from api.deps import Ctx, Viewer
from api.errors import ApiError
from api.params import BoundedDay
from api.schemas.common import ERROR_RESPONSES, NOT_FOUND
from microgrid.i18n import lang_from_accept
from microgrid.reports import MEDIA_TYPES, Report, make_report, render

router = APIRouter(prefix="/api/v1", tags=["reports"], responses=ERROR_RESPONSES)

MAX_DAYS = 366
MAX_SIMULATED_DAYS = 7
HTML_CSP = ("default-src 'none'; style-src 'unsafe-inline'; img-src 'self' data:; frame-ancestors 'none'; "
            "base-uri 'none'; form-action 'none'")
"""The rendered report carries its own inline stylesheet and no scripts."""

_DOWNLOADS = {fmt: {"schema": {"type": "string", "format": "binary" if fmt == "xlsx" else "string"}}
              for fmt in ("html", "csv", "xlsx")}


@router.get(
    "/reports", response_model=Report,
    summary="Green-power ratio, carbon and cost report of a period (park, or one tenant)",
    responses={**NOT_FOUND, 200: {"content": {MEDIA_TYPES[f].split(";")[0]: v for f, v in _DOWNLOADS.items()}}},
)
def get_report(
    _user: Viewer,
    ctx: Ctx,
    request: Request,
    first_day: Annotated[BoundedDay, Query(alias="from", description="first local day", examples=["2025-07-01"])],
    last_day: Annotated[BoundedDay, Query(alias="to", description="last local day (inclusive)",
                                          examples=["2025-07-31"])],
    tenant: Annotated[str | None, Query(max_length=64, description="tenant id; omit for the park")] = None,
    fmt: Annotated[Literal["json", "html", "csv", "xlsx"], Query(alias="format")] = "json",
    simulate: Annotated[bool, Query(description=f"allow a simulated report when nothing is metered "
                                                f"(at most {MAX_SIMULATED_DAYS} days)")] = False,
):
    days = (last_day - first_day).days + 1
    if days < 1:
        raise ApiError(422, f"to: {last_day} is before from {first_day}", ["query.to: must not be before from"])
    if days > MAX_DAYS:
        raise ApiError(422, f"to: the period has {days} days; at most {MAX_DAYS} per report",
                       ["query.to: shorten the period"])
    if simulate and days > MAX_SIMULATED_DAYS:
        raise ApiError(422, f"simulate: a simulated report covers at most {MAX_SIMULATED_DAYS} days, not {days}",
                       ["query.simulate: use a shorter period or metered data"])
    if tenant is not None and tenant not in {t.id for t in ctx.site.tenants}:
        raise ApiError(404, f"tenant '{tenant}' not found: tenants are "
                            f"{', '.join(t.id for t in ctx.site.tenants)}")
    report = make_report(ctx.site, first_day, last_day, tenant=tenant, store=ctx.store,  # type: ignore[arg-type]
                         simulate="auto" if simulate else "never")
    if fmt == "json":
        return report
    name = f"{ctx.site.id}_{tenant or 'park'}_{first_day:%Y%m%d}_{last_day:%Y%m%d}.{fmt}"
    headers = {"Content-Disposition": f'attachment; filename="{name}"'}
    if fmt == "html":
        headers = {"Content-Security-Policy": HTML_CSP}
    lang = lang_from_accept(request.headers.get("accept-language"))  # HTML and XLSX in the reader's language
    return Response(render(report, fmt, lang), media_type=MEDIA_TYPES[fmt], headers=headers)


