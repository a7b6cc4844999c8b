"""Register maps as data: the schema of ``drivers/maps/<name>.yaml``, its loader and the value codec.

One YAML file per device model is shared by the drivers (client side) and the simulator (server side),
so both speak exactly the same addresses, types, word orders and scales.

Conventions
-----------
- ``address`` is the 0-based Modbus PDU address sent on the wire; ``number`` is the register number as
  printed in the vendor's manual. When a point omits ``address`` the loader derives it as
  ``number - number_offset`` (``number_offset`` is 1 for manuals with 1-based numbering, e.g. Sungrow).
- Engineering value = ``raw * scale * 10**sf + offset`` where ``sf`` is the value of the SunSpec scale-factor
  point named by ``scale_sf`` (absent: ``sf = 0``). ``multiply_by`` lists ratio points (meter PT/CT) the
  engineering value must additionally be multiplied by to get primary-side quantities
  (:func:`apply_ratios`); the codec itself returns the value as the device sends it.
- Bytes inside a register are always big-endian (Modbus); only the order of 16-bit words of 32/64-bit
  values is configurable (``word_order``: ``big`` = high word first, ``little`` = low word first).
- Signs: maps record the device's *raw* meaning in ``description``. Conversion to the park sign
  convention (power into the park bus positive) happens in the driver adapters only.
"""

from __future__ import annotations

import math
import struct
from collections.abc import Iterable, Mapping, Sequence
from functools import cache
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, ValidationError, model_validator

from microgrid.errors import UserError

MAPS_DIR = Path(__file__).resolve().parent / "maps"
"""Directory holding the bundled map files (``<name>.yaml``)."""

Table = Literal["holding", "input", "coil", "discrete_input"]
PointType = Literal["u16", "i16", "u32", "i32", "u64", "i64", "f32", "string", "bits16", "bits32", "bool"]
WordOrder = Literal["big", "little"]
Capability = Literal["meter", "pv_inverter", "storage", "bms", "pcs", "heat_pump", "flexible_load"]

REGISTER_TABLES: tuple[Table, ...] = ("holding", "input")
BIT_TABLES: tuple[Table, ...] = ("coil", "discrete_input")

_DATATYPE_NAME = {
    "u16": "UINT16",
    "i16": "INT16",
    "u32": "UINT32",
    "i32": "INT32",
    "u64": "UINT64",
    "i64": "INT64",
    "f32": "FLOAT32",
    "bits16": "UINT16",
    "bits32": "UINT32",
    "bool": "UINT16",
}


@cache
def _codec() -> Any:
    """pymodbus' register codec, imported on first use so that validating a site loads no Modbus stack."""
    from pymodbus.client.mixin import ModbusClientMixin

    return ModbusClientMixin


@cache
def _datatype(point_type: str) -> Any:
    return getattr(_codec().DATATYPE, _DATATYPE_NAME[point_type])


_REGISTERS = {
    "u16": 1,
    "i16": 1,
    "u32": 2,
    "i32": 2,
    "u64": 4,
    "i64": 4,
    "f32": 2,
    "bits16": 1,
    "bits32": 2,
    "bool": 1,
}
_INT_RANGE = {
    "u16": (0, 0xFFFF),
    "i16": (-0x8000, 0x7FFF),
    "u32": (0, 0xFFFFFFFF),
    "i32": (-0x80000000, 0x7FFFFFFF),
    "u64": (0, 0xFFFFFFFFFFFFFFFF),
    "i64": (-0x8000000000000000, 0x7FFFFFFFFFFFFFFF),
    "bits16": (0, 0xFFFF),
    "bits32": (0, 0xFFFFFFFF),
    "bool": (0, 1),
}


class RegisterMapError(UserError):
    """A map file that cannot be used (unknown name, invalid YAML, inconsistent points)."""

    exit_code = 2


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Point(_Strict):
    """One data point (register, register group, coil or discrete input) of a device map."""

    id: Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]*$", max_length=64)]
    """snake_case identifier with a unit suffix where it has a unit (``p_ac_w``, ``soc_pct``)."""
    number: int | None = None
    """Register number as documented in the manual (convention given by the map's ``number_offset``)."""
    address: Annotated[int, Field(ge=0, le=65535)] | None = None
    """0-based PDU address on the wire; derived from ``number - number_offset`` if omitted."""
    table: Table = "holding"
    type: PointType = "u16"
    count: Annotated[int, Field(ge=1, le=125)] | None = None
    """Number of registers (bits for coil/discrete_input); derived from ``type`` except for strings."""
    word_order: WordOrder | None = None
    """Order of 16-bit words for 32/64-bit types; ``None`` takes the map default."""
    scale: float = 1.0
    offset: float = 0.0
    """Added after scaling (e.g. BMS temperature ``-40``, current ``-1600``)."""
    scale_sf: str | None = None
    """Id of a point holding a SunSpec ``sunssf`` exponent; engineering = raw * scale * 10**sf + offset."""
    multiply_by: list[str] = []
    """Ids of ratio points (e.g. meter PT and CT ratio) giving primary-side values; see :func:`apply_ratios`."""
    unit: str = ""
    access: Literal["r", "rw", "w"] = "r"
    memory: Literal["ram", "eeprom"] = "ram"
    """``eeprom``: backed by flash/EEPROM, writes must be rate-limited and counted."""
    min: float | None = None
    """Allowed engineering range for writes (devices refuse values outside)."""
    max: float | None = None
    enum: dict[int, str] = {}
    """Raw value -> meaning (e.g. ``{0xAA: enable, 0x55: disable}``)."""
    bits: dict[int, str] = {}
    """Bit number (0 = LSB) -> meaning, for ``bits16``/``bits32`` status and alarm words."""
    not_implemented: int | None = None
    """Raw sentinel meaning "not implemented / not available" (SunSpec 0x8000, 0xFFFF, ...); decodes to None."""
    default: float | int | str | None = None
    """Initial engineering value served by the simulator (constants such as SunSpec ids and lengths)."""
    description: str = ""
    source: str = ""
    group: str = ""
    """Block the point belongs to, e.g. ``model_704`` for SunSpec or ``telemetry``."""
    sunspec_name: str | None = None
    """Point name in the SunSpec model definition (``WMaxLimPct``), for SunSpec maps."""
    revert_s: float | None = None
    """For setpoints with a device revert timer / heartbeat: seconds after which the device reverts."""

    @property
    def n_registers(self) -> int:
        """Registers (or bits) the point occupies."""
        return self.count if self.count is not None else _REGISTERS.get(self.type, 1)

    @property
    def end(self) -> int:
        """One past the last address of the point."""
        assert self.address is not None
        return self.address + self.n_registers

    @property
    def writable(self) -> bool:
        return self.access in ("rw", "w")

    @model_validator(mode="after")
    def _check_shape(self) -> Point:
        if self.address is None and self.number is None:
            raise ValueError(f"point {self.id}: needs 'number' or 'address'")
        if self.type == "string" and self.count is None:
            raise ValueError(f"point {self.id}: string points need 'count' (registers)")
        if (
            self.type != "string"
            and self.count is not None
            and self.table in REGISTER_TABLES
            and self.count != _REGISTERS[self.type]
        ):
            raise ValueError(f"point {self.id}: count {self.count} does not match type {self.type}")
        if self.table in BIT_TABLES and self.type != "bool":
            raise ValueError(f"point {self.id}: {self.table} points must have type bool")
        if self.scale == 0:
            raise ValueError(f"point {self.id}: scale must not be 0")
        if self.min is not None and self.max is not None and self.min > self.max:
            raise ValueError(f"point {self.id}: min {self.min} > max {self.max}")
        return self


class WriteValue(_Strict):
    """A fixed value written to a point (enable switch, run command)."""

    point: str
    value: int


class Profile(_Strict):
    """How a map serves its capability without code: which points mean what (see docs/drivers.md).

    Powers and energies may be in W or kW (var/kvar, Wh/kWh): the adapter converts by the point's ``unit``.
    ``*_sign`` turns the device's raw sign into the park's: PV power + generation, storage power + discharge,
    meter power + forward (import through the meter).
    """

    kind: Literal["meter", "pv_inverter", "storage"]
    power: str
    power_sign: Literal[1, -1] = 1
    reactive: str | None = None
    voltages: list[str] = []
    currents: list[str] = []
    phase_powers: list[str] = []
    """Meter: per-phase active powers (same unit and sign as ``power``); informative, the total is ``power``."""
    frequency: str | None = None
    power_factor: str | None = None
    energy_import: str | None = None
    """Meter: forward energy; PV: total yield; storage: total discharged."""
    energy_export: str | None = None
    """Meter: reverse energy; storage: total charged."""
    rated: str | None = None
    """PV: the power the limit percentage refers to; storage: the rated charge/discharge power."""
    limit_pct: str | None = None
    """PV: active power limit in % of ``rated`` (100 = no limit)."""
    limit_enable: WriteValue | None = None
    """PV: written before the limit (a limit switch); read back to tell whether the limit is in force."""
    state: str | None = None
    soc: str | None = None
    setpoint: str | None = None
    """Storage: power setpoint (W or kW), ``setpoint_sign`` × park power (+ discharge)."""
    setpoint_sign: Literal[1, -1] = 1
    run: WriteValue | None = None
    """Storage: command written after a non-zero setpoint (start/run)."""

    def point_ids(self) -> list[str]:
        ids = [self.power, self.reactive, self.frequency, self.power_factor, self.energy_import]
        ids += [self.energy_export, self.rated, self.limit_pct, self.state, self.soc, self.setpoint]
        ids += [*self.voltages, *self.currents]
        ids += [w.point for w in (self.limit_enable, self.run) if w is not None]
        return [i for i in ids if i]


class MapOption(_Strict):
    """A firmware- or model-dependent choice in a map: each choice patches points by id.

    ``choices: {choice: {point_id: {field: value, ...} | null}}`` -- fields replace the point's fields (a new
    id adds a point; ``null`` removes it); the key ``_map`` replaces map-level fields (``function_codes``). ``default`` is the choice used when the site file gives none.
    """

    description: str
    default: str
    choices: dict[str, dict[str, dict[str, Any] | None]]
    source: str = ""

    @model_validator(mode="after")
    def _default_is_a_choice(self) -> MapOption:
        if self.default not in self.choices:
            raise ValueError(f"option default '{self.default}' is not one of {sorted(self.choices)}")
        return self


class RegisterMap(_Strict):
    """A device model's register map (one ``drivers/maps/<name>.yaml``)."""

    name: Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]*$")]
    title: str
    vendor_published: bool
    """False for illustrative maps that are not a vendor's published register list."""
    source: str
    notes: str = ""
    capability: Capability
    """Primary capability ("nature") of the device."""
    capabilities: list[Capability] = []
    """All capabilities the map can serve (defaults to ``[capability]``), e.g. a hybrid inverter."""
    word_order: WordOrder = "big"
    number_offset: Annotated[int, Field(ge=0, le=1)] = 0
    max_registers_per_read: Annotated[int, Field(ge=1, le=125)] = 100
    min_request_interval_ms: Annotated[float, Field(ge=0)] = 0.0
    connect_delay_s: Annotated[float, Field(ge=0)] = 0.0
    recommended_timeout_s: Annotated[float, Field(gt=0)] | None = None
    default_unit_id: Annotated[int, Field(ge=0, le=255)] = 1
    sunspec_models: list[int] = []
    """SunSpec maps: the model chain served at ``sunspec_base`` (``[1, 701, ...]``)."""
    sunspec_base: int = 40000
    function_codes: list[Annotated[int, Field(ge=1, le=127)]] = []
    """Function codes the device answers (others: exception 1); empty = derived from the tables it uses."""
    options: dict[str, MapOption] = {}
    """Firmware/variant choices (:class:`MapOption`), chosen per device by ``map_options`` in the site file."""
    selected: dict[str, str] = {}
    """The choice of every option this instance was built with (set by :func:`load_map`)."""
    profile: Profile | None = None
    """Maps driven without code: the generic adapter and simulator read their meaning from here."""
    points: list[Point]

    _by_id: dict[str, Point] = PrivateAttr(default_factory=dict)

    @model_validator(mode="after")
    def _resolve_and_check(self) -> RegisterMap:
        problems: list[str] = []
        resolved: list[Point] = []
        for point in self.points:
            update: dict[str, Any] = {}
            if point.address is None:
                address = (point.number or 0) - self.number_offset
                if not 0 <= address <= 65535:
                    problems.append(f"point {point.id}: address {address} outside 0..65535")
                    continue
                update["address"] = address
            if point.word_order is None:
                update["word_order"] = self.word_order
            resolved.append(point.model_copy(update=update) if update else point)
        by_id: dict[str, Point] = {}
        for point in resolved:
            if point.id in by_id:
                problems.append(f"point {point.id}: duplicate id")
            by_id[point.id] = point
            if point.end - 1 > 65535:
                problems.append(f"point {point.id}: ends at {point.end - 1}, beyond address 65535")
            for ref in ([point.scale_sf] if point.scale_sf else []) + list(point.multiply_by):
                if ref not in {p.id for p in self.points}:
                    problems.append(f"point {point.id}: refers to unknown point '{ref}'")
        for table in ("holding", "input", "coil", "discrete_input"):
            spans = sorted((p.address, p.end, p.id) for p in resolved if p.table == table)
            for (_a0, e0, id0), (a1, _e1, id1) in zip(spans, spans[1:], strict=False):
                if a1 < e0:
                    problems.append(f"points {id0} and {id1} overlap in the {table} table at address {a1}")
        if self.profile is not None:
            problems += [f"profile: unknown point '{i}'" for i in self.profile.point_ids() if i not in by_id]
        if problems:
            raise ValueError("; ".join(problems))
        object.__setattr__(self, "points", resolved)
        if not self.capabilities:
            object.__setattr__(self, "capabilities", [self.capability])
        self._by_id = by_id
        return self

    @property
    def allowed_function_codes(self) -> frozenset[int]:
        """Function codes the device answers: the map's ``function_codes`` or those of the tables it uses."""
        if self.function_codes:
            return frozenset(self.function_codes)
        codes: set[int] = set()
        tables = {p.table for p in self.points}
        writable = {p.table for p in self.points if p.writable}
        codes |= {3} if "holding" in tables else set()
        codes |= {6, 16} if "holding" in writable else set()
        codes |= {4} if "input" in tables else set()
        codes |= {1} if "coil" in tables else set()
        codes |= {5, 15} if "coil" in writable else set()
        codes |= {2} if "discrete_input" in tables else set()
        return frozenset(codes)

    def point(self, point_id: str) -> Point:
        """The point with this id; ``KeyError`` naming the map if absent."""
        try:
            return self._by_id[point_id]
        except KeyError:
            raise KeyError(f"map {self.name} has no point '{point_id}'") from None

    def has(self, point_id: str) -> bool:
        return point_id in self._by_id

    def sunspec_point(self, model_id: int, name: str) -> Point:
        """SunSpec maps: the point of model ``model_id`` named ``name`` in the model definition (``WMaxLimPct``)."""
        for point in self.points:
            if point.group == f"model_{model_id}" and point.sunspec_name == name:
                return point
        raise KeyError(f"map {self.name} has no SunSpec point {model_id}.{name}")

    def points_in(self, table: Table) -> list[Point]:
        """Points of one table sorted by address."""
        return sorted((p for p in self.points if p.table == table), key=lambda p: p.address or 0)

    def sf_point(self, point: Point) -> Point | None:
        """The scale-factor point of ``point`` or ``None``."""
        return self.point(point.scale_sf) if point.scale_sf else None

    def read_blocks(
        self, points: Iterable[Point], max_gap: int = 0
    ) -> list[tuple[Table, int, int, list[Point]]]:
        """Group points into contiguous reads ``(table, address, count, points)``.

        Points of the same table whose spans are at most ``max_gap`` registers apart are merged, as long
        as a read stays within ``max_registers_per_read``.
        """
        blocks: list[tuple[Table, int, int, list[Point]]] = []
        ordered = sorted(points, key=lambda p: (p.table, p.address or 0))
        for point in ordered:
            assert point.address is not None
            if blocks:
                table, start, count, members = blocks[-1]
                end = start + count
                new_end = max(end, point.end)
                if (
                    table == point.table
                    and point.address <= end + max_gap
                    and new_end - start <= self.max_registers_per_read
                ):
                    blocks[-1] = (table, start, new_end - start, [*members, point])
                    continue
            blocks.append((point.table, point.address, point.n_registers, [point]))
        return blocks


# ----------------------------------------------------------------------------------------------- codec


def raw_range(point: Point) -> tuple[int, int] | None:
    """Smallest and largest raw integer the point's register type holds (``None`` for float/string)."""
    return _INT_RANGE.get(point.type)


def _factor(point: Point, sf: int | None) -> float:
    if point.scale_sf is not None:
        if sf is None:
            raise ValueError(f"point {point.id}: needs the value of scale factor '{point.scale_sf}' (sf=)")
        return point.scale * 10.0**sf
    return point.scale


def encode(point: Point, value_eng: float | int | str, sf: int | None = None) -> list[int]:
    """Registers (16-bit ints) for an engineering value; bit points return ``[0|1]``.

    Applies ``(value - offset) / (scale * 10**sf)``, rounds to the nearest integer for integer types, and
    refuses (``ValueError`` naming the point) values that do not fit the raw type: a negative value is
    never wrapped into an unsigned register. Strings are UTF-8, NUL-padded to ``count`` registers.
    """
    if point.type == "string":
        if not isinstance(value_eng, str):
            raise ValueError(f"point {point.id}: expects a string, got {value_eng!r}")
        data = value_eng.encode("utf-8")
        size = 2 * point.n_registers
        if len(data) > size:
            raise ValueError(f"point {point.id}: string of {len(data)} bytes exceeds {size} bytes")
        data = data.ljust(size, b"\0")
        return [int.from_bytes(data[i : i + 2], "big") for i in range(0, size, 2)]
    if not isinstance(value_eng, int | float):
        raise ValueError(f"point {point.id}: expects a number, got {value_eng!r}")
    value = float(value_eng)
    if not math.isfinite(value) and point.type != "f32":
        raise ValueError(f"point {point.id}: {value} (NaN/inf) cannot be encoded as {point.type}")
    raw_float = (value - point.offset) / _factor(point, sf)
    word_order = point.word_order or "big"
    if point.type == "f32":
        if math.isfinite(raw_float) and abs(raw_float) > 3.4028234663852886e38:
            raise ValueError(f"point {point.id}: {value_eng} does not fit float32")
        return list(_codec().convert_to_registers(raw_float, _datatype("f32"), word_order=word_order))
    raw = _round_half_away(raw_float)
    low, high = _INT_RANGE[point.type]
    if not low <= raw <= high:
        raise ValueError(
            f"point {point.id}: {value_eng} {point.unit} is raw {raw}, outside the {point.type} range {low}..{high}"
        )
    return list(_codec().convert_to_registers(raw, _datatype(point.type), word_order=word_order))


def _round_half_away(x: float) -> int:
    """Nearest integer, halves away from zero, after removing float noise (55.55 / 0.1 -> 556, not 555)."""
    y = round(x, 9)
    return int(math.copysign(math.floor(abs(y) + 0.5), y))


def decode_raw(point: Point, registers: Sequence[int]) -> int | float | str:
    """The raw (unscaled) value of ``registers`` per the point's type and word order."""
    n = point.n_registers
    if len(registers) != n:
        raise ValueError(f"point {point.id}: expects {n} registers, got {len(registers)}")
    if point.type == "string":
        data = b"".join(int(r).to_bytes(2, "big") for r in registers)
        return data.split(b"\0", 1)[0].decode("utf-8", errors="replace").rstrip()
    if point.type == "bool":
        return 1 if registers[0] else 0
    value = _codec().convert_from_registers(
        list(registers), _datatype(point.type), word_order=point.word_order or "big"
    )
    assert isinstance(value, int | float)
    return value


def decode(point: Point, registers: Sequence[int], sf: int | None = None) -> float | int | str | None:
    """Engineering value of ``registers``: ``raw * scale * 10**sf + offset``.

    Returns ``None`` for the point's ``not_implemented`` sentinel (and for a scale factor that is itself the
    SunSpec sentinel ``-32768``), the stripped text for strings, an ``int`` for unscaled integer points
    (enums, bitfields, counters) and a ``float`` otherwise.
    """
    raw = decode_raw(point, registers)
    if point.type == "string":
        if raw == "" and point.not_implemented is not None:
            return None
        return raw
    if point.not_implemented is not None:
        unsigned = _unsigned(point, registers)
        if unsigned == point.not_implemented:
            return None
    if point.type == "f32" and isinstance(raw, float) and math.isnan(raw):
        return None
    if point.scale_sf is not None and sf == -32768:
        return None
    factor = _factor(point, sf)
    if point.type != "f32" and factor == 1.0 and point.offset == 0.0:
        return int(raw)
    value = float(raw) * factor + point.offset
    return _tidy(value, factor)


def _unsigned(point: Point, registers: Sequence[int]) -> int:
    """Registers as one unsigned integer in the point's word order (for sentinel comparison)."""
    words = list(registers)
    if point.word_order == "little":
        words.reverse()
    value = 0
    for word in words:
        value = (value << 16) | (int(word) & 0xFFFF)
    return value


def _tidy(value: float, factor: float) -> float:
    """Round away binary noise of ``raw * 10**sf`` (e.g. 0.30000000000000004 -> 0.3)."""
    if factor == 0 or not math.isfinite(value):
        return value
    digits = max(0, -math.floor(math.log10(abs(factor)))) + 6
    return round(value, digits)


def check_range(point: Point, value_eng: float) -> None:
    """Raise ``ValueError`` if ``value_eng`` is outside the point's allowed ``min``/``max``."""
    if point.min is not None and value_eng < point.min:
        raise ValueError(f"point {point.id}: {value_eng} {point.unit} below its minimum {point.min}")
    if point.max is not None and value_eng > point.max:
        raise ValueError(f"point {point.id}: {value_eng} {point.unit} above its maximum {point.max}")


def apply_ratios(point: Point, value_eng: float, values_by_id: Mapping[str, float]) -> float:
    """Primary-side value: ``value_eng`` times the values of the point's ``multiply_by`` ratio points."""
    out = value_eng
    for ref in point.multiply_by:
        out *= values_by_id[ref]
    return out


def enum_value(point: Point, meaning: str) -> int:
    """Raw value of an enum meaning (``enum_value(p, "enable") -> 0xAA``)."""
    for raw, name in point.enum.items():
        if name == meaning:
            return raw
    raise KeyError(f"point {point.id}: no enum value '{meaning}' (has {sorted(point.enum.values())})")


def bit_names(point: Point, raw: int) -> list[str]:
    """Meanings of the bits set in ``raw`` (unknown bits as ``bit<N>``)."""
    return [point.bits.get(bit, f"bit{bit}") for bit in range(32) if raw >> bit & 1]


_KW_FACTOR = {"W": 1e-3, "kW": 1.0, "MW": 1e3, "var": 1e-3, "kvar": 1.0, "VA": 1e-3, "kVA": 1.0}
_KW_FACTOR |= {"Wh": 1e-3, "kWh": 1.0, "MWh": 1e3, "varh": 1e-3, "kvarh": 1.0}


def kw_factor(point: Point) -> float:
    """Factor from the point's engineering unit to kW / kvar / kWh (W -> 0.001); 1 for other units."""
    return _KW_FACTOR.get(point.unit, 1.0)


def float32_registers(value: float, word_order: WordOrder = "big") -> list[int]:
    """Two registers of an IEEE-754 float32 (helper for tests and simulators)."""
    packed = struct.unpack(">HH", struct.pack(">f", value))
    return list(packed) if word_order == "big" else [packed[1], packed[0]]


# ---------------------------------------------------------------------------------------------- loader


_YAML_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
"""libyaml's safe loader when PyYAML has it (maps are read once per process; the pure-Python one takes
seconds for the larger maps)."""


def available_maps() -> list[str]:
    """Names (file stems) of the bundled map files, sorted."""
    return sorted(p.stem for p in MAPS_DIR.glob("*.yaml"))


def load_map_file(path: str | Path) -> RegisterMap:
    """Load and validate one map file; ``RegisterMapError`` lists every problem."""
    path = Path(path)
    try:
        data = yaml.load(path.read_text(encoding="utf-8"), Loader=_YAML_LOADER)  # noqa: S506 - a safe loader
    except (OSError, yaml.YAMLError) as exc:
        raise RegisterMapError.of("uerr.map_unreadable", [str(exc)], path=str(path)) from None
    if not isinstance(data, dict):
        raise RegisterMapError.of("uerr.map_not_mapping", path=str(path))
    if data.get("name") != path.stem:
        raise RegisterMapError.of("uerr.map_name_stem", path=str(path), stem=path.stem, got=repr(data.get("name")))
    try:
        return RegisterMap.model_validate(data)
    except ValidationError as exc:
        problems = []
        for err in exc.errors(include_url=False):
            loc = ".".join(str(p) for p in err["loc"])
            problems.append(f"{loc}: {err['msg'].removeprefix('Value error, ')}")
        raise RegisterMapError.of("uerr.map_problems", problems, path=str(path), n=len(problems)) from None


def load_map(name: str, options: Mapping[str, str] | None = None) -> RegisterMap:
    """The bundled map ``drivers/maps/<name>.yaml`` with its ``options`` chosen (validated once, then cached).

    Options not given take the map's defaults; an unknown option or choice is a :class:`RegisterMapError`.
    """
    return _load_map(name, tuple(sorted((options or {}).items())))


@cache
def _load_map(name: str, options: tuple[tuple[str, str], ...]) -> RegisterMap:
    path = MAPS_DIR / f"{name}.yaml"
    if not path.exists():
        raise RegisterMapError.of("uerr.map_unknown", name=name).with_problem(
            "uerr.map_available", maps=", ".join(available_maps()))
    base = load_map_file(path)
    chosen = dict(options)
    unknown = [
        f"{k}={v}" for k, v in chosen.items() if k not in base.options or v not in base.options[k].choices
    ]
    if unknown:
        err = RegisterMapError.of("uerr.map_option_unknown", [f"{k}: {', '.join(o.choices)}" for k, o in base.options.items()],
                                  name=name, choices=", ".join(unknown))
        raise err if base.options else err.with_problem("uerr.map_no_options")
    selected = {k: chosen.get(k, o.default) for k, o in base.options.items()}
    if not selected:
        return base
    data = yaml.load(path.read_text(encoding="utf-8"), Loader=_YAML_LOADER)  # noqa: S506 - a safe loader
    patches = [dict(base.options[k].choices[v]) for k, v in selected.items()]
    for patch in patches:
        data.update(patch.pop("_map", None) or {})  # map-level fields of a choice (e.g. function_codes)
    data["points"] = _patched_points(data["points"], patches)
    data["selected"] = selected
    try:
        return RegisterMap.model_validate(data)
    except ValidationError as exc:
        raise RegisterMapError.of("uerr.map_options_invalid", [str(exc)], name=name, options=str(selected)) from None


def _patched_points(points: list[dict], patches: list[dict[str, dict[str, Any] | None]]) -> list[dict]:
    """Points with each patch applied by id (fields replaced, ``None`` removes, a new id appends)."""
    out = [dict(p) for p in points]
    for patch in patches:
        for pid, fields in patch.items():
            index = next((i for i, p in enumerate(out) if p.get("id") == pid), None)
            if fields is None:
                if index is not None:
                    out.pop(index)
            elif index is None:
                out.append({"id": pid, **fields})
            else:
                out[index] = {**out[index], **fields}
    return out


__all__ = [
    "MAPS_DIR",
    "Point",
    "RegisterMap",
    "RegisterMapError",
    "apply_ratios",
    "available_maps",
    "bit_names",
    "check_range",
    "decode",
    "decode_raw",
    "encode",
    "enum_value",
    "float32_registers",
    "load_map",
    "load_map_file",
    "MapOption",
    "Profile",
    "kw_factor",
]
