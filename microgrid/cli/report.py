"""``microgrid report SITE --from D --to D``: green-power, carbon and cost report as HTML, CSV or XLSX."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from microgrid.cli import validators as valid
from microgrid.errors import UserError
from microgrid.i18n import current_lang, t
from microgrid.site import load_site

FORMATS = ("html", "csv", "xlsx")


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "report",
        description="Report per day, month and year, for the park and each tenant, from the metered interval "
        "energies in the store of a `run`. When the period has no metered data, the command simulates the days "
        "(closed loop when available, else the optimizer's plans) and says so on the first page.",
    )
    parser.add_argument("sites", nargs="+", metavar="SITE",
                        help="site directory or site.yaml; several sites make a fleet report (per park and in "
                        "total, each park from its own store)")
    parser.add_argument("--from", dest="first", required=True, type=valid.day, metavar="YYYY-MM-DD",
                        help="first local day")
    parser.add_argument("--to", dest="last", required=True, type=valid.day, metavar="YYYY-MM-DD",
                        help="last local day (inclusive)")
    parser.add_argument("--tenant", metavar="ID", help="report on one tenant (default: park and all tenants)")
    parser.add_argument("--format", choices=FORMATS, help="output format (default: from --out, else html)")
    parser.add_argument("--out", required=True, metavar="PATH", help="file to write")
    parser.add_argument("--store", metavar="URL", type=valid.store_url, action="append",
                        help="store URL (default: the site's SQLite file, see MICROGRID_DATA_DIR); with several "
                        "sites, once per site in the same order")
    parser.add_argument("--data-dir", metavar="DIR", help="directory of the default SQLite store")
    parser.add_argument("--simulate", choices=("auto", "never", "always"), default="auto",
                        help="auto: simulate only when the period has no metered data (default); never: fail "
                        "instead; always: ignore the store")
    parser.add_argument("--rule", choices=("consumption", "own_pv_first"), default="consumption",
                        help="allocation of on-site PV and shared storage to tenants (default: consumption)")
    parser.add_argument("--min-coverage", type=valid.bounded(0, 100, "percentage", lo_open=True), default=50.0,
                        metavar="PCT",
                        help="intervals covered less than this are gaps (default 50)")
    parser.add_argument("--grid-renewable-pct", type=valid.bounded(0, 100, "percentage"), metavar="PCT",
                        help="renewable share of grid electricity, for the location-based share")
    parser.add_argument("--roll-up", action="store_true",
                        help="first compute interval energies from raw telemetry not yet rolled up (only when "
                        "no controller is writing to the store)")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from microgrid.reports import ReportOptions
    from microgrid.reports.service import make_report, render

    if len(args.sites) > 1:
        return run_fleet(args)
    site = load_site(args.sites[0])
    first, last = args.first, args.last
    if (last - first).days > 3660:
        raise UserError("--from/--to: the period is longer than 10 years; split it")
    fmt = _format(args)
    options = ReportOptions(allocation_rule=args.rule, min_coverage=args.min_coverage / 100,
                            grid_renewable_share_pct=args.grid_renewable_pct)
    store = args.store[0] if args.store else None
    if args.store and len(args.store) > 1:
        raise UserError("--store: given more than once for one site")
    report = make_report(site, first, last, tenant=args.tenant, options=options, store_url=store,
                         data_dir=args.data_dir, simulate=args.simulate, roll_up=args.roll_up,
                         progress=lambda msg: print(msg, file=sys.stderr))
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    lang = current_lang()
    out.write_bytes(render(report, fmt, lang))
    main = next(a for a in report.total if a.entity == (args.tenant or "park"))
    ratio = "–" if main.green_ratio_pct is None else f"{main.green_ratio_pct:.1f} %"
    m = report.meta
    print(t("cli.report_written", lang, path=out, format=fmt, source=t(f"source.{m.data_source}", lang),
            coverage=f"{main.coverage_pct:.1f} %", ratio=ratio))
    if report.demand_response:
        dr = report.demand_response
        print(t("cli.report_dr", lang, n=len(dr), compensation=f"{sum(s.compensation_cny for s in dr):,.2f}",
                penalty=f"{sum(s.penalty_cny for s in dr):,.2f}"))
    shown = m.warnings_zh if lang != "en" and m.warnings_zh else m.warnings
    for warning, english in zip(shown, m.warnings, strict=False):
        if not english.startswith("The Putian"):
            print(t("cli.warning", lang, message=warning), file=sys.stderr)
    return 0


def _format(args: argparse.Namespace) -> str:
    suffix = Path(args.out).suffix.lower().lstrip(".")
    return args.format or (suffix if suffix in FORMATS else "html")


def _options(args: argparse.Namespace):
    from microgrid.reports import ReportOptions

    return ReportOptions(allocation_rule=args.rule, min_coverage=args.min_coverage / 100,
                         grid_renewable_share_pct=args.grid_renewable_pct)


def run_fleet(args: argparse.Namespace) -> int:
    """Several sites: each park's report from its own store (or simulated, said so), then the fleet page."""
    from microgrid.reports.fleet import TOTAL, fleet_frame, render_fleet
    from microgrid.reports.service import make_report

    if args.tenant:
        raise UserError("--tenant: a fleet report covers whole parks; report one site to see its tenants")
    if args.store and len(args.store) != len(args.sites):
        raise UserError(f"--store: given {len(args.store)} time(s) for {len(args.sites)} sites; give one per site "
                        "in the same order, or none (each site's default store)")
    if (args.last - args.first).days > 3660:
        raise UserError("--from/--to: the period is longer than 10 years; split it")
    sites = [load_site(s) for s in args.sites]
    ids = [s.id for s in sites]
    if len(set(ids)) != len(ids):
        raise UserError(f"the same site is given twice ({', '.join(ids)}); each park once")
    stores = args.store or [None] * len(sites)
    reports = []
    for site, store in zip(sites, stores, strict=True):
        print(f"{site.id}: reporting {args.first}..{args.last}", file=sys.stderr)
        reports.append(make_report(site, args.first, args.last, options=_options(args), store_url=store,
                                   data_dir=args.data_dir, simulate=args.simulate, roll_up=args.roll_up,
                                   progress=lambda msg, sid=site.id: print(f"{sid}: {msg}", file=sys.stderr)))
    fmt = _format(args)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_bytes(render_fleet(reports, fmt))
    frame = fleet_frame(reports)
    for _, row in frame.iterrows():
        ratio = "–" if row["green_ratio_pct"] is None or row["green_ratio_pct"] != row["green_ratio_pct"] \
            else f"{row['green_ratio_pct']:.1f} %"
        name = "total" if row["site_id"] == TOTAL else row["site_id"]
        print(f"  {name}: {row['data_source']}, green-power ratio {ratio}, CO2 {row['co2_location_kg'] / 1000:,.1f} t, "
              f"cost {row['cost_total_cny']:,.0f} CNY")
    print(f"wrote {out} ({fmt}; fleet of {len(reports)} parks)")
    return 0
