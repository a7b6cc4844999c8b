"""Render every bundled register map as one Markdown page (``docs/maps.md``), generated from the map files.

    .venv/bin/python -m drivers.maps_doc            # rewrite docs/maps.md
    .venv/bin/python -m drivers.maps_doc --check    # exit 1 if docs/maps.md is not current (the test does this)

One section per map: what it is, its source, links and defaults, its options, its profile, then one row per
point with the wire address, the documented number, type, scale, unit, access and the source of that point.
"""

from __future__ import annotations

import sys
from pathlib import Path

from drivers.registermap import Point, RegisterMap, available_maps, load_map

DOC = Path(__file__).resolve().parents[1] / "docs" / "maps.md"


def _cell(text: object) -> str:
    return " ".join(str(text).split()).replace("|", "\\|")


def _scale(point: Point) -> str:
    parts = []
    if point.scale != 1.0:
        parts.append(f"×{point.scale:g}")
    if point.scale_sf:
        parts.append(f"×10^{point.scale_sf}")
    if point.offset:
        parts.append(f"{point.offset:+g}")
    if point.multiply_by:
        parts.append("×" + "×".join(point.multiply_by))
    return " ".join(parts)


def _type(point: Point) -> str:
    text = point.type + (f"[{point.count}]" if point.type == "string" else "")
    if point.n_registers == 2 and point.type != "string":
        text += " HL" if point.word_order == "big" else " LH"
    return text


def render_map(m: RegisterMap) -> str:
    lines = [f"## `{m.name}`", "", f"**{_cell(m.title)}**", "", f"- Source: {_cell(m.source)}"]
    if m.notes:
        lines.append(f"- Notes: {_cell(m.notes)}")
    fcs = ", ".join(str(c) for c in sorted(m.allowed_function_codes))
    lines.append(
        f"- Capability: {m.capability}; default unit id {m.default_unit_id}; word order {m.word_order}; "
        f"function codes {fcs}; ≤ {m.max_registers_per_read} registers per read; "
        f"{m.min_request_interval_ms:g} ms between requests; connect delay {m.connect_delay_s:g} s"
    )
    if m.sunspec_models:
        lines.append(f"- SunSpec chain at {m.sunspec_base}: {m.sunspec_models} (devices are discovered: see drivers.md)")
    for name, option in m.options.items():
        choices = ", ".join(f"`{c}`" + (" (default)" if c == option.default else "") for c in option.choices)
        lines.append(f"- Option `{name}`: {choices}. {_cell(option.description)} Source: {_cell(option.source)}")
    if m.profile is not None:
        fields = {k: v for k, v in m.profile.model_dump(exclude_defaults=True).items() if k != "kind"}
        lines.append(f"- Profile ({m.profile.kind}, generic adapter): {_cell(fields)}")
    lines += [
        "",
        "| point | table | address | number | type | scale | unit | access | description | source |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for p in sorted(m.points, key=lambda p: (p.table, p.address or 0)):
        lines.append(
            f"| `{p.id}` | {p.table} | {p.address} | {'' if p.number is None else p.number} | {_type(p)} | "
            f"{_scale(p)} | {_cell(p.unit)} | {p.access}{' eeprom' if p.memory == 'eeprom' else ''} | "
            f"{_cell(p.description)[:160]} | {_cell(p.source)} |"
        )
    return "\n".join(lines) + "\n"


def render() -> str:
    """The whole page, deterministic (map order by name; map defaults, no chosen options)."""
    names = available_maps()
    head = [
        "# Register maps (generated)",
        "",
        "Generated from `drivers/maps/*.yaml` by `.venv/bin/python -m drivers.maps_doc`; do not edit by hand "
        "(a test fails when this page is not current). Addresses are 0-based PDU addresses on the wire; "
        "*number* is the register number as the source documents it. HL / LH: 32-bit word order high-low / "
        "low-high. Scales: engineering value = raw × scale × 10^sf (+ offset), × PT/CT ratios where listed. "
        "Every point names its source; options show the firmware-dependent variants (the table shows the "
        "defaults).",
        "",
        "Maps: " + ", ".join(f"[`{n}`](#{n})" for n in names),
        "",
    ]
    return "\n".join(head) + "\n" + "\n".join(render_map(load_map(n)) for n in names)


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    text = render()
    if "--check" in args:
        current = DOC.read_text(encoding="utf-8") if DOC.exists() else ""
        if current != text:
            print(f"{DOC} is not current: run .venv/bin/python -m drivers.maps_doc", file=sys.stderr)
            return 1
        return 0
    DOC.write_text(text, encoding="utf-8")
    print(f"wrote {DOC}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
