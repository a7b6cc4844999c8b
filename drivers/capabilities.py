"""Device capabilities ("natures", as in OpenEMS): what the controller sees of a device.

The controller never sees registers, scales or vendor signs: only these readings and setpoints, in park
units (kW, kWh, %, °C) and the ONE park sign convention (DESIGN.md §3):

- power flowing **into the park bus from the asset is positive**: PV output > 0, battery discharge > 0 and
  charge < 0;
- meters: **import through the meter is positive** (grid → park at the PCC, bus → tenant at a tenant
  meter), export negative;
- loads (heat pumps, flexible loads, EV chargers) report **consumption > 0** in fields named ``*_el_kw`` /
  ``p_kw`` of a load reading and enter the park balance with a minus sign.

Each reading carries when it was read (``timestamp``, tz-aware, of the oldest control-relevant value),
``age_s``, ``stale`` (older than the device's limit: must not be used for control) and the device
``health``. ``valid`` combines them. Channel tables (:data:`CHANNELS`) document unit, access and sign of
every field, for the docs and the CLI.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from datetime import datetime
from enum import StrEnum
from typing import TYPE_CHECKING, ClassVar, Literal, Protocol, runtime_checkable

from drivers.health import Health

if TYPE_CHECKING:
    from drivers.device import ModbusDevice
    from drivers.safewrite import WriteResult


class CapabilityKind(StrEnum):
    METER = "meter"
    PV_INVERTER = "pv_inverter"
    STORAGE = "storage"
    HEAT_PUMP = "heat_pump"
    FLEXIBLE_LOAD = "flexible_load"


class StorageState(StrEnum):
    RUNNING = "running"
    STANDBY = "standby"
    STOPPED = "stopped"
    FAULT = "fault"
    UNKNOWN = "unknown"


# ---------------------------------------------------------------------------------------------- readings


@dataclass(frozen=True, kw_only=True)
class Reading:
    """Common part of every capability reading."""

    asset_id: str
    device_ids: tuple[str, ...]
    timestamp: datetime | None
    """When the oldest control-relevant value was read (tz-aware); ``None`` if never read."""
    age_s: float | None
    """Age of that value on the driver's clock, s."""
    stale: bool
    """True if a control-relevant value is missing or older than its limit: do not use for control."""
    health: Health
    """Worst health of the devices behind the capability."""
    problems: tuple[str, ...] = ()
    """Standing problems (readback mismatch, configuration differences, device alarms)."""

    @property
    def valid(self) -> bool:
        """Usable for control: fresh and the devices not offline."""
        return not self.stale and self.health is not Health.OFFLINE and self.timestamp is not None


@dataclass(frozen=True, kw_only=True)
class MeterReading(Reading):
    p_kw: float | None
    q_kvar: float | None = None
    v_v: float | None = None
    i_a: float | None = None
    f_hz: float | None = None
    pf: float | None = None
    e_import_kwh: float | None = None
    e_export_kwh: float | None = None


@dataclass(frozen=True, kw_only=True)
class PVReading(Reading):
    p_kw: float | None
    p_rated_kw: float | None = None
    p_limit_kw: float | None = None
    p_limit_pct: float | None = None
    limit_active: bool | None = None
    p_available_kw: float | None = None
    state: str = ""
    e_total_kwh: float | None = None


@dataclass(frozen=True, kw_only=True)
class StorageReading(Reading):
    p_kw: float | None
    soc_pct: float | None = None
    p_setpoint_kw: float | None = None
    p_charge_max_kw: float | None = None
    p_discharge_max_kw: float | None = None
    state: StorageState = StorageState.UNKNOWN
    soh_pct: float | None = None
    e_capacity_kwh: float | None = None
    alarms: tuple[str, ...] = ()


@dataclass(frozen=True, kw_only=True)
class HeatPumpReading(Reading):
    p_el_kw: float | None
    p_el_set_kw: float | None = None
    p_el_max_kw: float | None = None
    mode: str = ""
    status: str = ""
    tank_temp_c: float | None = None
    supply_temp_c: float | None = None
    return_temp_c: float | None = None
    ambient_temp_c: float | None = None
    q_th_kw: float | None = None
    cop: float | None = None
    heat_draw_kw: float | None = None
    alarms: tuple[str, ...] = ()


@dataclass(frozen=True, kw_only=True)
class FlexLoadReading(Reading):
    p_kw: float | None
    p_baseline_kw: float | None = None
    p_max_kw: float | None = None
    p_set_kw: float | None = None
    remote: bool | None = None
    e_pending_kwh: float | None = None
    status: str = ""
    n_connected: int | None = None


AnyReading = MeterReading | PVReading | StorageReading | HeatPumpReading | FlexLoadReading


# --------------------------------------------------------------------------------------------- setpoints


@dataclass(frozen=True)
class PVSetpoint:
    """Active power limit of a PV inverter/plant, kW AC (≥ 0); ``None`` = no limit (100 % of rating)."""

    p_limit_kw: float | None


@dataclass(frozen=True)
class StorageSetpoint:
    """Battery active power at the AC terminals, kW: discharge > 0, charge < 0, 0 = hold."""

    p_kw: float


@dataclass(frozen=True)
class HeatPumpSetpoint:
    """Electrical consumption setpoint, kW (≥ 0, power mode); ``None`` = back to the unit's thermostat."""

    p_el_kw: float | None


@dataclass(frozen=True)
class FlexLoadSetpoint:
    """Consumption cap / setpoint, kW (≥ 0, remote mode); ``None`` = back to local (baseline) control."""

    p_kw: float | None


AnySetpoint = PVSetpoint | StorageSetpoint | HeatPumpSetpoint | FlexLoadSetpoint


# ------------------------------------------------------------------------------------- channel tables


@dataclass(frozen=True)
class Channel:
    """Documentation of one reading or setpoint field: unit, access and sign."""

    name: str
    unit: str
    access: Literal["r", "w"]
    sign: str
    description: str


CHANNELS: dict[CapabilityKind, tuple[Channel, ...]] = {
    CapabilityKind.METER: (
        Channel("p_kw", "kW", "r", "+ import through the meter", "active power, primary side"),
        Channel("q_kvar", "kvar", "r", "+ import (as the meter reports)", "reactive power, primary side"),
        Channel("v_v", "V", "r", "", "mean phase-to-neutral voltage, primary side"),
        Channel("i_a", "A", "r", "", "mean phase current, primary side"),
        Channel("f_hz", "Hz", "r", "", "frequency"),
        Channel("pf", "", "r", "as the meter reports", "total power factor"),
        Channel("e_import_kwh", "kWh", "r", "≥ 0 counter", "imported energy, primary side"),
        Channel("e_export_kwh", "kWh", "r", "≥ 0 counter", "exported energy, primary side"),
    ),
    CapabilityKind.PV_INVERTER: (
        Channel("p_kw", "kW", "r", "+ output into the bus", "AC active power"),
        Channel("p_rated_kw", "kW", "r", "≥ 0", "rating the limit percentage refers to (device)"),
        Channel("p_limit_kw", "kW", "r", "≥ 0", "active power limit in force (None: no limit)"),
        Channel("p_limit_pct", "%", "r", "≥ 0", "active power limit, % of rating"),
        Channel("limit_active", "", "r", "", "the device reports that it is limiting"),
        Channel("p_available_kw", "kW", "r", "≥ 0", "power available without limit (None if unknown)"),
        Channel("setpoint p_limit_kw", "kW", "w", "≥ 0", "active power limit; None = 100 %"),
    ),
    CapabilityKind.STORAGE: (
        Channel("p_kw", "kW", "r", "+ discharge, − charge", "AC active power"),
        Channel("soc_pct", "%", "r", "", "state of charge"),
        Channel("p_setpoint_kw", "kW", "r", "+ discharge, − charge", "setpoint the device holds"),
        Channel("p_charge_max_kw", "kW", "r", "≥ 0", "charge power allowed now (device, BMS, site)"),
        Channel("p_discharge_max_kw", "kW", "r", "≥ 0", "discharge power allowed now (device, BMS, site)"),
        Channel("state", "", "r", "", "running / standby / stopped / fault / unknown"),
        Channel("setpoint p_kw", "kW", "w", "+ discharge, − charge", "active power setpoint"),
    ),
    CapabilityKind.HEAT_PUMP: (
        Channel("p_el_kw", "kW", "r", "+ consumption", "electrical power"),
        Channel("p_el_set_kw", "kW", "r", "+ consumption", "power setpoint the unit holds"),
        Channel("mode", "", "r", "", "thermostat / power setpoint"),
        Channel("tank_temp_c", "°C", "r", "", "tank temperature"),
        Channel("supply_temp_c", "°C", "r", "", "supply (flow) temperature"),
        Channel("setpoint p_el_kw", "kW", "w", "+ consumption", "power setpoint; None = thermostat"),
    ),
    CapabilityKind.FLEXIBLE_LOAD: (
        Channel("p_kw", "kW", "r", "+ consumption", "actual consumption"),
        Channel("p_baseline_kw", "kW", "r", "+ consumption", "consumption under local control now"),
        Channel("p_set_kw", "kW", "r", "+ consumption", "cap / setpoint the controller holds"),
        Channel("remote", "", "r", "", "True: follows the EMS setpoint"),
        Channel("setpoint p_kw", "kW", "w", "+ consumption", "cap / setpoint; None = local control"),
    ),
}


# -------------------------------------------------------------------------------------- protocols


@runtime_checkable
class Capability(Protocol):
    """What every capability offers the fleet and the controller."""

    kind: ClassVar[CapabilityKind]
    asset_id: str

    @property
    def devices(self) -> tuple[ModbusDevice, ...]: ...

    def reading(self) -> Reading: ...

    async def poll(self, *, force_all: bool = False) -> None: ...

    async def refresh(self) -> list[WriteResult]: ...


class Meter(Capability, Protocol):
    def reading(self) -> MeterReading: ...


class PVInverter(Capability, Protocol):
    def reading(self) -> PVReading: ...

    async def set_limit(self, p_limit_kw: float | None) -> list[WriteResult]: ...


class Storage(Capability, Protocol):
    def reading(self) -> StorageReading: ...

    async def set_power(self, p_kw: float) -> list[WriteResult]: ...


class HeatPump(Capability, Protocol):
    def reading(self) -> HeatPumpReading: ...

    async def set_power(self, p_el_kw: float | None) -> list[WriteResult]: ...


class FlexibleLoad(Capability, Protocol):
    def reading(self) -> FlexLoadReading: ...

    async def set_power(self, p_kw: float | None) -> list[WriteResult]: ...


def reading_fields(reading: Reading) -> dict[str, object]:
    """The capability-specific fields of a reading (without the common metadata), for display."""
    common = {f.name for f in fields(Reading)}
    return {f.name: getattr(reading, f.name) for f in fields(reading) if f.name not in common}


__all__ = [
    "CHANNELS",
    "AnyReading",
    "AnySetpoint",
    "Capability",
    "CapabilityKind",
    "Channel",
    "FlexLoadReading",
    "FlexLoadSetpoint",
    "FlexibleLoad",
    "HeatPump",
    "HeatPumpReading",
    "HeatPumpSetpoint",
    "Meter",
    "MeterReading",
    "PVInverter",
    "PVReading",
    "PVSetpoint",
    "Reading",
    "Storage",
    "StorageReading",
    "StorageSetpoint",
    "StorageState",
    "reading_fields",
]
