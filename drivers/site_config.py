"""Convert a site (``microgrid.site.Site``) into the drivers' own typed inputs (:class:`FleetConfig`).

- Endpoints from ``devices[].host/port/framer`` or ``devices[].serial_port`` (+ baudrate, parity, stop bits);
  devices with the same ``host:port`` or serial port share a link (one RS-485 bus, requests serialised).
- Assets from ``devices[].serves``: every device serving the same asset or meter belongs to one
  capability; roles ``pcs`` + ``bms`` make one storage, any other role is the ``main`` device.
- Limits from the asset's ratings (PV inverter AC rating, battery charge/discharge power and SoC window,
  heat-pump and flexible-load power range, EV-depot charger total) and the meters' PT/CT ratios.
- Stale limits: ``control.meter_stale_s`` for meters, ``max(3 × poll_s, 3 s)`` for other devices.
- PV fallback: at a zero-export site (``grid.export_limit_kw == 0``) a PV inverter with a revert timer
  falls back to 0 % when the controller goes silent, otherwise to 100 %.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import replace
from typing import TYPE_CHECKING

from drivers.adapters import AssetLimits, ControlOptions
from drivers.capabilities import CapabilityKind
from drivers.errors import DriverConfigError
from drivers.fleet import AssetConfig, DeviceConfig, FleetConfig
from drivers.transport import Endpoint

if TYPE_CHECKING:
    from microgrid.site import Site
    from microgrid.site.models import Device

_ROLE_KIND = {
    "meter": CapabilityKind.METER,
    "pv_inverter": CapabilityKind.PV_INVERTER,
    "storage": CapabilityKind.STORAGE,
    "pcs": CapabilityKind.STORAGE,
    "bms": CapabilityKind.STORAGE,
    "heat_pump": CapabilityKind.HEAT_PUMP,
    "flexible_load": CapabilityKind.FLEXIBLE_LOAD,
}


def _limits(site: Site, target: str) -> AssetLimits:
    meter = next((m for m in site.meters if m.id == target), None)
    if meter is not None:
        return AssetLimits(pt_ratio=meter.pt_ratio, ct_ratio=meter.ct_ratio)
    try:
        asset = site.asset(target)
    except KeyError:
        return AssetLimits()
    kind = type(asset).__name__
    if kind == "PVPlant":
        return AssetLimits(p_max_kw=asset.inverter_ac_kw)  # type: ignore[union-attr]
    if kind == "Battery":
        return AssetLimits(
            p_charge_max_kw=asset.p_charge_max_kw,  # type: ignore[union-attr]
            p_discharge_max_kw=asset.p_discharge_max_kw,  # type: ignore[union-attr]
            soc_min_pct=asset.soc_min_pct,  # type: ignore[union-attr]
            soc_max_pct=asset.soc_max_pct,  # type: ignore[union-attr]
            ramp_kw_per_s=asset.ramp_kw_per_s,  # type: ignore[union-attr]
        )
    if kind == "HeatPump":
        return AssetLimits(p_max_kw=asset.p_el_max_kw, p_min_kw=asset.p_el_min_kw)  # type: ignore[union-attr]
    if kind == "FlexibleLoad":
        return AssetLimits(p_max_kw=asset.p_max_kw, p_min_kw=asset.p_min_kw)  # type: ignore[union-attr]
    if kind == "EVDepot":
        return AssetLimits(p_max_kw=asset.p_max_kw)  # type: ignore[union-attr]
    return AssetLimits()


def endpoint_of(device: Device) -> Endpoint:
    """The link of a site device: serial RTU port, or TCP host:port with its framer."""
    if device.serial_port:
        return Endpoint(
            serial_port=device.serial_port,
            baudrate=device.baudrate,
            parity=device.parity,
            stopbits=device.stopbits,
            bytesize=device.bytesize,
        )
    return Endpoint(host=device.host or "", port=device.port, framer=device.framer)


def fleet_config_from_site(site: Site, *, options: ControlOptions | None = None) -> FleetConfig:
    """The :class:`FleetConfig` of ``site.devices``; :class:`DriverConfigError` lists what cannot be driven."""
    devices: list[DeviceConfig] = []
    by_target: dict[str, list] = defaultdict(list)
    meter_ids = {m.id for m in site.meters}
    for d in site.devices:
        stale = site.control.meter_stale_s if d.role == "meter" else None
        devices.append(
            DeviceConfig(
                device_id=d.id,
                map_name=d.map,
                endpoint=endpoint_of(d),
                unit_id=d.unit_id,
                poll_s=d.poll_s,
                timeout_s=d.timeout_s,
                retries=d.retries,
                stale_after_s=stale,
                map_options=dict(d.map_options),
                inter_frame_gap_s=d.inter_frame_gap_ms / 1000.0,
            )
        )
        by_target[d.serves].append(d)
    problems: list[tuple[str, dict]] = []
    assets: list[AssetConfig] = []
    for target, devs in by_target.items():
        kinds = {_ROLE_KIND[d.role] for d in devs}
        if len(kinds) != 1:
            problems.append(("uerr.devices_mixed_kinds", {"target": target, "devices": str([d.id for d in devs])}))
            continue
        kind = kinds.pop()
        roles: dict[str, str] = {}
        for d in devs:
            role = d.role if d.role in ("pcs", "bms") else "main"
            if role in roles:
                problems.append(("uerr.devices_role_twice",
                                 {"target": target, "role": role, "first": roles[role], "second": d.id}))
            roles[role] = d.id
        if kind is CapabilityKind.METER and target not in meter_ids:
            problems.append(("uerr.devices_meter_target", {"target": target}))
        assets.append(AssetConfig(target, kind, roles, _limits(site, target)))
    if problems:
        err = DriverConfigError.of("uerr.devices_cannot_drive")
        for key, params in problems:
            err.with_problem(key, **params)
        raise err
    opts = options or ControlOptions()
    if options is None and site.grid.export_limit_kw == 0:
        opts = replace(opts, pv_fallback_limit_pct=0.0)
    return FleetConfig(tuple(devices), tuple(assets), opts)


__all__ = ["endpoint_of", "fleet_config_from_site"]
