"""The app factory: ``create_app(settings, store, control_port, site)`` → a FastAPI app (nothing global).

Start it in the controller's event loop (``microgrid run``) with :func:`api.serve.serve`, or in tests
with uvicorn in a thread or ``httpx.ASGITransport``.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request
from fastapi.middleware.cors import CORSMiddleware
from fastapi.staticfiles import StaticFiles

from api.context import AppContext
from api.deps import Viewer
from api.errors import install_error_handlers
from api.metrics import AppMetrics
from api.openapi_site import add_site_constraints
from api.ports import ControlPort, StoreView
from api.ratelimit import RateLimiter
from api.routes import assets, auth, gridside, health, metrics, pages, records, reports, schedules
from api.routes import site as site_routes
from api.settings import Settings
from api.site_view import asset_map
from microgrid import __version__
from microgrid.site import Site

log = logging.getLogger(__name__)

STATIC = Path(__file__).resolve().parent / "static"

DESCRIPTION = """Operator API of the park green microgrid.

**Authentication**: every route except `/health` needs `Authorization: Bearer <token>` (tokens come from
`microgrid users add NAME --role viewer|operator|admin` and are stored hashed) or a dashboard session
cookie from `POST /api/v1/auth/login` (then writes also need the `X-CSRF-Token` header).
Roles: *viewer* reads; *operator* also sets overrides, requests re-plans and acknowledges alarms;
*admin* also manages users. Every write is recorded with its user (`GET /api/v1/actions`).

**Signs** (one convention): power into the park bus from the asset is positive: PV > 0, storage
discharge > 0 / charge < 0, PCC import > 0; loads report consumption > 0 (`*_load_kw`, `*_p_el_kw`).
Times are ISO 8601 with offset; days are local (site time zone).

**Errors** are `{"detail": "...", "problems": ["field: what is wrong", ...]}`.
"""

TAGS = [
    {"name": "site", "description": "The park and its network"},
    {"name": "assets", "description": "Live values, health and manual overrides"},
    {"name": "schedules", "description": "Plans, KPIs, plan vs actual, green-power ratio, re-planning"},
    {"name": "records", "description": "Telemetry, events and alarms, setpoint audit"},
    {"name": "reports", "description": "Green-power, carbon and cost reports"},
    {"name": "auth", "description": "Sessions, users and tokens"},
    {"name": "metrics", "description": "Prometheus"},
    {"name": "health", "description": "Liveness"},
]

SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'",
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
}


def create_app(settings: Settings, store: StoreView, control_port: ControlPort, site: Site, *,
               reports_service: Any = None) -> FastAPI:
    """A new app serving ``site`` from ``store`` (a :class:`microgrid.store.Store`) and ``control_port``.

    Refuses insecure ``settings`` outside dev mode (:class:`api.settings.InsecureSettingsError`) before
    anything listens. Users and tokens are the store's.
    """
    settings.check()
    ctx = AppContext(
        settings=settings, store=store, control=control_port, site=site, assets=asset_map(site),
        auth_limiter=RateLimiter(settings.auth_rate_per_min, settings.auth_burst),
        failure_limiter=RateLimiter(settings.auth_rate_per_min, settings.auth_burst), reports=reports_service,
        metrics=AppMetrics(),
    )
    ctx.metrics.ctx = ctx

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        log.info("API for site '%s' up (dev=%s, CORS=%s)", site.id, settings.dev,
                 ",".join(settings.cors_origins) or "closed")
        yield

    app = FastAPI(
        title=f"Park microgrid API — {site.site.name}",
        version=__version__,
        description=DESCRIPTION,
        openapi_tags=TAGS,
        lifespan=lifespan,
        docs_url=None,
        redoc_url=None,
        openapi_url=None,
    )
    app.state.ctx = ctx
    install_error_handlers(app)
    if settings.cors_origins:
        app.add_middleware(CORSMiddleware, allow_origins=list(settings.cors_origins), allow_credentials=False,
                           allow_methods=["GET", "POST", "PUT", "PATCH", "DELETE"],
                           allow_headers=["Authorization", "Content-Type"])

    @app.middleware("http")
    async def headers_and_counts(request: Request, call_next):
        response = await call_next(request)
        for key, value in SECURITY_HEADERS.items():
            response.headers.setdefault(key, value)
        if request.url.path.startswith("/api/"):
            response.headers.setdefault("Cache-Control", "no-store")
        route = request.scope.get("route")
        template = getattr(route, "path", "unmatched")
        ctx.metrics.requests.labels(request.method, template, str(response.status_code)).inc()
        return response

    for module in (health, auth, site_routes, assets, schedules, gridside, records, reports, metrics, pages):
        app.include_router(module.router)
    app.mount("/static", StaticFiles(directory=STATIC, packages=None), name="static")

    @app.get("/api/v1/openapi.json", include_in_schema=False)
    async def openapi(_user: Viewer) -> dict:
        return add_site_constraints(app.openapi(), ctx.assets)

    return app
