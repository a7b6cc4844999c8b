"""The fleet: every device of a site behind its capabilities, read and written once per control cycle.

Built from typed inputs (:class:`FleetConfig`) or from a site (:meth:`Fleet.from_site`). It creates

- one :class:`~drivers.transport.ModbusTransport` per endpoint (``host:port`` or serial port): several unit
  ids behind one gateway share one connection, with the most conservative timing of their devices;
- one :class:`~drivers.device.ModbusDevice` and :class:`~drivers.safewrite.SafeWriter` per device;
- one capability adapter per asset (a battery served by a PCS and a BMS becomes one ``Storage``).

The control cycle calls :meth:`Fleet.read_all` (readings per asset id) and :meth:`Fleet.apply`
(setpoints per asset id; also sends due heartbeats and revert-timer re-writes). Devices on different
links are served in parallel, requests on one link one at a time.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from drivers.adapters import Adapter, AssetLimits, ControlOptions, adapter_class
from drivers.capabilities import (
    AnyReading,
    AnySetpoint,
    CapabilityKind,
    FlexLoadSetpoint,
    HeatPumpSetpoint,
    PVSetpoint,
    StorageSetpoint,
)
from drivers.clock import SYSTEM_CLOCK, Clock
from drivers.device import ModbusDevice
from drivers.errors import DriverConfigError, UnknownPointError
from drivers.health import Health
from drivers.registermap import load_map
from drivers.safewrite import AuditCallback, EepromPolicy, SafeWriter, WriteResult
from drivers.transport import Endpoint, LinkSettings, ModbusTransport

if TYPE_CHECKING:
    from microgrid.site import Site


@dataclass(frozen=True)
class DeviceConfig:
    """One Modbus device: its map, where it is and how often it is read."""

    device_id: str
    map_name: str
    endpoint: Endpoint
    unit_id: int
    poll_s: float = 1.0
    timeout_s: float = 1.0
    retries: int = 1
    stale_after_s: float | None = None
    """Age after which its measurements are stale; default ``max(3 × poll_s, 3 s)``."""
    map_options: Mapping[str, str] = field(default_factory=dict)
    """Choices of the map's firmware/variant ``options``."""
    inter_frame_gap_s: float = 0.0
    """Bus silence this device needs between any two requests on its link, s (largest on a link wins)."""


@dataclass(frozen=True)
class AssetConfig:
    """One asset (or meter) and the devices that serve it, by role (``main``, or ``pcs`` + ``bms``)."""

    asset_id: str
    kind: CapabilityKind
    devices: Mapping[str, str]
    limits: AssetLimits = AssetLimits()


@dataclass(frozen=True)
class FleetConfig:
    devices: tuple[DeviceConfig, ...]
    assets: tuple[AssetConfig, ...]
    options: ControlOptions = ControlOptions()


@dataclass
class CycleStats:
    """Timing of the last read and apply, s."""

    read_s: float = 0.0
    apply_s: float = 0.0
    writes: int = 0
    history: list[float] = field(default_factory=list)


_SETPOINT_KIND: dict[type, CapabilityKind] = {
    PVSetpoint: CapabilityKind.PV_INVERTER,
    StorageSetpoint: CapabilityKind.STORAGE,
    HeatPumpSetpoint: CapabilityKind.HEAT_PUMP,
    FlexLoadSetpoint: CapabilityKind.FLEXIBLE_LOAD,
}


class Fleet:
    """All devices of a site behind their capabilities (see the module docstring)."""

    def __init__(
        self,
        config: FleetConfig,
        *,
        clock: Clock = SYSTEM_CLOCK,
        audit: AuditCallback | None = None,
        eeprom: EepromPolicy | None = None,
        connect_delay_s: float | None = None,
        link_settings: Mapping[str, LinkSettings] | None = None,
    ) -> None:
        """``connect_delay_s`` overrides the maps' wait-after-connect (tests); ``link_settings`` replaces
        the derived timing of a link by endpoint key (``"host:port"``)."""
        self.config = config
        self.clock = clock
        self.options = config.options
        self.stats = CycleStats()
        self.transports: dict[str, ModbusTransport] = {}
        self.devices: dict[str, ModbusDevice] = {}
        self.writers: dict[str, SafeWriter] = {}
        self.capabilities: dict[str, Adapter] = {}
        self._device_asset: dict[str, tuple[str, str]] = {}

        settings: dict[str, LinkSettings] = {}
        endpoints: dict[str, Endpoint] = {}
        for dc in config.devices:
            regmap = load_map(dc.map_name, dc.map_options)
            delay = regmap.connect_delay_s if connect_delay_s is None else connect_delay_s
            s = LinkSettings(
                timeout_s=dc.timeout_s,
                retries=dc.retries,
                connect_delay_s=delay,
                inter_frame_gap_s=dc.inter_frame_gap_s,
            )
            key = dc.endpoint.key
            if key in endpoints and endpoints[key] != dc.endpoint:
                raise DriverConfigError.of("uerr.link_disagree", link=key).with_problem(
                    "uerr.link_device", device=dc.device_id, endpoint=str(dc.endpoint)).with_problem(
                    "uerr.link_earlier", endpoint=str(endpoints[key]))
            endpoints[key] = dc.endpoint
            settings[key] = settings[key].merge(s) if key in settings else s
        for key, endpoint in endpoints.items():
            self.transports[key] = ModbusTransport(endpoint, (link_settings or {}).get(key, settings[key]))

        for dc in config.devices:
            if dc.device_id in self.devices:
                raise DriverConfigError.of("uerr.device_duplicate", device=dc.device_id)
            regmap = load_map(dc.map_name, dc.map_options)
            stale = dc.stale_after_s if dc.stale_after_s is not None else max(3.0 * dc.poll_s, 3.0)
            # Reading a hole the map describes costs 2 bytes per register: nothing on TCP, ~2 ms per register
            # on a 9600 baud RS-485 line (serial RTU, or RTU framing behind a serial server).
            serial_line = dc.endpoint.serial_port is not None or dc.endpoint.framer == "rtu"
            device = ModbusDevice(
                dc.device_id,
                regmap,
                self.transports[dc.endpoint.key],
                dc.unit_id,
                clock=clock,
                stale_after_s=stale,
                max_gap_known=16 if serial_line else 125,
            )
            self.devices[dc.device_id] = device
            self.writers[dc.device_id] = SafeWriter(device, audit=audit, eeprom=eeprom, clock=clock)

        for key, link in self.transports.items():
            link.label = f"{key} ({', '.join(dc.device_id for dc in config.devices if dc.endpoint.key == key)})"

        for ac in config.assets:
            missing = [d for d in ac.devices.values() if d not in self.devices]
            if missing:
                raise DriverConfigError.of("uerr.asset_unknown_devices", asset=ac.asset_id, missing=str(missing))
            maps = {role: self.devices[d].regmap.name for role, d in ac.devices.items()}
            cls = adapter_class(ac.kind, maps)
            adapter = cls(
                ac.asset_id,
                {role: self.devices[d] for role, d in ac.devices.items()},
                {role: self.writers[d] for role, d in ac.devices.items()},
                ac.limits,
                config.options,
            )
            self.capabilities[ac.asset_id] = adapter
            for role, d in ac.devices.items():
                self._device_asset[d] = (ac.asset_id, role)

    # ------------------------------------------------------------------ construction from a site

    @classmethod
    def from_site(cls, site: Site, **kwargs: Any) -> Fleet:
        """The fleet of ``site.devices`` (see :func:`drivers.site_config.fleet_config_from_site`)."""
        from drivers.site_config import fleet_config_from_site

        options = kwargs.pop("options", None)
        return cls(fleet_config_from_site(site, options=options), **kwargs)

    # ------------------------------------------------------------------ access

    def of_kind(self, kind: CapabilityKind) -> dict[str, Adapter]:
        return {a: c for a, c in self.capabilities.items() if c.kind is kind}

    @property
    def meters(self) -> dict[str, Adapter]:
        return self.of_kind(CapabilityKind.METER)

    @property
    def pv_inverters(self) -> dict[str, Adapter]:
        return self.of_kind(CapabilityKind.PV_INVERTER)

    @property
    def storages(self) -> dict[str, Adapter]:
        return self.of_kind(CapabilityKind.STORAGE)

    @property
    def heat_pumps(self) -> dict[str, Adapter]:
        return self.of_kind(CapabilityKind.HEAT_PUMP)

    @property
    def flexible_loads(self) -> dict[str, Adapter]:
        return self.of_kind(CapabilityKind.FLEXIBLE_LOAD)

    def device(self, device_id: str) -> ModbusDevice:
        try:
            return self.devices[device_id]
        except KeyError:
            raise UnknownPointError.of("uerr.device_unknown", device=device_id).with_problem(
                "uerr.devices_list", ids=", ".join(sorted(self.devices))) from None

    def asset_of(self, device_id: str) -> tuple[Adapter, str]:
        """The capability adapter a device belongs to, and its role there."""
        self.device(device_id)
        asset_id, role = self._device_asset[device_id]
        return self.capabilities[asset_id], role

    def relax_pacing(self) -> None:
        """For a simulator on loopback only (e.g. faster than real time): no per-unit request interval,
        inter-frame gap, connect delay or reconnect back-off on any link. Busy back-off and timeouts stay."""
        for transport in self.transports.values():
            transport.relax_pacing()

    def health(self) -> dict[str, Health]:
        """Health per device id."""
        return {d: dev.health_state() for d, dev in self.devices.items()}

    # ------------------------------------------------------------------ the cycle

    async def start(self) -> Fleet:
        """Discover SunSpec chains, then read every point class of every device once (ratings, ratios, ...)."""
        await self.discover()
        await self.read_all(force_all=True)
        return self

    async def discover(self, device_ids: Iterable[str] | None = None) -> None:
        """Give each SunSpec device (all, or ``device_ids``) the map of the chain it serves
        (see :mod:`drivers.sunspec_discovery`)."""
        chosen = [self.devices[d] for d in device_ids] if device_ids is not None else list(self.devices.values())
        await asyncio.gather(*(self._discover(d) for d in chosen if d.regmap.sunspec_models))

    async def _discover(self, device: ModbusDevice) -> None:
        """Give a SunSpec device the map of the chain it actually serves (base, models, lengths)."""
        from drivers.sunspec_discovery import SunSpecNotFound, discover_map

        try:
            found = await discover_map(device.transport, device.unit_id, device.regmap)
        except SunSpecNotFound as exc:
            device.health.set_problem("config", str(exc))
            return
        if found is not None:
            device.replace_map(found)
            asset_id, _role = self._device_asset[device.device_id]
            self.capabilities[asset_id].on_map_changed()

    async def read_all(self, *, force_all: bool = False, assets: Iterable[str] | None = None) -> dict[str, AnyReading]:
        """Poll the devices (fast points; slow/static in the background) and return readings by asset id."""
        t0 = time.perf_counter()
        chosen = [self.capabilities[a] for a in assets] if assets is not None else list(self.capabilities.values())
        await asyncio.gather(*(c.poll(force_all=force_all) for c in chosen))
        readings = {c.asset_id: c.reading() for c in chosen}
        self.stats.read_s = time.perf_counter() - t0
        return readings  # type: ignore[return-value]

    async def apply(self, setpoints: Mapping[str, AnySetpoint]) -> dict[str, list[WriteResult]]:
        """Write the setpoints (by asset id) through the safe-write layer, then the due refreshes.

        Returns the write results per asset id; refreshes (heartbeats, revert-timer re-writes) appear under
        their asset too. Unchanged setpoints send nothing.
        """
        t0 = time.perf_counter()
        for asset_id in setpoints:
            if asset_id not in self.capabilities:
                raise UnknownPointError.of("uerr.asset_unknown_setpoint", asset=asset_id).with_problem(
                    "uerr.assets_controllable", ids=", ".join(sorted(self.capabilities)))

        async def one(asset_id: str, sp: AnySetpoint | None) -> list[WriteResult]:
            cap = self.capabilities[asset_id]
            out: list[WriteResult] = []
            if sp is not None:
                out.extend(await _dispatch(cap, sp))
            out.extend(await cap.refresh())
            return out

        ids = list(self.capabilities)
        results = await asyncio.gather(*(one(a, setpoints.get(a)) for a in ids))
        by_asset = {a: r for a, r in zip(ids, results, strict=True) if r}
        self.stats.apply_s = time.perf_counter() - t0
        self.stats.writes = sum(1 for rs in by_asset.values() for r in rs if r.new is not None and r.status.value != "unchanged")
        return by_asset

    async def refresh(self) -> list[WriteResult]:
        """Only the due heartbeats and keep-alive re-writes (when no setpoint changes this cycle)."""
        results = await asyncio.gather(*(c.refresh() for c in self.capabilities.values()))
        return [r for rs in results for r in rs]

    async def write_point(self, device_id: str, point_id: str, value: Any) -> list[WriteResult]:
        """A commissioning write of one point with all the safety rules (and the capability's sequence
        and limits where the point is a capability setpoint)."""
        device = self.device(device_id)
        point = device.point(point_id)
        adapter, role = self.asset_of(device_id)
        if point.access != "w":
            await device.poll([point_id])  # the old value, and "unchanged" if it already holds the value
        return await adapter.write_raw(role, point_id, value)

    async def close(self) -> None:
        await asyncio.gather(*(d.close() for d in self.devices.values()))
        await asyncio.gather(*(t.close() for t in self.transports.values()))

    async def __aenter__(self) -> Fleet:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()


async def _dispatch(cap: Adapter, sp: AnySetpoint) -> list[WriteResult]:
    kind = _SETPOINT_KIND.get(type(sp))
    if kind is not cap.kind:
        return [cap.refuse(f"{type(sp).__name__} does not apply to a {cap.kind.value}", requested=repr(sp))]
    if isinstance(sp, PVSetpoint):
        return await cap.set_limit(sp.p_limit_kw)  # type: ignore[attr-defined]
    if isinstance(sp, StorageSetpoint):
        return await cap.set_power(sp.p_kw)  # type: ignore[attr-defined]
    if isinstance(sp, HeatPumpSetpoint):
        return await cap.set_power(sp.p_el_kw)  # type: ignore[attr-defined]
    return await cap.set_power(sp.p_kw)  # type: ignore[attr-defined]


__all__ = ["AssetConfig", "CycleStats", "DeviceConfig", "Fleet", "FleetConfig"]
