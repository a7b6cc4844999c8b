"""SunSpec discovery: find the base (40000, 0 or 50000), walk the model chain, build the map of what is there.

A SunSpec device is self-describing: ``SunS`` at the base, then ``(ID, L)`` headers, each model L registers
long, until ID 0xFFFF. :func:`discover` reads exactly that (one 2-register read per model); :func:`chain_map`
builds the device's own map from pysunspec2's model definitions (the same builder as the bundled maps), with
the point ids the adapters use (``m701_w``, ``m704_w_max_lim_pct``, ``m123_w_max_lim_pct``, ...). Models
pysunspec2 does not define (vendor models) and the repeating parts of models (160 MPPT modules) are skipped,
but their length is honoured, so every later model sits at the right address.
"""

from __future__ import annotations

from drivers.errors import CommError, DriverConfigError, ExceptionReplyError
from drivers.registermap import RegisterMap
from drivers.transport import ModbusTransport

BASES = (40000, 0, 50000)
"""Where SunSpec devices put the ``SunS`` marker (0-based PDU addresses), in the order tried."""
SUNS = [0x5375, 0x6E53]
MAX_MODELS = 64


class SunSpecNotFound(DriverConfigError):
    """No ``SunS`` marker at any base, or a chain that does not end."""

    exit_code = 4


async def discover(transport: ModbusTransport, unit_id: int) -> tuple[int, list[tuple[int, int]]]:
    """``(base, [(model id, length L), ...])`` of the device at ``unit_id``; :class:`SunSpecNotFound` if none.

    Communication errors other than "illegal data address" at a base propagate (the device is not there).
    """
    for base in BASES:
        try:
            marker = await transport.read("holding", base, 2, unit_id)
        except ExceptionReplyError:
            continue
        if marker != SUNS:
            continue
        chain: list[tuple[int, int]] = []
        address = base + 2
        for _ in range(MAX_MODELS):
            mid, length = await transport.read("holding", address, 2, unit_id)
            if mid == 0xFFFF:
                return base, chain
            chain.append((mid, length))
            address += 2 + length
        raise SunSpecNotFound(f"unit {unit_id}: SunSpec chain at {base} does not end after {MAX_MODELS} models")
    raise SunSpecNotFound(
        f"unit {unit_id}: no SunSpec marker 'SunS' at {', '.join(map(str, BASES))}: not a SunSpec device, "
        "or another unit id"
    )


def chain_map(template: RegisterMap, base: int, chain: list[tuple[int, int]]) -> RegisterMap:
    """The map of a discovered chain, named and described like ``template`` (the site file's map)."""
    from drivers.maps.generate_sunspec import build

    data = build(
        template.name,
        template.title,
        template.capability,
        [mid for mid, _ in chain],
        f"Discovered at {base}: models {', '.join(str(m) for m, _ in chain)}. {template.notes}",
        base=base,
        lengths=[length for _, length in chain],
    )
    data["capabilities"] = list(template.capabilities)
    return RegisterMap.model_validate(data)


def matches(regmap: RegisterMap, base: int, chain: list[tuple[int, int]]) -> bool:
    """Whether ``regmap`` already describes this chain (ids, lengths and base)."""
    if regmap.sunspec_base != base or regmap.sunspec_models != [m for m, _ in chain]:
        return False
    return all(
        regmap.has(f"m{mid}_l") and regmap.point(f"m{mid}_l").default == length for mid, length in chain
    )


__all__ = ["BASES", "SunSpecNotFound", "chain_map", "discover", "matches"]


async def discover_map(transport: ModbusTransport, unit_id: int, template: RegisterMap) -> RegisterMap | None:
    """The device's own map if its chain differs from ``template`` (``None``: the template fits, or no answer)."""
    try:
        base, chain = await discover(transport, unit_id)
    except CommError:
        return None
    return None if matches(template, base, chain) else chain_map(template, base, chain)
