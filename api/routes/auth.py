"""Login/logout for the dashboard, the caller's identity, and user/token management (admin)."""

from __future__ import annotations

from datetime import UTC, datetime

from fastapi import APIRouter, Request, Response
from starlette.concurrency import run_in_threadpool

from api.audit import record_write
from api.context import AppContext
from api.deps import Admin, Ctx, Viewer, check_password, check_token, client_address
from api.errors import ApiError, not_found
from api.ratelimit import retry_after_header
from api.schemas.auth import (
    LoginRequest,
    MeOut,
    PasswordChange,
    PasswordSet,
    TokenIssued,
    UserCreate,
    UserOut,
    UserUpdate,
)
from api.schemas.common import CONFLICT, ERROR_RESPONSES, NOT_FOUND
from api.security import SESSION_COOKIE, csrf_token, make_session_cookie
from api.users import user_state
from microgrid.errors import UserError

router = APIRouter(prefix="/api/v1", tags=["auth"], responses=ERROR_RESPONSES)


def _rate_limit(request: Request, ctx: AppContext) -> None:
    wait = ctx.auth_limiter.take(client_address(request, ctx))
    if wait > 0:
        raise ApiError(429, "too many login or token requests from this address: retry later",
                       headers=retry_after_header(wait))


def _user_out(ctx: AppContext, name: str) -> UserOut:
    try:
        user = ctx.store.user(name)
    except UserError:
        raise not_found(f"user '{name}'", "see GET /api/v1/users") from None
    return _out(user)


def _out(user) -> UserOut:
    return UserOut(name=user.name, role=str(user.role), disabled=user.disabled, created_at=user.created_at,
                   has_password=user.has_password)


@router.post("/auth/login", response_model=MeOut,
             summary="Open a dashboard session with a user name and password, or a token (rate-limited)")
async def login(body: LoginRequest, request: Request, response: Response, ctx: Ctx) -> MeOut:
    _rate_limit(request, ctx)
    if body.token is not None:
        principal = await run_in_threadpool(check_token, ctx, body.token, request)
    else:
        principal = await run_in_threadpool(check_password, ctx, body.user, body.password, request)
    secret = ctx.settings.secret.get_secret_value()
    cookie, session = make_session_cookie(secret, principal.name, principal.token_key, ctx.settings.session_ttl_s)
    response.set_cookie(SESSION_COOKIE, cookie, max_age=ctx.settings.session_ttl_s, httponly=True,
                        samesite="strict", secure=ctx.settings.cookie_secure, path="/")
    return MeOut(user=principal.name, role=principal.role, auth="session", csrf_token=csrf_token(secret, session),
                 session_expires_at=datetime.fromtimestamp(session.expires_at, UTC))


@router.post("/auth/logout", status_code=204, summary="End the dashboard session")
async def logout(_user: Viewer) -> Response:
    response = Response(status_code=204)
    response.delete_cookie(SESSION_COOKIE, path="/", httponly=True, samesite="strict")
    return response


@router.get("/auth/me", response_model=MeOut, summary="Who am I (and the CSRF token of my session)")
async def me(user: Viewer, ctx: Ctx) -> MeOut:
    csrf = expires = None
    if user.session is not None:
        csrf = csrf_token(ctx.settings.secret.get_secret_value(), user.session)
        expires = datetime.fromtimestamp(user.session.expires_at, UTC)
    return MeOut(user=user.name, role=user.role, auth=user.method, csrf_token=csrf, session_expires_at=expires)


@router.get("/users", response_model=list[UserOut], summary="List users (admin)")
def list_users(_admin: Admin, ctx: Ctx) -> list[UserOut]:
    return [_out(u) for u in ctx.store.users()]


@router.post("/users", response_model=TokenIssued, status_code=201,
             summary="Create a user with a token (admin, rate-limited; the token is shown once)", responses=CONFLICT)
def create_user(body: UserCreate, admin: Admin, request: Request, ctx: Ctx) -> TokenIssued:
    _rate_limit(request, ctx)
    if user_state(ctx.store, body.name) is not None:
        raise ApiError(409, f"user '{body.name}' already exists: rotate its token with "
                            f"POST /api/v1/users/{body.name}/token")
    user, token = ctx.store.create_user(body.name, str(body.role))
    record_write(ctx, admin, "user_add", user.name, {"new_role": str(user.role)})
    return TokenIssued(user=user.name, role=str(user.role), token=token)


@router.patch("/users/{name}", response_model=UserOut, summary="Change a user's role or disable it (admin)",
              responses={**NOT_FOUND, **CONFLICT})
def update_user(name: str, body: UserUpdate, admin: Admin, ctx: Ctx) -> UserOut:
    _user_out(ctx, name)
    if name == admin.name and (body.disabled or (body.role is not None and body.role != admin.role)):
        raise ApiError(409, "you cannot disable yourself or change your own role: ask another admin")
    if body.role is not None:
        ctx.store.set_user_role(name, str(body.role))
    if body.disabled is not None:
        ctx.store.set_user_disabled(name, body.disabled)
    ctx.verified.forget_user(name)
    record_write(ctx, admin, "user_update", name, body.model_dump(mode="json", exclude_none=True))
    return _user_out(ctx, name)


@router.post("/users/{name}/token", response_model=TokenIssued, status_code=201,
             summary="Rotate a user's token: the old one stops working (admin, rate-limited; shown once)",
             responses=NOT_FOUND)
def rotate_token(name: str, admin: Admin, request: Request, ctx: Ctx) -> TokenIssued:
    _rate_limit(request, ctx)
    out = _user_out(ctx, name)
    token = ctx.store.rotate_token(name)
    ctx.verified.forget_user(name)
    record_write(ctx, admin, "token_rotate", name)
    return TokenIssued(user=out.name, role=out.role, token=token)


def _set_password(ctx: AppContext, name: str, password: str) -> UserOut:
    try:
        user = ctx.store.set_password(name, password)
    except UserError as exc:
        if exc.key == "uerr.no_user":
            raise not_found(f"user '{name}'", "see GET /api/v1/users") from None
        raise ApiError(422, str(exc), key=exc.key, params=exc.params) from None
    return _out(user)


@router.put("/users/{name}/password", response_model=UserOut,
            summary="Set a user's dashboard password; sessions opened with the old one end (admin, rate-limited)",
            responses=NOT_FOUND)
def set_password(name: str, body: PasswordSet, admin: Admin, request: Request, ctx: Ctx) -> UserOut:
    _rate_limit(request, ctx)
    out = _set_password(ctx, name, body.password)
    record_write(ctx, admin, "password_set", name)
    return out


@router.post("/auth/password", response_model=UserOut,
             summary="Change my own dashboard password (needs the current one; rate-limited)")
def change_password(body: PasswordChange, user: Viewer, request: Request, response: Response, ctx: Ctx) -> UserOut:
    _rate_limit(request, ctx)
    try:
        check_password(ctx, user.name, body.current_password, request)
    except ApiError as exc:
        if exc.status != 401:
            raise
        raise ApiError(422, "current_password is wrong (or you have no password yet: ask an admin to set one)",
                       key="err.current_password") from None
    out = _set_password(ctx, user.name, body.new_password)
    record_write(ctx, user, "password_change", user.name)
    if user.method == "session":  # the old session held the old password key: end it cleanly
        response.delete_cookie(SESSION_COOKIE, path="/", httponly=True, samesite="strict")
    return out
