"""docs/maps.md is generated from the map files and must be current (with a source for every point)."""

from __future__ import annotations

from drivers.maps_doc import DOC, main, render
from drivers.registermap import available_maps, load_map


def test_generated_map_tables_are_current():
    assert main(["--check"]) == 0, "run .venv/bin/python -m drivers.maps_doc"


def test_every_point_is_listed_with_its_source():
    text = render()
    assert text == DOC.read_text(encoding="utf-8")
    for name in available_maps():
        m = load_map(name)
        assert f"## `{name}`" in text
        for p in m.points:
            assert p.source, f"{name}.{p.id} has no source"
            assert f"| `{p.id}` | {p.table} | {p.address} |" in text
