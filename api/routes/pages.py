"""Dashboard pages (HTML shipped in ``api/templates``; scripts and styles in ``api/static``, no CDN).

Pages need a session (or a bearer token); without one they redirect to ``/login``. The login page and the
static files are public: they hold no data, only the code that asks the API for it.
"""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path
from urllib.parse import quote

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from api.deps import Ctx, authenticate, bearer_scheme, cookie_scheme
from api.errors import ApiError
from api.security import Role
from microgrid.i18n import LANGS, catalogue

TEMPLATES = Path(__file__).resolve().parent.parent / "templates"
PAGES = {"/": "overview", "/plan": "plan", "/green": "green", "/events": "events", "/control": "control"}
OPERATOR_PAGES = {"control"}

router = APIRouter(include_in_schema=False)


@lru_cache(maxsize=1)
def _catalogue_script() -> str:
    """Both languages of the message catalogue as a script (a file, as the CSP allows no inline script)."""
    data = json.dumps({lang: catalogue(lang) for lang in LANGS}, ensure_ascii=False, separators=(",", ":"))
    return "window.MG_CATALOGUE=" + data.replace("<", "\\u003c") + ";\n"


@lru_cache(maxsize=16)
def _page(name: str) -> str:
    body = (TEMPLATES / f"{name}.html").read_text(encoding="utf-8")
    shell = (TEMPLATES / "_shell.html").read_text(encoding="utf-8")
    return shell.replace("{{page}}", name).replace("{{body}}", body)


def _login_redirect(request: Request) -> RedirectResponse:
    target = request.url.path
    return RedirectResponse(f"/login?next={quote(target)}", status_code=303)


async def _page_response(request: Request, ctx: Ctx, name: str) -> Response:
    cookie = await cookie_scheme(request)
    bearer = await bearer_scheme(request)
    try:
        principal = await run_in_threadpool(authenticate, request, ctx, bearer, cookie)
    except ApiError as exc:
        if exc.status == 429:
            raise
        principal = None
    if principal is None:
        return _login_redirect(request)
    if name in OPERATOR_PAGES and not principal.allows(Role.OPERATOR):
        return HTMLResponse(_page("forbidden"), status_code=403)
    return HTMLResponse(_page(name))


def _make(name: str):
    async def page(request: Request, ctx: Ctx) -> Response:
        return await _page_response(request, ctx, name)

    page.__name__ = f"page_{name}"
    return page


for _path, _name in PAGES.items():
    router.add_api_route(_path, _make(_name), methods=["GET"], response_class=HTMLResponse)


@router.get("/i18n/catalogue.js")
async def catalogue_js() -> Response:
    """The message catalogue for the dashboard (public: labels only, no data)."""
    return Response(_catalogue_script(), media_type="text/javascript; charset=utf-8",
                    headers={"Cache-Control": "no-cache"})


@router.get("/login", response_class=HTMLResponse)
async def login_page() -> HTMLResponse:
    return HTMLResponse(_page("login"))
