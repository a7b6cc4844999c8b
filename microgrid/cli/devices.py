"""``microgrid devices SITE``: read every device once and print a point table; ``--write`` one setpoint.

Commissioning tool. Reads every device of the site (or ``--device`` ones) through the same drivers the
controller uses and prints, per device, its link, unit id, health and a table of points (value, unit,
age, status). ``--write DEVICE.POINT=VALUE`` writes one point with every safety rule (representable,
clamped to the device's and the site's limits, the device's write sequence, EEPROM budget) and prints
the readback. Exit codes: 0 ok, 2 bad input or refused write, 4 a device offline / write failed or not
confirmed.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import math
import re

from drivers.fleet import Fleet
from drivers.health import Health
from drivers.inspect import device_rows, point_rows, points_of_interest
from drivers.safewrite import WriteResult, WriteStatus
from microgrid.cli import tr
from microgrid.cli import validators as valid
from microgrid.errors import UserError
from microgrid.i18n import current_lang, display_width, ljust, t
from microgrid.site import load_site

_WRITE_RE = re.compile(r"^(?P<device>[a-z][a-z0-9_]*)\.(?P<point>[a-z][a-z0-9_]*)=(?P<value>.+)$")


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "devices",
        description=tr("desc.devices"),
    )
    parser.add_argument("site", metavar="SITE", help=tr("help.site"))
    parser.add_argument("--device", action="append", default=[], metavar="ID", help=tr("help.devices.device"))
    parser.add_argument("--all", action="store_true", help=tr("help.devices.all"))
    parser.add_argument(
        "--write",
        metavar="DEVICE.POINT=VALUE",
        help=tr("help.devices.write"),
    )
    parser.add_argument(
        "--check",
        action="store_true",
        help=tr("help.devices.check"),
    )
    parser.add_argument("--connect-delay", type=valid.bounded(0, 60, "delay in s"), default=None, metavar="S",
                        help=tr("help.devices.connect-delay"))
    parser.set_defaults(func=run)


def parse_write(text: str) -> tuple[str, str, object]:
    """``DEVICE.POINT=VALUE`` -> (device, point, value); numbers become int/float, other text stays a string."""
    m = _WRITE_RE.match(text.strip())
    if not m:
        raise UserError.of("uerr.write_syntax", text=repr(text))
    raw = m["value"].strip()
    value: object
    try:
        value = int(raw, 0)
    except ValueError:
        try:
            value = float(raw)
        except ValueError:
            value = raw
        else:
            if not math.isfinite(value):
                raise UserError.of("uerr.write_not_finite", text=repr(text), raw=raw)
    return m["device"], m["point"], value


def _fmt_age(age: float | None) -> str:
    return "-" if age is None else f"{age:.1f} s"


def _table(rows: list[list[str]], header: list[str]) -> str:
    widths = [max(display_width(str(r[i])) for r in [header, *rows]) for i in range(len(header))]
    lines = ["  " + "  ".join(ljust(h, w) for h, w in zip(header, widths, strict=True))]
    lines += ["  " + "  ".join(str(c).ljust(w) for c, w in zip(r, widths, strict=True)) for r in rows]
    return "\n".join(line.rstrip() for line in lines)


async def _run(args: argparse.Namespace) -> int:
    site = load_site(args.site)
    fleet = Fleet.from_site(site, connect_delay_s=args.connect_delay)
    write = parse_write(args.write) if args.write else None
    wanted = list(args.device) or list(fleet.devices)
    if write is not None:
        wanted = [write[0]]
    for did in wanted:
        fleet.device(did)
    try:
        await fleet.discover(wanted)
        if args.check:
            return await _check(fleet, site, wanted)
        assets = {fleet.asset_of(d)[0].asset_id for d in wanted}
        await fleet.read_all(force_all=True, assets=assets)
        if args.all:
            await asyncio.gather(
                *(fleet.device(d).poll(points_of_interest(fleet, fleet.device(d), all_points=True)) for d in wanted)
            )
        if write is not None:
            return await _write(fleet, *write)
        return _print_points(fleet, wanted, all_points=args.all, site_id=site.id)
    finally:
        await fleet.close()


async def _check(fleet: Fleet, site, device_ids: list[str]) -> int:
    from drivers.check import check_fleet

    expect = {d.id: dict(d.expect) for d in site.devices if d.expect}
    buses = {b.id: b.vn_kv for b in site.network.buses}
    meters = {m.id: m for m in site.meters}
    nominal = {
        d.id: buses[meters[d.serves].bus] * 1000.0 / 3**0.5
        for d in site.devices
        if d.serves in meters and meters[d.serves].bus in buses
    }
    findings = await check_fleet(fleet, device_ids, expect, nominal)
    lang = current_lang()
    print(t("devices.checked", lang, site=site.id, n=len(device_ids)))
    by_device = {f.device_id for f in findings}
    for did in device_ids:
        if did not in by_device:
            print(t("devices.ok", lang, device=did))
    for finding in findings:
        print(finding.line(lang))
    if any(f.kind == "offline" for f in findings):
        return 4
    return 2 if findings else 0


def _print_points(fleet: Fleet, device_ids: list[str], *, all_points: bool, site_id: str) -> int:
    offline = invalid = 0
    lang = current_lang()
    print(t("devices.head", lang, site=site_id, n=len(device_ids)))
    header = [t(f"devices.col.{c}", lang) for c in ("point", "value", "unit", "age", "status", "register")]
    for row in device_rows(fleet, device_ids):
        device = fleet.device(row.device_id)
        print()
        print(t("devices.device", lang, device=row.device_id, health=t(f"health.{row.health}", lang), map=row.map_name,
                unit=row.unit_id, link=row.link, asset=row.asset_id, role=row.role, requests=row.requests))
        if row.health != Health.ONLINE.value:
            print(f"  {row.detail}")
        if row.health == Health.OFFLINE.value:
            offline += 1
        ids = points_of_interest(fleet, device, all_points=all_points)
        rows = point_rows(device, ids)
        invalid += sum(p.status == "invalid" for p in rows)
        table = [[p.point_id, p.value, p.unit, _fmt_age(p.age_s), t(f"devices.status.{p.status.replace(' ', '_')}", lang),
                  f"{p.table[:4]} {p.address}"]
                 for p in rows]
        print(_table(table, header))
    print()
    if offline or invalid:
        print(t("devices.sep", lang).join(([t("devices.offline", lang, n=offline)] if offline else [])
                                          + ([t("devices.invalid", lang, n=invalid)] if invalid else [])))
        return 4
    print(t("devices.all_answered", lang))
    return 0


async def _write(fleet: Fleet, device_id: str, point_id: str, value: object) -> int:
    device = fleet.device(device_id)
    point = device.point(point_id)
    if device.health_state() is Health.OFFLINE:
        print(t("cli.error", current_lang(), message=t("cli.device_offline", current_lang(), device=device_id,
                                                          detail=device.health.last_error)))
        return 4
    results = await fleet.write_point(device_id, point_id, value)
    _print_results(results)
    if any(r.status in (WriteStatus.REFUSED, WriteStatus.RATE_LIMITED) for r in results):
        return 2
    if any(r.status in (WriteStatus.FAILED, WriteStatus.MISMATCH) for r in results):
        return 4
    back = device.value(point_id) if point.access != "w" else None
    if back is not None:
        print(t("devices.now_reads", current_lang(), device=device_id, point=point_id, value=repr(back),
                unit=point.unit).rstrip())
    kept = [k for w in fleet.writers.values() for k in w.kept_alive if w.device.device_id == device_id]
    if kept:
        print(t("devices.keep_alive", current_lang(), points=", ".join(kept)))
    return 0


def _print_results(results: list[WriteResult]) -> None:
    for r in results:
        print(r.describe(current_lang()))


def run(args: argparse.Namespace) -> int:
    logging.getLogger("pymodbus").setLevel(logging.CRITICAL)
    return asyncio.run(_run(args))
