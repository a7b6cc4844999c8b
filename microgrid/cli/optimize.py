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
        description="Day-ahead dispatch of PV, storage, heat pumps and flexible loads against the TOU tariff, "
        "the demand charge and the grid and transformer limits. Writes schedule.csv, kpis.json and "
        "schedule.png and prints a summary. Exit 3 (with the conflicting constraints named and a rule-based "
        "fallback schedule written) when no optimised plan exists.",
    )
    parser.add_argument("site", metavar="SITE", help="site directory or site.yaml")
    parser.add_argument("--day", type=valid.day, help="local day to plan, YYYY-MM-DD (default: the next local day)")
    parser.add_argument("--out", type=Path, help="output directory (default: plans/<site>/<day>)")
    parser.add_argument("--step", type=_step, help="interval length in minutes, 5-60 (default: the site's resolution)")
    parser.add_argument("--forecast", metavar="CSV", help="forecast CSV overriding profile columns (docs/optimizer.md)")
    parser.add_argument("--month-peak-kw", type=valid.bounded(0, 1e7, "power in kW"), default=0.0,
                        help="month-to-date peak import, kW (default 0)")
    parser.add_argument("--demand-share", type=valid.bounded(0, 1, "share"), default=1.0,
                        help="share of the monthly demand charge weighed in this day, 0-1 (default 1)")
    parser.add_argument("--min-green", type=valid.bounded(0, 100, "percentage"), metavar="PCT",
                        help="minimum green-power ratio for the day, percent (default: none)")
    parser.add_argument("--carbon-price", type=valid.bounded(0, 1e5, "price in CNY/t"), default=0.0,
                        metavar="CNY_PER_T", help="internal carbon price added to the cost (default 0)")
    parser.add_argument("--emission-factor", metavar="ID", help="emission-factor id from the site file (default: its default)")
    parser.add_argument("--time-limit", type=valid.bounded(0.1, 3600, "time in seconds"), metavar="S",
                        help="solver time limit, s (default: control.solver_time_limit_s of the site)")
    parser.add_argument("--binaries", choices=[m.value for m in BinaryMode], default=BinaryMode.AUTO.value,
                        help="when to use the binary (MILP) formulation (default auto)")
    parser.add_argument("--interface", choices=("auto", "direct", "appsi", "contrib"), default="auto",
                        help="how Pyomo talks to HiGHS: direct (standard-form compile), appsi or contrib "
                        "(persistent); auto = direct for this one-shot plan (default)")
    parser.add_argument("--no-plot", action="store_true", help="do not write schedule.png")
    parser.add_argument("--no-network", action="store_true",
                        help="skip the AC network check and the network-constrained re-plan (docs/network.md)")
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
        raise UserError(f"--out: cannot write to {out}: {exc.strerror or exc}") from None
    for line in summary_lines(plan, current_lang()) + (network.lines() if network else []):
        print(line)
    print(t("cli.wrote", current_lang(), paths=", ".join(str(p) for p in paths.values())))
    result = plan.result
    if result.fallback:
        print(f"error: {result.message}", file=sys.stderr)
        return 3
    if network is not None and not network.ok:
        print(f"error: the plan violates network limits: {network.network_plan.message}", file=sys.stderr)
        return 3
    return 0
