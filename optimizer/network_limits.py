"""Linear network limits added to the dispatch problem by the network engineer's sensitivities.

Each limit is one row ``constant + Σ_a coeffs_kw[a] · p_a[step] ≤ upper`` where ``p_a`` is the net
injection of asset ``a`` into its bus in kW, in the project's single sign convention (DESIGN.md §3):

- PV output > 0; battery discharge > 0, charge < 0;
- tenant base loads (keyed by the tenant id), heat pumps, flexible loads and EV depots < 0 (consumption);
- the key ``"grid"`` is the import at the point of common coupling (> 0 import, < 0 export).

The unit of ``constant`` and ``upper`` is whatever the row limits (kW of line flow, kV, per-unit voltage);
only the coefficients are per kW of injection. A lower bound ``x ≥ lower`` is written as
``-x ≤ -lower`` (negate ``constant``, ``coeffs_kw`` and the bound).
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass, field

from optimizer.errors import InputError

GRID_KEY = "grid"
"""Key of the PCC import in :attr:`NetworkLimit.coeffs_kw`."""


@dataclass(frozen=True)
class NetworkLimit:
    """``constant + Σ coeffs_kw[asset_id] · p_asset_kw[step] ≤ upper`` at one step of the horizon."""

    name: str
    """Label reported when the limit binds or conflicts, e.g. ``"line cable_ss_fa1 loading"``."""
    step: int
    """Index of the interval in the horizon (0 = first interval)."""
    coeffs_kw: dict[str, float] = field(default_factory=dict)
    """Sensitivity per kW of net injection, keyed by asset id (tenant id for a base load, ``"grid"``)."""
    constant: float = 0.0
    upper: float = math.inf


def check_network_limits(limits: Iterable[NetworkLimit], n_steps: int, asset_ids: Iterable[str]) -> list[str]:
    """Problems with ``limits`` for a horizon of ``n_steps`` and the known asset ids (empty = usable)."""
    known = set(asset_ids) | {GRID_KEY}
    problems = []
    for i, lim in enumerate(limits):
        where = f"network_limits[{i}] ('{lim.name}')"
        if not 0 <= lim.step < n_steps:
            problems.append(f"{where}.step: {lim.step} is outside the horizon 0..{n_steps - 1}")
        unknown = sorted(set(lim.coeffs_kw) - known)
        if unknown:
            problems.append(f"{where}.coeffs_kw: unknown asset ids {unknown} (use site asset ids, tenant ids or 'grid')")
        values = [lim.constant, lim.upper, *lim.coeffs_kw.values()]
        if any(math.isnan(v) for v in values) or any(math.isinf(v) for v in (lim.constant, *lim.coeffs_kw.values())):
            problems.append(f"{where}: constant and coefficients must be finite numbers")
    return problems


def validate_network_limits(limits: Iterable[NetworkLimit], n_steps: int, asset_ids: Iterable[str]) -> None:
    """Raise :class:`InputError` listing every problem with ``limits``."""
    problems = check_network_limits(list(limits), n_steps, asset_ids)
    if problems:
        raise InputError(f"{len(problems)} invalid network limit(s)", problems)
