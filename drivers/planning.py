"""Request planning: read the wanted points of a map in as few requests as the device allows.

Points of one table are merged into one read while

- the merged span stays within the map's ``max_registers_per_read`` (registers; bits for coils and
  discrete inputs up to 16× that, at most 2000), and
- the hole between two points is small: at most ``max_gap_known`` registers when every register of the
  hole belongs to some point of the map (the device implements it, so reading it is harmless), at most
  ``max_gap_unknown`` registers otherwise (devices often answer "illegal data address" for holes).

A device that refuses a merged read is handled by :class:`drivers.device.ModbusDevice`, which re-reads the
points one by one and then plans that set without unknown holes.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from drivers.registermap import BIT_TABLES, Point, RegisterMap, Table

MAX_BITS_PER_READ = 2000
"""Modbus limit for FC1/FC2 (coils, discrete inputs)."""


@dataclass(frozen=True)
class ReadBlock:
    """One read request: ``count`` registers (or bits) of ``table`` from ``address``."""

    table: Table
    address: int
    count: int
    points: tuple[Point, ...]
    unknown_gap: bool = False
    """True if the span includes addresses that no point of the map describes."""

    def slice_for(self, point: Point, values: list[int]) -> list[int]:
        """The part of this block's reply that belongs to ``point``."""
        assert point.address is not None
        start = point.address - self.address
        return values[start : start + point.n_registers]


def _covered(regmap: RegisterMap, table: Table) -> frozenset[int]:
    """Addresses of ``table`` that some point of ``regmap`` describes."""
    out: set[int] = set()
    for p in regmap.points:
        if p.table == table and p.address is not None:
            out.update(range(p.address, p.end))
    return frozenset(out)


def max_span(regmap: RegisterMap, table: Table) -> int:
    """Largest read (registers or bits) the map allows for ``table``."""
    if table in BIT_TABLES:
        return min(MAX_BITS_PER_READ, 16 * regmap.max_registers_per_read)
    return regmap.max_registers_per_read


def plan_reads(
    regmap: RegisterMap,
    points: Iterable[Point],
    *,
    max_gap_known: int = 32,
    max_gap_unknown: int = 0,
) -> list[ReadBlock]:
    """Group ``points`` into read requests (see the module docstring); ordered by table and address."""
    blocks: list[ReadBlock] = []
    covered_by_table: dict[Table, frozenset[int]] = {}
    ordered = sorted({p.id: p for p in points}.values(), key=lambda p: (p.table, p.address or 0))
    for point in ordered:
        assert point.address is not None
        if blocks:
            last = blocks[-1]
            end = last.address + last.count
            gap = point.address - end
            if last.table == point.table and point.end - last.address <= max_span(regmap, point.table):
                if gap <= 0:
                    blocks[-1] = _extend(last, point, unknown=False)
                    continue
                if point.table not in covered_by_table:
                    covered_by_table[point.table] = _covered(regmap, point.table)
                covered = covered_by_table[point.table]
                known = all(a in covered for a in range(end, point.address))
                if gap <= (max_gap_known if known else max_gap_unknown):
                    blocks[-1] = _extend(last, point, unknown=not known)
                    continue
        blocks.append(ReadBlock(point.table, point.address, point.n_registers, (point,)))
    return blocks


def _extend(block: ReadBlock, point: Point, *, unknown: bool) -> ReadBlock:
    assert point.address is not None
    end = max(block.address + block.count, point.end)
    return ReadBlock(
        block.table, block.address, end - block.address, (*block.points, point), block.unknown_gap or unknown
    )


__all__ = ["MAX_BITS_PER_READ", "ReadBlock", "max_span", "plan_reads"]
