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
    add_logging_arguments(parser, argparse.SUPPRESS)
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from microgrid.clock import RealClock, ScaledClock
    from microgrid.site import load_site
    from sim.faults import load_scenario

    site = load_site(args.site)
    start = valid.local_time(args.start, "--start", ZoneInfo(site.timezone))
    tz = ZoneInfo(site.timezone)
    clock = RealClock(tz) if args.speed == 1 and start is None else ScaledClock(args.speed, start, tz)
    scenario = load_scenario(args.faults) if args.faults else None
    return asyncio.run(_serve(args, site, clock, scenario, start))


def format_table(rows: list[dict[str, object]]) -> str:
    headers = ("device", "kind", "host:port", "unit", "map")
    lines = [
        (str(r["device"]), str(r["kind"]), f"{r['host']}:{r['port']}", str(r["unit_id"]), str(r["map"]))
        for r in rows
    ]
    widths = [
        max(len(h), *(len(line[i]) for line in lines)) if lines else len(h) for i, h in enumerate(headers)
    ]
    out = ["  ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True))]
    out.append("  ".join("-" * w for w in widths))
    out += ["  ".join(c.ljust(w) for c, w in zip(line, widths, strict=True)) for line in lines]
    return "\n".join(out)


async def _serve(args, site, clock, scenario, start) -> int:
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
    print(f"simulating {site.id} at {speed:g}x from {park.now:%Y-%m-%d %H:%M:%S %Z}, seed {args.seed}")
    if scenario is not None:
        print(f"fault scenario {args.faults}: {len(scenario.faults)} fault(s)")
    print(format_table(park.endpoint_rows()))
    print("Ctrl-C to stop", flush=True)
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
    try:
        await asyncio.wait(waiters, return_when=asyncio.FIRST_COMPLETED)
        await park.catch_up()
    finally:
        for task in waiters:
            task.cancel()
        await park.stop()
    print(f"stopped at {park.now:%Y-%m-%d %H:%M:%S} after {park.t_s:.0f} simulated s", flush=True)
    return 0


async def _status(park, every_s: float) -> None:
    while True:
        await asyncio.sleep(every_s)
        state = park.state()
        socs = " ".join(f"{k}={v:.1f}%" for k, v in state.soc_pct.items())
        print(
            f"{state.time:%H:%M:%S} PCC {state.pcc_import_kw:8.1f} kW  PV {sum(state.pv_kw.values()):8.1f} kW  {socs}",
            file=sys.stdout,
            flush=True,
        )
