"""Static facts of a site the API serves: assets with their kind, tenant and setpoint range."""

from __future__ import annotations

from dataclasses import dataclass

from microgrid.site import Site
from optimizer.results import power_column


@dataclass(frozen=True)
class AssetInfo:
    """One controllable asset; ``min_kw``/``max_kw`` bound an operator override (sign per ``kind``)."""

    id: str
    kind: str
    """Schedule kind: ``pv``, ``battery``, ``heat_pump``, ``deferrable``, ``shiftable``, ``curtailable``,
    ``ev_depot``."""
    tenant: str | None
    bus: str
    name: str
    rating_kw: float
    min_kw: float
    max_kw: float
    e_kwh: float | None = None
    """Battery energy or heat-pump tank capacity (kWh_th)."""

    @property
    def consumer(self) -> bool:
        return self.kind not in ("pv", "battery")

    @property
    def power_column(self) -> str:
        return power_column(self.id, self.kind)

    @property
    def override_meaning(self) -> str:
        if self.kind == "battery":
            return "AC setpoint, discharge > 0 / charge < 0"
        if self.kind == "pv":
            return "active-power limit"
        return "consumption setpoint"


def site_assets(site: Site) -> list[AssetInfo]:
    """Every asset of ``site`` in a stable order (PV, storage, heat pumps, flexible loads, EV depots)."""
    a = site.assets
    out = [AssetInfo(p.id, "pv", p.tenant, p.bus, p.id, p.inverter_ac_kw, 0.0, p.inverter_ac_kw) for p in a.pv]
    out += [AssetInfo(b.id, "battery", b.tenant, b.bus, b.id, max(b.p_charge_max_kw, b.p_discharge_max_kw),
                      -b.p_charge_max_kw, b.p_discharge_max_kw, b.e_kwh) for b in a.batteries]
    out += [AssetInfo(h.id, "heat_pump", h.tenant, h.bus, h.id, h.p_el_max_kw, 0.0, h.p_el_max_kw,
                      round(h.tank_capacity_kwh_th, 1)) for h in a.heat_pumps]
    out += [AssetInfo(f.id, f.kind, f.tenant, f.bus, f.name or f.id, f.p_max_kw, 0.0, f.p_max_kw)
            for f in a.flexible_loads]
    out += [AssetInfo(e.id, "ev_depot", e.tenant, e.bus, e.id, e.p_max_kw, 0.0, e.p_max_kw) for e in a.ev_depots]
    return out


def asset_map(site: Site) -> dict[str, AssetInfo]:
    return {info.id: info for info in site_assets(site)}


def pcc_meter_id(site: Site) -> str | None:
    return next((m.id for m in site.meters if m.scope == "pcc"), None)
