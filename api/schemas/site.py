"""Site, topology and asset models."""

from __future__ import annotations

from datetime import datetime

from pydantic import Field

from api.ports import DeviceLive
from api.schemas.common import Out


class TenantOut(Out):
    id: str = Field(examples=["shoes"])
    name: str
    name_zh: str | None = None
    industry: str = ""
    bus: str
    typical_load_kw: float
    assets: list[str] = Field(default_factory=list, description="ids of the tenant's assets")


class SiteOut(Out):
    id: str = Field(examples=["putian_hitech"])
    name: str
    name_zh: str | None = None
    timezone: str = Field(examples=["Asia/Shanghai"])
    latitude_deg: float
    longitude_deg: float
    resolution_min: int
    declared_demand_kw: float
    import_cap_kw: float
    export_limit_kw: float = Field(description="0 = zero export (anti-backflow)")
    pv_kwp: float
    storage_kwh: float
    tariff: str
    tariff_illustrative: bool
    emission_factor_kg_per_kwh: float
    emission_factor_source: str
    green_target_ratio_pct: float | None = None
    tenants: list[TenantOut]


class BusOut(Out):
    id: str
    vn_kv: float
    name: str = ""
    tenant: str | None = None


class BranchOut(Out):
    id: str
    kind: str = Field(description="'line' or 'transformer'")
    from_bus: str
    to_bus: str
    rating: str = Field(description="std type or kVA rating", examples=["2000 kVA"])


class SwitchOut(Out):
    id: str
    bus: str
    element: str
    kind: str
    closed: bool


class AssetOut(Out):
    """An asset: static facts, override range and, in live answers, measured values."""

    id: str = Field(examples=["bess_shared"])
    kind: str = Field(examples=["battery"])
    tenant: str | None = None
    bus: str
    name: str
    rating_kw: float
    min_kw: float = Field(description="lowest override value (sign per kind)")
    max_kw: float = Field(description="highest override value")
    override_meaning: str
    e_kwh: float | None = None


class MeterOut(Out):
    id: str
    scope: str
    bus: str
    tenant: str | None = None
    asset: str | None = None


class DeviceOut(Out):
    id: str
    serves: str
    role: str
    map: str
    unit_id: int
    poll_s: float


class TopologyOut(Out):
    pcc_bus: str
    buses: list[BusOut]
    branches: list[BranchOut]
    switches: list[SwitchOut]
    assets: list[AssetOut]
    meters: list[MeterOut]
    devices: list[DeviceOut]


class OverrideOut(Out):
    asset_id: str = Field(examples=["bess_shared"])
    value_kw: float = Field(examples=[-250.0])
    expires_at: datetime
    reason: str = ""
    user: str = Field(examples=["li.wei"])
    created_at: datetime | None = None


class AssetLiveOut(AssetOut):
    p_kw: float | None = Field(default=None, description="measured main power; sign per kind (PV, discharge > 0; "
                                                           "consumers: consumption > 0)")
    p_injection_kw: float | None = Field(default=None, description="the same as power into the bus (consumers < 0)")
    planned_kw: float | None = None
    setpoint_kw: float | None = None
    soc_pct: float | None = None
    tank_kwh_th: float | None = None
    tank_temp_c: float | None = None
    health: str = Field(default="unknown", examples=["online"])
    last_seen: datetime | None = None
    devices: list[DeviceLive] = []
    override: OverrideOut | None = None


class TenantFlowOut(Out):
    tenant: str
    meter_kw: float | None = Field(description="tenant meter: net draw from the park grid (consumption > 0), "
                                                "None if not metered")
    pv_kw: float = Field(0.0, description="tenant PV output (> 0)")
    storage_kw: float = Field(0.0, description="tenant storage, discharge > 0 / charge < 0")
    flexible_kw: float = Field(0.0, description="heat pumps, flexible loads and EV chargers (consumption > 0)")


class LiveOut(Out):
    """The park now: PCC, modes, per-asset and per-tenant flows."""

    at: datetime
    mode: str = Field(examples=["normal"])
    pcc_p_kw: float | None = Field(description="import > 0 / export < 0")
    import_cap_kw: float
    export_limit_kw: float
    pv_kw: float
    storage_kw: float
    soc_pct: float | None = Field(description="energy-weighted SoC of all batteries")
    consumption_kw: float | None = Field(description="PCC + PV + storage (what the park consumes)")
    assets: list[AssetLiveOut]
    tenants: list[TenantFlowOut]
    cycle_time_ms: float | None = None
    solver_time_s: float | None = None
    plan_version: str | None = None
    replan_pending: bool = False
    active_alarms: int = 0
