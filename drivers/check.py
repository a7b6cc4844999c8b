"""Commissioning point check (``microgrid devices SITE --check``): does each device match the site file?

For every device it reads every readable point of its map once and reports findings:

- ``unit_id``: the device does not answer at the configured unit id; the check probes the map's default and
  the usual ids (0-10, 127, 247) with a short timeout and names the one that answers;
- ``identity``: identity registers differ from the site file's ``devices[].expect`` (model, serial, firmware:
  strings compared exactly after trimming, numbers within 0.5 %), or a SunSpec chain differs from the map;
- ``word_order``: a 32-bit value is implausible as read but plausible with its two words swapped;
- ``ratio``: meter PT/CT registers differ from the site file, or the primary voltage is far from the bus's
  nominal voltage (a wrong PT ratio, or secondary values taken as primary);
- ``unsupported``: points the device refuses (illegal data address) -- often a map option for another firmware;
- ``control``: the map (option) chosen for the device takes no setpoint (read-only firmware).
"""

from __future__ import annotations

import contextlib
import math
from dataclasses import dataclass
from typing import Any

from drivers.device import ModbusDevice
from drivers.errors import CommError
from drivers.fleet import Fleet
from drivers.readonly import control_gap_wording
from drivers.registermap import Point, decode, encode, kw_factor
from drivers.transport import Endpoint, LinkSettings, ModbusTransport
from microgrid.i18n import reworded, t, worded

PROBE_UNITS = (1, 0, 2, 3, 4, 5, 6, 7, 8, 9, 10, 127, 247)
"""Unit ids tried when a device is silent at its configured id (most gateways / vendor defaults)."""


@dataclass(frozen=True)
class Finding:
    device_id: str
    kind: str
    """``unit_id``, ``identity``, ``word_order``, ``ratio``, ``unsupported``, ``control`` or ``offline``."""
    message: str
    """English text (also the log's)."""
    key: str = ""
    """Catalogue key of ``message`` (``devices.find.*``) when it has one, for :meth:`line` in another language."""
    params: tuple[tuple[str, Any], ...] = ()

    @classmethod
    def of(cls, device_id: str, kind: str, key: str, **params: Any) -> Finding:
        """A finding worded by the catalogue entry ``key``."""
        return cls(device_id, kind, **worded(key, **params))

    def line(self, lang: str | None = None) -> str:
        """``device: kind: message`` in ``lang`` (device ids, point ids, numbers and units as they are)."""
        return t("devices.finding", lang, device=self.device_id, kind=t(f"devices.kind.{self.kind}", lang),
                 message=reworded(self.message, self.key, self.params, lang))


def _expect_problem(point: Point, got: Any, want: Any) -> tuple[str, dict[str, Any]] | None:
    """(catalogue key, parameters) of an identity register that differs from the site file's ``expect``."""
    if got is None:
        return "devices.find.expect_unreadable", {"point": point.id, "want": repr(want)}
    if isinstance(want, str) or isinstance(got, str):
        if str(got).strip() != str(want).strip():
            return "devices.find.expect_differs", {"point": point.id, "got": repr(got), "want": repr(want)}
        return None
    if abs(float(got) - float(want)) > 0.005 * max(abs(float(want)), 1e-9):
        return "devices.find.expect_differs", {"point": point.id, "got": f"{got:g}", "want": f"{float(want):g}"}
    return None


def plausible(point: Point, value: Any, rating_kw: float | None) -> bool:
    """Whether a decoded value is physically plausible for its unit (``rating_kw`` bounds powers)."""
    if not isinstance(value, int | float) or not math.isfinite(value):
        return False
    unit = point.unit
    if unit in ("W", "kW", "var", "kvar", "VA", "kVA"):
        limit_kw = 10.0 * rating_kw if rating_kw else 1e6  # 1 GW without a rating
        return abs(value * kw_factor(point)) <= limit_kw
    if unit in ("Wh", "kWh"):
        return 0 <= value * kw_factor(point) <= 1e10
    if unit == "V":
        return 0 <= value <= 1e6
    if unit == "A":
        return abs(value) <= 1e5
    if unit == "Hz":
        return value == 0 or 40 <= value <= 70
    if unit == "%":
        return -200 <= value <= 200
    return True


def swapped(point: Point, value: Any) -> Any:
    """The value the same registers give with the other word order (``None`` if not applicable)."""
    if point.n_registers != 2 or point.type == "string" or not isinstance(value, int | float):
        return None
    try:
        regs = encode(point, value)
    except ValueError:
        return None
    return decode(point, [regs[1], regs[0]])


def word_order_findings(device: ModbusDevice, rating_kw: float | None) -> list[Finding]:
    out = []
    for point in device.regmap.points:
        value = device.value(point.id) if device.sample(point.id) else None
        if value is None or point.scale_sf:
            continue
        if plausible(point, value, rating_kw):
            continue
        other = swapped(point, value)
        if other is not None and plausible(point, other, rating_kw):
            out.append(Finding.of(device.device_id, "word_order", "devices.find.word_order", point=point.id,
                                  value=f"{value:g}", unit=point.unit, other=f"{other:g}", map=device.regmap.name,
                                  order=point.word_order))
    return out


async def probe_unit_ids(device: ModbusDevice, timeout_s: float = 0.3) -> list[int]:
    """Unit ids (other than the configured one) at which the map's first register answers."""
    first = min((p for p in device.regmap.points if p.access != "w"), key=lambda p: (p.table, p.address or 0))
    probe = ModbusTransport(device.transport.endpoint, LinkSettings(timeout_s=timeout_s, retries=0))
    found = []
    try:
        candidates = dict.fromkeys((device.regmap.default_unit_id, *PROBE_UNITS))
        for unit in candidates:
            if unit == device.unit_id:
                continue
            try:
                await probe.read(first.table, first.address or 0, first.n_registers, unit)
            except CommError as exc:
                if "exception" in str(exc):  # an exception reply: something answers at that id
                    found.append(unit)
                continue
            found.append(unit)
    finally:
        await probe.close()
    return found


def _endpoint_text(endpoint: Endpoint) -> str:
    return f"{endpoint.key} ({endpoint.kind})"


async def check_fleet(
    fleet: Fleet, device_ids: list[str], expect: dict[str, dict[str, Any]], nominal_v: dict[str, float]
) -> list[Finding]:
    """Findings for ``device_ids`` (empty list: every device matches the site file).

    ``expect``: device id -> point id -> expected value (the site file's ``devices[].expect``);
    ``nominal_v``: meter device id -> nominal phase voltage of its bus, V.
    """
    findings: list[Finding] = []
    for did in device_ids:
        device = fleet.device(did)
        adapter, _role = fleet.asset_of(did)
        readable = [p.id for p in device.regmap.points if p.access != "w"]
        with contextlib.suppress(CommError):
            await device.poll(readable)
        answered = any(device.sample(pid) is not None for pid in readable)
        if not answered:
            others = await probe_unit_ids(device)
            where = _endpoint_text(device.transport.endpoint)
            if others:
                findings.append(Finding.of(did, "unit_id", "devices.find.unit_id", unit=device.unit_id, where=where,
                                           others=", ".join(map(str, others))))
            elif device.health.last_error:
                findings.append(Finding.of(did, "offline", "devices.find.offline", unit=device.unit_id, where=where,
                                           error=device.health.last_error))
            else:
                findings.append(Finding.of(did, "offline", "devices.find.silent", unit=device.unit_id, where=where))
            continue
        for pid, want in expect.get(did, {}).items():
            if not device.has(pid):
                findings.append(Finding.of(did, "identity", "devices.find.expect_no_point", point=pid,
                                           map=device.regmap.name))
            elif problem := _expect_problem(device.point(pid), device.value(pid), want):
                findings.append(Finding.of(did, "identity", problem[0], **problem[1]))
        chain = getattr(adapter, "chain_mismatch", None)
        if chain is not None and (found := chain()):
            findings.append(Finding.of(did, "identity", "devices.find.chain", **found))
        rating = getattr(adapter.limits, "p_max_kw", None) or max(
            adapter.limits.p_charge_max_kw or 0.0, adapter.limits.p_discharge_max_kw or 0.0
        ) or None
        findings += word_order_findings(device, rating)
        if device.unsupported:
            options = ", ".join(f"{k}: {'/'.join(o.choices)}" for k, o in device.regmap.options.items())
            refused = ", ".join(sorted(device.unsupported))
            if options:
                findings.append(Finding.of(did, "unsupported", "devices.find.unsupported_options", points=refused,
                                           options=options))
            else:
                findings.append(Finding.of(did, "unsupported", "devices.find.unsupported", points=refused))
        if did in nominal_v:
            findings += _meter_findings(fleet, did, nominal_v[did])
        if gap := control_gap_wording(device.regmap):
            findings.append(Finding.of(did, "control", gap[0], **gap[1]))
    return findings


def _meter_findings(fleet: Fleet, device_id: str, nominal_phase_v: float) -> list[Finding]:
    from drivers.adapters.meters import ratio_mismatches

    adapter, _ = fleet.asset_of(device_id)
    out = [Finding.of(device_id, "ratio", "devices.find.ratio", **p) for p in ratio_mismatches(adapter)]
    reading = adapter.reading()
    v = getattr(reading, "v_v", None)
    if v and nominal_phase_v and not 0.75 * nominal_phase_v <= v <= 1.25 * nominal_phase_v:
        out.append(Finding.of(device_id, "ratio", "devices.find.voltage", v=f"{v:.6g}", nominal=f"{nominal_phase_v:.6g}"))
    return out


__all__ = ["Finding", "check_fleet", "plausible", "probe_unit_ids", "swapped"]
