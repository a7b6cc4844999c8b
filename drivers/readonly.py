"""Maps (or map option choices) that read a controllable asset but cannot command it.

A profile map whose storage has no power setpoint, or whose PV inverter has no limit, is read-only (e.g.
``sinexcel_pcs`` with ``remote_control: disabled``). The controller would plan a dispatch the device never
follows, so ``microgrid validate`` refuses such a site, ``devices --check`` reports it and the adapter refuses
every setpoint with the same words.
"""

from __future__ import annotations

from typing import Any

from drivers.registermap import RegisterMap, RegisterMapError, load_map

_COMMAND = {"storage": ("setpoint", "power setpoint"), "pv_inverter": ("limit_pct", "active power limit")}


def map_label(regmap: RegisterMap) -> str:
    """``sinexcel_pcs`` or ``sinexcel_pcs (remote_control=disabled)`` for non-default choices."""
    chosen = [f"{k}={v}" for k, v in regmap.selected.items() if v != regmap.options[k].default]
    return f"{regmap.name} ({', '.join(chosen)})" if chosen else regmap.name


def control_gap(regmap: RegisterMap) -> str | None:
    """Why a device with this map cannot be commanded (``None``: it can, or it is not a profile map)."""
    prof = regmap.profile
    if prof is None or prof.kind not in _COMMAND:
        return None
    field, what = _COMMAND[prof.kind]
    if getattr(prof, field) is not None:
        return None
    return f"map {map_label(regmap)} takes no {what} (read-only): setpoints are refused"


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


__all__ = ["control_gap", "map_label", "site_control_problems"]
