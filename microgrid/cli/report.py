"""``microgrid report SITE --from D --to D``: green-power, carbon and cost report as HTML, CSV or XLSX."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from microgrid.cli import tr
from microgrid.cli import validators as valid
from microgrid.errors import UserError
from microgrid.i18n import current_lang, t
from microgrid.site import load_site

FORMATS = ("html", "csv", "xlsx")


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "report",
        description=tr("desc.report"),
    )
    parser.add_argument("sites", nargs="+", metavar="SITE",
                        help=tr("help.report.sites"))
    parser.add_argument("--from", dest="first", required=True, type=valid.day, metavar="YYYY-MM-DD",
                        help=tr("help.report.from"))
    parser.add_argument("--to", dest="last", required=True, type=valid.day, metavar="YYYY-MM-DD",
                        help=tr("help.report.to"))
    parser.add_argument("--tenant", metavar="ID", help=tr("help.report.tenant"))
    parser.add_argument("--format", choices=FORMATS, help=tr("help.report.format"))
    parser.add_argument("--out", required=True, metavar="PATH", help=tr("help.report.out"))
    parser.add_argument("--store", metavar="URL", type=valid.store_url, action="append",
                        help=tr("help.report.store"))
    parser.add_argument("--data-dir", metavar="DIR", help=tr("help.report.data-dir"))
    parser.add_argument("--simulate", choices=("auto", "never", "always"), default="auto",
                        help=tr("help.report.simulate"))
    parser.add_argument("--rule", choices=("consumption", "own_pv_first"), default="consumption",
                        help=tr("help.report.rule"))
    parser.add_argument("--min-coverage", type=valid.bounded(0, 100, "percentage", lo_open=True), default=50.0,
                        metavar="PCT",
                        help=tr("help.report.min-coverage"))
    parser.add_argument("--grid-renewable-pct", type=valid.bounded(0, 100, "percentage"), metavar="PCT",
                        help=tr("help.report.grid-renewable-pct"))
    parser.add_argument("--roll-up", action="store_true",
                        help=tr("help.report.roll-up"))
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from microgrid.reports import ReportOptions
    from microgrid.reports.service import make_report, render

    if len(args.sites) > 1:
        return run_fleet(args)
    site = load_site(args.sites[0])
    first, last = args.first, args.last
    if (last - first).days > 3660:
        raise UserError.of("uerr.report_too_long")
    fmt = _format(args)
    options = ReportOptions(allocation_rule=args.rule, min_coverage=args.min_coverage / 100,
                            grid_renewable_share_pct=args.grid_renewable_pct)
    store = args.store[0] if args.store else None
    if args.store and len(args.store) > 1:
        raise UserError.of("uerr.report_store_twice")
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
        raise UserError.of("uerr.report_fleet_tenant")
    if args.store and len(args.store) != len(args.sites):
        raise UserError.of("uerr.report_store_count", stores=len(args.store), sites=len(args.sites))
    if (args.last - args.first).days > 3660:
        raise UserError.of("uerr.report_too_long")
    sites = [load_site(s) for s in args.sites]
    ids = [s.id for s in sites]
    if len(set(ids)) != len(ids):
        raise UserError.of("uerr.report_site_twice", ids=", ".join(ids))
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
