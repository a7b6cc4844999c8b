"""Base of the simulated devices: the register state of one Modbus device and its write/request handling.

A device keeps ``values`` — the engineering value of every point of its register map (measurements and
settings; ``None`` = not implemented, served as the map's sentinel). Subclasses (one small module per map
family) give the device its semantics:

- :meth:`DeviceModel.on_write` — what a client write does (scale, enable flags, sequences, timers);
- :meth:`DeviceModel.tick` — timers that run with simulated time (revert timers, watchdogs, heartbeats);
- :meth:`DeviceModel.command` — push the device's current commands into the asset runtime before physics;
- :meth:`DeviceModel.measure` — update measurement points from the physical state after physics.

Each family converts between the device's raw sign convention and the park convention in exactly one place
(its ``command`` / ``measure``). The Modbus layer (:mod:`sim.modbus.server`) serves ``served`` — ``values``
after measurement faults (frozen, noise, wrong scale, zero) — and routes client writes here.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from pymodbus.client.mixin import ModbusClientMixin
from pymodbus.constants import ExcCodes

from drivers.registermap import Point, RegisterMap, check_range, decode, encode, raw_range
from microgrid.site.models import Device

if TYPE_CHECKING:
    from sim.park import Park

WRITE_FCS = frozenset({5, 6, 15, 16, 22, 23})
POWER_UNITS = frozenset({"W", "kW", "var", "kvar", "VA", "kVA", "A"})
NOISY_UNITS = POWER_UNITS | {"V"}
ENERGY_UNITS = frozenset({"Wh", "kWh"})
ACTIVE_POWER_UNITS = frozenset({"W", "kW"})
_UNSET = object()
DATATYPE = ModbusClientMixin.DATATYPE
_INT_TYPES = {"u16": DATATYPE.UINT16, "i16": DATATYPE.INT16, "u32": DATATYPE.UINT32, "i32": DATATYPE.INT32,
              "u64": DATATYPE.UINT64, "i64": DATATYPE.INT64}



@dataclass
class DeviceFaults:
    """Communication and measurement faults currently applied to one device (set by :mod:`sim.faults`)."""

    silent: bool = False
    """No reply at all (device offline on a shared line, or meter loss)."""
    delay_s: float = 0.0
    """Wall-clock seconds added before every reply."""
    exception: ExcCodes | None = None
    exception_on: str = "all"
    """``read``, ``write`` or ``all`` requests get the exception reply."""
    frozen: bool = False
    noise_pct: float = 0.0
    """Gaussian noise, standard deviation in percent of the value, on power/current/voltage measurements."""
    noise_kw: float = 0.0
    """Gaussian noise, standard deviation in kW at the primary side, on active-power measurements (noise of
    a CT or transducer scales with its full range, not with the value)."""
    scale_factor: float = 1.0
    """Measured power/energy values are multiplied by this (a wrong scale in the device)."""
    zero: bool = False
    """Power and current measurements read 0 (e.g. a lost CT)."""
    raw_value: float | None = None
    """Active-power measurement registers carry this raw number (float registers even ``inf``/``nan``/
    ``3e38``; integer registers saturate at their range): a corrupted or misconfigured device."""

    def active(self) -> bool:
        return self != DeviceFaults()


@dataclass
class WriteRecord:
    t_s: float
    point_id: str
    value: Any


class DeviceModel:
    """One simulated Modbus device (a unit id on an endpoint) bound to its asset or meter."""

    family = "generic"

    def __init__(self, device: Device, rmap: RegisterMap, park: Park) -> None:
        self.device = device
        self.map = rmap
        self.park = park
        self.values: dict[str, Any] = {}
        self.served: dict[str, Any] = {}
        self.faults = DeviceFaults()
        self.writes: list[WriteRecord] = []
        self.t_last_request_s: float | None = None
        self.t_last_write_s: float | None = None
        self.requests = 0
        self._rng = random.Random(f"{park.seed}:{device.id}")
        for point in rmap.points:
            self.values[point.id] = (
                point.default
                if point.default is not None
                else (None if point.not_implemented is not None else 0)
            )
        self.setup()
        self.served = dict(self.values)
        self.changed: set[str] = {point.id for point in rmap.points}
        """Points whose served value changed since the endpoint last published them (all at first)."""
        self._sf_users: dict[str, tuple[str, ...]] = {}
        for point in rmap.points:
            if point.scale_sf:
                self._sf_users[point.scale_sf] = (*self._sf_users.get(point.scale_sf, ()), point.id)
        # per point: (id, a measurement the faults act on, unit, readable, point) — decided once, not every step
        self._served_plan = tuple(
            (point.id, point.access == "r" and bool(point.unit) and point.type not in ("bits16", "bits32", "bool")
             and not point.enum, point.unit, point.access == "r", point)
            for point in rmap.points)

    # ------------------------------------------------------------------------------------------ hooks

    def setup(self) -> None:
        """Set rating-dependent values at construction (after the map defaults)."""

    def check_write(self, point: Point, value: Any) -> ExcCodes | None:
        """Device-specific refusal of a write (beyond access and min/max), or ``None`` to accept."""
        return None

    def on_write(self, point_id: str, value: Any) -> None:
        """Apply an accepted client write (``values`` already holds the new value)."""

    def on_request(self) -> None:
        """Any client request arrived (reads included): feeds communication watchdogs."""

    def tick(self, dt_s: float) -> None:
        """Advance device timers by ``dt_s`` simulated seconds."""

    def command(self) -> None:
        """Push the device's commands into its asset runtime (before the physics step)."""

    def measure(self) -> None:
        """Update measurement values from the physical state (after the physics step)."""

    # ------------------------------------------------------------------------------------------- helpers

    @property
    def t_s(self) -> float:
        return self.park.t_s

    @property
    def now(self) -> datetime:
        return self.park.now

    def set(self, point_id: str, value: Any) -> None:
        """Set a value if the map has the point (maps may omit optional points)."""
        if point_id in self.values:
            self.values[point_id] = value

    def get(self, point_id: str, default: Any = 0) -> Any:
        value = self.values.get(point_id, default)
        return default if value is None else value

    def sf_of(self, point: Point) -> int | None:
        if point.scale_sf is None:
            return None
        sf = self.served.get(point.scale_sf)
        return int(sf) if sf is not None else 0

    # ----------------------------------------------------------------------------------- served values

    def refresh_served(self) -> None:
        """Recompute what is published from ``values``, applying the measurement faults; note what changed."""
        faults = self.faults
        served, values, changed = self.served, self.values, self.changed
        plain = not (faults.frozen or faults.zero or faults.scale_factor != 1.0 or faults.noise_pct > 0
                     or faults.noise_kw > 0)
        for pid, faultable, unit, readable, point in self._served_plan:
            value = values[pid]
            if not plain and readable and isinstance(value, int | float):
                if faults.frozen and pid in served:
                    continue
                if faultable:
                    value = self._faulty(point, unit, value)
            old = served.get(pid, _UNSET)
            if old is not value and old != value:
                served[pid] = value
                changed.add(pid)

    def _faulty(self, point: Point, unit: str, value: float) -> float:
        """A measurement as the active faults make the device serve it."""
        faults = self.faults
        if faults.zero and unit in POWER_UNITS:
            value = 0.0
        if faults.scale_factor != 1.0 and unit in POWER_UNITS | ENERGY_UNITS and unit != "A":
            value = value * faults.scale_factor
        if faults.noise_pct > 0 and unit in NOISY_UNITS:
            value = value * (1.0 + self._rng.gauss(0.0, faults.noise_pct / 100.0))
        if faults.noise_kw > 0 and unit in ACTIVE_POWER_UNITS:
            value = value + self._rng.gauss(0.0, faults.noise_kw) / self._kw_per_unit(point)
        return value

    def take_changed(self) -> set[str]:
        """The points to re-publish (changed values and the points scaled by a changed scale factor); clears."""
        out, self.changed = self.changed, set()
        for sf in [p for p in out if p in self._sf_users]:
            out.update(self._sf_users[sf])
        return out

    def mark_all_changed(self) -> None:
        self.changed = {point.id for point in self.map.points}

    def _kw_per_unit(self, point: Point) -> float:
        """Primary-side kW per unit of the served value (W or kW, times the point's PT/CT ratios)."""
        factor = 0.001 if point.unit == "W" else 1.0
        for ratio in point.multiply_by:
            factor *= float(self.values.get(ratio) or 1.0)
        return factor

    def registers_of(self, point: Point) -> list[int]:
        """Registers (or ``[0|1]`` for bit points) of the served value, saturating at the raw type's range."""
        raw = self.faults.raw_value
        if raw is not None and point.access == "r" and point.unit in ACTIVE_POWER_UNITS and point.table in (
            "holding", "input"
        ):
            return encode_raw(point, raw)
        return encode_saturating(point, self.served.get(point.id), self.sf_of(point))

    # -------------------------------------------------------------------------------------- client side

    def note_request(self) -> None:
        self.requests += 1
        self.t_last_request_s = self.t_s
        self.on_request()

    def client_write(self, table: str, address: int, set_values: list[int] | list[bool]) -> ExcCodes | None:
        """Validate and apply a client write of ``set_values`` at ``address``; an exception code refuses it."""
        end = address + len(set_values)
        touched = [p for p in self.map.points if p.table == table and p.address < end and p.end > address]
        if not touched:
            return ExcCodes.ILLEGAL_ADDRESS
        accepted: list[tuple[Point, Any]] = []
        for point in touched:
            if not point.writable:
                return ExcCodes.ILLEGAL_ADDRESS
            regs = self.registers_of(point)
            for i, reg in enumerate(set_values):
                offset = address + i - point.address
                if 0 <= offset < point.n_registers:
                    regs[offset] = int(reg)
            try:
                value = decode(point, regs, self.sf_of(point))
            except ValueError:
                return ExcCodes.ILLEGAL_VALUE
            if value is None:
                return ExcCodes.ILLEGAL_VALUE
            if isinstance(value, int | float) and not isinstance(value, bool):
                try:
                    check_range(point, value)
                except ValueError:
                    return ExcCodes.ILLEGAL_VALUE
                if (
                    point.enum
                    and point.type in ("u16", "u32")
                    and int(value) not in point.enum
                    and point.min is None
                ):
                    return ExcCodes.ILLEGAL_VALUE
            refusal = self.check_write(point, value)
            if refusal is not None:
                return refusal
            accepted.append((point, value))
        self.t_last_write_s = self.t_s
        for point, value in accepted:
            self.values[point.id] = value
            self.served[point.id] = value
            self.changed.add(point.id)
            self.writes.append(WriteRecord(self.t_s, point.id, value))
            self.on_write(point.id, value)
        return None


def encode_raw(point: Point, raw: float) -> list[int]:
    """Registers holding the raw number ``raw`` as such (no scale): any float32 bit pattern the value maps
    to, including ``inf`` and ``nan``; integer types saturate at their range (``nan`` → 0)."""
    word_order = point.word_order or "big"
    if point.type == "f32":
        return list(ModbusClientMixin.convert_to_registers(raw, DATATYPE.FLOAT32, word_order=word_order))
    bounds = raw_range(point)
    if bounds is None:
        return encode_saturating(point, None, None)
    value = 0 if math.isnan(raw) else int(min(max(raw, bounds[0]), bounds[1]))
    return list(ModbusClientMixin.convert_to_registers(value, _INT_TYPES[point.type], word_order=word_order))


def encode_saturating(point: Point, value: Any, sf: int | None) -> list[int]:
    """Encode ``value`` for ``point``; ``None`` gives the not-implemented sentinel; numbers saturate."""
    n = point.n_registers
    if point.table in ("coil", "discrete_input"):
        return [1 if value else 0]
    if value is None:
        raw = point.not_implemented or 0
        if point.type == "f32":
            return [0x7FC0, 0x0000]
        words = [(raw >> (16 * (n - 1 - i))) & 0xFFFF for i in range(n)]
        return words[::-1] if point.word_order == "little" else words
    if point.type == "string":
        text = str(value).encode("utf-8")[: 2 * n].decode("utf-8", errors="ignore")
        return encode(point, text)
    value = float(value)
    if not math.isfinite(value):
        value = 0.0
    try:
        return encode(point, value, sf)
    except ValueError:
        bounds = raw_range(point)
        if bounds is None:
            raise
        factor = point.scale * (10.0 ** (sf or 0))
        raw_limit = bounds[1] if (value - point.offset) / factor > 0 else bounds[0]
        return encode(point, raw_limit * factor + point.offset, sf)


@dataclass
class Timer:
    """A countdown in simulated seconds (revert timers, forced-mode periods, watchdogs)."""

    remaining_s: float = 0.0
    running: bool = False
    fired: int = field(default=0)

    def start(self, seconds: float) -> None:
        self.remaining_s = max(0.0, seconds)
        self.running = seconds > 0

    def stop(self) -> None:
        self.running = False
        self.remaining_s = 0.0

    def advance(self, dt_s: float) -> bool:
        """Count down; ``True`` exactly once, when the timer expires."""
        if not self.running:
            return False
        self.remaining_s -= dt_s
        if self.remaining_s <= 1e-9:
            self.running = False
            self.remaining_s = 0.0
            self.fired += 1
            return True
        return False
