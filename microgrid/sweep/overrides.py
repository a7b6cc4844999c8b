"""Overrides of site-file fields by path, applied to the parsed site mapping before it is validated.

A path names a field the way the validator reports it: ``grid.export_limit_kw``,
``tariff.prices_cny_per_kwh.peak``, ``assets.batteries[0].e_kwh``. A list item is chosen by index
(``[0]``), by its ``id`` (``[bat_factory]``) or all at once (``[*]``). Two operations:

- ``set``: the value replaces the field (any YAML value: number, text, list, mapping); a missing last key
  (or missing mappings on the way) is created, so the site schema decides whether the field exists;
- ``scale``: the number at the path is multiplied by the factor (a list of numbers element-wise).

Nothing here knows the schema: the result goes through :func:`microgrid.site.site_from_mapping`, which
names an unknown field or a bad value by its path.
"""

from __future__ import annotations

import copy
import math
import re
from dataclasses import dataclass
from typing import Any, Literal

from microgrid.errors import UserError

Op = Literal["set", "scale"]
_PART = re.compile(r"([^.\[\]]+)|\[([^\[\]]+)\]")


@dataclass(frozen=True)
class Item:
    """A list selector: an index, an item's ``id`` or ``*`` (every item)."""

    sel: int | str


class PathError(UserError, ValueError):
    """A path that cannot be read, or that does not lead anywhere in this site (``uerr.path_*``)."""


@dataclass(frozen=True)
class Override:
    """One change to a site mapping: ``op`` ``value`` at ``path``."""

    path: str
    op: Op
    value: Any


def parse_path(path: str) -> list[str | Item]:
    """``assets.pv[*].kwp`` → ``['assets', 'pv', Item('*'), 'kwp']`` (field names as text)."""
    if not isinstance(path, str) or not path.strip():
        raise PathError.of("uerr.path_empty")
    parts: list[str | Item] = []
    pos = 0
    for m in _PART.finditer(path):
        gap = path[pos:m.start()]
        if gap not in ("", ".") or (gap == "." and not parts):
            raise PathError.of("uerr.path_bad_at", path=path, rest=path[pos:])
        if m.group(1) is not None:
            parts.append(m.group(1).strip())
        else:
            sel = m.group(2).strip()
            parts.append(Item(int(sel) if re.fullmatch(r"-?\d+", sel) else sel))
        pos = m.end()
    if pos != len(path) or not parts or not isinstance(parts[0], str):
        raise PathError.of("uerr.path_bad", path=path)
    return parts


def _children(node: Any, part: str | Item, path: str, create: bool) -> list[tuple[Any, str | int]]:
    """The (container, key) pairs that ``part`` selects in ``node``."""
    if isinstance(node, dict):
        if isinstance(part, Item):
            raise PathError.of("uerr.path_item_in_mapping", path=path, sel=str(part.sel))
        if part not in node and not create:
            raise PathError.of("uerr.path_no_field", path=path, field=part)
        return [(node, part)]
    if isinstance(node, list):
        if not isinstance(part, Item):
            raise PathError.of("uerr.path_field_in_list", path=path, field=part)
        part = part.sel
        if part == "*":
            return [(node, i) for i in range(len(node))]
        if isinstance(part, int):
            if not -len(node) <= part < len(node):
                raise PathError.of("uerr.path_index_range", path=path, index=part, n=len(node))
            return [(node, part)]
        found = [i for i, item in enumerate(node) if isinstance(item, dict) and item.get("id") == part]
        if not found:
            ids = ", ".join(str(item.get("id")) for item in node if isinstance(item, dict)) or "none"
            raise PathError.of("uerr.path_no_id", path=path, id=part, ids=ids)
        return [(node, i) for i in found]
    raise PathError.of("uerr.path_below_value", path=path, field=str(part))


def _scaled(value: Any, factor: float, path: str) -> Any:
    if isinstance(value, bool) or value is None:
        raise PathError.of("uerr.path_cannot_scale", path=path, value=repr(value))
    if isinstance(value, int | float):
        return value * factor
    if isinstance(value, list):
        return [_scaled(v, factor, path) for v in value]
    raise PathError.of("uerr.path_cannot_scale", path=path, value=repr(value))


def apply_override(data: dict[str, Any], override: Override) -> int:
    """Apply ``override`` to ``data`` in place; the number of fields changed (``[*]`` may select none)."""
    parts = parse_path(override.path)
    nodes: list[Any] = [data]
    for depth, part in enumerate(parts[:-1]):
        nxt = []
        for node in nodes:
            for container, key in _children(node, part, override.path, create=override.op == "set"):
                if isinstance(container, dict) and key not in container:
                    # a missing mapping on the way: created, the schema then says whether it may exist
                    if isinstance(parts[depth + 1], Item):
                        raise PathError.of("uerr.path_no_field", path=override.path, field=key)
                    container[key] = {}
                nxt.append(container[key])
        nodes = nxt
    changed = 0
    for node in nodes:
        for container, key in _children(node, parts[-1], override.path, create=override.op == "set"):
            if override.op == "set":
                container[key] = copy.deepcopy(override.value)
            else:
                container[key] = _scaled(container[key], float(override.value), override.path)
            changed += 1
    return changed


def check_value(override: Override) -> None:
    """Refuse what no site field could take before any site is read (a non-finite number, a bad factor)."""
    parse_path(override.path)
    if override.op == "scale":
        v = override.value
        if isinstance(v, bool) or not isinstance(v, int | float) or not math.isfinite(v) or v < 0:
            raise PathError.of("uerr.path_bad_factor", path=override.path, value=repr(v))
    elif isinstance(override.value, float) and not math.isfinite(override.value):
        raise PathError.of("uerr.path_not_finite", path=override.path, value=repr(override.value))
