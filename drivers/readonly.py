"""Maps (or map option choices) that read a controllable asset but cannot command it.

A profile map whose storage has no power setpoint, or whose PV inverter has no limit, is read-only (e.g.
``sinexcel_pcs`` with ``remote_control: disabled``). The controller would plan a dispatch the device never
follows, so ``microgrid validate`` refuses such a site, ``devices --check`` reports it and the adapter refuses
every setpoint with the same words.
"""

from __future__ import annotations

from typing import Any

from drivers.registermap import RegisterMap, RegisterMapError, load_map
from microgrid.i18n import t

_COMMAND = {"storage": "setpoint", "pv_inverter": "limit_pct"}
"""The profile field that commands each kind; without it the map is read-only."""


def map_label(regmap: RegisterMap) -> str:
    """``sinexcel_pcs`` or ``sinexcel_pcs (remote_control=disabled)`` for non-default choices."""
    chosen = [f"{k}={v}" for k, v in regmap.selected.items() if v != regmap.options[k].default]
    return f"{regmap.name} ({', '.join(chosen)})" if chosen else regmap.name


def control_gap_wording(regmap: RegisterMap) -> tuple[str, dict[str, str]] | None:
    """(catalogue key, parameters) of why a device with this map cannot be commanded (``None``: it can, or it
    is not a profile map)."""
    prof = regmap.profile
    if prof is None or prof.kind not in _COMMAND:
        return None
    if getattr(prof, _COMMAND[prof.kind]) is not None:
        return None
    return f"devices.find.control_{prof.kind}", {"map": map_label(regmap)}


def control_gap(regmap: RegisterMap) -> str | None:
    """:func:`control_gap_wording` in English words."""
    wording = control_gap_wording(regmap)
    return None if wording is None else t(wording[0], "en", **wording[1])


def site_control_problems(site: Any) -> list[str]:
    """One line per device that serves a dispatched asset through a read-only map."""
    problems = []
    for i, device in enumerate(site.devices):
        if device.role not in ("storage", "pv_inverter"):
            continue
        try:
            regmap = load_map(device.map, device.map_options)
        except RegisterMapError:
            continue  # the site checks report unknown maps and options
        if gap := control_gap(regmap):
            problems.append(
                f"devices[{i}] ('{device.id}'): {gap}, but asset '{device.serves}' is dispatched; use a map option "
                "with remote control if the firmware has it, or a controllable device"
            )
    return problems


__all__ = ["control_gap", "control_gap_wording", "map_label", "site_control_problems"]
