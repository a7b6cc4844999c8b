"""``GET /health``: the only route without authentication (liveness for load balancers)."""

from __future__ import annotations

from datetime import UTC, datetime

from fastapi import APIRouter
from pydantic import BaseModel, Field

from microgrid import __version__

router = APIRouter(tags=["health"])


class HealthOut(BaseModel):
    status: str = Field(examples=["ok"])
    version: str = Field(examples=[__version__])
    time: datetime


@router.get("/health", response_model=HealthOut, summary="Liveness (no token needed)")
async def health() -> HealthOut:
    return HealthOut(status="ok", version=__version__, time=datetime.now(UTC))
