"""Shared pieces of responses: errors and pages."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class Out(BaseModel):
    """Base of response models (built from attributes of ports' values)."""

    model_config = ConfigDict(from_attributes=True)


class In(BaseModel):
    """Base of request bodies: unknown fields are errors, so typos do not pass silently; types are strict (JSON
    ``true`` or ``"100"`` is not a number, ``0`` is not a boolean): a client that sends the wrong type has a
    bug that coercion would hide. Enumerations are matched by their string values (``RoleIn``)."""

    model_config = ConfigDict(extra="forbid", strict=True)


class ErrorOut(BaseModel):
    """Every error answer: one sentence naming the field and the fix, plus one line per problem."""

    detail: str = Field(examples=["value_kw: -900 kW is outside battery 'bess_shared' limits [-2500, 2500] kW"])
    problems: list[str] = Field(default_factory=list, examples=[["body.duration_min: must be greater than 0"]])


ERROR_RESPONSES: dict[int | str, dict] = {
    401: {"model": ErrorOut, "description": "Missing, unknown, revoked or disabled token"},
    403: {"model": ErrorOut, "description": "The token's role may not do this (or a missing CSRF header)"},
    422: {"model": ErrorOut, "description": "Invalid request: one line per problem, naming the field"},
    429: {"model": ErrorOut, "description": "Too many attempts from this client; retry after `Retry-After` s"},
    503: {"model": ErrorOut, "description": "The store did not answer; retry after `Retry-After` s"},
}
NOT_FOUND: dict[int | str, dict] = {404: {"model": ErrorOut, "description": "No such item (the message says where "
                                                                           "to find the ids)"}}
CONFLICT: dict[int | str, dict] = {409: {"model": ErrorOut, "description": "Refused in the current state"}}
