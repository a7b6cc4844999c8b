"""Generate the SunSpec register maps (``sunspec_inverter.yaml``, ``sunspec_battery.yaml``) from pysunspec2.

The point layout (offsets, types, scale-factor references, access, units, symbols) is taken verbatim from the
SunSpec model definitions bundled with pysunspec2 (``sunspec2/models/json/model_<id>.json``); only the model
chain, the default values served by the simulator and a few allowed ranges are chosen here.

Run from the repository root after upgrading pysunspec2, and commit the output::

    .venv/bin/python drivers/maps/generate_sunspec.py
"""

from __future__ import annotations

import json
import re
from importlib import metadata
from pathlib import Path
from typing import Any

import sunspec2
import yaml

OUT_DIR = Path(__file__).resolve().parent
MODELS_DIR = Path(sunspec2.__file__).resolve().parent / "models" / "json"
BASE = 40000

_TYPES = {
    "uint16": "u16",
    "int16": "i16",
    "uint32": "u32",
    "int32": "i32",
    "uint64": "u64",
    "int64": "i64",
    "acc16": "u16",
    "acc32": "u32",
    "acc64": "u64",
    "enum16": "u16",
    "enum32": "u32",
    "bitfield16": "bits16",
    "bitfield32": "bits32",
    "sunssf": "i16",
    "count": "u16",
    "pad": "u16",
    "float32": "f32",
    "string": "string",
}
# Not-implemented sentinels (SunSpec information model; pysunspec2 sunspec2/mb.py). Accumulators (0) are
# left out on purpose: a counter that starts at 0 would read as "not implemented".
_SENTINEL = {
    "int16": 0x8000,
    "sunssf": 0x8000,
    "uint16": 0xFFFF,
    "enum16": 0xFFFF,
    "bitfield16": 0xFFFF,
    "int32": 0x80000000,
    "uint32": 0xFFFFFFFF,
    "enum32": 0xFFFFFFFF,
    "bitfield32": 0xFFFFFFFF,
    "int64": 0x8000000000000000,
    "uint64": 0xFFFFFFFFFFFFFFFF,
    "string": 0,
}
_UNITS = {"Secs": "s", "Pct": "%", "%WHRtg": "%", "%Max/Sec": "%/s", "WH": "Wh"}
_SPECIAL = {"SoC": "soc", "SoH": "soh", "DoD": "dod", "SocRsvMax": "soc_rsv_max", "SoCRsvMin": "soc_rsv_min"}


def snake(name: str) -> str:
    """``WMaxLimPct`` -> ``w_max_lim_pct``; ``SoCMax`` -> ``soc_max``; ``W_SF`` -> ``w_sf``."""
    for camel, plain in _SPECIAL.items():
        if name == camel:
            return plain
    name = name.replace("SoC", "Soc_").replace("SoH", "Soh_").replace("DoD", "Dod_")
    name = re.sub(r"([a-z0-9])([A-Z])", r"\1_\2", name)
    name = re.sub(r"([A-Z]+)([A-Z][a-z])", r"\1_\2", name)
    return re.sub(r"_+", "_", name).strip("_").lower()


# Values served by the simulator at start (engineering units); the simulator overrides the dynamic ones and
# picks power/energy scale factors from each device's rating.
COMMON_DEFAULTS = {"Mn": "ParkSim", "Opt": "", "Vr": "1.0.0", "SN": "SIM-0000", "DA": 1, "Pad": 0}
DEFAULTS: dict[int, dict[str, Any]] = {
    701: {
        "ACType": 2,
        "St": 1,
        "InvSt": 3,
        "ConnSt": 1,
        "Alrm": 0,
        "DERMode": 1,
        "ThrotPct": 0,
        "ThrotSrc": 0,
        "A_SF": -1,
        "V_SF": -1,
        "Hz_SF": -2,
        "W_SF": 1,
        "PF_SF": -3,
        "VA_SF": 1,
        "Var_SF": 1,
        "TotWh_SF": 0,
        "TotVarh_SF": 0,
        "Tmp_SF": -1,
    },
    702: {
        "W_SF": 1,
        "PF_SF": -3,
        "VA_SF": 1,
        "Var_SF": 1,
        "V_SF": -1,
        "A_SF": -1,
        "S_SF": 0,
        "NorOpCatRtg": 1,
        "AbnOpCatRtg": 2,
        "CtrlModes": 0b11,
        "VNomRtg": 400.0,
        "VMaxRtg": 440.0,
        "VMinRtg": 360.0,
        "VNom": 400.0,
        "VMax": 440.0,
        "VMin": 360.0,
    },
    703: {
        "ES": 1,
        "V_SF": -1,
        "Hz_SF": -2,
        "ESVHi": 105.0,
        "ESVLo": 91.7,
        "ESHzHi": 50.1,
        "ESHzLo": 49.5,
        "ESDlyTms": 300,
        "ESRndTms": 0,
        "ESRmpTms": 300,
        "ESDlyRemTms": 0,
    },
    704: {
        "PF_SF": -3,
        "WMaxLimPct_SF": -1,
        "WSet_SF": 1,
        "WSetPct_SF": -1,
        "VarSet_SF": 1,
        "VarSetPct_SF": -1,
        "WMaxLimPctEna": 0,
        "WMaxLimPct": 100.0,
        "WMaxLimPctRvrt": 100.0,
        "WMaxLimPctEnaRvrt": 0,
        "WMaxLimPctRvrtTms": 0,
        "WMaxLimPctRvrtRem": 0,
        "WSetEna": 0,
        "WSetMod": 1,
        "WSet": 0.0,
        "WSetRvrt": 0.0,
        "WSetPct": 0.0,
        "WSetPctRvrt": 0.0,
        "WSetEnaRvrt": 0,
        "WSetRvrtTms": 0,
        "WSetRvrtRem": 0,
        "VarSetEna": 0,
        "VarSetMod": 4,
        "VarSetPri": 0,
        "VarSet": 0.0,
        "VarSetRvrt": 0.0,
        "VarSetPct": 0.0,
        "VarSetPctRvrt": 0.0,
        "VarSetEnaRvrt": 0,
        "VarSetRvrtTms": 0,
        "VarSetRvrtRem": 0,
        "WRmp": 0,
        "WRmpRef": 1,
        "VarRmp": 0,
        "AntiIslEna": 1,
        "PFWInjEna": 0,
        "PFWAbsEna": 0,
    },
    103: {"A_SF": -1, "V_SF": -1, "W_SF": 1, "Hz_SF": -2, "VA_SF": 1, "VAr_SF": 1, "PF_SF": -2, "WH_SF": 0,
          "DCA_SF": -1, "DCV_SF": -1, "DCW_SF": 1, "Tmp_SF": -1, "St": 4, "StVnd": 0, "Evt1": 0, "Evt2": 0,
          "WH": 0, "Hz": 50.0},
    120: {"DERTyp": 82, "WRtg_SF": 1, "VARtg_SF": 1, "VArRtg_SF": 1, "ARtg_SF": -1, "PFRtg_SF": -3,
          "WHRtg_SF": 2, "AhrRtg_SF": 0, "MaxChaRte_SF": 1, "MaxDisChaRte_SF": 1, "Pad": 0},
    121: {"WMax_SF": 1, "VRef_SF": -1, "VRefOfs_SF": -1, "VMinMax_SF": -1, "VAMax_SF": 1, "VArMax_SF": 1,
          "WGra_SF": -1, "PFMin_SF": -3, "MaxRmpRte_SF": 0, "ECPNomHz_SF": -2, "VRef": 400.0, "ECPNomHz": 50.0},
    123: {"WMaxLimPct_SF": -1, "OutPFSet_SF": -3, "VArPct_SF": -1, "Conn": 1, "WMaxLimPct": 100.0,
          "WMaxLim_Ena": 0, "WMaxLimPct_RvrtTms": 0, "WMaxLimPct_WinTms": 0, "WMaxLimPct_RmpTms": 0},
    124: {"WChaMax_SF": 1, "WChaDisChaGra_SF": 0, "VAChaMax_SF": 1, "MinRsvPct_SF": -1, "ChaState_SF": -1,
          "StorAval_SF": 0, "InBatV_SF": -1, "InOutWRte_SF": -2, "StorCtl_Mod": 0, "InWRte": 100.0,
          "OutWRte": 100.0, "InOutWRte_WinTms": 0, "InOutWRte_RvrtTms": 0, "InOutWRte_RmpTms": 0,
          "WChaGra": 100, "WDisChaGra": 100, "MinRsvPct": 0.0, "ChaSt": 6, "ChaGriSet": 1},
    713: {"WH_SF": 2, "Pct_SF": -1, "Sta": 0, "SoH": 100.0},
    715: {"LocRemCtl": 0, "DERHb": 0, "ControllerHb": 0, "AlarmReset": 0, "OpCtl": 1},
    802: {
        "AHRtg_SF": 0,
        "WHRtg_SF": 2,
        "WChaDisChaMax_SF": 2,
        "DisChaRte_SF": -2,
        "SoC_SF": -1,
        "DoD_SF": -1,
        "SoH_SF": -1,
        "V_SF": -1,
        "CellV_SF": -3,
        "A_SF": -1,
        "AMax_SF": -1,
        "W_SF": 2,
        "Typ": 4,
        "State": 3,
        "ChaSt": 6,
        "LocRemCtl": 0,
        "Hb": 0,
        "CtrlHb": 0,
        "AlmRst": 0,
        "NCyc": 0,
        "Evt1": 0,
        "Evt2": 0,
        "EvtVnd1": 0,
        "EvtVnd2": 0,
        "SetOp": 1,
        "SetInvState": 3,
        "ReqInvState": 0,
        "SoH": 100.0,
        "SoCMax": 100.0,
        "SoCMin": 0.0,
        "DisChaRte": 0.0,
    },
}
RANGES: dict[tuple[int, str], tuple[float, float]] = {
    (704, "WMaxLimPct"): (0.0, 100.0),
    (704, "WMaxLimPctRvrt"): (0.0, 100.0),
    (704, "WSetPct"): (-100.0, 100.0),
    (704, "WSetPctRvrt"): (-100.0, 100.0),
    (704, "WSetMod"): (0, 1),
    (715, "OpCtl"): (0, 3),
    (802, "SetOp"): (1, 2),
    (123, "WMaxLimPct"): (0.0, 100.0),
    (124, "InWRte"): (-100.0, 100.0),
    (124, "OutWRte"): (-100.0, 100.0),
    (124, "MinRsvPct"): (0.0, 100.0),
    (802, "SetInvState"): (1, 3),
    (802, "SocRsvMax"): (0.0, 100.0),
    (802, "SoCRsvMin"): (0.0, 100.0),
}
# Heartbeats written by the controller: the simulated device reverts to its safe state when they stop.
HEARTBEAT_TIMEOUT_S = {(715, "ControllerHb"): 30.0, (802, "CtrlHb"): 30.0}
# Setpoints whose reversion timer is a register of the model (revert_s left null: set at runtime).
REVERT_NOTES = {
    (704, "WMaxLimPct"): "reverts to WMaxLimPctRvrt / WMaxLimPctEnaRvrt when WMaxLimPctRvrtTms (> 0) expires",
    (704, "WSet"): "reverts to WSetRvrt / WSetEnaRvrt when WSetRvrtTms (> 0) expires",
    (704, "WSetPct"): "reverts to WSetPctRvrt / WSetEnaRvrt when WSetRvrtTms (> 0) expires",
    (124, "InWRte"): "the battery power P (discharge > 0) is held in -InWRte x WChaMax .. OutWRte x WChaMax for "
    "the limits StorCtl_Mod enables; InOutWRte_RvrtTms (> 0) restores both rates to 100 % and StorCtl_Mod to 0",
    (124, "OutWRte"): "upper bound of the battery power window (see InWRte); negative forces charging",
}


def model_points(
    mid: int, address: int, pysunspec_version: str, *, skip_repeating: bool = False
) -> tuple[list[dict[str, Any]], int]:
    """Points of model ``mid`` starting at ``address`` (its ID register); returns points and the model length L.

    ``skip_repeating``: models with repeating groups (160 MPPT modules, curves) get their fixed part only
    (discovery); the generator of the bundled maps refuses them.
    """
    mdef = json.loads((MODELS_DIR / f"model_{mid}.json").read_text())
    group = mdef["group"]
    source = (
        f"SunSpec model {mid} ({group['name']}), pysunspec2 {pysunspec_version} models/json/model_{mid}.json"
    )
    defaults = {**(COMMON_DEFAULTS if mid == 1 else {}), **DEFAULTS.get(mid, {})}
    points: list[dict[str, Any]] = []
    offset = 0

    def add(pdef: dict[str, Any], prefix: str) -> None:
        nonlocal offset
        name = pdef["name"]
        ptype = pdef["type"]
        size = int(pdef.get("size", 1))
        pid = f"m{mid}_{prefix}{snake(name)}"
        point: dict[str, Any] = {
            "id": pid,
            "address": address + offset,
            "table": "holding",
            "type": _TYPES[ptype],
        }
        if ptype == "string":
            point["count"] = size
        sf = pdef.get("sf")
        if isinstance(sf, str):
            point["scale_sf"] = f"m{mid}_{snake(sf)}"
        elif isinstance(sf, int):
            point["scale"] = 10.0**sf
        if pdef.get("units"):
            point["unit"] = _UNITS.get(pdef["units"], pdef["units"])
        point["access"] = "rw" if pdef.get("access") == "RW" else "r"
        if (mid, name) in RANGES:
            point["min"], point["max"] = RANGES[(mid, name)]
        symbols = {int(s["value"]): s["name"] for s in pdef.get("symbols", [])}
        if symbols and ptype.startswith("bitfield"):
            point["bits"] = symbols
        elif symbols:
            point["enum"] = symbols
        if name in ("ID", "L") and not prefix:
            pass
        elif ptype in _SENTINEL:
            point["not_implemented"] = _SENTINEL[ptype]
        key = name if not prefix else None
        if name == "ID" and not prefix:
            point["default"] = mid
        elif key in defaults:
            point["default"] = defaults[key]
        desc = (pdef.get("desc") or pdef.get("label") or "").strip()
        if (mid, name) in REVERT_NOTES:
            desc += f" Device semantics: {REVERT_NOTES[(mid, name)]}."
        if (mid, name) in HEARTBEAT_TIMEOUT_S:
            point["revert_s"] = HEARTBEAT_TIMEOUT_S[(mid, name)]
            desc += (
                f" Simulated device: once written, must change at least every {HEARTBEAT_TIMEOUT_S[(mid, name)]:g} s"
                " or the device reverts to its safe state (power 0)."
            )
        point["description"] = desc
        point["source"] = source
        point["group"] = f"model_{mid}"
        point["sunspec_name"] = f"{prefix.rstrip('_')}.{name}" if prefix else name
        points.append(point)
        offset += size

    for pdef in group["points"]:
        add(pdef, "")
    for sub in group.get("groups", []):
        if sub.get("count") not in (None, 1):
            if skip_repeating:
                break
            raise SystemExit(f"model {mid}: repeating group {sub['name']} is not supported by this generator")
        for pdef in sub["points"]:
            add(pdef, f"{snake(sub['name'])}_")
    length = offset - 2
    for point in points:
        if point["id"] == f"m{mid}_l":
            point["default"] = length
    return points, length


def known_model(mid: int) -> bool:
    """Whether pysunspec2 ships a definition of model ``mid``."""
    return (MODELS_DIR / f"model_{mid}.json").exists()


def build(
    name: str,
    title: str,
    capability: str,
    chain: list[int],
    notes: str,
    *,
    base: int = BASE,
    lengths: list[int] | None = None,
) -> dict[str, Any]:
    """A map (as YAML data) for ``chain`` at ``base``. ``lengths``: the device's L of each model (discovery):
    the next model starts there even where the definition is shorter (repeating groups) or unknown."""
    version = metadata.version("pysunspec2")
    points: list[dict[str, Any]] = [
        {
            "id": "sunspec_marker",
            "address": base,
            "table": "holding",
            "type": "string",
            "count": 2,
            "access": "r",
            "default": "SunS",
            "description": "SunSpec well-known marker 'SunS' (0x5375 0x6E53)",
            "source": "SunSpec Information Model Specification; pysunspec2 sunspec2/modbus/client.py",
            "group": "header",
        },
    ]
    address = base + 2
    for i, mid in enumerate(chain):
        device_length = lengths[i] if lengths is not None else None
        if device_length is not None and not known_model(mid):
            address += device_length + 2  # a model pysunspec2 does not define (vendor model): skipped
            continue
        model, length = model_points(mid, address, version, skip_repeating=lengths is not None)
        if device_length is not None:
            for point in model:
                if point["id"] == f"m{mid}_l":
                    point["default"] = device_length
            model = [p for p in model if p["address"] < address + 2 + device_length]
            length = device_length
        points.extend(model)
        address += length + 2
    points.append(
        {
            "id": "sunspec_end_id",
            "address": address,
            "table": "holding",
            "type": "u16",
            "access": "r",
            "default": 0xFFFF,
            "description": "End-of-chain model id 0xFFFF",
            "source": "SunSpec",
            "group": "header",
        }
    )
    points.append(
        {
            "id": "sunspec_end_l",
            "address": address + 1,
            "table": "holding",
            "type": "u16",
            "access": "r",
            "default": 0,
            "description": "End-of-chain length 0",
            "source": "SunSpec",
            "group": "header",
        }
    )
    return {
        "name": name,
        "title": title,
        "vendor_published": True,
        "source": f"SunSpec Alliance information models as shipped in pysunspec2 {version} (Apache-2.0)",
        "notes": notes,
        "capability": capability,
        "word_order": "big",
        "number_offset": 0,
        "max_registers_per_read": 125,
        "min_request_interval_ms": 0,
        "connect_delay_s": 0,
        "default_unit_id": 1,
        "sunspec_models": chain,
        "sunspec_base": base,
        "points": points,
    }


def bundled_maps() -> list[dict[str, Any]]:
    """The bundled SunSpec maps (built on demand: reading the model JSON takes a moment)."""
    return [
        build(
            "sunspec_inverter",
            "SunSpec PV inverter, IEEE 1547-2018 models (1 + 701, 702, 703, 704, 715)",
            "pv_inverter",
            [1, 701, 702, 703, 704, 715],
            "Generic IEEE 1547 DER at 40000 (0-based PDU). Chain 1, 701 AC measurement, 702 capacity, 703 enter "
            "service, 704 AC controls (WMaxLimPct / WSet with reversion timers), 715 DER control (heartbeats, OpCtl). "
            "Curve models 705-712 and DC model 714 are omitted (not used by the controller). 701 W is positive "
            "for generation. Scale factors of power/energy points are chosen per device rating by the simulator: "
            "always read the *_SF registers.",
        ),
        build(
            "sunspec_battery",
            "SunSpec battery storage, IEEE 1547-2018 DER + battery (1 + 701, 702, 704, 713, 715, 802)",
            "storage",
            [1, 701, 702, 704, 713, 715, 802],
            "Storage DER at 40000 (0-based PDU). 701 W is positive when discharging (injecting), negative when "
            "charging; 704 WSet (WSetMod=1 WATTS) is the signed active-power setpoint with the same sign, "
            "WSetPct (WSetMod=0) in % of WMaxRtg; WSetRvrtTms reverts to WSetRvrt. 802 SetOp CONNECT/DISCONNECT, "
            "CtrlHb heartbeat (simulated device: 30 s), AChaMax/ADisChaMax, SoC. 713 SoC/WHAvail. "
            "Model 124 is not served: 704 WSet covers power control (sunspec_battery_legacy serves it).",
        ),
        build(
            "sunspec_battery_legacy",
            "SunSpec battery inverter, legacy models (1 + 103, 120, 121, 123, 124 basic storage controls)",
            "storage",
            [1, 103, 120, 121, 123, 124],
            "Storage inverter of the pre-IEEE-1547-2018 SunSpec generation at 40000 (0-based PDU): 103 W is "
            "positive when discharging; 120 ratings (MaxChaRte / MaxDisChaRte), 121 WMax; 124 basic storage "
            "controls: WChaMax (W) is the reference of InWRte / OutWRte (% of WChaMax, scale InOutWRte_SF), "
            "StorCtl_Mod bit 0 enables the charge limit InWRte, bit 1 the discharge limit OutWRte; the battery "
            "power P (discharge > 0) stays within -InWRte .. +OutWRte, so InWRte = -x and OutWRte = x with both "
            "bits set hold P at x (negative x: charging). InOutWRte_RvrtTms reverts both rates to 100 % and "
            "StorCtl_Mod to 0. ChaState is the SoC (% of AhrRtg), MinRsvPct the reserve.",
        ),
    ]


def main() -> None:
    for data in bundled_maps():
        path = OUT_DIR / f"{data['name']}.yaml"
        header = (
            f"# GENERATED by drivers/maps/generate_sunspec.py from pysunspec2's SunSpec model JSON - do not edit.\n"
            f"# {data['title']}\n"
        )
        text = yaml.safe_dump(data, sort_keys=False, allow_unicode=True, width=110)
        path.write_text(header + text, encoding="utf-8")
        print(f"wrote {path} ({len(data['points'])} points)")


if __name__ == "__main__":
    main()
