"""The operator's write requests (overrides, re-planning, acknowledgements) and their answers."""

from __future__ import annotations

from datetime import datetime

from pydantic import Field

from api.schemas.common import In, Out
from api.schemas.site import OverrideOut


class AcknowledgeRequest(In):
    comment: str = Field(default="", max_length=200, examples=["crew on site"])


class OverrideRequest(In):
    """Body of ``PUT /api/v1/assets/{asset_id}/override``."""

    value_kw: float = Field(
        allow_inf_nan=False,
        description="Storage: AC setpoint, discharge > 0 / charge < 0. PV: active-power limit >= 0. Heat pump, "
        "flexible load, EV depot: consumption >= 0. Must lie in the asset's [min_kw, max_kw].",
        examples=[-250.0],
    )
    duration_min: float = Field(gt=0, le=24 * 60, allow_inf_nan=False,
                                description="minutes until the override expires (at most 24 h)", examples=[30])
    reason: str = Field(default="", max_length=200, examples=["grid operator request: charge before the peak"])


class OverrideList(Out):
    at: datetime
    items: list[OverrideOut]


class ReplanRequest(In):
    reason: str = Field(default="", max_length=200, examples=["cloud front earlier than forecast"])


class ReplanOut(Out):
    accepted: bool
    request_id: str
    requested_at: datetime
    message: str = ""
