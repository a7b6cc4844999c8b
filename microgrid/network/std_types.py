"""Standard types the pandapower catalogue lacks: 10/0.4 kV Dyn11 dry-type distribution transformers.

pandapower ships 10/0.4 kV transformers only up to 630 kVA (oil, Dyn5). Chinese industrial parks use
cast-resin dry-type units (SCB series, GB/T 10228) of 800–2,500 kVA with vector group Dyn11. The values
below are typical for the SCB13 efficiency class at 120 °C reference temperature (load losses) and are
**illustrative**: use the nameplate (``vk_percent``, ``vkr_percent``, ``pfe_kw``, ``i0_percent`` in the
site file) for a real transformer.

``vkr_percent`` = load losses / rating × 100; ``pfe_kw`` = no-load losses; ``shift_degree`` = 30° × clock
number (Dyn11 → 330°).
"""

from __future__ import annotations

import re

import pandapower as pp

# rating kVA: (vk %, load losses kW, no-load losses kW, no-load current %)
_SCB13_10KV: dict[int, tuple[float, float, float, float]] = {
    800: (6.0, 7.04, 1.00, 0.6),
    1000: (6.0, 8.13, 1.25, 0.5),
    1250: (6.0, 10.0, 1.50, 0.5),
    1600: (6.0, 12.0, 1.80, 0.4),
    2000: (6.0, 14.6, 2.20, 0.4),
    2500: (6.0, 17.0, 2.60, 0.4),
}


def dyn11_type_name(sn_kva: int) -> str:
    """Catalogue name of the registered 10/0.4 kV Dyn11 type of ``sn_kva``, e.g. ``"2000 kVA 10/0.4 kV Dyn11 SCB13"``."""
    return f"{sn_kva} kVA 10/0.4 kV Dyn11 SCB13"


def shift_degree(vector_group: str) -> float:
    """Phase shift of the LV side, degrees, from the clock number of a vector group (``Dyn11`` → 330)."""
    match = re.search(r"(\d+)$", vector_group.strip())
    if not match or not 0 <= int(match.group(1)) <= 11:
        raise ValueError(f"vector group '{vector_group}' has no clock number 0..11 at its end (e.g. Dyn11)")
    return 30.0 * int(match.group(1))


def transformer_std_types() -> dict[str, dict]:
    """The registered transformer types as pandapower std-type dicts (name → parameters)."""
    types = {}
    for sn_kva, (vk, pk_kw, p0_kw, i0) in _SCB13_10KV.items():
        types[dyn11_type_name(sn_kva)] = {
            "sn_mva": sn_kva / 1000,
            "vn_hv_kv": 10.0,
            "vn_lv_kv": 0.4,
            "vk_percent": vk,
            "vkr_percent": round(pk_kw / sn_kva * 100, 4),
            "pfe_kw": p0_kw,
            "i0_percent": i0,
            "shift_degree": 330.0,
            "vector_group": "Dyn11",
            "tap_side": "hv",
            "tap_neutral": 0,
            "tap_min": -2,
            "tap_max": 2,
            "tap_step_percent": 2.5,
            "tap_step_degree": 0.0,
            "tap_changer_type": "Ratio",
        }
    return types


def register_std_types(net: pp.pandapowerNet) -> None:
    """Add the transformer types of :func:`transformer_std_types` to ``net``'s catalogue."""
    pp.create_std_types(net, transformer_std_types(), element="trafo", overwrite=True)
