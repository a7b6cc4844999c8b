"""Draw a park's shape from a seed, lay out its network and devices, write ``site.yaml`` and profiles.

The weather and load-shape helpers are the bundled sites' own (``site_configs/generate_profiles.py``), so
generated profiles look like the reference park's; only the park layout and sizes are drawn here.
"""

from __future__ import annotations

import importlib.util
import math
import sys
from dataclasses import asdict, dataclass, field, fields, replace
from datetime import date
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import yaml

_PROFILES_SCRIPT = Path(__file__).resolve().parents[2] / "site_configs" / "generate_profiles.py"


def _profiles_module():
    """``site_configs/generate_profiles.py`` as a module (it is a script, not a package)."""
    name = "_sitegen_generate_profiles"
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, _PROFILES_SCRIPT)
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
    return sys.modules[name]


STORAGE_MAPS: dict[str, tuple[float, float]] = {
    # map (or PCS map of a PCS+BMS pair) -> (min, max) AC power rating in kW the generator draws for it,
    # inside what the map's setpoint registers can command.
    "sunspec_battery": (50.0, 3000.0),  # 704 WSet: i32 W with a scale factor
    "cn_pcs": (100.0, 3000.0),  # p_set_kw: i16 in 0.1 kW, documented range ±3000 kW; paired with cn_bms
    "sungrow_sh": (50.0, 65.0),  # charge_power_w: u16 in W, so at most 65,535 W
}
"""Every storage map the project ships, with the battery ratings generated for it."""

PV_MAPS = ("sunspec_inverter", "sungrow_sg", "huawei_sun2000_smartlogger")
FLEX_KINDS = ("shiftable", "curtailable", "deferrable")
KVA_SIZES = (315, 400, 500, 630, 800, 1000, 1250, 1600, 2000, 2500, 3150)
VALLEY_CNY = 0.3554
CABLE_240 = "NA2XS2Y 1x240 RM/25 6/10 kV"
CABLE_KVA = 7000.0  # ~0.42 kA at 10 kV per circuit; more tenant kVA on a feeder gets parallel circuits
CABLE_LV = "NAYY 4x150 SE"
METER_POINTS = ("bus", "transformer", "mixed")


@dataclass(frozen=True)
class Shape:
    """Everything drawn from the seed; each field may be overridden by a keyword of ``generate_site``."""

    site_id: str
    n_feeders: int
    """1–3 radial 10 kV feeders from the PCC bus."""
    tenant_load_kw: tuple[float, ...]
    """Typical daytime base load per tenant, kW (1–8 tenants)."""
    two_transformers: tuple[bool, ...]
    """Per tenant: behind two transformers (second LV bus carries its heat pump / flexible loads)."""
    pv_kwp: tuple[float, ...]
    """Per tenant rooftop PV, kWp (0 = none)."""
    storage_maps: tuple[str, ...]
    """One entry per battery: a key of :data:`STORAGE_MAPS`."""
    battery_kw: tuple[float, ...]
    """Per battery AC power rating (charge = discharge), kW; must lie in its map's range."""
    battery_hours: tuple[float, ...]
    """Per battery energy / power, h."""
    heat_pump_kw: tuple[float, ...]
    """Electric rating of each heat pump, kW (one per tenant from the first)."""
    ev_chargers: int
    """Chargers in the EV depot (0 = no depot)."""
    ev_charger_kw: float
    flex_kinds: tuple[str, ...]
    """Flexible loads, one per entry, placed round-robin on the tenants."""
    export_limit_kw: float
    """0 = zero export; otherwise the PCC export limit, kW (feed-in then priced above the valley)."""
    feed_in_cny_per_kwh: float
    cap_shave_frac: float
    """Share of the storage's afternoon capability by which the import cap sits below the afternoon peak."""
    declared_ratio: float
    """Import cap / declared demand (≥ 1)."""
    profile_seed: int
    extra: dict[str, Any] = field(default_factory=dict)
    tenant_meters: tuple[int, ...] = ()
    """Meters per tenant, 1–3 (empty: one per LV bus). 2 or 3 put the tenant behind two transformers; 3 splits
    the second LV bus into two sub-feeders (cables from it), each with a feeder meter, its loads on them."""
    meter_points: str = "bus"
    """Where tenant meters sit: ``bus`` (on the LV bus), ``transformer`` (on the transformer, HV side) or
    ``mixed`` (alternating)."""
    shared_pv_kwp: float = 0.0
    """A shared PV plant (``shared: true``) of this size on the first tenant's LV bus, behind its meter."""


def draw_shape(seed: int) -> Shape:
    """The park shape for ``seed`` (every seed gives a valid site)."""
    rng = np.random.default_rng([20261207, seed])
    n_tenants = int(rng.integers(1, 9))
    loads = tuple(float(round(rng.uniform(120, 1500), -1)) for _ in range(n_tenants))
    two = tuple(bool(rng.random() < 0.3) for _ in range(n_tenants))
    pv = tuple(float(round(rng.uniform(0.4, 1.1) * load, -1)) if rng.random() < 0.85 else 0.0 for load in loads)
    n_bat = int(rng.integers(1, 4))
    maps = list(STORAGE_MAPS)
    first = maps[seed % len(maps)]  # seeds in a row cycle through every storage map
    storage = tuple([first] + [maps[int(rng.integers(0, len(maps)))] for _ in range(n_bat - 1)])
    bat_kw = []
    for name in storage:
        lo, hi = STORAGE_MAPS[name]
        # log-uniform so small and MW-class batteries both appear
        bat_kw.append(float(round(math.exp(rng.uniform(math.log(lo), math.log(hi))), 0)))
    hours = tuple(float(rng.choice([1.0, 2.0, 2.0, 4.0])) for _ in storage)
    n_hp = int(rng.integers(1, min(n_tenants, 2) + 1))
    hp_kw = tuple(float(round(rng.uniform(50, 400), -1)) for _ in range(n_hp))
    ev_kw = float(rng.choice([30.0, 60.0, 120.0]))
    ev_chargers = int(rng.integers(2, max(3, min(13, int(0.4 * sum(loads) / ev_kw)) + 1)))
    kinds = list(FLEX_KINDS) + [FLEX_KINDS[int(rng.integers(0, 3))] for _ in range(int(rng.integers(0, 3)))]
    export = 0.0 if rng.random() < 0.5 else float(round(rng.uniform(50, 800), -1))
    feed_in = 0.0 if export == 0 else float(round(rng.uniform(VALLEY_CNY + 0.02, 0.45), 3))
    return Shape(
        site_id=f"gen_{seed}",
        n_feeders=int(rng.integers(1, 4)),
        tenant_load_kw=loads,
        two_transformers=two,
        pv_kwp=pv,
        storage_maps=storage,
        battery_kw=tuple(bat_kw),
        battery_hours=hours,
        heat_pump_kw=hp_kw,
        ev_chargers=ev_chargers,
        ev_charger_kw=ev_kw,
        flex_kinds=tuple(kinds),
        export_limit_kw=export,
        feed_in_cny_per_kwh=feed_in,
        cap_shave_frac=float(rng.uniform(0.4, 0.8)),
        declared_ratio=float(rng.uniform(1.0, 1.15)),
        profile_seed=int(rng.integers(0, 2**31)),
    )


def _with_overrides(shape: Shape, overrides: dict[str, Any]) -> Shape:
    known = {f.name for f in fields(Shape)}
    unknown = sorted(set(overrides) - known)
    if unknown:
        raise TypeError(f"generate_site: unknown override(s) {unknown}; known: {sorted(known)}")
    fixed = {k: tuple(v) if isinstance(v, list) else v for k, v in overrides.items()}
    n = len(fixed.get("tenant_load_kw", shape.tenant_load_kw))
    shape = replace(shape, **fixed)
    # keep per-tenant tuples the length of the tenant list when only the loads were overridden
    for name in ("two_transformers", "pv_kwp"):
        values = getattr(shape, name)
        if len(values) != n:
            shape = replace(shape, **{name: tuple((list(values) * n)[:n]) if values else (0,) * n})
    if shape.tenant_meters:
        meters = tuple((list(shape.tenant_meters) * n)[:n])
        if not all(1 <= k <= 3 for k in meters):
            raise ValueError("generate_site: tenant_meters must be 1, 2 or 3 per tenant")
        two = tuple(bool(t) or k >= 2 for t, k in zip(shape.two_transformers, meters, strict=True))
        meters = tuple(max(k, 2) if t else k for t, k in zip(two, meters, strict=True))
        shape = replace(shape, tenant_meters=meters, two_transformers=two)
    if shape.meter_points not in METER_POINTS:
        raise ValueError(f"generate_site: meter_points must be one of {METER_POINTS}")
    if len(shape.battery_kw) != len(shape.storage_maps):
        raise ValueError("generate_site: battery_kw needs one rating per entry of storage_maps")
    if len(shape.battery_hours) != len(shape.storage_maps):
        shape = replace(shape, battery_hours=tuple((list(shape.battery_hours) * len(shape.storage_maps))[: len(shape.storage_maps)]))
    for name, kw in zip(shape.storage_maps, shape.battery_kw, strict=True):
        lo, hi = STORAGE_MAPS[name]
        if not lo <= kw <= hi:
            raise ValueError(f"generate_site: {kw} kW battery outside the {lo}-{hi} kW the map {name} is generated for")
    return shape


def _kva_for(kw: float) -> float:
    """Smallest standard transformer rating with 25 % headroom over ``kw``."""
    need = kw * 1.25
    return float(next((s for s in KVA_SIZES if s >= need), KVA_SIZES[-1] * math.ceil(need / KVA_SIZES[-1])))


def _ct_ratio(kva: float, kv: float) -> float:
    """CT ratio (primary / 5 A) for the rated current with 10 % headroom, rounded up to 10 A primary steps."""
    amps = kva * 1.1 / (math.sqrt(3) * kv)
    return float(math.ceil(amps / 50) * 10)


@dataclass
class _Layout:
    """The site mapping under construction plus the profile shapes it needs."""

    buses: list = field(default_factory=list)
    lines: list = field(default_factory=list)
    trafos: list = field(default_factory=list)
    tenants: list = field(default_factory=list)
    pv: list = field(default_factory=list)
    batteries: list = field(default_factory=list)
    heat_pumps: list = field(default_factory=list)
    flex: list = field(default_factory=list)
    ev: list = field(default_factory=list)
    meters: list = field(default_factory=list)
    devices: list = field(default_factory=list)
    shapes: dict = field(default_factory=dict)
    lv_bus_kw: dict = field(default_factory=dict)
    """LV bus -> kW of PV + battery injection, for sizing its transformer."""


def _tenant_shape(pm, load_kw: float, rng: np.random.Generator):
    """A tenant base load: night base plus a day plateau, highest in the afternoon (``load_kw``)."""
    base = load_kw * rng.uniform(0.15, 0.35)
    start = float(rng.choice([6.0, 7.0, 8.0]))
    end = float(rng.choice([20.0, 21.0]))
    return pm._shape(base, [(start, end, (load_kw - base) * 0.6), (15.0, 20.0, (load_kw - base) * 0.4)],
                     weekend=(base, [(8.0, 16.0, (load_kw - base) * 0.3)]), noise=0.03)


def _layout(shape: Shape) -> _Layout:
    pm = _profiles_module()
    rng = np.random.default_rng([shape.profile_seed, 1])
    out = _Layout()
    out.buses.append({"id": "pcc_10kv", "vn_kv": 10, "name": "10 kV switching station (PCC)"})
    n_t = len(shape.tenant_load_kw)
    feeders = [[] for _ in range(shape.n_feeders)]
    for t in range(n_t):
        feeders[t % shape.n_feeders].append(t)
    rmu_of: dict[int, str] = {}
    for f, members in enumerate(feeders):
        prev = "pcc_10kv"
        for k, t in enumerate(members):
            bus = f"f{f + 1}_rmu{k + 1}"
            out.buses.append({"id": bus, "vn_kv": 10, "name": f"feeder {f + 1} ring main unit {k + 1}"})
            out.lines.append({"id": f"cable_{prev}_{bus}", "from_bus": prev, "to_bus": bus, "std_type": CABLE_240,
                              "length_km": round(float(rng.uniform(0.2, 1.0)), 2), "_feeder": f})
            rmu_of[t] = bus
            prev = bus
    for t, load_kw in enumerate(shape.tenant_load_kw):
        tid = f"t{t + 1}"
        lv = f"{tid}_lv"
        out.buses.append({"id": lv, "vn_kv": 0.4, "name": f"tenant {t + 1} 0.4 kV", "tenant": tid})
        lvs = [lv]
        if shape.two_transformers[t]:
            out.buses.append({"id": f"{tid}_lv2", "vn_kv": 0.4, "name": f"tenant {t + 1} 0.4 kV (second)", "tenant": tid})
            lvs.append(f"{tid}_lv2")
        out.tenants.append({"id": tid, "name": f"Generated tenant {t + 1}", "industry": "generated", "bus": lv,
                            "transformer": f"tx_{tid}", "typical_load_kw": load_kw, "_rmu": rmu_of[t], "_lvs": lvs})
        out.shapes[f"load_{tid}_kw"] = _tenant_shape(pm, load_kw, rng)
        out.lv_bus_kw[lv] = load_kw
        if shape.pv_kwp[t] > 0:
            kwp = shape.pv_kwp[t]
            out.pv.append({"id": f"pv_{tid}", "tenant": tid, "bus": lv, "kwp": kwp, "inverter_ac_kw": round(kwp * 0.83, 1),
                           "tilt_deg": float(rng.choice([5, 10, 15, 20])), "azimuth_deg": float(rng.choice([160, 180, 200]))})
    _add_batteries(shape, out, rng)
    _add_heat_pumps(shape, out, rng, pm)
    _add_flex(shape, out, rng, pm)
    _add_ev(shape, out, rng)
    _add_transformers(out)
    _split_for_feeder_meters(shape, out)
    if shape.shared_pv_kwp > 0 and out.tenants:
        kwp = shape.shared_pv_kwp
        out.pv.append({"id": "pv_shared", "shared": True, "bus": out.tenants[0]["bus"], "kwp": kwp,
                       "inverter_ac_kw": round(kwp * 0.83, 1), "tilt_deg": 10.0, "azimuth_deg": 180.0})
    _add_meters_and_devices(shape, out)
    return out


def _split_for_feeder_meters(shape: Shape, out: _Layout) -> None:
    """Tenants with three meters: the second LV bus feeds two sub-buses through cables; its loads move there."""
    for i, t in enumerate(out.tenants):
        if not shape.tenant_meters or shape.tenant_meters[i] < 3:
            continue
        lv2 = t["_lvs"][-1]
        subs = []
        for j in (1, 2):
            sub = f"{t['id']}_sub{j}"
            out.buses.append({"id": sub, "vn_kv": 0.4, "name": f"tenant {t['id']} sub-feeder {j}", "tenant": t["id"]})
            out.lines.append({"id": f"cable_{t['id']}_sub{j}", "from_bus": lv2, "to_bus": sub, "std_type": CABLE_LV,
                              "length_km": 0.05, "parallel": 2})
            subs.append(sub)
        t["_subs"] = subs
        moved = [a for group in (out.heat_pumps, out.flex, out.ev, out.pv, out.batteries) for a in group
                 if a["bus"] == lv2]
        for k, asset in enumerate(moved):
            asset["bus"] = subs[k % 2]


def _add_batteries(shape: Shape, out: _Layout, rng: np.random.Generator) -> None:
    n_t = len(out.tenants)
    for b, (name, kw, hours) in enumerate(zip(shape.storage_maps, shape.battery_kw, shape.battery_hours, strict=True)):
        bid = f"bat_{b + 1}"
        if kw > 1000 or n_t == 0:  # MW-class storage: shared, in its own 10 kV bay
            bus, tenant = f"ess{b + 1}_10kv", None
            out.buses.append({"id": bus, "vn_kv": 10, "name": f"shared storage {b + 1} 10 kV bay"})
            out.lines.append({"id": f"cable_pcc_{bus}", "from_bus": "pcc_10kv", "to_bus": bus, "std_type": CABLE_240,
                              "length_km": 0.1, "parallel": max(1, math.ceil(kw / CABLE_KVA))})
        else:
            t = out.tenants[b % n_t]
            bus, tenant = t["bus"], t["id"]
        eta = round(float(rng.uniform(0.93, 0.96)), 3)
        entry = {"id": bid, "bus": bus, "p_charge_max_kw": kw, "p_discharge_max_kw": kw, "e_kwh": round(kw * hours, 1),
                 "soc_min_pct": 10, "soc_max_pct": 95, "soc_initial_pct": float(round(rng.uniform(30, 70))),
                 "eta_charge": eta, "eta_discharge": eta, "throughput_cost_cny_per_kwh": 0.03,
                 "ramp_kw_per_s": round(max(kw / 10, 10.0), 1), "_map": name}
        if tenant:
            entry["tenant"] = tenant
        out.batteries.append(entry)


def _add_heat_pumps(shape: Shape, out: _Layout, rng: np.random.Generator, pm) -> None:
    for h, kw in enumerate(shape.heat_pump_kw):
        t = out.tenants[h % len(out.tenants)]
        supply = float(rng.choice([55.0, 65.0, 75.0]))
        cop_min = 1.8
        hp_id = f"hp_{h + 1}"
        column = f"heat_{hp_id}_kw_th"
        peak_th = kw * cop_min * rng.uniform(0.35, 0.6)  # heat drawn stays well inside what the pump can make
        out.shapes[column] = pm._shape(peak_th * 0.2, [(7.0, 20.0, peak_th * 0.8)], weekend=(peak_th * 0.2, [(8.0, 17.0, peak_th * 0.2)]), noise=0.04)
        volume = round(kw * cop_min * rng.uniform(1.5, 3.0) / (1.163 * 20), 1)  # 1.5–3 h of full output over 20 K
        out.heat_pumps.append({
            "id": hp_id, "tenant": t["id"], "bus": t["_lvs"][-1], "p_el_max_kw": kw,
            "p_el_min_kw": round(kw * 0.2, 1) if h % 2 else 0.0,  # every other pump has a minimum load
            "cop": {"model": "carnot", "eta_carnot": 0.45, "supply_temp_c": supply, "cop_min": cop_min, "cop_max": 5.0},
            "tank_volume_m3": max(volume, 2.0), "tank_temp_min_c": supply - 20, "tank_temp_max_c": supply,
            "tank_temp_initial_c": supply - 10, "tank_loss_pct_per_h": 0.5, "heat_demand_profile": column,
        })


def _add_flex(shape: Shape, out: _Layout, rng: np.random.Generator, pm) -> None:
    for i, kind in enumerate(shape.flex_kinds):
        t = out.tenants[i % len(out.tenants)]
        fid = f"{kind[:5]}_{i + 1}"
        p_max = float(round(rng.uniform(40, 300), -1))
        entry: dict[str, Any] = {"id": fid, "tenant": t["id"], "bus": t["_lvs"][-1], "kind": kind, "name": f"generated {kind} load", "p_max_kw": p_max}
        if kind == "deferrable":
            start = int(rng.integers(6, 11))
            length = int(rng.integers(6, 12))
            entry.update(energy_kwh=round(p_max * length * rng.uniform(0.25, 0.5), 0),
                         window_start=f"{start:02d}:00", window_end=f"{start + length:02d}:00")
        else:
            column = f"flex_{fid}_kw"
            level = p_max * rng.uniform(0.45, 0.7)
            out.shapes[column] = pm._shape(level * 0.2, [(8.0, 19.0, level * 0.8)], weekend=(level * 0.2, [(9.0, 16.0, level * 0.3)]), noise=0.04)
            entry["baseline_profile"] = column
            if kind == "shiftable":
                entry["max_shift_h"] = float(rng.choice([1.0, 2.0, 3.0]))
            else:
                entry.update(max_curtail_pct=float(rng.choice([20, 30, 50])), penalty_cny_per_kwh=round(float(rng.uniform(0.8, 2.0)), 2))
        out.flex.append(entry)


def _add_ev(shape: Shape, out: _Layout, rng: np.random.Generator) -> None:
    if shape.ev_chargers <= 0:
        return
    t = out.tenants[-1]
    arrival, departure = int(rng.integers(17, 21)), int(rng.integers(6, 9))
    hours = (departure - arrival) % 24
    p_max = shape.ev_chargers * shape.ev_charger_kw
    energy = round(p_max * hours * 0.95 * rng.uniform(0.3, 0.6), 0)
    out.ev.append({"id": "ev_depot", "tenant": t["id"], "bus": t["bus"], "n_chargers": shape.ev_chargers,
                   "charger_kw": shape.ev_charger_kw, "energy_kwh": energy, "arrival": f"{arrival:02d}:00",
                   "departure": f"{departure:02d}:00", "eta_charge": 0.95})


def _add_transformers(out: _Layout) -> None:
    """One transformer per LV bus, sized for its load (and the injection of PV and storage there)."""
    demand: dict[str, float] = {}
    inject: dict[str, float] = {}
    for t in out.tenants:
        for lv in t["_lvs"]:
            demand[lv] = t["typical_load_kw"] if lv == t["bus"] else 0.0
            inject[lv] = 0.0
    for group, key in ((out.heat_pumps, "p_el_max_kw"), (out.flex, "p_max_kw")):
        for a in group:
            demand[a["bus"]] += a[key]
    for ev in out.ev:
        demand[ev["bus"]] += ev["n_chargers"] * ev["charger_kw"]
    for pv in out.pv:
        inject[pv["bus"]] += pv["inverter_ac_kw"]
    for bat in out.batteries:
        if bat["bus"] in inject:
            inject[bat["bus"]] += bat["p_discharge_max_kw"]
            demand[bat["bus"]] += bat["p_charge_max_kw"]
    feeder_kva: dict[str, float] = {}
    for t in out.tenants:
        for n, lv in enumerate(t["_lvs"]):
            kva = _kva_for(max(demand[lv], inject[lv], 100.0))
            tx = f"tx_{t['id']}" if n == 0 else f"tx_{t['id']}_2"
            out.trafos.append({"id": tx, "hv_bus": t["_rmu"], "lv_bus": lv, "sn_kva": kva, "vn_hv_kv": 10, "vn_lv_kv": 0.4,
                               "vector_group": "Dyn11", "vk_percent": 6.0, "vkr_percent": 0.75, "pfe_kw": round(kva * 0.0011, 2),
                               "i0_percent": 0.4})
            feeder_kva[t["_rmu"]] = feeder_kva.get(t["_rmu"], 0.0) + kva
    # a feeder cable carries every transformer downstream of it
    for line in out.lines:
        if "_feeder" not in line:
            continue
        downstream = [ln["to_bus"] for ln in out.lines if ln.get("_feeder") == line["_feeder"]]
        idx = downstream.index(line["to_bus"])
        kva = sum(feeder_kva.get(bus, 0.0) for bus in downstream[idx:])
        line["parallel"] = max(1, math.ceil(kva / CABLE_KVA))


def _add_meters_and_devices(shape: Shape, out: _Layout) -> None:
    total_kva = sum(t["sn_kva"] for t in out.trafos) + sum(b["p_discharge_max_kw"] for b in out.batteries if b["bus"].startswith("ess"))
    out.meters.append({"id": "meter_pcc", "scope": "pcc", "bus": "pcc_10kv", "pt_ratio": 100, "ct_ratio": _ct_ratio(total_kva, 10)})
    dev = out.devices
    dev.append({"id": "dev_meter_pcc", "serves": "meter_pcc", "role": "meter", "map": "acrel_dtsd1352", "host": "127.0.0.1", "port": 21000, "unit_id": 1, "poll_s": 1})
    unit = 0
    for t in out.tenants:
        # Every LV bus of the tenant gets a meter (a tenant's consumption is only determined when its meters see
        # all of its buses); a split second bus gets a feeder meter on each of its cables instead.
        for n, lv in enumerate(t["_lvs"]):
            tx = next(x for x in out.trafos if x["lv_bus"] == lv)
            mid = f"meter_{t['id']}" if n == 0 else f"meter_{t['id']}_{n + 1}"
            points = [{"bus": lv}]
            if t.get("_subs") and n == len(t["_lvs"]) - 1:
                points = [{"bus": lv, "line": f"cable_{t['id']}_sub{j}"} for j in (1, 2)]
            for j, point in enumerate(points):
                unit += 1
                meter_id = mid if len(points) == 1 else f"{mid}_sub{j + 1}"
                on_tx = shape.meter_points == "transformer" or (shape.meter_points == "mixed" and unit % 2 == 0)
                if on_tx and "line" not in point:
                    point = {"bus": tx["hv_bus"], "transformer": tx["id"]}
                ratio = _ct_ratio(tx["sn_kva"] / len(points), 10 if "transformer" in point else 0.4)
                extra = {"pt_ratio": 100} if "transformer" in point else {}
                out.meters.append({"id": meter_id, "scope": "tenant", "tenant": t["id"], **point, **extra,
                                   "ct_ratio": ratio})
                dev.append({"id": f"dev_{meter_id}", "serves": meter_id, "role": "meter", "map": "chint_dtsu666",
                            "host": "127.0.0.1", "port": 21001, "unit_id": unit, "poll_s": 2})
    for u, pv in enumerate(out.pv, start=1):
        name = PV_MAPS[(u - 1) % len(PV_MAPS)]
        unit = 0 if name == "huawei_sun2000_smartlogger" else 1
        dev.append({"id": f"dev_{pv['id']}", "serves": pv["id"], "role": "pv_inverter", "map": name, "host": "127.0.0.1", "port": 21100 + u, "unit_id": unit, "poll_s": 2})
    for u, bat in enumerate(out.batteries, start=1):
        name = bat.pop("_map")
        if name == "cn_pcs":
            dev.append({"id": f"dev_{bat['id']}_pcs", "serves": bat["id"], "role": "pcs", "map": "cn_pcs", "host": "127.0.0.1", "port": 21200 + u, "unit_id": 1, "poll_s": 1})
            dev.append({"id": f"dev_{bat['id']}_bms", "serves": bat["id"], "role": "bms", "map": "cn_bms", "host": "127.0.0.1", "port": 21200 + u, "unit_id": 2, "poll_s": 1})
        else:
            dev.append({"id": f"dev_{bat['id']}", "serves": bat["id"], "role": "storage", "map": name, "host": "127.0.0.1", "port": 21200 + u, "unit_id": 1, "poll_s": 1})
    for u, hp in enumerate(out.heat_pumps, start=1):
        dev.append({"id": f"dev_{hp['id']}", "serves": hp["id"], "role": "heat_pump", "map": "heat_pump_controller", "host": "127.0.0.1", "port": 21300, "unit_id": u, "poll_s": 5})
    for u, fl in enumerate(out.flex + out.ev, start=1):
        dev.append({"id": f"dev_{fl['id']}", "serves": fl["id"], "role": "flexible_load", "map": "flex_load_controller", "host": "127.0.0.1", "port": 21400, "unit_id": u, "poll_s": 2})


def _tariff(shape: Shape) -> dict[str, Any]:
    """Fujian two-part TOU, as in the bundled sites (闽发改规〔2023〕8号 periods, illustrative prices)."""
    w = [("valley", "00:00", "08:00"), ("flat", "08:00", "10:00")]
    summer = w + [("peak", "10:00", "11:00"), ("critical", "11:00", "12:00"), ("flat", "12:00", "15:00"), ("peak", "15:00", "17:00"),
                  ("critical", "17:00", "18:00"), ("peak", "18:00", "20:00"), ("flat", "20:00", "21:00"), ("peak", "21:00", "22:00"), ("flat", "22:00", "24:00")]
    other = w + [("peak", "10:00", "12:00"), ("flat", "12:00", "15:00"), ("peak", "15:00", "20:00"), ("flat", "20:00", "21:00"),
                 ("peak", "21:00", "22:00"), ("flat", "22:00", "24:00")]

    def windows(rows):
        return [{"period": p, "start": s, "end": e} for p, s, e in rows]

    return {
        "name": "Fujian 1-10 kV industrial two-part TOU (illustrative)", "illustrative": True,
        "source": "闽发改规〔2023〕8号 periods; prices illustrative (generated test site)",
        "prices_cny_per_kwh": {"critical": 0.956, "peak": 0.8636, "flat": 0.62, "valley": VALLEY_CNY},
        "seasons": [{"months": [1, 2, 3, 4, 5, 6, 10, 11, 12], "windows": windows(other)}, {"months": [7, 8, 9], "windows": windows(summer)}],
        "basic_charge": "demand", "demand_charge_cny_per_kw_month": 36, "demand_excess_threshold_pct": 105, "demand_excess_factor": 2.0,
        "feed_in_cny_per_kwh": shape.feed_in_cny_per_kwh,
    }


def _profiles(shape: Shape, out: _Layout, lat: float, lon: float) -> dict[str, pd.DataFrame]:
    pm = _profiles_module()
    frames = {}
    for offset, (day_type, day) in enumerate(pm.DAYS.items()):
        rng = np.random.default_rng([shape.profile_seed, 2, offset])
        frame = pm.weather(day, lat, lon, 10.0, "Asia/Shanghai", rng)
        hours = (frame.index.hour + frame.index.minute / 60).to_numpy()
        for column, load_shape in out.shapes.items():
            frame[column] = pm.shape_values(load_shape, day_type, hours, rng)
        frames[day_type] = frame
    return frames


CAP_DAY = date(2026, 7, 15)
"""The summer weekday (a July Wednesday, critical-peak month) on which the import cap is made to bind."""


def _afternoon_cap(shape: Shape, site_dir: Path) -> float:
    """An import cap the afternoon needs storage to hold, yet above every other interval's need.

    Net demand comes from the project's own forecasts of the written site for :data:`CAP_DAY` (the inputs
    the planner sees): fixed loads + shiftable/curtailable baselines + heat demand / COP − available PV.
    The cap is the afternoon (14–20 h) net peak minus ``cap_shave_frac`` of what the storage can sustain
    over four hours, but at least 5 % above the rest of the day's net peak plus the EV depots' energy
    spread over their night windows.
    """
    from microgrid.planning.adapter import build_dispatch_inputs, horizon_for_day
    from microgrid.site import load_site

    site = load_site(site_dir)
    inp = build_dispatch_inputs(site, horizon_for_day(site, CAP_DAY))
    n = inp.n_steps
    net = sum((np.asarray(x.p_kw, dtype=float) for x in inp.loads), np.zeros(n))
    for x in [*inp.shiftable, *inp.curtailable]:
        net = net + np.asarray(x.baseline_kw, dtype=float)
    for h in inp.heat_pumps:
        net = net + np.asarray(h.heat_demand_kw_th, dtype=float) / np.asarray(h.cop, dtype=float)
    for pv in inp.pv:
        net = net - np.asarray(pv.p_avail_kw, dtype=float)
    hours = (inp.index.hour + inp.index.minute / 60).to_numpy()
    rest = net.copy()
    for ev in site.assets.ev_depots:
        a, b = int(ev.arrival[:2]), int(ev.departure[:2])
        night = (hours >= a) | (hours < b)
        rest = rest + np.where(night, ev.energy_kwh / ev.eta_charge / ((b - a) % 24), 0.0)
    afternoon = (hours >= 14) & (hours < 20)
    pm_peak = float(net[afternoon].max())
    other = float(rest[~afternoon].max())
    storage = sum(min(b.p_discharge_max_kw, 0.8 * b.e_kwh / 4) for b in site.assets.batteries)
    cap = pm_peak - shape.cap_shave_frac * storage
    return float(round(max(cap, other * 1.05, pm_peak * 0.6, 100.0), 0))


def site_mapping(seed: int, **overrides: Any) -> tuple[dict[str, Any], dict[str, pd.DataFrame]]:
    """The ``site.yaml`` mapping (without the import cap, see :func:`generate_site`) and the day-type →
    profile frames for ``seed``; nothing is written."""
    shape = _with_overrides(draw_shape(seed), overrides)
    out = _layout(shape)
    lat, lon = 25.43, 119.01
    frames = _profiles(shape, out, lat, lon)

    def clean(rows):
        return [{k: v for k, v in row.items() if not k.startswith("_")} for row in rows]

    mapping = {
        "site": {"id": shape.site_id, "name": f"Generated park {shape.site_id}", "description": f"tests/sitegen seed {seed}: {asdict(shape)}",
                 "location": {"latitude_deg": lat, "longitude_deg": lon, "altitude_m": 10, "timezone": "Asia/Shanghai"}, "resolution_min": 15},
        "grid": {"bus": "pcc_10kv", "voltage_kv": 10, "short_circuit_mva": 200, "r_x_ratio": 0.1,
                 "declared_demand_kw": 1.0e6, "import_limit_kw": 1.0e6,  # set by generate_site
                 "export_limit_kw": shape.export_limit_kw},
        "network": {"buses": clean(out.buses), "lines": clean(out.lines), "transformers": clean(out.trafos)},
        "tenants": clean(out.tenants),
        "assets": {"pv": clean(out.pv), "batteries": clean(out.batteries), "heat_pumps": clean(out.heat_pumps),
                   "flexible_loads": clean(out.flex), "ev_depots": clean(out.ev)},
        "meters": clean(out.meters),
        "devices": clean(out.devices),
        "tariff": _tariff(shape),
        "emissions": {"default": "fujian_2023", "secondary": "national_2023", "factors": [
            {"id": "fujian_2023", "scope": "location", "region": "Fujian", "year": 2023, "kg_co2_per_kwh": 0.4211, "document": "MEE/NBS 公告2025年第47号"},
            {"id": "national_2023", "scope": "national", "region": "China", "year": 2023, "kg_co2_per_kwh": 0.5306, "document": "MEE/NBS 公告2025年第47号"}]},
        "green_power": {"target_ratio_pct": 35},
        "profiles": {"dir": "profiles", "days": {d: f"{d}.csv" for d in frames}},
        "control": {"cycle_s": 2, "day_ahead_at": "15:00", "intraday_every_min": 15, "export_margin_kw": 5, "meter_stale_s": 5, "solver_time_limit_s": 20},
    }
    return mapping, frames


def generate_site(seed: int, out_dir: str | Path, **overrides: Any) -> Path:
    """Write the park for ``seed`` into ``out_dir/<site_id>/`` and return that directory.

    ``overrides`` replace fields of :class:`Shape` (e.g. ``export_limit_kw=0``,
    ``storage_maps=("cn_pcs",), battery_kw=(2500,)``); unknown keys raise ``TypeError``.
    """
    shape = _with_overrides(draw_shape(seed), overrides)
    mapping, frames = site_mapping(seed, **overrides)
    site_dir = Path(out_dir) / mapping["site"]["id"]
    site_dir.mkdir(parents=True, exist_ok=True)
    _profiles_module().write_profiles(frames, site_dir / "profiles")
    _write_yaml(mapping, site_dir)  # no cap yet: the forecasts of the written site decide it
    cap = _afternoon_cap(shape, site_dir)
    mapping["grid"]["import_limit_kw"] = cap
    mapping["grid"]["declared_demand_kw"] = float(round(cap / shape.declared_ratio, 0))
    _write_yaml(mapping, site_dir)
    return site_dir


def _write_yaml(mapping: dict[str, Any], site_dir: Path) -> None:
    text = yaml.safe_dump(mapping, sort_keys=False, allow_unicode=True, width=200)
    (site_dir / "site.yaml").write_text(text, encoding="utf-8")
