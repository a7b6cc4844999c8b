"""The runtime's port to the devices, and the pure conversion of readings into controller units.

:class:`FleetPort` is what the runtime needs from the drivers: poll every capability, return the
readings (the drivers' :mod:`drivers.capabilities` dataclasses, already in park units and the park sign
convention), and write setpoints through the drivers' safe writes. :class:`DriverFleet` in
:mod:`microgrid.control.driver_fleet` implements it over the drivers' fleet built from a site; tests may
implement it in memory.

The conversion functions here (:func:`pv_units`, :func:`storage_units`, :func:`load_units`) are pure.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Protocol

from drivers.capabilities import (
    FlexLoadReading,
    HeatPumpReading,
    MeterReading,
    PVReading,
    StorageReading,
    StorageState,
)
from microgrid.control.controllers.loads import LoadUnit
from microgrid.control.controllers.types import PVUnit, StorageUnit
from microgrid.control.telemetry import BAD, GOOD, STALE
from microgrid.site.models import Site


@dataclass
class FleetReadings:
    """All capability readings of one poll, keyed by asset (or meter) id."""

    meters: dict[str, MeterReading] = field(default_factory=dict)
    pv: dict[str, PVReading] = field(default_factory=dict)
    storage: dict[str, StorageReading] = field(default_factory=dict)
    heat_pumps: dict[str, HeatPumpReading] = field(default_factory=dict)
    flex: dict[str, FlexLoadReading] = field(default_factory=dict)
    """Flexible loads and EV depots."""


@dataclass(frozen=True)
class WriteOutcome:
    """One setpoint write as the runtime records it (audit), in park units."""

    asset_id: str
    device_id: str
    point: str
    requested: float | None
    """Value asked for by the controller (kW, park convention; ``None`` = release the limit)."""
    old: float | None
    new: float | None
    """Value sent, in the point's device units (after clamping)."""
    status: str
    """``ok``, ``unchanged``, ``refused``, ``rate_limited``, ``failed``, ``readback_mismatch``."""
    message: str = ""
    reason: str = "setpoint"
    user: str = "controller"
    """Who caused the write: ``controller``, or the operator whose override or command it carries out."""


class FleetPort(Protocol):
    """Devices as the runtime sees them."""

    async def poll(self) -> FleetReadings:
        """Poll what is due and return the latest reading of every capability."""
        ...

    async def set_pv_limit(self, asset_id: str, p_limit_kw: float | None) -> list[WriteOutcome]: ...

    async def set_storage(self, asset_id: str, p_kw: float) -> list[WriteOutcome]: ...

    async def set_heat_pump(self, asset_id: str, p_el_kw: float | None) -> list[WriteOutcome]: ...

    async def set_flex(self, asset_id: str, p_kw: float | None) -> list[WriteOutcome]: ...

    async def refresh(self) -> list[WriteOutcome]:
        """Keep-alives and heartbeats that are due (device revert timers)."""
        ...

    async def close(self) -> None: ...


def without(readings: FleetReadings, asset_ids: frozenset[str] | set[str]) -> FleetReadings:
    """``readings`` without the assets ``asset_ids`` (out of service: the controllers treat them as absent)."""
    if not asset_ids:
        return readings
    return FleetReadings(
        meters=readings.meters,
        pv={k: v for k, v in readings.pv.items() if k not in asset_ids},
        storage={k: v for k, v in readings.storage.items() if k not in asset_ids},
        heat_pumps={k: v for k, v in readings.heat_pumps.items() if k not in asset_ids},
        flex={k: v for k, v in readings.flex.items() if k not in asset_ids},
    )


def pcc_meter_id(site: Site) -> str:
    """Id of the site's PCC meter (the first meter with ``scope: pcc``)."""
    for meter in site.meters:
        if meter.scope == "pcc":
            return meter.id
    raise KeyError("the site has no meter with scope 'pcc'")


def pv_units(site: Site, readings: Mapping[str, PVReading], commanded: Mapping[str, float]) -> tuple[PVUnit, ...]:
    """Controller view of every PV plant of the site.

    The limit in force is the one the device reports (``None``: not limited), else the last commanded one.
    A plant without a valid reading is offline (not written).
    """
    out = []
    for plant in site.assets.pv:
        r = readings.get(plant.id)
        online = r is not None and r.valid and r.p_kw is not None
        rating = plant.inverter_ac_kw
        p_kw = max(float(r.p_kw), 0.0) if online and r.p_kw is not None else 0.0
        if online:  # what the device reports is in force (it may have reverted by its own timer)
            limit = float(r.p_limit_kw) if r.p_limit_kw is not None else None
        else:
            limit = commanded.get(plant.id)
        out.append(PVUnit(plant.id, rating, p_kw=p_kw, limit_kw=limit, online=online, curtailable=plant.curtailable))
    return tuple(out)


def storage_units(site: Site, readings: Mapping[str, StorageReading],
                  commanded: Mapping[str, float], horizon_s: float = 0.0) -> tuple[StorageUnit, ...]:
    """Controller view of every battery: runtime limits (BMS) within the site ratings, SoC, flags.

    A battery with no valid reading, no SoC or in ``fault`` is offline. A BMS limit of 0 kW in one
    direction means that direction is not allowed. With ``horizon_s`` > 0 (the control cycle) the power
    limits also keep to the energy left above ``soc_min`` / below ``soc_max`` for that long, so a battery
    about to run empty is not counted on for a whole cycle it cannot last.
    """
    out = []
    for bat in site.assets.batteries:
        r = readings.get(bat.id)
        online = (r is not None and r.valid and r.p_kw is not None and r.soc_pct is not None
                  and r.state != StorageState.FAULT)
        ch_max, dis_max = bat.p_charge_max_kw, bat.p_discharge_max_kw
        if r is not None and r.p_charge_max_kw is not None:
            ch_max = min(ch_max, max(float(r.p_charge_max_kw), 0.0))
        if r is not None and r.p_discharge_max_kw is not None:
            dis_max = min(dis_max, max(float(r.p_discharge_max_kw), 0.0))
        p_kw = float(r.p_kw) if online and r.p_kw is not None else 0.0
        soc = float(r.soc_pct) if online and r.soc_pct is not None else bat.soc_initial_pct
        if horizon_s > 0:
            hours = horizon_s / 3600
            dis_max = min(dis_max, bat.deliverable_kwh(soc) / hours)
            ch_max = min(ch_max, max(bat.soc_max_pct - soc, 0.0) / 100 * bat.e_kwh / bat.eta_charge / hours)
        setpoint = commanded.get(bat.id)
        if online and r.p_setpoint_kw is not None:
            setpoint = float(r.p_setpoint_kw)
        out.append(StorageUnit(bat.id, p_charge_max_kw=ch_max, p_discharge_max_kw=dis_max, p_kw=p_kw,
                               setpoint_kw=setpoint, soc_pct=soc, soc_min_pct=bat.soc_min_pct,
                               soc_max_pct=bat.soc_max_pct, charge_allowed=ch_max > 0,
                               discharge_allowed=dis_max > 0, ramp_kw_per_s=bat.ramp_kw_per_s, online=online))
    return tuple(out)


def load_units(site: Site, hp: Mapping[str, HeatPumpReading], flex: Mapping[str, FlexLoadReading]) -> list[LoadUnit]:
    """Controllable consumers (heat pumps, flexible loads, EV depots) with their site power ranges."""
    out = []
    for h in site.assets.heat_pumps:
        r = hp.get(h.id)
        out.append(LoadUnit(h.id, h.p_el_max_kw, h.p_el_min_kw, online=r is not None and r.valid))
    for f in site.assets.flexible_loads:
        r = flex.get(f.id)
        out.append(LoadUnit(f.id, f.p_max_kw, f.p_min_kw, online=r is not None and r.valid))
    for ev in site.assets.ev_depots:
        r = flex.get(ev.id)
        out.append(LoadUnit(ev.id, ev.p_max_kw, 0.0, online=r is not None and r.valid))
    return out


def held_setpoints(site: Site, readings: FleetReadings) -> dict[str, float | None]:
    """Setpoints the devices report holding (PV limit — rating when not limited —, storage, consumers)."""
    held: dict[str, float | None] = {}
    for k, r in readings.pv.items():
        if r.valid:
            held[k] = r.p_limit_kw if r.p_limit_kw is not None else site.asset(k).inverter_ac_kw  # type: ignore[union-attr]
    for k, r in readings.storage.items():
        if r.valid:
            held[k] = r.p_setpoint_kw
    for k, r in readings.heat_pumps.items():
        if r.valid:
            held[k] = r.p_el_set_kw
    for k, r in readings.flex.items():
        if r.valid:
            held[k] = r.p_set_kw
    return held


def telemetry_samples(readings: FleetReadings,
                      commanded: Mapping[str, float]) -> dict[tuple[str, str], tuple[float | None, int]]:
    """One cycle's telemetry ``{(source, quantity): (value, quality)}`` (store vocabulary: ``p_kw`` import /
    output / discharge > 0 as the readings, ``p_el_kw`` consumption, ``soc_pct``, ``tank_temp_c``, and the
    commanded ``p_limit_kw`` / ``p_setpoint_kw``). Quality: 0 good, 2 stale, 3 bad (never read)."""

    def quality(r) -> int:
        return GOOD if r.valid else (STALE if r.timestamp is not None else BAD)

    out: dict[tuple[str, str], tuple[float | None, int]] = {}
    for k, r in readings.meters.items():
        out[(k, "p_kw")] = (r.p_kw, quality(r))
    for k, r in readings.pv.items():
        out[(k, "p_kw")] = (r.p_kw, quality(r))
        if r.p_available_kw is not None:
            out[(k, "p_avail_kw")] = (r.p_available_kw, quality(r))
        out[(k, "p_limit_kw")] = (commanded.get(k), GOOD)
    for k, r in readings.storage.items():
        out[(k, "p_kw")] = (r.p_kw, quality(r))
        out[(k, "soc_pct")] = (r.soc_pct, quality(r))
        out[(k, "p_setpoint_kw")] = (commanded.get(k), GOOD)
    for k, r in readings.heat_pumps.items():
        out[(k, "p_el_kw")] = (r.p_el_kw, quality(r))
        out[(k, "tank_temp_c")] = (r.tank_temp_c, quality(r))
    for k, r in readings.flex.items():
        out[(k, "p_kw")] = (r.p_kw, quality(r))
    return out
