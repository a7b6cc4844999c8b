"""Roles, the cache of verified tokens, signed dashboard sessions and CSRF tokens.

API tokens themselves are issued, hashed (scrypt, salted) and checked by the store
(:mod:`microgrid.store.users`): a token looks like ``mgs_<key>_<secret>``; ``key`` finds the user row,
only a hash of ``secret`` is stored. Checking a token costs one scrypt (tens of ms), so successful checks
are cached in memory, keyed by a SHA-256 of the token, for a few minutes; every request still re-reads the
user (role, disabled, current token key), so disabling a user or rotating a token takes effect at once.

A dashboard session is a cookie ``<payload>.<hmac>`` signed with ``MICROGRID_SECRET``; the payload names
the user and the key of the token the session was opened with, so rotating that token or disabling the user
ends the session too. Requests authenticated by the cookie that change anything must carry ``X-CSRF-Token``
(derived from the session with the same secret).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import time
from dataclasses import dataclass
from enum import StrEnum

from microgrid.store.users import split_token

SESSION_COOKIE = "mg_session"
CSRF_HEADER = "X-CSRF-Token"


class Role(StrEnum):
    """Roles, each including the rights of the ones before it (same values as the store's ``Role``)."""

    VIEWER = "viewer"
    OPERATOR = "operator"
    ADMIN = "admin"

    @property
    def rank(self) -> int:
        return _RANKS[self]

    def allows(self, needed: Role) -> bool:
        return self.rank >= needed.rank


_RANKS = {Role.VIEWER: 0, Role.OPERATOR: 1, Role.ADMIN: 2}


def token_key(token: str) -> str | None:
    """The lookup key of a well-formed token (parsed by the store, which issues them), else ``None``."""
    parts = split_token(token.strip())
    return parts[0] if parts else None


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def token_fingerprint(token: str) -> str:
    """SHA-256 of a whole token, used only as an in-memory cache key."""
    return hashlib.sha256(token.encode()).hexdigest()


class VerifiedCache:
    """Tokens verified recently: fingerprint → (user name, token key, expiry on the monotonic clock)."""

    def __init__(self, ttl_s: float = 300.0, max_entries: int = 4096) -> None:
        self.ttl_s = ttl_s
        self.max_entries = max_entries
        self._entries: dict[str, tuple[str, str, float]] = {}

    def get(self, token: str) -> tuple[str, str] | None:
        hit = self._entries.get(token_fingerprint(token))
        if hit is None or hit[2] < time.monotonic():
            return None
        return hit[0], hit[1]

    def put(self, token: str, name: str, key: str) -> None:
        if len(self._entries) >= self.max_entries:
            now = time.monotonic()
            self._entries = {k: v for k, v in self._entries.items() if v[2] >= now}
            if len(self._entries) >= self.max_entries:
                self._entries.clear()
        self._entries[token_fingerprint(token)] = (name, key, time.monotonic() + self.ttl_s)

    def forget_user(self, name: str) -> None:
        self._entries = {k: v for k, v in self._entries.items() if v[0] != name}


@dataclass(frozen=True)
class Session:
    """Contents of a signed session cookie."""

    user: str
    token_key: str
    nonce: str
    expires_at: float
    """Unix time, seconds."""


def _sign(secret: str, message: str) -> str:
    return _b64(hmac.new(secret.encode(), message.encode(), hashlib.sha256).digest())


def make_session_cookie(secret: str, user: str, key: str, ttl_s: int, now: float | None = None) -> tuple[str, Session]:
    """A signed cookie value for a session of ``user`` opened with the token whose key is ``key``."""
    session = Session(user=user, token_key=key, nonce=secrets.token_urlsafe(12),
                      expires_at=(now or time.time()) + ttl_s)
    payload = _b64(json.dumps({"u": user, "k": key, "n": session.nonce, "e": int(session.expires_at)}).encode())
    return f"{payload}.{_sign(secret, 'session|' + payload)}", session


def read_session_cookie(secret: str, value: str, now: float | None = None) -> Session | None:
    """The session in a cookie whose signature is valid and which has not expired, else ``None``."""
    payload, _, signature = value.partition(".")
    if not payload or not signature or not hmac.compare_digest(_sign(secret, "session|" + payload), signature):
        return None
    try:
        data = json.loads(_unb64(payload))
        session = Session(user=str(data["u"]), token_key=str(data["k"]), nonce=str(data["n"]),
                          expires_at=float(data["e"]))
    except (ValueError, KeyError, TypeError):
        return None
    if session.expires_at < (now or time.time()):
        return None
    return session


def csrf_token(secret: str, session: Session) -> str:
    """The CSRF token belonging to a session (sent back by the dashboard in ``X-CSRF-Token``)."""
    return _sign(secret, f"csrf|{session.user}|{session.token_key}|{session.nonce}")
