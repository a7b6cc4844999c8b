"""``microgrid study SITE --year 2026 [--resolution 60]``: the whole year planned day by day (docs/study.md).

Writes ``monthly.csv``, ``study.xlsx``, ``study.html`` and ``schedule.csv`` into ``--out`` and prints the
annual figures. Exit codes: 0 written; 2 bad site file or argument; 3 when some days had no optimised plan
(their rule-based fallback is in the figures, the days are named).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from microgrid.cli import tr
from microgrid.cli import validators as valid
from microgrid.errors import UserError
from microgrid.i18n import current_lang, t

_year = valid.integer(2000, 2099, "a year")


def progress_bar(quiet: bool):
    """A one-line progress bar on stderr (nothing with ``quiet`` or when stderr is not a terminal)."""
    if quiet:
        return None
    tty = sys.stderr.isatty()

    def show(done: int, total: int, day) -> None:
        if tty:
            filled = int(30 * done / total)
            sys.stderr.write(f"\r[{'#' * filled}{'.' * (30 - filled)}] {done}/{total} {day}")
            if done == total:
                sys.stderr.write("\n")
        elif done == total or day.day == 1:
            sys.stderr.write(t("study.progress", current_lang(), done=done, total=total, day=str(day)) + "\n")
        sys.stderr.flush()

    return show


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "study", description=tr("desc.study"))
    parser.add_argument("site", metavar="SITE", help=tr("help.site"))
    parser.add_argument("--year", type=_year, required=True, help=tr("help.study.year"))
    parser.add_argument("--resolution", type=valid.step_minutes, metavar="MIN",
                        help=tr("help.optimize.step"))
    parser.add_argument("--weather", metavar="CSV", help=tr("help.study.weather"))
    parser.add_argument("--loads", metavar="CSV", help=tr("help.study.loads"))
    parser.add_argument("--seed", type=int, help=tr("help.study.seed"))
    parser.add_argument("--ac-check", action="store_true", help=tr("help.study.ac-check"))
    parser.add_argument("--time-limit", type=valid.bounded(0.1, 3600, "time in seconds"), metavar="S",
                        help=tr("help.study.time-limit"))
    parser.add_argument("--out", type=Path, help=tr("help.study.out"))
    parser.add_argument("--quiet", action="store_true", help=tr("help.study.quiet"))
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from microgrid.planning import solver_options_for
    from microgrid.site import load_site
    from microgrid.study import run_study, write_study

    site = load_site(args.site)
    solver = solver_options_for(site, time_limit_s=args.time_limit, interface="appsi")
    result = run_study(site, args.year, step_min=args.resolution, weather_csv=args.weather, seed=args.seed,
                       loads_csv=args.loads,
                       solver=solver, ac_check=args.ac_check, progress=progress_bar(args.quiet))
    out = args.out or Path("studies") / site.id / str(args.year)
    try:
        paths = write_study(result, out)
    except OSError as exc:
        raise UserError.of("uerr.out_unwritable", path=str(out), reason=str(exc.strerror or exc)) from None
    year = result.report.rows("year", "park")[0]
    lang = current_lang()
    print(t("study.summary", lang, site=site.id, year=args.year, green=f"{year.green_ratio_pct:.2f}",
            cost=f"{year.cost_total_cny:,.0f}", demand=f"{year.cost_basic_charge_cny:,.0f}",
            imported=f"{year.grid_import_kwh / 1000:,.0f}", co2=f"{year.co2_location_kg / 1000:,.0f}",
            factor=result.report.meta.factor_location.id, curtailed=f"{year.pv_curtailed_kwh / 1000:,.1f}"))
    print(t("study.planned", lang, n=len(result.outcomes), seconds=f"{result.wall_s:.1f}"))
    print(t("cli.wrote", lang, paths=", ".join(str(p) for p in paths.values())))
    if result.fallback_days:
        days = ", ".join(d.isoformat() for d in result.fallback_days[:10])
        print(t("cli.error", current_lang(), message=t("cli.study_fallback_days", current_lang(),
                                                          n=len(result.fallback_days), days=days)), file=sys.stderr)
        return 3
    return 0
