"""``microgrid sim SITE``: serve every device of a site over Modbus TCP with physics and faults.

Prints a table of endpoints (device, kind, host:port, unit id, map) and runs until Ctrl-C (or
``--duration`` simulated seconds), then stops every server cleanly.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import signal
import sys
from pathlib import Path
from zoneinfo import ZoneInfo

from microgrid.cli import add_logging_arguments, tr
from microgrid.cli import validators as valid
from microgrid.i18n import current_lang, display_width, ljust, t


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "sim",
        description=(
            tr("desc.sim")
        ),
    )
    parser.add_argument("site", help=tr("help.sim.site"))
    parser.add_argument(
        "--speed", type=valid.positive("speed factor", 1e6), default=1.0,
        help=tr("help.sim.speed")
    )
    parser.add_argument(
        "--faults", type=Path, default=None, help=tr("help.sim.faults")
    )
    parser.add_argument("--seed", type=int, default=0, help=tr("help.sim.seed"))
    parser.add_argument("--start", default=None, help=tr("help.sim.start"))
    parser.add_argument("--duration", type=valid.positive("duration in simulated s", 1e9), default=None,
                        help=tr("help.sim.duration"))
    parser.add_argument(
        "--network", choices=("balance", "pandapower"), default="balance", help=tr("help.sim.network")
    )
    parser.add_argument(
        "--step",
        type=valid.positive("physics step in simulated s", 3600),
        default=None,
        help=tr("help.sim.step"),
    )
    parser.add_argument(
        "--auto-ports", action="store_true", help=tr("help.sim.auto-ports")
    )
    parser.add_argument(
        "--status-every", type=valid.bounded(0, 86400, "interval in wall s"), default=0.0, help=tr("help.sim.status-every")
    )
    utility = parser.add_argument_group(tr("help.sim.utility-title"), tr("help.sim.utility-group"))
    utility.add_argument("--utility", metavar="HOST:PORT", type=host_port,
                         help=tr("help.sim.utility"))
    utility.add_argument("--utility-unit", type=valid.integer(0, 247, "a Modbus unit id"), default=1, metavar="ID",
                         help=tr("help.sim.utility-unit"))
    utility.add_argument("--utility-schedule", metavar="FILE", type=Path,
                         help=tr("help.sim.utility-schedule"))
    utility.add_argument("--utility-random", metavar="N", type=valid.bounded(0, 86400, "number of events per day"),
                         default=0.0, help=tr("help.sim.utility-random"))
    utility.add_argument("--utility-target-kw", metavar="LO:HI", type=kw_range, default=None,
                         help=tr("help.sim.utility-target-kw"))
    utility.add_argument("--utility-seed", type=int, default=None, metavar="S",
                         help=tr("help.sim.utility-seed"))
    add_logging_arguments(parser, argparse.SUPPRESS)
    parser.set_defaults(func=run)


def host_port(text: str) -> tuple[str, int]:
    """``--utility``: ``HOST:PORT`` with a port 1..65535."""
    host, sep, port = text.rpartition(":")
    if not sep or not host or not port.isdigit() or not 1 <= int(port) <= 65535:
        raise valid.refuse("uerr.utility_host_port", text=text)
    return host.strip("[]"), int(port)


def kw_range(text: str) -> tuple[float, float]:
    """``--utility-target-kw``: ``LO:HI`` in kW, 0 <= LO <= HI."""
    lo, sep, hi = text.partition(":")
    parse = valid.bounded(0, 1e7, "power in kW")
    if not sep:
        raise valid.refuse("uerr.utility_kw_range", text=text)
    low, high = parse(lo), parse(hi)
    if low > high:
        raise valid.refuse("uerr.utility_kw_range", text=text)
    return low, high


def utility_mode(args: argparse.Namespace, site, tz: ZoneInfo):
    """The :class:`sim.utility.UtilityMode` the flags ask for (``None`` without ``--utility``); bad combinations
    and schedule files are :class:`UserError` (exit 2) before anything starts."""
    from microgrid.errors import UserError
    from sim.utility import UtilityMode, read_utility_schedule

    asked = [name for name, value in (("--utility-schedule", args.utility_schedule),
                                      ("--utility-random", args.utility_random),
                                      ("--utility-target-kw", args.utility_target_kw)) if value]
    if args.utility is None:
        if asked:
            raise UserError.of("uerr.utility_needs_address", option=asked[0])
        return None
    if not args.utility_schedule and not args.utility_random:
        raise UserError.of("uerr.utility_nothing")
    schedule = read_utility_schedule(args.utility_schedule, tz) if args.utility_schedule else []
    cap = site.grid.import_cap_kw
    host, port = args.utility
    return UtilityMode(host, port, unit_id=args.utility_unit, schedule=schedule, random_per_day=args.utility_random,
                       target_range_kw=args.utility_target_kw or (round(0.5 * cap, 1), round(0.9 * cap, 1)),
                       seed=args.seed if args.utility_seed is None else args.utility_seed, on_sent=_print_sent)


def _print_sent(at, target_kw: float, outcome: str) -> None:
    lang = current_lang()
    if outcome in ("accepted", "refused"):
        said = t(f"sim.outcome.{outcome}", lang)
    else:  # "not sent: <reason>" (the reason is the library's text)
        said = t("sim.outcome.not_sent", lang, detail=outcome.removeprefix("not sent: "))
    print(t("sim.utility_sent", lang, at=f"{at:%Y-%m-%d %H:%M:%S}", kw=f"{target_kw:g}", outcome=said), flush=True)


def run(args: argparse.Namespace) -> int:
    from microgrid.clock import RealClock, ScaledClock
    from microgrid.site import load_site
    from sim.faults import load_scenario

    site = load_site(args.site)
    start = valid.local_time(args.start, "--start", ZoneInfo(site.timezone))
    tz = ZoneInfo(site.timezone)
    clock = RealClock(tz) if args.speed == 1 and start is None else ScaledClock(args.speed, start, tz)
    scenario = load_scenario(args.faults) if args.faults else None
    utility = utility_mode(args, site, tz)
    return asyncio.run(_serve(args, site, clock, scenario, start, utility))


def format_table(rows: list[dict[str, object]]) -> str:
    """The endpoint table (column headers in the command line's language)."""
    headers = [t(f"sim.col.{c}", current_lang()) for c in ("device", "kind", "host_port", "unit", "map")]
    lines = [
        (str(r["device"]), str(r["kind"]), f"{r['host']}:{r['port']}", str(r["unit_id"]), str(r["map"]))
        for r in rows
    ]
    widths = [max(display_width(h), *(len(line[i]) for line in lines)) if lines else display_width(h)
              for i, h in enumerate(headers)]
    out = ["  ".join(ljust(h, w) for h, w in zip(headers, widths, strict=True))]
    out.append("  ".join("-" * w for w in widths))
    out += ["  ".join(c.ljust(w) for c, w in zip(line, widths, strict=True)) for line in lines]
    return "\n".join(out)


async def _serve(args, site, clock, scenario, start, utility=None) -> int:
    from sim.park import Park

    park = Park.from_site(
        site,
        clock,
        seed=args.seed,
        faults=scenario,
        bind="auto" if args.auto_ports else "site",
        network=args.network,
        start=start,
        step_s=args.step,
    )
    await park.start()
    speed = getattr(clock, "speed", 1.0)
    lang = current_lang()
    print(t("sim.head", lang, site=site.id, speed=f"{speed:g}", start=f"{park.now:%Y-%m-%d %H:%M:%S %Z}",
            seed=args.seed))
    if scenario is not None:
        print(t("sim.faults", lang, path=args.faults, n=len(scenario.faults)))
    print(format_table(park.endpoint_rows()))
    print(t("sim.ctrl_c", lang), flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, stop.set)
    waiters = [asyncio.create_task(stop.wait())]
    if args.duration is not None:
        waiters.append(asyncio.create_task(clock.sleep(args.duration)))
    if args.status_every > 0:
        waiters.append(asyncio.create_task(_status(park, args.status_every)))
    if utility is not None:
        host, port = args.utility
        print(t("sim.utility_on", lang, host=host, port=port, unit=args.utility_unit,
                scheduled=len(utility.schedule), random=f"{args.utility_random:g}"), flush=True)
        done = asyncio.Event()
        driver = asyncio.create_task(_drive_utility(utility, clock, park.step_s, done))
    try:
        await asyncio.wait(waiters, return_when=asyncio.FIRST_COMPLETED)
        await park.catch_up()
    finally:
        for task in waiters:
            task.cancel()
        if utility is not None:  # a target on the wire is answered (and printed) before the end
            done.set()
            with contextlib.suppress(asyncio.TimeoutError, asyncio.CancelledError):
                await asyncio.wait_for(driver, timeout=10)
            utility.close()
        await park.stop()
    print(t("sim.stopped", lang, now=f"{park.now:%Y-%m-%d %H:%M:%S}", seconds=f"{park.t_s:.0f}"), flush=True)
    return 0


async def _drive_utility(utility, clock, every_s: float, done: asyncio.Event) -> None:
    """Step the utility mode on the simulator's clock (simulated seconds, as the physics) until ``done``."""
    last = clock.monotonic()
    while not done.is_set():
        await clock.sleep(every_s)
        now = clock.monotonic()
        await utility.step(clock.now(), now - last)
        last = now


async def _status(park, every_s: float) -> None:
    while True:
        await asyncio.sleep(every_s)
        state = park.state()
        socs = " ".join(f"{k}={v:.1f}%" for k, v in state.soc_pct.items())
        print(t("sim.status", current_lang(), time=f"{state.time:%H:%M:%S}", pcc=f"{state.pcc_import_kw:8.1f}",
                pv=f"{sum(state.pv_kw.values()):8.1f}", socs=socs), file=sys.stdout, flush=True)
