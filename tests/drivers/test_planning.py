"""Request planning: contiguous points in as few reads as the device allows."""

from __future__ import annotations

from drivers.planning import plan_reads
from drivers.registermap import RegisterMap, load_map


def _map(points: list[dict], max_regs: int = 100) -> RegisterMap:
    return RegisterMap.model_validate(
        {
            "name": "test_map",
            "title": "test",
            "vendor_published": False,
            "source": "test",
            "capability": "meter",
            "max_registers_per_read": max_regs,
            "points": points,
        }
    )


def _ids(blocks) -> list[tuple[str, int, int, list[str]]]:
    return [(b.table, b.address, b.count, [p.id for p in b.points]) for b in blocks]


def test_contiguous_points_make_one_read():
    m = _map([{"id": f"p{i}", "address": 100 + 2 * i, "type": "u32"} for i in range(10)])
    assert _ids(plan_reads(m, m.points)) == [("holding", 100, 20, [f"p{i}" for i in range(10)])]


def test_known_gap_is_read_through_unknown_gap_is_not():
    m = _map(
        [
            {"id": "a", "address": 0},
            {"id": "b", "address": 1},  # described by the map: readable
            {"id": "c", "address": 2},
            {"id": "d", "address": 10},  # hole 3..9 not described
        ]
    )
    wanted = [m.point("a"), m.point("c"), m.point("d")]
    assert _ids(plan_reads(m, wanted, max_gap_unknown=0)) == [
        ("holding", 0, 3, ["a", "c"]),
        ("holding", 10, 1, ["d"]),
    ]
    merged = plan_reads(m, wanted, max_gap_unknown=8)
    assert _ids(merged) == [("holding", 0, 11, ["a", "c", "d"])]
    assert merged[0].unknown_gap


def test_reads_respect_max_registers_per_read_and_tables():
    m = _map(
        [{"id": f"h{i}", "address": i, "type": "u16"} for i in range(12)]
        + [
            {"id": "i0", "address": 0, "table": "input"},
            {"id": "c0", "address": 0, "table": "coil", "type": "bool"},
        ],
        max_regs=5,
    )
    blocks = plan_reads(m, m.points)
    assert _ids(blocks) == [
        ("coil", 0, 1, ["c0"]),
        ("holding", 0, 5, ["h0", "h1", "h2", "h3", "h4"]),
        ("holding", 5, 5, ["h5", "h6", "h7", "h8", "h9"]),
        ("holding", 10, 2, ["h10", "h11"]),
        ("input", 0, 1, ["i0"]),
    ]


def test_large_gap_splits_even_when_known():
    m = _map([{"id": f"p{i}", "address": i} for i in range(60)])
    assert len(plan_reads(m, [m.point("p0"), m.point("p59")], max_gap_known=32)) == 2
    assert len(plan_reads(m, [m.point("p0"), m.point("p30")], max_gap_known=32)) == 1


def test_sunspec_model_block_is_one_read_on_tcp():
    m = load_map("sunspec_inverter")
    ids = ["m701_w", "m701_w_sf", "m701_inv_st", "m701_throt_pct"]
    # on Modbus TCP a described hole costs nothing worth a second request (the fleet allows 125 there)
    blocks = plan_reads(m, [m.point(p) for p in ids], max_gap_known=125)
    assert len(blocks) == 1 and blocks[0].address == 40074 and blocks[0].count == 40186 - 40074 + 1


def test_block_slices_values_per_point():
    m = _map([{"id": "a", "address": 5, "type": "u32"}, {"id": "b", "address": 7}])
    (block,) = plan_reads(m, m.points)
    assert block.slice_for(m.point("a"), [1, 2, 3]) == [1, 2]
    assert block.slice_for(m.point("b"), [1, 2, 3]) == [3]
