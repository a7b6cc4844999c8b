"""Which registers command or read each rated quantity of an asset, and whether a rating fits them.

A battery whose setpoint register is a 16-bit count of watts cannot be told to discharge at more than
65.535 kW; a site file rating it at 450 kW would silently run it at 65 kW. :func:`rating_problems` finds
every such asset before anything runs (``microgrid validate`` exits 2 with one line per problem).

The table :data:`RATED_POINTS` is data: per map, the points carrying a rated power, what they carry
(``charge`` / ``discharge`` power of storage, ``p_max`` of a PV plant, heat pump, flexible load or EV
depot) and whether the controller ``command``s or ``read``s them. A point's range is its register's type
and scale intersected with the map's documented ``min``/``max``, converted to kW from its ``unit``. A point
with a scale-factor register (``scale_sf``, SunSpec) carries any rating: the device chooses its scale.
Percent points are relative to the device's own rating and never limit a site rating.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

from drivers.registermap import Point, load_map, raw_range

if TYPE_CHECKING:
    from microgrid.site import Site

Quantity = Literal["charge", "discharge", "p_max"]
Use = Literal["command", "read"]


@dataclass(frozen=True)
class RatedPoint:
    quantity: Quantity
    point: str
    use: Use


_STORAGE_CMD = ("charge", "discharge")

RATED_POINTS: dict[str, tuple[RatedPoint, ...]] = {
    "sunspec_battery": (RatedPoint("charge", "m704_w_set", "command"), RatedPoint("discharge", "m704_w_set", "command"),
                        RatedPoint("discharge", "m701_w", "read")),
    "sungrow_sh": (RatedPoint("charge", "charge_power_w", "command"), RatedPoint("discharge", "charge_power_w", "command"),
                   RatedPoint("charge", "bat_p_w", "read"), RatedPoint("discharge", "bat_p_w", "read"),
                   RatedPoint("charge", "bat_max_charge_kw", "command"),
                   RatedPoint("discharge", "bat_max_discharge_kw", "command")),
    "cn_pcs": (RatedPoint("charge", "p_set_kw", "command"), RatedPoint("discharge", "p_set_kw", "command"),
               RatedPoint("charge", "p_kw", "read"), RatedPoint("discharge", "p_kw", "read"),
               RatedPoint("charge", "p_charge_allowed_kw", "read"),
               RatedPoint("discharge", "p_discharge_allowed_kw", "read")),
    "heat_pump_controller": (RatedPoint("p_max", "p_el_set_kw", "command"), RatedPoint("p_max", "p_el_kw", "read")),
    "flex_load_controller": (RatedPoint("p_max", "p_set_kw", "command"), RatedPoint("p_max", "p_kw", "read")),
    "sungrow_sg": (RatedPoint("p_max", "p_ac_w", "read"), RatedPoint("p_max", "p_nominal_kw", "read")),
    "huawei_sun2000": (RatedPoint("p_max", "p_ac_w", "read"), RatedPoint("p_max", "p_derate_w", "command")),
}
"""Map name → its rated points (maps not listed carry no absolute power rating, e.g. percent-only maps)."""

_KW_PER_UNIT = {"W": 0.001, "kW": 1.0, "MW": 1000.0}


def point_range_kw(point: Point) -> tuple[float, float] | None:
    """Range of a power point in kW (register type, scale and documented min/max); ``None`` = unlimited."""
    if point.scale_sf:
        return None
    per_unit = _KW_PER_UNIT.get(point.unit or "")
    raw = raw_range(point)
    if per_unit is None or raw is None:
        return None
    a, b = raw[0] * point.scale + point.offset, raw[1] * point.scale + point.offset
    lo, hi = min(a, b), max(a, b)
    if point.min is not None:
        lo = max(lo, point.min)
    if point.max is not None:
        hi = min(hi, point.max)
    return lo * per_unit, hi * per_unit


def rating_limit_kw(map_name: str, quantity: Quantity) -> list[tuple[str, Use, float]]:
    """(point, use, largest magnitude in kW) of every rated point of ``map_name`` carrying ``quantity``."""
    out = []
    rmap = load_map(map_name)
    for rp in RATED_POINTS.get(map_name, ()):
        if rp.quantity != quantity or not rmap.has(rp.point):
            continue
        rng = point_range_kw(rmap.point(rp.point))
        if rng is None:
            continue
        out.append((rp.point, rp.use, max(abs(rng[0]), abs(rng[1])) if rng[0] < 0 else rng[1]))
    return out


def rating_problems(devices: list[tuple[str, str, str, dict[Quantity, float]]]) -> list[str]:
    """One line per rating a device's map cannot command or read.

    ``devices``: (site path of the device, asset id, map name, {quantity: rating kW}) for each device.
    """
    problems = []
    for path, asset_id, map_name, ratings in devices:
        for quantity, rating_kw in ratings.items():
            for point, use, limit_kw in rating_limit_kw(map_name, quantity):
                if rating_kw > limit_kw * (1 + 1e-9) + 1e-9 and math.isfinite(limit_kw):
                    what = {"charge": "charge power", "discharge": "discharge power", "p_max": "rated power"}[quantity]
                    problems.append(
                        f"{path}: {what} {rating_kw:g} kW of asset '{asset_id}' exceeds what register {point} "
                        f"can {use} (0 .. {limit_kw:g} kW); choose a map or "
                        f"device that can, or split the asset")
    return problems


__all__ = ["RATED_POINTS", "RatedPoint", "point_range_kw", "rating_limit_kw", "rating_problems"]


def asset_ratings_kw(site: Site, target: str) -> dict:
    """Rated powers of the asset ``target`` by quantity (``charge``, ``discharge``, ``p_max``), kW."""
    try:
        asset = site.asset(target)
    except KeyError:
        return {}
    kind = type(asset).__name__
    if kind == "Battery":
        return {"charge": asset.p_charge_max_kw, "discharge": asset.p_discharge_max_kw}  # type: ignore[union-attr]
    if kind == "PVPlant":
        return {"p_max": asset.inverter_ac_kw}  # type: ignore[union-attr]
    if kind == "HeatPump":
        return {"p_max": asset.p_el_max_kw}  # type: ignore[union-attr]
    return {"p_max": asset.p_max_kw}  # type: ignore[union-attr]


def site_rating_problems(site: Site) -> list[str]:
    """Every asset rating that its devices' register maps cannot command or read (see :mod:`drivers.ratings`)."""
    rows = [(f"devices[{i}] ('{d.id}', map {d.map})", d.serves, d.map, asset_ratings_kw(site, d.serves))
            for i, d in enumerate(site.devices)]
    return rating_problems(rows)
