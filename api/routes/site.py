"""Site facts and network topology."""

from __future__ import annotations

from fastapi import APIRouter

from api.deps import Ctx, SiteDep, Viewer
from api.live import asset_out
from api.schemas.common import ERROR_RESPONSES
from api.schemas.site import (
    BranchOut,
    BusOut,
    DeviceOut,
    MeterOut,
    SiteOut,
    SwitchOut,
    TenantOut,
    TopologyOut,
)
from api.site_view import AssetInfo
from microgrid.site import Site

router = APIRouter(prefix="/api/v1/site", tags=["site"], responses=ERROR_RESPONSES)


def site_out(site: Site, assets: list[AssetInfo]) -> SiteOut:
    factor = site.emission_factor()
    return SiteOut(
        id=site.id, name=site.site.name, name_zh=site.site.name_zh, timezone=site.timezone,
        latitude_deg=site.site.location.latitude_deg, longitude_deg=site.site.location.longitude_deg,
        resolution_min=site.site.resolution_min, declared_demand_kw=site.grid.declared_demand_kw,
        import_cap_kw=site.grid.import_cap_kw, export_limit_kw=site.grid.export_limit_kw,
        pv_kwp=site.pv_kwp_total(), storage_kwh=sum(b.e_kwh for b in site.assets.batteries),
        tariff=site.tariff.name, tariff_illustrative=site.tariff.illustrative,
        emission_factor_kg_per_kwh=factor.kg_co2_per_kwh,
        emission_factor_source=f"{factor.region} {factor.year}, {factor.document}",
        green_target_ratio_pct=site.green_power.target_ratio_pct,
        tenants=[TenantOut(id=t.id, name=t.name, name_zh=t.name_zh, industry=t.industry, bus=t.bus,
                           typical_load_kw=t.typical_load_kw, assets=[a.id for a in assets if a.tenant == t.id])
                 for t in site.tenants],
    )


@router.get("", response_model=SiteOut, summary="The park: location, grid connection, tariff, tenants")
async def get_site(_user: Viewer, site: SiteDep, ctx: Ctx) -> SiteOut:
    return site_out(site, list(ctx.assets.values()))


@router.get("/topology", response_model=TopologyOut, summary="Buses, lines, transformers, switches, assets, "
            "meters and devices")
async def get_topology(_user: Viewer, site: SiteDep, ctx: Ctx) -> TopologyOut:
    net = site.network
    branches = [BranchOut(id=ln.id, kind="line", from_bus=ln.from_bus, to_bus=ln.to_bus,
                          rating=f"{ln.std_type}, {ln.length_km} km") for ln in net.lines]
    branches += [BranchOut(id=t.id, kind="transformer", from_bus=t.hv_bus, to_bus=t.lv_bus,
                           rating=f"{t.sn_kva:g} kVA {t.vector_group}") for t in net.transformers]
    return TopologyOut(
        pcc_bus=site.grid.bus,
        buses=[BusOut.model_validate(b) for b in net.buses],
        branches=branches,
        switches=[SwitchOut.model_validate(s) for s in net.switches],
        assets=[asset_out(a) for a in ctx.assets.values()],
        meters=[MeterOut.model_validate(m) for m in site.meters],
        devices=[DeviceOut.model_validate(d) for d in site.devices],
    )
