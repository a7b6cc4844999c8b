"""Login, session and user-management models."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import Field

from api.schemas.common import In, Out
from api.security import Role

UserName = Annotated[str, Field(pattern=r"^[A-Za-z0-9_.@-]{1,64}$", examples=["li.wei"])]
RoleIn = Annotated[Role, Field(strict=False, description="viewer, operator or admin")]
"""A role in a request body: its string value (strict mode would ask for the Python enum itself)."""


class LoginRequest(In):
    """Open a dashboard session with an API token (sets an HttpOnly session cookie)."""

    token: str = Field(min_length=1, max_length=256, examples=["mgs_AbCdEfGhIjKl_..."])


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


class UserUpdate(In):
    role: RoleIn | None = None
    disabled: bool | None = None


class TokenIssued(Out):
    """A new token. It is shown only in this answer; only its hash is stored."""

    user: str
    role: Role
    token: str = Field(examples=["mgs_AbCdEfGhIjKl_s3cr3t..."])
