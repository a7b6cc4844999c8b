"""Seeded parks whose tenants have several meters (1–3, on 1–2 transformers), tenant and shared PV and storage.

Each generated park comes with its *ground truth* written down independently of the product's metering
topology: for every tenant meter, the buses it sees; for every asset, its owner (``None`` = shared). The
tests recompute the accounting from meter readings with this truth, never with the product's derivation.

Layouts per tenant (``k`` meters):

- ``k = 1``: one transformer; the meter sits on the LV bus, or on the transformer (HV or LV side);
- ``k = 2``: two transformers, a meter on each;
- ``k = 3``: two transformers; the second one's LV bus feeds two LV sub-buses through cables with a feeder
  meter on each cable (the LV bus itself holds nothing), plus a meter on the first transformer.

Shared assets: a shared battery (and sometimes a shared PV plant) on a 10 kV bus, and sometimes a shared PV
plant on a tenant's bus behind its meter (``shared: true``), which the tenant's readings must be corrected for.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd
import yaml

from microgrid.site import Site, site_from_mapping

ROOT = Path(__file__).resolve().parents[2]
SMALL = ROOT / "site_configs" / "small_factory"
CABLE_LV = "NAYY 4x150 SE"


@dataclass
class Truth:
    """What the generator built: meter → buses seen; asset → owner; tenant → load bus."""

    meter_buses: dict[str, set[str]] = field(default_factory=dict)
    meter_tenant: dict[str, str] = field(default_factory=dict)
    owner: dict[str, str | None] = field(default_factory=dict)
    asset_bus: dict[str, str] = field(default_factory=dict)
    load_bus: dict[str, str] = field(default_factory=dict)

    def tenant_meters(self, tenant: str) -> list[str]:
        return [m for m, t in self.meter_tenant.items() if t == tenant]

    def behind(self, tenant: str) -> set[str]:
        """Assets on buses seen by the tenant's meters."""
        buses = set().union(*(self.meter_buses[m] for m in self.tenant_meters(tenant)))
        return {a for a, b in self.asset_bus.items() if b in buses}


def _base(site_id: str, export_kw: float, declared_kw: float) -> dict:
    small = yaml.safe_load((SMALL / "site.yaml").read_text(encoding="utf-8"))
    return {
        "site": {"id": site_id, "name": f"generated multi-meter park {site_id}",
                 "location": small["site"]["location"], "resolution_min": 15},
        "grid": {"bus": "pcc_10kv", "voltage_kv": 10, "short_circuit_mva": 150, "declared_demand_kw": declared_kw,
                 "export_limit_kw": export_kw},
        "network": {"buses": [{"id": "pcc_10kv", "vn_kv": 10}, {"id": "ess_10kv", "vn_kv": 10}],
                    "lines": [{"id": "cable_ess", "from_bus": "pcc_10kv", "to_bus": "ess_10kv",
                               "std_type": "NA2XS2Y 1x240 RM/25 6/10 kV", "length_km": 0.1}],
                    "transformers": []},
        "tenants": [], "assets": {"pv": [], "batteries": []},
        "meters": [{"id": "meter_pcc", "scope": "pcc", "bus": "pcc_10kv"}],
        "tariff": small["tariff"], "emissions": small["emissions"],
        "green_power": {"onsite_certificates_retained_pct": 80.0, "green_trading_mwh_per_month": 30.0,
                        "target_ratio_pct": 35.0},
        "profiles": {"dir": "profiles", "days": small["profiles"]["days"]},
    }


def _tx(tid: str, lv: str, kva: float) -> dict:
    return {"id": tid, "hv_bus": "pcc_10kv", "lv_bus": lv, "sn_kva": kva, "vn_hv_kv": 10, "vn_lv_kv": 0.4,
            "vk_percent": 6.0, "vkr_percent": 0.9}


def add_devices(data: dict, base_port: int = 16000) -> None:
    """Modbus devices for every meter (Acrel), PV plant (SunSpec inverter) and battery (SunSpec storage), one
    endpoint each on 127.0.0.1 (``--auto-ports`` rebinds them to free ports)."""
    devices = []
    port = base_port
    for m in data["meters"]:
        m.setdefault("ct_ratio", 40.0 if m["scope"] == "pcc" else 400.0)
        if m["scope"] == "pcc":
            m.setdefault("pt_ratio", 100.0)
        devices.append({"id": f"dev_{m['id']}", "serves": m["id"], "role": "meter", "map": "acrel_dtsd1352"})
    devices += [{"id": f"dev_{p['id']}", "serves": p["id"], "role": "pv_inverter", "map": "sunspec_inverter"}
                for p in data["assets"]["pv"]]
    devices += [{"id": f"dev_{b['id']}", "serves": b["id"], "role": "storage", "map": "sunspec_battery"}
                for b in data["assets"]["batteries"]]
    for d in devices:
        d.update(host="127.0.0.1", port=port, unit_id=1, poll_s=1)
        port += 1
    data["devices"] = devices


def generate(seed: int, directory: Path, *, devices: bool = False) -> tuple[Site, Truth, dict]:
    """A valid multi-meter park written to ``directory`` (site.yaml + profiles), its truth and its mapping;
    with ``devices`` every meter and asset gets a simulated Modbus device (for closed-loop runs)."""
    rng = random.Random(seed)
    export_kw = rng.choice([0.0, 300.0])
    data = _base(f"mm_{seed}", export_kw, declared_kw=rng.choice([1500.0, 2500.0]))
    truth = Truth()
    net, assets, meters = data["network"], data["assets"], data["meters"]
    n_tenants = rng.choice([2, 3])
    loads: dict[str, float] = {}
    for n in range(n_tenants):
        t = f"t{n}"
        k = rng.choice([1, 2, 3])
        lv1 = f"{t}_lv1"
        net["buses"].append({"id": lv1, "vn_kv": 0.4, "tenant": t})
        net["transformers"].append(_tx(f"{t}_tx1", lv1, 1250))
        truth.load_bus[t] = lv1
        typical = rng.uniform(150, 500)
        loads[t] = typical
        data["tenants"].append({"id": t, "name": f"tenant {t}", "bus": lv1, "transformer": f"{t}_tx1",
                                "typical_load_kw": round(typical, 1)})
        point = rng.choice(["bus", "tx_lv", "tx_hv"])
        m1 = {"id": f"m_{t}_1", "scope": "tenant", "tenant": t, "bus": "pcc_10kv" if point == "tx_hv" else lv1}
        if point != "bus":
            m1["transformer"] = f"{t}_tx1"
        meters.append(m1)
        truth.meter_buses[m1["id"]], truth.meter_tenant[m1["id"]] = {lv1}, t
        buses = [lv1]
        if k >= 2:
            lv2 = f"{t}_lv2"
            net["buses"].append({"id": lv2, "vn_kv": 0.4, "tenant": t})
            net["transformers"].append(_tx(f"{t}_tx2", lv2, 800))
            if k == 2:
                meters.append({"id": f"m_{t}_2", "scope": "tenant", "tenant": t, "bus": lv2,
                               "transformer": f"{t}_tx2"})
                truth.meter_buses[f"m_{t}_2"], truth.meter_tenant[f"m_{t}_2"] = {lv2}, t
                buses.append(lv2)
            else:
                for j in (2, 3):
                    sub = f"{t}_sub{j}"
                    net["buses"].append({"id": sub, "vn_kv": 0.4, "tenant": t})
                    net["lines"].append({"id": f"{t}_cable{j}", "from_bus": lv2, "to_bus": sub,
                                         "std_type": CABLE_LV, "length_km": 0.05})
                    meters.append({"id": f"m_{t}_{j}", "scope": "tenant", "tenant": t, "bus": lv2,
                                   "line": f"{t}_cable{j}"})
                    truth.meter_buses[f"m_{t}_{j}"], truth.meter_tenant[f"m_{t}_{j}"] = {sub}, t
                    buses.append(sub)
        # Own PV on some bus of the tenant (not the bare LV bus of a k = 3 layout), maybe own storage elsewhere.
        pv_bus = rng.choice(buses)
        kwp = rng.uniform(200, 700)
        pv = {"id": f"pv_{t}", "bus": pv_bus, "kwp": round(kwp), "inverter_ac_kw": round(0.85 * kwp)}
        if rng.random() < 0.5:
            pv["tenant"] = t  # explicit owner; otherwise derived from the bus
        assets["pv"].append(pv)
        truth.owner[pv["id"]], truth.asset_bus[pv["id"]] = t, pv_bus
        if rng.random() < 0.6:
            bat_bus = rng.choice(buses)
            bat = {"id": f"bat_{t}", "bus": bat_bus, "p_charge_max_kw": 150, "p_discharge_max_kw": 150,
                   "e_kwh": 400, "soc_initial_pct": 30}
            assets["batteries"].append(bat)
            truth.owner[bat["id"]], truth.asset_bus[bat["id"]] = t, bat_bus
        if rng.random() < 0.4:  # a shared plant on this tenant's roof, behind its meter
            shared_bus = rng.choice(buses)
            pv_s = {"id": f"pv_shared_{t}", "bus": shared_bus, "kwp": 150, "inverter_ac_kw": 125, "shared": True}
            assets["pv"].append(pv_s)
            truth.owner[pv_s["id"]], truth.asset_bus[pv_s["id"]] = None, shared_bus
    assets["batteries"].append({"id": "ess_shared", "bus": "ess_10kv", "p_charge_max_kw": 400,
                                "p_discharge_max_kw": 400, "e_kwh": 1200, "soc_initial_pct": 30})
    truth.owner["ess_shared"], truth.asset_bus["ess_shared"] = None, "ess_10kv"
    if rng.random() < 0.5:
        assets["pv"].append({"id": "pv_carport", "bus": "ess_10kv", "kwp": 300, "inverter_ac_kw": 250})
        truth.owner["pv_carport"], truth.asset_bus["pv_carport"] = None, "ess_10kv"
    if devices:
        add_devices(data, 16000 + 100 * (seed % 50))
    _write(directory, data, loads)
    site = site_from_mapping(data, base_dir=directory, source=f"generated site {seed}")
    return site, truth, data


def _write(directory: Path, data: dict, loads: dict[str, float]) -> None:
    prof = directory / "profiles"
    prof.mkdir(parents=True, exist_ok=True)
    for name in data["profiles"]["days"].values():
        frame = pd.read_csv(SMALL / "profiles" / name)
        shape = frame["load_factory_kw"] / frame["load_factory_kw"].mean()
        frame = frame.drop(columns=[c for c in frame.columns if c.startswith("load_")])
        for t, kw in loads.items():
            frame[f"load_{t}_kw"] = (shape * kw).round(2)
        frame.to_csv(prof / name, index=False)
    (directory / "site.yaml").write_text(yaml.safe_dump(data, sort_keys=False, allow_unicode=True), encoding="utf-8")
