"""Error answers: one sentence naming the field and the fix, one line per problem, never a traceback."""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from microgrid.errors import UserError
from microgrid.store import NotFound, StoreUnavailable

log = logging.getLogger(__name__)


class ApiError(Exception):
    """An answer other than 2xx with a clear message (raised by routes and dependencies)."""

    def __init__(self, status: int, detail: str, problems: list[str] | None = None,
                 headers: dict[str, str] | None = None) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail
        self.problems = list(problems or [])
        self.headers = headers


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
    async def _api_error(_request: Request, exc: ApiError) -> JSONResponse:
        return JSONResponse({"detail": exc.detail, "problems": exc.problems}, exc.status, headers=exc.headers)

    @app.exception_handler(RequestValidationError)
    async def _validation(_request: Request, exc: RequestValidationError) -> JSONResponse:
        problems = validation_problems(exc)
        first = problems[0] if problems else "invalid request"
        more = f" (and {len(problems) - 1} more problem(s))" if len(problems) > 1 else ""
        return JSONResponse({"detail": f"invalid request: {first}{more}", "problems": problems}, 422)

    @app.exception_handler(NotFound)
    async def _not_found(_request: Request, exc: NotFound) -> JSONResponse:
        return JSONResponse({"detail": exc.message, "problems": []}, 404)

    @app.exception_handler(StoreUnavailable)
    async def _unavailable(_request: Request, exc: StoreUnavailable) -> JSONResponse:
        log.warning("store unavailable: %s", exc.message)
        return JSONResponse({"detail": f"store unavailable: {exc.message}", "problems": []}, 503,
                            headers={"Retry-After": "5"})

    @app.exception_handler(UserError)
    async def _user_error(_request: Request, exc: UserError) -> JSONResponse:
        return JSONResponse({"detail": exc.message, "problems": exc.problems}, 422)

    @app.exception_handler(StarletteHTTPException)
    async def _http(_request: Request, exc: StarletteHTTPException) -> JSONResponse:
        detail = exc.detail if isinstance(exc.detail, str) else "error"
        if exc.status_code == 400 and "parsing the body" in detail:  # bytes that are not UTF-8 JSON
            return JSONResponse({"detail": "invalid request: the body is not JSON (UTF-8)",
                                 "problems": ["body: send a JSON object with Content-Type: application/json"]}, 422)
        return JSONResponse({"detail": detail, "problems": []}, exc.status_code, headers=exc.headers)

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error on %s %s", request.method, request.url.path)
        return JSONResponse({"detail": "internal error (logged on the server)", "problems": []}, 500)
