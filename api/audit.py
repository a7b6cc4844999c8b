"""The API's write log: every write made through the API becomes a store event with its user."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from api.context import AppContext
    from api.deps import Principal

log = logging.getLogger(__name__)

CATEGORY = "api"
"""Event category of API writes (``GET /api/v1/events?category=api``)."""


def record_write(ctx: AppContext, user: Principal, action: str, target: str, detail: dict | None = None,
                 outcome: str = "ok", reason: str = "") -> None:
    """Store ``action`` on ``target`` by ``user`` (event category ``api``); a store failure is logged, not raised:
    the write itself has happened (the controller records its own events too)."""
    data = {"action": action, "role": str(user.role), "outcome": outcome, "auth": user.method, **(detail or {})}
    message = f"{user.name} ({user.role}): {action} {target}" + ("" if outcome == "ok" else f" [{outcome}]")
    try:
        ctx.store.record_event(CATEGORY, message, reason=reason, source_id=target[:64], user=user.name, data=data,
                               ts=ctx.control.now())
    except Exception:  # noqa: BLE001 - logging the write must not undo it
        log.exception("could not record API write %s on %s by %s", action, target, user.name)
