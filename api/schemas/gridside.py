"""Demand-response events over the API (``/api/v1/dr-events``); the same caps as IEC 104 and Modbus (docs/gridside.md)."""

from __future__ import annotations

from datetime import date, datetime

from pydantic import AwareDatetime, Field

from api.schemas.common import In, Out
from microgrid.gridside.settlement import Settlement
from microgrid.site.gridside import DemandResponseSettings


class DREventRequest(In):
    """Body of ``POST /api/v1/dr-events``: a window with a maximum import or a reduction against the baseline.

    Times are ISO 8601 strings with their offset (the one non-strict type: JSON has no datetime)."""

    id: str = Field(pattern=r"^[A-Za-z0-9_.:-]{1,64}$", examples=["dr-2026-07-15-pm"])
    start: AwareDatetime = Field(strict=False, examples=["2026-07-15T17:00:00+08:00"])
    end: AwareDatetime = Field(strict=False, examples=["2026-07-15T18:00:00+08:00"])
    max_import_kw: float | None = Field(default=None, ge=0, allow_inf_nan=False,
                                        description="PCC import cap during the window, kW (import > 0)")
    reduction_kw: float | None = Field(default=None, gt=0, allow_inf_nan=False,
                                       description="reduction against the similar-days baseline, kW")


class DREventOut(Out):
    id: str
    start: datetime
    end: datetime
    cap_kw: float = Field(description="PCC import cap in force during the window, kW")
    max_import_kw: float | None = None
    reduction_kw: float | None = None
    baseline_kw: float | None = None
    source: str
    user: str = ""


class DREventList(Out):
    at: datetime
    import_cap_kw: float = Field(description="PCC import cap in force now (site cap, commanded limit, DR events)")
    items: list[DREventOut]


class DRSettlementList(Out):
    """``GET /api/v1/dr-settlements``: the DR events of local days ``first_day … last_day`` settled from the
    metered PCC import (docs/gridside.md, "Demand-response settlement")."""

    first_day: date
    last_day: date
    terms: DemandResponseSettings = Field(description="baseline rule and prices the events were settled with")
    items: list[Settlement]
    compensation_cny: float = Field(description="sum over the events")
    penalty_cny: float = Field(description="sum over the events")
