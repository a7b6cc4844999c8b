"""API users and their tokens.

A token looks like ``mgs_<key>_<secret>``: ``key`` (12 url-safe characters) is stored in clear to find the
row; ``secret`` (256 bits) is stored only as ``scrypt(secret, salt)``. The full token is returned once, when
it is issued; issuing a new one replaces the old.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets

import sqlalchemy as sa

from microgrid.errors import UserError
from microgrid.store import schema as s
from microgrid.store.models import Role, User, from_ms, to_ms, utcnow
from microgrid.store.passwords import check_policy, hash_password, needs_rehash, verify_password

TOKEN_PREFIX = "mgs"
KEY_LEN = 12
SCRYPT_N, SCRYPT_R, SCRYPT_P = 2**14, 8, 1
_NAME = re.compile(r"^[A-Za-z0-9_.@-]{1,64}$")


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def hash_secret(secret: str, salt: str) -> str:
    digest = hashlib.scrypt(secret.encode(), salt=salt.encode(), n=SCRYPT_N, r=SCRYPT_R, p=SCRYPT_P, dklen=32)
    return digest.hex()


def _new_token() -> tuple[str, str, str, str]:
    """``(token, key, salt, hash)``."""
    key = _b64(secrets.token_bytes(9))[:KEY_LEN]
    secret = _b64(secrets.token_bytes(32))
    salt = secrets.token_hex(16)
    return f"{TOKEN_PREFIX}_{key}_{secret}", key, salt, hash_secret(secret, salt)


def split_token(token: str) -> tuple[str, str] | None:
    """``(key, secret)`` of a token, by position (the url-safe key may itself contain ``_``)."""
    head = f"{TOKEN_PREFIX}_"
    sep = len(head) + KEY_LEN
    if not token.startswith(head) or len(token) <= sep + 1 or token[sep] != "_":
        return None
    return token[len(head):sep], token[sep + 1:]


class UsersMixin:
    """Methods of :class:`Store` for API users."""

    engine: sa.Engine

    @staticmethod
    def _user(r: sa.Row) -> User:
        return User(id=r.id, name=r.name, role=Role(r.role), created_at=from_ms(r.created_ms), disabled=r.disabled,
                    has_password=bool(r.password_hash))

    def create_user(self, name: str, role: Role | str = Role.VIEWER) -> tuple[User, str]:
        """Create a user with a token; returns the user and the token (shown once, never stored)."""
        if not _NAME.match(name):
            raise UserError.of("uerr.user_name_bad", name=name)
        try:
            role = Role(role)
        except ValueError:
            raise UserError.of("uerr.role_bad", role=role) from None
        token, key, salt, digest = _new_token()
        t = s.users
        with self.engine.begin() as conn:
            if conn.execute(sa.select(t.c.id).where(t.c.name == name)).first():
                raise UserError.of("uerr.user_exists", name=name)
            conn.execute(t.insert().values(name=name, role=role.value, token_key=key, token_salt=salt,
                                           token_hash=digest, created_ms=to_ms(utcnow()), disabled=False))
        return self.user(name), token

    def user(self, name: str) -> User:
        with self.engine.connect() as conn:
            r = conn.execute(sa.select(s.users).where(s.users.c.name == name)).first()
        if r is None:
            raise UserError.of("uerr.no_user", name=name)
        return self._user(r)

    def users(self) -> list[User]:
        with self.engine.connect() as conn:
            return [self._user(r) for r in conn.execute(sa.select(s.users).order_by(s.users.c.name))]

    def authenticate(self, token: str) -> User | None:
        """The enabled user holding ``token``, else ``None`` (constant-time hash comparison)."""
        parts = split_token(token or "")
        if parts is None:
            return None
        key, secret = parts
        with self.engine.connect() as conn:
            r = conn.execute(sa.select(s.users).where(s.users.c.token_key == key)).first()
        if r is None or r.disabled or not r.token_hash:
            return None
        if not hmac.compare_digest(hash_secret(secret, r.token_salt), r.token_hash):
            return None
        return self._user(r)

    def rotate_token(self, name: str) -> str:
        """Issue a new token for ``name``; the old one stops working. Returns the new token."""
        token, key, salt, digest = _new_token()
        with self.engine.begin() as conn:
            done = conn.execute(s.users.update().where(s.users.c.name == name).values(
                token_key=key, token_salt=salt, token_hash=digest)).rowcount
        if not done:
            raise UserError.of("uerr.no_user", name=name)
        return token

    def set_password(self, name: str, password: str) -> User:
        """Set (or replace) the dashboard password of ``name``; sessions opened with the old one end."""
        check_policy(password, name)
        digest = hash_password(password)
        with self.engine.begin() as conn:
            done = conn.execute(s.users.update().where(s.users.c.name == name).values(
                password_hash=digest, password_key=_b64(secrets.token_bytes(9))[:KEY_LEN])).rowcount
        if not done:
            raise UserError.of("uerr.no_user", name=name)
        return self.user(name)

    def authenticate_password(self, name: str, password: str) -> tuple[User, str] | None:
        """``(user, password key)`` when ``name`` is enabled and ``password`` is its password, else ``None``.

        Costs one scrypt whether or not the user exists; a hash made with weaker parameters is upgraded."""
        with self.engine.connect() as conn:
            r = conn.execute(sa.select(s.users).where(s.users.c.name == name)).first()
        stored = r.password_hash if r is not None else None
        if not verify_password(password, stored) or r is None or r.disabled or not r.password_key:
            return None
        if needs_rehash(stored):
            with self.engine.begin() as conn:
                conn.execute(s.users.update().where(s.users.c.name == name).values(password_hash=hash_password(password)))
        return self._user(r), r.password_key

    def set_user_disabled(self, name: str, disabled: bool = True) -> User:
        with self.engine.begin() as conn:
            done = conn.execute(s.users.update().where(s.users.c.name == name).values(disabled=disabled)).rowcount
        if not done:
            raise UserError.of("uerr.no_user", name=name)
        return self.user(name)

    def set_user_role(self, name: str, role: Role | str) -> User:
        try:
            role = Role(role)
        except ValueError:
            raise UserError.of("uerr.role_bad", role=role) from None
        with self.engine.begin() as conn:
            done = conn.execute(s.users.update().where(s.users.c.name == name).values(role=role.value)).rowcount
        if not done:
            raise UserError.of("uerr.no_user", name=name)
        return self.user(name)
