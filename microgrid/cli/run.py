"""``microgrid run SITE [--sim [--speed N]] [--until DURATION] [--port PORT]``: the controller.

Without ``--sim`` it drives the devices of the site file in real time (real clock, APScheduler jobs). With
``--sim`` it first starts the simulator (every device of the site over Modbus TCP, physics, optional
faults) and runs simulator and controller on one stepped clock: each control cycle advances simulated time
by ``control.cycle_s``, paced to at most ``--speed`` times the wall clock (``--speed max``: as fast as the
machine goes). ``--until`` stops after that much site time and prints the KPI summary; ``--port`` serves
the operator API in the same event loop. Ctrl-C stops cleanly (summary included).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import errno
import importlib.util
import re
import signal
import socket
import sys
import time
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from microgrid.cli import add_logging_arguments, tr
from microgrid.cli import validators as valid
from microgrid.errors import UserError
from microgrid.i18n import alarm_text, current_lang, has, t
from microgrid.logs import held, log_event

_DURATION = re.compile(r"(\d+(?:\.\d+)?)\s*(d|h|min|m|s)")
_UNIT_S = {"d": 86400.0, "h": 3600.0, "min": 60.0, "m": 60.0, "s": 1.0}


def parse_duration(text: str) -> timedelta:
    """``90s``, ``15m``, ``2h``, ``1d``, ``1h30m`` → a timedelta; :class:`UserError` otherwise."""
    compact = text.strip().lower().replace(" ", "")
    parts = _DURATION.findall(compact)
    if not compact or not parts or "".join(n + u for n, u in parts) != compact:
        raise UserError.of("uerr.until_not_duration", text=repr(text))
    seconds = sum(float(n) * _UNIT_S[u] for n, u in parts)
    if seconds <= 0:
        raise UserError.of("uerr.until_not_positive", text=repr(text))
    return timedelta(seconds=seconds)


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "run",
        description=tr("desc.run"),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("site", metavar="SITE", help=tr("help.site"))
    parser.add_argument("--sim", action="store_true", help=tr("help.run.sim"))
    parser.add_argument("--speed", default=None,
                        help=tr("help.run.speed"))
    parser.add_argument("--until", default=None, metavar="DURATION",
                        help=tr("help.run.until"))
    parser.add_argument("--port", type=int, default=None, help=tr("help.run.port"))
    parser.add_argument("--host", default="127.0.0.1", help=tr("help.run.host"))
    parser.add_argument("--store", default=None, type=valid.store_url,
                        help=tr("help.run.store"))
    parser.add_argument("--start", default=None,
                        help=tr("help.run.start"))
    parser.add_argument("--seed", type=int, default=0, help=tr("help.run.seed"))
    parser.add_argument("--faults", type=Path, default=None, help=tr("help.run.faults"))
    parser.add_argument("--auto-ports", action="store_true",
                        help=tr("help.run.auto-ports"))
    parser.add_argument("--cycle-s", type=valid.bounded(0.2, 60, "control cycle in s"), default=None,
                        help=tr("help.run.cycle-s"))
    parser.add_argument("--progress-min", type=valid.positive("number of site minutes", 1e6), default=None,
                        help=tr("help.run.progress-min"))
    parser.add_argument("--quiet", action="store_true",
                        help=tr("help.run.quiet"))
    add_logging_arguments(parser, argparse.SUPPRESS)
    parser.set_defaults(func=run)


def _speed(args: argparse.Namespace) -> float | None:
    """Pacing factor for --sim (None = as fast as possible)."""
    if args.speed is None:
        return 1.0
    if str(args.speed).strip().lower() == "max":
        return None
    try:
        return valid.positive("speed factor", 1e6)(str(args.speed))
    except argparse.ArgumentTypeError as exc:
        raise UserError.of("uerr.speed_bad", detail=str(exc)) from None


def _start(args: argparse.Namespace, tz: ZoneInfo) -> datetime:
    start = valid.local_time(args.start, "--start", tz)
    return start or datetime.now(tz).replace(hour=0, minute=0, second=0, microsecond=0)


def run(args: argparse.Namespace) -> int:
    from microgrid.site import load_site

    if not args.sim:
        for flag, value in (("--speed", args.speed), ("--start", args.start), ("--faults", args.faults),
                            ("--auto-ports", args.auto_ports or None)):
            if value is not None:
                raise UserError.of("uerr.only_with_sim", flag=flag)
    if args.port is not None and not 1 <= args.port <= 65535:
        raise UserError.of("uerr.port_range", port=args.port)
    until = parse_duration(args.until) if args.until else None
    speed = _speed(args) if args.sim else 1.0
    settings = _api_settings(args)
    site = load_site(args.site)
    from microgrid.cli.validate import check_device_ratings

    check_device_ratings(site, str(args.site))
    return asyncio.run(_main(args, site, until, speed, settings))


def _api_settings(args: argparse.Namespace):
    """With ``--port``: the API settings from ``MICROGRID_*`` checked, the bind address (which dev mode keeps on
    loopback) and the port free, all before anything starts (so a refusal leaves nothing behind)."""
    if args.port is None:
        return None
    if args.store == "memory":
        raise UserError.of("uerr.port_needs_store")
    try:
        from api.settings import Settings, check_bind
    except ImportError:
        return None
    with held("api.settings"):  # dev-mode warnings only when the server will start
        settings = Settings.from_env()  # refuses insecure settings outside MICROGRID_DEV=1 (exit 2)
        check_bind(args.host, settings.dev)
        port_free(args.host, args.port)
    return settings


def port_free(host: str, port: int) -> None:
    """:class:`UserError` (exit 2) when ``host:port`` cannot be bound, e.g. another program listens there."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as uvicorn binds: TIME_WAIT is no conflict
        try:
            probe.bind((host, port))
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                raise UserError.of("cli.port_in_use", host=host, port=port) from None
            raise UserError.of("uerr.port_unusable", host=host, port=port, reason=exc.strerror) from None


def _open_store(args: argparse.Namespace, site, started: datetime):
    """(StorePort, Store or None, description, file created for this run or None)."""
    from microgrid.control.storeport import MemoryStore
    from microgrid.store import Store, energy_sources_from_site

    url = args.store
    if url == "memory":
        return MemoryStore(), None, "memory (nothing kept)", None
    fresh = None
    if url is None and args.sim:
        directory = Path("out") / "sim"
        directory.mkdir(parents=True, exist_ok=True)
        fresh = directory / f"{site.id}-{started:%Y%m%dT%H%M%S}.db"
        url = f"sqlite:///{fresh}"
    # A sample holds until the next one for at most max_hold_s: at least two control cycles, or a slow cycle
    # (e.g. --cycle-s 60) would leave most of every interval uncovered.
    cycle_s = args.cycle_s or site.control.cycle_s
    store = Store.open(url, site_id=site.id, timezone=site.timezone, energy_sources=energy_sources_from_site(site),
                       max_hold_s=max(15.0, 2.5 * cycle_s))
    return store, store, store.url, fresh


def _discard(path: Path | None) -> None:
    """Remove a store file made for a run that never started (and SQLite's side files)."""
    if path is None:
        return
    for suffix in ("", "-wal", "-shm", "-journal"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)


async def _main(args: argparse.Namespace, site, until: timedelta | None, speed: float | None, settings=None) -> int:
    from drivers.fleet import Fleet
    from microgrid.clock import RealClock, SteppedClock
    from microgrid.control.driver_fleet import DriverFleet, relax_pacing
    from microgrid.control.runtime import Runtime, RuntimeOptions
    from microgrid.control.store_adapter import StoreAdapter

    tz = ZoneInfo(site.timezone)
    cycle_s = args.cycle_s or site.control.cycle_s
    park = None
    if args.sim:
        from sim.faults import load_scenario
        from sim.park import Park

        clock = SteppedClock(_start(args, tz), tz)
        scenario = load_scenario(args.faults) if args.faults else None
        park = Park.from_site(site, clock, seed=args.seed, faults=scenario,
                              bind="auto" if args.auto_ports else "site", step_s=cycle_s)
        await park.start()
        site = park.client_site()
    else:
        clock = RealClock(tz)
    wall_started = datetime.now(tz)
    store_port, store, store_text, fresh = _open_store(args, site, wall_started)
    fleet = Fleet.from_site(site, clock=clock, **({"connect_delay_s": 0.0} if args.sim else {}))
    if args.sim:
        relax_pacing(fleet)
    drivers = DriverFleet(fleet)
    server = None
    runtime = None
    north = None
    started = False
    run_started = None
    try:
        await drivers.start()
        port_store = StoreAdapter(store, site) if store is not None else store_port
        options = RuntimeOptions.from_site(site, cycle_s=cycle_s, pace_speed=speed if args.sim else None)
        runtime = Runtime(site, drivers, port_store, clock, options=options)
        printer = Printer(runtime, args, speed)
        runtime.events.subscribe(printer.event)
        runtime.events.subscribe(log_event)
        printer.header(store_text, park)
        runtime.check_cycle()
        if args.port is not None:
            server = await _serve_api(runtime, store, site, args, settings)
        run_started = runtime.clock.now()
        await runtime.start()
        started = True
        north = await _start_gridside(runtime, site)
        end = runtime.clock.now() + until if until is not None else None
        _install_signals(runtime)
        await runtime.run(until=end, progress=printer.progress)
    finally:
        if north is not None:
            await north.stop()
        if runtime is not None:
            await runtime.stop()
            runtime.store.close()
            if started:
                Printer.summary(runtime, store, run_started)
        if server is not None:
            from api.serve import stop_server

            await stop_server(server)
        await drivers.close()
        if park is not None:
            await park.stop()
        if store is not None:
            store.close()
        if not started:
            _discard(fresh)
    return 0


async def _start_gridside(runtime, site):
    """The DR schedule file and the northbound servers the site file enables (docs/gridside.md)."""
    gs = site.gridside
    schedule = gs.demand_response.schedule_file
    if schedule:
        from microgrid.gridside.schedule import load_schedule

        path = Path(site.base_dir) / schedule
        for refusal in load_schedule(runtime.gridcaps, path, runtime.clock.now(), site.timezone):
            print(t("cli.warning", current_lang(), message=t("run.dr_refused", current_lang(), path=path,
                                                              refusal=refusal)), file=sys.stderr)
    if not (gs.iec104.enabled or gs.modbus.enabled):
        return None
    if gs.iec104.enabled and importlib.util.find_spec("c104") is None:
        raise UserError.of("uerr.iec104_missing")
    from microgrid.gridside.service import Northbound

    north = Northbound(runtime)
    try:
        await north.start()
    except OSError as exc:
        await north.stop()
        raise UserError.of("uerr.gridside_port", detail=str(exc)) from None
    if gs.iec104.enabled:
        print(t("run.iec104_on", current_lang(), host=gs.iec104.host, port=gs.iec104.port,
                ca=gs.iec104.common_address, clients=", ".join(gs.iec104.allowed_clients)), flush=True)
    if north.modbus is not None:
        access = t("run.nb_writes" if gs.modbus.writes_enabled else "run.nb_read_only", current_lang())
        print(t("run.modbus_nb_on", current_lang(), host=gs.modbus.host, port=north.modbus.port, unit=gs.modbus.unit_id,
                access=access), flush=True)
    return north


def _install_signals(runtime) -> None:
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, runtime.request_stop)


async def _serve_api(runtime, store, site, args, settings=None):
    try:
        from api.serve import app_for_runtime, start_server
    except ImportError:
        print(t("cli.warning", current_lang(), message=t("run.no_api", current_lang())), file=sys.stderr)
        return None
    app = app_for_runtime(runtime, store, site, settings)
    try:
        server = await start_server(app, host=args.host, port=args.port)
    except RuntimeError as exc:
        raise UserError.of("uerr.port_failed", detail=str(exc)) from None
    print(t("run.api_on", current_lang(), url=server.url), flush=True)
    if args.sim:  # a simulated run has its own store: give the demo operator a token to try the API with
        from api.serve import DEMO_USER, demo_password, ensure_demo_user

        token = ensure_demo_user(store)
        print(t("run.demo_user", current_lang(), user=DEMO_USER, password=demo_password(store), token=token), flush=True)
    return server


class Printer:
    """Terminal output of ``microgrid run``: header, progress lines, alarms, closing summary."""

    def __init__(self, runtime, args: argparse.Namespace, speed: float | None) -> None:
        self.runtime = runtime
        self.lang = current_lang()
        self.quiet = args.quiet
        minutes = args.progress_min if args.progress_min is not None else (60.0 if args.sim else 15.0)
        self.every = timedelta(minutes=minutes)
        self.next_at: datetime | None = None
        self.speed = speed
        self.sim = args.sim
        self.wall0 = time.perf_counter()

    def header(self, store_text: str, park) -> None:
        if self.quiet:
            return
        rt = self.runtime
        site = rt.site
        L = self._t  # noqa: N806 - reads like the text it is
        mode = L("run.head.sim") if park is not None else L("run.head.real")
        pace = "" if not self.sim else (L("run.head.pace", speed=f"{self.speed:g}") if self.speed else L("run.head.max"))
        print(L("run.head", site=site.id, mode=mode, pace=pace, cycle=f"{rt.options.cycle_s:g}",
                start=f"{rt.clock.now():%Y-%m-%d %H:%M %Z}"), flush=True)
        print(L("run.head.store", store=store_text), flush=True)
        print(L("run.head.limits", exp=f"{site.grid.export_limit_kw:g}", margin=f"{rt.options.controller.export_margin_kw:g}",
                imp=f"{site.grid.import_cap_kw:g}", at=rt.options.day_ahead_at, every=rt.options.intraday_every_min),
              flush=True)

    def _t(self, key: str, /, **params: object) -> str:
        return t(key, self.lang, **params)

    def event_text(self, event) -> str:
        """``kind: message`` in English; in another language the decoded alarm text, or the kind's name and the
        (English) detail; mode changes name both modes."""
        if self.lang == "en":
            return f"{event.kind}: {event.message}"
        if has(f"alarm.{event.kind}"):
            return alarm_text(event.kind, {"source": event.source, **event.data}, self.lang)
        if event.kind == "mode_change" and {"from", "to"} <= set(event.data):
            return self._t("run.mode_change", old=self._t(f"mode.{event.data['from']}"),
                           new=self._t(f"mode.{event.data['to']}"), reason=event.data.get("reason", ""))
        kind = self._t(f"event.{event.kind}") if has(f"event.{event.kind}") else event.kind
        return f"{kind}：{event.message}"  # the detail stays as written (English); the log file has it too

    def event(self, event) -> None:
        severity = str(event.severity)
        if severity == "alarm" or (not self.quiet and (severity == "warning" or event.kind == "mode_change")):
            sev = severity if self.lang == "en" else self._t(f"severity.{severity}")
            print(f"  {event.ts:%H:%M:%S} [{sev}] {self.event_text(event)}", flush=True)

    def progress(self, rt) -> None:
        now = rt.clock.now()
        if self.next_at is None:
            self.next_at = now
        if now < self.next_at or self.quiet:
            return
        self.next_at = now + self.every
        last = rt.last
        readings = rt.readings
        pv = sum(r.p_kw or 0.0 for r in readings.pv.values() if r.valid)
        st = sum(r.p_kw or 0.0 for r in readings.storage.values() if r.valid)
        socs = " ".join(f"{k} {r.soc_pct:.0f}%" for k, r in readings.storage.items() if r.soc_pct is not None)
        pcc = "   n/a" if last is None or last.pcc_kw is None else f"{last.pcc_kw:8.0f}"
        wall = time.perf_counter() - self.wall0
        mode = str(rt.mode) if self.lang == "en" else self._t(f"mode.{rt.mode}")
        print(self._t("run.progress", now=f"{now:%m-%d %H:%M}", mode=f"{mode:8s}", pcc=pcc, pv=f"{pv:7.0f}",
                      st=f"{st:7.0f}", socs=socs, plan=last.plan_id if last else "-", wall=f"{wall:5.0f}"), flush=True)

    @staticmethod
    def summary(rt, store=None, started: datetime | None = None) -> None:
        """The run's figures from the one accounting: the store's rolled-up meter energies when there is a store
        (the same numbers as a report, the API and /metrics over the same period), else the controller's own
        samples."""
        lang = current_lang()

        def L(key: str, **params: object) -> str:  # noqa: N802 - reads like the text it is
            return t(key, lang, **params)

        k = rt.kpis()
        c = k["compliance"]
        site = rt.site
        f, source = k["figures"], L("run.src_samples")
        if store is not None and started is not None:
            from microgrid.reports.figures import period_figures

            try:
                f = period_figures(site, store, started, rt.clock.now())
                source = L("run.src_store", pct=f"{f['coverage_pct']:.1f}")
            except Exception as exc:  # noqa: BLE001 - the summary falls back; the run itself is over
                source += L("run.src_failed", error=f"{type(exc).__name__}: {exc}")
        mae = "n/a" if k["tracking_mae_kw"] is None else f"{k['tracking_mae_kw']:,.1f} kW"
        lines = ["", L("run.kpi_head", hours=f"{k['hours']:.2f}", cycles=k["cycles"], writes=k["writes_sent"],
                       mode=k["mode"] if lang == "en" else L(f"mode.{k['mode']}")), L("run.figures_from", source=source)]
        if f is not None:
            target = site.green_power.target_ratio_pct
            ratio = "n/a" if f["green_power_ratio"] is None else f"{100 * f['green_power_ratio']:.2f} %"
            g = f["green_parts_kwh"]
            ef = f["emission_factor"]
            periods = ", ".join(f"{p if lang == 'en' else L(f'plot.period.{p}')} {v:,.2f}"
                                for p, v in f["cost_energy_by_period_cny"].items() if v)
            label = f["green_label"] if lang == "en" else (
                (L("run.partial", pct=f"{f['coverage_pct']:.1f}") if f["partial"] else "") + L("run.green_label"))
            lines += [
                L("run.green", ratio=ratio, target="" if target is None else L("run.target", pct=f"{target:g}"),
                  green=f"{f['green_energy_kwh']:,.1f}", consumption=f"{f['consumption_kwh']:,.1f}",
                  pv=f"{g['onsite_pv']:,.1f}", trading=f"{g['trading']:,.1f}", certificates=f"{g['certificates']:,.1f}",
                  direct=f"{g['direct']:,.1f}", label=label),
                L("run.co2", kg=f"{f['co2_kg']:,.2f}", id=ef["id"], factor=ef["kg_co2_per_kwh"], region=ef["region"],
                  year=ef["year"], document=ef["document"]),
                L("run.cost", cost=f"{f['cost_energy_cny']:,.2f}", periods=periods or L("run.no_import"),
                  revenue=f"{f['export_revenue_cny']:,.2f}"),
                L("run.demand", charge=f"{f['demand_charge_month_to_date_cny']:,.2f}", peak=f"{f['month_peak_kw']:,.1f}",
                  declared=f"{site.grid.declared_demand_kw:,.0f}", added=f"{f['demand_charge_increase_cny']:,.2f}"),
                L("run.storage", losses=f"{f['storage_losses_kwh']:,.1f}", charge=f"{f['storage_charge_kwh']:,.1f}",
                  discharge=f"{f['storage_discharge_kwh']:,.1f}"),
                L("run.pv", gen=f"{f['pv_generation_kwh']:,.1f}", exp=f"{f['pv_exported_kwh']:,.1f}",
                  cur=f"{f['pv_curtailed_kwh']:,.1f}"),
            ]
            for finding in f.get("data_quality", [])[:5]:
                lines.append(L("run.quality", finding=finding))
        lines += [
            L("run.plan_real", planned=f"{k['plan_energy_cost_cny']:,.2f}",
              margin=f"{k['plan_energy_cost_with_margin_cny']:,.2f}", real=f"{k['realised_energy_cost_tracked_cny']:,.2f}"),
            L("run.tracking", mae=mae, max=k["tracking_max_kw"]),
            L("run.limits", exp=f"{c['max_export_kw']:,.1f}", thr=f"{c['export_threshold_kw']:,.1f}",
              secs=f"{c['longest_export_over_threshold_s']:.0f}", imp=f"{c['max_import_kw']:,.0f}",
              cap=f"{c['import_cap_kw']:,.0f}", over=f"{c['import_over_cap_s']:.0f}"),
        ]
        print("\n".join(lines), flush=True)
