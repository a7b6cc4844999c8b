"""Human-readable summary of a validated site (what ``microgrid validate`` prints)."""

from __future__ import annotations

from collections import Counter

from microgrid.i18n import t
from microgrid.site.models import Site


def _row(label: str, text: str) -> str:
    """``  label   text`` with the text in column 18 (a CJK character is two columns wide)."""
    width = sum(2 if ord(ch) > 0x2E80 else 1 for ch in label)
    return f"  {label}{' ' * max(1, 16 - width)}{text}"


def site_summary(site: Site, lang: str = "en") -> str:
    """Multi-line text: buses, tenants, assets by kind, PV kWp, storage kW/kWh, demand and export limits."""
    def L(key: str, **params: object) -> str:  # noqa: N802 - reads like the label it is
        return t(key, lang, **params)

    a = site.assets
    buses = Counter(f"{b.vn_kv:g} kV" for b in site.network.buses)
    pv_kwp = sum(p.kwp for p in a.pv)
    pv_ac = sum(p.inverter_ac_kw for p in a.pv)
    st_kw = sum(b.p_discharge_max_kw for b in a.batteries)
    st_kwh = sum(b.e_kwh for b in a.batteries)
    grid = site.grid
    export = L("sum.zero_export") if grid.export_limit_kw == 0 else f"{grid.export_limit_kw:,.0f} kW"
    zh = lang != "en"
    name = site.site.name_zh if zh and site.site.name_zh else site.site.name
    if not zh and site.site.name_zh:
        name += f" ({site.site.name_zh})"
    at = "@" if zh else "at"
    lines = [
        L("sum.site", id=site.site.id, name=name),
        _row(L("sum.location"), f"{site.site.location.latitude_deg:.2f} N, {site.site.location.longitude_deg:.2f} E, "
             f"{site.site.location.altitude_m:g} m, {site.timezone}"),
        _row(L("sum.grid"), L("sum.grid_text", kv=f"{grid.voltage_kv:g}", bus=grid.bus,
                              mva=f"{grid.short_circuit_mva:g}")),
        _row(L("sum.demand"), L("sum.demand_text", kw=f"{grid.declared_demand_kw:,.0f}",
                                cap=f"{grid.import_cap_kw:,.0f}")),
        _row(L("sum.export"), export),
        _row(L("sum.buses"), f"{len(site.network.buses)} ("
             + ", ".join(f"{n} {at} {v}" for v, n in sorted(buses.items())) + ")"),
        _row(L("sum.lines"), L("sum.lines_text", lines=len(site.network.lines), trafos=len(site.network.transformers),
                               kva=f"{sum(t.sn_kva for t in site.network.transformers):,.0f}",
                               switches=len(site.network.switches),
                               open=sum(not s.closed for s in site.network.switches))),
        _row(L("sum.tenants"), str(len(site.tenants))),
    ]
    sep = "，" if zh else ", "
    lines += [f"    - {t_.id:<14} {t_.name_zh if zh and t_.name_zh else t_.name}" + (f" ({L('sum.typical', kw=f'{t_.typical_load_kw:,.0f}')})"
                                                if t_.typical_load_kw else "") for t_ in site.tenants]
    kinds = {
        L("sum.kind.pv"): len(a.pv),
        L("sum.kind.battery"): len(a.batteries),
        L("sum.kind.heat_pump"): len(a.heat_pumps),
        L("sum.kind.flexible"): len(a.flexible_loads),
        ("EV depot" if not zh and len(a.ev_depots) == 1 else L("sum.kind.ev_depot")): len(a.ev_depots),
    }
    factor = site.emission_factor()
    lines += [
        _row(L("sum.assets"), sep.join(f"{n} {k}" for k, n in kinds.items() if n)),
        _row(L("sum.pv"), f"{pv_kwp:,.0f} kWp ({pv_ac:,.0f} kW AC)"),
        _row(L("sum.storage"), f"{st_kw:,.0f} kW / {st_kwh:,.0f} kWh"),
        _row(L("sum.heat_pumps"), L("sum.heat_pumps_text", kwe=f"{sum(h.p_el_max_kw for h in a.heat_pumps):,.0f}",
                                    kwh=f"{sum(h.tank_capacity_kwh_th for h in a.heat_pumps):,.0f}")),
        _row(L("sum.meters"), L("sum.meters_text", meters=len(site.meters), devices=len(site.devices))),
        _row(L("sum.tariff"), site.tariff.name + (" " + L("sum.illustrative") if site.tariff.illustrative
                                                  and "illustrative" not in site.tariff.name else "")),
        _row(L("sum.factor"), f"{factor.kg_co2_per_kwh:g} kgCO2/kWh ({factor.region} {factor.year}, {factor.document})"),
    ]
    return "\n".join(lines)
