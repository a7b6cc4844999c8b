"""Login, session and user-management models."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import Field, model_validator

from api.schemas.common import In, Out
from api.security import Role

UserName = Annotated[str, Field(pattern=r"^[A-Za-z0-9_.@-]{1,64}$", examples=["li.wei"])]
RoleIn = Annotated[Role, Field(strict=False, description="viewer, operator or admin")]
"""A role in a request body: its string value (strict mode would ask for the Python enum itself)."""


class LoginRequest(In):
    """Open a dashboard session (sets an HttpOnly session cookie) with a user name and password, or with an
    API token."""

    user: str | None = Field(default=None, min_length=1, max_length=64, examples=["li.wei"])
    password: str | None = Field(default=None, min_length=1, max_length=256)
    token: str | None = Field(default=None, min_length=1, max_length=256, examples=["mgs_AbCdEfGhIjKl_..."])

    @model_validator(mode="after")
    def _one_way(self) -> LoginRequest:
        if self.token is not None and (self.user is not None or self.password is not None):
            raise ValueError("send either 'user' and 'password' or 'token', not both")
        if self.token is None and (self.user is None or self.password is None):
            raise ValueError("send 'user' and 'password' (or an API 'token')")
        return self


class PasswordSet(In):
    """A new dashboard password (at least 10 characters, not the user name)."""

    password: str = Field(min_length=1, max_length=256)


class PasswordChange(In):
    """Change one's own password: the current one, then the new one."""

    current_password: str = Field(min_length=1, max_length=256)
    new_password: str = Field(min_length=1, max_length=256)


class MeOut(Out):
    """Who is calling, and (for cookie sessions) the CSRF token to send with writes."""

    user: str = Field(examples=["li.wei"])
    role: Role
    auth: str = Field(description="'bearer' or 'session'", examples=["session"])
    csrf_token: str | None = Field(default=None, description="send as X-CSRF-Token on writes in a session")
    session_expires_at: datetime | None = None


class UserCreate(In):
    name: UserName
    role: RoleIn = Role.VIEWER


class UserOut(Out):
    name: str
    role: Role
    disabled: bool
    created_at: datetime
    has_password: bool = Field(default=False, description="true once a dashboard password is set")


class UserUpdate(In):
    role: RoleIn | None = None
    disabled: bool | None = None


class TokenIssued(Out):
    """A new token. It is shown only in this answer; only its hash is stored."""

    user: str
    role: Role
    token: str = Field(examples=["mgs_AbCdEfGhIjKl_s3cr3t..."])
