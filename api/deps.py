"""Typed dependencies: the app context, its parts, and the caller with a minimum role.

Use as annotations, e.g. ``def route(user: Operator, control: Control)``.
"""

from __future__ import annotations

import hmac
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import APIKeyCookie, HTTPAuthorizationCredentials, HTTPBearer

from api import proxies
from api.context import AppContext
from api.errors import ApiError
from api.ports import ControlPort, StoreView
from api.ratelimit import retry_after_header
from api.security import (
    CSRF_HEADER,
    SESSION_COOKIE,
    Role,
    Session,
    csrf_token,
    read_session_cookie,
    token_key,
)
from api.users import PASSWORD_KEY_PREFIX, token_key_in_use, user_state
from microgrid.site import Site

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})

bearer_scheme = HTTPBearer(auto_error=False, description="API token from `microgrid users add NAME --role ROLE`")
cookie_scheme = APIKeyCookie(name=SESSION_COOKIE, auto_error=False,
                             description="Dashboard session from POST /api/v1/auth/login (writes need X-CSRF-Token)")


async def get_ctx(request: Request) -> AppContext:
    return request.app.state.ctx


Ctx = Annotated[AppContext, Depends(get_ctx)]


async def get_site(ctx: Ctx) -> Site:
    return ctx.site


async def get_store(ctx: Ctx) -> StoreView:
    return ctx.store


async def get_control(ctx: Ctx) -> ControlPort:
    return ctx.control


SiteDep = Annotated[Site, Depends(get_site)]
Store = Annotated[StoreView, Depends(get_store)]
Control = Annotated[ControlPort, Depends(get_control)]


@dataclass(frozen=True)
class Principal:
    """The authenticated caller."""

    name: str
    role: Role
    token_key: str
    method: str
    """``bearer`` or ``session``."""
    session: Session | None = None

    def allows(self, needed: Role) -> bool:
        return self.role.allows(needed)


def client_address(request: Request, ctx: AppContext) -> str:
    """The caller's address; ``X-Forwarded-For`` counts only from a configured proxy (:mod:`api.proxies`)."""
    peer = request.client.host if request.client else None
    return proxies.client_address(peer, request.headers.get("x-forwarded-for"), ctx.settings.trusted_proxies)


def _unauthorized(detail: str) -> ApiError:
    return ApiError(401, detail, headers={"WWW-Authenticate": "Bearer"})


def _principal(ctx: AppContext, name: str, key: str, method: str, session: Session | None = None) -> Principal:
    """Re-read the user: it must exist, be enabled and still hold the token (or password) with ``key``."""
    state = user_state(ctx.store, name)
    if state is None or not state.holds(key):
        ctx.verified.forget_user(name)
        if key.startswith(PASSWORD_KEY_PREFIX):
            raise _unauthorized("password changed or user removed: sign in again")
        raise _unauthorized("token no longer valid (rotated or user removed): ask an admin for a new one")
    if state.disabled:
        raise _unauthorized("user disabled: ask an admin to enable the account")
    return Principal(name=state.name, role=state.role, token_key=key, method=method, session=session)


def failure_bucket(request: Request, ctx: AppContext, key: str | None = None) -> str:
    """The lockout bucket of an attempt: the client address, and the token's key when that key is one a user
    holds. Guessing random tokens empties the address's bucket while the holder of a real token, even from
    the same address (a shared proxy or NAT), keeps its own; guessing the secret of a known key locks only
    that key from that address."""
    address = client_address(request, ctx)
    if key is not None and token_key_in_use(ctx.store, key):
        return f"{address}|{key}"
    return address


def _refuse_if_throttled(ctx: AppContext, bucket: str) -> str:
    wait = ctx.failure_limiter.check(bucket)
    if wait > 0:
        raise ApiError(429, "too many failed authentication attempts from this address: retry later",
                       headers=retry_after_header(wait))
    return bucket


def check_token(ctx: AppContext, token: str, request: Request | None = None) -> Principal:
    """The principal of a bearer token, or :class:`ApiError` 401 (first check: one scrypt, then cached).

    A token verified before is accepted without touching the rate limit; any other is checked only while
    its failure bucket (:func:`failure_bucket`) has room (429 otherwise), and a failure spends from it.
    """
    key = token_key(token)
    cached = ctx.verified.get(token) if key is not None else None
    if cached is not None and cached[1] == key:
        return _principal(ctx, cached[0], key, "bearer")
    bucket = _refuse_if_throttled(ctx, failure_bucket(request, ctx, key)) if request is not None else None
    try:
        if key is None:
            raise _unauthorized("malformed token: expected the whole token as printed by `microgrid users add`")
        user = ctx.store.authenticate(token)
        if user is None:
            raise _unauthorized("unknown, rotated or disabled token")
    except ApiError:
        if bucket is not None:
            ctx.failure_limiter.take(bucket)
        raise
    ctx.verified.put(token, user.name, key)
    return _principal(ctx, user.name, key, "bearer")


def check_password(ctx: AppContext, name: str, password: str, request: Request) -> Principal:
    """The principal of a user name and password, or :class:`ApiError` 401 (one scrypt per attempt).

    Lockout as for tokens (:func:`failure_bucket`): a failure for a user that exists spends the bucket of that
    user from that address (guessing one user's password locks only that pair), any other failure the
    address's bucket; the login route's own per-address limit caps the attempts per address on top."""
    state = user_state(ctx.store, name)
    bucket = f"{client_address(request, ctx)}|user:{name}" if state is not None else client_address(request, ctx)
    _refuse_if_throttled(ctx, bucket)
    found = ctx.store.authenticate_password(name, password)
    if found is None:
        ctx.failure_limiter.take(bucket)
        raise _unauthorized("wrong user name or password, or the user is disabled or has no password yet")
    user, key = found
    return _principal(ctx, user.name, PASSWORD_KEY_PREFIX + key, "session")


def check_session(ctx: AppContext, cookie: str, request: Request) -> Principal:
    session = read_session_cookie(ctx.settings.secret.get_secret_value(), cookie)
    if session is None:
        ctx.failure_limiter.take(_refuse_if_throttled(ctx, failure_bucket(request, ctx)))
        raise _unauthorized("session expired or invalid: log in again")
    return _principal(ctx, session.user, session.token_key, "session", session)


def authenticate(request: Request, ctx: AppContext, bearer: HTTPAuthorizationCredentials | None,
                 cookie: str | None) -> Principal | None:
    """The caller from a bearer token (preferred) or a session cookie; ``None`` without credentials.

    Failed attempts spend the client's failure bucket; while it is empty, unverified credentials get 429.
    Writes in a cookie session need the session's CSRF token.
    """
    if bearer is None and not cookie:
        return None
    if bearer is not None:
        if bearer.scheme.lower() != "bearer":
            raise _unauthorized("use 'Authorization: Bearer <token>'")
        return check_token(ctx, bearer.credentials, request)
    principal = check_session(ctx, cookie or "", request)
    if request.method not in SAFE_METHODS:
        sent = request.headers.get(CSRF_HEADER, "")
        expected = csrf_token(ctx.settings.secret.get_secret_value(), principal.session)  # type: ignore[arg-type]
        if not hmac.compare_digest(sent, expected):
            raise ApiError(403, f"missing or wrong {CSRF_HEADER} header: reload the dashboard page")
    return principal


def optional_principal(
    request: Request,
    ctx: Ctx,
    bearer: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer_scheme)],
    cookie: Annotated[str | None, Depends(cookie_scheme)],
) -> Principal | None:
    """The caller, or ``None`` when no credentials were sent (pages redirect to the login page then)."""
    return authenticate(request, ctx, bearer, cookie)


async def current_principal(principal: Annotated[Principal | None, Depends(optional_principal)]) -> Principal:
    if principal is None:
        raise _unauthorized("authentication required: send 'Authorization: Bearer <token>'")
    return principal


def require(role: Role):
    """Dependency: the caller, who must have at least ``role``."""

    async def dependency(principal: Annotated[Principal, Depends(current_principal)]) -> Principal:
        if not principal.allows(role):
            raise ApiError(403, f"role '{principal.role}' may not do this: needs '{role}' or higher")
        return principal

    dependency.__name__ = f"require_{role}"
    return dependency


Viewer = Annotated[Principal, Depends(require(Role.VIEWER))]
Operator = Annotated[Principal, Depends(require(Role.OPERATOR))]
Admin = Annotated[Principal, Depends(require(Role.ADMIN))]
OptionalPrincipal = Annotated[Principal | None, Depends(optional_principal)]
