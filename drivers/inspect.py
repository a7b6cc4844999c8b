"""Commissioning view of a fleet: every point of every device with value, unit, age and status.

Used by ``microgrid devices`` (and usable by the API): one :class:`PointRow` per point read, plus one
:class:`DeviceRow` per device with its link, health and request counters.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass

from drivers.device import ModbusDevice
from drivers.fleet import Fleet
from drivers.registermap import Point, bit_names


@dataclass(frozen=True)
class PointRow:
    device_id: str
    point_id: str
    value: str
    unit: str
    age_s: float | None
    status: str
    """``ok``, ``stale``, ``not implemented``, ``unsupported`` (the device refused the address) or ``no data``."""
    access: str
    table: str
    address: int


@dataclass(frozen=True)
class DeviceRow:
    device_id: str
    asset_id: str
    role: str
    map_name: str
    link: str
    unit_id: int
    health: str
    detail: str
    requests: int


def format_value(point: Point, value: object) -> str:
    """A point value for display: enum meanings, set bits, trimmed floats."""
    if value is None:
        return "-"
    if isinstance(value, str):
        return repr(value)
    if point.enum and isinstance(value, int):
        meaning = point.enum.get(value)
        return f"{value} ({meaning})" if meaning else f"{value} (0x{value:04X}, not listed)"
    if point.type in ("bits16", "bits32") and isinstance(value, int):
        names = bit_names(point, value)
        return f"0x{value:04X}" + (f" ({', '.join(names)})" if names else "")
    if isinstance(value, float):
        return f"{value:.6g}"
    return str(value)


def points_of_interest(fleet: Fleet, device: ModbusDevice, *, all_points: bool) -> list[str]:
    """Points to show: every readable point of the map, or those the capability uses."""
    if all_points:
        return [p.id for p in device.regmap.points if p.access != "w"]
    adapter, role = fleet.asset_of(device.device_id)
    ids: list[str] = []
    for table in (adapter.FAST, adapter.SLOW, adapter.STATIC):
        ids.extend(table.get(role, ()))
    ids = list(dict.fromkeys(device.expand(ids)))
    return sorted(ids, key=lambda p: (device.point(p).table, device.point(p).address or 0))


def point_rows(device: ModbusDevice, point_ids: Iterable[str]) -> list[PointRow]:
    rows = []
    for pid in point_ids:
        point = device.point(pid)
        sample = device.sample(pid)
        age = device.age_s(pid)
        if pid in device.unsupported:
            status = "unsupported"
        elif sample is None:
            status = "no data"
        elif sample.value is None:
            status = "not implemented"
        elif isinstance(sample.value, float) and not math.isfinite(sample.value):
            status = "invalid"  # decoded to inf/nan (float32 register): no measurement, whatever the age
        elif not device.fresh(pid):
            status = "stale"
        else:
            status = "ok"
        rows.append(
            PointRow(
                device.device_id,
                pid,
                format_value(point, sample.value if sample else None),
                point.unit,
                age,
                status,
                point.access,
                point.table,
                point.address or 0,
            )
        )
    return rows


def device_rows(fleet: Fleet, device_ids: Iterable[str]) -> list[DeviceRow]:
    rows = []
    for did in device_ids:
        d = fleet.device(did)
        adapter, role = fleet.asset_of(did)
        now = d.clock.monotonic()
        rows.append(
            DeviceRow(
                did,
                adapter.asset_id,
                role,
                d.regmap.name,
                f"{d.transport.key} ({d.transport.endpoint.kind})",
                d.unit_id,
                d.health.state(now).value,
                d.health.describe(now),
                d.transport.stats.by_unit.get(d.unit_id, 0),
            )
        )
    return rows


__all__ = ["DeviceRow", "PointRow", "device_rows", "format_value", "point_rows", "points_of_interest"]
