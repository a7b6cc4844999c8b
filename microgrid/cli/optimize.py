"""``microgrid optimize SITE [--day YYYY-MM-DD] [--out DIR]``: day-ahead dispatch plan of a site.

Writes ``schedule.csv``, ``kpis.json`` and ``schedule.png`` into ``--out`` and prints a short summary.
Unless ``--no-network``: AC check of the plan and, when it violates, the network-constrained re-plan
(``microgrid.network``); writes ``network.csv`` and ``network.json``; exit 3 if violations remain.
Exit codes: 0 plan written; 2 bad site file or argument; 3 no optimised plan (infeasible, time limit or
solver failure): the message names the conflicting constraints; the relaxed plan (optimum with the named
limits broken by the amounts given) or, failing that, the rule-based fallback schedule is written instead.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from microgrid.cli import tr
from microgrid.cli import validators as valid
from microgrid.errors import UserError
from microgrid.i18n import current_lang, t
from microgrid.planning import (
    PlanOptions,
    next_local_day,
    plan_day,
    solver_options_for,
    summary_lines,
    write_plan,
)
from microgrid.site import load_site
from optimizer import BinaryMode
from optimizer.errors import InputError

ALLOWED_STEPS = valid.ALLOWED_STEPS


_step = valid.step_minutes


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "optimize",
        description=tr("desc.optimize"),
    )
    parser.add_argument("site", metavar="SITE", help=tr("help.site"))
    parser.add_argument("--day", type=valid.day, help=tr("help.optimize.day"))
    parser.add_argument("--out", type=Path, help=tr("help.optimize.out"))
    parser.add_argument("--step", type=_step, help=tr("help.optimize.step"))
    parser.add_argument("--forecast", metavar="CSV", help=tr("help.optimize.forecast"))
    parser.add_argument("--month-peak-kw", type=valid.bounded(0, 1e7, "power in kW"), default=0.0,
                        help=tr("help.optimize.month-peak-kw"))
    parser.add_argument("--demand-share", type=valid.bounded(0, 1, "share"), default=1.0,
                        help=tr("help.optimize.demand-share"))
    parser.add_argument("--min-green", type=valid.bounded(0, 100, "percentage"), metavar="PCT",
                        help=tr("help.optimize.min-green"))
    parser.add_argument("--carbon-price", type=valid.bounded(0, 1e5, "price in CNY/t"), default=0.0,
                        metavar="CNY_PER_T", help=tr("help.optimize.carbon-price"))
    parser.add_argument("--emission-factor", metavar="ID", help=tr("help.optimize.emission-factor"))
    parser.add_argument("--time-limit", type=valid.bounded(0.1, 3600, "time in seconds"), metavar="S",
                        help=tr("help.optimize.time-limit"))
    parser.add_argument("--binaries", choices=[m.value for m in BinaryMode], default=BinaryMode.AUTO.value,
                        help=tr("help.optimize.binaries"))
    parser.add_argument("--interface", choices=("auto", "direct", "appsi", "contrib"), default="auto",
                        help=tr("help.optimize.interface"))
    parser.add_argument("--no-plot", action="store_true", help=tr("help.optimize.no-plot"))
    parser.add_argument("--no-network", action="store_true",
                        help=tr("help.optimize.no-network"))
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    site = load_site(args.site)
    day = args.day or next_local_day(site)
    options = PlanOptions(
        month_peak_kw=args.month_peak_kw, demand_charge_share=args.demand_share,
        min_green_ratio=None if args.min_green is None else args.min_green / 100,
        carbon_price_cny_per_t=args.carbon_price, emission_factor_id=args.emission_factor)
    solver = solver_options_for(site, time_limit_s=args.time_limit, binaries=BinaryMode(args.binaries),
                                interface=args.interface)
    try:
        plan = plan_day(site, day, step_min=args.step, options=options, solver=solver, forecast_csv=args.forecast)
    except UserError:  # already a catalogue text (a forecast file's problem), shown in the reader's language
        raise
    except InputError as exc:
        raise UserError(exc.message, exc.problems) from None
    out = args.out or Path("plans") / site.id / day.isoformat()
    network = None
    if not args.no_network and not plan.result.fallback:  # AC check, re-plan with network limits if needed
        from microgrid.cli.check import network_pass

        network = network_pass(site, plan, solver)
        plan = network.plan
    try:
        paths = write_plan(plan, out, plot=not args.no_plot, lang=current_lang())
        if network is not None:
            paths.update(zip(("network_csv", "network_json"), network.write(out), strict=True))
    except OSError as exc:
        raise UserError.of("uerr.out_unwritable", path=str(out), reason=str(exc.strerror or exc)) from None
    for line in summary_lines(plan, current_lang()) + (network.lines() if network else []):
        print(line)
    print(t("cli.wrote", current_lang(), paths=", ".join(str(p) for p in paths.values())))
    result = plan.result
    if result.fallback:
        print(t("cli.error", current_lang(), message=result.message), file=sys.stderr)
        return 3
    if network is not None and not network.ok:
        print(t("cli.error", current_lang(), message=t("cli.network_violated", current_lang(),
                                                          detail=network.network_plan.message)), file=sys.stderr)
        return 3
    return 0
