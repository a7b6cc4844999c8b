"""Human-readable summary of a validated site (what ``microgrid validate`` prints)."""

from __future__ import annotations

from collections import Counter

from microgrid.site.models import Site


def site_summary(site: Site) -> str:
    """Multi-line text: buses, tenants, assets by kind, PV kWp, storage kW/kWh, demand and export limits."""
    a = site.assets
    buses = Counter(f"{b.vn_kv:g} kV" for b in site.network.buses)
    pv_kwp = sum(p.kwp for p in a.pv)
    pv_ac = sum(p.inverter_ac_kw for p in a.pv)
    st_kw = sum(b.p_discharge_max_kw for b in a.batteries)
    st_kwh = sum(b.e_kwh for b in a.batteries)
    grid = site.grid
    export = "zero export (anti-backflow)" if grid.export_limit_kw == 0 else f"{grid.export_limit_kw:,.0f} kW"
    lines = [
        f"Site {site.site.id}: {site.site.name}" + (f" ({site.site.name_zh})" if site.site.name_zh else ""),
        f"  location        {site.site.location.latitude_deg:.2f} N, {site.site.location.longitude_deg:.2f} E, "
        f"{site.site.location.altitude_m:g} m, {site.timezone}",
        f"  grid            {grid.voltage_kv:g} kV at bus {grid.bus}, short-circuit {grid.short_circuit_mva:g} MVA",
        f"  declared demand {grid.declared_demand_kw:,.0f} kW (import cap {grid.import_cap_kw:,.0f} kW)",
        f"  export limit    {export}",
        f"  buses           {len(site.network.buses)} ({', '.join(f'{n} at {v}' for v, n in sorted(buses.items()))})",
        f"  lines           {len(site.network.lines)}, transformers {len(site.network.transformers)} "
        f"({sum(t.sn_kva for t in site.network.transformers):,.0f} kVA), switches {len(site.network.switches)} "
        f"({sum(not s.closed for s in site.network.switches)} open)",
        f"  tenants         {len(site.tenants)}",
    ]
    lines += [f"    - {t.id:<14} {t.name}" + (f" ({t.typical_load_kw:,.0f} kW typical)" if t.typical_load_kw else "") for t in site.tenants]
    kinds = {
        "PV plants": len(a.pv),
        "batteries": len(a.batteries),
        "heat pumps": len(a.heat_pumps),
        "flexible loads": len(a.flexible_loads),
        "EV depots" if len(a.ev_depots) != 1 else "EV depot": len(a.ev_depots),
    }
    lines += [
        "  assets          " + ", ".join(f"{n} {k}" for k, n in kinds.items() if n),
        f"  PV installed    {pv_kwp:,.0f} kWp ({pv_ac:,.0f} kW AC)",
        f"  storage         {st_kw:,.0f} kW / {st_kwh:,.0f} kWh",
        f"  heat pumps      {sum(h.p_el_max_kw for h in a.heat_pumps):,.0f} kWe, tanks "
        f"{sum(h.tank_capacity_kwh_th for h in a.heat_pumps):,.0f} kWh_th",
        f"  meters          {len(site.meters)}, Modbus devices {len(site.devices)}",
        f"  tariff          {site.tariff.name}"
        + (" (illustrative)" if site.tariff.illustrative and "illustrative" not in site.tariff.name else ""),
        f"  emission factor {site.emission_factor().kg_co2_per_kwh:g} kgCO2/kWh ({site.emission_factor().region} "
        f"{site.emission_factor().year}, {site.emission_factor().document})",
    ]
    return "\n".join(lines)
