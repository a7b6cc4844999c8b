"""The northbound point table, generated from the site: one model shared by IEC 104 and Modbus TCP.

Order (stable for a given site file, so SCADA engineering survives restarts):

1. measurements (104 ``M_ME_TF_1`` short float with CP56Time2a; Modbus input registers, float32 big-endian,
   two registers each): PCC P/Q/U/f, each tenant's import, PV total and per plant, per battery P and SoC,
   the controller mode code, the green-power ratio of the day, the PCC import limit in force and the DR cap;
2. single points (104 ``M_SP_TB_1``; Modbus discrete inputs): alarms and states;
3. set-points (104 ``C_SE_NC_1`` short-float set-point, select-before-operate; Modbus holding registers,
   float32, read-back of the commanded value, writable only when enabled): PCC import limit, DR target;
4. commands (104 ``C_SC_NA_1`` single command, select-before-operate; Modbus coil): release both.

IOAs count up from ``gridside.iec104.ioa_base`` in blocks: measurements at ``base``, single points at
``base + 1000``, set-points at ``base + 2000``, commands at ``base + 3000``. Sign convention (DESIGN.md §3):
PCC P import > 0; tenant import = consumption > 0; PV > 0; storage discharge > 0 / charge < 0.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from microgrid.site.models import Site

Kind = Literal["measurement", "single", "setpoint", "command"]
BLOCK = 1000
"""IOA distance between the blocks of the four kinds."""

MODE_CODES = ("normal", "fallback", "safe", "manual", "degraded")
"""Value of the ``mode_code`` point per controller mode (index in this tuple)."""


@dataclass(frozen=True)
class GridPoint:
    """One point of the northbound table."""

    key: str
    """Stable name, e.g. ``pcc_p_kw``, ``tenant_t1_import_kw``, ``alarm_limit``."""
    kind: Kind
    unit: str
    """kW, kvar, V, Hz, %, code, or '' for single points."""
    deadband: str
    """Field of :class:`~microgrid.site.gridside.Deadbands` that applies ('' for single points and commands)."""
    description: str
    ioa: int
    """IEC 104 information object address."""
    modbus_table: Literal["input", "discrete_input", "holding", "coil"]
    modbus_address: int
    """0-based wire address in its Modbus table (float32 points take two registers)."""


@dataclass(frozen=True)
class PointTable:
    points: tuple[GridPoint, ...]

    def of_kind(self, kind: Kind) -> list[GridPoint]:
        return [p for p in self.points if p.kind == kind]

    def by_key(self, key: str) -> GridPoint:
        for p in self.points:
            if p.key == key:
                return p
        raise KeyError(key)

    def by_ioa(self, ioa: int) -> GridPoint | None:
        return next((p for p in self.points if p.ioa == ioa), None)

    def rows(self) -> list[dict]:
        """JSON-ready rows (docs, ``microgrid gridside points``)."""
        return [{"key": p.key, "kind": p.kind, "unit": p.unit, "ioa": p.ioa, "modbus": f"{p.modbus_table} {p.modbus_address}",
                 "deadband": p.deadband, "description": p.description} for p in self.points]

    def markdown(self) -> str:
        head = "| key | kind | unit | IOA | Modbus (table, address) | deadband | description |\n|---|---|---|---|---|---|---|\n"
        return head + "".join(f"| `{r['key']}` | {r['kind']} | {r['unit']} | {r['ioa']} | {r['modbus']} | "
                              f"{r['deadband'] or '-'} | {r['description']} |\n" for r in self.rows())


def _measurements(site: Site) -> list[tuple[str, str, str, str]]:
    """(key, unit, deadband field, description) of every measurement, in table order."""
    rows = [("pcc_p_kw", "kW", "power_kw", "PCC active power, import > 0"),
            ("pcc_q_kvar", "kvar", "reactive_kvar", "PCC reactive power, import > 0"),
            ("pcc_u_ln_v", "V", "voltage_v", "PCC mean phase-to-neutral voltage, primary side (as the meter reports)"),
            ("pcc_f_hz", "Hz", "frequency_hz", "grid frequency at the PCC")]
    for t in site.tenants:
        rows.append((f"tenant_{t.id}_import_kw", "kW", "power_kw", f"import of tenant {t.id} (sum of its tenant meters)"))
    rows.append(("pv_p_kw", "kW", "power_kw", "PV output, all plants"))
    for p in site.assets.pv:
        key = p.id if p.id.startswith("pv_") else f"pv_{p.id}"
        rows.append((f"{key}_p_kw", "kW", "power_kw", f"PV output of {p.id}"))
    for b in site.assets.batteries:
        rows.append((f"storage_{b.id}_p_kw", "kW", "power_kw", f"storage {b.id} AC power, discharge > 0"))
        rows.append((f"storage_{b.id}_soc_pct", "%", "soc_pct", f"storage {b.id} state of charge"))
    rows += [("mode_code", "code", "code", "controller mode: " + ", ".join(f"{i} {m}" for i, m in enumerate(MODE_CODES))),
             ("green_ratio_day_pct", "%", "ratio_pct", "green-power ratio (绿电占比) of the local day so far"),
             ("pcc_limit_kw", "kW", "power_kw", "PCC import limit in force (site cap, command or DR event)"),
             ("dr_cap_kw", "kW", "power_kw", "import cap of the DR event in force (NaN when none)")]
    return rows


SINGLES = (
    ("alarm_any", "any alarm active"),
    ("alarm_limit", "a hard limit could not be held"),
    ("alarm_device_offline", "a device is offline"),
    ("mode_safe", "controller in its safe state (PCC not measured)"),
    ("mode_manual", "manual mode: automatic dispatch suspended"),
    ("dr_active", "a demand-response event is in force"),
    ("pcc_limit_commanded", "a commanded PCC import limit is in force"),
)
SETPOINTS = (
    ("cmd_pcc_limit_kw", "kW", "PCC import limit command (expires after commands.hold_min)"),
    ("cmd_dr_target_kw", "kW", "DR target: maximum import from now for commands.hold_min (an event 'grid')"),
)
COMMANDS = (("cmd_release", "release the commanded PCC limit and end a commanded DR event"),)


def point_table(site: Site) -> PointTable:
    """The table of ``site`` (see module docstring)."""
    base = site.gridside.iec104.ioa_base
    points: list[GridPoint] = []
    for i, (key, unit, band, text) in enumerate(_measurements(site)):
        points.append(GridPoint(key, "measurement", unit, band, text, base + i, "input", 2 * i))
    for i, (key, text) in enumerate(SINGLES):
        points.append(GridPoint(key, "single", "", "", text, base + BLOCK + i, "discrete_input", i))
    for i, (key, unit, text) in enumerate(SETPOINTS):
        points.append(GridPoint(key, "setpoint", unit, "code", text, base + 2 * BLOCK + i, "holding", 2 * i))
    for i, (key, text) in enumerate(COMMANDS):
        points.append(GridPoint(key, "command", "", "", text, base + 3 * BLOCK + i, "coil", i))
    return PointTable(tuple(points))
