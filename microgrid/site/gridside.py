"""Site-file block ``gridside:`` — the park answering the grid (docs/gridside.md).

IEC 60870-5-104 and Modbus TCP northbound servers (both off unless enabled, both on loopback by default),
the limits on the set-point commands they accept, the spontaneous-transmission deadbands, and the
demand-response settlement rule. Everything is optional; units are in the names.
"""

from __future__ import annotations

from ipaddress import ip_address
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

NonNeg = Annotated[float, Field(ge=0)]
Port = Annotated[int, Field(ge=0, le=65535)]
"""TCP port; 0 = a free port chosen at start (tests)."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _check_ips(values: list[str]) -> list[str]:
    for value in values:
        try:
            ip_address(value)
        except ValueError:
            raise ValueError(f"'{value}' is not an IP address (e.g. 127.0.0.1 or 10.0.0.5)") from None
    return values


class Deadbands(_Strict):
    """Change of a measured value that triggers a spontaneous transmission (104) — data, not code."""

    power_kw: NonNeg = 10.0
    reactive_kvar: NonNeg = 10.0
    voltage_v: NonNeg = 20.0
    frequency_hz: NonNeg = 0.01
    soc_pct: NonNeg = 0.5
    ratio_pct: NonNeg = 0.1
    code: NonNeg = 0.0
    """Mode codes and set-point read-backs: every change is sent."""


class CommandLimits(_Strict):
    """What the set-point commands (104, Modbus, API) may ask for; anything else is refused with its cause."""

    pcc_limit_min_kw: NonNeg = 0.0
    """Lowest PCC import limit accepted, kW (default 0: zero import may be commanded)."""
    pcc_limit_max_kw: NonNeg | None = None
    """Highest PCC import limit accepted, kW (default: the site's import cap; a higher one would be no limit)."""
    hold_min: Annotated[float, Field(gt=0, le=1440)] = 60.0
    """A commanded PCC limit or DR target expires this long after the command unless renewed, min."""
    dr_min_duration_min: Annotated[float, Field(gt=0, le=1440)] = 15.0
    dr_max_duration_min: Annotated[float, Field(gt=0, le=1440)] = 240.0


class _Listener(_Strict):
    """A northbound server's listen address and the clients it accepts."""

    enabled: bool = False
    host: str = "127.0.0.1"
    """Listen address; loopback unless the park's SCADA network is named here."""
    allowed_clients: list[str] = ["127.0.0.1"]
    """Only these client IP addresses may connect (others are refused at connect and logged)."""

    @field_validator("allowed_clients")
    @classmethod
    def _clients(cls, value: list[str]) -> list[str]:
        return _check_ips(value)

    @field_validator("host")
    @classmethod
    def _host(cls, value: str) -> str:
        return _check_ips([value])[0]


class Iec104Settings(_Listener):
    port: Port = 2404
    common_address: Annotated[int, Field(ge=1, le=65534)] = 1
    select_timeout_s: Annotated[float, Field(gt=0, le=300)] = 10.0
    """Select-before-operate: the execute must follow the select within this time."""
    ioa_base: Annotated[int, Field(ge=1, le=16000000)] = 1001
    """Information object address of the first point (the table numbers upwards, docs/gridside.md)."""


class ModbusNorthSettings(_Listener):
    port: Port = 1502
    unit_id: Annotated[int, Field(ge=1, le=247)] = 1
    writes_enabled: bool = False
    """Read-only unless true: then the set-point holding registers accept the same commands as 104."""


class BaselineRule(_Strict):
    """Customer baseline load of a DR event: the common "similar days" rule (docs/gridside.md)."""

    rule: Literal["similar_days"] = "similar_days"
    days: Annotated[int, Field(ge=1, le=20)] = 5
    """Number of similar days averaged (the N most recent)."""
    lookback_days: Annotated[int, Field(ge=1, le=60)] = 10
    """How far back similar days are searched."""
    same_day_type: bool = True
    """Weekdays only for a weekday event, weekend days only for a weekend event."""
    exclude_event_days: bool = True
    """Days that had a DR event of their own are not similar days."""
    min_days: Annotated[int, Field(ge=1, le=20)] = 3
    """Fewer similar days with data than this: no baseline (the event settles as 'no baseline')."""


class DemandResponseSettings(_Strict):
    compensation_cny_per_kwh: NonNeg = 3.0
    """Paid per kWh of delivered reduction (illustrative; the provincial DR notice sets the real figure)."""
    shortfall_penalty_cny_per_kwh: NonNeg = 0.0
    """Charged per kWh of shortfall against the requested reduction (0 = none)."""
    min_delivery_pct: Annotated[float, Field(ge=0, le=100)] = 0.0
    """Delivery below this share of the request earns no compensation (0 = pro rata)."""
    baseline: BaselineRule = BaselineRule()
    schedule_file: str | None = None
    """YAML list of events (relative to the site file), loaded at start (docs/gridside.md)."""


class GridSideSettings(_Strict):
    iec104: Iec104Settings = Iec104Settings()
    modbus: ModbusNorthSettings = ModbusNorthSettings()
    deadbands: Deadbands = Deadbands()
    commands: CommandLimits = CommandLimits()
    demand_response: DemandResponseSettings = DemandResponseSettings()

    @model_validator(mode="after")
    def _distinct_ports(self) -> GridSideSettings:
        a, b = self.iec104, self.modbus
        if a.enabled and b.enabled and a.port and a.port == b.port and a.host == b.host:
            raise ValueError(f"iec104.port and modbus.port are both {a.port} on {a.host}; give each its own port")
        c = self.commands
        if c.dr_min_duration_min > c.dr_max_duration_min:
            raise ValueError("commands.dr_min_duration_min is above commands.dr_max_duration_min")
        return self
