"""Error answers: one sentence naming the field and the fix, one line per problem, never a traceback.

``detail`` is in the language of the request's ``Accept-Language`` (English or Simplified Chinese) where the
message catalogue has the sentence (``err.*``): by the error's ``key``, or by matching the English sentence
against :data:`TEMPLATES` (messages raised in other modules). ``code`` names the sentence for clients.
"""

from __future__ import annotations

import logging
import re

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from microgrid.errors import UserError
from microgrid.i18n import lang_from_accept, t
from microgrid.store import NotFound, StoreUnavailable

log = logging.getLogger(__name__)


class ApiError(Exception):
    """An answer other than 2xx with a clear message (raised by routes and dependencies)."""

    def __init__(self, status: int, detail: str, problems: list[str] | None = None,
                 headers: dict[str, str] | None = None, *, key: str | None = None,
                 params: dict[str, object] | None = None) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail
        self.problems = list(problems or [])
        self.headers = headers
        self.key = key
        self.params = dict(params or {})


TEMPLATES: tuple[tuple[re.Pattern[str], str], ...] = tuple((re.compile(p), k) for p, k in (
    (r"^role '(?P<role>[^']+)' may not do this: needs '(?P<needed>[^']+)' or higher$", "err.role"),
    (r"^missing or wrong (?P<header>\S+) header: reload the dashboard page$", "err.csrf"),
    (r"^too many .* from this address: retry later$", "err.rate_limited"),
    (r"^authentication required", "err.unauthenticated"),
    (r"^internal error \(logged on the server\)$", "err.internal"),
    (r"^invalid request: the body is not JSON \(UTF-8\)$", "err.not_json"),
    (r"^wrong user name or password", "err.login_failed"),
    (r"^password changed or user removed: sign in again$", "err.password_changed"),
    (r"^password too short: use at least (?P<n>\d+) characters$", "err.password_short"),
    (r"^password too long: use at most (?P<n>\d+) characters$", "err.password_long"),
    (r"^password starts or ends with white space", "err.password_space"),
    (r"^password too easy to guess", "err.password_weak"),
))
"""English sentences raised elsewhere and their catalogue keys (named groups fill the placeholders)."""


def localise(detail: str, lang: str, key: str | None = None, params: dict | None = None) -> tuple[str, str | None]:
    """(detail in ``lang``, catalogue key or None); unknown sentences stay as they are."""
    if key is None:
        for pattern, candidate in TEMPLATES:
            if m := pattern.match(detail):
                key, params = candidate, m.groupdict()
                break
    if key is None:
        return detail, None
    return (t(key, lang, **(params or {})) if lang != "en" else detail), key


def _answer(request: Request, status: int, detail: str, problems: list[str], headers=None, *,
            key: str | None = None, params: dict | None = None) -> JSONResponse:
    lang = lang_from_accept(request.headers.get("accept-language"))
    text, code = localise(detail, lang, key, params)
    body: dict[str, object] = {"detail": text, "problems": problems}
    if code is not None:
        body["code"] = code.removeprefix("err.")
    return JSONResponse(body, status, headers=headers)


def not_found(what: str, hint: str = "") -> ApiError:
    return ApiError(404, f"{what} not found" + (f": {hint}" if hint else ""))


def _loc(loc: tuple) -> str:
    parts = [str(p) for p in loc]
    return ".".join(parts) if parts else "request"


def validation_problems(exc: RequestValidationError) -> list[str]:
    """``body.value_kw: Input should be a valid number (got 'abc')`` per error."""
    out = []
    for err in exc.errors():
        msg = str(err.get("msg", "invalid"))
        line = f"{_loc(tuple(err.get('loc', ())))}: {msg}"
        if err.get("type") == "missing":
            line = f"{_loc(tuple(err.get('loc', ())))}: required field is missing"
        elif "input" in err and err.get("type") not in ("json_invalid",) and not isinstance(err["input"], dict):
            shown = repr(err["input"])
            line += f" (got {shown[:60]})"
        out.append(line)
    return out


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(ApiError)
    async def _api_error(request: Request, exc: ApiError) -> JSONResponse:
        return _answer(request, exc.status, exc.detail, exc.problems, exc.headers, key=exc.key, params=exc.params)

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> JSONResponse:
        problems = validation_problems(exc)
        first = problems[0] if problems else "invalid request"
        more = f" (and {len(problems) - 1} more problem(s))" if len(problems) > 1 else ""
        return _answer(request, 422, f"invalid request: {first}{more}", problems, key="err.invalid_request",
                       params={"first": first + more})

    @app.exception_handler(NotFound)
    async def _not_found(request: Request, exc: NotFound) -> JSONResponse:
        return _answer(request, 404, exc.message, [])

    @app.exception_handler(StoreUnavailable)
    async def _unavailable(request: Request, exc: StoreUnavailable) -> JSONResponse:
        log.warning("store unavailable: %s", exc.message)
        return _answer(request, 503, f"store unavailable: {exc.message}", [], {"Retry-After": "5"},
                       key="err.store_unavailable", params={"detail": exc.message})

    @app.exception_handler(UserError)
    async def _user_error(request: Request, exc: UserError) -> JSONResponse:
        lang = lang_from_accept(request.headers.get("accept-language"))
        return _answer(request, 422, exc.message, exc.problems, key=exc.key, params=exc.params_in(lang))

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        detail = exc.detail if isinstance(exc.detail, str) else "error"
        if exc.status_code == 400 and "parsing the body" in detail:  # bytes that are not UTF-8 JSON
            return _answer(request, 422, "invalid request: the body is not JSON (UTF-8)",
                           ["body: send a JSON object with Content-Type: application/json"])
        return _answer(request, exc.status_code, detail, [], exc.headers)

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error on %s %s", request.method, request.url.path)
        return _answer(request, 500, "internal error (logged on the server)", [])
