"""Build the live view (assets, tenants, PCC) from the control port's snapshot and the site."""

from __future__ import annotations

from api.context import AppContext
from api.ports import AssetLive, LiveSnapshot
from api.schemas.site import AssetLiveOut, AssetOut, LiveOut, OverrideOut, TenantFlowOut
from api.site_view import AssetInfo
from microgrid.control.overrides import Override


def asset_out(info: AssetInfo) -> AssetOut:
    return AssetOut(id=info.id, kind=info.kind, tenant=info.tenant, bus=info.bus, name=info.name,
                    rating_kw=info.rating_kw, min_kw=info.min_kw, max_kw=info.max_kw,
                    override_meaning=info.override_meaning, e_kwh=info.e_kwh)


def read_snapshot(ctx: AppContext) -> LiveSnapshot:
    return LiveSnapshot.model_validate(ctx.control.snapshot(), from_attributes=True)


def override_out(o: Override) -> OverrideOut:
    return OverrideOut(asset_id=o.asset_id, value_kw=o.value_kw, expires_at=o.expires_at, reason=o.reason,
                       user=o.user, created_at=o.created_at)


def asset_live_out(info: AssetInfo, live: AssetLive | None, override: Override | None) -> AssetLiveOut:
    base = asset_out(info).model_dump()
    if live is None:
        return AssetLiveOut(**base, override=override_out(override) if override else None)
    p = live.p_kw
    return AssetLiveOut(
        **base,
        p_kw=p,
        p_injection_kw=None if p is None else (-p if info.consumer else p),
        planned_kw=live.planned_kw, setpoint_kw=live.setpoint_kw, soc_pct=live.soc_pct,
        tank_kwh_th=live.tank_kwh_th, tank_temp_c=live.tank_temp_c, health=live.health,
        last_seen=live.last_seen, devices=list(live.devices),
        override=override_out(override) if override else None,
    )


def live_assets(ctx: AppContext, snap: LiveSnapshot) -> list[AssetLiveOut]:
    by_id = {a.asset_id: a for a in snap.assets}
    overrides = {o.asset_id: o for o in ctx.control.overrides()}
    return [asset_live_out(info, by_id.get(info.id), overrides.get(info.id)) for info in ctx.assets.values()]


def _sum(values: list[float | None]) -> float:
    return float(sum(v for v in values if v is not None))


def live_view(ctx: AppContext, snap: LiveSnapshot, active_alarms: int) -> LiveOut:
    site = ctx.site
    assets = live_assets(ctx, snap)
    pv_kw = _sum([a.p_kw for a in assets if a.kind == "pv"])
    batteries = [a for a in assets if a.kind == "battery"]
    storage_kw = _sum([a.p_kw for a in batteries])
    with_soc = [(a.soc_pct, a.e_kwh or 0.0) for a in batteries if a.soc_pct is not None]
    total_e = sum(e for _s, e in with_soc)
    soc = sum(s * e for s, e in with_soc) / total_e if total_e > 0 else None
    meters = {m.meter_id: m for m in snap.meters}
    tenants = []
    for tenant in site.tenants:
        meter = next((m for m in site.meters if m.scope == "tenant" and m.tenant == tenant.id), None)
        mine = [a for a in assets if a.tenant == tenant.id]
        tenants.append(TenantFlowOut(
            tenant=tenant.id,
            meter_kw=meters[meter.id].p_kw if meter is not None and meter.id in meters else None,
            pv_kw=_sum([a.p_kw for a in mine if a.kind == "pv"]),
            storage_kw=_sum([a.p_kw for a in mine if a.kind == "battery"]),
            flexible_kw=_sum([a.p_kw for a in mine if a.kind not in ("pv", "battery")]),
        ))
    pcc = snap.pcc_p_kw
    return LiveOut(
        at=snap.at, mode=snap.mode, pcc_p_kw=pcc, import_cap_kw=site.grid.import_cap_kw,
        export_limit_kw=site.grid.export_limit_kw, pv_kw=round(pv_kw, 3), storage_kw=round(storage_kw, 3),
        soc_pct=None if soc is None else round(soc, 2),
        consumption_kw=None if pcc is None else round(pcc + pv_kw + storage_kw, 3),
        assets=assets, tenants=tenants, cycle_time_ms=snap.cycle_time_ms, solver_time_s=snap.solver_time_s,
        plan_version=snap.plan_version, replan_pending=snap.replan_pending, active_alarms=active_alarms,
    )
