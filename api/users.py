"""The store's API users as the API checks them on every request (role, disabled, current token/password key).

:meth:`microgrid.store.Store.authenticate` verifies a token (one scrypt); what the API also needs on every
request is cheap: the user's role, whether it is disabled and the key of its current token (a rotated
token must stop working at once, even when cached) or password (a new password ends older sessions). The store's ``User`` model does not carry the key,
so :func:`user_state` reads it from the store's ``users`` table (read-only).
"""

from __future__ import annotations

from dataclasses import dataclass

import sqlalchemy as sa

from api.security import Role


@dataclass(frozen=True)
class UserState:
    name: str
    role: Role
    disabled: bool
    token_key: str | None
    password_key: str | None = None

    def holds(self, key: str) -> bool:
        """True when ``key`` (a token key, or :data:`PASSWORD_KEY_PREFIX` + password key) is current."""
        if key.startswith(PASSWORD_KEY_PREFIX):
            return self.password_key is not None and key == PASSWORD_KEY_PREFIX + self.password_key
        return self.token_key is not None and key == self.token_key


PASSWORD_KEY_PREFIX = "pw:"
"""Marks a session opened with a password (never part of a url-safe token key)."""


def user_state(store, name: str) -> UserState | None:
    """Role, disabled flag and current token key of ``name``, or ``None`` when there is no such user."""
    custom = getattr(store, "user_state", None)
    if callable(custom):
        return custom(name)
    from microgrid.store import schema

    t = schema.users
    with store.engine.connect() as conn:
        row = conn.execute(sa.select(t.c.name, t.c.role, t.c.disabled, t.c.token_key, t.c.password_key)
                           .where(t.c.name == name)).first()
    if row is None:
        return None
    return UserState(name=row.name, role=Role(row.role), disabled=bool(row.disabled), token_key=row.token_key,
                     password_key=row.password_key)


def token_key_in_use(store, key: str) -> bool:
    """True when some user's current token has lookup key ``key`` (one indexed read, no hashing)."""
    custom = getattr(store, "token_key_in_use", None)
    if callable(custom):
        return bool(custom(key))
    from microgrid.store import schema

    t = schema.users
    with store.engine.connect() as conn:
        return conn.execute(sa.select(t.c.name).where(t.c.token_key == key)).first() is not None
