"""Cross-field checks of a site: references, duplicates, tariff coverage, ratings, connectivity, files.

Each check returns ``path: what is wrong`` lines; :func:`check_site` runs them all so a user sees every
problem of a file at once.
"""

from __future__ import annotations

import csv
import importlib.util
from collections import defaultdict, deque
from collections.abc import Iterator
from functools import lru_cache
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from microgrid.site.metering import metering_problems
from microgrid.site.models import Site, minutes_of

DAY_MINUTES = 1440


def _fmt(value: float) -> str:
    return f"{value:g}"


@lru_cache(maxsize=1)
def known_register_maps() -> dict[str, str]:
    """Register-map name → its capability, from the files in ``drivers/maps`` (found without importing drivers)."""
    spec = importlib.util.find_spec("drivers")
    maps: dict[str, str] = {}
    for location in (spec.submodule_search_locations or []) if spec else []:
        for path in sorted((Path(location) / "maps").glob("*.yaml")):
            maps[path.stem] = _capability_of(path)
    return maps


def _capability_of(path: Path) -> str:
    """The top-level ``capability:`` value of a map file (read as text: the files are large)."""
    with path.open(encoding="utf-8") as handle:
        for line in handle:
            if line.startswith("capability:"):
                return line.split(":", 1)[1].split("#", 1)[0].strip()
    return ""


def _id_entries(site: Site) -> Iterator[tuple[str, str]]:
    """(path, id) of every element that shares the site's one id namespace."""
    groups = {
        "network.buses": site.network.buses,
        "network.lines": site.network.lines,
        "network.transformers": site.network.transformers,
        "network.switches": site.network.switches,
        "tenants": site.tenants,
        "assets.pv": site.assets.pv,
        "assets.batteries": site.assets.batteries,
        "assets.heat_pumps": site.assets.heat_pumps,
        "assets.flexible_loads": site.assets.flexible_loads,
        "assets.ev_depots": site.assets.ev_depots,
        "meters": site.meters,
        "devices": site.devices,
    }
    for path, items in groups.items():
        for i, item in enumerate(items):
            yield f"{path}[{i}].id", item.id


def check_unique_ids(site: Site) -> list[str]:
    first: dict[str, str] = {}
    problems = []
    for path, ident in _id_entries(site):
        if ident in first:
            problems.append(f"{path}: duplicate id '{ident}' (already used at {first[ident].removesuffix('.id')})")
        else:
            first[ident] = path
    factor_ids: set[str] = set()
    for i, factor in enumerate(site.emissions.factors):
        if factor.id in factor_ids:
            problems.append(f"emissions.factors[{i}].id: duplicate id '{factor.id}'")
        factor_ids.add(factor.id)
    return problems


def check_timezone(site: Site) -> list[str]:
    try:
        ZoneInfo(site.timezone)
    except (ZoneInfoNotFoundError, ValueError):
        return [f"site.location.timezone: unknown time zone '{site.timezone}' (use an IANA name such as Asia/Shanghai)"]
    return []


def check_references(site: Site) -> list[str]:
    buses = {b.id: b for b in site.network.buses}
    lines = {ln.id for ln in site.network.lines}
    trafos = {t.id: t for t in site.network.transformers}
    tenants = {t.id for t in site.tenants}
    assets = set(site.all_asset_ids())
    meters = {m.id for m in site.meters}
    problems: list[str] = []

    def need(path: str, value: str | None, known: set[str] | dict, what: str) -> bool:
        if value is not None and value not in known:
            problems.append(f"{path}: unknown {what} '{value}'")
            return False
        return True

    if need("grid.bus", site.grid.bus, buses, "bus") and abs(buses[site.grid.bus].vn_kv - site.grid.voltage_kv) > 1e-6:
        problems.append(
            f"grid.voltage_kv: {_fmt(site.grid.voltage_kv)} kV differs from bus '{site.grid.bus}' "
            f"({_fmt(buses[site.grid.bus].vn_kv)} kV)"
        )
    for i, bus in enumerate(site.network.buses):
        need(f"network.buses[{i}].tenant", bus.tenant, tenants, "tenant")
    for i, line in enumerate(site.network.lines):
        ok = need(f"network.lines[{i}].from_bus", line.from_bus, buses, "bus")
        ok &= need(f"network.lines[{i}].to_bus", line.to_bus, buses, "bus")
        if ok and buses[line.from_bus].vn_kv != buses[line.to_bus].vn_kv:
            problems.append(f"network.lines[{i}]: connects buses of different voltage ('{line.from_bus}', '{line.to_bus}')")
        if line.from_bus == line.to_bus:
            problems.append(f"network.lines[{i}].to_bus: must differ from from_bus")
    for i, trafo in enumerate(site.network.transformers):
        for side in ("hv", "lv"):
            bus_id = getattr(trafo, f"{side}_bus")
            rated = getattr(trafo, f"vn_{side}_kv")
            if need(f"network.transformers[{i}].{side}_bus", bus_id, buses, "bus") and abs(buses[bus_id].vn_kv - rated) > 0.05 * rated:
                problems.append(
                    f"network.transformers[{i}].vn_{side}_kv: {_fmt(rated)} kV does not match bus '{bus_id}' "
                    f"({_fmt(buses[bus_id].vn_kv)} kV)"
                )
        if trafo.vkr_percent >= trafo.vk_percent:
            problems.append(f"network.transformers[{i}].vkr_percent: must be below vk_percent ({_fmt(trafo.vk_percent)})")
    for i, sw in enumerate(site.network.switches):
        need(f"network.switches[{i}].bus", sw.bus, buses, "bus")
        if sw.kind == "bus":
            need(f"network.switches[{i}].element", sw.element, buses, "bus")
        elif need(f"network.switches[{i}].element", sw.element, lines, "line"):
            line = next(ln for ln in site.network.lines if ln.id == sw.element)
            if sw.bus not in (line.from_bus, line.to_bus):
                problems.append(f"network.switches[{i}].bus: line '{line.id}' does not end at bus '{sw.bus}'")
    for i, tenant in enumerate(site.tenants):
        need(f"tenants[{i}].bus", tenant.bus, buses, "bus")
        need(f"tenants[{i}].transformer", tenant.transformer, trafos, "transformer")
    for group in ("pv", "batteries", "heat_pumps", "flexible_loads", "ev_depots"):
        for i, asset in enumerate(getattr(site.assets, group)):
            need(f"assets.{group}[{i}].bus", asset.bus, buses, "bus")
            need(f"assets.{group}[{i}].tenant", asset.tenant, tenants, "tenant")
    for i, meter in enumerate(site.meters):
        need(f"meters[{i}].bus", meter.bus, buses, "bus")
        need(f"meters[{i}].tenant", meter.tenant, tenants, "tenant")
        need(f"meters[{i}].asset", meter.asset, assets, "asset")
        if meter.scope == "tenant" and meter.tenant is None:
            problems.append(f"meters[{i}].tenant: required for a tenant meter")
        if meter.scope == "asset" and meter.asset is None:
            problems.append(f"meters[{i}].asset: required for an asset meter")
    maps = known_register_maps()
    for i, device in enumerate(site.devices):
        need(f"devices[{i}].serves", device.serves, assets | meters, "asset or meter")
        if device.map not in maps:
            listed = ", ".join(sorted(maps)) or "none installed"
            problems.append(f"devices[{i}].map: unknown register map '{device.map}' (known: {listed})")
        elif maps[device.map] and maps[device.map] != device.role:
            problems.append(
                f"devices[{i}].role: '{device.role}' does not fit map '{device.map}', which is a "
                f"{maps[device.map]} device"
            )
    emission_ids = {f.id for f in site.emissions.factors}
    need("emissions.default", site.emissions.default, emission_ids, "emission factor")
    need("emissions.secondary", site.emissions.secondary, emission_ids, "emission factor")
    if sum(1 for m in site.meters if m.scope == "pcc") > 1:
        problems.append("meters: more than one meter has scope 'pcc'")
    return problems


def check_ratings(site: Site) -> list[str]:
    problems = []
    for i, bat in enumerate(site.assets.batteries):
        path = f"assets.batteries[{i}]"
        if bat.soc_min_pct >= bat.soc_max_pct:
            problems.append(f"{path}.soc_min_pct: must be below soc_max_pct ({_fmt(bat.soc_max_pct)})")
        elif not bat.soc_min_pct <= bat.soc_initial_pct <= bat.soc_max_pct:
            problems.append(
                f"{path}.soc_initial_pct: must lie between soc_min_pct ({_fmt(bat.soc_min_pct)}) "
                f"and soc_max_pct ({_fmt(bat.soc_max_pct)})"
            )
    for i, hp in enumerate(site.assets.heat_pumps):
        path = f"assets.heat_pumps[{i}]"
        if hp.tank_temp_min_c >= hp.tank_temp_max_c:
            problems.append(f"{path}.tank_temp_min_c: must be below tank_temp_max_c ({_fmt(hp.tank_temp_max_c)})")
        elif hp.tank_temp_initial_c is not None and not hp.tank_temp_min_c <= hp.tank_temp_initial_c <= hp.tank_temp_max_c:
            problems.append(f"{path}.tank_temp_initial_c: must lie between tank_temp_min_c and tank_temp_max_c")
        if hp.p_el_min_kw > hp.p_el_max_kw:
            problems.append(f"{path}.p_el_min_kw: must not exceed p_el_max_kw ({_fmt(hp.p_el_max_kw)})")
        if hp.cop.cop_min > hp.cop.cop_max:
            problems.append(f"{path}.cop.cop_min: must not exceed cop.cop_max ({_fmt(hp.cop.cop_max)})")
    for i, fl in enumerate(site.assets.flexible_loads):
        path = f"assets.flexible_loads[{i}]"
        if fl.p_min_kw > fl.p_max_kw:
            problems.append(f"{path}.p_min_kw: must not exceed p_max_kw ({_fmt(fl.p_max_kw)})")
        if fl.kind == "deferrable":
            missing = [f for f in ("energy_kwh", "window_start", "window_end") if getattr(fl, f) is None]
            for name in missing:
                problems.append(f"{path}.{name}: required for a deferrable load")
            if not missing:
                hours = _window_hours(fl.window_start, fl.window_end)
                if fl.energy_kwh > fl.p_max_kw * hours + 1e-9:
                    problems.append(
                        f"{path}.energy_kwh: {_fmt(fl.energy_kwh)} kWh cannot be served in the "
                        f"{_fmt(hours)} h window at p_max_kw {_fmt(fl.p_max_kw)} (at most {_fmt(fl.p_max_kw * hours)} kWh)"
                    )
        elif fl.baseline_profile is None:
            problems.append(f"{path}.baseline_profile: required for a {fl.kind} load")
        if fl.kind == "shiftable" and fl.max_shift_h == 0:
            problems.append(f"{path}.max_shift_h: must be above 0 for a shiftable load")
        if fl.kind == "curtailable" and fl.max_curtail_pct == 0:
            problems.append(f"{path}.max_curtail_pct: must be above 0 for a curtailable load")
    for i, ev in enumerate(site.assets.ev_depots):
        hours = _window_hours(ev.arrival, ev.departure)
        deliverable = ev.p_max_kw * hours * ev.eta_charge
        if ev.energy_kwh > deliverable + 1e-9:
            problems.append(
                f"assets.ev_depots[{i}].energy_kwh: {_fmt(ev.energy_kwh)} kWh cannot be delivered between "
                f"{ev.arrival} and {ev.departure} by {ev.n_chargers} x {_fmt(ev.charger_kw)} kW chargers "
                f"(at most {_fmt(round(deliverable, 1))} kWh)"
            )
    for i, pv in enumerate(site.assets.pv):
        if pv.inverter_ac_kw > 2 * pv.kwp:
            problems.append(f"assets.pv[{i}].inverter_ac_kw: {_fmt(pv.inverter_ac_kw)} kW is more than twice the {_fmt(pv.kwp)} kWp array")
    grid = site.grid
    if grid.import_limit_kw is not None and grid.import_limit_kw > grid.declared_demand_kw * 2:
        problems.append("grid.import_limit_kw: more than twice declared_demand_kw; check the units (kW)")
    return problems


def _window_hours(start: str, end: str) -> float:
    """Length of a local-time window in hours; an end before the start means the next day."""
    minutes = (minutes_of(end) - minutes_of(start)) % DAY_MINUTES
    return (minutes or DAY_MINUTES) / 60


def check_transformer_capacity(site: Site) -> list[str]:
    """PV and storage on a transformer's LV bus must not exceed its rating when the load is zero (PF 1)."""
    trafo_by_lv = {t.lv_bus: t for t in site.network.transformers}
    injection: dict[str, float] = defaultdict(float)
    first_path: dict[str, str] = {}
    for i, pv in enumerate(site.assets.pv):
        injection[pv.bus] += pv.inverter_ac_kw
        first_path.setdefault(pv.bus, f"assets.pv[{i}].inverter_ac_kw")
    for i, bat in enumerate(site.assets.batteries):
        injection[bat.bus] += bat.p_discharge_max_kw
        first_path.setdefault(bat.bus, f"assets.batteries[{i}].p_discharge_max_kw")
    problems = []
    for bus_id, p_kw in injection.items():
        trafo = trafo_by_lv.get(bus_id)
        if trafo is None:
            continue
        limit_kva = trafo.sn_kva * trafo.max_loading_pct / 100
        if p_kw > limit_kva + 1e-9:
            problems.append(
                f"{first_path[bus_id]}: PV and storage on bus '{bus_id}' can inject {_fmt(p_kw)} kW, more than "
                f"transformer '{trafo.id}' carries ({_fmt(limit_kva)} kVA)"
            )
    return problems


def check_connectivity(site: Site) -> list[str]:
    """Every bus must reach the grid bus through lines, transformers and closed switches."""
    graph: dict[str, set[str]] = defaultdict(set)
    open_lines = {sw.element for sw in site.network.switches if sw.kind == "line" and not sw.closed}

    def link(a: str, b: str) -> None:
        graph[a].add(b)
        graph[b].add(a)

    for line in site.network.lines:
        if line.id not in open_lines:
            link(line.from_bus, line.to_bus)
    for trafo in site.network.transformers:
        link(trafo.hv_bus, trafo.lv_bus)
    for sw in site.network.switches:
        if sw.kind == "bus" and sw.closed:
            link(sw.bus, sw.element)
    reached = {site.grid.bus}
    queue = deque([site.grid.bus])
    while queue:
        for nxt in graph[queue.popleft()] - reached:
            reached.add(nxt)
            queue.append(nxt)
    return [
        f"network.buses[{i}]: bus '{bus.id}' is not connected to the grid bus '{site.grid.bus}'"
        for i, bus in enumerate(site.network.buses)
        if bus.id not in reached
    ]


def check_devices(site: Site) -> list[str]:
    seen: dict[tuple[str, int, int], int] = {}
    problems = []
    for i, dev in enumerate(site.devices):
        key = (dev.host, dev.port, dev.unit_id)
        if key in seen:
            problems.append(
                f"devices[{i}]: same endpoint {dev.host}:{dev.port} unit {dev.unit_id} as devices[{seen[key]}] ('{site.devices[seen[key]].id}')"
            )
        else:
            seen[key] = i
    return problems


def check_tariff(site: Site) -> list[str]:
    tariff = site.tariff
    problems = []
    month_owner: dict[int, int] = {}
    for s, season in enumerate(tariff.seasons):
        for month in season.months:
            if month in month_owner:
                problems.append(f"tariff.seasons[{s}].months: month {month} is already in tariff.seasons[{month_owner[month]}]")
            month_owner[month] = s
        spans = sorted((minutes_of(w.start), minutes_of(w.end), w_i) for w_i, w in enumerate(season.windows))
        cursor = 0
        for start, end, w_i in spans:
            path = f"tariff.seasons[{s}].windows[{w_i}]"
            if end <= start:
                problems.append(f"{path}: end {season.windows[w_i].end} must be after start {season.windows[w_i].start}")
                continue
            if start > cursor:
                problems.append(f"tariff.seasons[{s}].windows: {_hhmm(cursor)}–{_hhmm(start)} is not covered by any period")
            elif start < cursor:
                problems.append(f"{path}: overlaps an earlier window ({_hhmm(start)}–{_hhmm(min(cursor, end))} covered twice)")
            cursor = max(cursor, end)
        if cursor < DAY_MINUTES:
            problems.append(f"tariff.seasons[{s}].windows: {_hhmm(cursor)}–24:00 is not covered by any period")
        for w_i, window in enumerate(season.windows):
            if window.period not in tariff.prices_cny_per_kwh:
                problems.append(f"tariff.seasons[{s}].windows[{w_i}].period: no price for '{window.period}' in tariff.prices_cny_per_kwh")
    missing = [m for m in range(1, 13) if m not in month_owner]
    if missing:
        problems.append(f"tariff.seasons: months {missing} are in no season (every month needs exactly one)")
    if tariff.basic_charge == "demand" and tariff.demand_charge_cny_per_kw_month == 0:
        problems.append("tariff.demand_charge_cny_per_kw_month: required (> 0) when basic_charge is 'demand'")
    if tariff.basic_charge == "capacity" and tariff.capacity_charge_cny_per_kva_month == 0:
        problems.append("tariff.capacity_charge_cny_per_kva_month: required (> 0) when basic_charge is 'capacity'")
    return problems


def _hhmm(minutes: int) -> str:
    return f"{minutes // 60:02d}:{minutes % 60:02d}"


def required_profile_columns(site: Site) -> dict[str, str]:
    """Profile column → the site path that needs it."""
    needed = {"ghi_w_m2": "profiles", "dni_w_m2": "profiles", "dhi_w_m2": "profiles", "temp_air_c": "profiles"}
    for i, tenant in enumerate(site.tenants):
        needed[f"load_{tenant.id}_kw"] = f"tenants[{i}]"
    for i, hp in enumerate(site.assets.heat_pumps):
        needed[hp.heat_demand_profile] = f"assets.heat_pumps[{i}].heat_demand_profile"
    for i, fl in enumerate(site.assets.flexible_loads):
        if fl.baseline_profile:
            needed[fl.baseline_profile] = f"assets.flexible_loads[{i}].baseline_profile"
    return needed


def check_profiles(site: Site) -> list[str]:
    base = Path(site.base_dir or ".") / site.profiles.dir
    problems = []
    needed = required_profile_columns(site)
    for day_type, name in site.profiles.days.items():
        path = base / name
        if not path.is_file():
            problems.append(f"profiles.days.{day_type}: file not found: {path} (run site_configs/generate_profiles.py)")
            continue
        with path.open(encoding="utf-8", newline="") as handle:
            header = next(csv.reader(handle), [])
        for column, owner in needed.items():
            if column not in header:
                problems.append(f"{owner}: profile column '{column}' missing in {path.name}")
    if set(site.profiles.days) != {"summer_weekday", "winter_weekday", "weekend"}:
        missing = sorted({"summer_weekday", "winter_weekday", "weekend"} - set(site.profiles.days))
        problems.append(f"profiles.days: missing day types {missing}")
    return problems


def check_metering(site: Site) -> list[str]:
    """Meter layout (:func:`microgrid.site.metering.metering_problems`), once the references are sound."""
    if check_references(site) or check_connectivity(site):
        return []
    return metering_problems(site)


CHECKS = (
    check_unique_ids,
    check_timezone,
    check_references,
    check_ratings,
    check_transformer_capacity,
    check_connectivity,
    check_metering,
    check_devices,
    check_tariff,
    check_profiles,
)


def check_site(site: Site) -> list[str]:
    """Run every cross-field check; an empty list means the site is usable."""
    problems: list[str] = []
    for check in CHECKS:
        problems.extend(check(site))
    return problems
