"""Fault injection: scenario files and a programmatic API, applied to devices, endpoints and physics.

A fault has a ``type``, a ``target`` (device, asset, tenant or meter id, depending on the type), a start
(``at_s`` seconds after the park started, or ``at`` = local clock time ``HH:MM[:SS]`` of the simulated
day) and an optional ``duration_s`` (``None``: until cleared). The active set is re-applied from scratch
whenever it changes, so overlapping faults combine and clearing one restores the rest.

==================== =========================== ==================================================
type                 target                      effect (parameters)
==================== =========================== ==================================================
device_offline       device id                   no reply at all (``mode: silent``), or the whole
                                                 host:port stops listening (``mode: refuse``)
response_delay       device id                   every reply waits ``delay_s`` wall seconds
exception            device id                   exception reply ``code`` (busy, illegal_address,
                                                 illegal_value, device_failure or a number) to
                                                 ``requests`` = read / write / all
frozen_values        device id                   measurements stop updating
noise                device id                   Gaussian noise ``sigma_pct`` on P/Q/I/U readings,
                                                 and/or ``sigma_kw`` (primary kW) on active power
wrong_scale          device id                   power/energy readings x ``factor`` (e.g. 10)
meter_loss           meter device id             meter silent (``mode: silent``) or reading 0
                                                 (``mode: zero``, lost CT)
bad_value            device id                   active-power registers hold the raw number ``value``
                                                 (``.inf``, ``.nan``, ``3e38`` in float registers;
                                                 integer registers saturate)
bms_alarm            battery or BMS device id    alarm ``level`` 1-3; level 3 is fatal (contactor
                                                 opens, PCS trips) until reset after clearing
charge_not_allowed   battery or BMS device id    BMS forbids charging
discharge_not_allowed battery or BMS device id   BMS forbids discharging
pcs_trip             battery or PCS device id    PCS trips (latched until fault reset + start);
                                                 batteries without a PCS map stop for the duration
cloud_transient      PV id or none (all PV)      available PV x ``factor`` (0-1)
load_step            tenant id                   tenant base load + ``delta_kw``
==================== =========================== ==================================================
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator
from pymodbus.constants import ExcCodes

from microgrid.errors import UserError
from microgrid.site.loader import load_yaml_unique

if TYPE_CHECKING:
    from sim.park import Park

FaultType = Literal[
    "device_offline",
    "response_delay",
    "exception",
    "frozen_values",
    "noise",
    "wrong_scale",
    "meter_loss",
    "bad_value",
    "bms_alarm",
    "charge_not_allowed",
    "discharge_not_allowed",
    "pcs_trip",
    "cloud_transient",
    "load_step",
]
EXCEPTION_CODES = {
    "illegal_function": ExcCodes.ILLEGAL_FUNCTION,
    "illegal_address": ExcCodes.ILLEGAL_ADDRESS,
    "illegal_value": ExcCodes.ILLEGAL_VALUE,
    "device_failure": ExcCodes.DEVICE_FAILURE,
    "busy": ExcCodes.DEVICE_BUSY,
    "gateway_no_response": ExcCodes.GATEWAY_NO_RESPONSE,
}
DEVICE_TYPES = {
    "device_offline",
    "response_delay",
    "exception",
    "frozen_values",
    "noise",
    "wrong_scale",
    "meter_loss",
    "bad_value",
}


class FaultError(UserError):
    """A fault scenario or injection that cannot be applied."""

    exit_code = 2


class FaultSpec(BaseModel):
    """One fault of a scenario file (see the module docstring for types and parameters)."""

    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)

    type: FaultType
    target: str | None = None
    at_s: Annotated[float, Field(ge=0)] | None = None
    at: str | None = None
    """Local clock time ``HH:MM`` or ``HH:MM:SS`` of the simulated day (the next occurrence after start)."""
    duration_s: Annotated[float, Field(gt=0)] | None = None
    mode: Literal["silent", "refuse", "zero"] | None = None
    delay_s: Annotated[float, Field(gt=0, le=600)] | None = None
    code: str | int | None = None
    requests: Literal["read", "write", "all"] = "all"
    """Which requests an ``exception`` fault answers (``on`` is avoided: YAML reads it as a boolean)."""
    sigma_pct: Annotated[float, Field(gt=0, le=100)] | None = None
    sigma_kw: Annotated[float, Field(gt=0, le=1e6)] | None = None
    factor: Annotated[float, Field(ge=0)] | None = None
    level: Annotated[int, Field(ge=1, le=3)] | None = None
    delta_kw: float | None = None
    value: Annotated[float, Field(allow_inf_nan=True)] | None = None
    """``bad_value``: the raw register number (non-finite allowed: that is the fault)."""
    note: str = ""

    @model_validator(mode="after")
    def _check(self) -> FaultSpec:
        if self.at_s is not None and self.at is not None:
            raise ValueError("give either at_s or at, not both")
        if self.at is not None:
            parts = self.at.split(":")
            if (
                len(parts) not in (2, 3)
                or not all(p.isdigit() for p in parts)
                or int(parts[0]) > 23
                or int(parts[1]) > 59
            ):
                raise ValueError(f"at: {self.at!r} is not a local time HH:MM or HH:MM:SS")
        needs_target = self.type not in ("cloud_transient",)
        if needs_target and not self.target:
            raise ValueError(f"{self.type} needs a target")
        required = {
            "response_delay": "delay_s",
            "exception": "code",
            "wrong_scale": "factor",
            "cloud_transient": "factor",
            "load_step": "delta_kw",
            "bad_value": "value",
        }.get(self.type)
        if self.type == "noise" and self.sigma_pct is None and self.sigma_kw is None:
            raise ValueError("noise needs 'sigma_pct' or 'sigma_kw'")
        if required and getattr(self, required) is None:
            raise ValueError(f"{self.type} needs '{required}'")
        if self.type == "cloud_transient" and self.factor is not None and self.factor > 1:
            raise ValueError("cloud_transient factor must be between 0 and 1")
        if self.type == "exception":
            exception_code(self.code)
        if self.mode == "zero" and self.type != "meter_loss":
            raise ValueError("mode 'zero' is only for meter_loss")
        return self

    def start_s(self, park_start_seconds_of_day: float) -> float:
        """Seconds after the park start at which the fault begins."""
        if self.at is None:
            return self.at_s or 0.0
        hh, mm, *ss = (int(p) for p in self.at.split(":"))
        target = hh * 3600 + mm * 60 + (ss[0] if ss else 0)
        return (target - park_start_seconds_of_day) % 86400.0


class FaultScenario(BaseModel):
    """A fault scenario file: ``faults: [ {type, target, at_s | at, duration_s, ...}, ... ]``."""

    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)

    description: str = ""
    faults: list[FaultSpec] = []


def exception_code(code: str | int | None) -> ExcCodes:
    if isinstance(code, int):
        try:
            return ExcCodes(code)
        except ValueError:
            raise ValueError(f"code {code} is not a Modbus exception code") from None
    if code not in EXCEPTION_CODES:
        raise ValueError(f"code {code!r} unknown; use one of {', '.join(EXCEPTION_CODES)} or a number")
    return EXCEPTION_CODES[code]


def load_scenario(path: str | Path) -> FaultScenario:
    """Read and validate a fault scenario YAML file; ``FaultError`` lists every problem."""
    path = Path(path)
    try:
        data = load_yaml_unique(path.read_bytes().decode("utf-8")) or {}
    except OSError as exc:
        raise FaultError.of("uerr.faults_unreadable", path=str(path), reason=str(exc.strerror or exc)) from None
    except UnicodeDecodeError:
        raise FaultError.of("uerr.faults_not_text", path=str(path)) from None
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        raise FaultError.of("uerr.faults_bad_yaml", path=str(path), detail=f"{where}: {exc.problem or exc.context}") from None
    except yaml.YAMLError as exc:
        raise FaultError.of("uerr.faults_bad_yaml", path=str(path), detail=f": {exc}") from None
    if not isinstance(data, dict):
        raise FaultError.of("uerr.faults_not_mapping", path=str(path)) from None
    try:
        return FaultScenario.model_validate(data)
    except ValidationError as exc:
        problems = []
        for err in exc.errors(include_url=False):
            loc = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in err["loc"]).lstrip(".")
            problems.append(f"{loc or '(top level)'}: {err['msg'].removeprefix('Value error, ')}")
        raise FaultError.of("uerr.faults_problems", problems, path=str(path), n=len(problems)) from None


@dataclass
class ActiveFault:
    id: int
    spec: FaultSpec
    start_s: float
    end_s: float | None
    state: Literal["scheduled", "active", "cleared"] = "scheduled"
    applied: dict[str, Any] = field(default_factory=dict)


class FaultManager:
    """Schedules, activates and clears faults on a :class:`sim.park.Park`."""

    def __init__(self, park: Park) -> None:
        self.park = park
        self.faults: list[ActiveFault] = []
        self._ids = itertools.count(1)
        self.changed = False

    # ------------------------------------------------------------------------------------------ input
    def load(self, scenario: FaultScenario | str | Path) -> list[ActiveFault]:
        if not isinstance(scenario, FaultScenario):
            scenario = load_scenario(scenario)
        return [self.schedule(spec) for spec in scenario.faults]

    def schedule(self, spec: FaultSpec) -> ActiveFault:
        self._check_target(spec)
        if spec.at is not None:  # next occurrence of that local time, counted from the park's start
            start = spec.start_s(self.park.start_seconds_of_day)
            while start < self.park.t_s - 1e-9:
                start += 86400.0
        else:
            start = spec.start_s(0.0)
        end = start + spec.duration_s if spec.duration_s is not None else None
        fault = ActiveFault(next(self._ids), spec, start, end)
        self.faults.append(fault)
        self.tick(self.park.t_s)
        return fault

    def inject(
        self, type: FaultType, target: str | None = None, *, duration_s: float | None = None, **params: Any
    ) -> ActiveFault:
        """Start a fault now (``at_s`` in params schedules it instead). Returns its handle for :meth:`clear`."""
        at_s = params.pop("at_s", None)
        try:
            spec = FaultSpec(
                type=type,
                target=target,
                duration_s=duration_s,
                at_s=at_s if at_s is not None else self.park.t_s,
                **params,
            )
        except ValidationError as exc:
            raise FaultError(
                f"fault {type}: {exc.errors(include_url=False)[0]['msg'].removeprefix('Value error, ')}"
            ) from None
        return self.schedule(spec)

    def clear(self, fault: ActiveFault | int) -> None:
        fid = fault if isinstance(fault, int) else fault.id
        for item in self.faults:
            if item.id == fid and item.state != "cleared":
                item.state = "cleared"
                self.changed = True
        self._apply()

    def clear_all(self) -> None:
        for item in self.faults:
            item.state = "cleared"
        self.changed = True
        self._apply()

    def active(self) -> list[ActiveFault]:
        return [f for f in self.faults if f.state == "active"]

    def _check_target(self, spec: FaultSpec) -> None:
        park = self.park
        target = spec.target
        if spec.type in DEVICE_TYPES:
            if target not in park.devices:
                raise FaultError(
                    f"fault {spec.type}: unknown device '{target}'", [f"devices: {', '.join(park.devices)}"]
                )
        elif spec.type == "load_step":
            if target not in park.tenants:
                raise FaultError(
                    f"fault load_step: unknown tenant '{target}'", [f"tenants: {', '.join(park.tenants)}"]
                )
        elif spec.type == "cloud_transient":
            if target is not None and target not in park.pvs:
                raise FaultError(
                    f"fault cloud_transient: unknown PV plant '{target}'", [f"PV: {', '.join(park.pvs)}"]
                )
        elif park.battery_of(target) is None:
            raise FaultError(f"fault {spec.type}: '{target}' is neither a battery nor a device serving one")

    # ---------------------------------------------------------------------------------------- progress
    def tick(self, t_s: float) -> None:
        """Activate faults whose start has come and clear those whose duration has passed."""
        changed = False
        for item in self.faults:
            if item.state == "scheduled" and t_s + 1e-9 >= item.start_s:
                item.state = "active"
                changed = True
                if item.spec.type == "pcs_trip":
                    self.park.trip_pcs(item.spec.target or "")
            if item.state == "active" and item.end_s is not None and t_s + 1e-9 >= item.end_s:
                item.state = "cleared"
                changed = True
        if changed:
            self.changed = True
            self._apply()

    def _apply(self) -> None:
        """Recompute every device's and asset's fault state from the active faults."""
        park = self.park
        from sim.devices.base import DeviceFaults

        for device in park.devices.values():
            device.faults = DeviceFaults()
        for battery in park.batteries.values():
            battery.bms_forced_charge_block = False
            battery.bms_forced_discharge_block = False
            battery.bms_alarm_level = 0
            battery.tripped_by_fault = False
        park.pv_factor.clear()
        for tenant in park.tenants.values():
            tenant.extra_kw = 0.0
        park.endpoints_down.clear()
        for item in self.active():
            spec = item.spec
            kind = spec.type
            if kind in DEVICE_TYPES:
                device = park.devices[spec.target or ""]
                faults = device.faults
                if kind in ("device_offline", "meter_loss"):
                    if spec.mode == "refuse":
                        park.endpoints_down.add(park.endpoint_of(device.device.id))
                    elif spec.mode == "zero":
                        faults.zero = True
                    else:
                        faults.silent = True
                elif kind == "response_delay":
                    faults.delay_s = max(faults.delay_s, spec.delay_s or 0.0)
                elif kind == "exception":
                    faults.exception = exception_code(spec.code)
                    faults.exception_on = spec.requests
                elif kind == "frozen_values":
                    faults.frozen = True
                elif kind == "noise":
                    faults.noise_pct = spec.sigma_pct or 0.0
                    faults.noise_kw = spec.sigma_kw or 0.0
                elif kind == "bad_value":
                    faults.raw_value = spec.value
                elif kind == "wrong_scale":
                    faults.scale_factor = spec.factor if spec.factor is not None else 1.0
            elif kind == "cloud_transient":
                for pv_id in [spec.target] if spec.target else list(park.pvs):
                    park.pv_factor[pv_id] = park.pv_factor.get(pv_id, 1.0) * (
                        spec.factor if spec.factor is not None else 1.0
                    )
            elif kind == "load_step":
                park.tenants[spec.target or ""].extra_kw += spec.delta_kw or 0.0
            else:
                battery = park.battery_of(spec.target)
                assert battery is not None
                if kind == "bms_alarm":
                    battery.bms_alarm_level = max(battery.bms_alarm_level, spec.level or 3)
                elif kind == "charge_not_allowed":
                    battery.bms_forced_charge_block = True
                elif kind == "discharge_not_allowed":
                    battery.bms_forced_discharge_block = True
                elif kind == "pcs_trip":
                    battery.tripped_by_fault = True
